/*
 * htab: linear probing with tombstones and incremental, cluster-wise
 * migration.
 *
 * Why linear probing: 8 slots share a cache line, so a probe run is mostly
 * one miss, and there are no per-entry chain pointers (memory per item is
 * the point of this engine). Deletion leaves a tombstone, because the slot
 * stores no hash from which a backward shift could find an entry's home; a
 * tombstone followed by an empty slot is cleared at once, and migration
 * drops the rest.
 *
 * Why migration moves whole clusters: a lookup in the old table stops at
 * the first empty slot. Migration starts just after an empty slot and only
 * pauses in front of one, so every entry still in the old table keeps an
 * unbroken probe run from its home slot; lookups check the new table, then
 * the old one. New keys go only to the new table.
 */
#include "storage/htab.h"

#include <errno.h>
#include <stdlib.h>

#include "core/hash.h"
#include "storage/item.h"

#define HTAB_TOMB            UINT64_C(1)   /* no item lives at address 1 */
#define HTAB_TAG_SHIFT       32            /* tag bits of the hash: 32..47 */
/* Grow past 80% fill: unsuccessful probes at 0.8 average ~13 slots (two
 * cache lines); higher fills get long runs fast. */
#define HTAB_LOAD_NUM        4
#define HTAB_LOAD_DEN        5
/* Slots visited per operation while migrating. With a target at most 40%
 * full at start, the target cannot fill up before the move ends. */
#define HTAB_MIGRATE_SLOTS   64
#define HTAB_POWER_MIN       4

static uint64_t htab_tag(uint64_t hv)
{
    return ((hv >> HTAB_TAG_SHIFT) & 0xffff) << HTAB_PTR_BITS;
}

static bool table_full(const struct htab_table *t, uint64_t extra)
{
    return (t->fill + extra) * HTAB_LOAD_DEN > (t->mask + 1) * HTAB_LOAD_NUM;
}

static int table_alloc(struct htab_table *t, uint64_t nslots)
{
    /* calloc of a large block is fresh zero pages from mmap: slots become
     * resident only as they are written. */
    t->slots = calloc(nslots, sizeof(uint64_t));
    if (t->slots == NULL)
        return -1;
    t->mask = nslots - 1;
    t->fill = 0;
    t->count = 0;
    return 0;
}

int htab_create(struct htab *h, unsigned power)
{
    if (power < HTAB_POWER_MIN)
        power = HTAB_POWER_MIN;
    h->migrating = false;
    h->t[1].slots = NULL;
    if (table_alloc(&h->t[0], UINT64_C(1) << power) < 0) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

void htab_destroy(struct htab *h)
{
    free(h->t[0].slots);
    free(h->t[1].slots);
    h->t[0].slots = h->t[1].slots = NULL;
    h->migrating = false;
}

static uint64_t *table_find(struct htab_table *t, uint64_t hv, const void *key,
                            size_t nkey)
{
    uint64_t tag = htab_tag(hv), i = hv & t->mask, s;

    while ((s = t->slots[i]) != 0) {
        if (s != HTAB_TOMB && (s & ~HTAB_PTR_MASK) == tag) {
            size_t n;
            const unsigned char *k = item_key(htab_item(s), &n);
            if (n == nkey && memcmp(k, key, n) == 0)
                return &t->slots[i];
        }
        i = (i + 1) & t->mask;
    }
    return NULL;
}

uint64_t *htab_find(struct htab *h, uint64_t hv, const void *key, size_t nkey)
{
    uint64_t *s;

    if (h->migrating && (s = table_find(&h->t[1], hv, key, nkey)) != NULL)
        return s;
    return table_find(&h->t[0], hv, key, nkey);
}

static uint64_t *table_find_item(struct htab_table *t, uint64_t hv, const void *it)
{
    uint64_t want = htab_tag(hv) | ((uint64_t)(uintptr_t)it & HTAB_PTR_MASK);
    uint64_t i = hv & t->mask, s;

    while ((s = t->slots[i]) != 0) {
        if (s == want)
            return &t->slots[i];
        i = (i + 1) & t->mask;
    }
    return NULL;
}

uint64_t *htab_find_item(struct htab *h, uint64_t hv, const void *it)
{
    uint64_t *s;

    if (h->migrating && (s = table_find_item(&h->t[1], hv, it)) != NULL)
        return s;
    return table_find_item(&h->t[0], hv, it);
}

static void table_put(struct htab_table *t, uint64_t hv, const void *it)
{
    uint64_t i = hv & t->mask;

    while (t->slots[i] != 0 && t->slots[i] != HTAB_TOMB)
        i = (i + 1) & t->mask;
    if (t->slots[i] == 0)
        t->fill++;
    t->slots[i] = htab_tag(hv) | ((uint64_t)(uintptr_t)it & HTAB_PTR_MASK);
    t->count++;
}

static void migrate_finish(struct htab *h)
{
    free(h->t[0].slots);
    h->t[0] = h->t[1];
    h->t[1].slots = NULL;
    h->migrating = false;
}

/* Visit at least HTAB_MIGRATE_SLOTS slots (all of them if `all`), pausing
 * only at a cluster boundary. */
static void migrate(struct htab *h, bool all)
{
    struct htab_table *from = &h->t[0], *to = &h->t[1];
    uint64_t done = 0;

    while (h->left > 0 &&
           (all || done < HTAB_MIGRATE_SLOTS || from->slots[h->pos] != 0)) {
        uint64_t s = from->slots[h->pos];
        if (s != 0) {
            if (s != HTAB_TOMB) {
                size_t n;
                const unsigned char *k = item_key(htab_item(s), &n);
                table_put(to, hash_key(k, n), htab_item(s));
            }
            from->slots[h->pos] = 0;
        }
        h->pos = (h->pos + 1) & from->mask;
        h->left--;
        done++;
    }
    if (h->left == 0)
        migrate_finish(h);
}

void htab_step(struct htab *h)
{
    if (h->migrating)
        migrate(h, false);
}

static int migrate_start(struct htab *h)
{
    struct htab_table *t = &h->t[0];
    uint64_t nslots = t->mask + 1, i = 0;

    /* Double if live entries alone would fill the new table past half its
     * limit; otherwise same size, which just sweeps out tombstones. */
    if ((t->count + 1) * HTAB_LOAD_DEN * 2 > nslots * HTAB_LOAD_NUM)
        nslots *= 2;
    if (table_alloc(&h->t[1], nslots) < 0)
        return -1;
    while (t->slots[i] != 0)   /* an empty slot exists: fill is < 100% */
        i++;
    h->pos = (i + 1) & t->mask;
    h->left = t->mask;         /* every slot but the empty one */
    h->migrating = true;
    return 0;
}

int htab_insert(struct htab *h, uint64_t hv, const void *it)
{
    if (h->migrating && table_full(&h->t[1], 1))
        migrate(h, true);   /* cannot happen with the step sizes above */
    if (!h->migrating && table_full(&h->t[0], 1) && migrate_start(h) < 0) {
        /* no memory for a bigger table: squeeze into this one while it
         * still has an empty slot to end probe runs */
        if (h->t[0].fill + 2 > h->t[0].mask + 1)
            return -1;
    }
    table_put(h->migrating ? &h->t[1] : &h->t[0], hv, it);
    return 0;
}

void htab_set(uint64_t *slot, uint64_t hv, const void *it)
{
    *slot = htab_tag(hv) | ((uint64_t)(uintptr_t)it & HTAB_PTR_MASK);
}

void htab_remove(struct htab *h, uint64_t *slot)
{
    struct htab_table *t = &h->t[0];
    uint64_t i;

    if (h->migrating && slot >= h->t[1].slots && slot <= h->t[1].slots + h->t[1].mask)
        t = &h->t[1];
    i = (uint64_t)(slot - t->slots);
    t->count--;
    if (t->slots[(i + 1) & t->mask] != 0) {
        t->slots[i] = HTAB_TOMB;
        return;
    }
    /* Nothing probes past an empty slot, so this one and the tombstones
     * right before it can be empty too. */
    do {
        t->slots[i] = 0;
        t->fill--;
        i = (i - 1) & t->mask;
    } while (t->slots[i] == HTAB_TOMB);
}

size_t htab_bytes(const struct htab *h)
{
    size_t n = (h->t[0].mask + 1) * sizeof(uint64_t);
    if (h->migrating)
        n += (h->t[1].mask + 1) * sizeof(uint64_t);
    return n;
}

uint64_t htab_slots(const struct htab *h)
{
    return (h->migrating ? h->t[1].mask : h->t[0].mask) + 1;
}
