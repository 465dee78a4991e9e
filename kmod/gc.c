// SPDX-License-Identifier: GPL-2.0
/*
 * The cycle collector: CPython's generational collector (Python/gc.c as
 * in 3.13), one per heap.
 *
 * Objects of tracked caches sit on their heap's generation lists.  A
 * collection of generation N takes generations 0..N and runs trial
 * deletion over them: copy each count into gc_refs, subtract every
 * reference that starts inside the set, and what keeps gc_refs > 0 is
 * reachable from outside, as is everything it reaches; the rest is
 * garbage.  Weak handles to the garbage are cleared, then its references
 * are dropped (slots emptied, clear callbacks run) and the ordinary
 * release path frees it.
 *
 * The whole collection holds the heap's mutex.  Every way to make or
 * drop a reference between two objects of a heap, or to turn a weak or
 * payload reference into a strong one, runs under that mutex, so the
 * graph the collector reads cannot change behind its back: the class of
 * bug behind net/unix/garbage.c's CVEs.  What may change without the
 * mutex is only the count of an object someone outside the heap holds a
 * reference to (refcache_obj_get() and refcache_obj_put() need no lock),
 * and such an object is reachable whatever its count does, because that
 * holder's reference is in the count the collector copied.  A count that
 * reached zero belongs to a put waiting for the mutex: that object is
 * left out of the collection and freed by its putter.  Documentation/
 * collector.rst has the full protocol.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ktime.h>
#include <linux/moduleparam.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "biased.h"
#include "trace.h"

static unsigned int gc_threshold0 = 2000;
module_param(gc_threshold0, uint, 0644);
MODULE_PARM_DESC(gc_threshold0, "Generation 0 threshold of new heaps (default 2000; 0 disables automatic collection)");

static unsigned int gc_threshold1 = 10;
module_param(gc_threshold1, uint, 0644);
MODULE_PARM_DESC(gc_threshold1, "Generation 1 threshold of new heaps (default 10)");

static unsigned int gc_threshold2 = 10;
module_param(gc_threshold2, uint, 0644);
MODULE_PARM_DESC(gc_threshold2, "Generation 2 threshold of new heaps (default 10)");

static bool gc_enabled = true;
module_param(gc_enabled, bool, 0644);
MODULE_PARM_DESC(gc_enabled, "Automatic collection on in new heaps (default 1)");

static inline unsigned int obj_gen(const struct refcache_obj *obj)
{
	return obj->flags & REFCACHE_OBJ_GEN_MASK;
}

static inline void obj_set_gen(struct refcache_obj *obj, unsigned int gen)
{
	obj->flags = (obj->flags & ~REFCACHE_OBJ_GEN_MASK) | gen;
}

static inline u32 gc_refs(const struct refcache_obj *obj)
{
	return obj->flags >> REFCACHE_OBJ_REFS_SHIFT;
}

static inline void set_gc_refs(struct refcache_obj *obj, u32 refs)
{
	obj->flags = (obj->flags & ((1U << REFCACHE_OBJ_REFS_SHIFT) - 1)) |
		     (refs << REFCACHE_OBJ_REFS_SHIFT);
}

static inline bool obj_tracked(const struct refcache_obj *obj)
{
	return obj->cache->flags & REFCACHE_CACHE_TRACKED;
}

void refcache_gc_init(struct refcache_heap *heap)
{
	struct refcache_gc *gc = &heap->objs.gc;
	int i;

	for (i = 0; i < REFCACHE_GC_LISTS; i++)
		INIT_LIST_HEAD(&gc->gen[i]);
	gc->threshold[0] = READ_ONCE(gc_threshold0);
	gc->threshold[1] = READ_ONCE(gc_threshold1);
	gc->threshold[2] = READ_ONCE(gc_threshold2);
	gc->enabled = READ_ONCE(gc_enabled);
	init_waitqueue_head(&gc->wait);
}

/* The generation and everything a collection keeps in the flags word. */
#define GC_SCAN_BITS	(REFCACHE_OBJ_GEN_MASK | REFCACHE_OBJ_COLLECTING | \
			 REFCACHE_OBJ_UNREACHABLE | \
			 (REFCACHE_OBJ_REFS_MAX << REFCACHE_OBJ_REFS_SHIFT))

/* Each object of @list out of the collection, in generation @gen. */
static void gc_settle_list(struct list_head *list, unsigned int gen)
{
	struct refcache_obj *obj;
	unsigned long i = 0;

	list_for_each_entry(obj, list, node) {
		obj->flags = (obj->flags & ~GC_SCAN_BITS) | gen;
		if (!(++i & 1023))
			cond_resched();
	}
}

/*
 * Move a whole list into generation @gen, setting each object's
 * generation; @from may be that generation's own list (a full
 * collection's survivors stay where they are).
 */
static void gc_merge_into(struct refcache_gc *gc, struct list_head *from, u64 n,
			  unsigned int gen)
{
	gc_settle_list(from, gen);
	if (from != &gc->gen[gen])
		list_splice_tail_init(from, &gc->gen[gen]);
	gc->nobjs[gen] += n;
}

/* ---- trial deletion ------------------------------------------------- */

struct gc_scan {
	struct refcache_heap *heap;
};

/*
 * A traverse callback reported an object of another heap, which the rule
 * forbids (Documentation/objects.rst, "References across heaps"): it is
 * treated as a reference from outside, never counted, never changed.
 */
static void foreign_ref(const struct refcache_heap *heap, const struct refcache_obj *child)
{
	WARN_ONCE(1, "refcache: heap %llu: a traverse callback reported an object of heap %llu; ignored\n",
		  heap->id, child->cache->heap->id);
}

/* A reference a traverse callback reported: one to an object of @heap? */
static __always_inline bool reported_here(const struct refcache_heap *heap,
					  const struct refcache_obj *child)
{
	if (!child)
		return false;
	if (unlikely(child->cache->heap != heap)) {
		foreign_ref(heap, child);
		return false;
	}
	return true;
}

/*
 * An object of the set being collected, of this heap?  The heap first:
 * another heap's flags word belongs to that heap's collector.
 */
static bool in_set(const struct refcache_obj *child, const struct gc_scan *s)
{
	return reported_here(s->heap, child) && (child->flags & REFCACHE_OBJ_COLLECTING);
}

/* CPython's update_refs(): gc_refs = count; dying objects leave the set. */
static u64 update_refs(struct list_head *young, struct list_head *dying)
{
	struct refcache_obj *obj, *tmp;
	unsigned long i = 0;
	u64 n = 0;

	list_for_each_entry_safe(obj, tmp, young, node) {
		unsigned int c = refcache_ref_read_gc(obj, true);

		if (!(++i & 1023))
			cond_resched();
		if (!c) {
			/* Its putter waits for our lock and will free it. */
			list_move_tail(&obj->node, dying);
			continue;
		}
		/* A saturated or huge count is reachable for good. */
		set_gc_refs(obj, min_t(unsigned int, c, REFCACHE_OBJ_REFS_MAX));
		obj->flags |= REFCACHE_OBJ_COLLECTING;
		n++;
	}
	return n;
}

/*
 * One reference from inside the set to @child, which is in it.  Returns
 * whether that took its gc_refs to zero.  @mask: the bits of gc_refs
 * that count, ~0U, or GC_TALLY_REFS in a tally (below).
 */
static inline bool decref(struct refcache_obj *child, u32 mask)
{
	u32 refs = gc_refs(child);

	/* REFS_MAX stands for "more than we can count": never reaches 0. */
	if ((refs & mask) && refs != REFCACHE_OBJ_REFS_MAX) {
		set_gc_refs(child, refs - 1);
		return (refs & mask) == 1;
	}
	return false;
}

static void visit_decref(struct refcache_obj *child, void *arg)
{
	if (in_set(child, arg))
		decref(child, ~0U);
}

/* CPython's subtract_refs(): take away references from inside the set. */
static void subtract_refs(struct list_head *young, struct gc_scan *s)
{
	struct refcache_obj *obj;
	unsigned long i = 0;

	list_for_each_entry(obj, young, node) {
		const struct refcache_type_ops *ops = obj->cache->ops;
		struct refcache_obj *child;
		u32 j;

		/* Slots hold objects of this heap only: no call, no heap check. */
		for (j = 0; j < obj->cache->nslots; j++) {
			child = obj->slots[j];
			if (child && (child->flags & REFCACHE_OBJ_COLLECTING))
				decref(child, ~0U);
		}
		if (ops && ops->traverse)
			ops->traverse(obj, visit_decref, s);
		if (!(++i & 1023))
			cond_resched();
	}
}

/*
 * Ask for the referents of the object after @obj on @head, for writing:
 * the walks below touch each referent once, at random in a scattered
 * set (refcache_gc_scattered()), and would otherwise wait for each
 * miss in turn.
 */
static __always_inline void prefetch_next_slots(const struct refcache_obj *obj,
						const struct list_head *head)
{
	const struct refcache_obj *next;
	u32 j, nslots;

	if (obj->node.next == head)
		return;
	next = list_next_entry(obj, node);
	nslots = next->cache->nslots;
	for (j = 0; j < nslots; j++)
		if (next->slots[j])
			prefetchw(next->slots[j]);
}

#define GC_SCATTER_SAMPLE 64

/*
 * Is the set scattered: do the first references of consecutive objects
 * on @young (its first GC_SCATTER_SAMPLE) jump a page or more, most of
 * the time?  Then the walks prefetch the next object's referents
 * (prefetch_next_slots()).  In a set whose referents follow its walk
 * (a tree or lists built in order, cycles of neighbours), the hardware
 * prefetches them already, and the extra loads would cost 5-10%
 * natively (Documentation/collector.rst).
 */
VISIBLE_IF_KUNIT bool refcache_gc_scattered(const struct list_head *young, u64 n)
{
	const struct refcache_obj *obj;
	unsigned long child, prev = 0;
	unsigned int k = 0, seen = 0, jumps = 0;

	if (n < REFCACHE_GC_SCATTER_MIN)
		return false;
	list_for_each_entry(obj, young, node) {
		if (++k > GC_SCATTER_SAMPLE)
			break;
		if (!obj->cache->nslots)
			continue;
		child = (unsigned long)obj->slots[0];
		if (!child)
			continue;
		if (prev) {
			seen++;
			if ((child > prev ? child - prev : prev - child) >= PAGE_SIZE)
				jumps++;
		}
		prev = child;
	}
	return jumps * 2 > seen;
}
EXPORT_SYMBOL_IF_KUNIT(refcache_gc_scattered);

/* ---- edges in address order ---------------------------------------- */

/*
 * A walk of a scattered set touches each referent at random: one cache
 * miss, and one TLB miss, per reference.  The edge buffer defers those
 * touches: a walk reads each object's slots in list order and drops
 * each referent into the bucket of its address region; a full bucket is
 * applied at once, to objects of one region, whose lines and pages it
 * touches in a burst (Documentation/collector.rst, "Edges in address
 * order").  The walks it serves apply commutative steps (a gc_refs
 * decrement; a referent made reachable), so the order is free.
 */
#define GC_EDGE_BUCKETS		512
#define GC_EDGE_DEPTH		256
#define GC_EDGE_SHIFT		17	/* 128 KiB regions: 512 of them span 64 MiB */
#define GC_EDGE_AHEAD		8	/* a bucket's referents prefetched this far ahead */

struct gc_edges {
	u32 pending;			/* in all buckets */
	u16 fill[GC_EDGE_BUCKETS];
	/* The buckets that hold anything: a sweep visits only those. */
	unsigned long busy[BITS_TO_LONGS(GC_EDGE_BUCKETS)];
	/* The gather's buckets half full of references it must put later. */
	unsigned long closed[BITS_TO_LONGS(GC_EDGE_BUCKETS)];
	struct refcache_obj *(*e)[GC_EDGE_DEPTH];	/* 1 MiB, allocated apart */
};

/* What the buffer and the walk's stack did, for the KUnit suite. */
VISIBLE_IF_KUNIT atomic_long_t refcache_gc_edge_stats[REFCACHE_GC_EDGE_NSTATS];
EXPORT_SYMBOL_IF_KUNIT(refcache_gc_edge_stats);

static inline void edge_stat(unsigned int i, long n)
{
	atomic_long_add(n, &refcache_gc_edge_stats[i]);
}

/* A scattered set smaller than this fits the caches: its walks take no buffer. */
VISIBLE_IF_KUNIT unsigned long refcache_gc_edges_min = 4 * REFCACHE_GC_SCATTER_MIN;
EXPORT_SYMBOL_IF_KUNIT(refcache_gc_edges_min);

static struct gc_edges *gc_edges_alloc(bool ahead, u64 n)
{
	struct gc_edges *eb;

	if (!ahead || n < READ_ONCE(refcache_gc_edges_min))
		return NULL;
	/* Not from the reserves: a collection under pressure does without. */
	eb = kzalloc(sizeof(*eb), GFP_KERNEL | __GFP_NOWARN | __GFP_NOMEMALLOC);
	if (!eb)
		return NULL;
	eb->e = kvmalloc_array(GC_EDGE_BUCKETS, sizeof(*eb->e),
			       GFP_KERNEL | __GFP_NOWARN | __GFP_NOMEMALLOC);
	if (!eb->e) {
		kfree(eb);
		return NULL;
	}
	edge_stat(REFCACHE_GC_EDGE_BUFFERS, 1);
	return eb;
}

static void gc_edges_free(struct gc_edges *eb)
{
	if (!eb)
		return;
	kvfree(eb->e);
	kfree(eb);
}

static __always_inline unsigned int gc_edge_bucket(const struct refcache_obj *obj)
{
	return ((unsigned long)obj >> GC_EDGE_SHIFT) & (GC_EDGE_BUCKETS - 1);
}

/* Defer a reference to @child, in bucket @b; true when it is full, to be applied. */
static __always_inline bool edge_push(struct gc_edges *eb, unsigned int b,
				      struct refcache_obj *child)
{
	if (!eb->fill[b])
		__set_bit(b, eb->busy);
	eb->e[b][eb->fill[b]++] = child;
	eb->pending++;
	return eb->fill[b] == GC_EDGE_DEPTH;
}

/* Bucket @b applied, @m references kept in it. */
static __always_inline void edges_applied(struct gc_edges *eb, unsigned int b, unsigned int m)
{
	eb->pending -= eb->fill[b] - m;
	eb->fill[b] = m;
	if (!m)
		__clear_bit(b, eb->busy);
}

/* What applying a bucket does to each referent: edges_apply(), below. */
enum gc_edge_op {
	GC_EDGE_MARK,		/* step 0: mark it (struct alive_arg) */
	GC_EDGE_SUBTRACT,	/* steps 1-2: enter it, take one off (struct subtract_arg) */
	GC_EDGE_REACH,		/* step 3: reached from a reachable object (struct reach_arg) */
};

static __always_inline void edges_apply(struct gc_edges *eb, unsigned int b,
					enum gc_edge_op op, void *arg);

/* Defer a reference to @child; its bucket, once full, is applied with @op. */
static __always_inline void edge_defer(struct gc_edges *eb, struct refcache_obj *child,
				       enum gc_edge_op op, void *arg)
{
	unsigned int b = gc_edge_bucket(child);

	if (edge_push(eb, b, child))
		edges_apply(eb, b, op, arg);
}

/*
 * Apply every bucket that holds anything, edges_apply(eb, b, op, arg); what
 * applying adds to the buffer waits for the next sweep.  A sweep costs
 * the buckets in use, not all 512: a chain (each link reached only from
 * the one before) takes a sweep per link at a walk's end.
 */
#define edges_sweep(eb, op, arg) do {						\
	struct gc_edges *__eb = (eb);						\
	unsigned long __word;							\
	unsigned int __w, __b;							\
										\
	for (__w = 0; __w < ARRAY_SIZE(__eb->busy); __w++) {			\
		__word = __eb->busy[__w];					\
		while (__word) {						\
			__b = __w * BITS_PER_LONG + __ffs(__word);		\
			__word &= __word - 1;					\
			edges_apply(__eb, __b, op, arg);			\
		}								\
	}									\
} while (0)

/* ---- marking from the handles -------------------------------------- */

struct alive_arg {
	struct refcache_heap *heap;
	struct list_head *alive;
	struct list_head *ins;		/* a marked object goes after this one */
	unsigned int generation, target;
	u32 stamp;
	u64 n;
};

/*
 * @obj is reachable: if it is in the set (tracked, in a generation
 * collected) and not marked yet (its gc_refs bits are not this
 * collection's stamp), it leaves the set for @aa->alive with its new
 * generation and the stamp: at the tail, or (@next, from the edge
 * buffer) after @aa->ins, to be scanned next.  Its count is not read: a
 * handle or a slot holds a reference to it, so it is not zero.
 */
static __always_inline void mark_alive_one(struct alive_arg *aa, struct refcache_obj *obj,
					   bool next)
{
	u32 f = obj->flags;

	if ((f & REFCACHE_OBJ_GEN_MASK) > aa->generation ||
	    (f >> REFCACHE_OBJ_REFS_SHIFT) == aa->stamp ||
	    !(obj->cache->flags & REFCACHE_CACHE_TRACKED))
		return;
	obj->flags = (f & ~GC_SCAN_BITS) | aa->target | (aa->stamp << REFCACHE_OBJ_REFS_SHIFT);
	if (next) {
		list_move(&obj->node, aa->ins);
		aa->ins = &obj->node;
	} else {
		list_move_tail(&obj->node, aa->alive);
	}
	aa->n++;
}

static void visit_alive(struct refcache_obj *child, void *arg)
{
	struct alive_arg *aa = arg;

	if (reported_here(aa->heap, child))
		mark_alive_one(aa, child, false);
}

static void root_alive(struct refcache_obj *obj, void *arg)
{
	mark_alive_one(arg, obj, false);
}

/*
 * A stamp for this collection (step 0's marking, or the acyclic pass):
 * one more than the last, so that no object holds it yet.  After
 * REFCACHE_OBJ_REFS_MAX stamps it starts again at 1, and first every
 * tracked object's gc_refs bits are cleared, so that none holds an old
 * stamp that comes round again.  Both take their stamps before step 0
 * runs, and only with no biased object queued, so every tracked object
 * is on one of the lists.
 */
static u32 mark_stamp_next(struct refcache_gc *gc)
{
	struct refcache_obj *obj;
	unsigned long i = 0;
	unsigned int g;

	if (gc->mark_stamp < REFCACHE_OBJ_REFS_MAX)
		return ++gc->mark_stamp;
	for (g = 0; g < REFCACHE_GC_LISTS; g++) {
		list_for_each_entry(obj, &gc->gen[g], node) {
			obj->flags &= ~(REFCACHE_OBJ_REFS_MAX << REFCACHE_OBJ_REFS_SHIFT);
			if (!(++i & 1023))
				cond_resched();
		}
	}
	return gc->mark_stamp = 1;
}

/*
 * Step 0 of Documentation/collector.rst: take what the heap's strong
 * handles (and roots) reach out of @young to @alive, which is the
 * marking's queue (breadth-first, but with the edge buffer @eb what a
 * bucket marks is scanned next), each object with generation @target
 * and @stamp in its gc_refs bits.  The caller checked that no biased
 * object is queued (every object of the set is on @young) and that the
 * handle table costs no more to read than a pass over the set.  Returns
 * how many it took.
 */
static __always_inline u64 mark_alive(struct refcache_heap *heap, struct list_head *alive,
				      unsigned int generation, unsigned int target, u32 stamp,
				      bool ahead, struct gc_edges *eb)
{
	struct alive_arg aa = {
		.heap = heap, .alive = alive, .generation = generation,
		.target = target, .stamp = stamp,
	};
	const struct refcache_type_ops *ops;
	struct refcache_obj *obj, *child;
	struct list_head *pos, *last;
	unsigned long i = 0;
	u32 j, nslots;

	heap->objs.ops->roots(heap, root_alive, &aa);
	/*
	 * The list grows while we walk it: at its tail, in breadth-first
	 * order, which is address order in a graph built in order.  What a
	 * bucket of the edge buffer marks goes right after the object being
	 * scanned instead, to be scanned next, while the bucket's region is
	 * still in the caches: at the tail, its scan would come a queue's
	 * length later, a second random touch per object.  The buffer is
	 * applied once more when the walk has reached the end.
	 */
	pos = alive->next;
	for (;;) {
		for (; pos != alive; pos = pos->next) {
			obj = list_entry(pos, struct refcache_obj, node);
			if (eb)
				aa.ins = pos;
			if (!(++i & 1023))
				cond_resched();
			if (ahead && !eb)
				prefetch_next_slots(obj, alive);
			nslots = obj->cache->nslots;
			ops = obj->cache->ops;
			/* Slots hold objects of this heap only. */
			for (j = 0; j < nslots; j++) {
				child = obj->slots[j];
				if (!child)
					continue;
				if (eb)
					edge_defer(eb, child, GC_EDGE_MARK, &aa);
				else
					mark_alive_one(&aa, child, false);
			}
			if (ops && ops->traverse)
				ops->traverse(obj, visit_alive, &aa);
		}
		if (!eb || !eb->pending)
			break;
		/* Everything on the list is scanned: what the buffer adds follows it. */
		last = alive->prev;
		aa.ins = last;
		edges_sweep(eb, GC_EDGE_MARK, &aa);
		cond_resched();
		pos = last->next;
	}
	return aa.n;
}

/*
 * The tally (Documentation/collector.rst, "The gather without the
 * garbage's references").  In a collection through the edge buffer of a
 * plain heap (gc_plain(): no callbacks, so slots are every reference),
 * gc_refs holds two numbers: the count read as the object joined the
 * set (GC_TALLY_SHIFT up), and below it what the trial leaves of that
 * count (the references from outside the set), to which the walk adds
 * one for each reference from a survivor, and GC_TALLY_SCANNED once the
 * object is scanned.  After the walk, the count a survivor joined with,
 * less that sum, is the number of references the garbage holds to it
 * (whatever holders outside did since): the gather takes
 * them off in one step, and frees the garbage without reading its slots
 * (when they hold nothing outside the set: gc_tally_holds()).  A count
 * above GC_TALLY_MAX ends the tally for the collection (tally_off()).
 */
#define GC_TALLY_SHIFT		13
#define GC_TALLY_REFS		0xfffU	/* external + from survivors */
#define GC_TALLY_SCANNED	0x1000U
#define GC_TALLY_MAX		0xfffU	/* the largest count a tally holds */

/* Off: no collection tallies (KUnit: the gather as before, on the same graphs). */
VISIBLE_IF_KUNIT bool refcache_gc_tally = true;
EXPORT_SYMBOL_IF_KUNIT(refcache_gc_tally);

struct subtract_arg {
	struct gc_scan *s;
	struct list_head *young;
	unsigned int generation;
	u32 stamp;
	u32 mask;		/* decref()'s: GC_TALLY_REFS in a tally, else ~0U */
	bool biased_heap;
	bool tally;
	u64 zeroed;
	u64 out;		/* references from the set to objects outside it */
};

/*
 * A count too large for the tally: every object of the set so far gets
 * back the plain gc_refs (what the trial left of its count), and the
 * collection goes on without the tally.  Only in a tally, in a heap
 * without traverse callbacks, so never from a callback's visit.
 */
static noinline void tally_off(struct subtract_arg *sa)
{
	struct refcache_obj *obj;
	unsigned long i = 0;

	list_for_each_entry(obj, sa->young, node) {
		if (obj->flags & REFCACHE_OBJ_COLLECTING)
			set_gc_refs(obj, gc_refs(obj) & GC_TALLY_REFS);
		if (!(++i & 1023))
			cond_resched();
	}
	sa->tally = false;
	sa->mask = ~0U;
	edge_stat(REFCACHE_GC_EDGE_UNTALLIED, 1);
}

/*
 * Is @child, referenced from the set, in the set?  For
 * update_subtract_refs(): an object is set up (gc_refs = count, as
 * update_refs() does) when it is first reached, as a referent or in the
 * walk.  Of this heap (slots hold nothing else), tracked, in a
 * generation collected, not marked with @stamp (step 0 took it out),
 * its count not zero: then it is on @young, where the walk finds it
 * too.
 */
static __always_inline bool enter_set(struct refcache_obj *child, struct subtract_arg *sa,
				      bool biased_heap)
{
	unsigned int c;

	if (child->flags & REFCACHE_OBJ_COLLECTING)
		return true;
	if (!(child->cache->flags & REFCACHE_CACHE_TRACKED) || obj_gen(child) > sa->generation)
		return false;
	/* Marked from the handles (step 0): out of the set. */
	if ((child->flags >> REFCACHE_OBJ_REFS_SHIFT) == sa->stamp)
		return false;
	c = refcache_ref_read_gc(child, biased_heap);
	if (!c)
		return false;	/* its putter waits for our lock and will free it */
	if (sa->tally) {
		if (likely(c <= GC_TALLY_MAX)) {
			set_gc_refs(child, c << GC_TALLY_SHIFT | c);
			child->flags |= REFCACHE_OBJ_COLLECTING;
			return true;
		}
		tally_off(sa);
	}
	set_gc_refs(child, min_t(unsigned int, c, REFCACHE_OBJ_REFS_MAX));
	child->flags |= REFCACHE_OBJ_COLLECTING;
	return true;
}

static void visit_enter_decref(struct refcache_obj *child, void *arg)
{
	struct subtract_arg *sa = arg;

	if (reported_here(sa->s->heap, child) && enter_set(child, sa, sa->biased_heap))
		sa->zeroed += decref(child, sa->mask);
}

/*
 * update_refs() and subtract_refs() in one walk of @young, which holds
 * generations 0..@generation and every object of them (no biased object
 * is queued off its list): each object is touched as itself once, and
 * as a referent once per reference, not once more to copy its count
 * first.  Same set, same gc_refs.  Returns the set's size.
 *
 * @biased_heap, whether the heap has a biased cache, is a constant at
 * each call (refcache_ref_read_gc()): a heap of atomic objects reads
 * each count with one load and no test of its mode.
 *
 * @sa->zeroed is left with how many of the set were left with gc_refs
 * zero: when that is all of them, nothing in the set is reachable from
 * outside it, and the whole set is garbage (all_garbage below).  With
 * the edge buffer, @sa->out counts the references to objects outside
 * the set.
 */
static __always_inline u64 update_subtract_refs(struct list_head *young,
						struct list_head *dying,
						struct subtract_arg *sa, bool biased_heap,
						bool ahead, struct gc_edges *eb)
{
	const struct refcache_type_ops *ops;
	struct refcache_obj *obj, *tmp, *child;
	unsigned long i = 0;
	u32 j, nslots;
	u64 n = 0;

	list_for_each_entry_safe(obj, tmp, young, node) {
		if (!(++i & 1023))
			cond_resched();
		if (!enter_set(obj, sa, biased_heap)) {
			list_move_tail(&obj->node, dying);
			continue;
		}
		n++;
		if (ahead && !eb)
			prefetch_next_slots(obj, young);
		/* Read once: the stores below might alias them for the compiler. */
		nslots = obj->cache->nslots;
		ops = obj->cache->ops;
		for (j = 0; j < nslots; j++) {
			child = obj->slots[j];
			if (!child)
				continue;
			if (ahead && eb)
				edge_defer(eb, child, GC_EDGE_SUBTRACT, sa);
			else if (enter_set(child, sa, biased_heap))
				sa->zeroed += decref(child, sa->mask);
		}
		if (ops && ops->traverse)
			ops->traverse(obj, visit_enter_decref, sa);
	}
	if (ahead && eb)
		edges_sweep(eb, GC_EDGE_SUBTRACT, sa);
	return n;
}

/* ---- the acyclic pass ------------------------------------------------ */

/*
 * The acyclic pass (Documentation/collector.rst, after step 0), before
 * the trial: one pass over the set in list order that stamps each
 * object as it passes it (and gives it its new generation), and looks
 * at where each of its references goes: to an object of the set it has
 * passed (stamped), or to one it has not yet.  If every reference goes
 * the same way, the list's order is a topological order of the set's
 * references, so the set has no cycle; and in a set without a cycle
 * every object is reachable from outside it (follow the references back
 * from any object: they end, at an object nothing in the set
 * references, whose count is all from outside).  The trial would find
 * no garbage, so the pass has done the collection: every object is a
 * survivor, already stamped and in its new generation.  A pass that
 * meets references both ways stops, and gives back what it stamped;
 * the trial runs as before.
 */
#define ACYCLIC_FWD	1U
#define ACYCLIC_BACK	2U

/* Off: the trial runs on every set (KUnit's cases of step 0's stamps). */
VISIBLE_IF_KUNIT bool refcache_gc_acyclic = true;
EXPORT_SYMBOL_IF_KUNIT(refcache_gc_acyclic);

struct acyclic_arg {
	struct refcache_heap *heap;
	unsigned int generation, target;
	u32 mark;		/* step 0's stamp: out of the set */
	u32 stamp;		/* this pass's: passed */
	const struct refcache_obj *obj;	/* the object being passed */
	unsigned long lo, hi;	/* the lowest and highest address passed */
	unsigned int dirs;
	u64 n;			/* objects passed */
};

/* A reference from the object being passed to @child. */
static __always_inline void acyclic_ref(struct acyclic_arg *aa, const struct refcache_obj *child)
{
	unsigned long c = (unsigned long)child;
	u32 f, refs;

	/*
	 * Outside the addresses passed, @child is not passed: ahead, or not
	 * in the set.  Once references ahead are seen, that is all there is
	 * to know, without a read of its line: a tree or list made in order
	 * is then one sequential stream, not two.
	 */
	if (aa->dirs == ACYCLIC_FWD && (c < aa->lo || c > aa->hi))
		return;
	f = child->flags;
	refs = f >> REFCACHE_OBJ_REFS_SHIFT;

	if (refs == aa->stamp)	/* a reference to itself is a cycle */
		aa->dirs |= (child == aa->obj) ? (ACYCLIC_FWD | ACYCLIC_BACK) : ACYCLIC_BACK;
	else if ((f & REFCACHE_OBJ_GEN_MASK) <= aa->generation && refs != aa->mark &&
		 (child->cache->flags & REFCACHE_CACHE_TRACKED))
		aa->dirs |= ACYCLIC_FWD;
}

static void visit_acyclic(struct refcache_obj *child, void *arg)
{
	struct acyclic_arg *aa = arg;

	if (reported_here(aa->heap, child))
		acyclic_ref(aa, child);
}

/*
 * The pass over @young, with @aa's heap, generations, stamps and a zero
 * @aa->n.  What update_subtract_refs() would not take into the set (a
 * count of zero: its putter waits for our lock) goes to @dying, as
 * there.  Returns true if the set is acyclic, with @aa->n its size;
 * else the objects passed are back as they were, but for their
 * generation, now @aa->generation (the set ends in @aa->target whatever
 * it was), and @aa->n is how many were passed.
 */
static __always_inline bool acyclic_pass(struct acyclic_arg *aa, struct list_head *young,
					 struct list_head *dying, bool biased_heap, bool ahead)
{
	const struct refcache_type_ops *ops;
	struct refcache_obj *obj, *tmp, *child;
	unsigned long i = 0;
	u32 j, nslots, f;

	list_for_each_entry_safe(obj, tmp, young, node) {
		if (!(++i & 1023))
			cond_resched();
		f = obj->flags;
		if ((f & REFCACHE_OBJ_GEN_MASK) > aa->generation ||
		    (f >> REFCACHE_OBJ_REFS_SHIFT) == aa->mark || !obj_tracked(obj) ||
		    !refcache_ref_read_gc(obj, biased_heap)) {
			list_move_tail(&obj->node, dying);
			continue;
		}
		obj->flags = (f & ~GC_SCAN_BITS) | aa->target |
			     (aa->stamp << REFCACHE_OBJ_REFS_SHIFT);
		aa->obj = obj;
		aa->lo = min_t(unsigned long, aa->lo, (unsigned long)obj);
		aa->hi = max_t(unsigned long, aa->hi, (unsigned long)obj);
		aa->n++;
		if (ahead)
			prefetch_next_slots(obj, young);
		nslots = obj->cache->nslots;
		ops = obj->cache->ops;
		/* Slots hold objects of this heap only. */
		for (j = 0; j < nslots; j++) {
			child = obj->slots[j];
			if (child)
				acyclic_ref(aa, child);
		}
		if (ops && ops->traverse)
			ops->traverse(obj, visit_acyclic, aa);
		if (unlikely(aa->dirs == (ACYCLIC_FWD | ACYCLIC_BACK)))
			goto cyclic;
	}
	return true;

cyclic:
	/* The objects passed are the list's first, up to @obj. */
	i = 0;
	list_for_each_entry(tmp, young, node) {
		tmp->flags = (tmp->flags & ~GC_SCAN_BITS) | aa->generation;
		if (tmp == obj)
			break;
		if (!(++i & 1023))
			cond_resched();
	}
	return false;
}

/*
 * A pass that meets its cycle costs what it passed.  A generation whose
 * sets keep meeting one late (past an eighth of the set, and past 64
 * objects) tries less often: after the k-th such pass in a row, its next
 * 2^k collections (at most 64) skip it.  An acyclic set, or a cycle met
 * early, starts over.
 */
static bool acyclic_due(struct refcache_gc *gc, unsigned int generation)
{
	if (!READ_ONCE(refcache_gc_acyclic))
		return false;
	if (gc->acyclic_skip[generation]) {
		gc->acyclic_skip[generation]--;
		gc->acyclic_skipped++;
		return false;
	}
	return true;
}

/* @passed of the set's @n objects, and whether it was acyclic. */
static void acyclic_learn(struct refcache_gc *gc, unsigned int generation, bool acyclic,
			  u64 passed, u64 n)
{
	u8 *fails = &gc->acyclic_fails[generation];

	if (acyclic) {
		gc->acyclic_done++;
	} else {
		gc->acyclic_stopped++;
		gc->acyclic_passed += passed;
	}
	if (acyclic || passed <= n / 8 || passed <= 64) {
		*fails = 0;
		return;
	}
	if (*fails < 6)
		++*fails;
	gc->acyclic_skip[generation] = 1U << *fails;
}

/* Can the collector drop this object's references? */
static bool obj_clearable(const struct refcache_obj *obj)
{
	const struct refcache_type_ops *ops = obj->cache->ops;

	return !ops || !ops->traverse || ops->clear;
}

#define GC_STACK	4096

/* The walk's first stack, in entries; 0: the small one on the stack (KUnit). */
VISIBLE_IF_KUNIT unsigned long refcache_gc_stack_first = GC_STACK;
EXPORT_SYMBOL_IF_KUNIT(refcache_gc_stack_first);

struct reach_arg {
	struct gc_scan *s;
	struct list_head *young;
	struct list_head *spill;	/* where a rescue goes when the stack is full */
	struct list_head overflow;	/* the spill of a walk with the edge buffer */
	struct refcache_obj **stack;
	struct refcache_obj **small;	/* the stack when none could be allocated */
	unsigned long sp, cap, max;
	u64 tentative;		/* objects marked unreachable so far, not reached since */
	u64 out;		/* references from survivors outside the set (edge buffer) */
	bool tally;		/* survivors stay in the set, counting references */
};

/*
 * The stack is full: double it, up to @ra->max (the set's size: an
 * object is pushed at most once).  A rescue that finds no room spills
 * (below), which moves it on the list: a walk through the edge buffer
 * rescues in bursts (on random, 90,000 deep for 500,000 live objects),
 * and spilling there scrambled the list's address order for the gather.
 */
static noinline bool reach_grow(struct reach_arg *ra)
{
	struct refcache_obj **v;
	unsigned long cap;

	if (ra->cap >= ra->max || ra->stack == ra->small)
		return false;
	cap = min(2 * ra->cap, ra->max);
	/* Not from the reserves: a collection under pressure spills instead. */
	v = kvmalloc_array(cap, sizeof(*v), GFP_KERNEL | __GFP_NOWARN | __GFP_NOMEMALLOC);
	if (!v) {
		ra->max = ra->cap;
		return false;
	}
	memcpy(v, ra->stack, ra->sp * sizeof(*v));
	kvfree(ra->stack);
	ra->stack = v;
	ra->cap = cap;
	edge_stat(REFCACHE_GC_EDGE_GROWN, 1);
	return true;
}

/*
 * A reachable object references @child, of the set.  @may_grow: not from
 * a traverse callback's visit, which may run under the callback's locks
 * (growing the stack allocates, and may sleep).
 */
static __always_inline void reach_child(struct reach_arg *ra, struct refcache_obj *child,
					bool may_grow)
{
	if (child->flags & REFCACHE_OBJ_UNREACHABLE) {
		/* Passed as tentatively unreachable: scan it now. */
		child->flags &= ~REFCACHE_OBJ_UNREACHABLE;
		if (ra->tally)
			child->flags += 1U << REFCACHE_OBJ_REFS_SHIFT;	/* 0 -> 1 */
		else
			set_gc_refs(child, 1);
		ra->tentative--;
		if (likely(ra->sp < ra->cap) || (may_grow && reach_grow(ra))) {
			ra->stack[ra->sp++] = child;
		} else {	/* CPython's way: to the tail of the walk */
			list_move_tail(&child->node, ra->spill);
			edge_stat(REFCACHE_GC_EDGE_SPILLED, 1);
		}
	} else if (ra->tally) {
		/* One more from a survivor: never past the count it joined with. */
		child->flags += 1U << REFCACHE_OBJ_REFS_SHIFT;
	} else if (!gc_refs(child)) {
		/* Still ahead of the walk, which will scan it as reachable. */
		set_gc_refs(child, 1);
	}
}

static void visit_reachable(struct refcache_obj *child, void *arg)
{
	struct reach_arg *ra = arg;

	if (in_set(child, ra->s))
		reach_child(ra, child, false);
}

/*
 * Apply bucket @b: each referent in turn, the one GC_EDGE_AHEAD on
 * prefetched (the misses overlap).  @op is a constant at each call.
 */
static __always_inline void edges_apply(struct gc_edges *eb, unsigned int b,
					enum gc_edge_op op, void *arg)
{
	struct subtract_arg *sa = arg;
	struct refcache_obj *child;
	unsigned int k, n = eb->fill[b];

	for (k = 0; k < n; k++) {
		child = eb->e[b][k];
		if (k + GC_EDGE_AHEAD < n)
			prefetchw(eb->e[b][k + GC_EDGE_AHEAD]);
		switch (op) {
		case GC_EDGE_MARK:
			mark_alive_one(arg, child, true);
			break;
		case GC_EDGE_SUBTRACT:
			if (enter_set(child, sa, sa->biased_heap))
				sa->zeroed += decref(child, sa->mask);
			else
				sa->out++;
			break;
		case GC_EDGE_REACH:
			if (child->flags & REFCACHE_OBJ_COLLECTING)
				reach_child(arg, child, true);
			else
				((struct reach_arg *)arg)->out++;
			break;
		}
	}
	edges_applied(eb, b, 0);
}

/*
 * The next object rescued behind the walk, to scan: from the stack, or,
 * with the edge buffer, from the spill, back on the walk's list (where
 * the walk, finding it scanned, passes it).
 */
static __always_inline struct refcache_obj *reach_next(struct reach_arg *ra,
						       struct gc_edges *eb)
{
	struct refcache_obj *v;

	if (ra->sp)
		return ra->stack[--ra->sp];
	if (!eb || list_empty(&ra->overflow))
		return NULL;
	v = list_first_entry(&ra->overflow, struct refcache_obj, node);
	list_move_tail(&v->node, ra->young);
	return v;
}

/*
 * @v is reachable: it ends its part in the collection (a survivor in
 * generation @target) and what it references is reached, now or, with
 * the edge buffer, when the referent's bucket is applied.
 */
static __always_inline void scan_reachable(struct reach_arg *ra, struct refcache_obj *v,
					   unsigned int target, bool ahead,
					   struct gc_edges *eb)
{
	const struct refcache_type_ops *ops;
	struct refcache_obj *child;
	u32 j, nslots;

	/* In a tally, it stays in the set until the gather. */
	if (ra->tally)
		v->flags |= GC_TALLY_SCANNED << REFCACHE_OBJ_REFS_SHIFT;
	else
		v->flags = (v->flags & ~GC_SCAN_BITS) | target;
	nslots = v->cache->nslots;
	ops = v->cache->ops;
	/* Slots hold objects of this heap only. */
	for (j = 0; j < nslots; j++) {
		child = v->slots[j];
		if (!child)
			continue;
		if (ahead && eb)
			edge_defer(eb, child, GC_EDGE_REACH, ra);
		else if (child->flags & REFCACHE_OBJ_COLLECTING)
			reach_child(ra, child, true);
	}
	if (ops && ops->traverse)
		ops->traverse(v, visit_reachable, ra);
}

/*
 * CPython's move_unreachable() without its list moves: walk the set in
 * order.  An object with gc_refs > 0 is reachable: scanning it marks
 * what it references and ends its part in the collection (a survivor,
 * in generation @target, as CPython's gc_clear_collecting()).  One with
 * gc_refs == 0 is tentatively unreachable and stays where it is; if a
 * reachable object references it later it is scanned at once from an
 * explicit stack, which grows as needed (or, when it cannot, moved to the
 * tail of the walk).
 * With the edge buffer @eb, references are reached in bursts by address
 * region, so more objects are passed before they are reached and
 * rescued; the walk's end applies what is left in the buffer until
 * nothing is.  Returns how many are still tentatively unreachable at
 * the end: the garbage, which one of the gather passes below takes out
 * of @young (none runs when there is none, as in a heap of live data).
 *
 * In a tally (@tally, with @eb only), survivors are not settled as they
 * are scanned: they stay in the set, flagged scanned, and count each
 * reference from a survivor in gc_refs; the gather settles them.
 * *@out is set to the references from survivors to objects outside the
 * set.
 */
static __always_inline u64 move_unreachable(struct list_head *young, struct gc_scan *s,
					    u64 n, unsigned int target, bool ahead,
					    struct gc_edges *eb, bool tally, u64 *out)
{
	struct refcache_obj *stack_small[32];
	struct reach_arg ra = { .s = s, .young = young, .spill = young, .tally = tally };
	u32 scanned = tally ? GC_TALLY_SCANNED << REFCACHE_OBJ_REFS_SHIFT :
			      REFCACHE_OBJ_COLLECTING;
	u32 refs = tally ? GC_TALLY_REFS : ~0U;
	struct refcache_obj *obj, *v;
	unsigned long i = 0;

	INIT_LIST_HEAD(&ra.overflow);
	if (ahead && eb)
		ra.spill = &ra.overflow;
	ra.small = stack_small;
	ra.cap = READ_ONCE(refcache_gc_stack_first);
	ra.max = max_t(u64, n, ra.cap);
	ra.stack = NULL;
	if (ra.cap)
		ra.stack = kvmalloc_array(ra.cap, sizeof(*ra.stack),
					  GFP_KERNEL | __GFP_NOWARN | __GFP_NOMEMALLOC);
	if (!ra.stack) {
		ra.stack = stack_small;
		ra.cap = ARRAY_SIZE(stack_small);
	}
	/* The list may grow at its tail while we walk it. */
	list_for_each_entry(obj, young, node) {
		if (!(++i & 1023))
			cond_resched();
		/* Scanned from the stack already: out of the set, or flagged. */
		if (tally ? (obj->flags & scanned) : !(obj->flags & scanned))
			continue;
		if (!(gc_refs(obj) & refs)) {
			obj->flags |= REFCACHE_OBJ_UNREACHABLE;
			ra.tentative++;
			continue;
		}
		if (ahead && !eb)
			prefetch_next_slots(obj, young);
		/* It, then what it reached behind the walk (the stack). */
		for (v = obj; v; v = reach_next(&ra, ahead ? eb : NULL)) {
			scan_reachable(&ra, v, target, ahead, eb);
			if (!(++i & 1023))
				cond_resched();
		}
	}
	/* What the buffer still holds may rescue more, which adds to it. */
	while (ahead && eb && eb->pending) {
		edges_sweep(eb, GC_EDGE_REACH, &ra);
		while ((v = reach_next(&ra, eb))) {
			scan_reachable(&ra, v, target, ahead, eb);
			if (!(++i & 1023))
				cond_resched();
		}
		cond_resched();
	}
	if (ra.stack != stack_small)
		kvfree(ra.stack);
	*out = ra.out;
	return ra.tentative;
}

/*
 * The classic end of move_unreachable() and the first pass of CPython's
 * move_legacy_finalizers(), in one sequential pass: the garbage to
 * @unreachable in the generation it is counted in until it is freed,
 * and the garbage whose references cannot be dropped (a kernel cache
 * with a traverse callback but no clear) to @uncollectable.
 * *@callbacks is set if any has callbacks.  Returns how many (both).
 */
static u64 gather_unreachable(struct list_head *young, struct list_head *unreachable,
			      struct list_head *uncollectable, unsigned int target,
			      bool *callbacks)
{
	struct refcache_obj *obj, *next;
	unsigned long i = 0;
	u64 n = 0;

	list_for_each_entry_safe(obj, next, young, node) {
		if (!(++i & 1023))
			cond_resched();
		if (!(obj->flags & REFCACHE_OBJ_UNREACHABLE))
			continue;
		obj_set_gen(obj, target);
		n++;
		if (obj->cache->ops)
			*callbacks = true;
		if (!obj_clearable(obj)) {
			obj->flags &= ~REFCACHE_OBJ_UNREACHABLE;
			list_move_tail(&obj->node, uncollectable);
		} else {
			list_move_tail(&obj->node, unreachable);
		}
	}
	return n;
}

static void visit_finalizer_reachable(struct refcache_obj *child, void *arg)
{
	struct list_head *uncollectable = arg;
	struct refcache_obj *first;

	if (!child)
		return;
	/* Garbage is never of another heap: compare with any of ours. */
	first = list_first_entry(uncollectable, struct refcache_obj, node);
	if (child->cache->heap != first->cache->heap)
		return;
	if (child->flags & REFCACHE_OBJ_UNREACHABLE) {
		child->flags &= ~REFCACHE_OBJ_UNREACHABLE;
		list_move_tail(&child->node, uncollectable);
	}
}

/*
 * CPython's move_legacy_finalizer_reachable(): garbage whose references
 * cannot be dropped (gathered to @uncollectable by gather_unreachable()),
 * and all it references, is left alone.  Returns how many.
 */
static u64 move_uncollectable(struct list_head *uncollectable)
{
	struct refcache_obj *obj;
	u64 n = 0;

	/* The list grows while we walk it: everything reached joins. */
	list_for_each_entry(obj, uncollectable, node) {
		refcache_obj_traverse(obj, visit_finalizer_reachable, uncollectable);
		n++;
	}
	return n;
}

/* A survivor of the garbage or of the uncollectable set: to the oldest generation. */
static void settle_survivor(struct refcache_gc *gc, struct refcache_obj *obj)
{
	gc->nobjs[obj_gen(obj)]--;
	obj_set_gen(obj, REFCACHE_GC_GENERATIONS - 1);
	list_move_tail(&obj->node, &gc->gen[REFCACHE_GC_GENERATIONS - 1]);
	gc->nobjs[REFCACHE_GC_GENERATIONS - 1]++;
}

/*
 * Drop the collector's own reference to each object of @list: the last
 * put frees an object through the release path; one that something else
 * still holds goes to generation 2.  Returns how many were freed.
 */
static u64 settle(struct refcache_heap *heap, struct list_head *list)
{
	struct refcache_gc *gc = &heap->objs.gc;
	struct refcache_obj *obj;
	u64 freed = 0;

	while ((obj = list_first_entry_or_null(list, struct refcache_obj, node))) {
		obj->flags &= ~(REFCACHE_OBJ_COLLECTING | REFCACHE_OBJ_UNREACHABLE);
		if (refcache_ref_read(obj) != 1) {
			settle_survivor(gc, obj);
			refcache_obj_put_locked(heap, obj);
			continue;
		}
		/*
		 * Ours is the last (a get without a reference needs the mutex
		 * we hold): the release path takes it off @list and frees it,
		 * so it is on a list until it is gone.
		 */
		refcache_obj_put_locked(heap, obj);
		if (list_first_entry_or_null(list, struct refcache_obj, node) == obj)
			settle_survivor(gc, obj);	/* not the last after all */
		else
			freed++;
	}
	return freed;
}

/*
 * CPython's delete_garbage(): with a reference of our own on each object
 * so none is freed while we work, drop the references the garbage holds
 * (slots, then the clear callback), then our own: the last put of each
 * frees it through the ordinary release path.  Returns how many were
 * freed; any that a clear callback kept alive go to generation 2.
 */
static u64 delete_garbage(struct refcache_heap *heap, struct list_head *unreachable)
{
	struct refcache_obj *obj, *child;
	unsigned long i = 0;
	u32 j;

	list_for_each_entry(obj, unreachable, node) {
		refcache_ref_get(obj);
		refcache_obj_clear_weak_locked(obj);
	}
	list_for_each_entry(obj, unreachable, node) {
		for (j = 0; j < obj->cache->nslots; j++) {
			child = obj->slots[j];
			obj->slots[j] = NULL;
			if (child)
				refcache_obj_put_locked(heap, child);
		}
		if (obj->cache->ops && obj->cache->ops->clear) {
			obj->flags |= REFCACHE_OBJ_CLEARED;
			obj->cache->ops->clear(obj);
		}
		if (!(++i & 1023))
			cond_resched();
	}
	return settle(heap, unreachable);
}

/* Garbage freed 64 at a time: one local lock and one uncharge a batch. */
struct gc_free_batch {
	struct refcache_obj *v[64];
	unsigned int n;
	u64 freed;
};

static __always_inline void free_batch_add(struct refcache_heap *heap,
					   struct gc_free_batch *b,
					   struct refcache_obj *obj)
{
	b->v[b->n++] = obj;
	if (b->n < ARRAY_SIZE(b->v))
		return;
	refcache_obj_free_collected_locked(heap, b->v, b->n);
	b->freed += b->n;
	b->n = 0;
	if (!(b->freed & 1023))
		cond_resched();
}

/* The last batch; returns how many were freed in all. */
static u64 free_batch_end(struct refcache_heap *heap, struct gc_free_batch *b)
{
	refcache_obj_free_collected_locked(heap, b->v, b->n);
	return b->freed + b->n;
}

/*
 * delete_garbage() for garbage without callbacks, which is all of it
 * for heaps of user space.  Every reference to a garbage object comes
 * from a garbage object (from anything else, trial deletion would have
 * left it gc_refs > 0, or it is reachable from such), and nothing can
 * resurrect one: so the garbage is freed without touching its counts or
 * the release list.  Its references to other objects are dropped as
 * usual.  Returns how many were freed (all).
 */
static u64 delete_garbage_nocb(struct refcache_heap *heap, struct list_head *unreachable)
{
	struct refcache_obj *obj, *child;
	struct gc_free_batch b = { .n = 0 };
	unsigned long i = 0;
	u32 j;

	list_for_each_entry(obj, unreachable, node) {
		if (!hlist_empty(&obj->weak))
			refcache_obj_clear_weak_locked(obj);
		for (j = 0; j < obj->cache->nslots; j++) {
			child = obj->slots[j];
			if (!child)
				continue;
			obj->slots[j] = NULL;
			if (!(child->flags & REFCACHE_OBJ_UNREACHABLE))
				refcache_obj_put_locked(heap, child);
		}
		if (!(++i & 1023))
			cond_resched();
	}
	while ((obj = list_first_entry_or_null(unreachable, struct refcache_obj, node))) {
		list_del(&obj->node);
		free_batch_add(heap, &b, obj);
	}
	return free_batch_end(heap, &b);
}

/*
 * Can the garbage's references be dropped as it is gathered?  When no
 * cache of the heap has callbacks (no clear to run, none uncollectable:
 * every heap of user space) and gc.garbage is not kept, all of it is
 * freed by delete_garbage_fast(), whatever the gather finds.  The caches
 * are looked at only if they are no more than the @candidates the
 * collection touches anyway, so that a small collection of a heap of
 * many caches does not cost more than before.
 */
static bool gc_plain(struct refcache_heap *heap, u64 candidates)
{
	struct refcache_cache *cache;

	if ((heap->objs.gc.debug & REFCACHE_GC_DEBUG_SAVEALL) || heap->objs.dying ||
	    heap->objs.ncaches > candidates)
		return false;
	list_for_each_entry(cache, &heap->objs.caches, node) {
		if (cache->ops)
			return false;
	}
	return true;
}

/*
 * Garbage forgotten as gather_garbage_fast() passes it, its memory given
 * back after the free pass (refcache_obj_free_dead_locked()): @v holds the
 * blocks, up to @cap of them; garbage beyond that, or all of it if the
 * array could not be had, takes the list.
 */
struct gc_dead {
	void **v;
	unsigned long n, cap;
	struct refcache_obj_forget f;
};

/*
 * Enough for most collections (8 MiB of array); the rest goes through
 * the list.  A variable only so that KUnit can make the two paths meet.
 */
VISIBLE_IF_KUNIT unsigned long refcache_gc_dead_max = BIT(20);
EXPORT_SYMBOL_IF_KUNIT(refcache_gc_dead_max);

/*
 * Drop bucket @b's references from the garbage: none to other garbage,
 * and to anything else a decrement that cannot free it.  The rest (a
 * count at one, a biased count) stay in the bucket, at its front, for
 * edges_put(); a bucket left more than half full of them takes no more.
 */
static __always_inline void edges_drop(struct gc_edges *eb, unsigned int b,
				       struct refcache_gc *gc, u32 garbage)
{
	struct refcache_obj *child;
	unsigned int k, m = 0, n = eb->fill[b];

	for (k = 0; k < n; k++) {
		child = eb->e[b][k];
		if (k + GC_EDGE_AHEAD < n)
			prefetchw(eb->e[b][k + GC_EDGE_AHEAD]);
		if (child->flags & garbage)
			continue;
		if (!obj_is_biased(child) && refcount_dec_not_one(&child->ref)) {
			gc->puts++;
			continue;
		}
		eb->e[b][m++] = child;
	}
	edges_applied(eb, b, m);
	/* Not scanned again for each few pushes: the rest is handled in the gather. */
	if (m > GC_EDGE_DEPTH / 2)
		__set_bit(b, eb->closed);
}

/*
 * gather_unreachable() and the first pass of delete_garbage_nocb() in
 * one, where gc_plain() holds: with the collector's last read of its
 * slots, each garbage object leaves @young, loses its weak handles and
 * drops its references to survivors.  No put may free here: a survivor
 * freed now would leave @young under the walk, before the generations
 * are settled.  So a survivor's count is only taken down if it stays
 * above zero (refcount_dec_not_one()); a slot holding any other
 * survivor (its last reference, or a biased count) is kept, and the
 * object flagged with gc_refs 1 (the garbage's is 0) for
 * delete_garbage_fast() to put it.  A slot holding garbage is emptied
 * without a put: garbage is freed whatever its count.
 *
 * Garbage that keeps nothing is done with here: it is forgotten
 * (refcache_obj_forget_locked()) and its block goes to @dead, so that
 * nothing walks it again; its memory is given back only after the free
 * pass (delete_garbage_fast()), since later garbage still reads its
 * flags.  The rest goes to @unreachable.  Returns how many in all.
 *
 * @garbage is the flag that marks garbage: REFCACHE_OBJ_UNREACHABLE
 * after move_unreachable(), or REFCACHE_OBJ_COLLECTING (every object of
 * the set) when the whole set is garbage and no walk ran.  After a walk
 * that tallied (@tally) but whose garbage references objects outside the
 * set, the survivors are settled here as they are passed.
 */
static __always_inline u64
gather_garbage_fast(struct refcache_heap *heap, struct list_head *young,
		    struct list_head *unreachable, unsigned int target,
		    struct gc_dead *dead, bool ahead, struct gc_edges *eb, u32 garbage,
		    bool tally)
{
	struct refcache_gc *gc = &heap->objs.gc;
	struct refcache_obj *obj, *next, *child;
	unsigned long i = 0;
	unsigned int b;
	u32 j, nslots;
	u64 n = 0, pushed;
	bool keep;

	list_for_each_entry_safe(obj, next, young, node) {
		if (!(++i & 1023))
			cond_resched();
		if (!(obj->flags & garbage)) {
			if (tally)
				obj->flags = (obj->flags & ~GC_SCAN_BITS) | target;
			continue;
		}
		n++;
		if (ahead && !eb)
			prefetch_next_slots(obj, young);
		if (!hlist_empty(&obj->weak))
			refcache_obj_clear_weak_locked(obj);
		keep = false;
		pushed = 0;
		nslots = obj->cache->nslots;
		for (j = 0; j < nslots; j++) {
			child = obj->slots[j];
			if (!child)
				continue;
			/* The reference moves to the buffer, and is dropped there. */
			if (ahead && eb) {
				b = gc_edge_bucket(child);
				if (!test_bit(b, eb->closed)) {
					pushed |= BIT_ULL(j);
					if (edge_push(eb, b, child))
						edges_drop(eb, b, gc, garbage);
					continue;
				}
			}
			if (child->flags & garbage)
				continue;
			if (obj_is_biased(child) || !refcount_dec_not_one(&child->ref)) {
				keep = true;
				continue;
			}
			gc->puts++;
			obj->slots[j] = NULL;
		}
		/*
		 * Forgotten garbage keeps its slots to garbage (nothing reads
		 * them again) and leaves the list without the poison.
		 */
		if (!keep && dead->n < dead->cap &&
		    obj->cache->obj_size <= REFCACHE_SMALL_MAX) {
			__list_del_entry(&obj->node);
			dead->v[dead->n++] = refcache_obj_forget_locked(heap, obj, &dead->f);
			continue;
		}
		/* A slot holding garbage, or given to the buffer, is emptied without a put. */
		for (j = 0; j < nslots; j++) {
			child = obj->slots[j];
			if (child && ((pushed & BIT_ULL(j)) || (child->flags & garbage)))
				obj->slots[j] = NULL;
		}
		obj_set_gen(obj, target);
		list_move_tail(&obj->node, unreachable);
		/* 1: slots to put (gc_refs was 0, or a tally's count). */
		set_gc_refs(obj, keep);
	}
	if (ahead && eb) {
		for (b = 0; b < GC_EDGE_BUCKETS; b++) {
			if (eb->fill[b])
				edges_drop(eb, b, gc, garbage);
			if (!(b & 63))
				cond_resched();
		}
	}
	refcache_obj_forget_end_locked(heap, &dead->f);
	return n;
}

/*
 * Does the tally hold?  Every reference the set holds to objects outside
 * it (@out, counted in the subtraction) is a survivor's (@out_live,
 * counted in the walk): the garbage's references all lead into the set,
 * to garbage or to survivors, whose tally counts them.
 */
static bool gc_tally_holds(u64 out, u64 out_live)
{
	return out == out_live;
}

/*
 * Take the @g references the garbage holds off survivor @obj's count,
 * as @g puts would, but at once and without freeing: true if that would
 * have freed it, which happens only when the references from outside
 * the set that kept it alive through the trial were all dropped since,
 * and nothing else holds it (a survivor reached from a survivor keeps
 * that one's reference).  Its count is then left at one, for the caller
 * to put when a free may run.  No one else then holds it, so no one else
 * writes the count either.  A saturated count stays.
 */
static bool tally_drop(struct refcache_obj *obj, u32 g)
{
	atomic_t *r = &obj->ref.refs;
	int old = atomic_read(r), new;

	do {
		if (unlikely(old < 0))
			return false;
		/* The count holds the garbage's references: never below @g. */
		if (WARN_ON_ONCE(old < g))
			return false;
		new = old > g ? old - g : 1;
	} while (!atomic_try_cmpxchg_release(r, &old, new));
	return old == g;
}

/*
 * The gather of a tally that holds (gc_tally_holds()), in one pass of
 * @young in its order: each survivor is settled, with the references the
 * garbage held to it taken off its count (tally_drop(); one that would
 * have freed it goes to @late, to be put once a free may run), and each
 * piece of garbage leaves @young, loses its weak handles, and is
 * forgotten (to @dead), or, where @dead is full, goes to @unreachable
 * with its slots emptied: without a put, and without a read of them,
 * since all they hold is in the set, garbage (freed whatever its count)
 * or survivors (tallied).  Returns how many pieces of garbage.
 */
static u64 gather_tally(struct refcache_heap *heap, struct list_head *young,
			struct list_head *unreachable, struct list_head *late,
			unsigned int target, struct gc_dead *dead, u32 garbage)
{
	struct refcache_gc *gc = &heap->objs.gc;
	struct refcache_obj *obj, *next;
	unsigned long i = 0;
	u32 refs, g, j;
	u64 n = 0;

	list_for_each_entry_safe(obj, next, young, node) {
		if (!(++i & 1023))
			cond_resched();
		if (!(obj->flags & garbage)) {
			refs = gc_refs(obj);
			g = (refs >> GC_TALLY_SHIFT) - (refs & GC_TALLY_REFS);
			obj->flags = (obj->flags & ~GC_SCAN_BITS) | target;
			if (!g)
				continue;
			/* tally_late() puts the last, and counts it. */
			if (tally_drop(obj, g)) {
				list_move_tail(&obj->node, late);
				g--;
			}
			gc->puts += g;
			continue;
		}
		n++;
		if (!hlist_empty(&obj->weak))
			refcache_obj_clear_weak_locked(obj);
		if (dead->n < dead->cap && obj->cache->obj_size <= REFCACHE_SMALL_MAX) {
			__list_del_entry(&obj->node);
			dead->v[dead->n++] = refcache_obj_forget_locked(heap, obj, &dead->f);
			continue;
		}
		for (j = 0; j < obj->cache->nslots; j++)
			obj->slots[j] = NULL;
		obj_set_gen(obj, target);
		set_gc_refs(obj, 0);
		list_move_tail(&obj->node, unreachable);
	}
	refcache_obj_forget_end_locked(heap, &dead->f);
	edge_stat(REFCACHE_GC_EDGE_TALLIED, 1);
	return n;
}

/*
 * The references the garbage held that edges_drop() could not drop
 * without a free: put now, when a survivor may be freed, as
 * delete_garbage_fast() puts the ones it kept.
 */
static void edges_put(struct refcache_heap *heap, struct gc_edges *eb)
{
	unsigned int b, k;

	if (eb->pending)
		edge_stat(REFCACHE_GC_EDGE_KEPT, eb->pending);
	for (b = 0; b < GC_EDGE_BUCKETS; b++) {
		for (k = 0; k < eb->fill[b]; k++)
			refcache_obj_put_locked(heap, eb->e[b][k]);
		eb->fill[b] = 0;
		cond_resched();
	}
	eb->pending = 0;
}

/*
 * delete_garbage_nocb() after gather_garbage_fast(): the references it
 * kept are put, now that a survivor may be freed, and the garbage is
 * freed in batches straight off @unreachable, which is dropped whole.
 * Returns how many were freed (all).
 */
static u64 delete_garbage_fast(struct refcache_heap *heap, struct list_head *unreachable)
{
	struct refcache_obj *obj, *next, *child;
	struct gc_free_batch b = { .n = 0 };
	u64 freed;
	u32 j;

	list_for_each_entry_safe(obj, next, unreachable, node) {
		for (j = 0; gc_refs(obj) && j < obj->cache->nslots; j++) {
			child = obj->slots[j];
			obj->slots[j] = NULL;
			if (child)
				refcache_obj_put_locked(heap, child);
		}
		free_batch_add(heap, &b, obj);
	}
	freed = free_batch_end(heap, &b);
	INIT_LIST_HEAD(unreachable);
	return freed;
}

/* ---- teardown's trial deletion --------------------------------------- */

/**
 * refcache_gc_external_refs_locked() - references to a heap's objects from outside it
 * @heap: the heap, locked, being torn down: its handles closed, its biased
 *        counts merged
 *
 * Trial deletion over every object of the heap, tracked or not, as a
 * collection does over a generation, and in the same place: gc_refs in
 * the flags word.  The counts themselves are only read, so a holder
 * outside the heap, or another heap's collector, never sees one change.
 * References reported from other heaps' objects are not subtracted, and
 * references to them are ignored (with a warning).
 *
 * Return: the references that are left, held from outside the heap.  An
 * object whose count is zero counts as one: its putter is on its way to
 * the mutex we hold, and must find the heap still there.  Saturated
 * counts are not counted (those objects are leaked on purpose).
 */
u64 refcache_gc_external_refs_locked(struct refcache_heap *heap)
{
	struct refcache_objspace *os = &heap->objs;
	struct gc_scan s = { .heap = heap };
	struct refcache_obj *obj;
	unsigned long n = 0;
	u64 external = 0;
	unsigned int c;
	int i;

	lockdep_assert_held(&os->lock);
	for (i = 0; i < REFCACHE_OBJ_LISTS; i++) {
		list_for_each_entry(obj, refcache_obj_list(os, i), node) {
			c = refcache_ref_read(obj);
			/* A saturated or huge count is never taken down to 0. */
			set_gc_refs(obj, min_t(unsigned int, c, REFCACHE_OBJ_REFS_MAX));
			obj->flags |= REFCACHE_OBJ_COLLECTING;
			if (!c)
				external++;
			if (!(++n & 1023))
				cond_resched();
		}
	}
	/* The collector's own pass, list by list: slots, then traverse callbacks. */
	for (i = 0; i < REFCACHE_OBJ_LISTS; i++)
		subtract_refs(refcache_obj_list(os, i), &s);
	for (i = 0; i < REFCACHE_OBJ_LISTS; i++) {
		list_for_each_entry(obj, refcache_obj_list(os, i), node) {
			if ((int)refcache_ref_read(obj) >= 0)
				external += gc_refs(obj);
			obj->flags &= ~(REFCACHE_OBJ_COLLECTING |
					(REFCACHE_OBJ_REFS_MAX << REFCACHE_OBJ_REFS_SHIFT));
		}
	}
	return external;
}

static void gc_event_queue(struct refcache_gc *gc, const struct refcache_gc_event *ev)
{
	u32 tail;

	if (gc->ev_count == REFCACHE_GC_EVENTS_MAX) {
		/* The oldest goes; the next oldest says how many went before it. */
		u32 lost = gc->events[gc->ev_head].dropped + 1;

		gc->ev_head = (gc->ev_head + 1) % REFCACHE_GC_EVENTS_MAX;
		gc->ev_count--;
		gc->events[gc->ev_head].dropped += lost;
	}
	tail = (gc->ev_head + gc->ev_count) % REFCACHE_GC_EVENTS_MAX;
	gc->events[tail] = *ev;
	WRITE_ONCE(gc->ev_count, gc->ev_count + 1);
	wake_up_interruptible_poll(&gc->wait, EPOLLIN | EPOLLRDNORM);
}

/* KUnit's: what runs at fixed points of a collection, the heap's mutex held. */
VISIBLE_IF_KUNIT struct refcache_gc_test_hooks refcache_gc_test_hooks;
EXPORT_SYMBOL_IF_KUNIT(refcache_gc_test_hooks);

/*
 * The tallied survivors whose last reference the garbage held
 * (tally_drop()): each to its generation's list, then put, which frees
 * it through the release path, now that a free may run.
 */
static void tally_late(struct refcache_heap *heap, struct list_head *late,
		       struct list_head *gen)
{
	struct refcache_obj *obj;

	while ((obj = list_first_entry_or_null(late, struct refcache_obj, node))) {
		list_move_tail(&obj->node, gen);
		edge_stat(REFCACHE_GC_EDGE_LATE, 1);
		refcache_obj_put_locked(heap, obj);
	}
}

/**
 * refcache_gc_collect_locked() - collect generations 0..@generation
 * @heap:       the heap, locked by the caller
 * @generation: the oldest generation to collect, 0..2
 * @reason:     REFCACHE_GC_REASON_*
 * @res:        out: what was found and freed; may be NULL
 *
 * Return: 0, or -EINVAL for a bad generation.
 */
int refcache_gc_collect_locked(struct refcache_heap *heap, unsigned int generation,
			       unsigned int reason, struct refcache_gc_collect *res)
{
	struct refcache_gc *gc = &heap->objs.gc;
	LIST_HEAD(unreachable);
	LIST_HEAD(uncollectable);
	LIST_HEAD(dying);
	LIST_HEAD(alive);
	LIST_HEAD(late);
	struct gc_scan s = { .heap = heap };
	struct subtract_arg sa = { .s = &s, .mask = ~0U };
	struct refcache_gc_event ev = {};
	struct gc_dead dead = {};
	struct refcache_gc_gen_stats *st;
	struct gc_edges *eb;
	struct refcache_obj *obj;
	u64 candidates, nunreach, nuncoll, freed, nfreed, survivors, zeroed, nalive, out_live = 0;
	struct list_head *young;
	unsigned int g, target;
	u32 garbage, stamp, astamp;
	bool callbacks = false, plain, ahead, all_garbage, try_acyclic, acyclic, tally = false;
	ktime_t t0;
	u64 ns;

	lockdep_assert_held(&heap->objs.lock);
	if (generation >= REFCACHE_GC_GENERATIONS)
		return -EINVAL;
	gc->collecting = true;
	trace_gc_start(heap->id, generation, reason);
	t0 = ktime_get();
	/* Exited owners' objects merged; live owners go on counting. */
	refcache_objspace_service_locked(heap);

	/* The younger generations join the one collected (gc_list_merge). */
	young = &gc->gen[generation];
	for (g = 0; g < generation; g++) {
		list_splice_tail_init(&gc->gen[g], young);
		gc->nobjs[generation] += gc->nobjs[g];
		gc->nobjs[g] = 0;
	}

	/*
	 * Every object of the set ends on one of the local lists with its
	 * new generation, before any is freed, so that freeing one (the
	 * garbage, or a survivor whose last reference was held by the
	 * garbage through an untracked object) counts against the right
	 * list: survivors and dying objects move up a generation (the
	 * oldest stays), the garbage is counted there until it is freed.
	 * Survivors get theirs as they are scanned.
	 */
	target = min(generation + 1, REFCACHE_GC_GENERATIONS - 1U);
	ahead = refcache_gc_scattered(young, gc->nobjs[generation]);
	/*
	 * Step 0: what the handles reach is reachable, and leaves the set
	 * before the trial, when reading the handle table costs no more
	 * than a pass over the set: its 16-byte slots are read in order,
	 * four to an object's cache line.  Without it, no gc_refs bits
	 * outside the set equal the stamp, U32_MAX.
	 */
	eb = gc_edges_alloc(ahead, gc->nobjs[generation]);
	nalive = 0;
	stamp = U32_MAX;
	/* Both stamps before step 0: a stamp's wrap clears the lists' bits. */
	astamp = U32_MAX;
	try_acyclic = !heap->objs.bias.nqueued && acyclic_due(gc, generation);
	if (try_acyclic)
		astamp = mark_stamp_next(gc);
	if (heap->objs.nhandles && !heap->objs.bias.nqueued &&
	    heap->objs.htab_size <= 4 * gc->nobjs[generation]) {
		stamp = mark_stamp_next(gc);
		/* Two copies: with the edge buffer, and without (@ahead then prefetches). */
		nalive = eb ? mark_alive(heap, &alive, generation, target, stamp, true, eb) :
			      mark_alive(heap, &alive, generation, target, stamp, ahead, NULL);
	}
	zeroed = 0;
	acyclic = false;
	if (try_acyclic) {
		struct acyclic_arg aa = {
			.heap = heap, .generation = generation, .target = target,
			.mark = stamp, .stamp = astamp, .lo = ULONG_MAX,
		};

		/* The acyclic pass; two copies, as the walk below. */
		acyclic = heap->objs.bias.owners ? acyclic_pass(&aa, young, &dying, true, ahead) :
						   acyclic_pass(&aa, young, &dying, false, ahead);
		candidates = aa.n;
		acyclic_learn(gc, generation, acyclic, aa.n, gc->nobjs[generation] - nalive);
	}
	if (acyclic) {
		trace_gc_phase(heap->id, generation, REFCACHE_GC_PHASE_UPDATE_REFS, candidates);
	} else if (!heap->objs.bias.nqueued) {
		sa.young = young;
		sa.generation = generation;
		sa.stamp = stamp;
		sa.biased_heap = heap->objs.bias.owners;
		/*
		 * Two copies of the walk: one for heaps without a biased
		 * cache.  The owner table comes with a heap's first biased
		 * cache and goes only once its objects are all freed.  Only
		 * those tally, through the edge buffer.
		 */
		if (heap->objs.bias.owners) {
			candidates = ahead ?
				update_subtract_refs(young, &dying, &sa, true, true, eb) :
				update_subtract_refs(young, &dying, &sa, true, false, NULL);
		} else {
			sa.tally = eb && READ_ONCE(refcache_gc_tally) &&
				   gc_plain(heap, gc->nobjs[generation]);
			if (sa.tally)
				sa.mask = GC_TALLY_REFS;
			candidates = ahead ?
				update_subtract_refs(young, &dying, &sa, false, true, eb) :
				update_subtract_refs(young, &dying, &sa, false, false, NULL);
			tally = sa.tally;
		}
		zeroed = sa.zeroed;
		trace_gc_phase(heap->id, generation, REFCACHE_GC_PHASE_UPDATE_REFS, candidates);
	} else {
		candidates = update_refs(young, &dying);
		trace_gc_phase(heap->id, generation, REFCACHE_GC_PHASE_UPDATE_REFS, candidates);
		subtract_refs(young, &s);
	}
	trace_gc_phase(heap->id, generation, REFCACHE_GC_PHASE_SUBTRACT_REFS, candidates);
	/*
	 * The counts were read relaxed; garbage is freed on what they said.
	 * The puts that took them down were releases (refcount_t's, and the
	 * biased puts'): order the frees after those putters' accesses, the
	 * acquire half that refcount_dec_and_test() has at zero.
	 */
	smp_mb();
	/* A tally found every cache without callbacks already. */
	plain = tally || gc_plain(heap, candidates + nalive);
	/*
	 * Every object of the set left with gc_refs zero: none is held from
	 * outside, so none is reachable, and the walk would only mark them
	 * all tentatively unreachable and scan nothing.  The gather takes
	 * them as they are (a pass fewer, for young cycles and teardowns).
	 */
	all_garbage = plain && candidates && zeroed == candidates;
	if (all_garbage)
		nunreach = candidates;
	else if (acyclic)
		nunreach = 0;	/* the acyclic pass found every object reachable */
	else
		nunreach = ahead ? move_unreachable(young, &s, candidates, target, true, eb,
						    tally, &out_live) :
				   move_unreachable(young, &s, candidates, target, false, NULL,
						    false, &out_live);
	if (refcache_gc_test_hooks.walked)
		refcache_gc_test_hooks.walked(heap);
	if (nunreach && plain) {
		/*
		 * Not from the reserves: a collection under memory pressure
		 * runs in reclaim, and the list does without the array.
		 */
		dead.cap = min_t(u64, nunreach, READ_ONCE(refcache_gc_dead_max));
		dead.v = kvmalloc_array(dead.cap, sizeof(*dead.v),
					GFP_KERNEL | __GFP_NOWARN | __GFP_NOMEMALLOC);
		if (!dead.v)
			dead.cap = 0;
		garbage = all_garbage ? REFCACHE_OBJ_COLLECTING : REFCACHE_OBJ_UNREACHABLE;
		if (tally && gc_tally_holds(sa.out, out_live))
			nunreach = gather_tally(heap, young, &unreachable, &late, target, &dead,
						garbage);
		else
			nunreach = ahead ?
				gather_garbage_fast(heap, young, &unreachable, target, &dead,
						    true, eb, garbage, tally) :
				gather_garbage_fast(heap, young, &unreachable, target, &dead,
						    false, NULL, garbage, false);
	} else if (nunreach) {
		nunreach = gather_unreachable(young, &unreachable, &uncollectable, target,
					      &callbacks);
	} else if (tally) {
		/* No garbage: the survivors settled, nothing taken off. */
		gc_settle_list(young, target);
	}
	trace_gc_phase(heap->id, generation, REFCACHE_GC_PHASE_MOVE_UNREACHABLE, nunreach);
	/* The marked objects survive, and count as examined. */
	survivors = candidates - nunreach + nalive;
	candidates += nalive;
	nuncoll = move_uncollectable(&uncollectable);
	trace_gc_phase(heap->id, generation, REFCACHE_GC_PHASE_FINALIZERS, nuncoll);
	nunreach -= nuncoll;
	/* The garbage is counted and put below: its biased counts merged first. */
	if (callbacks)
		refcache_bias_merge_garbage_locked(heap, &unreachable);
	refcache_bias_merge_garbage_locked(heap, &uncollectable);

	gc->nobjs[generation] = 0;
	if (young != &gc->gen[target])
		list_splice_tail_init(young, &gc->gen[target]);
	list_splice_tail_init(&alive, &gc->gen[target]);
	gc->nobjs[target] += survivors;
	gc_merge_into(gc, &dying, list_count_nodes(&dying), target);
	/*
	 * The uncollectable objects are held like the garbage while it is
	 * broken up: breaking it may free some of them after all (garbage
	 * that held their last reference), and those count as collected.
	 */
	list_for_each_entry(obj, &uncollectable, node) {
		obj_set_gen(obj, target);
		refcache_ref_get(obj);
	}
	/* Forgotten garbage is counted nowhere: it is as good as freed. */
	gc->nobjs[target] += nunreach - dead.n + nuncoll;

	if ((gc->debug & REFCACHE_GC_DEBUG_SAVEALL) &&
	    refcache_gc_save_garbage_locked(heap, &unreachable, nunreach, &uncollectable,
					    nuncoll, target)) {
		freed = nunreach;	/* in gc.garbage: collected, as CPython counts */
	} else if (plain) {
		tally_late(heap, &late, &gc->gen[target]);
		if (eb)
			edges_put(heap, eb);
		freed = delete_garbage_fast(heap, &unreachable);
		refcache_obj_free_dead_locked(heap, dead.v, dead.n);
		freed += dead.n;
		kvfree(dead.v);
	} else {
		freed = callbacks ? delete_garbage(heap, &unreachable) :
				    delete_garbage_nocb(heap, &unreachable);
	}
	gc_edges_free(eb);
	nfreed = settle(heap, &uncollectable);
	trace_gc_phase(heap->id, generation, REFCACHE_GC_PHASE_DELETE_GARBAGE, freed + nfreed);
	/* Left alive: garbage a clear callback kept, and the uncollectable set. */
	nuncoll = (nunreach - freed) + (nuncoll - nfreed);
	freed += nfreed;

	/* CPython's bookkeeping after a collection. */
	if (generation + 1 < REFCACHE_GC_GENERATIONS)
		gc->count[generation + 1]++;
	for (g = 0; g <= generation; g++)
		gc->count[g] = 0;
	if (generation == REFCACHE_GC_GENERATIONS - 2)
		gc->long_lived_pending += survivors;
	if (generation == REFCACHE_GC_GENERATIONS - 1) {
		gc->long_lived_pending = 0;
		gc->long_lived_total = gc->nobjs[generation];
	}

	ns = ktime_to_ns(ktime_sub(ktime_get(), t0));
	st = &gc->stats[generation];
	st->collections++;
	st->collected += freed;
	st->uncollectable += nuncoll;
	st->candidates += candidates;
	st->pause_total_ns += ns;
	st->pause_max_ns = max(st->pause_max_ns, ns);

	ev.size = sizeof(ev);
	ev.generation = generation;
	ev.reason = reason;
	ev.seq = ++gc->seq;
	ev.candidates = candidates;
	ev.collected = freed;
	ev.uncollectable = nuncoll;
	ev.duration_ns = ns;
	gc_event_queue(gc, &ev);
	trace_gc_end(heap->id, generation, reason, candidates, freed, nuncoll, ns);
	if (unlikely(gc->debug))
		refcache_gc_debug_log(heap, generation, candidates, freed, nuncoll, ns);

	if (res) {
		res->unreachable = freed + nuncoll;
		res->collected = freed;
		res->uncollectable = nuncoll;
	}
	gc->collecting = false;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(refcache_gc_collect_locked);

/**
 * refcache_gc_collect_auto() - an automatic collection
 * @heap: the heap, not locked; heap.c's work item calls this
 *
 * CPython's gc_collect_generations(): the oldest generation that is due.
 */
void refcache_gc_collect_auto(struct refcache_heap *heap)
{
	struct refcache_objspace *os = &heap->objs;
	struct refcache_gc *gc = &os->gc;
	int i;

	refcache_objspace_lock(heap);
	if (!gc->shutdown && !os->dying && gc->enabled && gc->threshold[0]) {
		for (i = REFCACHE_GC_GENERATIONS - 1; i >= 0; i--) {
			if (gc->count[i] <= gc->threshold[i])
				continue;
			/* The 25% rule: full collections only for enough new long-lived objects. */
			if (i == REFCACHE_GC_GENERATIONS - 1 &&
			    gc->long_lived_pending < gc->long_lived_total / 4)
				continue;
			refcache_gc_collect_locked(heap, i, REFCACHE_GC_REASON_AUTO, NULL);
			break;
		}
	}
	refcache_heap_unlock(heap);
}

/* ---- collections for memory: under pressure, before a quota error ---- */

/* Objects a full collection would examine: generations 0..2. */
static u64 gc_tracked(const struct refcache_gc *gc)
{
	u64 n = 0;
	int g;

	for (g = 0; g < REFCACHE_GC_GENERATIONS; g++)
		n += READ_ONCE(gc->nobjs[g]);
	return n;
}

/*
 * Could a collection for memory find garbage the last one did not?  Not
 * if since then no collection ran (@seq), no reference was dropped under
 * the mutex (@puts: closes, stores, the release of an object) and no
 * object entered or left generations 0..2 (allocations, unfreeze).  In a
 * heap of /dev/refcache every count changes under the mutex, so that is
 * exact; in-kernel holders may put without it, so a kernel heap is looked
 * at again once a second whatever the counters say.  Read without the
 * mutex by the shrinker's count: a snapshot is all it needs.
 */
static bool gc_mem_clean(const struct refcache_heap *heap)
{
	const struct refcache_gc *gc = &heap->objs.gc;

	if (!READ_ONCE(gc->mem_seq) || READ_ONCE(gc->mem_seq) != READ_ONCE(gc->seq) ||
	    READ_ONCE(gc->mem_puts) != READ_ONCE(gc->puts) ||
	    READ_ONCE(gc->mem_tracked) != gc_tracked(gc))
		return false;
	return heap->objs.bias.chardev ||
	       time_before(jiffies, READ_ONCE(gc->mem_jiffies) + HZ);
}

/* May a collection for memory run?  As CPython would: not after gc.disable(). */
static bool gc_mem_allowed(const struct refcache_heap *heap)
{
	const struct refcache_gc *gc = &heap->objs.gc;

	return READ_ONCE(gc->enabled) && READ_ONCE(gc->threshold[0]) &&
	       !READ_ONCE(gc->shutdown) && !READ_ONCE(heap->objs.dying);
}

/*
 * One full collection of a locked heap for memory, unless it may not
 * run, a collection or a release loop is running further up this call
 * chain, or it could find nothing new (gc_mem_clean()).  Returns the
 * objects it freed, *@candidates those it examined; -1 if it did not run.
 */
static s64 gc_collect_mem_locked(struct refcache_heap *heap, unsigned int reason,
				 u64 *candidates)
{
	struct refcache_gc *gc = &heap->objs.gc;
	struct refcache_gc_collect r = {};
	unsigned int g = REFCACHE_GC_GENERATIONS - 1;
	u64 before = gc->stats[g].candidates;

	lockdep_assert_held(&heap->objs.lock);
	if (!gc_mem_allowed(heap) || gc->collecting || heap->objs.releasing ||
	    gc_mem_clean(heap))
		return -1;
	refcache_gc_collect_locked(heap, g, reason, &r);
	if (candidates)
		*candidates = gc->stats[g].candidates - before;
	if (reason == REFCACHE_GC_REASON_PRESSURE)
		gc->pressure++;
	else
		gc->quota++;
	WRITE_ONCE(gc->mem_seq, gc->seq);
	WRITE_ONCE(gc->mem_puts, gc->puts);
	WRITE_ONCE(gc->mem_tracked, gc_tracked(gc));
	WRITE_ONCE(gc->mem_jiffies, jiffies);
	return r.collected;
}

/**
 * refcache_gc_collect_quota_locked() - collect before a quota error
 * @heap: the heap, locked by a caller that may sleep
 *
 * An allocation of @heap failed its heap's or its user's budget, or the
 * module's: one full collection (reason REFCACHE_GC_REASON_QUOTA) may
 * free enough for it.  Never from inside a collection or a release, and
 * not again while nothing changed since the last one, so a caller that
 * retries once cannot loop.
 *
 * Return: true if the collection freed something, so a retry may succeed.
 */
bool refcache_gc_collect_quota_locked(struct refcache_heap *heap)
{
	return gc_collect_mem_locked(heap, REFCACHE_GC_REASON_QUOTA, NULL) > 0;
}

/**
 * refcache_gc_mem_candidates() - what a collection for memory would examine
 * @heap: the heap, locked or not (a snapshot is all heap.c's shrinker needs)
 *
 * Return: -1 if no collection for memory may run, or none could find
 * anything new (gc_mem_clean()); else the objects of generations 0..2.
 */
s64 refcache_gc_mem_candidates(const struct refcache_heap *heap)
{
	if (!gc_mem_allowed(heap) || gc_mem_clean(heap))
		return -1;
	return gc_tracked(&heap->objs.gc);
}

/**
 * refcache_gc_collect_pressure_locked() - collect under memory pressure
 * @heap:       the heap, locked (heap.c's shrinker)
 * @candidates: out: the objects examined
 *
 * Return: the objects freed; -1 if the collection did not run.
 */
s64 refcache_gc_collect_pressure_locked(struct refcache_heap *heap, u64 *candidates)
{
	return gc_collect_mem_locked(heap, REFCACHE_GC_REASON_PRESSURE, candidates);
}

/* ---- events on the heap's file -------------------------------------- */

bool refcache_gc_events_ready(struct refcache_heap *heap)
{
	return READ_ONCE(heap->objs.gc.ev_count);
}

/*
 * read(2) on a heap's file: whole event records, oldest first.  They are
 * copied out before they are consumed, so a fault loses none.
 */
int refcache_gc_events_read(struct refcache_heap *heap, char __user *buf, size_t len,
			    bool nonblock)
{
	struct refcache_gc *gc = &heap->objs.gc;
	struct refcache_gc_event *kbuf;
	u32 n = min_t(size_t, len / sizeof(*kbuf), REFCACHE_GC_EVENTS_MAX);
	u32 i, got;
	u64 last;
	int ret;

	if (!n)
		return -EINVAL;
	kbuf = kmalloc_array(n, sizeof(*kbuf), GFP_KERNEL);
	if (!kbuf)
		return -ENOMEM;
	for (;;) {
		refcache_objspace_lock(heap);
		got = min(n, gc->ev_count);
		for (i = 0; i < got; i++)
			kbuf[i] = gc->events[(gc->ev_head + i) % REFCACHE_GC_EVENTS_MAX];
		refcache_heap_unlock(heap);
		if (got)
			break;
		ret = -EAGAIN;
		if (nonblock)
			goto out;
		ret = wait_event_interruptible(gc->wait, READ_ONCE(gc->ev_count));
		if (ret)
			goto out;
	}
	ret = -EFAULT;
	if (copy_to_user(buf, kbuf, got * sizeof(*kbuf)))
		goto out;
	/* Consume what was copied, unless another reader took it already. */
	last = kbuf[got - 1].seq;
	refcache_objspace_lock(heap);
	while (gc->ev_count && gc->events[gc->ev_head].seq <= last) {
		gc->ev_head = (gc->ev_head + 1) % REFCACHE_GC_EVENTS_MAX;
		WRITE_ONCE(gc->ev_count, gc->ev_count - 1);
	}
	refcache_heap_unlock(heap);
	ret = got * sizeof(*kbuf);
out:
	kfree(kbuf);
	return ret;
}

/* ---- in-kernel API ---------------------------------------------------- */

/**
 * refcache_gc_collect() - collect a heap's generations 0..@generation
 * @heap:       the heap
 * @generation: 0, 1 or 2 (a full collection)
 * @res:        out: unreachable objects found, freed, and not freeable;
 *              may be NULL
 *
 * Runs in the caller, whether or not automatic collection is enabled.
 *
 * Context: process context; takes the heap's mutex.
 * Return: 0, or -EINVAL for a bad generation.
 */
int refcache_gc_collect(struct refcache_heap *heap, unsigned int generation,
			struct refcache_gc_result *res)
{
	struct refcache_gc_collect r = {};
	int ret;

	refcache_objspace_lock(heap);
	ret = refcache_gc_collect_locked(heap, generation, REFCACHE_GC_REASON_EXPLICIT, &r);
	refcache_heap_unlock(heap);
	if (res) {
		res->unreachable = r.unreachable;
		res->collected = r.collected;
		res->uncollectable = r.uncollectable;
	}
	return ret;
}
EXPORT_SYMBOL_NS_GPL(refcache_gc_collect, REFCACHE_NS);

/**
 * refcache_gc_enable() - turn automatic collection on or off
 * @heap: the heap
 * @on:   gc.enable() or gc.disable()
 *
 * Context: process context; takes the heap's mutex.
 */
void refcache_gc_enable(struct refcache_heap *heap, bool on)
{
	refcache_objspace_lock(heap);
	heap->objs.gc.enabled = on;
	refcache_heap_unlock(heap);
}
EXPORT_SYMBOL_NS_GPL(refcache_gc_enable, REFCACHE_NS);

/**
 * refcache_gc_isenabled() - is automatic collection on?
 * @heap: the heap
 *
 * Context: any context; a lockless snapshot.
 * Return: gc.isenabled().
 */
bool refcache_gc_isenabled(struct refcache_heap *heap)
{
	return READ_ONCE(heap->objs.gc.enabled);
}
EXPORT_SYMBOL_NS_GPL(refcache_gc_isenabled, REFCACHE_NS);

/**
 * refcache_gc_set_threshold() - gc.set_threshold()
 * @heap: the heap
 * @t0:   generation 0 threshold; 0 disables automatic collection
 * @t1:   generation 1 threshold
 * @t2:   generation 2 threshold
 *
 * Context: process context; takes the heap's mutex.
 */
void refcache_gc_set_threshold(struct refcache_heap *heap, u32 t0, u32 t1, u32 t2)
{
	struct refcache_gc *gc = &heap->objs.gc;

	refcache_objspace_lock(heap);
	gc->threshold[0] = t0;
	gc->threshold[1] = t1;
	gc->threshold[2] = t2;
	refcache_heap_unlock(heap);
}
EXPORT_SYMBOL_NS_GPL(refcache_gc_set_threshold, REFCACHE_NS);

/**
 * refcache_gc_get_threshold() - gc.get_threshold()
 * @heap: the heap
 * @t:    out: the three thresholds
 *
 * Context: process context; takes the heap's mutex.
 */
void refcache_gc_get_threshold(struct refcache_heap *heap, u32 t[REFCACHE_GC_GENERATIONS])
{
	refcache_objspace_lock(heap);
	memcpy(t, heap->objs.gc.threshold, sizeof(heap->objs.gc.threshold));
	refcache_heap_unlock(heap);
}
EXPORT_SYMBOL_NS_GPL(refcache_gc_get_threshold, REFCACHE_NS);

/**
 * refcache_gc_get_count() - gc.get_count()
 * @heap: the heap
 * @c:    out: the three generation counts
 *
 * Context: process context; takes the heap's mutex.
 */
void refcache_gc_get_count(struct refcache_heap *heap, u64 c[REFCACHE_GC_GENERATIONS])
{
	refcache_objspace_lock(heap);
	memcpy(c, heap->objs.gc.count, sizeof(heap->objs.gc.count));
	refcache_heap_unlock(heap);
}
EXPORT_SYMBOL_NS_GPL(refcache_gc_get_count, REFCACHE_NS);

/**
 * refcache_gc_freeze_locked() - gc.freeze() or gc.unfreeze(), heap locked
 * @heap:     the heap
 * @unfreeze: move the permanent generation back into generation 2
 *
 * Return: objects moved.
 */
u64 refcache_gc_freeze_locked(struct refcache_heap *heap, bool unfreeze)
{
	struct refcache_gc *gc = &heap->objs.gc;
	u64 n, moved = 0;
	int g;

	lockdep_assert_held(&heap->objs.lock);
	/* Queued biased objects are off their lists: they follow when drained. */
	refcache_bias_freeze_queued_locked(heap, unfreeze);
	if (unfreeze) {
		moved = gc->nobjs[REFCACHE_GC_PERMANENT];
		gc->nobjs[REFCACHE_GC_PERMANENT] = 0;
		gc_merge_into(gc, &gc->gen[REFCACHE_GC_PERMANENT], moved,
			      REFCACHE_GC_GENERATIONS - 1);
	} else {
		for (g = 0; g < REFCACHE_GC_GENERATIONS; g++) {
			n = gc->nobjs[g];
			gc->nobjs[g] = 0;
			gc_merge_into(gc, &gc->gen[g], n, REFCACHE_GC_PERMANENT);
			moved += n;
		}
		/* As CPython's _PyGC_Freeze(): every generation's count. */
		memset(gc->count, 0, sizeof(gc->count));
	}
	return moved;
}

/**
 * refcache_gc_freeze() - gc.freeze(): move every tracked object into the
 *                        permanent generation, which is never collected
 * @heap: the heap
 *
 * Context: process context; takes the heap's mutex.
 * Return: objects moved.
 */
u64 refcache_gc_freeze(struct refcache_heap *heap)
{
	u64 n;

	refcache_objspace_lock(heap);
	n = refcache_gc_freeze_locked(heap, false);
	refcache_heap_unlock(heap);
	return n;
}
EXPORT_SYMBOL_NS_GPL(refcache_gc_freeze, REFCACHE_NS);

/**
 * refcache_gc_unfreeze() - gc.unfreeze(): the permanent generation goes
 *                          back into the oldest one
 * @heap: the heap
 *
 * Context: process context; takes the heap's mutex.
 * Return: objects moved.
 */
u64 refcache_gc_unfreeze(struct refcache_heap *heap)
{
	u64 n;

	refcache_objspace_lock(heap);
	n = refcache_gc_freeze_locked(heap, true);
	refcache_heap_unlock(heap);
	return n;
}
EXPORT_SYMBOL_NS_GPL(refcache_gc_unfreeze, REFCACHE_NS);

/**
 * refcache_gc_get_freeze_count() - gc.get_freeze_count()
 * @heap: the heap
 *
 * Context: any context; a lockless snapshot.
 * Return: objects in the permanent generation.
 */
u64 refcache_gc_get_freeze_count(struct refcache_heap *heap)
{
	return READ_ONCE(heap->objs.gc.nobjs[REFCACHE_GC_PERMANENT]);
}
EXPORT_SYMBOL_NS_GPL(refcache_gc_get_freeze_count, REFCACHE_NS);

/**
 * refcache_gc_get_stats() - gc.get_stats()
 * @heap: the heap
 * @st:   out: an array of REFCACHE_GC_GENERATIONS, per generation
 *
 * Context: process context; takes the heap's mutex.
 */
void refcache_gc_get_stats(struct refcache_heap *heap, struct refcache_gc_gen_stats *st)
{
	refcache_objspace_lock(heap);
	memcpy(st, heap->objs.gc.stats, sizeof(heap->objs.gc.stats));
	refcache_heap_unlock(heap);
}
EXPORT_SYMBOL_NS_GPL(refcache_gc_get_stats, REFCACHE_NS);

/**
 * refcache_gc_collections() - collections of one generation so far
 * @heap: the heap
 * @gen:  0..2
 *
 * Context: any context; a lockless snapshot.
 * Return: the count, 0 for a bad generation.
 */
u64 refcache_gc_collections(struct refcache_heap *heap, unsigned int gen)
{
	if (gen >= REFCACHE_GC_GENERATIONS)
		return 0;
	return READ_ONCE(heap->objs.gc.stats[gen].collections);
}
EXPORT_SYMBOL_NS_GPL(refcache_gc_collections, REFCACHE_NS);

/**
 * refcache_gc_flush() - wait for a queued or running automatic collection
 * @heap: the heap
 *
 * Context: process context, sleeps; not with the heap's mutex held.
 */
void refcache_gc_flush(struct refcache_heap *heap)
{
	flush_work(&heap->objs.gc.work);
}
EXPORT_SYMBOL_NS_GPL(refcache_gc_flush, REFCACHE_NS);

/**
 * refcache_obj_is_tracked() - gc.is_tracked()
 * @obj: an object
 *
 * Context: any context; never sleeps.
 * Return: true if its cache is tracked by the collector.
 */
bool refcache_obj_is_tracked(const struct refcache_obj *obj)
{
	return obj_tracked(obj);
}
EXPORT_SYMBOL_NS_GPL(refcache_obj_is_tracked, REFCACHE_NS);

/**
 * refcache_obj_generation() - the generation an object is in
 * @obj: an object, with the heap's mutex held or a reference
 *
 * Context: any context; a snapshot unless the heap's mutex is held.
 * Return: 0..2, 3 for the permanent generation, -1 for an untracked one.
 */
int refcache_obj_generation(const struct refcache_obj *obj)
{
	return obj_tracked(obj) ? (int)obj_gen(obj) : -1;
}
EXPORT_SYMBOL_NS_GPL(refcache_obj_generation, REFCACHE_NS);
