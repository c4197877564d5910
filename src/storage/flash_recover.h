/*
 * flash_recover: a warm restart (-e) finds what is on flash again. The
 * stubs of flashed items live in the restart file's segments and come
 * back with them; what only lived in RAM, each device's page table, is
 * rebuilt from those stubs, and a device is trusted only if it is the very
 * file the last run wrote (its label's id, kept in the restart file too).
 */
#ifndef HC_STORAGE_FLASH_RECOVER_H
#define HC_STORAGE_FLASH_RECOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/flash_conf.h"
#include "storage/flash_dev.h"
#include "storage/persist.h"

/* One device's page table as the stubs a restart finds describe it.
 * Pure: no I/O; the unit test's entry point. */
struct flash_rebuild {
    uint32_t npages, page_size;
    struct flash_page_use *page;   /* npages; version 0: no stub met */
    uint64_t stale;                /* stubs met before a newer page version */
};
int flash_rebuild_init(struct flash_rebuild *r, uint32_t npages, uint32_t page_size);
void flash_rebuild_free(struct flash_rebuild *r);
/* One stub found. False: its item is to be dropped (no record can be at
 * loc, or its page was reused since: a newer version of it was met).
 * Stubs met before a newer version of their page stay, stale, and read
 * as misses (flash_dev_read sees the version), as they would have in the
 * run that wrote them. */
bool flash_rebuild_note(struct flash_rebuild *r, const struct flash_loc *loc);
/* Stubs kept in use (the live values of the pages in use). */
uint64_t flash_rebuild_live(const struct flash_rebuild *r);

/* What identifies a device between runs. */
struct flash_ident {
    const char *path;
    uint64_t    size;        /* bytes of pages */
    uint32_t    page_size;
    uint64_t    found_id;    /* the label the file held (flash_dev_found_id) */
};
/* Why the last run's entry `was` does not describe this device (the
 * stubs that name it must not be served), or NULL when it does. Pure. */
const char *flash_recover_mismatch(const struct persist_flash *was,
                                   const struct flash_ident *now);
/* Fill e for a device whose label is now `id`. */
void flash_recover_record(struct persist_flash *e, const struct flash_ident *now,
                          uint64_t id);

/* At start-up, after store_setup (the restart file's items are indexed)
 * and flash_tier_setup (c's devices are open), before any client or I/O
 * thread: with -e, match the devices against the restart file, drop the
 * items whose stubs name a device that is not the same file (or is no
 * longer given), rebuild the matched devices' page tables, and record
 * the devices' new labels. Without -e it does nothing. */
void flash_recover_run(const struct flash_conf *c);

#endif
