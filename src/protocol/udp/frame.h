/*
 * udp frame: memcached's 8-byte UDP frame header, as pure functions. A
 * request is one datagram (header + one or more requests); a reply is cut
 * into datagrams of at most UDP_DATAGRAM_MAX bytes, header included, each
 * carrying the request id, its sequence number and the total. No I/O, no
 * allocation: the server, the unit tests and a fuzzer share these.
 */
#ifndef HC_PROTOCOL_UDP_FRAME_H
#define HC_PROTOCOL_UDP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UDP_FRAME_HEADER   8
/* Largest datagram sent, header included (memcached's UDP_MAX_PAYLOAD_SIZE). */
#define UDP_DATAGRAM_MAX   1400
#define UDP_CHUNK_MAX      (UDP_DATAGRAM_MAX - UDP_FRAME_HEADER)
/* The sequence and total fields are 16 bits wide. */
#define UDP_DATAGRAMS_MAX  65535u

struct udp_frame {
    uint16_t request_id;
    uint16_t seq;
    uint16_t total;
    uint16_t reserved;
};

enum udp_frame_status {
    UDP_FRAME_OK,       /* *payload, *plen: the request bytes */
    UDP_FRAME_SHORT,    /* no payload after the header: drop */
    UDP_FRAME_MULTI,    /* total != 1: multi-datagram requests are not
                           served (memcached drops them too; a bug there
                           was CVE-2022-48571) */
};

/* Parse a received datagram d[0..n). */
enum udp_frame_status udp_frame_parse(const uint8_t *d, size_t n,
                                      struct udp_frame *f,
                                      const uint8_t **payload, size_t *plen);

/* Datagrams needed for a reply of len bytes (0 for an empty reply). */
size_t udp_frame_count(size_t len);
/* UDP payload bytes on the wire for a reply of len bytes: len plus one
 * header per datagram. */
size_t udp_frame_wire_size(size_t len);
/* Largest reply (without headers) whose wire size is at most `wire`. */
size_t udp_frame_fit(size_t wire);

/* Write the header of datagram `index` of a reply of len bytes into
 * out[0..UDP_FRAME_HEADER) and return the offset and length of the reply
 * bytes it carries. Requires index < udp_frame_count(len) <= UDP_DATAGRAMS_MAX. */
void udp_frame_compose(uint16_t request_id, size_t len, size_t index,
                       uint8_t out[UDP_FRAME_HEADER], size_t *off,
                       size_t *chunk);

#endif
