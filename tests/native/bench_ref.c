// SPDX-License-Identifier: GPL-2.0
/* tests/bench/refcache_bench_ref.c, the module make bench loads in qemu, natively. */
#define NATIVE_MODULE_INIT native_bench_ref
#define NATIVE_MODULE_EXIT native_bench_ref_exit
#include "refcache_bench_ref.c"
