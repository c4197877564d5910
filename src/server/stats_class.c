/*
 * stats_class: the per-size-class stats groups (see stats_class.h). The
 * store has no slab classes; it counts per memcached class (crawl_classes)
 * and each group reports what memcached would for the same items, with the
 * true numbers where this storage has them (item count, bytes, evictions).
 */
#include "server/stats_class.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/clock.h"
#include "server/settings.h"
#include "server/stats.h"
#include "server/stats_sink.h"
#include "storage/crawl.h"
#include "storage/store.h"

/* The per-class counts; on the heap: larger than a worker wants on its
 * stack. */
struct class_walk {
    struct crawl_class c[SIZE_CLASS_MAX];
};

static struct class_walk *walk(bool age)
{
    struct class_walk *w = malloc(sizeof(*w));

    if (w != NULL)
        crawl_classes(w->c, age);
    return w;
}

/* "<prefix><id>:<name> v": "items:3:number", or "3:chunk_size". */
static void add_class(const struct stats_sink *s, const char *prefix, unsigned id,
                      const char *name, uint64_t v)
{
    char key[64];

    snprintf(key, sizeof(key), "%s%u:%s", prefix, id, name);
    stats_add_u64(s, key, v);
}

/* memcached's per-class `stats items` lines, in its order (with its
 * default segmented LRU). Every item is in the one FIFO that eviction
 * walks: all "cold", every hit a hit to cold; the hot/warm figures and the
 * counters of memcached's LRU maintainer and its locks are 0 (there is no
 * such list, thread or per-item lock here). */
static void items_class(const struct stats_sink *s, unsigned id, const struct crawl_class *c,
                        const struct class_stats *cmds)
{
    rel_time_t now = clock_now();
    static const char *const zero_lru[] = {
        "lrutail_reflocked", "moves_to_cold", "moves_to_warm", "moves_within_lru",
        "direct_reclaims", "hits_to_hot", "hits_to_warm",
    };
    const char *pre = "items:";

    add_class(s, pre, id, "number", c->number);
    add_class(s, pre, id, "number_hot", 0);
    add_class(s, pre, id, "number_warm", 0);
    add_class(s, pre, id, "number_cold", c->number);
    add_class(s, pre, id, "age_hot", 0);
    add_class(s, pre, id, "age_warm", 0);
    /* memcached: now - its cold LRU tail's last access; here the oldest
     * segment holding the class's items, an upper bound (crawl.h) */
    add_class(s, pre, id, "age", now > c->oldest_atime ? now - c->oldest_atime : 0);
    add_class(s, pre, id, "mem_requested", c->mem_requested);
    add_class(s, pre, id, "evicted", c->drops.evicted);
    add_class(s, pre, id, "evicted_nonzero", c->drops.evicted_nonzero);
    add_class(s, pre, id, "evicted_time", c->drops.evicted_time);
    add_class(s, pre, id, "outofmemory", c->drops.outofmemory);
    add_class(s, pre, id, "tailrepairs", 0);
    add_class(s, pre, id, "reclaimed", c->drops.reclaimed);
    add_class(s, pre, id, "expired_unfetched", c->drops.expired_unfetched);
    add_class(s, pre, id, "evicted_unfetched", c->drops.evicted_unfetched);
    add_class(s, pre, id, "evicted_active", c->drops.evicted_active);
    add_class(s, pre, id, "crawler_reclaimed", c->drops.crawler_reclaimed);
    add_class(s, pre, id, "crawler_items_checked", c->drops.crawler_items_checked);
    for (size_t i = 0; i < sizeof(zero_lru) / sizeof(zero_lru[0]); i++)
        add_class(s, pre, id, zero_lru[i], 0);
    add_class(s, pre, id, "hits_to_cold",
              atomic_load_explicit(&cmds->get_hits, memory_order_relaxed));
    add_class(s, pre, id, "hits_to_temp", 0);
}

/* A class is listed while it holds items, as memcached lists it. */
static bool class_seen(const struct crawl_class *c)
{
    return c->number > 0;
}

/* The workers' counters, summed (since the last `stats reset`). */
static struct thread_stats *commands(void)
{
    struct thread_stats *ts = malloc(sizeof(*ts));

    if (ts != NULL)
        stats_aggregate(ts);
    return ts;
}

void stats_emit_items(const struct stats_sink *s)
{
    struct class_walk *w = walk(true);
    struct thread_stats *ts = commands();

    for (unsigned id = 1; w != NULL && ts != NULL && id <= size_class_count(); id++)
        if (class_seen(&w->c[id]))
            items_class(s, id, &w->c[id], &ts->cls[id]);
    free(ts);
    free(w);
    stats_end(s);
}

/* memcached's per-class `stats slabs`: the chunks and 1 MiB pages memcached
 * would use for these items (so memcached-tool reads it as it would
 * memcached's), and the command counters the workers keep per class. The
 * true memory is total_malloced (segments) and `stats items` mem_requested.
 * memcached keeps a class's first page once it has held an item: a class
 * listed for its counters alone shows that page. */
static void slabs_class(const struct stats_sink *s, unsigned id, const struct crawl_class *c,
                        const struct class_stats *cmds)
{
    uint32_t chunk = size_class_chunk(id);
    uint64_t perslab = SIZE_CLASS_PAGE_SIZE / chunk;
    uint64_t pages = perslab ? (c->number + perslab - 1) / perslab : c->number;
    const char *pre = "";

    if (pages == 0)
        pages = 1;

    add_class(s, pre, id, "chunk_size", chunk);
    add_class(s, pre, id, "chunks_per_page", perslab);
    add_class(s, pre, id, "total_pages", pages);
    add_class(s, pre, id, "total_chunks", pages * perslab);
    add_class(s, pre, id, "used_chunks", c->number);
    add_class(s, pre, id, "free_chunks", pages * perslab - c->number);
    add_class(s, pre, id, "free_chunks_end", 0);
#define X(name) add_class(s, pre, id, #name, atomic_load_explicit(&cmds->name, \
                                                                memory_order_relaxed));
    CLASS_STATS(X)
#undef X
}

/* memcached keeps a class's page once the class has held an item (its
 * slab mover aside), so the class stays in `stats slabs` after its items
 * are gone and `stats reset` has cleared its counters: the classes found
 * in use are marked here, at each listing and before each reset. */
static _Atomic bool kept_page[SIZE_CLASS_MAX];

/* A class memcached would hold a page for: it holds items, held the items
 * its counters counted, or did before the last `stats reset`. */
static bool class_in_use(unsigned id, const struct crawl_class *c,
                         const struct class_stats *cmds)
{
    uint64_t any = 0;

#define X(name) any |= atomic_load_explicit(&cmds->name, memory_order_relaxed);
    CLASS_STATS(X)
#undef X
    if (class_seen(c) || any != 0)
        atomic_store_explicit(&kept_page[id], true, memory_order_relaxed);
    return atomic_load_explicit(&kept_page[id], memory_order_relaxed);
}

void stats_class_keep_pages(void)
{
    struct class_walk *w = walk(false);
    struct thread_stats *ts = commands();

    for (unsigned id = 1; w != NULL && ts != NULL && id <= size_class_count(); id++)
        (void)class_in_use(id, &w->c[id], &ts->cls[id]);
    free(ts);
    free(w);
}

void stats_emit_slabs(const struct stats_sink *s)
{
    struct class_walk *w = walk(false);
    struct thread_stats *ts = commands();
    struct store_stats ss;
    uint64_t active = 0;

    for (unsigned id = 1; w != NULL && ts != NULL && id <= size_class_count(); id++)
        if (class_in_use(id, &w->c[id], &ts->cls[id])) {
            slabs_class(s, id, &w->c[id], &ts->cls[id]);
            active++;
        }
    free(ts);
    free(w);
    store_stats_get(&ss);
    stats_add_u64(s, "active_slabs", active);
    stats_add_u64(s, "total_malloced", ss.mem_used);
    stats_end(s);
}

void stats_emit_sizes(const struct stats_sink *s)
{
    uint32_t *sizes;

    if (!settings.track_sizes) {
        stats_add_str(s, "sizes_status", "disabled");
        stats_end(s);
        return;
    }
    sizes = malloc(CRAWL_SIZE_BUCKETS * sizeof(*sizes));
    if (sizes != NULL)
        crawl_sizes(sizes);
    for (uint32_t b = 0; sizes != NULL && b < CRAWL_SIZE_BUCKETS; b++)
        if (sizes[b] != 0) {
            char key[16];
            snprintf(key, sizeof(key), "%u", b * CRAWL_SIZE_BUCKET);
            stats_add_u64(s, key, sizes[b]);
        }
    free(sizes);
    stats_end(s);
}
