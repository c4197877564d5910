/*
 * fuzz.h: what every harness in fuzz/ shares. A harness is one file,
 * fuzz/fuzz_<name>.c, defining LLVMFuzzerTestOneInput; `make fuzz` links it
 * with libFuzzer, `make test` links it with fuzz/replay.c (a plain main that
 * feeds it every file of fuzz/corpus/<name>/) under ASan + UBSan, so the
 * corpus is a regression suite that needs no fuzzing engine.
 */
#ifndef HC_FUZZ_FUZZ_H
#define HC_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Inputs larger than this are ignored: every parser caps its input far
 * below it, and small inputs keep the fuzzer fast. */
#define FUZZ_INPUT_MAX (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
