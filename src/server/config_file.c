/* config_file: see config_file.h. */
#include "server/config_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t' || *s == '\r')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

int config_file_split_line(char *line, char *words[2])
{
    char *s = trim(line), *sp;

    if (*s == '\0' || *s == '#')
        return 0;
    if (*s != '-')
        return -1;
    sp = strpbrk(s, " \t");
    words[0] = s;
    if (sp == NULL)
        return 1;
    *sp = '\0';
    words[1] = trim(sp + 1);
    return *words[1] ? 2 : 1;
}

/* Append the words of `path` to out[*n]. */
static int read_file(const char *path, char **out, int *n, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[CONFIG_LINE_MAX + 2];
    size_t total = 0;
    int lineno = 0;

    if (f == NULL) {
        snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        char *words[2];
        size_t len = strlen(line);
        int nw;

        lineno++;
        total += len;
        if (total > CONFIG_FILE_MAX) {
            snprintf(err, errlen, "%s: longer than %d bytes", path, CONFIG_FILE_MAX);
            goto fail;
        }
        if (len > CONFIG_LINE_MAX || (len == sizeof(line) - 1 && line[len - 1] != '\n')) {
            snprintf(err, errlen, "%s:%d: line longer than %d bytes", path, lineno,
                     CONFIG_LINE_MAX);
            goto fail;
        }
        nw = config_file_split_line(line, words);
        if (nw < 0) {
            snprintf(err, errlen, "%s:%d: expected a flag such as \"-m 64\"", path, lineno);
            goto fail;
        }
        if (nw > 0 && strncmp(words[0], "--config", 8) == 0) {
            snprintf(err, errlen, "%s:%d: --config cannot be nested", path, lineno);
            goto fail;
        }
        for (int i = 0; i < nw; i++) {
            if (*n >= CONFIG_ARGS_MAX) {
                snprintf(err, errlen, "%s: more than %d words", path, CONFIG_ARGS_MAX);
                goto fail;
            }
            out[*n] = strdup(words[i]);
            if (out[*n] == NULL) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            (*n)++;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        goto fail;
    }
    fclose(f);
    return 0;
fail:
    fclose(f);
    return -1;
}

/* The expanded argument list and the file's words, kept until exit. */
static char *file_words[CONFIG_ARGS_MAX];
static char **expanded;

int config_file_expand(int *argc, char ***argv, char *err, size_t errlen)
{
    int nfile = 0, nrest = 0, found = 0;
    char **rest, **nargv;

    rest = calloc((size_t)*argc + 1, sizeof(*rest));
    if (rest == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 1; i < *argc; i++) {
        char *a = (*argv)[i];
        const char *path = NULL;

        if (strcmp(a, "--") == 0) {
            while (i < *argc)
                rest[nrest++] = (*argv)[i++];
            break;
        }
        if (strcmp(a, "--config") == 0) {
            if (i + 1 >= *argc) {
                snprintf(err, errlen, "option --config requires an argument");
                goto fail;
            }
            path = (*argv)[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            path = a + 9;
        }
        if (path == NULL) {
            rest[nrest++] = a;
            continue;
        }
        found = 1;
        if (read_file(path, file_words, &nfile, err, errlen) < 0)
            goto fail;
    }
    if (!found) {
        free(rest);
        return 0;
    }
    nargv = calloc((size_t)(1 + nfile + nrest + 1), sizeof(*nargv));
    if (nargv == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    nargv[0] = (*argv)[0];
    memcpy(nargv + 1, file_words, (size_t)nfile * sizeof(*nargv));
    memcpy(nargv + 1 + nfile, rest, (size_t)nrest * sizeof(*nargv));
    free(rest);
    *argc = 1 + nfile + nrest;
    free(expanded);
    expanded = nargv;   /* kept until exit: settings point into it */
    *argv = nargv;
    return 0;
fail:
    free(rest);
    return -1;
}
