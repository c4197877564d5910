/* Unit tests for the item layout (item.h): header round trips for every
 * combination of optional fields (expiry, client flags, a stored CAS),
 * value lengths across every varint boundary, the filler, and iflags that
 * can be flipped in place. */
#include "storage/item.h"

#include <stdlib.h>

#include "unit.h"

static unsigned char buf[1 << 18];

static void roundtrip(uint32_t nvalue, uint32_t atime, rel_time_t exp,
                      uint32_t flags, uint64_t cas)
{
    static const char key[] = "some:key";
    struct item_hdr h;
    size_t off, nk;
    const unsigned char *k;

    memset(buf, 0xa5, sizeof(buf));
    off = item_encode(buf, 8, nvalue, atime, exp, flags, ITEM_STALE, cas);
    memcpy(buf + off, key, 8);
    memset(buf + off + 8, 'v', nvalue);
    item_decode(buf, &h);
    CHECK_EQ_INT(h.nvalue, nvalue);
    CHECK_EQ_INT(h.nkey, 8);
    CHECK_EQ_INT(h.atime, item_atime_decode(item_atime_encode(atime)));
    CHECK_EQ_INT(h.exptime, exp);
    CHECK_EQ_INT(h.flags, flags);
    CHECK(h.cas == cas);
    CHECK_EQ_INT(h.key_off, off);
    CHECK_EQ_INT(h.size, item_size_of(8, nvalue, exp != 0, flags != 0, cas != 0));
    CHECK(h.iflags & ITEM_STALE);
    CHECK_EQ_INT((h.iflags & ITEM_HAS_CAS) != 0, cas != 0);
    k = item_key(buf, &nk);
    CHECK_EQ_INT(nk, 8);
    CHECK(k == buf + off && memcmp(k, key, 8) == 0);
    /* flags flip in place without touching the rest */
    buf[0] |= ITEM_ACCESSED | ITEM_FETCHED | ITEM_DEAD;
    buf[0] &= (unsigned char)~ITEM_ACCESSED;
    item_decode(buf, &h);
    CHECK_EQ_INT(h.iflags & (ITEM_ACCESSED | ITEM_FETCHED | ITEM_DEAD),
                 ITEM_FETCHED | ITEM_DEAD);
    CHECK_EQ_INT(h.nvalue, nvalue);
    CHECK(h.cas == cas);
}

static void test_layouts(void)
{
    static const uint32_t lens[] = { 0, 1, 127, 128, 200, 240, 241, 2287, 2288,
                                     16383, 16384, 65535, 67823, 67824, 100000,
                                     0x30000 };

    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        roundtrip(lens[i], 0, 0, 0, 0);
        roundtrip(lens[i], ITEM_ATIME_MAX, 12345, 0, 0);
        roundtrip(lens[i], 7, 0, 0xdeadbeef, 0);
        roundtrip(lens[i], 3600, 0, 0, 0);
        roundtrip(lens[i], 1, 7, 1, UINT64_MAX);
    }
}

/* The value-length varint: every boundary of every width round-trips,
 * the first byte alone tells the width, and the widths are the shortest
 * the format allows. */
static void test_varint(void)
{
    static const struct { uint32_t v; size_t n; } cases[] = {
        { 0, 1 }, { 240, 1 }, { 241, 2 }, { 2287, 2 }, { 2288, 3 },
        { 67823, 3 }, { 67824, 4 }, { 0xffffff, 4 }, { 0x1000000, 5 },
        { UINT32_MAX, 5 },
    };
    unsigned char p[8];
    uint32_t v;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(p, 0xee, sizeof(p));
        CHECK_EQ_INT(item_varint_len(cases[i].v), cases[i].n);
        CHECK_EQ_INT(item_varint_put(p, cases[i].v), cases[i].n);
        CHECK_EQ_INT(item_varint_size(p[0]), cases[i].n);
        CHECK(item_varint_get(p) == cases[i].v);
        CHECK_EQ_INT(p[cases[i].n], 0xee);   /* nothing past its end */
    }
    /* every length up to the three-byte range, and a stride beyond */
    for (v = 0; v < 300000; v += v < 70000 ? 1 : 997) {
        size_t n = item_varint_put(p, v);
        if (item_varint_get(p) != v || item_varint_size(p[0]) != n) {
            CHECK(!"varint round trip");
            break;
        }
    }
}

/* The access-time byte: exact below 16 s, otherwise rounded up by at most
 * 1/16 of the value, monotonic, saturating at ITEM_ATIME_MAX. */
static void test_atime_codec(void)
{
    uint32_t s, prev = 0;
    unsigned c;

    for (s = 0; s < ITEM_ATIME_EXACT; s++)
        CHECK_EQ_INT(item_atime_decode(item_atime_encode(s)), s);
    for (s = 0; s <= ITEM_ATIME_MAX + 100; s += (s < 5000 ? 1 : 97)) {
        uint32_t d = item_atime_decode(item_atime_encode(s));
        if (s <= ITEM_ATIME_MAX) {
            CHECK(d >= s);
            CHECK(d - s <= s / 16);
        } else {
            CHECK_EQ_INT(d, ITEM_ATIME_MAX);
        }
        CHECK(d >= prev);
        prev = d;
    }
    /* every code decodes to a value that encodes back to it */
    for (c = 0; c < 256; c++)
        CHECK_EQ_INT(item_atime_encode(item_atime_decode((uint8_t)c)), c);
    CHECK_EQ_INT(item_atime_encode(UINT32_MAX), 0xff);
    CHECK_EQ_INT(item_atime_decode(0xff), ITEM_ATIME_MAX);
}

/* The filler is a dead item of its declared size, and a walk over items
 * steps over it to the next one. */
static void test_filler(void)
{
    struct item_hdr h;
    size_t off;

    memset(buf, 0x5a, 64);
    item_put_filler(buf);
    off = item_encode(buf + ITEM_FILLER_SIZE, 1, 1, 0, 0, 0, 0, 0);
    memcpy(buf + ITEM_FILLER_SIZE + off, "kv", 2);
    item_decode(buf, &h);
    CHECK_EQ_INT(h.size, ITEM_FILLER_SIZE);
    CHECK_EQ_INT(h.iflags, ITEM_DEAD);
    item_decode(buf + h.size, &h);
    CHECK_EQ_INT(h.nkey, 1);
    CHECK_EQ_INT(h.nvalue, 1);
    CHECK(memcmp(buf + ITEM_FILLER_SIZE + h.key_off, "kv", 2) == 0);
}

static void test_sizes(void)
{
    /* the sizes the memory figures in BENCHMARKS.md rest on: 16-byte keys,
     * no expiry, no client flags, the CAS implied by the place */
    CHECK_EQ_INT(item_size_of(16, 32, false, false, false), 52);
    CHECK_EQ_INT(item_size_of(16, 200, false, false, false), 220);
    CHECK_EQ_INT(item_size_of(16, 1024, false, false, false), 1045);
    CHECK_EQ_INT(item_size_of(16, 32, true, true, true), 68);
}

int main(void)
{
    RUN(test_layouts);
    RUN(test_varint);
    RUN(test_atime_codec);
    RUN(test_filler);
    RUN(test_sizes);
    return unit_report("test_item");
}
