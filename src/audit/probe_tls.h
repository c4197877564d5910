/*
 * probe_tls: is this port memcached over TLS (memcached -Z, hardcached -Z)?
 * As nmap -sV does: a TLS handshake, then `version` inside it. The audit
 * only identifies the service, so the certificate is not verified.
 */
#ifndef HC_AUDIT_PROBE_TLS_H
#define HC_AUDIT_PROBE_TLS_H

#include <stdbool.h>
#include <stddef.h>

#define TLS_LINE_MAX 128        /* reply to `version` kept */

struct tls_session;

enum tls_res { TLS_AGAIN, TLS_DONE, TLS_FAIL };

/* A client session over a connected nonblocking socket; NULL on error. */
struct tls_session *tls_session_create(int fd);
void tls_session_destroy(struct tls_session **s);
/* Drives handshake, request and reply as far as the socket allows. On
 * TLS_AGAIN, *events is what to poll for. On TLS_DONE the handshake
 * completed and line holds the first reply line ("" if none came). */
enum tls_res tls_session_step(struct tls_session *s, short *events);
bool tls_session_handshaken(const struct tls_session *s);
const char *tls_session_line(const struct tls_session *s);

#endif
