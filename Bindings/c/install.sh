#!/usr/bin/env bash
# install.sh: installs the built libclarifai (build/lib) under a prefix, for `make install`.
#
#   Bindings/c/install.sh [--prefix DIR] [--libdir DIR] [--includedir DIR] [--destdir DIR]
#                         [--strip] [--uninstall]
#
# The same settings come from the environment: PREFIX, LIBDIR, INCLUDEDIR, DESTDIR, STRIP=1
# (options win). What goes where:
#
#   $LIBDIR/libclarifai.so.X.Y.Z           the library (mode 0644, SONAME libclarifai.so.X)
#   $LIBDIR/libclarifai.so.X -> .so.X.Y.Z  the name programs load
#   $LIBDIR/libclarifai.so   -> .so.X      the name `-lclarifai` finds at link time
#   $INCLUDEDIR/clarifai.h
#   $LIBDIR/pkgconfig/clarifai.pc          pkg-config --cflags --libs clarifai
#   $LIBDIR/cmake/clarifai/clarifai-config.cmake, clarifai-config-version.cmake
#                                          find_package(clarifai CONFIG) -> clarifai::clarifai
#
# PREFIX defaults to /usr/local, INCLUDEDIR to $PREFIX/include. LIBDIR defaults to
# $PREFIX/lib/<multiarch triplet> (e.g. /usr/lib/x86_64-linux-gnu, Debian's layout and the one the
# .deb packages use) when PREFIX is /usr, and to $PREFIX/lib for any other prefix (like CMake's
# GNUInstallDirs; /usr/local/lib is in the dynamic loader's and pkg-config's search paths on
# Debian and Ubuntu). DESTDIR stages the whole tree under another root (packaging); the paths
# written into clarifai.pc do not contain it.
#
# A RUNPATH the build left in the library ($ORIGIN from SwiftPM) is removed from the installed
# copy when patchelf or chrpath is available: an installed library must not carry one.
# --strip removes the debug information and the static symbol table (like Debian's dh_strip);
# the exported clarifai_* functions are untouched. Without DESTDIR, as root, ldconfig runs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PREFIX=${PREFIX:-/usr/local}
LIBDIR=${LIBDIR:-}
INCLUDEDIR=${INCLUDEDIR:-}
DESTDIR=${DESTDIR:-}
STRIP=${STRIP:-0}
UNINSTALL=0

die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=${2:?--prefix needs a value}; shift 2 ;;
    --prefix=*) PREFIX=${1#*=}; shift ;;
    --libdir) LIBDIR=${2:?--libdir needs a value}; shift 2 ;;
    --libdir=*) LIBDIR=${1#*=}; shift ;;
    --includedir) INCLUDEDIR=${2:?--includedir needs a value}; shift 2 ;;
    --includedir=*) INCLUDEDIR=${1#*=}; shift ;;
    --destdir) DESTDIR=${2?--destdir needs a value}; shift 2 ;;
    --destdir=*) DESTDIR=${1#*=}; shift ;;
    --strip) STRIP=1; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

case "$PREFIX" in /*) ;; *) die "PREFIX must be an absolute path, got '$PREFIX'" ;; esac
PREFIX=${PREFIX%/}
[ -n "$PREFIX" ] || PREFIX=/

multiarch() {
  local triplet
  triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null) ||
    triplet=$(gcc -print-multiarch 2>/dev/null) || triplet=""
  echo "$triplet"
}
if [ -z "$LIBDIR" ]; then
  triplet=""
  [ "$PREFIX" = /usr ] && triplet=$(multiarch)
  LIBDIR=$PREFIX/lib${triplet:+/$triplet}
fi
INCLUDEDIR=${INCLUDEDIR:-$PREFIX/include}
for dir in "$LIBDIR" "$INCLUDEDIR"; do
  case "$dir" in /*) ;; *) die "LIBDIR and INCLUDEDIR must be absolute paths, got '$dir'" ;; esac
done

HEADER=$ROOT/Include/clarifai.h
VERSION=$(sed -n 's/^#define CLARIFAI_VERSION_STRING "\(.*\)"/\1/p' "$HEADER")
[ -n "$VERSION" ] || die "no CLARIFAI_VERSION_STRING in $HEADER"
MAJOR=${VERSION%%.*}
REAL=libclarifai.so.$VERSION
SOURCE=$ROOT/build/lib/$REAL

CMAKEDIR=$LIBDIR/cmake/clarifai
PCDIR=$LIBDIR/pkgconfig

if [ "$UNINSTALL" = 1 ]; then
  rm -fv "$DESTDIR$LIBDIR/$REAL" "$DESTDIR$LIBDIR/libclarifai.so.$MAJOR" "$DESTDIR$LIBDIR/libclarifai.so" \
    "$DESTDIR$INCLUDEDIR/clarifai.h" "$DESTDIR$PCDIR/clarifai.pc" \
    "$DESTDIR$CMAKEDIR/clarifai-config.cmake" "$DESTDIR$CMAKEDIR/clarifai-config-version.cmake"
  rmdir "$DESTDIR$CMAKEDIR" 2>/dev/null || true
  exit 0
fi

[ -f "$SOURCE" ] || die "$SOURCE is missing: build the library first (make)"
soname=$(readelf -d "$SOURCE" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libclarifai.so.$MAJOR" ] || die "$SOURCE has SONAME '$soname', expected libclarifai.so.$MAJOR"

umask 022
install -d "$DESTDIR$LIBDIR" "$DESTDIR$INCLUDEDIR" "$DESTDIR$PCDIR" "$DESTDIR$CMAKEDIR"

# The library: copied to a temporary name, fixed up, then renamed into place, so a program that
# has the old one mapped keeps working.
tmp=$DESTDIR$LIBDIR/.$REAL.tmp$$
trap 'rm -f "$tmp"' EXIT
install -m 0644 "$SOURCE" "$tmp"
if readelf -d "$tmp" | grep -qE '\((RPATH|RUNPATH)\)'; then
  if command -v patchelf >/dev/null; then
    patchelf --remove-rpath "$tmp"
  elif command -v chrpath >/dev/null; then
    chrpath -d "$tmp" >/dev/null
  else
    echo "install.sh: warning: $REAL keeps its RUNPATH (install patchelf or chrpath to remove it)" >&2
  fi
fi
if [ "$STRIP" = 1 ]; then
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$tmp"
fi
mv -f "$tmp" "$DESTDIR$LIBDIR/$REAL"
trap - EXIT
ln -sfn "$REAL" "$DESTDIR$LIBDIR/libclarifai.so.$MAJOR"
ln -sfn "libclarifai.so.$MAJOR" "$DESTDIR$LIBDIR/libclarifai.so"

install -m 0644 "$HEADER" "$DESTDIR$INCLUDEDIR/clarifai.h"

# pkg-config: libdir and includedir relative to ${prefix} when they lie under it, so that
# `pkg-config --define-prefix` or `--define-variable=prefix=...` can relocate the tree.
under_prefix() {  # $1 absolute path -> ${prefix}/... or the path itself
  case "$1" in
    "$PREFIX") echo '${prefix}' ;;
    "$PREFIX"/*) echo "\${prefix}${1#"$PREFIX"}" ;;
    *) echo "$1" ;;
  esac
}
sed -e "s|@prefix@|$PREFIX|g" -e "s|@libdir@|$(under_prefix "$LIBDIR")|g" \
    -e "s|@includedir@|$(under_prefix "$INCLUDEDIR")|g" -e "s|@VERSION@|$VERSION|g" \
    "$ROOT/Bindings/c/clarifai.pc.in" > "$DESTDIR$PCDIR/clarifai.pc"
chmod 0644 "$DESTDIR$PCDIR/clarifai.pc"

# CMake: paths relative to the config file's own directory.
relative() { realpath -m --relative-to="$1" "$2"; }
pointer_size=$(getconf LONG_BIT 2>/dev/null || echo 64)
sed -e "s|@libdir_from_cmakedir@|$(relative "$CMAKEDIR" "$LIBDIR")|g" \
    -e "s|@includedir_from_cmakedir@|$(relative "$CMAKEDIR" "$INCLUDEDIR")|g" \
    -e "s|@VERSION@|$VERSION|g" -e "s|@MAJOR@|$MAJOR|g" \
    "$ROOT/Bindings/c/clarifai-config.cmake.in" > "$DESTDIR$CMAKEDIR/clarifai-config.cmake"
sed -e "s|@VERSION@|$VERSION|g" -e "s|@MAJOR@|$MAJOR|g" -e "s|@SIZEOF_VOID_P@|$((pointer_size / 8))|g" \
    "$ROOT/Bindings/c/clarifai-config-version.cmake.in" > "$DESTDIR$CMAKEDIR/clarifai-config-version.cmake"
chmod 0644 "$DESTDIR$CMAKEDIR"/clarifai-config*.cmake

if [ -z "$DESTDIR" ] && [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then
  ldconfig
fi
echo "installed libclarifai $VERSION: $DESTDIR$LIBDIR/$REAL, $DESTDIR$INCLUDEDIR/clarifai.h, $DESTDIR$PCDIR/clarifai.pc, $DESTDIR$CMAKEDIR/"
