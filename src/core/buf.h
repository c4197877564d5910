/*
 * buf: a growable byte buffer with a read offset, used for connection input
 * that did not fit in one read and for replies waiting for the socket.
 * Ownership is explicit: buf_destroy() frees and leaves an empty buffer.
 */
#ifndef HC_CORE_BUF_H
#define HC_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
    char  *data;
    size_t rpos;   /* first unread byte */
    size_t wpos;   /* end of valid bytes */
    size_t cap;
};

static inline size_t buf_len(const struct buf *b) { return b->wpos - b->rpos; }
static inline char *buf_rptr(const struct buf *b) { return b->data + b->rpos; }

/* Make room for at least `n` more bytes after wpos; -1 on allocation
 * failure. Moves unread bytes to the front first. */
int buf_reserve(struct buf *b, size_t n);
/* Append n bytes; -1 on allocation failure. */
int buf_append(struct buf *b, const void *p, size_t n);
/* Mark n bytes as read; an emptied buffer rewinds to offset 0. */
void buf_consume(struct buf *b, size_t n);
/* Free the memory (buffer becomes empty and can be reused). */
void buf_destroy(struct buf *b);

#endif
