/*
 * udp: see udp.h. One recvfrom per datagram and one sendmsg per reply
 * datagram; replies are never queued: a datagram the socket cannot take
 * now is lost, as UDP allows.
 */
#include "server/udp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "core/log.h"
#include "policy/acl.h"
#include "policy/gate.h"
#include "protocol/binary/parse.h"
#include "policy/udp_guard.h"
#include "protocol/text/parse.h"
#include "protocol/udp/frame.h"
#include "server/conn.h"
#include "server/process_text.h"
#include "server/settings.h"
#include "server/worker.h"

/* A worker's output buffer grown by a big UDP reply is given back. */
#define UDP_OUT_KEEP        (4 * 1024 * 1024)
/* Binary protocol request header. */
#define UDP_BIN_HEADER      24
/* Each request of a datagram gets its own framed reply, as memcached
 * sends them; past this many, the rest share the last frame. */
#define UDP_REPLIES_MAX     64

/* Every reply fits the 16-bit sequence and total fields. */
_Static_assert(LIMIT_UDP_REPLY_MAX / UDP_CHUNK_MAX + 1 < UDP_DATAGRAMS_MAX,
               "LIMIT_UDP_REPLY_MAX needs more datagrams than a frame can number");

struct udp_replies {
    size_t end[UDP_REPLIES_MAX];   /* end offset of each reply in w->out */
    size_t n;
};

static const char udp_short_error[] = "SERVER_ERROR use TCP\r\n";
static const char udp_admin_refused[] = "CLIENT_ERROR not allowed over UDP\r\n";

uint64_t udp_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int udp_setup(void)
{
    return udp_guard_setup(&settings.udp_guard);
}

void udp_teardown(void)
{
    udp_guard_teardown();
}

int udp_worker_init(struct worker *w)
{
    w->udp_conn = calloc(1, sizeof(*w->udp_conn));
    w->udp_rbuf = malloc(LIMIT_UDP_DATAGRAM_IN);
    if (w->udp_conn == NULL || w->udp_rbuf == NULL)
        return -1;
    w->udp_conn->kind = EV_KIND_CONN;
    w->udp_conn->fd = -1;
    w->udp_conn->w = w;
    w->udp_conn->udp = true;
    w->udp_conn->listen_name = "udp";
    return 0;
}

void udp_worker_close(struct worker *w)
{
    if (w->udp_conn) {
        buf_destroy(&w->udp_conn->in);
        buf_destroy(&w->udp_conn->out);
    }
    free(w->udp_conn);
    free(w->udp_rbuf);
    w->udp_conn = NULL;
    w->udp_rbuf = NULL;
}

void udp_note_tcp_peer(struct conn *c)
{
    struct udp_src src;
    rel_time_t now;

    if (settings.udp_port == 0 || c->fd < 0 || !c->authenticated)
        return;
    now = clock_now();
    if (c->udp_marked_at == now)
        return;
    c->udp_marked_at = now;
    if (udp_src_from_sockaddr((const struct sockaddr *)&c->peer, &src))
        udp_guard_validate(&src, udp_now_ms());
}

static void note_drop(const struct udp_src *src, uint64_t now_ms)
{
    char line[512];

    if (udp_guard_note_drop(src, now_ms, line, sizeof(line)))
        log_warn("hardcached: %s", line);
}

static void reply_mark(struct udp_replies *r, size_t end)
{
    if (end == (r->n > 0 ? r->end[r->n - 1] : 0))
        return;   /* no reply (noreply, quiet binary) */
    if (r->n == UDP_REPLIES_MAX)
        r->end[r->n - 1] = end;
    else
        r->end[r->n++] = end;
}

/* Run the requests of one datagram payload on the pseudo connection.
 * Returns false if the reply outgrew c->udp_reply_max. */
static bool udp_execute(struct conn *c, const char *data, size_t len,
                        struct udp_replies *r)
{
    struct thread_stats *ts = &c->w->stats;
    size_t off = 0;

    while (off < len && !c->closing) {
        size_t used = 0;
        enum conn_step st;

        if (c->proto == CONN_PROTO_TEXT) {
            struct text_req req;
            if (text_parse(data + off, len - off, process_text_limits(), &req) ==
                    TEXT_PARSE_OK &&
                gate_check(text_cmd_attrs(req.cmd), true, true) != GATE_SERVE) {
                STAT_INCR(ts, udp_admin_refused);
                /* The refusal itself must not amplify, even towards a
                 * validated source (whose address a spoofer may forge):
                 * it is sent only when it is no larger than the request. */
                if (sizeof(udp_admin_refused) - 1 <= len &&
                    buf_append(&c->w->out, udp_admin_refused,
                               sizeof(udp_admin_refused) - 1) < 0)
                    return false;
                reply_mark(r, buf_len(&c->w->out));
                off += req.consumed;
                continue;
            }
        } else if (len - off >= UDP_BIN_HEADER &&
                   gate_check(bin_opcode_attrs((uint8_t)data[off + 1]), true, true) != GATE_SERVE) {
            STAT_INCR(ts, udp_admin_refused);
            return true;   /* nothing more of this datagram runs */
        }
        st = conn_step_once(c, data + off, len - off, &used);
        off += used;
        reply_mark(r, buf_len(&c->w->out));
        if (st == CONN_STEP_PAUSED)
            return false;   /* reply beyond udp_reply_max */
        if (st != CONN_STEP_DONE || c->swallow > 0)
            break;          /* incomplete, closed, or data that never comes */
        if (buf_len(&c->w->out) > c->udp_reply_max)
            return false;
    }
    return buf_len(&c->w->out) <= c->udp_reply_max;
}

/* UDP payload bytes of all the replies, framed one by one. */
static size_t replies_wire(const struct udp_replies *r)
{
    size_t wire = 0, start = 0;

    for (size_t i = 0; i < r->n; i++) {
        wire += udp_frame_wire_size(r->end[i] - start);
        start = r->end[i];
    }
    return wire;
}

/* Send reply[0..len) framed for request_id. Returns wire bytes sent. */
static size_t udp_send(int fd, const struct sockaddr *to, socklen_t tolen,
                       uint16_t request_id, const char *reply, size_t len)
{
    size_t count = udp_frame_count(len), sent = 0;

    for (size_t i = 0; i < count; i++) {
        uint8_t hdr[UDP_FRAME_HEADER];
        size_t off, chunk;
        struct iovec iov[2];
        struct msghdr mh;
        ssize_t n;

        udp_frame_compose(request_id, len, i, hdr, &off, &chunk);
        iov[0].iov_base = hdr;
        iov[0].iov_len = sizeof(hdr);
        iov[1].iov_base = (void *)(uintptr_t)(reply + off);
        iov[1].iov_len = chunk;
        memset(&mh, 0, sizeof(mh));
        mh.msg_name = (void *)(uintptr_t)to;
        mh.msg_namelen = tolen;
        mh.msg_iov = iov;
        mh.msg_iovlen = 2;
        do {
            n = sendmsg(fd, &mh, MSG_DONTWAIT);
        } while (n < 0 && errno == EINTR);
        if (n < 0)
            break;   /* socket full or peer unreachable: the rest is lost */
        sent += (size_t)n;
    }
    return sent;
}

static void raise_max(_Atomic uint64_t *max, uint64_t v)
{
    uint64_t cur = atomic_load(max);

    while (v > cur && !atomic_compare_exchange_weak(max, &cur, v))
        ;
}

static void update_max_amplification(uint64_t sent, uint64_t received, bool validated)
{
    uint64_t milli = received ? sent * 1000 / received : 0;

    raise_max(&global_stats.udp_max_amplification_milli, milli);
    if (!validated)
        raise_max(&global_stats.udp_max_amplification_unvalidated_milli, milli);
}

static void udp_datagram(struct worker *w, struct listener *l, size_t n,
                         const struct sockaddr_storage *ss, socklen_t sl)
{
    struct thread_stats *ts = &w->stats;
    struct conn *c = w->udp_conn;
    struct buf *out = &w->out;
    struct udp_frame f;
    struct udp_src src;
    const uint8_t *payload;
    struct udp_replies r = { .n = 0 };
    size_t plen, reply_len, full_wire, short_wire, sent = 0;
    uint64_t now_ms = udp_now_ms();
    bool validated, fits;
    enum udp_action a;

    STAT_ADD(ts, udp_bytes_read, n);
    if (!udp_src_from_sockaddr((const struct sockaddr *)ss, &src))
        return;
    if (!acl_allows(settings.acl, (const struct sockaddr *)ss)) {
        STAT_INCR(ts, udp_dropped_acl);
        note_drop(&src, now_ms);
        return;
    }
    if (udp_frame_parse(w->udp_rbuf, n, &f, &payload, &plen) != UDP_FRAME_OK) {
        STAT_INCR(ts, udp_dropped_malformed);
        return;
    }
    STAT_INCR(ts, udp_requests);
    validated = udp_guard_validated(&src, now_ms);
    if (settings.auth_required && !validated) {
        STAT_INCR(ts, udp_dropped_auth);
        note_drop(&src, now_ms);
        return;
    }

    /* a fresh pseudo connection for this datagram */
    c->proto = payload[0] == CONN_BINARY_MAGIC ? CONN_PROTO_BINARY : CONN_PROTO_TEXT;
    c->authenticated = true;   /* login was checked above, through TCP */
    c->closing = false;
    c->swallow = c->need = c->resume = 0;
    c->udp_reply_max = udp_guard_reply_max(validated, n);
    if (sl > sizeof(c->peer))
        sl = sizeof(c->peer);
    memcpy(&c->peer, ss, sl);
    c->peerlen = sl;
    buf_consume(out, buf_len(out));

    fits = udp_execute(c, (const char *)payload, plen, &r);
    reply_len = buf_len(out);
    if (reply_len > 0 || !fits) {
        full_wire = fits ? replies_wire(&r) : SIZE_MAX;
        short_wire = c->proto == CONN_PROTO_TEXT ?
                     udp_frame_wire_size(sizeof(udp_short_error) - 1) : SIZE_MAX;
        a = udp_guard_reply(&src, validated, n, full_wire, short_wire, now_ms);
        /* counted before sending, so a client that saw the reply sees it
         * counted too */
        if (a == UDP_SHORT_AMPLIFICATION || a == UDP_DROP_AMPLIFICATION) {
            STAT_INCR(ts, udp_dropped_amplification);
            note_drop(&src, now_ms);
        } else if (a == UDP_SHORT_RATE || a == UDP_DROP_RATE) {
            STAT_INCR(ts, udp_dropped_rate);
            note_drop(&src, now_ms);
        } else if (a == UDP_SHORT_TOO_LARGE) {
            STAT_INCR(ts, udp_dropped_too_large);
        }
        switch (a) {
        case UDP_SEND:
            for (size_t i = 0, start = 0; i < r.n; start = r.end[i++])
                sent += udp_send(l->fd, (const struct sockaddr *)ss, sl, f.request_id,
                                 buf_rptr(out) + start, r.end[i] - start);
            break;
        case UDP_SHORT_AMPLIFICATION:
        case UDP_SHORT_RATE:
        case UDP_SHORT_TOO_LARGE:
            STAT_INCR(ts, udp_short_replies);
            sent = udp_send(l->fd, (const struct sockaddr *)ss, sl, f.request_id,
                            udp_short_error, sizeof(udp_short_error) - 1);
            break;
        default:
            break;
        }
    }
    STAT_ADD(ts, udp_bytes_written, sent);
    update_max_amplification(sent, n, validated);
    buf_consume(out, buf_len(out));
    if (out->cap > UDP_OUT_KEEP)
        buf_destroy(out);
    c->resume = 0;
}

void udp_on_readable(struct worker *w, struct listener *l)
{
    conn_flush_all(w, NULL);   /* datagram replies start at w->out's start */
    for (int i = 0; i < LIMIT_UDP_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        ssize_t n = recvfrom(l->fd, w->udp_rbuf, LIMIT_UDP_DATAGRAM_IN, MSG_DONTWAIT,
                             (struct sockaddr *)&ss, &sl);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;   /* EAGAIN, or an ICMP error reported on the socket */
        }
        udp_datagram(w, l, (size_t)n, &ss, sl);
    }
}
