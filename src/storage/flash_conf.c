/*
 * flash_conf: parse and check the flash tier's options (see flash_conf.h).
 * The numeric options are one table, so a name, its range and its unit
 * are said once.
 */
#include "storage/flash_conf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strnum.h"

#define MiB (UINT32_C(1024) * 1024)

/* name, field, min, max, unit (the value given is multiplied by it) */
#define FLASH_U32_OPTIONS(X) \
    X("ext_page_size",     page_size,     1, FLASH_PAGE_MB_MAX,  MiB) \
    X("ext_wbuf_size",     wbuf_size,     1, FLASH_WBUF_MB_MAX,  MiB) \
    X("ext_threads",       threads,       1, FLASH_THREADS_MAX,  1)   \
    X("ext_io_depth",      io_depth,      1, FLASH_IO_DEPTH_MAX, 1)   \
    X("ext_item_size",     item_size,     0, UINT32_MAX,         1)   \
    X("ext_item_age",      item_age,      0, UINT32_MAX,         1)   \
    X("ext_low_ttl",       low_ttl,       0, UINT32_MAX,         1)   \
    X("ext_recache_rate",  recache_rate,  0, UINT32_MAX,         1)   \
    X("ext_compact_under", compact_under, 0, UINT32_MAX,         1)   \
    X("ext_drop_under",    drop_under,    0, UINT32_MAX,         1)   \
    X("ext_max_sleep",     max_sleep,     0, UINT32_MAX,         1)

void flash_conf_defaults(struct flash_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->page_size = 64 * MiB;
    c->wbuf_size = 4 * MiB;
    c->threads = 1;
    c->io_depth = 1;
    c->item_size = 512;
    c->item_age = UINT32_MAX;
    c->recache_rate = 2000;
    c->max_sleep = 1000000;
    c->max_frag = 0.8;
}

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* "FILE:SIZE" with memcached's unit suffixes (m, g, t, p; one is needed),
 * an optional third field naming a page bucket, which only "default" is. */
static int parse_path(struct flash_conf *c, char *val, char *err, size_t errlen)
{
    char *size, *bucket, *end;
    uint64_t n, mult;
    size_t len;

    if (val == NULL || *val == '\0')
        return fail(err, errlen, "missing argument to ext_path, ie: ext_path=/d/file:5G");
    if (c->ndev == FLASH_DEVICES_MAX)
        return fail(err, errlen, "ext_path given more than %d times", FLASH_DEVICES_MAX);
    size = strchr(val, ':');
    if (size == NULL || size == val)
        return fail(err, errlen, "must supply size to ext_path, ie: ext_path=/f/e:64m "
                    "(m|g|t|p supported)");
    *size++ = '\0';
    if (strlen(val) > FLASH_PATH_MAX)
        return fail(err, errlen, "ext_path: file name longer than %d bytes", FLASH_PATH_MAX);
    bucket = strchr(size, ':');
    if (bucket)
        *bucket++ = '\0';
    if (bucket && strcmp(bucket, "default") != 0)
        return fail(err, errlen, "ext_path: page bucket \"%s\" is not supported "
                    "(only \"default\")", bucket);
    len = strlen(size);
    end = len ? size + len - 1 : size;
    switch (*end) {
    case 'm': case 'M': mult = UINT64_C(1) << 20; break;
    case 'g': case 'G': mult = UINT64_C(1) << 30; break;
    case 't': case 'T': mult = UINT64_C(1) << 40; break;
    case 'p': case 'P': mult = UINT64_C(1) << 50; break;
    default:
        return fail(err, errlen, "must supply size to ext_path, ie: ext_path=/f/e:64m "
                    "(m|g|t|p supported)");
    }
    if (!strnum_u64(size, len - 1, &n) || n == 0 || n > FLASH_DEVICE_SIZE_MAX / mult)
        return fail(err, errlen, "ext_path: bad size \"%s\"", size);
    for (unsigned i = 0; i < c->ndev; i++)
        if (strcmp(c->dev[i].path, val) == 0)
            return fail(err, errlen, "ext_path: %s given twice", val);
    c->dev[c->ndev].path = val;
    c->dev[c->ndev].size = n * mult;
    c->ndev++;
    return 1;
}

/* Operator input from the command line, not the network; strtod is the
 * library's parser for a decimal fraction, checked here to be whole. */
static int parse_frag(struct flash_conf *c, const char *val, char *err, size_t errlen)
{
    char *end;
    double v;

    if (val == NULL || *val == '\0')
        return fail(err, errlen, "missing ext_max_frag argument");
    v = strtod(val, &end);
    if (*end != '\0' || !isfinite(v) || v < 0.0 || v > 1.0)
        return fail(err, errlen, "bad ext_max_frag (0..1): %s", val);
    c->max_frag = v;
    return 1;
}

static bool in_range(uint64_t v, uint64_t min, uint64_t max)
{
    return v >= min && v <= max;
}

int flash_conf_option(struct flash_conf *c, const char *name, char *val,
                      char *err, size_t errlen)
{
    uint64_t v;

#define X(opt, field, min, max, unit) \
    if (strcmp(name, opt) == 0) { \
        if (val == NULL || !strnum_u64(val, strlen(val), &v) || \
            !in_range(v, min, max)) \
            return fail(err, errlen, "bad %s (%llu..%llu): %s", opt, \
                        (unsigned long long)(min), (unsigned long long)(max), \
                        val ? val : "(missing)"); \
        c->field = (uint32_t)(v * (unit)); \
        return 1; \
    }
    FLASH_U32_OPTIONS(X)
#undef X
    if (strcmp(name, "ext_path") == 0)
        return parse_path(c, val, err, errlen);
    if (strcmp(name, "ext_max_frag") == 0)
        return parse_frag(c, val, err, errlen);
    if (strcmp(name, "ext_io_backend") == 0) {
        if (val != NULL && strcmp(val, "pool") == 0)
            c->io_backend = FLASH_IO_POOL;
        else if (val != NULL && strcmp(val, "uring") == 0)
            c->io_backend = FLASH_IO_URING;
        else if (val != NULL && strcmp(val, "auto") == 0)
            c->io_backend = FLASH_IO_AUTO;
        else
            return fail(err, errlen, "bad ext_io_backend (auto, pool or uring): %s",
                        val ? val : "(missing)");
        return 1;
    }
    if (strcmp(name, "ext_drop_unread") == 0) {
        c->drop_unread = true;   /* memcached takes no value here */
        return 1;
    }
    return 0;
}

int flash_conf_check(const struct flash_conf *c, uint32_t item_size_max,
                     int udp_port, char *err, size_t errlen)
{
    if (c->ndev == 0)
        return 0;
    if (c->wbuf_size > c->page_size)
        return fail(err, errlen, "ext_wbuf_size (%u MiB) cannot be larger than "
                    "ext_page_size (%u MiB)", c->wbuf_size / MiB, c->page_size / MiB);
    if (item_size_max > c->wbuf_size)
        return fail(err, errlen, "-I (item_size_max: %u) cannot be larger than "
                    "ext_wbuf_size: %u", item_size_max, c->wbuf_size);
    if (udp_port != 0)
        return fail(err, errlen, "Cannot use UDP with extstore enabled (-U 0 to disable)");
    for (unsigned i = 0; i < c->ndev; i++)
        if (c->dev[i].size < c->page_size)
            return fail(err, errlen, "ext_path %s: smaller than one page "
                        "(ext_page_size %u MiB)", c->dev[i].path, c->page_size / MiB);
    return 0;
}
