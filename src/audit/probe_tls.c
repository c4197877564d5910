/*
 * probe_tls: one OpenSSL client session as a small state machine for the
 * audit's poll loop (handshake, write `version`, read one line). OpenSSL
 * is Debian's libssl, already linked for hardcached's -Z.
 */
#include "audit/probe_tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

enum tls_phase { TP_HANDSHAKE, TP_WRITE, TP_READ };

struct tls_session {
    SSL *ssl;
    enum tls_phase phase;
    bool handshaken;
    bool complete;              /* a whole line came */
    size_t len;
    char line[TLS_LINE_MAX];
};

static SSL_CTX *client_ctx(void)
{
    static SSL_CTX *ctx;

    if (ctx == NULL) {
        ctx = SSL_CTX_new(TLS_client_method());
        if (ctx != NULL)
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return ctx;
}

struct tls_session *tls_session_create(int fd)
{
    SSL_CTX *ctx = client_ctx();
    struct tls_session *s;

    if (ctx == NULL)
        return NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->ssl = SSL_new(ctx);
    if (s->ssl == NULL || SSL_set_fd(s->ssl, fd) != 1) {
        tls_session_destroy(&s);
        return NULL;
    }
    SSL_set_connect_state(s->ssl);
    return s;
}

void tls_session_destroy(struct tls_session **s)
{
    if (*s == NULL)
        return;
    if ((*s)->ssl != NULL)
        SSL_free((*s)->ssl);
    free(*s);
    *s = NULL;
    ERR_clear_error();
}

/* The result of an SSL call: keep going, or stop. */
static enum tls_res want(struct tls_session *s, int rc, short *events)
{
    switch (SSL_get_error(s->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        *events = POLLIN;
        return TLS_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        *events = POLLOUT;
        return TLS_AGAIN;
    default:
        ERR_clear_error();
        return s->handshaken ? TLS_DONE : TLS_FAIL;
    }
}

enum tls_res tls_session_step(struct tls_session *s, short *events)
{
    static const char req[] = "version\r\n";
    int rc;

    for (;;) {
        switch (s->phase) {
        case TP_HANDSHAKE:
            rc = SSL_do_handshake(s->ssl);
            if (rc != 1)
                return want(s, rc, events);
            s->handshaken = true;
            s->phase = TP_WRITE;
            break;
        case TP_WRITE:
            rc = SSL_write(s->ssl, req, (int)sizeof(req) - 1);
            if (rc <= 0)
                return want(s, rc, events);
            s->phase = TP_READ;
            break;
        case TP_READ:
            rc = SSL_read(s->ssl, s->line + s->len,
                          (int)(sizeof(s->line) - 1 - s->len));
            if (rc <= 0)
                return want(s, rc, events);
            s->len += (size_t)rc;
            s->line[s->len] = '\0';
            if (memchr(s->line, '\n', s->len) != NULL) {
                s->complete = true;
                s->line[strcspn(s->line, "\r\n")] = '\0';
                return TLS_DONE;
            }
            if (s->len == sizeof(s->line) - 1)
                return TLS_DONE;            /* too long: not a version */
            break;
        }
    }
}

bool tls_session_handshaken(const struct tls_session *s)
{
    return s->handshaken;
}

const char *tls_session_line(const struct tls_session *s)
{
    return s->complete ? s->line : "";
}
