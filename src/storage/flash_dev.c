/*
 * flash_dev: pages of one flash file, checksummed records, and the
 * degrade-on-error rule (see flash_dev.h). Plain pread/pwrite: the caller
 * decides which thread does the I/O.
 */
#include "storage/flash_dev.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/log.h"
#include "storage/persist.h"

#define PAGE_FREE  0
#define PAGE_OPEN  1
#define PAGE_FULL  2
#define LABEL_MAGIC "hcflash1"

/* The label, at the start of the FLASH_LABEL_SIZE bytes after the pages:
 * which file this is (flash_dev_id), for a restart to tell it from
 * another (flash_recover.c). The sum (XXH3) covers the fields before it. */
struct flash_label {
    char     magic[8];
    uint64_t id;
    uint64_t npages;
    uint32_t page_size;
    uint32_t pad;
    uint64_t sum;
};

struct flash_page {
    _Atomic uint32_t version;   /* read by I/O threads; bumped on reuse */
    uint32_t state;
    uint32_t used;              /* bytes appended */
    uint32_t live;              /* values appended and not forgotten */
    uint32_t live_bytes;        /* their records' bytes (compaction's measure) */
    uint64_t seq;               /* allocation order: the oldest is recycled */
};

struct flash_dev {
    int      fd;
    uint32_t page_size;
    uint32_t npages;
    uint32_t open_page;         /* UINT32_MAX: none */
    uint64_t alloc_seq;         /* the last page version given (the order) */
    uint64_t id, found_id;      /* the label written at open; the one found */
    bool     recycle;
    unsigned char *wbuf;        /* flash_dev_tune: appends not yet written */
    uint32_t wbuf_cap, wbuf_len;
    off_t    wbuf_at;           /* file offset of wbuf[0] */
    _Atomic bool failed;
    char     path[256];         /* for the log line */
    struct flash_dev_stats st;  /* counters: writer's, except the reads' */
    _Atomic uint64_t objects_read, bytes_read, bad_reads, io_errors;
    struct flash_page page[];
};

static uint64_t label_sum(const struct flash_label *l)
{
    return XXH3_64bits(l, offsetof(struct flash_label, sum));
}

bool flash_dev_is_path(const struct flash_dev *d, const char *path)
{
    struct stat a, b;

    return stat(path, &b) == 0 && fstat(d->fd, &a) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Read the label a file of exactly this size holds (found_id, else 0),
 * size the file, and write a label with a new random id: every open
 * names the file anew, so a run that wrote to it without the restart
 * file (no -e, another -e file) leaves an id that file does not know. */
static int label_swap(struct flash_dev *d)
{
    off_t at = (off_t)d->npages * d->page_size;
    struct flash_label l;
    struct stat st;

    if (fstat(d->fd, &st) < 0)
        return -1;
    if (st.st_size == at + (off_t)FLASH_LABEL_SIZE &&
        pread(d->fd, &l, sizeof(l), at) == (ssize_t)sizeof(l) &&
        memcmp(l.magic, LABEL_MAGIC, 8) == 0 && l.sum == label_sum(&l) &&
        l.npages == d->npages && l.page_size == d->page_size)
        d->found_id = l.id;
    do {
        if (getrandom(&d->id, sizeof(d->id), 0) != (ssize_t)sizeof(d->id))
            return -1;
    } while (d->id == 0 || d->id == d->found_id);
    memset(&l, 0, sizeof(l));
    memcpy(l.magic, LABEL_MAGIC, 8);
    l.id = d->id;
    l.npages = d->npages;
    l.page_size = d->page_size;
    l.sum = label_sum(&l);
    if (ftruncate(d->fd, at + (off_t)FLASH_LABEL_SIZE) < 0 ||
        pwrite(d->fd, &l, sizeof(l), at) != (ssize_t)sizeof(l))
        return -1;
    return 0;
}

struct flash_dev *flash_dev_open(const char *path, uint64_t size, uint32_t page_size,
                                 char *err, size_t errlen)
{
    uint64_t npages = page_size ? size / page_size : 0;
    struct flash_dev *d;
    int fd;

    if (npages == 0 || npages > FLASH_PAGES_MAX) {
        snprintf(err, errlen, "%s: %llu pages of %u bytes: want 1..%u", path,
                 (unsigned long long)npages, page_size, (unsigned)FLASH_PAGES_MAX);
        return NULL;
    }
    fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
                 errno == ELOOP ? " (a symlink: refused)" : "");
        return NULL;
    }
    if (persist_check_private(fd, path, err, errlen) < 0)
        goto fail;
    d = calloc(1, sizeof(*d) + npages * sizeof(d->page[0]));
    if (d == NULL) {
        snprintf(err, errlen, "%s: out of memory for the page table", path);
        goto fail;
    }
    d->fd = fd;
    d->page_size = page_size;
    d->npages = (uint32_t)npages;
    d->open_page = UINT32_MAX;
    d->st.pages_total = npages;
    snprintf(d->path, sizeof(d->path), "%s", path);
    if (label_swap(d) < 0) {
        snprintf(err, errlen, "%s: cannot size it to %llu bytes and label it: %s", path,
                 (unsigned long long)(npages * page_size + FLASH_LABEL_SIZE),
                 strerror(errno));
        free(d);
        goto fail;
    }
    return d;
fail:
    close(fd);
    return NULL;
}

uint64_t flash_dev_id(const struct flash_dev *d)
{
    return d->id;
}

int flash_dev_fd(const struct flash_dev *d)
{
    return d->fd;
}

uint64_t flash_dev_found_id(const struct flash_dev *d)
{
    return d->found_id;
}

void flash_dev_close(struct flash_dev **d)
{
    if (*d == NULL)
        return;
    close((*d)->fd);
    free((*d)->wbuf);
    free(*d);
    *d = NULL;
}

static enum flash_io dev_fail(struct flash_dev *d, const char *what, int err)
{
    bool was = atomic_exchange(&d->failed, true);

    atomic_fetch_add(&d->io_errors, 1);
    if (!was)
        log_warn("hardcached: flash %s: %s: %s; the flash tier continues without it "
                 "(values there are misses)", d->path, what, err ? strerror(err) : "short");
    return FLASH_FAILED;
}

static size_t rec_size(uint32_t len)
{
    size_t n = sizeof(struct flash_rec) + len;
    return (n + FLASH_REC_ALIGN - 1) & ~(size_t)(FLASH_REC_ALIGN - 1);
}

/* The header's fields hash into the seed of the value's hash. */
static uint64_t rec_sum(const struct flash_rec *r, const void *value)
{
    uint64_t seed = XXH3_64bits(&r->key_hash,
                                sizeof(*r) - offsetof(struct flash_rec, key_hash));
    return XXH3_64bits_withSeed(value, r->len, seed);
}

/* The oldest full page, emptied for reuse (recycle), or UINT32_MAX. */
static uint32_t evict_page(struct flash_dev *d)
{
    uint32_t best = UINT32_MAX;

    for (uint32_t i = 0; i < d->npages; i++)
        if (d->page[i].state == PAGE_FULL &&
            (best == UINT32_MAX || d->page[i].seq < d->page[best].seq))
            best = i;
    if (best != UINT32_MAX) {
        struct flash_page *p = &d->page[best];
        d->st.page_evictions++;
        d->st.objects_evicted += p->live;
        d->st.bytes_evicted += p->used;
        p->state = PAGE_FREE;
        d->st.pages_used--;
    }
    return best;
}

static bool take_page(struct flash_dev *d)
{
    for (uint32_t i = 0; i <= d->npages; i++) {
        struct flash_page *p = &d->page[i < d->npages ? i : 0];
        if (i == d->npages) {   /* none free */
            uint32_t v = d->recycle ? evict_page(d) : UINT32_MAX;
            if (v == UINT32_MAX)
                break;
            p = &d->page[v];
            i = v;
        }
        if (p->state != PAGE_FREE)
            continue;
        if (d->alloc_seq >= UINT32_MAX)   /* versions spent (4 G pages written) */
            break;
        /* one count for the device: a page's versions only grow, and the
         * version is its age, which a restart rebuilds (flash_dev_restore) */
        p->seq = ++d->alloc_seq;
        p->state = PAGE_OPEN;
        p->used = 0;
        p->live = 0;
        p->live_bytes = 0;
        atomic_store(&p->version, (uint32_t)p->seq);
        d->open_page = i;
        d->st.pages_used++;
        d->st.page_allocs++;
        return true;
    }
    return false;
}

static void close_open_page(struct flash_dev *d)
{
    struct flash_page *p = &d->page[d->open_page];

    d->open_page = UINT32_MAX;
    p->state = PAGE_FULL;
    if (p->live == 0) {      /* everything in it already forgotten */
        p->state = PAGE_FREE;
        d->st.pages_used--;
        d->st.page_reclaims++;
    }
}

int flash_dev_tune(struct flash_dev *d, uint32_t wbuf, bool recycle)
{
    d->recycle = recycle;
    if (wbuf > d->page_size)
        wbuf = d->page_size;
    if (wbuf == 0 || d->wbuf != NULL)
        return 0;
    d->wbuf = malloc(wbuf);
    d->wbuf_cap = d->wbuf ? wbuf : 0;
    return d->wbuf ? 0 : -1;
}

enum flash_io flash_dev_flush(struct flash_dev *d)
{
    uint32_t done = 0;
    ssize_t n = 0;

    if (d->wbuf_len == 0)
        return atomic_load(&d->failed) ? FLASH_FAILED : FLASH_OK;
    /* a short write goes on, so a full disk says ENOSPC, not "short" */
    while (done < d->wbuf_len &&
           (n = pwrite(d->fd, d->wbuf + done, d->wbuf_len - done, d->wbuf_at + done)) > 0)
        done += (uint32_t)n;
    d->wbuf_len = 0;
    if (n <= 0)
        return dev_fail(d, "write", n < 0 ? errno : 0);
    return FLASH_OK;
}

/* Write one record at `at`: into the write buffer when there is one (it
 * goes out when full or not contiguous), else at once. */
static bool rec_write(struct flash_dev *d, off_t at, const struct flash_rec *r,
                      const void *value, size_t need)
{
    if (d->wbuf != NULL && need <= d->wbuf_cap) {
        if (d->wbuf_len > 0 && (d->wbuf_at + d->wbuf_len != at ||
                                d->wbuf_len + need > d->wbuf_cap) &&
            flash_dev_flush(d) != FLASH_OK)
            return false;
        if (d->wbuf_len == 0)
            d->wbuf_at = at;
        memcpy(d->wbuf + d->wbuf_len, r, sizeof(*r));
        memcpy(d->wbuf + d->wbuf_len + sizeof(*r), value, r->len);
        memset(d->wbuf + d->wbuf_len + sizeof(*r) + r->len, 0, need - sizeof(*r) - r->len);
        d->wbuf_len += (uint32_t)need;
        return true;
    }
    if (flash_dev_flush(d) != FLASH_OK)
        return false;
    struct iovec iov[2] = { { (void *)(uintptr_t)r, sizeof(*r) },
                            { (void *)(uintptr_t)value, r->len } };
    ssize_t n = pwritev(d->fd, iov, 2, at);
    if (n != (ssize_t)(sizeof(*r) + r->len)) {
        dev_fail(d, "write", n < 0 ? errno : 0);
        return false;
    }
    return true;
}

enum flash_io flash_dev_append(struct flash_dev *d, uint64_t key_hash, const void *value,
                               uint32_t len, struct flash_loc *loc)
{
    size_t need = rec_size(len);
    struct flash_rec r = { .key_hash = key_hash, .len = len };
    struct flash_page *p;
    off_t at;

    if (atomic_load(&d->failed))
        return FLASH_FAILED;
    if (need > d->page_size)
        return FLASH_FULL;
    if (d->open_page != UINT32_MAX && d->page[d->open_page].used + need > d->page_size)
        close_open_page(d);
    if (d->open_page == UINT32_MAX && !take_page(d))
        return FLASH_FULL;
    p = &d->page[d->open_page];
    r.version = atomic_load(&p->version);
    r.sum = rec_sum(&r, value);
    at = (off_t)d->open_page * d->page_size + p->used;
    if (!rec_write(d, at, &r, value, need))
        return FLASH_FAILED;
    *loc = (struct flash_loc){ .page = d->open_page, .offset = p->used,
                               .version = r.version, .len = len };
    p->used += (uint32_t)need;
    p->live++;
    p->live_bytes += (uint32_t)need;
    d->st.objects_written++;
    d->st.bytes_written += need;
    return FLASH_OK;
}

size_t flash_dev_read_size(const struct flash_loc *loc)
{
    return sizeof(struct flash_rec) + loc->len;
}

enum flash_io flash_dev_read_prep(struct flash_dev *d, const struct flash_loc *loc,
                                  int *fd, uint64_t *at)
{
    if (atomic_load(&d->failed))
        return FLASH_FAILED;
    if (loc->page >= d->npages || loc->offset > d->page_size ||
        flash_dev_read_size(loc) > d->page_size - loc->offset)
        return FLASH_BAD;
    if (atomic_load(&d->page[loc->page].version) != loc->version)
        return FLASH_STALE;
    *fd = d->fd;
    *at = (uint64_t)loc->page * d->page_size + loc->offset;
    return FLASH_OK;
}

enum flash_io flash_dev_read_check(struct flash_dev *d, const struct flash_loc *loc,
                                   uint64_t key_hash, const void *scratch, long n,
                                   void *out)
{
    struct flash_rec r;

    if (n < 0 || (size_t)n != flash_dev_read_size(loc))
        return dev_fail(d, "read", n < 0 ? (int)-n : 0);
    memcpy(&r, scratch, sizeof(r));
    if (r.version != loc->version || r.len != loc->len || r.key_hash != key_hash ||
        r.sum != rec_sum(&r, (const unsigned char *)scratch + sizeof(r)) ||
        atomic_load(&d->page[loc->page].version) != loc->version) {
        atomic_fetch_add(&d->bad_reads, 1);
        return FLASH_BAD;
    }
    memcpy(out, (const unsigned char *)scratch + sizeof(r), loc->len);
    atomic_fetch_add(&d->objects_read, 1);
    atomic_fetch_add(&d->bytes_read, loc->len);
    return FLASH_OK;
}

enum flash_io flash_dev_read(struct flash_dev *d, const struct flash_loc *loc,
                             uint64_t key_hash, void *scratch, void *out)
{
    enum flash_io r;
    uint64_t at;
    ssize_t n;
    int fd;

    if ((r = flash_dev_read_prep(d, loc, &fd, &at)) != FLASH_OK)
        return r;
    n = pread(fd, scratch, flash_dev_read_size(loc), (off_t)at);
    return flash_dev_read_check(d, loc, key_hash, scratch, n < 0 ? -errno : n, out);
}

void flash_dev_forget(struct flash_dev *d, const struct flash_loc *loc)
{
    struct flash_page *p;

    if (loc->page >= d->npages)
        return;
    p = &d->page[loc->page];
    if (atomic_load(&p->version) != loc->version || p->live == 0)
        return;
    p->live_bytes -= p->live_bytes < rec_size(loc->len) ? p->live_bytes
                                                        : (uint32_t)rec_size(loc->len);
    if (--p->live == 0 && p->state == PAGE_FULL) {
        p->state = PAGE_FREE;
        d->st.pages_used--;
        d->st.page_reclaims++;
    }
}

void flash_dev_close_page(struct flash_dev *d, uint32_t page, uint32_t version)
{
    struct flash_page *p = page < d->npages ? &d->page[page] : NULL;

    if (p == NULL || p->state != PAGE_FULL || atomic_load(&p->version) != version)
        return;
    p->live = 0;
    p->live_bytes = 0;
    p->state = PAGE_FREE;
    d->st.pages_used--;
    d->st.page_reclaims++;
}

uint32_t flash_dev_npages(const struct flash_dev *d)
{
    return d->npages;
}

void flash_dev_page_info(const struct flash_dev *d, struct flash_page_info *out)
{
    for (uint32_t i = 0; i < d->npages; i++) {
        const struct flash_page *p = &d->page[i];
        bool used = p->state != PAGE_FREE;
        out[i] = (struct flash_page_info){
            .seq = used ? p->seq : 0, .version = atomic_load(&p->version),
            .used = used ? p->used : 0, .live_bytes = used ? p->live_bytes : 0,
            .open = p->state == PAGE_OPEN,
        };
    }
}

enum flash_io flash_dev_read_raw(struct flash_dev *d, uint32_t page, uint32_t off,
                                 void *buf, size_t len)
{
    ssize_t n;

    if (atomic_load(&d->failed))
        return FLASH_FAILED;
    if (page >= d->npages || off > d->page_size || len > d->page_size - off)
        return FLASH_BAD;
    n = pread(d->fd, buf, len, (off_t)page * d->page_size + off);
    if (n < 0 || (size_t)n != len)
        return dev_fail(d, "read", n < 0 ? errno : 0);
    return FLASH_OK;
}

size_t flash_rec_size(uint32_t len)
{
    return rec_size(len);
}

bool flash_rec_valid(const struct flash_rec *r, const void *value)
{
    return r->sum == rec_sum(r, value);
}

void flash_dev_stats(const struct flash_dev *d, struct flash_dev_stats *st)
{
    *st = d->st;
    st->objects_used = st->bytes_used = 0;
    for (uint32_t i = 0; i < d->npages; i++)
        if (d->page[i].state != PAGE_FREE) {
            st->objects_used += d->page[i].live;
            st->bytes_used += d->page[i].live_bytes;
        }
    st->objects_read = atomic_load(&d->objects_read);
    st->bytes_read = atomic_load(&d->bytes_read);
    st->bad_reads = atomic_load(&d->bad_reads);
    st->io_errors = atomic_load(&d->io_errors);
    st->failed = atomic_load(&d->failed);
}

void flash_dev_restore(struct flash_dev *d, const struct flash_page_use *use)
{
    for (uint32_t i = 0; i < d->npages; i++) {
        struct flash_page *p = &d->page[i];
        if (use[i].version > d->alloc_seq)
            d->alloc_seq = use[i].version;
        if (use[i].live == 0)
            continue;
        atomic_store(&p->version, use[i].version);
        p->seq = use[i].version;
        p->state = PAGE_FULL;
        p->used = use[i].used;
        p->live = use[i].live;
        p->live_bytes = use[i].live_bytes;
        d->st.pages_used++;
    }
}
