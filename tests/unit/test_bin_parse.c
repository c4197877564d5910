/*
 * Unit tests for the pure binary parser: a request split at every byte,
 * extras decoding, every length check, and the header composer.
 */
#include <stdlib.h>

#include "protocol/binary/parse.h"
#include "unit.h"

static const struct bin_limits lim = { .value_max = 1024, .swallow_max = 1 << 20 };

static size_t req(unsigned char *out, uint8_t op, uint16_t keylen, uint8_t extlen,
                  uint32_t bodylen, const char *body, size_t nbody)
{
    memset(out, 0, BIN_HEADER_LEN);
    out[0] = BIN_REQ_MAGIC;
    out[1] = op;
    out[2] = (unsigned char)(keylen >> 8);
    out[3] = (unsigned char)keylen;
    out[4] = extlen;
    out[8] = (unsigned char)(bodylen >> 24);
    out[9] = (unsigned char)(bodylen >> 16);
    out[10] = (unsigned char)(bodylen >> 8);
    out[11] = (unsigned char)bodylen;
    out[12] = 0xaa;   /* opaque */
    out[23] = 7;      /* cas */
    memcpy(out + BIN_HEADER_LEN, body, nbody);
    return BIN_HEADER_LEN + nbody;
}

static void test_set_every_split(void)
{
    unsigned char buf[128];
    /* flags 0x01020304, exptime 100, key "key", value "value" */
    static const char body[] = "\x01\x02\x03\x04\x00\x00\x00\x64" "key" "value";
    size_t n = req(buf, BIN_OP_SET, 3, 8, 16, body, 16);
    struct bin_req r;

    for (size_t i = 0; i < n; i++) {
        CHECK_EQ_INT(bin_parse((const char *)buf, i, &lim, &r), BIN_PARSE_NEED_MORE);
        CHECK(r.need > i);
    }
    CHECK_EQ_INT(bin_parse((const char *)buf, n, &lim, &r), BIN_PARSE_OK);
    CHECK_EQ_INT(r.consumed, n);
    CHECK_EQ_INT(r.flags, 0x01020304);
    CHECK_EQ_INT(r.exptime, 100);
    CHECK_EQ_INT(r.cas, 7);
    CHECK_MEM(r.key, r.keylen, "key");
    CHECK_MEM(r.value, r.nvalue, "value");
    CHECK(!r.quiet);
    CHECK_EQ_INT(bin_parse((const char *)buf, n, &lim, &r), BIN_PARSE_OK);
    buf[1] = BIN_OP_SETQ;
    CHECK_EQ_INT(bin_parse((const char *)buf, n, &lim, &r), BIN_PARSE_OK);
    CHECK(r.quiet && r.base == BIN_OP_SET);
}

static void test_incr_extras(void)
{
    unsigned char buf[128];
    char body[21 + 1] = { 0 };
    struct bin_req r;

    body[7] = 5;             /* delta */
    body[15] = 9;            /* initial */
    memset(body + 16, 0xff, 4);
    body[20] = 'k';
    req(buf, BIN_OP_INCREMENT, 1, 20, 21, body, 21);
    CHECK_EQ_INT(bin_parse((const char *)buf, 45, &lim, &r), BIN_PARSE_OK);
    CHECK_EQ_INT(r.delta, 5);
    CHECK_EQ_INT(r.initial, 9);
    CHECK_EQ_INT(r.exptime, 0xffffffffu);
}

static void expect(uint8_t op, uint16_t keylen, uint8_t extlen, uint32_t bodylen,
                   enum bin_status st, int close)
{
    unsigned char buf[BIN_HEADER_LEN];
    struct bin_req r;

    req(buf, op, keylen, extlen, bodylen, "", 0);
    CHECK_EQ_INT(bin_parse((const char *)buf, sizeof(buf), &lim, &r), BIN_PARSE_ERROR);
    CHECK_EQ_INT(r.status, st);
    CHECK_EQ_INT(r.close, close);
}

static void test_length_checks(void)
{
    expect(BIN_OP_SET, 10, 8, 5, BIN_STATUS_UNKNOWN_COMMAND, 1);    /* body < key+ext */
    expect(BIN_OP_GET, 0xffff, 0, 0, BIN_STATUS_UNKNOWN_COMMAND, 1);
    expect(BIN_OP_GET, 251, 0, 251, BIN_STATUS_EINVAL, 1);          /* key > 250 */
    expect(BIN_OP_SET, 1, 21, 30, BIN_STATUS_EINVAL, 1);            /* extras > 20 */
    expect(BIN_OP_SET, 1, 255, 300, BIN_STATUS_EINVAL, 1);
    expect(BIN_OP_GET, 1, 0, 5, BIN_STATUS_EINVAL, 1);              /* value on get */
    expect(BIN_OP_FLUSH, 0, 2, 2, BIN_STATUS_EINVAL, 1);
    expect(BIN_OP_SET, 0, 8, 8, BIN_STATUS_EINVAL, 1);              /* no key */
    expect(BIN_OP_NOOP, 1, 0, 1, BIN_STATUS_EINVAL, 1);
    expect(BIN_OP_SASL_AUTH, 5, 0, BIN_SASL_BODY_MAX + 1, BIN_STATUS_EINVAL, 1);
    expect(BIN_OP_SET, 1, 8, 0xffffffffu, BIN_STATUS_E2BIG, 1);    /* huge body */
    expect(0x50, 0, 0, 0x7fffffff, BIN_STATUS_UNKNOWN_COMMAND, 0);  /* skipped */
}

static void test_too_large_is_swallowed(void)
{
    unsigned char buf[64];
    struct bin_req r;

    req(buf, BIN_OP_SET, 1, 8, 9 + 2000, "\0\0\0\0\0\0\0\0k", 9);
    CHECK_EQ_INT(bin_parse((const char *)buf, 20, &lim, &r), BIN_PARSE_NEED_MORE);
    CHECK_EQ_INT(bin_parse((const char *)buf, 33, &lim, &r), BIN_PARSE_ERROR);
    CHECK_EQ_INT(r.status, BIN_STATUS_E2BIG);
    CHECK_EQ_INT(r.close, 0);
    CHECK_EQ_INT(r.consumed, 33);
    CHECK_EQ_INT(r.swallow, 2000);
    CHECK_MEM(r.key, r.keylen, "k");
}

static void test_bad_magic(void)
{
    unsigned char buf[BIN_HEADER_LEN];
    struct bin_req r;

    req(buf, BIN_OP_NOOP, 0, 0, 0, "", 0);
    buf[0] = BIN_RES_MAGIC;
    CHECK_EQ_INT(bin_parse((const char *)buf, sizeof(buf), &lim, &r), BIN_PARSE_ERROR);
    CHECK_EQ_INT(r.status, BIN_STATUS_OK);   /* no reply */
    CHECK(r.close);
}

static void test_compose(void)
{
    unsigned char h[BIN_HEADER_LEN];
    uint32_t opaque = 0x11223344;

    bin_compose_header(h, BIN_OP_GETK, BIN_STATUS_KEY_ENOENT, 4, 3, 10, opaque,
                       0x0102030405060708ull);
    CHECK_EQ_INT(h[0], BIN_RES_MAGIC);
    CHECK_EQ_INT(h[1], BIN_OP_GETK);
    CHECK_EQ_INT(h[3], 3);
    CHECK_EQ_INT(h[4], 4);
    CHECK_EQ_INT(h[7], 1);
    CHECK_EQ_INT(h[11], 10);
    CHECK(memcmp(h + 12, &opaque, 4) == 0);
    CHECK_EQ_INT(h[16], 1);
    CHECK_EQ_INT(h[23], 8);
    CHECK(strcmp(bin_status_message(BIN_STATUS_E2BIG), "Too large.") == 0);
}

int main(void)
{
    RUN(test_set_every_split);
    RUN(test_incr_extras);
    RUN(test_length_checks);
    RUN(test_too_large_is_swallowed);
    RUN(test_bad_magic);
    RUN(test_compose);
    return unit_report("test_bin_parse");
}
