/*
 * limits: every wire and buffer limit of the protocols and connections,
 * named in one place and checked before anything is buffered. Parsers and
 * connections read these; policy's own numbers (access lists, logins, the
 * UDP budget) are in policy/limits.h.
 */
#ifndef HC_PROTOCOL_LIMITS_H
#define HC_PROTOCOL_LIMITS_H

#include "storage/store.h"

/* Longest key on the wire, in every protocol: the longest key storage
 * keeps (memcached's KEY_MAX_LENGTH, 250). */
#define LIMIT_KEY_MAX           STORE_KEY_MAX

/* A command line without '\n' within this many bytes closes the connection
 * (memcached's rule), except for retrieval commands below. */
#define LIMIT_LINE_MAX          2048
/* Retrieval lines (get/gets/gat/gats) may be longer: one still without
 * its "\n" past LIMIT_LINE_MAX is served in pieces as it streams in (each
 * piece's complete keys answered, nothing buffered but a partial key), up
 * to this many bytes in all; beyond, the client gets "CLIENT_ERROR line
 * too long" and is disconnected. memcached lets them grow without bound;
 * 16 MiB is some 1.6 million 10-byte keys, far above real clients. */
#define LIMIT_GET_LINE_MAX      (16 * 1024 * 1024)
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

/* UDP (-U). A request is one datagram; bigger ones are truncated by the
 * kernel to this and then fail to parse. */
#define LIMIT_UDP_DATAGRAM_IN   65536
/* Datagrams taken from one UDP socket per wake-up. */
#define LIMIT_UDP_BATCH         32

/* Binary protocol: a value over the item limit gets "Too large." and is
 * discarded as it arrives (memcached's behaviour) up to this size; a
 * larger body length closes the connection at once. */
#define LIMIT_BIN_SWALLOW_MAX   LIMIT_ITEM_SIZE_MAX

#endif
