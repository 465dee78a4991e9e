// SPDX-License-Identifier: GPL-2.0
/*
 * Native benchmarks, on the hardware: the -O2 build of the core.
 *
 *   refcache_native_bench gc [objects=N rounds=N young_rounds=N]
 *   refcache_native_bench ref [pairs=N rounds=N]
 *   refcache_native_bench alloc [rounds=N pairs=N batches=N]
 *
 * gc and ref are tests/bench/refcache_bench_gc.c and refcache_bench_ref.c,
 * the modules make bench loads in qemu, compiled unchanged against the
 * shim (bench_gc.c, bench_ref.c); their "bench ..." lines are the
 * modules' own, which scripts/bench.sh renames.  alloc is the allocator
 * against glibc's malloc and mimalloc, every block zeroed on each side
 * (refcache's are): per size, alloc+free pairs and batches of BATCH
 * allocations then BATCH frees, in interleaved rounds; each side's best
 * and median, and
 *   bench native alloc size=<s> refcache_ns=<x> malloc_ns=<y> mimalloc_ns=<z> ratio_malloc=<r1> ratio_mimalloc=<r2>
 *	kernel_lock_refcache_ns=<k> kernel_lock_ratio_malloc=<k/y>
 *   bench native alloc_batch size=<s> ...
 * with the medians.  The kernel_lock figures take off what the shim's
 * local_lock (a lock, since threads here may share a CPU number) costs
 * beyond the kernel's (preemption off and on), both timed first.
 */
#define _GNU_SOURCE
#include <native/kernel.h>
#include <dlfcn.h>

#include "internal.h"
#include "shim.h"

int native_bench_gc(void);
int native_bench_ref(void);
int refcache_gc_wq_init(void);
int refcache_heaps_init(void) __attribute__((weak));

#define BATCH	64
#define MAX_ROUNDS	64

static unsigned int rounds = 7, pairs = 200000, batches = 4000;

enum side { RC, MALLOC, MIMALLOC, NSIDES };
static const char *const side_name[NSIDES] = { "refcache", "malloc", "mimalloc" };

static struct refcache_heap *heap;
/*
 * mimalloc through dlopen(): linked in, it would replace malloc() for
 * the whole program, glibc's side of the comparison and the shim's
 * kmalloc() included.
 */
static void *(*mi_malloc)(size_t size);
static void (*mi_free)(void *p);

static int load_mimalloc(void)
{
	void *h = dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		fprintf(stderr, "bench: no mimalloc (libmimalloc-dev): %s\n", dlerror());
		return -ENOENT;
	}
	mi_malloc = (void *(*)(size_t))dlsym(h, "mi_malloc");
	mi_free = (void (*)(void *))dlsym(h, "mi_free");
	return mi_malloc && mi_free ? 0 : -ENOENT;
}

/*
 * The shim's local_lock (an xchg and a store) costs what the kernel's
 * (preemption off) does not: priced alone, for the reader to weigh.
 */
static noinline double time_local_lock(void)
{
	local_lock_t l;
	ktime_t t0;
	unsigned int i;

	local_lock_init(&l);
	t0 = ktime_get();
	for (i = 0; i < pairs; i++) {
		native_local_lock(&l);
		native_local_unlock(&l);
	}
	return (double)(ktime_get() - t0) / pairs;
}

/* What the kernel's local_lock is: preemption off and on (the shim's). */
static noinline double time_preempt(void)
{
	ktime_t t0;
	unsigned int i;

	t0 = ktime_get();
	for (i = 0; i < pairs; i++) {
		preempt_disable();
		barrier();
		preempt_enable();
	}
	return (double)(ktime_get() - t0) / pairs;
}

static __always_inline void *side_alloc(enum side s, unsigned int size)
{
	void *p;

	switch (s) {
	case RC:
		return refcache_alloc(heap, size, GFP_KERNEL);
	case MALLOC:
		p = malloc(size);
		break;
	default:
		p = mi_malloc(size);
		break;
	}
	/* libc's memset itself, not the shim's wrapper refcache gets. */
	if (p)
		(memset)(p, 0, size);
	return p;
}

static __always_inline void side_free(enum side s, void *p)
{
	switch (s) {
	case RC:
		refcache_free(heap, p);
		break;
	case MALLOC:
		free(p);
		break;
	default:
		mi_free(p);
		break;
	}
}

/* The compiler must not see through the block: the pointer escapes. */
static __always_inline void escape(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

static noinline double time_pairs(enum side s, unsigned int size)
{
	ktime_t t0 = ktime_get();
	unsigned int i;
	void *p;

	for (i = 0; i < pairs; i++) {
		p = side_alloc(s, size);
		if (unlikely(!p))
			abort();
		escape(p);
		side_free(s, p);
	}
	return (double)(ktime_get() - t0) / pairs;
}

static noinline double time_batches(enum side s, unsigned int size)
{
	void *v[BATCH];
	ktime_t t0 = ktime_get();
	unsigned int b, i;

	for (b = 0; b < batches; b++) {
		for (i = 0; i < BATCH; i++) {
			v[i] = side_alloc(s, size);
			if (unlikely(!v[i]))
				abort();
			escape(v[i]);
		}
		for (i = 0; i < BATCH; i++)
			side_free(s, v[i]);
	}
	return (double)(ktime_get() - t0) / batches;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct stat2 { double best, median; };

static struct stat2 stat_of(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return (struct stat2){ v[0], n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2 };
}

static int bench_alloc(void)
{
	static const unsigned int sizes[] = { 16, 64, 256, 512 };
	double pr[NSIDES][MAX_ROUNDS], br[NSIDES][MAX_ROUNDS];
	struct stat2 ps[NSIDES], bs[NSIDES];
	double kp, kb;
	unsigned int i, r, z;
	int s;

	double ll[MAX_ROUNDS], pe[MAX_ROUNDS], extra;

	if (load_mimalloc())
		return -ENOENT;
	heap = refcache_heap_create();
	if (IS_ERR(heap))
		return PTR_ERR(heap);
	rounds = clamp_t(unsigned int, rounds, 1, MAX_ROUNDS);
	/*
	 * The shim's local_lock against the kernel's, first: refcache takes
	 * it once per alloc and once per free, so each figure also comes
	 * "as in the kernel", less what the shim's lock costs beyond
	 * preemption off and on.
	 */
	for (r = 0; r < rounds; r++) {
		ll[r] = time_local_lock();
		pe[r] = time_preempt();
	}
	ps[0] = stat_of(ll, rounds);
	ps[1] = stat_of(pe, rounds);
	extra = ps[0].median - ps[1].median;
	printf("shim local_lock+local_unlock: %.1f/%.1f ns; preemption off+on (the kernel's local_lock): %.1f/%.1f ns\n",
	       ps[0].best, ps[0].median, ps[1].best, ps[1].median);
	printf("bench native alloc shim_local_lock_ns=%.1f preempt_ns=%.1f\n",
	       ps[0].median, ps[1].median);
	printf("native allocator, zeroed blocks; %u interleaved rounds of %u pairs and %u batches of %u; ns, best/median\n",
	       rounds, pairs, batches, BATCH);
	printf("(kernel: refcache's median less 2 x %.1f ns per pair, the shim's local_lock beyond the kernel's)\n",
	       extra);
	printf("%5s %-6s %17s %17s %17s %8s %8s %8s %8s\n", "size", "what", "refcache", "malloc",
	       "mimalloc", "r_malloc", "r_mimal", "kernel", "rk_mallc");
	for (z = 0; z < ARRAY_SIZE(sizes); z++) {
		/* Warm every side up: arenas, pools, per-CPU caches, pages. */
		for (s = 0; s < NSIDES; s++)
			time_batches(s, sizes[z]);
		for (r = 0; r < rounds; r++) {
			for (s = 0; s < NSIDES; s++)
				pr[s][r] = time_pairs(s, sizes[z]);
			for (s = 0; s < NSIDES; s++)
				br[s][r] = time_batches(s, sizes[z]);
		}
		for (s = 0; s < NSIDES; s++) {
			ps[s] = stat_of(pr[s], rounds);
			bs[s] = stat_of(br[s], rounds);
		}
		kp = ps[RC].median - 2 * extra;
		kb = bs[RC].median - 2 * BATCH * extra;
		printf("%5u %-6s %8.1f/%-8.1f %8.1f/%-8.1f %8.1f/%-8.1f %8.2f %8.2f %8.1f %8.2f\n", sizes[z],
		       "pair", ps[RC].best, ps[RC].median, ps[MALLOC].best, ps[MALLOC].median,
		       ps[MIMALLOC].best, ps[MIMALLOC].median,
		       ps[RC].median / ps[MALLOC].median, ps[RC].median / ps[MIMALLOC].median,
		       kp, kp / ps[MALLOC].median);
		printf("%5u %-6s %8.0f/%-8.0f %8.0f/%-8.0f %8.0f/%-8.0f %8.2f %8.2f %8.0f %8.2f\n", sizes[z],
		       "batch", bs[RC].best, bs[RC].median, bs[MALLOC].best, bs[MALLOC].median,
		       bs[MIMALLOC].best, bs[MIMALLOC].median,
		       bs[RC].median / bs[MALLOC].median, bs[RC].median / bs[MIMALLOC].median,
		       kb, kb / bs[MALLOC].median);
		printf("bench native alloc size=%u refcache_ns=%.1f malloc_ns=%.1f mimalloc_ns=%.1f ratio_malloc=%.2f ratio_mimalloc=%.2f kernel_lock_refcache_ns=%.1f kernel_lock_ratio_malloc=%.2f\n",
		       sizes[z], ps[RC].median, ps[MALLOC].median, ps[MIMALLOC].median,
		       ps[RC].median / ps[MALLOC].median, ps[RC].median / ps[MIMALLOC].median,
		       kp, kp / ps[MALLOC].median);
		printf("bench native alloc_batch size=%u batch=%u refcache_ns=%.0f malloc_ns=%.0f mimalloc_ns=%.0f ratio_malloc=%.2f ratio_mimalloc=%.2f kernel_lock_refcache_ns=%.0f kernel_lock_ratio_malloc=%.2f\n",
		       sizes[z], BATCH, bs[RC].median, bs[MALLOC].median, bs[MIMALLOC].median,
		       bs[RC].median / bs[MALLOC].median, bs[RC].median / bs[MIMALLOC].median,
		       kb, kb / bs[MALLOC].median);
	}
	for (i = 0; i < NSIDES; i++)
		(void)side_name[i];
	refcache_heap_put(heap);
	return 0;
}

static bool set_local(const char *arg)
{
	if (!strncmp(arg, "rounds=", 7))
		rounds = strtoul(arg + 7, NULL, 0);
	else if (!strncmp(arg, "pairs=", 6))
		pairs = strtoul(arg + 6, NULL, 0);
	else if (!strncmp(arg, "batches=", 8))
		batches = strtoul(arg + 8, NULL, 0);
	else
		return false;
	return true;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	bool alloc = !strcmp(what, "alloc");
	int i, ret;

	if (!alloc && strcmp(what, "gc") && strcmp(what, "ref")) {
		fprintf(stderr, "usage: %s gc|ref|alloc [param=value...]\n", argv[0]);
		return 2;
	}
	for (i = 2; i < argc; i++) {
		if (alloc ? !set_local(argv[i]) : !native_param_set(argv[i])) {
			fprintf(stderr, "%s: unknown parameter %s\n", argv[0], argv[i]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/*
	 * cond_resched() yields at most once a millisecond, as if a 1000 Hz
	 * tick asked for it: every time, it would time sched_yield() and,
	 * on a loaded machine, other processes' time slices (shim.c).
	 */
	native_resched_ns = NSEC_PER_MSEC;
	native_pin_cpus = true;
	native_init();
	native_task_self("insmod");
	native_printk_stdout = true;
	refcache_limits_init();
	if (refcache_gc_wq_init() || (refcache_heaps_init && refcache_heaps_init()))
		return 1;
	if (alloc)
		ret = bench_alloc();
	else if (!strcmp(what, "gc"))
		ret = native_bench_gc();
	else
		ret = native_bench_ref();
	if (ret)
		fprintf(stderr, "%s: %s: %d\n", argv[0], what, ret);
	fflush(stdout);
	return ret ? 1 : 0;
}
