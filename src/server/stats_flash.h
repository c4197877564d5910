/*
 * stats_flash: the flash tier's lines in `stats settings`, `stats` and
 * `stats extstore`, with memcached 1.6.45's names and formats, so
 * its dashboards read them unchanged.
 */
#ifndef HC_SERVER_STATS_FLASH_H
#define HC_SERVER_STATS_FLASH_H

struct stats_sink;
struct flash_conf;

/* memcached's ext_* settings in its order, then the three it keeps to
 * itself (ext_page_size, ext_threads, ext_io_depth) and the files. */
void stats_flash_settings(const struct stats_sink *s, const struct flash_conf *c);
/* The tier's extstore_* lines of `stats`, in memcached 1.6.45's names
 * and order. */
void stats_flash_emit(const struct stats_sink *s);
/* `stats extstore`: memcached's four lines per page, then END (only END
 * without a tier). */
void stats_flash_pages(const struct stats_sink *s);

#endif
