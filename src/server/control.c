/*
 * control: see control.h.
 */
#include "server/control.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/strnum.h"
#include "net/tls.h"
#include "server/settings.h"

void control_request_shutdown(bool graceful)
{
    kill(getpid(), graceful ? SIGUSR1 : SIGINT);
}

const char *control_refresh_certs(char *buf, size_t len)
{
    char err[512];

    if (!settings.tls.enabled)
        return "Error TLS not enabled";
    if (tls_reload(err, sizeof(err)) < 0) {
        log_warn("hardcached: refresh_certs: TLS certificate not reloaded (the old "
                 "one keeps serving): %s", err);
        snprintf(buf, len, "Error %s", err);
        return buf;
    }
    log_info("hardcached: TLS certificate %s reloaded (refresh_certs)",
             settings.tls.chain_cert);
    return "OK";
}

bool control_debugtime(const char *arg, size_t len)
{
#ifdef HC_DEBUG
    int64_t seconds;

    if (len == 1 && (arg[0] == 'p' || arg[0] == 'r'))
        clock_pause(arg[0] == 'p');   /* memcached-debug: pause, resume */
    else if (strnum_i64(arg, len, &seconds))
        clock_debugtime(seconds);
    else
        return false;
    return true;
#else
    (void)arg;
    (void)len;
    return false;
#endif
}
