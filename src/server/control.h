/*
 * control: what a command may ask of the server process itself. Kept apart
 * so that a command's processor needs nothing of the workers.
 */
#ifndef HC_SERVER_CONTROL_H
#define HC_SERVER_CONTROL_H

#include <stdbool.h>

/* Ask the main thread to shut the server down (the `shutdown` command):
 * the same signal an operator would send. */
void control_request_shutdown(bool graceful);

#endif
