/* Unit tests for the hash index (htab.c) on its own: growth by 1.5x with
 * incremental migration while keys are added, deleted and overwritten in
 * mixed order, every key found at every point, spill counts that stay
 * exact (checked against a from-scratch recount), and the growth threshold.
 * Items are real item.h records in real segments (slots name them by
 * segment id and offset). */
#include "storage/htab.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/hash.h"
#include "storage/item.h"
#include "unit.h"

#define NKEYS 60000
#define ITEM_MAX 64
#define SEG_BYTES 65536
#define PER_SEG ((SEG_BYTES - SEG_HDR_SIZE) / ITEM_MAX)
#define NSEGS ((NKEYS + PER_SEG - 1) / PER_SEG)

static struct seg *segs[NSEGS];  /* NKEYS items of ITEM_MAX bytes */
static bool present[NKEYS];

static unsigned char *item_at(int i)
{
    return seg_data(segs[i / (int)PER_SEG]) + (size_t)(i % (int)PER_SEG) * ITEM_MAX;
}

static size_t key_of(int i, char *k)
{
    return (size_t)snprintf(k, 32, "key:%d", i);
}

static void make_items(void)
{
    char k[32];
    int i;

    seg_setup(SEG_BYTES, (uint64_t)NSEGS * SEG_BYTES, false);
    for (i = 0; i < (int)NSEGS; i++) {
        if (!seg_budget_take(SEG_BYTES) || (segs[i] = seg_create(1)) == NULL)
            abort();
    }
    for (i = 0; i < NKEYS; i++) {
        size_t n = key_of(i, k);
        size_t off = item_encode(item_at(i), (uint8_t)n, 1, 0, 0, 0, 0, 0);
        memcpy(item_at(i) + off, k, n);
        item_at(i)[off + n] = 'v';
    }
}

static uint64_t hv_of(int i)
{
    char k[32];
    size_t n = key_of(i, k);
    return hash_key(k, n);
}

static htab_slot *find(struct htab *h, int i)
{
    char k[32];
    size_t n = key_of(i, k);
    return htab_find(h, hash_key(k, n), k, n);
}

/* Every present key is found and points at its item, every absent key is
 * not found, and the counts agree. */
static int check_all(struct htab *h, int upto)
{
    int i, bad = 0;
    uint64_t n = 0;

    for (i = 0; i < upto; i++) {
        htab_slot *s = find(h, i);
        if (present[i]) {
            n++;
            bad += s == NULL || htab_slot_item(s) != item_at(i);
            bad += htab_find_item(h, hv_of(i), item_at(i)) != s;
        } else {
            bad += s != NULL;
        }
    }
    bad += htab_count(h) != n;
    return bad;
}

/* Spill counts recomputed from scratch must equal the kept ones. */
static int check_spill(const struct htab_table *t)
{
    uint8_t *want = calloc(t->nbuckets, 1);
    uint64_t b, i;
    int bad = 0;

    for (b = 0; b < t->nbuckets; b++)
        for (i = 0; i < HTAB_BUCKET; i++) {
            uint64_t s = htab_slot_get(&t->slots[b * HTAB_BUCKET + i]);
            size_t n;
            const unsigned char *k;
            uint64_t home;
            if (s == 0)
                continue;
            k = item_key(htab_item(s), &n);
            home = ((hash_key(k, n) & 0xffffffffu) * t->nbuckets) >> 32;
            for (; home != b; home = home + 1 == t->nbuckets ? 0 : home + 1)
                want[home]++;
        }
    for (b = 0; b < t->nbuckets; b++)
        bad += want[b] != t->spill[b];
    free(want);
    return bad;
}

static void test_growth_mixed(void)
{
    struct htab h;
    uint64_t x = 88172645463325252ull;
    int i, bad = 0, grew = 0, checked_migrating = 0;
    uint64_t slots0, last_checked = 0;

    memset(present, 0, sizeof(present));
    CHECK_EQ_INT(htab_create(&h, 4), 0);
    slots0 = htab_slots(&h);
    /* mostly inserts, with deletes and overwrites of earlier keys mixed in */
    for (i = 0; i < NKEYS; i++) {
        htab_step(&h);
        CHECK_EQ_INT(htab_insert(&h, hv_of(i), item_at(i)), 0);
        present[i] = true;
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        int j = (int)(x % (uint64_t)(i + 1));
        htab_step(&h);
        if (x & 0x100) {          /* delete j if present */
            htab_slot *s = find(&h, j);
            bad += (s != NULL) != present[j];
            if (s != NULL) {
                htab_remove(&h, hv_of(j), s);
                present[j] = false;
            }
        } else if (x & 0x200) {   /* re-add j if absent */
            if (!present[j]) {
                bad += find(&h, j) != NULL;
                CHECK_EQ_INT(htab_insert(&h, hv_of(j), item_at(j)), 0);
                present[j] = true;
            }
        } else if (present[j]) {  /* overwrite in place */
            htab_slot *s = find(&h, j);
            bad += s == NULL;
            if (s != NULL)
                htab_set(s, hv_of(j), item_at(j));
        }
        /* once per migration, half-way through, of the larger tables */
        if (h.migrating && h.t[1].nbuckets != last_checked && i > 2000 &&
            h.pos >= h.t[0].nbuckets / 2) {
            last_checked = h.t[1].nbuckets;
            checked_migrating++;
            bad += check_all(&h, i + 1);
            bad += check_spill(&h.t[0]) + check_spill(&h.t[1]);
        }
    }
    grew = htab_slots(&h) > slots0;
    CHECK(grew);
    CHECK(checked_migrating > 0);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(check_all(&h, NKEYS), 0);
    /* fill stays at or under 90% of the current table, over ~55% */
    while (h.migrating)
        htab_step(&h);
    CHECK(htab_count(&h) * 10 <= htab_slots(&h) * 9);
    CHECK_EQ_INT(check_spill(&h.t[0]), 0);
    /* delete everything: spills go back to zero, nothing is found */
    for (i = 0; i < NKEYS; i++) {
        if (present[i]) {
            htab_slot *s = find(&h, i);
            CHECK(s != NULL);
            if (s != NULL)
                htab_remove(&h, hv_of(i), s);
            present[i] = false;
        }
    }
    CHECK_EQ_INT(htab_count(&h), 0);
    CHECK_EQ_INT(check_all(&h, NKEYS), 0);
    CHECK_EQ_INT(check_spill(&h.t[0]), 0);
    for (uint64_t b = 0; b < h.t[0].nbuckets; b++)
        bad += h.t[0].spill[b] != 0;
    CHECK_EQ_INT(bad, 0);
    htab_destroy(&h);
}

/* A small table up to its 90% limit does not grow; the next insert starts
 * a migration, and every key is found before, during and after it. */
static void test_grow_threshold(void)
{
    struct htab h;
    int i, bad = 0, limit;

    memset(present, 0, sizeof(present));
    CHECK_EQ_INT(htab_create(&h, 6), 0);   /* 8 buckets, 64 slots */
    limit = (int)htab_slots(&h) * 9 / 10;
    for (i = 0; i < limit; i++) {
        CHECK_EQ_INT(htab_insert(&h, hv_of(i), item_at(i)), 0);
        present[i] = true;
    }
    CHECK(!h.migrating);
    bad += check_all(&h, 64) + check_spill(&h.t[0]);
    CHECK_EQ_INT(htab_insert(&h, hv_of(i), item_at(i)), 0);
    present[i] = true;
    CHECK(h.migrating);
    CHECK_EQ_INT(htab_slots(&h), 96);      /* 1.5x */
    bad += check_all(&h, 64) + check_spill(&h.t[0]) + check_spill(&h.t[1]);
    htab_step(&h);                         /* 8 buckets per step: all moved */
    CHECK(!h.migrating);
    bad += check_all(&h, 64) + check_spill(&h.t[0]);
    CHECK_EQ_INT(bad, 0);
    htab_destroy(&h);
}

/* A slot names its item through the segment id table: the same offset
 * in two segments is two items, and every item of the arena round-trips. */
static void test_slot_names(void)
{
    htab_slot sl;
    int i, bad = 0;

    for (i = 0; i < NKEYS; i += 97) {
        htab_set(&sl, hv_of(i), item_at(i));
        bad += htab_slot_item(&sl) != item_at(i);
        bad += htab_slot_get(&sl) >> HTAB_REF_BITS != ((hv_of(i) >> 32) & 0xff);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(segs[0]->id != segs[1]->id);
    CHECK(seg_by_id(segs[1]->id) == segs[1]);
    htab_set(&sl, 0, item_at(0));
    CHECK(htab_slot_item(&sl) == item_at(0));
    htab_set(&sl, 0, item_at((int)PER_SEG));
    CHECK(htab_slot_item(&sl) == item_at((int)PER_SEG));
    CHECK(htab_slot_get(&sl) != 0);
}

/* The batch prefetch names where each key's first candidate is, for the
 * later load of the rest of its value: the key's own item, but where a
 * bucket mate shares its tag byte (1 in 256 per mate) or the key spilled
 * out of its full home bucket (none then); none in an empty table. */
static void test_prefetch_names_item(void)
{
    struct htab h;
    int i, n = 5000, own = 0, none = 0;

    CHECK_EQ_INT(htab_create(&h, 14), 0);
    CHECK(htab_prefetch_items(&h, hv_of(0), 64) == 0);
    for (i = 0; i < n; i++)
        CHECK_EQ_INT(htab_insert(&h, hv_of(i), item_at(i)), 0);
    for (i = 0; i < n; i++) {
        uintptr_t a = htab_prefetch_items(&h, hv_of(i), 1024);
        own += a == (uintptr_t)item_at(i);
        none += a == 0;
    }
    CHECK(none <= n / 100);
    CHECK(own >= n - n / 50);
    htab_destroy(&h);
}

int main(void)
{
    if (hash_setup() != 0)
        return 1;
    make_items();
    test_slot_names();
    test_growth_mixed();
    test_grow_threshold();
    test_prefetch_names_item();
    for (int i = 0; i < (int)NSEGS; i++)
        seg_destroy(segs[i]);
    seg_teardown();
    return unit_report("test_htab");
}
