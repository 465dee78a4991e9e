// SPDX-License-Identifier: GPL-2.0
/*
 * Heaps: the unit of ownership in refcache.  Each open file of
 * /dev/refcache creates one, in-kernel users may create their own; the
 * last refcache_heap_put() frees it and everything in it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/cred.h>
#include <linux/memcontrol.h>
#include <linux/module.h>
#include <linux/notifier.h>
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
static atomic64_t heaps_abandoned = ATOMIC64_INIT(0);

/* Heaps torn down while kernel code still held objects: kept till unload. */
static LIST_HEAD(refcache_abandoned);

/**
 * refcache_heap_create() - create an empty heap owned by the caller
 *
 * The heap belongs to the current thread group and effective uid, whose
 * budget it draws on (Documentation/limits.rst), and starts with one
 * reference, dropped with refcache_heap_put().
 *
 * Context: process context, may sleep.
 * Return: the new heap, ERR_PTR(-ENOMEM), or ERR_PTR(-EDQUOT) when the
 * user's budget cannot hold another heap.
 */
struct refcache_heap *refcache_heap_create(void)
{
	struct refcache_heap *heap;
	int ret;

	heap = kzalloc(sizeof(*heap), GFP_KERNEL_ACCOUNT);
	if (!heap)
		return ERR_PTR(-ENOMEM);
	ret = refcache_user_attach(heap);
	if (ret)
		goto free;
	/* The heap and its per-CPU caches count like everything else. */
	ret = refcache_charge(heap, sizeof(*heap) + refcache_alloc_base_bytes());
	if (ret)
		goto detach;
	ret = refcache_alloc_init(&heap->alloc);
	if (ret)
		goto uncharge;

	refcount_set(&heap->users, 1);
	kref_init(&heap->ref);
	heap->id = atomic64_inc_return(&heap_next_id);
	heap->owner = get_task_pid(current, PIDTYPE_TGID);
	heap->uid = current_euid();
	heap->memcg = get_mem_cgroup_from_mm(current->mm);
	refcache_objspace_init(heap);

	mutex_lock(&refcache_heaps_lock);
	list_add_tail(&heap->node, &refcache_heaps);
	mutex_unlock(&refcache_heaps_lock);

	atomic64_inc(&heaps_open);
	atomic64_inc(&heaps_created);
	return heap;

uncharge:
	refcache_uncharge(heap, sizeof(*heap) + refcache_alloc_base_bytes());
detach:
	refcache_user_detach(heap);
free:
	kfree(heap);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_NS_GPL(refcache_heap_create, REFCACHE_NS);

/**
 * refcache_heap_get() - take another reference to a heap
 * @heap: a heap the caller already holds a reference to
 *
 * Context: any context; never sleeps.
 * Return: @heap, for chaining.
 */
struct refcache_heap *refcache_heap_get(struct refcache_heap *heap)
{
	refcount_inc(&heap->users);
	return heap;
}
EXPORT_SYMBOL_NS_GPL(refcache_heap_get, REFCACHE_NS);

/* The shell: nothing but the structure is left. */
static void heap_release(struct kref *ref)
{
	struct refcache_heap *heap = container_of(ref, struct refcache_heap, ref);

	mutex_lock(&refcache_heaps_lock);
	list_del(&heap->node);
	mutex_unlock(&refcache_heaps_lock);

	/* /proc readers may have taken the lock until just now. */
	mutex_destroy(&heap->objs.lock);
	put_pid(heap->owner);
	mem_cgroup_put(heap->memcg);
	kfree(heap);
	atomic64_inc(&heaps_destroyed);
}

/* Drop a reference to the heap's shell (a /proc reader's); NULL is ignored. */
void refcache_heap_shell_put(struct refcache_heap *heap)
{
	if (heap)
		kref_put(&heap->ref, heap_release);
}

/*
 * The last owner is gone: free every object, handle, cache and arena
 * now, so that the last close() returns with the memory back.  A /proc
 * reader may still hold the shell; it sees @dead and skips the heap.
 */
static void heap_teardown(struct refcache_heap *heap, bool orphan)
{
	bool abandon;

	/* No collection may run or be queued from here on. */
	refcache_gc_shutdown(heap);
	abandon = refcache_objspace_destroy(heap, orphan);

	/* No CPU-hotplug drain may touch the allocator from here on. */
	mutex_lock(&refcache_heaps_lock);
	heap->dead = true;
	if (abandon) {
		list_add(&heap->abandoned, &refcache_abandoned);
		atomic64_inc(&heaps_abandoned);
	}
	mutex_unlock(&refcache_heaps_lock);
	atomic64_dec(&heaps_open);
	if (abandon)
		return;

	refcache_alloc_destroy(heap);
	refcache_uncharge(heap, sizeof(*heap) + refcache_alloc_base_bytes());
	refcache_user_detach(heap);
	kref_put(&heap->ref, heap_release);
}

/**
 * refcache_heap_put() - drop a reference to a heap
 * @heap: the heap; NULL is allowed and ignored
 *
 * The last reference frees everything the heap holds before it returns.
 * Kernel code must have dropped its own references to the heap's objects
 * by then: an object still referenced from outside the heap is reported
 * with a warning, and the heap is then kept (leaked) until the module is
 * unloaded rather than freed under its holder.
 *
 * Context: process context, may sleep.
 */
void refcache_heap_put(struct refcache_heap *heap)
{
	if (heap && refcount_dec_and_test(&heap->users))
		heap_teardown(heap, false);
}
EXPORT_SYMBOL_NS_GPL(refcache_heap_put, REFCACHE_NS);

/* A heap some kernel user never put, now that no kernel user is left. */
static struct refcache_heap *heap_first_live(void)
{
	struct refcache_heap *heap, *found = NULL;

	mutex_lock(&refcache_heaps_lock);
	list_for_each_entry(heap, &refcache_heaps, node) {
		if (!heap->dead) {
			found = heap;
			break;
		}
	}
	mutex_unlock(&refcache_heaps_lock);
	return found;
}

/*
 * Module unload: nobody can hold objects of an abandoned heap any more,
 * nor a reference to a heap (no file is open, and every module that used
 * the API is gone).  A heap that some module never put is torn down now;
 * the callbacks of its caches were disarmed when that module went.
 */
void refcache_heaps_free_abandoned(void)
{
	struct refcache_heap *heap, *tmp;

	while ((heap = heap_first_live())) {
		pr_warn("heap %llu was never put; freeing it\n", heap->id);
		heap_teardown(heap, true);
	}

	list_for_each_entry_safe(heap, tmp, &refcache_abandoned, abandoned) {
		list_del(&heap->abandoned);
		atomic64_dec(&heaps_abandoned);
		refcache_objspace_free_abandoned(heap);
		refcache_alloc_destroy(heap);
		refcache_uncharge(heap, sizeof(*heap) + refcache_alloc_base_bytes());
		refcache_user_detach(heap);
		kref_put(&heap->ref, heap_release);
	}
}

/*
 * A module is going away: nothing it left in any heap may call its code
 * again.  Its exit function has run; its code is freed after this
 * notifier returns.  Each heap is visited with its mutex held, so a
 * callback running now finishes first, and none starts afterwards.
 */
static int heap_module_notify(struct notifier_block *nb, unsigned long action, void *data)
{
	struct refcache_heap *heap, *prev = NULL;
	struct module *mod = data;
	unsigned int n = 0;

	if (action != MODULE_STATE_GOING || !refcache_kernel_caches_live())
		return NOTIFY_DONE;
	mutex_lock(&refcache_heaps_lock);
	list_for_each_entry(heap, &refcache_heaps, node) {
		/* A reference to the shell keeps the heap on the list. */
		if (!kref_get_unless_zero(&heap->ref))
			continue;
		mutex_unlock(&refcache_heaps_lock);
		refcache_heap_shell_put(prev);
		prev = heap;
		refcache_heap_lock(heap);
		n += refcache_objspace_disarm_module_locked(heap, mod);
		refcache_heap_unlock(heap);
		mutex_lock(&refcache_heaps_lock);
	}
	mutex_unlock(&refcache_heaps_lock);
	refcache_heap_shell_put(prev);
	WARN(n, "refcache: module %s unloaded leaving %u caches behind; their callbacks are disarmed\n",
	     module_name(mod), n);
	return NOTIFY_OK;
}

static struct notifier_block heap_module_nb = {
	.notifier_call = heap_module_notify,
};

int refcache_heaps_init(void)
{
	return register_module_notifier(&heap_module_nb);
}

void refcache_heaps_exit(void)
{
	unregister_module_notifier(&heap_module_nb);
}

/**
 * refcache_heap_id() - the heap's id, as shown in /proc/refcache
 * @heap: the heap
 *
 * Context: any context; never sleeps.
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
 * Context: any context; never sleeps.
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
 *
 * Context: any context; never sleeps.
 */
void refcache_stats_read(struct refcache_stats *stats)
{
	stats->heaps_open = atomic64_read(&heaps_open);
	stats->heaps_created = atomic64_read(&heaps_created);
	stats->heaps_destroyed = atomic64_read(&heaps_destroyed);
	stats->heaps_abandoned = atomic64_read(&heaps_abandoned);
	refcache_limits_read(&stats->objects, &stats->bytes);
}
EXPORT_SYMBOL_NS_GPL(refcache_stats_read, REFCACHE_NS);
