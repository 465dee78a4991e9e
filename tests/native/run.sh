#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make native: kmod/'s core and the KUnit suites built in user space
# three times (-O2, ASan+UBSan, TSan) and run, each build after its
# selftest (tests/native/selftest.c).  Prints one PASS/FAIL line per case
# and build (SKIP lines, with the reason, are not counted), then
# "native: N passed, N failed, N skipped".  Exit status 0 only if
# nothing failed.
#
#   tests/native/run.sh [--variants "o2 asan tsan"] [GLOB...]
#
# GLOBs pick cases (suite.case, e.g. 'refcache_biased.*').  Logs, with
# every printk and sanitizer report: build/native/<variant>/*.log.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
variants="o2 asan tsan"
if [ "${1:-}" = --variants ]; then
	variants=$2
	shift 2
fi
B=$top/build/native
mkdir -p "$B"
t0=$(date +%s)

# --- build: the three at once, one job each (2 cores, other users) ------
pids=()
for v in $variants; do
	nice make -s -f tests/native/Makefile VARIANT="$v" > "$B/build-$v.log" 2>&1 &
	pids+=($!)
done
built=()
builds=
i=0
for v in $variants; do
	if wait "${pids[$i]}"; then
		builds+="PASS native.$v.build"$'\n'
		built+=("$v")
	else
		builds+="FAIL native.$v.build"$'\n'$(tail -n 25 "$B/build-$v.log" | sed 's/^/  | /')$'\n'
	fi
	i=$((i + 1))
done
printf '%s' "$builds"

# --- run: each build's selftest, then its cases -------------------------
# A sanitizer's report inside a case fails that case (the runner counts
# them); one that kills the process or comes at exit (a leak) fails
# native.<v>.clean.
export ASAN_OPTIONS=halt_on_error=1:exitcode=97:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=97
export TSAN_OPTIONS=halt_on_error=0:exitcode=97:second_deadlock_stack=1
run_variant() { # run_variant V: output in $B/$v/run.out, status in run.rc
	local v=$1 d=$B/$1 rc
	shift
	rm -f "$d/run.rc"
	# The selftest's data race is on purpose: TSan's exit status is not.
	TSAN_OPTIONS=$TSAN_OPTIONS:exitcode=0 \
		timeout 600 "$d/refcache_native" -q --build "$v" --selftest \
		--log "$d/selftest.log" > "$d/selftest.out" 2> "$d/selftest.err"
	echo $? > "$d/selftest.rc"
	timeout 600 "$d/refcache_native" -q --build "$v" --log "$d/run.log" "$@" \
		> "$d/run.out" 2> "$d/run.err"
	rc=$?
	echo $rc > "$d/run.rc"
}
pids=()
for v in "${built[@]}"; do
	run_variant "$v" "$@" &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p"
done

report() {
	for v in "${built[@]}"; do
		d=$B/$v
		for run in selftest run; do
			grep -E '^(PASS|FAIL|SKIP) ' "$d/$run.out"
			rc=$(cat "$d/$run.rc" 2>/dev/null || echo 99)
			if [ "$rc" = 0 ] || { [ "$rc" = 1 ] && grep -q '^native .*failed' "$d/$run.out"; }; then
				echo "PASS native.$v.$run.clean"
			else
				echo "FAIL native.$v.$run.clean (exit status $rc)"
				grep -E 'ERROR: |SUMMARY: |runtime error|BUG:|WARNING: ' "$d/$run.err" |
					head -n 10 | sed 's/^/  | /'
			fi
			# What failed, and why, from the runner's stderr.
			if grep -q '^FAIL ' "$d/$run.out"; then
				grep -E '# .*(FAILED|splat|sanitizer)|^    |SUMMARY' "$d/$run.err" |
					head -n 20 | sed 's/^/  | /'
			fi
		done
	done
}
out=$(report)
echo "$out"
out=$builds$out
echo "native took $(( $(date +%s) - t0 )) s"
echo "native: $(echo "$out" | grep -c '^PASS ') passed, $(echo "$out" | grep -c '^FAIL ') failed," \
	"$(echo "$out" | grep -c '^SKIP ') skipped (builds: $variants)"
[ ${#built[@]} = "$(echo "$variants" | wc -w)" ] && ! echo "$out" | grep -q '^FAIL '
