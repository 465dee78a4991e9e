/* SPDX-License-Identifier: GPL-2.0 */
/*
 * refcache's tracepoints: the collector (gc_start, gc_end, gc_phase),
 * objects (obj_alloc, obj_free), arenas (arena_alloc, arena_release) and
 * biased counts (bias_merge, bias_queue).  Defined once, in trace.c
 * (CREATE_TRACE_POINTS); Documentation/collector.rst has one-liners.
 * No event carries an address: heaps, caches and sizes only.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM refcache

#if !defined(_REFCACHE_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _REFCACHE_TRACE_H

#include <linux/tracepoint.h>

TRACE_EVENT(gc_start,
	TP_PROTO(u64 heap_id, unsigned int generation, unsigned int reason),
	TP_ARGS(heap_id, generation, reason),
	TP_STRUCT__entry(
		__field(u64, heap_id)
		__field(unsigned int, generation)
		__field(unsigned int, reason)
	),
	TP_fast_assign(
		__entry->heap_id = heap_id;
		__entry->generation = generation;
		__entry->reason = reason;
	),
	TP_printk("heap=%llu generation=%u reason=%s", __entry->heap_id,
		  __entry->generation, __entry->reason == 1 ? "auto" : "explicit")
);

TRACE_EVENT(gc_end,
	TP_PROTO(u64 heap_id, unsigned int generation, unsigned int reason,
		 u64 candidates, u64 collected, u64 uncollectable, u64 duration_ns),
	TP_ARGS(heap_id, generation, reason, candidates, collected, uncollectable,
		duration_ns),
	TP_STRUCT__entry(
		__field(u64, heap_id)
		__field(unsigned int, generation)
		__field(unsigned int, reason)
		__field(u64, candidates)
		__field(u64, collected)
		__field(u64, uncollectable)
		__field(u64, duration_ns)
	),
	TP_fast_assign(
		__entry->heap_id = heap_id;
		__entry->generation = generation;
		__entry->reason = reason;
		__entry->candidates = candidates;
		__entry->collected = collected;
		__entry->uncollectable = uncollectable;
		__entry->duration_ns = duration_ns;
	),
	TP_printk("heap=%llu generation=%u reason=%s candidates=%llu collected=%llu uncollectable=%llu duration_ns=%llu",
		  __entry->heap_id, __entry->generation,
		  __entry->reason == 1 ? "auto" : "explicit", __entry->candidates,
		  __entry->collected, __entry->uncollectable, __entry->duration_ns)
);

/* The collector's steps, CPython's names (Documentation/collector.rst). */
#define REFCACHE_GC_PHASE_UPDATE_REFS		0
#define REFCACHE_GC_PHASE_SUBTRACT_REFS		1
#define REFCACHE_GC_PHASE_MOVE_UNREACHABLE	2
#define REFCACHE_GC_PHASE_FINALIZERS		3
#define REFCACHE_GC_PHASE_DELETE_GARBAGE	4

TRACE_EVENT(gc_phase,
	TP_PROTO(u64 heap_id, unsigned int generation, unsigned int phase, u64 objects),
	TP_ARGS(heap_id, generation, phase, objects),
	TP_STRUCT__entry(
		__field(u64, heap_id)
		__field(unsigned int, generation)
		__field(unsigned int, phase)
		__field(u64, objects)
	),
	TP_fast_assign(
		__entry->heap_id = heap_id;
		__entry->generation = generation;
		__entry->phase = phase;
		__entry->objects = objects;
	),
	TP_printk("heap=%llu generation=%u phase=%s objects=%llu", __entry->heap_id,
		  __entry->generation, __print_symbolic(__entry->phase,
				   { REFCACHE_GC_PHASE_UPDATE_REFS, "update_refs" },
				   { REFCACHE_GC_PHASE_SUBTRACT_REFS, "subtract_refs" },
				   { REFCACHE_GC_PHASE_MOVE_UNREACHABLE, "move_unreachable" },
				   { REFCACHE_GC_PHASE_FINALIZERS, "move_legacy_finalizers" },
				   { REFCACHE_GC_PHASE_DELETE_GARBAGE, "delete_garbage" }),
		  __entry->objects)
);

DECLARE_EVENT_CLASS(refcache_obj_class,
	TP_PROTO(u64 heap_id, u32 cache_id, u32 size),
	TP_ARGS(heap_id, cache_id, size),
	TP_STRUCT__entry(
		__field(u64, heap_id)
		__field(u32, cache_id)
		__field(u32, size)
	),
	TP_fast_assign(
		__entry->heap_id = heap_id;
		__entry->cache_id = cache_id;
		__entry->size = size;
	),
	TP_printk("heap=%llu cache=%u size=%u", __entry->heap_id, __entry->cache_id,
		  __entry->size)
);

/* An object was allocated (size: bytes, header, slots and payload). */
DEFINE_EVENT(refcache_obj_class, obj_alloc,
	TP_PROTO(u64 heap_id, u32 cache_id, u32 size),
	TP_ARGS(heap_id, cache_id, size));

/* An object's memory went back to its heap. */
DEFINE_EVENT(refcache_obj_class, obj_free,
	TP_PROTO(u64 heap_id, u32 cache_id, u32 size),
	TP_ARGS(heap_id, cache_id, size));

DECLARE_EVENT_CLASS(refcache_arena_class,
	TP_PROTO(u64 heap_id, u64 arenas),
	TP_ARGS(heap_id, arenas),
	TP_STRUCT__entry(
		__field(u64, heap_id)
		__field(u64, arenas)
	),
	TP_fast_assign(
		__entry->heap_id = heap_id;
		__entry->arenas = arenas;
	),
	TP_printk("heap=%llu arenas=%llu", __entry->heap_id, __entry->arenas)
);

/* A 256 KiB arena joined the heap's allocator (arenas: held now). */
DEFINE_EVENT(refcache_arena_class, arena_alloc,
	TP_PROTO(u64 heap_id, u64 arenas),
	TP_ARGS(heap_id, arenas));

/* An empty arena went back to the page allocator. */
DEFINE_EVENT(refcache_arena_class, arena_release,
	TP_PROTO(u64 heap_id, u64 arenas),
	TP_ARGS(heap_id, arenas));

DECLARE_EVENT_CLASS(refcache_bias_class,
	TP_PROTO(u64 heap_id, u32 cache_id),
	TP_ARGS(heap_id, cache_id),
	TP_STRUCT__entry(
		__field(u64, heap_id)
		__field(u32, cache_id)
	),
	TP_fast_assign(
		__entry->heap_id = heap_id;
		__entry->cache_id = cache_id;
	),
	TP_printk("heap=%llu cache=%u", __entry->heap_id, __entry->cache_id)
);

/* A biased object's local and shared counts were merged, under the mutex. */
DEFINE_EVENT(refcache_bias_class, bias_merge,
	TP_PROTO(u64 heap_id, u32 cache_id),
	TP_ARGS(heap_id, cache_id));

/* A non-owner's put queued a biased object for its owner to merge. */
DEFINE_EVENT(refcache_bias_class, bias_queue,
	TP_PROTO(u64 heap_id, u32 cache_id),
	TP_ARGS(heap_id, cache_id));

#endif /* _REFCACHE_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
