/*
 * flash_io: the I/O threads (ext_threads) that read flashed values, so a
 * worker thread never waits for the device. A worker submits a request and
 * goes on with other connections; an I/O thread does the pread and the
 * check (flash_dev_read) and calls the request's `done` from its own
 * thread, which must only hand the request back to its worker (a queue and
 * an eventfd, server side) and return. This pool is the fallback for where
 * io_uring cannot be had (seccomp, an old kernel, a container) or is not
 * wanted (-o ext_io_backend=pool); flash_uring.h is the other backend,
 * behind the same request.
 */
#ifndef HC_STORAGE_FLASH_IO_H
#define HC_STORAGE_FLASH_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/flash_dev.h"

struct flash_io_req {
    struct flash_dev *dev;
    struct flash_loc  loc;
    uint64_t          key_hash;
    void             *scratch;   /* flash_dev_read_size(&loc) bytes */
    void             *out;       /* loc.len bytes */
    enum flash_io     result;    /* set before done() is called */
    void            (*done)(struct flash_io_req *req);
    void             *ctx;       /* the submitter's */
    int               notify_fd; /* io_uring: the eventfd its completion
                                    signals (the submitting thread's) */
    struct flash_io_req *next;   /* the pool's */
};

struct flash_io_pool;

/* threads I/O threads taking at most depth requests each in the queue. */
struct flash_io_pool *flash_io_start(unsigned threads, unsigned depth,
                                     char *err, size_t errlen);
/* Queue req; false (req untouched) when depth * threads are queued: the
 * caller serves a miss or tries later, and memory stays bounded. */
bool flash_io_submit(struct flash_io_pool *p, struct flash_io_req *req);
/* Requests queued and not yet taken by a thread (stats extstore_io_queue). */
unsigned flash_io_queued(struct flash_io_pool *p);
/* Finish the queued requests, join the threads, free. */
void flash_io_stop(struct flash_io_pool **p);

#endif
