/*
 * verdict: turning measurements into findings. Severity depends on what
 * an outsider could do: the same open UDP port is critical on a public
 * address and high on a private one.
 */
#include "audit/verdict.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "audit/target.h"

const struct finding_def finding_defs[FINDING_COUNT] = {
#define X(id, name, sev, title, advice) { name, sev, title, advice },
    FINDINGS(X)
#undef X
};

const char *severity_name(enum severity s)
{
    static const char *const n[] = { "info", "low", "medium", "high",
                                      "critical" };
    return n[s];
}

void verdict_init(struct verdict *v)
{
    memset(v, 0, sizeof(*v));
}

void verdict_add(struct verdict *v, enum finding_id id, int sev,
                 const char *detail)
{
    struct finding *f;

    if (v->n == VERDICT_MAX)
        return;
    f = &v->f[v->n++];
    f->id = id;
    f->sev = sev < 0 ? finding_defs[id].sev : (enum severity)sev;
    snprintf(f->detail, sizeof(f->detail), "%s", detail ? detail : "");
    if (f->sev >= SEV_LOW) {
        v->counted++;
        if (f->sev > v->worst)
            v->worst = f->sev;
    }
    if (id == FINDING_CHECK_FAILED)
        v->error = true;
}

const char *verdict_status(const struct verdict *v)
{
    if (v->counted > 0 && !(v->no_service && v->counted == 1))
        return v->worst >= SEV_HIGH ? "vulnerable" : "at_risk";
    if (v->error)
        return "unknown";
    return v->no_service ? "no_service" : "clean";
}

void verdict_advice(const struct verdict *v, enum finding_id id, char *out,
                    size_t cap)
{
    const char *p = finding_defs[id].advice;
    size_t n = 0;

    if (cap == 0)
        return;
    while (*p != '\0' && n + 1 < cap) {
        char sub[420];
        const char *rep = NULL;
        if (strncmp(p, "{udp}", 5) == 0) {
            snprintf(sub, sizeof(sub), "%u", v->udp_port ? v->udp_port :
                     AUDIT_PORT_DEFAULT);
            rep = sub;
        } else if (strncmp(p, "{tcp}", 5) == 0) {
            snprintf(sub, sizeof(sub), "%u", v->tcp_port ? v->tcp_port :
                     AUDIT_PORT_DEFAULT);
            rep = sub;
        } else if (strncmp(p, "{verify}", 8) == 0) {
            snprintf(sub, sizeof(sub), "%s", v->verify_cmd[0] ?
                     v->verify_cmd : "hardcache-audit --verify HOST");
            rep = sub;
        } else if (strncmp(p, "{login_udp}", 11) == 0) {
            rep = v->hardcached ? LOGIN_UDP_HARDCACHED : LOGIN_UDP_MEMCACHED;
        }
        if (rep == NULL) {
            out[n++] = *p++;
            continue;
        }
        n += (size_t)snprintf(out + n, cap - n, "%s", rep);
        if (n >= cap)
            n = cap - 1;
        p = strchr(p, '}') + 1;
    }
    out[n] = '\0';
}

int verdict_exit(const struct verdict *v)
{
    if (v->counted > 0)
        return AUDIT_EXIT_FINDINGS;
    return v->error ? AUDIT_EXIT_ERROR : AUDIT_EXIT_CLEAR;
}

/* Above this bandwidth amplification factor a UDP reply amplifies. */
#define VERDICT_BAF_AMPLIFIES 1.0

/* The probe with the largest bandwidth amplification that replied. */
static int best_probe(const struct result *r)
{
    int best = -1;

    for (int i = 0; i < PROBE_COUNT; i++)
        if (probe_replied(&r->udp[i]) &&
            (best < 0 || probe_baf(&r->udp[i]) > probe_baf(&r->udp[best])))
            best = i;
    return best;
}

/* memcached's `inter` (its -l list: "127.0.0.1", "[::1]:11211",
 * "notls:127.0.0.1,::1"): true when every entry is a loopback address. */
static bool inter_is_loopback(const char *inter)
{
    char buf[sizeof(((struct tcp_result *)0)->inter)], *save = NULL, *tok;
    bool any = false;

    snprintf(buf, sizeof(buf), "%s", inter);
    for (tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        struct sockaddr_storage ss;
        char *c;
        memset(&ss, 0, sizeof(ss));
        if (strncmp(tok, "notls:", 6) == 0)
            tok += 6;
        if (tok[0] == '[') {
            tok++;
            if ((c = strchr(tok, ']')) != NULL)
                *c = '\0';
        } else if ((c = strchr(tok, ':')) != NULL && strchr(c + 1, ':') == NULL) {
            *c = '\0';                     /* IPv4 with a port */
        }
        if (strcmp(tok, "localhost") == 0) {
            any = true;
            continue;
        }
        if (inet_pton(AF_INET, tok, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
            ss.ss_family = AF_INET;
        else if (inet_pton(AF_INET6, tok,
                           &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
            ss.ss_family = AF_INET6;
        if (!target_is_loopback(&ss))
            return false;
        any = true;
    }
    return any;
}

static void verify_command(const struct result *r, char *out, size_t cap)
{
    char label[400];

    if (r->t->name[0] != '\0' && strchr(r->t->name, ':') == NULL)
        snprintf(label, sizeof(label), "%.300s:%u", r->t->name, r->t->port);
    else
        target_format(r->t, label, sizeof(label));
    snprintf(out, cap, "hardcache-audit --verify --require-service %.340s",
             label);
}

/* The UDP findings: amplifier, reflector, or enabled though silent here;
 * and what a TCP-validated source gets, apart. */
static void judge_udp(const struct result *r, bool pub, struct verdict *v)
{
    char d[FINDING_DETAIL];
    const struct probe_result *s = &r->udp[PROBE_STATS], *v0;
    int b;

    if (result_udp_replied(r)) {
        b = best_probe(r);
        snprintf(d, sizeof(d), "UDP %u%s: stats: %llu bytes in %u datagrams "
                 "for %u, BAF %.1f, PAF %.0f; largest: %s BAF %.1f "
                 "(%llu bytes)", r->udp_port,
                 r->udp_port_reported ? " (named in stats settings)" : "",
                 (unsigned long long)(s->reply_bytes + s->foreign_bytes),
                 s->reply_packets + s->foreign_packets, s->req_bytes,
                 probe_baf(s), probe_paf(s), udp_probe_defs[b].name,
                 probe_baf(&r->udp[b]),
                 (unsigned long long)(r->udp[b].reply_bytes +
                                      r->udp[b].foreign_bytes));
        /* A server that answers but never amplifies (hardcached's bound for
         * unvalidated sources) only reflects: a spoofer gains nothing in
         * volume, so it is a lesser finding than an amplifier. */
        if (probe_baf(&r->udp[b]) > VERDICT_BAF_AMPLIFIES)
            verdict_add(v, FINDING_UDP_AMPLIFIER, pub ? SEV_CRITICAL : SEV_HIGH, d);
        else
            verdict_add(v, FINDING_UDP_REFLECTOR, pub ? SEV_MEDIUM : SEV_LOW, d);
        for (int i = 0; i < PROBE_COUNT; i++)
            if (r->udp[i].foreign_packets > 0) {
                snprintf(d, sizeof(d), "%s: %u datagram(s), %llu bytes",
                         udp_probe_defs[i].name, r->udp[i].foreign_packets,
                         (unsigned long long)r->udp[i].foreign_bytes);
                verdict_add(v, FINDING_UDP_UNPARSED, -1, d);
                break;
            }
    } else if (r->tcp.udp_port > 0) {
        snprintf(d, sizeof(d), "stats settings: udpport %lld",
                 (long long)r->tcp.udp_port);
        verdict_add(v, FINDING_UDP_ENABLED, -1, d);
    }
    /* said only where the two views differ (a source-validating server) */
    v0 = &r->udp[PROBE_VERSION];
    if (probe_replied(&r->validated) &&
        (probe_baf(&r->validated) > VERDICT_BAF_AMPLIFIES) !=
        (probe_baf(v0) > VERDICT_BAF_AMPLIFIES)) {
        snprintf(d, sizeof(d), "version from our TCP source: BAF %.1f; from "
                 "%s (never connected): %s, BAF %.1f",
                 probe_baf(&r->validated), r->udp_source,
                 udp_state_name(v0->state), probe_baf(v0));
        verdict_add(v, FINDING_UDP_VALIDATED_VIEW, -1, d);
    }
    /* memcached never validates sources: no warning there */
    if ((r->self_validated && strcmp(r->tcp.server, "memcached") != 0) ||
        (r->udp_source[0] == '\0' && r->tcp.validate_window > 0 &&
         result_udp_replied(r))) {
        if (r->self_validated)
            snprintf(d, sizeof(d), "UDP was measured after this run's TCP "
                     "connection from the same address%s",
                     r->amp.tried ? " (--amplify figures included)" : "");
        else
            snprintf(d, sizeof(d), "the server trusts a source for %lld s "
                     "after a TCP connection; an earlier run from here may "
                     "have validated us", (long long)r->tcp.validate_window);
        if (r->tcp.unvalidated_amp[0] != '\0') {   /* the server's own view */
            size_t n = strlen(d);
            snprintf(d + n, sizeof(d) - n, "; its counter: unvalidated "
                     "sources got at most %sx", r->tcp.unvalidated_amp);
        }
        verdict_add(v, FINDING_UDP_SELF_VALIDATED, -1, d);
    }
}

void verdict_remote(const struct result *r, const struct audit_opts *o,
                    struct verdict *v)
{
    bool pub = !target_is_private(r->t);
    bool verify = o->verify;
    enum udp_state udp = result_udp_overall(r);
    char d[FINDING_DETAIL];

    verdict_init(v);
    v->udp_port = r->udp_port;
    v->tcp_port = r->t->port;
    v->hardcached = strcmp(r->tcp.server, "hardcached") == 0;
    verify_command(r, v->verify_cmd, sizeof(v->verify_cmd));
    if (r->t->error[0] != '\0') {
        verdict_add(v, FINDING_CHECK_FAILED, -1, r->t->error);
        return;
    }
    if (r->interrupted)
        verdict_add(v, FINDING_CHECK_FAILED, -1, "interrupted");
    judge_udp(r, pub, v);
    if (udp == UDP_SILENT)
        verdict_add(v, FINDING_UDP_NO_REPLY, -1, NULL);
    if (r->tcp.state == TCP_OPEN && o->expect_tcp_closed) {
        snprintf(d, sizeof(d), "connected in %.1f ms",
                 (double)r->tcp.connect_ns / 1e6);
        verdict_add(v, FINDING_TCP_REACHABLE, -1, d);
    }
    if (r->tcp.tls) {
        snprintf(d, sizeof(d), "TLS handshake completed%s%s",
                 r->tcp.version[0] ? "; version " : "", r->tcp.version);
        verdict_add(v, FINDING_TLS_SERVICE, -1, d);
    }
    /* the advisory's own setup (-l 127.0.0.1 -U 0) is no finding */
    if (!verify && r->tcp.state == TCP_OPEN && r->tcp.auth == AUTH_NONE) {
        bool lo = inter_is_loopback(r->tcp.inter);
        snprintf(d, sizeof(d), "`stats` answered without authentication%s%s",
                 lo ? "; bound to loopback only: -l " : "",
                 lo ? r->tcp.inter : "");
        verdict_add(v, FINDING_TCP_NO_AUTH, lo ? SEV_INFO : pub ? SEV_HIGH : -1,
                    d);
    }
    if (!verify && pub && (r->tcp.state == TCP_OPEN || result_udp_replied(r)))
        verdict_add(v, FINDING_PUBLIC_ADDRESS, -1, r->t->addr_text);
    if (!verify && r->tcp.version[0] != '\0' &&
        strstr(r->tcp.version, "hardcache") == NULL &&
        version_cmp(r->tcp.version, "1.5.6") == -1) {
        snprintf(d, sizeof(d), "version %s", r->tcp.version);
        verdict_add(v, FINDING_OLD_VERSION, -1, d);
    }
    if (r->udp[PROBE_ADV_TYPO].state == UDP_REPLY)
        verdict_add(v, FINDING_ADV_TYPO_ANSWERED, -1,
                    r->udp[PROBE_ADV_TYPO].first_line);
    if (r->udp[PROBE_ADV_VERIFY].state != UDP_NOT_TRIED)
        verdict_add(v, FINDING_ADV_VERIFY_MALFORMED, -1,
                    r->udp[PROBE_ADV_VERIFY].state == UDP_REPLY ?
                    "this server answered it anyway" :
                    "no reply, as expected from any server: proves nothing");
    if (r->tcp.state == TCP_ERROR) {
        snprintf(d, sizeof(d), "TCP: %s", strerror(r->tcp.err));
        verdict_add(v, FINDING_CHECK_FAILED, -1, d);
    }
    for (int i = 0; i < PROBE_COUNT; i++)
        if (r->udp[i].state == UDP_ERROR) {
            snprintf(d, sizeof(d), "UDP %s: %s", udp_probe_defs[i].name,
                     strerror(r->udp[i].err));
            verdict_add(v, FINDING_CHECK_FAILED, -1, d);
            break;
        }
    if ((r->tcp.state == TCP_REFUSED || r->tcp.state == TCP_TIMEOUT) &&
        !result_udp_replied(r) && !r->interrupted &&
        (udp == UDP_CLOSED || udp == UDP_SILENT)) {
        snprintf(d, sizeof(d), "TCP %s, UDP %s", tcp_state_name(r->tcp.state),
                 udp_state_name(udp));
        verdict_add(v, FINDING_NO_SERVICE,
                    o->require_service ? SEV_HIGH : -1, d);
        v->no_service = true;
    }
}
