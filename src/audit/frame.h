/*
 * frame: memcached's UDP frame header (request id, sequence number, total
 * datagrams, reserved; 16 bits each, network order) and the reassembly of
 * a reply. Pure functions over bytes: no I/O, no allocation beyond the
 * bounded buffer a reassembly owns, so the same code is testable on its own.
 */
#ifndef HC_AUDIT_FRAME_H
#define HC_AUDIT_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_HDR_LEN        8
/* Reply text kept for parsing: only the first FRAME_KEEP_SEQS datagrams,
 * each up to FRAME_KEEP_SLOT bytes. Bytes and packets are counted for any
 * number of datagrams (up to 65535, the header's limit). */
#define FRAME_KEEP_SEQS      16
#define FRAME_KEEP_SLOT      1500
#define FRAME_SEQ_MAX        65536

struct frame_hdr {
    uint16_t reqid;
    uint16_t seq;
    uint16_t total;
    uint16_t reserved;
};

/* Writes header + cmd into buf; returns the length, or 0 if cap is short. */
size_t frame_build(uint8_t *buf, size_t cap, uint16_t reqid,
                   const void *cmd, size_t cmd_len);
/* Reads the header; returns false if fewer than FRAME_HDR_LEN bytes. */
bool frame_parse(const uint8_t *p, size_t n, struct frame_hdr *h);

enum reasm_res {
    REASM_FOREIGN,      /* another request id: not ours */
    REASM_BAD,          /* ours, but malformed (short, total 0, seq >= total) */
    REASM_DUP,          /* a sequence number already seen */
    REASM_NEW,          /* counted, more to come */
    REASM_COMPLETE      /* counted, and every sequence number is now in */
};

struct reasm {
    uint16_t reqid;
    uint16_t total;         /* from the first accepted datagram, 0 = none yet */
    uint32_t got;           /* unique datagrams accepted */
    uint64_t bytes;         /* their UDP payload bytes, headers included */
    uint8_t seen[FRAME_SEQ_MAX / 8];
    uint16_t keep_len[FRAME_KEEP_SEQS];
    uint8_t keep[FRAME_KEEP_SEQS][FRAME_KEEP_SLOT];
};

void reasm_reset(struct reasm *r, uint16_t reqid);
enum reasm_res reasm_add(struct reasm *r, const uint8_t *p, size_t n);
/* Copies the reply's text (headers stripped) of the datagrams kept, in
 * sequence order, stopping at the first gap; NUL-terminates; returns the
 * length copied (at most cap - 1). */
size_t reasm_text(const struct reasm *r, char *out, size_t cap);

#endif
