/*
 * local_conf: reading memcached's own settings without running it: flags
 * from a command line or a configuration file, what a -l list binds to,
 * and whether the installed version turns UDP on by default. All pure, so
 * the /proc scanner, the verdict and the unit tests share them.
 */
#ifndef HC_AUDIT_LOCAL_CONF_H
#define HC_AUDIT_LOCAL_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* memcached turned UDP off by default in this version. */
#define MC_UDP_OFF_SINCE    "1.5.6"
#define MC_PORT_DEFAULT     11211
#define MC_LISTEN_MAX       256

/* memcached's own flags, from a command line or a configuration file. */
struct mc_flags {
    int64_t udp_port;       /* -U; -1 not given */
    int64_t tcp_port;       /* -p; -1 not given */
    char listen[MC_LISTEN_MAX]; /* -l, comma-joined; "" not given (all) */
    bool sasl;              /* -S */
    bool auth_file;         /* -Y */
    bool ssl;               /* -Z */
    bool unix_socket;       /* -s: a unix socket only, no TCP, no UDP */
    char user[64];          /* -u; "" not given */
};

/* Splits s in place on blanks into at most max tokens; returns how many. */
int local_split(char *s, char **tok, int max);

/* Parses memcached flags from argv-like tokens; other tokens are skipped. */
void mc_flags_parse(struct mc_flags *f, int argc, char *const *argv);

/* Parses a configuration file's text (modified in place): Debian's
 * memcached.conf (one flag per line) or RHEL's sysconfig (PORT=, USER=,
 * MAXCONN=, CACHESIZE=, OPTIONS="..."). Returns false when the text holds
 * none of these, as Debian's /etc/default/memcached (ENABLE_MEMCACHED=yes):
 * then it is not a memcached configuration and f says nothing. */
bool mc_conf_parse(struct mc_flags *f, char *text);

/* True when every address of a -l list is loopback: 127.0.0.0/8, ::1,
 * ::ffff:127.x.y.z or localhost, each optionally as [addr]:port, addr:port
 * or with memcached's notls: prefix. "" (all addresses) is false. */
bool mc_listen_is_loopback(const char *listen);

/* 1 when memcached of this version has UDP on unless -U 0 is given (before
 * 1.5.6), 0 when off, -1 unknown (no version, or not memcached's). */
int mc_udp_default_on(const char *version);

/* The Version: of package pkg in dpkg's status file text; false if it is
 * not there or not installed. */
bool mc_dpkg_version(const char *status, const char *pkg, char *out,
                     size_t cap);

/* Writes the flags as an operator reads them: "-U 0 -l 127.0.0.1", with
 * "-U not set" where memcached's default applies. */
void mc_flags_format(const struct mc_flags *f, char *out, size_t cap);

#endif
