/*
 * trace: see trace.h. Only runs with -vv; every line goes out with one
 * write (core/log), so threads interleave between lines, never within.
 */
#include "server/trace.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/strnum.h"

#define BIN_HEADER 24

/* The line at p (at most n bytes), without "\r\n"; *next: after it. */
static size_t line_at(const char *p, size_t n, size_t *next)
{
    const char *nl = memchr(p, '\n', n);
    size_t len = nl ? (size_t)(nl - p) : n;

    *next = nl ? len + 1 : n;
    if (len > 0 && p[len - 1] == '\r')
        len--;
    return len;
}

/* The data length a "VALUE k f n [cas]" or "VA n ..." line announces;
 * 0 when it is not one. */
static size_t data_block(const char *line, size_t len, const char **key, size_t *klen)
{
    const char *tok[4];
    size_t tlen[4], nt = 0, i = 0;
    uint32_t n;

    while (i < len && nt < 4) {
        while (i < len && line[i] == ' ')
            i++;
        tok[nt] = line + i;
        while (i < len && line[i] != ' ')
            i++;
        tlen[nt] = (size_t)(line + i - tok[nt]);
        if (tlen[nt] > 0)
            nt++;
    }
    if (nt >= 4 && tlen[0] == 5 && memcmp(tok[0], "VALUE", 5) == 0 &&
        strnum_u32(tok[3], tlen[3], &n)) {
        *key = tok[1];
        *klen = tlen[1];
        return (size_t)n + 2;
    }
    if (nt >= 2 && tlen[0] == 2 && memcmp(tok[0], "VA", 2) == 0 &&
        strnum_u32(tok[1], tlen[1], &n)) {
        *key = NULL;
        return (size_t)n + 2;
    }
    return 0;
}

void trace_text(int fd, const char *req, size_t reqlen, const char *reply,
                size_t replylen)
{
    size_t next, len = line_at(req, reqlen, &next), off = 0;

    if (reqlen > 0)
        log_debug("<%d %.*s", fd, (int)len, req);
    while (off < replylen) {
        const char *key = NULL;
        size_t klen = 0, skip;

        len = line_at(reply + off, replylen - off, &next);
        skip = data_block(reply + off, len, &key, &klen);
        if (key != NULL)
            log_debug(">%d sending key %.*s", fd, (int)klen, key);
        else
            log_debug(">%d %.*s", fd, (int)len, reply + off);
        off += next;
        off += skip < replylen - off ? skip : replylen - off;
    }
}

/* memcached's dump of a 24-byte header: a title, then four bytes a line. */
static void dump_header(char dir, int fd, const char *title, const char *indent,
                        const unsigned char *h)
{
    log_debug("%c%d %s", dir, fd, title);
    for (int i = 0; i < BIN_HEADER; i += 4)
        log_debug("%c%d%s 0x%02x 0x%02x 0x%02x 0x%02x", dir, fd, indent,
                  h[i], h[i + 1], h[i + 2], h[i + 3]);
}

void trace_binary(int fd, const char *req, size_t reqlen, const char *reply,
                  size_t replylen)
{
    size_t off = 0;

    if (reqlen >= BIN_HEADER)
        dump_header('<', fd, "Read binary protocol data:", "   ",
                    (const unsigned char *)req);
    while (replylen - off >= BIN_HEADER) {
        const unsigned char *h = (const unsigned char *)reply + off;
        uint32_t body = (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 |
                        (uint32_t)h[10] << 8 | h[11];
        dump_header('>', fd, "Writing bin response:", "  ", h);
        if (body > replylen - off - BIN_HEADER)
            break;
        off += BIN_HEADER + body;
    }
}
