/*
 * stats_cmd: the `stats` command family (general, settings, items, slabs,
 * sizes, conns, reset), in memcached's names so monitoring tools and
 * exporters read hardcached unchanged. Every group is emitted once, through
 * a stats_sink (memcached's ADD_STAT): text `stats`, binary STAT and
 * /metrics are sinks of the same emitter.
 */
#ifndef HC_SERVER_STATS_CMD_H
#define HC_SERVER_STATS_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "server/stats_sink.h"

struct session;
struct text_token;

enum stats_outcome {
    STATS_EMITTED,   /* the group's stats, then the end of the list */
    STATS_RESET,     /* `stats reset` done; nothing emitted, the caller
                      * answers in its protocol's way */
    STATS_UNKNOWN,   /* no such group; nothing emitted */
};

/* Run `stats <group>` (len 0: the general stats) into sink s. Needs no
 * connection or session. */
enum stats_outcome stats_run(const char *group, size_t len, const struct stats_sink *s);

/* The groups one by one, each ended with stats_end(). */
void stats_emit_general(const struct stats_sink *s);
void stats_emit_settings(const struct stats_sink *s);

/* The text command: `stats [group]`, answered into the session's output. */
void stats_cmd(struct session *s, const struct text_token *args, uint32_t nargs);

#endif
