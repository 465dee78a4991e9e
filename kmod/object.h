/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Objects, caches and handles of one heap (object.c, handle.c).
 * Locking: Documentation/objects.rst.
 */
#ifndef _REFCACHE_OBJECT_H
#define _REFCACHE_OBJECT_H

#include <linux/bits.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/xarray.h>

#include <linux/refcache.h>

#include "gc.h"
#include "refcache.h"

struct refcache_heap;

/**
 * struct refcache_cache - an object type of one heap
 * @heap:         owner
 * @id:           id in the heap's cache table (user caches), else 0
 * @flags:        REFCACHE_CACHE_* (uapi) and REFCACHE_CACHE_KERNEL
 * @payload_size: payload bytes per object
 * @nslots:       reference slots per object
 * @obj_size:     bytes per object: header, slots and payload
 * @ops:          kernel callbacks, or NULL for slot-only objects; set to
 *                NULL under the heap's mutex when @owner is unloaded
 * @owner:        the module whose code @ops points to (kernel caches)
 * @active:       live objects
 * @total:        objects ever allocated
 * @node:         on the heap's cache list
 * @name:         for /proc/refcache/caches
 */
struct refcache_cache {
	struct refcache_heap *heap;
	u32 id;
	u32 flags;
	u32 payload_size;
	u32 nslots;
	size_t obj_size;
	const struct refcache_type_ops *ops;
	struct module *owner;
	u64 active;
	u64 total;
	struct list_head node;
	char name[REFCACHE_NAME_LEN];
};

#define REFCACHE_CACHE_KERNEL	BIT(31)	/* created by a kernel user */

/**
 * struct refcache_obj - the header every object starts with
 * @ref:   strong references: handles, slots, kernel holders (atomic mode)
 * @bias_owner: biased mode: the owner's id (refcache_bias_tasks[]), 0
 *         once merged; the counts are in front of the header (refcount.h)
 * @flags: REFCACHE_OBJ_*
 * @cache: the object's type
 * @node:  on the heap's object list (tracked or untracked), or on the
 *         release list once the count reached zero
 * @weak:  weak handles to this object, cleared when it dies
 * @slots: reference slots, then the payload
 */
struct refcache_obj {
	union {
		refcount_t ref;
		u32 bias_owner;
	};
	u32 flags;
	struct refcache_cache *cache;
	struct list_head node;
	struct hlist_head weak;
	struct refcache_obj *slots[];
};

/**
 * struct refcache_bias_owner - an owner task of a heap's biased objects
 * @task:  the owner, pinned with get_task_struct(); NULL for a free entry
 * @id:    its id in refcache_bias_tasks[], which its objects name
 * @queue: its objects that non-owners' puts queued for it to merge
 * @owned: its objects not merged yet (the owner's own merge decrements
 *         it without the heap's mutex)
 */
struct refcache_bias_owner {
	struct task_struct *task;
	u32 id;
	struct list_head queue;
	atomic_long_t owned;
};

/**
 * struct refcache_bias_heap - a heap's biased reference counting (biased.c)
 * @owners:   REFCACHE_BIAS_OWNERS entries, allocated with the heap's first
 *            biased cache and freed at teardown; read locklessly by owners
 * @nowners:  entries in use
 * @hint:     entry of the last owner that allocated
 * @nqueued:  objects on the owners' queues
 * @chardev:  a heap of /dev/refcache: every count changes under the mutex
 */
struct refcache_bias_heap {
	struct refcache_bias_owner *owners;
	u32 nowners;
	u32 hint;
	u64 nqueued;
	bool chardev;
};

/**
 * struct refcache_objspace_ops - what object.c needs from the files above it
 * @service:       biased.c: the owners' part of taking the mutex, for a
 *                 heap with owners (refcache_objspace_service_locked())
 * @queue:         biased.c: a non-owner's put left a biased object queued
 * @cache_init:    biased.c: a biased cache is being created (the owner
 *                 table); 0 or a negative errno
 * @obj_init:      biased.c: a new biased object, on its list: its owner
 * @collect_due:   heap.c: generation 0 passed its threshold: queue an
 *                 automatic collection
 * @collect_quota: gc.c: an allocation failed a budget: collect once;
 *                 true if that freed something
 * @roots:         handle.c: call @fn with @arg on the object of each
 *                 strong handle, the references from outside a heap of
 *                 user space (the collector's mark_alive step); called
 *                 with the mutex held, once per collection at most
 *
 * object.c is below the two policies and the heaps (Documentation/
 * design.rst) and calls none of them by name: like file_operations, the
 * table is declared here, in the lower file's header, and filled in
 * above, by heap.c for every heap.  None is on a get's or put's fast
 * path.
 */
struct refcache_objspace_ops {
	void (*service)(struct refcache_heap *heap);
	void (*queue)(struct refcache_heap *heap, struct refcache_obj *obj);
	int (*cache_init)(struct refcache_heap *heap, u32 flags);
	void (*obj_init)(struct refcache_heap *heap, struct refcache_obj *obj);
	void (*collect_due)(struct refcache_heap *heap);
	bool (*collect_quota)(struct refcache_heap *heap);
	void (*roots)(struct refcache_heap *heap,
		      void (*fn)(struct refcache_obj *obj, void *arg), void *arg);
};

/**
 * struct refcache_weakref - what a weak handle points at (handle.c)
 * @obj:  the object, or NULL once it died
 * @node: on @obj's weak list, emptied when it dies (object.c)
 */
struct refcache_weakref {
	struct refcache_obj *obj;
	struct hlist_node node;
};

/**
 * struct refcache_objspace - what a heap holds besides its allocator
 * @lock:        serialises every change to the graph, the handle and cache
 *               tables and the counters below; the collector takes it too
 * @ops:         the hooks of the files above (heap.c's table)
 * @locker:      task holding @lock, so a put from inside a release
 *               callback joins the running release instead of deadlocking
 * @caches:      all caches
 * @cache_ids:   user cache id -> cache
 * @htab:        handle table: index -> slot (handle.c)
 * @htab_size:   entries in @htab (index 0 is never used)
 * @htab_free:   first free index, 0 when none
 * @gc:          the collector, with the generation lists that hold the
 *               objects of tracked caches (gc.h)
 * @untracked:   all other objects
 * @release:     objects whose count reached zero, waiting to be freed
 * @releasing:   a release loop is running (under @lock)
 * @dying:       the heap is being torn down: puts are ignored
 * @cache_next:  next user cache id to try (ids are handed out cyclically)
 * @tag:         this heap's tag in handle ids
 * @objects:     live objects
 * @nhandles:    open handles
 * @ncaches:     caches
 * @max_objects: limit on @objects
 * @max_bytes:   limit on the bytes charged to the heap (limits.c);
 *               written under @lock, read without it
 * @bias:        biased reference counting
 */
struct refcache_objspace {
	struct mutex lock;	/* see above */
	const struct refcache_objspace_ops *ops;
	struct task_struct *locker;
	struct list_head caches;
	struct xarray cache_ids;
	struct refcache_hslot *htab;
	u32 htab_size;
	u32 htab_free;
	struct refcache_gc gc;
	struct list_head untracked;
	struct list_head release;
	bool releasing;
	bool dying;
	u32 cache_next;
	u32 tag;
	u64 objects;
	u64 nhandles;
	u64 ncaches;
	u64 max_objects;
	u64 max_bytes;
	struct refcache_bias_heap bias;
};

/* object.c */
void refcache_objspace_lock(struct refcache_heap *heap);
void refcache_objspace_service_locked(struct refcache_heap *heap);
void refcache_objspace_init(struct refcache_heap *heap, const struct refcache_objspace_ops *ops);
void refcache_objspace_free_all_locked(struct refcache_heap *heap);
void refcache_obj_put_locked(struct refcache_heap *heap, struct refcache_obj *obj);
void refcache_obj_release_locked(struct refcache_heap *heap, struct refcache_obj *obj);
void refcache_obj_traverse(struct refcache_obj *obj, refcache_visit_t visit, void *arg);
void refcache_obj_free_collected_locked(struct refcache_heap *heap, struct refcache_obj **v,
					unsigned int n);
/* Biased garbage forgotten and not yet counted out of its owners (object.c). */
struct refcache_obj_forget {
	u32 id;		/* the owner of the run */
	long n;		/* its objects so far */
};

void *refcache_obj_forget_locked(struct refcache_heap *heap, struct refcache_obj *obj,
				 struct refcache_obj_forget *f);
void refcache_obj_forget_end_locked(struct refcache_heap *heap, struct refcache_obj_forget *f);
void refcache_obj_free_dead_locked(struct refcache_heap *heap, void * const *blocks,
				   unsigned long n);
void refcache_obj_clear_weak_locked(struct refcache_obj *obj);
void refcache_obj_unlink_locked(struct refcache_heap *heap, struct refcache_obj *obj);
void refcache_obj_relink_locked(struct refcache_heap *heap, struct refcache_obj *obj);
struct refcache_obj *refcache_obj_new_locked(struct refcache_cache *cache, gfp_t gfp);
struct refcache_cache *refcache_cache_create_locked(struct refcache_heap *heap,
						    const char *name, u32 payload_size,
						    u32 nslots, u32 flags,
						    const struct refcache_type_ops *ops);
int refcache_cache_destroy_locked(struct refcache_cache *cache);
bool refcache_kernel_caches_live(void);
unsigned int refcache_objspace_disarm_module_locked(struct refcache_heap *heap,
						    struct module *mod);
int refcache_obj_store_locked(struct refcache_obj *obj, u32 slot,
			      struct refcache_obj *value);

/* handle.c */
struct refcache_hslot;
int refcache_handle_new_locked(struct refcache_heap *heap, struct refcache_obj *obj,
			       bool weak, u64 *id);
int refcache_handle_lookup_locked(struct refcache_heap *heap, u64 id, bool weak,
				  struct refcache_obj **obj);
int refcache_handle_close_locked(struct refcache_heap *heap, u64 id);
void refcache_handles_destroy_locked(struct refcache_heap *heap);
void refcache_handles_free_locked(struct refcache_heap *heap);
int refcache_handle_op_locked(struct refcache_heap *heap, struct refcache_op *op);
int refcache_handle_age_slot(struct refcache_heap *heap, u32 index, u32 gen);
void refcache_handles_roots_locked(struct refcache_heap *heap,
				   void (*fn)(struct refcache_obj *obj, void *arg), void *arg);
void refcache_handles_walk_locked(struct refcache_heap *heap,
				  void (*fn)(void *arg, u64 id, struct refcache_obj *obj,
					     bool weak),
				  void *arg);

/* The lists live objects of a heap are on: the generations, then untracked. */
#define REFCACHE_OBJ_LISTS	(REFCACHE_GC_LISTS + 1)

/* Does current hold the heap's mutex (refcache_heap_lock())? */
static inline bool refcache_objspace_locked_by_me(struct refcache_objspace *os)
{
	return READ_ONCE(os->locker) == current;
}

static inline struct list_head *refcache_obj_list(struct refcache_objspace *os, int i)
{
	return i < REFCACHE_GC_LISTS ? &os->gc.gen[i] : &os->untracked;
}

static inline void *refcache_obj_payload_of(struct refcache_obj *obj)
{
	return &obj->slots[obj->cache->nslots];
}

#endif /* _REFCACHE_OBJECT_H */
