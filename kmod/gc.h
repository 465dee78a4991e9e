/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The cycle collector's per-heap state (gc.c).  Everything here is under
 * the heap's mutex; the locking protocol is in Documentation/collector.rst.
 */
#ifndef _REFCACHE_GC_H
#define _REFCACHE_GC_H

#include <linux/list.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <linux/refcache.h>

/* Generation lists: 0, 1, 2, then the permanent generation (frozen). */
#define REFCACHE_GC_PERMANENT	REFCACHE_GC_GENERATIONS
#define REFCACHE_GC_LISTS	(REFCACHE_GC_GENERATIONS + 1)

/*
 * The header's flags word: the generation always; while a collection
 * runs, its state bits and gc_refs (CPython keeps gc_refs in the list
 * pointer instead; we have a spare word, so the header stays 40 bytes).
 */
#define REFCACHE_OBJ_GEN_MASK		0x3U	/* generation, or PERMANENT */
#define REFCACHE_OBJ_COLLECTING		0x4U	/* in the set being collected */
#define REFCACHE_OBJ_UNREACHABLE	0x8U	/* tentatively unreachable */
#define REFCACHE_OBJ_CLEARED		0x10U	/* clear already ran */
#define REFCACHE_OBJ_BIASED		0x20U	/* biased count (refcount.h); constant */
#define REFCACHE_OBJ_REFS_SHIFT		6
#define REFCACHE_OBJ_REFS_MAX		(~0U >> REFCACHE_OBJ_REFS_SHIFT)

/**
 * struct refcache_gc - one heap's collector
 * @gen:          generation lists (objects linked through their node),
 *                the last being the permanent generation
 * @nobjs:        objects on each list
 * @count:        CPython's generation counts (gc.get_count())
 * @threshold:    gc.get_threshold()
 * @enabled:      automatic collection on
 * @shutdown:     the heap is going away: queue no more work
 * @long_lived_total:   survivors of the last full collection
 * @long_lived_pending: promoted into generation 2 since then
 * @stats:        gc.get_stats(), per generation
 * @seq:          collections so far, numbering the events
 * @events:       ring of the last REFCACHE_GC_EVENTS_MAX collections
 * @ev_head:      index of the oldest queued event
 * @ev_count:     events queued
 * @wait:         readers of the heap's file waiting for an event
 * @work:         the automatic collection, on refcache_gc_wq
 * @collecting:   a collection is running: none may start inside it
 * @mark_stamp:   the last stamp given out for objects' gc_refs bits, by
 *                the marking from the handles (gc.c, mark_alive()) or the
 *                acyclic pass (acyclic_pass()), 0 for none
 * @acyclic_skip: per generation, collections left that skip the acyclic
 *                pass (its backoff, gc.c, acyclic_learn())
 * @acyclic_fails: per generation, its passes in a row that stopped late
 * @acyclic_done: collections the acyclic pass did alone (no cycle)
 * @acyclic_stopped: acyclic passes that met a cycle and stopped
 * @acyclic_passed: objects those passes had passed before stopping
 * @acyclic_skipped: collections that skipped the pass (the backoff)
 * @puts:         references dropped under the heap's mutex
 *                (refcache_obj_put_locked()), to tell that the graph changed
 * @mem_seq:      @seq after the last collection for memory (under pressure
 *                or before a quota error), 0 before the first
 * @mem_puts:     @puts then
 * @mem_tracked:  objects in generations 0..2 then
 * @mem_jiffies:  when it ran
 * @pressure:     collections under memory pressure (the shrinker)
 * @quota:        collections before a quota error
 * @debug:        gc.set_debug() flags, REFCACHE_GC_DEBUG_* (garbage.c)
 * @garbage:      gc.garbage: objects it holds a reference to each
 * @ngarbage:     objects in @garbage
 * @garbage_cap:  room in @garbage, charged to the heap
 * @dump:         the heap's snapshot for REFCACHE_IOC_HEAP_DUMP, or NULL
 * @dump_seq:     snapshots taken, numbering them
 */
struct refcache_gc {
	struct list_head gen[REFCACHE_GC_LISTS];
	u64 nobjs[REFCACHE_GC_LISTS];
	u64 count[REFCACHE_GC_GENERATIONS];
	u32 threshold[REFCACHE_GC_GENERATIONS];
	bool enabled;
	bool shutdown;
	u64 long_lived_total;
	u64 long_lived_pending;
	struct refcache_gc_gen_stats stats[REFCACHE_GC_GENERATIONS];
	u64 seq;
	struct refcache_gc_event events[REFCACHE_GC_EVENTS_MAX];
	u32 ev_head;
	u32 ev_count;
	wait_queue_head_t wait;
	struct work_struct work;
	bool collecting;
	u32 mark_stamp;
	u8 acyclic_skip[REFCACHE_GC_GENERATIONS];
	u8 acyclic_fails[REFCACHE_GC_GENERATIONS];
	u64 acyclic_done;
	u64 acyclic_stopped;
	u64 acyclic_passed;
	u64 acyclic_skipped;
	u64 puts;
	u64 mem_seq;
	u64 mem_puts;
	u64 mem_tracked;
	unsigned long mem_jiffies;
	u64 pressure;
	u64 quota;
	u32 debug;
	struct refcache_obj **garbage;
	u64 ngarbage;
	u64 garbage_cap;
	struct refcache_dump *dump;
	u64 dump_seq;
};

/**
 * struct refcache_dump - one snapshot of a heap
 * @seq:   its number (struct refcache_heap_dump.snapshot)
 * @n:     records
 * @bytes: charged to the heap
 * @rec:   the records
 */
struct refcache_dump {
	u64 seq;
	u64 n;
	u64 bytes;
	struct refcache_dump_record rec[];
};

struct refcache_heap;
struct refcache_obj;

void refcache_gc_init(struct refcache_heap *heap);
int refcache_gc_collect_locked(struct refcache_heap *heap, unsigned int generation,
			       unsigned int reason, struct refcache_gc_collect *res);
void refcache_gc_collect_auto(struct refcache_heap *heap);
int refcache_gc_events_read(struct refcache_heap *heap, char __user *buf, size_t len,
			    bool nonblock);
bool refcache_gc_events_ready(struct refcache_heap *heap);
u64 refcache_gc_external_refs_locked(struct refcache_heap *heap);
u64 refcache_gc_freeze_locked(struct refcache_heap *heap, bool unfreeze);
bool refcache_gc_collect_quota_locked(struct refcache_heap *heap);
s64 refcache_gc_mem_candidates(const struct refcache_heap *heap);
s64 refcache_gc_collect_pressure_locked(struct refcache_heap *heap, u64 *candidates);
/* Sets smaller than this stay in the caches: never sampled, never prefetched. */
#define REFCACHE_GC_SCATTER_MIN	8192

/* KUnit's hooks into a collection (gc.c), called with the heap's mutex held. */
struct refcache_gc_test_hooks {
	void (*walked)(struct refcache_heap *heap);	/* after the walk (step 3) */
};

/* What the edge buffer and the walk's stack did (gc.c), for the KUnit suite. */
enum {
	REFCACHE_GC_EDGE_BUFFERS,	/* collections that took the buffer */
	REFCACHE_GC_EDGE_GROWN,		/* times the walk's stack grew */
	REFCACHE_GC_EDGE_SPILLED,	/* rescues spilled on the list */
	REFCACHE_GC_EDGE_KEPT,		/* the garbage's references put after the gather */
	REFCACHE_GC_EDGE_TALLIED,	/* gathers without a read of the garbage's slots */
	REFCACHE_GC_EDGE_UNTALLIED,	/* tallies ended by a count too large */
	REFCACHE_GC_EDGE_LATE,		/* tallied survivors put after the gather */
	REFCACHE_GC_EDGE_NSTATS
};

#if IS_ENABLED(CONFIG_KUNIT)
extern atomic_long_t refcache_gc_edge_stats[REFCACHE_GC_EDGE_NSTATS];
/* The most garbage blocks a collection frees from its array (gc.c). */
extern unsigned long refcache_gc_dead_max;
/* The smallest scattered set whose walks take the edge buffer (gc.c). */
extern unsigned long refcache_gc_edges_min;
/* The walk's first stack, in entries; 0 for its small fallback (gc.c). */
extern unsigned long refcache_gc_stack_first;
/* Off: collections skip the acyclic pass, the trial runs on every set (gc.c). */
extern bool refcache_gc_acyclic;
/* Off: no collection tallies the references to its survivors (gc.c). */
extern bool refcache_gc_tally;
extern struct refcache_gc_test_hooks refcache_gc_test_hooks;
/* Will the walks of the set @young of @n objects prefetch (gc.c)? */
bool refcache_gc_scattered(const struct list_head *young, u64 n);
#endif

/* garbage.c: gc.garbage, gc.set_debug()'s log, what inspection holds. */
u64 refcache_gc_garbage_clear_locked(struct refcache_heap *heap);
bool refcache_gc_save_garbage_locked(struct refcache_heap *heap, struct list_head *unreachable,
				     u64 nunreach, struct list_head *uncollectable, u64 nuncoll,
				     unsigned int target);
void refcache_gc_debug_log(struct refcache_heap *heap, unsigned int generation,
			   u64 candidates, u64 collected, u64 uncollectable, u64 ns);
void refcache_gc_inspect_release_locked(struct refcache_heap *heap);
void refcache_heap_dump_free(struct refcache_heap *heap, struct refcache_dump *dump);

#endif /* _REFCACHE_GC_H */
