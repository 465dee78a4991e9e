// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite refcache_alloc: the per-heap small-object allocator,
 * through its in-kernel API and its statistics snapshot.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "compat.h"
#include "refcache.h"
#include "kunit_util.h"	/* cmp_ptr(), total_in_use() */

#define POOL_USABLE	(REFCACHE_POOL_SIZE - REFCACHE_POOL_OVERHEAD)

KUNIT_DEFINE_ACTION_WRAPPER(heap_put_action, refcache_heap_put,
			    struct refcache_heap *);

static struct refcache_heap *test_heap(struct kunit *test)
{
	struct refcache_heap *heap = refcache_heap_create();

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, heap);
	KUNIT_ASSERT_EQ(test, 0,
			kunit_add_action_or_reset(test, heap_put_action, heap));
	return heap;
}

static unsigned int bpp(unsigned int size)
{
	return POOL_USABLE / size;
}

static unsigned long pool_base(const void *p)
{
	return (unsigned long)p & ~(REFCACHE_POOL_SIZE - 1);
}

static unsigned long arena_base(const void *p)
{
	return (unsigned long)p & ~(REFCACHE_ARENA_SIZE - 1);
}

/* Snapshot, and check that the parts add up to the arena bytes. */
static struct refcache_alloc_stats *snap(struct kunit *test,
					 struct refcache_heap *heap)
{
	struct refcache_alloc_stats *st;

	st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, st);
	refcache_alloc_stats_read(heap, st);
	KUNIT_EXPECT_EQ(test, st->arena_bytes,
			st->arenas_current * REFCACHE_ARENA_SIZE);
	KUNIT_EXPECT_EQ(test, st->arena_bytes,
			st->allocated_bytes + st->free_bytes +
			st->unused_pool_bytes + st->pool_header_bytes +
			st->quantization_bytes);
	return st;
}

/* Sizes 0..512 land in the smallest class that holds them. */
static void alloc_size_to_class(struct kunit *test)
{
	struct refcache_heap *heap = test_heap(test);
	struct refcache_alloc_stats *before, *after;
	size_t size;
	int i, hit;

	before = kunit_kzalloc(test, sizeof(*before), GFP_KERNEL);
	after = kunit_kzalloc(test, sizeof(*after), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, before);
	KUNIT_ASSERT_NOT_NULL(test, after);
	for (size = 0; size <= REFCACHE_SMALL_MAX; size++) {
		void *p;

		refcache_alloc_stats_read(heap, before);
		p = refcache_alloc(heap, size, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p);
		refcache_alloc_stats_read(heap, after);
		hit = -1;
		for (i = 0; i < REFCACHE_NUM_CLASSES; i++) {
			s64 d = after->cls[i].blocks_in_use -
				before->cls[i].blocks_in_use;

			if (d == 1 && hit < 0)
				hit = i;
			else if (d)
				hit = -2;
		}
		KUNIT_EXPECT_EQ_MSG(test, hit, size ? (int)((size - 1) / 16) : 0,
				    "size %zu", size);
		if (hit >= 0)
			KUNIT_EXPECT_GE(test, after->cls[hit].size, size);
		refcache_free(heap, p);
	}
	KUNIT_EXPECT_EQ(test, snap(test, heap)->bad_frees, 0);
}

/* Every class: blocks aligned, inside their pool, zeroed and disjoint. */
static void alloc_every_class_blocks(struct kunit *test)
{
	struct refcache_heap *heap = test_heap(test);
	unsigned int cls, size, n, i, round;
	unsigned long *blk;

	blk = kunit_kcalloc(test, bpp(16) + 8, sizeof(*blk), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, blk);
	for (cls = 0; cls < REFCACHE_NUM_CLASSES; cls++) {
		size = (cls + 1) * 16;
		n = bpp(size) + 5;	/* more than one pool */
		/* The second round gets the first round's dirtied blocks. */
		for (round = 0; round < 2; round++) {
			for (i = 0; i < n; i++) {
				u8 *p = refcache_alloc(heap, size, GFP_KERNEL);
				unsigned long off;

				KUNIT_ASSERT_NOT_NULL(test, p);
				off = (unsigned long)p - pool_base(p);
				KUNIT_EXPECT_EQ(test, (unsigned long)p % 16, 0);
				KUNIT_EXPECT_GE(test, off, REFCACHE_POOL_OVERHEAD);
				KUNIT_EXPECT_LE(test, off + size, REFCACHE_POOL_SIZE);
				KUNIT_EXPECT_NULL(test, memchr_inv(p, 0, size));
				memset(p, 0xa5, size);
				blk[i] = (unsigned long)p;
			}
			sort(blk, n, sizeof(*blk), cmp_ptr, NULL);
			for (i = 0; i + 1 < n; i++)
				KUNIT_EXPECT_LE(test, blk[i] + size, blk[i + 1]);
			KUNIT_EXPECT_EQ(test, snap(test, heap)->cls[cls].blocks_in_use, n);
			for (i = 0; i < n; i++)
				refcache_free(heap, (void *)blk[i]);
		}
	}
	KUNIT_EXPECT_EQ(test, total_in_use(snap(test, heap)), 0);
	KUNIT_EXPECT_EQ(test, snap(test, heap)->bad_frees, 0);
}

/* A pool whose blocks are all free goes back to its arena for reuse. */
static void alloc_pool_returns_to_arena(struct kunit *test)
{
	struct refcache_heap *heap = test_heap(test);
	unsigned int n = 2 * bpp(64), i, kept = 0;
	struct refcache_alloc_stats *st;
	unsigned long first;
	void **blk, *q;

	blk = kunit_kcalloc(test, n, sizeof(*blk), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, blk);
	q = refcache_alloc(heap, 64, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, q);
	st = snap(test, heap);
	KUNIT_EXPECT_EQ(test, st->cls[3].pools, 1);
	KUNIT_EXPECT_EQ(test, st->arenas_current, 1);
	KUNIT_EXPECT_EQ(test, st->unused_pool_bytes,
			(REFCACHE_POOLS_PER_ARENA - 1) * REFCACHE_POOL_SIZE);
	refcache_free(heap, q);
	refcache_alloc_drain(heap);
	st = snap(test, heap);
	KUNIT_EXPECT_EQ(test, st->cls[3].pools, 0);
	KUNIT_EXPECT_EQ(test, st->arenas_current, 1);	/* the spare */
	KUNIT_EXPECT_EQ(test, st->unused_pool_bytes, REFCACHE_ARENA_SIZE);

	/* Two full pools; free all of the first one. */
	for (i = 0; i < n; i++) {
		blk[i] = refcache_alloc(heap, 64, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, blk[i]);
	}
	refcache_alloc_drain(heap);
	KUNIT_EXPECT_EQ(test, snap(test, heap)->cls[3].pools, 2);
	first = pool_base(blk[0]);
	for (i = 0; i < n; i++) {
		if (pool_base(blk[i]) == first)
			refcache_free(heap, blk[i]);
		else
			blk[kept++] = blk[i];
	}
	refcache_alloc_drain(heap);
	st = snap(test, heap);
	KUNIT_EXPECT_EQ(test, st->cls[3].pools, 1);
	KUNIT_EXPECT_EQ(test, st->cls[3].blocks_in_use, kept);
	KUNIT_EXPECT_EQ(test, st->unused_pool_bytes,
			(REFCACHE_POOLS_PER_ARENA - 1) * REFCACHE_POOL_SIZE);

	/* The freed pool is the first one handed out again, to any class. */
	q = refcache_alloc(heap, 512, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, q);
	KUNIT_EXPECT_EQ(test, pool_base(q), first);
	refcache_free(heap, q);
	for (i = 0; i < kept; i++)
		refcache_free(heap, blk[i]);
	refcache_alloc_drain(heap);
	st = snap(test, heap);
	KUNIT_EXPECT_EQ(test, total_in_use(st), 0);
	KUNIT_EXPECT_EQ(test, st->arenas_current, 1);
	KUNIT_EXPECT_EQ(test, st->bad_frees, 0);
}

/* Empty arenas go back to the page allocator, all but one spare. */
static void alloc_arena_release_keeps_spare(struct kunit *test)
{
	struct refcache_heap *heap = test_heap(test);
	unsigned int n = 3 * REFCACHE_POOLS_PER_ARENA * bpp(512), i;
	struct refcache_alloc_stats *st;
	u64 held;
	void **blk;

	blk = kunit_kcalloc(test, n, sizeof(*blk), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, blk);
	for (i = 0; i < n; i++) {
		blk[i] = refcache_alloc(heap, 512, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, blk[i]);
	}
	st = snap(test, heap);
	held = st->arenas_current;
	KUNIT_EXPECT_GE(test, held, 3);
	KUNIT_EXPECT_EQ(test, st->arenas_allocated_total, held);
	KUNIT_EXPECT_EQ(test, st->arenas_reclaimed, 0);
	for (i = 0; i < n; i++)
		refcache_free(heap, blk[i]);
	refcache_alloc_drain(heap);
	st = snap(test, heap);
	KUNIT_EXPECT_EQ(test, st->arenas_current, 1);
	KUNIT_EXPECT_EQ(test, st->arenas_reclaimed, held - 1);
	KUNIT_EXPECT_EQ(test, st->arenas_highwater, held);
	KUNIT_EXPECT_EQ(test, st->arenas_allocated_total, held);
	KUNIT_EXPECT_EQ(test, st->unused_pool_bytes, REFCACHE_ARENA_SIZE);

	/* The spare serves the next allocation: no new arena. */
	blk[0] = refcache_alloc(heap, 16, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, blk[0]);
	KUNIT_EXPECT_EQ(test, snap(test, heap)->arenas_allocated_total, held);
	refcache_free(heap, blk[0]);
}

#define ORDER_ARENAS	4
#define ORDER_MAX	(ORDER_ARENAS + 2)

/* From the test's own record: free-pool count of each held arena. */
static unsigned int expected_nfree(unsigned long *pools, unsigned int npools,
				   u32 *nfree, unsigned int *with_live)
{
	unsigned long arenas[ORDER_MAX];
	unsigned int na = 0, i, j;

	for (i = 0; i < npools; i++) {
		if (!pools[i])
			continue;
		for (j = 0; j < na; j++)
			if (arenas[j] == arena_base((void *)pools[i]))
				break;
		if (j == na) {
			if (na == ORDER_MAX)
				return UINT_MAX;
			arenas[na] = arena_base((void *)pools[i]);
			nfree[na++] = REFCACHE_POOLS_PER_ARENA;
		}
		nfree[j]--;
	}
	*with_live = na;
	return na;
}

static int cmp_u32(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/* Usable arenas stay sorted by free pools; the fullest one is used. */
static void alloc_usable_arenas_ordered(struct kunit *test)
{
	struct refcache_heap *heap = test_heap(test);
	const unsigned int per = bpp(512);
	unsigned int cap = (ORDER_ARENAS + 1) * REFCACHE_POOLS_PER_ARENA * per;
	unsigned int i, j, k, step, nusable, nexp, live, spare, nblk, npools;
	u32 got[ORDER_MAX], exp[ORDER_MAX];
	unsigned long *pools;
	void **blk, *q;

	blk = kunit_kcalloc(test, cap, sizeof(*blk), GFP_KERNEL);
	pools = kunit_kcalloc(test, cap / per, sizeof(*pools), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, blk);
	KUNIT_ASSERT_NOT_NULL(test, pools);
	for (nblk = 0; nblk < ORDER_ARENAS * REFCACHE_POOLS_PER_ARENA * per; nblk++) {
		blk[nblk] = refcache_alloc(heap, 512, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, blk[nblk]);
	}
	/* Top up until every pool of the class is full and we hold it all. */
	refcache_alloc_drain(heap);
	while (snap(test, heap)->cls[31].blocks_free) {
		KUNIT_ASSERT_LT(test, nblk, cap);
		blk[nblk] = refcache_alloc(heap, 512, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, blk[nblk]);
		nblk++;
	}
	refcache_alloc_drain(heap);
	KUNIT_ASSERT_EQ(test, snap(test, heap)->cls[31].blocks_free, 0);
	KUNIT_ASSERT_EQ(test, nblk % per, 0);
	npools = nblk / per;
	sort(blk, nblk, sizeof(*blk), cmp_ptr, NULL);
	for (i = 0; i < npools; i++) {
		pools[i] = pool_base(blk[i * per]);
		KUNIT_ASSERT_EQ(test, pool_base(blk[i * per + per - 1]), pools[i]);
	}

	for (step = 0; step < 48; step++) {
		/* Free every block of one random live pool. */
		do {
			k = get_random_u32_below(npools);
		} while (!pools[k]);
		for (j = 0; j < per; j++) {
			refcache_free(heap, blk[k * per + j]);
			blk[k * per + j] = NULL;
		}
		pools[k] = 0;
		refcache_alloc_drain(heap);

		nexp = expected_nfree(pools, npools, exp, &live);
		KUNIT_ASSERT_LT(test, nexp, ORDER_MAX);
		/* Arenas with no live pool: released, but for one spare. */
		spare = snap(test, heap)->arenas_current - live;
		KUNIT_EXPECT_LE(test, spare, 1);
		if (spare)
			exp[nexp++] = REFCACHE_POOLS_PER_ARENA;
		/* Full arenas are not usable. */
		for (i = 0, j = 0; i < nexp; i++)
			if (exp[i])
				exp[j++] = exp[i];
		nexp = j;
		sort(exp, nexp, sizeof(*exp), cmp_u32, NULL);

		nusable = refcache_alloc_usable_arenas(heap, got, ORDER_MAX);
		KUNIT_ASSERT_EQ(test, nusable, nexp);
		for (i = 0; i < nusable; i++)
			KUNIT_EXPECT_EQ_MSG(test, got[i], exp[i], "step %u pos %u",
					    step, i);
	}

	/* A new pool comes from the arena with the fewest free pools. */
	nusable = refcache_alloc_usable_arenas(heap, got, ORDER_MAX);
	KUNIT_ASSERT_GE(test, nusable, 1);
	q = refcache_alloc(heap, 512, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, q);
	for (i = 0, k = 0; i < npools; i++)
		if (pools[i] && arena_base((void *)pools[i]) == arena_base(q))
			k++;
	KUNIT_EXPECT_EQ(test, REFCACHE_POOLS_PER_ARENA - k, got[0]);
	refcache_free(heap, q);
	for (i = 0; i < nblk; i++)
		refcache_free(heap, blk[i]);	/* NULLs are ignored */
	refcache_alloc_drain(heap);
	KUNIT_EXPECT_EQ(test, snap(test, heap)->arenas_current, 1);
	KUNIT_EXPECT_EQ(test, snap(test, heap)->bad_frees, 0);
}

/* ---- randomised stress on two CPUs --------------------------------- */

#define STRESS_SLOTS	256
#define STRESS_OPS	15000

struct shadow {
	u8 *p;
	u32 size;
	u8 tag;
};

struct stress {
	struct refcache_heap *heap;
	struct shadow slot[STRESS_SLOTS];
	struct completion done;
	unsigned long errors;
	unsigned long ops;
};

static bool shadow_intact(const struct shadow *s)
{
	u32 i;

	for (i = 0; i < s->size; i++)
		if (s->p[i] != (u8)(s->tag + i))
			return false;
	return true;
}

static int stress_fn(void *arg)
{
	struct stress *c = arg;
	unsigned int i, j;

	for (i = 0; i < STRESS_OPS; i++) {
		struct shadow *s = &c->slot[get_random_u32_below(STRESS_SLOTS)];

		if (s->p) {
			if (!shadow_intact(s))
				c->errors++;
			refcache_free(c->heap, s->p);
			s->p = NULL;
		} else {
			/* About one in seven is a large object. */
			s->size = 1 + get_random_u32_below(600);
			s->p = refcache_alloc(c->heap, s->size, GFP_KERNEL);
			if (!s->p) {
				c->errors++;
				continue;
			}
			if (memchr_inv(s->p, 0, s->size))
				c->errors++;
			s->tag = get_random_u32();
			for (j = 0; j < s->size; j++)
				s->p[j] = s->tag + j;
		}
		c->ops++;
		if (!(i % 512))
			cond_resched();
	}
	complete(&c->done);
	return 0;
}

static void alloc_stress_two_cpus(struct kunit *test)
{
	struct refcache_heap *heap = test_heap(test);
	u64 want[REFCACHE_NUM_CLASSES] = {}, want_large = 0, want_lbytes = 0;
	struct refcache_alloc_stats *st;
	struct task_struct *t[2];
	struct stress *c[2];
	unsigned long *live;
	unsigned int n = 0, i, w, cpu;
	ktime_t t0 = ktime_get();

	live = kunit_kcalloc(test, 2 * STRESS_SLOTS * 2, sizeof(*live), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, live);
	cpu = cpumask_first(cpu_online_mask);
	for (w = 0; w < 2; w++) {
		c[w] = kunit_kzalloc(test, sizeof(*c[w]), GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, c[w]);
		c[w]->heap = heap;
		init_completion(&c[w]->done);
		t[w] = kthread_create(stress_fn, c[w], "rc_alloc_stress%u", w);
		KUNIT_ASSERT_FALSE(test, IS_ERR(t[w]));
		get_task_struct(t[w]);
		kthread_bind(t[w], cpu);
		if (cpumask_next(cpu, cpu_online_mask) < nr_cpu_ids)
			cpu = cpumask_next(cpu, cpu_online_mask);
	}
	if (num_online_cpus() < 2)
		kunit_info(test, "only one CPU online: both threads share it\n");
	for (w = 0; w < 2; w++)
		wake_up_process(t[w]);
	for (w = 0; w < 2; w++) {
		wait_for_completion(&c[w]->done);
		kthread_stop(t[w]);
		put_task_struct(t[w]);
		KUNIT_EXPECT_EQ(test, c[w]->errors, 0);
		KUNIT_EXPECT_EQ(test, c[w]->ops, STRESS_OPS);
	}

	/* Counters exact, blocks disjoint, contents kept. */
	for (w = 0; w < 2; w++) {
		for (i = 0; i < STRESS_SLOTS; i++) {
			struct shadow *s = &c[w]->slot[i];

			if (!s->p)
				continue;
			KUNIT_EXPECT_TRUE(test, shadow_intact(s));
			if (s->size > REFCACHE_SMALL_MAX) {
				want_large++;
				want_lbytes += s->size;
			} else {
				want[(s->size - 1) / 16]++;
			}
			live[2 * n] = (unsigned long)s->p;
			live[2 * n + 1] = s->size <= REFCACHE_SMALL_MAX ?
					  round_up(s->size, 16) : s->size;
			n++;
		}
	}
	st = snap(test, heap);
	for (i = 0; i < REFCACHE_NUM_CLASSES; i++)
		KUNIT_EXPECT_EQ_MSG(test, st->cls[i].blocks_in_use, want[i],
				    "class %u", i);
	KUNIT_EXPECT_EQ(test, st->large_objects, want_large);
	KUNIT_EXPECT_EQ(test, st->large_bytes, want_lbytes);
	sort(live, n, 2 * sizeof(*live), cmp_ptr, NULL);
	for (i = 0; i + 1 < n; i++)
		KUNIT_EXPECT_LE(test, live[2 * i] + live[2 * i + 1], live[2 * i + 2]);

	/* Free the rest here, on whatever CPU this runs. */
	for (w = 0; w < 2; w++)
		for (i = 0; i < STRESS_SLOTS; i++)
			refcache_free(heap, c[w]->slot[i].p);
	refcache_alloc_drain(heap);
	st = snap(test, heap);
	KUNIT_EXPECT_EQ(test, total_in_use(st), 0);
	KUNIT_EXPECT_EQ(test, st->large_objects, 0);
	KUNIT_EXPECT_EQ(test, st->large_bytes, 0);
	KUNIT_EXPECT_LE(test, st->arenas_current, 1);
	KUNIT_EXPECT_EQ(test, st->bad_frees, 0);
	kunit_info(test, "%lu ops in %lld ms\n", c[0]->ops + c[1]->ops,
		   ktime_ms_delta(ktime_get(), t0));
}

/* ---- failures and misuse --------------------------------------------- */

static void alloc_failure_injection(struct kunit *test)
{
	struct refcache_heap *heap = test_heap(test);
	const unsigned int cap = REFCACHE_POOLS_PER_ARENA * bpp(64);
	struct refcache_alloc_stats *st;
	unsigned int n, i;
	void **blk, *p;

	blk = kunit_kcalloc(test, cap + 1, sizeof(*blk), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, blk);

	refcache_alloc_fail_next(heap, 1);
	KUNIT_EXPECT_NULL(test, refcache_alloc(heap, 64, GFP_KERNEL));
	st = snap(test, heap);
	KUNIT_EXPECT_EQ(test, st->alloc_failures, 1);
	KUNIT_EXPECT_EQ(test, st->arenas_current, 0);
	KUNIT_EXPECT_EQ(test, total_in_use(st), 0);

	refcache_alloc_fail_next(heap, 1);
	KUNIT_EXPECT_NULL(test, refcache_alloc(heap, 5000, GFP_KERNEL));
	st = snap(test, heap);
	KUNIT_EXPECT_EQ(test, st->alloc_failures, 2);
	KUNIT_EXPECT_EQ(test, st->large_objects, 0);

	/* One arena allowed: it fills up, then allocation fails cleanly. */
	refcache_alloc_fail_next(heap, 0);
	blk[0] = refcache_alloc(heap, 64, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, blk[0]);
	refcache_alloc_fail_next(heap, 1000);
	for (n = 1; n <= cap; n++) {
		blk[n] = refcache_alloc(heap, 64, GFP_KERNEL);
		if (!blk[n])
			break;
	}
	KUNIT_EXPECT_LE(test, n, cap);
	KUNIT_EXPECT_GT(test, n, cap - 64);	/* less the CPU caches */
	st = snap(test, heap);
	KUNIT_EXPECT_EQ(test, st->arenas_current, 1);
	KUNIT_EXPECT_EQ(test, st->cls[3].pools, REFCACHE_POOLS_PER_ARENA);
	KUNIT_EXPECT_EQ(test, st->cls[3].blocks_in_use, n);
	KUNIT_EXPECT_GE(test, st->alloc_failures, 3);
	/* Small and large still fail while injected, and leave nothing. */
	KUNIT_EXPECT_NULL(test, refcache_alloc(heap, 600, GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, snap(test, heap)->large_objects, 0);

	/* Back to normal. */
	refcache_alloc_fail_next(heap, 0);
	p = refcache_alloc(heap, 64, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	refcache_free(heap, p);
	p = refcache_alloc(heap, 600, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	refcache_free(heap, p);
	for (i = 0; i < n; i++)
		refcache_free(heap, blk[i]);
	refcache_alloc_drain(heap);
	st = snap(test, heap);
	KUNIT_EXPECT_EQ(test, total_in_use(st), 0);
	KUNIT_EXPECT_EQ(test, st->large_objects, 0);
	KUNIT_EXPECT_EQ(test, st->arenas_current, 1);
	KUNIT_EXPECT_EQ(test, st->bad_frees, 0);
}

/* Double frees and pointers the heap does not own: refused, counted. */
static void alloc_bad_free_refused(struct kunit *test)
{
	struct refcache_heap *heap = test_heap(test);
	struct refcache_heap *other = test_heap(test);
	struct refcache_alloc_stats *st;
	u8 *p, *q, *big, *kp, *x, *y;
	u64 bad = 0;

	p = refcache_alloc(heap, 64, GFP_KERNEL);
	q = refcache_alloc(heap, 64, GFP_KERNEL);
	big = refcache_alloc(heap, 2000, GFP_KERNEL);
	kp = kunit_kzalloc(test, 64, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_NOT_NULL(test, q);
	KUNIT_ASSERT_NOT_NULL(test, big);
	KUNIT_ASSERT_NOT_NULL(test, kp);

	refcache_free(heap, p);
	refcache_free(heap, p);			/* double free */
	bad++;
	refcache_free(heap, kp);		/* kmalloc memory */
	bad++;
	refcache_free(heap, q + 16);		/* inside a block */
	bad++;
	refcache_free(heap, q + 8);		/* misaligned */
	bad++;
	refcache_free(heap, (void *)pool_base(q));	/* pool header */
	bad++;
	refcache_free(heap, (void *)(arena_base(q) + REFCACHE_ARENA_SIZE -
				     REFCACHE_POOL_SIZE + REFCACHE_POOL_OVERHEAD));
	bad++;					/* never-carved pool */
	refcache_free(other, q);		/* another heap's block */
	refcache_free(heap, big + 16);		/* inside a large object */
	bad++;
	refcache_free(heap, big);
	refcache_free(heap, big);		/* large double free */
	bad++;

	st = snap(test, heap);
	KUNIT_EXPECT_EQ(test, st->bad_frees, bad);
	KUNIT_EXPECT_EQ(test, st->bad_free_warnings, 1);
	KUNIT_EXPECT_EQ(test, st->cls[3].blocks_in_use, 1);
	KUNIT_EXPECT_EQ(test, st->large_objects, 0);
	st = snap(test, other);
	KUNIT_EXPECT_EQ(test, st->bad_frees, 1);
	KUNIT_EXPECT_EQ(test, st->bad_free_warnings, 1);

	/* The refused double free did not put p on a free list twice. */
	x = refcache_alloc(heap, 64, GFP_KERNEL);
	y = refcache_alloc(heap, 64, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, x);
	KUNIT_ASSERT_NOT_NULL(test, y);
	KUNIT_EXPECT_PTR_NE(test, x, y);
	KUNIT_EXPECT_PTR_NE(test, x, q);
	KUNIT_EXPECT_PTR_NE(test, y, q);
	refcache_free(heap, x);
	refcache_free(heap, y);
	refcache_free(heap, q);			/* still q's owner */
	st = snap(test, heap);
	KUNIT_EXPECT_EQ(test, st->bad_frees, bad);
	KUNIT_EXPECT_EQ(test, total_in_use(st), 0);
}

/*
 * Two CPUs free the same blocks at once.  For each block exactly one of
 * the two frees stands and the other is refused, so every block is back
 * once; blocks handed out afterwards are all distinct.
 */
#define RACE_BLOCKS	2048
#define RACE_ROUNDS	4

struct free_race {
	struct refcache_heap *heap;
	void **v;
	atomic_t *ready;
	struct completion done;
};

static int free_race_fn(void *arg)
{
	struct free_race *c = arg;
	unsigned int i;

	/* Start together; yield, in case both share one CPU. */
	atomic_inc(c->ready);
	while (atomic_read(c->ready) < 2)
		cond_resched();
	for (i = 0; i < RACE_BLOCKS; i++)
		refcache_free(c->heap, c->v[i]);
	complete(&c->done);
	return 0;
}

static void alloc_double_free_race(struct kunit *test)
{
	struct refcache_heap *heap = test_heap(test);
	struct refcache_alloc_stats *st;
	struct free_race c[2];
	struct task_struct *t[2];
	unsigned int i, w, r, cpu;
	atomic_t ready;
	void **v;

	v = kunit_kcalloc(test, 2 * RACE_BLOCKS, sizeof(*v), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, v);
	for (r = 0; r < RACE_ROUNDS; r++) {
		for (i = 0; i < RACE_BLOCKS; i++) {
			v[i] = refcache_alloc(heap, 64, GFP_KERNEL);
			KUNIT_ASSERT_NOT_NULL(test, v[i]);
		}
		atomic_set(&ready, 0);
		cpu = cpumask_first(cpu_online_mask);
		for (w = 0; w < 2; w++) {
			c[w].heap = heap;
			c[w].v = v;
			c[w].ready = &ready;
			init_completion(&c[w].done);
			t[w] = kthread_create(free_race_fn, &c[w], "rc_free_race%u", w);
			KUNIT_ASSERT_FALSE(test, IS_ERR(t[w]));
			get_task_struct(t[w]);
			kthread_bind(t[w], cpu);
			if (cpumask_next(cpu, cpu_online_mask) < nr_cpu_ids)
				cpu = cpumask_next(cpu, cpu_online_mask);
		}
		for (w = 0; w < 2; w++)
			wake_up_process(t[w]);
		for (w = 0; w < 2; w++) {
			wait_for_completion(&c[w].done);
			kthread_stop(t[w]);
			put_task_struct(t[w]);
		}
		st = snap(test, heap);
		KUNIT_EXPECT_EQ(test, st->bad_frees, (u64)(r + 1) * RACE_BLOCKS);
		KUNIT_EXPECT_EQ(test, total_in_use(st), 0);
		refcache_alloc_drain(heap);
	}

	/* Nothing is on two free lists: what comes out is all distinct. */
	for (i = 0; i < 2 * RACE_BLOCKS; i++) {
		v[i] = refcache_alloc(heap, 64, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, v[i]);
	}
	st = snap(test, heap);
	KUNIT_EXPECT_EQ(test, st->cls[3].blocks_in_use, 2 * RACE_BLOCKS);
	sort(v, 2 * RACE_BLOCKS, sizeof(*v), cmp_ptr, NULL);
	for (i = 0; i + 1 < 2 * RACE_BLOCKS; i++)
		KUNIT_EXPECT_PTR_NE(test, v[i], v[i + 1]);
	for (i = 0; i < 2 * RACE_BLOCKS; i++)
		refcache_free(heap, v[i]);
	refcache_alloc_drain(heap);
	st = snap(test, heap);
	KUNIT_EXPECT_EQ(test, st->bad_frees, (u64)RACE_ROUNDS * RACE_BLOCKS);
	KUNIT_EXPECT_EQ(test, total_in_use(st), 0);
}

/* A double free after the block went back to its pool, or to a stack. */
static void alloc_double_free_after_flush(struct kunit *test)
{
	struct refcache_heap *heap = test_heap(test);
	struct refcache_alloc_stats *st;
	void *p, *v[200];
	unsigned int i;

	p = refcache_alloc(heap, 64, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	for (i = 0; i < ARRAY_SIZE(v); i++) {
		v[i] = refcache_alloc(heap, 64, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, v[i]);
	}
	refcache_free(heap, p);
	/* More frees than the stack holds: p goes back to its pool. */
	for (i = 0; i < ARRAY_SIZE(v); i++)
		refcache_free(heap, v[i]);
	refcache_alloc_drain(heap);
	refcache_free(heap, p);			/* in its pool */
	st = snap(test, heap);
	KUNIT_EXPECT_EQ(test, st->bad_frees, 1);
	KUNIT_EXPECT_EQ(test, total_in_use(st), 0);

	/* Taken back onto a stack by a refill, not handed out: refused. */
	v[0] = refcache_alloc(heap, 64, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, v[0]);
	for (i = 1; i < 8; i++) {
		v[i] = refcache_alloc(heap, 64, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, v[i]);
	}
	for (i = 0; i < 8; i++)
		refcache_free(heap, v[i]);
	for (i = 0; i < 8; i++)
		refcache_free(heap, v[i]);	/* each on the stack now */
	st = snap(test, heap);
	KUNIT_EXPECT_EQ(test, st->bad_frees, 9);
	KUNIT_EXPECT_EQ(test, total_in_use(st), 0);
}

static void alloc_large_objects(struct kunit *test)
{
	static const size_t sizes[] = { 513, 1024, 4096, 5000, 100000 };
	struct refcache_heap *heap = test_heap(test);
	struct refcache_alloc_stats *st;
	u8 *p[ARRAY_SIZE(sizes)];
	size_t sum = 0;
	int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		p[i] = refcache_alloc(heap, sizes[i], GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p[i]);
		KUNIT_EXPECT_EQ(test, (unsigned long)p[i] % 16, 0);
		KUNIT_EXPECT_NULL(test, memchr_inv(p[i], 0, sizes[i]));
		memset(p[i], 0x5a, sizes[i]);
		sum += sizes[i];
	}
	st = snap(test, heap);
	KUNIT_EXPECT_EQ(test, st->large_objects, ARRAY_SIZE(sizes));
	KUNIT_EXPECT_EQ(test, st->large_bytes, sum);
	KUNIT_EXPECT_EQ(test, st->arenas_current, 0);
	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		refcache_free(heap, p[i]);
	st = snap(test, heap);
	KUNIT_EXPECT_EQ(test, st->large_objects, 0);
	KUNIT_EXPECT_EQ(test, st->large_bytes, 0);
	KUNIT_EXPECT_EQ(test, st->bad_frees, 0);
}

/* Destroying a heap frees whatever it still holds (kmemleak checks). */
static void alloc_heap_put_frees_all(struct kunit *test)
{
	struct refcache_heap *heap = refcache_heap_create();
	int i;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, heap);
	for (i = 0; i < 3000; i++)
		KUNIT_ASSERT_NOT_NULL(test, refcache_alloc(heap, 1 + i % 700,
							   GFP_KERNEL));
	KUNIT_EXPECT_GE(test, snap(test, heap)->arenas_current, 2);
	refcache_heap_put(heap);
}

#define MILLION	1000000

static void alloc_million_64(struct kunit *test)
{
	struct refcache_heap *heap = test_heap(test);
	struct refcache_alloc_stats *st;
	ktime_t t0 = ktime_get();
	void **blk;
	int i;

	blk = vmalloc(array_size(MILLION, sizeof(*blk)));
	KUNIT_ASSERT_NOT_NULL(test, blk);
	for (i = 0; i < MILLION; i++) {
		blk[i] = refcache_alloc(heap, 64, GFP_KERNEL);
		if (!blk[i])
			break;
		if (!(i % 4096))
			cond_resched();
	}
	KUNIT_EXPECT_EQ(test, i, MILLION);
	st = snap(test, heap);
	KUNIT_EXPECT_EQ(test, st->cls[3].blocks_in_use, i);
	KUNIT_EXPECT_GE(test, st->arenas_current,
			DIV_ROUND_UP(MILLION, REFCACHE_POOLS_PER_ARENA * bpp(64)));
	while (i--) {
		refcache_free(heap, blk[i]);
		if (!(i % 4096))
			cond_resched();
	}
	vfree(blk);
	refcache_alloc_drain(heap);
	st = snap(test, heap);
	KUNIT_EXPECT_LE(test, st->arenas_current, 1);
	KUNIT_EXPECT_EQ(test, total_in_use(st), 0);
	KUNIT_EXPECT_EQ(test, st->bad_frees, 0);
	kunit_info(test, "highwater %llu arenas, %lld ms\n", st->arenas_highwater,
		   ktime_ms_delta(ktime_get(), t0));
}

static struct kunit_case refcache_alloc_cases[] = {
	KUNIT_CASE(alloc_size_to_class),
	KUNIT_CASE(alloc_every_class_blocks),
	KUNIT_CASE(alloc_pool_returns_to_arena),
	KUNIT_CASE(alloc_arena_release_keeps_spare),
	KUNIT_CASE(alloc_usable_arenas_ordered),
	KUNIT_CASE(alloc_stress_two_cpus),
	KUNIT_CASE(alloc_failure_injection),
	KUNIT_CASE(alloc_bad_free_refused),
	KUNIT_CASE(alloc_double_free_race),
	KUNIT_CASE(alloc_double_free_after_flush),
	KUNIT_CASE(alloc_large_objects),
	KUNIT_CASE(alloc_heap_put_frees_all),
	KUNIT_CASE_SLOW(alloc_million_64),
	{}
};

static struct kunit_suite refcache_alloc_suite = {
	.name = "refcache_alloc",
	.test_cases = refcache_alloc_cases,
};

kunit_test_suite(refcache_alloc_suite);
