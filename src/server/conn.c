/*
 * conn: the per-connection state machine (see conn.h). One read per
 * readiness event, all complete requests executed (at most -R of them),
 * one write of all their replies: a pipeline of N requests costs two
 * system calls, not 2N.
 */
#include "server/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "net/tls.h"
#include "policy/auth.h"
#include "policy/limits.h"
#include "server/process_binary.h"
#include "server/process_text.h"
#include "server/settings.h"
#include "server/udp.h"
#include "server/worker.h"

/* Worker scratch larger than this is given back after a big reply. */
#define CONN_OUT_KEEP (4 * 1024 * 1024)

/* Plain connections are edge-triggered: epoll reports a socket once per
 * arrival of data, not again at every epoll_wait while it stays readable,
 * which saves a poll of each ready socket per round (about 2% of the
 * server's CPU at pipeline 1, perf). The price is reading everything an
 * edge announced: a read that fills LIMIT_READ_CHUNK may have left more,
 * and a peer's shutdown that came with its data (EPOLLRDHUP) leaves an end
 * of file to read; conn_read then asks epoll to look again
 * (EPOLL_CTL_MOD reports a socket that is ready at once). TLS connections
 * stay level-triggered: OpenSSL reads a record at a time and may leave
 * more of what the socket announced for later. */
static bool conn_edge_triggered(const struct conn *c)
{
    return c->ssl == NULL;
}

static uint32_t conn_events(const struct conn *c, uint32_t events)
{
    return conn_edge_triggered(c) ? events | EPOLLET | EPOLLRDHUP : events;
}

struct conn *conn_create(struct worker *w, int fd, const struct sockaddr *peer,
                         socklen_t peerlen, const char *listen_name, bool tls)
{
    struct conn *c = calloc(1, sizeof(*c));
    int one = 1;

    if (c == NULL) {
        close(fd);
        return NULL;
    }
    c->kind = EV_KIND_CONN;
    c->fd = fd;
    c->w = w;
    c->listen_name = listen_name;
    c->authenticated = !settings.auth_required;
    if (peerlen > sizeof(c->peer))
        peerlen = sizeof(c->peer);
    memcpy(&c->peer, peer, peerlen);
    c->peerlen = peerlen;
    atomic_store_explicit(&c->last_active, clock_now(), memory_order_relaxed);
    if (peer->sa_family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (tls && (c->ssl = tls_session_create(fd)) == NULL) {
        close(fd);
        free(c);
        return NULL;
    }
    if (ev_watch(&w->loop, fd, conn_events(c, EPOLLIN), c) < 0) {
        tls_session_destroy(&c->ssl);
        close(fd);
        free(c);
        return NULL;
    }
    pthread_mutex_lock(&w->conns_lock);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    pthread_mutex_unlock(&w->conns_lock);
    return c;
}

void conn_destroy(struct conn *c)
{
    struct worker *w = c->w;

    pthread_mutex_lock(&w->conns_lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&w->conns_lock);
    if (c->on_ready) {
        for (struct conn **pp = &w->ready; *pp; pp = &(*pp)->ready_next)
            if (*pp == c) {
                *pp = c->ready_next;
                break;
            }
    }
    for (int i = 0; i < w->nspans; i++)   /* its replies die with it */
        if (w->spans[i].c == c)
            w->spans[i].c = NULL;
    tls_session_destroy(&c->ssl);
    close(c->fd);
    auth_sasl_session_destroy(&c->sasl);
    buf_destroy(&c->in);
    buf_destroy(&c->out);
    free(c);
    atomic_fetch_sub(&global_stats.curr_connections, 1);
}

static int conn_write_tls(struct conn *c, struct buf *b)
{
    while (buf_len(b) > 0) {
        long n = tls_write(c->ssl, buf_rptr(b), buf_len(b));
        if (n > 0) {
            STAT_ADD(&c->w->stats, bytes_written, (uint64_t)n);
            buf_consume(b, (size_t)n);
            continue;
        }
        /* renegotiation is off: only a full socket can stop a write */
        return n == -TLS_IO_WANT_WRITE ? 1 : -1;
    }
    return 0;
}

/* Write as much of `b` as the socket takes. Returns 0 if all was written,
 * 1 if the socket is full, -1 on error. */
static int conn_write(struct conn *c, struct buf *b)
{
    if (c->ssl)
        return conn_write_tls(c, b);
    while (buf_len(b) > 0) {
        ssize_t n = send(c->fd, buf_rptr(b), buf_len(b), MSG_NOSIGNAL);
        if (n > 0) {
            STAT_ADD(&c->w->stats, bytes_written, (uint64_t)n);
            buf_consume(b, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        return -1;
    }
    return 0;
}

/* ---- deferred replies ----
 *
 * Replies are not sent as each connection is served but once per round of
 * the event loop (conn_flush_all, after every ready connection ran), as
 * Redis does before it sleeps. The replies of the connections served in a
 * round lie one after another in the worker's output buffer; w->spans says
 * where each connection's part ends. Sending them back to back matters on
 * a busy server: a client that sleeps in epoll_wait is woken by the first
 * reply and finds the others ready, where interleaving sends with request
 * processing woke it (an inter-processor interrupt, ~8% of the server's
 * CPU in set-heavy runs, measured with perf) for nearly every one. */

/* Close c's part of the worker's output buffer (what it added since the
 * last span ended). */
static void span_close(struct conn *c)
{
    struct worker *w = c->w;
    size_t end = buf_len(&w->out);
    size_t start = w->nspans > 0 ? w->spans[w->nspans - 1].end : 0;

    if (end == start)
        return;
    if (w->nspans > 0 && w->spans[w->nspans - 1].c == c) {
        w->spans[w->nspans - 1].end = end;   /* served twice in a row */
        return;
    }
    w->spans[w->nspans].c = c;
    w->spans[w->nspans].end = end;
    w->nspans++;
}

/* Send one span; what the socket does not take waits in c->out. */
static void span_send(struct conn *c, struct conn *cur, char *p, size_t n)
{
    struct buf span = { .data = p, .rpos = 0, .wpos = n, .cap = n };
    int rc = buf_len(&c->out) == 0 ? conn_write(c, &span) : 1;

    if (rc == 1) {
        bool was_blocked = buf_len(&c->out) > 0;
        if (buf_append(&c->out, buf_rptr(&span), buf_len(&span)) < 0 ||
            (!was_blocked && ev_rewatch(&c->w->loop, c->fd, conn_events(c, EPOLLOUT), c) < 0))
            rc = -1;
    }
    if (rc < 0 && !c->closing) {
        c->closing = true;
        /* not freed here: an event of this round may still name it. The
         * shut socket reports EPOLLHUP, and conn_read frees it then. */
        if (c != cur)
            shutdown(c->fd, SHUT_RDWR);
    }
}

void conn_flush_all(struct worker *w, struct conn *cur)
{
    struct buf *out = &w->out;
    size_t start = 0;

    if (cur != NULL)
        span_close(cur);
    for (int i = 0; i < w->nspans; i++) {
        struct conn *c = w->spans[i].c;
        size_t end = w->spans[i].end;
        if (c != NULL)
            span_send(c, cur, buf_rptr(out) + start, end - start);
        start = end;
    }
    w->nspans = 0;
    buf_consume(out, buf_len(out));
    if (out->cap > CONN_OUT_KEEP)
        buf_destroy(out);
}

bool conn_flush(struct conn *c)
{
    if (c->fd < 0)   /* a datagram: the UDP layer takes the whole reply */
        return buf_len(&c->w->out) <= c->udp_reply_max;
    conn_flush_all(c->w, c);
    return buf_len(&c->out) == 0 && !c->closing;
}

/* Done serving c for now: its replies go out at the end of the round (at
 * once if it closes). */
static void conn_defer(struct conn *c)
{
    struct worker *w = c->w;

    if (c->closing || buf_len(&w->out) >= LIMIT_OUTPUT_HIGH_WATER) {
        conn_flush_all(w, c);
        return;
    }
    span_close(c);
    if (w->nspans == WORKER_SPANS_MAX)
        conn_flush_all(w, NULL);
}

static void add_ready(struct conn *c)
{
    if (c->on_ready)
        return;
    c->on_ready = true;
    c->ready_next = c->w->ready;
    c->w->ready = c;
}

/* Each protocol executes one request at a time; see conn.h. */
static const conn_step_fn protocol_steps[CONN_PROTO_COUNT] = {
    [CONN_PROTO_TEXT] = process_text_step,
    [CONN_PROTO_BINARY] = process_binary_step,
};

enum conn_step conn_step_once(struct conn *c, const char *data, size_t len,
                              size_t *used)
{
    return protocol_steps[c->proto](c, data, len, used);
}

/* Execute complete requests in data[0..len). Returns bytes used; sets
 * *yielded when -R stopped it with requests left. */
static size_t conn_execute(struct conn *c, const char *data, size_t len,
                           bool *yielded)
{
    size_t off = 0;
    int nreq = 0;

    if (c->proto == CONN_PROTO_UNKNOWN && len > 0)   /* memcached's rule */
        c->proto = (unsigned char)data[0] == CONN_BINARY_MAGIC ?
                   CONN_PROTO_BINARY : CONN_PROTO_TEXT;
    bool ahead = c->proto == CONN_PROTO_TEXT && !c->w->in_round;

    c->need = 0;
    if (ahead) {   /* in a round, conn_round_run did it for all */
        process_text_ahead(c, data, len);
        process_text_ahead_run();
    }
    while (off < len && !c->closing) {
        if (c->swallow > 0) {
            size_t k = len - off < c->swallow ? len - off : c->swallow;
            c->swallow -= k;
            off += k;
            continue;
        }
        if (buf_len(&c->out) > 0)
            break;   /* output blocked: wait for the client to read */
        if (nreq == settings.reqs_per_event) {
            STAT_INCR(&c->w->stats, conn_yields);
            *yielded = true;
            break;
        }
        size_t used = 0;
        enum conn_step st = protocol_steps[c->proto](c, data + off, len - off, &used);
        off += used;
        if (st == CONN_STEP_NEED_MORE || st == CONN_STEP_PAUSED)
            break;
        if (st == CONN_STEP_CLOSE) {
            c->closing = true;
            break;
        }
        nreq++;
        if (buf_len(&c->w->out) >= LIMIT_OUTPUT_HIGH_WATER)
            conn_flush(c);
    }
    if (ahead)
        process_text_ahead_clear();
    udp_note_tcp_peer(c);   /* after a login, the address is validated */
    return off;
}

/* Execute what is in data (the worker scratch or c->in), keep the rest,
 * send the replies. Frees c if it closes. */
static void conn_serve(struct conn *c, const char *data, size_t len, bool scratch)
{
    bool yielded = false;
    size_t used = conn_execute(c, data, len, &yielded);

    if (!c->closing) {
        if (scratch) {
            if (used < len && buf_append(&c->in, data + used, len - used) < 0)
                c->closing = true;
        } else {
            buf_consume(&c->in, used);
        }
    }
    if (buf_len(&c->in) == 0)
        buf_destroy(&c->in);   /* idle connections hold no buffers */
    conn_defer(c);
    if (c->closing) {
        conn_destroy(c);
        return;
    }
    if (yielded)
        add_ready(c);
}

/* One TLS record at most (16 KiB) per read: it always fits the scratch
 * buffer, so nothing decrypted waits inside OpenSSL unseen by epoll. */
_Static_assert(LIMIT_READ_CHUNK >= 16384, "a TLS record fits a read");

static ssize_t conn_read_tls(struct conn *c, char *buf, size_t len)
{
    long n = tls_read(c->ssl, buf, len);
    bool want_write = n == -TLS_IO_WANT_WRITE;

    if (want_write != c->tls_want_write) {
        c->tls_want_write = want_write;
        if (ev_rewatch(&c->w->loop, c->fd, want_write ? EPOLLOUT : EPOLLIN, c) < 0)
            return 0;
    }
    if (n > 0)
        return (ssize_t)n;
    if (n == -TLS_IO_WANT_READ || want_write) {
        errno = EAGAIN;
        return -1;
    }
    return 0;   /* close_notify, reset or a protocol error: close */
}

/* ---- rounds ----
 *
 * Reads land in the worker's round buffer (w->rbuf); only what is left
 * incomplete is kept in c->in, which grows by the bytes that arrived and
 * never by the size a request announces. A slow client (slowloris, or a
 * value trickled in byte by byte) holds what it sent, not a 64 KiB read
 * buffer or a whole -I value reserved in advance.
 *
 * The plain connections that are readable in a round are read first, one
 * after another into the round buffer; then the key requests of all of
 * them are parsed ahead together and their lookups prefetched
 * (process_text_ahead), then they run, each on its own bytes
 * (conn_round_run). With one request per connection (pipeline 1) that is
 * what lets the cache misses of different connections' lookups overlap.
 * TLS connections run as they are read. */

static void conn_round_add(struct conn *c, char *data, size_t len)
{
    struct worker *w = c->w;
    struct round_read *r = &w->round[w->nround++];

    r->c = c;
    r->data = data;   /* NULL: the bytes are c->in */
    r->len = len;
}

void conn_round_run(struct worker *w)
{
    int i;

    if (w->nround == 0) {
        w->rused = 0;
        return;
    }
    w->in_round = true;
    /* in groups of connections whose requests the read-ahead can hold */
    for (i = 0; i < w->nround;) {
        int first = i;
        do {
            struct round_read *r = &w->round[i++];
            if (r->c->proto == CONN_PROTO_TEXT)
                process_text_ahead(r->c, r->data ? r->data : buf_rptr(&r->c->in),
                                   r->data ? r->len : buf_len(&r->c->in));
        } while (i < w->nround && process_text_ahead_room());
        process_text_ahead_run();
        for (int j = first; j < i; j++) {
            struct round_read *r = &w->round[j];
            if (r->data != NULL)
                conn_serve(r->c, r->data, r->len, true);
            else
                conn_serve(r->c, buf_rptr(&r->c->in), buf_len(&r->c->in), false);
        }
        process_text_ahead_clear();
    }
    w->in_round = false;
    w->nround = 0;
    w->rused = 0;
}

/* Read what c has sent into the round. peer_shut: epoll saw the peer shut
 * its side (EPOLLRDHUP). */
static void conn_read(struct conn *c, bool peer_shut)
{
    struct worker *w = c->w;
    char *dst;
    ssize_t n;

    if (w->rused + LIMIT_READ_CHUNK > WORKER_ROUND_BYTES || w->nround == WORKER_ROUND_MAX)
        conn_round_run(w);
    dst = w->rbuf + w->rused;
    /* recv, not read: it goes to the socket without the VFS layers
     * (30-50 ns less per call on this machine's loopback, 12-05) */
    n = c->ssl ? conn_read_tls(c, dst, LIMIT_READ_CHUNK) : recv(c->fd, dst, LIMIT_READ_CHUNK, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        conn_destroy(c);
        return;
    }
    STAT_ADD(&w->stats, bytes_read, (uint64_t)n);
    /* edge-triggered: more may wait (see conn_events) */
    if (conn_edge_triggered(c) && (peer_shut || n == LIMIT_READ_CHUNK) &&
        ev_rewatch(&w->loop, c->fd, conn_events(c, EPOLLIN), c) < 0)
        c->closing = true;
    atomic_store_explicit(&c->last_active, clock_now(), memory_order_relaxed);
    if (buf_len(&c->in) > 0 && buf_append(&c->in, dst, (size_t)n) < 0) {
        conn_destroy(c);
        return;
    }
    if (c->ssl) {   /* served at once: see conn_read_tls */
        if (buf_len(&c->in) == 0)
            conn_serve(c, dst, (size_t)n, true);
        else
            conn_serve(c, buf_rptr(&c->in), buf_len(&c->in), false);
        return;
    }
    if (buf_len(&c->in) == 0) {
        w->rused += (size_t)n;
        conn_round_add(c, dst, (size_t)n);
    } else {
        conn_round_add(c, NULL, 0);
    }
}

static void conn_drain(struct conn *c)
{
    int rc = conn_write(c, &c->out);

    if (rc < 0) {
        conn_destroy(c);
        return;
    }
    atomic_store_explicit(&c->last_active, clock_now(), memory_order_relaxed);
    if (rc == 1)
        return;
    buf_destroy(&c->out);
    if (ev_rewatch(&c->w->loop, c->fd, conn_events(c, EPOLLIN), c) < 0) {
        conn_destroy(c);
        return;
    }
    /* replies drained: continue with requests that waited (a paused
     * multiget resumes at c->resume) */
    if (buf_len(&c->in) > 0)
        conn_serve(c, buf_rptr(&c->in), buf_len(&c->in), false);
}

/* Drive the handshake with the events the socket gives; then serve what
 * the client sent together with its last handshake message. */
static void conn_handshake(struct conn *c)
{
    enum tls_io r = tls_handshake(c->ssl);

    if (r == TLS_IO_ERROR) {
        STAT_INCR(&c->w->stats, ssl_handshake_errors);
        conn_destroy(c);
        return;
    }
    atomic_store_explicit(&c->last_active, clock_now(), memory_order_relaxed);
    if (ev_rewatch(&c->w->loop, c->fd, r == TLS_IO_WANT_WRITE ? EPOLLOUT : EPOLLIN,
                   c) < 0) {
        conn_destroy(c);
        return;
    }
    if (r != TLS_IO_DONE)
        return;
    c->tls_ready = true;
    if (!settings.auth_required)
        udp_note_tcp_peer(c);
    conn_read(c, false);
}

void conn_on_event(struct conn *c, unsigned events)
{
    if (c->ssl && !c->tls_ready) {
        conn_handshake(c);
        return;
    }
    if (c->tls_want_write) {
        conn_read(c, false);
        return;
    }
    if (buf_len(&c->out) > 0) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            conn_drain(c);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
        conn_read(c, (events & EPOLLRDHUP) != 0);
}

void conn_run_pending(struct conn *c)
{
    c->on_ready = false;
    if (buf_len(&c->out) == 0 && buf_len(&c->in) > 0)
        conn_serve(c, buf_rptr(&c->in), buf_len(&c->in), false);
}
