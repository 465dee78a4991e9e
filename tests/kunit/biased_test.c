// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite refcache_biased: biased reference counting (kmod/biased.c,
 * Documentation/objects.rst, "Biased reference counting").  The owner's
 * local count, other tasks' shared count, the queue, the merges (at the
 * owner's zero, at its next refcache call, at its exit), the collector,
 * weak handles, saturation, and tasks racing on all of them.
 *
 * Other tasks are kthreads, bound to the other CPU where there is one.
 * They report through counters, never through KUNIT_EXPECT, and the test
 * waits for each to exit before it returns: their state is on its stack.
 */
#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/timer.h>

#include "internal.h"
#include "refcount.h"
#include "kunit_util.h"

/* Past 512 bytes: the large path frees at once, so KASAN sees any UAF. */
#define BIG_PAYLOAD	1024

/* Automatic collection off (threshold 0): a collection drains queues. */
static struct refcache_heap *quiet_heap(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);

	refcache_gc_set_threshold(heap, 0, 10, 10);
	return heap;
}

static struct refcache_cache *biased_cache(struct kunit *test, struct refcache_heap *heap,
					   unsigned int flags)
{
	return new_cache(test, heap, BIG_PAYLOAD, 2, REFCACHE_CACHE_BIASED | flags, NULL);
}

/* --- what a release callback saw: each object freed exactly once ------ */

struct counted {
	atomic_t *releases;
};

static void counted_release(struct refcache_obj *obj)
{
	struct counted *c = refcache_obj_payload(obj);

	if (c->releases)
		atomic_inc(c->releases);
}

static const struct refcache_type_ops counted_ops = {
	.release = counted_release,
};

static struct refcache_cache *counted_cache(struct kunit *test, struct refcache_heap *heap,
					    unsigned int flags)
{
	return new_cache(test, heap, BIG_PAYLOAD, 2, REFCACHE_CACHE_BIASED | flags,
			 &counted_ops);
}

static struct refcache_obj *counted_obj(struct refcache_obj *obj, atomic_t *releases)
{
	struct counted *c;

	if (IS_ERR_OR_NULL(obj))
		return obj;
	c = refcache_obj_payload(obj);
	c->releases = releases;
	return obj;
}

/* --- inspection --------------------------------------------------------- */

/* Checks one object's counts; a macro so that a failure names the caller's line. */
#define expect_bias(test, obj, owner, local, shared, state) \
	__expect_bias(test, __LINE__, obj, owner, local, shared, state)

static void __expect_bias(struct kunit *test, int line, const struct refcache_obj *obj,
			  const struct task_struct *owner, u32 local, int shared,
			  unsigned int state)
{
	struct refcache_bias_info bi;

	refcache_obj_bias_read(obj, &bi);
	KUNIT_EXPECT_PTR_EQ_MSG(test, bi.owner, owner, "owner, line %d", line);
	KUNIT_EXPECT_EQ_MSG(test, bi.local, local, "local, line %d", line);
	KUNIT_EXPECT_EQ_MSG(test, bi.shared, shared, "shared, line %d", line);
	KUNIT_EXPECT_EQ_MSG(test, bi.state, state, "state, line %d", line);
	KUNIT_EXPECT_FALSE_MSG(test, bi.saturated, "saturated, line %d", line);
}

/* Snapshots, without the lock. */
static u32 nowners(struct refcache_heap *heap)
{
	return READ_ONCE(heap->objs.bias.nowners);
}

static u64 nqueued(struct refcache_heap *heap)
{
	return READ_ONCE(heap->objs.bias.nqueued);
}

/* --- other tasks ------------------------------------------------------ */

/* A CPU other than the one the test runs on now, or -1 on one CPU. */
static int other_cpu(void)
{
	unsigned int cpu = cpumask_any_but(cpu_online_mask, raw_smp_processor_id());

	return cpu < nr_cpu_ids ? cpu : -1;
}

/* The n-th online CPU (modulo their number). */
static int nth_cpu(unsigned int n)
{
	unsigned int cpu;

	n %= num_online_cpus();
	for_each_online_cpu(cpu)
		if (!n--)
			return cpu;
	return -1;
}

/*
 * Pin the test's own thread to @cpu (a kthread of its own, which ends
 * with the case): spinning on a CPU shared with the task it waits for
 * would wait a scheduler tick each time.
 */
static void pin_current(int cpu)
{
	if (cpu >= 0)
		set_cpus_allowed_ptr(current, cpumask_of(cpu));
}

/*
 * Start @fn in a kthread, on @cpu unless it is negative, with a reference
 * to its task: wait_exit() needs one.
 */
static struct task_struct *spawn(struct kunit *test, int (*fn)(void *), void *arg, int cpu,
				 const char *name)
{
	struct task_struct *task = kthread_create(fn, arg, "%s", name);

	if (IS_ERR(task)) {
		KUNIT_FAIL(test, "kthread_create: %ld", PTR_ERR(task));
		return NULL;
	}
	if (cpu >= 0)
		kthread_bind(task, cpu);
	get_task_struct(task);
	wake_up_process(task);
	return task;
}

/*
 * Wait until @task has exited.  kthread_stop() and a completion both
 * return before exit_state is set, and exit_state is what tells refcache
 * that an owner is gone.  Does not drop the task reference.
 */
static void wait_exit(struct task_struct *task)
{
	while (!READ_ONCE(task->exit_state))
		usleep_range(500, 1000);
}

static void join(struct task_struct *task)
{
	if (!task)
		return;
	wait_exit(task);
	put_task_struct(task);
}

/* Run @fn in a kthread on another CPU (where there is one) and wait for its exit. */
static void run_elsewhere(struct kunit *test, int (*fn)(void *), void *arg)
{
	join(spawn(test, fn, arg, other_cpu(), "rc_biased_kt"));
}

/* Spin (yielding now and then) until *@a reads @v; false if *@stop is set first. */
static bool spin_until(atomic_t *a, int v, const bool *stop)
{
	unsigned long n = 0;

	while (atomic_read_acquire(a) != v) {
		if (stop && READ_ONCE(*stop))
			return false;
		if (!(++n & 63))
			cond_resched();
		else
			cpu_relax();
	}
	return true;
}

/*
 * A non-owner: @gets gets, then a look at the counts from where it runs,
 * then @puts puts.
 */
struct remote {
	struct refcache_obj *obj;
	unsigned int gets;
	unsigned int unless_zero;
	unsigned int puts;
	unsigned int unless_zero_failed;
	struct refcache_bias_info seen;
	unsigned int count;
	int cpu;
};

static int remote_fn(void *arg)
{
	struct remote *r = arg;
	unsigned int i;

	r->cpu = raw_smp_processor_id();
	for (i = 0; i < r->gets; i++)
		refcache_obj_get(r->obj);
	for (i = 0; i < r->unless_zero; i++)
		if (!refcache_ref_get_unless_zero(r->obj))
			r->unless_zero_failed++;
	refcache_obj_bias_read(r->obj, &r->seen);
	r->count = refcache_obj_refcount(r->obj);
	for (i = 0; i < r->puts; i++)
		refcache_obj_put(r->obj);
	return 0;
}

static struct remote remote(struct kunit *test, struct refcache_obj *obj, unsigned int gets,
			    unsigned int puts)
{
	struct remote r = { .obj = obj, .gets = gets, .puts = puts, .cpu = -1 };

	run_elsewhere(test, remote_fn, &r);
	return r;
}

/*
 * The heap's counters under refcache_heap_lock(), which (unlike every
 * refcache call that takes the mutex) neither drains nor reaps.
 */
struct peek {
	u64 objects;
	u64 nqueued;
	u64 gen0;
	u32 nowners;
};

static struct peek peek(struct refcache_heap *heap)
{
	struct peek p;

	refcache_heap_lock(heap);
	p.objects = heap->objs.objects;
	p.nqueued = heap->objs.bias.nqueued;
	p.gen0 = heap->objs.gc.nobjs[0];
	p.nowners = heap->objs.bias.nowners;
	refcache_heap_unlock(heap);
	return p;
}

/*
 * What a refcache call that takes the heap's mutex does first: the
 * caller's queue drained, owners that exited reaped.
 */
static void service(struct refcache_heap *heap)
{
	refcache_objspace_lock(heap);
	refcache_heap_unlock(heap);
}

static struct refcache_gc_result collect(struct kunit *test, struct refcache_heap *heap)
{
	struct refcache_gc_result res = {};

	KUNIT_EXPECT_EQ(test, refcache_gc_collect(heap, 2, &res), 0);
	KUNIT_EXPECT_EQ(test, res.uncollectable, 0ULL);
	KUNIT_EXPECT_EQ(test, res.unreachable, res.collected);
	return res;
}

/*
 * A ring of @n objects through slot 0; the caller keeps a reference to
 * each.  No assertion: some callers have kthreads waiting on their stack.
 */
static void make_ring(struct kunit *test, struct refcache_obj **objs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, refcache_obj_store(objs[i], 0, objs[(i + 1) % n]), 0);
}

static void new_objs(struct kunit *test, struct refcache_cache *cache,
		     struct refcache_obj **objs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		objs[i] = new_obj(test, cache);
}

static void put_all(struct refcache_obj **objs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		refcache_obj_put(objs[i]);
}

/* --- 1. the owner ------------------------------------------------------ */

/* The task that allocates owns: its gets and puts touch local only. */
static void biased_owner_counts_locally(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = biased_cache(test, heap, 0);
	struct refcache_obj *obj = new_obj(test, cache), *b;
	int i;

	expect_bias(test, obj, current, 1, 0, REFCACHE_BIAS_UNMERGED);
	KUNIT_EXPECT_EQ(test, nowners(heap), 1U);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 1U);

	for (i = 0; i < 10; i++)
		KUNIT_EXPECT_PTR_EQ(test, refcache_obj_get(obj), obj);
	KUNIT_EXPECT_TRUE(test, refcache_ref_get_unless_zero(obj));
	expect_bias(test, obj, current, 12, 0, REFCACHE_BIAS_UNMERGED);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 12U);

	/* A slot reference taken by the owner is a local one too. */
	b = new_obj(test, cache);
	KUNIT_EXPECT_EQ(test, nowners(heap), 1U);	/* one entry per task */
	KUNIT_ASSERT_EQ(test, refcache_obj_store(b, 0, obj), 0);
	expect_bias(test, obj, current, 13, 0, REFCACHE_BIAS_UNMERGED);
	refcache_obj_put(b);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	expect_bias(test, obj, current, 12, 0, REFCACHE_BIAS_UNMERGED);

	for (i = 0; i < 11; i++)
		refcache_obj_put(obj);
	expect_bias(test, obj, current, 1, 0, REFCACHE_BIAS_UNMERGED);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 1U);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	/* The owner's zero with nothing shared: freed on the spot. */
	refcache_obj_put(obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/* --- 2. a non-owner ---------------------------------------------------- */

static void biased_non_owner_counts_shared(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = biased_cache(test, heap, 0);
	struct refcache_obj *obj = new_obj(test, cache);
	struct remote r;

	/* The test on one CPU, the non-owner on the other. */
	pin_current(nth_cpu(0));
	refcache_obj_get(obj);
	refcache_obj_get(obj);
	r = remote(test, obj, 5, 0);
	if (num_online_cpus() > 1)
		KUNIT_EXPECT_NE(test, r.cpu, (int)raw_smp_processor_id());
	/* Seen from over there: the owner is still the test, its count untouched. */
	KUNIT_EXPECT_PTR_EQ(test, r.seen.owner, current);
	KUNIT_EXPECT_EQ(test, r.seen.local, 3U);
	KUNIT_EXPECT_EQ(test, r.seen.shared, 5);
	KUNIT_EXPECT_EQ(test, r.seen.state, REFCACHE_BIAS_UNMERGED);
	KUNIT_EXPECT_EQ(test, r.count, 8U);
	expect_bias(test, obj, current, 3, 5, REFCACHE_BIAS_UNMERGED);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 8U);

	/* get_unless_zero from a non-owner is a shared get too. */
	r = (struct remote){ .obj = obj, .unless_zero = 2 };
	run_elsewhere(test, remote_fn, &r);
	KUNIT_EXPECT_EQ(test, r.unless_zero_failed, 0U);
	expect_bias(test, obj, current, 3, 7, REFCACHE_BIAS_UNMERGED);

	r = remote(test, obj, 0, 7);
	expect_bias(test, obj, current, 3, 0, REFCACHE_BIAS_UNMERGED);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 3U);
	KUNIT_EXPECT_EQ(test, nqueued(heap), 0ULL);

	refcache_obj_put(obj);
	refcache_obj_put(obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	refcache_obj_put(obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/* --- 3. the owner's zero merges ---------------------------------------- */

static void biased_owner_zero_merges(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = biased_cache(test, heap, 0);
	struct refcache_obj *obj = new_obj(test, cache);
	struct remote r;

	r = remote(test, obj, 2, 0);
	expect_bias(test, obj, current, 1, 2, REFCACHE_BIAS_UNMERGED);
	/* The owner lets go while others hold it: merged, not freed. */
	refcache_obj_put(obj);
	expect_bias(test, obj, NULL, 0, 2, REFCACHE_BIAS_MERGED);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 2U);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);

	/* No owner any more: the former owner counts in shared like anyone. */
	refcache_obj_get(obj);
	expect_bias(test, obj, NULL, 0, 3, REFCACHE_BIAS_MERGED);
	refcache_obj_put(obj);
	expect_bias(test, obj, NULL, 0, 2, REFCACHE_BIAS_MERGED);

	r = remote(test, obj, 0, 1);
	KUNIT_EXPECT_EQ(test, r.count, 2U);
	expect_bias(test, obj, NULL, 0, 1, REFCACHE_BIAS_MERGED);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	/* The non-owner's last put frees it. */
	remote(test, obj, 0, 1);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	KUNIT_EXPECT_EQ(test, nqueued(heap), 0ULL);
}

/* --- 4. the queue ------------------------------------------------------ */

/*
 * A non-owner's put that finds shared at zero queues the object for its
 * owner, whose next refcache call merges it (dropping the queue's
 * reference).
 */
static void biased_queue_merged_at_owner_call(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = biased_cache(test, heap, REFCACHE_CACHE_TRACKED);
	struct refcache_obj *obj = new_obj(test, cache);
	struct peek p;

	refcache_obj_get(obj);
	refcache_obj_get(obj);
	/* Two of the owner's references handed to a non-owner, which drops them. */
	remote(test, obj, 0, 2);
	/* The first put queued; the second took shared below zero. */
	expect_bias(test, obj, current, 3, -1, REFCACHE_BIAS_QUEUED);
	KUNIT_EXPECT_EQ(test, nqueued(heap), 1ULL);
	/* The queue holds the first putter's reference: 3 - 1 = owner + queue. */
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 2U);
	/* Alive, but off its generation's list while queued. */
	p = peek(heap);
	KUNIT_EXPECT_EQ(test, p.objects, 1ULL);
	KUNIT_EXPECT_EQ(test, p.nqueued, 1ULL);
	KUNIT_EXPECT_EQ(test, p.gen0, 0ULL);
	/* refcache_heap_lock() alone, even the owner's, drains nothing. */
	expect_bias(test, obj, current, 3, -1, REFCACHE_BIAS_QUEUED);

	/* The owner's next refcache call that takes the mutex drains its queue. */
	refcache_objspace_lock(heap);
	expect_bias(test, obj, NULL, 0, 1, REFCACHE_BIAS_MERGED);
	KUNIT_EXPECT_EQ(test, heap->objs.bias.nqueued, 0ULL);
	KUNIT_EXPECT_EQ(test, heap->objs.gc.nobjs[0], 1ULL);
	refcache_heap_unlock(heap);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 1U);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	refcache_obj_put(obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/* The queue's reference was the last: the owner's drain frees the object. */
static void biased_queue_drain_frees(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = biased_cache(test, heap, 0);
	struct refcache_obj *obj = new_obj(test, cache);
	struct peek p;

	refcache_obj_get(obj);
	remote(test, obj, 0, 1);
	expect_bias(test, obj, current, 2, 0, REFCACHE_BIAS_QUEUED);
	refcache_obj_put(obj);
	expect_bias(test, obj, current, 1, 0, REFCACHE_BIAS_QUEUED);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 1U);
	/* Held by the queue alone, until its owner's next refcache call. */
	p = peek(heap);
	KUNIT_EXPECT_EQ(test, p.objects, 1ULL);
	KUNIT_EXPECT_EQ(test, p.nqueued, 1ULL);
	refcache_objspace_lock(heap);
	KUNIT_EXPECT_EQ(test, heap->objs.objects, 0ULL);
	KUNIT_EXPECT_EQ(test, heap->objs.bias.nqueued, 0ULL);
	refcache_heap_unlock(heap);
}

/* Queued objects still take gets; a get from zero is not a use-after-free. */
static void biased_queued_object_stays_usable(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = biased_cache(test, heap, 0);
	struct refcache_obj *obj = new_obj(test, cache);
	struct remote r;

	refcache_obj_get(obj);
	remote(test, obj, 0, 1);
	expect_bias(test, obj, current, 2, 0, REFCACHE_BIAS_QUEUED);
	/* Shared is zero, but the queue holds a reference: no warning, a get. */
	r = (struct remote){ .obj = obj, .unless_zero = 1, .gets = 1, .puts = 1 };
	run_elsewhere(test, remote_fn, &r);
	KUNIT_EXPECT_EQ(test, r.unless_zero_failed, 0U);
	KUNIT_EXPECT_EQ(test, r.seen.shared, 2);
	KUNIT_EXPECT_EQ(test, r.seen.state, REFCACHE_BIAS_QUEUED);
	expect_bias(test, obj, current, 2, 1, REFCACHE_BIAS_QUEUED);
	KUNIT_EXPECT_EQ(test, nqueued(heap), 1ULL);
	/* The owner's gets stay local while it waits to drain. */
	refcache_obj_get(obj);
	expect_bias(test, obj, current, 3, 1, REFCACHE_BIAS_QUEUED);
	refcache_obj_put(obj);

	/* Merge: local 2 + shared 1 - the queue's 1. */
	service(heap);
	expect_bias(test, obj, NULL, 0, 2, REFCACHE_BIAS_MERGED);
	remote(test, obj, 0, 1);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	refcache_obj_put(obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/*
 * A heap of /dev/refcache is counted only under its mutex (every handle
 * operation takes it): a put that would queue merges on the spot
 * instead, so a last put frees at once, whoever makes it.  The heap is
 * marked as refcache_open() marks it, its cache made as an ioctl makes
 * one; the owner here stays still while the others put.
 */
static void biased_user_cache_never_queues(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_obj *obj, *pair[2];
	struct refcache_cache *cache;

	heap->objs.bias.chardev = true;
	refcache_heap_lock(heap);
	cache = refcache_cache_create_locked(heap, "user", BIG_PAYLOAD, 2,
					     REFCACHE_CACHE_BIASED | REFCACHE_CACHE_TRACKED, NULL);
	refcache_heap_unlock(heap);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, cache);
	KUNIT_EXPECT_FALSE(test, heap->objs.bias.lockless);

	obj = new_obj(test, cache);
	refcache_obj_get(obj);
	refcache_obj_get(obj);
	remote(test, obj, 0, 1);
	expect_bias(test, obj, NULL, 0, 2, REFCACHE_BIAS_MERGED);
	KUNIT_EXPECT_EQ(test, nqueued(heap), 0ULL);
	remote(test, obj, 0, 1);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	refcache_obj_put(obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);

	/* The owner's last reference, dropped by another task: freed by that put. */
	obj = new_obj(test, cache);
	remote(test, obj, 0, 1);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);

	/* No grace period here, but the collector works the same. */
	new_objs(test, cache, pair, 2);
	make_ring(test, pair, 2);
	put_all(pair, 2);
	KUNIT_EXPECT_EQ(test, collect(test, heap).collected, 2ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/* --- 5. the owner exits --------------------------------------------------- */

struct exiting_owner {
	struct refcache_cache *cache;
	struct refcache_obj *obj;
	unsigned int extra;
	bool linger;
	struct completion made;
	struct completion go;
};

/*
 * Allocates (so owns) an object, takes @extra more references, and exits;
 * with @linger, only once told to go.
 */
static int exiting_owner_fn(void *arg)
{
	struct exiting_owner *o = arg;
	unsigned int i;

	o->obj = refcache_obj_alloc(o->cache);
	if (!IS_ERR(o->obj))
		for (i = 0; i < o->extra; i++)
			refcache_obj_get(o->obj);
	complete(&o->made);
	if (o->linger)
		wait_for_completion(&o->go);
	return 0;
}

static struct task_struct *owner_start(struct kunit *test, struct exiting_owner *o)
{
	struct task_struct *task;

	init_completion(&o->made);
	init_completion(&o->go);
	o->obj = NULL;
	task = spawn(test, exiting_owner_fn, o, other_cpu(), "rc_biased_own");
	if (!task)
		return NULL;
	wait_for_completion(&o->made);
	if (IS_ERR(o->obj)) {
		KUNIT_FAIL(test, "the owner's allocation failed: %ld", PTR_ERR(o->obj));
		complete(&o->go);
		join(task);
		return NULL;
	}
	return task;
}

/* Start an owner and wait for its exit; the caller puts the task. */
static struct task_struct *owner_exits(struct kunit *test, struct exiting_owner *o)
{
	struct task_struct *task;

	o->linger = false;
	task = owner_start(test, o);
	if (task)
		wait_exit(task);
	return task;
}

/*
 * The owner's references outlive it: nothing is freed until the next
 * refcache call notices the exit and merges, and then exactly at the
 * last put.
 */
static void biased_owner_exit_merged_at_next_call(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct exiting_owner o = { .cache = biased_cache(test, heap, 0), .extra = 2 };
	struct task_struct *task = owner_exits(test, &o);
	int i;

	if (!task)
		return;
	expect_bias(test, o.obj, task, 3, 0, REFCACHE_BIAS_UNMERGED);
	KUNIT_EXPECT_EQ(test, nowners(heap), 1U);
	/* The test is no owner: its get is shared. */
	refcache_obj_get(o.obj);
	expect_bias(test, o.obj, task, 3, 1, REFCACHE_BIAS_UNMERGED);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(o.obj), 4U);
	/* refcache_heap_lock() alone reaps nobody. */
	KUNIT_EXPECT_EQ(test, peek(heap).nowners, 1U);
	expect_bias(test, o.obj, task, 3, 1, REFCACHE_BIAS_UNMERGED);

	refcache_objspace_lock(heap);
	expect_bias(test, o.obj, NULL, 0, 4, REFCACHE_BIAS_MERGED);
	KUNIT_EXPECT_EQ(test, heap->objs.bias.nowners, 0U);
	KUNIT_EXPECT_EQ(test, heap->objs.objects, 1ULL);
	refcache_heap_unlock(heap);
	put_task_struct(task);

	for (i = 3; i > 0; i--) {
		refcache_obj_put(o.obj);
		KUNIT_EXPECT_EQ(test, refcache_obj_refcount(o.obj), (unsigned int)i);
		KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	}
	refcache_obj_put(o.obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/*
 * A put that would queue for an owner that has exited: the lock it takes
 * to queue notices the exit, and the object must come out merged with
 * the right count, not on the queue of a task that will never drain it.
 */
static void biased_owner_exit_then_queueing_put(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct exiting_owner o = { .cache = biased_cache(test, heap, 0), .extra = 2 };
	struct task_struct *task = owner_exits(test, &o);

	if (!task)
		return;
	/* Shared is zero: this put queues, and its lock reaps the owner. */
	refcache_obj_put(o.obj);
	expect_bias(test, o.obj, NULL, 0, 2, REFCACHE_BIAS_MERGED);
	KUNIT_EXPECT_EQ(test, nowners(heap), 0U);
	KUNIT_EXPECT_EQ(test, nqueued(heap), 0ULL);
	put_task_struct(task);
	refcache_obj_put(o.obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	refcache_obj_put(o.obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);

	/* The owner's only reference: that put frees it, once its lock reaps. */
	o.extra = 0;
	task = owner_exits(test, &o);
	if (!task)
		return;
	expect_bias(test, o.obj, task, 1, 0, REFCACHE_BIAS_UNMERGED);
	refcache_obj_put(o.obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	KUNIT_EXPECT_EQ(test, nowners(heap), 0U);
	put_task_struct(task);
}

/* An owner that exits with objects on its queue: the reaper drains them. */
static void biased_owner_exit_with_queue(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct exiting_owner o = { .cache = biased_cache(test, heap, 0), .extra = 3,
				   .linger = true };
	struct task_struct *task = owner_start(test, &o);
	struct remote r;

	if (!task)
		return;
	/* Queued while the owner lives (and makes no refcache call again). */
	r = remote(test, o.obj, 0, 1);
	KUNIT_EXPECT_EQ(test, r.count, 4U);
	expect_bias(test, o.obj, task, 4, 0, REFCACHE_BIAS_QUEUED);
	KUNIT_EXPECT_EQ(test, nqueued(heap), 1ULL);
	complete(&o.go);
	wait_exit(task);
	expect_bias(test, o.obj, task, 4, 0, REFCACHE_BIAS_QUEUED);

	refcache_objspace_lock(heap);
	expect_bias(test, o.obj, NULL, 0, 3, REFCACHE_BIAS_MERGED);
	KUNIT_EXPECT_EQ(test, heap->objs.bias.nqueued, 0ULL);
	KUNIT_EXPECT_EQ(test, heap->objs.bias.nowners, 0U);
	refcache_heap_unlock(heap);
	put_task_struct(task);
	remote(test, o.obj, 0, 2);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	refcache_obj_put(o.obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/*
 * The owner table has REFCACHE_BIAS_OWNERS entries: an object made by one
 * more live owner starts merged, with no owner; entries of owners that
 * exited are reused.
 */
struct crowd {
	struct refcache_cache *cache;
	struct refcache_obj *obj;
	struct completion made;
	struct completion *go;
};

static int crowd_fn(void *arg)
{
	struct crowd *c = arg;
	struct completion *go = c->go;

	c->obj = refcache_obj_alloc(c->cache);
	complete(&c->made);
	/* c is the test's, and may be gone once it saw "made" and "go". */
	wait_for_completion(go);
	return 0;
}

static void biased_owner_table_full(struct kunit *test)
{
	const unsigned int n = REFCACHE_BIAS_OWNERS + 1;
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = biased_cache(test, heap, 0);
	struct task_struct **tasks;
	struct refcache_obj **objs, *mine;
	struct completion go;
	struct crowd c;
	unsigned int i, started;

	tasks = kunit_kcalloc(test, n, sizeof(*tasks), GFP_KERNEL);
	objs = kunit_kcalloc(test, n, sizeof(*objs), GFP_KERNEL);
	KUNIT_ASSERT_TRUE(test, tasks && objs);
	init_completion(&go);
	c.cache = cache;
	c.go = &go;
	/* One at a time, so that the last one is the one left without an entry. */
	for (started = 0; started < n; started++) {
		init_completion(&c.made);
		tasks[started] = spawn(test, crowd_fn, &c, -1, "rc_biased_many");
		if (!tasks[started])
			break;
		wait_for_completion(&c.made);
		objs[started] = c.obj;
		if (IS_ERR(c.obj)) {
			KUNIT_FAIL(test, "owner %u: %ld", started, PTR_ERR(c.obj));
			objs[started++] = NULL;
			break;
		}
	}
	if (started == n) {
		KUNIT_EXPECT_EQ(test, nowners(heap), (u32)REFCACHE_BIAS_OWNERS);
		for (i = 0; i < REFCACHE_BIAS_OWNERS; i++)
			expect_bias(test, objs[i], tasks[i], 1, 0, REFCACHE_BIAS_UNMERGED);
		expect_bias(test, objs[n - 1], NULL, 0, 1, REFCACHE_BIAS_MERGED);
		/* Nor does the test get an entry: its gets are shared ones. */
		mine = refcache_obj_alloc(cache);
		KUNIT_EXPECT_FALSE(test, IS_ERR(mine));
		if (!IS_ERR(mine)) {
			expect_bias(test, mine, NULL, 0, 1, REFCACHE_BIAS_MERGED);
			refcache_obj_get(mine);
			expect_bias(test, mine, NULL, 0, 2, REFCACHE_BIAS_MERGED);
			refcache_obj_put(mine);
			refcache_obj_put(mine);
		}
		KUNIT_EXPECT_EQ(test, heap_objects(heap), (u64)n);
	}
	complete_all(&go);
	for (i = 0; i < started; i++)
		wait_exit(tasks[i]);

	/* All gone: the next refcache call merges their objects, frees every entry. */
	refcache_objspace_lock(heap);
	KUNIT_EXPECT_EQ(test, heap->objs.bias.nowners, 0U);
	refcache_heap_unlock(heap);
	for (i = 0; i < started; i++) {
		if (objs[i])
			expect_bias(test, objs[i], NULL, 0, 1, REFCACHE_BIAS_MERGED);
		put_task_struct(tasks[i]);
	}
	mine = new_obj(test, cache);
	expect_bias(test, mine, current, 1, 0, REFCACHE_BIAS_UNMERGED);
	KUNIT_EXPECT_EQ(test, nowners(heap), 1U);
	refcache_obj_put(mine);
	for (i = 0; i < started; i++)
		refcache_obj_put(objs[i]);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/* --- 6. the collector ------------------------------------------------------ */

/* Cycles of one owner's objects: found and freed, whatever their counts' split. */
static void biased_gc_cycles_of_one_owner(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = biased_cache(test, heap, REFCACHE_CACHE_TRACKED);
	struct refcache_obj *pair[2], *ring[7], *self, *held[3];
	struct refcache_gc_result res;

	new_objs(test, cache, pair, 2);
	make_ring(test, pair, 2);
	new_objs(test, cache, ring, 7);
	make_ring(test, ring, 7);
	self = new_obj(test, cache);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(self, 1, self), 0);
	/* Held from outside: must survive with its counts. */
	new_objs(test, cache, held, 3);
	make_ring(test, held, 3);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(held[2], 1, ring[3]), 0);
	put_all(pair, 2);
	put_all(ring, 7);
	refcache_obj_put(self);
	put_all(held + 1, 2);
	/* Each is held by its cycle alone: counting frees nothing. */
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 13ULL);
	expect_bias(test, ring[0], current, 1, 0, REFCACHE_BIAS_UNMERGED);

	res = collect(test, heap);
	KUNIT_EXPECT_EQ(test, res.collected, 3ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 10ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(held[0]), 2U);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(held[1]), 1U);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(held[2]), 1U);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(ring[3]), 2U);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(ring[4]), 1U);

	/* Nothing new to find; the survivors' counts did not move. */
	res = collect(test, heap);
	KUNIT_EXPECT_EQ(test, res.unreachable, 0ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(held[0]), 2U);

	refcache_obj_put(held[0]);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 10ULL);
	res = collect(test, heap);
	KUNIT_EXPECT_EQ(test, res.collected, 10ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/*
 * A second owner, alive while the collector runs (and counting its own
 * objects with preemption disabled): it makes objects, hands them over
 * and waits; the test links them with its own objects into one ring.
 */
struct lender {
	struct refcache_cache *cache;
	struct refcache_obj *objs[4];
	unsigned int extra[4];
	int err;
	struct completion made;
	struct completion go;
};

static int lender_fn(void *arg)
{
	struct lender *l = arg;
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(l->objs); i++) {
		l->objs[i] = refcache_obj_alloc(l->cache);
		if (IS_ERR(l->objs[i])) {
			l->err = PTR_ERR(l->objs[i]);
			l->objs[i] = NULL;
			continue;
		}
		for (j = 0; j < l->extra[i]; j++)
			refcache_obj_get(l->objs[i]);
	}
	complete(&l->made);
	wait_for_completion(&l->go);
	return 0;
}

static void biased_gc_cycles_of_two_owners(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct lender l = { .cache = biased_cache(test, heap, REFCACHE_CACHE_TRACKED),
			    .extra = { 0, 0, 1, 0 } };
	struct refcache_obj *y[2], *x0, *x1, *z, *w;
	struct refcache_gc_result res;
	struct task_struct *task;

	init_completion(&l.made);
	init_completion(&l.go);
	new_objs(test, l.cache, y, 2);
	task = spawn(test, lender_fn, &l, other_cpu(), "rc_biased_lend");
	if (!task)
		return;
	wait_for_completion(&l.made);
	KUNIT_EXPECT_EQ(test, l.err, 0);
	if (l.err)
		goto out;
	x0 = l.objs[0];
	x1 = l.objs[1];
	z = l.objs[2];
	w = l.objs[3];
	KUNIT_EXPECT_EQ(test, nowners(heap), 2U);

	/* x0 -> y0 -> x1 -> y1 -> x0: slots to x are shared, to y local. */
	refcache_obj_store(y[0], 0, x1);
	refcache_obj_store(x1, 0, y[1]);
	refcache_obj_store(y[1], 0, x0);
	refcache_obj_store(x0, 0, y[0]);
	put_all(y, 2);
	refcache_obj_put(x0);
	refcache_obj_put(x1);
	expect_bias(test, x0, task, 1, 0, REFCACHE_BIAS_UNMERGED);
	expect_bias(test, y[0], current, 1, 0, REFCACHE_BIAS_UNMERGED);

	/* z holds itself; our two puts (lent from its owner's count) queue it. */
	refcache_obj_store(z, 0, z);
	refcache_obj_put(z);
	refcache_obj_put(z);
	expect_bias(test, z, task, 2, 0, REFCACHE_BIAS_QUEUED);
	KUNIT_EXPECT_EQ(test, nqueued(heap), 1ULL);

	/* w holds itself, and we hold it. */
	refcache_obj_store(w, 0, w);
	expect_bias(test, w, task, 1, 1, REFCACHE_BIAS_UNMERGED);

	KUNIT_EXPECT_EQ(test, heap_objects(heap), 6ULL);
	/* The collector drains every queue, the lender's included. */
	res = collect(test, heap);
	KUNIT_EXPECT_EQ(test, res.collected, 5ULL);
	KUNIT_EXPECT_EQ(test, nqueued(heap), 0ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(w), 2U);
	/* The owner still lives: its count is still its own. */
	expect_bias(test, w, task, 1, 1, REFCACHE_BIAS_UNMERGED);
	refcache_obj_put(w);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(w), 1U);
	res = collect(test, heap);
	KUNIT_EXPECT_EQ(test, res.collected, 1ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
out:
	complete(&l.go);
	join(task);
}

/* A cycle whose owner exited: the collection (or its lock) merges it, then frees it. */
static void biased_gc_cycle_of_exited_owner(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct lender l = { .cache = biased_cache(test, heap, REFCACHE_CACHE_TRACKED) };
	struct refcache_gc_result res;
	struct task_struct *task;

	init_completion(&l.made);
	init_completion(&l.go);
	task = spawn(test, lender_fn, &l, other_cpu(), "rc_biased_lend");
	if (!task)
		return;
	wait_for_completion(&l.made);
	KUNIT_EXPECT_EQ(test, l.err, 0);
	if (!l.err) {
		make_ring(test, l.objs, 4);
		put_all(l.objs, 4);
		/* Each is held by a slot alone, counted in its owner's local. */
		expect_bias(test, l.objs[0], task, 1, 0, REFCACHE_BIAS_UNMERGED);
	}
	complete(&l.go);
	wait_exit(task);
	if (!l.err) {
		res = collect(test, heap);
		KUNIT_EXPECT_EQ(test, res.collected, 4ULL);
		KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
		KUNIT_EXPECT_EQ(test, nowners(heap), 0U);
		KUNIT_EXPECT_EQ(test, nqueued(heap), 0ULL);
	}
	put_task_struct(task);
}

/*
 * gc.freeze() and gc.unfreeze() move every tracked object, those queued
 * for another (live) owner too: queued objects are off their lists.
 */
static void biased_freeze_reaches_queued(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct lender l = { .cache = biased_cache(test, heap, REFCACHE_CACHE_TRACKED),
			    .extra = { 1, 1, 0, 0 } };
	struct task_struct *task;
	struct refcache_obj *a, *b;

	init_completion(&l.made);
	init_completion(&l.go);
	task = spawn(test, lender_fn, &l, other_cpu(), "rc_biased_lend");
	if (!task)
		return;
	wait_for_completion(&l.made);
	KUNIT_EXPECT_EQ(test, l.err, 0);
	if (l.err)
		goto out;
	a = l.objs[0];
	b = l.objs[1];

	/* a queued for its owner, then everything frozen. */
	refcache_obj_put(a);
	expect_bias(test, a, task, 2, 0, REFCACHE_BIAS_QUEUED);
	KUNIT_EXPECT_EQ(test, refcache_gc_freeze(heap), 4ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(a), REFCACHE_GC_PERMANENT);
	KUNIT_EXPECT_EQ(test, refcache_gc_get_freeze_count(heap), 4ULL);
	expect_bias(test, a, NULL, 0, 1, REFCACHE_BIAS_MERGED);

	/* b frozen, then queued, then everything unfrozen. */
	refcache_obj_put(b);
	expect_bias(test, b, task, 2, 0, REFCACHE_BIAS_QUEUED);
	KUNIT_EXPECT_EQ(test, refcache_gc_unfreeze(heap), 4ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(a), REFCACHE_GC_GENERATIONS - 1);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(b), REFCACHE_GC_GENERATIONS - 1);
	KUNIT_EXPECT_EQ(test, refcache_gc_get_freeze_count(heap), 0ULL);
	expect_bias(test, b, NULL, 0, 1, REFCACHE_BIAS_MERGED);
	KUNIT_EXPECT_EQ(test, nqueued(heap), 0ULL);
	/* Two freed; two queued for their owner, until it is reaped. */
	put_all(l.objs, 4);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 2ULL);
out:
	complete(&l.go);
	join(task);
	service(heap);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/* --- 7. weak handles ----------------------------------------------------- */

/*
 * A weak handle's upgrade, as REFCACHE_OP_WEAK_UPGRADE does it in
 * refcache_handle_op_locked() (which is not exported): a reference
 * unless the object is dead, then a strong handle owning one.  The
 * handle helpers take the mutex as an ioctl does.
 */
static int weak_upgrade(struct refcache_heap *heap, u64 weak, u64 *strong)
{
	struct refcache_obj *obj;
	int ret;

	refcache_objspace_lock(heap);
	ret = refcache_handle_lookup_locked(heap, weak, true, &obj);
	if (!ret && (!obj || !refcache_obj_get_unless_zero(obj)))
		ret = -ENOENT;
	if (!ret) {
		ret = refcache_handle_new_locked(heap, obj, false, strong);
		refcache_obj_put_locked(heap, obj);
	}
	refcache_heap_unlock(heap);
	return ret;
}

/* The count behind a strong handle, as REFCACHE_OP_REFCOUNT reports it. */
static u64 handle_count(struct refcache_heap *heap, u64 strong)
{
	struct refcache_obj *obj;
	u64 count = 0;

	refcache_objspace_lock(heap);
	if (!refcache_handle_lookup_locked(heap, strong, false, &obj))
		count = refcache_obj_refcount(obj);
	refcache_heap_unlock(heap);
	return count;
}

static int handle_close(struct refcache_heap *heap, u64 id)
{
	int ret;

	refcache_objspace_lock(heap);
	ret = refcache_handle_close_locked(heap, id);
	refcache_heap_unlock(heap);
	return ret;
}

/* Upgrade a weak handle, read the count through the strong one, close it. */
struct upgrade {
	struct refcache_heap *heap;
	u64 weak;
	int ret;
	u64 count;
	struct refcache_bias_info seen;
};

static int upgrade_fn(void *arg)
{
	struct upgrade *u = arg;
	struct refcache_obj *obj;
	u64 strong;

	u->ret = weak_upgrade(u->heap, u->weak, &strong);
	if (u->ret)
		return 0;
	refcache_heap_lock(u->heap);
	if (!refcache_handle_lookup_locked(u->heap, strong, false, &obj))
		refcache_obj_bias_read(obj, &u->seen);
	refcache_heap_unlock(u->heap);
	u->count = handle_count(u->heap, strong);
	handle_close(u->heap, strong);
	return 0;
}

static u64 new_weak(struct kunit *test, struct refcache_heap *heap, struct refcache_obj *obj)
{
	u64 id = 0;

	refcache_heap_lock(heap);
	KUNIT_EXPECT_EQ(test, refcache_handle_new_locked(heap, obj, true, &id), 0);
	refcache_heap_unlock(heap);
	return id;
}

static struct refcache_obj *weak_target(struct kunit *test, struct refcache_heap *heap, u64 id)
{
	struct refcache_obj *obj = ERR_PTR(-EBADF);

	refcache_heap_lock(heap);
	KUNIT_EXPECT_EQ(test, refcache_handle_lookup_locked(heap, id, true, &obj), 0);
	refcache_heap_unlock(heap);
	return obj;
}

static void biased_weak_upgrade(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = biased_cache(test, heap, 0);
	struct refcache_obj *obj = new_obj(test, cache);
	u64 weak = new_weak(test, heap, obj), strong;
	struct upgrade u = { .heap = heap, .weak = weak };

	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 1U);
	/* From the owner: the strong handle's reference is a local one. */
	KUNIT_ASSERT_EQ(test, weak_upgrade(heap, weak, &strong), 0);
	expect_bias(test, obj, current, 2, 0, REFCACHE_BIAS_UNMERGED);
	KUNIT_EXPECT_EQ(test, handle_count(heap, strong), 2ULL);

	/* From a non-owner: a shared one, and the handle reports local + shared. */
	run_elsewhere(test, upgrade_fn, &u);
	KUNIT_EXPECT_EQ(test, u.ret, 0);
	KUNIT_EXPECT_EQ(test, u.count, 3ULL);
	KUNIT_EXPECT_PTR_EQ(test, u.seen.owner, current);
	KUNIT_EXPECT_EQ(test, u.seen.local, 2U);
	KUNIT_EXPECT_EQ(test, u.seen.shared, 1);
	/* Its close put shared back to zero. */
	expect_bias(test, obj, current, 2, 0, REFCACHE_BIAS_UNMERGED);

	KUNIT_EXPECT_EQ(test, handle_close(heap, strong), 0);
	expect_bias(test, obj, current, 1, 0, REFCACHE_BIAS_UNMERGED);
	KUNIT_EXPECT_PTR_EQ(test, weak_target(test, heap, weak), obj);

	/* Merged (the owner let go, a non-owner holds it): upgrades still work. */
	remote(test, obj, 1, 0);
	refcache_obj_put(obj);
	expect_bias(test, obj, NULL, 0, 1, REFCACHE_BIAS_MERGED);
	u = (struct upgrade){ .heap = heap, .weak = weak };
	run_elsewhere(test, upgrade_fn, &u);
	KUNIT_EXPECT_EQ(test, u.ret, 0);
	KUNIT_EXPECT_EQ(test, u.count, 2ULL);
	KUNIT_ASSERT_EQ(test, weak_upgrade(heap, weak, &strong), 0);
	KUNIT_EXPECT_EQ(test, handle_count(heap, strong), 2ULL);
	KUNIT_EXPECT_EQ(test, handle_close(heap, strong), 0);

	/* The last put: the weak handle is cleared and upgrades fail, anywhere. */
	remote(test, obj, 0, 1);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	KUNIT_EXPECT_NULL(test, weak_target(test, heap, weak));
	KUNIT_EXPECT_EQ(test, weak_upgrade(heap, weak, &strong), -ENOENT);
	u = (struct upgrade){ .heap = heap, .weak = weak };
	run_elsewhere(test, upgrade_fn, &u);
	KUNIT_EXPECT_EQ(test, u.ret, -ENOENT);
	KUNIT_EXPECT_EQ(test, handle_close(heap, weak), 0);
}

/* A queued object is alive (the queue holds it): its weak handle upgrades. */
static void biased_weak_upgrade_queued(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = biased_cache(test, heap, 0);
	struct refcache_obj *obj = new_obj(test, cache);
	u64 weak = new_weak(test, heap, obj);
	struct upgrade u = { .heap = heap, .weak = weak };

	refcache_obj_get(obj);
	remote(test, obj, 0, 1);
	refcache_obj_put(obj);
	/* Held by the queue alone. */
	expect_bias(test, obj, current, 1, 0, REFCACHE_BIAS_QUEUED);
	run_elsewhere(test, upgrade_fn, &u);
	KUNIT_EXPECT_EQ(test, u.ret, 0);
	KUNIT_EXPECT_EQ(test, u.count, 2ULL);
	KUNIT_EXPECT_EQ(test, u.seen.shared, 1);
	KUNIT_EXPECT_EQ(test, u.seen.state, REFCACHE_BIAS_QUEUED);
	/* Still queued (and alive) after that strong handle's close. */
	expect_bias(test, obj, current, 1, 0, REFCACHE_BIAS_QUEUED);

	/* The owner's drain drops the queue's reference, the last. */
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	service(heap);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	KUNIT_EXPECT_NULL(test, weak_target(test, heap, weak));
}

/* Garbage the collector frees: its weak handles are cleared first. */
static void biased_weak_cleared_by_collector(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = biased_cache(test, heap, REFCACHE_CACHE_TRACKED);
	struct refcache_obj *pair[2];
	u64 weak[2], strong;
	struct upgrade u;

	new_objs(test, cache, pair, 2);
	make_ring(test, pair, 2);
	weak[0] = new_weak(test, heap, pair[0]);
	weak[1] = new_weak(test, heap, pair[1]);
	put_all(pair, 2);
	/* Unreachable but not yet found: upgrades work, from anywhere. */
	u = (struct upgrade){ .heap = heap, .weak = weak[1] };
	run_elsewhere(test, upgrade_fn, &u);
	KUNIT_EXPECT_EQ(test, u.ret, 0);
	KUNIT_EXPECT_EQ(test, u.count, 2ULL);
	KUNIT_EXPECT_EQ(test, collect(test, heap).collected, 2ULL);
	KUNIT_EXPECT_NULL(test, weak_target(test, heap, weak[0]));
	KUNIT_EXPECT_NULL(test, weak_target(test, heap, weak[1]));
	KUNIT_EXPECT_EQ(test, weak_upgrade(heap, weak[0], &strong), -ENOENT);
	u = (struct upgrade){ .heap = heap, .weak = weak[1] };
	run_elsewhere(test, upgrade_fn, &u);
	KUNIT_EXPECT_EQ(test, u.ret, -ENOENT);
}

/* --- 8. saturation and underflow ------------------------------------------ */

/* The raw shared word: a count and a state (refcount.h). */
static int shared_raw(int count, unsigned int state)
{
	return (int)((unsigned int)count << REFCACHE_BIAS_SHIFT) | state;
}

static void expect_saturated(struct kunit *test, struct refcache_obj *obj)
{
	struct refcache_bias_info bi;

	refcache_obj_bias_read(obj, &bi);
	KUNIT_EXPECT_TRUE(test, bi.saturated);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), (unsigned int)REFCOUNT_SATURATED);
}

/*
 * A non-owner's get that takes shared to 2^28 saturates it, with a
 * warning; from then on nothing frees the object (the heap's teardown
 * does).  Counting up there takes 2^28 atomics, far too slow under
 * emulation: the count is set just below, as obj_refcount_saturates does.
 */
static void biased_shared_saturates(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = biased_cache(test, heap, 0);
	struct refcache_obj *obj = new_obj(test, cache);

	atomic_set(&obj->ref.refs, shared_raw((1 << 28) - 1, REFCACHE_BIAS_UNMERGED));
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 1U << 28);
	expect_splat_begin();
	remote(test, obj, 1, 0);
	expect_splat_end();
	expect_saturated(test, obj);
	/* Saturated for good: the owner's zero merges nothing away, puts free nothing. */
	refcache_obj_put(obj);
	expect_saturated(test, obj);
	remote(test, obj, 0, 3);
	refcache_obj_get(obj);
	refcache_obj_put(obj);
	expect_saturated(test, obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	/* Nor does the collector count it as garbage. */
	KUNIT_EXPECT_EQ(test, refcache_gc_collect(heap, 2, NULL), 0);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
}

/*
 * The owner counts locally up to REFCACHE_BIAS_LOCAL_MAX, then in
 * shared, so its gets saturate there too.  local is set by the owner
 * itself (the test), as the owner's own gets would have.
 */
static void biased_owner_spills_to_shared(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = biased_cache(test, heap, 0);
	struct refcache_obj *obj = new_obj(test, cache), *sat = new_obj(test, cache);
	struct refcache_bias *b = obj_bias(obj);

	WRITE_ONCE(b->local, REFCACHE_BIAS_LOCAL_MAX - 1);
	refcache_obj_get(obj);
	expect_bias(test, obj, current, REFCACHE_BIAS_LOCAL_MAX, 0, REFCACHE_BIAS_UNMERGED);
	refcache_obj_get(obj);
	KUNIT_EXPECT_TRUE(test, refcache_ref_get_unless_zero(obj));
	expect_bias(test, obj, current, REFCACHE_BIAS_LOCAL_MAX, 2, REFCACHE_BIAS_UNMERGED);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), REFCACHE_BIAS_LOCAL_MAX + 2);
	/* Back down, as if the owner had put all but two of its references. */
	WRITE_ONCE(b->local, 2);
	refcache_obj_put(obj);
	refcache_obj_put(obj);
	expect_bias(test, obj, NULL, 0, 2, REFCACHE_BIAS_MERGED);
	refcache_obj_put(obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 2ULL);
	refcache_obj_put(obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);

	/* Full local, shared one short of the limit: the owner's get saturates. */
	b = obj_bias(sat);
	WRITE_ONCE(b->local, REFCACHE_BIAS_LOCAL_MAX);
	atomic_set(&sat->ref.refs, shared_raw((1 << 28) - 1, REFCACHE_BIAS_UNMERGED));
	expect_splat_begin();
	refcache_obj_get(sat);
	expect_splat_end();
	expect_saturated(test, sat);
	WRITE_ONCE(b->local, 1);
	refcache_obj_put(sat);
	expect_saturated(test, sat);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
}

/*
 * A merged object, kept in memory, whose count went to zero: as if one
 * put too many had happened (obj_underflow_warns_not_frees).  The owner
 * has let go, so the test counts in shared like anyone.
 */
static struct refcache_obj *merged_zero(struct kunit *test, struct refcache_cache *cache)
{
	struct refcache_obj *obj = new_obj(test, cache);

	remote(test, obj, 1, 0);
	refcache_obj_put(obj);
	expect_bias(test, obj, NULL, 0, 1, REFCACHE_BIAS_MERGED);
	atomic_set(&obj->ref.refs, shared_raw(0, REFCACHE_BIAS_MERGED));
	return obj;
}

static void biased_underflow_warns_not_frees(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = biased_cache(test, heap, 0);
	struct refcache_obj *obj = merged_zero(test, cache);

	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 0U);
	expect_splat_begin();
	refcache_obj_put(obj);
	expect_splat_end();
	expect_saturated(test, obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);

	/* Below zero in a non-owner: the same. */
	obj = merged_zero(test, cache);
	expect_splat_begin();
	remote(test, obj, 0, 1);
	expect_splat_end();
	expect_saturated(test, obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 2ULL);
}

static void biased_get_from_zero_warns(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = biased_cache(test, heap, 0);
	struct refcache_obj *obj = merged_zero(test, cache);
	struct remote r = { .obj = obj, .unless_zero = 1 };

	/* Merged and zero is dead: no reference without one. */
	KUNIT_EXPECT_FALSE(test, refcache_ref_get_unless_zero(obj));
	run_elsewhere(test, remote_fn, &r);
	KUNIT_EXPECT_EQ(test, r.unless_zero_failed, 1U);
	expect_bias(test, obj, NULL, 0, 0, REFCACHE_BIAS_MERGED);
	expect_splat_begin();
	refcache_obj_get(obj);
	expect_splat_end();
	expect_saturated(test, obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
}

/* --- 9. tasks racing --------------------------------------------------- */

#define RACE_ROUNDS	600

/*
 * The last two references, dropped at once by the owner and a non-owner
 * on the other CPU: the merge's compare-and-exchange against the shared
 * put.  Exactly one of them frees, exactly once.  In odd rounds the
 * non-owner's reference is one the owner lent it from its local count,
 * so its put queues and the owner's next refcache call frees (in half
 * of them the owner also makes one while the racer queues).
 */
struct race {
	struct refcache_obj *obj;
	struct task_struct *racer;	/* frees counted in racer_freed */
	atomic_t racer_freed;
	atomic_t round;		/* test -> racer: the object of this round is out */
	atomic_t got;		/* racer -> test: holds its reference */
	atomic_t put;		/* racer -> test: dropped it */
	bool stop;		/* test -> racer: no more rounds */
	atomic_t releases;
};

static int racer_fn(void *arg)
{
	struct race *r = arg;
	int round;

	for (round = 1; round <= RACE_ROUNDS; round++) {
		if (!spin_until(&r->round, round, &r->stop))
			break;
		if (!(round & 1))
			refcache_obj_get(r->obj);
		atomic_set_release(&r->got, round);
		refcache_obj_put(r->obj);
		atomic_set_release(&r->put, round);
	}
	return 0;
}

/* Counts the releases, and those the racer did. */
static void race_release(struct refcache_obj *obj)
{
	struct counted *c = refcache_obj_payload(obj);
	struct race *r = container_of(c->releases, struct race, releases);

	atomic_inc(&r->releases);
	if (current == r->racer)
		atomic_inc(&r->racer_freed);
}

static const struct refcache_type_ops race_ops = {
	.release = race_release,
};

static void biased_race_last_put(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = new_cache(test, heap, BIG_PAYLOAD, 0,
						 REFCACHE_CACHE_BIASED, &race_ops);
	struct race r = {};
	struct task_struct *task;
	int round, early = 0, late = 0;

	pin_current(nth_cpu(0));
	task = spawn(test, racer_fn, &r, nth_cpu(1), "rc_biased_race");
	if (!task)
		return;
	r.racer = task;
	for (round = 1; round <= RACE_ROUNDS; round++) {
		r.obj = counted_obj(refcache_obj_alloc(cache), &r.releases);
		if (IS_ERR(r.obj)) {
			KUNIT_FAIL(test, "round %d: %ld", round, PTR_ERR(r.obj));
			break;
		}
		if (round & 1)
			refcache_obj_get(r.obj);	/* lent to the racer */
		atomic_set_release(&r.round, round);
		spin_until(&r.got, round, NULL);
		refcache_obj_put(r.obj);
		if ((round & 3) == 1)
			service(heap);	/* a drain while the racer may be queueing */
		spin_until(&r.put, round, NULL);
		if ((round & 3) == 3 && atomic_read(&r.releases) != round - 1)
			early++;	/* queued for us: alive until our next call */
		if (round & 1)
			service(heap);
		if (atomic_read(&r.releases) != round)
			late++;
	}
	WRITE_ONCE(r.stop, true);
	join(task);
	kunit_info(test, "%d of %d last puts raced were the non-owner's\n",
		   atomic_read(&r.racer_freed), RACE_ROUNDS / 2);
	KUNIT_EXPECT_EQ(test, early, 0);
	KUNIT_EXPECT_EQ(test, late, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&r.releases), RACE_ROUNDS);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	KUNIT_EXPECT_EQ(test, nqueued(heap), 0ULL);
}

#define UPGRADE_ROUNDS	300

/*
 * The owner's last put against weak upgrades on the other CPU: an
 * upgrade either gets in before the owner's merge (which then finds a
 * count and frees nothing) or sees "merged and zero" and fails, even
 * while the dead object waits for its putter to get the lock.  KASAN
 * sees an upgrade that gets a freed object.
 */
struct upgrader {
	struct refcache_heap *heap;
	u64 weak;
	atomic_t round;		/* test -> upgrader: this round's weak handle is out */
	atomic_t done;		/* upgrader -> test: an upgrade failed */
	bool stop;
	unsigned int upgrades;
	unsigned int bad;
};

static int upgrader_fn(void *arg)
{
	struct upgrader *u = arg;
	int round, ret;
	u64 strong;

	for (round = 1; round <= UPGRADE_ROUNDS; round++) {
		if (!spin_until(&u->round, round, &u->stop))
			break;
		while (!(ret = weak_upgrade(u->heap, u->weak, &strong))) {
			u->upgrades++;
			handle_close(u->heap, strong);
		}
		if (ret != -ENOENT)
			u->bad++;
		atomic_set_release(&u->done, round);
	}
	return 0;
}

static void biased_race_weak_upgrade(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = counted_cache(test, heap, 0);
	struct upgrader u = { .heap = heap };
	atomic_t releases = ATOMIC_INIT(0);
	struct task_struct *task;
	struct refcache_obj *obj;
	int round, late = 0;

	pin_current(nth_cpu(0));
	task = spawn(test, upgrader_fn, &u, nth_cpu(1), "rc_biased_upg");
	if (!task)
		return;
	for (round = 1; round <= UPGRADE_ROUNDS; round++) {
		obj = counted_obj(refcache_obj_alloc(cache), &releases);
		if (IS_ERR(obj)) {
			KUNIT_FAIL(test, "round %d: %ld", round, PTR_ERR(obj));
			break;
		}
		u.weak = new_weak(test, heap, obj);
		atomic_set_release(&u.round, round);
		/* Let some upgrades through first, now and then. */
		if (round & 1)
			udelay(round % 50);
		refcache_obj_put(obj);
		spin_until(&u.done, round, NULL);
		if (atomic_read(&releases) != round)
			late++;
		handle_close(heap, u.weak);
	}
	WRITE_ONCE(u.stop, true);
	join(task);
	kunit_info(test, "%u upgrades in %d rounds\n", u.upgrades, UPGRADE_ROUNDS);
	KUNIT_EXPECT_EQ(test, u.bad, 0U);
	KUNIT_EXPECT_EQ(test, late, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&releases), UPGRADE_ROUNDS);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

#define EXIT_ROUNDS	60

/*
 * Owners that come and go: each allocates, lends the test two references
 * and exits while the test drops one of them (queueing it to the owner,
 * or merging it if the owner is already gone) and makes a refcache call
 * (which drains nothing of the owner's, and reaps it once it exited).  Whatever
 * the order, the object ends merged with the test's last reference, and
 * no owner entry is left behind.
 */
struct short_lived {
	struct refcache_cache *cache;
	struct refcache_obj *obj;
	struct completion made;
};

static int short_lived_fn(void *arg)
{
	struct short_lived *s = arg;
	struct refcache_obj *obj = refcache_obj_alloc(s->cache);
	int i;

	if (!IS_ERR(obj)) {
		refcache_obj_get(obj);
		refcache_obj_get(obj);
	}
	s->obj = obj;
	complete(&s->made);
	if (IS_ERR(obj))
		return 0;
	/* Its own counting, racing with the test's, then its last put. */
	for (i = 0; i < 100; i++) {
		refcache_obj_get(obj);
		refcache_obj_put(obj);
	}
	refcache_obj_put(obj);
	return 0;
}

static void biased_race_owner_exit(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct short_lived s = { .cache = counted_cache(test, heap, 0) };
	struct task_struct *task;
	struct refcache_bias_info bi;
	atomic_t releases = ATOMIC_INIT(0);
	int round, bad = 0, queued = 0;

	pin_current(nth_cpu(0));
	for (round = 1; round <= EXIT_ROUNDS; round++) {
		init_completion(&s.made);
		task = spawn(test, short_lived_fn, &s, nth_cpu(1), "rc_biased_short");
		if (!task)
			break;
		wait_for_completion(&s.made);
		if (IS_ERR(s.obj)) {
			KUNIT_FAIL(test, "round %d: %ld", round, PTR_ERR(s.obj));
			join(task);
			break;
		}
		counted_obj(s.obj, &releases);
		refcache_obj_put(s.obj);
		service(heap);
		refcache_obj_bias_read(s.obj, &bi);
		if (bi.state == REFCACHE_BIAS_QUEUED)
			queued++;
		wait_exit(task);
		refcache_objspace_lock(heap);
		refcache_obj_bias_read(s.obj, &bi);
		if (bi.owner || bi.state != REFCACHE_BIAS_MERGED || bi.shared != 1 ||
		    heap->objs.bias.nowners || heap->objs.bias.nqueued)
			bad++;
		refcache_heap_unlock(heap);
		put_task_struct(task);
		if (atomic_read(&releases) != round - 1)
			bad++;
		refcache_obj_put(s.obj);
		if (atomic_read(&releases) != round)
			bad++;
	}
	kunit_info(test, "%d of %d rounds queued for a live owner\n", queued, EXIT_ROUNDS);
	KUNIT_EXPECT_EQ(test, bad, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&releases), EXIT_ROUNDS);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/*
 * Gets from interrupt context always use the shared count, even on the
 * owner's CPU in the middle of the owner's own counting.
 */
struct irq_get {
	struct timer_list timer;
	struct refcache_obj *obj;
	bool got;
	struct completion done;
};

static void irq_get_fn(struct timer_list *t)
{
	struct irq_get *g = from_timer(g, t, timer);

	refcache_obj_get(g->obj);
	g->got = refcache_ref_get_unless_zero(g->obj);
	complete(&g->done);
}

static void biased_irq_gets_are_shared(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = biased_cache(test, heap, 0);
	struct irq_get g = { .obj = new_obj(test, cache) };
	int i;

	init_completion(&g.done);
	timer_setup_on_stack(&g.timer, irq_get_fn, 0);
	refcache_obj_get(g.obj);
	mod_timer(&g.timer, jiffies + 1);
	/* The owner counts meanwhile, on whatever CPU the timer fires. */
	while (!completion_done(&g.done)) {
		refcache_obj_get(g.obj);
		refcache_obj_put(g.obj);
		cond_resched();
	}
	wait_for_completion(&g.done);
	del_timer_sync(&g.timer);
	destroy_timer_on_stack(&g.timer);
	KUNIT_EXPECT_TRUE(test, g.got);
	expect_bias(test, g.obj, current, 2, 2, REFCACHE_BIAS_UNMERGED);
	for (i = 0; i < 3; i++)
		refcache_obj_put(g.obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	expect_bias(test, g.obj, NULL, 0, 1, REFCACHE_BIAS_MERGED);
	refcache_obj_put(g.obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

#define HAMMER_OBJS	8
#define HAMMER_HELD	4
#define HAMMER_THREADS	2

/*
 * Tasks getting and putting the same objects at once, each holding a
 * base reference to every object throughout; a few references are held
 * across iterations, so puts interleave with other objects' gets.
 */
struct hammer {
	struct refcache_heap *heap;
	struct refcache_cache *cache;
	struct refcache_obj *objs[HAMMER_OBJS];
	atomic_t releases;
	bool gc;			/* ring the objects, make garbage, collect */
	bool kthread_owns;		/* the first kthread allocates the objects */
	struct completion objs_ready;
	atomic_t started;		/* all tasks start hammering together */
	atomic_t running;		/* hammering tasks not done yet */
	atomic_t unless_zero_failed;
	atomic_t alloc_failed;
	atomic_t garbage;		/* objects made unreachable */
	u64 collected;			/* by the collector thread */
	u64 collections;
	u64 bad_results;
};

struct hammer_task {
	struct hammer *h;
	u32 seed;
	bool owner;			/* allocates the objects */
	unsigned int iters;
	struct refcache_obj *held[HAMMER_HELD];
};

static u32 xorshift(u32 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* A two-object cycle of the caller's, dropped: for the collector to find. */
static void hammer_garbage(struct hammer *h)
{
	struct refcache_obj *a, *b;

	a = counted_obj(refcache_obj_alloc(h->cache), &h->releases);
	b = counted_obj(refcache_obj_alloc(h->cache), &h->releases);
	if (IS_ERR(a) || IS_ERR(b)) {
		atomic_inc(&h->alloc_failed);
		if (!IS_ERR(a))
			refcache_obj_put(a);
		if (!IS_ERR(b))
			refcache_obj_put(b);
		return;
	}
	refcache_obj_store(a, 1, b);
	refcache_obj_store(b, 1, a);
	refcache_obj_put(a);
	refcache_obj_put(b);
	atomic_add(2, &h->garbage);
}

static void hammer_loop(struct hammer_task *t)
{
	struct hammer *h = t->h;
	struct refcache_obj *obj;
	unsigned int i, k, n, got;
	u32 rnd;

	atomic_inc(&h->started);
	spin_until(&h->started, HAMMER_THREADS + 1, NULL);
	for (i = 0; i < t->iters; i++) {
		rnd = xorshift(&t->seed);
		obj = h->objs[rnd % HAMMER_OBJS];
		n = 1 + (rnd >> 8) % 3;
		got = 0;
		for (k = 0; k < n; k++) {
			if (rnd & BIT(16 + k))
				refcache_obj_get(obj);
			else if (!refcache_ref_get_unless_zero(obj))
				continue;
			got++;
		}
		if (got < n)
			atomic_add(n - got, &h->unless_zero_failed);
		/* Keep one of them for a while, and let an older one go. */
		if (got && (rnd & BIT(20))) {
			k = (rnd >> 21) % HAMMER_HELD;
			refcache_obj_put(t->held[k]);
			t->held[k] = obj;
			got--;
		}
		while (got--)
			refcache_obj_put(obj);
		if (h->gc && !(i & 127))
			hammer_garbage(h);
		/* An owner drains its queue; anyone reaps an owner that exited. */
		if (!(i & 255))
			service(h->heap);
		if (!(i & 63))
			cond_resched();
	}
	for (k = 0; k < HAMMER_HELD; k++) {
		refcache_obj_put(t->held[k]);
		t->held[k] = NULL;
	}
}

/* The objects, with @extra more references each for the others' bases. */
static int hammer_make(struct hammer *h, unsigned int extra)
{
	unsigned int i, j;

	for (i = 0; i < HAMMER_OBJS; i++) {
		h->objs[i] = counted_obj(refcache_obj_alloc(h->cache), &h->releases);
		if (IS_ERR(h->objs[i])) {
			atomic_inc(&h->alloc_failed);
			while (i--)
				refcache_obj_put(h->objs[i]);
			return -ENOMEM;
		}
		for (j = 0; j < extra; j++)
			refcache_obj_get(h->objs[i]);
	}
	if (h->gc)
		for (i = 0; i < HAMMER_OBJS; i++)
			refcache_obj_store(h->objs[i], 0, h->objs[(i + 1) % HAMMER_OBJS]);
	return 0;
}

static int hammer_fn(void *arg)
{
	struct hammer_task *t = arg;
	struct hammer *h = t->h;
	unsigned int i;

	if (t->owner) {
		/* Bases for itself, the test and the other kthread. */
		i = hammer_make(h, HAMMER_THREADS);
		complete(&h->objs_ready);
		if (i)
			goto out;
	}
	hammer_loop(t);
	for (i = 0; i < HAMMER_OBJS; i++)
		refcache_obj_put(h->objs[i]);
out:
	atomic_dec(&h->running);
	return 0;
}

static int collector_fn(void *arg)
{
	struct hammer *h = arg;
	struct refcache_gc_result res;
	unsigned int gen = 0;

	while (atomic_read(&h->running)) {
		if (refcache_gc_collect(h->heap, gen++ % 3, &res) ||
		    res.unreachable != res.collected)
			h->bad_results++;
		h->collected += res.collected;
		h->collections++;
		usleep_range(200, 500);
	}
	return 0;
}

static void hammer(struct kunit *test, bool kthread_owns, bool gc, unsigned int iters)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct task_struct *tasks[HAMMER_THREADS + 1] = {}, *collector = NULL;
	struct hammer_task *t;
	struct refcache_gc_result res;
	struct hammer *h;
	unsigned long t0 = jiffies;
	unsigned int i;
	u64 objects;

	h = kunit_kzalloc(test, sizeof(*h), GFP_KERNEL);
	t = kunit_kcalloc(test, HAMMER_THREADS + 1, sizeof(*t), GFP_KERNEL);
	KUNIT_ASSERT_TRUE(test, h && t);
	h->heap = heap;
	h->cache = counted_cache(test, heap, gc ? REFCACHE_CACHE_TRACKED : 0);
	h->gc = gc;
	h->kthread_owns = kthread_owns;
	init_completion(&h->objs_ready);
	for (i = 0; i <= HAMMER_THREADS; i++) {
		t[i].h = h;
		t[i].seed = get_random_u32() | 1;
		t[i].iters = iters;
	}
	/* t[HAMMER_THREADS] is the test itself. */
	if (kthread_owns) {
		/* It exits a quarter of the way: the others go on, and reap it. */
		t[0].owner = true;
		t[0].iters = iters / 4;
	} else {
		KUNIT_ASSERT_EQ(test, hammer_make(h, HAMMER_THREADS), 0);
	}

	atomic_set(&h->running, HAMMER_THREADS + 1);
	for (i = 0; i < HAMMER_THREADS; i++) {
		tasks[i] = spawn(test, hammer_fn, &t[i], nth_cpu(i), "rc_biased_ham");
		if (!tasks[i]) {
			atomic_dec(&h->running);
			atomic_inc(&h->started);	/* nobody to wait for */
		}
		if (!i && kthread_owns) {
			if (tasks[0])
				wait_for_completion(&h->objs_ready);
			if (!tasks[0] || atomic_read(&h->alloc_failed)) {
				/* Nothing to hammer: let the others stop at once. */
				KUNIT_FAIL(test, "the owner kthread made no objects");
				join(tasks[0]);
				return;
			}
		}
	}
	if (gc)
		collector = spawn(test, collector_fn, h, -1, "rc_biased_gc");
	hammer_loop(&t[HAMMER_THREADS]);
	atomic_dec(&h->running);
	for (i = 0; i < HAMMER_THREADS; i++)
		join(tasks[i]);
	join(collector);
	kunit_info(test, "%u tasks, up to %u iterations, in %u ms; %llu collections\n",
		   HAMMER_THREADS + 1, iters, jiffies_to_msecs(jiffies - t0), h->collections);

	KUNIT_EXPECT_EQ(test, atomic_read(&h->unless_zero_failed), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&h->alloc_failed), 0);
	KUNIT_EXPECT_EQ(test, h->bad_results, 0ULL);
	/* Drains our queue, and notices an exited owner. */
	service(heap);
	if (gc) {
		res = collect(test, heap);
		h->collected += res.collected;
		KUNIT_EXPECT_EQ(test, h->collected, (u64)atomic_read(&h->garbage));
	}
	KUNIT_EXPECT_EQ(test, nqueued(heap), 0ULL);
	/* The kthreads are gone and reaped; the test owns if it allocated. */
	KUNIT_EXPECT_EQ(test, nowners(heap), kthread_owns && !gc ? 0U : 1U);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), (u64)HAMMER_OBJS);
	KUNIT_EXPECT_EQ(test, atomic_read(&h->releases), atomic_read(&h->garbage));
	/* Exact: our base reference, and the ring's. */
	for (i = 0; i < HAMMER_OBJS; i++) {
		struct refcache_bias_info bi;

		refcache_obj_bias_read(h->objs[i], &bi);
		KUNIT_EXPECT_EQ_MSG(test, refcache_obj_refcount(h->objs[i]), gc ? 2U : 1U,
				    "object %u", i);
		KUNIT_EXPECT_NE_MSG(test, bi.state, REFCACHE_BIAS_QUEUED, "object %u", i);
		KUNIT_EXPECT_FALSE_MSG(test, bi.saturated, "object %u", i);
		if (kthread_owns)
			KUNIT_EXPECT_EQ_MSG(test, bi.state, REFCACHE_BIAS_MERGED, "object %u", i);
	}
	/* Freed exactly when the last reference goes, once. */
	objects = HAMMER_OBJS;
	for (i = 0; i < HAMMER_OBJS; i++) {
		refcache_obj_put(h->objs[i]);
		if (!gc)
			objects--;
		KUNIT_EXPECT_EQ(test, heap_objects(heap), objects);
	}
	if (gc)
		KUNIT_EXPECT_EQ(test, collect(test, heap).collected, (u64)HAMMER_OBJS);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	KUNIT_EXPECT_EQ(test, atomic_read(&h->releases),
			atomic_read(&h->garbage) + HAMMER_OBJS);
}

/* The test owns; two non-owners on the two CPUs. */
static void biased_hammer_owner_and_others(struct kunit *test)
{
	hammer(test, false, false, 100000);
}

/* A kthread owns, and exits while the others go on; the test is a non-owner. */
static void biased_hammer_owner_exits(struct kunit *test)
{
	hammer(test, true, false, 100000);
}

/*
 * With collections running all the while: each one makes the owners
 * count in shared until it ends, and must see exact counts, finding the
 * garbage and never the objects held from outside.
 */
static void biased_hammer_with_collector(struct kunit *test)
{
	hammer(test, false, true, 20000);
}

/* The same with an owner kthread that exits while collections go on. */
static void biased_hammer_owner_exits_with_collector(struct kunit *test)
{
	hammer(test, true, true, 20000);
}

static struct kunit_case refcache_biased_cases[] = {
	KUNIT_CASE(biased_owner_counts_locally),
	KUNIT_CASE(biased_non_owner_counts_shared),
	KUNIT_CASE(biased_owner_zero_merges),
	KUNIT_CASE(biased_queue_merged_at_owner_call),
	KUNIT_CASE(biased_queue_drain_frees),
	KUNIT_CASE(biased_queued_object_stays_usable),
	KUNIT_CASE(biased_user_cache_never_queues),
	KUNIT_CASE(biased_owner_exit_merged_at_next_call),
	KUNIT_CASE(biased_owner_exit_then_queueing_put),
	KUNIT_CASE(biased_owner_exit_with_queue),
	KUNIT_CASE(biased_owner_table_full),
	KUNIT_CASE(biased_gc_cycles_of_one_owner),
	KUNIT_CASE(biased_gc_cycles_of_two_owners),
	KUNIT_CASE(biased_gc_cycle_of_exited_owner),
	KUNIT_CASE(biased_freeze_reaches_queued),
	KUNIT_CASE(biased_weak_upgrade),
	KUNIT_CASE(biased_weak_upgrade_queued),
	KUNIT_CASE(biased_weak_cleared_by_collector),
	KUNIT_CASE(biased_shared_saturates),
	KUNIT_CASE(biased_owner_spills_to_shared),
	KUNIT_CASE(biased_underflow_warns_not_frees),
	KUNIT_CASE(biased_get_from_zero_warns),
	KUNIT_CASE_SLOW(biased_race_last_put),
	KUNIT_CASE_SLOW(biased_race_weak_upgrade),
	KUNIT_CASE(biased_race_owner_exit),
	KUNIT_CASE(biased_irq_gets_are_shared),
	KUNIT_CASE(biased_hammer_owner_and_others),
	KUNIT_CASE(biased_hammer_owner_exits),
	KUNIT_CASE_SLOW(biased_hammer_with_collector),
	KUNIT_CASE_SLOW(biased_hammer_owner_exits_with_collector),
	{}
};

static struct kunit_suite refcache_biased_suite = {
	.name = "refcache_biased",
	.test_cases = refcache_biased_cases,
};

kunit_test_suites(&refcache_biased_suite);

MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
