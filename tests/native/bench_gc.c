// SPDX-License-Identifier: GPL-2.0
/* tests/bench/refcache_bench_gc.c, the module make bench loads in qemu, natively. */
#define NATIVE_MODULE_INIT native_bench_gc
#define NATIVE_MODULE_EXIT native_bench_gc_exit
#include "refcache_bench_gc.c"
