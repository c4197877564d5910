/*
 * local_verdict: judging what local.c saw. Never clean by default: a UDP
 * listener whose owner we could not see, or a process we could not read,
 * makes the local result "could not check" unless something was found.
 */
#include "audit/local.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "audit/local_advice.h"

/* Unmapped UDP listeners named in the could-not-check finding. */
#define LOCAL_UNSEEN_SHOWN  6

/* A finding's detail; a long one is cut at FINDING_DETAIL, which is fine
 * for text that names paths and addresses we did not choose. */
static void detail(char *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void detail(char *d, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(d, FINDING_DETAIL, fmt, ap);
    va_end(ap);
}

static bool port_listed(uint16_t port, const uint16_t *ports, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ports[i] == port)
            return true;
    return false;
}

/* hardcached keeps UDP with a login; memcached (or an owner we cannot
 * see) does not, and the advice says which (local_fix.memcached). */
static bool is_hardcached(const char *comm)
{
    return strcmp(comm, "hardcached") == 0;
}

static struct local_proc *proc_of(struct local_report *lr, int pid)
{
    for (size_t k = 0; pid > 0 && k < lr->nprocs; k++)
        if (lr->procs[k].pid == pid)
            return &lr->procs[k];
    return NULL;
}

/* The UDP port a process's flags open: -U, or before 1.5.6 (or when we do
 * not know the version) -p or 11211 when -U is not given; 0 for none. */
static int64_t flags_udp_port(const struct local_proc *p)
{
    if (p->flags.unix_socket)
        return 0;       /* memcached -s opens neither TCP nor UDP */
    if (p->flags.udp_port >= 0)
        return p->flags.udp_port;
    if (mc_udp_default_on(p->version) == 0)
        return 0;
    return p->flags.tcp_port > 0 ? p->flags.tcp_port : MC_PORT_DEFAULT;
}

/* Not root: the owner of a UDP socket in a namespace where some fds are
 * unreadable, inferred from the flags of a memcached-like process there. */
static struct local_proc *infer_owner(struct local_report *lr,
                                      const struct local_sock *s)
{
    for (size_t k = 0; k < lr->nprocs; k++) {
        struct local_proc *p = &lr->procs[k];
        if (!p->fds_readable && p->ns == s->ns &&
            flags_udp_port(p) == (int64_t)s->port)
            return p;
    }
    return NULL;
}

/* " in netns net:[...]" for sockets outside the auditor's namespace. */
static const char *ns_note(const struct local_report *lr, int ns, char *buf,
                           size_t cap)
{
    buf[0] = '\0';
    if (ns >= 0 && (size_t)ns < lr->nns && !lr->ns[ns].own)
        snprintf(buf, cap, " in netns %s", lr->ns[ns].label);
    return buf;
}

static bool same_listener(const struct local_sock *a,
                          const struct local_sock *b)
{
    return a->pid == b->pid && a->ns == b->ns && a->port == b->port &&
           strcmp(a->proto, b->proto) == 0 && strcmp(a->addr, b->addr) == 0;
}

/* Whether every listener of p is on loopback; its -l flag when its
 * sockets cannot be seen. */
static bool proc_loopback_only(const struct local_report *lr,
                               const struct local_proc *p)
{
    bool any = false;

    for (size_t i = 0; p->fds_readable && i < lr->nsocks; i++)
        if (lr->socks[i].pid == p->pid) {
            if (!lr->socks[i].loopback)
                return false;
            any = true;
        }
    return any || p->flags.unix_socket ||
           mc_listen_is_loopback(p->flags.listen);
}

static void judge_sockets(struct local_report *lr, const struct audit_opts *o,
                          const uint16_t *ports, size_t nports,
                          struct verdict *v, bool *has_udp,
                          struct local_fix *fx)
{
    char d[FINDING_DETAIL], nsn[64], unseen[FINDING_DETAIL] = "";
    size_t ul = 0;
    unsigned nunseen = 0;

    for (size_t i = 0; i < lr->nsocks; i++) {
        struct local_sock *s = &lr->socks[i];
        struct local_proc *p = proc_of(lr, s->pid);
        bool inferred = false;

        if (i > 0 && same_listener(s, &lr->socks[i - 1]))
            continue;   /* SO_REUSEPORT siblings: one finding is enough */
        ns_note(lr, s->ns, nsn, sizeof(nsn));
        if (s->udp && p == NULL && s->pid < 0 &&
            (p = infer_owner(lr, s)) != NULL)
            inferred = true;
        if (s->udp && p != NULL) {
            detail(d, "pid %d (%s) %s %s port %u%s%s", p->pid,
                     p->comm, s->proto, s->addr, s->port, nsn, inferred ?
                     "; owner inferred from its flags (its fds are not "
                     "readable)" : "");
            verdict_add(v, s->family == AF_INET6 ? FINDING_LOCAL_UDP_V6 :
                        FINDING_LOCAL_UDP_V4,
                        s->loopback ? SEV_HIGH : SEV_CRITICAL, d);
            has_udp[p - lr->procs] = true;
            local_fix_port(fx, s->port);
            fx->memcached |= !is_hardcached(p->comm);
        } else if (s->udp && port_listed(s->port, ports, nports)) {
            if (s->pid > 0)
                detail(d, "pid %d (%s) %s %s port %u%s", s->pid,
                         s->owner[0] ? s->owner : "?", s->proto, s->addr,
                         s->port, nsn);
            else
                detail(d, "owner not visible (uid %u) %s %s "
                         "port %u%s: %s", s->uid, s->proto, s->addr, s->port,
                         nsn, lr->root ? "no process holds it" :
                         "not root, other users' sockets have no owner");
            verdict_add(v, FINDING_LOCAL_UDP_PORT,
                        s->loopback ? SEV_HIGH : SEV_CRITICAL, d);
            local_fix_port(fx, s->port);
            fx->memcached |= !is_hardcached(s->owner);
        } else if (s->udp && s->pid < 0 && lr->ns[s->ns].unreadable > 0) {
            /* may belong to a process we cannot read: not clean */
            if (nunseen++ < LOCAL_UNSEEN_SHOWN && ul < sizeof(unseen)) {
                int n = snprintf(unseen + ul, sizeof(unseen) - ul, "%s%s:%u%s",
                                 ul ? ", " : "", s->addr, s->port, nsn);
                ul += n > 0 ? (size_t)n : 0;
            }
        }
        if (!o->verify && p != NULL && !inferred && !s->loopback) {
            detail(d, "pid %d (%s) %s %s port %u%s", p->pid,
                     p->comm, s->proto, s->addr, s->port, nsn);
            verdict_add(v, FINDING_LOCAL_PUBLIC_BIND, -1, d);
            fx->bind = true;
        }
    }
    if (nunseen > 0) {
        detail(d, "%u UDP listener(s) with no visible owner "
                 "(run as root to map them): %s%s", nunseen, unseen,
                 nunseen > LOCAL_UNSEEN_SHOWN ? ", ..." : "");
        verdict_add(v, FINDING_CHECK_FAILED, -1, d);
    }
}

static void judge_procs(struct local_report *lr, const struct audit_opts *o,
                        struct verdict *v, const bool *has_udp,
                        struct local_fix *fx)
{
    char d[FINDING_DETAIL], nsn[64];

    for (size_t k = 0; k < lr->nprocs; k++) {
        const struct local_proc *p = &lr->procs[k];
        bool lo = proc_loopback_only(lr, p);

        ns_note(lr, p->ns, nsn, sizeof(nsn));
        if (!has_udp[k] && p->flags.udp_port > 0) {
            detail(d, "pid %d (%s) -U %lld%s: no UDP socket of "
                     "it was seen (%s)", p->pid, p->comm,
                     (long long)p->flags.udp_port, nsn, p->fds_readable ?
                     "it may not have bound yet" : "its fds are not readable");
            verdict_add(v, FINDING_LOCAL_UDP_FLAG,
                        lo ? SEV_HIGH : SEV_CRITICAL, d);
            local_fix_port(fx, (uint16_t)p->flags.udp_port);
            fx->memcached |= !is_hardcached(p->comm);
        }
        if (o->verify)
            continue;
        if (!p->fds_readable && !lo) {
            detail(d, "pid %d (%s)%s: -l %s on its command line",
                     p->pid, p->comm, nsn, p->flags.listen[0] ?
                     p->flags.listen : "not given (all addresses)");
            verdict_add(v, FINDING_LOCAL_PUBLIC_BIND, -1, d);
            fx->bind = true;
        }
        if (!p->flags.sasl && !p->flags.auth_file) {
            detail(d, "pid %d (%s)%s", p->pid, p->comm,
                     lo ? ": listens on loopback only" : "");
            verdict_add(v, FINDING_LOCAL_NO_AUTH, lo ? SEV_INFO : -1, d);
            fx->auth |= !lo;
            fx->memcached |= !lo && !is_hardcached(p->comm);
        }
        if (p->uid == 0) {
            detail(d, "pid %d (%s)", p->pid, p->comm);
            verdict_add(v, FINDING_LOCAL_ROOT, -1, d);
            fx->root = true;
        }
        if (mc_udp_default_on(p->version) == 1) {
            detail(d, "pid %d (%s) version %s", p->pid, p->comm,
                     p->version);
            verdict_add(v, FINDING_LOCAL_OLD_VERSION, -1, d);
            fx->upgrade = true;
        }
    }
}

static void judge_confs(const struct local_report *lr, struct verdict *v,
                        struct local_fix *fx)
{
    char d[FINDING_DETAIL];
    int on = mc_udp_default_on(lr->installed);

    for (size_t k = 0; k < lr->nconfs; k++) {
        const struct local_conf *c = &lr->confs[k];
        if (c->flags.unix_socket)
            continue;   /* -s: no TCP, no UDP */
        if (c->flags.udp_port > 0) {
            detail(d, "%s: -U %lld turns UDP on", c->path,
                     (long long)c->flags.udp_port);
            verdict_add(v, FINDING_CONF_UDP, -1, d);
            local_fix_port(fx, (uint16_t)c->flags.udp_port);
            fx->memcached = true;   /* memcached's own files (local.c) */
        } else if (c->flags.udp_port < 0 && on != 0) {
            detail(d, "%s: no -U 0, and UDP is on by default %s"
                     " %s%s%s", c->path, on > 0 ? "in memcached" :
                     "before memcached " MC_UDP_OFF_SINCE ", installed:",
                     on > 0 ? lr->installed : "unknown",
                     on > 0 ? " from " : "", on > 0 ? lr->installed_from : "");
            verdict_add(v, FINDING_CONF_UDP, -1, d);
            local_fix_port(fx, c->flags.tcp_port > 0 ?
                           (uint16_t)c->flags.tcp_port : MC_PORT_DEFAULT);
            fx->memcached = true;
        }
        if (!mc_listen_is_loopback(c->flags.listen)) {
            detail(d, "%s: -l %s", c->path,
                     c->flags.listen[0] ? c->flags.listen : "(all addresses)");
            verdict_add(v, FINDING_CONF_PUBLIC_BIND, -1, d);
            fx->bind = true;
        }
    }
}

void local_verdict(struct local_report *lr, const struct audit_opts *o,
                   const uint16_t *ports, size_t nports, struct verdict *v)
{
    bool has_udp[LOCAL_PROC_MAX] = { false };
    struct local_fix fx;
    char d[FINDING_DETAIL];

    verdict_init(v);
    memset(&fx, 0, sizeof(fx));
    lr->fix[0] = '\0';
    if (lr->error[0] != '\0') {
        verdict_add(v, FINDING_CHECK_FAILED, -1, lr->error);
        return;
    }
    if (lr->truncated)
        verdict_add(v, FINDING_CHECK_FAILED, -1, "more processes, sockets, "
                    "namespaces or configuration files than the tables "
                    "hold: the scan is incomplete");
    if (lr->hidden > 0) {
        detail(d, "%u process(es) or network namespace(s) "
                 "could not be read (hidepid, or not root)", lr->hidden);
        verdict_add(v, FINDING_CHECK_FAILED, -1, d);
    }
    judge_sockets(lr, o, ports, nports, v, has_udp, &fx);
    judge_procs(lr, o, v, has_udp, &fx);
    if (!o->verify)
        judge_confs(lr, v, &fx);
    v->hardcached = !fx.memcached;
    local_advice_build(lr->fix, sizeof(lr->fix), &fx);
}
