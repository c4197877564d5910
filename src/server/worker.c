/*
 * worker: thread start/stop, accepting, and the per-thread event loop.
 * Connection admission (-c) is decided here at accept time, before a byte
 * is read, as memcached does with maxconns_fast.
 */
#include "server/worker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"
#include "policy/acl.h"
#include "server/park.h"
#include "server/session.h"
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

static void accept_from(struct worker *w, const struct listen_src *src)
{
    struct listener *l = src->l;

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
        if (conn_create(&w->conns, fd, (struct sockaddr *)&ss, sl, l, src->procs) == NULL)
            atomic_fetch_sub(&global_stats.curr_connections, 1);
        else
            atomic_fetch_add(&global_stats.connection_structures, 1);
    }
}

static void sweep_idle(struct worker *w)
{
    rel_time_t now = clock_now();

    if (now == w->last_sweep)
        return;
    w->last_sweep = now;
    conn_set_sweep_idle(&w->conns, now, settings.idle_timeout);
}

/* The end of every turn of the loop: run what was read, then what -R
 * left, then send the replies. */
static void worker_round_end(struct worker *w)
{
    conn_round_run(&w->conns);
    conn_set_run_ready(&w->conns);
    conn_flush_all(&w->conns);
}

/* Graceful stop, per worker: accept nothing more, run the requests every
 * client had already sent (what is in its socket now), then send the
 * replies for up to SHUTDOWN_DRAIN_MS. New requests are not read. */
static void worker_drain(struct worker *w)
{
    struct ev_event evs[EV_BATCH];
    uint64_t t0 = clock_mono_ms();

    for (int i = 0; w->lsrc[i].l; i++)
        ev_unwatch(&w->loop, w->lsrc[i].l->fd);
    conn_set_read_all(&w->conns);
    worker_round_end(w);
    while (conn_set_pending(&w->conns) && clock_mono_ms() - t0 < SHUTDOWN_DRAIN_MS) {
        int n = ev_wait(&w->loop, evs, EV_BATCH, w->conns.ready ? 0 : SHUTDOWN_POLL_MS);
        for (int i = 0; i < n; i++) {
            enum ev_kind *kind = evs[i].ptr;
            if (*kind == EV_KIND_WAKE) {   /* flash reads back: queued, */
                uint64_t v;                 /* run by worker_round_end */
                (void)!read(w->wake_fd, &v, sizeof(v));
                park_resume(&w->conns);
            }
            if (*kind != EV_KIND_CONN)
                continue;
            struct conn *c = (struct conn *)(void *)kind;
            if (conn_output_blocked(c))   /* writable again: drain, then */
                conn_on_event(c, evs[i].events);   /* run what waited */
        }
        worker_round_end(w);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct ev_event evs[EV_BATCH];

    while (!atomic_load(&stopping)) {
        int n = ev_wait(&w->loop, evs, EV_BATCH, w->conns.ready ? 0 : 1000);
        for (int i = 0; i < n; i++) {
            enum ev_kind *kind = evs[i].ptr;
            switch (*kind) {
            case EV_KIND_LISTENER:
                accept_from(w, (struct listen_src *)(void *)kind);
                break;
            case EV_KIND_UDP:
                udp_on_readable(w->udp, ((struct listen_src *)(void *)kind)->l);
                break;
            case EV_KIND_CONN:
                conn_on_event((struct conn *)(void *)kind, evs[i].events);
                break;
            case EV_KIND_WAKE: {
                uint64_t v;
                (void)!read(w->wake_fd, &v, sizeof(v));
                conn_set_feed_watchers(&w->conns);
                /* flash reads back: the woken connections are only queued
                 * here and run by worker_round_end after the batch, since
                 * running one may free it while a later event of this
                 * batch still names it */
                park_resume(&w->conns);
                break;
            }
            }
        }
        worker_round_end(w);
        sweep_idle(w);
    }
    if (atomic_load(&graceful_stop))
        worker_drain(w);
    return NULL;
}

/* Datagrams are served with the set of the UDP listeners (main.c gives
 * them all -B's), else procs. */
static const struct processor *const *udp_procs(const struct listener *ls, int nls,
                                                const struct processor *const *procs,
                                                const struct processor *const *const *ls_procs)
{
    for (int i = 0; ls_procs && i < nls; i++)
        if (ls[i].udp && ls_procs[i])
            return ls_procs[i];
    return procs;
}

static int worker_init(struct worker *w, int id, struct listener *ls, int nls,
                       const struct processor *const *procs,
                       const struct processor *const *const *ls_procs)
{
    w->id = id;
    w->wake_fd = -1;
    w->wake_kind = EV_KIND_WAKE;
    stats_register_thread(&w->stats);
    w->lsrc = calloc((size_t)nls + 1, sizeof(*w->lsrc));
    if (w->lsrc == NULL || ev_loop_init(&w->loop) < 0 ||
        conn_set_init(&w->conns, &w->loop, procs, &w->stats) < 0)
        return -1;
    if (settings.udp_port != 0 && (w->udp = udp_worker_create(udp_procs(ls, nls, procs,
                                                                       ls_procs),
                                                             &w->stats)) == NULL)
        return -1;
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->conns.wake_fd = w->wake_fd;
    if (w->wake_fd < 0 || ev_watch(&w->loop, w->wake_fd, EV_READ, &w->wake_kind) < 0)
        return -1;
    for (int i = 0; i < nls; i++) {
        w->lsrc[i].kind = ls[i].udp ? EV_KIND_UDP : EV_KIND_LISTENER;
        w->lsrc[i].l = &ls[i];
        w->lsrc[i].procs = ls_procs ? ls_procs[i] : NULL;
        if (ev_watch(&w->loop, ls[i].fd, EV_READ | EV_EXCLUSIVE, &w->lsrc[i]) < 0)
            return -1;
    }
    return 0;
}

/* The sockets every worker watches, for `stats conns`. */
static const struct listener *listeners;
static int nlisteners;

/* `stats conns`: the listening and UDP sockets (in memcached's states:
 * a UDP socket always waits to read), then every worker's connections
 * (session.h). */
static void workers_each_conn(session_info_fn fn, void *ctx)
{
    for (int i = 0; i < nlisteners; i++) {
        const struct listener *l = &listeners[i];
        struct session_info info = {
            .fd = l->fd, .listen_name = l->name, .listen_family = l->family,
            .udp = l->udp, .state = l->udp ? "conn_read" : "conn_listening",
            .last_active = CLOCK_START,
        };
        fn(&info, ctx);
    }
    for (int i = 0; i < nworkers; i++)
        conn_set_each(&workers[i].conns, fn, ctx);
}

int workers_start(int n, struct listener *ls, int nls,
                  const struct processor *const *procs,
                  const struct processor *const *const *ls_procs)
{
    workers = calloc((size_t)n, sizeof(*workers));
    if (workers == NULL)
        return -1;
    nworkers = n;
    for (int i = 0; i < n; i++)
        if (worker_init(&workers[i], i, ls, nls, procs, ls_procs) < 0)
            return -1;
    listeners = ls;
    nlisteners = nls;
    sessions_set_walker(workers_each_conn);
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
        conn_set_close(&w->conns);
        ev_loop_close(&w->loop);
        if (w->wake_fd >= 0)
            close(w->wake_fd);
        udp_worker_destroy(&w->udp);
        free(w->lsrc);
    }
    sessions_set_walker(NULL);
    listeners = NULL;
    nlisteners = 0;
    free(workers);
    workers = NULL;
    nworkers = 0;
}
