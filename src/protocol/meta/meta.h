/*
 * meta: the flags of memcached's meta commands (mg ms md ma), as a pure
 * function over the tokens the text parser split off. Each command accepts
 * its own set of single-letter flags, some with a token (O opaque, T ttl,
 * ...); a flag given twice, one the command does not know, or a bad token
 * is an error with memcached's wording. Also base64 for "b" keys.
 */
#ifndef HC_PROTOCOL_META_H
#define HC_PROTOCOL_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/text/parse.h"

#define META_OPAQUE_MAX 32    /* memcached's limit on O tokens */
/* Longest key token: 250 bytes of key in base64. */
#define META_KEY_TOKEN_MAX TEXT_META_KEY_MAX

enum meta_cmd { META_MG, META_MS, META_MD, META_MA };

/* Errors, in memcached's words. */
#define META_ERRORS(X)                                                      \
    X(NONE, "")                                                             \
    X(INVALID_FLAG, "CLIENT_ERROR invalid flag")                            \
    X(DUP_FLAG, "CLIENT_ERROR duplicate flag")                              \
    X(BAD_TOKEN, "CLIENT_ERROR bad token in command line format")           \
    X(FORMAT, "CLIENT_ERROR bad command line format")                       \
    X(OPAQUE_LONG, "CLIENT_ERROR opaque token too long")                    \
    X(KEY_DECODE, "CLIENT_ERROR error decoding key")                        \
    X(MS_MODE, "CLIENT_ERROR invalid mode for ms M token")                  \
    X(MA_MODE, "CLIENT_ERROR invalid mode for ma M token")                  \
    X(MD_MA_FLAG, "CLIENT_ERROR invalid or duplicate flag")

enum meta_error {
#define X(name, str) META_ERR_##name,
    META_ERRORS(X)
#undef X
};

struct meta_flags {
    uint64_t seen;            /* bit per letter: A-Z 0-25, a-z 26-51 */
    const struct text_token *tok;   /* the flag tokens, in request order */
    uint32_t ntok;

    bool     base64;          /* b */
    bool     quiet;           /* q */
    bool     no_bump;         /* u */
    bool     value;           /* v */
    bool     invalidate;      /* I */
    bool     strip;           /* x */
    struct text_token opaque; /* O */
    uint64_t cas_cmp;         /* C, when seen */
    uint64_t new_cas;         /* E */
    uint32_t client_flags;    /* F */
    int64_t  ttl;             /* T */
    int64_t  vivify_ttl;      /* N */
    uint32_t recache;         /* R */
    uint64_t initial;         /* J */
    uint64_t delta;           /* D (default 1) */
    char     mode;            /* M, normalised: ms E A P R S; ma I D */
};

/* Parse the flag tokens of one meta command. */
enum meta_error meta_parse(enum meta_cmd cmd, const struct text_token *tok,
                           uint32_t ntok, struct meta_flags *f);
bool meta_has(const struct meta_flags *f, char flag);
const char *meta_error_string(enum meta_error e);

/* base64 (RFC 4648, with padding). decode returns the length or -1 on bad
 * input or if it does not fit in cap; encode needs ((n + 2) / 3) * 4. */
int meta_base64_decode(const char *in, size_t n, char *out, size_t cap);
size_t meta_base64_encode(const char *in, size_t n, char *out);

#endif
