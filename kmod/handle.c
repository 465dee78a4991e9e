// SPDX-License-Identifier: GPL-2.0
/*
 * Handles: what user space holds.  A handle id is
 *
 *   bits 63..48  the heap's tag, so another heap's ids are refused
 *   bits 47..24  a generation, so a closed id never reaches a new handle
 *   bits 23..0   the index in the heap's handle table (an xarray)
 *
 * A strong handle owns one reference to its object; a weak handle owns
 * none and sits on the object's weak list, which is emptied when the
 * object dies.  Everything here runs under the heap's mutex.
 */
#include <linux/slab.h>
#include <linux/xarray.h>

#include "internal.h"

#define HANDLE_INDEX_BITS	24
#define HANDLE_GEN_BITS		24
#define HANDLE_INDEX_MASK	((1U << HANDLE_INDEX_BITS) - 1)
#define HANDLE_GEN_MASK		((1U << HANDLE_GEN_BITS) - 1)

/**
 * struct refcache_handle - one entry of a heap's handle table
 * @obj:       the object, or NULL for a weak handle whose object died
 * @gen:       generation, part of the id
 * @weak:      weak handle (owns no reference)
 * @weak_node: on @obj's weak list
 */
struct refcache_handle {
	struct refcache_obj *obj;
	u32 gen;
	bool weak;
	struct hlist_node weak_node;
};

static u64 handle_id(struct refcache_heap *heap, u32 index, u32 gen)
{
	return ((u64)heap->objs.tag << 48) | ((u64)gen << HANDLE_INDEX_BITS) | index;
}

static struct refcache_handle *handle_find(struct refcache_heap *heap, u64 id)
{
	struct refcache_handle *h;

	if ((id >> 48) != heap->objs.tag)
		return NULL;
	h = xa_load(&heap->objs.handles, id & HANDLE_INDEX_MASK);
	if (!h || h->gen != ((id >> HANDLE_INDEX_BITS) & HANDLE_GEN_MASK))
		return NULL;
	return h;
}

/**
 * refcache_handle_new_locked() - give user space a handle to an object
 * @heap: the heap, locked
 * @obj:  the object; a strong handle takes a new reference to it
 * @weak: make a weak handle
 * @id:   out: the handle's id
 *
 * Return: 0, -ENOMEM, or -ENOSPC when the table is full.
 */
int refcache_handle_new_locked(struct refcache_heap *heap, struct refcache_obj *obj,
			       bool weak, u64 *id)
{
	struct refcache_objspace *os = &heap->objs;
	struct refcache_handle *h;
	u32 index;
	int ret;

	lockdep_assert_held(&os->lock);
	/* From the heap's own allocator: cheaper than kmalloc, and charged alike. */
	h = refcache_alloc(heap, sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	ret = xa_alloc(&os->handles, &index, h, XA_LIMIT(1, HANDLE_INDEX_MASK),
		       GFP_KERNEL_ACCOUNT);
	if (ret) {
		refcache_free(heap, h);
		return ret == -EBUSY ? -ENOSPC : ret;
	}
	h->obj = obj;
	h->weak = weak;
	h->gen = os->handle_gen;
	os->handle_gen = (os->handle_gen + 1) & HANDLE_GEN_MASK ?: 1;
	if (weak)
		hlist_add_head(&h->weak_node, &obj->weak);
	else
		refcount_inc(&obj->ref);
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
	struct refcache_handle *h;

	lockdep_assert_held(&heap->objs.lock);
	h = handle_find(heap, id);
	if (!h)
		return -EBADF;
	if (h->weak != weak)
		return -EINVAL;
	*obj = h->obj;
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
	struct refcache_handle *h;

	lockdep_assert_held(&heap->objs.lock);
	h = handle_find(heap, id);
	if (!h)
		return -EBADF;
	xa_erase(&heap->objs.handles, id & HANDLE_INDEX_MASK);
	heap->objs.nhandles--;
	if (h->weak) {
		if (h->obj)
			hlist_del(&h->weak_node);
	} else {
		refcache_obj_put_locked(heap, h->obj);
	}
	refcache_free(heap, h);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(refcache_handle_close_locked);

/* Close every handle of a heap that is going away. */
void refcache_handles_destroy_locked(struct refcache_heap *heap)
{
	unsigned long index;
	struct refcache_handle *h;

	lockdep_assert_held(&heap->objs.lock);
	xa_for_each(&heap->objs.handles, index, h)
		refcache_handle_close_locked(heap, handle_id(heap, index, h->gen));
}

/* The object dies: its weak handles now point at nothing. */
void refcache_obj_clear_weak_locked(struct refcache_obj *obj)
{
	struct refcache_handle *h;
	struct hlist_node *tmp;

	hlist_for_each_entry_safe(h, tmp, &obj->weak, weak_node) {
		hlist_del(&h->weak_node);
		h->obj = NULL;
	}
}
