// SPDX-License-Identifier: GPL-2.0
/*
 * refcache_example: a module that uses refcache's in-kernel API
 * (Documentation/kernel-api.rst).  At load it makes a heap and a tracked
 * cache, builds the cycle a <-> b, drops its own references, so that
 * only the cycle keeps a and b alive, and runs a full collection: the
 * collector finds both unreachable and frees them.  The load fails if it
 * does not, so "insmod refcache_example.ko" is a test.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/module.h>

#include "compat.h"	/* REFCACHE_NS */
#include "refcache.h"
#include <linux/refcache.h>	/* REFCACHE_CACHE_TRACKED */

static int __init refcache_example_init(void)
{
	struct refcache_gc_result res;
	struct refcache_heap *heap;
	struct refcache_cache *cache;
	struct refcache_obj *a, *b;
	int ret;

	heap = refcache_heap_create();
	if (IS_ERR(heap))
		return PTR_ERR(heap);
	/* 16 bytes of payload and one reference slot, seen by the collector. */
	cache = refcache_cache_create(heap, "example_node", 16, 1,
				      REFCACHE_CACHE_TRACKED, NULL);
	if (IS_ERR(cache)) {
		ret = PTR_ERR(cache);
		goto heap;
	}
	a = refcache_obj_alloc(cache);
	if (IS_ERR(a)) {
		ret = PTR_ERR(a);
		goto cache;
	}
	b = refcache_obj_alloc(cache);
	if (IS_ERR(b)) {
		ret = PTR_ERR(b);
		refcache_obj_put(a);
		goto cache;
	}
	/* a.slot[0] = b; b.slot[0] = a: each store takes a reference. */
	ret = refcache_obj_store(a, 0, b);
	if (!ret)
		ret = refcache_obj_store(b, 0, a);
	pr_info("cycle built: refcount(a) = %u, refcount(b) = %u\n",
		refcache_obj_refcount(a), refcache_obj_refcount(b));
	/* Our references go; the cycle keeps both alive at refcount 1. */
	refcache_obj_put(a);
	refcache_obj_put(b);
	/* gc.collect(2): generations 0, 1 and 2. */
	refcache_gc_collect(heap, 2, &res);
	pr_info("gc.collect(2): %llu unreachable, %llu collected, %llu uncollectable\n",
		res.unreachable, res.collected, res.uncollectable);
	if (!ret && res.collected != 2)
		ret = -EIO;
cache:
	/* Fails with -EBUSY if the collector left an object alive. */
	if (refcache_cache_destroy(cache) && !ret)
		ret = -EBUSY;
heap:
	refcache_heap_put(heap);
	if (ret)
		pr_err("failed: %d\n", ret);
	else
		pr_info("the collector freed the cycle\n");
	return ret;
}

static void __exit refcache_example_exit(void)
{
}

module_init(refcache_example_init);
module_exit(refcache_example_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Example user of refcache's in-kernel API: a cycle the collector frees");
MODULE_IMPORT_NS(REFCACHE_NS);
