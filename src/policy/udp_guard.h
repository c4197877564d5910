/*
 * udp_guard: the whole UDP amplification policy, in one place. UDP lets a
 * spoofer name a victim as the source of a request; memcached then sends
 * the victim up to ~100,000 times what the spoofer sent (CVE-2018-1000115).
 * Here, as QUIC does it, a source address is *validated* once it completed
 * a TCP connection (and logged in, when authentication is on) within a
 * window, which a spoofer cannot do from the victim's address:
 *  - to sources that are not validated, a reply is never more UDP payload
 *    bytes than the request (BAF <= udp_baf_percent/100, 1.0 by default);
 *    a bigger reply becomes a short error if that fits, else nothing;
 *  - validated sources get full replies under a per-source and a global
 *    egress token bucket;
 *  - admin commands are never served over UDP;
 *  - with authentication on, only validated sources are served at all
 *    (decided by the caller from udp_guard_validated());
 *  - drops are counted per source in a small heavy-hitter table, and a
 *    spike is reported once per interval ("possible reflection attempt").
 * Time comes in as an argument (milliseconds), so the unit tests drive it.
 */
#ifndef HC_POLICY_UDP_GUARD_H
#define HC_POLICY_UDP_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct udp_guard_config {
    uint32_t window_s;       /* validation lasts this long after TCP activity */
    uint32_t sources_max;    /* validated sources remembered (bounded table) */
    uint32_t baf_percent;    /* reply <= request * baf_percent / 100, unvalidated */
    uint64_t src_rate;       /* bytes/s per validated source (0: unlimited) */
    uint64_t src_burst;
    uint64_t global_rate;    /* bytes/s for all UDP replies (0: unlimited) */
    uint64_t global_burst;
    uint32_t alert_drops;    /* drops within a second that trigger the log */
};

/* A source address: IPv4 (also from IPv4-mapped IPv6) or IPv6; no port. */
struct udp_src {
    uint8_t family;          /* 4 or 6; 0 = not an IP source */
    uint8_t addr[16];
};

/* Fill cfg with the defaults from policy/limits.h. */
void udp_guard_defaults(struct udp_guard_config *cfg);
/* Allocate the table (keys hashed with core/hash's secret: call
 * hash_setup() first). Returns 0 or -1. */
int  udp_guard_setup(const struct udp_guard_config *cfg);
void udp_guard_teardown(void);

/* Normalise a peer address; false for non-IP families. */
bool udp_src_from_sockaddr(const struct sockaddr *sa, struct udp_src *out);
/* Format for logs: "127.0.0.2" or "::1". */
void udp_src_format(const struct udp_src *s, char *out, size_t len);

/* The source completed a TCP connection (or logged in) now. */
void udp_guard_validate(const struct udp_src *s, uint64_t now_ms);
/* A TCP peer (logged in, where a login is required) is active: validate
 * its address; nothing for non-IP peers or when UDP is off. */
void udp_guard_note_peer(const struct sockaddr *sa, uint64_t now_ms);
/* Did it, within the window? */
bool udp_guard_validated(const struct udp_src *s, uint64_t now_ms);

/* Bytes of reply (before framing) worth building for a request of in_wire
 * UDP payload bytes: building stops beyond it (bounds CPU and memory for
 * replies that will not be sent). */
size_t udp_guard_reply_max(bool validated, size_t in_wire);

enum udp_action {
    UDP_SEND,                /* send the full reply */
    UDP_SHORT_AMPLIFICATION, /* over the BAF budget: send the short error */
    UDP_DROP_AMPLIFICATION,  /* over budget, even the short error */
    UDP_SHORT_RATE,          /* token buckets empty: short error */
    UDP_DROP_RATE,
    UDP_SHORT_TOO_LARGE,     /* reply above LIMIT_UDP_REPLY_MAX */
};

/* Decide a reply to `src` for a request of in_wire bytes. full_wire and
 * short_wire are the UDP payload bytes (frame headers included) of the
 * full reply and of the short error; SIZE_MAX when there is none (a reply
 * that outgrew udp_guard_reply_max(), a protocol without a short error).
 * Spends the tokens of what is to be sent. */
enum udp_action udp_guard_reply(const struct udp_src *src, bool validated,
                                size_t in_wire, size_t full_wire,
                                size_t short_wire, uint64_t now_ms);

/* Record a dropped or refused datagram from src. Returns true, with a log
 * line in `line`, when drops spiked and the last report is older than
 * LIMIT_UDP_ALERT_INTERVAL_MS. */
bool udp_guard_note_drop(const struct udp_src *src, uint64_t now_ms,
                         char *line, size_t len);

#endif
