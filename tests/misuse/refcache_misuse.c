// SPDX-License-Identifier: GPL-2.0
/*
 * refcache_misuse: a kernel module that misuses refcache's in-kernel API
 * the way issue 13 found, for the harness to prove the outcome is defined
 * (Documentation/objects.rst, "Heap lifetime").  At load it
 *
 *   - puts a heap while still holding one of its objects, whose cache
 *     has traverse, clear and release callbacks and whose payload holds a
 *     reference: refcache warns and abandons the heap;
 *   - adds a root (refcache_root_add()) of that object after the put:
 *     refused with -ENOENT, since the heap is being torn down;
 *   - creates a second heap, with such a cache and a cycle, holds the
 *     cycle by a root, and never puts the heap or deletes the root.
 *
 * Its exit does nothing about either.  Unloading it must disarm the
 * callbacks it leaves behind (a warning), and unloading refcache after
 * it must free both heaps without calling into this module's freed code.
 * The test-only module never ships with refcache.ko.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/module.h>

#include "compat.h"
#include "refcache.h"

struct misuse_payload {
	struct refcache_obj *ref;
};

static struct refcache_obj *held;	/* past its heap's put: the misuse */
static struct refcache_heap *never_put;

static struct misuse_payload *payload(struct refcache_obj *obj)
{
	return refcache_obj_payload(obj);
}

static void misuse_traverse(struct refcache_obj *obj, refcache_visit_t visit, void *arg)
{
	if (payload(obj)->ref)
		visit(payload(obj)->ref, arg);
}

static void misuse_clear(struct refcache_obj *obj)
{
	struct refcache_obj *ref = payload(obj)->ref;

	payload(obj)->ref = NULL;
	refcache_obj_put(ref);
}

static void misuse_release(struct refcache_obj *obj)
{
	pr_info("release callback ran\n");
}

static const struct refcache_type_ops misuse_ops = {
	.traverse = misuse_traverse,
	.clear = misuse_clear,
	.release = misuse_release,
};

/* A heap, a cache with callbacks, and @a holding a reference to @b. */
static struct refcache_heap *make_heap(struct refcache_obj **a, bool cycle)
{
	struct refcache_heap *heap = refcache_heap_create();
	struct refcache_cache *cache;
	struct refcache_obj *b;

	if (IS_ERR(heap))
		return heap;
	cache = refcache_cache_create(heap, "misuse", sizeof(struct misuse_payload), 0,
				      REFCACHE_CACHE_TRACKED, &misuse_ops);
	if (IS_ERR(cache))
		goto fail;
	*a = refcache_obj_alloc(cache);
	if (IS_ERR(*a))
		goto fail;
	b = refcache_obj_alloc(cache);
	if (IS_ERR(b)) {
		refcache_obj_put(*a);
		goto fail;
	}
	refcache_heap_lock(heap);
	payload(*a)->ref = b;			/* b's reference moves to a */
	if (cycle)
		payload(b)->ref = refcache_obj_get(*a);
	refcache_heap_unlock(heap);
	return heap;
fail:
	refcache_heap_put(heap);
	return ERR_PTR(-ENOMEM);
}

static int __init misuse_init(void)
{
	struct refcache_heap *heap;
	struct refcache_obj *a;
	u64 id;
	int ret;

	heap = make_heap(&held, false);
	if (IS_ERR(heap))
		return PTR_ERR(heap);
	pr_info("putting heap %llu while holding one of its objects\n", refcache_heap_id(heap));
	refcache_heap_put(heap);
	/* The heap is abandoned, so @held is still there to pass. */
	ret = refcache_root_add(held, &id);
	pr_info("root of an object of a heap put: %d\n", ret);

	never_put = make_heap(&a, true);
	if (IS_ERR(never_put))
		return 0;
	ret = refcache_root_add(a, &id);
	pr_info("root of a heap never to be put: %d\n", ret);
	refcache_obj_put(a);		/* the cycle and the root hold it */
	pr_info("keeping heap %llu, never to be put\n", refcache_heap_id(never_put));
	return 0;
}

static void __exit misuse_exit(void)
{
	pr_info("unloading with an object of an abandoned heap held, and a heap not put, with a root open\n");
}

module_init(misuse_init);
module_exit(misuse_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("refcache test harness: misuse of the in-kernel API");
MODULE_AUTHOR("refcache developers");
MODULE_IMPORT_NS(REFCACHE_NS);
