// SPDX-License-Identifier: GPL-2.0
/*
 * Limits: what refcache lets one heap, one user and all users together
 * make the kernel allocate.  /dev/refcache is open to every local user
 * and nothing it allocates can be swapped out, so every byte a heap
 * causes (arenas, large objects, the handle table, caches, the heap and
 * its per-CPU caches) is charged here, at the allocation, against three
 * budgets: the heap's own, its user's (the effective uid that opened it,
 * as io_uring charges ctx->user) and the module's.  Defaults follow the
 * machine's memory.  Documentation/limits.rst has the rules.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/hashtable.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "internal.h"

/* 0 at load time means "derive from the machine's memory". */
static u64 max_bytes;
module_param(max_bytes, ullong, 0644);
MODULE_PARM_DESC(max_bytes,
		 "Bytes all heaps together may hold (default: half of RAM); over it -ENOMEM");

static u64 user_max_bytes;
module_param(user_max_bytes, ullong, 0644);
MODULE_PARM_DESC(user_max_bytes,
		 "Bytes the heaps of one user may hold (default: RAM/8); over it -EDQUOT; CAP_SYS_RESOURCE is exempt");

static u64 max_objects;
module_param(max_objects, ullong, 0644);
MODULE_PARM_DESC(max_objects,
		 "Live objects in all heaps together (default: RAM/32 bytes' worth); over it -ENOMEM");

static atomic64_t all_bytes = ATOMIC64_INIT(0);
static atomic64_t all_objects = ATOMIC64_INIT(0);

/* Users with at least one heap, by uid; both under users_lock. */
static DEFINE_HASHTABLE(users, 6);
static DEFINE_MUTEX(users_lock);

/* Module-wide usage, for /proc/refcache/stats. */
void refcache_limits_read(u64 *objects, u64 *bytes)
{
	*objects = atomic64_read(&all_objects);
	*bytes = atomic64_read(&all_bytes);
}

u64 refcache_limit_objects(void)
{
	return READ_ONCE(max_objects);
}

u64 refcache_limit_bytes(void)
{
	return READ_ONCE(max_bytes);
}

u64 refcache_limit_user_bytes(void)
{
	return READ_ONCE(user_max_bytes);
}

/* Add @n to @v unless that takes it past @max; exact under races. */
static bool add_within(atomic64_t *v, u64 n, u64 max)
{
	s64 cur = atomic64_read(v);

	do {
		if ((u64)cur + n > max || (u64)cur + n < (u64)cur)
			return false;
	} while (!atomic64_try_cmpxchg(v, &cur, cur + n));
	return true;
}

/**
 * refcache_charge() - count bytes a heap is about to make the kernel hold
 * @heap:  the heap
 * @bytes: what the allocation will take
 *
 * Checked in order against the heap's max_bytes, its user's budget and
 * the module's; nothing is counted when one refuses.
 *
 * Return: 0, -EDQUOT (heap or user budget) or -ENOMEM (module budget).
 */
int refcache_charge(struct refcache_heap *heap, u64 bytes)
{
	struct refcache_user *user = heap->user;

	if (!add_within(&heap->charged, bytes, READ_ONCE(heap->objs.max_bytes)))
		return -EDQUOT;
	if (!add_within(&user->bytes, bytes,
			heap->exempt ? U64_MAX : refcache_limit_user_bytes()))
		goto heap;
	if (!add_within(&all_bytes, bytes, refcache_limit_bytes())) {
		atomic64_sub(bytes, &user->bytes);
		atomic64_sub(bytes, &heap->charged);
		return -ENOMEM;
	}
	return 0;
heap:
	atomic64_sub(bytes, &heap->charged);
	return -EDQUOT;
}

/**
 * refcache_uncharge() - the kernel gave back bytes charged to a heap
 * @heap:  the heap
 * @bytes: as passed to refcache_charge()
 */
void refcache_uncharge(struct refcache_heap *heap, u64 bytes)
{
	atomic64_sub(bytes, &all_bytes);
	atomic64_sub(bytes, &heap->user->bytes);
	atomic64_sub(bytes, &heap->charged);
}

/* Count one object against the module-wide object limit. */
int refcache_charge_object(void)
{
	return add_within(&all_objects, 1, refcache_limit_objects()) ? 0 : -ENOMEM;
}

void refcache_uncharge_object(void)
{
	atomic64_dec(&all_objects);
}

void refcache_uncharge_objects(u64 n)
{
	atomic64_sub(n, &all_objects);
}

/**
 * refcache_user_attach() - make @heap the current task's, for accounting
 * @heap: a new heap
 *
 * The heap belongs to the effective uid of its creator, whose budget it
 * draws on; a creator with CAP_SYS_RESOURCE is exempt from that budget
 * (not from the module's), as it is from rlimits.  Sets the heap's
 * starting max_bytes.
 *
 * Return: 0 or -ENOMEM.
 */
int refcache_user_attach(struct refcache_heap *heap)
{
	kuid_t uid = current_euid();
	struct refcache_user *user, *fresh;

	fresh = kzalloc(sizeof(*fresh), GFP_KERNEL_ACCOUNT);
	if (!fresh)
		return -ENOMEM;
	mutex_lock(&users_lock);
	hash_for_each_possible(users, user, node, __kuid_val(uid)) {
		if (uid_eq(user->uid, uid))
			goto found;
	}
	user = fresh;
	fresh = NULL;
	user->uid = uid;
	hash_add(users, &user->node, __kuid_val(uid));
found:
	user->heaps++;
	mutex_unlock(&users_lock);
	kfree(fresh);

	heap->user = user;
	heap->exempt = ns_capable_noaudit(&init_user_ns, CAP_SYS_RESOURCE);
	heap->objs.max_bytes = heap->exempt ? refcache_limit_bytes() :
			       refcache_limit_user_bytes();
	heap->objs.max_objects = refcache_limit_objects();
	return 0;
}

/* The heap holds nothing any more: let go of its user. */
void refcache_user_detach(struct refcache_heap *heap)
{
	struct refcache_user *user = heap->user;

	WARN_ON_ONCE(atomic64_read(&heap->charged));
	mutex_lock(&users_lock);
	if (!--user->heaps) {
		WARN_ON_ONCE(atomic64_read(&user->bytes));
		hash_del(&user->node);
		kfree(user);
	}
	mutex_unlock(&users_lock);
	heap->user = NULL;
}

/**
 * refcache_users_show() - the users table of /proc/refcache/users
 * @m:     the seq_file
 * @all:   show every user, else only @uid
 * @uid:   the reader
 */
void refcache_users_show(struct seq_file *m, bool all, kuid_t uid)
{
	struct user_namespace *ns = seq_user_ns(m);
	struct refcache_user *user;
	int bkt;

	seq_puts(m, "#    uid  heaps        bytes    max_bytes\n");
	mutex_lock(&users_lock);
	hash_for_each(users, bkt, user, node) {
		if (!all && !uid_eq(user->uid, uid))
			continue;
		seq_printf(m, "%8u %6llu %12lld %12llu\n",
			   from_kuid_munged(ns, user->uid), user->heaps,
			   atomic64_read(&user->bytes), refcache_limit_user_bytes());
	}
	mutex_unlock(&users_lock);
}

/* Defaults for the parameters not given at load time. */
void refcache_limits_init(void)
{
	u64 ram = (u64)totalram_pages() << PAGE_SHIFT;

	if (!max_bytes)
		max_bytes = ram / 2;
	if (!user_max_bytes)
		user_max_bytes = ram / 8;
	if (!max_objects)
		max_objects = ram / 32;
	pr_debug("limits: max_bytes %llu user_max_bytes %llu max_objects %llu\n",
		 max_bytes, user_max_bytes, max_objects);
}
