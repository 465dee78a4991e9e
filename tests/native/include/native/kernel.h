/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel as kmod/'s core sees it, in user space: everything the
 * kernel's tools/include lacks, or has in a form that a sanitizer cannot
 * see (its x86 atomics are inline asm, its READ_ONCE a volatile access).
 * Every linux/<x>.h that kmod/ or tests/kunit/ includes and tools/include
 * does not serve well is a one-line header next to this one that includes
 * it.  The runtime half is tests/native/shim.c.  What each part stands in
 * for, and what it cannot be, is in Documentation/testing.rst ("Native").
 */
#ifndef _NATIVE_KERNEL_H
#define _NATIVE_KERNEL_H

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * memset as the kernel gets it: a constant size inline, any other a call
 * to the platform's memset (the kernel's own, here libc's), never the
 * inline string instruction GCC may pick for a bounded size.
 */
void *native_memset(void *p, int c, size_t n);
#define memset(p, c, n)	(__builtin_constant_p(n) ?			\
			 __builtin_memset(p, c, n) : native_memset(p, c, n))

/* The kernel's tools/include, for what it has right. */
#include <linux/kconfig.h>
#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/kernel.h>
#include <linux/bits.h>
#include <linux/bitops.h>
#include <linux/build_bug.h>
#include <linux/const.h>
#include <linux/err.h>
#include <linux/list.h>
#include <linux/log2.h>
#include <linux/overflow.h>
#include <linux/gfp_types.h>
#include <linux/hash.h>
#include <linux/hashtable.h>
#include <linux/sizes.h>

#undef synchronize_rcu
#undef current_gfp_context

/* ------------------------------------------------------------------ */
/* compiler and annotations                                            */

#ifdef __SANITIZE_THREAD__
#define NATIVE_TSAN 1
#endif
#ifdef __SANITIZE_ADDRESS__
#define NATIVE_ASAN 1
#endif

/*
 * Marked accesses: relaxed atomics, which is what KCSAN takes them for
 * and what TSan understands (a volatile access is a plain one to TSan).
 */
#undef READ_ONCE
#undef WRITE_ONCE
#ifdef NATIVE_TSAN
/*
 * TSan does not model fences, so a READ_ONCE() that an smp_rmb() or a
 * control dependency orders is an acquire load here.  It synchronises
 * only with release stores and RMWs: a WRITE_ONCE() stays relaxed.
 */
#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#else
#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#endif
#define WRITE_ONCE(x, val)	__atomic_store_n(&(x), (val), __ATOMIC_RELAXED)

#ifdef NATIVE_TSAN
void AnnotateIgnoreReadsBegin(const char *f, int l);
void AnnotateIgnoreReadsEnd(const char *f, int l);
#define data_race(expr) ({						\
	__typeof__(({ expr; })) __v;					\
	AnnotateIgnoreReadsBegin(__FILE__, __LINE__);			\
	__v = ({ expr; });						\
	AnnotateIgnoreReadsEnd(__FILE__, __LINE__);			\
	__v; })
#else
#define data_race(expr)		({ expr; })
#endif

#ifndef __percpu
#define __percpu
#endif
#ifndef __rcu
#define __rcu
#endif
#define __iomem
#define __must_hold(x)
#define __acquires(x)
#define __releases(x)
#define __cond_acquires(x)
#define __init
#define __exit
#define __always_unused		__attribute__((__unused__))
#ifndef __counted_by
#define __counted_by(m)
#endif
#define __randomize_layout
#define ____cacheline_aligned	__attribute__((__aligned__(64)))
#define ____cacheline_aligned_in_smp	____cacheline_aligned
#define __cacheline_aligned	____cacheline_aligned
#define SMP_CACHE_BYTES		64
#undef noinline
#define noinline		__attribute__((__noinline__))
#define __noinline		noinline
#define __flatten		__attribute__((flatten))
#define fallthrough		__attribute__((__fallthrough__))
#undef __must_check
#define __must_check		__attribute__((__warn_unused_result__))
#ifndef __aligned
#define __aligned(x)		__attribute__((__aligned__(x)))
#endif
#ifndef static_assert
#define static_assert(expr, ...) _Static_assert(expr, #expr)
#endif
#define KBUILD_BASENAME		"refcache"

#define U8_MAX		((u8)~0U)
#define U16_MAX		((u16)~0U)
#define U32_MAX		((u32)~0U)
#define S32_MAX		((s32)(U32_MAX >> 1))
#define S32_MIN		((s32)(-S32_MAX - 1))
#define U64_MAX		((u64)~0ULL)
#define S64_MAX		((s64)(U64_MAX >> 1))
#define SIZE_MAX_K	(~(size_t)0)

#ifndef DIV_ROUND_UP
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))
#endif
#undef round_up
#undef round_down
#define round_up(x, y)		((((x) - 1) | ((__typeof__(x))((y) - 1))) + 1)
#define round_down(x, y)	((x) & ~((__typeof__(x))((y) - 1)))
#define ALIGN_K(x, a)		(((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#ifndef ALIGN
#define ALIGN(x, a)		ALIGN_K(x, a)
#endif
#define IS_ALIGNED(x, a)	(((x) & ((__typeof__(x))(a) - 1)) == 0)
#define swap(a, b) \
	do { __typeof__(a) __tmp = (a); (a) = (b); (b) = __tmp; } while (0)
#define clamp_t(type, val, lo, hi) min_t(type, max_t(type, val, lo), hi)
#ifndef max3
#define max3(x, y, z)	max(max(x, y), z)
#endif
#define umin(x, y)		min((x) + 0u + 0ul + 0ull, (y) + 0u + 0ul + 0ull)
#define umax(x, y)		max((x) + 0u + 0ul + 0ull, (y) + 0u + 0ul + 0ull)
#ifndef struct_size_t
#define struct_size_t(type, member, count) \
	struct_size((type *)NULL, member, count)
#endif
#ifndef sizeof_field
#define sizeof_field(TYPE, MEMBER) sizeof((((TYPE *)0)->MEMBER))
#endif

#define PAGE_SHIFT		12
#define PAGE_SIZE		(1UL << PAGE_SHIFT)
#define PAGE_MASK		(~(PAGE_SIZE - 1))
#define PAGE_ALIGN(x)		ALIGN_K((unsigned long)(x), PAGE_SIZE)
#define PAGE_OFFSET		0UL
#define KMALLOC_MAX_CACHE_SIZE	(PAGE_SIZE * 2)
#define KMALLOC_MIN_SIZE	8
#define PAGE_ALIGNED(x)		IS_ALIGNED((unsigned long)(x), PAGE_SIZE)

typedef unsigned int __poll_t;
#define EPOLLIN		0x00000001
#define EPOLLPRI	0x00000002
#define EPOLLOUT	0x00000004
#define EPOLLERR	0x00000008
#define EPOLLHUP	0x00000010
#define EPOLLRDNORM	0x00000040

#ifndef ENOTSUPP
#define ENOTSUPP	524
#endif
#define ERESTARTSYS	512

/* ------------------------------------------------------------------ */
/* printk, WARN, BUG                                                    */

#ifndef pr_fmt
#define pr_fmt(fmt) fmt
#endif

__attribute__((format(printf, 2, 3)))
void native_printk(int level, const char *fmt, ...);
void native_warn(const char *file, int line, const char *fmt, ...);
__attribute__((noreturn)) void native_bug(const char *file, int line, const char *what);

#define KERN_EMERG	"<0>"
#define KERN_ERR	"<3>"
#define KERN_WARNING	"<4>"
#define KERN_INFO	"<6>"
#define KERN_DEBUG	"<7>"

#define printk(fmt, ...)	native_printk(6, fmt, ##__VA_ARGS__)
#define pr_emerg(fmt, ...)	native_printk(0, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_err(fmt, ...)	native_printk(3, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warn(fmt, ...)	native_printk(4, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_notice(fmt, ...)	native_printk(5, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_info(fmt, ...)	native_printk(6, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_debug(fmt, ...)	do { if (0) native_printk(7, pr_fmt(fmt), ##__VA_ARGS__); } while (0)
#define pr_cont(fmt, ...)	native_printk(6, fmt, ##__VA_ARGS__)
#define pr_warn_once(fmt, ...)	({					\
	static bool __done;						\
	if (!__atomic_exchange_n(&__done, true, __ATOMIC_RELAXED))	\
		pr_warn(fmt, ##__VA_ARGS__); })
#define pr_warn_ratelimited(fmt, ...)	pr_warn(fmt, ##__VA_ARGS__)
#define pr_info_ratelimited(fmt, ...)	pr_info(fmt, ##__VA_ARGS__)

/* A WARN is a splat: it fails the case unless the case expects one. */
#undef WARN
#undef WARN_ON
#undef WARN_ON_ONCE
#undef WARN_ONCE
#undef BUG_ON
#undef BUG
#define WARN(cond, fmt, ...) ({						\
	int __ret = !!(cond);						\
	if (unlikely(__ret))						\
		native_warn(__FILE__, __LINE__, fmt, ##__VA_ARGS__);	\
	unlikely(__ret); })
#define WARN_ON(cond)		WARN(cond, "%s", #cond)
#define WARN_ONCE(cond, fmt, ...) ({					\
	static bool __warned;						\
	int __ret = !!(cond);						\
	if (unlikely(__ret) &&						\
	    !__atomic_exchange_n(&__warned, true, __ATOMIC_RELAXED))	\
		native_warn(__FILE__, __LINE__, fmt, ##__VA_ARGS__);	\
	unlikely(__ret); })
#define WARN_ON_ONCE(cond)	WARN_ONCE(cond, "%s", #cond)
#define BUG_ON(cond)	do { if (unlikely(cond)) native_bug(__FILE__, __LINE__, #cond); } while (0)
#define BUG()		native_bug(__FILE__, __LINE__, "BUG()")

/* ------------------------------------------------------------------ */
/* atomics: __atomic builtins, which compile to the kernel's lock-prefixed
 * instructions on x86 and which TSan understands.  TSan cannot see a
 * fence, so there a release RMW followed by a control-dependency acquire
 * becomes an acq_rel RMW.                                              */

#ifdef NATIVE_TSAN
#define __NATIVE_REL	__ATOMIC_ACQ_REL
#define smp_acquire__after_ctrl_dep()	do { } while (0)
#define smp_mb()	__atomic_thread_fence(__ATOMIC_SEQ_CST)
#else
#define __NATIVE_REL	__ATOMIC_RELEASE
#define smp_acquire__after_ctrl_dep()	__atomic_thread_fence(__ATOMIC_ACQUIRE)
#define smp_mb()	__atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif
#undef smp_rmb
#undef smp_wmb
#undef smp_load_acquire
#undef smp_store_release
#define smp_rmb()	__atomic_thread_fence(__ATOMIC_ACQUIRE)
#define smp_wmb()	__atomic_thread_fence(__ATOMIC_RELEASE)
#define smp_mb__before_atomic()	smp_mb()
#define smp_mb__after_atomic()	smp_mb()
#define smp_load_acquire(p)	__atomic_load_n(p, __ATOMIC_ACQUIRE)
#define smp_store_release(p, v)	__atomic_store_n(p, v, __ATOMIC_RELEASE)
#define smp_store_mb(x, v)	__atomic_store_n(&(x), v, __ATOMIC_SEQ_CST)
#define cpu_relax()		__builtin_ia32_pause()

typedef struct { s64 counter; } atomic64_t;
#define ATOMIC64_INIT(i)	{ (i) }
#define ATOMIC_LONG_INIT(i)	{ (i) }
#ifndef ATOMIC_INIT
#define ATOMIC_INIT(i)		{ (i) }
#endif

#define xchg(p, v)		__atomic_exchange_n(p, v, __ATOMIC_SEQ_CST)
#define cmpxchg(p, o, n) ({						\
	__typeof__(*(p)) __o = (o);					\
	__atomic_compare_exchange_n(p, &__o, n, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
	__o; })
#define try_cmpxchg(p, po, n) \
	__atomic_compare_exchange_n(p, po, n, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)

#define NATIVE_ATOMIC_OPS(pfx, atype, t)				\
static __always_inline t pfx##_read(const atype *v)			\
{ return __atomic_load_n(&v->counter, __ATOMIC_RELAXED); }		\
static __always_inline t pfx##_read_acquire(const atype *v)		\
{ return __atomic_load_n(&v->counter, __ATOMIC_ACQUIRE); }		\
static __always_inline void pfx##_set(atype *v, t i)			\
{ __atomic_store_n(&v->counter, i, __ATOMIC_RELAXED); }			\
static __always_inline void pfx##_set_release(atype *v, t i)		\
{ __atomic_store_n(&v->counter, i, __ATOMIC_RELEASE); }			\
static __always_inline void pfx##_add(t i, atype *v)			\
{ __atomic_fetch_add(&v->counter, i, __ATOMIC_RELAXED); }		\
static __always_inline void pfx##_sub(t i, atype *v)			\
{ __atomic_fetch_sub(&v->counter, i, __ATOMIC_RELAXED); }		\
static __always_inline void pfx##_inc(atype *v) { pfx##_add(1, v); }	\
static __always_inline void pfx##_dec(atype *v) { pfx##_sub(1, v); }	\
static __always_inline t pfx##_add_return(t i, atype *v)		\
{ return __atomic_add_fetch(&v->counter, i, __ATOMIC_SEQ_CST); }	\
static __always_inline t pfx##_sub_return(t i, atype *v)		\
{ return __atomic_sub_fetch(&v->counter, i, __ATOMIC_SEQ_CST); }	\
static __always_inline t pfx##_inc_return(atype *v)			\
{ return pfx##_add_return(1, v); }					\
static __always_inline t pfx##_dec_return(atype *v)			\
{ return pfx##_sub_return(1, v); }					\
static __always_inline t pfx##_fetch_add(t i, atype *v)			\
{ return __atomic_fetch_add(&v->counter, i, __ATOMIC_SEQ_CST); }	\
static __always_inline t pfx##_fetch_add_relaxed(t i, atype *v)		\
{ return __atomic_fetch_add(&v->counter, i, __ATOMIC_RELAXED); }	\
static __always_inline t pfx##_fetch_sub(t i, atype *v)			\
{ return __atomic_fetch_sub(&v->counter, i, __ATOMIC_SEQ_CST); }	\
static __always_inline t pfx##_fetch_sub_release(t i, atype *v)		\
{ return __atomic_fetch_sub(&v->counter, i, __NATIVE_REL); }		\
static __always_inline bool pfx##_dec_and_test(atype *v)		\
{ return pfx##_sub_return(1, v) == 0; }					\
static __always_inline bool pfx##_sub_and_test(t i, atype *v)		\
{ return pfx##_sub_return(i, v) == 0; }					\
static __always_inline bool pfx##_inc_and_test(atype *v)		\
{ return pfx##_add_return(1, v) == 0; }					\
static __always_inline t pfx##_xchg(atype *v, t n)			\
{ return __atomic_exchange_n(&v->counter, n, __ATOMIC_SEQ_CST); }	\
static __always_inline t pfx##_cmpxchg(atype *v, t o, t n)		\
{ __atomic_compare_exchange_n(&v->counter, &o, n, false,		\
			      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);	\
  return o; }								\
static __always_inline bool pfx##_try_cmpxchg(atype *v, t *o, t n)	\
{ return __atomic_compare_exchange_n(&v->counter, o, n, false,		\
				     __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); } \
static __always_inline bool pfx##_try_cmpxchg_relaxed(atype *v, t *o, t n) \
{ return __atomic_compare_exchange_n(&v->counter, o, n, false,		\
				     __ATOMIC_RELAXED, __ATOMIC_RELAXED); } \
static __always_inline bool pfx##_try_cmpxchg_acquire(atype *v, t *o, t n) \
{ return __atomic_compare_exchange_n(&v->counter, o, n, false,		\
				     __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE); } \
static __always_inline bool pfx##_try_cmpxchg_release(atype *v, t *o, t n) \
{ return __atomic_compare_exchange_n(&v->counter, o, n, false,		\
				     __NATIVE_REL, __ATOMIC_RELAXED); }	\
static __always_inline bool pfx##_add_unless(atype *v, t a, t u)	\
{ t c = pfx##_read(v);							\
  do { if (c == u) return false; } while (!pfx##_try_cmpxchg(v, &c, c + a)); \
  return true; }							\
static __always_inline bool pfx##_inc_not_zero(atype *v)		\
{ return pfx##_add_unless(v, 1, 0); }

NATIVE_ATOMIC_OPS(atomic, atomic_t, int)
NATIVE_ATOMIC_OPS(atomic64, atomic64_t, s64)
NATIVE_ATOMIC_OPS(atomic_long, atomic_long_t, long)

/* Atomic bit operations (tools/include aliases set_bit to these). */
static __always_inline bool test_and_set_bit(long nr, volatile unsigned long *addr)
{
	unsigned long m = 1UL << (nr % BITS_PER_LONG);

	return __atomic_fetch_or((unsigned long *)addr + nr / BITS_PER_LONG, m,
				 __ATOMIC_SEQ_CST) & m;
}

static __always_inline bool test_and_clear_bit(long nr, volatile unsigned long *addr)
{
	unsigned long m = 1UL << (nr % BITS_PER_LONG);

	return __atomic_fetch_and((unsigned long *)addr + nr / BITS_PER_LONG, ~m,
				  __ATOMIC_SEQ_CST) & m;
}

static inline size_t list_count_nodes(struct list_head *head)
{
	struct list_head *pos;
	size_t count = 0;

	list_for_each(pos, head)
		count++;
	return count;
}

/* ------------------------------------------------------------------ */
/* refcount_t: the kernel's include/linux/refcount.h and lib/refcount.c
 * (6.12), saturation and warnings included.                          */

typedef struct refcount_struct { atomic_t refs; } refcount_t;
#define REFCOUNT_INIT(n)	{ .refs = ATOMIC_INIT(n), }
#define REFCOUNT_MAX		INT_MAX
#define REFCOUNT_SATURATED	(INT_MIN / 2)

enum refcount_saturation_type {
	REFCOUNT_ADD_NOT_ZERO_OVF,
	REFCOUNT_ADD_OVF,
	REFCOUNT_ADD_UAF,
	REFCOUNT_SUB_UAF,
	REFCOUNT_DEC_LEAK,
};

void refcount_warn_saturate(refcount_t *r, enum refcount_saturation_type t);

static inline void refcount_set(refcount_t *r, int n)
{
	atomic_set(&r->refs, n);
}

static inline unsigned int refcount_read(const refcount_t *r)
{
	return atomic_read(&r->refs);
}

static inline __must_check bool __refcount_add_not_zero(int i, refcount_t *r, int *oldp)
{
	int old = refcount_read(r);

	do {
		if (!old)
			break;
	} while (!atomic_try_cmpxchg_relaxed(&r->refs, &old, old + i));
	if (oldp)
		*oldp = old;
	if (unlikely(old < 0 || old + i < 0))
		refcount_warn_saturate(r, REFCOUNT_ADD_NOT_ZERO_OVF);
	return old;
}

static inline __must_check bool refcount_inc_not_zero(refcount_t *r)
{
	return __refcount_add_not_zero(1, r, NULL);
}

static inline void refcount_add(int i, refcount_t *r)
{
	int old = atomic_fetch_add_relaxed(i, &r->refs);

	if (unlikely(!old))
		refcount_warn_saturate(r, REFCOUNT_ADD_UAF);
	else if (unlikely(old < 0 || old + i < 0))
		refcount_warn_saturate(r, REFCOUNT_ADD_OVF);
}

static inline void refcount_inc(refcount_t *r)
{
	refcount_add(1, r);
}

static inline __must_check bool refcount_sub_and_test(int i, refcount_t *r)
{
	int old = atomic_fetch_sub_release(i, &r->refs);

	if (old == i) {
		smp_acquire__after_ctrl_dep();
		return true;
	}
	if (unlikely(old < 0 || old - i < 0))
		refcount_warn_saturate(r, REFCOUNT_SUB_UAF);
	return false;
}

static inline __must_check bool refcount_dec_and_test(refcount_t *r)
{
	return refcount_sub_and_test(1, r);
}

static inline void refcount_dec(refcount_t *r)
{
	if (unlikely(atomic_fetch_sub_release(1, &r->refs) <= 1))
		refcount_warn_saturate(r, REFCOUNT_DEC_LEAK);
}

/* lib/refcount.c's: false, and no change, if the count is one. */
static inline __must_check bool refcount_dec_not_one(refcount_t *r)
{
	unsigned int new, val = atomic_read(&r->refs);

	do {
		if (unlikely(val == REFCOUNT_SATURATED))
			return true;
		if (val == 1)
			return false;
		new = val - 1;
		if (new > val) {
			refcount_warn_saturate(r, REFCOUNT_SUB_UAF);
			return true;
		}
	} while (!atomic_try_cmpxchg_release(&r->refs, (int *)&val, new));
	return true;
}

struct kref { refcount_t refcount; };
#define KREF_INIT(n)	{ .refcount = REFCOUNT_INIT(n), }
static inline void kref_init(struct kref *k) { refcount_set(&k->refcount, 1); }
static inline unsigned int kref_read(const struct kref *k) { return refcount_read(&k->refcount); }
static inline void kref_get(struct kref *k) { refcount_inc(&k->refcount); }
static inline int kref_put(struct kref *k, void (*release)(struct kref *))
{
	if (refcount_dec_and_test(&k->refcount)) {
		release(k);
		return 1;
	}
	return 0;
}
static inline int __must_check kref_get_unless_zero(struct kref *k)
{
	return refcount_inc_not_zero(&k->refcount);
}

/* ------------------------------------------------------------------ */
/* tasks, CPUs, preemption, RCU                                         */

struct mm_struct;
struct pid;
typedef struct { uid_t val; } kuid_t;
typedef struct { gid_t val; } kgid_t;
struct completion;

#define EXIT_DEAD	0x0010
#define EXIT_ZOMBIE	0x0020
#define PF_KTHREAD	0x00200000
#define PF_WQ_WORKER	0x00000020
#define PF_EXITING	0x00000004
#define TASK_COMM_LEN	16

/*
 * A task: one thread.  Its CPU is a number the shim keeps (kthread_bind(),
 * set_cpus_allowed_ptr()); preempt_count and the RCU reader state are
 * the thread's own.
 */
struct task_struct {
	refcount_t usage;
	int exit_state;
	unsigned int flags;
	pid_t pid;
	pid_t tgid;
	char comm[TASK_COMM_LEN];
	struct mm_struct *mm;
	kuid_t euid;
	/* shim */
	int native_cpu;
	unsigned int native_preempt;
	unsigned long native_rcu_ctr;	/* odd: inside a read-side section */
	struct list_head native_node;	/* on the reader registry */
	pthread_t native_thread;
	int (*native_fn)(void *);
	void *native_data;
	int native_result;
	void *native_data_start;	/* struct completion *: woken */
	bool native_should_stop;
	bool native_started;
	bool native_self_made;		/* a thread the shim did not start */
	void *native_exit_jmp;		/* jmp_buf *, for do_exit() */
	struct completion *native_exited;
	void *native_work;		/* current_work() */
	void *native_kunit;		/* the KUnit case this thread serves */
};

extern __thread struct task_struct *native_current_task;
struct task_struct *native_current_slow(void);

static __always_inline struct task_struct *get_current(void)
{
	struct task_struct *t = native_current_task;

	return likely(t) ? t : native_current_slow();
}
#define current	get_current()

void native_task_free(struct task_struct *t);
static inline void get_task_struct(struct task_struct *t)
{
	refcount_inc(&t->usage);
}
static inline struct task_struct *get_task_struct_ret(struct task_struct *t)
{
	refcount_inc(&t->usage);
	return t;
}
static inline void put_task_struct(struct task_struct *t)
{
	if (refcount_dec_and_test(&t->usage))
		native_task_free(t);
}

#define NR_CPUS		2
extern unsigned int nr_cpu_ids;
struct cpumask { unsigned long bits[1]; };
typedef struct cpumask cpumask_t;
extern const struct cpumask native_cpu_all_mask;
extern const struct cpumask native_cpu_masks[NR_CPUS];
#define cpu_online_mask		(&native_cpu_all_mask)
#define cpu_possible_mask	(&native_cpu_all_mask)
#define cpu_present_mask	(&native_cpu_all_mask)
#define cpumask_of(cpu)		(&native_cpu_masks[(cpu)])
static inline unsigned int cpumask_next(int n, const struct cpumask *m)
{
	unsigned int c;

	for (c = n + 1; c < nr_cpu_ids; c++)
		if (m->bits[0] & (1UL << c))
			return c;
	return nr_cpu_ids;
}
#define cpumask_first(m)	cpumask_next(-1, m)
static inline unsigned int cpumask_any_but(const struct cpumask *m, unsigned int cpu)
{
	unsigned int c;

	for (c = 0; c < nr_cpu_ids; c++)
		if (c != cpu && (m->bits[0] & (1UL << c)))
			return c;
	return nr_cpu_ids;
}
static inline bool cpumask_test_cpu(int cpu, const struct cpumask *m)
{
	return m->bits[0] & (1UL << cpu);
}
#define for_each_cpu(cpu, m) \
	for ((cpu) = cpumask_first(m); (cpu) < nr_cpu_ids; (cpu) = cpumask_next(cpu, m))
#define for_each_possible_cpu(cpu)	for_each_cpu(cpu, cpu_possible_mask)
#define for_each_online_cpu(cpu)	for_each_cpu(cpu, cpu_online_mask)
#define for_each_present_cpu(cpu)	for_each_cpu(cpu, cpu_present_mask)
#define num_online_cpus()	nr_cpu_ids
#define num_possible_cpus()	nr_cpu_ids
#define cpu_online(cpu)		((unsigned int)(cpu) < nr_cpu_ids)
#define raw_smp_processor_id()	(current->native_cpu)
#define smp_processor_id()	raw_smp_processor_id()
#define get_cpu()		({ preempt_disable(); smp_processor_id(); })
#define put_cpu()		preempt_enable()
void cpus_read_lock(void);
void cpus_read_unlock(void);
int set_cpus_allowed_ptr(struct task_struct *p, const struct cpumask *m);

/*
 * Preemption: a count of the thread's own; the outermost section is an
 * RCU read-side section (as it is in the kernel), which synchronize_rcu()
 * waits for.  The reader's side costs a plain increment and two stores;
 * the grace period pays with membarrier() (shim.c).
 */
static __always_inline void preempt_disable(void)
{
	struct task_struct *t = current;

	if (!t->native_preempt++) {
		__atomic_store_n(&t->native_rcu_ctr, t->native_rcu_ctr + 1, __ATOMIC_RELAXED);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	}
}

static __always_inline void preempt_enable(void)
{
	struct task_struct *t = current;

	if (!--t->native_preempt)
		__atomic_store_n(&t->native_rcu_ctr, t->native_rcu_ctr + 1, __ATOMIC_RELEASE);
}
#define preempt_disable_notrace()	preempt_disable()
#define preempt_enable_notrace()	preempt_enable()
#define preempt_enable_no_resched()	preempt_enable()
#define preempt_count()		(current->native_preempt)
#define preemptible()		(!current->native_preempt)
/* No interrupts natively: every context is a task's. */
#define in_task()		(1)
#define in_interrupt()		(0)
#define in_irq()		(0)
#define in_hardirq()		(0)
#define in_softirq()		(0)
#define in_serving_softirq()	(0)
#define in_nmi()		(0)
#define in_atomic()		(current->native_preempt != 0)
#define irqs_disabled()		(0)
#define local_irq_save(f)	do { (f) = 0; preempt_disable(); } while (0)
#define local_irq_restore(f)	do { (void)(f); preempt_enable(); } while (0)
#define local_irq_disable()	preempt_disable()
#define local_irq_enable()	preempt_enable()
#define local_bh_disable()	preempt_disable()
#define local_bh_enable()	preempt_enable()

void native_might_sleep(const char *file, int line);
/* Inline test, out-of-line report: CONFIG_DEBUG_ATOMIC_SLEEP's cost. */
#define might_sleep() do {						\
	if (unlikely(current->native_preempt))				\
		native_might_sleep(__FILE__, __LINE__);			\
} while (0)
#define might_alloc(gfp)	do { if ((gfp) & __GFP_DIRECT_RECLAIM) might_sleep(); } while (0)
#define gfpflags_allow_blocking(gfp)	(!!((gfp) & __GFP_DIRECT_RECLAIM))
#define might_fault()		might_sleep()
#define cond_resched()		({ might_sleep(); native_cond_resched(); 0; })
void native_yield(void);
void native_cond_resched(void);
extern u64 native_resched_ns;
/* Set by the benchmarks: kthread_bind() pins the thread to a host CPU. */
extern bool native_pin_cpus;
#define schedule()		native_yield()

#define rcu_read_lock()		preempt_disable()
#define rcu_read_unlock()	preempt_enable()
#define rcu_read_lock_held()	(current->native_preempt != 0)
#define rcu_dereference(p)	READ_ONCE(p)
#define rcu_dereference_protected(p, c)	(p)
#define rcu_dereference_raw(p)	READ_ONCE(p)
#define rcu_access_pointer(p)	READ_ONCE(p)
#define rcu_assign_pointer(p, v)	smp_store_release(&(p), (v))
#define RCU_INIT_POINTER(p, v)	WRITE_ONCE(p, v)
struct rcu_head {
	struct rcu_head *next;
	void (*func)(struct rcu_head *);
};
#define callback_head rcu_head
void synchronize_rcu(void);
#define synchronize_rcu_expedited()	synchronize_rcu()
void call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *));
void rcu_barrier(void);

/* ------------------------------------------------------------------ */
/* locks: pthread mutexes, which ASan and TSan know                    */

struct lockdep_map { int dummy; };
struct lock_class_key { int dummy; };

struct mutex {
	pthread_mutex_t m;
	struct task_struct *owner;
};
#define __MUTEX_INITIALIZER(name)	{ .m = PTHREAD_MUTEX_INITIALIZER }
#define DEFINE_MUTEX(name)	struct mutex name = __MUTEX_INITIALIZER(name)
static inline void mutex_init(struct mutex *l)
{
	pthread_mutex_init(&l->m, NULL);
	l->owner = NULL;
}
static inline void mutex_destroy(struct mutex *l)
{
	pthread_mutex_destroy(&l->m);
}
static inline void mutex_lock(struct mutex *l)
{
	might_sleep();
	pthread_mutex_lock(&l->m);
	WRITE_ONCE(l->owner, current);
}
#define mutex_lock_nested(l, s)	mutex_lock(l)
static inline int mutex_lock_interruptible(struct mutex *l)
{
	mutex_lock(l);
	return 0;
}
#define mutex_lock_killable(l)	mutex_lock_interruptible(l)
static inline int mutex_trylock(struct mutex *l)
{
	if (pthread_mutex_trylock(&l->m))
		return 0;
	WRITE_ONCE(l->owner, current);
	return 1;
}
static inline void mutex_unlock(struct mutex *l)
{
	WRITE_ONCE(l->owner, NULL);
	pthread_mutex_unlock(&l->m);
}
static inline bool mutex_is_locked(struct mutex *l)
{
	return READ_ONCE(l->owner) != NULL;
}

/* A spinlock disables preemption, so it is an RCU read-side section too. */
typedef struct spinlock {
	pthread_mutex_t m;
	struct task_struct *owner;
} spinlock_t;
typedef spinlock_t raw_spinlock_t;
#define __SPIN_LOCK_UNLOCKED(name)	{ .m = PTHREAD_MUTEX_INITIALIZER }
#define DEFINE_SPINLOCK(name)	spinlock_t name = __SPIN_LOCK_UNLOCKED(name)
static inline void spin_lock_init(spinlock_t *l)
{
	pthread_mutex_init(&l->m, NULL);
	l->owner = NULL;
}
static inline void spin_lock(spinlock_t *l)
{
	pthread_mutex_lock(&l->m);
	WRITE_ONCE(l->owner, current);
	preempt_disable();
}
static inline int spin_trylock(spinlock_t *l)
{
	if (pthread_mutex_trylock(&l->m))
		return 0;
	WRITE_ONCE(l->owner, current);
	preempt_disable();
	return 1;
}
static inline void spin_unlock(spinlock_t *l)
{
	preempt_enable();
	WRITE_ONCE(l->owner, NULL);
	pthread_mutex_unlock(&l->m);
}
#define spin_lock_bh(l)		spin_lock(l)
#define spin_unlock_bh(l)	spin_unlock(l)
#define spin_lock_irq(l)	spin_lock(l)
#define spin_unlock_irq(l)	spin_unlock(l)
#define spin_lock_irqsave(l, f)	do { (f) = 0; spin_lock(l); } while (0)
#define spin_unlock_irqrestore(l, f)	do { (void)(f); spin_unlock(l); } while (0)
#define raw_spin_lock_init	spin_lock_init
#define raw_spin_lock		spin_lock
#define raw_spin_unlock		spin_unlock
static inline bool spin_is_locked(spinlock_t *l)
{
	return READ_ONCE(l->owner) != NULL;
}

void native_lockdep_fail(const char *file, int line, const char *what);
#define lockdep_assert_held(l) do {					\
	if (READ_ONCE((l)->owner) != current)				\
		native_lockdep_fail(__FILE__, __LINE__, #l);		\
} while (0)
#define lockdep_assert_not_held(l) do {					\
	if (READ_ONCE((l)->owner) == current)				\
		native_lockdep_fail(__FILE__, __LINE__, "!" #l);	\
} while (0)
#define lockdep_assert_held_once(l)	lockdep_assert_held(l)
#define lockdep_assert_irqs_enabled()	do { } while (0)
#define lockdep_assert_preemption_disabled() do {			\
	if (!current->native_preempt)					\
		native_lockdep_fail(__FILE__, __LINE__, "preemption disabled"); \
} while (0)
#define lockdep_assert_preemption_enabled() do {			\
	if (current->native_preempt)					\
		native_lockdep_fail(__FILE__, __LINE__, "preemption enabled"); \
} while (0)
#define lockdep_set_class(l, k)		do { } while (0)
#define lockdep_is_held(l)		(READ_ONCE((l)->owner) == current)

/*
 * local_lock: in the kernel, preemption off on this CPU.  Here several
 * threads may share a CPU number, so it is a lock of that CPU's copy: a
 * test-and-set lock (one xchg, and a release store to unlock), then
 * preemption off.
 */
typedef struct { int locked; struct task_struct *owner; } local_lock_t;
#define INIT_LOCAL_LOCK(n)	{ 0 }
static inline void local_lock_init(local_lock_t *l)
{
	l->locked = 0;
	l->owner = NULL;
}
static __always_inline void native_local_lock(local_lock_t *l)
{
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			native_yield();
	}
	preempt_disable();
}
static __always_inline void native_local_unlock(local_lock_t *l)
{
	preempt_enable();
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}
#define local_lock(l)		native_local_lock(this_cpu_ptr(l))
#define local_unlock(l)		native_local_unlock(this_cpu_ptr(l))
#define local_lock_irqsave(l, f)	do { (f) = 0; local_lock(l); } while (0)
#define local_unlock_irqrestore(l, f)	do { (void)(f); local_unlock(l); } while (0)

/* ------------------------------------------------------------------ */
/* per-CPU memory: NR_CPUS copies NATIVE_PCPU_STRIDE bytes apart, so
 * that a pointer into one copy finds the same field in another.       */

#define NATIVE_PCPU_STRIDE	(64UL << 20)
#define per_cpu_ptr(p, cpu) \
	((__typeof__(p))((char *)(p) + (unsigned long)(cpu) * NATIVE_PCPU_STRIDE))
#define this_cpu_ptr(p)		per_cpu_ptr(p, raw_smp_processor_id())
#define raw_cpu_ptr(p)		this_cpu_ptr(p)
#define per_cpu(var, cpu)	(*per_cpu_ptr(&(var), cpu))
void *native_alloc_percpu(size_t size, size_t align);
void free_percpu(void __percpu *p);
#define alloc_percpu_gfp(type, gfp) \
	((type __percpu *)native_alloc_percpu(sizeof(type), __alignof__(type)))
#define alloc_percpu(type)	alloc_percpu_gfp(type, GFP_KERNEL)
#define __alloc_percpu(size, align)	native_alloc_percpu(size, align)

/* ------------------------------------------------------------------ */
/* memory                                                                */

struct page;
struct mem_cgroup;
struct kmem_cache;
struct mm_struct { int dummy; };

extern atomic_long_t native_fail_alloc;	/* fail this many allocations */
void *native_kmalloc(size_t size, gfp_t gfp);
void native_kfree(const void *p);
size_t kmalloc_size_roundup(size_t size);
size_t ksize(const void *p);
#define kmalloc(s, g)		native_kmalloc(s, g)
#define kzalloc(s, g)		native_kmalloc(s, (g) | __GFP_ZERO)
#define kfree(p)		native_kfree(p)
#define kvfree(p)		native_kfree(p)
#define kfree_sensitive(p)	native_kfree(p)
#define kvmalloc(s, g)		native_kmalloc(s, g)
#define kvzalloc(s, g)		native_kmalloc(s, (g) | __GFP_ZERO)
#define kmalloc_node(s, g, n)	native_kmalloc(s, g)
#define kzalloc_node(s, g, n)	native_kmalloc(s, (g) | __GFP_ZERO)
static inline void *kmalloc_array(size_t n, size_t size, gfp_t gfp)
{
	size_t bytes;

	if (unlikely(check_mul_overflow(n, size, &bytes)))
		return NULL;
	return native_kmalloc(bytes, gfp);
}
#define kvmalloc_array(n, s, g)	kmalloc_array(n, s, g)
#define kcalloc(n, s, g)	kmalloc_array(n, s, (g) | __GFP_ZERO)
#define kvcalloc(n, s, g)	kmalloc_array(n, s, (g) | __GFP_ZERO)
static inline void *krealloc(const void *p, size_t size, gfp_t gfp)
{
	(void)gfp;
	return realloc((void *)p, size);
}
static inline char *kstrdup(const char *s, gfp_t gfp)
{
	char *d = s ? native_kmalloc(strlen(s) + 1, gfp) : NULL;

	if (d)
		strcpy(d, s);
	return d;
}
static inline void *kmemdup(const void *s, size_t len, gfp_t gfp)
{
	void *d = native_kmalloc(len, gfp);

	if (d)
		memcpy(d, s, len);
	return d;
}

void *native_vmalloc(size_t size, gfp_t gfp);
#define vmalloc(s)		native_vmalloc(s, GFP_KERNEL)
#define vzalloc(s)		native_vmalloc(s, GFP_KERNEL | __GFP_ZERO)
#define __vmalloc(s, g)		native_vmalloc(s, g)
#define vfree(p)		native_kfree(p)
#define is_vmalloc_addr(p)	(0)

/* Pages: naturally aligned blocks of PAGE_SIZE << order, as the buddy
 * allocator hands out; struct page * is the address itself. */
struct page *alloc_pages(gfp_t gfp, unsigned int order);
void __free_pages(struct page *page, unsigned int order);
#define alloc_page(g)		alloc_pages(g, 0)
#define __free_page(p)		__free_pages(p, 0)
#define page_address(p)		((void *)(p))
#define virt_to_page(a)		((struct page *)(a))
unsigned long __get_free_pages(gfp_t gfp, unsigned int order);
void free_pages(unsigned long addr, unsigned int order);
unsigned long totalram_pages(void);

static inline void kmemleak_alloc(const void *p, size_t s, int m, gfp_t g) { }
static inline void kmemleak_free(const void *p) { }
static inline void kmemleak_not_leak(const void *p) { }
static inline void kmemleak_ignore(const void *p) { }

static inline struct mem_cgroup *get_mem_cgroup_from_mm(struct mm_struct *mm) { return NULL; }
static inline void mem_cgroup_put(struct mem_cgroup *m) { }
static inline struct mem_cgroup *set_active_memcg(struct mem_cgroup *m) { return NULL; }
#define memalloc_noio_save()	0
#define memalloc_noio_restore(f)	((void)(f))
#define memalloc_nofs_save()	0
#define memalloc_nofs_restore(f)	((void)(f))

static inline void *memchr_inv(const void *start, int c, size_t bytes)
{
	const unsigned char *p = start;
	size_t i;

	for (i = 0; i < bytes; i++)
		if (p[i] != (unsigned char)c)
			return (void *)(p + i);
	return NULL;
}
ssize_t strscpy(char *dst, const char *src, size_t count);
#define strscpy_pad(d, s, c)	({ memset(d, 0, c); strscpy(d, s, c); })

/* user memory is ours natively */
static inline unsigned long copy_to_user(void __user *to, const void *from, unsigned long n)
{
	memcpy((void *)to, from, n);
	return 0;
}
static inline unsigned long copy_from_user(void *to, const void __user *from, unsigned long n)
{
	memcpy(to, (const void *)from, n);
	return 0;
}
#define put_user(x, p)		({ *(p) = (x); 0; })
#define get_user(x, p)		({ (x) = *(p); 0; })

/* ------------------------------------------------------------------ */
/* credentials, pids                                                    */

struct user_namespace { int dummy; };
extern struct user_namespace init_user_ns;
#define GLOBAL_ROOT_UID		((kuid_t){ 0 })
#define KUIDT_INIT(v)		((kuid_t){ v })
static inline uid_t __kuid_val(kuid_t u) { return u.val; }
static inline bool uid_eq(kuid_t a, kuid_t b) { return a.val == b.val; }
static inline bool uid_lt(kuid_t a, kuid_t b) { return a.val < b.val; }
#define current_euid()		(current->euid)
#define current_uid()		(current->euid)
static inline uid_t from_kuid_munged(struct user_namespace *ns, kuid_t u) { return u.val; }
static inline uid_t from_kuid(struct user_namespace *ns, kuid_t u) { return u.val; }
static inline kuid_t make_kuid(struct user_namespace *ns, uid_t u) { return (kuid_t){ u }; }
#define current_user_ns()	(&init_user_ns)
#define CAP_SYS_ADMIN		21
#define CAP_SYS_RESOURCE	24
/* A kthread, which the KUnit cases run in, has every capability. */
static inline bool ns_capable_noaudit(struct user_namespace *ns, int cap) { return true; }
static inline bool ns_capable(struct user_namespace *ns, int cap) { return true; }
static inline bool capable(int cap) { return true; }

enum pid_type { PIDTYPE_PID, PIDTYPE_TGID, PIDTYPE_PGID, PIDTYPE_SID, PIDTYPE_MAX };
struct pid { refcount_t count; pid_t nr; };
struct pid *get_task_pid(struct task_struct *t, enum pid_type type);
void put_pid(struct pid *pid);
static inline struct pid *get_pid(struct pid *pid)
{
	if (pid)
		refcount_inc(&pid->count);
	return pid;
}
static inline pid_t pid_vnr(struct pid *pid) { return pid ? pid->nr : 0; }
static inline pid_t pid_nr(struct pid *pid) { return pid ? pid->nr : 0; }
#define task_tgid_vnr(t)	((t)->tgid)
#define task_pid_nr(t)		((t)->pid)
#define task_pid_vnr(t)		((t)->pid)
#define task_tgid_nr(t)		((t)->tgid)

/* ------------------------------------------------------------------ */
/* time                                                                  */

typedef s64 ktime_t;
#define NSEC_PER_USEC	1000L
#define NSEC_PER_MSEC	1000000L
#define NSEC_PER_SEC	1000000000L
#define USEC_PER_SEC	1000000L
#define MSEC_PER_SEC	1000L
#define HZ		250
ktime_t ktime_get(void);
#define ktime_get_ns()		((u64)ktime_get())
#define ktime_get_mono_fast_ns()	((u64)ktime_get())
#define ktime_get_boottime_ns()	((u64)ktime_get())
#define ktime_get_real_ns()	((u64)ktime_get())
#define ktime_sub(a, b)		((a) - (b))
#define ktime_add(a, b)		((a) + (b))
#define ktime_to_ns(t)		((s64)(t))
#define ktime_to_us(t)		((s64)(t) / NSEC_PER_USEC)
#define ktime_to_ms(t)		((s64)(t) / NSEC_PER_MSEC)
#define ktime_us_delta(a, b)	ktime_to_us((a) - (b))
#define ktime_ms_delta(a, b)	ktime_to_ms((a) - (b))
#define ns_to_ktime(n)		((ktime_t)(n))
#define ms_to_ktime(n)		((ktime_t)(n) * NSEC_PER_MSEC)
#define jiffies			((unsigned long)(ktime_get() / (NSEC_PER_SEC / HZ)))
#define jiffies_64		((u64)jiffies)
#define jiffies_to_msecs(j)	((unsigned int)((j) * (MSEC_PER_SEC / HZ)))
#define msecs_to_jiffies(m)	((unsigned long)DIV_ROUND_UP((m), MSEC_PER_SEC / HZ))
#define usecs_to_jiffies(u)	msecs_to_jiffies(DIV_ROUND_UP((u), 1000))
#define time_after(a, b)	((long)((b) - (a)) < 0)
#define time_before(a, b)	time_after(b, a)
#define time_after_eq(a, b)	((long)((a) - (b)) >= 0)
#define time_before_eq(a, b)	time_after_eq(b, a)
#define time_is_before_jiffies(a)	time_after(jiffies, a)
void msleep(unsigned int ms);
void usleep_range(unsigned long min, unsigned long max);
void udelay(unsigned long us);
#define ndelay(n)		udelay(DIV_ROUND_UP(n, 1000))
#define mdelay(n)		udelay((n) * 1000UL)
#define schedule_timeout_uninterruptible(t)	({ msleep(jiffies_to_msecs(t)); 0; })
#define schedule_timeout_interruptible(t)	({ msleep(jiffies_to_msecs(t)); 0; })

/* Timers run in softirq context, which does not exist natively; the one
 * case that needs one is skipped (tests/native/skip.c). */
struct timer_list {
	void (*function)(struct timer_list *);
	unsigned long expires;
};
#define from_timer(var, t, field)	container_of(t, __typeof__(*var), field)
#define timer_container_of(var, t, field)	from_timer(var, t, field)
void native_no_timers(const char *what);
#define timer_setup(t, fn, fl)		do { (t)->function = (fn); } while (0)
#define timer_setup_on_stack(t, fn, fl)	timer_setup(t, fn, fl)
#define mod_timer(t, e)			({ native_no_timers("mod_timer"); 0; })
#define add_timer(t)			native_no_timers("add_timer")
#define del_timer_sync(t)		({ (void)(t); 0; })
#define timer_delete_sync(t)		del_timer_sync(t)
#define destroy_timer_on_stack(t)	do { (void)(t); } while (0)

static inline u64 div64_u64(u64 a, u64 b) { return a / b; }
static inline u64 div_u64(u64 a, u32 b) { return a / b; }
static inline s64 div_s64(s64 a, s32 b) { return a / b; }
static inline u64 div64_u64_rem(u64 a, u64 b, u64 *r) { *r = a % b; return a / b; }

/* ------------------------------------------------------------------ */
/* random                                                                */

u32 get_random_u32(void);
u64 get_random_u64(void);
#define get_random_long()	((unsigned long)get_random_u64())
static inline u32 get_random_u32_below(u32 ceil)
{
	return (u32)(((u64)get_random_u32() * ceil) >> 32);
}
#define prandom_u32_max(c)	get_random_u32_below(c)
void get_random_bytes(void *buf, size_t len);

/* ------------------------------------------------------------------ */
/* completions, wait queues, kthreads, workqueues                        */

struct completion {
	pthread_mutex_t m;
	pthread_cond_t c;
	unsigned int done;
};
#define COMPLETION_INITIALIZER(w) \
	{ PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 }
#define DECLARE_COMPLETION(w)		struct completion w = COMPLETION_INITIALIZER(w)
#define DECLARE_COMPLETION_ONSTACK(w)	struct completion w = COMPLETION_INITIALIZER(w)
void init_completion(struct completion *x);
#define reinit_completion(x)	((x)->done = 0)
void complete(struct completion *x);
void complete_all(struct completion *x);
void wait_for_completion(struct completion *x);
unsigned long wait_for_completion_timeout(struct completion *x, unsigned long timeout);
#define wait_for_completion_interruptible(x)	({ wait_for_completion(x); 0; })
#define wait_for_completion_killable(x)		({ wait_for_completion(x); 0; })
bool completion_done(struct completion *x);
bool try_wait_for_completion(struct completion *x);

typedef struct wait_queue_head {
	pthread_mutex_t m;
	pthread_cond_t c;
	unsigned long seq;
} wait_queue_head_t;
void init_waitqueue_head(wait_queue_head_t *wq);
void native_wake_up(wait_queue_head_t *wq);
unsigned long native_wait_seq(wait_queue_head_t *wq);
void native_wait_for(wait_queue_head_t *wq, unsigned long seq, long timeout_ns);
#define wake_up(wq)			native_wake_up(wq)
#define wake_up_all(wq)			native_wake_up(wq)
#define wake_up_interruptible(wq)	native_wake_up(wq)
#define wake_up_interruptible_all(wq)	native_wake_up(wq)
#define wake_up_interruptible_poll(wq, m)	native_wake_up(wq)
#define wake_up_poll(wq, m)		native_wake_up(wq)
#define wait_event(wq, cond) do {					\
	might_sleep();							\
	for (;;) {							\
		unsigned long __s = native_wait_seq(&(wq));		\
		if (cond)						\
			break;						\
		native_wait_for(&(wq), __s, 10 * NSEC_PER_MSEC);	\
	}								\
} while (0)
#define wait_event_interruptible(wq, cond)	({ wait_event(wq, cond); 0; })
#define wait_event_killable(wq, cond)		({ wait_event(wq, cond); 0; })
#define wait_event_timeout(wq, cond, t) ({				\
	unsigned long __end = jiffies + (t);				\
	long __r = 1;							\
	for (;;) {							\
		unsigned long __s = native_wait_seq(&(wq));		\
		if (cond)						\
			break;						\
		if (time_after(jiffies, __end)) {			\
			__r = 0;					\
			break;						\
		}							\
		native_wait_for(&(wq), __s, 1 * NSEC_PER_MSEC);		\
	}								\
	__r; })
#define waitqueue_active(wq)	(1)

struct task_struct *kthread_create_on_node(int (*fn)(void *), void *data, int node,
					   const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define NUMA_NO_NODE	(-1)
#define kthread_create(fn, data, fmt, ...) \
	kthread_create_on_node(fn, data, NUMA_NO_NODE, fmt, ##__VA_ARGS__)
#define kthread_run(fn, data, fmt, ...) ({				\
	struct task_struct *__k = kthread_create(fn, data, fmt, ##__VA_ARGS__); \
	if (!IS_ERR(__k))						\
		wake_up_process(__k);					\
	__k; })
void kthread_bind(struct task_struct *t, unsigned int cpu);
int wake_up_process(struct task_struct *t);
int kthread_stop(struct task_struct *t);
bool kthread_should_stop(void);
__attribute__((noreturn)) void do_exit(long code);
#define kthread_complete_and_exit(c, code) do { complete(c); do_exit(code); } while (0)
#define kthread_exit(c)		do_exit(c)
#define TASK_RUNNING		0
#define TASK_INTERRUPTIBLE	1
#define TASK_UNINTERRUPTIBLE	2
#define set_current_state(s)	do { } while (0)
#define __set_current_state(s)	do { } while (0)
#define signal_pending(t)	(0)
#define fatal_signal_pending(t)	(0)

struct work_struct;
typedef void (*work_func_t)(struct work_struct *work);
struct work_struct {
	work_func_t func;
	struct list_head entry;
	unsigned long state;	/* bit 0: pending */
	struct workqueue_struct *wq;
};
#define INIT_WORK(w, f) do {						\
	(w)->func = (f);						\
	INIT_LIST_HEAD(&(w)->entry);					\
	(w)->state = 0;							\
	(w)->wq = NULL;							\
} while (0)
#define work_pending(w)		(__atomic_load_n(&(w)->state, __ATOMIC_ACQUIRE) & 1)
#define WQ_UNBOUND		(1 << 1)
#define WQ_FREEZABLE		(1 << 2)
#define WQ_MEM_RECLAIM		(1 << 3)
#define WQ_HIGHPRI		(1 << 4)
#define WQ_CPU_INTENSIVE	(1 << 5)
struct workqueue_struct *alloc_workqueue(const char *fmt, unsigned int flags, int max_active, ...);
void destroy_workqueue(struct workqueue_struct *wq);
bool queue_work(struct workqueue_struct *wq, struct work_struct *work);
bool flush_work(struct work_struct *work);
bool cancel_work_sync(struct work_struct *work);
void flush_workqueue(struct workqueue_struct *wq);
struct work_struct *current_work(void);
extern struct workqueue_struct *system_wq;
extern struct workqueue_struct *system_unbound_wq;
#define schedule_work(w)	queue_work(system_wq, w)
long work_on_cpu(int cpu, long (*fn)(void *), void *arg);

/* CPU hotplug: never happens natively; the callbacks are kept, not run. */
enum cpuhp_state { CPUHP_INVALID = -1, CPUHP_OFFLINE = 0, CPUHP_BP_PREPARE_DYN = 40,
		   CPUHP_AP_ONLINE_DYN = 200 };
int cpuhp_setup_state_nocalls(enum cpuhp_state state, const char *name,
			      int (*startup)(unsigned int cpu),
			      int (*teardown)(unsigned int cpu));
void cpuhp_remove_state_nocalls(enum cpuhp_state state);

/* ------------------------------------------------------------------ */
/* xarray: a sorted array under a lock; xa_load() takes it for reading,
 * where the kernel's is lockless under RCU.                           */

struct xa_limit { u32 max; u32 min; };
#define XA_LIMIT(_min, _max)	((struct xa_limit){ .min = (_min), .max = (_max) })
#define xa_limit_32b		XA_LIMIT(0, UINT_MAX)
#define xa_limit_31b		XA_LIMIT(0, INT_MAX)
#define XA_FLAGS_ALLOC		(1U << 8)
#define XA_FLAGS_ALLOC1		((1U << 8) | (1U << 9))
#define XA_FLAGS_LOCK_IRQ	(1U << 0)
#define XA_FLAGS_LOCK_BH	(1U << 1)
#define XA_FLAGS_ACCOUNT	(1U << 10)
struct native_xa_ent { unsigned long index; void *entry; };
struct xarray {
	pthread_rwlock_t lock;
	unsigned int flags;
	unsigned int n, cap;
	struct native_xa_ent *v;
};
#define XARRAY_INIT(name, fl)	{ .lock = PTHREAD_RWLOCK_INITIALIZER, .flags = (fl) }
#define DEFINE_XARRAY(name)	struct xarray name = XARRAY_INIT(name, 0)
#define DEFINE_XARRAY_ALLOC(name)	struct xarray name = XARRAY_INIT(name, XA_FLAGS_ALLOC)
#define DEFINE_XARRAY_ALLOC1(name)	struct xarray name = XARRAY_INIT(name, XA_FLAGS_ALLOC1)
void xa_init_flags(struct xarray *xa, unsigned int flags);
#define xa_init(xa)		xa_init_flags(xa, 0)
void *xa_load(struct xarray *xa, unsigned long index);
void *xa_store(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp);
int xa_insert(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp);
void *xa_erase(struct xarray *xa, unsigned long index);
void xa_destroy(struct xarray *xa);
bool xa_empty(struct xarray *xa);
int xa_alloc(struct xarray *xa, u32 *id, void *entry, struct xa_limit limit, gfp_t gfp);
int xa_alloc_cyclic(struct xarray *xa, u32 *id, void *entry, struct xa_limit limit,
		    u32 *next, gfp_t gfp);
void *xa_find(struct xarray *xa, unsigned long *index, unsigned long max, unsigned int filter);
void *xa_find_after(struct xarray *xa, unsigned long *index, unsigned long max,
		    unsigned int filter);
#define XA_PRESENT	0
#define xa_is_err(e)	(IS_ERR(e))
#define xa_err(e)	(IS_ERR(e) ? (int)PTR_ERR(e) : 0)
#define xa_for_each_start(xa, index, entry, start)			\
	for (index = start, entry = xa_find(xa, &index, ULONG_MAX, XA_PRESENT); \
	     entry; entry = xa_find_after(xa, &index, ULONG_MAX, XA_PRESENT))
#define xa_for_each(xa, index, entry)	xa_for_each_start(xa, index, entry, 0)
#define xa_lock(xa)		pthread_rwlock_wrlock(&(xa)->lock)
#define xa_unlock(xa)		pthread_rwlock_unlock(&(xa)->lock)

/* ------------------------------------------------------------------ */
/* seq_file (limits.c's /proc/refcache/users table)                      */

struct seq_file {
	char *buf;
	size_t size;
	size_t count;
	void *private;
	struct file *file;
};
__attribute__((format(printf, 2, 3)))
void seq_printf(struct seq_file *m, const char *fmt, ...);
void seq_puts(struct seq_file *m, const char *s);
void seq_putc(struct seq_file *m, char c);
#define seq_user_ns(m)		(&init_user_ns)

/* sort() of lib/sort.c, through qsort(). */
void sort(void *base, size_t num, size_t size,
	  int (*cmp)(const void *, const void *),
	  void (*swap)(void *, void *, int));

/* ------------------------------------------------------------------ */
/* modules                                                              */

/*
 * Modules: one struct per KBUILD_MODNAME (refcache, refcache_kunit,
 * ...), so THIS_MODULE names the same module in every file of it.  None
 * is ever unloaded natively: module notifiers are kept, never called.
 */
#define MODULE_NAME_LEN		56
struct module {
	char name[MODULE_NAME_LEN];
};
struct module *native_module(const char *name);
#define THIS_MODULE		native_module(KBUILD_MODNAME)
static inline const char *module_name(const struct module *mod)
{
	return mod ? mod->name : "kernel";
}
static inline bool try_module_get(struct module *mod) { return true; }
static inline void module_put(struct module *mod) { }
static inline void __module_get(struct module *mod) { }

enum module_state { MODULE_STATE_LIVE, MODULE_STATE_COMING, MODULE_STATE_GOING,
		    MODULE_STATE_UNFORMED };
#define NOTIFY_DONE		0x0000
#define NOTIFY_OK		0x0001
#define NOTIFY_STOP_MASK	0x8000
#define NOTIFY_BAD		(NOTIFY_STOP_MASK | 0x0002)
struct notifier_block {
	int (*notifier_call)(struct notifier_block *nb, unsigned long action, void *data);
	struct notifier_block *next;
	int priority;
};
int register_module_notifier(struct notifier_block *nb);
int unregister_module_notifier(struct notifier_block *nb);
#define EXPORT_SYMBOL(s)
#define EXPORT_SYMBOL_GPL(s)
#define EXPORT_SYMBOL_NS(s, ns)
#define EXPORT_SYMBOL_NS_GPL(s, ns)
#define EXPORT_SYMBOL_IF_KUNIT(s)
#define VISIBLE_IF_KUNIT
#define MODULE_IMPORT_NS(ns)
#define MODULE_LICENSE(s)
#define MODULE_DESCRIPTION(s)
#define MODULE_AUTHOR(s)
#define MODULE_VERSION(s)
#define MODULE_PARM_DESC(n, s)
void native_param_register(const char *name, const char *type, void *p);
#define module_param(n, t, p)						\
	static void __attribute__((constructor)) __native_param_##n(void) \
	{								\
		native_param_register(#n, #t, &(n));			\
	}
#define module_param_named(n, v, t, p)
#define module_param_cb(n, ops, arg, p)
/*
 * A module's init function is what a native program calls: a benchmark
 * module compiled natively defines NATIVE_MODULE_INIT to its name.
 */
#ifdef NATIVE_MODULE_INIT
#define module_init(f)	int NATIVE_MODULE_INIT(void) { return f(); }
#define module_exit(f)	void NATIVE_MODULE_EXIT(void) { f(); }
#else
#define module_init(f)
#define module_exit(f)
#endif
#define LINUX_VERSION_CODE	KERNEL_VERSION(6, 12, 0)
#ifndef KERNEL_VERSION
#define KERNEL_VERSION(a, b, c)	(((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))
#endif

/* Tracepoints are not built natively: each trace_<event>() is a no-op. */
#define TP_PROTO(...)		__VA_ARGS__
#define TP_ARGS(...)		__VA_ARGS__
#define TRACE_EVENT(name, proto, args, tstruct, assign, print) \
	static inline void trace_##name(proto) { }			\
	static inline bool trace_##name##_enabled(void) { return false; }
#define DECLARE_EVENT_CLASS(name, proto, args, tstruct, assign, print)
#define DEFINE_EVENT(class, name, proto, args) \
	static inline void trace_##name(proto) { }			\
	static inline bool trace_##name##_enabled(void) { return false; }

/*
 * linux/shrinker.h: gc.c's shrinker is compiled natively but never
 * registered (module init, main.c, is not built), so only the types.
 */
struct shrink_control {
	gfp_t gfp_mask;
	int nid;
	unsigned long nr_to_scan;
	unsigned long nr_scanned;
};

struct shrinker {
	unsigned long (*count_objects)(struct shrinker *s, struct shrink_control *sc);
	unsigned long (*scan_objects)(struct shrinker *s, struct shrink_control *sc);
	long batch;
	int seeks;
};

#define SHRINK_STOP	(~0UL)
#define SHRINK_EMPTY	(~0UL - 1)
#define DEFAULT_SEEKS	2

static inline struct shrinker *shrinker_alloc(unsigned int flags, const char *fmt, ...)
{
	return calloc(1, sizeof(struct shrinker));
}

static inline void shrinker_register(struct shrinker *s) { }
static inline void shrinker_free(struct shrinker *s) { free(s); }

#endif /* _NATIVE_KERNEL_H */
