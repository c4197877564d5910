/*
 * watch_log: memcached's event lines (see watch_log.h), formatted only
 * when a watcher wants their kind.
 */
#include "server/watch_log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "core/uri.h"
#include "server/settings.h"
#include "storage/crawl.h"
#include "storage/size_class.h"

_Thread_local int watch_log_cfd = -1;
_Thread_local const char *watch_log_del_cmd = "delete";

static void key_text(char *out, const char *key, size_t n)
{
    *uri_encode(out, key, n) = '\0';
}

static void on_store_event(const struct store_event_info *e)
{
    static const char *const found_names[] = {
        [STORE_FOUND] = "found", [STORE_ABSENT] = "not_found",
        [STORE_FLUSHED] = "flushed", [STORE_EXPIRED] = "expired",
    };
    static const unsigned kind_of[] = {
        [STORE_EV_LOOKUP] = WATCH_FETCHERS, [STORE_EV_EVICT] = WATCH_EVICTIONS,
        [STORE_EV_DELETE] = WATCH_DELETIONS,
    };
    char key[3 * STORE_KEY_MAX + 1];
    bool item = e->ev != STORE_EV_LOOKUP || e->found == STORE_FOUND;
    unsigned cls;
    rel_time_t now;

    /* called under the shard lock for every event while anyone watches
     * any of these kinds: nothing is formatted for a kind nobody wants */
    if (!watch_wanted(kind_of[e->ev]))
        return;
    cls = item ? size_class_of_item(e->nkey, e->nvalue, e->has_flags) : 0;
    now = clock_now();
    key_text(key, e->key, e->nkey);
    if (e->ev == STORE_EV_LOOKUP && watch_wanted(WATCH_FETCHERS))
        watch_emit(WATCH_FETCHERS, "type=item_get key=%s status=%s clsid=%u cfd=%d size=%zu",
                   key, found_names[e->found], cls, watch_log_cfd, item ? e->nvalue : 0);
    else if (e->ev == STORE_EV_EVICT && watch_wanted(WATCH_EVICTIONS))
        watch_emit(WATCH_EVICTIONS, "type=eviction key=%s fetch=%s ttl=%lld la=%d clsid=%u size=%zu",
                   key, e->fetched ? "yes" : "no",
                   e->exptime ? (long long)e->exptime - now : -1LL,
                   (int)(now > e->atime ? now - e->atime : 0), cls, e->nvalue);
    else if (e->ev == STORE_EV_DELETE && watch_wanted(WATCH_DELETIONS))
        watch_emit(WATCH_DELETIONS, "type=deleted key=%s cmd=%s clsid=%u size=%zu",
                   key, watch_log_del_cmd, cls, e->nvalue);
}

static void on_change(unsigned kinds)
{
    store_set_observer(kinds & (WATCH_FETCHERS | WATCH_EVICTIONS | WATCH_DELETIONS)
                       ? on_store_event : NULL);
}

/* memcached's line for a crawl of one LRU, for the one crawler here: its
 * passes cover every class (crawler=0: memcached's classes start at 1)
 * and every item is "cold" (see stats items); reported as the pass ends
 * (since_run=0). */
static void on_crawl(const struct crawl_report *r)
{
    if (watch_wanted(WATCH_SYSEVENTS))
        watch_emit(WATCH_SYSEVENTS, "type=lru_crawler crawler=0 lru=cold low_mark=%llu "
                   "next_reclaims=%llu since_run=0 next_run=%d elapsed=%u examined=%llu "
                   "reclaimed=%llu", (unsigned long long)r->low_mark,
                   (unsigned long long)r->next_reclaims, (int)r->next_run,
                   (unsigned)r->elapsed, (unsigned long long)r->examined,
                   (unsigned long long)r->reclaimed);
}

void watch_log_setup(void)
{
    watch_set_change_hook(on_change);
    crawl_set_report(on_crawl);
}

void watch_log_rawcmd(int fd, const char *req, size_t reqlen)
{
    const char *nl = memchr(req, '\n', reqlen);
    size_t len = nl != NULL ? (size_t)(nl - req) : reqlen;   /* the line, no data */

    if (len > 0 && req[len - 1] == '\r')
        len--;
    watch_emit(WATCH_RAWCMDS, "<%d %.*s", fd, (int)len, req);
}

void watch_log_store(const char *key, size_t nkey, enum store_status st, enum store_mode mode,
                     rel_time_t exptime, size_t nvalue, uint32_t flags)
{
    static const char *const status_names[] = {
        [STORE_OK] = "stored", [STORE_NOT_STORED] = "not_stored", [STORE_EXISTS] = "exists",
        [STORE_NOT_FOUND] = "not_found", [STORE_TOO_LARGE] = "too_large",
        [STORE_NO_MEMORY] = "no_memory", [STORE_NON_NUMERIC] = "not_stored",
    };
    static const char *const mode_names[] = {
        [STORE_SET] = "set", [STORE_ADD] = "add", [STORE_REPLACE] = "replace",
        [STORE_APPEND] = "append", [STORE_PREPEND] = "prepend", [STORE_CAS] = "cas",
    };
    char k[3 * STORE_KEY_MAX + 1];
    rel_time_t now = clock_now();

    key_text(k, key, nkey);
    watch_emit(WATCH_MUTATIONS, "type=item_store key=%s status=%s cmd=%s ttl=%u clsid=%u cfd=%d size=%zu",
               k, status_names[st], mode_names[mode], exptime > now ? exptime - now : 0,
               size_class_of_item(nkey, nvalue, flags != 0), watch_log_cfd, nvalue);
}

void watch_log_conn(bool open, const struct sockaddr_storage *peer, bool unix_socket,
                    int fd, const char *reason)
{
    char ip[INET6_ADDRSTRLEN] = "unix";
    unsigned port = 0;

    if (!watch_wanted(WATCH_CONNEVENTS))
        return;
    if (!unix_socket && peer->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)peer;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        port = ntohs(in->sin_port);
    } else if (!unix_socket && peer->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)peer;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        port = ntohs(in6->sin6_port);
    }
    if (open)
        watch_emit(WATCH_CONNEVENTS, "type=conn_new rip=%s rport=%u transport=%s cfd=%d",
                   ip, port, unix_socket ? "local" : "tcp", fd);
    else
        watch_emit(WATCH_CONNEVENTS,
                   "type=conn_close rip=%s rport=%u transport=%s reason=%s cfd=%d",
                   ip, port, unix_socket ? "local" : "tcp", reason, fd);
}
