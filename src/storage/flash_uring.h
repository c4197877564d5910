/*
 * flash_uring: reads of flashed values through io_uring (issue 20), the
 * flash_io backend used where the kernel and the sandbox allow it. One
 * ring per worker thread: the worker queues a read without a system call
 * to another thread, the kernel serves it (from the page cache inline,
 * else on its own I/O workers), and the completion signals the worker's
 * eventfd, registered with the ring; the worker then reaps its ring on
 * its own thread. No I/O thread, no lock, no hand-off.
 *
 * The rings are made before the sandbox (io_uring_setup is not allowed
 * after it) and restricted (IORING_REGISTER_RESTRICTIONS) to reads and to
 * registering an eventfd: io_uring operations bypass seccomp, so a ring
 * that could open files or sockets would undo the sandbox.
 */
#ifndef HC_STORAGE_FLASH_URING_H
#define HC_STORAGE_FLASH_URING_H

#include <stdbool.h>
#include <stddef.h>

#include "storage/flash_io.h"

struct flash_uring;

/* `rings` rings (one per thread that will submit), each with at most
 * `inflight` reads in the kernel (ext_io_depth) and `waiting` more queued
 * behind them, and the kernel's blocking I/O workers per ring capped at
 * `kernel_threads` (ext_threads). NULL with err and errno when io_uring
 * cannot be had here (ENOSYS, EPERM, EINVAL on an old kernel...). */
struct flash_uring *flash_uring_setup(unsigned rings, unsigned inflight, unsigned waiting,
                                      unsigned kernel_threads, char *err, size_t errlen);
/* On a submitting thread: queue req on this thread's ring (the first
 * submit of a thread takes a ring and registers req->notify_fd with it;
 * every read of that thread must name the same eventfd). False, req
 * untouched, when the thread has no ring or the queue is full. req->done
 * is called by flash_uring_reap on this thread (or at once, here, when the
 * location cannot be read). */
bool flash_uring_submit(struct flash_uring *u, struct flash_io_req *req);
/* On a submitting thread, when its eventfd fired: verify the finished
 * reads, call their done, and queue the waiting ones. */
void flash_uring_reap(struct flash_uring *u);
/* Reads queued behind the ones in the kernel (stats extstore_io_queue). */
unsigned flash_uring_queued(struct flash_uring *u);
/* After the submitting threads stopped: wait for the reads in the kernel,
 * fail the waiting ones (done is called for each), free. */
void flash_uring_teardown(struct flash_uring **u);

#endif
