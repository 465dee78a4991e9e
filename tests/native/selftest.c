// SPDX-License-Identifier: GPL-2.0
/*
 * The runner's own guard (refcache_native --selftest): each case here
 * must end the way its name says, or a broken shim could let every real
 * case pass.  A failed expectation, an assertion, an unannounced WARN,
 * sleeping in atomic context and (under TSan) a data race must each fail
 * a case; an announced WARN must not.
 */
#include <kunit/test.h>

#include "kunit_util.h"

static void fails_on_expect(struct kunit *test)
{
	int two = 2;

	KUNIT_EXPECT_EQ(test, 1, two);
}

static int after_assert;

static void fails_on_assert(struct kunit *test)
{
	KUNIT_ASSERT_TRUE(test, false);
	after_assert = 1;	/* never reached */
}

static void fails_on_warn(struct kunit *test)
{
	WARN_ON(1);
}

static void passes_with_announced_warn(struct kunit *test)
{
	expect_splat_begin();
	WARN_ON(1);
	expect_splat_end();
	KUNIT_EXPECT_EQ(test, after_assert, 0);
}

static void fails_on_sleep_in_atomic(struct kunit *test)
{
	preempt_disable();
	msleep(1);
	preempt_enable();
}

static int racy;

static void race_a_little(void)
{
	int i;

	for (i = 0; i < 1000; i++) {
		racy++;
		if (!(i % 100))
			cond_resched();
	}
}

static int racer(void *arg)
{
	complete(arg);
	race_a_little();
	return 0;
}

static void fails_on_race(struct kunit *test)
{
#ifdef __SANITIZE_THREAD__
	DECLARE_COMPLETION_ONSTACK(started);
	struct task_struct *t = kthread_create(racer, &started, "racer");

	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	get_task_struct(t);
	wake_up_process(t);
	wait_for_completion(&started);
	race_a_little();
	kthread_stop(t);
	put_task_struct(t);
#else
	KUNIT_FAIL(test, "no TSan in this build: a failure stands in for the race");
#endif
}

static void passes_with_real_code(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct refcache_cache *cache = new_cache(test, heap, 16, 0, 0, NULL);
	struct refcache_obj *obj = new_obj(test, cache);

	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 1U);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	refcache_obj_put(obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

static struct kunit_case selftest_cases[] = {
	KUNIT_CASE(fails_on_expect),
	KUNIT_CASE(fails_on_assert),
	KUNIT_CASE(fails_on_warn),
	KUNIT_CASE(passes_with_announced_warn),
	KUNIT_CASE(fails_on_sleep_in_atomic),
	KUNIT_CASE(fails_on_race),
	KUNIT_CASE(passes_with_real_code),
	{}
};

struct kunit_suite native_selftest_suite = {
	.name = "native_selftest",
	.test_cases = selftest_cases,
};
