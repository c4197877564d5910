/*
 * unit.h: the smallest test harness that does the job. Each test_*.c file
 * is one program; CHECK records a failure and goes on, main returns
 * nonzero if anything failed. No framework to install.
 */
#ifndef HC_TESTS_UNIT_H
#define HC_TESTS_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failures;
static int unit_checks;

#define CHECK(cond) do { \
    unit_checks++; \
    if (!(cond)) { \
        unit_failures++; \
        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    } \
} while (0)

#define CHECK_EQ_INT(a, b) do { \
    long long a_ = (long long)(a), b_ = (long long)(b); \
    unit_checks++; \
    if (a_ != b_) { \
        unit_failures++; \
        fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", \
                __FILE__, __LINE__, #a, a_, #b, b_); \
    } \
} while (0)

#define CHECK_MEM(p, n, lit) do { \
    unit_checks++; \
    if ((n) != sizeof(lit) - 1 || memcmp((p), (lit), (n)) != 0) { \
        unit_failures++; \
        fprintf(stderr, "%s:%d: got \"%.*s\", expected \"%s\"\n", \
                __FILE__, __LINE__, (int)(n), (const char *)(p), (lit)); \
    } \
} while (0)

#define RUN(test) do { test(); } while (0)

static inline int unit_report(const char *name)
{
    fprintf(stderr, "%s: %d checks, %d failed\n", name, unit_checks, unit_failures);
    return unit_failures ? 1 : 0;
}

#endif
