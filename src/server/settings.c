/*
 * settings: memcached's flags, same letters and meanings, declared once in
 * OPTIONS below; getopt's tables and the -h text are generated from it.
 * Flags for features hardcached does not (yet) have are refused with a
 * clear message rather than silently ignored, except pure tuning knobs of
 * memcached's slab allocator, which have no meaning here and are accepted.
 */
#include "server/settings.h"

#include <errno.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/strnum.h"
#include "server/config_file.h"
#include "server/stats_flash.h"
#include "server/stats_off.h"
#include "server/stats_sink.h"
#include "net/listen.h"
#include "policy/auth.h"
#include "policy/limits.h"
#include "protocol/limits.h"

struct settings settings;

/* Options with a long name only (no memcached letter to follow). */
enum { OPT_ALLOW = 256, OPT_ALLOW_FILE, OPT_NO_PROTECTED, OPT_CONFIG, OPT_HASH_PASSWORD,
       OPT_HASH_SCRAM };

/* X(letter or OPT_ value, long name, argument (0 none, 1 required, 2
 * optional: long form only, as memcached's --verbose[=N]), help) */
#define OPTIONS(X)                                                              \
    X('p', "port",               1, "TCP port to listen on (default: 11211; 0: TCP off, -1: any free port)") \
    X('U', "udp-port",           1, "UDP port on the -l addresses (default: 0, off). Replies to sources without a recent TCP connection never exceed the request's size (see -o udp_*)") \
    X('s', "unix-socket",        1, "UNIX socket to listen on (disables network support)") \
    X('a', "unix-mask",          1, "access mask for UNIX socket, in octal (default: 700)") \
    X('A', "enable-shutdown",    0, "enable ascii \"shutdown\" command")          \
    X('l', "listen",             1, "interface to listen on, repeatable, ',' or ';' separated, [v6] and addr:port allowed (default: 127.0.0.1 and ::1 only); memcached's prefixes: notls:, btls:, mtls: (with -Z: plain, TLS, TLS with a required client certificate), proto[ascii|binary|negotiating]:, tag[name]:, e.g. -l mtls:proto[ascii]:10.0.0.1:11212") \
    X('d', "daemon",             0, "run as a daemon")                          \
    X('r', "enable-coredumps",   0, "maximize core file limit")                 \
    X('u', "user",               1, "assume identity of <username> (required when run as root)") \
    X('m', "memory-limit",       1, "item memory in megabytes (default: 64)")   \
    X('M', "disable-evictions",  0, "return error on memory exhausted instead of evicting") \
    X('c', "conn-limit",         1, "max simultaneous connections (default: 1024)") \
    X('k', "lock-memory",        0, "lock down all paged memory")               \
    X('v', "verbose",            2, "verbose (-vv: also every command and reply, as memcached prints them; -vvv extremely verbose; --verbose=N sets level N)") \
    X('h', "help",               0, "print this help and exit")                 \
    X('i', "license",            0, "print license and exit")                   \
    X('V', "version",            0, "print version and exit")                   \
    X('P', "pidfile",            1, "save PID in <file>, only used with -d option") \
    X('f', "slab-growth-factor", 1, "accepted for compatibility; no slab classes here") \
    X('n', "slab-min-size",      1, "accepted for compatibility; no slab classes here") \
    X('L', "enable-largepages",  0, "huge pages for -e's memory file too (anonymous item memory is on transparent huge pages by default); warn if the kernel has none") \
    X('D', "delimiter",          1, "count per-prefix stats (stats detail) on keys split at this char") \
    X('t', "threads",            1, "number of worker threads (default: 4)")    \
    X('R', "max-reqs-per-event", 1, "max requests per event per connection (default: 20)") \
    X('C', "disable-cas",        0, "disable use of CAS")                       \
    X('b', "listen-backlog",     1, "set the backlog queue limit (default: 1024)") \
    X('B', "protocol",           1, "protocol: ascii, binary or auto (default: auto-negotiate)") \
    X('I', "max-item-size",      1, "max item size, k/m suffix allowed (default: 1m, min: 1k, max: 1024m)") \
    X('N', "napi-ids",           1, "accepted for compatibility (NAPI id steering is not done here)") \
    X('S', "enable-sasl",        0, "SASL logins (PLAIN and SCRAM-SHA-256) over the binary protocol; users from -Y <file> or $MEMCACHED_SASL_PWDB") \
    X('F', "disable-flush-all",  0, "disable flush_all command")                \
    X('X', "disable-dumping",    0, "disable key dumps: stats cachedump, lru_crawler metadump/mgdump, stats detail")  \
    X('W', "disable-watch",      0, "disable watch commands (live event streams)") \
    X('Y', "auth-file",          1, "ascii authentication; <file> has user:password lines or user:<hash> from --hash-password or --hash-password-scram; reloaded on SIGHUP") \
    X('e', "memory-file",        1, "keep item memory in <file> (on tmpfs, e.g. /dev/shm, or a DAX file; created 0600, refused if not the server user's, open to others or a symlink), so a restart keeps the cache: after a graceful stop (SIGTERM, SIGUSR1, shutdown graceful) and also after a crash or kill -9 (every acknowledged write, checked by checksums). Needs the same -m and -I; otherwise, or if the file is damaged, the cache starts empty. cache_memlimit cannot raise the limit past -m") \
    X('Z', "enable-ssl",         0, "TLS on TCP listeners (1.2 minimum, 1.3 preferred); needs -o ssl_chain_cert=FILE,ssl_key=FILE (see -o); certificates reloaded on SIGHUP") \
    X(OPT_ALLOW, "allow",        1, "allow only these clients: comma-separated IPv4/IPv6 addresses or CIDR networks, repeatable (TCP and UDP; loopback too)") \
    X(OPT_ALLOW_FILE, "allow-file", 1, "read allowed addresses/networks from <file> (one or more per line, # comments)") \
    X(OPT_CONFIG, "config",      1, "read flags from <file>, one per line as in /etc/memcached.conf, before the command line's (see server/config_file.h)") \
    X(OPT_NO_PROTECTED, "disable-protected-mode", 0, "serve non-loopback addresses with neither login (-S/-Y) nor allow list: an open server") \
    X('o', "extended",           1, "comma separated extended options: idle_timeout=N, hashpower=N, modern, no_modern, relaxed_privileges, maxconns_fast; UDP: udp_validate_window=SECONDS (600), udp_sources_max=N (65536), udp_baf_percent=N (100 = never more bytes out than in; up to 1000), udp_src_rate=BYTES/S, udp_src_burst=BYTES (8m), udp_global_rate=BYTES/S (64m), udp_global_burst=BYTES (32m), udp_alert_drops=N (100/s; 0 off); metrics_port=N (Prometheus /metrics over HTTP, default 0: off), metrics_listen=ADDR (default: 127.0.0.1 and ::1); no_sandbox (turn off the seccomp system-call filter, for debugging with gdb/strace only); TLS (with -Z): ssl_chain_cert=FILE, ssl_key=FILE, ssl_ca_cert=FILE, ssl_verify_mode=N (0 none, 1 request, 2 require, 3 once), ssl_min_version=N (memcached's 0 tlsv1.0 .. 3 tlsv1.3, default 2; below 2 warns), ssl_ciphers=LIST, ssl_keyformat=1|2 (PEM, DER), ssl_session_cache (server-side session resumption), ssl_kernel_tls (kernel TLS offload), ssl_wbuf_size=KB (accepted); hash_algorithm=jenkins|murmur3|xxh3 (accepted: the table always uses keyed SipHash); track_sizes; lru_crawler, no_lru_crawler, lru_crawler_sleep=US, lru_crawler_tocrawl=N; other slab/LRU/extstore tuning (slab_sizes, slab_automove*, no_slab_automove, no_chunked_items, inline_ascii_resp, no_inline_ascii_resp, lru_maintainer, ...) is accepted and ignored, resp_obj_mem_limit with a warning; ext_path=FILE:SIZE (repeatable) keeps the values eviction would drop on flash; extstore's ext_* (memcached's units and bounds) tune it and show in stats settings; ext_io_backend=auto|pool|uring (flash reads through io_uring or pread threads; auto: io_uring where the kernel allows it); temporary_ttl is refused; with -e a restart finds what is on ext_path again") \
    X(OPT_HASH_PASSWORD, "hash-password", 0, "read a password on stdin, print its hash for the password file (yescrypt: PLAIN and ascii logins only), exit") \
    X(OPT_HASH_SCRAM, "hash-password-scram", 0, "read a password on stdin, print a $scram-sha-256$ entry for the password file (SCRAM-SHA-256, PLAIN and ascii logins), exit")

/* A bad flag ends parsing wherever it is found: usage_error() keeps the
 * message and jumps back to settings_try_parse(), which returns it. The
 * jump (rather than exit) lets the fuzzer and tests parse many command
 * lines in one process; settings_parse() prints and exits as before. */
static jmp_buf *usage_jmp;
static char usage_msg[SETTINGS_ERR_MAX];

__attribute__((format(printf, 1, 2)))
static _Noreturn void usage_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(usage_msg, sizeof(usage_msg), fmt, ap);
    va_end(ap);
    longjmp(*usage_jmp, 1);
}

static const char *arg_text(int arg)
{
    return arg == 2 ? "[=<arg>]" : arg ? "=<arg>" : "";
}

static void print_help(void)
{
    printf("memcached %s\n%s\n", HC_COMPAT_VERSION, HC_IDENTITY);
#define X(ch, name, arg, help) \
    if (ch < 256) \
        printf("-%c, --%s%s\n      %s\n", ch, name, arg_text(arg), help); \
    else \
        printf("    --%s%s\n      %s\n", name, arg_text(arg), help);
    OPTIONS(X)
#undef X
}

static int parse_int(const char *arg, int min, int max, const char *what)
{
    int64_t v;

    if (!strnum_i64(arg, strlen(arg), &v) || v < min || v > max)
        usage_error("bad %s: %s", what, arg);
    return (int)v;
}

/* "64", "64m", "1g", "512k"; `unit` is the multiplier without a suffix. */
static uint64_t parse_size(const char *arg, uint64_t unit, const char *what)
{
    size_t n = strlen(arg);
    uint64_t v, mult = unit;

    if (n > 0) {
        switch (arg[n - 1]) {
        case 'k': case 'K': mult = 1024ULL; n--; break;
        case 'm': case 'M': mult = 1024ULL * 1024; n--; break;
        case 'g': case 'G': mult = 1024ULL * 1024 * 1024; n--; break;
        default: break;
        }
    }
    if (!strnum_u64(arg, n, &v) || v > UINT64_MAX / mult)
        usage_error("bad %s: %s", what, arg);
    return v * mult;
}

static uint64_t parse_rate(const char *arg, const char *what)
{
    uint64_t v = parse_size(arg, 1, what);

    if (v > LIMIT_UDP_RATE_MAX)
        usage_error("%s too large: %s", what, arg);
    return v;
}

static struct acl allow_list;

static void add_allow(const char *text, size_t len, const char *origin)
{
    struct acl_error err = { 0 };

    if (acl_parse_list(text, len, &allow_list, &err) < 0) {
        if (origin)
            usage_error("%s:%zu: %s", origin, err.line, err.msg);
        usage_error("--allow: %s", err.msg);
    }
    settings.acl = &allow_list;
}

static void add_allow_file(const char *path)
{
    static char text[LIMIT_ACL_FILE_MAX + 1];
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL)
        usage_error("cannot open the allow file %s: %s", path, strerror(errno));
    n = fread(text, 1, sizeof(text), f);
    if (ferror(f)) {
        fclose(f);
        usage_error("cannot read the allow file %s", path);
    }
    fclose(f);
    if (n > LIMIT_ACL_FILE_MAX)
        usage_error("allow file %s is larger than %d bytes", path, LIMIT_ACL_FILE_MAX);
    add_allow(text, n, path);
    if (allow_list.n == 0)
        usage_error("allow file %s lists no address: it would allow everyone", path);
}

/* "name[value]:" at *p (memcached's tag also takes "tag_value_:"): the
 * value, NUL-terminated in place, and *p after the ':'; NULL when *p does
 * not start with name. */
static char *listen_prefix(char **p, const char *name, bool underscore)
{
    size_t n = strlen(name);
    char *v, *e;

    if (strncmp(*p, name, n) != 0 || ((*p)[n] != '[' && !(underscore && (*p)[n] == '_')))
        return NULL;
    v = *p + n + 1;
    e = strchr(v, (*p)[n] == '[' ? ']' : '_');
    if (e == NULL || e[1] != ':')
        usage_error("bad %s in listen address \"%s\"", name, *p);
    *e = '\0';
    *p = e + 2;
    return v;
}

/* One -l entry: memcached's prefixes, in its order, then the address. */
static void listen_conf_parse(char *tok, struct listen_conf *lc)
{
    static const char *const tls_names[] = { NULL, "notls:", "btls:", "mtls:" };
    char host[256], *v;
    int port;

    memset(lc, 0, sizeof(*lc));
    lc->proto = PROTO_INHERIT;
    for (int t = LISTEN_TLS_OFF; t <= LISTEN_TLS_PEER; t++)
        if (strncmp(tok, tls_names[t], strlen(tls_names[t])) == 0) {
            lc->tls = (enum listen_tls)t;
            tok += strlen(tls_names[t]);
            break;
        }
    if ((v = listen_prefix(&tok, "proto", false)) != NULL) {
        if (strcmp(v, "ascii") == 0)
            lc->proto = PROTO_ASCII;
        else if (strcmp(v, "binary") == 0)
            lc->proto = PROTO_BINARY;
        else if (strcmp(v, "negotiating") == 0)
            lc->proto = PROTO_AUTO;
        else
            usage_error("listener protocol \"%s\" is not available (ascii, binary "
                        "or negotiating)", v);
    }
    if ((v = listen_prefix(&tok, "tag", true)) != NULL) {
        if (strlen(v) < 1 || strlen(v) > LISTEN_TAG_MAX)
            usage_error("Listener tags must be between 1 and %d characters: \"%s\"",
                        LISTEN_TAG_MAX, v);
        memcpy(lc->tag, v, strlen(v) + 1);
    }
    if (strpbrk(tok, " \t") || listen_split(tok, host, sizeof(host), &port) < 0)
        usage_error("bad listen address \"%s\"", tok);
    lc->addr = tok;
}

/* Every -l as given, joined by ',' as memcached shows them ("inter"). */
#define LISTEN_TEXT_MAX 4096

static void add_listen(char *arg)
{
    static char text[LISTEN_TEXT_MAX];
    size_t used = settings.listen_arg ? strlen(text) : 0;

    if (used + 1 + strlen(arg) >= sizeof(text))
        usage_error("-l arguments longer than %d bytes", LISTEN_TEXT_MAX);
    snprintf(text + used, sizeof(text) - used, "%s%s", used ? "," : "", arg);
    settings.listen_arg = text;
    for (char *save = NULL, *tok = strtok_r(arg, ",;", &save); tok;
         tok = strtok_r(NULL, ",;", &save)) {
        if (settings.nlisten == SETTINGS_LISTEN_MAX)
            usage_error("too many -l addresses (at most %d)", SETTINGS_LISTEN_MAX);
        listen_conf_parse(tok, &settings.listen[settings.nlisten++]);
    }
}

/* After every flag is known: what the -l prefixes need (memcached's
 * messages where it has them). */
static void check_listen_confs(void)
{
    for (int i = 0; i < settings.nlisten; i++) {
        const struct listen_conf *lc = &settings.listen[i];
        if (lc->tls != LISTEN_TLS_DEFAULT && !settings.tls.enabled)
            usage_error("'%s' option is valid only when SSL is enabled",
                        lc->tls == LISTEN_TLS_OFF ? "notls" :
                        lc->tls == LISTEN_TLS_BASIC ? "btls" : "mtls");
        if (lc->tls == LISTEN_TLS_PEER && settings.tls.ca_cert == NULL)
            usage_error("mtls:%s needs -o ssl_ca_cert=<file> to verify client "
                        "certificates", lc->addr);
        if (lc->proto == PROTO_BINARY && settings.ascii_auth)
            usage_error("Cannot use binary protocol when ascii authentication enabled");
    }
}

/* memcached -o sub-options that tune its own LRU, slab, buffer and
 * logging machinery: they have no counterpart in hardcached's storage and
 * are accepted and ignored so existing command lines keep working (each
 * also appears in -h). Options that change what is stored or served
 * (temporary_ttl) are refused instead; extstore's ext_path and ext_* are
 * parsed and checked (storage/flash_conf.h) and run the flash tier. */
static const char *const ignored_suboptions[] = {
    "maxconns_fast", "no_maxconns_fast", "tail_repair_time",
    "lru_maintainer", "no_lru_maintainer", "hot_lru_pct", "warm_lru_pct",
    "hot_max_factor", "warm_max_factor", "slab_reassign",
    "no_slab_reassign", "slab_automove", "no_slab_automove", "slab_automove_ratio",
    "slab_automove_window", "slab_automove_freeratio", "slab_chunk_max",
    "slab_sizes", "no_chunked_items", "no_hashexpand",
    "read_buf_mem_limit", "watcher_logbuf_size", "worker_logbuf_size",
    "inline_ascii_resp", "no_inline_ascii_resp",
    /* older spellings, accepted before for existing configurations */
    "inline_ascii_response", "no_inline_ascii_response",
    "lru_segmented", "no_lru_segmented", "drop_privileges", "no_drop_privileges",
    "sock_cookie_id",
};

/* memcached's hash_algorithm values; hardcached always uses its keyed
 * SipHash (core/hash.h), which no client can observe. */
static const char *const hash_algorithms[] = { "jenkins", "murmur3", "xxh3" };

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}
#define IN_LIST(s, list) in_list((s), (list), sizeof(list) / sizeof(*(list)))

/* ssl_min_version: memcached's numbers (0 tlsv1.0 .. 3 tlsv1.3) or names. */
static int parse_tls_version(const char *val)
{
    static const char *const names[] = { "tlsv1.0", "tlsv1.1", "tlsv1.2", "tlsv1.3" };

    for (int i = 0; i < 4; i++)
        if (strcmp(val, names[i]) == 0 || (val[0] == '0' + i && val[1] == '\0'))
            return 10 + i;
    usage_error("Invalid ssl_min_version: %s (0 tlsv1.0, 1 tlsv1.1, 2 tlsv1.2, "
                "3 tlsv1.3)", val);
}

static void parse_extended(char *arg)
{
    for (char *save = NULL, *opt = strtok_r(arg, ",", &save); opt;
         opt = strtok_r(NULL, ",", &save)) {
        char *val = strchr(opt, '=');
        if (val)
            *val++ = '\0';
        if (strcmp(opt, "idle_timeout") == 0 && val) {
            settings.idle_timeout = (uint32_t)parse_int(val, 0, 86400 * 365,
                                                        "idle_timeout");
        } else if (strcmp(opt, "hashpower") == 0 && val) {
            settings.hashpower = (unsigned)parse_int(val, 12, 32,
                                                     "hashpower (12..32)");
        } else if (strcmp(opt, "udp_validate_window") == 0 && val) {
            settings.udp_guard.window_s = (uint32_t)parse_int(val, 0, 86400 * 7,
                                                              "udp_validate_window (seconds)");
        } else if (strcmp(opt, "udp_sources_max") == 0 && val) {
            settings.udp_guard.sources_max = (uint32_t)parse_int(val,
                LIMIT_UDP_SOURCES_MIN, LIMIT_UDP_SOURCES_MAX, "udp_sources_max");
        } else if (strcmp(opt, "udp_baf_percent") == 0 && val) {
            settings.udp_guard.baf_percent = (uint32_t)parse_int(val, 0,
                LIMIT_UDP_BAF_MAX_PCT, "udp_baf_percent (0..1000)");
        } else if (strcmp(opt, "udp_src_rate") == 0 && val) {
            settings.udp_guard.src_rate = parse_rate(val, "udp_src_rate");
        } else if (strcmp(opt, "udp_src_burst") == 0 && val) {
            settings.udp_guard.src_burst = parse_rate(val, "udp_src_burst");
        } else if (strcmp(opt, "udp_global_rate") == 0 && val) {
            settings.udp_guard.global_rate = parse_rate(val, "udp_global_rate");
        } else if (strcmp(opt, "udp_global_burst") == 0 && val) {
            settings.udp_guard.global_burst = parse_rate(val, "udp_global_burst");
        } else if (strcmp(opt, "udp_alert_drops") == 0 && val) {
            settings.udp_guard.alert_drops = (uint32_t)parse_int(val, 0, 1 << 30,
                                                                 "udp_alert_drops");
        } else if (strcmp(opt, "metrics_port") == 0 && val) {
            settings.metrics_port = parse_int(val, 0, 65535, "metrics_port");
        } else if (strcmp(opt, "metrics_listen") == 0 && val && *val) {
            char host[256];
            int port;
            if (strpbrk(val, " \t") || listen_split(val, host, sizeof(host), &port) < 0)
                usage_error("bad metrics_listen address \"%s\"", val);
            settings.metrics_listen = val;
        } else if (strcmp(opt, "ssl_chain_cert") == 0 && val && *val) {
            settings.tls.chain_cert = val;
        } else if (strcmp(opt, "ssl_key") == 0 && val && *val) {
            settings.tls.key = val;
        } else if (strcmp(opt, "ssl_ca_cert") == 0 && val && *val) {
            settings.tls.ca_cert = val;
        } else if (strcmp(opt, "ssl_ciphers") == 0 && val && *val) {
            settings.tls.ciphers = val;
        } else if (strcmp(opt, "ssl_verify_mode") == 0 && val) {
            settings.tls.verify_mode = parse_int(val, 0, 3, "ssl_verify_mode (0..3)");
        } else if (strcmp(opt, "ssl_min_version") == 0 && val) {
            settings.tls.min_version = parse_tls_version(val);
        } else if (strcmp(opt, "ssl_session_cache") == 0) {
            settings.tls.session_cache = true;
        } else if (strcmp(opt, "ssl_kernel_tls") == 0) {
            settings.tls.kernel_tls = true;
        } else if (strcmp(opt, "ssl_keyformat") == 0 && val) {
            settings.tls.keyformat = parse_int(val, TLS_KEYFORMAT_PEM, TLS_KEYFORMAT_DER,
                                               "ssl_keyformat (1 PEM, 2 DER; ENGINE "
                                               "keys are not supported)");
        } else if (strcmp(opt, "ssl_wbuf_size") == 0 && val) {
            /* kilobytes, as memcached; replies are written from the
             * connection's own buffers, so it is shown but tunes nothing */
            settings.tls.wbuf_kb = (unsigned)parse_int(val, 1, 1 << 20, "ssl_wbuf_size");
        } else if (strcmp(opt, "hash_algorithm") == 0 && val) {
            if (!IN_LIST(val, hash_algorithms))
                usage_error("Unknown hash_algorithm option (jenkins, murmur3, xxh3)");
        } else if (strcmp(opt, "resp_obj_mem_limit") == 0) {
            log_warn("DEPRECATED: resp_obj_mem_limit no longer used (ignored)");
        } else if (strcmp(opt, "temporary_ttl") == 0) {
            usage_error("temporary_ttl is not supported: items with short TTLs are "
                        "evicted like any other here (memcached keeps them from "
                        "eviction); drop the option");
        } else if (strcmp(opt, "modern") == 0 || strcmp(opt, "no_modern") == 0) {
            /* memcached's bundle of newer defaults; ours are already those */
        } else if (strcmp(opt, "lru_crawler") == 0) {
            settings.crawler.enabled = true;
        } else if (strcmp(opt, "no_lru_crawler") == 0) {
            settings.crawler.enabled = false;
        } else if (strcmp(opt, "lru_crawler_sleep") == 0 && val) {
            settings.crawler.sleep_us = (uint32_t)parse_int(val, 0, CRAWL_SLEEP_MAX_US,
                                                            "lru_crawler_sleep (0..1000000)");
        } else if (strcmp(opt, "lru_crawler_tocrawl") == 0 && val) {
            settings.crawler.tocrawl = (uint32_t)parse_int(val, 0, INT32_MAX,
                                                           "lru_crawler_tocrawl");
        } else if (strcmp(opt, "track_sizes") == 0) {
            settings.track_sizes = true;
        } else if (strcmp(opt, "relaxed_privileges") == 0) {
            settings.relaxed_privileges = true;
        } else if (strcmp(opt, "no_relaxed_privileges") == 0) {
            settings.relaxed_privileges = false;
        } else if (strcmp(opt, "no_sandbox") == 0 || strcmp(opt, "sandbox") == 0) {
            settings.sandbox = opt[0] != 'n';
        } else if (strncmp(opt, "ext_", 4) == 0) {
            char err[FLASH_ERR_MAX];
            int r = flash_conf_option(&settings.flash, opt, val, err, sizeof(err));
            if (r < 0)
                usage_error("%s", err);
            if (r == 0)
                usage_error("illegal suboption \"%s\"", opt);
        } else {
            if (!IN_LIST(opt, ignored_suboptions))
                usage_error("illegal suboption \"%s\"", opt);
        }
    }
}

/* --hash-password(-scram): one line from stdin (a terminal or a pipe), its
 * yescrypt hash (or SCRAM-SHA-256 keys) on stdout, for a "user:<hash>" line of the password file. */
static enum settings_action hash_password(bool scram)
{
    char pass[LIMIT_AUTH_LINE_MAX + 2], out[256];
    size_t n;

    if (fgets(pass, sizeof(pass), stdin) == NULL) {
        fprintf(stderr, "hardcached: --hash-password reads the password from stdin\n");
        exit(EX_USAGE_CODE);
    }
    n = strlen(pass);
    while (n > 0 && (pass[n - 1] == '\n' || pass[n - 1] == '\r'))
        pass[--n] = '\0';
    if (n == 0 || (scram ? auth_hash_password_scram(pass, out, sizeof(out))
                         : auth_hash_password(pass, out, sizeof(out))) < 0) {
        explicit_bzero(pass, sizeof(pass));
        fprintf(stderr, "hardcached: %s\n", n == 0 ? "empty password" : "hashing failed");
        exit(EX_USAGE_CODE);
    }
    explicit_bzero(pass, sizeof(pass));
    printf("%s\n", out);
    return SETTINGS_EXIT_OK;
}

static void set_defaults(void)
{
    memset(&settings, 0, sizeof(settings));
    settings.port = 11211;
    settings.unix_mask = 0700;
    settings.maxbytes = 64ULL * 1024 * 1024;
    settings.evict = true;
    settings.maxconns = 1024;
    settings.threads = 4;
    settings.reqs_per_event = 20;
    settings.item_size_max = 1024 * 1024;
    settings.use_cas = true;
    settings.flush_enabled = true;
    settings.dump_enabled = true;
    settings.watch_enabled = true;
    settings.crawler = (struct crawl_config){ .enabled = true,
        .sleep_us = CRAWL_SLEEP_DEFAULT_US };
    settings.backlog = 1024;
    settings.maxconns_fast = true;
    udp_guard_defaults(&settings.udp_guard);
    memset(&allow_list, 0, sizeof(allow_list));
    settings.sandbox = true;
    settings.tls.min_version = 12;
    settings.tls.keyformat = TLS_KEYFORMAT_PEM;
    settings.tls.wbuf_kb = 16;
    settings.port_filename = getenv("MEMCACHED_PORT_FILENAME");
    settings.growth_factor = 1.25;
    settings.chunk_size = 48;
    settings.prefix_delimiter = ':';
    flash_conf_defaults(&settings.flash);
}

static void check_flash(void)
{
    char err[FLASH_ERR_MAX];

    if (flash_conf_check(&settings.flash, settings.item_size_max, settings.udp_port,
                         err, sizeof(err)) < 0)
        usage_error("%s", err);
}

static enum settings_action parse_argv(int argc, char **argv)
{
    static const struct option longopts[] = {
#define X(ch, name, arg, help) { name, arg == 2 ? optional_argument : \
                                      arg ? required_argument : no_argument, NULL, ch },
        OPTIONS(X)
#undef X
        { NULL, 0, NULL, 0 }
    };
    char optstring[128];
    char cferr[512];
    size_t n = 0;
    int c;

    set_defaults();
    if (config_file_expand(&argc, &argv, cferr, sizeof(cferr)) < 0)
        usage_error("%s", cferr);
    optstring[n++] = ':';
#define X(ch, name, arg, help) \
    if (ch < 256) { optstring[n++] = (char)ch; if (arg == 1) optstring[n++] = ':'; }
    OPTIONS(X)
#undef X
    optstring[n] = '\0';

    opterr = 0;
    optind = 0;   /* glibc: 0 also forgets a half-scanned "-vvx" of a
                     previous parse (1 would resume inside freed memory) */
    while ((c = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
        switch (c) {
        /* -1: any free port (memcached's test harnesses pass it and read
         * the ports from $MEMCACHED_PORT_FILENAME) */
        case 'p': settings.port = parse_int(optarg, -1, 65535, "port"); break;
        case 'U': settings.udp_port = parse_int(optarg, -1, 65535, "UDP port"); break;
        case OPT_ALLOW:
            add_allow(optarg, strlen(optarg), NULL);
            if (allow_list.n == 0)
                usage_error("--allow needs at least one address or network");
            break;
        case OPT_ALLOW_FILE: add_allow_file(optarg); break;
        case OPT_NO_PROTECTED: settings.protected_mode_off = true; break;
        case OPT_CONFIG: break;   /* expanded by config_file_expand() before getopt */
        case 's': settings.unix_path = optarg; break;
        case 'a': {
            char *end;
            long mask = strtol(optarg, &end, 8);
            if (*optarg == '\0' || *end != '\0' || mask < 0 || mask > 0777)
                usage_error("bad unix socket mask: %s", optarg);
            settings.unix_mask = (int)mask;
            break;
        }
        case 'A': settings.shutdown_enabled = true; break;
        case 'l': add_listen(optarg); break;
        case 'd': settings.daemonize = true; break;
        case 'r': settings.coredumps = true; break;
        case 'u': settings.user = optarg; break;
        case 'm':
            settings.maxbytes = parse_size(optarg, 1024ULL * 1024, "memory limit");
            if (settings.maxbytes == 0)
                usage_error("memory limit must be above 0: %s", optarg);
            break;
        case 'M': settings.evict = false; break;
        case 'c': settings.maxconns = parse_int(optarg, 1, 1000000, "connection limit"); break;
        case 'k': settings.lock_memory = true; break;
        case 'v':   /* -v, -vv, --verbose, --verbose=N */
            if (optarg)
                settings.verbose = parse_int(optarg, 0, 3, "verbosity (0..3)");
            else
                settings.verbose++;
            break;
        case 'N':   /* memcached refuses 0 and more than -t */
            settings.napi_ids = parse_int(optarg, 1, 1 << 20, "number of napi ids");
            break;
        case 'h': print_help(); return SETTINGS_EXIT_OK;
        case 'i':
            printf("hardcached %s. See the project's LICENSE file.\n", HC_VERSION);
            return SETTINGS_EXIT_OK;
        case 'V':
            /* memcached's line first: tools read `memcached 1.6.x` */
            printf("memcached %s\n%s\n", HC_COMPAT_VERSION, HC_IDENTITY);
            return SETTINGS_EXIT_OK;
        case 'P': settings.pidfile = optarg; break;
        case 'L': settings.large_pages = true; break;
        case 'f': {
            char *end;
            double f = strtod(optarg, &end);
            if (*optarg == '\0' || *end != '\0' || !(f > 1.0))   /* memcached's rule */
                usage_error("Factor must be greater than 1");
            settings.growth_factor = f;
            break;
        }
        case 'n': settings.chunk_size = parse_int(optarg, 1, 1 << 20, "chunk size"); break;
        case 'D':
            if (optarg[0] == '\0')
                usage_error("-D needs a delimiter character");
            settings.prefix_delimiter = optarg[0];
            settings.detail_enabled = true;
            break;
        case 'X': settings.dump_enabled = false; break;
        case 'W': settings.watch_enabled = false; break;
        case 't': settings.threads = parse_int(optarg, 1, 256, "number of threads"); break;
        case 'R': settings.reqs_per_event = parse_int(optarg, 1, 1000000, "-R value"); break;
        case 'C': settings.use_cas = false; break;
        case 'b': settings.backlog = parse_int(optarg, 1, 1 << 20, "backlog"); break;
        case 'B':
            if (strcmp(optarg, "ascii") == 0)
                settings.protocol = PROTO_ASCII;
            else if (strcmp(optarg, "binary") == 0)
                settings.protocol = PROTO_BINARY;
            else if (strcmp(optarg, "auto") == 0)
                settings.protocol = PROTO_AUTO;
            else
                usage_error("protocol \"%s\" is not available (ascii, binary or auto)", optarg);
            break;
        case 'I': {
            uint64_t sz = parse_size(optarg, 1, "max item size");
            if (sz < LIMIT_ITEM_SIZE_MIN || sz > LIMIT_ITEM_SIZE_MAX)
                usage_error("max item size must be between 1k and 1024m: %s", optarg);
            settings.item_size_max = (uint32_t)sz;
            break;
        }
        case 'S': settings.sasl = true; break;
        case 'Y': settings.ascii_auth = true; settings.auth_file = optarg; break;
        case OPT_HASH_PASSWORD: return hash_password(false);
        case OPT_HASH_SCRAM: return hash_password(true);
        case 'Z': settings.tls.enabled = true; break;
        case 'e': settings.memory_file = optarg; break;
        case 'F': settings.flush_enabled = false; break;
        case 'o': parse_extended(optarg); break;
        case ':': {
            char flag[3] = { '-', (char)optopt, '\0' };
            usage_error("option %s requires an argument", optopt ? flag : argv[optind - 1]);
        }
        default: {
            char flag[3] = { '-', (char)optopt, '\0' };
            usage_error("unknown option %s", optopt ? flag : argv[optind - 1]);
        }
        }
    }
    if (optind < argc)
        usage_error("unexpected argument \"%s\"", argv[optind]);
    check_listen_confs();
    if (settings.unix_path)
        settings.udp_port = 0;   /* -s disables network support, UDP too */
    if (settings.metrics_listen && settings.metrics_port == 0)
        usage_error("-o metrics_listen needs -o metrics_port=N");
    if (settings.sasl && settings.auth_file == NULL) {
        settings.auth_file = getenv("MEMCACHED_SASL_PWDB");
        if (settings.auth_file == NULL || *settings.auth_file == '\0')
            usage_error("-S needs a password file: give -Y <file> (which also enables "
                        "ascii logins) or set MEMCACHED_SASL_PWDB=<file>");
    }
    settings.auth_required = settings.sasl || settings.ascii_auth;
    if (settings.tls.enabled && (settings.tls.chain_cert == NULL || settings.tls.key == NULL))
        usage_error("-Z needs -o ssl_chain_cert=<file>,ssl_key=<file>");
    if (settings.tls.enabled && settings.tls.verify_mode > 0 && settings.tls.ca_cert == NULL)
        usage_error("-o ssl_verify_mode=%d needs -o ssl_ca_cert=<file> to verify "
                    "client certificates", settings.tls.verify_mode);
    if (settings.item_size_max > settings.maxbytes / 2)
        usage_error("max item size (-I) must be at most half the memory limit (-m)");
    check_flash();
    return SETTINGS_RUN;
}

enum settings_action settings_try_parse(int argc, char **argv, char *err,
                                        size_t errlen)
{
    jmp_buf env;
    enum settings_action r;

    if (setjmp(env)) {
        usage_jmp = NULL;
        snprintf(err, errlen, "%s", usage_msg);
        return SETTINGS_ERROR;
    }
    usage_jmp = &env;
    r = parse_argv(argc, argv);
    usage_jmp = NULL;
    return r;
}

enum settings_action settings_parse(int argc, char **argv)
{
    char err[SETTINGS_ERR_MAX];
    enum settings_action r = settings_try_parse(argc, argv, err, sizeof(err));

    if (r == SETTINGS_ERROR) {
        fprintf(stderr, "hardcached: %s\nTry 'hardcached -h' for the list of flags.\n",
                err);
        exit(EX_USAGE_CODE);
    }
    return r;
}

/* memcached 1.6.45's settings that mean something here, with its names:
 * what was given for the knobs that are accepted and tune nothing, and
 * what hardcached does for the rest. */
/* The crawler's knobs as they are now (lru_crawler enable|disable|sleep|
 * tocrawl change them). */
static void settings_crawler_stat(const struct stats_sink *s)
{
    struct crawl_stats cs;

    crawl_stats_get(&cs);
    stats_add_str(s, "lru_crawler", cs.enabled ? "yes" : "no");
    stats_add_u64(s, "lru_crawler_sleep", cs.sleep_us);
    stats_add_u64(s, "lru_crawler_tocrawl", cs.tocrawl);
}

static void settings_each_memcached_stat(const struct stats_sink *s)
{
    char delim[2] = { settings.prefix_delimiter, '\0' };

    stats_add_fmt(s, "growth_factor", "%.2f", settings.growth_factor);
    stats_add_u64(s, "chunk_size", (uint64_t)settings.chunk_size);
    stats_add_u64(s, "num_threads_per_udp", (uint64_t)settings.threads);
    stats_add_str(s, "stat_key_prefix", delim);
    /* -D, then `stats detail on|off`, as memcached's setting follows it */
    stats_add_str(s, "detail_enabled", atomic_load(&settings.detail_enabled) ? "yes" : "no");
    stats_add_str(s, "dump_enabled", settings.dump_enabled ? "yes" : "no");
    stats_add_str(s, "hash_algorithm", "siphash");     /* keyed: core/hash.h */
    stats_add_str(s, "inline_ascii_response", "no");   /* memcached: always no */
    stats_add_str(s, "track_sizes", settings.track_sizes ? "yes" : "no");
    stats_add_u64(s, "num_napi_ids", (uint64_t)settings.napi_ids);
    stats_add_u64(s, "client_flags_size", 4);
    settings_crawler_stat(s);
}

void settings_each_stat(const struct stats_sink *s)
{
    char mask[8];

    snprintf(mask, sizeof(mask), "%o", (unsigned)settings.unix_mask);
    stats_add_u64(s, "maxbytes", settings.maxbytes);
    stats_add_u64(s, "maxconns", (uint64_t)settings.maxconns);
    stats_add_fmt(s, "tcpport", "%d", settings.port);   /* -1: any port */
    stats_add_fmt(s, "udpport", "%d", settings.udp_port);
    stats_add_str(s, "inter", settings.listen_arg ? settings.listen_arg : "127.0.0.1,::1");
    /* the live level, which `verbosity` changes (memcached shows it so) */
    stats_add_u64(s, "verbosity", (uint64_t)atomic_load(&log_verbosity));
    stats_add_str(s, "evictions", settings.evict ? "on" : "off");
    stats_add_str(s, "domain_socket", settings.unix_path ? settings.unix_path : "NULL");
    stats_add_str(s, "umask", mask);
    stats_add_str(s, "shutdown_command", settings.shutdown_enabled ? "yes" : "no");
    stats_add_u64(s, "num_threads", (uint64_t)settings.threads);
    stats_add_u64(s, "reqs_per_event", (uint64_t)settings.reqs_per_event);
    stats_add_str(s, "cas_enabled", settings.use_cas ? "yes" : "no");
    stats_add_u64(s, "tcp_backlog", (uint64_t)settings.backlog);
    stats_add_str(s, "binding_protocol", settings.protocol == PROTO_ASCII ? "ascii" :
                  settings.protocol == PROTO_BINARY ? "binary" : "auto-negotiate");
    stats_add_str(s, "auth_enabled_sasl", settings.sasl ? "yes" : "no");
    /* memcached shows the file's path here */
    stats_add_str(s, "auth_enabled_ascii", settings.ascii_auth ? settings.auth_file : "no");
    stats_add_u64(s, "item_size_max", settings.item_size_max);
    stats_add_str(s, "maxconns_fast", "yes");
    stats_add_u64(s, "hashpower_init", settings.hashpower);
    stats_add_str(s, "flush_enabled", settings.flush_enabled ? "yes" : "no");
    stats_add_u64(s, "idle_timeout", settings.idle_timeout);
    stats_add_str(s, "relaxed_privileges", settings.relaxed_privileges ? "yes" : "no");
    stats_add_str(s, "ssl_enabled", settings.tls.enabled ? "yes" : "no");
    {   /* with TLS off too, as memcached (its NULL spellings) */
        stats_add_str(s, "ssl_chain_cert", settings.tls.chain_cert ? settings.tls.chain_cert : "(null)");
        stats_add_str(s, "ssl_key", settings.tls.key ? settings.tls.key : "(null)");
        stats_add_str(s, "ssl_ca_cert", settings.tls.ca_cert ? settings.tls.ca_cert : "NULL");
        stats_add_u64(s, "ssl_verify_mode", (uint64_t)settings.tls.verify_mode);
        stats_add_fmt(s, "ssl_min_version", "tlsv1.%d", settings.tls.min_version - 10);
        stats_add_str(s, "ssl_ciphers", settings.tls.ciphers ? settings.tls.ciphers : "NULL");
        stats_add_u64(s, "ssl_keyformat", (uint64_t)settings.tls.keyformat);
        stats_add_u64(s, "ssl_wbuf_size", (uint64_t)settings.tls.wbuf_kb * 1024);
        stats_add_str(s, "ssl_session_cache", settings.tls.session_cache ? "yes" : "no");
        stats_add_str(s, "ssl_kernel_tls", settings.tls.kernel_tls ? "yes" : "no");
    }
    stats_add_u64(s, "udp_validate_window", settings.udp_guard.window_s);
    stats_add_u64(s, "udp_sources_max", settings.udp_guard.sources_max);
    stats_add_u64(s, "udp_baf_percent", settings.udp_guard.baf_percent);
    stats_add_u64(s, "udp_src_rate", settings.udp_guard.src_rate);
    stats_add_u64(s, "udp_src_burst", settings.udp_guard.src_burst);
    stats_add_u64(s, "udp_global_rate", settings.udp_guard.global_rate);
    stats_add_u64(s, "udp_global_burst", settings.udp_guard.global_burst);
    stats_add_u64(s, "udp_alert_drops", settings.udp_guard.alert_drops);
    stats_add_u64(s, "allow_list_entries", settings.acl ? settings.acl->n : 0);
    stats_add_str(s, "protected_mode", settings.protected_mode_off ? "no" : "yes");
    stats_add_str(s, "sandbox", settings.sandbox ? "yes" : "no");
    settings_each_memcached_stat(s);
    stats_add_str(s, "memory_file", settings.memory_file ? settings.memory_file : "(null)");
    stats_off_settings(s);
    stats_flash_settings(s, &settings.flash);
}
