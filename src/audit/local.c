/*
 * local: /proc scanning. Every file read is bounded, every number goes
 * through strnum or the hex reader here, and a process that vanishes while
 * we look at it is simply skipped.
 */
#include "audit/local.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/target.h"
#include "core/strnum.h"

#define LOCAL_FILE_MAX      (64 * 1024)
#define LOCAL_PROBE_MS      500
#define LOCAL_ARGV_MAX      128

/* Where memcached's flags live. Not /etc/default/memcached: on Debian it
 * only says whether to start (ENABLE_MEMCACHED=yes). */
static const char *const default_confs[] = {
    "/etc/memcached.conf", "/etc/memcached_*.conf", "/etc/memcached/*.conf",
    "/etc/sysconfig/memcached",
    "/usr/local/etc/memcached.conf",
};

/* Reads at most cap-1 bytes of a file; returns the length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t len = 0;

    if (fd < 0)
        return -1;
    while (len < cap - 1) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

static bool hex_u32(const char *s, size_t len, uint32_t *out)
{
    uint32_t v = 0;

    if (len == 0 || len > 8)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

int local_parse_net_line(const char *line, bool v6, bool udp,
                         struct local_sock *s)
{
    char copy[512];
    char *tok[12], *colon;
    int n;
    uint32_t st, port, uid, w;
    uint64_t inode;
    uint8_t a[16];

    if (strlen(line) >= sizeof(copy))
        return -1;
    memcpy(copy, line, strlen(line) + 1);
    n = local_split(copy, tok, 12);
    if (n < 10)
        return -1;
    colon = strchr(tok[1], ':');
    if (colon == NULL || !hex_u32(tok[3], strlen(tok[3]), &st) ||
        !hex_u32(colon + 1, strlen(colon + 1), &port) || port > 65535 ||
        !strnum_u32(tok[7], strlen(tok[7]), &uid) ||
        !strnum_u64(tok[9], strlen(tok[9]), &inode))
        return -1;
    if (udp ? st != 0x07 : st != 0x0A)
        return -1;
    if ((size_t)(colon - tok[1]) != (v6 ? 32u : 8u))
        return -1;
    for (int i = 0; i < (v6 ? 4 : 1); i++) {
        if (!hex_u32(tok[1] + 8 * i, 8, &w))
            return -1;
        memcpy(a + 4 * i, &w, 4);   /* the kernel prints the raw word */
    }
    memset(s, 0, sizeof(*s));
    snprintf(s->proto, sizeof(s->proto), "%s%s", udp ? "udp" : "tcp",
             v6 ? "6" : "");
    s->udp = udp;
    s->family = v6 ? AF_INET6 : AF_INET;
    inet_ntop(s->family, a, s->addr, sizeof(s->addr));
    s->port = (uint16_t)port;
    s->uid = uid;
    s->inode = inode;
    s->pid = -1;
    s->loopback = v6 ? (memcmp(a, &in6addr_loopback, 16) == 0 ||
                        (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0 &&
                         a[12] == 127))
                     : a[0] == 127;
    return 0;
}

static int read_net(struct local_report *lr, const char *path, bool v6,
                    bool udp, int ns)
{
    FILE *f = fopen(path, "r");
    char line[512];

    if (f == NULL)
        return errno == ENOENT ? 0 : -1;   /* no IPv6: fine */
    if (fgets(line, sizeof(line), f) == NULL) {     /* header */
        fclose(f);
        return 0;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        struct local_sock s;
        if (local_parse_net_line(line, v6, udp, &s) != 0)
            continue;
        if (lr->nsocks == LOCAL_SOCK_MAX) {
            lr->truncated = true;
            break;
        }
        s.ns = ns;
        lr->socks[lr->nsocks++] = s;
    }
    fclose(f);
    return 0;
}

/* The namespace a process lives in, by the inode of its net/udp file;
 * -1 when the process is gone or hidden from us. */
static int ns_of(const struct local_report *lr, int pid, struct stat *st)
{
    char path[64];

    snprintf(path, sizeof(path), "/proc/%d/net/udp", pid);
    if (stat(path, st) != 0)
        return -1;
    for (size_t i = 0; i < lr->nns; i++)
        if (lr->ns[i].dev == (uint64_t)st->st_dev &&
            lr->ns[i].ino == (uint64_t)st->st_ino)
            return (int)i;
    return -2;      /* not seen yet */
}

/* Reads the listening sockets of pid's namespace the first time we meet
 * it. Returns the namespace's index, or -1 (gone, hidden, table full). */
static int ns_visit(struct local_report *lr, int pid, const struct stat *own)
{
    static const struct { const char *name; bool v6, udp; } nets[] = {
        { "tcp", false, false }, { "tcp6", true, false },
        { "udp", false, true }, { "udp6", true, true },
    };
    struct stat st;
    struct local_ns *n;
    char path[64], link[64];
    ssize_t ll;
    int i = ns_of(lr, pid, &st);

    if (i == -1) {
        if (errno == EACCES || errno == EPERM)
            lr->hidden++;
        return -1;
    }
    if (i >= 0)
        return i;
    if (lr->nns == LOCAL_NS_MAX) {
        lr->truncated = true;
        return -1;
    }
    i = (int)lr->nns++;
    n = &lr->ns[i];
    n->dev = (uint64_t)st.st_dev;
    n->ino = (uint64_t)st.st_ino;
    n->pid = pid;
    n->own = st.st_dev == own->st_dev && st.st_ino == own->st_ino;
    snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
    ll = readlink(path, link, sizeof(link) - 1);
    if (ll > 0)
        snprintf(n->label, sizeof(n->label), "%.*s", (int)ll, link);
    else
        snprintf(n->label, sizeof(n->label), "of pid %d", pid);
    for (size_t k = 0; k < sizeof(nets) / sizeof(nets[0]); k++) {
        snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, nets[k].name);
        if (read_net(lr, path, nets[k].v6, nets[k].udp, i) != 0 &&
            errno != ESRCH && errno != ENOENT)
            lr->hidden++;
    }
    return i;
}

static int cmp_inode(const void *a, const void *b)
{
    const struct local_sock *x = a, *y = b;

    return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* Orders sockets by owner, then address, for reports and de-duplication. */
static int cmp_owner(const void *a, const void *b)
{
    const struct local_sock *x = a, *y = b;
    int c;

    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if ((c = strcmp(x->proto, y->proto)) != 0)
        return c;
    if ((c = strcmp(x->addr, y->addr)) != 0)
        return c;
    return x->port < y->port ? -1 : x->port > y->port;
}

static bool parse_pid(const char *s, int *pid)
{
    uint32_t v;

    if (!strnum_u32(s, strlen(s), &v) || v == 0 || v > 0x3fffffff)
        return false;
    *pid = (int)v;
    return true;
}

/* Finds every network namespace a process lives in and reads its
 * sockets, then maps socket inodes to pids. A process whose fds we cannot
 * read (not root) is counted against its namespace: a socket there without
 * an owner may be its. Returns false if /proc cannot be listed. */
static bool scan_procs(struct local_report *lr)
{
    DIR *d = opendir("/proc"), *fdd;
    struct dirent *e, *fe;
    struct stat own;

    if (d == NULL || stat("/proc/self/net/udp", &own) != 0) {
        if (d != NULL)
            closedir(d);
        return false;
    }
    while ((e = readdir(d)) != NULL) {
        int pid;
        if (parse_pid(e->d_name, &pid))
            (void)ns_visit(lr, pid, &own);
    }
    qsort(lr->socks, lr->nsocks, sizeof(*lr->socks), cmp_inode);
    lr->all_visible = true;
    rewinddir(d);
    while ((e = readdir(d)) != NULL) {
        char path[300], link[64];
        int pid, ns;
        struct stat st;

        if (!parse_pid(e->d_name, &pid))
            continue;
        snprintf(path, sizeof(path), "/proc/%d/fd", pid);
        fdd = opendir(path);
        if (fdd == NULL) {
            if (errno == EACCES && (ns = ns_of(lr, pid, &st)) >= 0) {
                lr->ns[ns].unreadable++;
                lr->all_visible = false;
            }
            continue;
        }
        while ((fe = readdir(fdd)) != NULL) {
            char lp[600];
            ssize_t n;
            uint64_t ino;
            struct local_sock key, *s;

            if (fe->d_name[0] == '.')
                continue;
            snprintf(lp, sizeof(lp), "%s/%s", path, fe->d_name);
            n = readlink(lp, link, sizeof(link) - 1);
            if (n < 10 || memcmp(link, "socket:[", 8) != 0 ||
                link[n - 1] != ']')
                continue;
            if (!strnum_u64(link + 8, (size_t)n - 9, &ino))
                continue;
            key.inode = ino;
            s = bsearch(&key, lr->socks, lr->nsocks, sizeof(*s), cmp_inode);
            if (s != NULL)
                s->pid = pid;
        }
        closedir(fdd);
    }
    closedir(d);
    return true;
}

static bool name_matches(const char *s)
{
    const char *base = strrchr(s, '/');

    base = base ? base + 1 : s;
    if (strstr(base, "hardcache-audit") != NULL)
        return false;
    return strstr(base, "memcache") != NULL || strstr(base, "hardcached") != NULL;
}

static void uid_name(uint32_t uid, char *buf, size_t cap)
{
    struct passwd pw, *res = NULL;
    char tmp[1024];

    if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res != NULL)
        snprintf(buf, cap, "%s", pw.pw_name);
    else
        snprintf(buf, cap, "%u", uid);
}

static struct local_proc *proc_find(struct local_report *lr, int pid)
{
    for (size_t i = 0; i < lr->nprocs; i++)
        if (lr->procs[i].pid == pid)
            return &lr->procs[i];
    return NULL;
}

/* Reads a process; returns NULL if it is gone or the table is full. */
static struct local_proc *proc_load(struct local_report *lr, int pid)
{
    char path[64], buf[LOCAL_CMDLINE_MAX], status[4096];
    char *argv[LOCAL_ARGV_MAX] = { NULL }, *uidl;
    struct local_proc *p;
    ssize_t n;
    int argc = 0;
    struct stat st;

    if ((p = proc_find(lr, pid)) != NULL)
        return p;
    if (lr->nprocs == LOCAL_PROC_MAX) {
        lr->truncated = true;
        return NULL;
    }
    p = &lr->procs[lr->nprocs];
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    snprintf(path, sizeof(path), "/proc/%d/comm", pid);
    if (read_small(path, p->comm, sizeof(p->comm)) < 0)
        return NULL;
    p->comm[strcspn(p->comm, "\n")] = '\0';
    snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
    n = read_small(path, buf, sizeof(buf));
    if (n < 0) {
        if (errno == EACCES || errno == EPERM)
            lr->hidden++;
        return NULL;
    }
    for (ssize_t i = 0; i < n && argc < LOCAL_ARGV_MAX; ) {
        argv[argc++] = buf + i;
        i += (ssize_t)strlen(buf + i) + 1;
    }
    mc_flags_parse(&p->flags, argc, argv);
    for (int i = 0; i < argc; i++) {
        size_t l = strlen(p->cmdline);
        snprintf(p->cmdline + l, sizeof(p->cmdline) - l, "%s%s",
                 i ? " " : "", argv[i]);
    }
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    if (read_small(path, status, sizeof(status)) < 0)
        return NULL;
    uidl = strstr(status, "\nUid:");
    if (uidl != NULL) {
        char *tok[5], line[128];
        size_t l = strcspn(uidl + 1, "\n");
        if (l < sizeof(line)) {
            memcpy(line, uidl + 1, l);
            line[l] = '\0';
            if (local_split(line, tok, 5) >= 3)
                (void)strnum_u32(tok[2], strlen(tok[2]), &p->uid);
        }
    }
    uid_name(p->uid, p->user, sizeof(p->user));
    p->ns = ns_of(lr, pid, &st);
    if (p->ns < 0)
        p->ns = -1;
    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    p->fds_readable = access(path, R_OK | X_OK) == 0;
    p->by_name = name_matches(p->comm) || (argc > 0 && name_matches(argv[0]));
    lr->nprocs++;
    return p;
}

static void loopback_for(const struct local_sock *s, struct target *t)
{
    uint8_t a[16];

    memset(t, 0, sizeof(*t));
    if (s->family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&t->addr;
        if (inet_pton(AF_INET, s->addr, a) != 1 || memcmp(a, "\0\0\0\0", 4) == 0)
            inet_pton(AF_INET, "127.0.0.1", a);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(s->port);
        memcpy(&sin->sin_addr, a, 4);
        t->addrlen = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&t->addr;
        if (inet_pton(AF_INET6, s->addr, a) != 1 ||
            memcmp(a, &in6addr_any, 16) == 0)
            memcpy(a, &in6addr_loopback, 16);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(s->port);
        memcpy(&sin6->sin6_addr, a, 16);
        t->addrlen = sizeof(*sin6);
    }
}

/* Asks every TCP listener `version`, all at once, for LOCAL_PROBE_MS. */
static void probe_listeners(struct local_report *lr)
{
    struct pollfd pfd[LOCAL_PROBE_MAX];
    size_t idx[LOCAL_PROBE_MAX];
    bool sent[LOCAL_PROBE_MAX];
    nfds_t n = 0;
    uint64_t deadline = audit_now_ns() + LOCAL_PROBE_MS * 1000000ull;

    for (size_t i = 0; i < lr->nsocks && n < LOCAL_PROBE_MAX; i++) {
        struct target t;
        int fd;
        if (lr->socks[i].udp || lr->socks[i].pid == (int)getpid() ||
            !lr->ns[lr->socks[i].ns].own)
            continue;       /* another namespace's loopback is not ours */
        loopback_for(&lr->socks[i], &t);
        fd = socket(lr->socks[i].family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        if (connect(fd, (struct sockaddr *)&t.addr, t.addrlen) != 0 &&
            errno != EINPROGRESS) {
            close(fd);
            continue;
        }
        pfd[n].fd = fd;
        pfd[n].events = POLLOUT;
        sent[n] = false;
        idx[n++] = i;
    }
    for (;;) {
        uint64_t now = audit_now_ns();
        int left = 0;
        for (nfds_t i = 0; i < n; i++)
            left += pfd[i].fd >= 0;
        if (left == 0 || now >= deadline)
            break;
        if (poll(pfd, n, (int)((deadline - now) / 1000000 + 1)) <= 0)
            continue;
        for (nfds_t i = 0; i < n; i++) {
            char buf[256];
            ssize_t r;
            struct local_sock *s = &lr->socks[idx[i]];
            if (pfd[i].fd < 0 || pfd[i].revents == 0)
                continue;
            if (!sent[i]) {
                sent[i] = true;
                pfd[i].events = POLLIN;
                if (send(pfd[i].fd, "version\r\n", 9, MSG_NOSIGNAL) == 9)
                    continue;
            } else if ((r = recv(pfd[i].fd, buf, sizeof(buf) - 1, 0)) > 0) {
                buf[r] = '\0';
                if (r > 8 && memcmp(buf, "VERSION ", 8) == 0) {
                    s->speaks_memcached = true;
                    snprintf(s->version, sizeof(s->version), "%.*s",
                             (int)strcspn(buf + 8, "\r\n"), buf + 8);
                }
            }
            close(pfd[i].fd);
            pfd[i].fd = -1;
        }
    }
    for (nfds_t i = 0; i < n; i++)
        if (pfd[i].fd >= 0)
            close(pfd[i].fd);
}

static void conf_add_file(struct local_report *lr, const char *path)
{
    char buf[LOCAL_FILE_MAX];
    struct local_conf *c;

    if (read_small(path, buf, sizeof(buf)) < 0)
        return;
    if (lr->nconfs == LOCAL_CONF_MAX) {
        lr->truncated = true;
        return;
    }
    c = &lr->confs[lr->nconfs];
    if (!mc_conf_parse(&c->flags, buf))
        return;     /* not memcached's: /etc/default/memcached */
    snprintf(c->path, sizeof(c->path), "%s", path);
    lr->nconfs++;
}

/* The installed memcached's version, for the UDP default a configuration
 * without -U gets: dpkg's status file, read a stanza at a time (it is
 * megabytes), else the version a running memcached answered. */
static void installed_version(struct local_report *lr, const char *sysroot)
{
    char path[512], line[1024], stanza[8192];
    size_t sl = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/var/lib/dpkg/status", sysroot);
    if ((f = fopen(path, "r")) != NULL) {
        bool eof = false;
        while (!eof) {
            eof = fgets(line, sizeof(line), f) == NULL;
            if (eof || line[0] == '\n') {
                stanza[sl] = '\0';
                if (mc_dpkg_version(stanza, "memcached", lr->installed,
                                    sizeof(lr->installed))) {
                    snprintf(lr->installed_from, sizeof(lr->installed_from),
                             "dpkg");
                    break;
                }
                sl = 0;
            } else if (sl + strlen(line) < sizeof(stanza)) {
                memcpy(stanza + sl, line, strlen(line));
                sl += strlen(line);
            }
        }
        fclose(f);
        if (lr->installed[0] != '\0')
            return;
    }
    for (size_t i = 0; i < lr->nprocs; i++)
        if (mc_udp_default_on(lr->procs[i].version) >= 0) {
            snprintf(lr->installed, sizeof(lr->installed), "%s",
                     lr->procs[i].version);
            snprintf(lr->installed_from, sizeof(lr->installed_from),
                     "running pid %d", lr->procs[i].pid);
            return;
        }
}

int local_audit(struct local_report *lr, const struct audit_opts *o,
                const char *sysroot,
                const char *const *extra_conf, size_t nextra)
{
    DIR *d;
    struct dirent *e;

    memset(lr, 0, sizeof(*lr));
    lr->root = geteuid() == 0;
    lr->procs = calloc(LOCAL_PROC_MAX, sizeof(*lr->procs));
    lr->socks = calloc(LOCAL_SOCK_MAX, sizeof(*lr->socks));
    if (lr->procs == NULL || lr->socks == NULL) {
        snprintf(lr->error, sizeof(lr->error), "out of memory");
        return -1;
    }
    if (!scan_procs(lr)) {
        snprintf(lr->error, sizeof(lr->error), "/proc: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < lr->nsocks; i++) {
        char path[64];
        struct local_sock *s = &lr->socks[i];
        if (s->pid <= 0)
            continue;
        snprintf(path, sizeof(path), "/proc/%d/comm", s->pid);
        if (read_small(path, s->owner, sizeof(s->owner)) >= 0)
            s->owner[strcspn(s->owner, "\n")] = '\0';
    }
    qsort(lr->socks, lr->nsocks, sizeof(*lr->socks), cmp_owner);
    if (o->local_probe)
        probe_listeners(lr);
    /* processes by name and command line */
    d = opendir("/proc");
    if (d == NULL) {
        snprintf(lr->error, sizeof(lr->error), "/proc: %s", strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        char path[64], comm[64], cmd[256];
        int pid;
        if (!parse_pid(e->d_name, &pid) || pid == (int)getpid())
            continue;
        snprintf(path, sizeof(path), "/proc/%d/comm", pid);
        if (read_small(path, comm, sizeof(comm)) < 0)
            continue;
        comm[strcspn(comm, "\n")] = '\0';
        snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
        if (read_small(path, cmd, sizeof(cmd)) < 0)
            cmd[0] = '\0';
        if (name_matches(comm) || name_matches(cmd))
            (void)proc_load(lr, pid);
    }
    closedir(d);
    /* processes by the protocol their sockets speak */
    for (size_t i = 0; i < lr->nsocks; i++) {
        struct local_sock *s = &lr->socks[i];
        struct local_proc *p;
        if (!s->speaks_memcached || s->pid < 0)
            continue;
        p = proc_load(lr, s->pid);
        if (p == NULL)
            continue;
        p->by_protocol = true;
        if (p->version[0] == '\0')
            snprintf(p->version, sizeof(p->version), "%s", s->version);
    }
    for (size_t i = 0; i < lr->nsocks; i++) {
        struct local_proc *p = lr->socks[i].pid > 0 ?
                               proc_find(lr, lr->socks[i].pid) : NULL;
        if (p != NULL && p->version[0] == '\0' && lr->socks[i].version[0])
            snprintf(p->version, sizeof(p->version), "%s",
                     lr->socks[i].version);
    }
    for (size_t i = 0; i < sizeof(default_confs) / sizeof(default_confs[0]);
         i++) {
        char pattern[512];
        glob_t g;
        snprintf(pattern, sizeof(pattern), "%s%s", sysroot, default_confs[i]);
        if (glob(pattern, 0, NULL, &g) != 0)
            continue;
        for (size_t k = 0; k < g.gl_pathc; k++)
            conf_add_file(lr, g.gl_pathv[k]);
        globfree(&g);
    }
    for (size_t i = 0; i < nextra; i++)
        conf_add_file(lr, extra_conf[i]);
    installed_version(lr, sysroot);
    return 0;
}

void local_free(struct local_report *lr)
{
    free(lr->procs);
    free(lr->socks);
    lr->procs = NULL;
    lr->socks = NULL;
}

