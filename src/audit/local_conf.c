/*
 * local_conf: memcached's flags and configuration files, parsed without
 * I/O. A file counts as a configuration only when it holds memcached's
 * flags or RHEL's sysconfig keys: a stock Debian host must audit clean.
 */
#include "audit/local_conf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/strnum.h"

#define CONF_ARGV_MAX   128
#define CONF_WORDS_MAX  (16 * 1024)

int local_split(char *s, char **tok, int max)
{
    int n = 0;
    char *save = NULL;

    for (char *t = strtok_r(s, " \t\r\n", &save); t != NULL && n < max;
         t = strtok_r(NULL, " \t\r\n", &save))
        tok[n++] = t;
    return n;
}

static void flag_num(int64_t *dst, const char *v)
{
    int64_t n;

    if (strnum_i64(v, strlen(v), &n))
        *dst = n;
}

static char flag_long(const char *name, size_t len)
{
    static const struct { const char *name; char opt; } lng[] = {
        { "udp-port", 'U' }, { "port", 'p' }, { "listen", 'l' },
        { "enable-sasl", 'S' }, { "auth-file", 'Y' },
        { "enable-ssl", 'Z' }, { "user", 'u' }, { "unix-socket", 's' },
    };

    for (size_t k = 0; k < sizeof(lng) / sizeof(lng[0]); k++)
        if (strlen(lng[k].name) == len && memcmp(name, lng[k].name, len) == 0)
            return lng[k].opt;
    return 0;
}

void mc_flags_parse(struct mc_flags *f, int argc, char *const *argv)
{
    memset(f, 0, sizeof(*f));
    f->udp_port = f->tcp_port = -1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = NULL, *eq;
        char opt;

        if (a[0] != '-' || a[1] == '\0')
            continue;
        if (a[1] == '-') {
            eq = strchr(a, '=');
            opt = flag_long(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
            if (eq != NULL)
                v = eq + 1;
        } else {
            opt = a[1];
            if (a[2] != '\0')
                v = a + 2;
        }
        if (opt == 'S' || opt == 'Z') {
            *(opt == 'S' ? &f->sasl : &f->ssl) = true;
            continue;
        }
        if (strchr("UplYus", opt) == NULL || opt == 0)
            continue;
        if (v == NULL) {
            if (i + 1 >= argc)
                continue;
            v = argv[++i];
        }
        switch (opt) {
        case 'U': flag_num(&f->udp_port, v); break;
        case 'p': flag_num(&f->tcp_port, v); break;
        case 'Y': f->auth_file = true; break;
        case 's': f->unix_socket = true; break;
        case 'u': snprintf(f->user, sizeof(f->user), "%s", v); break;
        default: {  /* -l: memcached joins repeated -l with commas */
            size_t l = strlen(f->listen);
            snprintf(f->listen + l, sizeof(f->listen) - l, "%s%s",
                     l ? "," : "", v);
            break;
        }
        }
    }
}

/* RHEL's sysconfig keys; PORT and USER stand for -p and -u. */
static const char *sysconfig_flag(const char *key, bool *known)
{
    *known = true;
    if (strcmp(key, "PORT") == 0)
        return "-p";
    if (strcmp(key, "USER") == 0)
        return "-u";
    if (strcmp(key, "OPTIONS") == 0)
        return "";
    *known = strcmp(key, "MAXCONN") == 0 || strcmp(key, "CACHESIZE") == 0;
    return NULL;
}

static void words_add(char *words, size_t *wl, const char *a, const char *b)
{
    int n = snprintf(words + *wl, CONF_WORDS_MAX - *wl, " %s %s", a, b);

    if (n > 0)
        *wl = *wl + (size_t)n < CONF_WORDS_MAX ? *wl + (size_t)n :
              CONF_WORDS_MAX - 1;
}

bool mc_conf_parse(struct mc_flags *f, char *text)
{
    char words[CONF_WORDS_MAX], *argv[CONF_ARGV_MAX], *save = NULL;
    size_t wl = 0;
    bool is_conf = false;

    words[0] = '\0';
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq, *val;
        const char *flag;
        bool known;

        line[strcspn(line, "#")] = '\0';
        line += strspn(line, " \t");
        if (line[0] == '-') {   /* memcached.conf: one flag per line */
            words_add(words, &wl, line, "");
            is_conf = true;
            continue;
        }
        if ((eq = strchr(line, '=')) == NULL)
            continue;           /* Debian's "logfile FILE" and blank lines */
        *eq = '\0';
        val = eq + 1;
        val += strspn(val, "\"'");
        val[strcspn(val, "\"'\r")] = '\0';
        flag = sysconfig_flag(line, &known);
        is_conf |= known;
        if (flag != NULL)
            words_add(words, &wl, flag, val);
    }
    mc_flags_parse(f, local_split(words, argv, CONF_ARGV_MAX), argv);
    return is_conf;
}

static bool host_is_loopback(const char *host, size_t n)
{
    char buf[INET6_ADDRSTRLEN];
    uint8_t a[16];

    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, host, n);
    buf[n] = '\0';
    if (strcmp(buf, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, buf, a) == 1)
        return a[0] == 127;
    if (inet_pton(AF_INET6, buf, a) != 1)
        return false;
    return memcmp(a, &in6addr_loopback, 16) == 0 ||
           (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0 && a[12] == 127);
}

/* One -l item, as memcached's server_sockets() reads it: [v6]:port,
 * host:port (one colon), or a bare address (IPv6 has several colons). */
static bool item_is_loopback(const char *s, size_t n)
{
    const char *colon, *close;

    if (n >= 6 && memcmp(s, "notls:", 6) == 0) {
        s += 6;
        n -= 6;
    }
    if (n > 0 && s[0] == '[') {
        close = memchr(s, ']', n);
        if (close == NULL || (close + 1 < s + n && close[1] != ':'))
            return false;
        return host_is_loopback(s + 1, (size_t)(close - s - 1));
    }
    colon = memchr(s, ':', n);
    if (colon != NULL && memchr(colon + 1, ':', n - (size_t)(colon - s) - 1)
        == NULL)
        n = (size_t)(colon - s);
    return host_is_loopback(s, n);
}

bool mc_listen_is_loopback(const char *listen)
{
    bool any = false;

    for (const char *s = listen; *s != '\0'; ) {
        size_t n = strcspn(s, ",");
        size_t lead = strspn(s, " \t");
        if (n > lead) {
            size_t len = n - lead;
            while (len > 0 && (s[lead + len - 1] == ' ' ||
                               s[lead + len - 1] == '\t'))
                len--;
            if (len > 0 && !item_is_loopback(s + lead, len))
                return false;
            any |= len > 0;
        }
        s += n + (s[n] == ',');
    }
    return any;
}

int mc_udp_default_on(const char *version)
{
    const char *v = version;

    if (v == NULL || v[0] == '\0' || strstr(v, "hardcache") != NULL)
        return -1;
    if (strchr(v, ':') != NULL && strchr(v, ':') < v + strcspn(v, "."))
        v = strchr(v, ':') + 1;     /* a Debian epoch, "1:1.6.18" */
    switch (version_cmp(v, MC_UDP_OFF_SINCE)) {
    case -1: return 1;
    case 0: case 1: return 0;
    default: return -1;
    }
}

bool mc_dpkg_version(const char *status, const char *pkg, char *out,
                     size_t cap)
{
    size_t pl = strlen(pkg);

    /* stanzas are separated by blank lines; fields start a line */
    for (const char *s = status; s != NULL && *s != '\0'; ) {
        const char *end = strstr(s, "\n\n");
        size_t len = end ? (size_t)(end - s) : strlen(s);
        bool mine = false, installed = false;
        const char *ver = NULL;
        size_t vl = 0;

        for (const char *l = s; l < s + len; ) {
            size_t ll = strcspn(l, "\n");
            if (ll > (size_t)(s + len - l))
                ll = (size_t)(s + len - l);
            if (ll == 9 + pl && memcmp(l, "Package: ", 9) == 0 &&
                memcmp(l + 9, pkg, pl) == 0)
                mine = true;
            else if (ll > 8 && memcmp(l, "Status: ", 8) == 0)
                installed = ll >= 18 && memcmp(l + ll - 10, " installed",
                                               10) == 0;
            else if (ll > 9 && memcmp(l, "Version: ", 9) == 0) {
                ver = l + 9;
                vl = ll - 9;
            }
            l += ll + 1;
        }
        if (mine && installed && ver != NULL && vl < cap) {
            memcpy(out, ver, vl);
            out[vl] = '\0';
            return true;
        }
        s = end ? end + 2 : NULL;
    }
    return false;
}

void mc_flags_format(const struct mc_flags *f, char *out, size_t cap)
{
    char udp[32];

    if (f->udp_port < 0)
        snprintf(udp, sizeof(udp), "-U not set");
    else
        snprintf(udp, sizeof(udp), "-U %lld", (long long)f->udp_port);
    snprintf(out, cap, "%s, -l %s%s%s", udp,
             f->listen[0] ? f->listen : "not set (all addresses)",
             f->sasl ? ", -S" : "", f->auth_file ? ", -Y" : "");
}
