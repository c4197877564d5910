/*
 * local: the advisory's `ps | grep memcached` and `netstat -an | grep udp`
 * done properly on the machine we run on. Processes are found by name,
 * command line and by the protocol their listening sockets speak; sockets
 * come from /proc/PID/net/{tcp,tcp6,udp,udp6}, once per network namespace
 * (containers included), and are mapped to processes through /proc/PID/fd
 * (all of them as root, our own otherwise).
 */
#ifndef HC_AUDIT_LOCAL_H
#define HC_AUDIT_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "audit/local_conf.h"
#include "audit/verdict.h"

#define LOCAL_PROC_MAX      256
#define LOCAL_SOCK_MAX      4096
#define LOCAL_CONF_MAX      32
#define LOCAL_PROBE_MAX     256     /* TCP listeners asked `version` */
#define LOCAL_PORT_MAX      64
#define LOCAL_CMDLINE_MAX   1024
#define LOCAL_NS_MAX        256     /* network namespaces */
#define LOCAL_FIX_MAX       2048    /* the remediation text */

struct local_sock {
    char proto[5];          /* tcp, tcp6, udp, udp6 */
    bool udp;
    int family;
    char addr[64];
    uint16_t port;
    bool loopback;
    uint32_t uid;
    uint64_t inode;
    int ns;                 /* index in local_report.ns */
    int pid;                /* -1: owner not visible */
    char owner[32];         /* the owner's comm, "" when not visible */
    bool speaks_memcached;  /* TCP listener answered `version` */
    char version[AUDIT_VERSION_MAX];
};

struct local_proc {
    int pid;
    char comm[32];
    char cmdline[LOCAL_CMDLINE_MAX];
    uint32_t uid;           /* effective */
    char user[64];
    int ns;                 /* index in local_report.ns, -1 unknown */
    bool fds_readable;      /* its sockets could be mapped to it */
    bool by_name;
    bool by_protocol;
    struct mc_flags flags;
    char version[AUDIT_VERSION_MAX];
};

struct local_conf {
    char path[256];
    struct mc_flags flags;
};

/* A network namespace, known by the inode of its /proc/PID/net/udp (which
 * anyone may stat, unlike /proc/PID/ns/net). */
struct local_ns {
    uint64_t dev, ino;
    char label[40];         /* "net:[4026532174]", or "of pid N" */
    int pid;                /* the first process seen in it */
    bool own;               /* the auditor's */
    unsigned unreadable;    /* processes in it whose fds we cannot read */
};

struct local_report {
    struct local_proc *procs;
    size_t nprocs;
    struct local_sock *socks;
    size_t nsocks;
    struct local_conf confs[LOCAL_CONF_MAX];
    size_t nconfs;
    struct local_ns ns[LOCAL_NS_MAX];
    size_t nns;
    bool all_visible;       /* could map every socket to its process */
    bool root;              /* ran with euid 0 */
    unsigned hidden;        /* processes whose namespace could not be read */
    bool truncated;         /* a table was full: results incomplete */
    char installed[AUDIT_VERSION_MAX];  /* memcached's version for configs */
    char installed_from[64];            /* where that version was read */
    char fix[LOCAL_FIX_MAX];            /* remediation, set by local_verdict */
    char error[128];        /* "" unless /proc could not be read */
};

/* Scans the machine. sysroot: "" or a directory that stands for / when
 * reading configuration files and dpkg's status (tests, mounted images).
 * Returns 0, or -1 with lr->error set. */
int local_audit(struct local_report *lr, const struct audit_opts *o,
                const char *sysroot,
                const char *const *extra_conf, size_t nextra);
void local_free(struct local_report *lr);
/* Judges a scan (pure: the unit tests build reports by hand). ports: the
 * ports that count as memcached ports for sockets whose owner is not
 * memcached-like or not visible (11211 plus the targets'). Also writes
 * lr->fix, the remediation for what was found. */
void local_verdict(struct local_report *lr, const struct audit_opts *o,
                   const uint16_t *ports, size_t nports, struct verdict *v);
/* Pure: one /proc/net/{tcp,udp}[6] line; returns 0 if it is a listener
 * (TCP LISTEN, or UDP unconnected) and fills s. */
int local_parse_net_line(const char *line, bool v6, bool udp,
                         struct local_sock *s);

#endif
