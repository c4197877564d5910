/*
 * htab: one shard's key index. Buckets of 8 six-byte slots (48 bytes);
 * a slot names an item by its segment's id and offset (40 bits, seg.h)
 * and keeps an 8-bit tag from the key hash, so most mismatches (255 in
 * 256) cost no key compare and no cache miss into the item.
 * A full bucket spills into the next (bucketized linear probing), and a
 * per-bucket count of entries that spilled past it (F14-style) lets a
 * lookup stop at the first bucket with none: no tombstones, misses cost
 * about one cache line. Bucket counts are not powers of two (the home
 * bucket is hash * nbuckets >> 32), so the table grows by half, not by
 * doubling, and stays 60-90% full (6.8-10.2 bytes per item) without a
 * doubling spike. Growth is incremental: both tables live side by side
 * while a few buckets move per operation. Not thread-safe: the owning
 * shard's lock covers it.
 */
#ifndef HC_STORAGE_HTAB_H
#define HC_STORAGE_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "storage/seg.h"

#define HTAB_REF_BITS  (SEG_ID_BITS + SEG_OFF_BITS)   /* 40 */
#define HTAB_REF_MASK  ((UINT64_C(1) << HTAB_REF_BITS) - 1)
#define HTAB_SLOT_BYTES 6
#define HTAB_BUCKET    8    /* slots per bucket: 48 bytes */

/* Tag (8 bits) << 40 | segment id (24) << 16 | offset (16), little-endian
 * bytes; all zero = empty (ids start at 1). */
typedef struct htab_slot {
    unsigned char b[HTAB_SLOT_BYTES];
} htab_slot;

struct htab_table {
    htab_slot *slots;   /* nbuckets * HTAB_BUCKET */
    uint8_t  *spill;    /* per bucket: entries stored past it (255 = sticky) */
    uint64_t  nbuckets;
    uint64_t  count;    /* live entries */
};

struct htab {
    struct htab_table t[2];  /* t[0] current; t[1] the target while growing */
    bool     migrating;
    uint64_t pos;            /* next t[0] bucket to move */
    /* The newest table, published for htab_prefetch, which runs without
     * the owner's lock: a stale or mismatched pair only makes it prefetch
     * a useless address (a prefetch never faults). */
    _Atomic(htab_slot *) pf_slots;
    _Atomic uint64_t pf_nbuckets;
};

/* Start loading the home bucket of hv into the cache. Needs no lock. */
void htab_prefetch(struct htab *h, uint64_t hv);
/* Start loading the first `span` bytes (and at least 64) of the items
 * (and their segment headers) that the home bucket of hv names under
 * hv's tag: the candidates a lookup will compare. Under the owner's lock.
 * Returns the address of the first candidate (0: none), for a later
 * prefetch of more of it (an address only: it may be stale by then). */
uintptr_t htab_prefetch_items(const struct htab *h, uint64_t hv, size_t span);

/* power = log2 of the initial slot count. 0 or -1 (ENOMEM). */
int htab_create(struct htab *h, unsigned power);
void htab_destroy(struct htab *h);

/* The slot holding `key`, or NULL. */
htab_slot *htab_find(struct htab *h, uint64_t hv, const void *key, size_t nkey);
/* The slot that points at item `it` (whose key hashes to hv), or NULL. */
htab_slot *htab_find_item(struct htab *h, uint64_t hv, const void *it);
/* The slot of an item under hv's tag that `match` accepts, or NULL: for
 * a caller that knows the hash but not the key (the flash compactor). */
typedef bool (*htab_match_fn)(const unsigned char *it, const void *arg);
htab_slot *htab_find_by(struct htab *h, uint64_t hv, htab_match_fn match, const void *arg);
/* Add an item whose key is known to be absent. 0, or -1 if no table
 * memory could be had (the item is then not indexed). */
int htab_insert(struct htab *h, uint64_t hv, const void *it);
/* Point an existing slot at a new copy of the same key. */
void htab_set(htab_slot *slot, uint64_t hv, const void *it);
/* Empty a slot found by htab_find*() for the key hashing to hv. */
void htab_remove(struct htab *h, uint64_t hv, htab_slot *slot);
/* Move a few buckets of a running migration; cheap when none runs. */
void htab_step(struct htab *h);

/* A slot is read and written as a 4- and a 2-byte word where the machine
 * is little-endian like the slot: byte by byte, writing one was a loop of
 * six shifts and stores, 57 instructions of every set (callgrind, issue
 * 21). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static inline uint64_t htab_slot_get(const htab_slot *s)
{
    uint32_t lo;
    uint16_t hi;

    memcpy(&lo, s->b, sizeof(lo));
    memcpy(&hi, s->b + sizeof(lo), sizeof(hi));
    return (uint64_t)hi << 32 | lo;
}

static inline void htab_slot_put(htab_slot *s, uint64_t v)
{
    uint32_t lo = (uint32_t)v;
    uint16_t hi = (uint16_t)(v >> 32);

    memcpy(s->b, &lo, sizeof(lo));
    memcpy(s->b + sizeof(lo), &hi, sizeof(hi));
}
#else
static inline uint64_t htab_slot_get(const htab_slot *s)
{
    return (uint64_t)s->b[0] | (uint64_t)s->b[1] << 8 | (uint64_t)s->b[2] << 16 |
           (uint64_t)s->b[3] << 24 | (uint64_t)s->b[4] << 32 | (uint64_t)s->b[5] << 40;
}

static inline void htab_slot_put(htab_slot *s, uint64_t v)
{
    for (unsigned i = 0; i < HTAB_SLOT_BYTES; i++)
        s->b[i] = (unsigned char)(v >> (8 * i));
}
#endif

/* The item a slot value names. */
static inline unsigned char *htab_item(uint64_t v)
{
    return (unsigned char *)seg_by_id((uint32_t)(v >> SEG_OFF_BITS) & SEG_ID_MAX) +
           (v & ((UINT64_C(1) << SEG_OFF_BITS) - 1));
}

/* The item a slot found by htab_find*() names. */
static inline unsigned char *htab_slot_item(const htab_slot *s)
{
    return htab_item(htab_slot_get(s));
}

size_t htab_bytes(const struct htab *h);
uint64_t htab_slots(const struct htab *h);   /* of the current (target) table */
uint64_t htab_count(const struct htab *h);   /* live entries, both tables */

#endif
