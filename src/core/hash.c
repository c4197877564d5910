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

uint64_t hash_key(const void *key, size_t len)
{
    unsigned char out[crypto_shorthash_BYTES];
    uint64_t h;

    crypto_shorthash(out, key, len, hash_secret);
    memcpy(&h, out, sizeof(h));
    return h;
}
