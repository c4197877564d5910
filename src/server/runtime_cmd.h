/*
 * runtime_cmd: the tuning commands automation sends to memcached at run
 * time (`lru`, `slabs`, `extstore`). This storage has no segmented LRU, no
 * slab classes and no external store, so none of them changes anything;
 * each gets memcached 1.6.45's own reply for the case where its feature is
 * off or its knob merely stored, with memcached's argument checks, never a
 * bare ERROR for a well-formed request (README, "Runtime commands").
 */
#ifndef HC_SERVER_RUNTIME_CMD_H
#define HC_SERVER_RUNTIME_CMD_H

#include <stdint.h>

struct session;
struct text_token;

/* args: the tokens after the command's name. */
void runtime_lru(struct session *s, const struct text_token *args, uint32_t nargs);
void runtime_slabs(struct session *s, const struct text_token *args, uint32_t nargs);
void runtime_extstore(struct session *s, const struct text_token *args, uint32_t nargs);

#endif
