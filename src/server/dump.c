/*
 * dump: key dumps in memcached 1.6.45's formats (see dump.h), walking the
 * store a step at a time (store_walk_step) so a dump of millions of keys
 * neither buffers them nor holds a lock for long.
 */
#include "server/dump.h"

#include <sodium.h>
#include <string.h>

#include "core/clock.h"
#include "core/strnum.h"
#include "core/uri.h"
#include "protocol/text/parse.h"
#include "server/session.h"
#include "server/settings.h"
#include "server/stats.h"
#include "storage/size_class.h"
#include "storage/store.h"

/* Items one step visits under a shard lock before the output is checked. */
#define DUMP_STEP_ITEMS       256
/* memcached's cap on a `stats cachedump` reply. */
#define DUMP_CACHEDUMP_MAX    (2u * 1024 * 1024)
/* The longest line one item makes: "key=" + a key URI-encoded (3 bytes a
 * byte) + the numbers. */
#define DUMP_LINE_MAX         (3 * STORE_KEY_MAX + 200)

struct dump_ctx {
    struct session *s;
    bool     mg;
    bool     all;
    uint64_t classes;       /* bit i: class i, when !all */
    uint64_t keys;
};

/* "all", "hash" (the same here: there is one walk), or a comma-separated
 * list of class ids; false if malformed, as memcached's BADCLASS. */
static bool parse_classes(const struct text_token *t, struct dump_ctx *d)
{
    const char *p = t->p, *end = t->p + t->n;

    if ((t->n == 3 && memcmp(p, "all", 3) == 0) || (t->n == 4 && memcmp(p, "hash", 4) == 0)) {
        d->all = true;
        return true;
    }
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        uint32_t id;
        if (!strnum_u32(p, (size_t)(stop - p), &id) || id == 0 || id >= SIZE_CLASS_MAX)
            return false;
        d->classes |= UINT64_C(1) << id;
        p = comma ? comma + 1 : end;
    }
    return d->classes != 0;
}

bool dump_classes_valid(const struct text_token *t)
{
    struct dump_ctx d = { 0 };
    return parse_classes(t, &d);
}

static bool is_plain_key(const char *k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] <= ' ' || (unsigned char)k[i] >= 0x7f)
            return false;
    return true;
}

static char *put_lit(char *p, const char *lit)
{
    size_t n = strlen(lit);
    memcpy(p, lit, n);
    return p + n;
}

/* lit, then v in decimal */
static char *put_u64(char *p, const char *lit, uint64_t v)
{
    p = put_lit(p, lit);
    return p + strnum_fmt_u64(p, v);
}

static unsigned item_class(const struct store_item *it)
{
    return size_class_of_item(it->nkey, it->nvalue, it->flags != 0);
}

/* metadump's line: key=%s exp=%ld la=%llu cas=%llu fetch=%s cls=%u
 * size=%lu flags=%u\n (times are Unix times; exp -1: never) */
static char *meta_line(char *p, const struct store_item *it, unsigned cls)
{
    time_t started = clock_started();

    p = uri_encode(put_lit(p, "key="), it->key, it->nkey);
    p = put_lit(p, " exp=");
    if (it->exptime == 0)
        p = put_lit(p, "-1");
    else
        p = put_u64(p, "", (uint64_t)started + it->exptime);
    p = put_u64(p, " la=", (uint64_t)started + it->atime);
    p = put_u64(p, " cas=", settings.use_cas ? it->cas : 0);
    p = put_lit(p, it->fetched ? " fetch=yes" : " fetch=no");
    p = put_u64(p, " cls=", cls);
    p = put_u64(p, " size=", size_class_item_total(it->nkey, it->nvalue, it->flags != 0));
    p = put_u64(p, " flags=", it->flags);
    return put_lit(p, " \n");
}

/* mgdump's line: "mg <key>\r\n", a key with spaces or control bytes in
 * base64 with the b flag (memcached's binary keys) */
static char *mg_line(char *p, const struct store_item *it)
{
    p = put_lit(p, "mg ");
    if (is_plain_key(it->key, it->nkey)) {
        memcpy(p, it->key, it->nkey);
        p += it->nkey;
    } else {
        sodium_bin2base64(p, sodium_base64_ENCODED_LEN(STORE_KEY_MAX,
                                                       sodium_base64_VARIANT_ORIGINAL),
                          (const unsigned char *)it->key, it->nkey,
                          sodium_base64_VARIANT_ORIGINAL);
        p += strlen(p);
        p = put_lit(p, " b");
    }
    return put_lit(p, "\r\n");
}

static void visit_dump(const struct store_item *it, void *arg)
{
    struct dump_ctx *d = arg;
    unsigned cls = item_class(it);
    char *p, *start;

    if (!d->all && !(d->classes & (UINT64_C(1) << cls)))
        return;
    if ((start = session_reserve(d->s, DUMP_LINE_MAX)) == NULL)
        return;
    p = d->mg ? mg_line(start, it) : meta_line(start, it, cls);
    session_commit(d->s, p);
    d->keys++;
}

enum proc_step dump_keys(struct session *s, bool mg, const struct text_token *classes)
{
    struct dump_ctx d = { .s = s, .mg = mg };
    struct store_cursor cur = { 0 };
    bool more = true;

    if (!settings.dump_enabled) {
        session_line(s, mg ? "ERROR key dump not allowed" : "ERROR metadump not allowed");
        return PROC_STEP_DONE;
    }
    if (!parse_classes(classes, &d)) {
        SESSION_LIT(s, "BADCLASS invalid class id");
        return PROC_STEP_DONE;
    }
    if (s->resume != 0) {
        cur = store_cursor_unpack(s->resume);
    } else {
        STAT_INCR(s->stats, dump_requests);
        SESSION_LIT(s, "OK");   /* memcached 1.6.45 starts a dump so */
    }
    while (more && !session_out_full(s) && !s->closing)
        more = store_walk_step(&cur, DUMP_STEP_ITEMS, visit_dump, &d);
    STAT_ADD(s->stats, dump_keys, d.keys);
    if (s->closing)
        return PROC_STEP_CLOSE;
    if (more) {
        s->resume = store_cursor_pack(&cur);
        return PROC_STEP_OUTPUT_FULL;
    }
    s->resume = 0;
    session_line(s, mg ? "EN" : "END");
    return PROC_STEP_DONE;
}

/* cachedump: "ITEM <key> [<bytes> b; <exptime> s]", a class's items up
 * to limit (0: all) and 2 MB; binary keys are left out, as memcached. */
struct cachedump_ctx {
    struct session *s;
    unsigned cls;
    uint32_t limit, shown;
    size_t   bytes;
    bool     full;
};

static void visit_cachedump(const struct store_item *it, void *arg)
{
    struct cachedump_ctx *c = arg;
    char *p, *start;

    if (c->full || (c->limit != 0 && c->shown >= c->limit) || item_class(it) != c->cls ||
        !is_plain_key(it->key, it->nkey))
        return;
    if ((start = session_reserve(c->s, DUMP_LINE_MAX)) == NULL)
        return;
    p = put_lit(start, "ITEM ");
    memcpy(p, it->key, it->nkey);
    p += it->nkey;
    p = put_u64(p, " [", it->nvalue);
    p = put_u64(p, " b; ", it->exptime ? (uint64_t)clock_started() + it->exptime : 0);
    p = put_lit(p, " s]\r\n");
    if (c->bytes + (size_t)(p - start) + 5 > DUMP_CACHEDUMP_MAX) {
        c->full = true;   /* not committed: the line is dropped */
        return;
    }
    c->bytes += (size_t)(p - start);
    session_commit(c->s, p);
    c->shown++;
}

void dump_cachedump(struct session *s, const struct text_token *args, uint32_t nargs)
{
    struct cachedump_ctx c = { .s = s };
    struct store_cursor cur = { 0 };
    uint32_t id;

    if (!settings.dump_enabled) {
        SESSION_LIT(s, "CLIENT_ERROR stats cachedump not allowed");
        return;
    }
    if (nargs < 3) {
        SESSION_LIT(s, "CLIENT_ERROR bad command line");
        return;
    }
    if (!strnum_u32(args[1].p, args[1].n, &id) ||
        !strnum_u32(args[2].p, args[2].n, &c.limit)) {
        SESSION_LIT(s, "CLIENT_ERROR bad command line format");
        return;
    }
    if (id >= SIZE_CLASS_MAX) {
        SESSION_LIT(s, "CLIENT_ERROR Illegal slab id");
        return;
    }
    c.cls = id;
    STAT_INCR(s->stats, dump_requests);
    while (!c.full && (c.limit == 0 || c.shown < c.limit) &&
           store_walk_step(&cur, DUMP_STEP_ITEMS, visit_cachedump, &c))
        ;
    STAT_ADD(s->stats, dump_keys, c.shown);
    SESSION_LIT(s, "END");
}
