/*
 * process_text: where the text protocol meets storage (Pelikan's
 * process.c; process_binary.c is its twin). Executes one parsed request
 * against the store and appends the reply to the worker's output buffer.
 */
#ifndef HC_SERVER_PROCESS_TEXT_H
#define HC_SERVER_PROCESS_TEXT_H

#include "protocol/text/parse.h"
#include "server/conn.h"

enum proc_result {
    PROC_DONE,     /* request finished, reply appended */
    PROC_PAUSED,   /* output blocked mid-request; run it again later */
    PROC_CLOSE,    /* close the connection (quit, shutdown) */
};

/* Limits the text parser enforces, derived from the settings. */
const struct text_limits *process_text_limits(void);

/* conn_step_fn for text connections: parse one request, execute it or
 * answer the parser's error exactly as memcached does. */
enum conn_step process_text_step(struct conn *c, const char *data, size_t len,
                                 size_t *used);

/* Parse the key requests at the start of data[0..len) ahead and name
 * their keys to the store; after all connections of a round, start
 * loading what their lookups will touch with process_text_ahead_run (see
 * process_text.c). The steps that follow on the same bytes reuse the
 * parsed requests. */
void process_text_ahead(struct conn *c, const char *data, size_t len);
void process_text_ahead_run(void);
/* Whether another connection's requests fit the read-ahead. */
bool process_text_ahead_room(void);
/* Forget the read-ahead: before the bytes it parsed change. */
void process_text_ahead_clear(void);

#endif
