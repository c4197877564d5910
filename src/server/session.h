/*
 * session: what a protocol processor sees of the client it serves: where
 * its replies go, the counters of the thread serving it, its login, and
 * the little state one request leaves for the next step. A TCP connection
 * (conn.c) and a datagram (udp.c) each provide one; a processor never sees
 * a socket, never sends, and never calls back into its transport (Redis's
 * addReply: a command appends, the event loop writes).
 */
#ifndef HC_SERVER_SESSION_H
#define HC_SERVER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "core/clock.h"

struct thread_stats;
struct auth_sasl_session;
struct park_batch;

/* The longest refusal held back while a value is discarded (see held):
 * memcached's error lines and a binary error response with its message. */
#define SESSION_HELD_MAX 128

struct session {
    struct buf          *out;        /* replies are appended here */
    struct thread_stats *stats;      /* the serving thread's counters */
    /* A request whose replies reach this many bytes stops where it is
     * (resume says where) and asks its transport to send them first. */
    size_t               out_high_water;
    /* A policy refusal longer than this is not worded (over UDP: the
     * datagram's payload, so that a refusal never amplifies). */
    size_t               refusal_max;
    bool                 udp;        /* a datagram: see policy/gate.h */
    bool                 authenticated; /* logged in, or no login required */
    bool                 closing;    /* close once the replies are sent */
    size_t               swallow;    /* bytes of a refused value to discard */
    /* A step that refuses a value sets hold_reply with swallow: its reply
     * is held back until the last byte is discarded (a TCP transport does
     * this), as memcached answers after reading the value. */
    bool                 hold_reply;
    char                 held[SESSION_HELD_MAX];
    size_t               nheld;
    size_t               resume;     /* a stopped multi-key request: where
                                        its next key starts */
    /* A request its processor serves in pieces as its bytes arrive (a
     * text multi-get line longer than one read): what the next piece
     * needs to go on. */
    struct {
        bool             active;
        int              cmd;
        int64_t          exptime;
        size_t           seen;       /* bytes of it served so far */
        int              error;      /* not 0: the rest of the line is
                                        discarded, then this error sent */
    }                    cont;
    struct auth_sasl_session *sasl;  /* a SASL exchange in progress */
    struct watcher      *watch;      /* `watch`: its transport feeds the
                                        watcher's lines instead of serving
                                        requests (server/watch.h) */
    int                  wake_fd;    /* wakes the serving thread's loop;
                                        -1: none (a datagram) */
    void                *owner;      /* the serving thread's connections
                                        (opaque; park.h); NULL: a datagram */
    struct park_batch   *park;       /* its reads of flashed values (park.h) */
    bool                 parked;     /* its request waits for one: no step
                                        runs until they are all back */
    bool                 park_missed;/* the value a visit met on flash was
                                        a miss (park_found) */
    struct sockaddr_storage peer;
    socklen_t            peerlen;
};

/* Out of memory for a reply: counted (memcached's malloc_fails), and the
 * session closes. */
void session_oom(struct session *s);
/* Append n bytes to the replies; on failure (out of memory) the session
 * closes. Every reply a processor makes goes through here or reserve
 * (inline: they are on every request's path). */
static inline void session_append(struct session *s, const void *p, size_t n)
{
    if (n > 0 && buf_append(s->out, p, n) < 0)
        session_oom(s);
}
#define SESSION_LIT(s, lit) session_append((s), lit "\r\n", sizeof(lit "\r\n") - 1)
/* A line and its "\r\n". */
void session_line(struct session *s, const char *line);
/* Room for n more bytes at the end of the replies, to be written and then
 * claimed with session_commit; NULL (and the session closes) on failure. */
static inline char *session_reserve(struct session *s, size_t n)
{
    if (buf_reserve(s->out, n) < 0) {
        session_oom(s);
        return NULL;
    }
    return s->out->data + s->out->wpos;
}
static inline void session_commit(struct session *s, const char *end)
{
    s->out->wpos = (size_t)(end - s->out->data);
}
/* Has this request's output reached the high water (see above)? */
static inline bool session_out_full(const struct session *s)
{
    return buf_len(s->out) >= s->out_high_water;
}

/* What `stats conns` shows of one connection, or of a listening socket
 * (peer NULL; listen_family is its address family). */
struct session_info {
    int                            fd;
    const struct sockaddr_storage *peer;
    const char                    *listen_name;
    const char                    *state;   /* memcached's name for it */
    rel_time_t                     last_active;
    int                            listen_family;
    bool                           udp;
};
typedef void (*session_info_fn)(const struct session_info *info, void *ctx);
typedef void (*session_walk_fn)(session_info_fn fn, void *ctx);
/* The server's way to list its connections, set once at start-up (the
 * workers own them); sessions_each calls fn for each, or for none. */
void sessions_set_walker(session_walk_fn walk);
void sessions_each(session_info_fn fn, void *ctx);

#endif
