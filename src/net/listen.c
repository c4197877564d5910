/*
 * listen: getaddrinfo does the resolving; this file only splits memcached's
 * "-l" syntax and sets the socket options a server needs.
 */
#include "net/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/strnum.h"

int listen_split(const char *spec, char *host, int hostlen, int *port)
{
    const char *colon, *hend;
    const char *pstr = NULL;
    size_t hlen;

    *port = -1;
    if (spec[0] == '[') {
        hend = strchr(spec, ']');
        if (hend == NULL)
            return -1;
        if (hend[1] == ':')
            pstr = hend + 2;
        else if (hend[1] != '\0')
            return -1;
        spec++;
    } else {
        colon = strchr(spec, ':');
        if (colon && strchr(colon + 1, ':') == NULL) {
            hend = colon;
            pstr = colon + 1;
        } else {
            hend = spec + strlen(spec);   /* no port, or a bare IPv6 address */
        }
    }
    hlen = (size_t)(hend - spec);
    if (hlen == 0 || hlen >= (size_t)hostlen)
        return -1;
    memcpy(host, spec, hlen);
    host[hlen] = '\0';
    if (pstr) {
        uint32_t p;
        if (!strnum_u32(pstr, strlen(pstr), &p) || p > 65535)
            return -1;
        *port = (int)p;
    }
    return 0;
}

static bool addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return true;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            return in6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

static void addr_name(const struct sockaddr *sa, char *out, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
        snprintf(out, len, "%s:%d", host, port);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        snprintf(out, len, "[%s]:%d", host, port);
    }
}

static int addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Socket buffers asked for on UDP sockets, so bursts of requests are not
 * lost while a worker is busy and a multi-datagram reply is not cut short
 * by a full send queue (the kernel caps them at rmem_max / wmem_max). */
#define LISTEN_UDP_SOCKBUF (4 * 1024 * 1024)

/* The addresses one spec names (freeaddrinfo *res), or -1 with err. */
static int resolve(const char *spec, int default_port, int socktype, struct addrinfo **res,
                   char *err, int errlen)
{
    char host[256], portstr[8];
    struct addrinfo hints;
    int port, rc;

    if (listen_split(spec, host, sizeof(host), &port) < 0) {
        snprintf(err, (size_t)errlen, "bad listen address \"%s\"", spec);
        return -1;
    }
    snprintf(portstr, sizeof(portstr), "%d", port >= 0 ? port : default_port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host, portstr, &hints, res);
    if (rc != 0) {
        snprintf(err, (size_t)errlen, "cannot resolve \"%s\": %s", host, gai_strerror(rc));
        return -1;
    }
    return 0;
}

int listen_exposed(const char *spec, int default_port, char *name, size_t namelen)
{
    struct addrinfo *res, *ai;
    char err[64];
    int exposed = 0;

    if (resolve(spec, default_port, SOCK_STREAM, &res, err, (int)sizeof(err)) < 0)
        return -1;
    for (ai = res; ai && !exposed; ai = ai->ai_next)
        if (!addr_is_loopback(ai->ai_addr)) {
            addr_name(ai->ai_addr, name, namelen);
            exposed = 1;
        }
    freeaddrinfo(res);
    return exposed;
}

static int listen_inet(const char *spec, int default_port, int socktype, int backlog,
                       struct listener *out, int *n, int max, char *err, int errlen)
{
    struct addrinfo *res, *ai;
    int added = 0;

    if (resolve(spec, default_port, socktype, &res, err, errlen) < 0)
        return -1;
    for (ai = res; ai; ai = ai->ai_next) {
        struct listener *l;
        int one = 1, fd;

        if (*n == max) {
            snprintf(err, (size_t)errlen, "too many listeners");
            goto fail;
        }
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            snprintf(err, (size_t)errlen, "socket for %s: %s", spec, strerror(errno));
            goto fail;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        l = &out[*n];
        addr_name(ai->ai_addr, l->name, sizeof(l->name));
        if (socktype == SOCK_DGRAM) {
            int size = LISTEN_UDP_SOCKBUF;
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
        }
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
            (socktype == SOCK_STREAM && listen(fd, backlog) < 0) ||
            set_nonblock(fd) < 0) {
            snprintf(err, (size_t)errlen, "cannot listen on %s: %s", l->name, strerror(errno));
            close(fd);
            goto fail;
        }
        /* the port really bound (the spec may say 0: any free port) */
        struct sockaddr_storage bound;
        socklen_t blen = sizeof(bound);
        if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
            addr_name((struct sockaddr *)&bound, l->name, sizeof(l->name));
        l->port = addr_port((struct sockaddr *)&bound);
        l->fd = fd;
        l->tls = false;
        l->tls_verify = -1;
        l->family = ai->ai_family;
        l->loopback = addr_is_loopback(ai->ai_addr);
        l->udp = socktype == SOCK_DGRAM;
        (*n)++;
        added++;
    }
    freeaddrinfo(res);
    return added > 0 ? 0 : -1;
fail:
    freeaddrinfo(res);
    return -1;
}

int listen_tcp(const char *spec, int default_port, int backlog,
               struct listener *out, int *n, int max, char *err, int errlen)
{
    return listen_inet(spec, default_port, SOCK_STREAM, backlog, out, n, max, err, errlen);
}

int listen_udp(const char *spec, int default_port,
               struct listener *out, int *n, int max, char *err, int errlen)
{
    return listen_inet(spec, default_port, SOCK_DGRAM, 0, out, n, max, err, errlen);
}

int listen_unix(const char *path, int mask, int backlog, struct listener *out,
                char *err, int errlen)
{
    struct sockaddr_un sun;
    int fd;
    mode_t old;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, (size_t)errlen, "unix socket path too long: %s", path);
        return -1;
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, (size_t)errlen, "unix socket: %s", strerror(errno));
        return -1;
    }
    /* a stale socket file from an earlier run; memcached removes it too */
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    old = umask((mode_t)(~mask & 0777));
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        snprintf(err, (size_t)errlen, "cannot bind %s: %s", path, strerror(errno));
        umask(old);
        close(fd);
        return -1;
    }
    umask(old);
    if (listen(fd, backlog) < 0 || set_nonblock(fd) < 0) {
        snprintf(err, (size_t)errlen, "cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    out->fd = fd;
    out->family = AF_UNIX;
    out->loopback = true;
    out->udp = false;
    out->tls = false;
    out->tls_verify = -1;
    out->port = 0;
    snprintf(out->name, sizeof(out->name), "%s", path);
    return 0;
}
