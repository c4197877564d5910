/* Unit tests for memcached's UDP frame: parse every bad header, compose
 * and reassemble replies of every interesting size. */
#include <stdlib.h>

#include "protocol/udp/frame.h"
#include "unit.h"

static void test_parse(void)
{
    static const uint8_t ok[] = "\x12\x34\x00\x00\x00\x01\x00\x00stats\r\n";
    static const uint8_t nine[] = "\x00\x00\x00\x00\x00\x01\x00\x00\x00stats\r\n";
    static const uint8_t zeros[] = "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00stats\r\n";
    static const uint8_t multi[] = "\x00\x01\x00\x00\x00\x02\x00\x00get a\r\n";
    static const uint8_t big_total[] = "\x00\x01\x00\x00\xff\xff\x00\x00get a\r\n";
    static const uint8_t seq_any[] = "\x00\x01\x00\x05\x00\x01\xab\xcd" "get a\r\n";
    struct udp_frame f;
    const uint8_t *p;
    size_t n;

    CHECK_EQ_INT(udp_frame_parse(ok, sizeof(ok) - 1, &f, &p, &n), UDP_FRAME_OK);
    CHECK_EQ_INT(f.request_id, 0x1234);
    CHECK_EQ_INT(f.total, 1);
    CHECK_MEM(p, n, "stats\r\n");
    /* the advisory's typo: a stray zero byte becomes part of the payload */
    CHECK_EQ_INT(udp_frame_parse(nine, sizeof(nine) - 1, &f, &p, &n), UDP_FRAME_OK);
    CHECK_EQ_INT(n, 8);
    CHECK_EQ_INT(p[0], 0);
    /* its verification command: total = 0, dropped */
    CHECK_EQ_INT(udp_frame_parse(zeros, sizeof(zeros) - 1, &f, &p, &n), UDP_FRAME_MULTI);
    CHECK(p == NULL && n == 0);
    CHECK_EQ_INT(udp_frame_parse(multi, sizeof(multi) - 1, &f, &p, &n), UDP_FRAME_MULTI);
    CHECK_EQ_INT(udp_frame_parse(big_total, sizeof(big_total) - 1, &f, &p, &n), UDP_FRAME_MULTI);
    /* sequence and reserved are ignored, as memcached does */
    CHECK_EQ_INT(udp_frame_parse(seq_any, sizeof(seq_any) - 1, &f, &p, &n), UDP_FRAME_OK);
    CHECK_EQ_INT(f.seq, 5);
    /* header only, shorter, empty */
    for (size_t len = 0; len <= UDP_FRAME_HEADER; len++)
        CHECK_EQ_INT(udp_frame_parse(ok, len, &f, &p, &n), UDP_FRAME_SHORT);
}

static void test_sizes(void)
{
    CHECK_EQ_INT(udp_frame_count(0), 0);
    CHECK_EQ_INT(udp_frame_count(1), 1);
    CHECK_EQ_INT(udp_frame_count(UDP_CHUNK_MAX), 1);
    CHECK_EQ_INT(udp_frame_count(UDP_CHUNK_MAX + 1), 2);
    CHECK_EQ_INT(udp_frame_wire_size(0), 0);
    CHECK_EQ_INT(udp_frame_wire_size(7), 15);
    CHECK_EQ_INT(udp_frame_wire_size(UDP_CHUNK_MAX + 1), UDP_DATAGRAM_MAX + 9);
    /* fit is the inverse of wire_size, rounding down */
    for (size_t w = 0; w < 5 * UDP_DATAGRAM_MAX; w += 7) {
        size_t r = udp_frame_fit(w);
        CHECK(udp_frame_wire_size(r) <= w);
        CHECK(udp_frame_wire_size(r + 1) > w);
    }
}

/* Compose a reply of len bytes, reassemble it by sequence number. */
static void roundtrip(size_t len)
{
    char *reply = malloc(len + 1), *back = calloc(1, len + 1);
    size_t count = udp_frame_count(len), got = 0;

    for (size_t i = 0; i < len; i++)
        reply[i] = (char)(i * 31 + 7);
    for (size_t i = count; i-- > 0;) {   /* any order */
        uint8_t hdr[UDP_FRAME_HEADER];
        size_t off, chunk;
        udp_frame_compose(0xbeef, len, i, hdr, &off, &chunk);
        CHECK_EQ_INT(hdr[0] << 8 | hdr[1], 0xbeef);
        CHECK_EQ_INT(hdr[2] << 8 | hdr[3], i);
        CHECK_EQ_INT(hdr[4] << 8 | hdr[5], count);
        CHECK_EQ_INT(hdr[6] | hdr[7], 0);
        CHECK(chunk > 0 && chunk <= UDP_CHUNK_MAX);
        CHECK(off + chunk <= len);
        CHECK(chunk + UDP_FRAME_HEADER <= UDP_DATAGRAM_MAX);
        if (i + 1 < count)
            CHECK_EQ_INT(chunk, UDP_CHUNK_MAX);
        memcpy(back + off, reply + off, chunk);
        got += chunk;
    }
    CHECK_EQ_INT(got, len);
    CHECK(memcmp(back, reply, len) == 0);
    free(reply);
    free(back);
}

static void test_roundtrip(void)
{
    size_t sizes[] = { 1, 2, UDP_CHUNK_MAX - 1, UDP_CHUNK_MAX, UDP_CHUNK_MAX + 1,
                       3 * UDP_CHUNK_MAX, 1000000 + 30 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++)
        roundtrip(sizes[i]);
    /* the largest reply the 16-bit fields allow */
    CHECK_EQ_INT(udp_frame_count((size_t)UDP_DATAGRAMS_MAX * UDP_CHUNK_MAX), UDP_DATAGRAMS_MAX);
}

int main(void)
{
    RUN(test_parse);
    RUN(test_sizes);
    RUN(test_roundtrip);
    return unit_report("test_udp_frame");
}
