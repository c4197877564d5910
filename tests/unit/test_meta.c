/*
 * Unit tests for the meta flag parser, base64, and the text parser's meta
 * lines (need-more at every split of an ms, every error path).
 */
#include <stdlib.h>

#include "protocol/meta/meta.h"
#include "protocol/text/parse.h"
#include "unit.h"

static const struct text_limits lim = { .value_max = 1024 };

static enum meta_error parse_line(enum meta_cmd cmd, const char *line, struct text_req *req,
                                  struct meta_flags *f)
{
    CHECK_EQ_INT(text_parse(line, strlen(line), &lim, req), TEXT_PARSE_OK);
    return meta_parse(cmd, req->args + req->meta_flags_at, req->nargs - req->meta_flags_at, f);
}

static void test_mg_flags(void)
{
    struct text_req req;
    struct meta_flags f;

    CHECK_EQ_INT(parse_line(META_MG, "mg key v c f Oabc T30 N10 R5 q u b k\r\n", &req, &f),
                 META_ERR_NONE);
    CHECK_EQ_INT(req.cmd, TEXT_CMD_MG);
    CHECK_MEM(req.key.p, req.key.n, "key");
    CHECK(f.value && f.quiet && f.no_bump && f.base64);
    CHECK(meta_has(&f, 'c') && meta_has(&f, 'f') && meta_has(&f, 'k') && !meta_has(&f, 's'));
    CHECK_MEM(f.opaque.p, f.opaque.n, "abc");
    CHECK_EQ_INT(f.ttl, 30);
    CHECK_EQ_INT(f.vivify_ttl, 10);
    CHECK_EQ_INT(f.recache, 5);
    CHECK_EQ_INT(f.ntok, 11);
}

static void test_flag_errors(void)
{
    struct text_req req;
    struct meta_flags f;

    CHECK_EQ_INT(parse_line(META_MG, "mg k zz\r\n", &req, &f), META_ERR_INVALID_FLAG);
    CHECK_EQ_INT(parse_line(META_MG, "mg k v v\r\n", &req, &f), META_ERR_DUP_FLAG);
    CHECK_EQ_INT(parse_line(META_MG, "mg k Tx\r\n", &req, &f), META_ERR_BAD_TOKEN);
    CHECK_EQ_INT(parse_line(META_MG, "mg k T99999999999\r\n", &req, &f), META_ERR_BAD_TOKEN);
    CHECK_EQ_INT(parse_line(META_MG, "mg k O123456789012345678901234567890123\r\n", &req, &f),
                 META_ERR_OPAQUE_LONG);
    /* one pre-parser, as 1.6.45: a known flag a command has no use for is
     * accepted (M is a mode only for ms and ma), P and L by every command */
    CHECK_EQ_INT(parse_line(META_MG, "mg k M\r\n", &req, &f), META_ERR_NONE);
    CHECK_EQ_INT(parse_line(META_MG, "mg k P L Pabc\r\n", &req, &f), META_ERR_DUP_FLAG);
    CHECK_EQ_INT(parse_line(META_MG, "mg k P Lxyz C12 v\r\n", &req, &f), META_ERR_NONE);
    CHECK(f.cas_cmp == 12 && f.value);
    CHECK_EQ_INT(parse_line(META_MS, "ms k 1 P L s\r\nx\r\n", &req, &f), META_ERR_NONE);
    CHECK_EQ_INT(parse_line(META_MD, "md k v P L\r\n", &req, &f), META_ERR_NONE);
    CHECK_EQ_INT(parse_line(META_MA, "ma k s P L\r\n", &req, &f), META_ERR_NONE);
    CHECK_EQ_INT(parse_line(META_MD, "md k Z\r\n", &req, &f), META_ERR_INVALID_FLAG);
    CHECK_EQ_INT(parse_line(META_MD, "md k x x\r\n", &req, &f), META_ERR_DUP_FLAG);
    CHECK_EQ_INT(parse_line(META_MA, "ma k Z\r\n", &req, &f), META_ERR_MD_MA_FLAG);
    CHECK_EQ_INT(parse_line(META_MA, "ma k Dabc\r\n", &req, &f), META_ERR_MD_MA_FLAG);
    CHECK_EQ_INT(parse_line(META_MA, "ma k Mx\r\n", &req, &f), META_ERR_MA_MODE);
    CHECK_EQ_INT(parse_line(META_MA, "ma k M-\r\n", &req, &f), META_ERR_NONE);
    CHECK_EQ_INT(f.mode, 'D');
    CHECK_EQ_INT(parse_line(META_MS, "ms k 1 Ms\r\nx\r\n", &req, &f), META_ERR_MS_MODE);
    CHECK_EQ_INT(parse_line(META_MS, "ms k 1 F-1\r\nx\r\n", &req, &f), META_ERR_FORMAT);
    CHECK_EQ_INT(parse_line(META_MS, "ms k 1 MA N5 C7 E9 I F3\r\nx\r\n", &req, &f), META_ERR_NONE);
    CHECK(f.mode == 'A' && f.vivify_ttl == 5 && f.cas_cmp == 7 && f.new_cas == 9 &&
          f.invalidate && f.client_flags == 3);
    CHECK_EQ_INT(parse_line(META_MS, "ms k 1 E0\r\nx\r\n", &req, &f), META_ERR_BAD_TOKEN);
}

static void test_ms_split(void)
{
    const char *line = "ms key 5 T10\r\nhello\r\n";
    size_t n = strlen(line);
    struct text_req req;

    for (size_t i = 0; i < n; i++)
        CHECK_EQ_INT(text_parse(line, i, &lim, &req), TEXT_PARSE_NEED_MORE);
    CHECK_EQ_INT(text_parse(line, n, &lim, &req), TEXT_PARSE_OK);
    CHECK_EQ_INT(req.consumed, n);
    CHECK_MEM(req.data, req.ndata, "hello");
    CHECK_EQ_INT(req.meta_flags_at, 2);
}

static void test_line_errors(void)
{
    struct text_req req;
    char big[400];

    CHECK_EQ_INT(text_parse("mg\r\n", 4, &lim, &req), TEXT_PARSE_ERROR);
    CHECK_EQ_INT(req.error, TEXT_ERR_FORMAT);   /* 1.6.45 */
    CHECK_EQ_INT(text_parse("me\r\n", 4, &lim, &req), TEXT_PARSE_ERROR);
    CHECK_EQ_INT(req.error, TEXT_ERR_FORMAT);
    CHECK_EQ_INT(text_parse("ms k\r\n", 6, &lim, &req), TEXT_PARSE_ERROR);
    CHECK_EQ_INT(req.error, TEXT_ERR_FORMAT);
    CHECK_EQ_INT(text_parse("ms k -1\r\n", 9, &lim, &req), TEXT_PARSE_ERROR);
    CHECK_EQ_INT(text_parse("ms k 2000\r\n", 11, &lim, &req), TEXT_PARSE_ERROR);
    CHECK_EQ_INT(req.error, TEXT_ERR_TOO_LARGE);
    CHECK_EQ_INT(req.swallow, 2002);
    CHECK_EQ_INT(text_parse("ms k 1\r\nxyz\r\n", 13, &lim, &req), TEXT_PARSE_ERROR);
    CHECK_EQ_INT(req.error, TEXT_ERR_BAD_CHUNK);
    memcpy(big, "mg ", 3);
    memset(big + 3, 'a', 337);
    memcpy(big + 340, "\r\n", 2);
    CHECK_EQ_INT(text_parse(big, 342, &lim, &req), TEXT_PARSE_ERROR);
    CHECK_EQ_INT(req.error, TEXT_ERR_FORMAT);
    CHECK_EQ_INT(text_parse("mn\r\n", 4, &lim, &req), TEXT_PARSE_OK);
}

static void test_base64(void)
{
    char out[300], enc[400];
    unsigned char all[256];

    CHECK_EQ_INT(meta_base64_decode("bWs=", 4, out, sizeof(out)), 2);
    CHECK_MEM(out, 2, "mk");
    CHECK_EQ_INT(meta_base64_decode("bWs", 3, out, sizeof(out)), -1);
    CHECK_EQ_INT(meta_base64_decode("b=s=", 4, out, sizeof(out)), -1);
    CHECK_EQ_INT(meta_base64_decode("!!!!", 4, out, sizeof(out)), -1);
    CHECK_EQ_INT(meta_base64_decode("", 0, out, sizeof(out)), -1);
    CHECK_EQ_INT(meta_base64_decode("AAAA", 4, out, 2), -1);   /* does not fit */
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    for (size_t n = 1; n <= 250; n += 7) {
        size_t e = meta_base64_encode((const char *)all, n, enc);
        CHECK_EQ_INT(e, ((n + 2) / 3) * 4);
        CHECK_EQ_INT(meta_base64_decode(enc, e, out, 250), (int)n);
        CHECK(memcmp(out, all, n) == 0);
    }
}

int main(void)
{
    RUN(test_mg_flags);
    RUN(test_flag_errors);
    RUN(test_ms_split);
    RUN(test_line_errors);
    RUN(test_base64);
    return unit_report("test_meta");
}
