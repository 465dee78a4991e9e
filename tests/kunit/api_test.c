// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite refcache_api: the in-kernel API against a kernel module
 * that misuses it.  Heap teardown must never change a live count (its
 * own heap's or another's), references across heaps are ignored by the
 * collector and teardown with a warning, refcache_obj_get_unless_zero()
 * wants the heap's mutex, and a module's callbacks are disarmed when it
 * goes (Documentation/objects.rst, "Heap lifetime" and "References
 * across heaps").
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/sched.h>

#include "kunit_util.h"

/* A kernel cache's payload: two counted references, and a test hook. */
struct xobj {
	struct refcache_obj *ref[2];
	struct xctx *ctx;
};

/*
 * What a case watches: counts the traverse callback saw during teardown,
 * callback calls, and a second thread that collects another heap while
 * teardown is inside a traverse callback.
 */
struct xctx {
	unsigned int min_seen;
	unsigned int traverses, clears, releases;
	bool armed;
	struct refcache_heap *other;
	struct completion go, done;
	struct refcache_gc_result res;
	int collect_ret;
};

static struct xobj *xp(struct refcache_obj *obj)
{
	return refcache_obj_payload(obj);
}

static void x_traverse(struct refcache_obj *obj, refcache_visit_t visit, void *arg)
{
	struct xobj *x = xp(obj);
	struct xctx *ctx = x->ctx;
	int i;

	for (i = 0; i < 2; i++) {
		if (!x->ref[i])
			continue;
		/* Only teardown runs traverse with the heap dying. */
		if (ctx && obj->cache->heap->objs.dying)
			ctx->min_seen = min(ctx->min_seen, refcache_obj_refcount(x->ref[i]));
		visit(x->ref[i], arg);
	}
	if (!ctx)
		return;
	ctx->traverses++;
	/* After the visits: the old teardown had lowered the counts by now. */
	if (ctx->armed && obj->cache->heap->objs.dying) {
		ctx->armed = false;
		complete(&ctx->go);
		wait_for_completion(&ctx->done);
	}
}

static void x_clear(struct refcache_obj *obj)
{
	struct xobj *x = xp(obj);
	int i;

	if (x->ctx)
		x->ctx->clears++;
	for (i = 0; i < 2; i++) {
		struct refcache_obj *r = x->ref[i];

		x->ref[i] = NULL;
		refcache_obj_put(r);
	}
}

static void x_release(struct refcache_obj *obj)
{
	if (xp(obj)->ctx)
		xp(obj)->ctx->releases++;
}

static const struct refcache_type_ops x_ops = {
	.traverse = x_traverse,
	.clear = x_clear,
	.release = x_release,
};

static struct refcache_obj *new_x(struct kunit *test, struct refcache_cache *cache,
				  struct xctx *ctx)
{
	struct refcache_obj *obj = new_obj(test, cache);

	xp(obj)->ctx = ctx;
	return obj;
}

/* Give @obj's payload slot @i a reference to @to (the heap's mutex held). */
static void x_link(struct refcache_obj *obj, int i, struct refcache_obj *to)
{
	struct refcache_heap *heap = obj->cache->heap;

	refcache_heap_lock(heap);
	xp(obj)->ref[i] = refcache_obj_get(to);
	refcache_heap_unlock(heap);
}

static void xctx_init(struct xctx *ctx)
{
	*ctx = (struct xctx){ .min_seen = UINT_MAX };
	init_completion(&ctx->go);
	init_completion(&ctx->done);
}

/*
 * A two-object cycle through payloads: teardown frees it, and while it
 * decides whether it may, the counts the callbacks see are the true ones
 * (the old teardown subtracted from the live counts and added back).
 */
static void api_teardown_counts_untouched(struct kunit *test)
{
	struct refcache_heap *heap = refcache_heap_create();
	struct refcache_cache *cache;
	struct refcache_obj *a, *b;
	struct xctx ctx;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, heap);
	xctx_init(&ctx);
	cache = refcache_cache_create(heap, "x", sizeof(struct xobj), 0,
				      REFCACHE_CACHE_TRACKED, &x_ops);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, cache);
	a = refcache_obj_alloc(cache);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, a);
	b = refcache_obj_alloc(cache);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, b);
	xp(a)->ctx = &ctx;
	xp(b)->ctx = &ctx;
	x_link(a, 0, b);
	x_link(b, 0, a);
	refcache_obj_put(a);
	refcache_obj_put(b);

	refcache_heap_put(heap);
	KUNIT_EXPECT_GE(test, ctx.traverses, 2U);
	KUNIT_EXPECT_EQ(test, ctx.min_seen, 1U);
	KUNIT_EXPECT_EQ(test, ctx.clears, 2U);
	KUNIT_EXPECT_EQ(test, ctx.releases, 2U);
}

static int collect_other(void *arg)
{
	struct xctx *ctx = arg;

	wait_for_completion(&ctx->go);
	ctx->collect_ret = refcache_gc_collect(ctx->other, 2, &ctx->res);
	complete(&ctx->done);
	return 0;
}

/*
 * Issue 13's scenario: heap 1's object A holds (against the rule) a
 * reference to X of heap 2, which is in a self-cycle.  While heap 1's
 * teardown is inside A's traverse callback, heap 2 is collected.  X must
 * survive that collection: A's reference is in X's count, and teardown
 * may not take it away.  (The old teardown did, the collection freed X,
 * and teardown then wrote into X's freed block: a KASAN report.)
 */
static void api_teardown_cross_heap_collect(struct kunit *test)
{
	struct refcache_heap *h1 = refcache_heap_create();
	struct refcache_heap *h2 = new_heap(test);
	struct refcache_cache *xc, *sc;
	struct refcache_obj *a, *x;
	struct task_struct *t;
	struct refcache_gc_result res;
	struct xctx ctx;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, h1);
	xctx_init(&ctx);
	ctx.other = h2;
	sc = new_cache(test, h2, 0, 1, REFCACHE_CACHE_TRACKED, NULL);
	x = new_obj(test, sc);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(x, 0, x), 0);

	xc = refcache_cache_create(h1, "x", sizeof(struct xobj), 0,
				   REFCACHE_CACHE_TRACKED, &x_ops);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, xc);
	a = refcache_obj_alloc(xc);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, a);
	xp(a)->ctx = &ctx;
	x_link(a, 0, x);	/* across heaps: the forbidden reference */
	x_link(a, 1, a);	/* and a self-cycle, so teardown frees A */
	refcache_obj_put(a);
	refcache_obj_put(x);
	KUNIT_ASSERT_EQ(test, refcache_obj_refcount(x), 2U);

	t = kthread_run(collect_other, &ctx, "refcache-xheap");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	ctx.armed = true;
	expect_splat_begin();	/* the warning about the foreign reference */
	refcache_heap_put(h1);
	expect_splat_end();
	KUNIT_EXPECT_FALSE(test, ctx.armed);	/* the collection ran inside */
	if (ctx.armed) {
		/* Not inside after all: let the thread finish anyway. */
		complete(&ctx.go);
		wait_for_completion(&ctx.done);
	}
	KUNIT_EXPECT_EQ(test, ctx.collect_ret, 0);
	KUNIT_EXPECT_EQ(test, ctx.res.collected, 0ULL);
	KUNIT_EXPECT_EQ(test, ctx.clears, 1U);

	/* A's clear dropped its reference: X is a lone cycle now. */
	KUNIT_EXPECT_EQ(test, refcache_gc_collect(h2, 2, &res), 0);
	KUNIT_EXPECT_EQ(test, res.collected, 1ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(h2), 0ULL);
}

/* Slots refuse another heap's object; nothing changes. */
static void api_cross_heap_slot_refused(struct kunit *test)
{
	struct refcache_heap *h1 = new_heap(test), *h2 = new_heap(test);
	struct refcache_obj *a = new_obj(test, new_cache(test, h1, 0, 1, 0, NULL));
	struct refcache_obj *x = new_obj(test, new_cache(test, h2, 0, 1, 0, NULL));

	KUNIT_EXPECT_EQ(test, refcache_obj_store(a, 0, x), -EXDEV);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(x), 1U);
	KUNIT_EXPECT_PTR_EQ(test, refcache_obj_load(a, 0), NULL);
	refcache_obj_put(a);
	refcache_obj_put(x);
}

/*
 * A traverse callback that reports another heap's object: the collector
 * warns and treats it as a reference from outside.  The garbage that
 * holds it is still freed, its clear callback drops the reference, and
 * the other object's count is exact throughout.
 */
static void api_cross_heap_traverse_ignored(struct kunit *test)
{
	struct refcache_heap *h1 = new_heap(test), *h2 = new_heap(test);
	struct refcache_cache *xc = new_cache(test, h1, sizeof(struct xobj), 0,
					      REFCACHE_CACHE_TRACKED, &x_ops);
	struct refcache_obj *x = new_obj(test, new_cache(test, h2, 0, 0,
							 REFCACHE_CACHE_TRACKED, NULL));
	struct refcache_gc_result res;
	struct refcache_obj *a;
	struct xctx ctx;

	xctx_init(&ctx);
	a = new_x(test, xc, &ctx);
	x_link(a, 0, x);
	x_link(a, 1, a);
	refcache_obj_put(a);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(x), 2U);

	/* Heap 2's collection counts A's reference as one from outside. */
	KUNIT_EXPECT_EQ(test, refcache_gc_collect(h2, 2, &res), 0);
	KUNIT_EXPECT_EQ(test, res.unreachable, 0ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(x), 2U);

	expect_splat_begin();
	KUNIT_EXPECT_EQ(test, refcache_gc_collect(h1, 2, &res), 0);
	expect_splat_end();
	KUNIT_EXPECT_EQ(test, res.collected, 1ULL);
	KUNIT_EXPECT_EQ(test, ctx.clears, 1U);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(x), 1U);
	KUNIT_EXPECT_EQ(test, heap_objects(h1), 0ULL);
	refcache_obj_put(x);
	KUNIT_EXPECT_EQ(test, heap_objects(h2), 0ULL);
}

/* Under the heap's mutex, as its kernel-doc asks. */
static void api_get_unless_zero_locked(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct refcache_obj *obj = new_obj(test, new_cache(test, heap, 8, 0, 0, NULL));

	KUNIT_EXPECT_TRUE(test, get_unless_zero(obj));
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 2U);
	refcache_obj_put(obj);
	refcache_obj_put(obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/*
 * What a module's unload does to the caches it leaves behind: no
 * callback of theirs runs afterwards, and their objects are still freed.
 */
static void api_module_disarm(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct refcache_cache *xc = new_cache(test, heap, sizeof(struct xobj), 0,
					      REFCACHE_CACHE_TRACKED, &x_ops);
	struct refcache_obj *a, *b;
	struct xctx ctx;

	xctx_init(&ctx);
	a = new_x(test, xc, &ctx);
	b = new_x(test, xc, &ctx);
	refcache_obj_put(b);
	KUNIT_EXPECT_EQ(test, ctx.clears, 1U);
	KUNIT_EXPECT_EQ(test, ctx.releases, 1U);

	refcache_heap_lock(heap);
	KUNIT_EXPECT_EQ(test, refcache_objspace_disarm_module_locked(heap, THIS_MODULE), 1U);
	KUNIT_EXPECT_EQ(test, refcache_objspace_disarm_module_locked(heap, THIS_MODULE), 0U);
	refcache_heap_unlock(heap);

	KUNIT_EXPECT_EQ(test, refcache_gc_collect(heap, 2, NULL), 0);
	refcache_obj_put(a);
	KUNIT_EXPECT_EQ(test, ctx.clears, 1U);
	KUNIT_EXPECT_EQ(test, ctx.releases, 1U);
	KUNIT_EXPECT_EQ(test, ctx.traverses, 0U);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	KUNIT_EXPECT_EQ(test, refcache_cache_destroy(xc), 0);
}

static int collect_loop(void *arg)
{
	struct refcache_heap *heap = arg;

	while (!kthread_should_stop()) {
		refcache_gc_collect(heap, 2, NULL);
		cond_resched();
	}
	return 0;
}

/*
 * A module's unload disarms its caches under each heap's mutex while
 * collections of that heap run back to back on another CPU: none of
 * them calls a callback afterwards.
 */
static void api_disarm_races_collections(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct refcache_cache *xc = new_cache(test, heap, sizeof(struct xobj), 0,
					      REFCACHE_CACHE_TRACKED, &x_ops);
	struct refcache_obj *objs[64];
	struct task_struct *t;
	unsigned int seen;
	struct xctx ctx;
	int i;

	xctx_init(&ctx);
	for (i = 0; i < ARRAY_SIZE(objs); i++)
		objs[i] = new_x(test, xc, &ctx);
	t = kthread_run(collect_loop, heap, "refcache-collect");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	/* Until a collection ran (read racily: it only paces the test). */
	for (i = 0; i < 500 && !data_race(ctx.traverses); i++)
		msleep(20);
	refcache_heap_lock(heap);
	KUNIT_EXPECT_EQ(test, refcache_objspace_disarm_module_locked(heap, THIS_MODULE), 1U);
	seen = ctx.traverses;	/* no collection runs while we hold the mutex */
	refcache_heap_unlock(heap);
	msleep(20);
	kthread_stop(t);
	KUNIT_EXPECT_GT(test, seen, 0U);
	KUNIT_EXPECT_EQ(test, ctx.traverses, seen);
	for (i = 0; i < ARRAY_SIZE(objs); i++)
		refcache_obj_put(objs[i]);
	KUNIT_EXPECT_EQ(test, ctx.clears, 0U);
	KUNIT_EXPECT_EQ(test, ctx.releases, 0U);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/* Has this heap's last marking (step 0) stamped @obj? */
static bool marked(struct refcache_heap *heap, struct refcache_obj *obj)
{
	bool m;

	refcache_heap_lock(heap);
	m = heap->objs.gc.mark_stamp &&
	    (obj->flags >> REFCACHE_OBJ_REFS_SHIFT) == heap->objs.gc.mark_stamp;
	refcache_heap_unlock(heap);
	return m;
}

/*
 * Roots (Documentation/kernel-api.rst): the heap holds the reference,
 * the collector marks from it, load gives a new reference, del drops it
 * and makes the id stale for good; another heap's id, or a deleted one,
 * is refused with -EBADF and changes nothing.
 */
static void api_roots(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test), *other = new_heap(test);
	struct refcache_cache *c = new_cache(test, heap, 0, 2, REFCACHE_CACHE_TRACKED, NULL);
	struct refcache_cache *oc = new_cache(test, other, 0, 0, REFCACHE_CACHE_TRACKED, NULL);
	struct refcache_obj *root = new_obj(test, c), *a = new_obj(test, c);
	struct refcache_obj *x = new_obj(test, c), *y = new_obj(test, c);
	struct refcache_obj *o = new_obj(test, oc), *got;
	struct refcache_gc_result res;
	u64 id, id2, oid, fresh;
	int i;

	/*
	 * 16 self-cycles: the set is large enough against the table's 64
	 * entries for the collector to read it (collector.rst, step 0).
	 */
	for (i = 0; i < 16; i++) {
		got = new_obj(test, c);
		KUNIT_ASSERT_EQ(test, refcache_obj_store(got, 1, got), 0);
		refcache_obj_put(got);
	}
	/* root -> a -> root (a cycle held by the root), and x <-> y: garbage. */
	KUNIT_ASSERT_EQ(test, refcache_obj_store(root, 0, a), 0);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(a, 0, root), 0);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(x, 0, y), 0);
	KUNIT_ASSERT_EQ(test, refcache_obj_store(y, 0, x), 0);
	KUNIT_ASSERT_EQ(test, refcache_root_add(root, &id), 0);
	KUNIT_ASSERT_EQ(test, refcache_root_add(root, &id2), 0);	/* twice: two roots */
	KUNIT_EXPECT_NE(test, id, id2);
	KUNIT_ASSERT_EQ(test, refcache_root_add(o, &oid), 0);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(root), 4U);
	refcache_obj_put(root);
	refcache_obj_put(a);
	refcache_obj_put(x);
	refcache_obj_put(y);
	refcache_obj_put(o);

	KUNIT_ASSERT_EQ(test, refcache_gc_collect(heap, 2, &res), 0);
	KUNIT_EXPECT_EQ(test, res.collected, 18ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 2ULL);
	/* The marking took the root's graph out before the trial. */
	KUNIT_EXPECT_TRUE(test, marked(heap, root));
	KUNIT_EXPECT_TRUE(test, marked(heap, a));

	got = refcache_root_load(heap, id);
	KUNIT_ASSERT_FALSE(test, IS_ERR(got));
	KUNIT_EXPECT_PTR_EQ(test, got, root);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(root), 4U);	/* 2 roots, a, ours */
	refcache_obj_put(got);

	/* Another heap's id, or this heap's in another: refused, nothing changes. */
	KUNIT_EXPECT_PTR_EQ(test, refcache_root_load(heap, oid), ERR_PTR(-EBADF));
	KUNIT_EXPECT_EQ(test, refcache_root_del(heap, oid), -EBADF);
	KUNIT_EXPECT_EQ(test, refcache_root_del(other, id), -EBADF);
	KUNIT_EXPECT_EQ(test, refcache_root_del(heap, 0), -EBADF);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(root), 3U);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(o), 1U);

	KUNIT_EXPECT_EQ(test, refcache_root_del(heap, id), 0);
	KUNIT_EXPECT_EQ(test, refcache_root_del(heap, id), -EBADF);
	KUNIT_EXPECT_PTR_EQ(test, refcache_root_load(heap, id), ERR_PTR(-EBADF));
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(root), 2U);
	/* The new root in the freed entry gets a new id; the old stays stale. */
	KUNIT_ASSERT_EQ(test, refcache_root_add(root, &fresh), 0);
	KUNIT_EXPECT_EQ(test, fresh & 0xffffff, id & 0xffffff);	/* the same entry */
	KUNIT_EXPECT_NE(test, fresh, id);
	KUNIT_EXPECT_PTR_EQ(test, refcache_root_load(heap, id), ERR_PTR(-EBADF));
	KUNIT_EXPECT_EQ(test, refcache_root_del(heap, id), -EBADF);
	id = fresh;
	KUNIT_EXPECT_EQ(test, refcache_root_del(heap, id2), 0);
	KUNIT_EXPECT_EQ(test, refcache_root_del(heap, id2), -EBADF);
	KUNIT_EXPECT_EQ(test, refcache_root_del(heap, id), 0);

	/* No root left: the cycle is garbage. */
	KUNIT_ASSERT_EQ(test, refcache_gc_collect(heap, 2, &res), 0);
	KUNIT_EXPECT_EQ(test, res.collected, 2ULL);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
	/* @other's root is freed with its heap (by new_heap's action). */
}

/*
 * A module puts its heap with roots still open: the heap drops them
 * with its handles, frees everything, and is not abandoned (a root is
 * the heap's own reference, not a holder outside it).
 */
static void api_roots_heap_put(struct kunit *test)
{
	struct refcache_heap *heap = refcache_heap_create();
	struct refcache_stats before, after;
	struct refcache_cache *c;
	struct refcache_obj *obj, *prev = NULL;
	u64 id;
	int i;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, heap);
	refcache_stats_read(&before);
	c = refcache_cache_create(heap, "r", 0, 1, REFCACHE_CACHE_TRACKED, NULL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, c);
	/* 100 chains of 10, each held by a root only. */
	for (i = 0; i < 1000; i++) {
		obj = refcache_obj_alloc(c);
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, obj);
		if (i % 10) {
			KUNIT_ASSERT_EQ(test, refcache_obj_store(obj, 0, prev), 0);
			refcache_obj_put(prev);
		}
		if (i % 10 == 9) {
			KUNIT_ASSERT_EQ(test, refcache_root_add(obj, &id), 0);
			refcache_obj_put(obj);
		}
		prev = obj;
	}
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 1000ULL);
	refcache_heap_put(heap);
	refcache_stats_read(&after);
	KUNIT_EXPECT_EQ(test, after.heaps_abandoned, before.heaps_abandoned);
	KUNIT_EXPECT_EQ(test, after.heaps_destroyed, before.heaps_destroyed + 1);
}

static void root_add_locked(struct refcache_obj *obj, void *arg)
{
	u64 id;

	*(int *)arg = refcache_root_add(obj, &id);
}

/*
 * Root calls with the heap's mutex held (under refcache_heap_lock(), as
 * from a callback) would wait for themselves: they warn and refuse, and
 * nothing changes.  A root of an untracked object holds it as any.
 */
static void api_roots_misuse(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct refcache_cache *c = new_cache(test, heap, 0, 1, REFCACHE_CACHE_TRACKED, NULL);
	struct refcache_cache *u = new_cache(test, heap, 0, 1, 0, NULL);
	struct refcache_obj *obj = new_obj(test, c), *leaf = new_obj(test, u), *got;
	struct refcache_gc_result res;
	int ret = 0;
	u64 id;

	KUNIT_ASSERT_EQ(test, refcache_root_add(obj, &id), 0);
	refcache_heap_lock(heap);
	expect_splat_begin();
	root_add_locked(obj, &ret);
	got = refcache_root_load(heap, id);
	KUNIT_EXPECT_EQ(test, refcache_root_del(heap, id), -EDEADLK);
	expect_splat_end();
	refcache_heap_unlock(heap);
	KUNIT_EXPECT_EQ(test, ret, -EDEADLK);
	KUNIT_EXPECT_PTR_EQ(test, got, ERR_PTR(-EDEADLK));
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 2U);

	/* An untracked leaf, held by its root and by obj's slot only. */
	KUNIT_ASSERT_EQ(test, refcache_obj_store(obj, 0, leaf), 0);
	KUNIT_ASSERT_EQ(test, refcache_root_add(leaf, &id), 0);
	refcache_obj_put(leaf);
	refcache_obj_put(obj);
	KUNIT_ASSERT_EQ(test, refcache_gc_collect(heap, 2, &res), 0);
	KUNIT_EXPECT_EQ(test, res.collected, 0ULL);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(leaf), 2U);
	KUNIT_EXPECT_EQ(test, refcache_root_del(heap, id), 0);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(leaf), 1U);
}

struct biased_root {
	struct refcache_heap *heap;
	u64 id;
	int ret;
	struct completion done;
};

static int biased_root_del(void *arg)
{
	struct biased_root *br = arg;

	br->ret = refcache_root_del(br->heap, br->id);
	complete(&br->done);
	return 0;
}

/*
 * A biased object's owner makes it a root; another task deletes the
 * root, the object's last reference: a put that is not the owner's, which
 * queues the object for its owner (Documentation/objects.rst).  It is
 * freed, and nothing leaks.
 */
static void api_roots_biased(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct refcache_cache *c = new_cache(test, heap, 0, 1,
					     REFCACHE_CACHE_TRACKED | REFCACHE_CACHE_BIASED, NULL);
	struct refcache_obj *obj = new_obj(test, c);
	struct biased_root br = { .heap = heap };
	struct refcache_gc_result res;
	struct task_struct *t;

	init_completion(&br.done);
	KUNIT_ASSERT_EQ(test, refcache_root_add(obj, &br.id), 0);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 2U);
	refcache_obj_put(obj);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 1U);
	t = kthread_run(biased_root_del, &br, "refcache-root-del");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	wait_for_completion(&br.done);
	KUNIT_EXPECT_EQ(test, br.ret, 0);
	KUNIT_ASSERT_EQ(test, refcache_gc_collect(heap, 2, &res), 0);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

/*
 * The table of roots grows by doubling, charged to the heap: a growth
 * past the heap's budget fails with -EDQUOT and changes nothing (no
 * reference taken, nothing charged); with room, it goes on.
 */
static void api_roots_table(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct refcache_cache *c = new_cache(test, heap, 0, 0, REFCACHE_CACHE_TRACKED, NULL);
	struct refcache_obj *obj = new_obj(test, c), *got;
	unsigned int n = 0, i;
	u64 *ids, id;
	s64 charged;
	int ret;

	ids = kunit_kcalloc(test, 2048, sizeof(*ids), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ids);
	/* Entries 1..1023 of a table of 1024: index 0 is never an id. */
	for (n = 0; n < 1023; n++)
		KUNIT_ASSERT_EQ(test, refcache_root_add(obj, &ids[n]), 0);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 1024U);
	charged = atomic64_read(&heap->charged);
	heap->objs.max_bytes = charged;
	ret = refcache_root_add(obj, &id);
	KUNIT_EXPECT_EQ(test, ret, -EDQUOT);
	KUNIT_EXPECT_EQ(test, atomic64_read(&heap->charged), charged);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 1024U);
	heap->objs.max_bytes = 1 << 30;
	KUNIT_ASSERT_EQ(test, refcache_root_add(obj, &ids[n++]), 0);
	KUNIT_EXPECT_GT(test, atomic64_read(&heap->charged), charged);
	for (i = 0; i < n; i++) {
		got = refcache_root_load(heap, ids[i]);
		KUNIT_EXPECT_PTR_EQ(test, got, obj);
		if (!IS_ERR(got))
			refcache_obj_put(got);
	}
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, refcache_root_del(heap, ids[i]), 0);
	KUNIT_EXPECT_EQ(test, refcache_obj_refcount(obj), 1U);
	refcache_obj_put(obj);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

struct roots_race {
	struct refcache_heap *heap;
	struct refcache_cache *cache;
	u64 made;
	int err;
};

/*
 * One side of api_roots_race: make a 2-cycle, hold it by a root only,
 * check through the root that it is whole, drop the root; a few roots
 * stay open at once, so that collections find some held and some not.
 */
static int roots_churn(void *arg)
{
	struct roots_race *rr = arg;
	struct refcache_obj *a, *b, *got, *child;
	u64 ids[8] = {};
	unsigned int i = 0, k;

	while (!kthread_should_stop() && !rr->err) {
		k = i++ % ARRAY_SIZE(ids);
		if (ids[k]) {
			got = refcache_root_load(rr->heap, ids[k]);
			if (IS_ERR(got)) {
				rr->err = PTR_ERR(got);
				break;
			}
			child = refcache_obj_load(got, 0);
			/* The collector freed nothing a root reaches. */
			if (IS_ERR_OR_NULL(child) || refcache_obj_refcount(child) < 2)
				rr->err = -EIO;
			refcache_obj_put(child);
			refcache_obj_put(got);
			if (!rr->err)
				rr->err = refcache_root_del(rr->heap, ids[k]);
			ids[k] = 0;
			continue;
		}
		a = refcache_obj_alloc(rr->cache);
		b = refcache_obj_alloc(rr->cache);
		if (IS_ERR(a) || IS_ERR(b)) {
			rr->err = -ENOMEM;
			if (!IS_ERR(a))
				refcache_obj_put(a);
			if (!IS_ERR(b))
				refcache_obj_put(b);
			break;
		}
		refcache_obj_store(a, 0, b);
		refcache_obj_store(b, 0, a);
		rr->err = refcache_root_add(a, &ids[k]);
		refcache_obj_put(a);
		refcache_obj_put(b);
		rr->made += 2;
		cond_resched();
	}
	for (k = 0; k < ARRAY_SIZE(ids); k++)
		if (ids[k] && refcache_root_del(rr->heap, ids[k]) && !rr->err)
			rr->err = -EBADF;
	/* kthread_stop() wants the thread alive: wait for it after an error. */
	while (!kthread_should_stop())
		msleep(20);
	return 0;
}

/*
 * Roots made and dropped on one CPU while the heap is collected back to
 * back on another: no object a root reaches is ever freed, and in the
 * end every cycle is collected, exactly.
 */
static void api_roots_race(struct kunit *test)
{
	struct refcache_heap *heap = new_heap(test);
	struct roots_race rr = {
		.heap = heap,
		.cache = new_cache(test, heap, 0, 1, REFCACHE_CACHE_TRACKED, NULL),
	};
	struct refcache_gc_result res;
	struct task_struct *churn, *collect;
	u64 collected = 0, live;

	refcache_gc_enable(heap, false);
	churn = kthread_run(roots_churn, &rr, "refcache-roots");
	KUNIT_ASSERT_FALSE(test, IS_ERR(churn));
	collect = kthread_run(collect_loop, heap, "refcache-collect");
	if (!IS_ERR(collect))
		msleep(1000);
	kthread_stop(churn);	/* before any assertion: it uses @rr, on our stack */
	KUNIT_ASSERT_FALSE(test, IS_ERR(collect));
	kthread_stop(collect);
	KUNIT_EXPECT_EQ(test, rr.err, 0);
	KUNIT_EXPECT_GT(test, rr.made, 100ULL);
	/* The collections did mark from the roots (step 0). */
	refcache_heap_lock(heap);
	KUNIT_EXPECT_GT(test, heap->objs.gc.mark_stamp, 0U);
	refcache_heap_unlock(heap);
	live = heap_objects(heap);
	KUNIT_ASSERT_EQ(test, refcache_gc_collect(heap, 2, &res), 0);
	collected += res.collected;
	KUNIT_EXPECT_EQ(test, collected, live);
	KUNIT_EXPECT_EQ(test, heap_objects(heap), 0ULL);
}

static struct kunit_case refcache_api_cases[] = {
	KUNIT_CASE(api_teardown_counts_untouched),
	KUNIT_CASE(api_teardown_cross_heap_collect),
	KUNIT_CASE(api_cross_heap_slot_refused),
	KUNIT_CASE(api_cross_heap_traverse_ignored),
	KUNIT_CASE(api_get_unless_zero_locked),
	KUNIT_CASE(api_module_disarm),
	KUNIT_CASE(api_disarm_races_collections),
	KUNIT_CASE(api_roots),
	KUNIT_CASE(api_roots_heap_put),
	KUNIT_CASE(api_roots_table),
	KUNIT_CASE(api_roots_race),
	KUNIT_CASE(api_roots_misuse),
	KUNIT_CASE(api_roots_biased),
	{}
};

static struct kunit_suite refcache_api_suite = {
	.name = "refcache_api",
	.test_cases = refcache_api_cases,
};

kunit_test_suites(&refcache_api_suite);

MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
