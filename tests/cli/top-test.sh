#!/bin/bash
# refcachectl top under a terminal: script(1) gives it a pty; it reads the
# fixture tests/cli/proc/ (REFCACHE_PROC_DIR) and is stopped by a 'q'
# typed on that terminal.  Then its batch form (-n, not a terminal).
# usage: tests/cli/top-test.sh REFCACHECTL
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cli=$(readlink -f "$1")
export REFCACHE_PROC_DIR=$here/proc LINES=40 TERM=${TERM:-xterm}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# Under a pty: at least two frames, then q quits (exit 0, within 10 s).
{ sleep 1.5; printf q; sleep 3; } |
	timeout 10 script -qefc "$cli top -d 0.2" "$out" > /dev/null
tr -d '\r' < "$out" > "$out.txt"; mv "$out.txt" "$out"
frames=$(grep -c 'heaps open' "$out")
echo "frames drawn under the pty: $frames"
[ "$frames" -ge 2 ]
grep -q $'\033\\[H\033\\[2J' "$out"		# cleared the screen each frame
grep -q 'q quits' "$out"
grep -q 'refcache: 2 heaps open, 1003 objects, 567890 bytes charged' "$out"
# Biggest cache first.
grep -E '^ +[0-9]+ +[0-9]+ [a-z_]+ ' "$out" | head -n 3 | awk '{print $3}' | tr '\n' ' ' |
	grep -qx 'big_leaf node pairs '
# Generation 2 summed over both heaps: 2 heaps, 3 collections, 7 collected, 1 uncollectable.
grep -Eq '^  2 +2 +0 +0 +3 +7 +1 +16000 +9000$' "$out"

# Batch: -n 2 without a terminal prints two frames and exits.
"$cli" top -n 2 -d 0.1 < /dev/null > "$out"
[ "$(grep -c 'heaps open' "$out")" = 2 ]
! grep -q $'\033' "$out"
# No module: says to load it.
! REFCACHE_PROC_DIR=/nonexistent "$cli" top -n 1 > "$out" 2>&1
grep -q 'modprobe refcache' "$out"
echo "top test passed"
