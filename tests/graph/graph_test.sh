#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# refcachectl graph against a known graph, on the host: a dump file of
# the demo heap (a chain a -> b -> c held by a handle, a cycle x <-> y
# held by a weak handle), drawn whole, --from and --to, the DOT parsed by
# Graphviz's dot -Tplain where it is installed.  Prints TAP.
# usage: tests/graph/graph_test.sh [REFCACHECTL]
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
ctl=${1:-$top/userspace/build/refcachectl}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 fail=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=$((fail + 1)); fi; }

# struct refcache_dump_record: kind, flags, cache_id, id, value, index, generation, name
python3 - "$tmp/demo.dump" <<'PY'
import struct, sys
R = lambda *a: struct.pack('<HHIQQIi32s', *a)
H1, H2 = 0x0002000001000001, 0x0002000001000006
recs = [R(1, 1, 1, 0, 16, 2, -1, b'demo')]
for i, flags in enumerate([1, 1, 1, 1 | 8, 1], 1):          # TRACKED, x WEAKREFD
    recs.append(R(2, flags, 1, i, 1, 1 if i == 1 else 0, 0, b''))
for a, b in [(1, 2), (2, 3), (4, 5), (5, 4)]:
    recs.append(R(3, 0, 0, a, b, 0, -1, b''))
recs.append(R(4, 0, 0, 1, H1, 0, -1, b''))
recs.append(R(4, 1, 0, 4, H2, 0, -1, b''))                 # weak
assert all(len(r) == 64 for r in recs)
open(sys.argv[1], 'wb').write(b'RCDUMP1\n' + b''.join(recs))
PY

# count NODES EDGES FILE: from dot -Tplain if installed, else from the DOT text
count() {
	if command -v dot > /dev/null; then
		dot -Tplain "$1" > "$1.plain" || return 1
		echo "$(grep -c '^node ' "$1.plain") $(grep -c '^edge ' "$1.plain")"
	else
		echo "$(grep -cE '^\s(o|h)[0-9a-f]+ \[label' "$1") $(grep -c -- ' -> ' "$1")"
	fi
}
check() { # NAME WANT-NODES WANT-EDGES ARGS...
	local name=$1 want="$2 $3" got
	shift 3
	"$ctl" graph --load "$tmp/demo.dump" "$@" > "$tmp/$name.dot" 2> "$tmp/err"
	got=$(count "$tmp/$name.dot")
	[ "$got" = "$want" ] || echo "# $name: nodes/edges $got, want $want; $(cat "$tmp/err")"
	ok "$([ "$got" = "$want" ] && echo 0 || echo 1)" "graph_$name"
}

echo "TAP version 13"
echo "1..8"
check whole 7 6
check from_a 4 3 --from o1
check from_handle 4 3 --from 0x0002000001000001
check from_a_depth1 3 2 --from o1 --depth 1
check to_c 4 3 --to o3
check cycle 3 3 --from o4
grep -q 'h2000001000006 -> o4 \[style=dashed\]' "$tmp/whole.dot"
ok $? graph_weak_handle_dashed
"$ctl" graph --load "$tmp/demo.dump" --from o9 > /dev/null 2>&1
ok "$([ $? = 1 ] && echo 0 || echo 1)" graph_unknown_node_fails
[ "$fail" = 0 ]
