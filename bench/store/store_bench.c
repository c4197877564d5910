/*
 * store-bench: the storage engine alone, no sockets and no parser: how many
 * nanoseconds a set and a get of one value size cost, keys drawn uniformly
 * from a preloaded key space, with the batching the server does (name 64
 * keys with store_prefetch, store_prefetch_items, then run them) or
 * without it (--no-prefetch). `make bench-store` runs it.
 *
 * Why: make bench measures the whole server against memcached, where the
 * kernel's TCP work is about half of every request and runs differ by 5-15%
 * on a shared machine. This takes the store's share out on its own, so a
 * change to it can be measured in a minute, and it is a small, repeatable
 * target for `valgrind --tool=callgrind` and `perf record`. It has no
 * memcached to compare with: the store is ours alone.
 *
 * Usage: store-bench [-v BYTES] [-k KEYS] [-n OPS] [-r RUNS] [-m MB]
 *                    [--no-prefetch] [-L]
 * Prints one line per operation: the median and the range over the runs.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/hash.h"
#include "storage/store.h"

#define SB_BATCH   64         /* keys named ahead, as a round of the server */
#define SB_KEY_LEN 16         /* "key:000000000123", as hcbench's keys */
#define SB_RUNS_MAX 31
#define SB_VALUE_MAX (512 * 1024)

struct sb_opts {
    size_t   value;
    uint32_t keys;
    uint64_t ops;
    unsigned runs;
    uint64_t mem_mb;
    bool     prefetch;
    bool     large_pages;
};

static double sb_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* xorshift64: cheap, and the same sequence in every run */
static uint64_t sb_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void sb_key(char *out, uint32_t i)
{
    char tmp[SB_KEY_LEN + 1];
    snprintf(tmp, sizeof(tmp), "key:%012u", i);
    memcpy(out, tmp, SB_KEY_LEN);
}

/* A get copies the value out, as the server does into its reply. */
static void sb_copy_out(const struct store_item *it, void *ctx)
{
    static char out[SB_VALUE_MAX];

    (void)ctx;
    memcpy(out, it->value, it->nvalue);
    __asm__ volatile("" : : "r"(out) : "memory");   /* keep the copy */
}

/* One timed run of opts->ops operations; returns nanoseconds per op. The
 * keys of each batch are formatted before the clock starts for it, so the
 * time is the store's. */
static double sb_run(const struct sb_opts *o, bool set, const char *value, uint64_t seed)
{
    static char keys[SB_BATCH][SB_KEY_LEN];
    double spent = 0;
    uint64_t done = 0;

    while (done < o->ops) {
        for (unsigned j = 0; j < SB_BATCH; j++)
            sb_key(keys[j], (uint32_t)(sb_rand(&seed) % o->keys));
        double t0 = sb_now();
        if (o->prefetch) {
            for (unsigned j = 0; j < SB_BATCH; j++)
                store_prefetch(keys[j], SB_KEY_LEN, !set);
            store_prefetch_items();
        }
        for (unsigned j = 0; j < SB_BATCH; j++) {
            if (set)
                store_write(&(struct store_write){ .mode = STORE_SET, .key = keys[j],
                                                   .nkey = SB_KEY_LEN, .value = value,
                                                   .nvalue = o->value }, NULL);
            else
                store_read(&(struct store_read){ .key = keys[j], .nkey = SB_KEY_LEN },
                           sb_copy_out, NULL);
        }
        store_prefetch_clear();
        spent += sb_now() - t0;
        done += SB_BATCH;
    }
    return spent / (double)done * 1e9;
}

static int sb_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void sb_report(const struct sb_opts *o, const char *what, double *ns)
{
    qsort(ns, o->runs, sizeof(*ns), sb_cmp);
    printf("STORE op=%s value=%zu keys=%u prefetch=%d large_pages=%d runs=%u "
           "ns_median=%.1f ns_min=%.1f ns_max=%.1f\n",
           what, o->value, o->keys, o->prefetch, o->large_pages, o->runs,
           ns[o->runs / 2], ns[0], ns[o->runs - 1]);
}

static void sb_usage(void)
{
    fprintf(stderr, "usage: store-bench [-v BYTES] [-k KEYS] [-n OPS] [-r RUNS] [-m MB] "
                    "[--no-prefetch] [-L]\n");
    exit(64);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "no-prefetch", no_argument, NULL, 'P' },
        { NULL, 0, NULL, 0 },
    };
    struct sb_opts o = { .value = 1024, .keys = 100000, .ops = 2000000, .runs = 5,
                         .mem_mb = 1024, .prefetch = true };
    double set_ns[SB_RUNS_MAX], get_ns[SB_RUNS_MAX];
    int c;

    while ((c = getopt_long(argc, argv, "v:k:n:r:m:L", longopts, NULL)) != -1) {
        switch (c) {
        case 'v': o.value = strtoul(optarg, NULL, 10); break;
        case 'k': o.keys = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'n': o.ops = strtoull(optarg, NULL, 10); break;
        case 'r': o.runs = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'm': o.mem_mb = strtoull(optarg, NULL, 10); break;
        case 'P': o.prefetch = false; break;
        case 'L': o.large_pages = true; break;
        default: sb_usage();
        }
    }
    if (o.keys == 0 || o.ops == 0 || o.runs == 0 || o.runs > SB_RUNS_MAX ||
        o.value > SB_VALUE_MAX || o.mem_mb == 0)
        sb_usage();

    if (hash_setup() != 0) {
        fprintf(stderr, "store-bench: hash_setup failed\n");
        return 1;
    }
    clock_setup();
    struct store_config cfg = { .mem_limit = o.mem_mb << 20, .item_size_max = 1 << 20,
                                .evict = true, .use_cas = true,
                                .large_pages = o.large_pages };
    if (store_setup(&cfg) != 0) {
        fprintf(stderr, "store-bench: store_setup failed\n");
        return 1;
    }
    char *value = malloc(o.value ? o.value : 1);
    if (value == NULL)
        return 1;
    memset(value, 'x', o.value);

    char key[SB_KEY_LEN];
    for (uint32_t i = 0; i < o.keys; i++) {
        sb_key(key, i);
        if (store_write(&(struct store_write){ .key = key, .nkey = SB_KEY_LEN, .value = value,
                                               .nvalue = o.value }, NULL) != STORE_OK) {
            fprintf(stderr, "store-bench: preload failed at key %u\n", i);
            return 1;
        }
    }
    /* alternate the two, so slow drift in the machine hits both alike */
    for (unsigned r = 0; r < o.runs; r++) {
        set_ns[r] = sb_run(&o, true, value, 88172645463325252ull + r);
        get_ns[r] = sb_run(&o, false, value, 2463534242ull + r);
    }
    sb_report(&o, "set", set_ns);
    sb_report(&o, "get", get_ns);
    free(value);
    store_teardown();
    return 0;
}
