#!/usr/bin/env bash
# run.sh: builds the Go and Rust bindings (Bindings/go, Bindings/rust) against the tree's library
# (build/lib, Include/) and runs their tests and examples on REST and cleartext gRPC. Run it under
# the local test server, which sets CLARIFAI_API_BASE, CLARIFAI_GRPC_BASE and CLARIFAI_PAT:
#
#   .venv/bin/python Tests/Server/run_with_server.py -- Tests/Bindings/run.sh
#
# `make test-bindings` does, after installing go and cargo when they are missing. Nothing is
# downloaded: go.mod requires no module, Cargo.toml no crate. Builds go to build/bindings/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LIB=$ROOT/build/lib
OUT=$ROOT/build/bindings
: "${CLARIFAI_API_BASE:?run under Tests/Server/run_with_server.py}" "${CLARIFAI_GRPC_BASE:?}"

# clarifai.pc for the tree, written as Bindings/c/install.sh writes it for an installed library.
mkdir -p "$OUT/pkgconfig"
VERSION=$(sed -n 's/^#define CLARIFAI_VERSION_STRING "\(.*\)"/\1/p' "$ROOT/Include/clarifai.h")
sed -e "s|@prefix@|$ROOT|g" -e "s|@libdir@|\${prefix}/build/lib|g" -e "s|@includedir@|\${prefix}/Include|g" \
    -e "s|@VERSION@|$VERSION|g" "$ROOT/Bindings/c/clarifai.pc.in" > "$OUT/pkgconfig/clarifai.pc"

# Go: cgo reads `#cgo pkg-config: clarifai`; the run path lets test binaries load build/lib.
export PKG_CONFIG_PATH=$OUT/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export CGO_LDFLAGS="-Wl,-rpath,$LIB" GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local
# Rust: build.rs links build/lib from CLARIFAI_LIB_DIR, with a run path too.
export CLARIFAI_LIB_DIR=$LIB CARGO_TARGET_DIR=$OUT/cargo

# An example prints one line per concept: the local server gives the image 20.
twenty_concepts() {
  local lines
  lines=$("$@" | wc -l)
  [ "$lines" = 20 ] || { echo "$*: printed $lines lines, want 20" >&2; exit 1; }
}

# The first example of a README for `language`, as pasted.
readme_example() { awk -v fence='```'"$1" '$0 == fence { on = 1; next } on && $0 == "```" { exit } on' "$2"; }

cd "$ROOT/Bindings/go"
echo "== Go: $(go version)"
go vet ./...
go test -race -count=1 ./...
twenty_concepts go run ./examples/predict
twenty_concepts go run ./examples/predict -transport grpc-insecure
# The README's program in a module of its own, with the go.mod lines the README gives.
mkdir -p "$OUT/readme-go"
readme_example go README.md > "$OUT/readme-go/main.go"
printf 'module readme\n\ngo 1.19\n\nrequire clarifai v0.0.0\n\nreplace clarifai => %s\n' "$PWD" > "$OUT/readme-go/go.mod"
(cd "$OUT/readme-go" && twenty_concepts go run .)

cd "$ROOT/Bindings/rust"
echo "== Rust: $(cargo --version), $(rustc --version)"
cargo test --offline
twenty_concepts cargo run --offline --quiet --example predict
twenty_concepts cargo run --offline --quiet --example predict -- --grpc-insecure
# The README's program in a crate of its own: no run path for it, as the README says.
mkdir -p "$OUT/readme-rust/src"
readme_example rust README.md > "$OUT/readme-rust/src/main.rs"
printf '[package]\nname = "readme"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nclarifai = { path = "%s" }\n' \
  "$PWD" > "$OUT/readme-rust/Cargo.toml"
(cd "$OUT/readme-rust" && LD_LIBRARY_PATH=$LIB twenty_concepts cargo run --offline --quiet)
echo "== Go and Rust bindings: all passed"
