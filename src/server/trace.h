/*
 * trace: memcached's -vv lines for each request and its reply ("<fd" what
 * came in, ">fd" what went out), so that operators and tools that read
 * memcached's very verbose output read ours. A processor names its tracer
 * (processor.h); the transport calls it only when -vv is on.
 */
#ifndef HC_SERVER_TRACE_H
#define HC_SERVER_TRACE_H

#include <stddef.h>

/* Text and meta: "<fd <command line>", then ">fd <reply line>" per line,
 * "sending key K" for a VALUE (its data not shown), as memcached 1.6.45. */
void trace_text(int fd, const char *req, size_t reqlen, const char *reply,
                size_t replylen);
/* Binary: the request header and each response header as memcached dumps
 * them ("Read binary protocol data:", "Writing bin response:"). */
void trace_binary(int fd, const char *req, size_t reqlen, const char *reply,
                  size_t replylen);

#endif
