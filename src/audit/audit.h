/*
 * audit: the data model shared by hardcache-audit's modules. A target is
 * what the operator named (one address and port); a result is everything
 * measured about it. Probes fill results, verdict judges them, report
 * prints them; none of them needs the others' internals.
 */
#ifndef HC_AUDIT_AUDIT_H
#define HC_AUDIT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "audit/frame.h"

#define AUDIT_TOOL_VERSION   "0.2"
#define AUDIT_SCHEMA_VERSION 2      /* JSON records; bumped on any change */
#define AUDIT_PORT_DEFAULT   11211
#define AUDIT_VERSION_MAX    64     /* longest version string kept */
#define AUDIT_LINE_MAX       96     /* first reply line kept per probe */

/* Exit statuses (documented in --help and the man page). */
#define AUDIT_EXIT_CLEAR     0
#define AUDIT_EXIT_FINDINGS  1
#define AUDIT_EXIT_ERROR     2

/* The UDP probes, in the order they are reported. Well-formed probes get a
 * random request id; the advisory's literal byte strings are sent as is.
 * X(id, json name, flags, request bytes) */
#define PF_WELLFORMED  0x1   /* a correct frame: its silence means something */
#define PF_LITERAL     0x2   /* the advisory's bytes, header included */
#define PF_MALFORMED   0x4   /* the server must drop it: silence proves nothing */
#define PF_AMPLIFY     0x8   /* attacker's method, request built at run time */
#define UDP_PROBES(X) \
    X(STATS,   "stats",   PF_WELLFORMED, "stats\r\n") \
    X(VERSION, "version", PF_WELLFORMED, "version\r\n") \
    X(ADV_PROBE, "advisory_probe", PF_LITERAL | PF_WELLFORMED, \
      "\x00\x00\x00\x00\x00\x01\x00\x00stats\r\n") \
    X(ADV_TYPO, "advisory_probe_9byte_header", PF_LITERAL, \
      "\x00\x00\x00\x00\x00\x01\x00\x00\x00stats\r\n") \
    X(ADV_VERIFY, "advisory_verify_10_zero_bytes", PF_LITERAL | PF_MALFORMED, \
      "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00stats\r\n") \
    X(AMP_GET, "amplify_get", PF_WELLFORMED | PF_AMPLIFY, "") \
    X(AMP_MULTI, "amplify_multiget", PF_WELLFORMED | PF_AMPLIFY, "")

/* The advisory's worst case: one datagram asking for the value this often. */
#define AMP_MULTI_KEYS 10

enum udp_probe_id {
#define X(id, name, flags, req) PROBE_##id,
    UDP_PROBES(X)
#undef X
    PROBE_COUNT
};

struct udp_probe_def {
    const char *name;
    unsigned flags;
    const char *req;
    size_t req_len;
};
extern const struct udp_probe_def udp_probe_defs[PROBE_COUNT];

enum tcp_state { TCP_NOT_TRIED, TCP_OPEN, TCP_REFUSED, TCP_TIMEOUT, TCP_ERROR };
enum udp_state { UDP_NOT_TRIED, UDP_REPLY, UDP_CLOSED, UDP_SILENT, UDP_ERROR };
enum auth_kind { AUTH_UNKNOWN, AUTH_NONE, AUTH_ASCII, AUTH_SASL, AUTH_REFUSED,
                 AUTH_TLS };

const char *tcp_state_name(enum tcp_state s);
const char *udp_state_name(enum udp_state s);
const char *auth_kind_name(enum auth_kind a);

struct probe_result {
    enum udp_state state;
    int err;                    /* errno when state == UDP_ERROR */
    uint32_t req_bytes;         /* UDP payload bytes of one request */
    uint32_t attempts;          /* requests sent (retries included) */
    uint64_t reply_bytes;       /* UDP payload bytes received for our id,
                                 * repeats included: what a victim gets */
    uint32_t reply_packets;     /* datagrams received for our id */
    uint32_t unique_packets;    /* distinct sequence numbers among them */
    uint32_t expected_packets;  /* "total" from the reply headers, 0 if none */
    uint32_t foreign_packets;   /* datagrams from the target that are not
                                 * frames of our reply (other id, bad
                                 * header, random bytes): still a reply */
    uint64_t foreign_bytes;     /* their bytes: a victim gets them too */
    bool capped;                /* ended by a cap (deadline, repeats, bytes) */
    uint64_t rtt_ns;            /* send of last attempt to first reply */
    uint64_t duration_ns;       /* first send to last reply or give-up */
    char first_line[AUDIT_LINE_MAX];
};

struct tcp_result {
    enum tcp_state state;
    int err;
    uint32_t connect_attempts;
    uint64_t connect_ns;
    bool ascii;                 /* ascii protocol answered */
    bool binary;                /* binary protocol answered */
    bool stats;                 /* `stats` answered without authentication */
    enum auth_kind auth;
    char version[AUDIT_VERSION_MAX];
    char server[24];            /* memcached, hardcached, unknown */
    int64_t udp_port;           /* from stats settings; -1 unknown */
    int64_t tcp_port;
    int64_t item_size_max;
    int sasl_enabled;           /* -1 unknown, 0, 1 */
    int ascii_auth_enabled;
    int ssl_enabled;
    int64_t validate_window;    /* hardcached's udp_validate_window; -1 */
    char inter[128];            /* memcached's -l, from stats settings */
    char unvalidated_amp[24];   /* hardcached's stats counter: the largest
                                 * factor unvalidated sources ever got */
    bool tls;                   /* the port completed a TLS handshake */
    char sasl_mechs[64];
};

struct amp_result {
    bool tried;
    bool stored;
    bool deleted;
    uint64_t value_bytes;
    char note[AUDIT_LINE_MAX];
};

struct target;

/* Everything the command line sets (main.c owns the defaults). */
struct audit_opts {
    unsigned timeout_ms;
    unsigned retries;
    unsigned concurrency;
    double rate;                /* global sends per second, 0 = unlimited */
    double target_rate;         /* per target */
    bool amplify;               /* attacker's method: store, UDP get, delete */
    uint64_t amplify_size;
    bool verify;
    bool expect_tcp_closed;
    bool require_service;       /* --verify: no service is a finding */
    bool have_spoof_src;
    struct sockaddr_in spoof_src;   /* loopback source, new each run, that
                                     * never connects over TCP */
    bool local;
    bool local_probe;
    bool json;
    bool color;
    bool verbose;
    bool progress;
};

struct result {
    const struct target *t;
    struct tcp_result tcp;
    struct probe_result udp[PROBE_COUNT];   /* the spoofer's view */
    struct amp_result amp;
    bool udp_tried;
    uint16_t udp_port;          /* where the UDP probes went */
    bool udp_port_reported;     /* the server named it in stats settings */
    char udp_source[64];        /* spoofer's view source, "" = default */
    struct probe_result validated;  /* `stats` from the TCP source, after
                                     * the TCP probe: the validated view */
    bool self_validated;        /* a UDP figure came after our own TCP
                                 * connection from the same source */
    bool interrupted;
    uint64_t elapsed_ns;
};

void result_init(struct result *r, const struct target *t);
/* Any datagram at all came back (framed or not). */
bool probe_replied(const struct probe_result *p);
/* The target's UDP state over all well-formed probes: reply wins over
 * closed wins over silent. */
enum udp_state result_udp_overall(const struct result *r);
/* True for any reply to any probe, including the 9-byte header variant
 * (the server answered, so it is reachable and speaks UDP). */
bool result_udp_replied(const struct result *r);
/* Amplification factors of one probe, over every request sent: bytes
 * (packets) received / bytes (packets) sent, unparseable datagrams
 * included; 0 when nothing came back. */
double probe_baf(const struct probe_result *p);
double probe_paf(const struct probe_result *p);

/* Parses a memcached version "1.5.6" (trailing text allowed); returns
 * -1 if a < b, 0 equal, 1 greater; -2 when either does not parse. */
int version_cmp(const char *a, const char *b);

uint64_t audit_now_ns(void);

#endif
