/*
 * rate: token buckets for the global and per-target send rates, so an
 * audit of a /16 cannot itself become a flood.
 */
#ifndef HC_AUDIT_RATE_H
#define HC_AUDIT_RATE_H

#include <stdint.h>

struct rate {
    double per_sec;     /* 0 = unlimited */
    double burst;
    double tokens;
    uint64_t last;
};

void rate_init(struct rate *r, double per_sec, uint64_t now);
/* Takes one token: returns 0, or the ns to wait until one is there. */
uint64_t rate_take(struct rate *r, uint64_t now);
/* Like rate_take but does not take. */
uint64_t rate_peek(struct rate *r, uint64_t now);

#endif
