/*
 * hash: the one keyed hash for keys. Keyed with a random secret chosen at
 * start-up (SipHash-2-4 from libsodium), so clients cannot choose keys that
 * collide and degrade lookups to linear scans (hash flooding).
 */
#ifndef HC_CORE_HASH_H
#define HC_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Pick the secret. Returns 0, or -1 if no randomness was available. */
int hash_setup(void);
uint64_t hash_key(const void *key, size_t len);

/* The secret, for a restart from the -e file (storage/persist.c), which
 * must find items where they were: copied out to the file's header (the
 * file is the server user's, mode 0600) and back in before any key is
 * hashed. */
#define HASH_SECRET_BYTES 16
void hash_secret_get(unsigned char out[HASH_SECRET_BYTES]);
void hash_secret_set(const unsigned char in[HASH_SECRET_BYTES]);

#endif
