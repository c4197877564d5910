/*
 * stats_class: `stats items`, `stats slabs` and `stats sizes`, grouped by
 * the size class memcached would have given each item (storage/crawl.h),
 * in memcached 1.6's names and order so memcached-tool and exporters read
 * them unchanged.
 */
#ifndef HC_SERVER_STATS_CLASS_H
#define HC_SERVER_STATS_CLASS_H

struct stats_sink;

/* Each group, ended with stats_end(). */
void stats_emit_items(const struct stats_sink *s);
void stats_emit_slabs(const struct stats_sink *s);
/* The histogram with -o track_sizes, else memcached's "sizes_status
 * disabled". */
void stats_emit_sizes(const struct stats_sink *s);
/* Before `stats reset` clears the counters: remember which classes are in
 * use, as memcached keeps their pages (and lists them) after the reset. */
void stats_class_keep_pages(void);

#endif
