/*
 * trace: see trace.h. Only runs with -vv; every line goes out with one
 * write (core/log), so threads interleave between lines, never within.
 */
#include "server/trace.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/strnum.h"
#include "server/processor.h"

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

_Thread_local const char *trace_noreply;

/* Which reply lines memcached 1.6.45 prints for a command. It prints
 * what goes through its out_string(): storage results, a retrieval's
 * lines, mn, me's EN, the admin commands' one-liners and the parser's own
 * errors ("too few tokens", ERROR); not the replies its newer code writes
 * directly: meta commands, delete/incr/decr/touch, a storage line refused
 * before its value (bad number, key or size), stats and dump listings. */
enum trace_shown {
    SHOWN_ALL,        /* every line */
    SHOWN_STORE,      /* the result once the value is read, and bad chunks */
    SHOWN_PARSE,      /* only the parser's "too few tokens" error */
    SHOWN_ME,         /* all but the ME line */
    SHOWN_ONE_LINE,   /* a one-line reply other than END (stats, dumps) */
    SHOWN_GET,        /* every line; a bad key's error as 1.6.45 prints it */
};

struct trace_cmd {
    const char      *name;
    enum trace_shown shown;
    uint8_t          min;   /* fewer tokens after the name: the parser's
                               error (text/parse.h's table; meta commands:
                               the key, and ms its size) */
    int8_t           len;   /* the value's length, checked by the parser
                               too: its token (-1: none) */
};

/* The commands whose replies are not all shown; any other: SHOWN_ALL. */
static const struct trace_cmd trace_cmds[] = {
    { "set", SHOWN_STORE, 4, 3 }, { "add", SHOWN_STORE, 4, 3 },
    { "replace", SHOWN_STORE, 4, 3 }, { "append", SHOWN_STORE, 4, 3 },
    { "prepend", SHOWN_STORE, 4, 3 }, { "cas", SHOWN_STORE, 5, 3 },
    { "delete", SHOWN_PARSE, 1, -1 }, { "incr", SHOWN_PARSE, 2, -1 },
    { "decr", SHOWN_PARSE, 2, -1 }, { "touch", SHOWN_PARSE, 2, -1 },
    { "mg", SHOWN_PARSE, 1, -1 }, { "md", SHOWN_PARSE, 1, -1 },
    { "ma", SHOWN_PARSE, 1, -1 }, { "ms", SHOWN_PARSE, 2, 1 },
    { "me", SHOWN_ME, 1, -1 }, { "stats", SHOWN_ONE_LINE, 0, -1 },
    { "lru_crawler", SHOWN_ONE_LINE, 0, -1 }, { "get", SHOWN_GET, 1, -1 },
    { "gets", SHOWN_GET, 1, -1 }, { "gat", SHOWN_GET, 2, -1 }, { "gats", SHOWN_GET, 2, -1 },
};

static struct trace_cmd trace_cmd_of(const char *line, size_t len)
{
    size_t n = 0;

    while (n < len && line[n] != ' ')
        n++;
    for (size_t i = 0; i < sizeof(trace_cmds) / sizeof(trace_cmds[0]); i++)
        if (strlen(trace_cmds[i].name) == n && memcmp(trace_cmds[i].name, line, n) == 0)
            return trace_cmds[i];
    return (struct trace_cmd){ "", SHOWN_ALL, 0, -1 };
}

/* Did the parser refuse the line (memcached 1.6.45's process_request):
 * too few tokens, or a value length that is not a number? */
static bool parse_refused(const struct trace_cmd *c, const char *line, size_t len)
{
    size_t n = 0, i = 0;

    while (i < len) {
        while (i < len && line[i] == ' ')
            i++;
        size_t start = i;
        while (i < len && line[i] != ' ')
            i++;
        uint32_t v;
        if (i == start)
            continue;
        if (c->len >= 0 && n == (size_t)c->len + 1 && !strnum_u32(line + start, i - start, &v))
            return true;
        n++;
    }
    return n == 0 || n - 1 < c->min;
}

static bool starts(const char *line, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len >= n && memcmp(line, lit, n) == 0;
}

/* Is reply line `line` one memcached prints for this command? */
static bool trace_shown(const struct trace_cmd *c, bool refused, const char *line,
                        size_t len, size_t nlines)
{
    bool parse_error = refused && starts(line, len, "CLIENT_ERROR bad command line format");

    switch (c->shown) {
    case SHOWN_STORE:
        return parse_error || !(starts(line, len, "CLIENT_ERROR") ||
                                starts(line, len, "SERVER_ERROR")) ||
               starts(line, len, "CLIENT_ERROR bad data chunk");
    case SHOWN_PARSE:
        return parse_error;
    case SHOWN_ME:
        return !starts(line, len, "ME ");
    case SHOWN_ONE_LINE:
        return nlines == 1 && !(len == 3 && memcmp(line, "END", 3) == 0);
    default:
        return true;
    }
}

/* The reply line at reply[*off..n): its length (without "\r\n"), the key
 * of a VALUE line (NULL: none); *off moves past it and any data block. */
static size_t reply_line(const char *reply, size_t n, size_t *off, const char **key,
                         size_t *klen)
{
    size_t next, len = line_at(reply + *off, n - *off, &next);
    size_t skip = data_block(reply + *off, len, key, klen);

    *off += next;
    *off += skip < n - *off ? skip : n - *off;
    return len;
}

void trace_text(int fd, const char *req, size_t reqlen, const char *reply,
                size_t replylen)
{
    size_t next, len = line_at(req, reqlen, &next), off = 0, nlines = 0, klen;
    struct trace_cmd cmd = trace_cmd_of(req, len);
    bool refused = parse_refused(&cmd, req, len);
    const char *key;

    if (reqlen > 0)
        log_debug("<%d %.*s", fd, (int)len, req);
    if (trace_noreply != NULL) {   /* memcached prints what it did not send */
        log_debug(">%d NOREPLY %.*s", fd, (int)strcspn(trace_noreply, "\r"), trace_noreply);
        trace_noreply = NULL;
    }
    while (off < replylen) {
        reply_line(reply, replylen, &off, &key, &klen);
        nlines++;
    }
    for (off = 0; off < replylen;) {
        const char *line = reply + off;
        key = NULL;
        len = reply_line(reply, replylen, &off, &key, &klen);
        if (key != NULL)
            log_debug(">%d sending key %.*s", fd, (int)klen, key);
        else if (cmd.shown == SHOWN_GET && !refused &&
                 starts(line, len, "CLIENT_ERROR bad command line format"))
            /* a bad key: 1.6.45 prints its error line with the "\r\n" it
             * keeps, then the newline (and sends an empty line: README) */
            log_debug(">%d %.*s\r\n", fd, (int)len, line);
        else if (trace_shown(&cmd, refused, line, len, nlines))
            log_debug(">%d %.*s", fd, (int)len, line);
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

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const unsigned char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* The line memcached 1.6.45 prints for a binary request once its header
 * is read ("<fd GET key", "Deleting key", ...), by opcode. */
static void trace_binary_request(int fd, const unsigned char *h, size_t len)
{
    size_t nkey = (size_t)h[2] << 8 | h[3], next = h[4];
    uint32_t body = be32(h + 8);
    const unsigned char *ext = h + BIN_HEADER;
    const char *key = (const char *)ext + next;
    int k = (int)nkey, vlen = (int)(body - nkey - next);

    if (BIN_HEADER + next + nkey > len || next + nkey > body)
        return;
    switch (h[1]) {
    case 0x00: case 0x09: case 0x0c: case 0x0d:   /* get, getq, getk, getkq */
        log_debug("<%d GET %.*s", fd, k, key);
        break;
    case 0x1c: case 0x1d: case 0x1e: case 0x23: case 0x24:   /* touch, gat* */
        log_debug("<%d TOUCH %.*s", fd, k, key);
        break;
    case 0x01: case 0x11:
        log_debug("<%d SET %.*s Value len is %d", fd, k, key, vlen);
        break;
    case 0x02: case 0x12:
        log_debug("<%d ADD %.*s Value len is %d", fd, k, key, vlen);
        break;
    case 0x03: case 0x13:
        log_debug("<%d REPLACE %.*s Value len is %d", fd, k, key, vlen);
        break;
    case 0x0e: case 0x0f: case 0x19: case 0x1a:   /* append, prepend */
        log_debug("Value len is %d", vlen);
        break;
    case 0x04: case 0x14:
        log_debug("Deleting %.*s", k, key);
        break;
    case 0x05: case 0x06: case 0x15: case 0x16:   /* incr, decr: both "incr" */
        if (next == 20)
            log_debug("incr %.*s %lld, %llu, %d", k, key, (long long)be64(ext),
                      (unsigned long long)be64(ext + 8), (int)be32(ext + 16));
        break;
    case 0x10:
        if (nkey > 0)
            log_debug("<%d STATS %.*s", fd, k, key);
        break;
    default:
        break;
    }
}

void trace_binary(int fd, const char *req, size_t reqlen, const char *reply,
                  size_t replylen)
{
    size_t off = 0;

    if (reqlen >= BIN_HEADER) {
        dump_header('<', fd, "Read binary protocol data:", "   ",
                    (const unsigned char *)req);
        trace_binary_request(fd, (const unsigned char *)req, reqlen);
    }
    while (replylen - off >= BIN_HEADER) {
        const unsigned char *h = (const unsigned char *)reply + off;
        uint32_t body = be32(h + 8);
        bool status = h[6] != 0 || h[7] != 0, plain = h[2] == 0 && h[3] == 0 && h[4] == 0;
        if (body > replylen - off - BIN_HEADER)
            break;
        if (status && plain && body > 0)   /* an error and its message */
            log_debug(">%d Writing an error: %.*s", fd, (int)body,
                      (const char *)h + BIN_HEADER);
        dump_header('>', fd, "Writing bin response:", "  ", h);
        off += BIN_HEADER + body;
    }
}

/* memcached's names: the text processor (meta included) is "ascii". */
static const char *trace_proto_name(const struct processor *p)
{
    return strcmp(p->name, "text") == 0 ? "ascii" : p->name;
}

void trace_conn_new(int fd, const struct processor *const *procs)
{
    if (log_verbosity < 2 || procs[0] == NULL)
        return;
    if (procs[1] != NULL)
        log_debug("<%d new auto-negotiating client connection", fd);
    else
        log_debug("<%d new %s client connection.", fd, trace_proto_name(procs[0]));
}

void trace_conn_protocol(int fd, const struct processor *const *procs,
                         const struct processor *p)
{
    if (log_verbosity > 1 && p != NULL && procs[0] != NULL && procs[1] != NULL)
        log_debug("%d: Client using the %s protocol", fd, trace_proto_name(p));
}
