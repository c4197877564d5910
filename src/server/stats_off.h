/*
 * stats_off: memcached 1.6.45's `stats` and `stats settings` lines for
 * machinery hardcached does not have (slab mover, segmented LRU and its
 * maintainer, response objects, NAPI steering), with the values memcached
 * itself prints when that machinery is off or idle: dashboards and client
 * parsers that read these names find them, and what they say is true.
 */
#ifndef HC_SERVER_STATS_OFF_H
#define HC_SERVER_STATS_OFF_H

struct stats_sink;

/* After the general stats hardcached keeps itself. */
void stats_off_general(const struct stats_sink *s);
/* After the settings hardcached has. */
void stats_off_settings(const struct stats_sink *s);

#endif
