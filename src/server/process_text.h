/*
 * process: the only place where protocol meets storage (Pelikan's
 * process.c). Executes one parsed request against the store and appends the
 * reply to the worker's output buffer.
 */
#ifndef HC_SERVER_PROCESS_H
#define HC_SERVER_PROCESS_H

#include "protocol/text/parse.h"
#include "server/conn.h"

enum proc_result {
    PROC_DONE,     /* request finished, reply appended */
    PROC_PAUSED,   /* output blocked mid-request; run it again later */
    PROC_CLOSE,    /* close the connection (quit, shutdown) */
};

/* Limits the text parser enforces, derived from the settings. */
const struct text_limits *process_text_limits(void);

enum proc_result process_text(struct conn *c, const struct text_req *req);

/* Reply to a request the parser refused (and undo what memcached undoes,
 * e.g. a too-large set removes the old value). */
void process_text_error(struct conn *c, const struct text_req *req);

#endif
