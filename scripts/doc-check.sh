#!/bin/bash
# make check's documentation check: what the code offers, the docs describe.
#  - every function librefcache exports (lib/librefcache.map) has a man
#    page, userspace/man/NAME.3, whose SYNOPSIS (as man renders it) has
#    the header's prototype;
#  - every REFCACHE_IOC_* of the uapi header is in Documentation/uapi.rst;
#  - every module parameter is in Documentation/limits.rst or collector.rst;
#  - every /proc/refcache file the module creates is described in
#    Documentation/ (as /proc/refcache/NAME or as a ``NAME`` entry of
#    index.rst's /proc/refcache section);
#  - every refcachectl command has its man page entry, and every man page
#    a footer without a version of its own (install stamps the one version);
#  - the docs point nowhere outside the project (no DESIGN.md).
# Prints one line per problem; exits 1 if there is any.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v man > /dev/null || { echo "doc-check: no man (apt-get install man-db)"; exit 1; }
exec python3 - <<'PY'
import glob, os, re, subprocess, sys

bad = []
def problem(msg):
    bad.append(msg)
    print("doc-check:", msg)

def norm(proto):
    p = re.sub(r'\s+', ' ', proto).strip()
    p = re.sub(r'\s*([(),*;])\s*', r'\1', p)
    return p

# 1. library functions and their man pages
header = open('userspace/include/refcache.h').read()
header = re.sub(r'/\*.*?\*/', ' ', header, flags=re.S)
header = re.sub(r'^\s*#.*$', ';', header, flags=re.M)
mapfile = open('userspace/lib/librefcache.map').read()
funcs = re.findall(r'^\s*(refcache_\w+);', mapfile, re.M)
if not funcs:
    problem('no functions found in userspace/lib/librefcache.map')
for fn in funcs:
    m = re.search(r'(?:^|;|\{|\})\s*([A-Za-z_][\w \t*]*?\b' + fn + r'\s*\([^;{]*\)\s*;)', header, re.S)
    if not m:
        problem(f'{fn}: exported but not declared in userspace/include/refcache.h')
        continue
    want = norm(m.group(1))
    page = f'userspace/man/{fn}.3'
    if not os.path.exists(page):
        problem(f'{fn}: no man page {page}')
        continue
    # A page that is only ".so man3/OTHER.3" shares OTHER's SYNOPSIS.
    so = re.match(r'\.so man3/(\S+)', open(page).read())
    if so:
        page = f'userspace/man/{so.group(1)}'
    env = dict(os.environ, MANWIDTH='300', MAN_KEEP_FORMATTING='0')
    text = subprocess.run(['man', '-l', '-P', 'cat', page], capture_output=True,
                          text=True, env=env).stdout
    text = re.sub(r'.\x08', '', text)
    syn = re.search(r'^SYNOPSIS\n(.*?)^\S', text, re.S | re.M)
    syn = norm(syn.group(1)) if syn else ''
    if want not in syn:
        problem(f'{fn}: SYNOPSIS of {page} does not have the header\'s prototype "{want}"')

# 2. ioctls in uapi.rst
uapi = open('uapi/linux/refcache.h').read()
rst = open('Documentation/uapi.rst').read()
for ioc in sorted(set(re.findall(r'#define\s+(REFCACHE_IOC_\w+)\s+_IO', uapi))):
    if not re.search(r'\b' + ioc + r'\b', rst):
        problem(f'{ioc}: not in Documentation/uapi.rst')

# 3. module parameters in limits.rst or collector.rst
docs = open('Documentation/limits.rst').read() + open('Documentation/collector.rst').read()
for c in sorted(glob.glob('kmod/*.c')):
    for p in re.findall(r'module_param(?:_named|_cb)?\(\s*(\w+)', open(c).read()):
        if '``' + p + '``' not in docs:
            problem(f'module parameter {p} ({c}): not in Documentation/limits.rst or collector.rst')

# 4. /proc/refcache files
alldocs = ''.join(open(f).read() for f in glob.glob('Documentation/*.rst'))
index = open('Documentation/index.rst').read()
procsec = index.split('/proc/refcache\n==============', 1)[-1]
for name in re.findall(r'proc_create\w*\("(\w+)"', open('kmod/procfs.c').read()):
    if f'/proc/refcache/{name}' not in alldocs and f'``{name}``' not in procsec:
        problem(f'/proc/refcache/{name}: not described in Documentation/')

# 5. refcachectl's commands in refcachectl(1); man page footers
cli = open('userspace/cli/refcachectl.c').read()
man1 = open('userspace/man/refcachectl.1').read()
cmds = re.findall(r'^\t\{ "(\w+)", "usage:', cli, re.M)
for c in cmds:
    if not re.search(r'^\.(?:B|BR) ' + c + r'\b', man1, re.M):
        problem(f'refcachectl {c}: no entry in userspace/man/refcachectl.1')
for page in sorted(glob.glob('userspace/man/*.[0-9]')):
    first = open(page).readline()
    if first.startswith('.so '):
        continue
    if not re.match(r'\.TH \S+ \d \S+ "(lib)?refcache" ', first):
        problem(f'{page}: footer must be "refcache" or "librefcache" without a version '
                f'(install stamps scripts/version.sh\'s): {first.strip()}')
    for ref, sec in re.findall(r'\.BR ((?:lib)?refcache\w*) \((\d)\)', open(page).read()):
        if not os.path.exists(f'userspace/man/{ref}.{sec}'):
            problem(f'{page}: refers to {ref}({sec}), which has no page')

# 6. self-contained
for f in ['README.md'] + glob.glob('Documentation/*.rst') + glob.glob('userspace/man/*'):
    if 'DESIGN.md' in open(f).read():
        problem(f'{f}: refers to DESIGN.md, which is not part of the project')

print(f'doc-check: {len(funcs)} functions, {len(cmds)} commands checked; {len(bad)} problems')
sys.exit(1 if bad else 0)
PY
