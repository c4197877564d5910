/*
 * target: parsing specs, keeping them compact, and expanding them one
 * target at a time. Numbers go through inet_pton and strnum; names go
 * through getaddrinfo once, before the scan (every address a name has is a
 * target, as an attacker would try them all).
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

void target_list_init(struct target_list *l, uint64_t max)
{
    memset(l, 0, sizeof(*l));
    l->max = max;
}

void target_list_free(struct target_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].text);
        free(l->v[i].name);
        free(l->v[i].error);
        free(l->v[i].addrs);
    }
    free(l->v);
    free(l->ex);
    memset(l, 0, sizeof(*l));
}

static void *grow(void *v, size_t *cap, size_t n, size_t size)
{
    size_t ncap;
    void *nv;

    if (n < *cap)
        return v;
    ncap = *cap ? *cap * 2 : 16;
    if (ncap > SIZE_MAX / size)
        return NULL;
    nv = realloc(v, ncap * size);
    if (nv != NULL)
        *cap = ncap;
    return nv;
}

/* A new spec entry counting `count` targets; NULL with err on the cap. */
static struct target_spec *spec_push(struct target_list *l, const char *text,
                                     uint16_t port, uint64_t count,
                                     char *err, size_t errlen)
{
    struct target_spec *s, *nv;

    if (count > l->max - l->total) {
        snprintf(err, errlen, "%s: more than %llu targets in all; use a "
                 "longer prefix or raise --max-targets (the cap)", text,
                 (unsigned long long)l->max);
        return NULL;
    }
    nv = grow(l->v, &l->cap, l->n, sizeof(*nv));
    if (nv == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->v = nv;
    s = &l->v[l->n];
    memset(s, 0, sizeof(*s));
    s->text = strdup(text);
    if (s->text == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->port = port;
    s->count = count;
    l->n++;
    l->total += count;
    return s;
}

static int parse_port(const char *s, uint16_t *port)
{
    uint32_t v;

    if (!strnum_u32(s, strlen(s), &v) || v == 0 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

static void clear_host_bits(uint8_t *a, unsigned nbytes, unsigned prefix)
{
    for (unsigned i = 0; i < nbytes; i++) {
        unsigned lo = i * 8;
        if (lo >= prefix)
            a[i] = 0;
        else if (prefix - lo < 8)
            a[i] &= (uint8_t)(0xff << (8 - (prefix - lo)));
    }
}

/* A range of 2^(bits - prefix) addresses, without the network address
 * (and, for IPv4, the broadcast address) when there are hosts between. */
static int add_range(struct target_list *l, int family, const uint8_t *base,
                     unsigned prefix, uint16_t port, const char *spec,
                     char *err, size_t errlen)
{
    unsigned bits = family == AF_INET ? 32 : 128;
    unsigned host_bits = bits - prefix;
    uint64_t first = 0, count;
    struct target_spec *s;

    if (host_bits >= 63 || ((uint64_t)1 << host_bits) > l->max) {
        snprintf(err, errlen, "%s: range larger than the target cap (%llu);"
                 " use a longer prefix or raise --max-targets", spec,
                 (unsigned long long)l->max);
        return -1;
    }
    count = (uint64_t)1 << host_bits;
    if (host_bits >= 2) {
        first = 1;                              /* network address */
        count -= family == AF_INET ? 2 : 1;     /* IPv4 broadcast */
    }
    s = spec_push(l, spec, port, count, err, errlen);
    if (s == NULL)
        return -1;
    s->family = family;
    memcpy(s->base, base, bits / 8);
    clear_host_bits(s->base, bits / 8, prefix);
    s->first = first;
    return 0;
}

static int add_name(struct target_list *l, const char *host, uint16_t port,
                    const char *spec, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL, *ai;
    struct sockaddr_storage got[TARGET_NAME_ADDRS];
    size_t n = 0;
    struct target_spec *s;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, NULL, &hints, &res);
    for (ai = rc == 0 ? res : NULL; ai != NULL && n < TARGET_NAME_ADDRS;
         ai = ai->ai_next) {
        bool dup = false;
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof(got[0]))
            continue;
        for (size_t i = 0; i < n; i++)
            dup |= memcmp(&got[i], ai->ai_addr, ai->ai_addrlen) == 0;
        if (dup)
            continue;
        memset(&got[n], 0, sizeof(got[n]));
        memcpy(&got[n++], ai->ai_addr, ai->ai_addrlen);
    }
    if (res != NULL)
        freeaddrinfo(res);
    s = spec_push(l, spec, port, n ? n : 1, err, errlen);
    if (s == NULL)
        return -1;
    s->name = strdup(host);
    if (n == 0) {
        char why[200];
        snprintf(why, sizeof(why), "cannot resolve %s: %s", host,
                 rc != 0 ? gai_strerror(rc) : "no IPv4 or IPv6 address");
        s->error = strdup(why);
    } else {
        s->addrs = malloc(n * sizeof(*s->addrs));
        if (s->addrs != NULL)
            memcpy(s->addrs, got, n * sizeof(*s->addrs));
        s->naddr = n;
    }
    if (s->name == NULL || (n == 0 ? s->error == NULL : s->addrs == NULL)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Looks like a number or an IPv6 address, so it must never go to DNS. */
static bool numeric_looking(const char *host)
{
    return strspn(host, "0123456789.") == strlen(host) ||
           strchr(host, ':') != NULL;
}

static int parse_addr(const char *host, int *family, uint8_t *a)
{
    if (inet_pton(AF_INET, host, a) == 1)
        *family = AF_INET;
    else if (inet_pton(AF_INET6, host, a) == 1)
        *family = AF_INET6;
    else
        return -1;
    return 0;
}

/* "::1:11213": an IPv6 address and a port without brackets? */
static void bracket_hint(const char *spec, char *err, size_t errlen)
{
    const char *c = strrchr(spec, ':');
    char head[TARGET_SPEC_MAX];
    uint8_t a[16];

    if (c != NULL && c[1] != '\0' && strspn(c + 1, "0123456789") ==
        strlen(c + 1) && (size_t)(c - spec) < sizeof(head)) {
        memcpy(head, spec, (size_t)(c - spec));
        head[c - spec] = '\0';
        if (inet_pton(AF_INET6, head, a) == 1) {
            snprintf(err, errlen, "%s: not an IPv6 address; with a port, "
                     "write it in brackets: [%s]:%s", spec, head, c + 1);
            return;
        }
    }
    snprintf(err, errlen, "%s: not a valid address", spec);
}

/* Splits "host", "host:port", "[v6]", "[v6]:port" (each with an optional
 * "/prefix" on the host). Returns 0 or -1 with err. */
static int split_spec(const char *spec, char *host, size_t hostcap,
                      const char **port_s, char *err, size_t errlen)
{
    size_t len = strlen(spec);
    const char *colon;

    *port_s = NULL;
    if (len == 0 || len >= hostcap) {
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
            *port_s = close + 2;
        else if (close[1] != '\0') {
            snprintf(err, errlen, "%s: junk after ']'", spec);
            return -1;
        }
        return 0;
    }
    colon = strchr(spec, ':');
    if (colon != NULL && strchr(colon + 1, ':') == NULL) {
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
        *port_s = colon + 1;
    } else {
        memcpy(host, spec, len + 1);   /* no port, or bare IPv6 */
    }
    return 0;
}

/* Parses "addr" or "addr/prefix" (numeric only) into a network. */
static int parse_net(const char *spec, char *host, struct target_net *net,
                     bool *is_range, char *err, size_t errlen)
{
    char *slash = strchr(host, '/');
    uint32_t prefix;

    *is_range = slash != NULL;
    if (slash != NULL)
        *slash = '\0';
    if (parse_addr(host, &net->family, net->a) != 0) {
        if (slash != NULL)
            snprintf(err, errlen, "%s: CIDR needs a numeric address", spec);
        else
            bracket_hint(spec, err, errlen);
        return -1;
    }
    net->prefix = net->family == AF_INET ? 32 : 128;
    if (slash != NULL) {
        if (!strnum_u32(slash + 1, strlen(slash + 1), &prefix) ||
            prefix > net->prefix) {
            snprintf(err, errlen, "%s: bad prefix length", spec);
            return -1;
        }
        net->prefix = prefix;
    }
    return 0;
}

int target_add_spec(struct target_list *l, const char *spec,
                    uint16_t default_port, char *err, size_t errlen)
{
    char host[TARGET_SPEC_MAX];
    const char *port_s;
    uint16_t port = default_port;
    struct target_net net;
    bool range;

    if (split_spec(spec, host, sizeof(host), &port_s, err, errlen) != 0)
        return -1;
    if (port_s != NULL && parse_port(port_s, &port) != 0) {
        snprintf(err, errlen, "%s: bad port", spec);
        return -1;
    }
    if (host[0] == '\0') {
        snprintf(err, errlen, "%s: no host", spec);
        return -1;
    }
    if (strchr(host, '/') == NULL && !numeric_looking(host))
        return add_name(l, host, port, spec, err, errlen);
    if (parse_net(spec, host, &net, &range, err, errlen) != 0)
        return -1;
    return add_range(l, net.family, net.a, net.prefix, port, spec, err,
                     errlen);
}

int target_exclude_spec(struct target_list *l, const char *spec, char *err,
                        size_t errlen)
{
    char host[TARGET_SPEC_MAX];
    const char *port_s;
    struct target_net net, *nv;
    bool range;

    if (split_spec(spec, host, sizeof(host), &port_s, err, errlen) != 0)
        return -1;
    if (port_s != NULL) {
        snprintf(err, errlen, "%s: an exclusion is an address or a range, "
                 "without a port", spec);
        return -1;
    }
    if (parse_net(spec, host, &net, &range, err, errlen) != 0)
        return -1;
    clear_host_bits(net.a, net.family == AF_INET ? 4 : 16, net.prefix);
    nv = grow(l->ex, &l->excap, l->nex, sizeof(*nv));
    if (nv == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    l->ex = nv;
    l->ex[l->nex++] = net;
    return 0;
}

typedef int (*spec_fn)(struct target_list *l, const char *spec,
                       uint16_t port, char *err, size_t errlen);

/* Calls fn for every spec of a file. */
static int each_in_file(struct target_list *l, const char *path,
                        uint16_t port, spec_fn fn, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned lineno = 0;
    int rc = 0;

    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        char *save = NULL, *tok, *hash = strchr(line, '#');
        lineno++;
        if ((size_t)len > TARGET_LINE_MAX) {
            snprintf(err, errlen, "%s:%u: line longer than %u bytes", path,
                     lineno, TARGET_LINE_MAX);
            rc = -1;
            break;
        }
        if (hash != NULL)
            *hash = '\0';
        for (tok = strtok_r(line, " \t\r\n,", &save); tok != NULL;
             tok = strtok_r(NULL, " \t\r\n,", &save)) {
            char sub[256];
            if (fn(l, tok, port, sub, sizeof(sub)) != 0) {
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
    free(line);
    if (f != stdin)
        fclose(f);
    return rc;
}

int target_add_file(struct target_list *l, const char *path,
                    uint16_t default_port, char *err, size_t errlen)
{
    return each_in_file(l, path, default_port, target_add_spec, err, errlen);
}

static int exclude_one(struct target_list *l, const char *spec, uint16_t port,
                       char *err, size_t errlen)
{
    (void)port;
    return target_exclude_spec(l, spec, err, errlen);
}

int target_exclude_file(struct target_list *l, const char *path, char *err,
                        size_t errlen)
{
    return each_in_file(l, path, 0, exclude_one, err, errlen);
}

static const uint8_t *sa_bytes(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
    return (const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
}

static bool excluded(const struct target_list *l, const struct target *t)
{
    const uint8_t *a = sa_bytes(&t->addr);

    for (size_t i = 0; i < l->nex; i++) {
        const struct target_net *n = &l->ex[i];
        unsigned full = n->prefix / 8, rest = n->prefix % 8;
        if (n->family != t->addr.ss_family || memcmp(a, n->a, full) != 0)
            continue;
        if (rest == 0 || ((a[full] ^ n->a[full]) &
                          (uint8_t)(0xff << (8 - rest))) == 0)
            return true;
    }
    return false;
}

static void target_fill(struct target *t, const struct sockaddr_storage *sa,
                        uint16_t port, const char *name, const char *spec)
{
    memset(t, 0, sizeof(*t));
    t->addr = *sa;
    if (sa->ss_family == AF_INET) {
        ((struct sockaddr_in *)&t->addr)->sin_port = htons(port);
        t->addrlen = sizeof(struct sockaddr_in);
    } else {
        ((struct sockaddr_in6 *)&t->addr)->sin6_port = htons(port);
        t->addrlen = sizeof(struct sockaddr_in6);
    }
    t->port = port;
    inet_ntop(sa->ss_family, sa_bytes(sa), t->addr_text,
              sizeof(t->addr_text));
    snprintf(t->name, sizeof(t->name), "%s", name ? name : "");
    snprintf(t->spec, sizeof(t->spec), "%s", spec);
}

/* base + off, as a socket address. */
static void range_addr(const struct target_spec *s, uint64_t off,
                       struct sockaddr_storage *ss)
{
    unsigned nbytes = s->family == AF_INET ? 4 : 16;
    uint8_t a[16];
    unsigned carry = 0;

    memcpy(a, s->base, nbytes);
    for (int i = (int)nbytes - 1; i >= 0; i--) {
        unsigned v = a[i] + (unsigned)(off & 0xff) + carry;
        a[i] = (uint8_t)v;
        carry = v >> 8;
        off >>= 8;
    }
    memset(ss, 0, sizeof(*ss));
    ss->ss_family = (sa_family_t)s->family;
    if (s->family == AF_INET)
        memcpy(&((struct sockaddr_in *)ss)->sin_addr, a, 4);
    else
        memcpy(&((struct sockaddr_in6 *)ss)->sin6_addr, a, 16);
}

int target_next(struct target_list *l, struct target *out)
{
    while (l->cur < l->n) {
        const struct target_spec *s = &l->v[l->cur];
        struct sockaddr_storage ss;

        if (l->off >= s->count) {
            l->cur++;
            l->off = 0;
            continue;
        }
        if (s->error != NULL) {
            memset(out, 0, sizeof(*out));
            out->port = s->port;
            snprintf(out->name, sizeof(out->name), "%s", s->name);
            snprintf(out->spec, sizeof(out->spec), "%s", s->text);
            snprintf(out->error, sizeof(out->error), "%s", s->error);
            l->off++;
            return 1;
        }
        if (s->name != NULL)
            ss = s->addrs[l->off];
        else
            range_addr(s, s->first + l->off, &ss);
        l->off++;
        target_fill(out, &ss, s->port, s->name, s->text);
        if (excluded(l, out)) {
            l->excluded++;
            continue;
        }
        return 1;
    }
    return 0;
}

void target_format(const struct target *t, char *buf, size_t len)
{
    if (t->error[0] != '\0')
        snprintf(buf, len, "%s:%u", t->name, t->port);
    else if (t->addr.ss_family == AF_INET6)
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
