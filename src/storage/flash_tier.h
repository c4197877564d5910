/*
 * flash_tier: the flash tier as the store sees it (memcached's extstore).
 * When eviction would drop a live item whose value qualifies (ext_item_size,
 * ext_low_ttl), the store hands the value here, and keeps in RAM the item's
 * header, key and a stub of ITEM_FLASH_STUB bytes saying where the value
 * went; a read hands the stub back to have the value read on the I/O
 * threads. Knows no protocol and no connection.
 *
 * RAM per flashed item: the item header (4 bytes, +8 for the CAS it keeps
 * since it moved, +4 with an expiry, +4 with client flags), the key, the
 * 17-byte stub, and its 6-byte index slot (6.8-10.2 bytes with the table's
 * slack): 29 bytes plus the key in segments (measured by
 * tests/unit/test_flash_tier.c, no expiry or flags), 36-39 with the index,
 * where memcached keeps about 48 plus the key (its item header with the
 * value's location).
 *
 * Locking: the writer side (flash_tier_batch_*, _put, _rewrite, _forget)
 * runs under a shard lock, or on the compactor's thread holding none, and
 * takes the tier's own lock inside it (shard, then tier, never the other
 * way: no shard lock is taken between batch_begin and batch_end); reads
 * never take it.
 */
#ifndef HC_STORAGE_FLASH_TIER_H
#define HC_STORAGE_FLASH_TIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/clock.h"
#include "storage/flash_conf.h"
#include "storage/flash_dev.h"
#include "storage/flash_io.h"
#include "storage/item.h"

/* The stub: device (1 byte), then the flash_loc's page, offset, version
 * and length, 4 bytes each, little-endian. */
#define FLASH_STUB_SIZE 17u
_Static_assert(FLASH_STUB_SIZE == ITEM_FLASH_STUB, "the stub is the item's value bytes");

/* Open the devices (at start-up, before the sandbox: it opens files). 0
 * (also with no ext_path), or -1 with err. After a warm restart,
 * flash_recover_run then finds what is on them again. */
int flash_tier_setup(const struct flash_conf *c, char *err, size_t errlen);
/* Choose how values are read (ext_io_backend), before the sandbox: make
 * one io_uring per thread that will read (`rings`: the workers), or, when
 * the kernel will not (logged) or ext_io_backend=pool, leave it to the
 * pread threads. -1 with err only for ext_io_backend=uring without it. */
int flash_tier_prepare_io(unsigned rings, char *err, size_t errlen);
/* Does the tier read through io_uring (the sandbox must allow it)? */
bool flash_tier_uses_uring(void);
/* "uring" or "pool" when running, else what c asks for (stats settings). */
const char *flash_tier_io_backend(const struct flash_conf *c);
/* On a worker whose eventfd fired: finish its io_uring reads (their done
 * runs here, on this thread); nothing with the pool. */
void flash_tier_reap(void);
/* Start the I/O threads if it reads with them (after the sandbox, so they
 * run under it). */
int flash_tier_start_io(char *err, size_t errlen);
void flash_tier_teardown(void);
/* Device i (the ext_path list's order) while set up, else NULL. */
struct flash_dev *flash_tier_device(unsigned i);
/* The devices' file descriptors, into fds (FLASH_DEVICES_MAX of them);
 * how many: what it reads and writes at offsets (the sandbox's list). */
unsigned flash_tier_files(int fds[FLASH_DEVICES_MAX]);
/* Is there a tier with a device that has not failed? */
bool flash_tier_active(void);

/* The `extstore` command's knobs that act on a running tier (memcached's
 * names): item_size, low_ttl, item_age, recache_rate, compact_under, drop_under,
 * max_sleep, drop_unread (0 or not), and max_frag through _tune_frag.
 * False: no such knob, or no tier. */
bool flash_tier_tune(const char *knob, uint32_t value);
bool flash_tier_tune_frag(double max_frag);
/* Their values now (the start-up ones until tuned; compact_under and
 * drop_under of 0 are 1% of the first device's pages, at least 1, as
 * memcached sets them). */
uint32_t flash_tier_item_size(void);
uint32_t flash_tier_low_ttl(void);
/* ext_item_age: eviction flashes a value read since the last compaction
 * too, when it was not read for this many seconds (memcached's default,
 * UINT32_MAX, never: only values not read since go). */
uint32_t flash_tier_item_age(void);
uint32_t flash_tier_recache_rate(void);
uint32_t flash_tier_max_sleep(void);
uint32_t flash_tier_wbuf_size(void);
/* The compactor's knobs (flash_compact.h), memcached's: compact when
 * fewer than compact_under pages are free, a page whose live bytes are
 * under max_frag of a page; when none is and fewer than drop_under are
 * free, with drop_unread, the oldest page, dropping the values not read
 * since they were flashed. */
struct flash_compact_policy {
    uint32_t compact_under, drop_under;
    double   max_frag;
    bool     drop_unread;
};
void flash_tier_policy(struct flash_compact_policy *pol);

/* Store side, under the shard lock. Does a value of nvalue bytes that
 * expires at exptime (0: never) go to flash rather than be dropped? */
bool flash_tier_wants(uint32_t nvalue, rel_time_t exptime, rel_time_t now);
/* Around a run of puts (one compaction): the tier's lock is held between
 * them, and end writes what the write buffer holds, so every stub handed
 * out can be read once the caller's shard lock is released. */
void flash_tier_batch_begin(void);
void flash_tier_batch_end(void);
/* Append a value; true with stub filled, false (nothing stored) when no
 * device can take it. key_hash: hash_key() of the item's key. */
bool flash_tier_put(uint64_t key_hash, const void *value, uint32_t len,
                    unsigned char stub[FLASH_STUB_SIZE]);
/* The same for a value compaction moves: not counted as flashed again. */
bool flash_tier_rewrite(uint64_t key_hash, const void *value, uint32_t len,
                        unsigned char stub[FLASH_STUB_SIZE]);
/* The value a stub names is gone (deleted, replaced, evicted). */
void flash_tier_forget(const unsigned char *stub);
/* The device (index in the ext_path list) and location a stub names. */
unsigned flash_stub_loc(const unsigned char *stub, struct flash_loc *loc);
/* For the compactor, between batch_begin and batch_end: the device
 * taking writes (NULL: none), its index and page size, and the knobs. */
struct flash_dev *flash_tier_writer(unsigned *dev, uint32_t *page_size,
                                    struct flash_compact_policy *pol);
/* The stub naming loc on device dev. */
void flash_tier_stub(unsigned dev, const struct flash_loc *loc,
                     unsigned char stub[FLASH_STUB_SIZE]);
/* `stats extstore`: every page of every device, numbered across them in
 * order, to fn (outside the tier's lock). */
void flash_tier_pages(void (*fn)(uint64_t id, const struct flash_page_info *p, void *arg),
                      void *arg);
/* The value's length a stub records. */
uint32_t flash_stub_len(const unsigned char *stub);
/* Do two stubs name the same record? */
bool flash_stub_same(const unsigned char *a, const unsigned char *b);

/* Read side, from any thread. Fill req (dev, loc, key_hash) for the stub
 * and queue it on the I/O threads: req->scratch and req->out must hold
 * flash_tier_read_size() and flash_stub_len() bytes, and done/ctx
 * and notify_fd (the calling thread's eventfd: io_uring signals it) be
 * set. False when the queue is full or the device is gone (a miss). */
size_t flash_tier_read_size(const unsigned char *stub);
bool flash_tier_read(const unsigned char *stub, uint64_t key_hash, struct flash_io_req *req);

/* `stats extstore` and the extstore_* lines of `stats`. */
struct flash_tier_stats {
    uint64_t page_allocs, page_evictions, page_reclaims, pages_free, pages_used;
    uint64_t objects_evicted, objects_read, objects_written, objects_used;
    uint64_t bytes_evicted, bytes_written, bytes_read, bytes_used, bytes_fragmented;
    uint64_t limit_maxbytes, io_queue, bad_reads, io_errors, failed_devices;
    uint64_t values_flashed, value_bytes_flashed;   /* write amplification's base */
};
void flash_tier_stats(struct flash_tier_stats *st);

#endif
