// SPDX-License-Identifier: GPL-2.0
/*
 * refcache: CPython's memory model as a kernel module.  This file ties
 * the parts together; the limits' module parameters are in limits.c.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/stringify.h>

#include <linux/refcache.h>

#include "internal.h"

static int __init refcache_init(void)
{
	int ret;

	refcache_limits_init();
	ret = refcache_gc_wq_init();
	if (ret)
		return ret;
	ret = refcache_heaps_init();
	if (ret)
		goto wq;
	ret = refcache_procfs_init();
	if (ret)
		goto heaps;
	ret = refcache_gc_shrinker_init();
	if (ret)
		goto procfs;
	ret = refcache_chardev_init();
	if (ret)
		goto shrinker;
	pr_info("ABI %u.%u loaded\n", REFCACHE_ABI_MAJOR, REFCACHE_ABI_MINOR);
	return 0;

shrinker:
	refcache_gc_shrinker_exit();
procfs:
	refcache_procfs_exit();
heaps:
	refcache_heaps_exit();
wq:
	refcache_gc_wq_exit();
	return ret;
}

static void __exit refcache_exit(void)
{
	refcache_chardev_exit();
	refcache_gc_shrinker_exit();
	refcache_procfs_exit();
	refcache_heaps_exit();
	refcache_heaps_free_abandoned();
	/* Every heap is gone, so no collection is queued: this only frees. */
	refcache_gc_wq_exit();
	pr_info("unloaded\n");
}

module_init(refcache_init);
module_exit(refcache_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Refcounted object caches with a generational cycle collector");
MODULE_AUTHOR("refcache developers");
/*
 * One version for the release: the ABI's, from uapi/linux/refcache.h,
 * which the library, refcache.pc, the man pages and dkms.conf also read.
 */
MODULE_VERSION(__stringify(REFCACHE_ABI_MAJOR) "." __stringify(REFCACHE_ABI_MINOR));
