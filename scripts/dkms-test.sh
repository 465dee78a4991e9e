#!/bin/bash
# make check's DKMS test: the source "make dkms-source" lays out, added
# to and built by dkms for each kernel named, in private trees
# (--sourcetree, --dkmstree, --installtree) so that the machine's own
# DKMS state and /lib/modules are not touched.  Then "dkms install" into
# the private install tree.
# usage: scripts/dkms-test.sh WORKDIR KERNELRELEASE...
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
T=$1
shift
[ $# -gt 0 ] || { echo "usage: $0 WORKDIR KERNELRELEASE..." >&2; exit 2; }
command -v dkms > /dev/null || { echo "no dkms (scripts/install-deps.sh installs it)"; exit 1; }
v=$(scripts/version.sh)
rm -rf "$T"
mkdir -p "$T/src" "$T/tree" "$T/install"
make -s dkms-source DESTDIR="$T/src"
trees=(--sourcetree "$T/src/usr/src" --dkmstree "$T/tree" --installtree "$T/install")
dkms add "refcache/$v" "${trees[@]}"
for k; do
	echo "== dkms build refcache/$v for $k"
	dkms build "refcache/$v" -k "$k" "${trees[@]}" ||
		{ cat "$T/tree/refcache/$v/build/make.log" 2>/dev/null | tail -n 30; exit 1; }
	ko=$(ls "$T/tree/refcache/$v/$k"/*/module/refcache.ko*)
	modinfo "$ko" | grep -E '^(version|vermagic|alias):'
	modinfo -F version "$ko" | grep -qx "$v"
	modinfo -F vermagic "$ko" | grep -q "^$k "
	echo "== dkms install for $k (into $T/install)"
	mkdir -p "$T/install/$k"
	dkms install "refcache/$v" -k "$k" "${trees[@]}" --no-depmod --force
	find "$T/install" -name 'refcache.ko*' | grep "/$k/"
done
dkms status "${trees[@]}"
# No "dkms remove": it runs depmod on the machine's own /lib/modules for
# every kernel, whatever --installtree says (minutes on a busy machine);
# the trees are private and go with the next run.
echo "dkms test passed: refcache/$v built for $*"
