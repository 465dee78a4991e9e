// SPDX-License-Identifier: GPL-2.0
/*
 * refcache: CPython's memory model as a kernel module.  This file ties
 * the parts together and holds the module parameters.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/string.h>

#include <linux/refcache.h>

#include "internal.h"

/*
 * Test-only: writing 1 to /sys/module/refcache/parameters/inject_warn
 * makes the module WARN, so the test harness can prove that it fails a
 * run on a kernel warning.  It changes no state.
 */
static int inject_warn_set(const char *val, const struct kernel_param *kp)
{
	bool on;
	int ret;

	ret = kstrtobool(val, &on);
	if (ret)
		return ret;
	WARN(on, "refcache: test-only warning requested through inject_warn\n");
	return 0;
}

static const struct kernel_param_ops inject_warn_ops = {
	.set = inject_warn_set,
};
module_param_cb(inject_warn, &inject_warn_ops, NULL, 0200);
MODULE_PARM_DESC(inject_warn, "Test only: writing 1 triggers a kernel warning");

/*
 * Test-only: writing N to /sys/module/refcache/parameters/inject_leak
 * leaks N small allocations, so the harness can prove that kmemleak's
 * reports fail a run.
 */
static int inject_leak_set(const char *val, const struct kernel_param *kp)
{
	unsigned int i, n;
	int ret;

	ret = kstrtouint(val, 0, &n);
	if (ret)
		return ret;
	for (i = 0; i < min(n, 64U); i++) {
		void *p = kmalloc(64, GFP_KERNEL);

		if (!p)
			return -ENOMEM;
		/* Forget the pointer for good, even in a register. */
		memset(p, 0x5a, 64);
		OPTIMIZER_HIDE_VAR(p);
	}
	return 0;
}

static const struct kernel_param_ops inject_leak_ops = {
	.set = inject_leak_set,
};
module_param_cb(inject_leak, &inject_leak_ops, NULL, 0200);
MODULE_PARM_DESC(inject_leak, "Test only: writing N leaks N (up to 64) kmalloc blocks");

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
