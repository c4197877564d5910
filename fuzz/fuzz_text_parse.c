/*
 * fuzz_text_parse: the ascii parser as the server drives it. The input is
 * a byte stream from one client; it is parsed request by request, and each
 * result is checked against the parser's contract (consumed within the
 * input, progress on OK, tokens inside the buffer, keys within limits), so
 * a logic error aborts as loudly as a memory error. The first byte picks
 * the -I limit so both the small and the default one are explored.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "protocol/text/parse.h"

#define FUZZ_CHECK(cond) do { if (!(cond)) abort(); } while (0)

static void check_token(const char *buf, size_t len, struct text_token t)
{
    FUZZ_CHECK(t.n == 0 || (t.p >= buf && t.p + t.n <= buf + len));
}

static bool is_meta(enum text_cmd c)
{
    return c == TEXT_CMD_MG || c == TEXT_CMD_MS || c == TEXT_CMD_MD || c == TEXT_CMD_MA ||
           c == TEXT_CMD_MN || c == TEXT_CMD_ME;
}

static void check_ok(const char *buf, size_t len, const struct text_limits *lim,
                     const struct text_req *req)
{
    FUZZ_CHECK(req->consumed > 0 && req->consumed <= len);
    FUZZ_CHECK(req->cmd > TEXT_CMD_NONE && req->cmd < TEXT_CMD_COUNT);
    FUZZ_CHECK(text_cmd_name(req->cmd) != NULL);
    check_token(buf, len, req->key);
    /* a meta key may be base64 (flag b): longer on the wire, checked
     * against TEXT_KEY_MAX once decoded (process_meta) */
    FUZZ_CHECK(req->key.n <= (is_meta(req->cmd) ? TEXT_META_KEY_MAX : TEXT_KEY_MAX));
    FUZZ_CHECK(req->nargs <= LIMIT_TOKENS_MAX);
    for (uint32_t i = 0; i < req->nargs; i++)
        check_token(buf, len, req->args[i]);
    if (req->data) {
        FUZZ_CHECK(req->data >= buf && req->data + req->ndata + 2 <= buf + len);
        FUZZ_CHECK(req->ndata <= lim->value_max);
    }
    if (req->keys.n > 0) {
        size_t pos = 0;
        uint32_t n = 0;
        struct text_token k;
        check_token(buf, len, req->keys);
        while (text_next_key(req, &pos, &k)) {
            check_token(buf, len, k);
            FUZZ_CHECK(k.n > 0 && k.n <= TEXT_KEY_MAX);
            n++;
        }
        FUZZ_CHECK(n == req->nkeys);
    }
}

/* The one-pass "set" path against the general one: the same line with a
 * second space after "set" has the same tokens, and only the general path
 * takes it; both parses must agree, offsets one byte apart. */
static void check_set_paths(const char *buf, size_t len, const struct text_limits *lim,
                            const struct text_req *req)
{
    struct text_req again;
    char *copy;

    if (req->cmd != TEXT_CMD_SET || len < 4 || memcmp(buf, "set ", 4) != 0 || buf[4] == ' ')
        return;
    copy = malloc(len + 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, buf, 4);
    copy[4] = ' ';
    memcpy(copy + 5, buf + 4, len - 4);
    FUZZ_CHECK(text_parse(copy, len + 1, lim, &again) == TEXT_PARSE_OK);
    FUZZ_CHECK(again.cmd == req->cmd && again.consumed == req->consumed + 1);
    FUZZ_CHECK(again.key.n == req->key.n && memcmp(again.key.p, req->key.p, req->key.n) == 0);
    FUZZ_CHECK(again.flags == req->flags && again.exptime == req->exptime);
    FUZZ_CHECK(again.ndata == req->ndata && again.noreply == req->noreply);
    FUZZ_CHECK(memcmp(again.data, req->data, req->ndata) == 0);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct text_limits lim;
    struct text_req req;
    const char *buf;
    size_t len, off = 0;
    enum text_cmd piece_of = TEXT_CMD_NONE;   /* a retrieval line in pieces */

    if (size < 1 || size > FUZZ_INPUT_MAX)
        return 0;
    lim.value_max = (data[0] & 1) ? 1024 : 1024 * 1024;
    buf = (const char *)data + 1;
    len = size - 1;
    while (off < len) {
        enum text_parse_status st = piece_of != TEXT_CMD_NONE ?
            text_parse_more(buf + off, len - off, piece_of, &req) :
            text_parse(buf + off, len - off, &lim, &req);
        if (st == TEXT_PARSE_NEED_MORE) {
            FUZZ_CHECK(req.need == 0 || req.need > len - off);
            break;
        }
        if (st == TEXT_PARSE_ERROR) {
            FUZZ_CHECK(req.error >= TEXT_ERR_NONE && req.error < TEXT_ERR_COUNT);
            FUZZ_CHECK(text_error_string(req.error) != NULL);
            FUZZ_CHECK(req.consumed <= len - off);
            if (req.close)
                break;
            FUZZ_CHECK(req.consumed > 0);   /* or the server would spin */
            off += req.consumed;
            off += req.swallow < len - off ? req.swallow : len - off;
            continue;
        }
        FUZZ_CHECK(st == TEXT_PARSE_OK);
        /* a piece consumes something, or the server would spin */
        FUZZ_CHECK(!req.partial || req.consumed > 0);
        piece_of = req.partial ? req.cmd : TEXT_CMD_NONE;
        check_ok(buf + off, len - off, &lim, &req);
        check_set_paths(buf + off, len - off, &lim, &req);
        off += req.consumed;
    }
    return 0;
}
