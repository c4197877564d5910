/*
 * fuzz_password_file: the -Y/-S password file ("user:password" or
 * "user:$y$hash" lines, comments, CRLF, no final newline: memcached's
 * CVE-2021-37519). The loader reads a path, so the input is written to a
 * private temporary file first; then it is loaded, reloaded (SIGHUP's
 * path) and torn down, so LeakSanitizer sees every entry freed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz.h"
#include "policy/auth.h"

/* Password files are small; larger inputs only slow the fuzzer. */
#define FUZZ_FILE_MAX (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    char err[512];
    int fd;

    if (size > FUZZ_FILE_MAX)
        return 0;
    if (path[0] == '\0')
        snprintf(path, sizeof(path), "/tmp/hc-fuzz-passwd.%ld", (long)getpid());
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    close(fd);
    if (auth_setup(path, true, true, err, sizeof(err)) == 0) {
        (void)auth_reload(err, sizeof(err));
        auth_teardown();
    }
    unlink(path);
    return 0;
}
