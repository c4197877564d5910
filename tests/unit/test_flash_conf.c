/* Unit tests for the flash tier's options (storage/flash_conf.c):
 * memcached's defaults and units, ext_path's FILE:SIZE forms,
 * ext_io_backend's words, every bound refused with a message, and the
 * checks between options. */
#include "storage/flash_conf.h"

#include <stdio.h>
#include <string.h>

#include "unit.h"

static char err[FLASH_ERR_MAX];

/* option() copies val, as the command line's own buffer would be. */
static char vals[32][128];
static unsigned nvals;

static int option(struct flash_conf *c, const char *name, const char *val)
{
    char *v = NULL;
    if (val) {
        v = vals[nvals++ % 32];
        snprintf(v, sizeof(vals[0]), "%s", val);
    }
    err[0] = '\0';
    return flash_conf_option(c, name, v, err, sizeof(err));
}

static void test_defaults(void)
{
    struct flash_conf c;
    flash_conf_defaults(&c);
    CHECK_EQ_INT(c.ndev, 0);
    CHECK_EQ_INT(c.page_size, 64u << 20);
    CHECK_EQ_INT(c.wbuf_size, 4u << 20);
    CHECK_EQ_INT(c.item_size, 512);
    CHECK(c.item_age == UINT32_MAX);
    CHECK_EQ_INT(c.recache_rate, 2000);
    CHECK_EQ_INT(c.max_sleep, 1000000);
    CHECK(c.max_frag > 0.79 && c.max_frag < 0.81);
    CHECK(!c.drop_unread);
    CHECK_EQ_INT(c.io_backend, FLASH_IO_AUTO);
    CHECK_EQ_INT(flash_conf_check(&c, 1 << 20, 0, err, sizeof(err)), 0);
}

static void test_numbers(void)
{
    struct flash_conf c;
    flash_conf_defaults(&c);
    CHECK_EQ_INT(option(&c, "ext_page_size", "32"), 1);
    CHECK_EQ_INT(c.page_size, 32u << 20);
    CHECK_EQ_INT(option(&c, "ext_wbuf_size", "8"), 1);
    CHECK_EQ_INT(c.wbuf_size, 8u << 20);
    CHECK_EQ_INT(option(&c, "ext_threads", "4"), 1);
    CHECK_EQ_INT(c.threads, 4);
    CHECK_EQ_INT(option(&c, "ext_item_age", "4294967295"), 1);
    CHECK(c.item_age == UINT32_MAX);
    CHECK_EQ_INT(option(&c, "ext_max_frag", "0.5"), 1);
    CHECK(c.max_frag == 0.5);
    CHECK_EQ_INT(option(&c, "ext_drop_unread", NULL), 1);
    CHECK(c.drop_unread);
    /* out of range, not a number, missing: refused with the option's name */
    CHECK_EQ_INT(option(&c, "ext_page_size", "0"), -1);
    CHECK(strstr(err, "ext_page_size") != NULL);
    CHECK_EQ_INT(option(&c, "ext_page_size", "1025"), -1);
    CHECK_EQ_INT(option(&c, "ext_threads", "65"), -1);
    CHECK_EQ_INT(option(&c, "ext_io_depth", "0"), -1);
    CHECK_EQ_INT(option(&c, "ext_item_age", "4294967296"), -1);
    CHECK_EQ_INT(option(&c, "ext_low_ttl", "-1"), -1);
    CHECK_EQ_INT(option(&c, "ext_low_ttl", "1x"), -1);
    CHECK_EQ_INT(option(&c, "ext_low_ttl", NULL), -1);
    CHECK_EQ_INT(option(&c, "ext_max_frag", "1.5"), -1);
    CHECK_EQ_INT(option(&c, "ext_max_frag", "nan"), -1);
    CHECK_EQ_INT(option(&c, "ext_max_frag", "0.5x"), -1);
    CHECK_EQ_INT(option(&c, "ext_max_frag", NULL), -1);
    CHECK_EQ_INT(c.page_size, 32u << 20);   /* a refused value changes nothing */
    /* ext_io_backend: one of three words, nothing else */
    CHECK_EQ_INT(option(&c, "ext_io_backend", "pool"), 1);
    CHECK_EQ_INT(c.io_backend, FLASH_IO_POOL);
    CHECK_EQ_INT(option(&c, "ext_io_backend", "uring"), 1);
    CHECK_EQ_INT(c.io_backend, FLASH_IO_URING);
    CHECK_EQ_INT(option(&c, "ext_io_backend", "aio"), -1);
    CHECK(strstr(err, "ext_io_backend") != NULL);
    CHECK_EQ_INT(option(&c, "ext_io_backend", NULL), -1);
    CHECK_EQ_INT(c.io_backend, FLASH_IO_URING);
    CHECK_EQ_INT(option(&c, "ext_io_backend", "auto"), 1);
    CHECK_EQ_INT(c.io_backend, FLASH_IO_AUTO);
    /* not a flash option */
    CHECK_EQ_INT(option(&c, "ext_bogus", "1"), 0);
    CHECK_EQ_INT(option(&c, "hashpower", "16"), 0);
}

static void test_path(void)
{
    struct flash_conf c;
    flash_conf_defaults(&c);
    CHECK_EQ_INT(option(&c, "ext_path", "/d/a:64m"), 1);
    CHECK_EQ_INT(option(&c, "ext_path", "/d/b:2G:default"), 1);
    CHECK_EQ_INT(c.ndev, 2);
    CHECK(strcmp(c.dev[0].path, "/d/a") == 0 && c.dev[0].size == 64ull << 20);
    CHECK(strcmp(c.dev[1].path, "/d/b") == 0 && c.dev[1].size == 2ull << 30);
    CHECK_EQ_INT(option(&c, "ext_path", "/d/b:1g"), -1);        /* twice */
    CHECK_EQ_INT(option(&c, "ext_path", "/d/c"), -1);           /* no size */
    CHECK_EQ_INT(option(&c, "ext_path", "/d/c:64"), -1);        /* no unit */
    CHECK_EQ_INT(option(&c, "ext_path", "/d/c:64k"), -1);       /* no such unit */
    CHECK_EQ_INT(option(&c, "ext_path", "/d/c:0m"), -1);
    CHECK_EQ_INT(option(&c, "ext_path", "/d/c:m"), -1);
    CHECK_EQ_INT(option(&c, "ext_path", "/d/c:-1g"), -1);
    CHECK_EQ_INT(option(&c, "ext_path", "/d/c:2p"), -1);        /* > 1 PiB */
    CHECK_EQ_INT(option(&c, "ext_path", ":64m"), -1);
    CHECK_EQ_INT(option(&c, "ext_path", ""), -1);
    CHECK_EQ_INT(option(&c, "ext_path", NULL), -1);
    CHECK_EQ_INT(option(&c, "ext_path", "/d/c:64m:lowttl"), -1); /* bucket */
    CHECK_EQ_INT(c.ndev, 2);
    for (unsigned i = c.ndev; i < FLASH_DEVICES_MAX; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/d/x%u:1g", i);
        CHECK_EQ_INT(option(&c, "ext_path", p), 1);
    }
    CHECK_EQ_INT(option(&c, "ext_path", "/d/last:1g"), -1);
    CHECK_EQ_INT(c.ndev, FLASH_DEVICES_MAX);
}

static void test_check(void)
{
    struct flash_conf c;
    flash_conf_defaults(&c);
    CHECK_EQ_INT(option(&c, "ext_path", "/d/a:64m"), 1);
    CHECK_EQ_INT(flash_conf_check(&c, 1 << 20, 0, err, sizeof(err)), 0);
    CHECK_EQ_INT(flash_conf_check(&c, 1 << 20, 11211, err, sizeof(err)), -1);
    CHECK(strstr(err, "UDP") != NULL);
    CHECK_EQ_INT(flash_conf_check(&c, 8 << 20, 0, err, sizeof(err)), -1);
    CHECK(strstr(err, "ext_wbuf_size") != NULL);
    CHECK_EQ_INT(option(&c, "ext_page_size", "128"), 1);
    CHECK_EQ_INT(flash_conf_check(&c, 1 << 20, 0, err, sizeof(err)), -1);
    CHECK(strstr(err, "smaller than one page") != NULL);
    CHECK_EQ_INT(option(&c, "ext_page_size", "2"), 1);
    CHECK_EQ_INT(flash_conf_check(&c, 1 << 20, 0, err, sizeof(err)), -1);
    CHECK(strstr(err, "ext_page_size") != NULL);   /* wbuf 4 MiB > page 2 MiB */
}

int main(void)
{
    RUN(test_defaults);
    RUN(test_numbers);
    RUN(test_path);
    RUN(test_check);
    return unit_report("flash_conf");
}
