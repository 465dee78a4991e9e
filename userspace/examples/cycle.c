// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * cycle: a librefcache example of the cycle collector (ABI 1.2).  Builds
 * a ring of objects, each holding the next in a reference slot, keeps a
 * weak handle to one of them, drops every strong handle, and shows that
 * the ring stays alive until refcache_gc_collect() finds it.  Then it
 * waits for the collection's event record with poll() and reads it, as a
 * gc.callbacks hook would see it.
 *
 *   cc -o cycle cycle.c $(pkg-config --cflags --libs refcache)
 *   ./cycle [LENGTH]
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <refcache.h>

static int fail(const char *what, long long err)
{
	fprintf(stderr, "cycle: %s: %s\n", what, strerror((int)-err));
	return 1;
}

static long long objects(int fd)
{
	struct refcache_heap_info hi;

	return refcache_heap_info(fd, &hi) < 0 ? -1 : (long long)hi.objects;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 3, i;
	struct refcache_gc_event ev;
	struct pollfd pfd;
	uint64_t first = 0, prev = 0, h, weak, back;
	long long found;
	int fd, cache, ret;

	if (n < 1)
		n = 1;
	fd = refcache_open();
	if (fd < 0)
		return fail("open /dev/refcache", fd);
	/* A tracked cache: the collector only looks at objects of these. */
	cache = refcache_cache_create(fd, "ring", 0, 1, REFCACHE_CACHE_TRACKED);
	if (cache < 0)
		return fail("cache_create", cache);

	/* node[i].slot[0] = node[i + 1], and the last one points at the first. */
	for (i = 0; i < n; i++) {
		ret = refcache_new(fd, cache, &h);
		if (ret < 0)
			return fail("new", ret);
		if (prev) {
			ret = refcache_store(fd, prev, 0, h);
			if (ret >= 0 && prev != first)
				ret = refcache_handle_close(fd, prev);
			if (ret < 0)
				return fail("link", ret);
		} else {
			first = h;
		}
		prev = h;
	}
	ret = refcache_store(fd, prev, 0, first);	/* close the ring */
	if (ret >= 0 && prev != first)
		ret = refcache_handle_close(fd, prev);
	if (ret >= 0)
		ret = refcache_weak_new(fd, first, &weak);
	if (ret >= 0)
		ret = refcache_gc_is_tracked(fd, first);
	if (ret < 0)
		return fail("ring", ret);
	printf("a ring of %ld objects (tracked: %s), one strong and one weak handle: "
	       "%lld objects\n", n, ret ? "yes" : "no", objects(fd));

	ret = refcache_handle_close(fd, first);
	if (ret < 0)
		return fail("close", ret);
	printf("dropped the last strong handle: still %lld objects, the ring keeps "
	       "itself alive\n", objects(fd));

	found = refcache_gc_collect(fd, 2);
	if (found < 0)
		return fail("gc_collect", found);
	printf("refcache_gc_collect(fd, 2) = %lld unreachable; now %lld objects\n",
	       found, objects(fd));
	ret = refcache_weak_upgrade(fd, weak, &back);
	printf("the weak handle: %s\n", ret == -ENOENT ? "dead (the collector cleared it)" :
	       ret < 0 ? strerror(-ret) : "still alive?");
	if (ret >= 0)
		refcache_handle_close(fd, back);

	/* The collection left a record on the heap's file descriptor. */
	pfd.fd = fd;
	pfd.events = POLLIN;
	ret = poll(&pfd, 1, 1000);
	if (ret < 0)
		return fail("poll", -errno);
	if (ret == 0 || !(pfd.revents & POLLIN))
		return fail("poll", -ETIMEDOUT);
	ret = refcache_gc_read_events(fd, &ev, 1);
	if (ret < 0)
		return fail("read", ret);
	printf("event #%llu: generation %u, %s, %llu candidates, %llu collected, "
	       "%llu uncollectable, %llu ns%s\n",
	       (unsigned long long)ev.seq, ev.generation,
	       ev.reason == REFCACHE_GC_REASON_EXPLICIT ? "explicit" : "automatic",
	       (unsigned long long)ev.candidates, (unsigned long long)ev.collected,
	       (unsigned long long)ev.uncollectable, (unsigned long long)ev.duration_ns,
	       ev.dropped ? " (earlier records dropped)" : "");

	refcache_handle_close(fd, weak);
	refcache_close(fd);
	return 0;
}
