/*
 * process_text: where the text protocol (memcached's ascii commands, meta
 * included) meets storage (Pelikan's process.c; process_binary.c is its
 * twin). Its processor parses one request, lets the gate decide, executes
 * it and appends the reply in memcached's exact words.
 */
#ifndef HC_SERVER_PROCESS_TEXT_H
#define HC_SERVER_PROCESS_TEXT_H

#include "server/processor.h"

extern const struct processor text_processor;

#endif
