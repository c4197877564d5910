/*
 * target: turning what the operator typed (names, addresses, [v6]:port,
 * CIDR ranges, files of those, exclusions) into address+port pairs, one at
 * a time. Specs are kept, not their expansion, so a /8 costs one entry;
 * the total is still capped so a typo fails loudly instead of queueing
 * sixteen million probes.
 */
#ifndef HC_AUDIT_TARGET_H
#define HC_AUDIT_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define TARGET_MAX_DEFAULT   65536
#define TARGET_SPEC_MAX      512    /* longest spec (one token) accepted */
#define TARGET_LABEL_MAX     300
#define TARGET_LINE_MAX      (1u << 20) /* longest line of a target file */
#define TARGET_NAME_ADDRS    64     /* addresses kept per host name */

struct target {
    struct sockaddr_storage addr;   /* port filled in */
    socklen_t addrlen;
    uint16_t port;
    char addr_text[64];             /* numeric address, no brackets */
    char name[TARGET_LABEL_MAX];    /* host name as given, or "" */
    char spec[TARGET_LABEL_MAX];    /* the spec it came from */
    char error[TARGET_LABEL_MAX];   /* set: could not be resolved (no addr) */
};

/* One spec: a range (a single address is a range of one) or a resolved
 * host name (its addresses, or the reason it has none). */
struct target_spec {
    char *text;
    char *name;                     /* host name, NULL for numbers */
    char *error;                    /* name that did not resolve */
    uint16_t port;
    int family;                     /* range */
    uint8_t base[16];               /* range: network address */
    uint64_t first, count;          /* range: offsets from base */
    struct sockaddr_storage *addrs; /* name */
    size_t naddr;
};

struct target_net {
    int family;
    uint8_t a[16];
    unsigned prefix;
};

struct target_list {
    struct target_spec *v;
    size_t n, cap;
    uint64_t total;                 /* targets the specs name (before
                                     * exclusions); capped by max */
    uint64_t max;
    struct target_net *ex;          /* --exclude */
    size_t nex, excap;
    size_t cur;                     /* iteration: spec and offset in it */
    uint64_t off;
    uint64_t excluded;              /* skipped so far by an exclusion */
};

void target_list_init(struct target_list *l, uint64_t max);
void target_list_free(struct target_list *l);

/* Adds the targets one spec names. A name that does not resolve is kept as
 * one target that could not be checked. Returns 0, or -1 with a message in
 * err for what is a usage error (bad syntax, bad port, range over the cap,
 * `::1:11211` without brackets, `256.1.1.1`). */
int target_add_spec(struct target_list *l, const char *spec,
                    uint16_t default_port, char *err, size_t errlen);
/* Adds every whitespace- or comma-separated spec of a file ("-" is
 * stdin); '#' starts a comment. Same return as target_add_spec. */
int target_add_file(struct target_list *l, const char *path,
                    uint16_t default_port, char *err, size_t errlen);
/* Exclusions: an address or a CIDR range, or a file of them. */
int target_exclude_spec(struct target_list *l, const char *spec, char *err,
                        size_t errlen);
int target_exclude_file(struct target_list *l, const char *path, char *err,
                        size_t errlen);
/* The next target in order (exclusions skipped): 1, or 0 at the end. */
int target_next(struct target_list *l, struct target *out);

/* "1.2.3.4:11211" or "[::1]:11211"; the name for an unresolved target. */
void target_format(const struct target *t, char *buf, size_t len);
/* True for loopback, RFC 1918, link-local, CGNAT, ULA and similar
 * addresses that the internet cannot reach directly. */
bool target_is_private(const struct target *t);
bool target_is_loopback(const struct sockaddr_storage *ss);

#endif
