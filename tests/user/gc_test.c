// SPDX-License-Identifier: GPL-2.0
/*
 * The cycle collector (issue 8) from user space, through raw ioctls on
 * /dev/refcache: every REFCACHE_IOC_GC_* command on good and bad input,
 * cycles of length 1, 2, 3 and 1000, generations, get_count as CPython's,
 * freeze, untracked caches, weak handles to garbage, collection events on
 * the heap's fd (poll/read), /proc/refcache/gc against GC_STATS/GC_GET,
 * automatic collection on the workqueue, an oracle on random graphs and
 * eight mutator threads racing a ninth that collects.
 *
 * The oracle and the racing threads run again on biased caches
 * (REFCACHE_CACHE_BIASED, tracked and not), where nothing may differ.
 * There the oracle's batches are cut into chunks that four worker
 * threads run in turn (tap.h's turns_*), so objects are owned by
 * different threads and each thread stores, dups, closes and upgrades
 * the others'; it checks every held object's refcount against the
 * model, makes the owners exit while their objects are held (then
 * counts, collections and closes must still agree), and collects from
 * threads that own nothing.
 *
 * Runs inside the qemu guest on both kernels (64- and 32-bit).  Sizes
 * shrink on the debug kernel (/sys/kernel/debug/kmemleak exists, or
 * REFCACHE_GC_SMALL=1).  REFCACHE_SEED=<n> repeats the oracle's and the
 * threads' random choices; the seeds are printed as "# seed=...".
 * REFCACHE_GC_CASE=<glob> runs only the cases it matches.
 * A kernel without the collector (GC_GET gives ENOTTY) skips every case.
 * Prints TAP; exit status is the number of failed cases (capped).
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "refcache.h"
#include "tap.h"

#define EVSZ	sizeof(struct refcache_gc_event)

static long pg;
static int small;		/* debug kernel: smaller graphs, fewer steps */
static uint64_t base_seed;
static int have_biased;		/* REFCACHE_FEATURE_BIASED */

/* ---- raw gc ioctls -------------------------------------------------- */

static int gc_collect_r(int fd, uint32_t gen, struct refcache_gc_collect *out)
{
	struct refcache_gc_collect c;
	int r;

	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.generation = gen;
	r = raw_ioctl(fd, REFCACHE_IOC_GC_COLLECT, &c);
	if (out)
		*out = c;
	return r;
}

/* gc.collect(gen): unreachable objects found, or -errno. */
static long long gc_collect(int fd, uint32_t gen)
{
	struct refcache_gc_collect c;
	int r = gc_collect_r(fd, gen, &c);

	return r < 0 ? r : (long long)c.unreachable;
}

static int gc_get(int fd, struct refcache_gc_info *gi)
{
	memset(gi, 0, sizeof(*gi));
	gi->size = sizeof(*gi);
	return raw_ioctl(fd, REFCACHE_IOC_GC_GET, gi);
}

static int gc_set(int fd, uint32_t flags, uint32_t enabled, uint32_t t0,
		  uint32_t t1, uint32_t t2)
{
	struct refcache_gc_set s;

	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	s.flags = flags;
	s.enabled = enabled;
	s.threshold[0] = t0;
	s.threshold[1] = t1;
	s.threshold[2] = t2;
	return raw_ioctl(fd, REFCACHE_IOC_GC_SET, &s);
}

static int gc_enable(int fd, int on)
{
	return gc_set(fd, REFCACHE_GC_SET_ENABLED, on, 0, 0, 0);
}

static int gc_threshold(int fd, uint32_t t0, uint32_t t1, uint32_t t2)
{
	return gc_set(fd, REFCACHE_GC_SET_THRESHOLD, 0, t0, t1, t2);
}

/* gc.freeze() / gc.unfreeze(): objects moved, or -errno. */
static long long gc_freeze(int fd, int unfreeze)
{
	struct refcache_gc_freeze f;
	int r;

	memset(&f, 0, sizeof(f));
	f.size = sizeof(f);
	f.flags = unfreeze ? REFCACHE_GC_UNFREEZE : 0;
	r = raw_ioctl(fd, REFCACHE_IOC_GC_FREEZE, &f);
	return r < 0 ? r : (long long)f.moved;
}

static int gc_stats(int fd, struct refcache_gc_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return raw_ioctl(fd, REFCACHE_IOC_GC_STATS, st);
}

/* gc.is_tracked(): 1, 0 or -errno. */
static int gc_is_tracked(int fd, uint64_t h)
{
	struct refcache_handle_op op;
	int r;

	memset(&op, 0, sizeof(op));
	op.size = sizeof(op);
	op.handle = h;
	r = raw_ioctl(fd, REFCACHE_IOC_GC_IS_TRACKED, &op);
	return r < 0 ? r : (int)op.result;
}

/* One field of GC_GET: 0-2 count, 3-5 threshold, 6 enabled, 7 freeze_count. */
static long long gc_field(int fd, int what)
{
	struct refcache_gc_info gi;
	int r = gc_get(fd, &gi);

	if (r)
		return r;
	if (what < 3)
		return gi.count[what];
	if (what < 6)
		return gi.threshold[what - 3];
	return what == 6 ? gi.enabled : (long long)gi.freeze_count;
}
#define COUNT(fd, i) gc_field(fd, i)
#define FROZEN(fd) gc_field(fd, 7)

/* ---- heap helpers ----------------------------------------------------- */

static long long heap_field(int fd, int what)
{
	struct refcache_heap_info hi;
	int r = refcache_heap_info(fd, &hi);

	if (r)
		return r;
	switch (what) {
	case 0: return hi.objects;
	case 1: return hi.handles;
	default: return hi.heap_id;
	}
}
#define OBJECTS(fd) heap_field(fd, 0)
#define HANDLES(fd) heap_field(fd, 1)
#define HEAP_ID(fd) heap_field(fd, 2)

/*
 * A heap with one cache of @nslots slots (tracked unless @flags says
 * otherwise); automatic collection off unless @autogc, so that only the
 * test's own collections run.
 */
static int heap_new(int *cache, uint32_t nslots, uint32_t flags, int autogc)
{
	int fd = refcache_open();

	if (fd < 0) {
		printf("# open: %s\n", strerror(-fd));
		return -1;
	}
	if (!autogc && gc_enable(fd, 0)) {
		printf("# gc disable failed\n");
		refcache_close(fd);
		return -1;
	}
	*cache = refcache_cache_create(fd, "gc", 8, nslots, flags);
	if (*cache <= 0) {
		printf("# cache_create: %s\n", strerror(-*cache));
		refcache_close(fd);
		return -1;
	}
	return fd;
}

static uint64_t onew(int fd, int cache)
{
	uint64_t h = 0;

	return refcache_new(fd, cache, &h) ? 0 : h;
}

/*
 * A ring of @n new objects of @cache through slot 0; the handle of the
 * first stays open in *@hold when @hold is given, all others are closed.
 */
static int ring(int fd, int cache, int n, uint64_t *hold)
{
	uint64_t first = onew(fd, cache), prev = first, h;
	int i;

	if (!first)
		return -1;
	for (i = 1; i < n; i++) {
		h = onew(fd, cache);
		if (!h || refcache_store(fd, prev, 0, h))
			return -1;
		if (prev != first && refcache_handle_close(fd, prev))
			return -1;
		prev = h;
	}
	if (refcache_store(fd, prev, 0, first))
		return -1;
	if (prev != first && refcache_handle_close(fd, prev))
		return -1;
	if (hold)
		*hold = first;
	else if (refcache_handle_close(fd, first))
		return -1;
	return 0;
}

/* ---- events ----------------------------------------------------------- */

/* 1 if @fd is readable within @ms, 0 if not, -errno. */
static int ev_wait(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r = poll(&p, 1, ms);

	if (r < 0)
		return -errno;
	return r && (p.revents & POLLIN) ? 1 : 0;
}

/* Read up to @max records (non-blocking): their number, or -errno. */
static int ev_read(int fd, struct refcache_gc_event *ev, int max)
{
	int fl = fcntl(fd, F_GETFL);
	ssize_t n;

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	n = read(fd, ev, (size_t)max * EVSZ);
	if (n < 0)
		n = -errno;
	fcntl(fd, F_SETFL, fl);
	if (n < 0)
		return n == -EAGAIN ? 0 : (int)n;
	if ((size_t)n % EVSZ) {
		printf("# read returned %zd bytes, not whole records\n", n);
		return -EPROTO;
	}
	return (int)((size_t)n / EVSZ);
}

/* ---- case 1: the ioctls on good and bad input ------------------------- */

static int t_feature(void)
{
	struct refcache_version v;
	int fd = refcache_open(), r;

	CHECK(fd >= 0, "open");
	r = refcache_version(fd, &v);
	refcache_close(fd);
	CHECK(r == 0, "version %d", r);
	CHECK(v.major == 1 && v.minor >= 2, "ABI %u.%u", v.major, v.minor);
	CHECK(v.features & REFCACHE_FEATURE_GC, "features 0x%llx",
	      (unsigned long long)v.features);
	return 0;
}

static long param(const char *name, long dflt)
{
	char path[128], buf[32];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/refcache/parameters/%s", name);
	f = fopen(path, "r");
	if (!f)
		return dflt;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	if (buf[0] == 'Y' || buf[0] == 'N')
		return buf[0] == 'Y';
	return buf[0] ? atol(buf) : dflt;
}

static int t_defaults(void)
{
	struct refcache_gc_info gi;
	struct refcache_gc_stats st;
	int fd = refcache_open(), r, g;

	CHECK(fd >= 0, "open");
	memset(&gi, 0xa5, sizeof(gi));
	gi.size = sizeof(gi);
	gi.flags = 0;
	r = raw_ioctl(fd, REFCACHE_IOC_GC_GET, &gi);
	CHECKF(r == 0, "get %d", r);
	CHECKF(gi.size == sizeof(gi) && gi.flags == 0, "size %u flags %u", gi.size, gi.flags);
	CHECKF((long)gi.enabled == param("gc_enabled", 1), "enabled %u", gi.enabled);
	CHECKF((long)gi.threshold[0] == param("gc_threshold0", 2000) &&
	       (long)gi.threshold[1] == param("gc_threshold1", 10) &&
	       (long)gi.threshold[2] == param("gc_threshold2", 10),
	       "thresholds %u/%u/%u", gi.threshold[0], gi.threshold[1], gi.threshold[2]);
	CHECKF(gi.reserved == 0 && gi.reserved2 == 0, "reserved %u %u", gi.reserved, gi.reserved2);
	CHECKF(gi.count[0] == 0 && gi.count[1] == 0 && gi.count[2] == 0 && gi.freeze_count == 0,
	       "counts %llu %llu %llu frozen %llu", (unsigned long long)gi.count[0],
	       (unsigned long long)gi.count[1], (unsigned long long)gi.count[2],
	       (unsigned long long)gi.freeze_count);
	memset(&st, 0xa5, sizeof(st));
	st.size = sizeof(st);
	st.flags = 0;
	r = raw_ioctl(fd, REFCACHE_IOC_GC_STATS, &st);
	CHECKF(r == 0, "stats %d", r);
	for (g = 0; g < 3; g++)
		CHECKF(!st.gen[g].collections && !st.gen[g].collected && !st.gen[g].uncollectable &&
		       !st.gen[g].candidates && !st.gen[g].pause_total_ns && !st.gen[g].pause_max_ns,
		       "gen %d stats not zero on a new heap", g);
	refcache_close(fd);
	return 0;
}

/*
 * One command's argument in a buffer of two pages (so that sizes up to a
 * page are readable): @good is a valid argument of @ksize bytes.
 */
struct sizecase {
	const char *name;
	unsigned long cmd;
	const void *good;
	size_t ksize, ver0;
};

static int size_probe(int fd, const struct sizecase *sc, unsigned char *buf)
{
	struct { uint32_t size; int want; int trailing; } tries[] = {
		{ 0, -EINVAL, 0 },
		{ 8, -EINVAL, 0 },
		{ (uint32_t)sc->ver0 - 1, -EINVAL, 0 },
		{ (uint32_t)sc->ver0, 0, 0 },
		{ (uint32_t)sc->ksize, 0, 0 },
		{ (uint32_t)sc->ksize + 8, 0, 0 },
		{ (uint32_t)sc->ksize + 8, -E2BIG, 1 },
		{ (uint32_t)sc->ksize + 1, -E2BIG, 1 },
		{ (uint32_t)pg, 0, 0 },
		{ (uint32_t)pg, -E2BIG, 1 },
		{ (uint32_t)pg + 1, -E2BIG, 0 },
		{ 0x10000, -E2BIG, 0 },
		{ 0xffffffffu, -E2BIG, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		uint32_t sz = tries[i].size;
		int r;

		memset(buf, 0, 2 * pg);
		memcpy(buf, sc->good, sc->ksize);
		memcpy(buf, &sz, sizeof(sz));
		if (tries[i].trailing)
			buf[sz - 1] = 0x5a;
		r = raw_ioctl(fd, sc->cmd, buf);
		CHECK(r == tries[i].want, "%s size %u%s: %d, want %d", sc->name, sz,
		      tries[i].trailing ? " with a non-zero last byte" : "", r, tries[i].want);
	}
	return 0;
}

static int t_sizes(void)
{
	struct refcache_gc_collect c = { .size = sizeof(c), .generation = 0 };
	struct refcache_gc_info gi = { .size = sizeof(gi) };
	struct refcache_gc_set s = { .size = sizeof(s), .flags = REFCACHE_GC_SET_THRESHOLD,
				     .threshold = { 2000, 10, 10 } };
	struct refcache_gc_freeze f = { .size = sizeof(f), .flags = REFCACHE_GC_UNFREEZE };
	struct refcache_gc_stats st = { .size = sizeof(st) };
	struct refcache_handle_op op = { .size = sizeof(op) };
	unsigned char *buf;
	int cache, fd = heap_new(&cache, 1, REFCACHE_CACHE_TRACKED, 1), i;

	if (fd < 0)
		return -1;
	op.handle = onew(fd, cache);
	CHECKF(op.handle, "new");
	{
		const struct sizecase sc[] = {
			{ "COLLECT", REFCACHE_IOC_GC_COLLECT, &c, sizeof(c), REFCACHE_GC_COLLECT_SIZE_VER0 },
			{ "GET", REFCACHE_IOC_GC_GET, &gi, sizeof(gi), REFCACHE_GC_INFO_SIZE_VER0 },
			{ "SET", REFCACHE_IOC_GC_SET, &s, sizeof(s), REFCACHE_GC_SET_SIZE_VER0 },
			{ "FREEZE", REFCACHE_IOC_GC_FREEZE, &f, sizeof(f), REFCACHE_GC_FREEZE_SIZE_VER0 },
			{ "STATS", REFCACHE_IOC_GC_STATS, &st, sizeof(st), REFCACHE_GC_STATS_SIZE_VER0 },
			{ "IS_TRACKED", REFCACHE_IOC_GC_IS_TRACKED, &op, sizeof(op),
			  REFCACHE_HANDLE_OP_SIZE_VER0 },
		};

		CHECKF(sizeof(c) == 40 && sizeof(gi) == 64 && sizeof(s) == 32 && sizeof(f) == 16 &&
		       sizeof(st) == 152 && EVSZ == 56, "uapi struct sizes differ from 64-bit");
		buf = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHECKF(buf != MAP_FAILED, "mmap");
		for (i = 0; i < 6; i++)
			if (size_probe(fd, &sc[i], buf)) {
				munmap(buf, 2 * pg);
				refcache_close(fd);
				return -1;
			}
		/* The result reaches a caller that knows only VER0 of GET. */
		memset(buf, 0xa5, 2 * pg);
		memset(buf, 0, REFCACHE_GC_INFO_SIZE_VER0);
		((struct refcache_gc_info *)buf)->size = REFCACHE_GC_INFO_SIZE_VER0;
		CHECKF(raw_ioctl(fd, REFCACHE_IOC_GC_GET, buf) == 0, "get ver0");
		CHECKF(((struct refcache_gc_info *)buf)->threshold[0] == 2000, "threshold");
		CHECKF(buf[REFCACHE_GC_INFO_SIZE_VER0] == 0xa5, "wrote past the caller's size");
		munmap(buf, 2 * pg);
	}
	CHECKF(gc_is_tracked(fd, op.handle) == 1, "still tracked");
	CHECKF(HANDLES(fd) == 1 && OBJECTS(fd) == 1, "handles %lld objects %lld",
	       HANDLES(fd), OBJECTS(fd));
	refcache_close(fd);
	return 0;
}

static int t_flags_reserved(void)
{
	struct refcache_gc_collect c;
	struct refcache_gc_info gi;
	struct refcache_gc_set s;
	struct refcache_gc_freeze f;
	struct refcache_gc_stats st;
	struct refcache_handle_op op;
	/* No valid flags at all, and bits next to the valid ones of SET/FREEZE. */
	uint32_t bad[] = { 1u << 0, 1u << 1, 1u << 2, 1u << 31, 0xffffffffu };
	uint32_t badset[] = { 1u << 2, 1u << 3, 1u << 31, 0xfffffffcu, 0xffffffffu };
	uint32_t badfrz[] = { 1u << 1, 1u << 2, 1u << 31, 0xfffffffeu, 0xffffffffu };
	int cache, fd = heap_new(&cache, 1, REFCACHE_CACHE_TRACKED, 1), r;
	uint64_t h;
	size_t i;

	if (fd < 0)
		return -1;
	h = onew(fd, cache);
	CHECKF(h, "new");
	CHECKF(ring(fd, cache, 2, NULL) == 0, "ring");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&c, 0, sizeof(c));
		c.size = sizeof(c);
		c.flags = bad[i];
		c.generation = 2;
		r = raw_ioctl(fd, REFCACHE_IOC_GC_COLLECT, &c);
		CHECKF(r == -EINVAL, "COLLECT flags %#x: %d", c.flags, r);
		CHECKF(c.unreachable == 0 && c.collected == 0, "COLLECT wrote results on failure");

		memset(&gi, 0x5a, sizeof(gi));
		gi.size = sizeof(gi);
		gi.flags = bad[i];
		r = raw_ioctl(fd, REFCACHE_IOC_GC_GET, &gi);
		CHECKF(r == -EINVAL, "GET flags %#x: %d", gi.flags, r);
		CHECKF(gi.threshold[0] == 0x5a5a5a5a && gi.count[0] == 0x5a5a5a5a5a5a5a5aull,
		       "GET wrote results on failure");

		memset(&s, 0, sizeof(s));
		s.size = sizeof(s);
		s.flags = REFCACHE_GC_SET_THRESHOLD | badset[i];
		s.threshold[0] = 7;
		r = raw_ioctl(fd, REFCACHE_IOC_GC_SET, &s);
		CHECKF(r == -EINVAL, "SET flags %#x: %d", s.flags, r);

		memset(&f, 0, sizeof(f));
		f.size = sizeof(f);
		f.flags = badfrz[i];
		r = raw_ioctl(fd, REFCACHE_IOC_GC_FREEZE, &f);
		CHECKF(r == -EINVAL, "FREEZE flags %#x: %d", f.flags, r);

		memset(&st, 0, sizeof(st));
		st.size = sizeof(st);
		st.flags = bad[i];
		r = raw_ioctl(fd, REFCACHE_IOC_GC_STATS, &st);
		CHECKF(r == -EINVAL, "STATS flags %#x: %d", st.flags, r);

		memset(&op, 0, sizeof(op));
		op.size = sizeof(op);
		op.flags = bad[i];
		op.handle = h;
		r = raw_ioctl(fd, REFCACHE_IOC_GC_IS_TRACKED, &op);
		CHECKF(r == -EINVAL, "IS_TRACKED flags %#x: %d", op.flags, r);
		CHECKF(op.result == 0, "IS_TRACKED wrote a result on failure");
	}
	/* Reserved fields. */
	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.generation = 2;
	c.reserved = 1;
	r = raw_ioctl(fd, REFCACHE_IOC_GC_COLLECT, &c);
	CHECKF(r == -EINVAL, "COLLECT reserved: %d", r);
	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	s.flags = REFCACHE_GC_SET_FLAGS;
	s.enabled = 1;
	s.threshold[0] = 7;
	s.reserved = 1;
	r = raw_ioctl(fd, REFCACHE_IOC_GC_SET, &s);
	CHECKF(r == -EINVAL, "SET reserved: %d", r);
	s.reserved = 0;
	s.reserved2 = 0x80000000u;
	r = raw_ioctl(fd, REFCACHE_IOC_GC_SET, &s);
	CHECKF(r == -EINVAL, "SET reserved2: %d", r);
	memset(&op, 0, sizeof(op));
	op.size = sizeof(op);
	op.handle = h;
	op.reserved = 1;
	r = raw_ioctl(fd, REFCACHE_IOC_GC_IS_TRACKED, &op);
	CHECKF(r == -EINVAL, "IS_TRACKED reserved: %d", r);
	op.reserved = 0;
	op.slot = 1;
	r = raw_ioctl(fd, REFCACHE_IOC_GC_IS_TRACKED, &op);
	CHECKF(r == -EINVAL, "IS_TRACKED slot (unused, must be 0): %d", r);
	op.slot = 0;
	op.value = h;
	r = raw_ioctl(fd, REFCACHE_IOC_GC_IS_TRACKED, &op);
	CHECKF(r == -EINVAL, "IS_TRACKED value (unused, must be 0): %d", r);
	/* Nothing changed: the thresholds, and the garbage is still there. */
	CHECKF(gc_field(fd, 3) == 2000, "threshold0 %lld", gc_field(fd, 3));
	CHECKF(OBJECTS(fd) == 3, "objects %lld", OBJECTS(fd));
	CHECKF(gc_collect(fd, 2) == 2, "the failed collects collected nothing");
	refcache_close(fd);
	return 0;
}

static int t_collect_generation(void)
{
	struct refcache_gc_collect c;
	uint32_t bad[] = { 3, 4, 255, 0x80000000u, 0xffffffffu };
	int cache, fd = heap_new(&cache, 1, REFCACHE_CACHE_TRACKED, 0), r;
	size_t i;

	if (fd < 0)
		return -1;
	CHECKF(ring(fd, cache, 2, NULL) == 0, "ring");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = gc_collect_r(fd, bad[i], &c);
		CHECKF(r == -EINVAL, "generation %u: %d", bad[i], r);
	}
	CHECKF(OBJECTS(fd) == 2, "objects %lld", OBJECTS(fd));
	CHECKF(ev_wait(fd, 0) == 0, "a failed collect queued an event");
	for (i = 0; i < 3; i++) {
		r = gc_collect_r(fd, i, &c);
		CHECKF(r == 0, "generation %zu: %d", i, r);
		CHECKF(c.unreachable == c.collected + c.uncollectable, "unreachable %llu",
		       (unsigned long long)c.unreachable);
		CHECKF(c.generation == i && c.size == sizeof(c) && !c.flags && !c.reserved,
		       "inputs changed");
		if (i == 0)
			CHECKF(c.unreachable == 2 && c.collected == 2 && c.uncollectable == 0,
			       "the 2-cycle: %llu", (unsigned long long)c.unreachable);
		else
			CHECKF(c.unreachable == 0, "nothing left: %llu",
			       (unsigned long long)c.unreachable);
	}
	refcache_close(fd);
	return 0;
}

static int t_efault(void)
{
	const unsigned long cmds[] = {
		REFCACHE_IOC_GC_COLLECT, REFCACHE_IOC_GC_GET, REFCACHE_IOC_GC_SET,
		REFCACHE_IOC_GC_FREEZE, REFCACHE_IOC_GC_STATS, REFCACHE_IOC_GC_IS_TRACKED,
	};
	const size_t sizes[] = { 40, 64, 32, 16, 152, 40 };
	unsigned char *m;
	int cache, fd = heap_new(&cache, 1, REFCACHE_CACHE_TRACKED, 1), r;
	uint64_t h;
	size_t i;

	if (fd < 0)
		return -1;
	h = onew(fd, cache);
	CHECKF(h, "new");
	m = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECKF(m != MAP_FAILED, "mmap");
	/* page 0: read-only, page 1: read-write, page 2: none */
	CHECKF(mprotect(m + 2 * pg, pg, PROT_NONE) == 0, "mprotect");
	for (i = 0; i < 6; i++) {
		unsigned char *p;

		r = raw_ioctl(fd, cmds[i], NULL);
		CHECKF(r == -EFAULT, "cmd %zu NULL: %d", i, r);
		r = raw_ioctl(fd, cmds[i], (void *)8);
		CHECKF(r == -EFAULT, "cmd %zu at 8: %d", i, r);
		r = raw_ioctl(fd, cmds[i], m + 2 * pg);
		CHECKF(r == -EFAULT, "cmd %zu PROT_NONE: %d", i, r);
		/* Only size and flags readable, the rest past the end of the mapping. */
		p = m + 2 * pg - 8;
		memset(p, 0, 8);
		((uint32_t *)p)[0] = sizes[i];
		r = raw_ioctl(fd, cmds[i], p);
		CHECKF(r == -EFAULT, "cmd %zu straddling: %d", i, r);
	}
	/* Results that cannot be written back. */
	memset(m, 0, pg);
	((struct refcache_gc_info *)m)->size = sizeof(struct refcache_gc_info);
	mprotect(m, pg, PROT_READ);
	r = raw_ioctl(fd, REFCACHE_IOC_GC_GET, m);
	CHECKF(r == -EFAULT, "GET read-only: %d", r);
	mprotect(m, pg, PROT_READ | PROT_WRITE);
	memset(m, 0, pg);
	((struct refcache_gc_stats *)m)->size = sizeof(struct refcache_gc_stats);
	mprotect(m, pg, PROT_READ);
	r = raw_ioctl(fd, REFCACHE_IOC_GC_STATS, m);
	CHECKF(r == -EFAULT, "STATS read-only: %d", r);
	mprotect(m, pg, PROT_READ | PROT_WRITE);
	memset(m, 0, pg);
	((struct refcache_handle_op *)m)->size = sizeof(struct refcache_handle_op);
	((struct refcache_handle_op *)m)->handle = h;
	mprotect(m, pg, PROT_READ);
	r = raw_ioctl(fd, REFCACHE_IOC_GC_IS_TRACKED, m);
	CHECKF(r == -EFAULT, "IS_TRACKED read-only: %d", r);
	mprotect(m, pg, PROT_READ | PROT_WRITE);
	memset(m, 0, pg);
	((struct refcache_gc_collect *)m)->size = sizeof(struct refcache_gc_collect);
	mprotect(m, pg, PROT_READ);
	r = raw_ioctl(fd, REFCACHE_IOC_GC_COLLECT, m);
	CHECKF(r == -EFAULT, "COLLECT read-only: %d", r);
	/* SET has no results: read-only is fine. */
	mprotect(m, pg, PROT_READ | PROT_WRITE);
	memset(m, 0, pg);
	((struct refcache_gc_set *)m)->size = sizeof(struct refcache_gc_set);
	((struct refcache_gc_set *)m)->flags = REFCACHE_GC_SET_THRESHOLD;
	((struct refcache_gc_set *)m)->threshold[0] = 1234;
	((struct refcache_gc_set *)m)->threshold[1] = 5;
	((struct refcache_gc_set *)m)->threshold[2] = 6;
	mprotect(m, pg, PROT_READ);
	r = raw_ioctl(fd, REFCACHE_IOC_GC_SET, m);
	CHECKF(r == 0, "SET read-only: %d", r);
	munmap(m, 3 * pg);
	CHECKF(gc_field(fd, 3) == 1234 && gc_field(fd, 4) == 5 && gc_field(fd, 5) == 6,
	       "thresholds after SET");
	CHECKF(HANDLES(fd) == 1, "handles %lld", HANDLES(fd));
	refcache_close(fd);
	return 0;
}

static int t_is_tracked(void)
{
	int tc, fd = heap_new(&tc, 2, REFCACHE_CACHE_TRACKED, 1), uc, r, fd2;
	uint64_t t, u, w, d, x, h2;

	if (fd < 0)
		return -1;
	uc = refcache_cache_create(fd, "untracked", 8, 2, 0);
	CHECKF(uc > 0, "cache");
	t = onew(fd, tc);
	u = onew(fd, uc);
	CHECKF(t && u, "new");
	CHECKF(gc_is_tracked(fd, t) == 1, "tracked: %d", gc_is_tracked(fd, t));
	CHECKF(gc_is_tracked(fd, u) == 0, "untracked: %d", gc_is_tracked(fd, u));
	CHECKF(refcache_dup(fd, t, &d) == 0, "dup");
	CHECKF(gc_is_tracked(fd, d) == 1, "dup tracked");
	CHECKF(refcache_store(fd, u, 0, t) == 0 && refcache_load(fd, u, 0, &x) == 0, "load");
	CHECKF(gc_is_tracked(fd, x) == 1, "loaded tracked");
	CHECKF(refcache_weak_new(fd, t, &w) == 0, "weak");
	r = gc_is_tracked(fd, w);
	CHECKF(r == -EINVAL, "weak handle: %d", r);
	r = gc_is_tracked(fd, 0);
	CHECKF(r == -EBADF, "handle 0: %d", r);
	r = gc_is_tracked(fd, 0xdeadbeefcafeull);
	CHECKF(r == -EBADF, "bogus handle: %d", r);
	r = gc_is_tracked(fd, ~0ull);
	CHECKF(r == -EBADF, "~0: %d", r);
	CHECKF(refcache_handle_close(fd, x) == 0, "close");
	r = gc_is_tracked(fd, x);
	CHECKF(r == -EBADF, "closed handle: %d", r);
	fd2 = refcache_open();
	CHECKF(fd2 >= 0, "open 2");
	r = gc_is_tracked(fd2, t);
	CHECKF(r == -EBADF, "another heap's handle: %d", r);
	{
		int c2 = refcache_cache_create(fd2, "t2", 0, 0, REFCACHE_CACHE_TRACKED);

		h2 = c2 > 0 ? onew(fd2, c2) : 0;
	}
	CHECKF(h2 && gc_is_tracked(fd2, h2) == 1, "tracked in heap 2");
	refcache_close(fd2);
	/* A frozen object is still tracked, as gc.is_tracked() says. */
	CHECKF(gc_freeze(fd, 0) == 1, "freeze");
	CHECKF(gc_is_tracked(fd, t) == 1, "frozen: %d", gc_is_tracked(fd, t));
	/* After a collection (promoted) and after unfreeze. */
	CHECKF(gc_freeze(fd, 1) == 1, "unfreeze");
	CHECKF(gc_collect(fd, 2) == 0, "collect");
	CHECKF(gc_is_tracked(fd, t) == 1 && gc_is_tracked(fd, u) == 0, "after collect");
	/* The object died: the weak handle is still no strong handle. */
	CHECKF(refcache_store(fd, u, 0, 0) == 0, "store");
	CHECKF(refcache_handle_close(fd, t) == 0 && refcache_handle_close(fd, d) == 0, "close");
	r = gc_is_tracked(fd, w);
	CHECKF(r == -EINVAL || r == -ENOENT, "weak to a dead object: %d", r);
	CHECKF(OBJECTS(fd) == 1, "objects %lld", OBJECTS(fd));
	refcache_close(fd);
	return 0;
}

static int t_set_get(void)
{
	struct refcache_gc_info gi;
	int fd = refcache_open(), r;

	CHECK(fd >= 0, "open");
	r = gc_set(fd, 0, 0, 0, 0, 0);
	CHECKF(r == -EINVAL, "no flags: %d", r);
	r = gc_set(fd, 0, 1, 5, 5, 5);
	CHECKF(r == -EINVAL, "no flags with values: %d", r);
	r = gc_set(fd, REFCACHE_GC_SET_ENABLED, 2, 0, 0, 0);
	CHECKF(r == -EINVAL, "enabled 2: %d", r);
	r = gc_set(fd, REFCACHE_GC_SET_ENABLED, 0xffffffffu, 0, 0, 0);
	CHECKF(r == -EINVAL, "enabled ~0: %d", r);
	/* A failed call changes nothing, not even the valid half. */
	r = gc_set(fd, REFCACHE_GC_SET_FLAGS, 3, 11, 12, 13);
	CHECKF(r == -EINVAL, "both, enabled 3: %d", r);
	CHECKF(gc_get(fd, &gi) == 0, "get");
	CHECKF(gi.enabled == 1 && gi.threshold[0] == 2000 && gi.threshold[1] == 10 &&
	       gi.threshold[2] == 10, "changed by failed SETs: %u %u/%u/%u", gi.enabled,
	       gi.threshold[0], gi.threshold[1], gi.threshold[2]);

	CHECKF(gc_threshold(fd, 700, 5, 3) == 0, "set threshold");
	CHECKF(gc_get(fd, &gi) == 0, "get");
	CHECKF(gi.threshold[0] == 700 && gi.threshold[1] == 5 && gi.threshold[2] == 3 &&
	       gi.enabled == 1, "round trip: %u %u/%u/%u", gi.enabled, gi.threshold[0],
	       gi.threshold[1], gi.threshold[2]);
	CHECKF(gc_enable(fd, 0) == 0, "disable");
	CHECKF(gc_get(fd, &gi) == 0 && gi.enabled == 0 && gi.threshold[0] == 700,
	       "disabled: %u, thresholds kept %u", gi.enabled, gi.threshold[0]);
	/* Fields a call does not use must be zero (the ABI rules in uapi/linux/refcache.h). */
	r = gc_set(fd, REFCACHE_GC_SET_THRESHOLD, 1, 1, 2, 3);
	CHECKF(r == -EINVAL, "thresholds only, with enabled 1: %d", r);
	r = gc_set(fd, REFCACHE_GC_SET_ENABLED, 1, 0, 0, 3);
	CHECKF(r == -EINVAL, "enabled only, with a threshold: %d", r);
	CHECKF(gc_get(fd, &gi) == 0 && gi.enabled == 0 && gi.threshold[0] == 700,
	       "changed by failed SETs: %u %u", gi.enabled, gi.threshold[0]);
	CHECKF(gc_set(fd, REFCACHE_GC_SET_THRESHOLD, 0, 1, 2, 3) == 0, "thresholds only");
	CHECKF(gc_get(fd, &gi) == 0 && gi.enabled == 0 && gi.threshold[0] == 1 &&
	       gi.threshold[1] == 2 && gi.threshold[2] == 3, "enabled %u thr %u/%u/%u",
	       gi.enabled, gi.threshold[0], gi.threshold[1], gi.threshold[2]);
	CHECKF(gc_set(fd, REFCACHE_GC_SET_ENABLED, 1, 0, 0, 0) == 0, "enable only");
	CHECKF(gc_get(fd, &gi) == 0 && gi.enabled == 1 && gi.threshold[0] == 1 &&
	       gi.threshold[1] == 2 && gi.threshold[2] == 3, "enabled %u thr %u/%u/%u",
	       gi.enabled, gi.threshold[0], gi.threshold[1], gi.threshold[2]);
	/* Both at once; extreme values round-trip. */
	CHECKF(gc_set(fd, REFCACHE_GC_SET_FLAGS, 0, 0xffffffffu, 0, 0x7fffffffu) == 0, "both");
	CHECKF(gc_get(fd, &gi) == 0 && gi.enabled == 0 && gi.threshold[0] == 0xffffffffu &&
	       gi.threshold[1] == 0 && gi.threshold[2] == 0x7fffffffu, "enabled %u thr %u/%u/%u",
	       gi.enabled, gi.threshold[0], gi.threshold[1], gi.threshold[2]);
	CHECKF(gc_set(fd, REFCACHE_GC_SET_FLAGS, 1, 2000, 10, 10) == 0, "defaults again");
	CHECKF(gc_get(fd, &gi) == 0 && gi.enabled == 1 && gi.threshold[0] == 2000 &&
	       gi.reserved == 0 && gi.reserved2 == 0, "back");
	/* Another heap is not affected. */
	{
		int fd2 = refcache_open();

		CHECKF(fd2 >= 0, "open 2");
		CHECKF(gc_set(fd2, REFCACHE_GC_SET_FLAGS, 0, 3, 3, 3) == 0, "set 2");
		CHECKF(gc_get(fd, &gi) == 0 && gi.enabled == 1 && gi.threshold[0] == 2000,
		       "heap 1 changed by heap 2's SET");
		refcache_close(fd2);
	}
	refcache_close(fd);
	return 0;
}

/* threshold0 = 0: no automatic collection, explicit collection still works. */
static int t_threshold0_zero(void)
{
	struct refcache_gc_event ev[4];
	int cache, fd = heap_new(&cache, 1, REFCACHE_CACHE_TRACKED, 1), i, n;
	long long got;

	if (fd < 0)
		return -1;
	CHECKF(gc_threshold(fd, 0, 10, 10) == 0, "threshold 0");
	CHECKF(gc_field(fd, 6) == 1, "still enabled");
	/* Past the default threshold of 2000, in 2-cycles. */
	for (i = 0; i < 1100; i++)
		CHECKF(ring(fd, cache, 2, NULL) == 0, "ring %d", i);
	CHECKF(ev_wait(fd, small ? 1000 : 400) == 0, "an event without a collection");
	CHECKF(COUNT(fd, 0) == 2200, "count0 %lld", COUNT(fd, 0));
	CHECKF(OBJECTS(fd) == 2200, "objects %lld", OBJECTS(fd));
	got = gc_collect(fd, 0);
	CHECKF(got == 2200, "explicit collect: %lld", got);
	CHECKF(OBJECTS(fd) == 0, "objects %lld", OBJECTS(fd));
	n = ev_read(fd, ev, 4);
	CHECKF(n == 1 && ev[0].reason == REFCACHE_GC_REASON_EXPLICIT, "events %d reason %u", n,
	       n > 0 ? ev[0].reason : 0);
	refcache_close(fd);
	return 0;
}

/* ---- case 2: cycles ---------------------------------------------------- */

static int cycle_case(int n, uint32_t gen)
{
	struct refcache_gc_collect c;
	struct refcache_gc_stats st;
	int cache, fd = heap_new(&cache, 1, REFCACHE_CACHE_TRACKED, 0), r;
	double t0 = now();

	if (fd < 0)
		return -1;
	CHECKF(ring(fd, cache, n, NULL) == 0, "ring of %d", n);
	CHECKF(OBJECTS(fd) == n && HANDLES(fd) == 0, "objects %lld handles %lld", OBJECTS(fd),
	       HANDLES(fd));
	r = gc_collect_r(fd, gen, &c);
	CHECKF(r == 0, "collect %d", r);
	CHECKF(c.unreachable == (uint64_t)n && c.collected == (uint64_t)n && c.uncollectable == 0,
	       "ring of %d: unreachable %llu collected %llu uncollectable %llu", n,
	       (unsigned long long)c.unreachable, (unsigned long long)c.collected,
	       (unsigned long long)c.uncollectable);
	CHECKF(OBJECTS(fd) == 0, "objects %lld", OBJECTS(fd));
	CHECKF(gc_stats(fd, &st) == 0, "stats");
	CHECKF(st.gen[gen].collections == 1 && st.gen[gen].collected == (uint64_t)n &&
	       st.gen[gen].uncollectable == 0 && st.gen[gen].candidates >= (uint64_t)n &&
	       st.gen[gen].pause_max_ns <= st.gen[gen].pause_total_ns,
	       "stats gen %u: %llu collections %llu collected %llu candidates", gen,
	       (unsigned long long)st.gen[gen].collections,
	       (unsigned long long)st.gen[gen].collected,
	       (unsigned long long)st.gen[gen].candidates);
	CHECKF(gc_collect(fd, 2) == 0, "second collect");
	printf("# ring of %d: %.3f s\n", n, now() - t0);
	refcache_close(fd);
	return 0;
}

static int t_self_cycle(void) { return cycle_case(1, 0); }
static int t_cycle_2(void) { return cycle_case(2, 1); }
static int t_cycle_3(void) { return cycle_case(3, 2); }
static int t_cycle_1000(void) { return cycle_case(1000, 2); }

/* Several shapes at once: rings, a cycle with a tail, a clique. */
static int t_cycle_shapes(void)
{
	int cache, fd = heap_new(&cache, 4, REFCACHE_CACHE_TRACKED, 0), i, j;
	uint64_t k[5], a, tail;

	if (fd < 0)
		return -1;
	for (i = 1; i <= 5; i++)
		CHECKF(ring(fd, cache, i, NULL) == 0, "ring");
	/* A 5-clique with every slot used. */
	for (i = 0; i < 5; i++)
		CHECKF((k[i] = onew(fd, cache)), "new");
	for (i = 0; i < 5; i++)
		for (j = 0; j < 4; j++)
			CHECKF(refcache_store(fd, k[i], j, k[(i + j + 1) % 5]) == 0, "store");
	for (i = 0; i < 5; i++)
		CHECKF(refcache_handle_close(fd, k[i]) == 0, "close");
	/* A self-cycle holding a chain of 10 that is on no cycle. */
	a = onew(fd, cache);
	CHECKF(a && refcache_store(fd, a, 0, a) == 0, "self");
	tail = a;
	for (i = 0; i < 10; i++) {
		uint64_t t = onew(fd, cache);

		CHECKF(t && refcache_store(fd, tail, 1, t) == 0, "chain");
		if (tail != a)
			CHECKF(refcache_handle_close(fd, tail) == 0, "close");
		tail = t;
	}
	CHECKF(refcache_handle_close(fd, tail) == 0 && refcache_handle_close(fd, a) == 0, "close");
	CHECKF(OBJECTS(fd) == 15 + 5 + 11, "objects %lld", OBJECTS(fd));
	CHECKF(gc_collect(fd, 2) == 31, "collected %lld", gc_collect(fd, 2));
	CHECKF(OBJECTS(fd) == 0, "objects %lld", OBJECTS(fd));
	refcache_close(fd);
	return 0;
}

static int t_held_cycle(void)
{
	int tc, fd = heap_new(&tc, 1, REFCACHE_CACHE_TRACKED, 0), uc;
	uint64_t a, u, w, x;
	long long got;

	if (fd < 0)
		return -1;
	uc = refcache_cache_create(fd, "untracked", 0, 1, 0);
	CHECKF(uc > 0, "cache");
	/* Held by a handle. */
	CHECKF(ring(fd, tc, 2, &a) == 0, "ring");
	got = gc_collect(fd, 2);
	CHECKF(got == 0, "held cycle collected: %lld", got);
	CHECKF(OBJECTS(fd) == 2, "objects %lld", OBJECTS(fd));
	CHECKF(refcache_load(fd, a, 0, &x) == 0 && x, "still linked");
	CHECKF(refcache_handle_close(fd, x) == 0, "close");
	CHECKF(refcache_handle_close(fd, a) == 0, "close");
	CHECKF(gc_collect(fd, 2) == 2, "collected once dropped");
	CHECKF(OBJECTS(fd) == 0, "objects %lld", OBJECTS(fd));
	/* Held through an untracked object: a reference from outside the set. */
	CHECKF(ring(fd, tc, 3, &a) == 0, "ring");
	u = onew(fd, uc);
	CHECKF(u && refcache_store(fd, u, 0, a) == 0, "untracked holder");
	CHECKF(refcache_handle_close(fd, a) == 0, "close");
	CHECKF(gc_collect(fd, 2) == 0, "held from an untracked object");
	CHECKF(OBJECTS(fd) == 4, "objects %lld", OBJECTS(fd));
	CHECKF(refcache_handle_close(fd, u) == 0, "close the holder");
	CHECKF(OBJECTS(fd) == 3, "holder freed by refcount: %lld", OBJECTS(fd));
	CHECKF(gc_collect(fd, 2) == 3, "collected after");
	/* A weak handle does not keep it. */
	CHECKF(ring(fd, tc, 2, &a) == 0, "ring");
	CHECKF(refcache_weak_new(fd, a, &w) == 0 && refcache_handle_close(fd, a) == 0, "weak");
	CHECKF(gc_collect(fd, 2) == 2, "weakly held cycle");
	CHECKF(refcache_weak_upgrade(fd, w, &x) == -ENOENT, "upgrade");
	CHECKF(refcache_handle_close(fd, w) == 0, "close weak");
	CHECKF(OBJECTS(fd) == 0 && HANDLES(fd) == 0, "objects %lld handles %lld", OBJECTS(fd),
	       HANDLES(fd));
	refcache_close(fd);
	return 0;
}

/* Promote everything now in generations 0..1 to generation 2. */
static int to_gen2(int fd)
{
	return gc_collect(fd, 1) < 0 ? -1 : 0;
}

static int t_young_cycle_old_referrer(void)
{
	int cache, fd = heap_new(&cache, 2, REFCACHE_CACHE_TRACKED, 0);
	uint64_t h1, h2, a, g;
	long long got;

	if (fd < 0)
		return -1;
	/* h2 in generation 2, h1 in generation 1. */
	h2 = onew(fd, cache);
	CHECKF(h2 && to_gen2(fd) == 0, "h2");
	h1 = onew(fd, cache);
	CHECKF(h1 && gc_collect(fd, 0) == 0, "h1");
	/* A young 2-cycle referenced from h1, another from h2. */
	CHECKF(ring(fd, cache, 2, &a) == 0 && refcache_store(fd, h1, 0, a) == 0 &&
	       refcache_handle_close(fd, a) == 0, "cycle under h1");
	CHECKF(ring(fd, cache, 3, &a) == 0 && refcache_store(fd, h2, 0, a) == 0 &&
	       refcache_handle_close(fd, a) == 0, "cycle under h2");
	got = gc_collect(fd, 0);
	CHECKF(got == 0, "young cycles referenced from older generations: %lld", got);
	CHECKF(OBJECTS(fd) == 7, "objects %lld", OBJECTS(fd));
	/* Now in gen 1 with h1: a gen-1 collection sees h1's reference as internal, still live. */
	CHECKF(gc_collect(fd, 1) == 0, "collect(1)");
	CHECKF(OBJECTS(fd) == 7, "objects %lld", OBJECTS(fd));
	CHECKF(refcache_store(fd, h1, 0, 0) == 0 && refcache_store(fd, h2, 0, 0) == 0, "unlink");
	CHECKF(gc_collect(fd, 2) == 5, "collected once unlinked");
	/* Garbage in generation 2 keeps a young cycle alive through collect(0). */
	g = onew(fd, cache);
	CHECKF(g && refcache_store(fd, g, 1, g) == 0 && to_gen2(fd) == 0, "old self-cycle");
	CHECKF(ring(fd, cache, 2, &a) == 0 && refcache_store(fd, g, 0, a) == 0 &&
	       refcache_handle_close(fd, a) == 0 && refcache_handle_close(fd, g) == 0,
	       "young cycle under old garbage");
	CHECKF(gc_collect(fd, 0) == 0, "collect(0) with old garbage referrer");
	CHECKF(gc_collect(fd, 1) == 0, "collect(1): the referrer is still in gen 2");
	CHECKF(OBJECTS(fd) == 5, "objects %lld", OBJECTS(fd));
	got = gc_collect(fd, 2);
	CHECKF(got == 3, "collect(2) takes all three: %lld", got);
	CHECKF(OBJECTS(fd) == 2, "objects %lld (h1, h2 left)", OBJECTS(fd));
	refcache_close(fd);
	return 0;
}

/*
 * A young cycle holds the only reference to an old object that is on no
 * cycle: collect(0) finds the 2 young objects, and the old one goes by
 * refcount when the cycle is broken (not counted: it was not examined).
 */
static int t_old_hanging_off_young(void)
{
	int cache, fd = heap_new(&cache, 2, REFCACHE_CACHE_TRACKED, 0);
	uint64_t old, a;
	long long got;

	if (fd < 0)
		return -1;
	old = onew(fd, cache);
	CHECKF(old && to_gen2(fd) == 0, "old");
	CHECKF(ring(fd, cache, 2, &a) == 0 && refcache_store(fd, a, 1, old) == 0, "link");
	CHECKF(refcache_handle_close(fd, a) == 0 && refcache_handle_close(fd, old) == 0, "close");
	CHECKF(OBJECTS(fd) == 3, "objects %lld", OBJECTS(fd));
	got = gc_collect(fd, 0);
	CHECKF(got == 2, "collect(0): %lld", got);
	CHECKF(OBJECTS(fd) == 0, "objects %lld", OBJECTS(fd));
	CHECKF(gc_collect(fd, 2) == 0, "nothing left");
	refcache_close(fd);
	return 0;
}

#define CNT3(fd, a, b, c) (COUNT(fd, 0) == (a) && COUNT(fd, 1) == (b) && COUNT(fd, 2) == (c))
#define CNTMSG(fd) "count %lld %lld %lld", COUNT(fd, 0), COUNT(fd, 1), COUNT(fd, 2)

static int t_get_count(void)
{
	int tc, fd = heap_new(&tc, 1, REFCACHE_CACHE_TRACKED, 0), uc, i;
	uint64_t h[8], u;

	if (fd < 0)
		return -1;
	uc = refcache_cache_create(fd, "untracked", 0, 1, 0);
	CHECKF(uc > 0, "cache");
	CHECKF(CNT3(fd, 0, 0, 0), CNTMSG(fd));
	for (i = 0; i < 5; i++)
		CHECKF((h[i] = onew(fd, tc)), "new");
	CHECKF(CNT3(fd, 5, 0, 0), CNTMSG(fd));
	u = onew(fd, uc);
	CHECKF(u && CNT3(fd, 5, 0, 0), "untracked allocation counted: " CNTMSG(fd));
	CHECKF(refcache_handle_close(fd, u) == 0 && CNT3(fd, 5, 0, 0), "untracked free counted");
	CHECKF(refcache_handle_close(fd, h[4]) == 0 && refcache_handle_close(fd, h[3]) == 0,
	       "close");
	CHECKF(CNT3(fd, 3, 0, 0), "deallocations: " CNTMSG(fd));
	/* A dup, a weak handle, a store: no allocation of an object. */
	CHECKF(refcache_dup(fd, h[0], &h[5]) == 0 && refcache_weak_new(fd, h[0], &h[6]) == 0 &&
	       refcache_store(fd, h[0], 0, h[1]) == 0, "dup/weak/store");
	CHECKF(CNT3(fd, 3, 0, 0), CNTMSG(fd));
	CHECKF(gc_collect(fd, 0) == 0 && CNT3(fd, 0, 1, 0), "after collect(0): " CNTMSG(fd));
	CHECKF(gc_collect(fd, 0) == 0 && CNT3(fd, 0, 2, 0), "after collect(0): " CNTMSG(fd));
	/* Freeing an object allocated before the collection: never below 0. */
	CHECKF(refcache_handle_close(fd, h[2]) == 0 && CNT3(fd, 0, 2, 0),
	       "below zero: " CNTMSG(fd));
	CHECKF((h[2] = onew(fd, tc)) && CNT3(fd, 1, 2, 0), CNTMSG(fd));
	CHECKF(gc_collect(fd, 1) == 0 && CNT3(fd, 0, 0, 1), "after collect(1): " CNTMSG(fd));
	CHECKF(gc_collect(fd, 1) == 0 && CNT3(fd, 0, 0, 2), "after collect(1): " CNTMSG(fd));
	CHECKF(gc_collect(fd, 0) == 0 && CNT3(fd, 0, 1, 2), "after collect(0): " CNTMSG(fd));
	/* Garbage freed by the collector does not push count0 below 0 either. */
	for (i = 0; i < 3; i++)
		CHECKF(ring(fd, tc, 2, NULL) == 0, "ring");
	CHECKF(CNT3(fd, 6, 1, 2), CNTMSG(fd));
	CHECKF(gc_collect(fd, 2) == 6 && CNT3(fd, 0, 0, 0), "after collect(2): " CNTMSG(fd));
	CHECKF(gc_collect(fd, 2) == 0 && CNT3(fd, 0, 0, 0), "after collect(2): " CNTMSG(fd));
	/* Dying by refcount right after allocation cancels out. */
	for (i = 0; i < 10; i++) {
		uint64_t t = onew(fd, tc);

		CHECKF(t && refcache_handle_close(fd, t) == 0, "new/close");
	}
	CHECKF(CNT3(fd, 0, 0, 0), CNTMSG(fd));
	refcache_close(fd);
	return 0;
}

static int t_freeze(void)
{
	int tc, fd = heap_new(&tc, 2, REFCACHE_CACHE_TRACKED, 0), uc;
	uint64_t h, a, u;
	long long got;

	if (fd < 0)
		return -1;
	uc = refcache_cache_create(fd, "untracked", 0, 1, 0);
	CHECKF(uc > 0, "cache");
	CHECKF(FROZEN(fd) == 0, "frozen %lld", FROZEN(fd));
	CHECKF(gc_freeze(fd, 0) == 0 && gc_freeze(fd, 1) == 0, "nothing to move");
	h = onew(fd, tc);
	u = onew(fd, uc);
	CHECKF(h && u, "new");
	CHECKF(to_gen2(fd) == 0, "h to gen 2");
	CHECKF(ring(fd, tc, 2, NULL) == 0, "garbage");
	CHECKF(ring(fd, tc, 3, &a) == 0, "held");
	CHECKF(gc_collect(fd, 0) == 2, "collect(0)");	/* a's ring now in gen 1 */
	CHECKF(ring(fd, tc, 2, NULL) == 0, "young garbage");
	/* 1 (gen 2) + 3 (gen 1) + 2 (gen 0) tracked; the untracked one stays out. */
	got = gc_freeze(fd, 0);
	CHECKF(got == 6, "freeze moved %lld", got);
	CHECKF(FROZEN(fd) == 6, "freeze_count %lld", FROZEN(fd));
	CHECKF(gc_freeze(fd, 0) == 0 && FROZEN(fd) == 6, "freeze again moves nothing");
	got = gc_collect(fd, 2);
	CHECKF(got == 0, "frozen garbage collected: %lld", got);
	CHECKF(OBJECTS(fd) == 7, "objects %lld", OBJECTS(fd));
	/* A young cycle referenced from a frozen object survives. */
	CHECKF(refcache_handle_close(fd, a) == 0, "close a: its ring is frozen garbage now");
	CHECKF(ring(fd, tc, 2, &a) == 0 && refcache_store(fd, h, 0, a) == 0 &&
	       refcache_handle_close(fd, a) == 0, "cycle under h");
	CHECKF(gc_collect(fd, 2) == 0, "cycle under a frozen object");
	CHECKF(OBJECTS(fd) == 9, "objects %lld", OBJECTS(fd));
	CHECKF(FROZEN(fd) == 6, "freeze_count %lld", FROZEN(fd));
	/* A frozen object that dies by refcount leaves the permanent generation. */
	CHECKF(refcache_store(fd, u, 0, h) == 0, "u holds h");
	CHECKF(refcache_handle_close(fd, h) == 0, "close h");
	CHECKF(refcache_handle_close(fd, u) == 0, "close u: h dies, then its cycle is garbage");
	CHECKF(FROZEN(fd) == 5, "freeze_count after a frozen object died: %lld", FROZEN(fd));
	/* Unfreeze: all to generation 2, then collectable. */
	got = gc_freeze(fd, 1);
	CHECKF(got == 5, "unfreeze moved %lld", got);
	CHECKF(FROZEN(fd) == 0, "freeze_count %lld", FROZEN(fd));
	CHECKF(gc_collect(fd, 1) == 0, "unfrozen objects are in gen 2, not gen 0/1");
	got = gc_collect(fd, 2);
	CHECKF(got == 7, "collect(2) after unfreeze: %lld", got);
	CHECKF(OBJECTS(fd) == 0, "objects %lld", OBJECTS(fd));
	refcache_close(fd);
	return 0;
}

static int t_untracked(void)
{
	int uc, fd = heap_new(&uc, 2, 0, 1), tc, i;
	uint64_t a, t;
	long long got;

	if (fd < 0)
		return -1;
	tc = refcache_cache_create(fd, "tracked", 0, 2, REFCACHE_CACHE_TRACKED);
	CHECKF(tc > 0, "cache");
	CHECKF(ring(fd, uc, 1, NULL) == 0 && ring(fd, uc, 2, NULL) == 0 &&
	       ring(fd, uc, 100, NULL) == 0, "untracked rings");
	/* An untracked ring through a tracked object: the tracked one is held from outside. */
	CHECKF(ring(fd, uc, 2, &a) == 0, "ring");
	t = onew(fd, tc);
	CHECKF(t && refcache_store(fd, a, 1, t) == 0 && refcache_store(fd, t, 0, a) == 0, "link");
	CHECKF(refcache_handle_close(fd, a) == 0 && refcache_handle_close(fd, t) == 0, "close");
	CHECKF(COUNT(fd, 0) == 1, "count0 %lld: only the tracked allocation", COUNT(fd, 0));
	for (i = 0; i < 3; i++) {
		got = gc_collect(fd, 2);
		CHECKF(got == 0, "untracked cycles collected: %lld", got);
	}
	CHECKF(OBJECTS(fd) == 106, "objects %lld", OBJECTS(fd));
	CHECKF(gc_freeze(fd, 0) == 1, "only the tracked object frozen");
	CHECKF(gc_freeze(fd, 1) == 1, "unfreeze");
	CHECKF(gc_collect(fd, 2) == 0 && OBJECTS(fd) == 106, "still there");
	refcache_close(fd);
	return 0;
}

/* ---- case 3: weak handles to garbage ----------------------------------- */

static int t_weak_garbage(void)
{
	int cache, fd = heap_new(&cache, 2, REFCACHE_CACHE_TRACKED, 0), i;
	uint64_t a, b, c, d, w[4], x;

	if (fd < 0)
		return -1;
	a = onew(fd, cache);
	b = onew(fd, cache);
	c = onew(fd, cache);
	d = onew(fd, cache);
	CHECKF(a && b && c && d, "new");
	CHECKF(refcache_store(fd, a, 0, b) == 0 && refcache_store(fd, b, 0, a) == 0 &&
	       refcache_store(fd, b, 1, d) == 0, "a<->b, b->d");
	CHECKF(refcache_weak_new(fd, a, &w[0]) == 0 && refcache_weak_new(fd, b, &w[1]) == 0 &&
	       refcache_weak_new(fd, c, &w[2]) == 0 && refcache_weak_new(fd, d, &w[3]) == 0,
	       "weak");
	CHECKF(refcache_handle_close(fd, a) == 0 && refcache_handle_close(fd, b) == 0 &&
	       refcache_handle_close(fd, d) == 0, "close");
	/* Before the collection the garbage can still be revived. */
	CHECKF(refcache_weak_upgrade(fd, w[0], &x) == 0, "upgrade before");
	CHECKF(gc_collect(fd, 2) == 0, "revived cycle kept");
	CHECKF(refcache_handle_close(fd, x) == 0, "drop it again");
	CHECKF(OBJECTS(fd) == 4 && HANDLES(fd) == 5, "objects %lld handles %lld", OBJECTS(fd),
	       HANDLES(fd));
	CHECKF(gc_collect(fd, 2) == 3, "a, b and d");
	for (i = 0; i < 4; i++) {
		int r = refcache_weak_upgrade(fd, w[i], &x);

		if (i == 2) {
			CHECKF(r == 0, "weak to a live object: %d", r);
			CHECKF(refcache_handle_close(fd, x) == 0, "close");
		} else {
			CHECKF(r == -ENOENT, "weak %d to garbage: %d", i, r);
		}
	}
	CHECKF(OBJECTS(fd) == 1, "objects %lld", OBJECTS(fd));
	CHECKF(HANDLES(fd) == 5, "weak handles stay open: %lld", HANDLES(fd));
	for (i = 0; i < 4; i++)
		CHECKF(refcache_handle_close(fd, w[i]) == 0, "close weak %d", i);
	CHECKF(refcache_handle_close(fd, c) == 0, "close c");
	CHECKF(OBJECTS(fd) == 0 && HANDLES(fd) == 0, "empty");
	refcache_close(fd);
	return 0;
}

/* ---- case 4: events ------------------------------------------------------ */

static int t_events_basic(void)
{
	struct refcache_gc_event ev[4];
	int cache, fd = heap_new(&cache, 1, REFCACHE_CACHE_TRACKED, 0), fd2, n;
	char big[3 * EVSZ / 2];

	if (fd < 0)
		return -1;
	fd2 = refcache_open();
	CHECKF(fd2 >= 0, "open 2");
	CHECKF(ev_wait(fd, 0) == 0, "readable before any collection");
	CHECKF(ring(fd, cache, 2, NULL) == 0 && ring(fd, cache, 3, NULL) == 0, "rings");
	CHECKF(gc_collect(fd, 1) == 5, "collect(1)");
	CHECKF(ev_wait(fd, 0) == 1, "not readable after a collection");
	CHECKF(ev_wait(fd2, 0) == 0, "another heap's fd readable");
	n = ev_read(fd, ev, 4);
	CHECKF(n == 1, "records %d", n);
	CHECKF(ev[0].size == EVSZ && ev[0].generation == 1 &&
	       ev[0].reason == REFCACHE_GC_REASON_EXPLICIT && ev[0].dropped == 0 &&
	       ev[0].seq == 1 && ev[0].collected == 5 && ev[0].uncollectable == 0 &&
	       ev[0].candidates >= 5,
	       "record: size %u gen %u reason %u dropped %u seq %llu cand %llu coll %llu unc %llu",
	       ev[0].size, ev[0].generation, ev[0].reason, ev[0].dropped,
	       (unsigned long long)ev[0].seq, (unsigned long long)ev[0].candidates,
	       (unsigned long long)ev[0].collected, (unsigned long long)ev[0].uncollectable);
	CHECKF(ev_wait(fd, 0) == 0, "readable after reading everything");
	/* Several records in one read, in order; a record only whole. */
	CHECKF(gc_collect(fd, 0) == 0 && gc_collect(fd, 2) == 0 && gc_collect(fd, 1) == 0,
	       "three collections");
	n = read(fd, big, sizeof(big));
	CHECKF(n == (int)EVSZ, "read of 1.5 records gave %d bytes", n);
	memcpy(&ev[0], big, EVSZ);
	CHECKF(ev[0].seq == 2 && ev[0].generation == 0, "seq %llu gen %u",
	       (unsigned long long)ev[0].seq, ev[0].generation);
	n = ev_read(fd, ev, 4);
	CHECKF(n == 2, "records %d", n);
	CHECKF(ev[0].seq == 3 && ev[0].generation == 2 && ev[1].seq == 4 && ev[1].generation == 1,
	       "seq %llu/%llu gen %u/%u", (unsigned long long)ev[0].seq,
	       (unsigned long long)ev[1].seq, ev[0].generation, ev[1].generation);
	CHECKF(ev[0].reason == REFCACHE_GC_REASON_EXPLICIT &&
	       ev[1].reason == REFCACHE_GC_REASON_EXPLICIT, "reasons");
	{
		struct refcache_gc_stats st;

		CHECKF(gc_stats(fd, &st) == 0, "stats");
		CHECKF(st.gen[1].collections == 2 && st.gen[0].collections == 1 &&
		       st.gen[2].collections == 1, "collections %llu %llu %llu",
		       (unsigned long long)st.gen[0].collections,
		       (unsigned long long)st.gen[1].collections,
		       (unsigned long long)st.gen[2].collections);
	}
	refcache_close(fd2);
	refcache_close(fd);
	return 0;
}

static int t_events_small_buffer(void)
{
	struct refcache_gc_event ev[2];
	int cache, fd = heap_new(&cache, 1, REFCACHE_CACHE_TRACKED, 0), n;
	char tiny[EVSZ];

	if (fd < 0)
		return -1;
	CHECKF(ring(fd, cache, 2, NULL) == 0 && gc_collect(fd, 0) == 2, "collect");
	n = read(fd, tiny, EVSZ - 1);
	CHECKF(n == -1 && errno == EINVAL, "read of %zu bytes: %d (%s)", EVSZ - 1, n,
	       n < 0 ? strerror(errno) : "");
	n = read(fd, tiny, 1);
	CHECKF(n == -1 && errno == EINVAL, "read of 1 byte: %d", n);
	/* The record is still there. */
	CHECKF(ev_wait(fd, 0) == 1, "record lost");
	n = ev_read(fd, ev, 2);
	CHECKF(n == 1 && ev[0].collected == 2 && ev[0].seq == 1, "records %d", n);
	/* A bad buffer: EFAULT, and nothing lost. */
	CHECKF(gc_collect(fd, 0) == 0, "collect");
	{
		void *none = mmap(NULL, pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		CHECKF(none != MAP_FAILED, "mmap");
		n = read(fd, none, EVSZ);
		munmap(none, pg);
	}
	CHECKF(n == -1 && errno == EFAULT, "read into a bad buffer: %d", n);
	n = ev_read(fd, ev, 2);
	CHECKF(n == 1 && ev[0].seq == 2, "record after EFAULT: %d", n);
	refcache_close(fd);
	return 0;
}

static int t_events_nonblock(void)
{
	struct refcache_gc_event ev;
	int fd = refcache_open(), fl;
	ssize_t n;

	CHECK(fd >= 0, "open");
	fl = fcntl(fd, F_GETFL);
	CHECKF(fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0, "O_NONBLOCK");
	n = read(fd, &ev, sizeof(ev));
	CHECKF(n == -1 && errno == EAGAIN, "empty queue: %zd (%s)", n,
	       n < 0 ? strerror(errno) : "");
	CHECKF(gc_collect(fd, 2) == 0, "collect");
	n = read(fd, &ev, sizeof(ev));
	CHECKF(n == (ssize_t)sizeof(ev) && ev.collected == 0 && ev.generation == 2, "read %zd", n);
	n = read(fd, &ev, sizeof(ev));
	CHECKF(n == -1 && errno == EAGAIN, "empty again: %zd", n);
	refcache_close(fd);
	return 0;
}

struct reader {
	int fd;
	ssize_t n;
	int err;
	struct refcache_gc_event ev;
};

static void *reader_main(void *p)
{
	struct reader *r = p;

	r->n = read(r->fd, &r->ev, sizeof(r->ev));
	r->err = r->n < 0 ? errno : 0;
	return NULL;
}

static int t_events_blocking(void)
{
	struct reader rd = { .n = -2 };
	struct timespec ts;
	pthread_t tid;
	int cache, fd = heap_new(&cache, 1, REFCACHE_CACHE_TRACKED, 0), r;

	if (fd < 0)
		return -1;
	rd.fd = fd;
	CHECKF(pthread_create(&tid, NULL, reader_main, &rd) == 0, "thread");
	usleep(200 * 1000);
	CHECKF(rd.n == -2, "read returned on an empty queue: %zd", rd.n);
	CHECKF(ring(fd, cache, 4, NULL) == 0 && gc_collect(fd, 2) == 4, "collect");
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	r = pthread_timedjoin_np(tid, NULL, &ts);
	if (r) {
		/* Unblock it so that the program can go on. */
		int i;

		for (i = 0; i < 100 && pthread_tryjoin_np(tid, NULL); i++) {
			gc_collect(fd, 0);
			usleep(100 * 1000);
		}
		CHECKF(0, "blocked reader not woken by a collection");
	}
	CHECKF(rd.n == (ssize_t)EVSZ && rd.ev.collected == 4 && rd.ev.seq == 1,
	       "reader got %zd (%s), collected %llu", rd.n, strerror(rd.err),
	       (unsigned long long)rd.ev.collected);
	refcache_close(fd);
	return 0;
}

static int t_events_overflow(void)
{
	struct refcache_gc_event ev[2 * REFCACHE_GC_EVENTS_MAX];
	int cache, fd = heap_new(&cache, 1, REFCACHE_CACHE_TRACKED, 0), i, n;
	const int extra = 10, total = REFCACHE_GC_EVENTS_MAX + extra;

	if (fd < 0)
		return -1;
	for (i = 0; i < total; i++) {
		if (i == total - 1)
			CHECKF(ring(fd, cache, 2, NULL) == 0, "ring");
		CHECKF(gc_collect(fd, i % 3) == (i == total - 1 ? 2 : 0), "collect %d", i);
	}
	n = ev_read(fd, ev, 2 * REFCACHE_GC_EVENTS_MAX);
	CHECKF(n == REFCACHE_GC_EVENTS_MAX, "records %d, want %d", n, REFCACHE_GC_EVENTS_MAX);
	CHECKF(ev[0].dropped == (uint32_t)extra && ev[0].seq == (uint64_t)extra + 1,
	       "oldest left: seq %llu dropped %u", (unsigned long long)ev[0].seq, ev[0].dropped);
	for (i = 1; i < n; i++)
		CHECKF(ev[i].dropped == 0 && ev[i].seq == ev[i - 1].seq + 1 &&
		       ev[i].generation == (uint32_t)((ev[i].seq - 1) % 3),
		       "record %d: seq %llu dropped %u gen %u", i, (unsigned long long)ev[i].seq,
		       ev[i].dropped, ev[i].generation);
	CHECKF(ev[n - 1].seq == (uint64_t)total && ev[n - 1].collected == 2, "newest seq %llu",
	       (unsigned long long)ev[n - 1].seq);
	CHECKF(ev_read(fd, ev, 1) == 0, "queue empty");
	/* After the overflow, counting starts again. */
	CHECKF(gc_collect(fd, 0) == 0 && ev_read(fd, ev, 2) == 1 && ev[0].dropped == 0 &&
	       ev[0].seq == (uint64_t)total + 1, "next record: seq %llu dropped %u",
	       (unsigned long long)ev[0].seq, ev[0].dropped);
	refcache_close(fd);
	return 0;
}

/* ---- case 5: /proc/refcache/gc ------------------------------------------ */

struct procrow {
	unsigned long long v[12];
};

/* Rows of heap @id in /proc/refcache/gc into @rows by generation; count or -1. */
static int proc_gc_rows(unsigned long long id, struct procrow rows[3], int *bad_addr)
{
	char line[512];
	int n = 0, header = 0;
	FILE *f = fopen("/proc/refcache/gc", "r");

	if (!f) {
		printf("# /proc/refcache/gc: %s\n", strerror(errno));
		return -1;
	}
	*bad_addr = 0;
	while (fgets(line, sizeof(line), f)) {
		struct procrow r;
		int k;

		if (strstr(line, "ffff8") || strstr(line, "0xffff"))
			(*bad_addr)++;
		if (line[0] == '#') {
			header++;
			continue;
		}
		k = sscanf(line, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
			   &r.v[0], &r.v[1], &r.v[2], &r.v[3], &r.v[4], &r.v[5], &r.v[6], &r.v[7],
			   &r.v[8], &r.v[9], &r.v[10], &r.v[11]);
		if (k != 12) {
			printf("# malformed line: %s", line);
			fclose(f);
			return -1;
		}
		if (r.v[0] != id)
			continue;
		if (r.v[1] > 2) {
			printf("# generation %llu\n", r.v[1]);
			fclose(f);
			return -1;
		}
		rows[r.v[1]] = r;
		n++;
	}
	fclose(f);
	if (!header)
		printf("# no header line\n");
	return header ? n : -1;
}

static int proc_agrees(int fd, const unsigned long long objs[3])
{
	struct refcache_gc_stats st;
	struct refcache_gc_info gi;
	struct procrow rows[3];
	unsigned long long id = HEAP_ID(fd);
	int g, n, bad;

	CHECK(gc_stats(fd, &st) == 0 && gc_get(fd, &gi) == 0, "stats/get");
	n = proc_gc_rows(id, rows, &bad);
	CHECK(n == 3, "heap %llu: %d rows", id, n);
	CHECK(!bad, "kernel addresses in /proc/refcache/gc");
	for (g = 0; g < 3; g++) {
		unsigned long long *v = rows[g].v;
		const struct refcache_gc_gen_stats *s = &st.gen[g];

		CHECK(v[2] == gi.count[g], "gen %d count %llu vs %llu", g, v[2],
		      (unsigned long long)gi.count[g]);
		CHECK(v[3] == gi.threshold[g], "gen %d threshold %llu vs %u", g, v[3],
		      gi.threshold[g]);
		CHECK(v[4] == objs[g], "gen %d objects %llu, want %llu", g, v[4], objs[g]);
		CHECK(v[5] == s->collections && v[6] == s->collected && v[7] == s->uncollectable &&
		      v[8] == s->pause_total_ns && v[9] == s->pause_max_ns,
		      "gen %d stats %llu %llu %llu %llu %llu vs %llu %llu %llu %llu %llu", g, v[5],
		      v[6], v[7], v[8], v[9], (unsigned long long)s->collections,
		      (unsigned long long)s->collected, (unsigned long long)s->uncollectable,
		      (unsigned long long)s->pause_total_ns, (unsigned long long)s->pause_max_ns);
		CHECK(v[10] == gi.enabled && v[11] == gi.freeze_count,
		      "gen %d enabled %llu frozen %llu vs %u %llu", g, v[10], v[11], gi.enabled,
		      (unsigned long long)gi.freeze_count);
	}
	return 0;
}

static int t_proc(void)
{
	int tc, fd = heap_new(&tc, 1, REFCACHE_CACHE_TRACKED, 0), uc, i, n, bad;
	unsigned long long id, objs[3];
	struct procrow rows[3];

	if (fd < 0)
		return -1;
	id = HEAP_ID(fd);
	uc = refcache_cache_create(fd, "untracked", 0, 1, 0);
	CHECKF(uc > 0 && onew(fd, uc), "untracked");
	objs[0] = objs[1] = objs[2] = 0;
	CHECKF(proc_agrees(fd, objs) == 0, "new heap");
	for (i = 0; i < 5; i++)
		CHECKF(onew(fd, tc), "new");
	CHECKF(gc_freeze(fd, 0) == 5, "freeze");
	for (i = 0; i < 4; i++)
		CHECKF(onew(fd, tc), "new");
	CHECKF(ring(fd, tc, 2, NULL) == 0 && gc_collect(fd, 1) == 2, "collect(1)");
	for (i = 0; i < 2; i++)
		CHECKF(onew(fd, tc), "new");
	CHECKF(gc_collect(fd, 0) == 0, "collect(0)");
	for (i = 0; i < 3; i++)
		CHECKF(onew(fd, tc), "new");
	CHECKF(CNT3(fd, 3, 1, 1), CNTMSG(fd));
	objs[0] = 3;
	objs[1] = 2;
	objs[2] = 4;
	CHECKF(proc_agrees(fd, objs) == 0, "after collections, disabled");
	CHECKF(gc_set(fd, REFCACHE_GC_SET_FLAGS, 1, 5000, 7, 9) == 0, "set");
	CHECKF(proc_agrees(fd, objs) == 0, "enabled, new thresholds");
	refcache_close(fd);
	n = proc_gc_rows(id, rows, &bad);
	CHECK(n == 0, "closed heap still listed: %d rows", n);
	return 0;
}

/* ---- case 6: automatic collection ----------------------------------------- */

/* Wait up to @ms for an AUTO record; returns it in *@ev: 1, 0 on timeout, -1. */
static int wait_auto(int fd, int ms, struct refcache_gc_event *out, int *explicit_seen)
{
	double end = now() + ms / 1000.0;
	struct refcache_gc_event ev[16];

	for (;;) {
		int left = (int)((end - now()) * 1000), r, n, i;

		if (left < 0)
			left = 0;
		r = ev_wait(fd, left);
		if (r < 0)
			return -1;
		if (!r)
			return 0;
		n = ev_read(fd, ev, 16);
		if (n < 0)
			return -1;
		for (i = 0; i < n; i++) {
			if (ev[i].reason == REFCACHE_GC_REASON_AUTO) {
				*out = ev[i];
				return 1;
			}
			if (explicit_seen)
				(*explicit_seen)++;
		}
	}
}

static int t_auto(void)
{
	struct refcache_gc_event ev;
	int cache, fd = heap_new(&cache, 1, REFCACHE_CACHE_TRACKED, 1), i, r;
	uint64_t h;
	double t0;

	if (fd < 0)
		return -1;
	CHECKF(gc_threshold(fd, 100, 10, 10) == 0, "threshold");
	for (i = 0; i < 50; i++)
		CHECKF(ring(fd, cache, 2, NULL) == 0, "ring %d", i);
	CHECKF(COUNT(fd, 0) == 100, "count0 %lld", COUNT(fd, 0));
	CHECKF(ev_wait(fd, small ? 500 : 200) == 0, "a collection at count0 == threshold0");
	CHECKF(OBJECTS(fd) == 100, "objects %lld", OBJECTS(fd));
	/* The 101st allocation crosses it. */
	t0 = now();
	h = onew(fd, cache);
	CHECKF(h, "new");
	r = wait_auto(fd, 10000, &ev, NULL);
	CHECKF(r == 1, "no automatic collection within 10 s (%d)", r);
	printf("# automatic collection %.3f s after crossing the threshold\n", now() - t0);
	CHECKF(ev.generation == 0 && ev.collected == 100 && ev.uncollectable == 0 &&
	       ev.seq == 1 && ev.candidates >= 100,
	       "auto record: gen %u collected %llu seq %llu cand %llu", ev.generation,
	       (unsigned long long)ev.collected, (unsigned long long)ev.seq,
	       (unsigned long long)ev.candidates);
	CHECKF(OBJECTS(fd) == 1, "objects %lld", OBJECTS(fd));
	CHECKF(CNT3(fd, 0, 1, 0), CNTMSG(fd));
	CHECKF(gc_is_tracked(fd, h) == 1 && refcache_handle_close(fd, h) == 0, "h survived");
	refcache_close(fd);
	return 0;
}

/* Garbage made while collections run: every object is freed exactly once. */
static int t_auto_while_allocating(void)
{
	struct refcache_gc_event ev[64];
	struct refcache_gc_stats st;
	int cache, fd = heap_new(&cache, 1, REFCACHE_CACHE_TRACKED, 1), i, n, nauto = 0;
	const int rings = small ? 300 : 1000;
	unsigned long long auto_coll = 0, total = 0;
	long long last;

	if (fd < 0)
		return -1;
	CHECKF(gc_threshold(fd, 100, 10, 10) == 0, "threshold");
	for (i = 0; i < rings; i++) {
		CHECKF(ring(fd, cache, 2 + i % 3, NULL) == 0, "ring %d", i);
		total += 2 + i % 3;
		while ((n = ev_read(fd, ev, 64)) > 0) {
			int k;

			for (k = 0; k < n; k++) {
				CHECKF(ev[k].reason == REFCACHE_GC_REASON_AUTO, "reason %u",
				       ev[k].reason);
				nauto++;
				auto_coll += ev[k].collected;
			}
		}
		CHECKF(n == 0, "read %d", n);
	}
	/* Let the last queued one finish, if any. */
	while (ev_wait(fd, small ? 2000 : 500) == 1) {
		n = ev_read(fd, ev, 64);
		CHECKF(n > 0, "read %d", n);
		for (i = 0; i < n; i++) {
			nauto += ev[i].reason == REFCACHE_GC_REASON_AUTO;
			auto_coll += ev[i].collected;
		}
	}
	last = gc_collect(fd, 2);
	CHECKF(last >= 0, "collect");
	printf("# %d automatic collections freed %llu, the explicit one %lld\n", nauto, auto_coll,
	       last);
	CHECKF(nauto >= 1, "no automatic collection");
	CHECKF(auto_coll + last == total, "freed %llu + %lld of %llu", auto_coll, last, total);
	CHECKF(OBJECTS(fd) == 0, "objects %lld", OBJECTS(fd));
	CHECKF(gc_stats(fd, &st) == 0, "stats");
	CHECKF(st.gen[0].collections + st.gen[1].collections + st.gen[2].collections ==
	       (unsigned long long)nauto + 1, "stats count %llu collections, events %d",
	       (unsigned long long)(st.gen[0].collections + st.gen[1].collections +
				    st.gen[2].collections), nauto + 1);
	refcache_close(fd);
	return 0;
}

static int t_auto_disabled(void)
{
	struct refcache_gc_event ev;
	int cache, fd = heap_new(&cache, 1, REFCACHE_CACHE_TRACKED, 1), i, r;
	double t0;

	if (fd < 0)
		return -1;
	CHECKF(gc_threshold(fd, 100, 10, 10) == 0 && gc_enable(fd, 0) == 0, "disable");
	for (i = 0; i < 150; i++)
		CHECKF(ring(fd, cache, 2, NULL) == 0, "ring %d", i);
	CHECKF(ev_wait(fd, small ? 1000 : 400) == 0, "an automatic collection while disabled");
	CHECKF(COUNT(fd, 0) == 300, "count0 %lld", COUNT(fd, 0));
	CHECKF(OBJECTS(fd) == 300, "objects %lld", OBJECTS(fd));
	/* Enabling does not collect by itself (as gc.enable()); the next allocation does. */
	CHECKF(gc_enable(fd, 1) == 0, "enable");
	CHECKF(ev_wait(fd, 100) == 0, "enable collected");
	t0 = now();
	CHECKF(ring(fd, cache, 1, NULL) == 0, "one more");
	r = wait_auto(fd, 10000, &ev, NULL);
	CHECKF(r == 1, "no automatic collection after enable (%d)", r);
	printf("# automatic collection %.3f s after the allocation\n", now() - t0);
	/*
	 * The collection is queued by the allocation itself, so it may run
	 * before the new ring is closed: then that ring is still held and
	 * survives into generation 1, for the explicit collection below.
	 */
	CHECKF((ev.collected == 300 || ev.collected == 301) && ev.generation == 0,
	       "collected %llu gen %u", (unsigned long long)ev.collected, ev.generation);
	CHECKF(gc_collect(fd, 2) == 301 - (long long)ev.collected, "the rest");
	CHECKF(OBJECTS(fd) == 0, "objects %lld", OBJECTS(fd));
	refcache_close(fd);
	return 0;
}

/* ---- case 6b: collections for memory (issue 16) ------------------------------ */

static int batch_all(int fd, struct refcache_op *ops, size_t n, int cont);

/* gc.freeze() sets every generation's count to 0, as CPython's _PyGC_Freeze(). */
static int t_freeze_count(void)
{
	int tc, fd = heap_new(&tc, 1, REFCACHE_CACHE_TRACKED, 0);
	uint64_t h;

	if (fd < 0)
		return -1;
	CHECKF((h = onew(fd, tc)) && gc_collect(fd, 0) == 0, "collect(0)");
	CHECKF(onew(fd, tc), "one new object");
	CHECKF(CNT3(fd, 1, 1, 0), "before freeze: " CNTMSG(fd));
	CHECKF(gc_freeze(fd, 0) == 2, "freeze");
	CHECKF(CNT3(fd, 0, 0, 0), "after freeze, CPython gives (0, 0, 0): " CNTMSG(fd));
	CHECKF(gc_freeze(fd, 1) == 2 && CNT3(fd, 0, 0, 0), "unfreeze: " CNTMSG(fd));
	refcache_close(fd);
	return 0;
}

/*
 * @n garbage 2-cycles of @cache: the objects are made in one batch, then
 * linked and their handles closed in another.
 */
static int garbage_pairs(int fd, int cache, long n)
{
	long chunk = REFCACHE_BATCH_MAX / 8, i, k, done;
	struct refcache_op *ops = calloc(REFCACHE_BATCH_MAX, sizeof(*ops));

	if (!ops)
		return -1;
	for (done = 0; done < n; done += k) {
		k = n - done < chunk ? n - done : chunk;
		memset(ops, 0, REFCACHE_BATCH_MAX * sizeof(*ops));
		for (i = 0; i < 2 * k; i++) {
			ops[i].op = REFCACHE_OP_NEW;
			ops[i].arg = cache;
		}
		if (batch_all(fd, ops, 2 * k, 0))
			goto fail;
		for (i = 0; i < k; i++) {
			uint64_t a = ops[2 * i].result, b = ops[2 * i + 1].result;
			struct refcache_op *o = &ops[REFCACHE_BATCH_MAX / 2 + 4 * i];

			memset(o, 0, 4 * sizeof(*o));
			o[0].op = REFCACHE_OP_SLOT_STORE;
			o[0].handle = a;
			o[0].value = b;
			o[1].op = REFCACHE_OP_SLOT_STORE;
			o[1].handle = b;
			o[1].value = a;
			o[2].op = REFCACHE_OP_CLOSE;
			o[2].handle = a;
			o[3].op = REFCACHE_OP_CLOSE;
			o[3].handle = b;
		}
		if (batch_all(fd, ops + REFCACHE_BATCH_MAX / 2, 4 * k, 0))
			goto fail;
	}
	free(ops);
	return 0;
fail:
	free(ops);
	return -1;
}

/* Events of @reason among what is queued on @fd; the last one in *@last. */
static int ev_count_reason(int fd, uint32_t reason, struct refcache_gc_event *last)
{
	struct refcache_gc_event ev[16];
	int n, i, found = 0;

	while ((n = ev_read(fd, ev, 16)) > 0)
		for (i = 0; i < n; i++)
			if (ev[i].reason == reason) {
				found++;
				if (last)
					*last = ev[i];
			}
	return n < 0 ? n : found;
}

/* The pressure and quota columns of heap @id's generation 2 line; -1 if none. */
static int proc_mem_cols(unsigned long long id, unsigned long long *pressure,
			 unsigned long long *quota)
{
	unsigned long long v[14];
	char line[512];
	int ret = -1;
	FILE *f = fopen("/proc/refcache/gc", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#')
			continue;
		if (sscanf(line, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
			   &v[10], &v[11], &v[12], &v[13]) != 14)
			break;
		if (v[0] == id && v[1] == 2) {
			*pressure = v[12];
			*quota = v[13];
			ret = 0;
		}
	}
	fclose(f);
	return ret;
}

static int drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, "2", 1) != 1)
		r = -errno;
	close(fd);
	return r;
}

/*
 * Memory pressure: a heap whose thresholds never fire holds 100,000
 * garbage 2-cycles; echo 2 > /proc/sys/vm/drop_caches runs every
 * shrinker, and refcache's collects them (one event, reason PRESSURE,
 * and /proc/refcache/gc counts it).  A second drop_caches finds nothing
 * changed and does not collect again; a heap with collection disabled
 * keeps its garbage.
 */
static int t_pressure(void)
{
	long pairs = small ? 10000 : 100000;
	int tc, fd = heap_new(&tc, 1, REFCACHE_CACHE_TRACKED, 1), tc2, fd2;
	struct refcache_gc_event ev = { 0 };
	unsigned long long pr = 0, qu = 0;
	struct refcache_gc_stats st;
	double t0;
	int r;

	if (fd < 0)
		return -1;
	if (access("/proc/sys/vm/drop_caches", W_OK)) {
		refcache_close(fd);
		printf("# SKIP: /proc/sys/vm/drop_caches not writable\n");
		return 0;
	}
	fd2 = heap_new(&tc2, 1, REFCACHE_CACHE_TRACKED, 0);	/* collection disabled */
	CHECKF(fd2 >= 0, "second heap");
	CHECKF(gc_threshold(fd, 1000000000, 1000, 1000) == 0 &&
	       gc_threshold(fd2, 1000000000, 1000, 1000) == 0, "high thresholds");
	CHECKF(garbage_pairs(fd, tc, pairs) == 0, "%ld garbage pairs", pairs);
	CHECKF(garbage_pairs(fd2, tc2, 1000) == 0, "garbage in the disabled heap");
	CHECKF(OBJECTS(fd) == 2 * pairs, "objects %lld", OBJECTS(fd));
	CHECKF(ev_count_reason(fd, REFCACHE_GC_REASON_AUTO, NULL) == 0, "an automatic collection");
	t0 = now();
	r = drop_caches();
	CHECKF(r == 0, "drop_caches: %s", strerror(-r));
	printf("# drop_caches with %ld garbage pairs: %.3f s\n", pairs, now() - t0);
	CHECKF(OBJECTS(fd) == 0, "objects after drop_caches: %lld", OBJECTS(fd));
	r = ev_count_reason(fd, REFCACHE_GC_REASON_PRESSURE, &ev);
	CHECKF(r == 1, "%d pressure events", r);
	CHECKF(ev.generation == 2 && ev.collected == (uint64_t)(2 * pairs) &&
	       ev.uncollectable == 0 && ev.candidates == (uint64_t)(2 * pairs),
	       "event: gen %u candidates %llu collected %llu", ev.generation,
	       (unsigned long long)ev.candidates, (unsigned long long)ev.collected);
	CHECKF(gc_stats(fd, &st) == 0 && st.gen[2].collections == 1 &&
	       st.gen[2].collected == (uint64_t)(2 * pairs), "stats: %llu collections %llu collected",
	       (unsigned long long)st.gen[2].collections, (unsigned long long)st.gen[2].collected);
	CHECKF(proc_mem_cols(HEAP_ID(fd), &pr, &qu) == 0 && pr == 1 && qu == 0,
	       "/proc/refcache/gc pressure %llu quota %llu", pr, qu);
	/* Nothing changed: the next reclaim leaves the heap alone. */
	CHECKF(drop_caches() == 0, "drop_caches again");
	CHECKF(ev_count_reason(fd, REFCACHE_GC_REASON_PRESSURE, NULL) == 0,
	       "collected again with nothing changed");
	/* gc.disable() is respected. */
	CHECKF(OBJECTS(fd2) == 2000, "disabled heap collected: objects %lld", OBJECTS(fd2));
	CHECKF(ev_count_reason(fd2, REFCACHE_GC_REASON_PRESSURE, NULL) == 0, "event, disabled");
	/* New garbage: the next reclaim collects it. */
	CHECKF(garbage_pairs(fd, tc, 10) == 0 && drop_caches() == 0, "more garbage");
	CHECKF(OBJECTS(fd) == 0, "objects %lld", OBJECTS(fd));
	CHECKF(ev_count_reason(fd, REFCACHE_GC_REASON_PRESSURE, &ev) == 1 && ev.collected == 20,
	       "second pressure collection: %llu", (unsigned long long)ev.collected);
	refcache_close(fd2);
	refcache_close(fd);
	return 0;
}

/*
 * A heap of budget max_bytes: how many objects of its cache it can hold
 * before an allocation fails, and with what.
 */
static long quota_fill(int fd, int cache, int *err)
{
	long n = 0;
	uint64_t h;
	int r;

	for (;;) {
		r = refcache_new(fd, cache, &h);
		if (r) {
			*err = r;
			return n;
		}
		n++;
	}
}

/*
 * A heap with collection on or off, high thresholds and a budget of
 * about two arenas, and a cache of 448-byte objects: the objects, not
 * the handle table, reach the budget first.
 */
static int quota_heap(int *cache, int autogc)
{
	struct refcache_heap_info hi;
	int unused, fd = heap_new(&unused, 1, REFCACHE_CACHE_TRACKED, autogc);

	if (fd < 0)
		return -1;
	*cache = refcache_cache_create(fd, "quota", 400, 1, REFCACHE_CACHE_TRACKED);
	if (*cache <= 0 || gc_threshold(fd, 1000000000, 1000, 1000) ||
	    refcache_heap_info(fd, &hi) ||
	    refcache_set_limits(fd, 0, hi.bytes + 600 * 1024)) {
		printf("# quota heap setup failed\n");
		refcache_close(fd);
		return -1;
	}
	return fd;
}

/*
 * Before a quota error: a heap with a small max_bytes and thresholds too
 * high to fire makes and drops 2-cycles until it made 10x what it can
 * hold, and never gets EDQUOT; each time it would have, one collection
 * of reason QUOTA ran.  Without garbage EDQUOT comes at the same count
 * as in a heap whose collection is off (as before collections for
 * quota existed).
 */
static int t_quota(void)
{
	int tc, fd, err_on = 0, err_off = 0;
	long cap_on, cap_off, made = 0;
	struct refcache_gc_event ev = { 0 };
	unsigned long long pr = 0, qu = 0;
	cpu_set_t one, all;
	int pinned;
	int nq;

	/*
	 * Without garbage: the same count, with collection on or off.  On
	 * one CPU: blocks left on another CPU's stack by a migration hold
	 * arena space, and the count would vary by one or two.
	 */
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one);
	pinned = sched_getaffinity(0, sizeof(all), &all) == 0 &&
		 sched_setaffinity(0, sizeof(one), &one) == 0;
	fd = quota_heap(&tc, 0);
	if (fd < 0)
		return -1;
	cap_off = quota_fill(fd, tc, &err_off);
	refcache_close(fd);
	fd = quota_heap(&tc, 1);
	if (fd < 0)
		return -1;
	cap_on = quota_fill(fd, tc, &err_on);
	if (pinned)
		sched_setaffinity(0, sizeof(all), &all);
	printf("# budget holds %ld objects (collection off: %ld, %s)%s\n", cap_on, cap_off,
	       strerror(-err_off), pinned ? "" : " (not pinned to one CPU)");
	CHECKF(err_off == -EDQUOT && err_on == -EDQUOT, "errors %d %d", err_off, err_on);
	CHECKF(cap_on == cap_off && cap_on > 100, "EDQUOT at %ld objects, %ld with collection off",
	       cap_on, cap_off);
	nq = ev_count_reason(fd, REFCACHE_GC_REASON_QUOTA, &ev);
	CHECKF(nq == 1 && ev.collected == 0 && ev.generation == 2,
	       "%d quota events, collected %llu", nq, (unsigned long long)ev.collected);
	/* Nothing changed: a second failure does not collect again. */
	CHECKF(quota_fill(fd, tc, &err_on) == 0 && err_on == -EDQUOT, "still EDQUOT");
	CHECKF(ev_count_reason(fd, REFCACHE_GC_REASON_QUOTA, NULL) == 0, "collected again");
	refcache_close(fd);

	/* With garbage: ten budgets' worth of 2-cycles, no EDQUOT. */
	fd = quota_heap(&tc, 1);
	if (fd < 0)
		return -1;
	while (made < 10 * cap_on) {
		CHECKF(ring(fd, tc, 2, NULL) == 0, "ring after %ld objects: EDQUOT or other", made);
		made += 2;
	}
	nq = ev_count_reason(fd, REFCACHE_GC_REASON_QUOTA, NULL);
	CHECKF(nq >= 9, "%d quota collections for %ld objects made", nq, made);
	CHECKF(ev_count_reason(fd, REFCACHE_GC_REASON_AUTO, NULL) == 0, "an automatic collection");
	CHECKF(proc_mem_cols(HEAP_ID(fd), &pr, &qu) == 0 && qu == (unsigned long long)nq && !pr,
	       "/proc/refcache/gc pressure %llu quota %llu, %d events", pr, qu, nq);
	printf("# %ld objects made in a budget of %ld, %d quota collections\n", made, cap_on, nq);
	refcache_close(fd);

	/* gc.disable(): EDQUOT as before. */
	fd = quota_heap(&tc, 0);
	if (fd < 0)
		return -1;
	for (made = 0; made < 10 * cap_on; made += 2)
		if (ring(fd, tc, 2, NULL))
			break;
	CHECKF(made < 10 * cap_on, "disabled heap never failed");
	CHECKF(ev_count_reason(fd, REFCACHE_GC_REASON_QUOTA, NULL) == 0, "collected while disabled");
	refcache_close(fd);
	return 0;
}

/* ---- case 7: the oracle ------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: any seed, including 0, is fine */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rng_below(uint64_t *s, uint32_t n)
{
	return n ? (uint32_t)(rng_next(s) % n) : 0;
}

/* Run @n ops in batches; every one must succeed unless @cont. */
static int batch_all(int fd, struct refcache_op *ops, size_t n, int cont)
{
	size_t i;

	for (i = 0; i < n; i += REFCACHE_BATCH_MAX) {
		uint32_t cnt = n - i > REFCACHE_BATCH_MAX ? REFCACHE_BATCH_MAX : (uint32_t)(n - i);
		int r = refcache_batch(fd, ops + i, cnt, cont ? REFCACHE_BATCH_CONTINUE : 0);

		if (r != (int)cnt || (!cont && ops[i + cnt - 1].error)) {
			printf("# batch at %zu: %d of %u ran", i, r, cnt);
			if (r > 0)
				printf(", the last (op %u) gave %d", ops[i + r - 1].op,
				       ops[i + r - 1].error);
			printf("\n");
			return -1;
		}
	}
	return 0;
}

#define ONS	4	/* slots per object */

struct oracle {
	int n;
	int *slot;		/* n * ONS targets, -1 empty */
	int *held;		/* strong handles kept per object */
	int *gen;		/* 1: promoted before the graph was wired */
	char *dead, *reach, *young_live;
	int *rc, *stack;
	uint64_t *h, *dup;	/* NEW's handle, a second strong handle */
	int nweak;
	uint64_t *weak;
	int *wobj;
	int *idx;		/* scratch: the object of each op */
	struct refcache_op *ops;
	int tracked;		/* the cache is; else nothing is ever garbage */
	int fd, nthr, turn;	/* nthr workers in T take turns, from T.w[turn % nthr] */
};

static struct turns T;

static void oracle_free(struct oracle *o)
{
	free(o->slot); free(o->held); free(o->gen); free(o->dead); free(o->reach);
	free(o->young_live); free(o->rc); free(o->stack); free(o->h); free(o->dup);
	free(o->weak); free(o->wobj); free(o->idx); free(o->ops);
}

/*
 * Release by refcount: every live object whose count (handles plus slots
 * of live objects) is 0 dies, and what it referred to loses a reference.
 * Returns the live objects left.
 */
static int model_release(struct oracle *o)
{
	int i, s, sp = 0, live = 0;

	for (i = 0; i < o->n; i++)
		o->rc[i] = o->held[i];
	for (i = 0; i < o->n; i++)
		if (!o->dead[i])
			for (s = 0; s < ONS; s++)
				if (o->slot[i * ONS + s] >= 0)
					o->rc[o->slot[i * ONS + s]]++;
	for (i = 0; i < o->n; i++)
		if (!o->dead[i] && !o->rc[i])
			o->stack[sp++] = i;
	while (sp) {
		int x = o->stack[--sp];

		o->dead[x] = 1;
		for (s = 0; s < ONS; s++) {
			int t = o->slot[x * ONS + s];

			if (t >= 0 && !--o->rc[t])
				o->stack[sp++] = t;
		}
	}
	for (i = 0; i < o->n; i++)
		live += !o->dead[i];
	return live;
}

/*
 * What collect(@gen) finds: live objects of generations 0..@gen that no
 * root reaches; roots are objects of the set with a handle or with a
 * reference from a live object outside the set.  Marks o->reach.
 */
static int model_unreachable(struct oracle *o, int gen)
{
	int i, s, sp = 0, garbage = 0;

	if (!o->tracked) {
		memset(o->reach, 1, o->n);
		return 0;
	}
	memset(o->reach, 0, o->n);
	for (i = 0; i < o->n; i++) {
		if (o->dead[i])
			continue;
		if (o->gen[i] > gen) {
			for (s = 0; s < ONS; s++) {
				int t = o->slot[i * ONS + s];

				if (t >= 0 && o->gen[t] <= gen && !o->reach[t]) {
					o->reach[t] = 1;
					o->stack[sp++] = t;
				}
			}
		} else if (o->held[i] && !o->reach[i]) {
			o->reach[i] = 1;
			o->stack[sp++] = i;
		}
	}
	while (sp) {
		int x = o->stack[--sp];

		for (s = 0; s < ONS; s++) {
			int t = o->slot[x * ONS + s];

			if (t >= 0 && o->gen[t] <= gen && !o->reach[t]) {
				o->reach[t] = 1;
				o->stack[sp++] = t;
			}
		}
	}
	for (i = 0; i < o->n; i++)
		if (!o->dead[i] && o->gen[i] <= gen && !o->reach[i])
			garbage++;
	return garbage;
}

/* The collection found what model_unreachable() said: free it, promote the rest. */
static void model_collect(struct oracle *o, int gen)
{
	int i;

	for (i = 0; i < o->n; i++)
		if (!o->dead[i] && o->gen[i] <= gen && !o->reach[i])
			o->dead[i] = 1;
	/* Objects only garbage referred to now go by refcount. */
	model_release(o);
	for (i = 0; i < o->n; i++)
		if (!o->dead[i] && o->gen[i] <= gen && gen < 2)
			o->gen[i] = gen + 1;
}

struct chunk {
	int fd, cont;
	struct refcache_op *ops;
	size_t n;
};

static int chunk_fn(void *p)
{
	struct chunk *c = p;

	return batch_all(c->fd, c->ops, c->n, c->cont);
}

/*
 * batch_all() for the oracle: with workers, in about two chunks per
 * worker, each run by the next worker in turn.
 */
static int obatch(struct oracle *o, size_t n, int cont)
{
	struct chunk c = { o->fd, cont, o->ops, 0 };
	size_t per, i;

	if (!o->nthr)
		return batch_all(o->fd, o->ops, n, cont);
	per = n / (2 * o->nthr) + 1;
	for (i = 0; i < n; i += per) {
		c.ops = o->ops + i;
		c.n = n - i < per ? n - i : per;
		if (turns_run(&T, o->turn++ % o->nthr, chunk_fn, &c))
			return -1;
	}
	return 0;
}

struct collect_arg {
	int fd;
	uint32_t gen;
	int r;
	struct refcache_gc_collect c;
};

static int collect_fn(void *p)
{
	struct collect_arg *a = p;

	a->r = gc_collect_r(a->fd, a->gen, &a->c);
	return 0;
}

/* collect(@gen) by the next worker in turn (or the caller): 0 or -errno. */
static int ocollect(struct oracle *o, uint32_t gen, struct refcache_gc_collect *c)
{
	struct collect_arg a = { o->fd, gen, 0, { 0 } };

	if (!o->nthr)
		return gc_collect_r(o->fd, gen, c);
	turns_run(&T, o->turn++ % o->nthr, collect_fn, &a);
	*c = a.c;
	return a.r;
}

/*
 * The refcount of every object a handle holds, against the model's
 * (model_release() or model_collect() just ran, so o->rc is the count of
 * every live object).  0, or the number of objects that disagree.
 */
static int ocounts(struct oracle *o, const char *when)
{
	int i, n = 0, bad = 0;

	for (i = 0; i < o->n; i++) {
		if (o->dead[i] || !o->held[i])
			continue;
		memset(&o->ops[n], 0, sizeof(o->ops[0]));
		o->ops[n].op = REFCACHE_OP_REFCOUNT;
		o->ops[n].handle = o->h[i] ? o->h[i] : o->dup[i];
		o->idx[n++] = i;
	}
	if (obatch(o, n, 0))
		return -1;
	for (i = 0; i < n; i++)
		if (o->ops[i].result != (uint64_t)o->rc[o->idx[i]] && bad++ < 5)
			printf("# %s: object %d has refcount %llu, model %d\n", when, o->idx[i],
			       (unsigned long long)o->ops[i].result, o->rc[o->idx[i]]);
	return bad;
}

/* Workers @lo..@hi-1 exit, their objects still held; fresh threads replace them. */
static int oexit(struct oracle *o, int lo, int hi)
{
	int i;

	for (i = lo; i < hi && i < o->nthr; i++)
		if (turns_exit(&T, i, 1)) {
			printf("# worker %d did not exit or restart\n", i);
			return -1;
		}
	return 0;
}

/*
 * @flags: the cache's; @nthr: worker threads that run the batches and
 * collections in turn, 0 for the caller alone; @shrink divides the size.
 */
static int oracle_run(int round, uint32_t flags, int nthr, int shrink)
{
	static const struct { double edge, local, hold, dup, weak; } prm[] = {
		{ 0.30, 0.6, 0.010, 0.3, 0.10 },
		{ 0.55, 0.3, 0.002, 0.5, 0.20 },
		{ 0.20, 0.8, 0.050, 0.2, 0.05 },
	};
	const int sizes[3] = { 100000, 40000, 10000 }, small_sizes[3] = { 20000, 8000, 3000 };
	uint64_t seed = base_seed + round, rs = seed;
	struct oracle O, *o = &O;
	double t0 = now(), t_build, t_coll0, t_coll2;
	int cache, fd, i, s, k, nops, live, g0, g2, nheld = 0, nhandles = 0, ok = 0, bad = 0;
	long long got, obj;
	struct refcache_gc_collect c;

	memset(o, 0, sizeof(*o));
	o->n = (small ? small_sizes[round % 3] : sizes[round % 3]) / shrink;
	o->slot = malloc(sizeof(int) * o->n * ONS);
	o->held = calloc(o->n, sizeof(int));
	o->gen = calloc(o->n, sizeof(int));
	o->dead = calloc(o->n, 1);
	o->reach = calloc(o->n, 1);
	o->young_live = calloc(o->n, 1);
	o->rc = calloc(o->n, sizeof(int));
	o->stack = malloc(sizeof(int) * (o->n * (ONS + 1) + 1));
	o->h = calloc(o->n, sizeof(uint64_t));
	o->dup = calloc(o->n, sizeof(uint64_t));
	o->weak = calloc(o->n, sizeof(uint64_t));
	o->wobj = calloc(o->n, sizeof(int));
	o->idx = calloc(o->n, sizeof(int));
	o->ops = calloc((size_t)o->n * ONS + 1, sizeof(struct refcache_op));
	if (!o->slot || !o->held || !o->gen || !o->dead || !o->reach || !o->young_live ||
	    !o->rc || !o->stack || !o->h || !o->dup || !o->weak || !o->wobj || !o->idx ||
	    !o->ops) {
		oracle_free(o);
		CHECK(0, "out of memory");
	}
	o->tracked = !!(flags & REFCACHE_CACHE_TRACKED);
	printf("# seed=%llu gc_oracle round %d: %d objects, edge %.2f local %.2f hold %.3f, "
	       "cache flags %#x, %d threads\n", (unsigned long long)seed, round, o->n,
	       prm[round % 3].edge, prm[round % 3].local, prm[round % 3].hold, flags, nthr);
	fd = heap_new(&cache, ONS, flags, 0);
	if (fd < 0) {
		oracle_free(o);
		return -1;
	}
	o->fd = fd;
	if (nthr && turns_start(&T, nthr)) {
		printf("# cannot start %d threads\n", nthr);
		oracle_free(o);
		refcache_close(fd);
		return -1;
	}
	o->nthr = nthr;
#define OCHECK(cond, ...) do {						\
	if (!(cond)) {							\
		printf("# %s:%d: check failed: %s: ", __func__, __LINE__, #cond); \
		printf(__VA_ARGS__);					\
		printf("\n");						\
		if (o->nthr)						\
			turns_stop(&T);					\
		oracle_free(o);						\
		refcache_close(fd);					\
		return -1;						\
	}								\
} while (0)

	/* The first half, promoted to generation 1 while every object is held. */
	for (k = 0; k < 2; k++) {
		int lo = k ? o->n / 2 : 0, hi = k ? o->n : o->n / 2;

		for (i = lo; i < hi; i++) {
			memset(&o->ops[i - lo], 0, sizeof(o->ops[0]));
			o->ops[i - lo].op = REFCACHE_OP_NEW;
			o->ops[i - lo].arg = cache;
		}
		OCHECK(obatch(o, hi - lo, 0) == 0, "new");
		for (i = lo; i < hi; i++) {
			o->h[i] = o->ops[i - lo].result;
			o->held[i] = 1;
		}
		if (!k) {
			OCHECK(ocollect(o, 0, &c) == 0, "collect(0)");
			got = c.unreachable;
			OCHECK(got == 0, "collect(0) of held objects: %lld", got);
			for (i = lo; i < hi; i++)
				o->gen[i] = 1;
		}
	}
	/* Edges. */
	nops = 0;
	for (i = 0; i < o->n; i++)
		for (s = 0; s < ONS; s++) {
			int t = -1;

			if (rng_next(&rs) % 1000 < prm[round % 3].edge * 1000) {
				if (rng_next(&rs) % 1000 < prm[round % 3].local * 1000)
					t = (i + o->n + (int)rng_below(&rs, 9) - 3) % o->n;
				else
					t = rng_below(&rs, o->n);
			}
			o->slot[i * ONS + s] = t;
			if (t < 0)
				continue;
			memset(&o->ops[nops], 0, sizeof(o->ops[0]));
			o->ops[nops].op = REFCACHE_OP_SLOT_STORE;
			o->ops[nops].handle = o->h[i];
			o->ops[nops].arg = s;
			o->ops[nops].value = o->h[t];
			nops++;
		}
	OCHECK(obatch(o, nops, 0) == 0, "stores");
	/* Weak handles. */
	nops = 0;
	for (i = 0; i < o->n; i++)
		if (rng_next(&rs) % 1000 < prm[round % 3].weak * 1000) {
			memset(&o->ops[nops], 0, sizeof(o->ops[0]));
			o->ops[nops].op = REFCACHE_OP_WEAK_NEW;
			o->ops[nops].handle = o->h[i];
			o->wobj[nops] = i;
			nops++;
		}
	OCHECK(obatch(o, nops, 0) == 0, "weak");
	o->nweak = nops;
	for (i = 0; i < nops; i++)
		o->weak[i] = o->ops[i].result;
	/* Which strong handles stay: some get a dup, some keep only the dup. */
	nops = 0;
	for (i = 0; i < o->n; i++) {
		o->held[i] = rng_next(&rs) % 100000 < prm[round % 3].hold * 100000;
		if (o->held[i] && rng_next(&rs) % 100 < prm[round % 3].dup * 100) {
			memset(&o->ops[nops], 0, sizeof(o->ops[0]));
			o->ops[nops].op = REFCACHE_OP_DUP;
			o->ops[nops].handle = o->h[i];
			o->rc[nops] = i;
			nops++;
		}
	}
	OCHECK(obatch(o, nops, 0) == 0, "dup");
	for (i = 0; i < nops; i++) {
		int x = o->rc[i];

		o->dup[x] = o->ops[i].result;
		o->held[x] = 2;
	}
	/* Close in a random order: the held ones with a dup lose their original half the time. */
	nops = 0;
	for (i = 0; i < o->n; i++) {
		int drop = !o->held[i] || (o->held[i] == 2 && (rng_next(&rs) & 1));

		if (!drop)
			continue;
		memset(&o->ops[nops], 0, sizeof(o->ops[0]));
		o->ops[nops].op = REFCACHE_OP_CLOSE;
		o->ops[nops].handle = o->h[i];
		o->h[i] = 0;
		if (o->held[i])
			o->held[i]--;
		nops++;
	}
	for (i = nops - 1; i > 0; i--) {
		int j = rng_below(&rs, i + 1);
		struct refcache_op tmp = o->ops[i];

		o->ops[i] = o->ops[j];
		o->ops[j] = tmp;
	}
	OCHECK(obatch(o, nops, 0) == 0, "close");
	for (i = 0; i < o->n; i++) {
		nheld += o->held[i] > 0;
		nhandles += o->held[i];
	}
	t_build = now() - t0;

	/* Objects on no cycle and reachable from no handle went by refcount. */
	live = model_release(o);
	obj = OBJECTS(fd);
	OCHECK(obj == live, "after closing: objects %lld, model %d", obj, live);
	OCHECK(HANDLES(fd) == nhandles + o->nweak, "handles %lld, model %d", HANDLES(fd),
	       nhandles + o->nweak);
	OCHECK(ocounts(o, "after closing") == 0, "refcounts after closing");
	/* Half the owners exit while their objects are held; nothing may change. */
	OCHECK(oexit(o, 0, nthr / 2) == 0, "owner exit");
	obj = OBJECTS(fd);
	OCHECK(obj == live, "after owners exited: objects %lld, model %d", obj, live);
	OCHECK(ocounts(o, "after owners exited") == 0, "refcounts after owners exited");

	/* A young collection: roots include references from generation 1. */
	g0 = model_unreachable(o, 0);
	t0 = now();
	OCHECK(ocollect(o, 0, &c) == 0, "collect(0)");
	t_coll0 = now() - t0;
	OCHECK(c.unreachable == (uint64_t)g0 && c.collected == (uint64_t)g0,
	       "collect(0): %llu unreachable, model %d", (unsigned long long)c.unreachable, g0);
	model_collect(o, 0);
	live = 0;
	for (i = 0; i < o->n; i++)
		live += !o->dead[i];
	obj = OBJECTS(fd);
	OCHECK(obj == live, "after collect(0): objects %lld, model %d", obj, live);

	/* The full collection: everything no handle reaches. */
	g2 = model_unreachable(o, 2);
	t0 = now();
	OCHECK(ocollect(o, 2, &c) == 0, "collect(2)");
	t_coll2 = now() - t0;
	OCHECK(c.unreachable == (uint64_t)g2 && c.collected == (uint64_t)g2 && !c.uncollectable,
	       "collect(2): %llu unreachable %llu collected, model %d",
	       (unsigned long long)c.unreachable, (unsigned long long)c.collected, g2);
	model_collect(o, 2);
	live = 0;
	for (i = 0; i < o->n; i++)
		live += !o->dead[i];
	obj = OBJECTS(fd);
	OCHECK(obj == live, "after collect(2): objects %lld, reachable %d", obj, live);
	OCHECK(ocounts(o, "after collect(2)") == 0, "refcounts after collect(2)");

	/* Every weak handle: upgrades iff its object is reachable. */
	for (i = 0; i < o->nweak; i++) {
		memset(&o->ops[i], 0, sizeof(o->ops[0]));
		o->ops[i].op = REFCACHE_OP_WEAK_UPGRADE;
		o->ops[i].handle = o->weak[i];
	}
	OCHECK(obatch(o, o->nweak, 1) == 0, "upgrades");
	nops = 0;
	for (i = 0; i < o->nweak; i++) {
		int want_live = !o->dead[o->wobj[i]];
		int err = o->ops[i].error;

		if (want_live ? err != 0 : err != -ENOENT) {
			if (bad++ < 5)
				printf("# weak %d to object %d (%s): error %d\n", i, o->wobj[i],
				       want_live ? "reachable" : "unreachable", err);
		} else {
			ok++;
		}
		if (!err) {
			o->rc[nops++] = i;
		}
	}
	for (i = 0; i < nops; i++) {
		uint64_t r = o->ops[o->rc[i]].result;

		memset(&o->ops[i], 0, sizeof(o->ops[0]));
		o->ops[i].op = REFCACHE_OP_CLOSE;
		o->ops[i].handle = r;
	}
	OCHECK(obatch(o, nops, 0) == 0, "close upgrades");
	OCHECK(!bad, "%d of %d weak handles wrong", bad, o->nweak);
	/* Every owner is gone now (the first half exited before, new threads made nothing). */
	OCHECK(oexit(o, nthr / 2, nthr) == 0, "owner exit");
	live = model_release(o);	/* the upgrades used o->rc */
	OCHECK(OBJECTS(fd) == live, "after every owner exited: objects %lld, model %d",
	       OBJECTS(fd), live);
	OCHECK(ocounts(o, "after every owner exited") == 0, "refcounts after owners exited");

	/* Close the rest: what is left on cycles is all garbage. */
	nops = 0;
	for (i = 0; i < o->n; i++) {
		uint64_t hs[2] = { o->h[i], o->dup[i] };

		for (k = 0; k < 2; k++)
			if (hs[k] && o->held[i]) {
				memset(&o->ops[nops], 0, sizeof(o->ops[0]));
				o->ops[nops].op = REFCACHE_OP_CLOSE;
				o->ops[nops].handle = hs[k];
				nops++;
			}
		o->held[i] = 0;
	}
	for (i = 0; i < o->nweak; i++) {
		memset(&o->ops[nops], 0, sizeof(o->ops[0]));
		o->ops[nops].op = REFCACHE_OP_CLOSE;
		o->ops[nops].handle = o->weak[i];
		nops++;
	}
	OCHECK(obatch(o, nops, 0) == 0, "close all");
	OCHECK(HANDLES(fd) == 0, "handles %lld", HANDLES(fd));
	live = model_release(o);
	obj = OBJECTS(fd);
	OCHECK(obj == live, "after closing everything: objects %lld, model %d", obj, live);
	OCHECK(ocollect(o, 2, &c) == 0, "last collect(2)");
	got = c.unreachable;
	OCHECK(got == (o->tracked ? live : 0), "last collect(2): %lld, model %d", got,
	       o->tracked ? live : 0);
	/* Untracked cycles stay until the heap is closed. */
	OCHECK(OBJECTS(fd) == (o->tracked ? 0 : live), "objects left: %lld", OBJECTS(fd));
	printf("# gc_oracle round %d: %d objects, %d held, %d weak; garbage %d young + %d full, "
	       "%d on cycles at the end; build %.2f s, collect(0) %.3f s, collect(2) %.3f s\n",
	       round, o->n, nheld, o->nweak, g0, g2, live, t_build, t_coll0, t_coll2);
#undef OCHECK
	if (o->nthr)
		turns_stop(&T);
	oracle_free(o);
	refcache_close(fd);
	return 0;
}

static int t_oracle_0(void) { return oracle_run(0, REFCACHE_CACHE_TRACKED, 0, 1); }
static int t_oracle_1(void) { return oracle_run(1, REFCACHE_CACHE_TRACKED, 0, 1); }
static int t_oracle_2(void) { return oracle_run(2, REFCACHE_CACHE_TRACKED, 0, 1); }

/* The same from four threads in turn, smaller: atomic, then biased. */
static int t_oracle_threads(void) { return oracle_run(2, REFCACHE_CACHE_TRACKED, 4, 2); }

#define SKIP_UNBIASED() do {						\
	if (!have_biased) {						\
		printf("# no REFCACHE_FEATURE_BIASED: skipped\n");	\
		return 0;						\
	}								\
} while (0)

static int t_oracle_biased_0(void)
{
	SKIP_UNBIASED();
	return oracle_run(0, REFCACHE_CACHE_TRACKED | REFCACHE_CACHE_BIASED, 4, 4);
}

static int t_oracle_biased_1(void)
{
	SKIP_UNBIASED();
	return oracle_run(1, REFCACHE_CACHE_BIASED, 4, 2);
}

static int t_oracle_biased_2(void)
{
	SKIP_UNBIASED();
	return oracle_run(2, REFCACHE_CACHE_TRACKED | REFCACHE_CACHE_BIASED, 4, 1);
}

/* ---- case 8: eight mutators and a collector ----------------------------------- */

#define CT_THREADS	8
#define CT_STRONG	24
#define CT_WEAK		8
#define CT_PUB		32

struct cshared {
	int fd, tc, leaf;
	pthread_mutex_t lock;
	uint64_t pub[CT_PUB];	/* strong handles anyone may dup, under @lock */
	char pub_tracked[CT_PUB];
	volatile int stop;
	volatile int failed;
};

struct cworker {
	struct cshared *sh;
	pthread_t tid;
	uint64_t rs;
	long steps, ops, enoent;
	char why[200];
	uint64_t s[CT_STRONG];
	char tr[CT_STRONG];	/* tracked (3 slots) or a leaf (no slots) */
	int ns;
	uint64_t w[CT_WEAK];
	int nw;
};

#define CW_FAIL(...) do {						\
	snprintf(w->why, sizeof(w->why), __VA_ARGS__);			\
	w->sh->failed = 1;						\
	return -1;							\
} while (0)

static int cw_drop(struct cworker *w, int i)
{
	int r = refcache_handle_close(w->sh->fd, w->s[i]);

	if (r)
		CW_FAIL("close %#llx: %d", (unsigned long long)w->s[i], r);
	w->s[i] = w->s[--w->ns];
	w->tr[i] = w->tr[w->ns];
	return 0;
}

static int cw_add(struct cworker *w, uint64_t h, int tracked)
{
	if (w->ns == CT_STRONG && cw_drop(w, rng_below(&w->rs, CT_STRONG)))
		return -1;
	w->s[w->ns] = h;
	w->tr[w->ns++] = tracked;
	return 0;
}

/* A random own handle of a tracked object, or -1. */
static int cw_pick_tracked(struct cworker *w)
{
	int i, start = rng_below(&w->rs, w->ns ? w->ns : 1);

	for (i = 0; i < w->ns; i++)
		if (w->tr[(start + i) % w->ns])
			return (start + i) % w->ns;
	return -1;
}

static int cw_step(struct cworker *w)
{
	struct cshared *sh = w->sh;
	int fd = sh->fd, op = rng_below(&w->rs, 100), i, r, t;
	uint64_t h;

	if (op < 14 || !w->ns) {
		int tracked = rng_below(&w->rs, 8) != 0;

		r = refcache_new(fd, tracked ? sh->tc : sh->leaf, &h);
		if (r)
			CW_FAIL("new: %d", r);
		return cw_add(w, h, tracked);
	}
	i = rng_below(&w->rs, w->ns);
	if (op < 34) {			/* store */
		t = cw_pick_tracked(w);
		if (t < 0)
			return 0;
		h = rng_below(&w->rs, 10) ? w->s[i] : 0;
		r = refcache_store(fd, w->s[t], rng_below(&w->rs, 3), h);
		if (r)
			CW_FAIL("store: %d", r);
		return 0;
	}
	if (op < 48) {			/* load */
		t = cw_pick_tracked(w);
		if (t < 0)
			return 0;
		r = refcache_load(fd, w->s[t], rng_below(&w->rs, 3), &h);
		if (r)
			CW_FAIL("load: %d", r);
		if (!h)
			return 0;
		r = gc_is_tracked(fd, h);
		if (r < 0)
			CW_FAIL("is_tracked of a loaded handle: %d", r);
		return cw_add(w, h, r);
	}
	if (op < 54) {			/* dup */
		r = refcache_dup(fd, w->s[i], &h);
		if (r)
			CW_FAIL("dup: %d", r);
		return cw_add(w, h, w->tr[i]);
	}
	if (op < 70)			/* close */
		return cw_drop(w, i);
	if (op < 77) {			/* weak new */
		if (w->nw == CT_WEAK) {
			int k = rng_below(&w->rs, CT_WEAK);

			r = refcache_handle_close(fd, w->w[k]);
			if (r)
				CW_FAIL("close weak: %d", r);
			w->w[k] = w->w[--w->nw];
		}
		r = refcache_weak_new(fd, w->s[i], &w->w[w->nw]);
		if (r)
			CW_FAIL("weak new: %d", r);
		w->nw++;
		return 0;
	}
	if (op < 86) {			/* weak upgrade */
		int k;

		if (!w->nw)
			return 0;
		k = rng_below(&w->rs, w->nw);
		r = refcache_weak_upgrade(fd, w->w[k], &h);
		if (r == -ENOENT) {
			w->enoent++;
			r = refcache_handle_close(fd, w->w[k]);
			if (r)
				CW_FAIL("close dead weak: %d", r);
			w->w[k] = w->w[--w->nw];
			return 0;
		}
		if (r)
			CW_FAIL("upgrade: %d", r);
		r = gc_is_tracked(fd, h);
		if (r < 0)
			CW_FAIL("is_tracked of an upgraded handle: %d", r);
		return cw_add(w, h, r);
	}
	if (op < 90) {			/* is_tracked */
		r = gc_is_tracked(fd, w->s[i]);
		if (r != w->tr[i])
			CW_FAIL("is_tracked %d, want %d", r, w->tr[i]);
		return 0;
	}
	if (op < 95) {			/* publish */
		int k = rng_below(&w->rs, CT_PUB);

		pthread_mutex_lock(&sh->lock);
		r = sh->pub[k] ? refcache_handle_close(fd, sh->pub[k]) : 0;
		sh->pub[k] = 0;
		if (!r)
			r = refcache_dup(fd, w->s[i], &sh->pub[k]);
		sh->pub_tracked[k] = w->tr[i];
		pthread_mutex_unlock(&sh->lock);
		if (r)
			CW_FAIL("publish: %d", r);
		return 0;
	}
	{				/* take */
		int k = rng_below(&w->rs, CT_PUB), tr;

		h = 0;
		pthread_mutex_lock(&sh->lock);
		r = sh->pub[k] ? refcache_dup(fd, sh->pub[k], &h) : 0;
		tr = sh->pub_tracked[k];
		pthread_mutex_unlock(&sh->lock);
		if (r)
			CW_FAIL("take: %d", r);
		return h ? cw_add(w, h, tr) : 0;
	}
}

static void *cw_main(void *p)
{
	struct cworker *w = p;
	long i;

	for (i = 0; i < w->steps && !w->sh->failed; i++) {
		if (cw_step(w))
			break;
		w->ops++;
	}
	/* Drop everything this thread holds. */
	while (w->ns && !cw_drop(w, 0))
		;
	while (w->nw) {
		int r = refcache_handle_close(w->sh->fd, w->w[--w->nw]);

		if (r && !w->why[0]) {
			snprintf(w->why, sizeof(w->why), "close weak at the end: %d", r);
			w->sh->failed = 1;
		}
	}
	return NULL;
}

struct ccollector {
	struct cshared *sh;
	pthread_t tid;
	uint64_t rs;
	long collects, autos, explicits, dropped, freed;
	char why[200];
};

static void cc_drain(struct ccollector *cc)
{
	struct refcache_gc_event ev[16];
	int n, i;

	while ((n = ev_read(cc->sh->fd, ev, 16)) > 0)
		for (i = 0; i < n; i++) {
			cc->autos += ev[i].reason == REFCACHE_GC_REASON_AUTO;
			cc->explicits += ev[i].reason == REFCACHE_GC_REASON_EXPLICIT;
			cc->dropped += ev[i].dropped;
			cc->freed += ev[i].collected;
		}
	if (n < 0 && !cc->why[0])
		snprintf(cc->why, sizeof(cc->why), "event read: %d", n);
}

static void *cc_main(void *p)
{
	struct ccollector *cc = p;

	while (!cc->sh->stop) {
		long long r = gc_collect(cc->sh->fd, rng_below(&cc->rs, 3));

		if (r < 0) {
			snprintf(cc->why, sizeof(cc->why), "collect: %lld", r);
			cc->sh->failed = 1;
			break;
		}
		cc->collects++;
		if (!(cc->collects & 7))
			cc_drain(cc);
		/* Room for count0 to grow past threshold0 between two collects. */
		usleep(1000 + rng_below(&cc->rs, 2000));
	}
	return NULL;
}

/*
 * @flags for both caches (the tracked one and the leaf one); @steps per
 * thread.  Each thread drops what it holds and exits; the published
 * handles outlive their owners and the main thread closes them.
 */
static int concurrent_run(uint32_t flags, long steps)
{
	static struct cworker w[CT_THREADS];
	struct ccollector cc;
	struct cshared sh;
	struct refcache_gc_stats st;
	uint64_t seed = base_seed + 100;
	double t0 = now();
	int i, fd, err = 0;
	long long got, ops = 0, enoent = 0;
	unsigned long long colls = 0;

	memset(&sh, 0, sizeof(sh));
	pthread_mutex_init(&sh.lock, NULL);
	fd = heap_new(&sh.tc, 3, REFCACHE_CACHE_TRACKED | flags, 1);
	if (fd < 0)
		return -1;
	sh.fd = fd;
	sh.leaf = refcache_cache_create(fd, "leaf", 16, 0, flags);
	CHECKF(sh.leaf > 0, "leaf cache");
	CHECKF(gc_threshold(fd, 10, 3, 3) == 0, "thresholds");
	printf("# seed=%llu gc_concurrent: %d threads x %ld steps and a collector, flags %#x\n",
	       (unsigned long long)seed, CT_THREADS, steps, flags);
	memset(&cc, 0, sizeof(cc));
	cc.sh = &sh;
	cc.rs = seed ^ 0xc011ec7;
	for (i = 0; i < CT_THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].sh = &sh;
		w[i].rs = seed * 31 + i;
		w[i].steps = steps;
	}
	CHECKF(pthread_create(&cc.tid, NULL, cc_main, &cc) == 0, "collector thread");
	for (i = 0; i < CT_THREADS; i++)
		if (pthread_create(&w[i].tid, NULL, cw_main, &w[i])) {
			sh.failed = 1;
			CHECKF(0, "thread %d", i);
		}
	for (i = 0; i < CT_THREADS; i++) {
		pthread_join(w[i].tid, NULL);
		ops += w[i].ops;
		enoent += w[i].enoent;
		if (w[i].why[0]) {
			printf("# thread %d after %ld ops: %s\n", i, w[i].ops, w[i].why);
			err++;
		}
	}
	sh.stop = 1;
	pthread_join(cc.tid, NULL);
	if (cc.why[0]) {
		printf("# collector: %s\n", cc.why);
		err++;
	}
	for (i = 0; i < CT_PUB; i++)
		if (sh.pub[i])
			CHECKF(refcache_handle_close(fd, sh.pub[i]) == 0, "close published");
	CHECKF(!err, "%d threads failed", err);
	CHECKF(HANDLES(fd) == 0, "handles %lld", HANDLES(fd));
	got = gc_collect(fd, 2);
	CHECKF(got >= 0, "collect %lld", got);
	CHECKF(OBJECTS(fd) == 0, "objects %lld after the final collect(2) (which found %lld)",
	       OBJECTS(fd), got);
	cc_drain(&cc);
	CHECKF(gc_stats(fd, &st) == 0, "stats");
	for (i = 0; i < 3; i++)
		colls += st.gen[i].collections;
	printf("# gc_concurrent: %lld ops, %lld dead weak upgrades, %ld explicit collects, "
	       "%ld automatic (events; %ld dropped), %llu collections in stats, %.2f s\n",
	       ops, enoent, cc.collects + 1, cc.autos, cc.dropped, colls, now() - t0);
	CHECKF(cc.autos > 0 || colls > (unsigned long long)cc.collects + 1,
	       "no automatic collection ran");
	CHECKF(colls >= (unsigned long long)cc.collects + 1, "stats count %llu < %ld explicit",
	       colls, cc.collects + 1);
	refcache_close(fd);
	pthread_mutex_destroy(&sh.lock);
	return 0;
}

static int t_concurrent(void)
{
	return concurrent_run(0, small ? 10000 : 30000);
}

static int t_concurrent_biased(void)
{
	SKIP_UNBIASED();
	return concurrent_run(REFCACHE_CACHE_BIASED, small ? 3000 : 4000);
}

/* ---- main ------------------------------------------------------------------ */

static const struct {
	const char *name;
	int (*fn)(void);
} cases[] = {
	{ "gc_feature", t_feature },
	{ "gc_defaults", t_defaults },
	{ "gc_ioctl_sizes", t_sizes },
	{ "gc_ioctl_flags_reserved", t_flags_reserved },
	{ "gc_collect_generation", t_collect_generation },
	{ "gc_ioctl_efault", t_efault },
	{ "gc_is_tracked", t_is_tracked },
	{ "gc_set_get", t_set_get },
	{ "gc_threshold0_zero", t_threshold0_zero },
	{ "gc_self_cycle", t_self_cycle },
	{ "gc_cycle_2", t_cycle_2 },
	{ "gc_cycle_3", t_cycle_3 },
	{ "gc_cycle_1000", t_cycle_1000 },
	{ "gc_cycle_shapes", t_cycle_shapes },
	{ "gc_held_cycle_survives", t_held_cycle },
	{ "gc_young_cycle_old_referrer", t_young_cycle_old_referrer },
	{ "gc_old_hanging_off_young", t_old_hanging_off_young },
	{ "gc_get_count", t_get_count },
	{ "gc_freeze", t_freeze },
	{ "gc_untracked_never", t_untracked },
	{ "gc_weak_to_garbage", t_weak_garbage },
	{ "gc_events_basic", t_events_basic },
	{ "gc_events_small_buffer", t_events_small_buffer },
	{ "gc_events_nonblock", t_events_nonblock },
	{ "gc_events_blocking_read", t_events_blocking },
	{ "gc_events_overflow", t_events_overflow },
	{ "gc_proc_agrees", t_proc },
	{ "gc_auto", t_auto },
	{ "gc_auto_while_allocating", t_auto_while_allocating },
	{ "gc_auto_disabled", t_auto_disabled },
	{ "gc_freeze_count", t_freeze_count },
	{ "gc_pressure", t_pressure },
	{ "gc_quota", t_quota },
	{ "gc_oracle_0", t_oracle_0 },
	{ "gc_oracle_1", t_oracle_1 },
	{ "gc_oracle_2", t_oracle_2 },
	{ "gc_concurrent", t_concurrent },
	{ "gc_oracle_threads", t_oracle_threads },
	{ "gc_oracle_biased_0", t_oracle_biased_0 },
	{ "gc_oracle_biased_1_untracked", t_oracle_biased_1 },
	{ "gc_oracle_biased_2", t_oracle_biased_2 },
	{ "gc_concurrent_biased", t_concurrent_biased },
};
#define NCASES ((int)(sizeof(cases) / sizeof(cases[0])))

int main(void)
{
	const char *env = getenv("REFCACHE_SEED"), *sm = getenv("REFCACHE_GC_SMALL");
	const char *only = getenv("REFCACHE_GC_CASE");
	struct refcache_gc_info gi;
	double t0 = now();
	int fd, r, i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	pg = sysconf(_SC_PAGESIZE);
	printf("TAP version 13\n1..%d\n", NCASES);
	fd = refcache_open();
	r = fd < 0 ? fd : gc_get(fd, &gi);
	if (fd >= 0)
		refcache_close(fd);
	if (r == -ENOTTY) {
		for (i = 0; i < NCASES; i++)
			printf("ok %d - %s # SKIP no collector\n", i + 1, cases[i].name);
		printf("# gc: skipped, GC_GET gives ENOTTY (no collector)\n");
		return 0;
	}
	if (r)
		printf("# open/GC_GET: %s\n", strerror(-r));
	fd = refcache_open();
	if (fd >= 0) {
		struct refcache_version v;

		have_biased = refcache_version(fd, &v) == 0 &&
			      (v.features & REFCACHE_FEATURE_BIASED);
		refcache_close(fd);
	}
	small = sm ? atoi(sm) != 0 : access("/sys/kernel/debug/kmemleak", F_OK) == 0;
	base_seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) * 1000003u ^ getpid();
	printf("# gc: %s sizes, base seed %llu (REFCACHE_SEED=%llu repeats)\n",
	       small ? "debug-kernel" : "full", (unsigned long long)base_seed,
	       (unsigned long long)base_seed);
	for (i = 0; i < NCASES; i++) {
		double t = now();

		if (only && fnmatch(only, cases[i].name, 0)) {
			printf("ok %d - %s # SKIP not in REFCACHE_GC_CASE\n", ++ntest, cases[i].name);
			continue;
		}
		tap_result(cases[i].fn() != 0, cases[i].name);
		if (now() - t > 1.0)
			printf("# %s: %.1f s\n", cases[i].name, now() - t);
	}
	printf("# gc: %.1f s\n", now() - t0);
	printf("# %d passed, %d failed\n", ntest - nfail, nfail);
	return nfail > 100 ? 100 : nfail;
}
