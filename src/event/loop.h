/*
 * loop: readiness of file descriptors, one loop per worker thread. Callers
 * see EV_* bits and the pointer they registered, never the backend's types:
 * the backend today is epoll (loop.c), and another (kqueue, io_uring) would
 * be one more file behind this header, as Redis's ae.h has ae_epoll.c and
 * ae_kqueue.c. Hand-written rather than libevent because the server needs
 * only readiness on a few fd kinds (edge-triggered for plain connections,
 * see server/conn.c), and calling epoll directly avoids libevent's
 * per-event indirection and timer heap on the hot path.
 */
#ifndef HC_EVENT_LOOP_H
#define HC_EVENT_LOOP_H

#include <stdint.h>

#define EV_BATCH 256   /* events taken per ev_wait, at most */

/* Interest (ev_watch) and readiness (ev_event.events). The values are
 * epoll's, so the epoll backend translates nothing (loop.c checks). */
#define EV_READ      0x001u        /* readable (or a listener has a client) */
#define EV_WRITE     0x004u        /* writable */
#define EV_ERROR     0x018u        /* reported only: an error or a hang-up */
#define EV_PEER_SHUT 0x2000u       /* the peer shut its side */
#define EV_EXCLUSIVE (1u << 28)    /* interest only: wake one of the loops
                                      that watch the same fd */
#define EV_EDGE      (1u << 31)    /* interest only: report each change
                                      once (edge-triggered) */

struct ev_loop {
    int fd;
};

struct ev_event {
    void    *ptr;        /* as given to ev_watch */
    uint32_t events;     /* EV_READ, EV_WRITE, EV_ERROR, EV_PEER_SHUT */
};

int  ev_loop_init(struct ev_loop *l);
void ev_loop_close(struct ev_loop *l);
/* Watch fd for `events`; ptr comes back in its events. 0 or -1. */
int  ev_watch(struct ev_loop *l, int fd, uint32_t events, void *ptr);
/* Change what fd is watched for (a fd ready now is reported at once). */
int  ev_rewatch(struct ev_loop *l, int fd, uint32_t events, void *ptr);
int  ev_unwatch(struct ev_loop *l, int fd);
/* Wait up to timeout_ms (-1: forever) for at most max <= EV_BATCH events.
 * Returns their number (0 on timeout or EINTR), -1 on error. */
int  ev_wait(struct ev_loop *l, struct ev_event *evs, int max, int timeout_ms);

#endif
