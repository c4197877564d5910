/*
 * conn_set: the connections one worker thread serves (see conn_set.h):
 * setting the set up and closing it, and the walks over its connections
 * that the worker makes between events (idle sweep, watchers, requests
 * left for later, graceful stop, `stats conns`).
 */
#include "server/conn_set.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "server/park.h"
#include "server/stats.h"

int conn_set_init(struct conn_set *cs, struct ev_loop *loop,
                  const struct processor *const *procs,
                  struct thread_stats *stats)
{
    memset(cs, 0, sizeof(*cs));
    cs->loop = loop;
    cs->procs = procs;
    for (const struct processor *const *p = procs; *p; p++) {
        if ((*p)->ahead == NULL)
            continue;
        if (cs->nahead == CONN_AHEAD_MAX)
            return -1;
        cs->ahead[cs->nahead++] = *p;
    }
    cs->stats = stats;
    park_set_waker(conn_park_wake);
    pthread_mutex_init(&cs->lock, NULL);
    cs->rbuf = malloc(CONN_ROUND_BYTES);
    return cs->rbuf == NULL ? -1 : 0;
}

void conn_set_close(struct conn_set *cs)
{
    while (cs->conns)
        cs->conns->close_reason = "shutdown", conn_destroy(cs->conns);
    buf_destroy(&cs->out);
    free(cs->rbuf);
    cs->rbuf = NULL;
    pthread_mutex_destroy(&cs->lock);
}

void conn_set_each(struct conn_set *cs, session_info_fn fn, void *ctx)
{
    pthread_mutex_lock(&cs->lock);
    for (struct conn *c = cs->conns; c; c = c->next) {
        struct session_info info = {
            .fd = c->fd,
            .peer = &c->s.peer,
            .listen_name = c->listen_name,
            .state = conn_state_name(atomic_load_explicit(&c->state, memory_order_relaxed)),
            .last_active = atomic_load_explicit(&c->last_active, memory_order_relaxed),
        };
        fn(&info, ctx);
    }
    pthread_mutex_unlock(&cs->lock);
}

void conn_set_sweep_idle(struct conn_set *cs, rel_time_t now, rel_time_t timeout)
{
    struct conn *c, *next;

    if (timeout == 0)
        return;
    for (c = cs->conns; c; c = next) {
        next = c->next;
        rel_time_t last = atomic_load_explicit(&c->last_active, memory_order_relaxed);
        /* a watcher only listens: never idle (memcached skips it too) */
        if (now - last > timeout && buf_len(&c->out) == 0 && c->s.watch == NULL) {
            log_info("closing idle connection fd %d", c->fd);
            STAT_INCR(cs->stats, idle_kicks);
            c->close_reason = "idle_timeout";
            conn_destroy(c);
        }
    }
}

void conn_set_feed_watchers(struct conn_set *cs)
{
    for (struct conn *c = cs->watchers; c != NULL; c = c->watch_next)
        conn_feed(c);
}

void conn_set_run_ready(struct conn_set *cs)
{
    struct conn *list = cs->ready;

    cs->ready = NULL;
    while (list) {
        struct conn *c = list;
        list = c->ready_next;
        conn_resume(c);
    }
}

bool conn_set_pending(const struct conn_set *cs)
{
    if (cs->ready)
        return true;
    for (const struct conn *c = cs->conns; c; c = c->next)
        if (buf_len(&c->out) > 0 || c->s.parked)   /* parked: park.h */
            return true;
    return false;
}

void conn_set_read_all(struct conn_set *cs)
{
    struct conn *c, *next;

    for (c = cs->conns; c; c = next) {
        next = c->next;
        if (buf_len(&c->out) == 0)
            conn_on_event(c, EV_READ);   /* may free c */
    }
}
