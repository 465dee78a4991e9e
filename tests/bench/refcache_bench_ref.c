// SPDX-License-Identifier: GPL-2.0
/*
 * refcache_bench_ref: at load time, time get+put pairs on one object's
 * reference count, refcache's against a plain refcount_t, and print a
 * table for people and one "bench refcount ..." line per measurement for
 * scripts.
 *
 * Modes (each a get+put pair on one object, the count never below one):
 *   atomic         refcache_obj_get() + refcache_obj_put() on an object of
 *                  a cache without REFCACHE_CACHE_BIASED
 *   biased_owner   the same on a biased cache's object, by its owner (the
 *                  thread that allocated it)
 *   biased_shared  the same by a non-owner, while the owner keeps its
 *                  reference (so the shared count never queues)
 * and the baseline, refcount_inc() + refcount_dec_and_test() on a
 * refcount_t kept at one.  Two more rows, for people: refcount_t_call, the
 * baseline through out-of-line calls (what a call into refcache.ko
 * costs), and local_inline, the floor of any owner path: a plain ++ and --
 * of a u32 with preemption disabled, inline, with no lookup at all.
 *
 * cpus=1: one kthread, bound to a CPU.  cpus=2: two kthreads bound to two
 * CPUs, released together, on the same counter; the first to finish its
 * pairs stops the other, so they overlap all the time.  Both are timed,
 * except for biased_owner, where the owner is timed while a non-owner
 * hammers the same object's shared count on the other CPU (local_inline:
 * a refcount_t next to the u32, as the shared count is to local).  The
 * baseline runs in the same configuration, in the same rounds,
 * interleaved with the others; each figure is the median of the rounds.
 * Only the ratios mean something under emulation.
 *
 * Lines, for scripts/bench.sh:
 *   bench refcount mode=<m> cpus=<1|2> ns_per_pair=<x> refcount_t_ns=<y> ratio=<x/y>
 *   bench refcount header_bytes atomic=<n> biased=<n>
 * A count that is not back where it started fails the load with -EIO.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "internal.h"
#include "refcount.h"	/* obj_bias(), for biased_owned() */

#define CHUNK		64	/* pairs between looks at the stop flag */
#define MAX_ROUNDS	15

static unsigned int pairs = 1000000;
module_param(pairs, uint, 0444);
MODULE_PARM_DESC(pairs, "get+put pairs per thread and round (default 1000000)");

static unsigned int rounds = 5;
module_param(rounds, uint, 0444);
MODULE_PARM_DESC(rounds, "rounds, at most 15; the median counts (default 5)");

enum ref_kind {
	K_REFCOUNT,		/* the baseline: refcount_t, inline */
	K_REFCOUNT_CALL,	/* refcount_t through out-of-line calls, for people */
	K_LOCAL,		/* a plain count, inline, for people */
	K_ATOMIC,
	K_OWNER,
	K_SHARED,
	NKINDS
};

static const char * const kind_name[NKINDS] = {
	[K_REFCOUNT] = "refcount_t",
	[K_REFCOUNT_CALL] = "refcount_t_call",
	[K_LOCAL] = "local_inline",
	[K_ATOMIC] = "atomic",
	[K_OWNER] = "biased_owner",
	[K_SHARED] = "biased_shared",
};

/* The targets (Documentation/testing.rst): on the hardware, or under TCG. */
static const char * const kind_target[NKINDS] = {
	[K_REFCOUNT] = "",
	[K_REFCOUNT_CALL] = "(info)",
	[K_LOCAL] = "(info)",
	[K_ATOMIC] = "<= 1.05",
#ifdef NATIVE_MODULE_INIT	/* tests/native/bench_ref.c */
	[K_OWNER] = "<= 0.25",
	[K_SHARED] = "<= 1.20",
#else
	[K_OWNER] = "<= 1.00",
	[K_SHARED] = "<= 1.50",
#endif
};

struct ref_run;

/* The baseline's counter, and local_inline's, laid out as a biased header's. */
struct ref_count {
	u32 owner;
	u32 local;
	refcount_t ref;
};

/**
 * struct ref_worker - one kthread of a run
 * @run:   the run
 * @idx:   0 or 1; with biased_owner and local_inline, 0 is the owner
 *         and 1 the hammer
 * @ns:    time of its loop
 * @pairs: pairs it made
 * @bad:   refcount_t puts that found zero (none unless broken)
 * @done:  completed as the kthread exits
 */
struct ref_worker {
	struct ref_run *run;
	unsigned int idx;
	u64 ns;
	u64 pairs;
	u64 bad;
	struct completion done;
};

/**
 * struct ref_run - one measurement: one mode on one or two CPUs
 * @kind:     what the threads count
 * @nthreads: 1 or 2
 * @cache:    biased_owner: the biased cache the owner allocates from
 * @obj:      the object counted (biased_owner: published by the owner)
 * @cnt:      the refcount_t counted (and local_inline's u32)
 * @ready:    threads at the start line
 * @finished: threads out of their loops
 * @stop:     a thread made its pairs: the others stop
 * @err:      the owner's allocation failed
 * @left:     biased_owner: the object's count before the owner's put
 * @w:        the threads
 */
struct ref_run {
	enum ref_kind kind;
	unsigned int nthreads;
	struct refcache_cache *cache;
	struct refcache_obj *obj;
	struct ref_count *cnt;
	atomic_t ready;
	atomic_t finished;
	bool stop;
	int err;
	unsigned int left;
	struct ref_worker w[2];
};

/* The baseline through calls: what a call into refcache.ko costs. */
static noinline void rc_get_call(refcount_t *rc)
{
	refcount_inc(rc);
}

static noinline bool rc_put_call(refcount_t *rc)
{
	return refcount_dec_and_test(rc);
}

/* One get+put pair; nonzero if a put found zero. */
static __always_inline unsigned int ref_pair(enum ref_kind kind, struct ref_count *cnt,
					     struct refcache_obj *obj)
{
	u32 local;

	switch (kind) {
	case K_REFCOUNT:
		refcount_inc(&cnt->ref);
		return refcount_dec_and_test(&cnt->ref);
	case K_REFCOUNT_CALL:
		rc_get_call(&cnt->ref);
		return rc_put_call(&cnt->ref);
	case K_LOCAL:
		preempt_disable();
		WRITE_ONCE(cnt->local, cnt->local + 1);
		preempt_enable();
		preempt_disable();
		local = cnt->local - 1;
		WRITE_ONCE(cnt->local, local);
		preempt_enable();
		return !local;
	default:
		refcache_obj_put(refcache_obj_get(obj));
		return 0;
	}
}

/* Up to @n pairs (in chunks), fewer if another thread says stop. */
static __always_inline u64 ref_loop(struct ref_run *run, enum ref_kind kind, u64 n,
				    u64 *bad)
{
	struct refcache_obj *obj = run->obj;
	struct ref_count *cnt = run->cnt;
	unsigned int i, b = 0;
	u64 done = 0;

	while (done < n && !READ_ONCE(run->stop)) {
		for (i = 0; i < CHUNK; i++)
			b += ref_pair(kind, cnt, obj);
		done += CHUNK;
		if (!(done & 8191))
			cond_resched();
	}
	*bad = b;
	return done;
}

/* One loop per kind, so that each is compiled for its own pair. */
static u64 ref_loop_kind(struct ref_run *run, enum ref_kind kind, u64 n, u64 *bad)
{
	switch (kind) {
	case K_REFCOUNT:
		return ref_loop(run, K_REFCOUNT, n, bad);
	case K_REFCOUNT_CALL:
		return ref_loop(run, K_REFCOUNT_CALL, n, bad);
	case K_LOCAL:
		return ref_loop(run, K_LOCAL, n, bad);
	default:
		return ref_loop(run, K_ATOMIC, n, bad);
	}
}

/* A biased object that still has its owner and counts in local. */
static bool biased_owned(const struct refcache_obj *obj)
{
	return obj_is_biased(obj) && READ_ONCE(obj->bias_owner) &&
	       (atomic_read(&obj_bias(obj)->shared) & REFCACHE_BIAS_STATE) ==
	       REFCACHE_BIAS_UNMERGED;
}

static int ref_worker_fn(void *data)
{
	struct ref_worker *w = data;
	struct ref_run *run = w->run;
	bool owner = run->kind == K_OWNER && w->idx == 0;
	bool hammer = (run->kind == K_OWNER || run->kind == K_LOCAL) && w->idx == 1;
	enum ref_kind kind = run->kind;
	struct refcache_obj *obj = NULL;
	u64 t0;

	/* local_inline's hammer counts the refcount_t next to the u32. */
	if (hammer && kind == K_LOCAL)
		kind = K_REFCOUNT;

	if (owner) {
		/* Allocating makes this thread the object's owner. */
		obj = refcache_obj_alloc(run->cache);
		if (IS_ERR(obj)) {
			run->err = PTR_ERR(obj);
			obj = NULL;
		} else if (!biased_owned(obj)) {
			/* A 65th owner's object starts merged: this would time the shared path. */
			refcache_obj_put(obj);
			run->err = -EXDEV;
			obj = NULL;
		}
		WRITE_ONCE(run->obj, obj);
	}
	/* The start line: all threads go together, the owner's object published. */
	smp_mb__before_atomic();
	atomic_inc(&run->ready);
	while (atomic_read_acquire(&run->ready) < run->nthreads)
		cpu_relax();
	if (run->kind != K_OWNER || READ_ONCE(run->obj)) {
		t0 = ktime_get_ns();
		w->pairs = ref_loop_kind(run, kind, hammer ? U64_MAX : pairs, &w->bad);
		w->ns = ktime_get_ns() - t0;
		WRITE_ONCE(run->stop, true);
	}
	/* Our last get and put come before the owner's put (its acquire). */
	smp_mb__before_atomic();
	atomic_inc(&run->finished);
	if (obj) {
		/* A hammer between its put and its next get holds nothing: wait for it. */
		while (atomic_read_acquire(&run->finished) < run->nthreads)
			cpu_relax();
		run->left = refcache_obj_refcount(obj);
		refcache_obj_put(obj);
	}
	kthread_complete_and_exit(&w->done, 0);
}

/*
 * One run on the CPUs @cpu[0..nthreads); its ps per pair: the mean of the
 * timed threads'.
 */
static int ref_run_once(struct ref_run *run, const unsigned int *cpu, u64 *ps)
{
	struct task_struct *t[2];
	unsigned int i, timed;
	u64 sum = 0;

	atomic_set(&run->ready, 0);
	atomic_set(&run->finished, 0);
	run->stop = false;
	run->err = 0;
	run->left = 1;
	if (run->kind == K_OWNER)
		run->obj = NULL;
	for (i = 0; i < run->nthreads; i++) {
		run->w[i] = (struct ref_worker){ .run = run, .idx = i };
		init_completion(&run->w[i].done);
		t[i] = kthread_create(ref_worker_fn, &run->w[i], "rcbench_ref/%u", i);
		if (IS_ERR(t[i])) {
			int err = PTR_ERR(t[i]);

			while (i--)
				kthread_stop(t[i]);
			return err;
		}
		kthread_bind(t[i], cpu[i]);
	}
	for (i = 0; i < run->nthreads; i++)
		wake_up_process(t[i]);
	for (i = 0; i < run->nthreads; i++)
		wait_for_completion(&run->w[i].done);
	if (run->err)
		return run->err;

	timed = run->kind == K_OWNER || run->kind == K_LOCAL ? 1 : run->nthreads;
	for (i = 0; i < run->nthreads; i++) {
		if (run->w[i].bad || !run->w[i].pairs)
			return -EIO;
		if (i < timed)
			sum += div64_u64(run->w[i].ns * 1000, run->w[i].pairs);
	}
	/* The count is back to the one reference its holder kept. */
	if (run->kind == K_OWNER ? run->left != 1 :
	    run->obj ? refcache_obj_refcount(run->obj) != 1 :
	    refcount_read(&run->cnt->ref) != 1 || run->cnt->local != 1)
		return -EIO;
	*ps = div_u64(sum, timed);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* "12.3" from picoseconds. */
static void ns_str(char *buf, size_t len, u64 ps)
{
	u64 t = div_u64(ps + 50, 100);

	snprintf(buf, len, "%llu.%llu", t / 10, t % 10);
}

/* "1.23" from a/b, without floating point. */
static void ratio_str(char *buf, size_t len, u64 a, u64 b)
{
	u64 r = b ? div64_u64(a * 100 + b / 2, b) : 0;

	snprintf(buf, len, "%llu.%02llu", r / 100, r % 100);
}

/* res[kind][cpus - 1][round]: ps per pair, sorted after the last round. */
static u64 res[NKINDS][2][MAX_ROUNDS];

static u64 median(enum ref_kind k, unsigned int c)
{
	return res[k][c][rounds / 2];
}

static int __init refcache_bench_ref_init(void)
{
	static const enum ref_kind print_order[] = {
		K_ATOMIC, K_OWNER, K_SHARED, K_REFCOUNT_CALL, K_LOCAL,
	};
	struct refcache_cache *acache, *bcache;
	struct refcache_obj *aobj, *bobj = NULL;
	unsigned int cpu[2], r, c, k, ncpus;
	struct refcache_heap *heap;
	char x[24], y[24], z[24], lo[24], hi[24];
	struct ref_run *run;
	struct ref_count *cnt;
	int ret = 0;

	if (!pairs || !rounds || rounds > MAX_ROUNDS)
		return -EINVAL;
	cpu[0] = cpumask_first(cpu_online_mask);
	cpu[1] = cpumask_next(cpu[0], cpu_online_mask);
	ncpus = cpu[1] < nr_cpu_ids ? 2 : 1;

	run = kzalloc(sizeof(*run), GFP_KERNEL);
	/* A line of its own, as a refcount_t embedded in a hot object would not be. */
	cnt = kzalloc(max_t(size_t, sizeof(*cnt), SMP_CACHE_BYTES), GFP_KERNEL);
	if (!run || !cnt) {
		ret = -ENOMEM;
		goto out_free;
	}
	heap = refcache_heap_create();
	if (IS_ERR(heap)) {
		ret = PTR_ERR(heap);
		goto out_free;
	}
	refcount_set(&cnt->ref, 1);
	cnt->local = 1;
	acache = refcache_cache_create(heap, "bench_ref_atomic", 0, 0, 0, NULL);
	if (IS_ERR(acache)) {
		ret = PTR_ERR(acache);
		goto out_heap;
	}
	aobj = refcache_obj_alloc(acache);
	if (IS_ERR(aobj)) {
		ret = PTR_ERR(aobj);
		goto out_heap;
	}
	bcache = refcache_cache_create(heap, "bench_ref_biased", 0, 0,
				       REFCACHE_CACHE_BIASED, NULL);
	if (IS_ERR(bcache)) {
		pr_info("no biased cache (%ld): biased modes skipped\n", PTR_ERR(bcache));
	} else {
		/* This task owns it and keeps its reference: the threads are non-owners. */
		bobj = refcache_obj_alloc(bcache);
		if (IS_ERR(bobj)) {
			ret = PTR_ERR(bobj);
			bobj = NULL;
			goto out_objs;
		}
		if (!biased_owned(bobj)) {
			pr_info("the biased cache's object is not owned: biased modes skipped\n");
			refcache_obj_put(bobj);
			bobj = NULL;
		}
	}

	for (r = 0; r < rounds; r++) {
		for (c = 0; c < ncpus; c++) {
			for (k = 0; k < NKINDS; k++) {
				if ((k == K_OWNER || k == K_SHARED) && !bobj)
					continue;
				run->kind = k;
				run->nthreads = c + 1;
				run->cache = bcache;
				run->cnt = cnt;
				run->obj = k == K_ATOMIC ? aobj : k == K_SHARED ? bobj : NULL;
				ret = ref_run_once(run, cpu, &res[k][c][r]);
				if (ret) {
					pr_err("mode=%s cpus=%u failed: %d\n", kind_name[k],
					       c + 1, ret);
					goto out_objs;
				}
			}
		}
	}
	/* Non-owners' puts never found the shared count at zero: nothing queued. */
	if (bobj && !biased_owned(bobj)) {
		pr_err("biased_shared: the object was queued or merged\n");
		ret = -EIO;
		goto out_objs;
	}
	for (k = 0; k < NKINDS; k++)
		for (c = 0; c < ncpus; c++)
			sort(res[k][c], rounds, sizeof(u64), cmp_u64, NULL);

	pr_info("get+put pairs against refcount_t, median of %u rounds of %u pairs per thread; ns per pair\n",
		rounds, pairs);
	pr_info("%-16s %4s %12s %12s %6s %8s %16s\n", "mode", "cpus", "ns_per_pair",
		"refcount_t", "ratio", "target", "rounds_min..max");
	for (c = 0; c < ncpus; c++) {
		for (k = 0; k < ARRAY_SIZE(print_order); k++) {
			enum ref_kind m = print_order[k];

			if ((m == K_OWNER || m == K_SHARED) && !bobj)
				continue;
			ns_str(x, sizeof(x), median(m, c));
			ns_str(y, sizeof(y), median(K_REFCOUNT, c));
			ratio_str(z, sizeof(z), median(m, c), median(K_REFCOUNT, c));
			ns_str(lo, sizeof(lo), res[m][c][0]);
			ns_str(hi, sizeof(hi), res[m][c][rounds - 1]);
			pr_info("%-16s %4u %12s %12s %6s %8s %7s..%-7s\n", kind_name[m], c + 1,
				x, y, z, kind_target[m], lo, hi);
		}
	}
	if (ncpus < 2)
		pr_info("cpus=2: only one CPU online, skipped\n");
	else
		pr_info("cpus=2: CPUs %u and %u on one counter; biased_owner and local_inline time the owner while the other CPU hammers the shared count\n",
			cpu[0], cpu[1]);
	for (c = 0; c < ncpus; c++) {
		for (k = K_ATOMIC; k <= K_SHARED; k++) {
			if ((k == K_OWNER || k == K_SHARED) && !bobj)
				continue;
			ns_str(x, sizeof(x), median(k, c));
			ns_str(y, sizeof(y), median(K_REFCOUNT, c));
			ratio_str(z, sizeof(z), median(k, c), median(K_REFCOUNT, c));
			pr_info("bench refcount mode=%s cpus=%u ns_per_pair=%s refcount_t_ns=%s ratio=%s\n",
				kind_name[k], c + 1, x, y, z);
		}
	}
	pr_info("bench refcount header_bytes atomic=%zu biased=%zu\n",
		sizeof(struct refcache_obj),
		sizeof(struct refcache_bias_counts) + sizeof(struct refcache_obj));

out_objs:
	refcache_obj_put(bobj);
	refcache_obj_put(aobj);
out_heap:
	refcache_heap_put(heap);
out_free:
	kfree(cnt);
	kfree(run);
	return ret;
}

static void __exit refcache_bench_ref_exit(void)
{
}

module_init(refcache_bench_ref_init);
module_exit(refcache_bench_ref_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("refcache reference count benchmark against refcount_t");
MODULE_IMPORT_NS(REFCACHE_NS);
