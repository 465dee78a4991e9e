// SPDX-License-Identifier: GPL-2.0
/*
 * refcache_inject: test-only misbehaviour on request, so that the test
 * harness can prove it fails a run on a kernel warning and on a kmemleak
 * report.  It never ships with refcache.ko and touches none of its state.
 *
 *   /sys/module/refcache_inject/parameters/inject_warn  write 1: WARN()
 *   /sys/module/refcache_inject/parameters/inject_leak  write N: leak N
 *                                                       (up to 64) blocks
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compiler.h>
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/string.h>

static int inject_warn_set(const char *val, const struct kernel_param *kp)
{
	bool on;
	int ret;

	ret = kstrtobool(val, &on);
	if (ret)
		return ret;
	WARN(on, "refcache_inject: test-only warning requested through inject_warn\n");
	return 0;
}

static const struct kernel_param_ops inject_warn_ops = {
	.set = inject_warn_set,
};
module_param_cb(inject_warn, &inject_warn_ops, NULL, 0200);
MODULE_PARM_DESC(inject_warn, "Test only: writing 1 triggers a kernel warning");

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

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("refcache test harness: a warning or a leak on request");
MODULE_AUTHOR("refcache developers");
