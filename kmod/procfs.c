// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/refcache/: read-only statistics.  Nothing here prints a kernel
 * address; heaps are named by their id and owner pid, and a reader sees
 * only the heaps of its own effective uid unless it has CAP_SYS_ADMIN.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include <linux/refcache.h>

#include "internal.h"

static struct proc_dir_entry *refcache_proc_dir;

static int refcache_stats_show(struct seq_file *m, void *v)
{
	struct refcache_stats st;

	refcache_stats_read(&st);
	seq_printf(m, "abi_version %u.%u\n", REFCACHE_ABI_MAJOR,
		   REFCACHE_ABI_MINOR);
	seq_printf(m, "heaps_open %llu\n", st.heaps_open);
	seq_printf(m, "heaps_created %llu\n", st.heaps_created);
	seq_printf(m, "heaps_destroyed %llu\n", st.heaps_destroyed);
	seq_printf(m, "heaps_abandoned %llu\n", st.heaps_abandoned);
	seq_printf(m, "objects %llu\n", st.objects);
	seq_printf(m, "bytes %llu\n", st.bytes);
	return 0;
}

/*
 * Who may see a heap: its own user (the effective uid that opened the
 * /proc file, as hidepid judges by the opener) and the admin.
 */
static bool reader_is_admin(struct seq_file *m)
{
	return file_ns_capable(m->file, &init_user_ns, CAP_SYS_ADMIN);
}

static kuid_t reader_uid(struct seq_file *m)
{
	return m->file->f_cred->euid;
}

/*
 * Call @show for every heap the reader may see, with the heap's mutex
 * held and its contents alive.  A heap's mutex can be held for long
 * (releasing a long chain), so it is never waited for under
 * refcache_heaps_lock, which every open and close needs: a reference to
 * the heap's shell keeps it on the list for the walk to go on from, and
 * a heap torn down meanwhile is skipped.
 */
struct heap_walk {
	void (*show)(struct seq_file *m, struct refcache_heap *heap, void *arg);
	void *arg;
};

static void walk_visible_heaps(struct seq_file *m, const struct heap_walk *w)
{
	struct refcache_heap *heap, *prev = NULL;
	bool all = reader_is_admin(m);
	kuid_t uid = reader_uid(m);

	mutex_lock(&refcache_heaps_lock);
	list_for_each_entry(heap, &refcache_heaps, node) {
		if (heap->dead || (!all && !uid_eq(heap->uid, uid)) ||
		    !kref_get_unless_zero(&heap->ref))
			continue;
		mutex_unlock(&refcache_heaps_lock);
		refcache_heap_shell_put(prev);
		prev = heap;

		refcache_heap_lock(heap);
		if (!heap->objs.dying)
			w->show(m, heap, w->arg);
		refcache_heap_unlock(heap);
		mutex_lock(&refcache_heaps_lock);
	}
	mutex_unlock(&refcache_heaps_lock);
	refcache_heap_shell_put(prev);
}

static void allocator_show_heap(struct seq_file *m, struct refcache_heap *heap,
				void *arg)
{
	struct refcache_alloc_stats *st = arg;
	unsigned int i;

	refcache_alloc_stats_read(heap, st);
	seq_printf(m, "heap %llu owner %d\n", refcache_heap_id(heap),
		   refcache_heap_owner(heap));
	seq_puts(m, "class size pools blocks_in_use blocks_free\n");
	for (i = 0; i < REFCACHE_NUM_CLASSES; i++) {
		const struct refcache_alloc_class_stats *c = &st->cls[i];

		if (c->pools || c->blocks_in_use)
			seq_printf(m, "%5u %4u %5u %13llu %11llu\n", i, c->size,
				   c->pools, c->blocks_in_use, c->blocks_free);
	}
	/* The totals of CPython's sys._debugmallocstats(). */
	seq_printf(m, "arenas_allocated_total %llu\n", st->arenas_allocated_total);
	seq_printf(m, "arenas_reclaimed %llu\n", st->arenas_reclaimed);
	seq_printf(m, "arenas_highwater %llu\n", st->arenas_highwater);
	seq_printf(m, "arenas_current %llu\n", st->arenas_current);
	seq_printf(m, "arena_bytes %llu\n", st->arena_bytes);
	seq_printf(m, "bytes_in_allocated_blocks %llu\n", st->allocated_bytes);
	seq_printf(m, "bytes_in_free_blocks %llu\n", st->free_bytes);
	seq_printf(m, "bytes_in_unused_pools %llu\n", st->unused_pool_bytes);
	seq_printf(m, "bytes_lost_to_pool_headers %llu\n", st->pool_header_bytes);
	seq_printf(m, "bytes_lost_to_quantization %llu\n", st->quantization_bytes);
	seq_printf(m, "cached_blocks %llu\n", st->cached_blocks);
	seq_printf(m, "large_objects %llu\n", st->large_objects);
	seq_printf(m, "large_bytes %llu\n", st->large_bytes);
	seq_printf(m, "bad_frees %llu\n", st->bad_frees);
	seq_printf(m, "alloc_failures %llu\n\n", st->alloc_failures);
}

/* Per heap: the allocator's class table and totals. */
static int refcache_allocator_show(struct seq_file *m, void *v)
{
	struct refcache_alloc_stats *st;

	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	seq_printf(m, "arena_size %lu pool_size %lu pool_header %u alignment %u\n\n",
		   REFCACHE_ARENA_SIZE, REFCACHE_POOL_SIZE,
		   REFCACHE_POOL_OVERHEAD, REFCACHE_ALIGNMENT);
	walk_visible_heaps(m, &(struct heap_walk){ allocator_show_heap, st });
	kfree(st);
	return 0;
}

static void caches_show_heap(struct seq_file *m, struct refcache_heap *heap,
			     void *arg)
{
	static const char * const flags[] = { "-", "tracked", "biased", "tracked,biased" };
	struct refcache_cache *cache;

	BUILD_BUG_ON(REFCACHE_CACHE_TRACKED != 1 || REFCACHE_CACHE_BIASED != 2);
	list_for_each_entry(cache, &heap->objs.caches, node)
		seq_printf(m, "%6llu %7d %-31s %7u %5u %-14s %8llu %10llu %12llu\n",
			   heap->id, refcache_heap_owner(heap), cache->name,
			   cache->payload_size, cache->nslots,
			   flags[cache->flags & REFCACHE_CACHE_FLAGS],
			   cache->active, cache->total,
			   cache->active * cache->obj_size);
}

/* One line per cache of every heap the reader may see, like /proc/slabinfo. */
static int refcache_caches_show(struct seq_file *m, void *v)
{
	seq_puts(m, "# heap     pid name                            payload slots flags            active      total        bytes\n");
	walk_visible_heaps(m, &(struct heap_walk){ caches_show_heap, NULL });
	return 0;
}

static void gc_show_heap(struct seq_file *m, struct refcache_heap *heap, void *arg)
{
	struct refcache_gc *gc = &heap->objs.gc;
	int g;

	for (g = 0; g < REFCACHE_GC_GENERATIONS; g++) {
		const struct refcache_gc_gen_stats *st = &gc->stats[g];

		bool full = g == REFCACHE_GC_GENERATIONS - 1;

		/* Collections for memory are full ones: on generation 2's line. */
		seq_printf(m, "%6llu %3d %8llu %9u %9llu %11llu %10llu %13llu %14llu %12llu %7d %6llu %8llu %5llu\n",
			   heap->id, g, gc->count[g], gc->threshold[g], gc->nobjs[g],
			   st->collections, st->collected, st->uncollectable,
			   st->pause_total_ns, st->pause_max_ns, gc->enabled,
			   gc->nobjs[REFCACHE_GC_PERMANENT], full ? gc->pressure : 0,
			   full ? gc->quota : 0);
	}
}

/* The collector of every heap the reader may see: a line per generation. */
static int refcache_gc_show(struct seq_file *m, void *v)
{
	seq_puts(m, "#  heap gen    count threshold   objects collections  collected uncollectable pause_total_ns pause_max_ns enabled frozen pressure quota\n");
	walk_visible_heaps(m, &(struct heap_walk){ gc_show_heap, NULL });
	return 0;
}

/* What each user's heaps hold against the user's budget. */
static int refcache_users_file_show(struct seq_file *m, void *v)
{
	refcache_users_show(m, reader_is_admin(m), reader_uid(m));
	return 0;
}

int refcache_procfs_init(void)
{
	refcache_proc_dir = proc_mkdir("refcache", NULL);
	if (!refcache_proc_dir)
		return -ENOMEM;
	if (!proc_create_single("stats", 0444, refcache_proc_dir,
				refcache_stats_show) ||
	    !proc_create_single("allocator", 0444, refcache_proc_dir,
				refcache_allocator_show) ||
	    !proc_create_single("caches", 0444, refcache_proc_dir,
				refcache_caches_show) ||
	    !proc_create_single("users", 0444, refcache_proc_dir,
				refcache_users_file_show) ||
	    !proc_create_single("gc", 0444, refcache_proc_dir, refcache_gc_show)) {
		proc_remove(refcache_proc_dir);
		return -ENOMEM;
	}
	return 0;
}

void refcache_procfs_exit(void)
{
	proc_remove(refcache_proc_dir);
}
