/*
 * sandbox: a seccomp allow-list for the running server, so that a
 * memory-safety bug in request handling cannot spawn a program, open or
 * create files, or make new sockets: the process may only use the system
 * calls a cache that is already listening needs. Opening a file fails
 * (EACCES); any other call outside the list kills the whole process with
 * SIGSYS (memcached does the same with its -o
 * drop_privileges on Linux; OpenBSD's httpd with pledge).
 */
#ifndef HC_SERVER_SANDBOX_H
#define HC_SERVER_SANDBOX_H

#include <stdbool.h>

/* What a configuration needs beyond the base list, and only then. */
enum sandbox_extra {
    SANDBOX_UNLINK     = 1 << 0,   /* -d -P: remove the pid file at exit */
    SANDBOX_READ_FILES = 1 << 1,   /* -Y/-S: SIGHUP re-reads the password
                                      file (opening read-only; never for
                                      writing or creating) */
    SANDBOX_URING      = 1 << 2,   /* -o ext_path: the flash tier reads
                                      its files through io_uring rings
                                      made before the filter:
                                      io_uring_enter, and io_uring_register
                                      for an eventfd only; never
                                      io_uring_setup (flash_uring.h) */
};

/* Install the filter on the calling thread; threads it creates afterwards
 * inherit it. Call once start-up is done (listeners bound, privileges
 * dropped, store set up), before the worker threads start. `extra` is a
 * mask of enum sandbox_extra. pread64, pwrite64 and pwritev are allowed on
 * the nfiles descriptors in files[] only (files opened at start-up and
 * read and written at offsets: the flash tier's); on any other, and with
 * none, they kill. Returns 0, or -1 with errno set (the process is
 * unchanged then). */
int sandbox_apply(unsigned extra, const int *files, unsigned nfiles);

#endif
