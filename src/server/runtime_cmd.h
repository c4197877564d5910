/*
 * runtime_cmd: the commands operators and automation send to memcached at
 * run time: `lru_crawler` (the crawler is real, storage/crawl.h), and the
 * tuning of `lru`, `slabs`, `extstore`. This storage has no segmented LRU
 * and no slab classes, so those change nothing; `extstore item_size` and
 * `low_ttl` tune a running flash tier (storage/flash_tier.h). Each gets memcached 1.6.45's own reply for the case where its feature is
 * off or its knob merely stored, with memcached's argument checks, never a
 * bare ERROR for a well-formed request (README, "Runtime commands").
 */
#ifndef HC_SERVER_RUNTIME_CMD_H
#define HC_SERVER_RUNTIME_CMD_H

#include <stdint.h>

#include "server/processor.h"

struct session;
struct text_token;

/* args: the tokens after the command's name. lru_crawler: the crawler
 * (storage/crawl.h) and the key dumps (server/dump.h), which it streams. */
enum proc_step runtime_lru_crawler(struct session *s, const struct text_token *args,
                                   uint32_t nargs);
/* `watch [kinds]`: the session becomes a watcher (server/watch.h). */
void runtime_watch(struct session *s, const struct text_token *args, uint32_t nargs);
void runtime_lru(struct session *s, const struct text_token *args, uint32_t nargs);
void runtime_slabs(struct session *s, const struct text_token *args, uint32_t nargs);
void runtime_extstore(struct session *s, const struct text_token *args, uint32_t nargs);

#endif
