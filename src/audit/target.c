/*
 * target: parsing and expanding target specs. Numbers go through strnum;
 * names go through getaddrinfo (every address a name has is a target, as
 * an attacker would try them all).
 */
#include "audit/target.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strnum.h"

void target_list_init(struct target_list *l, size_t max)
{
    memset(l, 0, sizeof(*l));
    l->max = max;
}

void target_list_free(struct target_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static struct target *target_push(struct target_list *l, char *err,
                                  size_t errlen)
{
    if (l->n >= l->max) {
        snprintf(err, errlen, "more than %zu targets (raise --max-targets)",
                 l->max);
        return NULL;
    }
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        struct target *nv;
        if (ncap > SIZE_MAX / sizeof(*nv)) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        nv = realloc(l->v, ncap * sizeof(*nv));
        if (nv == NULL) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        l->v = nv;
        l->cap = ncap;
    }
    memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
    return &l->v[l->n++];
}

static void target_fill(struct target *t, int family, const void *addr,
                        uint16_t port, const char *name, const char *spec)
{
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&t->addr;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        memcpy(&sin->sin_addr, addr, 4);
        t->addrlen = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&t->addr;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        memcpy(&sin6->sin6_addr, addr, 16);
        t->addrlen = sizeof(*sin6);
    }
    t->port = port;
    inet_ntop(family, addr, t->addr_text, sizeof(t->addr_text));
    snprintf(t->name, sizeof(t->name), "%s", name ? name : "");
    snprintf(t->spec, sizeof(t->spec), "%s", spec);
}

static int parse_port(const char *s, uint16_t *port)
{
    uint32_t v;

    if (!strnum_u32(s, strlen(s), &v) || v == 0 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* Adds 2^(bits - prefix) addresses from base (network order bytes). */
static int add_range(struct target_list *l, int family, const uint8_t *base,
                     unsigned prefix, uint16_t port, const char *spec,
                     char *err, size_t errlen)
{
    unsigned bits = family == AF_INET ? 32 : 128;
    unsigned host_bits = bits - prefix;
    unsigned nbytes = bits / 8;
    uint8_t a[16];
    uint64_t count;

    if (host_bits >= 63 || ((uint64_t)1 << host_bits) > l->max - l->n) {
        snprintf(err, errlen, "%s: range larger than the target cap (%zu);"
                 " use a longer prefix or raise --max-targets", spec, l->max);
        return -1;
    }
    count = (uint64_t)1 << host_bits;
    memcpy(a, base, nbytes);
    /* clear host bits */
    for (unsigned i = 0; i < nbytes; i++) {
        unsigned lo = i * 8;
        if (lo >= prefix)
            a[i] = 0;
        else if (prefix - lo < 8)
            a[i] &= (uint8_t)(0xff << (8 - (prefix - lo)));
    }
    for (uint64_t k = 0; k < count; k++) {
        struct target *t = target_push(l, err, errlen);
        if (t == NULL)
            return -1;
        target_fill(t, family, a, port, NULL, spec);
        for (int i = (int)nbytes - 1; i >= 0; i--)
            if (++a[i] != 0)
                break;
    }
    return 0;
}

static int add_host(struct target_list *l, const char *host, uint16_t port,
                    const char *spec, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL, *ai;
    uint8_t a[16];
    int rc, added = 0;

    if (inet_pton(AF_INET, host, a) == 1) {
        struct target *t = target_push(l, err, errlen);
        if (t == NULL)
            return -1;
        target_fill(t, AF_INET, a, port, NULL, spec);
        return 0;
    }
    if (inet_pton(AF_INET6, host, a) == 1) {
        struct target *t = target_push(l, err, errlen);
        if (t == NULL)
            return -1;
        target_fill(t, AF_INET6, a, port, NULL, spec);
        return 0;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot resolve: %s", spec,
                 gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        const void *p;
        struct target *t;
        bool dup = false;
        char text[64];

        if (ai->ai_family == AF_INET)
            p = &((struct sockaddr_in *)ai->ai_addr)->sin_addr;
        else if (ai->ai_family == AF_INET6)
            p = &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        else
            continue;
        inet_ntop(ai->ai_family, p, text, sizeof(text));
        for (size_t i = l->n - (size_t)added; i < l->n; i++)
            if (strcmp(l->v[i].addr_text, text) == 0)
                dup = true;
        if (dup)
            continue;
        t = target_push(l, err, errlen);
        if (t == NULL) {
            freeaddrinfo(res);
            return -1;
        }
        target_fill(t, ai->ai_family, p, port, host, spec);
        if (ai->ai_family == AF_INET6)      /* fe80::1%eth0 keeps its scope */
            ((struct sockaddr_in6 *)&t->addr)->sin6_scope_id =
                ((struct sockaddr_in6 *)ai->ai_addr)->sin6_scope_id;
        added++;
    }
    freeaddrinfo(res);
    if (added == 0) {
        snprintf(err, errlen, "%s: no IPv4 or IPv6 address", spec);
        return -1;
    }
    return 0;
}

int target_add_spec(struct target_list *l, const char *spec,
                    uint16_t default_port, char *err, size_t errlen)
{
    char host[TARGET_SPEC_MAX];
    const char *port_s = NULL, *colon;
    char *slash;
    uint16_t port = default_port;
    size_t len = strlen(spec);

    if (len == 0 || len >= sizeof(host)) {
        snprintf(err, errlen, "bad target (empty or too long)");
        return -1;
    }
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (close == NULL) {
            snprintf(err, errlen, "%s: missing ']'", spec);
            return -1;
        }
        memcpy(host, spec + 1, (size_t)(close - spec - 1));
        host[close - spec - 1] = '\0';
        if (close[1] == ':')
            port_s = close + 2;
        else if (close[1] != '\0') {
            snprintf(err, errlen, "%s: junk after ']'", spec);
            return -1;
        }
    } else {
        colon = strchr(spec, ':');
        if (colon != NULL && strchr(colon + 1, ':') == NULL) {
            memcpy(host, spec, (size_t)(colon - spec));
            host[colon - spec] = '\0';
            port_s = colon + 1;
        } else {
            memcpy(host, spec, len + 1);   /* no port, or bare IPv6 */
        }
    }
    if (port_s != NULL && parse_port(port_s, &port) != 0) {
        snprintf(err, errlen, "%s: bad port", spec);
        return -1;
    }
    if (host[0] == '\0') {
        snprintf(err, errlen, "%s: no host", spec);
        return -1;
    }
    slash = strchr(host, '/');
    if (slash != NULL) {
        uint8_t a[16];
        uint32_t prefix;
        int family;

        *slash = '\0';
        if (inet_pton(AF_INET, host, a) == 1)
            family = AF_INET;
        else if (inet_pton(AF_INET6, host, a) == 1)
            family = AF_INET6;
        else {
            snprintf(err, errlen, "%s: CIDR needs a numeric address", spec);
            return -1;
        }
        if (!strnum_u32(slash + 1, strlen(slash + 1), &prefix) ||
            prefix > (family == AF_INET ? 32u : 128u)) {
            snprintf(err, errlen, "%s: bad prefix length", spec);
            return -1;
        }
        return add_range(l, family, a, prefix, port, spec, err, errlen);
    }
    return add_host(l, host, port, spec, err, errlen);
}

int target_add_file(struct target_list *l, const char *path,
                    uint16_t default_port, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char line[4096];
    unsigned lineno = 0;
    int rc = 0;

    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        char *save = NULL, *tok, *hash = strchr(line, '#');
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errlen, "%s:%u: line too long", path, lineno);
            rc = -1;
            break;
        }
        if (hash != NULL)
            *hash = '\0';
        for (tok = strtok_r(line, " \t\r\n,", &save); tok != NULL;
             tok = strtok_r(NULL, " \t\r\n,", &save)) {
            char sub[256];
            if (target_add_spec(l, tok, default_port, sub, sizeof(sub)) != 0) {
                snprintf(err, errlen, "%s:%u: %s", path, lineno, sub);
                rc = -1;
                break;
            }
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        rc = -1;
    }
    if (f != stdin)
        fclose(f);
    return rc;
}

void target_format(const struct target *t, char *buf, size_t len)
{
    if (t->addr.ss_family == AF_INET6)
        snprintf(buf, len, "[%s]:%u", t->addr_text, t->port);
    else
        snprintf(buf, len, "%s:%u", t->addr_text, t->port);
}

bool target_is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const uint8_t *a = (const uint8_t *)
            &((const struct sockaddr_in *)ss)->sin_addr;
        return a[0] == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            return a->s6_addr[12] == 127;
        return IN6_IS_ADDR_LOOPBACK(a);
    }
    return false;
}

static bool v4_private(const uint8_t *a)
{
    return a[0] == 10 || a[0] == 127 || a[0] == 0 ||
           (a[0] == 172 && (a[1] & 0xf0) == 16) ||
           (a[0] == 192 && a[1] == 168) ||
           (a[0] == 169 && a[1] == 254) ||
           (a[0] == 100 && (a[1] & 0xc0) == 64);      /* CGNAT */
}

bool target_is_private(const struct target *t)
{
    if (t->addr.ss_family == AF_INET)
        return v4_private((const uint8_t *)
            &((const struct sockaddr_in *)&t->addr)->sin_addr);
    if (t->addr.ss_family == AF_INET6) {
        const struct in6_addr *a =
            &((const struct sockaddr_in6 *)&t->addr)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            return v4_private(&a->s6_addr[12]);
        return IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a) ||
               IN6_IS_ADDR_UNSPECIFIED(a) || (a->s6_addr[0] & 0xfe) == 0xfc;
    }
    return false;
}
