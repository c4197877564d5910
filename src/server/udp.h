/*
 * udp: memcached's UDP transport (-U). Each datagram is one or more
 * requests behind the 8-byte frame header (protocol/udp/frame.h); they run
 * through the same protocol step functions as TCP on a per-worker pseudo
 * connection (fd < 0, udp = true) whose replies collect in the worker's
 * output buffer. What may go back, and to whom, is decided by
 * policy/udp_guard.h alone; this file only frames, sends and counts.
 */
#ifndef HC_SERVER_UDP_H
#define HC_SERVER_UDP_H

#include <stdint.h>

struct conn;
struct listener;
struct worker;

/* Set up the policy from settings (when -U is on). Returns 0 or -1. */
int  udp_setup(void);
void udp_teardown(void);
/* Per-worker pseudo connection and receive buffer. Returns 0 or -1. */
int  udp_worker_init(struct worker *w);
void udp_worker_close(struct worker *w);
/* The UDP socket of listener l is readable: serve a batch of datagrams. */
void udp_on_readable(struct worker *w, struct listener *l);
/* A TCP connection is open (and logged in if required): validate or
 * refresh its address for UDP, at most once a second. */
void udp_note_tcp_peer(struct conn *c);
/* Monotonic milliseconds (the policy's clock). */
uint64_t udp_now_ms(void);

#endif
