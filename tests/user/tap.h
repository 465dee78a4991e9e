/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the userspace tests: TAP output, checks and small helpers.
 * Each test program includes it once; everything is static inline so a
 * program need not use all of it.
 */
#ifndef REFCACHE_TESTS_TAP_H
#define REFCACHE_TESTS_TAP_H

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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

/*
 * Worker threads that take turns, for tests that want their ioctls to
 * come from different tasks (the owners of biased objects) and still be
 * deterministic: turns_run() hands one call to one worker and waits for
 * it, so no two workers ever run at once and everything they touch is
 * ordered by the pool's mutex.  turns_respawn() ends a worker
 * (pthread_join(), then waits until its task has left /proc, i.e. has
 * fully exited) and starts a fresh one, a new task, in its place.
 */
#define TURNS_MAX	80

struct turns;

struct turns_worker {
	struct turns *pool;
	pthread_t tid;
	pthread_cond_t cv;
	int task;		/* its kernel thread id; 0 once it has ended */
	int state;		/* 0 idle, 1 a call to make, 2 exit */
	int (*fn)(void *);
	void *arg;
	int ret;
};

struct turns {
	pthread_mutex_t lock;
	pthread_cond_t done;
	int n;
	struct turns_worker w[TURNS_MAX];
};

static inline void *turns_main(void *p)
{
	struct turns_worker *w = p;
	struct turns *T = w->pool;
	int ret;

	pthread_mutex_lock(&T->lock);
	w->task = (int)syscall(SYS_gettid);
	pthread_cond_broadcast(&T->done);
	for (;;) {
		while (!w->state)
			pthread_cond_wait(&w->cv, &T->lock);
		if (w->state == 2)
			break;
		pthread_mutex_unlock(&T->lock);
		ret = w->fn(w->arg);
		pthread_mutex_lock(&T->lock);
		w->ret = ret;
		w->state = 0;
		pthread_cond_broadcast(&T->done);
	}
	pthread_mutex_unlock(&T->lock);
	return NULL;
}

/* Start worker @i: 0, or -1 if the thread cannot be made. */
static inline int turns_spawn(struct turns *T, int i)
{
	struct turns_worker *w = &T->w[i];

	w->pool = T;
	w->state = 0;
	w->task = 0;
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->tid, NULL, turns_main, w)) {
		pthread_cond_destroy(&w->cv);
		return -1;
	}
	pthread_mutex_lock(&T->lock);
	while (!w->task)
		pthread_cond_wait(&T->done, &T->lock);
	pthread_mutex_unlock(&T->lock);
	return 0;
}

/* @n workers (at most TURNS_MAX): 0, or -1 with none left running. */
static inline int turns_start(struct turns *T, int n)
{
	int i;

	pthread_mutex_init(&T->lock, NULL);
	pthread_cond_init(&T->done, NULL);
	for (T->n = 0; T->n < n && T->n < TURNS_MAX; T->n++)
		if (turns_spawn(T, T->n))
			break;
	if (T->n == n)
		return 0;
	for (i = 0; i < T->n; i++) {
		pthread_mutex_lock(&T->lock);
		T->w[i].state = 2;
		pthread_cond_signal(&T->w[i].cv);
		pthread_mutex_unlock(&T->lock);
		pthread_join(T->w[i].tid, NULL);
	}
	T->n = 0;
	return -1;
}

/* Worker @i runs @fn(@arg) while the caller waits: what @fn returned. */
static inline int turns_run(struct turns *T, int i, int (*fn)(void *), void *arg)
{
	struct turns_worker *w = &T->w[i];
	int ret;

	pthread_mutex_lock(&T->lock);
	w->fn = fn;
	w->arg = arg;
	w->state = 1;
	pthread_cond_signal(&w->cv);
	while (w->state)
		pthread_cond_wait(&T->done, &T->lock);
	ret = w->ret;
	pthread_mutex_unlock(&T->lock);
	return ret;
}

/*
 * End worker @i and wait until its task is gone (reaped: its exit_state
 * was set before), then, if @again, start a new one in its place.
 * 0, or -1 if the task lingers for 5 s or no new thread can be made.
 */
static inline int turns_exit(struct turns *T, int i, int again)
{
	struct turns_worker *w = &T->w[i];
	char path[64];
	int tries;

	if (!w->task)
		return again ? turns_spawn(T, i) : 0;
	pthread_mutex_lock(&T->lock);
	w->state = 2;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&T->lock);
	pthread_join(w->tid, NULL);
	pthread_cond_destroy(&w->cv);
	snprintf(path, sizeof(path), "/proc/self/task/%d", w->task);
	w->task = 0;
	for (tries = 0; access(path, F_OK) == 0; tries++) {
		if (tries == 25000)
			return -1;
		usleep(200);
	}
	return again ? turns_spawn(T, i) : 0;
}

/* End every worker still running. */
static inline void turns_stop(struct turns *T)
{
	int i;

	for (i = 0; i < T->n; i++)
		turns_exit(T, i, 0);
	T->n = 0;
	pthread_cond_destroy(&T->done);
	pthread_mutex_destroy(&T->lock);
}

#endif /* REFCACHE_TESTS_TAP_H */
