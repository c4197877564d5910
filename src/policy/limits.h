/*
 * limits: every wire and buffer limit of the server, named in one place and
 * checked before anything is buffered. Parsers and connections read these;
 * nothing else invents its own numbers.
 */
#ifndef HC_POLICY_LIMITS_H
#define HC_POLICY_LIMITS_H

/* A command line without '\n' within this many bytes closes the connection
 * (memcached's rule), except for retrieval commands below. */
#define LIMIT_LINE_MAX          2048
/* Retrieval lines (get/gets/gat/gats) may be longer, up to this; beyond it
 * the client gets "CLIENT_ERROR line too long" and is disconnected.
 * memcached lets them grow without bound. */
#define LIMIT_GET_LINE_MAX      65536
/* Keys in one retrieval command; more gets "CLIENT_ERROR too many keys". */
#define LIMIT_GET_KEYS_MAX      4096
/* Tokens in any non-retrieval command (memcached's MAX_TOKENS is 24). */
#define LIMIT_TOKENS_MAX        24
/* Bytes read from a socket at once (per-thread scratch buffer). */
#define LIMIT_READ_CHUNK        (64 * 1024)
/* Replies queued for one connection before the server stops executing its
 * requests and waits for it to read (a client that sends without reading
 * cannot make the server buffer without bound). One item may exceed it. */
#define LIMIT_OUTPUT_HIGH_WATER (256 * 1024)
/* Smallest memory limit accepted by cache_memlimit, in MiB (memcached's). */
#define LIMIT_MEMLIMIT_MIN_MB   8
/* memcached's -I bounds. */
#define LIMIT_ITEM_SIZE_MIN     1024
#define LIMIT_ITEM_SIZE_MAX     (1024 * 1024 * 1024)

#endif
