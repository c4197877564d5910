/*
 * uri: memcached's URI encoding of keys in its logs and dumps (every byte
 * but alphanumerics and -._~ as %XX), so tools that decode those read
 * ours. Hand-written: five lines, and memcached's exact set of safe bytes.
 */
#ifndef HC_CORE_URI_H
#define HC_CORE_URI_H

#include <stddef.h>

/* Write key[0..n) encoded at out (room for 3 * n bytes, no NUL added);
 * returns the end. */
char *uri_encode(char *out, const char *key, size_t n);

#endif
