/*
 * seg: segment memory, the global budget and the free pool.
 *
 * Why a budget counter rather than counting malloc'ed bytes: every
 * segment's full size is charged before it is mapped, so item memory can
 * never pass mem_limit, whatever the item sizes. Why a pool: freed standard
 * segments stay mapped for reuse, and the pool is trimmed (munmap) whenever
 * mapped bytes (in use + pooled) would pass the limit, so resident item
 * memory is bounded by mem_limit too, not only the accounted part. The
 * pool is also kept within a share of the bytes in use (SEG_POOL_SHARE),
 * so that resident memory follows the data down when it shrinks (1 KiB
 * values overwritten by 32 B ones) instead of staying at its high-water
 * mark until the limit is reached.
 */
#include "storage/seg.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/strnum.h"

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
static uint64_t pooled;                /* bytes in pool; under pool_lock */
static uint64_t mapped;                /* in use + pooled; under pool_lock */
/* id -> segment, and a stack of free ids; both mapped once, untouched
 * pages cost nothing. Under pool_lock. */
static struct seg **table;
struct seg *const *seg_table;
static uint32_t *id_links;             /* next free id, for free ids */
static uint32_t id_free;               /* top of the free stack; 0 = empty */
static uint32_t id_next;               /* ids never handed out start here */

/* Large pages (anonymous item memory always; the -e file with -L, as
 * memcached's -L; store.c decides): standard segments are carved from one
 * region reserved at setup, as large as the memory limit, and marked
 * MADV_HUGEPAGE, so the kernel can back 32 segments of 64 KiB with one
 * 2 MiB page: one TLB entry where 4 KiB pages take 512, for a store whose
 * items are spread over hundreds of MB. The region is reserved, not
 * committed (MAP_NORESERVE): its pages become resident as segments are
 * first written, in order, so at most one huge page is partly used.
 * Region segments are never unmapped: trimming the pool gives their pages
 * back with MADV_DONTNEED (which also clears the header, so they are kept
 * by index, `cold`) and reuses them before carving more. Segments past the
 * region (a limit raised at run time) and large ones are mapped alone. */
#define SEG_HUGE_PAGE  ((size_t)2 << 20)

static unsigned char *region, *region_end;
static size_t region_carved;           /* bytes handed out from the start */
static uint32_t *cold;                 /* indexes of trimmed region segments */
static size_t ncold;
static bool huge_advised;              /* madvise(MADV_HUGEPAGE) took */
/* -e: the region is a shared mapping of the cache file (persist.c owns
 * it); slots loaded at start-up are marked in `adopted` until ready. */
static bool region_file;
static bool *adopted;

/* -e: large segments live in the file too, after the region, in slots of
 * power-of-two classes (2, 4, 8... standard segments) up to one that fits
 * the largest item. The budget bounds their bytes by the limit and each
 * item of a class costs over half its slot, so 2 * limit / slot + 1 slots
 * per class always suffice: the area is that many, about 2 * limit per
 * class of address space and file length, but the file is sparse (tmpfs
 * holes) and an item touches only its own pages, and a freed slot's pages
 * go back (MADV_REMOVE). Hand-written rather than a general allocator:
 * with a slot per class no run of free space is ever searched for. */
#define SEG_LCLASS_MAX 32

struct lclass {
    unsigned char *base;
    size_t slot;              /* bytes per slot */
    uint32_t n, nfree;
    uint32_t *free;           /* stack of free slot indexes */
};
static struct lclass lclass[SEG_LCLASS_MAX];
static unsigned nlclass;
static size_t nlarge;         /* slots in every class */
static bool *ladopted;        /* per slot (in class order), until ready */

/* The classes for segments of seg_size with this limit and largest item:
 * fills cl (slot, n) and returns the count. */
static unsigned lclass_layout(size_t size, uint64_t limit, size_t item_max, struct lclass *cl)
{
    unsigned k = 0;
    size_t slot = size * 2;

    while (k < SEG_LCLASS_MAX) {
        cl[k].slot = slot;
        cl[k].n = (uint32_t)(2 * limit / slot + 1);
        k++;
        if (slot >= SEG_HDR_SIZE + item_max)
            break;
        slot *= 2;
    }
    return k;
}

size_t seg_large_file_len(size_t size, uint64_t limit, size_t item_max)
{
    struct lclass cl[SEG_LCLASS_MAX];
    unsigned n = lclass_layout(size, limit, item_max, cl);
    size_t len = 0;

    for (unsigned k = 0; k < n; k++)
        len += cl[k].n * cl[k].slot;
    return len;
}

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

static bool in_region(const struct seg *s)
{
    return (const unsigned char *)s >= region && (const unsigned char *)s < region_end;
}

/* s's slot in the file's large area: its class in *k, its index among all
 * large slots returned; -1 if s is not there. */
static long large_slot(const struct seg *s, unsigned *k)
{
    size_t before = 0;

    for (unsigned i = 0; i < nlclass; i++) {
        const struct lclass *c = &lclass[i];
        if ((const unsigned char *)s >= c->base &&
            (const unsigned char *)s < c->base + c->n * c->slot) {
            *k = i;
            return (long)(before + (size_t)((const unsigned char *)s - c->base) / c->slot);
        }
        before += c->n;
    }
    return -1;
}

/* A free large slot that holds `size` bytes, with an id; NULL if none.
 * Under pool_lock. */
static struct seg *large_take(size_t size)
{
    for (unsigned k = 0; k < nlclass; k++) {
        struct lclass *c = &lclass[k];
        struct seg *s;
        if (c->slot < size || c->nfree == 0)   /* (a larger class will do) */
            continue;
        s = (struct seg *)(c->base + (size_t)c->free[--c->nfree] * c->slot);
        if (!id_take(s)) {
            c->nfree++;
            return NULL;
        }
        return s;
    }
    return NULL;
}

/* Give a large slot back, its pages to tmpfs. Under pool_lock. */
static void large_give(struct seg *s, unsigned k)
{
    struct lclass *c = &lclass[k];
    size_t size = s->size;

    id_give(s);
    if (madvise(s, size, MADV_REMOVE) != 0)
        madvise(s, size, MADV_DONTNEED);
    c->free[c->nfree++] = (uint32_t)(((unsigned char *)s - c->base) / c->slot);
}

/* Lay out the large classes from `area` on. */
static void large_setup(unsigned char *area, uint64_t limit, size_t item_max)
{
    nlclass = area != NULL ? lclass_layout(seg_sz, limit, item_max, lclass) : 0;
    nlarge = 0;
    for (unsigned k = 0; k < nlclass; k++) {
        lclass[k].base = area;
        lclass[k].nfree = 0;
        lclass[k].free = calloc(lclass[k].n, sizeof(uint32_t));
        if (lclass[k].free == NULL)
            abort();   /* start-up */
        area += lclass[k].n * lclass[k].slot;
        nlarge += lclass[k].n;
    }
    ladopted = calloc(nlarge ? nlarge : 1, sizeof(*ladopted));
    if (ladopted == NULL)
        abort();   /* start-up */
}

static void large_teardown(void)
{
    for (unsigned k = 0; k < nlclass; k++)
        free(lclass[k].free);
    free(ladopted);
    ladopted = NULL;
    nlclass = 0;
    nlarge = 0;
}

/* Trimmed segments and huge pages. khugepaged fills a 2 MiB range of an
 * advised mapping back in whole once any page of it is resident (up to
 * max_ptes_none = 511 pages missing), and MADV_COLLAPSE does so at once:
 * a trimmed segment left under the advice would become resident again,
 * and RSS would climb back to the high-water mark. A range lying only in
 * part in an advised mapping is never collapsed, so the advice is counted
 * by range, not by segment: the first trimmed segment of a 2 MiB range
 * takes the whole range out (MADV_NOHUGEPAGE), the last one taken again
 * puts it back (MADV_HUGEPAGE). In-use segments of such a range lose no
 * huge page: giving a segment back (MADV_DONTNEED) has split it already.
 *
 * A run of marked ranges is one VMA and splits the advised one around it,
 * so the region costs 2 * runs + 1 of the process's vm.max_map_count
 * (65530 by default). Runs are counted and held to SEG_NOHUGE_RUNS_MAX,
 * which only a region of 32 GiB or more can reach (16384 ranges, every
 * other one marked). Past it the guarantee still holds, at some speed: a
 * range that would start a run joins the nearest one instead (the ranges
 * between lose huge pages), and a range that would split a run
 * when its last cold segment is taken again stays marked until its
 * marked neighbours are taken too. Should madvise fail all the same (the
 * process's other mappings took the VMA budget), the range stays advised
 * and is tried again at its next trim. */
#define SEG_NOHUGE_RUNS_MAX 8192u
#define RANGE_MARKED        0x8000u   /* in range_state: out of the advice */
static uint16_t *range_state;         /* per range: cold segments | RANGE_MARKED */
static size_t nranges;
static uint32_t nohuge_runs, nohuge_runs_max;

/* Is range r marked? r may be one past either end ((size_t)-1 included). */
static bool range_marked(size_t r)
{
    return r < nranges && (range_state[r] & RANGE_MARKED);
}

/* Take ranges [a, b] out of the advice (mark) or put them back, and count
 * the runs: its marked neighbours decide whether the span starts, extends
 * or joins runs (marking), or ends, shortens or splits one. */
static void range_advise(size_t a, size_t b, bool mark)
{
    unsigned nb = (unsigned)range_marked(a - 1) + (unsigned)range_marked(b + 1);

    if (madvise(region + a * SEG_HUGE_PAGE, (b - a + 1) * SEG_HUGE_PAGE,
                mark ? MADV_NOHUGEPAGE : MADV_HUGEPAGE) != 0)
        return;
    for (size_t r = a; r <= b; r++)
        range_state[r] = (uint16_t)(mark ? range_state[r] | RANGE_MARKED
                                         : range_state[r] & ~RANGE_MARKED);
    if (nb != 1)
        nohuge_runs = (nb == 0) == mark ? nohuge_runs + 1 : nohuge_runs - 1;
}

/* One more cold segment in range r. */
static void range_cool(size_t r)
{
    size_t a = r, b = r;

    if (range_state[r]++ & RANGE_MARKED)
        return;
    if (nohuge_runs >= nohuge_runs_max && !range_marked(r - 1) && !range_marked(r + 1)) {
        /* a new run would pass the bound: join the nearest one */
        for (size_t d = 1; d < nranges; d++) {
            if (range_marked(r - d)) {
                a = r - d + 1;
                break;
            }
            if (range_marked(r + d)) {
                b = r + d - 1;
                break;
            }
        }
    }
    range_advise(a, b, true);
}

/* One cold segment fewer in range r: with none left, the range and the
 * marked ranges next to it that hold none (joined past the bound) go
 * back under the advice, unless that would split a run past the bound. */
static void range_warm(size_t r)
{
    size_t a = r, b = r;

    if (--range_state[r] != RANGE_MARKED)
        return;
    while (a > 0 && range_state[a - 1] == RANGE_MARKED)
        a--;
    while (b + 1 < nranges && range_state[b + 1] == RANGE_MARKED)
        b++;
    if (nohuge_runs >= nohuge_runs_max && range_marked(a - 1) && range_marked(b + 1))
        return;
    range_advise(a, b, false);
}

static size_t range_of(const struct seg *s)
{
    return (size_t)((const unsigned char *)s - region) / SEG_HUGE_PAGE;
}

/* Keep a region segment whose pages were given back, or that was never
 * handed out, for reuse: out of the huge-page advice. */
static void region_trim(const struct seg *s)
{
    cold[ncold++] = (uint32_t)(((const unsigned char *)s - region) / seg_sz);
    if (range_state != NULL)
        range_cool(range_of(s));
}

/* The region segment of cold entry c (its range back under the advice
 * when it was the range's last cold one). */
static struct seg *region_warm(uint32_t c)
{
    struct seg *s = (struct seg *)(region + (size_t)c * seg_sz);

    if (range_state != NULL)
        range_warm(range_of(s));
    return s;
}

/* The debug (ASan) build lets a test lower the bound on marked runs, to
 * see the region past it without 32 GiB of it. */
static uint32_t runs_max(void)
{
#ifdef HC_DEBUG
    const char *v = getenv("HC_DEBUG_NOHUGE_RUNS");
    uint32_t n;

    if (v != NULL && strnum_u32(v, strlen(v), &n) && n > 0)
        return n;
#endif
    return SEG_NOHUGE_RUNS_MAX;
}

/* Reserve the region for `limit` bytes of standard segments. Failing
 * leaves large pages off: segments are then mapped one by one. */
static void region_setup(uint64_t limit)
{
    size_t len = ((size_t)limit + SEG_HUGE_PAGE - 1) & ~(SEG_HUGE_PAGE - 1);
    unsigned char *p = map_zero(len + SEG_HUGE_PAGE), *a;

    if (p == NULL)
        return;
    a = (unsigned char *)(((uintptr_t)p + SEG_HUGE_PAGE - 1) & ~(uintptr_t)(SEG_HUGE_PAGE - 1));
    if (a != p)
        munmap(p, (size_t)(a - p));
    munmap(a + len, SEG_HUGE_PAGE - (size_t)(a - p));
    cold = map_zero(len / seg_sz * sizeof(*cold));
    if (cold == NULL) {
        munmap(a, len);
        return;
    }
    region = a;
    region_end = a + len;
    region_carved = 0;
    ncold = 0;
    huge_advised = madvise(a, len, MADV_HUGEPAGE) == 0;
    /* (segments are at most 64 KiB: a range holds whole ones) */
    if (huge_advised && seg_sz <= SEG_HUGE_PAGE) {
        range_state = map_zero(len / SEG_HUGE_PAGE * sizeof(*range_state));
        nranges = range_state != NULL ? len / SEG_HUGE_PAGE : 0;
        nohuge_runs = 0;
        nohuge_runs_max = runs_max();
    }
}

/* The region is the -e file's segment area. Nothing is handed out until
 * seg_file_ready() (region_carved is the whole region, cold is empty). */
static void region_setup_file(unsigned char *file, size_t len, bool large_pages)
{
    size_t n = len / seg_sz;

    cold = map_zero(n * sizeof(*cold));
    adopted = calloc(n ? n : 1, sizeof(*adopted));
    if (cold == NULL || adopted == NULL)
        abort();   /* start-up */
    region = file;
    region_end = file + n * seg_sz;
    region_carved = n * seg_sz;
    ncold = 0;
    region_file = true;
    huge_advised = large_pages && madvise(file, len, MADV_HUGEPAGE) == 0;
}

static void region_teardown(void)
{
    if (region == NULL)
        return;
    munmap(cold, (size_t)(region_end - region) / seg_sz * sizeof(*cold));
    if (range_state != NULL)
        munmap(range_state, nranges * sizeof(*range_state));
    if (!region_file)   /* the file's mapping is persist.c's */
        munmap(region, (size_t)(region_end - region));
    free(adopted);
    adopted = NULL;
    large_teardown();
    region_file = false;
    region = region_end = NULL;
    cold = NULL;
    ncold = 0;
    range_state = NULL;
    nranges = 0;
    huge_advised = false;
}

/* A standard segment from the region (a trimmed one first), with an id;
 * NULL if the region is used up. Under pool_lock. */
static struct seg *region_take(void)
{
    struct seg *s;

    if (ncold > 0) {
        s = region_warm(cold[--ncold]);
    } else if (region != NULL && region_carved + seg_sz <= (size_t)(region_end - region)) {
        s = (struct seg *)(region + region_carved);
        region_carved += seg_sz;
    } else {
        return NULL;
    }
    if (!id_take(s)) {
        region_trim(s);
        return NULL;
    }
    return s;
}

/* Give a pooled segment's memory back to the OS. Under pool_lock. */
static void seg_unmap(struct seg *s)
{
    id_give(s);
    if (in_region(s)) {
        region_trim(s);
        /* in the file, give the pages back to tmpfs (they read as zeros,
         * a free segment), not only out of this mapping */
        if (!region_file || madvise(s, seg_sz, MADV_REMOVE) != 0)
            madvise(s, seg_sz, MADV_DONTNEED);
    } else {
        munmap(s, seg_sz);
    }
}

bool seg_huge_pages(void)
{
    return huge_advised;
}

void seg_setup(size_t size, uint64_t limit, bool large_pages)
{
    seg_sz = size;
    seg_addr_mask = ~(uintptr_t)(size - 1);
    page_sz = (size_t)sysconf(_SC_PAGESIZE);
    atomic_store(&mem_limit, limit);
    atomic_store(&mem_used, 0);
    atomic_store(&nsegs, 0);
    pool = NULL;
    pooled = 0;
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
    if (large_pages)
        region_setup(limit);
}

void seg_setup_file(size_t size, uint64_t limit, bool large_pages, unsigned char *file,
                    size_t len, unsigned char *large, size_t item_max)
{
    seg_setup(size, limit, false);
    region_setup_file(file, len, large_pages);
    large_setup(large, limit, item_max);
}

static size_t region_slots(void)
{
    return region_file ? (size_t)(region_end - region) / seg_sz : 0;
}

size_t seg_file_slots(void)
{
    return region_slots() + (region_file ? nlarge : 0);
}

struct seg *seg_file_slot(size_t i, size_t *slot_size)
{
    size_t n = region_slots();

    *slot_size = seg_sz;
    if (i < n)
        return (struct seg *)(region + i * seg_sz);
    i -= n;
    for (unsigned k = 0;; k++) {
        if (i < lclass[k].n) {
            *slot_size = lclass[k].slot;
            return (struct seg *)(lclass[k].base + i * lclass[k].slot);
        }
        i -= lclass[k].n;
    }
}

bool seg_in_file(const struct seg *s)
{
    unsigned k;

    return region_file && (in_region(s) || large_slot(s, &k) >= 0);
}

bool seg_adopt(struct seg *s)
{
    unsigned k;
    long li = in_region(s) ? -1 : large_slot(s, &k);
    size_t size = li < 0 ? seg_sz : s->size;
    bool ok;

    if (!seg_budget_take(size))
        return false;
    pthread_mutex_lock(&pool_lock);
    ok = id_take(s);
    if (ok) {
        mapped += size;
        if (li < 0)
            adopted[((unsigned char *)s - region) / seg_sz] = true;
        else
            ladopted[li] = true;
    }
    pthread_mutex_unlock(&pool_lock);
    if (!ok) {
        atomic_fetch_sub(&mem_used, size);
        return false;
    }
    atomic_fetch_add(&nsegs, 1);
    return true;
}

void seg_file_ready(void)
{
    size_t i = region_slots(), li = nlarge;

    pthread_mutex_lock(&pool_lock);
    while (i-- > 0)   /* popped lowest first */
        if (!adopted[i])
            cold[ncold++] = (uint32_t)i;
    for (unsigned k = nlclass; k-- > 0;)
        for (uint32_t j = lclass[k].n; j-- > 0;)
            if (!ladopted[--li])
                lclass[k].free[lclass[k].nfree++] = j;
    pthread_mutex_unlock(&pool_lock);
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

/* The pool keeps at most 1/SEG_POOL_SHARE of the bytes in use, or
 * SEG_POOL_MIN_SEGS segments, whichever is more: enough for the churn of
 * defragmentation and compaction (a segment freed, one taken, in turn),
 * while a store whose data shrank gives the rest back to the kernel. A
 * segment taken again after that costs an mmap and its page faults. */
#define SEG_POOL_SHARE     8
#define SEG_POOL_MIN_SEGS  64

static bool pool_over(uint64_t extra)
{
    uint64_t keep = atomic_load(&mem_used) / SEG_POOL_SHARE;

    if (keep < SEG_POOL_MIN_SEGS * seg_sz)
        keep = SEG_POOL_MIN_SEGS * seg_sz;
    return mapped + extra > atomic_load(&mem_limit) || pooled > keep;
}

/* Unmap pooled segments until `extra` more mapped bytes fit the limit
 * and the pool its share (pool_over). Caller holds pool_lock. */
static void pool_trim(uint64_t extra)
{
    while (pool != NULL && pool_over(extra)) {
        struct seg *s = pool;
        pool = s->next;
        pooled -= seg_sz;
        mapped -= seg_sz;
        seg_unmap(s);
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
        pooled -= seg_sz;
    } else {
        pool_trim(size);
        mapped += size;
        s = size == seg_sz ? region_take() : large_take(size);
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
    s->seal = 0;   /* first: a restart must not trust what was here */
    s->state = SEG_STATE_IN_USE;
    s->shard = 0;
    s->prev = s->next = NULL;
    s->base = 0;
    s->size = size;
    s->cap = (uint32_t)(size - SEG_HDR_SIZE);
    s->used = 0;
    s->live = 0;
    s->min_exp = 0;
    s->classes = 0;
    s->large = size != seg_sz;
    atomic_fetch_add(&nsegs, 1);
    return s;
}

void seg_destroy(struct seg *s)
{
    size_t size = s->size;

    s->state = SEG_STATE_FREE;   /* a restart must not load it */
    atomic_fetch_sub(&nsegs, 1);
    pthread_mutex_lock(&pool_lock);
    if (s->large) {
        unsigned k;
        mapped -= size;
        if (large_slot(s, &k) >= 0) {
            large_give(s, k);
        } else {
            id_give(s);
            munmap(s, size);
        }
    } else {
        s->next = pool;
        pool = s;
        pooled += seg_sz;
        pool_trim(0);
    }
    pthread_mutex_unlock(&pool_lock);
    atomic_fetch_sub(&mem_used, size);
}

void seg_detach(struct seg *s)
{
    atomic_fetch_sub(&nsegs, 1);
    pthread_mutex_lock(&pool_lock);
    mapped -= s->size;
    id_give(s);
    pthread_mutex_unlock(&pool_lock);
    atomic_fetch_sub(&mem_used, s->size);
}

void seg_teardown(void)
{
    pthread_mutex_lock(&pool_lock);
    while (pool != NULL) {
        struct seg *s = pool;
        pool = s->next;
        id_give(s);
        if (!in_region(s))
            munmap(s, seg_sz);
    }
    pooled = 0;
    mapped = 0;
    region_teardown();
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
