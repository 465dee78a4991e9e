/* SPDX-License-Identifier: LGPL-2.1 OR MIT */
/*
 * librefcache: thin wrappers around the /dev/refcache ioctls.
 *
 * Every function returns 0 (or a non-negative value) on success and a
 * negative errno on failure; errno itself is never relied upon.
 */
#ifndef REFCACHE_H
#define REFCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/refcache.h>

#ifdef __cplusplus
extern "C" {
#endif

#define REFCACHE_DEVICE "/dev/refcache"

/* Open a new heap: returns a file descriptor or -errno. */
int refcache_open(void);

/* Close a heap opened by refcache_open(): 0 or -errno. */
int refcache_close(int fd);

/* Fill @v with the module's ABI version and features: 0 or -errno. */
int refcache_version(int fd, struct refcache_version *v);

/* The library's own version, "MAJOR.MINOR.PATCH" (LIBREFCACHE_1.3). */
const char *refcache_lib_version(void);

/*
 * Caches, objects and handles (ABI 1.1, REFCACHE_FEATURE_OBJECTS).
 * Handles are non-zero 64-bit ids; 0 means "none" (an empty slot).
 */

/* Create a cache: its id (> 0) or -errno. */
int refcache_cache_create(int fd, const char *name, uint32_t payload_size,
			  uint32_t nslots, uint32_t flags);

/* Destroy a cache without live objects: 0 or -errno (-EBUSY). */
int refcache_cache_destroy(int fd, uint32_t cache_id);

/* A new zeroed object of @cache_id; *@handle owns its only reference. */
int refcache_new(int fd, uint32_t cache_id, uint64_t *handle);

/* Another strong handle to @handle's object in *@out. */
int refcache_dup(int fd, uint64_t handle, uint64_t *out);

/* Close a strong or weak handle. */
int refcache_handle_close(int fd, uint64_t handle);

/* A new strong handle to what @slot refers to in *@out (0: empty slot). */
int refcache_load(int fd, uint64_t handle, uint32_t slot, uint64_t *out);

/* Make @slot refer to @value's object (0 empties the slot). */
int refcache_store(int fd, uint64_t handle, uint32_t slot, uint64_t value);

/* Copy @len payload bytes at @offset out of / into the object. */
int refcache_read(int fd, uint64_t handle, uint32_t offset, void *buf,
		  uint32_t len);
int refcache_write(int fd, uint64_t handle, uint32_t offset, const void *buf,
		   uint32_t len);

/* Refcount, cache, slots, payload size and cache flags of an object. */
int refcache_info(int fd, uint64_t handle, struct refcache_obj_info *info);

/* A weak handle to @handle's object in *@weak. */
int refcache_weak_new(int fd, uint64_t handle, uint64_t *weak);

/* A strong handle from a weak one in *@out, or -ENOENT once it died. */
int refcache_weak_upgrade(int fd, uint64_t weak, uint64_t *out);

/* Counters and limits of the heap. */
int refcache_heap_info(int fd, struct refcache_heap_info *info);

/* Lower the heap's limits; 0 keeps a limit as it is. */
int refcache_set_limits(int fd, uint64_t max_objects, uint64_t max_bytes);

/*
 * Run @count operations in one call: the number run (>= 0; each has its
 * error and result set) or -errno for a bad batch.
 */
int refcache_batch(int fd, struct refcache_op *ops, uint32_t count,
		   uint32_t flags);

/*
 * The cycle collector (ABI 1.2, REFCACHE_FEATURE_GC), named after
 * CPython's gc module.  Counts that can be large are int64_t.
 */

/* gc.collect(generation): unreachable objects found (>= 0) or -errno. */
int64_t refcache_gc_collect(int fd, int generation);

/* The same, with collected and uncollectable too, in *@out. */
int refcache_gc_collect_ex(int fd, int generation,
			   struct refcache_gc_collect *out);

/* gc.enable(), gc.disable(); gc.isenabled(): 1, 0 or -errno. */
int refcache_gc_enable(int fd);
int refcache_gc_disable(int fd);
int refcache_gc_isenabled(int fd);

/* gc.get_threshold() into @t, gc.set_threshold(t0, t1, t2). */
int refcache_gc_get_threshold(int fd, unsigned int t[3]);
int refcache_gc_set_threshold(int fd, unsigned int t0, unsigned int t1,
			      unsigned int t2);

/* gc.get_count() into @c. */
int refcache_gc_get_count(int fd, uint64_t c[3]);

/* gc.get_stats(): per generation, in st->gen[]. */
int refcache_gc_get_stats(int fd, struct refcache_gc_stats *st);

/* gc.freeze(), gc.unfreeze(): objects moved; gc.get_freeze_count(). */
int64_t refcache_gc_freeze(int fd);
int64_t refcache_gc_unfreeze(int fd);
int64_t refcache_gc_get_freeze_count(int fd);

/* gc.is_tracked(): 1 if @handle's object is tracked, 0 if not, or -errno. */
int refcache_gc_is_tracked(int fd, uint64_t handle);

/*
 * Up to @max collection records into @ev (read(2) on the heap): the
 * number read (>= 1) or -errno; -EAGAIN when none is queued on an
 * O_NONBLOCK descriptor, else it waits for one.
 */
int refcache_gc_read_events(int fd, struct refcache_gc_event *ev, size_t max);

/*
 * Looking inside a heap (ABI 1.4, REFCACHE_FEATURE_INSPECT).  The paged
 * calls take *@cursor (0 for the first page) and leave there where the
 * next page starts, 0 after the last; they return how many strong
 * handles they wrote to @handles (up to @max), which the caller owns.
 */

/* gc.get_objects(): objects of the lists @which (REFCACHE_OBJECTS_*). */
int refcache_gc_get_objects(int fd, uint32_t which, uint64_t *cursor,
			    uint64_t *handles, uint32_t max);

/* gc.get_referents(): what @handle's object holds. */
int refcache_gc_get_referents(int fd, uint64_t handle, uint64_t *cursor,
			      uint64_t *handles, uint32_t max);

/* gc.get_referrers(): the objects that hold @handle's object (walks the heap). */
int refcache_gc_get_referrers(int fd, uint64_t handle, uint64_t *cursor,
			      uint64_t *handles, uint32_t max);

/* gc.garbage as handles; del gc.garbage[:]: objects dropped or -errno. */
int refcache_gc_get_garbage(int fd, uint64_t *cursor, uint64_t *handles, uint32_t max);
int64_t refcache_gc_clear_garbage(int fd);
int64_t refcache_gc_garbage_count(int fd);

/* gc.set_debug(REFCACHE_GC_DEBUG_*), gc.get_debug(): flags or -errno. */
int refcache_gc_set_debug(int fd, unsigned int flags);
int refcache_gc_get_debug(int fd);

/*
 * The whole heap as one snapshot: *@records (to free()) gets *@nrecords
 * struct refcache_dump_record.
 */
int refcache_heap_dump(int fd, struct refcache_dump_record **records, size_t *nrecords);

#ifdef __cplusplus
}
#endif

#endif /* REFCACHE_H */
