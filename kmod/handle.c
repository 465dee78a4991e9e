// SPDX-License-Identifier: GPL-2.0
/*
 * Handles: what user space holds, and roots, kernel code's strong
 * handles (refcache_root_add()).  A handle id is
 *
 *   bits 63..48  the heap's tag, so another heap's ids are refused
 *   bits 47..24  the generation of the table slot, so a closed id never
 *                reaches a new handle
 *   bits 23..0   the index in the heap's handle table
 *
 * Each slot counts its own generation, from 1.  A slot whose generation
 * reached the top is retired instead of wrapping, so an id, once closed,
 * is never valid again in its heap.
 *
 * The table is a flat array of 16-byte slots, like a file descriptor
 * table: everything here runs under the heap's mutex, so a lookup is a
 * bounds check and a load, free slots form a list threaded through the
 * array, and a strong handle is its slot alone: making or closing one
 * allocates and frees nothing.
 *
 * A strong handle owns one reference to its object; a weak handle owns
 * none and points at a small record (object.h) on the object's weak
 * list, which object.c empties when the object dies.
 */
#include <linux/mm.h>
#include <linux/slab.h>

#include "refcount.h"

#define HANDLE_INDEX_BITS	24
#define HANDLE_GEN_BITS		24
#define HANDLE_INDEX_MASK	((1U << HANDLE_INDEX_BITS) - 1)
#define HANDLE_GEN_MASK		((1U << HANDLE_GEN_BITS) - 1)

enum { SLOT_FREE, SLOT_STRONG, SLOT_WEAK };

/**
 * struct refcache_hslot - one slot of a heap's handle table
 * @obj:   SLOT_STRONG: the object
 * @weak:  SLOT_WEAK: the weak record
 * @next:  SLOT_FREE: the next free index, 0 for none
 * @gen:   the generation of the slot's current (or, free, last) handle
 * @state: SLOT_*
 */
struct refcache_hslot {
	union {
		struct refcache_obj *obj;
		struct refcache_weakref *weak;
		unsigned long next;
	};
	u32 gen;
	u32 state;
};

static u64 handle_id(struct refcache_heap *heap, u32 index, u32 gen)
{
	return ((u64)heap->objs.tag << 48) | ((u64)gen << HANDLE_INDEX_BITS) | index;
}

static struct refcache_hslot *handle_find(struct refcache_heap *heap, u64 id)
{
	struct refcache_objspace *os = &heap->objs;
	u32 index = id & HANDLE_INDEX_MASK;
	struct refcache_hslot *h;

	if ((id >> 48) != os->tag || !index || index >= os->htab_size)
		return NULL;
	h = &os->htab[index];
	if (h->state == SLOT_FREE || h->gen != ((id >> HANDLE_INDEX_BITS) & HANDLE_GEN_MASK))
		return NULL;
	return h;
}

/* Take a free table index, growing the table (doubling) when it is full. */
static int htab_get(struct refcache_heap *heap, u32 *index)
{
	struct refcache_objspace *os = &heap->objs;
	u32 i, size, old = os->htab_size;
	struct refcache_hslot *tab;
	int ret;

	if (!os->htab_free) {
		if (old > HANDLE_INDEX_MASK)
			return -ENOSPC;
		size = old ? min_t(u32, old * 2, HANDLE_INDEX_MASK + 1) : 64;
		ret = refcache_charge(heap, (u64)size * sizeof(*tab));
		if (ret)
			return ret;
		tab = kvmalloc_array(size, sizeof(*tab), GFP_KERNEL_ACCOUNT);
		if (!tab) {
			refcache_uncharge(heap, (u64)size * sizeof(*tab));
			return -ENOMEM;
		}
		if (os->htab)
			memcpy(tab, os->htab, old * sizeof(*tab));
		/* New slots 1.. (or old size..) chain to each other, in order. */
		for (i = max(old, 1U); i < size; i++) {
			tab[i].next = i + 1 < size ? i + 1 : 0;
			tab[i].gen = 0;
			tab[i].state = SLOT_FREE;
		}
		tab[0].next = 0;
		tab[0].gen = 0;
		tab[0].state = SLOT_FREE;
		os->htab_free = max(old, 1U);
		kvfree(os->htab);
		refcache_uncharge(heap, (u64)old * sizeof(*tab));
		os->htab = tab;
		os->htab_size = size;
	}
	*index = os->htab_free;
	os->htab_free = os->htab[*index].next;
	return 0;
}

/* Free a slot for reuse, or retire it for good when its generations ran out. */
static void htab_put(struct refcache_objspace *os, u32 index)
{
	struct refcache_hslot *h = &os->htab[index];

	h->state = SLOT_FREE;
	if (h->gen == HANDLE_GEN_MASK) {
		h->next = 0;
		return;
	}
	h->next = os->htab_free;
	os->htab_free = index;
}

/**
 * refcache_handle_new_locked() - give user space a handle to an object
 * @heap: the heap, locked
 * @obj:  the object; a strong handle takes a new reference to it
 * @weak: make a weak handle
 * @id:   out: the handle's id
 *
 * Return: 0, -ENOMEM, -EDQUOT (over a budget), or -ENOSPC when the table
 * is full.
 */
int refcache_handle_new_locked(struct refcache_heap *heap, struct refcache_obj *obj,
			       bool weak, u64 *id)
{
	struct refcache_objspace *os = &heap->objs;
	struct refcache_weakref *w = NULL;
	struct refcache_hslot *h;
	u32 index;
	int ret;

	lockdep_assert_held(&os->lock);
	if (weak) {
		/* From the heap's own allocator: cheaper than kmalloc, and charged alike. */
		w = __refcache_alloc(heap, sizeof(*w), GFP_KERNEL, &ret);
		if (!w)
			return ret;
	}
	ret = htab_get(heap, &index);
	if (ret) {
		refcache_free(heap, w);
		return ret;
	}
	h = &os->htab[index];
	h->gen++;
	if (weak) {
		w->obj = obj;
		hlist_add_head(&w->node, &obj->weak);
		h->weak = w;
		h->state = SLOT_WEAK;
	} else {
		refcache_ref_get(obj);
		h->obj = obj;
		h->state = SLOT_STRONG;
	}
	os->nhandles++;
	*id = handle_id(heap, index, h->gen);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(refcache_handle_new_locked);

/**
 * refcache_handle_lookup_locked() - the object behind a handle
 * @heap: the heap, locked
 * @id:   the handle id
 * @weak: the caller wants a weak handle (else a strong one)
 * @obj:  out: the object, valid while the lock is held; NULL for a weak
 *        handle whose object died
 *
 * Return: 0, -EBADF for an id that is not open in this heap, -EINVAL for
 * a handle of the other kind.
 */
int refcache_handle_lookup_locked(struct refcache_heap *heap, u64 id, bool weak,
				  struct refcache_obj **obj)
{
	struct refcache_hslot *h;

	lockdep_assert_held(&heap->objs.lock);
	h = handle_find(heap, id);
	if (!h)
		return -EBADF;
	if (weak ? h->state != SLOT_WEAK : h->state != SLOT_STRONG)
		return -EINVAL;
	*obj = weak ? h->weak->obj : h->obj;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(refcache_handle_lookup_locked);

/**
 * refcache_handle_close_locked() - close a handle
 * @heap: the heap, locked
 * @id:   the handle id
 *
 * A strong handle drops its reference, which may free the object.
 * Return: 0 or -EBADF.
 */
int refcache_handle_close_locked(struct refcache_heap *heap, u64 id)
{
	struct refcache_hslot *h;
	struct refcache_weakref *w;
	struct refcache_obj *obj;

	lockdep_assert_held(&heap->objs.lock);
	h = handle_find(heap, id);
	if (!h)
		return -EBADF;
	heap->objs.nhandles--;
	if (h->state == SLOT_WEAK) {
		w = h->weak;
		htab_put(&heap->objs, id & HANDLE_INDEX_MASK);
		if (w->obj)
			hlist_del(&w->node);
		refcache_free(heap, w);
	} else {
		obj = h->obj;
		htab_put(&heap->objs, id & HANDLE_INDEX_MASK);
		refcache_obj_put_locked(heap, obj);
	}
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(refcache_handle_close_locked);

/*
 * Roots: strong handles for kernel code.  A module that holds an object
 * by a root instead of a bare reference tells the collector where the
 * heap's graph starts (step 0 of Documentation/collector.rst marks what
 * the roots reach in one pass), and names the object by an id that a
 * later refcache_root_del() or a put of the heap makes stale, instead of
 * by a pointer.
 *
 * Each takes the heap's mutex, which is not recursive: called with it
 * held (under refcache_heap_lock(), or from a callback, which runs under
 * it) they would wait for themselves.  They warn and refuse instead.
 */
static bool root_lock(struct refcache_heap *heap)
{
	if (WARN_ONCE(refcache_objspace_locked_by_me(&heap->objs),
		      "refcache: a root operation with the heap's mutex held\n"))
		return false;
	refcache_objspace_lock(heap);
	return true;
}

/**
 * refcache_root_add() - hold an object as a root of its heap
 * @obj: the object; the caller holds a reference to it
 * @id:  out: the root's id, for refcache_root_load() and refcache_root_del()
 *
 * The heap takes a reference of its own, which it keeps until
 * refcache_root_del() or the heap's last refcache_heap_put(), and which
 * the collector knows to come from outside the heap's graph: what a root
 * reaches is marked reachable before the trial deletion, in one pass.
 * The caller's own reference is untouched; it may put it at once.
 *
 * Context: process context, not under refcache_heap_lock() and not from
 * a callback; takes the heap's mutex.
 * Return: 0; -EDQUOT when the table of roots cannot grow within the
 * heap's or its user's budget, -ENOMEM when it cannot within the
 * module's, or cannot be allocated; -ENOSPC when the table's 2^24 - 1
 * entries are all open or retired (Documentation/uapi.rst); -ENOENT
 * when @obj's count is already zero (a caller without a reference) or
 * its heap is being torn down; -EDEADLK, with a warning, when called
 * with the heap's mutex held.
 */
int refcache_root_add(struct refcache_obj *obj, u64 *id)
{
	struct refcache_heap *heap = obj->cache->heap;
	int ret;

	if (!root_lock(heap))
		return -EDEADLK;
	ret = -ENOENT;
	/*
	 * A probe of the caller's reference: an object whose count reached
	 * zero is being freed, and the table must not point at it.  The
	 * table takes a reference of its own; the probe's goes after.
	 */
	if (!heap->objs.dying && refcache_ref_get_unless_zero(obj)) {
		ret = refcache_handle_new_locked(heap, obj, false, id);
		refcache_obj_put_locked(heap, obj);
	}
	refcache_heap_unlock(heap);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(refcache_root_add, REFCACHE_NS);

/**
 * refcache_root_load() - a new reference to a root's object
 * @heap: the heap the root was added to
 * @id:   the root's id
 *
 * Context: process context, not under refcache_heap_lock() and not from
 * a callback; takes the heap's mutex.
 * Return: the object, with a reference for the caller to put, or
 * ERR_PTR(-EBADF) for an id that is not an open root of @heap (deleted,
 * of another heap, or never made), ERR_PTR(-EDEADLK) as for
 * refcache_root_add().
 */
struct refcache_obj *refcache_root_load(struct refcache_heap *heap, u64 id)
{
	struct refcache_obj *obj;
	int ret;

	if (!root_lock(heap))
		return ERR_PTR(-EDEADLK);
	ret = refcache_handle_lookup_locked(heap, id, false, &obj);
	if (!ret)
		refcache_ref_get(obj);
	refcache_heap_unlock(heap);
	/* A heap of kernel code has strong entries only: -EINVAL cannot come. */
	return ret ? ERR_PTR(-EBADF) : obj;
}
EXPORT_SYMBOL_NS_GPL(refcache_root_load, REFCACHE_NS);

/**
 * refcache_root_del() - drop a root
 * @heap: the heap the root was added to
 * @id:   the root's id; stale from now on, in this heap for good
 *
 * The heap's reference goes, which frees the object if it was the last.
 *
 * Context: process context, not under refcache_heap_lock() and not from
 * a callback; takes the heap's mutex.
 * Return: 0, -EBADF for an id that is not an open root of @heap, or
 * -EDEADLK as for refcache_root_add().
 */
int refcache_root_del(struct refcache_heap *heap, u64 id)
{
	int ret;

	if (!root_lock(heap))
		return -EDEADLK;
	ret = refcache_handle_close_locked(heap, id);
	refcache_heap_unlock(heap);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(refcache_root_del, REFCACHE_NS);

/* Close every handle of a heap that is going away. */
void refcache_handles_destroy_locked(struct refcache_heap *heap)
{
	struct refcache_objspace *os = &heap->objs;
	u32 i;

	lockdep_assert_held(&os->lock);
	for (i = 1; i < os->htab_size; i++) {
		if (os->htab[i].state != SLOT_FREE)
			refcache_handle_close_locked(heap, handle_id(heap, i, os->htab[i].gen));
		if (!(i & 1023))
			cond_resched();
	}
}

/**
 * refcache_handle_op_locked() - run one handle operation
 * @heap: the heap, locked
 * @op:   the operation, as a single ioctl or one entry of a batch gives
 *        it; @op->result is set
 *
 * Here rather than in chardev.c so that the table lookups inline.
 *
 * Return: 0 or the operation's negative errno.
 */
int refcache_handle_op_locked(struct refcache_heap *heap, struct refcache_op *op)
{
	struct refcache_obj *obj, *val;
	struct refcache_cache *cache;
	int ret;

	lockdep_assert_held(&heap->objs.lock);
	op->result = 0;
	if (op->flags || op->reserved ||
	    op->op < REFCACHE_OP_NEW || op->op > REFCACHE_OP_REFCOUNT)
		return -EINVAL;
	/* Fields an operation does not use must be zero, for later use. */
	if ((op->op == REFCACHE_OP_NEW && op->handle) ||
	    (op->op != REFCACHE_OP_NEW && op->op != REFCACHE_OP_SLOT_LOAD &&
	     op->op != REFCACHE_OP_SLOT_STORE && op->arg) ||
	    (op->op != REFCACHE_OP_SLOT_STORE && op->value))
		return -EINVAL;

	switch (op->op) {
	case REFCACHE_OP_NEW:
		cache = xa_load(&heap->objs.cache_ids, op->arg);
		if (!op->arg || !cache)
			return -ENOENT;
		obj = refcache_obj_new_locked(cache, GFP_KERNEL);
		if (IS_ERR(obj))
			return PTR_ERR(obj);
		ret = refcache_handle_new_locked(heap, obj, false, &op->result);
		/* The handle took its own reference (or failed): drop ours. */
		refcache_obj_put_locked(heap, obj);
		return ret;
	case REFCACHE_OP_CLOSE:
		return refcache_handle_close_locked(heap, op->handle);
	case REFCACHE_OP_WEAK_UPGRADE:
		ret = refcache_handle_lookup_locked(heap, op->handle, true, &obj);
		if (ret)
			return ret;
		/* A dying object may still be waiting for this lock. */
		if (!obj || !refcache_ref_get_unless_zero(obj))
			return -ENOENT;
		ret = refcache_handle_new_locked(heap, obj, false, &op->result);
		refcache_obj_put_locked(heap, obj);
		return ret;
	}

	/* The rest act on the object of a strong handle. */
	ret = refcache_handle_lookup_locked(heap, op->handle, false, &obj);
	if (ret)
		return ret;
	switch (op->op) {
	case REFCACHE_OP_DUP:
		return refcache_handle_new_locked(heap, obj, false, &op->result);
	case REFCACHE_OP_WEAK_NEW:
		return refcache_handle_new_locked(heap, obj, true, &op->result);
	case REFCACHE_OP_REFCOUNT:
		op->result = refcache_ref_read(obj);
		return 0;
	case REFCACHE_OP_SLOT_LOAD:
		if (op->arg >= obj->cache->nslots)
			return -EINVAL;
		val = obj->slots[op->arg];
		return val ? refcache_handle_new_locked(heap, val, false, &op->result) : 0;
	case REFCACHE_OP_SLOT_STORE:
		val = NULL;
		if (op->value) {
			ret = refcache_handle_lookup_locked(heap, op->value, false, &val);
			if (ret)
				return ret;
		}
		return refcache_obj_store_locked(obj, op->arg, val);
	default:
		return -EINVAL;
	}
}

/**
 * refcache_handles_roots_locked() - visit each strong handle's object
 * @heap: the heap, locked
 * @fn:   called with the object and @arg; must not open or close handles
 * @arg:  passed to @fn
 *
 * The collector's roots (heap.c's &refcache_objspace_ops.roots): a
 * strong handle holds a reference from outside the heap's graph.  An
 * object named by several handles is visited once for each.
 */
void refcache_handles_roots_locked(struct refcache_heap *heap,
				   void (*fn)(struct refcache_obj *obj, void *arg), void *arg)
{
	struct refcache_objspace *os = &heap->objs;
	struct refcache_hslot *h = os->htab;
	u32 i;

	lockdep_assert_held(&os->lock);
	for (i = 1; i < os->htab_size; i++) {
		if (h[i].state == SLOT_STRONG)
			fn(h[i].obj, arg);
		if (!(i & 1023))
			cond_resched();
	}
}

/**
 * refcache_handles_walk_locked() - visit every open handle (inspect.c)
 * @heap: the heap, locked
 * @fn:   called with @arg, the handle's id, its object (NULL for a weak
 *        handle whose object died) and whether it is weak
 * @arg:  passed to @fn, which must not open or close handles
 */
void refcache_handles_walk_locked(struct refcache_heap *heap,
				  void (*fn)(void *arg, u64 id, struct refcache_obj *obj,
					     bool weak),
				  void *arg)
{
	struct refcache_objspace *os = &heap->objs;
	struct refcache_hslot *h;
	u32 i;

	lockdep_assert_held(&os->lock);
	for (i = 1; i < os->htab_size; i++) {
		h = &os->htab[i];
		if (h->state == SLOT_STRONG)
			fn(arg, handle_id(heap, i, h->gen), h->obj, false);
		else if (h->state == SLOT_WEAK)
			fn(arg, handle_id(heap, i, h->gen), h->weak->obj, true);
		if (!(i & 1023))
			cond_resched();
	}
}

/* The heap is gone: its (empty) table goes too. */
void refcache_handles_free_locked(struct refcache_heap *heap)
{
	struct refcache_objspace *os = &heap->objs;

	lockdep_assert_held(&os->lock);
	kvfree(os->htab);
	refcache_uncharge(heap, (u64)os->htab_size * sizeof(*os->htab));
	os->htab = NULL;
	os->htab_size = 0;
	os->htab_free = 0;
}

#if IS_ENABLED(CONFIG_KUNIT)
/**
 * refcache_handle_age_slot() - test hook: set a free slot's generation
 * @heap:  the heap, locked
 * @index: a free slot of its handle table
 * @gen:   the generation it had last
 *
 * Return: 0, or -EINVAL if @index is not a free slot.
 */
int refcache_handle_age_slot(struct refcache_heap *heap, u32 index, u32 gen)
{
	struct refcache_objspace *os = &heap->objs;

	lockdep_assert_held(&os->lock);
	if (!index || index >= os->htab_size || os->htab[index].state != SLOT_FREE ||
	    os->htab[index].gen == HANDLE_GEN_MASK || gen >= HANDLE_GEN_MASK)
		return -EINVAL;
	os->htab[index].gen = gen;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(refcache_handle_age_slot);
#endif
