/*
 * worker: thread start/stop, accepting, and the per-thread event loop.
 * Connection admission (-c) is decided here at accept time, before a byte
 * is read, as memcached does with maxconns_fast.
 */
#include "server/worker.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "policy/limits.h"
#include "policy/acl.h"
#include "server/settings.h"
#include "server/udp.h"

#define ACCEPT_BATCH 64   /* connections accepted per listener wake-up */

static const char too_many_conns[] = "ERROR Too many open connections\r\n";

static struct worker *workers;
static int nworkers;
static _Atomic bool stopping;
static _Atomic bool graceful_stop;

/* A graceful stop (SIGTERM, SIGUSR1, `shutdown graceful`) gives clients
 * this long to receive the replies to requests they had already sent. */
#define SHUTDOWN_DRAIN_MS   5000
#define SHUTDOWN_POLL_MS    50

static void accept_from(struct worker *w, struct listener *l)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_info("accept on %s: %s", l->name, strerror(errno));
            return;
        }
        /* the allow list: closed before a byte is read or written */
        if (!acl_allows(settings.acl, (struct sockaddr *)&ss)) {
            atomic_fetch_add(&global_stats.acl_rejected_connections, 1);
            close(fd);
            continue;
        }
        uint64_t cur = atomic_fetch_add(&global_stats.curr_connections, 1);
        if (cur >= (uint64_t)settings.maxconns) {
            atomic_fetch_sub(&global_stats.curr_connections, 1);
            atomic_fetch_add(&global_stats.rejected_connections, 1);
            (void)!send(fd, too_many_conns, sizeof(too_many_conns) - 1,
                        MSG_NOSIGNAL | MSG_DONTWAIT);
            close(fd);
            continue;
        }
        atomic_fetch_add(&global_stats.total_connections, 1);
        if (sl > sizeof(ss))
            sl = sizeof(ss);
        struct conn *c = conn_create(w, fd, (struct sockaddr *)&ss, sl, l->name,
                                     l->tls);
        if (c == NULL) {
            atomic_fetch_sub(&global_stats.curr_connections, 1);
        } else {
            atomic_fetch_add(&global_stats.connection_structures, 1);
            /* a completed handshake validates the address for UDP; with
             * authentication on, only the login does (conn.c) */
            if (!settings.auth_required && !l->tls)
                udp_note_tcp_peer(c);
        }
    }
}

static void sweep_idle(struct worker *w)
{
    rel_time_t now = clock_now();
    struct conn *c, *next;

    if (now == w->last_sweep)
        return;
    w->last_sweep = now;
    if (settings.idle_timeout == 0)
        return;
    for (c = w->conns; c; c = next) {
        next = c->next;
        rel_time_t last = atomic_load_explicit(&c->last_active, memory_order_relaxed);
        if (now - last > settings.idle_timeout && buf_len(&c->out) == 0) {
            log_info("closing idle connection fd %d", c->fd);
            conn_destroy(c);
        }
    }
}

static void run_ready(struct worker *w)
{
    struct conn *list = w->ready;

    w->ready = NULL;
    while (list) {
        struct conn *c = list;
        list = c->ready_next;
        conn_run_pending(c);
    }
}

static bool output_pending(const struct worker *w)
{
    if (w->ready)
        return true;
    for (const struct conn *c = w->conns; c; c = c->next)
        if (buf_len(&c->out) > 0)
            return true;
    return false;
}

/* Graceful stop, per worker: accept nothing more, run the requests every
 * client had already sent (what is in its socket now), then send the
 * replies for up to SHUTDOWN_DRAIN_MS. New requests are not read. */
static void worker_drain(struct worker *w)
{
    struct epoll_event evs[EV_BATCH];
    struct conn *c, *next;
    struct timespec t0, now;

    clock_gettime(CLOCK_MONOTONIC, &t0);

    for (int i = 0; w->lsrc[i].l; i++)
        ev_unwatch(&w->loop, w->lsrc[i].l->fd);
    for (c = w->conns; c; c = next) {
        next = c->next;
        if (buf_len(&c->out) == 0)
            conn_on_event(c, EPOLLIN);   /* may free c */
    }
    conn_round_run(w);
    run_ready(w);
    conn_flush_all(w, NULL);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (!output_pending(w) || ms >= SHUTDOWN_DRAIN_MS)
            break;
        int n = ev_wait(&w->loop, evs, EV_BATCH, w->ready ? 0 : SHUTDOWN_POLL_MS);
        for (int i = 0; i < n; i++) {
            enum ev_kind *kind = evs[i].data.ptr;
            if (*kind != EV_KIND_CONN)
                continue;
            c = (struct conn *)(void *)kind;
            if (buf_len(&c->out) > 0)     /* writable again: drain, then */
                conn_on_event(c, evs[i].events);   /* run what waited */
        }
        conn_round_run(w);
        run_ready(w);
        conn_flush_all(w, NULL);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[EV_BATCH];

    while (!atomic_load(&stopping)) {
        int n = ev_wait(&w->loop, evs, EV_BATCH, w->ready ? 0 : 1000);
        for (int i = 0; i < n; i++) {
            enum ev_kind *kind = evs[i].data.ptr;
            switch (*kind) {
            case EV_KIND_LISTENER:
                accept_from(w, ((struct listen_src *)(void *)kind)->l);
                break;
            case EV_KIND_UDP:
                udp_on_readable(w, ((struct listen_src *)(void *)kind)->l);
                break;
            case EV_KIND_CONN:
                conn_on_event((struct conn *)(void *)kind, evs[i].events);
                break;
            case EV_KIND_WAKE:
                break;
            }
        }
        conn_round_run(w);
        run_ready(w);
        conn_flush_all(w, NULL);
        sweep_idle(w);
    }
    if (atomic_load(&graceful_stop))
        worker_drain(w);
    return NULL;
}

static int worker_init(struct worker *w, int id, struct listener *ls, int nls)
{
    w->id = id;
    w->wake_fd = -1;
    w->wake_kind = EV_KIND_WAKE;
    pthread_mutex_init(&w->conns_lock, NULL);
    stats_register_thread(&w->stats);
    w->rbuf = malloc(WORKER_ROUND_BYTES);
    w->lsrc = calloc((size_t)nls + 1, sizeof(*w->lsrc));
    if (w->rbuf == NULL || w->lsrc == NULL || ev_loop_init(&w->loop) < 0)
        return -1;
    if (settings.udp_port != 0 && udp_worker_init(w) < 0)
        return -1;
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0 || ev_watch(&w->loop, w->wake_fd, EPOLLIN, &w->wake_kind) < 0)
        return -1;
    for (int i = 0; i < nls; i++) {
        w->lsrc[i].kind = ls[i].udp ? EV_KIND_UDP : EV_KIND_LISTENER;
        w->lsrc[i].l = &ls[i];
        if (ev_watch(&w->loop, ls[i].fd, EPOLLIN | EPOLLEXCLUSIVE, &w->lsrc[i]) < 0)
            return -1;
    }
    return 0;
}

int workers_start(int n, struct listener *ls, int nls)
{
    workers = calloc((size_t)n, sizeof(*workers));
    if (workers == NULL)
        return -1;
    nworkers = n;
    for (int i = 0; i < n; i++)
        if (worker_init(&workers[i], i, ls, nls) < 0)
            return -1;
    for (int i = 0; i < n; i++)
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0)
            return -1;
    return 0;
}

void workers_stop(bool graceful)
{
    uint64_t one = 1;

    atomic_store(&graceful_stop, graceful);
    atomic_store(&stopping, true);
    for (int i = 0; i < nworkers; i++)
        (void)!write(workers[i].wake_fd, &one, sizeof(one));
    for (int i = 0; i < nworkers; i++) {
        struct worker *w = &workers[i];
        if (w->thread)
            pthread_join(w->thread, NULL);
        while (w->conns)
            conn_destroy(w->conns);
        ev_loop_close(&w->loop);
        if (w->wake_fd >= 0)
            close(w->wake_fd);
        buf_destroy(&w->out);
        udp_worker_close(w);
        free(w->rbuf);
        free(w->lsrc);
        pthread_mutex_destroy(&w->conns_lock);
    }
    free(workers);
    workers = NULL;
    nworkers = 0;
}

void workers_each_conn(void (*fn)(const struct conn *c, void *ctx), void *ctx)
{
    for (int i = 0; i < nworkers; i++) {
        struct worker *w = &workers[i];
        pthread_mutex_lock(&w->conns_lock);
        for (struct conn *c = w->conns; c; c = c->next)
            fn(c, ctx);
        pthread_mutex_unlock(&w->conns_lock);
    }
}

void server_request_shutdown(bool graceful)
{
    kill(getpid(), graceful ? SIGUSR1 : SIGINT);
}
