/*
 * udp: memcached's UDP transport (-U). Each datagram is one or more
 * requests behind the 8-byte frame header (protocol/udp/frame.h); they run
 * through the same processors as TCP, on a session of the datagram's own
 * whose replies collect in the transport's output buffer. What may go
 * back, and to whom, is decided by policy (gate.h for which commands,
 * udp_guard.h for how many bytes); this file only frames, sends and counts.
 */
#ifndef HC_SERVER_UDP_H
#define HC_SERVER_UDP_H

#include "server/processor.h"

struct listener;
struct thread_stats;
struct udp_worker;

/* Set up the policy from settings (when -U is on). Returns 0 or -1. */
int  udp_setup(void);
void udp_teardown(void);
/* One thread's datagram state (its session, buffers and processors).
 * NULL on failure. */
struct udp_worker *udp_worker_create(const struct processor *const *procs,
                                     struct thread_stats *stats);
/* Free it; *u becomes NULL. */
void udp_worker_destroy(struct udp_worker **u);
/* The UDP socket of listener l is readable: serve a batch of datagrams. */
void udp_on_readable(struct udp_worker *u, struct listener *l);

#endif
