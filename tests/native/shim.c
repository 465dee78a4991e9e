// SPDX-License-Identifier: GPL-2.0
/*
 * The runtime half of the native kernel shim (include/native/kernel.h):
 * tasks as threads, CPUs as numbers, RCU grace periods, workqueues,
 * completions, memory, the xarray, printk and the splat counter.
 */
#define _GNU_SOURCE
#include <native/kernel.h>

#include <linux/membarrier.h>
#include <malloc.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

/* ------------------------------------------------------------------ */
/* printk and splats                                                    */

atomic_long_t native_splats;		/* unexpected warnings, ever */
static atomic_t splat_expected;		/* inside expect_splat markers */
bool native_quiet;			/* printk only to the log file */
bool native_printk_stdout;		/* a benchmark's output */
FILE *native_log;

void native_printk(int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (strstr(buf, "refcache-expect-splat: begin"))
		atomic_inc(&splat_expected);
	else if (strstr(buf, "refcache-expect-splat: end"))
		atomic_dec(&splat_expected);
	if (native_log)
		fprintf(native_log, "<%d>%s%s", level, buf,
			n && buf[n - 1] == '\n' ? "" : "\n");
	if (native_printk_stdout)
		fprintf(stdout, "%s%s", buf, n && buf[n - 1] == '\n' ? "" : "\n");
	else if (!native_quiet && level <= 4)
		fprintf(stderr, "%s%s", buf, n && buf[n - 1] == '\n' ? "" : "\n");
}

/* A splat: counted against the running case unless it expects one. */
static void splat(const char *kind, const char *file, int line, const char *msg)
{
	bool expected = atomic_read(&splat_expected) > 0;

	fprintf(native_log ? native_log : stderr, "%s: %s:%d: %s%s\n", kind, file, line, msg,
		expected ? " (expected)" : "");
	if (!expected) {
		fprintf(stderr, "%s: %s:%d: %s\n", kind, file, line, msg);
		atomic_long_inc(&native_splats);
	}
}

void native_warn(const char *file, int line, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	while (n > 0 && n < (int)sizeof(buf) && buf[n - 1] == '\n')
		buf[--n] = 0;
	splat("WARNING", file, line, buf);
}

void native_bug(const char *file, int line, const char *what)
{
	fprintf(stderr, "BUG: %s:%d: %s\n", file, line, what);
	abort();
}

#undef memset
void *native_memset(void *p, int c, size_t n)
{
	return memset(p, c, n);
}

void native_might_sleep(const char *file, int line)
{
	if (unlikely(current->native_preempt))
		splat("BUG", file, line, "sleeping function called from invalid context");
}

void native_lockdep_fail(const char *file, int line, const char *what)
{
	splat("WARNING", file, line, what);
}

void native_no_timers(const char *what)
{
	fprintf(stderr, "BUG: %s: no timers (softirq context) natively\n", what);
	abort();
}

/* lib/refcount.c */
void refcount_warn_saturate(refcount_t *r, enum refcount_saturation_type t)
{
	refcount_set(r, REFCOUNT_SATURATED);

	switch (t) {
	case REFCOUNT_ADD_NOT_ZERO_OVF:
		WARN_ONCE(1, "refcount_t: saturated; leaking memory.");
		break;
	case REFCOUNT_ADD_OVF:
		WARN_ONCE(1, "refcount_t: saturated; leaking memory.");
		break;
	case REFCOUNT_ADD_UAF:
		WARN_ONCE(1, "refcount_t: addition on 0; use-after-free.");
		break;
	case REFCOUNT_SUB_UAF:
		WARN_ONCE(1, "refcount_t: underflow; use-after-free.");
		break;
	case REFCOUNT_DEC_LEAK:
		WARN_ONCE(1, "refcount_t: decrement hit 0; leaking memory.");
		break;
	default:
		WARN_ONCE(1, "refcount_t: unknown saturation event!?");
	}
}

/* ------------------------------------------------------------------ */
/* tasks                                                                */

__thread struct task_struct *native_current_task __attribute__((tls_model("initial-exec")));
unsigned int nr_cpu_ids = NR_CPUS;
const struct cpumask native_cpu_all_mask = { { (1UL << NR_CPUS) - 1 } };
const struct cpumask native_cpu_masks[NR_CPUS] = { { { 1UL } }, { { 2UL } } };
struct user_namespace init_user_ns;
static struct mm_struct native_mm;
static atomic_t next_pid = ATOMIC_INIT(1);
static atomic_t next_cpu;

/* Threads that run kernel code: what a grace period waits for. */
static pthread_mutex_t readers_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(readers);
static pthread_key_t self_key;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static struct task_struct *task_new(const char *name)
{
	struct task_struct *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	refcount_set(&t->usage, 1);
	t->pid = atomic_inc_return(&next_pid);
	t->tgid = getpid();
	t->mm = &native_mm;
	t->native_cpu = (atomic_inc_return(&next_cpu) - 1) % NR_CPUS;
	INIT_LIST_HEAD(&t->native_node);
	snprintf(t->comm, sizeof(t->comm), "%s", name);
	t->native_exited = calloc(1, sizeof(*t->native_exited));
	if (!t->native_exited) {
		free(t);
		return NULL;
	}
	init_completion(t->native_exited);
	return t;
}

void native_task_free(struct task_struct *t)
{
	free(t->native_exited);
	free(t);
}

static void task_enter(struct task_struct *t)
{
	native_current_task = t;
	pthread_mutex_lock(&readers_lock);
	list_add_tail(&t->native_node, &readers);
	pthread_mutex_unlock(&readers_lock);
}

static void task_leave(struct task_struct *t, int ret)
{
	if (t->native_preempt)
		splat("BUG", __FILE__, __LINE__, "task exits with preemption disabled");
	pthread_mutex_lock(&readers_lock);
	list_del_init(&t->native_node);
	pthread_mutex_unlock(&readers_lock);
	t->native_result = ret;
	__atomic_store_n(&t->exit_state, EXIT_DEAD, __ATOMIC_RELEASE);
	complete_all(t->native_exited);
	native_current_task = NULL;
	put_task_struct(t);
}

static void self_exit(void *arg)
{
	task_leave(arg, 0);
}

static void self_key_init(void)
{
	pthread_key_create(&self_key, self_exit);
}

/* A thread the shim did not start (main, a benchmark's): a task now. */
struct task_struct *native_current_slow(void)
{
	struct task_struct *t = task_new("native");

	if (!t)
		abort();
	t->native_self_made = true;
	task_enter(t);
	pthread_once(&self_once, self_key_init);
	pthread_setspecific(self_key, t);
	return t;
}

struct task_struct *native_task_self(const char *name)
{
	struct task_struct *t = current;

	snprintf(t->comm, sizeof(t->comm), "%s", name);
	return t;
}

static void *kthread_main(void *arg)
{
	struct task_struct *t = arg;
	jmp_buf jb;
	int ret = -EINTR;

	task_enter(t);
	wait_for_completion((struct completion *)t->native_data_start);
	if (!READ_ONCE(t->native_should_stop)) {
		t->native_exit_jmp = &jb;
		if (!setjmp(jb))
			ret = t->native_fn(t->native_data);
		else
			ret = t->native_result;
		t->native_exit_jmp = NULL;
	}
	free(t->native_data_start);
	task_leave(t, ret);
	return NULL;
}

struct task_struct *kthread_create_on_node(int (*fn)(void *), void *data, int node,
					   const char *fmt, ...)
{
	struct task_struct *t;
	pthread_attr_t attr;
	char name[TASK_COMM_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	t = task_new(name);
	if (!t)
		return ERR_PTR(-ENOMEM);
	t->flags |= PF_KTHREAD;
	t->native_fn = fn;
	t->native_data = data;
	t->native_data_start = malloc(sizeof(struct completion));
	if (!t->native_data_start) {
		native_task_free(t);
		return ERR_PTR(-ENOMEM);
	}
	init_completion(t->native_data_start);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 1 << 20);
	/* The thread's own reference is the one it was created with. */
	if (pthread_create(&t->native_thread, &attr, kthread_main, t)) {
		pthread_attr_destroy(&attr);
		free(t->native_data_start);
		native_task_free(t);
		return ERR_PTR(-EAGAIN);
	}
	pthread_attr_destroy(&attr);
	return t;
}

bool native_pin_cpus;

void kthread_bind(struct task_struct *t, unsigned int cpu)
{
	t->native_cpu = cpu;
	/*
	 * The benchmarks' threads bound to two CPUs run on two of the
	 * host's, as two kthreads would; tests leave the host scheduler
	 * free.
	 */
	if (native_pin_cpus) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu % (n > 0 ? n : 1), &set);
		pthread_setaffinity_np(t->native_thread, sizeof(set), &set);
	}
}

int set_cpus_allowed_ptr(struct task_struct *p, const struct cpumask *m)
{
	p->native_cpu = cpumask_first(m);
	return 0;
}

int wake_up_process(struct task_struct *t)
{
	if (t->native_data_start && !t->native_started) {
		t->native_started = true;
		complete(t->native_data_start);
		return 1;
	}
	return 0;
}

int native_kthread_join(struct task_struct *t)
{
	wait_for_completion(t->native_exited);
	return t->native_result;
}

int kthread_stop(struct task_struct *t)
{
	int ret;

	get_task_struct(t);
	WRITE_ONCE(t->native_should_stop, true);
	if (t->native_data_start && !t->native_started) {
		t->native_started = true;
		complete(t->native_data_start);
	}
	ret = native_kthread_join(t);
	put_task_struct(t);
	return ret;
}

bool kthread_should_stop(void)
{
	return READ_ONCE(current->native_should_stop);
}

void do_exit(long code)
{
	struct task_struct *t = current;

	if (!t->native_exit_jmp) {
		fprintf(stderr, "BUG: do_exit() outside a kthread\n");
		abort();
	}
	t->native_result = code;
	longjmp(*(jmp_buf *)t->native_exit_jmp, 1);
}

struct pid *get_task_pid(struct task_struct *t, enum pid_type type)
{
	struct pid *pid = malloc(sizeof(*pid));

	if (!pid)
		abort();
	refcount_set(&pid->count, 1);
	pid->nr = type == PIDTYPE_PID ? t->pid : t->tgid;
	return pid;
}

void put_pid(struct pid *pid)
{
	if (pid && refcount_dec_and_test(&pid->count))
		free(pid);
}

static pthread_rwlock_t cpus_lock = PTHREAD_RWLOCK_INITIALIZER;

void cpus_read_lock(void)
{
	pthread_rwlock_rdlock(&cpus_lock);
}

void cpus_read_unlock(void)
{
	pthread_rwlock_unlock(&cpus_lock);
}

void native_yield(void)
{
	sched_yield();
}

/*
 * cond_resched().  The kernel's costs a flag test and gives up the CPU
 * only when the scheduler's tick asked for it.  The tests yield every
 * time (native_resched_ns 0: the most interleavings); the benchmarks set
 * a tick, so that a loop's cond_resched() every N objects costs what it
 * does in the kernel, not a system call, and on a busy machine not a
 * time slice given to another process each time.
 */
u64 native_resched_ns;

void native_cond_resched(void)
{
	static __thread u64 last;
	u64 now;

	if (!native_resched_ns) {
		sched_yield();
		return;
	}
	now = ktime_get();
	if (now - last >= native_resched_ns) {
		last = now;
		sched_yield();
	}
}

/* ------------------------------------------------------------------ */
/* RCU: a grace period waits until every thread that was inside a
 * preemption-disabled section when it began has left it.  Readers only
 * store to their own counter; membarrier() makes those stores visible
 * (and orders them before the readers' loads) for the writer.
 */

static bool have_membarrier;

static void __attribute__((constructor)) rcu_init(void)
{
	have_membarrier = !syscall(__NR_membarrier,
				   MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
}

void synchronize_rcu(void)
{
	struct task_struct *me = current, *t;
	unsigned long s;

	if (me->native_preempt)
		splat("BUG", __FILE__, __LINE__, "synchronize_rcu() in a read-side section");
	if (have_membarrier)
		syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
	else
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	pthread_mutex_lock(&readers_lock);
	list_for_each_entry(t, &readers, native_node) {
		if (t == me)
			continue;
		s = __atomic_load_n(&t->native_rcu_ctr, __ATOMIC_ACQUIRE);
		if (!(s & 1))
			continue;
		while (__atomic_load_n(&t->native_rcu_ctr, __ATOMIC_ACQUIRE) == s)
			sched_yield();
	}
	pthread_mutex_unlock(&readers_lock);
}

static pthread_mutex_t rcu_cb_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rcu_cb_cond = PTHREAD_COND_INITIALIZER;
static struct rcu_head *rcu_cb_head, **rcu_cb_tail = &rcu_cb_head;
static unsigned long rcu_cb_queued, rcu_cb_done, rcu_cb_hurry;
static struct task_struct *rcu_thread;

/*
 * Callbacks are batched for up to a millisecond before their grace
 * period, as the kernel's are (its grace periods take milliseconds), so
 * that a run of call_rcu()s costs one membarrier(), not one each: that
 * IPIs every thread, the caller's too.  rcu_barrier() cuts the wait short.
 */
static void rcu_cb_batch_wait(void)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	while (!rcu_cb_hurry &&
	       pthread_cond_timedwait(&rcu_cb_cond, &rcu_cb_lock, &until) != ETIMEDOUT)
		;
}

static int rcu_thread_fn(void *arg)
{
	struct rcu_head *list, *next;
	unsigned long n;

	for (;;) {
		pthread_mutex_lock(&rcu_cb_lock);
		while (!rcu_cb_head)
			pthread_cond_wait(&rcu_cb_cond, &rcu_cb_lock);
		rcu_cb_batch_wait();
		list = rcu_cb_head;
		rcu_cb_head = NULL;
		rcu_cb_tail = &rcu_cb_head;
		pthread_mutex_unlock(&rcu_cb_lock);

		synchronize_rcu();
		/* Callbacks run in softirq context in the kernel. */
		for (n = 0; list; list = next, n++) {
			next = list->next;
			list->func(list);
		}
		pthread_mutex_lock(&rcu_cb_lock);
		rcu_cb_done += n;
		pthread_cond_broadcast(&rcu_cb_cond);
		pthread_mutex_unlock(&rcu_cb_lock);
	}
	return 0;
}

static void rcu_thread_start(void)
{
	rcu_thread = kthread_run(rcu_thread_fn, NULL, "rcu_cb");
	if (IS_ERR(rcu_thread))
		abort();
}

void call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *))
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, rcu_thread_start);
	head->func = func;
	head->next = NULL;
	pthread_mutex_lock(&rcu_cb_lock);
	/* The first of a batch wakes the thread; the rest join it quietly. */
	if (!rcu_cb_head)
		pthread_cond_broadcast(&rcu_cb_cond);
	*rcu_cb_tail = head;
	rcu_cb_tail = &head->next;
	rcu_cb_queued++;
	pthread_mutex_unlock(&rcu_cb_lock);
}

void rcu_barrier(void)
{
	unsigned long target;

	might_sleep();
	pthread_mutex_lock(&rcu_cb_lock);
	target = rcu_cb_queued;
	rcu_cb_hurry++;
	pthread_cond_broadcast(&rcu_cb_cond);
	while (rcu_cb_done < target)
		pthread_cond_wait(&rcu_cb_cond, &rcu_cb_lock);
	rcu_cb_hurry--;
	pthread_mutex_unlock(&rcu_cb_lock);
}

/* ------------------------------------------------------------------ */
/* completions and wait queues                                          */

void init_completion(struct completion *x)
{
	pthread_mutex_init(&x->m, NULL);
	pthread_cond_init(&x->c, NULL);
	x->done = 0;
}

void complete(struct completion *x)
{
	pthread_mutex_lock(&x->m);
	if (x->done != UINT_MAX)
		x->done++;
	pthread_cond_broadcast(&x->c);
	pthread_mutex_unlock(&x->m);
}

void complete_all(struct completion *x)
{
	pthread_mutex_lock(&x->m);
	x->done = UINT_MAX;
	pthread_cond_broadcast(&x->c);
	pthread_mutex_unlock(&x->m);
}

void wait_for_completion(struct completion *x)
{
	might_sleep();
	pthread_mutex_lock(&x->m);
	while (!x->done)
		pthread_cond_wait(&x->c, &x->m);
	if (x->done != UINT_MAX)
		x->done--;
	pthread_mutex_unlock(&x->m);
}

static void deadline_after_ns(struct timespec *ts, long ns)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ns / NSEC_PER_SEC;
	ts->tv_nsec += ns % NSEC_PER_SEC;
	if (ts->tv_nsec >= NSEC_PER_SEC) {
		ts->tv_sec++;
		ts->tv_nsec -= NSEC_PER_SEC;
	}
}

unsigned long wait_for_completion_timeout(struct completion *x, unsigned long timeout)
{
	ktime_t end = ktime_get() + (ktime_t)timeout * (NSEC_PER_SEC / HZ);
	struct timespec ts;
	unsigned long left = 0;

	might_sleep();
	deadline_after_ns(&ts, (long)timeout * (NSEC_PER_SEC / HZ));
	pthread_mutex_lock(&x->m);
	while (!x->done)
		if (pthread_cond_timedwait(&x->c, &x->m, &ts))
			break;
	if (x->done) {
		if (x->done != UINT_MAX)
			x->done--;
		left = max_t(long, 1, (end - ktime_get()) / (NSEC_PER_SEC / HZ));
	}
	pthread_mutex_unlock(&x->m);
	return left;
}

bool completion_done(struct completion *x)
{
	bool done;

	pthread_mutex_lock(&x->m);
	done = x->done;
	pthread_mutex_unlock(&x->m);
	return done;
}

bool try_wait_for_completion(struct completion *x)
{
	bool done;

	pthread_mutex_lock(&x->m);
	done = x->done;
	if (done && x->done != UINT_MAX)
		x->done--;
	pthread_mutex_unlock(&x->m);
	return done;
}

void init_waitqueue_head(wait_queue_head_t *wq)
{
	pthread_mutex_init(&wq->m, NULL);
	pthread_cond_init(&wq->c, NULL);
	wq->seq = 0;
}

void native_wake_up(wait_queue_head_t *wq)
{
	pthread_mutex_lock(&wq->m);
	wq->seq++;
	pthread_cond_broadcast(&wq->c);
	pthread_mutex_unlock(&wq->m);
}

unsigned long native_wait_seq(wait_queue_head_t *wq)
{
	unsigned long s;

	pthread_mutex_lock(&wq->m);
	s = wq->seq;
	pthread_mutex_unlock(&wq->m);
	return s;
}

void native_wait_for(wait_queue_head_t *wq, unsigned long seq, long timeout_ns)
{
	struct timespec ts;

	deadline_after_ns(&ts, timeout_ns);
	pthread_mutex_lock(&wq->m);
	while (wq->seq == seq)
		if (pthread_cond_timedwait(&wq->c, &wq->m, &ts))
			break;
	pthread_mutex_unlock(&wq->m);
}

/* ------------------------------------------------------------------ */
/*
 * workqueues: a few worker threads per queue; one lock for them all.
 * A work runs on one worker at a time (the kernel's non-reentrancy).
 */

#define WQ_WORKERS	2

struct workqueue_struct {
	char name[32];
	struct list_head pending;
	struct work_struct *running[WQ_WORKERS];
	struct task_struct *workers[WQ_WORKERS];
	bool dying;
};

static pthread_mutex_t wq_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wq_cond = PTHREAD_COND_INITIALIZER;
struct workqueue_struct *system_wq;
struct workqueue_struct *system_unbound_wq;

static bool wq_running(struct workqueue_struct *wq, struct work_struct *w)
{
	int i;

	for (i = 0; i < WQ_WORKERS; i++)
		if (wq->running[i] == w)
			return true;
	return false;
}

struct wq_worker { struct workqueue_struct *wq; int i; };

static int wq_worker_fn(void *arg)
{
	struct wq_worker *ww = arg;
	struct workqueue_struct *wq = ww->wq;
	struct work_struct *w, *found;
	int i = ww->i;

	free(ww);
	current->flags |= PF_WQ_WORKER;
	pthread_mutex_lock(&wq_lock);
	for (;;) {
		found = NULL;
		list_for_each_entry(w, &wq->pending, entry) {
			if (!wq_running(wq, w)) {
				found = w;
				break;
			}
		}
		if (!found) {
			if (wq->dying)
				break;
			pthread_cond_wait(&wq_cond, &wq_lock);
			continue;
		}
		list_del_init(&found->entry);
		wq->running[i] = found;
		__atomic_and_fetch(&found->state, ~1UL, __ATOMIC_SEQ_CST);
		pthread_mutex_unlock(&wq_lock);

		current->native_work = found;
		found->func(found);
		current->native_work = NULL;

		pthread_mutex_lock(&wq_lock);
		wq->running[i] = NULL;
		pthread_cond_broadcast(&wq_cond);
	}
	pthread_mutex_unlock(&wq_lock);
	return 0;
}

struct workqueue_struct *alloc_workqueue(const char *fmt, unsigned int flags, int max_active, ...)
{
	struct workqueue_struct *wq = calloc(1, sizeof(*wq));
	struct wq_worker *ww;
	int i;

	if (!wq)
		return NULL;
	snprintf(wq->name, sizeof(wq->name), "%s", fmt);
	INIT_LIST_HEAD(&wq->pending);
	for (i = 0; i < WQ_WORKERS; i++) {
		ww = malloc(sizeof(*ww));
		if (!ww)
			abort();
		ww->wq = wq;
		ww->i = i;
		wq->workers[i] = kthread_create(wq_worker_fn, ww, "kworker/%s", wq->name);
		if (IS_ERR(wq->workers[i]))
			abort();
		get_task_struct(wq->workers[i]);
		wake_up_process(wq->workers[i]);
	}
	return wq;
}

void flush_workqueue(struct workqueue_struct *wq)
{
	int i;
	bool busy;

	pthread_mutex_lock(&wq_lock);
	for (;;) {
		busy = !list_empty(&wq->pending);
		for (i = 0; i < WQ_WORKERS; i++)
			busy |= wq->running[i] != NULL;
		if (!busy)
			break;
		pthread_cond_wait(&wq_cond, &wq_lock);
	}
	pthread_mutex_unlock(&wq_lock);
}

void destroy_workqueue(struct workqueue_struct *wq)
{
	int i;

	flush_workqueue(wq);
	pthread_mutex_lock(&wq_lock);
	wq->dying = true;
	pthread_cond_broadcast(&wq_cond);
	pthread_mutex_unlock(&wq_lock);
	for (i = 0; i < WQ_WORKERS; i++) {
		native_kthread_join(wq->workers[i]);
		put_task_struct(wq->workers[i]);
	}
	free(wq);
}

bool queue_work(struct workqueue_struct *wq, struct work_struct *work)
{
	bool queued = false;

	pthread_mutex_lock(&wq_lock);
	if (!(__atomic_fetch_or(&work->state, 1UL, __ATOMIC_SEQ_CST) & 1)) {
		work->wq = wq;
		list_add_tail(&work->entry, &wq->pending);
		pthread_cond_broadcast(&wq_cond);
		queued = true;
	}
	pthread_mutex_unlock(&wq_lock);
	return queued;
}

bool flush_work(struct work_struct *work)
{
	struct workqueue_struct *wq;
	bool waited = false;

	might_sleep();
	pthread_mutex_lock(&wq_lock);
	wq = work->wq;
	while (wq && (!list_empty(&work->entry) || wq_running(wq, work))) {
		waited = true;
		pthread_cond_wait(&wq_cond, &wq_lock);
	}
	pthread_mutex_unlock(&wq_lock);
	return waited;
}

bool cancel_work_sync(struct work_struct *work)
{
	struct workqueue_struct *wq;
	bool pending = false;

	might_sleep();
	pthread_mutex_lock(&wq_lock);
	wq = work->wq;
	if (!list_empty(&work->entry)) {
		list_del_init(&work->entry);
		__atomic_and_fetch(&work->state, ~1UL, __ATOMIC_SEQ_CST);
		pending = true;
	}
	while (wq && wq_running(wq, work))
		pthread_cond_wait(&wq_cond, &wq_lock);
	pthread_mutex_unlock(&wq_lock);
	return pending;
}

struct work_struct *current_work(void)
{
	return current->native_work;
}

/*
 * The kernel runs @fn on a kworker bound to @cpu; here the caller runs it
 * as @cpu, whose local_lock (a real lock here) keeps that CPU's owners out.
 */
long work_on_cpu(int cpu, long (*fn)(void *), void *arg)
{
	struct task_struct *t = current;
	int old = t->native_cpu;
	long ret;

	might_sleep();
	t->native_cpu = cpu;
	ret = fn(arg);
	t->native_cpu = old;
	return ret;
}

int cpuhp_setup_state_nocalls(enum cpuhp_state state, const char *name,
			      int (*startup)(unsigned int cpu),
			      int (*teardown)(unsigned int cpu))
{
	return state == CPUHP_BP_PREPARE_DYN ? 100 : 0;
}

void cpuhp_remove_state_nocalls(enum cpuhp_state state)
{
}

/* ------------------------------------------------------------------ */
/* memory                                                                */

atomic_long_t native_fail_alloc;

static bool fail_this(gfp_t gfp)
{
	long n = atomic_long_read(&native_fail_alloc);

	while (n > 0)
		if (atomic_long_try_cmpxchg(&native_fail_alloc, &n, n - 1))
			return true;
	return false;
}

size_t kmalloc_size_roundup(size_t size)
{
	static const size_t buckets[] = { 8, 16, 32, 64, 96, 128, 192, 256, 512, 1024,
					  2048, 4096, 8192 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(buckets); i++)
		if (size <= buckets[i])
			return buckets[i];
	for (i = 0; (PAGE_SIZE << i) < size; i++)
		;
	return PAGE_SIZE << i;
}

void *native_kmalloc(size_t size, gfp_t gfp)
{
	void *p;

	might_alloc(gfp);
	if (fail_this(gfp))
		return NULL;
	/* kmalloc's power-of-two sizes are naturally aligned. */
	if (size >= 16 && size <= PAGE_SIZE && !(size & (size - 1)))
		p = aligned_alloc(size, size);
	else
		p = malloc(size ? size : 1);
	if (p && (gfp & __GFP_ZERO))
		memset(p, 0, size);
	return p;
}

void native_kfree(const void *p)
{
	free((void *)p);
}

void *native_vmalloc(size_t size, gfp_t gfp)
{
	void *p;

	might_alloc(gfp);
	if (fail_this(gfp))
		return NULL;
	p = aligned_alloc(PAGE_SIZE, PAGE_ALIGN(size ? size : 1));
	if (p && (gfp & __GFP_ZERO))
		memset(p, 0, size);
	return p;
}

struct page *alloc_pages(gfp_t gfp, unsigned int order)
{
	size_t size = PAGE_SIZE << order;
	void *p;

	might_alloc(gfp);
	if (fail_this(gfp))
		return NULL;
	p = aligned_alloc(size, size);
	if (p && (gfp & __GFP_ZERO))
		memset(p, 0, size);
	return p;
}

void __free_pages(struct page *page, unsigned int order)
{
	free(page);
}

unsigned long __get_free_pages(gfp_t gfp, unsigned int order)
{
	return (unsigned long)alloc_pages(gfp, order);
}

void free_pages(unsigned long addr, unsigned int order)
{
	free((void *)addr);
}

unsigned long totalram_pages(void)
{
	return sysconf(_SC_PHYS_PAGES);
}

/* Per-CPU areas: CPU n's copy of everything lives n strides up. */
static pthread_mutex_t pcpu_lock = PTHREAD_MUTEX_INITIALIZER;
static char *pcpu_base;
static size_t pcpu_used;
struct pcpu_free { struct pcpu_free *next; size_t size; };
static struct pcpu_free *pcpu_freelist;

void *native_alloc_percpu(size_t size, size_t align)
{
	struct pcpu_free **pp, *f;
	void *p = NULL;
	int cpu;

	size = ALIGN_K(size + 16, (size_t)64);
	pthread_mutex_lock(&pcpu_lock);
	if (!pcpu_base) {
		pcpu_base = mmap(NULL, NATIVE_PCPU_STRIDE * NR_CPUS, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (pcpu_base == MAP_FAILED)
			abort();
	}
	for (pp = &pcpu_freelist; *pp; pp = &(*pp)->next) {
		if ((*pp)->size == size) {
			f = *pp;
			*pp = f->next;
			p = f;
			break;
		}
	}
	if (!p && pcpu_used + size <= NATIVE_PCPU_STRIDE) {
		p = pcpu_base + pcpu_used;
		pcpu_used += size;
	}
	pthread_mutex_unlock(&pcpu_lock);
	if (!p)
		return NULL;
	/* The size before the area, for free_percpu(). */
	*(size_t *)p = size;
	p = (char *)p + 16;
	for (cpu = 0; cpu < NR_CPUS; cpu++)
		memset(per_cpu_ptr((char *)p, cpu), 0, size - 16);
	return p;
}

void free_percpu(void __percpu *p)
{
	struct pcpu_free *f;

	if (!p)
		return;
	f = (struct pcpu_free *)((char *)p - 16);
	f->size = *(size_t *)f;
	pthread_mutex_lock(&pcpu_lock);
	f->next = pcpu_freelist;
	pcpu_freelist = f;
	pthread_mutex_unlock(&pcpu_lock);
}

ssize_t strscpy(char *dst, const char *src, size_t count)
{
	size_t len;

	if (!count)
		return -E2BIG;
	len = strnlen(src, count);
	if (len == count) {
		memcpy(dst, src, count - 1);
		dst[count - 1] = 0;
		return -E2BIG;
	}
	memcpy(dst, src, len + 1);
	return len;
}

void sort(void *base, size_t num, size_t size, int (*cmp)(const void *, const void *),
	  void (*swap_fn)(void *, void *, int))
{
	qsort(base, num, size, cmp);
}

void seq_printf(struct seq_file *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (m->count >= m->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(m->buf + m->count, m->size - m->count, fmt, ap);
	va_end(ap);
	if (n > 0)
		m->count = min(m->size, m->count + n);
}

void seq_puts(struct seq_file *m, const char *s)
{
	seq_printf(m, "%s", s);
}

void seq_putc(struct seq_file *m, char c)
{
	seq_printf(m, "%c", c);
}

/* Modules, by name; never freed. */
static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static struct module modules[8];
static int nmodules;

struct module *native_module(const char *name)
{
	struct module *m = NULL;
	int i;

	pthread_mutex_lock(&modules_lock);
	for (i = 0; i < nmodules; i++)
		if (!strcmp(modules[i].name, name))
			m = &modules[i];
	if (!m && nmodules < (int)ARRAY_SIZE(modules)) {
		m = &modules[nmodules++];
		snprintf(m->name, sizeof(m->name), "%s", name);
	}
	pthread_mutex_unlock(&modules_lock);
	if (!m)
		abort();
	return m;
}

int register_module_notifier(struct notifier_block *nb)
{
	return 0;
}

int unregister_module_notifier(struct notifier_block *nb)
{
	return 0;
}

/* Module parameters, settable by name from a native program. */
#define MAX_PARAMS	64
static struct { const char *name, *type; void *p; } params[MAX_PARAMS];
static int nparams;

void native_param_register(const char *name, const char *type, void *p)
{
	if (nparams < MAX_PARAMS)
		params[nparams++] = (typeof(params[0])){ name, type, p };
}

/* "name=value" for a registered parameter; false if there is none. */
bool native_param_set(const char *arg)
{
	const char *eq = strchr(arg, '=');
	int i;

	if (!eq)
		return false;
	for (i = 0; i < nparams; i++) {
		if (strlen(params[i].name) != (size_t)(eq - arg) ||
		    strncmp(params[i].name, arg, eq - arg))
			continue;
		if (!strcmp(params[i].type, "uint"))
			*(unsigned int *)params[i].p = strtoul(eq + 1, NULL, 0);
		else if (!strcmp(params[i].type, "int"))
			*(int *)params[i].p = strtol(eq + 1, NULL, 0);
		else if (!strcmp(params[i].type, "ullong"))
			*(unsigned long long *)params[i].p = strtoull(eq + 1, NULL, 0);
		else if (!strcmp(params[i].type, "bool"))
			*(bool *)params[i].p = eq[1] == '1' || eq[1] == 'y' || eq[1] == 'Y';
		else
			return false;
		return true;
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* time, random                                                          */

ktime_t ktime_get(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ktime_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * NSEC_PER_MSEC };

	might_sleep();
	nanosleep(&ts, NULL);
}

void usleep_range(unsigned long min, unsigned long max)
{
	struct timespec ts = { min / USEC_PER_SEC, (min % USEC_PER_SEC) * NSEC_PER_USEC };

	might_sleep();
	nanosleep(&ts, NULL);
}

void udelay(unsigned long us)
{
	ktime_t end = ktime_get() + us * NSEC_PER_USEC;

	while (ktime_get() < end)
		cpu_relax();
}

static __thread u64 rnd_state;

u64 get_random_u64(void)
{
	u64 x = rnd_state;

	if (!x)
		x = (u64)ktime_get() ^ ((u64)(uintptr_t)&rnd_state << 17) ^ 0x9e3779b97f4a7c15ULL;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rnd_state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

u32 get_random_u32(void)
{
	return get_random_u64() >> 32;
}

void get_random_bytes(void *buf, size_t len)
{
	u64 r;

	while (len) {
		size_t n = min(len, sizeof(r));

		r = get_random_u64();
		memcpy(buf, &r, n);
		buf = (char *)buf + n;
		len -= n;
	}
}

/* ------------------------------------------------------------------ */
/* xarray                                                                */

void xa_init_flags(struct xarray *xa, unsigned int flags)
{
	pthread_rwlock_init(&xa->lock, NULL);
	xa->flags = flags;
	xa->n = 0;
	xa->cap = 0;
	xa->v = NULL;
}

/* First slot whose index is >= @index. */
static unsigned int xa_pos(struct xarray *xa, unsigned long index)
{
	unsigned int lo = 0, hi = xa->n, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (xa->v[mid].index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void *xa_load(struct xarray *xa, unsigned long index)
{
	void *e = NULL;
	unsigned int i;

	pthread_rwlock_rdlock(&xa->lock);
	i = xa_pos(xa, index);
	if (i < xa->n && xa->v[i].index == index)
		e = xa->v[i].entry;
	pthread_rwlock_unlock(&xa->lock);
	return e;
}

static int xa_put_locked(struct xarray *xa, unsigned long index, void *entry, bool replace,
			 void **old, gfp_t gfp)
{
	unsigned int i = xa_pos(xa, index);
	struct native_xa_ent *v;

	if (i < xa->n && xa->v[i].index == index) {
		if (!replace)
			return -EBUSY;
		*old = xa->v[i].entry;
		xa->v[i].entry = entry;
		return 0;
	}
	if (fail_this(gfp))
		return -ENOMEM;
	if (xa->n == xa->cap) {
		v = realloc(xa->v, sizeof(*v) * (xa->cap ? xa->cap * 2 : 8));
		if (!v)
			return -ENOMEM;
		xa->v = v;
		xa->cap = xa->cap ? xa->cap * 2 : 8;
	}
	memmove(&xa->v[i + 1], &xa->v[i], sizeof(*xa->v) * (xa->n - i));
	xa->v[i].index = index;
	xa->v[i].entry = entry;
	xa->n++;
	return 0;
}

static void *xa_erase_locked(struct xarray *xa, unsigned long index)
{
	unsigned int i = xa_pos(xa, index);
	void *e;

	if (i >= xa->n || xa->v[i].index != index)
		return NULL;
	e = xa->v[i].entry;
	memmove(&xa->v[i], &xa->v[i + 1], sizeof(*xa->v) * (xa->n - i - 1));
	xa->n--;
	return e;
}

void *xa_store(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp)
{
	void *old = NULL;
	int ret;

	might_alloc(gfp);
	pthread_rwlock_wrlock(&xa->lock);
	if (entry)
		ret = xa_put_locked(xa, index, entry, true, &old, gfp);
	else
		ret = 0, old = xa_erase_locked(xa, index);
	pthread_rwlock_unlock(&xa->lock);
	return ret ? ERR_PTR(ret) : old;
}

int xa_insert(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp)
{
	void *old;
	int ret;

	might_alloc(gfp);
	pthread_rwlock_wrlock(&xa->lock);
	ret = xa_put_locked(xa, index, entry, false, &old, gfp);
	pthread_rwlock_unlock(&xa->lock);
	return ret;
}

void *xa_erase(struct xarray *xa, unsigned long index)
{
	void *e;

	pthread_rwlock_wrlock(&xa->lock);
	e = xa_erase_locked(xa, index);
	pthread_rwlock_unlock(&xa->lock);
	return e;
}

void xa_destroy(struct xarray *xa)
{
	pthread_rwlock_wrlock(&xa->lock);
	free(xa->v);
	xa->v = NULL;
	xa->n = 0;
	xa->cap = 0;
	pthread_rwlock_unlock(&xa->lock);
}

bool xa_empty(struct xarray *xa)
{
	return !READ_ONCE(xa->n);
}

/* The first free id in [min, max] from @start, or -EBUSY. */
static int xa_alloc_locked(struct xarray *xa, u32 *id, void *entry, u32 min, u32 max,
			   u32 start, gfp_t gfp)
{
	unsigned long want = start;
	unsigned int i = xa_pos(xa, want);
	void *old;

	while (i < xa->n && xa->v[i].index == want && want <= max) {
		want++;
		i++;
	}
	if (want > max || want < min)
		return -EBUSY;
	*id = want;
	return xa_put_locked(xa, want, entry, false, &old, gfp);
}

int xa_alloc(struct xarray *xa, u32 *id, void *entry, struct xa_limit limit, gfp_t gfp)
{
	u32 min = limit.min;
	int ret;

	if ((xa->flags & XA_FLAGS_ALLOC1) == XA_FLAGS_ALLOC1 && !min)
		min = 1;
	pthread_rwlock_wrlock(&xa->lock);
	ret = xa_alloc_locked(xa, id, entry, min, limit.max, min, gfp);
	pthread_rwlock_unlock(&xa->lock);
	return ret;
}

int xa_alloc_cyclic(struct xarray *xa, u32 *id, void *entry, struct xa_limit limit,
		    u32 *next, gfp_t gfp)
{
	u32 min = limit.min;
	int ret;

	if ((xa->flags & XA_FLAGS_ALLOC1) == XA_FLAGS_ALLOC1 && !min)
		min = 1;
	pthread_rwlock_wrlock(&xa->lock);
	ret = xa_alloc_locked(xa, id, entry, min, limit.max, max(*next, min), gfp);
	if (ret == -EBUSY) {
		ret = xa_alloc_locked(xa, id, entry, min, limit.max, min, gfp);
		if (!ret)
			ret = 1;	/* wrapped */
	}
	if (ret >= 0) {
		*next = *id + 1;
		if (*id == limit.max)
			*next = min;
	}
	pthread_rwlock_unlock(&xa->lock);
	return ret;
}

void *xa_find(struct xarray *xa, unsigned long *index, unsigned long max, unsigned int filter)
{
	void *e = NULL;
	unsigned int i;

	pthread_rwlock_rdlock(&xa->lock);
	i = xa_pos(xa, *index);
	if (i < xa->n && xa->v[i].index <= max) {
		*index = xa->v[i].index;
		e = xa->v[i].entry;
	}
	pthread_rwlock_unlock(&xa->lock);
	return e;
}

void *xa_find_after(struct xarray *xa, unsigned long *index, unsigned long max,
		    unsigned int filter)
{
	unsigned long next = *index + 1;
	void *e;

	if (!next)
		return NULL;
	e = xa_find(xa, &next, max, filter);
	if (e)
		*index = next;
	return e;
}

/* ------------------------------------------------------------------ */

void native_init(void)
{
	/*
	 * Arenas and large objects from the heap, reused, rather than fresh
	 * mmap()s that fault in every page: the buddy allocator does not.
	 */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	system_wq = alloc_workqueue("events", 0, 0);
	system_unbound_wq = system_wq;
}
