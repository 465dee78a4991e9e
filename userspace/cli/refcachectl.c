// SPDX-License-Identifier: GPL-2.0
/* refcachectl: command-line front end to /dev/refcache and /proc/refcache. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "refcache.h"
#include "graph.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: refcachectl [-h|--help] [--version] COMMAND\n"
		"\n"
		"commands:\n"
		"  version   versions of the module, the library and the ABI; features\n"
		"  stats     module-wide counters from /proc/refcache/stats\n"
		"  caches    one line per cache of every heap, /proc/refcache/caches\n"
		"  allocator each heap's small-object allocator, /proc/refcache/allocator\n"
		"  users     bytes charged per user and the budget, /proc/refcache/users\n"
		"  top       a live view of caches, objects, bytes and the collector\n"
		"  demo      refcounts of a chain and a cycle, and the collector finding the cycle\n"
		"  gc        a new heap's cycle collector: state, collect, thresholds, freeze\n"
		"  bench     operations per second: single ioctls against batches of 64\n"
		"  graph     a heap's object graph as Graphviz DOT (or SVG through dot)\n"
		"\n"
		"refcachectl COMMAND --help describes one command; --version is\n"
		"\"refcachectl version\".\n"
		"Exit status: 0 on success, 1 on failure, 2 on a usage error.\n");
}

/*
 * Why open(2) of the device failed, in words that say what to do.
 */
static void open_failed(int err)
{
	fprintf(stderr, "refcachectl: open %s: %s\n", REFCACHE_DEVICE, strerror(err));
	if (err == ENOENT || err == ENODEV || err == ENXIO)
		fprintf(stderr, "refcachectl: the refcache module is not loaded: "
			"load it with \"modprobe refcache\" (as root)\n");
	else if (err == EACCES || err == EPERM)
		fprintf(stderr, "refcachectl: %s was made mode 0660 (module parameter mode): "
			"join its group (\"refcache\" with the shipped udev rule), or load "
			"the module with mode=0666 (Documentation/limits.rst)\n", REFCACHE_DEVICE);
	else if (err == EDQUOT)
		fprintf(stderr, "refcachectl: a new heap would exceed your user's budget, "
			"module parameter user_max_bytes (/proc/refcache/users)\n");
	else if (err == ENOMEM)
		fprintf(stderr, "refcachectl: a new heap would exceed the module's budget, "
			"module parameter max_bytes, or the kernel is out of memory\n");
}

/*
 * Say which limit an allocating call on heap @fd ran into: -EDQUOT is the
 * heap's own limit or its user's budget, -ENOMEM the module's.
 */
static void explain_limit(int fd, int err)
{
	struct refcache_heap_info hi;

	if (err == EDQUOT) {
		/* The kernel checks the heap first; an allocation is at most ~1 MiB. */
		if (refcache_heap_info(fd, &hi) == 0 &&
		    (hi.objects >= hi.max_objects || hi.bytes >= hi.max_bytes ||
		     hi.max_bytes - hi.bytes <= REFCACHE_MAX_PAYLOAD + 4096))
			fprintf(stderr, "refcachectl: the heap's own limit was hit: %llu of "
				"%llu objects, %llu of %llu bytes.  A new heap starts at "
				"module parameter user_max_bytes (max_bytes for a "
				"CAP_SYS_RESOURCE opener); REFCACHE_IOC_SET_LIMITS only "
				"lowers it\n",
				(unsigned long long)hi.objects,
				(unsigned long long)hi.max_objects,
				(unsigned long long)hi.bytes,
				(unsigned long long)hi.max_bytes);
		else
			fprintf(stderr, "refcachectl: the user's budget was hit: module "
				"parameter user_max_bytes (your total is in "
				"/proc/refcache/users)\n");
	} else if (err == ENOMEM) {
		fprintf(stderr, "refcachectl: the module's budget was hit (module "
			"parameters max_bytes and max_objects), or the kernel is out "
			"of memory\n");
	}
}

static int cmd_version(void)
{
	struct refcache_version v;
	char mod[64] = "";
	int fd, ret;
	FILE *f;

	printf("library %s\n", refcache_lib_version());
	fd = refcache_open();
	if (fd < 0) {
		open_failed(-fd);
		return 1;
	}
	ret = refcache_version(fd, &v);
	refcache_close(fd);
	if (ret < 0) {
		fprintf(stderr, "refcachectl: version: %s\n", strerror(-ret));
		return 1;
	}
	f = fopen("/sys/module/refcache/version", "r");
	if (f) {
		if (!fgets(mod, sizeof(mod), f))
			mod[0] = 0;
		mod[strcspn(mod, "\n")] = 0;
		fclose(f);
	}
	printf("module %s\n", mod[0] ? mod : "(no /sys/module/refcache/version)");
	printf("abi %u.%u (library built for %u.%u)\n", v.major, v.minor,
	       REFCACHE_ABI_MAJOR, REFCACHE_ABI_MINOR);
	printf("features 0x%llx%s%s%s%s%s\n", (unsigned long long)v.features,
	       v.features & REFCACHE_FEATURE_HEAP ? " heap" : "",
	       v.features & REFCACHE_FEATURE_OBJECTS ? " objects" : "",
	       v.features & REFCACHE_FEATURE_GC ? " gc" : "",
	       v.features & REFCACHE_FEATURE_BIASED ? " biased" : "",
	       v.features & REFCACHE_FEATURE_INSPECT ? " inspect" : "");
	return 0;
}

static int cat_proc(const char *path)
{
	char buf[4096];
	size_t n;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		int err = errno;

		perror(path);
		if (err == ENOENT)
			fprintf(stderr, "refcachectl: the refcache module is not loaded: "
				"load it with \"modprobe refcache\" (as root)\n");
		return 1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);
	return 0;
}

static int open_heap(void)
{
	int fd = refcache_open();

	if (fd < 0)
		open_failed(-fd);
	return fd;
}

/* Does the module behind @fd have the cycle collector (ABI 1.2)? */
static int has_gc(int fd)
{
	struct refcache_version v;

	return refcache_version(fd, &v) == 0 && (v.features & REFCACHE_FEATURE_GC);
}

static const char *gc_reason(uint32_t reason)
{
	switch (reason) {
	case REFCACHE_GC_REASON_AUTO:
		return "automatic";
	case REFCACHE_GC_REASON_EXPLICIT:
		return "explicit";
	case REFCACHE_GC_REASON_PRESSURE:
		return "memory pressure";
	case REFCACHE_GC_REASON_QUOTA:
		return "quota";
	default:
		return "unknown";
	}
}

/*
 * Print the collection records queued on @fd without waiting for one:
 * what gc.callbacks would see.  The number printed, or -errno.
 */
static int print_gc_events(int fd, const char *indent)
{
	struct refcache_gc_event ev[8];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int n, i, total = 0;

	while (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN)) {
		n = refcache_gc_read_events(fd, ev, sizeof(ev) / sizeof(ev[0]));
		if (n == -EAGAIN)
			break;
		if (n < 0)
			return n;
		for (i = 0; i < n; i++)
			printf("%sevent #%llu: generation %u, %s, %llu candidates, "
			       "%llu collected, %llu uncollectable, %llu ns%s\n", indent,
			       (unsigned long long)ev[i].seq, ev[i].generation,
			       gc_reason(ev[i].reason),
			       (unsigned long long)ev[i].candidates,
			       (unsigned long long)ev[i].collected,
			       (unsigned long long)ev[i].uncollectable,
			       (unsigned long long)ev[i].duration_ns,
			       ev[i].dropped ? " (earlier records dropped)" : "");
		total += n;
	}
	return total;
}

/* --- demo: the seed's sys.getrefcount story ------------------------- */

static int demo_fd;
static int demo_err;

/*
 * Note the first failed call; the demo stops at the next step rather
 * than narrate what did not happen.
 */
static void must(const char *what, int ret)
{
	if (ret < 0 && !demo_err) {
		fflush(stdout);
		fprintf(stderr, "refcachectl: demo: %s failed: %s\n", what, strerror(-ret));
		explain_limit(demo_fd, -ret);
		demo_err = 1;
	}
}

static void show_refcount(const char *name, uint64_t h)
{
	struct refcache_obj_info info;
	int ret;

	if (demo_err)
		return;
	ret = refcache_info(demo_fd, h, &info);
	if (ret < 0) {
		must("info", ret);
		return;
	}
	printf("      getrefcount(%s) = %llu\n", name, (unsigned long long)info.refcount);
}

/* 1 if the weak handle's object is alive, 0 if not (or on an error). */
static int weak_alive(uint64_t weak)
{
	uint64_t h;

	if (refcache_weak_upgrade(demo_fd, weak, &h) < 0)
		return 0;
	refcache_handle_close(demo_fd, h);
	return 1;
}

/* What calling a weakref.ref gives: the object, or None once it died. */
static void show_weak(const char *name, uint64_t weak)
{
	uint64_t h;
	int ret;

	if (demo_err)
		return;
	ret = refcache_weak_upgrade(demo_fd, weak, &h);
	if (ret == -ENOENT) {
		printf("      %s() = None: the object is gone\n", name);
		return;
	}
	if (ret < 0) {
		must("weak_upgrade", ret);
		return;
	}
	printf("      %s() = a new strong handle: the object is alive\n", name);
	must("close", refcache_handle_close(demo_fd, h));
}

static long long heap_objects(void)
{
	struct refcache_heap_info hi;
	int ret = refcache_heap_info(demo_fd, &hi);

	if (ret < 0) {
		must("heap_info", ret);
		return -1;
	}
	return (long long)hi.objects;
}

static void show_heap(void)
{
	struct refcache_heap_info hi;
	int ret;

	if (demo_err)
		return;
	ret = refcache_heap_info(demo_fd, &hi);
	if (ret < 0) {
		must("heap_info", ret);
		return;
	}
	printf("      heap: %llu objects, %llu bytes, %llu handles\n",
	       (unsigned long long)hi.objects, (unsigned long long)hi.bytes,
	       (unsigned long long)hi.handles);
}

/*
 * Each step, each line of narration and each call first checks that all
 * went well: after a failure the demo makes no more calls.
 */
#define MUST(what, call) do { if (!demo_err) must(what, call); } while (0)
#define OK_SO_FAR() do { if (demo_err) goto out; } while (0)
#define STEP(...) do { OK_SO_FAR(); printf(">>> "); printf(__VA_ARGS__); printf("\n"); } while (0)

static int cmd_demo(void)
{
	uint64_t a = 0, b = 0, c = 0, a2 = 0, x = 0, y = 0, t = 0, w = 0;
	long long before;
	int cache, ret;

	demo_fd = open_heap();
	if (demo_fd < 0)
		return 1;
	cache = refcache_cache_create(demo_fd, "demo", 16, 2, REFCACHE_CACHE_TRACKED);
	if (cache < 0) {
		MUST("cache_create", cache);
		refcache_close(demo_fd);
		return 1;
	}
	printf("A heap (this open file) with a tracked cache \"demo\": 16-byte payload, 2 slots.\n"
	       "Each handle owns one reference, each filled slot one more.\n\n");

	STEP("a = new(); b = new(); c = new()");
	MUST("new a", refcache_new(demo_fd, cache, &a));
	MUST("new b", refcache_new(demo_fd, cache, &b));
	MUST("new c", refcache_new(demo_fd, cache, &c));
	MUST("write", refcache_write(demo_fd, a, 0, "a", 2));
	MUST("write", refcache_write(demo_fd, b, 0, "b", 2));
	MUST("write", refcache_write(demo_fd, c, 0, "c", 2));
	show_refcount("a", a);
	show_heap();

	STEP("a2 = dup(a)            # like a2 = a in Python");
	MUST("dup", refcache_dup(demo_fd, a, &a2));
	show_refcount("a", a);
	STEP("close(a2)              # del a2");
	MUST("close", refcache_handle_close(demo_fd, a2));
	show_refcount("a", a);

	STEP("a.slot[0] = b; b.slot[0] = c   # the chain a -> b -> c");
	MUST("store", refcache_store(demo_fd, a, 0, b));
	MUST("store", refcache_store(demo_fd, b, 0, c));
	show_refcount("a", a);
	show_refcount("b", b);
	show_refcount("c", c);

	STEP("t = load(a.slot[0])    # t = a.next: a new handle to b");
	MUST("load", refcache_load(demo_fd, a, 0, &t));
	show_refcount("b", t);
	STEP("close(t)");
	MUST("close", refcache_handle_close(demo_fd, t));
	show_refcount("b", b);

	STEP("close(b); close(c)     # only the slots keep them now");
	MUST("close", refcache_handle_close(demo_fd, b));
	MUST("close", refcache_handle_close(demo_fd, c));
	show_refcount("a", a);
	show_heap();

	before = heap_objects();
	STEP("close(a)               # a drops to 0: freed, its slot drops b, b drops c");
	MUST("close", refcache_handle_close(demo_fd, a));
	show_heap();
	OK_SO_FAR();
	printf("      the cascade freed %lld objects\n\n", before - heap_objects());

	STEP("x = new(); y = new(); x.slot[0] = y; y.slot[0] = x   # a 2-cycle");
	MUST("new x", refcache_new(demo_fd, cache, &x));
	MUST("new y", refcache_new(demo_fd, cache, &y));
	MUST("store", refcache_store(demo_fd, x, 0, y));
	MUST("store", refcache_store(demo_fd, y, 0, x));
	show_refcount("x", x);
	show_refcount("y", y);
	STEP("w = weak(x)            # w = weakref.ref(x): no reference of its own");
	MUST("weak_new", refcache_weak_new(demo_fd, x, &w));
	show_refcount("x", x);
	STEP("close(x); close(y)");
	MUST("close", refcache_handle_close(demo_fd, x));
	MUST("close", refcache_handle_close(demo_fd, y));
	show_heap();
	OK_SO_FAR();
	printf("      no handle reaches x or y, yet %lld objects are alive: each holds the\n"
	       "      other's last reference.  Refcounting alone never frees a cycle.\n",
	       heap_objects());
	STEP("w()                    # the weak handle still finds x");
	show_weak("w", w);

	if (!has_gc(demo_fd)) {
		printf("      this module has no cycle collector (ABI 1.2): the cycle stays\n"
		       "      alive until the heap is closed.\n");
	} else {
		struct refcache_gc_collect gc;

		STEP("refcachectl graph      # the heap's picture (DOT) before the collection");
		fflush(stdout);
		must("graph", graph_print_heap(demo_fd, "before gc.collect()", stdout));
		STEP("gc.collect(2)          # a full collection: generations 0, 1 and 2");
		ret = refcache_gc_collect_ex(demo_fd, 2, &gc);
		MUST("gc_collect", ret);
		OK_SO_FAR();
		printf("      gc.collect(2) = %llu   # unreachable objects found%s\n",
		       (unsigned long long)gc.unreachable,
		       gc.unreachable == 2 ? ": x and y" : "");
		printf("      (%llu collected, %llu uncollectable)\n",
		       (unsigned long long)gc.collected,
		       (unsigned long long)gc.uncollectable);
		show_heap();
		STEP("refcachectl graph      # and after it: the cycle is gone");
		fflush(stdout);
		must("graph", graph_print_heap(demo_fd, "after gc.collect()", stdout));
		STEP("w()                    # weak handles to garbage are cleared first");
		show_weak("w", w);
		if (!demo_err && (heap_objects() != 0 || weak_alive(w))) {
			fprintf(stderr, "refcachectl: demo: the collector left the cycle alive\n");
			demo_err = 1;
		}
		STEP("read(heap)             # like gc.callbacks: one record per collection");
		fflush(stdout);
		MUST("read events", print_gc_events(demo_fd, "      "));
		STEP("cat /proc/refcache/gc");
		fflush(stdout);
		cat_proc("/proc/refcache/gc");
	}
	STEP("close(w)");
	MUST("close", refcache_handle_close(demo_fd, w));
	STEP("cat /proc/refcache/caches");
	fflush(stdout);
	cat_proc("/proc/refcache/caches");
	printf("\n");

	STEP("close the heap        # closing /dev/refcache frees everything in it");
out:
	ret = refcache_close(demo_fd);
	if (ret < 0)
		MUST("close heap", ret);
	if (demo_err)
		fprintf(stderr, "refcachectl: demo: stopped at the first failed call\n");
	return demo_err ? 1 : 0;
}

/* --- gc: a heap's collector, in the gc module's words ---------------- */

static int command_help(const char *cmd);

struct gc_args {
	int collect;		/* generation, or -1 */
	int enable;		/* 1 enable, 0 disable, -1 leave */
	int freeze;		/* 1 freeze, 0 unfreeze, -1 leave */
	int set_threshold;
	unsigned int threshold[3];
	int proc;
};

static int gc_fail(const char *what, long long ret)
{
	if (ret == -ENOTTY)
		fprintf(stderr, "refcachectl: gc: %s: the loaded module has no cycle "
			"collector (ABI 1.2 needed)\n", what);
	else
		fprintf(stderr, "refcachectl: gc: %s: %s\n", what, strerror((int)-ret));
	return 1;
}

static int gc_show(int fd)
{
	struct refcache_heap_info hi;
	struct refcache_gc_stats st;
	unsigned int t[3];
	uint64_t c[3];
	long long ret;
	int on, g;

	if ((ret = refcache_heap_info(fd, &hi)) < 0)
		return gc_fail("heap_info", ret);
	if ((on = refcache_gc_isenabled(fd)) < 0)
		return gc_fail("isenabled", on);
	if ((ret = refcache_gc_get_threshold(fd, t)) < 0)
		return gc_fail("get_threshold", ret);
	if ((ret = refcache_gc_get_count(fd, c)) < 0)
		return gc_fail("get_count", ret);
	if ((ret = refcache_gc_get_stats(fd, &st)) < 0)
		return gc_fail("get_stats", ret);
	if ((ret = refcache_gc_get_freeze_count(fd)) < 0)
		return gc_fail("get_freeze_count", ret);
	printf("heap %llu: %llu objects\n", (unsigned long long)hi.heap_id,
	       (unsigned long long)hi.objects);
	printf("gc.isenabled()        %s\n", on ? "True" : "False");
	printf("gc.get_threshold()    (%u, %u, %u)\n", t[0], t[1], t[2]);
	printf("gc.get_count()        (%llu, %llu, %llu)\n", (unsigned long long)c[0],
	       (unsigned long long)c[1], (unsigned long long)c[2]);
	printf("gc.get_freeze_count() %lld\n", ret);
	printf("gc.get_stats():\n");
	printf("  %10s %12s %10s %13s %10s %15s %13s\n", "generation", "collections",
	       "collected", "uncollectable", "candidates", "pause_total_ns", "pause_max_ns");
	for (g = 0; g < REFCACHE_GC_GENERATIONS; g++)
		printf("  %10d %12llu %10llu %13llu %10llu %15llu %13llu\n", g,
		       (unsigned long long)st.gen[g].collections,
		       (unsigned long long)st.gen[g].collected,
		       (unsigned long long)st.gen[g].uncollectable,
		       (unsigned long long)st.gen[g].candidates,
		       (unsigned long long)st.gen[g].pause_total_ns,
		       (unsigned long long)st.gen[g].pause_max_ns);
	return 0;
}

static int cmd_gc(const struct gc_args *a)
{
	long long ret;
	int fd, err = 0;

	if (a->proc && a->collect < 0 && a->enable < 0 && a->freeze < 0 &&
	    !a->set_threshold)
		return cat_proc("/proc/refcache/gc");
	fd = open_heap();
	if (fd < 0)
		return 1;
	if (!has_gc(fd)) {
		fprintf(stderr, "refcachectl: gc: the loaded module has no cycle collector "
			"(ABI 1.2 needed)\n");
		refcache_close(fd);
		return 1;
	}
	printf("A new heap (this command's own open of %s; a heap's collector\n"
	       "state lives and dies with its file).\n", REFCACHE_DEVICE);
	if (a->enable >= 0) {
		ret = a->enable ? refcache_gc_enable(fd) : refcache_gc_disable(fd);
		printf("gc.%s()\n", a->enable ? "enable" : "disable");
		if (ret < 0)
			err = gc_fail(a->enable ? "enable" : "disable", ret);
	}
	if (!err && a->set_threshold) {
		printf("gc.set_threshold(%u, %u, %u)\n", a->threshold[0], a->threshold[1],
		       a->threshold[2]);
		ret = refcache_gc_set_threshold(fd, a->threshold[0], a->threshold[1],
						a->threshold[2]);
		if (ret < 0)
			err = gc_fail("set_threshold", ret);
	}
	if (!err && a->freeze >= 0) {
		ret = a->freeze ? refcache_gc_freeze(fd) : refcache_gc_unfreeze(fd);
		if (ret < 0)
			err = gc_fail(a->freeze ? "freeze" : "unfreeze", ret);
		else
			printf("gc.%s()  # %lld objects moved\n",
			       a->freeze ? "freeze" : "unfreeze", ret);
	}
	if (!err && a->collect >= 0) {
		struct refcache_gc_collect gc;

		ret = refcache_gc_collect_ex(fd, a->collect, &gc);
		if (ret < 0) {
			err = gc_fail("collect", ret);
		} else {
			printf("gc.collect(%d) = %llu  # %llu collected, %llu uncollectable\n",
			       a->collect, (unsigned long long)gc.unreachable,
			       (unsigned long long)gc.collected,
			       (unsigned long long)gc.uncollectable);
			fflush(stdout);
			ret = print_gc_events(fd, "  ");
			if (ret < 0)
				err = gc_fail("read events", ret);
		}
	}
	if (!err)
		err = gc_show(fd);
	if (!err && a->proc) {
		printf("\n");
		fflush(stdout);
		err = cat_proc("/proc/refcache/gc");
	}
	refcache_close(fd);
	return err;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 0);
	return *end || errno || *out > max ? -1 : 0;
}

static int gc_main(int argc, char **argv)
{
	struct gc_args a = { .collect = -1, .enable = -1, .freeze = -1 };
	unsigned long v;
	int i, k;

	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--collect") && i + 1 < argc) {
			if (parse_uint(argv[++i], REFCACHE_GC_GENERATIONS - 1, &v))
				goto bad;
			a.collect = (int)v;
		} else if (!strcmp(argv[i], "--enable") || !strcmp(argv[i], "--disable")) {
			int on = !strcmp(argv[i], "--enable");

			if (a.enable >= 0 && a.enable != on)
				goto conflict;
			a.enable = on;
		} else if (!strcmp(argv[i], "--freeze") || !strcmp(argv[i], "--unfreeze")) {
			int on = !strcmp(argv[i], "--freeze");

			if (a.freeze >= 0 && a.freeze != on)
				goto conflict;
			a.freeze = on;
		} else if (!strcmp(argv[i], "--threshold") && i + 3 < argc) {
			for (k = 0; k < 3; k++) {
				if (parse_uint(argv[++i], UINT32_MAX, &v))
					goto bad;
				a.threshold[k] = (unsigned int)v;
			}
			a.set_threshold = 1;
		} else if (!strcmp(argv[i], "--proc")) {
			a.proc = 1;
		} else {
			goto bad;
		}
	}
	return cmd_gc(&a);
bad:
	fprintf(stderr, "refcachectl: gc: bad or incomplete argument '%s'\n", argv[i]);
	command_help("gc");
	return 2;
conflict:
	fprintf(stderr, "refcachectl: gc: '%s' contradicts an earlier option\n", argv[i]);
	return 2;
}

/* --- top: a live view, as slabtop ----------------------------------- */

/* The /proc directory top reads; REFCACHE_PROC_DIR points it at a fixture. */
static const char *proc_dir(void)
{
	const char *d = getenv("REFCACHE_PROC_DIR");

	return d && *d ? d : "/proc/refcache";
}

static FILE *open_proc(const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", proc_dir(), name);
	return fopen(path, "r");
}

struct top_cache {
	unsigned long long heap, active, total, bytes;
	unsigned int payload, slots;
	int pid;
	char name[40], flags[16];
};

struct top_gen {
	unsigned long long count, objects, collections, collected, uncollectable;
	unsigned long long pause_total, pause_max;
	unsigned int heaps;
};

static int cmp_cache(const void *a, const void *b)
{
	const struct top_cache *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return x->heap < y->heap ? -1 : x->heap > y->heap;
}

/* One screen: what /proc/refcache shows the caller, biggest caches first. */
static int top_frame(FILE *out, unsigned int rows)
{
	static struct top_cache c[4096];
	struct top_gen gen[REFCACHE_GC_GENERATIONS];
	unsigned long long heaps = 0, objects = 0, bytes = 0, sum_active = 0, sum_bytes = 0;
	char line[512], key[64];
	unsigned long long v;
	unsigned int n = 0, i, shown;
	FILE *f;

	memset(gen, 0, sizeof(gen));
	f = open_proc("stats");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %llu", key, &v) == 2) {
			if (!strcmp(key, "heaps_open"))
				heaps = v;
			else if (!strcmp(key, "objects"))
				objects = v;
			else if (!strcmp(key, "bytes"))
				bytes = v;
		}
	fclose(f);

	f = open_proc("caches");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f) && n < sizeof(c) / sizeof(c[0])) {
		struct top_cache *t = &c[n];

		if (line[0] == '#')
			continue;
		if (sscanf(line, "%llu %d %39s %u %u %15s %llu %llu %llu", &t->heap, &t->pid,
			   t->name, &t->payload, &t->slots, t->flags, &t->active, &t->total,
			   &t->bytes) == 9) {
			sum_active += t->active;
			sum_bytes += t->bytes;
			n++;
		}
	}
	fclose(f);
	qsort(c, n, sizeof(c[0]), cmp_cache);

	f = open_proc("gc");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			unsigned long long heap, count, objs, colls, coll, uncoll, ptot, pmax;
			unsigned int g, thr;

			if (line[0] == '#' ||
			    sscanf(line, "%llu %u %llu %u %llu %llu %llu %llu %llu %llu", &heap, &g,
				   &count, &thr, &objs, &colls, &coll, &uncoll, &ptot, &pmax) != 10 ||
			    g >= REFCACHE_GC_GENERATIONS)
				continue;
			gen[g].heaps++;
			gen[g].count += count;
			gen[g].objects += objs;
			gen[g].collections += colls;
			gen[g].collected += coll;
			gen[g].uncollectable += uncoll;
			gen[g].pause_total += ptot;
			if (pmax > gen[g].pause_max)
				gen[g].pause_max = pmax;
		}
		fclose(f);
	}

	fprintf(out, "refcache: %llu heaps open, %llu objects, %llu bytes charged (module-wide)\n",
		heaps, objects, bytes);
	fprintf(out, "visible: %u caches, %llu active objects, %llu object bytes\n\n",
		n, sum_active, sum_bytes);
	fprintf(out, "%6s %7s %-24s %7s %5s %-14s %9s %9s %12s\n", "HEAP", "PID", "CACHE",
		"PAYLOAD", "SLOTS", "FLAGS", "ACTIVE", "TOTAL", "BYTES");
	shown = rows > 16 ? rows - 16 : 4;
	for (i = 0; i < n && i < shown; i++)
		fprintf(out, "%6llu %7d %-24.24s %7u %5u %-14s %9llu %9llu %12llu\n",
			c[i].heap, c[i].pid, c[i].name, c[i].payload, c[i].slots, c[i].flags,
			c[i].active, c[i].total, c[i].bytes);
	if (n > shown)
		fprintf(out, "  ... %u more caches\n", n - shown);
	fprintf(out, "\ncollector, all visible heaps (gc.get_count() and gc.get_stats() summed):\n");
	fprintf(out, "%3s %6s %9s %9s %11s %10s %13s %14s %12s\n", "GEN", "HEAPS", "COUNT",
		"OBJECTS", "COLLECTIONS", "COLLECTED", "UNCOLLECTABLE", "PAUSE_TOTAL_NS",
		"PAUSE_MAX_NS");
	for (i = 0; i < REFCACHE_GC_GENERATIONS; i++)
		fprintf(out, "%3u %6u %9llu %9llu %11llu %10llu %13llu %14llu %12llu\n", i,
			gen[i].heaps, gen[i].count, gen[i].objects, gen[i].collections,
			gen[i].collected, gen[i].uncollectable, gen[i].pause_total,
			gen[i].pause_max);
	return 0;
}

static struct termios top_saved;
static int top_raw;

static void top_restore(void)
{
	if (top_raw)
		tcsetattr(0, TCSANOW, &top_saved);
	top_raw = 0;
}

static void top_signal(int sig)
{
	top_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * Redraw every @delay_ms until 'q' (or @iterations frames, if not 0).  On
 * a terminal the screen is cleared before each frame; otherwise frames
 * follow each other, as top -b does.
 */
static int cmd_top(unsigned int delay_ms, unsigned long iterations)
{
	int tty = isatty(1), in_tty = isatty(0), ret;
	unsigned long frame = 0;
	unsigned int rows = 40;
	struct pollfd pfd = { .fd = 0, .events = POLLIN };

	if (in_tty && tcgetattr(0, &top_saved) == 0) {
		struct termios raw = top_saved;

		raw.c_lflag &= ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(0, TCSANOW, &raw) == 0) {
			top_raw = 1;
			signal(SIGINT, top_signal);
			signal(SIGTERM, top_signal);
		}
	}
	if (getenv("LINES"))
		rows = (unsigned int)atoi(getenv("LINES"));
	for (;;) {
		if (tty)
			fputs("\033[H\033[2J", stdout);
		else if (frame)
			putchar('\n');
		ret = top_frame(stdout, rows);
		if (ret < 0) {
			top_restore();
			fprintf(stderr, "refcachectl: top: %s/: %s\n", proc_dir(), strerror(-ret));
			if (ret == -ENOENT)
				fprintf(stderr, "refcachectl: the refcache module is not loaded: "
					"load it with \"modprobe refcache\" (as root)\n");
			return 1;
		}
		if (tty && in_tty)
			printf("\n(refreshing every %u ms; q quits)\n", delay_ms);
		fflush(stdout);
		if (iterations && ++frame >= iterations)
			break;
		if (!iterations)
			frame++;
		if (in_tty ? poll(&pfd, 1, (int)delay_ms) > 0 : (usleep(delay_ms * 1000), 0)) {
			char ch;

			if (read(0, &ch, 1) == 1 && (ch == 'q' || ch == 'Q'))
				break;
		}
	}
	top_restore();
	return 0;
}

static int top_main(int argc, char **argv)
{
	unsigned long iterations = 0;
	double delay = 1.0;
	char *end;
	int i;

	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "-d") && i + 1 < argc) {
			delay = strtod(argv[++i], &end);
			if (*end || delay < 0.05 || delay > 3600)
				goto bad;
		} else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			iterations = strtoul(argv[++i], &end, 10);
			if (*end || !iterations)
				goto bad;
		} else {
			goto bad;
		}
	}
	return cmd_top((unsigned int)(delay * 1000), iterations);
bad:
	fprintf(stderr, "refcachectl: top: bad or incomplete argument '%s'\n", argv[i]);
	command_help("top");
	return 2;
}

/* --- bench: single ioctls against REFCACHE_IOC_BATCH ---------------- */

#define BENCH_OPS	204800L
#define BENCH_BATCH	64

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * The same work both ways.  "mixed": per four operations a dup of the
 * base handle, a refcount query of the dup, one of the base and the close
 * of the dup.  "refcount": refcount queries only (INFO singly).
 */
enum { WORK_MIXED, WORK_REFCOUNT };
static const char *const work_names[] = { "mixed", "refcount" };
static const char *const work_desc[] = {
	"dup, refcount, refcount, close per 4 operations",
	"refcount queries",
};

static int bench_single(int fd, int work, uint64_t base, long nops, double *secs)
{
	struct refcache_obj_info info;
	uint64_t d;
	double t0 = now();
	long i;
	int ret;

	for (i = 0; i < nops; i += 4) {
		if (work == WORK_REFCOUNT) {
			if ((ret = refcache_info(fd, base, &info)) < 0 ||
			    (ret = refcache_info(fd, base, &info)) < 0 ||
			    (ret = refcache_info(fd, base, &info)) < 0 ||
			    (ret = refcache_info(fd, base, &info)) < 0)
				return ret;
			continue;
		}
		if ((ret = refcache_dup(fd, base, &d)) < 0 ||
		    (ret = refcache_info(fd, d, &info)) < 0 ||
		    (ret = refcache_info(fd, base, &info)) < 0 ||
		    (ret = refcache_handle_close(fd, d)) < 0)
			return ret;
	}
	*secs = now() - t0;
	return 0;
}

static void op_set(struct refcache_op *op, int code, uint64_t h)
{
	memset(op, 0, sizeof(*op));
	op->op = code;
	op->handle = h;
}

static int bench_batch(int fd, int work, uint64_t base, long nops, double *secs)
{
	struct refcache_op ops[BENCH_BATCH];
	uint64_t dups[BENCH_BATCH / 2];
	double t0 = now();
	long i;
	int k, ret;

	/*
	 * A dup cannot be used in the batch that makes it: two batches of 64
	 * do 32 dups + 32 queries of the base, then 32 queries of the dups +
	 * their 32 closes.
	 */
	for (i = 0; i < nops; i += 2 * BENCH_BATCH) {
		for (k = 0; k < BENCH_BATCH; k++)
			op_set(&ops[k], work == WORK_MIXED && !(k & 1) ? REFCACHE_OP_DUP :
			       REFCACHE_OP_REFCOUNT, base);
		ret = refcache_batch(fd, ops, BENCH_BATCH, 0);
		if (ret != BENCH_BATCH)
			return ret < 0 ? ret : -EIO;
		if (work == WORK_REFCOUNT)
			dups[0] = base;
		else
			for (k = 0; k < BENCH_BATCH / 2; k++)
				dups[k] = ops[2 * k].result;
		for (k = 0; k < BENCH_BATCH; k++)
			op_set(&ops[k], work == WORK_MIXED && (k & 1) ? REFCACHE_OP_CLOSE :
			       REFCACHE_OP_REFCOUNT, work == WORK_MIXED ? dups[k / 2] : base);
		ret = refcache_batch(fd, ops, BENCH_BATCH, 0);
		if (ret != BENCH_BATCH)
			return ret < 0 ? ret : -EIO;
	}
	*secs = now() - t0;
	return 0;
}

static int cmd_bench(int work, long nops)
{
	double ts, tb, single, batch;
	uint64_t base;
	int fd, cache, ret, round;

	nops -= nops % (2 * BENCH_BATCH);
	if (nops <= 0)
		nops = 2 * BENCH_BATCH;
	fd = open_heap();
	if (fd < 0)
		return 1;
	cache = refcache_cache_create(fd, "bench", 16, 2, 0);
	ret = cache < 0 ? cache : refcache_new(fd, cache, &base);
	/* Warm up both paths, then measure. */
	if (ret >= 0)
		ret = bench_single(fd, work, base, 4096, &ts);
	if (ret >= 0)
		ret = bench_batch(fd, work, base, 4096, &tb);
	/* Emulated guests are noisy: alternate the two, keep the best of 5. */
	ts = tb = 1e30;
	for (round = 0; round < 5 && ret >= 0; round++) {
		double t;

		ret = bench_single(fd, work, base, nops, &t);
		if (ret >= 0 && t < ts)
			ts = t;
		if (ret >= 0)
			ret = bench_batch(fd, work, base, nops, &t);
		if (ret >= 0 && t < tb)
			tb = t;
	}
	refcache_close(fd);
	if (ret < 0) {
		fprintf(stderr, "refcachectl: bench: %s\n", strerror(-ret));
		return 1;
	}
	single = nops / ts;
	batch = nops / tb;
	printf("work \"%s\": %s; %ld operations each way, best of 5 rounds\n",
	       work_names[work], work_desc[work], nops);
	printf("%-22s %12s %10s %14s\n", "mode", "operations", "seconds", "ops/s");
	printf("%-22s %12ld %10.3f %14.0f\n", "single ioctls", nops, ts, single);
	printf("%-22s %12ld %10.3f %14.0f\n", "batch ioctl (64 ops)", nops, tb, batch);
	printf("bench ioctl single_ops_per_s=%.0f batch_ops_per_s=%.0f ratio=%.2f\n",
	       single, batch, batch / single);
	return 0;
}

static const char *const cmd_help[][2] = {
	{ "version", "usage: refcachectl version | refcachectl --version\n"
		"Print the library's version, then the loaded module's version, ABI\n"
		"version and feature bits (one release has one version: module 1.3 is\n"
		"ABI 1.3 and library 1.3.x).\n" },
	{ "stats", "usage: refcachectl stats\n"
		"Print the module-wide counters of /proc/refcache/stats.\n" },
	{ "caches", "usage: refcachectl caches\n"
		"Print /proc/refcache/caches: a header line, then one line per cache\n"
		"of every open heap.\n" },
	{ "allocator", "usage: refcachectl allocator\n"
		"Print /proc/refcache/allocator: the allocator's geometry, then per\n"
		"visible heap its size classes, arenas and byte counts.\n" },
	{ "users", "usage: refcachectl users\n"
		"Print /proc/refcache/users: per uid with heaps, the heaps, the bytes\n"
		"charged to them and the per-user budget (user_max_bytes).\n" },
	{ "top", "usage: refcachectl top [-d SECONDS] [-n FRAMES]\n"
		"A live view, like slabtop, of what /proc/refcache shows the caller:\n"
		"module-wide heaps, objects and bytes; the visible caches, biggest\n"
		"first (heap, pid, name, payload, slots, flags, active and total\n"
		"objects, bytes); and the collector per generation summed over the\n"
		"visible heaps (count, tracked objects, collections, collected,\n"
		"uncollectable, pauses).  Redrawn every SECONDS (default 1) until q\n"
		"is pressed, or FRAMES times.  Not on a terminal, frames are printed\n"
		"one after another.  REFCACHE_PROC_DIR reads another directory than\n"
		"/proc/refcache (for tests); LINES bounds the cache rows.\n" },
	{ "demo", "usage: refcachectl demo\n"
		"Build a chain a -> b -> c and a cycle x <-> y in a new heap and print\n"
		"refcounts (like Python's sys.getrefcount) as handles are duplicated\n"
		"and closed and slots are stored: closing the head frees the chain, the\n"
		"cycle keeps itself alive.  Then gc.collect(2) finds the cycle: it prints\n"
		"what collect returned (2), the heap without x and y, the weak handle\n"
		"to x dead, the collection's event record and /proc/refcache/gc.\n" },
	{ "gc", "usage: refcachectl gc [--collect N] [--enable|--disable]\n"
		"                      [--threshold T0 T1 T2] [--freeze|--unfreeze] [--proc]\n"
		"       refcachectl gc --proc\n"
		"Open a new heap (a heap is one open file, so its collector starts\n"
		"fresh), apply the options in this order: gc.enable()/gc.disable(),\n"
		"gc.set_threshold(T0, T1, T2), gc.freeze()/gc.unfreeze(), gc.collect(N)\n"
		"(N = 0, 1 or 2, with its event record), then print the heap's\n"
		"isenabled, get_threshold, get_count, get_freeze_count and get_stats.\n"
		"--proc alone prints /proc/refcache/gc (one line per visible heap and\n"
		"generation) without opening a heap; with other options, after them,\n"
		"while the new heap is still open.\n" },
	{ "graph", "usage: refcachectl graph [--fd N | --load FILE] [--save FILE]\n"
		"                         [--from NODE | --to NODE] [--depth N]\n"
		"                         [--collect] [-o FILE.dot] [--svg FILE.svg]\n"
		"Write a heap's object graph (REFCACHE_IOC_HEAP_DUMP) as Graphviz DOT:\n"
		"one node per object, labelled with its cache, dump number, refcount and\n"
		"generation (gc.garbage pink, frozen blue, untracked round), one edge per\n"
		"filled slot, and the handles as roots (weak ones dashed).  The heap is\n"
		"the open file N (inherited), a dump saved with --save, or, without\n"
		"either, a known demo heap: a chain a -> b -> c held by one handle and a\n"
		"cycle x <-> y held by a weak handle only.  --from NODE draws what NODE\n"
		"reaches (objgraph's show_refs), --to NODE what reaches it\n"
		"(show_backrefs), NODE being oN (a node of the graph) or a handle id,\n"
		"--depth N steps at most.  --collect runs gc.collect(2) first.  --svg\n"
		"runs dot -Tsvg (Debian package graphviz).\n" },
	{ "bench", "usage: refcachectl bench [--work mixed|refcount] [OPERATIONS]\n"
		"Run the same work as single ioctls and as REFCACHE_IOC_BATCH calls of 64\n"
		"operations, OPERATIONS each way (default 204800, rounded down to a\n"
		"multiple of 128), and print operations per second and one line\n"
		"  bench ioctl single_ops_per_s=<x> batch_ops_per_s=<y> ratio=<r>\n"
		"Work \"mixed\" (default): per 4 operations a dup, two refcount queries\n"
		"and a close; \"refcount\": refcount queries only.\n" },
};

static int command_help(const char *cmd)
{
	unsigned int i;

	for (i = 0; i < sizeof(cmd_help) / sizeof(cmd_help[0]); i++)
		if (!strcmp(cmd, cmd_help[i][0])) {
			fputs(cmd_help[i][1], stdout);
			return 0;
		}
	fprintf(stderr, "refcachectl: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		if (argc > 2)
			goto extra;
		return cmd_version();
	}
	if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")))
		return command_help(argv[1]);
	if (!strcmp(argv[1], "bench")) {
		long nops = BENCH_OPS;
		int work = WORK_MIXED, i;
		char *end;

		for (i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--work") && i + 1 < argc) {
				i++;
				if (!strcmp(argv[i], "mixed"))
					work = WORK_MIXED;
				else if (!strcmp(argv[i], "refcount"))
					work = WORK_REFCOUNT;
				else
					goto bad_bench;
				continue;
			}
			nops = strtol(argv[i], &end, 10);
			if (*end || nops <= 0 || i + 1 != argc)
				goto bad_bench;
		}
		return cmd_bench(work, nops);
bad_bench:
		fprintf(stderr, "refcachectl: bench: bad argument '%s'\n", argv[i]);
		command_help("bench");
		return 2;
	}
	if (!strcmp(argv[1], "gc"))
		return gc_main(argc, argv);
	if (!strcmp(argv[1], "top"))
		return top_main(argc, argv);
	if (!strcmp(argv[1], "graph"))
		return graph_main(argc, argv);
	if (argc > 2)
		goto extra;
	if (!strcmp(argv[1], "version"))
		return cmd_version();
	if (!strcmp(argv[1], "stats"))
		return cat_proc("/proc/refcache/stats");
	if (!strcmp(argv[1], "caches"))
		return cat_proc("/proc/refcache/caches");
	if (!strcmp(argv[1], "allocator"))
		return cat_proc("/proc/refcache/allocator");
	if (!strcmp(argv[1], "users"))
		return cat_proc("/proc/refcache/users");
	if (!strcmp(argv[1], "demo"))
		return cmd_demo();
	fprintf(stderr, "refcachectl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
extra:
	fprintf(stderr, "refcachectl: %s: unexpected argument '%s'\n", argv[1], argv[argc - 1]);
	return 2;
}
