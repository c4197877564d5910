/*
 * replay: run a fuzz harness over committed inputs without libFuzzer, so
 * `make test` replays every corpus under ASan + UBSan with gcc or clang.
 * Usage: replay_<name> FILE|DIR...  (directories: every regular file in
 * them, in name order). A crash is the sanitizer's report and a nonzero
 * exit; otherwise prints how many inputs ran.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data;
    size_t n;

    if (f == NULL) {
        perror(path);
        return -1;
    }
    data = malloc(FUZZ_INPUT_MAX);
    if (data == NULL) {
        fclose(f);
        return -1;
    }
    n = fread(data, 1, FUZZ_INPUT_MAX, f);
    fclose(f);
    /* a copy of exactly n bytes, so ASan sees any read past the input */
    uint8_t *exact = malloc(n ? n : 1);
    if (exact == NULL) {
        free(data);
        return -1;
    }
    memcpy(exact, data, n);
    free(data);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
    int runs = 0;

    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) < 0) {
            perror(argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[i]) < 0)
                return 1;
            runs++;
            continue;
        }
        struct dirent **names;
        int n = scandir(argv[i], &names, NULL, by_name);
        if (n < 0) {
            perror(argv[i]);
            return 1;
        }
        for (int j = 0; j < n; j++) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", argv[i], names[j]->d_name);
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                if (run_file(path) < 0)
                    return 1;
                runs++;
            }
            free(names[j]);
        }
        free(names);
    }
    fprintf(stderr, "%s: %d inputs replayed\n", argv[0], runs);
    return 0;
}
