#!/bin/bash
# make demo: build everything, boot the distribution kernel in qemu, load
# refcache, drive it with refcachectl, unload it and show what happened.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
kdir=$(ls -d /usr/src/linux-headers-6.12*-amd64 | sort -V | tail -n 1)
image=/boot/vmlinuz-${kdir#/usr/src/linux-headers-}

echo "== building (module against $kdir, library, CLI)"
# Only the guest's static refcachectl: the demo runs no test program.
make -s -C userspace build/refcachectl-static > build-demo.log 2>&1 || { cat build-demo.log; exit 1; }
# Only refcache.ko (make modules): the demo loads no test module.
make -s modules KDIR="$kdir" >> build-demo.log 2>&1 || { cat build-demo.log; exit 1; }
mkdir -p build/demo-kmod
cp kmod/refcache.ko build/demo-kmod/
rm -f build-demo.log
echo "== booting $image in qemu (software emulation) with kmod/refcache.ko"
if tests/vm/run.sh --kernel "$image" --modules build/demo-kmod --name demo --mode demo > build/demo.out 2>&1; then
	ok=1
else
	ok=0
fi
echo "== in the guest:"
sed -n 's/^LOG //p' build/vm/demo/results.txt
echo "== kernel log lines from refcache:"
grep 'refcache' build/vm/demo/console.txt | sed 's/^/  /'
echo "== harness:"
cat build/demo.out
[ "$ok" = 1 ]
