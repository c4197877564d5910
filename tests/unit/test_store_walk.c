/* Unit tests for what the store tells without walking its items and for
 * its walks in steps: the per-class counts (store_classes_get) through
 * every path that writes, moves or retires an item; the crawler's step
 * skipping segments where nothing can have died; a dump resumed at a
 * cursor whose segment matches but whose offset is not an item's. */
#include "storage/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/hash.h"
#include "storage/size_class.h"
#include "unit.h"

#define MiB (1024u * 1024u)

static const char *memory_file;   /* -e, for the restart test */

static void setup(uint64_t mem_limit, unsigned nshards)
{
    struct store_config c = {
        .mem_limit = mem_limit, .item_size_max = 1 * MiB, .evict = true,
        .use_cas = true, .nshards = nshards, .memory_file = memory_file,
    };
    if (store_setup(&c) != 0) {
        fprintf(stderr, "store_setup failed\n");
        exit(1);
    }
}

static enum store_status put(enum store_mode mode, const char *k, uint32_t flags,
                             rel_time_t exp, size_t nv)
{
    static char v[300000];

    memset(v, '7', nv);   /* a number, for incr */
    return store_write(&(struct store_write){
        .mode = mode, .key = k, .nkey = strlen(k), .flags = flags, .exptime = exp,
        .value = v, .nvalue = nv }, NULL);
}

static void ignore_item(const struct store_item *it, void *ctx)
{
    (void)it;
    (void)ctx;
}

static bool read_key(const char *k)
{
    return store_read(&(struct store_read){ .key = k, .nkey = strlen(k) }, ignore_item,
                      NULL) == STORE_FOUND;
}

/* Every dead item freed, as a whole crawler pass does. */
static uint64_t reclaim_all(uint64_t *reclaimed)
{
    struct store_cursor cur = { 0 };
    struct store_reclaim_tally t = { 0 };

    while (store_reclaim_step(&cur, 64, &t))
        ;
    if (reclaimed != NULL)
        *reclaimed = t.reclaimed;
    return t.checked;
}

struct tally {
    uint64_t number[SIZE_CLASS_MAX], bytes[SIZE_CLASS_MAX];
};

static void count_item(const struct store_item *it, void *ctx)
{
    struct tally *t = ctx;
    unsigned c = size_class_of_item(it->nkey, it->nvalue, it->flags != 0);

    t->number[c]++;
    t->bytes[c] += it->size;
}

/* The counts add up to curr_items and bytes at any time; once the dead
 * are freed, each class holds exactly the live items a walk finds in it. */
static void check_counts(const char *when)
{
    struct store_class c[SIZE_CLASS_MAX];
    struct store_stats st;
    struct store_cursor cur = { 0 };
    struct tally t = { { 0 }, { 0 } };
    uint64_t n = 0, b = 0;
    int wrong = 0;

    store_classes_get(c, false);
    store_stats_get(&st);
    for (unsigned i = 0; i < SIZE_CLASS_MAX; i++) {
        n += c[i].number;
        b += c[i].bytes;
    }
    CHECK_EQ_INT(n, st.curr_items);
    CHECK_EQ_INT(b, st.bytes);
    reclaim_all(NULL);
    store_classes_get(c, false);
    while (store_walk_step(&cur, 100, count_item, &t))
        ;
    for (unsigned i = 0; i < SIZE_CLASS_MAX; i++)
        wrong += c[i].number != t.number[i] || c[i].bytes != t.bytes[i];
    CHECK_EQ_INT(wrong, 0);
    if (wrong != 0 || n != st.curr_items)
        fprintf(stderr, "  counts wrong after %s\n", when);
}

/* A value length for key i: spread over classes 1..~20. */
static size_t len_of(int i)
{
    static const size_t lens[] = { 0, 5, 40, 90, 200, 400, 700, 1500, 3000, 9000 };
    return lens[i % 10];
}

static void test_counts_through_every_path(void)
{
    char k[32];
    int i;

    setup(64 * MiB, 4);
    for (i = 0; i < 2000; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        put(STORE_SET, k, (uint32_t)(i % 3), i % 4 ? 0 : clock_now() + 10, len_of(i));
    }
    check_counts("sets");
    for (i = 0; i < 2000; i += 3) {   /* overwrite into another class */
        snprintf(k, sizeof(k), "k%d", i);
        put(STORE_SET, k, 0, 0, len_of(i + 1));
    }
    check_counts("overwrites");
    for (i = 1; i < 2000; i += 7) {
        snprintf(k, sizeof(k), "k%d", i);
        store_delete(&(struct store_delete){ .key = k, .nkey = strlen(k) }, NULL);
    }
    check_counts("deletes");
    for (i = 2; i < 2000; i += 5) {   /* grows, maybe into the next class */
        snprintf(k, sizeof(k), "k%d", i);
        put(i % 2 ? STORE_APPEND : STORE_PREPEND, k, 0, 0, 60);
    }
    check_counts("appends");
    for (i = 0; i < 2000; i += 11) {   /* touch: in place, or moved to get an expiry */
        snprintf(k, sizeof(k), "k%d", i);
        store_touch(k, strlen(k), clock_now() + 1000, NULL);
    }
    put(STORE_SET, "n", 0, 0, 3);
    store_arith(&(struct store_arith){ .key = "n", .nkey = 1, .incr = true, .delta = 5 }, NULL);
    store_delete(&(struct store_delete){ .key = "k4", .nkey = 2, .invalidate = true }, NULL);
    check_counts("touch, incr, md I");
    put(STORE_SET, "big1", 0, 0, 200000);   /* large items, their own segments */
    put(STORE_SET, "big2", 0, 0, 100000);
    put(STORE_SET, "big1", 5, 0, 150000);
    check_counts("large items");

    /* expiry: counted (as memcached counts them) until freed by a lookup,
     * the crawler or eviction */
    clock_advance(20);
    for (i = 0; i < 400; i += 4)
        read_key((snprintf(k, sizeof(k), "k%d", i), k));
    check_counts("expiry");
    /* flush: the same */
    store_flush(0);
    for (i = 0; i < 300; i++) {
        snprintf(k, sizeof(k), "after%d", i);
        put(STORE_SET, k, 1, 0, len_of(i));
    }
    check_counts("flush");
    store_teardown();
}

/* Eviction (whole segments, and compaction keeping the items read since)
 * and defragmentation move and drop items: the counts follow. */
static void test_counts_through_eviction_and_defrag(void)
{
    char k[32];
    uint64_t x = 777;
    struct store_stats st;
    int i;

    setup(4 * MiB, 4);
    for (i = 0; i < 30000; i++) {
        snprintf(k, sizeof(k), "e%d", i);
        put(STORE_SET, k, 0, i % 5 ? 0 : clock_now() + 2, len_of(i) % 2000);
        if (i % 300 == 0)
            for (int j = 0; j < 50; j++)
                read_key((snprintf(k, sizeof(k), "e%d", i - j), k));
        if (i == 15000)
            clock_advance(5);   /* some die before their segment is evicted */
    }
    store_stats_get(&st);
    CHECK(st.evictions > 1000);
    check_counts("eviction and compaction");
    store_teardown();

    setup(256 * MiB, 4);
    for (i = 0; i < 100000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        snprintf(k, sizeof(k), "churn%d", (int)(x % 2000));
        put(STORE_SET, k, (uint32_t)(x % 2), 0, 100 + x % 200);
    }
    store_stats_get(&st);
    CHECK_EQ_INT(st.evictions, 0);
    CHECK(st.mem_used < 2 * MiB);   /* defragmentation ran: 11 MiB were written */
    check_counts("defragmentation");
    store_teardown();
}

/* The crawler reads only segments where something may have died: none
 * after a pass with no expiry due and no flush since. */
static void test_crawler_skips_what_cannot_have_died(void)
{
    char k[32];
    uint64_t freed;
    int i;

    setup(64 * MiB, 2);
    for (i = 0; i < 20000; i++) {
        snprintf(k, sizeof(k), "c%d", i);
        put(STORE_SET, k, 0, i % 2 ? 0 : clock_now() + 100, 20);
    }
    CHECK_EQ_INT(reclaim_all(&freed), 0);   /* nothing due: nothing read */
    put(STORE_SET, "soon", 0, clock_now() + 3, 20);
    clock_advance(5);
    CHECK(reclaim_all(&freed) > 0);          /* its segment is read... */
    CHECK_EQ_INT(freed, 1);
    CHECK_EQ_INT(reclaim_all(&freed), 0);   /* ...once: its earliest expiry moved on */
    clock_advance(100);
    CHECK(reclaim_all(&freed) > 0);
    CHECK_EQ_INT(freed, 10000);
    CHECK_EQ_INT(reclaim_all(&freed), 0);
    store_flush(0);
    put(STORE_SET, "after", 0, 0, 20);
    CHECK(reclaim_all(&freed) > 0);
    CHECK_EQ_INT(freed, 10000);
    /* what is left is the heads the flush cut through: at most a segment
     * a shard is read again */
    CHECK(reclaim_all(&freed) <= 2 * (64 * 1024 / 20));
    CHECK_EQ_INT(freed, 0);
    CHECK(read_key("after"));
    store_teardown();
}

/* A restart from the -e file counts the items it loads, and what the
 * crawler knows of each segment is worked out again. */
static void test_counts_after_restart(void)
{
    char path[64], k[32];
    uint64_t freed;
    rel_time_t exp;
    int i;

    snprintf(path, sizeof(path), "/dev/shm/hc-test-store-walk-%d", (int)getpid());
    memory_file = path;
    setup(16 * MiB, 4);
    exp = clock_now() + 50;
    for (i = 0; i < 3000; i++) {
        snprintf(k, sizeof(k), "r%d", i);
        put(STORE_SET, k, (uint32_t)(i % 2), i % 3 ? 0 : exp, len_of(i));
    }
    for (i = 0; i < 3000; i += 4)   /* two copies in the file, one live */
        put(STORE_SET, (snprintf(k, sizeof(k), "r%d", i), k), 0, 0, len_of(i + 3));
    store_teardown();
    setup(16 * MiB, 4);
    check_counts("restart");
    CHECK_EQ_INT(reclaim_all(&freed), 0);
    clock_advance(exp + 1 - clock_now());   /* the restart took the file's clock */
    CHECK(reclaim_all(&freed) > 0);
    CHECK(freed > 0);
    check_counts("restart, expiry");
    store_teardown();
    unlink(path);
    memory_file = NULL;
}

struct seen {
    int n, bad;
};

static void check_key(const struct store_item *it, void *ctx)
{
    struct seen *s = ctx;
    char k[32];
    int i = 0;

    s->n++;
    if (it->nkey < 2 || it->nkey > 6 || it->key[0] != 'w' || it->nvalue != 20) {
        s->bad++;
        return;
    }
    memcpy(k, it->key + 1, it->nkey - 1);
    k[it->nkey - 1] = '\0';
    i = atoi(k);
    s->bad += i < 0 || i >= 1000;
}

/* A cursor keeps the low 15 bits of its segment's base: a segment reused
 * or compacted since may match it, and its offset then falls anywhere in
 * the new items. Forced here by moving a real cursor's offset one byte
 * into an item: the walk goes on at the next item, never inside one. */
static void test_resume_in_a_reused_segment(void)
{
    struct store_cursor cur = { 0 };
    struct seen s = { 0, 0 };
    char k[32];
    int i;

    setup(64 * MiB, 1);
    for (i = 0; i < 1000; i++) {
        snprintf(k, sizeof(k), "w%d", i);
        put(STORE_SET, k, 0, 0, 20);
    }
    CHECK(store_walk_step(&cur, 10, check_key, &s));
    CHECK(cur.off > 0);
    cur = store_cursor_unpack(store_cursor_pack(&cur));
    cur.off += 1;
    while (store_walk_step(&cur, 100, check_key, &s))
        ;
    CHECK_EQ_INT(s.bad, 0);
    CHECK_EQ_INT(s.n, 999);   /* the item cut into is skipped, no other */
    store_teardown();
}

int main(void)
{
    clock_setup();
    if (hash_setup() != 0)
        return 1;
    RUN(test_counts_through_every_path);
    RUN(test_counts_through_eviction_and_defrag);
    RUN(test_crawler_skips_what_cannot_have_died);
    RUN(test_counts_after_restart);
    RUN(test_resume_in_a_reused_segment);
    return unit_report("test_store_walk");
}
