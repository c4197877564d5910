/*
 * local: the advisory's `ps | grep memcached` and `netstat -an | grep udp`
 * done properly on the machine we run on. Processes are found by name,
 * command line and by the protocol their listening sockets speak; sockets
 * come from /proc/net/{tcp,tcp6,udp,udp6} and are mapped to processes
 * through /proc/PID/fd (all of them as root, our own otherwise).
 */
#ifndef HC_AUDIT_LOCAL_H
#define HC_AUDIT_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "audit/verdict.h"

#define LOCAL_PROC_MAX      256
#define LOCAL_SOCK_MAX      4096
#define LOCAL_CONF_MAX      32
#define LOCAL_PROBE_MAX     256     /* TCP listeners asked `version` */
#define LOCAL_PORT_MAX      64
#define LOCAL_CMDLINE_MAX   1024

/* memcached's own flags, from a command line or a configuration file. */
struct mc_flags {
    int64_t udp_port;       /* -U; -1 not given */
    int64_t tcp_port;       /* -p; -1 not given */
    char listen[256];       /* -l; "" not given (all addresses) */
    bool sasl;              /* -S */
    bool auth_file;         /* -Y */
    bool ssl;               /* -Z */
    char user[64];          /* -u; "" not given */
};

struct local_sock {
    char proto[5];          /* tcp, tcp6, udp, udp6 */
    bool udp;
    int family;
    char addr[64];
    uint16_t port;
    bool loopback;
    uint32_t uid;
    uint64_t inode;
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
    bool by_name;
    bool by_protocol;
    struct mc_flags flags;
    char version[AUDIT_VERSION_MAX];
};

struct local_conf {
    char path[256];
    struct mc_flags flags;
};

struct local_report {
    struct local_proc *procs;
    size_t nprocs;
    struct local_sock *socks;
    size_t nsocks;
    struct local_conf confs[LOCAL_CONF_MAX];
    size_t nconfs;
    bool all_visible;       /* could map every socket to its process */
    char error[128];        /* "" unless /proc could not be read */
};

/* Scans the machine. ports: the ports that count as memcached ports for
 * sockets whose owner is not visible (11211 plus the targets'). Returns 0,
 * or -1 with lr->error set. */
int local_audit(struct local_report *lr, const struct audit_opts *o,
                const uint16_t *ports, size_t nports,
                const char *const *extra_conf, size_t nextra);
void local_free(struct local_report *lr);
void local_verdict(const struct local_report *lr, const struct audit_opts *o,
                   const uint16_t *ports, size_t nports, struct verdict *v);

/* Pure: parses memcached flags from argv-like tokens (for tests and the
 * config readers). */
void mc_flags_parse(struct mc_flags *f, int argc, char *const *argv);
/* Pure: one /proc/net/{tcp,udp}[6] line; returns 0 if it is a listener
 * (TCP LISTEN, or UDP unconnected) and fills s. */
int local_parse_net_line(const char *line, bool v6, bool udp,
                         struct local_sock *s);

#endif
