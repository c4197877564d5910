/*
 * config_file: `--config FILE` reads flags from a file in the style of
 * Debian's /etc/memcached.conf — one flag per line, optionally followed by
 * its argument, blank lines and lines starting with '#' ignored — so the
 * systemd unit needs no shell wrapper. The file's flags go before the
 * command line's, so a flag given on the command line wins. Debian's stock
 * file also holds `logfile FILE`, a line for Debian's start script that
 * memcached never sees: it is skipped with a warning, so that file works.
 */
#ifndef HC_SERVER_CONFIG_FILE_H
#define HC_SERVER_CONFIG_FILE_H

#include <stddef.h>

#define CONFIG_FILE_MAX   (64 * 1024)   /* bytes read from a config file */
#define CONFIG_LINE_MAX   1024          /* bytes in one line */
#define CONFIG_ARGS_MAX   256           /* words taken from the file */

/* Replace every `--config FILE` / `--config=FILE` in (*argc, *argv) by the
 * flags FILE holds. The new argv and its strings live until exit (settings
 * point into them). Returns 0, or -1 with a message naming file and line in
 * err. Pure with respect to settings: it only rewrites the argument list. */
int config_file_expand(int *argc, char ***argv, char *err, size_t errlen);

/* What config_file_split_line() returns for Debian's `logfile FILE` line
 * (words[0] "logfile", words[1] FILE or NULL): not a flag, to be skipped. */
#define CONFIG_LINE_START_SCRIPT  3

/* Pure: split one line into at most two words (flag, argument) in place.
 * Returns the number of words (0 for blank/comment lines),
 * CONFIG_LINE_START_SCRIPT, or -1 if the line does not start with '-'. */
int config_file_split_line(char *line, char *words[2]);

#endif
