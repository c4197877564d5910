/* Unit tests for the flash tier's restart (storage/flash_recover.c): the
 * page table rebuilt from stubs (versions, live counts, ends, stale and
 * impossible stubs), the identity checks between runs, and a device
 * reopened, labelled anew and restored, where every kept location reads
 * back and pages reused afterwards never serve an old location. */
#include "storage/flash_recover.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#define PAGE   4096u
#define NPAGES 4u
#define VLEN   1000u   /* with its 24-byte header, 1024 bytes: 4 a page */

static char path[64];
static char err[256];
static unsigned char scratch[PAGE], out[PAGE];

static struct flash_loc loc_at(uint32_t page, uint32_t offset, uint32_t version)
{
    return (struct flash_loc){ .page = page, .offset = offset, .version = version,
                               .len = VLEN };
}

static void test_rebuild(void)
{
    struct flash_rebuild r;
    struct flash_loc l;

    CHECK_EQ_INT(flash_rebuild_init(&r, NPAGES, PAGE), 0);
    /* page 1: two of version 5, then one of version 7 (the page was
     * reused: the two are stale), then one of version 5 (dropped) */
    l = loc_at(1, 0, 5);
    CHECK(flash_rebuild_note(&r, &l));
    l = loc_at(1, 1024, 5);
    CHECK(flash_rebuild_note(&r, &l));
    l = loc_at(1, 2048, 7);
    CHECK(flash_rebuild_note(&r, &l));
    l = loc_at(1, 0, 5);
    CHECK(!flash_rebuild_note(&r, &l));
    CHECK_EQ_INT(r.page[1].version, 7);
    CHECK_EQ_INT(r.page[1].live, 1);
    CHECK_EQ_INT(r.page[1].used, 3072);
    CHECK_EQ_INT(r.stale, 2);
    /* page 2: out of order within a version; the end is the last record's */
    l = loc_at(2, 2048, 3);
    CHECK(flash_rebuild_note(&r, &l));
    l = loc_at(2, 0, 3);
    CHECK(flash_rebuild_note(&r, &l));
    CHECK_EQ_INT(r.page[2].used, 3072);
    CHECK_EQ_INT(r.page[2].live, 2);
    /* a record's end rounds up to FLASH_REC_ALIGN */
    l = (struct flash_loc){ .page = 3, .offset = 0, .version = 9, .len = 1 };
    CHECK(flash_rebuild_note(&r, &l));
    CHECK_EQ_INT(r.page[3].used, 32);
    /* impossible locations: no such page, version 0, misaligned, past
     * the page's end, longer than a page */
    struct flash_loc bad[] = {
        loc_at(NPAGES, 0, 1), loc_at(0, 0, 0), loc_at(0, 4, 1), loc_at(0, PAGE - 1000, 1),
        { .page = 0, .offset = 0, .version = 1, .len = UINT32_MAX },
        { .page = 0, .offset = UINT32_MAX - 7, .version = 1, .len = 8 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(!flash_rebuild_note(&r, &bad[i]));
    CHECK_EQ_INT(r.page[0].live, 0);
    CHECK_EQ_INT(r.page[0].version, 0);
    CHECK_EQ_INT(flash_rebuild_live(&r), 4);
    flash_rebuild_free(&r);
    CHECK(r.page == NULL);
}

static void test_identity(void)
{
    struct flash_ident now = { .path = "/srv/flash", .size = PAGE * NPAGES,
                               .page_size = PAGE, .found_id = 42 };
    struct persist_flash was, e;

    memset(&was, 0, sizeof(was));
    CHECK(flash_recover_mismatch(&was, &now) != NULL);          /* none recorded */
    flash_recover_record(&was, &now, 42);
    CHECK(flash_recover_mismatch(&was, &now) == NULL);
    e = was;
    e.size += 1;   /* the entry damaged: its sum no longer matches */
    CHECK(strstr(flash_recover_mismatch(&e, &now), "damaged") != NULL);

    struct flash_ident other = now;
    other.path = "/srv/flash2";
    CHECK(strstr(flash_recover_mismatch(&was, &other), "another file") != NULL);
    other = now;
    other.size = PAGE * (NPAGES + 1);
    CHECK(strstr(flash_recover_mismatch(&was, &other), "size") != NULL);
    other = now;
    other.page_size = PAGE * 2;
    CHECK(strstr(flash_recover_mismatch(&was, &other), "ext_page_size") != NULL);
    other = now;
    other.found_id = 0;
    CHECK(strstr(flash_recover_mismatch(&was, &other), "truncated or resized") != NULL);
    other = now;
    other.found_id = 43;
    CHECK(strstr(flash_recover_mismatch(&was, &other), "another file") != NULL);
}

static void fill(unsigned char *v, unsigned seed)
{
    for (unsigned i = 0; i < VLEN; i++)
        v[i] = (unsigned char)(seed * 31 + i);
}

static bool read_ok(struct flash_dev *d, const struct flash_loc *loc, unsigned seed)
{
    unsigned char want[VLEN];
    fill(want, seed);
    return flash_dev_read(d, loc, seed, scratch, out) == FLASH_OK &&
           memcmp(out, want, VLEN) == 0;
}

static struct flash_dev *open_dev(uint64_t size)
{
    struct flash_dev *d = flash_dev_open(path, size, PAGE, err, sizeof(err));
    CHECK(d != NULL);
    return d;
}

/* Each open labels the file anew and finds the label it held; a file
 * of another size finds none. */
static void test_label(void)
{
    unlink(path);
    struct flash_dev *d = open_dev(PAGE * NPAGES);
    uint64_t first = flash_dev_id(d);

    CHECK(first != 0);
    CHECK_EQ_INT(flash_dev_found_id(d), 0);   /* a new file */
    flash_dev_close(&d);
    d = open_dev(PAGE * NPAGES);
    CHECK(flash_dev_found_id(d) == first);
    CHECK(flash_dev_id(d) != first && flash_dev_id(d) != 0);
    uint64_t second = flash_dev_id(d);
    flash_dev_close(&d);
    CHECK(truncate(path, PAGE * NPAGES) == 0);   /* the label cut off */
    d = open_dev(PAGE * NPAGES);
    CHECK_EQ_INT(flash_dev_found_id(d), 0);
    flash_dev_close(&d);
    d = open_dev(PAGE * (NPAGES + 1));            /* resized: not looked at */
    CHECK_EQ_INT(flash_dev_found_id(d), 0);
    flash_dev_close(&d);
    d = open_dev(PAGE * NPAGES);
    CHECK_EQ_INT(flash_dev_found_id(d), 0);       /* sized back: still none */
    CHECK(flash_dev_id(d) != second);
    flash_dev_close(&d);
}

/* A device written, its page 0 recycled, then reopened and restored
 * from the locations kept: each reads back; new pages take versions above
 * all of them, so the stale ones (of page 0's first use) never read the
 * bytes written since, and a page whose values are all forgotten is free. */
static void test_restore(void)
{
    struct flash_loc loc[4 * 5 + 1];
    struct flash_dev_stats st;
    struct flash_rebuild r;
    unsigned char v[VLEN];
    unsigned n = 4 * NPAGES + 1, i;

    unlink(path);
    struct flash_dev *d = open_dev(PAGE * NPAGES);
    CHECK_EQ_INT(flash_dev_tune(d, PAGE, true), 0);
    for (i = 0; i < n; i++) {   /* one more than fits: page 0 is reused */
        fill(v, i);
        CHECK_EQ_INT(flash_dev_append(d, i, v, VLEN, &loc[i]), FLASH_OK);
    }
    CHECK_EQ_INT(flash_dev_flush(d), FLASH_OK);
    CHECK_EQ_INT(loc[n - 1].page, loc[0].page);
    CHECK(loc[n - 1].version > loc[4 * (NPAGES - 1)].version);   /* one count */
    flash_dev_close(&d);

    d = open_dev(PAGE * NPAGES);
    CHECK_EQ_INT(flash_dev_tune(d, PAGE, true), 0);
    CHECK_EQ_INT(flash_rebuild_init(&r, NPAGES, PAGE), 0);
    for (i = 0; i < n; i++)   /* stale ones first, as the oldest items come */
        CHECK(flash_rebuild_note(&r, &loc[i]));
    CHECK_EQ_INT(r.stale, 4);
    flash_dev_restore(d, r.page);
    flash_rebuild_free(&r);
    flash_dev_stats(d, &st);
    CHECK_EQ_INT(st.pages_used, NPAGES);
    CHECK_EQ_INT(st.objects_used, 4 * (NPAGES - 1) + 1);
    for (i = 0; i < 4; i++)
        CHECK_EQ_INT(flash_dev_read(d, &loc[i], i, scratch, out), FLASH_STALE);
    for (i = 4; i < n; i++)
        CHECK(read_ok(d, &loc[i], i));

    /* the next write reuses the oldest page (page 1, version 2) at a
     * version above every one the restart met */
    fill(v, 100);
    struct flash_loc extra;
    CHECK_EQ_INT(flash_dev_append(d, 100, v, VLEN, &extra), FLASH_OK);
    CHECK_EQ_INT(flash_dev_flush(d), FLASH_OK);
    CHECK_EQ_INT(extra.page, loc[4].page);
    CHECK(extra.version > loc[n - 1].version);
    CHECK(read_ok(d, &extra, 100));
    for (i = 4; i < 8; i++)
        CHECK_EQ_INT(flash_dev_read(d, &loc[i], i, scratch, out), FLASH_STALE);
    for (i = 8; i < n; i++)
        CHECK(read_ok(d, &loc[i], i));

    /* page 0's one live value forgotten: the page is free again */
    flash_dev_forget(d, &loc[n - 1]);
    flash_dev_stats(d, &st);
    CHECK_EQ_INT(st.page_reclaims, 1);
    CHECK_EQ_INT(st.bad_reads, 0);
    flash_dev_close(&d);
}

int main(void)
{
    snprintf(path, sizeof(path), "/tmp/hc-test-flash-recover-%d", (int)getpid());
    RUN(test_rebuild);
    RUN(test_identity);
    RUN(test_label);
    RUN(test_restore);
    unlink(path);
    return unit_report("test_flash_recover");
}
