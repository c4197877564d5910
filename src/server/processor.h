/*
 * processor: one protocol's way of serving requests (Pelikan's
 * data_processor). A transport (conn.c for TCP, udp.c for datagrams) picks
 * the processor by a client's first byte and feeds it bytes; the processor
 * parses one request, executes it against storage and composes the reply
 * into the session's output. Transports never name a protocol, processors
 * never name a transport; main.c hands the set to the workers.
 */
#ifndef HC_SERVER_PROCESSOR_H
#define HC_SERVER_PROCESSOR_H

#include <stdbool.h>
#include <stddef.h>

struct session;

/* What one step did with the bytes offered to it. */
enum proc_step {
    PROC_STEP_DONE,        /* a request ran (or was refused): *used bytes */
    PROC_STEP_NEED_MORE,   /* the request is incomplete: wait for bytes */
    PROC_STEP_OUTPUT_FULL, /* stopped mid-request at the output's high
                              water (session.resume): send, then step again
                              on the same bytes */
    PROC_STEP_CLOSE,       /* close after sending the replies */
    PROC_STEP_PARKED,      /* a value is being read from flash (park.h):
                              used nothing; the same bytes are stepped
                              again once it is back */
};

struct processor {
    const char *name;
    /* The first byte of a client that selects this processor; -1: any
     * byte no other processor of the set claims. */
    int         first_byte;
    /* The whole reply that tells a client to ask again over TCP, sent
     * over UDP instead of a reply too large for it; NULL: the protocol
     * has none (the client then gets nothing). */
    const char *retry_over_tcp;
    /* Execute at most one request from data[0..len); *used: the bytes it
     * consumed (0 unless DONE). May set s->swallow to discard bytes that
     * have not arrived yet. */
    enum proc_step (*step)(struct session *s, const char *data, size_t len,
                           size_t *used);
    /* Optional read-ahead across the clients of one round (see conn.c):
     * ahead parses the complete requests at the start of data[0..len)
     * and names their keys to storage; after every client of the group,
     * ahead_run starts loading them; the steps that follow on the same
     * bytes reuse the parse; ahead_clear before the bytes change.
     * ahead_room: may another client join this group? */
    void (*ahead)(struct session *s, const char *data, size_t len);
    bool (*ahead_room)(void);
    void (*ahead_run)(void);
    void (*ahead_clear)(void);
    /* Optional, -vv only: print one request (req[0..reqlen), the bytes
     * its step used) and the replies it made, as memcached does (trace.h). */
    void (*trace)(int fd, const char *req, size_t reqlen, const char *reply,
                  size_t replylen);
    /* Optional, while someone watches rawcmds: hand one request's command
     * line to the watchers (text and meta, as memcached's "raw ascii
     * commands"; watch_log.h). */
    void (*rawcmd)(int fd, const char *req, size_t reqlen);
};

/* A set of processors: a NULL-terminated array. */
const struct processor *processor_pick(const struct processor *const *set,
                                       unsigned char first_byte);

#endif
