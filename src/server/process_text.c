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
#include "policy/limits.h"
#include "policy/gate.h"
#include "server/process_meta.h"
#include "server/runtime_cmd.h"
#include "server/settings.h"
#include "server/stats_cmd.h"
#include "server/control.h"
#include "server/park.h"
#include "server/session.h"
#include "server/stats.h"
#include "server/watch_log.h"
#include "server/stats_detail.h"
#include "server/trace.h"
#include "storage/store.h"

#define REPLY(s, lit) SESSION_LIT(s, lit)

#define VALUE_HEADER_MAX (sizeof("VALUE  4294967295 4294967295 18446744073709551615\r\n") + TEXT_KEY_MAX)

/* Per thread: every worker refreshes it from the settings on each call,
 * and a shared copy written by all of them was a data race (TSan). */
static _Thread_local struct text_limits text_limits;

static const struct text_limits *text_limits_now(void)
{
    text_limits.value_max = settings.item_size_max;
    return &text_limits;
}

struct value_ctx {
    struct session *s;
    bool            with_cas;
    unsigned        cls;        /* the size class of the item hit */
};

/* Called under the shard lock: copy the item into the reply at once (a
 * value on flash once it is read: park.h). */
static void emit_value(const struct store_item *it, void *arg)
{
    struct value_ctx *vc = arg;
    const char *value = it->value;
    char *p;

    vc->cls = stats_class_of(it);
    if (it->flash != NULL && park_value(vc->s, it, &value) != PARK_SERVE)
        return;
    p = session_reserve(vc->s, VALUE_HEADER_MAX + it->nvalue + 2);
    if (p == NULL)
        return;
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
    memcpy(p, value, it->nvalue);
    p += it->nvalue;
    *p++ = '\r';
    *p++ = '\n';
    session_commit(vc->s, p);
}

static enum proc_step exec_retrieval(struct session *s, const struct text_req *req)
{
    struct thread_stats *ts = s->stats;
    bool touch = req->cmd == TEXT_CMD_GAT || req->cmd == TEXT_CMD_GATS;
    struct value_ctx vc = {
        .s = s,
        .with_cas = req->cmd == TEXT_CMD_GETS || req->cmd == TEXT_CMD_GATS,
    };
    rel_time_t exptime = touch ? clock_exptime(req->exptime) : 0;
    struct text_token key;
    size_t pos = s->resume;

    for (size_t at = pos; text_next_key(req, &pos, &key); at = pos) {
        struct store_read rd = { .key = key.p, .nkey = key.n, .touch = touch,
                                 .exptime = exptime };
        enum store_found found = store_read(&rd, emit_value, &vc);
        if (s->parked) {   /* this key again once its value is read */
            s->resume = at;
            for (size_t p = pos; text_next_key(req, &p, &key);)
                park_ahead(s, key.p, key.n);   /* the next keys' reads too */
            return PROC_STEP_PARKED;
        }
        found = park_found(s, found);
        stats_get(ts, touch, found, vc.cls);
        stats_detail_get(key.p, key.n, found == STORE_FOUND);
        if (s->closing)
            return PROC_STEP_CLOSE;
        if (session_out_full(s)) {
            s->resume = pos;   /* the transport sends what is there first */
            return PROC_STEP_OUTPUT_FULL;
        }
    }
    s->resume = 0;
    park_end(s);
    if (!req->partial)   /* a piece of a longer line: more keys follow */
        REPLY(s, "END");
    return PROC_STEP_DONE;
}

static const char udp_refused[] = "CLIENT_ERROR not allowed over UDP\r\n";

static const enum store_mode store_modes[TEXT_CMD_COUNT] = {
    [TEXT_CMD_SET] = STORE_SET, [TEXT_CMD_ADD] = STORE_ADD,
    [TEXT_CMD_REPLACE] = STORE_REPLACE, [TEXT_CMD_APPEND] = STORE_APPEND,
    [TEXT_CMD_PREPEND] = STORE_PREPEND, [TEXT_CMD_CAS] = STORE_CAS,
};

/* memcached's reply to each write outcome, with its "\r\n". */
#define STORE_REPLY(lit) { lit "\r\n", sizeof(lit "\r\n") - 1 }
static const struct { const char *line; size_t n; } store_replies[] = {
    [STORE_OK]          = STORE_REPLY("STORED"),
    [STORE_NOT_STORED]  = STORE_REPLY("NOT_STORED"),
    [STORE_EXISTS]      = STORE_REPLY("EXISTS"),
    [STORE_NOT_FOUND]   = STORE_REPLY("NOT_FOUND"),
    [STORE_TOO_LARGE]   = STORE_REPLY("SERVER_ERROR object too large for cache"),
    [STORE_NO_MEMORY]   = STORE_REPLY("SERVER_ERROR out of memory storing object"),
    [STORE_NON_NUMERIC] = STORE_REPLY("SERVER_ERROR out of memory storing object"),
};
#undef STORE_REPLY

static void exec_store(struct session *s, const struct text_req *req)
{
    struct thread_stats *ts = s->stats;
    struct store_write wr = {
        .mode = store_modes[req->cmd], .key = req->key.p, .nkey = req->key.n,
        .flags = req->flags, .exptime = clock_exptime(req->exptime),
        .value = req->data, .nvalue = req->ndata, .cas = req->cas_unique,
    };
    struct store_result res;
    enum store_status st;

    stats_detail_set(req->key.p, req->key.n);
    st = store_write(&wr, &res);
    stats_store(ts, &wr, st, &res);
    watch_store(wr.key, wr.nkey, st, wr.mode, wr.exptime, wr.nvalue, wr.flags);
    if ((st == STORE_TOO_LARGE || st == STORE_NO_MEMORY) && req->cmd == TEXT_CMD_SET)
        store_unlink_refused(req->key.p, req->key.n);
    /* memcached: an append/prepend that cannot get memory is NOT_STORED */
    if ((req->cmd == TEXT_CMD_APPEND || req->cmd == TEXT_CMD_PREPEND) &&
        (st == STORE_TOO_LARGE || st == STORE_NO_MEMORY))
        st = STORE_NOT_STORED;
    if (req->noreply) {
        if (log_verbosity > 1)
            trace_noreply = store_replies[st].line;
        return;
    }
    session_append(s, store_replies[st].line, store_replies[st].n);
}

static void exec_arith(struct session *s, const struct text_req *req)
{
    struct thread_stats *ts = s->stats;
    bool incr = req->cmd == TEXT_CMD_INCR;
    struct store_arith ar = { .key = req->key.p, .nkey = req->key.n, .incr = incr,
                              .delta = req->number };
    struct store_result res;
    enum store_status st = store_arith(&ar, &res);

    stats_lookup(ts, res.found);
    if (st == STORE_OK || st == STORE_NOT_FOUND)
        stats_arith(ts, incr, st == STORE_OK, res.met_class);
    if (req->noreply)
        return;
    switch (st) {
    case STORE_OK: {
        char num[24];
        size_t n = strnum_fmt_u64(num, res.number);
        num[n++] = '\r';
        num[n++] = '\n';
        session_append(s, num, n);
        break;
    }
    case STORE_NOT_FOUND:   REPLY(s, "NOT_FOUND"); break;
    case STORE_NON_NUMERIC: REPLY(s, "CLIENT_ERROR cannot increment or decrement non-numeric value"); break;
    default:                REPLY(s, "SERVER_ERROR out of memory"); break;
    }
}

static void exec_touch(struct session *s, const struct text_req *req)
{
    struct thread_stats *ts = s->stats;
    struct store_result res;
    enum store_status st = store_touch(req->key.p, req->key.n, clock_exptime(req->exptime),
                                       &res);

    stats_get(ts, true, res.found, res.met_class);
    if (req->noreply)
        return;
    if (st == STORE_OK)
        REPLY(s, "TOUCHED");
    else
        REPLY(s, "NOT_FOUND");
}

static void exec_delete(struct session *s, const struct text_req *req)
{
    struct thread_stats *ts = s->stats;
    struct store_result res;
    enum store_status st = store_delete(&(struct store_delete){ .key = req->key.p,
                                                                .nkey = req->key.n },
                                        &res);

    stats_delete(ts, st, &res);
    stats_detail_delete(req->key.p, req->key.n);
    if (req->noreply)
        return;
    if (st == STORE_OK)
        REPLY(s, "DELETED");
    else
        REPLY(s, "NOT_FOUND");
}

static void exec_flush(struct session *s, const struct text_req *req)
{
    if (!settings.flush_enabled) {
        if (!req->noreply)
            REPLY(s, "CLIENT_ERROR flush_all not allowed");
        return;
    }
    STAT_INCR(s->stats, cmd_flush);
    store_flush(req->has_delay && req->exptime > 0 ? clock_exptime(req->exptime) : 0);
    if (!req->noreply)
        REPLY(s, "OK");
    else if (log_verbosity > 1)
        trace_noreply = "OK";
}

static void exec_refresh_certs(struct session *s)
{
    char line[CONTROL_REPLY_MAX];

    session_line(s, control_refresh_certs(line, sizeof(line)));
}

static void exec_debugtime(struct session *s, const struct text_req *req)
{
    if (control_debugtime(req->args[0].p, req->args[0].n))
        REPLY(s, "OK");
    else
        REPLY(s, "ERROR");
}

static void exec_memlimit(struct session *s, const struct text_req *req)
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
        session_line(s, msg);
}

static enum proc_step exec_shutdown(struct session *s, const struct text_req *req)
{
    if (!settings.shutdown_enabled) {
        REPLY(s, "SERVER_ERROR: shutdown not enabled");   /* 1.6.45's words */
        return PROC_STEP_DONE;
    }
    if (req->nargs == 0) {
        control_request_shutdown(false);
        return PROC_STEP_CLOSE;
    }
    if (req->nargs == 1 && req->args[0].n == 8 && memcmp(req->args[0].p, "graceful", 8) == 0) {
        control_request_shutdown(true);
        return PROC_STEP_CLOSE;
    }
    REPLY(s, "CLIENT_ERROR invalid shutdown mode");
    return PROC_STEP_DONE;
}

static enum proc_step text_execute(struct session *s, const struct text_req *req)
{
    switch (req->cmd) {
    case TEXT_CMD_GET: case TEXT_CMD_GETS: case TEXT_CMD_GAT: case TEXT_CMD_GATS:
        return exec_retrieval(s, req);
    case TEXT_CMD_SET: case TEXT_CMD_ADD: case TEXT_CMD_REPLACE:
    case TEXT_CMD_APPEND: case TEXT_CMD_PREPEND: case TEXT_CMD_CAS:
        exec_store(s, req);
        break;
    case TEXT_CMD_INCR: case TEXT_CMD_DECR:
        exec_arith(s, req);
        break;
    case TEXT_CMD_TOUCH:
        exec_touch(s, req);
        break;
    case TEXT_CMD_DELETE:
        exec_delete(s, req);
        break;
    case TEXT_CMD_FLUSH_ALL:
        exec_flush(s, req);
        break;
    case TEXT_CMD_VERSION:
        REPLY(s, "VERSION " HC_VERSION_STRING);
        break;
    case TEXT_CMD_VERBOSITY:
        log_verbosity = req->number > 2 ? 2 : (int)req->number;
        if (!req->noreply)
            REPLY(s, "OK");
        else if (log_verbosity > 1)
            trace_noreply = "OK";
        break;
    case TEXT_CMD_QUIT:
        return PROC_STEP_CLOSE;
    case TEXT_CMD_SHUTDOWN:
        return exec_shutdown(s, req);
    case TEXT_CMD_CACHE_MEMLIMIT:
        exec_memlimit(s, req);
        break;
    case TEXT_CMD_STATS:
        stats_cmd(s, req->args, req->nargs);
        break;
    case TEXT_CMD_REFRESH_CERTS:
        exec_refresh_certs(s);
        break;
    case TEXT_CMD_DEBUGTIME:
        exec_debugtime(s, req);
        break;
    case TEXT_CMD_MG: case TEXT_CMD_MS: case TEXT_CMD_MD: case TEXT_CMD_MA:
    case TEXT_CMD_MN: case TEXT_CMD_ME:
        if (req->cmd == TEXT_CMD_ME)   /* 1.6.45 counts `me` alone */
            STAT_INCR(s->stats, cmd_meta);
        process_meta(s, req);
        if (s->parked)   /* mg: its value is read from flash, then again */
            return PROC_STEP_PARKED;
        break;
    case TEXT_CMD_LRU_CRAWLER:
        return runtime_lru_crawler(s, req->args, req->nargs);
    case TEXT_CMD_LRU:
        runtime_lru(s, req->args, req->nargs);
        break;
    case TEXT_CMD_SLABS:
        runtime_slabs(s, req->args, req->nargs);
        break;
    case TEXT_CMD_EXTSTORE:
        runtime_extstore(s, req->args, req->nargs);
        break;
    case TEXT_CMD_WATCH:
        runtime_watch(s, req->args, req->nargs);
        break;
    default:
        REPLY(s, "ERROR");
        break;
    }
    return PROC_STEP_DONE;
}

static void text_error(struct session *s, const struct text_req *req)
{
    if (req->error == TEXT_ERR_TOO_LARGE) {
        STAT_INCR(s->stats, store_too_large);
        if (req->cmd == TEXT_CMD_SET)
            store_unlink_refused(req->key.p, req->key.n);
        else if (req->cmd == TEXT_CMD_MS)
            meta_ms_refused(req);
    }
    if (req->noreply && req->error == TEXT_ERR_BAD_CHUNK && log_verbosity > 1)
        trace_noreply = text_error_string(req->error);
    if (req->error == TEXT_ERR_NONE || req->noreply)
        return;
    session_line(s, text_error_string(req->error));
}

/* An ascii login (memcached's -Y): the data of a `set` is "user pass". */
static void exec_login(struct session *s, const struct text_req *req)
{
    struct thread_stats *ts = s->stats;
    const char *sp = memchr(req->data, ' ', req->ndata);
    enum auth_verdict v;

    if (sp == NULL || sp == req->data) {
        REPLY(s, "CLIENT_ERROR bad authentication token format");
        return;
    }
    v = auth_check(&s->peer, req->data, (size_t)(sp - req->data), sp + 1,
                   (size_t)(req->data + req->ndata - sp - 1));
    stats_auth(ts, v);
    if (v == AUTH_GRANTED) {
        s->authenticated = true;
        REPLY(s, "STORED");   /* memcached's answer, noreply or not */
        return;
    }
    REPLY(s, "CLIENT_ERROR authentication failure");
}

/* A parsed request meets the gate (policy/gate.h), then runs. */
static enum proc_step text_gated(struct session *s, const struct text_req *req)
{
    switch (gate_check(text_cmd_attrs(req->cmd), s->authenticated, s->udp)) {
    case GATE_SERVE:
        return text_execute(s, req);
    case GATE_LOGIN:
        exec_login(s, req);
        break;
    case GATE_REFUSE_UDP:
        STAT_INCR(s->stats, udp_admin_refused);
        if (sizeof(udp_refused) - 1 <= s->refusal_max)
            session_append(s, udp_refused, sizeof(udp_refused) - 1);
        break;
    default:
        REPLY(s, "CLIENT_ERROR unauthenticated");
        break;
    }
    return PROC_STEP_DONE;
}

/* Before login: small values only, and any mistake is the one refusal. */
static enum proc_step text_step_unauth(struct session *s, const char *data,
                                       size_t len, size_t *used)
{
    static const struct text_limits login_limits = { .value_max = LIMIT_AUTH_LOGIN_MAX };
    struct text_req req;
    enum text_parse_status st = text_parse(data, len, &login_limits, &req);

    if (st == TEXT_PARSE_NEED_MORE)
        return PROC_STEP_NEED_MORE;
    if (st == TEXT_PARSE_ERROR || req.partial) {
        REPLY(s, "CLIENT_ERROR unauthenticated");
        if (req.close || req.partial || req.error == TEXT_ERR_TOO_LARGE)
            return PROC_STEP_CLOSE;
        *used = req.consumed;
        s->swallow = req.swallow;
        s->hold_reply = true;   /* answered once the value is read */
        return PROC_STEP_DONE;
    }
    *used = req.consumed;
    return text_gated(s, &req) == PROC_STEP_CLOSE ? PROC_STEP_CLOSE : PROC_STEP_DONE;
}

/* ---- read-ahead ----
 *
 * A pipeline arrives in one read, and a round of the event loop reads
 * many connections before running any (conn.c). text_ahead parses the key
 * requests at the start of a connection's bytes before any runs and names
 * their keys to the store (store_prefetch); once every connection of the
 * round is parsed, text_ahead_run starts loading the items, so the cache
 * misses of all these lookups overlap. The parsed requests are kept, and
 * text_step takes each one from here instead of parsing it again. Only the
 * key commands take part; a connection's read-ahead stops at its first
 * other request, error or incomplete one, and the rest is parsed one by
 * one as before. Per thread (worker); text_ahead_clear before the parsed
 * bytes change. */
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

static void text_ahead(struct session *s, const char *data, size_t len)
{
    size_t off = 0;

    if (!s->authenticated || s->swallow > 0 || s->cont.active)
        return;
    while (ahead.n < TEXT_AHEAD_MAX && off < len) {
        struct text_req *req = &ahead.req[ahead.n];
        if (text_parse(data + off, len - off, text_limits_now(), req) != TEXT_PARSE_OK ||
            !ahead_command(req->cmd) || req->partial)
            break;
        ahead.at[ahead.n++] = data + off;
        off += req->consumed;
        ahead_name_keys(req);   /* its bucket loads while we parse on */
    }
}

static bool text_ahead_room(void)
{
    return TEXT_AHEAD_MAX - ahead.n >= TEXT_AHEAD_ROOM;
}

static void text_ahead_run(void)
{
    if (ahead.n > 1)   /* one request: nothing to overlap */
        store_prefetch_items();
}

static void text_ahead_clear(void)
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

/* ---- a retrieval line served in pieces ----
 *
 * A get line still without its "\n" past LIMIT_LINE_MAX (an 18,725-key
 * multiget is 187 KB) is answered as it streams in: each piece's complete
 * keys at once (parse.h, req->partial), END after the last. The session
 * keeps the command and exptime for the next piece; the line's bytes are
 * counted against LIMIT_GET_LINE_MAX. Memory stays one read and a partial
 * key, whatever the line's length. */

/* May this piece be served? The line's bytes so far plus its own are at
 * most LIMIT_GET_LINE_MAX; else the refusal, and the connection closes. */
static bool text_piece_allowed(struct session *s, const struct text_req *req)
{
    if ((s->cont.active ? s->cont.seen : 0) + req->consumed <= LIMIT_GET_LINE_MAX)
        return true;
    session_line(s, text_error_string(TEXT_ERR_LINE_TOO_LONG));
    s->cont.active = false;
    return false;
}

/* The rest of a retrieval line that had a bad key (or exptime), ignored
 * as it streams in: memcached 1.6.45 answers such a line with its error
 * alone, at the line's end (here the keys of pieces served before the bad
 * one were answered already: README). */
__attribute__((cold, noinline))
static enum proc_step text_skip_line(struct session *s, const char *data, size_t len,
                                     size_t *used)
{
    const char *nl = memchr(data, '\n', len);

    *used = nl != NULL ? (size_t)(nl - data) + 1 : len;
    s->cont.seen += *used;
    if (s->cont.seen > LIMIT_GET_LINE_MAX) {
        session_line(s, text_error_string(TEXT_ERR_LINE_TOO_LONG));
        s->cont.active = false;
        return PROC_STEP_CLOSE;
    }
    if (nl != NULL) {
        session_line(s, text_error_string(s->cont.error));
        s->cont.active = false;
    }
    return PROC_STEP_DONE;
}

/* After a piece ran: what the next one needs, or the line is done. */
static void text_piece_done(struct session *s, const struct text_req *req)
{
    if (!s->cont.active) {
        s->cont.cmd = req->cmd;
        s->cont.exptime = req->exptime;
        s->cont.seen = 0;
        s->cont.error = TEXT_ERR_NONE;
    }
    s->cont.seen += req->consumed;
    s->cont.active = req->partial;
}

static enum proc_step text_step(struct session *s, const char *data, size_t len,
                                size_t *used)
{
    struct text_req parsed, *req;
    enum text_parse_status st;

    *used = 0;
    if (!s->authenticated)
        return text_step_unauth(s, data, len, used);
    if (s->cont.active) {
        if (s->cont.error != TEXT_ERR_NONE)
            return text_skip_line(s, data, len, used);
        req = &parsed;
        st = text_parse_more(data, len, (enum text_cmd)s->cont.cmd, req);
        req->exptime = s->cont.exptime;
    } else if ((req = ahead_take(data)) != NULL) {
        st = TEXT_PARSE_OK;
    } else {
        req = &parsed;
        st = text_parse(data, len, text_limits_now(), req);
    }
    if (st == TEXT_PARSE_NEED_MORE)
        return PROC_STEP_NEED_MORE;
    if (st == TEXT_PARSE_ERROR) {
        if (req->partial) {   /* a bad key in a piece: ignore the line's rest */
            text_piece_done(s, req);
            s->cont.error = req->error;
            *used = req->consumed;
            return PROC_STEP_DONE;
        }
        s->cont.active = false;   /* the line, if served in pieces, ends */
        text_error(s, req);
        if (req->close)
            return PROC_STEP_CLOSE;
        *used = req->consumed;
        s->swallow = req->swallow;
        s->hold_reply = true;   /* answered once the value is read */
        return PROC_STEP_DONE;
    }
    bool piece = req->partial || s->cont.active;
    if (piece && !text_piece_allowed(s, req))
        return PROC_STEP_CLOSE;
    enum proc_step r = text_gated(s, req);
    if (r != PROC_STEP_OUTPUT_FULL && r != PROC_STEP_PARKED) {
        *used = req->consumed;
        if (piece)
            text_piece_done(s, req);
    }
    return r;
}

const struct processor text_processor = {
    .name = "text",
    .first_byte = -1,
    .retry_over_tcp = "SERVER_ERROR use TCP\r\n",
    .step = text_step,
    .ahead = text_ahead,
    .ahead_room = text_ahead_room,
    .ahead_run = text_ahead_run,
    .ahead_clear = text_ahead_clear,
    .trace = trace_text,
    .rawcmd = watch_log_rawcmd,
};
