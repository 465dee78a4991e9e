#!/bin/bash
# Build (once) and cache a debug kernel that refcache's tests run on.
#
# usage: scripts/debug-kernel.sh [FRAGMENT]
#   FRAGMENT  a Kconfig fragment; default tests/kunit/kernel.config, the
#             debug kernel (KASAN, lockdep, kmemleak, KUnit).
#             tests/kunit/kcsan.config is the KCSAN kernel (KCSAN,
#             lockdep, KUnit), which cannot have KASAN.
#
# The tree is Debian's linux-source-6.12 configured with the fragment on
# top of olddefconfig defaults.  It lives in
# ${REFCACHE_CACHE:-~/.cache/refcache}/NAME-<hash>, NAME "debug" for
# kernel.config and the fragment's base name otherwise ("kcsan"), keyed by
# the fragment, this script and the source package version, so a second
# run reuses it.
#
# Prints the path of the built tree (bzImage + Module.symvers) on stdout;
# progress goes to stderr.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
frag=$(realpath "${1:-$top/tests/kunit/kernel.config}")
[ -f "$frag" ] || { echo "debug-kernel: no fragment $frag" >&2; exit 1; }
name=$(basename "$frag" .config)
[ "$name" = kernel ] && name=debug
cache=${REFCACHE_CACHE:-$HOME/.cache/refcache}
tarball=/usr/src/linux-source-6.12.tar.xz
jobs=${JOBS:-$(nproc)}

[ -f "$tarball" ] || { echo "debug-kernel: $tarball missing (run scripts/install-deps.sh)" >&2; exit 1; }
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
key=$( { cat "$frag" "$0"; echo "$srcver"; } | sha256sum | cut -c1-16)
tree="$cache/$name-$key"

mkdir -p "$cache"
exec 9>"$cache/.lock-$key"
flock 9

if [ -f "$tree/.refcache-built" ]; then
	echo "$tree"
	exit 0
fi

echo "debug-kernel: building $tree (linux-source $srcver, $jobs jobs)" >&2
rm -rf "$tree" "$tree.tmp"
mkdir -p "$tree.tmp"
tar -xJf "$tarball" -C "$tree.tmp" --strip-components=1
cp "$frag" "$tree.tmp/.config"
make -C "$tree.tmp" -s ARCH=x86_64 olddefconfig >&2

# Report fragment options that Kconfig did not honour, as kunit.py does.
missing=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=n) opt=${line%=n}
		grep -qx "$opt=[ym]" "$tree.tmp/.config" && { echo "debug-kernel: $opt still set" >&2; missing=1; } ;;
	CONFIG_*=*) grep -qxF "$line" "$tree.tmp/.config" || { echo "debug-kernel: $line not applied" >&2; missing=1; } ;;
	esac
done < "$frag"
[ "$missing" = 0 ] || echo "debug-kernel: some options differ (see above)" >&2

start=$(date +%s)
make -C "$tree.tmp" -s ARCH=x86_64 -j"$jobs" bzImage modules >&2
echo "debug-kernel: built in $(( $(date +%s) - start )) s" >&2
touch "$tree.tmp/.refcache-built"
mv "$tree.tmp" "$tree"
echo "$tree"
