// SPDX-License-Identifier: GPL-2.0
/*
 * Handles: what user space holds.  A handle id is
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

/*
 * A table entry is a handle pointer (bit 0 clear), or a free slot: bit 0
 * set, bits 24..1 the next free index, bits 55..32 the generation the
 * slot had last.
 */
#define HTAB_FREE(next, gen)	(((u64)(gen) << 32) | ((u64)(next) << 1) | 1)
#define HTAB_IS_FREE(e)		((e) & 1)
#define HTAB_NEXT(e)		((u32)((e) >> 1) & HANDLE_INDEX_MASK)
#define HTAB_GEN(e)		((u32)((e) >> 32) & HANDLE_GEN_MASK)

static struct refcache_handle *handle_find(struct refcache_heap *heap, u64 id)
{
	struct refcache_objspace *os = &heap->objs;
	u32 index = id & HANDLE_INDEX_MASK;
	struct refcache_handle *h;
	u64 e;

	if ((id >> 48) != os->tag || !index || index >= os->htab_size)
		return NULL;
	e = os->htab[index];
	if (HTAB_IS_FREE(e))
		return NULL;
	h = (struct refcache_handle *)(unsigned long)e;
	if (h->gen != ((id >> HANDLE_INDEX_BITS) & HANDLE_GEN_MASK))
		return NULL;
	return h;
}

/* Take a free table index, growing the table (doubling) when it is full. */
static int htab_get(struct refcache_heap *heap, u32 *index)
{
	struct refcache_objspace *os = &heap->objs;
	u32 i, size, old = os->htab_size;
	u64 *tab;
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
		/* New entries 1.. (or old size..) chain to each other, in order. */
		for (i = max(old, 1U); i < size; i++)
			tab[i] = HTAB_FREE(i + 1 < size ? i + 1 : 0, 0);
		tab[0] = HTAB_FREE(0, 0);
		os->htab_free = max(old, 1U);
		kvfree(os->htab);
		refcache_uncharge(heap, (u64)old * sizeof(*tab));
		os->htab = tab;
		os->htab_size = size;
	}
	*index = os->htab_free;
	os->htab_free = HTAB_NEXT(os->htab[*index]);
	return 0;
}

/* Free a slot for reuse, or retire it for good when its generations ran out. */
static void htab_put(struct refcache_objspace *os, u32 index, u32 gen)
{
	if (gen == HANDLE_GEN_MASK) {
		os->htab[index] = HTAB_FREE(0, gen);
		return;
	}
	os->htab[index] = HTAB_FREE(os->htab_free, gen);
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
	h = __refcache_alloc(heap, sizeof(*h), GFP_KERNEL, &ret);
	if (!h)
		return ret;
	ret = htab_get(heap, &index);
	if (ret) {
		refcache_free(heap, h);
		return ret;
	}
	h->gen = HTAB_GEN(os->htab[index]) + 1;
	os->htab[index] = (unsigned long)h;
	h->obj = obj;
	h->weak = weak;
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
	htab_put(&heap->objs, id & HANDLE_INDEX_MASK, h->gen);
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
		h = (struct refcache_handle *)(unsigned long)os->htab[i];
		refcache_handle_close_locked(heap, handle_id(heap, i, h->gen));
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

/* The object dies: its weak handles (up to 2^24 of them) point at nothing. */
void refcache_obj_clear_weak_locked(struct refcache_obj *obj)
{
	struct refcache_handle *h;
	struct hlist_node *tmp;
	unsigned long n = 0;

	hlist_for_each_entry_safe(h, tmp, &obj->weak, weak_node) {
		hlist_del(&h->weak_node);
		h->obj = NULL;
		if (!(++n & 1023))
			cond_resched();
	}
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
	if (!index || index >= os->htab_size || !HTAB_IS_FREE(os->htab[index]) ||
	    HTAB_GEN(os->htab[index]) == HANDLE_GEN_MASK || gen >= HANDLE_GEN_MASK)
		return -EINVAL;
	os->htab[index] = HTAB_FREE(HTAB_NEXT(os->htab[index]), gen);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(refcache_handle_age_slot);
#endif
