/*
 * class_count: what store.c counts per memcached size class as it drops
 * items (evictions, reclaims, out of memory, the crawler's checks), for
 * `stats items`. Kept apart from crawl.c, which walks the store: the store
 * feeds these counters, the crawler reads the store.
 */
#ifndef HC_STORAGE_CLASS_COUNT_H
#define HC_STORAGE_CLASS_COUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/clock.h"
#include "storage/item.h"
#include "storage/size_class.h"

struct class_drops {
    uint64_t   evicted, evicted_nonzero, reclaimed, outofmemory;
    uint64_t   expired_unfetched, evicted_unfetched;
    uint64_t   evicted_active;     /* evicted though used since written */
    uint64_t   crawler_reclaimed, crawler_items_checked;
    rel_time_t evicted_time;       /* seconds idle of the last evicted item */
};

/* The memcached class of an item (size_class_of_item). */
static inline unsigned class_count_class_of(const struct item_hdr *h)
{
    return size_class_of_item(h->nkey, h->nvalue, (h->iflags & ITEM_HAS_FLAGS) != 0);
}

/* Called by store.c, shard lock held: an item dropped by eviction (live,
 * last accessed at atime) or found dead (expired/flushed: reclaimed), a
 * write that found no memory, the items one crawler step checked (per
 * class, added once per step) and one it freed. */
void class_count_drop(const struct item_hdr *h, bool live, rel_time_t atime);
void class_count_oom(size_t nkey, size_t nvalue, bool has_flags);
void class_count_checked(const uint32_t checked[SIZE_CLASS_MAX]);
void class_count_crawler_reclaim(const struct item_hdr *h);

/* The counters of class id (1..size_class_count()). */
void class_count_get(unsigned id, struct class_drops *out);
/* `stats reset` clears them, as memcached's does. */
void class_count_reset(void);

#endif
