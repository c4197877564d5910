/*
 * metrics: an optional Prometheus endpoint (GET /metrics, text exposition
 * format) on its own socket and its own thread, off by default and bound to
 * loopback unless told otherwise (-o metrics_port=N, metrics_listen=ADDR).
 * Metric names follow prometheus/memcached_exporter, so dashboards built for
 * memcached read hardcached unchanged. The values are the `stats` emitter's
 * (stats_cmd.h), this module is one more sink of it.
 * The allow list (--allow) applies to this port as to the cache's.
 * The HTTP side is deliberately tiny: one request per connection, one
 * connection at a time, every size and time bounded by a named constant.
 */
#ifndef HC_SERVER_METRICS_H
#define HC_SERVER_METRICS_H

#include <stdbool.h>
#include <stddef.h>

/* Request line plus headers; a longer request gets 431 and is closed. */
#define METRICS_REQUEST_MAX     8192
/* Time one client gets to send its request and read the reply. */
#define METRICS_IO_TIMEOUT_MS   2000
/* The rendered exposition text; rendering that would exceed it gives 500. */
#define METRICS_BODY_MAX        (64 * 1024)
/* Sockets one metrics_listen spec may resolve to. */
#define METRICS_LISTENERS_MAX   8
#define METRICS_BACKLOG         16

/* What a request asks for, from metrics_parse_request(). */
enum metrics_req {
    METRICS_REQ_NEED_MORE,   /* no blank line yet, still under the limit */
    METRICS_REQ_OK,          /* GET /metrics (a query string is ignored) */
    METRICS_REQ_NOT_FOUND,   /* GET of another path: 404 */
    METRICS_REQ_BAD_METHOD,  /* any method but GET: 405 */
    METRICS_REQ_BAD,         /* not an HTTP/1.x request line: 400 */
    METRICS_REQ_TOO_LARGE,   /* METRICS_REQUEST_MAX reached: 431 */
};

/* Pure: classify the first n bytes received on a metrics connection. */
enum metrics_req metrics_parse_request(const char *p, size_t n);

/* The Prometheus sink of the stats emitter: metrics_collect (a
 * stats_add_fn) keeps the values of the stats the exposition shows, which
 * stat names prefixed with the group being collected: "" for `stats`,
 * "settings:" for `stats settings`, "metrics:" for this endpoint's own. */
#define METRICS_VALUE_MAX   64   /* longer values fail the scrape (500) */
#define METRICS_VALUES_MAX  80   /* stats the tables name; checked at build */
struct metrics_values {
    const char *group;
    char val[METRICS_VALUES_MAX][METRICS_VALUE_MAX];
    bool have[METRICS_VALUES_MAX];
    bool too_long;
};
void metrics_values_init(struct metrics_values *mv);
void metrics_collect(void *ctx, const char *name, const char *val, size_t vlen);
/* Collect every group the exposition reads (general, settings, own). */
void metrics_collect_all(struct metrics_values *mv);
/* Format the exposition text into out (cap bytes). Returns its length, or
 * 0 if it did not fit or a value the tables name was not collected. */
size_t metrics_format(const struct metrics_values *mv, char *out, size_t cap);
/* metrics_collect_all, then metrics_format. */
size_t metrics_render(char *out, size_t cap);

/* Bind the endpoint if settings ask for it (call before dropping
 * privileges). Returns 0 (also when disabled), or -1 with err set. */
int metrics_setup(char *err, int errlen);
/* Start the serving thread (after the store is set up). 0 or -1. */
int metrics_start(void);
/* Stop the thread and close the sockets; safe when never started. */
void metrics_teardown(void);

#endif
