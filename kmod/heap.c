// SPDX-License-Identifier: GPL-2.0
/*
 * Heaps: the unit of ownership in refcache.  Each open file of
 * /dev/refcache creates one, in-kernel users may create their own; the
 * last refcache_heap_put() frees it and everything in it.
 *
 * Above objects and both policies (Documentation/design.rst), this file
 * fills in object.c's hooks for every heap, runs the automatic
 * collections and the shrinker over all heaps, and tears a heap down,
 * calling each file below in turn.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/cpuhotplug.h>
#include <linux/cred.h>
#include <linux/memcontrol.h>
#include <linux/module.h>
#include <linux/notifier.h>
#include <linux/sched.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "biased.h"

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

/* Automatic collections: one work item per heap, never in the caller. */
static struct workqueue_struct *refcache_gc_wq;

/*
 * object.c's hook: generation 0 passed its threshold.  A queued work
 * item holds a reference to the heap's shell until it ran.
 */
static void heap_gc_queue(struct refcache_heap *heap)
{
	if (work_pending(&heap->objs.gc.work) || !kref_get_unless_zero(&heap->ref))
		return;
	if (!queue_work(refcache_gc_wq, &heap->objs.gc.work))
		refcache_heap_shell_put(heap);
}

static void heap_gc_work(struct work_struct *work)
{
	struct refcache_heap *heap = container_of(work, struct refcache_heap, objs.gc.work);

	refcache_gc_collect_auto(heap);
	refcache_heap_shell_put(heap);
}

/* What object.c calls above it, for every heap (struct refcache_objspace_ops). */
static const struct refcache_objspace_ops heap_objs_ops = {
	.service	= refcache_bias_service_locked,
	.queue		= refcache_bias_queue_locked,
	.cache_init	= refcache_bias_cache_init_locked,
	.obj_init	= refcache_bias_obj_init_locked,
	.collect_due	= heap_gc_queue,
	.collect_quota	= refcache_gc_collect_quota_locked,
	.roots		= refcache_handles_roots_locked,
};

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
	refcache_objspace_init(heap, &heap_objs_ops);
	refcache_gc_init(heap);
	INIT_WORK(&heap->objs.gc.work, heap_gc_work);

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
 * The heap's last owner is gone: no automatic collection may start, and
 * one queued or running is cancelled or waited for before anything of
 * the heap is freed.  A queued work item holds a reference to the
 * heap's shell, given back here if the item never ran.
 */
static void heap_gc_shutdown(struct refcache_heap *heap)
{
	refcache_heap_lock(heap);
	heap->objs.gc.shutdown = true;
	refcache_gc_inspect_release_locked(heap);
	refcache_heap_unlock(heap);
	if (cancel_work_sync(&heap->objs.gc.work))
		refcache_heap_shell_put(heap);
}

/*
 * Close the heap's handles (which releases everything they alone kept
 * alive), then free what cycles still hold, ignoring the references
 * between those objects.
 *
 * Returns true if kernel code still holds some of the heap's objects:
 * then nothing is freed, puts are ignored from now on, and the heap is
 * kept until the module is unloaded (heap_objs_free_abandoned()).  An
 * @orphan, a heap no module put before refcache's unload, has no holder
 * left to ask about: everything is freed.
 */
static bool heap_objs_destroy(struct refcache_heap *heap, bool orphan)
{
	struct refcache_objspace *os = &heap->objs;
	unsigned long external = 0;

	refcache_heap_lock(heap);
	refcache_handles_destroy_locked(heap);
	/* Every queue empty, every object on a list: the counts below are true. */
	refcache_bias_teardown_locked(heap);
	os->dying = true;
	if (!orphan)
		external = refcache_gc_external_refs_locked(heap);
	if (WARN(external,
		 "refcache: heap %llu put with %lu references to its objects held outside it; leaking it\n",
		 heap->id, external)) {
		/* Owners may still count: their entries stay until the heap is freed. */
		refcache_heap_unlock(heap);
		return true;
	}
	refcache_objspace_free_all_locked(heap);
	refcache_handles_free_locked(heap);
	refcache_heap_unlock(heap);
	refcache_bias_destroy(heap);
	return false;
}

/* Module unload: free an abandoned heap's contents after all. */
static void heap_objs_free_abandoned(struct refcache_heap *heap)
{
	refcache_heap_lock(heap);
	refcache_objspace_free_all_locked(heap);
	refcache_handles_free_locked(heap);
	refcache_heap_unlock(heap);
	refcache_bias_destroy(heap);
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
	heap_gc_shutdown(heap);
	abandon = heap_objs_destroy(heap, orphan);

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
		heap_objs_free_abandoned(heap);
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

/*
 * A CPU went offline: nobody runs there any more, so its cached blocks
 * of every heap go back to their pools (and empty arenas to the page
 * allocator) instead of pinning them until the heap dies.
 */
static int refcache_cpu_dead(unsigned int cpu)
{
	struct refcache_heap *heap;

	mutex_lock(&refcache_heaps_lock);
	list_for_each_entry(heap, &refcache_heaps, node) {
		if (!heap->dead)
			refcache_alloc_drain_dead_cpu(heap, cpu);
		cond_resched();
	}
	mutex_unlock(&refcache_heaps_lock);
	return 0;
}

static enum cpuhp_state refcache_cpuhp_state;

int refcache_heaps_init(void)
{
	int ret;

	ret = register_module_notifier(&heap_module_nb);
	if (ret)
		return ret;
	ret = cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, "refcache:dead",
					NULL, refcache_cpu_dead);
	if (ret < 0) {
		unregister_module_notifier(&heap_module_nb);
		return ret;
	}
	refcache_cpuhp_state = ret;
	return 0;
}

void refcache_heaps_exit(void)
{
	cpuhp_remove_state_nocalls(refcache_cpuhp_state);
	unregister_module_notifier(&heap_module_nb);
}

/*
 * The collectors' shrinker, over every heap.  count_objects answers from
 * the collectors' own counts (refcache_gc_mem_candidates()):
 * the objects a full collection of each heap that may run one, and could
 * find something new, would examine.  scan_objects runs those
 * collections, one heap at a time, reason REFCACHE_GC_REASON_PRESSURE,
 * and reports the objects freed.  Reclaim may come from an allocation
 * made under any heap's mutex or under refcache_heaps_lock, so no mutex
 * is ever waited for here: each is tried, and a heap that is busy is left
 * for the next call.  One scan runs at a time (a collection's own
 * allocations may enter reclaim again).
 */
static struct shrinker *gc_shrinker;
static DEFINE_MUTEX(gc_shrink_lock);

static unsigned long gc_shrink_count(struct shrinker *shrink, struct shrink_control *sc)
{
	struct refcache_heap *heap;
	unsigned long n = 0;

	if (!mutex_trylock(&refcache_heaps_lock))
		return 0;
	list_for_each_entry(heap, &refcache_heaps, node) {
		if (!heap->dead)
			n += max_t(s64, refcache_gc_mem_candidates(heap), 0);
	}
	mutex_unlock(&refcache_heaps_lock);
	return n ?: SHRINK_EMPTY;
}

static unsigned long gc_shrink_scan(struct shrinker *shrink, struct shrink_control *sc)
{
	struct refcache_heap *heap, *prev = NULL;
	unsigned long freed = 0, scanned = 0;
	u64 cand;
	s64 got;

	if (!mutex_trylock(&gc_shrink_lock))
		return SHRINK_STOP;
	if (!mutex_trylock(&refcache_heaps_lock))
		goto out;
	list_for_each_entry(heap, &refcache_heaps, node) {
		if (scanned >= sc->nr_to_scan)
			break;
		if (heap->dead || refcache_gc_mem_candidates(heap) < 0 ||
		    !kref_get_unless_zero(&heap->ref))
			continue;
		/* The shell's reference keeps the heap on the list to go on from. */
		mutex_unlock(&refcache_heaps_lock);
		refcache_heap_shell_put(prev);
		prev = heap;
		if (mutex_trylock(&heap->objs.lock)) {
			WRITE_ONCE(heap->objs.locker, current);
			cand = 0;
			got = refcache_gc_collect_pressure_locked(heap, &cand);
			if (got > 0)
				freed += got;
			scanned += cand;
			refcache_heap_unlock(heap);
		}
		if (!mutex_trylock(&refcache_heaps_lock))
			goto out;
	}
	mutex_unlock(&refcache_heaps_lock);
out:
	refcache_heap_shell_put(prev);
	mutex_unlock(&gc_shrink_lock);
	/* The collections examined that many: no need to call again for them. */
	sc->nr_scanned = max_t(unsigned long, scanned, sc->nr_to_scan);
	return scanned ? freed : SHRINK_STOP;
}

int refcache_gc_shrinker_init(void)
{
	gc_shrinker = refcache_shrinker_create("refcache-gc", gc_shrink_count, gc_shrink_scan);
	return gc_shrinker ? 0 : -ENOMEM;
}

void refcache_gc_shrinker_exit(void)
{
	refcache_shrinker_destroy(gc_shrinker);
}

int refcache_gc_wq_init(void)
{
	/* Unbound: one heap's long collection must not hold up another's. */
	refcache_gc_wq = alloc_workqueue("refcache_gc", WQ_UNBOUND, 0);
	return refcache_gc_wq ? 0 : -ENOMEM;
}

void refcache_gc_wq_exit(void)
{
	destroy_workqueue(refcache_gc_wq);
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
