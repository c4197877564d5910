/*
 * item: the byte layout of one stored item inside a segment. Kept as small
 * as the semantics allow, because per-item bytes decide how many items fit
 * in the memory limit (memcached spends ~50 bytes of header per item; this
 * layout spends 4 for an item under 241 bytes with no expiry, no client
 * flags and the CAS its place implies).
 *
 *   byte 0      iflags (ITEM_*)
 *   byte 1      key length (0..STORE_KEY_MAX)
 *   1-5 bytes   value length, a prefix varint (item_varint_*): one byte up
 *               to 240, two up to 2287, three up to 67823
 *   1 byte      last access, seconds after the segment was created, as a
 *               tiny float (ITEM_ATIME_*): exact below 16 s, then within
 *               1/16 of the segment's age, rounded up; saturates at
 *               ITEM_ATIME_MAX (5.9 days). Meta's "l" flag and "me".
 *   [4 bytes]   exptime, only with ITEM_HAS_EXP
 *   [4 bytes]   client flags, only with ITEM_HAS_FLAGS
 *   [8 bytes]   the CAS a client sees, only with ITEM_HAS_CAS: one the
 *               client chose (meta E), or the one an item kept when it
 *               moved (touch, compaction, defragmentation). Otherwise the
 *               CAS follows from where the item was written (store.c).
 *   key, value  inline, no "\r\n"
 *
 * Items are byte-packed (no alignment), so multi-byte fields go through
 * memcpy. All functions are pure reads or writes of one item's bytes.
 */
#ifndef HC_STORAGE_ITEM_H
#define HC_STORAGE_ITEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/clock.h"

enum {
    ITEM_ACCESSED  = 0x01,  /* read since written or last compaction */
    ITEM_DEAD      = 0x02,  /* overwritten/deleted: bytes wait for reuse */
    ITEM_HAS_EXP   = 0x04,
    ITEM_HAS_FLAGS = 0x08,
    ITEM_FETCHED   = 0x10,  /* read at least once (evicted_unfetched) */
    ITEM_STALE     = 0x20,  /* invalidated by meta (md I / ms I): X */
    ITEM_TOKEN_SENT = 0x40, /* a client won the right to recache it: Z */
    ITEM_HAS_CAS   = 0x80,
};

#define ITEM_FIXED_HDR   2u   /* iflags + key length */
#define ITEM_ATIME_BYTES 1u
#define ITEM_CAS_BYTES   8u   /* the optional stored CAS */
#define ITEM_ATIME_EXACT 16u                /* seconds kept exactly */
#define ITEM_ATIME_MAX   (31u << 14)        /* the largest code, 255 */
#define ITEM_VARINT_MAX  5u   /* a uint32 as a prefix varint */
/* The smallest item: no key, no value. store.c writes one, dead, to take
 * a place (and so a CAS sequence) in the head segment. */
#define ITEM_FILLER_SIZE (ITEM_FIXED_HDR + 1u + ITEM_ATIME_BYTES)

/* Value lengths as SQLite4's prefix varint: the first byte says how many
 * follow, and every length under 241 (the small values a cache holds most
 * of) takes one byte where LEB128 takes two from 128 on. Hand-written:
 * five lines, and no library has this exact encoding. */
#define ITEM_VARINT_1 240u      /* the largest one-byte length */
#define ITEM_VARINT_2 2287u     /* 240 + 8 * 256 - 1 */
#define ITEM_VARINT_3 67823u    /* 2288 + 65536 - 1 */
/* A first byte no length uses (lengths take 0..251): the item's value is
 * on flash, and the ITEM_FLASH_STUB bytes in its place say where
 * (storage/flash_tier.h). Read as a length it is ITEM_FLASH_STUB, so every
 * walk over a segment steps over a flashed item unchanged. */
#define ITEM_VARINT_FLASH 252u
#define ITEM_FLASH_STUB   17u
#define ITEM_VARINT_OFF   ITEM_FIXED_HDR   /* where the length starts */

static inline size_t item_varint_len(uint32_t v)
{
    return v <= ITEM_VARINT_1 ? 1 : v <= ITEM_VARINT_2 ? 2 : v <= ITEM_VARINT_3 ? 3
         : v <= 0xffffffu ? 4 : 5;
}

/* Bytes of the varint that starts with b0. */
static inline size_t item_varint_size(unsigned char b0)
{
    return b0 <= ITEM_VARINT_1 ? 1 : b0 <= 248 ? 2 : b0 == ITEM_VARINT_FLASH ? 1
         : (size_t)b0 - 246;
}

static inline size_t item_varint_put(unsigned char *p, uint32_t v)
{
    size_t n = item_varint_len(v), i;

    if (n == 1) {
        p[0] = (unsigned char)v;
    } else if (n == 2) {
        v -= ITEM_VARINT_1 + 1;
        p[0] = (unsigned char)(241 + (v >> 8));
        p[1] = (unsigned char)v;
    } else {
        if (n == 3)
            v -= ITEM_VARINT_2 + 1;
        p[0] = (unsigned char)(246 + n);   /* 249, 250, 251 */
        for (i = n - 1; i >= 1; i--, v >>= 8)
            p[i] = (unsigned char)v;        /* big-endian */
    }
    return n;
}

static inline uint32_t item_varint_get(const unsigned char *p)
{
    unsigned char b0 = p[0];
    uint32_t v = 0;
    size_t n, i;

    if (b0 <= ITEM_VARINT_1)
        return b0;
    if (b0 <= 248)
        return ITEM_VARINT_1 + 1 + ((uint32_t)(b0 - 241) << 8) + p[1];
    if (b0 == ITEM_VARINT_FLASH)
        return ITEM_FLASH_STUB;
    n = item_varint_size(b0);
    for (i = 1; i < n; i++)
        v = v << 8 | p[i];
    return n == 3 ? v + ITEM_VARINT_2 + 1 : v;
}

/* The access-time byte: codes below 16 are seconds; code (e << 4 | m)
 * with e >= 1 is (16 + m) << (e - 1). Encoding rounds up, so a just-read
 * item never looks older than it is. */
static inline uint8_t item_atime_encode(uint32_t secs)
{
    unsigned e = 1;
    uint32_t c;

    if (secs < ITEM_ATIME_EXACT)
        return (uint8_t)secs;
    if (secs >= ITEM_ATIME_MAX)
        return 0xff;
    while ((secs >> (e - 1)) >= 2 * ITEM_ATIME_EXACT)
        e++;
    c = (e << 4) | ((secs >> (e - 1)) - ITEM_ATIME_EXACT);
    if (((secs >> (e - 1)) << (e - 1)) != secs)
        c++;   /* 0x..f + 1 carries into the next exponent: still right */
    return (uint8_t)c;
}

static inline uint32_t item_atime_decode(uint8_t c)
{
    unsigned e = c >> 4;

    if (e == 0)
        return c;
    return (ITEM_ATIME_EXACT + (c & 0xfu)) << (e - 1);
}

/* Bytes an item takes with the given optional fields. */
static inline size_t item_size_of(size_t nkey, uint32_t nvalue, bool has_exp,
                                  bool has_flags, bool has_cas)
{
    return ITEM_FIXED_HDR + item_varint_len(nvalue) + ITEM_ATIME_BYTES +
           (has_exp ? 4u : 0u) + (has_flags ? 4u : 0u) +
           (has_cas ? ITEM_CAS_BYTES : 0u) + nkey + nvalue;
}

/* Decoded view of an item's header. */
struct item_hdr {
    uint8_t  iflags;
    uint8_t  nkey;
    uint32_t nvalue;
    rel_time_t exptime;
    uint32_t flags;
    uint32_t atime;     /* seconds after the segment's creation */
    uint64_t cas;       /* the stored CAS, with ITEM_HAS_CAS */
    size_t   atime_off;
    size_t   exp_off;   /* offset of exptime, 0 if absent */
    size_t   key_off;
    size_t   size;      /* whole item */
};

static inline void item_decode(const unsigned char *it, struct item_hdr *h)
{
    size_t off = ITEM_FIXED_HDR;

    h->iflags = it[0];
    h->nkey = it[1];
    h->nvalue = item_varint_get(it + off);
    off += item_varint_size(it[off]);
    h->atime_off = off;
    h->atime = item_atime_decode(it[off]);
    off += ITEM_ATIME_BYTES;
    h->exptime = 0;
    h->exp_off = 0;
    if (h->iflags & ITEM_HAS_EXP) {
        h->exp_off = off;
        memcpy(&h->exptime, it + off, 4);
        off += 4;
    }
    h->flags = 0;
    if (h->iflags & ITEM_HAS_FLAGS) {
        memcpy(&h->flags, it + off, 4);
        off += 4;
    }
    h->cas = 0;
    if (h->iflags & ITEM_HAS_CAS) {
        memcpy(&h->cas, it + off, ITEM_CAS_BYTES);
        off += ITEM_CAS_BYTES;
    }
    h->key_off = off;
    h->size = off + h->nkey + h->nvalue;
}

/* Write an item's header; returns the offset where the key goes. `extra`
 * adds ITEM_STALE/ITEM_TOKEN_SENT; cas != 0 stores a CAS (ITEM_HAS_CAS). */
static inline size_t item_encode(unsigned char *it, uint8_t nkey, uint32_t nvalue,
                                 uint32_t atime, rel_time_t exptime, uint32_t flags,
                                 uint8_t extra, uint64_t cas)
{
    size_t off = ITEM_FIXED_HDR;

    it[0] = (unsigned char)((exptime ? ITEM_HAS_EXP : 0) | (flags ? ITEM_HAS_FLAGS : 0) |
                            (cas ? ITEM_HAS_CAS : 0) |
                            (extra & (ITEM_STALE | ITEM_TOKEN_SENT)));
    it[1] = nkey;
    off += item_varint_put(it + off, nvalue);
    it[off] = item_atime_encode(atime);
    off += ITEM_ATIME_BYTES;
    if (exptime) {
        memcpy(it + off, &exptime, 4);
        off += 4;
    }
    if (flags) {
        memcpy(it + off, &flags, 4);
        off += 4;
    }
    if (cas) {
        memcpy(it + off, &cas, ITEM_CAS_BYTES);
        off += ITEM_CAS_BYTES;
    }
    return off;
}

/* Is the item's value on flash (its value bytes a stub)? */
static inline bool item_is_flashed(const unsigned char *it)
{
    return it[ITEM_VARINT_OFF] == ITEM_VARINT_FLASH;
}

/* Mark an item encoded with nvalue ITEM_FLASH_STUB as flashed. */
static inline void item_set_flashed(unsigned char *it)
{
    it[ITEM_VARINT_OFF] = ITEM_VARINT_FLASH;
}

/* A dead item of ITEM_FILLER_SIZE bytes: a place that holds nothing. */
static inline void item_put_filler(unsigned char *it)
{
    item_encode(it, 0, 0, 0, 0, 0, 0, 0);
    it[0] = ITEM_DEAD;
}

/* Record an access `secs` after the segment's creation, in place. */
static inline void item_set_atime(unsigned char *it, const struct item_hdr *h,
                                  uint32_t secs)
{
    it[h->atime_off] = item_atime_encode(secs);
}

/* Just the key, for hash-table compares and rehashing. */
static inline const unsigned char *item_key(const unsigned char *it, size_t *nkey)
{
    size_t off = ITEM_FIXED_HDR;

    *nkey = it[1];
    off += item_varint_size(it[off]) + ITEM_ATIME_BYTES;
    if (it[0] & ITEM_HAS_EXP)
        off += 4;
    if (it[0] & ITEM_HAS_FLAGS)
        off += 4;
    if (it[0] & ITEM_HAS_CAS)
        off += ITEM_CAS_BYTES;
    return it + off;
}

#endif
