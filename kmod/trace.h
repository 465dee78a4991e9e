/* SPDX-License-Identifier: GPL-2.0 */
/* Tracepoints of refcache's cycle collector (gc.c). */
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

#endif /* _REFCACHE_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
