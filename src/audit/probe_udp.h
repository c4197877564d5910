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
    uint64_t deadline;
    uint64_t first_send, last_send, last_reply;
};

/* cmd is the request text for well-formed probes built at run time
 * (PROBE_AMP_GET); NULL takes the table's. Fails only on bad input. */
int udp_probe_start(struct udp_probe *p, enum udp_probe_id id,
                    const struct target *t, struct probe_result *pr,
                    const struct probe_opts *o, const char *cmd);
void udp_probe_want(const struct udp_probe *p, struct io_want *w);
void udp_probe_grant(struct udp_probe *p, uint64_t now);
void udp_probe_io(struct udp_probe *p, short revents, uint64_t now);
void udp_probe_timeout(struct udp_probe *p, uint64_t now);
void udp_probe_cleanup(struct udp_probe *p);
/* The reply text kept (first datagrams, headers stripped). */
size_t udp_probe_text(const struct udp_probe *p, char *out, size_t cap);

#endif
