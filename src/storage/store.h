/*
 * store: the item storage engine. It keeps keys, values, client flags,
 * expiry and CAS, bounded by a memory limit, and knows nothing of protocols
 * or connections. Thread-safe: the key space is split into shards, each with
 * its own lock, hash table and memory segments, so no global lock sits on
 * the get/set path.
 *
 * Items live in fixed-size segments, written log-style (Segcache, NSDI'21),
 * so item memory is exactly accounted against the limit and per-item
 * metadata stays small. See store.c for the layout and eviction.
 */
#ifndef HC_STORAGE_STORE_H
#define HC_STORAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/clock.h"
#include "storage/size_class.h"

#define STORE_KEY_MAX 250   /* longest key, in bytes (memcached's KEY_MAX_LENGTH) */

struct store_config {
    uint64_t mem_limit;      /* bytes of item memory (-m); never exceeded */
    uint32_t item_size_max;  /* largest value + key + header (-I) */
    bool     evict;          /* false with -M: fail with STORE_NO_MEMORY */
    bool     use_cas;        /* false with -C: items report cas 0 */
    unsigned hashpower;      /* log2 of initial total hash slots; 0 = default */
    unsigned nshards;        /* power of two; 0 = default */
    bool     large_pages;    /* -L: segments on transparent huge pages
                                (anonymous segments always ask for them;
                                with memory_file only with this) */
    const char *memory_file; /* -e: keep segments in this file across restarts
                                (persist.h); NULL = anonymous memory */
};

/* A read-only view of one item, valid only while a store_visit_fn runs
 * (the shard lock is held: the callback must not call back into store). */
struct store_item {
    const char *key;
    size_t      nkey;
    const char *value;
    size_t      nvalue;
    uint32_t    flags;
    uint64_t    cas;
    rel_time_t  exptime;     /* 0 = never */
    size_t      size;        /* bytes the item takes in memory */
    /* what memcached's meta commands report */
    rel_time_t  atime;       /* last access before this one */
    bool        fetched;     /* fetched before this access (mg h) */
    bool        stale;       /* invalidated (X) */
    bool        win;         /* this caller won the right to recache (W) */
    bool        token_sent;  /* an earlier caller won it already (Z) */
    bool        created;     /* vivified by this call (mg N) */
    /* Non-NULL: the value is on flash (storage/flash_tier.h) and this is
     * its stub; value is not the value then, nvalue is its length. */
    const unsigned char *flash;
    /* A visitor that cannot serve the value yet (a flash read to wait
     * for: the request runs again) sets *waits: the visit is then no use
     * of the item (no LRU bump, fetched or atime, no recache win taken),
     * so the run that serves sees and reports the item as it was. */
    bool       *waits;
};
typedef void (*store_visit_fn)(const struct store_item *it, void *ctx);

enum store_mode {
    STORE_SET, STORE_ADD, STORE_REPLACE, STORE_APPEND, STORE_PREPEND, STORE_CAS
};

enum store_status {
    STORE_OK,           /* stored / deleted / touched / arithmetic done */
    STORE_NOT_STORED,   /* add on existing, replace/append/prepend on missing */
    STORE_EXISTS,       /* cas mismatch */
    STORE_NOT_FOUND,    /* missing key (cas, delete, touch, incr/decr) */
    STORE_TOO_LARGE,    /* item larger than item_size_max */
    STORE_NO_MEMORY,    /* no room, and eviction disabled or impossible */
    STORE_NON_NUMERIC,  /* incr/decr on a value that is not a number */
};

struct store_stats {
    uint64_t curr_items;
    uint64_t total_items;        /* items ever stored */
    uint64_t bytes;              /* bytes of live items (key + value + header) */
    uint64_t mem_limit;
    uint64_t mem_used;           /* segment bytes taken from the limit */
    uint64_t evictions;          /* live items dropped to make room */
    uint64_t evicted_unfetched;
    uint64_t expired_unfetched;
    uint64_t reclaimed;          /* expired/dead items whose memory was reused */
    uint64_t hash_bytes;         /* memory of all hash tables */
    uint32_t hash_power_level;   /* log2 of total hash slots */
    bool     hash_is_expanding;
    uint64_t segments;           /* segments in use */
    uint64_t segment_size;
};

/* Set up the engine. Returns 0, or -1 (with errno) if memory for the
 * tables could not be had. Call once; store_teardown() frees everything.
 * With memory_file, the items a compatible file holds are loaded (after a
 * graceful stop or a crash alike; persist.h); a file that is unsafe to use
 * fails with EPERM and the reason in store_setup_error(). */
int store_setup(const struct store_config *cfg);
const char *store_setup_error(void);
/* With memory_file, the items stay in the file for the next start. */
void store_teardown(void);
/* With large_pages: did the kernel take the huge-page advice? */
bool store_huge_pages(void);

/* Every operation takes one request struct, built on the caller's stack
 * with designated initializers (fields left out are 0: no option). Keys are
 * read, values copied; nothing points into a request after the call. */

/* What a lookup met at its key. A dead item (expired, flushed) is removed
 * on the way; it is a miss, told apart for memcached's get_expired and
 * get_flushed (counted, like memcached's do_item_get, by every lookup). */
enum store_found {
    STORE_FOUND,
    STORE_ABSENT,
    STORE_EXPIRED,
    STORE_FLUSHED,
};

/* What a write, delete, touch or incr/decr reports besides its status. */
struct store_result {
    enum store_found found;  /* the key's item before the operation */
    uint64_t   cas;          /* STORE_OK: the new item's CAS */
    uint64_t   number;       /* incr/decr, STORE_OK: the new value */
    size_t     nvalue;       /* write, STORE_OK: the stored value's length
                                (an append's or prepend's whole value) */
    bool       created;      /* incr/decr: vivified by this call */
    /* the memcached size class (class_count.h) of the item the operation
     * found (cas, delete, touch, incr/decr; not a plain set), for the
     * per-class hits of `stats slabs`; 0 when it found none */
    unsigned   met_class;
};

/* A write. `exptime` is already converted with clock_exptime(). For
 * STORE_CAS, `cas` must match the item's CAS. For APPEND/PREPEND the
 * existing flags and exptime are kept, and a nonzero `cas` must match too
 * (else STORE_EXISTS), as in memcached. */
struct store_write {
    enum store_mode mode;
    const char *key;
    size_t      nkey;
    uint32_t    flags;
    rel_time_t  exptime;
    const char *value;
    size_t      nvalue;
    uint64_t    cas;
    /* meta's options (ms) */
    bool       invalidate;   /* I: a CAS older than the item's still stores,
                                as a stale value (keeps expiry and token) */
    bool       vivify;       /* N: append/prepend to a missing key creates it */
    rel_time_t viv_exptime;
    uint64_t   new_cas;      /* E: the new item's CAS; 0 = the next one */
};
/* res may be NULL; res->found tells what was at the key before (a write
 * refused as STORE_TOO_LARGE looks nothing up: STORE_ABSENT). */
enum store_status store_write(const struct store_write *w, struct store_result *res);

/* A lookup: a live (not expired, not flushed) item is reported to fn,
 * all of the options applied under one lock. */
struct store_read {
    const char *key;
    size_t      nkey;
    bool       touch;        /* get-and-touch, mg T: set the expiry first */
    rel_time_t exptime;
    bool       vivify;       /* mg N: on a miss, create an empty item and win */
    rel_time_t viv_exptime;
    uint32_t   recache;      /* mg R: win if fewer seconds than this are left */
    bool       no_bump;      /* mg u, me: not a use (LRU, fetched, last access) */
    bool       tokens;       /* mg: hand out a win for a stale or vivified
                                item (W, then Z); other reads never do */
    uint64_t   new_cas;      /* mg N E: the CAS of the item it creates (0: next) */
    bool       unobserved;   /* a look ahead, not a command's: no watch event */
};
/* STORE_FOUND (fn was called; a vivified item counts as found) or why not.
 * A get-and-touch whose item has no room for an expiry and cannot be
 * copied for want of memory reports STORE_ABSENT, the item unchanged. */
enum store_found store_read(const struct store_read *r, store_visit_fn fn, void *ctx);

/* After a set refused for size or memory (STORE_TOO_LARGE,
 * STORE_NO_MEMORY), told to the client and to watch: the key's old value
 * goes too, as memcached unlinks it so that no stale value outlives a
 * failed set. Watch sees the lookup, not a delete, as memcached's. The
 * processors call it for what memcached does it for (text and binary
 * set, meta ms), and for a value their parsers refused unread. */
void store_unlink_refused(const char *key, size_t nkey);

/* A flashed value that could not be read back (stale, damaged, its device
 * failed): drop the item if it still names that value (stub, as
 * store_item.flash showed it), so later reads miss without trying. */
void store_drop_flashed(const char *key, size_t nkey, const unsigned char *stub);
/* At start-up, before any client (storage/flash_recover.c): hand the stub
 * of every live flashed item to keep(), under its shard's lock (keep must
 * not call into the store); an item it refuses is dropped. One pass over
 * the items, however many it drops. */
typedef bool (*store_stub_fn)(const unsigned char *stub, void *ctx);
void store_flash_check(store_stub_fn keep, void *ctx);

/* A flashed value read back (value, len bytes) for an item that still
 * names it (stub): bring it back into RAM (ext_recache_rate), keeping the
 * item's CAS, flags and expiry. False when the item changed meanwhile or
 * no memory could be had (it stays flashed). */
bool store_recache_flashed(const char *key, size_t nkey, const unsigned char *stub,
                           const void *value, uint32_t len);

/* The flash compactor's side (storage/flash_compact.c), by the key's hash
 * (hash_key) that a record on flash holds, under the shard's lock:
 * is the value at stub still wanted by a live item? With drop_cold, one
 * not read since it was flashed (or last compacted in RAM) is dropped
 * instead (ext_drop_unread). */
enum store_flash_hold { STORE_FLASH_GONE, STORE_FLASH_HELD, STORE_FLASH_DROPPED };
enum store_flash_hold store_flash_held(uint64_t hv, const unsigned char *stub,
                                       bool drop_cold);
/* Point the live item that names stub `from` at `to` (its value was
 * rewritten there) and forget `from`. False: no item names `from` now
 * (deleted, replaced, evicted): the caller forgets `to`. */
bool store_flash_restub(uint64_t hv, const unsigned char *from, const unsigned char *to);

/* touch: STORE_OK or STORE_NOT_FOUND; rarely STORE_NO_MEMORY: an item
 * stored without expiry has no room for one and is copied, which needs
 * memory (res->found is then STORE_ABSENT, as store_read reports it). A
 * use of the item, but not a fetch. res may be NULL. */
enum store_status store_touch(const char *key, size_t nkey, rel_time_t exptime,
                              struct store_result *res);

/* A delete: STORE_OK or STORE_NOT_FOUND; STORE_EXISTS if `cas` is nonzero
 * and not the item's (binary delete, meta md C). md's options mark the
 * item stale instead (I, with a new CAS and optionally a new expiry, T),
 * or drop only its value (x); those rewrite it, so they may also fail
 * with STORE_NO_MEMORY. */
struct store_delete {
    const char *key;
    size_t      nkey;
    uint64_t    cas;
    bool        invalidate;
    bool        strip;
    bool        touch;
    rel_time_t  exptime;
    uint64_t    new_cas;     /* E */
};
enum store_status store_delete(const struct store_delete *d, struct store_result *res);

/* incr (wraps at 2^64) or decr (floors at 0). The stored value must read
 * as a number by strnum_counter(); the result is stored in decimal, and
 * reported in res->number. STORE_OK, STORE_NOT_FOUND, STORE_NON_NUMERIC,
 * STORE_EXISTS (cas given and wrong) or STORE_NO_MEMORY. */
struct store_arith {
    const char *key;
    size_t      nkey;
    bool        incr;
    uint64_t    delta;
    /* what the binary and meta protocols add */
    uint64_t   cas;          /* nonzero: the item's CAS must match */
    bool       vivify;       /* on a miss, store `initial` and return it */
    uint64_t   initial;
    rel_time_t viv_exptime;  /* expiry of a vivified item */
    bool       touch;        /* on a hit, also set the expiry to `exptime` */
    rel_time_t exptime;
    uint64_t   new_cas;      /* the result's CAS (meta E); 0 = the next one */
};
enum store_status store_arith(const struct store_arith *a, struct store_result *res);

/* Invalidate every item stored before `when` (a rel_time_t; 0 = now).
 * With a time in the future, items stored until then die at that time. */
void store_flush(rel_time_t when);

/* Change the memory limit at run time (cache_memlimit). Lowering it evicts
 * down to the new limit as memory is next needed. Returns 0 or -1 (EINVAL:
 * under a segment; ERANGE: with -e, above the file's -m). */
int store_set_mem_limit(uint64_t bytes);

/* Largest item the engine accepts (key + value + header), for -I checks. */
size_t store_item_size(size_t nkey, size_t nvalue);

void store_stats_get(struct store_stats *out);

/* Per memcached size class (size_class.h), without walking items: the
 * items counted in curr_items (live ones, and dead ones not yet freed, as
 * memcached counts them), their bytes here, and with `age` the creation
 * time of the oldest segment that holds items and was given one of the
 * class (UINT32_MAX: none). Each shard is locked for a copy of its counts
 * and, with age, a pass over its segment list (not its items). */
struct store_class {
    uint64_t   number;
    uint64_t   bytes;
    rel_time_t oldest;
};
void store_classes_get(struct store_class out[SIZE_CLASS_MAX], bool age);

unsigned store_nshards(void);

/* A walk in steps (key dumps, `stats sizes`; fn must not call into the
 * store; the view's atime is absolute): where the next item is. Start from all
 * zeros; it packs into the 64 bits of a session's resume point. */
struct store_cursor {
    uint32_t shard;
    uint32_t seg;      /* segment id; 0: the shard's oldest */
    uint32_t off;      /* offset of the next item in it */
    uint32_t base;     /* low STORE_CURSOR_BASE_BITS of the segment's
                          sequence base: a segment compacted or reused
                          since is not resumed in (the walk goes on at the
                          next newer one) */
};
#define STORE_CURSOR_BASE_BITS 15
/* Nonzero for every cursor (bit 63 is set), so 0 can mean "no walk". */
uint64_t store_cursor_pack(const struct store_cursor *cur);
struct store_cursor store_cursor_unpack(uint64_t packed);
/* Visit up to max live items from *cur on, under one shard lock, and
 * advance *cur. Returns false once every shard has been walked. Items
 * written or moved during a walk may be seen twice or not at all, as
 * with memcached's crawler. */
bool store_walk_step(struct store_cursor *cur, size_t max, store_visit_fn fn, void *ctx);

/* An observer of item events (server/watch.c turns them into `watch`
 * lines): each lookup a command makes (with what it met), a live item
 * evicted, an item deleted. Called with the shard lock held: it must not
 * call into the store. Set it to NULL to stop; it costs one relaxed load
 * per event while NULL. */
enum store_event { STORE_EV_LOOKUP, STORE_EV_EVICT, STORE_EV_DELETE };
struct store_event_info {
    enum store_event ev;
    const char      *key;
    size_t           nkey;
    enum store_found found;    /* LOOKUP: what it met */
    size_t           nvalue;   /* the item's, when there is one */
    bool             has_flags;
    bool             fetched;
    rel_time_t       exptime, atime;
};
typedef void (*store_observer_fn)(const struct store_event_info *e);
void store_set_observer(store_observer_fn fn);

/* The crawler's step (storage/crawl.c): check up to max items from *cur
 * on, under one shard lock, and free those expired or flushed, as a
 * lookup would (counted as reclaimed). Adds to *t what it met (the live
 * items' expiry times feed the crawler's schedule, as memcached's
 * crawler counts them); returns false once every shard has been walked. */
#define STORE_TTL_MINUTES 60
struct store_reclaim_tally {
    uint64_t checked, reclaimed;
    uint64_t live, noexp;              /* items left, and those never expiring */
    uint64_t ttl_minute[STORE_TTL_MINUTES];   /* live items expiring in
                                                 minute i of the next hour */
    rel_time_t next_exp;   /* earliest expiry in the segments it skipped
                              unread (nothing in them could have died): 0 none */
};
bool store_reclaim_step(struct store_cursor *cur, size_t max, struct store_reclaim_tally *t);

/* Prefetching for a batch of requests (see store.c): name each key with
 * store_prefetch, then call store_prefetch_items, then run the requests;
 * store_prefetch_clear before the named key bytes change or are freed.
 * value: the request reads the value (a get), so more of the item is
 * loaded (see store.c). */
void store_prefetch(const char *key, size_t nkey, bool value);
void store_prefetch_items(void);
void store_prefetch_clear(void);

#endif
