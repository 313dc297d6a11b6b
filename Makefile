# kamer — plain Makefile. `make` builds build/release/kamer; `make check` runs everything.
# Objects live in build/<mode>/; sources are found by wildcard so that adding a
# file to a module folder needs no change here.

MODE ?= release
BUILD := build/$(MODE)
CC ?= cc
V ?= 0
ifeq ($(V),0)
Q := @
else
Q :=
endif

PKGS := libwebsockets nice glib-2.0 libsrtp2 jansson sqlite3 openssl opus vpx libcurl libqrencode
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcrack -lpthread -lm
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter -Wno-format-zero-length
CFLAGS_COMMON := -std=c17 -D_GNU_SOURCE -I. $(PKG_CFLAGS) $(WARN) -MMD -MP -DKM_WEB_DIR='"$(CURDIR)/web"' \
	-DKM_VERSION='"$(VERSION)"' -DKM_GIT_REV='"$(GIT_REV)"'
ifeq ($(MODE),asan)
CFLAGS_MODE := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS_MODE := -fsanitize=address,undefined
else
CFLAGS_MODE := -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2
LDFLAGS_MODE :=
endif
CFLAGS := $(CFLAGS_COMMON) $(CFLAGS_MODE) $(EXTRA_CFLAGS)
LDFLAGS := $(LDFLAGS_MODE)

# Layering: a module's unit tests link only the modules it may depend on.
MODULES := core media rooms certs signaling
DEPS_core := core
DEPS_media := media core
DEPS_rooms := rooms core
DEPS_certs := certs core
DEPS_signaling := signaling rooms certs media core

srcs = $(wildcard $(1)/*.c)
objs = $(patsubst %.c,$(BUILD)/%.o,$(call srcs,$(1)))
LIB_OBJS := $(foreach m,$(MODULES),$(call objs,$(m)))
CLI_OBJS := $(call objs,cli)

UNIT_SRCS := $(wildcard tests/unit/*/*_test.c)
UNIT_BINS := $(patsubst %.c,$(BUILD)/%,$(UNIT_SRCS))
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst %.c,$(BUILD)/%,$(TOOL_SRCS))

.PHONY: all asan unit tools check run deps fuzz-build fuzz crashtest bench clean
.SECONDARY:
.DEFAULT_GOAL := all

all: $(BUILD)/kamer

$(BUILD)/kamer: $(CLI_OBJS) $(LIB_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(PKG_LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $(MODE) $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# The files that print the revision are rebuilt when HEAD moves: the file
# below is rewritten only when the revision differs.
$(BUILD)/revision: FORCE
	@mkdir -p $(dir $@)
	$(Q)echo '$(GIT_REV)' | cmp -s - $@ || echo '$(GIT_REV)' >$@
$(BUILD)/cli/main.o $(BUILD)/signaling/api.o: $(BUILD)/revision
.PHONY: FORCE

# tests/unit/<module>/<name>_test.c links the objects of <module> and its deps.
define unit_rule
$(BUILD)/tests/unit/$(1)/%_test: tests/unit/$(1)/%_test.c $(foreach d,$(DEPS_$(1)),$(call objs,$(d)))
	@mkdir -p $$(dir $$@)
	@echo "  LD      $$@"
	$(Q)$$(CC) $$(CFLAGS) -Wno-missing-prototypes -o $$@ $$< $(foreach d,$(DEPS_$(1)),$(call objs,$(d))) $$(LDFLAGS) $$(PKG_LIBS) $$(CMOCKA_LIBS)
endef
$(foreach m,$(MODULES),$(eval $(call unit_rule,$(m))))

unit: $(UNIT_BINS)

$(BUILD)/tests/tools/%: tests/tools/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -Wno-missing-prototypes -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(PKG_LIBS)

# tests/peer/: the headless C WebRTC test peer (kamer-peer) on the media/
# code; tests/unit/peer/*_test.c link its objects except main.c.
PEER_SRCS := $(wildcard tests/peer/*.c)
PEER_LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(filter-out tests/peer/main.c,$(PEER_SRCS)))
MEDIA_OBJS := $(call objs,media) $(call objs,core)
PEER_BIN := $(if $(wildcard tests/peer/main.c),$(BUILD)/kamer-peer)

$(BUILD)/kamer-peer: $(BUILD)/tests/peer/main.o $(PEER_LIB_OBJS) $(MEDIA_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/unit/peer/%_test: tests/unit/peer/%_test.c $(PEER_LIB_OBJS) $(MEDIA_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -Wno-missing-prototypes -o $@ $< $(PEER_LIB_OBJS) $(MEDIA_OBJS) $(LDFLAGS) $(PKG_LIBS) $(CMOCKA_LIBS)

tools: $(TOOL_BINS) $(PEER_BIN)

asan:
	$(MAKE) MODE=asan all unit tools

# libFuzzer harnesses: tests/fuzz/<module>/<name>_fuzz.c, linked (like unit
# tests) with the clang-built objects of <module> and its deps only.
FUZZ_SRCS := $(wildcard tests/fuzz/*/*_fuzz.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build/fuzz/bin/%,$(FUZZ_SRCS))
fobjs = $(patsubst %.c,build/fuzz/%.o,$(call srcs,$(1)))
FUZZ_CFLAGS := -std=c17 -D_GNU_SOURCE -I. $(PKG_CFLAGS) -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-zero-length \
	-g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -MMD -MP \
	-DKM_VERSION='"$(VERSION)"' -DKM_GIT_REV='"$(GIT_REV)"'

build/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      fuzz $<"
	$(Q)clang $(FUZZ_CFLAGS) -c -o $@ $<

define fuzz_rule
build/fuzz/bin/$(1)/%_fuzz: tests/fuzz/$(1)/%_fuzz.c $(foreach d,$(DEPS_$(1)),$(call fobjs,$(d)))
	@mkdir -p $$(dir $$@)
	@echo "  LD      $$@"
	$(Q)clang $$(FUZZ_CFLAGS) -fsanitize=fuzzer -o $$@ $$(filter %.c %.o,$$^) $$(PKG_LIBS)
endef
$(foreach m,$(MODULES),$(eval $(call fuzz_rule,$(m))))

fuzz-build: $(FUZZ_BINS)

FUZZ_SECONDS ?= 600
fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_SECONDS)

# kill -9 at random moments under a mixed write load, 1,000 times (make check
# runs 100): every acknowledged write must survive, the audit chain verify.
crashtest: deps all
	KAMER_BIN=build/release/kamer CRASH_TRIALS=1000 node tests/crash/crash_test.mjs

# kamer against Janus (VideoRoom) and an ideal forwarder, side by side
# (bench/README.md). Needs root; QUICK=1 for a small run.
bench: deps all tools
	tests/bench/run.sh $(if $(QUICK),--quick)

deps:
	@tools/deps.sh

check: deps
	$(MAKE) all unit tools
	$(MAKE) asan
	$(MAKE) fuzz-build
	tests/run.sh

# As root, kamer serve drops to the user `kamer` (docs/operations.md): make
# it on a fresh machine, give it the default data folder and a copy of web/
# (the checkout may be in a folder only root can enter).
run: deps all
	@if [ "$$(id -u)" = 0 ]; then \
		id kamer >/dev/null 2>&1 || useradd --system --home-dir /var/lib/kamer --shell /usr/sbin/nologin kamer; \
		install -d -m 0700 -o kamer -g kamer var; \
		rm -rf var/web && cp -r web var/web; \
		chown -R kamer:kamer var; \
		KAMER_WEB_DIR=var/web $(BUILD)/kamer serve; \
	else \
		$(BUILD)/kamer serve; \
	fi

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
