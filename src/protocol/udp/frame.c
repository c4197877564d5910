/* udp frame: see frame.h. Big-endian 16-bit fields, as memcached. */
#include "protocol/udp/frame.h"

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

enum udp_frame_status udp_frame_parse(const uint8_t *d, size_t n,
                                      struct udp_frame *f,
                                      const uint8_t **payload, size_t *plen)
{
    *payload = NULL;
    *plen = 0;
    if (n <= UDP_FRAME_HEADER)
        return UDP_FRAME_SHORT;
    f->request_id = get16(d);
    f->seq = get16(d + 2);
    f->total = get16(d + 4);
    f->reserved = get16(d + 6);
    if (f->total != 1)
        return UDP_FRAME_MULTI;
    *payload = d + UDP_FRAME_HEADER;
    *plen = n - UDP_FRAME_HEADER;
    return UDP_FRAME_OK;
}

size_t udp_frame_count(size_t len)
{
    return len / UDP_CHUNK_MAX + (len % UDP_CHUNK_MAX != 0);
}

size_t udp_frame_wire_size(size_t len)
{
    return len + UDP_FRAME_HEADER * udp_frame_count(len);
}

size_t udp_frame_fit(size_t wire)
{
    size_t full = wire / UDP_DATAGRAM_MAX, rest = wire % UDP_DATAGRAM_MAX;

    return full * UDP_CHUNK_MAX + (rest > UDP_FRAME_HEADER ? rest - UDP_FRAME_HEADER : 0);
}

void udp_frame_compose(uint16_t request_id, size_t len, size_t index,
                       uint8_t out[UDP_FRAME_HEADER], size_t *off, size_t *chunk)
{
    size_t total = udp_frame_count(len);

    put16(out, request_id);
    put16(out + 2, index);
    put16(out + 4, total);
    put16(out + 6, 0);
    *off = index * UDP_CHUNK_MAX;
    *chunk = len - *off < UDP_CHUNK_MAX ? len - *off : UDP_CHUNK_MAX;
}
