/*
 * hash: SipHash-2-4 keyed with a per-process random key. A library does this
 * well (libsodium), so nothing here is hand-written cryptography.
 */
#include "core/hash.h"

#include <sodium.h>
#include <string.h>

static unsigned char hash_secret[crypto_shorthash_KEYBYTES];

int hash_setup(void)
{
    if (sodium_init() < 0)
        return -1;
    crypto_shorthash_keygen(hash_secret);
    return 0;
}

_Static_assert(HASH_SECRET_BYTES == crypto_shorthash_KEYBYTES, "hash secret size");

void hash_secret_get(unsigned char out[HASH_SECRET_BYTES])
{
    memcpy(out, hash_secret, sizeof(hash_secret));
}

void hash_secret_set(const unsigned char in[HASH_SECRET_BYTES])
{
    memcpy(hash_secret, in, sizeof(hash_secret));
}

uint64_t hash_key(const void *key, size_t len)
{
    unsigned char out[crypto_shorthash_BYTES];
    uint64_t h;

    crypto_shorthash(out, key, len, hash_secret);
    memcpy(&h, out, sizeof(h));
    return h;
}
