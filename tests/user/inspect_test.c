// SPDX-License-Identifier: GPL-2.0
/*
 * Looking inside a heap (ABI 1.4): gc.get_objects(), get_referents(),
 * get_referrers(), gc.garbage with the debug flags, and the heap dump.
 * What they return on known graphs, every bad input, and a race against
 * mutators and automatic collections.  Prints TAP.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "refcache.h"
#include "tap.h"

static void run(const char *name, int (*fn)(void))
{
	tap_result(fn() != 0, name);
}

static int64_t handles_of(int fd)
{
	struct refcache_heap_info hi;

	return refcache_heap_info(fd, &hi) ? -1 : (int64_t)hi.handles;
}

static int64_t objects_of(int fd)
{
	struct refcache_heap_info hi;

	return refcache_heap_info(fd, &hi) ? -1 : (int64_t)hi.objects;
}

/* A heap with automatic collection off, and an object tagged @tag. */
static int heap_new(void)
{
	int fd = refcache_open();

	if (fd >= 0)
		refcache_gc_disable(fd);
	return fd;
}

static int mk(int fd, uint32_t cache, uint64_t tag, uint64_t *h)
{
	int r = refcache_new(fd, cache, h);

	return r ? r : refcache_write(fd, *h, 0, &tag, sizeof(tag));
}

static uint64_t tag_of(int fd, uint64_t h)
{
	uint64_t t = 0;

	refcache_read(fd, h, 0, &t, sizeof(t));
	return t;
}

/* Tags of a page of handles, sorted into a bit set (tags 1..63); closes them. */
static uint64_t tagset(int fd, const uint64_t *h, int n)
{
	uint64_t set = 0;
	int i;

	for (i = 0; i < n; i++) {
		set |= 1ull << (tag_of(fd, h[i]) & 63);
		refcache_handle_close(fd, h[i]);
	}
	return set;
}

static int t_version(void)
{
	struct refcache_version v;
	int fd = refcache_open();

	CHECK(fd >= 0, "open");
	CHECKF(!refcache_version(fd, &v), "version");
	CHECKF(v.minor >= 4 && (v.features & REFCACHE_FEATURE_INSPECT), "%u.%u %#llx",
	       v.major, v.minor, (unsigned long long)v.features);
	refcache_close(fd);
	return 0;
}

static int t_get_objects(void)
{
	uint64_t h[8], out[16], cursor = 0;
	int fd = heap_new(), ct, cu, i, n, pages = 0, total = 0;
	int64_t base;

	CHECK(fd >= 0, "open");
	ct = refcache_cache_create(fd, "tracked", 8, 2, REFCACHE_CACHE_TRACKED);
	cu = refcache_cache_create(fd, "plain", 8, 1, 0);
	CHECKF(ct > 0 && cu > 0, "caches");
	for (i = 0; i < 5; i++)
		CHECKF(!mk(fd, ct, i + 1, &h[i]), "new");
	for (i = 5; i < 7; i++)
		CHECKF(!mk(fd, cu, i + 1, &h[i]), "new");
	base = handles_of(fd);
	n = refcache_gc_get_objects(fd, REFCACHE_OBJECTS_ALL, &cursor, out, 16);
	CHECKF(n == 5 && cursor == 0, "all: %d cursor %llu", n, (unsigned long long)cursor);
	CHECKF(tagset(fd, out, n) == 0x3e, "all: the five tracked ones");
	n = refcache_gc_get_objects(fd, REFCACHE_OBJECTS_MASK, &cursor, out, 16);
	CHECKF(n == 7 && tagset(fd, out, n) == 0xfe, "untracked too: %d", n);
	n = refcache_gc_get_objects(fd, REFCACHE_OBJECTS_UNTRACKED, &cursor, out, 16);
	CHECKF(n == 2 && tagset(fd, out, n) == 0xc0, "untracked only: %d", n);
	n = refcache_gc_get_objects(fd, REFCACHE_OBJECTS_GEN1, &cursor, out, 16);
	CHECKF(n == 0 && cursor == 0, "generation 1 empty: %d", n);
	CHECKF(refcache_gc_collect(fd, 0) == 0, "collect");
	n = refcache_gc_get_objects(fd, REFCACHE_OBJECTS_GEN1, &cursor, out, 16);
	CHECKF(n == 5 && tagset(fd, out, n) == 0x3e, "generation 1 after collect: %d", n);
	n = refcache_gc_get_objects(fd, REFCACHE_OBJECTS_GEN0, &cursor, out, 16);
	CHECKF(n == 0, "generation 0 after collect: %d", n);
	CHECKF(refcache_gc_freeze(fd) == 5, "freeze");
	n = refcache_gc_get_objects(fd, REFCACHE_OBJECTS_PERMANENT, &cursor, out, 16);
	CHECKF(n == 5 && tagset(fd, out, n) == 0x3e, "frozen: %d", n);
	/* Pages of 2: 2, 2, 2, 1, the cursor 0 only after the last. */
	do {
		n = refcache_gc_get_objects(fd, REFCACHE_OBJECTS_MASK, &cursor, out, 2);
		CHECKF(n >= 0 && n <= 2, "page: %d", n);
		total += n;
		pages++;
		tagset(fd, out, n);
	} while (cursor && pages < 10);
	CHECKF(total == 7 && pages == 4, "pages %d total %d", pages, total);
	CHECKF(handles_of(fd) == base, "every handle closed again");
	/* The caller owns what it gets: the objects outlive their first handles. */
	n = refcache_gc_get_objects(fd, REFCACHE_OBJECTS_MASK, &cursor, out, 16);
	for (i = 0; i < 7; i++)
		refcache_handle_close(fd, h[i]);
	CHECKF(objects_of(fd) == 7, "held by get_objects' handles");
	tagset(fd, out, n);
	CHECKF(objects_of(fd) == 0, "freed with them");
	refcache_close(fd);
	return 0;
}

static int t_referents_referrers(void)
{
	uint64_t a, b, c, d, out[8], cursor = 0;
	int fd = heap_new(), ct, ck, n;

	CHECK(fd >= 0, "open");
	ct = refcache_cache_create(fd, "node", 8, 3, REFCACHE_CACHE_TRACKED);
	ck = refcache_cache_create(fd, "leaf", 8, 0, 0);
	CHECKF(ct > 0 && ck > 0, "caches");
	CHECKF(!mk(fd, ct, 1, &a) && !mk(fd, ct, 2, &b) && !mk(fd, ck, 3, &c) &&
	       !mk(fd, ct, 4, &d), "objects");
	/* a -> b, a -> c (twice), b -> a, d -> c */
	CHECKF(!refcache_store(fd, a, 0, b) && !refcache_store(fd, a, 1, c) &&
	       !refcache_store(fd, a, 2, c) && !refcache_store(fd, b, 0, a) &&
	       !refcache_store(fd, d, 2, c), "stores");
	n = refcache_gc_get_referents(fd, a, &cursor, out, 8);
	CHECKF(n == 3 && cursor == 0, "referents of a: %d", n);
	CHECKF(tag_of(fd, out[0]) == 2 && tag_of(fd, out[1]) == 3 && tag_of(fd, out[2]) == 3,
	       "in slot order, c twice");
	tagset(fd, out, n);
	n = refcache_gc_get_referents(fd, a, &cursor, out, 2);
	CHECKF(n == 2 && cursor == 2, "first page: %d cursor %llu", n, (unsigned long long)cursor);
	tagset(fd, out, n);
	n = refcache_gc_get_referents(fd, a, &cursor, out, 2);
	CHECKF(n == 1 && cursor == 0 && tag_of(fd, out[0]) == 3, "second page: %d", n);
	tagset(fd, out, n);
	n = refcache_gc_get_referents(fd, c, &cursor, out, 8);
	CHECKF(n == 0, "a leaf holds nothing: %d", n);
	n = refcache_gc_get_referrers(fd, c, &cursor, out, 8);
	CHECKF(n == 2 && tagset(fd, out, n) == ((1 << 1) | (1 << 4)), "referrers of c: %d", n);
	n = refcache_gc_get_referrers(fd, a, &cursor, out, 8);
	CHECKF(n == 1 && tagset(fd, out, n) == (1 << 2), "referrers of a: %d", n);
	n = refcache_gc_get_referrers(fd, d, &cursor, out, 8);
	CHECKF(n == 0, "nobody holds d: %d", n);
	/* Paged: one referrer per page. */
	n = refcache_gc_get_referrers(fd, c, &cursor, out, 1);
	CHECKF(n == 1 && cursor, "page 1");
	tagset(fd, out, n);
	n = refcache_gc_get_referrers(fd, c, &cursor, out, 1);
	CHECKF(n == 1, "page 2: %d", n);
	tagset(fd, out, n);
	if (cursor) {
		n = refcache_gc_get_referrers(fd, c, &cursor, out, 1);
		CHECKF(n == 0 && !cursor, "the end: %d", n);
	}
	refcache_close(fd);
	return 0;
}

static int t_saveall(void)
{
	uint64_t x, y, w, up, out[8], cursor = 0;
	int fd = heap_new(), ct, n;

	CHECK(fd >= 0, "open");
	CHECKF(refcache_gc_get_debug(fd) == 0, "debug off");
	CHECKF(refcache_gc_set_debug(fd, REFCACHE_GC_DEBUG_LEAK) == 0, "set LEAK");
	CHECKF(refcache_gc_get_debug(fd) == REFCACHE_GC_DEBUG_LEAK, "get LEAK");
	CHECKF(refcache_gc_set_debug(fd, REFCACHE_GC_DEBUG_SAVEALL | REFCACHE_GC_DEBUG_STATS) == 0,
	       "set SAVEALL|STATS");
	ct = refcache_cache_create(fd, "cyc", 8, 1, REFCACHE_CACHE_TRACKED);
	CHECKF(ct > 0, "cache");
	CHECKF(!mk(fd, ct, 1, &x) && !mk(fd, ct, 2, &y), "objects");
	CHECKF(!refcache_store(fd, x, 0, y) && !refcache_store(fd, y, 0, x), "cycle");
	CHECKF(!refcache_weak_new(fd, x, &w), "weak");
	refcache_handle_close(fd, x);
	refcache_handle_close(fd, y);
	CHECKF(refcache_gc_collect(fd, 2) == 2, "collect finds the cycle");
	CHECKF(objects_of(fd) == 2, "kept: %lld", (long long)objects_of(fd));
	CHECKF(refcache_gc_garbage_count(fd) == 2, "in gc.garbage");
	CHECKF(refcache_weak_upgrade(fd, w, &up) == -ENOENT, "weak handles cleared, as CPython");
	n = refcache_gc_get_garbage(fd, &cursor, out, 8);
	CHECKF(n == 2 && cursor == 0, "garbage as handles: %d", n);
	CHECKF(tagset(fd, out, n) == 0x6, "x and y");
	/* Saved garbage is reachable: a second collection keeps it. */
	CHECKF(refcache_gc_collect(fd, 2) == 0, "nothing new");
	CHECKF(refcache_gc_garbage_count(fd) == 2, "still 2");
	CHECKF(refcache_gc_set_debug(fd, 0) == 0, "debug off");
	CHECKF(refcache_gc_clear_garbage(fd) == 2, "del gc.garbage[:]");
	CHECKF(refcache_gc_garbage_count(fd) == 0, "empty");
	CHECKF(objects_of(fd) == 2, "the cycle is still a cycle");
	CHECKF(refcache_gc_collect(fd, 2) == 2, "and is collected now");
	CHECKF(objects_of(fd) == 0, "freed");
	/* Garbage left at close is released with the heap. */
	CHECKF(refcache_gc_set_debug(fd, REFCACHE_GC_DEBUG_SAVEALL) == 0, "SAVEALL");
	CHECKF(!mk(fd, ct, 1, &x) && !refcache_store(fd, x, 0, x), "self cycle");
	refcache_handle_close(fd, x);
	CHECKF(refcache_gc_collect(fd, 0) == 1, "collected into gc.garbage");
	refcache_close(fd);
	return 0;
}

/* Map dump object numbers to tags through the HANDLE records. */
static int t_dump(void)
{
	struct refcache_dump_record *r = NULL;
	uint64_t a, b, c, w, tagnum[8] = {0};
	size_t n = 0, i;
	int fd = heap_new(), ct, cu, ret, kinds[5] = {0}, edges_ok = 0;

	CHECK(fd >= 0, "open");
	ct = refcache_cache_create(fd, "dnode", 8, 2, REFCACHE_CACHE_TRACKED);
	cu = refcache_cache_create(fd, "dleaf", 8, 0, 0);
	CHECKF(ct > 0 && cu > 0, "caches");
	CHECKF(!mk(fd, ct, 1, &a) && !mk(fd, ct, 2, &b) && !mk(fd, cu, 3, &c), "objects");
	CHECKF(!refcache_store(fd, a, 0, b) && !refcache_store(fd, b, 1, c) &&
	       !refcache_store(fd, b, 0, a), "stores");
	CHECKF(!refcache_weak_new(fd, c, &w), "weak");
	ret = refcache_heap_dump(fd, &r, &n);
	CHECKF(!ret, "dump: %s", strerror(-ret));
	for (i = 0; i < n; i++) {
		CHECKF(r[i].kind >= 1 && r[i].kind <= 4, "kind %u", r[i].kind);
		kinds[r[i].kind]++;
		/* No kernel address: object numbers are small, handle ids tagged. */
		CHECKF(r[i].id < 0xffff000000000000ull && r[i].value < 0xffff000000000000ull,
		       "record %zu looks like an address", i);
		if (r[i].kind == REFCACHE_DUMP_HANDLE && !(r[i].flags & REFCACHE_DUMP_WEAK)) {
			uint64_t t = r[i].value == a ? 1 : r[i].value == b ? 2 :
				     r[i].value == c ? 3 : 0;

			CHECKF(t && r[i].id && r[i].id < 8, "handle record");
			tagnum[t] = r[i].id;
		}
	}
	CHECKF(kinds[1] == 2 && kinds[2] == 3 && kinds[3] == 3 && kinds[4] == 4,
	       "caches %d objects %d edges %d handles %d", kinds[1], kinds[2], kinds[3], kinds[4]);
	for (i = 0; i < n; i++) {
		if (r[i].kind == REFCACHE_DUMP_OBJECT && r[i].id == tagnum[1])
			CHECKF(r[i].value == 2 && r[i].generation == 0 && r[i].index == 1 &&
			       r[i].cache_id == (uint32_t)ct && (r[i].flags & REFCACHE_DUMP_TRACKED),
			       "a: count %llu gen %d handles %u", (unsigned long long)r[i].value,
			       r[i].generation, r[i].index);
		if (r[i].kind == REFCACHE_DUMP_OBJECT && r[i].id == tagnum[3])
			CHECKF(r[i].generation == -1 && (r[i].flags & REFCACHE_DUMP_WEAKREFD) &&
			       !(r[i].flags & REFCACHE_DUMP_TRACKED), "c: untracked, weakly held");
		if (r[i].kind == REFCACHE_DUMP_EDGE)
			edges_ok += (r[i].id == tagnum[1] && r[i].value == tagnum[2] && r[i].index == 0) +
				    (r[i].id == tagnum[2] && r[i].value == tagnum[3] && r[i].index == 1) +
				    (r[i].id == tagnum[2] && r[i].value == tagnum[1] && r[i].index == 0);
		if (r[i].kind == REFCACHE_DUMP_CACHE && r[i].cache_id == (uint32_t)ct)
			CHECKF(!strcmp(r[i].name, "dnode") && r[i].index == 2 && r[i].value == 8,
			       "cache record");
	}
	CHECKF(edges_ok == 3, "edges %d", edges_ok);
	free(r);
	refcache_close(fd);
	return 0;
}

static int raw(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

#define OBJ_REQ(g, w, h, n, buf) do {					\
	memset(&(g), 0, sizeof(g));					\
	(g).size = sizeof(g);						\
	(g).which = (w);						\
	(g).handle = (h);						\
	(g).count = (n);						\
	(g).handles = (uintptr_t)(buf);					\
} while (0)

static int t_bad_objects(void)
{
	struct refcache_gc_objects g, *ro;
	uint64_t a, w, out[4];
	int fd = heap_new(), ct;
	int64_t base;
	void *none;

	CHECK(fd >= 0, "open");
	ct = refcache_cache_create(fd, "bad", 8, 1, REFCACHE_CACHE_TRACKED);
	CHECKF(ct > 0 && !mk(fd, ct, 1, &a) && !refcache_weak_new(fd, a, &w), "setup");
	base = handles_of(fd);
#define BAD(expr, err, what) do {					\
		int r_ = (expr);					\
		CHECKF(r_ == (err), "%s: %d", what, r_);		\
		CHECKF(handles_of(fd) == base, "%s left a handle", what); \
	} while (0)
	OBJ_REQ(g, REFCACHE_OBJECTS_ALL, 0, 4, out);
	g.flags = 1;
	BAD(raw(fd, REFCACHE_IOC_GC_GET_OBJECTS, &g), -EINVAL, "flags");
	OBJ_REQ(g, 0, 0, 4, out);
	BAD(raw(fd, REFCACHE_IOC_GC_GET_OBJECTS, &g), -EINVAL, "which 0");
	OBJ_REQ(g, 1u << 5, 0, 4, out);
	BAD(raw(fd, REFCACHE_IOC_GC_GET_OBJECTS, &g), -EINVAL, "unknown list");
	OBJ_REQ(g, REFCACHE_OBJECTS_ALL, 0, 0, out);
	BAD(raw(fd, REFCACHE_IOC_GC_GET_OBJECTS, &g), -EINVAL, "count 0");
	OBJ_REQ(g, REFCACHE_OBJECTS_ALL, 0, REFCACHE_GC_OBJECTS_MAX + 1, out);
	BAD(raw(fd, REFCACHE_IOC_GC_GET_OBJECTS, &g), -EINVAL, "count too big");
	OBJ_REQ(g, REFCACHE_OBJECTS_ALL, 0, 4, NULL);
	BAD(raw(fd, REFCACHE_IOC_GC_GET_OBJECTS, &g), -EINVAL, "no array");
	OBJ_REQ(g, REFCACHE_OBJECTS_ALL, 0, 4, out);
	g.reserved = 1;
	BAD(raw(fd, REFCACHE_IOC_GC_GET_OBJECTS, &g), -EINVAL, "reserved");
	OBJ_REQ(g, REFCACHE_OBJECTS_ALL, 0, 4, out);
	g.returned = 1;
	BAD(raw(fd, REFCACHE_IOC_GC_GET_OBJECTS, &g), -EINVAL, "returned set");
	OBJ_REQ(g, REFCACHE_OBJECTS_ALL, a, 4, out);
	BAD(raw(fd, REFCACHE_IOC_GC_GET_OBJECTS, &g), -EINVAL, "handle with get_objects");
	OBJ_REQ(g, REFCACHE_OBJECTS_ALL, a, 4, out);
	BAD(raw(fd, REFCACHE_IOC_GC_GET_REFERENTS, &g), -EINVAL, "which with referents");
	OBJ_REQ(g, 0, a ^ (1ull << 30), 4, out);
	BAD(raw(fd, REFCACHE_IOC_GC_GET_REFERRERS, &g), -EBADF, "bad handle");
	OBJ_REQ(g, 0, 0, 4, out);
	BAD(raw(fd, REFCACHE_IOC_GC_GET_REFERENTS, &g), -EBADF, "handle 0");
	OBJ_REQ(g, 0, w, 4, out);
	BAD(raw(fd, REFCACHE_IOC_GC_GET_REFERRERS, &g), -EINVAL, "weak handle");
	OBJ_REQ(g, REFCACHE_OBJECTS_ALL, 0, 4, out);
	g.size = REFCACHE_GC_OBJECTS_SIZE_VER0 - 1;
	BAD(raw(fd, REFCACHE_IOC_GC_GET_OBJECTS, &g), -EINVAL, "size too small");
	OBJ_REQ(g, 0, 0, 4, out);
	BAD(raw(fd, REFCACHE_IOC_GC_GARBAGE, &g) == 0 ? 0 : -1, 0, "garbage read");
	OBJ_REQ(g, 0, 0, 4, out);
	g.flags = REFCACHE_GARBAGE_CLEAR;
	BAD(raw(fd, REFCACHE_IOC_GC_GARBAGE, &g), -EINVAL, "clear with an array");
	OBJ_REQ(g, 0, 0, 4, out);
	g.flags = 2;
	BAD(raw(fd, REFCACHE_IOC_GC_GARBAGE, &g), -EINVAL, "unknown garbage flag");
	BAD(raw(fd, _IOWR(REFCACHE_IOC_MAGIC, 0x26, struct refcache_gc_objects), &g), -ENOTTY,
	    "the next command number");
	/* A handle array the kernel cannot write: -EFAULT and no handle made. */
	none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECKF(none != MAP_FAILED, "mmap");
	OBJ_REQ(g, REFCACHE_OBJECTS_ALL, 0, 4, none);
	BAD(raw(fd, REFCACHE_IOC_GC_GET_OBJECTS, &g), -EFAULT, "unwritable array");
	OBJ_REQ(g, 0, a, 4, none);
	BAD(raw(fd, REFCACHE_IOC_GC_GET_REFERRERS, &g), 0, "nothing to write, nothing written");
	/* An argument the kernel cannot write back: handles closed again. */
	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECKF(ro != MAP_FAILED, "mmap");
	OBJ_REQ(*ro, REFCACHE_OBJECTS_ALL, 0, 4, out);
	mprotect(ro, 4096, PROT_READ);
	BAD(raw(fd, REFCACHE_IOC_GC_GET_OBJECTS, ro), -EFAULT, "read-only argument");
	munmap(ro, 4096);
	munmap(none, 4096);
	BAD(raw(fd, REFCACHE_IOC_GC_GET_OBJECTS, NULL), -EFAULT, "NULL argument");
	refcache_close(fd);
	return 0;
}

static int t_bad_debug(void)
{
	struct refcache_gc_debug d;
	int fd = heap_new();

	CHECK(fd >= 0, "open");
	CHECKF(refcache_gc_set_debug(fd, 1u << 3) == -EINVAL, "unknown debug flag");
	CHECKF(refcache_gc_set_debug(fd, ~0u) == -EINVAL, "all bits");
	CHECKF(refcache_gc_get_debug(fd) == 0, "unchanged");
	memset(&d, 0, sizeof(d));
	d.size = sizeof(d);
	d.debug = REFCACHE_GC_DEBUG_STATS;
	CHECKF(raw(fd, REFCACHE_IOC_GC_DEBUG, &d) == -EINVAL, "debug without SET");
	d.debug = 0;
	d.flags = 2;
	CHECKF(raw(fd, REFCACHE_IOC_GC_DEBUG, &d) == -EINVAL, "unknown flag");
	d.flags = 0;
	d.reserved = 1;
	CHECKF(raw(fd, REFCACHE_IOC_GC_DEBUG, &d) == -EINVAL, "reserved");
	d.reserved = 0;
	d.garbage = 1;
	CHECKF(raw(fd, REFCACHE_IOC_GC_DEBUG, &d) == -EINVAL, "garbage is out only");
	CHECKF(refcache_gc_get_debug(fd) == 0, "still unchanged");
	refcache_close(fd);
	return 0;
}

static int dump_call(int fd, struct refcache_heap_dump *d, uint32_t flags, uint32_t count,
		     void *buf, uint64_t cursor, uint64_t snap)
{
	memset(d, 0, sizeof(*d));
	d->size = sizeof(*d);
	d->flags = flags;
	d->count = count;
	d->records = (uintptr_t)buf;
	d->cursor = cursor;
	d->snapshot = snap;
	return raw(fd, REFCACHE_IOC_HEAP_DUMP, d);
}

static int t_bad_dump(void)
{
	static struct refcache_dump_record rec[16];
	struct refcache_heap_dump d;
	uint64_t a, snap, total;
	int fd = heap_new(), ct, i;
	struct refcache_heap_info hi;
	void *none;

	CHECK(fd >= 0, "open");
	ct = refcache_cache_create(fd, "dump", 8, 1, REFCACHE_CACHE_TRACKED);
	CHECKF(ct > 0 && !mk(fd, ct, 1, &a) && !refcache_store(fd, a, 0, a), "setup");
	CHECKF(dump_call(fd, &d, 0, 4, rec, 0, 0) == -ENOENT, "read without snapshot");
	CHECKF(dump_call(fd, &d, REFCACHE_DUMP_END, 0, NULL, 0, 0) == -ENOENT,
	       "end without snapshot");
	CHECKF(dump_call(fd, &d, 3, 4, rec, 0, 0) == -EINVAL, "START|END");
	CHECKF(dump_call(fd, &d, 4, 4, rec, 0, 0) == -EINVAL, "unknown flag");
	CHECKF(dump_call(fd, &d, 1, REFCACHE_GC_OBJECTS_MAX + 1, rec, 0, 0) == -EINVAL,
	       "count too big");
	CHECKF(dump_call(fd, &d, 1, 4, NULL, 0, 0) == -EINVAL, "no array");
	CHECKF(dump_call(fd, &d, 1, 4, rec, 1, 0) == -EINVAL, "START at a cursor");
	CHECKF(dump_call(fd, &d, 1, 2, rec, 0, 0) == 0, "start");
	snap = d.snapshot;
	total = d.total;
	CHECKF(total == 4 && d.returned == 2 && d.cursor == 2, "total %llu returned %u",
	       (unsigned long long)total, d.returned);
	CHECKF(dump_call(fd, &d, 0, 4, rec, 2, snap + 1) == -ESTALE, "stale snapshot");
	CHECKF(dump_call(fd, &d, 0, 4, rec, total + 1, snap) == -EINVAL, "cursor past the end");
	CHECKF(dump_call(fd, &d, REFCACHE_DUMP_END, 1, NULL, 0, 0) == -EINVAL, "END with count");
	/* A START that fails keeps the snapshot there was. */
	none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECKF(dump_call(fd, &d, REFCACHE_DUMP_START, 4, none, 0, 0) == -EFAULT, "unwritable");
	munmap(none, 4096);
	CHECKF(dump_call(fd, &d, 0, 16, rec, 2, snap) == 0, "the old snapshot reads on");
	CHECKF(d.returned == 2 && d.cursor == 0 && d.snapshot == snap, "the rest");
	CHECKF(rec[0].kind == REFCACHE_DUMP_EDGE && rec[1].kind == REFCACHE_DUMP_HANDLE,
	       "the self edge, then the handle");
	CHECKF(dump_call(fd, &d, REFCACHE_DUMP_END, 0, NULL, 0, 0) == 0, "end");
	CHECKF(dump_call(fd, &d, 0, 4, rec, 0, snap) == -ENOENT, "gone");
	/* The dump is charged: a heap at its byte limit cannot take one. */
	for (i = 0; i < 2000; i++) {
		uint64_t h;

		CHECKF(!mk(fd, ct, i, &h), "object %d", i);
	}
	CHECKF(!refcache_heap_info(fd, &hi), "heap_info");
	CHECKF(!refcache_set_limits(fd, 0, hi.bytes + 4096), "limit");
	CHECKF(dump_call(fd, &d, REFCACHE_DUMP_START, 4, rec, 0, 0) == -EDQUOT, "over budget");
	CHECKF(!refcache_heap_info(fd, &hi) && hi.objects == 2001, "nothing changed");
	refcache_close(fd);
	return 0;
}

/* ---- the race ------------------------------------------------------------- */

struct race {
	int fd, ct;
	volatile int stop;
	long errors, rounds;
	char why[160];
};

static void race_fail(struct race *R, const char *what, int r)
{
	if (!__sync_fetch_and_add(&R->errors, 1))
		snprintf(R->why, sizeof(R->why), "%s: %d (%s)", what, r, strerror(-r));
}

/* Mutators: chains and cycles made and dropped; collections run behind them. */
static void *mutator(void *p)
{
	struct race *R = p;
	uint64_t h[8];
	int i, r;

	while (!R->stop) {
		for (i = 0; i < 8; i++) {
			r = refcache_new(R->fd, R->ct, &h[i]);
			if (r) {
				race_fail(R, "new", r);
				return NULL;
			}
		}
		for (i = 0; i < 8; i++)
			refcache_store(R->fd, h[i], 0, h[(i + 1) % 8]);
		refcache_store(R->fd, h[0], 1, h[4]);
		for (i = 0; i < 8; i++)
			refcache_handle_close(R->fd, h[i]);
		__sync_fetch_and_add(&R->rounds, 1);
	}
	return NULL;
}

/* Inspectors: every walk, the dump, and SAVEALL switched on and off. */
static void *inspector(void *p)
{
	struct race *R = p;
	struct refcache_dump_record *rec;
	uint64_t out[64], cursor, ref[64];
	size_t n;
	int k = 0, r, i, m;

	while (!R->stop) {
		cursor = 0;
		do {
			r = refcache_gc_get_objects(R->fd, REFCACHE_OBJECTS_MASK, &cursor, out, 64);
			if (r < 0) {
				race_fail(R, "get_objects", r);
				return NULL;
			}
			for (i = 0; i < r; i++) {
				uint64_t c2 = 0;

				if (i == 0) {
					m = refcache_gc_get_referrers(R->fd, out[0], &c2, ref, 64);
					if (m < 0)
						race_fail(R, "referrers", m);
					while (m > 0)
						refcache_handle_close(R->fd, ref[--m]);
					c2 = 0;
					m = refcache_gc_get_referents(R->fd, out[0], &c2, ref, 64);
					if (m < 0)
						race_fail(R, "referents", m);
					while (m > 0)
						refcache_handle_close(R->fd, ref[--m]);
				}
				refcache_handle_close(R->fd, out[i]);
			}
		} while (cursor && !R->stop);
		r = refcache_heap_dump(R->fd, &rec, &n);
		if (r && r != -ESTALE && r != -ENOENT)
			race_fail(R, "dump", r);
		if (!r)
			free(rec);
		refcache_gc_set_debug(R->fd, (++k & 1) ? REFCACHE_GC_DEBUG_SAVEALL : 0);
		if (!(k & 3))
			refcache_gc_clear_garbage(R->fd);
	}
	return NULL;
}

static int t_race(void)
{
	struct race R = { 0 };
	pthread_t th[4];
	int i, fd;

	R.fd = fd = refcache_open();
	CHECK(fd >= 0, "open");
	R.ct = refcache_cache_create(fd, "race", 8, 2, REFCACHE_CACHE_TRACKED);
	CHECKF(R.ct > 0, "cache");
	/* Automatic collections often, on the workqueue. */
	CHECKF(!refcache_gc_set_threshold(fd, 50, 2, 2), "threshold");
	for (i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, i < 2 ? mutator : inspector, &R);
	sleep(3);
	R.stop = 1;
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	printf("# race: %ld mutator rounds\n", R.rounds);
	CHECKF(!R.errors, "%ld errors, first: %s", R.errors, R.why);
	CHECKF(R.rounds > 0, "mutators ran");
	refcache_gc_set_debug(fd, 0);
	refcache_gc_clear_garbage(fd);
	CHECKF(refcache_gc_collect(fd, 2) >= 0, "collect");
	CHECKF(objects_of(fd) == 0, "all collected: %lld", (long long)objects_of(fd));
	refcache_close(fd);
	return 0;
}

/* refcachectl graph on its demo heap, where the guest has refcachectl. */
static int t_graph_cli(void)
{
	char line[512];
	int nodes = 0, edges = 0, handles = 0, status;
	FILE *p;

	if (access("/bin/refcachectl", X_OK)) {
		printf("# no /bin/refcachectl: nothing to run\n");
		return 0;
	}
	p = popen("/bin/refcachectl graph", "r");
	CHECK(p, "popen");
	while (fgets(line, sizeof(line), p)) {
		nodes += !strncmp(line, "\to", 2) && strstr(line, "[label=\"demo #");
		edges += !strncmp(line, "\to", 2) && strstr(line, " -> ") != NULL;
		handles += !strncmp(line, "\th", 2) && strstr(line, " -> ") != NULL;
	}
	status = pclose(p);
	CHECK(status == 0, "exit status %d", status);
	CHECK(nodes == 5 && edges == 4 && handles == 2, "%d nodes, %d edges, %d handles",
	      nodes, edges, handles);
	return 0;
}

int main(void)
{
	struct refcache_version v;
	int fd = refcache_open();

	printf("TAP version 13\n");
	if (fd < 0 || refcache_version(fd, &v) || !(v.features & REFCACHE_FEATURE_INSPECT)) {
		printf("1..0 # SKIP no REFCACHE_FEATURE_INSPECT\n");
		return 0;
	}
	refcache_close(fd);
	printf("1..10\n");
	run("inspect_version", t_version);
	run("inspect_get_objects", t_get_objects);
	run("inspect_referents_referrers", t_referents_referrers);
	run("inspect_saveall_garbage", t_saveall);
	run("inspect_dump", t_dump);
	run("inspect_bad_objects", t_bad_objects);
	run("inspect_bad_debug", t_bad_debug);
	run("inspect_bad_dump", t_bad_dump);
	run("inspect_race", t_race);
	run("inspect_graph_cli", t_graph_cli);
	return nfail > 125 ? 125 : nfail;
}
