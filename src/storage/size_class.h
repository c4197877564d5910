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

/* Bytes memcached would take for this item (its ITEM_ntotal: 48-byte
 * header, key + NUL, client-flags suffix, value + "\r\n", CAS). */
size_t size_class_mc_total(size_t nkey, size_t nvalue, bool has_flags, bool use_cas);
/* The class (1..size_class_count()) memcached puts an item of `total`
 * bytes in; items over the largest chunk go to the largest class. */
unsigned size_class_of(size_t total);
/* Place items as memcached would with or without CAS (-C); store_setup
 * calls it before any thread runs (default: with CAS). */
void size_class_setup(bool use_cas);
bool size_class_use_cas(void);
/* The same two for an item, with the CAS setting above: the one way every
 * per-class figure (stats items/slabs/sizes, dumps, watch) places items. */
size_t size_class_item_total(size_t nkey, size_t nvalue, bool has_flags);
unsigned size_class_of_item(size_t nkey, size_t nvalue, bool has_flags);
/* The chunk size of class id, 1..size_class_count(). */
uint32_t size_class_chunk(unsigned id);
/* The largest class id. */
unsigned size_class_count(void);

#endif
