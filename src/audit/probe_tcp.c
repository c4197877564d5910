/*
 * probe_tcp: nonblocking TCP exchanges with a memcached-protocol server.
 * One request at a time, each with its own deadline; every reply is framed
 * by a pure function before anything reads it, and buffered only up to
 * TCP_REPLY_MAX.
 */
#include "audit/probe_tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "audit/probe_tls.h"
#include "audit/target.h"
#include "core/strnum.h"

#define NS_PER_MS 1000000ull

size_t tcp_line_complete(const char *buf, size_t len)
{
    const char *nl = memchr(buf, '\n', len);

    return nl == NULL ? 0 : (size_t)(nl - buf) + 1;
}

static bool starts(const char *buf, size_t len, const char *lit)
{
    size_t n = strlen(lit);

    return len >= n && memcmp(buf, lit, n) == 0;
}

static bool is_error_line(const char *buf, size_t len)
{
    return starts(buf, len, "ERROR") || starts(buf, len, "CLIENT_ERROR") ||
           starts(buf, len, "SERVER_ERROR");
}

size_t tcp_stats_complete(const char *buf, size_t len)
{
    size_t off = 0;

    while (off < len) {
        size_t n = tcp_line_complete(buf + off, len - off);
        if (n == 0)
            return 0;
        if (off == 0 && is_error_line(buf, n))
            return n;
        if (starts(buf + off, n, "END\r\n") || starts(buf + off, n, "END\n"))
            return off + n;
        off += n;
    }
    return 0;
}

size_t tcp_bin_complete(const char *buf, size_t len)
{
    const uint8_t *p = (const uint8_t *)buf;
    uint32_t body;

    if (len < BIN_HDR_LEN)
        return 0;
    body = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 |
           (uint32_t)p[10] << 8 | p[11];
    if (body > TCP_REPLY_MAX - BIN_HDR_LEN)
        return len;                 /* absurd: take what we have */
    return len >= BIN_HDR_LEN + body ? BIN_HDR_LEN + body : 0;
}

void tcp_stats_each(const char *buf, size_t len,
                    void (*fn)(void *arg, const char *name, size_t nlen,
                               const char *val, size_t vlen),
                    void *arg)
{
    size_t off = 0;

    while (off < len) {
        size_t n = tcp_line_complete(buf + off, len - off), e;
        const char *line = buf + off, *sp;
        if (n == 0)
            break;
        off += n;
        e = n;
        while (e > 0 && (line[e - 1] == '\n' || line[e - 1] == '\r'))
            e--;
        if (e < 5 || memcmp(line, "STAT ", 5) != 0)
            continue;
        sp = memchr(line + 5, ' ', e - 5);
        if (sp == NULL)
            continue;
        fn(arg, line + 5, (size_t)(sp - line - 5), sp + 1,
           e - (size_t)(sp - line) - 1);
    }
}

static void copy_line(char *dst, size_t cap, const char *src, size_t len)
{
    size_t n = 0;

    while (n < len && n < cap - 1 && src[n] != '\r' && src[n] != '\n') {
        unsigned char c = (unsigned char)src[n];
        dst[n] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
        n++;
    }
    dst[n] = '\0';
}

static bool name_is(const char *name, size_t nlen, const char *lit)
{
    return strlen(lit) == nlen && memcmp(name, lit, nlen) == 0;
}

static int flag_value(const char *val, size_t vlen)
{
    if ((vlen == 3 && memcmp(val, "yes", 3) == 0) ||
        (vlen == 1 && val[0] == '1'))
        return 1;
    return 0;
}

static void on_stat(void *arg, const char *name, size_t nlen,
                    const char *val, size_t vlen)
{
    struct tcp_result *tr = arg;
    int64_t v;

    if (name_is(name, nlen, "version") && tr->version[0] == '\0')
        copy_line(tr->version, sizeof(tr->version), val, vlen);
    else if (name_is(name, nlen, "hardcached_version"))   /* its version
                                    answers memcached's release alone */
        snprintf(tr->server, sizeof(tr->server), "hardcached");
    else if (name_is(name, nlen, "libevent") &&
             strcmp(tr->server, "hardcached") != 0)
        snprintf(tr->server, sizeof(tr->server), "memcached");
    else if (name_is(name, nlen, "udpport") && strnum_i64(val, vlen, &v))
        tr->udp_port = v;
    else if (name_is(name, nlen, "tcpport") && strnum_i64(val, vlen, &v))
        tr->tcp_port = v;
    else if (name_is(name, nlen, "item_size_max") && strnum_i64(val, vlen, &v))
        tr->item_size_max = v;
    else if (name_is(name, nlen, "auth_enabled_sasl"))
        tr->sasl_enabled = flag_value(val, vlen);
    else if (name_is(name, nlen, "auth_enabled_ascii"))
        tr->ascii_auth_enabled = flag_value(val, vlen);
    else if (name_is(name, nlen, "ssl_enabled"))
        tr->ssl_enabled = flag_value(val, vlen);
    else if (name_is(name, nlen, "udp_max_amplification_unvalidated"))
        copy_line(tr->unvalidated_amp, sizeof(tr->unvalidated_amp), val, vlen);
    else if (name_is(name, nlen, "inter"))
        copy_line(tr->inter, sizeof(tr->inter), val, vlen);
    else if (name_is(name, nlen, "udp_validate_window") &&
             strnum_i64(val, vlen, &v))
        tr->validate_window = v;
}

static void identify(struct tcp_result *tr)
{
    if (strstr(tr->version, "hardcache") != NULL)
        snprintf(tr->server, sizeof(tr->server), "hardcached");
    else if (tr->server[0] == '\0')
        snprintf(tr->server, sizeof(tr->server), "memcached-protocol");
}

static bool auth_error(const char *buf, size_t len)
{
    char line[AUDIT_LINE_MAX];

    copy_line(line, sizeof(line), buf, len);
    return starts(buf, len, "CLIENT_ERROR") &&
           (strstr(line, "auth") != NULL || strstr(line, "AUTH") != NULL);
}

static void close_fd(struct tcp_probe *p)
{
    tls_session_destroy(&p->tls);
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    p->connecting = false;
}

static void finish_info(struct tcp_result *tr)
{
    if (tr->ascii || tr->binary)
        identify(tr);
    if (tr->state == TCP_OPEN && tr->auth == AUTH_UNKNOWN && !tr->ascii &&
        !tr->binary)
        tr->auth = AUTH_REFUSED;
}

/* The only way a probe ends. */
static void end(struct tcp_probe *p)
{
    close_fd(p);
    p->want_token = false;
    if (p->step != TS_END && p->mode == TCP_MODE_INFO)
        finish_info(&p->r->tcp);
    p->step = TS_END;
}

static void set_out(struct tcp_probe *p, const void *buf, size_t len)
{
    free(p->out);
    p->out = NULL;
    p->out_len = p->out_off = 0;
    p->in_len = 0;
    if (len == 0)
        return;
    p->out = malloc(len);
    if (p->out == NULL) {
        end(p);
        return;
    }
    memcpy(p->out, buf, len);
    p->out_len = len;
}

static void bin_request(struct tcp_probe *p, uint8_t opcode)
{
    uint8_t h[BIN_HDR_LEN] = { 0x80, opcode };

    set_out(p, h, sizeof(h));
}

/* Sets up the request of the current step (connection already open). */
static void begin_step(struct tcp_probe *p, uint64_t now)
{
    char head[128];
    int n;

    p->deadline = now + (uint64_t)p->o.timeout_ms * NS_PER_MS;
    switch (p->step) {
    case TS_VERSION:
        set_out(p, "version\r\n", 9);
        break;
    case TS_STATS:
        set_out(p, "stats\r\n", 7);
        break;
    case TS_SETTINGS:
        set_out(p, "stats settings\r\n", 16);
        break;
    case TS_BIN_VERSION:
        bin_request(p, 0x0b);
        break;
    case TS_BIN_MECHS:
        bin_request(p, 0x20);
        break;
    case TS_STORE:
        n = snprintf(head, sizeof(head), "add %s 0 60 %llu\r\n", p->key,
                     (unsigned long long)p->value_len);
        if (n <= 0 || (size_t)n >= sizeof(head) ||
            p->value_len > SIZE_MAX - (size_t)n - 2) {
            end(p);
            break;
        }
        set_out(p, NULL, 0);
        p->out = malloc((size_t)n + p->value_len + 2);
        if (p->out == NULL) {
            snprintf(p->r->amp.note, sizeof(p->r->amp.note), "out of memory");
            end(p);
            break;
        }
        memcpy(p->out, head, (size_t)n);
        memset(p->out + n, 'A', p->value_len);
        memcpy(p->out + n + p->value_len, "\r\n", 2);
        p->out_len = (size_t)n + p->value_len + 2;
        /* a megabyte takes longer than a one-line request */
        p->deadline += 4 * (uint64_t)p->o.timeout_ms * NS_PER_MS;
        break;
    case TS_DELETE:
        n = snprintf(head, sizeof(head), "delete %s\r\n", p->key);
        set_out(p, head, (size_t)n);
        break;
    case TS_TLS:
        set_out(p, NULL, 0);
        p->tls = tls_session_create(p->fd);
        p->tls_events = POLLOUT;
        if (p->tls == NULL)
            end(p);
        break;
    default:
        end(p);
        break;
    }
}

void tcp_probe_start(struct tcp_probe *p, enum tcp_mode mode,
                     const struct target *t, struct result *r,
                     const struct probe_opts *o, const char *key,
                     uint64_t value_len)
{
    memset(p, 0, sizeof(*p));
    p->mode = mode;
    p->t = t;
    p->r = r;
    p->o = *o;
    p->fd = -1;
    p->step = TS_CONNECT;
    p->want_token = true;
    p->after_connect = mode == TCP_MODE_INFO ? TS_VERSION :
                       mode == TCP_MODE_STORE ? TS_STORE : TS_DELETE;
    if (key != NULL)
        snprintf(p->key, sizeof(p->key), "%s", key);
    p->value_len = value_len;
    p->in = malloc(TCP_REPLY_MAX);
    if (p->in == NULL) {
        if (mode == TCP_MODE_INFO) {
            r->tcp.state = TCP_ERROR;
            r->tcp.err = ENOMEM;
        }
        end(p);
    }
}

void tcp_probe_want(const struct tcp_probe *p, struct io_want *w)
{
    memset(w, 0, sizeof(*w));
    w->fd = -1;
    if (p->step == TS_END) {
        w->done = true;
        return;
    }
    if (p->want_token) {
        w->token = true;
        return;
    }
    w->fd = p->fd;
    w->deadline = p->deadline;
    if (p->tls != NULL && !p->connecting)
        w->events = p->tls_events;
    else if (p->connecting || p->out_off < p->out_len)
        w->events = POLLOUT;
    else
        w->events = POLLIN;
}

static void connect_result(struct tcp_probe *p, int err, uint64_t now)
{
    bool info = p->mode == TCP_MODE_INFO && !p->reconnecting;

    p->connecting = false;
    if (err == 0) {
        if (info) {
            p->r->tcp.state = TCP_OPEN;
            p->r->tcp.connect_ns = now - p->started;
        }
        p->step = p->after_connect;
        begin_step(p, now);
        return;
    }
    close_fd(p);
    if (info) {
        p->r->tcp.err = err;
        p->r->tcp.state = err == ECONNREFUSED ? TCP_REFUSED :
                          err == ETIMEDOUT ? TCP_TIMEOUT : TCP_ERROR;
        p->r->tcp.connect_ns = now - p->started;
    } else if (p->mode != TCP_MODE_INFO) {
        snprintf(p->r->amp.note, sizeof(p->r->amp.note),
                 "TCP connect failed: %s", strerror(err));
    }
    end(p);
}

void tcp_probe_grant(struct tcp_probe *p, uint64_t now)
{
    int fd;

    p->want_token = false;
    p->attempts++;
    if (p->mode == TCP_MODE_INFO && !p->reconnecting)
        p->r->tcp.connect_attempts = p->attempts;
    if (p->started == 0)
        p->started = now;
    fd = socket(p->t->addr.ss_family,
                SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        connect_result(p, errno, now);
        return;
    }
    p->fd = fd;
    p->deadline = now + (uint64_t)p->o.timeout_ms * NS_PER_MS;
    if (connect(fd, (const struct sockaddr *)&p->t->addr, p->t->addrlen) == 0)
        connect_result(p, 0, now);
    else if (errno == EINPROGRESS)
        p->connecting = true;
    else
        connect_result(p, errno, now);
}

/* Moves to `next` on the same connection, or on a new one. */
static void next_step(struct tcp_probe *p, enum tcp_step next, bool reconnect,
                      uint64_t now)
{
    if (next == TS_END) {
        end(p);
        return;
    }
    if (reconnect) {
        close_fd(p);
        p->after_connect = next;
        p->step = TS_CONNECT;
        p->reconnecting = true;     /* the TCP state is already known */
        p->attempts = 0;
        p->want_token = true;
        return;
    }
    p->step = next;
    begin_step(p, now);
}

static uint16_t bin_status(const char *buf, size_t len)
{
    const uint8_t *b = (const uint8_t *)buf;

    if (len < BIN_HDR_LEN || b[0] != 0x81)
        return 0xffff;
    return (uint16_t)(b[6] << 8 | b[7]);
}

/* A complete reply (or the connection closed: closed = true). */
static void on_reply(struct tcp_probe *p, const char *buf, size_t len,
                     bool closed, uint64_t now)
{
    struct tcp_result *tr = &p->r->tcp;
    uint16_t st;

    copy_line(p->reply_line, sizeof(p->reply_line), buf, len);
    switch (p->step) {
    case TS_VERSION:
        if (starts(buf, len, "VERSION ")) {
            tr->ascii = true;
            copy_line(tr->version, sizeof(tr->version), buf + 8, len - 8);
            next_step(p, TS_STATS, false, now);
        } else if (auth_error(buf, len)) {
            tr->auth = AUTH_ASCII;
            next_step(p, TS_END, false, now);
        } else {
            /* ERROR or a closed connection: ascii refused; try binary */
            next_step(p, TS_BIN_VERSION, true, now);
        }
        break;
    case TS_STATS:
        if (starts(buf, len, "STAT ")) {
            tr->stats = true;
            tr->auth = AUTH_NONE;
            tcp_stats_each(buf, len, on_stat, tr);
            next_step(p, TS_SETTINGS, false, now);
        } else {
            if (auth_error(buf, len))
                tr->auth = AUTH_ASCII;
            next_step(p, TS_END, false, now);
        }
        break;
    case TS_SETTINGS:
        tcp_stats_each(buf, len, on_stat, tr);
        next_step(p, TS_END, false, now);
        break;
    case TS_BIN_VERSION:
        st = bin_status(buf, len);
        if (st == 0) {
            tr->binary = true;
            if (tr->version[0] == '\0')
                copy_line(tr->version, sizeof(tr->version),
                          buf + BIN_HDR_LEN, len - BIN_HDR_LEN);
            next_step(p, TS_BIN_MECHS, false, now);
        } else if (st == 0x20) {
            tr->auth = AUTH_SASL;
            next_step(p, TS_END, false, now);
        } else {
            /* neither protocol spoke in clear: TLS (memcached -Z)? */
            next_step(p, tr->ascii ? TS_END : TS_TLS, true, now);
        }
        break;
    case TS_BIN_MECHS:
        st = bin_status(buf, len);
        if (st == 0) {
            copy_line(tr->sasl_mechs, sizeof(tr->sasl_mechs),
                      buf + BIN_HDR_LEN, len - BIN_HDR_LEN);
            if (!tr->ascii)
                tr->auth = AUTH_SASL;
        }
        next_step(p, TS_END, false, now);
        break;
    case TS_STORE:
        p->r->amp.stored = starts(buf, len, "STORED");
        if (!p->r->amp.stored)
            snprintf(p->r->amp.note, sizeof(p->r->amp.note),
                     "store refused: %.60s", closed ? "connection closed" :
                     p->reply_line);
        next_step(p, TS_END, false, now);
        break;
    case TS_DELETE:
        p->r->amp.deleted = starts(buf, len, "DELETED");
        next_step(p, TS_END, false, now);
        break;
    default:
        next_step(p, TS_END, false, now);
        break;
    }
}

static size_t frame_reply(const struct tcp_probe *p)
{
    switch (p->step) {
    case TS_STATS:
    case TS_SETTINGS:
        return tcp_stats_complete(p->in, p->in_len);
    case TS_BIN_VERSION:
    case TS_BIN_MECHS:
        return tcp_bin_complete(p->in, p->in_len);
    default:
        return tcp_line_complete(p->in, p->in_len);
    }
}

/* What a reply cut short (closed, timed out) still tells: a stats list
 * line by line, but never an unterminated line (`VERSION 1.4` with no end
 * is not a version) nor half a binary header. */
static size_t framed_or_partial(const struct tcp_probe *p)
{
    size_t got = frame_reply(p);

    if (got == 0 && (p->step == TS_STATS || p->step == TS_SETTINGS))
        return p->in_len;
    return got;
}

/* The TLS step: a handshake, then `version` inside it. */
static void tls_io(struct tcp_probe *p, bool timed_out)
{
    struct tcp_result *tr = &p->r->tcp;
    enum tls_res res = timed_out ? TLS_DONE :
                       tls_session_step(p->tls, &p->tls_events);
    const char *line;

    if (res == TLS_AGAIN)
        return;
    if (tls_session_handshaken(p->tls)) {
        tr->tls = true;
        tr->auth = AUTH_TLS;
        line = tls_session_line(p->tls);
        if (strncmp(line, "VERSION ", 8) == 0) {
            copy_line(tr->version, sizeof(tr->version), line + 8,
                      strlen(line + 8));
            identify(tr);
        }
    }
    end(p);
}

void tcp_probe_io(struct tcp_probe *p, short revents, uint64_t now)
{
    ssize_t n;

    if (p->connecting) {
        int err = 0;
        socklen_t el = sizeof(err);
        if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
            err = errno;
        if (err == 0 && !(revents & POLLOUT))
            return;
        connect_result(p, err, now);
        return;
    }
    if (p->tls != NULL) {
        tls_io(p, false);
        return;
    }
    while (p->out_off < p->out_len) {
        n = send(p->fd, p->out + p->out_off, p->out_len - p->out_off,
                 MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            on_reply(p, "", 0, true, now);
            return;
        }
        p->out_off += (size_t)n;
    }
    if (!(revents & (POLLIN | POLLHUP | POLLERR)))
        return;
    for (;;) {
        size_t got;
        if (p->in_len == TCP_REPLY_MAX) {
            on_reply(p, p->in, p->in_len, false, now);
            return;
        }
        n = recv(p->fd, p->in + p->in_len, TCP_REPLY_MAX - p->in_len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            on_reply(p, p->in, framed_or_partial(p), true, now);
            return;
        }
        p->in_len += (size_t)n;
        got = frame_reply(p);
        if (got > 0) {
            on_reply(p, p->in, got, false, now);
            return;
        }
    }
}

void tcp_probe_timeout(struct tcp_probe *p, uint64_t now)
{
    if (p->connecting) {
        close_fd(p);
        if (p->attempts <= p->o.retries) {
            p->want_token = true;           /* retry the connect */
            return;
        }
        connect_result(p, ETIMEDOUT, now);
        return;
    }
    if (p->tls != NULL) {
        tls_io(p, true);
        return;
    }
    /* an exchange timed out: take what came as the reply */
    bool store = p->step == TS_STORE;

    on_reply(p, p->in, framed_or_partial(p), true, now);
    if (store && !p->r->amp.stored)
        snprintf(p->r->amp.note, sizeof(p->r->amp.note),
                 "store timed out");
}

void tcp_probe_cleanup(struct tcp_probe *p)
{
    close_fd(p);
    free(p->out);
    free(p->in);
    p->out = p->in = NULL;
}
