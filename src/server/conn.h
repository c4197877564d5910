/*
 * conn: one client connection and its state machine: read, parse, execute,
 * write. Input is read into the worker's scratch buffer and only what is
 * left incomplete is copied into the connection, so an idle connection
 * holds no buffers. Replies the socket cannot take yet are kept in the
 * connection, and no further requests of that client run until they drain.
 */
#ifndef HC_SERVER_CONN_H
#define HC_SERVER_CONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "core/clock.h"

struct worker;
struct ssl_st;

enum ev_kind { EV_KIND_LISTENER, EV_KIND_CONN, EV_KIND_WAKE, EV_KIND_UDP };

/* The first byte of a connection decides its protocol, as in memcached. */
#define CONN_BINARY_MAGIC 0x80
enum conn_proto { CONN_PROTO_UNKNOWN, CONN_PROTO_TEXT, CONN_PROTO_BINARY,
                  CONN_PROTO_COUNT };

/* What one protocol step did with the bytes offered to it. */
enum conn_step {
    CONN_STEP_DONE,       /* a request ran (or was refused); *used bytes */
    CONN_STEP_NEED_MORE,  /* incomplete: c->need says how much, if known */
    CONN_STEP_PAUSED,     /* output blocked mid-request: run it again later */
    CONN_STEP_CLOSE,      /* close the connection after sending replies */
};
struct conn;
/* Execute at most one request from data[0..len); set *used to the bytes
 * it consumed (also on NEED_MORE/PAUSED/CLOSE, usually 0). May set
 * c->swallow to discard bytes that have not arrived yet. */
typedef enum conn_step (*conn_step_fn)(struct conn *c, const char *data,
                                       size_t len, size_t *used);

struct conn {
    enum ev_kind     kind;        /* first: epoll data dispatch */
    int              fd;
    struct worker   *w;
    struct buf       in;          /* unexecuted input carried over */
    struct buf       out;         /* replies waiting for the socket */
    size_t           swallow;     /* bytes of a refused value to discard */
    size_t           need;        /* bytes the current request needs */
    size_t           resume;      /* retrieval: offset of the next key */
    _Atomic rel_time_t last_active;
    bool             closing;
    enum conn_proto  proto;
    /* A datagram being answered (fd < 0): replies accumulate in the
     * worker's output buffer for the UDP layer; admin commands refused. */
    bool             udp;
    size_t           udp_reply_max; /* reply bytes worth building (udp) */
    rel_time_t       udp_marked_at; /* last time it validated its address */
    /* Logged in (always true when authentication is off). */
    bool             authenticated;
    struct auth_sasl_session *sasl; /* a SASL exchange in progress, or NULL */
    bool             on_ready;    /* queued to run leftover requests */
    struct conn     *prev, *next; /* worker's list of connections */
    struct conn     *ready_next;
    const char      *listen_name; /* the listener it came through */
    /* TLS (-Z listeners): the session, NULL on plain connections. Until
     * tls_ready, events drive the handshake; tls_want_write: SSL_read
     * needs the socket writable (the interest is EPOLLOUT meanwhile). */
    struct ssl_st   *ssl;
    bool             tls_ready;
    bool             tls_want_write;
    struct sockaddr_storage peer;
    socklen_t        peerlen;
};

/* Take ownership of an accepted, nonblocking fd; tls: start a server
 * handshake on it first. NULL on failure (fd is closed then). */
struct conn *conn_create(struct worker *w, int fd, const struct sockaddr *peer,
                         socklen_t peerlen, const char *listen_name, bool tls);
/* Close the socket and free everything. */
void conn_destroy(struct conn *c);
/* epoll readiness on the connection. */
void conn_on_event(struct conn *c, unsigned events);
/* Run the requests read in this round (see conn.c): after the events. */
void conn_round_run(struct worker *w);
/* Run requests left in the input buffer (after -R yielded). */
void conn_run_pending(struct conn *c);

/* Used by request processing: send the worker's reply buffer now (c's
 * replies and those of connections served before it in this round).
 * Returns false if the socket could not take all of c's (the rest is
 * kept) or c is closing. */
bool conn_flush(struct conn *c);
/* Send the replies of every connection served this round. cur: the
 * connection being served, if any (its replies so far go too; a failed
 * write only marks it closing). Other connections whose write fails are
 * marked closing and shut down, and freed when their socket reports it. */
void conn_flush_all(struct worker *w, struct conn *cur);

/* Execute at most one request of c's protocol (c->proto must be set):
 * the step function of that protocol, for the UDP layer. */
enum conn_step conn_step_once(struct conn *c, const char *data, size_t len,
                              size_t *used);

#endif
