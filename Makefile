# neurond — one non-recursive Makefile. `make help` lists the targets.
.DEFAULT_GOAL := all
.SUFFIXES:

comma := ,
SANITIZE ?=
BUILD ?= build
ifneq ($(SANITIZE),)
BUILD := build/san-$(subst $(comma),-,$(SANITIZE))
SANFLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
BIN := bin
ifneq ($(SANITIZE),)
BIN := $(BUILD)/bin
endif

CC ?= cc
OPT ?= -O2
PKGS := openblas libmicrohttpd libcjson sqlite3 libpq gnutls gmime-3.0 libprotobuf-c
WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
CFLAGS_ALL = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARN) $(OPT) -g -MMD -MP \
	$(SANFLAGS) $(PKG_CFLAGS) -I. -I$(BUILD)/gen $(CFLAGS)
LDLIBS_ALL = $(SANFLAGS) $(PKG_LIBS) -lpthread -lm $(LDFLAGS)

# Toolchain flags for the libraries come from pkg-config once the packages are there:
# build/config.mk is made by scripts/deps.sh + pkg-config, then make restarts with it.
NODEPS_GOALS := help clean format format-check
ifeq ($(filter $(NODEPS_GOALS),$(MAKECMDGOALS)),)
-include build/config.mk
endif
build/config.mk: scripts/deps.sh Makefile
	@mkdir -p build
	@scripts/deps.sh
	@{ echo "PKG_CFLAGS := $$(pkg-config --cflags $(PKGS))"; \
	   echo "PKG_LIBS := $$(pkg-config --libs $(PKGS))"; \
	   echo "CMOCKA_LIBS := $$(pkg-config --libs cmocka)"; } > $@

# The library, one folder and one archive per concern; arrows only downward:
# server, cli -> model -> tab, mail -> nn (docs/architecture.md).
NN_SRC := $(wildcard nn/*.c)
TAB_SRC := $(wildcard tab/*.c)
MAIL_SRC := $(wildcard mail/*.c)
MODEL_SRC := $(wildcard model/*.c)
LIB_SRC := $(MODEL_SRC) $(TAB_SRC) $(MAIL_SRC) $(NN_SRC)
SRV_SRC := $(filter-out server/main.c,$(wildcard server/*.c))
CLI_SRC := $(wildcard cli/*.c) $(wildcard server/main.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
BENCH_SRC := $(wildcard bench/bench_*.c)

NN_OBJ := $(NN_SRC:%.c=$(BUILD)/%.o)
TAB_OBJ := $(TAB_SRC:%.c=$(BUILD)/%.o)
MAIL_OBJ := $(MAIL_SRC:%.c=$(BUILD)/%.o)
MODEL_OBJ := $(MODEL_SRC:%.c=$(BUILD)/%.o)
# ONNX (model/onnx_*.c): protobuf-c's code for Debian's onnx.proto (libonnx-dev), generated at
# build time with protoc-c and linked into libmodel.a.
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
MODEL_OBJ += $(BUILD)/gen/onnx.pb-c.o
SRV_OBJ := $(SRV_SRC:%.c=$(BUILD)/%.o)
# The schema migrations are compiled into the binary (server/store_migrations.h).
MIGRATIONS := $(sort $(wildcard migrations/*.sql))
MIGRATIONS_PG := $(sort $(wildcard migrations/pg/*.sql))
# So are the OpenAPI document and the dashboard's files (server/assets.h).
ASSETS := docs/openapi.json $(sort $(wildcard web/*.html web/*.js web/*.css web/*.svg web/*.png))
ifneq ($(SRV_SRC),)
SRV_OBJ += $(BUILD)/gen/migrations.o $(BUILD)/gen/migrations_pg.o $(BUILD)/gen/assets.o
endif
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# The network maths links alone: every object of libnn.a, -lopenblas -lm and nothing else, no
# include path but the repository's (tests/link/nn_only.c; run with the unit tests).
UNIT_BIN += $(BUILD)/tests/test_link_nn_only
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# The version is the VERSION file's, plus the git revision when built from a checkout; the two
# objects that print it get it as -D and are rebuilt when either changes.
NEUROND_VERSION := $(shell cat VERSION 2>/dev/null)
GIT_REV := $(shell git rev-parse --short=12 HEAD 2>/dev/null)
VERSION_DEFS := -DNEUROND_VERSION='"$(NEUROND_VERSION)"' -DNEUROND_GIT_REV='"$(GIT_REV)"'
VERSION_OBJ := $(BUILD)/cli/main.o $(BUILD)/server/api_kserve.o
$(VERSION_OBJ): CFLAGS_ALL += $(VERSION_DEFS)
$(VERSION_OBJ): $(BUILD)/gen/version.txt
$(BUILD)/gen/version.txt: FORCE
	@mkdir -p $(dir $@)
	@echo '$(NEUROND_VERSION) $(GIT_REV)' | cmp -s - $@ || echo '$(NEUROND_VERSION) $(GIT_REV)' > $@
FORCE:

# The man page, made from the help texts of the binary (scripts/man.py); installed nowhere.
$(BUILD)/neurond.1: $(BIN)/neurond scripts/man.py
	@mkdir -p $(dir $@)
	/usr/bin/python3 scripts/man.py $(BIN)/neurond > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/migrations.c: $(MIGRATIONS) scripts/embed-migrations.sh scripts/embed-lib.sh
	@mkdir -p $(dir $@)
	scripts/embed-migrations.sh $(MIGRATIONS) > $@

$(BUILD)/gen/migrations.o: $(BUILD)/gen/migrations.c
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/gen/migrations_pg.c: $(MIGRATIONS_PG) scripts/embed-migrations.sh scripts/embed-lib.sh
	@mkdir -p $(dir $@)
	scripts/embed-migrations.sh --prefix store_pg $(MIGRATIONS_PG) > $@

$(BUILD)/gen/migrations_pg.o: $(BUILD)/gen/migrations_pg.c
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/gen/assets.c: $(ASSETS) scripts/embed-files.sh scripts/embed-lib.sh
	@mkdir -p $(dir $@)
	scripts/embed-files.sh $(ASSETS) > $@

$(BUILD)/gen/assets.o: $(BUILD)/gen/assets.c
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/gen/onnx%pb-c.c $(BUILD)/gen/onnx%pb-c.h: $(ONNX_PROTO)
	@mkdir -p $(BUILD)/gen
	protoc-c -I$(dir $(ONNX_PROTO)) --c_out=$(BUILD)/gen $(ONNX_PROTO)

$(BUILD)/gen/onnx.pb-c.o: $(BUILD)/gen/onnx.pb-c.c
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(MODEL_SRC:%.c=$(BUILD)/%.o) $(CLI_OBJ) $(SRV_OBJ) $(UNIT_SRC:%.c=$(BUILD)/%.o): | $(BUILD)/gen/onnx.pb-c.h

# One archive per layer, from that layer's objects.
$(BUILD)/libnn.a: $(NN_OBJ)
$(BUILD)/libtab.a: $(TAB_OBJ)
$(BUILD)/libmail.a: $(MAIL_OBJ)
$(BUILD)/libmodel.a: $(MODEL_OBJ)
$(BUILD)/libsrv.a: $(SRV_OBJ)
$(BUILD)/lib%.a:
	@rm -f $@
	ar rcs $@ $^

SRV_LIB := $(if $(SRV_OBJ),$(BUILD)/libsrv.a)
# Link order: users before what they use.
LIBS_A = $(SRV_LIB) $(BUILD)/libmodel.a $(BUILD)/libtab.a $(BUILD)/libmail.a $(BUILD)/libnn.a

$(BIN)/neurond: $(CLI_OBJ) $(LIBS_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CLI_OBJ) $(LIBS_A) -o $@ $(LDLIBS_ALL)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBS_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $< $(LIBS_A) -o $@ $(CMOCKA_LIBS) $(LDLIBS_ALL)

$(BUILD)/tests/test_link_nn_only: tests/link/nn_only.c $(BUILD)/libnn.a
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(OPT) $(SANFLAGS) -I. $< \
	    -Wl,--whole-archive $(BUILD)/libnn.a -Wl,--no-whole-archive -o $@ -lopenblas -lm

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIBS_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $< $(LIBS_A) -o $@ $(LDLIBS_ALL)

.PHONY: all help test test-unit test-api test-api-pg test-browser test-docker test-fresh bench run clean format format-check soak test-torture man docs compile_commands.json test-slowloris

test-torture: $(BUILD)/tests/test_torture ## full tier: fail each allocation in turn (loading, CSV, training)
	@NEUROND_TORTURE_FULL=1 $(BUILD)/tests/test_torture

test-slowloris: $(BIN)/neurond ## full tier: 2,000 slow connections for 60 s; another client's p99 < 50 ms
	@/usr/bin/python3 tests/api/slowloris.py --neurond $(BIN)/neurond

SOAK_MINUTES ?= 10
soak: $(BIN)/neurond ## 10 minutes of mixed load (SOAK_MINUTES=): zero 5xx, no lost job, flat RSS
	@BIN=$(BIN) /usr/bin/python3 scripts/soak.py --minutes $(SOAK_MINUTES)

all: $(BIN)/neurond $(BUILD)/neurond.1 ## build bin/neurond and its man page (installs missing packages first)

man: $(BUILD)/neurond.1 ## make the man page build/neurond.1 from the help texts (man -l build/neurond.1)

docs: $(BIN)/neurond ## rewrite docs/openapi.json and docs/api.md's parameter table from the binary's table (then make)
	BIN=$(BIN) /usr/bin/python3 scripts/openapi.py > docs/openapi.json.tmp && mv docs/openapi.json.tmp docs/openapi.json
	BIN=$(BIN) /usr/bin/python3 scripts/params-doc.py --write

compile_commands.json: ## the compilation database for editors (clangd), recorded by bear from a build in build/cc
	@scripts/deps.sh bear
	rm -rf build/cc
	bear --output $@ -- $(MAKE) --no-print-directory BUILD=build/cc BIN=build/cc/bin \
	    build/cc/bin/neurond $(patsubst $(BUILD)/%,build/cc/%,$(UNIT_BIN) $(BENCH_BIN))

test: $(BIN)/neurond $(UNIT_BIN) ## build and run every test (unit + API + browser); ends with a summary line
	@scripts/deps.sh test
	@BIN=$(BIN) BUILD=$(BUILD) scripts/run-tests.sh all

test-unit: $(BIN)/neurond $(UNIT_BIN) ## run the C unit tests only (unit + CLI + nn/ linked alone, tests/link)
	@scripts/deps.sh test
	@BIN=$(BIN) BUILD=$(BUILD) scripts/run-tests.sh unit

test-api: $(BIN)/neurond ## run the API tests only (real daemon over loopback HTTP)
	@scripts/deps.sh test
	@BIN=$(BIN) BUILD=$(BUILD) scripts/run-tests.sh api

test-api-pg: $(BIN)/neurond ## the API tests with every daemon on a throwaway PostgreSQL (--store)
	@scripts/deps.sh test
	@NEUROND_TEST_STORE=postgresql BIN=$(BIN) BUILD=$(BUILD) scripts/run-tests.sh api

test-browser: $(BIN)/neurond ## run the dashboard test in headless Chromium (screenshot: build/dashboard.png)
	@scripts/deps.sh test
	@BIN=$(BIN) BUILD=$(BUILD) scripts/run-tests.sh browser
test-docker: ## build the Docker image and test it end to end (starts a private dockerd if none runs; root)
	@scripts/deps.sh docker
	@tests/docker/run.sh

test-fresh: ## the README's commands in a new bare Debian container (SUITE=bookworm|trixie; root, docker)
	@scripts/deps.sh docker
	@tests/fresh/run.sh

bench: $(BIN)/neurond $(BENCH_BIN) ## build and run the benchmarks (prints figures; not a test)
	@scripts/deps.sh bench
	@BIN=$(BIN) BUILD=$(BUILD) scripts/run-bench.sh

run: $(BIN)/neurond ## build and start the daemon on 127.0.0.1:8080 (data in ./data/)
	@mkdir -p data
	$(BIN)/neurond serve $(ARGS)

format: ## reformat the C sources with clang-format
	clang-format -i $(wildcard nn/*.[ch] tab/*.[ch] mail/*.[ch] model/*.[ch] server/*.[ch] cli/*.[ch] tests/unit/*.[ch] tests/link/*.[ch] bench/*.[ch] tests/fuzz/*.[ch])

format-check: ## check the C sources against .clang-format (CI)
	clang-format --dry-run -Werror $(wildcard nn/*.[ch] tab/*.[ch] mail/*.[ch] model/*.[ch] server/*.[ch] cli/*.[ch] tests/unit/*.[ch] tests/link/*.[ch] bench/*.[ch] tests/fuzz/*.[ch])

clean: ## remove build outputs
	rm -rf build bin

help: ## list the targets
	@echo "neurond make targets (SANITIZE=address,undefined or thread for sanitizer builds):"
	@grep -hE '^[a-z_.-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | awk -F'\t' '{printf "  %-22s %s\n", $$1, $$2}'

.SECONDARY:
-include $(shell find $(BUILD) -path $(BUILD)/docker -prune -o -name '*.d' -type f -print 2>/dev/null)

# ---- fuzzing (libFuzzer + ASan + UBSan, clang) ------------------------------------------------
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(PKG_CFLAGS) -I. -Ibuild/gen $(VERSION_DEFS)

build/fuzz/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) $(LIB_SRC) $(SRV_SRC) build/gen/migrations.c build/gen/migrations_pg.c build/gen/assets.c build/gen/onnx.pb-c.c
	@scripts/deps.sh fuzz
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $< $(LIB_SRC) build/gen/onnx.pb-c.c $(if $(filter fuzz_srv_%,$*),$(SRV_SRC) build/gen/migrations.c build/gen/migrations_pg.c build/gen/assets.c) -o $@ $(PKG_LIBS) -lpthread -lm

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_BIN) ## build the libFuzzer targets (tests/fuzz/)

fuzz: $(FUZZ_BIN) ## run every fuzz target for FUZZ_SECONDS (default 60) on its seed corpus
	@scripts/deps.sh fuzz
	@for f in $(FUZZ_BIN); do \
	    name=$${f##*/fuzz_}; corpus=tests/fuzz/corpus_$$name; work=build/fuzz/work_$$name; \
	    mkdir -p $$work; echo "== fuzz $$name ($(FUZZ_SECONDS) s)"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	        -artifact_prefix=build/fuzz/crash_$$name- $$work $$corpus > $$work.log 2>&1; rc=$$?; \
	    tail -3 $$work.log; \
	    if [ $$rc -ne 0 ]; then echo "fuzz $$name: FAILED (see $$work.log)"; exit 1; fi; \
	done

.PHONY: quality
# AUTO=1 adds GridSearchCV over the MLP and neurond's auto (60 s each split), and the spam model
# with auto: about 15 minutes on 2 cores (docs/quality.md); SPLITS=N changes the 5 splits per set.
quality: $(BIN)/neurond ## neurond's defaults against scikit-learn LR and MLP(64) on every bundled set; AUTO=1 adds GridSearchCV and auto (slow; docs/quality.md)
	@scripts/deps.sh quality
	@/usr/bin/python3 -W ignore bench/quality.py $(BIN)/neurond $(if $(filter-out 0,$(AUTO)),--auto) $(if $(SPLITS),--splits $(SPLITS))
	@/usr/bin/python3 bench/quality_drift.py $(BIN)/neurond

.PHONY: quality-drift
quality-drift: $(BIN)/neurond ## learning from feedback under a drift (spam): accuracy/AUC after each retrain, warm vs full retrain (docs/quality.md)
	@/usr/bin/python3 bench/quality_drift.py $(BIN)/neurond
