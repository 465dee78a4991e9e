/* SPDX-License-Identifier: GPL-2.0 */
/*
 * refcache in-kernel API, for other modules and the KUnit suites.
 * Symbols are exported in the REFCACHE namespace: users add
 * MODULE_IMPORT_NS(REFCACHE_NS) (compat.h).
 */
#ifndef _REFCACHE_H
#define _REFCACHE_H

#include <linux/bits.h>
#include <linux/compiler.h>
#include <linux/gfp.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/prefetch.h>
#include <linux/refcount.h>
#include <linux/sched.h>	/* current */
#include <linux/types.h>

#include <linux/refcache.h>	/* the uapi: REFCACHE_CACHE_* flags, limits */

struct refcache_heap;

/* Small-object allocator geometry (kmod/alloc.c, Documentation/allocator.rst). */
#define REFCACHE_ARENA_SHIFT	18
#define REFCACHE_ARENA_SIZE	BIT(REFCACHE_ARENA_SHIFT)	/* 256 KiB */
#define REFCACHE_POOL_SHIFT	12
#define REFCACHE_POOL_SIZE	BIT(REFCACHE_POOL_SHIFT)	/* 4 KiB */
#define REFCACHE_POOLS_PER_ARENA (REFCACHE_ARENA_SIZE / REFCACHE_POOL_SIZE)
#define REFCACHE_ALIGNMENT	16
#define REFCACHE_NUM_CLASSES	32
#define REFCACHE_SMALL_MAX	(REFCACHE_NUM_CLASSES * REFCACHE_ALIGNMENT)
/* Bytes at the start of each pool taken by its header. */
#define REFCACHE_POOL_OVERHEAD	80

/**
 * struct refcache_alloc_class_stats - one size class of a heap's allocator
 * @size:          block size of the class in bytes
 * @pools:         pools currently serving the class
 * @blocks_in_use: blocks handed out and not freed
 * @blocks_free:   blocks of those pools not in use (incl. per-CPU caches)
 */
struct refcache_alloc_class_stats {
	u32 size;
	u32 pools;
	u64 blocks_in_use;
	u64 blocks_free;
};

/**
 * struct refcache_alloc_stats - snapshot of a heap's allocator
 * @cls:                    per size class
 * @arenas_allocated_total: arenas ever allocated
 * @arenas_reclaimed:       arenas returned to the page allocator
 * @arenas_highwater:       most arenas held at once
 * @arenas_current:         arenas held now
 * @arena_bytes:            arenas_current * REFCACHE_ARENA_SIZE; the sum of
 *                          the five byte counts below
 * @allocated_bytes:        bytes in blocks in use
 * @free_bytes:             bytes in free blocks of used pools
 * @unused_pool_bytes:      bytes in pools serving no class
 * @pool_header_bytes:      bytes lost to pool headers
 * @quantization_bytes:     bytes at pool ends too small for a block
 * @cached_blocks:          free blocks held in per-CPU caches
 * @large_objects:          live objects over REFCACHE_SMALL_MAX
 * @large_bytes:            bytes requested by those
 * @bad_frees:              refused frees (double free, foreign pointer)
 * @bad_free_warnings:      warnings printed for them (at most one)
 * @alloc_failures:         arena or large allocations that failed
 */
struct refcache_alloc_stats {
	struct refcache_alloc_class_stats cls[REFCACHE_NUM_CLASSES];
	u64 arenas_allocated_total;
	u64 arenas_reclaimed;
	u64 arenas_highwater;
	u64 arenas_current;
	u64 arena_bytes;
	u64 allocated_bytes;
	u64 free_bytes;
	u64 unused_pool_bytes;
	u64 pool_header_bytes;
	u64 quantization_bytes;
	u64 cached_blocks;
	u64 large_objects;
	u64 large_bytes;
	u64 bad_frees;
	u64 bad_free_warnings;
	u64 alloc_failures;
};

/**
 * struct refcache_stats - module-wide counters, as in /proc/refcache/stats
 * @heaps_open:      heaps alive now
 * @heaps_created:   heaps created since the module was loaded
 * @heaps_destroyed: heaps freed since the module was loaded
 * @heaps_abandoned: heaps put while kernel code still held their objects,
 *                   kept until the module is unloaded
 * @objects:         live objects in all heaps (what max_objects limits)
 * @bytes:           bytes charged to all heaps (what max_bytes limits)
 */
struct refcache_stats {
	u64 heaps_open;
	u64 heaps_created;
	u64 heaps_destroyed;
	u64 heaps_abandoned;
	u64 objects;
	u64 bytes;
};

struct refcache_heap *refcache_heap_create(void);
struct refcache_heap *refcache_heap_get(struct refcache_heap *heap);
void refcache_heap_put(struct refcache_heap *heap);
u64 refcache_heap_id(const struct refcache_heap *heap);
pid_t refcache_heap_owner(const struct refcache_heap *heap);
void refcache_stats_read(struct refcache_stats *stats);

void *refcache_alloc(struct refcache_heap *heap, size_t size, gfp_t gfp);
void refcache_free(struct refcache_heap *heap, void *p);
void refcache_alloc_drain(struct refcache_heap *heap);
void refcache_alloc_stats_read(struct refcache_heap *heap,
			       struct refcache_alloc_stats *st);
unsigned int refcache_alloc_usable_arenas(struct refcache_heap *heap,
					  u32 *nfree, unsigned int max);
void refcache_alloc_fail_next(struct refcache_heap *heap, unsigned int n);

/*
 * Objects.  An object is a header, @nslots reference slots and a payload;
 * kernel users may instead keep references in the payload and describe
 * them with callbacks, as CPython types do with tp_traverse and tp_clear.
 * Unless their kernel-doc says otherwise, the functions below may sleep
 * (they take the heap's mutex).  Every reference an object holds, in a
 * slot or in its payload, is to an object of the same heap
 * (Documentation/objects.rst, "References across heaps").
 */
struct refcache_cache;
struct refcache_obj;

typedef void (*refcache_visit_t)(struct refcache_obj *child, void *arg);

/**
 * struct refcache_type_ops - callbacks of a kernel cache
 * @traverse: call @visit once for each object this one holds a strong
 *            reference to (for the cycle collector)
 * @clear:    drop those references with refcache_obj_put()
 * @release:  free whatever else the payload owns; the memory of the
 *            object itself belongs to refcache
 *
 * When an object dies refcache calls @clear and then @release, each
 * exactly once; a put from @clear joins the running release, so long
 * chains are released iteratively.  Every callback runs with the heap's
 * mutex held.  @traverse may report only objects of the object's own
 * heap: refcache warns about any other and ignores it.
 *
 * The callbacks are code of the module that created the cache.  Once that
 * module is unloaded they are never called again: a cache it left behind
 * is warned about, and its objects are freed, if ever, without them
 * (Documentation/objects.rst, "Heap lifetime").
 */
struct refcache_type_ops {
	void (*traverse)(struct refcache_obj *obj, refcache_visit_t visit, void *arg);
	void (*clear)(struct refcache_obj *obj);
	void (*release)(struct refcache_obj *obj);
};

struct refcache_cache *__refcache_cache_create(struct refcache_heap *heap,
					       const char *name, size_t payload_size,
					       unsigned int nslots, unsigned int flags,
					       const struct refcache_type_ops *ops,
					       struct module *owner);

/*
 * The calling module owns the cache's callbacks: refcache_cache_create()
 * records it, so that its unload can disarm what it left behind.
 */
#define refcache_cache_create(heap, name, payload_size, nslots, flags, ops) \
	__refcache_cache_create(heap, name, payload_size, nslots, flags, ops, THIS_MODULE)
int refcache_cache_destroy(struct refcache_cache *cache);
struct refcache_obj *refcache_obj_alloc(struct refcache_cache *cache);
bool refcache_obj_get_unless_zero(struct refcache_obj *obj);
struct refcache_obj *__refcache_obj_get(struct refcache_obj *obj);
void __refcache_obj_get_bad(struct refcache_obj *obj, int old);
void __refcache_obj_put(struct refcache_obj *obj);
void __refcache_obj_release(struct refcache_obj *obj);

/*
 * The first 8 bytes of every object (the rest of the header is private):
 * what the inline get and put below need, so that the atomic mode costs
 * a refcount_t operation and no call, and a biased object's owner a
 * plain increment or decrement and no call.  A biased object's count
 * word names its owner instead (Documentation/objects.rst, "Biased
 * reference counting").
 */
struct refcache_obj_head {
	union {
		refcount_t ref;		/* atomic mode: the count */
		u32 owner;		/* biased mode: the owner's id, 0: none */
	};
	u32 flags;
};

#define REFCACHE_OBJ_HEAD_BIASED	0x20U	/* flags: a biased count */

/*
 * The 8 bytes in front of a biased object: one aligned word, so that the
 * collector reads both counts with one load.  Private to refcache; here
 * for the inline owner path only.
 */
struct refcache_bias_counts {
	u32 local;		/* the owner's references: written by the owner */
	atomic_t shared;	/* everyone else's, atomically; state in the low bits */
};

/* The shared count: state in the low bits, then a signed count. */
#define REFCACHE_BIAS_UNMERGED	0
#define REFCACHE_BIAS_QUEUED	2
#define REFCACHE_BIAS_MERGED	3
#define REFCACHE_BIAS_STATE	3
#define REFCACHE_BIAS_SHIFT	2
#define REFCACHE_BIAS_ONE	4	/* one reference: 1 << REFCACHE_BIAS_SHIFT, an int */
/* A raw shared count this far from zero, either way, is saturated. */
#define REFCACHE_BIAS_SAT_HIGH	0x40000000	/* an int: compared with negative counts */
/* The owner counts up to this in local, then in shared. */
#define REFCACHE_BIAS_LOCAL_MAX	((1U << 27) - 1)
/* Owner ids, module-wide: id -> pinned task, 0 for none (biased.c). */
#define REFCACHE_BIAS_IDS	4096
extern struct task_struct *refcache_bias_tasks[REFCACHE_BIAS_IDS];

static inline bool refcache_obj_head_biased(const struct refcache_obj *obj)
{
	const struct refcache_obj_head *h = (const struct refcache_obj_head *)obj;

	/* Constant for the object's life; the collector changes other bits. */
	return data_race(READ_ONCE(h->flags)) & REFCACHE_OBJ_HEAD_BIASED;
}

/*
 * Ask for the header's line for writing before reading the mode from it.
 * Without this, two CPUs on one object each read the line shared and
 * then upgrade it for the atomic, two transfers per operation where
 * refcount_t's single atomic makes one: natively 1.10x refcount_t with
 * two threads on one count, 1.01x with it (Documentation/objects.rst).
 */
static __always_inline void refcache_obj_head_prefetchw(const struct refcache_obj *obj)
{
	prefetchw(obj);
}

static __always_inline struct refcache_bias_counts *
refcache_bias_counts(const struct refcache_obj *obj)
{
	return (struct refcache_bias_counts *)obj - 1;
}

/*
 * Is current the owner of this biased object?  An id names a task only
 * while that task is pinned and some object may name it; id 0 names
 * nobody (refcache_bias_tasks[0] is always NULL), so there is no branch
 * for an object without an owner.
 */
static __always_inline bool refcache_bias_mine(const struct refcache_obj *obj)
{
	const struct refcache_obj_head *h = (const struct refcache_obj_head *)obj;
	u32 id = READ_ONCE(h->owner) & (REFCACHE_BIAS_IDS - 1);

	return READ_ONCE(refcache_bias_tasks[id]) == current;
}

/**
 * refcache_obj_get() - take another reference
 * @obj: an object the caller holds a reference to
 *
 * Saturates instead of overflowing; warns on a get from zero.  The owner
 * of a biased object counts in its local count, inline: an interrupt
 * sees current as the task it interrupted, so only task context may.
 *
 * Context: any context, IRQ included; never sleeps, takes no lock.
 * Return: @obj.
 */
static __always_inline struct refcache_obj *refcache_obj_get(struct refcache_obj *obj)
{
	struct refcache_bias_counts *c;
	u32 local;
	int old;

	refcache_obj_head_prefetchw(obj);
	if (likely(!refcache_obj_head_biased(obj))) {
		refcount_inc(&((struct refcache_obj_head *)obj)->ref);
		return obj;
	}
	c = refcache_bias_counts(obj);
	if (likely(refcache_bias_mine(obj) && in_task())) {
		local = READ_ONCE(c->local);
		if (likely(local < REFCACHE_BIAS_LOCAL_MAX)) {
			WRITE_ONCE(c->local, local + 1);
			return obj;
		}
	}
	/* Anyone else: CPython's _Py_atomic_add_ssize() on ob_ref_shared. */
	old = atomic_fetch_add_relaxed(REFCACHE_BIAS_ONE, &c->shared);
	if (unlikely(old == REFCACHE_BIAS_MERGED ||
		     old >= REFCACHE_BIAS_SAT_HIGH - REFCACHE_BIAS_ONE ||
		     old <= -REFCACHE_BIAS_SAT_HIGH))
		__refcache_obj_get_bad(obj, old);
	return obj;
}

/**
 * refcache_obj_put() - drop a reference; the last one frees the object
 * @obj: the object; NULL is ignored
 *
 * At zero the object's slots are emptied, its clear and release callbacks
 * run and its memory goes back to the heap, iteratively for whatever that
 * frees in turn.  An underflow warns and leaks rather than freeing twice.
 * The owner of a biased object drops all but its last local reference
 * inline.
 *
 * Context: process context; may take the heap's mutex (also a biased
 * put that is not the last, to queue the object for its owner).  Safe to
 * call from a clear or release callback.
 */
static __always_inline void refcache_obj_put(struct refcache_obj *obj)
{
	struct refcache_bias_counts *c;
	u32 local;
	int raw;

	if (!obj)
		return;
	refcache_obj_head_prefetchw(obj);
	if (likely(!refcache_obj_head_biased(obj))) {
		if (refcount_dec_and_test(&((struct refcache_obj_head *)obj)->ref))
			__refcache_obj_release(obj);
		return;
	}
	c = refcache_bias_counts(obj);
	/* Process context by contract: no interrupt is in the middle of us. */
	if (likely(refcache_bias_mine(obj))) {
		local = READ_ONCE(c->local);
		if (likely(local > 1)) {
			/*
			 * Our accesses to @obj before whoever frees it, as
			 * refcount_t's release: pairs with the collector's
			 * acquire of both counts.
			 */
			smp_store_release(&c->local, local - 1);
			return;
		}
	} else {
		/*
		 * Anyone else, while the count stays clear of every edge
		 * (zero, the last merged reference, saturation): one
		 * compare-and-exchange, a release as refcount_t's put.
		 */
		raw = atomic_read(&c->shared);
		if (likely(raw >= ((raw & REFCACHE_BIAS_STATE) == REFCACHE_BIAS_MERGED ?
				   2 * REFCACHE_BIAS_ONE : REFCACHE_BIAS_ONE) &&
			   raw < REFCACHE_BIAS_SAT_HIGH &&
			   atomic_try_cmpxchg_release(&c->shared, &raw, raw - REFCACHE_BIAS_ONE)))
			return;
	}
	__refcache_obj_put(obj);
}

void *refcache_obj_payload(struct refcache_obj *obj);
unsigned int refcache_obj_refcount(const struct refcache_obj *obj);
int refcache_obj_store(struct refcache_obj *obj, unsigned int slot,
		       struct refcache_obj *value);
struct refcache_obj *refcache_obj_load(struct refcache_obj *obj, unsigned int slot);

/* Roots: strong references the heap holds for kernel code, named by id. */
int refcache_root_add(struct refcache_obj *obj, u64 *id);
struct refcache_obj *refcache_root_load(struct refcache_heap *heap, u64 id);
int refcache_root_del(struct refcache_heap *heap, u64 id);

/*
 * The cycle collector (Documentation/collector.rst): CPython's gc module
 * for one heap.  Kernel caches that keep references in their payload may
 * change them only with the heap's lock held (refcache_heap_lock()), so
 * that no collection sees half a change.
 */
struct refcache_gc_gen_stats;

/**
 * struct refcache_gc_result - what a collection found
 * @unreachable:   unreachable objects found (gc.collect()'s value)
 * @collected:     of those, freed
 * @uncollectable: of those, left alive (see refcache_gc_collect())
 */
struct refcache_gc_result {
	u64 unreachable;
	u64 collected;
	u64 uncollectable;
};

void refcache_heap_lock(struct refcache_heap *heap);
void refcache_heap_unlock(struct refcache_heap *heap);
int refcache_gc_collect(struct refcache_heap *heap, unsigned int generation,
			struct refcache_gc_result *res);
void refcache_gc_enable(struct refcache_heap *heap, bool on);
bool refcache_gc_isenabled(struct refcache_heap *heap);
void refcache_gc_set_threshold(struct refcache_heap *heap, u32 t0, u32 t1, u32 t2);
void refcache_gc_get_threshold(struct refcache_heap *heap, u32 t[3]);
void refcache_gc_get_count(struct refcache_heap *heap, u64 c[3]);
u64 refcache_gc_freeze(struct refcache_heap *heap);
u64 refcache_gc_unfreeze(struct refcache_heap *heap);
u64 refcache_gc_get_freeze_count(struct refcache_heap *heap);
void refcache_gc_get_stats(struct refcache_heap *heap, struct refcache_gc_gen_stats *st);
u64 refcache_gc_collections(struct refcache_heap *heap, unsigned int gen);
void refcache_gc_flush(struct refcache_heap *heap);
bool refcache_obj_is_tracked(const struct refcache_obj *obj);
int refcache_obj_generation(const struct refcache_obj *obj);

#endif /* _REFCACHE_H */
