/*
 * tls: optional TLS on TCP listeners (-Z), a thin layer over OpenSSL 3.
 * One server context is current at a time; SIGHUP builds a new one from the
 * same files and swaps it in, so new connections get the new certificate
 * while existing ones keep the context they were accepted with (an SSL
 * object holds a reference to its context). A context that fails to build
 * is never swapped in: the old certificate keeps serving.
 */
#ifndef HC_NET_TLS_H
#define HC_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>

/* memcached's ssl_verify_mode values. */
enum tls_verify {
    TLS_VERIFY_NONE = 0,     /* no client certificate asked for */
    TLS_VERIFY_REQUEST = 1,  /* asked for, verified if sent */
    TLS_VERIFY_REQUIRE = 2,  /* required and verified (mutual TLS) */
    TLS_VERIFY_ONCE = 3,     /* required, verified once (not on resumption) */
};

struct tls_config {
    bool        enabled;      /* -Z */
    const char *chain_cert;   /* -o ssl_chain_cert: PEM chain, leaf first */
    const char *key;          /* -o ssl_key: PEM private key */
    const char *ca_cert;      /* -o ssl_ca_cert: CAs for client certificates */
    int         verify_mode;  /* -o ssl_verify_mode, enum tls_verify */
    int         min_version;  /* -o ssl_min_version: 10..13 (TLS 1.x) */
    const char *ciphers;      /* -o ssl_ciphers (TLS 1.2 list), NULL: OpenSSL's */
    int         keyformat;    /* -o ssl_keyformat: TLS_KEYFORMAT_* */
    bool        session_cache; /* -o ssl_session_cache: server-side resumption */
    bool        kernel_tls;   /* -o ssl_kernel_tls: kTLS offload when possible */
    unsigned    wbuf_kb;      /* -o ssl_wbuf_size: shown, tunes nothing */
};

/* memcached's ssl_keyformat values (OpenSSL's SSL_FILETYPE_*). */
#define TLS_KEYFORMAT_PEM 1
#define TLS_KEYFORMAT_DER 2

struct ssl_st;

/* Build the first context from cfg (kept by pointer: it must outlive the
 * module). Returns 0, or -1 with a message in err. Start-up only. */
int tls_setup(const struct tls_config *cfg, char *err, size_t errlen);
/* Rebuild the context from the same files (SIGHUP). On failure the old
 * one stays current; returns -1 with a message. */
int tls_reload(char *err, size_t errlen);
/* Free the current context (connections must be gone). */
void tls_teardown(void);

/* A server session on fd with the current context, or NULL. verify_mode:
 * enum tls_verify for this session (a listener's btls:/mtls:), or -1 for
 * the context's ssl_verify_mode. */
struct ssl_st *tls_session_create(int fd, int verify_mode);
/* Send close_notify if the handshake completed (one nonblocking try),
 * free the session, set *s = NULL. */
void tls_session_destroy(struct ssl_st **s);

/* What a nonblocking TLS call wants next. */
enum tls_io { TLS_IO_DONE, TLS_IO_WANT_READ, TLS_IO_WANT_WRITE,
              TLS_IO_CLOSED, TLS_IO_ERROR };

/* Drive the server handshake one step. */
enum tls_io tls_handshake(struct ssl_st *s);
/* Read up to len bytes: > 0 bytes read, else -(enum tls_io). */
long tls_read(struct ssl_st *s, void *buf, size_t len);
/* Write up to len (> 0) bytes: > 0 bytes written, else -(enum tls_io). */
long tls_write(struct ssl_st *s, const void *buf, size_t len);
/* Protocol name of an established session ("TLSv1.3"). */
const char *tls_version(const struct ssl_st *s);

#endif
