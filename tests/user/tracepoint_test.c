// SPDX-License-Identifier: GPL-2.0
/*
 * The collector's tracepoints fire, as seen through tracefs: enable
 * refcache:gc_start and refcache:gc_end, collect a cycle, and find both
 * events for this heap in the trace buffer with the numbers the ioctl
 * returned.  Skips where the kernel has no tracefs.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/refcache.h>
#include <refcache.h>

#include "tap.h"

static const char *tracefs;

static int write_file(const char *dir, const char *name, const char *val)
{
	char path[256];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -errno;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -EIO;
}

static int find_tracefs(void)
{
	static const char *const dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	char p[128];
	unsigned int i;

	for (i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/events", dirs[i]);
		if (!access(p, F_OK)) {
			tracefs = dirs[i];
			return 0;
		}
	}
	/* Not mounted yet: try. */
	mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL);
	if (!access("/sys/kernel/tracing/events", F_OK)) {
		tracefs = "/sys/kernel/tracing";
		return 0;
	}
	return -1;
}

/* Read the whole trace buffer into @buf. */
static size_t read_trace(char *buf, size_t len)
{
	char path[256];
	size_t n = 0;
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "%s/trace", tracefs);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	while (n < len - 1 && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += r;
	close(fd);
	buf[n] = 0;
	return n;
}

static char tbuf[1 << 20];

static int t_gc_tracepoints(void)
{
	char ev_dir[256], want[256];
	struct refcache_heap_info hi;
	uint64_t a, b;
	int fd, cache, n;

	snprintf(ev_dir, sizeof(ev_dir), "%s/events/refcache", tracefs);
	CHECK(!access(ev_dir, F_OK), "%s missing: the module has no tracepoints", ev_dir);
	CHECK(write_file(tracefs, "trace", "") == 0, "clear the trace");
	CHECK(write_file(ev_dir, "gc_start/enable", "1") == 0, "enable gc_start");
	CHECK(write_file(ev_dir, "gc_end/enable", "1") == 0, "enable gc_end");
	fd = refcache_open();
	CHECK(fd >= 0, "open: %d", fd);
	CHECKF(refcache_heap_info(fd, &hi) == 0, "heap_info");
	cache = refcache_cache_create(fd, "traced", 8, 1, REFCACHE_CACHE_TRACKED);
	CHECKF(cache > 0, "cache: %d", cache);
	CHECKF(refcache_new(fd, cache, &a) == 0 && refcache_new(fd, cache, &b) == 0, "new");
	CHECKF(refcache_store(fd, a, 0, b) == 0 && refcache_store(fd, b, 0, a) == 0, "cycle");
	CHECKF(refcache_handle_close(fd, a) == 0 && refcache_handle_close(fd, b) == 0, "close");
	n = refcache_gc_collect(fd, 1);
	CHECKF(n == 2, "collect(1) found %d, not 2", n);
	write_file(ev_dir, "gc_start/enable", "0");
	write_file(ev_dir, "gc_end/enable", "0");
	read_trace(tbuf, sizeof(tbuf));
	snprintf(want, sizeof(want), "gc_start: heap=%llu generation=1 reason=explicit",
		 (unsigned long long)hi.heap_id);
	CHECKF(strstr(tbuf, want), "no \"%s\" in the trace", want);
	snprintf(want, sizeof(want),
		 "gc_end: heap=%llu generation=1 reason=explicit candidates=2 collected=2 uncollectable=0",
		 (unsigned long long)hi.heap_id);
	CHECKF(strstr(tbuf, want), "no \"%s\" in the trace", want);
	refcache_close(fd);
	return 0;
}

/* Objects, arenas and the collector's phases (issue 18). */
#define NBIG 1600
static int t_alloc_tracepoints(void)
{
	static const char *const events[] = { "obj_alloc", "obj_free", "arena_alloc",
		"arena_release", "gc_phase" };
	char ev_dir[256], want[256], path[300];
	struct refcache_heap_info hi;
	static uint64_t hb[NBIG];
	unsigned int i;
	uint64_t a;
	int fd, cache, big;

	snprintf(ev_dir, sizeof(ev_dir), "%s/events/refcache", tracefs);
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		snprintf(path, sizeof(path), "%s/enable", events[i]);
		CHECK(write_file(ev_dir, path, "1") == 0, "enable %s", events[i]);
	}
	CHECK(write_file(tracefs, "trace", "") == 0, "clear the trace");
	fd = refcache_open();
	CHECK(fd >= 0, "open: %d", fd);
	CHECKF(refcache_heap_info(fd, &hi) == 0, "heap_info");
	cache = refcache_cache_create(fd, "traced2", 8, 1, REFCACHE_CACHE_TRACKED);
	CHECKF(cache > 0, "cache: %d", cache);
	CHECKF(refcache_new(fd, cache, &a) == 0 && refcache_store(fd, a, 0, a) == 0, "self cycle");
	CHECKF(refcache_handle_close(fd, a) == 0, "close");
	CHECKF(refcache_gc_collect(fd, 0) == 1, "collect");
	/* Three arenas' worth of 480-byte objects, freed: empty arenas go back. */
	big = refcache_cache_create(fd, "traced_big", 480 - 48, 0, 0);
	CHECKF(big > 0, "cache: %d", big);
	for (i = 0; i < NBIG; i++)
		CHECKF(refcache_new(fd, big, &hb[i]) == 0, "new %u", i);
	for (i = 0; i < NBIG; i++)
		refcache_handle_close(fd, hb[i]);
	refcache_close(fd);
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		snprintf(path, sizeof(path), "%s/enable", events[i]);
		write_file(ev_dir, path, "0");
	}
	read_trace(tbuf, sizeof(tbuf));
	snprintf(want, sizeof(want), "obj_alloc: heap=%llu cache=%d size=",
		 (unsigned long long)hi.heap_id, cache);
	CHECK(strstr(tbuf, want), "no \"%s\" in the trace", want);
	snprintf(want, sizeof(want), "obj_free: heap=%llu cache=%d size=",
		 (unsigned long long)hi.heap_id, cache);
	CHECK(strstr(tbuf, want), "no \"%s\" in the trace", want);
	snprintf(want, sizeof(want), "arena_alloc: heap=%llu arenas=1", (unsigned long long)hi.heap_id);
	CHECK(strstr(tbuf, want), "no \"%s\" in the trace", want);
	snprintf(want, sizeof(want), "arena_release: heap=%llu arenas=",
		 (unsigned long long)hi.heap_id);
	CHECK(strstr(tbuf, want), "no \"%s\" in the trace", want);
	snprintf(want, sizeof(want), "gc_phase: heap=%llu generation=0 phase=move_unreachable objects=1",
		 (unsigned long long)hi.heap_id);
	CHECK(strstr(tbuf, want), "no \"%s\" in the trace", want);
	snprintf(want, sizeof(want), "gc_phase: heap=%llu generation=0 phase=delete_garbage objects=1",
		 (unsigned long long)hi.heap_id);
	CHECK(strstr(tbuf, want), "no \"%s\" in the trace", want);
	return 0;
}

int main(void)
{
	printf("1..2\n");
	if (find_tracefs()) {
		printf("ok 1 - gc_tracepoints # SKIP no tracefs\n");
		printf("ok 2 - alloc_tracepoints # SKIP no tracefs\n");
		return 0;
	}
	tap_result(t_gc_tracepoints(), "gc_tracepoints");
	tap_result(t_alloc_tracepoints(), "alloc_tracepoints");
	return nfail != 0;
}
