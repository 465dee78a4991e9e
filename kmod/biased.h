/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Biased reference counting's owner tables and queues (biased.c), for
 * the files above it: heap.c fills object.c's hooks with them
 * (struct refcache_objspace_ops) and tears them down; the collector
 * moves queued objects' generations.  The counts themselves: refcount.h.
 */
#ifndef _REFCACHE_BIASED_H
#define _REFCACHE_BIASED_H

#include "refcount.h"

int refcache_bias_cache_init_locked(struct refcache_heap *heap, u32 flags);
void refcache_bias_obj_init_locked(struct refcache_heap *heap, struct refcache_obj *obj);
void refcache_bias_queue_locked(struct refcache_heap *heap, struct refcache_obj *obj);
void refcache_bias_service_locked(struct refcache_heap *heap);
void refcache_bias_freeze_queued_locked(struct refcache_heap *heap, bool unfreeze);
void refcache_bias_teardown_locked(struct refcache_heap *heap);
void refcache_bias_destroy(struct refcache_heap *heap);
void refcache_bias_cache_undo_locked(struct refcache_heap *heap);

#endif /* _REFCACHE_BIASED_H */
