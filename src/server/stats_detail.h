/*
 * stats_detail: memcached's per-prefix statistics (`-D <char>`, `stats
 * detail on|off|dump`): gets, hits, sets and deletes counted per key
 * prefix, the part of a key before the delimiter. As memcached 1.6.45
 * counts them: text get/gets/gat/gats per key, text storage commands and
 * delete, and the binary get, store and delete commands; meta commands,
 * touch and incr/decr are not counted.
 */
#ifndef HC_SERVER_STATS_DETAIL_H
#define HC_SERVER_STATS_DETAIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/settings.h"

struct session;
struct text_token;

/* At most this many prefixes are counted (memcached: 65,536); keys with
 * a new prefix past it are not counted. Each costs its prefix and 48
 * bytes, so the table stays under 1.3 MB. */
#define STATS_DETAIL_PREFIXES_MAX 4096

/* The delimiter, from -D; ':' by default. Call before the workers start.
 * Counting is on while settings.detail_enabled (-D, `stats detail on`). */
void stats_detail_setup(char delimiter);
void stats_detail_teardown(void);

/* Count one request on key's prefix (a key without the delimiter has
 * none: not counted). Cheap when off: one relaxed load. */
void stats_detail_record(const char *key, size_t nkey, bool get, bool hit, bool set,
                         bool del);
static inline void stats_detail_get(const char *key, size_t nkey, bool hit)
{
    if (atomic_load_explicit(&settings.detail_enabled, memory_order_relaxed))
        stats_detail_record(key, nkey, true, hit, false, false);
}
static inline void stats_detail_set(const char *key, size_t nkey)
{
    if (atomic_load_explicit(&settings.detail_enabled, memory_order_relaxed))
        stats_detail_record(key, nkey, false, false, true, false);
}
static inline void stats_detail_delete(const char *key, size_t nkey)
{
    if (atomic_load_explicit(&settings.detail_enabled, memory_order_relaxed))
        stats_detail_record(key, nkey, false, false, false, true);
}

/* `stats detail <on|off|dump>` (args: the tokens after "stats"), with
 * memcached's replies; refused under -X as memcached refuses it. */
void stats_detail_cmd(struct session *s, const struct text_token *args, uint32_t nargs);

#endif
