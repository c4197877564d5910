/*
 * clock: process-relative seconds, updated by a timer rather than calling
 * time() on every request.
 */
#include "core/clock.h"

#include <stdatomic.h>
#include <stdbool.h>

static time_t process_started;
static _Atomic rel_time_t current_time = CLOCK_START;
static _Atomic int64_t skew;    /* seconds added by clock_advance() and
                                   clock_debugtime() */
static _Atomic bool paused;     /* clock_pause(): clock_update() does nothing */

void clock_setup(void)
{
    process_started = time(NULL) - CLOCK_START;
    atomic_store(&current_time, CLOCK_START);
}

void clock_restore(time_t started)
{
    time_t now = time(NULL);

    process_started = started;
    atomic_store(&current_time, now - started > (time_t)CLOCK_START
                                ? (rel_time_t)(now - started) : CLOCK_START);
}

/* A relative time no earlier than the start (a debug clock moved back). */
static rel_time_t clock_clamp(int64_t t)
{
    return t < (int64_t)CLOCK_START ? CLOCK_START :
           t > (int64_t)UINT32_MAX ? UINT32_MAX : (rel_time_t)t;
}

void clock_update(void)
{
    if (atomic_load(&paused))
        return;
    rel_time_t rel = clock_clamp((int64_t)(time(NULL) - process_started) + atomic_load(&skew));
    /* never go backwards, even if the wall clock does */
    if (rel > atomic_load_explicit(&current_time, memory_order_relaxed))
        atomic_store_explicit(&current_time, rel, memory_order_relaxed);
}

void clock_advance(uint32_t seconds)
{
    atomic_fetch_add(&skew, seconds);
    atomic_fetch_add(&current_time, seconds);
}

void clock_debugtime(int64_t seconds)
{
    int64_t total = atomic_fetch_add(&skew, seconds) + seconds;
    atomic_store(&current_time, clock_clamp((int64_t)atomic_load(&current_time) + total));
}

void clock_pause(bool pause)
{
    atomic_store(&paused, pause);
}

rel_time_t clock_now(void)
{
    return atomic_load_explicit(&current_time, memory_order_relaxed);
}

time_t clock_started(void)
{
    return process_started;
}

rel_time_t clock_exptime(int64_t exptime)
{
    rel_time_t now = clock_now();

    if (exptime == 0)
        return 0;
    if (exptime < 0)
        return CLOCK_EXPIRED;
    if (exptime > CLOCK_REL_MAX) {
        /* absolute unix time; in the past or at process start = expired */
        if (exptime <= (int64_t)process_started)
            return CLOCK_EXPIRED;
        int64_t rel = exptime - (int64_t)process_started;
        return rel > (int64_t)UINT32_MAX ? UINT32_MAX : (rel_time_t)rel;
    }
    uint64_t rel = (uint64_t)now + (uint64_t)exptime;
    return rel > UINT32_MAX ? UINT32_MAX : (rel_time_t)rel;
}

uint64_t clock_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void clock_mono_deadline(struct timespec *ts, uint64_t us)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(us / 1000000);
    ts->tv_nsec += (long)(us % 1000000) * 1000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}
