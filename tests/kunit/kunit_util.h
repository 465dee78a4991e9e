/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers the KUnit suites share: heaps released when the test ends,
 * caches and objects that must exist, and a heap's live object count.
 */
#ifndef _REFCACHE_KUNIT_UTIL_H
#define _REFCACHE_KUNIT_UTIL_H

#include <kunit/test.h>
#include <linux/err.h>

#include "internal.h"

KUNIT_DEFINE_ACTION_WRAPPER(kunit_heap_put, refcache_heap_put, struct refcache_heap *);

/* A heap that is put when the test ends, whatever happens. */
static inline struct refcache_heap *new_heap(struct kunit *test)
{
	struct refcache_heap *heap = refcache_heap_create();

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, heap);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, kunit_heap_put, heap));
	return heap;
}

static inline struct refcache_cache *new_cache(struct kunit *test, struct refcache_heap *heap,
					       u32 payload, u32 nslots, unsigned int flags,
					       const struct refcache_type_ops *ops)
{
	struct refcache_cache *cache;

	cache = refcache_cache_create(heap, "kunit", payload, nslots, flags, ops);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, cache);
	return cache;
}

static inline struct refcache_obj *new_obj(struct kunit *test, struct refcache_cache *cache)
{
	struct refcache_obj *obj = refcache_obj_alloc(cache);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, obj);
	return obj;
}

/* Blocks a heap's allocator has out, all classes. */
static inline u64 total_in_use(const struct refcache_alloc_stats *st)
{
	u64 n = 0;
	int i;

	for (i = 0; i < REFCACHE_NUM_CLASSES; i++)
		n += st->cls[i].blocks_in_use;
	return n;
}

/* sort()'s comparison for arrays of pointers, by address. */
static inline int cmp_ptr(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a;
	unsigned long y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

static inline u64 heap_objects(struct refcache_heap *heap)
{
	u64 n;

	refcache_heap_lock(heap);
	n = heap->objs.objects;
	refcache_heap_unlock(heap);
	return n;
}

/* refcache_obj_get_unless_zero() as its kernel-doc asks: under the heap's mutex. */
static inline bool get_unless_zero(struct refcache_obj *obj)
{
	struct refcache_heap *heap = obj->cache->heap;
	bool got;

	refcache_heap_lock(heap);
	got = refcache_obj_get_unless_zero(obj);
	refcache_heap_unlock(heap);
	return got;
}

/* Lines between these markers may hold a warning the test provokes. */
static inline void expect_splat_begin(void)
{
	pr_info("refcache-expect-splat: begin\n");
}

static inline void expect_splat_end(void)
{
	pr_info("refcache-expect-splat: end\n");
}

#endif /* _REFCACHE_KUNIT_UTIL_H */
