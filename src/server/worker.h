/*
 * worker: the threads (-t) that own connections. Every worker watches all
 * listeners (EV_EXCLUSIVE, so one wakes per new connection) and serves the
 * connections it accepted, start to end, with no locks on that path. It
 * knows listeners, connections and datagrams, never a protocol: main.c
 * hands it the set of processors.
 */
#ifndef HC_SERVER_WORKER_H
#define HC_SERVER_WORKER_H

#include <pthread.h>
#include <stdbool.h>

#include "core/clock.h"
#include "event/loop.h"
#include "net/listen.h"
#include "server/conn.h"
#include "server/conn_set.h"
#include "server/processor.h"
#include "server/stats.h"

struct udp_worker;

struct listen_src {
    enum ev_kind     kind;        /* EV_KIND_LISTENER, EV_KIND_UDP */
    struct listener *l;
    const struct processor *const *procs; /* its connections' set */
};

struct worker {
    int               id;
    pthread_t         thread;
    struct ev_loop    loop;
    int               wake_fd;    /* eventfd to stop the loop */
    enum ev_kind      wake_kind;  /* EV_KIND_WAKE, event data for wake_fd */
    struct conn_set   conns;
    struct thread_stats stats;
    rel_time_t        last_sweep;
    struct listen_src *lsrc;
    struct udp_worker *udp;       /* datagrams (-U), or NULL */
};

/* Start n workers watching the listeners, serving with procs (a
 * NULL-terminated set, see processor.h): every processor the server
 * speaks. ls_procs[i], when not NULL, is listener i's own subset (memcached's
 * -l proto[...]); datagrams use procs. Returns 0 or -1. */
int workers_start(int n, struct listener *ls, int nls,
                  const struct processor *const *procs,
                  const struct processor *const *const *ls_procs);
/* Stop all workers, close their connections, free everything. graceful:
 * first stop accepting, run the requests clients had already sent and
 * send their replies (bounded in time; see worker.c). */
void workers_stop(bool graceful);

#endif
