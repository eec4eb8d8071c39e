# libclarifai: `make` builds build/lib/libclarifai.so*, `make test` runs every test, `make demo`
# predicts an image's concepts against the local test server (or the real API with CLARIFAI_PAT).
SHELL := /bin/bash
VERSION := $(shell sed -n 's/^\#define CLARIFAI_VERSION_STRING "\(.*\)"/\1/p' Include/clarifai.h)
MAJOR := $(firstword $(subst ., ,$(VERSION)))
LIB_DIR := build/lib
REAL_LIB := $(LIB_DIR)/libclarifai.so.$(VERSION)
APT_PACKAGES := libcurl4-openssl-dev libssl-dev libjansson-dev zlib1g-dev pkg-config
# What the tests use beyond the build: memory checks, certificates, and the Debian packaging tools.
TEST_APT_PACKAGES := valgrind openssl lintian debootstrap dpkg-dev cmake man-db
# What the command-line tool builds on beyond the library: JSON and the SDK's YAML config file.
CLI_APT_PACKAGES := libjansson-dev libyaml-dev
VENV := .venv
PYTHON := $(VENV)/bin/python
SWIFT_SOURCES := $(shell find Sources Include -type f) Package.swift
CFLAGS_TEST := -std=c99 -Wall -Wextra -Werror -pedantic -g -IInclude

.PHONY: all deps test-deps cli-deps py-deps venv test test-swift test-python test-header test-bindings test-trixie demo clean install uninstall deb test-deb examples \
        bench bench-binaries bench-against bench-codec bench-bulk fuzz fuzz-replay check-asan check-tsan check-valgrind
PREFIX ?= /usr/local

all: $(REAL_LIB)

# Installs the system libraries the build needs when they are missing (as root; else says what to
# install and stops, except for Python's headers: the binding's C accelerator is optional, and
# without them the binding is installed without it and makes its objects in Python, more slowly).
deps: PACKAGES = $(APT_PACKAGES)
test-deps: PACKAGES = $(TEST_APT_PACKAGES)
cli-deps: PACKAGES = $(CLI_APT_PACKAGES)
py-deps: PACKAGES = python3-dev
WITHOUT_PACKAGES = echo "missing packages: $$missing (run: sudo apt-get install $$missing)"; exit 1
py-deps: WITHOUT_PACKAGES = echo "python3-dev is missing: the Python binding is installed without its C accelerator"
deps test-deps cli-deps py-deps:
	@missing=$$(for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing $$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else $(WITHOUT_PACKAGES); fi; \
	fi

# Release build, Swift runtime linked statically, only clarifai_* exported, SONAME libclarifai.so.1.
# lld, because GNU ld leaves GOT-referenced local Swift symbols in the dynamic symbol table; no
# $$ORIGIN RUNPATH (Debian forbids it); immediate binding (hardening). Exclusive access is
# checked at run time in the debug builds (swift test, check-asan, check-tsan), not in this one,
# where the checks cost ~1% of a call.
$(REAL_LIB): $(SWIFT_SOURCES) | deps
	swift build -c release --product clarifai --disable-local-rpath -Xswiftc -static-stdlib -Xswiftc -use-ld=lld \
	  -Xswiftc -enforce-exclusivity=unchecked \
	  -Xlinker --version-script=$(CURDIR)/Sources/Clarifai/exports.map -Xlinker -soname=libclarifai.so.$(MAJOR) \
	  -Xlinker -z -Xlinker now
	mkdir -p $(LIB_DIR)
	# Replaced by a rename, not overwritten: a process that has the old file mapped keeps it intact.
	cp .build/release/libclarifai.so $@.tmp && mv -f $@.tmp $@
	ln -sf libclarifai.so.$(VERSION) $(LIB_DIR)/libclarifai.so.$(MAJOR)
	ln -sf libclarifai.so.$(MAJOR) $(LIB_DIR)/libclarifai.so

PY_BINDING := $(shell find Bindings/python -type f \( -name '*.py' -o -name '*.c' -o -name '*.toml' -o -name '*.md' -o -name py.typed \) -not -path '*/build/*')

venv: $(VENV)/.installed $(VENV)/.binding

$(VENV)/.installed: Tests/Server/requirements.txt Tests/Python/requirements-engine.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q -r Tests/Server/requirements.txt -r Tests/Python/requirements-engine.txt
	touch $@

# The Python package, reinstalled whenever its files change.
$(VENV)/.binding: $(VENV)/.installed $(PY_BINDING) | py-deps
	$(PYTHON) -m pip install -q ./Bindings/python
	rm -rf Bindings/python/build Bindings/python/libclarifai.egg-info
	touch $@

build/tests/test_capi: Tests/C/test_capi.c Include/clarifai.h $(REAL_LIB)
	mkdir -p build/tests
	gcc $(CFLAGS_TEST) -pthread -o $@ $< -L$(LIB_DIR) -lclarifai -Wl,-rpath,$(CURDIR)/$(LIB_DIR)

build/tests/load: Tests/C/load.c Include/clarifai.h $(REAL_LIB)
	mkdir -p build/tests
	gcc $(CFLAGS_TEST) -O2 -pthread -o $@ $< -L$(LIB_DIR) -lclarifai -Wl,-rpath,$(CURDIR)/$(LIB_DIR)

# The command-line tool (Bindings/cli), a C program on the public API.
build/bin/clarifai-cli: Bindings/cli/clarifai-cli.c Include/clarifai.h $(REAL_LIB) | cli-deps
	mkdir -p build/bin
	gcc -std=c99 -Wall -Wextra -Werror -pedantic -O2 -IInclude -pthread -o $@ $< -L$(LIB_DIR) -lclarifai -ljansson -lyaml \
	  -Wl,-rpath,$(CURDIR)/$(LIB_DIR)

EXAMPLES := predict stream call predict_async
examples: $(addprefix build/examples/,$(EXAMPLES))
build/examples/%: Bindings/c/examples/%.c Include/clarifai.h $(REAL_LIB)
	mkdir -p build/examples
	gcc -std=c99 -Wall -Wextra -Werror -pedantic -O2 -IInclude -o $@ $< -L$(LIB_DIR) -lclarifai -Wl,-rpath,$(CURDIR)/$(LIB_DIR)

# Library (SONAME + links), clarifai.h, clarifai.pc, CMake package under $(PREFIX); lib dir
# $(PREFIX)/lib, or /usr/lib/<triplet> for PREFIX=/usr (LIBDIR=... overrides); DESTDIR stages.
install: all
	PREFIX="$(PREFIX)" LIBDIR="$(LIBDIR)" DESTDIR="$(DESTDIR)" Bindings/c/install.sh

uninstall:
	PREFIX="$(PREFIX)" LIBDIR="$(LIBDIR)" DESTDIR="$(DESTDIR)" Bindings/c/install.sh --uninstall

# build/deb/libclarifai1_<version>_<arch>.deb and libclarifai-dev_..., checked by lintian.
deb: all | test-deps
	Bindings/debian/build-deb.sh

# The packages in a debootstrapped bookworm without Swift (root; base cached in build/cleanroom),
# the README example compiled there with pkg-config and run against the local test server.
test-deb: deb venv
	Bindings/debian/clean-room-test.sh

test: test-header test-swift test-python test-deb test-bindings test-trixie

# The public header compiles as strict C99 and as C++11.
test-header:
	gcc -std=c99 -Wall -Wextra -Werror -pedantic -fsyntax-only -x c Include/clarifai.h
	g++ -std=c++11 -Wall -Wextra -Werror -pedantic -fsyntax-only -x c++ Include/clarifai.h
	@echo "header: C99 and C++11 clean"

test-swift: | deps
	swift test

# pytest drives everything that needs the local server: the C test program, the ctypes tests,
# the comparisons with the official client, and the library's packaging checks.
test-python: all venv build/tests/test_capi build/tests/load examples build/bin/clarifai-cli | test-deps
	LIBCLARIFAI_PATH=$(CURDIR)/$(REAL_LIB) $(PYTHON) -m pytest -q Tests/Server Tests/Python Tests/Fuzz

# The Go and Rust bindings (Bindings/go, Bindings/rust) built against build/lib, their tests and
# examples run on REST and cleartext gRPC against the local server (Tests/Bindings/run.sh). Debian's
# toolchains are installed when a command is missing (command:package; a rustup toolchain will do).
BINDINGS_TOOLS := go:golang-go rustc:rustc cargo:cargo
test-bindings: all $(VENV)/.installed
	@missing=$$(for tool in $(BINDINGS_TOOLS); do command -v $${tool%%:*} >/dev/null || echo $${tool#*:}; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing" $$missing; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing packages:" $$missing "(run: sudo apt-get install" $$missing")"; exit 1; fi; \
	fi
	$(PYTHON) Tests/Server/run_with_server.py -- Tests/Bindings/run.sh

# The C suite on Debian 13 (trixie, libcurl 8.14) in a debootstrapped chroot, cached in
# build/cleanroom (root; about 35 s the first time, 10 s after), against the local test server.
test-trixie: all venv | test-deps
	$(PYTHON) Tests/Server/run_with_server.py --tls -- Tests/Trixie/run.sh

demo: all venv build/examples/predict
	@if [ -n "$$CLARIFAI_PAT" ]; then \
	  ./build/examples/predict general-image-recognition https://samples.clarifai.com/metro-north.jpg; \
	else \
	  $(PYTHON) Tests/Server/run_with_server.py -- ./build/examples/predict general-image-recognition https://samples.clarifai.com/metro-north.jpg; \
	fi

# The C suite and the load test under sanitizers, each against a fresh local server: a debug build
# of the library instrumented by swiftc, the C programs by the same clang (its runtimes).
SANITIZED_CC := /opt/swift/usr/bin/clang -std=c99 -g -O1 -IInclude -pthread
SWIFT_RUNTIME := $(dir $(shell readlink -f $$(command -v swift)))../lib/swift/linux
RUN_WITH_SERVER := $(PYTHON) Tests/Server/run_with_server.py --tls --

check-asan: venv | deps
	swift build -c debug --product clarifai --scratch-path .build-asan -Xswiftc -sanitize=address
	mkdir -p build/asan
	$(SANITIZED_CC) -fsanitize=address -o build/asan/test_capi Tests/C/test_capi.c -L.build-asan/debug -lclarifai \
	  -Wl,-rpath,$(CURDIR)/.build-asan/debug 2>&1 | grep -v 'Cannot export' || true
	for channel in rest grpc grpcs; do ASAN_OPTIONS=detect_leaks=1 CLARIFAI_TEST_CHANNEL=$$channel $(RUN_WITH_SERVER) build/asan/test_capi || exit 1; done

check-tsan: venv | deps
	swift build -c debug --product clarifai --scratch-path .build-tsan -Xswiftc -sanitize=thread
	mkdir -p build/tsan
	$(SANITIZED_CC) -fsanitize=thread -o build/tsan/load Tests/C/load.c -L.build-tsan/debug -lclarifai \
	  -L$(SWIFT_RUNTIME) -ldispatch -lBlocksRuntime -Wl,-rpath,$(CURDIR)/.build-tsan/debug -Wl,-rpath,$(SWIFT_RUNTIME) \
	  2>&1 | grep -v 'Cannot export' || true
	for channel in rest grpc grpcs; do TSAN_OPTIONS=halt_on_error=1 $(RUN_WITH_SERVER) build/tsan/load $$channel 16 40 || exit 1; done
	TSAN_OPTIONS=halt_on_error=1 $(RUN_WITH_SERVER) build/tsan/load grpcs 16 40 3

check-valgrind: all venv build/tests/test_capi
	LIBCLARIFAI_PATH=$(CURDIR)/$(REAL_LIB) $(PYTHON) -m pytest -q Tests/Python/test_c_program.py -k valgrind

# Client benchmarks beside the official clients and raw libcurl (not part of `make test`): local
# responders (nginx for REST, a libnghttp2 server for gRPC), writes Tests/Benchmarks/RESULTS.md
# and RESULTS.png. About 5 minutes.
BENCH_APT_PACKAGES := nginx-light libnghttp2-dev valgrind
BENCH_CFLAGS := -std=gnu11 -O2 -Wall -Wextra -pthread
bench-binaries: all venv
	@missing=$$(for p in $(BENCH_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing packages: $$missing (run: sudo apt-get install $$missing)"; exit 1; fi; fi
	$(PYTHON) -m pip install -q -r Tests/Benchmarks/requirements.txt
	mkdir -p build/bench
	gcc $(BENCH_CFLAGS) -o build/bench/grpc_responder Tests/Benchmarks/grpc_responder.c -lnghttp2 -lssl -lcrypto
	gcc $(BENCH_CFLAGS) -IInclude -o build/bench/bench_curl Tests/Benchmarks/bench_curl.c -lcurl
	gcc $(BENCH_CFLAGS) -o build/bench/slow_responder Tests/Benchmarks/slow_responder.c
	gcc $(BENCH_CFLAGS) -IInclude -o build/bench/bench_clarifai Tests/Benchmarks/bench_clarifai.c -L$(LIB_DIR) -lclarifai -Wl,-rpath,$(CURDIR)/$(LIB_DIR)

bench: bench-binaries
	$(PYTHON) Tests/Benchmarks/bench.py

# 8 threads over TLS gRPC against an earlier commit's library, side by side (not part of `make
# test`): COMMIT (default 514a450, the library when issue 19 was filed) built in build/against,
# then Tests/Benchmarks/against.py, which writes Tests/Benchmarks/AGAINST_RESULTS.md. About a
# minute plus that build.
COMMIT ?= 514a450
bench-against: bench-binaries
	rm -rf build/against && mkdir -p build/against
	git archive $(COMMIT) | tar -x -C build/against
	$(MAKE) -C build/against all
	$(PYTHON) Tests/Benchmarks/against.py --baseline-lib build/against/build/lib --baseline-label $(COMMIT)

# Codec MB/s against the official Python runtime (not part of `make test`); writes
# Tests/Benchmarks/CODEC_RESULTS.md. Best on a quiet machine.
bench-codec: all venv
	LIBCLARIFAI_PATH=$(CURDIR)/$(REAL_LIB) $(PYTHON) Tests/Benchmarks/codec_bench.py

# Bulk prediction, 10,000 inputs by URL in batches of 32 and 128 (not part of `make test`):
# libclarifai predict_many (C, Python) and async calls (C) against the official clients (V2Stub in a
# thread pool, grpc.aio) on grpc_responder (h2c and TLS), then predict_many under the test server's
# 15 requests/s limit. Writes the "Bulk prediction" section of Tests/Benchmarks/RESULTS.md and
# build/bench/bulk.json. About 3 minutes.
BULK_APT_PACKAGES := libnghttp2-dev libssl-dev
bench-bulk: all venv
	@missing=$$(for p in $(BULK_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing packages: $$missing (run: sudo apt-get install $$missing)"; exit 1; fi; fi
	mkdir -p build/bench
	gcc $(BENCH_CFLAGS) -o build/bench/grpc_responder Tests/Benchmarks/grpc_responder.c -lnghttp2 -lssl -lcrypto
	gcc $(BENCH_CFLAGS) -IInclude -o build/bench/bulk_clarifai Tests/Benchmarks/bulk_clarifai.c -L$(LIB_DIR) -lclarifai -Wl,-rpath,$(CURDIR)/$(LIB_DIR)
	$(PYTHON) Tests/Benchmarks/bulk_bench.py --lib $(CURDIR)/$(REAL_LIB)

# libFuzzer + ASan on the codec, FUZZ_SECONDS per direction; failing inputs land in Tests/Fuzz/crashes/.
FUZZ_SECONDS ?= 300
fuzz: | deps
	Tests/Fuzz/run.sh $(FUZZ_SECONDS)

# Replays Tests/Fuzz/regressions/ and crashes/ through the instrumented targets.
fuzz-replay: | deps
	Tests/Fuzz/run.sh --replay

clean:
	rm -rf build .build .build-fuzz .build-asan .build-tsan
