#!/bin/bash
# The release's version, read from its one source: REFCACHE_ABI_MAJOR and
# REFCACHE_ABI_MINOR in uapi/linux/refcache.h.  The module's
# MODULE_VERSION, the library's file name and refcache_lib_version(),
# refcache.pc, the man pages' footers and dkms.conf all follow it, so an
# ABI bump is one edit of that header.
# usage: scripts/version.sh            1.3    (release, module, pkg-config)
#        scripts/version.sh --full     1.3.0  (librefcache.so.1.3.0)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
v=$(awk '$1 == "#define" && $2 == "REFCACHE_ABI_MAJOR" { M = $3 }
	 $1 == "#define" && $2 == "REFCACHE_ABI_MINOR" { m = $3 }
	 END { if (M != "" && m != "") print M "." m }' "$top/uapi/linux/refcache.h")
[ -n "$v" ] || { echo "version.sh: no REFCACHE_ABI_MAJOR/MINOR in uapi/linux/refcache.h" >&2; exit 1; }
case "${1:-}" in
--full) echo "$v.0" ;;
'') echo "$v" ;;
*) sed -n '2,9p' "$0" >&2; exit 2 ;;
esac
