/*
 * local_advice: the remediation text of the local audit. Operators fix a
 * memcached where its flags live, so the text says where that is on each
 * distribution, how to apply it, and gives firewall rules with the ports
 * actually found, not the advisory's 11211.
 */
#include "audit/local_advice.h"

#include <stdarg.h>
#include <stdio.h>

void local_fix_port(struct local_fix *fx, uint16_t port)
{
    fx->udp = true;
    for (size_t i = 0; i < fx->nudp; i++)
        if (fx->udp_ports[i] == port)
            return;
    if (fx->nudp < LOCAL_FIX_PORTS)
        fx->udp_ports[fx->nudp++] = port;
}

struct text {
    char *out;
    size_t cap, len;
};

static void add(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->len >= t->cap - 1)
        return;
    va_start(ap, fmt);
    n = vsnprintf(t->out + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len = t->len + (size_t)n < t->cap ? t->len + (size_t)n : t->cap - 1;
}

/* The ports joined by sep, each with a prefix: "11211,11213". */
static void ports(struct text *t, const struct local_fix *fx, const char *pre,
                  const char *sep)
{
    for (size_t i = 0; i < fx->nudp; i++)
        add(t, "%s%s%u", i ? sep : "", pre, fx->udp_ports[i]);
}

void local_advice_build(char *out, size_t cap, const struct local_fix *fx)
{
    struct text t = { out, cap, 0 };

    out[0] = '\0';
    if (!fx->udp && !fx->bind && !fx->auth && !fx->root && !fx->upgrade)
        return;
    add(&t, "Flags go in /etc/memcached.conf on Debian/Ubuntu (one per line; "
        "/etc/memcached_NAME.conf for memcached@NAME), in OPTIONS=\"...\" of "
        "/etc/sysconfig/memcached on RHEL/Fedora, or in a systemd drop-in "
        "(systemctl edit memcached: ExecStart= then the full command line); "
        "in a container, in its command line.\n");
    if (fx->udp) {
        add(&t, "UDP: put -U 0 there (replacing -U ");
        ports(&t, fx, "", ", -U ");
        add(&t, "); %s\nUntil it restarts, drop UDP port ",
            fx->memcached ? LOGIN_UDP_MEMCACHED : LOGIN_UDP_HARDCACHED);
        ports(&t, fx, "", ", ");
        add(&t, " from outside:\n  nft add rule inet filter input udp dport "
            "%s", fx->nudp > 1 ? "{ " : "");
        ports(&t, fx, "", ", ");
        add(&t, "%s drop\n  iptables -I INPUT -p udp -m multiport --dports ",
            fx->nudp > 1 ? " }" : "");
        ports(&t, fx, "", ",");
        add(&t, " -j DROP   (ip6tables likewise)\n  ");
        ports(&t, fx, "ufw deny proto udp to any port ", "; ");
        add(&t, "\n");
    }
    if (fx->bind)
        add(&t, "Bind: -l 127.0.0.1 (or a private address; several with "
            "commas), and keep its TCP port closed to the internet.\n");
    if (fx->auth)
        add(&t, "Authentication: -S (SASL) or -Y FILE%s.\n",
            fx->memcached ? ", with -U 0" : "");
    if (fx->root)
        add(&t, "User: -u memcache (any unprivileged user), not root.\n");
    if (fx->upgrade)
        add(&t, "Upgrade memcached to 1.5.6 or later and keep -U 0 "
            "explicit.\n");
    add(&t, "Apply: systemctl restart memcached (memcached@NAME for an "
        "instance), or restart the container.\n");
    if (fx->udp) {
        add(&t, "Verify: hardcache-audit --verify --local ");
        ports(&t, fx, "127.0.0.1:", " ");
        add(&t, "\n");
    }
}
