// SPDX-License-Identifier: GPL-2.0
/*
 * refcache: CPython's memory model as a kernel module.  This file ties
 * the parts together and holds the module parameters.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

#include <linux/refcache.h>

#include "internal.h"

static int __init refcache_init(void)
{
	int ret;

	ret = refcache_procfs_init();
	if (ret)
		return ret;
	ret = refcache_chardev_init();
	if (ret) {
		refcache_procfs_exit();
		return ret;
	}
	pr_info("ABI %u.%u loaded\n", REFCACHE_ABI_MAJOR, REFCACHE_ABI_MINOR);
	return 0;
}

static void __exit refcache_exit(void)
{
	refcache_chardev_exit();
	refcache_procfs_exit();
	pr_info("unloaded\n");
}

module_init(refcache_init);
module_exit(refcache_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Refcounted object caches with a generational cycle collector");
MODULE_AUTHOR("refcache developers");
MODULE_VERSION("0.1");
