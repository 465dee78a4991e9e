/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The per-heap small-object allocator (alloc.c), as embedded in struct
 * refcache_heap.  Design and locking: Documentation/allocator.rst.
 */
#ifndef _REFCACHE_ALLOC_H
#define _REFCACHE_ALLOC_H

#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/local_lock.h>
#include <linux/spinlock.h>
#include <linux/xarray.h>

#include "refcache.h"

struct refcache_arena;

/*
 * Per-CPU block caches ("magazines"), one stack per class.  Small
 * classes get deeper stacks; REFCACHE_MAG_SLOTS is their total.
 */
#define REFCACHE_MAG_SLOTS	640

/* Direct-mapped cache in front of the arenas xarray, for frees. */
#define REFCACHE_ARENA_CACHE	64

struct refcache_alloc_pcpu {
	local_lock_t lock;
	u8 count[REFCACHE_NUM_CLASSES];
	void *slots[REFCACHE_MAG_SLOTS];
};

/**
 * struct refcache_alloc - one heap's allocator
 * @lock:             protects everything below up to @large_bytes, and
 *                    the headers of this allocator's pools
 * @usedpools:        per class, pools with at least one free block
 * @usable_arenas:    arenas with a free pool, fewest free pools first
 * @nfp2lasta:        per free-pool count, the last arena in
 *                    @usable_arenas with that count (or NULL)
 * @npools:           per class, pools serving it
 * @taken:            per class, blocks out of their pools (in use or
 *                    cached per CPU)
 * @unused_pools:     pools of held arenas that serve no class
 * @arenas_current:   arenas held
 * @arenas_total:     arenas ever allocated
 * @arenas_reclaimed: arenas freed before the allocator was destroyed
 * @arenas_highwater: most arenas held at once
 * @large_objects:    live large objects
 * @large_bytes:      their requested sizes, summed
 * @rcu_pending:      an arena was freed through RCU since init
 * @cookie:           random; XOR a block's address, the free mark of the
 *                    blocks the allocator holds (alloc.c, block_mark())
 * @pcpu:             per-CPU block caches
 * @arena_cache:      arena index % REFCACHE_ARENA_CACHE -> a held arena
 *                    or NULL; written under @lock, read locklessly
 * @arenas:           arena index -> struct refcache_arena, for frees
 * @large:            large object address / 16 -> struct refcache_large
 * @fail_next:        fault injection: fail this many page allocations
 * @bad_frees:        refused frees
 * @warned:           set once the refused-free warning was printed
 * @alloc_failures:   failed arena or large allocations
 */
struct refcache_alloc {
	spinlock_t lock;	/* see above */
	struct list_head usedpools[REFCACHE_NUM_CLASSES];
	struct list_head usable_arenas;
	struct refcache_arena *nfp2lasta[REFCACHE_POOLS_PER_ARENA + 1];
	u32 npools[REFCACHE_NUM_CLASSES];
	u64 taken[REFCACHE_NUM_CLASSES];
	u64 unused_pools;
	u64 arenas_current;
	u64 arenas_total;
	u64 arenas_reclaimed;
	u64 arenas_highwater;
	u64 large_objects;
	u64 large_bytes;
	bool rcu_pending;
	unsigned long cookie;

	struct refcache_alloc_pcpu __percpu *pcpu;
	struct refcache_arena *arena_cache[REFCACHE_ARENA_CACHE];
	struct xarray arenas;
	struct xarray large;
	atomic_t fail_next;
	atomic64_t bad_frees;
	atomic_t warned;
	atomic64_t alloc_failures;
};

int refcache_alloc_init(struct refcache_alloc *a);
void refcache_alloc_destroy(struct refcache_heap *heap);

void refcache_free_many(struct refcache_heap *heap, void **v, unsigned int n);
void refcache_free_dead(struct refcache_heap *heap, void * const *v, unsigned long n);
void refcache_alloc_drain_dead_cpu(struct refcache_heap *heap, unsigned int cpu);

#endif /* _REFCACHE_ALLOC_H */
