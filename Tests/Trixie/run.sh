#!/usr/bin/env bash
# The C test suite (Tests/C/test_capi.c) on Debian 13 (trixie), whose libcurl 8.14 takes the
# library's paths for libcurl 8 and later (reused cleartext HTTP/2 connections, streams sharing
# the TLS connection and paused alone), which Debian 12's libcurl 7.88 never takes
# (`make test-trixie`, part of `make test`).
#
# A minimal trixie (debootstrap --variant=minbase with gcc and the library's runtime packages),
# cached in build/cleanroom/base-trixie-<arch> (about 35 s to create, REFRESH_BASE=1 redoes it).
# The library built on the host (build/lib), the header and the test are copied in, the test is
# compiled there, and run with an empty environment on REST, cleartext gRPC and TLS gRPC against
# the local test server on the host (the chroot shares the host's network). Then keepalive.c
# holds a quiet stream open against Tests/Server/faults.py, which counts the HTTP/2 PINGs that
# libcurl 8.10 and later send for clarifai_channel_set_keepalive_ms. Needs root.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ARCH=$(dpkg --print-architecture)
BASE=${CLEANROOM_DIR:-$ROOT/build/cleanroom}/base-trixie-$ARCH
MIRROR=${MIRROR:-http://deb.debian.org/debian}
PACKAGES=gcc,libc6-dev,libcurl4t64,libjansson4,libssl3t64,zlib1g
WORK=/tmp/clarifai-test  # inside the chroot

die() { echo "test-trixie: FAILED: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"

if [ -n "${REFRESH_BASE:-}" ] || [ ! -x "$BASE/usr/bin/gcc" ]; then
  echo "=== creating the cached trixie base (debootstrap, done once)"
  rm -rf "$BASE" "$BASE.tmp"
  mkdir -p "$(dirname "$BASE")"
  debootstrap --variant=minbase --include="$PACKAGES" trixie "$BASE.tmp" "$MIRROR" > "$BASE.log" 2>&1 \
    || die "debootstrap failed, see $BASE.log"
  mv "$BASE.tmp" "$BASE"
fi
echo "=== trixie: $(chroot "$BASE" dpkg-query -W -f '${Package} ${Version}\n' libcurl4t64 libssl3t64 | tr '\n' ' ')"

rm -rf "${BASE:?}$WORK"
mkdir -p "$BASE$WORK"
trap 'rm -rf "${BASE:?}$WORK"' EXIT
cp -a "$ROOT"/build/lib/libclarifai.so* "$ROOT/Include/clarifai.h" "$ROOT/Tests/C/test_capi.c" "$ROOT/Tests/Trixie/keepalive.c" \
  "$BASE$WORK/"
for program in test_capi keepalive; do
  chroot "$BASE" gcc -std=c99 -Wall -Wextra -Werror -pedantic -g -I$WORK -pthread -o $WORK/$program $WORK/$program.c \
    -L$WORK -lclarifai -Wl,-rpath,$WORK
done
[ -n "${CLARIFAI_ROOT_CERTIFICATES_PATH:-}" ] || die "run it through Tests/Server/run_with_server.py --tls"
cp "$CLARIFAI_ROOT_CERTIFICATES_PATH" "$BASE$WORK/ca.pem"

status=0
for channel in rest grpc grpcs; do
  output=$(chroot "$BASE" env -i CLARIFAI_API_BASE="$CLARIFAI_API_BASE" CLARIFAI_GRPC_BASE="$CLARIFAI_GRPC_BASE" \
    CLARIFAI_GRPCS_BASE="$CLARIFAI_GRPCS_BASE" CLARIFAI_PAT="$CLARIFAI_PAT" CLARIFAI_ROOT_CERTIFICATES_PATH=$WORK/ca.pem \
    CLARIFAI_TEST_CHANNEL=$channel CLARIFAI_TEST_EXACT_STREAM_END=1 $WORK/test_capi 2>&1) || status=1
  echo "trixie $channel: $(tail -n 1 <<< "$output")"
  [ $status = 0 ] || { echo "$output" | tail -n 20; break; }
done
[ $status = 0 ] || die "the C suite failed on trixie"

# The fault server in front of the local one; its READY line names its ports.
faults_out=$(mktemp)
"$ROOT/.venv/bin/python" "$ROOT/Tests/Server/faults.py" --upstream-rest "$CLARIFAI_API_BASE" \
  --upstream-grpc "$CLARIFAI_GRPC_BASE" > "$faults_out" &
faults_pid=$!
trap 'kill $faults_pid 2>/dev/null; rm -f "$faults_out"; rm -rf "${BASE:?}$WORK"' EXIT
for _ in $(seq 100); do grep -q '^READY' "$faults_out" && break; sleep 0.1; done
read -r rest_port grpc_port < <(sed -n 's/^READY rest=\([0-9]*\) grpc=\([0-9]*\).*/\1 \2/p' "$faults_out")
[ -n "$grpc_port" ] || die "faults.py did not start: $(cat "$faults_out")"
chroot "$BASE" env -i CLARIFAI_GRPC_BASE=127.0.0.1:$grpc_port CLARIFAI_PAT="$CLARIFAI_PAT" $WORK/keepalive \
  || die "the keepalive stream failed"
pings=$(curl -s "http://127.0.0.1:$rest_port/_faults/pings" | sed -n 's/.*"pings": *\([0-9]*\).*/\1/p')
echo "trixie keepalive: $pings HTTP/2 PINGs in 2.5 s at a 300 ms interval"
[ "${pings:-0}" -ge 2 ] || die "expected at least 2 keepalive PINGs, the server saw ${pings:-none}"
