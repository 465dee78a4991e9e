// SPDX-License-Identifier: GPL-2.0
/*
 * Biased reference counting: CPython's free-threaded refcounts (PEP 703,
 * Objects/object.c, Python/brc.c) as a per-cache mode.  The owner's fast
 * paths are inline in refcache.h, the others' in refcount.h, the owner
 * ids and the merges in refcount.c; here are the heaps' owner tables,
 * the owners' queues, and what the collector and teardown need.  The
 * protocol and its memory-ordering argument: Documentation/objects.rst,
 * "Biased reference counting".
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/sched/task.h>
#include <linux/slab.h>

#include "biased.h"
#include "trace.h"

static struct refcache_bias_owner *bias_owner(u32 id)
{
	return id ? refcache_bias_recs[id] : NULL;
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

/* May a holder of the mutex merge for this owner right now? */
static bool bias_local_still(struct refcache_heap *heap, struct refcache_bias_owner *o)
{
	return heap->objs.bias.chardev || o->task == current || bias_owner_exited(o);
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
	atomic_t *shared = &obj_bias(obj)->shared;
	int raw = atomic_read(shared), new;

	do {
		if (refcache_bias_saturated(raw))
			return false;
		new = raw - REFCACHE_BIAS_ONE;
	} while (!atomic_try_cmpxchg(shared, &raw, new));
	return new == REFCACHE_BIAS_MERGED;
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
	struct refcache_bias_owner *o = bias_owner(READ_ONCE(obj->bias_owner));

	lockdep_assert_held(&heap->objs.lock);
	if (!o) {
		if (bias_unqueue_merged(obj))
			refcache_obj_release_locked(heap, obj);
		return;
	}
	if (bias_local_still(heap, o)) {
		if (refcache_bias_merge_locked(heap, obj, -1))
			refcache_obj_release_locked(heap, obj);
		return;
	}
	refcache_obj_unlink_locked(heap, obj);
	list_add_tail(&obj->node, &o->queue);
	heap->objs.bias.nqueued++;
	trace_bias_queue(heap->id, obj->cache->id);
}

/* CPython's merge_queued_objects(): each queued object loses the queue's reference. */
static void bias_drain_locked(struct refcache_heap *heap, struct refcache_bias_owner *o)
{
	struct refcache_obj *obj;

	while ((obj = list_first_entry_or_null(&o->queue, struct refcache_obj, node))) {
		list_del_init(&obj->node);
		heap->objs.bias.nqueued--;
		refcache_obj_relink_locked(heap, obj);
		if (refcache_bias_merge_locked(heap, obj, -1))
			refcache_obj_release_locked(heap, obj);
	}
}

/*
 * Merge every object of owner @id.  An unmerged object's owner still
 * holds one reference, so none of them dies here.
 */
static void bias_merge_owned_locked(struct refcache_heap *heap, u32 id)
{
	struct refcache_objspace *os = &heap->objs;
	struct refcache_obj *obj;
	unsigned long n = 0;
	int i;

	for (i = 0; i < REFCACHE_OBJ_LISTS; i++) {
		list_for_each_entry(obj, refcache_obj_list(os, i), node) {
			if (!(++n & 1023))
				cond_resched();
			if (obj_is_biased(obj) && READ_ONCE(obj->bias_owner) == id)
				WARN_ON_ONCE(refcache_bias_merge_locked(heap, obj, 0));
		}
	}
}

/* Give the entry back: no object names its id any more. */
static void bias_owner_free_locked(struct refcache_heap *heap, struct refcache_bias_owner *o)
{
	refcache_bias_id_put(o->id);
	put_task_struct(o->task);
	o->task = NULL;
	o->id = 0;
	heap->objs.bias.nowners--;
}

/* An owner is gone: merge its objects, drain its queue, free its entry. */
static void bias_owner_release_locked(struct refcache_heap *heap, struct refcache_bias_owner *o)
{
	bias_drain_locked(heap, o);
	/* Most owners' objects are dead or merged by now: no walk for them. */
	if (atomic_long_read(&o->owned))
		bias_merge_owned_locked(heap, o->id);
	WARN_ON_ONCE(atomic_long_read(&o->owned));
	bias_owner_free_locked(heap, o);
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
			bias_owner_release_locked(heap, o);
		else if (o->task == current && !list_empty(&o->queue))
			bias_drain_locked(heap, o);
	}
}

/* The caller's owner id in this heap, or 0 if the tables are full. */
static u32 bias_owner_id_locked(struct refcache_heap *heap)
{
	struct refcache_bias_heap *bh = &heap->objs.bias;
	struct refcache_bias_owner *o;
	u32 i, free = REFCACHE_BIAS_OWNERS;

	if (bh->owners[bh->hint].task == current)
		return bh->owners[bh->hint].id;
	for (i = 0; i < REFCACHE_BIAS_OWNERS; i++) {
		o = &bh->owners[i];
		if (o->task == current) {
			bh->hint = i;
			return o->id;
		}
		if (!o->task && free == REFCACHE_BIAS_OWNERS)
			free = i;
	}
	if (free == REFCACHE_BIAS_OWNERS)
		return 0;
	o = &bh->owners[free];
	o->task = current;
	o->id = refcache_bias_id_get(o);
	if (!o->id) {
		o->task = NULL;
		return 0;
	}
	get_task_struct(current);
	bh->nowners++;
	bh->hint = free;
	return o->id;
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
	if (bh->owners)
		return 0;
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
	bh->owners = owners;
	return 0;
}

/**
 * refcache_bias_obj_init_locked() - a new biased object: its creator owns it
 * @heap: the heap, locked
 * @obj:  the object, after it is on its list
 *
 * With the owner table full the object starts merged, with no owner.
 */
void refcache_bias_obj_init_locked(struct refcache_heap *heap, struct refcache_obj *obj)
{
	struct refcache_bias_counts *b = obj_bias(obj);
	u32 id = bias_owner_id_locked(heap);

	if (id) {
		atomic_long_inc(&refcache_bias_recs[id]->owned);
		b->local = 1;
		atomic_set(&b->shared, REFCACHE_BIAS_UNMERGED);
	} else {
		b->local = 0;
		atomic_set(&b->shared, REFCACHE_BIAS_ONE | REFCACHE_BIAS_MERGED);
	}
	obj->bias_owner = id;
	obj->flags |= REFCACHE_OBJ_BIASED;
}

/**
 * refcache_bias_freeze_queued_locked() - gc.freeze() for queued objects
 * @heap:     the heap, locked
 * @unfreeze: move the permanent generation back into the oldest one
 *
 * Queued tracked objects are off their generation lists, and go back to
 * the generation their flags name when their owner drains them: freeze
 * and unfreeze change that generation, as they do for everything on the
 * lists, without draining (that would write a live owner's local count).
 * They join the permanent generation's count when they are back on it.
 */
void refcache_bias_freeze_queued_locked(struct refcache_heap *heap, bool unfreeze)
{
	struct refcache_bias_heap *bh = &heap->objs.bias;
	struct refcache_obj *obj;
	unsigned int gen;
	bool frozen;
	u32 i;

	lockdep_assert_held(&heap->objs.lock);
	if (!bh->owners || !bh->nqueued)
		return;
	for (i = 0; i < REFCACHE_BIAS_OWNERS; i++) {
		list_for_each_entry(obj, &bh->owners[i].queue, node) {
			if (!(obj->cache->flags & REFCACHE_CACHE_TRACKED))
				continue;
			gen = obj->flags & REFCACHE_OBJ_GEN_MASK;
			frozen = gen == REFCACHE_GC_PERMANENT;
			/* Freeze moves generations 0-2, unfreeze the permanent one. */
			if (unfreeze != frozen)
				continue;
			gen = unfreeze ? REFCACHE_GC_GENERATIONS - 1 : REFCACHE_GC_PERMANENT;
			obj->flags = (obj->flags & ~REFCACHE_OBJ_GEN_MASK) | gen;
		}
	}
}

/**
 * refcache_bias_teardown_locked() - the biased part of a heap's teardown
 * @heap: the heap, locked, its handles closed, before anything is counted
 *
 * Owners that exited are released (their objects merged, their queues
 * drained).  Live owners' queued objects go back on their lists without
 * their local counts being touched: the queue's reference is dropped
 * from the shared count instead (the state stays queued), so that every
 * count the trial deletion then reads is the object's true count, and
 * an object that the queue alone held is freed now.  If nothing outside
 * the heap holds a reference, no owner can be counting any of its
 * objects and teardown frees them all; if something does, the heap is
 * abandoned, and its owners stay registered (and their ids taken) until
 * it is freed at module unload, since an owner may still count.
 */
void refcache_bias_teardown_locked(struct refcache_heap *heap)
{
	struct refcache_bias_heap *bh = &heap->objs.bias;
	struct refcache_bias_owner *o;
	struct refcache_obj *obj;
	union refcache_bias_snap s;
	int raw;
	u32 i;

	lockdep_assert_held(&heap->objs.lock);
	if (!bh->owners)
		return;
	refcache_bias_service_locked(heap);
	for (i = 0; i < REFCACHE_BIAS_OWNERS && bh->nqueued; i++) {
		o = &bh->owners[i];
		while ((obj = list_first_entry_or_null(&o->queue, struct refcache_obj, node))) {
			list_del_init(&obj->node);
			bh->nqueued--;
			refcache_obj_relink_locked(heap, obj);
			s = refcache_bias_snapshot(obj);
			raw = s.v.shared;
			/*
			 * Held by the queue alone: nobody holds a reference, so
			 * its owner is not counting it; merged and freed.
			 */
			if ((raw & REFCACHE_BIAS_STATE) != REFCACHE_BIAS_MERGED &&
			    !refcache_bias_saturated(raw) &&
			    refcache_bias_count(raw) + (long)s.v.local == 1) {
				if (refcache_bias_merge_locked(heap, obj, -1))
					refcache_obj_release_locked(heap, obj);
			} else if (bias_unqueue_merged(obj)) {
				refcache_obj_release_locked(heap, obj);
			}
		}
	}
}

/**
 * refcache_bias_destroy() - release every owner and free the owner table
 * @heap: the heap, its objects freed (nothing names an owner any more)
 */
void refcache_bias_destroy(struct refcache_heap *heap)
{
	struct refcache_bias_heap *bh = &heap->objs.bias;
	u32 i;

	if (!bh->owners)
		return;
	for (i = 0; i < REFCACHE_BIAS_OWNERS; i++)
		if (bh->owners[i].task)
			bias_owner_free_locked(heap, &bh->owners[i]);
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
