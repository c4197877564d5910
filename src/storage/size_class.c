/*
 * size_class: memcached 1.6's slab class table, computed as its
 * slabs_init() does with the default -f 1.25 and -n 48, so class ids and
 * chunk sizes in `stats items`/`stats slabs` are memcached's; see
 * size_class.h.
 */
#include "storage/size_class.h"

#include <pthread.h>

#define MC_ITEM_HDR        SIZE_CLASS_MC_HDR
#define MC_CHUNK_MIN       48u      /* -n */
#define MC_CHUNK_ALIGN     SIZE_CLASS_ALIGN
#define MC_CHUNK_MAX       (SIZE_CLASS_PAGE_SIZE / 2)   /* slab_chunk_max */
#define MC_FACTOR          1.25     /* -f */

static uint32_t chunk[SIZE_CLASS_MAX];
/* by8: the class of every size up to the largest chunk, in 8-byte steps
 * (the chunks are multiples of 8): one load per lookup, which the store
 * makes on every write and retire for its per-class counts. 64 KiB.
 * built: set once the tables are: by size_class_setup, before any thread
 * runs, or by the first lookup of a program that never calls it (a
 * single-threaded test), so a lookup needs no pthread_once call. cas_on:
 * set once, before any thread runs. */
struct size_class_tab size_class_tab = { .cas_on = true };
_Static_assert(SIZE_CLASS_BY8 == MC_CHUNK_MAX / MC_CHUNK_ALIGN + 1, "by8 covers every chunk");

static void table_setup(void)
{
    unsigned i = 0;
    uint32_t size = MC_ITEM_HDR + MC_CHUNK_MIN;

    while (++i < SIZE_CLASS_MAX - 1) {
        if (size >= MC_CHUNK_MAX / MC_FACTOR)
            break;
        if (size % MC_CHUNK_ALIGN)
            size += MC_CHUNK_ALIGN - size % MC_CHUNK_ALIGN;
        chunk[i] = size;
        size = (uint32_t)(size * MC_FACTOR);
    }
    size_class_tab.largest = i;
    chunk[i] = MC_CHUNK_MAX;
    for (uint32_t u = 0, id = 1; u < SIZE_CLASS_BY8; u++) {
        while (u * MC_CHUNK_ALIGN > chunk[id])
            id++;
        size_class_tab.by8[u] = (uint8_t)id;
    }
    size_class_tab.built = true;
}

static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_ready(void)
{
    pthread_once(&table_once, table_setup);
}

void size_class_build(void)
{
    table_ready();
}

void size_class_setup(bool cas)
{
    size_class_tab.cas_on = cas;
    table_ready();
}

bool size_class_use_cas(void)
{
    return size_class_tab.cas_on;
}

unsigned size_class_of(size_t total)
{
    if (!size_class_tab.built)
        table_ready();
    return total > MC_CHUNK_MAX ? size_class_tab.largest
         : size_class_tab.by8[(total + MC_CHUNK_ALIGN - 1) / MC_CHUNK_ALIGN];
}

size_t size_class_item_total(size_t nkey, size_t nvalue, bool has_flags)
{
    return size_class_mc_total(nkey, nvalue, has_flags, size_class_tab.cas_on);
}

uint32_t size_class_chunk(unsigned id)
{
    table_ready();
    return id >= 1 && id <= size_class_tab.largest ? chunk[id] : 0;
}

unsigned size_class_count(void)
{
    table_ready();
    return size_class_tab.largest;
}
