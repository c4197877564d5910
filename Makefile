# hardcache: build, run, test and benchmark with one plain Makefile.
# Two builds live side by side: build/release (optimised) and build/asan
# (AddressSanitizer + UndefinedBehaviorSanitizer). `make test` uses both,
# and builds the release binaries and unit tests with clang (build/clang).

CC      ?= cc
CLANG   ?= clang
PYTHON  ?= /usr/bin/python3
BUILD   := build
# -Werror for developers and `make test`; packages build with WERROR=0, so a
# newer compiler's new warning cannot break a distribution's build.
WERROR  ?= 1

# Distributions pass their own flags (Debian: dpkg-buildflags, with PIE,
# BIND_NOW, RELRO, fortify, stack protector) in CPPFLAGS, CFLAGS, LDFLAGS and
# LDLIBS, from the environment or the command line. Ours are kept apart and
# come first, so theirs add to ours and win where they disagree.
USER_CF := $(CPPFLAGS) $(CFLAGS)
WARN    := -Wall -Wextra -Wshadow -Wcast-qual -Wmissing-prototypes \
           -Wstrict-prototypes -Wpointer-arith -Wformat=2 -Wvla -Wundef \
           -Wno-missing-field-initializers $(if $(filter 1,$(WERROR)),-Werror)
BASE    := -std=c11 -D_GNU_SOURCE -Isrc -MMD -MP -pthread $(WARN)
# a distribution that picks its own fortify level is not contradicted
FORTIFY := $(if $(findstring _FORTIFY_SOURCE,$(USER_CF)),,-D_FORTIFY_SOURCE=2)
REL_CF  := $(BASE) -O2 -g -fstack-protector-strong $(FORTIFY)
# the ASan build is also the debug build (-DHC_DEBUG): memcached-debug's
# `debugtime` moves its clock (src/server/control.h), HC_DEBUG_KILL_AT
# stops it where a crash hurts most (src/storage/store.c)
ASAN_CF := $(BASE) -O1 -g -fno-omit-frame-pointer -DHC_DEBUG \
           -fsanitize=address,undefined -fno-sanitize-recover=all
TSAN_CF := $(BASE) -O1 -g -fsanitize=thread
HC_LDFLAGS := -Wl,--as-needed

# Layers, bottom to top (README "Layout"): core, event, net, storage,
# policy, protocol, server; the audit tool is audit on top of core. Each
# layer is a static archive and programs link them top to bottom, so a call
# from a layer into one above it does not link (`make check-layers` links
# each layer with only those below it). Each layer names the libraries it
# uses, and a program links only the libraries of its layers.
LAYERS      := core event net storage policy protocol server
LAYERS_DOWN := audit server protocol policy storage net event core
LIBS_core   := -lsodium
LIBS_storage := -lxxhash -luring
LIBS_net    := -lssl -lcrypto
LIBS_policy := -lsodium -lcrypt
LIBS_server := -lseccomp
LIBS_audit  := -lssl -lcrypto
SERVER_STACK := $(LAYERS)
AUDIT_STACK  := audit core
layer_srcs   = $(filter-out src/$(1)/main.c,$(wildcard src/$(1)/*.c src/$(1)/*/*.c))
# the layers under $(1) in the list $(2)
layers_below = $(if $(filter $(1),$(firstword $(2))),,$(firstword $(2)) $(call layers_below,$(1),$(wordlist 2,99,$(2))))
LAYER_DEPS_audit := core
$(foreach l,$(LAYERS),$(eval LAYER_DEPS_$(l) := $(call layers_below,$(l),$(LAYERS))))
layer_order  = $(foreach l,$(LAYERS_DOWN),$(filter $(l),$(1)))
# archives of layers $(2) in build mode $(1), top first; their libraries
layer_libs   = $(patsubst %,$(BUILD)/$(1)/lib/libhc_%.a,$(call layer_order,$(2)))
layer_ldlibs = $(foreach l,$(call layer_order,$(1)),$(LIBS_$(l)))

# Unit tests, fuzzers and benchmarks link with the layers they test (the
# linker takes from each archive only what is called); one not listed
# here links with the whole server.
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_NAMES  := $(patsubst tests/unit/%.c,%,$(UNIT_SRCS))
# (tests grouped by the layers they link with)
link_with = $(foreach t,$(2),$(eval $(1)$(t) := $(3)))
$(call link_with,UNIT_LAYERS_test_,strnum,core)
$(call link_with,UNIT_LAYERS_test_,loop,event core)
$(call link_with,UNIT_LAYERS_test_,htab item size_class store store_walk persist flash_conf flash_dev flash_io flash_tier flash_recover flash_compact crawl,storage core)
$(call link_with,UNIT_LAYERS_test_,acl scram udp_guard,policy core)
$(call link_with,UNIT_LAYERS_test_,gate,protocol policy core)
$(call link_with,UNIT_LAYERS_test_,bin_parse meta text_parse udp_frame,protocol core)
$(call link_with,UNIT_LAYERS_test_,config_file,server core)
$(call link_with,UNIT_LAYERS_test_,sandbox,server storage core)
unit_layers = $(or $(UNIT_LAYERS_$(1)),$(if $(filter test_audit_%,$(1)),$(AUDIT_STACK),$(SERVER_STACK)))
BENCH_SRCS  := $(wildcard bench/*.c)

objs = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(2))

# Fuzzing (fuzz/fuzz.h): one libFuzzer harness per parser, fuzz/fuzz_NAME.c,
# with its seed corpus in fuzz/corpus/NAME/ and an optional fuzz/NAME.dict.
# `make fuzz` runs each for FUZZ_SECONDS with clang's libFuzzer; `make test`
# replays every corpus under ASan + UBSan through fuzz/replay.c (no engine).
FUZZ_NAMES   := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= $(CLANG)
FUZZ_CF      := $(BASE) -O1 -g -fno-omit-frame-pointer \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
$(call link_with,FUZZ_LAYERS_,acl password_file,policy core)
$(call link_with,FUZZ_LAYERS_,bin_parse meta text_parse udp_frame,protocol core)
$(call link_with,FUZZ_LAYERS_,listen_split,net core)
fuzz_layers = $(or $(FUZZ_LAYERS_$(1)),$(SERVER_STACK))
FUZZ_BINS    := $(patsubst %,$(BUILD)/fuzz/bin/fuzz_%,$(FUZZ_NAMES))
REPLAY_BINS  := $(patsubst %,$(BUILD)/asan/fuzz/replay_%,$(FUZZ_NAMES))

.PHONY: all asan run test unit unit-release clang-test check-layers FORCE integration tsan-test audit-test ops-test client-test package-test bench bench-scale bench-store bench-restart clean deps-build deps-test deps-bench deps-package help \
        fuzz fuzz-build fuzz-replay fuzz-merge deps-fuzz soak
all: $(BUILD)/release/hardcached $(BUILD)/release/hardcache-audit

asan: $(BUILD)/asan/hardcached $(BUILD)/asan/hardcache-audit

# Build modes: release, asan, tsan (the compiler is $(CC)) and fuzz ($(FUZZ_CC)).
CF_release := $(REL_CF)
CF_asan    := $(ASAN_CF)
CF_tsan    := $(TSAN_CF)
CF_fuzz    := $(FUZZ_CF)
CC_fuzz     = $(FUZZ_CC)
mode_cc     = $(or $(CC_$(1)),$(CC))
# compile and link lines of mode $(1)
cc_line     = $(call mode_cc,$(1)) $(CF_$(1)) $(USER_CF)
ld_line     = $(call cc_line,$(1)) $(HC_LDFLAGS) $(LDFLAGS)

define mode_rules
# Everything a mode builds depends on the flags it was built with, so a
# changed CC, CFLAGS, LDFLAGS or WERROR rebuilds it.
$(BUILD)/$(1)/flags: FORCE
	@mkdir -p $$(@D)
	@echo '$(call ld_line,$(1)) $(LDLIBS)' | cmp -s - $$@ || echo '$(call ld_line,$(1)) $(LDLIBS)' > $$@

$(BUILD)/$(1)/%.o: %.c $(BUILD)/$(1)/flags
	@mkdir -p $$(@D)
	$(call cc_line,$(1)) -c $$< -o $$@

UNIT_BINS_$(1) := $(patsubst %,$(BUILD)/$(1)/tests/%,$(UNIT_NAMES))
endef

# one archive per layer and mode
# (the member list is a file too, so a deleted source leaves the archive)
define layer_rules
$(BUILD)/$(1)/lib/libhc_$(2).list: FORCE
	@mkdir -p $$(@D)
	@echo '$(call layer_srcs,$(2))' | cmp -s - $$@ || echo '$(call layer_srcs,$(2))' > $$@

$(BUILD)/$(1)/lib/libhc_$(2).a: $(call objs,$(1),$(call layer_srcs,$(2))) $(BUILD)/$(1)/lib/libhc_$(2).list
	rm -f $$@ && $(AR) rcs $$@ $$(filter %.o,$$^)

# The layer's every object, linked with only the layers below it: an
# upward call is an undefined symbol here.
$(BUILD)/$(1)/lib/libhc_$(2).linked: $(BUILD)/$(1)/lib/main.o $(call layer_libs,$(1),$(2) $(LAYER_DEPS_$(2)))
	$(call ld_line,$(1)) $(BUILD)/$(1)/lib/main.o -Wl,--whole-archive $(BUILD)/$(1)/lib/libhc_$(2).a \
	  -Wl,--no-whole-archive $(call layer_libs,$(1),$(LAYER_DEPS_$(2))) \
	  -o $$@.bin $(call layer_ldlibs,$(2) $(LAYER_DEPS_$(2))) $(LDLIBS)
	rm -f $$@.bin && touch $$@
endef

# $(1) mode, $(2) program, $(3) its objects, $(4) its layers
define program_rule
$(2): $(3) $(call layer_libs,$(1),$(4))
	@mkdir -p $$(@D)
	$(call ld_line,$(1)) $$^ -o $$@ $(call layer_ldlibs,$(4)) $(LDLIBS) $(5)
endef

MODES := release asan tsan fuzz
$(foreach m,$(MODES),$(eval $(call mode_rules,$(m))))
$(foreach m,$(MODES),$(foreach l,$(LAYERS) audit,$(eval $(call layer_rules,$(m),$(l)))))
$(foreach m,release asan tsan,$(eval $(call program_rule,$(m),$(BUILD)/$(m)/hardcached,\
  $(BUILD)/$(m)/src/server/main.o,$(SERVER_STACK))))
$(foreach m,release asan tsan,$(eval $(call program_rule,$(m),$(BUILD)/$(m)/hardcache-audit,\
  $(BUILD)/$(m)/src/audit/main.o,$(AUDIT_STACK))))
$(foreach m,release asan tsan,$(foreach t,$(UNIT_NAMES),$(eval $(call program_rule,$(m),\
  $(BUILD)/$(m)/tests/$(t),$(BUILD)/$(m)/tests/unit/$(t).o,$(call unit_layers,$(t))))))
$(foreach n,$(FUZZ_NAMES),$(eval $(call program_rule,fuzz,$(BUILD)/fuzz/bin/fuzz_$(n),\
  $(BUILD)/fuzz/fuzz/fuzz_$(n).o,$(call fuzz_layers,$(n)),-fsanitize=fuzzer)))
$(foreach n,$(FUZZ_NAMES),$(eval $(call program_rule,asan,$(BUILD)/asan/fuzz/replay_$(n),\
  $(BUILD)/asan/fuzz/fuzz_$(n).o $(BUILD)/asan/fuzz/replay.o,$(call fuzz_layers,$(n)))))
$(eval $(call program_rule,release,$(BUILD)/release/hcbench,$(call objs,release,$(BENCH_SRCS)),,-lm -luring))
# the storage engine alone (bench/store/store_bench.c; `make bench-store`)
$(eval $(call program_rule,release,$(BUILD)/release/store-bench,\
  $(BUILD)/release/bench/store/store_bench.o,storage core))

# a main() for the layer link checks
$(BUILD)/%/lib/main.o: $(BUILD)/%/flags
	@mkdir -p $(@D)
	echo 'int main(void) { return 0; }' > $(@:.o=.c)
	$(call cc_line,$*) -c $(@:.o=.c) -o $@

# Layering: each layer links with only the layers below it, and the
# include graph of src/ has no upward include and no cycle between modules
# (scripts/check_layers.py; known defects in scripts/layers.allow).
check-layers: $(patsubst %,$(BUILD)/release/lib/libhc_%.linked,$(LAYERS) audit)
	$(PYTHON) scripts/check_layers.py src scripts/layers.allow

# The release binaries and unit tests built with clang as well, warnings
# as errors, in their own directory (CI runs only `make test`).
clang-test:
	$(MAKE) CC=$(CLANG) BUILD=$(BUILD)/clang WERROR=1 unit-release

unit-release: all $(UNIT_BINS_release)
	@for t in $(UNIT_BINS_release); do \
	  echo "unit: $$t"; $$t || exit 1; done

FORCE:

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

# The integration tests mostly wait on sockets and servers, so they run
# in PYTEST_JOBS processes (pytest-xdist; each test its own server on free
# ports): about 2x faster on 2 cores. PYTEST_JOBS=1, or no xdist: serial.
PYTEST_JOBS ?= 4
PYTEST_PAR = $(shell [ "$(PYTEST_JOBS)" -gt 1 ] 2>/dev/null && \
	$(PYTHON) -c 'import xdist' 2>/dev/null && echo "-n $(PYTEST_JOBS)")

integration: all asan
	HC_BIN=$(CURDIR)/$(BUILD)/release/hardcached $(PYTHON) -m pytest -q $(PYTEST_PAR) tests/integration
	HC_BIN=$(CURDIR)/$(BUILD)/asan/hardcached $(PYTHON) -m pytest -q $(PYTEST_PAR) tests/integration

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

# warnings are errors here, whatever WERROR says outside
test: deps-test
	$(MAKE) WERROR=1 check-layers
	$(MAKE) WERROR=1 unit
	$(MAKE) WERROR=1 clang-test
	$(MAKE) WERROR=1 fuzz-replay
	$(MAKE) WERROR=1 integration
	$(MAKE) WERROR=1 tsan-test
	$(MAKE) WERROR=1 audit-test
	$(MAKE) WERROR=1 ops-test
	$(MAKE) WERROR=1 client-test
	$(MAKE) package-test

# install, man pages, the systemd unit (fast; once, not per build flavour)
ops-test: all
	HC_BIN=$(CURDIR)/$(BUILD)/release/hardcached HC_AUDIT=$(CURDIR)/$(BUILD)/release/hardcache-audit \
	  $(PYTHON) -m pytest -q tests/ops

# the clients' own test suites (pymemcache, pylibmc, gomemcache,
# Cache::Memcached::Fast; php-memcached and spymemcached driven by a
# script each) against the release build, about a minute;
# CLIENT_SERVER=/usr/bin/memcached runs them against memcached instead
client-test: deps-test $(BUILD)/release/hardcached
	$(PYTHON) tests/clients/run_suites.py --server $(or $(CLIENT_SERVER),$(BUILD)/release/hardcached)

# build the .deb packages from a clean copy and install/remove them (slow)
# (without root and without the tools, the tests skip and say why)
package-test:
	@scripts/deps.sh package || echo "package-test: packaging tools missing, see above"
	$(PYTHON) -m pytest -q tests/package

deps-package: ; @scripts/deps.sh package

bench: deps-bench all $(BUILD)/release/hcbench
	bench/run.sh $(BENCH_ARGS)
	$(MAKE) --no-print-directory bench-flash

bench-scale: deps-bench all $(BUILD)/release/hcbench
	bench/run.sh --scale-only $(BENCH_ARGS)

# -e restart times, 1M and 10M items, graceful and kill -9, against
# memcached 1.6.45's warm restart (bench/restart.py; RESTART_ARGS)
bench-restart: deps-bench all
	MEMCACHED_REF=$$(scripts/memcached-ref.sh --build) $(PYTHON) bench/restart.py $(RESTART_ARGS)

# the flash tier (io_uring and pread threads) against memcached 1.6.45's
# extstore, RAM 1/8 of the data: 256 MiB by default (a few minutes),
# FLASH_ARGS=--full for the issue's 2 GiB in 3 rounds (bench/flash.py)
.PHONY: bench-flash
bench-flash: deps-bench all $(BUILD)/release/hcbench
	MEMCACHED_REF=$$(scripts/memcached-ref.sh --build) HCBENCH=$(CURDIR)/$(BUILD)/release/hcbench \
	  $(PYTHON) bench/flash.py $(FLASH_ARGS)

# hardcache-audit vs nmap's memcached-info, per host (root: a netns of its own)
.PHONY: bench-audit
bench-audit: deps-bench all
	bench/audit_vs_nmap.sh $(BENCH_AUDIT_RUNS)

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
