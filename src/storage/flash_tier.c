/*
 * flash_tier: the devices, the write side's lock and the stubs (see
 * flash_tier.h). Values go to the first device that has not failed; a
 * device that fails is left (its values become misses) and the next one
 * takes the writes; with none left the store keeps evicting as without a
 * tier. Pages are freed at once when every value in them is gone, emptied
 * by compaction when mostly dead (flash_compact.c), and recycled oldest
 * first when a device is full all the same. The runtime knobs live here,
 * read lock-free by the store, the compactor and the read path.
 */
#include "storage/flash_tier.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "storage/flash_dev.h"
#include "storage/flash_uring.h"

#define FLASH_IO_QUEUE_MIN 4096   /* reads queued for the I/O threads */

static struct {
    bool                  on;
    struct flash_conf     conf;
    struct flash_dev     *dev[FLASH_DEVICES_MAX];
    unsigned              ndev;
    _Atomic unsigned      cur;          /* the device taking writes (read
                                           unlocked by flash_tier_active) */
    struct flash_io_pool *io;
    struct flash_uring   *uring;        /* instead of io, when io_uring works */
    pthread_mutex_t       lock;         /* writers: puts, forgets, stats */
    uint64_t              flashed, flashed_bytes;
    _Atomic uint32_t      item_size, low_ttl;   /* tunable while running */
    _Atomic uint32_t      item_age, recache_rate, compact_under, drop_under, max_sleep;
    _Atomic bool          drop_unread;
    _Atomic uint64_t      max_frag_bits;        /* a double's bits */
} tier = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Between batch_begin and batch_end this thread holds tier.lock (an
 * eviction in a compaction forgets values too). */
static _Thread_local bool in_batch;

static void set_frag(double max_frag)
{
    uint64_t bits;

    memcpy(&bits, &max_frag, sizeof(bits));
    atomic_store(&tier.max_frag_bits, bits);
}

int flash_tier_setup(const struct flash_conf *c, char *err, size_t errlen)
{
    if (c->ndev == 0)
        return 0;
    tier.conf = *c;
    for (unsigned i = 0; i < c->ndev; i++) {
        for (unsigned j = 0; j < i; j++)
            if (flash_dev_is_path(tier.dev[j], c->dev[i].path)) {
                snprintf(err, errlen, "ext_path %s and %s are the same file",
                         c->dev[j].path, c->dev[i].path);
                tier.ndev = i;
                flash_tier_teardown();
                return -1;
            }
        tier.dev[i] = flash_dev_open(c->dev[i].path, c->dev[i].size, c->page_size,
                                     err, errlen);
        if (tier.dev[i] == NULL || flash_dev_tune(tier.dev[i], c->wbuf_size, true) < 0) {
            if (tier.dev[i] != NULL)
                snprintf(err, errlen, "%s: out of memory for the write buffer",
                         c->dev[i].path);
            tier.ndev = i + 1;
            flash_tier_teardown();
            return -1;
        }
    }
    tier.ndev = c->ndev;
    atomic_store(&tier.item_size, c->item_size);
    atomic_store(&tier.low_ttl, c->low_ttl);
    atomic_store(&tier.item_age, c->item_age);
    atomic_store(&tier.recache_rate, c->recache_rate);
    atomic_store(&tier.max_sleep, c->max_sleep);
    atomic_store(&tier.drop_unread, c->drop_unread);
    set_frag(c->max_frag);
    if (c->compact_under == 0) {   /* memcached's storage_init */
        uint32_t pct = flash_dev_npages(tier.dev[0]) / 100;
        atomic_store(&tier.compact_under, pct > 0 ? pct : 1);
        atomic_store(&tier.drop_under, pct > 0 ? pct : 1);
    } else {
        atomic_store(&tier.compact_under, c->compact_under);
        atomic_store(&tier.drop_under, c->drop_under);
    }
    tier.on = true;
    return 0;
}

int flash_tier_prepare_io(unsigned rings, char *err, size_t errlen)
{
    char why[FLASH_ERR_MAX];

    if (!tier.on || tier.conf.io_backend == FLASH_IO_POOL || tier.uring != NULL)
        return 0;
    /* ext_io_depth: reads each ring has in the kernel at once; ext_threads:
     * the kernel's workers per ring for the reads that must wait for the
     * device (the pool's meanings, carried over) */
    tier.uring = flash_uring_setup(rings, tier.conf.io_depth, FLASH_IO_QUEUE_MIN / rings + 1,
                                   tier.conf.threads, why, sizeof(why));
    if (tier.uring != NULL)
        return 0;
    if (tier.conf.io_backend == FLASH_IO_URING) {
        snprintf(err, errlen, "ext_io_backend=uring: %s", why);
        return -1;
    }
    log_warn("hardcached: flash reads: %s; using %u pread threads instead",
             why, tier.conf.threads);
    return 0;
}

bool flash_tier_uses_uring(void)
{
    return tier.uring != NULL;
}

const char *flash_tier_io_backend(const struct flash_conf *c)
{
    if (tier.on)
        return tier.uring != NULL ? "uring" : "pool";
    return c->io_backend == FLASH_IO_POOL ? "pool" :
           c->io_backend == FLASH_IO_URING ? "uring" : "auto";
}

void flash_tier_reap(void)
{
    if (tier.uring != NULL)
        flash_uring_reap(tier.uring);
}

int flash_tier_start_io(char *err, size_t errlen)
{
    if (!tier.on || tier.io != NULL || tier.uring != NULL)
        return 0;
    /* ext_io_depth is how many reads a thread has in flight (memcached's
     * default is 1, and a pread is one at a time anyway); the queue in
     * front of them holds one read per waiting connection, at least
     * FLASH_IO_QUEUE_MIN, so a burst of connections is not turned away. */
    unsigned depth = tier.conf.io_depth * tier.conf.threads < FLASH_IO_QUEUE_MIN ?
                     FLASH_IO_QUEUE_MIN / tier.conf.threads : tier.conf.io_depth;
    tier.io = flash_io_start(tier.conf.threads, depth, err, errlen);
    return tier.io != NULL ? 0 : -1;
}

void flash_tier_teardown(void)
{
    tier.on = false;
    flash_io_stop(&tier.io);
    flash_uring_teardown(&tier.uring);
    for (unsigned i = 0; i < tier.ndev; i++)
        flash_dev_close(&tier.dev[i]);
    tier.ndev = 0;
}

struct flash_dev *flash_tier_device(unsigned i)
{
    return i < tier.ndev ? tier.dev[i] : NULL;
}

unsigned flash_tier_files(int fds[FLASH_DEVICES_MAX])
{
    for (unsigned i = 0; i < tier.ndev; i++)
        fds[i] = flash_dev_fd(tier.dev[i]);
    return tier.ndev;
}

bool flash_tier_active(void)
{
    return tier.on && atomic_load_explicit(&tier.cur, memory_order_relaxed) < tier.ndev;
}

bool flash_tier_tune(const char *knob, uint32_t value)
{
    static const struct { const char *name; _Atomic uint32_t *v; } knobs[] = {
        { "item_size", &tier.item_size }, { "low_ttl", &tier.low_ttl },
        { "item_age", &tier.item_age },
        { "recache_rate", &tier.recache_rate }, { "compact_under", &tier.compact_under },
        { "drop_under", &tier.drop_under }, { "max_sleep", &tier.max_sleep },
    };

    if (!tier.on)
        return false;
    if (strcmp(knob, "drop_unread") == 0) {
        atomic_store(&tier.drop_unread, value != 0);
        return true;
    }
    for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
        if (strcmp(knob, knobs[i].name) == 0) {
            atomic_store_explicit(knobs[i].v, value, memory_order_relaxed);
            return true;
        }
    return false;
}

bool flash_tier_tune_frag(double max_frag)
{
    if (tier.on)
        set_frag(max_frag);
    return tier.on;
}

uint32_t flash_tier_item_age(void)
{
    return atomic_load_explicit(&tier.item_age, memory_order_relaxed);
}

uint32_t flash_tier_recache_rate(void)
{
    return atomic_load_explicit(&tier.recache_rate, memory_order_relaxed);
}

uint32_t flash_tier_max_sleep(void)
{
    return atomic_load_explicit(&tier.max_sleep, memory_order_relaxed);
}

uint32_t flash_tier_wbuf_size(void)
{
    return tier.conf.wbuf_size < tier.conf.page_size ? tier.conf.wbuf_size
                                                     : tier.conf.page_size;
}

void flash_tier_policy(struct flash_compact_policy *pol)
{
    uint64_t bits = atomic_load(&tier.max_frag_bits);

    memcpy(&pol->max_frag, &bits, sizeof(bits));
    pol->compact_under = atomic_load(&tier.compact_under);
    pol->drop_under = atomic_load(&tier.drop_under);
    pol->drop_unread = atomic_load(&tier.drop_unread);
}

uint32_t flash_tier_item_size(void)
{
    return atomic_load_explicit(&tier.item_size, memory_order_relaxed);
}

uint32_t flash_tier_low_ttl(void)
{
    return atomic_load_explicit(&tier.low_ttl, memory_order_relaxed);
}

bool flash_tier_wants(uint32_t nvalue, rel_time_t exptime, rel_time_t now)
{
    if (!flash_tier_active() || nvalue < flash_tier_item_size())
        return false;
    return exptime == 0 || (exptime > now && exptime - now >= flash_tier_low_ttl());
}

void flash_tier_batch_begin(void)
{
    pthread_mutex_lock(&tier.lock);
    in_batch = true;
}

void flash_tier_batch_end(void)
{
    unsigned cur = atomic_load(&tier.cur);

    if (cur < tier.ndev)
        flash_dev_flush(tier.dev[cur]);   /* a failure: its stubs miss */
    in_batch = false;
    pthread_mutex_unlock(&tier.lock);
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void stub_put(unsigned char *stub, unsigned dev, const struct flash_loc *loc)
{
    stub[0] = (unsigned char)dev;
    put_u32(stub + 1, loc->page);
    put_u32(stub + 5, loc->offset);
    put_u32(stub + 9, loc->version);
    put_u32(stub + 13, loc->len);
}

static unsigned stub_get(const unsigned char *stub, struct flash_loc *loc)
{
    loc->page = get_u32(stub + 1);
    loc->offset = get_u32(stub + 5);
    loc->version = get_u32(stub + 9);
    loc->len = get_u32(stub + 13);
    return stub[0];
}

unsigned flash_stub_loc(const unsigned char *stub, struct flash_loc *loc)
{
    return stub_get(stub, loc);
}

struct flash_dev *flash_tier_writer(unsigned *dev, uint32_t *page_size,
                                    struct flash_compact_policy *pol)
{
    unsigned cur = atomic_load(&tier.cur);

    if (!tier.on || cur >= tier.ndev)
        return NULL;
    *dev = cur;
    *page_size = tier.conf.page_size;
    flash_tier_policy(pol);
    return tier.dev[cur];
}

void flash_tier_stub(unsigned dev, const struct flash_loc *loc,
                     unsigned char stub[FLASH_STUB_SIZE])
{
    stub_put(stub, dev, loc);
}

void flash_tier_pages(void (*fn)(uint64_t id, const struct flash_page_info *p, void *arg),
                      void *arg)
{
    uint64_t id = 0;

    for (unsigned i = 0; tier.on && i < tier.ndev; i++) {
        uint32_t n = flash_dev_npages(tier.dev[i]);
        struct flash_page_info *pg = calloc(n, sizeof(*pg));
        if (pg == NULL)
            return;
        pthread_mutex_lock(&tier.lock);
        flash_dev_page_info(tier.dev[i], pg);
        pthread_mutex_unlock(&tier.lock);
        for (uint32_t k = 0; k < n; k++)
            fn(id++, &pg[k], arg);
        free(pg);
    }
}

uint32_t flash_stub_len(const unsigned char *stub)
{
    return get_u32(stub + 13);
}

bool flash_stub_same(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, FLASH_STUB_SIZE) == 0;
}

/* Append a value; `fresh`: a value flashed, not one compaction moves
 * (the base of write amplification). */
static bool tier_put(uint64_t key_hash, const void *value, uint32_t len,
                     unsigned char stub[FLASH_STUB_SIZE], bool fresh)
{
    struct flash_loc loc;

    for (unsigned cur; (cur = atomic_load(&tier.cur)) < tier.ndev;) {
        struct flash_dev *d = tier.dev[cur];
        enum flash_io r = flash_dev_append(d, key_hash, value, len, &loc);
        if (r == FLASH_OK) {
            stub_put(stub, cur, &loc);
            tier.flashed += fresh;
            tier.flashed_bytes += fresh ? len : 0;
            return true;
        }
        if (r == FLASH_FULL)   /* a value larger than a page */
            return false;
        atomic_store(&tier.cur, cur + 1);   /* failed (logged): the next device */
    }
    return false;
}

bool flash_tier_put(uint64_t key_hash, const void *value, uint32_t len,
                    unsigned char stub[FLASH_STUB_SIZE])
{
    return tier_put(key_hash, value, len, stub, true);
}

bool flash_tier_rewrite(uint64_t key_hash, const void *value, uint32_t len,
                        unsigned char stub[FLASH_STUB_SIZE])
{
    return tier_put(key_hash, value, len, stub, false);
}

void flash_tier_forget(const unsigned char *stub)
{
    struct flash_loc loc;
    unsigned dev = stub_get(stub, &loc);

    if (dev >= tier.ndev)
        return;
    if (!in_batch)
        pthread_mutex_lock(&tier.lock);
    flash_dev_forget(tier.dev[dev], &loc);
    if (!in_batch)
        pthread_mutex_unlock(&tier.lock);
}

size_t flash_tier_read_size(const unsigned char *stub)
{
    struct flash_loc loc;

    stub_get(stub, &loc);
    return flash_dev_read_size(&loc);
}

bool flash_tier_read(const unsigned char *stub, uint64_t key_hash, struct flash_io_req *req)
{
    unsigned dev = stub_get(stub, &req->loc);

    if (!tier.on || (tier.io == NULL && tier.uring == NULL) || dev >= tier.ndev)
        return false;
    req->dev = tier.dev[dev];
    req->key_hash = key_hash;
    return tier.uring != NULL ? flash_uring_submit(tier.uring, req)
                              : flash_io_submit(tier.io, req);
}

void flash_tier_stats(struct flash_tier_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!tier.on)
        return;
    pthread_mutex_lock(&tier.lock);
    for (unsigned i = 0; i < tier.ndev; i++) {
        struct flash_dev_stats d;
        flash_dev_stats(tier.dev[i], &d);
        st->page_allocs += d.page_allocs;
        st->page_evictions += d.page_evictions;
        st->page_reclaims += d.page_reclaims;
        st->pages_free += d.pages_total - d.pages_used;
        st->pages_used += d.pages_used;
        st->objects_evicted += d.objects_evicted;
        st->objects_read += d.objects_read;
        st->objects_written += d.objects_written;
        st->objects_used += d.objects_used;
        st->bytes_evicted += d.bytes_evicted;
        st->bytes_written += d.bytes_written;
        st->bytes_read += d.bytes_read;
        st->bytes_used += d.bytes_used;
        st->bytes_fragmented += d.pages_used * tier.conf.page_size - d.bytes_used;
        st->limit_maxbytes += d.pages_total * tier.conf.page_size;
        st->bad_reads += d.bad_reads;
        st->io_errors += d.io_errors;
        st->failed_devices += d.failed;
    }
    st->values_flashed = tier.flashed;
    st->value_bytes_flashed = tier.flashed_bytes;
    pthread_mutex_unlock(&tier.lock);
    st->io_queue = tier.io ? flash_io_queued(tier.io) :
                   tier.uring ? flash_uring_queued(tier.uring) : 0;
}
