/*
 * trace: memcached's -vv lines for each request and its reply ("<fd" what
 * came in, ">fd" what went out), so that operators and tools that read
 * memcached's very verbose output read ours. A processor names its tracer
 * (processor.h); the transport calls it only when -vv is on.
 */
#ifndef HC_SERVER_TRACE_H
#define HC_SERVER_TRACE_H

#include <stddef.h>

struct processor;

/* A new client connection served by the processor set procs: "<fd new
 * auto-negotiating client connection" (or ascii/binary with one). */
void trace_conn_new(int fd, const struct processor *const *procs);
/* Its first byte chose p: "fd: Client using the ascii protocol", printed
 * where memcached negotiates (more than one processor). */
void trace_conn_protocol(int fd, const struct processor *const *procs,
                         const struct processor *p);

/* Text and meta: "<fd <command line>", then ">fd <reply line>" per line,
 * "sending key K" for a VALUE (its data not shown), as memcached 1.6.45. */
void trace_text(int fd, const char *req, size_t reqlen, const char *reply,
                size_t replylen);
/* The reply a text request's noreply suppressed (with its "\r\n"),
 * set by the processor with -vv only: memcached prints it as
 * ">fd NOREPLY <line>" (storage results, flush_all, verbosity). */
extern _Thread_local const char *trace_noreply;
/* Binary: the request header and each response header as memcached dumps
 * them ("Read binary protocol data:", "Writing bin response:"). */
void trace_binary(int fd, const char *req, size_t reqlen, const char *reply,
                  size_t replylen);

#endif
