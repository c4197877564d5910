/*
 * stats: the counters `stats` reports, declared once. Each worker thread
 * owns a struct thread_stats and is its only writer (no shared cache line
 * on the hot path); `stats` sums them. `stats reset` subtracts a baseline
 * instead of writing into other threads' counters.
 */
#ifndef HC_SERVER_STATS_H
#define HC_SERVER_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/store.h"

/* Per-thread counters, in memcached's names and order (auth_throttled is
 * hardcached's: failed logins refused unchecked, see policy/auth.h). */
#define THREAD_STATS(X)                                                    \
    X(cmd_get) X(cmd_set) X(cmd_flush) X(cmd_touch)                        \
    X(get_hits) X(get_misses) X(get_expired) X(get_flushed)                \
    X(delete_misses) X(delete_hits) X(incr_misses) X(incr_hits)            \
    X(decr_misses) X(decr_hits) X(cas_misses) X(cas_hits) X(cas_badval)    \
    X(touch_hits) X(touch_misses) X(store_too_large) X(store_no_memory)    \
    X(auth_cmds) X(auth_errors) X(auth_throttled) X(bytes_read)             \
    X(bytes_written)                                                       \
    X(conn_yields)                                                         \
    X(udp_requests) X(udp_bytes_read) X(udp_bytes_written)                 \
    X(udp_dropped_amplification) X(udp_dropped_rate) X(udp_dropped_acl)   \
    X(udp_dropped_auth) X(udp_dropped_malformed) X(udp_dropped_too_large) \
    X(udp_admin_refused) X(udp_short_replies)                             \
    X(ssl_handshake_errors)

struct thread_stats {
#define X(name) _Atomic uint64_t name;
    THREAD_STATS(X)
#undef X
};

/* Only the owning thread writes, so a relaxed load + store is enough and
 * compiles to a plain add (no locked instruction). */
#define STAT_ADD(ts, field, n) \
    atomic_store_explicit(&(ts)->field, \
        atomic_load_explicit(&(ts)->field, memory_order_relaxed) + (n), \
        memory_order_relaxed)
#define STAT_INCR(ts, field) STAT_ADD(ts, field, 1)

/* An incr/decr outcome, counted alike by every protocol: a hit changed an
 * existing item; a miss found none (or, with vivify, created it). */
static inline void stats_arith(struct thread_stats *ts, bool incr, bool hit)
{
    if (incr && hit)
        STAT_INCR(ts, incr_hits);
    else if (incr)
        STAT_INCR(ts, incr_misses);
    else if (hit)
        STAT_INCR(ts, decr_hits);
    else
        STAT_INCR(ts, decr_misses);
}

/* A cas outcome (a store that carried a CAS), counted alike by every
 * protocol: stored, wrong CAS, or no such key. */
static inline void stats_cas(struct thread_stats *ts, int st_ok, int st_exists,
                             int st_not_found)
{
    if (st_ok)
        STAT_INCR(ts, cas_hits);
    else if (st_exists)
        STAT_INCR(ts, cas_badval);
    else if (st_not_found)
        STAT_INCR(ts, cas_misses);
}

/* What a lookup met, counted by every command that looks a key up, as
 * memcached's do_item_get counts it: an expired or flushed item (a miss). */
static inline void stats_lookup(struct thread_stats *ts, enum store_found found)
{
    if (found == STORE_EXPIRED)
        STAT_INCR(ts, get_expired);
    else if (found == STORE_FLUSHED)
        STAT_INCR(ts, get_flushed);
}

/* A get or touch outcome, counted alike by every protocol, as memcached
 * 1.6 does (proto_text.c, proto_bin.c, the meta commands): a get counts
 * cmd_get and get_hits or get_misses; a touch or get-and-touch counts
 * cmd_touch and touch_hits or touch_misses, and nothing of the get. */
static inline void stats_get(struct thread_stats *ts, bool touch, enum store_found found)
{
    bool hit = found == STORE_FOUND;

    stats_lookup(ts, found);
    if (touch) {
        STAT_INCR(ts, cmd_touch);
        if (hit)
            STAT_INCR(ts, touch_hits);
        else
            STAT_INCR(ts, touch_misses);
    } else {
        STAT_INCR(ts, cmd_get);
        if (hit)
            STAT_INCR(ts, get_hits);
        else
            STAT_INCR(ts, get_misses);
    }
}

/* Process-wide counters, touched only on connect/close. */
struct global_stats {
    _Atomic uint64_t curr_connections;
    _Atomic uint64_t total_connections;
    _Atomic uint64_t rejected_connections;
    _Atomic uint64_t connection_structures;
    /* TCP connections closed by the allow list before a byte was read */
    _Atomic uint64_t acl_rejected_connections;
    /* largest UDP bytes-sent / bytes-received of one request, x1000 */
    _Atomic uint64_t udp_max_amplification_milli;
    /* the same, towards sources that were not validated (the BAF bound) */
    _Atomic uint64_t udp_max_amplification_unvalidated_milli;
};

extern struct global_stats global_stats;

struct store_stats;

/* Register a thread's counters so `stats` can sum them (at start-up). */
void stats_register_thread(struct thread_stats *ts);
/* Sum of all threads minus the last reset's baseline. */
void stats_aggregate(struct thread_stats *out);
/* The store's statistics, its counters minus the last reset's baseline
 * (the store itself never resets). */
void stats_store_since_reset(struct store_stats *out);
/* `stats reset`: thread, global and store counters, in one place. */
void stats_reset(void);

#endif
