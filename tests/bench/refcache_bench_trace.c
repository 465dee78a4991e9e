// SPDX-License-Identifier: GPL-2.0
/*
 * refcache_bench_trace: at load time, time the object fast path,
 * refcache_obj_alloc() + refcache_obj_put() of an untracked object (the
 * path of the obj_alloc and obj_free tracepoints), and print one line per
 * round for scripts/bench.sh, which joins the loads of one boot into the
 * "bench tracepoints ..." line.
 *
 * Against a refcache.ko with tracepoints, each round times the path with
 * the refcache events disabled ("off") and enabled ("on", recording into
 * the top-level trace buffer, as "echo 1 > events/refcache/enable"
 * does), alternately.  Against a refcache.ko built with -DNOTRACE, where
 * <linux/tracepoint.h> makes every trace_*() an empty inline and
 * define_trace.h creates no event, it times the same path ("none"): the
 * cost of the tracepoints when off is off/none.  The guest loads the two
 * builds of refcache.ko in turn (tests/vm/init.sh, rcvm_mode=bench).
 *
 * The module finds out which build it runs against (the refcache event
 * system exists or not); expect= states what the guest loaded, and a
 * mismatch fails the load with -EINVAL.  Lines:
 *   trace round build=<tracepoints|none> state=<off|on|none> pairs=<n> ns=<t>
 * A benchmark prints; it never asserts a time.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/trace_events.h>

#include "compat.h"
#include "refcache.h"

static unsigned int pairs = 50000;
module_param(pairs, uint, 0444);
MODULE_PARM_DESC(pairs, "alloc+put pairs per round and state (default 50000)");

static unsigned int rounds = 4;
module_param(rounds, uint, 0444);
MODULE_PARM_DESC(rounds, "rounds in this load (default 4)");

static char *expect = "";
module_param(expect, charp, 0444);
MODULE_PARM_DESC(expect, "the build the guest loaded: tracepoints or none (default: any)");

/* ns for @pairs allocations each put at once, or 0 on a failed allocation. */
static u64 time_pairs(struct refcache_cache *cache)
{
	struct refcache_obj *obj;
	u64 t0 = ktime_get_ns();
	unsigned int i;

	for (i = 0; i < pairs; i++) {
		obj = refcache_obj_alloc(cache);
		if (IS_ERR(obj))
			return 0;
		refcache_obj_put(obj);
	}
	return ktime_get_ns() - t0;
}

/* Enable or disable every event of the refcache system. */
static int refcache_events(bool on)
{
	return trace_set_clr_event("refcache", NULL, on);
}

static int __init refcache_bench_trace_init(void)
{
	struct refcache_heap *heap;
	struct refcache_cache *cache;
	const char *build;
	unsigned int r, s, nstates;
	int ret = 0;
	u64 ns;

	if (!pairs || !rounds)
		return -EINVAL;
	/* Disabling what exists succeeds; no refcache system: -EINVAL. */
	build = refcache_events(false) ? "none" : "tracepoints";
	if (*expect && strcmp(expect, build)) {
		pr_err("expected a refcache.ko with %s, found %s\n", expect, build);
		return -EINVAL;
	}
	nstates = strcmp(build, "none") ? 2 : 1;
	heap = refcache_heap_create();
	if (IS_ERR(heap))
		return PTR_ERR(heap);
	cache = refcache_cache_create(heap, "bench_trace", 16, 2, 0, NULL);
	if (IS_ERR(cache)) {
		ret = PTR_ERR(cache);
		goto out;
	}
	/* Warm up: the heap's first arena and its free lists. */
	if (!time_pairs(cache)) {
		ret = -ENOMEM;
		goto out;
	}
	for (r = 0; r < rounds && !ret; r++) {
		for (s = 0; s < nstates; s++) {
			/* Odd rounds take "on" first: neither state always goes first. */
			bool on = nstates == 2 && (s ^ (r & 1));

			if (nstates == 2) {
				ret = refcache_events(on);
				if (ret)
					break;
			}
			ns = time_pairs(cache);
			if (on)
				refcache_events(false);
			if (!ns) {
				ret = -ENOMEM;
				break;
			}
			pr_info("trace round build=%s state=%s pairs=%u ns=%llu\n", build,
				nstates == 1 ? "none" : on ? "on" : "off", pairs, ns);
			cond_resched();
		}
	}
out:
	refcache_heap_put(heap);
	if (ret)
		pr_err("benchmark failed: %d\n", ret);
	return ret;
}

static void __exit refcache_bench_trace_exit(void)
{
}

module_init(refcache_bench_trace_init);
module_exit(refcache_bench_trace_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("cost of refcache's tracepoints on the object fast path");
MODULE_IMPORT_NS(REFCACHE_NS);
