/*
 * test_loop: the event interface (event/loop.h) as its users rely on it:
 * the registered pointer comes back with EV_* bits, edge-triggered interest
 * reports a change once, a peer's shutdown and a hang-up are told apart.
 */
#include <sys/socket.h>
#include <unistd.h>

#include "event/loop.h"
#include "unit.h"

static void test_read_write(void)
{
    struct ev_loop l;
    struct ev_event ev[4];
    int sv[2], tag;

    CHECK(ev_loop_init(&l) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(ev_watch(&l, sv[0], EV_READ, &tag) == 0);
    CHECK_EQ_INT(ev_wait(&l, ev, 4, 0), 0);
    CHECK(write(sv[1], "x", 1) == 1);
    CHECK_EQ_INT(ev_wait(&l, ev, 4, 1000), 1);
    CHECK(ev[0].ptr == &tag);
    CHECK_EQ_INT(ev[0].events, EV_READ);
    /* level-triggered: still readable, still reported */
    CHECK_EQ_INT(ev_wait(&l, ev, 4, 0), 1);
    /* edge-triggered: once per arrival */
    CHECK(ev_rewatch(&l, sv[0], EV_READ | EV_EDGE | EV_PEER_SHUT, &tag) == 0);
    CHECK_EQ_INT(ev_wait(&l, ev, 4, 0), 1);   /* ready when re-armed */
    CHECK_EQ_INT(ev_wait(&l, ev, 4, 0), 0);
    /* writable */
    CHECK(ev_rewatch(&l, sv[0], EV_WRITE, &tag) == 0);
    CHECK_EQ_INT(ev_wait(&l, ev, 4, 0), 1);
    CHECK_EQ_INT(ev[0].events, EV_WRITE);
    /* the peer shuts its side: EV_PEER_SHUT, not EV_ERROR */
    CHECK(ev_rewatch(&l, sv[0], EV_READ | EV_PEER_SHUT, &tag) == 0);
    CHECK(shutdown(sv[1], SHUT_WR) == 0);
    CHECK_EQ_INT(ev_wait(&l, ev, 4, 1000), 1);
    CHECK(ev[0].events & EV_PEER_SHUT);
    CHECK(!(ev[0].events & EV_ERROR));
    /* both sides gone: a hang-up */
    close(sv[1]);
    CHECK(shutdown(sv[0], SHUT_WR) == 0);
    CHECK_EQ_INT(ev_wait(&l, ev, 4, 1000), 1);
    CHECK(ev[0].events & EV_ERROR);
    CHECK(ev_unwatch(&l, sv[0]) == 0);
    CHECK_EQ_INT(ev_wait(&l, ev, 4, 0), 0);
    close(sv[0]);
    ev_loop_close(&l);
}

int main(void)
{
    RUN(test_read_write);
    return unit_report("test_loop");
}
