/*
 * watch_log: the events `watch` streams, in memcached 1.6.45's line
 * formats (logger.c): item_get (every lookup a command makes: fetchers),
 * item_store (mutations), eviction, deleted (deletions), conn_new and
 * conn_close (connevents), lru_crawler (sysevents: each crawler pass) and
 * the command lines (rawcmds). Lookups, evictions and deletions come from
 * the store's observer (storage/store.h), crawler passes from its report
 * (storage/crawl.h); stores, command lines and connection events from the
 * processors and conn.c.
 */
#ifndef HC_SERVER_WATCH_LOG_H
#define HC_SERVER_WATCH_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/clock.h"
#include "server/watch.h"
#include "storage/store.h"

/* The client whose requests this thread runs (cfd=), and the command a
 * delete comes from ("delete" or "md"): set by conn.c/udp.c and the meta
 * processor around their work. */
extern _Thread_local int watch_log_cfd;
extern _Thread_local const char *watch_log_del_cmd;

/* At start-up: follow watch's kinds with the store's observer. */
void watch_log_setup(void);

/* A store command's outcome (mutations). */
void watch_log_store(const char *key, size_t nkey, enum store_status st, enum store_mode mode,
                     rel_time_t exptime, size_t nvalue, uint32_t flags);
static inline void watch_store(const char *key, size_t nkey, enum store_status st,
                               enum store_mode mode, rel_time_t exptime, size_t nvalue,
                               uint32_t flags)
{
    if (watch_wanted(WATCH_MUTATIONS))
        watch_log_store(key, nkey, st, mode, exptime, nvalue, flags);
}

/* A text or meta request's command line (rawcmds): "<fd line", the format
 * memcached 1.6.45's logger declares for it (LOGGER_ASCII_CMD, the -vv
 * line); 1.6.45 itself never writes one. A processor's rawcmd hook. */
void watch_log_rawcmd(int fd, const char *req, size_t reqlen);

/* A connection opened or closed (connevents); reason: memcached's
 * "normal", "error", "idle_timeout" or "shutdown". */
void watch_log_conn(bool open, const struct sockaddr_storage *peer, bool unix_socket,
                    int fd, const char *reason);

#endif
