/*
 * Unit tests for the pure text parser: every command composed and parsed
 * back, every error path, and the "need more" contract at every split
 * point of a request.
 */
#include <stdio.h>
#include <stdlib.h>

#include "protocol/text/parse.h"
#include "unit.h"

static const struct text_limits lim = { .value_max = 1024 * 1024 };

static enum text_parse_status parse(const char *s, struct text_req *req)
{
    return text_parse(s, strlen(s), &lim, req);
}

static void expect_error(const char *line, enum text_error e, int close)
{
    struct text_req req;
    enum text_parse_status st = parse(line, &req);
    CHECK_EQ_INT(st, TEXT_PARSE_ERROR);
    CHECK_EQ_INT(req.error, e);
    CHECK_EQ_INT(req.close, close);
    if (st != TEXT_PARSE_ERROR || req.error != e)
        fprintf(stderr, "  for line: %s\n", line);
}

static void test_storage_round_trip(void)
{
    static const struct { const char *name; enum text_cmd cmd; } cmds[] = {
        { "set", TEXT_CMD_SET }, { "add", TEXT_CMD_ADD },
        { "replace", TEXT_CMD_REPLACE }, { "append", TEXT_CMD_APPEND },
        { "prepend", TEXT_CMD_PREPEND },
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        char line[128];
        struct text_req req;
        int n = snprintf(line, sizeof(line), "%s k%zu 4294967295 -1 5 noreply\r\nhello\r\n",
                         cmds[i].name, i);
        CHECK_EQ_INT(parse(line, &req), TEXT_PARSE_OK);
        CHECK_EQ_INT(req.cmd, cmds[i].cmd);
        CHECK_EQ_INT(req.consumed, n);
        CHECK_EQ_INT(req.flags, 4294967295u);
        CHECK_EQ_INT(req.exptime, -1);
        CHECK(req.noreply);
        CHECK_MEM(req.data, req.ndata, "hello");
        CHECK_EQ_INT(req.key.n, 2);
    }
    struct text_req req;
    CHECK_EQ_INT(parse("cas k 1 2 3 18446744073709551615\r\nabc\r\nget k\r\n", &req), TEXT_PARSE_OK);
    CHECK_EQ_INT(req.cmd, TEXT_CMD_CAS);
    CHECK(req.cas_unique == UINT64_MAX);
    CHECK(!req.noreply);
    CHECK_EQ_INT(req.consumed, strlen("cas k 1 2 3 18446744073709551615\r\nabc\r\n"));
    /* "\n" alone ends a line too, and a non-"noreply" extra token is ignored */
    CHECK_EQ_INT(parse("set k 0 0 1 junk\nx\r\n", &req), TEXT_PARSE_OK);
    CHECK(!req.noreply);
}

static void test_need_more_at_every_split(void)
{
    const char *full = "set key 0 0 10\r\n0123456789\r\n";
    size_t n = strlen(full);
    for (size_t i = 0; i < n; i++) {
        struct text_req req;
        CHECK_EQ_INT(text_parse(full, i, &lim, &req), TEXT_PARSE_NEED_MORE);
        if (i >= strlen("set key 0 0 10\r\n"))
            CHECK_EQ_INT(req.need, n);
    }
    struct text_req req;
    CHECK_EQ_INT(text_parse(full, n, &lim, &req), TEXT_PARSE_OK);
}

static void test_retrieval(void)
{
    struct text_req req;
    struct text_token k;
    size_t pos = 0;

    CHECK_EQ_INT(parse("get a  bb   ccc\r\n", &req), TEXT_PARSE_OK);
    CHECK_EQ_INT(req.nkeys, 3);
    CHECK(text_next_key(&req, &pos, &k));
    CHECK_MEM(k.p, k.n, "a");
    CHECK(text_next_key(&req, &pos, &k));
    CHECK_MEM(k.p, k.n, "bb");
    CHECK(text_next_key(&req, &pos, &k));
    CHECK_MEM(k.p, k.n, "ccc");
    CHECK(!text_next_key(&req, &pos, &k));

    CHECK_EQ_INT(parse("gats -5 x y\r\n", &req), TEXT_PARSE_OK);
    CHECK_EQ_INT(req.cmd, TEXT_CMD_GATS);
    CHECK_EQ_INT(req.exptime, -5);
    CHECK_EQ_INT(req.nkeys, 2);
    /* 1.6.45: too few tokens is a format error, counted before the exptime */
    expect_error("gat 10\r\n", TEXT_ERR_FORMAT, 0);
    expect_error("gat abc\r\n", TEXT_ERR_FORMAT, 0);
    expect_error("get\r\n", TEXT_ERR_FORMAT, 0);
    expect_error("get  \r\n", TEXT_ERR_FORMAT, 0);
    expect_error("gat abc k\r\n", TEXT_ERR_BAD_EXPTIME, 0);
    expect_error("gat\r\n", TEXT_ERR_FORMAT, 0);
}

/* Keys of every length around the 8-byte words parse.c scans in, with
 * bytes next to a space's value, split by runs of spaces: each is found
 * whole, in order. */
static void test_retrieval_keys_scanned(void)
{
    static const char odd[] = { '\x1f', '\x21', '\xa0', '\x7f', '\x01', 'q', '\xff', '\t' };
    char line[2048], keys[8][48];
    size_t klen[8];
    uint64_t x = 88172645463325252u;

    for (int round = 0; round < 5000; round++) {
        struct text_req req;
        struct text_token k;
        size_t p = 3, pos = 0;
        unsigned n;
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        n = 1 + (unsigned)(x % 8);
        memcpy(line, "get", 3);
        for (unsigned i = 0; i < n; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            klen[i] = 1 + (size_t)(x % 40);
            for (unsigned sp = 0; sp <= (x >> 8) % 3; sp++)
                line[p++] = ' ';
            for (size_t j = 0; j < klen[i]; j++) {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                keys[i][j] = (x % 4 == 0) ? odd[(x >> 8) % sizeof(odd)]
                                          : (char)('a' + (x >> 16) % 26);
            }
            memcpy(line + p, keys[i], klen[i]);
            p += klen[i];
        }
        if (x % 2)
            line[p++] = ' ';
        memcpy(line + p, "\r\n", 3);
        CHECK_EQ_INT(parse(line, &req), TEXT_PARSE_OK);
        CHECK_EQ_INT(req.nkeys, n);
        for (unsigned i = 0; i < n; i++) {
            CHECK(text_next_key(&req, &pos, &k));
            CHECK(k.n == klen[i] && memcmp(k.p, keys[i], k.n) == 0);
        }
        CHECK(!text_next_key(&req, &pos, &k));
    }
}

static void test_key_limits(void)
{
    char line[600];
    struct text_req req;

    memset(line, 'k', sizeof(line));
    memcpy(line, "get ", 4);
    memcpy(line + 4 + 250, "\r\n", 3);
    CHECK_EQ_INT(parse(line, &req), TEXT_PARSE_OK);
    memcpy(line + 4 + 251, "\r\n", 3);
    line[4 + 250] = 'k';
    expect_error(line, TEXT_ERR_FORMAT, 0);
    /* control characters: a lookup may name them (it misses), a store not */
    CHECK_EQ_INT(parse("get a\x01z\r\n", &req), TEXT_PARSE_OK);
    CHECK_EQ_INT(parse("incr a\x02z 1\r\n", &req), TEXT_PARSE_OK);
    CHECK_EQ_INT(req.key.n, 3);
    CHECK_EQ_INT(parse("delete a\x1b\r\n", &req), TEXT_PARSE_OK);
    CHECK_EQ_INT(parse("mg a\x02z v\r\n", &req), TEXT_PARSE_OK);
    expect_error("ms a\x02z 1\r\nx\r\n", TEXT_ERR_FORMAT, 0);
    CHECK_EQ_INT(parse("set a\x7fz 0 0 1\r\nx\r\n", &req), TEXT_PARSE_ERROR);
    CHECK_EQ_INT(req.error, TEXT_ERR_FORMAT);
    CHECK_EQ_INT(req.swallow, 3);
}

static void test_many_keys(void)
{
    size_t n = 2 * 5000 + 8;
    char *line = malloc(n);
    size_t p = 0;
    struct text_req req;

    /* no cap on the keys of one line (memcached has none) */
    memcpy(line, "get", 3);
    p = 3;
    for (int i = 0; i < 5000; i++) {
        line[p++] = ' ';
        line[p++] = 'k';
    }
    memcpy(line + p, "\r\n", 3);
    CHECK_EQ_INT(parse(line, &req), TEXT_PARSE_OK);
    CHECK_EQ_INT(req.nkeys, 5000);
    CHECK(!req.partial);
    free(line);
}

static void test_line_limits(void)
{
    size_t n = 3 * LIMIT_LINE_MAX;
    char *buf = malloc(n);
    struct text_req req;
    struct text_token k;
    size_t pos = 0;

    /* a non-retrieval line without "\n" past LIMIT_LINE_MAX: close */
    memset(buf, 'x', n);
    memcpy(buf, "set ", 4);
    CHECK_EQ_INT(text_parse(buf, LIMIT_LINE_MAX, &lim, &req), TEXT_PARSE_NEED_MORE);
    CHECK_EQ_INT(text_parse(buf, LIMIT_LINE_MAX + 1, &lim, &req), TEXT_PARSE_ERROR);
    CHECK(req.close);
    CHECK_EQ_INT(req.error, TEXT_ERR_NONE);
    /* a get line past LIMIT_LINE_MAX is served in pieces: the complete keys,
     * up to the last space; the partial key waits for the next piece */
    memset(buf, ' ', n);
    memcpy(buf, "gat 9 ", 6);
    memcpy(buf + 100, "aa", 2);
    memcpy(buf + LIMIT_LINE_MAX + 5, "bbb", 3);
    CHECK_EQ_INT(text_parse(buf, LIMIT_LINE_MAX, &lim, &req), TEXT_PARSE_NEED_MORE);
    CHECK_EQ_INT(text_parse(buf, LIMIT_LINE_MAX + 7, &lim, &req), TEXT_PARSE_OK);
    CHECK(req.partial);
    CHECK_EQ_INT(req.cmd, TEXT_CMD_GAT);
    CHECK_EQ_INT(req.exptime, 9);
    CHECK_EQ_INT(req.nkeys, 1);
    CHECK_EQ_INT(req.consumed, LIMIT_LINE_MAX + 5);
    CHECK(text_next_key(&req, &pos, &k));
    CHECK_MEM(k.p, k.n, "aa");
    /* the next pieces: keys until the "\n", which ends the line */
    CHECK_EQ_INT(text_parse_more("bb", 2, TEXT_CMD_GAT, &req), TEXT_PARSE_NEED_MORE);
    CHECK_EQ_INT(text_parse_more("bbb cc d", 8, TEXT_CMD_GAT, &req), TEXT_PARSE_OK);
    CHECK(req.partial && req.nkeys == 2 && req.consumed == 7);
    CHECK_EQ_INT(text_parse_more("d e\r\nget x\r\n", 14, TEXT_CMD_GAT, &req), TEXT_PARSE_OK);
    CHECK(!req.partial && req.nkeys == 2 && req.consumed == 5);
    CHECK_EQ_INT(req.cmd, TEXT_CMD_GAT);
    /* a key longer than a key can be, in a piece: refused, still partial
     * (the caller discards the rest of the line), the connection open */
    memset(buf, 'K', n);
    memcpy(buf, "get a ", 6);
    CHECK_EQ_INT(text_parse(buf, LIMIT_LINE_MAX + 1, &lim, &req), TEXT_PARSE_ERROR);
    CHECK(req.partial && !req.close);
    CHECK_EQ_INT(req.error, TEXT_ERR_FORMAT);
    CHECK_EQ_INT(req.consumed, LIMIT_LINE_MAX + 1);
    CHECK_EQ_INT(text_parse_more(buf + 6, TEXT_KEY_MAX + 1, TEXT_CMD_GET, &req), TEXT_PARSE_ERROR);
    CHECK(req.partial && !req.close);
    CHECK_EQ_INT(req.consumed, TEXT_KEY_MAX + 1);
    memcpy(buf + 6 + TEXT_KEY_MAX + 1, " ", 1);
    CHECK_EQ_INT(text_parse_more(buf + 6, TEXT_KEY_MAX + 2, TEXT_CMD_GET, &req), TEXT_PARSE_ERROR);
    CHECK(req.partial && !req.close);
    /* in the piece that ends the line: an error like any line's */
    memcpy(buf + 6 + TEXT_KEY_MAX + 1, "\r\n", 2);
    CHECK_EQ_INT(text_parse_more(buf + 6, TEXT_KEY_MAX + 3, TEXT_CMD_GET, &req), TEXT_PARSE_ERROR);
    CHECK(!req.partial && !req.close);
    CHECK_EQ_INT(req.consumed, TEXT_KEY_MAX + 3);
    /* gat: too few tokens, then the exptime, then the keys (1.6.45) */
    CHECK_EQ_INT(text_parse("gat x\r\n", 7, &lim, &req), TEXT_PARSE_ERROR);
    CHECK_EQ_INT(req.error, TEXT_ERR_FORMAT);
    memcpy(buf, "gat x ", 6);
    memcpy(buf + 6 + TEXT_KEY_MAX + 1, "\r\n", 2);
    CHECK_EQ_INT(text_parse(buf, 6 + TEXT_KEY_MAX + 3, &lim, &req), TEXT_PARSE_ERROR);
    CHECK_EQ_INT(req.error, TEXT_ERR_BAD_EXPTIME);
    /* a complete but too long non-retrieval line closes too */
    memset(buf, 'k', LIMIT_LINE_MAX + 10);
    memcpy(buf, "set ", 4);
    memcpy(buf + LIMIT_LINE_MAX + 10, "\r\n", 2);
    CHECK_EQ_INT(text_parse(buf, LIMIT_LINE_MAX + 12, &lim, &req), TEXT_PARSE_ERROR);
    CHECK(req.close);
    free(buf);
}

static void test_storage_errors(void)
{
    struct text_req req;

    CHECK_EQ_INT(parse("set k 0 0\r\n", &req), TEXT_PARSE_ERROR);
    CHECK_EQ_INT(req.error, TEXT_ERR_FORMAT);
    CHECK_EQ_INT(req.swallow, 0);   /* no length, nothing to swallow */
    /* extra tokens are ignored; noreply is the last token's */
    CHECK_EQ_INT(parse("set k 0 0 1 noreply extra\r\nx\r\n", &req), TEXT_PARSE_OK);
    CHECK(!req.noreply);
    CHECK_EQ_INT(parse("set k 0 0 1 2 3 noreply\r\nx\r\n", &req), TEXT_PARSE_OK);
    CHECK(req.noreply);
    expect_error("set k -1 0 1\r\nx\r\n", TEXT_ERR_FORMAT, 0);
    expect_error("set k 4294967296 0 1\r\nx\r\n", TEXT_ERR_FORMAT, 0);
    expect_error("set k 0 2147483648 1\r\nx\r\n", TEXT_ERR_FORMAT, 0);
    expect_error("set k 0 0 -1\r\n", TEXT_ERR_FORMAT, 0);
    expect_error("set k 0 0 2147483647\r\n", TEXT_ERR_FORMAT, 0);
    expect_error("set k 0 0 abc\r\n", TEXT_ERR_FORMAT, 0);
    expect_error("cas k 0 0 1 -5\r\nx\r\n", TEXT_ERR_FORMAT, 0);
    expect_error("cas k 0 0 1\r\nx\r\n", TEXT_ERR_FORMAT, 0);

    /* a bad line whose length parsed: its data block is swallowed (1.6.45) */
    CHECK_EQ_INT(parse("cas k 0 0 6 \r\nfoobar\r\n", &req), TEXT_PARSE_ERROR);
    CHECK_EQ_INT(req.error, TEXT_ERR_FORMAT);
    CHECK_EQ_INT(req.consumed, strlen("cas k 0 0 6 \r\n"));
    CHECK_EQ_INT(req.swallow, 8);
    CHECK(!req.close);
    CHECK_EQ_INT(parse("set k abc 0 1\r\nx\r\n", &req), TEXT_PARSE_ERROR);
    CHECK_EQ_INT(req.swallow, 3);
    /* ... unless the length is more than a value may be: close */
    CHECK_EQ_INT(parse("cas k 0 0 2000000\r\n", &req), TEXT_PARSE_ERROR);
    CHECK_EQ_INT(req.error, TEXT_ERR_FORMAT);
    CHECK(req.close);
    /* no length, nothing to swallow */
    CHECK_EQ_INT(parse("set k 0 0 -1\r\n", &req), TEXT_PARSE_ERROR);
    CHECK_EQ_INT(req.swallow, 0);

    /* bad data chunk: the whole line + bytes + 2 are consumed */
    CHECK_EQ_INT(parse("set k 0 0 3\r\nabcde\r\n", &req), TEXT_PARSE_ERROR);
    CHECK_EQ_INT(req.error, TEXT_ERR_BAD_CHUNK);
    CHECK_EQ_INT(req.consumed, strlen("set k 0 0 3\r\nabcde"));

    /* too large: refused before buffering, the value is swallowed */
    CHECK_EQ_INT(parse("set k 0 0 2000000\r\n", &req), TEXT_PARSE_ERROR);
    CHECK_EQ_INT(req.error, TEXT_ERR_TOO_LARGE);
    CHECK_EQ_INT(req.swallow, 2000002);
    CHECK_EQ_INT(req.consumed, strlen("set k 0 0 2000000\r\n"));

    /* noreply is known even when the line is refused */
    CHECK_EQ_INT(parse("set k 0 0 x noreply\r\n", &req), TEXT_PARSE_ERROR);
    CHECK(req.noreply);
}

static void test_other_commands(void)
{
    struct text_req req;

    CHECK_EQ_INT(parse("incr k 18446744073709551615\r\n", &req), TEXT_PARSE_OK);
    CHECK(req.number == UINT64_MAX);
    CHECK_EQ_INT(parse("decr k 1 noreply\r\n", &req), TEXT_PARSE_OK);
    CHECK(req.noreply);
    expect_error("incr k -1\r\n", TEXT_ERR_BAD_DELTA, 0);
    expect_error("incr k 18446744073709551616\r\n", TEXT_ERR_BAD_DELTA, 0);
    expect_error("incr k\r\n", TEXT_ERR_FORMAT, 0);
    CHECK_EQ_INT(parse("incr k 1 noreply extra\r\n", &req), TEXT_PARSE_OK);
    CHECK(!req.noreply);
    expect_error("touch k\r\n", TEXT_ERR_FORMAT, 0);

    CHECK_EQ_INT(parse("touch k 100\r\n", &req), TEXT_PARSE_OK);
    CHECK_EQ_INT(req.exptime, 100);
    expect_error("touch k x\r\n", TEXT_ERR_BAD_EXPTIME, 0);

    CHECK_EQ_INT(parse("delete k\r\n", &req), TEXT_PARSE_OK);
    CHECK_EQ_INT(parse("delete k 0\r\n", &req), TEXT_PARSE_OK);
    CHECK_EQ_INT(parse("delete k noreply\r\n", &req), TEXT_PARSE_OK);
    CHECK(req.noreply);
    CHECK_EQ_INT(parse("delete k 0 noreply\r\n", &req), TEXT_PARSE_OK);
    /* 1.6.45 ignores the old hold time, whatever it is */
    CHECK_EQ_INT(parse("delete k 5\r\n", &req), TEXT_PARSE_OK);
    CHECK(!req.noreply);
    CHECK_EQ_INT(parse("delete k 5 noreply\r\n", &req), TEXT_PARSE_OK);
    CHECK(req.noreply);

    CHECK_EQ_INT(parse("flush_all\r\n", &req), TEXT_PARSE_OK);
    CHECK(!req.has_delay);
    CHECK_EQ_INT(parse("flush_all 10 noreply\r\n", &req), TEXT_PARSE_OK);
    CHECK(req.has_delay && req.exptime == 10 && req.noreply);
    CHECK_EQ_INT(parse("flush_all noreply\r\n", &req), TEXT_PARSE_OK);
    CHECK(!req.has_delay && req.noreply);
    expect_error("flush_all x\r\n", TEXT_ERR_BAD_EXPTIME, 0);
    expect_error("flush_all noreply extra\r\n", TEXT_ERR_BAD_EXPTIME, 0);
    expect_error("verbosity abc\r\n", TEXT_ERR_FORMAT, 0);
    expect_error("cache_memlimit -1\r\n", TEXT_ERR_UNKNOWN, 0);
    CHECK_EQ_INT(parse("quit now\r\n", &req), TEXT_PARSE_OK);
    CHECK_EQ_INT(parse("incr k +5\r\n", &req), TEXT_PARSE_OK);
    CHECK_EQ_INT(req.number, 5);

    CHECK_EQ_INT(parse("verbosity 1\r\n", &req), TEXT_PARSE_OK);
    CHECK_EQ_INT(req.number, 1);
    expect_error("verbosity\r\n", TEXT_ERR_FORMAT, 0);
    CHECK_EQ_INT(parse("verbosity 1 2 3\r\n", &req), TEXT_PARSE_OK);
    expect_error("cache_memlimit\r\n", TEXT_ERR_UNKNOWN, 0);
    CHECK_EQ_INT(parse("cache_memlimit 100\r\n", &req), TEXT_PARSE_OK);
    CHECK_EQ_INT(req.number, 100);
    expect_error("cache_memlimit x\r\n", TEXT_ERR_UNKNOWN, 0);
    CHECK_EQ_INT(parse("quit\r\n", &req), TEXT_PARSE_OK);
    CHECK_EQ_INT(parse("stats items\r\n", &req), TEXT_PARSE_OK);
    CHECK_EQ_INT(req.nargs, 1);
    CHECK_MEM(req.args[0].p, req.args[0].n, "items");
    CHECK_EQ_INT(parse("version\r\n", &req), TEXT_PARSE_OK);
}

static void test_unknown_and_hostile(void)
{
    /* 1.6.45: a line under 4 bytes is a format error, a longer one unknown */
    expect_error("\r\n", TEXT_ERR_FORMAT, 0);
    expect_error(" \r\n", TEXT_ERR_FORMAT, 0);
    expect_error("x\n", TEXT_ERR_FORMAT, 0);
    expect_error("ab\r\n", TEXT_ERR_UNKNOWN, 0);
    expect_error("bogus\r\n", TEXT_ERR_UNKNOWN, 0);
    expect_error("GET k\r\n", TEXT_ERR_UNKNOWN, 0);
    expect_error("GET / HTTP/1.1\r\n", TEXT_ERR_NONE, 1);
    expect_error("foo HTTP/x\r\n", TEXT_ERR_NONE, 1);
    expect_error("GET /\r\n", TEXT_ERR_UNKNOWN, 0);
    /* on a known command an HTTP/ token is just a key */
    struct text_req req;
    CHECK_EQ_INT(parse("get / HTTP/1.0\r\n", &req), TEXT_PARSE_OK);
    CHECK_EQ_INT(req.nkeys, 2);
    expect_error("stats a b c d e f g h i j k l m n o p q r s t u v w x y z\r\n",
                 TEXT_ERR_UNKNOWN, 0);
}

/* ---- the one-pass "set" line (parse_set_fast) against the general path ----
 * A line with two spaces after "set" has the same tokens but is never
 * taken by the fast path, so the two parses of each random line must agree
 * in every field, offsets and lengths one byte apart. */

static uint64_t fast_rng = 0x9e3779b97f4a7c15u;

static uint32_t fast_rand(uint32_t n)
{
    fast_rng ^= fast_rng << 13;
    fast_rng ^= fast_rng >> 7;
    fast_rng ^= fast_rng << 17;
    return (uint32_t)(fast_rng % n);
}

static const char *const fast_numbers[] = {
    "0", "1", "32", "1024", "007", "999999999", "1000000000", "4294967295",
    "4294967296", "2147483645", "2147483646", "-1", "+1", "", "1x", "9 9",
    "12345678", "0000000001",
};

/* A number most of the time from the list, else random digits. */
static int fast_number_text(char *out, size_t cap)
{
    if (fast_rand(3) == 0)
        return snprintf(out, cap, "%u", fast_rand(2000000));
    return snprintf(out, cap, "%s", fast_numbers[fast_rand(sizeof(fast_numbers) /
                                                           sizeof(fast_numbers[0]))]);
}

static int fast_key_text(char *out, size_t cap)
{
    static const char odd[] = { '\t', '\x7f', '\x01', '\r', 'a', 'Z', '~', '\x80' };
    size_t n;

    switch (fast_rand(6)) {
    case 0: n = TEXT_KEY_MAX; break;
    case 1: n = TEXT_KEY_MAX + 1; break;
    default: n = 1 + fast_rand(20); break;
    }
    if (n + 1 > cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)('a' + fast_rand(26));
    if (fast_rand(8) == 0)
        out[fast_rand((uint32_t)n)] = odd[fast_rand(sizeof(odd))];
    out[n] = 0;
    return (int)n;
}

/* Parse line a (the fast path's shape) and b (the same line with one more
 * space after the command, which only the general path takes) and check
 * what every command's outcome shares; b is one byte longer when parsed. */
static enum text_parse_status parse_pair(const char *a, size_t alen, const char *b,
                                         size_t blen, struct text_req *ra, struct text_req *rb)
{
    enum text_parse_status sa = text_parse(a, alen, &lim, ra);
    enum text_parse_status sb = text_parse(b, blen, &lim, rb);

    CHECK_EQ_INT(sa, sb);
    CHECK_EQ_INT(ra->cmd, rb->cmd);
    CHECK_EQ_INT(ra->error, rb->error);
    CHECK_EQ_INT(ra->close, rb->close);
    if (sa == TEXT_PARSE_OK || (sa == TEXT_PARSE_ERROR && !ra->close))
        CHECK_EQ_INT(ra->consumed + 1, rb->consumed);
    return sa;
}

static void report_line(int failures_before, const char *a, size_t alen)
{
    if (unit_failures != failures_before)
        fprintf(stderr, "  for line: %.*s\n", (int)alen, a);
}

static void fast_compare(const char *a, size_t alen, const char *b, size_t blen)
{
    struct text_req ra, rb;
    int before = unit_failures;
    enum text_parse_status sa = parse_pair(a, alen, b, blen, &ra, &rb);

    CHECK_EQ_INT(ra.swallow, rb.swallow);
    if (sa == TEXT_PARSE_NEED_MORE)
        CHECK_EQ_INT(ra.need + (ra.need != 0), rb.need);
    if (sa == TEXT_PARSE_OK) {
        CHECK_EQ_INT(ra.noreply, rb.noreply);
        CHECK_EQ_INT(ra.flags, rb.flags);
        CHECK_EQ_INT(ra.exptime, rb.exptime);
        CHECK_EQ_INT(ra.ndata, rb.ndata);
        CHECK(ra.key.n == rb.key.n && memcmp(ra.key.p, rb.key.p, ra.key.n) == 0);
        CHECK(memcmp(ra.data, rb.data, ra.ndata) == 0);
        CHECK_EQ_INT(ra.nargs, rb.nargs);
        for (uint32_t i = 0; i < ra.nargs && i < rb.nargs; i++)
            CHECK(ra.args[i].n == rb.args[i].n &&
                  memcmp(ra.args[i].p, rb.args[i].p, ra.args[i].n) == 0);
    }
    report_line(before, a, alen);
}

static void test_set_fast_path(void)
{
    static const char *const tails[] = {
        "", " noreply", " noreply ", " junk", " noreplyx", "  noreply", " ",
    };
    static char a[2048], b[2048];
    char key[TEXT_KEY_MAX + 2], num[3][24];

    for (int round = 0; round < 20000; round++) {
        bool clean = fast_rand(2);   /* half the lines well formed */
        fast_key_text(key, sizeof(key));
        for (int i = 0; i < 3; i++)
            fast_number_text(num[i], sizeof(num[i]));
        const char *tail = tails[fast_rand(sizeof(tails) / sizeof(tails[0]))];
        const char *eol = fast_rand(4) ? "\r\n" : "\n";
        char data[64];
        size_t nd = fast_rand(42);
        if (clean) {
            for (int i = 0; i < 2; i++)
                snprintf(num[i], sizeof(num[i]), "%u", fast_rand(1000000000));
            snprintf(num[2], sizeof(num[2]), "%zu", nd);
            tail = tails[fast_rand(2)];
        }
        for (size_t i = 0; i < nd; i++)
            data[i] = (char)('0' + fast_rand(10));
        data[nd] = 0;
        int na = snprintf(a, sizeof(a), "set %s %s %s %s%s%s%s\r\n", key, num[0], num[1],
                          num[2], tail, eol, data);
        int nb = snprintf(b, sizeof(b), "set  %s %s %s %s%s%s%s\r\n", key, num[0], num[1],
                          num[2], tail, eol, data);
        /* whole, and cut anywhere (need more) */
        fast_compare(a, (size_t)na, b, (size_t)nb);
        size_t cut = 4 + fast_rand((uint32_t)na - 4);
        fast_compare(a, cut, b, cut + 1);
    }
    /* the shapes the fast path takes, checked by value */
    struct text_req req;
    CHECK_EQ_INT(parse("set k 7 0 2 noreply\r\nhi\r\n", &req), TEXT_PARSE_OK);
    CHECK(req.noreply);
    CHECK_EQ_INT(req.flags, 7);
    CHECK_EQ_INT(req.nargs, 5);
    CHECK_MEM(req.data, req.ndata, "hi");
    CHECK_EQ_INT(parse("set k 999999999 999999999 0\r\n\r\n", &req), TEXT_PARSE_OK);
    CHECK_EQ_INT(req.flags, 999999999);
    CHECK_EQ_INT(req.exptime, 999999999);
}

/* ---- the one-pass "get <key>" line (parse_get_fast) against the general
 * path: "get  <key>" (two spaces) is never taken by it, so both parses
 * must agree, and hand out the same keys. */
static void get_compare(const char *a, size_t alen, const char *b, size_t blen)
{
    struct text_req ra, rb;
    int before = unit_failures;
    enum text_parse_status sa = parse_pair(a, alen, b, blen, &ra, &rb);

    if (sa == TEXT_PARSE_OK) {
        struct text_token ka, kb;
        size_t pa = 0, pb = 0;
        CHECK_EQ_INT(ra.nkeys, rb.nkeys);
        CHECK_EQ_INT(ra.partial, rb.partial);
        for (;;) {
            bool ha = text_next_key(&ra, &pa, &ka), hb = text_next_key(&rb, &pb, &kb);
            CHECK_EQ_INT(ha, hb);
            if (!ha || !hb)
                break;
            CHECK(ka.n == kb.n && memcmp(ka.p, kb.p, ka.n) == 0);
        }
    }
    report_line(before, a, alen);
}

static void test_get_fast_path(void)
{
    static const char *const tails[] = { "", " ", " k2", " k2 k3", "  k2", " k2 " };
    static char a[1024], b[1024];
    char key[TEXT_KEY_MAX + 2];

    for (int round = 0; round < 20000; round++) {
        fast_key_text(key, sizeof(key));
        const char *tail = tails[fast_rand(sizeof(tails) / sizeof(tails[0]))];
        const char *eol = fast_rand(4) ? "\r\n" : "\n";
        int na = snprintf(a, sizeof(a), "get %s%s%s", key, tail, eol);
        int nb = snprintf(b, sizeof(b), "get  %s%s%s", key, tail, eol);
        get_compare(a, (size_t)na, b, (size_t)nb);
    }
    struct text_req req;
    struct text_token k;
    size_t pos = 0;
    CHECK_EQ_INT(parse("get abc\r\n", &req), TEXT_PARSE_OK);
    CHECK_EQ_INT(req.cmd, TEXT_CMD_GET);
    CHECK_EQ_INT(req.consumed, 9);
    CHECK(text_next_key(&req, &pos, &k));
    CHECK_MEM(k.p, k.n, "abc");
    CHECK(!text_next_key(&req, &pos, &k));
    CHECK_EQ_INT(parse("get \r\n", &req), TEXT_PARSE_ERROR);
    CHECK_EQ_INT(req.error, TEXT_ERR_FORMAT);
}

int main(void)
{
    RUN(test_storage_round_trip);
    RUN(test_need_more_at_every_split);
    RUN(test_retrieval);
    RUN(test_key_limits);
    RUN(test_many_keys);
    RUN(test_retrieval_keys_scanned);
    RUN(test_line_limits);
    RUN(test_storage_errors);
    RUN(test_other_commands);
    RUN(test_unknown_and_hostile);
    RUN(test_set_fast_path);
    RUN(test_get_fast_path);
    return unit_report("text_parse");
}
