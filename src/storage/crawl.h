/*
 * crawl: the per-size-class view that memcached's `stats items`, `stats
 * slabs` and `stats sizes` give (from the store's per-class counters; only
 * `stats sizes` walks, in steps), and the background crawler that walks
 * the store to free expired and flushed items.
 */
#ifndef HC_STORAGE_CRAWL_H
#define HC_STORAGE_CRAWL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/clock.h"
#include "storage/class_count.h"
#include "storage/size_class.h"


/* One class of `stats items`/`stats slabs` (size_class.h). */
struct crawl_class {
    uint64_t   number;             /* items in curr_items (store_classes_get) */
    uint64_t   mem_requested;      /* their bytes in this storage */
    rel_time_t oldest_atime;       /* with age: creation of the oldest
                                      segment holding the class's items, an
                                      upper bound of its oldest item's idle
                                      time (store_classes_get) */
    struct class_drops drops;      /* class_count.h */
};

/* `stats sizes`: memcached's 32-byte buckets of item sizes. */
#define CRAWL_SIZE_BUCKET     32u
#define CRAWL_SIZE_BUCKETS    (SIZE_CLASS_PAGE_SIZE / CRAWL_SIZE_BUCKET + 1)

/* classes[1..size_class_count()] (counters included) from the store's
 * per-class counts: no walk of the items. age: fill oldest_atime too. */
void crawl_classes(struct crawl_class classes[SIZE_CLASS_MAX], bool age);
/* sizes[CRAWL_SIZE_BUCKETS]: live items per bucket, the last holding every
 * larger item; a walk of the items in steps of CRAWL_STEP_ITEMS, each
 * shard lock released between steps (items written during the walk may
 * be counted twice or not at all). */
void crawl_sizes(uint32_t sizes[CRAWL_SIZE_BUCKETS]);

/* The background crawler: a thread that walks the store in steps and frees
 * expired and flushed items, so curr_items, bytes and the memory limit
 * count live items only (otherwise a dead item is freed when looked up or
 * when its segment is evicted or compacted). memcached's lru_crawler. */
struct crawl_config {
    bool     enabled;        /* -o no_lru_crawler: false */
    uint32_t sleep_us;       /* pause between steps (lru_crawler sleep) */
    uint32_t tocrawl;        /* items checked per pass and shard, 0: all */
    uint32_t interval_s;     /* seconds between passes on its own */
};
#define CRAWL_SLEEP_DEFAULT_US    100      /* memcached's lru_crawler_sleep */
#define CRAWL_SLEEP_MAX_US        1000000
#define CRAWL_INTERVAL_DEFAULT_S  5
#define CRAWL_STEP_ITEMS          512      /* items per shard lock (the
                                              crawler: then to the end of
                                              the segment it is in) */

/* Start (if enabled) or just configure; crawl_stop joins the thread. */
int crawl_start(const struct crawl_config *cfg);
void crawl_stop(void);
/* lru_crawler enable|disable: 0, or -1 if it already is so. */
int crawl_enable(void);
int crawl_disable(void);
bool crawl_enabled(void);
void crawl_set_sleep(uint32_t us);
void crawl_set_tocrawl(uint32_t n);
/* lru_crawler crawl: start a pass now. 0, -1 if one is running, -2 if
 * the crawler is disabled. */
int crawl_kick(void);
/* What `stats` shows of it. */
struct crawl_stats {
    uint64_t starts, items_checked, reclaimed;
    bool     running;
};
void crawl_stats_get(struct crawl_stats *out);

#endif
