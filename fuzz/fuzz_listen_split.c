/*
 * fuzz_listen_split: memcached's -l address syntax ("host", "host:port",
 * "[v6]", "[v6]:port", bare v6). The input is one spec (NUL-terminated
 * here, as argv is); the host buffer is sized exactly so ASan catches any
 * write past it. Checks: a port is -1 or 0..65535, the host is a
 * terminated string no longer than the spec.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "net/listen.h"

#define FUZZ_CHECK(cond) do { if (!(cond)) abort(); } while (0)
#define HOST_LENS 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int host_lens[HOST_LENS] = { 1, 16, 256 };
    char *spec;

    if (size > FUZZ_INPUT_MAX)
        return 0;
    spec = malloc(size + 1);
    if (spec == NULL)
        return 0;
    memcpy(spec, data, size);
    spec[size] = '\0';
    for (int i = 0; i < HOST_LENS; i++) {
        char *host = malloc((size_t)host_lens[i]);
        int port = 12345;
        if (host == NULL)
            break;
        if (listen_split(spec, host, host_lens[i], &port) == 0) {
            size_t hl = strnlen(host, (size_t)host_lens[i]);
            FUZZ_CHECK(hl < (size_t)host_lens[i] && hl > 0 && hl <= strlen(spec));
            FUZZ_CHECK(port == -1 || (port >= 0 && port <= 65535));
        }
        free(host);
    }
    free(spec);
    return 0;
}
