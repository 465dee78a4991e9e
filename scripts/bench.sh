#!/bin/bash
# make bench: run refcache's benchmark modules in one boot of the
# distribution kernel and print their tables and machine-readable
# "bench ..." lines.  Ratios are measured in one boot; absolute times
# under software emulation mean little.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
kdir=$(ls -d /usr/src/linux-headers-6.12*-amd64 | sort -V | tail -n 1)
image=/boot/vmlinuz-${kdir#/usr/src/linux-headers-}

make -s -C userspace > build/bench-build.log 2>&1 || { cat build/bench-build.log; exit 1; }
scripts/build-kmod.sh "$kdir" build/distro >> build/bench-build.log 2>&1 ||
	{ cat build/bench-build.log; exit 1; }
rm -rf build/bench-mods
mkdir -p build/bench-mods
cp build/distro/kmod/refcache.ko build/bench-mods/
cp build/distro/tests/bench/*.ko build/bench-mods/ 2>/dev/null ||
	{ echo "bench: no benchmark module built" >&2; exit 1; }
ok=0
tests/vm/run.sh --kernel "$image" --modules build/bench-mods --name bench --mode bench \
	--timeout 600 > build/bench.out 2>&1 && ok=1
sed -n 's/^LOG //p' build/vm/bench/results.txt
grep -v '^PASS' build/bench.out || true
[ "$ok" = 1 ]
