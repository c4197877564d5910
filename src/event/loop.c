/* loop: see loop.h. */
#include "event/loop.h"

#include <errno.h>
#include <unistd.h>

int ev_loop_init(struct ev_loop *l)
{
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    return l->epfd < 0 ? -1 : 0;
}

void ev_loop_close(struct ev_loop *l)
{
    if (l->epfd >= 0)
        close(l->epfd);
    l->epfd = -1;
}

static int ctl(struct ev_loop *l, int op, int fd, uint32_t events, void *ptr)
{
    struct epoll_event ev = { .events = events, .data.ptr = ptr };
    return epoll_ctl(l->epfd, op, fd, &ev);
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

int ev_wait(struct ev_loop *l, struct epoll_event *evs, int max, int timeout_ms)
{
    int n = epoll_wait(l->epfd, evs, max, timeout_ms);
    if (n < 0 && errno == EINTR)
        return 0;
    return n;
}
