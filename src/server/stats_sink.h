/*
 * stats_sink: where the stats emitter's (name, value) pairs go, memcached's
 * ADD_STAT. The emitter (stats_cmd.h) knows no protocol; each protocol
 * frames the pairs with its own sink, so nothing is formatted and re-parsed.
 */
#ifndef HC_SERVER_STATS_SINK_H
#define HC_SERVER_STATS_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* One stat: name (NUL-terminated) and value (vlen bytes). A call with
 * name NULL ends the list. */
typedef void stats_add_fn(void *ctx, const char *name, const char *val, size_t vlen);

struct stats_sink {
    stats_add_fn *add;
    void         *ctx;
};

/* Longest value stats_add_fmt() formats; longer output is cut there. */
#define STATS_VALUE_MAX 256

void stats_add_str(const struct stats_sink *s, const char *name, const char *val);
void stats_add_u64(const struct stats_sink *s, const char *name, uint64_t v);
/* A ratio kept in thousandths, as 1.234. */
void stats_add_milli(const struct stats_sink *s, const char *name, uint64_t milli);
__attribute__((format(printf, 3, 4)))
void stats_add_fmt(const struct stats_sink *s, const char *name, const char *fmt, ...);
/* End the list (text END, binary's empty packet). */
void stats_end(const struct stats_sink *s);

/* The text protocol's sink: "STAT name value\r\n" per stat, "END\r\n" to
 * end. `failed` is set when out could not grow. */
struct stats_text_out {
    struct buf *out;
    bool        failed;
};
stats_add_fn stats_text_add;

/* The binary protocol's: one STAT response packet per stat (key = name,
 * value = value, the request's opaque), an empty packet to end. */
struct stats_bin_out {
    struct buf *out;
    uint32_t    opaque;
    bool        failed;
};
stats_add_fn stats_bin_add;

#endif
