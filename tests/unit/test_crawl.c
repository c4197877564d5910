/* Unit tests for crawl_next_wait (crawl.h): memcached 1.6.45's autocrawl
 * rule (items.c, lru_maintainer_crawler_check), one case per branch. */
#include "storage/crawl.h"

#include "unit.h"

static rel_time_t next(const struct store_reclaim_tally *t, rel_time_t wait,
                       uint64_t *low, uint64_t *due)
{
    return crawl_next_wait(t, wait, low, due);
}

static void test_nothing_due_grows_to_an_hour(void)
{
    struct store_reclaim_tally t = { .live = 500, .noexp = 500 };
    uint64_t low, due;

    CHECK_EQ_INT(next(&t, 0, &low, &due), 60);
    CHECK_EQ_INT(low, 1);
    CHECK_EQ_INT(due, 0);
    CHECK_EQ_INT(next(&t, 3590, &low, &due), 3600);   /* memcached's cap */
    CHECK_EQ_INT(next(&t, 3600, &low, &due), 3600);
}

static void test_due_soon_shrinks_due_late_grows(void)
{
    struct store_reclaim_tally t = { .live = 1000, .noexp = 0 };
    uint64_t low, due;

    t.ttl_minute[2] = 20;   /* 2% of what can expire, in minute 2 */
    CHECK_EQ_INT(next(&t, 300, &low, &due), 240);   /* sooner than the wait */
    CHECK_EQ_INT(low, 11);
    CHECK_EQ_INT(due, 20);
    CHECK_EQ_INT(next(&t, 60, &low, &due), 120);    /* later than the wait */
    CHECK_EQ_INT(next(&t, 30, &low, &due), 90);
    CHECK_EQ_INT(next(&t, 0, &low, &due), 60);
}

static void test_too_few_due_keeps_the_wait_or_grows(void)
{
    struct store_reclaim_tally t = { .live = 1000, .noexp = 0 };
    uint64_t low, due;

    t.ttl_minute[0] = 5;    /* under 1% + 1: not worth a pass */
    CHECK_EQ_INT(next(&t, 120, &low, &due), 120);
    CHECK_EQ_INT(due, 5);
    t.ttl_minute[0] = 0;
    CHECK_EQ_INT(next(&t, 120, &low, &due), 180);
}

int main(void)
{
    RUN(test_nothing_due_grows_to_an_hour);
    RUN(test_due_soon_shrinks_due_late_grows);
    RUN(test_too_few_due_keeps_the_wait_or_grows);
    return unit_report("test_crawl");
}
