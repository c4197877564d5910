/*
 * io: the contract between the event loop (engine) and the probes. A probe
 * is a small state machine over one socket; it tells the loop what it waits
 * for (a rate-limit token, readiness of its fd, a deadline) and the loop
 * calls it back. Probes never block and never sleep.
 */
#ifndef HC_AUDIT_IO_H
#define HC_AUDIT_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct io_want {
    bool done;          /* finished: nothing more to wait for */
    bool token;         /* wants a rate-limit token before sending */
    int fd;             /* -1: no fd to poll */
    short events;       /* POLLIN / POLLOUT */
    uint64_t deadline;  /* monotonic ns; 0 = none */
};

struct probe_opts {
    unsigned timeout_ms;    /* connect, per exchange, per UDP attempt */
    unsigned retries;       /* extra attempts after a timeout */
    const struct sockaddr *src;     /* UDP source to bind, NULL = any */
    socklen_t srclen;
    uint64_t expect_bytes;  /* UDP reply size expected (amplify), sizes caps */
};

#endif
