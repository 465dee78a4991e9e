// SPDX-License-Identifier: GPL-2.0
/*
 * The fail-nth sweep: every allocation and user copy that an ioctl, an
 * open(2) or the last close(2) of /dev/refcache makes is failed in turn,
 * the way syzkaller does it.  For each case a heap with a known state is
 * built, then for N = 1, 2, ... N is written to /proc/thread-self/fail-nth,
 * the one system call is made, and fail-nth is read back: 0 means the Nth
 * fault point of the call was failed.  The loop ends when the call
 * succeeds without an injected fault.
 *
 * A call that failed must return a documented error (ENOMEM, EDQUOT,
 * EFAULT) and leave the heap exactly as it was: HEAP_INFO, the heap's
 * lines in /proc/refcache/caches, /proc/refcache/users and heaps_open,
 * and every object the test can reach from its handles (refcount, cache,
 * payload bytes, what each slot holds), weak handles included.  A batch
 * may stop in the middle: entries that did not run must be unchanged
 * byte for byte, and the heap must equal a fresh heap on which only the
 * entries that succeeded were run.  Leaks are kmemleak's to find at the
 * end of the guest run, splats the harness's.
 *
 * Fault injection reports each failure with a stack dump (verbose=2); the
 * test reads them from /dev/kmsg and counts distinct allocation sites by
 * the innermost [refcache] frame.  It prints
 *   # failnth: sites=<n> injections=<m> silent=<k>
 * where silent counts failures injected without a dump (__GFP_NOWARN
 * allocations report nothing).  Without /proc/thread-self/fail-nth
 * (a kernel without CONFIG_FAULT_INJECTION) every case is skipped.
 *
 * REFCACHE_FAILNTH_CASE=<glob> runs only the matching cases.  Prints TAP.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "refcache.h"
#include "tap.h"

#define MAXN		3000	/* injections per case before giving up */
#define MAXFAILS	3	/* mismatches reported per case */

/* ---- fault injection -------------------------------------------------- */

static int nth_fd = -1;

static int nth_arm(unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(nth_fd, buf, len, 0) == len ? 0 : -errno;
}

/*
 * After the call: was its Nth fault point failed?  Disarms.  Reading
 * the file is itself a user copy that counts down, but only after the
 * value was taken; a count of 1 makes the read fail, which still means
 * "not injected".
 */
static int nth_fired(void)
{
	char buf[16];
	ssize_t n = pread(nth_fd, buf, sizeof(buf) - 1, 0);
	int i;

	for (i = 0; i < 4; i++)
		if (pwrite(nth_fd, "0", 1, 0) == 1)
			break;
	return n > 0 && buf[0] == '0';
}

struct knob {
	const char *path, *want;
	char old[32];
	int saved;
};

static struct knob knobs[] = {
	/* Else GFP_KERNEL allocations are never failed. */
	{ .path = "/sys/kernel/debug/failslab/ignore-gfp-wait", .want = "N" },
	{ .path = "/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", .want = "N" },
	{ .path = "/sys/kernel/debug/fail_page_alloc/min-order", .want = "0" },
	/* A stack dump with each failure, to count the sites. */
	{ .path = "/sys/kernel/debug/failslab/verbose", .want = "2" },
	{ .path = "/sys/kernel/debug/fail_page_alloc/verbose", .want = "2" },
	{ .path = "/sys/kernel/debug/fail_usercopy/verbose", .want = "2" },
};
#define NKNOBS (int)(sizeof(knobs) / sizeof(knobs[0]))

static int knob_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -errno;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -EIO;
}

static int knobs_set(void)
{
	int i, missing = 0;

	for (i = 0; i < NKNOBS; i++) {
		int fd = open(knobs[i].path, O_RDONLY);
		ssize_t n;

		if (fd < 0) {
			printf("# %s: %s\n", knobs[i].path, strerror(errno));
			missing++;
			continue;
		}
		n = read(fd, knobs[i].old, sizeof(knobs[i].old) - 1);
		close(fd);
		knobs[i].old[n > 0 ? n : 0] = 0;
		knobs[i].old[strcspn(knobs[i].old, "\n")] = 0;
		if (knob_write(knobs[i].path, knobs[i].want) == 0)
			knobs[i].saved = 1;
		else
			missing++;
	}
	return missing;
}

static void knobs_restore(void)
{
	int i;

	for (i = 0; i < NKNOBS; i++)
		if (knobs[i].saved)
			knob_write(knobs[i].path, knobs[i].old);
}

/* ---- the kernel log: fault reports and splats ------------------------- */

#define MAXSITES 512
struct site {
	char name[80];		/* innermost [refcache] frame: function+offset */
	char attr[20];		/* failslab, fail_page_alloc, fail_usercopy */
	char first[48];		/* the case that reached it first */
	long hits;
};

static struct site sites[MAXSITES];
static int nsites;
static long injections, silent, kmsg_lost;
static int kmsg_fd = -1;
static const char *cur_case = "";
static int dump_state;		/* 0 outside a fault report, 1 inside */
static int dump_framed;		/* the report's [refcache] frame was seen */
static char dump_attr[20];
static int call_sites;		/* fault reports with a [refcache] frame, this call */
static char splat[200];		/* first unexpected kernel message, this case */

static const char *const splat_words[] = {
	"WARNING:", "BUG:", "KASAN:", "UBSAN:", "Oops", "Kernel panic",
	"general protection fault", "possible circular locking",
	"possible recursive locking", "inconsistent lock state", "refcount_t:",
	"list_add corruption", "list_del corruption", "ODEBUG:",
	"sleeping function called", "leak detector disabled", "Memory pool empty",
};

static void add_site(const char *frame)
{
	char name[80];
	size_t n = strcspn(frame, "/ ");
	int i;

	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	memcpy(name, frame, n);
	name[n] = 0;
	call_sites++;
	for (i = 0; i < nsites; i++)
		if (!strcmp(sites[i].name, name)) {
			sites[i].hits++;
			return;
		}
	if (nsites == MAXSITES)
		return;
	snprintf(sites[nsites].name, sizeof(sites[nsites].name), "%s", name);
	snprintf(sites[nsites].attr, sizeof(sites[nsites].attr), "%s", dump_attr);
	snprintf(sites[nsites].first, sizeof(sites[nsites].first), "%s", cur_case);
	sites[nsites++].hits = 1;
}

/* One line of the kernel log (a /dev/kmsg record's text). */
static void kmsg_text(const char *t)
{
	unsigned int i;

	if (!strncmp(t, "FAULT_INJECTION: forcing a failure", 34)) {
		const char *nm = strstr(t, "name ");

		dump_state = 1;
		dump_framed = 0;
		dump_attr[0] = 0;
		if (nm)
			sscanf(nm + 5, "%19[a-z_]", dump_attr);
		return;
	}
	if (dump_state) {
		if (!strcmp(t, " </TASK>")) {
			dump_state = 0;
			return;
		}
		if (t[0] == ' ' || !strncmp(t, "name ", 5) || !strncmp(t, "CPU: ", 5) ||
		    !strncmp(t, "Tainted: ", 9) || !strncmp(t, "Hardware name: ", 15) ||
		    !strncmp(t, "Workqueue: ", 11) || !strcmp(t, "Call Trace:")) {
			if (!strncmp(t, "name ", 5))
				sscanf(t + 5, "%19[a-z_]", dump_attr);
			while (*t == ' ')
				t++;
			if (!dump_framed && strncmp(t, "? ", 2) && strstr(t, " [refcache]")) {
				dump_framed = 1;
				add_site(t);
			}
			return;
		}
		dump_state = 0;	/* not part of a report: look at it */
	}
	for (i = 0; i < sizeof(splat_words) / sizeof(splat_words[0]); i++)
		if (strstr(t, splat_words[i]) && !splat[0])
			snprintf(splat, sizeof(splat), "%s", t);
}

/* Read what the kernel logged since the last call. */
static void kmsg_drain(void)
{
	static char rec[8192];
	ssize_t n;

	if (kmsg_fd < 0)
		return;
	for (;;) {
		char *t, *end, *o, *p;

		n = read(kmsg_fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE) {
			kmsg_lost++;	/* overwritten before we read it */
			continue;
		}
		if (n <= 0)
			break;
		rec[n] = 0;
		t = strchr(rec, ';');
		if (!t)
			continue;
		t++;
		end = strchr(t, '\n');
		if (end)
			*end = 0;
		/* Undo /dev/kmsg's \xNN escapes; a \x0a splits lines. */
		for (o = p = t; *p; p++) {
			unsigned int c;

			if (p[0] == '\\' && p[1] == 'x' && sscanf(p + 2, "%2x", &c) == 1) {
				p += 3;
				if (c == '\n') {
					*o = 0;
					kmsg_text(t);
					t = o = p + 1;
					continue;
				}
				*o++ = c;
				continue;
			}
			*o++ = *p;
		}
		*o = 0;
		kmsg_text(t);
	}
}

/* ---- heaps with a known state ----------------------------------------- */

static int have_gc;	/* the module has REFCACHE_FEATURE_GC (ABI 1.2) */

#define MAXHELD 16
struct heap {
	int fd;
	uint32_t ca, cb, ce;		/* small with 3 slots; large; empty */
	uint64_t ha, hb, hl, hf;	/* strong handles */
	uint64_t hw, hdw;		/* weak: to a live object, to a dead one */
	uint64_t held[MAXHELD];
	int weak[MAXHELD];
	int nheld;
	uint64_t ntag;
	char why[160];
};

#define PA 64		/* payload of cache "fnA" */
#define PB 1000		/* payload of cache "fnB": the large-object path */

static void payload_pattern(unsigned char *p, uint32_t len, uint64_t tag)
{
	uint32_t i;

	memcpy(p, &tag, len < 8 ? len : 8);
	for (i = 8; i < len; i++)
		p[i] = (unsigned char)(tag * 31 + i * 7);
}

#define SETUP(call) do {						\
	int r_ = (call);						\
	if (r_ < 0) {							\
		snprintf(H->why, sizeof(H->why), "setup: %s: %s",	\
			 #call, strerror(-r_));				\
		return -1;						\
	}								\
} while (0)

static int mkobj(struct heap *H, uint32_t cache, uint32_t psize, uint64_t *h)
{
	static unsigned char buf[PB];
	int r = refcache_new(H->fd, cache, h);

	if (r)
		return r;
	payload_pattern(buf, psize, 0x7461670000000000ull + ++H->ntag);
	return refcache_write(H->fd, *h, 0, buf, psize);
}

static void hold(struct heap *H, uint64_t h, int weak)
{
	H->held[H->nheld] = h;
	H->weak[H->nheld++] = weak;
}

/*
 * The standard heap: a cycle a -> b -> c -> a reached from handles, a
 * large object l, a chain f -> g that only f's handle keeps, a weak
 * handle to c (alive through b's slot), a weak handle whose object died,
 * an unreachable cycle x <-> y, and an empty cache.
 */
static int std_setup(struct heap *H)
{
	uint64_t hc, hd, hg, hx, hy;

	memset(H, 0, sizeof(*H));
	H->fd = refcache_open();
	SETUP(H->fd);
	if (have_gc) {	/* no automatic collection behind the test's back */
		struct refcache_gc_set gs = { .size = sizeof(gs), .flags = REFCACHE_GC_SET_ENABLED };

		SETUP(ioctl(H->fd, REFCACHE_IOC_GC_SET, &gs) ? -errno : 0);
	}
	SETUP(H->ca = refcache_cache_create(H->fd, "fnA", PA, 3, REFCACHE_CACHE_TRACKED));
	SETUP(H->cb = refcache_cache_create(H->fd, "fnB", PB, 1, 0));
	SETUP(H->ce = refcache_cache_create(H->fd, "fnE", 200, 0, 0));
	SETUP(mkobj(H, H->ca, PA, &H->ha));
	SETUP(mkobj(H, H->ca, PA, &H->hb));
	SETUP(mkobj(H, H->ca, PA, &hc));
	SETUP(mkobj(H, H->cb, PB, &H->hl));
	SETUP(mkobj(H, H->ca, PA, &H->hf));
	SETUP(mkobj(H, H->ca, PA, &hg));
	SETUP(mkobj(H, H->ca, PA, &hd));
	SETUP(mkobj(H, H->ca, PA, &hx));
	SETUP(mkobj(H, H->ca, PA, &hy));
	SETUP(refcache_store(H->fd, H->ha, 0, H->hb));
	SETUP(refcache_store(H->fd, H->hb, 0, hc));
	SETUP(refcache_store(H->fd, hc, 0, H->ha));
	SETUP(refcache_store(H->fd, H->ha, 1, H->hl));
	SETUP(refcache_store(H->fd, H->hl, 0, H->hb));
	SETUP(refcache_store(H->fd, H->hf, 0, hg));
	SETUP(refcache_store(H->fd, hx, 0, hy));
	SETUP(refcache_store(H->fd, hy, 0, hx));
	SETUP(refcache_weak_new(H->fd, hc, &H->hw));
	SETUP(refcache_weak_new(H->fd, hd, &H->hdw));
	SETUP(refcache_handle_close(H->fd, hc));
	SETUP(refcache_handle_close(H->fd, hg));
	SETUP(refcache_handle_close(H->fd, hd));
	SETUP(refcache_handle_close(H->fd, hx));
	SETUP(refcache_handle_close(H->fd, hy));
	hold(H, H->ha, 0);
	hold(H, H->hb, 0);
	hold(H, H->hl, 0);
	hold(H, H->hf, 0);
	hold(H, H->hw, 1);
	hold(H, H->hdw, 1);
	return 0;
}

/* The standard heap whose handle table is full: the next handle grows it. */
static int full_table_setup(struct heap *H)
{
	struct refcache_heap_info hi;
	uint64_t h;

	if (std_setup(H))
		return -1;
	SETUP(refcache_heap_info(H->fd, &hi));
	/* 64 entries, entry 0 unused: 63 handles fill the first table. */
	while (hi.handles < 63) {
		SETUP(refcache_dup(H->fd, H->ha, &h));
		hi.handles++;
	}
	return 0;
}

static void read_file(const char *path, char *buf, size_t size);

/* arenas_current of a heap in /proc/refcache/allocator, or -1. */
static long arenas_of(int fd)
{
	static char all[65536];
	struct refcache_heap_info hi;
	unsigned long long id;
	char *p;

	if (refcache_heap_info(fd, &hi))
		return -1;
	read_file("/proc/refcache/allocator", all, sizeof(all));
	for (p = all; (p = strstr(p, "heap ")); p++) {
		char *a;

		if (sscanf(p, "heap %llu ", &id) != 1 || id != hi.heap_id)
			continue;
		a = strstr(p, "arenas_current ");
		return a ? atol(a + 15) : -1;
	}
	return -1;
}

/*
 * The standard heap at its object limit, collection on with thresholds
 * that never fire: a new object fails its budget, so the module collects
 * the heap first (reason QUOTA), which frees the cycle x <-> y, and
 * tries again (issue 16).
 */
static int quota_setup(struct heap *H)
{
	struct refcache_gc_set gs = { .size = sizeof(gs),
		.flags = REFCACHE_GC_SET_ENABLED | REFCACHE_GC_SET_THRESHOLD, .enabled = 1,
		.threshold = { 1000000000, 1000, 1000 } };
	struct refcache_heap_info hi;

	if (std_setup(H))
		return -1;
	SETUP(ioctl(H->fd, REFCACHE_IOC_GC_SET, &gs) ? -errno : 0);
	SETUP(refcache_heap_info(H->fd, &hi));
	SETUP(refcache_set_limits(H->fd, hi.objects, 0));
	return 0;
}

/* The standard heap with its tracked objects frozen. */
static int frozen_setup(struct heap *H)
{
	struct refcache_gc_freeze gf = { .size = sizeof(gf) };

	if (std_setup(H))
		return -1;
	SETUP(ioctl(H->fd, REFCACHE_IOC_GC_FREEZE, &gf) ? -errno : 0);
	return 0;
}

/*
 * The standard heap plus objects of a 400-byte cache "fnZ" up to the one
 * that needs a new arena.  How many that is depends on the allocator; it
 * is measured once (arena_k) on a heap built the same way.
 */
static long arena_k = -1;

static int arena_setup(struct heap *H)
{
	long i, arenas, a;
	uint32_t cz;
	uint64_t h;

	if (std_setup(H))
		return -1;
	SETUP(cz = refcache_cache_create(H->fd, "fnZ", 400, 0, 0));
	arenas = arenas_of(H->fd);
	for (i = 0; arena_k < 0 || i < arena_k; i++) {
		if (arena_k < 0 && (i == 20000 || arenas < 0)) {
			snprintf(H->why, sizeof(H->why), "no new arena after %ld objects", i);
			return -1;
		}
		SETUP(refcache_new(H->fd, cz, &h));
		if (arena_k >= 0)
			continue;
		a = arenas_of(H->fd);
		if (a > arenas) {
			arena_k = i;	/* object i took the new arena */
			printf("# arena: object %ld of fnZ takes a new arena\n", i + 1);
			refcache_close(H->fd);
			return arena_setup(H);
		}
	}
	H->ce = cz;	/* what the case allocates from */
	return 0;
}

/* ---- snapshots -------------------------------------------------------- */

#define SN_OBJS 32
struct osnap {
	uint64_t tag;
	int err;
	struct refcache_obj_info info;
	uint64_t slot[4];	/* tags of what the slots hold, 0: empty */
	unsigned char payload[PB];
};

/*
 * /proc/refcache/users without its bytes column, which follows the heap's
 * bytes (capacity, see below); uid, heaps and the budget are compared.
 */
static void users_without_bytes(char *buf)
{
	char out[1024] = "", line[256], *p = buf, *nl;
	unsigned long long heaps, max;
	unsigned int uid;
	long long bytes;

	while (*p) {
		nl = strchr(p, '\n');
		snprintf(line, sizeof(line), "%.*s", nl ? (int)(nl - p) : (int)strlen(p), p);
		if (line[0] != '#' &&
		    sscanf(line, "%u %llu %lld %llu", &uid, &heaps, &bytes, &max) == 4)
			snprintf(line, sizeof(line), "%u %llu - %llu", uid, heaps, max);
		strncat(out, line, sizeof(out) - strlen(out) - 2);
		strcat(out, "\n");
		p = nl ? nl + 1 : p + strlen(p);
	}
	strcpy(buf, out);
}

struct snap {
	struct refcache_heap_info hi;
	long heaps_open;
	char caches[2048];	/* this heap's lines of /proc/refcache/caches */
	char users[1024];	/* /proc/refcache/users, if there is one */
	int nheld;
	struct { int err; uint64_t tag; } held[MAXHELD];
	int nobj;
	struct osnap o[SN_OBJS];
	int err;
	/* The collector's state (ABI 1.2): settings, counts, statistics. */
	struct refcache_gc_info gi;
	struct refcache_gc_stats gs;
};


static void read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	size_t len = 0;
	ssize_t n;

	buf[0] = 0;
	if (fd < 0)
		return;
	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	buf[len] = 0;
	close(fd);
}

/*
 * A line of /proc/refcache/caches without its "total" column: objects
 * ever allocated, a statistic that counts an object made and freed again
 * by a call that failed.  Everything else (name, sizes, flags, active,
 * bytes) is state.
 */
static const char *no_total(const char *line)
{
	static char out[1024];
	char f[9][64];
	int n = sscanf(line, "%63s %63s %63s %63s %63s %63s %63s %63s %63s",
		       f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]);

	if (n == 9)	/* heap pid name payload slots flags active total bytes */
		snprintf(out, sizeof(out), "%s %s %s %s %s %s %s - %s", f[0], f[1], f[2],
			 f[3], f[4], f[5], f[6], f[8]);
	else if (n == 7)	/* the same without heap and pid */
		snprintf(out, sizeof(out), "%s %s %s %s %s - %s", f[0], f[1], f[2], f[3],
			 f[4], f[6]);
	else
		snprintf(out, sizeof(out), "%s", line);
	return out;
}

/* Lines of /proc/refcache/caches whose heap column is @id (0: all lines). */
static void caches_of(uint64_t id, char *out, size_t size, int strip)
{
	static char all[65536];
	char *line, *save;
	size_t len = 0;

	read_file("/proc/refcache/caches", all, sizeof(all));
	out[0] = 0;
	for (line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *rest = line;
		unsigned long long hid;
		int skip = 0;

		if (line[0] == '#')
			continue;
		if (id && (sscanf(line, "%llu %*d %n", &hid, &skip) < 1 || hid != id))
			continue;
		if (strip)
			rest += skip;	/* drop heap id and pid: compared across heaps */
		len += snprintf(out + len, len < size ? size - len : 0, "%s\n",
				no_total(rest));
	}
}

static int tag_of(int fd, uint64_t h, uint64_t *tag)
{
	*tag = 0;
	return refcache_read(fd, h, 0, tag, 8);
}

/*
 * What the heap holds, as far as the test can see it; closes what it
 * opens.  @strip: for comparing two heaps.  @light: only what needs no
 * new handle (a heap whose handle table or arena is exactly full).
 */
static void snapshot(struct heap *H, struct snap *S, int strip, int light)
{
	uint64_t tmp[SN_OBJS * 4 + MAXHELD], qh[SN_OBJS];
	int ntmp = 0, nq = 0, qi, i, s;

	memset(S, 0, sizeof(*S));
	S->err = refcache_heap_info(H->fd, &S->hi);
	caches_of(S->err ? 0 : S->hi.heap_id, S->caches, sizeof(S->caches), strip);
	if (strip)
		S->hi.heap_id = 0;
	S->heaps_open = stat_value("heaps_open");
	read_file("/proc/refcache/users", S->users, sizeof(S->users));
	users_without_bytes(S->users);
	if (have_gc) {
		int g;

		S->gi.size = sizeof(S->gi);
		S->gs.size = sizeof(S->gs);
		if (ioctl(H->fd, REFCACHE_IOC_GC_GET, &S->gi) ||
		    ioctl(H->fd, REFCACHE_IOC_GC_STATS, &S->gs))
			S->err = -errno;
		for (g = 0; g < REFCACHE_GC_GENERATIONS; g++) {
			/* Times are not state. */
			S->gs.gen[g].pause_total_ns = 0;
			S->gs.gen[g].pause_max_ns = 0;
		}
	}
	S->nheld = H->nheld;
	for (i = 0; i < H->nheld; i++) {
		uint64_t h = H->held[i], t = 0;
		int r;

		if (H->weak[i] && light)
			continue;
		if (H->weak[i]) {
			r = refcache_weak_upgrade(H->fd, h, &t);
			if (!r) {
				h = tmp[ntmp++] = t;
			} else {
				S->held[i].err = r;
				continue;
			}
		}
		r = tag_of(H->fd, h, &S->held[i].tag);
		S->held[i].err = r;
		if (r)
			continue;
		for (s = 0; s < nq; s++)
			if (S->o[s].tag == S->held[i].tag)
				break;
		if (s == nq && nq < SN_OBJS) {
			S->o[nq].tag = S->held[i].tag;
			qh[nq++] = h;
		}
	}
	/* Everything reachable through slots, breadth first. */
	for (qi = 0; qi < nq; qi++) {
		int nslots;

		struct osnap *o = &S->o[qi];

		o->info.size = sizeof(o->info);
		o->err = refcache_info(H->fd, qh[qi], &o->info);
		o->info.handle = 0;
		if (o->err)
			continue;
		if (o->info.payload_size <= PB)
			o->err = refcache_read(H->fd, qh[qi], 0, o->payload,
					       o->info.payload_size);
		/* Light: no temporary handles, which could need memory. */
		nslots = light ? 0 : (int)o->info.nslots;
		for (s = 0; s < nslots && s < 4; s++) {
			uint64_t l = 0, t = 0;
			int k;

			if (refcache_load(H->fd, qh[qi], s, &l)) {
				o->slot[s] = ~0ull;
				continue;
			}
			if (!l)
				continue;
			tmp[ntmp++] = l;
			tag_of(H->fd, l, &t);
			o->slot[s] = t;
			for (k = 0; k < nq; k++)
				if (S->o[k].tag == t)
					break;
			if (k == nq && nq < SN_OBJS) {
				S->o[nq].tag = t;
				qh[nq++] = l;
			}
		}
	}
	S->nobj = nq;
	for (i = 0; i < ntmp; i++)
		refcache_handle_close(H->fd, tmp[i]);
}

/*
 * What a failed call may keep (Documentation/limits.rst: bytes is
 * capacity): a 256 KiB arena with its descriptor (under 1 KiB), a handle
 * table that doubled (16-byte entries, from 64: a power of two of at least
 * 1 KiB more), or both; and only a call that makes objects or handles
 * (grow_ok).  Nothing else: not a cache's, not an owner table's bytes.
 */
static int grow_ok;

static int table_growth(uint64_t d)
{
	return d >= 1024 && !(d & (d - 1));
}

static int capacity_kept(uint64_t d)
{
	if (!d)
		return 1;
	if (!grow_ok)
		return 0;
	if (table_growth(d))
		return 1;
	if (d < 256 * 1024)
		return 0;
	d -= 256 * 1024;	/* an arena: what is left is its descriptor ... */
	d &= ~(uint64_t)1023;	/* ... and maybe a table doubling */
	return !d || table_growth(d);
}

/* Describe the first difference of two snapshots in @why; 0 if equal. */
static int snap_diff(const struct snap *a, const struct snap *b, char *why, size_t size)
{
	int i;

#define D(cond, ...) do { if (cond) { snprintf(why, size, __VA_ARGS__); return 1; } } while (0)
	D(a->err || b->err, "heap_info failed: %d %d", a->err, b->err);
	D(a->hi.objects != b->hi.objects, "objects %llu -> %llu",
	  (unsigned long long)a->hi.objects, (unsigned long long)b->hi.objects);
	D(a->hi.handles != b->hi.handles, "handles %llu -> %llu",
	  (unsigned long long)a->hi.handles, (unsigned long long)b->hi.handles);
	D(a->hi.caches != b->hi.caches, "caches %llu -> %llu",
	  (unsigned long long)a->hi.caches, (unsigned long long)b->hi.caches);
	/*
	 * bytes is capacity, not content (Documentation/limits.rst): a failed
	 * call may keep the arena or the bigger handle table it took for the
	 * attempt, never less than before and never more than that.
	 */
	D(b->hi.bytes < a->hi.bytes || !capacity_kept(b->hi.bytes - a->hi.bytes),
	  "bytes %llu -> %llu", (unsigned long long)a->hi.bytes,
	  (unsigned long long)b->hi.bytes);
	D(a->hi.max_objects != b->hi.max_objects || a->hi.max_bytes != b->hi.max_bytes,
	  "limits changed");
	D(a->heaps_open != b->heaps_open, "heaps_open %ld -> %ld", a->heaps_open, b->heaps_open);
	D(a->gi.enabled != b->gi.enabled || memcmp(a->gi.threshold, b->gi.threshold,
						  sizeof(a->gi.threshold)),
	  "collector settings changed");
	D(memcmp(a->gi.count, b->gi.count, sizeof(a->gi.count)),
	  "collector counts %llu %llu %llu -> %llu %llu %llu",
	  (unsigned long long)a->gi.count[0], (unsigned long long)a->gi.count[1],
	  (unsigned long long)a->gi.count[2], (unsigned long long)b->gi.count[0],
	  (unsigned long long)b->gi.count[1], (unsigned long long)b->gi.count[2]);
	D(a->gi.freeze_count != b->gi.freeze_count, "freeze_count %llu -> %llu",
	  (unsigned long long)a->gi.freeze_count, (unsigned long long)b->gi.freeze_count);
	D(memcmp(&a->gs, &b->gs, sizeof(a->gs)), "collector statistics changed"
	  " (collections %llu %llu %llu -> %llu %llu %llu)",
	  (unsigned long long)a->gs.gen[0].collections,
	  (unsigned long long)a->gs.gen[1].collections,
	  (unsigned long long)a->gs.gen[2].collections,
	  (unsigned long long)b->gs.gen[0].collections,
	  (unsigned long long)b->gs.gen[1].collections,
	  (unsigned long long)b->gs.gen[2].collections);
	D(strcmp(a->caches, b->caches), "/proc/refcache/caches: [%.200s] -> [%.200s]",
	  a->caches, b->caches);
	D(strcmp(a->users, b->users), "/proc/refcache/users: [%.200s] -> [%.200s]", a->users,
	  b->users);
	for (i = 0; i < a->nheld; i++)
		D(a->held[i].err != b->held[i].err || a->held[i].tag != b->held[i].tag,
		  "held handle %d: %d/%#" PRIx64 " -> %d/%#" PRIx64, i, a->held[i].err,
		  a->held[i].tag, b->held[i].err, b->held[i].tag);
	D(a->nobj != b->nobj, "reachable objects %d -> %d", a->nobj, b->nobj);
	for (i = 0; i < a->nobj; i++) {
		const struct osnap *x = &a->o[i], *y = &b->o[i];

		D(x->tag != y->tag, "object %d: tag %#" PRIx64 " -> %#" PRIx64, i, x->tag, y->tag);
		D(x->err != y->err, "object %#" PRIx64 ": %d -> %d", x->tag, x->err, y->err);
		D(x->info.refcount != y->info.refcount, "object %#" PRIx64 ": refcount %llu -> %llu",
		  x->tag, (unsigned long long)x->info.refcount,
		  (unsigned long long)y->info.refcount);
		D(memcmp(&x->info, &y->info, sizeof(x->info)), "object %#" PRIx64 ": info", x->tag);
		D(memcmp(x->slot, y->slot, sizeof(x->slot)), "object %#" PRIx64
		  ": slots %#" PRIx64 " %#" PRIx64 " %#" PRIx64 " -> %#" PRIx64 " %#" PRIx64
		  " %#" PRIx64, x->tag, x->slot[0], x->slot[1], x->slot[2],
		  y->slot[0], y->slot[1], y->slot[2]);
		if (memcmp(x->payload, y->payload, sizeof(x->payload))) {
			unsigned int k = 0;

			while (x->payload[k] == y->payload[k])
				k++;
			D(1, "object %#" PRIx64 ": payload byte %u %#x -> %#x", x->tag, k,
			  x->payload[k], y->payload[k]);
		}
	}
#undef D
	return 0;
}

/* ---- the cases -------------------------------------------------------- */

enum kind { K_IOCTL, K_BATCH, K_OPEN, K_CLOSE };

struct fcase {
	const char *name;
	enum kind kind;
	unsigned long cmd;
	int (*setup)(struct heap *H);		/* NULL: std_setup */
	void (*prep)(struct heap *H, void *arg);
	int expect;				/* without injection: 0 or -errno */
	int light;				/* snapshots without new handles */
	int ran_on_efault;			/* EFAULT may come after the work */
	int gc;					/* needs the collector (ABI 1.2) */
	int collects;				/* may collect before failing */
};

#define NOPS_MAX 128
static unsigned char argbuf[4096] __attribute__((aligned(4096)));
static struct refcache_op ops[NOPS_MAX], ops_saved[NOPS_MAX];
static unsigned char iobuf[PB];

#define OP_ERR_UNSET	0x5a5a5a5a
#define OP_RES_UNSET	0xa5a5a5a5a5a5a5a5ull

static void *arg_zero(size_t size)
{
	memset(argbuf, 0, sizeof(argbuf));
	*(uint32_t *)argbuf = size;
	return argbuf;
}

static void p_version(struct heap *H, void *a)
{
	(void)H;
	(void)a;
	arg_zero(sizeof(struct refcache_version));
}

static void p_cache_create(struct heap *H, void *a)
{
	struct refcache_cache_create *cc = arg_zero(sizeof(*cc));

	(void)H;
	(void)a;
	cc->payload_size = 24;
	cc->nslots = 2;
	cc->flags = REFCACHE_CACHE_TRACKED;
	strcpy(cc->name, "fnC");
}

/* The heap's first biased cache, whose creation makes the owner table. */
static void p_cache_create_biased(struct heap *H, void *a)
{
	struct refcache_cache_create *cc;

	p_cache_create(H, a);
	cc = (struct refcache_cache_create *)argbuf;
	cc->flags |= REFCACHE_CACHE_BIASED;
	strcpy(cc->name, "fnB");
}

static void p_cache_destroy(struct heap *H, void *a)
{
	struct refcache_cache_destroy *cd = arg_zero(sizeof(*cd));

	(void)a;
	cd->cache_id = H->ce;
}

static struct refcache_handle_op *hop(uint64_t h, uint32_t slot, uint64_t value)
{
	struct refcache_handle_op *op = arg_zero(sizeof(*op));

	op->handle = h;
	op->slot = slot;
	op->value = value;
	return op;
}

static void p_new_small(struct heap *H, void *a) { (void)a; hop(H->ca, 0, 0); }
static void p_new_large(struct heap *H, void *a) { (void)a; hop(H->cb, 0, 0); }
static void p_new_empty(struct heap *H, void *a) { (void)a; hop(H->ce, 0, 0); }
static void p_dup(struct heap *H, void *a) { (void)a; hop(H->ha, 0, 0); }
static void p_close_kept(struct heap *H, void *a) { (void)a; hop(H->hb, 0, 0); }
static void p_close_frees(struct heap *H, void *a) { (void)a; hop(H->hf, 0, 0); }
static void p_close_weak(struct heap *H, void *a) { (void)a; hop(H->hw, 0, 0); }
static void p_load(struct heap *H, void *a) { (void)a; hop(H->ha, 0, 0); }
static void p_load_empty(struct heap *H, void *a) { (void)a; hop(H->ha, 2, 0); }
static void p_store(struct heap *H, void *a) { (void)a; hop(H->ha, 2, H->hl); }
static void p_store_over(struct heap *H, void *a) { (void)a; hop(H->ha, 0, H->hf); }
static void p_store_frees(struct heap *H, void *a) { (void)a; hop(H->hf, 0, 0); }
static void p_weak_new(struct heap *H, void *a) { (void)a; hop(H->ha, 0, 0); }
static void p_upgrade(struct heap *H, void *a) { (void)a; hop(H->hw, 0, 0); }
static void p_upgrade_dead(struct heap *H, void *a) { (void)a; hop(H->hdw, 0, 0); }

static void payload_io(uint64_t h, uint32_t off, uint32_t len, int fill)
{
	struct refcache_payload_io *io = arg_zero(sizeof(*io));

	io->handle = h;
	io->offset = off;
	io->len = len;
	io->buf = (uintptr_t)iobuf;
	memset(iobuf, fill, sizeof(iobuf));
}

static void p_read(struct heap *H, void *a) { (void)a; payload_io(H->ha, 0, PA, 0); }
static void p_read_large(struct heap *H, void *a) { (void)a; payload_io(H->hl, 0, PB, 0); }
static void p_write(struct heap *H, void *a) { (void)a; payload_io(H->ha, 8, 48, 0xab); }
static void p_write_large(struct heap *H, void *a) { (void)a; payload_io(H->hl, 0, PB, 0xcd); }

static void p_info(struct heap *H, void *a)
{
	struct refcache_obj_info *info = arg_zero(sizeof(*info));

	(void)a;
	info->handle = H->ha;
}

static void p_heap_info(struct heap *H, void *a)
{
	(void)H;
	(void)a;
	arg_zero(sizeof(struct refcache_heap_info));
}

static void p_set_limits(struct heap *H, void *a)
{
	struct refcache_heap_limits *lim = arg_zero(sizeof(*lim));
	struct refcache_heap_info hi;

	(void)a;
	refcache_heap_info(H->fd, &hi);
	lim->max_objects = hi.objects + 100;
}

static void gc_collect(uint32_t gen)
{
	struct refcache_gc_collect *gc = arg_zero(sizeof(*gc));

	gc->generation = gen;
}

static void p_gc_collect2(struct heap *H, void *a) { (void)H; (void)a; gc_collect(2); }
static void p_gc_collect0(struct heap *H, void *a) { (void)H; (void)a; gc_collect(0); }
static void p_gc_get(struct heap *H, void *a)
{
	(void)H;
	(void)a;
	arg_zero(sizeof(struct refcache_gc_info));
}

static void p_gc_set(struct heap *H, void *a)
{
	struct refcache_gc_set *gs = arg_zero(sizeof(*gs));

	(void)H;
	(void)a;
	gs->flags = REFCACHE_GC_SET_ENABLED | REFCACHE_GC_SET_THRESHOLD;
	gs->enabled = 0;
	gs->threshold[0] = 700;
	gs->threshold[1] = 7;
	gs->threshold[2] = 5;
}

static void gc_freeze(uint32_t flags)
{
	struct refcache_gc_freeze *gf = arg_zero(sizeof(*gf));

	gf->flags = flags;
}

static void p_gc_freeze(struct heap *H, void *a) { (void)H; (void)a; gc_freeze(0); }
static void p_gc_unfreeze(struct heap *H, void *a)
{
	(void)H;
	(void)a;
	gc_freeze(REFCACHE_GC_UNFREEZE);
}

static void p_gc_stats(struct heap *H, void *a)
{
	(void)H;
	(void)a;
	arg_zero(sizeof(struct refcache_gc_stats));
}

static void p_gc_is_tracked(struct heap *H, void *a) { (void)a; hop(H->ha, 0, 0); }

/* Looking inside a heap (ABI 1.4): each makes handles or a snapshot. */
static uint64_t ghandles[64];
static struct refcache_dump_record dumprecs[64];

static void gc_objs(uint32_t which, uint64_t handle, uint32_t flags, uint32_t count)
{
	struct refcache_gc_objects *g = arg_zero(sizeof(*g));

	g->flags = flags;
	g->which = which;
	g->handle = handle;
	g->count = count;
	g->handles = count ? (uintptr_t)ghandles : 0;
}

static void p_gc_get_objects(struct heap *H, void *a)
{
	(void)H;
	(void)a;
	gc_objs(REFCACHE_OBJECTS_MASK, 0, 0, 64);
}

static void p_gc_referents(struct heap *H, void *a) { (void)a; gc_objs(0, H->ha, 0, 64); }
static void p_gc_referrers(struct heap *H, void *a) { (void)a; gc_objs(0, H->hb, 0, 64); }

static void p_gc_debug(struct heap *H, void *a)
{
	struct refcache_gc_debug *d = arg_zero(sizeof(*d));

	(void)H;
	(void)a;
	d->flags = REFCACHE_GC_DEBUG_SET;
	d->debug = REFCACHE_GC_DEBUG_SAVEALL;
}

static void p_heap_dump(struct heap *H, void *a)
{
	struct refcache_heap_dump *d = arg_zero(sizeof(*d));

	(void)H;
	(void)a;
	d->flags = REFCACHE_DUMP_START;
	d->count = 64;
	d->records = (uintptr_t)dumprecs;
}

/* Batches: entries are set up by an op list; each entry runs alone too. */
struct bop { int code; int which; uint32_t arg; int value; };
enum { W_NONE, W_A, W_B, W_L, W_F, W_W, W_CA, W_CB };

static uint64_t which(struct heap *H, int w)
{
	switch (w) {
	case W_A: return H->ha;
	case W_B: return H->hb;
	case W_L: return H->hl;
	case W_F: return H->hf;
	case W_W: return H->hw;
	case W_CA: return H->ca;
	case W_CB: return H->cb;
	}
	return 0;
}

/* Independent operations that all succeed on the standard heap, in any subset. */
static const struct bop mixed[] = {
	{ REFCACHE_OP_NEW, W_NONE, W_CA, 0 },
	{ REFCACHE_OP_DUP, W_A, 0, 0 },
	{ REFCACHE_OP_WEAK_NEW, W_B, 0, 0 },
	{ REFCACHE_OP_SLOT_LOAD, W_A, 0, 0 },
	{ REFCACHE_OP_SLOT_STORE, W_A, 2, W_L },
	{ REFCACHE_OP_REFCOUNT, W_L, 0, 0 },
	{ REFCACHE_OP_NEW, W_NONE, W_CB, 0 },
	{ REFCACHE_OP_WEAK_UPGRADE, W_W, 0, 0 },
	{ REFCACHE_OP_CLOSE, W_F, 0, 0 },
};
#define NMIXED (int)(sizeof(mixed) / sizeof(mixed[0]))

static int batch_n;		/* entries of the current batch */
static uint32_t batch_flags;
static int batch_one = -1;	/* >= 0: a batch of just mixed[batch_one] */
static int batch_news;		/* > 0: a batch of that many NEWs in "fnA" */

static void op_fill(struct heap *H, struct refcache_op *o, const struct bop *b)
{
	memset(o, 0, sizeof(*o));
	o->op = b->code;
	if (b->code == REFCACHE_OP_NEW)
		o->arg = which(H, b->arg);
	else
		o->arg = b->arg;
	o->handle = which(H, b->which);
	o->value = which(H, b->value);
	o->result = OP_RES_UNSET;
	o->error = OP_ERR_UNSET;
}

static void p_batch(struct heap *H, void *a)
{
	struct refcache_batch *b = arg_zero(sizeof(*b));
	int i;

	(void)a;
	if (batch_one >= 0) {
		batch_n = 1;
		op_fill(H, &ops[0], &mixed[batch_one]);
	} else if (batch_news) {
		const struct bop nw = { REFCACHE_OP_NEW, W_NONE, W_CA, 0 };

		batch_n = batch_news;
		for (i = 0; i < batch_n; i++)
			op_fill(H, &ops[i], &nw);
	} else {
		batch_n = NMIXED;
		for (i = 0; i < batch_n; i++)
			op_fill(H, &ops[i], &mixed[i]);
	}
	b->flags = batch_flags;
	b->count = batch_n;
	b->ops = (uintptr_t)ops;
	memcpy(ops_saved, ops, sizeof(ops));
}

/* ---- running a case --------------------------------------------------- */

static int allowed(int err)
{
	return err == -ENOMEM || err == -EDQUOT || err == -EFAULT;
}

struct result {
	long calls, injected, failed, mismatches;
	int bad;
};

#define BAD(R, ...) do {						\
	if ((R)->mismatches++ < MAXFAILS) {				\
		printf("# %s: ", cur_case);				\
		printf(__VA_ARGS__);					\
		printf("\n");						\
	}								\
	(R)->bad = 1;							\
} while (0)

static struct snap before, after, ref_before, ref_after;

static int do_setup(const struct fcase *c, struct heap *H)
{
	int r = (c->setup ? c->setup : std_setup)(H);

	if (r && H->fd > 0)
		refcache_close(H->fd);
	return r;
}

/*
 * A batch that stopped or failed in the middle: the heap must be what a
 * fresh heap is after only the entries that succeeded.
 */
static int batch_reference(const struct fcase *c, struct result *R, unsigned int n,
			   const int *ok)
{
	struct refcache_batch *b = (void *)argbuf;
	struct heap ref;
	char why[512];
	int i, k = 0, r;

	if (do_setup(c, &ref)) {
		BAD(R, "N=%u: reference heap: %s", n, ref.why);
		return -1;
	}
	snapshot(&ref, &ref_before, 1, c->light);
	c->prep(&ref, argbuf);
	for (i = 0; i < batch_n; i++)
		if (ok[i])
			ops[k++] = ops[i];
	if (k) {
		b->count = k;
		b->flags = REFCACHE_BATCH_CONTINUE;
		r = ioctl(ref.fd, REFCACHE_IOC_BATCH, b) < 0 ? -errno : 0;
		for (i = 0; i < k && !r; i++)
			if (ops[i].error)
				r = ops[i].error;
		if (r) {
			BAD(R, "N=%u: reference batch of %d: %d", n, k, r);
			refcache_close(ref.fd);
			return -1;
		}
	}
	snapshot(&ref, &ref_after, 1, c->light);
	refcache_close(ref.fd);
	if (snap_diff(&ref_after, &after, why, sizeof(why))) {
		BAD(R, "N=%u: %d of %d entries succeeded, heap differs from a heap that ran"
		    " only those: %s", n, k, batch_n, why);
		return -1;
	}
	return 0;
}

/* One injection of an ioctl case; returns 1 when the call ran uninjected. */
/*
 * A call documented to fail with EFAULT after its work was done (its
 * result could not be written back): the heap must be what a fresh heap
 * is after the same call succeeded.  0 if so; else @why says how not.
 */
static int call_reference(const struct fcase *c, struct result *R, unsigned int n, char *why)
{
	struct heap ref;
	int r;

	if (do_setup(c, &ref)) {
		BAD(R, "N=%u: reference heap: %s", n, ref.why);
		return 0;
	}
	snapshot(&ref, &ref_before, 1, c->light);
	c->prep(&ref, argbuf);
	r = ioctl(ref.fd, c->cmd, argbuf) < 0 ? -errno : 0;
	snapshot(&ref, &ref_after, 1, c->light);
	refcache_close(ref.fd);
	if (r) {
		BAD(R, "N=%u: reference call: %d", n, r);
		return 0;
	}
	return snap_diff(&ref_after, &after, why, 512);
}

/*
 * A call that may collect its heap before it fails (collects): the heap
 * must be as it was, or what a fresh heap is after a full collection.
 * 0 if so; else @why says how not.
 */
static int collect_reference(const struct fcase *c, struct result *R, unsigned int n, char *why)
{
	struct refcache_gc_collect gc = { .size = sizeof(gc), .generation = 2 };
	struct heap ref;
	int r;

	if (do_setup(c, &ref)) {
		BAD(R, "N=%u: reference heap: %s", n, ref.why);
		return 0;
	}
	r = ioctl(ref.fd, REFCACHE_IOC_GC_COLLECT, &gc) < 0 ? -errno : 0;
	snapshot(&ref, &ref_after, 1, c->light);
	refcache_close(ref.fd);
	if (r) {
		BAD(R, "N=%u: reference collection: %d", n, r);
		return 0;
	}
	return snap_diff(&ref_after, &after, why, 512);
}

static int one_ioctl(const struct fcase *c, struct result *R, unsigned int n)
{
	struct heap H;
	char why[512];
	int r, fired, i, ran = 0, failed, okv[NOPS_MAX], any_ok = 0;
	int strip = c->kind == K_BATCH || c->ran_on_efault || c->collects;

	if (do_setup(c, &H)) {
		BAD(R, "N=%u: %s", n, H.why);
		return -1;
	}
	snapshot(&H, &before, strip, c->light);
	c->prep(&H, argbuf);
	kmsg_drain();
	call_sites = 0;
	if (nth_arm(n)) {
		BAD(R, "cannot write fail-nth");
		refcache_close(H.fd);
		return -1;
	}
	r = ioctl(H.fd, c->cmd, argbuf) < 0 ? -errno : 0;
	fired = nth_fired();
	kmsg_drain();
	R->calls++;
	if (fired) {
		R->injected++;
		injections++;
		if (!call_sites)
			silent++;
	}

	failed = r != c->expect;
	if (c->kind == K_BATCH) {
		struct refcache_batch *b = (void *)argbuf;

		/* Entries that ran form a prefix; the rest are untouched. */
		while (ran < batch_n && ops[ran].error != (int32_t)OP_ERR_UNSET)
			ran++;
		for (i = ran; i < batch_n; i++)
			if (memcmp(&ops[i], &ops_saved[i], sizeof(ops[i]))) {
				BAD(R, "N=%u: entry %d did not run (done %u of %d) but changed",
				    n, i, b->done, batch_n);
				break;
			}
		if (r == 0 && b->done != (uint32_t)ran)
			BAD(R, "N=%u: done %u, but %d entries have results", n, b->done, ran);
		for (i = 0; i < ran; i++) {
			okv[i] = ops[i].error == 0;
			any_ok |= okv[i];
			if (ops[i].error && !(ops[i].error == -ENOMEM || ops[i].error == -EDQUOT))
				BAD(R, "N=%u: entry %d: error %d", n, i, ops[i].error);
			if (ops[i].error && i + 1 < ran && !(batch_flags & REFCACHE_BATCH_CONTINUE))
				BAD(R, "N=%u: entry %d failed but the batch went on", n, i);
			if (ops[i].error)
				failed = 1;
		}
		for (; i < batch_n; i++)
			okv[i] = 0;
		if (ran < batch_n && r == 0 && !failed)
			BAD(R, "N=%u: batch stopped at %d of %d without a failure", n, ran, batch_n);
	}

	if (!failed) {
		refcache_close(H.fd);
		return fired ? 0 : 1;
	}
	if (!fired) {
		BAD(R, "N=%u: result %d (%s) without an injected fault, want %d", n, r,
		    strerror(-r), c->expect);
		refcache_close(H.fd);
		return 1;
	}
	R->failed++;
	if (r && !allowed(r))
		BAD(R, "N=%u: undocumented error %d (%s)", n, r, strerror(-r));
	snapshot(&H, &after, strip, c->light);
	refcache_close(H.fd);
	/* Calls that make objects or handles may keep what they grew for them. */
	grow_ok = c->kind == K_BATCH || c->cmd == REFCACHE_IOC_OBJ_NEW ||
		  c->cmd == REFCACHE_IOC_DUP || c->cmd == REFCACHE_IOC_SLOT_LOAD ||
		  c->cmd == REFCACHE_IOC_WEAK_NEW || c->cmd == REFCACHE_IOC_WEAK_UPGRADE;
	if (c->kind == K_BATCH && any_ok)
		batch_reference(c, R, n, okv);
	else if (snap_diff(&before, &after, why, sizeof(why)) &&
		 !(r == -EFAULT && c->ran_on_efault && !call_reference(c, R, n, why)) &&
		 !(c->collects && !collect_reference(c, R, n, why)))
		BAD(R, "N=%u: failed with %d (%s) but changed the heap: %s", n, r,
		    strerror(-r), why);
	return 0;
}

static void global_state(char *caches, size_t csize, char *users, size_t usize, long *open)
{
	caches_of(0, caches, csize, 0);
	read_file("/proc/refcache/users", users, usize);
	*open = stat_value("heaps_open");
}

static int one_open(struct result *R, unsigned int n)
{
	static char c0[4096], c1[4096], u0[1024], u1[1024];
	long o0, o1;
	int fd, fired, err;

	global_state(c0, sizeof(c0), u0, sizeof(u0), &o0);
	kmsg_drain();
	call_sites = 0;
	if (nth_arm(n))
		return -1;
	fd = open(REFCACHE_DEVICE, O_RDWR | O_CLOEXEC);
	err = fd < 0 ? -errno : 0;
	fired = nth_fired();
	kmsg_drain();
	R->calls++;
	if (fired) {
		R->injected++;
		injections++;
		if (!call_sites)
			silent++;
	}
	if (fd >= 0) {
		struct refcache_heap_info hi;
		int cache;
		uint64_t h;

		/* Whatever failed inside was recovered from: the heap works. */
		if (refcache_heap_info(fd, &hi) || hi.objects || hi.handles || hi.caches)
			BAD(R, "N=%u: opened heap is not empty", n);
		cache = refcache_cache_create(fd, "fnO", 8, 1, 0);
		if (cache <= 0 || refcache_new(fd, cache, &h))
			BAD(R, "N=%u: opened heap does not work: %d", n, cache);
		close(fd);
		return fired ? 0 : 1;
	}
	if (!fired) {
		BAD(R, "N=%u: open fails without an injected fault: %d", n, err);
		return 1;
	}
	R->failed++;
	if (!allowed(err))
		BAD(R, "N=%u: open: undocumented error %d (%s)", n, err, strerror(-err));
	global_state(c1, sizeof(c1), u1, sizeof(u1), &o1);
	if (o0 != o1)
		BAD(R, "N=%u: failed open: heaps_open %ld -> %ld", n, o0, o1);
	if (strcmp(c0, c1) || strcmp(u0, u1))
		BAD(R, "N=%u: failed open changed /proc/refcache", n);
	return 0;
}

/* The last close of a heap with objects, cycles and weak handles. */
static int one_close(const struct fcase *c, struct result *R, unsigned int n)
{
	static char c0[4096], c1[4096], u0[1024], u1[1024];
	struct heap H;
	long o0, o1;
	int r, fired;

	global_state(c0, sizeof(c0), u0, sizeof(u0), &o0);
	if (do_setup(c, &H)) {
		BAD(R, "N=%u: %s", n, H.why);
		return -1;
	}
	kmsg_drain();
	call_sites = 0;
	if (nth_arm(n)) {
		refcache_close(H.fd);
		return -1;
	}
	r = close(H.fd) < 0 ? -errno : 0;
	fired = nth_fired();
	kmsg_drain();
	R->calls++;
	if (fired) {
		R->injected++;
		injections++;
		if (!call_sites)
			silent++;
	}
	if (r)
		BAD(R, "N=%u: close: %d (%s)", n, r, strerror(-r));
	global_state(c1, sizeof(c1), u1, sizeof(u1), &o1);
	if (o0 != o1)
		BAD(R, "N=%u: after close: heaps_open %ld, was %ld before the heap", n, o1, o0);
	if (strcmp(c0, c1))
		BAD(R, "N=%u: after close, /proc/refcache/caches still lists the heap", n);
	if (strcmp(u0, u1))
		BAD(R, "N=%u: after close, /proc/refcache/users: [%s] -> [%s]", n, u0, u1);
	return fired ? 0 : 1;
}

/* A line in the kernel log: a crash report then names the case. */
static void kmsg_note(const char *what)
{
	char line[160];
	int fd = open("/dev/kmsg", O_WRONLY);

	if (fd < 0)
		return;
	snprintf(line, sizeof(line), "<5>%s: case %s\n", program_invocation_short_name, what);
	if (write(fd, line, strlen(line)) < 0)
		line[0] = 0;
	close(fd);
}

static void run_case(const struct fcase *c)
{
	struct result R = { 0 };
	unsigned int n;
	double t0 = now();
	int done = 0;

	cur_case = c->name;
	kmsg_note(c->name);
	kmsg_drain();
	splat[0] = 0;
	for (n = 1; n <= MAXN && !done && R.mismatches < 20; n++) {
		int r;

		switch (c->kind) {
		case K_OPEN:
			r = one_open(&R, n);
			break;
		case K_CLOSE:
			r = one_close(c, &R, n);
			break;
		default:
			r = one_ioctl(c, &R, n);
			break;
		}
		if (r < 0) {
			R.bad = 1;
			break;
		}
		done = r;
	}
	if (!done && !R.bad) {
		BAD(&R, "still injecting after N=%u", MAXN);
	}
	if (splat[0]) {
		printf("# %s: kernel said: %s\n", c->name, splat);
		R.bad = 1;
	}
	printf("# %s: %ld calls, %ld injected, %ld failed (%.1f s)\n", c->name, R.calls,
	       R.injected, R.failed, now() - t0);
	tap_result(R.bad, c->name);
}

/* Set per case before it runs. */
static void set_batch(int one, int news, uint32_t flags)
{
	batch_one = one;
	batch_news = news;
	batch_flags = flags;
}

#define IOC(name, cmd, prep) { name, K_IOCTL, cmd, NULL, prep, 0, 0, 0, 0, 0 }
#define BATCH(name, setup, light) { name, K_BATCH, REFCACHE_IOC_BATCH, setup, p_batch, 0, light, 0, 0, 0 }
#define GC(name, cmd, setup, prep, ran) { name, K_IOCTL, cmd, setup, prep, 0, 0, ran, 1, 0 }
static const struct fcase cases[] = {
	IOC("version", REFCACHE_IOC_VERSION, p_version),
	IOC("cache_create", REFCACHE_IOC_CACHE_CREATE, p_cache_create),
	IOC("cache_create_biased", REFCACHE_IOC_CACHE_CREATE, p_cache_create_biased),
	IOC("cache_destroy", REFCACHE_IOC_CACHE_DESTROY, p_cache_destroy),
	IOC("obj_new", REFCACHE_IOC_OBJ_NEW, p_new_small),
	IOC("obj_new_large", REFCACHE_IOC_OBJ_NEW, p_new_large),
	IOC("obj_new_first_of_class", REFCACHE_IOC_OBJ_NEW, p_new_empty),
	{ "obj_new_new_arena", K_IOCTL, REFCACHE_IOC_OBJ_NEW, arena_setup, p_new_empty, 0, 1, 0, 0, 0 },
	{ "obj_new_collects_first", K_IOCTL, REFCACHE_IOC_OBJ_NEW, quota_setup, p_new_small,
	  0, 0, 0, 1, 1 },
	IOC("dup", REFCACHE_IOC_DUP, p_dup),
	{ "dup_grows_table", K_IOCTL, REFCACHE_IOC_DUP, full_table_setup, p_dup, 0, 1, 0, 0, 0 },
	IOC("close", REFCACHE_IOC_CLOSE, p_close_kept),
	IOC("close_frees_chain", REFCACHE_IOC_CLOSE, p_close_frees),
	IOC("close_weak", REFCACHE_IOC_CLOSE, p_close_weak),
	IOC("slot_load", REFCACHE_IOC_SLOT_LOAD, p_load),
	IOC("slot_load_empty", REFCACHE_IOC_SLOT_LOAD, p_load_empty),
	IOC("slot_store", REFCACHE_IOC_SLOT_STORE, p_store),
	IOC("slot_store_over", REFCACHE_IOC_SLOT_STORE, p_store_over),
	IOC("slot_store_frees", REFCACHE_IOC_SLOT_STORE, p_store_frees),
	IOC("read", REFCACHE_IOC_READ, p_read),
	IOC("read_large", REFCACHE_IOC_READ, p_read_large),
	IOC("write", REFCACHE_IOC_WRITE, p_write),
	IOC("write_large", REFCACHE_IOC_WRITE, p_write_large),
	IOC("info", REFCACHE_IOC_INFO, p_info),
	IOC("weak_new", REFCACHE_IOC_WEAK_NEW, p_weak_new),
	IOC("weak_upgrade", REFCACHE_IOC_WEAK_UPGRADE, p_upgrade),
	{ "weak_upgrade_dead", K_IOCTL, REFCACHE_IOC_WEAK_UPGRADE, NULL, p_upgrade_dead,
	  -ENOENT, 0, 0, 0, 0 },
	{ "weak_new_grows_table", K_IOCTL, REFCACHE_IOC_WEAK_NEW, full_table_setup, p_weak_new,
	  0, 1, 0, 0, 0 },
	IOC("heap_info", REFCACHE_IOC_HEAP_INFO, p_heap_info),
	IOC("set_limits", REFCACHE_IOC_SET_LIMITS, p_set_limits),
	/* Batches: each operation alone, then mixed and long ones. */
	BATCH("batch_new", NULL, 0),
	BATCH("batch_dup", NULL, 0),
	BATCH("batch_weak_new", NULL, 0),
	BATCH("batch_slot_load", NULL, 0),
	BATCH("batch_slot_store", NULL, 0),
	BATCH("batch_refcount", NULL, 0),
	BATCH("batch_new_large", NULL, 0),
	BATCH("batch_weak_upgrade", NULL, 0),
	BATCH("batch_close", NULL, 0),
	BATCH("batch_new_grows_table", full_table_setup, 1),
	BATCH("batch_mixed_stop", NULL, 0),
	BATCH("batch_mixed_continue", NULL, 0),
	BATCH("batch_100_new", NULL, 0),
	/*
	 * The collector (ABI 1.2).  A collection that ran stays even if its
	 * report cannot be written back (Documentation/uapi.rst).
	 */
	GC("gc_collect", REFCACHE_IOC_GC_COLLECT, NULL, p_gc_collect2, 1),
	GC("gc_collect_gen0", REFCACHE_IOC_GC_COLLECT, NULL, p_gc_collect0, 1),
	GC("gc_get", REFCACHE_IOC_GC_GET, NULL, p_gc_get, 0),
	GC("gc_set", REFCACHE_IOC_GC_SET, NULL, p_gc_set, 0),
	/* Likewise a freeze whose write-back fails after the probe. */
	GC("gc_freeze", REFCACHE_IOC_GC_FREEZE, NULL, p_gc_freeze, 1),
	GC("gc_unfreeze", REFCACHE_IOC_GC_FREEZE, frozen_setup, p_gc_unfreeze, 1),
	GC("gc_stats", REFCACHE_IOC_GC_STATS, NULL, p_gc_stats, 0),
	GC("gc_is_tracked", REFCACHE_IOC_GC_IS_TRACKED, NULL, p_gc_is_tracked, 0),
	/* Looking inside (ABI 1.4): a failed call leaves no handle open. */
	GC("gc_get_objects", REFCACHE_IOC_GC_GET_OBJECTS, NULL, p_gc_get_objects, 0),
	GC("gc_get_referents", REFCACHE_IOC_GC_GET_REFERENTS, NULL, p_gc_referents, 0),
	GC("gc_get_referrers", REFCACHE_IOC_GC_GET_REFERRERS, NULL, p_gc_referrers, 0),
	GC("gc_debug", REFCACHE_IOC_GC_DEBUG, NULL, p_gc_debug, 0),
	GC("heap_dump", REFCACHE_IOC_HEAP_DUMP, NULL, p_heap_dump, 0),
	{ "open", K_OPEN, 0, NULL, NULL, 0, 0, 0, 0, 0 },
	{ "close_heap", K_CLOSE, 0, NULL, NULL, 0, 0, 0, 0, 0 },
	{ "close_heap_full_table", K_CLOSE, 0, full_table_setup, NULL, 0, 0, 0, 0, 0 },
};
#define NCASES (int)(sizeof(cases) / sizeof(cases[0]))

/* The batch cases in the order of mixed[], then the others. */
static void batch_params(const struct fcase *c)
{
	int i;

	set_batch(-1, 0, 0);
	for (i = 0; i < NMIXED; i++) {
		static const char *const names[] = {
			"batch_new", "batch_dup", "batch_weak_new", "batch_slot_load",
			"batch_slot_store", "batch_refcount", "batch_new_large",
			"batch_weak_upgrade", "batch_close",
		};

		if (!strcmp(c->name, names[i]))
			set_batch(i, 0, 0);
	}
	if (!strcmp(c->name, "batch_new_grows_table"))
		set_batch(0, 0, 0);
	else if (!strcmp(c->name, "batch_mixed_continue"))
		set_batch(-1, 0, REFCACHE_BATCH_CONTINUE);
	else if (!strcmp(c->name, "batch_100_new"))
		set_batch(-1, 100, 0);
}

static int site_cmp(const void *a, const void *b)
{
	return strcmp(((const struct site *)a)->name, ((const struct site *)b)->name);
}

/* Fault the stack in now: no page fault may count down fail-nth later. */
static void touch_stack(void)
{
	volatile char pad[256 * 1024];

	memset((char *)pad, 0, sizeof(pad));
}

int main(void)
{
	const char *only = getenv("REFCACHE_FAILNTH_CASE");
	cpu_set_t cpus;
	int i, missing;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..%d\n", NCASES);
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (nth_fd < 0) {
		printf("# /proc/thread-self/fail-nth: %s (no CONFIG_FAULT_INJECTION)\n",
		       strerror(errno));
		for (i = 0; i < NCASES; i++)
			printf("ok %d - %s # SKIP no fail-nth in this kernel\n", i + 1,
			       cases[i].name);
		printf("# failnth: skipped, no fail-nth\n");
		return 0;
	}
	{
		struct refcache_version v;
		int fd = refcache_open();

		have_gc = fd >= 0 && !refcache_version(fd, &v) &&
			  (v.features & REFCACHE_FEATURE_GC);
		if (fd >= 0)
			refcache_close(fd);
	}
	/* Deterministic allocator state, and no page faults inside a call. */
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	touch_stack();
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		printf("# mlockall: %s\n", strerror(errno));
	missing = knobs_set();
	if (missing)
		printf("# %d fault-injection knobs missing: GFP_KERNEL allocations may not fail\n",
		       missing);
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg_fd < 0)
		printf("# /dev/kmsg: %s: sites are not counted\n", strerror(errno));
	else
		lseek(kmsg_fd, 0, SEEK_END);

	for (i = 0; i < NCASES; i++) {
		if (only && fnmatch(only, cases[i].name, 0)) {
			printf("ok %d - %s # SKIP not in REFCACHE_FAILNTH_CASE\n", i + 1,
			       cases[i].name);
			ntest++;
			continue;
		}
		if (cases[i].gc && !have_gc) {
			printf("ok %d - %s # SKIP no collector (ABI 1.2) in this module\n", i + 1,
			       cases[i].name);
			ntest++;
			continue;
		}
		batch_params(&cases[i]);
		run_case(&cases[i]);
	}
	knobs_restore();

	qsort(sites, nsites, sizeof(sites[0]), site_cmp);
	for (i = 0; i < nsites; i++)
		printf("# failnth site %-48s %-15s %5ld  first: %s\n", sites[i].name,
		       sites[i].attr, sites[i].hits, sites[i].first);
	if (kmsg_lost)
		printf("# failnth: %ld kernel log records were lost\n", kmsg_lost);
	printf("# failnth: sites=%d injections=%ld silent=%ld\n", nsites, injections, silent);
	printf("# %d passed, %d failed\n", ntest - nfail, nfail);
	return nfail > 100 ? 100 : nfail;
}
