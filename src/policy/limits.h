/*
 * limits: the numbers of the server's policy (access lists, logins, the UDP
 * budget), named in one place. Wire and buffer limits, which parsers and
 * connections check, are protocol/limits.h.
 */
#ifndef HC_POLICY_LIMITS_H
#define HC_POLICY_LIMITS_H

/* Access lists (--allow, --allow-file). */
#define LIMIT_ACL_ENTRIES_MAX   1024          /* CIDR entries in all lists */
#define LIMIT_ACL_TOKEN_MAX     64            /* one "addr/prefix" entry */
#define LIMIT_ACL_FILE_MAX      (1024 * 1024) /* bytes of an allow file */

/* UDP (-U): what the guard lets out, and to whom. */
/* Largest reply sent over UDP, before framing, to any source. Above it a
 * validated source gets a short error; memcached allows 65535 datagrams. */
#define LIMIT_UDP_REPLY_MAX     (16 * 1024 * 1024)
/* Validated-source table: default size and bounds (-o udp_sources_max). */
#define LIMIT_UDP_SOURCES_DEFAULT  65536
#define LIMIT_UDP_SOURCES_MIN      64
#define LIMIT_UDP_SOURCES_MAX      (16 * 1024 * 1024)
/* Seconds a source stays validated after its last TCP activity
 * (-o udp_validate_window). */
#define LIMIT_UDP_WINDOW_DEFAULT   600
/* Bandwidth amplification allowed towards sources that are not validated,
 * in percent of the request's UDP payload (-o udp_baf_percent). 100 is
 * BAF 1.0: never more bytes out than in. Above 100 needs the flag and is
 * warned about; never above the maximum. */
#define LIMIT_UDP_BAF_DEFAULT_PCT  100
#define LIMIT_UDP_BAF_MAX_PCT      1000
/* Egress token buckets for validated sources, bytes/s and bytes
 * (-o udp_src_rate, udp_src_burst, udp_global_rate, udp_global_burst). */
#define LIMIT_UDP_SRC_RATE_DEFAULT     (8ULL * 1024 * 1024)
#define LIMIT_UDP_SRC_BURST_DEFAULT    (8ULL * 1024 * 1024)
#define LIMIT_UDP_GLOBAL_RATE_DEFAULT  (64ULL * 1024 * 1024)
#define LIMIT_UDP_GLOBAL_BURST_DEFAULT (32ULL * 1024 * 1024)
#define LIMIT_UDP_RATE_MAX             (1ULL << 40)
/* "possible reflection attempt": logged when this many replies are
 * dropped within one second (-o udp_alert_drops), at most once per
 * interval, naming the top sources of a small heavy-hitter table. */
#define LIMIT_UDP_ALERT_DROPS_DEFAULT  100
#define LIMIT_UDP_ALERT_INTERVAL_MS    10000
#define LIMIT_UDP_ALERT_TOP            8

/* Authentication. Password file: entries and line length. */
#define LIMIT_AUTH_USERS_MAX        4096
#define LIMIT_AUTH_LINE_MAX         1024
/* Before login a text connection may send values of at most this size
 * (the "user pass" of an ascii login); larger ones close it. */
#define LIMIT_AUTH_LOGIN_MAX        1024
/* Failed-login throttling per source address: the first few failures are
 * free, then each attempt must wait base * 2^(failures - free) ms after the
 * last failure, at most max; a quiet address is forgotten after forget. */
#define LIMIT_AUTH_FREE_FAILURES    3
#define LIMIT_AUTH_BACKOFF_BASE_MS  500
#define LIMIT_AUTH_BACKOFF_MAX_MS   (60 * 1000)
#define LIMIT_AUTH_FORGET_MS        (15 * 60 * 1000)
/* Addresses tracked at once, and slots probed per address. */
#define LIMIT_AUTH_THROTTLE_SLOTS   4096
#define LIMIT_AUTH_THROTTLE_PROBE   8

#endif
