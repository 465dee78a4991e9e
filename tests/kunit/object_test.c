// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites refcache_object and refcache_handle: reference counts,
 * release cascades, weak references, caches and the in-kernel API.
 */
#include <kunit/test.h>
#include <linux/err.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "internal.h"
#include "kunit_util.h"

static void obj_alloc_zeroed_one_ref(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct refcache_cache *cache = new_cache(test, heap, 200, 3, 0, NULL);
	struct refcache_obj *obj = new_obj(test, cache);
	u8 *payload = refcache_obj_payload(obj);
	int i;

	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 1U);
	for (i = 0; i < 3; i++)
		KUNIT_EXPECT_NULL(test, obj->slots[i]);
	KUNIT_EXPECT_TRUE(test, !memchr_inv(payload, 0, 200));
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	memset(payload, 0xab, 200);
	refcache_obj_put(obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);

	/* The memory comes back zeroed, whatever the last user wrote. */
	obj = new_obj(test, cache);
	KUNIT_EXPECT_TRUE(test, !memchr_inv(refcache_obj_payload(obj), 0, 200));
	refcache_obj_put(obj);
}

static void obj_get_put_counts(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct refcache_cache *cache = new_cache(test, heap, 8, 0, 0, NULL);
	struct refcache_obj *obj = new_obj(test, cache);

	KUNIT_EXPECT_PTR_EQ(test, refcache_obj_get(obj), obj);
	KUNIT_EXPECT_TRUE(test, get_unless_zero(obj));
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 3U);
	refcache_obj_put(obj);
	refcache_obj_put(obj);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 1U);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	refcache_obj_put(obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	refcache_obj_put(NULL);
}

/*
 * refcount_t semantics: an overflowing count saturates and the object is
 * leaked rather than freed early; an underflow and an increment from
 * zero warn and saturate.  The heap's teardown frees saturated objects.
 */
static void obj_refcount_saturates(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct refcache_cache *cache = new_cache(test, heap, 8, 0, 0, NULL);
	struct refcache_obj *obj = new_obj(test, cache);

	refcount_set(&obj->ref, INT_MAX);
	expect_splat_begin();
	refcache_obj_get(obj);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), (unsigned int)REFCOUNT_SATURATED);
	/* Saturated for good: a put neither frees nor unsaturates. */
	refcache_obj_put(obj);
	expect_splat_end();
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), (unsigned int)REFCOUNT_SATURATED);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
}

static void obj_underflow_warns_not_frees(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct refcache_cache *cache = new_cache(test, heap, 8, 0, 0, NULL);
	struct refcache_obj *obj = new_obj(test, cache);

	/* As if one put too many had already happened. */
	refcount_set(&obj->ref, 0);
	expect_splat_begin();
	refcache_obj_put(obj);
	expect_splat_end();
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), (unsigned int)REFCOUNT_SATURATED);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
}

static void obj_get_from_zero_warns(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct refcache_cache *cache = new_cache(test, heap, 8, 0, 0, NULL);
	struct refcache_obj *obj = new_obj(test, cache);

	refcount_set(&obj->ref, 0);
	KUNIT_EXPECT_FALSE(test, get_unless_zero(obj));
	expect_splat_begin();
	refcache_obj_get(obj);
	expect_splat_end();
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), (unsigned int)REFCOUNT_SATURATED);
}

static void obj_slots_store_load(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct refcache_cache *cache = new_cache(test, heap, 0, 2, REFCACHE_CACHE_TRACKED, NULL);
	struct refcache_obj *a = new_obj(test, cache), *b = new_obj(test, cache), *got;

	KUNIT_EXPECT_EQ(test, refcache_obj_store(a, 0, b), 0);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(b), 2U);
	/* Storing what the slot holds keeps the count: new ref before old drop. */
	KUNIT_EXPECT_EQ(test, refcache_obj_store(a, 0, b), 0);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(b), 2U);
	KUNIT_EXPECT_EQ(test, refcache_obj_store(a, 2, b), -EINVAL);
	KUNIT_EXPECT_PTR_EQ(test, refcache_obj_load(a, 1), NULL);
	KUNIT_EXPECT_TRUE(test, IS_ERR(refcache_obj_load(a, 2)));
	got = refcache_obj_load(a, 0);
	KUNIT_EXPECT_PTR_EQ(test, got, b);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(b), 3U);
	refcache_obj_put(got);
	refcache_obj_put(b);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 2ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_store(a, 0, NULL), 0);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	refcache_obj_put(a);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

static void obj_store_other_heap_refused(struct kunit *test)
{
	struct refcache_heap *h1 = new_heap(test), *h2 = new_heap(test);
	struct refcache_obj *a = new_obj(test, new_cache(test, h1, 0, 1, 0, NULL));
	struct refcache_obj *b = new_obj(test, new_cache(test, h2, 0, 1, 0, NULL));

	KUNIT_EXPECT_EQ(test, refcache_obj_store(a, 0, b), -EXDEV);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(b), 1U);
	refcache_obj_put(a);
	refcache_obj_put(b);
}

/* Build a chain of @n objects under one lock hold; return its head. */
static struct refcache_obj *build_chain(struct kunit *test, struct refcache_cache *cache,
					unsigned long n)
{
	struct refcache_heap *heap = cache->heap;
	struct refcache_obj *head, *tail, *obj;
	unsigned long i;

	head = new_obj(test, cache);
	tail = head;
	refcache_heap_lock(heap);
	for (i = 1; i < n; i++) {
		obj = refcache_obj_new_locked(cache, GFP_KERNEL);
		if (IS_ERR(obj))
			break;
		refcache_obj_store_locked(tail, 0, obj);
		refcache_obj_put_locked(heap, obj);	/* the slot keeps it */
		tail = obj;
		if (!(i & 4095)) {
			refcache_heap_unlock(heap);
			cond_resched();
			refcache_heap_lock(heap);
		}
	}
	refcache_heap_unlock(heap);
	KUNIT_EXPECT_EQ(test, i, n);
	return head;
}

static void obj_release_cascade(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct refcache_cache *cache = new_cache(test, heap, 16, 1, 0, NULL);
	struct refcache_obj *head = build_chain(test, cache, 1000), *second;

	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1000ULL);
	/* Keep the second link: the cascade must stop there. */
	second = refcache_obj_load(head, 0);
	refcache_obj_put(head);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 999ULL);
	refcache_obj_put(second);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	KUNIT_EXPECT_EQ(test, cache->active, 0ULL);
	KUNIT_EXPECT_EQ(test, cache->total, 1000ULL);
}

/*
 * Ten million links: released iteratively, in constant stack.  One
 * million under KASAN, where each object costs about 14 us and ten
 * million took over two minutes: any chain past a few hundred links
 * would overflow a recursive release's stack.
 */
static void obj_release_ten_million_chain(struct kunit *test)
{
	const unsigned long n = IS_ENABLED(CONFIG_KASAN) ? 1000 * 1000 : 10 * 1000 * 1000;
	struct refcache_heap *heap = new_heap(test);
	struct refcache_cache *cache = new_cache(test, heap, 0, 1, 0, NULL);
	struct refcache_obj *head = build_chain(test, cache, n);

	KUNIT_ASSERT_EQ(test, heap_objects(heap), (u64)n);
	refcache_obj_put(head);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

static void obj_limits(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct refcache_cache *cache = new_cache(test, heap, 100, 0, 0, NULL);
	struct refcache_obj *a = new_obj(test, cache), *b;

	struct refcache_cache *big = new_cache(test, heap, 1000, 0, 0, NULL);
	u64 before;

	heap->objs.max_objects = 1;
	KUNIT_EXPECT_EQ(test, PTR_ERR(refcache_obj_alloc(cache)), -EDQUOT);
	heap->objs.max_objects = 10;
	/* A large object is charged on its own: no room for one more byte. */
	before = atomic64_read(&heap->charged);
	heap->objs.max_bytes = before;
	KUNIT_EXPECT_EQ(test, PTR_ERR(refcache_obj_alloc(big)), -EDQUOT);
	KUNIT_EXPECT_EQ(test, atomic64_read(&heap->charged), (s64)before);
	heap->objs.max_bytes = 1 << 30;
	b = new_obj(test, big);
	KUNIT_EXPECT_GT(test, atomic64_read(&heap->charged), (s64)before + 1000);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 2ULL);
	refcache_obj_put(a);
	refcache_obj_put(b);
	KUNIT_EXPECT_EQ(test, atomic64_read(&heap->charged), (s64)before);
}

static void cache_destroy_with_live_objects_refused(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct refcache_cache *cache = new_cache(test, heap, 8, 0, 0, NULL);
	struct refcache_obj *obj = new_obj(test, cache);

	KUNIT_EXPECT_EQ(test, refcache_cache_destroy(cache), -EBUSY);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 1U);
	refcache_obj_put(obj);
	KUNIT_EXPECT_EQ(test, refcache_cache_destroy(cache), 0);
}

static void cache_create_bad_arguments(struct kunit *test)
{
	static const char long_name[] = "a name that is much too long for a cache";
	struct refcache_heap *heap = new_heap(test);

	KUNIT_EXPECT_TRUE(test, IS_ERR(refcache_cache_create(heap, "", 8, 0, 0, NULL)));
	KUNIT_EXPECT_TRUE(test, IS_ERR(refcache_cache_create(heap, "x", REFCACHE_MAX_PAYLOAD + 1,
							     0, 0, NULL)));
	KUNIT_EXPECT_TRUE(test, IS_ERR(refcache_cache_create(heap, "x", 8,
							     REFCACHE_MAX_SLOTS + 1, 0, NULL)));
	KUNIT_EXPECT_TRUE(test, IS_ERR(refcache_cache_create(heap, "x", 8, 0, BIT(7), NULL)));
	KUNIT_EXPECT_TRUE(test, IS_ERR(refcache_cache_create(heap, long_name, 8, 0, 0, NULL)));
	/* Names are one /proc field each: printable, no spaces. */
	KUNIT_EXPECT_EQ(test, PTR_ERR(refcache_cache_create(heap, "a\n1 1 sshd", 8, 0, 0, NULL)),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(refcache_cache_create(heap, "a b", 8, 0, 0, NULL)), -EINVAL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(refcache_cache_create(heap, "\x7f", 8, 0, 0, NULL)), -EINVAL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(refcache_cache_create(heap, "\xc3\xa9", 8, 0, 0, NULL)),
			-EINVAL);
	KUNIT_EXPECT_FALSE(test, IS_ERR(refcache_cache_create(heap, "ok-name_1.2:x", 8, 0, 0,
							      NULL)));
}

/*
 * Kernel code must put its objects before its last heap reference; one
 * that does not gets a warning, and the heap is leaked until unload
 * rather than freed under the holder, whose late put is then ignored.
 */
static void kapi_heap_put_with_held_object_warns(struct kunit *test)
{
	struct refcache_heap *heap = refcache_heap_create();
	struct refcache_cache *cache;
	struct refcache_obj *a, *b;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, heap);
	cache = refcache_cache_create(heap, "held", 8, 1, 0, NULL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, cache);
	a = refcache_obj_alloc(cache);
	b = refcache_obj_alloc(cache);
	KUNIT_ASSERT_FALSE(test, IS_ERR(a) || IS_ERR(b));
	/* b is held by a's slot only: that is no outside reference. */
	KUNIT_ASSERT_EQ(test, refcache_obj_store(a, 0, b), 0);
	refcache_obj_put(b);
	expect_splat_begin();
	refcache_heap_put(heap);
	expect_splat_end();
	/* Still readable (KASAN would say otherwise), and the put is ignored. */
	KUNIT_EXPECT_PTR_EQ(test, a->slots[0], b);
	refcache_obj_put(a);
}

/* A kernel type keeping its reference in the payload, with callbacks. */
struct kobj_payload {
	struct refcache_obj *child;
	int *clears;
	int *releases;
};

static void kobj_traverse(struct refcache_obj *obj, refcache_visit_t visit, void *arg)
{
	struct kobj_payload *p = refcache_obj_payload(obj);

	if (p->child)
		visit(p->child, arg);
}

static void kobj_clear(struct refcache_obj *obj)
{
	struct kobj_payload *p = refcache_obj_payload(obj);

	(*p->clears)++;
	refcache_obj_put(p->child);
	p->child = NULL;
}

static void kobj_release(struct refcache_obj *obj)
{
	struct kobj_payload *p = refcache_obj_payload(obj);

	(*p->releases)++;
}

static const struct refcache_type_ops kobj_ops = {
	.traverse = kobj_traverse,
	.clear = kobj_clear,
	.release = kobj_release,
};

static void kapi_callbacks_once(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct refcache_cache *cache = new_cache(test, heap, sizeof(struct kobj_payload), 0,
						 REFCACHE_CACHE_TRACKED, &kobj_ops);
	int clears[4] = {}, releases[4] = {};
	struct refcache_obj *objs[4];
	int i;

	/* objs[0] -> objs[1] -> objs[2] -> objs[3], through the payload. */
	for (i = 0; i < 4; i++) {
		struct kobj_payload *p;

		objs[i] = new_obj(test, cache);
		p = refcache_obj_payload(objs[i]);
		p->clears = &clears[i];
		p->releases = &releases[i];
	}
	for (i = 0; i < 3; i++) {
		struct kobj_payload *p = refcache_obj_payload(objs[i]);

		p->child = refcache_obj_get(objs[i + 1]);
	}
	refcache_obj_put(objs[0]);
	KUNIT_EXPECT_EQ(test, clears[0], 1);
	KUNIT_EXPECT_EQ(test, releases[0], 1);
	KUNIT_EXPECT_EQ(test, releases[1], 0);
	/* objs[1..3] were owned by the test and the chain: one put each now. */
	for (i = 1; i < 4; i++) {
		KUNIT_EXPECT_EQ(test, releases[i], 0);
		refcache_obj_put(objs[i]);
	}
	for (i = 0; i < 4; i++) {
		KUNIT_EXPECT_EQ(test, clears[i], 1);
		KUNIT_EXPECT_EQ(test, releases[i], 1);
	}
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/* A kernel-type cycle still alive at heap teardown: callbacks once each. */
static void kapi_teardown_releases_cycles_once(struct kunit *test)
{
	struct refcache_heap *heap = refcache_heap_create();
	struct refcache_cache *cache;
	int clears[2] = {}, releases[2] = {};
	struct refcache_obj *a, *b;
	struct kobj_payload *pa, *pb;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, heap);
	/* Past 512 bytes: the large path frees at once, so KASAN sees any UAF. */
	cache = refcache_cache_create(heap, "cycle", 1024, 0, 0, &kobj_ops);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, cache);
	a = refcache_obj_alloc(cache);
	b = refcache_obj_alloc(cache);
	KUNIT_ASSERT_FALSE(test, IS_ERR(a) || IS_ERR(b));
	pa = refcache_obj_payload(a);
	pb = refcache_obj_payload(b);
	pa->clears = &clears[0];
	pa->releases = &releases[0];
	pb->clears = &clears[1];
	pb->releases = &releases[1];
	pa->child = refcache_obj_get(b);
	pb->child = refcache_obj_get(a);
	refcache_obj_put(a);
	refcache_obj_put(b);
	KUNIT_EXPECT_EQ(test, releases[0] + releases[1], 0);
	refcache_heap_put(heap);
	KUNIT_EXPECT_EQ(test, clears[0], 1);
	KUNIT_EXPECT_EQ(test, clears[1], 1);
	KUNIT_EXPECT_EQ(test, releases[0], 1);
	KUNIT_EXPECT_EQ(test, releases[1], 1);
}

static struct kunit_case refcache_object_cases[] = {
	KUNIT_CASE(obj_alloc_zeroed_one_ref),
	KUNIT_CASE(obj_get_put_counts),
	KUNIT_CASE(obj_refcount_saturates),
	KUNIT_CASE(obj_underflow_warns_not_frees),
	KUNIT_CASE(obj_get_from_zero_warns),
	KUNIT_CASE(obj_slots_store_load),
	KUNIT_CASE(obj_store_other_heap_refused),
	KUNIT_CASE(obj_release_cascade),
	KUNIT_CASE_SLOW(obj_release_ten_million_chain),
	KUNIT_CASE(obj_limits),
	KUNIT_CASE(cache_destroy_with_live_objects_refused),
	KUNIT_CASE(cache_create_bad_arguments),
	KUNIT_CASE(kapi_callbacks_once),
	KUNIT_CASE(kapi_teardown_releases_cycles_once),
	KUNIT_CASE(kapi_heap_put_with_held_object_warns),
	{}
};

static struct kunit_suite refcache_object_suite = {
	.name = "refcache_object",
	.test_cases = refcache_object_cases,
};

/* --- handles --------------------------------------------------------- */

struct handle_ctx {
	struct refcache_heap *heap;
	struct refcache_cache *cache;
};

static void handle_ctx_init(struct kunit *test, struct handle_ctx *c)
{
	c->heap = new_heap(test);
	c->cache = new_cache(test, c->heap, 8, 1, 0, NULL);
}

static void handle_strong_owns_reference(struct kunit *test)
{
	struct handle_ctx c;
	struct refcache_obj *obj, *found;
	u64 id;

	handle_ctx_init(test, &c);
	obj = new_obj(test, c.cache);
	refcache_heap_lock(c.heap);
	KUNIT_EXPECT_EQ(test, refcache_handle_new_locked(c.heap, obj, false, &id), 0);
	KUNIT_EXPECT_NE(test, id, 0ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 2U);
	KUNIT_EXPECT_EQ(test, refcache_handle_lookup_locked(c.heap, id, false, &found), 0);
	KUNIT_EXPECT_PTR_EQ(test, found, obj);
	refcache_obj_put_locked(c.heap, obj);
	KUNIT_EXPECT_EQ(test, c.heap->objs.objects, 1ULL);
	KUNIT_EXPECT_EQ(test, refcache_handle_close_locked(c.heap, id), 0);
	KUNIT_EXPECT_EQ(test, c.heap->objs.objects, 0ULL);
	KUNIT_EXPECT_EQ(test, refcache_handle_close_locked(c.heap, id), -EBADF);
	KUNIT_EXPECT_EQ(test, refcache_handle_lookup_locked(c.heap, id, false, &found), -EBADF);
	refcache_heap_unlock(c.heap);
}

/* A closed id stays dead even when its table index is reused. */
static void handle_generation_detects_stale(struct kunit *test)
{
	struct handle_ctx c;
	struct refcache_obj *obj, *found;
	u64 id1, id2;

	handle_ctx_init(test, &c);
	obj = new_obj(test, c.cache);
	refcache_heap_lock(c.heap);
	KUNIT_ASSERT_EQ(test, refcache_handle_new_locked(c.heap, obj, false, &id1), 0);
	KUNIT_ASSERT_EQ(test, refcache_handle_close_locked(c.heap, id1), 0);
	KUNIT_ASSERT_EQ(test, refcache_handle_new_locked(c.heap, obj, false, &id2), 0);
	KUNIT_EXPECT_EQ(test, id1 & 0xffffff, id2 & 0xffffff);
	KUNIT_EXPECT_NE(test, id1, id2);
	KUNIT_EXPECT_EQ(test, refcache_handle_lookup_locked(c.heap, id1, false, &found), -EBADF);
	KUNIT_EXPECT_EQ(test, refcache_handle_lookup_locked(c.heap, 0, false, &found), -EBADF);
	KUNIT_EXPECT_EQ(test, refcache_handle_close_locked(c.heap, id2), 0);
	refcache_obj_put_locked(c.heap, obj);
	refcache_heap_unlock(c.heap);
}

/*
 * Generations never wrap: a slot at the last generation is retired, so
 * no id comes back, however many handles the heap makes.
 */
static void handle_generation_retires_slot(struct kunit *test)
{
	const u32 last = (1U << 24) - 1;
	struct refcache_obj *obj, *found;
	struct handle_ctx c;
	u64 id1, id2, id3;
	u32 index;

	handle_ctx_init(test, &c);
	obj = new_obj(test, c.cache);
	refcache_heap_lock(c.heap);
	KUNIT_ASSERT_EQ(test, refcache_handle_new_locked(c.heap, obj, false, &id1), 0);
	index = id1 & 0xffffff;
	KUNIT_ASSERT_EQ(test, refcache_handle_close_locked(c.heap, id1), 0);
	/* As if the slot had served 2^24 - 2 handles already. */
	KUNIT_ASSERT_EQ(test, refcache_handle_age_slot(c.heap, index, last - 1), 0);
	KUNIT_ASSERT_EQ(test, refcache_handle_new_locked(c.heap, obj, false, &id2), 0);
	KUNIT_EXPECT_EQ(test, id2 & 0xffffff, (u64)index);
	KUNIT_EXPECT_EQ(test, (id2 >> 24) & 0xffffff, (u64)last);
	KUNIT_EXPECT_EQ(test, id2 >> 48, id1 >> 48);
	KUNIT_ASSERT_EQ(test, refcache_handle_close_locked(c.heap, id2), 0);
	/* Retired: the next handle takes another slot, and neither id lives. */
	KUNIT_ASSERT_EQ(test, refcache_handle_new_locked(c.heap, obj, false, &id3), 0);
	KUNIT_EXPECT_NE(test, id3 & 0xffffff, (u64)index);
	KUNIT_EXPECT_EQ(test, refcache_handle_lookup_locked(c.heap, id1, false, &found), -EBADF);
	KUNIT_EXPECT_EQ(test, refcache_handle_lookup_locked(c.heap, id2, false, &found), -EBADF);
	KUNIT_EXPECT_EQ(test, refcache_handle_age_slot(c.heap, index, 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, refcache_handle_close_locked(c.heap, id3), 0);
	refcache_obj_put_locked(c.heap, obj);
	refcache_heap_unlock(c.heap);
}

static void handle_foreign_heap_refused(struct kunit *test)
{
	struct handle_ctx a, b;
	struct refcache_obj *obj, *found;
	u64 ida, idb;

	handle_ctx_init(test, &a);
	handle_ctx_init(test, &b);
	obj = new_obj(test, a.cache);
	refcache_heap_lock(a.heap);
	KUNIT_ASSERT_EQ(test, refcache_handle_new_locked(a.heap, obj, false, &ida), 0);
	refcache_obj_put_locked(a.heap, obj);
	refcache_heap_unlock(a.heap);
	obj = new_obj(test, b.cache);
	refcache_heap_lock(b.heap);
	KUNIT_ASSERT_EQ(test, refcache_handle_new_locked(b.heap, obj, false, &idb), 0);
	refcache_obj_put_locked(b.heap, obj);
	/* Same index in both tables; the heap tag tells them apart. */
	KUNIT_EXPECT_EQ(test, ida & 0xffffffffffffULL, idb & 0xffffffffffffULL);
	KUNIT_EXPECT_EQ(test, refcache_handle_lookup_locked(b.heap, ida, false, &found), -EBADF);
	KUNIT_EXPECT_EQ(test, refcache_handle_close_locked(b.heap, ida), -EBADF);
	refcache_heap_unlock(b.heap);
}

static void handle_weak_cleared_on_death(struct kunit *test)
{
	struct handle_ctx c;
	struct refcache_obj *obj, *found;
	u64 strong, weak;

	handle_ctx_init(test, &c);
	obj = new_obj(test, c.cache);
	refcache_heap_lock(c.heap);
	KUNIT_ASSERT_EQ(test, refcache_handle_new_locked(c.heap, obj, true, &weak), 0);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 1U);
	KUNIT_EXPECT_EQ(test, refcache_handle_lookup_locked(c.heap, weak, true, &found), 0);
	KUNIT_EXPECT_PTR_EQ(test, found, obj);
	/* Kinds are not interchangeable. */
	KUNIT_EXPECT_EQ(test, refcache_handle_lookup_locked(c.heap, weak, false, &found), -EINVAL);
	KUNIT_ASSERT_EQ(test, refcache_handle_new_locked(c.heap, obj, false, &strong), 0);
	KUNIT_EXPECT_EQ(test, refcache_handle_lookup_locked(c.heap, strong, true, &found), -EINVAL);
	refcache_obj_put_locked(c.heap, obj);
	KUNIT_EXPECT_EQ(test, refcache_handle_close_locked(c.heap, strong), 0);
	KUNIT_EXPECT_EQ(test, c.heap->objs.objects, 0ULL);
	/* The weak handle is still open but points at nothing. */
	KUNIT_EXPECT_EQ(test, refcache_handle_lookup_locked(c.heap, weak, true, &found), 0);
	KUNIT_EXPECT_NULL(test, found);
	KUNIT_EXPECT_EQ(test, refcache_handle_close_locked(c.heap, weak), 0);
	KUNIT_EXPECT_EQ(test, c.heap->objs.nhandles, 0ULL);
	refcache_heap_unlock(c.heap);
}

/* Putting the heap closes its handles and frees what they kept alive. */
static void handle_heap_teardown_frees_all(struct kunit *test)
{
	struct refcache_heap *heap = refcache_heap_create();
	struct refcache_cache *cache;
	struct refcache_obj *a, *b;
	u64 id;
	int i;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, heap);
	cache = refcache_cache_create(heap, "teardown", 32, 1, REFCACHE_CACHE_TRACKED, NULL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, cache);
	for (i = 0; i < 100; i++) {
		a = refcache_obj_alloc(cache);
		b = refcache_obj_alloc(cache);
		KUNIT_ASSERT_FALSE(test, IS_ERR(a) || IS_ERR(b));
		/* A two-object cycle, and a strong and a weak handle to it. */
		refcache_obj_store(a, 0, b);
		refcache_obj_store(b, 0, a);
		refcache_heap_lock(heap);
		KUNIT_EXPECT_EQ(test, refcache_handle_new_locked(heap, a, false, &id), 0);
		KUNIT_EXPECT_EQ(test, refcache_handle_new_locked(heap, b, true, &id), 0);
		refcache_heap_unlock(heap);
		refcache_obj_put(a);
		refcache_obj_put(b);
	}
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 200ULL);
	/* kmemleak and KASAN see anything this leaves behind. */
	refcache_heap_put(heap);
}

static struct kunit_case refcache_handle_cases[] = {
	KUNIT_CASE(handle_strong_owns_reference),
	KUNIT_CASE(handle_generation_detects_stale),
	KUNIT_CASE(handle_generation_retires_slot),
	KUNIT_CASE(handle_foreign_heap_refused),
	KUNIT_CASE(handle_weak_cleared_on_death),
	KUNIT_CASE(handle_heap_teardown_frees_all),
	{}
};

static struct kunit_suite refcache_handle_suite = {
	.name = "refcache_handle",
	.test_cases = refcache_handle_cases,
};

kunit_test_suites(&refcache_object_suite, &refcache_handle_suite);

MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
