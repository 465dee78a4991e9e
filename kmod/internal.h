/* SPDX-License-Identifier: GPL-2.0 */
/* Shared between refcache's own files; not part of any API. */
#ifndef _REFCACHE_INTERNAL_H
#define _REFCACHE_INTERNAL_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/pid.h>

#include "alloc.h"
#include "compat.h"
#include "object.h"
#include "refcache.h"

/**
 * struct refcache_heap - everything one opener of /dev/refcache owns
 * @ref:   holders: the open file and in-kernel users
 * @id:    unique for the module's lifetime, shown in /proc
 * @owner: thread group that created the heap
 * @node:  on refcache_heaps, under refcache_heaps_lock
 * @memcg: the creator's memory cgroup, charged for everything the heap
 *         allocates on behalf of its users, whoever makes the call
 * @alloc: the heap's small-object allocator (alloc.c)
 * @objs:  caches, objects and handles (object.h)
 */
struct refcache_heap {
	struct kref ref;
	u64 id;
	struct pid *owner;
	struct list_head node;
	struct mem_cgroup *memcg;
	struct refcache_alloc alloc;
	struct refcache_objspace objs;
};

/* heap.c */
extern struct list_head refcache_heaps;
extern struct mutex refcache_heaps_lock;

/* chardev.c */
int refcache_chardev_init(void);
void refcache_chardev_exit(void);

/* procfs.c */
int refcache_procfs_init(void);
void refcache_procfs_exit(void);

#endif /* _REFCACHE_INTERNAL_H */
