// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/refcache/: read-only statistics.  Nothing here prints a kernel
 * address; heaps are named by their id and owner pid.
 */
#include <linux/proc_fs.h>
#include <linux/seq_file.h>

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
	return 0;
}

int refcache_procfs_init(void)
{
	refcache_proc_dir = proc_mkdir("refcache", NULL);
	if (!refcache_proc_dir)
		return -ENOMEM;
	if (!proc_create_single("stats", 0444, refcache_proc_dir,
				refcache_stats_show)) {
		proc_remove(refcache_proc_dir);
		return -ENOMEM;
	}
	return 0;
}

void refcache_procfs_exit(void)
{
	proc_remove(refcache_proc_dir);
}
