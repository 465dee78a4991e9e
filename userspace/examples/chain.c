// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * chain: a librefcache example.  Builds a chain of objects linked through
 * reference slots, shows that closing its head frees the whole chain, then
 * builds a cycle and shows that refcounting alone keeps it alive: only
 * the cycle collector finds it (see cycle.c).
 *
 *   cc -o chain chain.c $(pkg-config --cflags --libs refcache)
 *   ./chain [LENGTH]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <refcache.h>

static int fail(const char *what, int err)
{
	fprintf(stderr, "chain: %s: %s\n", what, strerror(-err));
	return 1;
}

static long long objects(int fd)
{
	struct refcache_heap_info hi;

	return refcache_heap_info(fd, &hi) < 0 ? -1 : (long long)hi.objects;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10, i;
	struct refcache_obj_info info;
	uint64_t head = 0, h, x, y;
	int fd, cache, ret;

	if (n < 1)
		n = 1;
	fd = refcache_open();
	if (fd < 0)
		return fail("open /dev/refcache", fd);
	/* One slot ("next") and room for a number in the payload. */
	cache = refcache_cache_create(fd, "node", sizeof(long), 1, REFCACHE_CACHE_TRACKED);
	if (cache < 0)
		return fail("cache_create", cache);

	for (i = 0; i < n; i++) {
		ret = refcache_new(fd, cache, &h);
		if (ret < 0)
			return fail("new", ret);
		ret = refcache_write(fd, h, 0, &i, sizeof(i));
		/* h.next = head: h takes a reference, then our handle goes. */
		if (ret >= 0 && head) {
			ret = refcache_store(fd, h, 0, head);
			if (ret >= 0)
				ret = refcache_handle_close(fd, head);
		}
		if (ret < 0)
			return fail("link", ret);
		head = h;
	}
	printf("chain of %ld objects, one handle on the head: heap holds %lld objects\n",
	       n, objects(fd));
	if (n > 1) {
		ret = refcache_load(fd, head, 0, &h);
		if (ret < 0 || (ret = refcache_info(fd, h, &info)) < 0)
			return fail("load", ret);
		printf("second node: refcount %llu (its predecessor's slot and our handle)\n",
		       (unsigned long long)info.refcount);
		refcache_handle_close(fd, h);
	}
	ret = refcache_handle_close(fd, head);
	if (ret < 0)
		return fail("close", ret);
	printf("closed the head: heap holds %lld objects\n", objects(fd));

	if ((ret = refcache_new(fd, cache, &x)) < 0 || (ret = refcache_new(fd, cache, &y)) < 0 ||
	    (ret = refcache_store(fd, x, 0, y)) < 0 || (ret = refcache_store(fd, y, 0, x)) < 0)
		return fail("cycle", ret);
	refcache_handle_close(fd, x);
	refcache_handle_close(fd, y);
	printf("a 2-cycle with no handles left: heap holds %lld objects "
	       "(a cycle keeps itself alive)\n", objects(fd));
	refcache_close(fd);	/* frees everything, the cycle too */
	return 0;
}
