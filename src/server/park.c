/*
 * park: reads of flashed values handed to the I/O threads and back (see
 * park.h). A session's reads form one batch: the read its request waits
 * for, and those a multi-get asked for ahead (park_ahead), so its keys'
 * reads overlap instead of each taking a round trip through the I/O
 * threads. A finished read goes on one list for the whole process, under
 * a mutex, and the worker that owns its connection is woken through its
 * eventfd (with io_uring, the kernel signals that eventfd and the worker
 * reaps its own ring first, in park_resume); the worker takes its own
 * reads off the list, and runs the connection again once none of its
 * batch is pending. A connection that closes with reads in flight leaves
 * its batch to be freed when they end.
 */
#include "server/park.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/hash.h"
#include "server/session.h"
#include "server/stats.h"
#include "storage/flash_tier.h"
#include "storage/store.h"

/* Reads one session may have at once (a multi-get's keys ahead of the
 * one it waits for). */
#define PARK_BATCH_MAX 64
/* Reads ahead (park_ahead) are a bet that the client reads its replies:
 * a connection's stop at PARK_AHEAD_BYTES of buffers, all connections'
 * at PARK_AHEAD_ALL_BYTES or PARK_AHEAD_INFLIGHT reads in flight (so they
 * never fill the I/O queue that reads requests wait for would miss on).
 * A read a request waits for is always made: a client that stops reading
 * holds at most its value and PARK_AHEAD_BYTES here. */
#define PARK_AHEAD_BYTES     (1u << 20)
#define PARK_AHEAD_ALL_BYTES (32u << 20)
#define PARK_AHEAD_INFLIGHT  1024u

struct park_batch;

struct park_read {
    struct flash_io_req req;
    struct park_batch  *b;
    bool                ready;    /* the worker took it back */
    size_t              size;     /* bytes allocated for it */
    bool                fetched;  /* its item was read before this read */
    unsigned char       stub[FLASH_STUB_SIZE];
    struct park_read   *next;     /* on the done list */
    unsigned char       buf[];    /* the record, then the value */
};

struct park_batch {
    struct session   *s;          /* NULL: its connection closed */
    const void       *owner;      /* the session's thread (session.owner) */
    int               wake_fd;
    unsigned          n, pending;
    size_t            bytes;      /* of its reads' buffers */
    struct park_read *used;       /* the read the last visit served */
    /* a value that failed: its item is dropped after the visit */
    unsigned char     miss_stub[FLASH_STUB_SIZE];
    unsigned char     miss_key[STORE_KEY_MAX];
    size_t            miss_nkey;
    /* a value served that goes back into RAM after the visit
     * (ext_recache_rate): the read `used`, its item's key */
    unsigned char     recache_key[STORE_KEY_MAX];
    size_t            recache_nkey;
    struct park_read *r[PARK_BATCH_MAX];
};

/* Every connection's reads: buffers held, reads not back yet. */
static _Atomic size_t   park_bytes;
static _Atomic unsigned park_inflight;

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static struct park_read *done_list;
static void (*waker)(struct session *s);
/* This thread is in park_resume: a read io_uring finished goes on the
 * list that park_resume takes next, with no need to wake the loop. */
static _Thread_local bool resuming;

void park_set_waker(void (*wake)(struct session *s))
{
    waker = wake;
}

/* On an I/O thread, or on the worker reaping its io_uring: hand the read
 * back to its worker, and wake the worker unless the connection closed or
 * the worker is the one reaping (park_resume takes the list next). Under
 * done_lock, as park_cancel marks a batch closed: a worker closes its
 * connections before its eventfd (at exit), so a closed connection's late
 * read never writes to a closed or reused fd. */
static void park_done(struct flash_io_req *req)
{
    struct park_read *r = req->ctx;
    uint64_t one = 1;

    atomic_fetch_sub_explicit(&park_inflight, 1, memory_order_relaxed);
    pthread_mutex_lock(&done_lock);
    r->next = done_list;
    done_list = r;
    if (r->b->s != NULL && !resuming)
        (void)!write(r->b->wake_fd, &one, sizeof(one));
    pthread_mutex_unlock(&done_lock);
}

static void read_free(struct park_read *r)
{
    atomic_fetch_sub_explicit(&park_bytes, r->size, memory_order_relaxed);
    free(r);
}

static void batch_free(struct park_batch *b)
{
    for (unsigned i = 0; i < b->n; i++)
        read_free(b->r[i]);
    free(b);
}

/* Drop read i of the batch (a ready one). */
static void batch_drop(struct park_batch *b, unsigned i)
{
    b->bytes -= b->r[i]->size;
    read_free(b->r[i]);
    b->r[i] = b->r[--b->n];
}

/* May a read ahead of size bytes be made for batch b? */
static bool ahead_allowed(const struct park_batch *b, size_t size)
{
    return b->bytes + size <= PARK_AHEAD_BYTES &&
           atomic_load_explicit(&park_bytes, memory_order_relaxed) + size <=
               PARK_AHEAD_ALL_BYTES &&
           atomic_load_explicit(&park_inflight, memory_order_relaxed) < PARK_AHEAD_INFLIGHT;
}

static struct park_read *batch_find(const struct park_batch *b, const unsigned char *stub)
{
    for (unsigned i = 0; b != NULL && i < b->n; i++)
        if (flash_stub_same(b->r[i]->stub, stub))
            return b->r[i];
    return NULL;
}

/* Queue a read of it's value in s's batch (ahead: for a later key, within
 * the limits above). False: it could not be made (counted, but for a
 * read ahead not allowed; the caller serves a miss or nothing). */
static bool park_submit(struct session *s, const struct store_item *it, bool ahead)
{
    struct park_batch *b = s->park;
    struct park_read *r;
    size_t rsize = flash_tier_read_size(it->flash);
    size_t size = sizeof(*r) + rsize + it->nvalue;

    if (b == NULL) {
        if ((b = calloc(1, sizeof(*b))) == NULL)
            goto oom;
        b->s = s;
        b->owner = s->owner;
        b->wake_fd = s->wake_fd;
        s->park = b;
    }
    for (unsigned i = b->n; i-- > 0;)   /* room: drop reads already taken */
        if (b->n == PARK_BATCH_MAX && b->r[i]->ready && b->r[i] != b->used)
            batch_drop(b, i);
    if (b->n == PARK_BATCH_MAX || (ahead && !ahead_allowed(b, size)))
        return false;
    /* zero the header only: the buffers (twice the value) are written by
     * the read before anything reads them, and zeroing them was a third of
     * the instructions of a get of a 4 KiB flashed value (callgrind) */
    if ((r = malloc(size)) == NULL)
        goto oom;
    memset(r, 0, sizeof(*r));
    r->b = b;
    r->size = size;
    memcpy(r->stub, it->flash, FLASH_STUB_SIZE);
    r->fetched = it->fetched;
    r->req.scratch = r->buf;
    r->req.out = r->buf + rsize;
    r->req.done = park_done;
    r->req.ctx = r;
    r->req.notify_fd = b->wake_fd;
    atomic_fetch_add_explicit(&park_bytes, size, memory_order_relaxed);
    atomic_fetch_add_explicit(&park_inflight, 1, memory_order_relaxed);   /* done() may */
    if (!flash_tier_read(it->flash, hash_key(it->key, it->nkey), &r->req)) {   /* run now */
        atomic_fetch_sub_explicit(&park_inflight, 1, memory_order_relaxed);
        read_free(r);
        STAT_INCR(s->stats, get_aborted_extstore);
        return false;
    }
    STAT_INCR(s->stats, get_extstore);
    b->r[b->n++] = r;
    b->bytes += size;
    b->pending++;
    return true;
oom:
    STAT_INCR(s->stats, get_oom_extstore);
    return false;
}

/* 1 in ext_recache_rate values served from flash whose item was read
 * before (memcached: "hit at least twice") goes back into RAM: the
 * rate-th, not the first as in memcached, whose count starts at each
 * connection (here per worker thread): a recache takes RAM, which may
 * evict others, so a rate of 2000 should not recache at once. */
static _Thread_local uint32_t recache_counter;

static void park_recache_pick(struct park_batch *b, const struct park_read *r,
                              const struct store_item *it)
{
    uint32_t rate = flash_tier_recache_rate();

    if (rate != 0 && r->fetched && ++recache_counter % rate == 0) {
        memcpy(b->recache_key, it->key, it->nkey);
        b->recache_nkey = it->nkey;
    }
}

static enum park_value park_missed(struct session *s)
{
    s->park_missed = true;
    return PARK_MISS;
}

/* The request stops until its read is back; the visit is no use of the
 * item yet (store_item.waits). */
static enum park_value park_wait(struct session *s, const struct store_item *it)
{
    s->parked = true;
    if (it->waits != NULL)
        *it->waits = true;
    return PARK_WAIT;
}

enum park_value park_value(struct session *s, const struct store_item *it,
                           const char **value)
{
    struct park_read *r = batch_find(s->park, it->flash);

    if (r != NULL && !r->ready)
        return park_wait(s, it);
    if (r != NULL) {
        s->park->used = r;
        if (r->req.result == FLASH_OK) {
            *value = r->req.out;
            park_recache_pick(s->park, r, it);
            return PARK_SERVE;
        }
        STAT_INCR(s->stats, miss_from_extstore);
        if (r->req.result == FLASH_BAD)
            STAT_INCR(s->stats, badcrc_from_extstore);
        memcpy(s->park->miss_stub, r->stub, FLASH_STUB_SIZE);
        memcpy(s->park->miss_key, it->key, it->nkey);
        s->park->miss_nkey = it->nkey;
        return park_missed(s);
    }
    if (s->udp || s->wake_fd < 0 || s->owner == NULL)   /* a datagram cannot wait */
        return park_missed(s);
    if (!park_submit(s, it, false))
        return park_missed(s);
    return park_wait(s, it);
}

static void ahead_visit(const struct store_item *it, void *arg)
{
    struct session *s = arg;

    if (it->flash != NULL && batch_find(s->park, it->flash) == NULL)
        park_submit(s, it, true);
}

void park_ahead(struct session *s, const char *key, size_t nkey)
{
    struct store_read rd = { .key = key, .nkey = nkey, .no_bump = true,
                             .unobserved = true };

    if (s->park != NULL && s->park->n < PARK_BATCH_MAX)
        store_read(&rd, ahead_visit, s);
}

enum store_found park_found(struct session *s, enum store_found found)
{
    struct park_batch *b = s->park;

    if (s->park_missed)
        found = STORE_ABSENT;
    s->park_missed = false;
    if (b != NULL && b->miss_nkey > 0) {   /* no read of it will do better */
        store_drop_flashed((const char *)b->miss_key, b->miss_nkey, b->miss_stub);
        b->miss_nkey = 0;
    }
    if (b != NULL && b->used != NULL && b->recache_nkey > 0) {
        if (store_recache_flashed((const char *)b->recache_key, b->recache_nkey,
                                  b->used->stub, b->used->req.out,
                                  flash_stub_len(b->used->stub)))
            STAT_INCR(s->stats, recache_from_extstore);
        b->recache_nkey = 0;
    }
    if (b != NULL && b->used != NULL) {
        for (unsigned i = 0; i < b->n; i++)
            if (b->r[i] == b->used) {
                batch_drop(b, i);
                break;
            }
        b->used = NULL;
    }
    return found;
}

void park_end(struct session *s)
{
    struct park_batch *b = s->park;

    if (b == NULL)
        return;
    for (unsigned i = b->n; i-- > 0;)
        if (b->r[i]->ready)
            batch_drop(b, i);
    if (b->n == 0) {
        free(b);
        s->park = NULL;
    }
}

void park_resume(const void *owner)
{
    struct park_read *mine = NULL, **pp, *r;

    resuming = true;
    flash_tier_reap();
    resuming = false;
    pthread_mutex_lock(&done_lock);
    for (pp = &done_list; (r = *pp) != NULL;) {
        if (r->b->owner == owner) {
            *pp = r->next;
            r->next = mine;
            mine = r;
        } else {
            pp = &r->next;
        }
    }
    pthread_mutex_unlock(&done_lock);
    while ((r = mine) != NULL) {
        struct park_batch *b = r->b;
        mine = r->next;
        r->ready = true;
        if (--b->pending > 0)
            continue;
        if (b->s == NULL) {
            batch_free(b);
        } else if (b->s->parked) {
            b->s->parked = false;
            waker(b->s);
        }
    }
}

void park_cancel(struct session *s)
{
    struct park_batch *b = s->park;

    if (b == NULL)
        return;
    s->park = NULL;
    s->parked = false;
    if (b->pending == 0) {
        batch_free(b);
        return;
    }
    pthread_mutex_lock(&done_lock);
    b->s = NULL;   /* park_resume frees it when its reads are back */
    pthread_mutex_unlock(&done_lock);
}

void park_teardown(void)
{
    struct park_read *r;

    /* after the I/O threads stopped: every read of a closed connection's
     * batch is here; its batch goes with the last one */
    pthread_mutex_lock(&done_lock);
    while ((r = done_list) != NULL) {
        done_list = r->next;
        if (--r->b->pending == 0)
            batch_free(r->b);
    }
    pthread_mutex_unlock(&done_lock);
}
