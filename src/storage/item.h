/*
 * item: the byte layout of one stored item inside a segment. Kept as small
 * as the semantics allow, because per-item bytes decide how many items fit
 * in the memory limit (memcached spends ~50 bytes of header per item; this
 * layout spends 8 for an item with no expiry and no client flags).
 *
 *   byte 0      iflags (ITEM_*)
 *   byte 1      key length (0..STORE_KEY_MAX)
 *   1-5 bytes   value length, LEB128 varint
 *   4 bytes     CAS sequence as a signed delta from the segment's base
 *   1 byte      last access, seconds after the segment was created, as a
 *               tiny float (ITEM_ATIME_*): exact below 16 s, then within
 *               1/16 of the segment's age, rounded up; saturates at
 *               ITEM_ATIME_MAX (5.9 days). Meta's "l" flag and "me".
 *   [4 bytes]   exptime, only with ITEM_HAS_EXP
 *   [4 bytes]   client flags, only with ITEM_HAS_FLAGS
 *   [8 bytes]   a CAS value the client chose (meta E), only with ITEM_HAS_CAS
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
#define ITEM_CAS_BYTES   4u
#define ITEM_ATIME_BYTES 1u
#define ITEM_ATIME_EXACT 16u                /* seconds kept exactly */
#define ITEM_ATIME_MAX   (31u << 14)        /* the largest code, 255 */
#define ITEM_VARINT_MAX  5u   /* a uint32 in LEB128 */

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

static inline size_t item_varint_len(uint32_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Bytes an item takes with the given optional fields. */
static inline size_t item_size_of(size_t nkey, uint32_t nvalue, bool has_exp,
                                  bool has_flags, bool has_cas)
{
    return ITEM_FIXED_HDR + item_varint_len(nvalue) + ITEM_CAS_BYTES +
           ITEM_ATIME_BYTES + (has_exp ? 4u : 0u) + (has_flags ? 4u : 0u) +
           (has_cas ? 8u : 0u) + nkey + nvalue;
}

/* Decoded view of an item's header. */
struct item_hdr {
    uint8_t  iflags;
    uint8_t  nkey;
    uint32_t nvalue;
    int32_t  cas_delta;
    rel_time_t exptime;
    uint32_t flags;
    uint32_t atime;     /* seconds after the segment's creation */
    uint64_t cas;       /* the client's CAS, with ITEM_HAS_CAS */
    size_t   atime_off;
    size_t   cas_off;   /* offset of the CAS delta (rewritten in place) */
    size_t   exp_off;   /* offset of exptime, 0 if absent */
    size_t   key_off;
    size_t   size;      /* whole item */
};

static inline void item_decode(const unsigned char *it, struct item_hdr *h)
{
    size_t off = ITEM_FIXED_HDR;
    uint32_t v = 0;
    unsigned shift = 0;
    unsigned char b;

    h->iflags = it[0];
    h->nkey = it[1];
    do {
        b = it[off++];
        v |= (uint32_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    h->nvalue = v;
    h->cas_off = off;
    memcpy(&h->cas_delta, it + off, 4);
    off += 4;
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
        memcpy(&h->cas, it + off, 8);
        off += 8;
    }
    h->key_off = off;
    h->size = off + h->nkey + h->nvalue;
}

/* Write an item's header; returns the offset where the key goes. `extra`
 * adds ITEM_STALE/ITEM_TOKEN_SENT; cas != 0 stores a client's CAS. */
static inline size_t item_encode(unsigned char *it, uint8_t nkey, uint32_t nvalue,
                                 int32_t cas_delta, uint32_t atime,
                                 rel_time_t exptime, uint32_t flags,
                                 uint8_t extra, uint64_t cas)
{
    size_t off = ITEM_FIXED_HDR;
    uint32_t v = nvalue;

    it[0] = (unsigned char)((exptime ? ITEM_HAS_EXP : 0) | (flags ? ITEM_HAS_FLAGS : 0) |
                            (cas ? ITEM_HAS_CAS : 0) |
                            (extra & (ITEM_STALE | ITEM_TOKEN_SENT)));
    it[1] = nkey;
    while (v >= 0x80) {
        it[off++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    it[off++] = (unsigned char)v;
    memcpy(it + off, &cas_delta, 4);
    off += 4;
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
        memcpy(it + off, &cas, 8);
        off += 8;
    }
    return off;
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
    while (it[off++] & 0x80)
        ;
    off += ITEM_CAS_BYTES + ITEM_ATIME_BYTES;
    if (it[0] & ITEM_HAS_EXP)
        off += 4;
    if (it[0] & ITEM_HAS_FLAGS)
        off += 4;
    if (it[0] & ITEM_HAS_CAS)
        off += 8;
    return it + off;
}

#endif
