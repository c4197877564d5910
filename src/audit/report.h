/*
 * report: the two faces of a result. A table for people (colour only on a
 * terminal) and JSON lines for machines, one object per target, with field
 * names that are a stable interface (docs/AUDIT.md).
 */
#ifndef HC_AUDIT_REPORT_H
#define HC_AUDIT_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "audit/audit.h"
#include "audit/local.h"
#include "audit/verdict.h"

void report_setup(FILE *out, const struct audit_opts *o);
void report_target(const struct result *r, const struct verdict *v);
void report_local(const struct local_report *lr, const struct verdict *v);
/* stopped: the run was cut short (SIGINT); cut: targets then in progress;
 * local: the local audit's verdict, NULL without --local. */
void report_summary(unsigned targets, unsigned findings, unsigned errors,
                    uint64_t excluded, bool stopped, unsigned cut,
                    const struct verdict *local, int exit_code);
/* A fatal error as one JSON object (for --json: never an empty stdout). */
void report_error(FILE *f, const char *msg, int exit_code);
/* Writes s as a JSON string (quotes included). */
void json_str(FILE *f, const char *s);

#endif
