/*
 * watch: the watchers and their rings (see watch.h). A fixed table of
 * WATCH_MAX slots; each slot's ring is a byte FIFO guarded by the slot's
 * mutex, taken by an emitter for one memcpy and by the watcher's worker
 * to drain. The wake-up (an eventfd write) is sent only when a ring goes
 * from empty to not empty, so a busy stream costs no system call per line.
 */
#include "server/watch.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/buf.h"

struct watcher {
    pthread_mutex_t lock;
    _Atomic bool used;
    unsigned kinds;
    int      wake_fd;
    char    *ring;
    size_t   head, len;     /* bytes queued from head, modulo the ring */
    uint64_t skipped;
};

_Atomic unsigned watch_active;
static struct watcher slots[WATCH_MAX];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t next_gid;

static void (*change_hook)(unsigned kinds);

void watch_set_change_hook(void (*fn)(unsigned kinds))
{
    pthread_mutex_lock(&table_lock);
    change_hook = fn;
    pthread_mutex_unlock(&table_lock);
}

/* table_lock held */
static void recompute_active(void)
{
    unsigned kinds = 0;

    for (int i = 0; i < WATCH_MAX; i++)
        if (slots[i].used)
            kinds |= slots[i].kinds;
    atomic_store(&watch_active, kinds);
    if (change_hook != NULL)
        change_hook(kinds);
}

struct watcher *watch_add(unsigned kinds, int wake_fd)
{
    struct watcher *w = NULL;

    pthread_mutex_lock(&table_lock);
    for (int i = 0; i < WATCH_MAX && w == NULL; i++)
        if (!slots[i].used)
            w = &slots[i];
    if (w != NULL) {
        char *ring = malloc(WATCH_RING_BYTES);
        if (ring == NULL) {
            w = NULL;
        } else {
            if (w->ring == NULL)
                pthread_mutex_init(&w->lock, NULL);
            pthread_mutex_lock(&w->lock);
            free(w->ring);
            w->ring = ring;
            w->head = w->len = 0;
            w->skipped = 0;
            w->kinds = kinds;
            w->wake_fd = wake_fd;
            w->used = true;
            pthread_mutex_unlock(&w->lock);
            recompute_active();
        }
    }
    pthread_mutex_unlock(&table_lock);
    return w;
}

void watch_remove(struct watcher **wp)
{
    struct watcher *w = *wp;

    if (w == NULL)
        return;
    pthread_mutex_lock(&table_lock);
    pthread_mutex_lock(&w->lock);
    w->used = false;
    w->len = 0;
    pthread_mutex_unlock(&w->lock);
    recompute_active();
    pthread_mutex_unlock(&table_lock);
    *wp = NULL;
}

/* Append n bytes to w's ring, or count the line lost. w->lock held.
 * Returns true if the ring was empty (the owner must be woken). */
static bool do_put(struct watcher *w, const char *p, size_t n)
{
    bool was_empty = w->len == 0;
    size_t tail, first;

    if (w->len + n > WATCH_RING_BYTES) {
        w->skipped++;
        return false;
    }
    tail = (w->head + w->len) % WATCH_RING_BYTES;
    first = n < WATCH_RING_BYTES - tail ? n : WATCH_RING_BYTES - tail;
    memcpy(w->ring + tail, p, first);
    memcpy(w->ring, p + first, n - first);
    w->len += n;
    return was_empty;
}

void watch_emit(unsigned kind, const char *fmt, ...)
{
    char line[WATCH_LINE_MAX];
    struct timeval tv;
    va_list ap;
    int n, m;

    gettimeofday(&tv, NULL);
    /* memcached's prefix, its unpadded microseconds included */
    n = snprintf(line, sizeof(line), "ts=%lld.%d gid=%llu ", (long long)tv.tv_sec,
                 (int)tv.tv_usec, (unsigned long long)atomic_fetch_add(&next_gid, 1) + 1);
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    n += m < (int)(sizeof(line) - (size_t)n - 1) ? m : (int)(sizeof(line) - (size_t)n - 2);
    line[n++] = '\n';
    for (int i = 0; i < WATCH_MAX; i++) {
        struct watcher *w = &slots[i];
        bool wake = false;
        int fd = -1;
        if (!atomic_load_explicit(&w->used, memory_order_relaxed))
            continue;   /* rechecked under the lock */
        pthread_mutex_lock(&w->lock);
        if (w->used && (w->kinds & kind)) {
            wake = do_put(w, line, (size_t)n);
            fd = w->wake_fd;
        }
        pthread_mutex_unlock(&w->lock);
        if (wake) {
            uint64_t one = 1;
            (void)!write(fd, &one, sizeof(one));
        }
    }
}

size_t watch_drain(struct watcher *w, struct buf *out, size_t max)
{
    char skip[48];
    size_t moved = 0, n, first;
    int k = 0;

    pthread_mutex_lock(&w->lock);
    if (w->skipped > 0) {
        k = snprintf(skip, sizeof(skip), "skipped=%llu\n", (unsigned long long)w->skipped);
        if (buf_append(out, skip, (size_t)k) == 0) {
            w->skipped = 0;
            moved += (size_t)k;
        }
    }
    n = w->len < max ? w->len : max;
    first = n < WATCH_RING_BYTES - w->head ? n : WATCH_RING_BYTES - w->head;
    /* room for both parts first: a ring that wraps must go out whole or
     * not at all, or its first part would be sent again next time */
    if (n > 0 && buf_reserve(out, n) == 0 &&
        buf_append(out, w->ring + w->head, first) == 0 &&
        buf_append(out, w->ring, n - first) == 0) {
        w->head = (w->head + n) % WATCH_RING_BYTES;
        w->len -= n;
        moved += n;
    }
    pthread_mutex_unlock(&w->lock);
    return moved;
}

void watch_teardown(void)
{
    for (int i = 0; i < WATCH_MAX; i++) {
        free(slots[i].ring);
        slots[i].ring = NULL;
    }
}
