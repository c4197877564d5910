/*
 * listen: turn memcached-style listen specifications into bound, listening,
 * nonblocking sockets. Knows addresses and sockets, nothing of protocols.
 */
#ifndef HC_NET_LISTEN_H
#define HC_NET_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#define LISTEN_NAME_MAX 128

struct listener {
    int  fd;
    int  family;                  /* AF_INET, AF_INET6 or AF_UNIX */
    bool loopback;                /* reachable only from this machine */
    bool udp;                     /* a datagram socket (-U) */
    bool tls;                     /* connections start with a TLS handshake */
    int  tls_verify;              /* enum tls_verify for its sessions, or -1:
                                     the server's ssl_verify_mode */
    int  port;                    /* bound port (TCP/UDP), 0 for unix */
    char name[LISTEN_NAME_MAX];   /* "127.0.0.1:11211", "[::1]:11211", path */
};

/* Bind TCP listeners for one spec: "addr", "addr:port", "[v6]", "[v6]:port"
 * or a bare IPv6 address; host names resolve to every address. Appends to
 * out[*n] (at most max). Returns 0, or -1 with a message in err. */
int listen_tcp(const char *spec, int default_port, int backlog,
               struct listener *out, int *n, int max,
               char *err, int errlen);

/* Bind UDP sockets for one spec, the same syntax as listen_tcp (a port in
 * the spec wins over default_port, as memcached does). */
int listen_udp(const char *spec, int default_port,
               struct listener *out, int *n, int max,
               char *err, int errlen);

/* Bind a unix stream socket at path with permissions `mask`. */
int listen_unix(const char *path, int mask, int backlog,
                struct listener *out, char *err, int errlen);

/* Whether a TCP spec names an address other machines can reach, before
 * anything is bound: 1 (the first such address, "addr:port", in name),
 * 0 if every address it resolves to is loopback, -1 if it does not
 * resolve (binding it will say why). */
int listen_exposed(const char *spec, int default_port, char *name, size_t namelen);

/* Split "[v6]:port" / "host:port" / "host" into host and port (pure; for
 * tests). host gets at most hostlen-1 bytes; *port is -1 when absent.
 * Returns 0, or -1 if malformed. */
int listen_split(const char *spec, char *host, int hostlen, int *port);

#endif
