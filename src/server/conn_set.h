/*
 * conn_set: the connections one worker thread serves (struct conn_set,
 * in server/conn.h, since each connection reads into and replies through
 * it). The worker sets it up, hands it events through its connections,
 * and between events asks the set to walk them: idle sweep, watchers,
 * requests left for later, graceful stop, `stats conns`.
 */
#ifndef HC_SERVER_CONN_SET_H
#define HC_SERVER_CONN_SET_H

#include <stdbool.h>

#include "core/clock.h"
#include "event/loop.h"
#include "server/conn.h"
#include "server/processor.h"
#include "server/session.h"

struct thread_stats;

int  conn_set_init(struct conn_set *cs, struct ev_loop *loop,
                   const struct processor *const *procs,
                   struct thread_stats *stats);
/* Close every connection and free the set's buffers. */
void conn_set_close(struct conn_set *cs);
/* Call fn for each connection, the list locked (`stats conns`). */
void conn_set_each(struct conn_set *cs, session_info_fn fn, void *ctx);
/* Close connections idle for more than timeout seconds (0: none). */
void conn_set_sweep_idle(struct conn_set *cs, rel_time_t now, rel_time_t timeout);
/* The worker was woken: send its watchers what their rings hold. Walks
 * the set's watchers only, however many other connections it holds. */
void conn_set_feed_watchers(struct conn_set *cs);
/* Run requests left in input buffers (after -R yielded). */
void conn_set_run_ready(struct conn_set *cs);
/* Are replies or requests still waiting (graceful stop)? */
bool conn_set_pending(const struct conn_set *cs);
/* Read and run what every connection has sent, except those whose
 * replies are blocked (graceful stop). */
void conn_set_read_all(struct conn_set *cs);

#endif
