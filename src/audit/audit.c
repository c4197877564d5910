/*
 * audit: the probe table and small helpers over results that every other
 * module reads (names of states, amplification factors, versions).
 */
#include "audit/audit.h"

#include <string.h>
#include <time.h>

#include "audit/target.h"
#include "core/strnum.h"

const struct udp_probe_def udp_probe_defs[PROBE_COUNT] = {
#define X(id, name, flags, req) { name, flags, req, sizeof(req) - 1 },
    UDP_PROBES(X)
#undef X
};

const char *tcp_state_name(enum tcp_state s)
{
    static const char *const n[] = { "not_tried", "open", "refused",
                                      "timeout", "error" };
    return n[s];
}

const char *udp_state_name(enum udp_state s)
{
    static const char *const n[] = { "not_tried", "reply", "closed",
                                      "silent", "error" };
    return n[s];
}

const char *auth_kind_name(enum auth_kind a)
{
    static const char *const n[] = { "unknown", "none", "ascii", "sasl",
                                      "refused", "tls" };
    return n[a];
}

void result_init(struct result *r, const struct target *t)
{
    memset(r, 0, sizeof(*r));
    r->t = t;
    r->tcp.udp_port = r->tcp.tcp_port = r->tcp.item_size_max = -1;
    r->tcp.sasl_enabled = r->tcp.ascii_auth_enabled = -1;
    r->tcp.ssl_enabled = -1;
    r->tcp.validate_window = -1;
    if (t != NULL)
        r->udp_port = t->port;
}

enum udp_state result_udp_overall(const struct result *r)
{
    enum udp_state best = UDP_NOT_TRIED;
    static const int rank[] = { 0, 4, 3, 2, 1 };   /* by enum udp_state */

    for (int i = 0; i < PROBE_COUNT; i++) {
        if (!(udp_probe_defs[i].flags & PF_WELLFORMED) &&
            r->udp[i].state != UDP_REPLY)
            continue;
        if (rank[r->udp[i].state] > rank[best])
            best = r->udp[i].state;
    }
    return best;
}

bool result_udp_replied(const struct result *r)
{
    for (int i = 0; i < PROBE_COUNT; i++)
        if (r->udp[i].state == UDP_REPLY)
            return true;
    return false;
}

bool probe_replied(const struct probe_result *p)
{
    return p->reply_packets > 0 || p->foreign_packets > 0;
}

double probe_baf(const struct probe_result *p)
{
    uint64_t sent = (uint64_t)p->req_bytes * (p->attempts ? p->attempts : 1);

    return sent ? (double)(p->reply_bytes + p->foreign_bytes) / (double)sent
                : 0.0;
}

double probe_paf(const struct probe_result *p)
{
    return (double)(p->reply_packets + p->foreign_packets) /
           (p->attempts ? p->attempts : 1);
}

/* Reads up to three dot-separated numbers; returns how many parsed. */
static int version_parse(const char *s, uint32_t v[3])
{
    int k = 0;

    v[0] = v[1] = v[2] = 0;
    while (k < 3) {
        size_t n = strspn(s, "0123456789");
        if (n == 0 || !strnum_u32(s, n, &v[k]))
            break;
        k++;
        s += n;
        if (*s != '.')
            break;
        s++;
    }
    return k;
}

int version_cmp(const char *a, const char *b)
{
    uint32_t va[3], vb[3];

    if (version_parse(a, va) < 2 || version_parse(b, vb) < 2)
        return -2;
    for (int i = 0; i < 3; i++)
        if (va[i] != vb[i])
            return va[i] < vb[i] ? -1 : 1;
    return 0;
}

uint64_t audit_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
