/*
 * control: what a command may ask of the server process itself. Kept apart
 * so that a command's processor needs nothing of the workers.
 */
#ifndef HC_SERVER_CONTROL_H
#define HC_SERVER_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

/* Ask the main thread to shut the server down (the `shutdown` command):
 * the same signal an operator would send. */
void control_request_shutdown(bool graceful);

#define CONTROL_REPLY_MAX 640
/* `refresh_certs`: reload the TLS certificate, key and CA files as SIGHUP
 * does. Returns the reply line (no "\r\n"), memcached's: "OK", or "Error
 * ..." (the old certificate keeps serving), written into buf if needed. */
const char *control_refresh_certs(char *buf, size_t len);

/* memcached-debug's `debugtime N|p|r`: move the server's clock by N
 * seconds (clock_debugtime: 1.6.45's arithmetic), pause it, resume it
 * (expiry tests without sleeping). Only in a debug build (-DHC_DEBUG:
 * build/asan); false there for a bad argument, and always in a release
 * build, which answers ERROR as memcached's release build does. */
bool control_debugtime(const char *arg, size_t len);

#endif
