// SPDX-License-Identifier: GPL-2.0
/*
 * Handles: what user space holds.  A handle id is
 *
 *   bits 63..48  the heap's tag, so another heap's ids are refused
 *   bits 47..24  a generation, so a closed id never reaches a new handle
 *   bits 23..0   the index in the heap's handle table
 *
 * The table is a flat array, like a file descriptor table: everything
 * here runs under the heap's mutex, so a lookup is a bounds check and a
 * load, and free entries form a list threaded through the array.
 *
 * A strong handle owns one reference to its object; a weak handle owns
 * none and sits on the object's weak list, which is emptied when the
 * object dies.  Everything here runs under the heap's mutex.
 */
#include <linux/mm.h>
#include <linux/slab.h>

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

#define HTAB_FREE(next)		(((unsigned long)(next) << 1) | 1)
#define HTAB_IS_FREE(e)		((e) & 1)
#define HTAB_NEXT(e)		((u32)((e) >> 1))

static struct refcache_handle *handle_find(struct refcache_heap *heap, u64 id)
{
	struct refcache_objspace *os = &heap->objs;
	u32 index = id & HANDLE_INDEX_MASK;
	struct refcache_handle *h;
	unsigned long e;

	if ((id >> 48) != os->tag || !index || index >= os->htab_size)
		return NULL;
	e = os->htab[index];
	if (HTAB_IS_FREE(e))
		return NULL;
	h = (struct refcache_handle *)e;
	if (h->gen != ((id >> HANDLE_INDEX_BITS) & HANDLE_GEN_MASK))
		return NULL;
	return h;
}

/* Take a free table index, growing the table (doubling) when it is full. */
static int htab_get(struct refcache_objspace *os, u32 *index)
{
	unsigned long *tab;
	u32 i, size;

	if (!os->htab_free) {
		if (os->htab_size > HANDLE_INDEX_MASK)
			return -ENOSPC;
		size = os->htab_size ? min_t(u32, os->htab_size * 2, HANDLE_INDEX_MASK + 1) : 64;
		tab = kvmalloc_array(size, sizeof(*tab), GFP_KERNEL_ACCOUNT);
		if (!tab)
			return -ENOMEM;
		if (os->htab)
			memcpy(tab, os->htab, os->htab_size * sizeof(*tab));
		/* New entries 1.. (or old size..) chain to each other, in order. */
		for (i = max(os->htab_size, 1U); i < size; i++)
			tab[i] = HTAB_FREE(i + 1 < size ? i + 1 : 0);
		tab[0] = HTAB_FREE(0);
		os->htab_free = max(os->htab_size, 1U);
		kvfree(os->htab);
		os->htab = tab;
		os->htab_size = size;
	}
	*index = os->htab_free;
	os->htab_free = HTAB_NEXT(os->htab[*index]);
	return 0;
}

static void htab_put(struct refcache_objspace *os, u32 index)
{
	os->htab[index] = HTAB_FREE(os->htab_free);
	os->htab_free = index;
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
	ret = htab_get(os, &index);
	if (ret) {
		refcache_free(heap, h);
		return ret;
	}
	os->htab[index] = (unsigned long)h;
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
	htab_put(&heap->objs, id & HANDLE_INDEX_MASK);
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
	struct refcache_objspace *os = &heap->objs;
	struct refcache_handle *h;
	u32 i;

	lockdep_assert_held(&os->lock);
	for (i = 1; i < os->htab_size; i++) {
		if (HTAB_IS_FREE(os->htab[i]))
			continue;
		h = (struct refcache_handle *)os->htab[i];
		refcache_handle_close_locked(heap, handle_id(heap, i, h->gen));
		if (!(i & 1023))
			cond_resched();
	}
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
