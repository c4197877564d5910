/*
 * fuzz_meta: meta commands (mg ms md ma mn me) as the server sees them:
 * the text parser splits the line, then meta_parse reads the flags and the
 * key is base64-decoded when b is given. Checks that tokens and the
 * opaque stay inside the input and the decoded key fits its buffer.
 */
#include <stdlib.h>

#include "fuzz.h"
#include "protocol/meta/meta.h"
#include "protocol/text/parse.h"

#define FUZZ_CHECK(cond) do { if (!(cond)) abort(); } while (0)

static enum meta_cmd meta_of(enum text_cmd c, bool *ok)
{
    *ok = true;
    switch (c) {
    case TEXT_CMD_MG: return META_MG;
    case TEXT_CMD_MS: return META_MS;
    case TEXT_CMD_MD: return META_MD;
    case TEXT_CMD_MA: return META_MA;
    default: *ok = false; return META_MG;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct text_limits lim = { .value_max = 1024 * 1024 };
    struct text_req req;
    struct meta_flags f;
    const char *buf = (const char *)data;
    size_t off = 0;

    if (size > FUZZ_INPUT_MAX)
        return 0;
    while (off < size) {
        enum text_parse_status st = text_parse(buf + off, size - off, &lim, &req);
        if (st == TEXT_PARSE_NEED_MORE || (st == TEXT_PARSE_ERROR && req.close))
            break;
        if (req.consumed == 0)
            break;
        if (st == TEXT_PARSE_OK) {
            bool is_meta;
            enum meta_cmd mc = meta_of(req.cmd, &is_meta);
            if (is_meta && req.meta_flags_at <= req.nargs) {
                enum meta_error e = meta_parse(mc, req.args + req.meta_flags_at,
                                               req.nargs - req.meta_flags_at, &f);
                FUZZ_CHECK(meta_error_string(e) != NULL);
                if (e == META_ERR_NONE && f.opaque.n)
                    FUZZ_CHECK(f.opaque.p >= buf && f.opaque.p + f.opaque.n <= buf + size &&
                               f.opaque.n <= META_OPAQUE_MAX);
                if (e == META_ERR_NONE && f.base64 && req.nargs > 0) {
                    char key[TEXT_KEY_MAX];
                    int n = meta_base64_decode(req.args[0].p, req.args[0].n, key,
                                               sizeof(key));
                    FUZZ_CHECK(n <= (int)sizeof(key));
                    if (n > 0) {
                        char *enc = malloc(((size_t)n + 2) / 3 * 4);
                        char back[TEXT_KEY_MAX];
                        if (enc) {
                            size_t m = meta_base64_encode(key, (size_t)n, enc);
                            FUZZ_CHECK(meta_base64_decode(enc, m, back, sizeof(back)) == n);
                            free(enc);
                        }
                    }
                }
            }
        }
        off += req.consumed;
        if (st == TEXT_PARSE_ERROR)
            off += req.swallow < size - off ? req.swallow : size - off;
    }
    return 0;
}
