/*
 * flash_conf: the flash tier's configuration (memcached's extstore,
 * `-o ext_path=FILE:SIZE` and the `ext_*` sub-options), parsed by a pure
 * function so the command line, a config file and the unit test share it.
 * Defaults and units are memcached 1.6.45's (storage.c).
 */
#ifndef HC_STORAGE_FLASH_CONF_H
#define HC_STORAGE_FLASH_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLASH_DEVICES_MAX      8       /* ext_path given at most this often */
#define FLASH_PATH_MAX         4096    /* bytes of one ext_path's file name */
#define FLASH_DEVICE_SIZE_MAX  (UINT64_C(1) << 50)   /* 1 PiB per file */
#define FLASH_PAGE_MB_MAX      1024    /* ext_page_size, in MiB */
#define FLASH_WBUF_MB_MAX      256     /* ext_wbuf_size, in MiB */
#define FLASH_THREADS_MAX      64      /* ext_threads */
#define FLASH_IO_DEPTH_MAX     1024    /* ext_io_depth */
#define FLASH_ERR_MAX          160     /* longest message about a bad option */

struct flash_device_conf {
    const char *path;      /* points into the option text */
    uint64_t    size;      /* bytes, as given (whole pages are used) */
};

/* How flashed values are read (-o ext_io_backend, hardcached's own):
 * io_uring when the kernel allows it, else the pread threads (auto); or
 * one of them, insisted on. */
enum flash_io_backend { FLASH_IO_AUTO = 0, FLASH_IO_POOL, FLASH_IO_URING };

struct flash_conf {
    struct flash_device_conf dev[FLASH_DEVICES_MAX];
    unsigned ndev;
    uint32_t page_size;        /* ext_page_size, bytes (given in MiB) */
    uint32_t wbuf_size;        /* ext_wbuf_size, bytes (given in MiB) */
    uint32_t threads;          /* ext_threads */
    uint32_t io_depth;         /* ext_io_depth */
    uint32_t item_size;        /* ext_item_size: smaller values stay in RAM */
    uint32_t item_age;         /* ext_item_age: seconds idle before flashing */
    uint32_t low_ttl;          /* ext_low_ttl */
    uint32_t recache_rate;     /* ext_recache_rate */
    uint32_t compact_under;    /* ext_compact_under (0: 1% of the pages) */
    uint32_t drop_under;       /* ext_drop_under (0: 1% of the pages) */
    uint32_t max_sleep;        /* ext_max_sleep, microseconds */
    double   max_frag;         /* ext_max_frag, 0..1 */
    bool     drop_unread;      /* ext_drop_unread */
    enum flash_io_backend io_backend;   /* ext_io_backend */
};

/* memcached's defaults. */
void flash_conf_defaults(struct flash_conf *c);

/* One `-o` sub-option, split at '=' (val NULL when there was none).
 * Returns 1 when it was a flash option and was applied, 0 when `name` is
 * not a flash option, -1 with a message in err when its value is bad.
 * `val` must outlive c (ext_path keeps a pointer into it, and is cut at
 * its ':'). Pure: no I/O, no allocation. */
int flash_conf_option(struct flash_conf *c, const char *name, char *val,
                      char *err, size_t errlen);

/* The checks between options, once all are given (memcached's
 * storage_check_config): 0, or -1 with a message in err. */
int flash_conf_check(const struct flash_conf *c, uint32_t item_size_max,
                     int udp_port, char *err, size_t errlen);

#endif
