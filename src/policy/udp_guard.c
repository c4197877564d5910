/*
 * udp_guard: see udp_guard.h. The validated-source table is set-associative
 * (UDP_GUARD_WAYS entries per set, the least recently validated one is
 * replaced), so it is bounded and a lookup touches one cache line or two;
 * sets are found with the keyed hash, so nobody can aim many addresses at
 * one set. Sets are guarded by striped mutexes: TCP accepts (writers) and
 * datagrams (readers) meet here from every worker.
 */
#include "policy/udp_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "policy/limits.h"

#define UDP_GUARD_WAYS    8
#define UDP_GUARD_STRIPES 64

struct bucket {
    uint64_t tokens;         /* bytes that may be sent now */
    uint64_t last_ms;        /* last refill */
};

struct src_entry {
    struct udp_src key;      /* family 0: free */
    uint64_t       validated_ms;
    struct bucket  tb;
};

struct heavy {
    struct udp_src src;
    uint64_t       count;
};

static struct udp_guard_config cfg;
static struct src_entry *table;
static size_t nsets;
static pthread_mutex_t stripes[UDP_GUARD_STRIPES];
static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bucket global_tb;

/* drop alerts */
static pthread_mutex_t alert_lock = PTHREAD_MUTEX_INITIALIZER;
static struct heavy top[LIMIT_UDP_ALERT_TOP];
static uint64_t window_start_ms, window_drops, last_alert_ms, drops_since_alert;
static bool alerted;

void udp_guard_defaults(struct udp_guard_config *c)
{
    c->window_s = LIMIT_UDP_WINDOW_DEFAULT;
    c->sources_max = LIMIT_UDP_SOURCES_DEFAULT;
    c->baf_percent = LIMIT_UDP_BAF_DEFAULT_PCT;
    c->src_rate = LIMIT_UDP_SRC_RATE_DEFAULT;
    c->src_burst = LIMIT_UDP_SRC_BURST_DEFAULT;
    c->global_rate = LIMIT_UDP_GLOBAL_RATE_DEFAULT;
    c->global_burst = LIMIT_UDP_GLOBAL_BURST_DEFAULT;
    c->alert_drops = LIMIT_UDP_ALERT_DROPS_DEFAULT;
}

int udp_guard_setup(const struct udp_guard_config *c)
{
    size_t want;

    cfg = *c;
    if (cfg.sources_max < LIMIT_UDP_SOURCES_MIN)
        cfg.sources_max = LIMIT_UDP_SOURCES_MIN;
    if (cfg.sources_max > LIMIT_UDP_SOURCES_MAX)
        cfg.sources_max = LIMIT_UDP_SOURCES_MAX;
    if (cfg.baf_percent > LIMIT_UDP_BAF_MAX_PCT)
        cfg.baf_percent = LIMIT_UDP_BAF_MAX_PCT;
    want = cfg.sources_max / UDP_GUARD_WAYS;
    for (nsets = 1; nsets < want; nsets <<= 1)
        ;
    table = calloc(nsets * UDP_GUARD_WAYS, sizeof(*table));
    if (table == NULL)
        return -1;
    for (int i = 0; i < UDP_GUARD_STRIPES; i++)
        pthread_mutex_init(&stripes[i], NULL);
    global_tb.tokens = cfg.global_burst;
    global_tb.last_ms = 0;
    memset(top, 0, sizeof(top));
    window_start_ms = window_drops = last_alert_ms = drops_since_alert = 0;
    alerted = false;
    return 0;
}

void udp_guard_teardown(void)
{
    if (table == NULL)
        return;
    for (int i = 0; i < UDP_GUARD_STRIPES; i++)
        pthread_mutex_destroy(&stripes[i]);
    free(table);
    table = NULL;
    nsets = 0;
}

bool udp_src_from_sockaddr(const struct sockaddr *sa, struct udp_src *out)
{
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET) {
        memcpy(out->addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        out->family = 4;
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            memcpy(out->addr, a->s6_addr + 12, 4);
            out->family = 4;
        } else {
            memcpy(out->addr, a->s6_addr, 16);
            out->family = 6;
        }
        return true;
    }
    return false;
}

void udp_src_format(const struct udp_src *s, char *out, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";

    if (s->family == 4)
        inet_ntop(AF_INET, s->addr, host, sizeof(host));
    else if (s->family == 6)
        inet_ntop(AF_INET6, s->addr, host, sizeof(host));
    snprintf(out, len, "%s", host);
}

static bool src_eq(const struct udp_src *a, const struct udp_src *b)
{
    return a->family == b->family &&
           memcmp(a->addr, b->addr, a->family == 4 ? 4 : 16) == 0;
}

static size_t set_of(const struct udp_src *s)
{
    return (size_t)hash_key(s, sizeof(*s)) & (nsets - 1);
}

/* Refill a bucket; rate 0 means unlimited. */
static void bucket_refill(struct bucket *b, uint64_t rate, uint64_t burst, uint64_t now_ms)
{
    uint64_t elapsed;

    if (now_ms <= b->last_ms) {
        return;
    }
    elapsed = now_ms - b->last_ms;
    b->last_ms = now_ms;
    /* elapsed * rate cannot overflow: rate <= 2^40 and elapsed is capped
     * to the time a full refill takes */
    if (rate == 0 || elapsed >= 1000 * (burst / rate + 1)) {
        b->tokens = burst;
        return;
    }
    b->tokens += rate * elapsed / 1000;
    if (b->tokens > burst)
        b->tokens = burst;
}

void udp_guard_note_peer(const struct sockaddr *sa, uint64_t now_ms)
{
    struct udp_src src;

    if (table != NULL && udp_src_from_sockaddr(sa, &src))
        udp_guard_validate(&src, now_ms);
}

void udp_guard_validate(const struct udp_src *s, uint64_t now_ms)
{
    size_t set, victim = 0;
    struct src_entry *e;
    pthread_mutex_t *lk;

    if (table == NULL || s->family == 0)
        return;
    set = set_of(s);
    e = &table[set * UDP_GUARD_WAYS];
    lk = &stripes[set % UDP_GUARD_STRIPES];
    pthread_mutex_lock(lk);
    for (size_t i = 0; i < UDP_GUARD_WAYS; i++) {
        if (e[i].key.family != 0 && src_eq(&e[i].key, s)) {
            e[i].validated_ms = now_ms;
            pthread_mutex_unlock(lk);
            return;
        }
        if (e[i].key.family == 0 ||
            (e[victim].key.family != 0 && e[i].validated_ms < e[victim].validated_ms))
            victim = i;
    }
    e[victim].key = *s;
    e[victim].validated_ms = now_ms;
    e[victim].tb.tokens = cfg.src_burst;
    e[victim].tb.last_ms = now_ms;
    pthread_mutex_unlock(lk);
}

static bool fresh(const struct src_entry *e, uint64_t now_ms)
{
    return now_ms <= e->validated_ms ||
           now_ms - e->validated_ms <= (uint64_t)cfg.window_s * 1000;
}

/* The entry for s if validated (caller holds its stripe), else NULL. */
static struct src_entry *lookup(const struct udp_src *s, uint64_t now_ms, pthread_mutex_t **lk)
{
    size_t set = set_of(s);
    struct src_entry *e = &table[set * UDP_GUARD_WAYS];

    *lk = &stripes[set % UDP_GUARD_STRIPES];
    pthread_mutex_lock(*lk);
    for (size_t i = 0; i < UDP_GUARD_WAYS; i++)
        if (e[i].key.family != 0 && src_eq(&e[i].key, s))
            return fresh(&e[i], now_ms) ? &e[i] : NULL;
    return NULL;
}

bool udp_guard_validated(const struct udp_src *s, uint64_t now_ms)
{
    pthread_mutex_t *lk;
    bool ok;

    if (table == NULL || s->family == 0)
        return false;
    ok = lookup(s, now_ms, &lk) != NULL;
    pthread_mutex_unlock(lk);
    return ok;
}

static size_t budget(size_t in_wire)
{
    /* in_wire < 2^17 (one datagram), baf <= 1000: no overflow */
    return in_wire * cfg.baf_percent / 100;
}

size_t udp_guard_reply_max(bool validated, size_t in_wire)
{
    if (validated)
        return LIMIT_UDP_REPLY_MAX;
    return budget(in_wire);
}

/* Take n tokens from the global bucket, and from e's if given. Caller
 * holds e's stripe. */
static bool spend(struct src_entry *e, size_t n, uint64_t now_ms)
{
    bool ok;

    if (e) {
        bucket_refill(&e->tb, cfg.src_rate, cfg.src_burst, now_ms);
        if (cfg.src_rate != 0 && e->tb.tokens < n)
            return false;
    }
    pthread_mutex_lock(&global_lock);
    bucket_refill(&global_tb, cfg.global_rate, cfg.global_burst, now_ms);
    ok = cfg.global_rate == 0 || global_tb.tokens >= n;
    if (ok && cfg.global_rate != 0)
        global_tb.tokens -= n;
    pthread_mutex_unlock(&global_lock);
    if (ok && e && cfg.src_rate != 0)
        e->tb.tokens -= n;
    return ok;
}

enum udp_action udp_guard_reply(const struct udp_src *src, bool validated,
                                size_t in_wire, size_t full_wire,
                                size_t short_wire, uint64_t now_ms)
{
    pthread_mutex_t *lk = NULL;
    struct src_entry *e = NULL;
    enum udp_action a;

    if (!validated) {
        size_t max = budget(in_wire);
        if (full_wire <= max)
            return spend(NULL, full_wire, now_ms) ? UDP_SEND : UDP_DROP_RATE;
        if (short_wire <= max && spend(NULL, short_wire, now_ms))
            return UDP_SHORT_AMPLIFICATION;
        return UDP_DROP_AMPLIFICATION;
    }
    if (table != NULL && src->family != 0)
        e = lookup(src, now_ms, &lk);
    if (full_wire == SIZE_MAX)
        a = short_wire != SIZE_MAX && spend(e, short_wire, now_ms) ?
            UDP_SHORT_TOO_LARGE : UDP_DROP_RATE;
    else if (spend(e, full_wire, now_ms))
        a = UDP_SEND;
    else if (short_wire != SIZE_MAX && spend(e, short_wire, now_ms))
        a = UDP_SHORT_RATE;
    else
        a = UDP_DROP_RATE;
    if (lk)
        pthread_mutex_unlock(lk);
    return a;
}

/* Space-Saving heavy hitters: a source not in the table replaces the
 * smallest entry and inherits its count (an overestimate, never an
 * underestimate, of its drops). */
static void heavy_add(const struct udp_src *src)
{
    size_t min = 0;

    for (size_t i = 0; i < LIMIT_UDP_ALERT_TOP; i++) {
        if (top[i].count > 0 && src_eq(&top[i].src, src)) {
            top[i].count++;
            return;
        }
        if (top[i].count < top[min].count)
            min = i;
    }
    top[min].src = *src;
    top[min].count++;
}

bool udp_guard_note_drop(const struct udp_src *src, uint64_t now_ms,
                         char *line, size_t len)
{
    bool report = false;

    pthread_mutex_lock(&alert_lock);
    /* Each UDP thread reads the clock before it takes this lock, so a
     * thread may arrive with a time older than the last alert's; unsigned
     * arithmetic would read that as "long ago" and alert twice. Time here
     * only moves forward. */
    if (now_ms < last_alert_ms)
        now_ms = last_alert_ms;
    if (now_ms < window_start_ms)
        now_ms = window_start_ms;
    if (src->family != 0)
        heavy_add(src);
    drops_since_alert++;
    if (now_ms - window_start_ms >= 1000) {
        window_start_ms = now_ms;
        window_drops = 0;
    }
    window_drops++;
    if (cfg.alert_drops > 0 && window_drops >= cfg.alert_drops &&
        (!alerted || now_ms - last_alert_ms >= LIMIT_UDP_ALERT_INTERVAL_MS)) {
        struct heavy sorted[LIMIT_UDP_ALERT_TOP];
        size_t n;
        int w;

        memcpy(sorted, top, sizeof(sorted));
        for (size_t i = 1; i < LIMIT_UDP_ALERT_TOP; i++)   /* insertion sort */
            for (size_t j = i; j > 0 && sorted[j].count > sorted[j - 1].count; j--) {
                struct heavy t = sorted[j];
                sorted[j] = sorted[j - 1];
                sorted[j - 1] = t;
            }
        w = snprintf(line, len, "possible reflection attempt: %llu UDP replies "
                     "dropped or refused (%llu in the last second); top sources:",
                     (unsigned long long)drops_since_alert,
                     (unsigned long long)window_drops);
        n = w < 0 ? 0 : (size_t)w;
        for (size_t i = 0; i < LIMIT_UDP_ALERT_TOP && sorted[i].count > 0 && n < len; i++) {
            char host[64];
            udp_src_format(&sorted[i].src, host, sizeof(host));
            w = snprintf(line + n, len - n, "%s %s (%llu)", i ? "," : "", host,
                         (unsigned long long)sorted[i].count);
            n += w < 0 ? 0 : (size_t)w;
        }
        memset(top, 0, sizeof(top));
        drops_since_alert = 0;
        last_alert_ms = now_ms;
        alerted = true;
        report = true;
    }
    pthread_mutex_unlock(&alert_lock);
    return report;
}
