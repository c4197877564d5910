/*
 * metrics: the Prometheus endpoint; see metrics.h. Every exported metric is
 * declared once in the tables below (name, type, help, the stat it shows),
 * so a new counter — UDP drops, access-list refusals — is one line in one
 * table. The values come from the stats emitter through metrics_collect.
 */
#include "server/metrics.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "net/listen.h"
#include "policy/acl.h"
#include "server/settings.h"
#include "server/stats_cmd.h"
#include "server/stats_sink.h"

#define HELP_COMMANDS "Total number of all requests broken down by command (get, set, etc.) and status."
#define HELP_DROPS    "UDP requests dropped, by reason."

/* X(name, type, help, stat): memcached_exporter's names and meanings, each
 * the value of one stat (general `stats`, or "settings:" `stats settings`). */
#define METRICS_MEMCACHED(X)                                                   \
    X(memcached_uptime_seconds, gauge, "Number of seconds since the server started.", "uptime") \
    X(memcached_time_seconds, gauge, "Current UNIX time according to the server.", "time") \
    X(memcached_current_connections, gauge, "Current number of open connections.", "curr_connections") \
    X(memcached_max_connections, gauge, "Maximum number of clients allowed.", "max_connections") \
    X(memcached_connections_total, counter, "Total number of connections opened since the server started running.", "total_connections") \
    X(memcached_connections_rejected_total, counter, "Total number of connections rejected due to hitting the -c limit.", "rejected_connections") \
    X(memcached_connections_listener_disabled_total, counter, "Number of times that memcached has hit its connections limit and disabled its listener.", "listen_disabled_num") \
    X(memcached_connections_yielded_total, counter, "Total number of connections yielded running due to hitting the -R limit.", "conn_yields") \
    X(memcached_current_items, gauge, "Current number of items stored by this instance.", "curr_items") \
    X(memcached_items_total, counter, "Total number of items stored during the life of this instance.", "total_items") \
    X(memcached_current_bytes, gauge, "Current number of bytes used to store items.", "bytes") \
    X(memcached_limit_bytes, gauge, "Number of bytes this server is allowed to use for storage.", "limit_maxbytes") \
    X(memcached_malloced_bytes, gauge, "Number of bytes of memory allocated to item storage.", "memory_used") \
    X(memcached_items_evicted_total, counter, "Total number of valid items removed from cache to free memory for new items.", "evictions") \
    X(memcached_items_reclaimed_total, counter, "Total number of times an entry was stored using memory from an expired entry.", "reclaimed") \
    X(memcached_read_bytes_total, counter, "Total number of bytes read by this server from network.", "bytes_read") \
    X(memcached_written_bytes_total, counter, "Total number of bytes sent by this server to network.", "bytes_written") \
    X(memcached_max_item_size_bytes, gauge, "Largest item this server accepts (-I).", "settings:item_size_max")

/* After memcached_version{version="..."} (from the stat "version"). */
#define METRICS_PROCESS(X)                                                    \
    X(memcached_process_user_cpu_seconds_total, counter, "Accumulated user time for this process.", "rusage_user") \
    X(memcached_process_system_cpu_seconds_total, counter, "Accumulated system time for this process.", "rusage_system")

/* X(command, status, stat): memcached_commands_total{command,status}. */
#define METRICS_COMMANDS(X)                                                   \
    X("get", "hit", "get_hits") X("get", "miss", "get_misses")                \
    X("get", "expired", "get_expired") X("get", "flushed", "get_flushed")     \
    X("set", "hit", "cmd_set") X("flush", "hit", "cmd_flush")                 \
    X("delete", "hit", "delete_hits") X("delete", "miss", "delete_misses")    \
    X("incr", "hit", "incr_hits") X("incr", "miss", "incr_misses")            \
    X("decr", "hit", "decr_hits") X("decr", "miss", "decr_misses")            \
    X("cas", "hit", "cas_hits") X("cas", "miss", "cas_misses")                \
    X("cas", "badval", "cas_badval")                                          \
    X("touch", "hit", "touch_hits") X("touch", "miss", "touch_misses")

/* X(name, type, help, stat): hardcached's own, security first. A new
 * counter is one line here (or in METRICS_UDP_DROPS for a drop reason);
 * "metrics:" values are this endpoint's own. */
#define METRICS_SECURITY(X)                                                   \
    X(hardcached_auth_commands_total, counter, "Authentication commands processed.", "auth_cmds") \
    X(hardcached_auth_failures_total, counter, "Authentication attempts that failed.", "auth_errors") \
    X(hardcached_connections_rejected_total, counter, "Connections closed at accept time because the -c limit was reached.", "rejected_connections") \
    X(hardcached_acl_rejected_connections_total, counter, "TCP connections closed by the allow list before a byte was read.", "acl_rejected_connections") \
    X(hardcached_metrics_acl_rejected_total, counter, "Connections to this endpoint closed by the allow list.", "metrics:acl_rejected") \
    X(hardcached_tls_handshake_failures_total, counter, "TLS handshakes that failed (plain-text clients, old versions, missing or untrusted client certificates).", "ssl_handshake_errors") \
    X(hardcached_store_too_large_total, counter, "Stores refused because the item exceeded -I.", "store_too_large") \
    X(hardcached_store_no_memory_total, counter, "Stores refused for lack of memory (-M).", "store_no_memory") \
    X(hardcached_udp_enabled, gauge, "1 if a UDP port is configured, else 0.", "metrics:udp_enabled") \
    X(hardcached_udp_requests_total, counter, "UDP requests received.", "udp_requests") \
    X(hardcached_udp_read_bytes_total, counter, "UDP payload bytes received.", "udp_bytes_read") \
    X(hardcached_udp_written_bytes_total, counter, "UDP payload bytes sent.", "udp_bytes_written") \
    X(hardcached_udp_admin_refused_total, counter, "Administrative commands refused over UDP.", "udp_admin_refused") \
    X(hardcached_udp_short_replies_total, counter, "UDP replies cut short by the amplification bound.", "udp_short_replies")

/* X(reason, stat): hardcached_udp_dropped_total{reason}. */
#define METRICS_UDP_DROPS(X)                                                  \
    X("amplification", "udp_dropped_amplification") X("rate", "udp_dropped_rate") \
    X("acl", "udp_dropped_acl") X("auth", "udp_dropped_auth")                 \
    X("malformed", "udp_dropped_malformed") X("too_large", "udp_dropped_too_large")

/* After the drops: ratios, which the stats already print as 1.234. */
#define METRICS_RATIOS(X)                                                     \
    X(hardcached_udp_max_amplification_ratio, gauge, "Largest UDP bytes sent / bytes received for one request.", "udp_max_amplification") \
    X(hardcached_udp_max_amplification_unvalidated_ratio, gauge, "The same, towards sources without a recent TCP connection (bounded by udp_baf_percent).", "udp_max_amplification_unvalidated")

/* ---- the sink: collect the stats the tables name ---- */

#define WANT_NAMED(name, type, help, stat) stat,
#define WANT_COMMAND(cmd, status, stat) stat,
#define WANT_DROP(reason, stat) stat,
static const char *const wanted[] = {
    "version",
    METRICS_MEMCACHED(WANT_NAMED) METRICS_PROCESS(WANT_NAMED)
    METRICS_COMMANDS(WANT_COMMAND) METRICS_SECURITY(WANT_NAMED)
    METRICS_UDP_DROPS(WANT_DROP) METRICS_RATIOS(WANT_NAMED)
};
#undef WANT_NAMED
#undef WANT_COMMAND
#undef WANT_DROP
#define NWANTED (sizeof(wanted) / sizeof(wanted[0]))
_Static_assert(NWANTED <= METRICS_VALUES_MAX, "raise METRICS_VALUES_MAX");

/* Written by the metrics thread only. */
static _Atomic uint64_t metrics_acl_rejected;

void metrics_values_init(struct metrics_values *mv)
{
    memset(mv, 0, sizeof(*mv));
    mv->group = "";
}

void metrics_collect(void *ctx, const char *name, const char *val, size_t vlen)
{
    struct metrics_values *mv = ctx;
    size_t glen = strlen(mv->group);

    if (name == NULL)
        return;   /* the end of a group */
    for (size_t i = 0; i < NWANTED; i++) {
        if (strncmp(wanted[i], mv->group, glen) != 0 || strcmp(wanted[i] + glen, name) != 0)
            continue;
        if (vlen >= METRICS_VALUE_MAX) {
            mv->too_long = true;
            return;
        }
        memcpy(mv->val[i], val, vlen);
        mv->val[i][vlen] = '\0';
        mv->have[i] = true;
    }
}

void metrics_collect_all(struct metrics_values *mv)
{
    struct stats_sink s = { metrics_collect, mv };

    mv->group = "";
    stats_emit_general(&s);
    mv->group = "settings:";
    stats_emit_settings(&s);
    mv->group = "metrics:";
    stats_add_u64(&s, "acl_rejected", atomic_load(&metrics_acl_rejected));
    stats_add_u64(&s, "udp_enabled", settings.udp_port != 0);
    mv->group = "";
}

/* ---- rendering ---- */

struct out {
    char  *p;
    size_t n, cap;
    bool   failed;    /* out of room, or a stat the tables name is missing */
};

__attribute__((format(printf, 2, 3)))
static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int r;

    if (o->failed)
        return;
    va_start(ap, fmt);
    r = vsnprintf(o->p + o->n, o->cap - o->n, fmt, ap);
    va_end(ap);
    if (r < 0 || (size_t)r >= o->cap - o->n)
        o->failed = true;
    else
        o->n += (size_t)r;
}

static const char *value_of(const struct metrics_values *mv, struct out *o, const char *stat)
{
    for (size_t i = 0; i < NWANTED; i++)
        if (strcmp(wanted[i], stat) == 0 && mv->have[i])
            return mv->val[i];
    o->failed = true;
    return "";
}

static void put_family(struct out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

size_t metrics_format(const struct metrics_values *mv, char *buf, size_t cap)
{
    struct out o = { .p = buf, .cap = cap, .failed = mv->too_long };

    if (cap == 0)
        return 0;
    put_family(&o, "memcached_up", "gauge", "Could the memcached server be reached.");
    put(&o, "memcached_up 1\n");
#define X(name, type, help, stat) \
    put_family(&o, #name, #type, help); \
    put(&o, "%s %s\n", #name, value_of(mv, &o, stat));
    METRICS_MEMCACHED(X)
    put_family(&o, "memcached_version", "gauge", "The version of this memcached server.");
    put(&o, "memcached_version{version=\"%s\"} 1\n", value_of(mv, &o, "version"));
    METRICS_PROCESS(X)
    put_family(&o, "memcached_commands_total", "counter", HELP_COMMANDS);
#define C(cmd, status, stat) \
    put(&o, "memcached_commands_total{command=\"%s\",status=\"%s\"} %s\n", cmd, status, \
        value_of(mv, &o, stat));
    METRICS_COMMANDS(C)
#undef C
    METRICS_SECURITY(X)
    put_family(&o, "hardcached_udp_dropped_total", "counter", HELP_DROPS);
#define D(reason, stat) \
    put(&o, "hardcached_udp_dropped_total{reason=\"%s\"} %s\n", reason, value_of(mv, &o, stat));
    METRICS_UDP_DROPS(D)
#undef D
    METRICS_RATIOS(X)
#undef X
    return o.failed ? 0 : o.n;
}

size_t metrics_render(char *buf, size_t cap)
{
    struct metrics_values mv;

    metrics_values_init(&mv);
    metrics_collect_all(&mv);
    return metrics_format(&mv, buf, cap);
}

/* ---- the request ---- */

static bool has_prefix(const char *p, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n >= l && memcmp(p, lit, l) == 0;
}

enum metrics_req metrics_parse_request(const char *p, size_t n)
{
    const char *end = NULL, *sp1, *sp2, *eol;
    size_t line, tlen;

    if (n > METRICS_REQUEST_MAX)
        n = METRICS_REQUEST_MAX;
    for (size_t i = 0; i + 1 < n && end == NULL; i++) {
        if (p[i] == '\n' && p[i + 1] == '\n')
            end = p + i;
        else if (i + 3 < n && memcmp(p + i, "\r\n\r\n", 4) == 0)
            end = p + i;
    }
    if (end == NULL) {
        /* a request line that is plainly not HTTP need not wait */
        eol = memchr(p, '\n', n);
        if (eol && !memmem(p, (size_t)(eol - p), " HTTP/1.", 8))
            return METRICS_REQ_BAD;
        return n >= METRICS_REQUEST_MAX ? METRICS_REQ_TOO_LARGE : METRICS_REQ_NEED_MORE;
    }
    eol = memchr(p, '\n', (size_t)(end - p) + 2);
    line = (size_t)(eol - p);
    if (line > 0 && p[line - 1] == '\r')
        line--;
    /* METHOD SP target SP HTTP/1.x, nothing else on the line */
    sp1 = memchr(p, ' ', line);
    if (sp1 == NULL || sp1 == p)
        return METRICS_REQ_BAD;
    sp2 = memchr(sp1 + 1, ' ', line - (size_t)(sp1 + 1 - p));
    if (sp2 == NULL || sp2 == sp1 + 1)
        return METRICS_REQ_BAD;
    if ((size_t)(p + line - (sp2 + 1)) != 8 || !has_prefix(sp2 + 1, 8, "HTTP/1.") ||
        (sp2[8] != '0' && sp2[8] != '1'))
        return METRICS_REQ_BAD;
    for (const char *q = p; q < p + line; q++)
        if ((unsigned char)*q < 0x21 && *q != ' ')
            return METRICS_REQ_BAD;
    if ((size_t)(sp1 - p) != 3 || memcmp(p, "GET", 3) != 0)
        return METRICS_REQ_BAD_METHOD;
    tlen = (size_t)(sp2 - (sp1 + 1));
    if (has_prefix(sp1 + 1, tlen, "/metrics") &&
        (tlen == 8 || sp1[1 + 8] == '?'))
        return METRICS_REQ_OK;
    return METRICS_REQ_NOT_FOUND;
}

/* ---- the server thread ---- */

static struct listener mlisteners[METRICS_LISTENERS_MAX];
static int nmlisteners;
static int wake_fd = -1;
static pthread_t thread;
static bool started;
static char body[METRICS_BODY_MAX];

/* Wait for `events` on fd until deadline; false on timeout, error or stop. */
static bool wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - (int64_t)clock_mono_ms();
        struct pollfd pf[2] = { { fd, events, 0 }, { wake_fd, POLLIN, 0 } };
        int r;

        if (left <= 0)
            return false;
        r = poll(pf, 2, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || pf[1].revents)
            return false;
        return (pf[0].revents & (events | POLLHUP | POLLERR)) != 0;
    }
}

static bool send_all(int fd, const char *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_fd(fd, POLLOUT, deadline))
                return false;
        } else {
            return false;
        }
    }
    return true;
}

static void reply(int fd, int code, const char *reason, const char *ctype,
                  const char *b, size_t blen, const char *extra, int64_t deadline)
{
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "%sConnection: close\r\n\r\n", code, reason, ctype, blen, extra);

    if (n < 0 || (size_t)n >= sizeof(head))
        return;
    if (send_all(fd, head, (size_t)n, deadline))
        (void)send_all(fd, b, blen, deadline);
}

#define PLAIN "text/plain; charset=utf-8"
#define ERR_REPLY(fd, code, reason, extra, dl) \
    reply(fd, code, reason, PLAIN, reason "\n", sizeof(reason "\n") - 1, extra, dl)

static void serve_one(int fd)
{
    char req[METRICS_REQUEST_MAX];
    size_t n = 0;
    int64_t deadline = (int64_t)clock_mono_ms() + METRICS_IO_TIMEOUT_MS;
    enum metrics_req r = METRICS_REQ_NEED_MORE;

    while (r == METRICS_REQ_NEED_MORE) {
        ssize_t got = recv(fd, req + n, sizeof(req) - n, 0);
        if (got > 0) {
            n += (size_t)got;
            r = metrics_parse_request(req, n);
        } else if (got < 0 && errno == EINTR) {
            continue;
        } else if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_fd(fd, POLLIN, deadline))
                return;
        } else {
            return;   /* closed before a whole request */
        }
    }
    switch (r) {
    case METRICS_REQ_OK: {
        size_t blen = metrics_render(body, sizeof(body));
        if (blen == 0)
            ERR_REPLY(fd, 500, "Internal Server Error", "", deadline);
        else
            reply(fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                  body, blen, "", deadline);
        break;
    }
    case METRICS_REQ_NOT_FOUND:
        ERR_REPLY(fd, 404, "Not Found", "", deadline);
        break;
    case METRICS_REQ_BAD_METHOD:
        ERR_REPLY(fd, 405, "Method Not Allowed", "Allow: GET\r\n", deadline);
        break;
    case METRICS_REQ_TOO_LARGE:
        ERR_REPLY(fd, 431, "Request Header Fields Too Large", "", deadline);
        break;
    default:
        ERR_REPLY(fd, 400, "Bad Request", "", deadline);
        break;
    }
    /* let the reply reach the client before the close (no RST over it) */
    shutdown(fd, SHUT_WR);
    while (wait_fd(fd, POLLIN, deadline) && recv(fd, req, sizeof(req), 0) > 0)
        ;
}

static void *metrics_main(void *arg)
{
    struct pollfd pf[METRICS_LISTENERS_MAX + 1];

    (void)arg;
    for (;;) {
        for (int i = 0; i < nmlisteners; i++)
            pf[i] = (struct pollfd){ mlisteners[i].fd, POLLIN, 0 };
        pf[nmlisteners] = (struct pollfd){ wake_fd, POLLIN, 0 };
        if (poll(pf, (nfds_t)nmlisteners + 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_warn("metrics: poll: %s", strerror(errno));
            return NULL;
        }
        if (pf[nmlisteners].revents)
            return NULL;
        for (int i = 0; i < nmlisteners; i++) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof(ss);
            int fd;
            if (!(pf[i].revents & POLLIN))
                continue;
            fd = accept4(mlisteners[i].fd, (struct sockaddr *)&ss, &sl,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0)
                continue;
            /* the cache's allow list (--allow) guards this port too */
            if (acl_allows(settings.acl, (struct sockaddr *)&ss))
                serve_one(fd);
            else
                atomic_fetch_add(&metrics_acl_rejected, 1);
            close(fd);
        }
    }
}

int metrics_setup(char *err, int errlen)
{
    if (settings.metrics_port == 0)
        return 0;
    if (settings.metrics_listen) {
        if (listen_tcp(settings.metrics_listen, settings.metrics_port, METRICS_BACKLOG,
                       mlisteners, &nmlisteners, METRICS_LISTENERS_MAX, err, errlen) < 0)
            goto fail;
    } else {
        if (listen_tcp("127.0.0.1", settings.metrics_port, METRICS_BACKLOG,
                       mlisteners, &nmlisteners, METRICS_LISTENERS_MAX, err, errlen) < 0)
            goto fail;
        if (listen_tcp("::1", settings.metrics_port, METRICS_BACKLOG, mlisteners,
                       &nmlisteners, METRICS_LISTENERS_MAX, err, errlen) < 0)
            log_info("metrics: no IPv6 loopback (%s)", err);
    }
    for (int i = 0; i < nmlisteners; i++) {
        log_warn("hardcached metrics on http://%s/metrics", mlisteners[i].name);
        if (!mlisteners[i].loopback)
            log_warn("WARNING: metrics endpoint on non-loopback address %s: it tells "
                     "anyone who reaches it about this cache's traffic.",
                     mlisteners[i].name);
    }
    return 0;
fail:
    for (int i = 0; i < nmlisteners; i++)
        close(mlisteners[i].fd);
    nmlisteners = 0;
    return -1;
}

int metrics_start(void)
{
    if (nmlisteners == 0)
        return 0;
    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0)
        return -1;
    if (pthread_create(&thread, NULL, metrics_main, NULL) != 0) {
        close(wake_fd);
        wake_fd = -1;
        return -1;
    }
    started = true;
    return 0;
}

void metrics_teardown(void)
{
    if (started) {
        uint64_t one = 1;
        (void)!write(wake_fd, &one, sizeof(one));
        pthread_join(thread, NULL);
        started = false;
    }
    if (wake_fd >= 0)
        close(wake_fd);
    wake_fd = -1;
    for (int i = 0; i < nmlisteners; i++)
        close(mlisteners[i].fd);
    nmlisteners = 0;
}
