#!/usr/bin/env bash
# clean-room-test.sh: installs the .deb packages of build/deb/ on a machine that has never seen
# Swift and runs the README's C example there against the local test server (`make test-deb`).
#
# 1. chroot variant (needs root, debootstrap and chroot): a minimal Debian bookworm
#    (debootstrap --variant=minbase --include=gcc,libc6-dev,pkg-config) from the mirror the host's
#    apt uses, cached in build/cleanroom/base-<suite>-<arch> (about 2.5 min to create, 420 MB);
#    every run starts from a fresh overlayfs on it (or a copy); there `dpkg -i` the three packages
#    (libclarifai1, libclarifai-dev, clarifai-tools), `apt-get -f install` their Depends from the
#    distribution, check that no Swift is anywhere, compile the README's ```c block with
#    `gcc app.c $(pkg-config --cflags --libs clarifai)` and the examples call.c and stream.c, and
#    run them and the installed clarifai-cli with an empty environment (env -i) against the local
#    test server on the host (the chroot shares the host's network): 20 concept lines, a REST
#    call, a gRPC stream, `clarifai-cli methods` (273) and `clarifai-cli predict` (20 concepts).
# 2. extract variant (always runs; needs no privileges): `dpkg -x` the packages into a folder,
#    compile the same example against the extracted header and clarifai.pc, run it and the
#    extracted clarifai-cli with `env -i LD_LIBRARY_PATH=<folder>/usr/lib/<triplet>` against the
#    local test server.
#
# When the chroot variant cannot run, the script says so loudly and runs the extract variant
# anyway; it then exits 0, unless REQUIRE_CHROOT=1 (exit 3). Any failing check exits non-zero.
#
# Environment: DEB_DIR (the packages; default build/deb), CLEANROOM_DIR (default build/cleanroom),
# SUITE (bookworm), MIRROR (default: the host's apt source for $SUITE), REFRESH_BASE=1 rebuilds the
# cached base, KEEP=1 keeps the run's chroot (a full copy then, not an overlay) for inspection,
# SKIP_CHROOT=1 runs the extract variant only.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CR=${CLEANROOM_DIR:-$ROOT/build/cleanroom}
SUITE=${SUITE:-bookworm}
ARCH=$(dpkg --print-architecture)
TRIPLET=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
PYTHON=$ROOT/.venv/bin/python
WITH_SERVER=$ROOT/Tests/Server/run_with_server.py
BASE=$CR/base-$SUITE-$ARCH
RUN=$CR/run-$SUITE-$ARCH
EXTRACT=$CR/extract
BASE_PACKAGES=gcc,libc6-dev,pkg-config
EXPECTED_CONCEPTS=20

START=$(date +%s.%N)
TIMINGS=()
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
timed() {  # timed LABEL COMMAND...: runs the command, records how long it took
  local label=$1 t0 status=0; shift
  t0=$(now)
  "$@" || status=$?
  TIMINGS+=("$label: $(elapsed "$t0") s")
  return $status
}
say() { printf '\n=== %s\n' "$*"; }
die() { echo "clean-room-test.sh: FAILED: $*" >&2; exit 1; }
loud() {
  {
    echo
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    echo "!!! clean-room-test.sh: $*"
    echo "!!! The chroot (debootstrap) variant did NOT run; only the dpkg -x + env -i variant ran."
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    echo
  } >&2
}

VERSION=$(sed -n 's/^#define CLARIFAI_VERSION_STRING "\(.*\)"/\1/p' "$ROOT/Include/clarifai.h")
DEB_VERSION=$(dpkg-parsechangelog -l "$ROOT/Bindings/debian/changelog" -SVersion)
DEB_DIR=${DEB_DIR:-$ROOT/build/deb}
RUNTIME_DEB=$DEB_DIR/libclarifai${VERSION%%.*}_${DEB_VERSION}_${ARCH}.deb
DEV_DEB=$DEB_DIR/libclarifai-dev_${DEB_VERSION}_${ARCH}.deb
TOOLS_DEB=$DEB_DIR/clarifai-tools_${DEB_VERSION}_${ARCH}.deb
for deb in "$RUNTIME_DEB" "$DEV_DEB" "$TOOLS_DEB"; do
  [ -f "$deb" ] || die "$deb is missing: build the packages first (make deb)"
done
[ -x "$PYTHON" ] || die "$PYTHON is missing: create the test server's venv first (make venv)"

mkdir -p "$CR"
exec 9>"$CR/.lock"
flock -n 9 || die "another clean-room test is running (lock $CR/.lock)"

# The README's first ```c block, as pasted.
APP_C=$CR/app.c
awk '/^```c$/ { inside = 1; next } inside && /^```/ { exit } inside { print }' "$ROOT/README.md" > "$APP_C"
[ -s "$APP_C" ] || die "no \`\`\`c block in README.md"

# Checks the example's output: exactly 20 lines "name: 0.123", nothing on stderr.
check_concepts() {  # check_concepts STDOUT_FILE STDERR_FILE
  local lines good
  lines=$(wc -l < "$1")
  good=$(grep -cE '^[A-Za-z0-9_]+: [01]\.[0-9]{3}$' "$1" || true)
  if [ "$lines" != "$EXPECTED_CONCEPTS" ] || [ "$good" != "$EXPECTED_CONCEPTS" ] || [ -s "$2" ]; then
    echo "--- stdout"; cat "$1"; echo "--- stderr"; cat "$2"
    return 1
  fi
  echo "README example: $lines concept lines, e.g. $(head -1 "$1")"
}

# Checks clarifai-cli's outputs: `methods` (every method), `predict` (a URL's concepts as a table).
check_cli() {  # check_cli METHODS_FILE PREDICT_FILE
  local methods concepts
  methods=$(wc -l < "$1")
  concepts=$(grep -cE '^  .+ [01]\.[0-9]{4}$' "$2" || true)
  if [ "$methods" != 273 ] || [ "$concepts" != "$EXPECTED_CONCEPTS" ]; then
    echo "--- methods: $methods lines"; echo "--- predict"; cat "$2"
    return 1
  fi
  echo "clarifai-cli: methods $methods, predict $concepts concepts, e.g. $(sed -n 2p "$2" | tr -s ' ')"
}

# ---------------------------------------------------------------------------------------------
# Mounts and cleanup
# ---------------------------------------------------------------------------------------------
mounts_under() {  # the mount points at or below $1, deepest first
  local dir
  dir=$(realpath -m "$1")
  awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r
}
unmount_all() {  # unmount_all DIR: everything mounted under DIR; fails if something stays
  local m
  for m in $(mounts_under "$1"); do umount "$m" 2>/dev/null || umount -l "$m" || true; done
  [ -z "$(mounts_under "$1")" ]
}
remove_tree() {  # remove_tree DIR: never deletes through a mount point
  [ -e "$1" ] || return 0
  unmount_all "$1" || die "cannot unmount everything under $1; not deleting it"
  rm -rf --one-file-system "$1"
}
cleanup() {
  local status=$?
  unmount_all "$CR" || echo "clean-room-test.sh: WARNING: mounts left under $CR: $(mounts_under "$CR")" >&2
  if [ "${KEEP:-0}" != 1 ]; then rm -rf --one-file-system "$RUN" "$RUN.upper" "$RUN.work" 2>/dev/null || true; fi
  rm -rf --one-file-system "$BASE.tmp" 2>/dev/null || true
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The host's apt sources for the suite: "URI SUITE" lines (one-line and deb822 formats).
host_sources() {
  python3 - "$SUITE" <<'EOF'
import glob, re, sys
suite = sys.argv[1]
found = []
def add(uri, suites, components):
    for s in suites:
        if (s == suite or s.startswith(suite + "-")) and "main" in components:
            found.append((uri.rstrip("/"), s))
files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list"))
for path in files:
    try:
        text = open(path).read()
    except OSError:
        continue
    for line in text.splitlines():
        line = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
        if len(line) >= 4 and line[0] == "deb":
            add(line[1], [line[2]], line[3:])
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in re.split(r"\n\s*\n", open(path).read()):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.split()
        if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"]) != ["no"]:
            for uri in fields.get("uris", []):
                add(uri, fields.get("suites", []), fields.get("components", []))
for uri, s in dict.fromkeys(found):
    print(uri, s)
EOF
}

# ---------------------------------------------------------------------------------------------
# 1. chroot variant
# ---------------------------------------------------------------------------------------------
chroot_unavailable_reason() {
  [ "${SKIP_CHROOT:-0}" = 1 ] && { echo "SKIP_CHROOT=1"; return; }
  [ "$(id -u)" = 0 ] || { echo "not running as root (debootstrap and chroot need root)"; return; }
  command -v chroot >/dev/null || { echo "chroot is not installed"; return; }
  if ! command -v debootstrap >/dev/null; then
    echo "installing debootstrap" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; } >/dev/null 2>&1 ||
      { echo "debootstrap is not installed and apt-get install debootstrap failed"; return; }
  fi
  [ -n "$(host_sources)" ] || { echo "no apt source for $SUITE main in /etc/apt/sources.list{,.d} (set MIRROR=...)"; return; }
  echo ""
}

make_base() {
  local mirror sources
  sources=$(host_sources)
  mirror=${MIRROR:-$(awk -v s="$SUITE" '$2 == s { print $1; exit }' <<<"$sources")}
  [ -n "$mirror" ] || { echo "no apt source for suite $SUITE itself (set MIRROR=...)" >&2; return 1; }
  remove_tree "$BASE.tmp"
  echo "debootstrap --variant=minbase --include=$BASE_PACKAGES $SUITE $BASE.tmp $mirror"
  if ! debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$BASE.tmp" "$mirror" > "$CR/debootstrap.log" 2>&1; then
    tail -20 "$CR/debootstrap.log" >&2
    unmount_all "$BASE.tmp" || true
    echo "debootstrap failed (log: $CR/debootstrap.log)" >&2
    return 1
  fi
  # The host's suites (updates, security) too, so the chroot gets what the host has.
  { [ -n "${MIRROR:-}" ] && echo "deb $MIRROR $SUITE main"; awk '{ print "deb " $1 " " $2 " main" }' <<<"$sources"; } |
    awk '!seen[$0]++' > "$BASE.tmp/etc/apt/sources.list"
  cp /etc/resolv.conf "$BASE.tmp/etc/resolv.conf"
  mount -t proc proc "$BASE.tmp/proc"
  chroot "$BASE.tmp" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin apt-get update -qq > "$CR/apt-update.log" 2>&1 ||
    { cat "$CR/apt-update.log" >&2; unmount_all "$BASE.tmp"; return 1; }
  chroot "$BASE.tmp" apt-get clean
  unmount_all "$BASE.tmp"
  echo "$SUITE $ARCH $BASE_PACKAGES $mirror" > "$BASE.tmp/.clarifai-cleanroom-base"
  remove_tree "$BASE"
  mv "$BASE.tmp" "$BASE"
}

fresh_root() {  # $RUN: an overlayfs over $BASE (writes go to $RUN.upper), or a copy of it
  remove_tree "$RUN"
  remove_tree "$RUN.upper"
  remove_tree "$RUN.work"
  mkdir -p "$RUN" "$RUN.upper" "$RUN.work" || return 1
  if [ "${KEEP:-0}" != 1 ] && mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$RUN.upper,workdir=$RUN.work" "$RUN" 2>/dev/null; then
    echo "overlayfs: $RUN (base $BASE, writes in $RUN.upper)"
  else
    rmdir "$RUN.upper" "$RUN.work"
    echo "copying the base (no overlayfs here, or KEEP=1)"
    cp -a "$BASE/." "$RUN"
  fi
}

in_chroot() {  # in_chroot COMMAND...: runs a shell command in the run chroot, empty environment
  chroot "$RUN" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive /bin/sh -c "$*"
}

chroot_variant() {
  if [ "${REFRESH_BASE:-0}" = 1 ] || [ ! -f "$BASE/.clarifai-cleanroom-base" ]; then
    say "creating the cached $SUITE base (debootstrap, done once; REFRESH_BASE=1 redoes it)"
    timed "debootstrap (base, cached afterwards)" make_base || return 2
  else
    say "using the cached base $BASE ($(cat "$BASE/.clarifai-cleanroom-base"))"
  fi

  say "fresh root from the base (an overlay on it, else a copy)"
  timed "fresh root from the base" fresh_root || die "cannot set up $RUN from $BASE"
  mkdir -p "$CR/apt-archives"
  cp "$CR"/apt-archives/*.deb "$RUN/var/cache/apt/archives/" 2>/dev/null || true  # downloads of earlier runs
  cp /etc/resolv.conf "$RUN/etc/resolv.conf" || die "cannot copy /etc/resolv.conf"
  # Where containers forbid these, the chroot variant cannot run (exit 2: fall back loudly).
  mount -t proc proc "$RUN/proc" || { echo "cannot mount /proc in $RUN" >&2; return 2; }
  chroot "$RUN" /bin/true || { echo "chroot $RUN does not work here" >&2; return 2; }

  # No Swift anywhere: no toolchain, no runtime library.
  local swift
  swift=$(find "$RUN" -xdev \( -iname 'libswift*' -o -iname 'swift' -o -iname 'swiftc' -o -iname '*.swiftmodule' \) -print | head -5)
  [ -z "$swift" ] || die "the clean root contains Swift: $swift"
  if in_chroot 'command -v swift' >/dev/null; then die "swift is on the clean root's PATH"; fi

  say "dpkg -i the packages, then apt-get -f install their Depends"
  mkdir -p "$RUN/tmp/debs" && cp "$RUNTIME_DEB" "$DEV_DEB" "$TOOLS_DEB" "$RUN/tmp/debs/" || die "cannot copy the packages"
  install_packages() {
    in_chroot 'apt-get update -qq' || return 1
    in_chroot 'dpkg -i /tmp/debs/*.deb' > "$CR/dpkg-i.log" 2>&1 || true  # fails until the Depends are there
    in_chroot 'apt-get -f install -y -q --no-install-recommends' > "$CR/apt-get-f-install.log" 2>&1 ||
      { cat "$CR/dpkg-i.log" "$CR/apt-get-f-install.log"; return 1; }
    grep -E '^(Setting up|Unpacking) ' "$CR/apt-get-f-install.log" | sed 's/^/  /' | sort -u | head -40
    in_chroot "dpkg-query -W -f='\${Package} \${Version} \${Status}\n' libclarifai1 libclarifai-dev clarifai-tools" | tee "$CR/installed.txt"
    [ "$(grep -c ' install ok installed$' "$CR/installed.txt")" = 3 ]
  }
  timed "dpkg -i + apt-get -f install" install_packages || die "installing the packages in the clean root failed"
  cp -n "$RUN"/var/cache/apt/archives/*.deb "$CR/apt-archives/" 2>/dev/null || true
  in_chroot 'dpkg -L libclarifai1 libclarifai-dev clarifai-tools' |
    grep -E 'libclarifai|clarifai\.(h|pc)|cmake|clarifai-cli' | sed 's/^/  /'

  say "compile the README's C example with pkg-config (and the examples call.c, stream.c)"
  mkdir -p "$RUN/tmp/app" && cp "$APP_C" "$RUN/tmp/app/app.c" || die "cannot copy app.c"
  compile() {
    in_chroot 'cd /tmp/app && echo "pkg-config --cflags --libs clarifai: $(pkg-config --cflags --libs clarifai)" &&
               gcc app.c $(pkg-config --cflags --libs clarifai) -o app &&
               for e in call stream; do
                 gcc -std=c99 -Wall -Wextra -Werror -pedantic /usr/share/doc/libclarifai-dev/examples/$e.c \
                     $(pkg-config --cflags --libs clarifai) -o $e || exit 1
               done &&
               ldd ./app | grep -E "clarifai|curl|jansson|crypto|swift"'
  }
  timed "compile in the chroot" compile || die "compiling the README example in the clean root failed"

  say "run against the local test server (host network)"
  run_examples() {
    # The server's address comes from run_with_server.py through chroot's environment; the
    # programs themselves get an empty environment but for those variables.
    "$PYTHON" "$WITH_SERVER" -- chroot "$RUN" /bin/sh -c '
      set -e
      cd /tmp/app
      clean="env -i CLARIFAI_API_BASE=$CLARIFAI_API_BASE CLARIFAI_GRPC_BASE=$CLARIFAI_GRPC_BASE CLARIFAI_PAT=$CLARIFAI_PAT"
      $clean ./app > app.out 2> app.err || { echo "app exited $?"; cat app.err; exit 1; }
      $clean ./call ListModels > call.out || { echo "call exited $?"; exit 1; }
      $clean ./stream --insecure stream-count 3 > stream.out || { echo "stream exited $?"; exit 1; }
      $clean clarifai-cli methods > methods.out || { echo "clarifai-cli methods exited $?"; exit 1; }
      $clean clarifai-cli predict general-image-recognition https://samples.clarifai.com/metro-north.jpg > predict.out ||
        { echo "clarifai-cli predict exited $?"; exit 1; }
    ' || return 1
    check_cli "$RUN/tmp/app/methods.out" "$RUN/tmp/app/predict.out" || return 1
    check_concepts "$RUN/tmp/app/app.out" "$RUN/tmp/app/app.err" || return 1
    grep -q '"general-image-recognition"' "$RUN/tmp/app/call.out" || { cat "$RUN/tmp/app/call.out"; return 1; }
    echo "call ListModels: $(grep -o '"id": *"[^"]*"' "$RUN/tmp/app/call.out" | head -4 | tr '\n' ' ')..."
    [ "$(cat "$RUN/tmp/app/stream.out")" = "$(printf '0\n1\n2')" ] || { cat "$RUN/tmp/app/stream.out"; return 1; }
    echo "stream --insecure stream-count 3 (gRPC h2c): $(tr '\n' ' ' < "$RUN/tmp/app/stream.out")"
  }
  timed "run in the chroot" run_examples || die "running the example in the clean root failed"
  unmount_all "$RUN" || die "cannot unmount $RUN"
  echo "chroot variant: PASSED"
}

# ---------------------------------------------------------------------------------------------
# 2. extract variant (dpkg -x + env -i)
# ---------------------------------------------------------------------------------------------
extract_variant() {
  say "extract variant: dpkg -x the packages, compile against them, run with env -i"
  remove_tree "$EXTRACT"
  # (functions run by `timed` are in an `||` context, where set -e does not act: check each step)
  mkdir -p "$EXTRACT/root" "$EXTRACT/app" || die "cannot create $EXTRACT"
  dpkg -x "$RUNTIME_DEB" "$EXTRACT/root" && dpkg -x "$DEV_DEB" "$EXTRACT/root" && dpkg -x "$TOOLS_DEB" "$EXTRACT/root" ||
    die "dpkg -x failed"
  local libdir=$EXTRACT/root/usr/lib/$TRIPLET flags
  cp "$APP_C" "$EXTRACT/app/app.c" || die "cannot copy app.c"
  flags=$(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --define-variable=prefix="$EXTRACT/root/usr" --cflags --libs clarifai) ||
    die "pkg-config --cflags --libs clarifai failed on the extracted clarifai.pc"
  echo "pkg-config --cflags --libs clarifai: $flags"
  case "$flags" in *"$EXTRACT/root/usr/"*) ;; *) die "clarifai.pc does not point into the extracted tree: $flags" ;; esac
  (cd "$EXTRACT/app" && gcc app.c $flags -o app) || die "compiling the README example against the extracted packages failed"
  local resolved
  resolved=$(env -i LD_LIBRARY_PATH="$libdir" /usr/bin/ldd "$EXTRACT/app/app")
  grep -q "libclarifai.so.1 => $libdir/libclarifai.so.1" <<<"$resolved" || die "app does not load the extracted library: $resolved"
  if grep -qi swift <<<"$resolved"; then die "app loads Swift libraries: $resolved"; fi
  "$PYTHON" "$WITH_SERVER" -- /bin/sh -c \
    'exec env -i LD_LIBRARY_PATH="$1" CLARIFAI_API_BASE="$CLARIFAI_API_BASE" CLARIFAI_PAT="$CLARIFAI_PAT" "$2"' \
    sh "$libdir" "$EXTRACT/app/app" > "$EXTRACT/app/app.out" 2> "$EXTRACT/app/app.err" || {
      cat "$EXTRACT/app/app.err"; die "the README example failed against the extracted packages"; }
  grep -v '^local Clarifai test server at ' "$EXTRACT/app/app.err" > "$EXTRACT/app/app.err.own" || true
  check_concepts "$EXTRACT/app/app.out" "$EXTRACT/app/app.err.own" || die "unexpected output from the README example"
  "$PYTHON" "$WITH_SERVER" -- /bin/sh -c '
    env -i LD_LIBRARY_PATH="$1" "$2" methods > "$3/methods.out" &&
    exec env -i LD_LIBRARY_PATH="$1" CLARIFAI_API_BASE="$CLARIFAI_API_BASE" CLARIFAI_PAT="$CLARIFAI_PAT" \
      "$2" predict general-image-recognition https://samples.clarifai.com/metro-north.jpg > "$3/predict.out"' \
    sh "$libdir" "$EXTRACT/root/usr/bin/clarifai-cli" "$EXTRACT/app" || die "the extracted clarifai-cli failed"
  check_cli "$EXTRACT/app/methods.out" "$EXTRACT/app/predict.out" || die "unexpected output from the extracted clarifai-cli"
  echo "extract variant: PASSED"
}

reason=$(chroot_unavailable_reason)
chroot_ran=0
if [ -z "$reason" ]; then
  status=0
  chroot_variant || status=$?
  case $status in
    0) chroot_ran=1 ;;
    2) reason="debootstrap, mounting /proc or chroot failed (see above; log $CR/debootstrap.log)"
       unmount_all "$CR" || true ;;
    *) die "the chroot variant failed" ;;
  esac
fi
timed "extract variant" extract_variant
[ -n "$reason" ] && loud "the clean-room chroot cannot run here: $reason."

say "timings"
printf '  %s\n' "${TIMINGS[@]}" "total: $(elapsed "$START") s" | tee "$CR/timings.txt"
if [ "$chroot_ran" = 1 ]; then
  echo "clean-room test PASSED ($SUITE chroot without Swift, and dpkg -x + env -i)"
elif [ "${REQUIRE_CHROOT:-0}" = 1 ]; then
  echo "clean-room test INCOMPLETE: the chroot variant did not run (REQUIRE_CHROOT=1)" >&2
  exit 3
else
  echo "clean-room test PASSED for dpkg -x + env -i ONLY; the chroot variant did not run: $reason" >&2
fi
