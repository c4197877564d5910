/*
 * auth: the one place that decides who is logged in. It loads the password
 * file (memcached's "user:password" lines, plus crypt(3) hashes that
 * `hardcached --hash-password` makes), verifies credentials in constant
 * time, throttles failed logins per source address, and says what an
 * unauthenticated connection may do on each protocol. The process layers
 * only ask it.
 */
#ifndef HC_POLICY_AUTH_H
#define HC_POLICY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>


enum auth_verdict {
    AUTH_GRANTED,
    AUTH_DENIED,      /* wrong user or password, or a malformed request */
    AUTH_THROTTLED,   /* too many recent failures from this address: the
                         credentials were not even checked */
    AUTH_CONTINUE,    /* SASL: send the reply, the exchange goes on (STEP) */
};

/* One SASL exchange in progress, owned by its connection. */
struct auth_sasl_session;

/* The longest reply auth_sasl_start/step compose (server-first). */
#define AUTH_SASL_REPLY_MAX 512

/* Load `path` for SASL (-S) and/or ascii (-Y) logins. Returns 0, or -1
 * with a message in err. Call once at start-up. */
int auth_setup(const char *path, bool sasl, bool ascii, char *err, size_t errlen);
/* Re-read the file (SIGHUP). On error the old entries stay in force and
 * -1 is returned with a message. */
int auth_reload(char *err, size_t errlen);
void auth_teardown(void);

bool auth_sasl_enabled(void);
bool auth_ascii_enabled(void);

/* Check one user/password pair from `peer`. */
enum auth_verdict auth_check(const struct sockaddr_storage *peer,
                             const char *user, size_t nuser,
                             const char *pass, size_t npass);
/* A binary SASL AUTH: mechanism name and its data. */
enum auth_verdict auth_sasl(const struct sockaddr_storage *peer,
                            const char *mech, size_t nmech,
                            const char *data, size_t ndata);
/* A binary SASL AUTH with any mechanism. PLAIN answers at once; SCRAM-SHA-256
 * takes client-first, puts server-first in reply (at most cap bytes,
 * length in *nreply), keeps its state in *sess and returns AUTH_CONTINUE.
 * Any exchange already in *sess is abandoned. */
enum auth_verdict auth_sasl_start(struct auth_sasl_session **sess,
                                  const struct sockaddr_storage *peer,
                                  const char *mech, size_t nmech,
                                  const char *data, size_t ndata,
                                  char *reply, size_t cap, size_t *nreply);
/* A binary SASL STEP: SCRAM's client-final. AUTH_GRANTED with server-final
 * in reply, or a refusal; either way the exchange is over (*sess freed), so
 * a replayed final, or a STEP without AUTH, is refused. */
enum auth_verdict auth_sasl_step(struct auth_sasl_session **sess,
                                 const struct sockaddr_storage *peer,
                                 const char *mech, size_t nmech,
                                 const char *data, size_t ndata,
                                 char *reply, size_t cap, size_t *nreply);
/* Free an exchange (connection close); *sess becomes NULL. */
void auth_sasl_session_destroy(struct auth_sasl_session **sess);

/* The mechanisms offered by SASL LIST_MECHS, space separated. */
const char *auth_sasl_mechs(void);

/* crypt(3) hash of a password for the password file (yescrypt), into out.
 * Returns 0 or -1. */
int auth_hash_password(const char *pass, char *out, size_t outlen);
/* The "$scram-sha-256$<iterations>$<salt>$<StoredKey>$<ServerKey>" entry of
 * a password (random salt, SCRAM_ITERATIONS_DEFAULT), into out. 0 or -1. */
int auth_hash_password_scram(const char *pass, char *out, size_t outlen);

/* Test hooks: forget all throttling state. */
void auth_throttle_reset(void);

#endif
