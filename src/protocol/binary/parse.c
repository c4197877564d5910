/*
 * binary parser: see parse.h. The order of checks follows memcached 1.6's
 * dispatch_bin_command so that clients see the same status for the same
 * mistake: bad magic closes silently; a body shorter than key + extras is
 * "Unknown command" and a close; a key over 250 bytes or extras/key/body
 * that do not fit the opcode is "Invalid arguments" and a close; an unknown
 * opcode is "Unknown command" with the body skipped. A value larger than
 * the item limit is "Too large." and skipped, as memcached does.
 */
#include "protocol/binary/parse.h"

#include <string.h>

struct op_rule {
    bool    known;
    uint8_t base;
    bool    quiet;
    uint8_t ext_a, ext_b;
    uint8_t key;
    bool    value;
};

static const struct op_rule rules[256] = {
#define X(name, code, b, q, ea, eb, k, v, cls, udp, pre) \
    [code] = { true, BIN_OP_##b, q, ea, eb, k, v },
    BIN_OPCODES(X)
#undef X
};

static const struct cmd_attrs unknown_attrs = { CMD_ADMIN, false, false, false };
static const struct cmd_attrs attrs[256] = {
#define X(name, code, b, q, ea, eb, k, v, c, udp, pre) [code] = { c, udp, pre, false },
    BIN_OPCODES(X)
#undef X
};

const struct cmd_attrs *bin_opcode_attrs(uint8_t opcode)
{
    return rules[opcode].known ? &attrs[opcode] : &unknown_attrs;
}

static const struct {
    enum bin_status status;
    const char     *msg;
} messages[] = {
#define X(name, code, msg) { BIN_STATUS_##name, msg },
    BIN_STATUSES(X)
#undef X
};

const char *bin_status_message(enum bin_status s)
{
    for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++)
        if (messages[i].status == s)
            return messages[i].msg;
    return "UNHANDLED ERROR";
}

static uint16_t rd16(const unsigned char *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}

static void wr16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void wr32(unsigned char *p, uint32_t v)
{
    wr16(p, (uint16_t)(v >> 16));
    wr16(p + 2, (uint16_t)v);
}

void bin_compose_header(unsigned char out[BIN_HEADER_LEN], uint8_t opcode,
                        enum bin_status status, uint8_t extlen, uint16_t keylen,
                        uint32_t bodylen, uint32_t opaque, uint64_t cas)
{
    out[0] = BIN_RES_MAGIC;
    out[1] = opcode;
    wr16(out + 2, keylen);
    out[4] = extlen;
    out[5] = 0;   /* datatype: raw bytes */
    wr16(out + 6, (uint16_t)status);
    wr32(out + 8, bodylen);
    memcpy(out + 12, &opaque, 4);   /* opaque is echoed byte for byte */
    wr32(out + 16, (uint32_t)(cas >> 32));
    wr32(out + 20, (uint32_t)cas);
}

static enum bin_parse_status fail(struct bin_req *req, enum bin_status st,
                                  bool close, size_t consumed, size_t swallow)
{
    req->status = st;
    req->close = close;
    req->consumed = consumed;
    req->swallow = swallow;
    return BIN_PARSE_ERROR;
}

/* The header alone: every length decided before the body is buffered. */
static enum bin_parse_status parse_header(const unsigned char *h,
                                          const struct bin_limits *lim,
                                          struct bin_req *req)
{
    const struct op_rule *r;
    size_t fixed;

    if (h[0] != BIN_REQ_MAGIC)
        return fail(req, BIN_STATUS_OK, true, 0, 0);
    req->opcode = h[1];
    req->keylen = rd16(h + 2);
    req->extlen = h[4];
    req->bodylen = rd32(h + 8);
    memcpy(&req->opaque, h + 12, 4);
    req->cas = rd64(h + 16);
    fixed = (size_t)req->keylen + req->extlen;   /* at most 65790: no overflow */
    if (fixed > req->bodylen)
        return fail(req, BIN_STATUS_UNKNOWN_COMMAND, true, 0, 0);
    r = &rules[req->opcode];
    req->known = r->known;
    req->base = r->base;
    req->quiet = r->quiet;
    req->have_header = true;
    if (req->keylen > LIMIT_KEY_MAX)
        return fail(req, BIN_STATUS_EINVAL, true, 0, 0);
    if (!r->known)   /* skip the body, keep the connection */
        return fail(req, BIN_STATUS_UNKNOWN_COMMAND, false, BIN_HEADER_LEN,
                    req->bodylen);
    if ((req->extlen != r->ext_a && req->extlen != r->ext_b) ||
        (r->key == BIN_KEY_NONE && req->keylen != 0) ||
        (r->key == BIN_KEY_REQ && req->keylen == 0) ||
        (!r->value && req->bodylen != fixed))
        return fail(req, BIN_STATUS_EINVAL, true, 0, 0);
    req->nvalue = req->bodylen - fixed;
    if (req->base == BIN_OP_SASL_AUTH || req->base == BIN_OP_SASL_STEP) {
        if (req->bodylen > BIN_SASL_BODY_MAX)
            return fail(req, BIN_STATUS_EINVAL, true, 0, 0);
    } else if (req->nvalue > lim->value_max) {
        if (req->nvalue > lim->swallow_max)
            return fail(req, BIN_STATUS_E2BIG, true, 0, 0);
        /* the key must be read (a refused set drops the old value) */
        req->need = BIN_HEADER_LEN + fixed;
        return BIN_PARSE_NEED_MORE;
    }
    req->need = BIN_HEADER_LEN + (size_t)req->bodylen;
    return BIN_PARSE_NEED_MORE;
}

enum bin_parse_status bin_parse(const char *buf, size_t len,
                                const struct bin_limits *lim,
                                struct bin_req *req)
{
    const unsigned char *p = (const unsigned char *)buf;
    const unsigned char *ex;
    size_t fixed;

    memset(req, 0, sizeof(*req));
    if (len < BIN_HEADER_LEN) {
        req->need = BIN_HEADER_LEN;
        return BIN_PARSE_NEED_MORE;
    }
    if (parse_header(p, lim, req) == BIN_PARSE_ERROR)
        return BIN_PARSE_ERROR;
    if (len < req->need)
        return BIN_PARSE_NEED_MORE;
    fixed = (size_t)req->keylen + req->extlen;
    ex = p + BIN_HEADER_LEN;
    req->key = (const char *)ex + req->extlen;
    if (req->nvalue > lim->value_max &&
        req->base != BIN_OP_SASL_AUTH && req->base != BIN_OP_SASL_STEP)
        return fail(req, BIN_STATUS_E2BIG, false, BIN_HEADER_LEN + fixed,
                    req->nvalue);
    req->value = req->key + req->keylen;
    switch (req->extlen) {
    case 4:
        req->exptime = rd32(ex);
        break;
    case 8:
        req->flags = rd32(ex);
        req->exptime = rd32(ex + 4);
        break;
    case 20:
        req->delta = rd64(ex);
        req->initial = rd64(ex + 8);
        req->exptime = rd32(ex + 16);
        break;
    default:
        break;
    }
    req->consumed = BIN_HEADER_LEN + (size_t)req->bodylen;
    return BIN_PARSE_OK;
}
