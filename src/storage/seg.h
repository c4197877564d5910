/*
 * seg: the memory under the items. Fixed-size segments (and exact-size
 * "large" ones for items that do not fit a segment) are mmap'ed aligned to
 * the segment size, so an item's segment is its address rounded down, and
 * every byte is charged to one global budget checked against the memory
 * limit. Freed standard segments wait in a pool for reuse instead of going
 * back to the OS, so resident memory stays predictable. Each mapped
 * segment has a small id (seg_by_id), so the hash index can name an item
 * in 40 bits (id and offset) instead of a 48-bit address.
 */
#ifndef HC_STORAGE_SEG_H
#define HC_STORAGE_SEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/clock.h"

struct seg {
    struct seg *prev, *next;  /* the owning shard's FIFO, oldest first */
    uint64_t base;            /* sequence of the item at offset 0 (store.c) */
    size_t   size;            /* bytes mapped, header included */
    uint64_t seal;            /* -e: checksum << 16 | bytes sealed (persist.c) */
    rel_time_t created;       /* items' last-access times count from here
                                 (kept when compacted in place) */
    uint32_t cap;             /* item bytes that fit */
    uint32_t used;            /* item bytes written (bump pointer) */
    uint32_t live;            /* bytes of items not dead */
    uint32_t id;              /* seg_by_id(id) == this, while mapped */
    bool     large;
    uint8_t  shard;           /* the owning shard (a restart reads it) */
    uint8_t  state;           /* SEG_STATE_*: a restart loads SEG_IN_USE only */
    /* what store.c learns of its items without walking them (a restart
     * works them out again): the earliest expiry given to one (0: none),
     * for the crawler, and the memcached size classes it was given items
     * of (bit = class id), for `stats items` age */
    rel_time_t min_exp;
    uint64_t classes;
};

/* A segment's state in its header, for a restart from the -e file: a
 * freed segment is marked free before anything else can reuse it. */
#define SEG_STATE_FREE   0
#define SEG_STATE_IN_USE 0xa7

/* Ids fit SEG_ID_BITS (16M segments: 1 TiB of 64 KiB ones); 0 is never
 * used. An item is named by its segment's id and its offset, which fits
 * SEG_OFF_BITS because segments are at most 64 KiB or hold one item. */
#define SEG_ID_BITS    24
#define SEG_OFF_BITS   16
#define SEG_ID_MAX     ((UINT32_C(1) << SEG_ID_BITS) - 1)

/* id -> segment. An entry is written under the pool lock when its segment
 * is mapped and stays put until it is unmapped, which happens only when
 * the segment holds no indexed item: so index lookups read it unlocked. */
extern struct seg *const *seg_table;

static inline struct seg *seg_by_id(uint32_t id)
{
    return seg_table[id];
}

#define SEG_HDR_SIZE   ((sizeof(struct seg) + 15) & ~(size_t)15)

static inline unsigned char *seg_data(struct seg *s)
{
    return (unsigned char *)s + SEG_HDR_SIZE;
}

/* Pool and budget. seg_size must be a power of two and a page multiple. */
void seg_setup(size_t seg_size, uint64_t mem_limit, bool large_pages);
/* The same, with standard segments carved from `file` (len bytes, aligned
 * to seg_size, a shared mapping of the -e file: persist.c) rather than
 * anonymous memory. No segment is handed out until seg_file_ready(). */
void seg_setup_file(size_t seg_size, uint64_t mem_limit, bool large_pages,
                    unsigned char *file, size_t len, unsigned char *large, size_t item_max);
/* Bytes of the file after the region (and persist's journals) that hold
 * large segments (`large` above), for this limit and largest item. */
size_t seg_large_file_len(size_t seg_size, uint64_t mem_limit, size_t item_max);
/* Segment slot i of the file (the region's, then the large ones), to
 * load at start-up; *slot_size gets the most it may hold. */
struct seg *seg_file_slot(size_t i, size_t *slot_size);
size_t seg_file_slots(void);
/* Take a loaded slot into use: an id and its cost from the budget. False
 * if neither can be had (the slot then stays free). */
bool seg_adopt(struct seg *s);
/* Loading done: every slot not adopted is free for reuse. */
void seg_file_ready(void);
/* Is s kept in the -e file? */
bool seg_in_file(const struct seg *s);
/* Were large pages asked for and granted by madvise (seg.c)? */
bool seg_huge_pages(void);
void seg_teardown(void);
size_t seg_size(void);

/* Take `bytes` from the budget; false if that would pass the limit. */
bool seg_budget_take(size_t bytes);
/* Bytes a segment holding one item of `item_bytes` costs. */
size_t seg_cost(size_t item_bytes);

/* A segment whose cost was already taken from the budget; NULL if mmap
 * failed (the budget is given back). `item_bytes` > standard capacity
 * makes a large segment. */
struct seg *seg_create(size_t item_bytes);
/* Give a segment back: its cost returns to the budget. */
void seg_destroy(struct seg *s);
/* At teardown: forget a segment of the -e file, leaving its bytes (and
 * its state, in use) for the next start to load. */
void seg_detach(struct seg *s);

/* ~(seg_size() - 1), set by seg_setup: seg_of runs on every lookup. */
extern uintptr_t seg_addr_mask;

/* The segment an item lives in. */
static inline struct seg *seg_of(const void *item)
{
    return (struct seg *)((uintptr_t)item & seg_addr_mask);
}

uint64_t seg_mem_used(void);
uint64_t seg_mem_limit(void);
void seg_set_mem_limit(uint64_t bytes);
uint64_t seg_count(void);

#endif
