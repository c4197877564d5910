/*
 * flash_compact: flash pages compacted and reclaimed (memcached 1.6.45's
 * storage compaction thread). When the device taking writes runs short of
 * free pages, a page mostly dead is read back, the values items still
 * name are rewritten to the open page, their stubs moved there, and the
 * page freed: the file keeps live values instead of losing a whole page
 * of them to reuse. Runs on its own thread; workers never wait for it.
 */
#ifndef HC_STORAGE_FLASH_COMPACT_H
#define HC_STORAGE_FLASH_COMPACT_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/flash_dev.h"
#include "storage/flash_tier.h"   /* struct flash_compact_policy */

/* Pure: which of n pages (flash_dev_page_info) to compact now, as
 * memcached's storage_compact_check for one bucket: the most fragmented
 * full page under the limit, else (drop_unread) the oldest full page with
 * *drop set. False: none. */
bool flash_compact_choose(const struct flash_page_info *pages, uint32_t n,
                          uint32_t page_size, const struct flash_compact_policy *pol,
                          uint32_t *page, bool *drop);

/* Start and stop the thread (after the I/O threads; before the store and
 * the tier go). Without a tier, start does nothing. 0 or -1. */
int flash_compact_start(void);
void flash_compact_stop(void);

/* memcached's extstore_compact_* counters. */
struct flash_compact_stats {
    uint64_t lost, rescues, skipped, resc_cold, resc_old;
};
void flash_compact_stats(struct flash_compact_stats *st);

#endif
