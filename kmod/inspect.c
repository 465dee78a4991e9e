// SPDX-License-Identifier: GPL-2.0
/*
 * Looking inside a heap: CPython's gc.get_objects(), gc.get_referents(),
 * gc.get_referrers(), gc.garbage's pages, and a dump of the whole heap
 * as one snapshot.  What the collector itself keeps and logs for
 * gc.set_debug() is garbage.c's.
 *
 * Everything here runs under the heap's mutex, like the collector, so
 * the graph it reads cannot change under it; between two calls of a
 * paged walk it can.  Handles given out are strong: the caller owns what
 * it gets, as a Python caller owns the list gc.get_objects() returns.
 * No kernel address leaves this file: objects reach user space as
 * handles or as their number in a dump.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hash.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "inspect.h"
#include "refcount.h"

/* The lists of struct refcache_objspace, in the order walks take them. */
static bool list_wanted(u32 which, int i)
{
	return which & BIT(i);
}

/* The references an object holds: slots, then its traverse callback. */
struct ref_walk {
	struct refcache_heap *heap;
	struct refcache_obj *target;	/* referrers: the object looked for */
	bool found;
	/* referents: the window of references wanted */
	u64 pos, start;
	u32 cap, got;
	bool more;
	struct refcache_obj **out;
};

static void visit_find(struct refcache_obj *child, void *arg)
{
	struct ref_walk *w = arg;

	if (child == w->target)
		w->found = true;
}

static void visit_window(struct refcache_obj *child, void *arg)
{
	struct ref_walk *w = arg;

	if (!child || child->cache->heap != w->heap)
		return;
	if (w->pos++ < w->start)
		return;
	if (w->got == w->cap) {
		w->more = true;
		return;
	}
	w->out[w->got++] = child;
}

static bool holds(struct refcache_heap *heap, struct refcache_obj *obj,
		  struct refcache_obj *target)
{
	const struct refcache_type_ops *ops = obj->cache->ops;
	struct ref_walk w = { .heap = heap, .target = target };
	u32 j;

	for (j = 0; j < obj->cache->nslots; j++)
		if (obj->slots[j] == target)
			return true;
	if (ops && ops->traverse)
		ops->traverse(obj, visit_find, &w);
	return w.found;
}

/*
 * Pick up to @cap objects into @out, from position *@cursor of the walk
 * @cmd names; *@cursor becomes the next position, or 0 at the end.
 */
static u32 pick_locked(struct refcache_heap *heap, unsigned int cmd, u32 which,
		       struct refcache_obj *target, u64 *cursor,
		       struct refcache_obj **out, u32 cap)
{
	struct refcache_objspace *os = &heap->objs;
	struct refcache_gc *gc = &os->gc;
	struct refcache_obj *obj;
	u64 pos = 0, start = *cursor;
	u32 got = 0;
	int i;

	if (cmd == REFCACHE_IOC_GC_GET_REFERENTS) {
		struct ref_walk w = { .heap = heap, .start = start, .cap = cap, .out = out };
		const struct refcache_type_ops *ops = target->cache->ops;
		u32 j;

		for (j = 0; j < target->cache->nslots; j++)
			visit_window(target->slots[j], &w);
		if (ops && ops->traverse)
			ops->traverse(target, visit_window, &w);
		*cursor = w.more ? start + w.got : 0;
		return w.got;
	}
	if (cmd == REFCACHE_IOC_GC_GARBAGE) {
		for (pos = start; pos < gc->ngarbage && got < cap; pos++)
			out[got++] = gc->garbage[pos];
		*cursor = pos < gc->ngarbage ? pos : 0;
		return got;
	}
	/* GET_OBJECTS and GET_REFERRERS walk the object lists. */
	for (i = 0; i < REFCACHE_OBJ_LISTS; i++) {
		if (!list_wanted(which, i))
			continue;
		list_for_each_entry(obj, refcache_obj_list(os, i), node) {
			if (pos++ < start)
				continue;
			if (!(pos & 1023))
				cond_resched();
			/* Dead, its putter waiting for the lock: not there any more. */
			if (!refcache_ref_read(obj))
				continue;
			if (cmd == REFCACHE_IOC_GC_GET_REFERRERS && !holds(heap, obj, target))
				continue;
			if (got == cap) {
				*cursor = pos - 1;
				return got;
			}
			out[got++] = obj;
		}
	}
	*cursor = 0;
	return got;
}

/**
 * refcache_gc_close_ids_locked() - close handles a failed call made
 * @heap: the heap, locked
 * @ids:  the handles
 * @n:    how many
 */
void refcache_gc_close_ids_locked(struct refcache_heap *heap, const u64 *ids, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		refcache_handle_close_locked(heap, ids[i]);
}

/**
 * refcache_gc_objects_locked() - a page of handles for the GC_GET_* ioctls
 * @heap: the heap, locked
 * @cmd:  REFCACHE_IOC_GC_GET_OBJECTS, _GET_REFERENTS, _GET_REFERRERS or
 *        _GARBAGE (without REFCACHE_GARBAGE_CLEAR)
 * @req:  the checked request; @req->cursor and @req->returned are set
 * @ids:  out: @req->count handle ids
 *
 * Either every handle is made or none is (the request is then unchanged).
 *
 * Context: the heap's mutex held; may sleep.
 * Return: 0, -EBADF or -EINVAL for a bad @req->handle, -ENOMEM, -EDQUOT
 * or -ENOSPC when the handles cannot be made.
 */
int refcache_gc_objects_locked(struct refcache_heap *heap, unsigned int cmd,
			       struct refcache_gc_objects *req, u64 *ids)
{
	struct refcache_obj *target = NULL, **objs;
	u64 cursor = req->cursor;
	u32 which = req->which, n, i;
	int ret;

	lockdep_assert_held(&heap->objs.lock);
	if (cmd == REFCACHE_IOC_GC_GET_REFERENTS || cmd == REFCACHE_IOC_GC_GET_REFERRERS) {
		ret = refcache_handle_lookup_locked(heap, req->handle, false, &target);
		if (ret)
			return ret;
		which = BIT(REFCACHE_OBJ_LISTS) - 1;
	}
	objs = kvmalloc_array(req->count, sizeof(*objs), GFP_KERNEL);
	if (!objs)
		return -ENOMEM;
	/*
	 * Exited owners' objects merged.  A queued biased object is off its
	 * list; heaps of /dev/refcache, whose every count change holds the
	 * mutex, never have one (Documentation/objects.rst).
	 */
	refcache_objspace_service_locked(heap);
	n = pick_locked(heap, cmd, which, target, &cursor, objs, req->count);
	for (i = 0, ret = 0; i < n && !ret; i++)
		ret = refcache_handle_new_locked(heap, objs[i], false, &ids[i]);
	if (ret)
		refcache_gc_close_ids_locked(heap, ids, i - 1);
	kvfree(objs);
	if (ret)
		return ret;
	req->cursor = cursor;
	req->returned = n;
	return 0;
}

/* ---- the heap dump --------------------------------------------------- */

u64 refcache_heap_dump_total(const struct refcache_dump *dump)
{
	return dump->n;
}

const struct refcache_dump_record *refcache_heap_dump_records(const struct refcache_dump *dump)
{
	return dump->rec;
}

/* Object -> its number in the dump: open addressing on the address. */
struct dump_map {
	struct refcache_obj **obj;
	u64 *num;
	u32 bits;
};

static u64 map_find(const struct dump_map *m, const struct refcache_obj *obj)
{
	u32 mask = BIT(m->bits) - 1, i = hash_ptr(obj, m->bits);

	for (; m->obj[i]; i = (i + 1) & mask)
		if (m->obj[i] == obj)
			return m->num[i];
	return 0;
}

static void map_add(struct dump_map *m, struct refcache_obj *obj, u64 num)
{
	u32 mask = BIT(m->bits) - 1, i = hash_ptr(obj, m->bits);

	while (m->obj[i])
		i = (i + 1) & mask;
	m->obj[i] = obj;
	m->num[i] = num;
}

struct dump_fill {
	struct refcache_heap *heap;
	struct refcache_dump *dump;
	struct dump_map *map;
	u64 nobj_first;		/* record index of object 1 */
	u64 from;		/* EDGE: the referring object */
	u64 edges;		/* counting pass: edges seen */
	u64 cap;		/* records the snapshot has room for */
	bool count;		/* counting pass */
};

static void dump_edge(struct dump_fill *f, struct refcache_obj *child, u32 index)
{
	struct refcache_dump_record *r;
	u64 to;

	if (!child || child->cache->heap != f->heap)
		return;
	if (f->count) {
		f->edges++;
		return;
	}
	to = map_find(f->map, child);
	if (!to || f->dump->n == f->cap)
		return;		/* not on a list (dying), or a callback that changed its mind */
	r = &f->dump->rec[f->dump->n++];
	r->kind = REFCACHE_DUMP_EDGE;
	r->id = f->from;
	r->value = to;
	r->index = index;
	r->generation = -1;
}

static void visit_dump_edge(struct refcache_obj *child, void *arg)
{
	dump_edge(arg, child, REFCACHE_DUMP_TRAVERSE);
}

static void dump_edges(struct dump_fill *f, struct refcache_obj *obj)
{
	const struct refcache_type_ops *ops = obj->cache->ops;
	u32 j;

	for (j = 0; j < obj->cache->nslots; j++)
		dump_edge(f, obj->slots[j], j);
	if (ops && ops->traverse)
		ops->traverse(obj, visit_dump_edge, f);
}

static void dump_handle(void *arg, u64 id, struct refcache_obj *obj, bool weak)
{
	struct dump_fill *f = arg;
	struct refcache_dump_record *r;
	u64 num = obj ? map_find(f->map, obj) : 0;

	if (f->dump->n == f->cap)
		return;
	r = &f->dump->rec[f->dump->n++];
	r->kind = REFCACHE_DUMP_HANDLE;
	r->flags = weak ? REFCACHE_DUMP_WEAK : 0;
	r->id = num;
	r->value = id;
	r->generation = -1;
	if (num && !weak)
		f->dump->rec[f->nobj_first + num - 1].index++;
}

/**
 * refcache_heap_dump_start_locked() - snapshot a heap
 * @heap: the heap, locked
 * @dump: out: the snapshot, for the caller to install or free
 *
 * Context: the heap's mutex held; may sleep.
 * Return: 0, -EDQUOT when the snapshot does not fit the heap's budget,
 * -ENOMEM.
 */
int refcache_heap_dump_start_locked(struct refcache_heap *heap, struct refcache_dump **dump)
{
	struct refcache_objspace *os = &heap->objs;
	struct dump_fill f = { .heap = heap, .count = true };
	struct refcache_dump_record *r;
	struct dump_map map = {};
	struct refcache_cache *cache;
	struct refcache_obj *obj;
	u64 nobj = 0, ncache = 0, total, bytes, mapbytes, num, i;
	struct refcache_dump *d;
	int l, ret;

	lockdep_assert_held(&os->lock);
	/* As for the walks above: every object on a list, counts a snapshot each. */
	refcache_objspace_service_locked(heap);
	list_for_each_entry(cache, &os->caches, node)
		ncache++;
	for (l = 0; l < REFCACHE_OBJ_LISTS; l++) {
		list_for_each_entry(obj, refcache_obj_list(os, l), node) {
			nobj++;
			dump_edges(&f, obj);
			if (!(nobj & 1023))
				cond_resched();
		}
	}
	total = ncache + nobj + f.edges + os->nhandles;
	map.bits = max_t(u32, ilog2(max_t(u64, nobj, 1)) + 2, 4);
	mapbytes = BIT_ULL(map.bits) * (sizeof(*map.obj) + sizeof(*map.num));
	bytes = struct_size(d, rec, total);
	ret = -ENOMEM;
	if (map.bits > 30 || total > SIZE_MAX / sizeof(*r) / 2)
		goto out;
	ret = refcache_charge(heap, bytes + mapbytes);
	if (ret)
		goto out;
	ret = -ENOMEM;
	d = kvzalloc(bytes, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	map.obj = kvcalloc(BIT(map.bits), sizeof(*map.obj), GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	map.num = kvcalloc(BIT(map.bits), sizeof(*map.num), GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!d || !map.obj || !map.num) {
		kvfree(d);
		refcache_uncharge(heap, bytes);
		goto out_map;
	}
	d->bytes = bytes;
	d->seq = ++os->gc.dump_seq;

	list_for_each_entry(cache, &os->caches, node) {
		r = &d->rec[d->n++];
		r->kind = REFCACHE_DUMP_CACHE;
		r->flags = cache->flags & REFCACHE_CACHE_FLAGS;
		r->cache_id = cache->id;
		r->value = cache->payload_size;
		r->index = cache->nslots;
		r->generation = -1;
		strscpy(r->name, cache->name, sizeof(r->name));
	}
	f.nobj_first = d->n;
	num = 0;
	for (l = 0; l < REFCACHE_OBJ_LISTS; l++) {
		list_for_each_entry(obj, refcache_obj_list(os, l), node) {
			map_add(&map, obj, ++num);
			r = &d->rec[d->n++];
			r->kind = REFCACHE_DUMP_OBJECT;
			r->cache_id = obj->cache->id;
			r->id = num;
			r->value = refcache_ref_read(obj);
			r->generation = l < REFCACHE_GC_LISTS ? l : -1;
			if (obj->cache->flags & REFCACHE_CACHE_TRACKED)
				r->flags |= REFCACHE_DUMP_TRACKED;
			if (l == REFCACHE_GC_PERMANENT)
				r->flags |= REFCACHE_DUMP_FROZEN;
			if (!hlist_empty(&obj->weak))
				r->flags |= REFCACHE_DUMP_WEAKREFD;
			if (!(num & 1023))
				cond_resched();
		}
	}
	for (i = 0; i < os->gc.ngarbage; i++) {
		num = map_find(&map, os->gc.garbage[i]);
		if (num)
			d->rec[f.nobj_first + num - 1].flags |= REFCACHE_DUMP_GARBAGE;
	}
	f.count = false;
	f.cap = total;
	f.dump = d;
	f.map = &map;
	num = 0;
	for (l = 0; l < REFCACHE_OBJ_LISTS; l++) {
		list_for_each_entry(obj, refcache_obj_list(os, l), node) {
			f.from = ++num;
			dump_edges(&f, obj);
		}
	}
	refcache_handles_walk_locked(heap, dump_handle, &f);
	*dump = d;
	ret = 0;
out_map:
	kvfree(map.obj);
	kvfree(map.num);
	refcache_uncharge(heap, mapbytes);
out:
	return ret;
}
