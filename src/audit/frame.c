/*
 * frame: building and reassembling memcached UDP frames. Every length is
 * checked before it is used; nothing here trusts the peer's header.
 */
#include "audit/frame.h"

#include <string.h>

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

size_t frame_build(uint8_t *buf, size_t cap, uint16_t reqid,
                   const void *cmd, size_t cmd_len)
{
    if (cap < FRAME_HDR_LEN || cmd_len > cap - FRAME_HDR_LEN)
        return 0;
    put16(buf, reqid);
    put16(buf + 2, 0);      /* sequence number */
    put16(buf + 4, 1);      /* total datagrams: must be 1 in a request */
    put16(buf + 6, 0);      /* reserved */
    memcpy(buf + FRAME_HDR_LEN, cmd, cmd_len);
    return FRAME_HDR_LEN + cmd_len;
}

bool frame_parse(const uint8_t *p, size_t n, struct frame_hdr *h)
{
    if (n < FRAME_HDR_LEN)
        return false;
    h->reqid = get16(p);
    h->seq = get16(p + 2);
    h->total = get16(p + 4);
    h->reserved = get16(p + 6);
    return true;
}

void reasm_reset(struct reasm *r, uint16_t reqid)
{
    memset(r, 0, sizeof(*r));
    r->reqid = reqid;
}

enum reasm_res reasm_add(struct reasm *r, const uint8_t *p, size_t n)
{
    struct frame_hdr h;
    size_t body;

    if (!frame_parse(p, n, &h))
        return REASM_BAD;
    if (h.reqid != r->reqid)
        return REASM_FOREIGN;
    if (h.total == 0 || h.seq >= h.total)
        return REASM_BAD;
    if (r->total == 0)
        r->total = h.total;
    else if (h.total != r->total)
        return REASM_BAD;
    if (r->seen[h.seq / 8] & (1u << (h.seq % 8)))
        return REASM_DUP;
    r->seen[h.seq / 8] |= (uint8_t)(1u << (h.seq % 8));
    r->got++;
    r->bytes += n;
    if (h.seq < FRAME_KEEP_SEQS) {
        body = n - FRAME_HDR_LEN;
        if (body > FRAME_KEEP_SLOT)
            body = FRAME_KEEP_SLOT;
        memcpy(r->keep[h.seq], p + FRAME_HDR_LEN, body);
        r->keep_len[h.seq] = (uint16_t)body;
    }
    return r->got == r->total ? REASM_COMPLETE : REASM_NEW;
}

size_t reasm_text(const struct reasm *r, char *out, size_t cap)
{
    size_t len = 0;

    if (cap == 0)
        return 0;
    for (unsigned s = 0; s < FRAME_KEEP_SEQS && s < r->total; s++) {
        size_t n = r->keep_len[s];
        if (!(r->seen[s / 8] & (1u << (s % 8))))
            break;
        if (n > cap - 1 - len)
            n = cap - 1 - len;
        memcpy(out + len, r->keep[s], n);
        len += n;
        if (len == cap - 1)
            break;
    }
    out[len] = '\0';
    return len;
}
