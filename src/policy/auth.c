/*
 * auth: see auth.h.
 *
 * Passwords. A plain entry is kept only as its SHA-256 digest; a candidate
 * is hashed the same way and the digests compared with sodium_memcmp, so
 * neither the password's length nor its first wrong byte shows in the
 * timing (memcached compares lengths first). A crypt(3) entry ("$y$...",
 * "$7$", "$gy$", "$2b$", "$6$", "$5$") is verified with crypt_r and the
 * result compared the same way. An unknown user costs the same digest
 * compare as a known one.
 *
 * SCRAM-SHA-256 (policy/scram). Each entry that can do it carries its salt,
 * iteration count, StoredKey and ServerKey: a "$scram-sha-256$..." entry
 * holds them (and PLAIN is checked against them), a plain entry gets them
 * at load with a random salt when SASL is on. A crypt(3) entry cannot: its
 * user must use PLAIN. For a user without keys (unknown or crypt(3)) the
 * exchange runs on with a salt derived from the name and keys nobody knows,
 * so server-first does not tell which users exist; it fails at the proof.
 * A failed exchange counts once for throttling, as a failed PLAIN does.
 *
 * Throttling. Each source address (IPv6 by its /64, all unix-socket peers
 * as one) has a slot in a fixed table: after LIMIT_AUTH_FREE_FAILURES
 * failures, each further attempt must wait an exponentially growing delay
 * after the last failure; an attempt that comes sooner is refused without
 * checking the password (so a brute-force loop gets nowhere and costs no
 * crypt time). A success clears the slot; a slot forgets after
 * LIMIT_AUTH_FORGET_MS. The table is bounded: when full, the slot with the
 * oldest failure is reused.
 */
#include "policy/auth.h"

#include <crypt.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/clock.h"
#include "core/hash.h"
#include "core/log.h"
#include "policy/limits.h"
#include "policy/scram.h"

#define DIGEST_LEN crypto_hash_sha256_BYTES

struct entry {
    char    *user;
    size_t   nuser;
    char    *hash;                 /* crypt(3) string, or NULL */
    unsigned char digest[DIGEST_LEN]; /* SHA-256 of the plain password */
    bool     has_scram;            /* sc is valid */
    bool     scram_only;           /* a "$scram-sha-256$" entry: PLAIN checks sc */
    struct scram_creds sc;
};

/* One SASL exchange in progress on a connection (SCRAM between AUTH and
 * STEP). Owned by the connection; freed when the exchange ends or closes. */
struct auth_sasl_session {
    struct scram_server srv;
};

struct table {
    struct entry *e;
    size_t        n;
    bool          all_scram; /* every entry can do SCRAM: offer it */
    char         *dummy;   /* a crypt setting an unknown user is checked
                              against, so it costs what a hashed user does */
};

static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct table table;
static char *file_path;
static bool sasl_on, ascii_on;
/* keys the fake salt of a user who cannot do SCRAM; made once */
static unsigned char fake_salt_key[crypto_auth_hmacsha256_KEYBYTES];

struct slot {
    unsigned char addr[17];        /* family byte + up to 16 address bytes */
    uint32_t      failures;
    uint64_t      last_fail_ms;
};

static pthread_mutex_t throttle_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[LIMIT_AUTH_THROTTLE_SLOTS];

static const char *const hash_prefixes[] = { "$y$", "$gy$", "$7$", "$2b$", "$6$", "$5$" };

static bool is_hash(const char *s)
{
    for (size_t i = 0; i < sizeof(hash_prefixes) / sizeof(hash_prefixes[0]); i++)
        if (strncmp(s, hash_prefixes[i], strlen(hash_prefixes[i])) == 0)
            return true;
    return false;
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        sodium_memzero(t->e[i].digest, DIGEST_LEN);
        sodium_memzero(&t->e[i].sc, sizeof(t->e[i].sc));
        free(t->e[i].user);
        free(t->e[i].hash);
    }
    free(t->e);
    free(t->dummy);
    t->e = NULL;
    t->n = 0;
    t->dummy = NULL;
}

/* Parse the whole file into t. Lines are "user:password"; the last line may
 * lack its newline (memcached crashed on that, CVE-2021-37519); "\r\n"
 * endings, empty lines and lines starting with '#' are allowed. */
static int table_load(const char *path, bool scram, struct table *t, char *err,
                      size_t errlen)
{
    FILE *f = fopen(path, "re");
    char line[LIMIT_AUTH_LINE_MAX + 2];
    size_t lineno = 0;

    memset(t, 0, sizeof(*t));
    if (f == NULL) {
        snprintf(err, errlen, "cannot open the password file %s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t n = strlen(line);
        char *colon;
        struct entry *e;

        lineno++;
        if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
            snprintf(err, errlen, "%s:%zu: line longer than %d bytes", path, lineno,
                     LIMIT_AUTH_LINE_MAX);
            goto fail;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        colon = strchr(line, ':');
        if (colon == NULL || colon == line || colon[1] == '\0') {
            snprintf(err, errlen, "%s:%zu: expected user:password", path, lineno);
            goto fail;
        }
        if (t->n == LIMIT_AUTH_USERS_MAX) {
            snprintf(err, errlen, "%s: more than %d entries", path, LIMIT_AUTH_USERS_MAX);
            goto fail;
        }
        e = realloc(t->e, (t->n + 1) * sizeof(*e));
        if (e == NULL)
            goto oom;
        t->e = e;
        e = &t->e[t->n];
        memset(e, 0, sizeof(*e));
        e->nuser = (size_t)(colon - line);
        e->user = strndup(line, e->nuser);
        if (e->user == NULL)
            goto oom;
        t->n++;
        if (scram_entry_is(colon + 1)) {
            if (scram_entry_parse(colon + 1, &e->sc) < 0) {
                snprintf(err, errlen, "%s:%zu: malformed %s entry", path, lineno,
                         SCRAM_ENTRY_PREFIX);
                goto fail;
            }
            e->has_scram = e->scram_only = true;
        } else if (is_hash(colon + 1)) {
            e->hash = strdup(colon + 1);
            if (e->hash == NULL)
                goto oom;
            if (t->dummy == NULL && (t->dummy = strdup(colon + 1)) == NULL)
                goto oom;
        } else {
            unsigned char salt[SCRAM_SALT_LEN];
            crypto_hash_sha256(e->digest, (const unsigned char *)colon + 1,
                               strlen(colon + 1));
            if (scram) {   /* SCRAM keys only where SASL can use them */
                randombytes_buf(salt, sizeof(salt));
                scram_derive(colon + 1, strlen(colon + 1), salt, sizeof(salt),
                             SCRAM_ITERATIONS_DEFAULT, &e->sc);
                e->has_scram = true;
            }
        }
        sodium_memzero(line, sizeof(line));
    }
    if (ferror(f)) {
        snprintf(err, errlen, "cannot read %s", path);
        goto fail;
    }
    fclose(f);
    if (t->n == 0) {
        snprintf(err, errlen, "the password file %s has no entries", path);
        return -1;
    }
    t->all_scram = true;
    for (size_t i = 0; i < t->n; i++)
        t->all_scram = t->all_scram && t->e[i].has_scram;
    return 0;
oom:
    snprintf(err, errlen, "out of memory reading %s", path);
fail:
    sodium_memzero(line, sizeof(line));
    fclose(f);
    table_free(t);
    return -1;
}

int auth_setup(const char *path, bool sasl, bool ascii, char *err, size_t errlen)
{
    struct table t;
    struct stat st;

    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    randombytes_buf(fake_salt_key, sizeof(fake_salt_key));
    if (table_load(path, sasl, &t, err, errlen) < 0)
        return -1;
    if (stat(path, &st) == 0 && (st.st_mode & 0077))
        log_warn("hardcached: WARNING: the password file %s can be read by other "
                 "users (mode %03o); chmod 600 it", path, (unsigned)(st.st_mode & 0777));
    file_path = strdup(path);
    if (file_path == NULL) {
        table_free(&t);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    table = t;
    sasl_on = sasl;
    ascii_on = ascii;
    return 0;
}

int auth_reload(char *err, size_t errlen)
{
    struct table t, old;

    if (file_path == NULL)
        return 0;
    if (table_load(file_path, sasl_on, &t, err, errlen) < 0)
        return -1;
    pthread_rwlock_wrlock(&table_lock);
    old = table;
    table = t;
    pthread_rwlock_unlock(&table_lock);
    table_free(&old);
    return 0;
}

void auth_teardown(void)
{
    table_free(&table);
    free(file_path);
    file_path = NULL;
    sasl_on = ascii_on = false;
}

bool auth_sasl_enabled(void) { return sasl_on; }
bool auth_ascii_enabled(void) { return ascii_on; }

const char *auth_sasl_mechs(void)
{
    bool scram;

    /* Clients built on Cyrus SASL (pylibmc, libmemcached) take the
     * strongest mechanism offered, whoever logs in: offer SCRAM only when
     * every user can do it, or a crypt(3) user could no longer log in.
     * SCRAM is accepted whenever asked for. */
    pthread_rwlock_rdlock(&table_lock);
    scram = table.all_scram;
    pthread_rwlock_unlock(&table_lock);
    return scram ? SCRAM_MECH " PLAIN" : "PLAIN";
}

/* ---- throttling ---- */

static void addr_key(const struct sockaddr_storage *peer, unsigned char key[17])
{
    memset(key, 0, 17);
    key[0] = (unsigned char)peer->ss_family;
    if (peer->ss_family == AF_INET) {
        memcpy(key + 1, &((const struct sockaddr_in *)peer)->sin_addr, 4);
    } else if (peer->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)peer)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            key[0] = AF_INET;
            memcpy(key + 1, a->s6_addr + 12, 4);
        } else {
            memcpy(key + 1, a->s6_addr, 8);   /* a /64 is one source */
        }
    }
}

static uint64_t backoff_ms(uint32_t failures)
{
    uint32_t over = failures - LIMIT_AUTH_FREE_FAILURES;
    uint64_t d = LIMIT_AUTH_BACKOFF_BASE_MS;

    while (over-- > 0 && d < LIMIT_AUTH_BACKOFF_MAX_MS)
        d *= 2;
    return d < LIMIT_AUTH_BACKOFF_MAX_MS ? d : LIMIT_AUTH_BACKOFF_MAX_MS;
}

/* Find the slot of `key` (or NULL); with `make`, take a free or the
 * stalest slot for it. Caller holds throttle_lock. */
static struct slot *slot_find(const unsigned char key[17], uint64_t now, bool make)
{
    /* keyed: a client cannot pick addresses that crowd out a slot */
    size_t h = (size_t)hash_key(key, 17), victim = SIZE_MAX;
    uint64_t oldest = UINT64_MAX;

    for (size_t k = 0; k < LIMIT_AUTH_THROTTLE_PROBE; k++) {
        struct slot *s = &slots[(h + k) % LIMIT_AUTH_THROTTLE_SLOTS];
        bool stale = s->failures == 0 || now - s->last_fail_ms > LIMIT_AUTH_FORGET_MS;
        if (s->failures != 0 && memcmp(s->addr, key, 17) == 0) {
            if (stale)
                s->failures = 0;
            return s;
        }
        if (stale ? 0 < oldest : s->last_fail_ms < oldest) {
            oldest = stale ? 0 : s->last_fail_ms;
            victim = (h + k) % LIMIT_AUTH_THROTTLE_SLOTS;
        }
    }
    if (!make)
        return NULL;
    memset(&slots[victim], 0, sizeof(slots[victim]));
    memcpy(slots[victim].addr, key, 17);
    return &slots[victim];
}

static bool throttled(const unsigned char key[17])
{
    uint64_t now = clock_mono_ms();
    struct slot *s;
    bool t = false;

    pthread_mutex_lock(&throttle_lock);
    s = slot_find(key, now, false);
    if (s && s->failures >= LIMIT_AUTH_FREE_FAILURES &&
        now - s->last_fail_ms < backoff_ms(s->failures))
        t = true;
    pthread_mutex_unlock(&throttle_lock);
    return t;
}

static void record(const unsigned char key[17], bool ok)
{
    uint64_t now = clock_mono_ms();
    struct slot *s;

    pthread_mutex_lock(&throttle_lock);
    s = slot_find(key, now, !ok);
    if (s && ok) {
        memset(s, 0, sizeof(*s));
    } else if (s) {
        if (s->failures < UINT32_MAX)
            s->failures++;
        s->last_fail_ms = now;
    }
    pthread_mutex_unlock(&throttle_lock);
}

void auth_throttle_reset(void)
{
    pthread_mutex_lock(&throttle_lock);
    memset(slots, 0, sizeof(slots));
    pthread_mutex_unlock(&throttle_lock);
}

/* ---- verification ---- */

static bool verify(const char *user, size_t nuser, const char *pass, size_t npass)
{
    unsigned char want[DIGEST_LEN], got[DIGEST_LEN];
    const struct entry *match = NULL;
    bool ok;

    pthread_rwlock_rdlock(&table_lock);
    for (size_t i = 0; i < table.n; i++)
        if (table.e[i].nuser == nuser && memcmp(table.e[i].user, user, nuser) == 0)
            match = &table.e[i];   /* the last entry for a user wins */
    if ((match && match->hash) || (match == NULL && table.dummy)) {
        const char *setting = match ? match->hash : table.dummy;
        struct crypt_data *cd = calloc(1, sizeof(*cd));
        char *pw = malloc(npass + 1);
        const char *out = NULL;
        if (cd && pw) {
            memcpy(pw, pass, npass);
            pw[npass] = '\0';
            /* a NUL inside the password must not cut it short */
            if (memchr(pass, '\0', npass) == NULL)
                out = crypt_r(pw, setting, cd);
            sodium_memzero(pw, npass);
        }
        crypto_hash_sha256(want, (const unsigned char *)setting, strlen(setting));
        if (out != NULL && out[0] != '*')
            crypto_hash_sha256(got, (const unsigned char *)out, strlen(out));
        else
            memset(got, 0, sizeof(got));
        if (cd)
            sodium_memzero(cd, sizeof(*cd));
        free(cd);
        free(pw);
    } else if (match && match->scram_only) {
        struct scram_creds c;
        scram_derive(pass, npass, match->sc.salt, match->sc.nsalt, match->sc.iter, &c);
        memcpy(want, match->sc.stored_key, DIGEST_LEN);
        memcpy(got, c.stored_key, DIGEST_LEN);
        sodium_memzero(&c, sizeof(c));
    } else {
        crypto_hash_sha256(got, (const unsigned char *)pass, npass);
        if (match)
            memcpy(want, match->digest, DIGEST_LEN);
        else
            memset(want, 0xff, DIGEST_LEN);   /* same work, never equal */
    }
    pthread_rwlock_unlock(&table_lock);
    ok = sodium_memcmp(want, got, DIGEST_LEN) == 0 && match != NULL;
    sodium_memzero(got, sizeof(got));
    sodium_memzero(want, sizeof(want));
    return ok;
}

enum auth_verdict auth_check(const struct sockaddr_storage *peer,
                             const char *user, size_t nuser,
                             const char *pass, size_t npass)
{
    unsigned char key[17];
    bool ok;

    addr_key(peer, key);
    if (throttled(key))
        return AUTH_THROTTLED;
    ok = nuser > 0 && verify(user, nuser, pass, npass);
    record(key, ok);
    return ok ? AUTH_GRANTED : AUTH_DENIED;
}

enum auth_verdict auth_sasl(const struct sockaddr_storage *peer,
                            const char *mech, size_t nmech,
                            const char *data, size_t ndata)
{
    const char *authcid, *pass, *nul;
    unsigned char key[17];

    if (nmech != 5 || memcmp(mech, "PLAIN", 5) != 0) {
        addr_key(peer, key);
        record(key, false);
        return AUTH_DENIED;
    }
    /* PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd */
    nul = memchr(data, '\0', ndata);
    if (nul == NULL)
        goto bad;
    authcid = nul + 1;
    nul = memchr(authcid, '\0', (size_t)(data + ndata - authcid));
    if (nul == NULL)
        goto bad;
    pass = nul + 1;
    return auth_check(peer, authcid, (size_t)(nul - authcid), pass,
                      (size_t)(data + ndata - pass));
bad:
    addr_key(peer, key);
    record(key, false);
    return AUTH_DENIED;
}

/* ---- SCRAM-SHA-256 over SASL AUTH/STEP ---- */

void auth_sasl_session_destroy(struct auth_sasl_session **sess)
{
    if (*sess == NULL)
        return;
    scram_server_wipe(&(*sess)->srv);
    free(*sess);
    *sess = NULL;
}

static bool is_scram(const char *mech, size_t nmech)
{
    return nmech == sizeof(SCRAM_MECH) - 1 && memcmp(mech, SCRAM_MECH, nmech) == 0;
}

/* The user's SCRAM credentials, or made-up ones for a user who has none. */
static void scram_creds_for(const char *user, size_t nuser, struct scram_creds *c)
{
    const struct entry *match = NULL;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];

    pthread_rwlock_rdlock(&table_lock);
    for (size_t i = 0; i < table.n; i++)
        if (table.e[i].nuser == nuser && memcmp(table.e[i].user, user, nuser) == 0)
            match = &table.e[i];   /* the last entry for a user wins, as verify() */
    if (match && match->has_scram)
        *c = match->sc;
    pthread_rwlock_unlock(&table_lock);
    if (match && match->has_scram)
        return;
    /* the same salt for the same name each time, keys no proof can match */
    crypto_auth_hmacsha256(mac, (const unsigned char *)user, nuser, fake_salt_key);
    memset(c, 0, sizeof(*c));
    memcpy(c->salt, mac, SCRAM_SALT_LEN);
    c->nsalt = SCRAM_SALT_LEN;
    c->iter = SCRAM_ITERATIONS_DEFAULT;
    randombytes_buf(c->stored_key, sizeof(c->stored_key));
    randombytes_buf(c->server_key, sizeof(c->server_key));
}

enum auth_verdict auth_sasl_start(struct auth_sasl_session **sess,
                                  const struct sockaddr_storage *peer,
                                  const char *mech, size_t nmech,
                                  const char *data, size_t ndata,
                                  char *reply, size_t cap, size_t *nreply)
{
    struct scram_client_first cf;
    struct scram_creds c;
    unsigned char raw[SCRAM_SNONCE_RAW];
    char snonce[sodium_base64_ENCODED_LEN(SCRAM_SNONCE_RAW, sodium_base64_VARIANT_ORIGINAL)];
    unsigned char key[17];
    int n;

    *nreply = 0;
    auth_sasl_session_destroy(sess);   /* a new AUTH abandons an exchange */
    if (!is_scram(mech, nmech))
        return auth_sasl(peer, mech, nmech, data, ndata);
    addr_key(peer, key);
    if (throttled(key))
        return AUTH_THROTTLED;
    if (scram_parse_client_first(data, ndata, &cf) < 0 ||
        (*sess = malloc(sizeof(**sess))) == NULL) {
        record(key, false);
        return AUTH_DENIED;
    }
    scram_creds_for(cf.user, cf.nuser, &c);
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(snonce, sizeof(snonce), raw, sizeof(raw),
                      sodium_base64_VARIANT_ORIGINAL);
    n = scram_server_first(&(*sess)->srv, &cf, &c, snonce, strlen(snonce), reply, cap);
    sodium_memzero(&c, sizeof(c));
    if (n < 0) {
        auth_sasl_session_destroy(sess);
        record(key, false);
        return AUTH_DENIED;
    }
    *nreply = (size_t)n;
    return AUTH_CONTINUE;
}

enum auth_verdict auth_sasl_step(struct auth_sasl_session **sess,
                                 const struct sockaddr_storage *peer,
                                 const char *mech, size_t nmech,
                                 const char *data, size_t ndata,
                                 char *reply, size_t cap, size_t *nreply)
{
    unsigned char key[17];
    int n = -1;

    *nreply = 0;
    addr_key(peer, key);
    if (*sess == NULL || !is_scram(mech, nmech)) {   /* STEP without AUTH */
        auth_sasl_session_destroy(sess);
        record(key, false);
        return AUTH_DENIED;
    }
    if (throttled(key)) {
        auth_sasl_session_destroy(sess);
        return AUTH_THROTTLED;
    }
    n = scram_server_final(&(*sess)->srv, data, ndata, reply, cap);
    auth_sasl_session_destroy(sess);   /* one final per exchange: no replay */
    record(key, n >= 0);
    if (n < 0)
        return AUTH_DENIED;
    *nreply = (size_t)n;
    return AUTH_GRANTED;
}

int auth_hash_password(const char *pass, char *out, size_t outlen)
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *cd;
    const char *h;
    int rc = -1;

    if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) == NULL)
        return -1;
    cd = calloc(1, sizeof(*cd));
    if (cd == NULL)
        return -1;
    h = crypt_r(pass, salt, cd);
    if (h != NULL && h[0] != '*' && strlen(h) < outlen) {
        strcpy(out, h);
        rc = 0;
    }
    sodium_memzero(cd, sizeof(*cd));
    free(cd);
    return rc;
}

int auth_hash_password_scram(const char *pass, char *out, size_t outlen)
{
    unsigned char salt[SCRAM_SALT_LEN];
    struct scram_creds c;
    int rc;

    if (sodium_init() < 0)
        return -1;
    randombytes_buf(salt, sizeof(salt));
    scram_derive(pass, strlen(pass), salt, sizeof(salt), SCRAM_ITERATIONS_DEFAULT, &c);
    rc = scram_entry_format(&c, out, outlen);
    sodium_memzero(&c, sizeof(c));
    return rc;
}
