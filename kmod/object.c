// SPDX-License-Identifier: GPL-2.0
/*
 * Caches, objects and reference counts.
 *
 * Every change to a heap's object graph happens under the heap's mutex
 * (objspace.lock).  Reference counts are refcount_t, or biased counts
 * (refcount.h, biased.c), so a get needs no lock; a count that reaches
 * zero puts the object on the heap's release
 * list, and one loop per heap drains that list: freeing an object drops
 * the references in its slots, which may queue more objects, but never
 * recurses, so a chain of any length is released in constant stack.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/moduleparam.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "refcount.h"
#include "trace.h"

/**
 * refcache_heap_lock() - take a heap's mutex
 * @heap: the heap
 *
 * Every change to the heap's object graph happens under this mutex, and
 * the cycle collector holds it for a whole collection.  A kernel cache
 * whose objects keep references in their payload (reported by its
 * traverse callback) must change those references only with it held,
 * so that no collection sees half a change (Documentation/collector.rst).
 * Inside callbacks refcache already holds it; refcache_obj_put() may be
 * called with it held.  Taking it runs no callback.
 *
 * Context: process context, sleeps.
 */
void refcache_heap_lock(struct refcache_heap *heap)
{
	mutex_lock(&heap->objs.lock);
	WRITE_ONCE(heap->objs.locker, current);
}
EXPORT_SYMBOL_NS_GPL(refcache_heap_lock, REFCACHE_NS);

/**
 * refcache_heap_unlock() - release a heap's mutex
 * @heap: the heap, locked by the caller
 *
 * Context: process context, with the heap's mutex held by the caller.
 */
void refcache_heap_unlock(struct refcache_heap *heap)
{
	WRITE_ONCE(heap->objs.locker, NULL);
	mutex_unlock(&heap->objs.lock);
}
EXPORT_SYMBOL_NS_GPL(refcache_heap_unlock, REFCACHE_NS);

/**
 * refcache_objspace_service_locked() - the owners' part of taking the mutex
 * @heap: the heap, locked
 *
 * In a heap with owners of biased objects, an owner merges those that
 * other tasks queued for it, and owners that exited are noticed
 * (Documentation/objects.rst), which may free objects and run their
 * callbacks: biased.c, through the hook.  What a collection and the
 * walks of inspect.c do first, too.
 */
void refcache_objspace_service_locked(struct refcache_heap *heap)
{
	lockdep_assert_held(&heap->objs.lock);
	if (unlikely(heap->objs.bias.nowners))
		heap->objs.ops->service(heap);
}

/**
 * refcache_objspace_lock() - take a heap's mutex for a refcache call
 * @heap: the heap
 *
 * What every refcache call that may sleep does first, besides
 * refcache_heap_lock() itself: take the mutex, then
 * refcache_objspace_service_locked().
 */
void refcache_objspace_lock(struct refcache_heap *heap)
{
	refcache_heap_lock(heap);
	refcache_objspace_service_locked(heap);
}
EXPORT_SYMBOL_IF_KUNIT(refcache_objspace_lock);

/* Caches whose callbacks belong to a module (heap.c's unload notifier). */
static atomic_t kernel_caches = ATOMIC_INIT(0);

bool refcache_kernel_caches_live(void)
{
	return atomic_read(&kernel_caches);
}

/*
 * An empty objspace, whose hooks are @ops.  The collector's part is
 * refcache_gc_init()'s, called next by heap.c.
 */
void refcache_objspace_init(struct refcache_heap *heap, const struct refcache_objspace_ops *ops)
{
	struct refcache_objspace *os = &heap->objs;

	/* refcache.h's inline gets and puts see objects through this. */
	BUILD_BUG_ON(offsetof(struct refcache_obj, ref) !=
		     offsetof(struct refcache_obj_head, ref) ||
		     offsetof(struct refcache_obj, bias_owner) !=
		     offsetof(struct refcache_obj_head, owner) ||
		     offsetof(struct refcache_obj, flags) !=
		     offsetof(struct refcache_obj_head, flags) ||
		     REFCACHE_OBJ_BIASED != REFCACHE_OBJ_HEAD_BIASED);

	mutex_init(&os->lock);
	os->ops = ops;
	INIT_LIST_HEAD(&os->caches);
	xa_init_flags(&os->cache_ids, XA_FLAGS_ALLOC1);
	INIT_LIST_HEAD(&os->untracked);
	INIT_LIST_HEAD(&os->release);
	os->tag = (heap->id % 0xffff) + 1;
}

/*
 * The lists an object is on (refcache_obj_list()) and how many each
 * holds are the objspace's; which one, and when that calls for a
 * collection, follows the collector's rules (gc.h).
 */

/* A new object of a tracked cache: generation 0 (CPython's _PyObject_GC_Link()). */
static void obj_track(struct refcache_heap *heap, struct refcache_obj *obj)
{
	struct refcache_gc *gc = &heap->objs.gc;

	obj->flags = 0;
	list_add_tail(&obj->node, &gc->gen[0]);
	gc->nobjs[0]++;
	gc->count[0]++;
	/* Past the threshold: heap.c queues the collection, never in the caller. */
	if (gc->enabled && gc->threshold[0] && gc->count[0] > gc->threshold[0] &&
	    !gc->shutdown)
		heap->objs.ops->collect_due(heap);
}

/* A tracked object leaves its generation's list for good (it is dying). */
static inline void obj_untrack(struct refcache_gc *gc, struct refcache_obj *obj)
{
	gc->nobjs[obj->flags & REFCACHE_OBJ_GEN_MASK]--;
	if (gc->count[0])
		gc->count[0]--;
}

/**
 * refcache_obj_unlink_locked() - off its list for a while
 * @heap: the heap, locked
 * @obj:  a live object, on its list
 *
 * A queued biased object leaves its list (biased.c) and comes back with
 * refcache_obj_relink_locked(), to the generation its flags name.
 */
void refcache_obj_unlink_locked(struct refcache_heap *heap, struct refcache_obj *obj)
{
	list_del_init(&obj->node);
	if (obj->cache->flags & REFCACHE_CACHE_TRACKED)
		heap->objs.gc.nobjs[obj->flags & REFCACHE_OBJ_GEN_MASK]--;
}

void refcache_obj_relink_locked(struct refcache_heap *heap, struct refcache_obj *obj)
{
	unsigned int gen = obj->flags & REFCACHE_OBJ_GEN_MASK;

	if (!(obj->cache->flags & REFCACHE_CACHE_TRACKED)) {
		list_add_tail(&obj->node, &heap->objs.untracked);
		return;
	}
	list_add_tail(&obj->node, &heap->objs.gc.gen[gen]);
	heap->objs.gc.nobjs[gen]++;
}

/* The object dies: its weak handles (up to 2^24 of them) point at nothing. */
void refcache_obj_clear_weak_locked(struct refcache_obj *obj)
{
	struct refcache_weakref *w;
	struct hlist_node *tmp;
	unsigned long n = 0;

	hlist_for_each_entry_safe(w, tmp, &obj->weak, node) {
		hlist_del(&w->node);
		w->obj = NULL;
		if (!(++n & 1023))
			cond_resched();
	}
}

/* Where the object's block starts: biased objects have their counts in front. */
static void *obj_block(struct refcache_obj *obj)
{
	return obj_is_biased(obj) ? (void *)obj_bias(obj) : obj;
}

/*
 * The object tracepoints' arguments, out of line: with the events off,
 * the fast paths keep only the static branch, and no load of an
 * argument is hoisted above it.
 */
static noinline void obj_trace_alloc(struct refcache_heap *heap,
				     struct refcache_cache *cache)
{
	trace_obj_alloc(heap->id, cache->id, cache->obj_size);
}

static noinline void obj_trace_free(struct refcache_heap *heap,
				    struct refcache_cache *cache)
{
	trace_obj_free(heap->id, cache->id, cache->obj_size);
}

static void obj_free_memory(struct refcache_heap *heap, struct refcache_obj *obj)
{
	struct refcache_cache *cache = obj->cache;

	if (trace_obj_free_enabled())
		obj_trace_free(heap, cache);
	cache->active--;
	heap->objs.objects--;
	refcache_uncharge_object();
	refcache_free(heap, obj_block(obj));
}

/*
 * A kernel cache's clear callback: drop the references in the payload.
 * Once only: the collector may have run it already.
 */
static void obj_clear_payload(struct refcache_obj *obj)
{
	if (obj->cache->ops && obj->cache->ops->clear &&
	    !(obj->flags & REFCACHE_OBJ_CLEARED)) {
		obj->flags |= REFCACHE_OBJ_CLEARED;
		obj->cache->ops->clear(obj);
	}
}

/* The release callback, then the memory back to the heap. */
static void obj_finish(struct refcache_heap *heap, struct refcache_obj *obj)
{
	if (obj->cache->ops && obj->cache->ops->release)
		obj->cache->ops->release(obj);
	obj_free_memory(heap, obj);
}

/**
 * refcache_obj_forget_locked() - all of freeing collected garbage but its memory
 * @heap: the heap, locked
 * @obj:  garbage of a cache without callbacks, off every list, whatever
 *        its count (only other garbage references it); the collector
 *        counts it out of its generation itself
 * @f:    the collection's run of forgotten objects of one owner, zeroed
 *        at first: refcache_obj_forget_end_locked() when it is over
 *
 * The collector calls this as it passes each piece of garbage, and gives
 * the memory back later, all at once (refcache_obj_free_dead_locked()):
 * until then it still reads other garbage's flags.  The object's memory
 * is not written.
 *
 * Return: the object's block, for refcache_obj_free_dead_locked().
 */
void *refcache_obj_forget_locked(struct refcache_heap *heap, struct refcache_obj *obj,
				 struct refcache_obj_forget *f)
{
	/* An owner's count once per run of its objects, which garbage comes in. */
	if (obj_is_biased(obj)) {
		u32 id = READ_ONCE(obj->bias_owner);

		if (id != f->id) {
			refcache_obj_forget_end_locked(heap, f);
			f->id = id;
		}
		if (id)
			f->n++;
	}
	if (trace_obj_free_enabled())
		obj_trace_free(heap, obj->cache);
	obj->cache->active--;
	return obj_block(obj);
}

/**
 * refcache_obj_forget_end_locked() - the owner's count of a run of forgotten garbage
 * @heap: the heap, locked
 * @f:    the run; emptied
 *
 * Its owner has that many unmerged objects fewer to find at its exit
 * (Documentation/objects.rst).
 */
void refcache_obj_forget_end_locked(struct refcache_heap *heap, struct refcache_obj_forget *f)
{
	lockdep_assert_held(&heap->objs.lock);
	if (f->n)
		refcache_bias_disown_run(f->id, f->n);
	f->n = 0;
}

/**
 * refcache_obj_free_dead_locked() - give back the memory of forgotten garbage
 * @heap:   the heap, locked
 * @blocks: what refcache_obj_forget_locked() returned, for objects of at
 *          most REFCACHE_SMALL_MAX bytes
 * @n:      how many
 */
void refcache_obj_free_dead_locked(struct refcache_heap *heap, void * const *blocks,
				   unsigned long n)
{
	heap->objs.objects -= n;
	refcache_uncharge_objects(n);
	refcache_free_dead(heap, blocks, n);
}

/**
 * refcache_obj_free_collected_locked() - free garbage the collector found
 * @heap: the heap, locked
 * @v:    objects of caches without callbacks, off every list, whatever
 *        their counts (only other garbage references them)
 * @n:    how many
 */
void refcache_obj_free_collected_locked(struct refcache_heap *heap, struct refcache_obj **v,
					unsigned int n)
{
	struct refcache_obj_forget f = {};
	unsigned int i;

	if (!n)
		return;
	for (i = 0; i < n; i++) {
		obj_untrack(&heap->objs.gc, v[i]);
		v[i] = refcache_obj_forget_locked(heap, v[i], &f);
	}
	refcache_obj_forget_end_locked(heap, &f);
	heap->objs.objects -= n;
	refcache_uncharge_objects(n);
	refcache_free_many(heap, (void **)v, n);
}

/**
 * refcache_obj_release_locked() - free an object whose count reached zero
 * @heap: the heap, locked
 * @obj:  the object, still on its list
 *
 * Queues it and, unless a release loop is already running further up
 * this call chain, frees everything queued; see the comment at the top.
 */
void refcache_obj_release_locked(struct refcache_heap *heap, struct refcache_obj *obj)
{
	struct refcache_objspace *os = &heap->objs;
	unsigned long freed = 0;
	u32 i;

	lockdep_assert_held(&os->lock);
	if (obj->cache->flags & REFCACHE_CACHE_TRACKED)
		obj_untrack(&os->gc, obj);
	list_move_tail(&obj->node, &os->release);
	if (os->releasing)
		return;
	os->releasing = true;
	while ((obj = list_first_entry_or_null(&os->release, struct refcache_obj, node))) {
		struct refcache_cache *cache = obj->cache;

		/* A long cascade must not hog the CPU. */
		if (!(++freed & 1023))
			cond_resched();

		list_del_init(&obj->node);
		refcache_obj_clear_weak_locked(obj);
		for (i = 0; i < cache->nslots; i++) {
			struct refcache_obj *child = obj->slots[i];

			obj->slots[i] = NULL;
			if (child)
				refcache_obj_put_locked(heap, child);
		}
		obj_clear_payload(obj);
		obj_finish(heap, obj);
	}
	os->releasing = false;
}

/**
 * refcache_obj_put_locked() - drop a reference with the heap locked
 * @heap: the object's heap, whose lock the caller holds
 * @obj:  the object
 */
void refcache_obj_put_locked(struct refcache_heap *heap, struct refcache_obj *obj)
{
	lockdep_assert_held(&heap->objs.lock);
	if (heap->objs.dying)
		return;
	/* The graph changed: a collection for memory may find something new. */
	heap->objs.gc.puts++;
	switch (refcache_ref_put(obj)) {
	case REFCACHE_BIAS_PUT_DEAD:
		refcache_obj_release_locked(heap, obj);
		break;
	case REFCACHE_BIAS_PUT_QUEUE:
		heap->objs.ops->queue(heap, obj);
		break;
	case REFCACHE_BIAS_PUT_DONE:
		break;
	}
}
EXPORT_SYMBOL_IF_KUNIT(refcache_obj_put_locked);

static struct refcache_obj *obj_new_once(struct refcache_cache *cache, gfp_t gfp)
{
	struct refcache_heap *heap = cache->heap;
	struct refcache_objspace *os = &heap->objs;
	struct refcache_obj *obj;
	void *block;
	int err;

	if (os->objects >= os->max_objects)
		return ERR_PTR(-EDQUOT);
	if (refcache_charge_object())
		return ERR_PTR(-ENOMEM);
	block = __refcache_alloc(heap, cache->obj_size, gfp, &err);
	if (!block) {
		refcache_uncharge_object();
		return ERR_PTR(err);
	}
	obj = block;
	if (cache->flags & REFCACHE_CACHE_BIASED)
		obj = (struct refcache_obj *)((struct refcache_bias_counts *)block + 1);
	refcount_set(&obj->ref, 1);
	obj->cache = cache;
	INIT_HLIST_HEAD(&obj->weak);
	if (cache->flags & REFCACHE_CACHE_TRACKED)
		obj_track(heap, obj);
	else
		list_add_tail(&obj->node, &os->untracked);
	if (cache->flags & REFCACHE_CACHE_BIASED)
		os->ops->obj_init(heap, obj);
	cache->active++;
	cache->total++;
	os->objects++;
	if (trace_obj_alloc_enabled())
		obj_trace_alloc(heap, cache);
	return obj;
}

/*
 * A new object with one reference.  Over the heap's or its user's budget
 * (-EDQUOT) or the module's (-ENOMEM), a caller that may sleep first has
 * the heap's garbage collected, once, and tries once more
 * (Documentation/limits.rst).
 */
struct refcache_obj *refcache_obj_new_locked(struct refcache_cache *cache, gfp_t gfp)
{
	struct refcache_heap *heap = cache->heap;
	struct refcache_obj *obj;

	lockdep_assert_held(&heap->objs.lock);
	obj = obj_new_once(cache, gfp);
	if (IS_ERR(obj) && (PTR_ERR(obj) == -EDQUOT || PTR_ERR(obj) == -ENOMEM) &&
	    gfpflags_allow_blocking(gfp) && heap->objs.ops->collect_quota(heap))
		obj = obj_new_once(cache, gfp);
	return obj;
}
EXPORT_SYMBOL_IF_KUNIT(refcache_obj_new_locked);

int refcache_obj_store_locked(struct refcache_obj *obj, u32 slot,
			      struct refcache_obj *value)
{
	struct refcache_obj *old;

	if (slot >= obj->cache->nslots)
		return -EINVAL;
	if (value) {
		if (value->cache->heap != obj->cache->heap)
			return -EXDEV;
		refcache_ref_get(value);
	}
	old = obj->slots[slot];
	obj->slots[slot] = value;
	if (old)
		refcache_obj_put_locked(obj->cache->heap, old);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(refcache_obj_store_locked);

/*
 * Names are shown in /proc one per row: printable ASCII without spaces,
 * so that no name can break a row or forge another one.
 */
static bool cache_name_valid(const char *name)
{
	size_t i;

	if (!name || !name[0])
		return false;
	for (i = 0; i < REFCACHE_NAME_LEN && name[i]; i++)
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
			return false;
	return i < REFCACHE_NAME_LEN;
}

struct refcache_cache *refcache_cache_create_locked(struct refcache_heap *heap,
						    const char *name, u32 payload_size,
						    u32 nslots, u32 flags,
						    const struct refcache_type_ops *ops)
{
	struct refcache_objspace *os = &heap->objs;
	struct refcache_cache *cache;
	size_t size;
	int ret;

	lockdep_assert_held(&os->lock);
	if (!cache_name_valid(name) ||
	    payload_size > REFCACHE_MAX_PAYLOAD || nslots > REFCACHE_MAX_SLOTS ||
	    (flags & ~(REFCACHE_CACHE_FLAGS | REFCACHE_CACHE_KERNEL)))
		return ERR_PTR(-EINVAL);

	size = struct_size_t(struct refcache_obj, slots, nslots) + payload_size;
	if (flags & REFCACHE_CACHE_BIASED)
		size += sizeof(struct refcache_bias_counts);
	ret = refcache_charge(heap, sizeof(*cache));
	if (ret)
		return ERR_PTR(ret);
	cache = kzalloc(sizeof(*cache), GFP_KERNEL_ACCOUNT);
	if (!cache) {
		refcache_uncharge(heap, sizeof(*cache));
		return ERR_PTR(-ENOMEM);
	}
	cache->heap = heap;
	cache->flags = flags;
	cache->payload_size = payload_size;
	cache->nslots = nslots;
	cache->obj_size = size;
	cache->ops = ops;
	strscpy(cache->name, name, sizeof(cache->name));

	if (!(flags & REFCACHE_CACHE_KERNEL)) {
		/* Cyclic: a destroyed cache's id is not handed out again soon. */
		ret = xa_alloc_cyclic(&os->cache_ids, &cache->id, cache, xa_limit_31b,
				      &os->cache_next, GFP_KERNEL_ACCOUNT);
		if (ret < 0) {
			kfree(cache);
			refcache_uncharge(heap, sizeof(*cache));
			return ERR_PTR(ret == -EBUSY ? -ENOSPC : ret);
		}
	}
	if (flags & REFCACHE_CACHE_BIASED) {
		/* Last, so that nothing after it can fail and leave it behind. */
		ret = os->ops->cache_init(heap, flags);
		if (ret) {
			if (cache->id)
				xa_erase(&os->cache_ids, cache->id);
			kfree(cache);
			refcache_uncharge(heap, sizeof(*cache));
			return ERR_PTR(ret);
		}
	}
	list_add_tail(&cache->node, &os->caches);
	os->ncaches++;
	return cache;
}
EXPORT_SYMBOL_IF_KUNIT(refcache_cache_create_locked);

int refcache_cache_destroy_locked(struct refcache_cache *cache)
{
	struct refcache_objspace *os = &cache->heap->objs;

	lockdep_assert_held(&os->lock);
	if (cache->active)
		return -EBUSY;
	if (cache->id)
		xa_erase(&os->cache_ids, cache->id);
	if (cache->owner)
		atomic_dec(&kernel_caches);
	list_del(&cache->node);
	os->ncaches--;
	refcache_uncharge(cache->heap, sizeof(*cache));
	kfree(cache);
	return 0;
}

/**
 * refcache_objspace_disarm_module_locked() - a module is going: forget its code
 * @heap: the heap, locked
 * @mod:  the module being unloaded
 *
 * Caches the module created and left behind keep their objects, but lose
 * their callbacks: nothing calls into the module's code after this, not
 * the collector, not a put, not teardown or the module's own unload.
 *
 * Return: how many caches of @mod the heap held, if it is not being torn
 * down (an abandoned heap was warned about when it was put); 0 else.
 */
unsigned int refcache_objspace_disarm_module_locked(struct refcache_heap *heap,
						    struct module *mod)
{
	struct refcache_cache *cache;
	unsigned int n = 0;

	lockdep_assert_held(&heap->objs.lock);
	list_for_each_entry(cache, &heap->objs.caches, node) {
		if (cache->owner != mod)
			continue;
		/* An abandoned heap was warned about when it was put. */
		if (!heap->objs.dying)
			pr_warn("heap %llu: module %s unloaded, leaving cache %s with %llu objects; its callbacks will not run\n",
				heap->id, module_name(mod), cache->name, cache->active);
		cache->ops = NULL;
		cache->owner = NULL;
		atomic_dec(&kernel_caches);
		n++;
	}
	return heap->objs.dying ? 0 : n;
}
EXPORT_SYMBOL_IF_KUNIT(refcache_objspace_disarm_module_locked);

/* Call @visit on every object @obj holds a strong reference to. */
void refcache_obj_traverse(struct refcache_obj *obj, refcache_visit_t visit, void *arg)
{
	const struct refcache_type_ops *ops = obj->cache->ops;
	u32 i;

	for (i = 0; i < obj->cache->nslots; i++)
		if (obj->slots[i])
			visit(obj->slots[i], arg);
	if (ops && ops->traverse)
		ops->traverse(obj, visit, arg);
}

/**
 * refcache_objspace_free_all_locked() - free every object, then the caches
 * @heap: the heap, locked, going away: puts are ignored (@dying), and
 *        only what heap.c's teardown found is left, whatever the counts
 */
void refcache_objspace_free_all_locked(struct refcache_heap *heap)
{
	struct refcache_objspace *os = &heap->objs;
	struct refcache_cache *cache, *tmp;
	struct refcache_obj *obj;
	unsigned long freed = 0;
	int i;

	/*
	 * Two passes: a clear callback may put objects of the same cycle,
	 * which must all still be there when it does (puts are ignored now).
	 */
	for (i = 0; i < REFCACHE_OBJ_LISTS; i++) {
		list_for_each_entry(obj, refcache_obj_list(os, i), node) {
			if (!(++freed & 1023))
				cond_resched();
			refcache_obj_clear_weak_locked(obj);
			obj_clear_payload(obj);
		}
	}
	for (i = 0; i < REFCACHE_OBJ_LISTS; i++) {
		struct list_head *list = refcache_obj_list(os, i);

		while ((obj = list_first_entry_or_null(list, struct refcache_obj, node))) {
			if (!(++freed & 1023))
				cond_resched();
			list_del_init(&obj->node);
			obj_finish(heap, obj);
		}
	}
	list_for_each_entry_safe(cache, tmp, &os->caches, node)
		WARN_ON_ONCE(refcache_cache_destroy_locked(cache));
	xa_destroy(&os->cache_ids);
}

/**
 * __refcache_cache_create() - create an object type in a heap
 * @heap:         the heap
 * @name:         shown in /proc/refcache/caches; up to 31 characters
 * @payload_size: payload bytes, up to REFCACHE_MAX_PAYLOAD
 * @nslots:       reference slots, up to REFCACHE_MAX_SLOTS
 * @flags:        REFCACHE_CACHE_TRACKED for the cycle collector,
 *                REFCACHE_CACHE_BIASED for biased reference counts: the
 *                task that allocates an object counts its own references
 *                without atomics (Documentation/objects.rst)
 * @ops:          callbacks for references kept in the payload, or NULL
 * @owner:        the module @ops belong to (THIS_MODULE, which the
 *                refcache_cache_create() macro passes)
 *
 * Once @owner is unloaded the callbacks are never called again, so a
 * module destroys its caches (and frees their objects) before it goes.
 *
 * Context: process context; takes the heap's mutex.
 * Return: the cache, or ERR_PTR(-EINVAL / -EDQUOT / -ENOMEM).
 */
struct refcache_cache *__refcache_cache_create(struct refcache_heap *heap,
					       const char *name, size_t payload_size,
					       unsigned int nslots, unsigned int flags,
					       const struct refcache_type_ops *ops,
					       struct module *owner)
{
	struct refcache_cache *cache;

	if (payload_size > REFCACHE_MAX_PAYLOAD || (flags & REFCACHE_CACHE_KERNEL))
		return ERR_PTR(-EINVAL);
	refcache_objspace_lock(heap);
	cache = refcache_cache_create_locked(heap, name, payload_size, nslots,
					     flags | REFCACHE_CACHE_KERNEL, ops);
	if (!IS_ERR(cache) && owner) {
		cache->owner = owner;
		atomic_inc(&kernel_caches);
	}
	refcache_heap_unlock(heap);
	return cache;
}
EXPORT_SYMBOL_NS_GPL(__refcache_cache_create, REFCACHE_NS);

/**
 * refcache_cache_destroy() - destroy a cache without live objects
 * @cache: a cache from refcache_cache_create()
 *
 * Context: process context; takes the heap's mutex.
 * Return: 0, or -EBUSY (and nothing changes) while objects are alive.
 */
int refcache_cache_destroy(struct refcache_cache *cache)
{
	struct refcache_heap *heap = cache->heap;
	int ret;

	refcache_objspace_lock(heap);
	ret = refcache_cache_destroy_locked(cache);
	refcache_heap_unlock(heap);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(refcache_cache_destroy, REFCACHE_NS);

/**
 * refcache_obj_alloc() - allocate a zeroed object with one reference
 * @cache: its type
 *
 * Context: process context; takes the heap's mutex.
 * Return: the object, ERR_PTR(-EDQUOT) over the heap's limits or
 * ERR_PTR(-ENOMEM) over the module's or out of memory.
 */
struct refcache_obj *refcache_obj_alloc(struct refcache_cache *cache)
{
	struct refcache_heap *heap = cache->heap;
	struct refcache_obj *obj;

	refcache_objspace_lock(heap);
	obj = refcache_obj_new_locked(cache, GFP_KERNEL);
	refcache_heap_unlock(heap);
	return obj;
}
EXPORT_SYMBOL_NS_GPL(refcache_obj_alloc, REFCACHE_NS);

/**
 * __refcache_obj_get() - refcache_obj_get() for a biased object
 * @obj: an object the caller holds a reference to
 *
 * Context: any context; never sleeps.
 * Return: @obj.
 */
struct refcache_obj *__refcache_obj_get(struct refcache_obj *obj)
{
	refcache_ref_get(obj);
	return obj;
}
EXPORT_SYMBOL_NS_GPL(__refcache_obj_get, REFCACHE_NS);

/**
 * __refcache_obj_get_bad() - refcache_obj_get()'s shared get went wrong
 * @obj: a biased object
 * @old: the shared count before the get: merged and zero (a get from
 *       zero), or at saturation
 *
 * Warns and saturates, as refcount_t does.
 *
 * Context: any context; never sleeps.
 */
void __refcache_obj_get_bad(struct refcache_obj *obj, int old)
{
	refcache_bias_warn(obj, old == REFCACHE_BIAS_MERGED ? REFCACHE_BIAS_WARN_ADD_ZERO :
			   REFCACHE_BIAS_WARN_SATURATED);
}
EXPORT_SYMBOL_NS_GPL(__refcache_obj_get_bad, REFCACHE_NS);

/**
 * refcache_obj_get_unless_zero() - take a reference unless the object is dying
 * @obj: an object of a heap whose mutex the caller holds
 *
 * For turning a reference that owns nothing (a pointer kept in a kernel
 * user's own table, say) into one that does.  Only the heap's mutex makes
 * that safe: an object whose count is zero is freed by the putter or by
 * the collector under that mutex, and the collector frees unreachable
 * objects whatever their counts, so a get without it could revive an
 * object on its way to being freed (the bug behind net/unix/garbage.c's
 * CVEs).  Never from a traverse callback: there the collector is running
 * and the object may be garbage.
 *
 * Context: process context, with refcache_heap_lock() held on the
 * object's heap (or in a clear or release callback, where refcache holds
 * it); not from a traverse callback.  Never sleeps.
 * Return: true if a reference was taken.
 */
bool refcache_obj_get_unless_zero(struct refcache_obj *obj)
{
	lockdep_assert_held(&obj->cache->heap->objs.lock);
	return refcache_ref_get_unless_zero(obj);
}
EXPORT_SYMBOL_NS_GPL(refcache_obj_get_unless_zero, REFCACHE_NS);

/*
 * The lock only if the object died or must be queued.  A dying heap's
 * counts mean nothing; what matters is that nothing is freed or queued
 * then.  Not inlined: the fast path of a put saves no registers for it.
 */
static noinline void obj_put_slow(struct refcache_obj *obj, enum refcache_bias_put ret)
{
	struct refcache_heap *heap = obj->cache->heap;
	bool mine;

	/* From a callback, the lock is ours already: join the running release. */
	mine = refcache_objspace_locked_by_me(&heap->objs);
	if (!mine)
		refcache_objspace_lock(heap);
	if (!heap->objs.dying) {
		if (ret == REFCACHE_BIAS_PUT_DEAD)
			refcache_obj_release_locked(heap, obj);
		else
			heap->objs.ops->queue(heap, obj);
	}
	if (!mine)
		refcache_heap_unlock(heap);
}

/**
 * __refcache_obj_put() - refcache_obj_put() for a biased object
 * @obj: the object
 *
 * Context: process context; may take the heap's mutex.
 */
void __refcache_obj_put(struct refcache_obj *obj)
{
	enum refcache_bias_put ret = refcache_ref_put(obj);

	if (ret != REFCACHE_BIAS_PUT_DONE)
		obj_put_slow(obj, ret);
}
EXPORT_SYMBOL_NS_GPL(__refcache_obj_put, REFCACHE_NS);

/**
 * __refcache_obj_release() - refcache_obj_put() took an atomic count to zero
 * @obj: the object, to free
 *
 * Context: process context; takes the heap's mutex unless the caller
 * holds it.
 */
void __refcache_obj_release(struct refcache_obj *obj)
{
	obj_put_slow(obj, REFCACHE_BIAS_PUT_DEAD);
}
EXPORT_SYMBOL_NS_GPL(__refcache_obj_release, REFCACHE_NS);

/**
 * refcache_obj_payload() - the object's payload
 * @obj: the object
 *
 * Context: any context; never sleeps.
 * Return: payload_size bytes, 8-byte aligned, zeroed at allocation.
 */
void *refcache_obj_payload(struct refcache_obj *obj)
{
	return refcache_obj_payload_of(obj);
}
EXPORT_SYMBOL_NS_GPL(refcache_obj_payload, REFCACHE_NS);

/**
 * refcache_obj_refcount() - the current reference count
 * @obj: the object
 *
 * A biased object's count is its owner's local count plus the shared
 * count, merged.
 *
 * Context: any context; never sleeps.
 * Return: a snapshot, for statistics and tests; REFCOUNT_SATURATED for a
 * saturated count.
 */
unsigned int refcache_obj_refcount(const struct refcache_obj *obj)
{
	return refcache_ref_read(obj);
}
EXPORT_SYMBOL_NS_GPL(refcache_obj_refcount, REFCACHE_NS);

/**
 * refcache_obj_store() - point a slot at an object (or empty it)
 * @obj:   the object whose slot changes
 * @slot:  slot index
 * @value: object to reference, in the same heap, or NULL
 *
 * The new reference is taken before the old one is dropped, so storing
 * the value a slot already holds is safe.
 *
 * Context: process context; takes the heap's mutex.
 * Return: 0, -EINVAL for a bad slot, -EXDEV for an object of another heap.
 */
int refcache_obj_store(struct refcache_obj *obj, unsigned int slot,
		       struct refcache_obj *value)
{
	struct refcache_heap *heap = obj->cache->heap;
	int ret;

	refcache_objspace_lock(heap);
	ret = refcache_obj_store_locked(obj, slot, value);
	refcache_heap_unlock(heap);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(refcache_obj_store, REFCACHE_NS);

/**
 * refcache_obj_load() - a new reference to what a slot holds
 * @obj:  the object
 * @slot: slot index
 *
 * Context: process context; takes the heap's mutex.
 * Return: the referenced object with a reference for the caller, NULL for
 * an empty slot, or ERR_PTR(-EINVAL) for a bad slot.
 */
struct refcache_obj *refcache_obj_load(struct refcache_obj *obj, unsigned int slot)
{
	struct refcache_heap *heap = obj->cache->heap;
	struct refcache_obj *child;

	if (slot >= obj->cache->nslots)
		return ERR_PTR(-EINVAL);
	refcache_objspace_lock(heap);
	child = obj->slots[slot];
	if (child)
		refcache_ref_get(child);
	refcache_heap_unlock(heap);
	return child;
}
EXPORT_SYMBOL_NS_GPL(refcache_obj_load, REFCACHE_NS);
