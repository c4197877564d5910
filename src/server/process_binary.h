/*
 * process_binary: where memcached's binary protocol meets storage. Until
 * the binary protocol lands, a connection that opens with the binary magic
 * byte is closed at once (as memcached does when started with -B ascii).
 */
#ifndef HC_SERVER_PROCESS_BINARY_H
#define HC_SERVER_PROCESS_BINARY_H

#include "server/conn.h"

enum conn_step process_binary_step(struct conn *c, const char *data, size_t len,
                                   size_t *used);

#endif
