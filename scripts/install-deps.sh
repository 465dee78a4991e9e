#!/bin/bash
# Install the Debian packages refcache needs, skipping what is already
# there.  Idempotent; needs root and apt-get only when something is missing.
# usage: scripts/install-deps.sh           everything make check, bench,
#                                           fuzz and install need
#        scripts/install-deps.sh --demo    only what make demo needs: a
#                                           compiler, the 6.12 headers,
#                                           qemu and busybox, and the 6.12
#                                           kernel image's vmlinuz
set -euo pipefail

demo=0
case "${1:-}" in
--demo) demo=1 ;;
'') ;;
*) sed -n '2,9p' "$0" >&2; exit 2 ;;
esac

# make demo: build the module against the 6.12 headers (dwarves: pahole
# for the module's BTF) and the static refcachectl, boot the 6.12 kernel
# in qemu with a busybox initramfs (cpio, gzip).
demo_pkgs=(
	build-essential dwarves cpio gzip
	linux-headers-6.12-amd64	# the distribution kernel's headers
	qemu-system-x86 busybox-static
)
check_pkgs=(
	"${demo_pkgs[@]}"
	gcc-multilib bc flex bison libelf-dev libssl-dev xz-utils kmod perl
	python3 libc-bin	# make bench copies Debian's python3 and what ldd names into the guest
	linux-image-6.12-amd64		# its vmlinuz, booted in qemu
	linux-headers-amd64		# 6.1 headers, for the compatibility build
	linux-image-amd64		# Debian 12's 6.1 kernel, booted in qemu
	linux-source-6.12		# debug kernel, checkpatch.pl
	sparse
	dkms				# make dkms, and make check's DKMS builds
	pkgconf man-db			# make check's install and doc checks
)
if [ "$demo" = 1 ]; then pkgs=("${demo_pkgs[@]}"); else pkgs=("${check_pkgs[@]}"); fi

installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }

missing=()
for p in "${pkgs[@]}"; do
	installed "$p" || missing+=("$p")
done

# make demo boots only the 6.12 kernel's vmlinuz: rather than install
# linux-image-6.12-amd64 (and build its initramfs, which the guest never
# uses), take vmlinuz out of the package into the cache.  demo.sh looks
# there when /boot has no such kernel.
cache=${XDG_CACHE_HOME:-$HOME/.cache}/refcache
want_vmlinuz=0
if [ "$demo" = 1 ] && ! installed linux-image-6.12-amd64; then
	want_vmlinuz=1
	ls "$cache"/boot/vmlinuz-6.12*-amd64 > /dev/null 2>&1 && want_vmlinuz=0
fi
[ ${#missing[@]} -eq 0 ] && [ "$want_vmlinuz" = 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
	[ "$want_vmlinuz" = 0 ] || missing+=("(vmlinuz of linux-image-6.12-amd64)")
	echo "install-deps: missing Debian packages: ${missing[*]}" >&2
	echo "install-deps: run as root with apt-get: apt-get install ${missing[*]}" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}" >&2
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
if [ "$want_vmlinuz" = 1 ]; then
	# The versioned image package linux-image-6.12-amd64 points to.
	img=$(apt-cache depends linux-image-6.12-amd64 |
		sed -n 's/^ *Depends: \(linux-image-6\.12[^ ]*-amd64\)$/\1/p' | head -n 1)
	[ -n "$img" ] || { echo "install-deps: no linux-image-6.12 package found" >&2; exit 1; }
	echo "install-deps: taking vmlinuz out of $img (not installing it)" >&2
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download -qq "$img" >&2)
	mkdir -p "$cache/boot"
	dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$cache" --wildcards './boot/vmlinuz-*'
	rm -rf "$tmp"
	ls "$cache"/boot/vmlinuz-6.12*-amd64 >&2
fi
