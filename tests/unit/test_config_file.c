/* Unit tests for --config: line splitting (comments, blanks, spaces, tabs,
 * CRLF, errors) and argv expansion (file flags first, command line after,
 * both --config forms, limits, missing file, nesting). */
#include "server/config_file.h"

#include <stdlib.h>
#include <unistd.h>

#include "unit.h"

static void test_split(void)
{
    char *w[2];
    char l1[] = "-m 64\n", l2[] = "  # comment\n", l3[] = "\r\n", l4[] = "\t-vv \t\r\n",
         l5[] = "-l  127.0.0.1,::1  \n", l6[] = "m 64\n", l7[] = "-o metrics_port=9150,idle_timeout=5";

    CHECK_EQ_INT(config_file_split_line(l1, w), 2);
    CHECK(strcmp(w[0], "-m") == 0 && strcmp(w[1], "64") == 0);
    CHECK_EQ_INT(config_file_split_line(l2, w), 0);
    CHECK_EQ_INT(config_file_split_line(l3, w), 0);
    CHECK_EQ_INT(config_file_split_line(l4, w), 1);
    CHECK(strcmp(w[0], "-vv") == 0);
    CHECK_EQ_INT(config_file_split_line(l5, w), 2);
    CHECK(strcmp(w[1], "127.0.0.1,::1") == 0);
    CHECK_EQ_INT(config_file_split_line(l6, w), -1);
    CHECK_EQ_INT(config_file_split_line(l7, w), 2);
    CHECK(strcmp(w[1], "metrics_port=9150,idle_timeout=5") == 0);

    /* Debian's stock /etc/memcached.conf line for its start script */
    char d1[] = "logfile /var/log/memcached.log\n", d2[] = "logfile\n", d3[] = "logfiles x\n";
    CHECK_EQ_INT(config_file_split_line(d1, w), CONFIG_LINE_START_SCRIPT);
    CHECK(strcmp(w[0], "logfile") == 0 && strcmp(w[1], "/var/log/memcached.log") == 0);
    CHECK_EQ_INT(config_file_split_line(d2, w), CONFIG_LINE_START_SCRIPT);
    CHECK(w[1] == NULL);
    CHECK_EQ_INT(config_file_split_line(d3, w), -1);
}

static char *write_tmp(const char *text)
{
    static char path[64];
    int fd;

    snprintf(path, sizeof(path), "/tmp/hc_cfg_XXXXXX");
    fd = mkstemp(path);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        exit(1);
    close(fd);
    return path;
}

static void test_expand(void)
{
    char err[256];
    char *path = write_tmp("# c\n-m 16\n\n-c 77\n-vv\n");
    char arg0[] = "hardcached", a1[] = "-p", a2[] = "1", a3[] = "--config", a5[] = "-c", a6[] = "9";
    char *argv[] = { arg0, a1, a2, a3, path, a5, a6, NULL };
    char **av = argv;
    int ac = 7;

    CHECK_EQ_INT(config_file_expand(&ac, &av, err, sizeof(err)), 0);
    CHECK_EQ_INT(ac, 10);
    if (ac == 10) {
        const char *want[] = { "hardcached", "-m", "16", "-c", "77", "-vv", "-p", "1", "-c", "9" };
        for (int i = 0; i < 10; i++)
            CHECK(strcmp(av[i], want[i]) == 0);
        CHECK(av[10] == NULL);
    }
    unlink(path);
}

static void test_expand_skips_logfile(void)
{
    char err[256];
    char *path = write_tmp("-d\nlogfile /var/log/memcached.log\n-m 64\n");
    char arg0[] = "hardcached", a1[] = "--config";
    char *argv[] = { arg0, a1, path, NULL };
    char **av = argv;
    int ac = 3;

    CHECK_EQ_INT(config_file_expand(&ac, &av, err, sizeof(err)), 0);
    CHECK_EQ_INT(ac, 4);
    if (ac == 4)
        CHECK(strcmp(av[1], "-d") == 0 && strcmp(av[2], "-m") == 0 && strcmp(av[3], "64") == 0);
    unlink(path);
}

static void test_expand_untouched_and_errors(void)
{
    char err[256];
    char arg0[] = "hardcached", a1[] = "-m", a2[] = "8";
    char *argv[] = { arg0, a1, a2, NULL };
    char **av = argv;
    int ac = 3;

    CHECK_EQ_INT(config_file_expand(&ac, &av, err, sizeof(err)), 0);
    CHECK(av == argv && ac == 3);

    char b1[] = "--config=/nonexistent/x.conf";
    char *bad[] = { arg0, b1, NULL };
    av = bad; ac = 2;
    CHECK_EQ_INT(config_file_expand(&ac, &av, err, sizeof(err)), -1);
    CHECK(strstr(err, "cannot read config file") != NULL);

    char c1[] = "--config";
    char *noarg[] = { arg0, c1, NULL };
    av = noarg; ac = 2;
    CHECK_EQ_INT(config_file_expand(&ac, &av, err, sizeof(err)), -1);
    CHECK(strstr(err, "requires an argument") != NULL);

    char *path = write_tmp("-m 1\n--config=/etc/x\n");
    char *nest[] = { arg0, c1, path, NULL };
    av = nest; ac = 3;
    CHECK_EQ_INT(config_file_expand(&ac, &av, err, sizeof(err)), -1);
    CHECK(strstr(err, ":2: --config cannot be nested") != NULL);
    unlink(path);

    char *big = malloc(CONFIG_LINE_MAX + 8);
    memset(big, 'x', CONFIG_LINE_MAX + 5);
    memcpy(big, "-m ", 3);
    strcpy(big + CONFIG_LINE_MAX + 5, "\n");
    path = write_tmp(big);
    free(big);
    char *lng[] = { arg0, c1, path, NULL };
    av = lng; ac = 3;
    CHECK_EQ_INT(config_file_expand(&ac, &av, err, sizeof(err)), -1);
    CHECK(strstr(err, "line longer than") != NULL);
    unlink(path);
}

int main(void)
{
    RUN(test_split);
    RUN(test_expand);
    RUN(test_expand_skips_logfile);
    RUN(test_expand_untouched_and_errors);
    return unit_report("config_file");
}
