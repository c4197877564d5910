/*
 * park: reads of flashed values handed to the I/O threads and back (see
 * park.h). A finished read goes on one list for the whole process, under
 * a mutex, and the worker that owns its connection is woken through its
 * eventfd; the worker takes its own reads off the list. A connection that
 * closes with a read in flight leaves it to be freed when it ends.
 */
#include "server/park.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/hash.h"
#include "server/conn.h"
#include "server/session.h"
#include "server/stats.h"
#include "storage/flash_tier.h"
#include "storage/store.h"

struct park_read {
    struct flash_io_req req;
    struct session     *s;        /* NULL: its connection closed */
    struct conn_set    *cs;       /* the worker's connections */
    int                 wake_fd;
    bool                ready;    /* the worker took it back */
    unsigned char       stub[FLASH_STUB_SIZE];
    struct park_read   *next;
    unsigned char       buf[];    /* the record, then the value */
};

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static struct park_read *done_list;

/* On an I/O thread: hand the read back to its worker. */
static void park_done(struct flash_io_req *req)
{
    struct park_read *r = req->ctx;
    uint64_t one = 1;

    pthread_mutex_lock(&done_lock);
    r->next = done_list;
    done_list = r;
    pthread_mutex_unlock(&done_lock);
    (void)!write(r->wake_fd, &one, sizeof(one));
}

static void park_free(struct session *s)
{
    free(s->park);
    s->park = NULL;
}

/* The outcome of a read that came back for this very stub. */
static enum park_value park_taken(struct session *s, struct park_read *r,
                                  const char **value)
{
    if (r->req.result == FLASH_OK) {
        *value = r->req.out;
        return PARK_SERVE;
    }
    STAT_INCR(s->stats, miss_from_extstore);
    if (r->req.result == FLASH_BAD)
        STAT_INCR(s->stats, badcrc_from_extstore);
    s->park_missed = true;
    return PARK_MISS;
}

enum park_value park_value(struct session *s, const struct store_item *it,
                           const char **value)
{
    struct park_read *r = s->park;
    size_t rsize;

    if (r != NULL && !r->ready)
        return PARK_WAIT;
    if (r != NULL && flash_stub_same(r->stub, it->flash))
        return park_taken(s, r, value);
    if (r != NULL)
        park_free(s);   /* the item changed while it was read */
    if (s->udp || s->wake_fd < 0) {   /* a datagram cannot wait */
        s->park_missed = true;
        return PARK_MISS;
    }
    rsize = flash_tier_read_size(it->flash);
    r = calloc(1, sizeof(*r) + rsize + it->nvalue);
    if (r == NULL) {
        STAT_INCR(s->stats, get_oom_extstore);
        s->park_missed = true;
        return PARK_MISS;
    }
    r->s = s;
    r->cs = container_of_conn(s)->set;
    r->wake_fd = s->wake_fd;
    memcpy(r->stub, it->flash, FLASH_STUB_SIZE);
    r->req.scratch = r->buf;
    r->req.out = r->buf + rsize;
    r->req.done = park_done;
    r->req.ctx = r;
    if (!flash_tier_read(it->flash, hash_key(it->key, it->nkey), &r->req)) {
        free(r);
        STAT_INCR(s->stats, get_aborted_extstore);
        s->park_missed = true;
        return PARK_MISS;
    }
    STAT_INCR(s->stats, get_extstore);
    s->park = r;
    s->parked = true;
    return PARK_WAIT;
}

enum store_found park_found(struct session *s, enum store_found found)
{
    if (s->park_missed)
        found = STORE_ABSENT;
    s->park_missed = false;
    if (s->park != NULL && s->park->ready)
        park_free(s);
    return found;
}

void park_resume(struct conn_set *cs)
{
    struct park_read *mine = NULL, **pp, *r;

    pthread_mutex_lock(&done_lock);
    for (pp = &done_list; (r = *pp) != NULL;) {
        if (r->cs == cs) {
            *pp = r->next;
            r->next = mine;
            mine = r;
        } else {
            pp = &r->next;
        }
    }
    pthread_mutex_unlock(&done_lock);
    while ((r = mine) != NULL) {
        mine = r->next;
        if (r->s == NULL) {
            free(r);
            continue;
        }
        r->ready = true;
        r->s->parked = false;
        conn_wake(container_of_conn(r->s));
    }
    conn_set_run_ready(cs);
}

void park_cancel(struct session *s)
{
    struct park_read *r = s->park;

    if (r == NULL)
        return;
    s->park = NULL;
    s->parked = false;
    if (r->ready)
        free(r);
    else
        r->s = NULL;   /* park_resume frees it when it comes back */
}

void park_teardown(void)
{
    struct park_read *r;

    pthread_mutex_lock(&done_lock);
    while ((r = done_list) != NULL) {
        done_list = r->next;
        free(r);
    }
    pthread_mutex_unlock(&done_lock);
}
