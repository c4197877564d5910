/*
 * process_binary: where memcached's binary protocol meets storage, with
 * memcached 1.6's status codes, quiet-mode rules and CAS semantics. Its
 * processor claims clients whose first byte is the request magic (0x80).
 */
#ifndef HC_SERVER_PROCESS_BINARY_H
#define HC_SERVER_PROCESS_BINARY_H

#include "server/processor.h"

extern const struct processor binary_processor;

#endif
