#!/bin/bash
# Install the Debian packages refcache needs, skipping what is already
# there.  Idempotent; needs root and apt-get only when something is missing.
# usage: scripts/install-deps.sh           everything make check, bench,
#                                           fuzz and install need
#        scripts/install-deps.sh --demo    only what make demo needs: a
#                                           compiler, the 6.12 headers and
#                                           kernel, qemu and busybox
set -euo pipefail

demo=0
case "${1:-}" in
--demo) demo=1 ;;
'') ;;
*) sed -n '2,8p' "$0" >&2; exit 2 ;;
esac

# make demo: build the module against the 6.12 headers (dwarves: pahole
# for the module's BTF) and the static refcachectl, boot the 6.12 kernel
# in qemu with a busybox initramfs (cpio, gzip).  Debian's headers
# package depends on its kernel image, whose vmlinuz the demo boots.
demo_pkgs=(
	build-essential dwarves cpio gzip
	linux-headers-6.12-amd64	# the distribution kernel's headers
	linux-image-6.12-amd64		# its vmlinuz, booted in qemu
	qemu-system-x86 busybox-static
)
check_pkgs=(
	"${demo_pkgs[@]}"
	gcc-multilib bc flex bison libelf-dev libssl-dev xz-utils kmod perl
	python3 libc-bin	# make bench copies Debian's python3 and what ldd names into the guest
	linux-headers-amd64		# 6.1 headers, for the compatibility build
	linux-image-amd64		# Debian 12's 6.1 kernel, booted in qemu
	linux-source-6.12		# debug kernel, checkpatch.pl
	sparse
	libmimalloc-dev	# make bench: the native allocator against mimalloc
	linux-perf	# perf: native profiles, and make check runs it in the guest (run.sh --with-perf)
	dkms			# make dkms, and make check's DKMS builds
	pkgconf man-db		# make check's install and doc checks
	graphviz			# dot: refcachectl graph --svg, its test in make check
	python3-pip python3-setuptools python3-wheel	# pip install ./userspace/python, checked
)
if [ "$demo" = 1 ]; then pkgs=("${demo_pkgs[@]}"); else pkgs=("${check_pkgs[@]}"); fi

installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }

missing=()
for p in "${pkgs[@]}"; do
	installed "$p" || missing+=("$p")
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
