/*
 * session: see session.h.
 */
#include "server/session.h"

#include <string.h>

#include "server/stats.h"

void session_oom(struct session *s)
{
    STAT_INCR(s->stats, malloc_fails);
    s->closing = true;
}

void session_line(struct session *s, const char *line)
{
    session_append(s, line, strlen(line));
    session_append(s, "\r\n", 2);
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
