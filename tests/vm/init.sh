#!/bin/busybox sh
# /init of the refcache test guest (busybox).  Loads the modules, runs the
# KUnit suites and userspace tests, and reports on the second serial port
# (/dev/ttyS1) with one line per result:
#   PASS <name> | FAIL <name> [reason] | KTAP <line> | LOG <line>
# and finally the token the host waits for: REFCACHE-GUEST-DONE.
# Kernel parameters the host passes reach us as environment variables:
#   rcvm_mode=tests         (default) KUnit, userspace tests, unload
#   rcvm_mode=demo          show refcachectl at work (make demo)
#   rcvm_mode=bench         load refcache_bench*.ko (and run /bench/gc_bench.py
#                           if python3 is here, and /bench/gc_handles, the
#                           tree through /dev/refcache), report their lines;
#                           refcache_bench_trace.ko against refcache.ko and
#                           /lib/notrace/refcache.ko in turn,
#                           rcvm_trace_rounds times
#   rcvm_mode=inject_warn   only trigger refcache_inject.ko's warning
#   rcvm_mode=inject_leak   only leak a few blocks (refcache_inject.ko)
#   rcvm_mode=misuse        refcache_misuse.ko misuses the in-kernel API,
#                           is unloaded, then refcache is (tests/misuse/)
#   rcvm_mode=inject_race   only race two threads on a plain variable
#                           (refcache_inject.ko; the KCSAN kernel's guard)
#   rcvm_kunit=none         do not load refcache_kunit.ko
#   rcvm_version=V          with /lib/modules/$(uname -r) in the initramfs
#                           (run.sh --modtree, what make modules_install
#                           staged): depmod, modprobe refcache, check the
#                           node's default mode and the version V, then
#                           unload and check that opening /dev/refcache
#                           loads the module again
#   rcvm_fuzz_seed, rcvm_fuzz_ops, rcvm_fuzz_secs, rcvm_fuzz_trace,
#   rcvm_failnth_case,
#   rcvm_gc_case:           REFCACHE_FUZZ_SEED/_OPS/_SECS/_TRACE,
#                           REFCACHE_FAILNTH_CASE and REFCACHE_GC_CASE
#                           for the test programs
#   rcvm_gc_rounds, rcvm_gc_objects, rcvm_gc_args:
#                           bench mode: refcache_bench_gc.ko's rounds (and
#                           gc_bench.py's, in turn), objects, and more
#                           module parameters, comma-separated (e.g.
#                           shape_mask=8,pause_live=0)
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/tests
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmp /tmp

R=/dev/ttyS1
stty -F $R raw -echo 2>/dev/null
say() { echo "$*" > $R; }
result() { # result NAME COMMAND...: PASS/FAIL on the command's status
	name=$1; shift
	if "$@" > /tmp/out 2>&1; then say "PASS $name"; else say "FAIL $name"; fi
	sed 's/^/LOG /' /tmp/out > $R
}
centisecs() { # the uptime in 1/100 s
	read -r u _ < /proc/uptime
	echo $((${u%.*} * 100 + 1${u#*.} - 100))
}
finish() {
	if [ -e /sys/kernel/debug/kmemleak ]; then
		# kmemleak reports an object that a scan finds unreferenced when
		# the scan starts at least 5 s after the object's allocation and
		# the object's contents (their checksum) did not change since
		# the scan before; every scan records the checksum of every
		# object, however young.  So scan at once, then again once 6 s
		# have passed since the tests ended: the second scan reports.
		# The first scan takes most of those 6 s (about 5 s on the debug
		# kernel under TCG), which a sleep before both scans used to add.
		t=$(centisecs)
		echo scan > /sys/kernel/debug/kmemleak
		t=$((t + 600 - $(centisecs)))
		[ "$t" -gt 0 ] && sleep $(((t + 99) / 100))
		echo scan > /sys/kernel/debug/kmemleak
		sed 's/^/KMEMLEAK /' /sys/kernel/debug/kmemleak > $R
		say "KMEMLEAK-SCANNED"
	fi
	say "REFCACHE-GUEST-DONE"
	sync
	reboot -f
}

say "LOG guest up: $(uname -r)"

# The module as make modules_install put it, found by modprobe after depmod.
if [ -d "/lib/modules/$(uname -r)" ]; then
	echo /bin/modprobe > /proc/sys/kernel/modprobe
	result depmod depmod
	result modprobe_refcache modprobe refcache
	v=$(cat /sys/module/refcache/version 2>/dev/null)
	if [ "$v" = "${rcvm_version:-none}" ]; then say "PASS modinfo_version"; else
		say "FAIL modinfo_version (module says '$v', expected '${rcvm_version:-}')"; fi
	m=$(stat -c '%a %u %g' /dev/refcache 2>/dev/null)
	if [ "$m" = "666 0 0" ]; then say "PASS default_mode_0666"; else
		say "FAIL default_mode_0666 (/dev/refcache: '$m')"; fi
	result rmmod_modprobed rmmod refcache
	# What kmod static-nodes makes from modules.devname at boot; the first
	# open(2) then loads the module (request_module of char-major-10-250).
	mknod /dev/refcache c 10 250
	if exec 3< /dev/refcache && [ -d /sys/module/refcache ]; then
		say "PASS autoload_on_open"
	else
		say "FAIL autoload_on_open"
	fi
	exec 3<&-
	rmmod refcache 2>/dev/null
	rm -f /dev/refcache
fi

# The tests run as other users too (hardening_test): every user may open
# it, as by default.
if ! insmod /lib/refcache.ko; then
	say "FAIL insmod_refcache"
	finish
fi
say "PASS insmod_refcache"

show() { # show COMMAND...: echo a command and its output for people
	say "LOG \$ $*"
	"$@" 2>&1 | sed 's/^/LOG /' > $R
}

if [ "$rcvm_mode" = demo ]; then
	show refcachectl version
	show refcachectl stats
	if refcachectl demo --help > /dev/null 2>&1; then
		show refcachectl demo
		show refcachectl caches
	fi
	say "LOG (holding /dev/refcache open: one heap)"
	exec 3< /dev/refcache
	show refcachectl stats
	show rmmod refcache
	exec 3<&-
	say "LOG (closed it)"
	show refcachectl stats
	show rmmod refcache
	show ls /dev/refcache
	finish
fi

if [ "$rcvm_mode" = bench ]; then
	if refcachectl bench --help > /dev/null 2>&1; then
		refcachectl bench 2>&1 | sed 's/^/LOG /' > $R
	fi
	# refcache_bench_gc.ko and CPython's side of it (/bench/gc_bench.py,
	# when run.sh --with-python put python3 here) take turns, one round
	# each, rcvm_gc_rounds times (default 5), so that both sample the
	# same stretch of a noisy host; scripts/bench.sh keeps each side's
	# best.  rcvm_gc_objects scales both.
	for b in /lib/refcache_bench*.ko; do
		[ -f "$b" ] || continue
		m=${b##*/}
		m=${m%.ko}
		# Run below, against two builds of refcache.ko in turn.
		[ "$m" = refcache_bench_trace ] && continue
		args= n=1 py= gh=
		if [ "$m" = refcache_bench_gc ]; then
			n=${rcvm_gc_rounds:-5}
			args="rounds=1 ${rcvm_gc_objects:+objects=$rcvm_gc_objects} $(echo "${rcvm_gc_args:-}" | tr , ' ')"
			[ -x /usr/bin/python3 ] && [ -f /bench/gc_bench.py ] && py=1
			[ -x /bench/gc_handles ] && gh=1
		fi
		i=0
		while [ $i -lt "$n" ]; do
			i=$((i + 1))
			if [ -n "$py" ]; then
				/usr/bin/python3 -I -S /bench/gc_bench.py \
					${rcvm_gc_objects:-1000000} 1 > /tmp/out 2>&1 ||
					say "FAIL gc_bench.py"
				sed 's/^/LOG /' /tmp/out > $R
			fi
			# Benchmark modules print with pr_fmt "<module name>: "; their
			# lines are wanted also when the load fails (a failed check).
			dmesg -c > /dev/null
			insmod "$b" $args || say "FAIL insmod_$m"
			dmesg | sed -n "s/^\(\[[ 0-9.]*\] \)\{0,1\}$m: /LOG /p" |
				grep -v 'loading out-of-tree\|module verification' > $R
			rmmod "$m" 2>/dev/null
			# The same tree held by a handle, through /dev/refcache
			# (the collector's marking), and by an untracked holder.
			if [ -n "$gh" ]; then
				/bench/gc_handles ${rcvm_gc_objects:-1000000} 1 > /tmp/out 2>&1 ||
					say "FAIL gc_handles"
				sed 's/^/LOG /' /tmp/out > $R
			fi
		done
	done
	# The tracepoints' cost: refcache_bench_trace.ko against refcache.ko
	# (events off and on) and against /lib/notrace/refcache.ko (built with
	# -DNOTRACE: no trace call at all), each with its own build of the
	# bench module, loaded in turn rcvm_trace_rounds times (default 7),
	# the order swapped every round.  One enable through tracefs first
	# grows the trace buffer to its default size, as a user's would.
	if [ -f /lib/refcache_bench_trace.ko ] && [ -f /lib/notrace/refcache.ko ]; then
		mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
		echo 1 > /sys/kernel/tracing/events/refcache/enable
		echo 0 > /sys/kernel/tracing/events/refcache/enable
		trace_load() { # trace_load DIR EXPECT: one load of each module
			rmmod refcache 2>/dev/null
			dmesg -c > /dev/null
			if insmod "$1/refcache.ko" &&
			   insmod "$1/refcache_bench_trace.ko" expect="$2"; then :; else
				say "FAIL insmod_refcache_bench_trace ($2)"; fi
			dmesg | sed -n 's/^\(\[[ 0-9.]*\] \)\{0,1\}refcache_bench_trace: /LOG /p' > $R
			rmmod refcache_bench_trace 2>/dev/null
		}
		i=0
		while [ $i -lt "${rcvm_trace_rounds:-7}" ]; do
			if [ $((i % 2)) = 0 ]; then
				trace_load /lib tracepoints
				trace_load /lib/notrace none
			else
				trace_load /lib/notrace none
				trace_load /lib tracepoints
			fi
			i=$((i + 1))
		done
	fi
	finish
fi

# A kernel module that puts a heap while holding its object (and then
# asks for a root of it), keeps another heap forever with a root open,
# and unloads: its warnings are expected (and
# checked here); anything while refcache itself unloads is not.
expect_splat() { echo "refcache-expect-splat: $1" > /dev/kmsg; }
logged() { dmesg | grep -q "$1"; }
if [ "$rcvm_mode" = misuse ]; then
	expect_splat begin
	result misuse_insmod insmod /lib/refcache_misuse.ko
	expect_splat end
	if logged 'held outside it; leaking it'; then say "PASS misuse_heap_abandoned"; else say "FAIL misuse_heap_abandoned"; fi
	result misuse_abandoned_counted grep -qx 'heaps_abandoned 1' /proc/refcache/stats
	if logged 'root of an object of a heap put: -2$'; then say "PASS misuse_root_of_put_heap_refused"; else say "FAIL misuse_root_of_put_heap_refused"; fi
	if logged 'root of a heap never to be put: 0$'; then say "PASS misuse_root_never_deleted"; else say "FAIL misuse_root_never_deleted"; fi
	result misuse_rmmod_refused_while_used sh -c '! rmmod refcache'
	expect_splat begin
	result misuse_rmmod rmmod refcache_misuse
	expect_splat end
	if logged 'unloaded leaving 1 caches behind'; then say "PASS misuse_callbacks_disarmed"; else say "FAIL misuse_callbacks_disarmed"; fi
	dmesg -c > /dev/null
	result misuse_rmmod_refcache rmmod refcache
	if logged 'was never put; freeing it'; then say "PASS misuse_never_put_freed"; else say "FAIL misuse_never_put_freed"; fi
	if logged 'release callback ran'; then say "FAIL misuse_no_callback_after_unload"; else say "PASS misuse_no_callback_after_unload"; fi
	dmesg | sed 's/^/LOG /' > $R
	finish
fi

# The guards: refcache_inject.ko (tests/inject/, never part of
# refcache.ko) warns or leaks on request; the host expects the splat.
if [ "$rcvm_mode" = inject_leak ] || [ "$rcvm_mode" = inject_warn ] ||
   [ "$rcvm_mode" = inject_race ]; then
	if ! insmod /lib/refcache_inject.ko; then
		say "FAIL insmod_refcache_inject"
		finish
	fi
	if [ "$rcvm_mode" = inject_leak ]; then
		echo 16 > /sys/module/refcache_inject/parameters/inject_leak
	elif [ "$rcvm_mode" = inject_race ]; then
		echo 1000 > /sys/module/refcache_inject/parameters/inject_race
	else
		echo 1 > /sys/module/refcache_inject/parameters/inject_warn
		rmmod refcache_inject
		rmmod refcache
	fi
	finish
fi

if [ "${rcvm_kunit:-all}" != none ] && [ -f /lib/refcache_kunit.ko ]; then
	if insmod /lib/refcache_kunit.ko; then
		for r in /sys/kernel/debug/kunit/*/results; do
			sed 's/^/KTAP /' "$r" > $R
		done
		rmmod refcache_kunit || say "FAIL rmmod_refcache_kunit"
	else
		say "FAIL insmod_refcache_kunit"
	fi
fi

# make fuzz and scripts/vm-one.sh pass the test programs' knobs on the
# kernel command line.
[ -n "${rcvm_fuzz_seed:-}" ] && export REFCACHE_FUZZ_SEED="$rcvm_fuzz_seed"
[ -n "${rcvm_fuzz_ops:-}" ] && export REFCACHE_FUZZ_OPS="$rcvm_fuzz_ops"
[ -n "${rcvm_fuzz_secs:-}" ] && export REFCACHE_FUZZ_SECS="$rcvm_fuzz_secs"
[ -n "${rcvm_fuzz_trace:-}" ] && export REFCACHE_FUZZ_TRACE="$rcvm_fuzz_trace"
[ -n "${rcvm_failnth_case:-}" ] && export REFCACHE_FAILNTH_CASE="$rcvm_failnth_case"
[ -n "${rcvm_gc_case:-}" ] && export REFCACHE_GC_CASE="$rcvm_gc_case"

for t in /tests/*_test; do
	[ -x "$t" ] || continue
	t0=$(cut -d' ' -f1 /proc/uptime)
	"$t" > /tmp/tap 2>&1
	status=$?
	# Where a guest's time goes: one line a program.
	echo "# ${t##*/} took $(awk -v t0="$t0" '{ printf "%.1f", $1 - t0 }' /proc/uptime) s" >> /tmp/tap
	# One open of the port for all of a program's results: each open of
	# it takes tens of ms on the debug kernel under TCG.
	sed -n 's/^\(not ok\|ok\) [0-9]* - \(.*\)$/\1 \2/p' /tmp/tap | while read -r a b c; do
		if [ "$a" = ok ]; then echo "PASS ${t##*/}.$b"; else echo "FAIL ${t##*/}.$c"; fi
	done > $R
	grep '^#' /tmp/tap | sed 's/^/LOG /' > $R
	# A program that crashed or could not run reports fewer results than planned.
	planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' /tmp/tap)
	got=$(grep -c '^\(not \)\{0,1\}ok ' /tmp/tap)
	if [ "${planned:-none}" != "$got" ] || [ $status -ge 128 ]; then
		say "FAIL ${t##*/}.complete (planned ${planned:-none}, got $got, status $status)"
		sed 's/^/LOG /' /tmp/tap | tail -n 5 > $R
	fi
done

result cli_version refcachectl version
result cli_stats refcachectl stats
result cli_demo refcachectl demo
result cli_graph refcachectl graph
result cli_caches refcachectl caches
result cli_allocator refcachectl allocator
result cli_users refcachectl users
# top's batch form against the real /proc/refcache, with a heap open.
exec 4< /dev/refcache
result cli_top refcachectl top -n 2 -d 0.1
exec 4<&-
# refcachectl demo stops at the first failed call and names the limit:
# with the module's budget (and so a root heap's own limit) below a first
# arena, the first new() fails.
saved=$(cat /sys/module/refcache/parameters/max_bytes)
echo 20000 > /sys/module/refcache/parameters/max_bytes
if refcachectl demo > /tmp/out 2>&1; then say "FAIL cli_demo_stops_at_failure (exit 0)"
elif grep -q "cascade freed\|objects are alive" /tmp/out; then say "FAIL cli_demo_stops_at_failure (narrated on)"
elif ! grep -q "limit was hit\|budget was hit\|exceed the module's budget" /tmp/out; then say "FAIL cli_demo_stops_at_failure (no limit named)"
else say "PASS cli_demo_stops_at_failure"; fi
sed 's/^/LOG /' /tmp/out > $R
echo "$saved" > /sys/module/refcache/parameters/max_bytes

# The example user of the in-kernel API (examples/module/): its init
# builds a cycle, collects it and fails unless the collector freed it.
if [ -f /lib/refcache_example.ko ]; then
	result example_module insmod /lib/refcache_example.ko
	dmesg | grep 'refcache_example: ' | sed 's/^/LOG /' > $R
	rmmod refcache_example 2>/dev/null
fi

# Unloading must be refused while a heap is open, and work after close.
exec 3< /dev/refcache
# What one new heap is charged (Documentation/limits.rst quotes it).
say "LOG a new heap: $(grep -v '^#' /proc/refcache/users)"
if rmmod refcache 2>/dev/null; then say "FAIL rmmod_refused_while_open"; else say "PASS rmmod_refused_while_open"; fi
exec 3<&-
result rmmod_after_close rmmod refcache
if [ -e /dev/refcache ] || [ -e /proc/refcache ]; then say "FAIL unload_removes_nodes"; else say "PASS unload_removes_nodes"; fi
finish
