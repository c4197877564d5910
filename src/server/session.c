/*
 * session: see session.h. The one place where appending a reply can fail.
 */
#include "server/session.h"

#include <string.h>

void session_append(struct session *s, const void *p, size_t n)
{
    if (n > 0 && buf_append(s->out, p, n) < 0)
        s->closing = true;
}

void session_line(struct session *s, const char *line)
{
    session_append(s, line, strlen(line));
    session_append(s, "\r\n", 2);
}

char *session_reserve(struct session *s, size_t n)
{
    if (buf_reserve(s->out, n) < 0) {
        s->closing = true;
        return NULL;
    }
    return s->out->data + s->out->wpos;
}

void session_commit(struct session *s, const char *end)
{
    s->out->wpos = (size_t)(end - s->out->data);
}

static session_walk_fn walker;

void sessions_set_walker(session_walk_fn walk)
{
    walker = walk;
}

void sessions_each(session_info_fn fn, void *ctx)
{
    if (walker != NULL)
        walker(fn, ctx);
}
