/*
 * stats_cmd: the stats emitter, one function per `stats` group, reading
 * server/stats, the store and the settings; see stats_cmd.h. The order of
 * names is memcached's and is part of the interface.
 */
#include "server/stats_cmd.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "protocol/text/parse.h"
#include "server/dump.h"
#include "server/stats_detail.h"
#include "server/session.h"
#include "server/settings.h"
#include "server/stats_class.h"
#include "server/stats_flash.h"
#include "server/stats.h"
#include "server/stats_off.h"
#include "storage/crawl.h"
#include "storage/store.h"

/* The store's part of `stats`, last and in this order, the crawler's
 * between its pieces as memcached places them:
 * X(stat name, struct store_stats field). */
#define STORE_STATS_HASH(X)                                                   \
    X(hash_power_level, hash_power_level) X(hash_bytes, hash_bytes)           \
    X(hash_is_expanding, hash_is_expanding)
#define STORE_STATS_ITEMS(X)                                                  \
    X(bytes, bytes)                                                           \
    X(curr_items, curr_items) X(total_items, total_items)                     \
    X(expired_unfetched, expired_unfetched)                                   \
    X(evicted_unfetched, evicted_unfetched) X(evictions, evictions)           \
    X(reclaimed, reclaimed)
#define STORE_STATS_SEGMENTS(X)                                               \
    X(segment_size, segment_size)                                             \
    X(segments_used, segments) X(memory_used, mem_used)

/* memcached's crawler totals: the sums of `stats items`' per-class
 * counters (cleared by `stats reset`, as memcached's are). */
static void crawler_totals(const struct stats_sink *s)
{
    uint64_t reclaimed = 0, checked = 0;
    struct class_drops d;

    for (unsigned id = 1; id <= size_class_count(); id++) {
        class_count_get(id, &d);
        reclaimed += d.crawler_reclaimed;
        checked += d.crawler_items_checked;
    }
    stats_add_u64(s, "crawler_reclaimed", reclaimed);
    stats_add_u64(s, "crawler_items_checked", checked);
}

void stats_emit_general(const struct stats_sink *s)
{
    struct thread_stats ts;
    struct store_stats ss;
    struct crawl_stats cs;
    struct rusage ru;
    time_t now = clock_started() + clock_now();

    stats_aggregate(&ts);
    stats_store_since_reset(&ss);
    getrusage(RUSAGE_SELF, &ru);
    stats_add_u64(s, "pid", (uint64_t)getpid());
    stats_add_u64(s, "uptime", clock_now() - CLOCK_START);
    stats_add_u64(s, "time", (uint64_t)now);
    stats_add_str(s, "version", HC_VERSION_STRING);
    stats_add_str(s, "hardcached_version", HC_VERSION);
    stats_add_str(s, "libevent", "none");
    stats_add_u64(s, "pointer_size", sizeof(void *) * 8);
    stats_add_fmt(s, "rusage_user", "%ld.%06ld", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
    stats_add_fmt(s, "rusage_system", "%ld.%06ld", (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
    stats_add_u64(s, "max_connections", (uint64_t)settings.maxconns);
    stats_add_u64(s, "curr_connections", atomic_load(&global_stats.curr_connections));
    stats_add_u64(s, "total_connections", atomic_load(&global_stats.total_connections));
    stats_add_u64(s, "rejected_connections", atomic_load(&global_stats.rejected_connections));
    stats_add_u64(s, "connection_structures", atomic_load(&global_stats.connection_structures));
    /* idle_kicks only with an idle timeout, the *_extstore ones only with
     * a flash tier, as memcached */
#define X(name) if ((settings.idle_timeout || strcmp(#name, "idle_kicks") != 0) && \
                    (settings.flash.ndev > 0 || strstr(#name, "extstore") == NULL)) \
        stats_add_u64(s, #name, atomic_load_explicit(&ts.name, memory_order_relaxed));
    THREAD_STATS(X)
#undef X
    stats_add_u64(s, "reserved_fds", atomic_load(&global_stats.reserved_fds));
    /* listening is never disabled here: over -c a connection is accepted
     * and told "ERROR Too many open connections" */
    stats_add_u64(s, "time_in_listen_disabled_us", 0);
    stats_add_u64(s, "acl_rejected_connections", atomic_load(&global_stats.acl_rejected_connections));
    stats_add_milli(s, "udp_max_amplification",
                    atomic_load(&global_stats.udp_max_amplification_milli));
    stats_add_milli(s, "udp_max_amplification_unvalidated",
                    atomic_load(&global_stats.udp_max_amplification_unvalidated_milli));
    stats_add_u64(s, "limit_maxbytes", atomic_load(&settings.maxbytes));
    stats_add_u64(s, "accepting_conns", 1);
    stats_add_u64(s, "listen_disabled_num", 0);
    stats_add_u64(s, "threads", (uint64_t)settings.threads);
    if (settings.flash.ndev > 0)
        stats_flash_emit(s);
#define X(name, field) stats_add_u64(s, #name, ss.field);
    STORE_STATS_HASH(X)
    crawl_stats_get(&cs);
    stats_add_u64(s, "lru_crawler_running", cs.running);
    stats_add_u64(s, "lru_crawler_starts", cs.starts);
    STORE_STATS_ITEMS(X)
    crawler_totals(s);
    STORE_STATS_SEGMENTS(X)
#undef X
    stats_off_general(s);
    stats_end(s);
}

void stats_emit_settings(const struct stats_sink *s)
{
    settings_each_stat(s);
    stats_end(s);
}

/* memcached's transport name for an address family: "tcp", "udp6"... */
static const char *transport(int family, bool udp)
{
    if (family == AF_INET)
        return udp ? "udp" : "tcp";
    if (family == AF_INET6)
        return udp ? "udp6" : "tcp6";
    return "unix";
}

static void peer_name(const struct sockaddr_storage *ss, char *out, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(out, len, "tcp:%s:%u", host, ntohs(in->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(out, len, "tcp6:[%s]:%u", host, ntohs(in6->sin6_port));
    } else {
        snprintf(out, len, "unix:%s", settings.unix_path ? settings.unix_path : "");
    }
}

static void conn_stat(const struct stats_sink *s, int fd, const char *what, const char *val)
{
    char name[64];

    snprintf(name, sizeof(name), "%d:%s", fd, what);
    stats_add_str(s, name, val);
}

/* memcached's lines for one socket: a listener or UDP socket shows its own
 * address; a connection its peer's and the listener's. */
static void conn_stats(const struct session_info *other, void *arg)
{
    const struct stats_sink *s = arg;
    char addr[160], listen[160], secs[24];

    if (other->peer != NULL) {
        peer_name(other->peer, addr, sizeof(addr));
        snprintf(listen, sizeof(listen), "%s:%s",
                 transport(other->peer->ss_family, false), other->listen_name);
    } else {
        snprintf(addr, sizeof(addr), "%s:%s", transport(other->listen_family, other->udp),
                 other->listen_name);
    }
    if (other->udp)
        conn_stat(s, other->fd, "UDP", "UDP");
    conn_stat(s, other->fd, "addr", addr);
    if (other->peer != NULL)
        conn_stat(s, other->fd, "listen_addr", listen);
    conn_stat(s, other->fd, "state", other->state);
    snprintf(secs, sizeof(secs), "%u", clock_now() - other->last_active);
    conn_stat(s, other->fd, "secs_since_last_cmd", secs);
}

static void emit_conns(const struct stats_sink *s)
{
    struct stats_sink sink = *s;   /* the walker's context is not const */

    sessions_each(conn_stats, &sink);
    stats_end(s);
}

static bool group_is(const char *group, size_t len, const char *lit)
{
    return len == strlen(lit) && memcmp(group, lit, len) == 0;
}

enum stats_outcome stats_run(const char *group, size_t len, const struct stats_sink *s)
{
    if (group_is(group, len, "reset")) {
        stats_class_keep_pages();   /* before the counters it reads go */
        stats_reset();
        return STATS_RESET;
    }
    if (len == 0)
        stats_emit_general(s);
    else if (group_is(group, len, "settings"))
        stats_emit_settings(s);
    else if (group_is(group, len, "items"))
        stats_emit_items(s);
    else if (group_is(group, len, "slabs"))
        stats_emit_slabs(s);
    else if (group_is(group, len, "sizes"))
        stats_emit_sizes(s);
    else if (group_is(group, len, "conns"))
        emit_conns(s);
    else if (group_is(group, len, "extstore"))
        stats_flash_pages(s);   /* only END without a tier, as memcached */
    else
        return STATS_UNKNOWN;
    return STATS_EMITTED;
}

void stats_cmd(struct session *s, const struct text_token *args, uint32_t nargs)
{
    struct stats_text_out t = { .out = s->out };
    struct stats_sink sink = { stats_text_add, &t };
    enum stats_outcome r = STATS_UNKNOWN;

    if (nargs >= 1 && group_is(args[0].p, args[0].n, "cachedump")) {
        dump_cachedump(s, args, nargs);
        return;
    }
    if (nargs >= 1 && group_is(args[0].p, args[0].n, "detail")) {
        stats_detail_cmd(s, args, nargs);
        return;
    }
    /* memcached ignores what follows `stats extstore` */
    if (nargs <= 1 || group_is(args[0].p, args[0].n, "extstore"))
        r = stats_run(nargs ? args[0].p : "", nargs ? args[0].n : 0, &sink);
    if (t.failed)
        s->closing = true;
    else if (r == STATS_RESET)
        SESSION_LIT(s, "RESET");
    else if (r == STATS_UNKNOWN)
        SESSION_LIT(s, "ERROR");
}
