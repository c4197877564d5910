/*
 * rate: a plain token bucket; the burst is a twentieth of a second's
 * worth (at least one), so the rate holds over short windows too.
 */
#include "audit/rate.h"

void rate_init(struct rate *r, double per_sec, uint64_t now)
{
    r->per_sec = per_sec;
    r->burst = per_sec / 20.0 < 1.0 ? 1.0 : per_sec / 20.0;
    r->tokens = r->burst;
    r->last = now;
}

static void refill(struct rate *r, uint64_t now)
{
    if (now > r->last) {
        r->tokens += (double)(now - r->last) * r->per_sec / 1e9;
        if (r->tokens > r->burst)
            r->tokens = r->burst;
    }
    r->last = now;
}

uint64_t rate_peek(struct rate *r, uint64_t now)
{
    if (r->per_sec <= 0)
        return 0;
    refill(r, now);
    if (r->tokens >= 1.0)
        return 0;
    return (uint64_t)((1.0 - r->tokens) * 1e9 / r->per_sec) + 1;
}

uint64_t rate_take(struct rate *r, uint64_t now)
{
    uint64_t wait = rate_peek(r, now);

    if (wait == 0 && r->per_sec > 0)
        r->tokens -= 1.0;
    return wait;
}
