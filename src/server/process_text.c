/*
 * process: text requests against the store, replies in memcached's exact
 * words. Statistics that describe the traffic are counted here, where the
 * outcome of each command is known.
 */
#include "server/process_text.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/strnum.h"
#include "policy/auth.h"
#include "policy/gate.h"
#include "server/process_meta.h"
#include "server/settings.h"
#include "server/stats_cmd.h"
#include "server/worker.h"
#include "storage/store.h"

#define VALUE_HEADER_MAX (sizeof("VALUE  4294967295 4294967295 18446744073709551615\r\n") + TEXT_KEY_MAX)

/* Per thread: every worker refreshes it from the settings on each call,
 * and a shared copy written by all of them was a data race (TSan). */
static _Thread_local struct text_limits text_limits;

const struct text_limits *process_text_limits(void)
{
    text_limits.value_max = settings.item_size_max;
    return &text_limits;
}

static void reply(struct conn *c, const char *s, size_t n)
{
    if (buf_append(&c->w->out, s, n) < 0)
        c->closing = true;
}

#define REPLY(c, lit) reply((c), lit "\r\n", sizeof(lit "\r\n") - 1)

static void reply_line(struct conn *c, const char *s)
{
    reply(c, s, strlen(s));
    reply(c, "\r\n", 2);
}

struct value_ctx {
    struct conn *c;
    bool         with_cas;
};

/* Called under the shard lock: copy the item into the reply at once. */
static void emit_value(const struct store_item *it, void *arg)
{
    struct value_ctx *vc = arg;
    struct buf *out = &vc->c->w->out;
    char *p;

    if (buf_reserve(out, VALUE_HEADER_MAX + it->nvalue + 2) < 0) {
        vc->c->closing = true;
        return;
    }
    p = out->data + out->wpos;
    memcpy(p, "VALUE ", 6);
    p += 6;
    memcpy(p, it->key, it->nkey);
    p += it->nkey;
    *p++ = ' ';
    p += strnum_fmt_u64(p, it->flags);
    *p++ = ' ';
    p += strnum_fmt_u64(p, it->nvalue);
    if (vc->with_cas) {
        *p++ = ' ';
        p += strnum_fmt_u64(p, settings.use_cas ? it->cas : 0);
    }
    *p++ = '\r';
    *p++ = '\n';
    memcpy(p, it->value, it->nvalue);
    p += it->nvalue;
    *p++ = '\r';
    *p++ = '\n';
    out->wpos = (size_t)(p - out->data);
}

static enum proc_result do_retrieval(struct conn *c, const struct text_req *req)
{
    struct thread_stats *ts = &c->w->stats;
    bool touch = req->cmd == TEXT_CMD_GAT || req->cmd == TEXT_CMD_GATS;
    struct value_ctx vc = {
        .c = c,
        .with_cas = req->cmd == TEXT_CMD_GETS || req->cmd == TEXT_CMD_GATS,
    };
    rel_time_t exptime = touch ? clock_exptime(req->exptime) : 0;
    struct text_token key;
    size_t pos = c->resume;

    while (text_next_key(req, &pos, &key)) {
        bool hit;
        STAT_INCR(ts, cmd_get);
        if (touch) {
            STAT_INCR(ts, cmd_touch);
            hit = store_get_touch(key.p, key.n, exptime, emit_value, &vc);
            if (hit)
                STAT_INCR(ts, touch_hits);
            else
                STAT_INCR(ts, touch_misses);
        } else {
            hit = store_get(key.p, key.n, emit_value, &vc);
            if (hit)
                STAT_INCR(ts, get_hits);
            else
                STAT_INCR(ts, get_misses);
        }
        if (c->closing)
            return PROC_CLOSE;
        if (buf_len(&c->w->out) >= LIMIT_OUTPUT_HIGH_WATER && !conn_flush(c)) {
            if (c->closing)
                return PROC_CLOSE;
            c->resume = pos;   /* the client must read first */
            return PROC_PAUSED;
        }
    }
    c->resume = 0;
    REPLY(c, "END");
    return PROC_DONE;
}

static const enum store_mode store_modes[TEXT_CMD_COUNT] = {
    [TEXT_CMD_SET] = STORE_SET, [TEXT_CMD_ADD] = STORE_ADD,
    [TEXT_CMD_REPLACE] = STORE_REPLACE, [TEXT_CMD_APPEND] = STORE_APPEND,
    [TEXT_CMD_PREPEND] = STORE_PREPEND, [TEXT_CMD_CAS] = STORE_CAS,
};

static void do_store(struct conn *c, const struct text_req *req)
{
    struct thread_stats *ts = &c->w->stats;
    enum store_status st;

    STAT_INCR(ts, cmd_set);
    st = store_put(store_modes[req->cmd], req->key.p, req->key.n, req->flags,
                   clock_exptime(req->exptime), req->data, req->ndata,
                   req->cas_unique, NULL);
    if (req->cmd == TEXT_CMD_CAS)
        stats_cas(ts, st == STORE_OK, st == STORE_EXISTS, st == STORE_NOT_FOUND);
    /* memcached: an append/prepend that cannot get memory is NOT_STORED */
    if ((req->cmd == TEXT_CMD_APPEND || req->cmd == TEXT_CMD_PREPEND) &&
        (st == STORE_TOO_LARGE || st == STORE_NO_MEMORY))
        st = STORE_NOT_STORED;
    if (st == STORE_TOO_LARGE) {
        STAT_INCR(ts, store_too_large);
        if (req->cmd == TEXT_CMD_SET)   /* memcached drops the stale value */
            store_delete(req->key.p, req->key.n);
    } else if (st == STORE_NO_MEMORY) {
        STAT_INCR(ts, store_no_memory);
    }
    if (req->noreply)
        return;
    switch (st) {
    case STORE_OK:         REPLY(c, "STORED"); break;
    case STORE_NOT_STORED: REPLY(c, "NOT_STORED"); break;
    case STORE_EXISTS:     REPLY(c, "EXISTS"); break;
    case STORE_NOT_FOUND:  REPLY(c, "NOT_FOUND"); break;
    case STORE_TOO_LARGE:  REPLY(c, "SERVER_ERROR object too large for cache"); break;
    default:               REPLY(c, "SERVER_ERROR out of memory storing object"); break;
    }
}

static void do_arith(struct conn *c, const struct text_req *req)
{
    struct thread_stats *ts = &c->w->stats;
    bool incr = req->cmd == TEXT_CMD_INCR;
    uint64_t result;
    enum store_status st = store_arith(req->key.p, req->key.n, incr, req->number,
                                       &result, NULL);

    if (st == STORE_OK || st == STORE_NOT_FOUND)
        stats_arith(ts, incr, st == STORE_OK);
    if (req->noreply)
        return;
    switch (st) {
    case STORE_OK: {
        char num[24];
        size_t n = strnum_fmt_u64(num, result);
        num[n++] = '\r';
        num[n++] = '\n';
        reply(c, num, n);
        break;
    }
    case STORE_NOT_FOUND:   REPLY(c, "NOT_FOUND"); break;
    case STORE_NON_NUMERIC: REPLY(c, "CLIENT_ERROR cannot increment or decrement non-numeric value"); break;
    default:                REPLY(c, "SERVER_ERROR out of memory"); break;
    }
}

static void do_touch(struct conn *c, const struct text_req *req)
{
    struct thread_stats *ts = &c->w->stats;
    enum store_status st = store_touch(req->key.p, req->key.n, clock_exptime(req->exptime));

    STAT_INCR(ts, cmd_touch);
    if (st == STORE_OK)
        STAT_INCR(ts, touch_hits);
    else
        STAT_INCR(ts, touch_misses);
    if (req->noreply)
        return;
    if (st == STORE_OK)
        REPLY(c, "TOUCHED");
    else
        REPLY(c, "NOT_FOUND");
}

static void do_delete(struct conn *c, const struct text_req *req)
{
    struct thread_stats *ts = &c->w->stats;
    enum store_status st = store_delete(req->key.p, req->key.n);

    if (st == STORE_OK)
        STAT_INCR(ts, delete_hits);
    else
        STAT_INCR(ts, delete_misses);
    if (req->noreply)
        return;
    if (st == STORE_OK)
        REPLY(c, "DELETED");
    else
        REPLY(c, "NOT_FOUND");
}

static void do_flush(struct conn *c, const struct text_req *req)
{
    if (!settings.flush_enabled) {
        if (!req->noreply)
            REPLY(c, "CLIENT_ERROR flush_all not allowed");
        return;
    }
    STAT_INCR(&c->w->stats, cmd_flush);
    store_flush(req->has_delay && req->exptime > 0 ? clock_exptime(req->exptime) : 0);
    if (!req->noreply)
        REPLY(c, "OK");
}

static void do_memlimit(struct conn *c, const struct text_req *req)
{
    const char *msg = "OK";

    if (req->number < LIMIT_MEMLIMIT_MIN_MB)
        msg = "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m";
    else if (req->number > 1000000000)
        msg = "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes";
    else if (store_set_mem_limit(req->number * 1024 * 1024) < 0)
        msg = "MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust";
    else
        settings.maxbytes = req->number * 1024 * 1024;
    if (!req->noreply)
        reply_line(c, msg);
}

static enum proc_result do_shutdown(struct conn *c, const struct text_req *req)
{
    if (!settings.shutdown_enabled) {
        REPLY(c, "ERROR: shutdown not enabled");
        return PROC_DONE;
    }
    if (req->nargs == 0) {
        server_request_shutdown(false);
        return PROC_CLOSE;
    }
    if (req->nargs == 1 && req->args[0].n == 8 && memcmp(req->args[0].p, "graceful", 8) == 0) {
        server_request_shutdown(true);
        return PROC_CLOSE;
    }
    REPLY(c, "CLIENT_ERROR invalid shutdown mode");
    return PROC_DONE;
}

static enum proc_result process_text(struct conn *c, const struct text_req *req)
{
    switch (req->cmd) {
    case TEXT_CMD_GET: case TEXT_CMD_GETS: case TEXT_CMD_GAT: case TEXT_CMD_GATS:
        return do_retrieval(c, req);
    case TEXT_CMD_SET: case TEXT_CMD_ADD: case TEXT_CMD_REPLACE:
    case TEXT_CMD_APPEND: case TEXT_CMD_PREPEND: case TEXT_CMD_CAS:
        do_store(c, req);
        break;
    case TEXT_CMD_INCR: case TEXT_CMD_DECR:
        do_arith(c, req);
        break;
    case TEXT_CMD_TOUCH:
        do_touch(c, req);
        break;
    case TEXT_CMD_DELETE:
        do_delete(c, req);
        break;
    case TEXT_CMD_FLUSH_ALL:
        do_flush(c, req);
        break;
    case TEXT_CMD_VERSION:
        REPLY(c, "VERSION " HC_VERSION_STRING);
        break;
    case TEXT_CMD_VERBOSITY:
        log_verbosity = req->number > 2 ? 2 : (int)req->number;
        if (!req->noreply)
            REPLY(c, "OK");
        break;
    case TEXT_CMD_QUIT:
        return PROC_CLOSE;
    case TEXT_CMD_SHUTDOWN:
        return do_shutdown(c, req);
    case TEXT_CMD_CACHE_MEMLIMIT:
        do_memlimit(c, req);
        break;
    case TEXT_CMD_STATS:
        stats_cmd(c, req->args, req->nargs);
        break;
    case TEXT_CMD_MG: case TEXT_CMD_MS: case TEXT_CMD_MD: case TEXT_CMD_MA:
    case TEXT_CMD_MN: case TEXT_CMD_ME:
        process_meta(c, req);
        break;
    default:
        REPLY(c, "ERROR");
        break;
    }
    return PROC_DONE;
}

static void process_text_error(struct conn *c, const struct text_req *req)
{
    if (req->error == TEXT_ERR_TOO_LARGE) {
        STAT_INCR(&c->w->stats, store_too_large);
        if (req->cmd == TEXT_CMD_SET)   /* as memcached: no stale value */
            store_delete(req->key.p, req->key.n);
    }
    if (req->error == TEXT_ERR_NONE || req->noreply)
        return;
    reply_line(c, text_error_string(req->error));
}

/* An ascii login (memcached's -Y): the data of a `set` is "user pass". */
static void do_login(struct conn *c, const struct text_req *req)
{
    struct thread_stats *ts = &c->w->stats;
    const char *sp = memchr(req->data, ' ', req->ndata);
    enum auth_verdict v;

    STAT_INCR(ts, auth_cmds);
    if (sp == NULL || sp == req->data) {
        REPLY(c, "CLIENT_ERROR bad authentication token format");
        return;
    }
    v = auth_check(&c->peer, req->data, (size_t)(sp - req->data), sp + 1,
                   (size_t)(req->data + req->ndata - sp - 1));
    if (v == AUTH_GRANTED) {
        c->authenticated = true;
        REPLY(c, "STORED");   /* memcached's answer, noreply or not */
        return;
    }
    STAT_INCR(ts, auth_errors);
    if (v == AUTH_THROTTLED)
        STAT_INCR(&c->w->stats, auth_throttled);
    REPLY(c, "CLIENT_ERROR authentication failure");
}

/* Before login: only what policy/auth lets through, and small values. */
static enum conn_step process_text_unauth(struct conn *c, const char *data,
                                          size_t len, size_t *used)
{
    static const struct text_limits login_limits = { .value_max = LIMIT_AUTH_LOGIN_MAX };
    struct text_req req;
    enum text_parse_status st = text_parse(data, len, &login_limits, &req);

    *used = 0;
    if (st == TEXT_PARSE_NEED_MORE) {
        c->need = req.need;
        return CONN_STEP_NEED_MORE;
    }
    if (st == TEXT_PARSE_ERROR) {
        if (req.close || req.error == TEXT_ERR_TOO_LARGE) {
            REPLY(c, "CLIENT_ERROR unauthenticated");
            return CONN_STEP_CLOSE;
        }
        REPLY(c, "CLIENT_ERROR unauthenticated");
        *used = req.consumed;
        c->swallow = req.swallow;
        return CONN_STEP_DONE;
    }
    *used = req.consumed;
    switch (gate_check(text_cmd_attrs(req.cmd), false, false)) {
    case GATE_SERVE:
        return process_text(c, &req) == PROC_CLOSE ? CONN_STEP_CLOSE : CONN_STEP_DONE;
    case GATE_LOGIN:
        do_login(c, &req);
        break;
    default:
        REPLY(c, "CLIENT_ERROR unauthenticated");
        break;
    }
    return CONN_STEP_DONE;
}

/* ---- read-ahead ----
 *
 * A pipeline arrives in one read, and a round of the event loop reads
 * many connections before running any (conn.c). process_text_ahead parses
 * the key requests at the start of a connection's bytes before any runs
 * and names their keys to the store (store_prefetch); once every
 * connection of the round is parsed, process_text_ahead_run starts loading
 * the items, so the cache misses of all these lookups overlap. The parsed
 * requests are kept, and process_text_step takes each one from here
 * instead of parsing it again. Only the key commands take part; a
 * connection's read-ahead stops at its first other request, error or
 * incomplete one, and the rest is parsed one by one as before. Per thread
 * (worker); process_text_ahead_clear before the parsed bytes change. */
#define TEXT_AHEAD_MAX  64
#define TEXT_AHEAD_ROOM 16   /* free entries for another connection to join */

struct text_ahead {
    const char     *at[TEXT_AHEAD_MAX];   /* where each request starts */
    struct text_req req[TEXT_AHEAD_MAX];
    int             n, next;
};

static _Thread_local struct text_ahead ahead;

static bool ahead_command(enum text_cmd cmd)
{
    switch (cmd) {
    case TEXT_CMD_GET: case TEXT_CMD_GETS: case TEXT_CMD_GAT: case TEXT_CMD_GATS:
    case TEXT_CMD_SET: case TEXT_CMD_ADD: case TEXT_CMD_REPLACE:
    case TEXT_CMD_APPEND: case TEXT_CMD_PREPEND: case TEXT_CMD_CAS:
    case TEXT_CMD_INCR: case TEXT_CMD_DECR: case TEXT_CMD_TOUCH:
    case TEXT_CMD_DELETE:
        return true;
    default:
        return false;
    }
}

static void ahead_name_keys(const struct text_req *req)
{
    switch (req->cmd) {
    case TEXT_CMD_GET: case TEXT_CMD_GETS: case TEXT_CMD_GAT: case TEXT_CMD_GATS: {
        size_t pos = 0;
        struct text_token k;
        while (text_next_key(req, &pos, &k))
            store_prefetch(k.p, k.n, true);
        break;
    }
    default:
        store_prefetch(req->key.p, req->key.n, false);
        break;
    }
}

void process_text_ahead(struct conn *c, const char *data, size_t len)
{
    size_t off = 0;

    if (settings.protocol == PROTO_BINARY || !c->authenticated || c->swallow > 0)
        return;
    while (ahead.n < TEXT_AHEAD_MAX && off < len) {
        struct text_req *req = &ahead.req[ahead.n];
        if (text_parse(data + off, len - off, process_text_limits(), req) != TEXT_PARSE_OK ||
            !ahead_command(req->cmd))
            break;
        ahead.at[ahead.n++] = data + off;
        off += req->consumed;
        ahead_name_keys(req);   /* its bucket loads while we parse on */
    }
}

bool process_text_ahead_room(void)
{
    return TEXT_AHEAD_MAX - ahead.n >= TEXT_AHEAD_ROOM;
}

void process_text_ahead_run(void)
{
    if (ahead.n > 1)   /* one request: nothing to overlap */
        store_prefetch_items();
}

void process_text_ahead_clear(void)
{
    ahead.n = ahead.next = 0;
    store_prefetch_clear();
}

/* The request parsed ahead at data, if any (in order; a connection that
 * stopped early leaves its rest unused). */
static struct text_req *ahead_take(const char *data)
{
    for (int i = ahead.next; i < ahead.n; i++)
        if (ahead.at[i] == data) {
            ahead.next = i + 1;
            return &ahead.req[i];
        }
    return NULL;
}

enum conn_step process_text_step(struct conn *c, const char *data, size_t len,
                                 size_t *used)
{
    struct text_req parsed, *req;
    enum text_parse_status st;

    if (settings.protocol == PROTO_BINARY) {   /* -B binary */
        *used = 0;
        return CONN_STEP_CLOSE;
    }
    if (!c->authenticated)
        return process_text_unauth(c, data, len, used);
    if ((req = ahead_take(data)) != NULL) {
        st = TEXT_PARSE_OK;
    } else {
        req = &parsed;
        st = text_parse(data, len, process_text_limits(), req);
    }

    *used = 0;
    if (st == TEXT_PARSE_NEED_MORE) {
        c->need = req->need;
        return CONN_STEP_NEED_MORE;
    }
    if (st == TEXT_PARSE_ERROR) {
        process_text_error(c, req);
        if (req->close)
            return CONN_STEP_CLOSE;
        *used = req->consumed;
        c->swallow = req->swallow;
        return CONN_STEP_DONE;
    }
    enum proc_result r = process_text(c, req);
    if (r == PROC_PAUSED)
        return CONN_STEP_PAUSED;
    *used = req->consumed;
    return r == PROC_CLOSE ? CONN_STEP_CLOSE : CONN_STEP_DONE;
}
