/* acl: see acl.h. inet_pton does the address syntax (it accepts only
 * dotted-quad decimal for IPv4, no octal or short forms). */
#include "policy/acl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "core/strnum.h"

#define ACL_STR_(x) #x
#define ACL_STR(x) ACL_STR_(x)

static int fail(struct acl_error *err, const char *what, const char *s, size_t n)
{
    if (err)
        snprintf(err->msg, sizeof(err->msg), "%s: \"%.*s\"", what,
                 (int)(n > LIMIT_ACL_TOKEN_MAX ? LIMIT_ACL_TOKEN_MAX : n), s);
    return -1;
}

int acl_parse_entry(const char *s, size_t n, struct acl_entry *out,
                    struct acl_error *err)
{
    char addr[LIMIT_ACL_TOKEN_MAX + 1];
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    unsigned bits;

    memset(out, 0, sizeof(*out));
    if (n == 0 || n > LIMIT_ACL_TOKEN_MAX || alen == 0)
        return fail(err, "not an address", s, n);
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET, addr, out->addr) == 1) {
        out->family = 4;
        bits = 32;
    } else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
        out->family = 6;
        bits = 128;
    } else {
        return fail(err, "not an IPv4 or IPv6 address", s, n);
    }
    out->prefix = (uint8_t)bits;
    if (slash) {
        uint32_t p;
        size_t plen = n - alen - 1;
        if (plen == 0 || plen > 3 || !strnum_u32(slash + 1, plen, &p) || p > bits)
            return fail(err, "bad prefix length", s, n);
        out->prefix = (uint8_t)p;
    }
    for (unsigned i = out->prefix; i < bits; i++)
        if (out->addr[i / 8] & (0x80u >> (i % 8)))
            return fail(err, "host bits set beyond the prefix", s, n);
    return 0;
}

static bool is_sep(char ch)
{
    return ch == ',' || ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

int acl_parse_list(const char *text, size_t len, struct acl *acl,
                   struct acl_error *err)
{
    size_t i = 0, line = 1;

    while (i < len) {
        if (text[i] == '\n') {
            line++;
            i++;
        } else if (is_sep(text[i])) {
            i++;
        } else if (text[i] == '#') {
            while (i < len && text[i] != '\n')
                i++;
        } else {
            size_t start = i;
            while (i < len && !is_sep(text[i]) && text[i] != '#')
                i++;
            if (err)
                err->line = line;
            if (acl->n == LIMIT_ACL_ENTRIES_MAX)
                return fail(err, "too many allow list entries (at most "
                            ACL_STR(LIMIT_ACL_ENTRIES_MAX) ")", text + start, i - start);
            if (acl_parse_entry(text + start, i - start, &acl->e[acl->n], err) < 0)
                return -1;
            acl->n++;
        }
    }
    return 0;
}

bool acl_entry_matches(const struct acl_entry *e, int family, const uint8_t *addr)
{
    unsigned full = e->prefix / 8, rest = e->prefix % 8;

    if (e->family != family)
        return false;
    if (memcmp(e->addr, addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (addr[full] & mask) == e->addr[full];
}

bool acl_allows(const struct acl *acl, const struct sockaddr *sa)
{
    const uint8_t *addr;
    int family;

    if (acl == NULL || acl->n == 0 || sa->sa_family == AF_UNIX)
        return true;
    if (sa->sa_family == AF_INET) {
        addr = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
        family = 4;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            addr = a->s6_addr + 12;
            family = 4;
        } else {
            addr = a->s6_addr;
            family = 6;
        }
    } else {
        return false;
    }
    for (size_t i = 0; i < acl->n; i++)
        if (acl_entry_matches(&acl->e[i], family, addr))
            return true;
    return false;
}
