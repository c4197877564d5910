/*
 * buf: growth doubles, so appending is amortised O(1); memory is released
 * by the owner (connections free their buffers as soon as they drain).
 */
#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

int buf_grow(struct buf *b, size_t n)
{
    size_t len = buf_len(b);

    if (b->cap - b->wpos >= n)
        return 0;
    if (b->rpos > 0) {
        memmove(b->data, b->data + b->rpos, len);
        b->rpos = 0;
        b->wpos = len;
        if (b->cap - b->wpos >= n)
            return 0;
    }
    if (n > SIZE_MAX - len)
        return -1;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < len + n) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (p == NULL)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

void buf_consume(struct buf *b, size_t n)
{
    b->rpos += n;
    if (b->rpos >= b->wpos)
        b->rpos = b->wpos = 0;
}

void buf_destroy(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->rpos = b->wpos = b->cap = 0;
}
