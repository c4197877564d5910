/*
 * text parser: memcached's ascii protocol, as a pure function. Bytes in,
 * one request (or "need more", or an error with what to do about it) out.
 * No allocation, no I/O, no knowledge of storage; the same entry point
 * serves the server, the unit tests and a fuzzer. Limits come from
 * policy/limits.h and are checked before anything is buffered.
 */
#ifndef HC_PROTOCOL_TEXT_PARSE_H
#define HC_PROTOCOL_TEXT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/limits.h"

#define TEXT_KEY_MAX 250
/* A meta command's key token may be base64 ("b" flag): 250 bytes encoded. */
#define TEXT_META_KEY_MAX (((TEXT_KEY_MAX + 2) / 3) * 4)

/* Every command the parser knows: enum name, wire name. */
#define TEXT_COMMANDS(X)                                                   \
    X(GET, "get") X(GETS, "gets") X(GAT, "gat") X(GATS, "gats")            \
    X(SET, "set") X(ADD, "add") X(REPLACE, "replace")                      \
    X(APPEND, "append") X(PREPEND, "prepend") X(CAS, "cas")                \
    X(INCR, "incr") X(DECR, "decr") X(TOUCH, "touch") X(DELETE, "delete")  \
    X(FLUSH_ALL, "flush_all") X(VERSION, "version")                        \
    X(VERBOSITY, "verbosity") X(QUIT, "quit") X(SHUTDOWN, "shutdown")      \
    X(CACHE_MEMLIMIT, "cache_memlimit") X(STATS, "stats")                 \
    X(MG, "mg") X(MS, "ms") X(MD, "md") X(MA, "ma") X(MN, "mn") X(ME, "me")

enum text_cmd {
    TEXT_CMD_NONE,
#define X(name, str) TEXT_CMD_##name,
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
    X(TOO_MANY_KEYS, "CLIENT_ERROR too many keys")                         \
    X(TOO_LARGE, "SERVER_ERROR object too large for cache")                \
    X(BAD_DELTA, "CLIENT_ERROR invalid numeric delta argument")            \
    X(BAD_EXPTIME, "CLIENT_ERROR invalid exptime argument")                \
    X(DELETE_USAGE,                                                        \
      "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]")

enum text_error {
#define X(name, str) TEXT_ERR_##name,
    TEXT_ERRORS(X)
#undef X
    TEXT_ERR_COUNT
};

enum text_parse_status {
    TEXT_PARSE_OK,        /* a whole request; req->consumed bytes */
    TEXT_PARSE_NEED_MORE, /* req->need = total bytes needed, 0 if unknown */
    TEXT_PARSE_ERROR,     /* reply req->error (unless NONE), drop
                             req->consumed bytes, then discard req->swallow
                             more as they arrive; close if req->close */
};

struct text_token {
    const char *p;
    size_t      n;
};

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

    struct text_token key;     /* single-key commands */
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

/* Iterate over the keys of a retrieval request: start with *pos = 0;
 * returns false when there are no more. */
bool text_next_key(const struct text_req *req, size_t *pos,
                   struct text_token *key);

const char *text_error_string(enum text_error e);
const char *text_cmd_name(enum text_cmd c);

#endif
