/*
 * park: a request whose value is on flash waits here without holding its
 * worker. The processor's visit meets a flashed item (store_item.flash),
 * asks park_value, and on PARK_WAIT stops the request (PROC_STEP_PARKED);
 * an I/O thread reads and verifies the value, hands it back to the worker
 * through its wake-up eventfd, and the connection runs the same request
 * again, which now finds the value here. Requests behind it wait, so
 * pipelined replies keep their order. Knows sessions, not protocols or
 * connections.
 */
#ifndef HC_SERVER_PARK_H
#define HC_SERVER_PARK_H

#include <stdbool.h>

#include "storage/store.h"

struct session;
struct store_item;

enum park_value {
    PARK_SERVE,   /* *value holds it->nvalue verified bytes */
    PARK_MISS,    /* the read failed verification or could not be made */
    PARK_WAIT,    /* a read is pending: stop, the request runs again */
};

/* Under the shard lock, in a visit of an item with it->flash set. Counts
 * memcached's get_extstore, miss_from_extstore and badcrc_from_extstore
 * (on the session's thread) once per read. */
enum park_value park_value(struct session *s, const struct store_item *it,
                           const char **value);
/* After the store_read whose visit called park_value (and did not wait):
 * what the client is told it met (a value that failed on flash is a
 * miss); the read's value is released. */
enum store_found park_found(struct session *s, enum store_found found);
/* A multi-get that waits: ask now for the value of a key it will read
 * after the one it waits for, if that is on flash, so the reads overlap
 * (no effect on the item: not a use). */
void park_ahead(struct session *s, const char *key, size_t nkey);
/* The request ran to its end: free the reads it took. */
void park_end(struct session *s);
/* How a transport has a session whose reads are back run again (set once
 * by the TCP transport; called on the session's own thread). */
void park_set_waker(void (*wake)(struct session *s));
/* On the worker: take the reads finished for the sessions of `owner`
 * (their session.owner) and wake those whose reads are all back; the
 * caller then runs its woken connections. */
void park_resume(const void *owner);
/* A connection closes: its pending reads are freed when they end. */
void park_cancel(struct session *s);
/* At exit, after the I/O threads stopped: free what was left. */
void park_teardown(void);

#endif
