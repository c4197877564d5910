/*
 * settings: the server's configuration, filled from memcached-compatible
 * command-line flags. Defaults are the safe ones: loopback only, UDP off.
 * The option table in settings.c drives parsing, `-h` and `stats settings`.
 *
 * Thread rule: `settings` is written only by settings_parse() and main()
 * before the workers start, and is read-only afterwards, with one
 * exception: a field a command changes at run time is an _Atomic (today
 * `maxbytes`, which `cache_memlimit` sets while `stats` and /metrics read it;
 * `detail_enabled`, which `stats detail on|off` sets and requests read;
 * `verbosity` sets core/log's atomic log_verbosity, never `verbose`, and
 * `stats settings` shows log_verbosity).
 */
#ifndef HC_SERVER_SETTINGS_H
#define HC_SERVER_SETTINGS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/tls.h"
#include "policy/acl.h"
#include "policy/udp_guard.h"
#include "storage/crawl.h"
#include "storage/flash_conf.h"

#define HC_VERSION          "0.1.0"
/* The memcached release whose behaviour hardcached follows. `version` (text
 * and binary), `stats`' version and the first line of -V and -h say it
 * alone, as memcached does: clients parse it as a version number (Perl's
 * version->parse rejects "1.6.45-hardcached-0.1.0"). hardcached's own
 * version is -V's second line, the start-up line and `stats`'
 * hardcached_version. */
#define HC_COMPAT_VERSION   "1.6.45"
#define HC_VERSION_STRING   HC_COMPAT_VERSION
#define HC_IDENTITY         "hardcached " HC_VERSION " (memcached " HC_COMPAT_VERSION " compatible)"

#define SETTINGS_LISTEN_MAX 32
#define EX_USAGE_CODE       64   /* sysexits.h EX_USAGE, as memcached */

/* -B, and a listener's proto[...] prefix (LISTEN_PROTO_INHERIT: -B's). */
enum settings_proto { PROTO_AUTO, PROTO_ASCII, PROTO_BINARY, PROTO_INHERIT };

/* A listener's TLS, memcached's -l prefixes: none (-Z's default), notls:
 * plain on a TLS server, btls: TLS without client certificates, mtls: a
 * client certificate is required (and verified against ssl_ca_cert). */
enum listen_tls { LISTEN_TLS_DEFAULT, LISTEN_TLS_OFF, LISTEN_TLS_BASIC,
                  LISTEN_TLS_PEER };

#define LISTEN_TAG_MAX 8   /* memcached: "between 1 and 8 characters" */

/* One -l entry: "[notls:|btls:|mtls:][proto[P]:][tag[NAME]:]ADDR[:PORT]". */
struct listen_conf {
    const char         *addr;    /* "host", "host:port", "[v6]:port" */
    enum listen_tls     tls;
    enum settings_proto proto;
    char                tag[LISTEN_TAG_MAX + 1]; /* "" when none */
};

struct settings {
    int      port;               /* -p */
    int      udp_port;           /* -U (0: off, the default) */
    /* UDP amplification policy (-o udp_*), see policy/udp_guard.h */
    struct udp_guard_config udp_guard;
    /* Allow list (--allow, --allow-file); NULL when none was given. */
    const struct acl *acl;
    /* --disable-protected-mode: serve a non-loopback address with neither
     * login nor allow list. */
    bool     protected_mode_off;
    struct listen_conf listen[SETTINGS_LISTEN_MAX]; /* -l entries */
    int      nlisten;
    const char *listen_arg;      /* -l as given, for stats settings */
    const char *unix_path;       /* -s */
    int      unix_mask;          /* -a */
    _Atomic uint64_t maxbytes;   /* -m, in bytes; then `cache_memlimit` */
    bool     evict;              /* !-M */
    int      maxconns;           /* -c */
    int      threads;            /* -t */
    int      reqs_per_event;     /* -R */
    uint32_t item_size_max;      /* -I */
    bool     use_cas;            /* !-C */
    bool     large_pages;        /* -L: segments on transparent huge pages */
    const char *memory_file;     /* -e: restartable cache file (storage/persist.h) */
    bool     flush_enabled;      /* !-F */
    bool     dump_enabled;       /* !-X: key dumps (server/dump.h), stats detail */
    bool     watch_enabled;      /* !-W: `watch` (server/watch.h) */
    _Atomic bool detail_enabled; /* -D, then `stats detail on|off` */
    struct crawl_config crawler; /* -o [no_]lru_crawler, lru_crawler_sleep, _tocrawl */
    bool     shutdown_enabled;   /* -A */
    int      verbose;            /* -v, -vv, -vvv */
    const char *user;            /* -u */
    bool     daemonize;          /* -d */
    const char *pidfile;         /* -P */
    bool     lock_memory;        /* -k */
    bool     coredumps;          /* -r */
    int      backlog;            /* -b */
    uint32_t idle_timeout;       /* -o idle_timeout */
    unsigned hashpower;          /* -o hashpower */
    bool     relaxed_privileges; /* -o relaxed_privileges */
    bool     track_sizes;        /* -o track_sizes: `stats sizes` histogram */
    bool     maxconns_fast;      /* -o maxconns_fast (always on) */
    bool     sandbox;            /* seccomp allow-list; -o no_sandbox for debugging */
    /* Clients must log in before anything but `version` is served (on every
     * listener and protocol; set when -S or -Y is given). The UDP policy
     * reads it too. */
    bool     auth_required;
    int      metrics_port;       /* -o metrics_port (0: no /metrics endpoint) */
    const char *metrics_listen;  /* -o metrics_listen (NULL: loopback) */
    bool     sasl;               /* -S: binary SASL logins */
    bool     ascii_auth;         /* -Y: ascii logins */
    const char *auth_file;       /* -Y file, else $MEMCACHED_SASL_PWDB for -S */
    struct tls_config tls;       /* -Z and -o ssl_* */
    struct flash_conf flash;     /* -o ext_path, ext_* (flash tier) */
    enum settings_proto protocol; /* -B */
    int      napi_ids;           /* -N: accepted; no NAPI steering here */
    /* -f, -n, -D: memcached's slab and prefix-stats knobs, accepted and
     * shown in `stats settings` (no slab classes or prefix stats here) */
    double   growth_factor;
    int      chunk_size;
    char     prefix_delimiter;
    /* $MEMCACHED_PORT_FILENAME: where the bound ports are written. */
    const char *port_filename;
};

extern struct settings settings;

/* What settings_parse() wants the caller to do. */
enum settings_action { SETTINGS_RUN, SETTINGS_EXIT_OK, SETTINGS_ERROR };

/* Longest message about a bad flag. */
#define SETTINGS_ERR_MAX    512

/* Fill `settings` with defaults, then apply argv. Prints help/version and
 * returns SETTINGS_EXIT_OK for -h/-V/-i; on a bad flag prints a message and
 * exits with EX_USAGE_CODE. */
enum settings_action settings_parse(int argc, char **argv);

/* The same without exiting (fuzzer, tests): on a bad flag returns
 * SETTINGS_ERROR with the message in err. argv's strings are split in
 * place and `settings` points into them afterwards. Not thread-safe. */
enum settings_action settings_try_parse(int argc, char **argv, char *err,
                                        size_t errlen);

struct stats_sink;
/* Emit every `stats settings` value into s, in memcached's order (the
 * caller ends the list). */
void settings_each_stat(const struct stats_sink *s);

#endif
