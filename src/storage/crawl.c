/*
 * crawl: per-class statistics gathered by walking the store (see crawl.h).
 * Walking costs nothing on the get/set path, where memcached pays for
 * per-class LRU lists; a `stats items` pays instead, in one shard pause
 * at a time.
 */
#include "storage/crawl.h"

#include <stdatomic.h>
#include <string.h>

#include "storage/item.h"
#include "storage/store.h"

/* Counters store.c bumps as it drops items, per class. */
struct class_counters {
    _Atomic uint64_t evicted, evicted_nonzero, reclaimed, outofmemory;
    _Atomic uint64_t expired_unfetched, evicted_unfetched;
    _Atomic uint32_t evicted_time;
};

static struct class_counters counters[SIZE_CLASS_MAX];
static bool use_cas = true;   /* set once, before any thread runs */

#define BUMP(field) atomic_fetch_add_explicit(&(field), 1, memory_order_relaxed)
#define READ(field) atomic_load_explicit(&(field), memory_order_relaxed)

void crawl_setup(bool cas)
{
    use_cas = cas;
}

static unsigned class_of(size_t nkey, size_t nvalue, bool has_flags)
{
    return size_class_of(size_class_mc_total(nkey, nvalue, has_flags, use_cas));
}

static unsigned class_of_hdr(const struct item_hdr *h)
{
    return class_of(h->nkey, h->nvalue, (h->iflags & ITEM_HAS_FLAGS) != 0);
}

void crawl_note_drop(const struct item_hdr *h, bool live, rel_time_t atime)
{
    struct class_counters *c = &counters[class_of_hdr(h)];
    bool fetched = (h->iflags & ITEM_FETCHED) != 0;
    rel_time_t now = clock_now();

    if (live) {
        BUMP(c->evicted);
        if (h->exptime != 0)
            BUMP(c->evicted_nonzero);
        if (!fetched)
            BUMP(c->evicted_unfetched);
        atomic_store_explicit(&c->evicted_time, now > atime ? now - atime : 0,
                              memory_order_relaxed);
    } else {
        BUMP(c->reclaimed);
        if (!fetched)
            BUMP(c->expired_unfetched);
    }
}

void crawl_note_oom(size_t nkey, size_t nvalue, bool has_flags)
{
    BUMP(counters[class_of(nkey, nvalue, has_flags)].outofmemory);
}

void crawl_counters_reset(void)
{
    for (unsigned i = 0; i < SIZE_CLASS_MAX; i++) {
        struct class_counters *c = &counters[i];
        atomic_store(&c->evicted, 0);
        atomic_store(&c->evicted_nonzero, 0);
        atomic_store(&c->reclaimed, 0);
        atomic_store(&c->outofmemory, 0);
        atomic_store(&c->expired_unfetched, 0);
        atomic_store(&c->evicted_unfetched, 0);
        atomic_store(&c->evicted_time, 0);
    }
}

struct walk {
    struct crawl_class *classes;
    uint32_t *sizes;
};

static void visit(const struct store_item *it, void *arg)
{
    struct walk *w = arg;
    size_t total = size_class_mc_total(it->nkey, it->nvalue, it->flags != 0, use_cas);
    struct crawl_class *c = &w->classes[size_class_of(total)];

    if (c->number == 0 || it->atime < c->oldest_atime)
        c->oldest_atime = it->atime;
    c->number++;
    c->mem_requested += it->size;
    if (w->sizes != NULL) {
        /* memcached buckets by its own item size, rounded up to 32 */
        size_t b = (total + CRAWL_SIZE_BUCKET - 1) / CRAWL_SIZE_BUCKET;
        w->sizes[b < CRAWL_SIZE_BUCKETS ? b : CRAWL_SIZE_BUCKETS - 1]++;
    }
}

void crawl_classes(struct crawl_class classes[SIZE_CLASS_MAX], uint32_t *sizes)
{
    struct walk w = { classes, sizes };

    memset(classes, 0, sizeof(classes[0]) * SIZE_CLASS_MAX);
    if (sizes != NULL)
        memset(sizes, 0, sizeof(sizes[0]) * CRAWL_SIZE_BUCKETS);
    for (unsigned i = 0; i < store_nshards(); i++)
        store_walk_shard(i, visit, &w);
    for (unsigned i = 1; i < SIZE_CLASS_MAX; i++) {
        struct class_counters *k = &counters[i];
        struct crawl_class *c = &classes[i];
        c->evicted = READ(k->evicted);
        c->evicted_nonzero = READ(k->evicted_nonzero);
        c->reclaimed = READ(k->reclaimed);
        c->outofmemory = READ(k->outofmemory);
        c->expired_unfetched = READ(k->expired_unfetched);
        c->evicted_unfetched = READ(k->evicted_unfetched);
        c->evicted_time = READ(k->evicted_time);
    }
}
