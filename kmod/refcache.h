/* SPDX-License-Identifier: GPL-2.0 */
/*
 * refcache in-kernel API, for other modules and the KUnit suites.
 * Symbols are exported in the REFCACHE namespace: users add
 * MODULE_IMPORT_NS(REFCACHE_NS) (compat.h).
 */
#ifndef _REFCACHE_H
#define _REFCACHE_H

#include <linux/types.h>

struct refcache_heap;

/**
 * struct refcache_stats - module-wide counters, as in /proc/refcache/stats
 * @heaps_open:      heaps alive now
 * @heaps_created:   heaps created since the module was loaded
 * @heaps_destroyed: heaps freed since the module was loaded
 */
struct refcache_stats {
	u64 heaps_open;
	u64 heaps_created;
	u64 heaps_destroyed;
};

struct refcache_heap *refcache_heap_create(void);
struct refcache_heap *refcache_heap_get(struct refcache_heap *heap);
void refcache_heap_put(struct refcache_heap *heap);
u64 refcache_heap_id(const struct refcache_heap *heap);
pid_t refcache_heap_owner(const struct refcache_heap *heap);
void refcache_stats_read(struct refcache_stats *stats);

#endif /* _REFCACHE_H */
