/* Unit tests for the UDP amplification policy, with time driven by hand:
 * the BAF bound for unvalidated sources, validation and its window, the
 * token buckets, the bounded table, admin refusal and the drop alert. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>

#include "core/hash.h"
#include "policy/udp_guard.h"
#include "unit.h"

static struct udp_src src4(const char *a)
{
    struct sockaddr_in s;
    struct udp_src out;

    memset(&s, 0, sizeof(s));
    s.sin_family = AF_INET;
    inet_pton(AF_INET, a, &s.sin_addr);
    udp_src_from_sockaddr((const struct sockaddr *)&s, &out);
    return out;
}

static void setup(uint32_t baf, uint64_t src_rate, uint64_t src_burst,
                  uint64_t glob_rate, uint64_t glob_burst)
{
    struct udp_guard_config cfg;

    udp_guard_teardown();
    udp_guard_defaults(&cfg);
    cfg.window_s = 60;
    cfg.sources_max = 64;
    cfg.baf_percent = baf;
    cfg.src_rate = src_rate;
    cfg.src_burst = src_burst;
    cfg.global_rate = glob_rate;
    cfg.global_burst = glob_burst;
    cfg.alert_drops = 10;
    CHECK(udp_guard_setup(&cfg) == 0);
}

static void test_unvalidated_baf(void)
{
    struct udp_src v = src4("192.0.2.1");

    setup(100, 0, 0, 0, 0);
    CHECK(!udp_guard_validated(&v, 1000));
    CHECK_EQ_INT(udp_guard_reply_max(false, 15), 15);
    /* the reply may be exactly as large as the request, not a byte more */
    CHECK_EQ_INT(udp_guard_reply(&v, false, 15, 15, 30, 1000), UDP_SEND);
    CHECK_EQ_INT(udp_guard_reply(&v, false, 15, 16, 30, 1000), UDP_DROP_AMPLIFICATION);
    CHECK_EQ_INT(udp_guard_reply(&v, false, 40, 2220, 30, 1000), UDP_SHORT_AMPLIFICATION);
    CHECK_EQ_INT(udp_guard_reply(&v, false, 17, SIZE_MAX, 30, 1000), UDP_DROP_AMPLIFICATION);
    CHECK_EQ_INT(udp_guard_reply(&v, false, 17, SIZE_MAX, SIZE_MAX, 1000), UDP_DROP_AMPLIFICATION);
    /* BAF 0.5 and 0 */
    setup(50, 0, 0, 0, 0);
    CHECK_EQ_INT(udp_guard_reply(&v, false, 30, 15, SIZE_MAX, 1000), UDP_SEND);
    CHECK_EQ_INT(udp_guard_reply(&v, false, 30, 16, SIZE_MAX, 1000), UDP_DROP_AMPLIFICATION);
    setup(0, 0, 0, 0, 0);
    CHECK_EQ_INT(udp_guard_reply(&v, false, 1000, 1, 1, 1000), UDP_DROP_AMPLIFICATION);
}

static void test_validation_window(void)
{
    struct udp_src a = src4("198.51.100.7"), b = src4("198.51.100.8");

    setup(100, 0, 0, 0, 0);
    udp_guard_validate(&a, 10000);
    CHECK(udp_guard_validated(&a, 10000));
    CHECK(!udp_guard_validated(&b, 10000));   /* the neighbour is not */
    CHECK(udp_guard_validated(&a, 70000));    /* window: 60 s */
    CHECK(!udp_guard_validated(&a, 70001));
    udp_guard_validate(&a, 70002);            /* a new TCP connection */
    CHECK(udp_guard_validated(&a, 100000));
    /* validated: full replies of any size up to the reply limit */
    CHECK_EQ_INT(udp_guard_reply(&a, true, 17, 1005780, 30, 100000), UDP_SEND);
    CHECK_EQ_INT(udp_guard_reply(&a, true, 17, SIZE_MAX, 30, 100000), UDP_SHORT_TOO_LARGE);
    /* v4-mapped IPv6 is the same source */
    struct sockaddr_in6 m;
    struct udp_src ms;
    memset(&m, 0, sizeof(m));
    m.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:198.51.100.7", &m.sin6_addr);
    CHECK(udp_src_from_sockaddr((const struct sockaddr *)&m, &ms));
    CHECK(udp_guard_validated(&ms, 100000));
    struct sockaddr un = { .sa_family = AF_UNIX };
    CHECK(!udp_src_from_sockaddr(&un, &ms));
}

static void test_buckets(void)
{
    struct udp_src a = src4("203.0.113.1"), b = src4("203.0.113.2");

    /* per source: 1000 B/s, burst 3000; global: 10000 B/s, burst 5000 */
    setup(100, 1000, 3000, 10000, 5000);
    udp_guard_validate(&a, 0);
    udp_guard_validate(&b, 0);
    CHECK_EQ_INT(udp_guard_reply(&a, true, 17, 2500, 30, 0), UDP_SEND);
    CHECK_EQ_INT(udp_guard_reply(&a, true, 17, 2500, 30, 0), UDP_SHORT_RATE);
    CHECK_EQ_INT(udp_guard_reply(&a, true, 17, 2500, SIZE_MAX, 0), UDP_DROP_RATE);
    /* b has its own bucket, but the global one has 5000 - 2500 - 30 left */
    CHECK_EQ_INT(udp_guard_reply(&b, true, 17, 2400, 30, 0), UDP_SEND);
    CHECK_EQ_INT(udp_guard_reply(&b, true, 17, 100, SIZE_MAX, 0), UDP_DROP_RATE);
    /* refill: 2 s later a has 470 + 2000, the global bucket is full */
    CHECK_EQ_INT(udp_guard_reply(&a, true, 17, 2500, SIZE_MAX, 2000), UDP_DROP_RATE);
    CHECK_EQ_INT(udp_guard_reply(&a, true, 17, 2400, SIZE_MAX, 2000), UDP_SEND);
    /* a long pause refills to the burst, never beyond (a new TCP
     * connection keeps the bucket: reconnecting buys no tokens) */
    udp_guard_validate(&a, 1000000000);
    CHECK_EQ_INT(udp_guard_reply(&a, true, 17, 3001, SIZE_MAX, 1000000000), UDP_DROP_RATE);
    CHECK_EQ_INT(udp_guard_reply(&a, true, 17, 3000, SIZE_MAX, 1000000000), UDP_SEND);
    /* unvalidated replies spend the global bucket too */
    setup(100, 0, 0, 1, 20);
    CHECK_EQ_INT(udp_guard_reply(&b, false, 15, 15, SIZE_MAX, 0), UDP_SEND);
    CHECK_EQ_INT(udp_guard_reply(&b, false, 15, 15, SIZE_MAX, 0), UDP_DROP_RATE);
}

static void test_table_bounded(void)
{
    char name[32];
    struct udp_src first = src4("10.0.0.1");
    int still = 0;

    setup(100, 0, 0, 0, 0);   /* 64 entries */
    udp_guard_validate(&first, 1);
    for (int i = 0; i < 10000; i++) {
        snprintf(name, sizeof(name), "10.%d.%d.%d", 1 + i / 65536, (i / 256) % 256, i % 256);
        struct udp_src s = src4(name);
        udp_guard_validate(&s, 2 + (uint64_t)i);
    }
    /* the oldest were replaced; the newest are there */
    CHECK(!udp_guard_validated(&first, 20000));
    for (int i = 9990; i < 10000; i++) {
        snprintf(name, sizeof(name), "10.%d.%d.%d", 1 + i / 65536, (i / 256) % 256, i % 256);
        struct udp_src s = src4(name);
        still += udp_guard_validated(&s, 20000);
    }
    CHECK(still >= 8);
}

static void test_alert(void)
{
    char line[512];
    struct udp_src a = src4("192.0.2.66"), b = src4("192.0.2.77");
    int reports = 0;

    setup(100, 0, 0, 0, 0);   /* alert at 10 drops within a second */
    for (int i = 0; i < 9; i++)
        reports += udp_guard_note_drop(&a, 5000 + (uint64_t)i * 200, line, sizeof(line));
    CHECK_EQ_INT(reports, 0);   /* spread over two seconds: no spike */
    for (int i = 0; i < 30; i++)
        reports += udp_guard_note_drop(i % 3 ? &a : &b, 8000, line, sizeof(line));
    CHECK_EQ_INT(reports, 1);   /* once, however long the spike */
    for (int i = 0; i < 30; i++)   /* a thread that read the clock earlier */
        reports += udp_guard_note_drop(&a, 7990, line, sizeof(line));
    CHECK_EQ_INT(reports, 1);
    for (int i = 0; i < 30; i++)
        reports += udp_guard_note_drop(&b, 12000, line, sizeof(line));
    CHECK_EQ_INT(reports, 1);   /* within the interval: quiet */
    for (int i = 0; i < 30 && !udp_guard_note_drop(&b, 18001, line, sizeof(line)); i++)
        ;
    CHECK(strstr(line, "possible reflection attempt") != NULL);
    CHECK(strstr(line, "192.0.2.77") != NULL);
}

int main(void)
{
    if (hash_setup() < 0)
        return 1;
    RUN(test_unvalidated_baf);
    RUN(test_validation_window);
    RUN(test_buckets);
    RUN(test_table_bounded);
    RUN(test_alert);
    udp_guard_teardown();
    return unit_report("test_udp_guard");
}
