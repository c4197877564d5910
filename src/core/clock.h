/*
 * clock: a coarse, cheap "now" for expiry decisions. Times inside the cache
 * are seconds since the process started (rel_time_t, like memcached's), so an
 * item's expiry fits in 32 bits and reading the clock is one relaxed load.
 */
#ifndef HC_CORE_CLOCK_H
#define HC_CORE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

typedef uint32_t rel_time_t;

/* Relative time at start-up. Starts well above 1 so that CLOCK_EXPIRED is
 * always in the past. */
#define CLOCK_START        100u
/* An exptime that is already in the past ("negative exptime"). */
#define CLOCK_EXPIRED      1u
/* exptime values up to this many seconds are relative, larger are absolute
 * unix times (memcached's rule). */
#define CLOCK_REL_MAX      (60 * 60 * 24 * 30)

/* Fix the process start time. Call once before anything reads the clock. */
void clock_setup(void);
/* Continue the relative clock of an earlier process that started at
 * `started` (a restart from the -e file: items' times stay right). */
void clock_restore(time_t started);
/* Re-read the wall clock; called by the server's timer about once a second
 * and by tests that need time to pass. */
void clock_update(void);
/* Test hook: move the clock forward by `seconds`. */
void clock_advance(uint32_t seconds);
/* memcached-debug's `debugtime N` (N may be negative): the offset from the
 * wall clock grows by N, and the clock moves by the whole offset at once,
 * as 1.6.45 does (`delta += N; current_time += delta`: a second
 * `debugtime 10` moves it 20, until the next tick sets wall + 20). */
void clock_debugtime(int64_t seconds);
/* memcached-debug's `debugtime p` / `r`: the clock stops (clock_update()
 * leaves it) or goes on. */
void clock_pause(bool pause);

rel_time_t clock_now(void);
/* Unix time of the process start (for `stats` uptime and absolute times). */
time_t clock_started(void);

/* memcached's exptime rule: 0 = never (returns 0), negative = already
 * expired, up to CLOCK_REL_MAX = relative seconds, larger = absolute unix
 * time (in the past = already expired). */
rel_time_t clock_exptime(int64_t exptime);

/* Monotonic milliseconds, for deadlines and rates (not item times). */
uint64_t clock_mono_ms(void);
/* *ts = CLOCK_MONOTONIC now plus us microseconds: the deadline of a
 * pthread_cond_timedwait on a condition set to that clock. */
void clock_mono_deadline(struct timespec *ts, uint64_t us);

#endif
