// SPDX-License-Identifier: GPL-2.0
/*
 * gc_handles: the collector's marking from the handles
 * (Documentation/collector.rst, step 0) under TCG, in make bench's guest.
 *
 * refcache_bench_gc.ko builds its graphs through the in-kernel API, and
 * marks only in its _root shapes (refcache_root_add()).  This program
 * builds the same tree through /dev/refcache, as user space holds it
 * (node i has children 2i+1 and 2i+2), closes every handle but the
 * root's, and times one full collection; then
 * the same tree held instead through an untracked object's slot, whose
 * own handle the marking cannot start from (the object is not in the
 * set), so that the marking does not run (the acyclic pass finds the
 * tree has no cycle, as it would a tree held by a kernel reference; the
 * trial's two passes, before that pass existed).  Lines, joined
 * with CPython's tree by scripts/bench.sh:
 *
 *   refcache shape=tree_handle objects=<n> ns=<t> collected=<c>
 *   refcache shape=tree_holder objects=<n> ns=<t> collected=<c>
 *
 * Usage: gc_handles [OBJECTS [ROUNDS]] (default 1000000 and 1; each
 * shape's best round is printed).  Exits non-zero if a collection finds
 * anything to collect, or a call fails.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "refcache.h"

#define BATCH	REFCACHE_BATCH_MAX

static struct refcache_op ops[BATCH];
static unsigned int nops;

/* Run the queued operations: 0, or the batch's or the first op's -errno. */
static int flush(int fd)
{
	unsigned int k, n = nops;
	int ret = 0;

	nops = 0;
	if (n)
		ret = refcache_batch(fd, ops, n, 0);
	if (ret < 0)
		return ret;
	for (k = 0; k < n; k++)
		if (ops[k].error)
			return ops[k].error;
	return 0;
}

/* Queue one operation; a full batch runs at once.  Results in ops[]. */
static int queue(int fd, uint16_t op, uint64_t handle, uint32_t arg, uint64_t value)
{
	ops[nops++] = (struct refcache_op){
		.op = op, .handle = handle, .arg = arg, .value = value,
	};
	return nops == BATCH ? flush(fd) : 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * Build the tree in a new heap and collect it once: @holder, hold its
 * root through an untracked object's slot instead of a handle.  Returns
 * the collection's ns, or 0 after printing what failed.
 */
static uint64_t round_once(uint64_t n, int holder)
{
	struct refcache_gc_collect res = { 0 };
	uint64_t *h, i, t0, t1, keep;
	int fd, tree, untracked, ret;
	unsigned int k;

	h = calloc(n, sizeof(*h));
	fd = refcache_open();
	if (!h || fd < 0) {
		fprintf(stderr, "gc_handles: %s\n", fd < 0 ? strerror(-fd) : "out of memory");
		goto fail;
	}
	ret = refcache_gc_disable(fd);
	tree = refcache_cache_create(fd, "tree", 0, 2, REFCACHE_CACHE_TRACKED);
	untracked = refcache_cache_create(fd, "holder", 0, 1, 0);
	if (ret < 0 || tree < 0 || untracked < 0) {
		fprintf(stderr, "gc_handles: heap setup: %s\n",
			strerror(-(ret < 0 ? ret : tree < 0 ? tree : untracked)));
		goto fail;
	}
	for (i = 0; i < n; i += k) {
		for (k = 0; k < BATCH && i + k < n; k++)
			ops[k] = (struct refcache_op){ .op = REFCACHE_OP_NEW, .arg = tree };
		nops = k;
		ret = flush(fd);
		if (ret < 0)
			goto fail_call;
		for (k = 0; k < BATCH && i + k < n; k++)
			h[i + k] = ops[k].result;
	}
	for (i = 0; i < n; i++) {
		ret = 0;
		if (2 * i + 1 < n)
			ret = queue(fd, REFCACHE_OP_SLOT_STORE, h[i], 0, h[2 * i + 1]);
		if (!ret && 2 * i + 2 < n)
			ret = queue(fd, REFCACHE_OP_SLOT_STORE, h[i], 1, h[2 * i + 2]);
		if (ret < 0)
			goto fail_call;
	}
	keep = 0;
	if (holder) {
		ret = refcache_new(fd, untracked, &keep);
		if (!ret)
			ret = refcache_store(fd, keep, 0, h[0]);
		if (ret < 0)
			goto fail_call;
	}
	for (i = holder ? 0 : 1; i < n; i++) {
		ret = queue(fd, REFCACHE_OP_CLOSE, h[i], 0, 0);
		if (ret < 0)
			goto fail_call;
	}
	ret = flush(fd);
	if (ret < 0)
		goto fail_call;

	t0 = now_ns();
	ret = refcache_gc_collect_ex(fd, 2, &res);
	t1 = now_ns();
	if (ret < 0)
		goto fail_call;
	if (res.unreachable || res.collected || res.uncollectable) {
		fprintf(stderr, "gc_handles: the tree is live, yet the collection found %llu\n",
			(unsigned long long)res.unreachable);
		goto fail;
	}
	refcache_close(fd);
	free(h);
	return t1 - t0 ? t1 - t0 : 1;

fail_call:
	fprintf(stderr, "gc_handles: %s\n", strerror(-ret));
fail:
	if (fd >= 0)
		refcache_close(fd);
	free(h);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000000;
	unsigned int rounds = argc > 2 ? strtoul(argv[2], NULL, 0) : 1, r;
	static const char *const name[2] = { "tree_handle", "tree_holder" };
	uint64_t best[2] = { UINT64_MAX, UINT64_MAX }, ns;
	int holder;

	if (n < 2 || !rounds) {
		fprintf(stderr, "usage: gc_handles [OBJECTS >= 2 [ROUNDS >= 1]]\n");
		return 2;
	}
	/* The two shapes in turns, so that both see the same machine. */
	for (r = 0; r < rounds; r++) {
		for (holder = 0; holder < 2; holder++) {
			ns = round_once(n, holder);
			if (!ns)
				return 1;
			if (ns < best[holder])
				best[holder] = ns;
		}
	}
	for (holder = 0; holder < 2; holder++)
		printf("refcache shape=%s objects=%llu ns=%llu collected=0\n", name[holder],
		       (unsigned long long)n, (unsigned long long)best[holder]);
	return 0;
}
