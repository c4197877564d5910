/* log: one line per message, written with a single call so threads do not
 * interleave within a line. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

_Atomic int log_verbosity;

/* fmt was checked against its arguments by log_msg/log_fatal (log.h). */
__attribute__((format(printf, 1, 0)))
static void vlog(const char *fmt, va_list ap)
{
    char line[1024];
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);

    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stderr);
}

void log_msg(int level, const char *fmt, ...)
{
    va_list ap;

    if (level > log_verbosity)
        return;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

void log_fatal(int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
    exit(status);
}
