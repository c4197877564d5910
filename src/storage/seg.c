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
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#define SEG_ADDR_BITS 48   /* = HTAB_PTR_BITS */

static size_t seg_sz;
static size_t page_sz;
static _Atomic uint64_t mem_limit;
static _Atomic uint64_t mem_used;      /* charged: segments in use */
static _Atomic uint64_t nsegs;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct seg *pool;               /* free standard segments */
static uint64_t mapped;                /* in use + pooled; under pool_lock */

void seg_setup(size_t size, uint64_t limit)
{
    seg_sz = size;
    page_sz = (size_t)sysconf(_SC_PAGESIZE);
    atomic_store(&mem_limit, limit);
    atomic_store(&mem_used, 0);
    atomic_store(&nsegs, 0);
    pool = NULL;
    mapped = 0;
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
    /* the hash table keeps 48-bit item addresses (htab.h) */
    if (((uintptr_t)p + span - 1) >> SEG_ADDR_BITS) {
        munmap(p, span);
        return NULL;
    }
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
    if (s == NULL && (s = map_aligned(size)) == NULL) {
        pthread_mutex_lock(&pool_lock);
        mapped -= size;
        pthread_mutex_unlock(&pool_lock);
        atomic_fetch_sub(&mem_used, size);
        return NULL;
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
