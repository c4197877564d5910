/*
 * fuzz_udp_frame: memcached's 8-byte UDP frame header, parsed from a
 * datagram exactly the size of the input; and the reply side: for a
 * length taken from the input, every datagram's slice lies inside the
 * reply and the slices cover it once, in order.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "protocol/udp/frame.h"

#define FUZZ_CHECK(cond) do { if (!(cond)) abort(); } while (0)
/* Replies larger than this are not composed here (time, not memory). */
#define FUZZ_REPLY_MAX (4 * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct udp_frame f;
    const uint8_t *payload = NULL;
    size_t plen = 0;

    if (size > FUZZ_INPUT_MAX)
        return 0;
    uint8_t *d = malloc(size ? size : 1);
    if (d == NULL)
        return 0;
    memcpy(d, data, size);
    if (udp_frame_parse(d, size, &f, &payload, &plen) == UDP_FRAME_OK) {
        FUZZ_CHECK(payload >= d && plen > 0 && payload + plen == d + size);
        FUZZ_CHECK(f.total == 1);
    }
    free(d);

    if (size >= 4) {
        size_t len = ((size_t)data[0] << 16 | (size_t)data[1] << 8 | data[2]) %
                     FUZZ_REPLY_MAX;
        size_t count = udp_frame_count(len), next = 0;
        FUZZ_CHECK(udp_frame_wire_size(len) >= len);
        FUZZ_CHECK(udp_frame_fit(udp_frame_wire_size(len)) >= len);
        for (size_t i = 0; i < count && count <= UDP_DATAGRAMS_MAX; i++) {
            uint8_t hdr[UDP_FRAME_HEADER];
            size_t o, chunk;
            udp_frame_compose((uint16_t)(data[3] * 257u), len, i, hdr, &o, &chunk);
            FUZZ_CHECK(o == next && o + chunk <= len);
            next = o + chunk;
        }
        FUZZ_CHECK(count > UDP_DATAGRAMS_MAX || next == len);
    }
    return 0;
}
