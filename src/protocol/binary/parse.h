/*
 * binary parser: memcached's binary protocol as a pure function. A request
 * is a 24-byte header, then extras, key and value. Every length in the
 * header is checked against the opcode's rules before a byte of the body is
 * buffered, because memcached's binary CVEs were all trusted lengths
 * (bodylen < keylen + extlen underflows, oversized extras, huge bodies).
 * No allocation, no I/O; the server, the unit tests and a fuzzer share it.
 */
#ifndef HC_PROTOCOL_BINARY_PARSE_H
#define HC_PROTOCOL_BINARY_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/cmd_class.h"
#include "protocol/limits.h"

#define BIN_HEADER_LEN   24
#define BIN_REQ_MAGIC    0x80
#define BIN_RES_MAGIC    0x81
#define BIN_EXTRAS_MAX   20    /* incr/decr, the largest extras */
/* SASL mechanism names and credentials: no real exchange is longer. */
#define BIN_SASL_BODY_MAX 4096

/* key rule: forbidden, required, or either */
enum bin_key_rule { BIN_KEY_NONE, BIN_KEY_REQ, BIN_KEY_ANY };

/* Every opcode memcached dispatches:
 * X(name, code, base command, quiet, extras a, extras b, key rule, value,
 *   class, over UDP, before login)
 * The extras length must be a or b; value says whether a value may follow
 * the key (otherwise bodylen must be exactly keylen + extlen). The last
 * three columns are what policy/gate.h decides on; an opcode not listed is
 * an admin command that runs nowhere before a login and never over UDP. */
#define BIN_OPCODES(X)                                                                \
    X(GET,        0x00, GET,        0, 0, 0, BIN_KEY_REQ,  0, CMD_READ, 1, 0)         \
    X(SET,        0x01, SET,        0, 8, 8, BIN_KEY_REQ,  1, CMD_WRITE, 1, 0)        \
    X(ADD,        0x02, ADD,        0, 8, 8, BIN_KEY_REQ,  1, CMD_WRITE, 1, 0)        \
    X(REPLACE,    0x03, REPLACE,    0, 8, 8, BIN_KEY_REQ,  1, CMD_WRITE, 1, 0)        \
    X(DELETE,     0x04, DELETE,     0, 0, 0, BIN_KEY_REQ,  0, CMD_WRITE, 1, 0)        \
    X(INCREMENT,  0x05, INCREMENT,  0, 20, 20, BIN_KEY_REQ, 0, CMD_WRITE, 1, 0)       \
    X(DECREMENT,  0x06, DECREMENT,  0, 20, 20, BIN_KEY_REQ, 0, CMD_WRITE, 1, 0)       \
    X(QUIT,       0x07, QUIT,       0, 0, 0, BIN_KEY_NONE, 0, CMD_CONN, 0, 0)         \
    X(FLUSH,      0x08, FLUSH,      0, 0, 4, BIN_KEY_NONE, 0, CMD_ADMIN, 0, 0)        \
    X(GETQ,       0x09, GET,        1, 0, 0, BIN_KEY_REQ,  0, CMD_READ, 1, 0)         \
    X(NOOP,       0x0a, NOOP,       0, 0, 0, BIN_KEY_NONE, 0, CMD_READ, 1, 0)         \
    X(VERSION,    0x0b, VERSION,    0, 0, 0, BIN_KEY_NONE, 0, CMD_READ, 1, 1)         \
    X(GETK,       0x0c, GETK,       0, 0, 0, BIN_KEY_REQ,  0, CMD_READ, 1, 0)         \
    X(GETKQ,      0x0d, GETK,       1, 0, 0, BIN_KEY_REQ,  0, CMD_READ, 1, 0)         \
    X(APPEND,     0x0e, APPEND,     0, 0, 0, BIN_KEY_REQ,  1, CMD_WRITE, 1, 0)        \
    X(PREPEND,    0x0f, PREPEND,    0, 0, 0, BIN_KEY_REQ,  1, CMD_WRITE, 1, 0)        \
    X(STAT,       0x10, STAT,       0, 0, 0, BIN_KEY_ANY,  0, CMD_ADMIN, 0, 0)        \
    X(SETQ,       0x11, SET,        1, 8, 8, BIN_KEY_REQ,  1, CMD_WRITE, 1, 0)        \
    X(ADDQ,       0x12, ADD,        1, 8, 8, BIN_KEY_REQ,  1, CMD_WRITE, 1, 0)        \
    X(REPLACEQ,   0x13, REPLACE,    1, 8, 8, BIN_KEY_REQ,  1, CMD_WRITE, 1, 0)        \
    X(DELETEQ,    0x14, DELETE,     1, 0, 0, BIN_KEY_REQ,  0, CMD_WRITE, 1, 0)        \
    X(INCREMENTQ, 0x15, INCREMENT,  1, 20, 20, BIN_KEY_REQ, 0, CMD_WRITE, 1, 0)       \
    X(DECREMENTQ, 0x16, DECREMENT,  1, 20, 20, BIN_KEY_REQ, 0, CMD_WRITE, 1, 0)       \
    X(QUITQ,      0x17, QUIT,       1, 0, 0, BIN_KEY_NONE, 0, CMD_CONN, 0, 0)         \
    X(FLUSHQ,     0x18, FLUSH,      1, 0, 4, BIN_KEY_NONE, 0, CMD_ADMIN, 0, 0)        \
    X(APPENDQ,    0x19, APPEND,     1, 0, 0, BIN_KEY_REQ,  1, CMD_WRITE, 1, 0)        \
    X(PREPENDQ,   0x1a, PREPEND,    1, 0, 0, BIN_KEY_REQ,  1, CMD_WRITE, 1, 0)        \
    X(TOUCH,      0x1c, TOUCH,      0, 4, 4, BIN_KEY_REQ,  0, CMD_WRITE, 1, 0)        \
    X(GAT,        0x1d, GAT,        0, 4, 4, BIN_KEY_REQ,  0, CMD_READ, 1, 0)         \
    X(GATQ,       0x1e, GAT,        1, 4, 4, BIN_KEY_REQ,  0, CMD_READ, 1, 0)         \
    X(SASL_LIST_MECHS, 0x20, SASL_LIST_MECHS, 0, 0, 0, BIN_KEY_NONE, 0, CMD_AUTH, 0, 1)\
    X(SASL_AUTH,  0x21, SASL_AUTH,  0, 0, 0, BIN_KEY_REQ,  1, CMD_AUTH, 0, 1)         \
    X(SASL_STEP,  0x22, SASL_STEP,  0, 0, 0, BIN_KEY_REQ,  1, CMD_AUTH, 0, 1)         \
    X(GATK,       0x23, GATK,       0, 4, 4, BIN_KEY_REQ,  0, CMD_READ, 1, 0)         \
    X(GATKQ,      0x24, GATK,       1, 4, 4, BIN_KEY_REQ,  0, CMD_READ, 1, 0)

enum bin_opcode {
#define X(name, code, base, q, ea, eb, k, v, cls, udp, pre) BIN_OP_##name = code,
    BIN_OPCODES(X)
#undef X
};

/* Response status codes and the message memcached puts in error bodies. */
#define BIN_STATUSES(X)                                                     \
    X(OK,            0x0000, "")                                            \
    X(KEY_ENOENT,    0x0001, "Not found")                                   \
    X(KEY_EEXISTS,   0x0002, "Data exists for key.")                        \
    X(E2BIG,         0x0003, "Too large.")                                  \
    X(EINVAL,        0x0004, "Invalid arguments")                           \
    X(NOT_STORED,    0x0005, "Not stored.")                                 \
    X(DELTA_BADVAL,  0x0006, "Non-numeric server-side value for incr or decr") \
    X(AUTH_ERROR,    0x0020, "Auth failure.")                               \
    X(AUTH_CONTINUE, 0x0021, "")                                            \
    X(UNKNOWN_COMMAND, 0x0081, "Unknown command")                           \
    X(ENOMEM,        0x0082, "Out of memory")

enum bin_status {
#define X(name, code, msg) BIN_STATUS_##name = code,
    BIN_STATUSES(X)
#undef X
};

enum bin_parse_status {
    BIN_PARSE_OK,         /* a whole request; req->consumed bytes */
    BIN_PARSE_NEED_MORE,  /* req->need = total bytes needed; if
                             req->have_header the header fields are set
                             (and valid) already */
    BIN_PARSE_ERROR,      /* reply req->status (unless OK: close silently),
                             drop req->consumed bytes, discard req->swallow
                             more; close if req->close */
};

struct bin_limits {
    size_t value_max;     /* values larger than this get E2BIG (-I) */
    size_t swallow_max;   /* larger refused values close the connection */
};

struct bin_req {
    /* header, host byte order */
    uint8_t         opcode;
    uint8_t         extlen;
    uint16_t        keylen;
    uint32_t        bodylen;
    uint32_t        opaque;
    uint64_t        cas;
    bool            have_header;
    bool            known;     /* an opcode of BIN_OPCODES */
    uint8_t         base;      /* the opcode without its quiet form */
    bool            quiet;

    const char     *key;
    const char     *value;
    size_t          nvalue;
    /* extras, decoded */
    uint32_t        flags;     /* set/add/replace */
    uint32_t        exptime;   /* set/add/replace, touch/gat, incr/decr, flush */
    uint64_t        delta;     /* incr/decr */
    uint64_t        initial;   /* incr/decr */

    size_t          consumed;
    size_t          need;
    enum bin_status status;    /* on error */
    bool            close;
    size_t          swallow;
};

/* Parse one request from buf[0..len). */
enum bin_parse_status bin_parse(const char *buf, size_t len,
                                const struct bin_limits *lim,
                                struct bin_req *req);

/* Write a response header for `req`'s opcode and opaque into out. */
void bin_compose_header(unsigned char out[BIN_HEADER_LEN], uint8_t opcode,
                        enum bin_status status, uint8_t extlen, uint16_t keylen,
                        uint32_t bodylen, uint32_t opaque, uint64_t cas);

/* memcached's message for an error status ("" for OK). */
const char *bin_status_message(enum bin_status s);
/* The table's policy columns for an opcode (any byte). */
const struct cmd_attrs *bin_opcode_attrs(uint8_t opcode);

#endif
