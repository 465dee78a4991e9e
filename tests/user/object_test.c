// SPDX-License-Identifier: GPL-2.0
/*
 * Object, cache, handle and batch ioctls of /dev/refcache on good and bad
 * input, run inside the qemu guest on both kernels (64- and 32-bit).
 * Prints TAP; exit status is the number of failed cases (capped).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "refcache.h"
#include "tap.h"

static void run(const char *name, int (*fn)(void))
{
	tap_result(fn() != 0, name);
}

/* Does /proc/refcache/caches mention @word as a whole field? */
static int caches_mention(const char *word)
{
	char line[512];
	int found = 0;
	FILE *f = fopen("/proc/refcache/caches", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *tok, *save;

		for (tok = strtok_r(line, " \t\n", &save); tok;
		     tok = strtok_r(NULL, " \t\n", &save))
			if (!strcmp(tok, word))
				found = 1;
	}
	fclose(f);
	return found;
}

static long long refcount(int fd, uint64_t h)
{
	struct refcache_obj_info info;
	int ret = refcache_info(fd, h, &info);

	return ret < 0 ? ret : (long long)info.refcount;
}

static long long heap_get(int fd, int what)
{
	struct refcache_heap_info hi;
	int ret = refcache_heap_info(fd, &hi);

	if (ret < 0)
		return ret;
	switch (what) {
	case 0: return hi.objects;
	case 1: return hi.handles;
	case 2: return hi.caches;
	default: return hi.bytes;
	}
}
#define OBJECTS(fd) heap_get(fd, 0)
#define HANDLES(fd) heap_get(fd, 1)
#define CACHES(fd) heap_get(fd, 2)
#define BYTES(fd) heap_get(fd, 3)

/* A heap with one tracked cache of @nslots slots and @payload bytes. */
static int setup(int *cache, uint32_t nslots, uint32_t payload)
{
	int fd = refcache_open();

	if (fd < 0) {
		printf("# open: %s\n", strerror(-fd));
		return -1;
	}
	*cache = refcache_cache_create(fd, "test", payload, nslots,
				       REFCACHE_CACHE_TRACKED);
	if (*cache <= 0) {
		printf("# cache_create: %s\n", strerror(-*cache));
		refcache_close(fd);
		return -1;
	}
	return fd;
}

static int t_version_objects(void)
{
	struct refcache_version v;
	int fd = refcache_open(), ret;

	CHECK(fd >= 0, "open");
	ret = refcache_version(fd, &v);
	refcache_close(fd);
	CHECK(ret == 0, "version %d", ret);
	CHECK(v.minor >= 1, "minor %u", v.minor);
	CHECK(v.features & REFCACHE_FEATURE_OBJECTS, "features 0x%llx",
	      (unsigned long long)v.features);
	return 0;
}

static int t_cache_create_destroy(void)
{
	int fd = refcache_open(), c1, c2, r;
	uint64_t h;

	CHECK(fd >= 0, "open");
	CHECKF(CACHES(fd) == 0, "caches %lld", CACHES(fd));
	c1 = refcache_cache_create(fd, "one", 16, 2, REFCACHE_CACHE_TRACKED);
	c2 = refcache_cache_create(fd, "two", 0, 0, 0);
	CHECKF(c1 > 0 && c2 > 0 && c1 != c2, "ids %d %d", c1, c2);
	CHECKF(CACHES(fd) == 2, "caches %lld", CACHES(fd));
	/* Limits are inclusive. */
	r = refcache_cache_create(fd, "max", REFCACHE_MAX_PAYLOAD, REFCACHE_MAX_SLOTS, 0);
	CHECKF(r > 0, "max payload and slots: %d", r);
	CHECKF(refcache_cache_destroy(fd, r) == 0, "destroy max");

	CHECKF(refcache_new(fd, c1, &h) == 0, "new");
	r = refcache_cache_destroy(fd, c1);
	CHECKF(r == -EBUSY, "destroy with a live object: %d", r);
	CHECKF(refcache_handle_close(fd, h) == 0, "close");
	r = refcache_cache_destroy(fd, c1);
	CHECKF(r == 0, "destroy after close: %d", r);
	r = refcache_cache_destroy(fd, c1);
	CHECKF(r == -ENOENT, "destroy twice: %d", r);
	r = refcache_new(fd, c1, &h);
	CHECKF(r == -ENOENT, "new in a destroyed cache: %d", r);
	r = refcache_cache_destroy(fd, 0x7fff);
	CHECKF(r == -ENOENT, "destroy unknown: %d", r);
	r = refcache_cache_destroy(fd, 0);
	CHECKF(r == -ENOENT, "destroy 0: %d", r);
	r = refcache_new(fd, 0x7fff, &h);
	CHECKF(r == -ENOENT, "new in unknown cache: %d", r);
	r = refcache_new(fd, 0, &h);
	CHECKF(r == -ENOENT, "new in cache 0: %d", r);
	CHECKF(CACHES(fd) == 1, "caches %lld", CACHES(fd));
	CHECKF(refcache_cache_destroy(fd, c2) == 0, "destroy two");
	CHECKF(CACHES(fd) == 0, "caches %lld", CACHES(fd));
	/* A cache id of one heap means nothing in another. */
	c1 = refcache_cache_create(fd, "mine", 8, 1, 0);
	{
		int fd2 = refcache_open();

		CHECKF(fd2 >= 0, "open 2");
		r = refcache_new(fd2, c1, &h);
		refcache_close(fd2);
		CHECKF(r == -ENOENT, "other heap's cache id: %d", r);
	}
	refcache_close(fd);
	return 0;
}

static int t_cache_create_bad(void)
{
	struct refcache_cache_create cc;
	int fd = refcache_open(), r;

	CHECK(fd >= 0, "open");
	r = refcache_cache_create(fd, "big", REFCACHE_MAX_PAYLOAD + 1, 1, 0);
	CHECKF(r == -EINVAL, "payload > max: %d", r);
	r = refcache_cache_create(fd, "big", 0xffffffffu, 1, 0);
	CHECKF(r == -EINVAL, "payload ~0: %d", r);
	r = refcache_cache_create(fd, "slots", 16, REFCACHE_MAX_SLOTS + 1, 0);
	CHECKF(r == -EINVAL, "slots > max: %d", r);
	r = refcache_cache_create(fd, "slots", 16, 0xffffffffu, 0);
	CHECKF(r == -EINVAL, "slots ~0: %d", r);
	r = refcache_cache_create(fd, "flags", 16, 1, 1u << 2);
	CHECKF(r == -EINVAL, "unknown flag bit 2: %d", r);
	r = refcache_cache_create(fd, "flags", 16, 1, 1u << 31);
	CHECKF(r == -EINVAL, "unknown flag bit 31: %d", r);

	/* Name checks, past the library's own. */
	memset(&cc, 0, sizeof(cc));
	cc.size = sizeof(cc);
	cc.payload_size = 8;
	r = raw_ioctl(fd, REFCACHE_IOC_CACHE_CREATE, &cc);
	CHECKF(r == -EINVAL, "empty name: %d", r);
	memset(cc.name, 'x', sizeof(cc.name));
	r = raw_ioctl(fd, REFCACHE_IOC_CACHE_CREATE, &cc);
	CHECKF(r == -EINVAL, "name without NUL: %d", r);
	memset(cc.name, 0, sizeof(cc.name));
	strcpy(cc.name, "ok");
	cc.reserved = 1;
	r = raw_ioctl(fd, REFCACHE_IOC_CACHE_CREATE, &cc);
	CHECKF(r == -EINVAL, "reserved: %d", r);
	cc.reserved = 0;
	memset(cc.name, 'y', sizeof(cc.name) - 1);
	cc.name[sizeof(cc.name) - 1] = 0;
	r = raw_ioctl(fd, REFCACHE_IOC_CACHE_CREATE, &cc);
	CHECKF(r == 0 && cc.cache_id > 0, "31-char name: %d", r);
	CHECKF(CACHES(fd) == 1, "only the good one made: %lld", CACHES(fd));
	/* The library refuses what it cannot pass. */
	CHECKF(refcache_cache_create(fd, NULL, 8, 0, 0) == -EINVAL, "NULL name");
	CHECKF(refcache_cache_create(fd, "", 8, 0, 0) == -EINVAL, "empty name");
	CHECKF(refcache_cache_create(fd, "0123456789abcdef0123456789abcdef", 8, 0, 0) == -EINVAL,
	       "32-char name");
	refcache_close(fd);
	return 0;
}

/* The flags column of @name's line in /proc/refcache/caches, for heap @heap. */
static int caches_flags(unsigned long long heap, const char *name, char *out, size_t len)
{
	char line[512], nm[64], fl[32];
	unsigned long long id;
	int found = -1;
	FILE *f = fopen("/proc/refcache/caches", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llu %*d %63s %*u %*u %31s", &id, nm, fl) == 3 &&
		    id == heap && !strcmp(nm, name)) {
			snprintf(out, len, "%s", fl);
			found = 0;
		}
	fclose(f);
	return found;
}

/*
 * Biased caches (ABI 1.3) are accepted, alone and with TRACKED, report
 * their flags in INFO and /proc/refcache/caches, and count as atomic
 * ones do.
 */
static int t_cache_biased(void)
{
	static const struct { uint32_t flags; const char *proc; } fc[] = {
		{ 0, "-" },
		{ REFCACHE_CACHE_TRACKED, "tracked" },
		{ REFCACHE_CACHE_BIASED, "biased" },
		{ REFCACHE_CACHE_BIASED | REFCACHE_CACHE_TRACKED, "tracked,biased" },
	};
	struct refcache_obj_info info;
	struct refcache_heap_info hi;
	struct refcache_version v;
	char name[16], col[32];
	uint64_t h, h2, w, u;
	int fd = refcache_open(), c, r;
	unsigned int i;

	CHECK(fd >= 0, "open");
	CHECKF(refcache_version(fd, &v) == 0, "version");
	CHECKF(v.features & REFCACHE_FEATURE_BIASED, "features %#llx",
	       (unsigned long long)v.features);
	CHECKF(refcache_heap_info(fd, &hi) == 0, "heap_info");
	for (i = 0; i < sizeof(fc) / sizeof(fc[0]); i++) {
		snprintf(name, sizeof(name), "flags%u", fc[i].flags);
		c = refcache_cache_create(fd, name, 24, 2, fc[i].flags);
		CHECKF(c > 0, "create with flags %#x: %d", fc[i].flags, c);
		CHECKF(caches_flags(hi.heap_id, name, col, sizeof(col)) == 0, "%s not in /proc", name);
		CHECKF(!strcmp(col, fc[i].proc), "flags %#x show as \"%s\", want \"%s\"",
		       fc[i].flags, col, fc[i].proc);
		CHECKF(refcache_new(fd, c, &h) == 0, "new");
		r = refcache_info(fd, h, &info);
		CHECKF(r == 0 && info.cache_flags == fc[i].flags && info.refcount == 1 &&
		       info.cache_id == (uint32_t)c && info.nslots == 2 && info.payload_size == 24,
		       "info %d: flags %#x refcount %llu", r, info.cache_flags,
		       (unsigned long long)info.refcount);
		CHECKF(refcache_dup(fd, h, &h2) == 0 && refcount(fd, h) == 2, "dup");
		CHECKF(refcache_store(fd, h, 0, h2) == 0 && refcount(fd, h2) == 3, "self slot");
		CHECKF(refcache_weak_new(fd, h, &w) == 0, "weak");
		CHECKF(refcache_handle_close(fd, h) == 0 && refcount(fd, h2) == 2, "close");
		CHECKF(refcache_store(fd, h2, 0, 0) == 0 && refcount(fd, h2) == 1, "empty slot");
		CHECKF(refcache_weak_upgrade(fd, w, &u) == 0 && refcount(fd, u) == 2, "upgrade");
		CHECKF(refcache_handle_close(fd, u) == 0 && refcache_handle_close(fd, h2) == 0,
		       "close the last");
		r = refcache_weak_upgrade(fd, w, &u);
		CHECKF(r == -ENOENT, "upgrade of a dead object: %d", r);
		CHECKF(heap_get(fd, 0) == 0, "objects %lld", heap_get(fd, 0));
		CHECKF(refcache_handle_close(fd, w) == 0, "close weak");
		CHECKF(refcache_cache_destroy(fd, c) == 0, "destroy");
	}
	refcache_close(fd);
	return 0;
}

static int t_new_info_payload(void)
{
	struct refcache_obj_info info;
	unsigned char buf[64], zero[64];
	int cache, fd = setup(&cache, 3, 48), r, i;
	uint64_t h, h2;

	if (fd < 0)
		return -1;
	CHECKF(refcache_new(fd, cache, &h) == 0 && h != 0, "new");
	r = refcache_info(fd, h, &info);
	CHECKF(r == 0, "info %d", r);
	CHECKF(info.refcount == 1, "refcount %llu", (unsigned long long)info.refcount);
	CHECKF(info.cache_id == (uint32_t)cache, "cache_id %u", info.cache_id);
	CHECKF(info.nslots == 3 && info.payload_size == 48, "%u slots, %u bytes",
	       info.nslots, info.payload_size);
	CHECKF(info.cache_flags == REFCACHE_CACHE_TRACKED, "cache_flags %u", info.cache_flags);
	CHECKF(info.flags == 0, "strong handle flags %u", info.flags);
	memset(zero, 0, sizeof(zero));
	memset(buf, 0x5a, sizeof(buf));
	CHECKF(refcache_read(fd, h, 0, buf, 48) == 0, "read");
	CHECKF(!memcmp(buf, zero, 48), "new object zeroed");
	for (i = 0; i < 48; i++)
		buf[i] = i + 1;
	CHECKF(refcache_write(fd, h, 0, buf, 48) == 0, "write");
	CHECKF(refcache_write(fd, h, 8, "ABCD", 4) == 0, "partial write");
	memset(buf, 0, sizeof(buf));
	CHECKF(refcache_read(fd, h, 0, buf, 48) == 0, "read back");
	for (i = 0; i < 48; i++) {
		unsigned char want = i >= 8 && i < 12 ? "ABCD"[i - 8] : i + 1;

		CHECKF(buf[i] == want, "byte %d is %u, want %u", i, buf[i], want);
	}
	memset(buf, 0, sizeof(buf));
	CHECKF(refcache_read(fd, h, 47, buf, 1) == 0 && buf[0] == 48, "last byte");
	/* A dup sees the same payload; a freed block comes back zeroed. */
	CHECKF(refcache_dup(fd, h, &h2) == 0 && h2 != h, "dup");
	CHECKF(refcache_read(fd, h2, 0, buf, 4) == 0 && buf[0] == 1 && buf[3] == 4, "via dup");
	CHECKF(refcache_handle_close(fd, h) == 0 && refcache_handle_close(fd, h2) == 0, "close");
	CHECKF(OBJECTS(fd) == 0, "freed");
	for (i = 0; i < 8; i++) {
		CHECKF(refcache_new(fd, cache, &h) == 0, "new %d", i);
		memset(buf, 0x5a, sizeof(buf));
		CHECKF(refcache_read(fd, h, 0, buf, 48) == 0, "read");
		CHECKF(!memcmp(buf, zero, 48), "reused object %d zeroed", i);
		CHECKF(refcache_handle_close(fd, h) == 0, "close");
	}
	refcache_close(fd);
	return 0;
}

/* Every handle-taking operation, by handle, returning -errno. */
enum { OP_DUP, OP_CLOSE, OP_LOAD, OP_STORE_H, OP_STORE_V, OP_READ, OP_WRITE,
	OP_INFO, OP_WEAK_NEW, OP_WEAK_UPGRADE, NOPS };
static const char *const opname[NOPS] = {
	"dup", "close", "load", "store(handle)", "store(value)", "read", "write",
	"info", "weak_new", "weak_upgrade",
};

static int do_op(int fd, int op, uint64_t h, uint64_t good)
{
	struct refcache_obj_info info;
	char buf[4] = "abc";
	uint64_t out = 0;
	int r = -1;

	switch (op) {
	case OP_DUP: r = refcache_dup(fd, h, &out); break;
	case OP_CLOSE: r = refcache_handle_close(fd, h); break;
	case OP_LOAD: r = refcache_load(fd, h, 0, &out); break;
	case OP_STORE_H: r = refcache_store(fd, h, 0, good); break;
	case OP_STORE_V: r = refcache_store(fd, good, 0, h); break;
	case OP_READ: r = refcache_read(fd, h, 0, buf, 4); break;
	case OP_WRITE: r = refcache_write(fd, h, 0, buf, 4); break;
	case OP_INFO: r = refcache_info(fd, h, &info); break;
	case OP_WEAK_NEW: r = refcache_weak_new(fd, h, &out); break;
	case OP_WEAK_UPGRADE: r = refcache_weak_upgrade(fd, h, &out); break;
	}
	/* Should one succeed by mistake, do not leak what it made. */
	if (r == 0 && out)
		refcache_handle_close(fd, out);
	return r;
}

static int t_bad_handles(void)
{
	int cache, fd = setup(&cache, 2, 16), fd2, cache2, op, r;
	uint64_t good, closed, foreign, fresh[64];
	uint64_t bad[6];
	const char *badname[6] = { "zero", "closed", "foreign", "garbage", "all ones",
				   "closed weak" };
	long long objs, handles;
	int i, j;

	if (fd < 0)
		return -1;
	fd2 = setup(&cache2, 2, 16);
	CHECKF(fd2 >= 0, "second heap");
	CHECKF(refcache_new(fd2, cache2, &foreign) == 0, "new in heap 2");
	CHECKF(refcache_new(fd, cache, &good) == 0, "new");
	CHECKF(refcache_new(fd, cache, &closed) == 0, "new");
	CHECKF(refcache_handle_close(fd, closed) == 0, "close");
	bad[0] = 0;
	bad[1] = closed;
	bad[2] = foreign;
	bad[3] = 0x00dead00beef0123ull;
	bad[4] = ~0ull;
	CHECKF(refcache_weak_new(fd, good, &bad[5]) == 0, "weak");
	CHECKF(refcache_handle_close(fd, bad[5]) == 0, "close weak");
	objs = OBJECTS(fd);
	handles = HANDLES(fd);
	for (i = 0; i < 6; i++)
		for (op = 0; op < NOPS; op++) {
			if (op == OP_STORE_V && i == 0)
				continue;	/* storing 0 empties the slot: fine */
			r = do_op(fd, op, bad[i], good);
			CHECKF(r == -EBADF, "%s on a %s handle: %d", opname[op], badname[i], r);
		}
	CHECKF(refcount(fd, good) == 1, "good untouched: %lld", refcount(fd, good));
	CHECKF(OBJECTS(fd) == objs && HANDLES(fd) == handles, "nothing made");
	/* Heap 2's handle still works there. */
	CHECKF(refcount(fd2, foreign) == 1, "foreign object intact");
	r = refcache_store(fd2, foreign, 0, good);
	CHECKF(r == -EBADF, "storing heap 1's handle in heap 2: %d", r);

	/* Stale ids never reach a new object: the generation differs. */
	for (i = 0; i < 64; i++) {
		CHECKF(refcache_new(fd, cache, &fresh[i]) == 0, "new %d", i);
		CHECKF(fresh[i] != closed && fresh[i] != bad[5], "id %d reused: %#llx", i,
		       (unsigned long long)fresh[i]);
		for (j = 0; j < i; j++)
			CHECKF(fresh[i] != fresh[j], "duplicate id");
		CHECKF(fresh[i] != foreign, "same id as heap 2's");
		r = refcache_write(fd, closed, 0, "x", 1);
		CHECKF(r == -EBADF, "stale write after new %d: %d", i, r);
		r = refcache_handle_close(fd, closed);
		CHECKF(r == -EBADF, "stale close after new %d: %d", i, r);
	}
	for (i = 0; i < 64; i++) {
		char c = 1;

		CHECKF(refcache_read(fd, fresh[i], 0, &c, 1) == 0 && c == 0, "fresh %d untouched", i);
		CHECKF(refcount(fd, fresh[i]) == 1, "fresh %d refcount", i);
		CHECKF(refcache_handle_close(fd, fresh[i]) == 0, "close %d", i);
	}
	/* Double close. */
	CHECKF(refcache_dup(fd, good, &closed) == 0, "dup");
	CHECKF(refcache_handle_close(fd, closed) == 0, "close dup");
	r = refcache_handle_close(fd, closed);
	CHECKF(r == -EBADF, "double close: %d", r);
	CHECKF(refcount(fd, good) == 1, "refcount after double close");
	refcache_close(fd2);
	refcache_close(fd);
	return 0;
}

static int t_weak_where_strong(void)
{
	int cache, fd = setup(&cache, 2, 16), op, r;
	uint64_t h, w, w2, s;

	if (fd < 0)
		return -1;
	CHECKF(refcache_new(fd, cache, &h) == 0, "new");
	CHECKF(refcache_weak_new(fd, h, &w) == 0 && w && w != h, "weak_new");
	for (op = 0; op < NOPS; op++) {
		if (op == OP_CLOSE || op == OP_WEAK_UPGRADE)
			continue;
		r = do_op(fd, op, w, h);
		CHECKF(r == -EINVAL, "%s on a weak handle: %d", opname[op], r);
	}
	r = refcache_weak_upgrade(fd, h, &s);
	CHECKF(r == -EINVAL, "upgrade of a strong handle: %d", r);
	CHECKF(refcount(fd, h) == 1, "refcount %lld", refcount(fd, h));
	CHECKF(refcache_weak_new(fd, h, &w2) == 0 && w2 != w, "second weak");
	CHECKF(HANDLES(fd) == 3, "handles %lld", HANDLES(fd));
	CHECKF(refcache_handle_close(fd, w2) == 0, "close weak");
	CHECKF(refcache_handle_close(fd, w) == 0, "close weak");
	CHECKF(refcache_handle_close(fd, w) == -EBADF, "close weak twice");
	CHECKF(HANDLES(fd) == 1, "handles %lld", HANDLES(fd));
	refcache_close(fd);
	return 0;
}

static int t_slot_range(void)
{
	int cache, fd = setup(&cache, 3, 8), r, c0;
	uint64_t a, b, out;

	if (fd < 0)
		return -1;
	CHECKF(refcache_new(fd, cache, &a) == 0 && refcache_new(fd, cache, &b) == 0, "new");
	CHECKF(refcache_store(fd, a, 2, b) == 0, "store in the last slot");
	CHECKF(refcache_load(fd, a, 2, &out) == 0 && out, "load the last slot");
	CHECKF(refcache_handle_close(fd, out) == 0, "close");
	r = refcache_store(fd, a, 3, b);
	CHECKF(r == -EINVAL, "store slot nslots: %d", r);
	r = refcache_store(fd, a, 0xffffffffu, b);
	CHECKF(r == -EINVAL, "store slot ~0: %d", r);
	r = refcache_store(fd, a, 3, 0);
	CHECKF(r == -EINVAL, "store empty in slot nslots: %d", r);
	r = refcache_load(fd, a, 3, &out);
	CHECKF(r == -EINVAL, "load slot nslots: %d", r);
	r = refcache_load(fd, a, 0x80000000u, &out);
	CHECKF(r == -EINVAL, "load slot 2^31: %d", r);
	CHECKF(refcount(fd, b) == 2, "b refcount %lld", refcount(fd, b));
	/* A cache without slots has none to load or store. */
	c0 = refcache_cache_create(fd, "noslots", 8, 0, 0);
	CHECKF(c0 > 0, "slotless cache %d", c0);
	CHECKF(refcache_new(fd, c0, &out) == 0, "new slotless");
	r = refcache_store(fd, out, 0, b);
	CHECKF(r == -EINVAL, "store in slotless: %d", r);
	r = refcache_load(fd, out, 0, &a);
	CHECKF(r == -EINVAL, "load from slotless: %d", r);
	refcache_close(fd);
	return 0;
}

static int t_payload_bounds(void)
{
	int cache, fd = setup(&cache, 1, 16), r;
	long pg = sysconf(_SC_PAGESIZE);
	char buf[32] = { 0 };
	char *map;
	uint64_t h;

	if (fd < 0)
		return -1;
	CHECKF(refcache_new(fd, cache, &h) == 0, "new");
	CHECKF(refcache_read(fd, h, 0, buf, 16) == 0, "whole payload");
	CHECKF(refcache_read(fd, h, 16, buf, 0) == 0, "len 0 at the end");
	CHECKF(refcache_read(fd, h, 0, NULL, 0) == 0, "len 0, NULL buf");
	CHECKF(refcache_write(fd, h, 8, NULL, 0) == 0, "write len 0, NULL buf");
	CHECKF(refcache_write(fd, h, 15, "z", 1) == 0, "last byte");
	r = refcache_read(fd, h, 0, buf, 17);
	CHECKF(r == -EINVAL, "read 17 of 16: %d", r);
	r = refcache_write(fd, h, 15, buf, 2);
	CHECKF(r == -EINVAL, "write across the end: %d", r);
	r = refcache_read(fd, h, 16, buf, 1);
	CHECKF(r == -EINVAL, "read at the end: %d", r);
	r = refcache_read(fd, h, 17, buf, 0);
	CHECKF(r == -EINVAL, "len 0 past the end: %d", r);
	r = refcache_read(fd, h, 0xffffffffu, buf, 2);
	CHECKF(r == -EINVAL, "offset ~0 len 2 (wraps to 1): %d", r);
	r = refcache_write(fd, h, 0xffffffffu, buf, 2);
	CHECKF(r == -EINVAL, "write offset ~0 len 2: %d", r);
	r = refcache_read(fd, h, 1, buf, 0xffffffffu);
	CHECKF(r == -EINVAL, "offset 1 len ~0: %d", r);
	r = refcache_write(fd, h, 0x80000000u, buf, 0x80000000u);
	CHECKF(r == -EINVAL, "2^31 + 2^31: %d", r);
	/* Bad buffers. */
	r = refcache_read(fd, h, 0, NULL, 4);
	CHECKF(r == -EFAULT, "read into NULL: %d", r);
	r = refcache_write(fd, h, 0, NULL, 4);
	CHECKF(r == -EFAULT, "write from NULL: %d", r);
	r = refcache_write(fd, h, 0, (void *)16, 4);
	CHECKF(r == -EFAULT, "write from low address: %d", r);
	map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECKF(map != MAP_FAILED, "mmap");
	munmap(map + pg, pg);
	r = refcache_read(fd, h, 0, map + pg - 4, 8);
	CHECKF(r == -EFAULT, "read straddling an unmapped page: %d", r);
	r = refcache_write(fd, h, 0, map + pg - 4, 8);
	CHECKF(r == -EFAULT, "write straddling an unmapped page: %d", r);
	mprotect(map, pg, PROT_READ);
	r = refcache_read(fd, h, 0, map, 8);
	CHECKF(r == -EFAULT, "read into read-only memory: %d", r);
	CHECKF(refcache_write(fd, h, 0, map, 8) == 0, "write from read-only memory");
	munmap(map, pg);
	/* A kernel address is a bad user pointer too. */
	r = refcache_read(fd, h, 0, (void *)(uintptr_t)(sizeof(void *) == 8 ?
		0xffff888000000000ull : 0xc0000000u), 4);
	CHECKF(r == -EFAULT, "read into a kernel address: %d", r);
	memset(buf, 1, sizeof(buf));
	CHECKF(refcache_read(fd, h, 0, buf, 16) == 0, "read");
	CHECKF(buf[15] == 'z' && buf[0] == 0, "contents kept: %d %d", buf[15], buf[0]);
	refcache_close(fd);
	return 0;
}

/* One ioctl with its struct size and a valid argument for it. */
struct ioc_case {
	const char *name;
	unsigned long cmd;
	uint32_t ver0, size;
	int reserved_off;	/* offset of a must-be-zero u32, or -1 */
};

static int fill_arg(int fd, int idx, void *arg, int cache, uint64_t h,
		    const struct ioc_case *c)
{
	static char payload[8];
	static int serial;

	memset(arg, 0, c->size > 8192 ? 8192 : c->size);
	switch (idx) {
	case 0: {
		struct refcache_cache_create *cc = arg;

		snprintf(cc->name, sizeof(cc->name), "sz%d", serial++);
		cc->payload_size = 8;
		break;
	}
	case 1:
		((struct refcache_cache_destroy *)arg)->cache_id = 0x7ff0;
		break;
	case 2:
		((struct refcache_handle_op *)arg)->handle = h;
		break;
	case 3: {
		struct refcache_payload_io *io = arg;

		io->handle = h;
		io->len = 8;
		io->buf = (uintptr_t)payload;
		break;
	}
	case 4:
		((struct refcache_obj_info *)arg)->handle = h;
		break;
	case 5:
		break;
	case 6:
		break;	/* limits 0/0: keep both */
	case 7: {
		static struct refcache_op op;
		struct refcache_batch *b = arg;

		memset(&op, 0, sizeof(op));
		op.op = REFCACHE_OP_REFCOUNT;
		op.handle = h;
		b->count = 1;
		b->ops = (uintptr_t)&op;
		break;
	}
	}
	(void)fd;
	(void)cache;
	((uint32_t *)arg)[0] = c->size;
	return 0;
}

static const struct ioc_case ioc_cases[] = {
	{ "cache_create", REFCACHE_IOC_CACHE_CREATE, REFCACHE_CACHE_CREATE_SIZE_VER0,
	  sizeof(struct refcache_cache_create), 20 },
	{ "cache_destroy", REFCACHE_IOC_CACHE_DESTROY, REFCACHE_CACHE_DESTROY_SIZE_VER0,
	  sizeof(struct refcache_cache_destroy), 12 },
	{ "dup", REFCACHE_IOC_DUP, REFCACHE_HANDLE_OP_SIZE_VER0,
	  sizeof(struct refcache_handle_op), 20 },
	{ "read", REFCACHE_IOC_READ, REFCACHE_PAYLOAD_IO_SIZE_VER0,
	  sizeof(struct refcache_payload_io), -1 },
	{ "info", REFCACHE_IOC_INFO, REFCACHE_OBJ_INFO_SIZE_VER0,
	  sizeof(struct refcache_obj_info), -1 },
	{ "heap_info", REFCACHE_IOC_HEAP_INFO, REFCACHE_HEAP_INFO_SIZE_VER0,
	  sizeof(struct refcache_heap_info), -1 },
	{ "set_limits", REFCACHE_IOC_SET_LIMITS, REFCACHE_HEAP_LIMITS_SIZE_VER0,
	  sizeof(struct refcache_heap_limits), -1 },
	{ "batch", REFCACHE_IOC_BATCH, REFCACHE_BATCH_SIZE_VER0,
	  sizeof(struct refcache_batch), -1 },
};
#define NCASES (int)(sizeof(ioc_cases) / sizeof(ioc_cases[0]))

/* Expected result of a well-formed call of case @i. */
static int good_result(int i)
{
	return i == 1 ? -ENOENT : 0;	/* destroying an unknown cache */
}

static int t_struct_sizes(void)
{
	static unsigned char arg[8192 + 64];
	int cache, fd = setup(&cache, 1, 8), i, r;
	uint64_t h;
	long long handles;

	if (fd < 0)
		return -1;
	CHECKF(refcache_new(fd, cache, &h) == 0, "new");
	for (i = 0; i < NCASES; i++) {
		const struct ioc_case *c = &ioc_cases[i];
		struct ioc_case cc = *c;

		CHECKF(c->ver0 == c->size, "%s: VER0 %u is sizeof %u", c->name, c->ver0, c->size);
		fill_arg(fd, i, arg, cache, h, c);
		r = raw_ioctl(fd, c->cmd, arg);
		CHECKF(r == good_result(i), "%s: well-formed: %d", c->name, r);
		/* Newer caller: zero tail accepted. */
		cc.size = c->size + 16;
		fill_arg(fd, i, arg, cache, h, &cc);
		r = raw_ioctl(fd, c->cmd, arg);
		CHECKF(r == good_result(i), "%s: zero tail: %d", c->name, r);

		handles = HANDLES(fd);
		fill_arg(fd, i, arg, cache, h, c);
		((uint32_t *)arg)[0] = 0;
		r = raw_ioctl(fd, c->cmd, arg);
		CHECKF(r == -EINVAL, "%s: size 0: %d", c->name, r);
		fill_arg(fd, i, arg, cache, h, c);
		((uint32_t *)arg)[0] = c->ver0 - 1;
		r = raw_ioctl(fd, c->cmd, arg);
		CHECKF(r == -EINVAL, "%s: size VER0-1: %d", c->name, r);
		fill_arg(fd, i, arg, cache, h, c);
		((uint32_t *)arg)[0] = 8;
		r = raw_ioctl(fd, c->cmd, arg);
		CHECKF(r == -EINVAL, "%s: size 8: %d", c->name, r);

		/* Non-zero tail refused. */
		cc.size = c->size + 16;
		fill_arg(fd, i, arg, cache, h, &cc);
		arg[c->size + 9] = 1;
		r = raw_ioctl(fd, c->cmd, arg);
		CHECKF(r == -E2BIG, "%s: non-zero tail: %d", c->name, r);
		cc.size = 8192;
		fill_arg(fd, i, arg, cache, h, &cc);
		r = raw_ioctl(fd, c->cmd, arg);
		CHECKF(r == -E2BIG, "%s: size 8192: %d", c->name, r);
		cc.size = 0xffffffffu;
		fill_arg(fd, i, arg, cache, h, &cc);
		r = raw_ioctl(fd, c->cmd, arg);
		CHECKF(r == -E2BIG, "%s: size ~0: %d", c->name, r);
		CHECKF(HANDLES(fd) == handles, "%s: refused calls made handles", c->name);
	}
	/* The zero-tail calls of cache_create made caches; dup made handles. */
	CHECKF(CACHES(fd) == 3, "caches %lld", CACHES(fd));
	refcache_close(fd);
	return 0;
}

static int t_reserved_flags(void)
{
	static unsigned char arg[256];
	int cache, fd = setup(&cache, 1, 8), i, r;
	uint64_t h;

	if (fd < 0)
		return -1;
	CHECKF(refcache_new(fd, cache, &h) == 0, "new");
	for (i = 0; i < NCASES; i++) {
		const struct ioc_case *c = &ioc_cases[i];

		fill_arg(fd, i, arg, cache, h, c);
		((uint32_t *)arg)[1] = 1u << 30;
		r = raw_ioctl(fd, c->cmd, arg);
		CHECKF(r == -EINVAL, "%s: flags bit 30: %d", c->name, r);
		if (i != 0 && i != 7) {	/* the two with defined flags */
			fill_arg(fd, i, arg, cache, h, c);
			((uint32_t *)arg)[1] = 1;
			r = raw_ioctl(fd, c->cmd, arg);
			CHECKF(r == -EINVAL, "%s: flags bit 0: %d", c->name, r);
		}
		if (c->reserved_off >= 0) {
			fill_arg(fd, i, arg, cache, h, c);
			*(uint32_t *)(arg + c->reserved_off) = 0x100;
			r = raw_ioctl(fd, c->cmd, arg);
			CHECKF(r == -EINVAL, "%s: reserved: %d", c->name, r);
		}
	}
	/* Every handle op carries the reserved field. */
	{
		static const unsigned long cmds[] = {
			REFCACHE_IOC_OBJ_NEW, REFCACHE_IOC_CLOSE, REFCACHE_IOC_SLOT_LOAD,
			REFCACHE_IOC_SLOT_STORE, REFCACHE_IOC_WEAK_NEW,
		};
		struct refcache_handle_op op;
		unsigned int k;

		for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
			memset(&op, 0, sizeof(op));
			op.size = sizeof(op);
			op.handle = cmds[k] == REFCACHE_IOC_OBJ_NEW ? (uint64_t)cache : h;
			op.reserved = 1;
			r = raw_ioctl(fd, cmds[k], &op);
			CHECKF(r == -EINVAL, "handle op %u: reserved: %d", k, r);
			op.reserved = 0;
			op.flags = 1;
			r = raw_ioctl(fd, cmds[k], &op);
			CHECKF(r == -EINVAL, "handle op %u: flags: %d", k, r);
		}
	}
	/* Fields a command does not use must be zero; inputs of outputs too. */
	{
		struct refcache_handle_op op;
		struct refcache_cache_create cc;
		struct refcache_batch b;
		struct refcache_op bop;

		memset(&op, 0, sizeof(op));
		op.size = sizeof(op);
		op.handle = h;
		op.slot = 1;
		r = raw_ioctl(fd, REFCACHE_IOC_DUP, &op);
		CHECKF(r == -EINVAL, "dup with a slot: %d", r);
		op.slot = 0;
		op.value = h;
		r = raw_ioctl(fd, REFCACHE_IOC_DUP, &op);
		CHECKF(r == -EINVAL, "dup with a value: %d", r);
		r = raw_ioctl(fd, REFCACHE_IOC_SLOT_LOAD, &op);
		CHECKF(r == -EINVAL, "load with a value: %d", r);
		memset(&cc, 0, sizeof(cc));
		cc.size = sizeof(cc);
		strcpy(cc.name, "in");
		cc.cache_id = 5;
		r = raw_ioctl(fd, REFCACHE_IOC_CACHE_CREATE, &cc);
		CHECKF(r == -EINVAL, "cache_create with cache_id set: %d", r);
		memset(&bop, 0, sizeof(bop));
		bop.op = REFCACHE_OP_DUP;
		bop.handle = h;
		memset(&b, 0, sizeof(b));
		b.size = sizeof(b);
		b.count = 1;
		b.done = 1;
		b.ops = (uintptr_t)&bop;
		r = raw_ioctl(fd, REFCACHE_IOC_BATCH, &b);
		CHECKF(r == -EINVAL, "batch with done set: %d", r);
	}
	CHECKF(CACHES(fd) == 1, "caches %lld", CACHES(fd));
	CHECKF(HANDLES(fd) == 1 && OBJECTS(fd) == 1, "nothing made or closed: %lld %lld",
	       HANDLES(fd), OBJECTS(fd));
	CHECKF(refcount(fd, h) == 1, "refcount %lld", refcount(fd, h));
	refcache_close(fd);
	return 0;
}

static int t_bad_pointers(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	static const unsigned long cmds[] = {
		REFCACHE_IOC_CACHE_CREATE, REFCACHE_IOC_CACHE_DESTROY, REFCACHE_IOC_OBJ_NEW,
		REFCACHE_IOC_DUP, REFCACHE_IOC_CLOSE, REFCACHE_IOC_SLOT_LOAD,
		REFCACHE_IOC_SLOT_STORE, REFCACHE_IOC_READ, REFCACHE_IOC_WRITE,
		REFCACHE_IOC_INFO, REFCACHE_IOC_WEAK_NEW, REFCACHE_IOC_WEAK_UPGRADE,
		REFCACHE_IOC_HEAP_INFO, REFCACHE_IOC_SET_LIMITS, REFCACHE_IOC_BATCH,
	};
	struct refcache_handle_op *op;
	struct refcache_obj_info *info;
	struct refcache_heap_info *hinfo;
	int cache, fd = setup(&cache, 1, 8), r;
	unsigned int k;
	char *map;
	uint64_t h;

	if (fd < 0)
		return -1;
	CHECKF(refcache_new(fd, cache, &h) == 0, "new");
	for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
		r = raw_ioctl(fd, cmds[k], NULL);
		CHECKF(r == -EFAULT, "cmd %#x: NULL: %d", (unsigned int)_IOC_NR(cmds[k]), r);
		r = raw_ioctl(fd, cmds[k], (void *)16);
		CHECKF(r == -EFAULT, "cmd %#x: low address: %d", (unsigned int)_IOC_NR(cmds[k]), r);
	}
	map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECKF(map != MAP_FAILED, "mmap");
	munmap(map + pg, pg);
	/* Size readable, the rest beyond the mapping (64: no VER0 is larger). */
	op = (void *)(map + pg - 8);
	op->size = 64;
	op->flags = 0;
	for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
		r = raw_ioctl(fd, cmds[k], op);
		CHECKF(r == -EFAULT, "cmd %#x: straddling: %d", (unsigned int)_IOC_NR(cmds[k]), r);
	}
	/* Read-only struct: the result cannot be written back. */
	info = (void *)map;
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	info->handle = h;
	hinfo = (void *)(map + 128);
	memset(hinfo, 0, sizeof(*hinfo));
	hinfo->size = sizeof(*hinfo);
	mprotect(map, pg, PROT_READ);
	r = raw_ioctl(fd, REFCACHE_IOC_INFO, info);
	CHECKF(r == -EFAULT, "info into read-only: %d", r);
	r = raw_ioctl(fd, REFCACHE_IOC_HEAP_INFO, hinfo);
	CHECKF(r == -EFAULT, "heap_info into read-only: %d", r);
	munmap(map, pg);
	CHECKF(refcount(fd, h) == 1, "refcount %lld", refcount(fd, h));
	refcache_close(fd);
	return 0;
}

/*
 * Nothing is lost when results cannot be returned: a handle the caller
 * could not learn is closed again, a batch whose array is read-only runs
 * nothing, and _IOW commands do not write their struct back.
 */
static int t_no_lost_results(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct refcache_handle_op *op;
	struct refcache_batch b;
	struct refcache_op *bops;
	int cache, fd = setup(&cache, 1, 8), r;
	uint64_t h, h2;
	char *map;

	if (fd < 0)
		return -1;
	CHECKF(refcache_new(fd, cache, &h) == 0 && refcache_dup(fd, h, &h2) == 0, "new, dup");
	map = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECKF(map != MAP_FAILED, "mmap");
	op = (void *)map;
	memset(op, 0, sizeof(*op));
	op->size = sizeof(*op);
	op->handle = h;
	bops = (void *)(map + 256);
	memset(bops, 0, 2 * sizeof(*bops));
	bops[0].op = REFCACHE_OP_DUP;
	bops[0].handle = h;
	bops[1].op = REFCACHE_OP_CLOSE;
	bops[1].handle = h2;
	mprotect(map, pg, PROT_READ);

	r = raw_ioctl(fd, REFCACHE_IOC_DUP, op);
	CHECKF(r == -EFAULT, "dup into read-only: %d", r);
	CHECKF(HANDLES(fd) == 2, "unreturned handle closed again: %lld", HANDLES(fd));
	CHECKF(refcount(fd, h) == 2, "refcount %lld", refcount(fd, h));

	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.count = 2;
	b.ops = (uintptr_t)bops;
	r = raw_ioctl(fd, REFCACHE_IOC_BATCH, &b);
	CHECKF(r == -EFAULT && b.done == 0, "batch on read-only ops: %d, done %u", r, b.done);
	CHECKF(HANDLES(fd) == 2, "batch ran nothing: %lld handles", HANDLES(fd));

	/* CLOSE returns nothing, so a read-only argument is fine. */
	r = raw_ioctl(fd, REFCACHE_IOC_CLOSE, op);
	CHECKF(r == 0, "close from read-only: %d", r);
	CHECKF(HANDLES(fd) == 1 && refcount(fd, h2) == 1, "closed once");
	munmap(map, pg);

	/* Batch entries follow their single ioctl's rules. */
	{
		struct refcache_op bad[3];

		memset(bad, 0, sizeof(bad));
		bad[0].op = 99;
		bad[0].handle = 12345;
		bad[1].op = REFCACHE_OP_DUP;
		bad[1].handle = h2;
		bad[1].value = h2;
		bad[2].op = REFCACHE_OP_CLOSE;
		bad[2].handle = h2;
		bad[2].arg = 1;
		r = refcache_batch(fd, bad, 3, REFCACHE_BATCH_CONTINUE);
		CHECKF(r == 3, "batch ran %d", r);
		CHECKF(bad[0].error == -EINVAL, "unknown op: %d", bad[0].error);
		CHECKF(bad[1].error == -EINVAL, "dup with value: %d", bad[1].error);
		CHECKF(bad[2].error == -EINVAL, "close with arg: %d", bad[2].error);
	}
	CHECKF(HANDLES(fd) == 1, "handles %lld", HANDLES(fd));
	refcache_close(fd);
	return 0;
}

static int t_refcounts(void)
{
	int cache, fd = setup(&cache, 2, 8), r;
	uint64_t a, b, c, d, l, l2;
	char ch;

	if (fd < 0)
		return -1;
	CHECKF(refcache_new(fd, cache, &a) == 0 && refcache_new(fd, cache, &b) == 0 &&
	       refcache_new(fd, cache, &c) == 0, "new");
	CHECKF(refcount(fd, a) == 1, "new: %lld", refcount(fd, a));
	CHECKF(refcache_dup(fd, a, &d) == 0, "dup");
	CHECKF(refcount(fd, a) == 2 && refcount(fd, d) == 2, "dup +1: %lld", refcount(fd, a));
	CHECKF(refcache_handle_close(fd, d) == 0, "close");
	CHECKF(refcount(fd, a) == 1, "close -1: %lld", refcount(fd, a));
	CHECKF(refcache_store(fd, b, 0, a) == 0, "store");
	CHECKF(refcount(fd, a) == 2, "store +1: %lld", refcount(fd, a));
	CHECKF(refcount(fd, b) == 1, "container unchanged: %lld", refcount(fd, b));
	CHECKF(refcache_store(fd, b, 1, a) == 0, "store again");
	CHECKF(refcount(fd, a) == 3, "second slot +1: %lld", refcount(fd, a));
	CHECKF(refcache_store(fd, b, 1, a) == 0, "store the same again");
	CHECKF(refcount(fd, a) == 3, "same value, same count: %lld", refcount(fd, a));
	CHECKF(refcache_store(fd, b, 0, c) == 0, "store over");
	CHECKF(refcount(fd, a) == 2 && refcount(fd, c) == 2, "store over drops old: %lld %lld",
	       refcount(fd, a), refcount(fd, c));
	CHECKF(refcache_store(fd, b, 1, 0) == 0, "empty slot 1");
	CHECKF(refcount(fd, a) == 1, "emptied: %lld", refcount(fd, a));
	CHECKF(refcache_store(fd, b, 1, 0) == 0, "empty an empty slot");
	CHECKF(refcache_load(fd, b, 1, &l) == 0 && l == 0, "load empty: %#llx",
	       (unsigned long long)l);
	CHECKF(refcache_load(fd, b, 0, &l) == 0 && l != 0 && l != c, "load");
	CHECKF(refcount(fd, c) == 3 && refcount(fd, l) == 3, "load +1: %lld", refcount(fd, c));
	CHECKF(refcache_write(fd, l, 0, "L", 1) == 0, "write via loaded");
	CHECKF(refcache_read(fd, c, 0, &ch, 1) == 0 && ch == 'L', "same object");
	CHECKF(refcache_load(fd, b, 0, &l2) == 0 && l2 != l, "second load is a new handle");
	CHECKF(refcount(fd, c) == 4, "second load +1: %lld", refcount(fd, c));
	CHECKF(refcache_handle_close(fd, l2) == 0 && refcache_handle_close(fd, l) == 0, "close");
	CHECKF(refcount(fd, c) == 2, "closes -2: %lld", refcount(fd, c));
	/* A slot referring to its own object. */
	CHECKF(refcache_store(fd, a, 0, a) == 0, "self");
	CHECKF(refcount(fd, a) == 2, "self +1: %lld", refcount(fd, a));
	CHECKF(refcache_store(fd, a, 0, 0) == 0, "unself");
	CHECKF(refcount(fd, a) == 1, "unself: %lld", refcount(fd, a));
	/* Store takes the new reference first: storing what the slot holds
	 * through a handle loaded from it, after the only other handle closed. */
	CHECKF(refcache_handle_close(fd, c) == 0, "close c");
	CHECKF(refcache_load(fd, b, 0, &l) == 0, "load c");
	CHECKF(refcount(fd, l) == 2, "c: slot + handle: %lld", refcount(fd, l));
	CHECKF(refcache_store(fd, b, 0, l) == 0, "store c over c");
	CHECKF(refcount(fd, l) == 2, "unchanged: %lld", refcount(fd, l));
	CHECKF(refcache_read(fd, l, 0, &ch, 1) == 0 && ch == 'L', "still c");
	CHECKF(OBJECTS(fd) == 3, "objects %lld", OBJECTS(fd));
	/* Slot holds the last reference: closing the handle keeps it. */
	CHECKF(refcache_handle_close(fd, l) == 0, "close");
	CHECKF(OBJECTS(fd) == 3, "slot keeps it: %lld", OBJECTS(fd));
	CHECKF(refcache_store(fd, b, 0, 0) == 0, "drop");
	CHECKF(OBJECTS(fd) == 2, "freed at zero: %lld", OBJECTS(fd));
	r = refcache_handle_close(fd, a);
	CHECKF(r == 0 && OBJECTS(fd) == 1, "close a: %d %lld", r, OBJECTS(fd));
	refcache_close(fd);
	return 0;
}

static int t_cascade_1000(void)
{
	int cache, fd = setup(&cache, 1, 24), i;
	long long base_objs, base_handles, base_bytes;
	uint64_t head = 0, h;

	if (fd < 0)
		return -1;
	base_objs = OBJECTS(fd);
	base_handles = HANDLES(fd);
	base_bytes = BYTES(fd);
	for (i = 0; i < 1000; i++) {
		CHECKF(refcache_new(fd, cache, &h) == 0, "new %d", i);
		if (head) {
			CHECKF(refcache_store(fd, h, 0, head) == 0, "link %d", i);
			CHECKF(refcache_handle_close(fd, head) == 0, "close %d", i);
		}
		head = h;
	}
	CHECKF(OBJECTS(fd) == base_objs + 1000, "objects %lld", OBJECTS(fd));
	CHECKF(HANDLES(fd) == base_handles + 1, "handles %lld", HANDLES(fd));
	CHECKF(BYTES(fd) > base_bytes, "bytes %lld", BYTES(fd));
	/* Every link has one reference, from the previous object. */
	CHECKF(refcache_load(fd, head, 0, &h) == 0 && h, "load");
	CHECKF(refcount(fd, h) == 2, "middle link: %lld", refcount(fd, h));
	CHECKF(refcache_handle_close(fd, h) == 0, "close");
	CHECKF(refcache_handle_close(fd, head) == 0, "close head");
	CHECKF(OBJECTS(fd) == base_objs, "objects after cascade %lld", OBJECTS(fd));
	CHECKF(HANDLES(fd) == base_handles, "handles %lld", HANDLES(fd));
	/*
	 * Bytes count what the kernel holds: the allocator keeps one empty
	 * arena as a spare, and the handle table stays; nothing more.
	 */
	CHECKF(BYTES(fd) >= base_bytes && BYTES(fd) <= base_bytes + (256 + 8) * 1024,
	       "bytes %lld, was %lld", BYTES(fd), base_bytes);
	CHECKF(refcache_cache_destroy(fd, cache) == 0, "cache empty again");
	refcache_close(fd);
	return 0;
}

static int t_weak(void)
{
	int cache, fd = setup(&cache, 1, 8), r;
	uint64_t h, w, s, box;
	char ch;

	if (fd < 0)
		return -1;
	CHECKF(refcache_new(fd, cache, &h) == 0, "new");
	CHECKF(refcache_write(fd, h, 0, "W", 1) == 0, "write");
	CHECKF(refcache_weak_new(fd, h, &w) == 0, "weak_new");
	CHECKF(refcount(fd, h) == 1, "weak adds no reference: %lld", refcount(fd, h));
	CHECKF(HANDLES(fd) == 2, "handles %lld", HANDLES(fd));
	CHECKF(refcache_weak_upgrade(fd, w, &s) == 0 && s && s != w && s != h, "upgrade");
	CHECKF(refcount(fd, h) == 2, "upgrade +1: %lld", refcount(fd, h));
	CHECKF(refcache_read(fd, s, 0, &ch, 1) == 0 && ch == 'W', "same object");
	CHECKF(refcache_handle_close(fd, s) == 0, "close upgraded");
	/* Kept alive by a slot only: upgrade still works. */
	CHECKF(refcache_new(fd, cache, &box) == 0, "box");
	CHECKF(refcache_store(fd, box, 0, h) == 0, "store");
	CHECKF(refcache_handle_close(fd, h) == 0, "close strong");
	CHECKF(refcache_weak_upgrade(fd, w, &s) == 0 && s, "upgrade via slot");
	CHECKF(refcount(fd, s) == 2, "slot + upgraded: %lld", refcount(fd, s));
	CHECKF(refcache_handle_close(fd, s) == 0, "close");
	CHECKF(refcache_store(fd, box, 0, 0) == 0, "drop the last reference");
	CHECKF(OBJECTS(fd) == 1, "object died: %lld", OBJECTS(fd));
	s = 0x1234;
	r = refcache_weak_upgrade(fd, w, &s);
	CHECKF(r == -ENOENT, "upgrade after death: %d", r);
	r = refcache_weak_upgrade(fd, w, &s);
	CHECKF(r == -ENOENT, "again: %d", r);
	r = refcache_info(fd, w, &(struct refcache_obj_info){ 0 });
	CHECKF(r == -EINVAL || r == -ENOENT, "info on a dead weak: %d", r);
	CHECKF(HANDLES(fd) == 2, "weak still open: %lld", HANDLES(fd));
	CHECKF(refcache_handle_close(fd, w) == 0, "close dead weak");
	r = refcache_weak_upgrade(fd, w, &s);
	CHECKF(r == -EBADF, "upgrade closed weak: %d", r);
	CHECKF(HANDLES(fd) == 1, "handles %lld", HANDLES(fd));
	/* Closing the heap with weak handles open. */
	CHECKF(refcache_weak_new(fd, box, &w) == 0, "weak");
	refcache_close(fd);
	return 0;
}

static void op_set(struct refcache_op *o, int code, uint64_t h, uint32_t arg, uint64_t value)
{
	memset(o, 0, sizeof(*o));
	o->op = code;
	o->handle = h;
	o->arg = arg;
	o->value = value;
	o->error = 0x5a5a;
	o->result = 0x5a5a5a5a;
}

static int t_batch(void)
{
	struct refcache_op ops[8];
	int cache, fd = setup(&cache, 2, 8), r, i;
	uint64_t a, b, c, w;

	if (fd < 0)
		return -1;
	for (i = 0; i < 3; i++)
		op_set(&ops[i], REFCACHE_OP_NEW, 0, cache, 0);
	r = refcache_batch(fd, ops, 3, 0);
	CHECKF(r == 3, "done %d", r);
	for (i = 0; i < 3; i++)
		CHECKF(ops[i].error == 0 && ops[i].result, "new %d: %d", i, ops[i].error);
	a = ops[0].result;
	b = ops[1].result;
	c = ops[2].result;
	CHECKF(a != b && b != c && a != c, "distinct");
	CHECKF(refcount(fd, a) == 1 && OBJECTS(fd) == 3, "made");

	op_set(&ops[0], REFCACHE_OP_DUP, a, 0, 0);
	op_set(&ops[1], REFCACHE_OP_REFCOUNT, a, 0, 0);
	op_set(&ops[2], REFCACHE_OP_SLOT_STORE, a, 1, b);
	op_set(&ops[3], REFCACHE_OP_REFCOUNT, b, 0, 0);
	op_set(&ops[4], REFCACHE_OP_SLOT_LOAD, a, 1, 0);
	op_set(&ops[5], REFCACHE_OP_SLOT_LOAD, a, 0, 0);
	op_set(&ops[6], REFCACHE_OP_WEAK_NEW, c, 0, 0);
	op_set(&ops[7], REFCACHE_OP_CLOSE, c, 0, 0);
	r = refcache_batch(fd, ops, 8, 0);
	CHECKF(r == 8, "done %d", r);
	for (i = 0; i < 8; i++)
		CHECKF(ops[i].error == 0, "op %d: %d", i, ops[i].error);
	CHECKF(ops[0].result && ops[0].result != a, "dup result");
	CHECKF(ops[1].result == 2, "refcount after dup: %llu", (unsigned long long)ops[1].result);
	CHECKF(ops[3].result == 2, "refcount after store: %llu", (unsigned long long)ops[3].result);
	CHECKF(ops[4].result && refcount(fd, ops[4].result) == 3, "load gives b");
	CHECKF(ops[5].result == 0, "load of an empty slot: %#llx",
	       (unsigned long long)ops[5].result);
	w = ops[6].result;
	CHECKF(w && OBJECTS(fd) == 2, "c closed, objects %lld", OBJECTS(fd));
	CHECKF(refcache_handle_close(fd, ops[0].result) == 0 &&
	       refcache_handle_close(fd, ops[4].result) == 0, "close results");

	/* Per-op errors, stopping at the first failure. */
	op_set(&ops[0], REFCACHE_OP_REFCOUNT, a, 0, 0);
	op_set(&ops[1], REFCACHE_OP_WEAK_UPGRADE, w, 0, 0);	/* -ENOENT */
	op_set(&ops[2], REFCACHE_OP_DUP, a, 0, 0);
	r = refcache_batch(fd, ops, 3, 0);
	CHECKF(r == 2, "stops after the failed one: done %d", r);
	CHECKF(ops[0].error == 0 && ops[0].result == 1, "op 0: %d %llu", ops[0].error,
	       (unsigned long long)ops[0].result);
	CHECKF(ops[1].error == -ENOENT, "op 1: %d", ops[1].error);
	CHECKF(refcount(fd, a) == 1, "op 2 not run: %lld", refcount(fd, a));
	CHECKF(HANDLES(fd) == 3, "handles %lld", HANDLES(fd));

	op_set(&ops[0], REFCACHE_OP_CLOSE, 0, 0, 0);		/* -EBADF */
	op_set(&ops[1], REFCACHE_OP_DUP, a, 0, 0);
	op_set(&ops[2], REFCACHE_OP_SLOT_STORE, a, 2, b);	/* -EINVAL */
	op_set(&ops[3], REFCACHE_OP_DUP, w, 0, 0);		/* weak: -EINVAL */
	op_set(&ops[4], REFCACHE_OP_NEW, 0, 0x7ff0, 0);		/* -ENOENT */
	op_set(&ops[5], REFCACHE_OP_REFCOUNT, a, 0, 0);
	op_set(&ops[6], 99, a, 0, 0);				/* unknown op */
	op_set(&ops[7], REFCACHE_OP_DUP, a, 0, 0);
	ops[7].flags = 1;					/* bad op flags */
	r = refcache_batch(fd, ops, 8, REFCACHE_BATCH_CONTINUE);
	CHECKF(r == 8, "continue runs all: done %d", r);
	CHECKF(ops[0].error == -EBADF, "close 0: %d", ops[0].error);
	CHECKF(ops[1].error == 0 && ops[1].result, "dup: %d", ops[1].error);
	CHECKF(ops[2].error == -EINVAL, "slot 2: %d", ops[2].error);
	CHECKF(ops[3].error == -EINVAL, "dup weak: %d", ops[3].error);
	CHECKF(ops[4].error == -ENOENT, "new unknown cache: %d", ops[4].error);
	CHECKF(ops[5].error == 0 && ops[5].result == 2, "refcount %llu",
	       (unsigned long long)ops[5].result);
	CHECKF(ops[6].error == -EINVAL, "unknown op: %d", ops[6].error);
	CHECKF(ops[7].error == -EINVAL, "op flags: %d", ops[7].error);
	CHECKF(refcount(fd, a) == 2, "one dup ran: %lld", refcount(fd, a));
	op_set(&ops[0], REFCACHE_OP_DUP, a, 0, 0);
	ops[0].reserved = 1;
	r = refcache_batch(fd, ops, 1, 0);
	CHECKF(r == 1 && ops[0].error == -EINVAL, "op reserved: %d %d", r, ops[0].error);
	CHECKF(refcache_handle_close(fd, ops[1].result) == 0, "close");
	/* Without CONTINUE, a failure in the first op. */
	op_set(&ops[0], REFCACHE_OP_CLOSE, 0, 0, 0);
	op_set(&ops[1], REFCACHE_OP_DUP, a, 0, 0);
	r = refcache_batch(fd, ops, 2, 0);
	CHECKF(r == 1 && ops[0].error == -EBADF, "first fails: %d %d", r, ops[0].error);

	/* Bad batches. */
	r = refcache_batch(fd, ops, 0, 0);
	CHECKF(r == -EINVAL, "count 0: %d", r);
	r = refcache_batch(fd, ops, REFCACHE_BATCH_MAX + 1, 0);
	CHECKF(r == -E2BIG, "count max+1: %d", r);
	r = refcache_batch(fd, ops, 0xffffffffu, 0);
	CHECKF(r == -E2BIG, "count ~0: %d", r);
	r = refcache_batch(fd, NULL, 1, 0);
	CHECKF(r == -EFAULT, "NULL ops: %d", r);
	r = refcache_batch(fd, (void *)16, 4, 0);
	CHECKF(r == -EFAULT, "low ops: %d", r);
	op_set(&ops[0], REFCACHE_OP_REFCOUNT, a, 0, 0);
	r = refcache_batch(fd, ops, 1, 1u << 7);
	CHECKF(r == -EINVAL, "unknown batch flag: %d", r);
	CHECKF(refcount(fd, a) == 1 && HANDLES(fd) == 3, "nothing ran: %lld %lld",
	       refcount(fd, a), HANDLES(fd));
	refcache_close(fd);
	return 0;
}

static int t_batch_max(void)
{
	static struct refcache_op ops[REFCACHE_BATCH_MAX];
	int cache, fd = setup(&cache, 1, 8), r, i;

	if (fd < 0)
		return -1;
	for (i = 0; i < REFCACHE_BATCH_MAX; i++)
		op_set(&ops[i], REFCACHE_OP_NEW, 0, cache, 0);
	r = refcache_batch(fd, ops, REFCACHE_BATCH_MAX, 0);
	CHECKF(r == REFCACHE_BATCH_MAX, "done %d", r);
	CHECKF(OBJECTS(fd) == REFCACHE_BATCH_MAX, "objects %lld", OBJECTS(fd));
	for (i = 0; i < REFCACHE_BATCH_MAX; i++)
		op_set(&ops[i], REFCACHE_OP_CLOSE, ops[i].result, 0, 0);
	r = refcache_batch(fd, ops, REFCACHE_BATCH_MAX, 0);
	CHECKF(r == REFCACHE_BATCH_MAX, "done %d", r);
	for (i = 0; i < REFCACHE_BATCH_MAX; i++)
		CHECKF(ops[i].error == 0, "close %d: %d", i, ops[i].error);
	CHECKF(OBJECTS(fd) == 0 && HANDLES(fd) == 0, "all gone");
	refcache_close(fd);
	return 0;
}

static int t_limits(void)
{
	struct refcache_heap_info hi;
	int cache, fd = setup(&cache, 1, 64), r;
	uint64_t h[4];

	if (fd < 0)
		return -1;
	CHECKF(refcache_heap_info(fd, &hi) == 0, "heap_info");
	CHECKF(hi.heap_id > 0, "heap id");
	CHECKF(hi.max_objects >= 1000000, "default object limit %llu too low for the tests",
	       (unsigned long long)hi.max_objects);
	CHECKF(hi.max_bytes > 0, "byte limit");
	CHECKF(refcache_new(fd, cache, &h[0]) == 0, "new");
	r = refcache_set_limits(fd, 0, 0);
	CHECKF(r == 0, "0/0 keeps: %d", r);
	CHECKF(refcache_set_limits(fd, 3, 0) == 0, "lower objects to 3");
	CHECKF(refcache_heap_info(fd, &hi) == 0 && hi.max_objects == 3, "limit %llu",
	       (unsigned long long)hi.max_objects);
	CHECKF(refcache_new(fd, cache, &h[1]) == 0 && refcache_new(fd, cache, &h[2]) == 0, "two more");
	r = refcache_new(fd, cache, &h[3]);
	CHECKF(r == -EDQUOT, "fourth: %d", r);
	{
		struct refcache_op op;

		op_set(&op, REFCACHE_OP_NEW, 0, cache, 0);
		r = refcache_batch(fd, &op, 1, 0);
		CHECKF(r == 1 && op.error == -EDQUOT, "batch new: %d %d", r, op.error);
	}
	r = refcache_set_limits(fd, 4, 0);
	CHECKF(r == -EPERM, "raise: %d", r);
	r = refcache_set_limits(fd, 2, 0);
	CHECKF(r == -EBUSY, "below usage: %d", r);
	CHECKF(refcache_set_limits(fd, 3, 0) == 0, "equal to usage");
	CHECKF(OBJECTS(fd) == 3, "objects %lld", OBJECTS(fd));
	CHECKF(refcache_handle_close(fd, h[2]) == 0, "close");
	CHECKF(refcache_new(fd, cache, &h[2]) == 0, "room again");
	CHECKF(refcache_dup(fd, h[2], &h[3]) == 0, "dup needs no object");
	/* Bytes. */
	CHECKF(refcache_heap_info(fd, &hi) == 0, "heap_info");
	r = refcache_set_limits(fd, 0, hi.bytes - 1);
	CHECKF(r == -EBUSY, "bytes below usage: %d", r);
	if (hi.max_bytes != UINT64_MAX) {
		r = refcache_set_limits(fd, 0, hi.max_bytes + 1);
		CHECKF(r == -EPERM, "raise bytes: %d", r);
	}
	CHECKF(refcache_set_limits(fd, 0, hi.bytes) == 0, "bytes = usage");
	CHECKF(refcache_handle_close(fd, h[0]) == 0, "close");
	CHECKF(refcache_set_limits(fd, 10, 0) == -EPERM, "objects still limited");
	r = refcache_new(fd, cache, &h[0]);
	CHECKF(r == 0, "reuses the freed bytes: %d", r);
	r = refcache_new(fd, cache, &h[3]);
	CHECKF(r == -EDQUOT, "over the byte or object limit: %d", r);
	/* Another heap has its own limits. */
	{
		int fd2 = refcache_open(), c2;
		uint64_t x;

		CHECKF(fd2 >= 0, "open");
		c2 = refcache_cache_create(fd2, "other", 64, 1, 0);
		r = refcache_new(fd2, c2, &x);
		refcache_close(fd2);
		CHECKF(c2 > 0 && r == 0, "heap 2 unaffected: %d", r);
	}
	refcache_close(fd);
	return 0;
}

/* --- eight threads ------------------------------------------------- */

#define NTHREADS 8
#define NSHARED 16
#define TSTEPS 1500
#define TMAX 24

static int th_fd, th_cache;
static uint64_t th_root;
static uint32_t next_id = 1;

struct thr {
	pthread_t tid;
	unsigned int seed;
	uint64_t h[TMAX];	/* strong handles */
	int n;
	long errors;
	char msg[160];
};

static uint32_t obj_id(int fd, uint64_t h)
{
	uint32_t id = 0;

	if (refcache_read(fd, h, 0, &id, sizeof(id)))
		return 0;
	return id;
}

static void th_fail(struct thr *t, const char *what, int r)
{
	if (!t->errors++)
		snprintf(t->msg, sizeof(t->msg), "%s: %d", what, r);
}

static void *thread_main(void *arg)
{
	struct thr *t = arg;
	int step, r;

	for (step = 0; step < TSTEPS; step++) {
		int op = rand_r(&t->seed) % 10;
		int i = t->n ? rand_r(&t->seed) % t->n : -1;
		uint32_t slot = rand_r(&t->seed) % NSHARED;
		uint64_t out = 0;

		if (t->n == 0 || (t->n < TMAX && op == 0)) {
			uint32_t id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);

			r = refcache_new(th_fd, th_cache, &out);
			if (r)
				th_fail(t, "new", r);
			else if ((r = refcache_write(th_fd, out, 0, &id, sizeof(id))))
				th_fail(t, "write id", r);
			else
				t->h[t->n++] = out;
			continue;
		}
		switch (op) {
		case 1:
			if (t->n >= TMAX)
				break;
			r = refcache_dup(th_fd, t->h[i], &out);
			if (r)
				th_fail(t, "dup", r);
			else
				t->h[t->n++] = out;
			break;
		case 2:
		case 3:
			r = refcache_handle_close(th_fd, t->h[i]);
			if (r)
				th_fail(t, "close", r);
			t->h[i] = t->h[--t->n];
			break;
		case 4:
			if (t->n >= TMAX)
				break;
			r = refcache_load(th_fd, th_root, slot, &out);
			if (r)
				th_fail(t, "load", r);
			else if (out)
				t->h[t->n++] = out;
			break;
		case 5:
			r = refcache_store(th_fd, th_root, slot, t->h[i]);
			if (r)
				th_fail(t, "store", r);
			break;
		case 6:
			r = refcache_store(th_fd, th_root, slot, 0);
			if (r)
				th_fail(t, "store 0", r);
			break;
		case 7: {
			struct refcache_obj_info info;

			r = refcache_info(th_fd, t->h[i], &info);
			if (r || info.refcount < 1)
				th_fail(t, "info", r);
			break;
		}
		case 8: {
			uint32_t v = step;

			r = refcache_write(th_fd, t->h[i], 4, &v, sizeof(v));
			if (r)
				th_fail(t, "write", r);
			else if (!obj_id(th_fd, t->h[i]))
				th_fail(t, "id lost", 0);
			break;
		}
		case 9: {
			uint64_t w, s;

			r = refcache_weak_new(th_fd, t->h[i], &w);
			if (r) {
				th_fail(t, "weak_new", r);
				break;
			}
			/* We hold a strong handle: upgrade must work. */
			r = refcache_weak_upgrade(th_fd, w, &s);
			if (r)
				th_fail(t, "upgrade", r);
			else if (obj_id(th_fd, s) != obj_id(th_fd, t->h[i]))
				th_fail(t, "upgrade reached another object", 0);
			if (!r && (r = refcache_handle_close(th_fd, s)))
				th_fail(t, "close upgraded", r);
			if ((r = refcache_handle_close(th_fd, w)))
				th_fail(t, "close weak", r);
			break;
		}
		}
	}
	return NULL;
}

struct seen {
	uint32_t id;
	uint64_t h;	/* a handle to query it with */
	long handles;	/* strong handles the threads and root hold */
	long slotrefs;	/* references from root slots */
	int temp;	/* h is a temporary handle of the check */
};

static struct seen *seen_find(struct seen *s, int n, uint32_t id)
{
	int i;

	for (i = 0; i < n; i++)
		if (s[i].id == id)
			return &s[i];
	return NULL;
}

static int t_threads(void)
{
	static struct thr thr[NTHREADS];
	static struct seen seen[NTHREADS * TMAX + NSHARED + 2];
	int nseen = 0, i, j, fd, r;
	long long expect_handles = 1;
	uint32_t root_id = 0xffffffff;
	struct seen *s;

	fd = th_fd = refcache_open();
	CHECK(fd >= 0, "open");
	th_cache = refcache_cache_create(fd, "shared", 8, NSHARED, REFCACHE_CACHE_TRACKED);
	CHECKF(th_cache > 0, "cache");
	CHECKF(refcache_new(fd, th_cache, &th_root) == 0, "root");
	CHECKF(refcache_write(fd, th_root, 0, &root_id, 4) == 0, "root id");
	for (i = 0; i < NTHREADS; i++) {
		thr[i].seed = 1000 + i;
		thr[i].n = 0;
		thr[i].errors = 0;
		CHECKF(pthread_create(&thr[i].tid, NULL, thread_main, &thr[i]) == 0, "create");
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(thr[i].tid, NULL);
	for (i = 0; i < NTHREADS; i++)
		CHECKF(thr[i].errors == 0, "thread %d: %ld errors, first %s", i, thr[i].errors,
		       thr[i].msg);

	/* What the threads and the root hold. */
	seen[nseen++] = (struct seen){ root_id, th_root, 1, 0, 0 };
	for (i = 0; i < NTHREADS; i++)
		for (j = 0; j < thr[i].n; j++) {
			uint32_t id = obj_id(fd, thr[i].h[j]);

			CHECKF(id && id != root_id, "thread %d handle %d: id %u", i, j, id);
			s = seen_find(seen, nseen, id);
			if (!s) {
				s = &seen[nseen++];
				*s = (struct seen){ id, thr[i].h[j], 0, 0, 0 };
			}
			s->handles++;
			expect_handles++;
		}
	for (j = 0; j < NSHARED; j++) {
		uint64_t h;
		uint32_t id;

		CHECKF(refcache_load(fd, th_root, j, &h) == 0, "load root slot %d", j);
		if (!h)
			continue;
		id = obj_id(fd, h);
		s = seen_find(seen, nseen, id);
		if (!s) {
			s = &seen[nseen++];
			*s = (struct seen){ id, h, 0, 0, 1 };
		} else {
			CHECKF(refcache_handle_close(fd, h) == 0, "close");
		}
		s->slotrefs++;
	}
	CHECKF(OBJECTS(fd) == nseen, "objects %lld, threads and root reach %d",
	       OBJECTS(fd), nseen);
	for (i = 0; i < nseen; i++) {
		long long want = seen[i].handles + seen[i].slotrefs + seen[i].temp;

		r = refcount(fd, seen[i].h);
		CHECKF(r == want, "object %u: refcount %d, want %lld (%ld handles, %ld slots)",
		       seen[i].id, r, want, seen[i].handles, seen[i].slotrefs);
		if (seen[i].temp)
			expect_handles++;
	}
	CHECKF(HANDLES(fd) == expect_handles, "handles %lld, want %lld", HANDLES(fd),
	       expect_handles);
	printf("# threads: %d objects, %lld handles\n", nseen, expect_handles);
	/* Dropping everything but the root leaves the root alone. */
	for (i = 0; i < NTHREADS; i++)
		for (j = 0; j < thr[i].n; j++)
			CHECKF(refcache_handle_close(fd, thr[i].h[j]) == 0, "close");
	for (i = 0; i < nseen; i++)
		if (seen[i].temp)
			CHECKF(refcache_handle_close(fd, seen[i].h) == 0, "close temp");
	for (j = 0; j < NSHARED; j++)
		CHECKF(refcache_store(fd, th_root, j, 0) == 0, "empty slot");
	CHECKF(OBJECTS(fd) == 1 && HANDLES(fd) == 1, "root only: %lld %lld", OBJECTS(fd),
	       HANDLES(fd));
	refcache_close(fd);
	return 0;
}

static int t_fork(void)
{
	long open0 = stat_value("heaps_open");
	int cache, fd = setup(&cache, 2, 16), status;
	uint64_t h, l;
	char buf[6] = { 0 };
	pid_t pid;

	if (fd < 0)
		return -1;
	CHECKF(refcache_new(fd, cache, &h) == 0, "new");
	pid = fork();
	if (pid == 0) {
		uint64_t c, d;

		if (refcache_new(fd, cache, &c) || refcache_write(fd, c, 0, "child", 5) ||
		    refcache_store(fd, h, 1, c) || refcache_handle_close(fd, c) ||
		    refcache_dup(fd, h, &d))
			_exit(1);
		_exit(0);	/* d stays open: the heap is shared */
	}
	CHECKF(pid > 0, "fork");
	waitpid(pid, &status, 0);
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	CHECKF(stat_value("heaps_open") == open0 + 1, "one heap");
	CHECKF(refcount(fd, h) == 2, "child's dup outlives the child: %lld", refcount(fd, h));
	CHECKF(HANDLES(fd) == 2 && OBJECTS(fd) == 2, "handles %lld objects %lld",
	       HANDLES(fd), OBJECTS(fd));
	CHECKF(refcache_load(fd, h, 1, &l) == 0 && l, "load what the child stored");
	CHECKF(refcache_read(fd, l, 0, buf, 5) == 0 && !strcmp(buf, "child"), "payload '%s'", buf);
	CHECKF(refcount(fd, l) == 2, "slot + load: %lld", refcount(fd, l));
	refcache_close(fd);
	CHECKF(stat_value("heaps_open") == open0, "heap freed");
	return 0;
}

/* Build a chain of @n objects with batches; returns the head or 0. */
static uint64_t build_chain_batched(int fd, int cache, long n, struct refcache_op *ops)
{
	uint64_t head = 0, newh[REFCACHE_BATCH_MAX];
	long made = 0;
	int k, i, r;

	while (made < n) {
		k = n - made < REFCACHE_BATCH_MAX ? n - made : REFCACHE_BATCH_MAX;
		for (i = 0; i < k; i++)
			op_set(&ops[i], REFCACHE_OP_NEW, 0, cache, 0);
		r = refcache_batch(fd, ops, k, 0);
		if (r != k) {
			printf("# new batch at %ld: %d, error %d\n", made, r,
			       r > 0 ? ops[r - 1].error : 0);
			return 0;
		}
		for (i = 0; i < k; i++)
			newh[i] = ops[i].result;
		/* newh[i] -> newh[i-1], newh[0] -> head. */
		for (i = 0; i < k; i++)
			op_set(&ops[i], REFCACHE_OP_SLOT_STORE, newh[i], 0, i ? newh[i - 1] : head);
		r = refcache_batch(fd, ops, k, 0);
		if (r != k) {
			printf("# store batch at %ld: %d\n", made, r);
			return 0;
		}
		/* Close the old head and all new handles but the new head. */
		for (i = 0; i < k - 1; i++)
			op_set(&ops[i], REFCACHE_OP_CLOSE, newh[i], 0, 0);
		if (head)
			op_set(&ops[i++], REFCACHE_OP_CLOSE, head, 0, 0);
		if (i && (r = refcache_batch(fd, ops, i, 0)) != i) {
			printf("# close batch at %ld: %d\n", made, r);
			return 0;
		}
		head = newh[k - 1];
		made += k;
	}
	return head;
}

/*
 * A million objects in the 64-bit program on a production kernel.  The
 * 32-bit one, which runs the same kernel path through compat_ioctl, and
 * both on the debug kernel (KASAN, kmemleak, emulated: 30 s a million)
 * build 100,000, so that make check stays within its time.
 */
#define MILLION (sizeof(void *) == 8 && access("/sys/kernel/debug/kmemleak", F_OK) ? \
		 1000000L : 100000L)

static int t_close_million(void)
{
	static struct refcache_op ops[REFCACHE_BATCH_MAX];
	long open0 = stat_value("heaps_open"), destroyed0 = stat_value("heaps_destroyed");
	struct refcache_heap_info hi;
	int cache, fd = setup(&cache, 1, 8);
	char heapname[32];
	double t0, t1, t2;
	uint64_t head;

	if (fd < 0)
		return -1;
	CHECKF(stat_value("heaps_open") == open0 + 1, "heap counted");
	t0 = now();
	head = build_chain_batched(fd, cache, MILLION, ops);
	t1 = now();
	CHECKF(head, "chain built");
	CHECKF(refcache_heap_info(fd, &hi) == 0, "heap_info");
	CHECKF(hi.objects == (uint64_t)MILLION, "objects %llu", (unsigned long long)hi.objects);
	CHECKF(hi.handles == 1, "handles %llu", (unsigned long long)hi.handles);
	CHECKF(refcount(fd, head) == 1, "head refcount");
	snprintf(heapname, sizeof(heapname), "%llu", (unsigned long long)hi.heap_id);
	if (caches_mention("test") == 0)
		printf("# /proc/refcache/caches does not show the cache\n");
	CHECKF(caches_mention("test") != 0, "cache listed while open");
	t2 = now();
	refcache_close(fd);
	t2 = now() - t2;
	printf("# million: %ld objects built in %.2f s, closed in %.2f s\n", MILLION, t1 - t0, t2);
	CHECK(stat_value("heaps_open") == open0, "heaps_open %ld, want %ld",
	      stat_value("heaps_open"), open0);
	CHECK(stat_value("heaps_destroyed") == destroyed0 + 1, "heaps_destroyed");
	CHECK(caches_mention("test") == 0, "cache of heap %s still listed", heapname);
	return 0;
}

/* Closing the heap frees a cascade of slots the same way, and cycles. */
static int t_close_with_cycles(void)
{
	long open0 = stat_value("heaps_open");
	int cache, fd = setup(&cache, 2, 8);
	uint64_t x, y;

	if (fd < 0)
		return -1;
	CHECKF(refcache_new(fd, cache, &x) == 0 && refcache_new(fd, cache, &y) == 0, "new");
	CHECKF(refcache_store(fd, x, 0, y) == 0 && refcache_store(fd, y, 0, x) == 0, "cycle");
	CHECKF(refcache_store(fd, x, 1, x) == 0, "self loop");
	CHECKF(refcache_handle_close(fd, x) == 0 && refcache_handle_close(fd, y) == 0, "close");
	CHECKF(OBJECTS(fd) == 2, "a cycle keeps itself alive: %lld", OBJECTS(fd));
	CHECKF(HANDLES(fd) == 0, "handles %lld", HANDLES(fd));
	refcache_close(fd);
	CHECK(stat_value("heaps_open") == open0, "heap with a cycle freed");
	return 0;
}

static int t_library(void)
{
	struct refcache_heap_info hi;
	uint64_t h;
	int cache, fd = setup(&cache, 1, 8);

	if (fd < 0)
		return -1;
	errno = 4321;
	CHECKF(refcache_new(fd, cache, NULL) == -EINVAL, "new NULL");
	CHECKF(refcache_dup(fd, 0, NULL) == -EINVAL, "dup NULL");
	CHECKF(refcache_load(fd, 0, 0, NULL) == -EINVAL, "load NULL");
	CHECKF(refcache_weak_new(fd, 0, NULL) == -EINVAL, "weak NULL");
	CHECKF(refcache_weak_upgrade(fd, 0, NULL) == -EINVAL, "upgrade NULL");
	CHECKF(refcache_info(fd, 0, NULL) == -EINVAL, "info NULL");
	CHECKF(refcache_heap_info(fd, NULL) == -EINVAL, "heap_info NULL");
	CHECKF(OBJECTS(fd) == 0, "nothing made");
	CHECKF(refcache_new(-1, cache, &h) == -EBADF, "bad fd");
	CHECKF(refcache_heap_info(-1, &hi) == -EBADF, "bad fd");
	CHECKF(refcache_batch(-1, NULL, 1, 0) == -EBADF, "bad fd");
	CHECKF(refcache_handle_close(fd, 0) == -EBADF, "close 0");
	CHECKF(errno == 4321, "errno preserved: %d", errno);
	refcache_close(fd);
	return 0;
}

static int t_proc_caches(void)
{
	char buf[8192];
	int fd = refcache_open(), c;
	size_t n;
	FILE *f;

	CHECK(fd >= 0, "open");
	c = refcache_cache_create(fd, "procprobe", 8, 1, 0);
	CHECKF(c > 0, "cache");
	f = fopen("/proc/refcache/caches", "r");
	CHECKF(f, "open /proc/refcache/caches");
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	CHECKF(strstr(buf, "procprobe"), "cache listed");
	CHECKF(!strstr(buf, "0xffff") && !strstr(buf, "ffff8"), "no kernel address");
	CHECKF(refcache_cache_destroy(fd, c) == 0, "destroy");
	CHECKF(caches_mention("procprobe") == 0, "gone after destroy");
	refcache_close(fd);
	return 0;
}

int main(void)
{
	printf("TAP version 13\n1..25\n");
	run("version_objects_feature", t_version_objects);
	run("cache_create_destroy", t_cache_create_destroy);
	run("cache_create_bad", t_cache_create_bad);
	run("cache_biased", t_cache_biased);
	run("new_info_payload", t_new_info_payload);
	run("bad_handles_ebadf", t_bad_handles);
	run("weak_where_strong_einval", t_weak_where_strong);
	run("slot_range_einval", t_slot_range);
	run("payload_bounds", t_payload_bounds);
	run("struct_sizes", t_struct_sizes);
	run("reserved_and_flags_einval", t_reserved_flags);
	run("bad_pointers_efault", t_bad_pointers);
	run("no_lost_results", t_no_lost_results);
	run("refcounts", t_refcounts);
	run("cascade_1000", t_cascade_1000);
	run("weak_handles", t_weak);
	run("batch", t_batch);
	run("batch_max", t_batch_max);
	run("limits", t_limits);
	run("threads_8", t_threads);
	run("fork_shared_heap", t_fork);
	run("close_with_cycles", t_close_with_cycles);
	run("library", t_library);
	run("proc_caches", t_proc_caches);
	run("close_million", t_close_million);
	printf("# %d passed, %d failed\n", ntest - nfail, nfail);
	return nfail > 100 ? 100 : nfail;
}
