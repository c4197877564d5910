/*
 * strnum: the one checked parser for untrusted numbers (like httpd's
 * strtonum or memcached's safe_strtoull). Never atoi/sscanf on input.
 * All functions take a length (tokens are not NUL-terminated) and accept
 * only the whole token: optional '-' where allowed, then decimal digits.
 */
#ifndef HC_CORE_STRNUM_H
#define HC_CORE_STRNUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool strnum_u64(const char *s, size_t len, uint64_t *out);
bool strnum_u32(const char *s, size_t len, uint32_t *out);
bool strnum_i64(const char *s, size_t len, int64_t *out);
bool strnum_i32(const char *s, size_t len, int32_t *out);

/* memcached's reading of a stored value for incr/decr: optional leading
 * whitespace, digits, then end or whitespace (so "12\r\n" and "12 " are 12,
 * "" is 0, "1a" and "-1" are not numbers). Fails on overflow. */
bool strnum_counter(const char *s, size_t len, uint64_t *out);

/* Writes v in decimal to buf (at least 21 bytes); returns the length. */
size_t strnum_fmt_u64(char *buf, uint64_t v);

#endif
