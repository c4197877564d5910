/*
 * stats_cmd: the `stats` command family (general, settings, items, slabs,
 * sizes, conns, reset), in memcached's names so monitoring tools and
 * exporters read hardcached unchanged.
 */
#ifndef HC_SERVER_STATS_CMD_H
#define HC_SERVER_STATS_CMD_H

#include <stdint.h>

#include "protocol/text/parse.h"
#include "server/session.h"

void stats_cmd(struct session *s, const struct text_token *args, uint32_t nargs);

#endif
