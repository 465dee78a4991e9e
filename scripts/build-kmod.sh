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
cp -p "$top/Kbuild" "$out/"
cp -rp "$top/kmod" "$top/uapi" "$out/"
for d in kunit bench inject; do
	[ -d "$top/tests/$d" ] && cp -rp "$top/tests/$d" "$out/tests/"
done
make -C "$kdir" M="$out" "$@" modules
