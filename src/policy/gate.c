/*
 * gate: see gate.h. UDP first (a datagram's source is unproven, so what it
 * may ask does not depend on a login), then the login.
 */
#include "policy/gate.h"

#include "policy/auth.h"

enum gate_verdict gate_check_restricted(const struct cmd_attrs *a, bool authenticated,
                                        bool udp)
{
    if (udp && (!a->udp || a->cls == CMD_ADMIN || a->cls == CMD_AUTH || a->cls == CMD_CONN))
        return GATE_REFUSE_UDP;
    if (authenticated || a->prelogin || a->cls == CMD_AUTH)
        return GATE_SERVE;
    if (a->login && auth_ascii_enabled())
        return GATE_LOGIN;
    return GATE_REFUSE_LOGIN;
}
