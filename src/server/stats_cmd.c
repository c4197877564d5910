/*
 * stats_cmd: formats counters from server/stats, the store and the
 * settings. Not on the hot path, so plain snprintf.
 */
#include "server/stats_cmd.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "server/settings.h"
#include "server/stats.h"
#include "storage/store.h"

__attribute__((format(printf, 3, 4)))
static void stat_line(struct session *s, const char *name, const char *fmt, ...)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "STAT %s ", name);
    va_list ap;

    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n - 2, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 3)
        n = (int)sizeof(line) - 3;
    line[n++] = '\r';
    line[n++] = '\n';
    session_append(s, line, (size_t)n);
}

static void stat_u64(struct session *s, const char *name, uint64_t v)
{
    stat_line(s, name, "%llu", (unsigned long long)v);
}

/* a ratio kept in thousandths, printed as 1.234 */
static void stat_ratio(struct session *s, const char *name, uint64_t milli)
{
    stat_line(s, name, "%llu.%03llu", (unsigned long long)(milli / 1000),
              (unsigned long long)(milli % 1000));
}

static void end(struct session *s)
{
    SESSION_LIT(s, "END");
}

/* store counters at the last `stats reset` (the store never resets) */
static struct store_stats store_baseline;
static pthread_mutex_t baseline_lock = PTHREAD_MUTEX_INITIALIZER;

static void store_stats_since_reset(struct store_stats *ss)
{
    store_stats_get(ss);
    pthread_mutex_lock(&baseline_lock);
    ss->total_items -= store_baseline.total_items;
    ss->evictions -= store_baseline.evictions;
    ss->reclaimed -= store_baseline.reclaimed;
    ss->expired_unfetched -= store_baseline.expired_unfetched;
    ss->evicted_unfetched -= store_baseline.evicted_unfetched;
    pthread_mutex_unlock(&baseline_lock);
}

static void stats_general(struct session *s)
{
    struct thread_stats ts;
    struct store_stats ss;
    struct rusage ru;
    time_t now = clock_started() + clock_now();

    stats_aggregate(&ts);
    store_stats_since_reset(&ss);
    getrusage(RUSAGE_SELF, &ru);
    stat_u64(s, "pid", (uint64_t)getpid());
    stat_u64(s, "uptime", clock_now() - CLOCK_START);
    stat_u64(s, "time", (uint64_t)now);
    stat_line(s, "version", "%s", HC_VERSION_STRING);
    stat_line(s, "libevent", "%s", "none");
    stat_u64(s, "pointer_size", sizeof(void *) * 8);
    stat_line(s, "rusage_user", "%ld.%06ld", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
    stat_line(s, "rusage_system", "%ld.%06ld", (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
    stat_u64(s, "max_connections", (uint64_t)settings.maxconns);
    stat_u64(s, "curr_connections", atomic_load(&global_stats.curr_connections));
    stat_u64(s, "total_connections", atomic_load(&global_stats.total_connections));
    stat_u64(s, "rejected_connections", atomic_load(&global_stats.rejected_connections));
    stat_u64(s, "connection_structures", atomic_load(&global_stats.connection_structures));
#define X(name) stat_u64(s, #name, atomic_load_explicit(&ts.name, memory_order_relaxed));
    THREAD_STATS(X)
#undef X
    stat_u64(s, "acl_rejected_connections", atomic_load(&global_stats.acl_rejected_connections));
    stat_ratio(s, "udp_max_amplification",
               atomic_load(&global_stats.udp_max_amplification_milli));
    stat_ratio(s, "udp_max_amplification_unvalidated",
               atomic_load(&global_stats.udp_max_amplification_unvalidated_milli));
    stat_u64(s, "limit_maxbytes", settings.maxbytes);
    stat_u64(s, "accepting_conns", 1);
    stat_u64(s, "listen_disabled_num", 0);
    stat_u64(s, "threads", (uint64_t)settings.threads);
    stat_u64(s, "hash_power_level", ss.hash_power_level);
    stat_u64(s, "hash_bytes", ss.hash_bytes);
    stat_u64(s, "hash_is_expanding", ss.hash_is_expanding);
    stat_u64(s, "bytes", ss.bytes);
    stat_u64(s, "curr_items", ss.curr_items);
    stat_u64(s, "total_items", ss.total_items);
    stat_u64(s, "expired_unfetched", ss.expired_unfetched);
    stat_u64(s, "evicted_unfetched", ss.evicted_unfetched);
    stat_u64(s, "evictions", ss.evictions);
    stat_u64(s, "reclaimed", ss.reclaimed);
    stat_u64(s, "segment_size", ss.segment_size);
    stat_u64(s, "segments_used", ss.segments);
    stat_u64(s, "memory_used", ss.mem_used);
    end(s);
}

static void settings_line(const char *name, const char *value, void *ctx)
{
    stat_line(ctx, name, "%s", value);
}

static void stats_items(struct session *s)
{
    struct store_stats ss;

    store_stats_get(&ss);
    /* one pseudo slab class: segments hold items of every size */
    if (ss.curr_items > 0) {
        stat_u64(s, "items:1:number", ss.curr_items);
        stat_u64(s, "items:1:age", 0);
        stat_u64(s, "items:1:mem_requested", ss.bytes);
        stat_u64(s, "items:1:evicted", ss.evictions);
        stat_u64(s, "items:1:evicted_nonzero", 0);
        stat_u64(s, "items:1:outofmemory", 0);
        stat_u64(s, "items:1:reclaimed", ss.reclaimed);
        stat_u64(s, "items:1:expired_unfetched", ss.expired_unfetched);
        stat_u64(s, "items:1:evicted_unfetched", ss.evicted_unfetched);
    }
    end(s);
}

static void stats_slabs(struct session *s)
{
    struct store_stats ss;

    store_stats_get(&ss);
    if (ss.segments > 0) {
        stat_u64(s, "1:chunk_size", ss.segment_size);
        stat_u64(s, "1:total_pages", ss.segments);
        stat_u64(s, "1:used_chunks", ss.curr_items);
        stat_u64(s, "1:mem_requested", ss.bytes);
    }
    stat_u64(s, "active_slabs", ss.segments > 0 ? 1 : 0);
    stat_u64(s, "total_malloced", ss.mem_used);
    end(s);
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

static void conn_line(const struct session_info *other, void *arg)
{
    struct session *s = arg;
    char name[64], addr[128];

    peer_name(other->peer, addr, sizeof(addr));
    snprintf(name, sizeof(name), "%d:addr", other->fd);
    stat_line(s, name, "%s", addr);
    snprintf(name, sizeof(name), "%d:listen_addr", other->fd);
    stat_line(s, name, "%s", other->listen_name);
    snprintf(name, sizeof(name), "%d:state", other->fd);
    stat_line(s, name, "%s", other->state);
    snprintf(name, sizeof(name), "%d:secs_since_last_cmd", other->fd);
    stat_u64(s, name, clock_now() - other->last_active);
}

static bool arg_is(const struct text_token *t, const char *lit)
{
    return t->n == strlen(lit) && memcmp(t->p, lit, t->n) == 0;
}

void stats_cmd(struct session *s, const struct text_token *args, uint32_t nargs)
{
    if (nargs == 0) {
        stats_general(s);
    } else if (arg_is(&args[0], "reset") && nargs == 1) {
        stats_reset();
        pthread_mutex_lock(&baseline_lock);
        store_stats_get(&store_baseline);
        pthread_mutex_unlock(&baseline_lock);
        SESSION_LIT(s, "RESET");
    } else if (arg_is(&args[0], "settings") && nargs == 1) {
        settings_each_stat(settings_line, s);
        end(s);
    } else if (arg_is(&args[0], "items") && nargs == 1) {
        stats_items(s);
    } else if (arg_is(&args[0], "slabs") && nargs == 1) {
        stats_slabs(s);
    } else if (arg_is(&args[0], "sizes") && nargs == 1) {
        stat_line(s, "sizes_status", "%s", "disabled");
        end(s);
    } else if (arg_is(&args[0], "conns") && nargs == 1) {
        sessions_each(conn_line, s);
        end(s);
    } else {
        SESSION_LIT(s, "ERROR");
    }
}
