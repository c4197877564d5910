/*
 * htab: bucketized linear probing with spill counts, grown by half at a
 * time with incremental migration.
 *
 * Why buckets: 8 slots share a cache line, so a hit is mostly one miss into
 * the table, and there are no per-entry chain pointers (memory per item is
 * the point of this engine). Why spill counts instead of tombstones: a
 * bucket's count says how many entries whose home lies before it (or at
 * it) are stored after it, so a lookup may stop at the first bucket whose
 * count is zero, and a deletion just empties its slot and decrements the
 * counts on the entry's path. Nothing degrades with churn, so no sweep is
 * ever needed. A count that reaches 255 sticks (never decremented): still
 * correct, only slower, and it needs 255 entries spilled past one bucket.
 *
 * Why not powers of two: the home bucket is the top of hash * nbuckets
 * (Lemire's multiply-shift range reduction), so a table can have any
 * number of buckets and grows by 1.5x at 90% fill. A doubling table sits
 * between 40% and 80% full, which is 10-20 bytes of 8-byte slots per item;
 * this one sits between 60% and 90%, 8.9-13.3 bytes. At 90% a hit reads
 * 1.4 buckets on average and a miss about 2 (spill counts stop it early).
 *
 * Migration moves whole buckets of the old table, in order, a few per
 * operation, re-hashing each key (the slot keeps only 16 hash bits). Every
 * entry is in exactly one table; lookups try the new table, then the old,
 * whose spill counts stay exact as entries leave it. New keys go only to
 * the new table, so old buckets before the migration cursor stay empty.
 */
#include "storage/htab.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "core/hash.h"
#include "core/prefetch.h"
#include "storage/item.h"

#define HTAB_TAG_SHIFT       32            /* tag bits of the hash: 32..39 */
/* Grow past 90% fill, by half. */
#define HTAB_LOAD_NUM        9
#define HTAB_LOAD_DEN        10
#define HTAB_GROW_NUM        3
#define HTAB_GROW_DEN        2
/* Old buckets moved per operation while migrating. The old table is at
 * most 90% full and the new one 1.5x its size, and each operation adds at
 * most one entry while moving 8 buckets (64 slots): the new table is at
 * most ~62% full when the move ends, so it never fills up first. */
#define HTAB_MIGRATE_BUCKETS 8
#define HTAB_POWER_MIN       4
#define HTAB_SPILL_STICKY    255

static uint64_t htab_tag(uint64_t hv)
{
    return ((hv >> HTAB_TAG_SHIFT) & 0xff) << HTAB_REF_BITS;
}

/* Does the slot hold an entry with the tag of hv? The tag byte is read
 * first, alone: most slots of a bucket fail on it, and decoding all six
 * bytes of each was the most of a bucket scan's instructions (callgrind,
 * issue 21). A tag of 0 also matches an empty slot, hence the second test. */
_Static_assert(HTAB_REF_BITS == 8 * (HTAB_SLOT_BYTES - 1), "the tag is a slot's last byte");

static inline bool slot_tagged(const htab_slot *s, uint64_t hv, uint64_t *v)
{
    if (s->b[HTAB_SLOT_BYTES - 1] != (uint8_t)(hv >> HTAB_TAG_SHIFT))
        return false;
    *v = htab_slot_get(s);
    return *v != 0;
}

static uint64_t htab_entry(uint64_t hv, const void *it)
{
    const struct seg *s = seg_of(it);
    uint64_t off = (uint64_t)((const unsigned char *)it - (const unsigned char *)s);

    return htab_tag(hv) | (uint64_t)s->id << SEG_OFF_BITS | off;
}

static uint64_t table_home(const struct htab_table *t, uint64_t hv)
{
    return ((hv & UINT64_C(0xffffffff)) * t->nbuckets) >> 32;
}

static uint64_t table_next(const struct htab_table *t, uint64_t b)
{
    return b + 1 == t->nbuckets ? 0 : b + 1;
}

static uint64_t table_slots(const struct htab_table *t)
{
    return t->nbuckets * HTAB_BUCKET;
}

static size_t table_map_bytes(uint64_t nbuckets)
{
    return (size_t)nbuckets * HTAB_BUCKET * sizeof(htab_slot);
}

static bool table_over(const struct htab_table *t, uint64_t extra)
{
    return (t->count + extra) * HTAB_LOAD_DEN > table_slots(t) * HTAB_LOAD_NUM;
}

static int table_alloc(struct htab_table *t, uint64_t nbuckets)
{
    /* mmap: zero pages that become resident only as they are written, and
     * page (so cache-line) aligned buckets. */
    void *p = mmap(NULL, table_map_bytes(nbuckets), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return -1;
    t->spill = calloc(nbuckets, 1);
    if (t->spill == NULL) {
        munmap(p, table_map_bytes(nbuckets));
        return -1;
    }
    t->slots = p;
    t->nbuckets = nbuckets;
    t->count = 0;
    return 0;
}

/* Publish the table lookups try first, for htab_prefetch. */
static void publish(struct htab *h)
{
    const struct htab_table *t = &h->t[h->migrating ? 1 : 0];

    atomic_store_explicit(&h->pf_slots, t->slots, memory_order_relaxed);
    atomic_store_explicit(&h->pf_nbuckets, t->nbuckets, memory_order_relaxed);
}

/* A bucket is 48 bytes, so every other one spans two cache lines: load
 * both, or the probe stalls on the second (perf: the slot loads of
 * htab_prefetch_items were 13% of its time before). */
void htab_prefetch(struct htab *h, uint64_t hv)
{
    htab_slot *slots = atomic_load_explicit(&h->pf_slots, memory_order_relaxed);
    uint64_t nb = atomic_load_explicit(&h->pf_nbuckets, memory_order_relaxed);
    const htab_slot *bk = slots + (((hv & UINT64_C(0xffffffff)) * nb) >> 32) * HTAB_BUCKET;

    __builtin_prefetch(bk);
    __builtin_prefetch(&bk[HTAB_BUCKET - 1]);
}

uintptr_t htab_prefetch_items(const struct htab *h, uint64_t hv, size_t span)
{
    const struct htab_table *t = &h->t[h->migrating ? 1 : 0];
    const htab_slot *bk = &t->slots[table_home(t, hv) * HTAB_BUCKET];
    uintptr_t first = 0;
    uint64_t s;

    for (unsigned i = 0; i < HTAB_BUCKET; i++) {
        if (slot_tagged(&bk[i], hv, &s)) {
            const unsigned char *it = htab_item(s);
            prefetch_range((uintptr_t)it,
                           (uintptr_t)it + (span > CACHE_LINE ? span : CACHE_LINE), 0);
            __builtin_prefetch(seg_of(it));
            if (first == 0)
                first = (uintptr_t)it;
        }
    }
    return first;
}

static void table_free(struct htab_table *t)
{
    if (t->slots != NULL)
        munmap(t->slots, table_map_bytes(t->nbuckets));
    free(t->spill);
    t->slots = NULL;
    t->spill = NULL;
    t->nbuckets = 0;
    t->count = 0;
}

int htab_create(struct htab *h, unsigned power)
{
    if (power < HTAB_POWER_MIN)
        power = HTAB_POWER_MIN;
    h->migrating = false;
    h->pos = 0;
    h->t[1].slots = NULL;
    h->t[1].spill = NULL;
    h->t[1].nbuckets = 0;
    h->t[1].count = 0;
    if (table_alloc(&h->t[0], (UINT64_C(1) << power) / HTAB_BUCKET) < 0) {
        errno = ENOMEM;
        return -1;
    }
    publish(h);
    return 0;
}

void htab_destroy(struct htab *h)
{
    table_free(&h->t[0]);
    table_free(&h->t[1]);
    h->migrating = false;
    publish(h);
}

static htab_slot *table_find(struct htab_table *t, uint64_t hv, const void *key,
                             size_t nkey)
{
    uint64_t b = table_home(t, hv), n, s;

    for (n = 0; n < t->nbuckets; n++) {
        htab_slot *bk = &t->slots[b * HTAB_BUCKET];
        for (unsigned i = 0; i < HTAB_BUCKET; i++) {
            if (slot_tagged(&bk[i], hv, &s)) {
                size_t kn;
                const unsigned char *k = item_key(htab_item(s), &kn);
                if (kn == nkey && memcmp(k, key, kn) == 0)
                    return &bk[i];
            }
        }
        if (t->spill[b] == 0)
            break;
        b = table_next(t, b);
    }
    return NULL;
}

htab_slot *htab_find(struct htab *h, uint64_t hv, const void *key, size_t nkey)
{
    htab_slot *s;

    if (h->migrating && (s = table_find(&h->t[1], hv, key, nkey)) != NULL)
        return s;
    return table_find(&h->t[0], hv, key, nkey);
}

static htab_slot *table_find_item(struct htab_table *t, uint64_t hv, const void *it)
{
    uint64_t want = htab_entry(hv, it), b = table_home(t, hv), n;

    for (n = 0; n < t->nbuckets; n++) {
        htab_slot *bk = &t->slots[b * HTAB_BUCKET];
        for (unsigned i = 0; i < HTAB_BUCKET; i++)
            if (htab_slot_get(&bk[i]) == want)
                return &bk[i];
        if (t->spill[b] == 0)
            break;
        b = table_next(t, b);
    }
    return NULL;
}

htab_slot *htab_find_item(struct htab *h, uint64_t hv, const void *it)
{
    htab_slot *s;

    if (h->migrating && (s = table_find_item(&h->t[1], hv, it)) != NULL)
        return s;
    return table_find_item(&h->t[0], hv, it);
}

static htab_slot *table_find_by(struct htab_table *t, uint64_t hv, htab_match_fn match,
                                const void *arg)
{
    uint64_t b = table_home(t, hv), n, s;

    for (n = 0; n < t->nbuckets; n++) {
        htab_slot *bk = &t->slots[b * HTAB_BUCKET];
        for (unsigned i = 0; i < HTAB_BUCKET; i++)
            if (slot_tagged(&bk[i], hv, &s) && match(htab_item(s), arg))
                return &bk[i];
        if (t->spill[b] == 0)
            break;
        b = table_next(t, b);
    }
    return NULL;
}

htab_slot *htab_find_by(struct htab *h, uint64_t hv, htab_match_fn match, const void *arg)
{
    htab_slot *s;

    if (h->migrating && (s = table_find_by(&h->t[1], hv, match, arg)) != NULL)
        return s;
    return table_find_by(&h->t[0], hv, match, arg);
}

/* Store an entry in the first free slot from its home bucket on, counting
 * it in the spill of every bucket it passes. -1 if the table is full. */
static int table_put(struct htab_table *t, uint64_t hv, uint64_t entry)
{
    uint64_t home = table_home(t, hv), b = home, n;

    for (n = 0; n < t->nbuckets; n++) {
        htab_slot *bk = &t->slots[b * HTAB_BUCKET];
        for (unsigned i = 0; i < HTAB_BUCKET; i++) {
            if (htab_slot_get(&bk[i]) == 0) {
                htab_slot_put(&bk[i], entry);
                t->count++;
                for (; home != b; home = table_next(t, home))
                    if (t->spill[home] != HTAB_SPILL_STICKY)
                        t->spill[home]++;
                return 0;
            }
        }
        b = table_next(t, b);
    }
    return -1;
}

static void table_remove(struct htab_table *t, uint64_t hv, htab_slot *slot)
{
    uint64_t at = (uint64_t)(slot - t->slots) / HTAB_BUCKET;
    uint64_t b = table_home(t, hv);

    for (; b != at; b = table_next(t, b))
        if (t->spill[b] != HTAB_SPILL_STICKY)
            t->spill[b]--;
    htab_slot_put(slot, 0);
    t->count--;
}

static void migrate_finish(struct htab *h)
{
    table_free(&h->t[0]);
    h->t[0] = h->t[1];
    h->t[1].slots = NULL;
    h->t[1].spill = NULL;
    h->t[1].nbuckets = 0;
    h->t[1].count = 0;
    h->migrating = false;
    publish(h);
}

/* Move `nb` buckets of the old table (all of them if nb is 0). */
static void migrate(struct htab *h, uint64_t nb)
{
    struct htab_table *from = &h->t[0], *to = &h->t[1];
    uint64_t end = nb == 0 || from->nbuckets - h->pos < nb ? from->nbuckets
                                                           : h->pos + nb;
    uint64_t b;

    /* the keys are in the items: start those cache misses together */
    for (b = h->pos; b < end; b++)
        for (unsigned i = 0; i < HTAB_BUCKET; i++)
            if (htab_slot_get(&from->slots[b * HTAB_BUCKET + i]) != 0)
                __builtin_prefetch(htab_slot_item(&from->slots[b * HTAB_BUCKET + i]));
    for (b = h->pos; b < end; b++) {
        for (unsigned i = 0; i < HTAB_BUCKET; i++) {
            htab_slot *slot = &from->slots[b * HTAB_BUCKET + i];
            uint64_t s = htab_slot_get(slot), hv;
            size_t n;
            const unsigned char *k;
            if (s == 0)
                continue;
            k = item_key(htab_item(s), &n);
            hv = hash_key(k, n);
            table_remove(from, hv, slot);
            /* cannot fail: see HTAB_MIGRATE_BUCKETS */
            (void)table_put(to, hv, s);
        }
    }
    h->pos = end;
    if (h->pos == from->nbuckets)
        migrate_finish(h);
}

void htab_step(struct htab *h)
{
    if (h->migrating)
        migrate(h, HTAB_MIGRATE_BUCKETS);
}

static int migrate_start(struct htab *h)
{
    uint64_t nb = h->t[0].nbuckets * HTAB_GROW_NUM / HTAB_GROW_DEN;

    if (table_alloc(&h->t[1], nb > h->t[0].nbuckets ? nb : h->t[0].nbuckets + 1) < 0)
        return -1;
    h->pos = 0;
    h->migrating = true;
    publish(h);
    return 0;
}

int htab_insert(struct htab *h, uint64_t hv, const void *it)
{
    if (h->migrating && table_over(&h->t[1], 1))
        migrate(h, 0);   /* cannot happen with the step sizes above */
    if (!h->migrating && table_over(&h->t[0], 1))
        (void)migrate_start(h);   /* no memory: squeeze into this one */
    return table_put(h->migrating ? &h->t[1] : &h->t[0], hv, htab_entry(hv, it));
}

void htab_set(htab_slot *slot, uint64_t hv, const void *it)
{
    htab_slot_put(slot, htab_entry(hv, it));
}

void htab_remove(struct htab *h, uint64_t hv, htab_slot *slot)
{
    struct htab_table *t = &h->t[0];

    if (h->migrating && slot >= h->t[1].slots &&
        slot < h->t[1].slots + table_slots(&h->t[1]))
        t = &h->t[1];
    table_remove(t, hv, slot);
}

size_t htab_bytes(const struct htab *h)
{
    size_t n = (size_t)h->t[0].nbuckets * (HTAB_BUCKET * sizeof(htab_slot) + 1);
    if (h->migrating)
        n += (size_t)h->t[1].nbuckets * (HTAB_BUCKET * sizeof(htab_slot) + 1);
    return n;
}

uint64_t htab_slots(const struct htab *h)
{
    return table_slots(h->migrating ? &h->t[1] : &h->t[0]);
}

uint64_t htab_count(const struct htab *h)
{
    return h->t[0].count + (h->migrating ? h->t[1].count : 0);
}
