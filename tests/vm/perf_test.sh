#!/bin/sh
# perf in the guest (tests/vm/run.sh --with-perf puts Debian's perf here as
# /usr/bin/perf): Documentation/collector.rst's perf one-liners, run as
# written against refcachectl demo, and their output checked against what
# the demo itself reports through other channels (its cache's total in
# /proc/refcache/caches, its heap id and pause in /proc/refcache/gc and
# its event record).  TAP on stdout.
T=/tmp/perf_test
export PATH=$PATH:/usr/bin HOME=$T
mkdir -p $T
cd $T || exit 1
echo 1..4
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { # not_ok NAME WHY FILE...
	n=$((n + 1)); echo "not ok $n - $1"; echo "# $2"
	shift 2
	for f; do sed 's/^/#   /' "$f" | tail -n 25; done
}
[ -d /sys/kernel/tracing/events ] || mount -t tracefs tracefs /sys/kernel/tracing
ev=/sys/kernel/tracing/events/refcache

# What the demo's own output says: the "demo" cache's total objects
# (/proc/refcache/caches), its heap's id, full collections and pause
# (/proc/refcache/gc, generation 2), and its event record's duration.
demo_facts() { # demo_facts DEMO_OUTPUT: sets total heap colls pause event_ns
	total=$(awk '$3 == "demo" && $1 ~ /^[0-9]+$/ { print $(NF - 1) }' "$1")
	heap=$(awk '/cat \/proc\/refcache\/gc/ { g = 1; next } g && $2 == 2 { print $1; exit }' "$1")
	colls=$(awk '/cat \/proc\/refcache\/gc/ { g = 1; next } g && $2 == 2 { print $6; exit }' "$1")
	pause=$(awk '/cat \/proc\/refcache\/gc/ { g = 1; next } g && $2 == 2 { print $9; exit }' "$1")
	event_ns=$(sed -n 's/^ *event #1: .* \([0-9][0-9]*\) ns$/\1/p' "$1")
}

# 1. perf sees every event the module defines (perf 6.1 reading 6.12's tracefs).
perf list 'refcache:*' > list.out 2>&1
want=$(ls "$ev" | grep -v '^enable$\|^filter$' | sort | tr '\n' ' ')
got=$(sed -n 's/^ *refcache:\([a-z_]*\) .*Tracepoint event.*/\1/p' list.out | sort | tr '\n' ' ')
if [ -n "$want" ] && [ "$want" = "$got" ]; then ok perf_list_events
else not_ok perf_list_events "tracefs has '$want', perf list shows '$got'" list.out; fi

# 2. "objects a command allocates and frees, and its collections"
perf stat -e 'refcache:obj_*' -e refcache:gc_start -- refcachectl demo > demo2.out 2> stat.out
rc=$?
demo_facts demo2.out
cnt() { awk -v e="refcache:$1" '$2 == e { gsub(/[,.]/, "", $1); print $1 }' stat.out; }
a=$(cnt obj_alloc) f=$(cnt obj_free) g=$(cnt gc_start)
if [ $rc = 0 ] && [ -n "$total" ] && [ "$total" -gt 0 ] && [ "$a" = "$total" ] &&
   [ "$f" = "$total" ] && [ -n "$colls" ] && [ "$g" = "$colls" ]; then
	ok perf_stat_demo
	echo "# perf stat: obj_alloc=$a obj_free=$f gc_start=$g (demo: $total objects, $colls collection)"
else
	not_ok perf_stat_demo "status $rc; perf: obj_alloc=$a obj_free=$f gc_start=$g; demo: total=$total collections=$colls" stat.out
fi

# 3. "each collection of a command, one line each": perf record, then
# perf script.  --no-buildid: without it perf record post-processes the
# samples for build-ids and copies /proc/kallsyms into ~/.debug, 10 s
# under emulation, of no use to tracepoint samples.
perf record --no-buildid -e refcache:gc_end -- refcachectl demo > demo3.out 2> record.out &&
	perf script > script.out 2>&1
rc=$?
demo_facts demo3.out
want="gc_end: heap=$heap generation=2 reason=explicit candidates=2 collected=2 uncollectable=0 duration_ns=$pause"
if [ $rc = 0 ] && [ -n "$heap" ] && [ "$pause" = "$event_ns" ] &&
   [ "$(grep -c 'refcache:gc_end:' script.out)" = 1 ] && grep -q "$want\$" script.out; then
	ok perf_record_script_gc_end
	sed 's/^ */# perf script: /' script.out
else
	not_ok perf_record_script_gc_end "status $rc; no one line ending '$want' (event record: $event_ns ns)" record.out script.out
fi

# 4. "how long each phase of a collection takes": perf trace, in order.
perf trace -e 'refcache:gc_*' -- refcachectl demo > demo4.out 2> trace.out
rc=$?
demo_facts demo4.out
seq=$(sed -n "s/.* refcache:\(gc_[a-z]*\)(heap_id: $heap, generation: 2[,)].*/\1/p" trace.out | tr '\n' ' ')
if [ $rc = 0 ] && [ -n "$heap" ] &&
   [ "$seq" = "gc_start gc_phase gc_phase gc_phase gc_phase gc_phase gc_end " ] &&
   grep -q "refcache:gc_end(heap_id: $heap, .* duration_ns: $pause)" trace.out; then
	ok perf_trace_gc_phases
	sed 's/^ */# perf trace: /' trace.out | grep 'refcache:gc_'
else
	not_ok perf_trace_gc_phases "status $rc; heap $heap: events '$seq'" trace.out
fi
