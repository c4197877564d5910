/*
 * crawl: what is learnt by walking the store, shard by shard, instead of
 * keeping counters on the set/get path: the per-size-class view that
 * memcached's `stats items`, `stats slabs` and `stats sizes` give, and the
 * per-class eviction counters store.c feeds as it drops items.
 */
#ifndef HC_STORAGE_CRAWL_H
#define HC_STORAGE_CRAWL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/clock.h"
#include "storage/size_class.h"

struct item_hdr;

/* One class of `stats items`/`stats slabs` (size_class.h). */
struct crawl_class {
    uint64_t   number;             /* live items */
    uint64_t   mem_requested;      /* their bytes in this storage */
    rel_time_t oldest_atime;       /* least recent access of a live item */
    uint64_t   evicted, evicted_nonzero, reclaimed, outofmemory;
    uint64_t   expired_unfetched, evicted_unfetched;
    rel_time_t evicted_time;       /* seconds idle of the last evicted item */
};

/* `stats sizes`: memcached's 32-byte buckets of item sizes. */
#define CRAWL_SIZE_BUCKET     32u
#define CRAWL_SIZE_BUCKETS    (SIZE_CLASS_PAGE_SIZE / CRAWL_SIZE_BUCKET + 1)

/* Place items as memcached would with or without CAS (-C); store_setup
 * calls it. */
void crawl_setup(bool use_cas);

/* Walk every live item (one shard lock at a time, so a walk costs each
 * shard one pause as long as its own items take to visit) and fill
 * classes[1..size_class_count()] (counters included) and, when sizes is
 * not NULL, sizes[CRAWL_SIZE_BUCKETS]: items per bucket, the last holding
 * every larger item. */
void crawl_classes(struct crawl_class classes[SIZE_CLASS_MAX], uint32_t *sizes);

/* Called by store.c, shard lock held: an item dropped by eviction (live,
 * last accessed at atime) or found dead (expired/flushed: reclaimed), and
 * a write that found no memory. Counted per class in relaxed atomics. */
void crawl_note_drop(const struct item_hdr *h, bool live, rel_time_t atime);
void crawl_note_oom(size_t nkey, size_t nvalue, bool has_flags);
/* `stats reset` clears the per-class counters, as memcached's does. */
void crawl_counters_reset(void);

#endif
