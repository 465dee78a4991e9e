/* SPDX-License-Identifier: GPL-2.0 */
/* Shared between refcache's own files; not part of any API. */
#ifndef _REFCACHE_INTERNAL_H
#define _REFCACHE_INTERNAL_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/refcount.h>
#include <linux/uidgid.h>

#include "alloc.h"
#include "compat.h"
#include "object.h"
#include "refcache.h"

/**
 * struct refcache_user - what the heaps of one user hold together
 * @node:  in the users table (limits.c), under its lock
 * @uid:   the effective uid that opened the heaps
 * @heaps: heaps of this user not yet torn down, under the table's lock
 * @bytes: bytes charged to them
 */
struct refcache_user {
	struct hlist_node node;
	kuid_t uid;
	u64 heaps;
	atomic64_t bytes;
};

/**
 * struct refcache_heap - everything one opener of /dev/refcache owns
 * @users:   owners: the open file and in-kernel users; the last one
 *           frees everything the heap holds (refcache_heap_put())
 * @ref:     the heap's shell: one for all owners together, plus one per
 *           /proc reader walking past it; the last frees the structure
 * @id:      unique for the module's lifetime, shown in /proc
 * @owner:   thread group that created the heap
 * @uid:     effective uid of the creator; /proc shows the heap to it
 * @node:    on refcache_heaps, under refcache_heaps_lock
 * @dead:    its contents are freed (set under refcache_heaps_lock)
 * @exempt:  the creator had CAP_SYS_RESOURCE: no per-user budget
 * @memcg:   the creator's memory cgroup, charged for everything the heap
 *           allocates on behalf of its users, whoever makes the call
 * @user:    accounting of the heap's user (limits.c)
 * @charged: bytes the heap makes the kernel hold (limits.c)
 * @abandoned: on refcache_abandoned: torn down while kernel code still
 *           held objects, so kept (and leaked) until module unload
 * @alloc:   the heap's small-object allocator (alloc.c)
 * @objs:    caches, objects and handles (object.h)
 */
struct refcache_heap {
	refcount_t users;
	struct kref ref;
	u64 id;
	struct pid *owner;
	kuid_t uid;
	struct list_head node;
	bool dead;
	bool exempt;
	struct mem_cgroup *memcg;
	struct refcache_user *user;
	atomic64_t charged;
	struct list_head abandoned;
	struct refcache_alloc alloc;
	struct refcache_objspace objs;
};

/* heap.c */
extern struct list_head refcache_heaps;
extern struct mutex refcache_heaps_lock;

/* limits.c */
struct seq_file;
int refcache_charge(struct refcache_heap *heap, u64 bytes);
void refcache_uncharge(struct refcache_heap *heap, u64 bytes);
int refcache_charge_object(void);
void refcache_uncharge_object(void);
void refcache_uncharge_objects(u64 n);
int refcache_user_attach(struct refcache_heap *heap);
void refcache_user_detach(struct refcache_heap *heap);
void refcache_users_show(struct seq_file *m, bool all, kuid_t uid);
void refcache_limits_init(void);
void refcache_limits_read(u64 *objects, u64 *bytes);
u64 refcache_limit_objects(void);
u64 refcache_limit_bytes(void);
u64 refcache_limit_user_bytes(void);

/* alloc.c */
void *__refcache_alloc(struct refcache_heap *heap, size_t size, gfp_t gfp, int *err);
size_t refcache_alloc_base_bytes(void);

/* heap.c; also the collectors' workqueue and shrinker, over every heap */
void refcache_heaps_free_abandoned(void);
int refcache_heaps_init(void);
void refcache_heaps_exit(void);
void refcache_heap_shell_put(struct refcache_heap *heap);
int refcache_gc_wq_init(void);
void refcache_gc_wq_exit(void);
int refcache_gc_shrinker_init(void);
void refcache_gc_shrinker_exit(void);

/* chardev.c */
int refcache_chardev_init(void);
void refcache_chardev_exit(void);

/* procfs.c */
int refcache_procfs_init(void);
void refcache_procfs_exit(void);

#endif /* _REFCACHE_INTERNAL_H */
