/* Unit tests for the -e cache file (storage/persist.c): a reload keeps
 * every item; a snapshot taken while the store runs (what kill -9 leaves)
 * loads too, a write cut after its bytes but before its seal is not
 * served; and a file with bytes flipped at random, or truncated, is
 * refused or partly loaded, never served wrong. */
#include "storage/store.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/hash.h"
#include "storage/item.h"
#include "storage/persist.h"
#include "storage/seg.h"
#include "unit.h"

#define MiB (1024u * 1024u)
#define NKEYS 20000
#define FUZZ_ROUNDS 40

static char path[64];
static uint64_t cas[NKEYS];   /* what fill() got */

struct got {
    char     value[256];
    size_t   nvalue;
    uint32_t flags;
    uint64_t cas;
    bool     found;
};

static void copy_item(const struct store_item *it, void *ctx)
{
    struct got *g = ctx;
    g->nvalue = it->nvalue < sizeof(g->value) ? it->nvalue : sizeof(g->value);
    memcpy(g->value, it->value, g->nvalue);
    g->flags = it->flags;
    g->cas = it->cas;
    g->found = true;
}

static int setup(void)
{
    struct store_config c = {
        .mem_limit = 16 * MiB, .item_size_max = 1 * MiB, .evict = true,
        .use_cas = true, .memory_file = path,
    };
    return store_setup(&c);
}

static size_t key_of(unsigned i, char *k)
{
    return (size_t)snprintf(k, 32, "key:%u", i);
}

static size_t value_of(unsigned i, char *v)
{
    size_t n = 0, reps = 1 + i % 9;

    while (reps--)
        n += (size_t)snprintf(v + n, 32, "v%u.", i);
    return n;
}

static void fill(void)
{
    char k[32], v[512];

    for (unsigned i = 0; i < NKEYS; i++) {
        struct store_result r;
        size_t nk = key_of(i, k), nv = value_of(i, v);
        store_write(&(struct store_write){ .mode = STORE_SET, .key = k, .nkey = nk,
                                           .flags = i, .value = v, .nvalue = nv }, &r);
        cas[i] = r.cas;
    }
}

static struct got lookup(const char *k, size_t nk)
{
    struct got g = { .found = false };

    store_read(&(struct store_read){ .key = k, .nkey = nk, .no_bump = true }, copy_item, &g);
    return g;
}

/* Every key found must hold exactly what was written (cas: NULL = any).
 * Returns how many were found. */
static unsigned check_all(const uint64_t *want_cas)
{
    char k[32], v[512];
    unsigned found = 0, wrong = 0;

    for (unsigned i = 0; i < NKEYS; i++) {
        size_t nk = key_of(i, k), nv = value_of(i, v);
        struct got g = lookup(k, nk);
        if (!g.found)
            continue;
        found++;
        if (g.nvalue != nv || memcmp(g.value, v, nv) != 0 || g.flags != i ||
            (want_cas != NULL && g.cas != want_cas[i]))
            wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
    return found;
}

static unsigned char *read_file(size_t *len)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    unsigned char *p;

    if (fd < 0 || fstat(fd, &st) < 0)
        abort();
    p = malloc((size_t)st.st_size);
    if (p == NULL || read(fd, p, (size_t)st.st_size) != st.st_size)
        abort();
    close(fd);
    *len = (size_t)st.st_size;
    return p;
}

static void write_file(const unsigned char *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_TRUNC);

    if (fd < 0 || write(fd, p, len) != (ssize_t)len)
        abort();
    close(fd);
}

static void test_reload(void)
{
    struct store_stats st;

    unlink(path);
    CHECK_EQ_INT(setup(), 0);
    fill();
    store_teardown();
    CHECK_EQ_INT(setup(), 0);
    CHECK_EQ_INT(check_all(cas), NKEYS);
    store_stats_get(&st);
    CHECK_EQ_INT(st.curr_items, NKEYS);
    store_teardown();
}

/* A copy of the file taken while the store runs is what a kill -9
 * leaves. Into it goes a new copy of key:0 written after the last seal of
 * key:0's segment (its bytes there, `used` moved on, no seal: a write the
 * kill cut): the acknowledged value must be served, not the torn one. */
static void test_snapshot_and_torn_write(void)
{
    size_t len, seg;
    unsigned char *snap, *at;
    struct got g;

    CHECK_EQ_INT(setup(), 0);
    snap = read_file(&len);
    store_teardown();
    at = memmem(snap, len, "key:0v0.", 8);
    CHECK(at != NULL);
    if (at == NULL)
        return;
    seg = (size_t)(at - snap) / seg_size();
    {
        struct seg *s = (struct seg *)(snap + seg * seg_size());
        unsigned char *it = seg_data(s) + s->used;
        size_t off = item_encode(it, 5, 4, 0, 0, 0, 0, 0);
        CHECK(s->used + off + 9 <= s->cap);
        memcpy(it + off, "key:0TORN", 9);
        s->used += (uint32_t)(off + 9);
    }
    write_file(snap, len);
    free(snap);
    CHECK_EQ_INT(setup(), 0);
    CHECK_EQ_INT(check_all(cas), NKEYS);
    g = lookup("key:0", 5);
    CHECK(g.found && g.nvalue == 3 && memcmp(g.value, "v0.", 3) == 0);
    store_teardown();
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Flip random bytes (a few in the header's first page, the rest in the
 * used part of the segments), load, and check nothing served is wrong. */
static void test_fuzzed_files(void)
{
    size_t len, used_end;
    unsigned char *orig, *f;
    unsigned partial = 0, cold = 0;

    CHECK_EQ_INT(setup(), 0);
    store_teardown();
    orig = read_file(&len);
    f = malloc(len);
    if (f == NULL)
        abort();
    for (used_end = len; used_end > 0 && orig[used_end - 1] == 0; used_end--)
        ;
    for (int r = 0; r < FUZZ_ROUNDS; r++) {
        unsigned flips = 1 + (unsigned)(rng() % 16), found;
        memcpy(f, orig, len);
        for (unsigned k = 0; k < flips; k++) {
            size_t at = r % 4 == 0 ? rng() % 4096 : rng() % used_end;
            f[at] ^= (unsigned char)(1u << (rng() % 8));
        }
        write_file(f, len);
        CHECK_EQ_INT(setup(), 0);
        found = check_all(NULL);
        partial += found > 0 && found < NKEYS;
        cold += found == 0;
        store_teardown();
    }
    /* truncated: refused whole (an empty cache), never read past the end */
    write_file(orig, len / 2);
    CHECK_EQ_INT(setup(), 0);
    CHECK_EQ_INT(check_all(NULL), 0);
    store_teardown();
    CHECK(partial > 0);
    printf("fuzzed files: %d rounds, %u partly loaded, %u refused whole\n", FUZZ_ROUNDS,
           partial, cold);
    free(f);
    free(orig);
}

static void test_other_version(void)
{
    size_t len;
    unsigned char *f;

    CHECK_EQ_INT(setup(), 0);
    store_teardown();
    f = read_file(&len);
    f[8]++;   /* the format version, after the 8-byte magic */
    write_file(f, len);
    free(f);
    CHECK_EQ_INT(setup(), 0);
    CHECK_EQ_INT(check_all(NULL), 0);
    store_teardown();
}

static void test_unsafe_file(void)
{
    chmod(path, 0644);
    CHECK_EQ_INT(setup(), -1);
    CHECK(strstr(store_setup_error(), "open to other users") != NULL);
    chmod(path, 0600);
}

/* A kill while a compaction's journal is being sealed (item by item)
 * leaves a journal whose seal covers only its first items, over a
 * segment still intact: the start must keep the segment, not copy the
 * partial journal over it (it did: acknowledged writes lost). */
static void test_partly_sealed_journal(void)
{
    size_t len, slot_len;
    unsigned char *snap;
    struct seg *s, *j;
    struct item_hdr h;

    unlink(path);
    CHECK_EQ_INT(setup(), 0);
    fill();
    s = seg_file_slot(0, &slot_len);
    j = persist_journal(s->shard);
    memcpy(seg_data(j), seg_data(s), s->used);   /* do_seg_compact's first step */
    persist_journal_seal(j, s, s->base, s->used);
    __atomic_store_n(&j->seal, 0, __ATOMIC_RELEASE);   /* back to the seal loop's */
    item_decode(seg_data(j), &h);                      /* first iteration */
    persist_seal(j, seg_data(j), h.size);
    CHECK(h.size < j->used);
    snap = read_file(&len);   /* what kill -9 leaves now */
    store_teardown();
    write_file(snap, len);
    free(snap);
    CHECK_EQ_INT(setup(), 0);
    CHECK_EQ_INT(check_all(cas), NKEYS);
    store_teardown();
}

int main(void)
{
    clock_setup();
    if (hash_setup() != 0)
        return 1;
    snprintf(path, sizeof(path), "/dev/shm/hc-test-persist-%d", (int)getpid());
    RUN(test_reload);
    /* the tests below start from the file test_reload left */
    RUN(test_snapshot_and_torn_write);
    RUN(test_fuzzed_files);
    RUN(test_other_version);
    RUN(test_unsafe_file);
    RUN(test_partly_sealed_journal);
    unlink(path);
    return unit_report("test_persist");
}
