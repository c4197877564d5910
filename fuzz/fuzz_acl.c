/*
 * fuzz_acl: the allow-list syntax (--allow, --allow-file): a whole file's
 * text through acl_parse_list, then every parsed entry must be canonical
 * (host bits zero, prefix in range) and match its own network address.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "policy/acl.h"

#define FUZZ_CHECK(cond) do { if (!(cond)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct acl acl;     /* large: not on the stack */
    struct acl_error err;
    char *text;

    if (size > FUZZ_INPUT_MAX)
        return 0;
    text = malloc(size ? size : 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    memset(&acl, 0, sizeof(acl));
    memset(&err, 0, sizeof(err));
    if (acl_parse_list(text, size, &acl, &err) == 0) {
        FUZZ_CHECK(acl.n <= LIMIT_ACL_ENTRIES_MAX);
        for (size_t i = 0; i < acl.n; i++) {
            const struct acl_entry *e = &acl.e[i];
            FUZZ_CHECK(e->family == 4 || e->family == 6);
            FUZZ_CHECK(e->prefix <= (e->family == 4 ? 32 : 128));
            FUZZ_CHECK(acl_entry_matches(e, e->family, e->addr));
        }
    } else {
        FUZZ_CHECK(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
    }
    free(text);
    return 0;
}
