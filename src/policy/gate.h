/*
 * gate: may this command run for this client now? One decision for every
 * protocol and transport, made on the command's attributes (cmd_class.h)
 * and the client's login and transport; the protocol words the refusal.
 */
#ifndef HC_POLICY_GATE_H
#define HC_POLICY_GATE_H

#include <stdbool.h>

#include "policy/cmd_class.h"

enum gate_verdict {
    GATE_SERVE,         /* run it */
    GATE_LOGIN,         /* it is an ascii login: check its data as one */
    GATE_REFUSE_LOGIN,  /* a login is required first */
    GATE_REFUSE_UDP,    /* not over UDP: admin, auth, conn, or not reviewed */
};

/* The decision for clients that are neither logged out nor on UDP. */
enum gate_verdict gate_check_restricted(const struct cmd_attrs *a, bool authenticated,
                                        bool udp);

/* Inline for the usual case, a logged-in (or login-free) TCP client, which
 * may run everything: one test per request, and the command's attributes
 * are not even read. */
static inline enum gate_verdict gate_check(const struct cmd_attrs *a,
                                           bool authenticated, bool udp)
{
    if (authenticated && !udp)
        return GATE_SERVE;
    return gate_check_restricted(a, authenticated, udp);
}

#endif
