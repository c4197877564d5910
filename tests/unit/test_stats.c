/* Unit tests for the stats emitter and its wire sinks, no sockets: tables of
 * (name, value) in and bytes out for the text and binary sinks, the names
 * and order each group emits, one end per group, and `stats reset`. */
#include "server/stats_cmd.h"

#include <stdlib.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/hash.h"
#include "core/log.h"
#include "server/settings.h"
#include "server/stats.h"
#include "storage/store.h"
#include "unit.h"

#define B(lit) (lit), sizeof(lit) - 1

static void check_bytes(const struct buf *out, const char *want, size_t nwant, int line)
{
    unit_checks++;
    if (buf_len(out) != nwant || memcmp(buf_rptr(out), want, nwant) != 0) {
        unit_failures++;
        fprintf(stderr, "%s:%d: got %zu bytes \"%.*s\", expected %zu \"%.*s\"\n", __FILE__,
                line, buf_len(out), (int)buf_len(out), buf_rptr(out), nwant, (int)nwant, want);
    }
}

/* ---- the sinks: name/value in, bytes out ---- */

/* A binary STAT response header: key length, body length (one byte each
 * here), the opaque "\x01\x02\x03\x04", status OK, CAS 0. */
#define STAT_HDR(klen, blen) \
    "\x81\x10\x00" klen "\x00\x00\x00\x00\x00\x00\x00" blen \
    "\x01\x02\x03\x04" "\x00\x00\x00\x00\x00\x00\x00\x00"

static const struct {
    const char *name, *val;   /* name NULL: the end of the list */
    const char *text;
    size_t      ntext;
    const char *bin;
    size_t      nbin;
} sink_rows[] = {
    { "pid", "42", B("STAT pid 42\r\n"), B(STAT_HDR("\x03", "\x05") "pid" "42") },
    { "inter", "127.0.0.1,::1", B("STAT inter 127.0.0.1,::1\r\n"),
      B(STAT_HDR("\x05", "\x12") "inter" "127.0.0.1,::1") },
    { "udp_max_amplification", "1.500", B("STAT udp_max_amplification 1.500\r\n"),
      B(STAT_HDR("\x15", "\x1a") "udp_max_amplification" "1.500") },
    { "12:state", "conn_waiting", B("STAT 12:state conn_waiting\r\n"),
      B(STAT_HDR("\x08", "\x14") "12:state" "conn_waiting") },
    { "empty", "", B("STAT empty \r\n"), B(STAT_HDR("\x05", "\x05") "empty") },
    { NULL, NULL, B("END\r\n"), B(STAT_HDR("\x00", "\x00")) },
};

static void test_sinks(void)
{
    for (size_t i = 0; i < sizeof(sink_rows) / sizeof(sink_rows[0]); i++) {
        struct buf tout = { 0 }, bout = { 0 };
        struct stats_text_out t = { .out = &tout };
        struct stats_bin_out b = { .out = &bout };
        const char *v = sink_rows[i].val;

        memcpy(&b.opaque, "\x01\x02\x03\x04", 4);
        stats_text_add(&t, sink_rows[i].name, v, v ? strlen(v) : 0);
        stats_bin_add(&b, sink_rows[i].name, v, v ? strlen(v) : 0);
        CHECK(!t.failed && !b.failed);
        check_bytes(&tout, sink_rows[i].text, sink_rows[i].ntext, __LINE__);
        check_bytes(&bout, sink_rows[i].bin, sink_rows[i].nbin, __LINE__);
        buf_destroy(&tout);
        buf_destroy(&bout);
    }
}

/* The value helpers every emitter uses. */
static void test_value_helpers(void)
{
    struct buf out = { 0 };
    struct stats_text_out t = { .out = &out };
    struct stats_sink s = { stats_text_add, &t };

    stats_add_u64(&s, "a", 0);
    stats_add_u64(&s, "b", UINT64_MAX);
    stats_add_milli(&s, "c", 1500);
    stats_add_milli(&s, "d", 7);
    stats_add_str(&s, "e", "on");
    stats_add_fmt(&s, "f", "%ld.%06ld", 3L, 25L);
    stats_end(&s);
    check_bytes(&out, B("STAT a 0\r\nSTAT b 18446744073709551615\r\nSTAT c 1.500\r\n"
                        "STAT d 0.007\r\nSTAT e on\r\nSTAT f 3.000025\r\nEND\r\n"), __LINE__);
    buf_destroy(&out);
}

/* ---- the emitter ---- */

#define RECORD_MAX 128

struct record {
    const char *name[RECORD_MAX];   /* the names are the emitter's literals */
    char        val[RECORD_MAX][64];
    int         n, ends, after_end;
};

static void record_add(void *ctx, const char *name, const char *val, size_t vlen)
{
    struct record *r = ctx;

    if (name == NULL) {
        r->ends++;
        return;
    }
    if (r->ends > 0)
        r->after_end++;
    if (r->n < RECORD_MAX) {
        r->name[r->n] = name;
        snprintf(r->val[r->n], sizeof(r->val[0]), "%.*s", (int)vlen, val);
        r->n++;
    }
}

static enum stats_outcome record(const char *group, struct record *r)
{
    struct stats_sink s = { record_add, r };

    memset(r, 0, sizeof(*r));
    return stats_run(group, strlen(group), &s);
}

static const char *value(const struct record *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->name[i], name) == 0)
            return r->val[i];
    return "(missing)";
}

/* memcached's names in memcached's order: part of the interface. */
static const char *const general_names[] = {
    "pid", "uptime", "time", "version", "hardcached_version", "libevent",
    "pointer_size", "rusage_user",
    "rusage_system", "max_connections", "curr_connections", "total_connections",
    "rejected_connections", "connection_structures",
#define X(name) #name,
    THREAD_STATS(X)
#undef X
    "reserved_fds", "time_in_listen_disabled_us", "acl_rejected_connections", "udp_max_amplification",
    "udp_max_amplification_unvalidated", "limit_maxbytes", "accepting_conns",
    "listen_disabled_num", "threads", "hash_power_level", "hash_bytes",
    "hash_is_expanding", "lru_crawler_running", "lru_crawler_starts", "bytes",
    "curr_items", "total_items", "expired_unfetched", "evicted_unfetched", "evictions",
    "reclaimed", "crawler_reclaimed", "crawler_items_checked", "segment_size",
    "segments_used", "memory_used",
    /* memcached's lines for machinery hardcached lacks (stats_off.c) */
    "response_obj_oom", "response_obj_count", "response_obj_bytes",
    "slab_reassign_rescues", "slab_reassign_chunk_rescues",
    "slab_reassign_inline_reclaim", "slab_reassign_busy_items",
    "slab_reassign_busy_deletes", "slab_reassign_busy_nomem",
    "slab_reassign_last_busy_status", "slab_reassign_running", "slabs_moved",
    "lru_maintainer_juggles", "unexpected_napi_ids", "round_robin_fallback",
    "slab_global_page_pool", "lrutail_reflocked", "moves_to_cold", "moves_to_warm",
    "moves_within_lru", "lru_bumps_dropped",
};

/* general_names without idle_kicks and the *_extstore counters: memcached
 * shows them only with an idle timeout and a flash tier (none here) */
static const char *const *general_names_shown(int *n)
{
    static const char *shown[sizeof(general_names) / sizeof(general_names[0])];

    *n = 0;
    for (size_t i = 0; i < sizeof(general_names) / sizeof(general_names[0]); i++)
        if (strcmp(general_names[i], "idle_kicks") != 0 &&
            strstr(general_names[i], "extstore") == NULL)
            shown[(*n)++] = general_names[i];
    return shown;
}

static void test_general_names_and_order(void)
{
    struct record r;
    int n;
    const char *const *names = general_names_shown(&n);

    CHECK_EQ_INT(record("", &r), STATS_EMITTED);
    CHECK_EQ_INT(r.n, n);
    for (int i = 0; i < n && i < r.n; i++)
        if (strcmp(r.name[i], names[i]) != 0) {
            CHECK(!"general stats out of order");
            fprintf(stderr, "  #%d: %s, expected %s\n", i, r.name[i], names[i]);
            break;
        }
    CHECK_EQ_INT(r.ends, 1);
    CHECK_EQ_INT(r.after_end, 0);
    CHECK(strcmp(value(&r, "version"), HC_VERSION_STRING) == 0);
    CHECK(strcmp(value(&r, "limit_maxbytes"), "16777216") == 0);
    CHECK(strcmp(value(&r, "udp_max_amplification"), "0.000") == 0);
}

/* Each group: the outcome, its first names, one end (none for reset). */
static const struct {
    const char *group;
    enum stats_outcome outcome;
    int ends;
    const char *first, *second;   /* NULL: emits nothing */
} group_rows[] = {
    { "settings", STATS_EMITTED, 1, "maxbytes", "maxconns" },
    { "items", STATS_EMITTED, 1, NULL, NULL },               /* an empty store */
    { "slabs", STATS_EMITTED, 1, "active_slabs", "total_malloced" },
    { "sizes", STATS_EMITTED, 1, "sizes_status", NULL },
    { "conns", STATS_EMITTED, 1, NULL, NULL },               /* no workers */
    { "reset", STATS_RESET, 0, NULL, NULL },
    { "nonsense", STATS_UNKNOWN, 0, NULL, NULL },
    { "settings ", STATS_UNKNOWN, 0, NULL, NULL },
    { "Settings", STATS_UNKNOWN, 0, NULL, NULL },
};

static void test_groups(void)
{
    for (size_t i = 0; i < sizeof(group_rows) / sizeof(group_rows[0]); i++) {
        struct record r;

        CHECK_EQ_INT(record(group_rows[i].group, &r), group_rows[i].outcome);
        CHECK_EQ_INT(r.ends, group_rows[i].ends);
        CHECK_EQ_INT(r.after_end, 0);
        if (group_rows[i].first == NULL)
            CHECK_EQ_INT(r.n, 0);
        else
            CHECK(r.n >= 1 && strcmp(r.name[0], group_rows[i].first) == 0);
        if (group_rows[i].second)
            CHECK(r.n >= 2 && strcmp(r.name[1], group_rows[i].second) == 0);
    }
}

/* A value a command changes at run time shows where it is emitted. */
static void test_settings_values(void)
{
    struct record r;

    atomic_store(&settings.maxbytes, 100u << 20);
    record("settings", &r);
    CHECK(strcmp(value(&r, "maxbytes"), "104857600") == 0);
    CHECK(strcmp(value(&r, "evictions"), "on") == 0);
    record("", &r);
    CHECK(strcmp(value(&r, "limit_maxbytes"), "104857600") == 0);
    atomic_store(&settings.maxbytes, 16u << 20);
    atomic_store(&log_verbosity, 2);
    record("settings", &r);
    CHECK(strcmp(value(&r, "verbosity"), "2") == 0);
    atomic_store(&log_verbosity, 0);
}

/* The text and binary sinks frame exactly what the emitter gave: the
 * settings group (stable values) recorded, then through each sink. */
static void test_sinks_frame_the_emitter(void)
{
    struct record r;
    struct buf tout = { 0 }, bout = { 0 }, want_t = { 0 }, want_b = { 0 };
    struct stats_text_out t = { .out = &tout }, wt = { .out = &want_t };
    struct stats_bin_out b = { .out = &bout, .opaque = 7 }, wb = { .out = &want_b, .opaque = 7 };
    struct stats_sink ts = { stats_text_add, &t }, bs = { stats_bin_add, &b };

    record("settings", &r);
    CHECK(r.n > 30);
    for (int i = 0; i < r.n; i++) {
        stats_text_add(&wt, r.name[i], r.val[i], strlen(r.val[i]));
        stats_bin_add(&wb, r.name[i], r.val[i], strlen(r.val[i]));
    }
    stats_text_add(&wt, NULL, NULL, 0);
    stats_bin_add(&wb, NULL, NULL, 0);
    CHECK_EQ_INT(stats_run("settings", 8, &ts), STATS_EMITTED);
    CHECK_EQ_INT(stats_run("settings", 8, &bs), STATS_EMITTED);
    check_bytes(&tout, buf_rptr(&want_t), buf_len(&want_t), __LINE__);
    check_bytes(&bout, buf_rptr(&want_b), buf_len(&want_b), __LINE__);
    CHECK(buf_len(&tout) > 5 && memcmp(buf_rptr(&tout), "STAT maxbytes ", 14) == 0);
    buf_destroy(&tout);
    buf_destroy(&bout);
    buf_destroy(&want_t);
    buf_destroy(&want_b);
}

/* `stats reset` zeroes what `stats` shows, without writing the threads'
 * counters (they keep counting from where they were). */
static void test_reset(void)
{
    static struct thread_stats ts;
    struct record r;

    stats_register_thread(&ts);
    STAT_ADD(&ts, cmd_get, 5);
    STAT_INCR(&ts, auth_errors);
    record("", &r);
    CHECK(strcmp(value(&r, "cmd_get"), "5") == 0);
    CHECK(strcmp(value(&r, "auth_errors"), "1") == 0);
    CHECK_EQ_INT(record("reset", &r), STATS_RESET);
    record("", &r);
    CHECK(strcmp(value(&r, "cmd_get"), "0") == 0);
    CHECK(strcmp(value(&r, "auth_errors"), "0") == 0);
    CHECK_EQ_INT(atomic_load(&ts.cmd_get), 5);
    STAT_INCR(&ts, cmd_get);
    record("", &r);
    CHECK(strcmp(value(&r, "cmd_get"), "1") == 0);
}

int main(void)
{
    struct store_config cfg = { .mem_limit = 16u << 20, .item_size_max = 1u << 20,
                                .evict = true, .use_cas = true };
    char a0[] = "hardcached", a1[] = "-m", a2[] = "16";
    char *argv[] = { a0, a1, a2, NULL };
    char err[SETTINGS_ERR_MAX];

    clock_setup();
    if (hash_setup() < 0 || settings_try_parse(3, argv, err, sizeof(err)) != SETTINGS_RUN ||
        store_setup(&cfg) != 0) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    RUN(test_sinks);
    RUN(test_value_helpers);
    RUN(test_general_names_and_order);
    RUN(test_groups);
    RUN(test_settings_values);
    RUN(test_sinks_frame_the_emitter);
    RUN(test_reset);
    store_teardown();
    return unit_report("stats");
}
