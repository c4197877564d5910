/*
 * stats_flash: emit the flash tier's settings (see stats_flash.h). Kept
 * apart from settings.c so the tier's stats grow in one file.
 */
#include "server/stats_flash.h"

#include <stdio.h>

#include "server/stats_sink.h"
#include "storage/flash_conf.h"
#include "storage/flash_tier.h"

void stats_flash_settings(const struct stats_sink *s, const struct flash_conf *c)
{
    bool on = c->ndev > 0 && flash_tier_active();   /* tuned by `extstore` */

    stats_add_u64(s, "ext_item_size", on ? flash_tier_item_size() : c->item_size);
    stats_add_u64(s, "ext_item_age", c->item_age);
    stats_add_u64(s, "ext_low_ttl", on ? flash_tier_low_ttl() : c->low_ttl);
    stats_add_u64(s, "ext_recache_rate", c->recache_rate);
    stats_add_u64(s, "ext_wbuf_size", c->wbuf_size);
    stats_add_u64(s, "ext_compact_under", c->compact_under);
    stats_add_u64(s, "ext_drop_under", c->drop_under);
    stats_add_u64(s, "ext_max_sleep", c->max_sleep);
    stats_add_fmt(s, "ext_max_frag", "%.2f", c->max_frag);
    stats_add_str(s, "ext_drop_unread", c->drop_unread ? "yes" : "no");
    stats_add_u64(s, "ext_page_size", c->page_size);
    stats_add_u64(s, "ext_threads", c->threads);
    stats_add_u64(s, "ext_io_depth", c->io_depth);
    for (unsigned i = 0; i < c->ndev; i++) {
        char name[32];
        snprintf(name, sizeof(name), "ext_path_%u", i);
        stats_add_fmt(s, name, "%s:%llu", c->dev[i].path,
                      (unsigned long long)c->dev[i].size);
    }
}

void stats_flash_emit(const struct stats_sink *s)
{
    struct flash_tier_stats t;

    flash_tier_stats(&t);
    stats_add_str(s, "extstore_memory_pressure", "0.00");
    stats_add_u64(s, "extstore_compact_lost", 0);
    stats_add_u64(s, "extstore_compact_rescues", 0);
    stats_add_u64(s, "extstore_compact_resc_cold", 0);
    stats_add_u64(s, "extstore_compact_resc_old", 0);
    stats_add_u64(s, "extstore_compact_skipped", 0);
#define FLASH_TIER_STATS(X)                                                   \
    X(page_allocs) X(page_evictions) X(page_reclaims) X(pages_free)            \
    X(pages_used) X(objects_evicted) X(objects_read) X(objects_written)       \
    X(objects_used) X(bytes_evicted) X(bytes_written) X(bytes_read)           \
    X(bytes_used)
#define X(f) stats_add_u64(s, "extstore_" #f, t.f);
    FLASH_TIER_STATS(X)
#undef X
    stats_add_u64(s, "extstore_bytes_fragmented", 0);   /* not tracked (no compaction) */
    stats_add_u64(s, "extstore_limit_maxbytes", t.limit_maxbytes);
    stats_add_u64(s, "extstore_io_queue", t.io_queue);
    /* hardcached's: what write amplification is measured against, and
     * the device failures that degraded the tier */
    stats_add_u64(s, "extstore_values_flashed", t.values_flashed);
    stats_add_u64(s, "extstore_value_bytes_flashed", t.value_bytes_flashed);
    stats_add_u64(s, "extstore_io_errors", t.io_errors);
    stats_add_u64(s, "extstore_bad_reads", t.bad_reads);
    stats_add_u64(s, "extstore_devices_failed", t.failed_devices);
}
