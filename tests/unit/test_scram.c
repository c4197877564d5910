/* Unit tests for SCRAM-SHA-256: the RFC 7677 section 3 exchange end to
 * end, the password-file entry round trip, and malformed messages. */
#include <sodium.h>

#include "policy/scram.h"
#include "unit.h"

#define S(lit) (lit), sizeof(lit) - 1

static const char rfc_first[] = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
static const char rfc_snonce[] = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
static const char rfc_server_first[] =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
static const char rfc_final[] =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
static const char rfc_server_final[] = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

static void rfc_creds(struct scram_creds *c)
{
    unsigned char salt[16];
    size_t n;
    sodium_base642bin(salt, sizeof(salt), S("W22ZaJ0SNY7soEsUEjb6gQ=="), NULL, &n, NULL,
                      sodium_base64_VARIANT_ORIGINAL);
    scram_derive(S("pencil"), salt, n, 4096, c);
}

/* Run server-first for the RFC's client-first; returns 0 if all is as the RFC says. */
static int start(struct scram_server *s, const struct scram_creds *c)
{
    struct scram_client_first cf;
    char out[256];
    int n;

    if (scram_parse_client_first(S(rfc_first), &cf) < 0)
        return -1;
    n = scram_server_first(s, &cf, c, S(rfc_snonce), out, sizeof(out));
    CHECK_MEM(out, (size_t)(n < 0 ? 0 : n), rfc_server_first);
    return n < 0 ? -1 : 0;
}

static void test_rfc7677(void)
{
    struct scram_creds c;
    struct scram_server s;
    struct scram_client_first cf;
    char out[256];
    int n;

    rfc_creds(&c);
    CHECK(scram_parse_client_first(S(rfc_first), &cf) == 0);
    CHECK_MEM(cf.user, cf.nuser, "user");
    CHECK_MEM(cf.nonce, cf.nnonce, "rOprNGfwEbeRWgbNEkqO");
    CHECK(start(&s, &c) == 0);
    n = scram_server_final(&s, S(rfc_final), out, sizeof(out));
    CHECK(n > 0);
    CHECK_MEM(out, (size_t)(n < 0 ? 0 : n), rfc_server_final);

    /* a wrong password gives other keys: the same proof fails */
    scram_derive(S("pencil2"), c.salt, c.nsalt, 4096, &c);
    CHECK(start(&s, &c) == 0);
    CHECK(scram_server_final(&s, S(rfc_final), out, sizeof(out)) < 0);
}

static void test_bad_final(void)
{
    static const char *const bad[] = {
        /* wrong nonce */
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        /* client nonce only */
        "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        /* channel binding other than the GS2 header ("y,,") */
        "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        /* bad base64 proof, short proof, no proof */
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndV!=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzb",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        /* bad base64 in c= */
        "c=bi*s,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        /* attributes out of order */
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,c=biws,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "",
    };
    struct scram_creds c;
    struct scram_server s;
    char out[256], big[SCRAM_MSG_MAX + 2];

    rfc_creds(&c);
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        CHECK(start(&s, &c) == 0);
        CHECK(scram_server_final(&s, bad[k], strlen(bad[k]), out, sizeof(out)) < 0);
    }
    memset(big, 'x', sizeof(big));
    CHECK(start(&s, &c) == 0);
    CHECK(scram_server_final(&s, big, sizeof(big), out, sizeof(out)) < 0);
    scram_server_wipe(&s);
}

static void test_bad_first(void)
{
    static const char *const bad[] = {
        "p=tls-unique,,n=user,r=abc",     /* channel binding requested */
        "n,a=admin,n=user,r=abc",         /* authzid other than the user */
        "n,a=,n=user,r=abc",              /* empty authzid */
        "x,,n=user,r=abc",                /* bad GS2 flag */
        "n,n=user,r=abc",                 /* short GS2 header */
        "n,,r=abc,n=user",                /* order */
        "n,,n=,r=abc",                    /* empty user */
        "n,,n=us=4Cer,r=abc",             /* bad escape */
        "n,,n=user,r=",                   /* empty nonce */
        "n,,n=user,r=a\001b",             /* unprintable nonce */
        "n,,m=ext,n=user,r=abc",          /* mandatory extension */
        "n,,n=user",                      /* no nonce */
        "",
    };
    struct scram_client_first cf;
    char big[SCRAM_MSG_MAX + 1];

    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
        CHECK(scram_parse_client_first(bad[k], strlen(bad[k]), &cf) < 0);
    CHECK(scram_parse_client_first(S("y,,n=a=2Cb=3Dc,r=abc,x=ext"), &cf) == 0);
    CHECK_MEM(cf.user, cf.nuser, "a,b=c");
    CHECK(scram_parse_client_first(S("n,a=user,n=user,r=abc"), &cf) == 0);   /* Cyrus */
    CHECK_MEM(cf.gs2, cf.ngs2, "n,a=user,");
    memcpy(big, "n,,n=user,r=", 12);
    memset(big + 12, 'x', sizeof(big) - 12);
    CHECK(scram_parse_client_first(big, sizeof(big), &cf) < 0);
}

static void test_entry(void)
{
    struct scram_creds c, d;
    char e[SCRAM_ENTRY_MAX + 1];

    rfc_creds(&c);
    CHECK(scram_entry_format(&c, e, sizeof(e)) == 0);
    CHECK(scram_entry_is(e));
    CHECK(scram_entry_parse(e, &d) == 0);
    CHECK(d.iter == 4096 && d.nsalt == 16 && memcmp(d.salt, c.salt, 16) == 0);
    CHECK(memcmp(d.stored_key, c.stored_key, 32) == 0);
    CHECK(memcmp(d.server_key, c.server_key, 32) == 0);
    CHECK(scram_entry_parse("$scram-sha-256$100$W22ZaJ0SNY7soEsUEjb6gQ==$"
                            "W22ZaJ0SNY7soEsUEjb6gQ==$W22ZaJ0SNY7soEsUEjb6gQ==", &d) < 0);
    CHECK(scram_entry_parse("$scram-sha-256$4096$W22Z", &d) < 0);
    CHECK(scram_entry_parse("$y$abc", &d) < 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(test_rfc7677);
    RUN(test_bad_final);
    RUN(test_bad_first);
    RUN(test_entry);
    return unit_report("scram");
}
