/*
 * probe_udp: nonblocking UDP probes. A request is re-sent (same request
 * id) only while nothing has come back; once any datagram is in (framed or
 * not: the socket is connected, so it came from the target), we wait for
 * the rest until the timeout passes without a new one and never ask again.
 * A read-only probe ends as soon as every sequence number is in; an
 * amplification probe listens until the reply stops, since a multi-get
 * brings the same sequence numbers once per key. Caps in probe_udp.h.
 */
#include "audit/probe_udp.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "audit/target.h"

#define NS_PER_MS 1000000ull

static uint8_t rx[65536];   /* one datagram; the loop is single-threaded */

static uint16_t random_reqid(void)
{
    uint16_t id = 0;

    while (id == 0)     /* 0 is what the advisory's literal probes use */
        if (getrandom(&id, sizeof(id), 0) != sizeof(id))
            id = (uint16_t)(audit_now_ns() >> 10);
    return id;
}

static bool got_any(const struct udp_probe *p)
{
    return probe_replied(p->pr);
}

static void finish(struct udp_probe *p, enum udp_state st, int err,
                   uint64_t now)
{
    p->done = true;
    p->want_token = false;
    p->pr->state = st;
    p->pr->err = err;
    if (p->first_send)
        p->pr->duration_ns = (p->last_reply ? p->last_reply : now) -
                             p->first_send;
    if (p->ra != NULL) {
        char text[AUDIT_LINE_MAX];
        size_t n = reasm_text(p->ra, text, sizeof(text)), i;
        for (i = 0; i < n && text[i] != '\r' && text[i] != '\n'; i++)
            p->pr->first_line[i] = (text[i] >= 0x20 && text[i] < 0x7f) ?
                                   text[i] : '?';
        p->pr->first_line[i] = '\0';
    }
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}

int udp_probe_start(struct udp_probe *p, enum udp_probe_id id,
                    const struct target *t, struct probe_result *pr,
                    const struct probe_opts *o, const char *cmd)
{
    const struct udp_probe_def *d = &udp_probe_defs[id];
    uint16_t reqid;

    memset(p, 0, sizeof(*p));
    p->id = id;
    p->t = t;
    p->pr = pr;
    p->o = *o;
    p->fd = -1;
    memset(pr, 0, sizeof(*pr));
    if (d->flags & PF_LITERAL) {
        if (d->req_len > sizeof(p->req))
            return -1;
        memcpy(p->req, d->req, d->req_len);
        p->req_len = d->req_len;
        reqid = (uint16_t)(p->req[0] << 8 | p->req[1]);
    } else {
        const char *c = cmd != NULL ? cmd : d->req;
        reqid = random_reqid();
        p->req_len = frame_build(p->req, sizeof(p->req), reqid, c, strlen(c));
        if (p->req_len == 0)
            return -1;
    }
    pr->req_bytes = (uint32_t)p->req_len;
    /* the malformed probe's silence proves nothing: never wait for it twice */
    p->retries = (d->flags & PF_MALFORMED) ? 0 : o->retries;
    if (d->flags & PF_AMPLIFY) {
        uint64_t copy = o->expect_bytes + UDP_AMP_SLACK;
        p->max_bytes = copy * (AMP_MULTI_KEYS + 1);
        p->max_dups = UINT32_MAX;
    } else {
        p->max_bytes = UDP_BYTES_MAX;
        p->max_dups = UDP_DUP_MAX;
    }
    p->ra = malloc(sizeof(*p->ra));
    if (p->ra == NULL) {
        finish(p, UDP_ERROR, ENOMEM, 0);
        return 0;
    }
    reasm_reset(p->ra, reqid);
    p->fd = socket(t->addr.ss_family,
                   SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0) {
        finish(p, UDP_ERROR, errno, 0);
        return 0;
    }
    if (udp_probe_defs[id].flags & PF_AMPLIFY) {
        int sz = UDP_RCVBUF;
        if (setsockopt(p->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) != 0)
            (void)setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    }
    if (o->src != NULL && bind(p->fd, o->src, o->srclen) != 0) {
        finish(p, UDP_ERROR, errno, 0);
        return 0;
    }
    if (connect(p->fd, (const struct sockaddr *)&t->addr, t->addrlen) != 0) {
        finish(p, UDP_ERROR, errno, 0);
        return 0;
    }
    p->want_token = true;
    return 0;
}

void udp_probe_want(const struct udp_probe *p, struct io_want *w)
{
    memset(w, 0, sizeof(*w));
    w->fd = -1;
    if (p->done) {
        w->done = true;
        return;
    }
    if (p->want_token) {
        w->token = true;
        return;
    }
    w->fd = p->fd;
    w->events = POLLIN;
    w->deadline = p->deadline < p->hard_deadline ? p->deadline :
                  p->hard_deadline;
}

void udp_probe_grant(struct udp_probe *p, uint64_t now)
{
    ssize_t n;

    p->want_token = false;
    n = send(p->fd, p->req, p->req_len, 0);
    if (n < 0) {
        if (errno == ECONNREFUSED)
            finish(p, UDP_CLOSED, 0, now);
        else
            finish(p, UDP_ERROR, errno, now);
        return;
    }
    p->pr->attempts++;
    if (p->first_send == 0) {
        uint64_t t = (uint64_t)p->o.timeout_ms * NS_PER_MS;
        unsigned k = p->retries + 1 + UDP_TAIL_TIMEOUTS;
        if (udp_probe_defs[p->id].flags & PF_AMPLIFY)
            k += UDP_AMP_TIMEOUTS;
        p->first_send = now;
        p->hard_deadline = now + k * t;
        if (p->hurry_ns && p->hard_deadline > now + p->hurry_ns)
            p->hard_deadline = now + p->hurry_ns;
    }
    p->last_send = now;
    p->deadline = now + (uint64_t)p->o.timeout_ms * NS_PER_MS;
}

/* A datagram came: the reply is flowing, give the rest another timeout
 * (never past the absolute deadline, which udp_probe_want applies). */
static void note_datagram(struct udp_probe *p, uint64_t now)
{
    p->last_reply = now;
    if (p->pr->reply_packets + p->pr->foreign_packets == 1)
        p->pr->rtt_ns = now - p->last_send;
    p->deadline = now + (uint64_t)p->o.timeout_ms * NS_PER_MS;
}

static bool over_caps(const struct udp_probe *p)
{
    return p->dups > p->max_dups ||
           p->pr->reply_bytes + p->pr->foreign_bytes > p->max_bytes;
}

void udp_probe_io(struct udp_probe *p, short revents, uint64_t now)
{
    (void)revents;
    for (;;) {
        ssize_t n = recv(p->fd, rx, sizeof(rx), 0);
        enum reasm_res res;

        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            if (errno == ECONNREFUSED && !got_any(p)) {
                finish(p, UDP_CLOSED, 0, now);
                return;
            }
            if (errno == ECONNREFUSED)
                continue;
            finish(p, got_any(p) ? UDP_REPLY : UDP_ERROR, errno, now);
            return;
        }
        res = reasm_add(p->ra, rx, (size_t)n);
        if (res == REASM_FOREIGN || res == REASM_BAD) {
            /* not a frame of our reply, yet the target sent it to us: a
             * victim would get these bytes too, so they count */
            p->pr->foreign_packets++;
            p->pr->foreign_bytes += (uint64_t)n;
        } else {
            /* Repeats count: memcached answers `get k k k` over UDP with
             * one full sequence 0..total-1 per key, all under one id. */
            p->pr->reply_bytes += (uint64_t)n;
            p->pr->reply_packets++;
            p->pr->unique_packets = p->ra->got;
            p->pr->expected_packets = p->ra->total;
            if (res == REASM_DUP)
                p->dups++;
        }
        note_datagram(p, now);
        if (over_caps(p)) {
            p->pr->capped = true;
            finish(p, UDP_REPLY, 0, now);
            return;
        }
        if (res == REASM_COMPLETE &&
            !(udp_probe_defs[p->id].flags & PF_AMPLIFY)) {
            finish(p, UDP_REPLY, 0, now);
            return;
        }
    }
}

void udp_probe_timeout(struct udp_probe *p, uint64_t now)
{
    bool hard = now >= p->hard_deadline;

    if (hard && got_any(p) && p->deadline > now)
        p->pr->capped = true;               /* still flowing at the end */
    if (got_any(p)) {
        finish(p, UDP_REPLY, 0, now);       /* partial: some were lost */
        return;
    }
    if (!hard && p->pr->attempts <= p->retries) {
        p->want_token = true;
        return;
    }
    finish(p, UDP_SILENT, 0, now);
}

void udp_probe_no_retry(struct udp_probe *p)
{
    p->retries = 0;
}

void udp_probe_hurry(struct udp_probe *p, uint64_t grace)
{
    if (p->done)
        return;
    p->retries = 0;
    if (p->first_send == 0)     /* still sent once, then given as long */
        p->hurry_ns = grace;
    else if (p->hard_deadline > p->first_send + grace)
        p->hard_deadline = p->first_send + grace;
}

void udp_probe_cleanup(struct udp_probe *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    free(p->ra);
    p->ra = NULL;
}

size_t udp_probe_text(const struct udp_probe *p, char *out, size_t cap)
{
    if (p->ra == NULL) {
        if (cap > 0)
            out[0] = '\0';
        return 0;
    }
    return reasm_text(p->ra, out, cap);
}
