#!/bin/bash
# make check: every build, static check and qemu test of refcache.
# Each check prints PASS/FAIL lines; the last line is "N passed, N failed".
# REFCACHE_CHECK_SKIP_DEBUG=1 skips the debug kernel (for a quick loop),
# REFCACHE_CHECK_SKIP_KCSAN=1 the KCSAN kernel.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
B=$top/build
mkdir -p "$B"
log=$B/check.log
: > "$log"
pass=0 fail=0
t0=$(date +%s)

report() { # report PASS|FAIL NAME
	echo "$1 $2"
	if [ "$1" = PASS ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
}

# step_run NAME COMMAND...: run one check, its output in
# build/logs/NAME.log, its result and seconds in build/logs/NAME.rc.
step_run() {
	local name=$1 t=$SECONDS r
	shift
	if "$@" > "$B/logs/$name.log" 2>&1; then r=PASS; else r=FAIL; fi
	printf '%s %s\n' "$r" $((SECONDS - t)) > "$B/logs/$name.rc"
}

# step_report NAME: count what step_run recorded; a failure shows the
# end of its log.
step_report() {
	local name=$1 r secs
	read -r r secs < "$B/logs/$name.rc" || r=FAIL
	if [ "$r" = PASS ]; then
		report PASS "$name"
	else
		report FAIL "$name"
		tail -n 25 "$B/logs/$name.log" | sed 's/^/  | /'
	fi
	echo "   $name took ${secs:-?} s" >&2
}

# step NAME COMMAND...: one check, counted.
step() {
	mkdir -p "$B/logs"
	echo "== $1" >&2
	step_run "$@"
	step_report "$1"
}

# step_bg NAME COMMAND...: step() in the background, for checks that
# share nothing (each its own build directory): a small kbuild leaves a
# core idle in modpost and BTF, and two fill the machine better.
# step_wait reports them, in the order they started.
bg_steps=()
step_bg() {
	mkdir -p "$B/logs"
	echo "== $1 (in the background)" >&2
	step_run "$@" &
	bg_steps+=("$1")
}

step_wait() {
	local name
	wait
	for name in "${bg_steps[@]}"; do
		step_report "$name"
	done
	bg_steps=()
}

# vm_count OUTPUT: a qemu run's PASS/FAIL lines count one by one.
vm_count() {
	local out=$1
	echo "$out" | grep -v '^\(PASS\|FAIL\) '
	echo "$out" | grep '^\(PASS\|FAIL\) ' | while read -r v n; do echo "$v $n"; done
	pass=$((pass + $(echo "$out" | grep -c '^PASS ')))
	fail=$((fail + $(echo "$out" | grep -c '^FAIL ')))
	echo "$out" | grep '^FAIL ' | sed 's/^/  /' >> "$log"
}

# vm_run NAME ARGS...: a qemu run, its output in build/logs/vm-NAME.out
# for vm_wait to count.
vm_run() {
	local name=$1
	shift
	mkdir -p "$B/logs"
	tests/vm/run.sh --name "$name" "$@" > "$B/logs/vm-$name.out" 2>&1
}

# vm_bg NAME ARGS...: vm_run in the background; vm_wait NAME... waits
# for them and counts them.  Most of a run keeps one emulated CPU busy,
# so two at once use the machine's two cores.
vm_bg() {
	vm_run "$@" &
}

vm_wait() {
	local n
	wait
	for n; do
		vm_count "$(cat "$B/logs/vm-$n.out")"
	done
}

distro_kdir=$(ls -d /usr/src/linux-headers-6.12*-amd64 2>/dev/null | sort -V | tail -n 1)
distro_image=/boot/vmlinuz-${distro_kdir#/usr/src/linux-headers-}
compat_kdir=$(ls -d /usr/src/linux-headers-6.1.0-*-amd64 2>/dev/null | sort -V | tail -n 1)

# --- the core natively, first: a broken core fails fast -----------------
# kmod/'s core and the KUnit cases in user space under -O2, ASan+UBSan
# and TSan (tests/native/run.sh); each case and build counts.
vm_count "$(tests/native/run.sh 2>&1)"

# --- builds -----------------------------------------------------------
step build_userspace make -C userspace -j"$(nproc)"
# Modules for one kernel: refcache.ko, plus the test-only refcache_inject.ko
# next to it for the splat and leak guards.
build_mods() { # build_mods KDIR OUT
	scripts/build-kmod.sh "$1" "$2" &&
		cp "$2/tests/inject/refcache_inject.ko" "$2/tests/misuse/refcache_misuse.ko" \
			"$2/kmod/"
}
# The example module as Documentation/kernel-api.rst says to build it: out
# of tree, with refcache's Module.symvers in KBUILD_EXTRA_SYMBOLS.  The
# guest loads it; its init fails unless the collector freed its cycle.
example_module() { # example_module KDIR OUT
	rm -rf "$2" && mkdir -p "$2" && cp examples/module/* "$2/" &&
		make -C "$2" KDIR="$1" REFCACHE_SRC="$top" \
			REFCACHE_SYMVERS="$B/distro/Module.symvers" &&
		modinfo "$2/refcache_example.ko" | grep -q '^depends: *refcache$' &&
		cp "$2/refcache_example.ko" "$B/distro/kmod/"
}
step build_distro_kmod build_mods "$distro_kdir" "$B/distro"
step example_module_build example_module "$distro_kdir" "$B/example"
step build_compat_6.1 scripts/build-kmod.sh "$compat_kdir" "$B/compat61"
# make modules_install into a staging tree for each kernel; the guests
# below load it with modprobe after depmod, and open /dev/refcache to
# load it again through its alias.
modinst() { # modinst KDIR STAGE
	rm -rf "$2" && make modules_install KDIR="$1" INSTALL_MOD_PATH="$2" &&
		find "$2" -name 'refcache.ko*' | grep . &&
		grep -q '^alias char-major-10-250 refcache$' "$2"/lib/modules/*/modules.alias &&
		grep -q '^refcache refcache c10:250$' "$2"/lib/modules/*/modules.devname
}
step modules_install_6.12 modinst "$distro_kdir" "$B/modinst-distro"
step modules_install_6.1 modinst "$compat_kdir" "$B/modinst-compat61"

# --- static checks ----------------------------------------------------
no_warnings() { # no_warnings LOG: fail if the build log has a warning
	! grep -E 'warning:|error:' "$1"
}
w1() {
	scripts/build-kmod.sh "$distro_kdir" "$B/w1" W=1 > "$B/w1.log" 2>&1 ||
		{ cat "$B/w1.log"; return 1; }
	no_warnings "$B/w1.log"
}
step_bg w1_no_warnings w1

# Documentation/design.rst's one rule: no file of kmod/ calls a file of
# a higher band, or of its own band other than as listed, checked with
# nm on the objects of the 6.12 build above; seconds.
step layer_check scripts/layer-check.sh "$B/distro/kmod"

sparse_check() {
	scripts/build-kmod.sh "$distro_kdir" "$B/sparse" C=2 > "$B/sparse.log" 2>&1 ||
		{ cat "$B/sparse.log"; return 1; }
	# Only our own files count; the distribution headers are not ours.
	! grep -E "^$B/sparse/.*(warning|error):" "$B/sparse.log"
}
step_bg sparse_clean sparse_check

checkpatch() {
	local cp
	cp=$(scripts/checkpatch-path.sh) || return 1
	# compat.h holds the version checks (and no-op shims) checkpatch dislikes.
	perl "$cp" --no-tree --strict --terse --show-types \
		--ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON,MACRO_ARG_UNUSED -f kmod/compat.h &&
	# TRACE_EVENT's layout is the tracing subsystem's, not checkpatch's.
	perl "$cp" --no-tree --strict --terse --show-types \
		--ignore PARENTHESIS_ALIGNMENT,OPEN_ENDED_LINE -f kmod/trace.h &&
	perl "$cp" --no-tree --strict --terse --show-types -f \
		$(ls kmod/*.[ch] uapi/linux/*.h tests/kunit/*.c tests/inject/*.c tests/misuse/*.c \
			examples/module/*.c |
			grep -v -e '\.mod\.c$' -e compat.h -e trace.h)
}
step_bg checkpatch_strict checkpatch

lib_symbols() { # every exported library symbol is versioned, nothing else leaks
	local syms
	syms=$(nm -D --defined-only userspace/build/librefcache.so.1 | awk '$2 == "T" {print $3}')
	[ -n "$syms" ] || return 1
	echo "$syms"
	! echo "$syms" | grep -v '@@LIBREFCACHE_' &&
		[ "$(echo "$syms" | wc -l)" = "$(grep -c 'refcache_[a-z_]*;' userspace/lib/librefcache.map)" ]
}
step lib_symbols_versioned lib_symbols

# refcachectl top under a pty (script(1)), against a /proc fixture.
step cli_top_tty tests/cli/top-test.sh userspace/build/refcachectl

# make install under DESTDIR: the staged CLI starts, pkg-config, a program
# built against the staged tree, uninstall leaves nothing.
step install_test scripts/install-test.sh "$B/install-test"

# DKMS: make dkms-source's tree, added, built and installed by dkms for
# Debian's 6.12 and 6.1 kernels, in private DKMS trees.
step_bg dkms_build scripts/dkms-test.sh "$B/dkms-test" \
	"$(basename "$(readlink -f "$distro_kdir")" | sed 's/^linux-headers-//')" \
	"$(basename "$compat_kdir" | sed 's/^linux-headers-//')"

# The docs describe what the code offers: man pages match the header,
# every ioctl, module parameter and /proc file is documented.
step doc_check scripts/doc-check.sh

# refcachectl graph against a known graph, parsed by Graphviz where it is
# installed (graphviz, scripts/install-deps.sh); each TAP line counts.
graph_tap() {
	local out
	out=$(tests/graph/graph_test.sh userspace/build/refcachectl 2>&1)
	echo "$out" > "$B/logs/graph.log"
	echo "$out" | sed -n 's/^ok [0-9]* - \(.*\)$/\1/p' | while read -r t; do echo "PASS $t"; done
	echo "$out" | sed -n 's/^not ok [0-9]* - \(.*\)$/\1/p' | while read -r t; do echo "FAIL $t"; done
	pass=$((pass + $(echo "$out" | grep -c '^ok ')))
	fail=$((fail + $(echo "$out" | grep -c '^not ok ')))
	[ "$(echo "$out" | grep -c '^\(not \)\{0,1\}ok ')" -gt 0 ] || report FAIL graph_test_ran
}
graph_tap

# pip install ./userspace/python works (Debian's pip, offline: no build
# isolation), and what it installed imports against the library just built.
pip_install() {
	rm -rf "$B/pip"
	/usr/bin/python3 -m pip install --no-build-isolation --no-index --target "$B/pip" \
		./userspace/python &&
		rm -rf userspace/python/build userspace/python/refcache.egg-info &&
		PYTHONPATH="$B/pip" REFCACHE_LIB=userspace/build/librefcache.so.1 \
			/usr/bin/python3 -c 'import refcache; print(refcache.Heap, refcache.DEBUG_LEAK)'
}
step python_pip_install pip_install

# The static checks started in the background above.
step_wait

# --- distribution kernel and Debian's 6.1 kernel, side by side ----------
compat_image=/boot/vmlinuz-${compat_kdir#/usr/src/linux-headers-}
# --with-perf: Debian's perf runs Documentation/collector.rst's perf
# one-liners in this guest (tests/vm/perf_test.sh), each a counted test.
vm_bg distro --kernel "$distro_image" --modules "$B/distro/kmod" --modtree "$B/modinst-distro" \
	--with-python --with-perf
# The splat guard itself: a deliberate warning must fail a run.  It
# boots after the 6.1 guest, beside the longer distro one.
splat_guard() {
	vm_run splat_guard --kernel "$distro_image" --modules "$B/distro/kmod" \
		--mode inject_warn --expect-splat
}
if [ -r "$compat_image" ] && [ -f "$B/compat61/kmod/refcache.ko" ]; then
	{
		vm_run compat61 --kernel "$compat_image" --modules "$B/compat61/kmod" \
			--modtree "$B/modinst-compat61"
		splat_guard
	} &
	vm_wait distro compat61 splat_guard
else
	splat_guard
	vm_wait distro splat_guard
	report FAIL compat61_boot
	echo "  no $compat_image or no 6.1 module (scripts/install-deps.sh installs linux-image-amd64)"
fi

# --- debug kernel and KCSAN kernel, two lines of guests ------------------
# The debug kernel has KUnit, KASAN, lockdep and kmemleak.  The KCSAN kernel
# runs what races under the data-race detector; KCSAN cannot be combined
# with KASAN, so it has a kernel of its own (tests/kunit/kcsan.config).
# Both kernels come from ~/.cache/refcache (scripts/debug-kernel.sh), and
# the modules for the debug kernel are built first.  Then two lines of
# guests run at once, each keeping about one emulated CPU busy on a
# machine of two cores:
#   A: the userspace programs on the debug kernel (guest debug), the
#      longest run;
#   B: the modules for the KCSAN kernel;
# then each line takes the next guest not yet taken of: the KUnit suites
# on the debug kernel (debug_kunit), the KCSAN kernel's race tests
# (kcsan), a module that misuses the in-kernel API and unloads before
# refcache does (misuse: warnings, but no callback into freed code), the
# kmemleak guard (a deliberate leak must fail a run: leak_guard) and the
# KCSAN kernel's guard (kcsan_guard).
# The KCSAN guest runs the KUnit suites of the biased counts, the
# collector and the allocator (their hammers and races), the eight
# mutators against a collector (gc_test's gc_concurrent*) and
# hardening_test (the concurrent ioctl stress, create/destroy and CPU
# hotplug races).  Any "BUG: KCSAN:" report fails the run (run.sh), and a
# deliberate race beside it must be reported, or the detector is not on.
dk=
kt=
if [ "${REFCACHE_CHECK_SKIP_DEBUG:-0}" != 1 ]; then
	debug_tree=
	get_debug_tree() { debug_tree=$(scripts/debug-kernel.sh) && echo "$debug_tree"; }
	step debug_kernel_build get_debug_tree
	debug_tree=$(tail -n 1 "$B/logs/debug_kernel_build.log")
	if [ -f "$debug_tree/.refcache-built" ]; then
		dbg() {
			build_mods "$debug_tree" "$B/debug" &&
				cp "$B/debug/tests/kunit/refcache_kunit.ko" "$B/debug/kmod/"
		}
		step build_debug_kmod dbg
		dk=$debug_tree/arch/x86/boot/bzImage
	fi
fi
if [ "${REFCACHE_CHECK_SKIP_KCSAN:-0}" != 1 ]; then
	kcsan_tree=
	get_kcsan_tree() {
		kcsan_tree=$(scripts/debug-kernel.sh tests/kunit/kcsan.config) && echo "$kcsan_tree"
	}
	step kcsan_kernel_build get_kcsan_tree
	kcsan_tree=$(tail -n 1 "$B/logs/kcsan_kernel_build.log")
	if [ -f "$kcsan_tree/.refcache-built" ]; then
		kcsan_mods() {
			build_mods "$kcsan_tree" "$B/kcsan" &&
				cp "$B/kcsan/tests/kunit/refcache_kunit.ko" "$B/kcsan/kmod/"
		}
		kt=$kcsan_tree/arch/x86/boot/bzImage
	fi
fi
# The other guests go to whichever line is free first, in this order
# (the longest first); a line takes one by creating its claim directory.
rm -rf "$B"/logs/vm-{debug,debug_kunit,misuse,leak_guard,kcsan,kcsan_guard}.out \
	"$B"/logs/claim-* "$B/logs/kcsan-kmod-done"
guests=
[ -z "$dk" ] || guests="debug_kunit"
[ -z "$kt" ] || guests="$guests kcsan"
[ -z "$dk" ] || guests="$guests misuse leak_guard"
[ -z "$kt" ] || guests="$guests kcsan_guard"
run_debug_kunit() {
	if [ -f "$B/debug/kmod/refcache_kunit.ko" ]; then
		vm_run debug_kunit --kernel "$dk" --modules "$B/debug/kmod" \
			--mem 2048 --timeout 900 --tests none
	else
		echo "FAIL debug_kunit_module_built" > "$B/logs/vm-debug_kunit.out"
	fi
}
run_misuse() {
	vm_run misuse --kernel "$dk" --modules "$B/debug/kmod" --mode misuse \
		--mem 2048 --kunit none --tests none
}
run_leak_guard() {
	vm_run leak_guard --kernel "$dk" --modules "$B/debug/kmod" --mem 2048 \
		--mode inject_leak --expect-splat
}
kcsan_mods_built() { # wait for line B's build; true if it made the modules
	while [ ! -e "$B/logs/kcsan-kmod-done" ]; do sleep 1; done
	[ -f "$B/kcsan/kmod/refcache_kunit.ko" ]
}
run_kcsan() {
	kcsan_mods_built || return 0
	vm_run kcsan --kernel "$kt" --modules "$B/kcsan/kmod" --mem 2048 \
		--timeout 900 --kunit 'refcache_[abg]*' --tests 'gc_test hardening_test' \
		--append 'rcvm_gc_case=gc_concurrent*'
}
run_kcsan_guard() {
	kcsan_mods_built || return 0
	vm_run kcsan_guard --kernel "$kt" --modules "$B/kcsan/kmod" \
		--mode inject_race --expect-splat
}
guest_jobs() {
	local j
	for j in $guests; do
		if mkdir "$B/logs/claim-$j" 2>/dev/null; then
			"run_$j"
		fi
	done
}
{ # line A
	if [ -n "$dk" ]; then
		vm_run debug --kernel "$dk" --modules "$B/debug/kmod" --mem 2048 \
			--timeout 900 --kunit none
	fi
	guest_jobs
} &
{ # line B
	if [ -n "$kt" ]; then
		echo "== build_kcsan_kmod (in the background)" >&2
		step_run build_kcsan_kmod kcsan_mods
	fi
	touch "$B/logs/kcsan-kmod-done"
	guest_jobs
} &
wait
[ -z "$kt" ] || step_report build_kcsan_kmod
for n in debug_kunit debug misuse leak_guard kcsan kcsan_guard; do
	[ -f "$B/logs/vm-$n.out" ] && vm_count "$(cat "$B/logs/vm-$n.out")"
done

echo "check took $(( $(date +%s) - t0 )) s"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
