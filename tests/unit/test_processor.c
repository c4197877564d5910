/*
 * test_processor: the protocol processors driven through a fake session, no
 * sockets (h2o's loopback handler tests): tables of bytes in and the exact
 * bytes out, over TCP and UDP, logged in or not. What a transport does
 * with a step's answer (swallow, a stop at the output's high water) is done
 * here the way conn.c does it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/hash.h"
#include "protocol/binary/parse.h"
#include "server/process_binary.h"
#include "server/process_text.h"
#include "server/session.h"
#include "server/settings.h"
#include "server/stats.h"
#include "storage/store.h"
#include "unit.h"

struct fake {
    struct session      s;
    struct buf          out;
    struct thread_stats ts;
    int                 stops;   /* OUTPUT_FULL answers seen */
};

static void fake_init(struct fake *f, bool udp, bool authenticated)
{
    memset(f, 0, sizeof(*f));
    f->s.out = &f->out;
    f->s.stats = &f->ts;
    f->s.out_high_water = 256 * 1024;
    f->s.refusal_max = udp ? 64 : SIZE_MAX;
    f->s.udp = udp;
    f->s.authenticated = authenticated;
}

static void fake_done(struct fake *f)
{
    buf_destroy(&f->out);
}

/* Run every request in data, as a transport would. Returns the last step. */
static enum proc_step feed(struct fake *f, const struct processor *p,
                           const char *data, size_t len)
{
    size_t off = 0;
    enum proc_step st = PROC_STEP_DONE;

    while (off < len && !f->s.closing) {
        if (f->s.swallow > 0) {
            size_t k = len - off < f->s.swallow ? len - off : f->s.swallow;
            f->s.swallow -= k;
            off += k;
            continue;
        }
        size_t used = 0;
        st = p->step(&f->s, data + off, len - off, &used);
        off += used;
        if (st == PROC_STEP_OUTPUT_FULL) {
            f->stops++;
            CHECK_EQ_INT(used, 0);
            continue;   /* "sent": run the same bytes again */
        }
        if (st != PROC_STEP_DONE)
            break;
    }
    return st;
}

struct text_case {
    const char *in;
    const char *out;
};

/* One server's life, in order: each row's replies are exact. */
static const struct text_case text_cases[] = {
    { "set k 0 0 1\r\nx\r\n", "STORED\r\n" },
    { "get k\r\n", "VALUE k 0 1\r\nx\r\nEND\r\n" },
    { "get k nope k\r\n", "VALUE k 0 1\r\nx\r\nVALUE k 0 1\r\nx\r\nEND\r\n" },
    { "get\r\n", "CLIENT_ERROR bad command line format\r\n" },   /* 1.6.45 */
    { "bogus\r\n", "ERROR\r\n" },
    { "set k 0 0\r\n", "CLIENT_ERROR bad command line format\r\n" },
    { "incr k 1\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n" },
    { "set n 5 0 2 noreply\r\n10\r\nincr n 5\r\n", "15\r\n" },
    { "touch n 100\r\ntouch zz 1\r\n", "TOUCHED\r\nNOT_FOUND\r\n" },
    { "delete k\r\ndelete k\r\n", "DELETED\r\nNOT_FOUND\r\n" },
    { "add n 0 0 1\r\ny\r\n", "NOT_STORED\r\n" },
    { "mn\r\n", "MN\r\n" },
    { "mg missing v\r\n", "EN\r\n" },
    { "mg n v f\r\n", "VA 2 f5\r\n15\r\n" },
    { "delete n 0\r\n", "DELETED\r\n" },
    { "verbosity\r\n", "CLIENT_ERROR bad command line format\r\n" },
};

/* The replies so far are exactly `want`; then forget them. */
static void expect(struct fake *f, const char *want, size_t nwant, const char *what)
{
    unit_checks++;
    if (buf_len(&f->out) != nwant || memcmp(buf_rptr(&f->out), want, nwant) != 0) {
        unit_failures++;
        fprintf(stderr, "%s: got \"%.*s\", expected \"%.*s\"\n", what,
                (int)buf_len(&f->out), buf_rptr(&f->out), (int)nwant, want);
    }
    buf_consume(&f->out, buf_len(&f->out));
}

static void expect_str(struct fake *f, const char *want, const char *what)
{
    expect(f, want, strlen(want), what);
}

static void test_text(void)
{
    struct fake f;

    fake_init(&f, false, true);
    for (size_t i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]); i++) {
        feed(&f, &text_processor, text_cases[i].in, strlen(text_cases[i].in));
        expect_str(&f, text_cases[i].out, text_cases[i].in);
    }
    CHECK(!f.s.closing);
    CHECK_EQ_INT(f.ts.get_hits, 4);
    CHECK_EQ_INT(f.ts.get_misses, 2);   /* and mg missing */
    CHECK_EQ_INT(f.ts.store_too_large, 0);
    /* a value refused for its size is discarded as it arrives */
    feed(&f, &text_processor, "set big 0 0 2000000\r\n", 21);
    CHECK_EQ_INT(f.s.swallow, 2000002);
    f.s.swallow = 0;
    expect_str(&f, "SERVER_ERROR object too large for cache\r\n", "too large");
    CHECK_EQ_INT(f.ts.store_too_large, 1);
    /* quit, and a line with no end within 2048 bytes, close */
    CHECK_EQ_INT(feed(&f, &text_processor, "quit\r\n", 6), PROC_STEP_CLOSE);
    char line[4096];
    memset(line, 'a', sizeof(line));
    CHECK_EQ_INT(feed(&f, &text_processor, line, sizeof(line)), PROC_STEP_CLOSE);
    expect_str(&f, "", "no reply to an endless line");
    /* an incomplete request waits for more */
    CHECK_EQ_INT(feed(&f, &text_processor, "set k 0 0 3\r\nab", 15), PROC_STEP_NEED_MORE);
    expect_str(&f, "", "incomplete");
    fake_done(&f);
}

/* A multi-key get whose replies pass the output's high water stops and
 * resumes where it stopped: the same bytes in the end. */
static void test_text_high_water(void)
{
    struct fake f;
    char value[100], set[160];
    const char get[] = "get a b c a b c\r\n";
    struct buf whole = { 0 };

    memset(value, 'v', sizeof(value));
    fake_init(&f, false, true);
    for (char k = 'a'; k <= 'c'; k++) {
        int n = snprintf(set, sizeof(set), "set %c 0 0 %zu\r\n%.*s\r\n", k,
                         sizeof(value), (int)sizeof(value), value);
        feed(&f, &text_processor, set, (size_t)n);
    }
    buf_consume(&f.out, buf_len(&f.out));
    feed(&f, &text_processor, get, sizeof(get) - 1);
    CHECK_EQ_INT(f.stops, 0);
    CHECK(buf_append(&whole, buf_rptr(&f.out), buf_len(&f.out)) == 0);
    buf_consume(&f.out, buf_len(&f.out));
    f.s.out_high_water = 150;   /* about one value */
    feed(&f, &text_processor, get, sizeof(get) - 1);
    CHECK(f.stops >= 4);
    expect(&f, buf_rptr(&whole), buf_len(&whole), "stopped get");
    CHECK_EQ_INT(f.s.resume, 0);
    buf_destroy(&whole);
    fake_done(&f);
}

/* Before a login: version, and a refusal for everything else. */
static void test_text_unauth(void)
{
    struct fake f;

    fake_init(&f, false, false);
    feed(&f, &text_processor, "get k\r\nstats\r\n", 14);
    expect_str(&f, "CLIENT_ERROR unauthenticated\r\nCLIENT_ERROR unauthenticated\r\n",
               "before login");
    feed(&f, &text_processor, "version\r\n", 9);
    expect_str(&f, "VERSION " HC_VERSION_STRING "\r\n", "version before login");
    /* a value too large for a login closes */
    CHECK_EQ_INT(feed(&f, &text_processor, "set a 0 0 5000\r\n", 16), PROC_STEP_CLOSE);
    fake_done(&f);
}

/* Over UDP: no admin command, and a refusal only where it does not
 * amplify (refusal_max). */
static void test_text_udp(void)
{
    struct fake f;

    fake_init(&f, true, true);
    feed(&f, &text_processor, "stats\r\n", 7);
    expect_str(&f, "CLIENT_ERROR not allowed over UDP\r\n", "stats over UDP");
    f.s.refusal_max = 7;
    feed(&f, &text_processor, "stats\r\n", 7);
    expect_str(&f, "", "refusal larger than the request");
    feed(&f, &text_processor, "flush_all\r\nmg k v\r\n", 19);
    expect_str(&f, "", "flush_all and mg over UDP");
    CHECK_EQ_INT(f.ts.udp_admin_refused, 4);
    feed(&f, &text_processor, "set u 0 0 1\r\nz\r\nget u\r\n", 24);
    expect_str(&f, "STORED\r\nVALUE u 0 1\r\nz\r\nEND\r\n", "data over UDP");
    fake_done(&f);
}

static size_t bin_request(char *p, uint8_t opcode, const char *key, uint32_t opaque)
{
    size_t nkey = key ? strlen(key) : 0;

    memset(p, 0, BIN_HEADER_LEN);
    p[0] = (char)BIN_REQ_MAGIC;
    p[1] = (char)opcode;
    p[2] = (char)(nkey >> 8);
    p[3] = (char)nkey;
    p[11] = (char)nkey;   /* body length */
    p[15] = (char)opaque;
    if (nkey > 0)
        memcpy(p + BIN_HEADER_LEN, key, nkey);
    return BIN_HEADER_LEN + nkey;
}

static void test_binary(void)
{
    struct fake f;
    char req[64];
    size_t n;
    const unsigned char *r;

    fake_init(&f, false, true);
    n = bin_request(req, 0x0a, NULL, 7);   /* noop */
    CHECK_EQ_INT(feed(&f, &binary_processor, req, n), PROC_STEP_DONE);
    r = (const unsigned char *)buf_rptr(&f.out);
    CHECK_EQ_INT(buf_len(&f.out), BIN_HEADER_LEN);
    CHECK_EQ_INT(r[0], BIN_RES_MAGIC);
    CHECK_EQ_INT(r[1], 0x0a);
    CHECK_EQ_INT(r[15], 7);
    buf_consume(&f.out, buf_len(&f.out));
    n = bin_request(req, 0x00, "nokey", 1);   /* get, a miss */
    feed(&f, &binary_processor, req, n);
    r = (const unsigned char *)buf_rptr(&f.out);
    CHECK_EQ_INT(buf_len(&f.out), BIN_HEADER_LEN + 9);
    CHECK_EQ_INT(r[7], 0x01);   /* KEY_ENOENT */
    CHECK(memcmp(r + BIN_HEADER_LEN, "Not found", 9) == 0);
    buf_consume(&f.out, buf_len(&f.out));
    CHECK_EQ_INT(feed(&f, &binary_processor, req, 10), PROC_STEP_NEED_MORE);
    fake_done(&f);

    /* before a login: refused on the header alone, and closed */
    fake_init(&f, false, false);
    n = bin_request(req, 0x00, "k", 1);
    CHECK_EQ_INT(feed(&f, &binary_processor, req, BIN_HEADER_LEN), PROC_STEP_CLOSE);
    r = (const unsigned char *)buf_rptr(&f.out);
    CHECK(buf_len(&f.out) > BIN_HEADER_LEN && r[7] == 0x20);   /* AUTH_ERROR */
    fake_done(&f);

    /* over UDP: stat gets nothing, and nothing after it runs */
    fake_init(&f, true, true);
    n = bin_request(req, 0x10, NULL, 1);
    n += bin_request(req + n, 0x0a, NULL, 2);
    CHECK_EQ_INT(feed(&f, &binary_processor, req, n), PROC_STEP_CLOSE);
    CHECK_EQ_INT(buf_len(&f.out), 0);
    CHECK_EQ_INT(f.ts.udp_admin_refused, 1);
    fake_done(&f);
}

static void test_pick(void)
{
    const struct processor *const set[] = { &binary_processor, &text_processor, NULL };

    CHECK(processor_pick(set, 0x80) == &binary_processor);
    CHECK(processor_pick(set, 'g') == &text_processor);
    CHECK(processor_pick(set, 0x81) == &text_processor);
    CHECK(text_processor.retry_over_tcp != NULL);
    CHECK(binary_processor.retry_over_tcp == NULL);
}

int main(void)
{
    char arg0[] = "hardcached";
    char *argv[] = { arg0, NULL };
    char err[SETTINGS_ERR_MAX];

    clock_setup();
    if (hash_setup() < 0 || settings_try_parse(1, argv, err, sizeof(err)) != SETTINGS_RUN)
        return 1;
    struct store_config sc = {
        .mem_limit = 64 * 1024 * 1024, .item_size_max = settings.item_size_max,
        .evict = true, .use_cas = true,
    };
    if (store_setup(&sc) != 0)
        return 1;
    RUN(test_text);
    RUN(test_text_high_water);
    RUN(test_text_unauth);
    RUN(test_text_udp);
    RUN(test_binary);
    RUN(test_pick);
    store_teardown();
    return unit_report("test_processor");
}
