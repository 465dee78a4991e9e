// SPDX-License-Identifier: GPL-2.0
/*
 * refcache_bench_gc: at load time, build object graphs in refcache
 * through the in-kernel API and time the full collection of each, to be
 * set against CPython's gc.collect() on the same graphs
 * (tests/bench/gc_bench.py, run by the guest's python3 in the same
 * boot; scripts/bench.sh joins the two).
 *
 * Shapes (as issue 8's "Measure" asks):
 *   rings   rings of 21 nodes linked next and prev, all garbage
 *   pairs   2-cycles, all garbage
 *   tree    a binary tree held by its root, nothing collected
 *   random  out-degree 2, about half reachable from held references
 * and tree_root and random_root: the same graphs held through roots
 * (refcache_root_add(), the heap's strong handles for kernel code), so
 * that the collector's marking from them (Documentation/collector.rst,
 * step 0) runs; scripts/bench.sh sets them against CPython's tree and
 * random, whose roots are a frame's locals.
 * The random graph comes from a 64-bit LCG that gc_bench.py implements
 * too, so both sides build the very same graph and must find the same
 * counts.  Automatic collection is off while a shape is built; only
 * refcache_gc_collect(heap, 2, ...) is timed.  Each shape gets a fresh
 * heap per round and the best round counts.
 *
 * Lines, for people and for scripts/bench.sh:
 *   refcache shape=<s> objects=<n> ns=<t> collected=<c>
 *   bench gc header_bytes=<sizeof(struct refcache_obj)>
 *   bench gc young_pause_ns=<t> objects=2000
 *   bench gc_biased young objects=2000 biased_ns=<b> atomic_ns=<a> ratio=<b/a>
 *   bench gc full_pause_1m_live_ns=<t>
 *   bench gc pause kind=<young|full|young_biased|full_biased> objects=<n> ns=<t>
 * A collection that finds other counts than the graph implies fails the
 * load with -EIO (after printing what it found).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/vmalloc.h>

#include "compat.h"
#include "object.h"	/* struct refcache_obj, for header_bytes */
#include "refcache.h"

static unsigned int objects = 1000000;
module_param(objects, uint, 0444);
MODULE_PARM_DESC(objects, "objects per shape (default 1000000; pairs and rings round down)");

static unsigned int rounds = 3;
module_param(rounds, uint, 0444);
MODULE_PARM_DESC(rounds, "rounds per shape; the best one counts (default 3)");

static unsigned int young_rounds = 21;
module_param(young_rounds, uint, 0444);
MODULE_PARM_DESC(young_rounds, "young collections timed; the median counts (default 21)");

static unsigned int shape_mask = 63;
module_param(shape_mask, uint, 0444);
MODULE_PARM_DESC(shape_mask, "shapes to time, a bit each: rings 1, pairs 2, tree 4, random 8, tree_root 16, random_root 32 (default 63: all)");

#define RING		21
#define NROOTS		16
#define YOUNG		2000
#define RAND_SEED	0x2545f4914f6cdd1dULL

/* The LCG gc_bench.py implements too (Knuth's MMIX constants). */
static u64 lcg_state;

static u32 lcg_below(u32 n)
{
	lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (u32)(((lcg_state >> 32) * n) >> 32);
}

struct shape_run {
	struct refcache_heap *heap;
	struct refcache_cache *cache;
	struct refcache_obj **obj;	/* the objects, in allocation order */
	struct refcache_obj *held[NROOTS];
	unsigned int nheld;
	bool roots;			/* held by roots, not references */
	u64 n;				/* objects built */
	u64 expect;			/* unreachable the collection must find */
};

static int run_begin_flags(struct shape_run *r, const char *name, unsigned int nslots, u64 n,
			   u32 flags)
{
	memset(r, 0, sizeof(*r));
	r->heap = refcache_heap_create();
	if (IS_ERR(r->heap))
		return PTR_ERR(r->heap);
	refcache_gc_enable(r->heap, false);
	r->cache = refcache_cache_create(r->heap, name, 0, nslots,
					 REFCACHE_CACHE_TRACKED | flags, NULL);
	if (IS_ERR(r->cache)) {
		refcache_heap_put(r->heap);
		return PTR_ERR(r->cache);
	}
	r->obj = vmalloc(array_size(n, sizeof(*r->obj)));
	if (!r->obj) {
		refcache_heap_put(r->heap);
		return -ENOMEM;
	}
	r->n = n;
	return 0;
}

static int run_begin(struct shape_run *r, const char *name, unsigned int nslots, u64 n)
{
	return run_begin_flags(r, name, nslots, n, 0);
}

/* Allocate objects [from, to) in order. */
static int alloc_range(struct shape_run *r, u64 from, u64 to)
{
	u64 i;

	for (i = from; i < to; i++) {
		r->obj[i] = refcache_obj_alloc(r->cache);
		if (IS_ERR(r->obj[i])) {
			int err = PTR_ERR(r->obj[i]);

			while (i-- > from)
				refcache_obj_put(r->obj[i]);
			return err;
		}
		if (!(i & 1023))
			cond_resched();
	}
	return 0;
}

/* Drop the builder's references to [from, to): only the graph holds them now. */
static void put_range(struct shape_run *r, u64 from, u64 to)
{
	u64 i;

	for (i = from; i < to; i++) {
		refcache_obj_put(r->obj[i]);
		if (!(i & 1023))
			cond_resched();
	}
}

/* Whatever is left (held references, uncollected objects) goes with the heap. */
static void run_end(struct shape_run *r)
{
	unsigned int i;

	for (i = 0; i < r->nheld; i++)
		refcache_obj_put(r->held[i]);
	refcache_heap_put(r->heap);
	vfree(r->obj);
}

static int link(struct refcache_obj *from, unsigned int slot, struct refcache_obj *to)
{
	return refcache_obj_store(from, slot, to);
}

/* Hold a root of the graph: a reference, or (the _root shapes) a root. */
static int hold(struct shape_run *r, struct refcache_obj *obj)
{
	u64 id;

	if (r->roots)
		return refcache_root_add(obj, &id);	/* the heap's teardown drops it */
	r->held[r->nheld++] = refcache_obj_get(obj);
	return 0;
}

/* rings: RING nodes each, next (slot 0) and prev (slot 1). */
static int build_rings(struct shape_run *r)
{
	u64 base;
	int ret = 0;
	u32 k;

	for (base = 0; base < r->n && !ret; base += RING) {
		ret = alloc_range(r, base, base + RING);
		if (ret)
			break;
		for (k = 0; k < RING && !ret; k++) {
			ret = link(r->obj[base + k], 0, r->obj[base + (k + 1) % RING]);
			if (!ret)
				ret = link(r->obj[base + k], 1,
					   r->obj[base + (k + RING - 1) % RING]);
		}
		put_range(r, base, base + RING);
	}
	r->expect = r->n;
	return ret;
}

/* pairs: a.other = b, b.other = a. */
static int build_pairs(struct shape_run *r)
{
	u64 base;
	int ret = 0;

	for (base = 0; base < r->n && !ret; base += 2) {
		ret = alloc_range(r, base, base + 2);
		if (ret)
			break;
		ret = link(r->obj[base], 0, r->obj[base + 1]);
		if (!ret)
			ret = link(r->obj[base + 1], 0, r->obj[base]);
		put_range(r, base, base + 2);
	}
	r->expect = r->n;
	return ret;
}

/* tree: node i has children 2i+1 (left) and 2i+2 (right); the root is held. */
static int build_tree(struct shape_run *r)
{
	u64 i;
	int ret;

	ret = alloc_range(r, 0, r->n);
	if (ret)
		return ret;
	for (i = 0; i < r->n && !ret; i++) {
		if (2 * i + 1 < r->n)
			ret = link(r->obj[i], 0, r->obj[2 * i + 1]);
		if (!ret && 2 * i + 2 < r->n)
			ret = link(r->obj[i], 1, r->obj[2 * i + 2]);
		if (!(i & 1023))
			cond_resched();
	}
	if (!ret)
		ret = hold(r, r->obj[0]);
	put_range(r, 0, r->n);
	r->expect = 0;
	return ret;
}

/*
 * random: each object is live (class B) or garbage (class A) with
 * probability 1/2.  Slot a links each class into one cycle in a random
 * order, so every object is on a cycle and nothing dies by refcount
 * when the builder lets go; slot b points at a random B object from a
 * B object and at any random object from an A object (garbage pointing
 * into live data).  NROOTS random B objects are held.  The reachable
 * count is computed here by a walk of the graph.
 */
struct rand_graph {
	u32 *a, *b;		/* slot targets */
	u32 *cls[2];		/* members of A (0) and B (1) */
	u32 ncls[2];
	u32 roots[NROOTS];
	u8 *live;
};

static void rand_graph_free(struct rand_graph *g)
{
	vfree(g->a);
	vfree(g->b);
	vfree(g->cls[0]);
	vfree(g->cls[1]);
	vfree(g->live);
}

static int rand_graph_make(struct rand_graph *g, u32 n)
{
	u32 i, k, j, t, c;

	memset(g, 0, sizeof(*g));
	g->a = vmalloc(array_size(n, sizeof(u32)));
	g->b = vmalloc(array_size(n, sizeof(u32)));
	g->cls[0] = vmalloc(array_size(n, sizeof(u32)));
	g->cls[1] = vmalloc(array_size(n, sizeof(u32)));
	g->live = vmalloc(n);
	if (!g->a || !g->b || !g->cls[0] || !g->cls[1] || !g->live) {
		rand_graph_free(g);
		return -ENOMEM;
	}
	lcg_state = RAND_SEED;
	for (i = 0; i < n; i++) {
		g->live[i] = lcg_below(2);
		g->cls[g->live[i]][g->ncls[g->live[i]]++] = i;
	}
	if (!g->ncls[0] || !g->ncls[1]) {
		rand_graph_free(g);
		return -EINVAL;
	}
	for (c = 0; c < 2; c++) {
		u32 *m = g->cls[c];

		for (k = g->ncls[c] - 1; k > 0; k--) {	/* Fisher-Yates */
			j = lcg_below(k + 1);
			t = m[k];
			m[k] = m[j];
			m[j] = t;
		}
		for (k = 0; k < g->ncls[c]; k++)
			g->a[m[k]] = m[(k + 1) % g->ncls[c]];
	}
	for (i = 0; i < n; i++)
		g->b[i] = g->live[i] ? g->cls[1][lcg_below(g->ncls[1])] : lcg_below(n);
	for (k = 0; k < NROOTS; k++)
		g->roots[k] = g->cls[1][lcg_below(g->ncls[1])];
	return 0;
}

/* Objects reachable from the roots: a depth-first walk with its own stack. */
static long rand_graph_reach(struct rand_graph *g, u32 n)
{
	u32 *stack = vmalloc(array_size(n, sizeof(u32)));
	unsigned long *seen = vzalloc(BITS_TO_LONGS(n) * sizeof(long));
	u32 sp = 0, k, v;
	long reach = 0;

	if (!stack || !seen) {
		reach = -ENOMEM;
		goto out;
	}
	for (k = 0; k < NROOTS; k++) {
		if (__test_and_set_bit(g->roots[k], seen))
			continue;
		stack[sp++] = g->roots[k];
	}
	while (sp) {
		v = stack[--sp];
		reach++;
		if (!__test_and_set_bit(g->a[v], seen))
			stack[sp++] = g->a[v];
		if (!__test_and_set_bit(g->b[v], seen))
			stack[sp++] = g->b[v];
	}
out:
	vfree(stack);
	vfree(seen);
	return reach;
}

static int build_random(struct shape_run *r)
{
	struct rand_graph g;
	long reach;
	u64 i;
	int ret;
	u32 k;

	ret = rand_graph_make(&g, r->n);
	if (ret)
		return ret;
	reach = rand_graph_reach(&g, r->n);
	if (reach < 0) {
		rand_graph_free(&g);
		return reach;
	}
	ret = alloc_range(r, 0, r->n);
	if (ret) {
		rand_graph_free(&g);
		return ret;
	}
	for (i = 0; i < r->n && !ret; i++) {
		ret = link(r->obj[i], 0, r->obj[g.a[i]]);
		if (!ret)
			ret = link(r->obj[i], 1, r->obj[g.b[i]]);
		if (!(i & 1023))
			cond_resched();
	}
	for (k = 0; k < NROOTS && !ret; k++)
		ret = hold(r, r->obj[g.roots[k]]);
	put_range(r, 0, r->n);
	r->expect = r->n - reach;
	rand_graph_free(&g);
	return ret;
}

struct shape {
	const char *name;
	unsigned int nslots;
	u64 (*count)(u64 n);
	int (*build)(struct shape_run *r);
	bool roots;
	u64 best_ns;
	u64 n;
	u64 collected;
};

static u64 count_rings(u64 n) { return n / RING * RING; }
static u64 count_pairs(u64 n) { return n / 2 * 2; }
static u64 count_all(u64 n) { return n; }

static struct shape shapes[] = {
	{ "rings", 2, count_rings, build_rings },
	{ "pairs", 1, count_pairs, build_pairs },
	{ "tree", 2, count_all, build_tree },
	{ "random", 2, count_all, build_random },
	{ "tree_root", 2, count_all, build_tree, true },
	{ "random_root", 2, count_all, build_random, true },
};

/* One round of one shape: build, collect (timed), check, tear down. */
static int shape_round(struct shape *s, u64 *ns)
{
	struct refcache_gc_result res;
	struct shape_run r;
	u64 t0;
	int ret;

	ret = run_begin(&r, s->name, s->nslots, s->count(objects));
	if (ret)
		return ret;
	r.roots = s->roots;
	ret = s->build(&r);
	if (ret)
		goto out;
	t0 = ktime_get_ns();
	ret = refcache_gc_collect(r.heap, 2, &res);
	*ns = ktime_get_ns() - t0;
	if (ret)
		goto out;
	s->n = r.n;
	s->collected = res.collected;
	if (res.unreachable != r.expect || res.collected != r.expect || res.uncollectable) {
		pr_err("shape %s: collection found unreachable=%llu collected=%llu uncollectable=%llu, expected %llu\n",
		       s->name, res.unreachable, res.collected, res.uncollectable, r.expect);
		ret = -EIO;
	}
out:
	run_end(&r);
	return ret;
}

/* The heap's longest pause in generation @gen: the time its mutex was held. */
static u64 held_ns(struct refcache_heap *heap, unsigned int gen)
{
	struct refcache_gc_gen_stats st[REFCACHE_GC_GENERATIONS];

	refcache_gc_get_stats(heap, st);
	return st[gen].pause_max_ns;
}

/*
 * Young collection at the default threshold: 2000 fresh objects, half in
 * 2-cycles; *@ns from outside, *@held the mutex hold.  @flags adds
 * REFCACHE_CACHE_BIASED.
 */
static int young_round_flags(u32 flags, u64 *ns, u64 *held)
{
	struct refcache_gc_result res;
	struct shape_run r;
	u64 t0, i;
	int ret;

	ret = run_begin_flags(&r, "young", 2, YOUNG, flags);
	if (ret)
		return ret;
	/* YOUNG / 2 garbage in 2-cycles, then a live tree of YOUNG / 2. */
	ret = alloc_range(&r, 0, YOUNG);
	if (ret)
		goto out;
	for (i = 0; i < YOUNG / 2 && !ret; i += 2) {
		ret = link(r.obj[i], 0, r.obj[i + 1]);
		if (!ret)
			ret = link(r.obj[i + 1], 0, r.obj[i]);
	}
	for (i = 0; i < YOUNG / 2 && !ret; i++) {
		if (2 * i + 1 < YOUNG / 2)
			ret = link(r.obj[YOUNG / 2 + i], 0, r.obj[YOUNG / 2 + 2 * i + 1]);
		if (!ret && 2 * i + 2 < YOUNG / 2)
			ret = link(r.obj[YOUNG / 2 + i], 1, r.obj[YOUNG / 2 + 2 * i + 2]);
	}
	r.held[r.nheld++] = refcache_obj_get(r.obj[YOUNG / 2]);
	put_range(&r, 0, YOUNG);
	if (ret)
		goto out;
	t0 = ktime_get_ns();
	ret = refcache_gc_collect(r.heap, 0, &res);
	*ns = ktime_get_ns() - t0;
	if (held)
		*held = held_ns(r.heap, 0);
	if (!ret && (res.collected != YOUNG / 2 || res.uncollectable)) {
		pr_err("young: collected=%llu uncollectable=%llu, expected %u\n",
		       res.collected, res.uncollectable, YOUNG / 2);
		ret = -EIO;
	}
out:
	run_end(&r);
	return ret;
}

static int young_round(u64 *ns)
{
	return young_round_flags(0, ns, NULL);
}

static int cmp_u64(const void *a, const void *b);

/*
 * The pause of a full collection of @live live objects (a binary tree
 * held by its root, as the tree shape), the cache biased or not: how
 * long the heap's mutex is held, from the collector's own statistics.
 */
static int full_pause_round(u64 live, u32 flags, u64 *held)
{
	struct refcache_gc_result res;
	struct shape_run r;
	int ret;

	ret = run_begin_flags(&r, "pause", 2, live, flags);
	if (ret)
		return ret;
	ret = build_tree(&r);
	if (!ret)
		ret = refcache_gc_collect(r.heap, 2, &res);
	if (!ret && (res.collected || res.uncollectable)) {
		pr_err("pause: %llu live: collected=%llu uncollectable=%llu\n", live,
		       res.collected, res.uncollectable);
		ret = -EIO;
	}
	if (!ret)
		*held = held_ns(r.heap, 2);
	run_end(&r);
	return ret;
}

/*
 * Pauses (issue 16): one line each,
 *   bench gc pause kind=<k> objects=<n> ns=<mutex held>
 * young: the default threshold's 2000 objects (median of young_rounds);
 * full: 100,000 and pause_live objects live; young_biased and
 * full_biased: the same in a heap of biased caches, where a collection
 * first waits for an RCU grace period.
 */
static unsigned int pause_live = 1000000;
module_param(pause_live, uint, 0444);
MODULE_PARM_DESC(pause_live, "live objects of the largest full-collection pause (default 1000000; 0 skips the pauses)");

static int pauses(void)
{
	static const struct { const char *kind; u32 flags; } young_kinds[] = {
		{ "young", 0 }, { "young_biased", REFCACHE_CACHE_BIASED },
	};
	const struct { const char *kind; u64 live; u32 flags; } full_kinds[] = {
		{ "full", 100000, 0 },
		{ "full", pause_live, 0 },
		{ "full_biased", 100000, REFCACHE_CACHE_BIASED },
	};
	u64 v[64], ns;
	unsigned int i, k;
	int ret;

	for (i = 0; i < ARRAY_SIZE(young_kinds); i++) {
		for (k = 0; k < young_rounds; k++) {
			ret = young_round_flags(young_kinds[i].flags, &ns, &v[k]);
			if (ret)
				return ret;
			cond_resched();
		}
		sort(v, young_rounds, sizeof(u64), cmp_u64, NULL);
		pr_info("bench gc pause kind=%s objects=%u ns=%llu\n", young_kinds[i].kind, YOUNG,
			v[young_rounds / 2]);
	}
	for (i = 0; i < ARRAY_SIZE(full_kinds); i++) {
		if (i == 1 && full_kinds[i].live <= 100000)
			continue;
		ret = full_pause_round(full_kinds[i].live, full_kinds[i].flags, &ns);
		if (ret)
			return ret;
		pr_info("bench gc pause kind=%s objects=%llu ns=%llu\n", full_kinds[i].kind,
			full_kinds[i].live, ns);
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* "1.23" from a/b, without floating point. */
static void ratio_str(char *buf, size_t len, u64 a, u64 b)
{
	u64 r = b ? div64_u64(a * 100 + b / 2, b) : 0;

	snprintf(buf, len, "%llu.%02llu", r / 100, r % 100);
}

static int __init refcache_bench_gc_init(void)
{
	static u64 young[64], byoung[64];
	char ratio[24];
	unsigned int i, k;
	u64 ns;
	int ret;

	if (!rounds || objects < 2 * RING || !young_rounds || young_rounds > ARRAY_SIZE(young))
		return -EINVAL;

	pr_info("bench gc header_bytes=%zu\n", sizeof(struct refcache_obj));

	/* Atomic and biased heaps in turns, so that both see the same machine. */
	for (k = 0; k < young_rounds; k++) {
		ret = young_round(&young[k]);
		if (!ret)
			ret = young_round_flags(REFCACHE_CACHE_BIASED, &byoung[k], NULL);
		if (ret)
			return ret;
		cond_resched();
	}
	sort(young, young_rounds, sizeof(u64), cmp_u64, NULL);
	sort(byoung, young_rounds, sizeof(u64), cmp_u64, NULL);
	pr_info("bench gc young_pause_ns=%llu objects=%u\n", young[young_rounds / 2], YOUNG);
	/* The biased heap's collection, with no grace period: target <= 1.10. */
	ratio_str(ratio, sizeof(ratio), byoung[young_rounds / 2], young[young_rounds / 2]);
	pr_info("bench gc_biased young objects=%u biased_ns=%llu atomic_ns=%llu ratio=%s\n",
		YOUNG, byoung[young_rounds / 2], young[young_rounds / 2], ratio);

	for (i = 0; i < ARRAY_SIZE(shapes); i++) {
		struct shape *s = &shapes[i];

		if (!(shape_mask & BIT(i)))
			continue;
		s->best_ns = U64_MAX;
		for (k = 0; k < rounds; k++) {
			ret = shape_round(s, &ns);
			if (ret) {
				pr_err("shape %s: round %u failed: %d\n", s->name, k, ret);
				return ret;
			}
			s->best_ns = min(s->best_ns, ns);
		}
		pr_info("refcache shape=%s objects=%llu ns=%llu collected=%llu\n",
			s->name, s->n, s->best_ns, s->collected);
		if (!strcmp(s->name, "tree"))
			pr_info("bench gc full_pause_1m_live_ns=%llu\n", s->best_ns);
	}
	return pause_live ? pauses() : 0;
}

static void __exit refcache_bench_gc_exit(void)
{
}

module_init(refcache_bench_gc_init);
module_exit(refcache_bench_gc_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("refcache cycle collector benchmark (against CPython's gc, see gc_bench.py)");
MODULE_IMPORT_NS(REFCACHE_NS);
