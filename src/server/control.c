/*
 * control: see control.h.
 */
#include "server/control.h"

#include <signal.h>
#include <unistd.h>

void control_request_shutdown(bool graceful)
{
    kill(getpid(), graceful ? SIGUSR1 : SIGINT);
}
