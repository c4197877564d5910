/*
 * processor: see processor.h. The first byte decides, as in memcached.
 */
#include "server/processor.h"

const struct processor *processor_pick(const struct processor *const *set,
                                       unsigned char first_byte)
{
    const struct processor *fallback = NULL;

    for (; *set != NULL; set++) {
        if ((*set)->first_byte == first_byte)
            return *set;
        if ((*set)->first_byte < 0 && fallback == NULL)
            fallback = *set;
    }
    return fallback;
}
