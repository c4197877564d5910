# hardcache: build, run, test and benchmark with one plain Makefile.
# Two builds live side by side: build/release (optimised) and build/asan
# (AddressSanitizer + UndefinedBehaviorSanitizer). `make test` uses both.

CC      ?= cc
PYTHON  ?= /usr/bin/python3
BUILD   := build

WARN    := -Wall -Wextra -Werror -Wshadow -Wcast-qual -Wmissing-prototypes \
           -Wstrict-prototypes -Wpointer-arith -Wformat=2 -Wvla -Wundef \
           -Wno-missing-field-initializers
BASE    := -std=c11 -D_GNU_SOURCE -Isrc -MMD -MP -pthread $(WARN)
REL_CF  := $(BASE) -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2
ASAN_CF := $(BASE) -O1 -g -fno-omit-frame-pointer \
           -fsanitize=address,undefined -fno-sanitize-recover=all
TSAN_CF := $(BASE) -O1 -g -fsanitize=thread
LDLIBS  := -pthread -lsodium -lcrypt -lseccomp -lssl -lcrypto

# Folders are the architecture (see README "Layout").
LIB_SRCS    := $(wildcard src/core/*.c src/event/*.c src/net/*.c \
                 src/protocol/*.c src/protocol/*/*.c src/storage/*.c \
                 src/policy/*.c)
SERVER_SRCS := $(filter-out src/server/main.c,$(wildcard src/server/*.c))
AUDIT_SRCS  := $(wildcard src/audit/*.c)
# unit tests named test_audit_*.c link with the audit tool minus its main()
AUDIT_LIB_SRCS := $(filter-out src/audit/main.c,$(AUDIT_SRCS))
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
BENCH_SRCS  := $(wildcard bench/*.c)

objs = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(2))

# Fuzzing (fuzz/fuzz.h): one libFuzzer harness per parser, fuzz/fuzz_NAME.c,
# with its seed corpus in fuzz/corpus/NAME/ and an optional fuzz/NAME.dict.
# `make fuzz` runs each for FUZZ_SECONDS with clang's libFuzzer; `make test`
# replays every corpus under ASan + UBSan through fuzz/replay.c (no engine).
# (gcc builds enforce -Werror; clang here only warns.)
FUZZ_NAMES   := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_CF      := $(filter-out -Werror,$(BASE)) -O1 -g -fno-omit-frame-pointer \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_BINS    := $(patsubst %,$(BUILD)/fuzz/bin/fuzz_%,$(FUZZ_NAMES))
REPLAY_BINS  := $(patsubst %,$(BUILD)/asan/fuzz/replay_%,$(FUZZ_NAMES))

.PHONY: all asan run test unit integration tsan-test audit-test ops-test package-test bench bench-scale bench-store clean deps-build deps-test deps-bench deps-package help \
        fuzz fuzz-build fuzz-replay fuzz-merge deps-fuzz soak
all: $(BUILD)/release/hardcached $(BUILD)/release/hardcache-audit

asan: $(BUILD)/asan/hardcached $(BUILD)/asan/hardcache-audit

define mode_rules
$(BUILD)/$(1)/%.o: %.c
	@mkdir -p $$(@D)
	$$(CC) $(2) -c $$< -o $$@

$(BUILD)/$(1)/hardcached: $(call objs,$(1),$(LIB_SRCS) $(SERVER_SRCS) src/server/main.c)
	$$(CC) $(2) $$^ -o $$@ $(LDLIBS)

$(BUILD)/$(1)/hardcache-audit: $(call objs,$(1),$(AUDIT_SRCS) $(wildcard src/core/*.c))
	$$(CC) $(2) $$^ -o $$@ $(LDLIBS)

$(BUILD)/$(1)/tests/test_audit_%: $(BUILD)/$(1)/tests/unit/test_audit_%.o $(call objs,$(1),$(AUDIT_LIB_SRCS) $(wildcard src/core/*.c))
	@mkdir -p $$(@D)
	$$(CC) $(2) $$^ -o $$@ $(LDLIBS)

$(BUILD)/$(1)/tests/%: $(BUILD)/$(1)/tests/unit/%.o $(call objs,$(1),$(LIB_SRCS) $(SERVER_SRCS))
	@mkdir -p $$(@D)
	$$(CC) $(2) $$^ -o $$@ $(LDLIBS)

UNIT_BINS_$(1) := $(patsubst tests/unit/%.c,$(BUILD)/$(1)/tests/%,$(UNIT_SRCS))
endef
$(eval $(call mode_rules,release,$(REL_CF)))
$(eval $(call mode_rules,asan,$(ASAN_CF)))
$(eval $(call mode_rules,tsan,$(TSAN_CF)))

$(BUILD)/fuzz/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CF) -c $< -o $@

$(BUILD)/fuzz/bin/fuzz_%: $(BUILD)/fuzz/fuzz/fuzz_%.o $(call objs,fuzz,$(LIB_SRCS) $(SERVER_SRCS))
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CF) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)

$(BUILD)/asan/fuzz/replay_%: $(BUILD)/asan/fuzz/fuzz_%.o $(BUILD)/asan/fuzz/replay.o \
                             $(call objs,asan,$(LIB_SRCS) $(SERVER_SRCS))
	$(CC) $(ASAN_CF) $^ -o $@ $(LDLIBS)

$(BUILD)/release/hcbench: $(call objs,release,$(BENCH_SRCS))
	$(CC) $(REL_CF) $^ -o $@ $(LDLIBS) -lm

# the storage engine alone (bench/store/store_bench.c; `make bench-store`)
$(BUILD)/release/store-bench: $(call objs,release,bench/store/store_bench.c $(LIB_SRCS))
	$(CC) $(REL_CF) $^ -o $@ $(LDLIBS)

deps-build: ; @scripts/deps.sh build
deps-test:  ; @scripts/deps.sh test
deps-bench: ; @scripts/deps.sh bench
deps-fuzz:  ; @scripts/deps.sh fuzz

# Start the server on its safe defaults: loopback only, UDP off. As root it
# must drop privileges, so it runs as `nobody` then (memcached does the same).
run: deps-build all
	@if [ "$$(id -u)" = 0 ]; then set -- -u nobody; else set --; fi; \
	exec $(BUILD)/release/hardcached "$$@" $(ARGS)

unit: all asan $(UNIT_BINS_release) $(UNIT_BINS_asan) $(BUILD)/release/store-bench
	@for t in $(UNIT_BINS_release) $(UNIT_BINS_asan); do \
	  echo "unit: $$t"; $$t || exit 1; done
	@echo "unit: store-bench smoke run"; $(BUILD)/release/store-bench -k 1000 -n 6400 -r 1 -m 64 >/dev/null

integration: all asan
	HC_BIN=$(CURDIR)/$(BUILD)/release/hardcached $(PYTHON) -m pytest -q tests/integration
	HC_BIN=$(CURDIR)/$(BUILD)/asan/hardcached $(PYTHON) -m pytest -q tests/integration

# ThreadSanitizer: the server with 4 workers under concurrent load
tsan-test: $(BUILD)/tsan/hardcached $(BUILD)/release/hcbench
	HC_TSAN_BIN=$(CURDIR)/$(BUILD)/tsan/hardcached HC_HCBENCH=$(CURDIR)/$(BUILD)/release/hcbench \
	  $(PYTHON) -m pytest -q tests/tsan

audit-test: all asan
	@if [ -d tests/audit ] && ls tests/audit/test_*.py >/dev/null 2>&1; then \
	  HC_AUDIT=$(CURDIR)/$(BUILD)/asan/hardcache-audit HC_BIN=$(CURDIR)/$(BUILD)/release/hardcached \
	  $(PYTHON) -m pytest -q tests/audit; fi

# Every committed fuzz input (seeds and the crashes fuzzing found) is a
# regression test.
fuzz-replay: $(REPLAY_BINS)
	@for n in $(FUZZ_NAMES); do \
	  $(BUILD)/asan/fuzz/replay_$$n fuzz/corpus/$$n || exit 1; done

fuzz-build: deps-fuzz $(FUZZ_BINS)

# New inputs go to build/fuzz/corpus/NAME (`make fuzz-merge` folds the ones
# that add coverage into fuzz/corpus/NAME); a crash stops the run and is
# left in build/fuzz/crashes/ to become a file of fuzz/corpus/NAME/.
fuzz: fuzz-build
	@for n in $(FUZZ_NAMES); do \
	  mkdir -p $(BUILD)/fuzz/corpus/$$n $(BUILD)/fuzz/crashes; \
	  dict=; [ -f fuzz/$$n.dict ] && dict=-dict=fuzz/$$n.dict; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  $(BUILD)/fuzz/bin/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/crashes/$$n- $$dict \
	    $(BUILD)/fuzz/corpus/$$n fuzz/corpus/$$n || exit 1; done

fuzz-merge: fuzz-build
	@for n in $(FUZZ_NAMES); do \
	  $(BUILD)/fuzz/bin/fuzz_$$n -merge=1 fuzz/corpus/$$n $(BUILD)/fuzz/corpus/$$n || exit 1; done

# Minutes of mixed and hostile load with one graceful restart (not in
# `make test`): SOAK_SECONDS=180, SOAK_BUILD=release or asan.
SOAK_SECONDS ?= 180
SOAK_BUILD   ?= release
soak: deps-test all asan
	HC_BIN=$(CURDIR)/$(BUILD)/$(SOAK_BUILD)/hardcached $(PYTHON) tests/soak/soak.py $(SOAK_SECONDS)

test: deps-test
	$(MAKE) unit
	$(MAKE) fuzz-replay
	$(MAKE) integration
	$(MAKE) tsan-test
	$(MAKE) audit-test
	$(MAKE) ops-test
	$(MAKE) package-test

# install, man pages, the systemd unit (fast; once, not per build flavour)
ops-test: all
	HC_BIN=$(CURDIR)/$(BUILD)/release/hardcached HC_AUDIT=$(CURDIR)/$(BUILD)/release/hardcache-audit \
	  $(PYTHON) -m pytest -q tests/ops

# build the .deb packages from a clean copy and install/remove them (slow)
# (without root and without the tools, the tests skip and say why)
package-test:
	@scripts/deps.sh package || echo "package-test: packaging tools missing, see above"
	$(PYTHON) -m pytest -q tests/package

deps-package: ; @scripts/deps.sh package

bench: deps-bench all $(BUILD)/release/hcbench
	bench/run.sh $(BENCH_ARGS)

bench-scale: deps-bench all $(BUILD)/release/hcbench
	bench/run.sh --scale-only $(BENCH_ARGS)

# The store alone, 32 B and 1 KiB values over 100,000 keys: ns per set and
# get, medians of 5 (no memcached: see bench/store/store_bench.c).
bench-store: deps-build $(BUILD)/release/store-bench
	taskset -c 0 $(BUILD)/release/store-bench -v 32 $(STORE_BENCH_ARGS)
	taskset -c 0 $(BUILD)/release/store-bench -v 1024 $(STORE_BENCH_ARGS)

clean:
	rm -rf $(BUILD)

help:
	@echo "make run | make test | make bench | make clean   (see README.md)"
	@echo "make install [PREFIX=/usr/local DESTDIR=] | make dist | make package-test"

include packaging/install.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
.PRECIOUS: $(BUILD)/%.o
.SECONDARY: $(patsubst %,$(BUILD)/asan/fuzz/fuzz_%.o,$(FUZZ_NAMES)) $(BUILD)/asan/fuzz/replay.o \
            $(patsubst %,$(BUILD)/fuzz/fuzz/fuzz_%.o,$(FUZZ_NAMES))
