/*
 * text parser: memcached's ascii protocol, as a pure function. Bytes in,
 * one request (or "need more", or an error with what to do about it) out.
 * No allocation, no I/O, no knowledge of storage; the same entry point
 * serves the server, the unit tests and a fuzzer. Limits come from
 * protocol/limits.h and are checked before anything is buffered.
 */
#ifndef HC_PROTOCOL_TEXT_PARSE_H
#define HC_PROTOCOL_TEXT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/cmd_class.h"
#include "protocol/limits.h"

#define TEXT_KEY_MAX LIMIT_KEY_MAX
/* A meta command's key token may be base64 ("b" flag): 250 bytes encoded. */
#define TEXT_META_KEY_MAX (((TEXT_KEY_MAX + 2) / 3) * 4)

/* Every command the parser knows, one row each:
 *   X(enum name, wire name, fewest and most tokens after the name,
 *     class, over UDP, before login, carries the ascii login)
 * Fewer tokens than the row asks is "CLIENT_ERROR bad command line format"
 * and more is "ERROR", as memcached 1.6.45 (retrievals count their keys;
 * meta commands check their own); extra tokens are ignored where 1.6.45
 * ignores them (TEXT_ANY). The last four columns are what policy/gate.h
 * decides on. */
#define TEXT_ANY LIMIT_TOKENS_MAX
#define TEXT_COMMANDS(X)                                                   \
    X(GET,       "get",       1, TEXT_ANY, CMD_READ,  1, 0, 0)             \
    X(GETS,      "gets",      1, TEXT_ANY, CMD_READ,  1, 0, 0)             \
    X(GAT,       "gat",       2, TEXT_ANY, CMD_READ,  1, 0, 0)             \
    X(GATS,      "gats",      2, TEXT_ANY, CMD_READ,  1, 0, 0)             \
    X(SET,       "set",       4, TEXT_ANY, CMD_WRITE, 1, 0, 1)             \
    X(ADD,       "add",       4, TEXT_ANY, CMD_WRITE, 1, 0, 0)             \
    X(REPLACE,   "replace",   4, TEXT_ANY, CMD_WRITE, 1, 0, 0)             \
    X(APPEND,    "append",    4, TEXT_ANY, CMD_WRITE, 1, 0, 0)             \
    X(PREPEND,   "prepend",   4, TEXT_ANY, CMD_WRITE, 1, 0, 0)             \
    X(CAS,       "cas",       5, TEXT_ANY, CMD_WRITE, 1, 0, 0)             \
    X(INCR,      "incr",      2, TEXT_ANY, CMD_WRITE, 1, 0, 0)             \
    X(DECR,      "decr",      2, TEXT_ANY, CMD_WRITE, 1, 0, 0)             \
    X(TOUCH,     "touch",     2, TEXT_ANY, CMD_WRITE, 1, 0, 0)             \
    X(DELETE,    "delete",    1, TEXT_ANY, CMD_WRITE, 1, 0, 0)             \
    X(FLUSH_ALL, "flush_all", 0, TEXT_ANY, CMD_ADMIN, 0, 0, 0)             \
    X(VERSION,   "version",   0, TEXT_ANY, CMD_READ,  1, 1, 0)             \
    X(VERBOSITY, "verbosity", 1, TEXT_ANY, CMD_ADMIN, 0, 0, 0)             \
    X(QUIT,      "quit",      0, TEXT_ANY, CMD_CONN,  0, 0, 0)             \
    X(SHUTDOWN,  "shutdown",  0, TEXT_ANY, CMD_ADMIN, 0, 0, 0)             \
    X(CACHE_MEMLIMIT, "cache_memlimit", 0, TEXT_ANY, CMD_ADMIN, 0, 0, 0)   \
    X(STATS,     "stats",     0, TEXT_ANY, CMD_ADMIN, 0, 0, 0)             \
    X(REFRESH_CERTS, "refresh_certs", 0, TEXT_ANY, CMD_ADMIN, 0, 0, 0)     \
    X(DEBUGTIME, "debugtime", 1, TEXT_ANY, CMD_ADMIN, 0, 0, 0)             \
    X(MG,        "mg",        0, TEXT_ANY, CMD_READ,  0, 0, 0)             \
    X(MS,        "ms",        0, TEXT_ANY, CMD_WRITE, 0, 0, 0)             \
    X(MD,        "md",        0, TEXT_ANY, CMD_WRITE, 0, 0, 0)             \
    X(MA,        "ma",        0, TEXT_ANY, CMD_WRITE, 0, 0, 0)             \
    X(MN,        "mn",        0, TEXT_ANY, CMD_READ,  0, 0, 0)             \
    X(ME,        "me",        0, TEXT_ANY, CMD_ADMIN, 0, 0, 0)             \
    X(LRU_CRAWLER, "lru_crawler", 1, 2,    CMD_ADMIN, 0, 0, 0)             \
    X(LRU,       "lru",       1, TEXT_ANY, CMD_ADMIN, 0, 0, 0)             \
    X(SLABS,     "slabs",     1, TEXT_ANY, CMD_ADMIN, 0, 0, 0)             \
    X(EXTSTORE,  "extstore",  1, TEXT_ANY, CMD_ADMIN, 0, 0, 0)             \
    X(WATCH,     "watch",     0, TEXT_ANY, CMD_ADMIN, 0, 0, 0)

enum text_cmd {
    TEXT_CMD_NONE,
#define X(name, str, amin, amax, cls, udp, pre, login) TEXT_CMD_##name,
    TEXT_COMMANDS(X)
#undef X
    TEXT_CMD_COUNT
};

/* Error replies, exactly as memcached words them. */
#define TEXT_ERRORS(X)                                                     \
    X(NONE, "")                                                            \
    X(UNKNOWN, "ERROR")                                                    \
    X(FORMAT, "CLIENT_ERROR bad command line format")                      \
    X(BAD_CHUNK, "CLIENT_ERROR bad data chunk")                            \
    X(LINE_TOO_LONG, "CLIENT_ERROR line too long")                         \
    X(TOO_LARGE, "SERVER_ERROR object too large for cache")                \
    X(BAD_DELTA, "CLIENT_ERROR invalid numeric delta argument")            \
    X(BAD_EXPTIME, "CLIENT_ERROR invalid exptime argument")

enum text_error {
#define X(name, str) TEXT_ERR_##name,
    TEXT_ERRORS(X)
#undef X
    TEXT_ERR_COUNT
};

enum text_parse_status {
    TEXT_PARSE_OK,        /* a whole request, or a piece of a retrieval
                             line (req->partial); req->consumed bytes */
    TEXT_PARSE_NEED_MORE, /* req->need = total bytes needed, 0 if unknown */
    TEXT_PARSE_ERROR,     /* reply req->error (unless NONE), drop
                             req->consumed bytes, then discard req->swallow
                             more as they arrive; close if req->close.
                             With req->partial (a piece of a retrieval
                             line): discard the rest of the line, then
                             reply */
};

struct text_token {
    const char *p;
    size_t      n;
};

/* Whether token t is exactly the word lit. */
static inline bool text_token_is(const struct text_token *t, const char *lit)
{
    return t->n == strlen(lit) && memcmp(t->p, lit, t->n) == 0;
}

struct text_limits {
    size_t value_max;      /* values larger than this are refused (-I) */
};

struct text_req {
    enum text_cmd   cmd;
    size_t          consumed;
    size_t          need;
    enum text_error error;
    bool            close;
    size_t          swallow;
    bool            noreply;
    bool            partial;   /* retrieval: more keys follow on this line
                                  (text_parse_more reads them) */

    struct text_token key;     /* single-key commands; retrieval: the first */
    struct text_token keys;    /* retrieval: the keys, space separated */
    uint32_t        nkeys;
    uint32_t        flags;
    int64_t         exptime;   /* storage, touch, gat; flush_all delay */
    bool            has_delay; /* flush_all with a delay argument */
    uint64_t        cas_unique;
    uint64_t        number;    /* incr/decr delta, verbosity, memlimit MB */
    const char     *data;      /* storage value, without "\r\n" */
    size_t          ndata;

    /* the command's tokens after the name (stats, shutdown; meta: the key,
     * for ms the length, then the flags from args[meta_flags_at]) */
    uint32_t        meta_flags_at;
    uint32_t        nargs;     /* here, not after args[]: on a line parsing
                                  writes anyway (the read-ahead keeps 64) */
    struct text_token args[LIMIT_TOKENS_MAX];
};

/* Parse one request from buf[0..len). */
enum text_parse_status text_parse(const char *buf, size_t len,
                                  const struct text_limits *lim,
                                  struct text_req *req);

/* The rest of a retrieval line whose first piece text_parse returned
 * (req->partial): its next complete keys, as a request of command cmd
 * (partial again until the "\n" is among them). The caller counts the
 * line's bytes against LIMIT_GET_LINE_MAX. */
enum text_parse_status text_parse_more(const char *buf, size_t len,
                                       enum text_cmd cmd, struct text_req *req);

/* Iterate over the keys of a retrieval request: start with *pos = 0;
 * returns false when there are no more. The first key comes from the
 * parse (req->key), and a request of one key ends there: scanning a get's
 * key again to prefetch and to serve it was 200 of a 32 B get's 2,133
 * instructions, and a call for each step another 80 (callgrind, issue
 * 21). */
bool text_next_key_scan(const struct text_req *req, size_t *pos,
                        struct text_token *key);
static inline bool text_next_key(const struct text_req *req, size_t *pos,
                                 struct text_token *key)
{
    if (*pos == 0 && req->key.n != 0) {
        *key = req->key;
        *pos = (size_t)(req->key.p + req->key.n - req->keys.p);
        return true;
    }
    if (req->nkeys == 1)   /* it was the only one */
        return false;
    return text_next_key_scan(req, pos, key);
}

const char *text_error_string(enum text_error e);
const char *text_cmd_name(enum text_cmd c);
/* The table's policy columns for a command (TEXT_CMD_NONE: an admin
 * command that may run nowhere before a login and never over UDP). */
extern const struct cmd_attrs text_cmd_attr_table[TEXT_CMD_COUNT];
static inline const struct cmd_attrs *text_cmd_attrs(enum text_cmd c)
{
    return &text_cmd_attr_table[(unsigned)c < TEXT_CMD_COUNT ? c : TEXT_CMD_NONE];
}

#endif
