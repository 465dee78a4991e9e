// SPDX-License-Identifier: GPL-2.0
/*
 * Biased reference counting: CPython's free-threaded refcounts (PEP 703,
 * Objects/object.c, Python/brc.c) as a per-cache mode.  The fast paths
 * are inline in refcount.h; here are the merges, the owners' queues, the
 * owner table and what the collector and teardown need.  The protocol
 * and its memory-ordering argument: Documentation/objects.rst, "Biased
 * reference counting".
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/rcupdate.h>
#include <linux/sched/task.h>
#include <linux/slab.h>

#include "refcount.h"
#include "trace.h"

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
	atomic_set(&obj->ref.refs, REFCACHE_BIAS_SATURATED);
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

/* The object leaves its owner: one unmerged object fewer to find at its exit. */
static void bias_disown(struct refcache_heap *heap, struct refcache_bias *b)
{
	if (!b->owner)
		return;
	atomic_long_dec(&heap->objs.bias.owners[b->owner - 1].owned);
	WRITE_ONCE(b->owner, 0);
}

/**
 * refcache_bias_merge_zero() - the owner's local count reached zero
 * @obj: the object; called by its owner with preemption disabled
 *
 * CPython's _Py_MergeZeroLocalRefcount(), except that it always goes
 * through the compare-and-exchange, so that "merged and zero" is visible
 * before anyone frees the object.
 *
 * Return: true if the object is dead (the caller frees it).
 */
bool refcache_bias_merge_zero(struct refcache_obj *obj)
{
	int raw = atomic_read(&obj->ref.refs), new;

	/* No owner from here on: every later operation uses shared. */
	bias_disown(obj->cache->heap, obj_bias(obj));
	do {
		if (refcache_bias_saturated(raw))
			return false;
		new = (raw & ~REFCACHE_BIAS_STATE) | REFCACHE_BIAS_MERGED;
		if (refcache_bias_count(raw) < 0)
			new = bias_merged_raw(obj, refcache_bias_count(raw));
	} while (!atomic_try_cmpxchg(&obj->ref.refs, &raw, new));
	return new == REFCACHE_BIAS_MERGED;
}

/**
 * refcache_bias_merge_locked() - fold the local count into the shared one
 * @heap:  the heap, locked, with the object's local count still (the
 *         caller is the owner, the owner has exited, or a collection or
 *         teardown made every local count still)
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
	struct refcache_bias *b = obj_bias(obj);
	int raw = atomic_read(&obj->ref.refs), new;
	long c;

	lockdep_assert_held(&heap->objs.lock);
	trace_bias_merge(heap->id, obj->cache->id);
	do {
		if (refcache_bias_saturated(raw)) {
			new = raw;
			break;
		}
		c = refcache_bias_count(raw) + extra;
		if ((raw & REFCACHE_BIAS_STATE) != REFCACHE_BIAS_MERGED)
			c += b->local;
		new = bias_merged_raw(obj, c);
	} while (!atomic_try_cmpxchg(&obj->ref.refs, &raw, new));
	WRITE_ONCE(b->local, 0);
	bias_disown(heap, b);
	return new == REFCACHE_BIAS_MERGED;
}

static struct refcache_bias_owner *bias_owner(struct refcache_heap *heap, u32 owner)
{
	return owner ? &heap->objs.bias.owners[owner - 1] : NULL;
}

/*
 * Has the owner run its last instruction in refcache?  Its last store to
 * a local count precedes, in do_exit(), the fully ordered cmpxchg that
 * closes its task work, and that precedes the store of exit_state; the
 * read barrier pairs with it.
 */
static bool bias_owner_exited(const struct refcache_bias_owner *o)
{
	if (!READ_ONCE(o->task->exit_state))
		return false;
	/* Pairs with the cmpxchg in the owner's do_exit(), see above. */
	smp_rmb();
	return true;
}

/* May a holder of the mutex merge for this (non-zero) owner right now? */
static bool bias_local_still(struct refcache_heap *heap, u32 owner)
{
	struct refcache_bias_heap *bh = &heap->objs.bias;
	struct refcache_bias_owner *o = bias_owner(heap, owner);

	return !bh->lockless || bh->still || o->task == current || bias_owner_exited(o);
}

/*
 * Drop the queue's reference of an object whose owner already merged
 * it, or is merging it right now (refcache_bias_merge_zero() clears the
 * owner before its compare-and-exchange): only the shared count may
 * change, and whoever takes it to "merged and zero" frees the object.
 * CPython's _Py_brc_queue_object() does a Py_DECREF for such an object.
 */
static bool bias_unqueue_merged(struct refcache_obj *obj)
{
	int raw = atomic_read(&obj->ref.refs), new;

	do {
		if (refcache_bias_saturated(raw))
			return false;
		new = raw - REFCACHE_BIAS_ONE;
	} while (!atomic_try_cmpxchg(&obj->ref.refs, &raw, new));
	return new == REFCACHE_BIAS_MERGED;
}

/* A queued object leaves its list, and comes back to it when merged. */
static void bias_unlink_locked(struct refcache_heap *heap, struct refcache_obj *obj)
{
	if (obj->cache->flags & REFCACHE_CACHE_TRACKED)
		refcache_gc_unlink_locked(heap, obj);
	else
		list_del_init(&obj->node);
}

static void bias_relink_locked(struct refcache_heap *heap, struct refcache_obj *obj)
{
	if (obj->cache->flags & REFCACHE_CACHE_TRACKED)
		refcache_gc_relink_locked(heap, obj);
	else
		list_add_tail(&obj->node, &heap->objs.untracked);
}

/**
 * refcache_bias_queue_locked() - hand a queued object to its owner
 * @heap: the heap, locked
 * @obj:  an object a non-owner's put moved to the queued state; the
 *        queue holds the reference that put did not drop
 *
 * If the owner's count is still (see bias_local_still()) the object is
 * merged here and freed if that was the last reference; else it goes on
 * its owner's queue (CPython's _Py_brc_queue_object()).
 */
void refcache_bias_queue_locked(struct refcache_heap *heap, struct refcache_obj *obj)
{
	struct refcache_bias_heap *bh = &heap->objs.bias;
	u32 owner = READ_ONCE(obj_bias(obj)->owner);

	lockdep_assert_held(&heap->objs.lock);
	if (!owner) {
		if (bias_unqueue_merged(obj))
			refcache_obj_release_locked(heap, obj);
		return;
	}
	if (bias_local_still(heap, owner)) {
		if (refcache_bias_merge_locked(heap, obj, -1))
			refcache_obj_release_locked(heap, obj);
		return;
	}
	bias_unlink_locked(heap, obj);
	list_add_tail(&obj->node, &bias_owner(heap, owner)->queue);
	bh->nqueued++;
	trace_bias_queue(heap->id, obj->cache->id);
}

/* CPython's merge_queued_objects(): each queued object loses the queue's reference. */
static void bias_drain_locked(struct refcache_heap *heap, struct refcache_bias_owner *o)
{
	struct refcache_obj *obj;

	while ((obj = list_first_entry_or_null(&o->queue, struct refcache_obj, node))) {
		list_del_init(&obj->node);
		heap->objs.bias.nqueued--;
		bias_relink_locked(heap, obj);
		if (refcache_bias_merge_locked(heap, obj, -1))
			refcache_obj_release_locked(heap, obj);
	}
}

/*
 * Merge every object of owner @owner (or of every owner, if 0).  An
 * unmerged object's owner still holds one reference, so none of them
 * dies here.
 */
static void bias_merge_owned_locked(struct refcache_heap *heap, u32 owner)
{
	struct refcache_objspace *os = &heap->objs;
	struct refcache_obj *obj;
	unsigned long n = 0;
	u32 o;
	int i;

	for (i = 0; i < REFCACHE_OBJ_LISTS; i++) {
		list_for_each_entry(obj, refcache_obj_list(os, i), node) {
			if (!(++n & 1023))
				cond_resched();
			if (!obj_is_biased(obj))
				continue;
			o = READ_ONCE(obj_bias(obj)->owner);
			if (!o || (owner && o != owner))
				continue;
			WARN_ON_ONCE(refcache_bias_merge_locked(heap, obj, 0));
		}
	}
}

/* An owner is gone: merge its objects, drain its queue, free its entry. */
static void bias_owner_release_locked(struct refcache_heap *heap, u32 owner)
{
	struct refcache_bias_owner *o = bias_owner(heap, owner);

	bias_drain_locked(heap, o);
	/* Most owners' objects are dead or merged by now: no walk for them. */
	if (atomic_long_read(&o->owned))
		bias_merge_owned_locked(heap, owner);
	WARN_ON_ONCE(atomic_long_read(&o->owned));
	put_task_struct(o->task);
	WRITE_ONCE(o->task, NULL);
	heap->objs.bias.nowners--;
}

/**
 * refcache_bias_service_locked() - the owners' part of taking the mutex
 * @heap: the heap, just locked
 *
 * Drains the caller's queue if it is an owner, and releases every owner
 * that has exited, merging its objects ("a per-heap list checked at the
 * next operation": refcache has no task-exit hook).
 */
void refcache_bias_service_locked(struct refcache_heap *heap)
{
	struct refcache_bias_heap *bh = &heap->objs.bias;
	struct refcache_bias_owner *o;
	u32 i, seen = 0, n = bh->nowners;

	if (heap->objs.dying)
		return;
	for (i = 0; i < REFCACHE_BIAS_OWNERS && seen < n; i++) {
		o = &bh->owners[i];
		if (!o->task)
			continue;
		seen++;
		if (bias_owner_exited(o))
			bias_owner_release_locked(heap, i + 1);
		else if (o->task == current && !list_empty(&o->queue))
			bias_drain_locked(heap, o);
	}
}

/* The caller's entry in the owner table (index + 1), or 0 if it is full. */
static u32 bias_owner_index_locked(struct refcache_heap *heap)
{
	struct refcache_bias_heap *bh = &heap->objs.bias;
	struct refcache_bias_owner *o;
	u32 i, free = REFCACHE_BIAS_OWNERS;

	if (bh->owners[bh->hint].task == current)
		return bh->hint + 1;
	for (i = 0; i < REFCACHE_BIAS_OWNERS; i++) {
		o = &bh->owners[i];
		if (o->task == current) {
			bh->hint = i;
			return i + 1;
		}
		if (!o->task && free == REFCACHE_BIAS_OWNERS)
			free = i;
	}
	if (free == REFCACHE_BIAS_OWNERS)
		return 0;
	o = &bh->owners[free];
	get_task_struct(current);
	WRITE_ONCE(o->task, current);
	bh->nowners++;
	bh->hint = free;
	return free + 1;
}

/**
 * refcache_bias_cache_init_locked() - a biased cache is being created
 * @heap:  the heap, locked
 * @flags: the cache's flags
 *
 * Return: 0, or -ENOMEM / -EDQUOT for the owner table.
 */
int refcache_bias_cache_init_locked(struct refcache_heap *heap, u32 flags)
{
	struct refcache_bias_heap *bh = &heap->objs.bias;
	struct refcache_bias_owner *owners;
	size_t size = REFCACHE_BIAS_OWNERS * sizeof(*owners);
	int i, ret;

	lockdep_assert_held(&heap->objs.lock);
	if (!bh->owners) {
		ret = refcache_charge(heap, size);
		if (ret)
			return ret;
		owners = kzalloc(size, GFP_KERNEL_ACCOUNT);
		if (!owners) {
			refcache_uncharge(heap, size);
			return -ENOMEM;
		}
		for (i = 0; i < REFCACHE_BIAS_OWNERS; i++)
			INIT_LIST_HEAD(&owners[i].queue);
		/* Published by the mutex: owners read it only for owned objects. */
		WRITE_ONCE(bh->owners, owners);
	}
	/* Heaps of /dev/refcache count only under the mutex (handle ops). */
	if (!bh->chardev)
		bh->lockless = true;
	return 0;
}

/**
 * refcache_bias_obj_init_locked() - a new biased object: its creator owns it
 * @heap: the heap, locked
 * @obj:  the object, after it is on its list; its count is one
 *
 * With the owner table full the object starts merged, with no owner.
 */
void refcache_bias_obj_init_locked(struct refcache_heap *heap, struct refcache_obj *obj)
{
	struct refcache_bias *b = obj_bias(obj);

	b->owner = bias_owner_index_locked(heap);
	if (b->owner) {
		atomic_long_inc(&heap->objs.bias.owners[b->owner - 1].owned);
		b->local = 1;
		atomic_set(&obj->ref.refs, REFCACHE_BIAS_UNMERGED);
	} else {
		b->local = 0;
		atomic_set(&obj->ref.refs, REFCACHE_BIAS_ONE | REFCACHE_BIAS_MERGED);
	}
	obj->flags |= REFCACHE_OBJ_BIASED;
}

/**
 * refcache_bias_still_begin() - make every local count still
 * @heap: the heap, locked
 *
 * For a collection or teardown: owners of a heap with biased kernel
 * caches count without the mutex, so they are switched to the shared
 * count and a grace period waits for those already in their fast path.
 * Then every queue is drained and every exited owner released, so the
 * collector sees each object on its list with its true count.
 */
void refcache_bias_still_begin(struct refcache_heap *heap)
{
	struct refcache_bias_heap *bh = &heap->objs.bias;
	u32 i;

	lockdep_assert_held(&heap->objs.lock);
	if (!bh->owners)
		return;
	if (bh->lockless && !bh->still) {
		WRITE_ONCE(bh->sync, true);
		synchronize_rcu_expedited();
		bh->still = true;
	}
	for (i = 0; i < REFCACHE_BIAS_OWNERS && (bh->nqueued || bh->nowners); i++) {
		if (!bh->owners[i].task)
			continue;
		if (bias_owner_exited(&bh->owners[i]))
			bias_owner_release_locked(heap, i + 1);
		else
			bias_drain_locked(heap, &bh->owners[i]);
	}
}

/**
 * refcache_bias_still_end() - owners may use their local counts again
 * @heap: the heap, locked
 */
void refcache_bias_still_end(struct refcache_heap *heap)
{
	struct refcache_bias_heap *bh = &heap->objs.bias;

	if (!bh->still)
		return;
	bh->still = false;
	/* Pairs with bias_own_begin(): an owner that sees it clear sees our merges. */
	smp_store_release(&bh->sync, false);
}

/**
 * refcache_bias_merge_all_locked() - teardown: merge every biased object
 * @heap: the heap, locked, its handles closed
 *
 * Leaves every count merged and still for good (owners use the shared
 * count from now on), and every owner released.
 */
void refcache_bias_merge_all_locked(struct refcache_heap *heap)
{
	struct refcache_bias_heap *bh = &heap->objs.bias;
	u32 i;

	if (!bh->owners)
		return;
	refcache_bias_still_begin(heap);
	if (!bh->lockless) {
		/* No fast path outside the mutex, but no new local count either. */
		WRITE_ONCE(bh->sync, true);
		bh->still = true;
	}
	bias_merge_owned_locked(heap, 0);
	for (i = 0; i < REFCACHE_BIAS_OWNERS; i++) {
		if (!bh->owners[i].task)
			continue;
		put_task_struct(bh->owners[i].task);
		WRITE_ONCE(bh->owners[i].task, NULL);
	}
	bh->nowners = 0;
}

/**
 * refcache_bias_destroy() - free the owner table
 * @heap: the heap, after refcache_bias_merge_all_locked()
 */
void refcache_bias_destroy(struct refcache_heap *heap)
{
	struct refcache_bias_heap *bh = &heap->objs.bias;

	if (!bh->owners)
		return;
	kfree(bh->owners);
	bh->owners = NULL;
	refcache_uncharge(heap, REFCACHE_BIAS_OWNERS * sizeof(struct refcache_bias_owner));
}

/**
 * refcache_bias_cache_undo_locked() - take back what a cache's creation made
 * @heap: the heap, locked; a biased cache of it was just destroyed because
 *        nobody learnt its id
 *
 * If that cache's creation allocated the owner table (the heap had no
 * other biased cache) and nobody used it since, it goes too, so that a
 * failed REFCACHE_IOC_CACHE_CREATE leaves the heap as it was.
 */
void refcache_bias_cache_undo_locked(struct refcache_heap *heap)
{
	struct refcache_bias_heap *bh = &heap->objs.bias;
	struct refcache_cache *cache;

	lockdep_assert_held(&heap->objs.lock);
	if (!bh->owners || bh->nowners)
		return;
	list_for_each_entry(cache, &heap->objs.caches, node)
		if (cache->flags & REFCACHE_CACHE_BIASED)
			return;
	refcache_bias_destroy(heap);
}

/**
 * refcache_bias_obj_free_locked() - a biased object is freed by the collector
 * @heap: the heap, locked, its local counts still
 * @obj:  garbage freed without its count reaching zero, maybe still owned
 */
void refcache_bias_obj_free_locked(struct refcache_heap *heap, struct refcache_obj *obj)
{
	bias_disown(heap, obj_bias(obj));
}

/**
 * refcache_obj_bias_read() - a biased object's counts, for tests
 * @obj: a biased object
 * @bi:  out: its owner, counts and state (a snapshot)
 */
void refcache_obj_bias_read(const struct refcache_obj *obj, struct refcache_bias_info *bi)
{
	const struct refcache_objspace *os = &obj->cache->heap->objs;
	struct refcache_bias *b = obj_bias(obj);
	int raw = atomic_read(&obj->ref.refs);
	u32 owner = READ_ONCE(b->owner);

	bi->owner = owner && os->bias.owners ? READ_ONCE(os->bias.owners[owner - 1].task) : NULL;
	bi->local = READ_ONCE(b->local);
	bi->saturated = refcache_bias_saturated(raw);
	bi->shared = refcache_bias_count(raw);
	bi->state = raw & REFCACHE_BIAS_STATE;
}
EXPORT_SYMBOL_IF_KUNIT(refcache_obj_bias_read);
