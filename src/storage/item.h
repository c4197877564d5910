/*
 * item: the byte layout of one stored item inside a segment. Kept as small
 * as the semantics allow, because per-item bytes decide how many items fit
 * in the memory limit (memcached spends ~50 bytes of header per item; this
 * layout spends 7 for an item with no expiry and no client flags).
 *
 *   byte 0      iflags (ITEM_*)
 *   byte 1      key length (0..STORE_KEY_MAX)
 *   1-5 bytes   value length, LEB128 varint
 *   3 bytes     CAS sequence as a signed delta from the segment's base,
 *               or ITEM_DELTA_WIDE and then [4 bytes] the delta, for an
 *               item whose sequence lies 2^23 or more from the base
 *               (a touch of an old item, an item moved by defrag)
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
#define ITEM_CAS_BYTES   3u
#define ITEM_CAS_WIDE    4u   /* more bytes for a delta past 24 bits */
#define ITEM_DELTA_SHORT 8388607          /* |delta| in 3 bytes */
#define ITEM_DELTA_WIDE  0x800000u        /* the 3 bytes of the escape */
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

/* Does a CAS delta fit the 3-byte form? */
static inline bool item_delta_short(int64_t d)
{
    return d >= -ITEM_DELTA_SHORT && d <= ITEM_DELTA_SHORT;
}

/* Bytes an item takes with the given optional fields; `wide` for a CAS
 * delta that is not item_delta_short(). */
static inline size_t item_size_of(size_t nkey, uint32_t nvalue, bool has_exp,
                                  bool has_flags, bool has_cas, bool wide)
{
    return ITEM_FIXED_HDR + item_varint_len(nvalue) + ITEM_CAS_BYTES +
           (wide ? ITEM_CAS_WIDE : 0u) +
           ITEM_ATIME_BYTES + (has_exp ? 4u : 0u) + (has_flags ? 4u : 0u) +
           (has_cas ? 8u : 0u) + nkey + nvalue;
}

/* Decoded view of an item's header. */
struct item_hdr {
    uint8_t  iflags;
    uint8_t  nkey;
    bool     cas_wide;  /* the delta takes the 7-byte form */
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
    v = (uint32_t)it[off] | (uint32_t)it[off + 1] << 8 | (uint32_t)it[off + 2] << 16;
    off += ITEM_CAS_BYTES;
    h->cas_wide = v == ITEM_DELTA_WIDE;
    if (h->cas_wide) {
        memcpy(&h->cas_delta, it + off, 4);
        off += ITEM_CAS_WIDE;
    } else {
        /* sign-extend 24 bits */
        h->cas_delta = (int32_t)(v ^ 0x800000u) - 0x800000;
    }
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

/* Write a CAS delta at `it` in the 3-byte form or, if `wide`, the 7-byte
 * one; returns the bytes written. The 3-byte form needs
 * item_delta_short(d). */
static inline size_t item_put_delta(unsigned char *it, int32_t d, bool wide)
{
    uint32_t v = wide ? ITEM_DELTA_WIDE : (uint32_t)d & 0xffffffu;

    it[0] = (unsigned char)v;
    it[1] = (unsigned char)(v >> 8);
    it[2] = (unsigned char)(v >> 16);
    if (!wide)
        return ITEM_CAS_BYTES;
    memcpy(it + ITEM_CAS_BYTES, &d, 4);
    return ITEM_CAS_BYTES + ITEM_CAS_WIDE;
}

/* Does delta d fit the form an item already has? */
static inline bool item_delta_fits(const struct item_hdr *h, int64_t d)
{
    return h->cas_wide ? d >= INT32_MIN && d <= INT32_MAX : item_delta_short(d);
}

/* Rewrite an item's CAS delta in place; false (nothing written) if d
 * does not fit the form the item has. */
static inline bool item_set_delta(unsigned char *it, const struct item_hdr *h,
                                  int64_t d)
{
    if (!item_delta_fits(h, d))
        return false;
    item_put_delta(it + h->cas_off, (int32_t)d, h->cas_wide);
    return true;
}

/* Write an item's header; returns the offset where the key goes. `extra`
 * adds ITEM_STALE/ITEM_TOKEN_SENT; cas != 0 stores a client's CAS. `wide`
 * picks the 7-byte CAS delta, which a delta that is not
 * item_delta_short() needs. */
static inline size_t item_encode(unsigned char *it, uint8_t nkey, uint32_t nvalue,
                                 int32_t cas_delta, bool wide, uint32_t atime,
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
    off += item_put_delta(it + off, cas_delta, wide);
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
    if (it[off] == 0 && it[off + 1] == 0 && it[off + 2] == (ITEM_DELTA_WIDE >> 16))
        off += ITEM_CAS_WIDE;
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
