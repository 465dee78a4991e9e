#!/bin/bash
# Print the path of scripts/checkpatch.pl from Debian's linux-source-6.12,
# extracting just the files checkpatch needs into the cache once.
set -euo pipefail
cache=${REFCACHE_CACHE:-$HOME/.cache/refcache}
tarball=/usr/src/linux-source-6.12.tar.xz
ver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
dir=$cache/checkpatch-$ver
if [ ! -f "$dir/scripts/checkpatch.pl" ]; then
	rm -rf "$dir.tmp"
	mkdir -p "$dir.tmp"
	tar -xJf "$tarball" -C "$dir.tmp" --strip-components=1 --wildcards \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
fi
echo "$dir/scripts/checkpatch.pl"
