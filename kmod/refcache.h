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
#include <linux/refcount.h>
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
void __refcache_obj_put(struct refcache_obj *obj);
void __refcache_obj_release(struct refcache_obj *obj);

/*
 * The first 8 bytes of every object (the rest of the header is private):
 * what the inline get and put below need, so that the atomic mode costs
 * a refcount_t operation and no call.
 */
struct refcache_obj_head {
	refcount_t ref;
	u32 flags;
};

#define REFCACHE_OBJ_HEAD_BIASED	0x20U	/* flags: a biased count */

static inline bool refcache_obj_head_biased(const struct refcache_obj *obj)
{
	const struct refcache_obj_head *h = (const struct refcache_obj_head *)obj;

	/* Constant for the object's life; the collector changes other bits. */
	return data_race(READ_ONCE(h->flags)) & REFCACHE_OBJ_HEAD_BIASED;
}

/**
 * refcache_obj_get() - take another reference
 * @obj: an object the caller holds a reference to
 *
 * Saturates instead of overflowing; warns on a get from zero.
 *
 * Context: any context, IRQ included; never sleeps, takes no lock.
 * Return: @obj.
 */
static inline struct refcache_obj *refcache_obj_get(struct refcache_obj *obj)
{
	if (likely(!refcache_obj_head_biased(obj))) {
		refcount_inc(&((struct refcache_obj_head *)obj)->ref);
		return obj;
	}
	return __refcache_obj_get(obj);
}

/**
 * refcache_obj_put() - drop a reference; the last one frees the object
 * @obj: the object; NULL is ignored
 *
 * At zero the object's slots are emptied, its clear and release callbacks
 * run and its memory goes back to the heap, iteratively for whatever that
 * frees in turn.  An underflow warns and leaks rather than freeing twice.
 *
 * Context: process context; may take the heap's mutex (also a biased
 * put that is not the last, to queue the object for its owner).  Safe to
 * call from a clear or release callback.
 */
static inline void refcache_obj_put(struct refcache_obj *obj)
{
	if (!obj)
		return;
	if (likely(!refcache_obj_head_biased(obj))) {
		if (refcount_dec_and_test(&((struct refcache_obj_head *)obj)->ref))
			__refcache_obj_release(obj);
		return;
	}
	__refcache_obj_put(obj);
}

void *refcache_obj_payload(struct refcache_obj *obj);
unsigned int refcache_obj_refcount(const struct refcache_obj *obj);
int refcache_obj_store(struct refcache_obj *obj, unsigned int slot,
		       struct refcache_obj *value);
struct refcache_obj *refcache_obj_load(struct refcache_obj *obj, unsigned int slot);

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
