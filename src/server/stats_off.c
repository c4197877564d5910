/*
 * stats_off: see stats_off.h. Names that would need a value hardcached
 * cannot honestly give (read buffers, direct reclaims, the tuning of an
 * LRU it does not have) are left out, and README says which and why.
 */
#include "server/stats_off.h"

#include <stdint.h>

#include "server/stats_sink.h"

/* X(name, value): memcached's values with the machinery off or idle. */
#define OFF_GENERAL(X)                                                       \
    X("response_obj_oom", "0") X("response_obj_count", "0")                  \
    X("response_obj_bytes", "0")                                             \
    X("slab_reassign_rescues", "0") X("slab_reassign_chunk_rescues", "0")    \
    X("slab_reassign_inline_reclaim", "0") X("slab_reassign_busy_items", "0") \
    X("slab_reassign_busy_deletes", "0") X("slab_reassign_busy_nomem", "0")  \
    X("slab_reassign_last_busy_status", "none")                              \
    X("slab_reassign_running", "0") X("slabs_moved", "0")                    \
    X("lru_maintainer_juggles", "0") X("unexpected_napi_ids", "0")           \
    X("round_robin_fallback", "0") X("slab_global_page_pool", "0")           \
    X("lrutail_reflocked", "0") X("moves_to_cold", "0")                      \
    X("moves_to_warm", "0") X("moves_within_lru", "0")                       \
    X("lru_bumps_dropped", "0")

#define OFF_SETTINGS(X)                                                      \
    X("slab_reassign", "no") X("slab_automove", "0")                         \
    X("lru_maintainer_thread", "no") X("lru_segmented", "no")                \
    X("temp_lru", "no")

#define ADD(name, value) stats_add_str(s, name, value);

void stats_off_general(const struct stats_sink *s)
{
    OFF_GENERAL(ADD)
}

void stats_off_settings(const struct stats_sink *s)
{
    OFF_SETTINGS(ADD)
}
