/*
 * prefetch: the cache line size and loading a byte range ahead of use.
 * always_inline: GCC takes a function that only prefetches for one
 * without effects and drops its calls. Addresses are integers, so a range
 * may run past the end of an object (a prefetch never faults).
 */
#ifndef HC_CORE_PREFETCH_H
#define HC_CORE_PREFETCH_H

#include <stdint.h>

#define CACHE_LINE 64   /* bytes; x86-64 and the common arm64 cores */

/* Start loading every cache line that holds a byte of [start, end);
 * write: the lines are about to be written (a hint; x86-64 without
 * PREFETCHW enabled loads them as for a read). */
static inline __attribute__((always_inline)) void
prefetch_range(uintptr_t start, uintptr_t end, int write)
{
    for (uintptr_t a = start & ~(uintptr_t)(CACHE_LINE - 1); a < end; a += CACHE_LINE) {
        if (write)
            __builtin_prefetch((const void *)a, 1);
        else
            __builtin_prefetch((const void *)a, 0);
    }
}

#endif
