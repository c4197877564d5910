/*
 * conn: the per-connection state machine (see conn.h). One read per
 * readiness event, all complete requests executed (at most -R of them),
 * one write of all their replies: a pipeline of N requests costs two
 * system calls, not 2N. A request reads top to bottom: conn_read puts the
 * bytes in the round, conn_round_run hands them to conn_serve, which runs
 * the processor's steps (conn_execute) and defers the replies to the end
 * of the round (conn_flush_all).
 */
#include "server/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "net/listen.h"
#include "net/tls.h"
#include "policy/auth.h"
#include "policy/udp_guard.h"
#include "protocol/limits.h"
#include "server/park.h"
#include "server/settings.h"
#include "server/trace.h"
#include "server/watch_log.h"
#include "server/stats.h"

static const char *const state_names[] = {
#define X(name, str) str,
    CONN_STATES(X)
#undef X
};

const char *conn_state_name(enum conn_state st)
{
    return (unsigned)st < sizeof(state_names) / sizeof(state_names[0]) ?
           state_names[st] : "conn_closed";
}

static void conn_set_state(struct conn *c, enum conn_state st)
{
    atomic_store_explicit(&c->state, (unsigned char)st, memory_order_relaxed);
}

/* Where a connection stands once its requests of this turn have run. */
static void conn_settle(struct conn *c)
{
    enum conn_state st = CONN_STATE_WAITING;

    if (c->s.closing)
        st = CONN_STATE_CLOSING;
    else if (buf_len(&c->out) > 0)
        st = CONN_STATE_MWRITE;
    else if (c->s.swallow > 0)
        st = CONN_STATE_SWALLOW;
    else if (buf_len(&c->in) > 0 || (c->ssl && !c->tls_ready))
        st = CONN_STATE_READ;
    conn_set_state(c, st);
}

/* An active TCP peer (logged in, where a login is required) validates its
 * address for UDP (policy/udp_guard.h), at most once a second. */
static void conn_validate_peer(struct conn *c)
{
    rel_time_t now;

    if (!c->s.authenticated || (c->ssl && !c->tls_ready))
        return;
    now = clock_now();
    if (c->udp_marked_at == now)
        return;
    c->udp_marked_at = now;
    udp_guard_note_peer((const struct sockaddr *)&c->s.peer, clock_mono_ms());
}

/* Thread scratch larger than this is given back after a big reply. */
#define CONN_OUT_KEEP (4 * 1024 * 1024)

/* Plain connections are edge-triggered: epoll reports a socket once per
 * arrival of data, not again at every epoll_wait while it stays readable,
 * which saves a poll of each ready socket per round (about 2% of the
 * server's CPU at pipeline 1, perf). The price is reading everything an
 * edge announced: a read that fills LIMIT_READ_CHUNK may have left more,
 * and a peer's shutdown that came with its data (EV_PEER_SHUT) leaves an end
 * of file to read; conn_read then asks epoll to look again
 * (ev_rewatch reports a socket that is ready at once). TLS connections
 * stay level-triggered: OpenSSL reads a record at a time and may leave
 * more of what the socket announced for later. */
static bool conn_edge_triggered(const struct conn *c)
{
    return c->ssl == NULL;
}

static uint32_t conn_events(const struct conn *c, uint32_t events)
{
    return conn_edge_triggered(c) ? events | EV_EDGE | EV_PEER_SHUT : events;
}

struct conn *conn_create(struct conn_set *cs, int fd, const struct sockaddr *peer,
                         socklen_t peerlen, const struct listener *l,
                         const struct processor *const *procs)
{
    struct conn *c = calloc(1, sizeof(*c));
    int one = 1;

    if (c == NULL) {
        close(fd);
        return NULL;
    }
    c->kind = EV_KIND_CONN;
    c->fd = fd;
    c->set = cs;
    c->listen_name = l->name;
    c->procs = procs ? procs : cs->procs;
    c->s.out = &cs->out;
    c->s.stats = cs->stats;
    c->s.out_high_water = LIMIT_OUTPUT_HIGH_WATER;
    c->s.refusal_max = SIZE_MAX;
    c->s.authenticated = !settings.auth_required;
    c->s.wake_fd = cs->wake_fd;
    c->s.owner = cs;
    if (peerlen > sizeof(c->s.peer))
        peerlen = sizeof(c->s.peer);
    memcpy(&c->s.peer, peer, peerlen);
    c->s.peerlen = peerlen;
    atomic_store_explicit(&c->last_active, clock_now(), memory_order_relaxed);
    if (peer->sa_family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (l->tls && (c->ssl = tls_session_create(fd, l->tls_verify)) == NULL) {
        close(fd);
        free(c);
        return NULL;
    }
    if (ev_watch(cs->loop, fd, conn_events(c, EV_READ), c) < 0) {
        tls_session_destroy(&c->ssl);
        close(fd);
        free(c);
        return NULL;
    }
    conn_settle(c);
    pthread_mutex_lock(&cs->lock);
    c->next = cs->conns;
    if (cs->conns)
        cs->conns->prev = c;
    cs->conns = c;
    pthread_mutex_unlock(&cs->lock);
    /* a completed handshake validates the address for UDP; with a login
     * required, only the login does */
    conn_validate_peer(c);
    watch_log_conn(true, &c->s.peer, peer->sa_family == AF_UNIX, fd, NULL);
    trace_conn_new(fd, c->procs);
    return c;
}

void conn_destroy(struct conn *c)
{
    struct conn_set *cs = c->set;

    log_debug("<%d connection closed.", c->fd);   /* memcached's -vv line */
    pthread_mutex_lock(&cs->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        cs->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&cs->lock);
    if (c->on_watchers) {
        if (c->watch_prev)
            c->watch_prev->watch_next = c->watch_next;
        else
            cs->watchers = c->watch_next;
        if (c->watch_next)
            c->watch_next->watch_prev = c->watch_prev;
    }
    watch_remove(&c->s.watch);
    park_cancel(&c->s);
    watch_log_conn(false, &c->s.peer, c->s.peer.ss_family == AF_UNIX, c->fd,
                   c->close_reason ? c->close_reason : c->s.closing ? "normal" : "error");
    if (c->on_ready) {
        for (struct conn **pp = &cs->ready; *pp; pp = &(*pp)->ready_next)
            if (*pp == c) {
                *pp = c->ready_next;
                break;
            }
    }
    for (int i = 0; i < cs->nspans; i++)   /* its replies die with it */
        if (cs->spans[i].c == c)
            cs->spans[i].c = NULL;
    tls_session_destroy(&c->ssl);
    close(c->fd);
    auth_sasl_session_destroy(&c->s.sasl);
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
            STAT_ADD(c->set->stats, bytes_written, (uint64_t)n);
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
            STAT_ADD(c->set->stats, bytes_written, (uint64_t)n);
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
 * round lie one after another in the set's output buffer; cs->spans says
 * where each connection's part ends. Sending them back to back matters on
 * a busy server: a client that sleeps in epoll_wait is woken by the first
 * reply and finds the others ready, where interleaving sends with request
 * processing woke it (an inter-processor interrupt, ~8% of the server's
 * CPU in set-heavy runs, measured with perf) for nearly every one. */

/* Close c's part of the output buffer (what it added since the last span
 * ended). Adds at most one span: callers keep nspans below CONN_SPANS_MAX
 * between operations (span_end), so flush_spans may close cur's span. */
static void span_close(struct conn *c)
{
    struct conn_set *cs = c->set;
    size_t end = buf_len(&cs->out);
    size_t start = cs->nspans > 0 ? cs->spans[cs->nspans - 1].end : 0;

    if (end == start)
        return;
    if (cs->nspans > 0 && cs->spans[cs->nspans - 1].c == c) {
        cs->spans[cs->nspans - 1].end = end;   /* served twice in a row */
        return;
    }
    cs->spans[cs->nspans].c = c;
    cs->spans[cs->nspans].end = end;
    cs->nspans++;
}

/* Send one span; what the socket does not take waits in c->out. */
static void span_send(struct conn *c, struct conn *cur, char *p, size_t n)
{
    struct buf span = { .data = p, .rpos = 0, .wpos = n, .cap = n };
    int rc = buf_len(&c->out) == 0 ? conn_write(c, &span) : 1;

    if (rc == 1) {
        bool was_blocked = buf_len(&c->out) > 0;
        if (buf_append(&c->out, buf_rptr(&span), buf_len(&span)) < 0 ||
            (!was_blocked && ev_rewatch(c->set->loop, c->fd, conn_events(c, EV_WRITE), c) < 0))
            rc = -1;
        else if (c != cur)
            conn_set_state(c, CONN_STATE_MWRITE);
    }
    if (rc < 0 && !c->s.closing) {
        c->s.closing = true;
        conn_set_state(c, CONN_STATE_CLOSING);
        /* not freed here: an event of this round may still name it. The
         * shut socket reports EV_ERROR, and conn_read frees it then. */
        if (c != cur)
            shutdown(c->fd, SHUT_RDWR);
    }
}

/* Send the replies of every connection served this round. cur: the
 * connection being served, if any (its replies so far go too; a failed
 * write only marks it closing). Other connections whose write fails are
 * marked closing and shut down, and freed when their socket reports it. */
static void flush_spans(struct conn_set *cs, struct conn *cur)
{
    struct buf *out = &cs->out;
    size_t start = 0;

    if (cur != NULL)
        span_close(cur);
    for (int i = 0; i < cs->nspans; i++) {
        struct conn *c = cs->spans[i].c;
        size_t end = cs->spans[i].end;
        if (c != NULL)
            span_send(c, cur, buf_rptr(out) + start, end - start);
        start = end;
    }
    cs->nspans = 0;
    buf_consume(out, buf_len(out));
    if (out->cap > CONN_OUT_KEEP)
        buf_destroy(out);
}

void conn_flush_all(struct conn_set *cs)
{
    flush_spans(cs, NULL);
}

/* c's replies so far wait for the round's end, in a span of their own;
 * the round's replies go now if that filled the span table. */
static void span_end(struct conn *c)
{
    span_close(c);
    if (c->set->nspans == CONN_SPANS_MAX)
        flush_spans(c->set, NULL);
}

/* Send c's replies now (and those of connections served before it in this
 * round). Returns false if the socket could not take all of c's (the rest
 * is kept) or c is closing. */
static bool conn_flush(struct conn *c)
{
    flush_spans(c->set, c);
    return buf_len(&c->out) == 0 && !c->s.closing;
}

/* Done serving c for now: its replies go out at the end of the round (at
 * once if it closes). */
static void conn_defer(struct conn *c)
{
    struct conn_set *cs = c->set;

    if (c->s.closing || buf_len(&cs->out) >= LIMIT_OUTPUT_HIGH_WATER) {
        flush_spans(cs, c);
        return;
    }
    span_end(c);
}

static void add_ready(struct conn *c)
{
    if (c->on_ready)
        return;
    c->on_ready = true;
    c->ready_next = c->set->ready;
    c->set->ready = c;
}

void conn_park_wake(struct session *s)
{
    add_ready((struct conn *)(void *)((char *)s - offsetof(struct conn, s)));
}

/* The processor that c's first byte picks, once there is a byte. */
static const struct processor *conn_processor(struct conn *c, const char *data,
                                              size_t len)
{
    if (c->proc == NULL && len > 0) {
        c->proc = processor_pick(c->procs, (unsigned char)data[0]);
        trace_conn_protocol(c->fd, c->procs, c->proc);
    }
    return c->proc;
}

/* ---- read-ahead over the processors of the set that have one (see
 * processor.h; a processor with ahead has all four hooks) ---- */

static bool ahead_room(const struct conn_set *cs)
{
    for (int i = 0; i < cs->nahead; i++)
        if (!cs->ahead[i]->ahead_room())
            return false;
    return true;
}

static void ahead_run(const struct conn_set *cs)
{
    for (int i = 0; i < cs->nahead; i++)
        cs->ahead[i]->ahead_run();
}

static void ahead_clear(const struct conn_set *cs)
{
    for (int i = 0; i < cs->nahead; i++)
        cs->ahead[i]->ahead_clear();
}

/* memcached reads the whole value of a refused request (too large, bad
 * line) before it answers, and a client that is still sending may not
 * read an answer before it has sent everything (spymemcached's I/O thread
 * fails on one). So the reply of a step that leaves bytes to discard
 * waits in the session until they are discarded: held, not buffered
 * (SESSION_HELD_MAX; a longer one goes out at once). */
static void conn_hold_reply(struct conn *c, size_t mark)
{
    struct buf *out = c->s.out;
    size_t n = buf_len(out) - mark;

    if (!c->s.hold_reply)
        return;
    c->s.hold_reply = false;
    if (c->s.swallow == 0 || n == 0 || n > sizeof(c->s.held))
        return;
    memcpy(c->s.held, buf_rptr(out) + mark, n);
    c->s.nheld = n;
    out->wpos -= n;
}

static void conn_release_reply(struct conn *c)
{
    if (c->s.swallow == 0 && c->s.nheld > 0) {
        session_append(&c->s, c->s.held, c->s.nheld);
        c->s.nheld = 0;
    }
}

/* Execute complete requests in data[0..len). Returns bytes used; sets
 * *yielded when -R stopped it with requests left. */
static size_t conn_execute(struct conn *c, const char *data, size_t len,
                           bool *yielded)
{
    const struct processor *proc = conn_processor(c, data, len);
    size_t off = 0;
    int nreq = 0;
    bool ahead;

    watch_log_cfd = c->fd;
    if (proc == NULL) {   /* a set that claims nothing: nobody to serve */
        c->s.closing = true;
        return 0;
    }
    ahead = proc->ahead != NULL && !c->set->in_round;
    if (ahead) {   /* in a round, conn_round_run did it for all */
        proc->ahead(&c->s, data, len);
        proc->ahead_run();
    }
    while (off < len && !c->s.closing) {
        if (c->s.swallow > 0) {
            size_t k = len - off < c->s.swallow ? len - off : c->s.swallow;
            c->s.swallow -= k;
            off += k;
            conn_release_reply(c);
            continue;
        }
        if (buf_len(&c->out) > 0 || c->s.parked)
            break;   /* output blocked, or a value is read from flash */
        if (nreq == settings.reqs_per_event) {
            STAT_INCR(c->set->stats, conn_yields);
            *yielded = true;
            break;
        }
        size_t used = 0, out_before = buf_len(c->s.out);
        bool raw = proc->rawcmd != NULL && watch_wanted(WATCH_RAWCMDS);
        enum proc_step st = proc->step(&c->s, data + off, len - off, &used);
        if (raw && used > 0 && c->s.watch == NULL)   /* a `watch` is not logged */
            proc->rawcmd(c->fd, data + off, used);
        if (log_verbosity > 1 && proc->trace && used > 0)   /* -vv */
            proc->trace(c->fd, data + off, used, buf_rptr(c->s.out) + out_before,
                        buf_len(c->s.out) - out_before);
        off += used;
        conn_hold_reply(c, out_before);
        if (st == PROC_STEP_OUTPUT_FULL) {
            if (!conn_flush(c))
                break;   /* the client must read first; conn_drain resumes */
            nreq++;      /* a long reply (a dump) takes its turns with others */
            continue;
        }
        if (st == PROC_STEP_NEED_MORE || st == PROC_STEP_PARKED)
            break;   /* more bytes, or the value (park.c resumes it) */
        if (st == PROC_STEP_CLOSE) {
            c->s.closing = true;
            break;
        }
        nreq++;
        if (c->s.watch != NULL) {   /* what follows `watch` is dropped (memcached) */
            off = len;
            break;
        }
        if (buf_len(&c->set->out) >= LIMIT_OUTPUT_HIGH_WATER)
            conn_flush(c);
    }
    if (ahead)
        proc->ahead_clear();
    conn_validate_peer(c);   /* after a login, the address is validated */
    return off;
}

/* A connection with requests still to run (it yielded at -R) or one
 * waiting for a flash read (parked) reads nothing more: the input it
 * holds is what it has not run yet, so a client that sends faster than
 * its requests run cannot grow it without bound. Its socket stops
 * reporting input (conn_read_put_off) until they have run
 * (conn_read_resume, at the end of conn_serve). */
static bool conn_read_put_off(struct conn *c)
{
    if (!c->on_ready && !c->s.parked)
        return false;
    if (!c->read_later) {
        c->read_later = true;
        if (ev_rewatch(c->set->loop, c->fd, conn_events(c, 0), c) < 0)
            c->s.closing = true;   /* its next turn closes it */
    }
    return true;
}

/* Returns -1 if the socket could not be watched again. */
static int conn_read_resume(struct conn *c)
{
    if (!c->read_later || c->on_ready || c->s.parked || buf_len(&c->out) > 0)
        return 0;   /* with output waiting, conn_drain re-arms reading */
    c->read_later = false;
    return ev_rewatch(c->set->loop, c->fd, conn_events(c, EV_READ), c);
}

/* A `watch` turned c into a watcher: the set feeds it at each wake-up
 * (conn_set_feed_watchers walks this list, not every connection). */
static void conn_add_watcher(struct conn *c)
{
    struct conn_set *cs = c->set;

    c->on_watchers = true;
    c->watch_next = cs->watchers;
    if (cs->watchers)
        cs->watchers->watch_prev = c;
    cs->watchers = c;
}

/* Execute what is in data (the round buffer or c->in), keep the rest,
 * send the replies. Frees c if it closes. */
static void conn_serve(struct conn *c, const char *data, size_t len, bool scratch)
{
    bool yielded = false;
    size_t used;

    conn_set_state(c, CONN_STATE_EXECUTING);
    used = conn_execute(c, data, len, &yielded);
    if (c->s.watch != NULL && !c->on_watchers)
        conn_add_watcher(c);
    if (!c->s.closing) {
        if (scratch) {
            if (used < len && buf_append(&c->in, data + used, len - used) < 0)
                c->s.closing = true;
        } else {
            buf_consume(&c->in, used);
        }
    }
    if (buf_len(&c->in) == 0)
        buf_destroy(&c->in);   /* idle connections hold no buffers */
    conn_defer(c);
    if (c->s.closing) {
        conn_destroy(c);
        return;
    }
    conn_settle(c);
    if (yielded)
        add_ready(c);
    if (conn_read_resume(c) < 0)
        conn_destroy(c);
}

void conn_resume(struct conn *c)
{
    c->on_ready = false;
    if (buf_len(&c->out) == 0 && buf_len(&c->in) > 0)
        conn_serve(c, buf_rptr(&c->in), buf_len(&c->in), false);
    else if (conn_read_resume(c) < 0)   /* nothing left to run */
        conn_destroy(c);
}

/* One TLS record at most (16 KiB) per read: it always fits the round
 * buffer, so nothing decrypted waits inside OpenSSL unseen by epoll. */
_Static_assert(LIMIT_READ_CHUNK >= 16384, "a TLS record fits a read");

static ssize_t conn_read_tls(struct conn *c, char *buf, size_t len)
{
    long n = tls_read(c->ssl, buf, len);
    bool want_write = n == -TLS_IO_WANT_WRITE;

    if (want_write != c->tls_want_write) {
        c->tls_want_write = want_write;
        if (ev_rewatch(c->set->loop, c->fd, want_write ? EV_WRITE : EV_READ, c) < 0)
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
 * Reads land in the set's round buffer (cs->rbuf); only what is left
 * incomplete is kept in c->in, which grows by the bytes that arrived and
 * never by the size a request announces. A slow client (slowloris, or a
 * value trickled in byte by byte) holds what it sent, not a 64 KiB read
 * buffer or a whole -I value reserved in advance.
 *
 * The plain connections that are readable in a round are read first, one
 * after another into the round buffer; then the requests of all of them
 * are parsed ahead together and their lookups prefetched (the processors'
 * read-ahead), then they run, each on its own bytes (conn_round_run). With
 * one request per connection (pipeline 1) that is what lets the cache
 * misses of different connections' lookups overlap. TLS connections run
 * as they are read. */

static void conn_round_add(struct conn *c, char *data, size_t len)
{
    struct conn_set *cs = c->set;
    struct round_read *r = &cs->round[cs->nround++];

    r->c = c;
    r->data = data;   /* NULL: the bytes are c->in */
    r->len = len;
}

void conn_round_run(struct conn_set *cs)
{
    int i;

    if (cs->nround == 0) {
        cs->rused = 0;
        return;
    }
    cs->in_round = true;
    /* in groups of connections whose requests the read-ahead can hold */
    for (i = 0; i < cs->nround;) {
        int first = i;
        do {
            struct round_read *r = &cs->round[i++];
            const char *data = r->data ? r->data : buf_rptr(&r->c->in);
            size_t len = r->data ? r->len : buf_len(&r->c->in);
            const struct processor *proc = conn_processor(r->c, data, len);
            if (proc != NULL && proc->ahead != NULL)
                proc->ahead(&r->c->s, data, len);
        } while (i < cs->nround && ahead_room(cs));
        ahead_run(cs);
        for (int j = first; j < i; j++) {
            struct round_read *r = &cs->round[j];
            if (r->data != NULL)
                conn_serve(r->c, r->data, r->len, true);
            else
                conn_serve(r->c, buf_rptr(&r->c->in), buf_len(&r->c->in), false);
        }
        ahead_clear(cs);
    }
    cs->in_round = false;
    cs->nround = 0;
    cs->rused = 0;
}

/* Read what c has sent into the round. peer_shut: epoll saw the peer shut
 * its side (EV_PEER_SHUT). */
static void conn_read(struct conn *c, bool peer_shut)
{
    struct conn_set *cs = c->set;
    char *dst;
    ssize_t n;

    if (cs->rused + LIMIT_READ_CHUNK > CONN_ROUND_BYTES || cs->nround == CONN_ROUND_MAX)
        conn_round_run(cs);
    dst = cs->rbuf + cs->rused;
    /* recv, not read: it goes to the socket without the VFS layers
     * (30-50 ns less per call on this machine's loopback, 12-05) */
    n = c->ssl ? conn_read_tls(c, dst, LIMIT_READ_CHUNK) : recv(c->fd, dst, LIMIT_READ_CHUNK, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        c->close_reason = n == 0 ? "normal" : "error";   /* as memcached tells them */
        conn_destroy(c);
        return;
    }
    STAT_ADD(cs->stats, bytes_read, (uint64_t)n);
    /* edge-triggered: more may wait (see conn_events) */
    if (conn_edge_triggered(c) && (peer_shut || n == LIMIT_READ_CHUNK) &&
        ev_rewatch(cs->loop, c->fd, conn_events(c, EV_READ), c) < 0)
        c->s.closing = true;
    if (c->s.watch != NULL)
        return;   /* a watcher's input is not read as requests (memcached) */
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
        cs->rused += (size_t)n;
        conn_round_add(c, dst, (size_t)n);
    } else {
        conn_round_add(c, NULL, 0);
    }
}

/* A watcher's next lines, at most a high water's worth, into the round's
 * output (sent at the round's end); none while the socket has not taken
 * the last ones, so a watcher that does not read holds at most that much
 * here and loses lines in its ring instead. */
void conn_feed(struct conn *c)
{
    if (buf_len(&c->out) > 0 || c->s.closing)
        return;
    if (watch_drain(c->s.watch, &c->set->out, LIMIT_OUTPUT_HIGH_WATER) > 0)
        span_end(c);
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
    if (ev_rewatch(c->set->loop, c->fd, conn_events(c, EV_READ), c) < 0) {
        conn_destroy(c);
        return;
    }
    c->read_later = false;
    conn_settle(c);
    if (c->s.watch != NULL) {
        conn_feed(c);   /* the socket took it all: the next lines */
        return;
    }
    /* replies drained: continue with requests that waited (a stopped
     * multiget resumes where its session says) */
    if (buf_len(&c->in) > 0)
        conn_serve(c, buf_rptr(&c->in), buf_len(&c->in), false);
}

/* Drive the handshake with the events the socket gives; then serve what
 * the client sent together with its last handshake message. */
static void conn_handshake(struct conn *c)
{
    enum tls_io r = tls_handshake(c->ssl);

    if (r == TLS_IO_ERROR) {
        STAT_INCR(c->set->stats, ssl_handshake_errors);
        conn_destroy(c);
        return;
    }
    atomic_store_explicit(&c->last_active, clock_now(), memory_order_relaxed);
    if (ev_rewatch(c->set->loop, c->fd, r == TLS_IO_WANT_WRITE ? EV_WRITE : EV_READ,
                   c) < 0) {
        conn_destroy(c);
        return;
    }
    if (r != TLS_IO_DONE)
        return;
    c->tls_ready = true;
    conn_settle(c);
    conn_validate_peer(c);
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
        if (events & (EV_WRITE | EV_ERROR))
            conn_drain(c);
        return;
    }
    if (!(events & (EV_READ | EV_ERROR | EV_PEER_SHUT)))
        return;
    if (!(events & EV_ERROR) && !c->s.closing && conn_read_put_off(c))
        return;
    conn_read(c, (events & EV_PEER_SHUT) != 0);
}
