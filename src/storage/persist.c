/*
 * persist: the -e cache file, its header and the segments' checksums (see
 * persist.h). Why a checksum chained over each segment's items, in the
 * segment header: items are written in order and never change but for a
 * few state bits, so one 8-byte word (checksum and sealed length, stored
 * at once) proves every item before it, with no byte added to any item.
 * The checksum is XXH3 (libxxhash, Debian's libxxhash-dev), not a CRC
 * from zlib or a libsodium hash: it guards against torn writes and stray
 * corruption, not an attacker (who could write the file could write any
 * checksum), and it is the fastest of those by far (tens of GB/s; zlib's
 * CRC-32 runs at 1-2 GB/s), which matters on the write path and for the
 * scan after a crash.
 */
#include "storage/persist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/clock.h"
#include "core/hash.h"
#include "core/log.h"
#include "storage/item.h"

#define PERSIST_MAGIC      "hcache-e"
#define PERSIST_SHARDS_MAX 256
#define PERSIST_HASH_KIND  1u    /* keys hashed with SipHash-2-4 (core/hash.c) */
#define PERSIST_SUM_BITS   48
#define PERSIST_SUM_MASK   ((UINT64_C(1) << PERSIST_SUM_BITS) - 1)
#define PERSIST_LEN_MASK   UINT64_C(0xffff)
/* File systems a shared mapping stays in memory on (linux/magic.h). */
#define PERSIST_TMPFS_MAGIC 0x01021994
#define PERSIST_RAMFS_MAGIC 0x858458f6
/* Items' state bits, which change after an item is sealed (item.h): the
 * checksum covers the layout bits only. */
#define PERSIST_LAYOUT_BITS (ITEM_HAS_EXP | ITEM_HAS_FLAGS | ITEM_HAS_CAS)

/* The file's first seg_size bytes. Fields up to `sum` are written once
 * and checked by it; the rest change as the server runs. */
struct persist_hdr {
    char     magic[8];
    uint32_t version;
    uint32_t seg_hdr;             /* sizeof(struct seg): its layout */
    uint64_t region_len;
    uint32_t seg_size, item_size_max, nshards, hash_kind;
    int64_t  started;             /* the clock's base (unix time) */
    unsigned char secret[HASH_SECRET_BYTES];
    uint64_t sum;                 /* XXH3 of the fields above */
    uint32_t clean;               /* 1: closed by a graceful stop */
    uint32_t pad;
    struct persist_shard shards[PERSIST_SHARDS_MAX];
    struct persist_flash flash[PERSIST_FLASH_MAX];   /* zero in older files */
};

static struct persist_hdr *hdr;   /* NULL: no file */
static size_t map_len, hdr_len, region_len;
static unsigned char *region;
static int fd = -1;
static bool was_clean;
static uint32_t key_max, file_shards;

_Static_assert(sizeof(struct persist_hdr) <= (32u << 10), "header fits a segment");

static uint64_t hdr_sum(const struct persist_hdr *h)
{
    return XXH3_64bits(h, offsetof(struct persist_hdr, sum));
}

bool persist_active(void)
{
    return hdr != NULL;
}

bool persist_was_clean(void)
{
    return was_clean;
}

struct persist_shard *persist_shard(unsigned idx)
{
    return &hdr->shards[idx];
}

struct persist_flash *persist_flash(unsigned idx)
{
    return hdr != NULL && idx < PERSIST_FLASH_MAX ? &hdr->flash[idx] : NULL;
}

bool persist_has(const struct seg *s)
{
    return hdr != NULL && (const unsigned char *)s >= region &&
           (const unsigned char *)s < (const unsigned char *)hdr + map_len;
}

int persist_check_private(int file, const char *path, char *err, size_t errlen)
{
    struct stat st;

    if (fstat(file, &st) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file: refused", path);
        return -1;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, errlen, "%s is owned by uid %u, not the server's (%u): refused",
                 path, (unsigned)st.st_uid, (unsigned)geteuid());
        return -1;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(err, errlen, "%s is open to other users (mode %03o; it holds the cache "
                 "and the hash secret): refused, chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
        return -1;
    }
    return 0;
}

/* Refuse a file that is not safe to keep the cache (and the hash secret)
 * in: see persist_check_private, and not on a file system where a shared
 * mapping is written back to a disk. */
static int check_file(const char *path, char *err, size_t errlen)
{
    struct statfs fs;
    struct statx sx;

    if (persist_check_private(fd, path, err, errlen) < 0)
        return -1;
    if (fstatfs(fd, &fs) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if ((unsigned long)fs.f_type == PERSIST_TMPFS_MAGIC ||
        (unsigned long)fs.f_type == PERSIST_RAMFS_MAGIC)
        return 0;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) == 0 &&
        (sx.stx_attributes_mask & sx.stx_attributes & STATX_ATTR_DAX))
        return 0;
    snprintf(err, errlen, "%s is neither on tmpfs nor a DAX file: refused (a mapping "
             "there is written back to disk; put it under /dev/shm)", path);
    return -1;
}

/* Why the header cannot be used, or NULL if it can. */
static const char *hdr_mismatch(const struct persist_hdr *h, const struct persist_params *p,
                                off_t file_size)
{
    time_t now = time(NULL);

    if (file_size == 0)
        return NULL;   /* new: not worth a log line (the caller checks) */
    if ((size_t)file_size < sizeof(*h) || memcmp(h->magic, PERSIST_MAGIC, 8) != 0)
        return "not a hardcached cache file";
    if (h->version != PERSIST_VERSION || h->seg_hdr != sizeof(struct seg))
        return "another version of the file format";
    if (h->sum != hdr_sum(h))
        return "a damaged header";
    if (h->region_len != p->region_len || h->seg_size != p->seg_size)
        return "another memory limit (-m)";
    if (h->item_size_max != p->item_size_max)
        return "another item size limit (-I)";
    if (h->nshards != p->nshards || h->hash_kind != PERSIST_HASH_KIND)
        return "another hash key handling";
    if ((uint64_t)file_size != map_len)
        return "a truncated or extended file";
    if (h->started > now || now - h->started > (time_t)(UINT32_MAX / 2))
        return "a clock base out of range";
    for (uint32_t i = 0; i < h->nshards; i++)
        if (h->shards[i].flush_seq > h->shards[i].seq_top)
            return "damaged shard marks";
    return NULL;
}

/* Map the file at an address where the segment area (after hdr_len
 * bytes) is aligned to seg_size: reserve one segment more, map over it. */
static void *map_file(size_t align)
{
    unsigned char *p = mmap(NULL, map_len + align, PROT_NONE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    unsigned char *a;

    if (p == MAP_FAILED)
        return NULL;
    a = (unsigned char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
    if (mmap(a, map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
        munmap(p, map_len + align);
        return NULL;
    }
    if (a != p)
        munmap(p, (size_t)(a - p));
    if ((size_t)(a - p) < align)
        munmap(a + map_len, align - (size_t)(a - p));
    return a;
}

/* Empty the file to its new size (holes: no memory) and write a header. */
static int reset_file(const struct persist_params *p)
{
    struct persist_hdr h;

    memset(&h, 0, sizeof(h));
    memcpy(h.magic, PERSIST_MAGIC, 8);
    h.version = PERSIST_VERSION;
    h.seg_hdr = sizeof(struct seg);
    h.region_len = p->region_len;
    h.seg_size = p->seg_size;
    h.item_size_max = p->item_size_max;
    h.nshards = p->nshards;
    h.hash_kind = PERSIST_HASH_KIND;
    h.started = (int64_t)clock_started();
    hash_secret_get(h.secret);
    h.sum = hdr_sum(&h);
    if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)map_len) < 0 ||
        pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
        return -1;
    return 0;
}

/* ---- compaction journals ----
 *
 * Compaction rewrites a segment in place, so for a moment its kept items
 * are in no sealed segment. Each shard has one journal slot after the
 * region: the kept items are written and sealed there first, as the
 * segment will be (same base, creation time, shard), with the target's
 * slot index in `id`; only then is the segment rewritten, and the journal
 * is cleared once the segment is sealed again. A start that finds a sealed
 * journal finishes the copy (journal_redo), so at every instant each kept
 * item has a sealed copy. Redoing is idempotent: a kill during the redo
 * leaves the journal sealed for the next start. */

struct seg *persist_journal(unsigned shard)
{
    return (struct seg *)((unsigned char *)hdr + hdr_len + region_len + (size_t)shard * hdr_len);
}

void persist_journal_seal(struct seg *j, const struct seg *s, uint64_t base, uint32_t used)
{
    j->base = base;
    j->created = s->created;
    j->shard = s->shard;
    j->size = s->size;
    j->cap = s->cap;
    j->used = used;
    j->large = false;
    j->id = (uint32_t)(((const unsigned char *)s - region) / hdr_len);
    j->state = SEG_STATE_IN_USE;
    persist_seal_all(j);
}

void persist_journal_clear(struct seg *j)
{
    __atomic_store_n(&j->seal, 0, __ATOMIC_RELEASE);
    j->state = SEG_STATE_FREE;
}

/* At a warm start, before any segment is read: finish each compaction a
 * kill cut (its journal sealed whole and intact) by copying the journal
 * over its segment, header and all. A journal sealed only in part was cut
 * while it was being sealed, item by item, before the segment was
 * touched: the segment is still whole, and the journal is dropped. */
static void journal_redo(void)
{
    size_t nslots = region_len / hdr_len;
    uint32_t nitems;

    for (unsigned i = 0; i < file_shards; i++) {
        struct seg *j = persist_journal(i);
        if (j->state == SEG_STATE_IN_USE && (j->seal & PERSIST_LEN_MASK) != 0 &&
            j->shard == i && j->id < nslots &&
            persist_verify(j, file_shards, hdr_len, &nitems) == (long)j->used)
            memcpy(region + (size_t)j->id * hdr_len, j, hdr_len);
        persist_journal_clear(j);   /* done, or not to be trusted: unsealed for reuse */
    }
}

enum persist_open_result persist_open(const struct persist_params *p, unsigned char **out,
                                      char *err, size_t errlen)
{
    struct persist_hdr h;
    struct stat st;
    const char *why;
    enum persist_open_result res = PERSIST_WARM;

    if (p->seg_size > PERSIST_LEN_MASK + 1 || p->nshards > PERSIST_SHARDS_MAX) {
        snprintf(err, errlen, "-e: segments or shards out of range");
        return PERSIST_FAIL;
    }
    hdr_len = p->seg_size;
    key_max = p->key_max;
    file_shards = p->nshards;
    region_len = p->region_len;
    map_len = hdr_len + p->region_len + (size_t)p->nshards * p->seg_size + p->large_len;
    fd = open(p->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s%s", p->path, strerror(errno),
                 errno == ELOOP ? " (a symlink: refused)" : "");
        return PERSIST_FAIL;
    }
    if (check_file(p->path, err, errlen) < 0 || fstat(fd, &st) < 0)
        goto fail;
    memset(&h, 0, sizeof(h));
    if (pread(fd, &h, sizeof(h), 0) < 0)
        goto fail_errno;
    why = hdr_mismatch(&h, p, st.st_size);
    if (why != NULL || st.st_size == 0) {
        if (why != NULL)
            log_warn("hardcached: -e %s holds %s: starting with an empty cache", p->path, why);
        if (reset_file(p) < 0)
            goto fail_errno;
        res = PERSIST_COLD;
    }
    hdr = map_file(p->seg_size);
    if (hdr == NULL)
        goto fail_errno;
    region = (unsigned char *)hdr + hdr_len;
    was_clean = hdr->clean == 1;
    hdr->clean = 0;   /* running: a crash leaves it so */
    if (res == PERSIST_WARM) {
        hash_secret_set(hdr->secret);
        clock_restore((time_t)hdr->started);
        journal_redo();
    }
    *out = region;
    return res;
fail_errno:
    snprintf(err, errlen, "%s: %s", p->path, strerror(errno));
fail:
    close(fd);
    fd = -1;
    return PERSIST_FAIL;
}

void persist_close(bool clean)
{
    if (hdr == NULL)
        return;
    hdr->clean = clean ? 1 : 0;
    munmap(hdr, map_len);
    close(fd);
    fd = -1;
    hdr = NULL;
    region = NULL;
}

unsigned char *persist_large(void)
{
    return (unsigned char *)persist_journal(file_shards);   /* after the last journal */
}

bool persist_slot_used(const struct seg *slot)
{
    struct seg s;
    off_t off = (off_t)((const unsigned char *)slot - (const unsigned char *)hdr);

    return pread(fd, &s, sizeof(s), off) == (ssize_t)sizeof(s) &&
           s.state == SEG_STATE_IN_USE && (s.seal & PERSIST_LEN_MASK) != 0;
}

/* The chain's start: the segment's own identity, so a header from
 * another use of the slot does not verify. */
static uint64_t seg_sum0(const struct seg *s)
{
    uint64_t id[3] = { s->base, s->created, s->shard };

    return XXH3_64bits(id, sizeof(id)) & PERSIST_SUM_MASK;
}

/* One XXH3 over the item from its client flags on (flags, CAS, key,
 * value), seeded with the chain so far and the header bytes that say
 * where the fields are (layout bits, key and value lengths): every byte
 * but the state bits, last access and expiry (touch sets it in place). */
static uint64_t item_sum(uint64_t prev, const unsigned char *it, const struct item_hdr *h)
{
    size_t rest = h->atime_off + ITEM_ATIME_BYTES + (h->exp_off ? 4u : 0u);
    uint64_t layout = (uint64_t)(it[0] & PERSIST_LAYOUT_BITS) | (uint64_t)h->nkey << 8 |
                      (uint64_t)h->nvalue << 16;

    return XXH3_64bits_withSeed(it + rest, h->size - rest,
                                prev ^ (layout * UINT64_C(0x9e3779b97f4a7c15))) &
           PERSIST_SUM_MASK;
}

void persist_unseal(struct seg *s)
{
    if (persist_has(s))
        __atomic_store_n(&s->seal, 0, __ATOMIC_RELEASE);
}

void persist_seal(struct seg *s, const unsigned char *it, size_t size)
{
    uint64_t seal, sum;
    struct item_hdr h;

    if (!persist_has(s))
        return;
    seal = s->seal;
    sum = (seal & PERSIST_LEN_MASK) == 0 ? seg_sum0(s) : seal >> 16;
    item_decode(it, &h);
    sum = item_sum(sum, it, &h);
    /* a large segment holds one item, its length past 16 bits: 1 says "sealed" */
    seal = sum << 16 | (s->large ? 1u : (uint64_t)(it + size - seg_data(s)));
    __atomic_store_n(&s->seal, seal, __ATOMIC_RELEASE);
}

void persist_seal_all(struct seg *s)
{
    uint32_t off = 0;
    struct item_hdr h;

    if (!persist_has(s))
        return;
    while (off < s->used) {
        unsigned char *it = seg_data(s) + off;
        item_decode(it, &h);
        persist_seal(s, it, h.size);
        off += (uint32_t)h.size;
    }
}

/* The size of the item at p, with `avail` bytes to the sealed end, or 0 if
 * its header or lengths do not fit. */
static size_t item_checked_size(const unsigned char *p, size_t avail, struct item_hdr *h)
{
    size_t need = ITEM_FIXED_HDR + 1;

    if (avail < need || p[1] > key_max ||
        (p[ITEM_FIXED_HDR] > 251 && p[ITEM_FIXED_HDR] != ITEM_VARINT_FLASH))
        return 0;
    need += item_varint_size(p[ITEM_FIXED_HDR]) - 1 + ITEM_ATIME_BYTES +
            (p[0] & ITEM_HAS_EXP ? 4u : 0u) + (p[0] & ITEM_HAS_FLAGS ? 4u : 0u) +
            (p[0] & ITEM_HAS_CAS ? ITEM_CAS_BYTES : 0u);
    if (avail < need)
        return 0;
    item_decode(p, h);
    return h->size <= avail ? h->size : 0;
}

long persist_verify(const struct seg *s, unsigned nshards, size_t slot_size, uint32_t *nitems)
{
    size_t sealed = (size_t)(s->seal & PERSIST_LEN_MASK), off = 0;
    uint64_t sum = seg_sum0(s);
    struct item_hdr h;
    bool large = slot_size != hdr_len;
    uint8_t large_byte;   /* read as a byte: a damaged file may hold any */

    memcpy(&large_byte, &s->large, 1);
    if (s->state != SEG_STATE_IN_USE || s->shard >= nshards || large_byte != large ||
        (large ? s->size <= hdr_len || s->size > slot_size : s->size != hdr_len) ||
        s->cap != s->size - SEG_HDR_SIZE || sealed > s->cap)
        return -1;
    *nitems = 0;
    if (sealed == 0)
        return 0;
    if (large) {   /* one item: its header says how long (item_checked_size) */
        if (sealed != 1 || (sealed = item_checked_size((const unsigned char *)s + SEG_HDR_SIZE,
                                                       s->cap, &h)) == 0)
            return -1;
    }
    while (off < sealed) {
        const unsigned char *it = (const unsigned char *)s + SEG_HDR_SIZE + off;
        size_t n = item_checked_size(it, sealed - off, &h);
        if (n == 0)
            return -1;
        sum = item_sum(sum, it, &h);
        off += n;
        ++*nitems;
    }
    return sum == s->seal >> 16 ? (long)sealed : -1;
}
