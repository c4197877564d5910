/*
 * report: formatting only; every judgement was made in verdict.c.
 */
#include "audit/report.h"

#include <string.h>
#include <sys/socket.h>

#include "audit/target.h"

static FILE *out;
static const struct audit_opts *opts;
static bool header_done;

/* Table mode says each finding's fix once, after all targets: the advice
 * of the first target with it, and how many targets had it. */
#define ADVICE_MAX      2048
#define TABLE_WIDTH     78
#define SERVER_COL      26
#define TARGET_COL      28   /* wider targets get a line of their own */
static char fix_text[FINDING_COUNT][ADVICE_MAX];
static char fix_target[FINDING_COUNT][96];
static unsigned fix_count[FINDING_COUNT];

#define C_RESET  "\033[0m"
#define C_RED    "\033[1;31m"
#define C_YELLOW "\033[33m"
#define C_GREEN  "\033[32m"
#define C_DIM    "\033[2m"

static const char *col(const char *c)
{
    return opts->color ? c : "";
}

static const char *sev_col(enum severity s)
{
    return s >= SEV_HIGH ? col(C_RED) : s >= SEV_LOW ? col(C_YELLOW) :
           col(C_DIM);
}

void report_setup(FILE *f, const struct audit_opts *o)
{
    out = f;
    opts = o;
    header_done = false;
    memset(fix_count, 0, sizeof(fix_count));
}

/* Every JSON record starts with these, so a consumer can tell versions. */
static void json_open(FILE *f, const char *type)
{
    fprintf(f, "{\"type\":\"%s\",\"schema_version\":%d,"
            "\"tool_version\":\"%s\",", type, AUDIT_SCHEMA_VERSION,
            AUDIT_TOOL_VERSION);
}

void report_error(FILE *f, const char *msg, int exit_code)
{
    json_open(f, "error");
    fputs("\"message\":", f);
    json_str(f, msg);
    fprintf(f, ",\"exit\":%d}\n", exit_code);
    fflush(f);
}

void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\r')
            fputs("\\r", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20 || *p >= 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_kv_str(const char *k, const char *v, bool comma)
{
    fprintf(out, "\"%s\":", k);
    json_str(out, v);
    if (comma)
        fputc(',', out);
}

static void json_tristate(const char *k, int v)
{
    fprintf(out, "\"%s\":%s,", k, v < 0 ? "null" : v ? "true" : "false");
}

static void json_int_or_null(const char *k, int64_t v, bool comma)
{
    if (v < 0)
        fprintf(out, "\"%s\":null", k);
    else
        fprintf(out, "\"%s\":%lld", k, (long long)v);
    if (comma)
        fputc(',', out);
}

static const char *probe_note(int i, const struct probe_result *p)
{
    unsigned f = udp_probe_defs[i].flags;

    if (f & PF_MALFORMED)
        return p->state == UDP_REPLY ? "malformed, yet answered" :
               "malformed, proves nothing";
    if (i == PROBE_ADV_TYPO)
        return p->state == UDP_REPLY ?
               "9-byte header: answered (ERROR), still detects" :
               "9-byte header: no reply";
    switch (p->state) {
    case UDP_REPLY:
        if (p->reply_packets == 0)
            return "reply, not memcached frames (counted all the same)";
        return p->expected_packets > p->unique_packets ?
               "reply, some datagrams lost" : "reply";
    case UDP_CLOSED:
        return "closed (ICMP port unreachable)";
    case UDP_SILENT:
        return "no reply: filtered, or open and silent";
    case UDP_ERROR:
        return "error";
    default:
        return "";
    }
}

static void json_findings(const struct verdict *v)
{
    char advice[ADVICE_MAX];

    fprintf(out, "\"verdict\":{\"status\":\"%s\",\"severity\":\"%s\","
            "\"exit\":%d,\"findings\":[", verdict_status(v),
            v->counted ? severity_name(v->worst) : "none", verdict_exit(v));
    for (unsigned i = 0; i < v->n; i++) {
        const struct finding *f = &v->f[i];
        const struct finding_def *d = &finding_defs[f->id];
        fprintf(out, "%s{\"id\":\"%s\",\"severity\":\"%s\",", i ? "," : "",
                d->name, severity_name(f->sev));
        json_kv_str("title", d->title, true);
        json_kv_str("detail", f->detail, true);
        verdict_advice(v, f->id, advice, sizeof(advice));
        json_kv_str("advice", advice, false);
        fputc('}', out);
    }
    fputs("]}", out);
}

static void json_probe(int i, const struct probe_result *p)
{
    unsigned f = udp_probe_defs[i].flags;

    fprintf(out, "{\"name\":\"%s\",\"well_formed\":%s,\"literal\":%s,"
            "\"malformed\":%s,\"result\":\"%s\",",
            udp_probe_defs[i].name, f & PF_WELLFORMED ? "true" : "false",
            f & PF_LITERAL ? "true" : "false",
            f & PF_MALFORMED ? "true" : "false", udp_state_name(p->state));
    if (p->err)
        json_kv_str("error", strerror(p->err), true);
    else
        fputs("\"error\":null,", out);
    fprintf(out, "\"request_bytes\":%u,\"request_packets\":1,"
            "\"attempts\":%u,\"reply_bytes\":%llu,\"reply_packets\":%u,"
            "\"unique_packets\":%u,"
            "\"expected_packets\":%u,\"lost_packets\":%u,"
            "\"foreign_packets\":%u,\"foreign_bytes\":%llu,\"capped\":%s,"
            "\"baf\":%.2f,\"paf\":%.2f,"
            "\"rtt_ms\":%.3f,\"duration_ms\":%.3f,",
            p->req_bytes, p->attempts,
            (unsigned long long)p->reply_bytes, p->reply_packets,
            p->unique_packets, p->expected_packets,
            p->expected_packets > p->unique_packets ?
                p->expected_packets - p->unique_packets : 0,
            p->foreign_packets, (unsigned long long)p->foreign_bytes,
            p->capped ? "true" : "false", probe_baf(p), probe_paf(p),
            (double)p->rtt_ns / 1e6, (double)p->duration_ns / 1e6);
    json_kv_str("first_line", p->first_line, true);
    json_kv_str("note", probe_note(i, p), false);
    fputc('}', out);
}

static void json_target(const struct result *r, const struct verdict *v)
{
    const struct tcp_result *t = &r->tcp;
    char label[400];

    target_format(r->t, label, sizeof(label));
    json_open(out, "target");
    json_kv_str("target", label, true);
    json_kv_str("spec", r->t->spec, true);
    json_kv_str("name", r->t->name, true);
    json_kv_str("address", r->t->addr_text, true);
    json_kv_str("resolve_error", r->t->error, true);
    fprintf(out, "\"port\":%u,\"family\":%s,\"private\":%s,"
            "\"interrupted\":%s,", r->t->port,
            r->t->addr.ss_family == AF_INET6 ? "\"ipv6\"" :
            r->t->addr.ss_family == AF_INET ? "\"ipv4\"" : "null",
            target_is_private(r->t) ? "true" : "false",
            r->interrupted ? "true" : "false");
    json_kv_str("verify_command", v->verify_cmd, true);
    fprintf(out, "\"tcp\":{\"state\":\"%s\",", tcp_state_name(t->state));
    if (t->err)
        json_kv_str("error", strerror(t->err), true);
    else
        fputs("\"error\":null,", out);
    fprintf(out, "\"connect_ms\":%.3f,\"attempts\":%u,",
            (double)t->connect_ns / 1e6, t->connect_attempts);
    json_kv_str("server", t->server, true);
    json_kv_str("version", t->version, true);
    fprintf(out, "\"tls\":%s,\"ascii\":%s,\"binary\":%s,"
            "\"stats_without_auth\":%s,\"auth\":\"%s\",",
            t->tls ? "true" : "false", t->ascii ? "true" : "false",
            t->binary ? "true" : "false", t->stats ? "true" : "false",
            auth_kind_name(t->auth));
    json_kv_str("sasl_mechs", t->sasl_mechs, true);
    json_kv_str("udp_max_amplification_unvalidated", t->unvalidated_amp, true);
    fputs("\"settings\":{", out);
    json_int_or_null("udpport", t->udp_port, true);
    json_int_or_null("tcpport", t->tcp_port, true);
    json_int_or_null("item_size_max", t->item_size_max, true);
    json_tristate("auth_enabled_sasl", t->sasl_enabled);
    json_tristate("auth_enabled_ascii", t->ascii_auth_enabled);
    json_int_or_null("udp_validate_window", t->validate_window, true);
    json_kv_str("inter", t->inter, true);
    fprintf(out, "\"ssl_enabled\":%s}},",
            t->ssl_enabled < 0 ? "null" : t->ssl_enabled ? "true" : "false");
    fprintf(out, "\"udp\":{\"state\":\"%s\",\"port\":%u,"
            "\"port_from_settings\":%s,\"self_validated\":%s,",
            udp_state_name(result_udp_overall(r)), r->udp_port,
            r->udp_port_reported ? "true" : "false",
            r->self_validated ? "true" : "false");
    json_kv_str("source", r->udp_source, true);
    fputs("\"validated_view\":", out);
    if (r->validated.state != UDP_NOT_TRIED)
        json_probe(PROBE_VERSION, &r->validated);
    else
        fputs("null", out);
    fputs(",\"probes\":[", out);
    for (int i = 0, k = 0; i < PROBE_COUNT; i++) {
        if (r->udp[i].state == UDP_NOT_TRIED)
            continue;
        if (k++)
            fputc(',', out);
        json_probe(i, &r->udp[i]);
    }
    fputs("]},", out);
    if (r->amp.tried) {
        fprintf(out, "\"amplify\":{\"stored\":%s,\"deleted\":%s,"
                "\"value_bytes\":%llu,", r->amp.stored ? "true" : "false",
                r->amp.deleted ? "true" : "false",
                (unsigned long long)r->amp.value_bytes);
        json_kv_str("note", r->amp.note, false);
        fputs("},", out);
    } else {
        fputs("\"amplify\":null,", out);
    }
    fprintf(out, "\"elapsed_ms\":%.3f,", (double)r->elapsed_ns / 1e6);
    json_findings(v);
    fputs("}\n", out);
}

/* Keeps a finding's fix for the end of the table (said once). */
static void note_fix(const struct verdict *v, enum finding_id id,
                     const char *who)
{
    if (fix_count[id]++ > 0)
        return;
    verdict_advice(v, id, fix_text[id], sizeof(fix_text[id]));
    snprintf(fix_target[id], sizeof(fix_target[id]), "%s", who);
}

static void table_findings(const struct verdict *v, const char *who)
{
    for (unsigned i = 0; i < v->n; i++) {
        const struct finding *f = &v->f[i];
        const struct finding_def *d = &finding_defs[f->id];
        /* the advisory's probes are explained once, in the summary */
        if (f->sev == SEV_INFO && !opts->verbose &&
            (f->id == FINDING_ADV_TYPO_ANSWERED ||
             f->id == FINDING_ADV_VERIFY_MALFORMED))
            continue;
        fprintf(out, "    %s[%s]%s %s: %s\n", sev_col(f->sev),
                severity_name(f->sev), col(C_RESET), d->name, d->title);
        if (f->detail[0])
            fprintf(out, "        %s\n", f->detail);
        if (d->advice[0] && f->sev >= SEV_LOW)
            note_fix(v, f->id, who);
    }
}

/* Prints text wrapped at TABLE_WIDTH after an indent. */
static void print_wrapped(const char *text, int indent)
{
    const char *p = text;

    while (*p != '\0') {
        size_t room = TABLE_WIDTH - (size_t)indent, n = strlen(p);
        if (n > room) {
            n = room;
            while (n > 0 && p[n] != ' ')
                n--;
            if (n == 0)
                n = room;
        }
        fprintf(out, "%*s%.*s\n", indent, "", (int)n, p);
        p += n;
        while (*p == ' ')
            p++;
    }
}

static void table_fixes(void)
{
    bool any = false;

    for (int id = 0; id < FINDING_COUNT; id++) {
        if (fix_count[id] == 0)
            continue;
        if (!any)
            fprintf(out, "\nhow to fix (each once; shown for the first "
                    "target with it, --json has every target's):\n");
        any = true;
        fprintf(out, "  %s (%u target%s, first %s):\n",
                finding_defs[id].name, fix_count[id],
                fix_count[id] == 1 ? "" : "s", fix_target[id]);
        print_wrapped(fix_text[id], 4);
    }
}

static void table_target(const struct result *r, const struct verdict *v)
{
    const struct tcp_result *t = &r->tcp;
    char label[400], server[96], baf[16] = "-", maxbaf[16] = "-";
    const char *st = verdict_status(v);
    double best = 0;

    if (!header_done) {
        fprintf(out, "%-28s %-8s %-26s %-8s %-7s %9s %10s  %s\n", "TARGET",
                "TCP", "SERVER", "AUTH", "UDP", "STATS-BAF", "MAX-BAF",
                "VERDICT");
        header_done = true;
    }
    target_format(r->t, label, sizeof(label));
    if (r->t->name[0] != '\0' && r->t->error[0] == '\0') {
        char addr[sizeof(label)];
        snprintf(addr, sizeof(addr), "%s", label);
        snprintf(label, sizeof(label), "%.200s %.120s", r->t->name, addr);
    }
    snprintf(server, sizeof(server), "%s%s%s", t->server,
             t->version[0] ? " " : "", t->version);
    if (r->udp[PROBE_STATS].state == UDP_REPLY)
        snprintf(baf, sizeof(baf), "%.1fx", probe_baf(&r->udp[PROBE_STATS]));
    for (int i = 0; i < PROBE_COUNT; i++)
        if (r->udp[i].state == UDP_REPLY && probe_baf(&r->udp[i]) > best)
            best = probe_baf(&r->udp[i]);
    if (best > 0)
        snprintf(maxbaf, sizeof(maxbaf), "%.1fx", best);
    if (strlen(server) > SERVER_COL)       /* keep the columns aligned */
        memcpy(server + SERVER_COL - 3, "...", 4);
    if (strlen(label) > TARGET_COL) {      /* whole, on a line of its own */
        fprintf(out, "%s\n", label);
        label[0] = '\0';
    }
    fprintf(out, "%-28s %-8s %-26s %-8s %-7s %9s %10s  %s%s%s\n", label,
            tcp_state_name(t->state), server[0] ? server : "-",
            auth_kind_name(t->auth), udp_state_name(result_udp_overall(r)),
            baf, maxbaf,
            v->counted ? sev_col(v->worst) :
                v->error || v->no_service ? col(C_YELLOW) : col(C_GREEN),
            st, col(C_RESET));
    if (opts->verbose) {
        for (int i = 0; i < PROBE_COUNT; i++) {
            const struct probe_result *p = &r->udp[i];
            if (p->state == UDP_NOT_TRIED)
                continue;
            fprintf(out, "    udp %-30s %-7s %3uB -> %8lluB %4u/%-4u pkts "
                    "BAF %8.1f PAF %5.0f rtt %.2fms  %s\n",
                    udp_probe_defs[i].name, udp_state_name(p->state),
                    p->req_bytes, (unsigned long long)p->reply_bytes,
                    p->reply_packets, p->expected_packets, probe_baf(p),
                    probe_paf(p), (double)p->rtt_ns / 1e6, probe_note(i, p));
        }
    }
    if (r->amp.tried && (opts->verbose || r->interrupted))
        fprintf(out, "    amplify: value %llu bytes, stored %s, deleted "
                "%s %s\n", (unsigned long long)r->amp.value_bytes,
                r->amp.stored ? "yes" : "no",
                r->amp.deleted ? "yes" : "no", r->amp.note);
    target_format(r->t, label, sizeof(label));
    table_findings(v, label);
}

void report_target(const struct result *r, const struct verdict *v)
{
    if (opts->json)
        json_target(r, v);
    else
        table_target(r, v);
    fflush(out);
}

static void json_flags(const struct mc_flags *f)
{
    fputs("\"flags\":{", out);
    json_int_or_null("udp_port", f->udp_port, true);
    json_int_or_null("tcp_port", f->tcp_port, true);
    json_kv_str("listen", f->listen, true);
    fprintf(out, "\"sasl\":%s,\"auth_file\":%s,\"ssl\":%s,"
            "\"unix_socket\":%s,", f->sasl ? "true" : "false",
            f->auth_file ? "true" : "false", f->ssl ? "true" : "false",
            f->unix_socket ? "true" : "false");
    json_kv_str("user", f->user, false);
    fputc('}', out);
}

static void json_local(const struct local_report *lr, const struct verdict *v)
{
    json_open(out, "local");
    fprintf(out, "\"all_sockets_mapped\":%s,\"root\":%s,\"namespaces\":%zu,",
            lr->all_visible ? "true" : "false", lr->root ? "true" : "false",
            lr->nns);
    json_kv_str("installed_version", lr->installed, true);
    json_kv_str("installed_version_from", lr->installed_from, true);
    json_kv_str("error", lr->error, true);
    fputs("\"processes\":[", out);
    for (size_t i = 0; i < lr->nprocs; i++) {
        const struct local_proc *p = &lr->procs[i];
        bool first = true;
        fprintf(out, "%s{\"pid\":%d,", i ? "," : "", p->pid);
        json_kv_str("comm", p->comm, true);
        json_kv_str("cmdline", p->cmdline, true);
        fprintf(out, "\"uid\":%u,", p->uid);
        json_kv_str("user", p->user, true);
        fprintf(out, "\"found_by_name\":%s,\"found_by_protocol\":%s,",
                p->by_name ? "true" : "false",
                p->by_protocol ? "true" : "false");
        json_kv_str("version", p->version, true);
        json_kv_str("netns", p->ns >= 0 ? lr->ns[p->ns].label : "", true);
        fprintf(out, "\"fds_readable\":%s,", p->fds_readable ? "true" : "false");
        json_flags(&p->flags);
        fputs(",\"sockets\":[", out);
        for (size_t k = 0; k < lr->nsocks; k++) {
            const struct local_sock *s = &lr->socks[k];
            if (s->pid != p->pid)
                continue;
            fprintf(out, "%s{\"proto\":\"%s\",", first ? "" : ",", s->proto);
            json_kv_str("address", s->addr, true);
            fprintf(out, "\"port\":%u,\"loopback\":%s,\"speaks_memcached\":%s}",
                    s->port, s->loopback ? "true" : "false",
                    s->speaks_memcached ? "true" : "false");
            first = false;
        }
        fputs("]}", out);
    }
    fputs("],\"configs\":[", out);
    for (size_t i = 0; i < lr->nconfs; i++) {
        fputs(i ? ",{" : "{", out);
        json_kv_str("path", lr->confs[i].path, true);
        json_flags(&lr->confs[i].flags);
        fputc('}', out);
    }
    fputs("],", out);
    json_kv_str("remediation", lr->fix, true);
    json_findings(v);
    fputs("}\n", out);
}

static void table_local(const struct local_report *lr, const struct verdict *v)
{
    fprintf(out, "\nLOCAL %-6s %-12s %-8s %-6s %s\n", "PID", "NAME", "USER",
            "UDP", "LISTENING");
    for (size_t i = 0; i < lr->nprocs; i++) {
        const struct local_proc *p = &lr->procs[i];
        char socks[256] = "";
        size_t l = 0;
        bool udp = false;
        for (size_t k = 0; k < lr->nsocks && l < sizeof(socks) - 1; k++) {
            const struct local_sock *s = &lr->socks[k];
            if (s->pid != p->pid)
                continue;
            udp |= s->udp;
            l += (size_t)snprintf(socks + l, sizeof(socks) - l, "%s%s:%s:%u",
                                  l ? " " : "", s->proto, s->addr, s->port);
            if (l >= sizeof(socks))
                l = sizeof(socks) - 1;
        }
        fprintf(out, "      %-6d %-12s %-8s %-6s %s\n", p->pid, p->comm,
                p->user, udp ? "yes" : p->fds_readable ? "no" : "?",
                socks[0] ? socks : p->fds_readable ? "-" :
                "(fds not readable: see the findings)");
    }
    for (size_t i = 0; i < lr->nconfs; i++) {
        char flags[MC_LISTEN_MAX + 64];
        mc_flags_format(&lr->confs[i].flags, flags, sizeof(flags));
        fprintf(out, "      config %s: %s\n", lr->confs[i].path, flags);
    }
    if (!lr->all_visible)
        fprintf(out, "      (not root: sockets of other users' processes "
                "cannot be mapped to them)\n");
    fprintf(out, "      local verdict: %s%s%s\n",
            v->counted ? sev_col(v->worst) : col(C_GREEN), verdict_status(v),
            col(C_RESET));
    table_findings(v, "this machine");
    if (lr->fix[0] != '\0') {
        fputs("    how to fix:\n", out);
        for (const char *l = lr->fix; *l != '\0'; ) {
            size_t n = strcspn(l, "\n");
            fprintf(out, "        %.*s\n", (int)n, l);
            l += n + (l[n] == '\n');
        }
    }
}

void report_local(const struct local_report *lr, const struct verdict *v)
{
    if (opts->json)
        json_local(lr, v);
    else
        table_local(lr, v);
    fflush(out);
}

void report_summary(unsigned targets, unsigned findings, unsigned errors,
                    uint64_t excluded, bool stopped, unsigned cut,
                    const struct verdict *local, int exit_code)
{
    if (opts->json) {
        json_open(out, "summary");
        fprintf(out, "\"targets\":%u,\"with_findings\":%u,\"unchecked\":%u,"
                "\"excluded\":%llu,\"interrupted\":%s,", targets, findings,
                errors, (unsigned long long)excluded,
                stopped ? "true" : "false");
        if (local != NULL)
            fprintf(out, "\"local_findings\":%u,\"local_status\":\"%s\",",
                    local->counted, verdict_status(local));
        fprintf(out, "\"exit\":%d}\n", exit_code);
    } else {
        table_fixes();
        if (targets > 0 && !opts->verbose)
            fprintf(out, "\nnote: %s.\n",
                    finding_defs[FINDING_ADV_VERIFY_MALFORMED].title);
        if (stopped)
            fprintf(out, "\ninterrupted: the run stopped early; %u target(s)"
                    " in progress were not finished\n", cut);
        fprintf(out, "\n%u target(s), %u with findings, %u could not be "
                "checked; ", targets, findings, errors);
        if (excluded)
            fprintf(out, "%llu excluded; ", (unsigned long long)excluded);
        if (local != NULL)
            fprintf(out, "local audit: %u finding(s), %s; ", local->counted,
                    verdict_status(local));
        fprintf(out, "exit %d (%s)\n",
                exit_code, exit_code == 0 ? "all clear" :
                exit_code == 1 ? "findings" : "could not check");
    }
    fflush(out);
}
