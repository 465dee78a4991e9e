#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The one rule of Documentation/design.rst, checked on the object files:
# a file of kmod/ uses a symbol of another only if that file is in a
# lower band, or the use is one of the same-band uses listed below.
#
#   scripts/layer-check.sh [DIR]
#
# DIR holds kmod/'s .o files: a kernel build's (build/distro/kmod, all
# of them) or the native build's (build/native/o2/kmod, the core only;
# the default, built first if missing).  Each undefined symbol of a
# file (what it calls or reads, inline header code included) is mapped
# to the file that defines it; symbols of the kernel are not ours.
# Prints every use that breaks the rule and fails if there is one.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build/native/o2/kmod}
if [ $# = 0 ] && [ ! -f "$dir/object.o" ]; then
	make -s -C "$top" -f tests/native/Makefile VARIANT=o2 >&2
fi

# Bands, from the bottom: the picture of Documentation/design.rst.
bands='
trace 0
limits 0
alloc 0
refcount 0
object 1
biased 2
garbage 2
gc 2
handle 3
heap 3
inspect 4
chardev 4
procfs 4
main 5
'

# The uses within one band that are allowed (FROM TO SYMBOL, * for any),
# each argued in Documentation/design.rst, "Calls within a band".
allowed='
* trace *
alloc limits *
gc biased refcache_bias_freeze_queued_locked
gc garbage refcache_gc_save_garbage_locked
gc garbage refcache_gc_debug_log
heap handle refcache_handles_destroy_locked
heap handle refcache_handles_free_locked
heap handle refcache_handles_roots_locked
chardev inspect *
'

# Known exceptions that go up, with the reason; printed, not failed.
known='
'

shopt -s nullglob
objs=()
for o in "$dir"/*.o; do
	case $(basename "$o") in refcache.o | *.mod.o) continue ;; esac
	objs+=("$o")
done
[ ${#objs[@]} -gt 0 ] || { echo "layer-check: no object files in $dir" >&2; exit 2; }

for o in "${objs[@]}"; do
	f=$(basename "$o" .o)
	nm --defined-only "$o" | awk -v f="$f" '$2 ~ /^[A-TV-Z]$/ { print "D", f, $3 }'
	nm -u "$o" | awk -v f="$f" '{ print "U", f, $2 }'
done | awk -v bands="$bands" -v allowed="$allowed" -v known="$known" '
BEGIN {
	n = split(bands, l, "\n")
	for (i = 1; i <= n; i++)
		if (split(l[i], w, " ") == 2)
			band[w[1]] = w[2]
	n = split(allowed, l, "\n")
	for (i = 1; i <= n; i++)
		if (split(l[i], w, " ") == 3)
			ok[w[1] " " w[2] " " w[3]] = 1
	n = split(known, l, "\n")
	for (i = 1; i <= n; i++)
		if (split(l[i], w, " ") >= 3) {
			why = l[i]
			sub(/^ *[^ ]+ +[^ ]+ +[^ ]+ +/, "", why)
			exc[w[1] " " w[2] " " w[3]] = why
		}
}
$1 == "D" { def[$3] = $2; files[$2] = 1; next }
{ use[++nu] = $2 " " $3 }
END {
	bad = 0
	for (f in files)
		if (!(f in band)) {
			printf "%s.o: not in any band of scripts/layer-check.sh\n", f
			bad++
		}
	for (i = 1; i <= nu; i++) {
		split(use[i], w, " ")
		from = w[1]; sym = w[2]
		if (!(sym in def) || def[sym] == from)
			continue
		to = def[sym]
		edges[from " " to]++
		if (!(from in band) || !(to in band))
			continue
		if (band[to] < band[from])
			continue
		if (band[to] == band[from] &&
		    (((from " " to " " sym) in ok) || ((from " " to " *") in ok) ||
		     (("* " to " *") in ok)))
			continue
		if ((from " " to " " sym) in exc) {
			printf "known: %s.c -> %s.c: %s (%s)\n", from, to, sym, exc[from " " to " " sym] | "sort"
			continue
		}
		printf "%s: %s.c (band %d) -> %s.c (band %d): %s\n",
		       band[to] == band[from] ? "sideways" : "up", from, band[from], to, band[to],
		       sym | "sort"
		bad++
	}
	close("sort")
	ne = 0
	for (e in edges)
		ne++
	printf "layer-check: %d files, %d file-to-file uses, %d against the rule\n",
	       length(files), ne, bad
	exit bad > 0
}'
