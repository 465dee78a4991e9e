// SPDX-License-Identifier: GPL-2.0
/*
 * Heaps: the unit of ownership in refcache.  Each open file of
 * /dev/refcache creates one, in-kernel users may create their own; the
 * last refcache_heap_put() frees it and everything in it.
 */
#include <linux/atomic.h>
#include <linux/memcontrol.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "internal.h"

/* Every live heap, for /proc/refcache. */
LIST_HEAD(refcache_heaps);
/* Guards refcache_heaps. */
DEFINE_MUTEX(refcache_heaps_lock);

static atomic64_t heap_next_id = ATOMIC64_INIT(0);
static atomic64_t heaps_open = ATOMIC64_INIT(0);
static atomic64_t heaps_created = ATOMIC64_INIT(0);
static atomic64_t heaps_destroyed = ATOMIC64_INIT(0);

/**
 * refcache_heap_create() - create an empty heap owned by the caller
 *
 * The heap belongs to the current thread group and starts with one
 * reference, dropped with refcache_heap_put().
 *
 * Context: process context, may sleep.
 * Return: the new heap, or ERR_PTR(-ENOMEM).
 */
struct refcache_heap *refcache_heap_create(void)
{
	struct refcache_heap *heap;

	heap = kzalloc(sizeof(*heap), GFP_KERNEL_ACCOUNT);
	if (!heap)
		return ERR_PTR(-ENOMEM);
	if (refcache_alloc_init(&heap->alloc)) {
		kfree(heap);
		return ERR_PTR(-ENOMEM);
	}

	kref_init(&heap->ref);
	heap->id = atomic64_inc_return(&heap_next_id);
	heap->owner = get_task_pid(current, PIDTYPE_TGID);
	heap->memcg = get_mem_cgroup_from_mm(current->mm);
	refcache_objspace_init(heap);

	mutex_lock(&refcache_heaps_lock);
	list_add_tail(&heap->node, &refcache_heaps);
	mutex_unlock(&refcache_heaps_lock);

	atomic64_inc(&heaps_open);
	atomic64_inc(&heaps_created);
	return heap;
}
EXPORT_SYMBOL_NS_GPL(refcache_heap_create, REFCACHE_NS);

/**
 * refcache_heap_get() - take another reference to a heap
 * @heap: a heap the caller already holds a reference to
 *
 * Return: @heap, for chaining.
 */
struct refcache_heap *refcache_heap_get(struct refcache_heap *heap)
{
	kref_get(&heap->ref);
	return heap;
}
EXPORT_SYMBOL_NS_GPL(refcache_heap_get, REFCACHE_NS);

static void heap_release(struct kref *ref)
{
	struct refcache_heap *heap = container_of(ref, struct refcache_heap, ref);

	/* Unlisted first: /proc readers must not see a heap being torn down. */
	mutex_lock(&refcache_heaps_lock);
	list_del(&heap->node);
	mutex_unlock(&refcache_heaps_lock);

	refcache_objspace_destroy(heap);

	refcache_alloc_destroy(&heap->alloc);
	put_pid(heap->owner);
	mem_cgroup_put(heap->memcg);
	kfree(heap);

	atomic64_dec(&heaps_open);
	atomic64_inc(&heaps_destroyed);
}

/**
 * refcache_heap_put() - drop a reference to a heap
 * @heap: the heap; NULL is allowed and ignored
 *
 * The last reference frees the heap and everything it still holds.
 *
 * Context: process context, may sleep.
 */
void refcache_heap_put(struct refcache_heap *heap)
{
	if (heap)
		kref_put(&heap->ref, heap_release);
}
EXPORT_SYMBOL_NS_GPL(refcache_heap_put, REFCACHE_NS);

/**
 * refcache_heap_id() - the heap's id, as shown in /proc/refcache
 * @heap: the heap
 *
 * Return: a number unique among the heaps of this module load, from 1.
 */
u64 refcache_heap_id(const struct refcache_heap *heap)
{
	return heap->id;
}
EXPORT_SYMBOL_NS_GPL(refcache_heap_id, REFCACHE_NS);

/**
 * refcache_heap_owner() - the thread group that created the heap
 * @heap: the heap
 *
 * Return: the owner's tgid in the caller's pid namespace, 0 if the owner
 * is not visible there.
 */
pid_t refcache_heap_owner(const struct refcache_heap *heap)
{
	return pid_vnr(heap->owner);
}
EXPORT_SYMBOL_NS_GPL(refcache_heap_owner, REFCACHE_NS);

/**
 * refcache_stats_read() - snapshot the module-wide counters
 * @stats: filled in; each field is read atomically, the set is not
 */
void refcache_stats_read(struct refcache_stats *stats)
{
	stats->heaps_open = atomic64_read(&heaps_open);
	stats->heaps_created = atomic64_read(&heaps_created);
	stats->heaps_destroyed = atomic64_read(&heaps_destroyed);
}
EXPORT_SYMBOL_NS_GPL(refcache_stats_read, REFCACHE_NS);
