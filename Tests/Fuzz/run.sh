#!/usr/bin/env bash
# Fuzzes libclarifai's codec (clarifai_proto_to_json, clarifai_json_to_proto) with libFuzzer + ASan.
#
#   Tests/Fuzz/run.sh [SECONDS_PER_TARGET]   build, then fuzz each target for that long (default 300)
#   Tests/Fuzz/run.sh --replay [FILE...]     build, then run every file of Tests/Fuzz/regressions/ and
#                                            Tests/Fuzz/crashes/ (or the files given) once through both
#                                            targets; non-zero when one of them fails
#   Tests/Fuzz/run.sh --build                build only
# CLARIFAI_FUZZ_NO_BUILD=1 skips the build (reuses the last one, e.g. while others build).
# Exits non-zero when a target crashes (memory error, leak, failed round trip, timeout, OOM). The
# input is kept in Tests/Fuzz/crashes/<target>-crash-<sha1> with the log, Swift names demangled, in
# the same name + .log.
#
# How: the library is built on its own (swift build --scratch-path .build-fuzz, never the Makefile's
# .build) in debug mode with -sanitize=address and SanitizerCoverage (-sanitize-coverage=edge,
# trace-cmp,inline-8bit-counters,pc-table), which leaves the ASan and coverage hooks undefined in
# libclarifai.so. fuzz_codec.c is compiled twice with clang -fsanitize=fuzzer,address: the
# executable carries libFuzzer and the ASan runtime and resolves the library's hooks, so libFuzzer
# sees the library's edges and ASan checks its memory. No change to Package.swift is needed.
#
# Environment: CLARIFAI_FUZZ_SCRATCH (default .build-fuzz), CLARIFAI_FUZZ_CONFIG (debug|release,
# default debug), CLANG, FUZZ_ARGS (more libFuzzer flags, e.g. "-jobs=2 -workers=2"), and the
# checks' switches read by fuzz_codec.c: CLARIFAI_FUZZ_LAX=1 (round trips must only succeed),
# CLARIFAI_FUZZ_CANONICAL=1 (JSON -> binary must not depend on key order),
# CLARIFAI_FUZZ_TOLERATE="error text|..." (let a known, reported round-trip failure pass).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
FUZZ="$ROOT/Tests/Fuzz"
SCRATCH="${CLARIFAI_FUZZ_SCRATCH:-$ROOT/.build-fuzz}"
CONFIG="${CLARIFAI_FUZZ_CONFIG:-debug}"
CLANG="${CLANG:-/opt/swift/usr/bin/clang}"
SYMBOLIZER="$(dirname "$CLANG")/llvm-symbolizer"
BIN="$SCRATCH/fuzzers"
WORK="$SCRATCH/fuzz-corpus"   # corpora grown by libFuzzer (the seeds in Tests/Fuzz/corpus stay as they are)
TARGETS=(fuzz_proto_to_json fuzz_json_to_proto)

mode=fuzz seconds=300 files=()
case "${1:-}" in
  --replay) mode=replay; shift; files=("$@") ;;
  --build) mode=build ;;
  "") ;;
  *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET] | --replay [FILE...] | --build" >&2; exit 2 ;;
  *) seconds="$1" ;;
esac

build() {
  local swift_flags=(-Xswiftc -sanitize=address
                     -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table)
  [ "$CONFIG" = release ] && swift_flags+=(-Xswiftc -g)
  echo "== building the instrumented library ($CONFIG, $SCRATCH)"
  (cd "$ROOT" && swift build -c "$CONFIG" --scratch-path "$SCRATCH" --product clarifai "${swift_flags[@]}")
  local lib_dir="$SCRATCH/$CONFIG"
  mkdir -p "$BIN"
  for target in "${TARGETS[@]}"; do
    local define=-DFUZZ_BINARY
    [ "$target" = fuzz_json_to_proto ] && define=-DFUZZ_JSON
    "$CLANG" -g -O1 -std=c99 -Wall -Wextra -Werror -fsanitize=fuzzer,address -fuse-ld=lld "$define" \
      -I"$ROOT/Include" -o "$BIN/$target" "$FUZZ/fuzz_codec.c" \
      -L"$lib_dir" -lclarifai -Wl,-rpath,"$lib_dir"
  done
  echo "== built ${TARGETS[*]} in $BIN"
}

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:symbolize=1:detect_stack_use_after_return=1}"
export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-$SYMBOLIZER}"
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"  # libFuzzer and ASan print the stacks

demangle() {  # Swift symbols in a log, readable
  if command -v swift-demangle >/dev/null; then swift-demangle --simplified; else cat; fi
}

seeds_of() { [ "$1" = fuzz_json_to_proto ] && echo "$FUZZ/corpus/json" || echo "$FUZZ/corpus/binary"; }

fuzz() {
  local target="$1" status=0
  local log="$SCRATCH/$target.log"
  mkdir -p "$WORK/$target" "$FUZZ/crashes"
  local extra=()
  [ "$target" = fuzz_json_to_proto ] && extra+=(-dict="$FUZZ/codec.dict")
  echo "== $target for ${seconds}s (log: $log)"
  # shellcheck disable=SC2086
  "$BIN/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -print_final_stats=1 -artifact_prefix="$FUZZ/crashes/$target-" "${extra[@]}" ${FUZZ_ARGS:-} \
    "$WORK/$target" "$(seeds_of "$target")" >"$log" 2>&1 || status=$?
  grep -E '^(INFO: Loaded|#[0-9]+[[:space:]]+(INITED|DONE))|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" || true
  if [ "$status" -ne 0 ]; then
    local artifact
    artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)"
    demangle <"$log" >"${artifact:-$FUZZ/crashes/$target-unknown}.log"
    echo "!! $target failed (exit $status): input ${artifact:-?}, log ${artifact:-$FUZZ/crashes/$target-unknown}.log"
    grep -m1 -E 'ERROR: |\*\*\* codec check failed|SUMMARY' "$log" || true
    if [ -n "$artifact" ]; then echo "   input as hex: $(od -An -tx1 -v "$artifact" | tr -d ' \n' | cut -c1-400)"; fi
  fi
  return "$status"
}

replay() {
  local list=("${files[@]}")
  if [ "${#list[@]}" -eq 0 ]; then
    shopt -s nullglob
    list=("$FUZZ"/regressions/* "$FUZZ"/crashes/*)
    shopt -u nullglob
    local kept=()
    for f in "${list[@]}"; do case "$f" in *.log|*.md|*/.gitignore) ;; *) kept+=("$f") ;; esac; done
    list=("${kept[@]+"${kept[@]}"}")
  fi
  if [ "${#list[@]}" -eq 0 ]; then echo "nothing to replay"; return 0; fi
  local failed=0
  for target in "${TARGETS[@]}"; do
    echo "== $target: ${#list[@]} inputs"
    "$BIN/$target" -runs=1 "${list[@]}" >"$SCRATCH/$target.replay.log" 2>&1 || {
      failed=1; echo "!! $target failed:"; demangle <"$SCRATCH/$target.replay.log" | grep -E 'Running:|ERROR|codec check|SUMMARY|#[0-9]+ ' | head -20; }
  done
  return "$failed"
}

if [ -z "${CLARIFAI_FUZZ_NO_BUILD:-}" ] || [ "$mode" = build ] || [ ! -x "$BIN/${TARGETS[0]}" ]; then build; fi
case "$mode" in
  build) exit 0 ;;
  replay) replay; exit $? ;;
esac
failed=0
for target in "${TARGETS[@]}"; do
  fuzz "$target" || failed=1
done
[ "$failed" -eq 0 ] && echo "== no crash" || echo "== crashes kept in $FUZZ/crashes"
exit "$failed"
