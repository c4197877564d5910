/*
 * verdict: turning measurements into findings. Severity depends on what
 * an outsider could do: the same open UDP port is critical on a public
 * address and high on a private one.
 */
#include "audit/verdict.h"

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
    if (v->counted > 0)
        return v->worst >= SEV_HIGH ? "vulnerable" : "at_risk";
    return v->error ? "unknown" : "clean";
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
        if (r->udp[i].state == UDP_REPLY &&
            (best < 0 || probe_baf(&r->udp[i]) > probe_baf(&r->udp[best])))
            best = i;
    return best;
}

void verdict_remote(const struct result *r, const struct audit_opts *o,
                    struct verdict *v)
{
    bool pub = !target_is_private(r->t);
    bool verify = o->verify;
    enum udp_state udp = result_udp_overall(r);
    char d[FINDING_DETAIL];
    int b;

    verdict_init(v);
    if (result_udp_replied(r)) {
        const struct probe_result *s = &r->udp[PROBE_STATS];
        b = best_probe(r);
        snprintf(d, sizeof(d), "stats: %llu bytes in %u datagrams for %u, "
                 "BAF %.1f, PAF %.0f; largest: %s BAF %.1f (%llu bytes)",
                 (unsigned long long)s->reply_bytes, s->reply_packets,
                 s->req_bytes, probe_baf(s), probe_paf(s),
                 udp_probe_defs[b].name, probe_baf(&r->udp[b]),
                 (unsigned long long)r->udp[b].reply_bytes);
        /* A server that answers but never amplifies (hardcached's bound for
         * unvalidated sources) only reflects: a spoofer gains nothing in
         * volume, so it is a lesser finding than an amplifier. */
        if (probe_baf(&r->udp[b]) > VERDICT_BAF_AMPLIFIES)
            verdict_add(v, FINDING_UDP_AMPLIFIER, pub ? SEV_CRITICAL : SEV_HIGH, d);
        else
            verdict_add(v, FINDING_UDP_REFLECTOR, pub ? SEV_MEDIUM : SEV_LOW, d);
    } else if (r->tcp.udp_port > 0) {
        snprintf(d, sizeof(d), "stats settings: udpport %lld",
                 (long long)r->tcp.udp_port);
        verdict_add(v, FINDING_UDP_ENABLED, verify ? SEV_INFO : -1, d);
    }
    if (udp == UDP_SILENT)
        verdict_add(v, FINDING_UDP_NO_REPLY, -1, NULL);
    if (r->tcp.state == TCP_OPEN && o->expect_tcp_closed) {
        snprintf(d, sizeof(d), "connected in %.1f ms",
                 (double)r->tcp.connect_ns / 1e6);
        verdict_add(v, FINDING_TCP_REACHABLE, -1, d);
    }
    if (!verify && r->tcp.state == TCP_OPEN && r->tcp.auth == AUTH_NONE)
        verdict_add(v, FINDING_TCP_NO_AUTH, pub ? SEV_HIGH : -1,
                    "`stats` answered without authentication");
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
}
