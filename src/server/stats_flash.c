/*
 * stats_flash: emit the flash tier's settings (see stats_flash.h). Kept
 * apart from settings.c so the tier's stats grow in one file.
 */
#include "server/stats_flash.h"

#include <stdio.h>

#include "server/stats_sink.h"
#include "storage/flash_compact.h"
#include "storage/flash_conf.h"
#include "storage/flash_tier.h"

void stats_flash_settings(const struct stats_sink *s, const struct flash_conf *c)
{
    bool on = c->ndev > 0 && flash_tier_active();   /* tuned by `extstore` */

    struct flash_compact_policy pol = {
        c->compact_under, c->drop_under, c->max_frag, c->drop_unread,
    };

    if (on)
        flash_tier_policy(&pol);
    stats_add_u64(s, "ext_item_size", on ? flash_tier_item_size() : c->item_size);
    stats_add_u64(s, "ext_item_age", on ? flash_tier_item_age() : c->item_age);
    stats_add_u64(s, "ext_low_ttl", on ? flash_tier_low_ttl() : c->low_ttl);
    stats_add_u64(s, "ext_recache_rate", on ? flash_tier_recache_rate() : c->recache_rate);
    stats_add_u64(s, "ext_wbuf_size", c->wbuf_size);
    stats_add_u64(s, "ext_compact_under", pol.compact_under);
    stats_add_u64(s, "ext_drop_under", pol.drop_under);
    stats_add_u64(s, "ext_max_sleep", on ? flash_tier_max_sleep() : c->max_sleep);
    stats_add_fmt(s, "ext_max_frag", "%.2f", pol.max_frag);
    stats_add_str(s, "ext_drop_unread", pol.drop_unread ? "yes" : "no");
    stats_add_u64(s, "ext_page_size", c->page_size);
    stats_add_u64(s, "ext_threads", c->threads);
    stats_add_u64(s, "ext_io_depth", c->io_depth);
    stats_add_str(s, "ext_io_backend", flash_tier_io_backend(c));   /* ours */
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

    struct flash_compact_stats cs;

    flash_tier_stats(&t);
    flash_compact_stats(&cs);
    stats_add_str(s, "extstore_memory_pressure", "0.00");
    /* resc_cold and resc_old count memcached's coldcompact and old page
     * buckets (ext_path=FILE:SIZE:BUCKET), which this tier has not: 0 */
#define X(f) stats_add_u64(s, "extstore_compact_" #f, cs.f);
    X(lost) X(rescues) X(resc_cold) X(resc_old) X(skipped)
#undef X
#define FLASH_TIER_STATS(X)                                                   \
    X(page_allocs) X(page_evictions) X(page_reclaims) X(pages_free)            \
    X(pages_used) X(objects_evicted) X(objects_read) X(objects_written)       \
    X(objects_used) X(bytes_evicted) X(bytes_written) X(bytes_read)           \
    X(bytes_used)
#define X(f) stats_add_u64(s, "extstore_" #f, t.f);
    FLASH_TIER_STATS(X)
#undef X
    stats_add_u64(s, "extstore_bytes_fragmented", t.bytes_fragmented);
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

static void page_line(const struct stats_sink *s, uint64_t id, const char *field,
                      uint64_t v)
{
    char name[48];

    snprintf(name, sizeof(name), "%llu:%s", (unsigned long long)id, field);
    stats_add_u64(s, name, v);
}

/* memcached's process_extstore_stats: per page, N:version (allocation
 * order, 0 free), N:bytes (live), N:bucket and N:free_bucket (no page
 * buckets here: 0). */
static void page_lines(uint64_t id, const struct flash_page_info *p, void *arg)
{
    const struct stats_sink *s = arg;

    page_line(s, id, "version", p->seq);
    page_line(s, id, "bytes", p->live_bytes);
    page_line(s, id, "bucket", 0);
    page_line(s, id, "free_bucket", 0);
}

void stats_flash_pages(const struct stats_sink *s)
{
    struct stats_sink sink = *s;   /* the walker's argument is not const */

    flash_tier_pages(page_lines, &sink);
    stats_end(s);
}
