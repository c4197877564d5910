/*
 * fuzz_bin_parse: the binary protocol parser as the server drives it, over
 * a stream of requests, checking the contract (consumed within the input,
 * progress on OK, key/value inside the buffer and sized as the header
 * says: memcached's CVEs were bodylen < keylen + extlen underflows). The
 * first byte picks a small or the default -I.
 */
#include <stdlib.h>

#include "fuzz.h"
#include "protocol/binary/parse.h"

#define FUZZ_CHECK(cond) do { if (!(cond)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bin_limits lim;
    struct bin_req req;
    const char *buf;
    size_t len, off = 0;

    if (size < 1 || size > FUZZ_INPUT_MAX)
        return 0;
    lim.value_max = (data[0] & 1) ? 1024 : 1024 * 1024;
    lim.swallow_max = (data[0] & 2) ? 4096 : 2 * 1024 * 1024;
    buf = (const char *)data + 1;
    len = size - 1;
    while (off < len) {
        const char *p = buf + off;
        size_t n = len - off;
        enum bin_parse_status st = bin_parse(p, n, &lim, &req);
        if (st == BIN_PARSE_NEED_MORE) {
            FUZZ_CHECK(req.need > n);
            break;
        }
        if (st == BIN_PARSE_ERROR) {
            FUZZ_CHECK(req.consumed <= n);
            FUZZ_CHECK(bin_status_message(req.status) != NULL);
            if (req.close)
                break;
            FUZZ_CHECK(req.consumed > 0);
            off += req.consumed;
            off += req.swallow < len - off ? req.swallow : len - off;
            continue;
        }
        FUZZ_CHECK(st == BIN_PARSE_OK);
        FUZZ_CHECK(req.consumed >= BIN_HEADER_LEN && req.consumed <= n);
        FUZZ_CHECK((size_t)req.extlen + req.keylen <= req.bodylen);
        FUZZ_CHECK(req.consumed == BIN_HEADER_LEN + (size_t)req.bodylen);
        if (req.keylen)
            FUZZ_CHECK(req.key >= p && req.key + req.keylen <= p + n);
        if (req.value)
            FUZZ_CHECK(req.value >= p && req.value + req.nvalue <= p + n &&
                       req.nvalue <= lim.value_max);
        off += req.consumed;
    }
    return 0;
}
