// SPDX-License-Identifier: GPL-2.0
/*
 * refcache_inject: test-only misbehaviour on request, so that the test
 * harness can prove it fails a run on a kernel warning, on a kmemleak
 * report and on a KCSAN report.  It never ships with refcache.ko and
 * touches none of its state.
 *
 *   /sys/module/refcache_inject/parameters/inject_warn  write 1: WARN()
 *   /sys/module/refcache_inject/parameters/inject_leak  write N: leak N
 *                                                       (up to 64) blocks
 *   /sys/module/refcache_inject/parameters/inject_race  write MS: a data
 *                                                       race for MS ms
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compiler.h>
#include <linux/err.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
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

/*
 * Written by one thread and read by another with plain accesses: a data
 * race on purpose, the one KCSAN must report for the harness to trust a
 * run of the KCSAN kernel that reports nothing.
 */
static unsigned long inject_racy;

static int inject_race_writer(void *arg)
{
	while (!kthread_should_stop()) {
		inject_racy++;
		cpu_relax();
		cond_resched();
	}
	return 0;
}

static int inject_race_set(const char *val, const struct kernel_param *kp)
{
	unsigned long until, sum = 0;
	struct task_struct *t;
	unsigned int ms;
	int ret;

	ret = kstrtouint(val, 0, &ms);
	if (ret)
		return ret;
	t = kthread_run(inject_race_writer, NULL, "rc_inject_race");
	if (IS_ERR(t))
		return PTR_ERR(t);
	until = jiffies + msecs_to_jiffies(min(ms, 10000U));
	while (time_before(jiffies, until)) {
		sum += inject_racy;
		cpu_relax();
		cond_resched();
	}
	kthread_stop(t);
	pr_info("raced for %u ms (%lu)\n", ms, sum);
	return 0;
}

static const struct kernel_param_ops inject_race_ops = {
	.set = inject_race_set,
};
module_param_cb(inject_race, &inject_race_ops, NULL, 0200);
MODULE_PARM_DESC(inject_race, "Test only: writing MS races two threads on a plain variable for MS ms");

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("refcache test harness: a warning, a leak or a data race on request");
MODULE_AUTHOR("refcache developers");
