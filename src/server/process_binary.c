/* process_binary: see process_binary.h. */
#include "server/process_binary.h"

enum conn_step process_binary_step(struct conn *c, const char *data, size_t len,
                                   size_t *used)
{
    (void)c;
    (void)data;
    (void)len;
    *used = 0;
    return CONN_STEP_CLOSE;
}
