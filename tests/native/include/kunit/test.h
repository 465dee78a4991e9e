/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit natively: the part of include/kunit/test.h that tests/kunit/
 * uses.  A case runs in a thread of its own, as KUnit runs it in a
 * kthread; a failed assertion ends that thread's case (KUnit's
 * kunit_try_catch), and the deferred actions run afterwards in another
 * thread, as KUnit's cleanup does.  The runner is tests/native/kunit.c.
 */
#ifndef _NATIVE_KUNIT_TEST_H
#define _NATIVE_KUNIT_TEST_H

#include <native/kernel.h>

#define KUNIT_PARAM_DESC_SIZE	128

enum kunit_speed { KUNIT_SPEED_UNSET, KUNIT_SPEED_VERY_SLOW, KUNIT_SPEED_SLOW,
		   KUNIT_SPEED_NORMAL };

struct kunit;
typedef void (kunit_action_t)(void *);

struct kunit_case {
	void (*run_case)(struct kunit *test);
	const char *name;
	const void *(*generate_params)(const void *prev, char *desc);
	enum kunit_speed speed;
};

struct kunit_suite {
	const char name[256];
	int (*suite_init)(struct kunit_suite *suite);
	void (*suite_exit)(struct kunit_suite *suite);
	int (*init)(struct kunit *test);
	void (*exit)(struct kunit *test);
	struct kunit_case *test_cases;
};

struct native_kunit_action;

struct kunit {
	const char *name;
	const void *param_value;
	int param_index;
	atomic_t failures;
	bool skipped;
	char skip_reason[256];
	struct native_kunit_action *actions;
	pthread_mutex_t lock;
	struct task_struct *task;	/* the case's thread */
	jmp_buf *abort;
};

#define KUNIT_CASE(fn)			{ .run_case = fn, .name = #fn }
#define KUNIT_CASE_SLOW(fn)		{ .run_case = fn, .name = #fn, .speed = KUNIT_SPEED_SLOW }
#define KUNIT_CASE_PARAM(fn, gen)	{ .run_case = fn, .name = #fn, .generate_params = gen }

#define KUNIT_ARRAY_PARAM(name, array, get_desc)			\
	static const void *name##_gen_params(const void *prev, char *desc) \
	{								\
		__typeof__((array)[0]) *__next = prev ?			\
			((__typeof__(__next))prev) + 1 : (array);	\
		if (__next - (array) < (long)ARRAY_SIZE((array))) {	\
			void (*__get_desc)(__typeof__(__next), char *) = get_desc; \
			if (__get_desc)					\
				__get_desc(__next, desc);		\
			return __next;					\
		}							\
		return NULL;						\
	}

void native_kunit_register(struct kunit_suite **suites, int n);
#define __native_kunit_suites(id, ...)					\
	static struct kunit_suite *native_suites_##id[] = { __VA_ARGS__ }; \
	static void __attribute__((constructor)) native_suites_reg_##id(void) \
	{								\
		native_kunit_register(native_suites_##id,		\
				      ARRAY_SIZE(native_suites_##id));	\
	}
#define __native_kunit_suites_id(id, ...)	__native_kunit_suites(id, __VA_ARGS__)
#define kunit_test_suites(...)	__native_kunit_suites_id(__COUNTER__, __VA_ARGS__)
#define kunit_test_suite(s)	kunit_test_suites(&(s))

/* Deferred actions and managed memory. */
int kunit_add_action(struct kunit *test, kunit_action_t *action, void *ctx);
int kunit_add_action_or_reset(struct kunit *test, kunit_action_t *action, void *ctx);
void kunit_release_action(struct kunit *test, kunit_action_t *action, void *ctx);
void kunit_remove_action(struct kunit *test, kunit_action_t *action, void *ctx);
#define KUNIT_DEFINE_ACTION_WRAPPER(wrapper, orig, arg_type)		\
	static void wrapper(void *in)					\
	{								\
		orig((arg_type)in);					\
	}
void *kunit_kmalloc_array(struct kunit *test, size_t n, size_t size, gfp_t gfp);
#define kunit_kmalloc(test, s, g)	kunit_kmalloc_array(test, 1, s, g)
#define kunit_kzalloc(test, s, g)	kunit_kmalloc_array(test, 1, s, (g) | __GFP_ZERO)
#define kunit_kcalloc(test, n, s, g)	kunit_kmalloc_array(test, n, s, (g) | __GFP_ZERO)
void kunit_kfree(struct kunit *test, const void *p);

__attribute__((format(printf, 3, 4)))
void native_kunit_log(struct kunit *test, int level, const char *fmt, ...);
#define kunit_info(test, fmt, ...)	native_kunit_log(test, 6, fmt, ##__VA_ARGS__)
#define kunit_warn(test, fmt, ...)	native_kunit_log(test, 4, fmt, ##__VA_ARGS__)
#define kunit_err(test, fmt, ...)	native_kunit_log(test, 3, fmt, ##__VA_ARGS__)
#define kunit_log(lvl, test, fmt, ...)	native_kunit_log(test, 6, fmt, ##__VA_ARGS__)

__attribute__((format(printf, 5, 6)))
void native_kunit_fail(struct kunit *test, bool assert, const char *file, int line,
		       const char *fmt, ...);
__attribute__((noreturn)) void native_kunit_abort(struct kunit *test);
void native_kunit_skip(struct kunit *test, const char *fmt, ...);
#define kunit_mark_skipped(test, fmt, ...)	native_kunit_skip(test, fmt, ##__VA_ARGS__)
#define kunit_skip(test, fmt, ...) do {					\
	native_kunit_skip(test, fmt, ##__VA_ARGS__);			\
	native_kunit_abort(test);					\
} while (0)

#define __NK_FAIL(test, assert, ...) do {				\
	native_kunit_fail(test, assert, __FILE__, __LINE__, __VA_ARGS__); \
	if (assert)							\
		native_kunit_abort(test);				\
} while (0)

#define KUNIT_FAIL(test, fmt, ...) \
	native_kunit_fail(test, false, __FILE__, __LINE__, fmt, ##__VA_ARGS__)
#define KUNIT_SUCCEED(test)	do { } while (0)

#define __NK_NOTE(test, ...) __VA_OPT__(native_kunit_log(test, 3, "    " __VA_ARGS__);)

#define __NK_BOOL(test, assert, cond, want, ...) do {			\
	if ((bool)(cond) != (bool)(want)) {				\
		native_kunit_fail(test, false, __FILE__, __LINE__,	\
				  "Expected %s to be %s", #cond,	\
				  (want) ? "true" : "false");		\
		__NK_NOTE(test, __VA_ARGS__)				\
		if (assert)						\
			native_kunit_abort(test);			\
	}								\
} while (0)

/* Both sides once, each in its own type, compared as KUnit compares them. */
#define __NK_BINARY(test, assert, left, op, right, ...) do {		\
	__typeof__(left) __l = (left);					\
	__typeof__(right) __r = (right);				\
	if (!(__l op __r)) {						\
		native_kunit_fail(test, false, __FILE__, __LINE__,	\
			  "Expected %s %s %s, but %s == %lld (0x%llx), %s == %lld (0x%llx)", \
			  #left, #op, #right,				\
			  #left, (long long)__l, (unsigned long long)__l, \
			  #right, (long long)__r, (unsigned long long)__r); \
		__NK_NOTE(test, __VA_ARGS__)				\
		if (assert)						\
			native_kunit_abort(test);			\
	}								\
} while (0)

#define __NK_PTR(test, assert, left, op, right, ...) do {		\
	const void *__l = (left), *__r = (right);			\
	if (!(__l op __r)) {						\
		native_kunit_fail(test, false, __FILE__, __LINE__,	\
			  "Expected %s %s %s, but %s == %p, %s == %p",	\
			  #left, #op, #right, #left, __l, #right, __r);	\
		__NK_NOTE(test, __VA_ARGS__)				\
		if (assert)						\
			native_kunit_abort(test);			\
	}								\
} while (0)

#define KUNIT_EXPECT_TRUE(t, c)		__NK_BOOL(t, false, c, true)
#define KUNIT_EXPECT_FALSE(t, c)	__NK_BOOL(t, false, c, false)
#define KUNIT_ASSERT_TRUE(t, c)		__NK_BOOL(t, true, c, true)
#define KUNIT_ASSERT_FALSE(t, c)	__NK_BOOL(t, true, c, false)
#define KUNIT_EXPECT_TRUE_MSG(t, c, ...)	__NK_BOOL(t, false, c, true, __VA_ARGS__)
#define KUNIT_EXPECT_FALSE_MSG(t, c, ...)	__NK_BOOL(t, false, c, false, __VA_ARGS__)
#define KUNIT_ASSERT_TRUE_MSG(t, c, ...)	__NK_BOOL(t, true, c, true, __VA_ARGS__)
#define KUNIT_ASSERT_FALSE_MSG(t, c, ...)	__NK_BOOL(t, true, c, false, __VA_ARGS__)

#define KUNIT_EXPECT_EQ(t, l, r)	__NK_BINARY(t, false, l, ==, r)
#define KUNIT_EXPECT_NE(t, l, r)	__NK_BINARY(t, false, l, !=, r)
#define KUNIT_EXPECT_LT(t, l, r)	__NK_BINARY(t, false, l, <, r)
#define KUNIT_EXPECT_LE(t, l, r)	__NK_BINARY(t, false, l, <=, r)
#define KUNIT_EXPECT_GT(t, l, r)	__NK_BINARY(t, false, l, >, r)
#define KUNIT_EXPECT_GE(t, l, r)	__NK_BINARY(t, false, l, >=, r)
#define KUNIT_ASSERT_EQ(t, l, r)	__NK_BINARY(t, true, l, ==, r)
#define KUNIT_ASSERT_NE(t, l, r)	__NK_BINARY(t, true, l, !=, r)
#define KUNIT_ASSERT_LT(t, l, r)	__NK_BINARY(t, true, l, <, r)
#define KUNIT_ASSERT_LE(t, l, r)	__NK_BINARY(t, true, l, <=, r)
#define KUNIT_ASSERT_GT(t, l, r)	__NK_BINARY(t, true, l, >, r)
#define KUNIT_ASSERT_GE(t, l, r)	__NK_BINARY(t, true, l, >=, r)
#define KUNIT_EXPECT_EQ_MSG(t, l, r, ...)	__NK_BINARY(t, false, l, ==, r, __VA_ARGS__)
#define KUNIT_EXPECT_NE_MSG(t, l, r, ...)	__NK_BINARY(t, false, l, !=, r, __VA_ARGS__)
#define KUNIT_EXPECT_LT_MSG(t, l, r, ...)	__NK_BINARY(t, false, l, <, r, __VA_ARGS__)
#define KUNIT_EXPECT_LE_MSG(t, l, r, ...)	__NK_BINARY(t, false, l, <=, r, __VA_ARGS__)
#define KUNIT_EXPECT_GT_MSG(t, l, r, ...)	__NK_BINARY(t, false, l, >, r, __VA_ARGS__)
#define KUNIT_EXPECT_GE_MSG(t, l, r, ...)	__NK_BINARY(t, false, l, >=, r, __VA_ARGS__)
#define KUNIT_ASSERT_EQ_MSG(t, l, r, ...)	__NK_BINARY(t, true, l, ==, r, __VA_ARGS__)
#define KUNIT_ASSERT_NE_MSG(t, l, r, ...)	__NK_BINARY(t, true, l, !=, r, __VA_ARGS__)

#define KUNIT_EXPECT_PTR_EQ(t, l, r)	__NK_PTR(t, false, l, ==, r)
#define KUNIT_EXPECT_PTR_NE(t, l, r)	__NK_PTR(t, false, l, !=, r)
#define KUNIT_ASSERT_PTR_EQ(t, l, r)	__NK_PTR(t, true, l, ==, r)
#define KUNIT_ASSERT_PTR_NE(t, l, r)	__NK_PTR(t, true, l, !=, r)
#define KUNIT_EXPECT_PTR_EQ_MSG(t, l, r, ...) __NK_PTR(t, false, l, ==, r, __VA_ARGS__)
#define KUNIT_EXPECT_PTR_NE_MSG(t, l, r, ...) __NK_PTR(t, false, l, !=, r, __VA_ARGS__)

#define KUNIT_EXPECT_NULL(t, p)		__NK_PTR(t, false, p, ==, NULL)
#define KUNIT_EXPECT_NOT_NULL(t, p)	__NK_PTR(t, false, p, !=, NULL)
#define KUNIT_ASSERT_NULL(t, p)		__NK_PTR(t, true, p, ==, NULL)
#define KUNIT_ASSERT_NOT_NULL(t, p)	__NK_PTR(t, true, p, !=, NULL)

#define __NK_NOT_ERR_OR_NULL(t, assert, p) do {				\
	const void *__p = (p);						\
	if (IS_ERR_OR_NULL(__p))					\
		__NK_FAIL(t, assert, "Expected %s is not error, but is: %ld", \
			  #p, __p ? PTR_ERR(__p) : 0L);			\
} while (0)
#define KUNIT_EXPECT_NOT_ERR_OR_NULL(t, p)	__NK_NOT_ERR_OR_NULL(t, false, p)
#define KUNIT_ASSERT_NOT_ERR_OR_NULL(t, p)	__NK_NOT_ERR_OR_NULL(t, true, p)

#define KUNIT_EXPECT_STREQ(t, l, r) do {				\
	const char *__l = (l), *__r = (r);				\
	if (strcmp(__l, __r))						\
		__NK_FAIL(t, false, "Expected %s == %s, but \"%s\" != \"%s\"", \
			  #l, #r, __l, __r);				\
} while (0)
#define KUNIT_EXPECT_MEMEQ(t, l, r, n) do {				\
	if (memcmp((l), (r), (n)))					\
		__NK_FAIL(t, false, "Expected %s == %s (%zu bytes)", #l, #r, (size_t)(n)); \
} while (0)

#endif /* _NATIVE_KUNIT_TEST_H */
