/*
 * buf: a growable byte buffer with a read offset, used for connection input
 * that did not fit in one read and for replies waiting for the socket.
 * Ownership is explicit: buf_destroy() frees and leaves an empty buffer.
 */
#ifndef HC_CORE_BUF_H
#define HC_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct buf {
    char  *data;
    size_t rpos;   /* first unread byte */
    size_t wpos;   /* end of valid bytes */
    size_t cap;
};

static inline size_t buf_len(const struct buf *b) { return b->wpos - b->rpos; }
static inline char *buf_rptr(const struct buf *b) { return b->data + b->rpos; }

/* The slow half of buf_reserve: move, then grow. */
int buf_grow(struct buf *b, size_t n);

/* Make room for at least `n` more bytes after wpos; -1 on allocation
 * failure. Moves unread bytes to the front first. Inline, as buf_append:
 * a reply nearly always fits, and the two calls were 43 of a 32 B set's
 * instructions for its "STORED" (callgrind, issue 21). */
static inline int buf_reserve(struct buf *b, size_t n)
{
    return b->cap - b->wpos >= n ? 0 : buf_grow(b, n);
}

/* Append n bytes; -1 on allocation failure. */
static inline int buf_append(struct buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (buf_reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->wpos, p, n);
    b->wpos += n;
    return 0;
}

/* Mark n bytes as read; an emptied buffer rewinds to offset 0. */
void buf_consume(struct buf *b, size_t n);
/* Free the memory (buffer becomes empty and can be reused). */
void buf_destroy(struct buf *b);

#endif
