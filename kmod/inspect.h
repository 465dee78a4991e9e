/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Looking inside a heap (inspect.c): gc.get_objects() and friends and
 * the heap dump, for the ioctls of chardev.c, the only file above it.
 */
#ifndef _REFCACHE_INSPECT_H
#define _REFCACHE_INSPECT_H

#include "gc.h"

struct refcache_gc_objects;
int refcache_gc_objects_locked(struct refcache_heap *heap, unsigned int cmd,
			       struct refcache_gc_objects *req, u64 *ids);
void refcache_gc_close_ids_locked(struct refcache_heap *heap, const u64 *ids, u32 n);
int refcache_heap_dump_start_locked(struct refcache_heap *heap, struct refcache_dump **dump);
u64 refcache_heap_dump_total(const struct refcache_dump *dump);
const struct refcache_dump_record *refcache_heap_dump_records(const struct refcache_dump *dump);

#endif /* _REFCACHE_INSPECT_H */
