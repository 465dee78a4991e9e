// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite refcache_gc: the cycle collector (kmod/gc.c) through the
 * in-kernel API, checked against the heap's own bookkeeping where the
 * API does not reach (generation lists, the 25% rule's counters).
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/workqueue.h>

#include "internal.h"
#include "kunit_util.h"

/*
 * Past 512 bytes: the large path frees at once, so KASAN sees any UAF.
 * The refcache_gc_small suite runs the cases of plain heaps again with
 * small objects (refcache_gc_small_cases).
 */
#define GC_PAYLOAD_LARGE	1024
#define GC_PAYLOAD_SMALL	64
static u32 gc_payload = GC_PAYLOAD_LARGE;
#define KREFS		2

/* Automatic collection off (threshold 0), so that counts are exact. */
static struct refcache_heap *quiet_heap(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);

	refcache_gc_set_threshold(heap, 0, 10, 10);
	return heap;
}

/* Tracked objects with two reference slots. */
static struct refcache_cache *slot_cache(struct kunit *test, struct refcache_heap *heap)
{
	return new_cache(test, heap, gc_payload, 2, REFCACHE_CACHE_TRACKED, NULL);
}

static struct refcache_gc_result collect(struct kunit *test, struct refcache_heap *heap,
					 unsigned int gen)
{
	struct refcache_gc_result res = {};

	KUNIT_EXPECT_EQ(test, refcache_gc_collect(heap, gen, &res), 0);
	KUNIT_EXPECT_EQ(test, res.unreachable, res.collected + res.uncollectable);
	return res;
}

static void expect_count(struct kunit *test, struct refcache_heap *heap, u64 c0, u64 c1, u64 c2)
{
	u64 c[REFCACHE_GC_GENERATIONS];

	refcache_gc_get_count(heap, c);
	KUNIT_EXPECT_EQ(test, c[0], c0);
	KUNIT_EXPECT_EQ(test, c[1], c1);
	KUNIT_EXPECT_EQ(test, c[2], c2);
}

/*
 * The generation lists agree with their counters and with the objects'
 * generations, no collection state is left on any object, and every
 * live object is on exactly one list.
 */
static void check_lists(struct kunit *test, struct refcache_heap *heap)
{
	struct refcache_objspace *os = &heap->objs;
	struct refcache_obj *obj;
	u64 n, total = 0, bad = 0;
	unsigned int g;

	refcache_heap_lock(heap);
	for (g = 0; g < REFCACHE_GC_LISTS; g++) {
		n = 0;
		list_for_each_entry(obj, &os->gc.gen[g], node) {
			n++;
			if ((obj->flags & REFCACHE_OBJ_GEN_MASK) != g ||
			    (obj->flags & (REFCACHE_OBJ_COLLECTING | REFCACHE_OBJ_UNREACHABLE)))
				bad++;
		}
		KUNIT_EXPECT_EQ_MSG(test, os->gc.nobjs[g], n, "objects of generation %u", g);
		total += n;
	}
	total += list_count_nodes(&os->untracked);
	KUNIT_EXPECT_EQ(test, total, os->objects);
	KUNIT_EXPECT_EQ(test, bad, 0ULL);
	refcache_heap_unlock(heap);
}

/* A ring of @n objects through slot 0; the test keeps a reference to each. */
static void make_ring(struct kunit *test, struct refcache_cache *cache,
		      struct refcache_obj **objs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		objs[i] = new_obj(test, cache);
	for (i = 0; i < n; i++)
		KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 0, objs[(i + 1) % n]), 0);
}

static void put_all(struct refcache_obj **objs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		refcache_obj_put(objs[i]);
}

/* The last references put, a full collection leaves nothing. */
static void put_all_collect_empty(struct kunit *test, struct refcache_heap *heap,
				  struct refcache_obj **held, unsigned int n)
{
	put_all(held, n);
	collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/*
 * @n objects, each a cycle of its own, and nothing else holding them;
 * made under the lock, so that no automatic collection they queue sees
 * one half made.
 */
static void make_garbage(struct kunit *test, struct refcache_cache *cache, unsigned int n)
{
	struct refcache_heap *heap = cache->heap;
	struct refcache_obj *obj;
	unsigned int made;

	refcache_heap_lock(heap);
	for (made = 0; made < n; made++) {
		obj = refcache_obj_new_locked(cache, GFP_KERNEL);
		if (IS_ERR(obj))
			break;
		refcache_obj_store_locked(obj, 0, obj);
		refcache_obj_put_locked(heap, obj);
	}
	refcache_heap_unlock(heap);
	KUNIT_ASSERT_EQ(test, made, n);
}

/* --- a kernel cache keeping its references in the payload ----------- */

/*
 * What the callbacks record: per object id, how often clear and release
 * ran; and, for the cases that ask, what the weak handles read in clear,
 * which task traverses, and one sleep in a traverse on the workqueue.
 */
struct kctx {
	struct refcache_heap *heap;
	unsigned int max;
	atomic_t next;
	atomic_t *made;
	atomic_t *clears;
	atomic_t *releases;
	bool check_weak;
	u64 weak[2];
	atomic_t weak_dead;
	atomic_t weak_alive;
	bool record;
	struct task_struct *caller;
	struct work_struct *work;
	atomic_t trav_caller;
	atomic_t trav_worker;
	atomic_t trav_other;
	atomic_t sleep_once;
	struct completion sleeping;
	atomic_t slept;
	struct refcache_obj *resurrect;
	struct refcache_obj *stash;
};

struct kpay {
	struct refcache_obj *ref[KREFS];
	struct kctx *ctx;
	unsigned int id;
};

static struct kctx *kctx_new(struct kunit *test, struct refcache_heap *heap, unsigned int max)
{
	struct kctx *ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, ctx);
	ctx->made = kunit_kcalloc(test, max, sizeof(atomic_t), GFP_KERNEL);
	ctx->clears = kunit_kcalloc(test, max, sizeof(atomic_t), GFP_KERNEL);
	ctx->releases = kunit_kcalloc(test, max, sizeof(atomic_t), GFP_KERNEL);
	KUNIT_ASSERT_TRUE(test, ctx->made && ctx->clears && ctx->releases);
	ctx->heap = heap;
	ctx->max = max;
	ctx->caller = current;
	ctx->work = &heap->objs.gc.work;
	init_completion(&ctx->sleeping);
	return ctx;
}

static void kobj_traverse(struct refcache_obj *obj, refcache_visit_t visit, void *arg)
{
	struct kpay *p = refcache_obj_payload(obj);
	struct kctx *ctx = p->ctx;
	int i;

	if (ctx && READ_ONCE(ctx->record)) {
		if (current == ctx->caller)
			atomic_inc(&ctx->trav_caller);
		else if ((current->flags & PF_WQ_WORKER) && current_work() == ctx->work)
			atomic_inc(&ctx->trav_worker);
		else
			atomic_inc(&ctx->trav_other);
	}
	if (ctx && (current->flags & PF_WQ_WORKER) && atomic_xchg(&ctx->sleep_once, 0)) {
		complete(&ctx->sleeping);
		msleep(200);
		atomic_set(&ctx->slept, 1);
	}
	for (i = 0; i < KREFS; i++)
		if (p->ref[i])
			visit(p->ref[i], arg);
}

/* The collector holds the heap's lock: *_locked functions are fine here. */
static void kobj_check_weak(struct kctx *ctx)
{
	struct refcache_obj *found;
	int i;

	for (i = 0; i < ARRAY_SIZE(ctx->weak); i++) {
		if (!ctx->weak[i])
			continue;
		found = ERR_PTR(-EINVAL);
		if (!refcache_handle_lookup_locked(ctx->heap, ctx->weak[i], true, &found) &&
		    !found)
			atomic_inc(&ctx->weak_dead);
		else
			atomic_inc(&ctx->weak_alive);
	}
}

static void kobj_clear(struct refcache_obj *obj)
{
	struct kpay *p = refcache_obj_payload(obj);
	struct kctx *ctx = p->ctx;
	struct refcache_obj *child;
	int i;

	if (ctx) {
		atomic_inc(&ctx->clears[p->id]);
		if (READ_ONCE(ctx->check_weak))
			kobj_check_weak(ctx);
		if (ctx->resurrect == obj)
			ctx->stash = refcache_obj_get(obj);
	}
	for (i = 0; i < KREFS; i++) {
		child = p->ref[i];
		p->ref[i] = NULL;
		refcache_obj_put(child);
	}
}

static void kobj_release(struct refcache_obj *obj)
{
	struct kpay *p = refcache_obj_payload(obj);

	if (p->ctx)
		atomic_inc(&p->ctx->releases[p->id]);
}

static const struct refcache_type_ops kobj_ops = {
	.traverse = kobj_traverse,
	.clear = kobj_clear,
	.release = kobj_release,
};

/* Its references cannot be dropped: garbage cycles through it are uncollectable. */
static const struct refcache_type_ops noclear_ops = {
	.traverse = kobj_traverse,
	.release = kobj_release,
};

static struct refcache_cache *kobj_cache(struct kunit *test, struct refcache_heap *heap,
					 const struct refcache_type_ops *ops)
{
	return new_cache(test, heap, gc_payload, 0, REFCACHE_CACHE_TRACKED, ops);
}

/* A new object of a kernel cache with the next id, heap locked; ERR_PTR on failure. */
static struct refcache_obj *kobj_new_locked(struct refcache_cache *cache, struct kctx *ctx)
{
	unsigned int id = atomic_inc_return(&ctx->next) - 1;
	struct refcache_obj *obj;
	struct kpay *p;

	if (id >= ctx->max)
		return ERR_PTR(-ENOSPC);
	obj = refcache_obj_new_locked(cache, GFP_KERNEL);
	if (IS_ERR(obj))
		return obj;
	p = refcache_obj_payload(obj);
	p->ctx = ctx;
	p->id = id;
	atomic_set(&ctx->made[id], 1);
	return obj;
}

static struct refcache_obj *kobj_try_new(struct refcache_cache *cache, struct kctx *ctx)
{
	struct refcache_obj *obj;

	refcache_heap_lock(cache->heap);
	obj = kobj_new_locked(cache, ctx);
	refcache_heap_unlock(cache->heap);
	return obj;
}

static struct refcache_obj *kobj_new(struct kunit *test, struct refcache_cache *cache,
				     struct kctx *ctx)
{
	struct refcache_obj *obj = kobj_try_new(cache, ctx);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, obj);
	return obj;
}

static unsigned int kobj_id(struct refcache_obj *obj)
{
	return ((struct kpay *)refcache_obj_payload(obj))->id;
}

/* Point @obj's payload reference @i at @to (or at nothing), under the lock. */
static void kobj_set(struct refcache_obj *obj, unsigned int i, struct refcache_obj *to)
{
	struct refcache_heap *heap = obj->cache->heap;
	struct kpay *p = refcache_obj_payload(obj);
	struct refcache_obj *old;

	refcache_heap_lock(heap);
	old = p->ref[i];
	p->ref[i] = to ? refcache_obj_get(to) : NULL;
	refcache_obj_put(old);
	refcache_heap_unlock(heap);
}

/* Every object made ran clear @clears times and release once; none else ran. */
static void expect_callbacks(struct kunit *test, struct kctx *ctx, int clears)
{
	unsigned int i, n = min_t(unsigned int, atomic_read(&ctx->next), ctx->max);
	unsigned int made = 0, bad = 0;

	for (i = 0; i < n; i++) {
		int want = atomic_read(&ctx->made[i]);

		made += want;
		if (atomic_read(&ctx->clears[i]) != want * clears ||
		    atomic_read(&ctx->releases[i]) != want) {
			if (bad++ < 4)
				kunit_err(test, "object %u: clear ran %d times, release %d\n", i,
					  atomic_read(&ctx->clears[i]),
					  atomic_read(&ctx->releases[i]));
		}
	}
	KUNIT_EXPECT_GT(test, made, 0U);
	KUNIT_EXPECT_EQ(test, bad, 0U);
}

/* --- cycles ------------------------------------------------------------ */

static const unsigned int cycle_lengths[] = { 1, 2, 3, 1000 };

static void cycle_length_desc(const unsigned int *n, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%u objects", *n);
}

KUNIT_ARRAY_PARAM(cycle_length, cycle_lengths, cycle_length_desc);

static void gc_cycle_collected(struct kunit *test)
{
	unsigned int n = *(const unsigned int *)test->param_value;
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	struct refcache_gc_gen_stats st[REFCACHE_GC_GENERATIONS];
	struct refcache_obj **objs;
	struct refcache_gc_result res;

	objs = kunit_kcalloc(test, n, sizeof(*objs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, objs);
	make_ring(test, cache, objs, n);
	put_all(objs, n);
	/* Each holds the next: reference counting alone frees nothing. */
	KUNIT_EXPECT_EQ(test, heap_objects(heap), (u64)n);

	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.unreachable, (u64)n);
	KUNIT_EXPECT_EQ(test, res.collected, (u64)n);
	KUNIT_EXPECT_EQ(test, res.uncollectable, 0ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	refcache_gc_get_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st[2].collections, 1ULL);
	KUNIT_EXPECT_EQ(test, st[2].collected, (u64)n);
	KUNIT_EXPECT_EQ(test, st[2].candidates, (u64)n);
	check_lists(test, heap);

	/* Nothing left to find. */
	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.unreachable, 0ULL);
}

/* A reference from outside the heap's graph keeps a whole cycle alive. */
static void gc_cycle_held_from_outside(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	struct refcache_cache *untracked = new_cache(test, heap, 16, 1, 0, NULL);
	struct refcache_obj *objs[3], *u;
	struct refcache_gc_result res;
	u64 id;

	/* A kernel reference. */
	make_ring(test, cache, objs, 3);
	refcache_obj_put(objs[0]);
	refcache_obj_put(objs[2]);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.unreachable, 0ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 3ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(objs[0]), 2);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(objs[1]), 2U);
	refcache_obj_put(objs[1]);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.collected, 3ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);

	/* A strong handle. */
	make_ring(test, cache, objs, 2);
	refcache_heap_lock(heap);
	KUNIT_EXPECT_EQ(test, refcache_handle_new_locked(heap, objs[1], false, &id), 0);
	refcache_heap_unlock(heap);
	put_all(objs, 2);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.unreachable, 0ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 2ULL);
	refcache_heap_lock(heap);
	KUNIT_EXPECT_EQ(test, refcache_handle_close_locked(heap, id), 0);
	refcache_heap_unlock(heap);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.collected, 2ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);

	/* The slot of an untracked object, which the collector never scans. */
	make_ring(test, cache, objs, 2);
	u = new_obj(test, untracked);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(u), -1);
	KUNIT_EXPECT_FALSE(test, refcache_obj_is_tracked(u));
	KUNIT_ASSERT_EQ(test, refcache_obj_store(u, 0, objs[0]), 0);
	put_all(objs, 2);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.unreachable, 0ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 3ULL);
	refcache_obj_put(u);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 2ULL);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.collected, 2ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	check_lists(test, heap);
}

/* References from an older generation count as references from outside. */
static void gc_young_cycle_held_by_old(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	struct refcache_obj *old = new_obj(test, cache), *y[2];
	struct refcache_gc_result res;

	res = collect(test, heap, 0);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(old), 1);

	make_ring(test, cache, y, 2);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(old, 1, y[0]), 0);
	put_all(y, 2);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(y[0]), 0);
	res = collect(test, heap, 0);
	KUNIT_EXPECT_EQ(test, res.unreachable, 0ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 3ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(y[0]), 1);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(y[1]), 1);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(old), 1);

	/* The old object lets go: garbage, but in generation 1 now. */
	KUNIT_ASSERT_EQ(test, refcache_obj_store(old, 1, NULL), 0);
	res = collect(test, heap, 0);
	KUNIT_EXPECT_EQ(test, res.unreachable, 0ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 3ULL);
	res = collect(test, heap, 1);
	KUNIT_EXPECT_EQ(test, res.unreachable, 2ULL);
	KUNIT_EXPECT_EQ(test, res.collected, 2ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(old), 2);
	check_lists(test, heap);

	/* Held from generation 2, a young cycle survives collect(1) too. */
	make_ring(test, cache, y, 2);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(old, 1, y[1]), 0);
	put_all(y, 2);
	res = collect(test, heap, 1);
	KUNIT_EXPECT_EQ(test, res.unreachable, 0ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(y[0]), 2);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(old, 1, NULL), 0);
	res = collect(test, heap, 1);
	KUNIT_EXPECT_EQ(test, res.unreachable, 0ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 3ULL);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.collected, 2ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	refcache_obj_put(old);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	check_lists(test, heap);
}

/*
 * A garbage 2-cycle holds the last reference to @holder, which holds the
 * last reference to a survivor of the collection (@holder is outside its
 * set).  Breaking the cycle frees both in the middle of the collection;
 * the generation lists must still add up.
 */
static void garbage_frees_survivor(struct kunit *test, struct refcache_cache *cache,
				   struct refcache_obj *holder, unsigned int gen)
{
	struct refcache_heap *heap = cache->heap;
	struct refcache_obj *young = new_obj(test, cache), *g[2];
	struct refcache_gc_result res;

	KUNIT_ASSERT_EQ(test, refcache_obj_store(holder, 0, young), 0);
	refcache_obj_put(young);
	make_ring(test, cache, g, 2);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(g[0], 1, holder), 0);
	refcache_obj_put(holder);
	put_all(g, 2);

	res = collect(test, heap, gen);
	KUNIT_EXPECT_EQ_MSG(test, res.collected, 2ULL, "collect(%u)", gen);
	KUNIT_EXPECT_EQ_MSG(test, heap_objects(heap), 0ULL, "collect(%u)", gen);
	check_lists(test, heap);
}

static void gc_garbage_frees_survivor(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	struct refcache_cache *untracked = new_cache(test, heap, 16, 1, 0, NULL);
	struct refcache_obj *old;
	unsigned int gen;

	/* Through an object of an older generation. */
	for (gen = 0; gen < 2; gen++) {
		old = new_obj(test, cache);
		collect(test, heap, gen);
		KUNIT_EXPECT_EQ(test, refcache_obj_generation(old), (int)gen + 1);
		garbage_frees_survivor(test, cache, old, gen);
	}
	/* Through an untracked object. */
	for (gen = 0; gen < REFCACHE_GC_GENERATIONS; gen++)
		garbage_frees_survivor(test, cache, new_obj(test, untracked), gen);
}

/*
 * Garbage that references live objects, in the set and out of it: each
 * loses exactly the references the garbage held, whether the collector
 * takes them down as it gathers the garbage (the count stays above
 * zero) or when it frees it.
 */
static void gc_garbage_drops_references(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	struct refcache_cache *untracked = new_cache(test, heap, 16, 1, 0, NULL);
	struct refcache_obj *s = new_obj(test, cache), *u = new_obj(test, untracked), *g[3];
	struct refcache_gc_result res;

	make_ring(test, cache, g, 3);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(g[0], 1, s), 0);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(g[1], 1, s), 0);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(g[2], 1, u), 0);
	put_all(g, 3);
	KUNIT_EXPECT_EQ(test, refcount_read(&s->ref), 3U);
	KUNIT_EXPECT_EQ(test, refcount_read(&u->ref), 2U);

	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.collected, 3ULL);
	KUNIT_EXPECT_EQ(test, res.uncollectable, 0ULL);
	KUNIT_EXPECT_EQ(test, refcount_read(&s->ref), 1U);
	KUNIT_EXPECT_EQ(test, refcount_read(&u->ref), 1U);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(s), 2);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 2ULL);
	check_lists(test, heap);
	refcache_obj_put(s);
	refcache_obj_put(u);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/*
 * A young collection whose whole set is garbage, so that no walk runs
 * (every gc_refs zero): a 3-ring whose members hold objects outside the
 * set, an older one held elsewhere too, an older one and an untracked
 * one held only by the ring.  Each loses exactly the ring's reference,
 * and the last two go with it.
 */
static void gc_all_garbage_outside_refs(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	struct refcache_cache *untracked = new_cache(test, heap, 16, 1, 0, NULL);
	struct refcache_obj *held = new_obj(test, cache), *lone = new_obj(test, cache);
	struct refcache_obj *u = new_obj(test, untracked), *g[3];
	struct refcache_gc_result res;

	collect(test, heap, 0);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(held), 1);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(lone), 1);
	make_ring(test, cache, g, 3);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(g[0], 1, held), 0);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(g[1], 1, lone), 0);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(g[2], 1, u), 0);
	refcache_obj_put(lone);
	refcache_obj_put(u);
	put_all(g, 3);
	KUNIT_EXPECT_EQ(test, refcount_read(&held->ref), 2U);

	res = collect(test, heap, 0);
	KUNIT_EXPECT_EQ(test, res.collected, 3ULL);
	KUNIT_EXPECT_EQ(test, res.uncollectable, 0ULL);
	KUNIT_EXPECT_EQ(test, refcount_read(&held->ref), 1U);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(held), 1);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	expect_count(test, heap, 0, 2, 0);	/* two young collections */
	check_lists(test, heap);
	refcache_obj_put(held);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/*
 * The collector gives garbage's blocks straight back to their pools
 * (refcache_free_dead()): whole pools without touching their blocks, the
 * rest block by block.  Here 20,000 small objects in 2-cycles: the first
 * half all garbage (whole pools and arenas die), the second with every
 * third pair held (pools live on); 10 large 2-cycles (which take the
 * list) and a weak handle on a small garbage object in the same
 * collection.  With the array capped (refcache_gc_dead_max) the two paths
 * share one collection, or the list takes everything.  Afterwards the
 * counts add up, an arena went back, frees of collected blocks (a whole
 * pool's and a part pool's) are refused, the blocks serve new objects
 * (distinct, zeroed), and everything goes at the end.
 */
#define DEAD_N		20000
#define DEAD_LARGE	20

/* Reads @st, and returns its blocks in use. */
static u64 blocks_in_use(struct refcache_heap *heap, struct refcache_alloc_stats *st)
{
	refcache_alloc_stats_read(heap, st);
	return total_in_use(st);
}

static void gc_dead_blocks_back(struct kunit *test, unsigned int flags, unsigned long dead_max)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = new_cache(test, heap, 8, 2,
						 REFCACHE_CACHE_TRACKED | flags, NULL);
	struct refcache_cache *big = new_cache(test, heap, 1024, 1, REFCACHE_CACHE_TRACKED, NULL);
	unsigned long saved_max = refcache_gc_dead_max;
	struct refcache_obj **objs, **held, **fresh, *large[DEAD_LARGE], *found;
	void *gone[2] = { NULL, NULL };
	struct refcache_alloc_stats *st;
	struct refcache_gc_result res;
	unsigned int i, j, nheld = 0;
	u64 bad, reclaimed, unused, extra, weak;

	objs = kunit_kcalloc(test, DEAD_N, sizeof(*objs), GFP_KERNEL);
	held = kunit_kcalloc(test, DEAD_N, sizeof(*held), GFP_KERNEL);
	fresh = kunit_kcalloc(test, DEAD_N, sizeof(*fresh), GFP_KERNEL);
	st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	KUNIT_ASSERT_TRUE(test, objs && held && fresh && st);
	for (i = 0; i < DEAD_N; i += 2) {
		objs[i] = new_obj(test, cache);
		objs[i + 1] = new_obj(test, cache);
		KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 0, objs[i + 1]), 0);
		KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i + 1], 0, objs[i]), 0);
		if (i >= DEAD_N / 2 && !(i % 6)) {
			held[nheld++] = refcache_obj_get(objs[i]);
			held[nheld++] = refcache_obj_get(objs[i + 1]);
		} else if (!flags) {
			/* An atomic object's block is the object itself. */
			gone[i >= DEAD_N / 2] = objs[i];
		}
	}
	for (i = 0; i < DEAD_LARGE; i += 2) {
		large[i] = new_obj(test, big);
		large[i + 1] = new_obj(test, big);
		KUNIT_ASSERT_EQ(test, refcache_obj_store(large[i], 0, large[i + 1]), 0);
		KUNIT_ASSERT_EQ(test, refcache_obj_store(large[i + 1], 0, large[i]), 0);
	}
	/* On garbage of a part-dead pool (pair DEAD_N - 4: not held). */
	refcache_heap_lock(heap);
	KUNIT_ASSERT_EQ(test, refcache_handle_new_locked(heap, objs[DEAD_N - 3], true, &weak), 0);
	refcache_heap_unlock(heap);
	put_all(objs, DEAD_N);
	put_all(large, DEAD_LARGE);
	/* The weak handle's record, if the heap keeps it in a block. */
	extra = blocks_in_use(heap, st) - DEAD_N;
	KUNIT_EXPECT_LE(test, extra, 1ULL);
	reclaimed = st->arenas_reclaimed;
	unused = st->unused_pool_bytes;

	refcache_gc_dead_max = dead_max;
	res = collect(test, heap, 2);
	refcache_gc_dead_max = saved_max;
	KUNIT_EXPECT_EQ(test, res.collected, (u64)(DEAD_N - nheld + DEAD_LARGE));
	KUNIT_EXPECT_EQ(test, heap_objects(heap), (u64)nheld);
	check_lists(test, heap);
	for (i = 0; i < nheld; i++)
		KUNIT_EXPECT_EQ(test, refcache_obj_refcount(held[i]), 2U);
	refcache_heap_lock(heap);
	found = ERR_PTR(-EINVAL);
	KUNIT_EXPECT_EQ(test, refcache_handle_lookup_locked(heap, weak, true, &found), 0);
	KUNIT_EXPECT_NULL(test, found);
	refcache_heap_unlock(heap);

	/* The array's blocks go straight back: whole pools return to their arenas. */
	KUNIT_EXPECT_EQ(test, blocks_in_use(heap, st), nheld + extra);
	KUNIT_EXPECT_EQ(test, st->large_objects, 0ULL);
	if (dead_max >= DEAD_N)
		KUNIT_EXPECT_GT(test, st->unused_pool_bytes, unused);
	/*
	 * Garbage that took the list waits on the per-CPU stacks, and so may
	 * free blocks a migration left there: drained, whole arenas go back
	 * (the spare kept).
	 */
	refcache_alloc_drain(heap);
	KUNIT_EXPECT_EQ(test, blocks_in_use(heap, st), nheld + extra);
	KUNIT_EXPECT_GT(test, st->unused_pool_bytes, unused);
	KUNIT_EXPECT_GT(test, st->arenas_reclaimed, reclaimed);
	KUNIT_EXPECT_EQ(test, st->arena_bytes,
			st->allocated_bytes + st->free_bytes + st->unused_pool_bytes +
			st->pool_header_bytes + st->quantization_bytes);
	bad = st->bad_frees;
	for (i = 0; i < ARRAY_SIZE(gone); i++) {
		if (!gone[i])
			continue;
		refcache_free(heap, gone[i]);
		refcache_alloc_stats_read(heap, st);
		KUNIT_EXPECT_EQ_MSG(test, st->bad_frees, ++bad, "collected block %u", i);
	}

	/* The blocks serve again: every new object distinct, and zeroed. */
	for (i = 0; i < DEAD_N; i++) {
		fresh[i] = new_obj(test, cache);
		KUNIT_EXPECT_EQ(test, refcache_obj_refcount(fresh[i]), 1U);
		KUNIT_EXPECT_TRUE(test, !refcache_obj_load(fresh[i], 0) &&
				  !refcache_obj_load(fresh[i], 1));
		KUNIT_EXPECT_NULL(test, memchr_inv(refcache_obj_payload(fresh[i]), 0, 8));
	}
	sort(fresh, DEAD_N, sizeof(*fresh), cmp_ptr, NULL);
	sort(held, nheld, sizeof(*held), cmp_ptr, NULL);
	for (i = 1; i < DEAD_N; i++)
		KUNIT_EXPECT_PTR_NE(test, fresh[i - 1], fresh[i]);
	for (i = 0, j = 0; i < nheld; i++) {
		while (j < DEAD_N && fresh[j] < held[i])
			j++;
		KUNIT_EXPECT_TRUE(test, j == DEAD_N || fresh[j] != held[i]);
	}
	put_all(fresh, DEAD_N);
	put_all(held, nheld);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.collected, (u64)nheld);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	KUNIT_EXPECT_EQ(test, blocks_in_use(heap, st), extra);
	KUNIT_EXPECT_EQ(test, st->bad_frees, bad);
}

static void gc_dead_blocks_back_atomic(struct kunit *test)
{
	gc_dead_blocks_back(test, 0, refcache_gc_dead_max);
}

static void gc_dead_blocks_back_biased(struct kunit *test)
{
	gc_dead_blocks_back(test, REFCACHE_CACHE_BIASED, refcache_gc_dead_max);
}

/* The array full after 1,000 blocks: the rest of the garbage takes the list. */
static void gc_dead_blocks_back_capped(struct kunit *test)
{
	gc_dead_blocks_back(test, 0, 1000);
}

/* No array at all (as when it cannot be allocated): all of it takes the list. */
static void gc_dead_blocks_back_no_array(struct kunit *test)
{
	gc_dead_blocks_back(test, 0, 0);
}

/* --- kernel callbacks -------------------------------------------------- */

static void gc_callback_cycles(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct kctx *ctx = kctx_new(test, heap, 16);
	struct refcache_cache *kc = kobj_cache(test, heap, &kobj_ops);
	struct refcache_cache *sc = slot_cache(test, heap);
	struct refcache_obj *objs[3], *k, *s;
	struct refcache_gc_result res;
	unsigned int len, i;

	for (len = 1; len <= 3; len++) {
		for (i = 0; i < len; i++)
			objs[i] = kobj_new(test, kc, ctx);
		for (i = 0; i < len; i++)
			kobj_set(objs[i], 0, objs[(i + 1) % len]);
		put_all(objs, len);
		KUNIT_EXPECT_EQ(test, heap_objects(heap), (u64)len);
		for (i = 0; i < len; i++)
			KUNIT_EXPECT_EQ(test, atomic_read(&ctx->releases[kobj_id(objs[i])]), 0);
		res = collect(test, heap, 2);
		KUNIT_EXPECT_EQ_MSG(test, res.unreachable, (u64)len, "length %u", len);
		KUNIT_EXPECT_EQ_MSG(test, res.collected, (u64)len, "length %u", len);
		KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	}

	/* Payload -> slot -> payload. */
	k = kobj_new(test, kc, ctx);
	s = new_obj(test, sc);
	kobj_set(k, 1, s);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(s, 0, k), 0);
	refcache_obj_put(k);
	refcache_obj_put(s);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.collected, 2ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	expect_callbacks(test, ctx, 1);
	check_lists(test, heap);
}

/* clear keeps its object alive: it survives, in generation 2, cleared once. */
static void gc_clear_resurrects(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct kctx *ctx = kctx_new(test, heap, 16);
	struct refcache_cache *kc = kobj_cache(test, heap, &kobj_ops);
	struct refcache_obj *objs[3];
	struct refcache_gc_result res;
	unsigned int i;

	for (i = 0; i < 3; i++)
		objs[i] = kobj_new(test, kc, ctx);
	for (i = 0; i < 3; i++)
		kobj_set(objs[i], 0, objs[(i + 1) % 3]);
	ctx->resurrect = objs[1];
	put_all(objs, 3);
	res = collect(test, heap, 0);
	KUNIT_EXPECT_EQ(test, res.unreachable, 3ULL);
	KUNIT_EXPECT_EQ(test, res.collected, 2ULL);
	KUNIT_EXPECT_PTR_EQ(test, ctx->stash, objs[1]);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(objs[1]), 1U);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(objs[1]), 2);
	check_lists(test, heap);
	ctx->resurrect = NULL;
	refcache_obj_put(ctx->stash);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	expect_callbacks(test, ctx, 1);
}

/*
 * Garbage whose references cannot be dropped (traverse, no clear) is
 * uncollectable, with everything it reaches; the heap frees it at the end.
 */
static void gc_uncollectable_without_clear(struct kunit *test)
{
	struct refcache_heap *heap = refcache_heap_create();
	struct refcache_gc_gen_stats st[REFCACHE_GC_GENERATIONS];
	struct refcache_stats before, after;
	struct refcache_cache *uc, *sc;
	struct refcache_obj *u[2], *s;
	struct refcache_gc_result res;
	struct kctx *ctx;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, heap);
	refcache_gc_set_threshold(heap, 0, 10, 10);
	ctx = kctx_new(test, heap, 4);
	uc = kobj_cache(test, heap, &noclear_ops);
	sc = slot_cache(test, heap);
	u[0] = kobj_new(test, uc, ctx);
	u[1] = kobj_new(test, uc, ctx);
	kobj_set(u[0], 0, u[1]);
	kobj_set(u[1], 0, u[0]);
	/* A slot cycle only the uncollectable objects reach. */
	s = new_obj(test, sc);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(s, 0, s), 0);
	kobj_set(u[0], 1, s);
	refcache_obj_put(s);
	put_all(u, 2);

	res = collect(test, heap, 1);
	KUNIT_EXPECT_EQ(test, res.unreachable, 3ULL);
	KUNIT_EXPECT_EQ(test, res.collected, 0ULL);
	KUNIT_EXPECT_EQ(test, res.uncollectable, 3ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 3ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(u[0]), 2);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(u[1]), 2);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(s), 2);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(s), 2U);
	refcache_gc_get_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st[1].uncollectable, 3ULL);
	check_lists(test, heap);
	/* Still there for the next full collection, still not freed. */
	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.collected, 0ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 3ULL);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->releases[0]) + atomic_read(&ctx->releases[1]), 0);

	refcache_stats_read(&before);
	refcache_heap_put(heap);
	refcache_stats_read(&after);
	KUNIT_EXPECT_EQ(test, after.heaps_destroyed, before.heaps_destroyed + 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->releases[0]), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->releases[1]), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->clears[0]) + atomic_read(&ctx->clears[1]), 0);
}

/*
 * Garbage that merely references an object of a cache without clear:
 * breaking the garbage's cycle frees that object by reference counting,
 * so the collection freed it, and must not report it as left alive.
 */
static void gc_noclear_object_freed_with_garbage(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct kctx *ctx = kctx_new(test, heap, 4);
	struct refcache_cache *uc = kobj_cache(test, heap, &noclear_ops);
	struct refcache_cache *sc = slot_cache(test, heap);
	struct refcache_gc_gen_stats st[REFCACHE_GC_GENERATIONS];
	struct refcache_obj *g, *u;
	struct refcache_gc_result res;

	u = kobj_new(test, uc, ctx);
	g = new_obj(test, sc);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(g, 0, g), 0);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(g, 1, u), 0);
	refcache_obj_put(u);
	refcache_obj_put(g);

	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->releases[0]), 1);
	KUNIT_EXPECT_EQ(test, res.unreachable, 2ULL);
	KUNIT_EXPECT_EQ(test, res.collected, 2ULL);
	KUNIT_EXPECT_EQ(test, res.uncollectable, 0ULL);
	refcache_gc_get_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st[2].uncollectable, 0ULL);
	check_lists(test, heap);
}

/* Weak handles to the garbage read as dead before any clear runs. */
static void gc_weak_dead_in_clear(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct kctx *ctx = kctx_new(test, heap, 8);
	struct refcache_cache *kc = kobj_cache(test, heap, &kobj_ops);
	struct refcache_cache *sc = slot_cache(test, heap);
	struct refcache_obj *a, *b, *s, *live, *found;
	struct refcache_gc_result res;
	u64 weak_live;

	/* a -> s -> b -> a, and a live object with a weak handle too. */
	a = kobj_new(test, kc, ctx);
	b = kobj_new(test, kc, ctx);
	s = new_obj(test, sc);
	live = kobj_new(test, kc, ctx);
	kobj_set(a, 0, s);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(s, 0, b), 0);
	kobj_set(b, 0, a);
	refcache_heap_lock(heap);
	KUNIT_ASSERT_EQ(test, refcache_handle_new_locked(heap, s, true, &ctx->weak[0]), 0);
	KUNIT_ASSERT_EQ(test, refcache_handle_new_locked(heap, b, true, &ctx->weak[1]), 0);
	KUNIT_ASSERT_EQ(test, refcache_handle_new_locked(heap, live, true, &weak_live), 0);
	refcache_heap_unlock(heap);
	refcache_obj_put(a);
	refcache_obj_put(b);
	refcache_obj_put(s);

	WRITE_ONCE(ctx->check_weak, true);
	res = collect(test, heap, 2);
	WRITE_ONCE(ctx->check_weak, false);
	KUNIT_EXPECT_EQ(test, res.collected, 3ULL);
	/* Two clears, each seeing both handles dead. */
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->weak_dead), 4);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->weak_alive), 0);

	refcache_heap_lock(heap);
	found = ERR_PTR(-EINVAL);
	KUNIT_EXPECT_EQ(test, refcache_handle_lookup_locked(heap, ctx->weak[0], true, &found), 0);
	KUNIT_EXPECT_NULL(test, found);
	found = ERR_PTR(-EINVAL);
	KUNIT_EXPECT_EQ(test, refcache_handle_lookup_locked(heap, weak_live, true, &found), 0);
	KUNIT_EXPECT_PTR_EQ(test, found, live);
	refcache_heap_unlock(heap);
	refcache_obj_put(live);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	expect_callbacks(test, ctx, 1);
}

/* --- generations and counts -------------------------------------------- */

static void gc_promotion_and_count(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	struct refcache_cache *untracked = new_cache(test, heap, 16, 1, 0, NULL);
	struct refcache_gc_gen_stats st[REFCACHE_GC_GENERATIONS];
	struct refcache_obj *a, *b, *d, *e, *f, *u;

	expect_count(test, heap, 0, 0, 0);
	a = new_obj(test, cache);
	b = new_obj(test, cache);
	d = new_obj(test, cache);
	expect_count(test, heap, 3, 0, 0);
	KUNIT_EXPECT_TRUE(test, refcache_obj_is_tracked(a));
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(a), 0);

	/* Untracked allocations and deallocations do not count. */
	u = new_obj(test, untracked);
	expect_count(test, heap, 3, 0, 0);
	refcache_obj_put(u);
	expect_count(test, heap, 3, 0, 0);
	refcache_obj_put(d);
	expect_count(test, heap, 2, 0, 0);

	KUNIT_EXPECT_EQ(test, collect(test, heap, 0).unreachable, 0ULL);
	expect_count(test, heap, 0, 1, 0);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(a), 1);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(b), 1);

	e = new_obj(test, cache);
	expect_count(test, heap, 1, 1, 0);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(e), 0);
	collect(test, heap, 0);
	expect_count(test, heap, 0, 2, 0);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(e), 1);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(a), 1);

	collect(test, heap, 1);
	expect_count(test, heap, 0, 0, 1);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(a), 2);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(e), 2);

	/* A young survivor of a generation 1 collection goes to 2. */
	f = new_obj(test, cache);
	collect(test, heap, 1);
	expect_count(test, heap, 0, 0, 2);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(f), 2);

	collect(test, heap, 2);
	expect_count(test, heap, 0, 0, 0);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(a), 2);
	check_lists(test, heap);

	/* Never below zero. */
	refcache_obj_put(f);
	expect_count(test, heap, 0, 0, 0);
	f = new_obj(test, cache);
	expect_count(test, heap, 1, 0, 0);
	refcache_obj_put(a);
	refcache_obj_put(b);
	refcache_obj_put(e);
	refcache_obj_put(f);
	expect_count(test, heap, 0, 0, 0);

	KUNIT_EXPECT_EQ(test, refcache_gc_collect(heap, REFCACHE_GC_GENERATIONS, NULL), -EINVAL);
	refcache_gc_get_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st[0].collections, 2ULL);
	KUNIT_EXPECT_EQ(test, st[1].collections, 2ULL);
	KUNIT_EXPECT_EQ(test, st[2].collections, 1ULL);
	KUNIT_EXPECT_EQ(test, refcache_gc_collections(heap, 1), 2ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/* --- automatic collection ---------------------------------------------- */

static void gc_auto_runs_on_workqueue(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct kctx *ctx = kctx_new(test, heap, 8);
	struct refcache_cache *kc = kobj_cache(test, heap, &kobj_ops);
	struct refcache_obj *objs[6];
	u32 t[REFCACHE_GC_GENERATIONS];
	unsigned int i;

	refcache_gc_get_threshold(heap, t);
	KUNIT_EXPECT_EQ(test, t[0], 2000U);
	KUNIT_EXPECT_TRUE(test, refcache_gc_isenabled(heap));
	refcache_gc_set_threshold(heap, 5, 10, 10);
	WRITE_ONCE(ctx->record, true);
	for (i = 0; i < 5; i++)
		objs[i] = kobj_new(test, kc, ctx);
	refcache_gc_flush(heap);
	/* count[0] == threshold[0] is not past it. */
	KUNIT_EXPECT_EQ(test, refcache_gc_collections(heap, 0), 0ULL);
	objs[5] = kobj_new(test, kc, ctx);
	refcache_gc_flush(heap);
	WRITE_ONCE(ctx->record, false);
	KUNIT_EXPECT_EQ(test, refcache_gc_collections(heap, 0), 1ULL);
	KUNIT_EXPECT_GT(test, atomic_read(&ctx->trav_worker), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->trav_caller), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->trav_other), 0);
	expect_count(test, heap, 0, 1, 0);
	for (i = 0; i < 6; i++)
		KUNIT_EXPECT_EQ(test, refcache_obj_generation(objs[i]), 1);
	put_all(objs, 6);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

static void gc_disabled_and_threshold_zero(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	u32 t[REFCACHE_GC_GENERATIONS];
	u64 c[REFCACHE_GC_GENERATIONS];

	refcache_gc_set_threshold(heap, 5, 10, 10);
	refcache_gc_enable(heap, false);
	KUNIT_EXPECT_FALSE(test, refcache_gc_isenabled(heap));
	make_garbage(test, cache, 20);
	refcache_gc_flush(heap);
	KUNIT_EXPECT_EQ(test, refcache_gc_collections(heap, 0), 0ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 20ULL);
	/* Counting goes on while disabled, as in CPython. */
	refcache_gc_get_count(heap, c);
	KUNIT_EXPECT_EQ(test, c[0], 20ULL);
	KUNIT_EXPECT_EQ(test, collect(test, heap, 0).collected, 20ULL);
	KUNIT_EXPECT_EQ(test, refcache_gc_collections(heap, 0), 1ULL);

	/* Back on: the next allocation past the threshold queues one. */
	refcache_gc_enable(heap, true);
	KUNIT_EXPECT_TRUE(test, refcache_gc_isenabled(heap));
	make_garbage(test, cache, 6);
	refcache_gc_flush(heap);
	KUNIT_EXPECT_EQ(test, refcache_gc_collections(heap, 0), 2ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);

	/* Enabled, but threshold 0. */
	refcache_gc_set_threshold(heap, 0, 10, 10);
	refcache_gc_get_threshold(heap, t);
	KUNIT_EXPECT_EQ(test, t[0], 0U);
	KUNIT_EXPECT_EQ(test, t[1], 10U);
	KUNIT_EXPECT_EQ(test, t[2], 10U);
	make_garbage(test, cache, 20);
	refcache_gc_flush(heap);
	KUNIT_EXPECT_EQ(test, refcache_gc_collections(heap, 0), 2ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 20ULL);
	KUNIT_EXPECT_EQ(test, collect(test, heap, 0).collected, 20ULL);
	KUNIT_EXPECT_EQ(test, refcache_gc_collections(heap, 0), 3ULL);

	refcache_gc_set_threshold(heap, 5, 10, 10);
	make_garbage(test, cache, 6);
	refcache_gc_flush(heap);
	KUNIT_EXPECT_EQ(test, refcache_gc_collections(heap, 0), 4ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/* gc.freeze() zeroes every generation's count, as CPython's _PyGC_Freeze(). */
static void gc_freeze_zeroes_counts(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	struct refcache_obj *a, *b;

	a = new_obj(test, cache);
	collect(test, heap, 0);
	b = new_obj(test, cache);
	expect_count(test, heap, 1, 1, 0);
	KUNIT_EXPECT_EQ(test, refcache_gc_freeze(heap), 2ULL);
	expect_count(test, heap, 0, 0, 0);
	refcache_obj_put(a);
	refcache_obj_put(b);
}

/*
 * Before a quota error (issue 16): an in-kernel heap at its object limit
 * whose garbage would make room collects once (a full collection) and
 * the allocation succeeds; with nothing to free it still fails.
 */
static void gc_quota_collects_first(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	struct refcache_obj *ring[2], *held[4], *obj;
	int i;

	refcache_gc_set_threshold(heap, 1000000, 10, 10);
	make_ring(test, cache, ring, 2);
	put_all(ring, 2);
	held[0] = new_obj(test, cache);
	held[1] = new_obj(test, cache);
	refcache_heap_lock(heap);
	heap->objs.max_objects = 4;
	refcache_heap_unlock(heap);

	held[2] = refcache_obj_alloc(cache);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, held[2]);
	KUNIT_EXPECT_EQ(test, refcache_gc_collections(heap, 2), 1ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 3ULL);
	KUNIT_EXPECT_EQ(test, READ_ONCE(heap->objs.gc.quota), 1ULL);
	held[3] = new_obj(test, cache);
	KUNIT_EXPECT_EQ(test, refcache_gc_collections(heap, 2), 1ULL);
	obj = refcache_obj_alloc(cache);
	KUNIT_EXPECT_EQ(test, PTR_ERR(obj), -EDQUOT);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 4ULL);
	check_lists(test, heap);
	for (i = 0; i < 4; i++)
		refcache_obj_put(held[i]);
}

static void gc_freeze_unfreeze(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	struct refcache_obj *ring[2], *h, *y, *z;
	struct refcache_gc_result res;

	make_ring(test, cache, ring, 2);
	put_all(ring, 2);
	h = new_obj(test, cache);
	expect_count(test, heap, 3, 0, 0);
	KUNIT_EXPECT_EQ(test, refcache_gc_freeze(heap), 3ULL);
	KUNIT_EXPECT_EQ(test, refcache_gc_get_freeze_count(heap), 3ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(h), 3);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(ring[0]), 3);
	expect_count(test, heap, 0, 0, 0);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.unreachable, 0ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 3ULL);
	check_lists(test, heap);

	/* A frozen object's reference keeps a young one alive. */
	y = new_obj(test, cache);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(h, 0, y), 0);
	refcache_obj_put(y);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.unreachable, 0ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(y), 2);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(h, 0, NULL), 0);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 3ULL);
	KUNIT_EXPECT_EQ(test, refcache_gc_get_freeze_count(heap), 3ULL);

	/* A frozen object that dies leaves the permanent generation. */
	z = new_obj(test, cache);
	KUNIT_EXPECT_EQ(test, refcache_gc_freeze(heap), 1ULL);
	KUNIT_EXPECT_EQ(test, refcache_gc_get_freeze_count(heap), 4ULL);
	refcache_obj_put(z);
	KUNIT_EXPECT_EQ(test, refcache_gc_get_freeze_count(heap), 3ULL);
	check_lists(test, heap);

	KUNIT_EXPECT_EQ(test, refcache_gc_unfreeze(heap), 3ULL);
	KUNIT_EXPECT_EQ(test, refcache_gc_get_freeze_count(heap), 0ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(h), 2);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(ring[1]), 2);
	check_lists(test, heap);
	/* Back in generation 2: a younger collection leaves them alone. */
	res = collect(test, heap, 1);
	KUNIT_EXPECT_EQ(test, res.unreachable, 0ULL);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.collected, 2ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	KUNIT_EXPECT_EQ(test, refcache_gc_unfreeze(heap), 0ULL);
	refcache_obj_put(h);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	check_lists(test, heap);
}

/* --- dying and saturated counts ---------------------------------------- */

/* A count that reached zero belongs to its putter, even inside garbage. */
static void gc_dying_member_left_alone(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	struct refcache_gc_collect r = {};
	struct refcache_obj *ring[3];
	int ret;

	make_ring(test, cache, ring, 3);
	put_all(ring, 3);
	refcache_heap_lock(heap);
	refcount_set(&ring[0]->ref, 0);
	ret = refcache_gc_collect_locked(heap, 2, REFCACHE_GC_REASON_EXPLICIT, &r);
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, r.collected, 0ULL);
	KUNIT_EXPECT_EQ(test, heap->objs.objects, 3ULL);
	KUNIT_EXPECT_EQ(test, refcount_read(&ring[0]->ref), 0U);
	KUNIT_EXPECT_EQ(test, refcount_read(&ring[1]->ref), 1U);
	refcount_set(&ring[0]->ref, 1);
	refcache_heap_unlock(heap);
	check_lists(test, heap);
	KUNIT_EXPECT_EQ(test, collect(test, heap, 2).collected, 3ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

struct put_later {
	struct refcache_obj *obj;
	struct completion done;
};

static int put_later_fn(void *arg)
{
	struct put_later *pl = arg;

	refcache_obj_put(pl->obj);
	complete(&pl->done);
	return 0;
}

/*
 * The real thing: a put without the lock takes the count to zero and
 * waits for the lock, which a collection holds.  The collector must not
 * free the object (its putter will), and what it references stays alive.
 */
static void gc_lockless_put_waits_for_collection(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	struct refcache_gc_collect r = {};
	struct refcache_obj *ring[2], *x;
	struct task_struct *task;
	struct put_later pl;
	int ret, i;

	x = new_obj(test, cache);
	make_ring(test, cache, ring, 2);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(x, 0, ring[0]), 0);
	put_all(ring, 2);
	pl.obj = x;
	init_completion(&pl.done);

	refcache_heap_lock(heap);
	task = kthread_run(put_later_fn, &pl, "gc_kunit_put");
	if (IS_ERR(task)) {
		refcache_heap_unlock(heap);
		KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(task));
		return;
	}
	for (i = 0; i < 5000 && refcount_read(&x->ref); i++)
		usleep_range(1000, 2000);
	KUNIT_EXPECT_EQ(test, refcount_read(&x->ref), 0U);
	ret = refcache_gc_collect_locked(heap, 2, REFCACHE_GC_REASON_EXPLICIT, &r);
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, r.unreachable, 0ULL);
	KUNIT_EXPECT_EQ(test, heap->objs.objects, 3ULL);
	refcache_heap_unlock(heap);
	wait_for_completion(&pl.done);

	/* Its putter freed it; now the ring is garbage. */
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 2ULL);
	check_lists(test, heap);
	KUNIT_EXPECT_EQ(test, collect(test, heap, 2).collected, 2ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

static void gc_saturated_never_collected(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	struct refcache_obj *ring[2], *s;
	struct refcache_gc_result res;

	/* Our reference to ring[0] becomes a saturated count. */
	make_ring(test, cache, ring, 2);
	refcache_obj_put(ring[1]);
	refcount_set(&ring[0]->ref, REFCOUNT_SATURATED);
	s = new_obj(test, cache);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(s, 0, s), 0);
	refcount_set(&s->ref, REFCOUNT_SATURATED);

	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.unreachable, 0ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 3ULL);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.unreachable, 0ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(ring[0]), (unsigned int)REFCOUNT_SATURATED);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(ring[1]), 1U);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(s), (unsigned int)REFCOUNT_SATURATED);
	check_lists(test, heap);
	/* The heap's teardown frees them. */
}

/* --- the 25% rule -------------------------------------------------------- */

static void long_lived(struct refcache_heap *heap, u64 *pending, u64 *total)
{
	refcache_heap_lock(heap);
	*pending = heap->objs.gc.long_lived_pending;
	*total = heap->objs.gc.long_lived_total;
	refcache_heap_unlock(heap);
}

static void gc_full_collection_25_percent(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	struct refcache_obj *held[51];
	u64 pending, total, full, young;
	unsigned int i;

	for (i = 0; i < 40; i++)
		held[i] = new_obj(test, cache);
	collect(test, heap, 2);
	long_lived(heap, &pending, &total);
	KUNIT_EXPECT_EQ(test, total, 40ULL);
	KUNIT_EXPECT_EQ(test, pending, 0ULL);

	/* 5 promoted into generation 2 by a generation 1 collection. */
	for (; i < 45; i++)
		held[i] = new_obj(test, cache);
	collect(test, heap, 1);
	long_lived(heap, &pending, &total);
	KUNIT_EXPECT_EQ(test, pending, 5ULL);
	expect_count(test, heap, 0, 0, 1);

	/* Generation 2 is due by count (1 > 0), but 5 < 40 / 4: skipped. */
	full = refcache_gc_collections(heap, 2);
	young = refcache_gc_collections(heap, 0);
	refcache_gc_set_threshold(heap, 4, 100, 0);
	make_garbage(test, cache, 5);
	refcache_gc_flush(heap);
	KUNIT_EXPECT_EQ(test, refcache_gc_collections(heap, 2), full);
	KUNIT_EXPECT_EQ(test, refcache_gc_collections(heap, 0), young + 1);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 45ULL);
	expect_count(test, heap, 0, 1, 1);

	/* 6 more make 11 > 10: the next automatic collection is a full one. */
	refcache_gc_set_threshold(heap, 0, 100, 0);
	for (; i < 51; i++)
		held[i] = new_obj(test, cache);
	collect(test, heap, 1);
	long_lived(heap, &pending, &total);
	KUNIT_EXPECT_EQ(test, pending, 11ULL);
	KUNIT_EXPECT_EQ(test, total, 40ULL);
	refcache_gc_set_threshold(heap, 4, 100, 0);
	make_garbage(test, cache, 5);
	refcache_gc_flush(heap);
	KUNIT_EXPECT_EQ(test, refcache_gc_collections(heap, 2), full + 1);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 51ULL);
	long_lived(heap, &pending, &total);
	KUNIT_EXPECT_EQ(test, pending, 0ULL);
	KUNIT_EXPECT_EQ(test, total, 51ULL);
	expect_count(test, heap, 0, 0, 0);
	check_lists(test, heap);
	put_all(held, 51);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/*
 * A graph of 20,000 objects, over the collector's threshold for sampling
 * (REFCACHE_GC_SCATTER_MIN): each one's two slots hold objects picked at random,
 * and 20 of them are held.  The sample finds the set scattered, so the
 * collection's passes prefetch; it must still free exactly what the held
 * objects do not reach.  More such graphs are collected through the
 * edge buffer (its threshold, refcache_gc_edges_min, set to 0): the same;
 * with the walk's stack grown from 2 entries; with its 32-entry fallback
 * only, so that rescues spill on the list (also without the buffer);
 * held by handles (step 0's marking, through the buffer); then each
 * object holding the only reference to an untracked leaf (the garbage's
 * leaves are put after the walks), atomic and then biased.
 * Then a chain of as many, built in order, is not scattered.  In
 * refcache_gc_small only: its objects come from pools, and 20,000 large
 * ones take 12 s under KASAN.
 */
#define SCATTER_N	20000
#define SCATTER_ROOTS	20

/* A fixed sequence, the same in every build: xorshift32. */
static u32 scatter_next(u32 *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x % SCATTER_N;
}

/* How many of a graph of out-degree 2 (slots @a and @b) @roots reach; marks them in @seen. */
static u32 graph_reach(u32 *a, u32 *b, u32 *stack, unsigned long *seen,
		       const u32 *roots, unsigned int nroots)
{
	u32 reach = 0, sp = 0, v;
	unsigned int i;

	for (i = 0; i < nroots; i++)
		if (!__test_and_set_bit(roots[i], seen))
			stack[sp++] = roots[i];
	while (sp) {
		v = stack[--sp];
		reach++;
		if (!__test_and_set_bit(a[v], seen))
			stack[sp++] = a[v];
		if (!__test_and_set_bit(b[v], seen))
			stack[sp++] = b[v];
	}
	return reach;
}

/* The arrays of a graph of @n objects of out-degree 2, for graph_reach(). */
static void graph_alloc(struct kunit *test, u32 n, struct refcache_obj ***objs, u32 **a,
			u32 **b, u32 **stack, unsigned long **seen)
{
	*objs = kunit_kcalloc(test, n, sizeof(**objs), GFP_KERNEL);
	*a = kunit_kcalloc(test, n, sizeof(**a), GFP_KERNEL);
	*b = kunit_kcalloc(test, n, sizeof(**b), GFP_KERNEL);
	*stack = kunit_kcalloc(test, n, sizeof(**stack), GFP_KERNEL);
	*seen = kunit_kcalloc(test, BITS_TO_LONGS(n), sizeof(**seen), GFP_KERNEL);
	KUNIT_ASSERT_TRUE(test, *objs && *a && *b && *stack && *seen);
}

static void edge_stats(long st[REFCACHE_GC_EDGE_NSTATS])
{
	unsigned int i;

	for (i = 0; i < REFCACHE_GC_EDGE_NSTATS; i++)
		st[i] = atomic_long_read(&refcache_gc_edge_stats[i]);
}

static long edge_stat_delta(const long st[REFCACHE_GC_EDGE_NSTATS], unsigned int i)
{
	return atomic_long_read(&refcache_gc_edge_stats[i]) - st[i];
}

static void acyclic_on(void *unused)
{
	refcache_gc_acyclic = true;
}

static void tally_on(void *unused)
{
	refcache_gc_tally = true;
}

/*
 * For a case that reads the stamps step 0 and the trial leave: the
 * acyclic pass would leave its own on a set without a cycle.
 */
static void acyclic_off(struct kunit *test)
{
	refcache_gc_acyclic = false;
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, acyclic_on, NULL));
}

/* An object's gc_refs bits: between collections, the last marking's stamp. */
static u32 mark_bits(const struct refcache_obj *obj)
{
	return obj->flags >> REFCACHE_OBJ_REFS_SHIFT;
}

/*
 * One random graph of SCATTER_N objects, collected with the edge buffer
 * taken from @edges_min on: exactly what the held objects reach survives.
 */
static void scattered_round(struct kunit *test, struct refcache_heap *heap,
			    struct refcache_cache *cache, struct refcache_cache *leaves,
			    struct refcache_obj **objs, u32 *a, u32 *b, u32 *stack,
			    unsigned long *seen, u32 *x, unsigned long edges_min,
			    unsigned long stack_first, bool handles)
{
	u64 id[SCATTER_ROOTS];
	unsigned long saved_first = refcache_gc_stack_first;
	unsigned long saved_min = refcache_gc_edges_min;
	long st[REFCACHE_GC_EDGE_NSTATS];
	struct refcache_obj *leaf;
	struct refcache_obj *held[SCATTER_ROOTS];
	struct refcache_gc_result res;
	u32 roots[SCATTER_ROOTS], reach;
	unsigned int i;
	bool scattered;
	u64 before;

	memset(seen, 0, BITS_TO_LONGS(SCATTER_N) * sizeof(*seen));
	for (i = 0; i < SCATTER_N; i++) {
		objs[i] = new_obj(test, cache);
		a[i] = scatter_next(x);
		b[i] = scatter_next(x);
	}
	for (i = 0; i < SCATTER_N; i++) {
		KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 0, objs[a[i]]), 0);
		KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 1, objs[b[i]]), 0);
		if (!leaves)
			continue;
		/* Its only reference is this slot: garbage's must be put. */
		leaf = new_obj(test, leaves);
		KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 2, leaf), 0);
		refcache_obj_put(leaf);
	}
	for (i = 0; i < SCATTER_ROOTS; i++) {
		roots[i] = scatter_next(x);
		if (!handles) {
			held[i] = refcache_obj_get(objs[roots[i]]);
			continue;
		}
		refcache_heap_lock(heap);
		KUNIT_EXPECT_EQ(test, refcache_handle_new_locked(heap, objs[roots[i]], false,
								 &id[i]), 0);
		refcache_heap_unlock(heap);
	}
	/* What the held objects reach: what must survive. */
	reach = graph_reach(a, b, stack, seen, roots, SCATTER_ROOTS);
	put_all(objs, SCATTER_N);
	/* The set: the graph's objects left, each with its leaf (not tracked). */
	before = heap_objects(heap) / (leaves ? 2 : 1);
	KUNIT_EXPECT_GE(test, before, (u64)reach);
	KUNIT_EXPECT_GE(test, before, (u64)REFCACHE_GC_SCATTER_MIN);	/* sampled */

	refcache_heap_lock(heap);
	scattered = refcache_gc_scattered(&heap->objs.gc.gen[0], heap->objs.gc.nobjs[0]);
	refcache_heap_unlock(heap);
	KUNIT_EXPECT_TRUE(test, scattered);
	refcache_gc_edges_min = edges_min;
	refcache_gc_stack_first = stack_first;
	edge_stats(st);
	res = collect(test, heap, 2);
	refcache_gc_stack_first = saved_first;
	refcache_gc_edges_min = saved_min;
	/* The paths asked for were taken (other heaps only add to these). */
	if (!edges_min)
		KUNIT_EXPECT_GT(test, edge_stat_delta(st, REFCACHE_GC_EDGE_BUFFERS), 0L);
	if (stack_first == 2)
		KUNIT_EXPECT_GT(test, edge_stat_delta(st, REFCACHE_GC_EDGE_GROWN), 0L);
	/* Without the buffer the walk's stack stays shallow on this graph. */
	if (!stack_first && !edges_min)
		KUNIT_EXPECT_GT(test, edge_stat_delta(st, REFCACHE_GC_EDGE_SPILLED), 0L);
	if (leaves && !edges_min)
		KUNIT_EXPECT_GT(test, edge_stat_delta(st, REFCACHE_GC_EDGE_KEPT), 0L);
	/* Garbage that references only the set: the gather tallies. */
	if (!leaves && !handles && !edges_min && refcache_gc_tally && before > reach)
		KUNIT_EXPECT_GT(test, edge_stat_delta(st, REFCACHE_GC_EDGE_TALLIED), 0L);
	KUNIT_EXPECT_EQ(test, res.collected, before - reach);
	KUNIT_EXPECT_EQ(test, res.uncollectable, 0ULL);
	/* The survivors, and each one's leaf: the garbage's leaves are freed. */
	KUNIT_EXPECT_EQ(test, heap_objects(heap), (u64)reach * (leaves ? 2 : 1));
	check_lists(test, heap);
	if (!handles) {
		put_all(held, SCATTER_ROOTS);
	} else {
		/* Step 0 marked everything that survived. */
		for (i = 0; i < SCATTER_N; i++)
			if (test_bit(i, seen))
				KUNIT_EXPECT_NE(test, mark_bits(objs[i]), 0U);
		refcache_heap_lock(heap);
		for (i = 0; i < SCATTER_ROOTS; i++)
			KUNIT_EXPECT_EQ(test, refcache_handle_close_locked(heap, id[i]), 0);
		refcache_heap_unlock(heap);
	}
	collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

static void gc_scattered_graph(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap), *leaves;
	struct refcache_obj **objs;
	unsigned long *seen;
	u32 *a, *b, *stack;
	u32 x = 16;
	unsigned int i;
	bool scattered;

	graph_alloc(test, SCATTER_N, &objs, &a, &b, &stack, &seen);
	/* The walks touching each referent as they go, then from the edge buffer. */
	scattered_round(test, heap, cache, NULL, objs, a, b, stack, seen, &x,
			ULONG_MAX, 4096, false);
	scattered_round(test, heap, cache, NULL, objs, a, b, stack, seen, &x,
			0, 4096, false);
	/* The walk's stack grown from 2 entries; the fallback's, rescues spilled. */
	scattered_round(test, heap, cache, NULL, objs, a, b, stack, seen, &x,
			0, 2, false);
	scattered_round(test, heap, cache, NULL, objs, a, b, stack, seen, &x,
			0, 0, false);
	scattered_round(test, heap, cache, NULL, objs, a, b, stack, seen, &x,
			ULONG_MAX, 0, false);
	/* Held by handles: step 0 marks the live part, through the buffer. */
	scattered_round(test, heap, cache, NULL, objs, a, b, stack, seen, &x,
			0, 4096, true);
	/* Without the tally: the gather reads the garbage's slots. */
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, tally_on, NULL));
	refcache_gc_tally = false;
	scattered_round(test, heap, cache, NULL, objs, a, b, stack, seen, &x,
			0, 4096, false);
	refcache_gc_tally = true;
	/* Each object with a leaf of its own; then biased objects and leaves. */
	cache = new_cache(test, heap, gc_payload, 3, REFCACHE_CACHE_TRACKED, NULL);
	leaves = new_cache(test, heap, gc_payload, 0, 0, NULL);
	scattered_round(test, heap, cache, leaves, objs, a, b, stack, seen, &x,
			0, 4096, false);
	cache = new_cache(test, heap, gc_payload, 3,
			  REFCACHE_CACHE_TRACKED | REFCACHE_CACHE_BIASED, NULL);
	leaves = new_cache(test, heap, gc_payload, 0, REFCACHE_CACHE_BIASED, NULL);
	scattered_round(test, heap, cache, leaves, objs, a, b, stack, seen, &x,
			0, 4096, false);
	cache = slot_cache(test, heap);

	/* A chain built in order: each first reference is the next block. */
	for (i = 0; i < SCATTER_N; i++)
		objs[i] = new_obj(test, cache);
	for (i = 0; i + 1 < SCATTER_N; i++)
		KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 0, objs[i + 1]), 0);
	refcache_heap_lock(heap);
	scattered = refcache_gc_scattered(&heap->objs.gc.gen[0], heap->objs.gc.nobjs[0]);
	refcache_heap_unlock(heap);
	KUNIT_EXPECT_FALSE(test, scattered);
	put_all(objs, SCATTER_N);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/*
 * The tally (collector.rst, "The gather without the garbage's
 * references").  First a random graph of SCATTER_N objects, each live
 * or garbage by a coin, as make bench's random: a live object's two
 * slots hold live objects, a garbage one's anything; some live ones are
 * held.  After a collection that tallies, each survivor's count is
 * exactly its references from survivors and from the holders.  Then a
 * random garbage graph of as many, with one more object, @x, that the
 * first TALLY_FROM of them reference from their third slot:
 *
 * - @x held from outside with TALLY_BIG references, more than a tally
 *   can count: the collection goes on without it, and @x keeps exactly
 *   the references from outside;
 * - @x a hub that every piece of garbage references, in the garbage:
 *   the same, and all of it is freed;
 * - @x held by one reference, put after the walk (the hook): the
 *   trial saw it held, so it survives, but the garbage held all its
 *   other references, so the gather's tally would free it; it is put
 *   once a free may run, and freed.
 */
#define TALLY_BIG	5000
#define TALLY_FROM	100

static struct refcache_obj *tally_put_on_walk;

static void tally_walked(struct refcache_heap *heap)
{
	struct refcache_obj *obj = xchg(&tally_put_on_walk, NULL);

	/* An outside holder's put, racing the collection: never the last. */
	if (obj)
		refcache_obj_put(obj);
}

static void tally_hook_off(void *unused)
{
	refcache_gc_test_hooks.walked = NULL;
	tally_put_on_walk = NULL;
}

static void edges_min_back(void *saved)
{
	refcache_gc_edges_min = (unsigned long)saved;
}

/*
 * The graph, @x referenced from the first @from of it (and, if @hub,
 * referencing the first), and @y, if given, from the second half of
 * those (slot 3); returns the objects of the heap then.
 */
static u64 tally_graph(struct kunit *test, struct refcache_heap *heap,
		       struct refcache_cache *cache, struct refcache_obj **objs,
		       struct refcache_obj *x, unsigned int from, bool hub,
		       struct refcache_obj *y)
{
	unsigned int i;
	u32 r = 11;

	for (i = 0; i < SCATTER_N; i++)
		objs[i] = new_obj(test, cache);
	for (i = 0; i < SCATTER_N; i++) {
		KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 0, objs[scatter_next(&r)]), 0);
		KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 1, objs[scatter_next(&r)]), 0);
		if (i < from)
			KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 2, x), 0);
		if (y && i >= from / 2 && i < from)
			KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 3, y), 0);
	}
	if (hub)
		KUNIT_ASSERT_EQ(test, refcache_obj_store(x, 0, objs[0]), 0);
	put_all(objs, SCATTER_N);
	return heap_objects(heap);
}

/* The live-or-garbage graph: the survivors' counts, exact. */
static void tally_counts(struct kunit *test, struct refcache_heap *heap,
			 struct refcache_cache *cache)
{
	struct refcache_obj **objs, *held[SCATTER_ROOTS];
	u32 *a, *b, *stack, *live, *want, roots[SCATTER_ROOTS], nlive = 0, reach;
	long st[REFCACHE_GC_EDGE_NSTATS];
	struct refcache_gc_result res;
	unsigned long *seen;
	unsigned int i;
	u32 r = 5;
	u64 set;

	graph_alloc(test, SCATTER_N, &objs, &a, &b, &stack, &seen);
	live = kunit_kcalloc(test, SCATTER_N, sizeof(*live), GFP_KERNEL);
	want = kunit_kcalloc(test, SCATTER_N, sizeof(*want), GFP_KERNEL);
	KUNIT_ASSERT_TRUE(test, live && want);
	/* The live objects, in @seen for now. */
	for (i = 0; i < SCATTER_N; i++) {
		objs[i] = new_obj(test, cache);
		if (scatter_next(&r) & 1) {
			live[nlive++] = i;
			__set_bit(i, seen);
		}
	}
	KUNIT_ASSERT_GT(test, nlive, 0U);
	for (i = 0; i < SCATTER_N; i++) {
		a[i] = scatter_next(&r);
		b[i] = scatter_next(&r);
		if (test_bit(i, seen)) {
			a[i] = live[a[i] % nlive];
			b[i] = live[b[i] % nlive];
		}
		KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 0, objs[a[i]]), 0);
		KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 1, objs[b[i]]), 0);
	}
	for (i = 0; i < SCATTER_ROOTS; i++) {
		roots[i] = live[scatter_next(&r) % nlive];
		held[i] = refcache_obj_get(objs[roots[i]]);
	}
	memset(seen, 0, BITS_TO_LONGS(SCATTER_N) * sizeof(*seen));
	reach = graph_reach(a, b, stack, seen, roots, SCATTER_ROOTS);
	for (i = 0; i < SCATTER_ROOTS; i++)
		want[roots[i]]++;
	for (i = 0; i < SCATTER_N; i++) {
		if (!test_bit(i, seen))
			continue;
		want[a[i]]++;
		want[b[i]]++;
	}
	put_all(objs, SCATTER_N);
	set = heap_objects(heap);
	KUNIT_EXPECT_GT(test, set, (u64)reach);
	edge_stats(st);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_GT(test, edge_stat_delta(st, REFCACHE_GC_EDGE_TALLIED), 0L);
	KUNIT_EXPECT_EQ(test, res.collected, set - reach);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), (u64)reach);
	for (i = 0; i < SCATTER_N; i++)
		if (test_bit(i, seen))
			KUNIT_EXPECT_EQ(test, refcount_read(&objs[i]->ref), want[i]);
	check_lists(test, heap);
	put_all_collect_empty(test, heap, held, SCATTER_ROOTS);
}

static void gc_tally(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = new_cache(test, heap, gc_payload, 3,
						 REFCACHE_CACHE_TRACKED, NULL);
	long st[REFCACHE_GC_EDGE_NSTATS];
	unsigned long saved_min = refcache_gc_edges_min;
	struct refcache_gc_result res;
	struct refcache_obj **objs, *x;
	unsigned int i;
	int ret;
	u64 set;

	objs = kunit_kcalloc(test, SCATTER_N, sizeof(*objs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, objs);
	ret = kunit_add_action_or_reset(test, edges_min_back, (void *)saved_min);
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, tally_hook_off, NULL));
	refcache_gc_edges_min = 0;

	tally_counts(test, heap, cache);

	/* A survivor with a count too large to tally. */
	x = new_obj(test, cache);
	for (i = 0; i < TALLY_BIG; i++)
		refcache_obj_get(x);
	set = tally_graph(test, heap, cache, objs, x, TALLY_FROM, false, NULL);
	edge_stats(st);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_GT(test, edge_stat_delta(st, REFCACHE_GC_EDGE_BUFFERS), 0L);
	KUNIT_EXPECT_GT(test, edge_stat_delta(st, REFCACHE_GC_EDGE_UNTALLIED), 0L);
	KUNIT_EXPECT_EQ(test, res.collected, set - 1);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	KUNIT_EXPECT_EQ(test, refcount_read(&x->ref), TALLY_BIG + 1U);
	check_lists(test, heap);
	for (i = 0; i <= TALLY_BIG; i++)
		refcache_obj_put(x);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);

	/* A hub of the garbage with a count too large to tally. */
	x = new_obj(test, cache);
	set = tally_graph(test, heap, cache, objs, x, SCATTER_N, true, NULL);
	refcache_obj_put(x);
	edge_stats(st);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_GT(test, edge_stat_delta(st, REFCACHE_GC_EDGE_UNTALLIED), 0L);
	KUNIT_EXPECT_EQ(test, res.collected, set);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);

	/* Its holder's put after the walk: the garbage held the rest. */
	x = new_obj(test, cache);
	set = tally_graph(test, heap, cache, objs, x, TALLY_FROM, false, NULL);
	tally_put_on_walk = x;
	refcache_gc_test_hooks.walked = tally_walked;
	edge_stats(st);
	res = collect(test, heap, 2);
	refcache_gc_test_hooks.walked = NULL;
	KUNIT_EXPECT_NULL(test, tally_put_on_walk);
	KUNIT_EXPECT_GT(test, edge_stat_delta(st, REFCACHE_GC_EDGE_TALLIED), 0L);
	KUNIT_EXPECT_GT(test, edge_stat_delta(st, REFCACHE_GC_EDGE_LATE), 0L);
	KUNIT_EXPECT_EQ(test, res.collected, set - 1);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	check_lists(test, heap);
}

static void dead_max_back(void *saved)
{
	refcache_gc_dead_max = (unsigned long)saved;
}

/* Each weak handle of @wid reads dead, and is closed. */
static void weak_all_dead(struct kunit *test, struct refcache_heap *heap, const u64 *wid,
			  unsigned int n)
{
	struct refcache_obj *w;
	unsigned int i;

	refcache_heap_lock(heap);
	for (i = 0; i < n; i++) {
		w = (void *)1;
		KUNIT_EXPECT_EQ(test, refcache_handle_lookup_locked(heap, wid[i], true, &w), 0);
		KUNIT_EXPECT_NULL(test, w);
		refcache_handle_close_locked(heap, wid[i]);
	}
	refcache_heap_unlock(heap);
}

#define TALLY_WEAK	64

/*
 * A tally beside step 0: a tenth of the objects (H) held by handles, so
 * marked; four tenths (L) a ring through slot 1 from one kernel
 * reference, slot 0 into L or H; the rest garbage, referencing garbage
 * and L only, with weak handles on TALLY_WEAK of it.  The tally holds
 * (references to H are survivors'), and every count of L and H is
 * exactly what the graph and the holders give; the weak handles read
 * dead.  With @payload and @dead_max, garbage beyond the dead-block array
 * (or too large for it) goes through the list.
 */
static void tally_marked_round(struct kunit *test, u32 payload, unsigned long dead_max)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = new_cache(test, heap, payload, 2,
						 REFCACHE_CACHE_TRACKED, NULL);
	u32 *cls, *want, *hs, *ls, *gs, nh = 0, nl = 0, ng = 0, x = 99, i, k, r, to;
	unsigned long saved_max = refcache_gc_dead_max;
	long st[REFCACHE_GC_EDGE_NSTATS];
	struct refcache_obj **objs, *root;
	struct refcache_gc_result res;
	u64 *hid, wid[TALLY_WEAK];
	u64 before;
	int ret;

	ret = kunit_add_action_or_reset(test, dead_max_back, (void *)saved_max);
	KUNIT_ASSERT_EQ(test, ret, 0);
	objs = kunit_kcalloc(test, SCATTER_N, sizeof(*objs), GFP_KERNEL);
	cls = kunit_kcalloc(test, SCATTER_N, sizeof(u32), GFP_KERNEL);
	want = kunit_kcalloc(test, SCATTER_N, sizeof(u32), GFP_KERNEL);
	hs = kunit_kcalloc(test, SCATTER_N, sizeof(u32), GFP_KERNEL);
	ls = kunit_kcalloc(test, SCATTER_N, sizeof(u32), GFP_KERNEL);
	gs = kunit_kcalloc(test, SCATTER_N, sizeof(u32), GFP_KERNEL);
	hid = kunit_kcalloc(test, SCATTER_N, sizeof(u64), GFP_KERNEL);
	KUNIT_ASSERT_TRUE(test, objs && cls && want && hs && ls && gs && hid);
	for (i = 0; i < SCATTER_N; i++) {
		objs[i] = new_obj(test, cache);
		r = scatter_next(&x) % 10;
		cls[i] = r == 0 ? 0 : r < 5 ? 1 : 2;
		if (cls[i] == 0)
			hs[nh++] = i;
		else if (cls[i] == 1)
			ls[nl++] = i;
		else
			gs[ng++] = i;
	}
	KUNIT_ASSERT_TRUE(test, nh && nl && ng >= TALLY_WEAK);
	for (i = 0; i < SCATTER_N; i++) {
		r = scatter_next(&x);
		if (cls[i] == 0)
			to = hs[r % nh];
		else if (cls[i] == 1)
			to = (r & 1) ? ls[r % nl] : hs[r % nh];
		else
			to = (r & 1) ? gs[r % ng] : ls[r % nl];
		KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 0, objs[to]), 0);
		if (cls[i] != 2)
			want[to]++;
		r = scatter_next(&x);
		if (cls[i] == 0)
			to = hs[r % nh];
		else if (cls[i] == 1)
			continue;	/* the ring, below */
		else
			to = (r & 1) ? gs[r % ng] : ls[r % nl];
		KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 1, objs[to]), 0);
		if (cls[i] != 2)
			want[to]++;
	}
	for (k = 0; k < nl; k++) {
		to = ls[(k + 1) % nl];
		KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[ls[k]], 1, objs[to]), 0);
		want[to]++;
	}
	refcache_heap_lock(heap);
	for (k = 0; k < nh; k++) {
		KUNIT_EXPECT_EQ(test, refcache_handle_new_locked(heap, objs[hs[k]], false,
								 &hid[k]), 0);
		want[hs[k]]++;
	}
	for (k = 0; k < TALLY_WEAK; k++)
		KUNIT_EXPECT_EQ(test, refcache_handle_new_locked(heap, objs[gs[k]], true,
								 &wid[k]), 0);
	refcache_heap_unlock(heap);
	root = refcache_obj_get(objs[ls[0]]);
	want[ls[0]]++;
	put_all(objs, SCATTER_N);
	before = heap_objects(heap);

	refcache_gc_edges_min = 0;
	refcache_gc_dead_max = dead_max;
	edge_stats(st);
	res = collect(test, heap, 2);
	refcache_gc_dead_max = saved_max;
	KUNIT_EXPECT_GT(test, edge_stat_delta(st, REFCACHE_GC_EDGE_BUFFERS), 0L);
	KUNIT_EXPECT_GT(test, edge_stat_delta(st, REFCACHE_GC_EDGE_TALLIED), 0L);
	KUNIT_EXPECT_EQ(test, res.collected, before - nh - nl);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), (u64)(nh + nl));
	for (i = 0; i < SCATTER_N; i++)
		if (cls[i] != 2)
			KUNIT_EXPECT_EQ_MSG(test, refcount_read(&objs[i]->ref), want[i],
					    "object %u of class %u", i, cls[i]);
	check_lists(test, heap);
	weak_all_dead(test, heap, wid, TALLY_WEAK);
	refcache_heap_lock(heap);
	for (k = 0; k < nh; k++)
		KUNIT_EXPECT_EQ(test, refcache_handle_close_locked(heap, hid[k]), 0);
	refcache_heap_unlock(heap);
	refcache_obj_put(root);
	collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

static void gc_tally_marked(struct kunit *test)
{
	unsigned long saved_min = refcache_gc_edges_min;
	int ret;

	ret = kunit_add_action_or_reset(test, edges_min_back, (void *)saved_min);
	KUNIT_ASSERT_EQ(test, ret, 0);
	acyclic_off(test);
	/* Garbage past a small dead-block array; then too large for one. */
	tally_marked_round(test, gc_payload, 100);
	tally_marked_round(test, 1024, BIT(20));
}

/*
 * The late put with a child: @x, held by one reference put after the
 * walk and by garbage, holds the only reference to @y but the
 * garbage's; weak handles on both.  The put after the gather frees @x,
 * and its release frees @y; both weak handles read dead.
 */
static void gc_tally_late_child(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = new_cache(test, heap, gc_payload, 4,
						 REFCACHE_CACHE_TRACKED, NULL);
	unsigned long saved_min = refcache_gc_edges_min;
	long st[REFCACHE_GC_EDGE_NSTATS];
	struct refcache_obj **objs, *x, *y;
	struct refcache_gc_result res;
	u64 wid[2], before;
	int ret;

	ret = kunit_add_action_or_reset(test, edges_min_back, (void *)saved_min);
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, tally_hook_off, NULL));
	objs = kunit_kcalloc(test, SCATTER_N, sizeof(*objs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, objs);
	x = new_obj(test, cache);
	y = new_obj(test, cache);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(x, 0, y), 0);
	refcache_heap_lock(heap);
	KUNIT_EXPECT_EQ(test, refcache_handle_new_locked(heap, x, true, &wid[0]), 0);
	KUNIT_EXPECT_EQ(test, refcache_handle_new_locked(heap, y, true, &wid[1]), 0);
	refcache_heap_unlock(heap);
	before = tally_graph(test, heap, cache, objs, x, TALLY_FROM, false, y);
	/* @x's slot holds @y now; the garbage's slots hold it too. */
	refcache_obj_put(y);

	refcache_gc_edges_min = 0;
	tally_put_on_walk = x;
	refcache_gc_test_hooks.walked = tally_walked;
	edge_stats(st);
	res = collect(test, heap, 2);
	refcache_gc_test_hooks.walked = NULL;
	KUNIT_EXPECT_GT(test, edge_stat_delta(st, REFCACHE_GC_EDGE_TALLIED), 0L);
	KUNIT_EXPECT_GT(test, edge_stat_delta(st, REFCACHE_GC_EDGE_LATE), 0L);
	KUNIT_EXPECT_EQ(test, res.collected, before - 2);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	weak_all_dead(test, heap, wid, 2);
	check_lists(test, heap);
}

/*
 * A young collection through the edge buffer: 16 objects of generation 2
 * each reference a live object of generation 0 (even objects: slots into
 * even objects, one a chain), beside odd garbage.  First the garbage
 * references only generation 0: the tally holds.  Then some garbage also
 * references generation 2: the gather reads the garbage's slots instead,
 * and settles the survivors.  Each time every count is exact.
 */
static void gc_tally_young(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	unsigned long saved_min = refcache_gc_edges_min;
	long st[REFCACHE_GC_EDGE_NSTATS];
	struct refcache_obj **objs, *old[16];
	struct refcache_gc_result res;
	u32 *want, r = 5, i, j, to;
	unsigned int round;
	u64 before;
	int ret;

	ret = kunit_add_action_or_reset(test, edges_min_back, (void *)saved_min);
	KUNIT_ASSERT_EQ(test, ret, 0);
	acyclic_off(test);
	objs = kunit_kcalloc(test, SCATTER_N, sizeof(*objs), GFP_KERNEL);
	want = kunit_kcalloc(test, SCATTER_N, sizeof(u32), GFP_KERNEL);
	KUNIT_ASSERT_TRUE(test, objs && want);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < 16; i++)
			old[i] = new_obj(test, cache);
		collect(test, heap, 2);
		collect(test, heap, 2);	/* old[] in generation 2 */
		memset(want, 0, SCATTER_N * sizeof(u32));
		for (i = 0; i < SCATTER_N; i++)
			objs[i] = new_obj(test, cache);
		for (i = 0; i < SCATTER_N; i++) {
			for (j = 0; j < 2; j++) {
				to = scatter_next(&r);
				if (!(i & 1))
					to = j ? (i + 2) % SCATTER_N : to & ~1U;
				if ((i & 1) && round && i < 200 && !j) {
					KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], j,
										 old[i % 16]), 0);
					continue;
				}
				KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], j, objs[to]), 0);
				if (!(i & 1))
					want[to]++;
			}
		}
		for (i = 0; i < 16; i++) {
			KUNIT_ASSERT_EQ(test, refcache_obj_store(old[i], 0, objs[2 * i]), 0);
			want[2 * i]++;
		}
		/* Every 64th object stays held. */
		for (i = 0; i < SCATTER_N; i++) {
			if (!(i & 1) && !(i % 64))
				want[i]++;
			else
				refcache_obj_put(objs[i]);
		}
		before = heap_objects(heap);
		refcache_gc_edges_min = 0;
		edge_stats(st);
		res = collect(test, heap, 0);
		refcache_gc_edges_min = saved_min;
		KUNIT_EXPECT_GT(test, edge_stat_delta(st, REFCACHE_GC_EDGE_BUFFERS), 0L);
		if (!round)
			KUNIT_EXPECT_GT(test, edge_stat_delta(st, REFCACHE_GC_EDGE_TALLIED), 0L);
		KUNIT_EXPECT_EQ(test, res.collected, before - SCATTER_N / 2 - 16);
		for (i = 0; i < SCATTER_N; i += 2)
			KUNIT_EXPECT_EQ_MSG(test, refcount_read(&objs[i]->ref), want[i],
					    "round %u object %u", round, i);
		for (i = 0; i < 16; i++)
			KUNIT_EXPECT_EQ(test, refcount_read(&old[i]->ref), 1U);
		check_lists(test, heap);
		for (i = 0; i < SCATTER_N; i += 64)
			refcache_obj_put(objs[i]);
		put_all(old, 16);
		collect(test, heap, 2);
		KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	}
}

/*
 * The tally against a holder outside the heap: a kthread gets and puts
 * references to @x without the heap's mutex, holding one or two at a
 * time, while collections of fresh garbage graphs that reference @x
 * tally and take the garbage's references off @x's count with a
 * compare-and-exchange (tally_drop()).  At the end @x's count is the
 * test's one reference, exactly.
 */
struct tally_hammer {
	struct refcache_obj *x;
	atomic_t stop;
	struct completion done;
	unsigned long loops;
};

static int tally_hammer_fn(void *arg)
{
	struct tally_hammer *h = arg;

	while (!atomic_read(&h->stop)) {
		refcache_obj_get(h->x);
		refcache_obj_get(h->x);
		refcache_obj_put(h->x);
		refcache_obj_put(h->x);
		if (!(++h->loops & 1023))
			cond_resched();
	}
	complete_all(&h->done);
	return 0;
}

/* Stopped before the heap goes, however the case ends. */
static void tally_hammer_stop(void *arg)
{
	struct tally_hammer *h = arg;

	atomic_set(&h->stop, 1);
	wait_for_completion(&h->done);
}

#define TALLY_RACE_ROUNDS	4

static void gc_tally_race(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = new_cache(test, heap, gc_payload, 3,
						 REFCACHE_CACHE_TRACKED, NULL);
	unsigned long saved_min = refcache_gc_edges_min;
	long st[REFCACHE_GC_EDGE_NSTATS];
	struct refcache_gc_result res;
	struct refcache_obj **objs;
	struct task_struct *task;
	struct tally_hammer *h;
	unsigned int round;
	u64 set;
	int ret;

	ret = kunit_add_action_or_reset(test, edges_min_back, (void *)saved_min);
	KUNIT_ASSERT_EQ(test, ret, 0);
	objs = kunit_kcalloc(test, SCATTER_N, sizeof(*objs), GFP_KERNEL);
	h = kunit_kzalloc(test, sizeof(*h), GFP_KERNEL);
	KUNIT_ASSERT_TRUE(test, objs && h);
	h->x = new_obj(test, cache);
	init_completion(&h->done);
	task = kthread_run(tally_hammer_fn, h, "gc_kunit_tally");
	if (IS_ERR(task)) {
		KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(task));
		refcache_obj_put(h->x);
		return;
	}
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, tally_hammer_stop, h));
	refcache_gc_edges_min = 0;
	for (round = 0; round < TALLY_RACE_ROUNDS; round++) {
		set = tally_graph(test, heap, cache, objs, h->x, TALLY_FROM, false, NULL);
		edge_stats(st);
		res = collect(test, heap, 2);
		KUNIT_EXPECT_GT(test, edge_stat_delta(st, REFCACHE_GC_EDGE_TALLIED), 0L);
		KUNIT_EXPECT_EQ(test, res.collected, set - 1);
		KUNIT_EXPECT_EQ(test, heap_objects(heap), 1ULL);
	}
	tally_hammer_stop(h);
	kunit_info(test, "%lu loops of the holder beside %u collections\n", h->loops,
		   TALLY_RACE_ROUNDS);
	KUNIT_EXPECT_GT(test, h->loops, 0UL);
	KUNIT_EXPECT_EQ(test, refcount_read(&h->x->ref), 1U);
	refcache_obj_put(h->x);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/*
 * Two chains of SCATTER_N objects each, one held by a kernel reference at
 * its head and one by a handle, in a scattered set (a random garbage
 * graph allocated first) that takes the edge buffer.  Each link is
 * reached only from the one before it, so the walk's end and the
 * marking's take a sweep of the buffer per link (of the buckets in use
 * only: one).  Everything but the chains is collected.
 */
static void gc_scattered_chain(struct kunit *test)
{
	unsigned long saved_min = refcache_gc_edges_min;
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	struct refcache_obj **objs, *head[2];
	long st[REFCACHE_GC_EDGE_NSTATS];
	struct refcache_gc_result res;
	unsigned int i, c;
	u64 before, id;
	u32 x = 7;

	objs = kunit_kcalloc(test, SCATTER_N, sizeof(*objs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, objs);
	for (i = 0; i < SCATTER_N; i++)
		objs[i] = new_obj(test, cache);
	for (i = 0; i < SCATTER_N; i++) {
		KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 0,
							 objs[scatter_next(&x)]), 0);
		KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 1,
							 objs[scatter_next(&x)]), 0);
	}
	put_all(objs, SCATTER_N);
	before = heap_objects(heap);
	for (c = 0; c < 2; c++) {
		for (i = 0; i < SCATTER_N; i++)
			objs[i] = new_obj(test, cache);
		for (i = 0; i + 1 < SCATTER_N; i++)
			KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 0, objs[i + 1]), 0);
		head[c] = refcache_obj_get(objs[0]);
		put_all(objs, SCATTER_N);
	}
	refcache_heap_lock(heap);
	KUNIT_EXPECT_EQ(test, refcache_handle_new_locked(heap, head[1], false, &id), 0);
	refcache_heap_unlock(heap);
	refcache_obj_put(head[1]);

	refcache_gc_edges_min = 0;
	edge_stats(st);
	res = collect(test, heap, 2);
	refcache_gc_edges_min = saved_min;
	KUNIT_EXPECT_GT(test, edge_stat_delta(st, REFCACHE_GC_EDGE_BUFFERS), 0L);
	KUNIT_EXPECT_EQ(test, res.collected, before);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 2ULL * SCATTER_N);
	check_lists(test, heap);

	refcache_heap_lock(heap);
	KUNIT_EXPECT_EQ(test, refcache_handle_close_locked(heap, id), 0);
	refcache_heap_unlock(heap);
	refcache_obj_put(head[0]);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/*
 * The acyclic pass of Documentation/collector.rst (after step 0).  A
 * graph of ACYC_N objects made in list order, each referencing up to two
 * later ones (@down: earlier ones), so that every reference goes one
 * way.  At @back (ACYC_N: nowhere) one object also references the other
 * way: held, so that the set has references both ways; or (@garbage) not
 * held, closing a chain that runs to it from ACYC_N / 16 into a garbage
 * cycle, which the trial must find after a pass that stopped late.
 * ACYC_ROOTS objects are held.  Exactly what they reach must survive,
 * whether the pass collects the set alone or stops and leaves it to the
 * trial, on the objects it passed and gave back.
 */
#define ACYC_N		1500
#define ACYC_ROOTS	4

struct acyc_param {
	const char *name;
	bool down, biased, off, garbage;
	u32 back;
};

static const struct acyc_param acyc_params[] = {
	{ "down the list", false, false, false, false, ACYC_N },
	{ "up the list", true, false, false, false, ACYC_N },
	{ "biased", false, true, false, false, ACYC_N },
	{ "pass off", false, false, true, false, ACYC_N },
	{ "late cycle", false, false, false, false, ACYC_N * 7 / 8 },
	{ "late cycle, up", true, false, false, false, ACYC_N * 7 / 8 },
	{ "early cycle", false, false, false, false, ACYC_N / 64 },
	{ "late garbage cycle", false, false, false, true, ACYC_N * 7 / 8 },
	{ "late garbage cycle, biased", false, true, false, true, ACYC_N * 7 / 8 },
};

static void acyc_desc(const struct acyc_param *p, char *desc)
{
	strscpy(desc, p->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(acyc, acyc_params, acyc_desc);

/* A random object of [lo, hi); the sentinel @none if the range is empty. */
static u32 acyc_pick(u32 *x, u32 lo, u32 hi, u32 none)
{
	return lo < hi ? lo + scatter_next(x) % (hi - lo) : none;
}

/* The heap's own counts of the pass (struct refcache_gc). */
struct acyc_counts {
	u64 done, stopped, passed, skipped;
	u8 skip;
};

static struct acyc_counts acyc_counts(struct refcache_heap *heap)
{
	struct refcache_gc *gc = &heap->objs.gc;
	struct acyc_counts c;

	refcache_heap_lock(heap);
	c.done = gc->acyclic_done;
	c.stopped = gc->acyclic_stopped;
	c.passed = gc->acyclic_passed;
	c.skipped = gc->acyclic_skipped;
	c.skip = gc->acyclic_skip[2];
	refcache_heap_unlock(heap);
	return c;
}

/* A collection of generation @gen, and in *@d what the pass did in it. */
static struct refcache_gc_result acyc_collect(struct kunit *test, struct refcache_heap *heap,
					      unsigned int gen, struct acyc_counts *d)
{
	struct acyc_counts c0 = acyc_counts(heap), c1;
	struct refcache_gc_result res = collect(test, heap, gen);

	c1 = acyc_counts(heap);
	d->done = c1.done - c0.done;
	d->stopped = c1.stopped - c0.stopped;
	d->passed = c1.passed - c0.passed;
	d->skipped = c1.skipped - c0.skipped;
	d->skip = c1.skip;
	return res;
}

/*
 * A new garbage 2-cycle, its slots 1 referencing @to0 and @to1 (or
 * nothing), and a collection of generation @gen: the pass stops at its
 * second object, having passed @passed, and the trial takes the two.
 */
static void acyc_garbage_pair(struct kunit *test, struct refcache_heap *heap,
			      struct refcache_cache *cache, unsigned int gen,
			      struct refcache_obj *to0, struct refcache_obj *to1, u64 passed)
{
	struct refcache_gc_result res;
	struct refcache_obj *c[2];
	struct acyc_counts d;

	c[0] = new_obj(test, cache);
	c[1] = new_obj(test, cache);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(c[0], 0, c[1]), 0);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(c[0], 1, to0), 0);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(c[1], 0, c[0]), 0);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(c[1], 1, to1), 0);
	put_all(c, 2);
	res = acyc_collect(test, heap, gen, &d);
	KUNIT_EXPECT_EQ(test, res.collected, 2ULL);
	KUNIT_EXPECT_EQ(test, d.stopped, 1ULL);
	KUNIT_EXPECT_EQ(test, d.passed, passed);
	KUNIT_EXPECT_EQ(test, d.skip, 0);
}

static void gc_acyclic(struct kunit *test)
{
	const struct acyc_param *p = test->param_value;
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = new_cache(test, heap, gc_payload, 2,
						 REFCACHE_CACHE_TRACKED |
						 (p->biased ? REFCACHE_CACHE_BIASED : 0), NULL);
	struct refcache_obj **objs, *held[ACYC_ROOTS];
	u32 *a, *b, *stack, roots[ACYC_ROOTS], reach, x = 11, i;
	const u32 chain = ACYC_N / 16;
	struct refcache_gc_result res;
	struct acyc_counts d;
	unsigned long *seen;
	u64 before;

	if (p->off)
		acyclic_off(test);
	graph_alloc(test, ACYC_N, &objs, &a, &b, &stack, &seen);

	/* No edge: a reference to itself in a[] and b[], none in the slots. */
	for (i = 0; i < ACYC_N; i++) {
		objs[i] = new_obj(test, cache);
		a[i] = p->down ? acyc_pick(&x, 0, i, i) : acyc_pick(&x, i + 1, ACYC_N, i);
		b[i] = p->down ? acyc_pick(&x, 0, i, i) : acyc_pick(&x, i + 1, ACYC_N, i);
	}
	if (p->garbage) {
		for (i = chain; i < p->back; i++)
			a[i] = i + 1;
		b[p->back] = chain;
	} else if (p->back < ACYC_N) {	/* the other way, or to itself */
		b[p->back] = p->down ? acyc_pick(&x, p->back, ACYC_N, p->back) :
				       acyc_pick(&x, 0, p->back + 1, p->back);
	}
	for (i = 0; i < ACYC_N; i++) {
		if (a[i] != i)
			KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 0, objs[a[i]]), 0);
		if (b[i] != i || i == p->back)
			KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 1, objs[b[i]]), 0);
	}
	for (i = 0; i < ACYC_ROOTS; i++) {
		if (p->garbage)		/* past the cycle: none reaches it */
			roots[i] = acyc_pick(&x, p->back + 1, ACYC_N, ACYC_N - 1);
		else if (!i && p->back < ACYC_N)
			roots[i] = p->back;
		else
			roots[i] = scatter_next(&x) % ACYC_N;
		held[i] = refcache_obj_get(objs[roots[i]]);
	}
	reach = graph_reach(a, b, stack, seen, roots, ACYC_ROOTS);
	put_all(objs, ACYC_N);
	/* Without a reference the other way, refcounting freed the rest. */
	before = heap_objects(heap);
	if (p->back == ACYC_N)
		KUNIT_EXPECT_EQ(test, before, (u64)reach);

	res = acyc_collect(test, heap, 2, &d);
	KUNIT_EXPECT_EQ(test, res.collected, before - reach);
	if (p->garbage)
		KUNIT_EXPECT_GT(test, res.collected, (u64)(p->back - chain));
	KUNIT_EXPECT_EQ(test, res.uncollectable, 0ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), (u64)reach);
	check_lists(test, heap);
	if (p->off) {
		KUNIT_EXPECT_EQ(test, d.done + d.stopped, 0ULL);
	} else if (p->back == ACYC_N) {
		/* Collected by the pass alone, each survivor left with its stamp. */
		KUNIT_EXPECT_EQ(test, d.done, 1ULL);
		KUNIT_EXPECT_EQ(test, d.stopped, 0ULL);
		for (i = 0; i < ACYC_N; i++)
			if (test_bit(i, seen))
				KUNIT_EXPECT_EQ(test, mark_bits(objs[i]),
						heap->objs.gc.mark_stamp);
	} else {
		/* Stopped, and gave back what it stamped: the trial took it all. */
		KUNIT_EXPECT_EQ(test, d.stopped, 1ULL);
		KUNIT_EXPECT_GT(test, d.passed, 0ULL);
		KUNIT_EXPECT_LE(test, d.passed, before);
		for (i = 0; i < ACYC_N; i++)
			if (test_bit(i, seen))
				KUNIT_EXPECT_EQ(test, mark_bits(objs[i]), 0U);
	}

	/*
	 * The backoff: a pass that stopped late (past an eighth of the set
	 * and 64 objects) makes the next two full collections skip it; the
	 * one after runs it, and it stops again if the set still has the
	 * reference the other way.
	 */
	KUNIT_EXPECT_EQ(test, d.skip,
			(u8)((!p->off && d.passed > before / 8 && d.passed > 64) ? 2 : 0));
	if (p->garbage)		/* the chain alone is most of the set */
		KUNIT_EXPECT_EQ(test, d.skip, 2);
	if (d.skip) {
		for (i = 0; i < 2; i++) {
			acyc_collect(test, heap, 2, &d);
			KUNIT_EXPECT_EQ(test, d.skipped, 1ULL);
			KUNIT_EXPECT_EQ(test, d.stopped + d.done, 0ULL);
		}
		res = acyc_collect(test, heap, 2, &d);
		KUNIT_EXPECT_EQ(test, res.collected, 0ULL);
		KUNIT_EXPECT_EQ(test, d.stopped, p->garbage ? 0ULL : 1ULL);
		KUNIT_EXPECT_EQ(test, d.done, p->garbage ? 1ULL : 0ULL);
		KUNIT_EXPECT_EQ(test, heap_objects(heap), (u64)reach);
		check_lists(test, heap);
	}
	put_all_collect_empty(test, heap, held, ACYC_ROOTS);
}

/*
 * A young set references older objects and is referenced by one: those
 * references are from outside the set, or out of it, and take no part
 * in the pass's test.  Then a young 2-cycle after the young chain.
 */
static void gc_acyclic_young(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	struct refcache_obj *old, *y[3];
	struct refcache_gc_result res;
	struct acyc_counts d;

	old = new_obj(test, cache);
	collect(test, heap, 0);
	collect(test, heap, 1);		/* old is in generation 2 */
	y[0] = new_obj(test, cache);
	y[1] = new_obj(test, cache);
	y[2] = new_obj(test, cache);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(old, 0, y[0]), 0);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(y[0], 0, y[1]), 0);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(y[1], 0, y[2]), 0);
	/* A cycle, but through an object outside the set. */
	KUNIT_ASSERT_EQ(test, refcache_obj_store(y[2], 0, old), 0);
	put_all(y, 3);
	res = acyc_collect(test, heap, 0, &d);
	KUNIT_EXPECT_EQ(test, res.unreachable, 0ULL);
	KUNIT_EXPECT_EQ(test, d.done, 1ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 4ULL);
	check_lists(test, heap);
	expect_count(test, heap, 0, 1, 1);

	/* A young chain, then a young 2-cycle: the pass stops at its second. */
	y[0] = new_obj(test, cache);
	y[1] = new_obj(test, cache);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(y[0], 0, y[1]), 0);
	acyc_garbage_pair(test, heap, cache, 0, NULL, NULL, 4);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 6ULL);
	check_lists(test, heap);
	put_all(y, 2);
	refcache_obj_put(old);
	collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/*
 * Small random graphs against the trial's answer: references down the
 * list, up it, or both, with self-references, over objects in several
 * generations (some promoted before the rest are made), collected young
 * and then in full.  Whatever the pass does, what the held objects reach
 * must be exactly what is left.
 */
#define ACYC_RAND_N		40
#define ACYC_RAND_ROUNDS	150

static u32 acyc_edge(u32 *x, u32 i, u32 n, unsigned int mode)
{
	u32 r = scatter_next(x) % 8;

	if (!r)
		return n;			/* none */
	if (r == 1)
		return i;			/* itself */
	if (mode == 0 || (mode == 2 && (r & 1)))
		return acyc_pick(x, i + 1, n, n);	/* down the list */
	return acyc_pick(x, 0, i, n);		/* up it */
}

/* objs[@i]'s slot @slot to objs[@j], if @j is not the sentinel @n. */
static void acyc_link(struct kunit *test, struct refcache_obj **objs, u32 i,
		      unsigned int slot, u32 j, u32 n)
{
	if (j < n)
		KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], slot, objs[j]), 0);
}

static void gc_acyclic_random(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	struct refcache_obj **objs;
	u32 *a, *b, *stack, roots[ACYC_RAND_N], nroots, reach, x = 29, n, i, early;
	struct refcache_gc_result r0, r1;
	struct acyc_counts c0, c1;
	unsigned long *seen;
	unsigned int round;
	u64 before;

	graph_alloc(test, ACYC_RAND_N + 1, &objs, &a, &b, &stack, &seen);
	c0 = acyc_counts(heap);
	for (round = 0; round < ACYC_RAND_ROUNDS; round++) {
		n = 1 + scatter_next(&x) % ACYC_RAND_N;
		early = scatter_next(&x) % (n + 1);
		memset(seen, 0, BITS_TO_LONGS(ACYC_RAND_N + 1) * sizeof(*seen));
		for (i = 0; i < n; i++) {
			if (i == early)	/* the first ones one or two generations up */
				collect(test, heap, round % 2);
			objs[i] = new_obj(test, cache);
		}
		a[n] = n;
		b[n] = n;
		for (i = 0; i < n; i++) {
			a[i] = acyc_edge(&x, i, n, round % 3);
			b[i] = acyc_edge(&x, i, n, round % 3);
			acyc_link(test, objs, i, 0, a[i], n);
			acyc_link(test, objs, i, 1, b[i], n);
		}
		nroots = 0;
		for (i = 0; i < n; i++) {
			if (scatter_next(&x) % 4)
				refcache_obj_put(objs[i]);
			else
				roots[nroots++] = i;
		}
		reach = graph_reach(a, b, stack, seen, roots, nroots);
		if (test_bit(n, seen))
			reach--;	/* the sentinel */
		before = heap_objects(heap);
		r0 = collect(test, heap, round % 3);
		r1 = collect(test, heap, 2);
		KUNIT_EXPECT_EQ_MSG(test, heap_objects(heap), (u64)reach, "round %u", round);
		/* Not equal: a young collection's garbage may free older objects by refcount. */
		KUNIT_EXPECT_LE(test, r0.collected + r1.collected, before - reach);
		check_lists(test, heap);
		for (i = 0; i < nroots; i++)
			refcache_obj_put(objs[roots[i]]);
		collect(test, heap, 2);
		KUNIT_ASSERT_EQ(test, heap_objects(heap), 0ULL);
	}
	/* Both ways were taken, and the pass alone collected young sets too. */
	c1 = acyc_counts(heap);
	KUNIT_EXPECT_GT(test, c1.done - c0.done, (u64)ACYC_RAND_ROUNDS);
	KUNIT_EXPECT_GT(test, c1.stopped - c0.stopped, (u64)ACYC_RAND_ROUNDS / 2);
}

/*
 * Step 0 and the acyclic pass in one collection: what a handle reaches
 * is marked and out of the set, and the pass tests what is left.  A
 * reference into the marked part is not a reference into the set.
 */
#define ACYC_CHAIN	16	/* the table's 64 slots: at most 4 per object */

static void gc_acyclic_marked(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	struct refcache_obj *ha[ACYC_CHAIN], *kb[ACYC_CHAIN];
	struct refcache_gc_result res;
	struct acyc_counts d;
	unsigned int i;
	u32 mark;
	u64 id;

	for (i = 0; i < ACYC_CHAIN; i++)
		ha[i] = new_obj(test, cache);
	for (i = 0; i < ACYC_CHAIN; i++)
		kb[i] = new_obj(test, cache);
	for (i = 0; i + 1 < ACYC_CHAIN; i++) {
		KUNIT_ASSERT_EQ(test, refcache_obj_store(ha[i], 0, ha[i + 1]), 0);
		KUNIT_ASSERT_EQ(test, refcache_obj_store(kb[i], 0, kb[i + 1]), 0);
	}
	refcache_heap_lock(heap);
	KUNIT_EXPECT_EQ(test, refcache_handle_new_locked(heap, ha[0], false, &id), 0);
	refcache_heap_unlock(heap);
	put_all(ha, ACYC_CHAIN);
	put_all(kb + 1, ACYC_CHAIN - 1);	/* kb[0]'s reference stays */

	res = acyc_collect(test, heap, 2, &d);
	KUNIT_EXPECT_EQ(test, res.unreachable, 0ULL);
	KUNIT_EXPECT_EQ(test, d.done, 1ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 2ULL * ACYC_CHAIN);
	check_lists(test, heap);
	/* Step 0's stamp is the later one: the pass takes its own first. */
	mark = heap->objs.gc.mark_stamp;
	for (i = 0; i < ACYC_CHAIN; i++) {
		KUNIT_EXPECT_EQ(test, mark_bits(ha[i]), mark);
		KUNIT_EXPECT_EQ(test, mark_bits(kb[i]), mark - 1);
	}

	/* A young garbage 2-cycle that references both chains. */
	acyc_garbage_pair(test, heap, cache, 2, ha[5], kb[5], ACYC_CHAIN + 2);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 2ULL * ACYC_CHAIN);
	check_lists(test, heap);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(ha[5]), 1U);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(kb[5]), 1U);

	refcache_heap_lock(heap);
	KUNIT_EXPECT_EQ(test, refcache_handle_close_locked(heap, id), 0);
	refcache_heap_unlock(heap);
	refcache_obj_put(kb[0]);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/*
 * Step 0 of Documentation/collector.rst: what strong handles reach leaves
 * the set before the trial.  A random graph held by handles, kernel
 * references and an untracked object's slot: each collection must leave
 * exactly what they reach, whichever way each object is found reachable.
 * The stamp left in the gc_refs bits tells which way: marked from a
 * handle (the collection's stamp) or by the trial (cleared to 0).
 */
#define MARK_N		2000
#define MARK_HANDLES	8
#define MARK_HELD	4

static void gc_marked_from_handles(struct kunit *test)
{
	struct refcache_heap *heap = quiet_heap(test);
	struct refcache_cache *cache = slot_cache(test, heap);
	struct refcache_cache *untracked = new_cache(test, heap, 16, 1, 0, NULL);
	struct refcache_obj **objs, *held[MARK_HELD], *u, *r;
	u32 roots[MARK_HANDLES + MARK_HELD + 1], *a, *b, *stack, reach, hreach, x = 7;
	struct refcache_gc_gen_stats st0[REFCACHE_GC_GENERATIONS], st1[REFCACHE_GC_GENERATIONS];
	struct refcache_gc_result res;
	unsigned long *seen, *hseen;
	u64 id[MARK_HANDLES], young_id, before;
	struct refcache_obj *pair[2];
	unsigned int i, round;

	acyclic_off(test);

	graph_alloc(test, MARK_N, &objs, &a, &b, &stack, &seen);
	hseen = kunit_kcalloc(test, BITS_TO_LONGS(MARK_N), sizeof(*hseen), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, hseen);
	for (i = 0; i < MARK_N; i++) {
		objs[i] = new_obj(test, cache);
		/* Out-degree 2, mostly to later objects: chains the trial would walk. */
		a[i] = scatter_next(&x) % MARK_N;
		b[i] = (i + 1 + scatter_next(&x) % 4) % MARK_N;
	}
	for (i = 0; i < MARK_N; i++) {
		KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 0, objs[a[i]]), 0);
		KUNIT_ASSERT_EQ(test, refcache_obj_store(objs[i], 1, objs[b[i]]), 0);
	}
	refcache_heap_lock(heap);
	for (i = 0; i < MARK_HANDLES; i++) {
		roots[i] = scatter_next(&x) % MARK_N;
		KUNIT_EXPECT_EQ(test, refcache_handle_new_locked(heap, objs[roots[i]], false,
								 &id[i]), 0);
	}
	refcache_heap_unlock(heap);
	for (i = 0; i < MARK_HELD; i++) {
		roots[MARK_HANDLES + i] = scatter_next(&x) % MARK_N;
		held[i] = refcache_obj_get(objs[roots[MARK_HANDLES + i]]);
	}
	/* An untracked object's slot: a reference from outside the graph. */
	u = new_obj(test, untracked);
	roots[MARK_HANDLES + MARK_HELD] = scatter_next(&x) % MARK_N;
	KUNIT_ASSERT_EQ(test, refcache_obj_store(u, 0, objs[roots[MARK_HANDLES + MARK_HELD]]), 0);
	hreach = graph_reach(a, b, stack, hseen, roots, MARK_HANDLES);
	reach = graph_reach(a, b, stack, seen, roots, ARRAY_SIZE(roots));
	put_all(objs, MARK_N);
	before = heap_objects(heap);
	KUNIT_EXPECT_GT(test, hreach, 0U);
	KUNIT_EXPECT_GE(test, reach, hreach);

	for (round = 0; round < 2; round++) {
		refcache_gc_get_stats(heap, st0);
		res = collect(test, heap, 2);
		refcache_gc_get_stats(heap, st1);
		KUNIT_EXPECT_EQ(test, res.collected, round ? 0ULL : before - 1 - reach);
		KUNIT_EXPECT_EQ(test, res.uncollectable, 0ULL);
		KUNIT_EXPECT_EQ(test, heap_objects(heap), (u64)reach + 1);
		/* The marked objects are examined too. */
		KUNIT_EXPECT_EQ(test, st1[2].candidates - st0[2].candidates,
				round ? (u64)reach : before - 1);
		check_lists(test, heap);
		for (i = 0; i < MARK_N; i++) {
			if (!test_bit(i, seen))
				continue;
			KUNIT_EXPECT_EQ(test, refcache_obj_generation(objs[i]), 2);
			if (test_bit(i, hseen))
				KUNIT_EXPECT_NE(test, mark_bits(objs[i]), 0U);
			else
				KUNIT_EXPECT_EQ(test, mark_bits(objs[i]), 0U);
		}
	}

	/*
	 * The stamps wrap: before the first of a new round, every tracked
	 * object's gc_refs bits are cleared, so that an object holding an old
	 * stamp (planted here: 1, the stamp that comes next) is neither
	 * skipped by the marking nor taken for marked by the trial.  Without
	 * the clearing, the garbage pair would be left out of the set.
	 */
	r = objs[roots[0]];
	pair[0] = new_obj(test, cache);
	pair[1] = new_obj(test, cache);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(pair[0], 0, pair[1]), 0);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(pair[1], 0, pair[0]), 0);
	refcache_heap_lock(heap);
	heap->objs.gc.mark_stamp = REFCACHE_OBJ_REFS_MAX;
	r->flags = (r->flags & ~(REFCACHE_OBJ_REFS_MAX << REFCACHE_OBJ_REFS_SHIFT)) |
		   (1U << REFCACHE_OBJ_REFS_SHIFT);
	pair[0]->flags |= 1U << REFCACHE_OBJ_REFS_SHIFT;
	pair[1]->flags |= 1U << REFCACHE_OBJ_REFS_SHIFT;
	refcache_heap_unlock(heap);
	put_all(pair, 2);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.collected, 2ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), (u64)reach + 1);
	KUNIT_EXPECT_EQ(test, heap->objs.gc.mark_stamp, 1U);
	KUNIT_EXPECT_EQ(test, mark_bits(r), 1U);
	check_lists(test, heap);

	/*
	 * A young collection: a young pair held by a handle is marked, with
	 * generation 1; young garbage is collected; the old objects are not
	 * in the set and keep their generation.
	 */
	for (i = 0; i < MARK_N / 4; i++) {
		pair[0] = new_obj(test, cache);
		pair[1] = new_obj(test, cache);
		KUNIT_ASSERT_EQ(test, refcache_obj_store(pair[0], 0, pair[1]), 0);
		KUNIT_ASSERT_EQ(test, refcache_obj_store(pair[1], 0, pair[0]), 0);
		if (!i) {
			refcache_heap_lock(heap);
			KUNIT_EXPECT_EQ(test, refcache_handle_new_locked(heap, pair[1], false,
									 &young_id), 0);
			refcache_heap_unlock(heap);
			r = pair[0];
		}
		put_all(pair, 2);
	}
	res = collect(test, heap, 0);
	KUNIT_EXPECT_EQ(test, res.collected, (u64)MARK_N / 2 - 2);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), (u64)reach + 3);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(r), 1);
	KUNIT_EXPECT_NE(test, mark_bits(r), 0U);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(objs[roots[0]]), 2);
	check_lists(test, heap);

	/*
	 * A handle table more than four times the set (10 handles, one
	 * object): not read, the trial alone.
	 */
	pair[0] = new_obj(test, cache);
	refcache_heap_lock(heap);
	KUNIT_EXPECT_EQ(test, refcache_handle_close_locked(heap, young_id), 0);
	KUNIT_EXPECT_EQ(test, refcache_handle_new_locked(heap, pair[0], false, &young_id), 0);
	refcache_heap_unlock(heap);
	refcache_obj_put(pair[0]);
	res = collect(test, heap, 0);
	KUNIT_EXPECT_EQ(test, res.unreachable, 0ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(pair[0]), 1);
	KUNIT_EXPECT_EQ(test, mark_bits(pair[0]), 0U);
	check_lists(test, heap);

	/* Everything let go: nothing is marked, everything collected. */
	refcache_heap_lock(heap);
	KUNIT_EXPECT_EQ(test, refcache_handle_close_locked(heap, young_id), 0);
	for (i = 0; i < MARK_HANDLES; i++)
		KUNIT_EXPECT_EQ(test, refcache_handle_close_locked(heap, id[i]), 0);
	refcache_heap_unlock(heap);
	put_all(held, MARK_HELD);
	refcache_obj_put(u);
	collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	check_lists(test, heap);
}

/*
 * Step 0 beside the rest of the collector: a kernel cache with callbacks
 * whose garbage references marked objects, an uncollectable pair first
 * held by a handle then let go, DEBUG_SAVEALL, a frozen root holding a
 * young object, and the stamps' wrap.  (From a review of step 0.)
 */
static void gc_marked_edges(struct kunit *test)
{
	/* Put at the end, before the kunit allocations its callbacks use. */
	struct refcache_heap *heap = refcache_heap_create();
	struct refcache_cache *sc, *kc, *uc;
	struct kctx *ctx;
	struct refcache_obj *k1, *k2, *s1, *g[2], *u[2], *f, *y, *pad[64];
	struct refcache_gc_result res;
	u64 hk, hu, hf, before;
	unsigned int i;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, heap);
	acyclic_off(test);
	refcache_gc_set_threshold(heap, 0, 10, 10);
	ctx = kctx_new(test, heap, 16);
	sc = slot_cache(test, heap);
	kc = kobj_cache(test, heap, &kobj_ops);
	uc = kobj_cache(test, heap, &noclear_ops);

	/* Enough objects that the table (64 slots) is at most 4 per object. */
	for (i = 0; i < ARRAY_SIZE(pad); i++) {
		pad[i] = new_obj(test, sc);
		if (i)
			KUNIT_ASSERT_EQ(test, refcache_obj_store(pad[i - 1], 0, pad[i]), 0);
	}
	k1 = kobj_new(test, kc, ctx);
	k2 = kobj_new(test, kc, ctx);
	s1 = new_obj(test, sc);
	kobj_set(k1, 0, s1);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(s1, 0, k2), 0);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(s1, 1, pad[0]), 0);
	/* Garbage of a kernel cache, referencing the marked objects. */
	g[0] = kobj_new(test, kc, ctx);
	g[1] = kobj_new(test, kc, ctx);
	kobj_set(g[0], 0, g[1]);
	kobj_set(g[1], 0, g[0]);
	kobj_set(g[0], 1, s1);
	kobj_set(g[1], 1, k2);
	/* An uncollectable pair, held by a handle for now. */
	u[0] = kobj_new(test, uc, ctx);
	u[1] = kobj_new(test, uc, ctx);
	kobj_set(u[0], 0, u[1]);
	kobj_set(u[1], 0, u[0]);
	kobj_set(u[1], 1, s1);
	refcache_heap_lock(heap);
	KUNIT_EXPECT_EQ(test, refcache_handle_new_locked(heap, k1, false, &hk), 0);
	KUNIT_EXPECT_EQ(test, refcache_handle_new_locked(heap, u[0], false, &hu), 0);
	refcache_heap_unlock(heap);
	refcache_obj_put(k1);
	refcache_obj_put(k2);
	refcache_obj_put(s1);
	put_all(g, 2);
	put_all(u, 2);
	put_all(pad, ARRAY_SIZE(pad));
	before = heap_objects(heap);

	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.collected, 2ULL);
	KUNIT_EXPECT_EQ(test, res.uncollectable, 0ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), before - 2);
	KUNIT_EXPECT_NE(test, mark_bits(k1), 0U);
	KUNIT_EXPECT_NE(test, mark_bits(u[1]), 0U);
	KUNIT_EXPECT_NE(test, mark_bits(pad[63]), 0U);
	check_lists(test, heap);

	/* The uncollectable pair let go: found, kept, counted, twice. */
	refcache_heap_lock(heap);
	KUNIT_EXPECT_EQ(test, refcache_handle_close_locked(heap, hu), 0);
	refcache_heap_unlock(heap);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.uncollectable, 2ULL);
	KUNIT_EXPECT_EQ(test, res.collected, 0ULL);
	check_lists(test, heap);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.uncollectable, 2ULL);
	check_lists(test, heap);

	/* SAVEALL: new garbage referencing marked objects is kept. */
	g[0] = kobj_new(test, kc, ctx);
	g[1] = kobj_new(test, kc, ctx);
	kobj_set(g[0], 0, g[1]);
	kobj_set(g[1], 0, g[0]);
	kobj_set(g[0], 1, s1);
	put_all(g, 2);
	refcache_heap_lock(heap);
	heap->objs.gc.debug = REFCACHE_GC_DEBUG_SAVEALL;
	refcache_heap_unlock(heap);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.collected, 2ULL);
	check_lists(test, heap);
	res = collect(test, heap, 0);
	check_lists(test, heap);
	refcache_heap_lock(heap);
	heap->objs.gc.debug = 0;
	refcache_gc_garbage_clear_locked(heap);
	refcache_heap_unlock(heap);
	res = collect(test, heap, 2);
	check_lists(test, heap);

	/* Freeze: a frozen root keeps a young object; neither is moved wrongly. */
	f = new_obj(test, sc);
	refcache_heap_lock(heap);
	KUNIT_EXPECT_EQ(test, refcache_handle_new_locked(heap, f, false, &hf), 0);
	refcache_heap_unlock(heap);
	refcache_obj_put(f);
	refcache_gc_freeze(heap);
	y = new_obj(test, sc);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(f, 0, y), 0);
	refcache_obj_put(y);
	for (i = 0; i < 8; i++)
		refcache_obj_put(new_obj(test, sc));
	res = collect(test, heap, 0);
	KUNIT_EXPECT_EQ(test, res.unreachable, 0ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(f), 3);
	KUNIT_EXPECT_EQ(test, refcache_obj_generation(y), 1);
	check_lists(test, heap);
	refcache_gc_unfreeze(heap);
	res = collect(test, heap, 2);
	KUNIT_EXPECT_EQ(test, res.collected, 0ULL);
	check_lists(test, heap);

	/* The stamps' wrap: REFS_MAX, then 1 and 2, the lists cleared between. */
	refcache_heap_lock(heap);
	heap->objs.gc.mark_stamp = REFCACHE_OBJ_REFS_MAX - 1;
	refcache_heap_unlock(heap);
	for (i = 0; i < 3; i++) {
		u32 want = i ? i : REFCACHE_OBJ_REFS_MAX;

		res = collect(test, heap, 2);
		KUNIT_EXPECT_EQ(test, res.collected, 0ULL);
		KUNIT_EXPECT_EQ(test, heap->objs.gc.mark_stamp, want);
		KUNIT_EXPECT_EQ(test, mark_bits(k1), want);
		KUNIT_EXPECT_EQ(test, mark_bits(pad[63]), want);
		check_lists(test, heap);
	}

	refcache_heap_lock(heap);
	KUNIT_EXPECT_EQ(test, refcache_handle_close_locked(heap, hk), 0);
	KUNIT_EXPECT_EQ(test, refcache_handle_close_locked(heap, hf), 0);
	refcache_heap_unlock(heap);
	res = collect(test, heap, 2);
	/* Left: the uncollectable pair and what it holds (s1, k2, pad). */
	KUNIT_EXPECT_EQ(test, res.collected, 0ULL);
	KUNIT_EXPECT_EQ(test, res.uncollectable, 4ULL + ARRAY_SIZE(pad));
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 4ULL + ARRAY_SIZE(pad));
	check_lists(test, heap);
	refcache_heap_put(heap);
}

/* --- heap teardown ------------------------------------------------------- */

/*
 * Two 2-cycles and a 1-cycle of a kernel cache, made under the lock: with
 * threshold 4 the fifth allocation queues a collection, which cannot start
 * before they are all garbage.
 */
static void make_kgarbage(struct kunit *test, struct refcache_cache *kc, struct kctx *ctx)
{
	static const unsigned int next[5] = { 1, 0, 3, 2, 4 };
	struct refcache_heap *heap = kc->heap;
	struct refcache_obj *o[5];
	unsigned int i, made;
	struct kpay *p;

	refcache_heap_lock(heap);
	for (made = 0; made < 5; made++) {
		o[made] = kobj_new_locked(kc, ctx);
		if (IS_ERR(o[made]))
			break;
	}
	for (i = 0; made == 5 && i < 5; i++) {
		p = refcache_obj_payload(o[i]);
		p->ref[0] = refcache_obj_get(o[next[i]]);
	}
	for (i = 0; i < made; i++)
		refcache_obj_put(o[i]);
	refcache_heap_unlock(heap);
	KUNIT_ASSERT_EQ(test, made, 5U);
}

static void gc_teardown_with_queued_collection(struct kunit *test)
{
	struct refcache_stats before, after;
	unsigned int iter, queued = 0;

	for (iter = 0; iter < 8; iter++) {
		struct refcache_heap *heap = refcache_heap_create();
		struct refcache_cache *kc;
		struct kctx *ctx;

		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, heap);
		ctx = kctx_new(test, heap, 8);
		kc = kobj_cache(test, heap, &kobj_ops);
		refcache_gc_set_threshold(heap, 4, 10, 10);
		make_kgarbage(test, kc, ctx);
		refcache_stats_read(&before);
		if (work_pending(&heap->objs.gc.work))
			queued++;
		refcache_heap_put(heap);
		refcache_stats_read(&after);
		/* The work's hold on the heap is gone too: the heap is freed. */
		KUNIT_EXPECT_EQ(test, after.heaps_destroyed, before.heaps_destroyed + 1);
		expect_callbacks(test, ctx, 1);
	}
	kunit_info(test, "%u of 8 heaps put with the collection still queued\n", queued);
}

static void gc_teardown_during_collection(struct kunit *test)
{
	struct refcache_heap *heap = refcache_heap_create();
	struct refcache_stats before, after;
	struct refcache_cache *kc;
	struct kctx *ctx;
	bool in;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, heap);
	ctx = kctx_new(test, heap, 8);
	kc = kobj_cache(test, heap, &kobj_ops);
	refcache_gc_set_threshold(heap, 4, 10, 10);
	atomic_set(&ctx->sleep_once, 1);
	make_kgarbage(test, kc, ctx);
	in = wait_for_completion_timeout(&ctx->sleeping, 10 * HZ);
	KUNIT_EXPECT_TRUE(test, in);
	refcache_stats_read(&before);
	/* The collection sleeps in a traverse with the heap locked. */
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->slept), 0);
	refcache_heap_put(heap);
	refcache_stats_read(&after);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->slept), 1);
	KUNIT_EXPECT_EQ(test, after.heaps_destroyed, before.heaps_destroyed + 1);
	expect_callbacks(test, ctx, 1);
}

/* --- concurrency ------------------------------------------------------- */

#define MUT_POOL	48
#define MUT_STEPS	3000
#define MUT_MAXOBJ	4096

struct mut {
	struct refcache_heap *heap;
	struct refcache_cache *cache;
	struct kctx *ctx;
	struct refcache_obj *pool[MUT_POOL];	/* under the heap's lock */
	atomic_t started;
	struct completion done[2];
};

static struct refcache_obj *mut_ref(struct refcache_obj *obj, unsigned int k)
{
	return ((struct kpay *)refcache_obj_payload(obj))->ref[k];
}

/* One random change to the graph; what it let go of is put without the lock. */
static void mut_step(struct mut *m)
{
	u32 i = get_random_u32_below(MUT_POOL), j = get_random_u32_below(MUT_POOL);
	u32 k = get_random_u32_below(KREFS);
	struct refcache_obj *o, *old = NULL;
	struct kpay *p;

	switch (get_random_u32_below(8)) {
	case 0:	/* a new object replaces a pool entry */
		o = kobj_try_new(m->cache, m->ctx);
		if (IS_ERR(o))
			break;
		refcache_heap_lock(m->heap);
		old = m->pool[i];
		m->pool[i] = o;
		refcache_heap_unlock(m->heap);
		break;
	case 1:	/* pool[i] references pool[j] */
		refcache_heap_lock(m->heap);
		if (m->pool[i]) {
			p = refcache_obj_payload(m->pool[i]);
			old = p->ref[k];
			p->ref[k] = m->pool[j] ? refcache_obj_get(m->pool[j]) : NULL;
		}
		refcache_heap_unlock(m->heap);
		break;
	case 2:	/* the pool lets go of one */
		refcache_heap_lock(m->heap);
		old = m->pool[i];
		m->pool[i] = NULL;
		refcache_heap_unlock(m->heap);
		break;
	case 3:	/* load a reference into the pool */
		refcache_heap_lock(m->heap);
		o = m->pool[j] ? mut_ref(m->pool[j], k) : NULL;
		if (o) {
			old = m->pool[i];
			m->pool[i] = refcache_obj_get(o);
		}
		refcache_heap_unlock(m->heap);
		break;
	case 4:	/* hold one for a while without the lock */
		refcache_heap_lock(m->heap);
		old = m->pool[i];
		if (old)
			refcache_obj_get(old);
		refcache_heap_unlock(m->heap);
		usleep_range(20, 100);
		break;
	case 5:	/* pool[i] and pool[j] reference each other (or it itself) */
		refcache_heap_lock(m->heap);
		o = m->pool[j];
		if (m->pool[i] && o) {
			p = refcache_obj_payload(m->pool[i]);
			old = p->ref[k];
			p->ref[k] = refcache_obj_get(o);
			p = refcache_obj_payload(o);
			refcache_obj_put(p->ref[k]);
			p->ref[k] = refcache_obj_get(m->pool[i]);
		}
		refcache_heap_unlock(m->heap);
		break;
	default: /* drop a payload reference */
		refcache_heap_lock(m->heap);
		if (m->pool[i]) {
			p = refcache_obj_payload(m->pool[i]);
			old = p->ref[k];
			p->ref[k] = NULL;
		}
		refcache_heap_unlock(m->heap);
		break;
	}
	refcache_obj_put(old);
}

static int mut_thread(void *arg)
{
	struct mut *m = arg;
	struct completion *done = &m->done[atomic_inc_return(&m->started) - 1];
	unsigned int step;

	for (step = 0; step < MUT_STEPS; step++) {
		mut_step(m);
		if (!(step & 31))
			cond_resched();
	}
	complete(done);
	return 0;
}

static void gc_concurrent_mutators(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct refcache_gc_gen_stats st[REFCACHE_GC_GENERATIONS];
	struct task_struct *task;
	u64 explicit = 0, total;
	struct mut *m;
	int i, nthreads = 0;

	m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, m);
	m->heap = heap;
	m->ctx = kctx_new(test, heap, MUT_MAXOBJ);
	m->cache = kobj_cache(test, heap, &kobj_ops);
	for (i = 0; i < MUT_POOL; i++)
		m->pool[i] = kobj_new(test, m->cache, m->ctx);
	init_completion(&m->done[0]);
	init_completion(&m->done[1]);
	refcache_gc_set_threshold(heap, 2, 2, 2);

	for (i = 0; i < 2; i++) {
		task = kthread_run(mut_thread, m, "gc_kunit_mut%d", i);
		if (IS_ERR(task)) {
			KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(task));
			break;
		}
		nthreads++;
	}
	while (nthreads && !(completion_done(&m->done[0]) &&
			     (nthreads < 2 || completion_done(&m->done[1])))) {
		KUNIT_EXPECT_EQ(test, refcache_gc_collect(heap, explicit % 3, NULL), 0);
		explicit++;
		usleep_range(3000, 5000);
	}
	for (i = 0; i < nthreads; i++)
		wait_for_completion(&m->done[i]);
	refcache_gc_flush(heap);

	refcache_gc_get_stats(heap, st);
	total = st[0].collections + st[1].collections + st[2].collections;
	kunit_info(test, "%d objects; %llu explicit, %llu automatic collections\n",
		   atomic_read(&m->ctx->next), explicit, total - explicit);
	kunit_info(test, "collections per generation %llu/%llu/%llu, %llu objects collected\n",
		   st[0].collections, st[1].collections, st[2].collections,
		   st[0].collected + st[1].collected + st[2].collected);
	KUNIT_EXPECT_GT(test, total, explicit);

	refcache_heap_lock(heap);
	for (i = 0; i < MUT_POOL; i++) {
		refcache_obj_put(m->pool[i]);
		m->pool[i] = NULL;
	}
	refcache_heap_unlock(heap);
	collect(test, heap, 2);
	refcache_gc_flush(heap);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	check_lists(test, heap);
	expect_callbacks(test, m->ctx, 1);
}

static struct kunit_case refcache_gc_cases[] = {
	KUNIT_CASE_PARAM(gc_cycle_collected, cycle_length_gen_params),
	KUNIT_CASE(gc_cycle_held_from_outside),
	KUNIT_CASE(gc_young_cycle_held_by_old),
	KUNIT_CASE(gc_garbage_frees_survivor),
	KUNIT_CASE(gc_garbage_drops_references),
	KUNIT_CASE(gc_all_garbage_outside_refs),
	KUNIT_CASE(gc_marked_from_handles),
	KUNIT_CASE(gc_marked_edges),
	KUNIT_CASE_PARAM(gc_acyclic, acyc_gen_params),
	KUNIT_CASE(gc_acyclic_young),
	KUNIT_CASE(gc_acyclic_marked),
	KUNIT_CASE(gc_acyclic_random),
	KUNIT_CASE(gc_dead_blocks_back_atomic),
	KUNIT_CASE(gc_dead_blocks_back_biased),
	KUNIT_CASE(gc_dead_blocks_back_capped),
	KUNIT_CASE(gc_dead_blocks_back_no_array),
	KUNIT_CASE(gc_callback_cycles),
	KUNIT_CASE(gc_clear_resurrects),
	KUNIT_CASE(gc_uncollectable_without_clear),
	KUNIT_CASE(gc_noclear_object_freed_with_garbage),
	KUNIT_CASE(gc_weak_dead_in_clear),
	KUNIT_CASE(gc_promotion_and_count),
	KUNIT_CASE(gc_auto_runs_on_workqueue),
	KUNIT_CASE(gc_disabled_and_threshold_zero),
	KUNIT_CASE(gc_freeze_unfreeze),
	KUNIT_CASE(gc_freeze_zeroes_counts),
	KUNIT_CASE(gc_quota_collects_first),
	KUNIT_CASE(gc_dying_member_left_alone),
	KUNIT_CASE(gc_lockless_put_waits_for_collection),
	KUNIT_CASE(gc_saturated_never_collected),
	KUNIT_CASE(gc_full_collection_25_percent),
	KUNIT_CASE(gc_teardown_with_queued_collection),
	KUNIT_CASE(gc_teardown_during_collection),
	KUNIT_CASE_SLOW(gc_concurrent_mutators),
	{}
};

static struct kunit_suite refcache_gc_suite = {
	.name = "refcache_gc",
	.test_cases = refcache_gc_cases,
};

static int gc_small_suite_init(struct kunit_suite *suite)
{
	gc_payload = GC_PAYLOAD_SMALL;
	return 0;
}

static void gc_small_suite_exit(struct kunit_suite *suite)
{
	gc_payload = GC_PAYLOAD_LARGE;
}

/*
 * The cases of heaps without callbacks (slot_cache()'s objects): with
 * small objects, their garbage takes the gather's path for small garbage
 * (forgotten, and given back by refcache_free_dead()).  The other cases'
 * caches have callbacks, or are their own (gc_dead_blocks_back_*).
 */
static struct kunit_case refcache_gc_small_cases[] = {
	KUNIT_CASE_PARAM(gc_cycle_collected, cycle_length_gen_params),
	KUNIT_CASE(gc_cycle_held_from_outside),
	KUNIT_CASE(gc_young_cycle_held_by_old),
	KUNIT_CASE(gc_garbage_frees_survivor),
	KUNIT_CASE(gc_garbage_drops_references),
	KUNIT_CASE(gc_all_garbage_outside_refs),
	KUNIT_CASE(gc_marked_from_handles),
	KUNIT_CASE_PARAM(gc_acyclic, acyc_gen_params),
	KUNIT_CASE(gc_acyclic_random),
	KUNIT_CASE(gc_promotion_and_count),
	KUNIT_CASE(gc_disabled_and_threshold_zero),
	KUNIT_CASE(gc_freeze_unfreeze),
	KUNIT_CASE(gc_freeze_zeroes_counts),
	KUNIT_CASE(gc_quota_collects_first),
	KUNIT_CASE(gc_dying_member_left_alone),
	KUNIT_CASE(gc_lockless_put_waits_for_collection),
	KUNIT_CASE(gc_saturated_never_collected),
	KUNIT_CASE(gc_full_collection_25_percent),
	KUNIT_CASE(gc_scattered_graph),
	KUNIT_CASE(gc_scattered_chain),
	KUNIT_CASE(gc_tally),
	KUNIT_CASE(gc_tally_marked),
	KUNIT_CASE(gc_tally_late_child),
	KUNIT_CASE(gc_tally_young),
	KUNIT_CASE(gc_tally_race),
	{}
};

static struct kunit_suite refcache_gc_small_suite = {
	.name = "refcache_gc_small",
	.suite_init = gc_small_suite_init,
	.suite_exit = gc_small_suite_exit,
	.test_cases = refcache_gc_small_cases,
};

kunit_test_suites(&refcache_gc_suite, &refcache_gc_small_suite);

MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
