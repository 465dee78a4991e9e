#!/bin/bash
# make fuzz: run the fuzz target (tests/user/fuzz_test.c) alone, for much
# longer than make check does, in one boot of the debug kernel (KASAN,
# lockdep, kmemleak), or of the distribution kernel when no debug kernel
# can be had.  The seed is printed first; the same SEED and OPS replay a
# failing run.
#
# usage: scripts/fuzz.sh [--seed N] [--ops N] [--secs N] [--distro] [--32]
#   --seed  the PRNG seed (default: from the clock, printed)
#   --ops   operations (default 2000000)
#   --secs  stop after this many seconds even if ops remain (default: none)
#   --distro  boot the distribution kernel, not the debug kernel
#   --32    run the 32-bit build (compat_ioctl) instead of the 64-bit one
# make fuzz SEED=... OPS=... SECS=... passes the same.
# Builds into ${REFCACHE_BUILD:-build}/fuzz/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
B=${REFCACHE_BUILD:-$top/build}
seed= ops=2000000 secs=0 kernel=debug prog=fuzz_test
while [ $# -gt 0 ]; do
	case "$1" in
	--seed) seed=$2; shift ;;
	--ops) ops=$2; shift ;;
	--secs) secs=$2; shift ;;
	--distro) kernel=distro ;;
	--32) prog=fuzz32_test ;;
	*) sed -n '2,17p' "$0" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$seed" ] || seed=$(( $(date +%s%N) / 1000 ))
bound=
[ "$secs" != 0 ] && bound=" SECS=$secs"
echo "fuzz: seed=$seed ops=$ops${bound/ SECS=/ secs=} ($prog)"

mkdir -p "$B/fuzz"
make -s -C userspace > "$B/fuzz/build.log" 2>&1 || { cat "$B/fuzz/build.log"; exit 1; }
image= kdir= mem=1024
if [ "$kernel" = debug ]; then
	if tree=$(scripts/debug-kernel.sh 2>> "$B/fuzz/build.log") &&
		[ -f "$tree/.refcache-built" ]; then
		kdir=$tree image=$tree/arch/x86/boot/bzImage mem=2048
	else
		echo "fuzz: no debug kernel (see $B/fuzz/build.log); using the distribution kernel" >&2
		kernel=distro
	fi
fi
if [ "$kernel" = distro ]; then
	kdir=$(ls -d /usr/src/linux-headers-6.12*-amd64 | sort -V | tail -n 1)
	image=/boot/vmlinuz-${kdir#/usr/src/linux-headers-}
fi
scripts/build-kmod.sh "$kdir" "$B/fuzz/$kernel" >> "$B/fuzz/build.log" 2>&1 ||
	{ tail -n 30 "$B/fuzz/build.log"; exit 1; }
echo "fuzz: $kernel kernel $image"

# The time bound, else about 3000 operations a second on the debug kernel.
if [ "$secs" != 0 ]; then
	timeout=$(( secs + 600 ))
else
	timeout=$(( ops / 1000 + 600 ))
fi
ok=0
tests/vm/run.sh --kernel "$image" --modules "$B/fuzz/$kernel/kmod" --name fuzz \
	--out "$B/fuzz/vm" --tests "$prog" --kunit none --mem "$mem" --timeout "$timeout" \
	--append "rcvm_fuzz_seed=$seed rcvm_fuzz_ops=$ops rcvm_fuzz_secs=$secs" \
	> "$B/fuzz/run.out" 2>&1 && ok=1
# What the fuzz target said, then the harness's verdicts that failed.
sed -n "s/^LOG //p" "$B/fuzz/vm/results.txt" | grep '^#' | grep -v '^# \{1,2\}heap ' || true
grep -v '^PASS ' "$B/fuzz/run.out" | grep -v '^  \(seed=\|fuzz: \)' || true
if [ "$ok" = 1 ]; then
	echo "fuzz: passed (seed=$seed ops=$ops)"
else
	echo "fuzz: FAILED; replay with: make fuzz SEED=$seed OPS=$ops$bound" \
		"(guest logs in ${B#"$top"/}/fuzz/vm)"
fi
[ "$ok" = 1 ]
