#!/bin/bash
# Run one suite by hand: build what the chosen kernel needs, boot it once
# in qemu and print the harness's verdicts (tests/vm/run.sh).
#
# usage: scripts/vm-one.sh [--debug|--kcsan|--distro|--6.1]
#                          [--kunit GLOB|--no-kunit] [--tests GLOB|--no-tests]
#                          [--append "ARGS"] [--mem MB] [--timeout SEC]
#                          [--mode MODE]
#   --debug     the debug kernel (KASAN, lockdep, kmemleak, KUnit; default)
#   --kcsan     the KCSAN kernel (KCSAN, lockdep, KUnit; no KASAN)
#   --distro    Debian's 6.12 kernel;  --6.1  Debian's 6.1 kernel
#   --kunit     only the KUnit suites matching GLOB (kunit.filter_glob);
#               --no-kunit does not load refcache_kunit.ko
#   --tests     the userspace test programs to run (default "*_test";
#               the 32-bit ones are "*32_test"; several: "gc_test abi_test");
#               --no-tests runs none
#   --append    more kernel command line, e.g. "rcvm_fuzz_ops=200000"
#   --mode      the guest's rcvm_mode (tests/vm/init.sh), e.g. inject_race
#   --with-python  Debian's python3 and the refcache package's unittest
#               suite (userspace/python) in the guest, as /tests/python_test
#   --with-perf Debian's perf in the guest and tests/vm/perf_test.sh, as
#               /tests/perf_test (the docs' perf one-liners)
# Examples:
#   scripts/vm-one.sh --debug --kunit 'refcache_handle*' --no-tests
#   scripts/vm-one.sh --distro --tests object_test
#   scripts/vm-one.sh --debug --no-kunit --tests failnth_test
#   scripts/vm-one.sh --kcsan --kunit 'refcache_biased*' --tests gc_test \
#                     --append 'rcvm_gc_case=gc_concurrent*'
# Builds into ${REFCACHE_BUILD:-build}/vm-one/<kernel>/, guest logs in
# ${REFCACHE_BUILD:-build}/vm/one-<kernel>/.  make vm-one ARGS="..." runs it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
B=${REFCACHE_BUILD:-$top/build}
kernel=debug kunit=all tests='*_test' append= mem= timeout=900 mode= python= perf=
while [ $# -gt 0 ]; do
	case "$1" in
	--debug) kernel=debug ;;
	--kcsan) kernel=kcsan ;;
	--distro) kernel=distro ;;
	--6.1) kernel=6.1 ;;
	--kunit) kunit=$2; shift ;;
	--no-kunit) kunit=none ;;
	--tests) tests=$2; shift ;;
	--no-tests) tests=none ;;
	--append) append=$2; shift ;;
	--with-python) python=--with-python ;;
	--with-perf) perf=--with-perf ;;
	--mem) mem=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--mode) mode=$2; shift ;;
	*) sed -n '2,30p' "$0" >&2; exit 2 ;;
	esac
	shift
done

out=$B/vm-one/$kernel
mkdir -p "$out"
log=$out/build.log
: > "$log"
case "$kernel" in
debug)
	tree=$(scripts/debug-kernel.sh 2>> "$log") || { tail -n 20 "$log"; exit 1; }
	kdir=$tree image=$tree/arch/x86/boot/bzImage mem=${mem:-2048} ;;
kcsan)
	tree=$(scripts/debug-kernel.sh tests/kunit/kcsan.config 2>> "$log") ||
		{ tail -n 20 "$log"; exit 1; }
	kdir=$tree image=$tree/arch/x86/boot/bzImage mem=${mem:-2048} ;;
distro)
	kdir=$(ls -d /usr/src/linux-headers-6.12*-amd64 2>/dev/null | sort -V | tail -n 1)
	image=/boot/vmlinuz-${kdir#/usr/src/linux-headers-} ;;
6.1)
	kdir=$(ls -d /usr/src/linux-headers-6.1.0-*-amd64 2>/dev/null | sort -V | tail -n 1)
	image=/boot/vmlinuz-${kdir#/usr/src/linux-headers-} ;;
esac
[ -n "$kdir" ] && [ -r "$image" ] ||
	{ echo "vm-one: no $kernel kernel (run scripts/install-deps.sh)" >&2; exit 1; }

echo "vm-one: building for $kdir" >&2
make -s -C userspace >> "$log" 2>&1 || { tail -n 30 "$log"; exit 1; }
scripts/build-kmod.sh "$kdir" "$out/mods" >> "$log" 2>&1 || { tail -n 30 "$log"; exit 1; }
cp "$out/mods/tests/inject/refcache_inject.ko" "$out/mods/tests/misuse/refcache_misuse.ko" \
	"$out/mods/kmod/"
if [ -f "$out/mods/tests/kunit/refcache_kunit.ko" ] && [ "$kunit" != none ]; then
	cp "$out/mods/tests/kunit/refcache_kunit.ko" "$out/mods/kmod/"
else
	rm -f "$out/mods/kmod/refcache_kunit.ko"
fi
[ "$tests" = none ] && tests=no-such-test

echo "vm-one: booting $image" >&2
exec tests/vm/run.sh --kernel "$image" --modules "$out/mods/kmod" --name "one-$kernel" \
	--out "$B/vm/one-$kernel" --kunit "$kunit" --tests "$tests" \
	--timeout "$timeout" ${mem:+--mem "$mem"} ${append:+--append "$append"} \
	${mode:+--mode "$mode"} $python $perf
