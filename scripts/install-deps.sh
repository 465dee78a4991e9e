#!/bin/bash
# Install the Debian packages refcache needs to build and test, skipping
# what is already there.  Idempotent; needs root and apt-get only when
# something is missing.
set -euo pipefail

pkgs=(
	build-essential gcc-multilib bc flex bison libelf-dev libssl-dev dwarves cpio
	xz-utils gzip kmod perl
	python3 libc-bin	# make bench copies Debian's python3 and what ldd names into the guest
	linux-headers-6.12-amd64	# the distribution kernel's headers
	linux-image-6.12-amd64		# its vmlinuz, booted in qemu
	linux-headers-amd64		# 6.1 headers, for the compatibility build
	linux-image-amd64		# Debian 12's 6.1 kernel, booted in qemu
	linux-source-6.12		# debug kernel, checkpatch.pl
	qemu-system-x86 busybox-static sparse
	libmimalloc-dev	# make bench: the native allocator against mimalloc
	linux-perf	# profiles of the native benchmarks
	graphviz			# dot: refcachectl graph --svg, its test in make check
	python3-pip python3-setuptools python3-wheel	# pip install ./userspace/python, checked
)

missing=()
for p in "${pkgs[@]}"; do
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
	echo "install-deps: missing Debian packages: ${missing[*]}" >&2
	echo "install-deps: run as root with apt-get: apt-get install ${missing[*]}" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
