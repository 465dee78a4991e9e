#!/bin/bash
# make check's install test: stage make install under DESTDIR, then run the
# staged refcachectl, ask pkg-config about the staged refcache.pc, build a
# program against the staged headers and library, and check that
# make uninstall leaves no file behind.
# usage: scripts/install-test.sh [STAGEDIR]     (default build/install-test)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
D=${1:-$top/build/install-test}
prefix=/usr
rm -rf "$D"
mkdir -p "$D"
v=$(scripts/version.sh) full=$(scripts/version.sh --full)

# A clean copy of the sources, so that what install builds can be seen.
src=$D.src
rm -rf "$src"
mkdir -p "$src/scripts"
cp -r userspace uapi "$src/"
cp scripts/version.sh "$src/scripts/"
rm -rf "$src/userspace/build"

echo "== make install (userspace, udev rule) into $D, PREFIX=$prefix"
make -s udev_install DESTDIR="$D"
make -s -C "$src/userspace" install DESTDIR="$D" PREFIX="$prefix"
(cd "$D" && find . ! -type d | sort)

echo "== install built only what it installs"
(cd "$src/userspace/build" && find . -type f | sort)
if [ -e "$src/userspace/build/tests" ] || [ -e "$src/userspace/build/examples" ] ||
	[ -e "$src/userspace/build/refcachectl-static" ]; then
	echo "install built tests, examples or the guest's static CLI"
	exit 1
fi

echo "== the staged refcachectl starts"
"$D$prefix/bin/refcachectl" --help | head -n 1
"$D$prefix/bin/refcachectl" -h > /dev/null
# No module on the build host: the library's line, then the hint.
out=$("$D$prefix/bin/refcachectl" --version 2>&1) || true
echo "$out"
echo "$out" | grep -qx "library $full"
[ -e /dev/refcache ] || echo "$out" | grep -q 'modprobe refcache'

echo "== the library: full file name behind the soname links"
[ -f "$D$prefix/lib/librefcache.so.$full" ]
[ "$(readlink "$D$prefix/lib/librefcache.so.1")" = "librefcache.so.$full" ]
[ "$(readlink "$D$prefix/lib/librefcache.so")" = librefcache.so.1 ]
[ -f "$D$prefix/include/refcache/linux/refcache.h" ] && [ ! -e "$D$prefix/include/linux" ]

echo "== pkg-config"
export PKG_CONFIG_PATH=$D$prefix/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$D
pkg-config --modversion refcache | grep -qx "$full"
flags=$(pkg-config --cflags --libs refcache)
echo "$flags"

echo "== a program built against the staged tree"
cat > "$D/prog.c" <<'PROG'
#include <stdio.h>
#include <string.h>
#include <refcache.h>

int main(void)
{
	int fd = refcache_open();

	printf("librefcache %s, ABI %d.%d, open: %d\n", refcache_lib_version(),
	       REFCACHE_ABI_MAJOR, REFCACHE_ABI_MINOR, fd);
	if (fd >= 0)
		refcache_close(fd);
	return strcmp(refcache_lib_version(), LIBVER) != 0;
}
PROG
# shellcheck disable=SC2086 # pkg-config's words
cc -Wall -Werror -DLIBVER="\"$full\"" -o "$D/prog" "$D/prog.c" $flags
LD_LIBRARY_PATH=$D$prefix/lib "$D/prog"
readelf -d "$D/prog" | grep -q 'NEEDED.*librefcache.so.1'
rm -f "$D/prog" "$D/prog.c"

echo "== the installed man pages carry the version"
for m in "$D$prefix"/share/man/man*/*; do
	# A ".so" page is another page's alias: it has no footer of its own.
	head -n 1 "$m" | grep -q '^\.so ' && continue
	head -n 1 "$m" | grep -q "\"\\(lib\\)\\{0,1\\}refcache $full\"" ||
		{ echo "no version $full in $m: $(head -n 1 "$m")"; exit 1; }
done
[ -f "$D$prefix/share/man/man7/librefcache.7" ] || { echo "no librefcache(7)"; exit 1; }
echo "(module and library are release $v)"

echo "== make uninstall leaves no file"
make -s -C "$src/userspace" uninstall DESTDIR="$D" PREFIX="$prefix"
rm -rf "$src"
make -s uninstall-udev DESTDIR="$D"
left=$(cd "$D" && find . ! -type d)
[ -z "$left" ] || { echo "left behind:"; echo "$left"; exit 1; }
echo "install test passed"
