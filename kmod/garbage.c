// SPDX-License-Identifier: GPL-2.0
/*
 * CPython's gc.garbage and gc.set_debug()'s log, and letting go of what
 * a heap's inspection holds.  The collector calls these, so they sit in
 * its band of Documentation/design.rst and use only the bands below;
 * inspect.c, on top, pages gc.garbage out as handles and makes the
 * snapshots freed here.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/slab.h>

#include "refcount.h"

/* ---- gc.garbage and gc.set_debug() ----------------------------------- */

/**
 * refcache_gc_garbage_clear_locked() - del gc.garbage[:]
 * @heap: the heap, locked
 *
 * Drops gc.garbage's references, which may free its objects.
 *
 * Context: the heap's mutex held; may sleep.
 * Return: objects dropped from gc.garbage.
 */
u64 refcache_gc_garbage_clear_locked(struct refcache_heap *heap)
{
	struct refcache_gc *gc = &heap->objs.gc;
	struct refcache_obj **v = gc->garbage;
	u64 i, n = gc->ngarbage, cap = gc->garbage_cap;

	lockdep_assert_held(&heap->objs.lock);
	gc->garbage = NULL;
	gc->ngarbage = 0;
	gc->garbage_cap = 0;
	for (i = 0; i < n; i++) {
		refcache_obj_put_locked(heap, v[i]);
		if (!(i & 1023))
			cond_resched();
	}
	kvfree(v);
	refcache_uncharge(heap, cap * sizeof(*v));
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(refcache_gc_garbage_clear_locked);

/* Room for @more entries in gc.garbage, charged to the heap. */
static bool garbage_reserve(struct refcache_heap *heap, u64 more)
{
	struct refcache_gc *gc = &heap->objs.gc;
	struct refcache_obj **v;
	u64 cap = gc->garbage_cap;

	if (gc->ngarbage + more <= cap)
		return true;
	cap = max3(cap * 2, gc->ngarbage + more, 64ULL);
	if (cap > INT_MAX / sizeof(*v))
		return false;
	if (refcache_charge(heap, (cap - gc->garbage_cap) * sizeof(*v)))
		return false;
	v = kvmalloc_array(cap, sizeof(*v), GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!v) {
		refcache_uncharge(heap, (cap - gc->garbage_cap) * sizeof(*v));
		return false;
	}
	if (gc->ngarbage)
		memcpy(v, gc->garbage, gc->ngarbage * sizeof(*v));
	kvfree(gc->garbage);
	gc->garbage = v;
	gc->garbage_cap = cap;
	return true;
}

/*
 * The collector's flag bits and gc_refs (gc.h): what a survivor must
 * not keep.  REFCACHE_OBJ_CLEARED and BIASED stay.
 */
#define SAVE_CLEAR_BITS	(REFCACHE_OBJ_GEN_MASK | REFCACHE_OBJ_COLLECTING | \
			 REFCACHE_OBJ_UNREACHABLE | \
			 (REFCACHE_OBJ_REFS_MAX << REFCACHE_OBJ_REFS_SHIFT))

/**
 * refcache_gc_save_garbage_locked() - DEBUG_SAVEALL: keep the garbage
 * @heap:          the heap, locked, in a collection
 * @unreachable:   the garbage the collection would free; emptied into
 *                 generation @target, where it is already counted
 * @nunreach:      objects on @unreachable
 * @uncollectable: the unreachable objects it cannot free; they stay
 *                 where they are, with a reference more each
 * @nuncoll:       objects on @uncollectable
 * @target:        the generation survivors go to
 *
 * As CPython does with DEBUG_SAVEALL, weak handles to the garbage are
 * cleared, and every unreachable object goes to gc.garbage instead of
 * being freed.
 *
 * Context: the heap's mutex held, inside refcache_gc_collect_locked().
 * Return: false, changing nothing, when gc.garbage cannot grow.
 */
bool refcache_gc_save_garbage_locked(struct refcache_heap *heap, struct list_head *unreachable,
				     u64 nunreach, struct list_head *uncollectable, u64 nuncoll,
				     unsigned int target)
{
	struct refcache_gc *gc = &heap->objs.gc;
	struct refcache_obj *obj;

	lockdep_assert_held(&heap->objs.lock);
	if (!garbage_reserve(heap, nunreach + nuncoll))
		return false;
	list_for_each_entry(obj, unreachable, node) {
		obj->flags = (obj->flags & ~SAVE_CLEAR_BITS) | target;
		refcache_obj_clear_weak_locked(obj);
		refcache_ref_get(obj);
		gc->garbage[gc->ngarbage++] = obj;
	}
	list_splice_tail_init(unreachable, &gc->gen[target]);
	list_for_each_entry(obj, uncollectable, node) {
		refcache_ref_get(obj);
		gc->garbage[gc->ngarbage++] = obj;
	}
	return true;
}

/**
 * refcache_gc_debug_log() - DEBUG_STATS, _COLLECTABLE, _UNCOLLECTABLE
 * @heap:          the heap
 * @generation:    the generation collected
 * @candidates:    objects examined
 * @collected:     collectable objects found
 * @uncollectable: uncollectable objects found
 * @ns:            the pause
 *
 * CPython prints to stderr; the kernel log is shared, so this is rate
 * limited, and names only the heap's id.
 */
void refcache_gc_debug_log(struct refcache_heap *heap, unsigned int generation,
			   u64 candidates, u64 collected, u64 uncollectable, u64 ns)
{
	u32 debug = heap->objs.gc.debug;

	if (debug & REFCACHE_GC_DEBUG_STATS)
		pr_info_ratelimited("gc: heap %llu: collecting generation %u: %llu objects examined, done in %llu ns\n",
				    heap->id, generation, candidates, ns);
	if ((debug & REFCACHE_GC_DEBUG_COLLECTABLE) && collected)
		pr_info_ratelimited("gc: heap %llu: %llu collectable objects%s\n", heap->id,
				    collected, debug & REFCACHE_GC_DEBUG_SAVEALL ?
				    ", saved in gc.garbage" : "");
	if ((debug & REFCACHE_GC_DEBUG_UNCOLLECTABLE) && uncollectable)
		pr_info_ratelimited("gc: heap %llu: %llu uncollectable objects\n", heap->id,
				    uncollectable);
}

/**
 * refcache_gc_inspect_release_locked() - the heap is going away
 * @heap: the heap, locked, no collection to come
 *
 * gc.garbage lets go of its objects (before teardown counts who holds
 * them) and the dump snapshot is freed.
 */
void refcache_gc_inspect_release_locked(struct refcache_heap *heap)
{
	struct refcache_dump *dump = heap->objs.gc.dump;

	refcache_gc_garbage_clear_locked(heap);
	heap->objs.gc.dump = NULL;
	refcache_heap_dump_free(heap, dump);
}

/**
 * refcache_heap_dump_free() - free a snapshot
 * @heap: its heap
 * @dump: the snapshot, or NULL
 */
void refcache_heap_dump_free(struct refcache_heap *heap, struct refcache_dump *dump)
{
	if (!dump)
		return;
	refcache_uncharge(heap, dump->bytes);
	kvfree(dump);
}
