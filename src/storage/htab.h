/*
 * htab: one shard's key index. Open addressing with linear probing over
 * 8-byte slots (a 48-bit item pointer plus a 16-bit tag from the key hash,
 * so most mismatches cost no key compare and no cache miss into the item).
 * It grows without stopping the world: like Redis, two tables live side by
 * side while a few slots move per operation. Not thread-safe: the owning
 * shard's lock covers it.
 */
#ifndef HC_STORAGE_HTAB_H
#define HC_STORAGE_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTAB_PTR_BITS  48
#define HTAB_PTR_MASK  ((UINT64_C(1) << HTAB_PTR_BITS) - 1)

struct htab_table {
    uint64_t *slots;   /* 0 = empty, HTAB_TOMB = deleted */
    uint64_t  mask;    /* slots - 1 (a power of two) */
    uint64_t  fill;    /* non-empty slots, tombstones included */
    uint64_t  count;   /* live entries */
};

struct htab {
    struct htab_table t[2];  /* t[0] current; t[1] the target while migrating */
    bool     migrating;
    uint64_t pos;            /* next t[0] slot to migrate */
    uint64_t left;           /* t[0] slots still to visit */
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
void htab_remove(struct htab *h, uint64_t *slot);
/* Move a few slots of a running migration; cheap when none runs. */
void htab_step(struct htab *h);

static inline unsigned char *htab_item(uint64_t slot)
{
    return (unsigned char *)(uintptr_t)(slot & HTAB_PTR_MASK);
}

size_t htab_bytes(const struct htab *h);
uint64_t htab_slots(const struct htab *h);   /* of the current (target) table */

#endif
