/*
 * dump: the key dumps operators use for cache warming, migration and
 * debugging (`lru_crawler metadump|mgdump`, `stats cachedump`), in
 * memcached 1.6.45's formats. They are also the fastest way to copy a
 * cache, so: off with -X, admin-class (policy/gate: a logged-in TCP client
 * only, never UDP), counted in `stats` (dump_requests, dump_keys).
 */
#ifndef HC_SERVER_DUMP_H
#define HC_SERVER_DUMP_H

#include <stdbool.h>
#include <stdint.h>

#include "server/processor.h"

struct session;
struct text_token;

/* `lru_crawler metadump|mgdump <all|hash|id,id,...>`: streamed. Each step
 * walks a few hundred items under one shard lock and stops at the output's
 * high water (PROC_STEP_OUTPUT_FULL, its cursor in s->resume), so memory
 * stays bounded by the output buffer and the worker serves others between
 * steps. mg: mgdump's lines, else metadump's. */
enum proc_step dump_keys(struct session *s, bool mg, const struct text_token *classes);

/* Is t "all", "hash" or a list of class ids memcached's crawler takes? */
bool dump_classes_valid(const struct text_token *t);

/* `stats cachedump <class> <limit>`: one reply, at most 2 MB as memcached. */
void dump_cachedump(struct session *s, const struct text_token *args, uint32_t nargs);

#endif
