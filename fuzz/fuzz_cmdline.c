/*
 * fuzz_cmdline: the whole command-line parser (every flag, -o suboptions,
 * -l lists, size suffixes) through settings_try_parse, which returns
 * instead of exiting on a bad flag. The input is argv[1..] separated by
 * NUL bytes; argv[0] is fixed. Checks the invariants the rest of the
 * server relies on when parsing succeeds.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "protocol/limits.h"
#include "server/settings.h"

#define FUZZ_CHECK(cond) do { if (!(cond)) abort(); } while (0)
/* More arguments than any real command line; the rest are dropped. */
#define FUZZ_ARGS_MAX 64
/* Command lines longer than this are not interesting. */
#define FUZZ_CMDLINE_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    char *argv[FUZZ_ARGS_MAX + 2];
    char err[SETTINGS_ERR_MAX];
    char *copy;
    int argc = 0;

    if (size > FUZZ_CMDLINE_MAX)
        return 0;
    if (!quiet) {   /* -h and -V print to stdout: not into the fuzzer's log */
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            close(fd);
        }
        quiet = 1;
    }
    copy = malloc(size + 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    argv[argc++] = (char *)"hardcached";
    for (size_t i = 0; i <= size && argc <= FUZZ_ARGS_MAX; ) {
        argv[argc++] = copy + i;
        i += strlen(copy + i) + 1;
    }
    argv[argc] = NULL;

    enum settings_action r = settings_try_parse(argc, argv, err, sizeof(err));
    if (r == SETTINGS_ERROR) {
        FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
    } else if (r == SETTINGS_RUN) {
        FUZZ_CHECK(settings.port >= 0 && settings.port <= 65535);
        FUZZ_CHECK(settings.nlisten >= 0 && settings.nlisten <= SETTINGS_LISTEN_MAX);
        FUZZ_CHECK(settings.maxbytes > 0);
        FUZZ_CHECK(settings.item_size_max >= LIMIT_ITEM_SIZE_MIN &&
                   settings.item_size_max <= LIMIT_ITEM_SIZE_MAX);
        FUZZ_CHECK(settings.item_size_max <= settings.maxbytes / 2);
        FUZZ_CHECK(settings.threads >= 1 && settings.maxconns >= 1);
        FUZZ_CHECK(settings.unix_mask >= 0 && settings.unix_mask <= 0777);
    } else {
        FUZZ_CHECK(r == SETTINGS_EXIT_OK);
    }
    free(copy);
    return 0;
}
