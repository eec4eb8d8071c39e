#!/usr/bin/env bash
# build-deb.sh: builds the Debian packages of the built library (build/lib), for `make deb`:
#
#   build/deb/libclarifai1_<version>_<arch>.deb       /usr/lib/<triplet>/libclarifai.so.1 and
#                                                      libclarifai.so.<version>
#   build/deb/libclarifai-dev_<version>_<arch>.deb    clarifai.h, libclarifai.so, clarifai.pc, the
#                                                      CMake package, examples
#   build/deb/clarifai-tools_<version>_<arch>.deb     /usr/bin/clarifai-cli (Bindings/cli, built here
#                                                      with dpkg-buildflags' hardening), its man page
#                                                      (checked with `man -l`: any warning fails) and
#                                                      bash completion
#
# The files come from Bindings/c/install.sh (PREFIX=/usr, stripped, RUNPATH removed); the control
# data from the templates beside this script:
#   changelog                  Debian changelog; its top entry's version is the packages' version
#                              and must be CLARIFAI_VERSION_STRING of Include/clarifai.h (optionally
#                              with a Debian revision, "1.0.0-2"); its maintainer is theirs
#   control.<package>.in       control files; @SHLIBS_DEPENDS@ is computed by dpkg-shlibdeps from
#                              the libraries the .so actually links (readelf -d NEEDED)
#   copyright                  /usr/share/doc/<package>/copyright
#   libclarifai1.symbols       the exported ABI; dpkg-gensymbols -c4 fails the build when the
#                              library exports a symbol more or less than listed (update it with
#                              Bindings/debian/update-symbols.sh)
#   libclarifai1.shlibs, libclarifai1.triggers
#
# Then lintian runs on the packages (when installed) and any error fails the build; its output is
# kept in build/deb/lintian.txt. Environment: OUT (default build/deb), LINTIAN=0 to skip lintian.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/Bindings/debian
OUT=${OUT:-$ROOT/build/deb}
LINTIAN=${LINTIAN:-1}

die() { echo "build-deb.sh: $*" >&2; exit 1; }
for tool in dpkg-deb dpkg-shlibdeps dpkg-gensymbols dpkg-parsechangelog dpkg-buildflags readelf strip gcc man; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install dpkg-dev binutils gcc man-db)"
done

VERSION=$(sed -n 's/^#define CLARIFAI_VERSION_STRING "\(.*\)"/\1/p' "$ROOT/Include/clarifai.h")
[ -n "$VERSION" ] || die "no CLARIFAI_VERSION_STRING in Include/clarifai.h"
MAJOR=${VERSION%%.*}
DEB_VERSION=$(dpkg-parsechangelog -l "$HERE/changelog" -SVersion)
case "$DEB_VERSION" in
  "$VERSION") NATIVE=1 ;;
  "$VERSION"-*) NATIVE=0 ;;
  *) die "Bindings/debian/changelog's top entry is $DEB_VERSION but the library is $VERSION: add a changelog entry (dch -c Bindings/debian/changelog -v $VERSION)" ;;
esac
MAINTAINER=$(dpkg-parsechangelog -l "$HERE/changelog" -SMaintainer)
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l "$HERE/changelog" -STimestamp)
export SOURCE_DATE_EPOCH
ARCH=$(dpkg --print-architecture)
TRIPLET=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
LIBDIR=usr/lib/$TRIPLET
REAL=libclarifai.so.$VERSION
RUNTIME=libclarifai$MAJOR
DEV=libclarifai-dev
TOOLS=clarifai-tools
PACKAGES=("$RUNTIME" "$DEV" "$TOOLS")
[ -f "$ROOT/build/lib/$REAL" ] || die "build/lib/$REAL is missing: build the library first (make)"

# A debhelper-like tree: dpkg-shlibdeps and dpkg-gensymbols want debian/control and
# debian/<package>/ directories.
WORK=$OUT/work
rm -rf "$WORK"
mkdir -p "$WORK/debian"
rm -f "$OUT"/libclarifai*.deb "$OUT"/clarifai-tools*.deb "$OUT/lintian.txt"
cp "$HERE/changelog" "$WORK/debian/changelog"
cat > "$WORK/debian/control" <<EOF
Source: libclarifai
Maintainer: $MAINTAINER

Package: $RUNTIME
Architecture: any

Package: $DEV
Architecture: any

Package: $TOOLS
Architecture: any
EOF
umask 022
STAGE=$WORK/stage
PREFIX=/usr LIBDIR=/$LIBDIR DESTDIR=$STAGE STRIP=1 "$ROOT/Bindings/c/install.sh" >/dev/null
if readelf -d "$STAGE/$LIBDIR/$REAL" | grep -qE '\((RPATH|RUNPATH)\)'; then
  die "the library still has a RUNPATH (lintian: custom-library-search-path): apt-get install patchelf (or chrpath), or build with swift build --disable-local-rpath"
fi

# Split the staged tree between the two packages.
RT=$WORK/debian/$RUNTIME
DV=$WORK/debian/$DEV
move() {  # move PACKAGE_ROOT PATH...: moves staged paths into a package
  local root=$1; shift
  for path in "$@"; do
    mkdir -p "$root/$(dirname "$path")"
    mv "$STAGE/$path" "$root/$path"
  done
}
move "$RT" "$LIBDIR/$REAL" "$LIBDIR/libclarifai.so.$MAJOR"
move "$DV" usr/include/clarifai.h "$LIBDIR/libclarifai.so" "$LIBDIR/pkgconfig/clarifai.pc" "$LIBDIR/cmake/clarifai"
left=$(find "$STAGE" -not -type d)
[ -z "$left" ] || die "install.sh installed files no package takes: $left"

# The command-line tool, linked against the packaged library (its SONAME), hardened as Debian
# builds programs; its man page must render without a warning.
TL=$WORK/debian/$TOOLS
install -d "$TL/usr/bin" "$TL/usr/share/man/man1" "$TL/usr/share/bash-completion/completions"
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
# shellcheck disable=SC2046 # (the flags are words)
gcc $(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS) -std=c99 -Wall -Wextra -pedantic -pthread \
    -I"$ROOT/Include" -o "$TL/usr/bin/clarifai-cli" "$ROOT/Bindings/cli/clarifai-cli.c" "$RT/$LIBDIR/$REAL" \
    -ljansson -lyaml $(dpkg-buildflags --get LDFLAGS) || die "building clarifai-cli failed"
strip --remove-section=.comment --remove-section=.note "$TL/usr/bin/clarifai-cli"
chmod 0755 "$TL/usr/bin/clarifai-cli"
gzip -9n < "$ROOT/Bindings/cli/clarifai-cli.1" > "$TL/usr/share/man/man1/clarifai-cli.1.gz"
man_warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$TL/usr/share/man/man1/clarifai-cli.1.gz" 2>&1 >/dev/null) ||
  die "man -l clarifai-cli.1 failed: $man_warnings"
[ -z "$man_warnings" ] || die "Bindings/cli/clarifai-cli.1 does not render cleanly (man -l): $man_warnings"
install -m 0644 "$ROOT/Bindings/cli/clarifai-cli.bash-completion" "$TL/usr/share/bash-completion/completions/clarifai-cli"
chmod 0644 "$TL/usr/share/man/man1/clarifai-cli.1.gz"

# Documentation.
for package in "${PACKAGES[@]}"; do
  doc=$WORK/debian/$package/usr/share/doc/$package
  install -d "$doc"
  install -m 0644 "$HERE/copyright" "$doc/copyright"
  if [ "$NATIVE" = 1 ]; then changelog=changelog.gz; else changelog=changelog.Debian.gz; fi
  gzip -9n < "$HERE/changelog" > "$doc/$changelog"
  chmod 0644 "$doc/$changelog"
done
install -d "$DV/usr/share/doc/$DEV/examples"
install -m 0644 "$ROOT/Bindings/c/README.md" "$DV/usr/share/doc/$DEV/README.md"
install -m 0644 "$ROOT"/Bindings/c/examples/*.c "$ROOT/Bindings/c/examples/CMakeLists.txt" "$DV/usr/share/doc/$DEV/examples/"

# Control data of the runtime package: symbols (checked against the library), shlibs, ldconfig
# trigger, and Depends from the libraries it links.
mkdir -p "$RT/DEBIAN" "$DV/DEBIAN" "$TL/DEBIAN"
(
  cd "$WORK"
  if ! dpkg-gensymbols -c4 -p"$RUNTIME" -P"debian/$RUNTIME" -v"$DEB_VERSION" \
       -I"$HERE/$RUNTIME.symbols" -O"debian/$RUNTIME/DEBIAN/symbols" -e"debian/$RUNTIME/$LIBDIR/$REAL" >"$WORK/gensymbols.txt" 2>&1; then
    cat "$WORK/gensymbols.txt" >&2
    die "the library's exports differ from Bindings/debian/$RUNTIME.symbols (diff above; '+' = exported but not listed, '-' = listed but gone). A removed symbol breaks the ABI (new SONAME); for an added one run Bindings/debian/update-symbols.sh"
  fi
)
install -m 0644 "$HERE/$RUNTIME.shlibs" "$RT/DEBIAN/shlibs"
install -m 0644 "$HERE/$RUNTIME.triggers" "$RT/DEBIAN/triggers"
chmod 0644 "$RT/DEBIAN/symbols"
SHLIBS_DEPENDS=$(cd "$WORK" && dpkg-shlibdeps -O -e"debian/$RUNTIME/$LIBDIR/$REAL" 2>"$WORK/shlibdeps.txt" |
                 sed -n 's/^shlibs:Depends=//p') || { cat "$WORK/shlibdeps.txt" >&2; die "dpkg-shlibdeps failed"; }
[ -n "$SHLIBS_DEPENDS" ] || { cat "$WORK/shlibdeps.txt" >&2; die "dpkg-shlibdeps found no dependencies"; }
# The tool's: libclarifai1 at the version of the newest symbol it uses (from the symbols file above).
TOOLS_DEPENDS=$(cd "$WORK" && dpkg-shlibdeps -O -l"debian/$RUNTIME/$LIBDIR" -e"debian/$TOOLS/usr/bin/clarifai-cli" 2>"$WORK/shlibdeps-tools.txt" |
                sed -n 's/^shlibs:Depends=//p') || { cat "$WORK/shlibdeps-tools.txt" >&2; die "dpkg-shlibdeps failed on clarifai-cli"; }
case "$TOOLS_DEPENDS" in *"$RUNTIME "*) ;; *) cat "$WORK/shlibdeps-tools.txt" >&2; die "clarifai-cli's Depends lack $RUNTIME: $TOOLS_DEPENDS" ;; esac

# Timestamps from the changelog (reproducible packages), then control files and md5sums.
find "$RT" "$DV" "$TL" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
installed_size() {  # like dpkg-gencontrol: KiB per file, rounded up, 1 per directory and symlink
  find "$1" -path "$1/DEBIAN" -prune -o -mindepth 1 -printf '%y %s\n' |
    awk '{ total += ($1 == "f") ? int(($2 + 1023) / 1024) : 1 } END { print total }'
}
for package in "${PACKAGES[@]}"; do
  root=$WORK/debian/$package
  depends=$SHLIBS_DEPENDS
  [ "$package" = "$TOOLS" ] && depends=$TOOLS_DEPENDS
  sed -e "s|@DEB_VERSION@|$DEB_VERSION|g" -e "s|@ARCH@|$ARCH|g" -e "s|@MAINTAINER@|$MAINTAINER|g" \
      -e "s|@INSTALLED_SIZE@|$(installed_size "$root")|g" -e "s|@SHLIBS_DEPENDS@|$depends|g" \
      "$HERE/control.$package.in" > "$root/DEBIAN/control"
  if grep -q '@[A-Z_]*@' "$root/DEBIAN/control"; then die "unfilled template field in control.$package.in"; fi
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0r md5sum > DEBIAN/md5sums)
  chmod 0644 "$root"/DEBIAN/*
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  dpkg-deb --build --root-owner-group -Zxz "$root" "$OUT/${package}_${DEB_VERSION}_${ARCH}.deb" >/dev/null
  echo "built $OUT/${package}_${DEB_VERSION}_${ARCH}.deb"
done
echo "$RUNTIME Depends: $SHLIBS_DEPENDS"
echo "$TOOLS Depends: $TOOLS_DEPENDS"

if [ "$LINTIAN" = 0 ]; then
  echo "build-deb.sh: lintian skipped (LINTIAN=0)"
elif ! command -v lintian >/dev/null; then
  echo "build-deb.sh: WARNING: lintian is not installed, the packages were NOT checked (apt-get install lintian)" >&2
else
  # Lintian refuses to run as root unless told; the packages are only read.
  status=0
  lintian --allow-root --fail-on error --display-level '>=pedantic' --show-overrides \
    "$OUT/${RUNTIME}_${DEB_VERSION}_${ARCH}.deb" "$OUT/${DEV}_${DEB_VERSION}_${ARCH}.deb" \
    "$OUT/${TOOLS}_${DEB_VERSION}_${ARCH}.deb" > "$OUT/lintian.txt" 2>&1 || status=$?
  if [ -s "$OUT/lintian.txt" ]; then cat "$OUT/lintian.txt"; else echo "lintian: no tags"; fi
  [ "$status" = 0 ] || die "lintian reported errors (see above and $OUT/lintian.txt)"
fi
