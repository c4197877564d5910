/*
 * process_binary: binary requests against the store, with memcached 1.6's
 * status codes, quiet-mode rules and CAS semantics. Quiet commands stay
 * silent on success (and get/gat on a miss) but always report errors.
 */
#include "server/park.h"
#include "server/process_binary.h"

#include <string.h>

#include "core/strnum.h"
#include "policy/auth.h"
#include "policy/gate.h"
#include "protocol/limits.h"
#include "protocol/binary/parse.h"
#include "server/settings.h"
#include "server/stats_cmd.h"
#include "server/session.h"
#include "server/stats.h"
#include "server/stats_detail.h"
#include "server/trace.h"
#include "server/watch_log.h"
#include "storage/store.h"

static void respond(struct session *s, const struct bin_req *req, enum bin_status st,
                    const void *ext, uint8_t next, const void *key, uint16_t nkey,
                    const void *val, size_t nval, uint64_t cas)
{
    unsigned char h[BIN_HEADER_LEN];

    bin_compose_header(h, req->opcode, st, next, nkey,
                       (uint32_t)(next + nkey + nval), req->opaque, cas);
    if (session_reserve(s, sizeof(h) + next + nkey + nval) == NULL)
        return;
    session_append(s, h, sizeof(h));
    session_append(s, ext, next);
    session_append(s, key, nkey);
    session_append(s, val, nval);
}

static void respond_error(struct session *s, const struct bin_req *req, enum bin_status st)
{
    const char *msg = bin_status_message(st);
    respond(s, req, st, NULL, 0, NULL, 0, msg, strlen(msg), 0);
}

static void respond_ok(struct session *s, const struct bin_req *req, uint64_t cas)
{
    if (!req->quiet)
        respond(s, req, BIN_STATUS_OK, NULL, 0, NULL, 0, NULL, 0, cas);
}

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

struct get_ctx {
    struct session       *s;
    const struct bin_req *req;
    bool                  with_key;
    bool                  with_value;
    unsigned              cls;   /* the size class of the item hit */
};

/* Called under the shard lock: copy the item into the reply at once. */
static void emit_item(const struct store_item *it, void *arg)
{
    struct get_ctx *g = arg;
    unsigned char flags[4];
    const char *value = it->value;

    g->cls = stats_class_of(it);
    if (g->with_value && it->flash != NULL && park_value(g->s, it, &value) != PARK_SERVE)
        return;   /* waits, or a miss (park_found) */
    be32(flags, it->flags);
    respond(g->s, g->req, BIN_STATUS_OK, flags, 4, g->with_key ? it->key : NULL,
            g->with_key ? (uint16_t)it->nkey : 0, g->with_value ? value : NULL,
            g->with_value ? it->nvalue : 0, settings.use_cas ? it->cas : 0);
}

static void exec_get(struct session *s, const struct bin_req *req)
{
    struct thread_stats *ts = s->stats;
    bool touch = req->base != BIN_OP_GET && req->base != BIN_OP_GETK;
    struct get_ctx g = {
        .s = s, .req = req,
        .with_key = req->base == BIN_OP_GETK || req->base == BIN_OP_GATK,
        .with_value = req->base != BIN_OP_TOUCH,
    };
    struct store_read rd = {
        .key = req->key, .nkey = req->keylen,
        .touch = touch, .exptime = touch ? clock_exptime(req->exptime) : 0,
    };
    enum store_found found = store_read(&rd, emit_item, &g);

    if (s->parked)
        return;
    found = park_found(s, found);
    park_end(s);
    stats_get(ts, touch, found, g.cls);
    stats_detail_get(req->key, req->keylen, found == STORE_FOUND);
    if (found == STORE_FOUND || req->quiet)
        return;
    if (g.with_key)   /* memcached: a getk miss carries the key, no message */
        respond(s, req, BIN_STATUS_KEY_ENOENT, NULL, 0, req->key, req->keylen,
                NULL, 0, 0);
    else
        respond_error(s, req, BIN_STATUS_KEY_ENOENT);
}

static void exec_store(struct session *s, const struct bin_req *req)
{
    struct thread_stats *ts = s->stats;
    struct store_write wr = {
        .key = req->key, .nkey = req->keylen, .flags = req->flags,
        .exptime = clock_exptime(req->exptime), .value = req->value,
        .nvalue = req->nvalue, .cas = req->cas };
    enum store_mode mode;
    enum store_status st;
    struct store_result res;

    switch (req->base) {
    case BIN_OP_ADD:     mode = STORE_ADD; break;
    case BIN_OP_REPLACE: mode = STORE_REPLACE; break;
    case BIN_OP_APPEND:  mode = STORE_APPEND; break;
    case BIN_OP_PREPEND: mode = STORE_PREPEND; break;
    default:             mode = STORE_SET; break;
    }
    if (req->cas != 0 && mode != STORE_APPEND && mode != STORE_PREPEND)
        mode = STORE_CAS;   /* memcached: any store with a CAS is a cas */
    wr.mode = mode;
    stats_detail_set(req->key, req->keylen);
    st = store_write(&wr, &res);
    stats_store(ts, &wr, st, &res);
    watch_store(req->key, req->keylen, st, mode, wr.exptime, req->nvalue, req->flags);
    if ((st == STORE_TOO_LARGE || st == STORE_NO_MEMORY) && req->base == BIN_OP_SET)
        store_unlink_refused(req->key, req->keylen);
    switch (st) {
    case STORE_OK:
        respond_ok(s, req, res.cas);
        return;
    case STORE_EXISTS:
        respond_error(s, req, BIN_STATUS_KEY_EEXISTS);
        return;
    case STORE_NOT_FOUND:
        respond_error(s, req, BIN_STATUS_KEY_ENOENT);
        return;
    case STORE_TOO_LARGE:
        if (mode != STORE_APPEND && mode != STORE_PREPEND) {
            respond_error(s, req, BIN_STATUS_E2BIG);
            return;
        }
        break;
    case STORE_NO_MEMORY:
        if (mode != STORE_APPEND && mode != STORE_PREPEND) {
            respond_error(s, req, BIN_STATUS_ENOMEM);
            return;
        }
        break;
    default:
        break;
    }
    /* NOT_STORED, in memcached's words per command */
    if (mode == STORE_ADD)
        respond_error(s, req, BIN_STATUS_KEY_EEXISTS);
    else if (mode == STORE_REPLACE)
        respond_error(s, req, BIN_STATUS_KEY_ENOENT);
    else
        respond_error(s, req, BIN_STATUS_NOT_STORED);
}

static void exec_delete(struct session *s, const struct bin_req *req)
{
    struct store_delete del = { .key = req->key, .nkey = req->keylen, .cas = req->cas };
    struct store_result res;
    enum store_status st = store_delete(&del, &res);

    stats_delete(s->stats, st, &res);
    stats_detail_delete(req->key, req->keylen);
    if (st == STORE_OK)
        respond_ok(s, req, 0);
    else if (st == STORE_EXISTS)
        respond_error(s, req, BIN_STATUS_KEY_EEXISTS);
    else
        respond_error(s, req, BIN_STATUS_KEY_ENOENT);
}

static void exec_arith(struct session *s, const struct bin_req *req)
{
    struct thread_stats *ts = s->stats;
    bool incr = req->base == BIN_OP_INCREMENT;
    struct store_arith ar = {
        .key = req->key, .nkey = req->keylen, .incr = incr, .delta = req->delta,
        .cas = req->cas,
        .vivify = req->exptime != 0xffffffffu,   /* memcached: -1 = no create */
        .initial = req->initial,
        .viv_exptime = clock_exptime(req->exptime),
    };
    struct store_result res;
    enum store_status st = store_arith(&ar, &res);
    unsigned char body[8];

    stats_lookup(ts, res.found);
    if (st == STORE_OK || st == STORE_NOT_FOUND)
        stats_arith(ts, incr, st == STORE_OK && !res.created, res.met_class);
    switch (st) {
    case STORE_OK:
        if (req->quiet)
            return;
        be32(body, (uint32_t)(res.number >> 32));
        be32(body + 4, (uint32_t)res.number);
        respond(s, req, BIN_STATUS_OK, NULL, 0, NULL, 0, body, 8, res.cas);
        return;
    case STORE_NOT_FOUND:   respond_error(s, req, BIN_STATUS_KEY_ENOENT); return;
    case STORE_EXISTS:      respond_error(s, req, BIN_STATUS_KEY_EEXISTS); return;
    case STORE_NON_NUMERIC: respond_error(s, req, BIN_STATUS_DELTA_BADVAL); return;
    default:                respond_error(s, req, BIN_STATUS_ENOMEM); return;
    }
}

static void exec_flush(struct session *s, const struct bin_req *req)
{
    if (!settings.flush_enabled) {   /* memcached answers so */
        respond_error(s, req, BIN_STATUS_AUTH_ERROR);
        return;
    }
    STAT_INCR(s->stats, cmd_flush);
    store_flush(req->exptime > 0 ? clock_exptime(req->exptime) : 0);
    respond_ok(s, req, 0);
}

/* Binary STAT: the stats emitter through the binary sink, one packet per
 * stat, an empty one to end (also after a reset); no such group: ENOENT. */
static void exec_stat(struct session *s, const struct bin_req *req)
{
    struct stats_bin_out b = { .out = s->out, .opaque = req->opaque };
    struct stats_sink sink = { stats_bin_add, &b };

    switch (stats_run(req->key, req->keylen, &sink)) {
    case STATS_RESET:
        stats_end(&sink);
        break;
    case STATS_UNKNOWN:
        respond_error(s, req, BIN_STATUS_KEY_ENOENT);
        break;
    case STATS_EMITTED:
        break;
    }
    if (b.failed)
        s->closing = true;
}

static void exec_sasl(struct session *s, const struct bin_req *req)
{
    char reply[AUTH_SASL_REPLY_MAX];
    size_t nreply = 0;
    const char *mechs;
    enum auth_verdict v;

    if (!auth_sasl_enabled()) {
        respond_error(s, req, BIN_STATUS_UNKNOWN_COMMAND);
        return;
    }
    if (req->base == BIN_OP_SASL_LIST_MECHS) {
        mechs = auth_sasl_mechs();
        respond(s, req, BIN_STATUS_OK, NULL, 0, NULL, 0, mechs, strlen(mechs), 0);
        return;
    }
    if (req->base == BIN_OP_SASL_AUTH)
        v = auth_sasl_start(&s->sasl, &s->peer, req->key, req->keylen, req->value,
                            req->nvalue, reply, sizeof(reply), &nreply);
    else
        v = auth_sasl_step(&s->sasl, &s->peer, req->key, req->keylen, req->value,
                           req->nvalue, reply, sizeof(reply), &nreply);
    stats_auth(s->stats, v);
    if (v == AUTH_GRANTED) {
        s->authenticated = true;
        if (nreply > 0)   /* SCRAM's server-final */
            respond(s, req, BIN_STATUS_OK, NULL, 0, NULL, 0, reply, nreply, 0);
        else
            respond(s, req, BIN_STATUS_OK, NULL, 0, NULL, 0, "Authenticated", 13, 0);
        return;
    }
    if (v == AUTH_CONTINUE) {
        respond(s, req, BIN_STATUS_AUTH_CONTINUE, NULL, 0, NULL, 0, reply, nreply, 0);
        return;
    }
    respond_error(s, req, BIN_STATUS_AUTH_ERROR);
}

static enum proc_step bin_execute(struct session *s, const struct bin_req *req)
{
    switch (req->base) {
    case BIN_OP_GET: case BIN_OP_GETK: case BIN_OP_GAT: case BIN_OP_GATK:
    case BIN_OP_TOUCH:
        exec_get(s, req);
        break;
    case BIN_OP_SET: case BIN_OP_ADD: case BIN_OP_REPLACE:
    case BIN_OP_APPEND: case BIN_OP_PREPEND:
        exec_store(s, req);
        break;
    case BIN_OP_DELETE:
        exec_delete(s, req);
        break;
    case BIN_OP_INCREMENT: case BIN_OP_DECREMENT:
        exec_arith(s, req);
        break;
    case BIN_OP_QUIT:
        if (!req->quiet)
            respond(s, req, BIN_STATUS_OK, NULL, 0, NULL, 0, NULL, 0, 0);
        return PROC_STEP_CLOSE;
    case BIN_OP_FLUSH:
        exec_flush(s, req);
        break;
    case BIN_OP_NOOP:
        respond(s, req, BIN_STATUS_OK, NULL, 0, NULL, 0, NULL, 0, 0);
        break;
    case BIN_OP_VERSION:
        respond(s, req, BIN_STATUS_OK, NULL, 0, NULL, 0, HC_VERSION_STRING,
                sizeof(HC_VERSION_STRING) - 1, 0);
        break;
    case BIN_OP_STAT:
        exec_stat(s, req);
        break;
    case BIN_OP_SASL_LIST_MECHS: case BIN_OP_SASL_AUTH: case BIN_OP_SASL_STEP:
        exec_sasl(s, req);
        break;
    default:
        respond_error(s, req, BIN_STATUS_UNKNOWN_COMMAND);
        break;
    }
    return s->closing ? PROC_STEP_CLOSE : PROC_STEP_DONE;
}

static enum proc_step bin_step(struct session *s, const char *data, size_t len,
                               size_t *used)
{
    const struct bin_limits lim = {
        .value_max = settings.item_size_max,
        .swallow_max = LIMIT_BIN_SWALLOW_MAX,
    };
    struct bin_req req;
    enum bin_parse_status st = bin_parse(data, len, &lim, &req);

    *used = 0;
    /* the gate decides on the header alone, before a body is awaited */
    if (req.have_header) {
        switch (gate_check(bin_opcode_attrs(req.opcode), s->authenticated, s->udp)) {
        case GATE_SERVE:
            break;
        case GATE_REFUSE_UDP:   /* no reply; nothing more of the datagram */
            STAT_INCR(s->stats, udp_admin_refused);
            return PROC_STEP_CLOSE;
        default:
            respond_error(s, &req, BIN_STATUS_AUTH_ERROR);
            return PROC_STEP_CLOSE;
        }
    }
    if (st == BIN_PARSE_NEED_MORE)
        return PROC_STEP_NEED_MORE;
    if (st == BIN_PARSE_ERROR) {
        if (req.status == BIN_STATUS_E2BIG) {
            STAT_INCR(s->stats, store_too_large);
            if (req.base == BIN_OP_SET && req.key != NULL)
                store_unlink_refused(req.key, req.keylen);
        }
        if (req.status != BIN_STATUS_OK)
            respond_error(s, &req, req.status);
        if (req.close)
            return PROC_STEP_CLOSE;
        *used = req.consumed;
        s->swallow = req.swallow;
        /* a refused value is answered once read, as memcached; an unknown
         * command at once */
        s->hold_reply = req.status == BIN_STATUS_E2BIG;
        return PROC_STEP_DONE;
    }
    enum proc_step r = bin_execute(s, &req);
    if (s->parked)   /* a GET whose value is read from flash: again then */
        return PROC_STEP_PARKED;
    *used = req.consumed;
    return r;
}

const struct processor binary_processor = {
    .name = "binary",
    .first_byte = BIN_REQ_MAGIC,
    .step = bin_step,
    .trace = trace_binary,
};
