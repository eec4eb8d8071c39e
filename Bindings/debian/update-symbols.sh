#!/usr/bin/env bash
# update-symbols.sh: brings Bindings/debian/libclarifai1.symbols up to date with the built library
# (build/lib/libclarifai.so.1) after functions were added to the API: symbols the library exports
# that the file does not list are added with the current version (CLARIFAI_VERSION_STRING), the
# listed ones keep theirs. Symbols listed but no longer exported are an ABI break (a new SONAME
# is due): the script names them and changes nothing, unless --allow-removal is given.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SYMBOLS=$ROOT/Bindings/debian/libclarifai1.symbols
LIBRARY=$ROOT/build/lib/libclarifai.so.1
ALLOW_REMOVAL=0
[ "${1:-}" = --allow-removal ] && ALLOW_REMOVAL=1
VERSION=$(sed -n 's/^#define CLARIFAI_VERSION_STRING "\(.*\)"/\1/p' "$ROOT/Include/clarifai.h")
[ -f "$LIBRARY" ] || { echo "update-symbols.sh: $LIBRARY is missing: build the library first (make)" >&2; exit 1; }

# name@VERSION of every defined dynamic symbol (name@Base when unversioned), as dpkg-gensymbols writes them.
exported=$(nm -D --defined-only "$LIBRARY" | awk '{ s = $NF; if (s ~ /@@?/) sub(/@@?/, "@", s); else s = s "@Base"; print s }' | LC_ALL=C sort -u)
listed=$(awk '/^ / { print $1 }' "$SYMBOLS" | LC_ALL=C sort -u)
added=$(LC_ALL=C comm -23 <(echo "$exported") <(echo "$listed"))
removed=$(LC_ALL=C comm -13 <(echo "$exported") <(echo "$listed"))
if [ -n "$removed" ] && [ "$ALLOW_REMOVAL" = 0 ]; then
  echo "update-symbols.sh: listed in $(basename "$SYMBOLS") but no longer exported (an ABI break: bump the SONAME, or restore them):" >&2
  echo "$removed" | sed 's/^/  /' >&2
  exit 1
fi
{
  awk '!/^ /' "$SYMBOLS"   # the header lines
  {
    awk -v removed="$removed" 'BEGIN { n = split(removed, r, "\n"); for (i = 1; i <= n; i++) gone[r[i]] = 1 }
      /^ / && !($1 in gone) { print substr($0, 2) }' "$SYMBOLS"
    [ -z "$added" ] || echo "$added" | sed "s/\$/ $VERSION/"
  } | grep -v '^$' | LC_ALL=C sort -u | sed 's/^/ /'
} > "$SYMBOLS.new"
mv "$SYMBOLS.new" "$SYMBOLS"
[ -z "$added" ] || echo "added with version $VERSION:" $added
[ -z "$removed" ] || echo "removed:" $removed
[ -n "$added$removed" ] || echo "$(basename "$SYMBOLS") already lists exactly the library's exports"
