/* loop: see loop.h. The epoll backend. */
#include "event/loop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

_Static_assert(EV_READ == EPOLLIN && EV_WRITE == EPOLLOUT &&
               EV_ERROR == (EPOLLERR | EPOLLHUP) && EV_PEER_SHUT == EPOLLRDHUP &&
               EV_EXCLUSIVE == EPOLLEXCLUSIVE && EV_EDGE == (uint32_t)EPOLLET,
               "EV_* are epoll's bits");

int ev_loop_init(struct ev_loop *l)
{
    l->fd = epoll_create1(EPOLL_CLOEXEC);
    return l->fd < 0 ? -1 : 0;
}

void ev_loop_close(struct ev_loop *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}

static int ctl(struct ev_loop *l, int op, int fd, uint32_t events, void *ptr)
{
    struct epoll_event ev = { .events = events, .data.ptr = ptr };
    return epoll_ctl(l->fd, op, fd, &ev);
}

int ev_watch(struct ev_loop *l, int fd, uint32_t events, void *ptr)
{
    return ctl(l, EPOLL_CTL_ADD, fd, events, ptr);
}

int ev_rewatch(struct ev_loop *l, int fd, uint32_t events, void *ptr)
{
    return ctl(l, EPOLL_CTL_MOD, fd, events, ptr);
}

int ev_unwatch(struct ev_loop *l, int fd)
{
    return ctl(l, EPOLL_CTL_DEL, fd, 0, NULL);
}

int ev_wait(struct ev_loop *l, struct ev_event *evs, int max, int timeout_ms)
{
    struct epoll_event raw[EV_BATCH];
    int n;

    if (max > EV_BATCH)
        max = EV_BATCH;
    n = epoll_wait(l->fd, raw, max, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        evs[i].ptr = raw[i].data.ptr;
        evs[i].events = raw[i].events;
    }
    return n;
}
