/* Unit tests for the flash compactor's page choice (storage/flash_compact.c,
 * memcached 1.6.45's storage_compact_check for one bucket): nothing while
 * enough pages are free; then the most fragmented full page under
 * ext_max_frag, never the open one; with none such and ext_drop_unread
 * under ext_drop_under, the oldest page, to be compacted dropping unread
 * values. And the device's side: live bytes per page, a compacted page
 * freed only at the version it was read at. */
#include "storage/flash_compact.h"

#include <stdio.h>
#include <unistd.h>

#include "unit.h"

#define PAGE 1000u

static struct flash_page_info full(uint64_t seq, uint32_t live)
{
    return (struct flash_page_info){ .seq = seq, .version = 1, .used = PAGE,
                                     .live_bytes = live };
}

static const struct flash_page_info FREE_PAGE = { .seq = 0 };

static void test_enough_free_pages_no_compaction(void)
{
    struct flash_page_info p[4] = { full(1, 100), FREE_PAGE, FREE_PAGE, full(2, 900) };
    struct flash_compact_policy pol = { .compact_under = 2, .drop_under = 2,
                                        .max_frag = 0.8 };
    uint32_t page = 99;
    bool drop = true;

    CHECK(!flash_compact_choose(p, 4, PAGE, &pol, &page, &drop));
    pol.compact_under = 3;   /* 2 free: fewer than 3 */
    CHECK(flash_compact_choose(p, 4, PAGE, &pol, &page, &drop));
    CHECK_EQ_INT(page, 0);
    CHECK(!drop);
}

static void test_most_fragmented_under_the_limit(void)
{
    struct flash_page_info p[5] = { full(1, 790), full(2, 300), full(3, 810),
                                    full(4, 100), full(5, 50) };
    struct flash_compact_policy pol = { .compact_under = 1, .drop_under = 1,
                                        .max_frag = 0.8 };
    uint32_t page = 99;
    bool drop = true;

    p[4].open = true;   /* the page taking writes is never chosen */
    CHECK(flash_compact_choose(p, 5, PAGE, &pol, &page, &drop));
    CHECK_EQ_INT(page, 3);
    CHECK(!drop);
    pol.max_frag = 0.05;   /* 50 bytes: no full page is that empty */
    CHECK(!flash_compact_choose(p, 5, PAGE, &pol, &page, &drop));
    pol.max_frag = -1;     /* a tuned nonsense value: clamped, no page */
    CHECK(!flash_compact_choose(p, 5, PAGE, &pol, &page, &drop));
}

static void test_drop_unread_takes_the_oldest(void)
{
    struct flash_page_info p[4] = { full(7, 900), full(3, 950), full(5, 990),
                                    full(9, 10) };
    struct flash_compact_policy pol = { .compact_under = 1, .drop_under = 1,
                                        .max_frag = 0.5, .drop_unread = true };
    uint32_t page = 99;
    bool drop = false;

    p[3].open = true;
    CHECK(flash_compact_choose(p, 4, PAGE, &pol, &page, &drop));
    CHECK_EQ_INT(page, 1);   /* seq 3: allocated first */
    CHECK(drop);
    pol.drop_unread = false;   /* memcached then leaves it to page reuse */
    CHECK(!flash_compact_choose(p, 4, PAGE, &pol, &page, &drop));
    pol.drop_unread = true;
    pol.drop_under = 0;
    CHECK(!flash_compact_choose(p, 4, PAGE, &pol, &page, &drop));
}

static void test_device_live_bytes_and_close(void)
{
    char path[64], err[256];
    unsigned char v[100] = { 1 };
    struct flash_loc a, b;
    struct flash_page_info pg[2];
    struct flash_dev_stats st;

    snprintf(path, sizeof(path), "/tmp/hc-test-fcompact-%d", (int)getpid());
    unlink(path);
    struct flash_dev *d = flash_dev_open(path, 2 * 4096, 4096, err, sizeof(err));
    CHECK(d != NULL);
    if (d == NULL)
        return;
    CHECK(flash_dev_append(d, 1, v, sizeof(v), &a) == FLASH_OK);
    CHECK(flash_dev_append(d, 2, v, sizeof(v), &b) == FLASH_OK);
    flash_dev_page_info(d, pg);
    CHECK(pg[0].open && pg[0].seq == 1);
    CHECK_EQ_INT(pg[0].live_bytes, 2 * flash_rec_size(sizeof(v)));
    CHECK_EQ_INT(pg[1].seq, 0);
    flash_dev_forget(d, &a);
    flash_dev_page_info(d, pg);
    CHECK_EQ_INT(pg[0].live_bytes, flash_rec_size(sizeof(v)));
    flash_dev_close_page(d, 0, b.version);   /* open: not closed */
    flash_dev_page_info(d, pg);
    CHECK(pg[0].seq == 1);
    unsigned char big[4000] = { 0 };
    struct flash_loc c;
    CHECK(flash_dev_append(d, 3, big, sizeof(big) - 100, &c) == FLASH_OK);
    CHECK_EQ_INT(c.page, 1);   /* page 0 is full now */
    flash_dev_close_page(d, 0, b.version + 1);   /* another version: kept */
    flash_dev_page_info(d, pg);
    CHECK(pg[0].seq == 1);
    flash_dev_close_page(d, 0, b.version);
    flash_dev_page_info(d, pg);
    CHECK_EQ_INT(pg[0].seq, 0);
    flash_dev_stats(d, &st);
    CHECK_EQ_INT(st.pages_used, 1);
    CHECK_EQ_INT(st.page_reclaims, 1);
    flash_dev_forget(d, &b);   /* its page was closed: nothing to count */
    flash_dev_stats(d, &st);
    CHECK_EQ_INT(st.pages_used, 1);
    flash_dev_close(&d);
    unlink(path);
}

int main(void)
{
    RUN(test_enough_free_pages_no_compaction);
    RUN(test_most_fragmented_under_the_limit);
    RUN(test_drop_unread_takes_the_oldest);
    RUN(test_device_live_bytes_and_close);
    return unit_report("flash_compact");
}
