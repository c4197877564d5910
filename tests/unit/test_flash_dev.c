/* Unit tests for one flash file (storage/flash_dev.c): values come back
 * intact across pages; the file is created 0600 and an unsafe one refused;
 * a full device says so and a page whose values are all forgotten is used
 * again, where an old location no longer reads; a torn record, a wrong key
 * or a truncated (vanished) file is never served. */
#include "storage/flash_dev.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

#define PAGE   4096u
#define NPAGES 4u
#define VLEN   1000u   /* with its 24-byte header, 1024 bytes: 4 a page */
#define PER_PAGE 4u

static char path[64];
static char err[256];
static unsigned char scratch[PAGE], out[PAGE];

static void fill(unsigned char *v, unsigned seed)
{
    for (unsigned i = 0; i < VLEN; i++)
        v[i] = (unsigned char)(seed * 31 + i);
}

static struct flash_dev *fresh(void)
{
    unlink(path);
    struct flash_dev *d = flash_dev_open(path, (uint64_t)PAGE * NPAGES, PAGE, err, sizeof(err));
    CHECK(d != NULL);
    return d;
}

static bool read_ok(struct flash_dev *d, const struct flash_loc *loc, unsigned seed)
{
    unsigned char want[VLEN];
    fill(want, seed);
    return flash_dev_read(d, loc, seed, scratch, out) == FLASH_OK &&
           memcmp(out, want, VLEN) == 0;
}

static void test_open_checks(void)
{
    struct stat st;
    struct flash_dev *d = fresh();
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(st.st_size == (off_t)PAGE * NPAGES + FLASH_LABEL_SIZE);
    flash_dev_close(&d);
    CHECK(d == NULL);
    chmod(path, 0644);
    CHECK(flash_dev_open(path, PAGE * NPAGES, PAGE, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "open to other users") != NULL);
    unlink(path);
    CHECK(symlink("/etc/passwd", path) == 0);
    CHECK(flash_dev_open(path, PAGE * NPAGES, PAGE, err, sizeof(err)) == NULL);
    unlink(path);
    CHECK(flash_dev_open(path, PAGE - 1, PAGE, err, sizeof(err)) == NULL);  /* no page */
}

static void test_roundtrip_and_full(void)
{
    struct flash_dev *d = fresh();
    struct flash_loc loc[16], extra;
    struct flash_dev_stats st;
    unsigned char v[VLEN];
    unsigned n = 0;

    for (;;) {
        fill(v, n);
        enum flash_io r = flash_dev_append(d, n, v, VLEN, &loc[n]);
        if (r == FLASH_FULL)
            break;
        CHECK_EQ_INT(r, FLASH_OK);
        n++;
    }
    CHECK_EQ_INT(n, PER_PAGE * NPAGES);
    for (unsigned i = 0; i < n; i++)
        CHECK(read_ok(d, &loc[i], i));
    /* the wrong key's hash, a wrong length: not served */
    CHECK_EQ_INT(flash_dev_read(d, &loc[0], 99, scratch, out), FLASH_BAD);
    struct flash_loc bad = loc[0];
    bad.len = VLEN - 1;
    CHECK_EQ_INT(flash_dev_read(d, &bad, 0, scratch, out), FLASH_BAD);
    bad = loc[0];
    bad.offset = PAGE;   /* past the page */
    CHECK_EQ_INT(flash_dev_read(d, &bad, 0, scratch, out), FLASH_BAD);

    /* forget page 0's values: the page is reused, its old locations no
     * longer read, the others still do */
    flash_dev_stats(d, &st);
    CHECK_EQ_INT(st.pages_used, NPAGES);
    for (unsigned i = 0; i < PER_PAGE; i++)
        flash_dev_forget(d, &loc[i]);
    fill(v, 100);
    CHECK_EQ_INT(flash_dev_append(d, 100, v, VLEN, &extra), FLASH_OK);
    CHECK_EQ_INT(extra.page, loc[0].page);
    CHECK(read_ok(d, &extra, 100));
    CHECK_EQ_INT(flash_dev_read(d, &loc[0], 0, scratch, out), FLASH_STALE);
    for (unsigned i = PER_PAGE; i < n; i++)
        CHECK(read_ok(d, &loc[i], i));
    flash_dev_forget(d, &loc[0]);   /* stale: changes nothing */
    CHECK(read_ok(d, &extra, 100));
    flash_dev_stats(d, &st);
    CHECK_EQ_INT(st.page_reclaims, 1);
    CHECK_EQ_INT(st.objects_written, n + 1);
    CHECK(!st.failed);
    flash_dev_close(&d);
}

static void test_torn_record(void)
{
    struct flash_dev *d = fresh();
    struct flash_loc a, b;
    struct flash_dev_stats st;
    unsigned char v[VLEN];
    int fd = open(path, O_WRONLY);

    fill(v, 1);
    CHECK_EQ_INT(flash_dev_append(d, 1, v, VLEN, &a), FLASH_OK);
    fill(v, 2);
    CHECK_EQ_INT(flash_dev_append(d, 2, v, VLEN, &b), FLASH_OK);
    /* one byte in a's value, b's header: each is refused alone */
    CHECK(pwrite(fd, "\xff", 1, (off_t)a.page * PAGE + a.offset + 24 + 500) == 1);
    CHECK(pwrite(fd, "\0\0\0\0", 4, (off_t)b.page * PAGE + b.offset + 16) == 4);
    close(fd);
    CHECK_EQ_INT(flash_dev_read(d, &a, 1, scratch, out), FLASH_BAD);
    CHECK_EQ_INT(flash_dev_read(d, &b, 2, scratch, out), FLASH_BAD);
    flash_dev_stats(d, &st);
    CHECK_EQ_INT(st.bad_reads, 2);
    CHECK(!st.failed);
    flash_dev_close(&d);
}

static void test_vanished(void)
{
    struct flash_dev *d = fresh();
    struct flash_loc a;
    struct flash_dev_stats st;
    unsigned char v[VLEN];

    fill(v, 1);
    CHECK_EQ_INT(flash_dev_append(d, 1, v, VLEN, &a), FLASH_OK);
    CHECK(truncate(path, 0) == 0);    /* the device went away under us */
    CHECK_EQ_INT(flash_dev_read(d, &a, 1, scratch, out), FLASH_FAILED);
    CHECK_EQ_INT(flash_dev_append(d, 2, v, VLEN, &a), FLASH_FAILED);
    flash_dev_stats(d, &st);
    CHECK(st.failed);
    CHECK_EQ_INT(st.io_errors, 1);
    flash_dev_close(&d);
}

/* flash_dev_tune: appends wait in the write buffer (the file holds
 * nothing of them) until a flush, then read back; with recycle a full
 * device reuses its oldest page, whose values then read as FLASH_STALE. */
static void test_wbuf_and_recycle(void)
{
    struct flash_dev *d = fresh();
    struct flash_loc loc[NPAGES * PER_PAGE + 1];
    struct flash_dev_stats st;
    unsigned char v[VLEN], raw[VLEN];
    int fd = open(path, O_RDONLY);

    CHECK_EQ_INT(flash_dev_tune(d, 2 * PAGE, true), 0);   /* capped at a page */
    fill(v, 0);
    CHECK_EQ_INT(flash_dev_append(d, 0, v, VLEN, &loc[0]), FLASH_OK);
    CHECK(pread(fd, raw, VLEN, (off_t)loc[0].page * PAGE + loc[0].offset + 24) == VLEN);
    CHECK(memcmp(raw, v, VLEN) != 0);                      /* not yet written */
    CHECK_EQ_INT(flash_dev_flush(d), FLASH_OK);
    CHECK(read_ok(d, &loc[0], 0));
    for (unsigned i = 1; i < NPAGES * PER_PAGE + 1; i++) {  /* one more than fits */
        fill(v, i);
        CHECK_EQ_INT(flash_dev_append(d, i, v, VLEN, &loc[i]), FLASH_OK);
    }
    CHECK_EQ_INT(flash_dev_flush(d), FLASH_OK);
    CHECK_EQ_INT(loc[NPAGES * PER_PAGE].page, loc[0].page);   /* the oldest */
    for (unsigned i = 0; i < PER_PAGE; i++)
        CHECK_EQ_INT(flash_dev_read(d, &loc[i], i, scratch, out), FLASH_STALE);
    for (unsigned i = PER_PAGE; i < NPAGES * PER_PAGE + 1; i++)
        CHECK(read_ok(d, &loc[i], i));
    flash_dev_stats(d, &st);
    CHECK_EQ_INT(st.page_evictions, 1);
    CHECK_EQ_INT(st.objects_evicted, PER_PAGE);
    CHECK_EQ_INT(st.bad_reads, 0);
    close(fd);
    flash_dev_close(&d);
}

int main(void)
{
    snprintf(path, sizeof(path), "/tmp/hc-test-flash-%d", (int)getpid());
    RUN(test_open_checks);
    RUN(test_roundtrip_and_full);
    RUN(test_torn_record);
    RUN(test_vanished);
    RUN(test_wbuf_and_recycle);
    unlink(path);
    return unit_report("flash_dev");
}
