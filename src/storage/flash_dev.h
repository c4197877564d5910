/*
 * flash_dev: one flash file of the flash tier (-o ext_path=FILE:SIZE), cut
 * into pages (ext_page_size). Values are appended to the open page as
 * checksummed records; a page is reused only as a whole, with a new
 * version, so a location kept in RAM from before the reuse never reads
 * another item's bytes as its own. An I/O error or a short write marks the
 * device failed: from then on it takes no writes and serves no reads (the
 * caller degrades to RAM-only), never a crash or a wrong value.
 *
 * Thread rule: writes, page accounting and flash_dev_close are the caller's
 * to serialize (one writer); flash_dev_read is safe from I/O threads at any
 * time between open and close.
 */
#ifndef HC_STORAGE_FLASH_DEV_H
#define HC_STORAGE_FLASH_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLASH_REC_ALIGN   8u
#define FLASH_PAGES_MAX   (UINT32_C(1) << 20)
/* After the pages: the file's label (its id, flash_dev_id). */
#define FLASH_LABEL_SIZE  4096u

/* Where a flashed value is: what an item's header keeps in RAM. */
struct flash_loc {
    uint32_t page;
    uint32_t offset;     /* of the record's header, in the page */
    uint32_t version;    /* the page's version when written */
    uint32_t len;        /* the value's bytes */
};

/* A record's header on flash, then `len` bytes of value. The checksum
 * (XXH3) covers the other fields and the value, so a torn, stale or
 * foreign record is told from the one a location points at. */
struct flash_rec {
    uint64_t sum;
    uint64_t key_hash;
    uint32_t version;
    uint32_t len;
};

/* FLASH_BAD: the record failed verification (checksum, key, length);
 * FLASH_STALE: its page was reused since (a recycled or freed page). */
enum flash_io { FLASH_OK = 0, FLASH_FULL = 1, FLASH_BAD = 2, FLASH_FAILED = 3,
                FLASH_STALE = 4 };

struct flash_dev_stats {
    uint64_t pages_total, pages_used, page_allocs, page_reclaims;
    uint64_t page_evictions, objects_evicted, bytes_evicted;   /* recycled */
    uint64_t objects_used, bytes_used;   /* records in pages in use, not forgotten */
    uint64_t objects_written, bytes_written, objects_read, bytes_read;
    uint64_t bad_reads;   /* records that failed verification */
    uint64_t io_errors;
    bool     failed;
};

struct flash_dev;

/* Create (mode 0600) or open FILE, with the restart file's checks
 * (persist_check_private), sized to whole pages and a label; the label
 * gets a new random id (flash_dev_id) at every open, and the one the file
 * held is kept (flash_dev_found_id: 0 when there was none, or the file
 * was not exactly this size or page size). NULL with err on failure. */
struct flash_dev *flash_dev_open(const char *path, uint64_t size, uint32_t page_size,
                                 char *err, size_t errlen);
void flash_dev_close(struct flash_dev **d);
/* Is path (if it exists) the file d has open, by device and inode? Two
 * ext_paths naming one file ("f", "./f", a hard link) would write over
 * each other's pages. */
bool flash_dev_is_path(const struct flash_dev *d, const char *path);
uint64_t flash_dev_id(const struct flash_dev *d);
/* The file's descriptor: the server's sandbox allows reading and writing
 * at offsets on it alone. */
int flash_dev_fd(const struct flash_dev *d);
uint64_t flash_dev_found_id(const struct flash_dev *d);

/* What a restart found of one page (flash_recover.c): the version of its
 * values that are still in use, how many, the end of the last, and their
 * records' bytes (compaction's measure). */
struct flash_page_use {
    uint32_t version, used, live, live_bytes;
};
/* Right after open, before any append or read: each page with live
 * values is full at its version (the oldest version is reused first),
 * the others free; new pages get versions above every one in use[]
 * (npages entries). */
void flash_dev_restore(struct flash_dev *d, const struct flash_page_use *use);

/* How the flash tier runs a device (the defaults, none of this, suit the
 * unit tests): appends gather in a write buffer of wbuf bytes (capped at
 * a page) and reach the file in one pwrite when it fills, the page
 * changes, or flash_dev_flush runs; records not yet flushed must not be
 * read. With recycle, a device with no free page reuses its oldest full
 * one (its values become stale: reads of them fail verification by
 * version, and count as page_evictions) instead of answering FLASH_FULL.
 * 0, or -1 if the buffer could not be had. */
int flash_dev_tune(struct flash_dev *d, uint32_t wbuf, bool recycle);
/* Write what the buffer holds; FLASH_OK or FLASH_FAILED. */
enum flash_io flash_dev_flush(struct flash_dev *d);

/* Append one value to the open page (a new page when it does not fit).
 * FLASH_FULL: no free page (nothing written); FLASH_FAILED: the device is
 * (now) failed. On FLASH_OK *loc says where it is. */
enum flash_io flash_dev_append(struct flash_dev *d, uint64_t key_hash, const void *value,
                               uint32_t len, struct flash_loc *loc);

/* Read the value at loc into out (loc->len bytes) and verify it: FLASH_OK
 * only when the page still has loc's version and the record's checksum,
 * key hash and length match. scratch holds at least flash_dev_read_size(loc)
 * bytes; the value is copied to out. */
size_t flash_dev_read_size(const struct flash_loc *loc);
enum flash_io flash_dev_read(struct flash_dev *d, const struct flash_loc *loc,
                             uint64_t key_hash, void *scratch, void *out);
/* flash_dev_read in two halves, for a read the caller makes itself
 * (io_uring): prep says whether loc can be read now and where (the
 * file's fd, the byte offset of flash_dev_read_size(loc) bytes); check
 * takes what the read returned (n bytes, or -errno) and verifies it. */
enum flash_io flash_dev_read_prep(struct flash_dev *d, const struct flash_loc *loc,
                                  int *fd, uint64_t *at);
enum flash_io flash_dev_read_check(struct flash_dev *d, const struct flash_loc *loc,
                                   uint64_t key_hash, const void *scratch, long n,
                                   void *out);

/* A value at loc is no longer needed (deleted, replaced, recached); a page
 * whose values are all gone is free again. */
void flash_dev_forget(struct flash_dev *d, const struct flash_loc *loc);

void flash_dev_stats(const struct flash_dev *d, struct flash_dev_stats *st);

/* For compaction (flash_compact.c) and `stats extstore`, under the
 * writer's serialization like the writes. */
struct flash_page_info {
    uint64_t seq;          /* allocation order (memcached's version); 0: free */
    uint32_t version;      /* what stubs of the page name */
    uint32_t used;         /* bytes appended */
    uint32_t live_bytes;   /* of the records not forgotten */
    bool     open;         /* the page taking appends */
};
uint32_t flash_dev_npages(const struct flash_dev *d);
/* flash_dev_npages() entries into out. */
void flash_dev_page_info(const struct flash_dev *d, struct flash_page_info *out);
/* A compacted page is free whatever it still counts (its values moved or
 * were given up), if it is still full at `version`. */
void flash_dev_close_page(struct flash_dev *d, uint32_t page, uint32_t version);
/* Read len raw bytes at off of a page (any thread, like flash_dev_read):
 * FLASH_OK, FLASH_BAD (out of the page) or FLASH_FAILED. Records of a
 * full page are on the device once the writer's last batch ended. */
enum flash_io flash_dev_read_raw(struct flash_dev *d, uint32_t page, uint32_t off,
                                 void *buf, size_t len);
/* A record's bytes on the page (header, value, padding) for a value of
 * len bytes; and whether its checksum holds over the value after it. */
size_t flash_rec_size(uint32_t len);
bool flash_rec_valid(const struct flash_rec *r, const void *value);

#endif
