/*
 * engine: one poll loop that drives many targets at once. Each target is a
 * task of up to 1 + PROBE_COUNT nonblocking sockets; the loop hands out
 * rate-limit tokens, waits on readiness and deadlines, and moves a task
 * from the read-only phase to the optional attacker's-method phases.
 */
#ifndef HC_AUDIT_ENGINE_H
#define HC_AUDIT_ENGINE_H

#include <stdbool.h>

#include "audit/audit.h"

struct target_list;

/* Called once per target when its result is final (in completion order).
 * The result is only valid during the call. */
typedef void (*engine_done_fn)(void *arg, struct result *r);

/* Runs every target tl yields. Returns 0, or -1 if the loop itself
 * failed (poll, memory). */
int engine_run(struct target_list *tl, const struct audit_opts *o,
               engine_done_fn done, void *arg);
/* Async-signal-safe: finish now. Targets in progress are reported as
 * interrupted, a value --amplify stored is deleted first. */
void engine_stop(void);
/* True once engine_stop was called: the run did not reach its end. */
bool engine_stopped(void);

#endif
