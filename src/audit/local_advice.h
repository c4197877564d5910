/*
 * local_advice: what to do about the local audit's findings, with the real
 * ports, the file the flags live in and how to apply them: the per-finding
 * advice (in the FINDINGS table) and one remediation text per run.
 */
#ifndef HC_AUDIT_LOCAL_ADVICE_H
#define HC_AUDIT_LOCAL_ADVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADVICE_LOCAL_UDP "Turn UDP off with -U 0 where memcached's flags " \
    "live and restart it; block its UDP port until then (the remediation " \
    "below names the port and the file)."
#define ADVICE_LOCAL_BIND "Bind loopback or a private address (-l " \
    "127.0.0.1) where memcached's flags live, and restart it."
#define ADVICE_LOCAL_AUTH "Enable authentication (-S for SASL, or -Y FILE) " \
    "and bind a local address (-l). {login_udp}"
#define ADVICE_LOCAL_CONF_UDP "Put -U 0 in this file (replacing any -U N) " \
    "and restart memcached."

/* What a login (-S/-Y) does to UDP: memcached refuses to start with both;
 * hardcached keeps UDP, bounded by its guard (README "UDP"). */
#define LOGIN_UDP_MEMCACHED "memcached refuses to start with UDP and " \
    "authentication (-S/-Y) together, so adding a login also ends UDP."
#define LOGIN_UDP_HARDCACHED "hardcached keeps UDP with a login (-S/-Y), " \
    "then answering only addresses that logged in over TCP (without one, " \
    "other sources get at most the bytes they sent); -U 0 ends UDP " \
    "altogether."

#define LOCAL_FIX_PORTS 16

/* What the local verdict found, for the remediation text. */
struct local_fix {
    uint16_t udp_ports[LOCAL_FIX_PORTS];
    size_t nudp;
    bool udp, bind, auth, root, upgrade;
    bool memcached;     /* a UDP or login finding concerns a server that is
                           not hardcached (or whose owner is unknown) */
};

void local_fix_port(struct local_fix *fx, uint16_t port);
/* Writes the remediation ("" when there is nothing to fix). */
void local_advice_build(char *out, size_t cap, const struct local_fix *fx);

#endif
