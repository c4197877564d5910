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
#include "storage/store.h"


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
    uint32_t sleep_us;       /* pause per CRAWL_ITEMS_PER_SLEEP items checked
                                (lru_crawler sleep) */
    uint32_t tocrawl;        /* items checked per pass and shard, 0: all */
};
#define CRAWL_SLEEP_DEFAULT_US    100      /* memcached's lru_crawler_sleep */
#define CRAWL_SLEEP_MAX_US        1000000
#define CRAWL_ITEMS_PER_SLEEP     1000     /* memcached's crawls_persleep */
#define CRAWL_STEP_ITEMS          512      /* items per shard lock (the
                                              crawler: then to the end of
                                              the segment it is in) */

/* The schedule of passes on its own, memcached 1.6.45's autocrawl
 * (items.c, lru_maintainer_crawler_check), for the whole store where
 * memcached keeps one per LRU: the first pass at start-up; after each, a
 * wait that grows by a minute when few live items expire within the hour
 * (fewer than 1% of those that can expire, by the minute they expire in)
 * and shrinks by one when enough expire sooner than the wait, up to an
 * hour; the next pass CRAWL_RETRY_S after the wait, or sooner when a
 * segment the pass skipped unread (nothing in it had died) holds an item
 * that expires first: the items of such a segment are not counted by the
 * minute, as memcached counts every item. Checked once a second against
 * the server's clock (so memcached-debug's `debugtime` moves it). */
#define CRAWL_WAIT_STEP_S         60
#define CRAWL_WAIT_MAX_S          3600     /* memcached's MAX_MAINTCRAWL_WAIT */
#define CRAWL_RETRY_S             5

/* What a pass found and the schedule made of it, in the fields of
 * memcached's `watch sysevents` line (type=lru_crawler). */
struct crawl_report {
    uint64_t   low_mark;        /* reclaims a pass must expect: 1% + 1 */
    uint64_t   next_reclaims;   /* live items expiring within the wait's reach */
    uint64_t   examined, reclaimed;
    rel_time_t elapsed;         /* seconds the pass took */
    rel_time_t next_run;        /* seconds until the next pass */
};
/* Called by the crawler thread after each pass (no lock held); NULL: none. */
void crawl_set_report(void (*fn)(const struct crawl_report *r));

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
/* The next pass's wait, from what a pass found (pure; memcached's rule):
 * t's live items and their expiry minutes, the wait so far. */
rel_time_t crawl_next_wait(const struct store_reclaim_tally *t, rel_time_t wait,
                           uint64_t *low_mark, uint64_t *next_reclaims);
/* What `stats` and `stats settings` show of it (the counters since
 * start-up; `stats` shows class_count's, which `stats reset` clears). */
struct crawl_stats {
    uint64_t starts, items_checked, reclaimed;
    bool     running, enabled;
    uint32_t sleep_us, tocrawl;
};
void crawl_stats_get(struct crawl_stats *out);

#endif
