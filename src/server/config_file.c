/* config_file: see config_file.h. */
#include "server/config_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* Debian's start script (systemd-memcached-wrapper) reads this keyword
 * itself and redirects memcached's output; under systemd ours goes to the
 * journal, so the line is skipped rather than honoured. */
#define START_SCRIPT_LOGFILE  "logfile"

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

    size_t kw = strlen(START_SCRIPT_LOGFILE);
    int start_script;

    if (*s == '\0' || *s == '#')
        return 0;
    start_script = strncmp(s, START_SCRIPT_LOGFILE, kw) == 0 &&
                   (s[kw] == '\0' || s[kw] == ' ' || s[kw] == '\t');
    if (*s != '-' && !start_script)
        return -1;
    sp = strpbrk(s, " \t");
    words[0] = s;
    words[1] = NULL;
    if (sp != NULL) {
        *sp = '\0';
        words[1] = trim(sp + 1);
        if (*words[1] == '\0')
            words[1] = NULL;
    }
    if (start_script)
        return CONFIG_LINE_START_SCRIPT;
    return words[1] ? 2 : 1;
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
        if (nw == CONFIG_LINE_START_SCRIPT) {
            log_warn("hardcached: %s:%d: \"%s\" ignored: it is a line for Debian's "
                     "start script; hardcached logs to stderr (the journal under systemd)",
                     path, lineno, words[0]);
            continue;
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

/* The expanded argument list and the file's words, kept until exit (or
 * until the next expansion replaces them). */
static char *file_words[CONFIG_ARGS_MAX];
static int file_nwords;
static char **expanded;

static void free_words(char **words, int n)
{
    for (int i = 0; i < n; i++)
        free(words[i]);
}

int config_file_expand(int *argc, char ***argv, char *err, size_t errlen)
{
    char *words[CONFIG_ARGS_MAX];
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
        if (read_file(path, words, &nfile, err, errlen) < 0)
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
    free_words(file_words, file_nwords);
    memcpy(file_words, words, (size_t)nfile * sizeof(*words));
    file_nwords = nfile;
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
    free_words(words, nfile);
    free(rest);
    return -1;
}
