/*
 * scram: see scram.h. HMAC and SHA-256 come from libsodium, which has no
 * PBKDF2: the one block SCRAM needs (dkLen = 32) is a few lines here, with
 * the password's HMAC state computed once and copied per iteration.
 */
#include "policy/scram.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/strnum.h"

#define B64 sodium_base64_VARIANT_ORIGINAL

static void hmac(const unsigned char *key, size_t nkey, const void *msg, size_t nmsg,
                 unsigned char out[SCRAM_KEY_LEN])
{
    crypto_auth_hmacsha256_state st;

    crypto_auth_hmacsha256_init(&st, key, nkey);
    crypto_auth_hmacsha256_update(&st, msg, nmsg);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
}

void scram_derive(const char *pass, size_t npass, const unsigned char *salt,
                  size_t nsalt, uint32_t iter, struct scram_creds *c)
{
    crypto_auth_hmacsha256_state key, st;
    unsigned char u[SCRAM_KEY_LEN], salted[SCRAM_KEY_LEN], ck[SCRAM_KEY_LEN];
    static const unsigned char one[4] = { 0, 0, 0, 1 };

    if (nsalt > SCRAM_SALT_MAX)
        nsalt = SCRAM_SALT_MAX;
    memcpy(c->salt, salt, nsalt);
    c->nsalt = nsalt;
    c->iter = iter;
    /* Hi(password, salt, i) = U1 ^ ... ^ Ui, U1 = HMAC(p, salt || INT(1)) */
    crypto_auth_hmacsha256_init(&key, (const unsigned char *)pass, npass);
    st = key;
    crypto_auth_hmacsha256_update(&st, salt, nsalt);
    crypto_auth_hmacsha256_update(&st, one, sizeof(one));
    crypto_auth_hmacsha256_final(&st, u);
    memcpy(salted, u, sizeof(u));
    for (uint32_t k = 1; k < iter; k++) {
        st = key;
        crypto_auth_hmacsha256_update(&st, u, sizeof(u));
        crypto_auth_hmacsha256_final(&st, u);
        for (size_t j = 0; j < sizeof(u); j++)
            salted[j] ^= u[j];
    }
    hmac(salted, sizeof(salted), "Client Key", 10, ck);
    crypto_hash_sha256(c->stored_key, ck, sizeof(ck));
    hmac(salted, sizeof(salted), "Server Key", 10, c->server_key);
    sodium_memzero(&key, sizeof(key));
    sodium_memzero(&st, sizeof(st));
    sodium_memzero(u, sizeof(u));
    sodium_memzero(salted, sizeof(salted));
    sodium_memzero(ck, sizeof(ck));
}

int scram_entry_format(const struct scram_creds *c, char *out, size_t outlen)
{
    char salt[sodium_base64_ENCODED_LEN(SCRAM_SALT_MAX, B64)];
    char sk[sodium_base64_ENCODED_LEN(SCRAM_KEY_LEN, B64)];
    char vk[sizeof(sk)];
    int n;

    sodium_bin2base64(salt, sizeof(salt), c->salt, c->nsalt, B64);
    sodium_bin2base64(sk, sizeof(sk), c->stored_key, SCRAM_KEY_LEN, B64);
    sodium_bin2base64(vk, sizeof(vk), c->server_key, SCRAM_KEY_LEN, B64);
    n = snprintf(out, outlen, SCRAM_ENTRY_PREFIX "%u$%s$%s$%s", (unsigned)c->iter,
                 salt, sk, vk);
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

bool scram_entry_is(const char *s)
{
    return strncmp(s, SCRAM_ENTRY_PREFIX, sizeof(SCRAM_ENTRY_PREFIX) - 1) == 0;
}

/* Decode exactly `want` bytes (or 1..want with `upto`) of strict base64. */
static int b64_decode(const char *s, size_t n, unsigned char *out, size_t want,
                      bool upto, size_t *got)
{
    const char *end;

    if (n == 0 || sodium_base642bin(out, want, s, n, NULL, got, &end, B64) != 0 ||
        end != s + n || *got == 0 || (!upto && *got != want))
        return -1;
    return 0;
}

int scram_entry_parse(const char *s, struct scram_creds *c)
{
    const char *f[4];
    size_t nf[4], got;
    const char *p;

    if (!scram_entry_is(s) || strlen(s) > SCRAM_ENTRY_MAX)
        return -1;
    p = s + sizeof(SCRAM_ENTRY_PREFIX) - 1;
    for (int k = 0; k < 4; k++) {
        const char *d = strchr(p, '$');
        if ((d == NULL) != (k == 3))
            return -1;
        f[k] = p;
        nf[k] = d ? (size_t)(d - p) : strlen(p);
        p = d ? d + 1 : p;
    }
    if (!strnum_u32(f[0], nf[0], &c->iter) || c->iter < SCRAM_ITERATIONS_MIN ||
        c->iter > SCRAM_ITERATIONS_MAX)
        return -1;
    if (b64_decode(f[1], nf[1], c->salt, SCRAM_SALT_MAX, true, &c->nsalt) < 0 ||
        b64_decode(f[2], nf[2], c->stored_key, SCRAM_KEY_LEN, false, &got) < 0 ||
        b64_decode(f[3], nf[3], c->server_key, SCRAM_KEY_LEN, false, &got) < 0)
        return -1;
    return 0;
}

static bool printable_nonce(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ',')
            return false;
    return n > 0;
}

/* saslname up to ',' or end, "=2C" -> ',' and "=3D" -> '='. Returns the
 * end of the name, or NULL. */
static const char *saslname(const char *p, const char *end, char *out, size_t *nout)
{
    *nout = 0;
    while (p < end && *p != ',') {
        char ch = *p++;
        if (ch == '\0')
            return NULL;
        if (ch == '=') {
            if (end - p < 2)
                return NULL;
            if (p[0] == '2' && p[1] == 'C')
                ch = ',';
            else if (p[0] == '3' && p[1] == 'D')
                ch = '=';
            else
                return NULL;
            p += 2;
        }
        if (*nout == SCRAM_USER_MAX)
            return NULL;
        out[(*nout)++] = ch;
    }
    return *nout > 0 ? p : NULL;
}

int scram_parse_client_first(const char *msg, size_t n, struct scram_client_first *cf)
{
    const char *p, *end = msg + n, *comma;
    char authz[SCRAM_USER_MAX];
    size_t nauthz = 0;

    memset(cf, 0, sizeof(*cf));
    if (n < 3 + 5 || n > SCRAM_MSG_MAX)
        return -1;
    /* gs2-header: "n," or "y," ("p=" asks for channel binding, which we do
     * not offer), then an empty authzid or "a=" the user itself, then "," */
    if ((msg[0] != 'n' && msg[0] != 'y') || msg[1] != ',')
        return -1;
    p = msg + 2;
    if (end - p >= 2 && p[0] == 'a' && p[1] == '=') {
        p = saslname(p + 2, end, authz, &nauthz);
        if (p == NULL)
            return -1;
    }
    if (p == end || *p != ',' || (size_t)(p + 1 - msg) > SCRAM_GS2_MAX)
        return -1;
    p++;
    cf->ngs2 = (size_t)(p - msg);
    memcpy(cf->gs2, msg, cf->ngs2);
    cf->bare = p;
    cf->nbare = (size_t)(end - p);
    /* "n=" saslname "," */
    if (end - p < 2 || p[0] != 'n' || p[1] != '=')
        return -1;
    p = saslname(p + 2, end, cf->user, &cf->nuser);
    if (p == NULL || p == end)
        return -1;
    if (nauthz > 0 && (nauthz != cf->nuser || memcmp(authz, cf->user, nauthz) != 0))
        return -1;
    p++;
    /* "r=" c-nonce, then optional extensions (ignored) */
    if (end - p < 2 || p[0] != 'r' || p[1] != '=')
        return -1;
    p += 2;
    comma = memchr(p, ',', (size_t)(end - p));
    cf->nonce = p;
    cf->nnonce = (size_t)((comma ? comma : end) - p);
    if (cf->nnonce > SCRAM_NONCE_MAX || !printable_nonce(cf->nonce, cf->nnonce))
        return -1;
    if (comma && (end - comma < 3 || comma[2] != '='))
        return -1;
    return 0;
}

static int auth_append(struct scram_server *s, const char *p, size_t n)
{
    if (n > sizeof(s->auth) - s->nauth)
        return -1;
    memcpy(s->auth + s->nauth, p, n);
    s->nauth += n;
    return 0;
}

int scram_server_first(struct scram_server *s, const struct scram_client_first *cf,
                       const struct scram_creds *c, const char *snonce, size_t nsnonce,
                       char *out, size_t outcap)
{
    char salt[sodium_base64_ENCODED_LEN(SCRAM_SALT_MAX, B64)];
    int n;

    memset(s, 0, sizeof(*s));
    if (cf->nnonce + nsnonce > sizeof(s->nonce) || !printable_nonce(snonce, nsnonce))
        return -1;
    memcpy(s->gs2, cf->gs2, cf->ngs2);
    s->ngs2 = cf->ngs2;
    memcpy(s->nonce, cf->nonce, cf->nnonce);
    memcpy(s->nonce + cf->nnonce, snonce, nsnonce);
    s->nnonce = cf->nnonce + nsnonce;
    memcpy(s->stored_key, c->stored_key, SCRAM_KEY_LEN);
    memcpy(s->server_key, c->server_key, SCRAM_KEY_LEN);
    sodium_bin2base64(salt, sizeof(salt), c->salt, c->nsalt, B64);
    n = snprintf(out, outcap, "r=%.*s,s=%s,i=%u", (int)s->nnonce, s->nonce, salt,
                 (unsigned)c->iter);
    if (n <= 0 || (size_t)n >= outcap ||
        auth_append(s, cf->bare, cf->nbare) < 0 || auth_append(s, ",", 1) < 0 ||
        auth_append(s, out, (size_t)n) < 0 || auth_append(s, ",", 1) < 0) {
        scram_server_wipe(s);
        return -1;
    }
    return n;
}

int scram_server_final(struct scram_server *s, const char *msg, size_t n,
                       char *out, size_t outcap)
{
    unsigned char cb[SCRAM_GS2_MAX + 1], proof[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN];
    unsigned char key[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN];
    char v[sodium_base64_ENCODED_LEN(SCRAM_KEY_LEN, B64)];
    const char *p, *end, *comma, *pr = NULL;
    size_t got;
    int rc = -1, len;

    if (n < 2 || n > SCRAM_MSG_MAX || memchr(msg, '\0', n) != NULL)
        return -1;
    /* the proof is the last attribute: ",p=" base64 */
    for (const char *q = msg + n - 1; q >= msg + 2; q--)
        if (q[-2] == ',' && q[-1] == 'p' && q[0] == '=') {
            pr = q - 2;
            break;
        }
    if (pr == NULL || b64_decode(pr + 3, (size_t)(msg + n - pr - 3), proof,
                                 SCRAM_KEY_LEN, false, &got) < 0)
        return -1;
    end = pr;                                   /* client-final-without-proof */
    /* "c=" base64(gs2-header) "," */
    comma = memchr(msg, ',', (size_t)(end - msg));
    if (comma == NULL || comma - msg < 3 || msg[0] != 'c' || msg[1] != '=' ||
        b64_decode(msg + 2, (size_t)(comma - msg - 2), cb, sizeof(cb), true, &got) < 0 ||
        got != s->ngs2 || memcmp(cb, s->gs2, s->ngs2) != 0)
        return -1;
    /* "r=" nonce, exactly ours; then optional extensions */
    p = comma + 1;
    if (end - p < 2 || p[0] != 'r' || p[1] != '=')
        return -1;
    p += 2;
    comma = memchr(p, ',', (size_t)(end - p));
    if ((size_t)((comma ? comma : end) - p) != s->nnonce ||
        memcmp(p, s->nonce, s->nnonce) != 0)
        return -1;
    if (auth_append(s, msg, (size_t)(end - msg)) < 0)
        return -1;
    /* ClientKey = proof ^ HMAC(StoredKey, AuthMessage); H(ClientKey) == StoredKey */
    hmac(s->stored_key, SCRAM_KEY_LEN, s->auth, s->nauth, sig);
    for (size_t k = 0; k < SCRAM_KEY_LEN; k++)
        key[k] = proof[k] ^ sig[k];
    crypto_hash_sha256(stored, key, sizeof(key));
    if (sodium_memcmp(stored, s->stored_key, SCRAM_KEY_LEN) == 0) {
        hmac(s->server_key, SCRAM_KEY_LEN, s->auth, s->nauth, sig);
        sodium_bin2base64(v, sizeof(v), sig, sizeof(sig), B64);
        len = snprintf(out, outcap, "v=%s", v);
        if (len > 0 && (size_t)len < outcap)
            rc = len;
    }
    sodium_memzero(key, sizeof(key));
    sodium_memzero(stored, sizeof(stored));
    sodium_memzero(sig, sizeof(sig));
    return rc;
}

void scram_server_wipe(struct scram_server *s)
{
    sodium_memzero(s, sizeof(*s));
}
