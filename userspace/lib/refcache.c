// SPDX-License-Identifier: LGPL-2.1 OR MIT
/* librefcache: see refcache.h and the man pages in userspace/man. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "refcache.h"

#define EXPORT __attribute__((visibility("default")))

static int rc_ioctl(int fd, unsigned long cmd, void *arg)
{
	int saved = errno, ret;

	ret = ioctl(fd, cmd, arg);
	if (ret < 0)
		ret = -errno;
	errno = saved;
	return ret;
}

EXPORT int refcache_open(void)
{
	int saved = errno, fd;

	fd = open(REFCACHE_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	errno = saved;
	return fd;
}

EXPORT int refcache_close(int fd)
{
	int saved = errno, ret;

	ret = close(fd) ? -errno : 0;
	errno = saved;
	return ret;
}

EXPORT int refcache_version(int fd, struct refcache_version *v)
{
	if (!v)
		return -EINVAL;
	memset(v, 0, sizeof(*v));
	v->size = sizeof(*v);
	return rc_ioctl(fd, REFCACHE_IOC_VERSION, v);
}

#define RC_STR2(x) #x
#define RC_STR(x) RC_STR2(x)

/* The release's one version is the ABI's (uapi/linux/refcache.h). */
EXPORT const char *refcache_lib_version(void)
{
	return RC_STR(REFCACHE_ABI_MAJOR) "." RC_STR(REFCACHE_ABI_MINOR) ".0";
}

static int handle_op(int fd, unsigned long cmd, uint64_t handle,
		     uint32_t slot, uint64_t value, uint64_t *result)
{
	struct refcache_handle_op op;
	int ret;

	memset(&op, 0, sizeof(op));
	op.size = sizeof(op);
	op.handle = handle;
	op.slot = slot;
	op.value = value;
	ret = rc_ioctl(fd, cmd, &op);
	if (!ret && result)
		*result = op.result;
	return ret;
}

EXPORT int refcache_cache_create(int fd, const char *name, uint32_t payload_size,
				 uint32_t nslots, uint32_t flags)
{
	struct refcache_cache_create cc;
	size_t len;
	int ret;

	if (!name)
		return -EINVAL;
	len = strlen(name);
	if (len == 0 || len >= sizeof(cc.name))
		return -EINVAL;
	memset(&cc, 0, sizeof(cc));
	cc.size = sizeof(cc);
	cc.flags = flags;
	cc.payload_size = payload_size;
	cc.nslots = nslots;
	memcpy(cc.name, name, len);
	ret = rc_ioctl(fd, REFCACHE_IOC_CACHE_CREATE, &cc);
	if (ret < 0)
		return ret;
	if (cc.cache_id == 0 || cc.cache_id > INT_MAX)
		return -EOVERFLOW;
	return (int)cc.cache_id;
}

EXPORT int refcache_cache_destroy(int fd, uint32_t cache_id)
{
	struct refcache_cache_destroy cd;

	memset(&cd, 0, sizeof(cd));
	cd.size = sizeof(cd);
	cd.cache_id = cache_id;
	return rc_ioctl(fd, REFCACHE_IOC_CACHE_DESTROY, &cd);
}

EXPORT int refcache_new(int fd, uint32_t cache_id, uint64_t *handle)
{
	if (!handle)
		return -EINVAL;
	return handle_op(fd, REFCACHE_IOC_OBJ_NEW, cache_id, 0, 0, handle);
}

EXPORT int refcache_dup(int fd, uint64_t handle, uint64_t *out)
{
	if (!out)
		return -EINVAL;
	return handle_op(fd, REFCACHE_IOC_DUP, handle, 0, 0, out);
}

EXPORT int refcache_handle_close(int fd, uint64_t handle)
{
	return handle_op(fd, REFCACHE_IOC_CLOSE, handle, 0, 0, NULL);
}

EXPORT int refcache_load(int fd, uint64_t handle, uint32_t slot, uint64_t *out)
{
	if (!out)
		return -EINVAL;
	return handle_op(fd, REFCACHE_IOC_SLOT_LOAD, handle, slot, 0, out);
}

EXPORT int refcache_store(int fd, uint64_t handle, uint32_t slot, uint64_t value)
{
	return handle_op(fd, REFCACHE_IOC_SLOT_STORE, handle, slot, value, NULL);
}

static int payload_io(int fd, unsigned long cmd, uint64_t handle,
		      uint32_t offset, const void *buf, uint32_t len)
{
	struct refcache_payload_io io;

	memset(&io, 0, sizeof(io));
	io.size = sizeof(io);
	io.handle = handle;
	io.offset = offset;
	io.len = len;
	io.buf = (uint64_t)(uintptr_t)buf;
	return rc_ioctl(fd, cmd, &io);
}

EXPORT int refcache_read(int fd, uint64_t handle, uint32_t offset, void *buf,
			 uint32_t len)
{
	return payload_io(fd, REFCACHE_IOC_READ, handle, offset, buf, len);
}

EXPORT int refcache_write(int fd, uint64_t handle, uint32_t offset,
			  const void *buf, uint32_t len)
{
	return payload_io(fd, REFCACHE_IOC_WRITE, handle, offset, buf, len);
}

EXPORT int refcache_info(int fd, uint64_t handle, struct refcache_obj_info *info)
{
	if (!info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	info->handle = handle;
	return rc_ioctl(fd, REFCACHE_IOC_INFO, info);
}

EXPORT int refcache_weak_new(int fd, uint64_t handle, uint64_t *weak)
{
	if (!weak)
		return -EINVAL;
	return handle_op(fd, REFCACHE_IOC_WEAK_NEW, handle, 0, 0, weak);
}

EXPORT int refcache_weak_upgrade(int fd, uint64_t weak, uint64_t *out)
{
	if (!out)
		return -EINVAL;
	return handle_op(fd, REFCACHE_IOC_WEAK_UPGRADE, weak, 0, 0, out);
}

EXPORT int refcache_heap_info(int fd, struct refcache_heap_info *info)
{
	if (!info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return rc_ioctl(fd, REFCACHE_IOC_HEAP_INFO, info);
}

EXPORT int refcache_set_limits(int fd, uint64_t max_objects, uint64_t max_bytes)
{
	struct refcache_heap_limits lim;

	memset(&lim, 0, sizeof(lim));
	lim.size = sizeof(lim);
	lim.max_objects = max_objects;
	lim.max_bytes = max_bytes;
	return rc_ioctl(fd, REFCACHE_IOC_SET_LIMITS, &lim);
}

EXPORT int refcache_batch(int fd, struct refcache_op *ops, uint32_t count,
			  uint32_t flags)
{
	struct refcache_batch b;
	int ret;

	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.flags = flags;
	b.count = count;
	b.ops = (uint64_t)(uintptr_t)ops;
	ret = rc_ioctl(fd, REFCACHE_IOC_BATCH, &b);
	if (ret < 0)
		return ret;
	return b.done > INT_MAX ? -EOVERFLOW : (int)b.done;
}

/* --- the cycle collector (ABI 1.2) ---------------------------------- */

static int64_t to_count(uint64_t v)
{
	return v > INT64_MAX ? -EOVERFLOW : (int64_t)v;
}

EXPORT int refcache_gc_collect_ex(int fd, int generation,
				  struct refcache_gc_collect *out)
{
	if (!out || generation < 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->size = sizeof(*out);
	out->generation = (uint32_t)generation;
	return rc_ioctl(fd, REFCACHE_IOC_GC_COLLECT, out);
}

EXPORT int64_t refcache_gc_collect(int fd, int generation)
{
	struct refcache_gc_collect gc;
	int ret;

	ret = refcache_gc_collect_ex(fd, generation, &gc);
	if (ret < 0)
		return ret;
	return to_count(gc.unreachable);
}

static int gc_get(int fd, struct refcache_gc_info *gi)
{
	memset(gi, 0, sizeof(*gi));
	gi->size = sizeof(*gi);
	return rc_ioctl(fd, REFCACHE_IOC_GC_GET, gi);
}

static int gc_set(int fd, uint32_t flags, uint32_t enabled, unsigned int t0,
		  unsigned int t1, unsigned int t2)
{
	struct refcache_gc_set gs;

	memset(&gs, 0, sizeof(gs));
	gs.size = sizeof(gs);
	gs.flags = flags;
	gs.enabled = enabled;
	gs.threshold[0] = t0;
	gs.threshold[1] = t1;
	gs.threshold[2] = t2;
	return rc_ioctl(fd, REFCACHE_IOC_GC_SET, &gs);
}

EXPORT int refcache_gc_enable(int fd)
{
	return gc_set(fd, REFCACHE_GC_SET_ENABLED, 1, 0, 0, 0);
}

EXPORT int refcache_gc_disable(int fd)
{
	return gc_set(fd, REFCACHE_GC_SET_ENABLED, 0, 0, 0, 0);
}

EXPORT int refcache_gc_isenabled(int fd)
{
	struct refcache_gc_info gi;
	int ret = gc_get(fd, &gi);

	return ret < 0 ? ret : !!gi.enabled;
}

EXPORT int refcache_gc_get_threshold(int fd, unsigned int t[3])
{
	struct refcache_gc_info gi;
	int ret, i;

	if (!t)
		return -EINVAL;
	ret = gc_get(fd, &gi);
	if (ret < 0)
		return ret;
	for (i = 0; i < REFCACHE_GC_GENERATIONS; i++)
		t[i] = gi.threshold[i];
	return 0;
}

EXPORT int refcache_gc_set_threshold(int fd, unsigned int t0, unsigned int t1,
				     unsigned int t2)
{
	return gc_set(fd, REFCACHE_GC_SET_THRESHOLD, 0, t0, t1, t2);
}

EXPORT int refcache_gc_get_count(int fd, uint64_t c[3])
{
	struct refcache_gc_info gi;
	int ret, i;

	if (!c)
		return -EINVAL;
	ret = gc_get(fd, &gi);
	if (ret < 0)
		return ret;
	for (i = 0; i < REFCACHE_GC_GENERATIONS; i++)
		c[i] = gi.count[i];
	return 0;
}

EXPORT int refcache_gc_get_stats(int fd, struct refcache_gc_stats *st)
{
	if (!st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return rc_ioctl(fd, REFCACHE_IOC_GC_STATS, st);
}

static int64_t gc_freeze(int fd, uint32_t flags)
{
	struct refcache_gc_freeze gf;
	int ret;

	memset(&gf, 0, sizeof(gf));
	gf.size = sizeof(gf);
	gf.flags = flags;
	ret = rc_ioctl(fd, REFCACHE_IOC_GC_FREEZE, &gf);
	if (ret < 0)
		return ret;
	return to_count(gf.moved);
}

EXPORT int64_t refcache_gc_freeze(int fd)
{
	return gc_freeze(fd, 0);
}

EXPORT int64_t refcache_gc_unfreeze(int fd)
{
	return gc_freeze(fd, REFCACHE_GC_UNFREEZE);
}

EXPORT int64_t refcache_gc_get_freeze_count(int fd)
{
	struct refcache_gc_info gi;
	int ret = gc_get(fd, &gi);

	if (ret < 0)
		return ret;
	return to_count(gi.freeze_count);
}

EXPORT int refcache_gc_is_tracked(int fd, uint64_t handle)
{
	uint64_t result = 0;
	int ret;

	ret = handle_op(fd, REFCACHE_IOC_GC_IS_TRACKED, handle, 0, 0, &result);
	return ret < 0 ? ret : !!result;
}

EXPORT int refcache_gc_read_events(int fd, struct refcache_gc_event *ev, size_t max)
{
	int saved = errno;
	ssize_t n;

	if (!ev || !max)
		return -EINVAL;
	/* As many whole records as fit; the count must fit the int returned. */
	if (max > INT_MAX / sizeof(*ev))
		max = INT_MAX / sizeof(*ev);
	n = read(fd, ev, max * sizeof(*ev));
	if (n < 0) {
		n = -errno;
		errno = saved;
		return (int)n;
	}
	if (n == 0 || n % sizeof(*ev))
		return -EIO;	/* not a refcache heap, or a record cut short */
	return (int)(n / sizeof(*ev));
}

/* ---- looking inside a heap (ABI 1.4) ----------------------------------- */

static int gc_objects(int fd, unsigned long cmd, uint32_t which, uint64_t handle,
		      uint64_t *cursor, uint64_t *handles, uint32_t max)
{
	struct refcache_gc_objects req;
	int ret;

	if (!cursor || !handles || !max)
		return -EINVAL;
	if (max > REFCACHE_GC_OBJECTS_MAX)
		max = REFCACHE_GC_OBJECTS_MAX;
	memset(&req, 0, sizeof(req));
	req.size = sizeof(req);
	req.which = which;
	req.count = max;
	req.cursor = *cursor;
	req.handle = handle;
	req.handles = (uintptr_t)handles;
	ret = rc_ioctl(fd, cmd, &req);
	if (ret < 0)
		return ret;
	*cursor = req.cursor;
	return (int)req.returned;
}

EXPORT int refcache_gc_get_objects(int fd, uint32_t which, uint64_t *cursor,
				   uint64_t *handles, uint32_t max)
{
	return gc_objects(fd, REFCACHE_IOC_GC_GET_OBJECTS, which, 0, cursor, handles, max);
}

EXPORT int refcache_gc_get_referents(int fd, uint64_t handle, uint64_t *cursor,
				     uint64_t *handles, uint32_t max)
{
	return gc_objects(fd, REFCACHE_IOC_GC_GET_REFERENTS, 0, handle, cursor, handles, max);
}

EXPORT int refcache_gc_get_referrers(int fd, uint64_t handle, uint64_t *cursor,
				     uint64_t *handles, uint32_t max)
{
	return gc_objects(fd, REFCACHE_IOC_GC_GET_REFERRERS, 0, handle, cursor, handles, max);
}

EXPORT int refcache_gc_get_garbage(int fd, uint64_t *cursor, uint64_t *handles, uint32_t max)
{
	return gc_objects(fd, REFCACHE_IOC_GC_GARBAGE, 0, 0, cursor, handles, max);
}

EXPORT int64_t refcache_gc_clear_garbage(int fd)
{
	struct refcache_gc_objects req;
	int ret;

	memset(&req, 0, sizeof(req));
	req.size = sizeof(req);
	req.flags = REFCACHE_GARBAGE_CLEAR;
	ret = rc_ioctl(fd, REFCACHE_IOC_GC_GARBAGE, &req);
	return ret < 0 ? ret : (int64_t)req.returned;
}

static int gc_debug(int fd, uint32_t flags, uint32_t debug, struct refcache_gc_debug *out)
{
	memset(out, 0, sizeof(*out));
	out->size = sizeof(*out);
	out->flags = flags;
	out->debug = debug;
	return rc_ioctl(fd, REFCACHE_IOC_GC_DEBUG, out);
}

EXPORT int refcache_gc_set_debug(int fd, unsigned int flags)
{
	struct refcache_gc_debug d;

	return gc_debug(fd, REFCACHE_GC_DEBUG_SET, flags, &d);
}

EXPORT int refcache_gc_get_debug(int fd)
{
	struct refcache_gc_debug d;
	int ret = gc_debug(fd, 0, 0, &d);

	return ret < 0 ? ret : (int)d.debug;
}

EXPORT int64_t refcache_gc_garbage_count(int fd)
{
	struct refcache_gc_debug d;
	int ret = gc_debug(fd, 0, 0, &d);

	if (ret < 0)
		return ret;
	return to_count(d.garbage);
}

EXPORT int refcache_heap_dump(int fd, struct refcache_dump_record **records, size_t *nrecords)
{
	struct refcache_dump_record *v = NULL, *nv;
	struct refcache_heap_dump hd;
	size_t n = 0;
	int ret, tries;

	if (!records || !nrecords)
		return -EINVAL;
	/* Another thread's START makes ours stale: start again, a few times. */
	for (tries = 0; tries < 8; tries++) {
		memset(&hd, 0, sizeof(hd));
		hd.size = sizeof(hd);
		hd.flags = REFCACHE_DUMP_START;
		n = 0;
		for (;;) {
			uint64_t want = hd.flags ? REFCACHE_GC_OBJECTS_MAX : hd.total - n;

			if (want > REFCACHE_GC_OBJECTS_MAX)
				want = REFCACHE_GC_OBJECTS_MAX;
			nv = realloc(v, (n + want) * sizeof(*v) + 1);
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
			hd.count = (uint32_t)want;
			hd.records = (uintptr_t)(v + n);
			hd.returned = 0;
			hd.total = 0;
			ret = rc_ioctl(fd, REFCACHE_IOC_HEAP_DUMP, &hd);
			if (ret < 0)
				break;
			n += hd.returned;
			hd.flags = 0;
			if (!hd.cursor)
				break;
		}
		if (ret != -ESTALE)
			break;
	}
	if (ret == 0) {
		struct refcache_heap_dump end;

		memset(&end, 0, sizeof(end));
		end.size = sizeof(end);
		end.flags = REFCACHE_DUMP_END;
		rc_ioctl(fd, REFCACHE_IOC_HEAP_DUMP, &end);	/* frees the kernel's copy */
		*records = v;
		*nrecords = n;
		return 0;
	}
	free(v);
	return ret;
}
