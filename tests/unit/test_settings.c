/* Unit tests for the start-up flags memcached 1.6.45 added or spells its
 * own way: -l's separators and prefixes, -p -1, --verbose=N, -N, the -o
 * no-ops and refusals, ssl_min_version's numbers. Through
 * settings_try_parse, the parser's pure entry point. */
#include "server/settings.h"

#include "unit.h"

/* Parse a NULL-terminated list of arguments (copied: the parser splits
 * its strings in place). */
static enum settings_action parse(char *err, const char *const *args)
{
    static char store[16][256];
    static char *argv[17];
    int argc = 0;

    argv[argc++] = strcpy(store[0], "hardcached");
    for (; *args && argc < 16; args++, argc++)
        argv[argc] = strcpy(store[argc], *args);
    argv[argc] = NULL;
    err[0] = '\0';
    return settings_try_parse(argc, argv, err, SETTINGS_ERR_MAX);
}

#define PARSE(...) parse(err, (const char *const[]){ __VA_ARGS__, NULL })

static void test_listen_prefixes(void)
{
    char err[SETTINGS_ERR_MAX];

    CHECK_EQ_INT(PARSE("-l", "127.0.0.1:1;[::1]:2,proto[binary]:tag[abc]:10.0.0.1"),
                 SETTINGS_RUN);
    CHECK_EQ_INT(settings.nlisten, 3);
    CHECK(strcmp(settings.listen[0].addr, "127.0.0.1:1") == 0);
    CHECK(strcmp(settings.listen[1].addr, "[::1]:2") == 0);
    CHECK_EQ_INT(settings.listen[0].proto, PROTO_INHERIT);
    CHECK_EQ_INT(settings.listen[2].proto, PROTO_BINARY);
    CHECK(strcmp(settings.listen[2].tag, "abc") == 0);
    CHECK(strcmp(settings.listen[2].addr, "10.0.0.1") == 0);
    CHECK(strcmp(settings.listen_arg, "127.0.0.1:1;[::1]:2,proto[binary]:tag[abc]:10.0.0.1") == 0);
    CHECK_EQ_INT(PARSE("-l", "127.0.0.1", "-l", "::1"), SETTINGS_RUN);
    CHECK(strcmp(settings.listen_arg, "127.0.0.1,::1") == 0);

    CHECK_EQ_INT(PARSE("-Z", "-o", "ssl_chain_cert=c,ssl_key=k,ssl_ca_cert=a", "-l",
                       "notls:127.0.0.1,btls:proto[ascii]:127.0.0.1:2,"
                       "mtls:tag_x_:127.0.0.1:3"), SETTINGS_RUN);
    CHECK_EQ_INT(settings.listen[0].tls, LISTEN_TLS_OFF);
    CHECK_EQ_INT(settings.listen[1].tls, LISTEN_TLS_BASIC);
    CHECK_EQ_INT(settings.listen[1].proto, PROTO_ASCII);
    CHECK_EQ_INT(settings.listen[2].tls, LISTEN_TLS_PEER);
    CHECK(strcmp(settings.listen[2].tag, "x") == 0);

    CHECK_EQ_INT(PARSE("-l", "notls:127.0.0.1"), SETTINGS_ERROR);
    CHECK(strstr(err, "'notls' option is valid only when SSL is enabled") != NULL);
    CHECK_EQ_INT(PARSE("-Z", "-o", "ssl_chain_cert=c,ssl_key=k", "-l", "mtls:127.0.0.1"),
                 SETTINGS_ERROR);
    CHECK(strstr(err, "ssl_ca_cert") != NULL);
    CHECK_EQ_INT(PARSE("-l", "tag[123456789]:127.0.0.1"), SETTINGS_ERROR);
    CHECK(strstr(err, "between 1 and 8") != NULL);
    CHECK_EQ_INT(PARSE("-l", "tag[]:127.0.0.1"), SETTINGS_ERROR);
    CHECK_EQ_INT(PARSE("-l", "proto[udp]:127.0.0.1"), SETTINGS_ERROR);
    CHECK_EQ_INT(PARSE("-l", "proto[ascii:127.0.0.1"), SETTINGS_ERROR);
    CHECK_EQ_INT(PARSE("-l", "tag[abc]127.0.0.1"), SETTINGS_ERROR);
    CHECK_EQ_INT(PARSE("-l", ";;,"), SETTINGS_RUN);   /* memcached: nothing */
    CHECK_EQ_INT(settings.nlisten, 0);
}

static void test_flags(void)
{
    char err[SETTINGS_ERR_MAX];

    CHECK_EQ_INT(PARSE("-p", "-1", "-U", "-1"), SETTINGS_RUN);
    CHECK_EQ_INT(settings.port, -1);
    CHECK_EQ_INT(settings.udp_port, -1);
    CHECK_EQ_INT(PARSE("-p", "-2"), SETTINGS_ERROR);
    CHECK_EQ_INT(PARSE("--verbose=2"), SETTINGS_RUN);
    CHECK_EQ_INT(settings.verbose, 2);
    CHECK_EQ_INT(PARSE("-vv", "--verbose"), SETTINGS_RUN);
    CHECK_EQ_INT(settings.verbose, 3);
    CHECK_EQ_INT(PARSE("--verbose=x"), SETTINGS_ERROR);
    CHECK_EQ_INT(PARSE("-N", "2"), SETTINGS_RUN);
    CHECK_EQ_INT(settings.napi_ids, 2);
    CHECK_EQ_INT(PARSE("-N", "0"), SETTINGS_ERROR);
    CHECK_EQ_INT(PARSE("-f", "1.0"), SETTINGS_ERROR);
    CHECK_EQ_INT(PARSE("-f", "2", "-n", "64", "-D", "/"), SETTINGS_RUN);
    CHECK(settings.growth_factor == 2.0 && settings.chunk_size == 64 &&
          settings.prefix_delimiter == '/');
}

static void test_extended(void)
{
    char err[SETTINGS_ERR_MAX];

    CHECK_EQ_INT(PARSE("-o", "no_inline_ascii_resp,inline_ascii_resp,no_slab_automove,"
                       "slab_sizes=96-200,no_chunked_items,slab_automove_freeratio=0.01,"
                       "hash_algorithm=murmur3,ext_threads=2"), SETTINGS_RUN);
    CHECK_EQ_INT(PARSE("-o", "hash_algorithm=bogus"), SETTINGS_ERROR);
    CHECK(strstr(err, "Unknown hash_algorithm option") != NULL);
    CHECK_EQ_INT(PARSE("-o", "temporary_ttl=10"), SETTINGS_ERROR);
    CHECK(strstr(err, "temporary_ttl") != NULL);
    CHECK_EQ_INT(PARSE("-o", "ext_path=/tmp/x:1G"), SETTINGS_RUN);   /* a flash tier */
    /* a restart finds what is on flash (storage/flash_recover.c) */
    CHECK_EQ_INT(PARSE("-e", "/dev/shm/x", "-o", "ext_path=/tmp/x:1G"), SETTINGS_RUN);
    CHECK_EQ_INT(PARSE("-o", "ssl_min_version=0,ssl_keyformat=2,ssl_session_cache,"
                       "ssl_kernel_tls,ssl_wbuf_size=8"), SETTINGS_RUN);
    CHECK_EQ_INT(settings.tls.min_version, 10);
    CHECK_EQ_INT(settings.tls.keyformat, 2);
    CHECK(settings.tls.session_cache && settings.tls.kernel_tls);
    CHECK_EQ_INT(settings.tls.wbuf_kb, 8);
    CHECK_EQ_INT(PARSE("-o", "ssl_min_version=tlsv1.3"), SETTINGS_RUN);
    CHECK_EQ_INT(settings.tls.min_version, 13);
    CHECK_EQ_INT(PARSE("-o", "ssl_min_version=4"), SETTINGS_ERROR);
    CHECK_EQ_INT(PARSE("-o", "ssl_keyformat=3"), SETTINGS_ERROR);
}

int main(void)
{
    RUN(test_listen_prefixes);
    RUN(test_flags);
    RUN(test_extended);
    return unit_report("test_settings");
}
