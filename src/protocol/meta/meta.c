/*
 * meta: see meta.h. Every command knows every flag, as memcached 1.6.45's
 * one pre-parser does, and ignores those it has no use for (P and L, the
 * proxy's routing tokens, are used by none); ma words its flag errors as
 * memcached does ("invalid or duplicate flag").
 */
#include "protocol/meta/meta.h"

#include <string.h>

#include "core/strnum.h"

static const char *const error_strings[] = {
#define X(name, str) str,
    META_ERRORS(X)
#undef X
};

const char *meta_error_string(enum meta_error e)
{
    return error_strings[e];
}

/* The flags memcached 1.6.45 knows (proto_parser.c, _meta_flag_preparse);
 * upper-case ones take a token. */
static const char known_flags[] = "bcfhklstuvqxOPLNTRFCEMJDI";

static int flag_bit(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return 26 + (c - 'a');
    return -1;
}

bool meta_has(const struct meta_flags *f, char flag)
{
    int b = flag_bit(flag);
    return b >= 0 && (f->seen >> b) & 1;
}

static enum meta_error flag_error(enum meta_cmd cmd, enum meta_error e)
{
    if (cmd == META_MA &&
        (e == META_ERR_INVALID_FLAG || e == META_ERR_DUP_FLAG || e == META_ERR_BAD_TOKEN))
        return META_ERR_MD_MA_FLAG;
    return e;
}

static bool num_ttl(const char *p, size_t n, int64_t *out)
{
    int32_t v;
    if (!strnum_i32(p, n, &v))
        return false;
    *out = v;
    return true;
}

enum meta_error meta_parse(enum meta_cmd cmd, const struct text_token *tok,
                           uint32_t ntok, struct meta_flags *f)
{
    memset(f, 0, sizeof(*f));
    f->tok = tok;
    f->ntok = ntok;
    f->delta = 1;
    f->mode = cmd == META_MA ? 'I' : 'S';
    for (uint32_t i = 0; i < ntok; i++) {
        char c = tok[i].p[0];
        const char *v = tok[i].p + 1;
        size_t nv = tok[i].n - 1;
        int bit = flag_bit(c);
        bool ok = true;

        if (bit < 0 || strchr(known_flags, c) == NULL)
            return flag_error(cmd, META_ERR_INVALID_FLAG);
        if ((f->seen >> bit) & 1)
            return flag_error(cmd, META_ERR_DUP_FLAG);
        f->seen |= 1ull << bit;
        switch (c) {
        case 'b': f->base64 = true; break;
        case 'q': f->quiet = true; break;
        case 'u': f->no_bump = true; break;
        case 'v': f->value = true; break;
        case 'I': f->invalidate = true; break;
        case 'x': f->strip = true; break;
        case 'O':
            if (nv > META_OPAQUE_MAX)
                return META_ERR_OPAQUE_LONG;
            f->opaque.p = v;
            f->opaque.n = nv;
            break;
        case 'C': ok = strnum_u64(v, nv, &f->cas_cmp); break;
        case 'E': ok = strnum_u64(v, nv, &f->new_cas) && f->new_cas != 0; break;
        case 'F':
            if (!strnum_u32(v, nv, &f->client_flags))
                return META_ERR_FORMAT;
            break;
        case 'T': ok = num_ttl(v, nv, &f->ttl); break;
        case 'N': ok = num_ttl(v, nv, &f->vivify_ttl); break;
        case 'R': ok = strnum_u32(v, nv, &f->recache); break;
        case 'J': ok = strnum_u64(v, nv, &f->initial); break;
        case 'D': ok = strnum_u64(v, nv, &f->delta); break;
        case 'M':
            if (cmd != META_MS && cmd != META_MA)
                break;   /* a mode only ms and ma have */
            if (nv != 1)
                return cmd == META_MS ? META_ERR_MS_MODE : META_ERR_MA_MODE;
            if (cmd == META_MS) {
                switch (v[0]) {
                case 'E': case 'A': case 'P': case 'R': case 'S':
                    f->mode = v[0];
                    break;
                default: return META_ERR_MS_MODE;
                }
            } else {
                switch (v[0]) {
                case 'I': case 'i': case '+': f->mode = 'I'; break;
                case 'D': case 'd': case '-': f->mode = 'D'; break;
                default: return META_ERR_MA_MODE;
                }
            }
            break;
        default:
            break;
        }
        if (!ok)
            return flag_error(cmd, META_ERR_BAD_TOKEN);
    }
    return META_ERR_NONE;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int meta_base64_decode(const char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;

    if (n == 0 || n % 4 != 0)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)in[i + k];
            if (c == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad)
                return -1;   /* data after padding */
            v[k] = b64_val(c);
            if (v[k] < 0)
                return -1;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        size_t take = 3 - (size_t)pad;
        if (o + take > cap)
            return -1;
        out[o++] = (char)(w >> 16);
        if (take > 1)
            out[o++] = (char)(w >> 8);
        if (take > 2)
            out[o++] = (char)w;
    }
    return (int)o;
}

size_t meta_base64_encode(const char *in, size_t n, char *out)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0, i = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = b64[w >> 18];
        out[o++] = b64[(w >> 12) & 63];
        out[o++] = b64[(w >> 6) & 63];
        out[o++] = b64[w & 63];
    }
    if (i < n) {
        uint32_t w = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        out[o++] = b64[w >> 18];
        out[o++] = b64[(w >> 12) & 63];
        out[o++] = i + 1 < n ? b64[(w >> 6) & 63] : '=';
        out[o++] = '=';
    }
    return o;
}
