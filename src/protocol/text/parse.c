/*
 * text parser: see parse.h. Follows memcached 1.6's ascii rules (tokens
 * split on spaces, a trailing "\r" dropped, argument counts decide between
 * "ERROR" and a CLIENT_ERROR) but refuses what memcached lets grow without
 * bound, and stores of keys with control characters.
 */
#include "protocol/text/parse.h"

#include <stddef.h>
#include <string.h>

#include "core/strnum.h"

static const char *const error_strings[] = {
#define X(name, str) str,
    TEXT_ERRORS(X)
#undef X
};

static const struct {
    const char   *name;
    size_t        len;
    enum text_cmd cmd;
} commands[] = {
#define X(name, str, amin, amax, cls, udp, pre, login) \
    { str, sizeof(str) - 1, TEXT_CMD_##name },
    TEXT_COMMANDS(X)
#undef X
};

/* The table's other columns, by command. */
static const struct {
    uint8_t min, max;
} arity[TEXT_CMD_COUNT] = {
#define X(name, str, amin, amax, cls, udp, pre, login) [TEXT_CMD_##name] = { amin, amax },
    TEXT_COMMANDS(X)
#undef X
};

const struct cmd_attrs text_cmd_attr_table[TEXT_CMD_COUNT] = {
    [TEXT_CMD_NONE] = { CMD_ADMIN, false, false, false },
#define X(name, str, amin, amax, c, udp, pre, login) \
    [TEXT_CMD_##name] = { c, udp, pre, login },
    TEXT_COMMANDS(X)
#undef X
};

const char *text_error_string(enum text_error e)
{
    return (unsigned)e < TEXT_ERR_COUNT ? error_strings[e] : "ERROR";
}

const char *text_cmd_name(enum text_cmd c)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (commands[i].cmd == c)
            return commands[i].name;
    return "";
}

static bool tok_eq(struct text_token t, const char *lit)
{
    size_t n = strlen(lit);
    return t.n == n && memcmp(t.p, lit, n) == 0;
}

static bool is_retrieval(enum text_cmd c)
{
    return c == TEXT_CMD_GET || c == TEXT_CMD_GETS || c == TEXT_CMD_GAT ||
           c == TEXT_CMD_GATS;
}

/* A key byte is no control character (protocol.txt; memcached itself
 * only splits on spaces). Only keys that are stored are held to it: a
 * lookup of such a key (get, incr, delete...) misses, as in memcached. */
static bool key_byte_valid(char ch)
{
    unsigned char c = (unsigned char)ch;
    return c >= 0x20 && c != 0x7f;
}

/* A key token is 1..max valid bytes. */
static bool key_token_valid(struct text_token k, size_t max)
{
    if (k.n == 0 || k.n > max)
        return false;
    for (size_t i = 0; i < k.n; i++)
        if (!key_byte_valid(k.p[i]))
            return false;
    return true;
}

static bool key_valid(struct text_token k)
{
    return key_token_valid(k, TEXT_KEY_MAX);
}

/* A key looked up, never stored: any bytes but a space, 1..TEXT_KEY_MAX. */
static bool lookup_key_valid(struct text_token k)
{
    return k.n > 0 && k.n <= TEXT_KEY_MAX;
}

/* Keys are scanned eight bytes at a time: byte by byte, finding where a
 * key ends was a third of text_parse's instructions for a set and, done
 * three times per key of a get (parsed, prefetched, served), a sixth of a
 * 32 B get's (callgrind, issue 21). In a word, a byte equal to 0 (or below
 * n) flags its high bit: the classic "has zero" / "has less than" tricks.
 * A borrow may flag bytes after a true one, never before it, so the lowest
 * flag is exact. Little-endian only (the first byte in memory is the
 * lowest); elsewhere the byte loops after them do it all. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SWAR_WORDS 1
#define SWAR_ONES  UINT64_C(0x0101010101010101)
#define SWAR_HIGH  UINT64_C(0x8080808080808080)

static inline uint64_t swar_below(uint64_t w, uint8_t n)
{
    return (w - n * SWAR_ONES) & ~w & SWAR_HIGH;
}

static inline uint64_t swar_equal(uint64_t w, uint8_t c)
{
    return swar_below(w ^ (c * SWAR_ONES), 1);
}

static inline uint64_t swar_load(const char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof(w));
    return w;
}
#else
#define SWAR_WORDS 0
#endif

/* The first space in [pos, end), or end. */
static size_t space_at(const char *line, size_t pos, size_t end)
{
#if SWAR_WORDS
    for (; end - pos >= 8; pos += 8) {
        uint64_t stop = swar_equal(swar_load(line + pos), ' ');
        if (stop != 0)
            return pos + (size_t)__builtin_ctzll(stop) / 8;
    }
#endif
    while (pos < end && line[pos] != ' ')
        pos++;
    return pos;
}

/* Next space-separated token in [*pos, end); false at the end. */
static bool next_token(const char *line, size_t end, size_t *pos,
                       struct text_token *t)
{
    size_t i = *pos;

    while (i < end && line[i] == ' ')
        i++;
    if (i >= end)
        return false;
    size_t start = i;
    i = space_at(line, i, end);
    t->p = line + start;
    t->n = i - start;
    *pos = i;
    return true;
}

static enum text_cmd lookup(struct text_token t)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (t.n == commands[i].len && memcmp(t.p, commands[i].name, t.n) == 0)
            return commands[i].cmd;
    return TEXT_CMD_NONE;
}

static enum text_parse_status fail(struct text_req *req, enum text_error e,
                                   size_t consumed)
{
    req->error = e;
    req->consumed = consumed;
    return TEXT_PARSE_ERROR;
}

static enum text_parse_status fail_close(struct text_req *req,
                                         enum text_error e)
{
    req->error = e;
    req->close = true;
    req->consumed = 0;
    return TEXT_PARSE_ERROR;
}

/* Does an unterminated line look like a retrieval command (allowed to be
 * longer than LIMIT_LINE_MAX)? memcached allows up to 100 leading spaces. */
static bool starts_retrieval(const char *buf, size_t len)
{
    size_t i = 0;

    while (i < len && i <= 100 && buf[i] == ' ')
        i++;
    const char *p = buf + i;
    size_t n = len - i;
    return (n >= 4 && (memcmp(p, "get ", 4) == 0 || memcmp(p, "gat ", 4) == 0)) ||
           (n >= 5 && (memcmp(p, "gets ", 5) == 0 || memcmp(p, "gats ", 5) == 0));
}

/* The keys of a retrieval request in line[pos..end). A bad key in a
 * piece of a longer line fails that piece still partial: its caller
 * ignores the rest of the line, as memcached ignores the line. */
static enum text_parse_status retrieval_keys(const char *line, size_t end,
                                             size_t pos, size_t consumed,
                                             struct text_req *req)
{
    struct text_token t;

    req->keys.p = line + pos;
    req->keys.n = end - pos;
    while (next_token(line, end, &pos, &t)) {
        if (!lookup_key_valid(t))
            return fail(req, TEXT_ERR_FORMAT, consumed);
        if (req->nkeys++ == 0)
            req->key = t;   /* text_next_key hands it out without a scan */
    }
    req->consumed = consumed;
    return TEXT_PARSE_OK;
}

/* gat/gats: memcached 1.6.45's order is too few tokens, the exptime
 * (checked when a key follows), then the keys. Out of line: get's path
 * does not pay for it. */
__attribute__((noinline))
static enum text_parse_status parse_gat(const char *line, size_t end, size_t pos,
                                        size_t consumed, struct text_req *req)
{
    struct text_token exp = { NULL, 0 }, k;
    size_t peek;
    int32_t exptime;

    next_token(line, end, &pos, &exp);
    peek = pos;
    if (req->partial || next_token(line, end, &peek, &k)) {
        if (!strnum_i32(exp.p, exp.n, &exptime))
            return fail(req, TEXT_ERR_BAD_EXPTIME, consumed);
        req->exptime = exptime;
    }
    if (retrieval_keys(line, end, pos, consumed, req) != TEXT_PARSE_OK)
        return TEXT_PARSE_ERROR;
    if (!req->partial && req->nkeys + 1 < arity[req->cmd].min)
        return fail(req, TEXT_ERR_FORMAT, consumed);
    return TEXT_PARSE_OK;
}

static enum text_parse_status parse_retrieval(const char *line, size_t end,
                                              size_t pos, size_t consumed,
                                              struct text_req *req)
{
    if (req->cmd == TEXT_CMD_GAT || req->cmd == TEXT_CMD_GATS)
        return parse_gat(line, end, pos, consumed, req);
    if (retrieval_keys(line, end, pos, consumed, req) != TEXT_PARSE_OK)
        return TEXT_PARSE_ERROR;
    if (!req->partial && req->nkeys < arity[req->cmd].min)
        return fail(req, TEXT_ERR_FORMAT, consumed);
    return TEXT_PARSE_OK;
}

/* Where a piece of an unterminated retrieval line ends: after its last
 * space (0: none). What follows is a key still arriving; one longer than a
 * key can be is refused (the piece fails partial, all of it used). */
static bool piece_end(const char *buf, size_t len, size_t *cut)
{
    size_t i = len;

    while (i > 0 && buf[i - 1] != ' ')
        i--;
    *cut = i;
    return len - i <= TEXT_KEY_MAX;
}

/* The first piece of a retrieval line longer than LIMIT_LINE_MAX with no
 * "\n" yet: the command and the complete keys. */
static enum text_parse_status parse_retrieval_piece(const char *buf, size_t len,
                                                    struct text_req *req)
{
    struct text_token name;
    size_t cut, pos = 0;

    next_token(buf, len, &pos, &name);   /* starts_retrieval saw it */
    req->cmd = lookup(name);
    req->partial = true;
    if (!piece_end(buf, len, &cut))
        return fail(req, TEXT_ERR_FORMAT, len);
    return parse_retrieval(buf, cut, pos, cut, req);
}

enum text_parse_status text_parse_more(const char *buf, size_t len,
                                       enum text_cmd cmd, struct text_req *req)
{
    const char *nl = memchr(buf, '\n', len);
    size_t cut;

    memset(req, 0, offsetof(struct text_req, args));
    req->cmd = cmd;
    if (nl != NULL) {
        size_t consumed = (size_t)(nl - buf) + 1, end = consumed - 1;
        if (end > 0 && buf[end - 1] == '\r')
            end--;
        return retrieval_keys(buf, end, 0, consumed, req);
    }
    req->partial = true;
    if (!piece_end(buf, len, &cut))
        return fail(req, TEXT_ERR_FORMAT, len);
    if (cut == 0)
        return TEXT_PARSE_NEED_MORE;
    return retrieval_keys(buf, cut, 0, cut, req);
}

/* The data block of a storage line (set..cas, ms): refused before it is
 * buffered when too large (then discarded as it arrives), waited for
 * whole, and checked for its closing "\r\n" as memcached does. */
static enum text_parse_status parse_data_block(const char *buf, size_t len,
                                               const struct text_limits *lim,
                                               size_t consumed,
                                               struct text_req *req)
{
    if (req->ndata > lim->value_max) {
        req->swallow = req->ndata + 2;
        return fail(req, TEXT_ERR_TOO_LARGE, consumed);
    }
    size_t total = consumed + req->ndata + 2;
    if (len < total) {
        req->need = total;
        return TEXT_PARSE_NEED_MORE;
    }
    req->data = buf + consumed;
    if (buf[total - 2] != '\r' || buf[total - 1] != '\n')
        return fail(req, TEXT_ERR_BAD_CHUNK, total);
    req->consumed = total;
    return TEXT_PARSE_OK;
}

static enum text_parse_status parse_storage(const char *buf, size_t len,
                                            const struct text_limits *lim,
                                            struct text_token *tok, uint32_t n,
                                            size_t consumed,
                                            struct text_req *req)
{
    /* tok[0] is the key; set: key flags exptime bytes [noreply],
     * cas: key flags exptime bytes cas [noreply]; more tokens are ignored */
    int32_t exptime, vlen;

    req->key = tok[0];
    req->noreply = tok_eq(tok[n - 1], "noreply");
    if (!strnum_i32(tok[3].p, tok[3].n, &vlen) || vlen < 0 ||
        vlen > INT32_MAX - 2)   /* memcached's bound before adding "\r\n" */
        return fail(req, TEXT_ERR_FORMAT, consumed);
    req->ndata = (size_t)vlen;
    /* The length is known: after any other mistake the data block is
     * discarded as it arrives (1.6.45), so that it is not read as
     * commands; one longer than a value may be is not trusted: close. */
    if (n < arity[req->cmd].min || !key_valid(tok[0]) ||
        !strnum_u32(tok[1].p, tok[1].n, &req->flags) ||
        !strnum_i32(tok[2].p, tok[2].n, &exptime) ||
        (req->cmd == TEXT_CMD_CAS &&
         !strnum_u64(tok[4].p, tok[4].n, &req->cas_unique))) {
        if (req->ndata > lim->value_max)
            return fail_close(req, TEXT_ERR_FORMAT);
        req->swallow = req->ndata + 2;
        return fail(req, TEXT_ERR_FORMAT, consumed);
    }
    req->exptime = exptime;

    return parse_data_block(buf, len, lim, consumed, req);
}

/* A meta key token: 1..TEXT_META_KEY_MAX bytes, no control characters
 * (its length after an optional base64 decode is checked by the caller). */
static bool meta_key_valid(struct text_token k)
{
    return key_token_valid(k, TEXT_META_KEY_MAX);
}

/* mg/md/ma/me <key> <flags>*, mn, ms <key> <datalen> <flags>* + data. */
static enum text_parse_status parse_meta(const char *buf, size_t len,
                                         const struct text_limits *lim,
                                         size_t consumed, struct text_req *req)
{
    int32_t vlen;

    if (req->cmd == TEXT_CMD_MN) {
        req->consumed = consumed;
        return TEXT_PARSE_OK;
    }
    if (req->nargs == 0)   /* no key: a format error (1.6.45) */
        return fail(req, TEXT_ERR_FORMAT, consumed);
    req->key = req->args[0];
    /* only ms stores its key; the others may look up any bytes */
    if (req->cmd == TEXT_CMD_MS ? !meta_key_valid(req->key) :
        req->key.n > TEXT_META_KEY_MAX)
        return fail(req, TEXT_ERR_FORMAT, consumed);
    req->meta_flags_at = 1;
    for (uint32_t i = 1; i < req->nargs; i++)
        if (req->args[i].n == 0)
            return fail(req, TEXT_ERR_FORMAT, consumed);
    if (req->cmd != TEXT_CMD_MS) {
        req->consumed = consumed;
        return TEXT_PARSE_OK;
    }
    if (req->nargs < 2 || !strnum_i32(req->args[1].p, req->args[1].n, &vlen) ||
        vlen < 0 || vlen > INT32_MAX - 2)
        return fail(req, TEXT_ERR_FORMAT, consumed);
    req->meta_flags_at = 2;
    req->ndata = (size_t)vlen;
    return parse_data_block(buf, len, lim, consumed, req);
}

/* The shortest line 1.6.45 takes for a command, "\r\n" included ("mn\r\n"). */
#define TEXT_LINE_MIN 4
/* A storage line's length token (after the key, flags and exptime). */
#define STORAGE_LEN_TOKEN 3

/* Up to this many digits a number needs no overflow check: 999,999,999
 * fits int32_t and uint32_t alike. */
#define FAST_DIGITS_MAX 9

/* An unsigned decimal of 1..FAST_DIGITS_MAX digits at line[*pos], ended
 * by a space or the line's end; false for anything else. */
static bool fast_number(const char *line, size_t end, size_t *pos, uint32_t *out)
{
    size_t i = *pos, start = i;
    uint32_t v = 0;

    while (i < end && line[i] != ' ') {
        unsigned d = (unsigned char)line[i] - '0';
        if (d > 9 || i - start == FAST_DIGITS_MAX)
            return false;
        v = v * 10 + d;
        i++;
    }
    if (i == start)
        return false;
    *out = v;
    *pos = i;
    return true;
}

/* The line nearly every client sends to store a value: "set <key> <flags>
 * <exptime> <bytes>" with single spaces, unsigned numbers of at most 9
 * digits and an optional " noreply", in one pass. The general path splits
 * the line into args[] and then walks each token again; perf put text_parse
 * at 14% of the server's CPU with 32-byte sets at pipeline 16. Anything
 * else (another command, two spaces, a sign, a longer number, a control
 * byte in the key, a trailing token) returns false with nothing decided,
 * and the general path parses the line. The fields set here are the ones
 * parse_storage sets, by the same rules, args[] included, so the two agree
 * on every line this takes (test_text_parse compares them). */
/* Where the key of a set starting at pos ends: the first space, control
 * byte or DEL in [pos, end) (the caller tells them apart), or end. */
static size_t key_span(const char *line, size_t pos, size_t end)
{
#if SWAR_WORDS
    for (; end - pos >= 8; pos += 8) {
        uint64_t w = swar_load(line + pos);
        uint64_t stop = swar_below(w, 0x21) | swar_equal(w, 0x7f);
        if (stop != 0)
            return pos + (size_t)__builtin_ctzll(stop) / 8;
    }
#endif
    while (pos < end && key_byte_valid(line[pos]) && line[pos] != ' ')
        pos++;
    return pos;
}

static bool parse_set_fast(const char *line, size_t end, struct text_req *req)
{
    static const char noreply[] = " noreply";
    struct text_token tok[5] = { { NULL, 0 } };
    uint32_t num[3], n = 4;
    size_t pos = 4;

    if (end < 4 || memcmp(line, "set ", 4) != 0)
        return false;
    tok[0].p = line + pos;
    pos = key_span(line, pos, end);
    if (pos < end && line[pos] != ' ')   /* a control byte in the key */
        return false;
    tok[0].n = (size_t)(line + pos - tok[0].p);
    if (tok[0].n == 0 || tok[0].n > TEXT_KEY_MAX)
        return false;
    for (unsigned i = 0; i < 3; i++) {
        if (pos == end)   /* too few arguments */
            return false;
        tok[i + 1].p = line + ++pos;
        if (!fast_number(line, end, &pos, &num[i]))
            return false;
        tok[i + 1].n = (size_t)(line + pos - tok[i + 1].p);
    }
    if (pos != end) {
        if (end - pos != sizeof(noreply) - 1 || memcmp(line + pos, noreply, end - pos) != 0)
            return false;
        tok[4] = (struct text_token){ line + pos + 1, end - pos - 1 };
        n = 5;
    }
    /* all five, a fixed size: a copy of n of them compiles to rep movs,
     * whose start-up cost was a fifth of this function's time */
    memcpy(req->args, tok, sizeof(tok));
    req->nargs = n;
    req->noreply = n == 5;
    req->cmd = TEXT_CMD_SET;
    req->key = tok[0];
    req->flags = num[0];
    req->exptime = (int32_t)num[1];
    req->ndata = num[2];
    return true;
}

/* "get <key>", the commonest line of all, in one pass: the tokenizer and
 * the command table cost a 32 B get about 60 of its 2,058 instructions
 * (callgrind, issue 21). One key of 1..TEXT_KEY_MAX bytes after one
 * space, nothing after it; anything else (more keys, two spaces, a
 * trailing space) returns false and the general path parses the line,
 * which sets the same fields (test_text_parse compares them). */
static bool parse_get_fast(const char *line, size_t end, size_t consumed,
                           struct text_req *req)
{
    if (end < 5 || end - 4 > TEXT_KEY_MAX || memcmp(line, "get ", 4) != 0 ||
        space_at(line, 4, end) != end)
        return false;
    req->cmd = TEXT_CMD_GET;
    req->key = req->keys = (struct text_token){ line + 4, end - 4 };
    req->nkeys = 1;
    req->consumed = consumed;
    return true;
}

static enum text_parse_status parse_other(struct text_token *tok, uint32_t n,
                                          size_t consumed,
                                          struct text_req *req)
{
    bool last_noreply = n > 0 && tok_eq(tok[n - 1], "noreply");

    switch (req->cmd) {
    case TEXT_CMD_INCR:
    case TEXT_CMD_DECR:
        req->key = tok[0];
        req->noreply = last_noreply;
        if (!lookup_key_valid(tok[0]))
            return fail(req, TEXT_ERR_FORMAT, consumed);
        if (!strnum_u64(tok[1].p + (tok[1].n > 1 && tok[1].p[0] == '+'),
                        tok[1].n - (tok[1].n > 1 && tok[1].p[0] == '+'), &req->number))
            return fail(req, TEXT_ERR_BAD_DELTA, consumed);
        break;
    case TEXT_CMD_TOUCH: {
        int32_t exptime;
        req->key = tok[0];
        req->noreply = last_noreply;
        if (!lookup_key_valid(tok[0]))
            return fail(req, TEXT_ERR_FORMAT, consumed);
        if (!strnum_i32(tok[1].p, tok[1].n, &exptime))
            return fail(req, TEXT_ERR_BAD_EXPTIME, consumed);
        req->exptime = exptime;
        break;
    }
    case TEXT_CMD_DELETE:   /* 1.6.45 ignores the old hold time, any token */
        req->key = tok[0];
        req->noreply = n > 1 && last_noreply;
        if (!lookup_key_valid(tok[0]))
            return fail(req, TEXT_ERR_FORMAT, consumed);
        break;
    case TEXT_CMD_FLUSH_ALL: {
        int32_t delay;
        req->noreply = last_noreply;
        if (n != (last_noreply ? 1u : 0u)) {
            if (!strnum_i32(tok[0].p, tok[0].n, &delay))
                return fail(req, TEXT_ERR_BAD_EXPTIME, consumed);
            req->exptime = delay;
            req->has_delay = true;
        }
        break;
    }
    case TEXT_CMD_VERBOSITY: {
        uint32_t level = 0;
        req->noreply = last_noreply;
        if (!strnum_u32(tok[0].p, tok[0].n, &level))
            return fail(req, TEXT_ERR_FORMAT, consumed);
        req->number = level;
        break;
    }
    case TEXT_CMD_CACHE_MEMLIMIT: {
        uint32_t mb;
        req->noreply = n == 2 && last_noreply;
        if (n == 0 || !strnum_u32(tok[0].p, tok[0].n, &mb))
            return fail(req, TEXT_ERR_UNKNOWN, consumed);
        req->number = mb;
        break;
    }
    default: /* version, shutdown, stats: arguments checked by the caller */
        break;
    }
    req->consumed = consumed;
    return TEXT_PARSE_OK;
}

enum text_parse_status text_parse(const char *buf, size_t len,
                                  const struct text_limits *lim,
                                  struct text_req *req)
{
    const char *nl = memchr(buf, '\n', len);

    /* args[] (most of the struct) is valid only below nargs: not cleared,
     * since this runs once per request; nargs is, with the rest */
    memset(req, 0, offsetof(struct text_req, args));
    if (nl == NULL) {
        if (len <= LIMIT_LINE_MAX)
            return TEXT_PARSE_NEED_MORE;
        if (!starts_retrieval(buf, len))
            return fail_close(req, TEXT_ERR_NONE);
        return parse_retrieval_piece(buf, len, req);
    }

    size_t consumed = (size_t)(nl - buf) + 1;
    size_t end = consumed - 1;
    if (end > 0 && buf[end - 1] == '\r')
        end--;
    /* The same rule whether the line came in one read or many (memcached's
     * outcome depends on how the bytes were split): no "\n" within
     * LIMIT_LINE_MAX bytes closes the connection, retrievals excepted. */
    if (end > LIMIT_LINE_MAX && !starts_retrieval(buf, end))
        return fail_close(req, TEXT_ERR_NONE);

    if (parse_get_fast(buf, end, consumed, req))
        return TEXT_PARSE_OK;
    if (parse_set_fast(buf, end, req))
        return parse_data_block(buf, len, lim, consumed, req);
    /* memcached 1.6.45: a line shorter than any command ("\r\n", " \r\n",
     * "x\n") is a format error, not an unknown command */
    if (consumed < TEXT_LINE_MIN)
        return fail(req, TEXT_ERR_FORMAT, consumed);

    size_t pos = 0;
    struct text_token name;
    if (!next_token(buf, end, &pos, &name))
        return fail(req, TEXT_ERR_UNKNOWN, consumed);
    req->cmd = lookup(name);

    if (req->cmd == TEXT_CMD_NONE) {
        /* A browser or HTTP client ("GET / HTTP/1.1"): an unknown command
         * whose last token starts with HTTP/ closes the connection. */
        size_t last = end;
        while (last > 0 && buf[last - 1] == ' ')
            last--;
        size_t lstart = last;
        while (lstart > 0 && buf[lstart - 1] != ' ')
            lstart--;
        if (lstart > 0 && last - lstart >= 5 && memcmp(buf + lstart, "HTTP/", 5) == 0)
            return fail_close(req, TEXT_ERR_NONE);
        return fail(req, TEXT_ERR_UNKNOWN, consumed);
    }
    if (is_retrieval(req->cmd))
        return parse_retrieval(buf, end, pos, consumed, req);

    struct text_token t;
    while (next_token(buf, end, &pos, &t)) {
        if (req->nargs == LIMIT_TOKENS_MAX)
            return fail(req, TEXT_ERR_UNKNOWN, consumed);
        req->args[req->nargs++] = t;
    }
    if (req->nargs > arity[req->cmd].max)
        return fail(req, TEXT_ERR_UNKNOWN, consumed);
    switch (req->cmd) {
    case TEXT_CMD_SET: case TEXT_CMD_ADD: case TEXT_CMD_REPLACE:
    case TEXT_CMD_APPEND: case TEXT_CMD_PREPEND: case TEXT_CMD_CAS:
        /* with its length, a line short of a token swallows its data */
        if (req->nargs < STORAGE_LEN_TOKEN + 1)
            return fail(req, TEXT_ERR_FORMAT, consumed);
        return parse_storage(buf, len, lim, req->args, req->nargs, consumed, req);
    case TEXT_CMD_MG: case TEXT_CMD_MS: case TEXT_CMD_MD: case TEXT_CMD_MA:
    case TEXT_CMD_MN: case TEXT_CMD_ME:
        return parse_meta(buf, len, lim, consumed, req);
    default:
        if (req->nargs < arity[req->cmd].min)
            return fail(req, TEXT_ERR_FORMAT, consumed);
        return parse_other(req->args, req->nargs, consumed, req);
    }
}

bool text_next_key_scan(const struct text_req *req, size_t *pos,
                        struct text_token *key)
{
    return next_token(req->keys.p, req->keys.n, pos, key);
}
