/*
 * strnum: length-bounded decimal parsing with overflow checks done before
 * the arithmetic that could overflow.
 */
#include "core/strnum.h"

#include <string.h>

static bool digits_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;

    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9)
            return false;
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool strnum_u64(const char *s, size_t len, uint64_t *out)
{
    return digits_u64(s, len, out);
}

bool strnum_u32(const char *s, size_t len, uint32_t *out)
{
    uint64_t v;

    if (!digits_u64(s, len, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

bool strnum_i64(const char *s, size_t len, int64_t *out)
{
    uint64_t v;
    bool neg = len > 0 && s[0] == '-';

    if (neg) {
        s++;
        len--;
    }
    if (!digits_u64(s, len, &v))
        return false;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > INT64_MAX)
            return false;
        *out = (int64_t)v;
    }
    return true;
}

bool strnum_i32(const char *s, size_t len, int32_t *out)
{
    int64_t v;

    if (!strnum_i64(s, len, &v) || v < INT32_MIN || v > INT32_MAX)
        return false;
    *out = (int32_t)v;
    return true;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

bool strnum_counter(const char *s, size_t len, uint64_t *out)
{
    size_t i = 0, start;

    while (i < len && is_space(s[i]))
        i++;
    if (i + 1 < len && s[i] == '+')   /* strtoull takes a sign */
        i++;
    start = i;
    while (i < len && (unsigned)((unsigned char)s[i] - '0') <= 9)
        i++;
    if (i < len && !is_space(s[i]))
        return false;
    if (i == start) {
        *out = 0;
        return true;
    }
    return digits_u64(s + start, i - start, out);
}

/* Every get's reply header formats two or three numbers: the digits are
 * counted first (small numbers, the usual ones, take a compare or two)
 * and written from the end two at a time from a table, in place. The
 * loop of one division per digit and a reversed copy was 93 of a 32 B
 * get's instructions (callgrind, issue 21); snprintf is slower still. */
static const char digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static size_t decimal_digits(uint64_t v)
{
    size_t n = 1;
    uint64_t ten = 10;

    while (n < 20 && v >= ten) {
        n++;
        ten *= 10;   /* n < 20: 10^19 is the last to fit */
    }
    return n;
}

size_t strnum_fmt_u64(char *buf, uint64_t v)
{
    size_t n = decimal_digits(v);
    char *p = buf + n;

    *p = '\0';
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, digit_pairs + 2 * r, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * v, 2);
    } else {
        *--p = (char)('0' + v);
    }
    return n;
}
