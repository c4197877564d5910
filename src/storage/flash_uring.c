/*
 * flash_uring: one restricted io_uring per submitting thread (see
 * flash_uring.h). A ring is only ever touched by the thread that took it,
 * until teardown, so nothing here is locked; the count of waiting reads
 * is atomic because `stats` reads it from another thread.
 */
#include "storage/flash_uring.h"

#include <errno.h>
#include <liburing.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "storage/flash_dev.h"

struct ring {
    struct io_uring      ring;
    bool                 made;
    int                  notify_fd;
    unsigned             inflight;
    struct flash_io_req *wait_head, **wait_tail;
    _Atomic unsigned     waiting;
};

struct flash_uring {
    unsigned         nrings, inflight_max, waiting_max;
    _Atomic unsigned taken;   /* rings handed to threads */
    struct ring      r[];
};

/* The ring this thread took (of the one flash_uring it took it from). */
static _Thread_local struct {
    struct flash_uring *u;
    struct ring        *r;
} mine;

/* io_uring_register itself: Debian's liburing 2.3 declares
 * io_uring_register_restrictions and io_uring_enable_rings but its shared
 * library does not export them (missing from its symbol map). */
static int ring_register(struct io_uring *ring, unsigned op, const void *arg, unsigned n)
{
    long rc = syscall(__NR_io_uring_register, ring->ring_fd, op, arg, n);

    return rc < 0 ? -errno : 0;
}

/* Reads only, and an eventfd: nothing that opens, connects or writes. */
static int ring_restrict(struct io_uring *ring)
{
    struct io_uring_restriction res[2];

    memset(res, 0, sizeof(res));
    res[0].opcode = IORING_RESTRICTION_SQE_OP;
    res[0].sqe_op = IORING_OP_READ;
    res[1].opcode = IORING_RESTRICTION_REGISTER_OP;
    res[1].register_op = IORING_REGISTER_EVENTFD;
    int rc = ring_register(ring, IORING_REGISTER_RESTRICTIONS, res, 2);
    return rc < 0 ? rc : ring_register(ring, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
}

static int ring_make(struct ring *r, unsigned entries, unsigned kernel_threads)
{
    struct io_uring_params p;
    unsigned workers[2] = { kernel_threads, kernel_threads };
    int rc;

    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_R_DISABLED;
    if ((rc = io_uring_queue_init_params(entries, &r->ring, &p)) < 0)
        return rc;
    r->made = true;
    /* bounded (file reads) and unbounded workers; an old kernel has no
     * cap and keeps its own, so its failure is not one of ours */
    (void)io_uring_register_iowq_max_workers(&r->ring, workers);
    r->notify_fd = -1;
    r->wait_tail = &r->wait_head;
    return ring_restrict(&r->ring);
}

struct flash_uring *flash_uring_setup(unsigned rings, unsigned inflight, unsigned waiting,
                                      unsigned kernel_threads, char *err, size_t errlen)
{
    struct flash_uring *u;
    int rc = -EINVAL;

    if (rings == 0 || inflight == 0) {
        snprintf(err, errlen, "io_uring: %u rings of depth %u", rings, inflight);
        errno = EINVAL;
        return NULL;
    }
    u = calloc(1, sizeof(*u) + rings * sizeof(u->r[0]));
    if (u == NULL) {
        snprintf(err, errlen, "io_uring: out of memory");
        return NULL;
    }
    u->nrings = rings;
    u->inflight_max = inflight;
    u->waiting_max = waiting;
    for (unsigned i = 0; i < rings; i++)
        if ((rc = ring_make(&u->r[i], inflight, kernel_threads)) < 0)
            break;
    if (rc < 0) {
        snprintf(err, errlen, "io_uring: %s", strerror(-rc));
        flash_uring_teardown(&u);
        errno = -rc;
        return NULL;
    }
    return u;
}

static struct ring *my_ring(struct flash_uring *u, int notify_fd)
{
    unsigned i;

    if (mine.u == u)
        return mine.r;
    if ((i = atomic_fetch_add(&u->taken, 1)) >= u->nrings)
        return NULL;   /* more submitting threads than rings: misses */
    if (io_uring_register_eventfd(&u->r[i].ring, notify_fd) < 0)
        return NULL;
    u->r[i].notify_fd = notify_fd;
    mine.u = u;
    mine.r = &u->r[i];
    return mine.r;
}

/* Hand req to the kernel (there is room: inflight < inflight_max), or
 * finish it here when its location cannot be read. */
static void ring_start(struct ring *r, struct flash_io_req *req)
{
    struct io_uring_sqe *sqe;
    uint64_t at;
    int fd;

    req->result = flash_dev_read_prep(req->dev, &req->loc, &fd, &at);
    if (req->result != FLASH_OK || (sqe = io_uring_get_sqe(&r->ring)) == NULL) {
        if (req->result == FLASH_OK)
            req->result = FLASH_FAILED;   /* cannot happen: entries >= inflight */
        req->done(req);
        return;
    }
    io_uring_prep_read(sqe, fd, req->scratch, (unsigned)flash_dev_read_size(&req->loc), at);
    io_uring_sqe_set_data(sqe, req);
    r->inflight++;
}

/* Submit what was queued in the ring; a failure (ENOMEM, EINTR) leaves it
 * there and wakes the thread to try again at its next reap. */
static void ring_submit(struct ring *r)
{
    uint64_t one = 1;

    if (io_uring_sq_ready(&r->ring) > 0 && io_uring_submit(&r->ring) < 0)
        (void)!write(r->notify_fd, &one, sizeof(one));
}

bool flash_uring_submit(struct flash_uring *u, struct flash_io_req *req)
{
    struct ring *r = my_ring(u, req->notify_fd);

    if (r == NULL || req->notify_fd != r->notify_fd)
        return false;
    if (r->inflight < u->inflight_max) {
        ring_start(r, req);
        ring_submit(r);
        return true;
    }
    if (atomic_load_explicit(&r->waiting, memory_order_relaxed) >= u->waiting_max)
        return false;
    req->next = NULL;
    *r->wait_tail = req;
    r->wait_tail = &req->next;
    atomic_fetch_add_explicit(&r->waiting, 1, memory_order_relaxed);
    return true;
}

static void ring_complete(struct ring *r, struct io_uring_cqe *cqe)
{
    struct flash_io_req *req = io_uring_cqe_get_data(cqe);
    int res = cqe->res;

    io_uring_cqe_seen(&r->ring, cqe);
    r->inflight--;
    req->result = flash_dev_read_check(req->dev, &req->loc, req->key_hash, req->scratch,
                                       res, req->out);
    req->done(req);
}

/* Reads that waited, into the room completions made. */
static void ring_refill(struct flash_uring *u, struct ring *r)
{
    struct flash_io_req *req;

    while (r->inflight < u->inflight_max && (req = r->wait_head) != NULL) {
        r->wait_head = req->next;
        if (r->wait_head == NULL)
            r->wait_tail = &r->wait_head;
        atomic_fetch_sub_explicit(&r->waiting, 1, memory_order_relaxed);
        ring_start(r, req);
    }
    ring_submit(r);
}

void flash_uring_reap(struct flash_uring *u)
{
    struct io_uring_cqe *cqe;
    struct ring *r = mine.u == u ? mine.r : NULL;

    if (r == NULL)
        return;
    /* a read of a page in the page cache completes within its submit: go
     * on while refilling finds more, rather than a trip through epoll each */
    for (bool more = true; more;) {
        more = false;
        while (io_uring_peek_cqe(&r->ring, &cqe) == 0) {
            ring_complete(r, cqe);
            more = r->wait_head != NULL;
        }
        ring_refill(u, r);
    }
}

unsigned flash_uring_queued(struct flash_uring *u)
{
    unsigned n = 0;

    for (unsigned i = 0; i < u->nrings; i++)
        n += atomic_load_explicit(&u->r[i].waiting, memory_order_relaxed);
    return n;
}

void flash_uring_teardown(struct flash_uring **uu)
{
    struct flash_uring *u = *uu;

    if (u == NULL)
        return;
    for (unsigned i = 0; i < u->nrings; i++) {
        struct ring *r = &u->r[i];
        struct io_uring_cqe *cqe;
        struct flash_io_req *req;

        if (!r->made)
            continue;
        io_uring_submit(&r->ring);
        while (r->inflight > 0 && io_uring_wait_cqe(&r->ring, &cqe) == 0)
            ring_complete(r, cqe);
        while ((req = r->wait_head) != NULL) {
            r->wait_head = req->next;
            req->result = FLASH_FAILED;
            req->done(req);
        }
        io_uring_queue_exit(&r->ring);
    }
    if (mine.u == u)
        mine.u = NULL;
    free(u);
    *uu = NULL;
}
