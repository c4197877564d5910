/*
 * seg: segment memory, the global budget and the free pool.
 *
 * Why a budget counter rather than counting malloc'ed bytes: every
 * segment's full size is charged before it is mapped, so item memory can
 * never pass mem_limit, whatever the item sizes. Why a pool: freed standard
 * segments stay mapped for reuse, and the pool is trimmed (munmap) whenever
 * mapped bytes (in use + pooled) would pass the limit, so resident item
 * memory is bounded by mem_limit too, not only the accounted part.
 */
#include "storage/seg.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#define SEG_TABLE_BYTES ((size_t)(SEG_ID_MAX + 1) * sizeof(struct seg *))
#define SEG_LINKS_BYTES ((size_t)(SEG_ID_MAX + 1) * sizeof(uint32_t))

static size_t seg_sz;
uintptr_t seg_addr_mask;
static size_t page_sz;
static _Atomic uint64_t mem_limit;
static _Atomic uint64_t mem_used;      /* charged: segments in use */
static _Atomic uint64_t nsegs;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct seg *pool;               /* free standard segments */
static uint64_t mapped;                /* in use + pooled; under pool_lock */
/* id -> segment, and a stack of free ids; both mapped once, untouched
 * pages cost nothing. Under pool_lock. */
static struct seg **table;
struct seg *const *seg_table;
static uint32_t *id_links;             /* next free id, for free ids */
static uint32_t id_free;               /* top of the free stack; 0 = empty */
static uint32_t id_next;               /* ids never handed out start here */

static void *map_zero(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Give s an id; false if none is left. Under pool_lock. */
static bool id_take(struct seg *s)
{
    uint32_t id;

    if (id_free != 0) {
        id = id_free;
        id_free = id_links[id];
    } else if (id_next <= SEG_ID_MAX) {
        id = id_next++;
    } else {
        return false;
    }
    s->id = id;
    table[id] = s;
    return true;
}

/* Under pool_lock, before s is unmapped. */
static void id_give(struct seg *s)
{
    table[s->id] = NULL;
    id_links[s->id] = id_free;
    id_free = s->id;
}

void seg_setup(size_t size, uint64_t limit)
{
    seg_sz = size;
    seg_addr_mask = ~(uintptr_t)(size - 1);
    page_sz = (size_t)sysconf(_SC_PAGESIZE);
    atomic_store(&mem_limit, limit);
    atomic_store(&mem_used, 0);
    atomic_store(&nsegs, 0);
    pool = NULL;
    mapped = 0;
    /* kept across teardown and setup (unit tests run several stores) */
    if (table == NULL) {
        table = map_zero(SEG_TABLE_BYTES);
        id_links = map_zero(SEG_LINKS_BYTES);
        if (table == NULL || id_links == NULL)
            abort();   /* start-up, 192 MiB of address space */
        seg_table = table;
        id_next = 1;
        id_free = 0;
    }
}

size_t seg_size(void)
{
    return seg_sz;
}

size_t seg_cost(size_t item_bytes)
{
    if (item_bytes <= seg_sz - SEG_HDR_SIZE)
        return seg_sz;
    return (SEG_HDR_SIZE + item_bytes + page_sz - 1) & ~(page_sz - 1);
}

bool seg_budget_take(size_t bytes)
{
    uint64_t cur = atomic_load(&mem_used);

    do {
        if (cur + bytes > atomic_load(&mem_limit))
            return false;
    } while (!atomic_compare_exchange_weak(&mem_used, &cur, cur + bytes));
    return true;
}

/* Unmap pooled segments until `extra` more mapped bytes fit the limit.
 * Caller holds pool_lock. */
static void pool_trim(uint64_t extra)
{
    while (pool != NULL && mapped + extra > atomic_load(&mem_limit)) {
        struct seg *s = pool;
        pool = s->next;
        mapped -= seg_sz;
        id_give(s);
        munmap(s, seg_sz);
    }
}

/* mmap `size` bytes aligned to seg_sz: map one segment more, cut the ends. */
static void *map_aligned(size_t size)
{
    size_t span = size + seg_sz;
    unsigned char *p = mmap(NULL, span, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uintptr_t a;
    size_t head, tail;

    if (p == MAP_FAILED)
        return NULL;
    a = ((uintptr_t)p + seg_sz - 1) & ~(uintptr_t)(seg_sz - 1);
    head = (size_t)(a - (uintptr_t)p);
    tail = span - head - size;
    if (head)
        munmap(p, head);
    if (tail)
        munmap((unsigned char *)a + size, tail);
    return (void *)a;
}

struct seg *seg_create(size_t item_bytes)
{
    size_t size = seg_cost(item_bytes);
    struct seg *s = NULL;

    pthread_mutex_lock(&pool_lock);
    if (size == seg_sz && pool != NULL) {
        s = pool;
        pool = s->next;
    } else {
        pool_trim(size);
        mapped += size;
    }
    pthread_mutex_unlock(&pool_lock);
    if (s == NULL) {
        bool ok = false;
        s = map_aligned(size);
        pthread_mutex_lock(&pool_lock);
        if (s != NULL && !(ok = id_take(s)))
            munmap(s, size);
        if (!ok)
            mapped -= size;
        pthread_mutex_unlock(&pool_lock);
        if (!ok) {
            atomic_fetch_sub(&mem_used, size);
            return NULL;
        }
    }
    s->prev = s->next = NULL;
    s->base = 0;
    s->size = size;
    s->cap = (uint32_t)(size - SEG_HDR_SIZE);
    s->used = 0;
    s->live = 0;
    s->large = size != seg_sz;
    atomic_fetch_add(&nsegs, 1);
    return s;
}

void seg_destroy(struct seg *s)
{
    size_t size = s->size;

    atomic_fetch_sub(&nsegs, 1);
    pthread_mutex_lock(&pool_lock);
    if (s->large) {
        mapped -= size;
        id_give(s);
        munmap(s, size);
    } else {
        s->next = pool;
        pool = s;
        pool_trim(0);
    }
    pthread_mutex_unlock(&pool_lock);
    atomic_fetch_sub(&mem_used, size);
}

void seg_teardown(void)
{
    pthread_mutex_lock(&pool_lock);
    while (pool != NULL) {
        struct seg *s = pool;
        pool = s->next;
        id_give(s);
        munmap(s, seg_sz);
    }
    mapped = 0;
    pthread_mutex_unlock(&pool_lock);
}

uint64_t seg_mem_used(void)
{
    return atomic_load(&mem_used);
}

uint64_t seg_mem_limit(void)
{
    return atomic_load(&mem_limit);
}

void seg_set_mem_limit(uint64_t bytes)
{
    atomic_store(&mem_limit, bytes);
    pthread_mutex_lock(&pool_lock);
    pool_trim(0);
    pthread_mutex_unlock(&pool_lock);
}

uint64_t seg_count(void)
{
    return atomic_load(&nsegs);
}
