// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite refcache_heap: heap creation, references and destruction
 * through the in-kernel API, checked against the module-wide counters.
 */
#include <kunit/test.h>
#include <linux/err.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "compat.h"
#include "refcache.h"

KUNIT_DEFINE_ACTION_WRAPPER(heap_put_action, refcache_heap_put,
			    struct refcache_heap *);

/* Create a heap that the test framework puts when the case ends. */
static struct refcache_heap *test_heap(struct kunit *test)
{
	struct refcache_heap *heap = refcache_heap_create();

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, heap);
	KUNIT_ASSERT_EQ(test, 0,
			kunit_add_action_or_reset(test, heap_put_action, heap));
	return heap;
}

static void heap_create_counts(struct kunit *test)
{
	struct refcache_stats before, after;
	struct refcache_heap *heap;

	refcache_stats_read(&before);
	heap = refcache_heap_create();
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, heap);
	refcache_stats_read(&after);
	KUNIT_EXPECT_EQ(test, after.heaps_open, before.heaps_open + 1);
	KUNIT_EXPECT_EQ(test, after.heaps_created, before.heaps_created + 1);
	KUNIT_EXPECT_EQ(test, after.heaps_destroyed, before.heaps_destroyed);

	refcache_heap_put(heap);
	refcache_stats_read(&after);
	KUNIT_EXPECT_EQ(test, after.heaps_open, before.heaps_open);
	KUNIT_EXPECT_EQ(test, after.heaps_destroyed, before.heaps_destroyed + 1);
}

static void heap_ids_unique_increasing(struct kunit *test)
{
	u64 prev = 0;
	int i;

	for (i = 0; i < 16; i++) {
		struct refcache_heap *heap = test_heap(test);

		KUNIT_EXPECT_GT(test, refcache_heap_id(heap), prev);
		prev = refcache_heap_id(heap);
	}
}

static void heap_owner_is_creator(struct kunit *test)
{
	struct refcache_heap *heap = test_heap(test);

	KUNIT_EXPECT_EQ(test, refcache_heap_owner(heap), task_tgid_vnr(current));
}

static void heap_lives_until_last_put(struct kunit *test)
{
	struct refcache_stats before, mid, after;
	struct refcache_heap *heap;

	refcache_stats_read(&before);
	heap = refcache_heap_create();
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, heap);
	KUNIT_EXPECT_PTR_EQ(test, refcache_heap_get(heap), heap);

	refcache_heap_put(heap);
	refcache_stats_read(&mid);
	KUNIT_EXPECT_EQ(test, mid.heaps_open, before.heaps_open + 1);
	KUNIT_EXPECT_EQ(test, mid.heaps_destroyed, before.heaps_destroyed);

	refcache_heap_put(heap);
	refcache_stats_read(&after);
	KUNIT_EXPECT_EQ(test, after.heaps_open, before.heaps_open);
	KUNIT_EXPECT_EQ(test, after.heaps_destroyed, before.heaps_destroyed + 1);
}

static void heap_put_null_is_noop(struct kunit *test)
{
	struct refcache_stats before, after;

	refcache_stats_read(&before);
	refcache_heap_put(NULL);
	refcache_stats_read(&after);
	KUNIT_EXPECT_EQ(test, after.heaps_destroyed, before.heaps_destroyed);
}

/* Many heaps created and destroyed in a random order leave nothing behind. */
static void heap_many_random_order(struct kunit *test)
{
	const int n = 256;
	struct refcache_heap **heaps;
	struct refcache_stats before, after;
	int i;

	heaps = kunit_kcalloc(test, n, sizeof(*heaps), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, heaps);
	refcache_stats_read(&before);
	for (i = 0; i < n; i++) {
		heaps[i] = refcache_heap_create();
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, heaps[i]);
	}
	refcache_stats_read(&after);
	KUNIT_EXPECT_EQ(test, after.heaps_open, before.heaps_open + n);

	for (i = n - 1; i > 0; i--) {
		int j = get_random_u32_below(i + 1);

		swap(heaps[i], heaps[j]);
	}
	for (i = 0; i < n; i++)
		refcache_heap_put(heaps[i]);
	refcache_stats_read(&after);
	KUNIT_EXPECT_EQ(test, after.heaps_open, before.heaps_open);
	KUNIT_EXPECT_EQ(test, after.heaps_created - before.heaps_created, (u64)n);
	KUNIT_EXPECT_EQ(test, after.heaps_destroyed - before.heaps_destroyed, (u64)n);
}

static struct kunit_case refcache_heap_cases[] = {
	KUNIT_CASE(heap_create_counts),
	KUNIT_CASE(heap_ids_unique_increasing),
	KUNIT_CASE(heap_owner_is_creator),
	KUNIT_CASE(heap_lives_until_last_put),
	KUNIT_CASE(heap_put_null_is_noop),
	KUNIT_CASE(heap_many_random_order),
	{}
};

static struct kunit_suite refcache_heap_suite = {
	.name = "refcache_heap",
	.test_cases = refcache_heap_cases,
};

kunit_test_suite(refcache_heap_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit tests for refcache");
MODULE_IMPORT_NS(REFCACHE_NS);
