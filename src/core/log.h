/*
 * log: messages to stderr with a verbosity level (-v, -vv, -vvv), the way
 * memcached prints them. log_fatal() is for start-up and broken invariants
 * only, never for client input.
 */
#ifndef HC_CORE_LOG_H
#define HC_CORE_LOG_H

#include <stdatomic.h>

/* 0 quiet; 1 -v; 2 -vv; 3 -vvv. Atomic: the `verbosity` command sets it
 * on one worker while every thread's log calls read it. */
extern _Atomic int log_verbosity;

void log_msg(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
_Noreturn void log_fatal(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_warn(...)  log_msg(0, __VA_ARGS__)
#define log_info(...)  log_msg(1, __VA_ARGS__)
#define log_debug(...) log_msg(2, __VA_ARGS__)

#endif
