/*
 * test_gate: the one decision on what may run, read from the protocols'
 * command tables: nothing admin over UDP, nothing before a login but the
 * login itself and `version`, in text and binary alike.
 */
#include <stdlib.h>
#include <unistd.h>

#include "policy/auth.h"
#include "policy/gate.h"
#include "protocol/binary/parse.h"
#include "protocol/text/parse.h"
#include "unit.h"

static enum gate_verdict text(enum text_cmd c, bool authenticated, bool udp)
{
    return gate_check(text_cmd_attrs(c), authenticated, udp);
}

static enum gate_verdict bin(uint8_t op, bool authenticated, bool udp)
{
    return gate_check(bin_opcode_attrs(op), authenticated, udp);
}

static void test_udp(void)
{
    static const enum text_cmd served[] = {
        TEXT_CMD_GET, TEXT_CMD_GETS, TEXT_CMD_GAT, TEXT_CMD_GATS, TEXT_CMD_SET,
        TEXT_CMD_ADD, TEXT_CMD_REPLACE, TEXT_CMD_APPEND, TEXT_CMD_PREPEND,
        TEXT_CMD_CAS, TEXT_CMD_INCR, TEXT_CMD_DECR, TEXT_CMD_TOUCH,
        TEXT_CMD_DELETE, TEXT_CMD_VERSION,
    };
    static const enum text_cmd refused[] = {
        TEXT_CMD_STATS, TEXT_CMD_FLUSH_ALL, TEXT_CMD_SHUTDOWN, TEXT_CMD_VERBOSITY,
        TEXT_CMD_CACHE_MEMLIMIT, TEXT_CMD_QUIT, TEXT_CMD_MG, TEXT_CMD_MS,
        TEXT_CMD_ME, TEXT_CMD_NONE, TEXT_CMD_COUNT,
    };

    for (size_t i = 0; i < sizeof(served) / sizeof(served[0]); i++)
        CHECK_EQ_INT(text(served[i], true, true), GATE_SERVE);
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        CHECK_EQ_INT(text(refused[i], true, true), GATE_REFUSE_UDP);
    CHECK_EQ_INT(bin(0x00, true, true), GATE_SERVE);   /* get */
    CHECK_EQ_INT(bin(0x0b, true, true), GATE_SERVE);   /* version */
    CHECK_EQ_INT(bin(0x0a, true, true), GATE_SERVE);   /* noop */
    CHECK_EQ_INT(bin(0x24, true, true), GATE_SERVE);   /* gatkq */
    CHECK_EQ_INT(bin(0x10, true, true), GATE_REFUSE_UDP);  /* stat */
    CHECK_EQ_INT(bin(0x08, true, true), GATE_REFUSE_UDP);  /* flush */
    CHECK_EQ_INT(bin(0x07, true, true), GATE_REFUSE_UDP);  /* quit */
    CHECK_EQ_INT(bin(0x1b, true, true), GATE_REFUSE_UDP);  /* verbosity: not listed */
    CHECK_EQ_INT(bin(0x21, true, true), GATE_REFUSE_UDP);  /* SASL auth */
    CHECK_EQ_INT(bin(0xff, true, true), GATE_REFUSE_UDP);
}

static void test_login(void)
{
    /* logged in (or no login configured): everything runs on TCP */
    CHECK_EQ_INT(text(TEXT_CMD_STATS, true, false), GATE_SERVE);
    CHECK_EQ_INT(bin(0x10, true, false), GATE_SERVE);
    /* before a login: version, and the SASL exchange */
    CHECK_EQ_INT(text(TEXT_CMD_VERSION, false, false), GATE_SERVE);
    CHECK_EQ_INT(text(TEXT_CMD_GET, false, false), GATE_REFUSE_LOGIN);
    CHECK_EQ_INT(text(TEXT_CMD_MN, false, false), GATE_REFUSE_LOGIN);
    CHECK_EQ_INT(text(TEXT_CMD_NONE, false, false), GATE_REFUSE_LOGIN);
    CHECK_EQ_INT(bin(0x0b, false, false), GATE_SERVE);
    CHECK_EQ_INT(bin(0x20, false, false), GATE_SERVE);
    CHECK_EQ_INT(bin(0x21, false, false), GATE_SERVE);
    CHECK_EQ_INT(bin(0x22, false, false), GATE_SERVE);
    CHECK_EQ_INT(bin(0x00, false, false), GATE_REFUSE_LOGIN);
    CHECK_EQ_INT(bin(0xff, false, false), GATE_REFUSE_LOGIN);
    /* `set` carries the ascii login only when -Y is on */
    CHECK_EQ_INT(text(TEXT_CMD_SET, false, false), GATE_REFUSE_LOGIN);
    CHECK_EQ_INT(text(TEXT_CMD_ADD, false, false), GATE_REFUSE_LOGIN);
}

static void test_ascii_login(const char *pwfile)
{
    char err[256];

    if (auth_setup(pwfile, false, true, err, sizeof(err)) < 0) {
        fprintf(stderr, "auth_setup: %s\n", err);
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(text(TEXT_CMD_SET, false, false), GATE_LOGIN);
    CHECK_EQ_INT(text(TEXT_CMD_ADD, false, false), GATE_REFUSE_LOGIN);
    CHECK_EQ_INT(text(TEXT_CMD_SET, true, false), GATE_SERVE);
    auth_teardown();
}

int main(void)
{
    char pwfile[] = "/tmp/test_gate_XXXXXX";
    int fd = mkstemp(pwfile);

    RUN(test_udp);
    RUN(test_login);
    if (fd >= 0) {
        static const char line[] = "user:pass\n";
        CHECK(write(fd, line, sizeof(line) - 1) == (ssize_t)sizeof(line) - 1);
        close(fd);
        test_ascii_login(pwfile);
        unlink(pwfile);
    }
    return unit_report("test_gate");
}
