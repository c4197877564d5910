/*
 * store: shards, the item operations and eviction (Segcache-style, see
 * store.h).
 *
 * Locking. do_ means "the caller holds the shard's lock", memcached's
 * convention (item_get() takes the lock and calls do_item_get()): every
 * function that reads or changes a shard, its index, segments or items is
 * a do_ function, and only the store_* entry points take a lock
 * (shard_lock) and call them. Functions without the prefix touch no
 * shard state (hashing, CAS arithmetic, prefetch hints).
 *
 * Layout. The key space is split by the top bits of the keyed hash into
 * nshards shards; each has a mutex, an htab (htab.c) and a FIFO of
 * segments (seg.c). Items are appended to the shard's head segment (item.h
 * for the 7+ byte layout). Overwrite and delete only mark the old copy dead
 * and subtract it from its segment's live bytes; a segment with no live
 * bytes left (not the head) goes back to the pool at once.
 *
 * CAS, with no bytes in the item. A segment that starts taking items (new,
 * or compacted in place) is given a fresh range of its shard's 64-bit
 * sequence, as long as the segment (do_seg_number); the item at offset off
 * has sequence base + off. Items are only ever appended, so sequences grow
 * in write order and no two items share one, and an item reports
 * (seq << 8) | shard, unique across shards. A large item, alone in its
 * segment, takes the sequence of a dead 4-byte filler written to the head
 * in its stead (do_large_seq), so the order holds for it too. An item that
 * moves (a touch that adds an expiry, compaction, defragmentation) would
 * change its CAS; it keeps the one clients saw in an 8-byte field instead
 * (item.h), as does an item whose CAS the client chose (meta E).
 *
 * Flush records the last sequence placed: items with that one or a smaller
 * are dead, with no per-item timestamp (a moved item was live when it
 * moved, and its new place is newer than any earlier flush). A delayed
 * flush is applied by the first operation at or after its time, before
 * that operation stores anything, which gives exactly "items stored before
 * `when` die at `when`".
 *
 * Eviction, when the budget is spent: the shard's oldest segment is
 * compacted in place (second chance / CLOCK): live, unexpired items read
 * since they were written are kept, up to half the segment, with the read
 * bit cleared; the rest are dropped (live ones count as evictions, expired
 * or flushed ones as reclaimed). The compacted segment becomes the head. A
 * shard with less than half its fair share of segments (or none) steals
 * instead: it trylocks another shard and frees that shard's oldest segment
 * whole. It never blocks on a second shard lock, so no lock-order deadlock.
 * After the limit is lowered, whole segments are freed until under it.
 *
 * Memory. Item memory (segments, headers included) is charged to a global
 * budget before it is mapped and never passes mem_limit; pooled free
 * segments are trimmed so mapped item memory stays within it too. On top of
 * that, resident memory adds a documented overhead:
 *   - hash tables: 6 bytes per slot plus 1 byte per 8-slot bucket, kept
 *     60-90% full (htab.c grows by 1.5x), so 6.8-10.2 bytes per item
 *     (reported in stats hash_bytes); while one shard's table grows, the
 *     old table (2/3 the size of the new) lives until migrated;
 *   - nshards shard structs (about 1.3 KiB each, 1 KiB of it per-class
 *     counts) and up to one segment of alignment slack per mapping in
 *     virtual (not resident) memory;
 *   - transient: an append/prepend/touch copies one value to the C heap;
 *   - per thread that compacts, a 64 KiB copy of the segment (compact_buf).
 *   - the segment id table (seg.c): 8 bytes per mapped segment;
 *   - up to one partly used 2 MiB huge page (seg.c; anonymous memory, or -L);
 *   - with -e, each shard's compaction journal once used: at most half a
 *     segment each (persist.c), 0.5 MiB for 16 shards.
 * Example: 1,000,000 items of 16-byte keys and 32-byte values take 52
 * bytes each in segments (52.6 with the partly written heads) plus 6.9
 * bytes of hash slots: 59.5 bytes per item, measured by test_store;
 * memcached needs ~123-129 (resident, measured by make bench).
 *
 * The caller must have run hash_setup() (the keyed hash secret) and
 * clock_setup() before store_setup().
 */
#include "storage/store.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/log.h"
#include "core/prefetch.h"
#include "core/strnum.h"
#include "storage/class_count.h"
#include "storage/flash_tier.h"
#include "storage/htab.h"
#include "storage/item.h"
#include "storage/persist.h"
#include "storage/seg.h"

#define STORE_SHARDS_DEFAULT   16
#define STORE_SHARD_BITS_MAX   8          /* CAS keeps the shard in 8 bits */
#define STORE_HASHPOWER_DEFAULT 16        /* memcached's default, 64k slots */
/* Smaller than Segcache's 1 MiB: each shard keeps one partly written head
 * segment, and 16 of those at 1 MiB idle 8 MiB on average (8 bytes per
 * item at 1M items); at 64 KiB that is 0.5 MiB. 64 KiB still amortises the
 * segment header (under 0.1%) and is a finer unit of eviction; items of
 * 64 KiB or more get an exact-size segment each (seg.c). */
#define STORE_SEG_SIZE_MAX     (64u << 10)
#define STORE_SEG_SIZE_MIN     (32u << 10)
/* Aim for at least this many segments per shard, so eviction works on a
 * small slice of each shard; small limits get smaller segments. */
#define STORE_SEGS_PER_SHARD   4
/* Eviction rounds one allocation may take before giving up. Each round
 * frees a segment or at least half of one, so this is never reached in
 * practice unless memory is held by items that cannot be moved. Rounds
 * taken while over the limit (just lowered) are not counted. */
#define STORE_ALLOC_ROUNDS     64

struct shard {
    _Alignas(CACHE_LINE) pthread_mutex_t lock;
    struct htab ht;
    struct seg *oldest, *newest, *head;
    _Atomic uint32_t nsegs;            /* read unlocked by stealers */
    uint64_t seg_bytes;                /* mapped bytes of this shard's segments */
    uint64_t defrag_after;             /* no defrag before total_items passes this */
    unsigned idx;
    uint64_t seq_top;                  /* end of the ranges given to segments */
    uint64_t last_seq;                 /* the newest item's sequence */
    uint64_t flush_seq;                /* items with seq <= this are dead */
    rel_time_t flush_at;               /* pending delayed flush; 0 = none */
    uint64_t curr_items, total_items, bytes;
    uint64_t evictions, evicted_unfetched, expired_unfetched, reclaimed;
    /* curr_items and bytes per memcached size class, kept with them, so
     * `stats items` and `stats slabs` walk no items (store_classes_get) */
    struct { uint64_t number, bytes; } cls[SIZE_CLASS_MAX];
};

static struct store_config cfg;
static struct shard *shards;
static _Atomic(store_observer_fn) observer;

void store_set_observer(store_observer_fn fn)
{
    atomic_store(&observer, fn);
}

/* do_observe's call, when there is an observer. */
static void do_observe_call(store_observer_fn fn, enum store_event ev, const char *key,
                            size_t nkey, enum store_found found, const unsigned char *it,
                            const struct item_hdr *h)
{
    struct store_event_info e = { .ev = ev, .key = key, .nkey = nkey, .found = found };
    if (it != NULL) {
        e.nvalue = item_is_flashed(it) ? flash_stub_len(it + h->key_off + h->nkey)
                                       : h->nvalue;
        e.has_flags = (h->iflags & ITEM_HAS_FLAGS) != 0;
        e.fetched = (h->iflags & ITEM_FETCHED) != 0;
        e.exptime = h->exptime;
        e.atime = seg_of(it)->created + h->atime;
    }
    fn(&e);
}

/* Tell the observer, if any, of an event on the item at it (NULL: none).
 * Inline: there is rarely one, and every lookup and set asks. */
static inline __attribute__((always_inline)) void
do_observe(enum store_event ev, const char *key, size_t nkey, enum store_found found,
           const unsigned char *it, const struct item_hdr *h)
{
    store_observer_fn fn = atomic_load_explicit(&observer, memory_order_relaxed);

    if (fn != NULL)
        do_observe_call(fn, ev, key, nkey, found, it, h);
}

static unsigned shard_bits;

static struct shard *shard_of(uint64_t hv)
{
    return shard_bits ? &shards[hv >> (64 - shard_bits)] : &shards[0];
}

/* An item's sequence: where it was written. */
static uint64_t do_item_seq(const unsigned char *it)
{
    struct seg *s = seg_of(it);
    return s->base + (uint64_t)(it - seg_data(s));
}

static uint64_t item_cas(const struct shard *sh, uint64_t seq)
{
    return cfg.use_cas ? (seq << STORE_SHARD_BITS_MAX) | sh->idx : 0;
}

/* The CAS a client sees: the stored one (meta E, a moved item) or the
 * sequence's. */
static uint64_t do_item_cas(const struct shard *sh, const unsigned char *it,
                            const struct item_hdr *h)
{
    if (!cfg.use_cas)
        return 0;
    if (h->iflags & ITEM_HAS_CAS)
        return h->cas;
    return item_cas(sh, do_item_seq(it));
}

/* Seconds from s's creation to `now` (0 if before): an item's access time. */
static uint32_t atime_since(const struct seg *s, rel_time_t now)
{
    return now > s->created ? now - s->created : 0;
}

static bool do_is_live(const struct shard *sh, const unsigned char *it,
                       const struct item_hdr *h, rel_time_t now)
{
    if (h->iflags & ITEM_DEAD)
        return false;
    if (h->exptime != 0 && h->exptime <= now)
        return false;
    return do_item_seq(it) > sh->flush_seq;
}

/* With -e, keep the shard's marks in the file as they change: a restart
 * must hand out no sequence (CAS) twice and must not bring back items a
 * flush killed. */
static void do_persist_marks(const struct shard *sh)
{
    if (persist_active())
        *persist_shard(sh->idx) = (struct persist_shard){
            .seq_top = sh->seq_top, .flush_seq = sh->flush_seq, .flush_at = sh->flush_at,
        };
}

/* A new sequence range of `cap` for a segment: its base. */
static uint64_t do_seq_take(struct shard *sh, uint32_t cap)
{
    uint64_t base = sh->seq_top + 1;

    sh->seq_top = base + cap;
    do_persist_marks(sh);
    return base;
}

/* Give s, about to take items, a sequence range of its own. */
static void do_seg_number(struct shard *sh, struct seg *s)
{
    s->base = do_seq_take(sh, s->cap);
}

/* An item written to s is complete (persist_seal), with -e only: the
 * call found nothing to do on anonymous memory, 19 instructions of every
 * set (callgrind, issue 21). */
static inline void do_seal(struct seg *s, const unsigned char *it, size_t size)
{
    if (cfg.memory_file != NULL)
        persist_seal(s, it, size);
}

/* ---- segment FIFO ---- */

static void do_fifo_append(struct shard *sh, struct seg *s)
{
    s->next = NULL;
    s->shard = (uint8_t)sh->idx;
    s->prev = sh->newest;
    if (sh->newest)
        sh->newest->next = s;
    else
        sh->oldest = s;
    sh->newest = s;
    sh->seg_bytes += s->size;
    atomic_fetch_add_explicit(&sh->nsegs, 1, memory_order_relaxed);
}

static void do_fifo_remove(struct shard *sh, struct seg *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        sh->oldest = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        sh->newest = s->prev;
    if (sh->head == s)
        sh->head = NULL;
    sh->seg_bytes -= s->size;
    atomic_fetch_sub_explicit(&sh->nsegs, 1, memory_order_relaxed);
}

static void do_seg_free(struct shard *sh, struct seg *s)
{
    do_fifo_remove(sh, s);
    seg_destroy(s);
}

/* Make s the segment new items go to; the old head is sealed. */
static void do_set_head(struct shard *sh, struct seg *s)
{
    struct seg *old = sh->head;

    sh->head = s;
    if (old != NULL && old != s && old->live == 0)
        do_seg_free(sh, old);
}

/* ---- prefetching ----
 *
 * A lookup waits for two cache misses in turn: the index bucket, then the
 * item whose key it compares (and for a store, that item's segment
 * header). With several requests in hand (a pipeline that arrived in one
 * read), the protocol layer names their keys first: store_prefetch hashes
 * each key and starts loading its bucket; store_prefetch_items, once all
 * are named, starts loading the candidate items. The misses of all the
 * requests then overlap instead of queueing (as in MICA, NSDI'14), and
 * the lookups that follow find the hash of each key remembered here, by
 * the key's address and length. Per thread; store_prefetch_clear must run
 * before the named key bytes may change. */
#define STORE_PREFETCH_MAX 128

struct prefetch_ent {
    const char *key;
    size_t      nkey;
    uint64_t    hv;
    uintptr_t   item;     /* its first candidate item, once looked for */
    bool        value;
};

/* How much of an item a get's prefetch loads: the size of the last item
 * this thread's gets read (items of a workload tend to be alike), at
 * least the 64 bytes a key compare may need and at most
 * STORE_GET_AHEAD. Copying a 1 KiB value out missed on each of its 17
 * lines in turn: 30% of the user time of 1 KiB gets at pipeline 1 (perf);
 * loaded with the other requests' items, the misses overlap. A wrong
 * guess costs a few loads of a neighbour's lines. */
#define STORE_GET_AHEAD 2048

/* Values longer than this are not loaded with the batch but a few
 * requests ahead of their copy (STORE_PREFETCH_WINDOW): the values of a
 * batch of 128 1 KiB gets are more lines than the core has misses in
 * flight and four times its L1, so a burst stalled on its prefetches
 * (72% of htab_prefetch_items' samples on the instruction after one) and
 * pushed the first values out before their copy. Windowed: 0.93x the CPU
 * per request at 1 KiB gets, pipeline 16 (31 interleaved rounds; windows of
 * 1 and 4: 1.05x and 1.04x of 2). The batch still loads each item's first
 * line (the key compare) and remembers where it is; the rest goes by that
 * address, no lock. */
#define STORE_PREFETCH_BURST_MAX 512
#define STORE_PREFETCH_WINDOW    2

static _Thread_local uint32_t pf_get_span = CACHE_LINE;

static _Thread_local struct prefetch_ent pf_ents[STORE_PREFETCH_MAX];
static _Thread_local unsigned pf_count, pf_next;
static _Thread_local bool pf_windowed;   /* this batch's values: windowed */

void store_prefetch(const char *key, size_t nkey, bool value)
{
    uint64_t hv;

    if (pf_count == STORE_PREFETCH_MAX || nkey > STORE_KEY_MAX)
        return;
    hv = hash_key(key, nkey);
    pf_ents[pf_count++] = (struct prefetch_ent){ key, nkey, hv, 0, value };
    htab_prefetch(&shard_of(hv)->ht, hv);
}

/* The keys of a batch (every connection of a round: 60 on average in the
 * 32 B set load) are taken shard by shard, under one lock each: a lock
 * and unlock per key were 55 instructions of every request (callgrind,
 * issue 21). The entries of a shard are chained in order (next), each
 * shard starts at its first entry (first); 0xff ends a chain. */
#define PF_NONE 0xff
_Static_assert(STORE_PREFETCH_MAX < PF_NONE, "entry indexes fit a byte");

/* The rest of e's value, past the first line the batch loaded. */
static void prefetch_value(const struct prefetch_ent *e)
{
    if (e->value && e->item != 0)
        prefetch_range(e->item + CACHE_LINE, e->item + pf_get_span, 0);
}

void store_prefetch_items(void)
{
    unsigned char first[1u << STORE_SHARD_BITS_MAX], next[STORE_PREFETCH_MAX];
    unsigned char of[STORE_PREFETCH_MAX];
    size_t span;

    if (pf_next >= pf_count)
        return;
    pf_windowed = pf_get_span > STORE_PREFETCH_BURST_MAX;
    span = pf_windowed ? CACHE_LINE : pf_get_span;
    memset(first, PF_NONE, (size_t)1 << shard_bits);
    for (unsigned i = pf_count; i-- > pf_next;) {
        of[i] = (unsigned char)(shard_of(pf_ents[i].hv) - shards);
        next[i] = first[of[i]];
        first[of[i]] = (unsigned char)i;
    }
    for (unsigned i = pf_next; i < pf_count; i++) {
        struct shard *sh = &shards[of[i]];
        if (first[of[i]] != i)
            continue;   /* taken with its shard's first entry */
        pthread_mutex_lock(&sh->lock);
        for (unsigned j = i; j != PF_NONE; j = next[j])
            pf_ents[j].item = htab_prefetch_items(&sh->ht, pf_ents[j].hv,
                                                  pf_ents[j].value ? span : CACHE_LINE);
        pthread_mutex_unlock(&sh->lock);
    }
    if (pf_windowed)
        for (unsigned i = pf_next; i < pf_next + STORE_PREFETCH_WINDOW && i < pf_count; i++)
            prefetch_value(&pf_ents[i]);
}

void store_prefetch_clear(void)
{
    pf_count = pf_next = 0;
    pf_windowed = false;
}

/* The hash of a key: remembered if store_prefetch named it (in order; a
 * request that never reached the store is skipped), else computed. The
 * search looks only a little ahead, so a lookup of a key that was never
 * named (a meta command amid a pipeline) costs a few compares, not 128. */
#define STORE_PREFETCH_SKIP 16

static uint64_t key_hash(const char *key, size_t nkey)
{
    unsigned end = pf_next + STORE_PREFETCH_SKIP < pf_count ? pf_next + STORE_PREFETCH_SKIP
                                                             : pf_count;

    for (unsigned i = pf_next; i < end; i++)
        if (pf_ents[i].key == key && pf_ents[i].nkey == nkey) {
            pf_next = i + 1;
            if (pf_windowed && i + STORE_PREFETCH_WINDOW < pf_count)
                prefetch_value(&pf_ents[i + STORE_PREFETCH_WINDOW]);
            return pf_ents[i].hv;
        }
    return hash_key(key, nkey);
}

/* ---- item lifetime ---- */

/* The earlier of two expiries, 0 being "never". */
static rel_time_t earliest_exp(rel_time_t a, rel_time_t b)
{
    return a == 0 || (b != 0 && b < a) ? b : a;
}

/* Note an item of class cls and expiry exptime written into s (seg.h). */
static void do_seg_note(struct seg *s, unsigned cls, rel_time_t exptime)
{
    s->classes |= UINT64_C(1) << cls;
    s->min_exp = earliest_exp(s->min_exp, exptime);
}

/* An item of class c and `size` bytes enters (+1) or leaves (-1)
 * curr_items: every change of curr_items goes through here, so the
 * per-class counts stay its exact split. */
static void do_count_class(struct shard *sh, unsigned c, size_t size, int dir)
{
    sh->curr_items += (uint64_t)(int64_t)dir;
    sh->bytes += (uint64_t)(int64_t)dir * size;
    sh->cls[c].number += (uint64_t)(int64_t)dir;
    sh->cls[c].bytes += (uint64_t)(int64_t)dir * size;
}

/* The same for the item h decodes. */
static void do_count(struct shard *sh, const struct item_hdr *h, int dir)
{
    do_count_class(sh, class_count_class_of(h), h->size, dir);
}

/* A counted item moved and grew from h->size to `size` bytes. */
static void do_count_grow(struct shard *sh, const struct item_hdr *h, size_t size)
{
    sh->bytes += size - h->size;
    sh->cls[class_count_class_of(h)].bytes += size - h->size;
}

/* A flashed item's value is gone with it (not when it only moves). */
static void do_flash_forget(const unsigned char *it, const struct item_hdr *h)
{
    if (item_is_flashed(it))
        flash_tier_forget(it + h->key_off + h->nkey);
}

/* Mark an item dead; its hash slot is the caller's business. */
static void do_retire(struct shard *sh, unsigned char *it, const struct item_hdr *h)
{
    struct seg *s = seg_of(it);

    if (item_is_flashed(it)) {
        size_t nkey;
        flash_tier_forget(item_key(it, &nkey) + nkey);
    }
    it[0] |= ITEM_DEAD;
    s->live -= (uint32_t)h->size;
    do_count(sh, h, -1);
    if (s->live == 0 && s != sh->head)
        do_seg_free(sh, s);
}

/* Take the item at `slot` out of the index and retire it: what a delete,
 * a dead item met by a lookup and a dropped flashed item share. Counters
 * of why it went, and the observer, are the caller's. */
static void do_unlink(struct shard *sh, uint64_t hv, htab_slot *slot, unsigned char *it,
                      const struct item_hdr *h)
{
    htab_remove(&sh->ht, hv, slot);
    do_retire(sh, it, h);
}

/* Why an item in the index is not live (as memcached's do_item_get asks:
 * flushed before expired). */
static enum store_found do_dead_reason(const struct shard *sh, const unsigned char *it,
                                       const struct item_hdr *h)
{
    if (h->iflags & ITEM_DEAD)
        return STORE_ABSENT;
    return do_item_seq(it) <= sh->flush_seq ? STORE_FLUSHED : STORE_EXPIRED;
}

/* Look a key up; a dead (expired/flushed) match is removed on the way.
 * *found says what was met. */
/* What a lookup tells the observer: its miss, its hit (store_read tells
 * a hit itself once the visit served it). */
#define LOOKUP_REPORT_MISS  1u
#define LOOKUP_REPORT_FOUND 2u

static unsigned char *do_lookup_as(struct shard *sh, uint64_t hv, const char *key,
                                   size_t nkey, struct item_hdr *h, htab_slot **slot_out,
                                   enum store_found *found, unsigned report);

static unsigned char *do_lookup(struct shard *sh, uint64_t hv, const char *key,
                                size_t nkey, struct item_hdr *h, htab_slot **slot_out,
                                enum store_found *found)
{
    return do_lookup_as(sh, hv, key, nkey, h, slot_out, found,
                        LOOKUP_REPORT_MISS | LOOKUP_REPORT_FOUND);
}

static unsigned char *do_lookup_as(struct shard *sh, uint64_t hv, const char *key,
                                   size_t nkey, struct item_hdr *h, htab_slot **slot_out,
                                   enum store_found *found, unsigned report)
{
    htab_slot *slot = htab_find(&sh->ht, hv, key, nkey);
    unsigned char *it;

    if (slot == NULL) {
        *found = STORE_ABSENT;
        if (report & LOOKUP_REPORT_MISS)
            do_observe(STORE_EV_LOOKUP, key, nkey, STORE_ABSENT, NULL, NULL);
        return NULL;
    }
    it = htab_slot_item(slot);
    item_decode(it, h);
    if (!do_is_live(sh, it, h, clock_now())) {
        *found = do_dead_reason(sh, it, h);
        if (report & LOOKUP_REPORT_MISS)
            do_observe(STORE_EV_LOOKUP, key, nkey, *found, NULL, NULL);
        sh->reclaimed++;
        if (!(h->iflags & ITEM_FETCHED))
            sh->expired_unfetched++;
        class_count_drop(h, false, 0);
        do_unlink(sh, hv, slot, it, h);
        return NULL;
    }
    *found = STORE_FOUND;
    if (report & LOOKUP_REPORT_FOUND)
        do_observe(STORE_EV_LOOKUP, key, nkey, STORE_FOUND, it, h);
    if (slot_out)
        *slot_out = slot;
    return it;
}

/* Drop a live-in-the-index item being overwritten by eviction: unindex it
 * and count why. `bytes` holds the item's bytes (it, or a copy of them).
 * Segment accounting is the caller's. */
static void do_drop(struct shard *sh, const unsigned char *it, const unsigned char *bytes,
                    const struct item_hdr *h, bool live)
{
    uint64_t hv = hash_key(bytes + h->key_off, h->nkey);
    htab_slot *slot = htab_find_item(&sh->ht, hv, it);

    if (slot != NULL)
        htab_remove(&sh->ht, hv, slot);
    do_flash_forget(bytes, h);
    class_count_drop(h, live, seg_of(it)->created + h->atime);
    if (live)
        do_observe(STORE_EV_EVICT, (const char *)bytes + h->key_off, h->nkey, STORE_FOUND,
                   it, h);
    if (live) {
        sh->evictions++;
        if (!(h->iflags & ITEM_FETCHED))
            sh->evicted_unfetched++;
    } else {
        sh->reclaimed++;
        if (!(h->iflags & ITEM_FETCHED))
            sh->expired_unfetched++;
    }
    do_count(sh, h, -1);
}

/* Walks over a segment (eviction, defragmentation; compaction copies the
 * segment first) go from item header to item header, each found from the
 * one before: a chain of cache misses, one per item once items are a line
 * or more apart. The segments defragmentation moves are mostly dead (about
 * 6% live at 300% under uniform overwrites), so there the walk is
 * nearly all of the work: 8% of the server's CPU in 1 KiB set runs (perf),
 * 2.5% with this. Items of a segment tend to be alike, so the header
 * STORE_WALK_AHEAD items ahead at the current item's stride is loaded
 * early (at the first item, all of those up to it); a wrong guess costs a
 * wasted load. always_inline and integer addresses: see core/prefetch.h. */
#define STORE_WALK_AHEAD 16

static inline __attribute__((always_inline)) void
walk_prefetch(const unsigned char *it, size_t size, bool first)
{
    for (unsigned k = first ? 1 : STORE_WALK_AHEAD; k <= STORE_WALK_AHEAD; k++)
        __builtin_prefetch((const void *)((uintptr_t)it + k * size));
}

/* Evict every item of s and give the segment back. */
static void do_seg_evict(struct shard *sh, struct seg *s)
{
    rel_time_t now = clock_now();
    uint32_t off = 0;
    struct item_hdr h;

    while (off < s->used) {
        unsigned char *it = seg_data(s) + off;
        item_decode(it, &h);
        walk_prefetch(it, h.size, off == 0);
        if (!(h.iflags & ITEM_DEAD))
            do_drop(sh, it, it, &h, do_is_live(sh, it, &h, now));
        off += (uint32_t)h.size;
    }
    do_seg_free(sh, s);
}

/* A moved item's size: 8 bytes more if it must now store its CAS. */
static size_t do_moved_size(const struct shard *sh, const unsigned char *it,
                         const struct item_hdr *h)
{
    return h->size + (!(h->iflags & ITEM_HAS_CAS) && do_item_cas(sh, it, h) != 0
                      ? ITEM_CAS_BYTES : 0);
}

/* Write a copy of the item at `it` (its bytes at `src`, h decoded from
 * them) to `to`, do_moved_size() bytes, with access time `atime` in to's
 * segment. The copy keeps the CAS clients saw in the stored field, since
 * its new place would give it another (a stored one, meta E, stays even
 * under -C), and every state bit. */
static void do_copy_moved(const struct shard *sh, unsigned char *to,
                          const unsigned char *it, const unsigned char *src,
                          const struct item_hdr *h, uint32_t atime)
{
    uint64_t cas = (h->iflags & ITEM_HAS_CAS) ? h->cas : do_item_cas(sh, it, h);
    size_t hdr = item_encode(to, h->nkey, h->nvalue, atime, h->exptime, h->flags, 0, cas);

    to[0] = (unsigned char)(src[0] | (cas ? ITEM_HAS_CAS : 0));
    if (item_is_flashed(src))
        item_set_flashed(to);
    memcpy(to + hdr, src + h->key_off, (size_t)h->nkey + h->nvalue);
}

/* Instead of dropping a live item at `it`, write its value to flash and a
 * copy that keeps the rest (do_copy_moved's) with the stub as its value
 * to `to`, if the stub copy fits in `room`. Its size, or 0 (nothing
 * written: the caller drops the item). */
static size_t do_flash_item(const struct shard *sh, unsigned char *to, size_t room,
                            const unsigned char *it, const struct item_hdr *h, uint64_t hv)
{
    uint64_t cas = (h->iflags & ITEM_HAS_CAS) ? h->cas : do_item_cas(sh, it, h);
    size_t size = item_size_of(h->nkey, ITEM_FLASH_STUB, h->exptime != 0, h->flags != 0,
                               cas != 0), hdr;
    unsigned char stub[FLASH_STUB_SIZE];

    if (size > room || !flash_tier_put(hv, it + h->key_off + h->nkey, h->nvalue, stub))
        return 0;
    hdr = item_encode(to, h->nkey, ITEM_FLASH_STUB, h->atime, h->exptime, h->flags, 0, cas);
    to[0] = (unsigned char)((it[0] | (cas ? ITEM_HAS_CAS : 0)) & ~ITEM_ACCESSED);
    item_set_flashed(to);
    memcpy(to + hdr, it + h->key_off, h->nkey);
    memcpy(to + hdr + h->nkey, stub, FLASH_STUB_SIZE);
    return size;
}

/* May eviction flash this item rather than keep it (second chance)? If
 * it was not read since the last compaction, or (ext_item_age) not for
 * that long; its access time is rounded up, so it may pass now. */
static bool flash_cold(const struct seg *s, const struct item_hdr *h, rel_time_t now)
{
    rel_time_t read_at = s->created + h->atime;

    return !(h->iflags & ITEM_ACCESSED) ||
           (now > read_at && now - read_at >= flash_tier_item_age());
}

#ifdef HC_DEBUG
#include <signal.h>
/* Debug builds only: tests kill the server at a point where a crash hurts
 * most (HC_DEBUG_KILL_AT=compact: a segment rewritten but not yet sealed
 * again; =defrag: an item moved, its old copy not yet dead), to prove
 * what a restart serves then. */
static void debug_kill_point(const char *where)
{
    const char *at = getenv("HC_DEBUG_KILL_AT");

    if (at != NULL && strcmp(at, where) == 0)
        raise(SIGKILL);
}
#else
#define debug_kill_point(where) ((void)0)
#endif

/* Without -e, compaction writes the items it keeps here first (from a
 * standard segment: at most STORE_SEG_SIZE_MAX bytes). */
static _Thread_local unsigned char compact_buf[STORE_SEG_SIZE_MAX];

/* Second chance: keep recently read items (up to half of s), drop the
 * rest, and make s the head with the room that frees. s gets a new
 * sequence range, so a kept item keeps its CAS in the stored field, which
 * may make it 8 bytes longer: the items are written elsewhere first (a
 * grown item may overwrite the start of the next one) and copied back.
 * In the -e file they are written to the shard's journal, sealed there
 * before s is touched (persist.h), so a kill at any instant leaves each
 * kept item a sealed copy; else to a copy buffer. */
static void do_seg_compact(struct shard *sh, struct seg *s)
{
    rel_time_t now = clock_now();
    uint32_t off = 0, w = 0, last = 0, used = s->used;
    uint64_t base, classes = 0;
    rel_time_t min_exp = 0;
    struct seg *j = persist_has(s) ? persist_journal(sh->idx) : NULL;
    unsigned char *dst = j != NULL ? seg_data(j) : compact_buf;
    struct item_hdr h;
    bool flash = flash_tier_active();

    if (flash)
        flash_tier_batch_begin();
    while (off < used) {
        unsigned char *it = seg_data(s) + off;
        item_decode(it, &h);
        off += (uint32_t)h.size;
        if (h.iflags & ITEM_DEAD)
            continue;
        bool live = do_is_live(sh, it, &h, now);
        bool stub = item_is_flashed(it);   /* flashed items stay while room */
        size_t size = do_moved_size(sh, it, &h);
        if (live && flash && !stub && flash_cold(s, &h, now) &&
            flash_tier_wants(h.nvalue, h.exptime, now)) {
            uint64_t hv = hash_key(it + h.key_off, h.nkey);
            htab_slot *slot = htab_find_item(&sh->ht, hv, it);
            size_t n = slot ? do_flash_item(sh, dst + w, s->cap / 2 - w, it, &h, hv) : 0;
            if (n > 0) {   /* counted in the class of its size in RAM now */
                struct item_hdr hs;
                item_decode(dst + w, &hs);
                do_count(sh, &h, -1);
                do_count(sh, &hs, +1);
                classes |= UINT64_C(1) << class_count_class_of(&hs);
                min_exp = earliest_exp(min_exp, h.exptime);
                htab_set(slot, hv, seg_data(s) + w);
                last = w;
                w += (uint32_t)n;
                continue;
            }
        }
        if (!live || !((h.iflags & ITEM_ACCESSED) || stub) || w + size > s->cap / 2) {
            do_drop(sh, it, it, &h, live);
            continue;
        }
        uint64_t hv = hash_key(it + h.key_off, h.nkey);
        htab_slot *slot = htab_find_item(&sh->ht, hv, it);
        /* same segment, same creation time: the access time stays */
        do_copy_moved(sh, dst + w, it, it, &h, h.atime);
        do_count_grow(sh, &h, size);
        classes |= UINT64_C(1) << class_count_class_of(&h);
        min_exp = earliest_exp(min_exp, h.exptime);
        dst[w] &= (unsigned char)~ITEM_ACCESSED;
        if (slot != NULL)
            htab_set(slot, hv, seg_data(s) + w);   /* where it is copied back */
        last = w;
        w += (uint32_t)size;
    }
    if (flash)
        flash_tier_batch_end();   /* every stub's record is on the device */
    /* the range is in the file's marks before any copy carries it, and
     * s's header stays as its seal says until the journal is sealed */
    base = do_seq_take(sh, s->cap);
    if (j != NULL)
        persist_journal_seal(j, s, base, w);
    persist_unseal(s);
    memcpy(seg_data(s), dst, w);
    s->base = base;
    s->used = w;
    s->live = w;
    s->classes = classes;
    s->min_exp = min_exp;
    if (w > 0)
        sh->last_seq = s->base + last;
    debug_kill_point("compact");
    persist_seal_all(s);
    if (j != NULL)
        persist_journal_clear(j);
    /* it now holds the shard's newest data: move it to the FIFO's end */
    do_fifo_remove(sh, s);
    do_fifo_append(sh, s);
    do_set_head(sh, s);
}

/* Free another shard's oldest segment. Only trylock: we hold our own lock. */
static bool do_steal(struct shard *sh)
{
    unsigned n = cfg.nshards, i, best = sh->idx;
    uint32_t most = 0;

    for (i = 0; i < n; i++) {
        uint32_t c = atomic_load_explicit(&shards[i].nsegs, memory_order_relaxed);
        if (i != sh->idx && c > most) {
            most = c;
            best = i;
        }
    }
    for (i = 0; i < n; i++) {
        struct shard *v = &shards[(best + i) % n];
        if (v == sh || atomic_load_explicit(&v->nsegs, memory_order_relaxed) == 0)
            continue;
        if (pthread_mutex_trylock(&v->lock) != 0)
            continue;
        if (v->oldest != NULL) {
            do_seg_evict(v, v->oldest);
            pthread_mutex_unlock(&v->lock);
            return true;
        }
        pthread_mutex_unlock(&v->lock);
    }
    return false;
}

/* Below half of an even share of the segments in use? */
static bool do_is_starved(const struct shard *sh)
{
    uint64_t mine = atomic_load_explicit(&sh->nsegs, memory_order_relaxed);
    return mine == 0 || mine * cfg.nshards * 2 < seg_count();
}

/* Make room by one step of eviction. False if nothing could be freed. */
static bool do_evict_step(struct shard *sh, bool may_compact)
{
    struct seg *victim = sh->oldest;

    if ((victim == NULL || do_is_starved(sh)) && do_steal(sh))
        return true;
    if (victim == NULL)
        return false;
    if (may_compact && !victim->large && seg_mem_used() <= seg_mem_limit())
        do_seg_compact(sh, victim);
    else
        do_seg_evict(sh, victim);
    return true;
}

static bool do_head_fits(const struct shard *sh, size_t size)
{
    const struct seg *hd = sh->head;
    return hd != NULL && hd->used + size <= hd->cap;
}

/* Take `size` bytes at the head, and start loading the bytes the next
 * item will most likely take: the same size again (items of a workload
 * tend to be alike). The head is memory last written long ago (a pooled
 * segment), so each of its lines is a miss, and the next unlock (a full
 * barrier) waits for every store of the value to reach its line: with
 * 1 KiB values that wait was 14% of the server's CPU in set runs (perf),
 * and loading one item ahead took 12-16% off the time of a set. A guess
 * that is wrong costs a few loads of lines the head will take anyway.
 * At most STORE_HEAD_AHEAD bytes: beyond a few KiB the hardware's stream
 * prefetcher has caught on, and a big item would issue hundreds of
 * prefetches. They never fault, and stop at the segment's end. */
#define STORE_HEAD_AHEAD 4096

static unsigned char *do_head_bump(struct shard *sh, size_t size)
{
    struct seg *hd = sh->head;
    unsigned char *p = seg_data(hd) + hd->used;
    size_t ahead = size < STORE_HEAD_AHEAD ? size : STORE_HEAD_AHEAD;
    uintptr_t a = (uintptr_t)p + size, end = (uintptr_t)seg_data(hd) + hd->cap;

    hd->used += (uint32_t)size;
    prefetch_range(a, a + ahead < end ? a + ahead : end, 1);
    return p;
}

/* A large item's sequence (its segment's base): the place of a filler in
 * the head, between the head's last item and its next; or, with no room
 * there, a fresh one after sealing the head. */
static void do_large_seq(struct shard *sh, struct seg *s)
{
    if (do_head_fits(sh, ITEM_FILLER_SIZE)) {
        unsigned char *f = do_head_bump(sh, ITEM_FILLER_SIZE);
        item_put_filler(f);
        do_seal(seg_of(f), f, ITEM_FILLER_SIZE);
        s->base = do_item_seq(f);
    } else {
        if (sh->head != NULL)
            do_set_head(sh, NULL);
        s->base = ++sh->seq_top;
        do_persist_marks(sh);
    }
}

/* Room for an item of `size` bytes, evicting if allowed. */
static unsigned char *do_alloc(struct shard *sh, size_t size)
{
    bool large = size > seg_size() - SEG_HDR_SIZE;
    size_t cost;
    int round;

    if (!large && do_head_fits(sh, size))
        return do_head_bump(sh, size);
    cost = seg_cost(size);
    for (round = 0; round < STORE_ALLOC_ROUNDS; round++) {
        if (seg_budget_take(cost)) {
            struct seg *s = seg_create(size);
            if (s == NULL)
                return NULL;
            s->created = clock_now();
            do_fifo_append(sh, s);
            if (large) {
                do_large_seq(sh, s);
                s->used = (uint32_t)size;
                return seg_data(s);
            }
            do_seg_number(sh, s);
            do_set_head(sh, s);
            return do_head_bump(sh, size);
        }
        if (!cfg.evict)
            return NULL;
        /* large items need budget, so only whole freed segments help */
        if (!do_evict_step(sh, !large)) {
            sched_yield();   /* others hold it all and are busy: retry */
            continue;
        }
        /* Over a limit just lowered (cache_memlimit), each step frees a
         * whole segment (no compaction there): such steps do not count,
         * or a limit lowered by more than STORE_ALLOC_ROUNDS segments
         * would fail the next store with "out of memory". */
        if (seg_mem_used() > seg_mem_limit())
            round--;
        if (!large && do_head_fits(sh, size))
            return do_head_bump(sh, size);
    }
    return NULL;
}

/* ---- defragmentation ----
 *
 * Overwrites and deletes leave dead bytes in old segments, which come back
 * only when every item of a segment is dead or memory runs out. Until then
 * the live items are strewn over many segments: 100,000 keys overwritten at
 * random under -m 1024 end up spread over up to 1 GiB, and nearly every
 * access misses the cache and the TLB (a third of the server's time in
 * set-heavy runs, measured with perf). So when a shard's segments hold more
 * than STORE_DEFRAG_PCT percent of its live bytes, the operation that
 * notices moves the live items of one mostly dead segment (the emptiest of
 * the oldest STORE_DEFRAG_SCAN, if at most half its bytes are live) to the
 * head and frees it. Each move costs a hash and an index probe (~100 ns).
 * The lower the bar, the more alive the segments moved (6-7% live at 300%
 * under uniform overwrites, store-bench 12-05) and the more moves per
 * set; at 200% the footprint, and with it resident memory, stays within
 * about twice the live data, so the working set stays in cache and RSS
 * under churn follows the data rather than the limit. Measured (issue 21,
 * 100,000 keys of 1 KiB overwritten at random after 32 B ones, -m 1024,
 * bench/ab_instructions.sh-style callgrind counts): at 300% RSS was 312 MB
 * (memcached 1.6.45: 134) at 2,800 instructions per request; at 200%, 210
 * MB at 2,861 (+2%); at 150%, 187 MB at 3,102 (+11%). Moved items keep
 * their CAS, flags and read bits.
 */
#define STORE_DEFRAG_PCT       200
#define STORE_DEFRAG_MIN_SEGS  8
#define STORE_DEFRAG_SCAN      8
#define STORE_DEFRAG_BACKOFF   1024   /* stores to wait after finding nothing */

/* Make the head able to take `size` more bytes without evicting. */
static bool do_head_room(struct shard *sh, size_t size)
{
    struct seg *s;

    if (do_head_fits(sh, size))
        return true;
    if (!seg_budget_take(seg_size()))
        return false;
    if ((s = seg_create(size)) == NULL)
        return false;
    do_seg_number(sh, s);
    s->created = clock_now();
    do_fifo_append(sh, s);
    do_set_head(sh, s);
    return true;
}

/* Move the live items of s to the head and free s. Stops early (s keeps
 * what was not moved) if no memory for a new head can be had. */
static void do_seg_move(struct shard *sh, struct seg *s)
{
    rel_time_t now = clock_now();
    uint32_t off = 0;
    struct item_hdr h;

    while (off < s->used) {
        unsigned char *it = seg_data(s) + off, *to;
        uint64_t hv;
        htab_slot *slot;
        uint32_t a;
        size_t size;

        item_decode(it, &h);
        off += (uint32_t)h.size;
        walk_prefetch(it, h.size, off == h.size);
        if (h.iflags & ITEM_DEAD)
            continue;
        if (!do_is_live(sh, it, &h, now)) {
            do_drop(sh, it, it, &h, false);
            it[0] |= ITEM_DEAD;
            s->live -= (uint32_t)h.size;
            continue;
        }
        hv = hash_key(it + h.key_off, h.nkey);
        slot = htab_find_item(&sh->ht, hv, it);
        size = do_moved_size(sh, it, &h);
        if (slot == NULL || !do_head_room(sh, size))
            break;
        /* the access time counts from the segment's creation */
        a = atime_since(sh->head, s->created + h.atime);
        to = do_head_bump(sh, size);
        do_copy_moved(sh, to, it, it, &h, a);
        do_seal(sh->head, to, size);
        sh->last_seq = do_item_seq(to);
        htab_set(slot, hv, to);
        debug_kill_point("defrag");   /* two sealed copies: the newer must win */
        it[0] |= ITEM_DEAD;
        s->live -= (uint32_t)h.size;
        sh->head->live += (uint32_t)size;
        do_count_grow(sh, &h, size);
        do_seg_note(sh->head, class_count_class_of(&h), h.exptime);
    }
    if (s->live == 0 && s != sh->head)
        do_seg_free(sh, s);
}

/* Run after each store: defragment one segment if the shard's segments
 * hold more than STORE_DEFRAG_PCT percent of its live bytes. */
static void do_defrag(struct shard *sh)
{
    struct seg *s, *best = NULL;
    unsigned n;

    if (sh->total_items < sh->defrag_after ||
        atomic_load_explicit(&sh->nsegs, memory_order_relaxed) < STORE_DEFRAG_MIN_SEGS ||
        sh->seg_bytes * 100 <= STORE_DEFRAG_PCT * sh->bytes)
        return;
    for (s = sh->oldest, n = 0; s != NULL && n < STORE_DEFRAG_SCAN; s = s->next, n++)
        if (s != sh->head && !s->large && s->live <= s->used / 2 &&
            (best == NULL || s->live < best->live))
            best = s;
    if (best == NULL) {
        sh->defrag_after = sh->total_items + STORE_DEFRAG_BACKOFF;
        return;
    }
    do_seg_move(sh, best);
}

/* A new copy of an item for do_write: key, value v1+v2 (v1/v2 must not
 * point into segment memory: making room may move it) and its fields;
 * then what do_write reports back. */
struct item_new {
    const char *key;
    size_t      nkey;
    uint32_t    flags;
    rel_time_t  exptime;
    const char *v1, *v2;
    size_t      n1, n2;
    uint8_t     extra;        /* meta bits: ITEM_STALE, ITEM_TOKEN_SENT */
    uint64_t    ecas;         /* nonzero: a CAS to store, one the client chose
                                 (meta E) or one a moved item keeps */
    bool        hold;         /* the caller goes on using out_it: no defrag */
    bool        flashed;      /* v1 is the stub of a flashed value (a copy) */
    bool        copy;         /* a new copy of the item the caller found
                                 (touch, md I): given up if making room
                                 evicted that item, not brought back */
    bool        observe;      /* its lookup of the old copy is a command's
                                 (a plain set): tell the observer */
    /* out, on STORE_OK */
    uint64_t         out_cas;
    unsigned char   *out_it;
    enum store_found out_old; /* the copy replaced, as do_lookup tells it */
};

/* A copy do_write made and does not index after all: dead, uncounted. */
static enum store_status do_unwrite(struct shard *sh, unsigned char *p, enum store_status st)
{
    struct item_hdr h;

    sh->total_items--;
    item_decode(p, &h);
    do_retire(sh, p, &h);
    return st;
}

/* Write a new copy of n->key and index it, replacing any old copy. */
static enum store_status do_write(struct shard *sh, uint64_t hv, struct item_new *n)
{
    uint32_t nvalue = (uint32_t)(n->n1 + n->n2);
    size_t size = item_size_of(n->nkey, nvalue, n->exptime != 0, n->flags != 0,
                               n->ecas != 0);
    unsigned char *p = do_alloc(sh, size);
    struct seg *s;
    htab_slot *slot;
    unsigned cls;
    size_t off;

    if (p == NULL) {
        class_count_oom(n->nkey, nvalue, n->flags != 0);
        return STORE_NO_MEMORY;
    }
    s = seg_of(p);
    sh->last_seq = do_item_seq(p);
    off = item_encode(p, (uint8_t)n->nkey, nvalue, atime_since(s, clock_now()),
                      n->exptime, n->flags, n->extra, n->ecas);
    if (n->flashed)
        item_set_flashed(p);
    memcpy(p + off, n->key, n->nkey);
    if (n->n1)
        memcpy(p + off + n->nkey, n->v1, n->n1);
    if (n->n2)
        memcpy(p + off + n->nkey + n->n1, n->v2, n->n2);
    do_seal(s, p, size);   /* complete: a restart may serve it */
    s->live += (uint32_t)size;
    cls = size_class_of_item(n->nkey, nvalue, n->flags != 0);
    do_count_class(sh, cls, size, 1);
    do_seg_note(s, cls, n->exptime);
    sh->total_items++;

    slot = htab_find(&sh->ht, hv, n->key, n->nkey);
    n->out_old = STORE_ABSENT;
    if (slot == NULL && n->copy) {
        /* the item was evicted while making room (its flash record, if
         * any, forgotten with it): the copy would bring it back */
        if (n->flashed)
            p[ITEM_VARINT_OFF] = ITEM_FLASH_STUB;
        return do_unwrite(sh, p, STORE_NOT_FOUND);
    }
    if (slot == NULL && n->observe)
        do_observe(STORE_EV_LOOKUP, n->key, n->nkey, STORE_ABSENT, NULL, NULL);
    if (slot != NULL) {
        struct item_hdr old;
        unsigned char *o = htab_slot_item(slot);
        item_decode(o, &old);
        bool live = do_is_live(sh, o, &old, clock_now());
        n->out_old = STORE_FOUND;
        if (n->observe && live)
            do_observe(STORE_EV_LOOKUP, n->key, n->nkey, STORE_FOUND, o, &old);
        else if (n->observe)
            do_observe(STORE_EV_LOOKUP, n->key, n->nkey, do_dead_reason(sh, o, &old),
                       NULL, NULL);
        if (!live) {
            /* a plain set over an expired or flushed copy: counted as
             * do_lookup counts one it meets */
            n->out_old = do_dead_reason(sh, o, &old);
            sh->reclaimed++;
            if (!(old.iflags & ITEM_FETCHED))
                sh->expired_unfetched++;
            class_count_drop(&old, false, 0);
        }
        htab_set(slot, hv, p);
        if (n->flashed)   /* the new copy carries the stub on */
            o[ITEM_VARINT_OFF] = ITEM_FLASH_STUB;
        do_retire(sh, o, &old);
    } else if (htab_insert(&sh->ht, hv, p) < 0) {
        return do_unwrite(sh, p, STORE_NO_MEMORY);
    }
    n->out_cas = !cfg.use_cas ? 0 : n->ecas ? n->ecas : item_cas(sh, do_item_seq(p));
    n->out_it = p;
    if (!n->hold)
        do_defrag(sh);   /* not while the caller holds an item pointer */
    return STORE_OK;
}

/* Run on every locked operation: due delayed flush, a migration step. */
static struct shard *shard_lock(uint64_t hv)
{
    struct shard *sh = shard_of(hv);

    pthread_mutex_lock(&sh->lock);
    if (sh->flush_at != 0 && clock_now() >= sh->flush_at) {
        sh->flush_seq = sh->last_seq;
        sh->flush_at = 0;
        do_persist_marks(sh);
    }
    htab_step(&sh->ht);
    return sh;
}

/* ---- public API ---- */

size_t store_item_size(size_t nkey, size_t nvalue)
{
    /* with every optional field: the check must not depend on flags */
    return ITEM_FIXED_HDR + ITEM_VARINT_MAX + ITEM_ATIME_BYTES + 4 + 4 + ITEM_CAS_BYTES +
           nkey + nvalue;
}

static unsigned log2_floor(uint64_t v)
{
    unsigned n = 0;
    while (v >>= 1)
        n++;
    return n;
}

/* ---- restart from the -e file (persist.h) ----
 *
 * Every segment the file holds in use is checked (persist_verify: its
 * checksum chain) and its sealed items indexed again, after a graceful
 * stop and after a crash alike: a write completes (is sealed) before its
 * reply is sent, so every acknowledged write is found, and nothing past
 * a segment's seal (a write cut by the kill) is read. */
static char setup_err[256];
static uint64_t file_limit;   /* the -m the file is sized for */

const char *store_setup_error(void)
{
    return setup_err;
}

/* Index one live item of a loaded segment; of two live copies of a key
 * (a kill between writing the new and retiring the old), the newer wins. */
static void do_load_one(struct shard *sh, unsigned char *it, uint32_t size, uint64_t hv)
{
    size_t nkey;
    const unsigned char *key = item_key(it, &nkey);
    htab_slot *slot;
    struct item_hdr oh;

    htab_step(&sh->ht);   /* as shard_lock does: a growth moves on */
    slot = htab_find(&sh->ht, hv, key, nkey);
    if (slot != NULL) {
        unsigned char *o = htab_slot_item(slot);
        if (do_item_seq(o) > do_item_seq(it)) {
            it[0] |= ITEM_DEAD;
            return;
        }
        item_decode(o, &oh);
        o[0] |= ITEM_DEAD;
        seg_of(o)->live -= (uint32_t)oh.size;
        do_count(sh, &oh, -1);
        htab_set(slot, hv, it);
    } else if (htab_insert(&sh->ht, hv, it) < 0) {
        it[0] |= ITEM_DEAD;
        return;
    }
    item_decode(it, &oh);
    seg_of(it)->live += size;
    do_count(sh, &oh, 1);
    do_seg_note(seg_of(it), class_count_class_of(&oh), oh.exptime);
    sh->total_items++;
}

/* Index s's items. Each item's index bucket is a cache miss: the hash of
 * the item STORE_LOAD_AHEAD ahead is taken and its bucket prefetched
 * first, so the misses overlap (as store_prefetch does for a pipeline;
 * a third of the load time went to waiting on them, perf). Dead, expired
 * and flushed items are marked dead for good. */
#define STORE_LOAD_AHEAD 8

static void do_load_items(struct shard *sh, struct seg *s, rel_time_t now)
{
    struct { unsigned char *it; uint64_t hv; uint32_t size; } ring[STORE_LOAD_AHEAD];
    unsigned head = 0, n = 0;
    uint32_t off = 0;
    struct item_hdr h;

    s->live = 0;
    s->min_exp = 0;
    s->classes = 0;
    while (off < s->used || n > 0) {
        if (off < s->used) {
            unsigned char *it = seg_data(s) + off;
            uint64_t hv;
            item_decode(it, &h);
            off += (uint32_t)h.size;
            if (!do_is_live(sh, it, &h, now) ||
                shard_of(hv = hash_key(it + h.key_off, h.nkey)) != sh) {
                it[0] |= ITEM_DEAD;
                continue;
            }
            htab_prefetch(&sh->ht, hv);
            ring[(head + n) % STORE_LOAD_AHEAD].it = it;
            ring[(head + n) % STORE_LOAD_AHEAD].hv = hv;
            ring[(head + n) % STORE_LOAD_AHEAD].size = (uint32_t)h.size;
            if (++n < STORE_LOAD_AHEAD)
                continue;
        }
        do_load_one(sh, ring[head].it, ring[head].size, ring[head].hv);
        head = (head + 1) % STORE_LOAD_AHEAD;
        n--;
    }
}

/* An index as large as the items to load, made before they are: growing
 * it on the way would hash every item again at each step. */
static void do_load_size_index(struct shard *sh, uint64_t items)
{
    if (items == 0)
        return;
    htab_destroy(&sh->ht);
    if (htab_create(&sh->ht, log2_floor(items + items / 4) + 1) < 0 &&
        htab_create(&sh->ht, 0) < 0)   /* the index then grows as it goes */
        abort();   /* start-up, and the smallest table failed */
}

static int seg_order(const void *a, const void *b)
{
    const struct seg *x = *(struct seg *const *)a, *y = *(struct seg *const *)b;

    if (x->shard != y->shard)
        return x->shard < y->shard ? -1 : 1;
    return x->base < y->base ? -1 : x->base > y->base;
}

/* Loading runs on up to STORE_LOAD_THREADS threads: checking splits the
 * file's slots, indexing the shards (a shard's segments, items and index
 * are touched by one thread only, before any client: no lock needed). */
#define STORE_LOAD_THREADS 4

struct load_job {
    unsigned part, nparts;
    struct seg **list;         /* checked segments (slots part of nparts) */
    size_t got, refused;
    uint64_t *items;           /* per shard: items its segments hold */
    struct seg *const *all;    /* indexing: every segment, by shard */
    size_t nall;
    rel_time_t now;
};

/* Check this job's share of the file's slots and take the good segments
 * into use. */
static void *load_check(void *arg)
{
    struct load_job *j = arg;
    size_t n = seg_file_slots(), i, slot_size;
    uint32_t nitems;

    for (i = j->part; i < n; i += j->nparts) {   /* the used slots come first */
        struct seg *s = seg_file_slot(i, &slot_size);
        long sealed;

        if (!persist_slot_used(s))
            continue;
        sealed = persist_verify(s, cfg.nshards, slot_size, &nitems);
        if (sealed <= 0 || !seg_adopt(s)) {
            j->refused += sealed < 0;
            s->state = SEG_STATE_FREE;
            continue;
        }
        s->used = (uint32_t)sealed;   /* a torn last write is overwritten */
        s->prev = s->next = NULL;
        j->items[s->shard] += nitems;
        j->list[j->got++] = s;
    }
    return NULL;
}

/* Index the segments of this job's shards, oldest first. */
static void *load_index(void *arg)
{
    struct load_job *j = arg;
    size_t i;

    for (i = 0; i < cfg.nshards; i++)
        if (i % j->nparts == j->part)
            do_load_size_index(&shards[i], j->items[i]);
    for (i = 0; i < j->nall; i++) {
        struct seg *s = j->all[i];
        struct shard *sh = &shards[s->shard];
        if (sh->idx % j->nparts != j->part)
            continue;
        do_fifo_append(sh, s);
        do_load_items(sh, s, j->now);
        if (s->used > 0 && s->base + s->used - 1 > sh->last_seq)
            sh->last_seq = s->base + s->used - 1;
    }
    return NULL;
}

/* Run fn on each job, on threads (job 0 on this one). */
static void load_run(void *(*fn)(void *), struct load_job *jobs, unsigned n)
{
    pthread_t tid[STORE_LOAD_THREADS];
    bool started[STORE_LOAD_THREADS] = { false };
    unsigned i;

    for (i = 1; i < n; i++)
        started[i] = pthread_create(&tid[i], NULL, fn, &jobs[i]) == 0;
    fn(&jobs[0]);
    for (i = 1; i < n; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        else
            fn(&jobs[i]);
    }
}

static void store_load(void)
{
    size_t n = seg_file_slots(), got = 0, refused = 0, i;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned nj = cpus < 1 ? 1 : cpus > STORE_LOAD_THREADS ? STORE_LOAD_THREADS : (unsigned)cpus;
    struct load_job jobs[STORE_LOAD_THREADS];
    struct seg **all = malloc((n ? n : 1) * sizeof(*all));
    uint64_t t0 = clock_mono_ms(), items = 0;
    unsigned k;

    if (all == NULL)
        abort();   /* start-up */
    for (i = 0; i < cfg.nshards; i++) {
        const struct persist_shard *m = persist_shard((unsigned)i);
        shards[i].seq_top = m->seq_top;
        shards[i].flush_seq = shards[i].last_seq = m->flush_seq;
        shards[i].flush_at = m->flush_at;
    }
    for (k = 0; k < nj; k++) {
        jobs[k] = (struct load_job){
            .part = k, .nparts = nj, .list = malloc((n ? n : 1) * sizeof(struct seg *)),
            .items = calloc(cfg.nshards, sizeof(uint64_t)), .now = clock_now(),
        };
        if (jobs[k].list == NULL || jobs[k].items == NULL)
            abort();   /* start-up */
    }
    load_run(load_check, jobs, nj);
    for (k = 0; k < nj; k++) {
        memcpy(all + got, jobs[k].list, jobs[k].got * sizeof(*all));
        got += jobs[k].got;
        refused += jobs[k].refused;
        for (i = 0; i < cfg.nshards && k > 0; i++)
            jobs[0].items[i] += jobs[k].items[i];
        if (k > 0)
            free(jobs[k].items);
    }
    qsort(all, got, sizeof(*all), seg_order);
    for (k = 0; k < nj; k++) {
        jobs[k].all = all;
        jobs[k].nall = got;
        jobs[k].items = jobs[0].items;
    }
    load_run(load_index, jobs, nj);
    /* the newest standard segment of each shard takes new items (a large
     * one, newer, holds its one item only); empty ones go */
    for (i = got; i-- > 0;)
        if (!all[i]->large && shards[all[i]->shard].head == NULL)
            shards[all[i]->shard].head = all[i];
    for (i = 0; i < got; i++) {
        struct shard *sh = &shards[all[i]->shard];
        if (all[i]->live == 0 && all[i] != sh->head)
            do_seg_free(sh, all[i]);
    }
    for (i = 0; i < cfg.nshards; i++)
        items += shards[i].curr_items;
    seg_file_ready();
    free(jobs[0].items);
    for (k = 0; k < nj; k++)
        free(jobs[k].list);
    free(all);
    log_warn("hardcached: -e %s: %llu items loaded from %zu segments in %llu ms (%u "
             "threads), after %s; %zu segments refused (damaged or torn)", cfg.memory_file,
             (unsigned long long)items, got, (unsigned long long)(clock_mono_ms() - t0), nj,
             persist_was_clean() ? "a graceful stop" : "a crash (every segment checked)",
             refused);
}

/* Segments in the -e file, or anonymous ones. -1 if the file is refused. */
static int setup_segments(size_t ssize)
{
    struct persist_params p = {
        .path = cfg.memory_file, .seg_size = (uint32_t)ssize,
        .region_len = (cfg.mem_limit + ssize - 1) / ssize * ssize,
        .item_size_max = cfg.item_size_max, .nshards = cfg.nshards,
        .key_max = STORE_KEY_MAX,
        .large_len = seg_large_file_len(ssize, cfg.mem_limit, cfg.item_size_max),
    };
    unsigned char *region;
    enum persist_open_result r;

    /* Anonymous item memory asks for huge pages with or without -L: with
     * 1 KiB items over 100 MB nearly every item access also missed the
     * TLB, and on 2 MiB pages 1 KiB gets and sets at pipeline 16 took
     * 13% less server CPU per request (issue 21, bench/ab_cpu.sh). seg.c
     * keeps trimmed segments out of them, so RSS still follows the data. */
    if (cfg.memory_file == NULL) {
        seg_setup(ssize, cfg.mem_limit, true);
        return 0;
    }
    r = persist_open(&p, &region, setup_err, sizeof(setup_err));
    if (r == PERSIST_FAIL) {
        errno = EPERM;
        return -1;
    }
    seg_setup_file(ssize, cfg.mem_limit, cfg.large_pages, region, p.region_len,
                   persist_large(), cfg.item_size_max);
    file_limit = p.region_len;
    return r;
}

int store_setup(const struct store_config *c)
{
    unsigned i, power;
    size_t ssize = STORE_SEG_SIZE_MAX;
    int warm;

    cfg = *c;
    if (cfg.nshards == 0)
        cfg.nshards = STORE_SHARDS_DEFAULT;
    if (cfg.hashpower == 0)
        cfg.hashpower = STORE_HASHPOWER_DEFAULT;
    if (cfg.mem_limit < STORE_SEG_SIZE_MIN ||
        (cfg.nshards & (cfg.nshards - 1)) != 0 ||
        cfg.nshards > (1u << STORE_SHARD_BITS_MAX) || cfg.hashpower > 40) {
        errno = EINVAL;
        return -1;
    }
    shard_bits = log2_floor(cfg.nshards);
    size_class_setup(cfg.use_cas);
    while (ssize > STORE_SEG_SIZE_MIN &&
           (uint64_t)ssize * cfg.nshards * STORE_SEGS_PER_SHARD > cfg.mem_limit)
        ssize /= 2;
    if ((warm = setup_segments(ssize)) < 0)
        return -1;

    shards = aligned_alloc(_Alignof(struct shard), cfg.nshards * sizeof(*shards));
    if (shards == NULL)
        return -1;
    memset(shards, 0, cfg.nshards * sizeof(*shards));
    power = cfg.hashpower > shard_bits ? cfg.hashpower - shard_bits : 0;
    for (i = 0; i < cfg.nshards; i++) {
        struct shard *sh = &shards[i];
        sh->idx = i;
        pthread_mutex_init(&sh->lock, NULL);
        if (htab_create(&sh->ht, power) < 0) {
            while (i-- > 0)
                htab_destroy(&shards[i].ht);
            free(shards);
            shards = NULL;
            errno = ENOMEM;
            return -1;
        }
    }
    if (cfg.memory_file != NULL && warm == PERSIST_WARM)
        store_load();
    else if (cfg.memory_file != NULL)
        seg_file_ready();
    return 0;
}

bool store_huge_pages(void)
{
    return seg_huge_pages();
}

void store_teardown(void)
{
    unsigned i;

    if (shards == NULL)
        return;
    for (i = 0; i < cfg.nshards; i++) {
        struct shard *sh = &shards[i];
        while (sh->oldest != NULL) {
            struct seg *s = sh->oldest;
            if (seg_in_file(s)) {   /* kept, in use, for the next start */
                do_fifo_remove(sh, s);
                seg_detach(s);
            } else {
                do_seg_free(sh, s);
            }
        }
        htab_destroy(&sh->ht);
        pthread_mutex_destroy(&sh->lock);
    }
    seg_teardown();
    persist_close(true);
    free(shards);
    shards = NULL;
}

/* it, h: the item the operation found (NULL: none); called after the
 * lock is dropped, from the header decoded under it. */
static void result_set(struct store_result *res, enum store_found found, uint64_t cas,
                       const unsigned char *it, const struct item_hdr *h)
{
    if (res != NULL) {
        res->found = found;
        res->cas = cas;
        res->met_class = it != NULL ? class_count_class_of(h) : 0;
    }
}

enum store_status store_write(const struct store_write *w, struct store_result *res)
{
    struct item_new n = {
        .key = w->key, .nkey = w->nkey, .flags = w->flags, .exptime = w->exptime,
        .v1 = w->value, .n1 = w->nvalue, .ecas = w->new_cas,
    };
    enum store_mode mode = w->mode;
    enum store_found found;
    uint64_t hv;
    struct shard *sh;
    struct item_hdr h;
    unsigned char *it = NULL;
    enum store_status st;
    char *old = NULL;

    if (w->nkey > STORE_KEY_MAX || store_item_size(w->nkey, w->nvalue) > cfg.item_size_max) {
        result_set(res, STORE_ABSENT, 0, NULL, NULL);
        return STORE_TOO_LARGE;
    }
    hv = key_hash(w->key, w->nkey);
    sh = shard_lock(hv);
    /* A plain set needs nothing of the old copy: do_write finds and
     * retires it (one index probe and key compare, not two). */
    if (mode == STORE_SET) {
        n.observe = true;
        st = do_write(sh, hv, &n);
        found = n.out_old;
        goto out;
    }
    it = do_lookup(sh, hv, w->key, w->nkey, &h, NULL, &found);
    switch (mode) {
    case STORE_ADD:
        if (it != NULL) {
            it[0] |= ITEM_ACCESSED;   /* memcached bumps it too */
            st = STORE_NOT_STORED;
            goto out;
        }
        break;
    case STORE_REPLACE:
    case STORE_APPEND:
    case STORE_PREPEND:
        if (it == NULL && w->vivify && mode != STORE_REPLACE) {
            /* meta ms N: an append to a missing key creates it */
            n.exptime = w->viv_exptime;
            break;
        }
        if (it == NULL) {
            st = STORE_NOT_STORED;
            goto out;
        }
        if (mode != STORE_REPLACE && w->cas != 0 && cfg.use_cas &&
            do_item_cas(sh, it, &h) != w->cas) {
            st = STORE_EXISTS;
            goto out;
        }
        break;
    default:   /* STORE_CAS */
        if (it == NULL) {
            st = STORE_NOT_FOUND;
            goto out;
        }
        if (cfg.use_cas && do_item_cas(sh, it, &h) != w->cas) {
            /* meta ms I: an older CAS still stores, as a stale value that
             * keeps the item's expiry and win token */
            if (!w->invalidate || w->cas > do_item_cas(sh, it, &h)) {
                st = STORE_EXISTS;
                goto out;
            }
            n.exptime = h.exptime;
            n.extra = (uint8_t)(ITEM_STALE | (h.iflags & ITEM_TOKEN_SENT));
        }
        break;
    }
    if (it != NULL && (mode == STORE_APPEND || mode == STORE_PREPEND) &&
        item_is_flashed(it)) {
        st = STORE_NOT_STORED;   /* memcached refuses it for extstore items */
        goto out;
    }
    if (it != NULL && (mode == STORE_APPEND || mode == STORE_PREPEND)) {
        /* copy the old value out: making room may move or drop it */
        size_t nold = h.nvalue;
        if (store_item_size(w->nkey, nold + w->nvalue) > cfg.item_size_max) {
            st = STORE_TOO_LARGE;
            goto out;
        }
        old = malloc(nold ? nold : 1);
        if (old == NULL) {
            st = STORE_NO_MEMORY;
            goto out;
        }
        memcpy(old, it + h.key_off + h.nkey, nold);
        n.flags = h.flags;
        n.exptime = h.exptime;
        if (mode == STORE_APPEND) {
            n.v1 = old, n.n1 = nold;
            n.v2 = w->value, n.n2 = w->nvalue;
        } else {
            n.v2 = old, n.n2 = nold;
        }
    }
    st = do_write(sh, hv, &n);
    free(old);
out:
    pthread_mutex_unlock(&sh->lock);
    result_set(res, found, st == STORE_OK ? n.out_cas : 0, it, &h);
    if (res != NULL)
        res->nvalue = st == STORE_OK ? n.n1 + n.n2 : 0;
    return st;
}

/* Report an item to fn. With `bump` it counts as a use (LRU, fetched,
 * last access); the meta state is worked out as memcached's mg does. */
static void do_visit(const struct shard *sh, unsigned char *it, const struct store_read *r,
                     bool created, store_visit_fn fn, void *ctx)
{
    struct item_hdr h;
    struct store_item si;
    struct seg *s = seg_of(it);
    rel_time_t now = clock_now();
    bool waits = false;

    item_decode(it, &h);
    si.key = (const char *)it + h.key_off;
    si.nkey = h.nkey;
    si.value = si.key + h.nkey;
    si.nvalue = h.nvalue;
    si.flash = NULL;
    if (item_is_flashed(it)) {
        si.flash = (const unsigned char *)si.value;
        si.nvalue = flash_stub_len(si.flash);
    }
    si.flags = h.flags;
    si.cas = do_item_cas(sh, it, &h);
    si.exptime = h.exptime;
    si.size = h.size;
    si.atime = s->created + h.atime;
    si.fetched = (h.iflags & ITEM_FETCHED) != 0;
    si.stale = (h.iflags & ITEM_STALE) != 0;
    si.token_sent = !created && (h.iflags & ITEM_TOKEN_SENT) != 0;
    si.created = created;
    si.win = created;
    si.waits = &waits;
    if (!created && !si.token_sent && r->tokens &&
        (si.stale || (r->recache && h.exptime != 0 && h.exptime - now < r->recache)))
        si.win = true;
    pf_get_span = h.size < CACHE_LINE ? CACHE_LINE :
                  h.size > STORE_GET_AHEAD ? STORE_GET_AHEAD : (uint32_t)h.size;
    fn(&si, ctx);
    if (waits)   /* not served yet: the run that serves takes the use */
        return;
    if (!created && !r->unobserved)   /* the lookup's hit, told once */
        do_observe(STORE_EV_LOOKUP, si.key, si.nkey, STORE_FOUND, it, &h);
    if (si.win && !created)
        it[0] |= ITEM_TOKEN_SENT;
    if (!r->no_bump) {
        it[0] |= ITEM_ACCESSED | ITEM_FETCHED;
        item_set_atime(it, &h, atime_since(s, now));
    }
}

/* Set an item's expiry; in place when it has the field, else by writing a
 * copy that has it (keeping its CAS, as memcached's touch does). Returns
 * the item, or NULL with *st: STORE_NO_MEMORY if the copy found no memory
 * (the item is unchanged), STORE_NOT_FOUND if making room evicted it. */
static unsigned char *do_touch(struct shard *sh, uint64_t hv, unsigned char *it,
                               const struct item_hdr *h, rel_time_t exptime,
                               enum store_status *st)
{
    struct item_new n = {
        .key = (const char *)it + h->key_off, .nkey = h->nkey, .flags = h->flags,
        .exptime = exptime, .n1 = h->nvalue, .hold = true, .copy = true,
        .extra = h->iflags & (ITEM_STALE | ITEM_TOKEN_SENT),
        .ecas = do_item_cas(sh, it, h), .flashed = item_is_flashed(it),
    };
    size_t len = h->nkey + h->nvalue;
    char *copy;

    if (h->exp_off != 0) {
        memcpy(it + h->exp_off, &exptime, sizeof(exptime));
        do_seg_note(seg_of(it), class_count_class_of(h), exptime);
        return it;
    }
    if (exptime == 0)
        return it;
    /* key and value out of the segment: making room may move them */
    copy = malloc(len ? len : 1);
    if (copy == NULL) {
        *st = STORE_NO_MEMORY;
        return NULL;
    }
    memcpy(copy, n.key, len);
    n.key = copy;
    n.v1 = copy + h->nkey;
    *st = do_write(sh, hv, &n);
    if (*st == STORE_OK)
        sh->total_items--;   /* the same item, moved */
    free(copy);
    return *st == STORE_OK ? n.out_it : NULL;
}

enum store_found store_read(const struct store_read *r, store_visit_fn fn, void *ctx)
{
    uint64_t hv = key_hash(r->key, r->nkey);
    struct shard *sh = shard_lock(hv);
    struct item_hdr h;
    enum store_found found;
    unsigned char *it = do_lookup_as(sh, hv, r->key, r->nkey, &h, NULL, &found,
                                     r->unobserved ? 0 : LOOKUP_REPORT_MISS);
    bool created = false;

    if (it == NULL && r->vivify && r->nkey <= STORE_KEY_MAX) {
        /* meta mg N: an empty placeholder whose creator wins the recache */
        struct item_new n = {
            .key = r->key, .nkey = r->nkey, .exptime = r->viv_exptime,
            .extra = ITEM_TOKEN_SENT, .hold = true, .ecas = r->new_cas,
        };
        if (do_write(sh, hv, &n) == STORE_OK) {
            it = n.out_it;
            created = true;
            found = STORE_FOUND;
        }
    } else if (it != NULL && r->touch) {
        enum store_status st;
        it = do_touch(sh, hv, it, &h, r->exptime, &st);
        if (it == NULL)
            found = STORE_ABSENT;
    }
    if (it != NULL)
        do_visit(sh, it, r, created, fn, ctx);
    pthread_mutex_unlock(&sh->lock);
    return found;
}

void store_drop_flashed(const char *key, size_t nkey, const unsigned char *stub)
{
    uint64_t hv = key_hash(key, nkey);
    struct shard *sh = shard_lock(hv);
    htab_slot *slot = htab_find(&sh->ht, hv, key, nkey);
    unsigned char *it = slot ? htab_slot_item(slot) : NULL;
    struct item_hdr h;

    if (it != NULL && item_is_flashed(it)) {
        item_decode(it, &h);
        if (flash_stub_same(it + h.key_off + h.nkey, stub))
            do_unlink(sh, hv, slot, it, &h);
    }
    pthread_mutex_unlock(&sh->lock);
}

void store_flash_check(store_stub_fn keep, void *ctx)
{
    for (unsigned i = 0; i < cfg.nshards; i++) {
        struct shard *sh = &shards[i];
        rel_time_t now = clock_now();
        struct item_hdr h;
        pthread_mutex_lock(&sh->lock);
        for (struct seg *s = sh->oldest, *next; s != NULL; s = next) {
            next = s->next;
            for (uint32_t off = 0; off < s->used; off += (uint32_t)h.size) {
                unsigned char *it = seg_data(s) + off;
                item_decode(it, &h);
                if (!item_is_flashed(it) || !do_is_live(sh, it, &h, now) ||
                    keep(it + h.key_off + h.nkey, ctx))
                    continue;
                uint64_t hv = hash_key(it + h.key_off, h.nkey);
                htab_slot *slot = htab_find_item(&sh->ht, hv, it);
                if (slot != NULL)
                    htab_remove(&sh->ht, hv, slot);
                it[0] |= ITEM_DEAD;   /* as do_retire, the segment freed below */
                s->live -= (uint32_t)h.size;
                do_count(sh, &h, -1);
            }
            if (s->live == 0 && s != sh->head)
                do_seg_free(sh, s);
        }
        pthread_mutex_unlock(&sh->lock);
    }
}

bool store_recache_flashed(const char *key, size_t nkey, const unsigned char *stub,
                           const void *value, uint32_t len)
{
    uint64_t hv = key_hash(key, nkey);
    struct shard *sh = shard_lock(hv);
    htab_slot *slot = htab_find(&sh->ht, hv, key, nkey);   /* no lookup to observe */
    unsigned char *it = slot ? htab_slot_item(slot) : NULL;
    struct item_hdr h;
    bool done = false;

    if (it != NULL)
        item_decode(it, &h);
    if (it != NULL && item_is_flashed(it) && do_is_live(sh, it, &h, clock_now()) &&
        flash_stub_same(it + h.key_off + h.nkey, stub)) {
        struct item_new n = {
            .key = key, .nkey = nkey, .flags = h.flags, .exptime = h.exptime,
            .v1 = value, .n1 = len, .extra = h.iflags & (ITEM_STALE | ITEM_TOKEN_SENT),
            .ecas = do_item_cas(sh, it, &h), .hold = true, .copy = true,
        };
        uint8_t kept = h.iflags & (ITEM_ACCESSED | ITEM_FETCHED);
        if ((done = do_write(sh, hv, &n) == STORE_OK)) {   /* forgets the stub */
            n.out_it[0] |= kept;
            sh->total_items--;   /* the same item, moved */
        }
    }
    pthread_mutex_unlock(&sh->lock);
    return done;
}

static bool item_has_stub(const unsigned char *it, const void *stub)
{
    size_t nkey;
    const unsigned char *key = item_key(it, &nkey);

    return item_is_flashed(it) && flash_stub_same(key + nkey, stub);
}

enum store_flash_hold store_flash_held(uint64_t hv, const unsigned char *stub,
                                       bool drop_cold)
{
    struct shard *sh = shard_lock(hv);
    htab_slot *slot = htab_find_by(&sh->ht, hv, item_has_stub, stub);
    enum store_flash_hold r = STORE_FLASH_GONE;
    struct item_hdr h;

    if (slot != NULL) {
        unsigned char *it = htab_slot_item(slot);
        item_decode(it, &h);
        if (do_is_live(sh, it, &h, clock_now()))
            r = STORE_FLASH_HELD;
        if (r == STORE_FLASH_HELD && drop_cold && !(h.iflags & ITEM_ACCESSED)) {
            do_unlink(sh, hv, slot, it, &h);
            r = STORE_FLASH_DROPPED;
        }
    }
    pthread_mutex_unlock(&sh->lock);
    return r;
}

/* Give the item at `it` a new stub. In place, unless its segment is in
 * the -e file, whose seal covers its bytes: then a sealed copy, as
 * do_touch makes. */
static bool do_restub(struct shard *sh, uint64_t hv, unsigned char *it,
                      const unsigned char *to)
{
    struct item_hdr h;
    char key[STORE_KEY_MAX];

    item_decode(it, &h);
    if (!persist_has(seg_of(it))) {
        memcpy(it + h.key_off + h.nkey, to, FLASH_STUB_SIZE);
        return true;
    }
    memcpy(key, it + h.key_off, h.nkey);   /* making room may move it */
    struct item_new n = {
        .key = key, .nkey = h.nkey, .flags = h.flags, .exptime = h.exptime,
        .v1 = (const char *)to, .n1 = FLASH_STUB_SIZE, .flashed = true, .hold = true,
        .copy = true,
        .extra = h.iflags & (ITEM_STALE | ITEM_TOKEN_SENT), .ecas = do_item_cas(sh, it, &h),
    };
    if (do_write(sh, hv, &n) != STORE_OK)
        return false;
    sh->total_items--;   /* the same item, moved */
    return true;
}

bool store_flash_restub(uint64_t hv, const unsigned char *from, const unsigned char *to)
{
    struct shard *sh = shard_lock(hv);
    htab_slot *slot = htab_find_by(&sh->ht, hv, item_has_stub, from);
    bool done = slot != NULL && do_restub(sh, hv, htab_slot_item(slot), to);

    if (done)
        flash_tier_forget(from);
    pthread_mutex_unlock(&sh->lock);
    return done;
}

enum store_status store_touch(const char *key, size_t nkey, rel_time_t exptime,
                              struct store_result *res)
{
    uint64_t hv = key_hash(key, nkey);
    struct shard *sh = shard_lock(hv);
    struct item_hdr h;
    enum store_found found;
    unsigned char *it = do_lookup(sh, hv, key, nkey, &h, NULL, &found);
    enum store_status st = STORE_NOT_FOUND;

    if (it != NULL) {
        it[0] |= ITEM_ACCESSED;   /* a use, as in memcached's LRU bump */
        st = STORE_OK;
        if (do_touch(sh, hv, it, &h, exptime, &st) == NULL)
            found = STORE_ABSENT;   /* as store_read tells a failed touch */
    }
    pthread_mutex_unlock(&sh->lock);
    result_set(res, found, 0, it, &h);
    return st;
}

void store_unlink_refused(const char *key, size_t nkey)
{
    uint64_t hv;
    struct shard *sh;
    struct item_hdr h;
    htab_slot *slot;
    enum store_found found;
    unsigned char *it;

    if (nkey > STORE_KEY_MAX)
        return;
    hv = key_hash(key, nkey);
    sh = shard_lock(hv);
    it = do_lookup(sh, hv, key, nkey, &h, &slot, &found);
    if (it != NULL)
        do_unlink(sh, hv, slot, it, &h);
    pthread_mutex_unlock(&sh->lock);
}

enum store_status store_delete(const struct store_delete *d, struct store_result *res)
{
    uint64_t hv = key_hash(d->key, d->nkey);
    struct shard *sh = shard_lock(hv);
    struct item_hdr h;
    htab_slot *slot;
    enum store_found found;
    unsigned char *it = do_lookup(sh, hv, d->key, d->nkey, &h, &slot, &found);
    enum store_status st = STORE_OK;

    if (it == NULL) {
        st = STORE_NOT_FOUND;
        goto out;
    }
    if (d->cas != 0 && cfg.use_cas && do_item_cas(sh, it, &h) != d->cas) {
        st = STORE_EXISTS;
        goto out;
    }
    if (d->invalidate || d->strip) {
        /* rewritten with a new CAS: stale and winnable again (md I), or
         * without its value (md x) */
        struct item_new n = {
            .key = d->key, .nkey = d->nkey, .flags = h.flags,
            .exptime = d->touch ? d->exptime : h.exptime,
            .n1 = d->strip ? 0 : h.nvalue,
            .extra = d->invalidate ? ITEM_STALE : (h.iflags & ITEM_STALE),
            .ecas = d->new_cas, .flashed = !d->strip && item_is_flashed(it),
            .copy = true,
        };
        char *val = malloc(n.n1 ? n.n1 : 1);
        if (val == NULL) {
            st = STORE_NO_MEMORY;
            goto out;
        }
        memcpy(val, it + h.key_off + h.nkey, n.n1);
        n.v1 = val;
        st = do_write(sh, hv, &n);
        free(val);
        goto out;
    }
    do_observe(STORE_EV_DELETE, d->key, d->nkey, STORE_FOUND, it, &h);
    do_unlink(sh, hv, slot, it, &h);
out:
    pthread_mutex_unlock(&sh->lock);
    result_set(res, found, 0, it, &h);
    return st;
}

/* memcached refuses values with no digit at all ("" and "  "), which
 * strnum_counter() would read as 0. */
static bool has_digit(const char *s, size_t n)
{
    while (n--)
        if ((unsigned)(*s++ - '0') <= 9)
            return true;
    return false;
}

/* The padding of a number that got shorter (at most 19 bytes for one that
 * was a number in 20 digits; more only after trailing spaces). */
static const char blanks[] = "                                ";

enum store_status store_arith(const struct store_arith *a, struct store_result *res)
{
    uint64_t hv = key_hash(a->key, a->nkey);
    struct shard *sh = shard_lock(hv);
    struct item_hdr h;
    enum store_found found;
    unsigned char *it = do_lookup(sh, hv, a->key, a->nkey, &h, NULL, &found);
    struct item_new n = { .key = a->key, .nkey = a->nkey, .ecas = a->new_cas };
    enum store_status st = STORE_OK;
    char *val, *owned = NULL, buf[24];
    uint64_t v = 0;
    bool in_place, created = false;

    if (it == NULL) {
        if (!a->vivify) {
            st = STORE_NOT_FOUND;
            goto out;
        }
        v = a->initial;
        n.v1 = buf;
        n.n1 = strnum_fmt_u64(buf, v);
        n.exptime = a->viv_exptime;
        if (a->nkey > STORE_KEY_MAX || store_item_size(a->nkey, n.n1) > cfg.item_size_max)
            st = STORE_TOO_LARGE;
        else
            st = do_write(sh, hv, &n);
        created = st == STORE_OK;
        goto out;
    }
    if (a->cas != 0 && cfg.use_cas && do_item_cas(sh, it, &h) != a->cas) {
        st = STORE_EXISTS;
        goto out;
    }
    if (a->touch) {
        it = do_touch(sh, hv, it, &h, a->exptime, &st);
        if (it == NULL)
            goto out;
        item_decode(it, &h);
    }
    it[0] |= ITEM_ACCESSED;   /* a use, as in memcached's LRU bump */
    val = (char *)it + h.key_off + h.nkey;
    if (item_is_flashed(it) ||   /* a value that long is no number */
        !has_digit(val, h.nvalue) || !strnum_counter(val, h.nvalue, &v)) {
        st = STORE_NON_NUMERIC;
        goto out;
    }
    v = a->incr ? v + a->delta : (a->delta > v ? 0 : v - a->delta);   /* incr wraps */
    n.v1 = buf;
    n.n1 = strnum_fmt_u64(buf, v);
    /* A new copy with a new CAS. memcached 1.6 rewrites in place when the
     * number still fits, padding with spaces ("100" decr 1 reads back as
     * "99 "), and the item keeps its state (meta's stale and win bits,
     * fetched); otherwise its new item starts afresh. The copy does the
     * same in both cases. */
    in_place = n.n1 <= h.nvalue;
    n.n2 = in_place ? h.nvalue - n.n1 : 0;
    n.v2 = blanks;
    if (n.n2 > sizeof(blanks) - 1) {   /* rare: a number followed by spaces */
        if ((owned = malloc(n.n2)) == NULL) {
            st = STORE_NO_MEMORY;
            goto out;
        }
        memset(owned, ' ', n.n2);
        n.v2 = owned;
    }
    n.flags = h.flags;
    n.exptime = h.exptime;
    n.extra = in_place ? h.iflags & (ITEM_STALE | ITEM_TOKEN_SENT) : 0;
    n.hold = true;
    st = do_write(sh, hv, &n);
    if (st == STORE_OK && in_place)
        n.out_it[0] |= (unsigned char)(ITEM_ACCESSED | (h.iflags & ITEM_FETCHED));
    free(owned);
out:
    pthread_mutex_unlock(&sh->lock);
    result_set(res, found, st == STORE_OK ? n.out_cas : 0, it, &h);
    if (res != NULL) {
        res->number = st == STORE_OK ? v : 0;
        res->created = created;
    }
    return st;
}

void store_flush(rel_time_t when)
{
    unsigned i;

    for (i = 0; i < cfg.nshards; i++) {
        struct shard *sh = &shards[i];
        pthread_mutex_lock(&sh->lock);
        if (when == 0 || when <= clock_now()) {
            sh->flush_seq = sh->last_seq;
            sh->flush_at = 0;
        } else {
            sh->flush_at = when;
        }
        do_persist_marks(sh);
        pthread_mutex_unlock(&sh->lock);
    }
}

/* With -e, standard segments come from the file, which is sized for -m:
 * a limit above it would add segments a restart cannot see, so it is
 * refused (memcached 1.6.45 refuses any change of a preallocated limit,
 * which -e implies there); lowering it and raising it back are fine. */
int store_set_mem_limit(uint64_t bytes)
{
    if (bytes < seg_size()) {
        errno = EINVAL;
        return -1;
    }
    if (cfg.memory_file != NULL && bytes > file_limit) {
        errno = ERANGE;
        return -1;
    }
    cfg.mem_limit = bytes;
    seg_set_mem_limit(bytes);
    return 0;
}

void store_stats_get(struct store_stats *out)
{
    uint64_t slots = 0;
    unsigned i;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < cfg.nshards; i++) {
        struct shard *sh = &shards[i];
        pthread_mutex_lock(&sh->lock);
        out->curr_items += sh->curr_items;
        out->total_items += sh->total_items;
        out->bytes += sh->bytes;
        out->evictions += sh->evictions;
        out->evicted_unfetched += sh->evicted_unfetched;
        out->expired_unfetched += sh->expired_unfetched;
        out->reclaimed += sh->reclaimed;
        out->hash_bytes += htab_bytes(&sh->ht);
        out->hash_is_expanding |= sh->ht.migrating;
        slots += htab_slots(&sh->ht);
        pthread_mutex_unlock(&sh->lock);
    }
    out->hash_power_level = log2_floor(slots);
    out->mem_limit = seg_mem_limit();
    out->mem_used = seg_mem_used();
    out->segments = seg_count();
    out->segment_size = seg_size();
}

unsigned store_nshards(void)
{
    return cfg.nshards;
}

/* Add the classes of sh's segments that hold items to out[].oldest. */
static void do_class_ages(const struct shard *sh, struct store_class *out)
{
    for (const struct seg *s = sh->oldest; s != NULL; s = s->next) {
        uint64_t m = s->live != 0 ? s->classes : 0;
        while (m != 0) {
            unsigned c = (unsigned)__builtin_ctzll(m);
            if (s->created < out[c].oldest)
                out[c].oldest = s->created;
            m &= m - 1;
        }
    }
}

void store_classes_get(struct store_class out[SIZE_CLASS_MAX], bool age)
{
    for (unsigned c = 0; c < SIZE_CLASS_MAX; c++)
        out[c] = (struct store_class){ .oldest = UINT32_MAX };
    for (unsigned i = 0; i < cfg.nshards; i++) {
        struct shard *sh = &shards[i];
        pthread_mutex_lock(&sh->lock);
        for (unsigned c = 0; c < SIZE_CLASS_MAX; c++) {
            out[c].number += sh->cls[c].number;
            out[c].bytes += sh->cls[c].bytes;
        }
        if (age)
            do_class_ages(sh, out);
        pthread_mutex_unlock(&sh->lock);
    }
}

#define CURSOR_BASE_MASK ((UINT32_C(1) << STORE_CURSOR_BASE_BITS) - 1)

static uint32_t cursor_base(const struct seg *s)
{
    return (uint32_t)s->base & CURSOR_BASE_MASK;
}

/* shard 8 bits, segment id 24, offset 16, base 15, and bit 63 */
uint64_t store_cursor_pack(const struct store_cursor *c)
{
    return UINT64_C(1) << 63 | (uint64_t)(c->base & CURSOR_BASE_MASK) << 48 |
           (uint64_t)(c->off & 0xffff) << 32 | (uint64_t)(c->seg & SEG_ID_MAX) << 8 |
           (c->shard & 0xff);
}

struct store_cursor store_cursor_unpack(uint64_t p)
{
    return (struct store_cursor){
        .shard = (uint32_t)(p & 0xff), .seg = (uint32_t)(p >> 8) & SEG_ID_MAX,
        .off = (uint32_t)(p >> 32) & 0xffff, .base = (uint32_t)(p >> 48) & CURSOR_BASE_MASK,
    };
}

/* Visit the live items of sh from segment s, offset off, on: at most max
 * (SIZE_MAX: all); *cur says where the walk stopped (seg 0: the shard is
 * done). */
static void do_walk(struct shard *sh, struct seg *s, uint32_t off, size_t max,
                    store_visit_fn fn, void *ctx, struct store_cursor *cur)
{
    rel_time_t now = clock_now();
    size_t seen = 0;

    for (; s != NULL; s = s->next, off = 0) {
        while (off < s->used) {
            unsigned char *it = seg_data(s) + off;
            struct item_hdr h;
            item_decode(it, &h);
            if (!do_is_live(sh, it, &h, now)) {
                off += (uint32_t)h.size;
                continue;
            }
            if (seen == max) {
                *cur = (struct store_cursor){ sh->idx, s->id, off, cursor_base(s) };
                return;
            }
            struct store_item v = {
                .key = (const char *)it + h.key_off, .nkey = h.nkey,
                .value = (const char *)it + h.key_off + h.nkey, .nvalue = h.nvalue,
                .flags = h.flags, .cas = do_item_cas(sh, it, &h),
                .exptime = h.exptime, .size = h.size,
                .atime = s->created + h.atime,
                .fetched = (h.iflags & ITEM_FETCHED) != 0,
                .stale = (h.iflags & ITEM_STALE) != 0,
            };
            if (item_is_flashed(it)) {
                v.flash = (const unsigned char *)v.value;
                v.nvalue = flash_stub_len(v.flash);
            }
            fn(&v, ctx);
            seen++;
            off += (uint32_t)h.size;
        }
    }
    *cur = (struct store_cursor){ sh->idx + 1, 0, 0, 0 };
}

/* The offset of s's first item at or after off: items are found from
 * offset 0 on, one header after the other, never by trusting off. */
static uint32_t do_item_boundary(struct seg *s, uint32_t off)
{
    uint32_t at = 0;
    struct item_hdr h;

    while (at < off && at < s->used) {
        item_decode(seg_data(s) + at, &h);
        at += (uint32_t)h.size;
    }
    return at;
}

/* Where a walk of sh goes on from *cur: the segment it stopped in, if it
 * still holds what it held (*off there), else the first one written after
 * it (*off 0). The cursor keeps only the low bits of the base: a segment
 * reused or compacted since may match it (1 in 2^15), so the saved offset
 * is taken to the next item boundary rather than decoded as it is. */
static struct seg *do_walk_resume(struct shard *sh, const struct store_cursor *cur,
                                  uint32_t *off)
{
    struct seg *s = sh->oldest;

    *off = 0;
    if (cur->seg == 0)
        return s;
    while (s != NULL && !(s->id == cur->seg && cursor_base(s) == cur->base))
        s = s->next;
    if (s != NULL) {
        *off = do_item_boundary(s, cur->off);
        return s;
    }
    /* skip bases at or before ours (modulo the bits kept) */
    s = sh->oldest;
    while (s != NULL && ((cursor_base(s) - cur->base - 1) & CURSOR_BASE_MASK) >=
                        CURSOR_BASE_MASK / 2)
        s = s->next;
    return s;
}

/* Can s hold an item that died since the crawler last went through it?
 * Not if all of it was written after the last flush and its earliest
 * expiry (0: none) is still to come: the crawler skips it unread. */
static bool do_seg_may_hold_dead(const struct shard *sh, const struct seg *s,
                                 rel_time_t now)
{
    return s->base <= sh->flush_seq || (s->min_exp != 0 && s->min_exp <= now);
}

/* Free dead items of sh from segment s, offset off, on; *cur as do_walk
 * leaves it. A step checks at least max items (if there are so many) and
 * ends at a segment's end, so each segment is gone through whole and its
 * earliest expiry set to what is left in it; the lock is held for at most
 * one segment past max (compaction holds it as long). */
static void do_reclaim(struct shard *sh, struct seg *s, uint32_t off, size_t max,
                       struct store_reclaim_tally *t, struct store_cursor *cur)
{
    rel_time_t now = clock_now();
    uint32_t per_class[SIZE_CLASS_MAX] = { 0 };
    size_t seen = 0;

    *cur = (struct store_cursor){ sh->idx + 1, 0, 0, 0 };
    for (; s != NULL; off = 0) {
        struct seg *next = s->next;
        bool freed = false, whole = off == 0;
        rel_time_t min_exp = 0;
        if (seen >= max && seen > 0 && whole) {   /* a step always moves on */
            *cur = (struct store_cursor){ sh->idx, s->id, 0, cursor_base(s) };
            break;
        }
        if (whole && !do_seg_may_hold_dead(sh, s, now)) {
            /* unread: the schedule learns when its first item dies */
            t->next_exp = earliest_exp(t->next_exp, s->min_exp);
            s = next;
            continue;
        }
        while (!freed && off < s->used) {
            unsigned char *it = seg_data(s) + off;
            struct item_hdr h;
            item_decode(it, &h);
            off += (uint32_t)h.size;
            if (h.iflags & ITEM_DEAD)
                continue;
            seen++;
            per_class[class_count_class_of(&h)]++;
            if (do_is_live(sh, it, &h, now)) {
                min_exp = earliest_exp(min_exp, h.exptime);
                t->live++;
                if (h.exptime == 0)
                    t->noexp++;
                else if (h.exptime - now < STORE_TTL_MINUTES * 60)
                    t->ttl_minute[(h.exptime - now) / 60]++;
                continue;
            }
            uint64_t hv = hash_key((const char *)it + h.key_off, h.nkey);
            htab_slot *slot = htab_find_item(&sh->ht, hv, it);
            if (slot != NULL)
                htab_remove(&sh->ht, hv, slot);
            sh->reclaimed++;
            if (!(h.iflags & ITEM_FETCHED))
                sh->expired_unfetched++;
            class_count_drop(&h, false, 0);
            class_count_crawler_reclaim(&h);
            t->reclaimed++;
            /* the last live bytes of a sealed segment free it */
            freed = s->live == h.size && s != sh->head;
            do_retire(sh, it, &h);
        }
        if (!freed && whole)
            s->min_exp = min_exp;
        s = next;
    }
    t->checked += seen;
    class_count_checked(per_class);
}

/* What one step of a walk does in its shard (lock held) from segment s,
 * offset off: visit (fn set) or reclaim. */
struct walk_step {
    size_t         max;
    store_visit_fn fn;
    void          *ctx;
    struct store_reclaim_tally *tally;
};

/* One step of a walk: the shard *cur names, locked, resumed where *cur
 * says; false once every shard has been walked. */
static bool walk_step(struct store_cursor *cur, const struct walk_step *w)
{
    struct shard *sh;
    struct seg *s;
    uint32_t off;

    if (cur->shard >= cfg.nshards)
        return false;
    sh = &shards[cur->shard];
    pthread_mutex_lock(&sh->lock);
    s = do_walk_resume(sh, cur, &off);
    if (w->fn != NULL)
        do_walk(sh, s, off, w->max, w->fn, w->ctx, cur);
    else
        do_reclaim(sh, s, off, w->max, w->tally, cur);
    pthread_mutex_unlock(&sh->lock);
    return cur->shard < cfg.nshards;
}

bool store_reclaim_step(struct store_cursor *cur, size_t max, struct store_reclaim_tally *t)
{
    return walk_step(cur, &(struct walk_step){ .max = max, .tally = t });
}

bool store_walk_step(struct store_cursor *cur, size_t max, store_visit_fn fn, void *ctx)
{
    return walk_step(cur, &(struct walk_step){ .max = max, .fn = fn, .ctx = ctx });
}
