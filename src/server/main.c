/*
 * main: start-up in the order that keeps the server safe — parse flags,
 * refuse root without -u, bind (loopback only unless told otherwise), say
 * what we listen on, daemonize, drop privileges, then start the workers.
 * The main thread afterwards only keeps the clock and waits for signals.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/hash.h"
#include "core/log.h"
#include "net/listen.h"
#include "net/tls.h"
#include "server/metrics.h"
#include "server/process_binary.h"
#include "server/process_text.h"
#include "policy/auth.h"
#include "server/park.h"
#include "server/sandbox.h"
#include "server/settings.h"
#include "server/stats.h"
#include "server/stats_detail.h"
#include "server/watch_log.h"
#include "server/udp.h"
#include "server/worker.h"
#include "storage/flash_compact.h"
#include "storage/flash_recover.h"
#include "storage/flash_tier.h"
#include "storage/crawl.h"
#include "storage/store.h"

#define LISTENERS_MAX 64
#define EX_OSERR_CODE 71   /* sysexits.h: memcached exits so when it cannot bind */
/* -p -1, -U -1: a port the kernel picks */
#define BIND_PORT(p)  ((p) < 0 ? 0 : (p))
/* Descriptors kept beyond -c for listeners, logs and the like. */
#define FD_RESERVE    64

static struct listener listeners[LISTENERS_MAX];
static int nlisteners;

/* The protocols this server speaks; the first byte of a client picks one
 * (the binary magic, else text), as memcached decides. A listener limited
 * to one protocol (-B, -l proto[...]) gets a set of one: an ascii
 * listener reads binary bytes as text, as memcached does, and a binary
 * one closes a client whose first byte is not the binary magic. */
static const struct processor *const processors[] = {
    &binary_processor, &text_processor, NULL,
};
static const struct processor *const ascii_processors[] = { &text_processor, NULL };
static const struct processor *const binary_processors[] = { &binary_processor, NULL };
/* Each listener's set, parallel to listeners[]. */
static const struct processor *const *listener_procs[LISTENERS_MAX];

static const struct processor *const *procs_for(enum settings_proto p)
{
    if (p == PROTO_INHERIT)
        p = settings.protocol;
    return p == PROTO_ASCII ? ascii_processors :
           p == PROTO_BINARY ? binary_processors : processors;
}

/* What a -l entry's prefixes ask of the listeners from..nlisteners just
 * bound for it: TLS (-Z on every TCP listener unless notls:; btls: and
 * mtls: set the client-certificate check) and the protocols (TCP only).
 * A unix socket and UDP stay plain, as in memcached. */
static void configure_listeners(int from, const struct listen_conf *lc)
{
    static const int verify[] = {
        [LISTEN_TLS_DEFAULT] = -1, [LISTEN_TLS_OFF] = -1,
        [LISTEN_TLS_BASIC] = TLS_VERIFY_NONE, [LISTEN_TLS_PEER] = TLS_VERIFY_REQUIRE,
    };

    for (int i = from; i < nlisteners; i++) {
        struct listener *l = &listeners[i];
        l->tls = settings.tls.enabled && !l->udp && l->family != AF_UNIX &&
                 (lc == NULL || lc->tls != LISTEN_TLS_OFF);
        l->tls_verify = l->tls && lc ? verify[lc->tls] : -1;
        /* a datagram picks its protocol by its first byte, whatever -B
         * and proto[...] say (memcached 1.6.45's try_read_command_udp) */
        listener_procs[i] = l->udp ? processors : procs_for(lc ? lc->proto : PROTO_INHERIT);
    }
}

static void open_listeners(void)
{
    char err[256];

    if (settings.unix_path) {
        if (listen_unix(settings.unix_path, settings.unix_mask, settings.backlog,
                        &listeners[0], err, sizeof(err)) < 0)
            log_fatal(EX_OSERR_CODE, "hardcached: %s", err);
        nlisteners = 1;
        configure_listeners(0, NULL);
        return;
    }
    if (settings.port == 0)   /* -p 0: TCP off, -l's ports too (memcached) */
        return;
    if (settings.nlisten == 0) {
        /* the safe default: this machine only */
        if (listen_tcp("127.0.0.1", BIND_PORT(settings.port), settings.backlog, listeners,
                       &nlisteners, LISTENERS_MAX, err, sizeof(err)) < 0)
            log_fatal(EX_OSERR_CODE, "hardcached: %s", err);
        if (listen_tcp("::1", BIND_PORT(settings.port), settings.backlog, listeners,
                       &nlisteners, LISTENERS_MAX, err, sizeof(err)) < 0)
            log_warn("hardcached: no IPv6 loopback (%s); serving 127.0.0.1 only", err);
        configure_listeners(0, NULL);
        return;
    }
    for (int i = 0; i < settings.nlisten; i++) {
        int from = nlisteners;
        if (listen_tcp(settings.listen[i].addr, BIND_PORT(settings.port), settings.backlog, listeners,
                       &nlisteners, LISTENERS_MAX, err, sizeof(err)) < 0)
            log_fatal(EX_OSERR_CODE, "hardcached: %s", err);
        configure_listeners(from, &settings.listen[i]);
    }
}

/* -U: the same addresses as TCP, datagram sockets. */
static void open_udp_listeners(void)
{
    char err[256];

    int from = nlisteners;

    if (settings.udp_port == 0)
        return;
    if (settings.nlisten == 0) {
        if (listen_udp("127.0.0.1", BIND_PORT(settings.udp_port), listeners, &nlisteners,
                       LISTENERS_MAX, err, sizeof(err)) < 0)
            log_fatal(EX_OSERR_CODE, "hardcached: %s", err);
        if (listen_udp("::1", BIND_PORT(settings.udp_port), listeners, &nlisteners,
                       LISTENERS_MAX, err, sizeof(err)) < 0)
            log_warn("hardcached: no IPv6 loopback for UDP (%s)", err);
    } else {
        for (int i = 0; i < settings.nlisten; i++)
            if (listen_udp(settings.listen[i].addr, BIND_PORT(settings.udp_port), listeners,
                           &nlisteners, LISTENERS_MAX, err, sizeof(err)) < 0)
                log_fatal(EX_OSERR_CODE, "hardcached: %s", err);
    }
    configure_listeners(from, NULL);
}

/* $MEMCACHED_PORT_FILENAME, as memcached writes it: one "TCP INET: 11211"
 * line per bound TCP/UDP socket (INET6 for IPv6) into FILE.lck, then
 * renamed to FILE, so a harness that waits for FILE reads it whole (with
 * -p -1 it learns the ports the kernel chose). Nothing for a unix socket. */
static void write_port_file(void)
{
    char tmp[4096];
    FILE *f;

    if (settings.port_filename == NULL || settings.unix_path)
        return;
    snprintf(tmp, sizeof(tmp), "%s.lck", settings.port_filename);
    f = fopen(tmp, "a");
    if (f == NULL) {
        log_warn("Failed to open \"%s\": %s", tmp, strerror(errno));
        return;
    }
    for (int i = 0; i < nlisteners; i++)
        fprintf(f, "%s %s: %d\n", listeners[i].udp ? "UDP" : "TCP",
                listeners[i].family == AF_INET6 ? "INET6" : "INET", listeners[i].port);
    if (fclose(f) != 0 || rename(tmp, settings.port_filename) < 0)
        log_warn("hardcached: cannot write the port file %s: %s",
                 settings.port_filename, strerror(errno));
}

/* Protected mode, as Redis does it: a server reachable from other machines
 * with neither login nor allow list is an open cache. Refuse, and say how
 * to fix it, unless the operator said explicitly that this is wanted. */
static void check_protected_mode(void)
{
    char exposed[LISTEN_NAME_MAX] = "";

    if (settings.auth_required || (settings.acl && settings.acl->n > 0) ||
        settings.protected_mode_off || settings.unix_path || settings.nlisten == 0)
        return;   /* a login, an allow list, or this machine only */
    /* decided before anything is bound: an exposed address is never
     * listened on, not even for a moment */
    for (int i = 0; i < settings.nlisten && exposed[0] == '\0'; i++) {
        const struct listen_conf *lc = &settings.listen[i];
        /* mutual TLS is a login: only holders of a certificate get in
         * (the listener's mtls:, or the server's ssl_verify_mode); UDP
         * on the same address has no TLS */
        int verify = lc->tls == LISTEN_TLS_PEER ? TLS_VERIFY_REQUIRE :
                     lc->tls == LISTEN_TLS_BASIC ? TLS_VERIFY_NONE : settings.tls.verify_mode;
        bool mtls = settings.tls.enabled && lc->tls != LISTEN_TLS_OFF &&
                    verify >= TLS_VERIFY_REQUIRE;
        char name[LISTEN_NAME_MAX];
        if ((!mtls || settings.udp_port != 0) &&
            listen_exposed(lc->addr, BIND_PORT(settings.port), name, sizeof(name)) == 1)
            memcpy(exposed, name, sizeof(exposed));
    }
    if (exposed[0] == '\0')
        return;
    log_fatal(EX_USAGE_CODE,
              "hardcached: protected mode: refusing to serve %s, an address other "
              "machines can reach, with no login and no allow list: anyone who "
              "reaches it could read, change and erase the cache%s.\n"
              "Fix it in one of these ways, then restart:\n"
              "  1. serve this machine only: drop -l (loopback is the default) or "
              "use -l 127.0.0.1\n"
              "  2. allow only your clients: --allow 10.0.0.0/8,2001:db8::/32 or "
              "--allow-file /etc/hardcached/allow\n"
              "  3. require a login: -S (SASL) or -Y <authfile> (ascii auth), or a "
              "client certificate: -Z -o ssl_verify_mode=2,ssl_ca_cert=<file>\n"
              "  4. if a firewall already closes this address to everyone else "
              "and you want an open server: --disable-protected-mode",
              exposed, settings.udp_port ? ", and use it to reflect UDP traffic" : "");
}

static void announce(void)
{
    char line[2048];
    size_t n = (size_t)snprintf(line, sizeof(line), "hardcached %s listening on", HC_VERSION);

    for (int i = 0; i < nlisteners && n < sizeof(line); i++)
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%s %s %s", i ? "," : "",
                              listeners[i].family == AF_UNIX ? "unix" :
                              listeners[i].udp ? "udp" : listeners[i].tls ? "tls" : "tcp",
                              listeners[i].name);
    if (n < sizeof(line) && settings.port == 0 && settings.unix_path == NULL)
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%s (tcp off: -p 0)",
                              nlisteners ? "" : " nothing");
    if (n < sizeof(line) && settings.udp_port == 0)
        snprintf(line + n, sizeof(line) - n, " (udp off)");
    else if (n < sizeof(line))
        snprintf(line + n, sizeof(line) - n, " (udp: replies to sources without a "
                 "TCP connection in the last %us are at most %u%% of the request)",
                 settings.udp_guard.window_s, settings.udp_guard.baf_percent);
    log_warn("%s", line);
    if (settings.udp_port && settings.udp_guard.baf_percent > 100)
        log_warn("WARNING: -o udp_baf_percent=%u: replies to unvalidated UDP sources "
                 "may be %u.%02ux their requests: this server amplifies reflection "
                 "attacks", settings.udp_guard.baf_percent,
                 settings.udp_guard.baf_percent / 100, settings.udp_guard.baf_percent % 100);
    if (settings.acl && settings.acl->n > 0)
        log_warn("hardcached: allow list of %zu entries: other addresses are "
                 "closed (TCP) or dropped (UDP)", settings.acl->n);
    for (int i = 0; i < nlisteners; i++)
        if (!listeners[i].loopback)
            log_warn("WARNING: listening on non-loopback address %s: anyone who can "
                     "reach it can read and change the cache. Restrict it with a "
                     "firewall, or bind 127.0.0.1 (-l).", listeners[i].name);
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)settings.maxconns + FD_RESERVE;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur >= want)
        return;
    rl.rlim_cur = want;
    if (rl.rlim_max < want)
        rl.rlim_max = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        log_fatal(EX_OSERR_CODE, "hardcached: failed to set rlimit for open files. "
                  "Try starting as root or requesting smaller maxconns value.");
}

static void drop_privileges(void)
{
    struct passwd *pw;

    if (getuid() != 0 && geteuid() != 0)
        return;
    pw = getpwnam(settings.user);
    if (pw == NULL)
        log_fatal(EX_USAGE_CODE, "hardcached: can't find the user %s to switch to", settings.user);
    if (pw->pw_uid == 0)
        return;   /* -u root: explicitly asked to stay root */
    if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
        log_fatal(EX_OSERR_CODE, "hardcached: failed to assume identity of user %s: %s",
                  settings.user, strerror(errno));
    if (setuid(0) == 0)
        log_fatal(EX_OSERR_CODE, "hardcached: privileges could be regained after dropping them");
}

static void daemonize(void)
{
    pid_t pid = fork();
    int fd;

    if (pid < 0)
        log_fatal(EX_OSERR_CODE, "hardcached: fork: %s", strerror(errno));
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        log_fatal(EX_OSERR_CODE, "hardcached: setsid: %s", strerror(errno));
    if (chdir("/") < 0)
        log_fatal(EX_OSERR_CODE, "hardcached: chdir: %s", strerror(errno));
    fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        if (settings.verbose == 0)
            dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
}

static void write_pidfile(void)
{
    FILE *f;

    if (settings.pidfile == NULL)
        return;
    f = fopen(settings.pidfile, "w");
    if (f == NULL) {
        log_warn("hardcached: could not open the pid file %s for writing: %s",
                 settings.pidfile, strerror(errno));
        return;
    }
    fprintf(f, "%ld\n", (long)getpid());
    fclose(f);
}

static void setup_store(void)
{
    char err[FLASH_ERR_MAX + FLASH_PATH_MAX];
    struct store_config cfg = {
        .mem_limit = settings.maxbytes,
        .item_size_max = settings.item_size_max,
        .evict = settings.evict,
        .use_cas = settings.use_cas,
        .hashpower = settings.hashpower,
        .large_pages = settings.large_pages,
        .memory_file = settings.memory_file,
    };

    if (store_setup(&cfg) < 0) {
        if (errno == EPERM)   /* an -e file refused */
            log_fatal(EX_USAGE_CODE, "hardcached: -e: %s", store_setup_error());
        log_fatal(EX_OSERR_CODE, "hardcached: cannot set up the store: %s", strerror(errno));
    }
    if (flash_tier_setup(&settings.flash, err, sizeof(err)) < 0)
        log_fatal(EX_USAGE_CODE, "hardcached: ext_path: %s", err);
    flash_recover_run(&settings.flash);   /* -e: what is on flash, found again */
    /* a ring per worker, made before the sandbox */
    if (flash_tier_prepare_io((unsigned)settings.threads, err, sizeof(err)) < 0)
        log_fatal(EX_OSERR_CODE, "hardcached: %s", err);
    if (settings.large_pages && !store_huge_pages())
        log_warn("hardcached: -L: transparent huge pages are not available here; "
                 "item memory uses normal pages");
}

/* Wait for a stop signal, ticking the clock once a second. Returns true
 * for a graceful stop (SIGTERM, SIGUSR1), false for SIGINT. */
static bool main_loop(void)
{
    sigset_t set;
    struct timespec tick = { .tv_sec = 1, .tv_nsec = 0 };

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGHUP);
    for (;;) {
        int sig = sigtimedwait(&set, NULL, &tick);
        clock_update();
        if (sig == SIGHUP && settings.auth_required) {
            char err[512];
            if (auth_reload(err, sizeof(err)) < 0)
                log_warn("hardcached: password file not reloaded (old entries kept): %s", err);
            else
                log_info("hardcached: password file %s reloaded", settings.auth_file);
        }
        if (sig == SIGHUP && settings.tls.enabled) {
            char err[512];
            if (tls_reload(err, sizeof(err)) < 0)
                log_warn("hardcached: TLS certificate not reloaded (the old one "
                         "keeps serving): %s", err);
            else
                log_info("hardcached: TLS certificate %s reloaded", settings.tls.chain_cert);
        }
        if (sig == SIGINT || sig == SIGTERM || sig == SIGUSR1) {
            log_info("hardcached: signal %d, shutting down", sig);
            return sig != SIGINT;
        }
    }
}

int main(int argc, char **argv)
{
    sigset_t set;

    if (settings_parse(argc, argv) == SETTINGS_EXIT_OK)
        return 0;
    log_verbosity = settings.verbose;
    if ((getuid() == 0 || geteuid() == 0) && settings.user == NULL)
        log_fatal(EX_USAGE_CODE, "can't run as root without the -u switch");
    clock_setup();
    if (hash_setup() < 0)
        log_fatal(EX_OSERR_CODE, "hardcached: no randomness for the hash secret");
    if (settings.coredumps) {
        struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
        (void)setrlimit(RLIMIT_CORE, &rl);
    }
    if (settings.auth_required) {
        char err[512];
        if (auth_setup(settings.auth_file, settings.sasl, settings.ascii_auth, err,
                       sizeof(err)) < 0)
            log_fatal(EX_USAGE_CODE, "hardcached: %s", err);
    }
    if (settings.tls.enabled) {   /* as root: keys may be readable by root only */
        char err[512];
        if (tls_setup(&settings.tls, err, sizeof(err)) < 0)
            log_fatal(EX_USAGE_CODE, "hardcached: %s", err);
        if (settings.tls.min_version < 12)
            log_warn("WARNING: -o ssl_min_version=tlsv1.%d: TLS 1.0 and 1.1 are "
                     "deprecated (RFC 8996) and only served as far as OpenSSL's "
                     "security level here allows", settings.tls.min_version - 10);
    }
    raise_fd_limit();
    check_protected_mode();
    open_listeners();
    open_udp_listeners();
    write_port_file();
    announce();
    {
        char err[256];
        if (metrics_setup(err, sizeof(err)) < 0)
            log_fatal(EX_OSERR_CODE, "hardcached: metrics: %s", err);
    }
    if (settings.daemonize)
        daemonize();
    write_pidfile();
    if (settings.user)
        drop_privileges();
    if (settings.lock_memory && mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
        log_warn("hardcached: failed to lock memory: %s (continuing)", strerror(errno));
    setup_store();
    if (settings.udp_port && udp_setup() < 0)
        log_fatal(EX_OSERR_CODE, "hardcached: cannot set up the UDP source table");

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    /* last step of start-up, before any client is served */
    if (settings.sandbox) {
        int files[FLASH_DEVICES_MAX];   /* pread/pwrite on these only */
        unsigned nfiles = flash_tier_files(files);

        if (sandbox_apply((settings.pidfile && settings.daemonize ? SANDBOX_UNLINK : 0) |
                          (settings.auth_required || settings.tls.enabled ?
                           SANDBOX_READ_FILES : 0) |
                          (flash_tier_uses_uring() ? SANDBOX_URING : 0),
                          files, nfiles) < 0)
            log_fatal(EX_OSERR_CODE, "hardcached: cannot install the seccomp sandbox: %s "
                      "(-o no_sandbox runs without it)", strerror(errno));
    }
    /* stdio, the listeners, each worker's epoll and wake-up eventfd (set
     * before a client can ask) */
    atomic_store(&global_stats.reserved_fds,
                 (uint64_t)(3 + nlisteners + 2 * settings.threads));
    stats_detail_setup(settings.prefix_delimiter);
    watch_log_setup();
    {
        char err[FLASH_ERR_MAX];
        if (flash_tier_start_io(err, sizeof(err)) < 0)
            log_fatal(EX_OSERR_CODE, "hardcached: %s", err);
        if (flash_compact_start() < 0)
            log_fatal(EX_OSERR_CODE, "hardcached: cannot start the flash compaction thread");
    }
    /* before the workers: a client's first lru_crawler finds it running */
    if (crawl_start(&settings.crawler) < 0)
        log_fatal(EX_OSERR_CODE, "hardcached: cannot start the LRU crawler thread");
    if (workers_start(settings.threads, listeners, nlisteners, processors,
                      listener_procs) < 0)
        log_fatal(EX_OSERR_CODE, "hardcached: cannot start worker threads");
    if (metrics_start() < 0)
        log_fatal(EX_OSERR_CODE, "hardcached: cannot start the metrics thread");

    bool graceful = main_loop();

    metrics_teardown();
    workers_stop(graceful);
    crawl_stop();            /* before the tier: it forgets flashed values */
    flash_compact_stop();    /* the same, and moves them */
    flash_tier_teardown();   /* reads in flight end; then what they left */
    park_teardown();
    stats_detail_teardown();
    watch_teardown();
    store_teardown();
    udp_teardown();
    auth_teardown();
    tls_teardown();
    for (int i = 0; i < nlisteners; i++)
        close(listeners[i].fd);
    if (settings.pidfile && settings.daemonize)
        unlink(settings.pidfile);
    return 0;
}
