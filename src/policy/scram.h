/*
 * scram: the server side of SCRAM-SHA-256 (RFC 5802, RFC 7677), so a
 * password need not cross the wire. Pure apart from the keys it is given:
 * the caller (policy/auth) finds the user's credentials, makes the server
 * nonce, throttles and counts; this module parses the client's messages
 * (every wire limit named below, nothing allocated), composes the server's
 * and checks the proof in constant time. No channel binding; an authzid
 * only if it is the user itself (Cyrus SASL sends one); user names
 * compared as bytes (no SASLprep).
 */
#ifndef HC_POLICY_SCRAM_H
#define HC_POLICY_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCRAM_MECH              "SCRAM-SHA-256"
#define SCRAM_KEY_LEN           32      /* SHA-256 */
#define SCRAM_SALT_LEN          16      /* salts we make */
#define SCRAM_SALT_MAX          64      /* salts we accept in a hashed entry */
#define SCRAM_ITERATIONS_DEFAULT 4096   /* RFC 7677's minimum */
#define SCRAM_ITERATIONS_MIN    4096
#define SCRAM_ITERATIONS_MAX    10000000
/* Wire limits, checked before anything is copied. */
#define SCRAM_MSG_MAX           512     /* client-first or client-final */
#define SCRAM_USER_MAX          255     /* decoded user name */
#define SCRAM_NONCE_MAX         128     /* client nonce */
#define SCRAM_SNONCE_RAW        18      /* random bytes of the server nonce */
#define SCRAM_GS2_MAX           128     /* "n,," or "n,a=<authzid>," */
/* The hashed password-file entry: $scram-sha-256$<i>$<salt>$<StoredKey>$<ServerKey> */
#define SCRAM_ENTRY_PREFIX      "$scram-sha-256$"
#define SCRAM_ENTRY_MAX         256

struct scram_creds {
    uint32_t      iter;
    size_t        nsalt;
    unsigned char salt[SCRAM_SALT_MAX];
    unsigned char stored_key[SCRAM_KEY_LEN];
    unsigned char server_key[SCRAM_KEY_LEN];
};

/* PBKDF2-HMAC-SHA-256 of the password, then StoredKey and ServerKey.
 * salt is copied into c. */
void scram_derive(const char *pass, size_t npass, const unsigned char *salt,
                  size_t nsalt, uint32_t iter, struct scram_creds *c);
/* The password-file form of c, NUL-terminated. Returns 0, or -1 if it
 * does not fit. */
int scram_entry_format(const struct scram_creds *c, char *out, size_t outlen);
/* Parse that form (a NUL-terminated string). Returns 0 or -1. */
int scram_entry_parse(const char *s, struct scram_creds *c);
bool scram_entry_is(const char *s);

/* client-first-message, parsed. Pointers are into the message. */
struct scram_client_first {
    char        gs2[SCRAM_GS2_MAX];   /* the GS2 header, to check c= against */
    size_t      ngs2;
    const char *bare;                 /* client-first-message-bare */
    size_t      nbare;
    char        user[SCRAM_USER_MAX + 1]; /* decoded ("=2C" -> ',', "=3D" -> '=') */
    size_t      nuser;
    const char *nonce;
    size_t      nnonce;
};
/* Returns 0, or -1 for anything malformed, oversize, with channel binding
 * ("p="), an authzid other than the user, or the reserved "m=" extension. */
int scram_parse_client_first(const char *msg, size_t n, struct scram_client_first *cf);

/* The state of one exchange between server-first and server-final. */
struct scram_server {
    char          gs2[SCRAM_GS2_MAX];
    size_t        ngs2;
    size_t        nnonce;                       /* client + server nonce */
    char          nonce[SCRAM_NONCE_MAX + 2 * SCRAM_SNONCE_RAW];
    size_t        nauth;                        /* AuthMessage so far */
    char          auth[3 * SCRAM_MSG_MAX];
    unsigned char stored_key[SCRAM_KEY_LEN];
    unsigned char server_key[SCRAM_KEY_LEN];
};

/* Start an exchange: compose server-first into out (at most outcap bytes)
 * from the parsed client-first, the user's credentials and the server's
 * nonce (printable, no ','). Returns its length, or -1. */
int scram_server_first(struct scram_server *s, const struct scram_client_first *cf,
                       const struct scram_creds *c, const char *snonce, size_t nsnonce,
                       char *out, size_t outcap);
/* Check client-final. If it is well formed, carries the same GS2 header and
 * nonce, and its proof matches StoredKey, compose server-final into out and
 * return its length; otherwise -1. */
int scram_server_final(struct scram_server *s, const char *msg, size_t n,
                       char *out, size_t outcap);
/* Forget the keys. */
void scram_server_wipe(struct scram_server *s);

#endif
