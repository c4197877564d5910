/*
 * target: turning what the operator typed (names, addresses, [v6]:port,
 * CIDR ranges, files of those) into a flat list of address+port pairs.
 * Expansion is capped so a typo like 10.0.0.0/8 fails loudly instead of
 * queueing sixteen million probes.
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

struct target {
    struct sockaddr_storage addr;   /* port filled in */
    socklen_t addrlen;
    uint16_t port;
    char addr_text[64];             /* numeric address, no brackets */
    char name[TARGET_LABEL_MAX];    /* host name as given, or "" */
    char spec[TARGET_LABEL_MAX];    /* the spec it came from */
};

struct target_list {
    struct target *v;
    size_t n;
    size_t cap;
    size_t max;                     /* expansion cap */
};

void target_list_init(struct target_list *l, size_t max);
void target_list_free(struct target_list *l);

/* Adds the targets one spec names. Returns 0, or -1 with a message in
 * err (unresolvable name, bad port, range over the cap, ...). */
int target_add_spec(struct target_list *l, const char *spec,
                    uint16_t default_port, char *err, size_t errlen);
/* Adds every whitespace-separated spec of a file ("-" is stdin); '#'
 * starts a comment. Same return as target_add_spec. */
int target_add_file(struct target_list *l, const char *path,
                    uint16_t default_port, char *err, size_t errlen);

/* "1.2.3.4:11211" or "[::1]:11211" */
void target_format(const struct target *t, char *buf, size_t len);
/* True for loopback, RFC 1918, link-local, CGNAT, ULA and similar
 * addresses that the internet cannot reach directly. */
bool target_is_private(const struct target *t);
bool target_is_loopback(const struct sockaddr_storage *ss);

#endif
