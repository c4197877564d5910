/*
 * acl: allow lists of IPv4 and IPv6 networks in CIDR notation. Parsing is
 * pure (text in, entries or an error with its line out) so the command
 * line, the allow file and the unit tests share it. An empty list allows
 * everyone; a non-empty list allows only the addresses it names, loopback
 * included. Checked on every accepted TCP connection before a byte is read
 * and on every UDP datagram.
 */
#ifndef HC_POLICY_ACL_H
#define HC_POLICY_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "policy/limits.h"

struct acl_entry {
    uint8_t family;      /* 4 or 6 */
    uint8_t prefix;      /* 0..32 or 0..128 */
    uint8_t addr[16];    /* network, host bits zero */
};

struct acl {
    struct acl_entry e[LIMIT_ACL_ENTRIES_MAX];
    size_t           n;
};

struct acl_error {
    size_t line;         /* 1-based line of the bad entry */
    char   msg[128];
};

/* Parse one entry: "a.b.c.d", "a.b.c.d/N", "v6addr", "v6addr/N". Host
 * bits beyond the prefix must be zero ("10.0.0.1/8" is refused as a likely
 * typo). Returns 0, or -1 with a reason in err. */
int acl_parse_entry(const char *s, size_t n, struct acl_entry *out,
                    struct acl_error *err);

/* Append the entries of `text` (separated by commas, blanks or newlines;
 * '#' starts a comment to the end of the line). Returns 0, or -1 with the
 * line and reason in err (acl unchanged beyond the entries before it). */
int acl_parse_list(const char *text, size_t len, struct acl *acl,
                   struct acl_error *err);

/* Is this peer allowed? Empty list: yes. AF_UNIX peers: yes (the socket's
 * file mode guards them). IPv4-mapped IPv6 peers match IPv4 entries. */
bool acl_allows(const struct acl *acl, const struct sockaddr *sa);

/* Does the entry match a 4- or 16-byte address? */
bool acl_entry_matches(const struct acl_entry *e, int family,
                       const uint8_t *addr);

#endif
