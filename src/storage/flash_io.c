/*
 * flash_io: a bounded queue and a few threads doing flash_dev_read (see
 * flash_io.h). A mutex and a condition variable: a request costs a pread,
 * so the queue's lock is not where the time goes.
 */
#include "storage/flash_io.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct flash_io_pool {
    pthread_mutex_t lock;
    pthread_cond_t  more;
    struct flash_io_req *head, **tail;
    unsigned queued, max_queued;
    bool     stopping;
    unsigned nthreads;
    pthread_t thread[];
};

static void *io_thread(void *arg)
{
    struct flash_io_pool *p = arg;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct flash_io_req *req = p->head;
        if (req == NULL) {
            if (p->stopping)
                break;
            pthread_cond_wait(&p->more, &p->lock);
            continue;
        }
        p->head = req->next;
        if (p->head == NULL)
            p->tail = &p->head;
        p->queued--;
        pthread_mutex_unlock(&p->lock);
        req->result = flash_dev_read(req->dev, &req->loc, req->key_hash,
                                     req->scratch, req->out);
        req->done(req);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

struct flash_io_pool *flash_io_start(unsigned threads, unsigned depth,
                                     char *err, size_t errlen)
{
    struct flash_io_pool *p;
    int rc;

    if (threads == 0 || depth == 0) {
        snprintf(err, errlen, "flash I/O: %u threads of depth %u", threads, depth);
        return NULL;
    }
    p = calloc(1, sizeof(*p) + threads * sizeof(p->thread[0]));
    if (p == NULL) {
        snprintf(err, errlen, "flash I/O: out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->more, NULL);
    p->tail = &p->head;
    p->max_queued = threads * depth;
    for (; p->nthreads < threads; p->nthreads++) {
        rc = pthread_create(&p->thread[p->nthreads], NULL, io_thread, p);
        if (rc != 0) {
            snprintf(err, errlen, "flash I/O: thread: %s", strerror(rc));
            flash_io_stop(&p);
            return NULL;
        }
    }
    return p;
}

bool flash_io_submit(struct flash_io_pool *p, struct flash_io_req *req)
{
    bool ok;

    pthread_mutex_lock(&p->lock);
    ok = !p->stopping && p->queued < p->max_queued;
    if (ok) {
        req->next = NULL;
        *p->tail = req;
        p->tail = &req->next;
        p->queued++;
        pthread_cond_signal(&p->more);
    }
    pthread_mutex_unlock(&p->lock);
    return ok;
}

unsigned flash_io_queued(struct flash_io_pool *p)
{
    unsigned n;

    pthread_mutex_lock(&p->lock);
    n = p->queued;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void flash_io_stop(struct flash_io_pool **pp)
{
    struct flash_io_pool *p = *pp;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->more);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->thread[i], NULL);
    pthread_cond_destroy(&p->more);
    pthread_mutex_destroy(&p->lock);
    free(p);
    *pp = NULL;
}
