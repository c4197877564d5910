/*
 * engine: the event loop. Tasks live in a fixed array of `concurrency`
 * slots; a slot takes the next target (target_next, expanded on demand) as
 * soon as its target is done, so memory does not grow with the targets.
 */
#include "audit/engine.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/resource.h>

#include "audit/probe_tcp.h"
#include "audit/probe_udp.h"
#include "audit/rate.h"
#include "audit/target.h"

#define NCHAN           (1 + PROBE_COUNT)   /* 0 = TCP, 1.. = UDP probes */
#define FDS_PER_TASK    NCHAN
#define AMP_SLACK       1024    /* item header + key room under item_size_max */

/* UDP is probed before TCP: a server that trusts addresses which completed a
 * TCP handshake (hardcached's address validation) must be measured as a
 * spoofer meets it, before our own TCP connection validates us. On a
 * loopback target the UDP probes also leave from a per-run address that
 * never connects (opts->spoof_src), so the order does not matter there and
 * the validated view is measured apart (PH_VALIDATED). */
enum phase { PH_UDP, PH_INFO, PH_UDP_REPORTED, PH_VALIDATED, PH_STORE,
             PH_GET, PH_MULTI, PH_DELETE, PH_DONE };

/* Once the well-formed probes are answered, the others (which prove
 * nothing or little) get this long plus a few round trips, not retries. */
#define HURRY_GRACE_NS  (20 * 1000000ull)
#define HURRY_RTTS      4

static volatile sig_atomic_t stop_requested;

struct task {
    bool active;
    bool hurried;
    enum phase phase;
    struct result r;
    struct rate rate;
    uint64_t started;
    bool on[NCHAN];
    struct target t;            /* the target */
    struct target udp_t;        /* the same, at the UDP port probed */
    struct tcp_probe tcp;
    struct udp_probe udp[PROBE_COUNT];
    char key[48];
};

struct ref {
    struct task *t;
    int c;
};

void engine_stop(void)
{
    stop_requested = 1;
}

bool engine_stopped(void)
{
    return stop_requested != 0;
}

static void chan_want(struct task *k, int c, struct io_want *w)
{
    if (c == 0)
        tcp_probe_want(&k->tcp, w);
    else
        udp_probe_want(&k->udp[c - 1], w);
}

static void chan_grant(struct task *k, int c, uint64_t now)
{
    if (c == 0)
        tcp_probe_grant(&k->tcp, now);
    else
        udp_probe_grant(&k->udp[c - 1], now);
}

static void chan_io(struct task *k, int c, short ev, uint64_t now)
{
    if (c == 0)
        tcp_probe_io(&k->tcp, ev, now);
    else
        udp_probe_io(&k->udp[c - 1], ev, now);
}

static void chan_timeout(struct task *k, int c, uint64_t now)
{
    if (c == 0)
        tcp_probe_timeout(&k->tcp, now);
    else
        udp_probe_timeout(&k->udp[c - 1], now);
}

static void chan_cleanup(struct task *k, int c)
{
    if (!k->on[c])
        return;
    if (c == 0)
        tcp_probe_cleanup(&k->tcp);
    else
        udp_probe_cleanup(&k->udp[c - 1]);
    k->on[c] = false;
}

static void cleanup_all(struct task *k)
{
    for (int c = 0; c < NCHAN; c++)
        chan_cleanup(k, c);
}

/* The options of a UDP probe: from the spoofer's source when we have one
 * for this target, else from the default one. */
static struct probe_opts udp_opts(const struct task *k,
                                  const struct audit_opts *o, bool spoofer)
{
    struct probe_opts po = { o->timeout_ms, o->retries, NULL, 0, 0 };

    if (spoofer && k->r.udp_source[0] != '\0') {
        po.src = (const struct sockaddr *)&o->spoof_src;
        po.srclen = sizeof(o->spoof_src);
    }
    return po;
}

static void start_udp_phase(struct task *k, const struct audit_opts *o)
{
    struct probe_opts po = udp_opts(k, o, true);

    k->hurried = false;
    for (int i = 0; i < PROBE_COUNT; i++) {
        if (udp_probe_defs[i].flags & PF_AMPLIFY)
            continue;
        if (udp_probe_start(&k->udp[i], (enum udp_probe_id)i, &k->udp_t,
                            &k->r.udp[i], &po, NULL) == 0)
            k->on[1 + i] = true;
    }
}

static void task_start(struct task *k, const struct target *t,
                       const struct audit_opts *o, uint64_t now)
{
    memset(k, 0, sizeof(*k));
    k->active = true;
    k->started = now;
    k->t = *t;
    k->udp_t = *t;
    result_init(&k->r, &k->t);
    if (t->error[0] != '\0') {         /* unresolved: nothing to probe */
        k->phase = PH_DONE;
        return;
    }
    k->phase = PH_UDP;
    rate_init(&k->rate, o->target_rate, now);
    k->r.udp_tried = true;
    if (o->have_spoof_src && t->addr.ss_family == AF_INET &&
        target_is_loopback(&t->addr))
        inet_ntop(AF_INET, &o->spoof_src.sin_addr, k->r.udp_source,
                  sizeof(k->r.udp_source));
    start_udp_phase(k, o);
}

/* Once the target answered any probe, the silent ones are not retried (the
 * server chose not to answer them); once the well-formed read-only probes
 * are all done, the rest (the malformed one proves nothing anyway) get a
 * short grace instead of their timeouts. */
static void maybe_hurry(struct task *k)
{
    uint64_t rtt = 0;
    bool replied = false, wellformed_done = true;

    if (k->hurried || (k->phase != PH_UDP && k->phase != PH_UDP_REPORTED))
        return;
    for (int i = 0; i < PROBE_COUNT; i++) {
        const struct udp_probe_def *d = &udp_probe_defs[i];
        if ((d->flags & PF_AMPLIFY) || !k->on[1 + i])
            continue;
        replied |= probe_replied(&k->r.udp[i]);
        if (k->r.udp[i].rtt_ns > rtt)
            rtt = k->r.udp[i].rtt_ns;
        if ((d->flags & PF_WELLFORMED) && !k->udp[i].done)
            wellformed_done = false;
    }
    if (!replied)
        return;
    for (int i = 0; i < PROBE_COUNT; i++) {
        if (!k->on[1 + i])
            continue;
        if (wellformed_done)
            udp_probe_hurry(&k->udp[i], HURRY_GRACE_NS + HURRY_RTTS * rtt);
        else
            udp_probe_no_retry(&k->udp[i]);
    }
    k->hurried = wellformed_done;
}

/* `stats` over UDP names the version when TCP is blocked. */
static void version_from_udp(struct task *k)
{
    char text[2048];
    const char *v, *e;

    if (k->r.tcp.version[0] != '\0' || !k->on[1 + PROBE_STATS] ||
        k->r.udp[PROBE_STATS].state != UDP_REPLY)
        return;
    udp_probe_text(&k->udp[PROBE_STATS], text, sizeof(text));
    v = strstr(text, "STAT version ");
    if (v == NULL)
        return;
    v += 13;
    e = v + strcspn(v, "\r\n");
    snprintf(k->r.tcp.version, sizeof(k->r.tcp.version), "%.*s",
             (int)(e - v), v);
}

static void make_key(char *key, size_t len)
{
    uint8_t b[3] = { 0 };
    char *p;

    if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
        uint64_t t = audit_now_ns();
        memcpy(b, &t, sizeof(b));
    }
    /* short, like an attacker's, so the factor is the one they get;
     * stored with `add`, so an existing key is never overwritten */
    p = key + snprintf(key, len, "h");
    for (size_t i = 0; i < sizeof(b); i++)
        p += snprintf(p, 3, "%02x", b[i]);
}

/* The server names a UDP port other than the one probed, and the probed
 * one did not answer: probe the named one (memcached -p P -U Q). */
static bool want_reported_port(const struct result *r)
{
    return r->tcp.udp_port > 0 && r->tcp.udp_port <= 65535 &&
           r->tcp.udp_port != r->t->port && !result_udp_replied(r);
}

static void set_udp_port(struct task *k, uint16_t port)
{
    k->udp_t.port = port;
    if (k->udp_t.addr.ss_family == AF_INET)
        ((struct sockaddr_in *)&k->udp_t.addr)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)&k->udp_t.addr)->sin6_port = htons(port);
    k->r.udp_port = port;
}

/* UDP after our TCP connection, from the same source: on a server that
 * validates sources, what we measure is no longer the spoofer's view. */
static void note_self_validation(struct task *k)
{
    if (k->r.udp_source[0] == '\0' && k->r.tcp.state == TCP_OPEN)
        k->r.self_validated = true;
}

static void start_amplify(struct task *k, const struct audit_opts *o)
{
    struct probe_opts po = { o->timeout_ms, o->retries, NULL, 0, 0 };
    struct result *r = &k->r;

    r->amp.tried = true;
    if (r->tcp.state != TCP_OPEN || r->tcp.auth != AUTH_NONE) {
        snprintf(r->amp.note, sizeof(r->amp.note),
                 "skipped: TCP not open without authentication");
        k->phase = PH_DONE;
        return;
    }
    if (!result_udp_replied(r)) {
        snprintf(r->amp.note, sizeof(r->amp.note), "skipped: no UDP reply");
        k->phase = PH_DONE;
        return;
    }
    r->amp.value_bytes = o->amplify_size;
    if (r->tcp.item_size_max > AMP_SLACK &&
        r->amp.value_bytes > (uint64_t)r->tcp.item_size_max - AMP_SLACK)
        r->amp.value_bytes = (uint64_t)r->tcp.item_size_max - AMP_SLACK;
    make_key(k->key, sizeof(k->key));
    tcp_probe_start(&k->tcp, TCP_MODE_STORE, &k->t, r, &po, k->key,
                    r->amp.value_bytes);
    k->on[0] = true;
    k->phase = PH_STORE;
}

static void start_amp_udp(struct task *k, const struct audit_opts *o,
                          enum udp_probe_id id, const char *cmd)
{
    struct probe_opts po = udp_opts(k, o, true);

    po.expect_bytes = k->r.amp.value_bytes;
    note_self_validation(k);
    if (udp_probe_start(&k->udp[id], id, &k->udp_t, &k->r.udp[id], &po,
                        cmd) == 0)
        k->on[1 + id] = true;
}

static void start_delete(struct task *k, const struct audit_opts *o)
{
    struct probe_opts po = { o->timeout_ms, o->retries, NULL, 0, 0 };

    tcp_probe_start(&k->tcp, TCP_MODE_DELETE, &k->t, &k->r, &po, k->key, 0);
    k->on[0] = true;
    k->phase = PH_DELETE;
}

/* All of a phase's sockets are done: pick the next phase. */
static void task_advance(struct task *k, const struct audit_opts *o)
{
    struct probe_opts po = { o->timeout_ms, o->retries, NULL, 0, 0 };
    struct result *r = &k->r;

    switch (k->phase) {
    case PH_UDP:
        tcp_probe_start(&k->tcp, TCP_MODE_INFO, &k->t, r, &po, NULL, 0);
        k->on[0] = true;
        k->phase = PH_INFO;
        break;
    case PH_INFO:
    case PH_UDP_REPORTED:
        version_from_udp(k);
        cleanup_all(k);
        if (k->phase == PH_INFO && want_reported_port(r)) {
            set_udp_port(k, (uint16_t)r->tcp.udp_port);
            r->udp_port_reported = true;
            note_self_validation(k);
            start_udp_phase(k, o);
            k->phase = PH_UDP_REPORTED;
            break;
        }
        /* the validated view: `version` (which a source-validating server
         * such as hardcached answers to validated sources only, while it
         * refuses `stats` over UDP to all) from the source TCP used */
        if (r->udp_source[0] != '\0' && r->tcp.state == TCP_OPEN &&
            (result_udp_replied(r) || r->tcp.udp_port > 0)) {
            struct probe_opts vo = udp_opts(k, o, false);
            if (udp_probe_start(&k->udp[PROBE_VERSION], PROBE_VERSION,
                                &k->udp_t, &r->validated, &vo, NULL) == 0)
                k->on[1 + PROBE_VERSION] = true;
            k->phase = PH_VALIDATED;
            break;
        }
        /* fall through */
    case PH_VALIDATED:
        cleanup_all(k);
        if (o->amplify)
            start_amplify(k, o);
        else
            k->phase = PH_DONE;
        break;
    case PH_STORE:
        chan_cleanup(k, 0);
        if (!r->amp.stored) {
            k->phase = PH_DONE;
            break;
        }
        {
            char cmd[80];
            snprintf(cmd, sizeof(cmd), "get %s\r\n", k->key);
            start_amp_udp(k, o, PROBE_AMP_GET, cmd);
        }
        k->phase = PH_GET;
        break;
    case PH_GET:
        chan_cleanup(k, 1 + PROBE_AMP_GET);
        if (probe_replied(&r->udp[PROBE_AMP_GET])) {
            /* one datagram, the same key AMP_MULTI_KEYS times */
            char cmd[UDP_REQ_MAX - FRAME_HDR_LEN];
            size_t n = (size_t)snprintf(cmd, sizeof(cmd), "get");
            for (int i = 0; i < AMP_MULTI_KEYS && n < sizeof(cmd); i++)
                n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " %s",
                                      k->key);
            if (n + 2 < sizeof(cmd)) {
                memcpy(cmd + n, "\r\n", 3);
                start_amp_udp(k, o, PROBE_AMP_MULTI, cmd);
                k->phase = PH_MULTI;
                break;
            }
        }
        /* fall through */
    case PH_MULTI:
        chan_cleanup(k, 1 + PROBE_AMP_MULTI);
        start_delete(k, o);
        break;
    case PH_DELETE:
        chan_cleanup(k, 0);
        if (r->interrupted)
            snprintf(r->amp.note, sizeof(r->amp.note), "interrupted; the "
                     "stored value was %s", r->amp.deleted ? "deleted" :
                     "NOT deleted (it expires in 60 s)");
        k->phase = PH_DONE;
        break;
    case PH_DONE:
        break;
    }
}

/* SIGINT: stop probing; a stored value is deleted before we leave. */
static void task_interrupt(struct task *k, const struct audit_opts *o)
{
    k->r.interrupted = true;
    if (k->phase == PH_DELETE || k->phase == PH_DONE)
        return;
    cleanup_all(k);
    if (k->phase == PH_STORE || k->phase == PH_GET || k->phase == PH_MULTI)
        start_delete(k, o);
    else
        k->phase = PH_DONE;
}

static unsigned fit_concurrency(unsigned want)
{
    struct rlimit rl;
    rlim_t room;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return want < 64 ? want : 64;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    room = rl.rlim_cur > 32 ? (rl.rlim_cur - 32) / FDS_PER_TASK : 1;
    if (room < 1)
        room = 1;
    return (rlim_t)want > room ? (unsigned)room : want;
}

int engine_run(struct target_list *tl, const struct audit_opts *o,
               engine_done_fn done, void *arg)
{
    unsigned slots = fit_concurrency(o->concurrency ? o->concurrency : 1);
    struct task *tasks = calloc(slots, sizeof(*tasks));
    struct pollfd *pfd = calloc((size_t)slots * NCHAN, sizeof(*pfd));
    struct ref *refs = calloc((size_t)slots * NCHAN, sizeof(*refs));
    struct rate global;
    struct target next;
    bool more = true, stopping = false;
    unsigned active = 0;
    int rc = 0;

    if (tasks == NULL || pfd == NULL || refs == NULL) {
        rc = -1;
        goto out;
    }
    rate_init(&global, o->rate, audit_now_ns());
    for (;;) {
        uint64_t now = audit_now_ns(), wait = 1000000000ull;
        nfds_t n = 0;
        int timeout_ms, pr;

        if (stop_requested && !stopping) {
            stopping = true;
            more = false;
            for (unsigned s = 0; s < slots; s++)
                if (tasks[s].active)
                    task_interrupt(&tasks[s], o);
        }
        for (unsigned s = 0; s < slots && more; s++) {
            if (tasks[s].active)
                continue;
            more = target_next(tl, &next) == 1;
            if (!more)
                break;
            task_start(&tasks[s], &next, o, now);
            active++;
        }
        if (active == 0)
            break;
        for (unsigned s = 0; s < slots; s++) {
            struct task *k = &tasks[s];
            bool busy = false;

            if (!k->active)
                continue;
            maybe_hurry(k);
            for (int c = 0; c < NCHAN; c++) {
                struct io_want w;
                if (!k->on[c])
                    continue;
                chan_want(k, c, &w);
                if (w.done)
                    continue;
                busy = true;
                if (w.token) {
                    uint64_t a = rate_peek(&global, now);
                    uint64_t b = rate_peek(&k->rate, now);
                    uint64_t need = a > b ? a : b;
                    if (need == 0) {
                        rate_take(&global, now);
                        rate_take(&k->rate, now);
                        chan_grant(k, c, now);
                        need = 0;
                    }
                    if (need < wait)
                        wait = need;    /* 0: look at it again at once */
                    continue;
                }
                if (w.fd >= 0) {
                    pfd[n].fd = w.fd;
                    pfd[n].events = w.events;
                    pfd[n].revents = 0;
                    refs[n].t = k;
                    refs[n].c = c;
                    n++;
                }
                if (w.deadline) {
                    uint64_t d = w.deadline > now ? w.deadline - now : 0;
                    if (d < wait)
                        wait = d;
                }
            }
            if (busy)
                continue;
            task_advance(k, o);
            if (k->phase == PH_DONE) {
                k->r.elapsed_ns = now - k->started;
                done(arg, &k->r);
                cleanup_all(k);
                k->active = false;
                active--;
            }
            wait = 0;
        }
        timeout_ms = (int)((wait + 999999) / 1000000);
        pr = poll(pfd, n, timeout_ms);
        if (pr < 0 && errno != EINTR) {
            rc = -1;
            break;
        }
        now = audit_now_ns();
        for (nfds_t i = 0; pr > 0 && i < n; i++)
            if (pfd[i].revents)
                chan_io(refs[i].t, refs[i].c, pfd[i].revents, now);
        for (unsigned s = 0; s < slots; s++) {
            struct task *k = &tasks[s];
            if (!k->active)
                continue;
            for (int c = 0; c < NCHAN; c++) {
                struct io_want w;
                if (!k->on[c])
                    continue;
                chan_want(k, c, &w);
                if (!w.done && !w.token && w.deadline && w.deadline <= now)
                    chan_timeout(k, c, now);
            }
        }
    }
out:
    for (unsigned s = 0; tasks != NULL && s < slots; s++)
        for (int c = 0; c < NCHAN; c++)
            chan_cleanup(&tasks[s], c);
    free(tasks);
    free(pfd);
    free(refs);
    return rc;
}
