#!/bin/bash
# Build refcache's kernel modules for one kernel tree in a directory of
# their own, so builds for several kernels do not clobber each other.
# usage: scripts/build-kmod.sh KDIR OUTDIR [make arguments, e.g. W=1 C=2]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kdir=$1
mkdir -p "$2"; out=$(cd "$2" && pwd)
shift 2
mkdir -p "$out/tests"
# Copy only what changed, with a new mtime: a source edited while an
# earlier build ran must still look newer than the object built from it.
sync_tree() { # SRC DSTDIR
	local f dst
	dst=$2/$(basename "$1")
	(cd "$1" && find . -type f) | while read -r f; do
		mkdir -p "$dst/$(dirname "$f")"
		cmp -s "$1/$f" "$dst/$f" || cp "$1/$f" "$dst/$f"
	done
}
cmp -s "$top/Kbuild" "$out/Kbuild" || cp "$top/Kbuild" "$out/"
sync_tree "$top/kmod" "$out"
sync_tree "$top/uapi" "$out"
for d in kunit bench inject misuse; do
	[ -d "$top/tests/$d" ] && sync_tree "$top/tests/$d" "$out/tests"
done
make -j"$(nproc)" -C "$kdir" M="$out" "$@" modules
