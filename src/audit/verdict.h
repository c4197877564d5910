/*
 * verdict: findings, their severity and the advisory's concrete fix, in
 * one table (FINDINGS) that the judge, the table output, the JSON output
 * and the documentation all read.
 */
#ifndef HC_AUDIT_VERDICT_H
#define HC_AUDIT_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "audit/local_advice.h"

enum severity { SEV_INFO, SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL };

/* Advice templates: {udp} and {tcp} become the target's real ports,
 * {verify} the exact command that checks the fix, and {login_udp} what a
 * login does to UDP on this server (verdict_advice). */
#define ADVICE_UDP "Turn UDP off: add -U 0 to memcached's flags " \
    "(Debian/Ubuntu: /etc/memcached.conf; RHEL: OPTIONS= in " \
    "/etc/sysconfig/memcached; otherwise a systemd drop-in from " \
    "`systemctl edit memcached` with a new ExecStart=) and apply it with " \
    "`systemctl restart memcached`. {login_udp} " \
    "Until then block UDP {udp} towards the public network: " \
    "`nft add rule inet filter input udp dport {udp} drop`, or " \
    "`iptables -I INPUT -p udp --dport {udp} -j DROP`, or " \
    "`ufw deny {udp}/udp`. Upgrading to 1.5.6 or later (UDP off by " \
    "default) is no proof: distributions backported that change, so " \
    "check -U and the listener. Then verify: `{verify}`"
#define ADVICE_BIND "Bind a local address (-l 127.0.0.1 or a private " \
    "interface) and block TCP {tcp} from outside: " \
    "`nft add rule inet filter input tcp dport {tcp} drop`, or " \
    "`iptables -I INPUT -p tcp --dport {tcp} -j DROP`, or " \
    "`ufw deny {tcp}/tcp`."
#define ADVICE_AUTH "Enable authentication (SASL with -S, or -Y FILE for " \
    "ascii auth) and bind a local address (-l)."
#define ADVICE_VERIFY "Verify with well-formed frames (total datagrams = 1) " \
    "and several requests: hardcache-audit --verify."

/* X(id, json id, default severity, title, advice) */
#define FINDINGS(X) \
    X(UDP_AMPLIFIER, "udp_amplifier", SEV_CRITICAL, \
      "answers memcached UDP requests: usable for reflection and amplification", \
      ADVICE_UDP) \
    X(UDP_REFLECTOR, "udp_reflector", SEV_LOW, \
      "answers memcached UDP requests but never sent more bytes than it " \
      "received (BAF <= 1): reflection without amplification", ADVICE_UDP) \
    X(UDP_ENABLED, "udp_enabled_in_settings", SEV_MEDIUM, \
      "UDP is enabled in the server's settings, though no UDP reply came back " \
      "(a firewall may hide it from here only)", ADVICE_UDP) \
    X(UDP_NO_REPLY, "udp_no_reply", SEV_INFO, \
      "no reply to any well-formed UDP probe (filtered, or open and silent)", "") \
    X(UDP_UNPARSED, "udp_reply_not_memcached", SEV_INFO, \
      "datagrams came back that are not memcached frames: counted as a " \
      "reply all the same (a victim gets them too)", "") \
    X(UDP_VALIDATED_VIEW, "udp_validated_view", SEV_INFO, \
      "what a source that connected over TCP gets (the server trusts it " \
      "for a while); a spoofer gets the figures above", "") \
    X(UDP_SELF_VALIDATED, "udp_source_validated_by_audit", SEV_INFO, \
      "our own TCP connection may have validated the source of these UDP " \
      "figures: they may be the validated view, not a spoofer's", "") \
    X(NO_SERVICE, "no_service", SEV_INFO, \
      "nothing answers here (port closed, wrong address, or filtered): " \
      "nothing was verified", \
      "Check the address and port; with --require-service this fails " \
      "--verify.") \
    X(TLS_SERVICE, "tls_service", SEV_INFO, \
      "the port speaks TLS (memcached -Z or hardcached -Z): commands need " \
      "a TLS client, so authentication could not be checked", "") \
    X(TCP_NO_AUTH, "tcp_no_auth", SEV_MEDIUM, \
      "TCP answers commands without authentication", ADVICE_AUTH) \
    X(TCP_REACHABLE, "tcp_reachable", SEV_HIGH, \
      "TCP is reachable but was expected to be blocked", \
      "Bind a local address (-l) and block TCP {tcp}: " \
      "`nft add rule inet filter input tcp dport {tcp} drop`, or " \
      "`iptables -I INPUT -p tcp --dport {tcp} -j DROP`, or " \
      "`ufw deny {tcp}/tcp`. Then verify: `{verify}`") \
    X(PUBLIC_ADDRESS, "public_address_reachable", SEV_HIGH, \
      "a public (non-private) address answers", ADVICE_BIND) \
    X(OLD_VERSION, "old_version", SEV_LOW, \
      "version before 1.5.6, where UDP is on by default (distributions " \
      "backported the fix, so the version alone proves nothing)", \
      "Upgrade past 1.5.6 and pass -U 0 explicitly.") \
    X(ADV_TYPO_ANSWERED, "advisory_9byte_probe_answered", SEV_INFO, \
      "the advisory's 9-byte-header probe was answered (ERROR): a non-empty " \
      "reply, so it still detects the amplifier", "") \
    X(ADV_VERIFY_MALFORMED, "advisory_verify_probe_malformed", SEV_INFO, \
      "the advisory's verification probe (10 zero bytes, total datagrams 0) " \
      "is malformed: the server drops it, so its silence proves nothing", \
      ADVICE_VERIFY) \
    X(CHECK_FAILED, "check_failed", SEV_INFO, \
      "could not check (network or local error)", "") \
    X(LOCAL_UDP_V4, "local_udp_listener_ipv4", SEV_HIGH, \
      "memcached-like process listens on UDP (IPv4)", ADVICE_LOCAL_UDP) \
    X(LOCAL_UDP_V6, "local_udp_listener_ipv6", SEV_HIGH, \
      "memcached-like process listens on UDP (IPv6; `netstat | grep udp ` " \
      "misses these)", ADVICE_LOCAL_UDP) \
    X(LOCAL_UDP_PORT, "local_udp_listener_on_port", SEV_HIGH, \
      "a UDP socket is bound to an audited port (its owner is not " \
      "memcached-like, or not visible)", ADVICE_LOCAL_UDP) \
    X(LOCAL_UDP_FLAG, "local_udp_enabled_by_flag", SEV_HIGH, \
      "memcached-like process was started with -U N: UDP on, whether or not " \
      "its socket could be seen", ADVICE_LOCAL_UDP) \
    X(LOCAL_PUBLIC_BIND, "local_non_loopback_listener", SEV_MEDIUM, \
      "listens on a non-loopback address", ADVICE_LOCAL_BIND) \
    X(LOCAL_NO_AUTH, "local_no_auth", SEV_LOW, \
      "runs without authentication (no -S, no -Y)", ADVICE_LOCAL_AUTH) \
    X(LOCAL_ROOT, "local_runs_as_root", SEV_MEDIUM, \
      "runs as root", "Run it as an unprivileged user (-u memcache).") \
    X(LOCAL_OLD_VERSION, "local_old_version", SEV_LOW, \
      "version before 1.5.6, where UDP is on by default (distributions " \
      "backported the fix, so the version alone proves nothing)", \
      "Upgrade past 1.5.6 and pass -U 0 explicitly.") \
    X(CONF_UDP, "config_udp_not_disabled", SEV_LOW, \
      "configuration leaves UDP on (-U N, or no -U 0 where the installed " \
      "memcached turns UDP on by default)", ADVICE_LOCAL_CONF_UDP) \
    X(CONF_PUBLIC_BIND, "config_non_loopback_listen", SEV_LOW, \
      "configuration listens on a non-loopback address (or on all)", \
      ADVICE_LOCAL_BIND)

enum finding_id {
#define X(id, name, sev, title, advice) FINDING_##id,
    FINDINGS(X)
#undef X
    FINDING_COUNT
};

struct finding_def {
    const char *name;
    enum severity sev;
    const char *title;
    const char *advice;
};
extern const struct finding_def finding_defs[FINDING_COUNT];

#define VERDICT_MAX     64
#define FINDING_DETAIL  200

struct finding {
    enum finding_id id;
    enum severity sev;
    char detail[FINDING_DETAIL];
};

struct verdict {
    struct finding f[VERDICT_MAX];
    unsigned n;
    enum severity worst;        /* over findings that count */
    unsigned counted;           /* findings at SEV_LOW or above */
    bool error;                 /* something could not be checked */
    bool no_service;            /* nothing answered at all */
    uint16_t udp_port, tcp_port;    /* for the advice's placeholders */
    bool hardcached;            /* every server judged is hardcached, which
                                   keeps UDP with a login ({login_udp}) */
    char verify_cmd[400];       /* the command that checks the fix */
};

const char *severity_name(enum severity s);
void verdict_init(struct verdict *v);
/* sev < 0 takes the table's severity. detail may be NULL. */
void verdict_add(struct verdict *v, enum finding_id id, int sev,
                 const char *detail);
/* "vulnerable", "at_risk", "no_service", "clean" or "unknown" */
const char *verdict_status(const struct verdict *v);
/* AUDIT_EXIT_* for one verdict. */
int verdict_exit(const struct verdict *v);

/* A finding's advice with the verdict's ports and verify command filled
 * in ({udp}, {tcp}, {verify}); ports default to 11211. */
void verdict_advice(const struct verdict *v, enum finding_id id, char *out,
                    size_t cap);

/* Judges a remote result. In verify mode only the advisory's verification
 * points count (UDP reply, TCP reachable with --expect-tcp-closed). */
void verdict_remote(const struct result *r, const struct audit_opts *o,
                    struct verdict *v);

#endif
