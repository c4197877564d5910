/* Unit tests for size_class.h: the table is memcached 1.6.45's with its
 * defaults (what `memcached -vv` prints at start-up), and items fall in
 * the class memcached gives them, by its own item size. */
#include "storage/size_class.h"

#include "unit.h"

/* `memcached -vv`: slab class N: chunk size ... */
static const uint32_t mc_chunks[] = {
    0, 96, 120, 152, 192, 240, 304, 384, 480, 600, 752, 944, 1184, 1480,
    1856, 2320, 2904, 3632, 4544, 5680, 7104, 8880, 11104, 13880, 17352,
    21696, 27120, 33904, 42384, 52984, 66232, 82792, 103496, 129376,
    161720, 202152, 252696, 315872, 394840, 524288,
};

static void test_table(void)
{
    unsigned n = sizeof(mc_chunks) / sizeof(mc_chunks[0]) - 1;

    CHECK_EQ_INT(size_class_count(), n);
    for (unsigned i = 1; i <= n; i++)
        CHECK_EQ_INT(size_class_chunk(i), mc_chunks[i]);
    CHECK_EQ_INT(size_class_chunk(0), 0);
    CHECK_EQ_INT(size_class_chunk(n + 1), 0);
}

static void test_placement(void)
{
    /* memcached's ITEM_ntotal: 48 + key + 1 + [4 flags] + value + 2 + [8 cas] */
    CHECK_EQ_INT(size_class_mc_total(1, 5, false, true), 65);
    CHECK_EQ_INT(size_class_mc_total(1, 5, true, false), 61);
    CHECK_EQ_INT(size_class_of(1), 1);
    CHECK_EQ_INT(size_class_of(96), 1);
    CHECK_EQ_INT(size_class_of(97), 2);
    CHECK_EQ_INT(size_class_of(1184), 12);
    CHECK_EQ_INT(size_class_of(1185), 13);
    CHECK_EQ_INT(size_class_of(524288), 39);
    CHECK_EQ_INT(size_class_of(900000), 39);   /* chunked in memcached */
}

/* The lookup gives what a walk up the table gives, for every size. */
static void test_lookup_is_the_walk(void)
{
    unsigned n = size_class_count(), wrong = 0;

    for (size_t total = 1; total <= 600000; total++) {
        unsigned id = 1;
        while (id < n && total > size_class_chunk(id))
            id++;
        wrong += size_class_of(total) != id;
    }
    CHECK_EQ_INT(wrong, 0);
}

/* An item's class with and without CAS (-C), as the store sets it. */
static void test_item_class(void)
{
    CHECK(size_class_use_cas());
    CHECK_EQ_INT(size_class_item_total(1, 5, false), 65);
    CHECK_EQ_INT(size_class_of_item(10, 29, true), 2);    /* 48+11+4+31+8 = 102 */
    size_class_setup(false);
    CHECK_EQ_INT(size_class_item_total(1, 5, true), 61);
    CHECK_EQ_INT(size_class_of_item(10, 29, true), 1);    /* 94 */
    size_class_setup(true);
}

int main(void)
{
    RUN(test_table);
    RUN(test_placement);
    RUN(test_lookup_is_the_walk);
    RUN(test_item_class);
    return unit_report("test_size_class");
}
