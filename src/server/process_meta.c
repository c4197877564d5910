/*
 * process_meta: see process_meta.h. Return flags are written in the order
 * the client gave them, then memcached's state flags: Z (a win was handed
 * out already), X (stale), W (this client won the right to recache).
 */
#include "server/park.h"
#include "server/process_meta.h"

#include <stdio.h>
#include <string.h>

#include "core/strnum.h"
#include "protocol/meta/meta.h"
#include "server/settings.h"
#include "server/session.h"
#include "server/stats.h"
#include "server/watch_log.h"
#include "storage/store.h"

/* A reply line: code, flags, "\r\n" (keys are at most 336 bytes encoded,
 * opaque 32, at most LIMIT_TOKENS_MAX flags of at most 21 digits). */
#define META_LINE_MAX 2048

struct line {
    char   buf[META_LINE_MAX];
    size_t n;
};

static void put(struct line *l, const char *s, size_t n)
{
    if (l->n + n <= sizeof(l->buf)) {
        memcpy(l->buf + l->n, s, n);
        l->n += n;
    }
}

static void put_flag_u64(struct line *l, char flag, uint64_t v)
{
    char num[24];
    size_t n = strnum_fmt_u64(num + 2, v);
    num[0] = ' ';
    num[1] = flag;
    put(l, num, n + 2);
}

static void put_num(struct line *l, uint64_t v)
{
    char num[24];
    size_t n = strnum_fmt_u64(num + 1, v);
    num[0] = ' ';
    put(l, num, n + 1);
}

static void put_flag_i64(struct line *l, char flag, int64_t v)
{
    char num[32];
    int n = snprintf(num, sizeof(num), " %c%lld", flag, (long long)v);
    put(l, num, (size_t)n);
}

#define EMIT_LIT(s, lit) session_append((s), lit, sizeof(lit) - 1)

static void emit_line(struct session *s, struct line *l)
{
    put(l, "\r\n", 2);
    session_append(s, l->buf, l->n);
}

/* The key as sent and, decoded, as stored. */
struct meta_key {
    struct text_token token;
    char  buf[TEXT_KEY_MAX];
    const char *p;
    size_t n;
};

static enum meta_error meta_key(const struct text_req *req, const struct meta_flags *f,
                                struct meta_key *k)
{
    k->token = req->key;
    if (f->base64) {
        int n = meta_base64_decode(req->key.p, req->key.n, k->buf, sizeof(k->buf));
        if (n <= 0)
            return META_ERR_KEY_DECODE;
        k->p = k->buf;
        k->n = (size_t)n;
        return META_ERR_NONE;
    }
    if (req->key.n > TEXT_KEY_MAX)
        return META_ERR_FORMAT;
    k->p = req->key.p;
    k->n = req->key.n;
    return META_ERR_NONE;
}

void meta_ms_refused(const struct text_req *req)
{
    struct meta_flags f;
    struct meta_key k;

    if (req->nargs < req->meta_flags_at)
        return;
    memset(&f, 0, sizeof(f));
    if (meta_parse(META_MS, req->args + req->meta_flags_at,
                   req->nargs - req->meta_flags_at, &f) == META_ERR_NONE &&
        meta_key(req, &f, &k) == META_ERR_NONE)
        store_unlink_refused(k.p, k.n);
}

/* k, O and b: the flags every meta reply may carry. */
static bool put_common(struct line *l, const struct meta_flags *f,
                       const struct meta_key *k, char flag)
{
    switch (flag) {
    case 'k':
        put(l, " k", 2);
        put(l, k->token.p, k->token.n);
        if (f->base64)
            put(l, " b", 2);
        return true;
    case 'O':
        put(l, " O", 2);
        put(l, f->opaque.p, f->opaque.n);
        return true;
    default:
        return false;
    }
}

static int64_t ttl_left(rel_time_t exptime)
{
    rel_time_t now = clock_now();
    if (exptime == 0)
        return -1;
    return exptime > now ? (int64_t)(exptime - now) : 0;
}

static rel_time_t meta_exptime(int64_t ttl)
{
    return clock_exptime(ttl);
}

/* ---- mg ---- */

struct mg_ctx {
    struct session          *s;
    const struct meta_flags *f;
    const struct meta_key   *k;
    unsigned                 cls;   /* the size class of the item hit */
};

/* Under the shard lock: the whole reply goes out at once. */
static void mg_emit(const struct store_item *it, void *arg)
{
    struct mg_ctx *m = arg;
    const struct meta_flags *f = m->f;
    struct line l = { .n = 0 };
    rel_time_t now = clock_now();
    /* C<cas>: the client holds this version already, no value (1.6.45) */
    bool value = f->value && !(meta_has(f, 'C') && it->cas == f->cas_cmp);
    const char *bytes = it->value;

    m->cls = stats_class_of(it);
    if (value && it->flash != NULL && park_value(m->s, it, &bytes) != PARK_SERVE)
        return;   /* waits, or a miss (park_found) */
    if (value) {
        put(&l, "VA", 2);
        put_num(&l, it->nvalue);
    } else {
        put(&l, "HD", 2);
    }
    for (uint32_t i = 0; i < f->ntok; i++) {
        char flag = f->tok[i].p[0];
        if (put_common(&l, f, m->k, flag))
            continue;
        switch (flag) {
        case 'c': put_flag_u64(&l, 'c', it->cas); break;
        case 'f': put_flag_u64(&l, 'f', it->flags); break;
        case 'h': put_flag_u64(&l, 'h', it->fetched ? 1 : 0); break;
        case 'l': put_flag_u64(&l, 'l', now > it->atime ? now - it->atime : 0); break;
        case 's': put_flag_u64(&l, 's', it->nvalue); break;
        case 't': put_flag_i64(&l, 't', ttl_left(it->exptime)); break;
        default: break;
        }
    }
    if (it->token_sent)
        put(&l, " Z", 2);
    if (it->stale)
        put(&l, " X", 2);
    if (it->win)
        put(&l, " W", 2);
    put(&l, "\r\n", 2);
    if (session_reserve(m->s, l.n + (value ? it->nvalue + 2 : 0)) == NULL)
        return;
    session_append(m->s, l.buf, l.n);
    if (value) {
        session_append(m->s, bytes, it->nvalue);
        EMIT_LIT(m->s, "\r\n");
    }
}

static void exec_mg(struct session *s, const struct meta_flags *f, const struct meta_key *k)
{
    struct thread_stats *ts = s->stats;
    struct store_read rd = {
        .key = k->p, .nkey = k->n,
        .touch = meta_has(f, 'T'),
        .exptime = meta_exptime(f->ttl),
        .vivify = meta_has(f, 'N'),
        .viv_exptime = meta_exptime(f->vivify_ttl),
        .recache = f->recache,
        .no_bump = f->no_bump,
        .tokens = true,
        .new_cas = f->new_cas,
    };
    struct mg_ctx m = { s, f, k, 0 };
    enum store_found found = store_read(&rd, mg_emit, &m);

    if (s->parked)
        return;
    found = park_found(s, found);
    park_end(s);
    /* memcached applies T to an item it has: an mg T miss is a get miss */
    stats_get(ts, rd.touch && found == STORE_FOUND, found, m.cls);
    if (found == STORE_FOUND)
        return;
    if (!f->quiet) {
        /* memcached 1.6 echoes the key and opaque flags on a miss too */
        struct line l = { .n = 0 };
        put(&l, "EN", 2);
        for (uint32_t i = 0; i < f->ntok; i++)
            put_common(&l, f, k, f->tok[i].p[0]);
        emit_line(s, &l);
    }
}

/* ---- ms ---- */

static void exec_ms(struct session *s, const struct text_req *req, const struct meta_flags *f,
                  const struct meta_key *k)
{
    struct thread_stats *ts = s->stats;
    bool has_cas = meta_has(f, 'C');
    struct store_write wr = {
        .key = k->p, .nkey = k->n, .flags = f->client_flags,
        .exptime = meta_has(f, 'T') ? meta_exptime(f->ttl) : 0,
        .value = req->data, .nvalue = req->ndata,
        .cas = has_cas ? f->cas_cmp : 0,
        .invalidate = f->invalidate,
        .vivify = meta_has(f, 'N'),
        .viv_exptime = meta_exptime(f->vivify_ttl),
        .new_cas = f->new_cas,
    };
    enum store_mode mode;
    enum store_status st;
    struct store_result res;
    struct line l = { .n = 0 };

    switch (f->mode) {
    case 'E': mode = STORE_ADD; break;
    case 'A': mode = STORE_APPEND; break;
    case 'P': mode = STORE_PREPEND; break;
    case 'R': mode = has_cas ? STORE_CAS : STORE_REPLACE; break;
    default:  mode = has_cas ? STORE_CAS : STORE_SET; break;
    }
    wr.mode = mode;
    st = store_write(&wr, &res);
    stats_store(ts, &wr, st, &res);
    watch_store(wr.key, wr.nkey, st, mode, wr.exptime, wr.nvalue, wr.flags);
    /* memcached's ms unlinks for every mode; an append's refusal here is
     * for the joined value, which memcached never allocates: kept */
    if ((st == STORE_TOO_LARGE || st == STORE_NO_MEMORY) &&
        mode != STORE_APPEND && mode != STORE_PREPEND)
        store_unlink_refused(wr.key, wr.nkey);
    switch (st) {
    case STORE_OK:
        if (f->quiet)
            return;
        put(&l, "HD", 2);
        break;
    case STORE_NOT_STORED: put(&l, "NS", 2); break;
    case STORE_EXISTS:     put(&l, "EX", 2); break;
    case STORE_NOT_FOUND:  put(&l, "NF", 2); break;
    case STORE_TOO_LARGE:
        if (mode == STORE_APPEND || mode == STORE_PREPEND) {
            put(&l, "NS", 2);
            break;
        }
        EMIT_LIT(s, "SERVER_ERROR object too large for cache\r\n");
        return;
    default:
        EMIT_LIT(s, "SERVER_ERROR out of memory storing object\r\n");
        return;
    }
    /* as 1.6.45: c is 0 and s the value's size when nothing was stored */
    for (uint32_t i = 0; i < f->ntok; i++) {
        char flag = f->tok[i].p[0];
        if (put_common(&l, f, k, flag))
            continue;
        if (flag == 'c')
            put_flag_u64(&l, 'c', st == STORE_OK ? res.cas : 0);
        else if (flag == 's')
            put_flag_u64(&l, 's', st == STORE_OK ? res.nvalue : req->ndata);
    }
    emit_line(s, &l);
}

/* ---- md ---- */

static void exec_md(struct session *s, const struct meta_flags *f, const struct meta_key *k)
{
    struct store_delete del = {
        .key = k->p, .nkey = k->n,
        .cas = meta_has(f, 'C') ? f->cas_cmp : 0,
        .invalidate = f->invalidate,
        .strip = f->strip,
        .touch = f->invalidate && meta_has(f, 'T'),
        .exptime = meta_exptime(f->ttl),
        .new_cas = f->new_cas,
    };
    struct store_result res;
    enum store_status st;
    struct line l = { .n = 0 };

    watch_log_del_cmd = "md";
    st = store_delete(&del, &res);
    watch_log_del_cmd = "delete";
    stats_delete(s->stats, st, &res);
    switch (st) {
    case STORE_OK:
        if (f->quiet)
            return;
        put(&l, "HD", 2);
        break;
    case STORE_EXISTS:
        put(&l, "EX", 2);
        break;
    case STORE_NOT_FOUND:
        put(&l, "NF", 2);
        break;
    default:
        EMIT_LIT(s, "SERVER_ERROR out of memory\r\n");
        return;
    }
    for (uint32_t i = 0; i < f->ntok; i++)
        put_common(&l, f, k, f->tok[i].p[0]);
    emit_line(s, &l);
}

/* ---- ma ---- */

static void read_exptime(const struct store_item *it, void *arg)
{
    *(rel_time_t *)arg = it->exptime;
}

static void exec_ma(struct session *s, const struct meta_flags *f, const struct meta_key *k)
{
    struct thread_stats *ts = s->stats;
    bool incr = f->mode == 'I';
    struct store_arith ar = {
        .key = k->p, .nkey = k->n, .incr = incr, .delta = f->delta,
        .cas = meta_has(f, 'C') ? f->cas_cmp : 0,
        .vivify = meta_has(f, 'N'),
        .initial = f->initial,
        .viv_exptime = meta_exptime(f->vivify_ttl),
        .touch = meta_has(f, 'T'),
        .exptime = meta_exptime(f->ttl),
        .new_cas = f->new_cas,
    };
    struct store_result res;
    enum store_status st;
    struct line l = { .n = 0 };
    char num[24];
    size_t nnum;
    rel_time_t exptime = 0;

    if (meta_has(f, 'C') && f->cas_cmp == 0)
        ar.cas = UINT64_MAX;   /* C0 can match nothing */
    st = store_arith(&ar, &res);
    stats_lookup(ts, res.found);
    if (st == STORE_OK || st == STORE_NOT_FOUND)
        stats_arith(ts, incr, st == STORE_OK && !res.created, res.met_class);
    switch (st) {
    case STORE_OK:
        if (f->quiet)
            return;
        break;
    case STORE_NOT_FOUND: put(&l, "NF", 2); goto flags;
    case STORE_EXISTS:    put(&l, "EX", 2); goto flags;
    case STORE_NON_NUMERIC:
        EMIT_LIT(s, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
        return;
    default:
        EMIT_LIT(s, "SERVER_ERROR out of memory\r\n");
        return;
    }
    nnum = strnum_fmt_u64(num, res.number);
    if (f->value) {
        put(&l, "VA", 2);
        put_num(&l, nnum);
    } else {
        put(&l, "HD", 2);
    }
    if (meta_has(f, 't')) {
        if (ar.touch)
            exptime = ar.exptime;
        else if (res.created)
            exptime = ar.viv_exptime;
        else
            store_read(&(struct store_read){ .key = k->p, .nkey = k->n, .no_bump = true },
                       read_exptime, &exptime);
    }
    for (uint32_t i = 0; i < f->ntok; i++) {
        char flag = f->tok[i].p[0];
        if (put_common(&l, f, k, flag))
            continue;
        if (flag == 'c')
            put_flag_u64(&l, 'c', res.cas);
        else if (flag == 't')
            put_flag_i64(&l, 't', ttl_left(exptime));
    }
    emit_line(s, &l);
    if (f->value) {
        session_append(s, num, nnum);
        EMIT_LIT(s, "\r\n");
    }
    return;
flags:
    for (uint32_t i = 0; i < f->ntok; i++)
        put_common(&l, f, k, f->tok[i].p[0]);
    emit_line(s, &l);
}

/* ---- me ---- */

struct me_ctx {
    struct session        *s;
    const struct meta_key *k;
};

static void me_emit(const struct store_item *it, void *arg)
{
    struct me_ctx *m = arg;
    rel_time_t now = clock_now();
    char tail[160];
    int n;

    EMIT_LIT(m->s, "ME ");
    session_append(m->s, m->k->token.p, m->k->token.n);
    n = snprintf(tail, sizeof(tail), " exp=%lld la=%llu cas=%llu fetch=%s cls=1 size=%zu\r\n",
                 (long long)ttl_left(it->exptime),
                 (unsigned long long)(now > it->atime ? now - it->atime : 0),
                 (unsigned long long)it->cas, it->fetched ? "yes" : "no", it->size);
    session_append(m->s, tail, (size_t)n);
}

static void exec_me(struct session *s, const struct meta_key *k)
{
    struct store_read rd = { .key = k->p, .nkey = k->n, .no_bump = true };
    struct me_ctx m = { s, k };
    enum store_found found = store_read(&rd, me_emit, &m);

    stats_lookup(s->stats, found);
    if (found != STORE_FOUND)
        EMIT_LIT(s, "EN\r\n");
}

void process_meta(struct session *s, const struct text_req *req)
{
    static const enum meta_cmd cmds[TEXT_CMD_COUNT] = {
        [TEXT_CMD_MG] = META_MG, [TEXT_CMD_MS] = META_MS,
        [TEXT_CMD_MD] = META_MD, [TEXT_CMD_MA] = META_MA,
    };
    struct meta_flags f;
    struct meta_key k;
    enum meta_error e;

    if (req->cmd == TEXT_CMD_MN) {
        EMIT_LIT(s, "MN\r\n");
        return;
    }
    if (req->cmd == TEXT_CMD_ME) {
        memset(&f, 0, sizeof(f));
        e = meta_key(req, &f, &k);
        if (e == META_ERR_NONE)
            exec_me(s, &k);
        else
            session_append(s, meta_error_string(e), strlen(meta_error_string(e)));
        if (e != META_ERR_NONE)
            EMIT_LIT(s, "\r\n");
        return;
    }
    e = meta_parse(cmds[req->cmd], req->args + req->meta_flags_at,
                   req->nargs - req->meta_flags_at, &f);
    if (e == META_ERR_NONE)
        e = meta_key(req, &f, &k);
    if (e != META_ERR_NONE) {
        const char *msg = meta_error_string(e);
        session_append(s, msg, strlen(msg));
        EMIT_LIT(s, "\r\n");
        return;
    }
    switch (req->cmd) {
    case TEXT_CMD_MG: exec_mg(s, &f, &k); break;
    case TEXT_CMD_MS: exec_ms(s, req, &f, &k); break;
    case TEXT_CMD_MD: exec_md(s, &f, &k); break;
    default:          exec_ma(s, &f, &k); break;
    }
}
