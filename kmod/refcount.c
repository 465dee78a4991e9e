// SPDX-License-Identifier: GPL-2.0
/*
 * The out-of-line half of refcount.h, at the bottom of the layers
 * (Documentation/design.rst) with it: the owner ids that the inline
 * paths compare with current, the warnings, and the merges, which fold
 * a biased object's two counts into one.  Owners' tables and queues,
 * and when to merge, are biased.c's.  The protocol and its
 * memory-ordering argument: Documentation/objects.rst, "Biased
 * reference counting".
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/spinlock.h>

#include "refcount.h"
#include "trace.h"

/*
 * Owner ids, for the whole module: an object names its owner by id in
 * its header's count word, and refcache_obj_get() and _put() compare
 * refcache_bias_tasks[id] with current, one load from the object's line
 * and one from this table.  An id is taken when a heap registers an
 * owner and given back when that heap releases it, after every object
 * naming it was merged (its id cleared); the heap pins the task
 * meanwhile, so an id never names a dead task's successor.  Entry 0 is
 * never used: NULL, which no current equals.
 */
struct task_struct *refcache_bias_tasks[REFCACHE_BIAS_IDS] __read_mostly;
EXPORT_SYMBOL_NS_GPL(refcache_bias_tasks, REFCACHE_NS);

/*
 * Each id's entry in its heap's owner table.  An id is free while its
 * task is NULL; both written under bias_ids_lock, read by the owner
 * itself or under its heap's mutex, which saw them written.
 */
struct refcache_bias_owner *refcache_bias_recs[REFCACHE_BIAS_IDS];
static DEFINE_SPINLOCK(bias_ids_lock);
static u32 bias_id_next = 1;	/* next fit: an id freed is not reused at once */

/* An id for @o's task, or 0 when all are taken. */
u32 refcache_bias_id_get(struct refcache_bias_owner *o)
{
	u32 i, id = 0;

	spin_lock(&bias_ids_lock);
	for (i = 0; i < REFCACHE_BIAS_IDS - 1; i++) {
		id = (bias_id_next + i - 1) % (REFCACHE_BIAS_IDS - 1) + 1;
		if (!refcache_bias_tasks[id])
			break;
	}
	if (i < REFCACHE_BIAS_IDS - 1) {
		refcache_bias_recs[id] = o;
		WRITE_ONCE(refcache_bias_tasks[id], o->task);
		bias_id_next = id % (REFCACHE_BIAS_IDS - 1) + 1;
	} else {
		id = 0;
	}
	spin_unlock(&bias_ids_lock);
	return id;
}

/* No object names @id any more. */
void refcache_bias_id_put(u32 id)
{
	spin_lock(&bias_ids_lock);
	WRITE_ONCE(refcache_bias_tasks[id], NULL);
	refcache_bias_recs[id] = NULL;
	spin_unlock(&bias_ids_lock);
}

/**
 * refcache_bias_warn() - a shared count went wrong: warn and saturate
 * @obj:  the object, leaked from now on
 * @kind: what went wrong
 *
 * Once per kind, as refcount_warn_saturate() does: a saturation must
 * not silence a later use-after-free.
 */
void refcache_bias_warn(struct refcache_obj *obj, enum refcache_bias_warning kind)
{
	atomic_set(&obj_bias(obj)->shared, REFCACHE_BIAS_SATURATED);
	switch (kind) {
	case REFCACHE_BIAS_WARN_SATURATED:
		WARN_ONCE(1, "refcache: biased refcount saturated; leaking memory\n");
		break;
	case REFCACHE_BIAS_WARN_UNDERFLOW:
		WARN_ONCE(1, "refcache: biased refcount underflow; use-after-free\n");
		break;
	case REFCACHE_BIAS_WARN_ADD_ZERO:
		WARN_ONCE(1, "refcache: biased refcount addition on 0; use-after-free\n");
		break;
	}
}
EXPORT_SYMBOL_IF_KUNIT(refcache_bias_warn);

/* The shared count of a merged object holding @c references. */
static int bias_merged_raw(struct refcache_obj *obj, long c)
{
	if (c < 0) {
		WARN_ONCE(1, "refcache: biased refcount underflow; use-after-free\n");
		return REFCACHE_BIAS_SATURATED;
	}
	if (c >= (1 << 28)) {
		WARN_ONCE(1, "refcache: biased refcount saturated; leaking memory\n");
		return REFCACHE_BIAS_SATURATED;
	}
	return (int)(c << REFCACHE_BIAS_SHIFT) | REFCACHE_BIAS_MERGED;
}

/*
 * The object leaves its owner: one unmerged object fewer to find at its
 * exit, and from now on every task counts it in shared.
 */
static void bias_disown(struct refcache_obj *obj)
{
	u32 id = READ_ONCE(obj->bias_owner);

	if (!id)
		return;
	atomic_long_dec(&refcache_bias_recs[id]->owned);
	WRITE_ONCE(obj->bias_owner, 0);
}

/**
 * refcache_bias_disown_run() - objects left their owner unmerged, all at once
 * @id: their owner's id, not 0
 * @n:  how many
 *
 * The collector forgets garbage without merging it: @n objects of owner
 * @id fewer to find at its exit.  Once per run of one owner's objects.
 */
void refcache_bias_disown_run(u32 id, long n)
{
	atomic_long_sub(n, &refcache_bias_recs[id]->owned);
}

/**
 * refcache_bias_merge_zero() - the owner drops its last local reference
 * @obj: the object; called by its owner, whose local count is still 1
 *
 * CPython's _Py_MergeZeroLocalRefcount(), except that it always goes
 * through the compare-and-exchange, so that "merged and zero" is visible
 * before anyone frees the object, and that it never stores a zero local
 * count first: until the compare-and-exchange the owner's reference is
 * still counted, and after it the owner touches the object no more
 * (local stays 1, which nobody reads in a merged object).  So whoever
 * reads both counts sees the owner's reference or the merged count,
 * never an object that looks dead while its owner is still in it.
 *
 * Return: true if the object is dead (the caller frees it).
 */
bool refcache_bias_merge_zero(struct refcache_obj *obj)
{
	struct refcache_bias_counts *c = obj_bias(obj);
	long local = READ_ONCE(c->local);
	int raw = atomic_read(&c->shared), new;

	bias_disown(obj);
	do {
		if (refcache_bias_saturated(raw))
			return false;
		new = bias_merged_raw(obj, refcache_bias_count(raw) + local - 1);
	} while (!atomic_try_cmpxchg(&c->shared, &raw, new));
	return new == REFCACHE_BIAS_MERGED;
}

/**
 * refcache_bias_merge_locked() - fold the local count into the shared one
 * @heap:  the heap, locked, with the object's local count still: the
 *         caller is the owner, the owner has exited, the heap is one of
 *         /dev/refcache, or the object is garbage (no reference to it
 *         from outside, so its owner cannot be counting it)
 * @obj:   a biased object
 * @extra: added to the merged count: -1 drops a queue's reference
 *
 * CPython's _Py_ExplicitMergeRefcount().
 *
 * Return: true if the merged count is zero: the caller frees the object.
 */
bool refcache_bias_merge_locked(struct refcache_heap *heap, struct refcache_obj *obj,
				int extra)
{
	struct refcache_bias_counts *b = obj_bias(obj);
	int raw = atomic_read(&b->shared), new;
	long c;

	lockdep_assert_held(&heap->objs.lock);
	bias_disown(obj);
	trace_bias_merge(heap->id, obj->cache->id);
	do {
		if (refcache_bias_saturated(raw)) {
			new = raw;
			break;
		}
		c = refcache_bias_count(raw) + extra;
		if ((raw & REFCACHE_BIAS_STATE) != REFCACHE_BIAS_MERGED)
			c += READ_ONCE(b->local);
		new = bias_merged_raw(obj, c);
	} while (!atomic_try_cmpxchg(&b->shared, &raw, new));
	WRITE_ONCE(b->local, 0);
	return new == REFCACHE_BIAS_MERGED;
}

/**
 * refcache_bias_merge_garbage_locked() - merge the biased objects of garbage
 * @heap: the heap, locked, in a collection
 * @list: objects the collection found unreachable
 *
 * Nothing outside the set holds a reference to garbage, so no owner can
 * be counting it (a get needs a reference, and a put whose count was
 * still on its way to zero left the object out of the set): its local
 * count is still, and merging it is safe even for a live owner.  After
 * this, dropping the garbage's references never queues one of them.
 */
void refcache_bias_merge_garbage_locked(struct refcache_heap *heap, struct list_head *list)
{
	struct refcache_obj *obj;

	lockdep_assert_held(&heap->objs.lock);
	if (!heap->objs.bias.owners)
		return;
	list_for_each_entry(obj, list, node)
		if (obj_is_biased(obj) && READ_ONCE(obj->bias_owner))
			WARN_ON_ONCE(refcache_bias_merge_locked(heap, obj, 0));
}

/**
 * refcache_obj_bias_read() - a biased object's counts, for tests
 * @obj: a biased object
 * @bi:  out: its owner, counts (local 0 once merged) and state, a snapshot
 */
void refcache_obj_bias_read(const struct refcache_obj *obj, struct refcache_bias_info *bi)
{
	union refcache_bias_snap s = refcache_bias_snapshot(obj);
	int raw = s.v.shared;
	u32 id = READ_ONCE(obj->bias_owner) & (REFCACHE_BIAS_IDS - 1);

	bi->owner = READ_ONCE(refcache_bias_tasks[id]);
	bi->state = raw & REFCACHE_BIAS_STATE;
	bi->local = bi->state == REFCACHE_BIAS_MERGED ? 0 : s.v.local;
	bi->saturated = refcache_bias_saturated(raw);
	bi->shared = refcache_bias_count(raw);
}
EXPORT_SYMBOL_IF_KUNIT(refcache_obj_bias_read);
