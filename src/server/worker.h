/*
 * worker: the threads (-t) that own connections. Every worker watches all
 * listeners (EPOLLEXCLUSIVE, so one wakes per new connection) and serves the
 * connections it accepted, start to end, with no locks on that path.
 */
#ifndef HC_SERVER_WORKER_H
#define HC_SERVER_WORKER_H

#include <pthread.h>
#include <stdbool.h>

#include "core/buf.h"
#include "core/clock.h"
#include "event/loop.h"
#include "net/listen.h"
#include "policy/limits.h"
#include "server/conn.h"
#include "server/stats.h"

struct listen_src {
    enum ev_kind     kind;        /* EV_KIND_LISTENER, EV_KIND_UDP */
    struct listener *l;
};

/* Connections served in one round of the event loop whose replies wait in
 * the worker's output buffer: one span per connection (conn.c). */
#define WORKER_SPANS_MAX 256
struct out_span {
    struct conn      *c;          /* NULL once c is freed */
    size_t            end;        /* its replies end here in w->out */
};

/* A round's reads (conn.c): up to WORKER_ROUND_MAX connections and
 * WORKER_ROUND_BYTES of bytes read, whichever fills first. */
#define WORKER_ROUND_MAX   EV_BATCH
#define WORKER_ROUND_BYTES (4 * LIMIT_READ_CHUNK)
struct round_read {
    struct conn      *c;
    char             *data;       /* in rbuf; NULL: the bytes are c->in */
    size_t            len;
};

struct worker {
    int               id;
    pthread_t         thread;
    struct ev_loop    loop;
    int               wake_fd;    /* eventfd to stop the loop */
    enum ev_kind      wake_kind;  /* EV_KIND_WAKE, epoll data for wake_fd */
    char             *rbuf;       /* WORKER_ROUND_BYTES: this round's reads */
    size_t            rused;
    struct round_read round[WORKER_ROUND_MAX];
    int               nround;
    bool              in_round;   /* conn_round_run is running them */
    struct buf        out;        /* replies not yet sent, see spans */
    struct out_span   spans[WORKER_SPANS_MAX];
    int               nspans;
    struct thread_stats stats;
    pthread_mutex_t   conns_lock; /* guards the list for `stats conns` */
    struct conn      *conns;
    struct conn      *ready;      /* connections with leftover requests */
    rel_time_t        last_sweep;
    struct listen_src *lsrc;
    struct conn      *udp_conn;   /* pseudo connection for datagrams */
    uint8_t          *udp_rbuf;   /* LIMIT_UDP_DATAGRAM_IN scratch */
};

/* Start n workers watching the listeners. Returns 0 or -1. */
int workers_start(int n, struct listener *ls, int nls);
/* Stop all workers, close their connections, free everything. graceful:
 * first stop accepting, run the requests clients had already sent and
 * send their replies (bounded in time; see worker.c). */
void workers_stop(bool graceful);
/* Call fn for every open connection (for `stats conns`), each worker's list
 * locked while it is walked. */
void workers_each_conn(void (*fn)(const struct conn *c, void *ctx), void *ctx);

/* Ask the main thread to shut the server down (the `shutdown` command). */
void server_request_shutdown(bool graceful);

#endif
