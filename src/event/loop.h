/*
 * loop: a thin epoll wrapper, one per worker thread. Hand-written rather
 * than libevent because the server needs only readiness on a few fd kinds
 * (edge-triggered for plain connections, see conn.c), and calling epoll
 * directly avoids libevent's per-event indirection and timer heap on the
 * hot path.
 */
#ifndef HC_EVENT_LOOP_H
#define HC_EVENT_LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

#define EV_BATCH 256   /* events taken per epoll_wait */

struct ev_loop {
    int epfd;
};

int  ev_loop_init(struct ev_loop *l);
void ev_loop_close(struct ev_loop *l);
/* Watch fd for `events` (EPOLLIN, EPOLLOUT, EPOLLEXCLUSIVE...); ptr comes
 * back in the event. */
int  ev_watch(struct ev_loop *l, int fd, uint32_t events, void *ptr);
int  ev_rewatch(struct ev_loop *l, int fd, uint32_t events, void *ptr);
int  ev_unwatch(struct ev_loop *l, int fd);
/* Returns the number of events (0 on timeout or EINTR). */
int  ev_wait(struct ev_loop *l, struct epoll_event *evs, int max, int timeout_ms);

#endif
