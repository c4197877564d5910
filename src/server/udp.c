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

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "net/listen.h"
#include "policy/acl.h"
#include "policy/limits.h"
#include "policy/udp_guard.h"
#include "protocol/limits.h"
#include "protocol/udp/frame.h"
#include "server/session.h"
#include "server/settings.h"
#include "server/stats.h"

/* An output buffer grown by a big UDP reply is given back. */
#define UDP_OUT_KEEP        (4 * 1024 * 1024)
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

struct udp_worker {
    struct session       s;        /* the datagram being answered */
    struct buf           out;      /* its replies */
    uint8_t             *rbuf;     /* LIMIT_UDP_DATAGRAM_IN */
    size_t               reply_max; /* reply bytes worth building */
    const struct processor *const *procs;
};


int udp_setup(void)
{
    return udp_guard_setup(&settings.udp_guard);
}

void udp_teardown(void)
{
    udp_guard_teardown();
}

struct udp_worker *udp_worker_create(const struct processor *const *procs,
                                     struct thread_stats *stats)
{
    struct udp_worker *u = calloc(1, sizeof(*u));

    if (u == NULL)
        return NULL;
    u->rbuf = malloc(LIMIT_UDP_DATAGRAM_IN);
    if (u->rbuf == NULL) {
        free(u);
        return NULL;
    }
    u->procs = procs;
    u->s.out = &u->out;
    u->s.stats = stats;
    u->s.wake_fd = -1;   /* never watches: admin commands are refused */
    return u;
}

void udp_worker_destroy(struct udp_worker **u)
{
    if (*u == NULL)
        return;
    buf_destroy(&(*u)->out);
    free((*u)->rbuf);
    free(*u);
    *u = NULL;
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

/* Run the requests of one datagram payload on its session. Returns false
 * if the reply outgrew u->reply_max. A request that stops at the output's
 * high water continues at once while the reply may still be sent. */
static bool udp_execute(struct udp_worker *u, const struct processor *proc,
                        const char *data, size_t len, struct udp_replies *r)
{
    struct session *s = &u->s;
    size_t off = 0;

    while (off < len && !s->closing) {
        size_t used = 0;
        enum proc_step st = proc->step(s, data + off, len - off, &used);

        off += used;
        if (buf_len(&u->out) > u->reply_max)
            return false;
        if (st == PROC_STEP_OUTPUT_FULL)
            continue;
        reply_mark(r, buf_len(&u->out));
        if (st != PROC_STEP_DONE || s->swallow > 0)
            break;          /* incomplete, closed, or data that never comes */
    }
    return true;
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

static void udp_datagram(struct udp_worker *u, struct listener *l, size_t n,
                         const struct sockaddr_storage *ss, socklen_t sl)
{
    struct session *s = &u->s;
    struct thread_stats *ts = s->stats;
    struct buf *out = &u->out;
    const struct processor *proc;
    struct udp_frame f;
    struct udp_src src;
    const uint8_t *payload;
    struct udp_replies r = { .n = 0 };
    size_t plen, reply_len, full_wire, short_wire, sent = 0;
    uint64_t now_ms = clock_mono_ms();
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
    if (udp_frame_parse(u->rbuf, n, &f, &payload, &plen) != UDP_FRAME_OK) {
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

    proc = processor_pick(u->procs, payload[0]);
    if (proc == NULL)
        return;
    /* a fresh session for this datagram */
    s->udp = true;
    s->authenticated = true;   /* login was checked above, through TCP */
    s->closing = false;
    s->swallow = s->resume = 0;
    s->hold_reply = false;
    s->cont.active = false;
    s->out_high_water = LIMIT_OUTPUT_HIGH_WATER;
    s->refusal_max = plen;     /* a refusal never amplifies, to anyone */
    u->reply_max = udp_guard_reply_max(validated, n);
    if (sl > sizeof(s->peer))
        sl = sizeof(s->peer);
    memcpy(&s->peer, ss, sl);
    s->peerlen = sl;
    buf_consume(out, buf_len(out));

    fits = udp_execute(u, proc, (const char *)payload, plen, &r);
    reply_len = buf_len(out);
    if (reply_len > 0 || !fits) {
        full_wire = fits ? replies_wire(&r) : SIZE_MAX;
        short_wire = proc->retry_over_tcp != NULL ?
                     udp_frame_wire_size(strlen(proc->retry_over_tcp)) : SIZE_MAX;
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
            if (proc->retry_over_tcp == NULL)   /* short_wire said none */
                break;
            STAT_INCR(ts, udp_short_replies);
            sent = udp_send(l->fd, (const struct sockaddr *)ss, sl, f.request_id,
                            proc->retry_over_tcp, strlen(proc->retry_over_tcp));
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
    s->resume = 0;
}

void udp_on_readable(struct udp_worker *u, struct listener *l)
{
    for (int i = 0; i < LIMIT_UDP_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        ssize_t n = recvfrom(l->fd, u->rbuf, LIMIT_UDP_DATAGRAM_IN, MSG_DONTWAIT,
                             (struct sockaddr *)&ss, &sl);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;   /* EAGAIN, or an ICMP error reported on the socket */
        }
        udp_datagram(u, l, (size_t)n, &ss, sl);
    }
}
