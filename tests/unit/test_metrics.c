/* Unit tests for the /metrics endpoint's pure parts: the request classifier
 * at every split and on every error path, rendering (complete text,
 * well-formed lines, overflow reported instead of truncated output), and
 * the Prometheus sink of the stats emitter (stat in, exposition line out). */
#include "server/metrics.h"

#include <stdlib.h>

#include "core/clock.h"
#include "core/hash.h"
#include "server/settings.h"
#include "storage/store.h"
#include "unit.h"

#define S(lit) (lit), sizeof(lit) - 1

static void test_outcomes(void)
{
    CHECK_EQ_INT(metrics_parse_request(S("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")), METRICS_REQ_OK);
    CHECK_EQ_INT(metrics_parse_request(S("GET /metrics HTTP/1.0\r\n\r\n")), METRICS_REQ_OK);
    CHECK_EQ_INT(metrics_parse_request(S("GET /metrics?name[]=x HTTP/1.1\n\n")), METRICS_REQ_OK);
    CHECK_EQ_INT(metrics_parse_request(S("GET / HTTP/1.1\r\n\r\n")), METRICS_REQ_NOT_FOUND);
    CHECK_EQ_INT(metrics_parse_request(S("GET /metricsx HTTP/1.1\r\n\r\n")), METRICS_REQ_NOT_FOUND);
    CHECK_EQ_INT(metrics_parse_request(S("GET /metric HTTP/1.1\r\n\r\n")), METRICS_REQ_NOT_FOUND);
    CHECK_EQ_INT(metrics_parse_request(S("POST /metrics HTTP/1.1\r\n\r\n")), METRICS_REQ_BAD_METHOD);
    CHECK_EQ_INT(metrics_parse_request(S("HEAD /metrics HTTP/1.1\r\n\r\n")), METRICS_REQ_BAD_METHOD);
    CHECK_EQ_INT(metrics_parse_request(S("GETX /metrics HTTP/1.1\r\n\r\n")), METRICS_REQ_BAD_METHOD);
    CHECK_EQ_INT(metrics_parse_request(S("GET /metrics HTTP/2.0\r\n\r\n")), METRICS_REQ_BAD);
    CHECK_EQ_INT(metrics_parse_request(S("GET /metrics HTTP/1.1 x\r\n\r\n")), METRICS_REQ_BAD);
    CHECK_EQ_INT(metrics_parse_request(S("GET  /metrics HTTP/1.1\r\n\r\n")), METRICS_REQ_BAD);
    CHECK_EQ_INT(metrics_parse_request(S("GET /metrics\r\n\r\n")), METRICS_REQ_BAD);
    CHECK_EQ_INT(metrics_parse_request(S("GET /met\trics HTTP/1.1\r\n\r\n")), METRICS_REQ_BAD);
    CHECK_EQ_INT(metrics_parse_request(S("\r\n\r\n")), METRICS_REQ_BAD);
    /* a memcached command sent to the wrong port is refused at its first line */
    CHECK_EQ_INT(metrics_parse_request(S("stats\r\n")), METRICS_REQ_BAD);
}

static void test_need_more_at_every_split(void)
{
    static const char req[] = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";
    for (size_t i = 0; i + 1 < sizeof(req) - 1; i++)
        CHECK_EQ_INT(metrics_parse_request(req, i), METRICS_REQ_NEED_MORE);
    CHECK_EQ_INT(metrics_parse_request(req, sizeof(req) - 1), METRICS_REQ_OK);
}

static void test_too_large(void)
{
    char *big = malloc(METRICS_REQUEST_MAX + 16);
    size_t n = 0;

    n += (size_t)snprintf(big, 64, "GET /metrics HTTP/1.1\r\n");
    while (n < METRICS_REQUEST_MAX + 8)
        big[n++] = 'a';
    CHECK_EQ_INT(metrics_parse_request(big, METRICS_REQUEST_MAX - 1), METRICS_REQ_NEED_MORE);
    CHECK_EQ_INT(metrics_parse_request(big, METRICS_REQUEST_MAX), METRICS_REQ_TOO_LARGE);
    CHECK_EQ_INT(metrics_parse_request(big, n), METRICS_REQ_TOO_LARGE);
    free(big);
}

static void test_render(void)
{
    struct store_config cfg = { .mem_limit = 8u << 20, .item_size_max = 1u << 20,
                                .evict = true, .use_cas = true };
    char *out = malloc(METRICS_BODY_MAX);
    size_t n;

    settings.maxconns = 1024;
    settings.maxbytes = cfg.mem_limit;
    if (out == NULL || store_setup(&cfg) != 0) {
        fprintf(stderr, "setup failed\n");
        exit(1);
    }
    n = metrics_render(out, METRICS_BODY_MAX);
    CHECK(n > 0 && n < METRICS_BODY_MAX);
    out[n] = '\0';
    CHECK(strstr(out, "\nmemcached_limit_bytes 8388608\n") != NULL);
    CHECK(strncmp(out, "# HELP memcached_up ", 20) == 0);
    CHECK(strstr(out, "\nmemcached_up 1\n") != NULL);
    CHECK(strstr(out, "memcached_commands_total{command=\"get\",status=\"hit\"} 0\n") != NULL);
    CHECK(strstr(out, "hardcached_auth_failures_total 0\n") != NULL);
    CHECK(out[n - 1] == '\n');
    /* every line is a comment or "name[{labels}] value" */
    for (char *line = out, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        CHECK(nl != NULL);
        if (nl == NULL)
            break;
        if (line[0] == '#')
            continue;
        char *sp = memchr(line, ' ', (size_t)(nl - line));
        CHECK(sp != NULL && sp > line && sp + 1 < nl);
    }
    /* too small a buffer reports failure instead of cutting a line */
    CHECK_EQ_INT(metrics_render(out, 100), 0);
    CHECK_EQ_INT(metrics_render(out, n / 2), 0);
    store_teardown();
    free(out);
}

/* The Prometheus sink: one stat's value in (group, name, value), its line
 * out. Everything else is the real emitter's. */
static const struct {
    const char *group, *name, *val;
    const char *line;   /* a whole line of the output, with its newlines */
} prom_rows[] = {
    { "", "get_hits", "5", "\nmemcached_commands_total{command=\"get\",status=\"hit\"} 5\n" },
    { "", "cmd_set", "8", "\nmemcached_commands_total{command=\"set\",status=\"hit\"} 8\n" },
    { "", "version", "9.9.9", "\nmemcached_version{version=\"9.9.9\"} 1\n" },
    { "", "limit_maxbytes", "123", "\nmemcached_limit_bytes 123\n" },
    { "", "evictions", "6", "\nmemcached_items_evicted_total 6\n" },
    { "", "rusage_user", "1.250000", "\nmemcached_process_user_cpu_seconds_total 1.250000\n" },
    { "", "udp_max_amplification", "1.500", "\nhardcached_udp_max_amplification_ratio 1.500\n" },
    { "", "udp_dropped_rate", "3", "\nhardcached_udp_dropped_total{reason=\"rate\"} 3\n" },
    { "", "rejected_connections", "2", "\nhardcached_connections_rejected_total 2\n" },
    { "settings:", "item_size_max", "77", "\nmemcached_max_item_size_bytes 77\n" },
    { "metrics:", "acl_rejected", "4", "\nhardcached_metrics_acl_rejected_total 4\n" },
    /* a name in another group is another stat */
    { "settings:", "evictions", "on", "\nmemcached_items_evicted_total 0\n" },
    { "", "item_size_max", "77", "\nmemcached_max_item_size_bytes 1048576\n" },
    /* a stat no table names changes nothing */
    { "", "pid", "1", "\nmemcached_up 1\n" },
};

static void test_prometheus_sink(void)
{
    struct store_config cfg = { .mem_limit = 8u << 20, .item_size_max = 1u << 20,
                                .evict = true, .use_cas = true };
    char *out = malloc(METRICS_BODY_MAX);
    struct metrics_values mv;
    size_t n;

    settings.item_size_max = cfg.item_size_max;
    if (out == NULL || store_setup(&cfg) != 0) {
        fprintf(stderr, "setup failed\n");
        exit(1);
    }
    for (size_t i = 0; i < sizeof(prom_rows) / sizeof(prom_rows[0]); i++) {
        metrics_values_init(&mv);
        metrics_collect_all(&mv);
        mv.group = prom_rows[i].group;
        metrics_collect(&mv, prom_rows[i].name, prom_rows[i].val, strlen(prom_rows[i].val));
        n = metrics_format(&mv, out, METRICS_BODY_MAX - 1);
        CHECK(n > 0);
        out[n] = '\0';
        if (strstr(out, prom_rows[i].line) == NULL) {
            CHECK(!"line missing");
            fprintf(stderr, "  row %zu: no \"%s\"\n", i, prom_rows[i].line);
        }
    }
    /* a stat the tables name that was never emitted fails the scrape */
    metrics_values_init(&mv);
    CHECK_EQ_INT(metrics_format(&mv, out, METRICS_BODY_MAX), 0);
    /* so does a value too long to keep */
    metrics_values_init(&mv);
    metrics_collect_all(&mv);
    memset(out, '9', METRICS_VALUE_MAX);
    metrics_collect(&mv, "curr_items", out, METRICS_VALUE_MAX);
    CHECK_EQ_INT(metrics_format(&mv, out, METRICS_BODY_MAX), 0);
    store_teardown();
    free(out);
}

int main(void)
{
    clock_setup();
    if (hash_setup() < 0)
        return 1;
    RUN(test_outcomes);
    RUN(test_need_more_at_every_split);
    RUN(test_too_large);
    RUN(test_render);
    RUN(test_prometheus_sink);
    return unit_report("metrics");
}
