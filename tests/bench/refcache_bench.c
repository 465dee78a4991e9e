// SPDX-License-Identifier: GPL-2.0
/*
 * refcache_bench: at load time, time refcache's allocator against a
 * kmem_cache of the same object size and print the results, a table for
 * people and one "bench ..." line per measurement for scripts.
 *
 * Both sides hand out zeroed memory (refcache always zeroes, so the
 * kmem_cache side uses kmem_cache_zalloc()).  Each figure is the best
 * of several rounds, measured alternately in the same boot; only the
 * ratios mean something under emulation.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "compat.h"
#include "refcache.h"

#define BATCH	1000

static unsigned int pairs = 100000;
module_param(pairs, uint, 0444);
MODULE_PARM_DESC(pairs, "alloc+free pairs per round (default 100000)");

static unsigned int batches = 100;
module_param(batches, uint, 0444);
MODULE_PARM_DESC(batches, "batches of 1000 allocs then 1000 frees per round (default 100)");

static unsigned int rounds = 5;
module_param(rounds, uint, 0444);
MODULE_PARM_DESC(rounds, "rounds; the best one counts (default 5)");

static const unsigned int sizes[] = { 16, 64, 256, 512 };

struct side {
	struct refcache_heap *heap;
	struct kmem_cache *cache;
	unsigned int size;
};

static void *side_alloc(struct side *s)
{
	if (s->heap)
		return refcache_alloc(s->heap, s->size, GFP_KERNEL);
	return kmem_cache_zalloc(s->cache, GFP_KERNEL);
}

static void side_free(struct side *s, void *p)
{
	if (s->heap)
		refcache_free(s->heap, p);
	else
		kmem_cache_free(s->cache, p);
}

/* Total ns for @pairs alloc+free pairs. */
static u64 time_pairs(struct side *s)
{
	u64 t0 = ktime_get_ns();
	unsigned int i;
	void *p;

	for (i = 0; i < pairs; i++) {
		p = side_alloc(s);
		if (unlikely(!p))
			return U64_MAX;
		side_free(s, p);
	}
	return ktime_get_ns() - t0;
}

/* Total ns for @batches batches. */
static u64 time_batches(struct side *s, void **v)
{
	u64 t0 = ktime_get_ns();
	unsigned int b, i;

	for (b = 0; b < batches; b++) {
		for (i = 0; i < BATCH; i++) {
			v[i] = side_alloc(s);
			if (unlikely(!v[i]))
				goto fail;
		}
		for (i = 0; i < BATCH; i++)
			side_free(s, v[i]);
	}
	return ktime_get_ns() - t0;
fail:
	while (i--)
		side_free(s, v[i]);
	return U64_MAX;
}

/* "12.34" from a/b, without floating point. */
static void ratio_str(char *buf, size_t len, u64 a, u64 b)
{
	u64 r = b ? div64_u64(a * 100 + b / 2, b) : 0;

	snprintf(buf, len, "%llu.%02llu", r / 100, r % 100);
}

/* ns per unit with one decimal. */
static void ns_str(char *buf, size_t len, u64 total, u64 units)
{
	u64 t = div64_u64(total * 10 + units / 2, units);

	snprintf(buf, len, "%llu.%llu", t / 10, t % 10);
}

struct result {
	u64 rc_pair, kc_pair, rc_batch, kc_batch;
};

static int bench_size(struct refcache_heap *heap, unsigned int size,
		      void **v, struct result *r)
{
	struct side rc = { .heap = heap, .size = size };
	struct side kc = { .size = size };
	char name[32];
	unsigned int i;

	snprintf(name, sizeof(name), "refcache_bench_%u", size);
	kc.cache = kmem_cache_create(name, size, 16, 0, NULL);
	if (!kc.cache)
		return -ENOMEM;
	*r = (struct result){ U64_MAX, U64_MAX, U64_MAX, U64_MAX };
	/* Warm both up: arenas, slabs, per-CPU caches. */
	time_batches(&rc, v);
	time_batches(&kc, v);
	for (i = 0; i < rounds; i++) {
		r->rc_pair = min(r->rc_pair, time_pairs(&rc));
		r->kc_pair = min(r->kc_pair, time_pairs(&kc));
		cond_resched();
		r->rc_batch = min(r->rc_batch, time_batches(&rc, v));
		r->kc_batch = min(r->kc_batch, time_batches(&kc, v));
		cond_resched();
	}
	kmem_cache_destroy(kc.cache);
	if (r->rc_pair == U64_MAX || r->kc_pair == U64_MAX ||
	    r->rc_batch == U64_MAX || r->kc_batch == U64_MAX)
		return -ENOMEM;
	return 0;
}

static int __init refcache_bench_init(void)
{
	struct result res[ARRAY_SIZE(sizes)];
	char a[24], b[24], c[24], d[24], e[24], f[24];
	struct refcache_heap *heap;
	unsigned int i;
	void **v;
	int ret = 0;

	if (!pairs || !batches || !rounds)
		return -EINVAL;
	v = vmalloc(array_size(BATCH, sizeof(*v)));
	if (!v)
		return -ENOMEM;
	heap = refcache_heap_create();
	if (IS_ERR(heap)) {
		vfree(v);
		return PTR_ERR(heap);
	}
	for (i = 0; i < ARRAY_SIZE(sizes) && !ret; i++)
		ret = bench_size(heap, sizes[i], v, &res[i]);
	refcache_heap_put(heap);
	vfree(v);
	if (ret) {
		pr_err("allocation failed during the benchmark\n");
		return ret;
	}

	pr_info("refcache vs kmem_cache (zeroed), best of %u rounds; ns per alloc+free pair, ns per batch of %u allocs then %u frees\n",
		rounds, BATCH, BATCH);
	pr_info("%5s %12s %12s %6s %14s %14s %6s\n", "size", "pair_rc", "pair_kc",
		"ratio", "batch_rc", "batch_kc", "ratio");
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		struct result *r = &res[i];

		ns_str(a, sizeof(a), r->rc_pair, pairs);
		ns_str(b, sizeof(b), r->kc_pair, pairs);
		ns_str(c, sizeof(c), r->rc_batch, batches);
		ns_str(d, sizeof(d), r->kc_batch, batches);
		ratio_str(e, sizeof(e), r->rc_pair, r->kc_pair);
		ratio_str(f, sizeof(f), r->rc_batch, r->kc_batch);
		pr_info("%5u %12s %12s %6s %14s %14s %6s\n", sizes[i], a, b, e,
			c, d, f);
	}
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		struct result *r = &res[i];

		ns_str(a, sizeof(a), r->rc_pair, pairs);
		ns_str(b, sizeof(b), r->kc_pair, pairs);
		ratio_str(e, sizeof(e), r->rc_pair, r->kc_pair);
		pr_info("bench alloc_free size=%u refcache_ns=%s kmem_cache_ns=%s ratio=%s\n",
			sizes[i], a, b, e);
	}
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		struct result *r = &res[i];

		ns_str(c, sizeof(c), r->rc_batch, batches);
		ns_str(d, sizeof(d), r->kc_batch, batches);
		ratio_str(f, sizeof(f), r->rc_batch, r->kc_batch);
		pr_info("bench alloc_free_batch size=%u refcache_ns=%s kmem_cache_ns=%s ratio=%s\n",
			sizes[i], c, d, f);
	}
	return 0;
}

static void __exit refcache_bench_exit(void)
{
}

module_init(refcache_bench_init);
module_exit(refcache_bench_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("refcache allocator benchmark against kmem_cache");
MODULE_IMPORT_NS(REFCACHE_NS);
