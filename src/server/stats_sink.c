/* stats_sink: the value helpers and the two wire sinks; see stats_sink.h.
 * Not on the hot path: plain snprintf where a value needs formatting. */
#include "server/stats_sink.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/strnum.h"
#include "protocol/binary/parse.h"

void stats_add_str(const struct stats_sink *s, const char *name, const char *val)
{
    s->add(s->ctx, name, val, strlen(val));
}

void stats_add_u64(const struct stats_sink *s, const char *name, uint64_t v)
{
    char num[24];

    s->add(s->ctx, name, num, strnum_fmt_u64(num, v));
}

void stats_add_milli(const struct stats_sink *s, const char *name, uint64_t milli)
{
    stats_add_fmt(s, name, "%llu.%03llu", (unsigned long long)(milli / 1000),
                  (unsigned long long)(milli % 1000));
}

void stats_add_fmt(const struct stats_sink *s, const char *name, const char *fmt, ...)
{
    char val[STATS_VALUE_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    s->add(s->ctx, name, val, (size_t)n < sizeof(val) ? (size_t)n : sizeof(val) - 1);
}

void stats_end(const struct stats_sink *s)
{
    s->add(s->ctx, NULL, NULL, 0);
}

void stats_text_add(void *ctx, const char *name, const char *val, size_t vlen)
{
    struct stats_text_out *t = ctx;
    size_t nlen = name ? strlen(name) : 0;
    int r;

    if (name == NULL) {
        r = buf_append(t->out, "END\r\n", 5);
    } else {
        r = buf_reserve(t->out, 5 + nlen + 1 + vlen + 2);
        if (r == 0) {   /* room is reserved: these appends cannot fail */
            buf_append(t->out, "STAT ", 5);
            buf_append(t->out, name, nlen);
            buf_append(t->out, " ", 1);
            buf_append(t->out, val, vlen);
            buf_append(t->out, "\r\n", 2);
        }
    }
    if (r < 0)
        t->failed = true;
}

void stats_bin_add(void *ctx, const char *name, const char *val, size_t vlen)
{
    struct stats_bin_out *b = ctx;
    size_t nlen = name ? strlen(name) : 0;
    unsigned char h[BIN_HEADER_LEN];

    if (nlen > UINT16_MAX || vlen > UINT32_MAX - nlen) {
        b->failed = true;
        return;
    }
    bin_compose_header(h, BIN_OP_STAT, BIN_STATUS_OK, 0, (uint16_t)nlen,
                       (uint32_t)(nlen + vlen), b->opaque, 0);
    if (buf_reserve(b->out, sizeof(h) + nlen + vlen) < 0) {
        b->failed = true;
        return;
    }
    /* room is reserved: these appends cannot fail */
    buf_append(b->out, h, sizeof(h));
    buf_append(b->out, name, nlen);
    buf_append(b->out, val, vlen);
}
