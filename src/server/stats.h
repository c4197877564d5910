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

#include "policy/auth.h"
#include "storage/class_count.h"
#include "storage/size_class.h"
#include "storage/store.h"

/* Per-thread counters, in memcached's names and order (auth_throttled is
 * hardcached's: failed logins refused unchecked, see policy/auth.h). */
#define THREAD_STATS(X)                                                    \
    X(cmd_get) X(cmd_set) X(cmd_flush) X(cmd_touch)                        \
    X(get_hits) X(get_misses) X(get_expired) X(get_flushed)                \
    /* the flash tier's (shown only with one, as memcached) */             \
    X(get_extstore) X(get_aborted_extstore) X(get_oom_extstore)           \
    X(recache_from_extstore) X(miss_from_extstore) X(badcrc_from_extstore) \
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
    X(ssl_handshake_errors)                                                \
    X(cmd_meta) X(idle_kicks) X(malloc_fails)                             \
    X(dump_requests) X(dump_keys)

/* Per size class, memcached's per-class command counters of `stats slabs`
 * (its slab_stats; cmd_set is its set_cmds): the class of the item hit,
 * stored, or (cas, delete, incr/decr) found. One cache line per class. */
#define CLASS_STATS(X) \
    X(get_hits) X(cmd_set) X(delete_hits) X(incr_hits) X(decr_hits) \
    X(cas_hits) X(cas_badval) X(touch_hits)

struct class_stats {
#define X(name) _Atomic uint64_t name;
    CLASS_STATS(X)
#undef X
};

struct thread_stats {
#define X(name) _Atomic uint64_t name;
    THREAD_STATS(X)
#undef X
    struct class_stats cls[SIZE_CLASS_MAX];   /* [0]: no item (never shown) */
};

/* Only the owning thread writes, so a relaxed load + store is enough and
 * compiles to a plain add (no locked instruction). ts is evaluated twice. */
#define STAT_ADD(ts, field, n) \
    atomic_store_explicit(&(ts)->field, \
        atomic_load_explicit(&(ts)->field, memory_order_relaxed) + (n), \
        memory_order_relaxed)
#define STAT_INCR(ts, field) STAT_ADD(ts, field, 1)

/* An incr/decr outcome, counted alike by every protocol: a hit changed an
 * existing item (of class cls); a miss found none (or, with vivify,
 * created it). */
static inline void stats_arith(struct thread_stats *ts, bool incr, bool hit, unsigned cls)
{
    if (incr && hit) {
        STAT_INCR(ts, incr_hits);
        STAT_INCR(&ts->cls[cls], incr_hits);
    } else if (incr) {
        STAT_INCR(ts, incr_misses);
    } else if (hit) {
        STAT_INCR(ts, decr_hits);
        STAT_INCR(&ts->cls[cls], decr_hits);
    } else {
        STAT_INCR(ts, decr_misses);
    }
}

/* A cas outcome (a store that carried a CAS): stored, wrong CAS, or no
 * such key; per class, the item found (memcached: "the one that's getting
 * pushed out"). */
static inline void stats_cas(struct thread_stats *ts, enum store_status st, unsigned met)
{
    if (st == STORE_OK) {
        STAT_INCR(ts, cas_hits);
        STAT_INCR(&ts->cls[met], cas_hits);
    } else if (st == STORE_EXISTS) {
        STAT_INCR(ts, cas_badval);
        STAT_INCR(&ts->cls[met], cas_badval);
    } else if (st == STORE_NOT_FOUND) {
        STAT_INCR(ts, cas_misses);
    }
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
 * cmd_touch and touch_hits or touch_misses, and nothing of the get. A hit
 * also counts in the class of the item hit (cls). */
static inline void stats_get(struct thread_stats *ts, bool touch, enum store_found found,
                             unsigned cls)
{
    bool hit = found == STORE_FOUND;

    stats_lookup(ts, found);
    if (touch) {
        STAT_INCR(ts, cmd_touch);
        if (hit) {
            STAT_INCR(ts, touch_hits);
            STAT_INCR(&ts->cls[cls], touch_hits);
        } else {
            STAT_INCR(ts, touch_misses);
        }
    } else {
        STAT_INCR(ts, cmd_get);
        if (hit) {
            STAT_INCR(ts, get_hits);
            STAT_INCR(&ts->cls[cls], get_hits);
        } else {
            STAT_INCR(ts, get_misses);
        }
    }
}

/* The class of an item a get reported (its visitor notes it for stats_get). */
static inline unsigned stats_class_of(const struct store_item *it)
{
    return size_class_of_item(it->nkey, it->nvalue, it->flags != 0);
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
    /* descriptors the server holds for itself (listeners, epoll, wake-up
     * eventfds, stdio): memcached's reserved_fds; set at start-up */
    _Atomic uint64_t reserved_fds;
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

/* A store command's outcome, counted alike by every protocol (memcached's
 * process_update_command and do_store_item): cmd_set, the lookup, a cas
 * outcome, and a value too large or out of memory; append and prepend,
 * whose own data fit (the parser refuses what does not), report a result
 * too large as not stored and count nothing for it. Per class, cmd_set
 * counts the request's item (memcached counts the item it allocated for
 * the data: none when that failed; an append's own data). */
static inline void stats_store(struct thread_stats *ts, const struct store_write *w,
                               enum store_status st, const struct store_result *res)
{
    enum store_mode mode = w->mode;
    /* once: STAT_INCR names its counter twice */
    unsigned cls = size_class_of_item(w->nkey, w->nvalue, w->flags != 0);

    STAT_INCR(ts, cmd_set);
    stats_lookup(ts, res->found);
    if (mode == STORE_CAS)
        stats_cas(ts, st, res->met_class);
    if (mode == STORE_APPEND || mode == STORE_PREPEND) {
        STAT_INCR(&ts->cls[cls], cmd_set);
        return;
    }
    if (st != STORE_TOO_LARGE && st != STORE_NO_MEMORY)
        STAT_INCR(&ts->cls[cls], cmd_set);
    if (st == STORE_TOO_LARGE)
        STAT_INCR(ts, store_too_large);
    else if (st == STORE_NO_MEMORY)
        STAT_INCR(ts, store_no_memory);
}

/* A delete's outcome: deleted, or no such key (a CAS that did not match
 * counts neither, as in memcached). */
static inline void stats_delete(struct thread_stats *ts, enum store_status st,
                                const struct store_result *res)
{
    stats_lookup(ts, res->found);
    if (st == STORE_OK) {
        STAT_INCR(ts, delete_hits);
        STAT_INCR(&ts->cls[res->met_class], delete_hits);
    } else if (st == STORE_NOT_FOUND) {
        STAT_INCR(ts, delete_misses);
    }
}

/* A login checked (ascii or SASL): a request malformed before any check
 * counts nothing, as in memcached. */
static inline void stats_auth(struct thread_stats *ts, enum auth_verdict v)
{
    STAT_INCR(ts, auth_cmds);
    if (v == AUTH_GRANTED || v == AUTH_CONTINUE)
        return;
    STAT_INCR(ts, auth_errors);
    if (v == AUTH_THROTTLED)
        STAT_INCR(ts, auth_throttled);
}

#endif
