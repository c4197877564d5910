/*
 * runtime_cmd: memcached's run-time tuning commands, answered as memcached
 * 1.6.45 answers them with the feature off (see runtime_cmd.h). The checks
 * are memcached's, in its order, so a malformed request gets its reply.
 */
#include "server/runtime_cmd.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/strnum.h"
#include "protocol/text/parse.h"
#include "server/dump.h"
#include "server/session.h"
#include "server/settings.h"
#include "server/watch.h"
#include "storage/crawl.h"
#include "storage/flash_tier.h"

/* memcached's safe_strtod on a token (at most 31 bytes, as its mc_toktod);
 * strtod because a decimal fraction is what these knobs take. */
static bool tok_double(const struct text_token *t, double *out)
{
    char buf[32], *end;

    if (t->n == 0 || t->n >= sizeof(buf))
        return false;
    memcpy(buf, t->p, t->n);
    buf[t->n] = '\0';
    errno = 0;
    *out = strtod(buf, &end);
    return errno != ERANGE && end != buf && *end == '\0';
}

static bool tok_u32(const struct text_token *t, uint32_t *out)
{
    return strnum_u32(t->p, t->n, out);
}

enum proc_step runtime_lru_crawler(struct session *s, const struct text_token *a,
                                   uint32_t n)
{
    uint32_t v;

    if (n == 2 && (text_token_is(&a[0], "metadump") || text_token_is(&a[0], "mgdump"))) {
        if (s->resume == 0 && !crawl_enabled()) {
            SESSION_LIT(s, "CLIENT_ERROR lru crawler disabled");
            return PROC_STEP_DONE;
        }
        return dump_keys(s, text_token_is(&a[0], "mgdump"), &a[1]);
    }
    if (n == 2 && text_token_is(&a[0], "crawl")) {
        if (!crawl_enabled())
            SESSION_LIT(s, "CLIENT_ERROR lru crawler disabled");
        else if (!dump_classes_valid(&a[1]))
            SESSION_LIT(s, "BADCLASS invalid class id");
        else if (crawl_kick() == -1)
            SESSION_LIT(s, "BUSY currently processing crawler request");
        else
            SESSION_LIT(s, "OK");   /* (or disabled just now: nothing to do) */
    } else if (n == 2 && text_token_is(&a[0], "tocrawl")) {
        if (!tok_u32(&a[1], &v)) {
            SESSION_LIT(s, "CLIENT_ERROR bad command line format");
        } else {
            crawl_set_tocrawl(v);
            SESSION_LIT(s, "OK");
        }
    } else if (n == 2 && text_token_is(&a[0], "sleep")) {
        if (!tok_u32(&a[1], &v)) {
            SESSION_LIT(s, "CLIENT_ERROR bad command line format");
        } else if (v > CRAWL_SLEEP_MAX_US) {
            SESSION_LIT(s, "CLIENT_ERROR sleep must be one second or less");
        } else {
            crawl_set_sleep(v);
            SESSION_LIT(s, "OK");
        }
    } else if (n == 1 && text_token_is(&a[0], "enable")) {
        if (crawl_enable() == 0)
            SESSION_LIT(s, "OK");
        else
            SESSION_LIT(s, "ERROR failed to start lru crawler thread");
    } else if (n == 1 && text_token_is(&a[0], "disable")) {
        crawl_disable();   /* stopped already is fine, as memcached says */
        SESSION_LIT(s, "OK");
    } else {
        SESSION_LIT(s, "ERROR");
    }
    return PROC_STEP_DONE;
}

void runtime_watch(struct session *s, const struct text_token *a, uint32_t n)
{
    static const struct { const char *name; unsigned kind; } kinds[] = {
        { "fetchers", WATCH_FETCHERS }, { "mutations", WATCH_MUTATIONS },
        { "evictions", WATCH_EVICTIONS }, { "connevents", WATCH_CONNEVENTS },
        { "deletions", WATCH_DELETIONS }, { "sysevents", WATCH_SYSEVENTS },
        { "rawcmds", WATCH_RAWCMDS },
        /* the proxy's streams: memcached 1.6.45 built without its proxy
         * (Debian's is) accepts them and never writes to them; no proxy
         * here either */
        { "proxyreqs", 0 }, { "proxyevents", 0 }, { "proxyuser", 0 },
    };
    unsigned mask = n == 0 ? WATCH_FETCHERS : 0;

    if (!settings.watch_enabled) {
        SESSION_LIT(s, "CLIENT_ERROR watch commands not allowed");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < sizeof(kinds) / sizeof(kinds[0]) && !text_token_is(&a[i], kinds[k].name))
            k++;
        if (k == sizeof(kinds) / sizeof(kinds[0])) {
            SESSION_LIT(s, "ERROR");
            return;
        }
        mask |= kinds[k].kind;
    }
    if (s->watch != NULL || s->wake_fd < 0 ||
        (s->watch = watch_add(mask, s->wake_fd)) == NULL) {
        SESSION_LIT(s, "WATCHER_TOO_MANY log watcher limit reached");
        return;
    }
    SESSION_LIT(s, "OK");
}

void runtime_lru(struct session *s, const struct text_token *a, uint32_t n)
{
    uint32_t hot, warm;
    double hot_factor, warm_factor;
    int32_t ttl;

    if (n >= 5 && text_token_is(&a[0], "tune")) {
        if (!tok_u32(&a[1], &hot) || !tok_u32(&a[2], &warm) ||
            !tok_double(&a[3], &hot_factor) || !tok_double(&a[4], &warm_factor))
            SESSION_LIT(s, "ERROR");
        else if ((uint64_t)hot + warm > 80)
            SESSION_LIT(s, "ERROR hot and warm pcts must not exceed 80");
        else if (hot_factor <= 0 || warm_factor <= 0)
            SESSION_LIT(s, "ERROR hot/warm age factors must be greater than 0");
        else
            SESSION_LIT(s, "OK");
    } else if (n >= 2 && text_token_is(&a[0], "mode")) {
        if (text_token_is(&a[1], "flat") || text_token_is(&a[1], "segmented"))
            SESSION_LIT(s, "OK");
        else
            SESSION_LIT(s, "ERROR");
    } else if (n >= 2 && text_token_is(&a[0], "temp_ttl")) {
        if (strnum_i32(a[1].p, a[1].n, &ttl))
            SESSION_LIT(s, "OK");
        else
            SESSION_LIT(s, "ERROR");
    } else {
        SESSION_LIT(s, "ERROR");
    }
}

static void slabs_automove(struct session *s, const struct text_token *a, uint32_t n)
{
    uint32_t level;
    double ratio;

    if (text_token_is(&a[1], "ratio") || text_token_is(&a[1], "freeratio")) {
        if (n < 3 || !tok_double(&a[2], &ratio)) {
            SESSION_LIT(s, "ERROR");
            return;
        }
    } else if (text_token_is(&a[1], "window")) {
        if (n < 3 || !tok_u32(&a[2], &level)) {
            SESSION_LIT(s, "CLIENT_ERROR bad command line format");
            return;
        }
        if (level < 3 || level > 1800) {
            SESSION_LIT(s, "CLIENT_ERROR automove window too low or too high");
            return;
        }
    } else {
        if (!tok_u32(&a[1], &level)) {
            SESSION_LIT(s, "CLIENT_ERROR bad command line format");
            return;
        }
        if (level > 2) {
            SESSION_LIT(s, "ERROR");
            return;
        }
    }
    SESSION_LIT(s, "OK");
}

void runtime_slabs(struct session *s, const struct text_token *a, uint32_t n)
{
    if (n == 3 && text_token_is(&a[0], "reassign"))
        /* memcached with -o no_slab_reassign: memory here is not split
         * into classes, so there is none to move between them */
        SESSION_LIT(s, "CLIENT_ERROR slab reassignment disabled");
    else if (n >= 2 && text_token_is(&a[0], "automove"))
        slabs_automove(s, a, n);
    else
        SESSION_LIT(s, "ERROR");
}

void runtime_extstore(struct session *s, const struct text_token *a, uint32_t n)
{
    static const char *const u32_knobs[] = {
        "item_size", "item_age", "low_ttl", "recache_rate", "compact_under",
        "drop_under", "max_sleep", "drop_unread",
    };
    uint32_t v, limit;
    double d;
    bool ok = false;

    if (n < 2) {
        ok = false;
    } else if (text_token_is(&a[0], "free_memchunks") && n > 2) {
        ok = tok_u32(&a[1], &v) && tok_u32(&a[2], &limit) && v < 64;
    } else if (text_token_is(&a[0], "max_frag")) {
        if ((ok = tok_double(&a[1], &d)))
            flash_tier_tune_frag(d);
    } else {
        for (size_t i = 0; i < sizeof(u32_knobs) / sizeof(u32_knobs[0]); i++)
            if (text_token_is(&a[0], u32_knobs[i]) && (ok = tok_u32(&a[1], &v)))
                flash_tier_tune(u32_knobs[i], v);   /* those the tier has */
    }
    if (ok)
        SESSION_LIT(s, "OK");
    else
        SESSION_LIT(s, "ERROR");
}
