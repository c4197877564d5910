/*
 * flash_compact: the compaction thread and its page choice (see
 * flash_compact.h). A page is read in chunks of ext_wbuf_size; each valid
 * record's key hash finds the item that names exactly that record (its
 * stub: device, page, offset, version) under its shard's lock. Values
 * still wanted are appended to the open page in groups, the group written
 * out (flash_tier_batch_end), and only then each item's stub is moved, if
 * it still names the old record: a reader that took the old stub before
 * the move reads the old record, intact until the page is reused and
 * then refused by its version, never another value. No flash I/O runs
 * under a shard lock, and the tier's lock is never held while taking one.
 */
#include "storage/flash_compact.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "storage/flash_tier.h"
#include "storage/store.h"

#define COMPACT_GROUP_MAX 64u               /* values appended per write-out */
#define COMPACT_CHUNK_MIN (64u << 10)       /* smallest read of a page */
#define COMPACT_PAUSE_US  1000u             /* between two pages (memcached's) */
#define COMPACT_WAIT_MIN_US 1000u           /* shortest ext_max_sleep honoured */

bool flash_compact_choose(const struct flash_page_info *pages, uint32_t n,
                          uint32_t page_size, const struct flash_compact_policy *pol,
                          uint32_t *page, bool *drop)
{
    double frac = pol->max_frag > 0 ? pol->max_frag < 1 ? pol->max_frag : 1 : 0;
    uint64_t frag_limit = (uint64_t)((double)page_size * frac);   /* tunable: clamped */
    uint32_t free = 0, frag_best = 0, frag_page = UINT32_MAX, old_page = UINT32_MAX;

    for (uint32_t i = 0; i < n; i++) {
        const struct flash_page_info *p = &pages[i];
        if (p->seq == 0) {
            free++;
            continue;
        }
        if (p->open)
            continue;
        if (old_page == UINT32_MAX || p->seq < pages[old_page].seq)
            old_page = i;
        uint32_t frag = page_size - (p->live_bytes < page_size ? p->live_bytes : page_size);
        if (p->live_bytes < frag_limit && frag > frag_best) {
            frag_best = frag;
            frag_page = i;
        }
    }
    if (free >= pol->compact_under)
        return false;
    *drop = false;
    if (frag_page != UINT32_MAX) {
        *page = frag_page;
        return true;
    }
    if (free < pol->drop_under && pol->drop_unread && old_page != UINT32_MAX) {
        *page = old_page;
        *drop = true;
        return true;
    }
    return false;
}

/* One value to move: where it was, its bytes in the read buffer. */
struct compact_move {
    uint64_t       hv;
    const void    *value;
    uint32_t       len;
    unsigned char  from[FLASH_STUB_SIZE], to[FLASH_STUB_SIZE];
};

/* The page being compacted and the window of it read so far. */
struct compact_page {
    struct flash_dev   *d;
    unsigned            dev;
    uint32_t            page, version, used;
    bool                drop;
    uint32_t            at, len;            /* the window: page bytes at.. */
    struct compact_move mv[COMPACT_GROUP_MAX];
    unsigned            nmv;
};

static struct {
    pthread_t        tid;
    bool             running;
    _Atomic bool     stop;       /* also read mid-page, without the lock */
    pthread_mutex_t  lock;
    pthread_cond_t   cond;
    unsigned char   *buf;        /* the read window */
    size_t           cap;
    struct flash_page_info *pages;
    uint32_t         npages;
    _Atomic uint64_t lost, rescues, skipped;
} cx = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Append the group's values, write them out, then move each item that
 * still names its old record; a value no item wants any more is
 * forgotten at its new place. */
static void group_flush(struct compact_page *cp)
{
    bool put[COMPACT_GROUP_MAX];

    if (cp->nmv == 0)
        return;
    flash_tier_batch_begin();
    for (unsigned i = 0; i < cp->nmv; i++)
        put[i] = flash_tier_rewrite(cp->mv[i].hv, cp->mv[i].value, cp->mv[i].len, cp->mv[i].to);
    flash_tier_batch_end();   /* on the device before any stub names it */
    for (unsigned i = 0; i < cp->nmv; i++) {
        struct compact_move *m = &cp->mv[i];
        if (!put[i])
            atomic_fetch_add(&cx.lost, 1);
        else if (store_flash_restub(m->hv, m->from, m->to))
            atomic_fetch_add(&cx.rescues, 1);
        else
            flash_tier_forget(m->to);
    }
    cp->nmv = 0;
}

/* len bytes of the page at off, read when the window lacks them (the
 * group first goes out: its values point into the window). NULL: the
 * device failed. */
static const unsigned char *page_window(struct compact_page *cp, uint32_t off, size_t len)
{
    size_t n;

    if (off >= cp->at && off - cp->at <= cp->len && len <= cp->len - (off - cp->at))
        return cx.buf + (off - cp->at);
    group_flush(cp);
    if (len > cx.cap) {
        unsigned char *b = realloc(cx.buf, len);
        if (b == NULL)
            return NULL;
        cx.buf = b;
        cx.cap = len;
    }
    n = cp->used - off < cx.cap ? cp->used - off : cx.cap;
    if (n < len || flash_dev_read_raw(cp->d, cp->page, off, cx.buf, n) != FLASH_OK)
        return NULL;
    cp->at = off;
    cp->len = (uint32_t)n;
    return cx.buf;
}

/* Walk the page's records; a torn or foreign one ends the walk (what
 * follows cannot be framed, and its items miss once the page is reused). */
static void compact_page(struct compact_page *cp)
{
    uint32_t off = 0;

    while (cp->used - off >= sizeof(struct flash_rec)) {
        if (atomic_load_explicit(&cx.stop, memory_order_relaxed)) {
            group_flush(cp);   /* the rest stays where it is, page and all */
            return;
        }
        const unsigned char *p = page_window(cp, off, sizeof(struct flash_rec));
        struct flash_rec r;
        if (p == NULL)
            break;
        memcpy(&r, p, sizeof(r));
        size_t need = flash_rec_size(r.len);
        if (r.version != cp->version || need > cp->used - off ||
            (p = page_window(cp, off, need)) == NULL ||
            !flash_rec_valid(&r, p + sizeof(r)))
            break;
        struct flash_loc loc = { .page = cp->page, .offset = off, .version = cp->version,
                                 .len = r.len };
        struct compact_move *m = &cp->mv[cp->nmv];
        flash_tier_stub(cp->dev, &loc, m->from);
        switch (store_flash_held(r.key_hash, m->from, cp->drop)) {
        case STORE_FLASH_HELD:
            m->hv = r.key_hash;
            m->value = p + sizeof(r);
            m->len = r.len;
            if (++cp->nmv == COMPACT_GROUP_MAX)
                group_flush(cp);
            break;
        case STORE_FLASH_DROPPED:
            atomic_fetch_add(&cx.skipped, 1);
            break;
        case STORE_FLASH_GONE:
            break;
        }
        off += (uint32_t)need;
    }
    group_flush(cp);
    flash_tier_batch_begin();
    flash_dev_close_page(cp->d, cp->page, cp->version);
    flash_tier_batch_end();
}

/* Pick a page of the device taking writes and compact it: true if one
 * was. */
static bool compact_once(void)
{
    struct compact_page *cp;
    struct flash_compact_policy pol;
    uint32_t page_size = 0, page, n = 0;
    unsigned dev = 0;
    bool found = false, drop = false;

    flash_tier_batch_begin();
    struct flash_dev *d = flash_tier_writer(&dev, &page_size, &pol);
    if (d != NULL && (n = flash_dev_npages(d)) > cx.npages) {
        free(cx.pages);
        cx.pages = calloc(n, sizeof(*cx.pages));
        cx.npages = cx.pages != NULL ? n : 0;
    }
    if (d != NULL && n <= cx.npages) {
        flash_dev_page_info(d, cx.pages);
        found = flash_compact_choose(cx.pages, n, page_size, &pol, &page, &drop);
    }
    flash_tier_batch_end();
    if (!found || (cp = calloc(1, sizeof(*cp))) == NULL)
        return false;
    *cp = (struct compact_page){ .d = d, .dev = dev, .page = page, .drop = drop,
                                 .version = cx.pages[page].version,
                                 .used = cx.pages[page].used };
    if (cx.buf == NULL) {
        size_t want = flash_tier_wbuf_size() > COMPACT_CHUNK_MIN ? flash_tier_wbuf_size()
                                                                 : COMPACT_CHUNK_MIN;
        cx.buf = malloc(want);
        cx.cap = cx.buf != NULL ? want : 0;
    }
    compact_page(cp);
    free(cp);
    return true;
}

static void wait_us(uint64_t us)
{
    struct timespec t;

    clock_mono_deadline(&t, us);
    pthread_cond_timedwait(&cx.cond, &cx.lock, &t);
}

static void *compact_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&cx.lock);
    while (!cx.stop) {
        pthread_mutex_unlock(&cx.lock);
        bool did = compact_once();
        uint32_t sleep = flash_tier_max_sleep();
        pthread_mutex_lock(&cx.lock);
        if (!cx.stop)   /* looks again every ext_max_sleep when idle */
            wait_us(did ? COMPACT_PAUSE_US
                        : sleep > COMPACT_WAIT_MIN_US ? sleep : COMPACT_WAIT_MIN_US);
    }
    pthread_mutex_unlock(&cx.lock);
    return NULL;
}

int flash_compact_start(void)
{
    pthread_condattr_t ca;

    if (!flash_tier_active() || cx.running)
        return 0;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cx.cond, &ca);
    pthread_condattr_destroy(&ca);
    cx.stop = false;
    if (pthread_create(&cx.tid, NULL, compact_main, NULL) != 0) {
        pthread_cond_destroy(&cx.cond);
        return -1;
    }
    cx.running = true;
    return 0;
}

void flash_compact_stop(void)
{
    if (!cx.running)
        return;
    pthread_mutex_lock(&cx.lock);
    cx.stop = true;
    pthread_cond_signal(&cx.cond);
    pthread_mutex_unlock(&cx.lock);
    pthread_join(cx.tid, NULL);
    pthread_cond_destroy(&cx.cond);
    cx.running = false;
    free(cx.buf);
    free(cx.pages);
    cx.buf = NULL;
    cx.pages = NULL;
    cx.cap = 0;
    cx.npages = 0;
}

void flash_compact_stats(struct flash_compact_stats *st)
{
    *st = (struct flash_compact_stats){
        .lost = atomic_load(&cx.lost), .rescues = atomic_load(&cx.rescues),
        .skipped = atomic_load(&cx.skipped),
    };
}
