/*
 * strnum: length-bounded decimal parsing with overflow checks done before
 * the arithmetic that could overflow.
 */
#include "core/strnum.h"

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

size_t strnum_fmt_u64(char *buf, uint64_t v)
{
    char tmp[20];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}
