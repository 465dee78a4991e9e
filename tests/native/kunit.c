// SPDX-License-Identifier: GPL-2.0
/*
 * The native KUnit runner: every case of the tests/kunit/ suites, compiled
 * against the shim, run as KUnit runs it (a thread per case, then the
 * deferred actions in another thread), after the module init that
 * kmod/main.c does minus the char device and /proc.
 *
 *   refcache_native [-q] [-v] [-l] [--build NAME] [--log FILE] [--selftest] [GLOB...]
 *
 * Prints "PASS native.<build>.<suite>.<case>", "FAIL ..." or "SKIP ...
 * (reason)" per case and a closing "native <build>: N passed, N failed,
 * N skipped".  A case fails on a failed expectation, on a kernel splat
 * the case did not announce (a WARN, a refcount_t warning, sleeping in
 * atomic context, a lockdep assertion) and on a sanitizer report made
 * while it ran.  Exit status 0 only if nothing failed.  --selftest runs
 * selftest.c's cases instead, each of which must end as its name says.
 */
#define _GNU_SOURCE
#include <fnmatch.h>
#include <kunit/test.h>
#include <unistd.h>

#include "internal.h"
#include "shim.h"

/*
 * kmod/main.c's init and exit, without chardev and procfs.  Weak: the
 * heaps' init (a module notifier) exists only in trees that have it.
 */
int refcache_gc_wq_init(void);
void refcache_gc_wq_exit(void);
int refcache_heaps_init(void) __attribute__((weak));
void refcache_heaps_exit(void) __attribute__((weak));

/* --- what needs a real kernel ---------------------------------------- */

static const struct {
	const char *name;
	const char *reason;
} skips[] = {
	{ "refcache_biased.biased_irq_gets_are_shared",
	  "a timer callback in softirq context: no interrupt context natively" },
};

#ifdef __SANITIZE_THREAD__
/* TSan looks for races; these cases have none to show and take minutes. */
static const struct {
	const char *name;
	const char *reason;
} tsan_skips[] = {
	{ "refcache_object.obj_release_ten_million_chain",
	  "one thread, 10^7 objects: minutes under TSan; runs in the o2 and asan builds" },
	{ "refcache_alloc.alloc_million_64",
	  "one thread, 10^6 blocks: slow under TSan; runs in the o2 and asan builds" },
};
#endif

static const char *skip_reason(const char *name)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(skips); i++)
		if (!strcmp(skips[i].name, name))
			return skips[i].reason;
#ifdef __SANITIZE_THREAD__
	for (i = 0; i < ARRAY_SIZE(tsan_skips); i++)
		if (!strcmp(tsan_skips[i].name, name))
			return tsan_skips[i].reason;
#endif
	return NULL;
}

/*
 * Every sanitizer report ends with its summary line, through this hook
 * (sanitizer_common's interface): it counts against the running case.
 */
static atomic_long_t sanitizer_reports;

void __sanitizer_report_error_summary(const char *summary);
void __sanitizer_report_error_summary(const char *summary)
{
	atomic_long_inc(&sanitizer_reports);
	fprintf(stderr, "%s\n", summary);
}

/* --- suites -------------------------------------------------------- */

#define MAX_SUITES	32
static struct kunit_suite *suites[MAX_SUITES];
static int nsuites;

void native_kunit_register(struct kunit_suite **s, int n)
{
	int i;

	for (i = 0; i < n && nsuites < MAX_SUITES; i++)
		suites[nsuites++] = s[i];
}

/* --- the struct kunit API -------------------------------------------- */

struct native_kunit_action {
	struct native_kunit_action *next;
	kunit_action_t *fn;
	void *ctx;
	bool is_free;		/* kunit_kmalloc: ctx is freed */
};

static int add_action(struct kunit *test, kunit_action_t *fn, void *ctx, bool is_free)
{
	struct native_kunit_action *a = malloc(sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->fn = fn;
	a->ctx = ctx;
	a->is_free = is_free;
	pthread_mutex_lock(&test->lock);
	a->next = test->actions;
	test->actions = a;
	pthread_mutex_unlock(&test->lock);
	return 0;
}

int kunit_add_action(struct kunit *test, kunit_action_t *fn, void *ctx)
{
	return add_action(test, fn, ctx, false);
}

int kunit_add_action_or_reset(struct kunit *test, kunit_action_t *fn, void *ctx)
{
	int ret = add_action(test, fn, ctx, false);

	if (ret)
		fn(ctx);
	return ret;
}

static struct native_kunit_action *take_action(struct kunit *test, kunit_action_t *fn, void *ctx)
{
	struct native_kunit_action **pp, *a = NULL;

	pthread_mutex_lock(&test->lock);
	for (pp = &test->actions; *pp; pp = &(*pp)->next) {
		if ((*pp)->fn == fn && (*pp)->ctx == ctx) {
			a = *pp;
			*pp = a->next;
			break;
		}
	}
	pthread_mutex_unlock(&test->lock);
	return a;
}

void kunit_release_action(struct kunit *test, kunit_action_t *fn, void *ctx)
{
	struct native_kunit_action *a = take_action(test, fn, ctx);

	if (a) {
		fn(ctx);
		free(a);
	}
}

void kunit_remove_action(struct kunit *test, kunit_action_t *fn, void *ctx)
{
	free(take_action(test, fn, ctx));
}

void *kunit_kmalloc_array(struct kunit *test, size_t n, size_t size, gfp_t gfp)
{
	void *p = kmalloc_array(n, size, gfp);

	if (p && add_action(test, NULL, p, true)) {
		kfree(p);
		p = NULL;
	}
	return p;
}

void kunit_kfree(struct kunit *test, const void *p)
{
	struct native_kunit_action *a = take_action(test, NULL, (void *)p);

	free(a);
	kfree(p);
}

static void run_actions(struct kunit *test)
{
	struct native_kunit_action *a;

	for (;;) {
		pthread_mutex_lock(&test->lock);
		a = test->actions;
		if (a)
			test->actions = a->next;
		pthread_mutex_unlock(&test->lock);
		if (!a)
			break;
		if (a->is_free)
			kfree(a->ctx);
		else
			a->fn(a->ctx);
		free(a);
	}
}

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static long splats_in_cases, reports_in_cases;
static bool verbose;

void native_kunit_log(struct kunit *test, int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&out_lock);
	if (native_log)
		fprintf(native_log, "    # %s: %s%s", test->name, buf,
			buf[0] && buf[strlen(buf) - 1] == '\n' ? "" : "\n");
	if (verbose || level <= 3)
		fprintf(stderr, "    # %s: %s%s", test->name, buf,
			buf[0] && buf[strlen(buf) - 1] == '\n' ? "" : "\n");
	pthread_mutex_unlock(&out_lock);
}

void native_kunit_fail(struct kunit *test, bool assert, const char *file, int line,
		       const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	atomic_inc(&test->failures);
	native_kunit_log(test, 3, "%s FAILED at %s:%d\n    %s",
			 assert ? "ASSERTION" : "EXPECTATION", file, line, buf);
}

void native_kunit_abort(struct kunit *test)
{
	if (current == test->task && test->abort)
		longjmp(*test->abort, 1);
	/* KUnit's try-catch ends only the case's own thread. */
	native_kunit_log(test, 3, "assertion failed outside the case's thread");
	do_exit(0);
}

void native_kunit_skip(struct kunit *test, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(test->skip_reason, sizeof(test->skip_reason), fmt, ap);
	va_end(ap);
	test->skipped = true;
}

/* --- running a case ---------------------------------------------------- */

struct case_run {
	struct kunit *test;
	struct kunit_suite *suite;
	struct kunit_case *kcase;
};

static int case_thread(void *arg)
{
	struct case_run *r = arg;
	struct kunit *test = r->test;
	jmp_buf jb;

	test->task = current;
	test->abort = &jb;
	if (!setjmp(jb)) {
		if (r->suite->init && r->suite->init(test)) {
			atomic_inc(&test->failures);
			return 0;
		}
		r->kcase->run_case(test);
	}
	test->abort = NULL;
	return 0;
}

static int cleanup_thread(void *arg)
{
	struct case_run *r = arg;

	if (r->suite->exit)
		r->suite->exit(r->test);
	run_actions(r->test);
	return 0;
}

static void run_in_kthread(int (*fn)(void *), struct case_run *r, const char *what)
{
	struct task_struct *t = kthread_create(fn, r, "%s", what);

	if (IS_ERR(t)) {
		fprintf(stderr, "native: cannot start a thread\n");
		exit(2);
	}
	get_task_struct(t);
	wake_up_process(t);
	native_kthread_join(t);
	put_task_struct(t);
}

/* One run of a case (one parameter): its failures, splats counted in. */
static int run_one(struct kunit_suite *suite, struct kunit_case *kc, const void *param,
		   const char *name, bool *skipped, char *reason, size_t rlen)
{
	struct kunit test = { .name = name, .param_value = param };
	struct case_run r = { .test = &test, .suite = suite, .kcase = kc };
	long splats = atomic_long_read(&native_splats);
	long reports = atomic_long_read(&sanitizer_reports);
	int failures;

	pthread_mutex_init(&test.lock, NULL);
	run_in_kthread(case_thread, &r, "kunit_try_catch");
	run_in_kthread(cleanup_thread, &r, "kunit_cleanup");
	failures = atomic_read(&test.failures);
	splats = atomic_long_read(&native_splats) - splats;
	splats_in_cases += splats;
	if (splats) {
		fprintf(stderr, "    # %s: %ld unexpected kernel splat(s)\n", name, splats);
		failures++;
	}
	reports = atomic_long_read(&sanitizer_reports) - reports;
	reports_in_cases += reports;
	if (reports) {
		fprintf(stderr, "    # %s: %ld sanitizer report(s)\n", name, reports);
		failures++;
	}
	if (test.skipped) {
		*skipped = true;
		snprintf(reason, rlen, "%s", test.skip_reason);
	}
	pthread_mutex_destroy(&test.lock);
	return failures;
}

static const char *build = "o2";
static bool selftest;
extern struct kunit_suite native_selftest_suite;
static int npass, nfail, nskip;

static void verdict(const char *v, const char *name, const char *reason, double secs)
{
	pthread_mutex_lock(&out_lock);
	if (reason)
		printf("%s native.%s.%s (%s)\n", v, build, name, reason);
	else
		printf("%s native.%s.%s\n", v, build, name);
	if (native_log)
		fprintf(native_log, "%s native.%s.%s %.3fs\n", v, build, name, secs);
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

static void run_case(struct kunit_suite *suite, struct kunit_case *kc)
{
	char name[512], pname[700], desc[KUNIT_PARAM_DESC_SIZE], reason[256] = "";
	const char *why;
	const void *param;
	bool skipped = false;
	int failures = 0, i;
	ktime_t t0 = ktime_get();

	snprintf(name, sizeof(name), "%s.%s", suite->name, kc->name);
	why = skip_reason(name);
	if (why) {
		verdict("SKIP", name, why, 0);
		nskip++;
		return;
	}
	if (native_log)
		fprintf(native_log, "=== %s\n", name);
	if (!kc->generate_params) {
		failures = run_one(suite, kc, NULL, name, &skipped, reason, sizeof(reason));
	} else {
		desc[0] = 0;
		for (param = kc->generate_params(NULL, desc), i = 0; param;
		     param = kc->generate_params(param, desc), i++) {
			snprintf(pname, sizeof(pname), "%s#%d (%s)", name, i, desc);
			failures += run_one(suite, kc, param, pname, &skipped, reason,
					    sizeof(reason));
			desc[0] = 0;
		}
	}
	if (selftest) {
		/* The guard: each case must end as its name says. */
		bool want_fail = !strncmp(kc->name, "fails_", 6);

		if (!!failures == want_fail) {
			verdict("PASS", name, NULL, (ktime_get() - t0) / 1e9);
			npass++;
		} else {
			verdict("FAIL", name, want_fail ? "passed, must fail" : "failed",
				(ktime_get() - t0) / 1e9);
			nfail++;
		}
	} else if (failures) {
		verdict("FAIL", name, NULL, (ktime_get() - t0) / 1e9);
		nfail++;
	} else if (skipped) {
		verdict("SKIP", name, reason, 0);
		nskip++;
	} else {
		verdict("PASS", name, NULL, (ktime_get() - t0) / 1e9);
		npass++;
	}
}

static bool wanted(const char *name, char **globs, int n)
{
	int i;

	if (!n)
		return true;
	for (i = 0; i < n; i++)
		if (!fnmatch(globs[i], name, 0))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	char name[512];
	bool list = false;
	int i, s, ret, nglobs = 0;
	char **globs = calloc(argc, sizeof(*globs));
	const char *logpath = NULL;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-q"))
			native_quiet = true;
		else if (!strcmp(argv[i], "-v"))
			verbose = true;
		else if (!strcmp(argv[i], "--selftest"))
			selftest = true;
		else if (!strcmp(argv[i], "-l"))
			list = true;
		else if (!strcmp(argv[i], "--build") && i + 1 < argc)
			build = argv[++i];
		else if (!strcmp(argv[i], "--log") && i + 1 < argc)
			logpath = argv[++i];
		else
			globs[nglobs++] = argv[i];
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (logpath) {
		native_log = fopen(logpath, "w");
		if (native_log)
			setvbuf(native_log, NULL, _IOLBF, 0);
	}
	if (selftest) {
		suites[0] = &native_selftest_suite;
		nsuites = 1;
	}
	if (list) {
		for (s = 0; s < nsuites; s++)
			for (i = 0; suites[s]->test_cases[i].run_case; i++)
				printf("%s.%s\n", suites[s]->name, suites[s]->test_cases[i].name);
		return 0;
	}

	native_init();
	native_task_self("insmod");
	refcache_limits_init();
	ret = refcache_gc_wq_init();
	if (!ret && refcache_heaps_init)
		ret = refcache_heaps_init();
	if (ret) {
		printf("FAIL native.%s.module_init\n", build);
		return 1;
	}

	for (s = 0; s < nsuites; s++) {
		struct kunit_suite *suite = suites[s];

		if (suite->suite_init && suite->suite_init(suite)) {
			printf("FAIL native.%s.%s.suite_init\n", build, suite->name);
			nfail++;
			continue;
		}
		for (i = 0; suite->test_cases[i].run_case; i++) {
			snprintf(name, sizeof(name), "%s.%s", suite->name,
				 suite->test_cases[i].name);
			if (wanted(name, globs, nglobs))
				run_case(suite, &suite->test_cases[i]);
		}
		if (suite->suite_exit)
			suite->suite_exit(suite);
	}

	/* kmod/main.c's exit. */
	if (refcache_heaps_exit)
		refcache_heaps_exit();
	refcache_heaps_free_abandoned();
	refcache_gc_wq_exit();
	if (atomic_long_read(&native_splats) != splats_in_cases) {
		printf("FAIL native.%s.no_splat_outside_cases\n", build);
		nfail++;
	}
	if (atomic_long_read(&sanitizer_reports) != reports_in_cases) {
		printf("FAIL native.%s.no_sanitizer_report_outside_cases\n", build);
		nfail++;
	}
	printf("native %s: %d passed, %d failed, %d skipped\n", build, npass, nfail, nskip);
	free(globs);
	return nfail ? 1 : 0;
}
