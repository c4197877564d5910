/*
 * hardcache-audit: finds memcached-protocol servers that can be abused for
 * UDP reflection and amplification (CVE-2018-1000115), on the network and
 * on this machine, and verifies fixes with an exit status a script can use.
 * This file is the command line: one options table, parsed and documented
 * from the same rows.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/engine.h"
#include "audit/local.h"
#include "audit/report.h"
#include "audit/target.h"
#include "audit/verdict.h"
#include "core/strnum.h"

#define EXTRA_CONF_MAX      16

/* X(id, short, long, argument name or NULL, help) */
#define OPTIONS(X) \
    X(FILE,     'f', "file", "FILE", \
      "read targets from FILE (one or more per line, # comments; - is stdin)") \
    X(PORT,     'p', "port", "PORT", "default port for targets without one (11211)") \
    X(LOCAL,    'L', "local", NULL, \
      "audit this machine: processes, sockets, configuration files") \
    X(NOPROBE,  0,   "no-local-probe", NULL, \
      "local audit: do not ask local TCP listeners `version`") \
    X(CONFIG,   0,   "config", "FILE", \
      "local audit: also read this memcached configuration file") \
    X(SYSROOT,  0,   "sysroot", "DIR", \
      "local audit: read configuration files and dpkg's status under DIR, " \
      "not / (a mounted image; tests)") \
    X(VERIFY,   'V', "verify", NULL, \
      "verification mode: only the advisory's verification points count") \
    X(TCPCLOSED, 0,  "expect-tcp-closed", NULL, \
      "a reachable TCP port is a finding (the fix blocked TCP too)") \
    X(AMPLIFY,  0,   "amplify", NULL, \
      "attacker's method, only for your own servers: store a value over TCP, " \
      "fetch it over UDP once and ten times in one datagram, delete it") \
    X(AMPSIZE,  0,   "amplify-size", "BYTES", \
      "value size for --amplify (1000000; capped by item_size_max)") \
    X(CONC,     'c', "concurrency", "N", "targets probed at once (64)") \
    X(RATE,     'r', "rate", "N", \
      "global limit on packets and connects per second (500; 0 = none)") \
    X(TRATE,    0,   "target-rate", "N", \
      "per-target limit on packets and connects per second (50; 0 = none)") \
    X(TIMEOUT,  't', "timeout", "MS", \
      "connect, reply and per-attempt UDP timeout in ms (1000)") \
    X(RETRIES,  'R', "retries", "N", \
      "UDP re-sends and TCP re-connects after a timeout (2)") \
    X(MAXT,     0,   "max-targets", "N", \
      "refuse to expand more targets than this (65536)") \
    X(EXCLUDE,  0,   "exclude", "SPEC", \
      "skip this address or CIDR range (repeatable)") \
    X(EXCLFILE, 0,   "exclude-file", "FILE", \
      "skip the addresses and ranges listed in FILE") \
    X(REQSVC,   0,   "require-service", NULL, \
      "no service at a target (closed, filtered, wrong address) is a " \
      "finding, so a typo cannot pass --verify") \
    X(JSON,     'j', "json", NULL, "JSON lines on stdout (docs/AUDIT.md)") \
    X(COLOR,    0,   "color", "WHEN", "colour the table: auto, always, never") \
    X(VERBOSE,  'v', "verbose", NULL, "table: every probe, every finding") \
    X(QUIET,    'q', "quiet", NULL, "no progress on stderr") \
    X(HELP,     'h', "help", NULL, "this help") \
    X(VERSION,  0,   "version", NULL, "print the version")

enum opt_id {
    OPT_BASE = 256,
#define X(id, s, l, arg, help) OPT_##id,
    OPTIONS(X)
#undef X
};

static const struct option long_opts[] = {
#define X(id, s, l, arg, help) { l, arg ? required_argument : no_argument, \
                                 NULL, OPT_##id },
    OPTIONS(X)
#undef X
    { NULL, 0, NULL, 0 }
};

static const struct { char s; enum opt_id id; } short_map[] = {
#define X(id, s, l, arg, help) { s, OPT_##id },
    OPTIONS(X)
#undef X
};

static void usage(FILE *f)
{
    fprintf(f,
"usage: hardcache-audit [options] TARGET...\n"
"       hardcache-audit --local [options] [TARGET...]\n"
"       hardcache-audit --verify [--expect-tcp-closed] [--local] TARGET...\n"
"\n"
"Finds memcached-protocol servers usable for UDP reflection/amplification\n"
"(CVE-2018-1000115) and checks that fixes hold. TARGET is a host name, an\n"
"IPv4 or IPv6 address with optional port (1.2.3.4:11211, [::1]:11211), or a\n"
"CIDR range (10.0.0.0/24). By default only read-only requests are sent.\n"
"\n"
"options:\n");
#define X(id, s, l, arg, help) \
    fprintf(f, "  %c%c%s--%s%s%s\n      %s\n", s ? '-' : ' ', s ? s : ' ', \
            s ? ", " : "  ", l, arg ? " " : "", arg ? arg : "", help);
    OPTIONS(X)
#undef X
    fprintf(f,
"\n"
"exit status:\n"
"  0  all clear: no finding of severity low or above\n"
"  1  findings (also when some targets could not be checked)\n"
"  2  could not check: usage error, unresolvable target, network or local\n"
"     error, and no findings elsewhere\n"
"\n"
"verification (--verify) checks what the advisory asks, properly: TCP not\n"
"reachable (with --expect-tcp-closed), no UDP reply to any well-formed probe\n"
"(stats, version; total datagrams = 1), and with --local no UDP listener on\n"
"the audited ports, IPv4 or IPv6. The advisory's own verification datagram\n"
"(10 zero bytes) is malformed and reported as proving nothing.\n");
}

static bool json_errors;

/* A fatal error: a line on stderr, and a JSON error object on stdout with
 * --json, so a pipeline never sees an empty stdout. Returns the exit. */
static int fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fatal(const char *fmt, ...)
{
    char msg[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "hardcache-audit: %s\n", msg);
    if (json_errors)
        report_error(stdout, msg, AUDIT_EXIT_ERROR);
    return AUDIT_EXIT_ERROR;
}

static int opt_uint(const char *name, const char *v, uint64_t min,
                    uint64_t max, uint64_t *out)
{
    if (!strnum_u64(v, strlen(v), out) || *out < min || *out > max) {
        fatal("--%s: expected a number from %llu to %llu, got '%s'", name,
              (unsigned long long)min, (unsigned long long)max, v);
        return -1;
    }
    return 0;
}

static void on_sigint(int sig)
{
    (void)sig;
    engine_stop();
}

/* A loopback source for the spoofer's view, new each run (127.64.0.1 to
 * 127.254.255.254), so no earlier TCP connection has validated it. */
static void pick_spoof_src(struct audit_opts *o)
{
    uint8_t b[3] = { 0 };

    if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
        uint64_t t = audit_now_ns();
        memcpy(b, &t, sizeof(b));
    }
    memset(&o->spoof_src, 0, sizeof(o->spoof_src));
    o->spoof_src.sin_family = AF_INET;
    o->spoof_src.sin_addr.s_addr = htonl(0x7f000000u |
        (uint32_t)(64 + b[0] % 191) << 16 | (uint32_t)b[1] << 8 |
        (uint32_t)(1 + b[2] % 254));
    o->have_spoof_src = true;
}

struct run {
    struct audit_opts o;
    unsigned done, total, findings, errors, interrupted;
    bool progress;
};

static void progress(struct run *run)
{
    if (!run->progress)
        return;
    fprintf(stderr, "\r[%u/%u] %u with findings", run->done, run->total,
            run->findings);
    if (run->done == run->total)
        fputs("\r\033[K", stderr);
    fflush(stderr);
}

static void on_done(void *arg, struct result *r)
{
    struct run *run = arg;
    struct verdict v;

    verdict_remote(r, &run->o, &v);
    if (run->progress)
        fputs("\r\033[K", stderr);
    report_target(r, &v);
    run->done++;
    run->interrupted += r->interrupted;
    if (v.counted)
        run->findings++;
    else if (v.error)
        run->errors++;
    progress(run);
}

static void add_port(uint16_t *ports, size_t *n, uint16_t p)
{
    for (size_t i = 0; i < *n; i++)
        if (ports[i] == p)
            return;
    if (*n < LOCAL_PORT_MAX)
        ports[(*n)++] = p;
}

int main(int argc, char **argv)
{
    struct run run;
    struct audit_opts *o = &run.o;
    struct target_list tl;
    const char *files[64], *confs[EXTRA_CONF_MAX], *color = "auto";
    const char *sysroot = "";
    struct verdict lv;
    const char *excludes[64], *exclfiles[16];
    size_t nfiles = 0, nconfs = 0, nports = 0, nexcl = 0, nexclf = 0;
    uint16_t port = AUDIT_PORT_DEFAULT, ports[LOCAL_PORT_MAX];
    uint64_t max_targets = TARGET_MAX_DEFAULT, v;
    char shortopts[64], err[512];
    size_t sl = 0;
    int c, exit_code = AUDIT_EXIT_CLEAR, local_exit = AUDIT_EXIT_CLEAR;
    bool quiet = false;
    struct sigaction sa;

    memset(&run, 0, sizeof(run));
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
            json_errors = true;
    o->timeout_ms = 1000;
    o->retries = 2;
    o->concurrency = 64;
    o->rate = 500;
    o->target_rate = 50;
    o->amplify_size = 1000000;
    o->local_probe = true;
    for (size_t i = 0; i < sizeof(short_map) / sizeof(short_map[0]); i++) {
        if (short_map[i].s == 0)
            continue;
        shortopts[sl++] = short_map[i].s;
        if (long_opts[i].has_arg)
            shortopts[sl++] = ':';
    }
    shortopts[sl] = '\0';

    while ((c = getopt_long(argc, argv, shortopts, long_opts, NULL)) != -1) {
        int id = c;
        for (size_t i = 0; c < OPT_BASE &&
             i < sizeof(short_map) / sizeof(short_map[0]); i++)
            if (short_map[i].s == c)
                id = (int)short_map[i].id;
        switch (id) {
        case OPT_FILE:
            if (nfiles == sizeof(files) / sizeof(files[0]))
                return fatal("too many --file");
            files[nfiles++] = optarg;
            break;
        case OPT_PORT:
            if (opt_uint("port", optarg, 1, 65535, &v) != 0)
                return AUDIT_EXIT_ERROR;
            port = (uint16_t)v;
            break;
        case OPT_LOCAL: o->local = true; break;
        case OPT_NOPROBE: o->local_probe = false; break;
        case OPT_CONFIG:
            if (nconfs == EXTRA_CONF_MAX)
                return fatal("too many --config");
            confs[nconfs++] = optarg;
            break;
        case OPT_SYSROOT: sysroot = optarg; break;
        case OPT_VERIFY: o->verify = true; break;
        case OPT_TCPCLOSED: o->expect_tcp_closed = true; break;
        case OPT_REQSVC: o->require_service = true; break;
        case OPT_AMPLIFY: o->amplify = true; break;
        case OPT_AMPSIZE:
            if (opt_uint("amplify-size", optarg, 1, 64u << 20, &v) != 0)
                return AUDIT_EXIT_ERROR;
            o->amplify_size = v;
            break;
        case OPT_CONC:
            if (opt_uint("concurrency", optarg, 1, 65536, &v) != 0)
                return AUDIT_EXIT_ERROR;
            o->concurrency = (unsigned)v;
            break;
        case OPT_RATE:
            if (opt_uint("rate", optarg, 0, 10000000, &v) != 0)
                return AUDIT_EXIT_ERROR;
            o->rate = (double)v;
            break;
        case OPT_TRATE:
            if (opt_uint("target-rate", optarg, 0, 10000000, &v) != 0)
                return AUDIT_EXIT_ERROR;
            o->target_rate = (double)v;
            break;
        case OPT_TIMEOUT:
            if (opt_uint("timeout", optarg, 1, 600000, &v) != 0)
                return AUDIT_EXIT_ERROR;
            o->timeout_ms = (unsigned)v;
            break;
        case OPT_RETRIES:
            if (opt_uint("retries", optarg, 0, 20, &v) != 0)
                return AUDIT_EXIT_ERROR;
            o->retries = (unsigned)v;
            break;
        case OPT_MAXT:
            if (opt_uint("max-targets", optarg, 1, 1u << 24, &v) != 0)
                return AUDIT_EXIT_ERROR;
            max_targets = v;
            break;
        case OPT_EXCLUDE:
            if (nexcl == sizeof(excludes) / sizeof(excludes[0]))
                return fatal("too many --exclude (use --exclude-file)");
            excludes[nexcl++] = optarg;
            break;
        case OPT_EXCLFILE:
            if (nexclf == sizeof(exclfiles) / sizeof(exclfiles[0]))
                return fatal("too many --exclude-file");
            exclfiles[nexclf++] = optarg;
            break;
        case OPT_JSON: o->json = true; break;
        case OPT_COLOR:
            if (strcmp(optarg, "auto") && strcmp(optarg, "always") &&
                strcmp(optarg, "never"))
                return fatal("--color: auto, always or never");
            color = optarg;
            break;
        case OPT_VERBOSE: o->verbose = true; break;
        case OPT_QUIET: quiet = true; break;
        case OPT_HELP:
            usage(stdout);
            return AUDIT_EXIT_CLEAR;
        case OPT_VERSION:
            printf("hardcache-audit %s\n", AUDIT_TOOL_VERSION);
            return AUDIT_EXIT_CLEAR;
        default:
            usage(stderr);
            return fatal("bad usage (see --help)");
        }
    }
    o->color = strcmp(color, "always") == 0 ||
               (strcmp(color, "auto") == 0 && isatty(STDOUT_FILENO) &&
                getenv("NO_COLOR") == NULL && !o->json);
    run.progress = !quiet && isatty(STDERR_FILENO);
    pick_spoof_src(o);

    target_list_init(&tl, max_targets);
    for (size_t i = 0; i < nexcl; i++)
        if (target_exclude_spec(&tl, excludes[i], err, sizeof(err)) != 0)
            goto fail;
    for (size_t i = 0; i < nexclf; i++)
        if (target_exclude_file(&tl, exclfiles[i], err, sizeof(err)) != 0)
            goto fail;
    for (int i = optind; i < argc; i++)
        if (target_add_spec(&tl, argv[i], port, err, sizeof(err)) != 0)
            goto fail;
    for (size_t i = 0; i < nfiles; i++)
        if (target_add_file(&tl, files[i], port, err, sizeof(err)) != 0)
            goto fail;
    if (tl.n == 0 && !o->local) {
        usage(stderr);
        snprintf(err, sizeof(err), "no targets (and no --local)");
        goto fail;
    }
    if (o->amplify && o->verify) {
        snprintf(err, sizeof(err), "--amplify does not go with --verify");
        goto fail;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    /* a second ^C ends at once; writes restart (poll never does) */
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);

    report_setup(stdout, o);
    run.total = tl.total > UINT32_MAX ? UINT32_MAX : (unsigned)tl.total;
    if (tl.n > 0 && engine_run(&tl, o, on_done, &run) != 0) {
        snprintf(err, sizeof(err), "event loop: %s", strerror(errno));
        goto fail;
    }
    if (o->local) {
        struct local_report lr;

        add_port(ports, &nports, AUDIT_PORT_DEFAULT);
        add_port(ports, &nports, port);
        for (size_t i = 0; i < tl.n; i++)
            add_port(ports, &nports, tl.v[i].port);
        (void)local_audit(&lr, o, sysroot, confs, nconfs);
        local_verdict(&lr, o, ports, nports, &lv);
        report_local(&lr, &lv);
        local_exit = verdict_exit(&lv);
        local_free(&lr);
    }
    if (run.findings > 0 || local_exit == AUDIT_EXIT_FINDINGS)
        exit_code = AUDIT_EXIT_FINDINGS;
    else if (run.errors > 0 || local_exit == AUDIT_EXIT_ERROR ||
             engine_stopped())              /* not everything was checked */
        exit_code = AUDIT_EXIT_ERROR;
    report_summary(run.done, run.findings, run.errors, tl.excluded,
                   engine_stopped(), run.interrupted, o->local ? &lv : NULL,
                   exit_code);
    target_list_free(&tl);
    return exit_code;
fail:
    target_list_free(&tl);
    return fatal("%s", err);
}
