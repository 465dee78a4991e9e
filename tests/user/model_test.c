// SPDX-License-Identifier: GPL-2.0
/*
 * Randomised differential test of /dev/refcache: a userspace model of
 * handles, refcounts, slots and liveness runs the same seeded random
 * operation sequence as the module, through single ioctls and through
 * REFCACHE_IOC_BATCH, and predicts every result and every error.  At
 * checkpoints every open handle's refcount and object, the slots of every
 * reachable object and the heap's object and handle counts must agree
 * with the model.  Automatic collection is off and the test never
 * collects: cycles stay alive.
 *
 * The same runs go on in biased caches (REFCACHE_CACHE_BIASED, with and
 * without TRACKED), which must behave exactly as atomic ones, from
 * several worker threads that take turns (tap.h's turns_*): the thread
 * that runs the next slice of operations is drawn from the same seed, so
 * objects are made by (owned by) different threads and every thread
 * dups, closes, stores, loads and upgrades handles to the others'
 * objects.  Every few hundred steps one worker exits (joined and gone
 * from /proc) while its objects live on through handles and slots and a
 * fresh thread takes its place; at the end every worker exits, and the
 * main thread, which owns nothing, checks and closes what they left.  A
 * run with 70 workers passes the 64 owners a heap tracks.
 *
 * REFCACHE_SEED=<n> in the environment repeats a run.  Prints TAP.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "refcache.h"
#include "tap.h"

#define NS	3	/* slots per object */
#define MAXH	256	/* open handles the model keeps */
#define MAXO	20000	/* objects per round */
#define NCLOSED	64	/* closed ids kept for stale use */
#define CHECK_EVERY	64
#define WALK_EVERY	512
#define EXIT_EVERY	400	/* steps between two owner exits, with workers */

/* Expected outcome: 0 for success, else a mask of acceptable errors. */
#define X_EBADF		1
#define X_EINVAL	2
#define X_ENOENT	4

struct mobj {
	int rc;			/* 0: freed */
	int slot[NS];		/* object index or -1 */
	uint32_t tag;		/* written at offset 0 of the payload */
	int owner;		/* the thread that made it: 0 main, else a worker's life */
};

struct mhandle {
	uint64_t id;
	int obj;
	int weak;
};

struct model {
	struct mobj o[MAXO];
	int nobj, live;
	struct mhandle h[MAXH];
	int nh;
	uint64_t closed[NCLOSED];
	int nclosed;
	int fd, cache;
	uint64_t rng;
	long step, steps, next_check, next_walk;
	int mode;		/* 0: single ioctls, 1: batches, 2: both */
	/* Worker threads (0: everything runs in the main thread). */
	int nthr, slice, cur;
	int life[TURNS_MAX];	/* each worker's current life, for mobj.owner */
	int lives;
	int exits, orphans;	/* owners that exited; their live objects then */
	char why[256];
};

static struct model M;
static struct turns T;

static uint64_t rnd(void)
{
	/* xorshift64* */
	M.rng ^= M.rng >> 12;
	M.rng ^= M.rng << 25;
	M.rng ^= M.rng >> 27;
	return M.rng * 0x2545F4914F6CDD1Dull;
}

static unsigned int rn(unsigned int n)
{
	return n ? (unsigned int)(rnd() % n) : 0;
}

static int lookup(uint64_t id)
{
	int i;

	if (!id)
		return -1;
	for (i = 0; i < M.nh; i++)
		if (M.h[i].id == id)
			return i;
	return -1;
}

static void decref(int obj)
{
	static int stack[NS * MAXO + 1];
	int n = 0, s;

	stack[n++] = obj;
	while (n) {
		int o = stack[--n];

		if (--M.o[o].rc > 0)
			continue;
		M.live--;
		for (s = 0; s < NS; s++)
			if (M.o[o].slot[s] >= 0) {
				stack[n++] = M.o[o].slot[s];
				M.o[o].slot[s] = -1;
			}
	}
}

static int add_handle(uint64_t id, int obj, int weak)
{
	int i;

	if (!id || lookup(id) >= 0) {
		snprintf(M.why, sizeof(M.why), "new handle %#" PRIx64 " is 0 or already open", id);
		return -1;
	}
	for (i = 0; i < M.nclosed && i < NCLOSED; i++)
		if (M.closed[i] == id) {
			snprintf(M.why, sizeof(M.why), "closed id %#" PRIx64 " reissued", id);
			return -1;
		}
	if (M.nh >= MAXH) {
		snprintf(M.why, sizeof(M.why), "model handle table full");
		return -1;
	}
	M.h[M.nh++] = (struct mhandle){ id, obj, weak };
	if (!weak)
		M.o[obj].rc++;
	return 0;
}

static void remove_handle(int i)
{
	struct mhandle h = M.h[i];

	M.h[i] = M.h[--M.nh];
	M.closed[M.nclosed++ % NCLOSED] = h.id;
	if (!h.weak)
		decref(h.obj);
}

/* Mask for "needs a strong handle": 0 when @id is an open strong one. */
static int need_strong(uint64_t id)
{
	int i = lookup(id);

	if (i < 0)
		return X_EBADF;
	return M.h[i].weak ? X_EINVAL : 0;
}

struct mop {
	int code;		/* REFCACHE_OP_*; REFCACHE_OP_REFCOUNT is INFO singly */
	uint64_t h;
	uint32_t arg;
	uint64_t value;
};

static const char *const opnames[] = {
	"?", "new", "dup", "close", "load", "store", "weak_new", "weak_upgrade", "refcount",
};

/*
 * Predict @op against the model: the expected error mask (0: success)
 * and, for REFCOUNT, the expected result.  Does not change the model.
 */
static int predict(const struct mop *op, uint64_t *want_result)
{
	int m, i;

	*want_result = 0;
	switch (op->code) {
	case REFCACHE_OP_NEW:
		return op->arg == (uint32_t)M.cache ? 0 : X_ENOENT;
	case REFCACHE_OP_DUP:
	case REFCACHE_OP_WEAK_NEW:
		return need_strong(op->h);
	case REFCACHE_OP_REFCOUNT:
		m = need_strong(op->h);
		if (!m)
			*want_result = M.o[M.h[lookup(op->h)].obj].rc;
		return m;
	case REFCACHE_OP_CLOSE:
		return lookup(op->h) < 0 ? X_EBADF : 0;
	case REFCACHE_OP_SLOT_LOAD:
		m = need_strong(op->h);
		if (op->arg >= NS)
			m |= X_EINVAL;
		return m;
	case REFCACHE_OP_SLOT_STORE:
		m = need_strong(op->h);
		if (op->value)
			m |= need_strong(op->value);
		if (op->arg >= NS)
			m |= X_EINVAL;
		return m;
	case REFCACHE_OP_WEAK_UPGRADE:
		i = lookup(op->h);
		if (i < 0)
			return X_EBADF;
		if (!M.h[i].weak)
			return X_EINVAL;
		return M.o[M.h[i].obj].rc > 0 ? 0 : X_ENOENT;
	}
	return X_EINVAL;
}

/* Apply a successful @op with the kernel's @result to the model. */
static int apply(const struct mop *op, uint64_t result)
{
	int i = lookup(op->h), o, old;

	switch (op->code) {
	case REFCACHE_OP_NEW:
		if (M.nobj >= MAXO) {
			snprintf(M.why, sizeof(M.why), "model object table full");
			return -1;
		}
		o = M.nobj++;
		M.o[o] = (struct mobj){ 0, { -1, -1, -1 }, 0x10000000u + o, M.cur };
		M.live++;
		return add_handle(result, o, 0);
	case REFCACHE_OP_DUP:
		return add_handle(result, M.h[i].obj, 0);
	case REFCACHE_OP_WEAK_NEW:
		return add_handle(result, M.h[i].obj, 1);
	case REFCACHE_OP_WEAK_UPGRADE:
		return add_handle(result, M.h[i].obj, 0);
	case REFCACHE_OP_CLOSE:
		remove_handle(i);
		return 0;
	case REFCACHE_OP_SLOT_LOAD:
		o = M.o[M.h[i].obj].slot[op->arg];
		if (o < 0) {
			if (result) {
				snprintf(M.why, sizeof(M.why), "load of an empty slot gave %#" PRIx64,
					 result);
				return -1;
			}
			return 0;
		}
		return add_handle(result, o, 0);
	case REFCACHE_OP_SLOT_STORE: {
		int nv = op->value ? M.h[lookup(op->value)].obj : -1;
		struct mobj *t = &M.o[M.h[i].obj];

		if (nv >= 0)
			M.o[nv].rc++;
		old = t->slot[op->arg];
		t->slot[op->arg] = nv;
		if (old >= 0)
			decref(old);
		return 0;
	}
	case REFCACHE_OP_REFCOUNT:
		return 0;
	}
	return -1;
}

/* A random handle id: mostly open ones, sometimes closed, zero or junk. */
static uint64_t pick_handle(int strong_only)
{
	unsigned int r = rn(100);
	int i, tries;

	if (r < 85 && M.nh) {
		for (tries = 0; tries < 8; tries++) {
			i = rn(M.nh);
			if (!strong_only || !M.h[i].weak)
				return M.h[i].id;
		}
		return M.h[rn(M.nh)].id;
	}
	if (r < 94 && M.nclosed)
		return M.closed[rn(M.nclosed < NCLOSED ? M.nclosed : NCLOSED)];
	if (r < 97)
		return 0;
	return rnd() | 1;
}

static void gen(struct mop *op, int allow_refcount)
{
	unsigned int r = rn(100);

	memset(op, 0, sizeof(*op));
	if (M.nh == 0 || (M.nh < 8 && r < 40))
		r = 0;
	else if (M.nh > MAXH - 80 && r < 60)
		r = 30;		/* keep room: close */
	if (r < 12) {
		op->code = REFCACHE_OP_NEW;
		op->arg = rn(100) < 95 ? (uint32_t)M.cache : (uint32_t)M.cache + 100 + rn(5);
	} else if (r < 22) {
		op->code = REFCACHE_OP_DUP;
		op->h = pick_handle(0);
	} else if (r < 40) {
		op->code = REFCACHE_OP_CLOSE;
		op->h = pick_handle(0);
	} else if (r < 55) {
		op->code = REFCACHE_OP_SLOT_LOAD;
		op->h = pick_handle(1);
		op->arg = rn(100) < 92 ? rn(NS) : (rn(2) ? NS + rn(4) : 0xffffffffu);
	} else if (r < 77) {
		op->code = REFCACHE_OP_SLOT_STORE;
		op->h = pick_handle(1);
		op->arg = rn(100) < 94 ? rn(NS) : NS + rn(60);
		op->value = rn(100) < 25 ? 0 : pick_handle(1);
	} else if (r < 83) {
		op->code = REFCACHE_OP_WEAK_NEW;
		op->h = pick_handle(0);
	} else if (r < 90) {
		op->code = REFCACHE_OP_WEAK_UPGRADE;
		op->h = pick_handle(0);
	} else {
		op->code = REFCACHE_OP_REFCOUNT;
		/* REFCOUNT of a weak handle is not specified: strong or bad ids. */
		op->h = pick_handle(1);
		if (lookup(op->h) >= 0 && M.h[lookup(op->h)].weak)
			op->h = 0;
	}
	(void)allow_refcount;
}

static int errmask(int err)
{
	switch (err) {
	case 0: return 0;
	case -EBADF: return X_EBADF;
	case -EINVAL: return X_EINVAL;
	case -ENOENT: return X_ENOENT;
	}
	return 1 << 20;
}

static int verdict(const struct mop *op, int want, int err, uint64_t want_res,
		   uint64_t res)
{
	if ((want == 0 && err != 0) || (want != 0 && !(errmask(err) & want))) {
		snprintf(M.why, sizeof(M.why),
			 "step %ld: %s h=%#" PRIx64 " arg=%u value=%#" PRIx64
			 ": got %d, model expects %s%s%s%s",
			 M.step, opnames[op->code], op->h, op->arg, op->value, err,
			 want ? "" : "success", want & X_EBADF ? "-EBADF " : "",
			 want & X_EINVAL ? "-EINVAL " : "", want & X_ENOENT ? "-ENOENT" : "");
		return -1;
	}
	if (!want && op->code == REFCACHE_OP_REFCOUNT && res != want_res) {
		snprintf(M.why, sizeof(M.why), "step %ld: refcount of %#" PRIx64
			 " is %" PRIu64 ", model says %" PRIu64, M.step, op->h, res, want_res);
		return -1;
	}
	return 0;
}

static int write_tag(uint64_t h)
{
	int i = lookup(h), r;

	r = refcache_write(M.fd, h, 0, &M.o[M.h[i].obj].tag, 4);
	if (r)
		snprintf(M.why, sizeof(M.why), "write tag: %d", r);
	return r;
}

static int exec_single(const struct mop *op)
{
	struct refcache_obj_info info;
	uint64_t res = 0, want_res;
	int want = predict(op, &want_res), err = -1;

	switch (op->code) {
	case REFCACHE_OP_NEW: err = refcache_new(M.fd, op->arg, &res); break;
	case REFCACHE_OP_DUP: err = refcache_dup(M.fd, op->h, &res); break;
	case REFCACHE_OP_CLOSE: err = refcache_handle_close(M.fd, op->h); break;
	case REFCACHE_OP_SLOT_LOAD: err = refcache_load(M.fd, op->h, op->arg, &res); break;
	case REFCACHE_OP_SLOT_STORE:
		err = refcache_store(M.fd, op->h, op->arg, op->value);
		break;
	case REFCACHE_OP_WEAK_NEW: err = refcache_weak_new(M.fd, op->h, &res); break;
	case REFCACHE_OP_WEAK_UPGRADE: err = refcache_weak_upgrade(M.fd, op->h, &res); break;
	case REFCACHE_OP_REFCOUNT:
		err = refcache_info(M.fd, op->h, &info);
		res = info.refcount;
		break;
	}
	if (verdict(op, want, err, want_res, res))
		return -1;
	if (err)
		return 0;
	if (apply(op, res))
		return -1;
	if (op->code == REFCACHE_OP_NEW)
		return write_tag(res);
	return 0;
}

static int exec_batch(int n)
{
	struct refcache_op ops[64];
	struct mop mops[64];
	uint32_t flags = rn(2) ? REFCACHE_BATCH_CONTINUE : 0;
	int i, done, want_done = n;

	for (i = 0; i < n; i++) {
		gen(&mops[i], 1);
		memset(&ops[i], 0, sizeof(ops[i]));
		ops[i].op = mops[i].code;
		ops[i].handle = mops[i].h;
		ops[i].arg = mops[i].arg;
		ops[i].value = mops[i].value;
	}
	done = refcache_batch(M.fd, ops, n, flags);
	for (i = 0; i < n && i < done; i++) {
		uint64_t want_res;
		int want = predict(&mops[i], &want_res);

		M.step++;
		if (verdict(&mops[i], want, ops[i].error, want_res, ops[i].result))
			return -1;
		if (want) {
			if (!(flags & REFCACHE_BATCH_CONTINUE)) {
				want_done = i + 1;
				break;
			}
			continue;
		}
		if (apply(&mops[i], ops[i].result))
			return -1;
	}
	if (done != want_done) {
		snprintf(M.why, sizeof(M.why), "step %ld: batch of %d (flags %u) did %d, model %d",
			 M.step, n, flags, done, want_done);
		return -1;
	}
	for (i = 0; i < done; i++)
		if (mops[i].code == REFCACHE_OP_NEW && !ops[i].error && write_tag(ops[i].result))
			return -1;
	return 0;
}

static uint32_t tag_of(uint64_t h, int *err)
{
	uint32_t tag = 0;

	*err = refcache_read(M.fd, h, 0, &tag, 4);
	return tag;
}

/* Every open handle: object and refcount; heap counters. */
static int checkpoint(void)
{
	struct refcache_heap_info hi;
	struct refcache_obj_info info;
	int i, r;

	for (i = 0; i < M.nh; i++) {
		struct mhandle *h = &M.h[i];
		uint32_t tag;

		if (h->weak)
			continue;
		r = refcache_info(M.fd, h->id, &info);
		if (r || info.refcount != (uint64_t)M.o[h->obj].rc) {
			snprintf(M.why, sizeof(M.why), "step %ld: handle %#" PRIx64
				 ": info %d refcount %llu, model %d", M.step, h->id, r,
				 (unsigned long long)info.refcount, M.o[h->obj].rc);
			return -1;
		}
		tag = tag_of(h->id, &r);
		if (r || tag != M.o[h->obj].tag) {
			snprintf(M.why, sizeof(M.why), "step %ld: handle %#" PRIx64
				 " reaches object %#x, model %#x (%d)", M.step, h->id, tag,
				 M.o[h->obj].tag, r);
			return -1;
		}
	}
	r = refcache_heap_info(M.fd, &hi);
	if (r || hi.objects != (uint64_t)M.live || hi.handles != (uint64_t)M.nh) {
		snprintf(M.why, sizeof(M.why), "step %ld: heap has %llu objects, %llu handles;"
			 " model %d, %d (%d)", M.step, (unsigned long long)hi.objects,
			 (unsigned long long)hi.handles, M.live, M.nh, r);
		return -1;
	}
	return 0;
}

/*
 * Walk every object reachable from the open strong handles through its
 * slots (loading each non-empty slot into a temporary handle) and compare
 * each slot with the model; refcounts are restored by closing the
 * temporaries.
 */
static int walk(void)
{
	static uint64_t tmp[NS * MAXO];
	static int visited[MAXO], queue[MAXO];
	static uint64_t hq[MAXO];
	int nq = 0, qi, i, s, r, ntmp = 0;

	memset(visited, 0, sizeof(int) * M.nobj);
	for (i = 0; i < M.nh; i++)
		if (!M.h[i].weak && !visited[M.h[i].obj]) {
			visited[M.h[i].obj] = 1;
			hq[nq] = M.h[i].id;
			queue[nq++] = M.h[i].obj;
		}
	for (qi = 0; qi < nq; qi++) {
		int o = queue[qi];

		for (s = 0; s < NS; s++) {
			uint64_t out = 0;
			int t = M.o[o].slot[s];
			uint32_t tag;

			r = refcache_load(M.fd, hq[qi], s, &out);
			if (r || (t < 0) != (out == 0)) {
				snprintf(M.why, sizeof(M.why), "walk: object %#x slot %d: load %d"
					 " gave %#" PRIx64 ", model %s", M.o[o].tag, s, r, out,
					 t < 0 ? "empty" : "full");
				goto fail;
			}
			if (!out)
				continue;
			tmp[ntmp++] = out;
			tag = tag_of(out, &r);
			if (r || tag != M.o[t].tag) {
				snprintf(M.why, sizeof(M.why), "walk: object %#x slot %d holds %#x,"
					 " model %#x", M.o[o].tag, s, tag, M.o[t].tag);
				goto fail;
			}
			if (!visited[t]) {
				visited[t] = 1;
				hq[nq] = out;
				queue[nq++] = t;
			}
		}
	}
	for (i = 0; i < ntmp; i++)
		if ((r = refcache_handle_close(M.fd, tmp[i]))) {
			snprintf(M.why, sizeof(M.why), "walk: close temporary: %d", r);
			return -1;
		}
	return 0;
fail:
	for (i = 0; i < ntmp; i++)
		refcache_handle_close(M.fd, tmp[i]);
	return -1;
}

/* One step (a single ioctl or a batch) and the checks that fall due. */
static int step_once(void)
{
	struct mop op;

	if (M.mode == 1 || (M.mode == 2 && rn(4) == 0)) {
		if (exec_batch(1 + rn(64)))
			return -1;
	} else {
		gen(&op, 0);
		M.step++;
		if (exec_single(&op))
			return -1;
	}
	if (M.step >= M.next_check) {
		M.next_check = M.step + CHECK_EVERY;
		if (checkpoint())
			return -1;
	}
	if (M.step >= M.next_walk) {
		M.next_walk = M.step + WALK_EVERY;
		if (walk() || checkpoint())
			return -1;
	}
	return 0;
}

/* A worker's turn: M.slice steps. */
static int slice_fn(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < M.slice && M.step < M.steps; i++)
		if (step_once())
			return -1;
	return 0;
}

/* A worker's turn: make one object, so that every worker owns one. */
static int new_fn(void *arg)
{
	struct mop op = { REFCACHE_OP_NEW, 0, 0, 0 };

	(void)arg;
	op.arg = M.cache;
	M.step++;
	return exec_single(&op);
}

static int checkpoint_fn(void *arg)
{
	(void)arg;
	return checkpoint();
}

static int walk_fn(void *arg)
{
	(void)arg;
	return walk() || checkpoint() ? -1 : 0;
}

/* A worker's turn: close up to M.slice handles. */
static int close_fn(void *arg)
{
	struct mop op;
	int i;

	(void)arg;
	for (i = 0; i < M.slice && M.nh; i++) {
		op = (struct mop){ REFCACHE_OP_CLOSE, M.h[rn(M.nh)].id, 0, 0 };
		M.step++;
		if (exec_single(&op))
			return -1;
	}
	return 0;
}

/* Worker @t runs @fn; the objects it makes are owned by its current life. */
static int on_worker(int t, int (*fn)(void *))
{
	M.cur = M.life[t];
	return turns_run(&T, t, fn, NULL);
}

/*
 * Worker @t exits while the objects it made may still be held by other
 * threads' handles and by slots: their counts must not change, and
 * closing them later must free them.  With @check >= 0 a fresh thread
 * takes its place, with @check > 0 another worker then checks every count.
 */
static int owner_exit(int t, int check)
{
	int i;

	for (i = 0; i < M.nobj; i++)
		if (M.o[i].rc > 0 && M.o[i].owner == M.life[t])
			M.orphans++;
	M.exits++;
	if (turns_exit(&T, t, check >= 0)) {
		snprintf(M.why, sizeof(M.why), "step %ld: worker %d did not exit or restart",
			 M.step, t);
		return -1;
	}
	M.life[t] = ++M.lives;
	/* Someone else's ioctl notices the exit first, then the counts. */
	return check > 0 ? on_worker((t + 1) % M.nthr, checkpoint_fn) : 0;
}

/*
 * mode 0: single ioctls, 1: batches, 2: both; @flags: the cache's;
 * @nthr: worker threads taking turns (0: the main thread does it all).
 */
static int round_run(uint64_t seed, int mode, long steps, uint32_t flags, int nthr)
{
	long open0 = stat_value("heaps_open"), next_exit = EXIT_EVERY;
	struct mop op;
	int i;

	memset(&M, 0, sizeof(M));
	M.rng = seed ? seed : 1;
	M.mode = mode;
	M.steps = steps;
	M.next_check = CHECK_EVERY;
	M.next_walk = WALK_EVERY;
	M.fd = refcache_open();
	if (M.fd < 0) {
		snprintf(M.why, sizeof(M.why), "open: %d", M.fd);
		return -1;
	}
	/* The model has no collector: no automatic collection (ABI 1.2). */
	refcache_gc_disable(M.fd);
	M.cache = refcache_cache_create(M.fd, "model", 8, NS, flags);
	if (M.cache <= 0) {
		snprintf(M.why, sizeof(M.why), "cache_create: %d", M.cache);
		goto fail;
	}
	if (nthr) {
		if (turns_start(&T, nthr)) {
			snprintf(M.why, sizeof(M.why), "cannot start %d threads", nthr);
			goto fail;
		}
		M.nthr = nthr;
		for (i = 0; i < nthr; i++)
			M.life[i] = ++M.lives;
		for (i = 0; i < nthr; i++)
			if (on_worker(i, new_fn))
				goto fail;
	}
	while (M.step < steps) {
		if (!nthr) {
			if (step_once())
				goto fail;
			continue;
		}
		if (M.step >= next_exit) {
			next_exit = M.step + EXIT_EVERY;
			if (owner_exit(rn(nthr), 1))
				goto fail;
		}
		M.slice = 1 + rn(32);
		if (on_worker(rn(nthr), slice_fn))
			goto fail;
	}
	if (nthr) {
		if (on_worker(rn(nthr), checkpoint_fn) || on_worker(rn(nthr), walk_fn))
			goto fail;
		/*
		 * Every owner exits with its objects held; the main thread,
		 * which owns nothing, checks them and closes every handle.
		 */
		for (i = 0; i < nthr; i++)
			if (owner_exit(i, -1))
				goto fail;
		turns_stop(&T);
		M.nthr = 0;
		M.cur = 0;
		if (checkpoint() || walk() || checkpoint())
			goto fail;
		while (M.nh) {
			M.slice = 1 + rn(16);
			if (close_fn(NULL))
				goto fail;
		}
	} else {
		if (checkpoint() || walk() || checkpoint())
			goto fail;
		/* Close every handle: what stays is what cycles keep alive. */
		while (M.nh) {
			op = (struct mop){ REFCACHE_OP_CLOSE, M.h[M.nh - 1].id, 0, 0 };
			if (exec_single(&op))
				goto fail;
		}
	}
	if (checkpoint())
		goto fail;
	for (i = 0; i < M.nobj; i++)
		if (M.o[i].rc < 0) {
			snprintf(M.why, sizeof(M.why), "model refcount below zero");
			goto fail;
		}
	printf("# seed %" PRIu64 " mode %d flags %#x threads %d: %ld steps, %d objects made,"
	       " %d kept by cycles", seed, mode, flags, nthr, M.step, M.nobj, M.live);
	if (nthr)
		printf("; %d owners exited, leaving %d live objects", M.exits, M.orphans);
	printf("\n");
	refcache_close(M.fd);
	if (stat_value("heaps_open") != open0) {
		snprintf(M.why, sizeof(M.why), "heaps_open %ld after close, was %ld",
			 stat_value("heaps_open"), open0);
		return -1;
	}
	return 0;
fail:
	if (M.nthr)
		turns_stop(&T);
	M.nthr = 0;
	refcache_close(M.fd);
	return -1;
}

static int have_biased;

static void run_ex(const char *name, uint64_t seed, int mode, long steps, uint32_t flags,
		   int nthr)
{
	double t0 = now();
	int ret;

	if ((flags & REFCACHE_CACHE_BIASED) && !have_biased) {
		printf("ok %d - %s # SKIP no REFCACHE_FEATURE_BIASED\n", ++ntest, name);
		return;
	}
	ret = round_run(seed, mode, steps, flags, nthr);
	if (ret)
		printf("# %s: seed %" PRIu64 ": %s\n", name, seed, M.why);
	printf("# %s: %.2f s\n", name, now() - t0);
	tap_result(ret != 0, name);
}

static void run(const char *name, uint64_t seed, int mode, long steps)
{
	run_ex(name, seed, mode, steps, REFCACHE_CACHE_TRACKED, 0);
}

/* The model itself must catch a wrong kernel: feed it a lie. */
static void self_test(void)
{
	struct mop op = { REFCACHE_OP_REFCOUNT, 0, 0, 0 };
	int ok;

	memset(&M, 0, sizeof(M));
	M.o[0] = (struct mobj){ 1, { -1, -1, -1 }, 1, 0 };
	M.nobj = M.live = 1;
	M.h[0] = (struct mhandle){ 42, 0, 0 };
	M.nh = 1;
	op.h = 42;
	ok = verdict(&op, 0, 0, 1, 2) != 0;		/* refcount 2 vs 1 */
	op.code = REFCACHE_OP_CLOSE;
	op.h = 43;
	ok &= verdict(&op, predict(&op, &(uint64_t){ 0 }), 0, 0, 0) != 0;
	op.h = 42;
	ok &= verdict(&op, predict(&op, &(uint64_t){ 0 }), 0, 0, 0) == 0;
	apply(&op, 0);
	ok &= M.live == 0 && M.nh == 0;
	op.code = REFCACHE_OP_DUP;
	ok &= predict(&op, &(uint64_t){ 0 }) == X_EBADF;
	tap_result(!ok, "model_self_test");
}

int main(void)
{
	const uint32_t B = REFCACHE_CACHE_BIASED, BT = B | REFCACHE_CACHE_TRACKED;
	const char *env = getenv("REFCACHE_SEED");
	struct refcache_version v;
	uint64_t seed;
	struct timespec ts;
	double t0 = now();
	int fd;

	clock_gettime(CLOCK_REALTIME, &ts);
	seed = env ? strtoull(env, NULL, 0) : (uint64_t)ts.tv_sec * 1000003u + ts.tv_nsec + getpid();
	fd = refcache_open();
	have_biased = fd >= 0 && refcache_version(fd, &v) == 0 &&
		      (v.features & REFCACHE_FEATURE_BIASED);
	if (fd >= 0)
		refcache_close(fd);
	printf("TAP version 13\n1..12\n");
	printf("# seed %" PRIu64 " (REFCACHE_SEED=%" PRIu64 " repeats this run)\n", seed, seed);
	self_test();
	run("fixed_seed_single", 12345, 0, 3000);
	run("fixed_seed_batch", 67890, 1, 6000);
	run("random_single", seed, 0, 3000);
	run("random_batch", seed + 1, 1, 6000);
	run("random_mixed", seed + 2, 2, 6000);
	/* The same, from 4 threads in turns: atomic, then biased. */
	run_ex("threads_atomic_mixed", seed + 3, 2, 2000, REFCACHE_CACHE_TRACKED, 4);
	run_ex("threads_biased_fixed_seed", 4242, 2, 2000, B, 4);
	run_ex("threads_biased_single", seed + 4, 0, 2000, B, 4);
	run_ex("threads_biased_tracked_mixed", seed + 5, 2, 4000, BT, 4);
	run_ex("threads_biased_tracked_batch", seed + 6, 1, 2000, BT, 4);
	/* More owners than the heap's table holds (64): the rest start merged. */
	run_ex("threads_biased_70_owners", seed + 7, 2, 1000, BT, 70);
	printf("# model: %.1f s\n", now() - t0);
	printf("# %d passed, %d failed\n", ntest - nfail, nfail);
	return nfail > 100 ? 100 : nfail;
}
