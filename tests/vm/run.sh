#!/bin/bash
# Boot a kernel in qemu (software emulation) with an initramfs holding
# busybox, refcache's modules and its test programs; collect the guest's
# results and fail on any kernel splat in the guest log.
#
# usage: tests/vm/run.sh --kernel BZIMAGE --modules DIR --name NAME
#                        [--mode inject_warn] [--expect-splat]
#                        [--timeout SEC] [--mem MB] [--out DIR]
#                        [--append "KERNEL ARGS"] [--tests GLOB]
#                        [--kunit all|none|GLOB] [--with-python]
#                        [--modtree DIR] [--with-perf]
# --tests picks the userspace test programs (default: all, "*_test"); a
# list of globs separated by spaces picks several ("gc_test hardening_test").
# --kunit none does not load refcache_kunit.ko; a GLOB runs only the
# KUnit suites it matches (kunit.filter_glob).
# --modtree DIR copies DIR/lib/modules (make modules_install
# INSTALL_MOD_PATH=DIR) into the guest, which then loads refcache with
# modprobe after depmod before its other tests (tests/vm/init.sh).
# --with-python puts Debian's python3 into the guest (for make bench:
# tests/bench/gc_bench.py, CPython's side of the collector benchmark).
# --with-perf puts Debian's perf into the guest and runs
# tests/vm/perf_test.sh as /tests/perf_test (Documentation/collector.rst's
# perf one-liners against refcachectl demo).
#
# DIR holds refcache.ko and, where the kernel has KUnit, refcache_kunit.ko.
# Prints "PASS <name>" / "FAIL <name>" lines and a final
# "vm NAME: N passed, N failed"; exits non-zero on any failure.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
kernel= moddir= name=vm mode= extra= tests='*_test'  expect_splat=0 timeout=300 mem=1024 out=
kunit=all with_python=0 modtree= with_perf=0
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift ;;
	--modules) moddir=$2; shift ;;
	--name) name=$2; shift ;;
	--mode) mode=$2; shift ;;
	--expect-splat) expect_splat=1 ;;
	--timeout) timeout=$2; shift ;;
	--mem) mem=$2; shift ;;
	--out) out=$2; shift ;;
	--append) extra=$2; shift ;;
	--tests) tests=$2; shift ;;
	--kunit) kunit=$2; shift ;;
	--with-python) with_python=1 ;;
	--with-perf) with_perf=1 ;;
	--modtree) modtree=$2; shift ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
[ -r "$kernel" ] && [ -f "$moddir/refcache.ko" ] ||
	{ echo "run.sh: need --kernel IMAGE and --modules DIR with refcache.ko" >&2; exit 2; }
out=${out:-$top/build/vm/$name}
rm -rf "$out"
mkdir -p "$out/root"/{bin,sbin,lib,tests,proc,sys,dev,tmp}

# The initramfs.
root=$out/root
cp /bin/busybox "$root/bin/busybox"
cp "$top/tests/vm/init.sh" "$root/init"
cp "$moddir"/refcache*.ko "$root/lib/"
# make bench: refcache.ko built with -DNOTRACE and its bench module.
[ -d "$moddir/notrace" ] && cp -r "$moddir/notrace" "$root/lib/"
[ "$kunit" = none ] && rm -f "$root/lib/refcache_kunit.ko"
set -f
globs=($tests)
set +f
for t in "${globs[@]}"; do
	cp "$top"/userspace/build/tests/$t "$root/tests/" 2>/dev/null
done
cp "$top/userspace/build/refcachectl-static" "$root/bin/refcachectl"
# make bench: the benchmark programs built on the library (userspace/
# Makefile's BENCH, from tests/bench/*.c), which init.sh runs from /bench.
if [ "$mode" = bench ]; then
	mkdir -p "$root/bench"
	cp "$top"/userspace/build/bench/* "$root/bench/" ||
		{ echo "run.sh: no benchmark programs in userspace/build/bench" >&2; exit 2; }
fi
if [ -n "$modtree" ]; then
	cp -a "$modtree/lib/modules" "$root/lib/" ||
		{ echo "run.sh: no $modtree/lib/modules" >&2; exit 2; }
	extra="rcvm_version=$("$top/scripts/version.sh") $extra"
fi
if [ "$with_python" = 1 ]; then
	# Debian's interpreter (/usr/bin/python3, python3.11 on bookworm) at
	# its own path, the shared libraries ldd names, and of the standard
	# library only the files of the modules gc_bench.py loads (and
	# random's), with their compiled forms: 5 MB more initrd, where the
	# whole library (less tests, idle, tk, pydoc data) would add 4 more.
	# The guest runs it with -I -S: no site, no environment.
	py=$(readlink -f /usr/bin/python3)
	pyver=$("$py" -I -S -c 'import sys; print("%d.%d %s" % (*sys.version_info[:2], sys.implementation.cache_tag))') ||
		{ echo "run.sh: no usable /usr/bin/python3 (scripts/install-deps.sh)" >&2; exit 2; }
	pylib=/usr/lib/python${pyver% *}
	mkdir -p "$root/usr/bin" "$root$pylib/lib-dynload" "$root/bench"
	cp "$py" "$root$py"
	[ "$py" = /usr/bin/python3 ] || ln -s "${py##*/}" "$root/usr/bin/python3"
	cp "$top/tests/bench/gc_bench.py" "$root/bench/"
	pyfiles=$("$py" -I -S "$top/tests/bench/gc_bench.py" --list-modules | grep "^$pylib/") ||
		{ echo "run.sh: $py cannot list gc_bench.py's modules" >&2; exit 2; }
	# The refcache package (userspace/python, ctypes over librefcache.so.1)
	# and its unittest suite, run as /tests/python_test, with the modules
	# they load: unittest, ctypes (its _ctypes.so and libffi via ldd).
	pyfiles="$pyfiles $("$py" -I -S -c 'import sys, unittest, ctypes, ctypes.util, select, errno, os, traceback
print("\n".join(sorted({m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)})))' |
		grep "^$pylib/")" ||
		{ echo "run.sh: $py cannot list unittest's and ctypes' modules" >&2; exit 2; }
	mkdir -p "$root/python" "$root/usr/lib"
	cp -r "$top/userspace/python/refcache" "$top/userspace/python/tests" "$root/python/"
	cp -L "$top/userspace/build/librefcache.so.1" "$root/usr/lib/"
	cp -r "$top/userspace/python/examples" "$root/python/"
	# The demo's output first, as comments, for the log; then the suite's TAP.
	cat > "$root/tests/python_test" <<'PYTEST'
#!/bin/sh
export REFCACHE_LIB=/usr/lib/librefcache.so.1 PYTHONPATH=/python
/usr/bin/python3 -s -S /python/examples/demo.py 2>&1 | sed 's/^/# demo.py: /'
exec /usr/bin/python3 -E -s -S /python/tests/tap.py /python
PYTEST
	chmod +x "$root/tests/python_test"
	for f in $pyfiles; do
		mkdir -p "$root${f%/*}/__pycache__"
		cp -p "$f" "$root$f"
		pyc=${f%/*}/__pycache__/$(basename "$f" .py).${pyver#* }.pyc
		[ -f "$pyc" ] && cp -p "$pyc" "$root$pyc"
	done
	for lib in $(for f in "$py" $pyfiles "$top/userspace/build/librefcache.so.1"; do
			case "$f" in "$py"|*.so|*.so.1) ldd "$f" ;; esac
		done | grep -o '/[^ ]*\.so[^ ]*'); do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root${lib%/*}"
		cp -L "$lib" "$root$lib"
	done
fi
if [ "$with_perf" = 1 ]; then
	# Debian's perf (package linux-perf: perf 6.1 on bookworm, which reads
	# a 6.12 kernel's tracepoints through tracefs) and the shared libraries
	# ldd names (libpython, libperl, libdw...): 33 MB, 12 MB of initrd.
	perf=$(readlink -f /usr/bin/perf)
	[ -x "$perf" ] && ldd "$perf" > "$out/perf-ldd.txt" ||
		{ echo "run.sh: no usable /usr/bin/perf (scripts/install-deps.sh: linux-perf)" >&2; exit 2; }
	mkdir -p "$root/usr/bin"
	cp "$perf" "$root/usr/bin/perf"
	for lib in $(grep -o '/[^ ]*\.so[^ ]*' "$out/perf-ldd.txt"); do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root${lib%/*}"
		cp -L "$lib" "$root$lib"
	done
	install -m 755 "$top/tests/vm/perf_test.sh" "$root/tests/perf_test"
fi
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/initrd.gz"

# oops=panic: a test that oopses the kernel ends the run at once (panic=-1
# reboots, -no-reboot stops qemu) instead of hanging until --timeout.
# hung_task_timeout_secs: insmod of the KUnit module waits for all its
# suites, which under emulation on a busy host can take past the default
# 120 s; a real hang is still caught, by --timeout.
# no5lvl: with -cpu max, TCG offers 5-level paging, and the debug
# kernel (KASAN) then twice reported a "wild-memory-access" in an
# interrupt that came in during start_kernel()'s CPU setup, at a
# direct-map address of the 5-level layout, 3 s into boot and before
# refcache was loaded.  4-level paging, as most machines run, avoids it.
append="console=ttyS0 panic=-1 oops=panic loglevel=7 printk.time=1 hung_task_timeout_secs=600 no5lvl"
append="$append rcvm_mode=${mode:-tests}"
case "$kunit" in
all) ;;
none) append="$append rcvm_kunit=none" ;;
*) append="$append kunit.filter_glob=$kunit" ;;
esac
append="$append $extra"
start=$(date +%s)
timeout --foreground -k 5 "$timeout" qemu-system-x86_64 \
	-machine q35 -cpu max -smp 2 -m "$mem" \
	-kernel "$kernel" -initrd "$out/initrd.gz" -append "$append" \
	-display none -no-reboot -monitor none \
	-serial "file:$out/console.log" -serial "file:$out/results.log" \
	</dev/null >"$out/qemu.log" 2>&1
qrc=$?
secs=$(( $(date +%s) - start ))
tr -d '\r' < "$out/results.log" > "$out/results.txt"
tr -d '\r' < "$out/console.log" > "$out/console.txt"

pass=0 fail=0
report() { # report PASS|FAIL NAME
	echo "$1 $name.$2"
	if [ "$1" = PASS ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
}

if [ "$expect_splat" = 0 ]; then
	while read -r verdict test _; do
		report "$verdict" "$test"
	done < <(grep -E '^(PASS|FAIL) ' "$out/results.txt")

	# KUnit: test cases are the KTAP lines one level in (4 spaces).
	suite= ncases=0
	while IFS= read -r line; do
		case "$line" in
		"KTAP # Subtest: "*|"KTAP     # Subtest: "*) suite=${line#*# Subtest: } ;;
		"KTAP     ok "*) c=${line#KTAP     ok }; c=${c#* }; report PASS "kunit.$suite.${c%% *}"; ncases=$((ncases + 1)) ;;
		"KTAP     not ok "*) c=${line#KTAP     not ok }; c=${c#* }; report FAIL "kunit.$suite.${c%% *}"; ncases=$((ncases + 1)) ;;
		esac
	done < "$out/results.txt"
	if [ -f "$root/lib/refcache_kunit.ko" ] && [ "$ncases" = 0 ]; then
		report FAIL kunit_ran
	fi
	grep '^KTAP     # .*: EXPECTATION FAILED\|^KTAP         # ' "$out/results.txt" | head -20 | sed 's/^/  /'

	# The fail-nth sweep's and the fuzz target's numbers, for people.
	grep -E '^LOG # (failnth|fuzz)[a-z0-9_]*: |^LOG # seed=[0-9]+ ops=' "$out/results.txt" |
		sed 's/^LOG # /  /'

	if grep -q '^KMEMLEAK unreferenced object' "$out/results.txt"; then
		report FAIL kmemleak_clean
		grep '^KMEMLEAK' "$out/results.txt" | head -30 | sed 's/^/  /'
	elif grep -q '^KMEMLEAK-SCANNED' "$out/results.txt"; then
		report PASS kmemleak_clean
	fi
fi

if grep -q '^REFCACHE-GUEST-DONE' "$out/results.txt"; then
	report PASS guest_completed
else
	report FAIL guest_completed
	echo "  guest did not finish (qemu status $qrc after ${secs}s; timeout ${timeout}s); console tail:"
	tail -n 30 "$out/console.txt" | sed 's/^/  | /'
fi

# Any of these in the guest's kernel log fails the run.
splat='WARNING:|BUG:|KASAN:|UBSAN:|Oops|Kernel panic|general protection fault'
splat="$splat|possible circular locking|possible recursive locking|inconsistent lock state"
splat="$splat|suspicious RCU usage|INFO: possible|lockdep is turned off|DEBUG_LOCKS_WARN_ON"
splat="$splat|unreferenced object|Call Trace:|refcount_t:|bad unlock balance|held lock freed"
splat="$splat|kernel BUG|list_add corruption|list_del corruption|ODEBUG:|sleeping function called"
# KCSAN's reports ("BUG: KCSAN: data-race in ...") on the KCSAN kernel;
# "BUG:" matches them already, named here so that nobody narrows it away.
splat="$splat|KCSAN: "
# kmemleak's own report came over the results port.
# Tests that provoke a warning on purpose (refcount_t's saturation, say)
# bracket it with "refcache-expect-splat: begin"/"end" lines; what lies
# between is theirs to check, not a stray splat.  A data race is never
# expected: KCSAN's report lines are kept even inside a bracket.
# The fail-nth sweep makes the kernel fail allocations on purpose, and
# fault injection (verbose=2) reports each one: a "FAULT_INJECTION:
# forcing a failure." line, its "name ..., interval ..." line and a
# dump_stack() (CPU:/Tainted:/Hardware name:/Call Trace: and indented
# frames up to " </TASK>").  Exactly those lines are dropped; any other
# line ends the block and is checked.
drop_fault_dumps() {
	awk '
	{ b = $0; sub(/^\[ *[0-9]+\.[0-9]+\] /, "", b) }
	state == 1 { state = (b ~ /^name [a-z_]+, interval /) ? 2 : 0; if (state) next }
	state == 2 { state = (b ~ /^CPU: [0-9]+ /) ? 3 : 0; if (state) next }
	state == 3 {
		if (b ~ /^(Tainted: |Hardware name: |Workqueue: |Call Trace:$| )/) {
			if (b ~ /^ <\/TASK>$/)
				state = 0
			next
		}
		state = 0
	}
	b ~ /^FAULT_INJECTION: forcing a failure/ { state = 1; next }
	{ print }' "$1"
}
nfault=$(grep -c 'FAULT_INJECTION: forcing a failure' "$out/console.txt")
{ drop_fault_dumps "$out/console.txt" |
	awk '/refcache-expect-splat: begin/ { skip = 1 } !skip || /KCSAN: / { print } /refcache-expect-splat: end/ { skip = 0 }'
	sed -n 's/^KMEMLEAK //p' "$out/results.txt"; } > "$out/kernel.txt"
[ "$nfault" = 0 ] || echo "  (left out of the splat check: $nfault deliberate fault-injection reports)"
grep -E "$splat" "$out/kernel.txt" > "$out/splats.txt"
if [ "$expect_splat" = 1 ]; then
	if [ -s "$out/splats.txt" ]; then report PASS splat_detected; else report FAIL splat_detected; fi
elif [ -s "$out/splats.txt" ]; then
	report FAIL no_kernel_splat
	grep -E -B2 -A20 -m1 "$splat" "$out/kernel.txt" | head -40 | sed 's/^/  | /'
else
	report PASS no_kernel_splat
fi

echo "vm $name: $pass passed, $fail failed (${secs}s, log in ${out#"$top"/})"
[ "$fail" = 0 ]
