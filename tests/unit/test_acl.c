/* Unit tests for the allow-list parser and matcher: every syntax error,
 * IPv4, IPv6, IPv4-mapped peers, prefixes at byte and bit boundaries. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "policy/acl.h"
#include "unit.h"

#define S(lit) (lit), sizeof(lit) - 1

static bool parse_ok(const char *s)
{
    struct acl_entry e;
    return acl_parse_entry(s, strlen(s), &e, NULL) == 0;
}

static void test_entry(void)
{
    struct acl_entry e;
    struct acl_error err;

    CHECK(acl_parse_entry(S("10.0.0.0/8"), &e, &err) == 0);
    CHECK_EQ_INT(e.family, 4);
    CHECK_EQ_INT(e.prefix, 8);
    CHECK(acl_parse_entry(S("192.168.1.7"), &e, &err) == 0 && e.prefix == 32);
    CHECK(acl_parse_entry(S("2001:db8::/32"), &e, &err) == 0);
    CHECK_EQ_INT(e.family, 6);
    CHECK(acl_parse_entry(S("::1"), &e, &err) == 0 && e.prefix == 128);
    CHECK(parse_ok("0.0.0.0/0"));
    CHECK(parse_ok("::/0"));
    CHECK(parse_ok("10.1.2.128/25"));
    /* bad input, each refused with a reason */
    const char *bad[] = {
        "", "/", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8/8",
        "10.0.0.0/0008", "10.0.0.0/a", "10.0.0", "10.0.0.256", "010.0.0.1",
        "10.0.0.1/8", "10.1.2.129/25", "::1/129", "2001:db8::1/32", "[::1]",
        "host.example", "1.2.3.4 ", ":::", "fe80::1%eth0",
        "1111111111111111111111111111111111111111111111111111111111111111111111",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        err.msg[0] = '\0';
        CHECK(acl_parse_entry(bad[i], strlen(bad[i]), &e, &err) < 0);
        CHECK(err.msg[0] != '\0');
    }
}

static struct sockaddr_in v4(const char *a)
{
    struct sockaddr_in s;
    memset(&s, 0, sizeof(s));
    s.sin_family = AF_INET;
    inet_pton(AF_INET, a, &s.sin_addr);
    return s;
}

static struct sockaddr_in6 v6(const char *a)
{
    struct sockaddr_in6 s;
    memset(&s, 0, sizeof(s));
    s.sin6_family = AF_INET6;
    inet_pton(AF_INET6, a, &s.sin6_addr);
    return s;
}

#define ALLOWS(acl, sa) acl_allows((acl), (const struct sockaddr *)&(sa))

static void test_list(void)
{
    static struct acl acl;
    struct acl_error err;
    static const char file[] =
        "# clients\n"
        "10.0.0.0/8, 192.168.1.0/24\n"
        "\n"
        "  2001:db8::/32   # v6 office\r\n"
        "127.0.0.1\t::1\n"
        "10.1.2.128/25";

    memset(&acl, 0, sizeof(acl));
    CHECK(acl_parse_list(S(file), &acl, &err) == 0);
    CHECK_EQ_INT(acl.n, 6);

    struct sockaddr_in a = v4("10.200.1.1"), b = v4("192.168.2.1"), c = v4("127.0.0.2"),
                       d = v4("127.0.0.1"), e4 = v4("192.168.1.255");
    struct sockaddr_in6 f = v6("2001:db8:ffff::1"), g = v6("2001:db9::1"),
                        h = v6("::ffff:10.9.9.9"), i = v6("::ffff:11.0.0.1"), j = v6("::1");
    CHECK(ALLOWS(&acl, a));
    CHECK(!ALLOWS(&acl, b));
    CHECK(!ALLOWS(&acl, c));   /* loopback is not implied */
    CHECK(ALLOWS(&acl, d));
    CHECK(ALLOWS(&acl, e4));
    CHECK(ALLOWS(&acl, f));
    CHECK(!ALLOWS(&acl, g));
    CHECK(ALLOWS(&acl, h));    /* IPv4-mapped matches the IPv4 entry */
    CHECK(!ALLOWS(&acl, i));
    CHECK(ALLOWS(&acl, j));

    /* an empty list allows all; a unix peer is always allowed */
    static struct acl empty;
    struct sockaddr un = { .sa_family = AF_UNIX };
    CHECK(ALLOWS(&empty, b));
    CHECK(acl_allows(NULL, (const struct sockaddr *)&b));
    CHECK(acl_allows(&acl, &un));

    /* errors carry the line */
    static struct acl bad;
    CHECK(acl_parse_list(S("10.0.0.0/8\n# ok\n10.0.0.1/8\n"), &bad, &err) < 0);
    CHECK_EQ_INT(err.line, 3);
    CHECK(strstr(err.msg, "host bits") != NULL);
    memset(&bad, 0, sizeof(bad));
    CHECK(acl_parse_list(S("1.2.3.4;5.6.7.8"), &bad, &err) < 0);
    /* comments and separators only: no entries, no error */
    memset(&bad, 0, sizeof(bad));
    CHECK(acl_parse_list(S("# nothing\n,,\n"), &bad, &err) == 0 && bad.n == 0);
}

static void test_bits(void)
{
    struct acl_entry e;
    uint8_t a[16] = { 10, 1, 2, 200 };

    CHECK(acl_parse_entry(S("10.1.2.192/26"), &e, NULL) == 0);
    CHECK(acl_entry_matches(&e, 4, a));
    a[3] = 191;
    CHECK(!acl_entry_matches(&e, 4, a));
    CHECK(!acl_entry_matches(&e, 6, a));
    CHECK(acl_parse_entry(S("0.0.0.0/0"), &e, NULL) == 0);
    CHECK(acl_entry_matches(&e, 4, a));
}

static void test_limit(void)
{
    static struct acl acl;
    static char text[(LIMIT_ACL_ENTRIES_MAX + 1) * 16];
    size_t n = 0;
    struct acl_error err;

    for (int i = 0; i <= LIMIT_ACL_ENTRIES_MAX; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "10.%d.%d.0/24\n",
                              i / 256, i % 256);
    CHECK(acl_parse_list(text, n, &acl, &err) < 0);
    CHECK_EQ_INT(acl.n, LIMIT_ACL_ENTRIES_MAX);
    CHECK(strstr(err.msg, "too many") != NULL);
}

int main(void)
{
    RUN(test_entry);
    RUN(test_list);
    RUN(test_bits);
    RUN(test_limit);
    return unit_report("test_acl");
}
