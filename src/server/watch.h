/*
 * watch: memcached's `watch` log streams (fetchers, mutations, evictions,
 * connevents, deletions). Any thread emits an event line; each watcher
 * has a bounded ring that emitters fill under its own small lock and that
 * the watcher's worker drains into the watcher's connection when woken
 * through its loop. A watcher that does not read loses lines, counted and
 * told as memcached's "skipped=N" line; an emitter never waits on a
 * socket. Knows connections only as a wake-up file descriptor and an
 * owner pointer; knows no protocol.
 */
#ifndef HC_SERVER_WATCH_H
#define HC_SERVER_WATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

enum watch_kind {
    WATCH_FETCHERS   = 1 << 0,
    WATCH_MUTATIONS  = 1 << 1,
    WATCH_EVICTIONS  = 1 << 2,
    WATCH_CONNEVENTS = 1 << 3,
    WATCH_DELETIONS  = 1 << 4,
    WATCH_SYSEVENTS  = 1 << 5,
    WATCH_RAWCMDS    = 1 << 6,
};

#define WATCH_MAX         8            /* watchers at once */
#define WATCH_RING_BYTES  (64u * 1024) /* lines queued per watcher */
#define WATCH_LINE_MAX    1024         /* longest event line */

/* The kinds some watcher wants: emitters test this first (one relaxed
 * load), so events cost nothing while nobody watches. */
extern _Atomic unsigned watch_active;

static inline bool watch_wanted(unsigned kind)
{
    return (atomic_load_explicit(&watch_active, memory_order_relaxed) & kind) != 0;
}

struct watcher;

/* A new watcher of `kinds`, woken by writing wake_fd (an eventfd) when
 * lines arrive for it. NULL when WATCH_MAX watch already. */
struct watcher *watch_add(unsigned kinds, int wake_fd);
void watch_remove(struct watcher **w);
/* Called (under the table's lock) whenever the kinds watched change. */
void watch_set_change_hook(void (*fn)(unsigned kinds));
/* At exit, after the workers: the rings. */
void watch_teardown(void);

/* Append one event line ("ts=... gid=... " is put in front, "\n" after)
 * to every watcher of kind. */
__attribute__((format(printf, 2, 3)))
void watch_emit(unsigned kind, const char *fmt, ...);

/* Move up to max bytes of w's lines to out (a "skipped=N" line first if
 * any were lost). Returns the bytes moved; 0 when empty. */
size_t watch_drain(struct watcher *w, struct buf *out, size_t max);

#endif
