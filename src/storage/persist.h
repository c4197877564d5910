/*
 * persist: the restartable cache file (-e FILE, memcached's "warm
 * restart"). Standard segments live in one shared mapping of FILE, so
 * what a write leaves in memory is in the file the moment it is made; a
 * header holds what a restart needs (settings that must match, the clock
 * base, the hash secret, each shard's sequence and flush marks), and
 * every segment carries a checksum chained over its sealed items, so the
 * next start re-indexes the segments by scanning them, after a graceful
 * stop or a kill -9 alike, and trusts no byte it cannot verify.
 */
#ifndef HC_STORAGE_PERSIST_H
#define HC_STORAGE_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/seg.h"

/* 2: a compaction journal per shard after the region (persist_journal),
 * then large segments */
#define PERSIST_VERSION 2u

/* What must match between the run that wrote a file and the one that
 * reads it, and where the file is. */
struct persist_params {
    const char *path;
    uint64_t    region_len;     /* bytes of segments (a seg_size multiple) */
    uint64_t    large_len;      /* bytes for large segments (seg_large_file_len) */
    uint32_t    seg_size;
    uint32_t    item_size_max;
    uint32_t    nshards;
    uint32_t    key_max;        /* a longer key marks a damaged item */
};

/* A shard's marks that items' meaning depends on (store.c), written in
 * the file as they change. */
struct persist_shard {
    uint64_t seq_top;
    uint64_t flush_seq;
    uint32_t flush_at;
    uint32_t pad;
};

/* What the run that wrote the file knew of each flash file (ext_path, in
 * order), so a restart tells the same file from another
 * (flash_recover.c, which also sums it); all zero in a new file. */
#define PERSIST_FLASH_MAX 8
struct persist_flash {
    uint64_t id;          /* the file's label (flash_dev_id); 0: none */
    uint64_t size;        /* bytes of pages */
    uint64_t path_hash;
    uint32_t page_size;
    uint32_t pad;
    uint64_t sum;
};

enum persist_open_result {
    PERSIST_FAIL = -1,   /* refused (unsafe file) or I/O error: err says why */
    PERSIST_COLD = 0,    /* a new or reset file: nothing to load */
    PERSIST_WARM = 1,    /* a compatible file: its segments may be loaded */
};

/* Open or create the file, check that it is safe to map (owned by us,
 * mode 0600 or stricter, not a symlink, on tmpfs or a DAX file), and map
 * it. An incompatible or damaged header is logged and the file reset
 * (cold). With PERSIST_WARM the hash secret and clock base are restored
 * (hash_secret_set, clock_restore). *region gets the segment area,
 * aligned to seg_size. */
enum persist_open_result persist_open(const struct persist_params *p, unsigned char **region,
                                      char *err, size_t errlen);
/* Refuse a file not fit to hold cached data: not a regular file, not
 * owned by the server's user, or open to others (mode beyond 0600); err
 * says which. Shared with the flash tier's files (flash_dev.c). */
int persist_check_private(int fd, const char *path, char *err, size_t errlen);
/* Was the file last closed by persist_close(true)? (for the log) */
bool persist_was_clean(void);
/* Unmap, marking a graceful close if `clean`. */
void persist_close(bool clean);
bool persist_active(void);

struct persist_shard *persist_shard(unsigned idx);
/* Flash file idx's entry (< PERSIST_FLASH_MAX), in the file; NULL without -e. */
struct persist_flash *persist_flash(unsigned idx);

/* May this slot of the file (the region's or a large one) hold items?
 * Read with pread, so the never-written part of a file stays a hole. */
bool persist_slot_used(const struct seg *slot);
/* Where the large segments' area starts (its length: large_len). */
unsigned char *persist_large(void);

/* Is s in the file? */
bool persist_has(const struct seg *s);

/* The item at `it` (size bytes, the next at s->used order) is complete:
 * extend s's checksum over it. One 8-byte store publishes both the new
 * checksum and the sealed length, so a kill at any instant leaves them
 * consistent. Does nothing for a segment outside the file. */
void persist_seal(struct seg *s, const unsigned char *it, size_t size);
/* Seal every item of s (s->used bytes, written anew), in order. */
void persist_seal_all(struct seg *s);
/* s starts over (new, or compacted): nothing of it is sealed. */
void persist_unseal(struct seg *s);

/* Shard `shard`'s compaction journal: a segment-sized slot after the
 * region, where a compaction writes the items it keeps before it rewrites
 * its segment (s) in place. Write the items to seg_data(j) (seal 0), then
 * persist_journal_seal(j, s, base, used) with s's new sequence base and
 * length (s itself untouched so far): j becomes a sealed image of what s
 * will be, which the next start copies over s if a kill cuts the rewrite.
 * persist_journal_clear(j) once s is sealed again. */
struct seg *persist_journal(unsigned shard);
void persist_journal_seal(struct seg *j, const struct seg *s, uint64_t base, uint32_t used);
void persist_journal_clear(struct seg *j);

/* Check a segment read from the file: header fields in range and the
 * checksum chain over its sealed items. Returns the sealed bytes (the
 * items to trust; *nitems of them), or -1 if the segment cannot be
 * trusted at all. */
long persist_verify(const struct seg *s, unsigned nshards, size_t slot_size, uint32_t *nitems);

#endif
