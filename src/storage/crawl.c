/*
 * crawl: the per-class view (see crawl.h), read from the store's
 * per-class counters rather than its items, except `stats sizes`, which
 * walks in bounded steps; and the crawler thread.
 */
#include "storage/crawl.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "storage/class_count.h"
#include "storage/store.h"

void crawl_classes(struct crawl_class classes[SIZE_CLASS_MAX], bool age)
{
    struct store_class sc[SIZE_CLASS_MAX];

    store_classes_get(sc, age);
    memset(classes, 0, sizeof(classes[0]) * SIZE_CLASS_MAX);
    for (unsigned i = 1; i < SIZE_CLASS_MAX; i++) {
        classes[i].number = sc[i].number;
        classes[i].mem_requested = sc[i].bytes;
        classes[i].oldest_atime = sc[i].oldest;
        class_count_get(i, &classes[i].drops);
    }
}

static void visit_size(const struct store_item *it, void *arg)
{
    uint32_t *sizes = arg;
    /* memcached buckets by its own item size, rounded up to 32 */
    size_t b = (size_class_item_total(it->nkey, it->nvalue, it->flags != 0) +
                CRAWL_SIZE_BUCKET - 1) / CRAWL_SIZE_BUCKET;

    sizes[b < CRAWL_SIZE_BUCKETS ? b : CRAWL_SIZE_BUCKETS - 1]++;
}

void crawl_sizes(uint32_t sizes[CRAWL_SIZE_BUCKETS])
{
    struct store_cursor cur = { 0 };

    memset(sizes, 0, sizeof(sizes[0]) * CRAWL_SIZE_BUCKETS);
    while (store_walk_step(&cur, CRAWL_STEP_ITEMS, visit_size, sizes))
        ;
}

/* ---- the crawler thread ----
 *
 * One thread, waking once a second to compare the server's clock with its
 * schedule (crawl.h), or at once when kicked (lru_crawler crawl); a pass
 * walks every shard in steps of CRAWL_STEP_ITEMS items under one shard
 * lock, pausing sleep_us per CRAWL_ITEMS_PER_SLEEP items between steps, so
 * the workers wait at most one step for a shard. The pauses are waits on
 * the condition variable, so crawl_stop never waits one out. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t  wake;
    pthread_t       thread;
    bool            alive, stop, kicked, busy;
    bool            later;            /* enabled at run time: first pass in
                                         CRAWL_RETRY_S, not at once */
    rel_time_t      wait, next_run;   /* the schedule, thread's own */
    _Atomic uint32_t sleep_us, tocrawl;
    _Atomic uint64_t starts, checked, reclaimed;
    void (*_Atomic report)(const struct crawl_report *r);
} cr = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Serialises enable/disable/stop (several workers may send them). */
static pthread_mutex_t cr_ctl = PTHREAD_MUTEX_INITIALIZER;

/* Wait up to us microseconds or until stopped (or kicked, if kick);
 * cr.lock held. */
static void wait_for(uint64_t us, bool kick)
{
    struct timespec ts;

    clock_mono_deadline(&ts, us);
    while (!cr.stop && !(kick && cr.kicked))
        if (pthread_cond_timedwait(&cr.wake, &cr.lock, &ts) == ETIMEDOUT)
            break;
}

rel_time_t crawl_next_wait(const struct store_reclaim_tally *t, rel_time_t wait,
                           uint64_t *low_mark, uint64_t *next_reclaims)
{
    uint64_t possible = t->live - t->noexp, avail = 0;

    *low_mark = possible / 100 + 1;
    for (unsigned x = 0; x < STORE_TTL_MINUTES; x++) {
        avail += t->ttl_minute[x];
        if (avail > *low_mark) {
            if (wait < x * CRAWL_WAIT_STEP_S)
                wait += CRAWL_WAIT_STEP_S;
            else if (wait >= CRAWL_WAIT_STEP_S)
                wait -= CRAWL_WAIT_STEP_S;
            break;
        }
    }
    if (avail == 0)
        wait += CRAWL_WAIT_STEP_S;
    *next_reclaims = avail;
    return wait > CRAWL_WAIT_MAX_S ? CRAWL_WAIT_MAX_S : wait;
}

static void crawl_pass(struct store_reclaim_tally *t)
{
    struct store_cursor cur = { 0 };
    uint32_t shard = 0;
    uint64_t in_shard = 0;
    bool more = true;

    while (more) {
        uint64_t before = t->checked, reclaimed = t->reclaimed, checked;
        uint32_t tocrawl = atomic_load(&cr.tocrawl);
        more = store_reclaim_step(&cur, CRAWL_STEP_ITEMS, t);
        checked = t->checked - before;
        atomic_fetch_add(&cr.checked, checked);
        atomic_fetch_add(&cr.reclaimed, t->reclaimed - reclaimed);
        in_shard = cur.shard == shard ? in_shard + checked : 0;
        shard = cur.shard;
        if (more && tocrawl != 0 && in_shard >= tocrawl)
            cur = (struct store_cursor){ .shard = cur.shard + 1 };   /* enough here */
        pthread_mutex_lock(&cr.lock);
        wait_for((uint64_t)atomic_load(&cr.sleep_us) * checked / CRAWL_ITEMS_PER_SLEEP, false);
        more = more && !cr.stop;
        pthread_mutex_unlock(&cr.lock);
    }
}

/* After a pass on its own: the schedule, and the report (memcached's
 * lru_crawler crawl neither moves its schedule nor reports); cr.lock
 * held. */
static void do_schedule(const struct store_reclaim_tally *t, rel_time_t started)
{
    struct crawl_report r = { .examined = t->checked, .reclaimed = t->reclaimed };
    rel_time_t now = clock_now();
    void (*report)(const struct crawl_report *) = atomic_load(&cr.report);

    rel_time_t next;

    cr.wait = crawl_next_wait(t, cr.wait, &r.low_mark, &r.next_reclaims);
    next = cr.wait + CRAWL_RETRY_S;
    if (t->next_exp != 0)   /* a skipped segment's first death comes sooner */
        next = t->next_exp <= now + CRAWL_RETRY_S ? CRAWL_RETRY_S
             : t->next_exp - now < next ? t->next_exp - now : next;
    cr.next_run = now + next;
    r.elapsed = now - started;
    r.next_run = next;
    if (report != NULL) {
        pthread_mutex_unlock(&cr.lock);
        report(&r);
        pthread_mutex_lock(&cr.lock);
    }
}

static void *crawl_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&cr.lock);
    /* memcached crawls at start-up; enabled later, after its minimum
     * retry wait (so an lru_crawler crawl sent right after is served) */
    cr.next_run = clock_now() + (cr.later ? CRAWL_RETRY_S : 0);
    while (!cr.stop) {
        if (!cr.kicked && clock_now() < cr.next_run)
            wait_for(1000000, true);
        if (cr.stop)
            break;
        if (!cr.kicked && clock_now() < cr.next_run)
            continue;
        struct store_reclaim_tally t = { 0 };
        rel_time_t started = clock_now();
        bool asked = cr.kicked;   /* lru_crawler crawl: off the schedule */
        cr.kicked = false;
        cr.busy = true;
        atomic_fetch_add(&cr.starts, 1);
        pthread_mutex_unlock(&cr.lock);
        crawl_pass(&t);
        pthread_mutex_lock(&cr.lock);
        cr.busy = false;
        if (!asked)
            do_schedule(&t, started);
    }
    pthread_mutex_unlock(&cr.lock);
    return NULL;
}

void crawl_set_report(void (*fn)(const struct crawl_report *r))
{
    atomic_store(&cr.report, fn);
}

static int do_enable(bool later)
{
    pthread_condattr_t ca;

    if (cr.alive)
        return -1;
    cr.stop = cr.kicked = cr.busy = false;
    cr.later = later;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cr.wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&cr.thread, NULL, crawl_main, NULL) != 0) {
        pthread_cond_destroy(&cr.wake);
        return -1;
    }
    cr.alive = true;
    return 0;
}

static int do_disable(void)
{
    if (!cr.alive)
        return -1;
    pthread_mutex_lock(&cr.lock);
    cr.stop = true;
    pthread_cond_signal(&cr.wake);
    pthread_mutex_unlock(&cr.lock);
    pthread_join(cr.thread, NULL);
    pthread_cond_destroy(&cr.wake);
    cr.alive = false;
    return 0;
}

int crawl_start(const struct crawl_config *c)
{
    int rc = 0;

    atomic_store(&cr.sleep_us, c->sleep_us);
    atomic_store(&cr.tocrawl, c->tocrawl);
    pthread_mutex_lock(&cr_ctl);
    if (c->enabled)
        rc = do_enable(false);
    pthread_mutex_unlock(&cr_ctl);
    return rc;
}

void crawl_stop(void)
{
    pthread_mutex_lock(&cr_ctl);
    do_disable();
    pthread_mutex_unlock(&cr_ctl);
}

int crawl_enable(void)
{
    pthread_mutex_lock(&cr_ctl);
    int rc = do_enable(true);
    pthread_mutex_unlock(&cr_ctl);
    return rc;
}

int crawl_disable(void)
{
    pthread_mutex_lock(&cr_ctl);
    int rc = do_disable();
    pthread_mutex_unlock(&cr_ctl);
    return rc;
}

bool crawl_enabled(void)
{
    pthread_mutex_lock(&cr_ctl);
    bool on = cr.alive;
    pthread_mutex_unlock(&cr_ctl);
    return on;
}

void crawl_set_sleep(uint32_t us)
{
    atomic_store(&cr.sleep_us, us);
}

void crawl_set_tocrawl(uint32_t n)
{
    atomic_store(&cr.tocrawl, n);
}

int crawl_kick(void)
{
    int rc = 0;

    pthread_mutex_lock(&cr_ctl);   /* the thread and its wake-up exist */
    pthread_mutex_lock(&cr.lock);
    if (!cr.alive) {
        rc = -2;
    } else if (cr.busy || cr.kicked) {
        rc = -1;
    } else {
        cr.kicked = true;
        pthread_cond_signal(&cr.wake);
    }
    pthread_mutex_unlock(&cr.lock);
    pthread_mutex_unlock(&cr_ctl);
    return rc;
}

void crawl_stats_get(struct crawl_stats *out)
{
    out->starts = atomic_load(&cr.starts);
    out->items_checked = atomic_load(&cr.checked);
    out->reclaimed = atomic_load(&cr.reclaimed);
    out->sleep_us = atomic_load(&cr.sleep_us);
    out->tocrawl = atomic_load(&cr.tocrawl);
    out->enabled = crawl_enabled();
    pthread_mutex_lock(&cr.lock);
    out->running = cr.busy;
    pthread_mutex_unlock(&cr.lock);
}
