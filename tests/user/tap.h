/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the userspace tests: TAP output, checks and small helpers.
 * Each test program includes it once; everything is static inline so a
 * program need not use all of it.
 */
#ifndef REFCACHE_TESTS_TAP_H
#define REFCACHE_TESTS_TAP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

static int ntest, nfail;

/* Fail the current case (return -1) with a message when @cond is false. */
#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		printf("# %s:%d: check failed: %s: ", __func__,		\
		       __LINE__, #cond);				\
		printf(__VA_ARGS__);					\
		printf("\n");						\
		return -1;						\
	}								\
} while (0)

/* Like CHECK, for a case that holds a heap in @fd: closes it first. */
#define CHECKF(cond, ...) do {						\
	if (!(cond)) {							\
		printf("# %s:%d: check failed: %s: ", __func__,		\
		       __LINE__, #cond);				\
		printf(__VA_ARGS__);					\
		printf("\n");						\
		refcache_close(fd);					\
		return -1;						\
	}								\
} while (0)

/* Record one TAP result. */
static inline void tap_result(int failed, const char *name)
{
	ntest++;
	if (failed)
		nfail++;
	printf("%s %d - %s\n", failed ? "not ok" : "ok", ntest, name);
	fflush(stdout);
}

/* Raw ioctl returning -errno, bypassing the library. */
static inline int raw_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A counter of /proc/refcache/stats, or -1. */
static inline long stat_value(const char *key)
{
	char line[256];
	long val = -1;
	FILE *f = fopen("/proc/refcache/stats", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(key);

		if (!strncmp(line, key, n) && line[n] == ' ')
			val = atol(line + n + 1);
	}
	fclose(f);
	return val;
}

#endif /* REFCACHE_TESTS_TAP_H */
