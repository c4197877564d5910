/*
 * cmd_class: what a command is, as policy sees it. Every protocol's command
 * table (protocol/text/parse.h, protocol/binary/parse.h) gives each command
 * these attributes; the gate (policy/gate.h) decides on them alone, never
 * on a command's name or opcode, so a command added to a table is judged
 * by what the table says of it.
 */
#ifndef HC_POLICY_CMD_CLASS_H
#define HC_POLICY_CMD_CLASS_H

#include <stdbool.h>

enum cmd_class {
    CMD_READ,    /* reads items or server facts: get, version, noop */
    CMD_WRITE,   /* changes items: set, delete, incr, touch */
    CMD_ADMIN,   /* changes or reveals the server: stats, flush_all, shutdown */
    CMD_AUTH,    /* a login exchange: SASL */
    CMD_CONN,    /* the connection itself: quit */
};

struct cmd_attrs {
    enum cmd_class cls;
    bool udp;        /* may be served over UDP (never admin, auth or conn) */
    bool prelogin;   /* may run before a login */
    bool login;      /* carries memcached's ascii login (-Y) before one */
};

#endif
