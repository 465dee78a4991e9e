// SPDX-License-Identifier: GPL-2.0
/*
 * ABI tests for /dev/refcache, run inside the qemu guest on both kernels.
 * Prints TAP; exit status is the number of failed cases (capped).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "refcache.h"
#include "tap.h"

static void run(const char *name, int (*fn)(void))
{
	tap_result(fn() != 0, name);
}

static int t_open_close(void)
{
	int fd = refcache_open();

	CHECK(fd >= 0, "open: %s", strerror(-fd));
	CHECK(refcache_close(fd) == 0, "close");
	CHECK(refcache_close(fd) == -EBADF, "second close must be -EBADF");
	return 0;
}

static int t_heaps_counted(void)
{
	long open0 = stat_value("heaps_open"), created0 = stat_value("heaps_created");
	int fds[8], i;

	CHECK(open0 >= 0 && created0 >= 0, "stats readable");
	for (i = 0; i < 8; i++) {
		fds[i] = refcache_open();
		CHECK(fds[i] >= 0, "open %d", i);
	}
	CHECK(stat_value("heaps_open") == open0 + 8, "heaps_open %ld", stat_value("heaps_open"));
	CHECK(stat_value("heaps_created") == created0 + 8, "heaps_created");
	for (i = 0; i < 8; i++)
		refcache_close(fds[i]);
	CHECK(stat_value("heaps_open") == open0, "heaps_open back to %ld", open0);
	return 0;
}

static int t_version(void)
{
	struct refcache_version v;
	int fd = refcache_open(), ret;

	CHECK(fd >= 0, "open");
	ret = refcache_version(fd, &v);
	refcache_close(fd);
	CHECK(ret == 0, "version: %d", ret);
	CHECK(v.major == REFCACHE_ABI_MAJOR, "major %u", v.major);
	CHECK(v.minor == REFCACHE_ABI_MINOR, "minor %u", v.minor);
	CHECK(v.features & REFCACHE_FEATURE_HEAP, "features 0x%llx", (unsigned long long)v.features);
	/* ABI 1.3: biased caches, on top of the objects and the collector. */
	CHECK((v.features & (REFCACHE_FEATURE_OBJECTS | REFCACHE_FEATURE_GC |
			     REFCACHE_FEATURE_BIASED)) ==
	      (REFCACHE_FEATURE_OBJECTS | REFCACHE_FEATURE_GC | REFCACHE_FEATURE_BIASED),
	      "features 0x%llx", (unsigned long long)v.features);
	CHECK(v.reserved[0] == 0 && v.reserved[1] == 0, "reserved out zero");
	return 0;
}

static int t_unknown_cmd(void)
{
	struct refcache_version v = { .size = sizeof(v) };
	int fd = refcache_open(), r1, r2, r3;

	CHECK(fd >= 0, "open");
	r1 = raw_ioctl(fd, _IOWR(REFCACHE_IOC_MAGIC, 0x7f, struct refcache_version), &v);
	r2 = raw_ioctl(fd, _IOWR('T', 0x00, struct refcache_version), &v);
	r3 = raw_ioctl(fd, _IO(REFCACHE_IOC_MAGIC, 0x55), NULL);
	refcache_close(fd);
	CHECK(r1 == -ENOTTY, "unknown nr: %d", r1);
	CHECK(r2 == -ENOTTY, "foreign magic: %d", r2);
	CHECK(r3 == -ENOTTY, "no-arg unknown: %d", r3);
	return 0;
}

static int t_size_too_small(void)
{
	struct refcache_version v;
	int fd = refcache_open(), r0, r1;

	CHECK(fd >= 0, "open");
	memset(&v, 0, sizeof(v));
	v.size = 0;
	r0 = raw_ioctl(fd, REFCACHE_IOC_VERSION, &v);
	v.size = REFCACHE_VERSION_SIZE_VER0 - 1;
	r1 = raw_ioctl(fd, REFCACHE_IOC_VERSION, &v);
	refcache_close(fd);
	CHECK(r0 == -EINVAL, "size 0: %d", r0);
	CHECK(r1 == -EINVAL, "size VER0-1: %d", r1);
	return 0;
}

static int t_reserved_and_flags(void)
{
	struct refcache_version v;
	int fd = refcache_open(), r0, r1, r2;

	CHECK(fd >= 0, "open");
	memset(&v, 0, sizeof(v));
	v.size = sizeof(v);
	v.flags = 1;
	r0 = raw_ioctl(fd, REFCACHE_IOC_VERSION, &v);
	memset(&v, 0, sizeof(v));
	v.size = sizeof(v);
	v.flags = 0x80000000u;
	r1 = raw_ioctl(fd, REFCACHE_IOC_VERSION, &v);
	memset(&v, 0, sizeof(v));
	v.size = sizeof(v);
	v.reserved[1] = 1;
	r2 = raw_ioctl(fd, REFCACHE_IOC_VERSION, &v);
	refcache_close(fd);
	CHECK(r0 == -EINVAL, "flags 1: %d", r0);
	CHECK(r1 == -EINVAL, "flags high bit: %d", r1);
	CHECK(r2 == -EINVAL, "reserved: %d", r2);
	return 0;
}

/* A caller built against a newer header: larger struct, zero tail works. */
static int t_larger_struct(void)
{
	struct {
		struct refcache_version v;
		__u64 future[4];
	} big;
	int fd = refcache_open(), r0, r1, r2;

	CHECK(fd >= 0, "open");
	memset(&big, 0, sizeof(big));
	big.v.size = sizeof(big);
	r0 = raw_ioctl(fd, _IOWR(REFCACHE_IOC_MAGIC, 0x00, typeof(big)), &big);
	CHECK(r0 == 0 && big.v.major == REFCACHE_ABI_MAJOR, "zero tail: %d", r0);
	CHECK(big.future[3] == 0, "tail untouched");
	memset(&big, 0, sizeof(big));
	big.v.size = sizeof(big);
	big.future[2] = 7;
	r1 = raw_ioctl(fd, REFCACHE_IOC_VERSION, &big);
	big.v.size = 8192;
	big.future[2] = 0;
	r2 = raw_ioctl(fd, REFCACHE_IOC_VERSION, &big);
	refcache_close(fd);
	CHECK(r1 == -E2BIG, "non-zero tail: %d", r1);
	CHECK(r2 == -E2BIG, "size past a page: %d", r2);
	return 0;
}

/* An older caller (VER0 size): the kernel writes no byte past its size. */
static int t_smaller_struct(void)
{
	unsigned char buf[64];
	struct refcache_version *v = (void *)buf;
	int fd = refcache_open(), r, i;

	CHECK(fd >= 0, "open");
	memset(buf, 0, sizeof(buf));
	memset(buf + REFCACHE_VERSION_SIZE_VER0, 0xa5, sizeof(buf) - REFCACHE_VERSION_SIZE_VER0);
	v->size = REFCACHE_VERSION_SIZE_VER0;
	r = raw_ioctl(fd, _IOWR(REFCACHE_IOC_MAGIC, 0x00, char[REFCACHE_VERSION_SIZE_VER0]), buf);
	refcache_close(fd);
	CHECK(r == 0, "VER0 call: %d", r);
	CHECK(v->major == REFCACHE_ABI_MAJOR && v->features, "filled");
	for (i = REFCACHE_VERSION_SIZE_VER0; i < (int)sizeof(buf); i++)
		CHECK(buf[i] == 0xa5, "byte %d overwritten", i);
	return 0;
}

static int t_bad_pointer(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct refcache_version *v;
	char *map;
	int fd = refcache_open(), r0, r1, r2, r3;

	CHECK(fd >= 0, "open");
	r0 = raw_ioctl(fd, REFCACHE_IOC_VERSION, NULL);
	r1 = raw_ioctl(fd, REFCACHE_IOC_VERSION, (void *)16);
	/* Struct straddling into an unmapped page: size readable, rest not. */
	map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(map != MAP_FAILED, "mmap");
	munmap(map + pg, pg);
	v = (void *)(map + pg - 8);
	v->size = sizeof(*v);
	v->flags = 0;
	r2 = raw_ioctl(fd, REFCACHE_IOC_VERSION, v);
	/* Read-only struct: copy in works, copy out must fail. */
	v = (void *)map;
	memset(v, 0, sizeof(*v));
	v->size = sizeof(*v);
	mprotect(map, pg, PROT_READ);
	r3 = raw_ioctl(fd, REFCACHE_IOC_VERSION, v);
	munmap(map, pg);
	refcache_close(fd);
	CHECK(r0 == -EFAULT, "NULL: %d", r0);
	CHECK(r1 == -EFAULT, "low address: %d", r1);
	CHECK(r2 == -EFAULT, "straddling: %d", r2);
	CHECK(r3 == -EFAULT, "read-only: %d", r3);
	return 0;
}

static int t_library_errno(void)
{
	struct refcache_version v;

	errno = 1234;
	CHECK(refcache_version(-1, &v) == -EBADF, "bad fd");
	CHECK(refcache_version(-1, NULL) == -EINVAL, "NULL result");
	CHECK(refcache_close(-1) == -EBADF, "close bad fd");
	CHECK(errno == 1234, "errno preserved: %d", errno);
	return 0;
}

static int t_proc_stats(void)
{
	char buf[4096];
	FILE *f = fopen("/proc/refcache/stats", "r");
	size_t n;

	CHECK(f, "open /proc/refcache/stats");
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	CHECK(strstr(buf, "abi_version 1."), "abi_version line");
	CHECK(strstr(buf, "heaps_open "), "heaps_open line");
	CHECK(strstr(buf, "heaps_created "), "heaps_created line");
	CHECK(!strstr(buf, "0xffff"), "no kernel address");
	return 0;
}

static void *thread_open_close(void *arg)
{
	struct refcache_version v;
	long bad = 0;
	int i;

	(void)arg;
	for (i = 0; i < 200; i++) {
		int fd = refcache_open();

		if (fd < 0 || refcache_version(fd, &v) || refcache_close(fd))
			bad++;
	}
	return (void *)bad;
}

static int t_threads(void)
{
	long open0 = stat_value("heaps_open");
	pthread_t th[8];
	void *bad;
	long total = 0;
	int i;

	for (i = 0; i < 8; i++)
		CHECK(pthread_create(&th[i], NULL, thread_open_close, NULL) == 0, "create");
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], &bad);
		total += (long)bad;
	}
	CHECK(total == 0, "%ld failed operations", total);
	CHECK(stat_value("heaps_open") == open0, "heaps_open back");
	return 0;
}

static int t_fork_shares_heap(void)
{
	long open0 = stat_value("heaps_open");
	int fd = refcache_open(), status;
	pid_t pid;

	CHECK(fd >= 0, "open");
	pid = fork();
	if (pid == 0) {
		struct refcache_version v;

		_exit(refcache_version(fd, &v) == 0 ? 0 : 1);
	}
	CHECK(pid > 0, "fork");
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child version");
	CHECK(stat_value("heaps_open") == open0 + 1, "one heap for both");
	refcache_close(fd);
	CHECK(stat_value("heaps_open") == open0, "freed after last close");
	return 0;
}

int main(void)
{
	printf("TAP version 13\n1..13\n");
	run("open_close", t_open_close);
	run("heaps_counted", t_heaps_counted);
	run("version", t_version);
	run("unknown_cmd_enotty", t_unknown_cmd);
	run("size_too_small_einval", t_size_too_small);
	run("reserved_and_flags_einval", t_reserved_and_flags);
	run("larger_struct", t_larger_struct);
	run("smaller_struct", t_smaller_struct);
	run("bad_pointer_efault", t_bad_pointer);
	run("library_errno", t_library_errno);
	run("proc_stats", t_proc_stats);
	run("threads_open_close", t_threads);
	run("fork_shares_heap", t_fork_shares_heap);
	printf("# %d passed, %d failed\n", ntest - nfail, nfail);
	return nfail > 100 ? 100 : nfail;
}
