/*
 * probe_tcp: what a TCP connection tells about a memcached-protocol server,
 * asked read-only: reachable or not, `version`, `stats`, `stats settings`,
 * and, when ascii is refused, the binary protocol's version and SASL
 * mechanisms; when neither answers, whether it speaks TLS (probe_tls.h). Also the store and delete steps of the attacker's method.
 * The reply parsers are pure functions, exported for tests.
 */
#ifndef HC_AUDIT_PROBE_TCP_H
#define HC_AUDIT_PROBE_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "audit/io.h"

/* Largest reply buffered; a longer one is cut there and parsed as is. */
#define TCP_REPLY_MAX   (64 * 1024)
#define BIN_HDR_LEN     24

struct target;
struct tls_session;

enum tcp_mode { TCP_MODE_INFO, TCP_MODE_STORE, TCP_MODE_DELETE };

enum tcp_step {
    TS_CONNECT, TS_VERSION, TS_STATS, TS_SETTINGS, TS_BIN_VERSION,
    TS_BIN_MECHS, TS_TLS, TS_STORE, TS_DELETE, TS_END
};

struct tcp_probe {
    enum tcp_mode mode;
    enum tcp_step step;
    enum tcp_step after_connect;
    int fd;
    bool want_token;
    bool connecting;
    bool reconnecting;
    const struct target *t;
    struct result *r;
    struct probe_opts o;
    uint64_t deadline;
    uint64_t started;
    uint32_t attempts;
    char *out;
    size_t out_len, out_off;
    char *in;
    size_t in_len;
    char key[48];
    uint64_t value_len;
    char reply_line[AUDIT_LINE_MAX];    /* first line of the last reply */
    struct tls_session *tls;            /* TS_TLS: neither protocol spoke */
    short tls_events;
};

/* Start a probe (no I/O yet: the first step needs a token). For STORE the
 * value is value_len bytes under key; for DELETE only the key is used. */
void tcp_probe_start(struct tcp_probe *p, enum tcp_mode mode,
                     const struct target *t, struct result *r,
                     const struct probe_opts *o, const char *key,
                     uint64_t value_len);
void tcp_probe_want(const struct tcp_probe *p, struct io_want *w);
void tcp_probe_grant(struct tcp_probe *p, uint64_t now);
void tcp_probe_io(struct tcp_probe *p, short revents, uint64_t now);
void tcp_probe_timeout(struct tcp_probe *p, uint64_t now);
void tcp_probe_cleanup(struct tcp_probe *p);

/* Pure reply framing: the length of a complete reply at the start of buf,
 * or 0 if more is needed. */
size_t tcp_line_complete(const char *buf, size_t len);
size_t tcp_stats_complete(const char *buf, size_t len);
size_t tcp_bin_complete(const char *buf, size_t len);

/* Calls fn for each "STAT name value" line of a stats reply. */
void tcp_stats_each(const char *buf, size_t len,
                    void (*fn)(void *arg, const char *name, size_t nlen,
                               const char *val, size_t vlen),
                    void *arg);

#endif
