/* Unit tests for the checked number parser. */
#include "core/strnum.h"
#include "unit.h"

#include <inttypes.h>
#include <stdio.h>

#define S(lit) (lit), sizeof(lit) - 1

static void test_u64(void)
{
    uint64_t v;
    CHECK(strnum_u64(S("0"), &v) && v == 0);
    CHECK(strnum_u64(S("18446744073709551615"), &v) && v == UINT64_MAX);
    CHECK(!strnum_u64(S("18446744073709551616"), &v));
    CHECK(!strnum_u64(S(""), &v));
    CHECK(!strnum_u64(S("-1"), &v));
    CHECK(!strnum_u64(S("1a"), &v));
    CHECK(!strnum_u64(S(" 1"), &v));
}

static void test_signed(void)
{
    int64_t v;
    int32_t w;
    uint32_t u;
    CHECK(strnum_i64(S("-9223372036854775808"), &v) && v == INT64_MIN);
    CHECK(!strnum_i64(S("9223372036854775808"), &v));
    CHECK(strnum_i32(S("-1"), &w) && w == -1);
    CHECK(!strnum_i32(S("2147483648"), &w));
    CHECK(!strnum_i64(S("-"), &v));
    CHECK(strnum_u32(S("4294967295"), &u) && u == UINT32_MAX);
    CHECK(!strnum_u32(S("4294967296"), &u));
}

static void test_counter(void)
{
    uint64_t v;
    CHECK(strnum_counter(S("12"), &v) && v == 12);
    CHECK(strnum_counter(S("12  "), &v) && v == 12);
    CHECK(strnum_counter(S(""), &v) && v == 0);
    CHECK(strnum_counter(S("+7"), &v) && v == 7);
    CHECK(!strnum_counter(S("1a"), &v));
    CHECK(!strnum_counter(S("-1"), &v));
    CHECK(!strnum_counter(S("99999999999999999999"), &v));
}

static void test_fmt(void)
{
    char buf[24];
    CHECK_MEM(buf, strnum_fmt_u64(buf, 0), "0");
    CHECK_MEM(buf, strnum_fmt_u64(buf, UINT64_MAX), "18446744073709551615");
    /* every digit count, and each side of every power of ten, against printf */
    for (uint64_t p10 = 1, k = 0; k < 20; k++, p10 *= 10) {
        uint64_t vs[] = { p10 - 1, p10, p10 + 1, p10 * 3 + 7, p10 * 9 + p10 / 2 };
        for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
            char want[24];
            int n = snprintf(want, sizeof(want), "%" PRIu64, vs[i]);
            CHECK(strnum_fmt_u64(buf, vs[i]) == (size_t)n && memcmp(buf, want, (size_t)n) == 0);
            CHECK_EQ_INT(buf[n], '\0');
        }
    }
}

int main(void)
{
    RUN(test_u64);
    RUN(test_signed);
    RUN(test_counter);
    RUN(test_fmt);
    return unit_report("strnum");
}
