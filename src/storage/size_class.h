/*
 * size_class: memcached's slab classes (growth factor 1.25, 48-byte minimum
 * chunk, 512 KiB largest chunk), used only to *report*: this storage has no
 * slab classes, but `stats items`, `stats slabs` and memcached-tool group
 * items by the class memcached would have put them in, so they read alike.
 */
#ifndef HC_STORAGE_SIZE_CLASS_H
#define HC_STORAGE_SIZE_CLASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* memcached's MAX_NUMBER_OF_SLAB_CLASSES (class 0 is never used). */
#define SIZE_CLASS_MAX        64
#define SIZE_CLASS_PAGE_SIZE  (1024u * 1024u)   /* memcached's slab_page_size */

#define SIZE_CLASS_MC_HDR  48u   /* memcached's sizeof(item), 64-bit */
#define SIZE_CLASS_ALIGN   8u    /* its CHUNK_ALIGN_BYTES */

/* Bytes memcached would take for this item (its ITEM_ntotal: 48-byte
 * header, key + NUL, client-flags suffix, value + "\r\n", CAS). */
static inline size_t size_class_mc_total(size_t nkey, size_t nvalue, bool has_flags,
                                         bool use_cas)
{
    return SIZE_CLASS_MC_HDR + nkey + 1 + (has_flags ? 4u : 0u) + nvalue + 2 +
           (use_cas ? 8u : 0u);
}
/* The class (1..size_class_count()) memcached puts an item of `total`
 * bytes in; items over the largest chunk go to the largest class. */
unsigned size_class_of(size_t total);
/* Place items as memcached would with or without CAS (-C); store_setup
 * calls it before any thread runs (default: with CAS). */
void size_class_setup(bool use_cas);
bool size_class_use_cas(void);
/* The same two for an item, with the CAS setting above: the one way every
 * per-class figure (stats items/slabs/sizes, dumps, watch) places items
 * (size_class_of_item is inline, at the end). */
size_t size_class_item_total(size_t nkey, size_t nvalue, bool has_flags);
/* The chunk size of class id, 1..size_class_count(). */
uint32_t size_class_chunk(unsigned id);
/* The largest class id. */
unsigned size_class_count(void);

/* size_class.c's tables, in the open only for size_class_of_item below:
 * a set places its item, the old copy it retires and the request in a
 * class, and the calls took 94 of a 32 B set's 2,406 instructions
 * (callgrind, issue 21). Read-only once built. */
#define SIZE_CLASS_BY8     (SIZE_CLASS_PAGE_SIZE / 2 / SIZE_CLASS_ALIGN + 1)
struct size_class_tab {
    bool     built;     /* by size_class_setup, or a first lookup */
    bool     cas_on;
    unsigned largest;
    uint8_t  by8[SIZE_CLASS_BY8];   /* the class of each size, 8-byte steps */
};
extern struct size_class_tab size_class_tab;
void size_class_build(void);

/* size_class_of(size_class_item_total(...)), in one. */
static inline unsigned size_class_of_item(size_t nkey, size_t nvalue, bool has_flags)
{
    size_t total = size_class_mc_total(nkey, nvalue, has_flags, size_class_tab.cas_on);

    if (!size_class_tab.built)
        size_class_build();
    return total > SIZE_CLASS_PAGE_SIZE / 2 ? size_class_tab.largest
         : size_class_tab.by8[(total + SIZE_CLASS_ALIGN - 1) / SIZE_CLASS_ALIGN];
}

#endif
