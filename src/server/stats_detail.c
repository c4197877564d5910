/*
 * stats_detail: the per-prefix counters (see stats_detail.h) in a fixed
 * hash table of bounded size under one lock, taken only while counting is
 * on, as memcached's STATS_LOCK.
 */
#include "server/stats_detail.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/strnum.h"
#include "protocol/text/parse.h"
#include "server/session.h"
#include "server/settings.h"
#include "storage/store.h"

#define DETAIL_BUCKETS 1024   /* a power of two */

struct prefix {
    struct prefix *next;
    uint64_t gets, hits, sets, dels;
    size_t   len;
    char     name[];
};

static char delim = ':';
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct prefix *buckets[DETAIL_BUCKETS];
static unsigned nprefixes;

void stats_detail_setup(char delimiter)
{
    delim = delimiter;
}

void stats_detail_teardown(void)
{
    for (unsigned i = 0; i < DETAIL_BUCKETS; i++)
        while (buckets[i] != NULL) {
            struct prefix *p = buckets[i];
            buckets[i] = p->next;
            free(p);
        }
    nprefixes = 0;
}

/* The prefix's entry, made if there is room; NULL if none. Lock held. */
static struct prefix *do_find(const char *key, size_t len)
{
    struct prefix **head = &buckets[hash_key(key, len) & (DETAIL_BUCKETS - 1)], *p;

    for (p = *head; p != NULL; p = p->next)
        if (p->len == len && memcmp(p->name, key, len) == 0)
            return p;
    if (nprefixes == STATS_DETAIL_PREFIXES_MAX || (p = calloc(1, sizeof(*p) + len)) == NULL)
        return NULL;
    memcpy(p->name, key, len);
    p->len = len;
    p->next = *head;
    *head = p;
    nprefixes++;
    return p;
}

void stats_detail_record(const char *key, size_t nkey, bool get, bool hit, bool set,
                         bool del)
{
    const char *end = memchr(key, delim, nkey);
    struct prefix *p;

    if (end == NULL)
        return;
    pthread_mutex_lock(&lock);
    if ((p = do_find(key, (size_t)(end - key))) != NULL) {
        p->gets += get;
        p->hits += hit;
        p->sets += set;
        p->dels += del;
    }
    pthread_mutex_unlock(&lock);
}

/* "PREFIX <p> get <n> hit <n> set <n> del <n>" per prefix, then END. */
static void dump(struct session *s)
{
    pthread_mutex_lock(&lock);
    for (unsigned i = 0; i < DETAIL_BUCKETS && !s->closing; i++)
        for (const struct prefix *p = buckets[i]; p != NULL; p = p->next) {
            char *start = session_reserve(s, p->len + 128), *o = start;
            if (start == NULL)
                break;
            memcpy(o, "PREFIX ", 7);
            memcpy(o += 7, p->name, p->len);
            o += p->len;
            memcpy(o, " get ", 5);
            o += 5 + strnum_fmt_u64(o + 5, p->gets);
            memcpy(o, " hit ", 5);
            o += 5 + strnum_fmt_u64(o + 5, p->hits);
            memcpy(o, " set ", 5);
            o += 5 + strnum_fmt_u64(o + 5, p->sets);
            memcpy(o, " del ", 5);
            o += 5 + strnum_fmt_u64(o + 5, p->dels);
            memcpy(o, "\r\n", 2);
            session_commit(s, o + 2);
        }
    pthread_mutex_unlock(&lock);
    SESSION_LIT(s, "END");
}

void stats_detail_cmd(struct session *s, const struct text_token *args, uint32_t nargs)
{
    if (!settings.dump_enabled)
        SESSION_LIT(s, "CLIENT_ERROR stats detail not allowed");
    else if (nargs >= 2 && text_token_is(&args[1], "on")) {
        atomic_store(&settings.detail_enabled, true);
        SESSION_LIT(s, "OK");
    } else if (nargs >= 2 && text_token_is(&args[1], "off")) {
        atomic_store(&settings.detail_enabled, false);
        SESSION_LIT(s, "OK");
    } else if (nargs >= 2 && text_token_is(&args[1], "dump")) {
        dump(s);
    } else {
        SESSION_LIT(s, "CLIENT_ERROR usage: stats detail on|off|dump");
    }
}
