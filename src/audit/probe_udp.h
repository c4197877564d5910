/*
 * probe_udp: one UDP request/reply exchange per socket. The socket is
 * connected, so only the target's datagrams reach it and an ICMP port
 * unreachable surfaces as ECONNREFUSED (closed); silence after every retry
 * is "silent" (filtered, or open and ignoring us). Replies are matched by
 * request id and reassembled by sequence number (frame.h).
 */
#ifndef HC_AUDIT_PROBE_UDP_H
#define HC_AUDIT_PROBE_UDP_H

#include <stdint.h>

#include "audit/audit.h"
#include "audit/frame.h"
#include "audit/io.h"

/* Receive buffer asked for, so a megabyte reply is not dropped by the
 * kernel before we read it (the attacker's victim would get it all). */
#define UDP_RCVBUF      (32 * 1024 * 1024)
#define UDP_REQ_MAX     512
/* Bounds on one probe whatever the peer sends (a responder that repeats a
 * datagram forever, or floods): an absolute deadline of UDP_TAIL_TIMEOUTS
 * timeouts after the last attempt's, at most UDP_DUP_MAX repeated
 * datagrams and UDP_BYTES_MAX bytes on a read-only probe. An amplification
 * probe expects AMP_MULTI_KEYS copies of its value, so its caps scale with
 * the value (UDP_AMP_SLACK per copy for headers) and its deadline gets
 * UDP_AMP_TIMEOUTS more timeouts. */
#define UDP_TAIL_TIMEOUTS   1
#define UDP_DUP_MAX         8
#define UDP_BYTES_MAX       (1u << 20)
#define UDP_AMP_SLACK       (64u * 1024)
#define UDP_AMP_TIMEOUTS    4

struct target;

struct udp_probe {
    enum udp_probe_id id;
    int fd;
    bool want_token;
    bool done;
    const struct target *t;
    struct probe_result *pr;
    struct probe_opts o;
    struct reasm *ra;
    uint8_t req[UDP_REQ_MAX];
    size_t req_len;
    unsigned retries;           /* this probe's: 0 for a malformed one */
    uint64_t deadline;
    uint64_t hard_deadline;     /* absolute: no datagram extends it */
    uint64_t hurry_ns;          /* udp_probe_hurry before the first send */
    uint64_t max_bytes;
    uint32_t max_dups, dups;
    uint64_t first_send, last_send, last_reply;
};

/* cmd is the request text for well-formed probes built at run time
 * (PROBE_AMP_GET); NULL takes the table's. o->src, when set, is the
 * source address the datagrams leave from. Fails only on bad input. */
int udp_probe_start(struct udp_probe *p, enum udp_probe_id id,
                    const struct target *t, struct probe_result *pr,
                    const struct probe_opts *o, const char *cmd);
void udp_probe_want(const struct udp_probe *p, struct io_want *w);
void udp_probe_grant(struct udp_probe *p, uint64_t now);
void udp_probe_io(struct udp_probe *p, short revents, uint64_t now);
void udp_probe_timeout(struct udp_probe *p, uint64_t now);
/* No more retries: the target answered another probe, so this one's
 * silence is the server's choice, not a lost datagram. */
void udp_probe_no_retry(struct udp_probe *p);
/* No more retries, and at most `grace` ns after the first send (the target
 * already answered the probes that mean something). */
void udp_probe_hurry(struct udp_probe *p, uint64_t grace);
void udp_probe_cleanup(struct udp_probe *p);
/* The reply text kept (first datagrams, headers stripped). */
size_t udp_probe_text(const struct udp_probe *p, char *out, size_t cap);

#endif
