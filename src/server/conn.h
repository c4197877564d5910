/*
 * conn: one client's TCP connection: its socket, its TLS session, its
 * buffers and its state. It reads, hands the bytes to the processor its
 * first byte picked (server/processor.h) and writes what the processor
 * appended; it knows no protocol. Input is read into the thread's round
 * buffer and only what is left incomplete is copied into the connection,
 * so an idle connection holds no buffers. Replies the socket cannot take
 * yet are kept in the connection, and no further requests of that client
 * run until they drain. The connections of a thread together are a
 * struct conn_set (below; its functions: server/conn_set.h).
 */
#ifndef HC_SERVER_CONN_H
#define HC_SERVER_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "core/clock.h"
#include "event/loop.h"
#include "protocol/limits.h"
#include "server/processor.h"
#include "server/session.h"

struct ssl_st;
struct listener;

/* What an event's pointer (event/loop.h) points to: every object registered
 * with a worker's loop starts with one of these. */
enum ev_kind { EV_KIND_LISTENER, EV_KIND_CONN, EV_KIND_WAKE, EV_KIND_UDP };

/* A connection's state, in memcached's names (`stats conns`). */
#define CONN_STATES(X)                                                     \
    X(WAITING,   "conn_waiting")   /* idle: waiting for a request */        \
    X(READ,      "conn_read")      /* holds part of a request, or TLS       \
                                      handshake: waiting for more */        \
    X(EXECUTING, "conn_parse_cmd") /* its requests are running */           \
    X(SWALLOW,   "conn_swallow")   /* discarding a refused value */         \
    X(MWRITE,    "conn_mwrite")    /* replies wait for the socket */        \
    X(CLOSING,   "conn_closing")

enum conn_state {
#define X(name, str) CONN_STATE_##name,
    CONN_STATES(X)
#undef X
};
const char *conn_state_name(enum conn_state st);

struct conn_set;

struct conn {
    enum ev_kind     kind;        /* first: event dispatch */
    int              fd;
    struct conn_set *set;         /* the thread's connections */
    struct session   s;           /* what its processor sees */
    const struct processor *const *procs; /* its listener's set */
    const struct processor *proc; /* picked from procs by the first byte */
    struct buf       in;          /* unexecuted input carried over */
    struct buf       out;         /* replies waiting for the socket */
    _Atomic rel_time_t last_active;
    _Atomic unsigned char state;  /* enum conn_state; read by `stats conns` */
    rel_time_t       udp_marked_at; /* last time it validated its address */
    bool             on_ready;    /* queued to run leftover requests */
    bool             read_later;  /* its socket's input put off until the
                                     requests it holds have run */
    bool             on_watchers; /* on the set's list of watchers */
    struct conn     *prev, *next; /* the set's list of connections */
    struct conn     *watch_prev, *watch_next; /* the set's watchers, once
                                     s.watch is set (it stays until c goes) */
    struct conn     *ready_next;
    const char      *listen_name; /* the listener it came through */
    /* TLS (-Z listeners): the session, NULL on plain connections. Until
     * tls_ready, events drive the handshake; tls_want_write: SSL_read
     * needs the socket writable (the interest is EV_WRITE meanwhile). */
    struct ssl_st   *ssl;
    bool             tls_ready;
    bool             tls_want_write;
    const char      *close_reason; /* for `watch connevents`; NULL: error */
};

/* Connections served in one round of the event loop whose replies wait in
 * the set's output buffer: one span per connection (conn.c). */
#define CONN_SPANS_MAX 256
struct out_span {
    struct conn      *c;          /* NULL once c is freed */
    size_t            end;        /* its replies end here in out */
};

/* A round's reads (conn.c): up to CONN_ROUND_MAX connections and
 * CONN_ROUND_BYTES of bytes read, whichever fills first. */
#define CONN_ROUND_MAX   EV_BATCH
#define CONN_ROUND_BYTES (4 * LIMIT_READ_CHUNK)
struct round_read {
    struct conn      *c;
    char             *data;       /* in rbuf; NULL: the bytes are c->in */
    size_t            len;
};

/* The connections one thread serves, and what they share: one output
 * buffer, one round buffer, the processors. Only that thread touches it,
 * but for `lock`, which guards the list for `stats conns`. Defined here
 * because a connection reads into it and replies through it; the set's
 * own functions are in server/conn_set.h. */
#define CONN_AHEAD_MAX 4   /* processors with a read-ahead, at most */
struct conn_set {
    struct ev_loop   *loop;
    const struct processor *const *procs;
    const struct processor *ahead[CONN_AHEAD_MAX]; /* those of procs with
                                                      a read-ahead */
    int               nahead;
    struct thread_stats *stats;
    char             *rbuf;       /* CONN_ROUND_BYTES: this round's reads */
    size_t            rused;
    struct round_read round[CONN_ROUND_MAX];
    int               nround;
    bool              in_round;   /* conn_round_run is running them */
    struct buf        out;        /* replies not yet sent, see spans */
    struct out_span   spans[CONN_SPANS_MAX];
    int               nspans;
    pthread_mutex_t   lock;
    struct conn      *conns;
    struct conn      *ready;      /* connections with leftover requests */
    struct conn      *watchers;   /* those of conns that are `watch`ing */
    int               wake_fd;    /* the worker's eventfd (watchers) */
};

/* Run the requests read in this round (see conn.c): after the events. */
void conn_round_run(struct conn_set *cs);
/* Send the replies of every connection served this round. */
void conn_flush_all(struct conn_set *cs);

/* Take ownership of a nonblocking fd accepted on l (l->tls: start a
 * server handshake first); its first byte picks from procs, a subset of
 * the set's (NULL: all of them). NULL on failure (fd is closed then). */
struct conn *conn_create(struct conn_set *cs, int fd, const struct sockaddr *peer,
                         socklen_t peerlen, const struct listener *l,
                         const struct processor *const *procs);
/* Close the socket and free everything. */
void conn_destroy(struct conn *c);
/* Readiness (EV_* bits) on the connection. */
void conn_on_event(struct conn *c, unsigned events);
/* Are c's replies waiting for the socket? */
static inline bool conn_output_blocked(const struct conn *c)
{
    return buf_len(&c->out) > 0;
}

/* For the set (conn_set.c), between events: */
/* Run the requests c left for later (it yielded at -R, or its flash
 * reads are back), or resume reading if none are left. May free c. */
void conn_resume(struct conn *c);
/* A watcher's next lines, if its socket took the last ones. */
void conn_feed(struct conn *c);
/* park.c's waker: a session whose flash reads are back runs again at
 * the worker's next conn_set_run_ready. */
void conn_park_wake(struct session *s);

#endif
