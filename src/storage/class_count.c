/*
 * class_count: per-size-class drop counters (see class_count.h), relaxed
 * atomics bumped by store.c where it already counts its drops.
 */
#include "storage/class_count.h"

#include <stdatomic.h>

#include "storage/item.h"

/* Counters store.c bumps as it drops items, per class. */
struct class_counters {
    _Atomic uint64_t evicted, evicted_nonzero, reclaimed, outofmemory;
    _Atomic uint64_t expired_unfetched, evicted_unfetched, evicted_active;
    _Atomic uint32_t evicted_time;
    _Atomic uint64_t crawler_reclaimed, crawler_items_checked;
};

static struct class_counters counters[SIZE_CLASS_MAX];

#define BUMP(field) atomic_fetch_add_explicit(&(field), 1, memory_order_relaxed)
#define READ(field) atomic_load_explicit(&(field), memory_order_relaxed)

void class_count_drop(const struct item_hdr *h, bool live, rel_time_t atime)
{
    struct class_counters *c = &counters[class_count_class_of(h)];
    bool fetched = (h->iflags & ITEM_FETCHED) != 0;
    rel_time_t now = clock_now();

    if (live) {
        BUMP(c->evicted);
        if (h->exptime != 0)
            BUMP(c->evicted_nonzero);
        if (!fetched)
            BUMP(c->evicted_unfetched);
        if (h->iflags & ITEM_ACCESSED)   /* memcached: ITEM_ACTIVE */
            BUMP(c->evicted_active);
        atomic_store_explicit(&c->evicted_time, now > atime ? now - atime : 0,
                              memory_order_relaxed);
    } else {
        BUMP(c->reclaimed);
        if (!fetched)
            BUMP(c->expired_unfetched);
    }
}

void class_count_oom(size_t nkey, size_t nvalue, bool has_flags)
{
    BUMP(counters[size_class_of_item(nkey, nvalue, has_flags)].outofmemory);
}

void class_count_checked(const uint32_t checked[SIZE_CLASS_MAX])
{
    for (unsigned i = 1; i < SIZE_CLASS_MAX; i++)
        if (checked[i] != 0)
            atomic_fetch_add_explicit(&counters[i].crawler_items_checked, checked[i],
                                      memory_order_relaxed);
}

void class_count_crawler_reclaim(const struct item_hdr *h)
{
    BUMP(counters[class_count_class_of(h)].crawler_reclaimed);
}

void class_count_reset(void)
{
    for (unsigned i = 0; i < SIZE_CLASS_MAX; i++) {
        struct class_counters *c = &counters[i];
        atomic_store(&c->evicted, 0);
        atomic_store(&c->evicted_nonzero, 0);
        atomic_store(&c->reclaimed, 0);
        atomic_store(&c->outofmemory, 0);
        atomic_store(&c->expired_unfetched, 0);
        atomic_store(&c->evicted_unfetched, 0);
        atomic_store(&c->evicted_active, 0);
        atomic_store(&c->evicted_time, 0);
        atomic_store(&c->crawler_reclaimed, 0);
        atomic_store(&c->crawler_items_checked, 0);
    }
}

void class_count_get(unsigned id, struct class_drops *out)
{
    const struct class_counters *k = &counters[id < SIZE_CLASS_MAX ? id : 0];

    out->evicted = READ(k->evicted);
    out->evicted_nonzero = READ(k->evicted_nonzero);
    out->reclaimed = READ(k->reclaimed);
    out->outofmemory = READ(k->outofmemory);
    out->expired_unfetched = READ(k->expired_unfetched);
    out->evicted_unfetched = READ(k->evicted_unfetched);
    out->evicted_active = READ(k->evicted_active);
    out->evicted_time = READ(k->evicted_time);
    out->crawler_reclaimed = READ(k->crawler_reclaimed);
    out->crawler_items_checked = READ(k->crawler_items_checked);
}
