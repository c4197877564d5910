/*
 * tls: see tls.h. The context pointer is swapped under a mutex that only
 * accept (SSL_new takes its own reference) and SIGHUP take, so a worker
 * never uses a context that reload is freeing; the I/O path takes no lock.
 */
#include "net/tls.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/log.h"

/* Client certificates are verified against this session id context so a
 * resumed session is tied to this server's verification settings. */
static const unsigned char session_ctx_id[] = "hardcached";

static const struct tls_config *config;
static SSL_CTX *current;
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;

/* The first queued OpenSSL error as text, queue cleared. */
static void ssl_err(char *err, size_t errlen, const char *what, const char *path)
{
    unsigned long e = ERR_get_error();
    char reason[256] = "unknown error";

    if (e != 0)
        ERR_error_string_n(e, reason, sizeof(reason));
    ERR_clear_error();
    snprintf(err, errlen, "TLS: %s%s%s: %s", what, path ? " " : "",
             path ? path : "", reason);
}

/* memcached's verify modes as OpenSSL's flags. */
static int verify_flags(int verify_mode)
{
    switch (verify_mode) {
    case TLS_VERIFY_REQUEST:
        return SSL_VERIFY_PEER;
    case TLS_VERIFY_REQUIRE:
        return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    case TLS_VERIFY_ONCE:
        return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT |
               SSL_VERIFY_CLIENT_ONCE;
    default:
        return SSL_VERIFY_NONE;
    }
}

static const int min_versions[] = { TLS1_VERSION, TLS1_1_VERSION,
                                    TLS1_2_VERSION, TLS1_3_VERSION };

static SSL_CTX *ctx_build(const struct tls_config *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL) {
        ssl_err(err, errlen, "cannot create a context", NULL);
        return NULL;
    }
    /* TLS 1.2 at least unless told otherwise (ssl_min_version, 1.0 at
     * the lowest, and only what OpenSSL's security level here lets
     * through); OpenSSL negotiates 1.3 when the client has it */
    if (cfg->min_version < 10 || cfg->min_version > 13 ||
        !SSL_CTX_set_min_proto_version(ctx, min_versions[cfg->min_version - 10])) {
        ssl_err(err, errlen, "cannot set the minimum version", NULL);
        goto fail;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                             SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (cfg->kernel_tls)   /* OpenSSL falls back to user space on its own */
        SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
    /* memcached: no server-side session cache unless asked for; TLS 1.3
     * tickets follow the same switch */
    if (cfg->session_cache) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(ctx, 0);
    }
    /* replies move from the worker buffer to the connection's between a
     * WANT_WRITE and the retry, and may be written in parts */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                          SSL_MODE_RELEASE_BUFFERS);
    if (cfg->ciphers && !SSL_CTX_set_cipher_list(ctx, cfg->ciphers)) {
        ssl_err(err, errlen, "bad ssl_ciphers", cfg->ciphers);
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->chain_cert) != 1) {
        ssl_err(err, errlen, "cannot load the certificate chain", cfg->chain_cert);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key, cfg->keyformat == TLS_KEYFORMAT_DER ?
                                    SSL_FILETYPE_ASN1 : SSL_FILETYPE_PEM) != 1) {
        ssl_err(err, errlen, "cannot load the private key", cfg->key);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ssl_err(err, errlen, "the private key does not match the certificate", cfg->key);
        goto fail;
    }
    if (cfg->ca_cert) {
        STACK_OF(X509_NAME) *names;
        if (SSL_CTX_load_verify_locations(ctx, cfg->ca_cert, NULL) != 1) {
            ssl_err(err, errlen, "cannot load the CA certificates", cfg->ca_cert);
            goto fail;
        }
        names = SSL_load_client_CA_file(cfg->ca_cert);
        if (names == NULL) {
            ssl_err(err, errlen, "no CA names in", cfg->ca_cert);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
    }
    SSL_CTX_set_verify(ctx, verify_flags(cfg->verify_mode), NULL);
    if (!SSL_CTX_set_session_id_context(ctx, session_ctx_id,
                                        sizeof(session_ctx_id) - 1)) {
        ssl_err(err, errlen, "cannot set the session id context", NULL);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int tls_setup(const struct tls_config *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx;

    if (cfg->verify_mode >= TLS_VERIFY_REQUEST && cfg->ca_cert == NULL) {
        snprintf(err, errlen, "TLS: ssl_verify_mode=%d needs ssl_ca_cert to "
                 "verify client certificates", cfg->verify_mode);
        return -1;
    }
    ctx = ctx_build(cfg, err, errlen);
    if (ctx == NULL)
        return -1;
    config = cfg;
    current = ctx;
    return 0;
}

int tls_reload(char *err, size_t errlen)
{
    SSL_CTX *ctx, *old;

    if (config == NULL) {
        snprintf(err, errlen, "TLS is off");
        return -1;
    }
    ctx = ctx_build(config, err, errlen);
    if (ctx == NULL)
        return -1;
    pthread_mutex_lock(&current_lock);
    old = current;
    current = ctx;
    pthread_mutex_unlock(&current_lock);
    SSL_CTX_free(old);   /* sessions still using it hold their references */
    return 0;
}

void tls_teardown(void)
{
    pthread_mutex_lock(&current_lock);
    SSL_CTX_free(current);
    current = NULL;
    config = NULL;
    pthread_mutex_unlock(&current_lock);
}

struct ssl_st *tls_session_create(int fd, int verify_mode)
{
    SSL *s;

    pthread_mutex_lock(&current_lock);
    s = current ? SSL_new(current) : NULL;
    pthread_mutex_unlock(&current_lock);
    if (s == NULL)
        return NULL;
    if (SSL_set_fd(s, fd) != 1) {
        SSL_free(s);
        return NULL;
    }
    if (verify_mode >= 0)   /* the listener's btls: or mtls: */
        SSL_set_verify(s, verify_flags(verify_mode), NULL);
    SSL_set_accept_state(s);
    return s;
}

void tls_session_destroy(struct ssl_st **s)
{
    if (*s == NULL)
        return;
    if (SSL_is_init_finished(*s)) {
        ERR_clear_error();
        (void)SSL_shutdown(*s);
    }
    ERR_clear_error();
    SSL_free(*s);
    *s = NULL;
}

static enum tls_io io_result(SSL *s, int rc)
{
    switch (SSL_get_error(s, rc)) {
    case SSL_ERROR_WANT_READ:
        return TLS_IO_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return TLS_IO_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return TLS_IO_CLOSED;
    default:
        return TLS_IO_ERROR;
    }
}

enum tls_io tls_handshake(struct ssl_st *s)
{
    int rc;

    ERR_clear_error();
    rc = SSL_do_handshake(s);
    if (rc == 1)
        return TLS_IO_DONE;
    enum tls_io r = io_result(s, rc);
    if (r == TLS_IO_ERROR || r == TLS_IO_CLOSED) {
        char why[256] = "connection closed";
        unsigned long e = ERR_peek_error();
        if (e != 0)
            ERR_error_string_n(e, why, sizeof(why));
        log_info("TLS handshake failed on fd %d: %s", SSL_get_fd(s), why);
        ERR_clear_error();
        r = TLS_IO_ERROR;
    }
    return r;
}

long tls_read(struct ssl_st *s, void *buf, size_t len)
{
    size_t n = 0;

    ERR_clear_error();
    if (SSL_read_ex(s, buf, len, &n) == 1)
        return (long)n;
    enum tls_io r = io_result(s, 0);
    ERR_clear_error();
    return -(long)r;
}

long tls_write(struct ssl_st *s, const void *buf, size_t len)
{
    size_t n = 0;

    ERR_clear_error();
    if (SSL_write_ex(s, buf, len, &n) == 1)
        return (long)n;
    enum tls_io r = io_result(s, 0);
    ERR_clear_error();
    return -(long)r;
}

const char *tls_version(const struct ssl_st *s)
{
    return SSL_get_version(s);
}
