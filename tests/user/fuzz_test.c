// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target for /dev/refcache: seeded random sequences of valid and
 * invalid ioctls on two heaps, checked against a model of every heap
 * (caches, objects, refcounts, slots, payload bytes, strong and weak
 * handles, limits).
 *
 * Besides well-formed calls it makes malformed ones: sizes below the
 * first version, past a page, with zero or non-zero trailing bytes;
 * unknown flags, non-zero reserved and unused fields, unknown commands
 * and ignored size bits; argument structures and buffers that are NULL,
 * unmapped, read-only, kernel addresses or that run off the end of the
 * mapping; handle ids that are closed, zero, garbage or from the other
 * heap (those must give EBADF); stale and reused cache ids; bad cache
 * names.  The model predicts every result as a set of acceptable errors
 * (where two things are wrong the kernel may report either) or success,
 * and a call that fails must change nothing.  Single-thread phases
 * compare heap counters, every strong handle's object and payload, every
 * reachable slot and /proc/refcache/caches with the model exactly.
 *
 * Threaded phases run several threads on one heap, cache create and
 * destroy included (racing destroys of ids other threads created); there
 * the test asserts only what is deterministic: each thread's own objects
 * keep their refcount, cache and payload, new cache ids are never 0,
 * every error is one the call may give, and after the threads are gone
 * and their handles closed the heap holds exactly the root again.
 *
 * Seed and length: argv[1] = seed, argv[2] = operations, argv[3] =
 * seconds (a time bound, 0 = none), or REFCACHE_FUZZ_SEED,
 * REFCACHE_FUZZ_OPS, REFCACHE_FUZZ_SECS; else a time-based seed and a
 * length that keeps the debug kernel's run short.  The first line is
 * "# seed=<s> ops=<n>"; the same seed and count replay a failing run.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "refcache.h"
#include "tap.h"

#define DEFAULT_OPS	100000

/* ---- random numbers ----------------------------------------------------- */

static __thread uint64_t rng;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1Dull;
}

static uint32_t rn(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

static int pct(uint32_t p)
{
	return rn(100) < p;
}

/* ---- expected results: 0 or a set of errors ----------------------------- */

static const int errs[] = {
	EBADF, EINVAL, ENOENT, EFAULT, E2BIG, ENOTTY, EBUSY, EPERM, EDQUOT, ENOMEM,
	ENOSPC, EAGAIN,
};
#define NERRS (int)(sizeof(errs) / sizeof(errs[0]))

static uint32_t X(int e)
{
	int i;

	for (i = 0; i < NERRS; i++)
		if (errs[i] == e)
			return 1u << i;
	return 1u << 31;
}

static const char *mask_str(uint32_t m)
{
	static __thread char buf[128];
	size_t len = 0;
	int i;

	if (!m)
		return "success";
	buf[0] = 0;
	for (i = 0; i < NERRS; i++)
		if (m & (1u << i))
			len += snprintf(buf + len, sizeof(buf) - len, "%s-%s", len ? "|" : "",
					strerrorname_np(errs[i]) ?: "?");
	return buf;
}

/* Does result @r (0 or -errno) agree with @want? */
static int agrees(int r, uint32_t want)
{
	if (!want)
		return r == 0;
	return r < 0 && (X(-r) & want);
}

/* ---- memory for arguments and buffers --------------------------------- */

/*
 * Three regions: 0 for argument structures, 1 for payload buffers, 2 for
 * batch arrays.  Each is read-write memory followed by a PROT_NONE page,
 * plus a memfd mapped twice: the test writes through one view what the
 * kernel gets through the other, read-only.
 */
#define NREG 3
struct region {
	unsigned char *rw, *none, *mrw, *mro;
	size_t size;
};
static struct region reg[NREG];
static const size_t reg_size[NREG] = { 8192, 8192, 24576 };
static long pg;

enum { PL_OK, PL_RO, PL_NONE, PL_EDGE, PL_NULL, PL_KERNEL, NPL };
static const char *const plname[NPL] = { "ok", "ro", "unmapped", "edge", "null", "kernel" };

struct place {
	int pl;
	unsigned char *user;	/* what the kernel gets */
	unsigned char *view;	/* where the test writes and reads it */
	size_t readable;	/* bytes from user on that the kernel may read */
	int writable;		/* the kernel may write there */
};

static int areas_init(void)
{
	int fd, i;

	pg = sysconf(_SC_PAGESIZE);
	for (i = 0; i < NREG; i++) {
		struct region *R = &reg[i];

		R->size = reg_size[i];
		R->rw = mmap(NULL, R->size + pg, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (R->rw == MAP_FAILED)
			return -1;
		R->none = R->rw + R->size;
		if (mprotect(R->none, pg, PROT_NONE))
			return -1;
		fd = syscall(SYS_memfd_create, "refcache-fuzz", 0);
		if (fd < 0) {	/* a kernel without memfd: a deleted file will do */
			char path[] = "/tmp/refcache-fuzz-XXXXXX";

			fd = mkstemp(path);
			if (fd >= 0)
				unlink(path);
		}
		if (fd < 0 || ftruncate(fd, R->size))
			return -1;
		R->mrw = mmap(NULL, R->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		R->mro = mmap(NULL, R->size, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
		if (R->mrw == MAP_FAILED || R->mro == MAP_FAILED)
			return -1;
	}
	return 0;
}

/* Lay out @len bytes of @src in region @r as placement @pl says. */
static void place(struct place *P, int pl, const void *src, size_t len, int r)
{
	struct region *R = &reg[r];
	size_t off;

	if (len > R->size)
		len = R->size;
	off = rn(R->size - len + 1);
	if (pct(90))
		off &= ~(size_t)7;
	memset(P, 0, sizeof(*P));
	P->pl = pl;
	switch (pl) {
	case PL_OK:
		P->user = P->view = R->rw + off;
		P->readable = R->size - off;	/* then the PROT_NONE page */
		P->writable = 1;
		break;
	case PL_RO:
		P->user = R->mro + off;
		P->view = R->mrw + off;
		P->readable = R->size - off;
		break;
	case PL_EDGE:
		/* Runs off the end of the region into the PROT_NONE page. */
		P->readable = len > 1 ? 1 + rn(len - 1) : 0;
		P->user = P->view = R->none - P->readable;
		P->writable = 1;
		break;
	case PL_NONE:
		P->user = R->none + (rn(pg) & ~(size_t)7);
		break;
	case PL_NULL:
		break;
	case PL_KERNEL:
		P->user = (unsigned char *)(uintptr_t)(sizeof(void *) == 8 ?
			0xffff888000000000ull : 0xc0000000u);
		break;
	}
	if (P->view && src)
		memcpy(P->view, src, len < P->readable ? len : P->readable);
}

/* Copy back what the kernel left at @P (only the readable part). */
static void unplace(const struct place *P, void *dst, size_t len)
{
	if (P->view)
		memcpy(dst, P->view, len < P->readable ? len : P->readable);
}

static int pick_pl(int bad_pct)
{
	static const int bad[] = { PL_RO, PL_NONE, PL_EDGE, PL_NULL, PL_KERNEL, PL_RO, PL_EDGE };

	return pct(bad_pct) ? bad[rn(sizeof(bad) / sizeof(bad[0]))] : PL_OK;
}

/* ---- the model -------------------------------------------------------- */

#define MAXSL	4	/* slots per object in the fuzz caches */
#define MAXCT	256	/* caches created per heap per epoch */
#define MAXO	6000	/* objects per heap per epoch */
#define MAXH	320	/* open handles per heap */
#define NCLOSED	64
#define NHEAPS	2
#define LIVECACHES 8

struct mcache {
	uint32_t id, psize, nslots, flags;
	long live;
	int alive;
	char name[32];
};

struct mobj {
	int rc, c;
	int slot[MAXSL];
	uint32_t tag;
	unsigned char *pl;
	int gen;		/* tracked: generation 0..2, or GEN_PERM when frozen */
};

#define GEN_PERM	3
#define NGEN		REFCACHE_GC_GENERATIONS

struct mgcstat {
	uint64_t collections, collected, uncollectable, candidates;
};

struct mh {
	uint64_t id;
	int obj, weak;
};

struct mheap {
	int fd;
	uint64_t heap_id, max_objects;
	struct mcache c[MAXCT];
	int nct, ncaches;
	struct mobj *o;
	int nobj, live;
	struct mh h[MAXH];
	int nh;
	uint64_t closed[NCLOSED];
	int nclosed;
	/* The collector (ABI 1.2), automatic collection off: all explicit. */
	int gc;
	int inspect;	/* REFCACHE_FEATURE_INSPECT (ABI 1.4) */
	uint32_t threshold[NGEN];
	uint64_t count[NGEN];
	struct mgcstat st[NGEN];
	uint64_t seq;
	struct refcache_gc_event ev[REFCACHE_GC_EVENTS_MAX];
	int ev_head, ev_count;
	uint32_t ev_dropped;
};

static struct mheap MH[NHEAPS];
static long step, total_ops, max_ops;
static long quota_news, quota_collections;	/* op_quota_new() */
static double t_start, max_secs;
static uint64_t seed;
static char why[512];
static uint32_t tag_serial;

#define FAILF(...) do { snprintf(why, sizeof(why), __VA_ARGS__); return -1; } while (0)

/* A log of the last operations, printed with a failure. */
#define NLOG 24
static char oplog[NLOG][200];

/* REFCACHE_FUZZ_TRACE=1: every operation also goes to the kernel log. */
static int trace_fd = -1;

static void logop(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logop(const char *fmt, ...)
{
	char *line = oplog[step % NLOG];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(oplog[0]), fmt, ap);
	va_end(ap);
	if (trace_fd >= 0) {
		char rec[256];
		int n = snprintf(rec, sizeof(rec), "<5>fuzz %ld: %s\n", step, line);

		if (write(trace_fd, rec, n) < 0)
			printf("# trace: %s\n", strerror(errno));
	}
}

static int hlookup(struct mheap *M, uint64_t id)
{
	int i;

	if (!id)
		return -1;
	for (i = 0; i < M->nh; i++)
		if (M->h[i].id == id)
			return i;
	return -1;
}

static struct mcache *clookup(struct mheap *M, uint64_t id)
{
	int i;

	if (!id || id > UINT32_MAX)
		return NULL;
	for (i = 0; i < M->nct; i++)
		if (M->c[i].alive && M->c[i].id == id)
			return &M->c[i];
	return NULL;
}

static void decref(struct mheap *M, int obj)
{
	static int stack[MAXSL * MAXO + 1];
	int n = 0, s;

	stack[n++] = obj;
	while (n) {
		int o = stack[--n];

		if (--M->o[o].rc > 0)
			continue;
		M->live--;
		M->c[M->o[o].c].live--;
		if ((M->c[M->o[o].c].flags & REFCACHE_CACHE_TRACKED) && M->count[0])
			M->count[0]--;	/* as refcache_gc_untrack_locked() */
		free(M->o[o].pl);
		M->o[o].pl = NULL;
		for (s = 0; s < MAXSL; s++)
			if (M->o[o].slot[s] >= 0) {
				stack[n++] = M->o[o].slot[s];
				M->o[o].slot[s] = -1;
			}
	}
}

static int add_handle(struct mheap *M, uint64_t id, int obj, int weak)
{
	int i;

	if (!id || hlookup(M, id) >= 0)
		FAILF("new handle %#" PRIx64 " is 0 or already open", id);
	for (i = 0; i < M->nclosed && i < NCLOSED; i++)
		if (M->closed[i] == id)
			FAILF("closed id %#" PRIx64 " issued again", id);
	for (i = 0; i < NHEAPS; i++)
		if (&MH[i] != M && hlookup(&MH[i], id) >= 0)
			FAILF("id %#" PRIx64 " is open in the other heap too", id);
	if (M->nh >= MAXH)
		FAILF("model handle table full");
	M->h[M->nh++] = (struct mh){ id, obj, weak };
	if (!weak)
		M->o[obj].rc++;
	return 0;
}

static void remove_handle(struct mheap *M, int i)
{
	struct mh h = M->h[i];

	M->h[i] = M->h[--M->nh];
	M->closed[M->nclosed++ % NCLOSED] = h.id;
	if (!h.weak)
		decref(M, h.obj);
}

/* 0 when @id is an open strong handle of @M, else the error mask. */
static uint32_t need_strong(struct mheap *M, uint64_t id)
{
	int i = hlookup(M, id);

	if (i < 0)
		return X(EBADF);
	return M->h[i].weak ? X(EINVAL) | (M->o[M->h[i].obj].rc ? 0 : X(ENOENT)) : 0;
}

static struct mobj *obj_of(struct mheap *M, uint64_t id)
{
	return &M->o[M->h[hlookup(M, id)].obj];
}

/* A handle id: mostly open ones, sometimes closed, foreign, zero or junk. */
static uint64_t pick_handle(struct mheap *M, int strong)
{
	struct mheap *other = &MH[M == &MH[0]];
	uint32_t r = rn(100);
	int i, tries;

	if (r < 82 && M->nh) {
		for (tries = 0; tries < 8; tries++) {
			i = rn(M->nh);
			if (!strong || !M->h[i].weak)
				return M->h[i].id;
		}
		return M->h[rn(M->nh)].id;
	}
	if (r < 89 && M->nclosed)
		return M->closed[rn(M->nclosed < NCLOSED ? M->nclosed : NCLOSED)];
	if (r < 95 && other->nh)
		return other->h[rn(other->nh)].id;
	if (r < 97)
		return 0;
	return rnd();
}

static uint32_t pick_cache(struct mheap *M)
{
	uint32_t r = rn(100);
	int i, tries;

	if (r < 85 && M->ncaches) {
		for (tries = 0; tries < 32; tries++) {
			i = rn(M->nct);
			if (M->c[i].alive)
				return M->c[i].id;
		}
	}
	if (r < 92 && M->nct)
		return M->c[rn(M->nct)].id;	/* maybe destroyed, maybe reused */
	if (r < 95)
		return 0;
	return pct(50) ? 1 + rn(40) : (uint32_t)rnd();
}

/* ---- one ioctl, with its envelope ---------------------------------------- */

struct ioc {
	unsigned long cmd;
	uint32_t ver0, ksize;
	int writes;		/* copies its struct back on success */
	uint32_t flags_ok;	/* the flags defined for it */
	int reserved_off;	/* a must-be-zero u32, or -1 */
};

static const struct ioc IOC_VERSION = { REFCACHE_IOC_VERSION, REFCACHE_VERSION_SIZE_VER0,
	sizeof(struct refcache_version), 1, 0, 24 };
static const struct ioc IOC_CC = { REFCACHE_IOC_CACHE_CREATE, REFCACHE_CACHE_CREATE_SIZE_VER0,
	sizeof(struct refcache_cache_create), 1, REFCACHE_CACHE_FLAGS, 20 };
static const struct ioc IOC_CD = { REFCACHE_IOC_CACHE_DESTROY, REFCACHE_CACHE_DESTROY_SIZE_VER0,
	sizeof(struct refcache_cache_destroy), 0, 0, 12 };
static const struct ioc IOC_HEAPINFO = { REFCACHE_IOC_HEAP_INFO, REFCACHE_HEAP_INFO_SIZE_VER0,
	sizeof(struct refcache_heap_info), 1, 0, -1 };
static const struct ioc IOC_LIMITS = { REFCACHE_IOC_SET_LIMITS, REFCACHE_HEAP_LIMITS_SIZE_VER0,
	sizeof(struct refcache_heap_limits), 0, 0, -1 };
static const struct ioc IOC_INFO = { REFCACHE_IOC_INFO, REFCACHE_OBJ_INFO_SIZE_VER0,
	sizeof(struct refcache_obj_info), 1, 0, -1 };
static const struct ioc IOC_IO_R = { REFCACHE_IOC_READ, REFCACHE_PAYLOAD_IO_SIZE_VER0,
	sizeof(struct refcache_payload_io), 0, 0, -1 };
static const struct ioc IOC_IO_W = { REFCACHE_IOC_WRITE, REFCACHE_PAYLOAD_IO_SIZE_VER0,
	sizeof(struct refcache_payload_io), 0, 0, -1 };
static const struct ioc IOC_BATCH = { REFCACHE_IOC_BATCH, REFCACHE_BATCH_SIZE_VER0,
	sizeof(struct refcache_batch), 1, REFCACHE_BATCH_CONTINUE, -1 };
static const struct ioc IOC_GC_COLLECT = { REFCACHE_IOC_GC_COLLECT, REFCACHE_GC_COLLECT_SIZE_VER0,
	sizeof(struct refcache_gc_collect), 1, 0, 12 };
static const struct ioc IOC_GC_GET = { REFCACHE_IOC_GC_GET, REFCACHE_GC_INFO_SIZE_VER0,
	sizeof(struct refcache_gc_info), 1, 0, -1 };
static const struct ioc IOC_GC_SET = { REFCACHE_IOC_GC_SET, REFCACHE_GC_SET_SIZE_VER0,
	sizeof(struct refcache_gc_set), 0, REFCACHE_GC_SET_FLAGS, 12 };
static const struct ioc IOC_GC_FREEZE = { REFCACHE_IOC_GC_FREEZE, REFCACHE_GC_FREEZE_SIZE_VER0,
	sizeof(struct refcache_gc_freeze), 1, REFCACHE_GC_UNFREEZE, -1 };
static const struct ioc IOC_GC_STATS = { REFCACHE_IOC_GC_STATS, REFCACHE_GC_STATS_SIZE_VER0,
	sizeof(struct refcache_gc_stats), 1, 0, -1 };

static const struct ioc IOC_GC_OBJECTS = { REFCACHE_IOC_GC_GET_OBJECTS, REFCACHE_GC_OBJECTS_SIZE_VER0,
	sizeof(struct refcache_gc_objects), 1, 0, 44 };
static const struct ioc IOC_GC_DEBUG = { REFCACHE_IOC_GC_DEBUG, REFCACHE_GC_DEBUG_SIZE_VER0,
	sizeof(struct refcache_gc_debug), 1, REFCACHE_GC_DEBUG_SET, 12 };
static const struct ioc IOC_HEAP_DUMP = { REFCACHE_IOC_HEAP_DUMP, REFCACHE_HEAP_DUMP_SIZE_VER0,
	sizeof(struct refcache_heap_dump), 1, REFCACHE_DUMP_START | REFCACHE_DUMP_END, -1 };

static struct ioc ioc_handle(unsigned long cmd)
{
	int writes = cmd != REFCACHE_IOC_CLOSE && cmd != REFCACHE_IOC_SLOT_STORE;

	return (struct ioc){ cmd, REFCACHE_HANDLE_OP_SIZE_VER0,
		sizeof(struct refcache_handle_op), writes, 0, 20 };
}

/* Command numbers of our magic that the module does not know (probed). */
static uint8_t unknown_nr[256];
static int n_unknown;

static int probe_commands(void)
{
	int fd = refcache_open(), nr;

	if (fd < 0)
		return fd;
	for (nr = 0; nr < 256; nr++)
		if (ioctl(fd, _IOWR(REFCACHE_IOC_MAGIC, nr, struct refcache_handle_op), NULL) < 0 &&
		    errno == ENOTTY)
			unknown_nr[n_unknown++] = nr;
	refcache_close(fd);
	return n_unknown ? 0 : -ENOTTY;
}

/* Set while an operation must not be given read-only or edge placements. */
static int env_no_ro;

enum { MU_NONE, MU_SIZE0, MU_SMALL, MU_HUGE, MU_TAIL0, MU_TAILX, MU_FLAGS, MU_RESV,
	MU_CMDSIZE, MU_BADNR, MU_BADTYPE, NMU };
static const char *const muname[NMU] = { "", "size0", "size<ver0", "size>page", "tail0",
	"tail!0", "flags", "reserved", "cmdsize", "badnr", "badtype" };

struct env {
	int pl, mu;
	uint32_t usize;
	uint32_t mask;		/* errors the envelope alone makes acceptable */
	int fatal;		/* the call cannot succeed */
	int nowrite;		/* its result cannot be written back */
	unsigned long cmd;
	struct place P;
};

static unsigned char kbuf[2 * 4096 + 64];

/*
 * Wrap the kernel structure in kbuf (ksize bytes, size field set by the
 * caller's choice) in an envelope: a placement and perhaps a malformation.
 * Fills @E with what the envelope alone makes the kernel answer.
 */
static void envelope(struct env *E, const struct ioc *I, int bad_pct, int slot)
{
	uint32_t ksize = I->ksize, len = ksize;

	memset(E, 0, sizeof(*E));
	E->cmd = I->cmd;
	E->mu = pct(bad_pct) ? 1 + rn(NMU - 1) : MU_NONE;
	E->pl = pct(bad_pct / 2) ? pick_pl(100) : PL_OK;
	if (env_no_ro && (E->pl == PL_RO || E->pl == PL_EDGE))
		E->pl = PL_NONE;
	E->usize = ksize;
	memset(kbuf + ksize, 0, sizeof(kbuf) - ksize);
	switch (E->mu) {
	case MU_SIZE0:
		E->usize = 0;
		E->mask |= X(EINVAL);
		break;
	case MU_SMALL:
		E->usize = rn(I->ver0);
		E->mask |= X(EINVAL);
		break;
	case MU_HUGE:
		E->usize = pct(50) ? pg + 1 + rn(4 * pg) : 0xffffffffu - rn(4);
		E->mask |= X(E2BIG);
		break;
	case MU_TAIL0:
		E->usize = ksize + 1 + rn(200);
		len = E->usize;
		break;
	case MU_TAILX:
		E->usize = ksize + 1 + rn(200);
		len = E->usize;
		kbuf[ksize + rn(E->usize - ksize)] = 1 + rn(255);
		E->mask |= X(E2BIG);
		break;
	case MU_FLAGS: {	/* a flag the command does not define */
		uint32_t bit;

		do
			bit = 1u << rn(32);
		while (bit & I->flags_ok);
		((uint32_t *)kbuf)[1] |= bit;
		E->mask |= X(EINVAL);
		break;
	}
		break;
	case MU_RESV:
		if (I->reserved_off < 0)
			break;
		((uint32_t *)(kbuf + I->reserved_off))[0] |= 1 + rn(0xffff);
		E->mask |= X(EINVAL);
		break;
	case MU_CMDSIZE:	/* the size bits of the command are ignored */
		E->cmd = (E->cmd & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT)) |
			 ((unsigned long)rn(_IOC_SIZEMASK + 1) << _IOC_SIZESHIFT);
		break;
	case MU_BADNR:
		E->cmd = _IOWR(REFCACHE_IOC_MAGIC, unknown_nr[rn(n_unknown)],
			       struct refcache_handle_op);
		E->mask = X(ENOTTY);
		E->fatal = 1;
		break;
	case MU_BADTYPE:
		E->cmd = (E->cmd & ~(_IOC_TYPEMASK << _IOC_TYPESHIFT)) |
			 ((unsigned long)(REFCACHE_IOC_MAGIC ^ (1 + rn(255))) << _IOC_TYPESHIFT);
		E->mask = X(ENOTTY);
		E->fatal = 1;
		break;
	}
	((uint32_t *)kbuf)[0] = E->usize;
	if (len > sizeof(kbuf))
		len = sizeof(kbuf);
	place(&E->P, E->pl, kbuf, len, slot);
	if (E->mu == MU_BADNR || E->mu == MU_BADTYPE)
		return;
	if (E->mask)
		E->fatal = 1;
	/* Where the kernel cannot read the structure. */
	if (E->pl == PL_NONE || E->pl == PL_NULL || E->pl == PL_KERNEL) {
		E->mask = X(EFAULT);
		E->fatal = 1;
	} else if (E->pl == PL_EDGE) {
		if (E->P.readable < 4 || (E->usize >= I->ver0 && E->usize <= (uint32_t)pg &&
					  E->usize > E->P.readable)) {
			E->mask |= X(EFAULT);
			E->fatal = 1;
		}
	}
	/* A result that cannot be written back fails the call. */
	if (I->writes && (E->pl == PL_RO || E->pl == PL_EDGE)) {
		E->mask |= X(EFAULT);
		E->nowrite = 1;
	}
}

static long outcomes[NERRS + 2];	/* successes, each error, others */

static int fire(int fd, const struct env *E)
{
	int r = ioctl(fd, E->cmd, E->P.user) < 0 ? -errno : 0, i;

	for (i = 0; r && i < NERRS && errs[i] != -r; i++)
		;
	outcomes[r ? i + 1 : 0]++;
	return r;
}

/*
 * The verdict on one call: @sem is what the model expects of the call's
 * content (0: success), the envelope adds its own errors.  Returns 1 if
 * the call succeeded and the model must apply it, 0 if it failed as
 * allowed, -1 on a mismatch.
 */
static int verdict(const char *what, const struct env *E, uint32_t sem, int r)
{
	uint32_t want = sem | E->mask;
	int may_succeed = !E->fatal && !sem && !E->nowrite;

	if (r == 0 && may_succeed)
		return 1;
	if (r == 0)
		FAILF("step %ld: %s [%s%s%s]: succeeded, model expects %s", step, what,
		      plname[E->pl], E->mu ? " " : "", muname[E->mu], mask_str(want));
	if (may_succeed || !agrees(r, want))
		FAILF("step %ld: %s [%s%s%s]: %d (%s), model expects %s", step, what,
		      plname[E->pl], E->mu ? " " : "", muname[E->mu], r, strerror(-r),
		      mask_str(may_succeed ? 0 : want));
	return 0;
}

/* ---- the single-thread operations --------------------------------------- */

/* A cache name, unique in the run; printable ASCII without space, or not. */
static void name_for(char *name, int valid)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				 "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
	int i;

	memset(name, 0, 32);
	i = snprintf(name, 32, "c%u", ++tag_serial);
	for (; i < 31 && pct(75); i++)
		name[i] = ok[rn(sizeof(ok) - 1)];
	if (valid)
		return;
	switch (rn(6)) {
	case 0: name[rn(strlen(name))] = ' '; break;
	case 1: name[rn(strlen(name))] = 1 + rn(0x1f); break;
	case 2: name[rn(strlen(name))] = 0x7f; break;
	case 3: name[rn(strlen(name))] = 0x80 + rn(0x80); break;
	case 4: memset(name, 0, 32); break;
	case 5: memset(name, 'n', 32); break;	/* no NUL */
	}
}

static int op_cache_create(struct mheap *M)
{
	struct refcache_cache_create *cc = (void *)kbuf;
	struct env E;
	uint32_t sem = 0;
	int valid_name = pct(90), r, ok;

	memset(kbuf, 0, sizeof(*cc));
	cc->size = sizeof(*cc);
	cc->payload_size = pct(5) ? REFCACHE_MAX_PAYLOAD + 1 + rn(1000) :
		(uint32_t[]){ 0, 4, 8, 24, 64, 200, 480, 600, 1000 }[rn(9)];
	cc->nslots = pct(4) ? REFCACHE_MAX_SLOTS + 1 + rn(100) : rn(MAXSL + 1);
	cc->flags = (pct(50) ? REFCACHE_CACHE_TRACKED : 0) | (pct(30) ? REFCACHE_CACHE_BIASED : 0);
	if (pct(3))
		cc->cache_id = 1 + rn(100);	/* an output field set on input */
	name_for(cc->name, valid_name);
	if (M->ncaches >= LIVECACHES || M->nct >= MAXCT)
		valid_name = 0, cc->name[0] = 0;	/* do not make another */
	if (!valid_name || cc->payload_size > REFCACHE_MAX_PAYLOAD ||
	    cc->nslots > REFCACHE_MAX_SLOTS || cc->cache_id)
		sem |= X(EINVAL);
	envelope(&E, &IOC_CC, 8, 0);
	logop("cache_create fd %d name '%.31s' payload %u slots %u flags %u [%s %s]", M->fd,
	      cc->name, cc->payload_size, cc->nslots, cc->flags, plname[E.pl], muname[E.mu]);
	r = fire(M->fd, &E);
	ok = verdict("cache_create", &E, sem, r);
	if (ok <= 0)
		return ok;
	unplace(&E.P, kbuf, sizeof(*cc));
	if (!cc->cache_id)
		FAILF("step %ld: cache_create gave id 0", step);
	if (clookup(M, cc->cache_id))
		FAILF("step %ld: cache_create gave id %u, which is alive", step, cc->cache_id);
	M->c[M->nct++] = (struct mcache){ cc->cache_id, cc->payload_size, cc->nslots,
					  cc->flags, 0, 1, "" };
	memcpy(M->c[M->nct - 1].name, cc->name, 32);
	M->ncaches++;
	return 0;
}

static int op_cache_destroy(struct mheap *M)
{
	struct refcache_cache_destroy *cd = (void *)kbuf;
	struct mcache *c;
	struct env E;
	uint32_t sem;
	int r, ok;

	memset(kbuf, 0, sizeof(*cd));
	cd->size = sizeof(*cd);
	cd->cache_id = pick_cache(M);
	c = clookup(M, cd->cache_id);
	sem = !c ? X(ENOENT) : c->live ? X(EBUSY) : 0;
	envelope(&E, &IOC_CD, 8, 0);
	logop("cache_destroy %u [%s %s]", cd->cache_id, plname[E.pl], muname[E.mu]);
	r = fire(M->fd, &E);
	ok = verdict("cache_destroy", &E, sem, r);
	if (ok <= 0)
		return ok;
	c->alive = 0;
	M->ncaches--;
	return 0;
}

/* A batch entry or a single handle ioctl, as the model sees it. */
struct mop {
	int code;		/* REFCACHE_OP_* (or an invalid one) */
	uint64_t h, value;
	uint32_t arg;
	int flags, reserved;
};

/* What @op should do on @M: 0 or an error mask; *res for REFCOUNT. */
static uint32_t predict(struct mheap *M, const struct mop *op, uint64_t *res)
{
	uint32_t m = 0;
	int i;

	*res = 0;
	if (op->flags || op->reserved || op->code < REFCACHE_OP_NEW ||
	    op->code > REFCACHE_OP_REFCOUNT)
		return X(EINVAL);
	if ((op->code == REFCACHE_OP_NEW && op->h) ||
	    (op->code != REFCACHE_OP_NEW && op->code != REFCACHE_OP_SLOT_LOAD &&
	     op->code != REFCACHE_OP_SLOT_STORE && op->arg) ||
	    (op->code != REFCACHE_OP_SLOT_STORE && op->value))
		return X(EINVAL);
	switch (op->code) {
	case REFCACHE_OP_NEW:
		if (!clookup(M, op->arg))
			return X(ENOENT);
		return (uint64_t)M->live >= M->max_objects ? X(EDQUOT) : 0;
	case REFCACHE_OP_CLOSE:
		return hlookup(M, op->h) < 0 ? X(EBADF) : 0;
	case REFCACHE_OP_WEAK_UPGRADE:
		i = hlookup(M, op->h);
		if (i < 0)
			return X(EBADF);
		if (!M->h[i].weak)
			return X(EINVAL);
		return M->o[M->h[i].obj].rc > 0 ? 0 : X(ENOENT);
	case REFCACHE_OP_DUP:
	case REFCACHE_OP_WEAK_NEW:
		return need_strong(M, op->h);
	case REFCACHE_OP_REFCOUNT:
		m = need_strong(M, op->h);
		if (!m)
			*res = obj_of(M, op->h)->rc;
		return m;
	case REFCACHE_OP_SLOT_LOAD:
		m = need_strong(M, op->h);
		if (!m && op->arg >= M->c[obj_of(M, op->h)->c].nslots)
			m |= X(EINVAL);
		return m;
	case REFCACHE_OP_SLOT_STORE:
		m = need_strong(M, op->h);
		if (op->value)
			m |= need_strong(M, op->value);
		if (!need_strong(M, op->h) && op->arg >= M->c[obj_of(M, op->h)->c].nslots)
			m |= X(EINVAL);
		return m;
	}
	return X(EINVAL);
}

static int write_tag(struct mheap *M, int o);

/* Apply a successful @op whose result the kernel gave as @result. */
static int apply(struct mheap *M, const struct mop *op, uint64_t result)
{
	int i = hlookup(M, op->h), o, old, s;
	struct mcache *c;

	switch (op->code) {
	case REFCACHE_OP_NEW:
		c = clookup(M, op->arg);
		if (M->nobj >= MAXO)
			FAILF("model object table full");
		o = M->nobj++;
		M->o[o] = (struct mobj){ 0, (int)(c - M->c), { -1, -1, -1, -1 }, 0,
					 calloc(1, c->psize + 1), 0 };
		for (s = 0; s < MAXSL; s++)
			M->o[o].slot[s] = -1;
		M->live++;
		c->live++;
		if (c->flags & REFCACHE_CACHE_TRACKED)
			M->count[0]++;
		return add_handle(M, result, o, 0);
	case REFCACHE_OP_DUP:
		return add_handle(M, result, M->h[i].obj, 0);
	case REFCACHE_OP_WEAK_NEW:
		return add_handle(M, result, M->h[i].obj, 1);
	case REFCACHE_OP_WEAK_UPGRADE:
		return add_handle(M, result, M->h[i].obj, 0);
	case REFCACHE_OP_CLOSE:
		remove_handle(M, i);
		return 0;
	case REFCACHE_OP_SLOT_LOAD:
		o = M->o[M->h[i].obj].slot[op->arg];
		if (o < 0) {
			if (result)
				FAILF("step %ld: load of an empty slot gave %#" PRIx64, step, result);
			return 0;
		}
		return add_handle(M, result, o, 0);
	case REFCACHE_OP_SLOT_STORE: {
		int nv = op->value ? M->h[hlookup(M, op->value)].obj : -1;
		struct mobj *t = &M->o[M->h[i].obj];

		if (nv >= 0)
			M->o[nv].rc++;
		old = t->slot[op->arg];
		t->slot[op->arg] = nv;
		if (old >= 0)
			decref(M, old);
		return 0;
	}
	case REFCACHE_OP_REFCOUNT:
		return 0;
	}
	FAILF("apply: op %d", op->code);
}

static const char *const opnames[] = {
	"?", "new", "dup", "close", "load", "store", "weak_new", "weak_upgrade", "refcount",
};

static const char *opname(int code)
{
	return code >= 1 && code <= 8 ? opnames[code] : "bad-op";
}

static void gen_mop(struct mheap *M, struct mop *op, int batch)
{
	uint32_t r = rn(100);

	memset(op, 0, sizeof(*op));
	if (M->nh == 0 || (M->nh < 8 && r < 40))
		r = 0;
	else if (M->nh > MAXH - 90 && r < 60)
		r = 30;
	if (r < 13) {
		op->code = REFCACHE_OP_NEW;
		op->arg = pick_cache(M);
	} else if (r < 22) {
		op->code = REFCACHE_OP_DUP;
		op->h = pick_handle(M, 0);
	} else if (r < 42) {
		op->code = REFCACHE_OP_CLOSE;
		op->h = pick_handle(M, 0);
	} else if (r < 55) {
		op->code = REFCACHE_OP_SLOT_LOAD;
		op->h = pick_handle(M, 1);
		op->arg = pct(90) ? rn(MAXSL) : (pct(50) ? REFCACHE_MAX_SLOTS + rn(4) : ~0u);
	} else if (r < 75) {
		op->code = REFCACHE_OP_SLOT_STORE;
		op->h = pick_handle(M, 1);
		op->arg = pct(92) ? rn(MAXSL) : MAXSL + rn(70);
		op->value = pct(25) ? 0 : pick_handle(M, 1);
	} else if (r < 83) {
		op->code = REFCACHE_OP_WEAK_NEW;
		op->h = pick_handle(M, 0);
	} else if (r < 90) {
		op->code = REFCACHE_OP_WEAK_UPGRADE;
		op->h = pick_handle(M, 0);
	} else {
		op->code = REFCACHE_OP_REFCOUNT;
		op->h = pick_handle(M, 1);
		/* REFCOUNT of a weak handle is not specified: strong or bad ids. */
		if (hlookup(M, op->h) >= 0 && M->h[hlookup(M, op->h)].weak)
			op->h = 0;
	}
	/* Malformed entries: unknown codes, flags, reserved, unused fields. */
	if (pct(4)) {
		switch (rn(5)) {
		case 0: op->code = pct(50) ? 0 : 9 + rn(200); break;
		case 1: op->flags = 1 + rn(0xffff); break;
		case 2: op->reserved = 1 + rn(100); break;
		case 3:
			if (op->code != REFCACHE_OP_SLOT_STORE)
				op->value = 1 + rnd() % 1000;
			break;
		case 4:
			if (op->code != REFCACHE_OP_NEW && op->code != REFCACHE_OP_SLOT_LOAD &&
			    op->code != REFCACHE_OP_SLOT_STORE)
				op->arg = 1 + rn(5);
			break;
		}
	}
	(void)batch;
}

static const unsigned long op_cmd[] = {
	0, REFCACHE_IOC_OBJ_NEW, REFCACHE_IOC_DUP, REFCACHE_IOC_CLOSE, REFCACHE_IOC_SLOT_LOAD,
	REFCACHE_IOC_SLOT_STORE, REFCACHE_IOC_WEAK_NEW, REFCACHE_IOC_WEAK_UPGRADE,
};

static int write_tag(struct mheap *M, int o)
{
	struct mobj *ob = &M->o[o];
	uint32_t psize = M->c[ob->c].psize, tag = 0x40000000u + ++tag_serial;
	uint64_t h = 0;
	int i, r;

	if (psize < 4)
		return 0;
	for (i = 0; i < M->nh; i++)
		if (M->h[i].obj == o && !M->h[i].weak)
			h = M->h[i].id;
	r = refcache_write(M->fd, h, 0, &tag, 4);
	if (r)
		FAILF("step %ld: writing the tag: %d", step, r);
	ob->tag = tag;
	memcpy(ob->pl, &tag, 4);
	return 0;
}

/* One handle operation as its single ioctl (REFCOUNT as INFO). */
static int op_single(struct mheap *M)
{
	struct refcache_handle_op *ho = (void *)kbuf;
	struct mop op;
	struct env E;
	struct ioc I;
	uint64_t want_res;
	uint32_t sem;
	int r, ok;

	gen_mop(M, &op, 0);
	if (op.code == REFCACHE_OP_REFCOUNT || op.code < 1 || op.code > 8 || op.flags ||
	    op.reserved)
		op.code = REFCACHE_OP_DUP, op.flags = op.reserved = 0;
	sem = predict(M, &op, &want_res);
	memset(kbuf, 0, sizeof(*ho));
	ho->size = sizeof(*ho);
	ho->handle = op.h;
	ho->slot = op.arg;
	ho->value = op.value;
	if (op.code == REFCACHE_OP_NEW) {
		/* The cache id travels in handle; slot must be 0. */
		ho->handle = op.arg;
		ho->slot = 0;
		if (pct(3)) {
			ho->handle = ((uint64_t)(1 + rn(100)) << 32) | op.arg;
			sem = X(ENOENT) | X(EINVAL);
		}
		if (pct(3)) {
			ho->slot = 1 + rn(3);
			sem |= X(EINVAL);
		}
	}
	I = ioc_handle(op_cmd[op.code]);
	envelope(&E, &I, 8, 0);
	logop("%s fd %d h %#llx slot %u value %#llx [%s %s]", opname(op.code), M->fd,
	      (unsigned long long)ho->handle, ho->slot, (unsigned long long)ho->value,
	      plname[E.pl], muname[E.mu]);
	r = fire(M->fd, &E);
	ok = verdict(opname(op.code), &E, sem, r);
	if (ok <= 0)
		return ok;
	unplace(&E.P, kbuf, sizeof(*ho));
	if (!I.writes)
		ho->result = 0;
	if (apply(M, &op, ho->result))
		return -1;
	if (op.code == REFCACHE_OP_NEW)
		return write_tag(M, M->nobj - 1);
	return 0;
}

static int op_info(struct mheap *M)
{
	struct refcache_obj_info *in = (void *)kbuf;
	struct mobj *o;
	struct env E;
	uint32_t sem;
	int r, ok;

	memset(kbuf, 0, sizeof(*in));
	in->size = sizeof(*in);
	in->handle = pick_handle(M, 0);
	sem = need_strong(M, in->handle);
	envelope(&E, &IOC_INFO, 8, 0);
	logop("info %#llx [%s %s]", (unsigned long long)in->handle, plname[E.pl], muname[E.mu]);
	r = fire(M->fd, &E);
	ok = verdict("info", &E, sem, r);
	if (ok <= 0)
		return ok;
	unplace(&E.P, kbuf, sizeof(*in));
	o = obj_of(M, in->handle);
	if (in->refcount != (uint64_t)o->rc || in->cache_id != M->c[o->c].id ||
	    in->nslots != M->c[o->c].nslots || in->payload_size != M->c[o->c].psize ||
	    in->cache_flags != M->c[o->c].flags)
		FAILF("step %ld: info: refcount %llu cache %u slots %u payload %u flags %u;"
		      " model %d %u %u %u %u", step, (unsigned long long)in->refcount,
		      in->cache_id, in->nslots, in->payload_size, in->cache_flags, o->rc,
		      M->c[o->c].id, M->c[o->c].nslots, M->c[o->c].psize, M->c[o->c].flags);
	return 0;
}

static unsigned char iobuf[2 * 4096];

static int op_payload(struct mheap *M, int write)
{
	struct refcache_payload_io *io = (void *)kbuf;
	struct mobj *o = NULL;
	struct place B;
	struct env E;
	uint32_t sem, psize = 0;
	int r, ok, bpl;
	uint32_t i;

	memset(kbuf, 0, sizeof(*io));
	io->size = sizeof(*io);
	io->handle = pick_handle(M, 1);
	sem = need_strong(M, io->handle);
	if (!sem) {
		o = obj_of(M, io->handle);
		psize = M->c[o->c].psize;
	}
	if (pct(90) && psize) {
		io->offset = rn(psize);
		io->len = rn(psize - io->offset + 1);
	} else {
		static const uint32_t odd[] = { 0, 1, 0xffffffffu, 0x80000000u, 4096, 1u << 20 };

		io->offset = pct(50) ? odd[rn(6)] : rn(psize + 8);
		io->len = pct(50) ? odd[rn(6)] : rn(psize + 8);
	}
	if ((uint64_t)io->offset + io->len > psize || io->len > REFCACHE_MAX_PAYLOAD)
		sem |= X(EINVAL);
	for (i = 0; i < io->len && i < sizeof(iobuf); i++)
		iobuf[i] = rnd();
	bpl = pick_pl(8);
	place(&B, bpl, iobuf, io->len < sizeof(iobuf) ? io->len : sizeof(iobuf), 1);
	io->buf = (uintptr_t)B.user;
	if (io->len && (B.readable < io->len || (!write && !B.writable)))
		sem |= X(EFAULT);
	envelope(&E, write ? &IOC_IO_W : &IOC_IO_R, 8, 0);
	logop("%s %#llx off %u len %u buf %s [%s %s]", write ? "write" : "read",
	      (unsigned long long)io->handle, io->offset, io->len, plname[bpl], plname[E.pl],
	      muname[E.mu]);
	r = fire(M->fd, &E);
	ok = verdict(write ? "write" : "read", &E, sem, r);
	if (ok <= 0)
		return ok;
	if (write) {
		memcpy(o->pl + io->offset, B.view, io->len);
		if (io->offset < 4 && psize >= 4)
			memcpy(&o->tag, o->pl, 4);
	} else if (memcmp(B.view, o->pl + io->offset, io->len)) {
		for (i = 0; B.view[i] == o->pl[io->offset + i]; i++)
			;
		FAILF("step %ld: read %u bytes at %u: byte %u is %#x, model %#x", step, io->len,
		      io->offset, io->offset + i, B.view[i], o->pl[io->offset + i]);
	}
	return 0;
}

static int op_heap_info(struct mheap *M)
{
	struct refcache_heap_info *hi = (void *)kbuf;
	struct env E;
	int r, ok;

	memset(kbuf, 0, sizeof(*hi));
	hi->size = sizeof(*hi);
	envelope(&E, &IOC_HEAPINFO, 10, 0);
	logop("heap_info [%s %s]", plname[E.pl], muname[E.mu]);
	r = fire(M->fd, &E);
	ok = verdict("heap_info", &E, 0, r);
	if (ok <= 0)
		return ok;
	unplace(&E.P, kbuf, sizeof(*hi));
	if (hi->objects != (uint64_t)M->live || hi->handles != (uint64_t)M->nh ||
	    hi->caches != (uint64_t)M->ncaches || hi->max_objects != M->max_objects ||
	    hi->heap_id != M->heap_id)
		FAILF("step %ld: heap_info: %llu objects %llu handles %llu caches, max %llu;"
		      " model %d %d %d %llu", step, (unsigned long long)hi->objects,
		      (unsigned long long)hi->handles, (unsigned long long)hi->caches,
		      (unsigned long long)hi->max_objects, M->live, M->nh, M->ncaches,
		      (unsigned long long)M->max_objects);
	return 0;
}

static int op_version(struct mheap *M)
{
	struct refcache_version *v = (void *)kbuf;
	struct env E;
	int r, ok;

	memset(kbuf, 0, sizeof(*v));
	v->size = sizeof(*v);
	envelope(&E, &IOC_VERSION, 20, 0);
	logop("version [%s %s]", plname[E.pl], muname[E.mu]);
	r = fire(M->fd, &E);
	ok = verdict("version", &E, 0, r);
	if (ok <= 0)
		return ok;
	unplace(&E.P, kbuf, sizeof(*v));
	if (v->major != REFCACHE_ABI_MAJOR || v->minor < 1)
		FAILF("step %ld: version %u.%u", step, v->major, v->minor);
	return 0;
}

static int op_set_limits(struct mheap *M)
{
	struct refcache_heap_limits *lim = (void *)kbuf;
	struct env E;
	uint32_t sem = 0;
	uint64_t want;
	int r, ok;

	memset(kbuf, 0, sizeof(*lim));
	lim->size = sizeof(*lim);
	switch (rn(4)) {
	case 0:	/* lower the object limit, leaving room */
		lim->max_objects = M->live + 50 + rn(400);
		if (lim->max_objects > M->max_objects)
			sem = X(EPERM);
		break;
	case 1:	/* raise it */
		lim->max_objects = M->max_objects + 1 + rn(10);
		sem = X(EPERM);
		break;
	case 2:	/* below what the heap holds */
		if (!M->live)
			break;
		lim->max_objects = rn(M->live);
		sem = lim->max_objects ? X(EBUSY) : 0;
		break;
	case 3:	/* bytes: one byte is below any heap's use */
		lim->max_bytes = 1;
		sem = X(EBUSY);
		break;
	}
	want = lim->max_objects ? lim->max_objects : M->max_objects;
	envelope(&E, &IOC_LIMITS, 8, 0);
	logop("set_limits objects %llu bytes %llu [%s %s]",
	      (unsigned long long)lim->max_objects, (unsigned long long)lim->max_bytes,
	      plname[E.pl], muname[E.mu]);
	r = fire(M->fd, &E);
	ok = verdict("set_limits", &E, sem, r);
	if (ok <= 0)
		return ok;
	M->max_objects = want;
	return 0;
}

#define SENT_ERR	0x5a5a5a5a
#define SENT_RES	0xa5a5a5a5a5a5a5a5ull

static struct refcache_op bops[REFCACHE_BATCH_MAX], bsaved[REFCACHE_BATCH_MAX];
static struct mop bmops[REFCACHE_BATCH_MAX];

static int op_batch(struct mheap *M)
{
	struct refcache_batch *b = (void *)kbuf;
	struct place P;
	struct env E;
	uint32_t sem = 0, n = pct(85) ? 1 + rn(40) : 60 + rn(80), i, ran = 0, want_done;
	int r, opl, stop = 0, cont = pct(50);

	for (i = 0; i < n; i++) {
		gen_mop(M, &bmops[i], 1);
		memset(&bops[i], 0, sizeof(bops[i]));
		bops[i].op = bmops[i].code;
		bops[i].flags = bmops[i].flags;
		bops[i].reserved = bmops[i].reserved;
		bops[i].handle = bmops[i].h;
		bops[i].arg = bmops[i].arg;
		bops[i].value = bmops[i].value;
		bops[i].result = SENT_RES;
		bops[i].error = SENT_ERR;
	}
	memcpy(bsaved, bops, n * sizeof(bops[0]));
	opl = pick_pl(6);
	place(&P, opl, bops, n * sizeof(bops[0]), 2);
	memset(kbuf, 0, sizeof(*b));
	b->size = sizeof(*b);
	b->flags = cont ? REFCACHE_BATCH_CONTINUE : 0;
	b->count = n;
	b->ops = (uintptr_t)P.user;
	if (pct(3)) {
		switch (rn(4)) {
		case 0: b->count = 0; sem = X(EINVAL); break;
		case 1: b->count = REFCACHE_BATCH_MAX + 1 + rn(1000); sem = X(E2BIG); break;
		case 2: b->done = 1 + rn(5); sem = X(EINVAL); break;
		case 3: b->flags |= 1u << (1 + rn(31)); sem = X(EINVAL); break;
		}
	}
	if (!sem && (opl == PL_NONE || opl == PL_NULL || opl == PL_KERNEL || opl == PL_RO))
		sem = X(EFAULT);	/* nothing readable, or nothing writable: none runs */
	envelope(&E, &IOC_BATCH, 6, 0);
	logop("batch fd %d of %u (%s) ops %s [%s %s]", M->fd, n, cont ? "continue" : "stop",
	      plname[opl], plname[E.pl], muname[E.mu]);
	for (i = 0; i < n && trace_fd >= 0; i++)
		logop("  entry %u: %s h %#llx arg %u value %#llx flags %u reserved %u", i,
		      opname(bmops[i].code), (unsigned long long)bmops[i].h, bmops[i].arg,
		      (unsigned long long)bmops[i].value, bmops[i].flags, bmops[i].reserved);
	r = fire(M->fd, &E);
	unplace(&E.P, kbuf, sizeof(*b));
	if (P.view)
		memcpy(bops, P.view, P.readable < n * sizeof(bops[0]) ? P.readable :
		       n * sizeof(bops[0]));
	/* Entries that ran have their error set; they form a prefix. */
	if (P.view)
		while (ran < n && (opl != PL_EDGE || (ran + 1) * sizeof(bops[0]) <= P.readable) &&
		       bops[ran].error != (int32_t)SENT_ERR)
			ran++;
	for (i = ran; i < n && P.view; i++) {
		size_t end = (i + 1) * sizeof(bops[0]);

		if (opl == PL_EDGE && end > P.readable)
			break;
		if (memcmp(&bops[i], &bsaved[i], sizeof(bops[i])))
			FAILF("step %ld: batch entry %u did not run (%u ran) but changed", step, i,
			      ran);
	}
	if (ran && (E.fatal || sem))
		FAILF("step %ld: batch ran %u entries though the call was refused (%d)", step,
		      ran, r);
	want_done = n;
	for (i = 0; i < ran; i++) {
		uint64_t want_res;
		uint32_t m = predict(M, &bmops[i], &want_res);
		int err = bops[i].error;

		step++;
		total_ops++;
		if (!agrees(err, m))
			FAILF("step %ld: batch entry %u: %s h=%#" PRIx64 " arg=%u value=%#" PRIx64
			      ": %d, model expects %s", step, i, opname(bmops[i].code),
			      bmops[i].h, bmops[i].arg, bmops[i].value, err, mask_str(m));
		if (m) {
			if (!cont) {
				want_done = i + 1;
				stop = 1;
				i++;
				break;
			}
			continue;
		}
		if (bmops[i].code == REFCACHE_OP_REFCOUNT && bops[i].result != want_res)
			FAILF("step %ld: batch refcount %llu, model %llu", step,
			      (unsigned long long)bops[i].result, (unsigned long long)want_res);
		if (apply(M, &bmops[i], bops[i].result))
			return -1;
	}
	if (stop && i < ran)
		FAILF("step %ld: batch went on after entry %u failed (%u ran)", step, i - 1, ran);
	if (r == 0) {
		/*
		 * An array that runs into unmapped memory can still succeed
		 * if the batch stopped at a failure before the kernel needed
		 * the entries past the edge (it reads them chunk by chunk).
		 */
		if (E.fatal || sem || E.nowrite || (opl == PL_EDGE && !stop))
			FAILF("step %ld: batch succeeded, model expects %s", step,
			      mask_str(sem | E.mask));
		if (ran != want_done || b->done != ran)
			FAILF("step %ld: batch of %u (%s): %u ran, done %u, model %u", step, n,
			      cont ? "continue" : "stop", ran, b->done, want_done);
	} else {
		uint32_t want = sem | E.mask | (opl == PL_EDGE ? X(EFAULT) : 0);

		if (!agrees(r, want))
			FAILF("step %ld: batch: %d (%s), model expects %s", step, r, strerror(-r),
			      mask_str(want));
		/* The struct was writable: done says how many ran. */
		if (!E.fatal && E.pl == PL_OK && r == -EFAULT && b->done != ran)
			FAILF("step %ld: batch failed with %u run, done says %u", step, ran,
			      b->done);
	}
	for (i = 0; i < ran; i++)
		if (bmops[i].code == REFCACHE_OP_NEW && !bops[i].error &&
		    write_tag(M, M->h[hlookup(M, bops[i].result)].obj))
			return -1;
	return 0;
}

static int op_bad_cmd(struct mheap *M)
{
	unsigned long cmd = pct(50) ? _IO(REFCACHE_IOC_MAGIC, unknown_nr[rn(n_unknown)]) :
		_IOWR(0x42 + rn(20), rn(256), struct refcache_handle_op);
	int r;

	memset(kbuf, 0, 64);
	logop("bad command %#lx", cmd);
	r = ioctl(M->fd, cmd, kbuf) < 0 ? -errno : 0;
	if (r != -ENOTTY)
		FAILF("step %ld: unknown command %#lx: %d", step, cmd, r);
	return 0;
}

/* ---- the collector (ABI 1.2) ------------------------------------------------ */

static int is_tracked(struct mheap *M, int o)
{
	return M->c[M->o[o].c].flags & REFCACHE_CACHE_TRACKED;
}

/* The kernel's event queue, as gc_event_queue() keeps it. */
static void ev_queue(struct mheap *M, const struct refcache_gc_event *ev)
{
	int tail;

	if (M->ev_count == REFCACHE_GC_EVENTS_MAX) {
		M->ev_head = (M->ev_head + 1) % REFCACHE_GC_EVENTS_MAX;
		M->ev_count--;
		M->ev_dropped++;
	}
	tail = (M->ev_head + M->ev_count) % REFCACHE_GC_EVENTS_MAX;
	M->ev[tail] = *ev;
	M->ev[tail].dropped = M->ev_dropped;
	M->ev_dropped = 0;
	M->ev_count++;
}

/*
 * gc.collect(@g) on the model: trial deletion over the tracked objects of
 * generations 0..@g (references from anything else count as external),
 * garbage freed by dropping what it holds, survivors one generation up.
 * Returns the unreachable objects found.
 */
static uint64_t model_collect(struct mheap *M, uint32_t g, uint32_t reason)
{
	static int refs[MAXO], cand[MAXO], reach[MAXO], queue[MAXO];
	struct refcache_gc_event ev;
	uint64_t nun = 0, nc = 0;
	int i, s, nq = 0, qi;

	for (i = 0; i < M->nobj; i++) {
		cand[i] = M->o[i].rc > 0 && is_tracked(M, i) && M->o[i].gen <= (int)g;
		refs[i] = cand[i] ? M->o[i].rc : 0;
		reach[i] = 0;
		nc += cand[i];
	}
	for (i = 0; i < M->nobj; i++)
		for (s = 0; cand[i] && s < MAXSL; s++)
			if (M->o[i].slot[s] >= 0 && cand[M->o[i].slot[s]])
				refs[M->o[i].slot[s]]--;
	for (i = 0; i < M->nobj; i++)
		if (cand[i] && refs[i] > 0) {
			reach[i] = 1;
			queue[nq++] = i;
		}
	for (qi = 0; qi < nq; qi++)
		for (s = 0; s < MAXSL; s++) {
			int t = M->o[queue[qi]].slot[s];

			if (t >= 0 && cand[t] && !reach[t]) {
				reach[t] = 1;
				queue[nq++] = t;
			}
		}
	/* delete_garbage(): hold each, drop what it holds, then let go. */
	for (i = 0; i < M->nobj; i++)
		if (cand[i] && !reach[i]) {
			nun++;
			M->o[i].rc++;
		}
	for (i = 0; i < M->nobj; i++)
		for (s = 0; cand[i] && !reach[i] && s < MAXSL; s++)
			if (M->o[i].slot[s] >= 0) {
				int t = M->o[i].slot[s];

				M->o[i].slot[s] = -1;
				decref(M, t);
			}
	for (i = 0; i < M->nobj; i++)
		if (cand[i] && !reach[i])
			decref(M, i);
	for (i = 0; i < M->nobj; i++)
		if (cand[i] && reach[i])
			M->o[i].gen = g + 1 < NGEN ? g + 1 : NGEN - 1;
	if (g + 1 < NGEN)
		M->count[g + 1]++;
	for (i = 0; i <= (int)g; i++)
		M->count[i] = 0;
	M->st[g].collections++;
	M->st[g].collected += nun;
	M->st[g].candidates += nc;
	memset(&ev, 0, sizeof(ev));
	ev.size = sizeof(ev);
	ev.generation = g;
	ev.reason = reason;
	ev.seq = ++M->seq;
	ev.candidates = nc;
	ev.collected = nun;
	ev_queue(M, &ev);
	return nun;
}

static int op_gc_collect(struct mheap *M)
{
	struct refcache_gc_collect *gc = (void *)kbuf;
	uint32_t sem = 0;
	struct env E;
	uint64_t nun;
	int r, ok;

	memset(kbuf, 0, sizeof(*gc));
	gc->size = sizeof(*gc);
	gc->generation = pct(95) ? rn(NGEN) : NGEN + rn(100);
	if (gc->generation >= NGEN)
		sem = X(EINVAL);
	envelope(&E, &IOC_GC_COLLECT, 8, 0);
	logop("gc_collect fd %d gen %u [%s %s]", M->fd, gc->generation, plname[E.pl],
	      muname[E.mu]);
	r = fire(M->fd, &E);
	/* Documented: the collection happens even if its report is lost. */
	if (r == -EFAULT && E.nowrite && !E.fatal && !sem) {
		model_collect(M, gc->generation, REFCACHE_GC_REASON_EXPLICIT);
		return 0;
	}
	ok = verdict("gc_collect", &E, sem, r);
	if (ok <= 0)
		return ok;
	unplace(&E.P, kbuf, sizeof(*gc));
	nun = model_collect(M, gc->generation, REFCACHE_GC_REASON_EXPLICIT);
	if (gc->unreachable != nun || gc->collected != nun || gc->uncollectable)
		FAILF("step %ld: gc_collect(%u): unreachable %llu collected %llu uncollectable"
		      " %llu; model %llu, all collected", step, gc->generation,
		      (unsigned long long)gc->unreachable, (unsigned long long)gc->collected,
		      (unsigned long long)gc->uncollectable, (unsigned long long)nun);
	return 0;
}

static uint64_t frozen(struct mheap *M)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < M->nobj; i++)
		n += M->o[i].rc > 0 && is_tracked(M, i) && M->o[i].gen == GEN_PERM;
	return n;
}

static int op_gc_get(struct mheap *M)
{
	struct refcache_gc_info *gi = (void *)kbuf;
	struct env E;
	int r, ok, g;

	memset(kbuf, 0, sizeof(*gi));
	gi->size = sizeof(*gi);
	envelope(&E, &IOC_GC_GET, 8, 0);
	logop("gc_get [%s %s]", plname[E.pl], muname[E.mu]);
	r = fire(M->fd, &E);
	ok = verdict("gc_get", &E, 0, r);
	if (ok <= 0)
		return ok;
	unplace(&E.P, kbuf, sizeof(*gi));
	if (gi->enabled || gi->freeze_count != frozen(M))
		FAILF("step %ld: gc_get: enabled %u freeze_count %llu; model 0, %llu", step,
		      gi->enabled, (unsigned long long)gi->freeze_count,
		      (unsigned long long)frozen(M));
	for (g = 0; g < NGEN; g++)
		if (gi->threshold[g] != M->threshold[g] || gi->count[g] != M->count[g])
			FAILF("step %ld: gc_get: generation %d: threshold %u count %llu; model %u"
			      " %llu", step, g, gi->threshold[g], (unsigned long long)gi->count[g],
			      M->threshold[g], (unsigned long long)M->count[g]);
	return 0;
}

static int op_gc_set(struct mheap *M)
{
	struct refcache_gc_set *gs = (void *)kbuf;
	uint32_t sem = 0, t[NGEN] = { 0 };
	struct env E;
	int r, ok, g;

	memset(kbuf, 0, sizeof(*gs));
	gs->size = sizeof(*gs);
	/* Automatic collection stays off: the model is exact without it. */
	if (pct(50)) {
		gs->flags = REFCACHE_GC_SET_ENABLED;
	} else {
		gs->flags = REFCACHE_GC_SET_THRESHOLD;
		for (g = 0; g < NGEN; g++)
			t[g] = gs->threshold[g] = rn(3000);
	}
	if (pct(10)) {
		switch (rn(5)) {
		case 0: gs->flags = 0; break;
		case 1: gs->enabled = 2 + rn(100); gs->flags |= REFCACHE_GC_SET_ENABLED; break;
		case 2: gs->flags = REFCACHE_GC_SET_THRESHOLD; gs->enabled = 1; break;
		case 3: gs->flags = REFCACHE_GC_SET_ENABLED; gs->threshold[rn(NGEN)] = 1 + rn(9);
			break;
		case 4: gs->reserved2 = 1 + rn(9); break;
		}
		sem = X(EINVAL);
	}
	envelope(&E, &IOC_GC_SET, 8, 0);
	logop("gc_set flags %u enabled %u threshold %u %u %u [%s %s]", gs->flags, gs->enabled,
	      gs->threshold[0], gs->threshold[1], gs->threshold[2], plname[E.pl], muname[E.mu]);
	r = fire(M->fd, &E);
	ok = verdict("gc_set", &E, sem, r);
	if (ok <= 0)
		return ok;
	if (gs->flags & REFCACHE_GC_SET_THRESHOLD)
		memcpy(M->threshold, t, sizeof(t));
	return 0;
}

static int op_gc_freeze(struct mheap *M)
{
	struct refcache_gc_freeze *gf = (void *)kbuf;
	int unfreeze = pct(40), r, ok, i;
	uint64_t moved = 0;
	uint32_t sem = 0;
	struct env E;

	memset(kbuf, 0, sizeof(*gf));
	gf->size = sizeof(*gf);
	gf->flags = unfreeze ? REFCACHE_GC_UNFREEZE : 0;
	/* Read-only or half-mapped: whether it froze is not for the model. */
	env_no_ro = 1;
	envelope(&E, &IOC_GC_FREEZE, 8, 0);
	env_no_ro = 0;
	logop("gc_%sfreeze [%s %s]", unfreeze ? "un" : "", plname[E.pl], muname[E.mu]);
	r = fire(M->fd, &E);
	ok = verdict("gc_freeze", &E, sem, r);
	if (ok <= 0)
		return ok;
	unplace(&E.P, kbuf, sizeof(*gf));
	for (i = 0; i < M->nobj; i++) {
		if (M->o[i].rc <= 0 || !is_tracked(M, i))
			continue;
		if (unfreeze && M->o[i].gen == GEN_PERM) {
			M->o[i].gen = NGEN - 1;
			moved++;
		} else if (!unfreeze && M->o[i].gen != GEN_PERM) {
			M->o[i].gen = GEN_PERM;
			moved++;
		}
	}
	/* As CPython's _PyGC_Freeze(): every generation's count. */
	for (i = 0; !unfreeze && i < NGEN; i++)
		M->count[i] = 0;
	if (gf->moved != moved)
		FAILF("step %ld: gc_%sfreeze moved %llu, model %llu", step, unfreeze ? "un" : "",
		      (unsigned long long)gf->moved, (unsigned long long)moved);
	return 0;
}

static int op_gc_stats(struct mheap *M)
{
	struct refcache_gc_stats *st = (void *)kbuf;
	struct env E;
	int r, ok, g;

	memset(kbuf, 0, sizeof(*st));
	st->size = sizeof(*st);
	envelope(&E, &IOC_GC_STATS, 8, 0);
	logop("gc_stats [%s %s]", plname[E.pl], muname[E.mu]);
	r = fire(M->fd, &E);
	ok = verdict("gc_stats", &E, 0, r);
	if (ok <= 0)
		return ok;
	unplace(&E.P, kbuf, sizeof(*st));
	for (g = 0; g < NGEN; g++)
		if (st->gen[g].collections != M->st[g].collections ||
		    st->gen[g].collected != M->st[g].collected ||
		    st->gen[g].uncollectable != M->st[g].uncollectable ||
		    st->gen[g].candidates != M->st[g].candidates)
			FAILF("step %ld: gc_stats generation %d: %llu collections %llu collected"
			      " %llu candidates; model %llu %llu %llu", step, g,
			      (unsigned long long)st->gen[g].collections,
			      (unsigned long long)st->gen[g].collected,
			      (unsigned long long)st->gen[g].candidates,
			      (unsigned long long)M->st[g].collections,
			      (unsigned long long)M->st[g].collected,
			      (unsigned long long)M->st[g].candidates);
	return 0;
}

static int op_gc_is_tracked(struct mheap *M)
{
	struct refcache_handle_op *ho = (void *)kbuf;
	struct ioc I = ioc_handle(REFCACHE_IOC_GC_IS_TRACKED);
	uint32_t sem;
	struct env E;
	int r, ok;

	memset(kbuf, 0, sizeof(*ho));
	ho->size = sizeof(*ho);
	ho->handle = pick_handle(M, 0);
	sem = need_strong(M, ho->handle);
	if (pct(5)) {
		switch (rn(3)) {
		case 0: ho->slot = 1 + rn(3); break;
		case 1: ho->value = 1 + rn(3); break;
		case 2: ho->result = 1 + rn(3); break;
		}
		sem |= X(EINVAL);
	}
	I.writes = 1;
	envelope(&E, &I, 8, 0);
	logop("gc_is_tracked %#llx [%s %s]", (unsigned long long)ho->handle, plname[E.pl],
	      muname[E.mu]);
	r = fire(M->fd, &E);
	ok = verdict("gc_is_tracked", &E, sem, r);
	if (ok <= 0)
		return ok;
	unplace(&E.P, kbuf, sizeof(*ho));
	if (ho->result != (uint64_t)!!is_tracked(M, M->h[hlookup(M, ho->handle)].obj))
		FAILF("step %ld: gc_is_tracked %#llx: %llu, model %d", step,
		      (unsigned long long)ho->handle, (unsigned long long)ho->result,
		      !!is_tracked(M, M->h[hlookup(M, ho->handle)].obj));
	return 0;
}

/* read(2) of the heap's fd: the collection events, as the model queued them. */
/* ---- looking inside a heap (ABI 1.4) ------------------------------------ */

static uint64_t inspect_ids[64];
static struct refcache_dump_record inspect_recs[4096];

/*
 * GC_GET_OBJECTS, _REFERENTS, _REFERRERS with a model-checked count; the
 * handles they return are closed at once, so the model does not change.
 * A failure must leave the handle count as it was.
 */
static int op_gc_objects(struct mheap *M)
{
	struct refcache_gc_objects *g = (void *)kbuf;
	struct ioc I = IOC_GC_OBJECTS;
	int kind = rn(3), o = -1, r, i, j, ok, hi_before;
	uint64_t h = 0;
	uint32_t sem = 0, want = 0, count = 1 + rn(64);
	struct refcache_heap_info hi = { .size = sizeof(hi) };
	struct env E;

	memset(kbuf, 0, sizeof(*g));
	g->size = sizeof(*g);
	g->count = count;
	g->handles = (uintptr_t)inspect_ids;
	if (kind == 0) {
		g->which = pct(90) ? REFCACHE_OBJECTS_MASK : rn(64);
		if (!g->which || (g->which & ~REFCACHE_OBJECTS_MASK))
			sem = X(EINVAL);
		/* Objects on the lists asked for: generations 0-2, frozen, untracked. */
		for (i = 0; i < M->nobj; i++)
			if (M->o[i].rc > 0 &&
			    (g->which & (1u << (is_tracked(M, i) ? M->o[i].gen : 4))))
				want++;
	} else {
		I.cmd = kind == 1 ? REFCACHE_IOC_GC_GET_REFERENTS : REFCACHE_IOC_GC_GET_REFERRERS;
		h = pick_handle(M, 1);
		g->handle = h;
		sem = need_strong(M, h);
		i = sem ? -1 : hlookup(M, h);
		o = i >= 0 ? M->h[i].obj : -1;
		for (i = 0; o >= 0 && kind == 1 && i < MAXSL; i++)
			if (i < (int)M->c[M->o[o].c].nslots && M->o[o].slot[i] >= 0)
				want++;
		for (i = 0; o >= 0 && kind == 2 && i < M->nobj; i++) {
			if (M->o[i].rc <= 0)
				continue;
			for (j = 0; j < MAXSL; j++)
				if (j < (int)M->c[M->o[i].c].nslots && M->o[i].slot[j] == o)
					break;
			if (j < MAXSL && j < (int)M->c[M->o[i].c].nslots)
				want++;
		}
	}
	if (want > count)
		want = count;
	if (pct(5)) {	/* a handle array the kernel cannot write */
		g->handles = pct(50) ? 0 : (uintptr_t)reg[0].none;
		if (!g->handles)
			sem |= X(EINVAL);
		else if (want)
			sem |= X(EFAULT);
	}
	if (refcache_heap_info(M->fd, &hi))
		FAILF("step %ld: heap_info", step);
	hi_before = (int)hi.handles;
	envelope(&E, &I, 10, 0);
	logop("gc_objects kind %d handle %#llx count %u [%s %s]", kind, (unsigned long long)h,
	      count, plname[E.pl], muname[E.mu]);
	r = fire(M->fd, &E);
	if (r == -EDQUOT || r == -ENOMEM) {
		r = 0;	/* the handle table could not grow: allowed, changes nothing */
		goto same;
	}
	ok = verdict("gc_objects", &E, sem, r);
	if (ok < 0)
		return -1;
	if (!ok)
		goto same;
	unplace(&E.P, kbuf, sizeof(*g));
	if (g->returned != want)
		FAILF("step %ld: gc_objects kind %d returned %u, model %u", step, kind,
		      g->returned, want);
	for (i = 0; i < (int)g->returned; i++)
		if (refcache_handle_close(M->fd, inspect_ids[i]))
			FAILF("step %ld: gc_objects handle %d not open", step, i);
same:
	if (refcache_heap_info(M->fd, &hi) || (int)hi.handles != hi_before)
		FAILF("step %ld: gc_objects left %llu handles, had %d", step,
		      (unsigned long long)hi.handles, hi_before);
	return 0;
}

/* gc.get_debug() (never SAVEALL: the model frees garbage) and the heap dump. */
static int op_gc_inspect(struct mheap *M)
{
	struct refcache_heap_dump *d = (void *)kbuf;
	struct refcache_gc_debug *gd = (void *)kbuf;
	uint32_t nobj = 0, ncache = 0, nhandle = 0, k;
	struct env E;
	int r, ok, i;

	if (pct(30)) {
		memset(kbuf, 0, sizeof(*gd));
		gd->size = sizeof(*gd);
		if (pct(50))
			gd->flags = REFCACHE_GC_DEBUG_SET;	/* debug 0: what it is */
		envelope(&E, &IOC_GC_DEBUG, 10, 0);
		logop("gc_debug [%s %s]", plname[E.pl], muname[E.mu]);
		r = fire(M->fd, &E);
		ok = verdict("gc_debug", &E, 0, r);
		if (ok <= 0)
			return ok;
		unplace(&E.P, kbuf, sizeof(*gd));
		if (gd->debug || gd->garbage)
			FAILF("step %ld: gc_debug %u garbage %llu", step, gd->debug,
			      (unsigned long long)gd->garbage);
		return 0;
	}
	memset(kbuf, 0, sizeof(*d));
	d->size = sizeof(*d);
	d->flags = REFCACHE_DUMP_START;
	d->count = 4096;
	d->records = (uintptr_t)inspect_recs;
	envelope(&E, &IOC_HEAP_DUMP, 10, 0);
	logop("heap_dump [%s %s]", plname[E.pl], muname[E.mu]);
	r = fire(M->fd, &E);
	if (r == -EDQUOT || r == -ENOMEM)
		return 0;	/* near its limits: the dump does not fit */
	ok = verdict("heap_dump", &E, 0, r);
	if (ok <= 0)
		return ok;
	unplace(&E.P, kbuf, sizeof(*d));
	if (d->total > 4096)
		return 0;	/* only whole small dumps are checked */
	for (k = 0; k < d->returned; k++) {
		nobj += inspect_recs[k].kind == REFCACHE_DUMP_OBJECT;
		ncache += inspect_recs[k].kind == REFCACHE_DUMP_CACHE;
		nhandle += inspect_recs[k].kind == REFCACHE_DUMP_HANDLE;
	}
	for (i = 0, k = 0; i < M->nobj; i++)
		k += M->o[i].rc > 0;
	if (d->returned != d->total || d->cursor || nobj != k ||
	    ncache != (uint32_t)M->ncaches || nhandle != (uint32_t)M->nh)
		FAILF("step %ld: heap_dump %u of %llu records: %u objects %u caches %u handles;"
		      " model %u %d %d", step, d->returned, (unsigned long long)d->total, nobj,
		      ncache, nhandle, k, M->ncaches, M->nh);
	return 0;
}

static int op_gc_events(struct mheap *M)
{
	static struct refcache_gc_event evs[REFCACHE_GC_EVENTS_MAX + 2];
	size_t want = pct(10) ? rn(sizeof(evs[0])) : (1 + rn(8)) * sizeof(evs[0]) + rn(8);
	int bpl = pick_pl(8), n, i, got;
	uint32_t sem = 0;
	struct place B;
	ssize_t r;

	place(&B, bpl, NULL, want, 1);
	n = want / sizeof(evs[0]);
	if (!n)
		sem = X(EINVAL);
	else if (!M->ev_count)
		sem = X(EAGAIN);
	else if (B.readable < (size_t)(n < M->ev_count ? n : M->ev_count) * sizeof(evs[0]) ||
		 !B.writable)
		sem = X(EFAULT);
	/* read(2) itself refuses a buffer outside user space first. */
	if (bpl == PL_KERNEL)
		sem |= X(EFAULT);
	logop("gc events read %zu bytes into %s (%d queued)", want, plname[bpl], M->ev_count);
	r = read(M->fd, B.user, want);
	r = r < 0 ? -errno : r;
	if (sem) {
		if (r >= 0 || !(X(-r) & sem))
			FAILF("step %ld: read of events: %zd, model expects %s", step, r,
			      mask_str(sem));
		return 0;
	}
	got = n < M->ev_count ? n : M->ev_count;
	if (r != (ssize_t)(got * sizeof(evs[0])))
		FAILF("step %ld: read of events: %zd bytes, model %zu", step, r,
		      got * sizeof(evs[0]));
	memcpy(evs, B.view, r);
	for (i = 0; i < got; i++) {
		const struct refcache_gc_event *m = &M->ev[(M->ev_head + i) % REFCACHE_GC_EVENTS_MAX];

		if (evs[i].size != sizeof(evs[i]) || evs[i].seq != m->seq ||
		    evs[i].generation != m->generation || evs[i].reason != m->reason ||
		    evs[i].dropped != m->dropped || evs[i].candidates != m->candidates ||
		    evs[i].collected != m->collected || evs[i].uncollectable)
			FAILF("step %ld: event %d: seq %llu gen %u reason %u dropped %u candidates"
			      " %llu collected %llu; model %llu %u %u %u %llu %llu", step, i,
			      (unsigned long long)evs[i].seq, evs[i].generation, evs[i].reason,
			      evs[i].dropped, (unsigned long long)evs[i].candidates,
			      (unsigned long long)evs[i].collected, (unsigned long long)m->seq,
			      m->generation, m->reason, m->dropped,
			      (unsigned long long)m->candidates, (unsigned long long)m->collected);
	}
	M->ev_head = (M->ev_head + got) % REFCACHE_GC_EVENTS_MAX;
	M->ev_count -= got;
	return 0;
}

/* ---- checks of a whole heap ---------------------------------------------- */

static int checkpoint(struct mheap *M, int payloads)
{
	struct refcache_heap_info hi;
	struct refcache_obj_info info;
	static unsigned char buf[4096];
	int i, r;

	r = refcache_heap_info(M->fd, &hi);
	if (r || hi.objects != (uint64_t)M->live || hi.handles != (uint64_t)M->nh ||
	    hi.caches != (uint64_t)M->ncaches)
		FAILF("step %ld: heap %llu has %llu objects, %llu handles, %llu caches; model"
		      " %d, %d, %d (%d)", step, (unsigned long long)M->heap_id,
		      (unsigned long long)hi.objects, (unsigned long long)hi.handles,
		      (unsigned long long)hi.caches, M->live, M->nh, M->ncaches, r);
	for (i = 0; i < M->nh; i++) {
		struct mh *h = &M->h[i];
		struct mobj *o = &M->o[h->obj];
		uint32_t psize = M->c[o->c].psize;

		if (h->weak)
			continue;
		r = refcache_info(M->fd, h->id, &info);
		if (r || info.refcount != (uint64_t)o->rc || info.cache_id != M->c[o->c].id)
			FAILF("step %ld: handle %#" PRIx64 ": info %d refcount %llu cache %u;"
			      " model %d %u", step, h->id, r, (unsigned long long)info.refcount,
			      info.cache_id, o->rc, M->c[o->c].id);
		if (!payloads && psize >= 4)
			psize = 4;
		if (!psize)
			continue;
		r = refcache_read(M->fd, h->id, 0, buf, psize);
		if (r || memcmp(buf, o->pl, psize))
			FAILF("step %ld: handle %#" PRIx64 ": payload differs from the model"
			      " (tag %#x, model %#x, read %d)", step, h->id, *(uint32_t *)buf,
			      o->tag, r);
	}
	return 0;
}

/* Every object reachable from strong handles: slots as the model says. */
static int walk(struct mheap *M)
{
	static uint64_t tmp[MAXSL * MAXO], hq[MAXO];
	static int visited[MAXO], queue[MAXO];
	int nq = 0, qi, i, s, r, ntmp = 0, ret = -1;

	memset(visited, 0, sizeof(int) * M->nobj);
	for (i = 0; i < M->nh; i++)
		if (!M->h[i].weak && !visited[M->h[i].obj]) {
			visited[M->h[i].obj] = 1;
			hq[nq] = M->h[i].id;
			queue[nq++] = M->h[i].obj;
		}
	for (qi = 0; qi < nq; qi++) {
		int o = queue[qi];
		uint32_t nslots = M->c[M->o[o].c].nslots;

		for (s = 0; s < (int)nslots; s++) {
			struct refcache_obj_info info;
			uint64_t out = 0;
			int t = M->o[o].slot[s];

			r = refcache_load(M->fd, hq[qi], s, &out);
			if (r || (t < 0) != (out == 0)) {
				snprintf(why, sizeof(why), "walk: object %#x slot %d: load %d gave %#"
					 PRIx64 ", model %s", M->o[o].tag, s, r, out,
					 t < 0 ? "empty" : "full");
				goto out;
			}
			if (!out)
				continue;
			tmp[ntmp++] = out;
			r = refcache_info(M->fd, out, &info);
			if (r || info.cache_id != M->c[M->o[t].c].id) {
				snprintf(why, sizeof(why), "walk: object %#x slot %d: cache %u, model"
					 " %u", M->o[o].tag, s, info.cache_id, M->c[M->o[t].c].id);
				goto out;
			}
			if (M->c[M->o[t].c].psize >= 4) {
				uint32_t tag = 0;

				refcache_read(M->fd, out, 0, &tag, 4);
				if (tag != M->o[t].tag) {
					snprintf(why, sizeof(why), "walk: object %#x slot %d holds %#x,"
						 " model %#x", M->o[o].tag, s, tag, M->o[t].tag);
					goto out;
				}
			}
			if (!visited[t]) {
				visited[t] = 1;
				hq[nq] = out;
				queue[nq++] = t;
			}
		}
	}
	ret = 0;
out:
	for (i = 0; i < ntmp; i++)
		if ((r = refcache_handle_close(M->fd, tmp[i])) && !ret) {
			snprintf(why, sizeof(why), "walk: close temporary: %d", r);
			ret = -1;
		}
	return ret;
}

/* The heap's lines in /proc/refcache/caches against the model. */
static int check_proc(struct mheap *M)
{
	static char all[1 << 16];
	char *line, *save;
	int fd = open("/proc/refcache/caches", O_RDONLY), seen = 0, i;
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return 0;
	while (len < sizeof(all) - 1 && (n = read(fd, all + len, sizeof(all) - 1 - len)) > 0)
		len += n;
	close(fd);
	all[len] = 0;
	for (line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long hid, active;
		char name[64], flags[16];
		unsigned int psize, nslots;
		struct mcache *c = NULL;

		if (line[0] == '#' || sscanf(line, "%llu %*d %63s %u %u %15s %llu", &hid, name,
					     &psize, &nslots, flags, &active) != 6 ||
		    hid != M->heap_id)
			continue;
		seen++;
		for (i = 0; i < M->nct; i++)
			if (M->c[i].alive && !strcmp(M->c[i].name, name))
				c = &M->c[i];
		if (!c || c->psize != psize || c->nslots != nslots ||
		    (long)active != c->live ||
		    strcmp(flags, (const char *[]){ "-", "tracked", "biased",
						    "tracked,biased" }[c->flags & REFCACHE_CACHE_FLAGS]))
			FAILF("step %ld: /proc/refcache/caches: '%s' does not match the model"
			      " (%s)", step, line, c ? "differs" : "unknown name");
	}
	if (seen != M->ncaches)
		FAILF("step %ld: /proc/refcache/caches lists %d caches of heap %llu, model %d",
		      step, seen, (unsigned long long)M->heap_id, M->ncaches);
	return 0;
}

static int heap_open(struct mheap *M)
{
	struct refcache_heap_info hi;
	struct refcache_version v;
	int i;

	for (i = 0; i < M->nobj; i++)
		free(M->o[i].pl);
	free(M->o);
	memset(M, 0, sizeof(*M));
	M->o = calloc(MAXO, sizeof(*M->o));
	M->fd = refcache_open();
	if (M->fd < 0 || !M->o)
		FAILF("open: %d", M->fd);
	if (refcache_heap_info(M->fd, &hi))
		FAILF("heap_info of a new heap");
	M->heap_id = hi.heap_id;
	M->max_objects = hi.max_objects;
	if (refcache_version(M->fd, &v))
		FAILF("version of a new heap");
	M->gc = !!(v.features & REFCACHE_FEATURE_GC);
	M->inspect = !!(v.features & REFCACHE_FEATURE_INSPECT);
	if (M->gc) {
		struct refcache_gc_set gs = { .size = sizeof(gs), .flags = REFCACHE_GC_SET_ENABLED };
		struct refcache_gc_info gi = { .size = sizeof(gi) };

		/* Automatic collections would free cycles behind the model's back. */
		if (ioctl(M->fd, REFCACHE_IOC_GC_SET, &gs) || ioctl(M->fd, REFCACHE_IOC_GC_GET, &gi))
			FAILF("gc_set/gc_get on a new heap: %s", strerror(errno));
		memcpy(M->threshold, gi.threshold, sizeof(M->threshold));
		/* Events are read without waiting. */
		fcntl(M->fd, F_SETFL, fcntl(M->fd, F_GETFL) | O_NONBLOCK);
	}
	return 0;
}

/* ---- collection before a quota error (issue 16) ----------------------------- */

/* GC_SET with collection @on and the model's thresholds, threshold 0 replaced by @t0. */
static int quota_gc_set(struct mheap *M, uint32_t on, uint32_t t0)
{
	struct refcache_gc_set gs = { .size = sizeof(gs),
		.flags = REFCACHE_GC_SET_ENABLED | REFCACHE_GC_SET_THRESHOLD, .enabled = on };

	memcpy(gs.threshold, M->threshold, sizeof(gs.threshold));
	gs.threshold[0] = t0;
	return ioctl(M->fd, REFCACHE_IOC_GC_SET, &gs) ? -errno : 0;
}

static int op_gc_events(struct mheap *M);

/*
 * A NEW at the heap's object limit with collection on: the module may
 * collect the heap first (generation 2, reason QUOTA) and retry once.
 * Whether it did is for the module to decide (it skips a heap where
 * nothing changed since the last such collection); GC_STATS says, the
 * model then collects too, and the allocation must succeed exactly when
 * that left room.  Collection is on only for this call, with a
 * threshold no count reaches, so nothing else runs behind the model.
 */
static int op_quota_new(struct mheap *M)
{
	struct refcache_gc_stats st = { .size = sizeof(st) };
	uint64_t before, nun = 0, h = 0;
	struct mop op;
	int i, r, want, ran = 0, ci = -1;

	if (!M->gc)
		return op_gc_events(M);
	for (i = 0; i < 8 && ci < 0; i++) {
		int k = rn(M->nct ? M->nct : 1);

		if (M->nct && M->c[k].alive)
			ci = k;
	}
	if (ci < 0)
		return op_gc_events(M);
	if ((uint64_t)M->live < M->max_objects) {
		struct refcache_heap_limits lim = { .size = sizeof(lim), .max_objects = M->live };

		/* Now and then the limit comes down to what the heap holds. */
		if (M->live < 32 || !pct(25))
			return op_gc_events(M);
		if (ioctl(M->fd, REFCACHE_IOC_SET_LIMITS, &lim))
			FAILF("step %ld: quota_new: set_limits(%d): %s", step, M->live,
			      strerror(errno));
		M->max_objects = M->live;
	}
	if (ioctl(M->fd, REFCACHE_IOC_GC_STATS, &st))
		FAILF("step %ld: quota_new: gc_stats: %s", step, strerror(errno));
	before = st.gen[NGEN - 1].collections;
	if (quota_gc_set(M, 1, UINT32_MAX))
		FAILF("step %ld: quota_new: gc_set on", step);
	r = refcache_new(M->fd, M->c[ci].id, &h);
	if (quota_gc_set(M, 0, M->threshold[0]) || ioctl(M->fd, REFCACHE_IOC_GC_STATS, &st))
		FAILF("step %ld: quota_new: gc_set off / gc_stats", step);
	if (st.gen[NGEN - 1].collections == before + 1) {
		nun = model_collect(M, NGEN - 1, REFCACHE_GC_REASON_QUOTA);
		ran = 1;
	} else if (st.gen[NGEN - 1].collections != before) {
		FAILF("step %ld: quota_new: %llu full collections", step,
		      (unsigned long long)(st.gen[NGEN - 1].collections - before));
	}
	want = (uint64_t)M->live < M->max_objects ? 0 : -EDQUOT;
	logop("quota_new fd %d cache %u at %d objects: %d, %s (%llu freed)", M->fd, M->c[ci].id,
	      M->live, r, ran ? "collected" : "not collected", (unsigned long long)nun);
	quota_news++;
	quota_collections += ran;
	if (r != want)
		FAILF("step %ld: quota_new: %d, model %d (%s, %llu freed)", step, r, want,
		      ran ? "collected" : "not collected", (unsigned long long)nun);
	if (r)
		return 0;
	memset(&op, 0, sizeof(op));
	op.code = REFCACHE_OP_NEW;
	op.arg = M->c[ci].id;
	if (apply(M, &op, h))
		return -1;
	return write_tag(M, M->nobj - 1);
}

/* ---- threads on one heap --------------------------------------------------- */

#define NTHR	4
#define TH	24	/* handles a thread holds */
#define TC	3	/* caches a thread keeps */
#define ROOTSL	16

struct thr {
	pthread_t tid;
	int idx, fd, other_fd;
	uint64_t seed, root, foreign;
	uint32_t cache[TC], cpsize[TC];
	int nc;
	uint64_t h[TH];
	uint32_t tag[TH], hcache[TH];
	int nh;
	uint32_t made[512];	/* every cache id this thread made */
	int nmade;
	long ops;
	uint32_t tags;
	char msg[300];
};

#define TFAIL(t, ...) do {						\
	if (!(t)->msg[0])						\
		snprintf((t)->msg, sizeof((t)->msg), __VA_ARGS__);	\
} while (0)

#define OK0 (1u << 30)	/* in a thread's allowed set: success is fine too */

static int t_check(struct thr *t, const char *what, int r, uint32_t allowed)
{
	if (agrees(r, allowed) || (!r && (allowed & OK0)))
		return 0;
	TFAIL(t, "thread %d op %ld: %s: %d, may be %s", t->idx, t->ops, what, r,
	      mask_str(allowed));
	return -1;
}

static uint32_t t_tag(struct thr *t)
{
	return 0x10000000u * (uint32_t)(t->idx + 1) + ++t->tags;
}

static void *thread_main(void *arg)
{
	struct thr *t = arg;
	long n, nops = t->ops;

	rng = t->seed;
	t->ops = 0;
	for (n = 0; n < nops && !t->msg[0]; n++) {
		uint32_t r = rn(100), tag;
		int i = t->nh ? (int)rn(t->nh) : -1, k, e;
		uint64_t out = 0;

		if (r < 6 && t->nc < TC && t->nmade < 512) {	/* create: never id 0 */
			char name[32];
			uint32_t psize = 4 + 4 * rn(30);

			snprintf(name, sizeof(name), "t%dc%ld", t->idx, t->ops);
			e = refcache_cache_create(t->fd, name, psize, rn(3), 0);
			if (e == 0)
				TFAIL(t, "thread %d: cache_create returned id 0", t->idx);
			else if (!t_check(t, "cache_create", e < 0 ? e : 0, 0) && e > 0) {
				t->made[t->nmade++] = e;
				t->cpsize[t->nc] = psize;
				t->cache[t->nc++] = e;
			}
		} else if (r < 9) {	/* destroy any small id: a race with the others */
			e = refcache_cache_destroy(t->fd, 1 + rn(12));
			t_check(t, "cache_destroy(any)", e, X(ENOENT) | X(EBUSY) | OK0);
		} else if (r < 11 && t->nc) {	/* destroy one of mine */
			k = rn(t->nc);
			e = refcache_cache_destroy(t->fd, t->cache[k]);
			if (!t_check(t, "cache_destroy(mine)", e,
				     X(ENOENT) | X(EBUSY) | OK0) && e != -EBUSY) {
				t->cache[k] = t->cache[--t->nc];
				t->cpsize[k] = t->cpsize[t->nc];
			}
		} else if (r < 30 && t->nh < TH && t->nc) {	/* new in one of mine */
			k = rn(t->nc);
			e = refcache_new(t->fd, t->cache[k], &out);
			if (e == -ENOENT) {	/* another thread destroyed it */
				t->cache[k] = t->cache[--t->nc];
				t->cpsize[k] = t->cpsize[t->nc];
				continue;
			}
			if (t_check(t, "new", e, 0))
				break;
			tag = t_tag(t);
			e = refcache_write(t->fd, out, 0, &tag, 4);
			if (t_check(t, "write tag", e, 0))
				break;
			t->tag[t->nh] = tag;
			t->hcache[t->nh] = t->cache[k];
			t->h[t->nh++] = out;
		} else if (i < 0) {
			continue;
		} else if (r < 38 && t->nh < TH) {
			e = refcache_dup(t->fd, t->h[i], &out);
			if (t_check(t, "dup", e, 0))
				break;
			t->tag[t->nh] = t->tag[i];
			t->hcache[t->nh] = t->hcache[i];
			t->h[t->nh++] = out;
		} else if (r < 50) {
			e = refcache_handle_close(t->fd, t->h[i]);
			if (t_check(t, "close", e, 0))
				break;
			t->nh--;
			t->h[i] = t->h[t->nh];
			t->tag[i] = t->tag[t->nh];
			t->hcache[i] = t->hcache[t->nh];
		} else if (r < 60) {	/* my objects keep their tags */
			tag = 0;
			e = refcache_read(t->fd, t->h[i], 0, &tag, 4);
			if (t_check(t, "read", e, 0))
				break;
			if (tag != t->tag[i])
				TFAIL(t, "thread %d: object tag %#x, want %#x", t->idx, tag, t->tag[i]);
		} else if (r < 66) {
			struct refcache_obj_info info;

			e = refcache_info(t->fd, t->h[i], &info);
			if (t_check(t, "info", e, 0))
				break;
			if (info.refcount < 1 || info.cache_id != t->hcache[i])
				TFAIL(t, "thread %d: info refcount %llu cache %u, want >= 1, %u",
				      t->idx, (unsigned long long)info.refcount, info.cache_id,
				      t->hcache[i]);
		} else if (r < 74) {	/* share through the root */
			e = refcache_store(t->fd, t->root, rn(ROOTSL), pct(30) ? 0 : t->h[i]);
			t_check(t, "store in root", e, 0);
		} else if (r < 82) {	/* whatever the root holds: a valid tag */
			e = refcache_load(t->fd, t->root, rn(ROOTSL), &out);
			if (t_check(t, "load from root", e, 0) || !out)
				continue;
			tag = 0;
			e = refcache_read(t->fd, out, 0, &tag, 4);
			t_check(t, "read loaded", e, 0);
			if (tag / 0x10000000u < 1 || tag / 0x10000000u > NTHR)
				TFAIL(t, "thread %d: root slot holds an object with tag %#x", t->idx,
				      tag);
			e = refcache_handle_close(t->fd, out);
			t_check(t, "close loaded", e, 0);
		} else if (r < 88) {	/* weak while holding strong: upgrade works */
			uint64_t w, s;

			e = refcache_weak_new(t->fd, t->h[i], &w);
			if (t_check(t, "weak_new", e, 0))
				break;
			e = refcache_weak_upgrade(t->fd, w, &s);
			if (!t_check(t, "weak_upgrade", e, 0)) {
				tag = 0;
				refcache_read(t->fd, s, 0, &tag, 4);
				if (tag != t->tag[i])
					TFAIL(t, "thread %d: upgrade reached tag %#x, want %#x", t->idx,
					      tag, t->tag[i]);
				refcache_handle_close(t->fd, s);
			}
			e = refcache_handle_close(t->fd, w);
			t_check(t, "close weak", e, 0);
		} else if (r < 92) {	/* a batch of my own */
			struct refcache_op ops[3];

			memset(ops, 0, sizeof(ops));
			ops[0].op = REFCACHE_OP_DUP;
			ops[0].handle = t->h[i];
			ops[1].op = REFCACHE_OP_REFCOUNT;
			ops[1].handle = t->h[i];
			ops[2].op = REFCACHE_OP_CLOSE;
			e = refcache_batch(t->fd, ops, 2, 0);
			if (e != 2 || ops[0].error || ops[1].error || ops[1].result < 2) {
				TFAIL(t, "thread %d: batch %d: %d %d refcount %llu", t->idx, e,
				      ops[0].error, ops[1].error, (unsigned long long)ops[1].result);
				break;
			}
			e = refcache_handle_close(t->fd, ops[0].result);
			t_check(t, "close batch dup", e, 0);
		} else if (r < 95) {	/* the other heap's ids are not ours */
			e = refcache_dup(t->fd, t->foreign, &out);
			t_check(t, "foreign dup", e, X(EBADF));
			e = refcache_handle_close(t->other_fd, t->h[i]);
			t_check(t, "close in the other heap", e, X(EBADF));
		} else if (r < 98) {	/* malformed: deterministic even now */
			struct refcache_handle_op op;

			memset(&op, 0, sizeof(op));
			op.size = pct(50) ? 8 : 4096 + 1;
			op.handle = t->h[i];
			e = ioctl(t->fd, REFCACHE_IOC_DUP, &op) < 0 ? -errno : 0;
			t_check(t, "bad size", e, op.size == 8 ? X(EINVAL) : X(E2BIG));
		} else {
			struct refcache_heap_info hi;

			e = refcache_heap_info(t->fd, &hi);
			if (!t_check(t, "heap_info", e, 0) && hi.handles < (uint64_t)t->nh + 1)
				TFAIL(t, "thread %d: heap has %llu handles, I hold %d", t->idx,
				      (unsigned long long)hi.handles, t->nh);
		}
		t->ops++;
	}
	return NULL;
}

static long thread_ops_done, thread_ops_total;

static int threaded_phase(long budget)
{
	static struct thr thr[NTHR];
	struct refcache_heap_info hi;
	uint64_t root, foreign;
	int fd, other, rc, i, j, ret = 0;
	uint64_t h;

	fd = refcache_open();
	other = refcache_open();
	if (fd < 0 || other < 0)
		FAILF("threads: open %d %d", fd, other);
	rc = refcache_cache_create(fd, "root", 8, ROOTSL, REFCACHE_CACHE_TRACKED);
	if (rc <= 0 || refcache_new(fd, rc, &root))
		FAILF("threads: root: %d", rc);
	rc = refcache_cache_create(other, "foreign", 8, 0, 0);
	if (rc <= 0 || refcache_new(other, rc, &foreign))
		FAILF("threads: foreign: %d", rc);
	for (i = 0; i < NTHR; i++) {
		memset(&thr[i], 0, sizeof(thr[i]));
		thr[i].idx = i;
		thr[i].fd = fd;
		thr[i].other_fd = other;
		thr[i].root = root;
		thr[i].foreign = foreign;
		thr[i].seed = rnd() | 1;
		thr[i].ops = budget / NTHR;
		if (pthread_create(&thr[i].tid, NULL, thread_main, &thr[i]))
			FAILF("pthread_create");
	}
	for (i = 0; i < NTHR; i++)
		pthread_join(thr[i].tid, NULL);
	for (i = 0; i < NTHR; i++) {
		thread_ops_done += thr[i].ops;
		if (thr[i].msg[0] && !ret) {
			snprintf(why, sizeof(why), "%s", thr[i].msg);
			ret = -1;
		}
	}
	/* Now single-threaded: drop everything but the root. */
	for (i = 0; i < NTHR; i++)
		for (j = 0; j < thr[i].nh; j++)
			if ((rc = refcache_handle_close(fd, thr[i].h[j])) && !ret) {
				snprintf(why, sizeof(why), "threads: close thread %d handle: %d", i, rc);
				ret = -1;
			}
	for (j = 0; j < ROOTSL; j++)
		refcache_store(fd, root, j, 0);
	for (i = 0; i < NTHR; i++)
		for (j = 0; j < thr[i].nmade; j++) {
			rc = refcache_cache_destroy(fd, thr[i].made[j]);
			if (rc && rc != -ENOENT && !ret) {
				snprintf(why, sizeof(why), "threads: destroy cache %u at the end: %d",
					 thr[i].made[j], rc);
				ret = -1;
			}
		}
	rc = refcache_heap_info(fd, &hi);
	if (!ret && (rc || hi.objects != 1 || hi.handles != 1 || hi.caches != 1)) {
		snprintf(why, sizeof(why), "threads: at the end %llu objects, %llu handles, %llu"
			 " caches; want the root alone (1, 1, 1)", (unsigned long long)hi.objects,
			 (unsigned long long)hi.handles, (unsigned long long)hi.caches);
		ret = -1;
	}
	if (!ret && refcache_load(fd, root, 0, &h) == 0 && h) {
		snprintf(why, sizeof(why), "threads: root slot 0 not empty");
		ret = -1;
	}
	refcache_close(other);
	refcache_close(fd);
	return ret;
}

/* ---- the run ------------------------------------------------------------- */

static int out_of_budget(void)
{
	if (total_ops >= max_ops)
		return 1;
	return max_secs > 0 && now() - t_start > max_secs;
}

static int single_epoch(long nops)
{
	long k, next_check = 64, next_walk = 512, next_proc = 256, e0 = step;
	int i, r = 0;

	for (i = 0; i < NHEAPS; i++)
		if (heap_open(&MH[i]))
			return -1;
	for (k = 0; k < nops && !out_of_budget(); k++) {
		struct mheap *M = &MH[pct(70) ? 0 : 1];
		uint32_t w = rn(1000);

		step++;
		total_ops++;
		if (w < 560)
			r = op_single(M);
		else if (w < 640)
			r = op_payload(M, 1);
		else if (w < 700)
			r = op_payload(M, 0);
		else if (w < 740)
			r = op_info(M);
		else if (w < 850)
			r = op_batch(M);
		else if (w < 890 || M->ncaches == 0)
			r = op_cache_create(M);
		else if (w < 920)
			r = op_cache_destroy(M);
		else if (w < 950)
			r = op_heap_info(M);
		else if (w < 960)
			r = op_set_limits(M);
		else if (w < 965)
			r = op_version(M);
		else if (w < 975)
			r = op_bad_cmd(M);
		else if (!M->gc)
			r = op_heap_info(M);
		else if (w < 982)
			r = op_gc_collect(M);
		else if (w < 985)
			r = op_gc_get(M);
		else if (w < 987)
			r = op_gc_set(M);
		else if (w < 990)
			r = op_gc_freeze(M);
		else if (w < 993)
			r = op_gc_stats(M);
		else if (w < 994)
			r = op_gc_is_tracked(M);
		else if (w < 996)
			r = M->inspect ? op_gc_objects(M) : op_gc_is_tracked(M);
		else if (w < 997)
			r = M->inspect ? op_gc_inspect(M) : op_gc_is_tracked(M);
		else if (w < 998)
			r = op_gc_events(M);
		else
			r = op_quota_new(M);
		if (r)
			return -1;
		if (step - e0 >= next_check) {
			next_check += 64;
			for (i = 0; i < NHEAPS; i++)
				if (checkpoint(&MH[i], 0))
					return -1;
		}
		if (step - e0 >= next_proc) {
			next_proc += 256;
			for (i = 0; i < NHEAPS; i++)
				if (check_proc(&MH[i]))
					return -1;
		}
		if (step - e0 >= next_walk) {
			next_walk += 512;
			for (i = 0; i < NHEAPS; i++)
				if (walk(&MH[i]) || checkpoint(&MH[i], 1))
					return -1;
		}
		if (MH[0].nobj > MAXO - 200 || MH[1].nobj > MAXO - 200)
			break;
	}
	for (i = 0; i < NHEAPS; i++)
		if (checkpoint(&MH[i], 1) || walk(&MH[i]) || check_proc(&MH[i]))
			return -1;
	for (i = 0; i < NHEAPS; i++)
		refcache_close(MH[i].fd);
	return 0;
}

/* A line in the kernel log: a crash report then names the run to replay. */
static void kmsg_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void kmsg_note(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int fd = open("/dev/kmsg", O_WRONLY), n;

	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "<5>%s: ", program_invocation_short_name);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (write(fd, line, strlen(line)) < 0)
		n = 0;
	close(fd);
}

static uint64_t arg_or_env(int argc, char **argv, int i, const char *env, uint64_t def)
{
	const char *s = argc > i ? argv[i] : getenv(env);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

int main(int argc, char **argv)
{
	long open0 = stat_value("heaps_open"), thr_budget, i;
	struct timespec ts;
	int model_bad = 0, thr_bad = 0, epochs = 0, phases = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	seed = arg_or_env(argc, argv, 1, "REFCACHE_FUZZ_SEED",
			  (uint64_t)ts.tv_sec * 1000003u + ts.tv_nsec + getpid());
	/* The debug kernel (kmemleak) runs ten times slower: fewer by default. */
	max_ops = arg_or_env(argc, argv, 2, "REFCACHE_FUZZ_OPS",
			     access("/sys/kernel/debug/kmemleak", F_OK) ? DEFAULT_OPS :
			     DEFAULT_OPS * 3 / 10);
	max_secs = arg_or_env(argc, argv, 3, "REFCACHE_FUZZ_SECS", 0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("# seed=%" PRIu64 " ops=%ld\n", seed, max_ops);
	kmsg_note("seed=%" PRIu64 " ops=%ld secs=%.0f", seed, max_ops, max_secs);
	if (arg_or_env(argc, argv, 4, "REFCACHE_FUZZ_TRACE", 0)) {
		trace_fd = open("/dev/kmsg", O_WRONLY);
		printf("# tracing every operation to the kernel log%s\n",
		       trace_fd < 0 ? ": cannot open /dev/kmsg" : "");
	}
	printf("TAP version 13\n1..3\n");
	rng = seed ? seed : 1;
	t_start = now();
	if (areas_init()) {
		printf("# cannot map the argument areas: %s\n", strerror(errno));
		return 1;
	}
	if (probe_commands()) {
		printf("# cannot open %s or no unknown command numbers\n", REFCACHE_DEVICE);
		return 1;
	}
	/* A fifth of the operations run in threaded phases. */
	thr_budget = max_ops / 5;
	while (!out_of_budget() && !model_bad) {
		long n = 1000 + rn(4000);

		if (single_epoch(n)) {
			model_bad = 1;
			break;
		}
		epochs++;
		if (thr_budget > 0 && !thr_bad && !out_of_budget()) {
			long b = thr_budget < 4000 ? thr_budget : 4000;

			thread_ops_done = 0;
			if (threaded_phase(b)) {
				thr_bad = 1;
				printf("# threads: %s\n", why);
			}
			phases++;
			total_ops += thread_ops_done;
			thread_ops_total += thread_ops_done;
			thr_budget -= b;
		}
	}
	if (model_bad) {
		printf("# FAILED at step %ld: %s\n", step, why);
		printf("# last operations, oldest first:\n");
		for (i = step - NLOG + 1; i <= step; i++)
			if (i > 0 && oplog[i % NLOG][0])
				printf("#   %ld: %s\n", i, oplog[i % NLOG]);
		printf("# replay: REFCACHE_FUZZ_SEED=%" PRIu64 " REFCACHE_FUZZ_OPS=%ld\n", seed,
		       max_ops);
		for (i = 0; i < NHEAPS; i++)
			refcache_close(MH[i].fd);
	}
	tap_result(model_bad, "model_two_heaps");
	tap_result(thr_bad, "threads_one_heap");
	{
		long open1 = stat_value("heaps_open");

		if (open1 != open0)
			printf("# heaps_open %ld, was %ld\n", open1, open0);
		tap_result(open1 != open0, "all_heaps_freed");
	}
	printf("# fuzz: seed=%" PRIu64 " ops=%ld (%ld in %d threaded phases) epochs=%d"
	       " secs=%.1f\n", seed, total_ops, thread_ops_total, phases, epochs,
	       now() - t_start);
	printf("# fuzz: %ld allocations at the object limit with collection on, %ld collected"
	       " first (REASON_QUOTA)\n", quota_news, quota_collections);
	printf("# fuzz: single calls: %ld succeeded", outcomes[0]);
	for (i = 0; i < NERRS + 1; i++)
		if (outcomes[i + 1])
			printf(", %ld %s", outcomes[i + 1],
			       i < NERRS ? strerrorname_np(errs[i]) : "other");
	printf("\n# %d passed, %d failed\n", ntest - nfail, nfail);
	return nfail;
}
