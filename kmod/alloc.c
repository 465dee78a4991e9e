// SPDX-License-Identifier: GPL-2.0
/*
 * The per-heap small-object allocator, after CPython's obmalloc: 256 KiB
 * arenas of 4 KiB pools, each pool carved into blocks of one of 32 size
 * classes.  Per-CPU block caches make the common alloc/free lock free;
 * the CPython bookkeeping below them runs under one spinlock per heap.
 * Design, invariants and locking: Documentation/allocator.rst.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/cpu.h>
#include <linux/kmemleak.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/random.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

#include "internal.h"
#include "trace.h"

#define ARENA_ORDER	(REFCACHE_ARENA_SHIFT - PAGE_SHIFT)
#define POOL_MASK	(~(REFCACHE_POOL_SIZE - 1))
#define POOL_USABLE	(REFCACHE_POOL_SIZE - REFCACHE_POOL_OVERHEAD)
#define MAX_BLOCKS	(POOL_USABLE / REFCACHE_ALIGNMENT)

static_assert(REFCACHE_ARENA_SHIFT >= PAGE_SHIFT);
static_assert(REFCACHE_POOL_OVERHEAD % REFCACHE_ALIGNMENT == 0);

/*
 * Pool header, at the start of each pool of an arena.  @out has a bit
 * per block that is out of the pool: held by a caller or on a per-CPU
 * stack.  It is changed only under @lock and read without it, by frees;
 * together with the free mark (see block_mark()) it is what makes double
 * and foreign frees detectable.  The other fields are under the
 * allocator's lock.
 */
struct refcache_pool {
	unsigned long out[BITS_TO_LONGS(MAX_BLOCKS)];
	struct list_head node;		/* usedpools[szidx] while not full */
	struct refcache_pool *nextfree;	/* arena freepools */
	void *freeblock;		/* freed blocks, linked through them */
	struct refcache_arena *arena;
	u16 nused;			/* blocks out of the pool */
	u16 nextoffset;			/* bump pointer: next never-used block */
	u16 maxnextoffset;
	u8 szidx;
};

static_assert(sizeof(struct refcache_pool) <= REFCACHE_POOL_OVERHEAD);

/* Arena descriptor, outside the arena (like CPython's arena_object). */
struct refcache_arena {
	unsigned long base;		/* aligned to REFCACHE_ARENA_SIZE */
	struct page *page;
	struct list_head node;		/* usable_arenas, if nfreepools */
	struct refcache_pool *freepools;
	unsigned long pool_address;	/* next never-carved pool */
	u32 nfreepools;			/* freepools + never carved */
	struct rcu_head rcu;
};

/* Tracking record of an object over REFCACHE_SMALL_MAX bytes. */
struct refcache_large {
	void *p;
	size_t size;
	size_t charge;
};

/* What an arena costs its heap's budgets: the pages and the descriptor. */
#define ARENA_CHARGE	(REFCACHE_ARENA_SIZE + sizeof(struct refcache_arena))

static struct refcache_heap *heap_of(struct refcache_alloc *a)
{
	return container_of(a, struct refcache_heap, alloc);
}

/* idx = off16 * recip >> 16 is exact for off16 < 256 and classes <= 32. */
#define R(n) DIV_ROUND_UP(65536, n)
static const u32 class_recip[REFCACHE_NUM_CLASSES] = {
	R(1), R(2), R(3), R(4), R(5), R(6), R(7), R(8),
	R(9), R(10), R(11), R(12), R(13), R(14), R(15), R(16),
	R(17), R(18), R(19), R(20), R(21), R(22), R(23), R(24),
	R(25), R(26), R(27), R(28), R(29), R(30), R(31), R(32),
};

#undef R

static_assert(MAX_BLOCKS <= 256);

static inline unsigned int class_size(unsigned int cls)
{
	return (cls + 1) * REFCACHE_ALIGNMENT;
}

/* Cache depth per class: 64 up to 64 bytes, 32, 16, then 8 from 272. */
static inline unsigned int mag_cap(unsigned int cls)
{
	return cls < 4 ? 64 : cls < 8 ? 32 : cls < 16 ? 16 : 8;
}

static inline unsigned int mag_off(unsigned int cls)
{
	return cls < 4 ? cls * 64 : cls < 8 ? 256 + (cls - 4) * 32 :
	       cls < 16 ? 384 + (cls - 8) * 16 : 512 + (cls - 16) * 8;
}

static_assert(512 + (REFCACHE_NUM_CLASSES - 16) * 8 == REFCACHE_MAG_SLOTS);

static inline struct refcache_pool *pool_of(const void *p)
{
	return (struct refcache_pool *)((unsigned long)p & POOL_MASK);
}

static inline unsigned int block_index(const void *p, unsigned int cls)
{
	unsigned long off16 = (((unsigned long)p & ~POOL_MASK) -
			       REFCACHE_POOL_OVERHEAD) / REFCACHE_ALIGNMENT;

	return (off16 * class_recip[cls]) >> 16;
}

/*
 * @out, written under the lock and read by frees without it.  A bit is
 * set with release after the block's free mark is written, and read with
 * acquire, so a free that sees it set also sees the mark (pool_take()).
 */
static inline void pool_out_set(struct refcache_pool *pool, unsigned int bi)
{
	unsigned long *w = &pool->out[BIT_WORD(bi)];

	/* Release: the block's free mark is written first (pool_take()). */
	smp_store_release(w, *w | BIT_MASK(bi));
}

static inline void pool_out_clear(struct refcache_pool *pool, unsigned int bi)
{
	unsigned long *w = &pool->out[BIT_WORD(bi)];

	WRITE_ONCE(*w, *w & ~BIT_MASK(bi));
}

static inline bool pool_out_test(struct refcache_pool *pool, unsigned int bi)
{
	/* Acquire: pairs with pool_out_set(); the mark is read after. */
	return smp_load_acquire(&pool->out[BIT_WORD(bi)]) & BIT_MASK(bi);
}

/*
 * The free mark: the second word of every block the allocator holds, on
 * a per-CPU stack or in its pool (the first word links the pool's free
 * list), is the heap's secret cookie XOR the block's address.  A
 * caller's block does not have it: allocation zeroes the block, and
 * nobody outside the allocator knows the cookie.  A free claims the
 * block by swapping the mark in with compare-and-exchange, so of two
 * frees of one block exactly one succeeds, and one finding the mark
 * already there is a double free.
 */
static inline unsigned long *block_mark(void *bp)
{
	return (unsigned long *)bp + 1;
}

static inline unsigned long mark_of(struct refcache_alloc *a, void *bp)
{
	return a->cookie ^ (unsigned long)bp;
}

/* Direct-map offset: arena indices stay small, the xarray shallow. */
static inline unsigned long arena_index(unsigned long addr)
{
	return (addr - PAGE_OFFSET) >> REFCACHE_ARENA_SHIFT;
}

static inline unsigned long large_index(const void *p)
{
	return (unsigned long)p / REFCACHE_ALIGNMENT;
}

static gfp_t page_gfp(gfp_t gfp)
{
	return (gfp & ~__GFP_ZERO) | __GFP_ACCOUNT | __GFP_NOWARN;
}

static bool inject_failure(struct refcache_alloc *a)
{
	return atomic_add_unless(&a->fail_next, -1, 0);
}

/* ---- arenas, no lock held ------------------------------------------ */

static struct refcache_arena *arena_new(struct refcache_alloc *a, gfp_t gfp, int *err)
{
	struct refcache_arena *ao;
	gfp_t g = page_gfp(gfp);

	*err = -ENOMEM;
	if (inject_failure(a))
		goto fail;
	*err = refcache_charge(heap_of(a), ARENA_CHARGE);
	if (*err)
		goto fail;
	*err = -ENOMEM;
	ao = kzalloc(sizeof(*ao), g);
	if (!ao)
		goto fail_uncharge;
	/* Zeroed, so never-carved pools have clear bitmaps. */
	ao->page = alloc_pages(g | __GFP_ZERO, ARENA_ORDER);
	if (!ao->page)
		goto fail_free;
	ao->base = (unsigned long)page_address(ao->page);
	ao->pool_address = ao->base;
	ao->nfreepools = REFCACHE_POOLS_PER_ARENA;
	INIT_LIST_HEAD(&ao->node);
	if (xa_insert(&a->arenas, arena_index(ao->base), ao, g))
		goto fail_pages;
	/* Page memory is not scanned by kmemleak; blocks hold pointers. */
	kmemleak_alloc((void *)ao->base, REFCACHE_ARENA_SIZE, 0, g);
	return ao;

fail_pages:
	__free_pages(ao->page, ARENA_ORDER);
fail_free:
	kfree(ao);
fail_uncharge:
	refcache_uncharge(heap_of(a), ARENA_CHARGE);
fail:
	atomic64_inc(&a->alloc_failures);
	return NULL;
}

static void arena_free_rcu(struct rcu_head *rcu)
{
	struct refcache_arena *ao = container_of(rcu, struct refcache_arena, rcu);

	__free_pages(ao->page, ARENA_ORDER);
	kfree(ao);
}

/* ---- CPython's bookkeeping, under a->lock ------------------------- */

static void arena_insert(struct refcache_alloc *a, struct refcache_arena *ao)
{
	lockdep_assert_held(&a->lock);
	/* A fresh arena has the most free pools: it goes last. */
	list_add_tail(&ao->node, &a->usable_arenas);
	a->nfp2lasta[REFCACHE_POOLS_PER_ARENA] = ao;
	WRITE_ONCE(a->arena_cache[arena_index(ao->base) % REFCACHE_ARENA_CACHE],
		   ao);
	a->unused_pools += REFCACHE_POOLS_PER_ARENA;
	a->arenas_current++;
	a->arenas_total++;
	a->arenas_highwater = max(a->arenas_highwater, a->arenas_current);
	trace_arena_alloc(heap_of(a)->id, a->arenas_current);
}

static void arena_release(struct refcache_alloc *a, struct refcache_arena *ao)
{
	unsigned long idx = arena_index(ao->base);

	lockdep_assert_held(&a->lock);
	/* Frees fill the cache without the lock (small_free_check()). */
	if (READ_ONCE(a->arena_cache[idx % REFCACHE_ARENA_CACHE]) == ao)
		WRITE_ONCE(a->arena_cache[idx % REFCACHE_ARENA_CACHE], NULL);
	xa_erase(&a->arenas, idx);
	kmemleak_free((void *)ao->base);
	a->unused_pools -= REFCACHE_POOLS_PER_ARENA;
	a->arenas_current--;
	a->arenas_reclaimed++;
	trace_arena_release(heap_of(a)->id, a->arenas_current);
	a->rcu_pending = true;
	refcache_uncharge(heap_of(a), ARENA_CHARGE);
	/* A racing bad free may still read the pool headers: wait for it. */
	call_rcu(&ao->rcu, arena_free_rcu);
}

static struct refcache_arena *arena_prev(struct refcache_alloc *a,
					 struct refcache_arena *ao)
{
	if (ao->node.prev == &a->usable_arenas)
		return NULL;
	return list_prev_entry(ao, node);
}

/* CPython's allocate_from_new_pool(): a pool from the fullest arena. */
static struct refcache_pool *pool_new(struct refcache_alloc *a,
				      unsigned int cls)
{
	struct refcache_arena *ao;
	struct refcache_pool *pool;
	u32 nf;

	ao = list_first_entry_or_null(&a->usable_arenas, struct refcache_arena,
				      node);
	if (!ao)
		return NULL;
	nf = ao->nfreepools;
	/* The head has the fewest free pools, and keeps that place. */
	if (a->nfp2lasta[nf] == ao)
		a->nfp2lasta[nf] = NULL;
	if (nf > 1)
		a->nfp2lasta[nf - 1] = ao;
	ao->nfreepools = --nf;
	a->unused_pools--;
	if (ao->freepools) {
		pool = ao->freepools;
		ao->freepools = pool->nextfree;
	} else {
		pool = (struct refcache_pool *)ao->pool_address;
		ao->pool_address += REFCACHE_POOL_SIZE;
	}
	if (!nf)
		list_del_init(&ao->node);

	pool->arena = ao;
	WRITE_ONCE(pool->szidx, cls);
	pool->nused = 0;
	pool->freeblock = NULL;
	pool->nextoffset = REFCACHE_POOL_OVERHEAD;
	pool->maxnextoffset = REFCACHE_POOL_SIZE - class_size(cls);
	list_add(&pool->node, &a->usedpools[cls]);
	a->npools[cls]++;
	return pool;
}

/* CPython's insert_to_freepool(): an empty pool goes back to its arena. */
static void pool_free(struct refcache_alloc *a, struct refcache_pool *pool)
{
	struct refcache_arena *ao = pool->arena;
	struct refcache_arena *lastnf, *prev;
	u32 nf;

	list_del(&pool->node);
	a->npools[pool->szidx]--;
	pool->nextfree = ao->freepools;
	ao->freepools = pool;
	a->unused_pools++;

	nf = ao->nfreepools;
	lastnf = a->nfp2lasta[nf];
	if (lastnf == ao) {
		prev = arena_prev(a, ao);
		a->nfp2lasta[nf] = prev && prev->nfreepools == nf ? prev : NULL;
	}
	ao->nfreepools = ++nf;

	/* All free: release it, unless it is the last (the spare). */
	if (nf == REFCACHE_POOLS_PER_ARENA &&
	    !list_is_last(&ao->node, &a->usable_arenas)) {
		list_del(&ao->node);
		arena_release(a, ao);
		return;
	}
	/* Was full, so not listed; one free pool sorts first. */
	if (nf == 1) {
		list_add(&ao->node, &a->usable_arenas);
		if (!a->nfp2lasta[1])
			a->nfp2lasta[1] = ao;
		return;
	}
	if (!a->nfp2lasta[nf])
		a->nfp2lasta[nf] = ao;
	if (ao == lastnf)
		return;
	/* Slide right, past the arenas that now have fewer free pools. */
	list_move(&ao->node, &lastnf->node);
}

/* No free block and none left to carve: off its class's list. */
static inline bool pool_full(const struct refcache_pool *pool)
{
	return !pool->freeblock && pool->nextoffset > pool->maxnextoffset;
}

/* CPython's pymalloc_alloc(): a block out of a used pool of @cls. */
static void *pool_take(struct refcache_alloc *a, unsigned int cls)
{
	struct refcache_pool *pool;
	void *bp;

	pool = list_first_entry_or_null(&a->usedpools[cls],
					struct refcache_pool, node);
	if (!pool) {
		pool = pool_new(a, cls);
		if (!pool)
			return NULL;
	}
	bp = pool->freeblock;
	if (bp) {
		pool->freeblock = *(void **)bp;
	} else {
		bp = (void *)pool + pool->nextoffset;
		pool->nextoffset += class_size(cls);
	}
	/*
	 * Marked before it counts as out: a bogus free of a block never
	 * handed out, racing this, finds it in its pool or marked.
	 */
	WRITE_ONCE(*block_mark(bp), mark_of(a, bp));
	pool_out_set(pool, block_index(bp, cls));
	pool->nused++;
	a->taken[cls]++;
	if (pool_full(pool))
		list_del(&pool->node);
	return bp;
}

/*
 * A block into its pool's free list; a pool that was full (on no list)
 * serves its class again.
 */
static void pool_link_block(struct refcache_alloc *a, struct refcache_pool *pool, void *bp)
{
	if (pool_full(pool))
		list_add(&pool->node, &a->usedpools[pool->szidx]);
	*(void **)bp = pool->freeblock;
	pool->freeblock = bp;
}

/* CPython's pymalloc_free(), for a block off a per-CPU stack. */
static void block_return(struct refcache_alloc *a, void *bp)
{
	struct refcache_pool *pool = pool_of(bp);
	unsigned int cls = pool->szidx;

	pool_out_clear(pool, block_index(bp, cls));
	pool_link_block(a, pool, bp);
	pool->nused--;
	a->taken[cls]--;
	if (!pool->nused)
		pool_free(a, pool);
}

/* ---- per-CPU caches, under the local lock ------------------------- */

/* Pop a block of @cls, or NULL; the caller then zeroes it. */
static __always_inline void *mag_pop(struct refcache_alloc_pcpu *pc,
				     unsigned int cls)
{
	unsigned int n = pc->count[cls];

	if (unlikely(!n))
		return NULL;
	WRITE_ONCE(pc->count[cls], n - 1);
	return pc->slots[mag_off(cls) + n - 1];
}

static unsigned int mag_refill(struct refcache_alloc *a, unsigned int cls,
			       struct refcache_alloc_pcpu *pc)
{
	void **slots = pc->slots + mag_off(cls);
	unsigned int want = mag_cap(cls) / 2, n;
	void *bp;

	spin_lock(&a->lock);
	/* Fill downwards so that pops hand out ascending addresses. */
	for (n = 0; n < want; n++) {
		bp = pool_take(a, cls);
		if (!bp)
			break;
		slots[want - 1 - n] = bp;
	}
	if (n && n < want)
		memmove(slots, slots + want - n, n * sizeof(*slots));
	WRITE_ONCE(pc->count[cls], n);
	spin_unlock(&a->lock);
	return n;
}

/* Return the older half of a full cache to the pools. */
static void mag_flush(struct refcache_alloc *a, unsigned int cls,
		      struct refcache_alloc_pcpu *pc)
{
	void **slots = pc->slots + mag_off(cls);
	unsigned int n = pc->count[cls], half = n / 2, i;

	spin_lock(&a->lock);
	for (i = 0; i < half; i++)
		block_return(a, slots[i]);
	memmove(slots, slots + half, (n - half) * sizeof(*slots));
	WRITE_ONCE(pc->count[cls], n - half);
	spin_unlock(&a->lock);
}

static void mag_drain(struct refcache_alloc *a, struct refcache_alloc_pcpu *pc)
{
	unsigned int cls, i;

	spin_lock(&a->lock);
	for (cls = 0; cls < REFCACHE_NUM_CLASSES; cls++) {
		for (i = 0; i < pc->count[cls]; i++)
			block_return(a, pc->slots[mag_off(cls) + i]);
		WRITE_ONCE(pc->count[cls], 0);
	}
	spin_unlock(&a->lock);
}

/* Called with the local lock held; returns with it released. */
static void *alloc_slow(struct refcache_alloc *a, unsigned int cls, gfp_t gfp,
			int *err)
{
	struct refcache_alloc_pcpu *pc;
	struct refcache_arena *ao;
	void *bp;

	for (;;) {
		pc = this_cpu_ptr(a->pcpu);
		bp = mag_pop(pc, cls);
		if (!bp && mag_refill(a, cls, pc))
			bp = mag_pop(pc, cls);
		if (bp) {
			local_unlock(&a->pcpu->lock);
			return bp;
		}
		local_unlock(&a->pcpu->lock);
		ao = arena_new(a, gfp, err);
		if (!ao)
			return NULL;
		spin_lock(&a->lock);
		arena_insert(a, ao);
		spin_unlock(&a->lock);
		local_lock(&a->pcpu->lock);
	}
}

/* ---- large objects -------------------------------------------------- */

/*
 * What a large object costs: kmalloc's rounded size up to its largest
 * cache, whole pages beyond (those come from vmalloc, so a 1 MiB payload
 * does not take a 2 MiB compound page).
 */
static size_t large_charge(size_t size)
{
	size = size <= KMALLOC_MAX_CACHE_SIZE ? kmalloc_size_roundup(size) :
	       PAGE_ALIGN(size);
	return size + kmalloc_size_roundup(sizeof(struct refcache_large));
}

static void *large_alloc(struct refcache_alloc *a, size_t size, gfp_t gfp,
			 int *err)
{
	size_t charge = large_charge(size);
	struct refcache_large *lo;
	gfp_t g = page_gfp(gfp);

	*err = -ENOMEM;
	if (inject_failure(a))
		goto fail;
	*err = refcache_charge(heap_of(a), charge);
	if (*err)
		goto fail;
	*err = -ENOMEM;
	lo = kmalloc(sizeof(*lo), g);
	if (!lo)
		goto fail_uncharge;
	/* kmalloc over 512 bytes is power-of-two aligned, vmalloc paged. */
	if (size <= KMALLOC_MAX_CACHE_SIZE)
		lo->p = kzalloc(size, g);
	else
		lo->p = __vmalloc(size, g | __GFP_ZERO);
	if (!lo->p)
		goto fail_free;
	lo->size = size;
	lo->charge = charge;
	if (xa_insert(&a->large, large_index(lo->p), lo, g))
		goto fail_obj;
	spin_lock(&a->lock);
	a->large_objects++;
	a->large_bytes += size;
	spin_unlock(&a->lock);
	return lo->p;

fail_obj:
	kvfree(lo->p);
fail_free:
	kfree(lo);
fail_uncharge:
	refcache_uncharge(heap_of(a), charge);
fail:
	atomic64_inc(&a->alloc_failures);
	return NULL;
}

static bool large_free(struct refcache_alloc *a, void *p)
{
	struct refcache_large *lo = xa_erase(&a->large, large_index(p));

	if (!lo)
		return false;
	spin_lock(&a->lock);
	a->large_objects--;
	a->large_bytes -= lo->size;
	spin_unlock(&a->lock);
	refcache_uncharge(heap_of(a), lo->charge);
	kvfree(lo->p);
	kfree(lo);
	return true;
}

/* ---- API ------------------------------------------------------------ */

/* 16 bytes, as two plain stores. */
static __always_inline void zero16(void *p)
{
	((u64 *)p)[0] = 0;
	((u64 *)p)[1] = 0;
}

/*
 * Zero a block with plain stores.  Up to 128 bytes, a run of them
 * entered at the block's size; above, a loop of 16 bytes a turn (the
 * barrier keeps the compiler from turning it back into memset()).  The
 * kernel's compiler picks "rep stos" for constant sizes over 32 bytes,
 * whose start-up costs more than these stores on hardware and which qemu
 * emulates a word at a time.
 */
static __always_inline void block_zero(void *bp, unsigned int cls)
{
	unsigned int i;

	switch (cls) {
	case 7:
		zero16(bp + 112);
		fallthrough;
	case 6:
		zero16(bp + 96);
		fallthrough;
	case 5:
		zero16(bp + 80);
		fallthrough;
	case 4:
		zero16(bp + 64);
		fallthrough;
	case 3:
		zero16(bp + 48);
		fallthrough;
	case 2:
		zero16(bp + 32);
		fallthrough;
	case 1:
		zero16(bp + 16);
		fallthrough;
	case 0:
		zero16(bp);
		break;
	default:
		for (i = 0; i <= cls; i++) {
			zero16(bp + 16 * i);
			barrier();
		}
		break;
	}
}

/*
 * The allocation, inlined into both entry points below: a block's cost is
 * a few loads and stores, so an extra call and frame would be a large
 * share of it (and calls are dear under emulation, where make bench runs).
 */
static __always_inline void *alloc_block(struct refcache_heap *heap, size_t size,
					 gfp_t gfp, int *err)
{
	struct refcache_alloc *a = &heap->alloc;
	struct refcache_alloc_pcpu *pc;
	unsigned int cls;
	void *bp;

	might_alloc(gfp);
	if (unlikely(size > REFCACHE_SMALL_MAX))
		return large_alloc(a, size, gfp, err);
	cls = size ? (size - 1) / REFCACHE_ALIGNMENT : 0;

	local_lock(&a->pcpu->lock);
	pc = this_cpu_ptr(a->pcpu);
	bp = mag_pop(pc, cls);
	if (likely(bp)) {
		local_unlock(&a->pcpu->lock);
	} else {
		bp = alloc_slow(a, cls, gfp, err);
		if (!bp)
			return NULL;
	}
	/* Zeroing also clears the free mark: the block is the caller's. */
	block_zero(bp, cls);
	return bp;
}

/**
 * refcache_alloc() - allocate a zeroed block from a heap
 * @heap: the heap that will own the block
 * @size: bytes wanted; 0 is served as 1
 * @gfp:  allocation flags for new arenas and large objects (GFP_KERNEL
 *        from process context; GFP_NOWAIT where sleeping is not allowed)
 *
 * Up to REFCACHE_SMALL_MAX bytes come from the heap's arenas, larger
 * requests from kvmalloc().  Pages are charged to the caller's memory
 * cgroup.  The block is 16-byte aligned and zeroed.
 *
 * Context: task context (not from interrupts); sleeps if @gfp allows.
 * Return: the block, or NULL if memory could not be had (nothing leaks).
 */
void *refcache_alloc(struct refcache_heap *heap, size_t size, gfp_t gfp)
{
	int err;

	return alloc_block(heap, size, gfp, &err);
}
EXPORT_SYMBOL_NS_GPL(refcache_alloc, REFCACHE_NS);

/*
 * refcache_alloc(), saying why it failed: -EDQUOT over the heap's or its
 * user's budget, -ENOMEM over the module's or out of memory.
 */
void *__refcache_alloc(struct refcache_heap *heap, size_t size, gfp_t gfp, int *err)
{
	return alloc_block(heap, size, gfp, err);
}

static void bad_free(struct refcache_heap *heap)
{
	struct refcache_alloc *a = &heap->alloc;

	atomic64_inc(&a->bad_frees);
	if (!atomic_xchg(&a->warned, 1))
		pr_warn("heap %llu: refused to free a pointer it does not own or already freed (reported once per heap)\n",
			heap->id);
}

/*
 * Validate a small block and claim it: its arena belongs to @a, it is
 * out of its pool, and this free is the one that sets its free mark.
 * Called under the local lock, whose disabled
 * preemption is an RCU read-side section: a released arena's pages
 * stay until we are done (arena_release() frees them through RCU).
 * Inlined into refcache_free() and refcache_free_many(), as the
 * allocation is: out of line it costs a call and a frame per free.
 */
static __always_inline int small_free_check(struct refcache_alloc *a, void *p)
{
	unsigned long base = (unsigned long)p & ~(REFCACHE_ARENA_SIZE - 1);
	unsigned long off = (unsigned long)p & ~POOL_MASK;
	unsigned long idx = arena_index(base);
	struct refcache_pool *pool = pool_of(p);
	struct refcache_arena *ao;
	unsigned long mark;
	unsigned int cls, bi;

	ao = READ_ONCE(a->arena_cache[idx % REFCACHE_ARENA_CACHE]);
	if (likely(ao && ao->base == base)) {
		ao = NULL;		/* nothing to remember */
	} else {
		ao = xa_load(&a->arenas, idx);
		if (!ao)
			return -ENOENT;
	}
	cls = READ_ONCE(pool->szidx);
	if (unlikely(off < REFCACHE_POOL_OVERHEAD || cls >= REFCACHE_NUM_CLASSES ||
		     off > REFCACHE_POOL_SIZE - class_size(cls)))
		return -EINVAL;
	bi = block_index(p, cls);
	if (unlikely(bi * class_size(cls) != off - REFCACHE_POOL_OVERHEAD))
		return -EINVAL;
	/* In its pool (or never handed out): a double or bogus free. */
	if (unlikely(!pool_out_test(pool, bi)))
		return -EINVAL;
	/*
	 * Marked: on a stack or back in its pool, so freed already; or the
	 * exchange fails because another free of it just won.
	 */
	mark = READ_ONCE(*block_mark(p));
	if (unlikely(mark == mark_of(a, p) ||
		     !try_cmpxchg(block_mark(p), &mark, mark_of(a, p))))
		return -EINVAL;
	/*
	 * Remember the arena that missed the cache: it cannot be released
	 * before this block is back in its pool (under a->lock, which
	 * arena_release() clears the entry under).  More arenas than cache
	 * entries otherwise send most frees to xa_load().
	 */
	if (ao)
		WRITE_ONCE(a->arena_cache[idx % REFCACHE_ARENA_CACHE], ao);
	return cls;
}

/**
 * refcache_free() - give a block back to its heap
 * @heap: the heap that allocated @p
 * @p:    a block from refcache_alloc() on @heap; NULL is ignored
 *
 * A pointer @heap did not hand out, or one already freed, is refused:
 * nothing changes but a counter, and the first such free of the heap is
 * reported with pr_warn().
 *
 * Context: task context (not from interrupts); does not sleep.
 */
void refcache_free(struct refcache_heap *heap, void *p)
{
	struct refcache_alloc *a = &heap->alloc;
	struct refcache_alloc_pcpu *pc;
	unsigned int n;
	int cls;

	if (unlikely(!p))
		return;
	if (unlikely((unsigned long)p & (REFCACHE_ALIGNMENT - 1)))
		goto bad;
	local_lock(&a->pcpu->lock);
	pc = this_cpu_ptr(a->pcpu);
	cls = small_free_check(a, p);
	if (unlikely(cls < 0)) {
		local_unlock(&a->pcpu->lock);
		if (cls == -ENOENT && large_free(a, p))
			return;
		goto bad;
	}
	if (unlikely(pc->count[cls] == mag_cap(cls)))
		mag_flush(a, cls, pc);
	n = pc->count[cls];
	pc->slots[mag_off(cls) + n] = p;
	WRITE_ONCE(pc->count[cls], n + 1);
	local_unlock(&a->pcpu->lock);
	return;
bad:
	bad_free(heap);
}
EXPORT_SYMBOL_NS_GPL(refcache_free, REFCACHE_NS);

/**
 * refcache_free_many() - refcache_free() for many blocks of one heap
 * @heap: the heap
 * @v:    the blocks; the array is scribbled on
 * @n:    how many
 *
 * One local lock for the small blocks, the same checks for each; large
 * blocks and refused ones are handled as refcache_free() does.
 */
void refcache_free_many(struct refcache_heap *heap, void **v, unsigned int n)
{
	struct refcache_alloc *a = &heap->alloc;
	struct refcache_alloc_pcpu *pc;
	unsigned int i, k, other = 0;
	int cls;

	local_lock(&a->pcpu->lock);
	pc = this_cpu_ptr(a->pcpu);
	for (i = 0; i < n; i++) {
		if (unlikely(!v[i]))
			continue;	/* ignored, as by refcache_free() */
		cls = unlikely((unsigned long)v[i] & (REFCACHE_ALIGNMENT - 1)) ? -EINVAL :
		      small_free_check(a, v[i]);
		if (unlikely(cls < 0)) {
			v[other++] = cls == -ENOENT ? v[i] : NULL;
			continue;
		}
		if (unlikely(pc->count[cls] == mag_cap(cls)))
			mag_flush(a, cls, pc);
		k = pc->count[cls];
		pc->slots[mag_off(cls) + k] = v[i];
		WRITE_ONCE(pc->count[cls], k + 1);
	}
	local_unlock(&a->pcpu->lock);
	for (i = 0; i < other; i++)
		if (!v[i] || !large_free(a, v[i]))
			bad_free(heap);
}

/* Blocks refcache_free_dead() returns under one hold of the lock. */
#define DEAD_CHUNK	4096

/*
 * One chunk of refcache_free_dead(), under a->lock.  First every block
 * leaves its pool's count and bitmap (pool headers only); a pool left
 * with nothing out is listed through @nextfree, which only a free pool
 * uses.  Then the blocks of pools still in use are linked into their
 * free lists, with the free mark, as block_return() does.  Last, each
 * listed pool goes back to its arena, its blocks never touched.
 */
static void free_dead_chunk(struct refcache_alloc *a, void * const *v, unsigned long n)
{
	struct refcache_pool *pool, *empty = NULL;
	unsigned long i;
	unsigned int cls;
	void *bp;

	lockdep_assert_held(&a->lock);
	for (i = 0; i < n; i++) {
		pool = pool_of(v[i]);
		cls = pool->szidx;
		pool_out_clear(pool, block_index(v[i], cls));
		a->taken[cls]--;
		if (!--pool->nused) {
			pool->nextfree = empty;
			empty = pool;
		}
	}
	for (i = 0; i < n; i++) {
		bp = v[i];
		pool = pool_of(bp);
		if (!pool->nused)
			continue;
		WRITE_ONCE(*block_mark(bp), mark_of(a, bp));
		pool_link_block(a, pool, bp);
	}
	while ((pool = empty)) {
		empty = pool->nextfree;
		/* A full pool is on no list; pool_free() takes it off one. */
		if (pool_full(pool))
			list_add(&pool->node, &a->usedpools[pool->szidx]);
		pool_free(a, pool);
	}
}

/**
 * refcache_free_dead() - give back the blocks of garbage the collector freed
 * @heap: the heap
 * @v:    blocks of @heap's objects, each at most REFCACHE_SMALL_MAX bytes,
 *        that nothing references any more
 * @n:    how many
 *
 * For refcache's own objects only, which the collector frees once each:
 * so none of refcache_free()'s checks and no exchange.  A caller that
 * passes an object's block to refcache_free() has a bug no check can
 * see (the allocator takes it for a caller's block, and frees a live
 * object), so skipping the exchange here opens no new hole.  The blocks
 * go straight back
 * to their pools, not to a per-CPU stack, and a pool whose every block
 * is here goes back to its arena without one of them being touched.
 *
 * Context: process context, with the heap's mutex held; may sleep
 * between chunks of the array.
 */
void refcache_free_dead(struct refcache_heap *heap, void * const *v, unsigned long n)
{
	struct refcache_alloc *a = &heap->alloc;
	unsigned long i, k;

	for (i = 0; i < n; i += k) {
		k = min_t(unsigned long, n - i, DEAD_CHUNK);
		spin_lock(&a->lock);
		free_dead_chunk(a, v + i, k);
		spin_unlock(&a->lock);
		cond_resched();
	}
}

static long drain_this_cpu(void *arg)
{
	struct refcache_alloc *a = arg;

	local_lock(&a->pcpu->lock);
	mag_drain(a, this_cpu_ptr(a->pcpu));
	local_unlock(&a->pcpu->lock);
	return 0;
}

/**
 * refcache_alloc_drain() - return every CPU's cached free blocks
 * @heap: the heap
 *
 * Afterwards empty pools are back in their arenas and empty arenas
 * (but one) back with the page allocator.
 *
 * Context: process context, sleeps (runs a work item on each CPU).
 */
void refcache_alloc_drain(struct refcache_heap *heap)
{
	struct refcache_alloc *a = &heap->alloc;
	int cpu;

	might_sleep();
	cpus_read_lock();
	for_each_possible_cpu(cpu) {
		if (cpu_online(cpu))
			work_on_cpu(cpu, drain_this_cpu, a);
		else	/* nobody runs there while we hold hotplug off */
			mag_drain(a, per_cpu_ptr(a->pcpu, cpu));
	}
	cpus_read_unlock();
}
EXPORT_SYMBOL_NS_GPL(refcache_alloc_drain, REFCACHE_NS);

/**
 * refcache_alloc_stats_read() - snapshot a heap's allocator statistics
 * @heap: the heap
 * @st:   filled in
 *
 * The byte counts are taken under one lock, so they add up to
 * @st->arena_bytes.  Blocks cached per CPU count as free.
 *
 * Context: any task context; does not sleep.
 */
void refcache_alloc_stats_read(struct refcache_heap *heap,
			       struct refcache_alloc_stats *st)
{
	struct refcache_alloc *a = &heap->alloc;
	unsigned int cls, size, bpp;
	u64 cached, in_use;
	int cpu;

	memset(st, 0, sizeof(*st));
	spin_lock(&a->lock);
	for (cls = 0; cls < REFCACHE_NUM_CLASSES; cls++) {
		struct refcache_alloc_class_stats *c = &st->cls[cls];

		cached = 0;
		for_each_possible_cpu(cpu)
			cached += READ_ONCE(per_cpu_ptr(a->pcpu, cpu)->count[cls]);
		/* Per-CPU counts move under us: never report more cached than taken. */
		cached = min(cached, a->taken[cls]);
		size = class_size(cls);
		bpp = POOL_USABLE / size;
		in_use = a->taken[cls] - cached;
		c->size = size;
		c->pools = a->npools[cls];
		c->blocks_in_use = in_use;
		c->blocks_free = (u64)c->pools * bpp - in_use;
		st->cached_blocks += cached;
		st->allocated_bytes += in_use * size;
		st->free_bytes += c->blocks_free * size;
		st->pool_header_bytes += (u64)c->pools * REFCACHE_POOL_OVERHEAD;
		st->quantization_bytes += (u64)c->pools * (POOL_USABLE - bpp * size);
	}
	st->unused_pool_bytes = a->unused_pools * REFCACHE_POOL_SIZE;
	st->arenas_allocated_total = a->arenas_total;
	st->arenas_reclaimed = a->arenas_reclaimed;
	st->arenas_highwater = a->arenas_highwater;
	st->arenas_current = a->arenas_current;
	st->arena_bytes = a->arenas_current * REFCACHE_ARENA_SIZE;
	st->large_objects = a->large_objects;
	st->large_bytes = a->large_bytes;
	spin_unlock(&a->lock);
	st->bad_frees = atomic64_read(&a->bad_frees);
	st->bad_free_warnings = atomic_read(&a->warned);
	st->alloc_failures = atomic64_read(&a->alloc_failures);
}
EXPORT_SYMBOL_NS_GPL(refcache_alloc_stats_read, REFCACHE_NS);

/**
 * refcache_alloc_usable_arenas() - free-pool counts of the usable arenas
 * @heap:  the heap
 * @nfree: receives up to @max counts, in allocation order
 * @max:   size of @nfree
 *
 * For tests and debugging: allocation takes pools from the first arena,
 * so the counts must never decrease along the list.
 *
 * Context: process context; takes the heap's allocator lock.
 * Return: the number of usable arenas (may exceed @max).
 */
unsigned int refcache_alloc_usable_arenas(struct refcache_heap *heap,
					  u32 *nfree, unsigned int max)
{
	struct refcache_alloc *a = &heap->alloc;
	struct refcache_arena *ao;
	unsigned int n = 0;

	spin_lock(&a->lock);
	list_for_each_entry(ao, &a->usable_arenas, node) {
		if (n < max)
			nfree[n] = ao->nfreepools;
		n++;
	}
	spin_unlock(&a->lock);
	return n;
}
EXPORT_SYMBOL_NS_GPL(refcache_alloc_usable_arenas, REFCACHE_NS);

/**
 * refcache_alloc_fail_next() - fault injection for tests
 * @heap: the heap
 * @n:    make the next @n arena or large-object allocations fail
 *
 * Context: any context; for tests.
 */
void refcache_alloc_fail_next(struct refcache_heap *heap, unsigned int n)
{
	atomic_set(&heap->alloc.fail_next, n);
}
EXPORT_SYMBOL_NS_GPL(refcache_alloc_fail_next, REFCACHE_NS);

/* What refcache_alloc_init() allocates: the per-CPU caches. */
size_t refcache_alloc_base_bytes(void)
{
	return sizeof(struct refcache_alloc_pcpu) * num_possible_cpus();
}

/**
 * refcache_alloc_drain_dead_cpu() - return an offline CPU's cached blocks
 * @heap: the heap
 * @cpu:  a CPU that has gone offline
 *
 * For the CPU-hotplug callback (heap.c): nobody runs on @cpu any more,
 * so its per-CPU stacks are returned to their pools from here.
 *
 * Context: task context; takes the allocator's lock.
 */
void refcache_alloc_drain_dead_cpu(struct refcache_heap *heap, unsigned int cpu)
{
	mag_drain(&heap->alloc, per_cpu_ptr(heap->alloc.pcpu, cpu));
}

/**
 * refcache_alloc_init() - set up an empty allocator
 * @a: the allocator, embedded in a heap
 *
 * Return: 0, or -ENOMEM.
 */
int refcache_alloc_init(struct refcache_alloc *a)
{
	unsigned int i;
	int cpu;

	memset(a, 0, sizeof(*a));
	spin_lock_init(&a->lock);
	a->cookie = get_random_long();
	for (i = 0; i < REFCACHE_NUM_CLASSES; i++)
		INIT_LIST_HEAD(&a->usedpools[i]);
	INIT_LIST_HEAD(&a->usable_arenas);
	xa_init(&a->arenas);
	xa_init(&a->large);
	a->pcpu = alloc_percpu_gfp(struct refcache_alloc_pcpu,
				   GFP_KERNEL_ACCOUNT);
	if (!a->pcpu)
		return -ENOMEM;
	for_each_possible_cpu(cpu)
		local_lock_init(&per_cpu_ptr(a->pcpu, cpu)->lock);
	return 0;
}

/**
 * refcache_alloc_destroy() - free every arena and large object
 * @heap: the heap whose allocator goes; nobody may use it any more
 *
 * Context: process context, may sleep.
 */
void refcache_alloc_destroy(struct refcache_heap *heap)
{
	struct refcache_alloc *a = &heap->alloc;
	struct refcache_arena *ao;
	struct refcache_large *lo;
	unsigned long idx;

	xa_for_each(&a->large, idx, lo) {
		refcache_uncharge(heap, lo->charge);
		kvfree(lo->p);
		kfree(lo);
	}
	xa_destroy(&a->large);
	xa_for_each(&a->arenas, idx, ao) {
		refcache_uncharge(heap, ARENA_CHARGE);
		kmemleak_free((void *)ao->base);
		__free_pages(ao->page, ARENA_ORDER);
		kfree(ao);
		cond_resched();
	}
	xa_destroy(&a->arenas);
	/* arena_free_rcu() is module code: let it finish before unload. */
	if (a->rcu_pending)
		rcu_barrier();
	free_percpu(a->pcpu);
}
