/* Unit tests for the item layout (item.h): header round trips for every
 * combination of optional fields (expiry, client flags, a client-chosen
 * CAS), value lengths across varint boundaries, CAS deltas at their
 * limits, and iflags that can be flipped in place. */
#include "storage/item.h"

#include <stdlib.h>

#include "unit.h"

static unsigned char buf[1 << 17];

static void roundtrip(uint32_t nvalue, int32_t d, uint32_t atime, rel_time_t exp,
                      uint32_t flags, uint64_t cas)
{
    static const char key[] = "some:key";
    struct item_hdr h;
    size_t off, nk;
    const unsigned char *k;

    memset(buf, 0xa5, sizeof(buf));
    off = item_encode(buf, 8, nvalue, d, !item_delta_short(d), atime, exp, flags, ITEM_STALE, cas);
    memcpy(buf + off, key, 8);
    memset(buf + off + 8, 'v', nvalue);
    item_decode(buf, &h);
    CHECK_EQ_INT(h.nvalue, nvalue);
    CHECK_EQ_INT(h.nkey, 8);
    CHECK_EQ_INT(h.cas_delta, d);
    CHECK_EQ_INT(h.atime, item_atime_decode(item_atime_encode(atime)));
    CHECK_EQ_INT(h.exptime, exp);
    CHECK_EQ_INT(h.flags, flags);
    CHECK(h.cas == cas);
    CHECK_EQ_INT(h.key_off, off);
    CHECK_EQ_INT(h.size, item_size_of(8, nvalue, exp != 0, flags != 0, cas != 0,
                                      !item_delta_short(d)));
    CHECK_EQ_INT(h.cas_wide, !item_delta_short(d));
    CHECK(h.iflags & ITEM_STALE);
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
    CHECK_EQ_INT(h.cas_delta, d);
    CHECK(h.cas == cas);
}

static void test_layouts(void)
{
    static const uint32_t lens[] = { 0, 1, 127, 128, 200, 16383, 16384,
                                     65535, 65536, 100000 };
    static const int32_t deltas[] = { 0, 1, -1, 8388607, -8388607, 8388608,
                                      -8388608, INT32_MAX, INT32_MIN };
    size_t i, j;

    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        for (j = 0; j < sizeof(deltas) / sizeof(deltas[0]); j++) {
            roundtrip(lens[i], deltas[j], 0, 0, 0, 0);
            roundtrip(lens[i], deltas[j], ITEM_ATIME_MAX, 12345, 0, 0);
            roundtrip(lens[i], deltas[j], 7, 0, 0xdeadbeef, 0);
            roundtrip(lens[i], deltas[j], 3600, 0, 0, 0);
            roundtrip(lens[i], deltas[j], 1, 7, 1, UINT64_MAX);
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

/* A delta rewritten in place keeps the item's form: the 3-byte form takes
 * only short deltas, the 7-byte one any int32; nothing is written when the
 * delta does not fit. */
static void test_delta_in_place(void)
{
    struct item_hdr h;
    size_t off;

    off = item_encode(buf, 3, 2, 5, false, 0, 0, 0, 0, 0);
    memcpy(buf + off, "keyvv", 5);
    item_decode(buf, &h);
    CHECK(!h.cas_wide);
    CHECK(item_set_delta(buf, &h, -ITEM_DELTA_SHORT));
    CHECK(!item_set_delta(buf, &h, -ITEM_DELTA_SHORT - 1));
    CHECK(!item_set_delta(buf, &h, (int64_t)INT32_MAX + 1));
    item_decode(buf, &h);
    CHECK_EQ_INT(h.cas_delta, -ITEM_DELTA_SHORT);
    CHECK_EQ_INT(h.key_off, off);
    CHECK(memcmp(buf + h.key_off, "keyvv", 5) == 0);

    off = item_encode(buf, 3, 2, 5, true, 0, 0, 0, 0, 0);
    memcpy(buf + off, "keyvv", 5);
    item_decode(buf, &h);
    CHECK(h.cas_wide);
    CHECK_EQ_INT(h.cas_delta, 5);
    CHECK(item_set_delta(buf, &h, INT32_MIN));
    CHECK(!item_set_delta(buf, &h, (int64_t)INT32_MIN - 1));
    item_decode(buf, &h);
    CHECK_EQ_INT(h.cas_delta, INT32_MIN);
    CHECK(h.cas_wide);
    CHECK_EQ_INT(h.size, off + 5);
}

static void test_sizes(void)
{
    /* the sizes the memory figures in BENCHMARKS.md rest on: 16-byte keys,
     * no expiry, no client flags */
    CHECK_EQ_INT(item_size_of(16, 32, false, false, false, false), 55);
    CHECK_EQ_INT(item_size_of(16, 200, false, false, false, false), 224);
}

int main(void)
{
    RUN(test_layouts);
    RUN(test_atime_codec);
    RUN(test_delta_in_place);
    RUN(test_sizes);
    return unit_report("test_item");
}
