#!/bin/bash
# make bench: run refcache's benchmark modules in one boot of the
# distribution kernel and print their tables and machine-readable
# "bench ..." lines.  Ratios are measured in one boot; absolute times
# under software emulation mean little.
#
# usage: scripts/bench.sh [OUTDIR]   (default build/; make bench)
#
# First the native benchmarks (tests/native/, on the hardware, no qemu):
#   bench native refcount mode=<m> threads=<n> ns_per_pair=<x> refcount_t_ns=<y> ratio=<r>
#   bench native gc shape=<s> objects=<n> refcache_ns_per_obj=<x> cpython_ns_per_obj=<y> ratio=<r>
#   bench native alloc size=<s> refcache_ns=<x> malloc_ns=<y> mimalloc_ns=<z> ratio_malloc=<r1> ratio_mimalloc=<r2>
#   bench native gc_biased young objects=2000 biased_ns=<b> atomic_ns=<a> ratio=<b/a>  (per round)
#   bench native gc pause kind=<k> objects=<n> ns=<t>  (per round; kinds as under TCG)
# (medians of interleaved rounds; the tables give best/median).
# Under TCG the modules' own lines follow, among them
#   bench gc_biased young objects=2000 biased_ns=<b> atomic_ns=<a> ratio=<b/a>
# (a young collection of a heap with a biased cache against an atomic
# one: no grace period, the target is <= 1.10).
#
# The guest gets Debian's python3 (run.sh --with-python), which runs
# tests/bench/gc_bench.py, CPython's side of refcache_bench_gc.ko, in
# the same boot; the two sides' lines are joined here into
#   bench gc shape=<s> objects=<n> refcache_ns_per_obj=<x> cpython_ns_per_obj=<y> ratio=<r>
# with ratio = refcache / cpython (the target is <= 0.5); shapes
# tree_handle and tree_holder are tests/bench/gc_handles.c's tree through
# /dev/refcache, held by a handle (the collector marks from it) or by an
# untracked object (trial deletion alone), set against CPython's tree;
# tree_root and random_root are refcache_bench_gc.ko's tree and random
# held by roots (refcache_root_add(): the marking runs), set against
# CPython's tree and random, natively and under TCG; and
# the pauses
# (the heap's mutex held by one collection, best round):
#   bench gc pause kind=<young|full|young_biased|full_biased> objects=<n> ns=<t> ms=<t>
# and what the tracepoints cost on the object fast path (alloc + put),
# disabled and enabled, against a build without them (-DNOTRACE), medians
# (and bests) of rounds taken in turn in the same boot:
#   bench tracepoints path=obj_alloc_put pairs=<n> none_ns=<x> off_ns=<y> on_ns=<z> off_ratio=<y/x> on_ratio=<z/x> off_ratio_best=<r> on_ratio_best=<r>
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mkdir -p "${1:-build}"
out=$(cd "${1:-build}" && pwd)
kdir=$(ls -d /usr/src/linux-headers-6.12*-amd64 | sort -V | tail -n 1)
image=/boot/vmlinuz-${kdir#/usr/src/linux-headers-}

# --- natively, on the hardware (tests/native/) ---------------------------
# The same bench modules' code and the same gc_bench.py, run on this
# machine: what the code costs on hardware, beside what it costs under TCG.
# NATIVE_ROUNDS interleaved rounds per side; each side's best and median.
native_rounds=${NATIVE_ROUNDS:-3}
native_bench() {
	local nb=build/native/o2/refcache_native_bench r shape
	nice make -s -f tests/native/Makefile VARIANT=o2 bench > "$out/native-build.log" 2>&1 ||
		{ cat "$out/native-build.log"; return 1; }
	# Counts: the module's own interleaved rounds (median of 5), 1 and 2
	# threads, against refcount_t (the kernel's, as the shim builds it).
	echo "native refcount (tests/bench/refcache_bench_ref.c on the hardware; threads instead of CPUs):"
	# Two threads must really run at once; on a loaded machine one may
	# not start before the other ends (-EIO: a thread did no pairs): retry.
	for r in 1 2 3 4 5; do
		"$nb" ref 2>&1 | sed "s/^refcache_bench: //" > "$out/native-ref.out" && break
		[ "$r" = 5 ] && { cat "$out/native-ref.out"; return 1; }
	done
	grep -v '^bench ' "$out/native-ref.out" | sed 's/^/  /'
	sed -n 's/^bench refcount mode=\([a-z_]*\) cpus=/bench native refcount mode=\1 threads=/p' \
		"$out/native-ref.out"
	# Allocator: against glibc malloc and mimalloc, rounds interleaved.
	"$nb" alloc rounds=$((native_rounds * 3)) > "$out/native-alloc.out" ||
		{ cat "$out/native-alloc.out"; return 1; }
	grep -v '^bench ' "$out/native-alloc.out"
	grep '^bench ' "$out/native-alloc.out"
	# Collector: refcache and Debian's python3 (CPython 3.11, the same
	# build the guest runs) taking turns.  Not whatever python3 is first
	# on PATH: a CPython built without PGO and LTO (pyenv's, say) is
	# about twice as slow at gc.collect(), and would flatter the ratio.
	# Each run is one process per side, its figure the best of 3 rounds
	# in it: a process's first rounds fault in fresh memory (in this
	# virtual machine about 12 us a page), which the kernel's page
	# allocator never does; the collector's array of garbage (8 MiB for
	# a million objects) paid 25 ms of that in each of its first two
	# rounds.  CPython gets the same 3 rounds.
	: > "$out/native-gc.out"
	for r in $(seq "$native_rounds"); do
		"$nb" gc rounds=3 young_rounds=5 | sed "s/^refcache_bench: //" >> "$out/native-gc.out" || return 1
		/usr/bin/python3 tests/bench/gc_bench.py 1000000 3 5 >> "$out/native-gc.out" || return 1
	done
	awk -v rounds="$native_rounds" '
	function val(key,   i) {
		for (i = 1; i <= NF; i++)
			if (index($i, key "=") == 1)
				return substr($i, length(key) + 2)
		return ""
	}
	function stats(list,   v, n, i, j, t) {	# "best median" of a comma list
		n = split(list, v, ",")
		for (i = 1; i <= n; i++)
			for (j = i + 1; j <= n; j++)
				if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
		return v[1] " " (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2)
	}
	$1 == "refcache" && $2 ~ /^shape=/ {
		s = val("shape"); if (!(s in rn)) order[++n] = s
		rn[s] = val("objects")
		if (s in r) r[s] = r[s] "," val("ns"); else r[s] = val("ns")
	}
	$1 == "cpython" && $2 ~ /^shape=/ {
		s = val("shape"); cn[s] = val("objects")
		if (s in c) c[s] = c[s] "," val("ns"); else c[s] = val("ns")
	}
	END {
		printf "native gc (%d rounds each, taking turns): ns per object, best/median (refcache | cpython)\n", rounds
		for (i = 1; i <= n; i++) {
			s = order[i]
			# tree_root and random_root: the same graphs held
			# by roots; CPython holds them in local variables.
			cs = s; sub(/_root$/, "", cs)
			split(stats(r[s]), a, " "); split(stats(c[cs]), b, " ")
			printf "  %-13s %8.1f/%-8.1f | %8.1f/%-8.1f\n", s, a[1] / rn[s], a[2] / rn[s],
				b[1] / cn[cs], b[2] / cn[cs]
			if (!(cs in cn) || cn[cs] != rn[s]) {
				printf "bench native gc shape=%s: no CPython figure for the same objects\n", s
				continue
			}
			printf "bench native gc shape=%s objects=%d refcache_ns_per_obj=%.1f cpython_ns_per_obj=%.1f ratio=%.2f\n",
				s, rn[s], a[2] / rn[s], b[2] / cn[cs], a[2] / b[2]
		}
	}' "$out/native-gc.out"
	# A young collection of a biased heap against an atomic one, per round.
	sed -n 's/^bench gc_biased /bench native gc_biased /p' "$out/native-gc.out"
	# The pauses (the heap's mutex held by one collection), per round.
	sed -n 's/^bench gc pause /bench native gc pause /p' "$out/native-gc.out"
}
native_bench

# --- under TCG, in one boot of the distribution kernel -------------------
make -s -C userspace > "$out/bench-build.log" 2>&1 || { cat "$out/bench-build.log"; exit 1; }
scripts/build-kmod.sh "$kdir" "$out/distro" >> "$out/bench-build.log" 2>&1 ||
	{ cat "$out/bench-build.log"; exit 1; }
rm -rf "$out/bench-mods"
mkdir -p "$out/bench-mods"
cp "$out/distro/kmod/refcache.ko" "$out/bench-mods/"
cp "$out/distro"/tests/bench/*.ko "$out/bench-mods/" 2>/dev/null ||
	{ echo "bench: no benchmark module built" >&2; exit 1; }
# The tracepoints' cost when off: the same sources built with -DNOTRACE,
# which <linux/tracepoint.h> honours (every trace_*() an empty inline, no
# event created); only the four files with trace calls compile
# differently.  refcache_bench_trace.ko is built with each, for its
# refcache.ko's symbol versions.
scripts/build-kmod.sh "$kdir" "$out/distro-notrace" KCFLAGS=-DNOTRACE >> "$out/bench-build.log" 2>&1 ||
	{ cat "$out/bench-build.log"; exit 1; }
mkdir -p "$out/bench-mods/notrace"
cp "$out/distro-notrace/kmod/refcache.ko" "$out/distro-notrace/tests/bench/refcache_bench_trace.ko" \
	"$out/bench-mods/notrace/"
ok=0
tests/vm/run.sh --kernel "$image" --modules "$out/bench-mods" --name bench --mode bench \
	--with-python --out "$out/vm/bench" --timeout 900 > "$out/bench.out" 2>&1 && ok=1
# Everything but the collector benchmark's raw lines, as the guest said it.
sed -n '/^LOG \(refcache shape=\|cpython \|bench gc \|trace round \)/d; s/^LOG //p' "$out/vm/bench/results.txt"

# The collector benchmark: each side ran rcvm_gc_rounds rounds, taking
# turns; keep each side's best per shape and join the two.
awk '
function val(key,   i) {
	for (i = 1; i <= NF; i++)
		if (index($i, key "=") == 1)
			return substr($i, length(key) + 2)
	return ""
}
function best(arr, k, v) {
	if (!(k in arr) || v + 0 < arr[k] + 0)
		arr[k] = v
}
function all(arr, k, v,   old) {
	old = (k in arr) ? arr[k] "," : ""
	arr[k] = old v
}
$1 != "LOG" { next }
$2 == "refcache" && $3 ~ /^shape=/ {
	s = val("shape")
	if (!(s in rn))
		order[++n] = s
	rn[s] = val("objects"); best(rns, s, val("ns")); all(rall, s, val("ns"))
}
$2 == "cpython" && $3 ~ /^shape=/ {
	s = val("shape"); cn[s] = val("objects"); best(cns, s, val("ns")); all(call, s, val("ns"))
}
$2 == "cpython" && $3 == "young" { best(m, "cy", val("ns")) }
$2 == "bench" && $3 == "gc" {
	if ($4 ~ /^young_pause_ns=/) best(m, "ry", val("young_pause_ns"))
	else if ($4 ~ /^full_pause_1m_live_ns=/) best(m, "full", val("full_pause_1m_live_ns"))
	else if ($4 ~ /^header_bytes=/) hdr = val("header_bytes")
	else if ($4 == "pause") {
		k = val("kind") " " val("objects")
		if (!(k in pause))
			porder[++np] = k
		best(pause, k, val("ns"))
	}
}
END {
	bad = 0
	if (n)
		printf "gc: full collections, ns per round (refcache | cpython):\n"
	for (i = 1; i <= n; i++)
		printf "  %-7s %s | %s\n", order[i], rall[order[i]], call[order[i]]
	if (hdr != "")
		printf "bench gc header_bytes=%s\n", hdr
	if ("ry" in m)
		printf "bench gc young_pause_ns=%d objects=2000\n", m["ry"]
	if ("ry" in m && "cy" in m && m["cy"] > 0)
		printf "bench gc young objects=2000 refcache_ns=%d cpython_ns=%d ratio=%.2f\n",
			m["ry"], m["cy"], m["ry"] / m["cy"]
	if ("full" in m)
		printf "bench gc full_pause_1m_live_ns=%d\n", m["full"]
	# Pauses: how long a collection holds the heap mutex (best round).
	for (i = 1; i <= np; i++) {
		split(porder[i], kp, " ")
		printf "bench gc pause kind=%s objects=%s ns=%d ms=%.2f\n", kp[1], kp[2],
			pause[porder[i]], pause[porder[i]] / 1e6
	}
	for (i = 1; i <= n; i++) {
		s = order[i]
		# gc_handles: the tree through /dev/refcache, held by a handle
		# or by an untracked holder; the _root shapes of the module, held by
		# roots: against the CPython tree (and random).
		cs = s; sub(/_(handle|holder|root)$/, "", cs)
		if (!(cs in cns) || cn[cs] != rn[s] || rns[s] <= 0 || cns[cs] <= 0) {
			printf "bench gc shape=%s: no CPython figure for the same %s objects\n", s, rn[s]
			bad = 1
			continue
		}
		printf "bench gc shape=%s objects=%d refcache_ns_per_obj=%.1f cpython_ns_per_obj=%.1f ratio=%.2f\n",
			s, rn[s], rns[s] / rn[s], cns[cs] / cn[cs], rns[s] / cns[cs]
	}
	exit bad
}' "$out/vm/bench/results.txt" || ok=0

# The tracepoints' cost: refcache_bench_trace.ko's rounds against the two
# builds of refcache.ko, loaded in turn; best and median ns per pair of
# each state, and their ratios to the build without tracepoints.
awk '
function val(key,   i) {
	for (i = 1; i <= NF; i++)
		if (index($i, key "=") == 1)
			return substr($i, length(key) + 2)
	return ""
}
function stats(list,   v, n, i, j, t) {	# sets best and med of a comma list
	n = split(list, v, ",")
	for (i = 1; i <= n; i++)
		for (j = i + 1; j <= n; j++)
			if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
	best = v[1]; med = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	return n
}
$1 == "LOG" && $2 == "trace" && $3 == "round" {
	s = val("state"); p = val("pairs"); x = val("ns") / p
	if (s in t)
		t[s] = t[s] "," x
	else
		t[s] = x
	seen = 1
}
END {
	if (!("none" in t) || !("off" in t) || !("on" in t)) {
		if (seen)
			print "bench tracepoints: rounds missing (none, off and on needed)"
		exit seen
	}
	printf "tracepoints: refcache_obj_alloc + refcache_obj_put, %d pairs a round; ns per pair, best/median\n", p
	split("none off on", order, " ")
	desc["none"] = "built with -DNOTRACE"; desc["off"] = "disabled"; desc["on"] = "enabled, recording"
	for (i = 1; i <= 3; i++) {
		s = order[i]; n = stats(t[s]); b[s] = best; m[s] = med
		printf "  %-4s %8.1f/%-8.1f (%d rounds; %s)\n", s, best, med, n, desc[s]
	}
	printf "bench tracepoints path=obj_alloc_put pairs=%d none_ns=%.1f off_ns=%.1f on_ns=%.1f off_ratio=%.3f on_ratio=%.3f off_ratio_best=%.3f on_ratio_best=%.3f\n",
		p, m["none"], m["off"], m["on"], m["off"] / m["none"], m["on"] / m["none"],
		b["off"] / b["none"], b["on"] / b["none"]
}' "$out/vm/bench/results.txt" || ok=0
grep -v '^PASS' "$out/bench.out" || true
[ "$ok" = 1 ]
