/*
 * stats_flash: emit the flash tier's settings (see stats_flash.h). Kept
 * apart from settings.c so the tier's stats grow in one file.
 */
#include "server/stats_flash.h"

#include <stdio.h>

#include "server/stats_sink.h"
#include "storage/flash_conf.h"

void stats_flash_settings(const struct stats_sink *s, const struct flash_conf *c)
{
    stats_add_u64(s, "ext_item_size", c->item_size);
    stats_add_u64(s, "ext_item_age", c->item_age);
    stats_add_u64(s, "ext_low_ttl", c->low_ttl);
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
