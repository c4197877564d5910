/* Unit tests for the local audit's pure parts: memcached flags and
 * configuration files, -l addresses, the UDP default by version, dpkg's
 * status, and the verdict on hand-built scans. */
#include <stdlib.h>
#include <sys/socket.h>

#include "audit/local.h"
#include "unit.h"

#define DEBIAN_CONF \
    "# memcached default config file\n" \
    "# 2003 - Jay Bonci <jaybonci@debian.org>\n" \
    "-d\n" \
    "logfile /var/log/memcached.log\n" \
    "# -v\n" \
    "-m 64\n" \
    "-p 11211\n" \
    "-u memcache\n" \
    "# Specify which IP address to listen on. The default is to listen on all IP addresses\n" \
    "-l 127.0.0.1\n" \
    "# -c 1024\n" \
    "-P /var/run/memcached/memcached.pid\n"

static bool conf(struct mc_flags *f, const char *text)
{
    char buf[4096];

    snprintf(buf, sizeof(buf), "%s", text);
    return mc_conf_parse(f, buf);
}

static void test_conf_files(void)
{
    struct mc_flags f;

    CHECK(conf(&f, DEBIAN_CONF));
    CHECK_EQ_INT(f.udp_port, -1);
    CHECK_EQ_INT(f.tcp_port, 11211);
    CHECK(strcmp(f.listen, "127.0.0.1") == 0);
    CHECK(strcmp(f.user, "memcache") == 0);
    /* Debian's /etc/default/memcached says only whether to start */
    CHECK(!conf(&f, "# Set this to no to disable memcached.\n"
                "ENABLE_MEMCACHED=yes\n"));
    CHECK(!conf(&f, ""));
    CHECK(conf(&f, "PORT=\"11211\"\nUSER=\"memcached\"\nMAXCONN=\"1024\"\n"
               "CACHESIZE=\"64\"\nOPTIONS=\"-l 127.0.0.1,::1 -U 0 -S\"\n"));
    CHECK_EQ_INT(f.udp_port, 0);
    CHECK_EQ_INT(f.tcp_port, 11211);
    CHECK(strcmp(f.listen, "127.0.0.1,::1") == 0);
    CHECK(f.sasl && strcmp(f.user, "memcached") == 0);
    CHECK(conf(&f, "OPTIONS=\"\"\n"));     /* RHEL's stock: a configuration */
    CHECK_EQ_INT(f.udp_port, -1);
    CHECK(conf(&f, "-U 11213 # UDP for the legacy client\n-l 10.0.0.5\n"
               "-l 127.0.0.1\n"));
    CHECK_EQ_INT(f.udp_port, 11213);
    CHECK(strcmp(f.listen, "10.0.0.5,127.0.0.1") == 0);
    CHECK(conf(&f, "-s /run/memcached/memcached.sock\n-a 0700\n"));
    CHECK(f.unix_socket && f.listen[0] == '\0');
}

static void test_flags_from_argv(void)
{
    char *argv[] = { "memcached", "--udp-port=11213", "-p11300", "--listen",
                     "::1", "-Y", "/etc/auth", "-Z", "-U" };
    struct mc_flags f;
    char text[400];

    mc_flags_parse(&f, 9, argv);   /* the trailing -U has no value */
    CHECK_EQ_INT(f.udp_port, 11213);
    CHECK_EQ_INT(f.tcp_port, 11300);
    CHECK(strcmp(f.listen, "::1") == 0 && f.auth_file && f.ssl && !f.sasl);
    mc_flags_parse(&f, 1, argv);
    mc_flags_format(&f, text, sizeof(text));
    CHECK(strstr(text, "-1") == NULL);     /* never the internal -U -1 */
    CHECK(strstr(text, "-U not set") != NULL);
}

static void test_listen_loopback(void)
{
    static const char *const lo[] = {
        "127.0.0.1", "127.1.2.3", "::1", "[::1]", "[::1]:11211",
        "notls:127.0.0.1:11211", "notls:[::1]:11211", "::ffff:127.0.0.1",
        "127.0.0.1:11211,[::1]:11211", "localhost", "127.0.0.1, ::1",
        "notls:::1",
    };
    static const char *const pub[] = {
        "", "0.0.0.0", "::", "[::]:11211", "10.0.0.5", "127.0.0.1,0.0.0.0",
        "::ffff:10.0.0.1", "cache.example.net", "[::1", "[::1]x",
        "notls:0.0.0.0:11211", "128.0.0.1", ",",
    };

    for (size_t i = 0; i < sizeof(lo) / sizeof(lo[0]); i++)
        if (!mc_listen_is_loopback(lo[i])) {
            CHECK(!"loopback read as public");
            fprintf(stderr, "  %s\n", lo[i]);
        }
    for (size_t i = 0; i < sizeof(pub) / sizeof(pub[0]); i++)
        if (mc_listen_is_loopback(pub[i])) {
            CHECK(!"public read as loopback");
            fprintf(stderr, "  %s\n", pub[i]);
        }
}

static void test_udp_default_by_version(void)
{
    char v[64];
    const char *status =
        "Package: memcached-tool\nStatus: install ok installed\n"
        "Version: 9.9\n\n"
        "Package: memcached\nStatus: deinstall ok config-files\n"
        "Version: 1.4.25-2\n\n"
        "Package: memcached\nStatus: install ok installed\n"
        "Priority: optional\nVersion: 1.6.18-1+deb12u1\n";

    CHECK_EQ_INT(mc_udp_default_on("1.6.18-1+deb12u1"), 0);
    CHECK_EQ_INT(mc_udp_default_on("1.5.6"), 0);
    CHECK_EQ_INT(mc_udp_default_on("1.5.5"), 1);
    CHECK_EQ_INT(mc_udp_default_on("1.4.25-2ubuntu1"), 1);
    CHECK_EQ_INT(mc_udp_default_on("1:1.6.9"), 0);
    CHECK_EQ_INT(mc_udp_default_on(""), -1);
    CHECK_EQ_INT(mc_udp_default_on("1.6.21 hardcache 0.1"), -1);
    CHECK(mc_dpkg_version(status, "memcached", v, sizeof(v)));
    CHECK(strcmp(v, "1.6.18-1+deb12u1") == 0);
    CHECK(!mc_dpkg_version("Package: memcached\nStatus: deinstall ok "
                           "config-files\nVersion: 1.4\n", "memcached", v,
                           sizeof(v)));
    CHECK(!mc_dpkg_version("", "memcached", v, sizeof(v)));
}

static void test_net_line(void)
{
    struct local_sock s;

    CHECK_EQ_INT(local_parse_net_line("13265: 0100007F:2C25 00000000:0000 07 "
                 "00000000:00000000 00:00000000 00000000   102        0 96891 "
                 "2 00000000f816f84a 0", false, true, &s), 0);
    CHECK(s.loopback && s.port == 11301 && s.uid == 102 && s.inode == 96891);
    CHECK(strcmp(s.addr, "127.0.0.1") == 0);
    /* a connected UDP socket is not a listener */
    CHECK(local_parse_net_line("1: 0100007F:2C25 0100007F:0035 01 0:0 0:0 0 "
                               "0 0 1 2 0 0", false, true, &s) != 0);
}

/* A hand-built scan: one namespace, no sockets, no processes. */
struct scan {
    struct local_report lr;
    struct local_proc procs[4];
    struct local_sock socks[4];
    struct audit_opts o;
    struct verdict v;
};

static struct scan *scan_new(void)
{
    struct scan *s = calloc(1, sizeof(*s));

    s->lr.procs = s->procs;
    s->lr.socks = s->socks;
    s->lr.nns = 1;
    s->lr.ns[0].own = true;
    s->lr.root = true;
    s->lr.all_visible = true;
    return s;
}

static struct local_proc *scan_proc(struct scan *s, int pid, const char *cmd)
{
    struct local_proc *p = &s->procs[s->lr.nprocs++];
    char buf[256], *argv[16];
    int argc;

    p->pid = pid;
    p->ns = 0;
    p->uid = 102;
    p->fds_readable = true;
    p->by_name = true;
    snprintf(p->comm, sizeof(p->comm), "memcached");
    snprintf(buf, sizeof(buf), "%s", cmd);
    argc = local_split(buf, argv, 16);
    mc_flags_parse(&p->flags, argc, argv);
    return p;
}

static struct local_sock *scan_sock(struct scan *s, int pid, bool udp,
                                    uint16_t port)
{
    struct local_sock *k = &s->socks[s->lr.nsocks++];

    snprintf(k->proto, sizeof(k->proto), udp ? "udp" : "tcp");
    snprintf(k->addr, sizeof(k->addr), "127.0.0.1");
    k->udp = udp;
    k->family = AF_INET;
    k->loopback = true;
    k->port = port;
    k->pid = pid;
    return k;
}

static bool has(const struct verdict *v, enum finding_id id, int sev)
{
    for (unsigned i = 0; i < v->n; i++)
        if (v->f[i].id == id && (sev < 0 || (int)v->f[i].sev == sev))
            return true;
    return false;
}

static void test_verdict_flag_without_socket(void)
{
    struct scan *s = scan_new();
    uint16_t ports[] = { 11211 };

    scan_proc(s, 10, "memcached -l 127.0.0.1 -U 11213 -p 11300");
    scan_sock(s, 10, false, 11300);
    s->o.verify = true;
    local_verdict(&s->lr, &s->o, ports, 1, &s->v);
    CHECK(has(&s->v, FINDING_LOCAL_UDP_FLAG, SEV_HIGH));
    CHECK_EQ_INT(verdict_exit(&s->v), AUDIT_EXIT_FINDINGS);
    CHECK(strstr(s->lr.fix, "-U 11213") != NULL);
    CHECK(strstr(s->lr.fix, "udp dport 11213 drop") != NULL);
    CHECK(strstr(s->lr.fix, "11211") == NULL);
    CHECK(strstr(s->lr.fix, "/etc/sysconfig/memcached") != NULL);
    CHECK(strstr(s->lr.fix, "systemctl restart memcached") != NULL);
    free(s);
}

static void test_verdict_loopback_without_login_is_info(void)
{
    struct scan *s = scan_new();
    uint16_t ports[] = { 11211 };

    scan_proc(s, 10, "memcached -l 127.0.0.1 -U 0 -u memcache");
    scan_sock(s, 10, false, 11211);
    local_verdict(&s->lr, &s->o, ports, 1, &s->v);
    CHECK(has(&s->v, FINDING_LOCAL_NO_AUTH, SEV_INFO));
    CHECK_EQ_INT(verdict_exit(&s->v), AUDIT_EXIT_CLEAR);
    CHECK(s->lr.fix[0] == '\0');
    /* the same on every address is a finding */
    s->socks[0].loopback = false;
    local_verdict(&s->lr, &s->o, ports, 1, &s->v);
    CHECK(has(&s->v, FINDING_LOCAL_NO_AUTH, SEV_LOW));
    CHECK(has(&s->v, FINDING_LOCAL_PUBLIC_BIND, -1));
    free(s);
}

static void test_verdict_unseen_owner_is_not_clean(void)
{
    struct scan *s = scan_new();
    uint16_t ports[] = { 11211 };
    struct local_sock *k = scan_sock(s, -1, true, 5353);

    /* not root: another user's process holds a UDP socket we cannot map */
    s->lr.root = false;
    s->lr.all_visible = false;
    s->lr.ns[0].unreadable = 1;
    local_verdict(&s->lr, &s->o, ports, 1, &s->v);
    CHECK(has(&s->v, FINDING_CHECK_FAILED, -1));
    CHECK_EQ_INT(verdict_exit(&s->v), AUDIT_EXIT_ERROR);
    /* every process readable: no process holds it (a kernel socket) */
    s->lr.ns[0].unreadable = 0;
    local_verdict(&s->lr, &s->o, ports, 1, &s->v);
    CHECK_EQ_INT(verdict_exit(&s->v), AUDIT_EXIT_CLEAR);
    /* not root, a memcached whose flags open that port: inferred owner */
    s->lr.ns[0].unreadable = 1;
    k->port = 11213;
    scan_proc(s, 20, "memcached -U 11213")->fds_readable = false;
    local_verdict(&s->lr, &s->o, ports, 1, &s->v);
    CHECK(has(&s->v, FINDING_LOCAL_UDP_V4, SEV_HIGH));
    CHECK(!has(&s->v, FINDING_LOCAL_UDP_FLAG, -1));
    CHECK(!has(&s->v, FINDING_CHECK_FAILED, -1));
    free(s);
}

static void test_verdict_configs(void)
{
    struct scan *s = scan_new();
    uint16_t ports[] = { 11211 };

    s->lr.nconfs = 1;
    snprintf(s->lr.confs[0].path, sizeof(s->lr.confs[0].path),
             "/etc/memcached.conf");
    CHECK(conf(&s->lr.confs[0].flags, DEBIAN_CONF));
    snprintf(s->lr.installed, sizeof(s->lr.installed), "1.6.18-1");
    local_verdict(&s->lr, &s->o, ports, 1, &s->v);
    CHECK_EQ_INT(s->v.n, 0);        /* stock Debian: nothing to say */
    s->lr.installed[0] = '\0';      /* version unknown: UDP may be on */
    local_verdict(&s->lr, &s->o, ports, 1, &s->v);
    CHECK(has(&s->v, FINDING_CONF_UDP, -1));
    snprintf(s->lr.installed, sizeof(s->lr.installed), "1.4.25");
    local_verdict(&s->lr, &s->o, ports, 1, &s->v);
    CHECK(has(&s->v, FINDING_CONF_UDP, -1));
    CHECK(strstr(s->lr.fix, "dport 11211") != NULL);
    /* a unix socket only (-s): no TCP, no UDP, whatever -l and -U say */
    CHECK(conf(&s->lr.confs[0].flags, "-s /run/mc.sock\n"));
    local_verdict(&s->lr, &s->o, ports, 1, &s->v);
    CHECK_EQ_INT(s->v.n, 0);
    free(s);
}

int main(void)
{
    RUN(test_conf_files);
    RUN(test_flags_from_argv);
    RUN(test_listen_loopback);
    RUN(test_udp_default_by_version);
    RUN(test_net_line);
    RUN(test_verdict_flag_without_socket);
    RUN(test_verdict_loopback_without_login_is_info);
    RUN(test_verdict_unseen_owner_is_not_clean);
    RUN(test_verdict_configs);
    return unit_report("audit_local");
}
