/*
 * htab: one shard's key index. Buckets of 8 slots, one cache line each;
 * a slot is a 48-bit item pointer plus a 16-bit tag from the key hash, so
 * most mismatches cost no key compare and no cache miss into the item.
 * A full bucket spills into the next (bucketized linear probing), and a
 * per-bucket count of entries that spilled past it (F14-style) lets a
 * lookup stop at the first bucket with none: no tombstones, misses cost
 * about one cache line. Bucket counts are not powers of two (the home
 * bucket is hash * nbuckets >> 32), so the table grows by half, not by
 * doubling, and stays 60-90% full (8.9-13.3 bytes per item) without a
 * doubling spike. Growth is incremental: both tables live side by side
 * while a few buckets move per operation. Not thread-safe: the owning
 * shard's lock covers it.
 */
#ifndef HC_STORAGE_HTAB_H
#define HC_STORAGE_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTAB_PTR_BITS  48
#define HTAB_PTR_MASK  ((UINT64_C(1) << HTAB_PTR_BITS) - 1)
#define HTAB_BUCKET    8    /* slots per bucket: 64 bytes, one cache line */

struct htab_table {
    uint64_t *slots;    /* nbuckets * HTAB_BUCKET; 0 = empty */
    uint8_t  *spill;    /* per bucket: entries stored past it (255 = sticky) */
    uint64_t  nbuckets;
    uint64_t  count;    /* live entries */
};

struct htab {
    struct htab_table t[2];  /* t[0] current; t[1] the target while growing */
    bool     migrating;
    uint64_t pos;            /* next t[0] bucket to move */
};

/* power = log2 of the initial slot count. 0 or -1 (ENOMEM). */
int htab_create(struct htab *h, unsigned power);
void htab_destroy(struct htab *h);

/* The slot holding `key`, or NULL. */
uint64_t *htab_find(struct htab *h, uint64_t hv, const void *key, size_t nkey);
/* The slot that points at item `it` (whose key hashes to hv), or NULL. */
uint64_t *htab_find_item(struct htab *h, uint64_t hv, const void *it);
/* Add an item whose key is known to be absent. 0, or -1 if no table
 * memory could be had (the item is then not indexed). */
int htab_insert(struct htab *h, uint64_t hv, const void *it);
/* Point an existing slot at a new copy of the same key. */
void htab_set(uint64_t *slot, uint64_t hv, const void *it);
/* Empty a slot found by htab_find*() for the key hashing to hv. */
void htab_remove(struct htab *h, uint64_t hv, uint64_t *slot);
/* Move a few buckets of a running migration; cheap when none runs. */
void htab_step(struct htab *h);

static inline unsigned char *htab_item(uint64_t slot)
{
    return (unsigned char *)(uintptr_t)(slot & HTAB_PTR_MASK);
}

size_t htab_bytes(const struct htab *h);
uint64_t htab_slots(const struct htab *h);   /* of the current (target) table */
uint64_t htab_count(const struct htab *h);   /* live entries, both tables */

#endif
