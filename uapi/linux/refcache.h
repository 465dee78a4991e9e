/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * refcache: refcounted object caches with a cycle collector, reached
 * through /dev/refcache.
 *
 * ABI rules (Documentation/uapi.rst):
 *  - every argument structure starts with "__u32 size; __u32 flags;";
 *    size is sizeof the structure as the caller knows it, and the kernel
 *    accepts any size from the first published version (..._SIZE_VER0)
 *    up to a page, copying it with copy_struct_from_user(): bytes the
 *    kernel does not know must be zero (else -E2BIG);
 *  - the size bits of the ioctl number are ignored, so a caller built
 *    against a newer header still reaches an older kernel;
 *  - unknown flags and non-zero reserved fields give -EINVAL, unknown
 *    commands -ENOTTY, bad user pointers -EFAULT;
 *  - a call that fails leaves nothing the caller cannot name and changes
 *    no payload; commands that allocate can fail with -EDQUOT (the heap's
 *    limits, its user's budget) or -ENOMEM (the module's limits, no
 *    memory), as can open(2) of /dev/refcache (Documentation/limits.rst);
 *  - fixed-width types only, pointers travel as __u64, padding explicit.
 */
#ifndef _UAPI_LINUX_REFCACHE_H
#define _UAPI_LINUX_REFCACHE_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define REFCACHE_ABI_MAJOR	1
#define REFCACHE_ABI_MINOR	4

/* Feature bits reported by REFCACHE_IOC_VERSION. */
#define REFCACHE_FEATURE_HEAP	_BITULL(0)	/* one heap per open file */
#define REFCACHE_FEATURE_OBJECTS	_BITULL(1)	/* caches, objects, handles, batch */
#define REFCACHE_FEATURE_GC	_BITULL(2)	/* cycle collector, events on read() (ABI 1.2) */
#define REFCACHE_FEATURE_BIASED	_BITULL(3)	/* REFCACHE_CACHE_BIASED (ABI 1.3) */
#define REFCACHE_FEATURE_INSPECT	_BITULL(4)	/* gc.get_objects() and friends (ABI 1.4) */

#define REFCACHE_IOC_MAGIC	0xB9

/**
 * struct refcache_version - REFCACHE_IOC_VERSION argument
 * @size:     in: sizeof(struct refcache_version) as the caller knows it
 * @flags:    in: must be 0
 * @major:    out: REFCACHE_ABI_MAJOR of the running module
 * @minor:    out: REFCACHE_ABI_MINOR of the running module
 * @features: out: REFCACHE_FEATURE_* bits the module supports
 * @reserved: in: must be zero; out: zero
 */
struct refcache_version {
	__u32 size;
	__u32 flags;
	__u32 major;
	__u32 minor;
	__u64 features;
	__u64 reserved[2];
};

#define REFCACHE_VERSION_SIZE_VER0	24	/* up to and including features */

#define REFCACHE_IOC_VERSION	_IOWR(REFCACHE_IOC_MAGIC, 0x00, struct refcache_version)

/*
 * Objects, caches and handles.
 *
 * A handle is a non-zero 64-bit id in the heap's handle table; a strong
 * handle owns one reference to its object, a weak handle none.  An id is
 * tag << 48 | generation << 24 | index.  Each table entry counts its own
 * generations and is retired when its generation would wrap, so a closed
 * id gives -EBADF and never becomes valid again in its heap.  The tag is
 * heap_id % 65535 + 1: another heap's ids give -EBADF, except that heaps
 * whose ids differ by a multiple of 65535 share a tag; an id is only ever
 * looked up in the heap it is used on.  Handle 0 means "none" (an empty
 * slot).
 */
#define REFCACHE_NAME_LEN		32
#define REFCACHE_MAX_SLOTS		64
#define REFCACHE_MAX_PAYLOAD		_BITUL(20)

/* struct refcache_cache_create.flags */
#define REFCACHE_CACHE_TRACKED		_BITUL(0)	/* seen by the cycle collector */
/*
 * Biased reference counting (PEP 703): the thread that creates an object
 * counts its own references without atomic instructions, others share an
 * atomic count; the two merge when the object may die.  Counts, frees,
 * weak handles and the collector behave as without it
 * (Documentation/objects.rst, "Biased reference counting").  ABI 1.3.
 */
#define REFCACHE_CACHE_BIASED		_BITUL(1)
#define REFCACHE_CACHE_FLAGS		(REFCACHE_CACHE_TRACKED | REFCACHE_CACHE_BIASED)

/**
 * struct refcache_cache_create - REFCACHE_IOC_CACHE_CREATE
 * @size:         sizeof(struct refcache_cache_create)
 * @flags:        REFCACHE_CACHE_*
 * @payload_size: bytes of payload per object, up to REFCACHE_MAX_PAYLOAD
 * @nslots:       reference slots per object, up to REFCACHE_MAX_SLOTS
 * @cache_id:     out: the new cache's id in this heap (non-zero); ids are
 *                handed out cyclically, so a destroyed cache's id is not
 *                reused until the 31-bit id space wraps
 * @reserved:     must be zero
 * @name:         shown in /proc/refcache/caches: 1 to 31 bytes, each 0x21
 *                to 0x7e (printable ASCII, no space), NUL-terminated
 *                within REFCACHE_NAME_LEN, else -EINVAL
 *
 * If the new id cannot be written back the call fails with -EFAULT and
 * the cache is destroyed again (unless another thread made objects in
 * it meanwhile).
 */
struct refcache_cache_create {
	__u32 size;
	__u32 flags;
	__u32 payload_size;
	__u32 nslots;
	__u32 cache_id;
	__u32 reserved;
	char name[REFCACHE_NAME_LEN];
};

#define REFCACHE_CACHE_CREATE_SIZE_VER0	56

/**
 * struct refcache_cache_destroy - REFCACHE_IOC_CACHE_DESTROY
 * @size:     sizeof(struct refcache_cache_destroy)
 * @flags:    must be 0
 * @cache_id: the cache; -EBUSY while it has live objects
 * @reserved: must be zero
 */
struct refcache_cache_destroy {
	__u32 size;
	__u32 flags;
	__u32 cache_id;
	__u32 reserved;
};

#define REFCACHE_CACHE_DESTROY_SIZE_VER0	16

/**
 * struct refcache_handle_op - argument of the one-handle operations
 * @size:   sizeof(struct refcache_handle_op)
 * @flags:  must be 0
 * @handle: in: the handle (or cache id for OBJ_NEW, see below)
 * @slot:   in: slot index for SLOT_LOAD and SLOT_STORE, else 0
 * @reserved: must be zero
 * @value:  in: handle to store (0 empties the slot) for SLOT_STORE
 * @result: out: the new handle for OBJ_NEW, DUP, SLOT_LOAD (0 when the
 *          slot is empty), WEAK_NEW and WEAK_UPGRADE; if it cannot be
 *          written back the call fails with -EFAULT and the new handle
 *          is closed again
 *
 * REFCACHE_IOC_OBJ_NEW:     @handle is a cache id; a new zeroed object
 * REFCACHE_IOC_DUP:         another strong handle to @handle's object
 * REFCACHE_IOC_CLOSE:       close @handle (strong or weak)
 * REFCACHE_IOC_SLOT_LOAD:   a strong handle to what @slot refers to
 * REFCACHE_IOC_SLOT_STORE:  @slot takes a reference to @value's object
 * REFCACHE_IOC_WEAK_NEW:    a weak handle to @handle's object
 * REFCACHE_IOC_WEAK_UPGRADE: a strong handle from the weak @handle, or
 *                           -ENOENT once the object is gone
 */
struct refcache_handle_op {
	__u32 size;
	__u32 flags;
	__u64 handle;
	__u32 slot;
	__u32 reserved;
	__u64 value;
	__u64 result;
};

#define REFCACHE_HANDLE_OP_SIZE_VER0	40

/**
 * struct refcache_payload_io - REFCACHE_IOC_READ / REFCACHE_IOC_WRITE
 * @size:   sizeof(struct refcache_payload_io)
 * @flags:  must be 0
 * @handle: a strong handle
 * @offset: first payload byte
 * @len:    bytes to copy; offset + len must lie inside the payload
 * @buf:    user buffer, as a __u64
 *
 * A WRITE that fails leaves the payload unchanged; a READ that fails with
 * -EFAULT may have written part of @buf.  A bad handle or range is
 * reported before -EFAULT.
 */
struct refcache_payload_io {
	__u32 size;
	__u32 flags;
	__u64 handle;
	__u32 offset;
	__u32 len;
	__u64 buf;
};

#define REFCACHE_PAYLOAD_IO_SIZE_VER0	32

/**
 * struct refcache_obj_info - REFCACHE_IOC_INFO
 * @size:         sizeof(struct refcache_obj_info)
 * @flags:        must be 0
 * @handle:       in: a strong handle
 * @refcount:     out: the object's reference count
 * @cache_id:     out: its cache
 * @nslots:       out: its reference slots
 * @payload_size: out: its payload bytes
 * @cache_flags:  out: its cache's REFCACHE_CACHE_* flags
 */
struct refcache_obj_info {
	__u32 size;
	__u32 flags;
	__u64 handle;
	__u64 refcount;
	__u32 cache_id;
	__u32 nslots;
	__u32 payload_size;
	__u32 cache_flags;
};

#define REFCACHE_OBJ_INFO_SIZE_VER0	40

/**
 * struct refcache_heap_info - REFCACHE_IOC_HEAP_INFO
 * @size:        sizeof(struct refcache_heap_info)
 * @flags:       must be 0
 * @heap_id:     out: as in /proc/refcache
 * @objects:     out: live objects
 * @bytes:       out: bytes charged to the heap: the heap and its per-CPU
 *               caches, arenas, large objects, handle table, caches
 * @handles:     out: open handles, strong and weak
 * @caches:      out: caches
 * @max_objects: out: the heap's object limit
 * @max_bytes:   out: the heap's byte limit, on @bytes
 */
struct refcache_heap_info {
	__u32 size;
	__u32 flags;
	__u64 heap_id;
	__u64 objects;
	__u64 bytes;
	__u64 handles;
	__u64 caches;
	__u64 max_objects;
	__u64 max_bytes;
};

#define REFCACHE_HEAP_INFO_SIZE_VER0	64

/**
 * struct refcache_heap_limits - REFCACHE_IOC_SET_LIMITS
 * @size:        sizeof(struct refcache_heap_limits)
 * @flags:       must be 0
 * @max_objects: new object limit; 0 keeps the current one
 * @max_bytes:   new limit on the bytes charged to the heap (heap_info's
 *               bytes); 0 keeps the current one
 *
 * Limits can only be lowered (raising one is -EPERM), and not below
 * what the heap already holds (-EBUSY).  Over a limit, the commands that
 * allocate give -EDQUOT.
 */
struct refcache_heap_limits {
	__u32 size;
	__u32 flags;
	__u64 max_objects;
	__u64 max_bytes;
};

#define REFCACHE_HEAP_LIMITS_SIZE_VER0	24

/* Operations of a batch: struct refcache_op.op */
enum refcache_op_code {
	REFCACHE_OP_NEW = 1,		/* arg = cache id -> result handle */
	REFCACHE_OP_DUP = 2,		/* handle -> result handle */
	REFCACHE_OP_CLOSE = 3,		/* handle */
	REFCACHE_OP_SLOT_LOAD = 4,	/* handle, arg = slot -> result */
	REFCACHE_OP_SLOT_STORE = 5,	/* handle, arg = slot, value */
	REFCACHE_OP_WEAK_NEW = 6,	/* handle -> result weak handle */
	REFCACHE_OP_WEAK_UPGRADE = 7,	/* handle -> result handle */
	REFCACHE_OP_REFCOUNT = 8,	/* handle -> result refcount */
};

/**
 * struct refcache_op - one operation of REFCACHE_IOC_BATCH
 * @op:       REFCACHE_OP_*
 * @flags:    must be 0
 * @handle:   the handle operated on
 * @arg:      cache id or slot index, as the operation says
 * @value:    handle to store, for REFCACHE_OP_SLOT_STORE
 * @result:   out: the operation's result
 * @error:    out: 0 or a negative errno
 * @reserved: must be zero
 */
struct refcache_op {
	__u16 op;
	__u16 flags;
	__u32 arg;
	__u64 handle;
	__u64 value;
	__u64 result;
	__s32 error;
	__u32 reserved;
};

/* struct refcache_batch.flags */
#define REFCACHE_BATCH_CONTINUE		_BITUL(0)	/* go on after a failure */
#define REFCACHE_BATCH_MAX		4096

/**
 * struct refcache_batch - REFCACHE_IOC_BATCH
 * @size:  sizeof(struct refcache_batch)
 * @flags: REFCACHE_BATCH_*
 * @count: operations in @ops, up to REFCACHE_BATCH_MAX
 * @done:  out: operations run (each has its @error set)
 * @ops:   user array of struct refcache_op, as a __u64
 *
 * Without REFCACHE_BATCH_CONTINUE the batch stops at the first failed
 * operation, which is the last one run.  The ioctl itself fails only for
 * a bad batch (-EINVAL, -EFAULT, -E2BIG); operations report in @error.
 * Only entries that ran are written, and only their @result and
 * @error.  On -EFAULT, @done (if writable) counts the operations that
 * ran, and handles made by those whose results could not be written are
 * closed again.
 */
struct refcache_batch {
	__u32 size;
	__u32 flags;
	__u32 count;
	__u32 done;
	__u64 ops;
};

#define REFCACHE_BATCH_SIZE_VER0	24

#define REFCACHE_IOC_CACHE_CREATE	\
	_IOWR(REFCACHE_IOC_MAGIC, 0x01, struct refcache_cache_create)
#define REFCACHE_IOC_CACHE_DESTROY	\
	_IOW(REFCACHE_IOC_MAGIC, 0x02, struct refcache_cache_destroy)
#define REFCACHE_IOC_OBJ_NEW		_IOWR(REFCACHE_IOC_MAGIC, 0x03, struct refcache_handle_op)
#define REFCACHE_IOC_DUP		_IOWR(REFCACHE_IOC_MAGIC, 0x04, struct refcache_handle_op)
#define REFCACHE_IOC_CLOSE		_IOW(REFCACHE_IOC_MAGIC, 0x05, struct refcache_handle_op)
#define REFCACHE_IOC_SLOT_LOAD		_IOWR(REFCACHE_IOC_MAGIC, 0x06, struct refcache_handle_op)
#define REFCACHE_IOC_SLOT_STORE		_IOW(REFCACHE_IOC_MAGIC, 0x07, struct refcache_handle_op)
#define REFCACHE_IOC_READ		_IOW(REFCACHE_IOC_MAGIC, 0x08, struct refcache_payload_io)
#define REFCACHE_IOC_WRITE		_IOW(REFCACHE_IOC_MAGIC, 0x09, struct refcache_payload_io)
#define REFCACHE_IOC_INFO		_IOWR(REFCACHE_IOC_MAGIC, 0x0a, struct refcache_obj_info)
#define REFCACHE_IOC_WEAK_NEW		_IOWR(REFCACHE_IOC_MAGIC, 0x0b, struct refcache_handle_op)
#define REFCACHE_IOC_WEAK_UPGRADE	_IOWR(REFCACHE_IOC_MAGIC, 0x0c, struct refcache_handle_op)
#define REFCACHE_IOC_HEAP_INFO		_IOWR(REFCACHE_IOC_MAGIC, 0x0d, struct refcache_heap_info)
#define REFCACHE_IOC_SET_LIMITS		_IOW(REFCACHE_IOC_MAGIC, 0x0e, struct refcache_heap_limits)
#define REFCACHE_IOC_BATCH		_IOWR(REFCACHE_IOC_MAGIC, 0x0f, struct refcache_batch)

/*
 * The cycle collector (ABI 1.2; Documentation/collector.rst).  CPython's
 * generational collector, per heap: objects of tracked caches live in
 * generation 0, 1 or 2, or in the permanent generation once frozen.
 */
#define REFCACHE_GC_GENERATIONS		3

/**
 * struct refcache_gc_collect - REFCACHE_IOC_GC_COLLECT, as gc.collect()
 * @size:          sizeof(struct refcache_gc_collect)
 * @flags:         must be 0
 * @generation:    in: collect generations 0..@generation (0, 1 or 2)
 * @reserved:      must be zero
 * @unreachable:   out: unreachable objects found (what gc.collect() returns):
 *                 @collected + @uncollectable
 * @collected:     out: objects freed
 * @uncollectable: out: unreachable objects that could not be freed (kernel
 *                 caches with a traverse callback but no clear callback)
 *
 * Runs in the caller, whether or not automatic collection is enabled.
 * -EINVAL for a generation above 2.
 */
struct refcache_gc_collect {
	__u32 size;
	__u32 flags;
	__u32 generation;
	__u32 reserved;
	__u64 unreachable;
	__u64 collected;
	__u64 uncollectable;
};

#define REFCACHE_GC_COLLECT_SIZE_VER0	40

/**
 * struct refcache_gc_info - REFCACHE_IOC_GC_GET: the collector's state
 * @size:         sizeof(struct refcache_gc_info)
 * @flags:        must be 0
 * @enabled:      out: 1 if automatic collection is enabled (gc.isenabled())
 * @reserved:     out: zero
 * @threshold:    out: gc.get_threshold()
 * @reserved2:    out: zero
 * @count:        out: gc.get_count(): tracked allocations minus
 *                deallocations since the last collection (generation 0),
 *                collections of the next younger generation since the
 *                last collection of this one (1 and 2)
 * @freeze_count: out: objects in the permanent generation
 *                (gc.get_freeze_count())
 */
struct refcache_gc_info {
	__u32 size;
	__u32 flags;
	__u32 enabled;
	__u32 reserved;
	__u32 threshold[REFCACHE_GC_GENERATIONS];
	__u32 reserved2;
	__u64 count[REFCACHE_GC_GENERATIONS];
	__u64 freeze_count;
};

#define REFCACHE_GC_INFO_SIZE_VER0	64

/* struct refcache_gc_set.flags: what to change */
#define REFCACHE_GC_SET_ENABLED		_BITUL(0)	/* gc.enable() / gc.disable() */
#define REFCACHE_GC_SET_THRESHOLD	_BITUL(1)	/* gc.set_threshold() */
#define REFCACHE_GC_SET_FLAGS		(REFCACHE_GC_SET_ENABLED | REFCACHE_GC_SET_THRESHOLD)

/**
 * struct refcache_gc_set - REFCACHE_IOC_GC_SET
 * @size:      sizeof(struct refcache_gc_set)
 * @flags:     REFCACHE_GC_SET_*; at least one
 * @enabled:   with REFCACHE_GC_SET_ENABLED: 0 or 1
 * @reserved:  must be zero
 * @threshold: with REFCACHE_GC_SET_THRESHOLD: the three thresholds; a
 *             threshold[0] of 0 disables automatic collection, as in CPython
 * @reserved2: must be zero
 */
struct refcache_gc_set {
	__u32 size;
	__u32 flags;
	__u32 enabled;
	__u32 reserved;
	__u32 threshold[REFCACHE_GC_GENERATIONS];
	__u32 reserved2;
};

#define REFCACHE_GC_SET_SIZE_VER0	32

/* struct refcache_gc_freeze.flags */
#define REFCACHE_GC_UNFREEZE		_BITUL(0)	/* gc.unfreeze() instead */

/**
 * struct refcache_gc_freeze - REFCACHE_IOC_GC_FREEZE: gc.freeze()
 * @size:     sizeof(struct refcache_gc_freeze)
 * @flags:    0 to freeze, REFCACHE_GC_UNFREEZE to unfreeze
 * @moved:    out: objects moved (into the permanent generation, or out of
 *            it into generation 2)
 */
struct refcache_gc_freeze {
	__u32 size;
	__u32 flags;
	__u64 moved;
};

#define REFCACHE_GC_FREEZE_SIZE_VER0	16

/**
 * struct refcache_gc_gen_stats - one generation of gc.get_stats()
 * @collections:    collections of this generation
 * @collected:      objects they freed
 * @uncollectable:  unreachable objects they could not free
 * @candidates:     objects they examined
 * @pause_total_ns: time spent in them, with the heap locked
 * @pause_max_ns:   the longest of them
 */
struct refcache_gc_gen_stats {
	__u64 collections;
	__u64 collected;
	__u64 uncollectable;
	__u64 candidates;
	__u64 pause_total_ns;
	__u64 pause_max_ns;
};

/**
 * struct refcache_gc_stats - REFCACHE_IOC_GC_STATS
 * @size:  sizeof(struct refcache_gc_stats)
 * @flags: must be 0
 * @gen:   out: per generation
 */
struct refcache_gc_stats {
	__u32 size;
	__u32 flags;
	struct refcache_gc_gen_stats gen[REFCACHE_GC_GENERATIONS];
};

#define REFCACHE_GC_STATS_SIZE_VER0	152

/* struct refcache_gc_event.reason */
#define REFCACHE_GC_REASON_AUTO		1	/* thresholds, on the workqueue */
#define REFCACHE_GC_REASON_EXPLICIT	2	/* REFCACHE_IOC_GC_COLLECT */
#define REFCACHE_GC_REASON_PRESSURE	3	/* the kernel reclaims memory (shrinker) */
#define REFCACHE_GC_REASON_QUOTA	4	/* an allocation was over a budget */

/**
 * struct refcache_gc_event - one record read() returns from a heap's fd
 * @size:          sizeof(struct refcache_gc_event)
 * @generation:    the oldest generation collected
 * @reason:        REFCACHE_GC_REASON_*
 * @dropped:       records lost to a full queue just before this one (the
 *                 gap in @seq before it)
 * @seq:           1 for the heap's first collection, then counting up
 * @candidates:    objects examined
 * @collected:     objects freed
 * @uncollectable: unreachable objects not freed
 * @duration_ns:   the pause, with the heap locked
 *
 * After each collection the heap's file becomes readable (poll()); read()
 * returns as many whole records as fit in its buffer (-EINVAL for a
 * buffer smaller than one record; -EAGAIN on an empty queue with
 * O_NONBLOCK, else it waits).  The queue holds REFCACHE_GC_EVENTS_MAX
 * records; when it is full the oldest is dropped and counted in the
 * @dropped of the record after it.
 */
struct refcache_gc_event {
	__u32 size;
	__u32 generation;
	__u32 reason;
	__u32 dropped;
	__u64 seq;
	__u64 candidates;
	__u64 collected;
	__u64 uncollectable;
	__u64 duration_ns;
};

#define REFCACHE_GC_EVENTS_MAX		64

#define REFCACHE_IOC_GC_COLLECT		_IOWR(REFCACHE_IOC_MAGIC, 0x10, struct refcache_gc_collect)
#define REFCACHE_IOC_GC_GET		_IOWR(REFCACHE_IOC_MAGIC, 0x11, struct refcache_gc_info)
#define REFCACHE_IOC_GC_SET		_IOW(REFCACHE_IOC_MAGIC, 0x12, struct refcache_gc_set)
#define REFCACHE_IOC_GC_FREEZE		_IOWR(REFCACHE_IOC_MAGIC, 0x13, struct refcache_gc_freeze)
#define REFCACHE_IOC_GC_STATS		_IOWR(REFCACHE_IOC_MAGIC, 0x14, struct refcache_gc_stats)
/* struct refcache_handle_op: @handle in, @result out: 1 if tracked, else 0 */
#define REFCACHE_IOC_GC_IS_TRACKED	_IOWR(REFCACHE_IOC_MAGIC, 0x15, struct refcache_handle_op)

/*
 * Looking inside a heap (ABI 1.4, REFCACHE_FEATURE_INSPECT;
 * Documentation/collector.rst, "Looking inside a heap"): CPython's
 * gc.get_objects(), gc.get_referents(), gc.get_referrers(), gc.garbage
 * with gc.set_debug(), and a dump of the whole heap.
 */

/* struct refcache_gc_objects.which, for REFCACHE_IOC_GC_GET_OBJECTS */
#define REFCACHE_OBJECTS_GEN0		_BITUL(0)
#define REFCACHE_OBJECTS_GEN1		_BITUL(1)
#define REFCACHE_OBJECTS_GEN2		_BITUL(2)
#define REFCACHE_OBJECTS_PERMANENT	_BITUL(3)	/* frozen objects */
#define REFCACHE_OBJECTS_UNTRACKED	_BITUL(4)	/* objects of untracked caches */
/* gc.get_objects(generation=None): the three generations */
#define REFCACHE_OBJECTS_ALL		(REFCACHE_OBJECTS_GEN0 | REFCACHE_OBJECTS_GEN1 | \
					 REFCACHE_OBJECTS_GEN2)
#define REFCACHE_OBJECTS_MASK		(REFCACHE_OBJECTS_ALL | REFCACHE_OBJECTS_PERMANENT | \
					 REFCACHE_OBJECTS_UNTRACKED)

/* struct refcache_gc_objects.flags, for REFCACHE_IOC_GC_GARBAGE */
#define REFCACHE_GARBAGE_CLEAR		_BITUL(0)	/* del gc.garbage[:] */

/* Most handles one call returns. */
#define REFCACHE_GC_OBJECTS_MAX		4096

/**
 * struct refcache_gc_objects - a page of handles to objects
 * @size:     sizeof(struct refcache_gc_objects)
 * @flags:    0, or REFCACHE_GARBAGE_CLEAR for REFCACHE_IOC_GC_GARBAGE
 * @which:    REFCACHE_IOC_GC_GET_OBJECTS: REFCACHE_OBJECTS_* (not 0);
 *            else must be 0
 * @count:    room in @handles: 1 to REFCACHE_GC_OBJECTS_MAX (0 only with
 *            REFCACHE_GARBAGE_CLEAR)
 * @cursor:   in: 0 for the first page, then the @cursor the previous call
 *            returned; out: where the next page starts, 0 after the last
 * @handle:   REFCACHE_IOC_GC_GET_REFERENTS and _REFERRERS: a strong
 *            handle to the object asked about; else must be 0
 * @handles:  user array of @count __u64, as a __u64: out, @returned new
 *            strong handles the caller owns and closes
 * @returned: out: handles written to @handles (CLEAR: objects dropped)
 * @reserved: must be zero
 *
 * REFCACHE_IOC_GC_GET_OBJECTS: gc.get_objects(): the live objects on the
 * lists @which names, in list order.
 * REFCACHE_IOC_GC_GET_REFERENTS: gc.get_referents(): what @handle's
 * slots hold, in slot order, then what a kernel cache's traverse
 * callback reports within the heap.  An object held twice comes twice.
 * REFCACHE_IOC_GC_GET_REFERRERS: gc.get_referrers(): every object of the
 * heap (tracked, frozen or not) holding @handle's object, once each; it
 * walks the whole heap, as CPython does.
 * REFCACHE_IOC_GC_GARBAGE: gc.garbage, as handles; with
 * REFCACHE_GARBAGE_CLEAR (and @count, @cursor, @handles zero) it is
 * emptied instead, which may free its objects.
 *
 * The heap's lock is dropped between calls: objects made, freed or moved
 * meanwhile may be missed or seen twice (the dump is one snapshot).  A
 * call that fails (-EFAULT included) leaves no new handle open.
 */
struct refcache_gc_objects {
	__u32 size;
	__u32 flags;
	__u32 which;
	__u32 count;
	__u64 cursor;
	__u64 handle;
	__u64 handles;
	__u32 returned;
	__u32 reserved;
};

#define REFCACHE_GC_OBJECTS_SIZE_VER0	48

/* Debug flags, CPython's gc.DEBUG_* with their values. */
#define REFCACHE_GC_DEBUG_STATS		_BITUL(0)	/* log each collection */
#define REFCACHE_GC_DEBUG_COLLECTABLE	_BITUL(1)	/* log what is collectable */
#define REFCACHE_GC_DEBUG_UNCOLLECTABLE	_BITUL(2)	/* log what is not */
#define REFCACHE_GC_DEBUG_SAVEALL	_BITUL(5)	/* keep the garbage in gc.garbage */
#define REFCACHE_GC_DEBUG_LEAK		(REFCACHE_GC_DEBUG_COLLECTABLE | \
					 REFCACHE_GC_DEBUG_UNCOLLECTABLE | \
					 REFCACHE_GC_DEBUG_SAVEALL)
#define REFCACHE_GC_DEBUG_MASK		(REFCACHE_GC_DEBUG_STATS | REFCACHE_GC_DEBUG_LEAK)

/* struct refcache_gc_debug.flags */
#define REFCACHE_GC_DEBUG_SET		_BITUL(0)	/* gc.set_debug(@debug) */

/**
 * struct refcache_gc_debug - REFCACHE_IOC_GC_DEBUG: gc.set_debug(), gc.get_debug()
 * @size:     sizeof(struct refcache_gc_debug)
 * @flags:    0 to read, REFCACHE_GC_DEBUG_SET to set @debug
 * @debug:    in with REFCACHE_GC_DEBUG_SET: REFCACHE_GC_DEBUG_* (else must
 *            be 0); out: the heap's debug flags
 * @reserved: must be zero
 * @garbage:  out: objects in gc.garbage
 *
 * With SAVEALL a collection puts every unreachable object it finds in
 * the heap's gc.garbage, holding a reference, instead of freeing it (it
 * still counts as collected, as in CPython).  gc.garbage is charged to
 * the heap; when it cannot grow the collection frees its garbage as
 * without SAVEALL.  STATS, COLLECTABLE and UNCOLLECTABLE log to the
 * kernel log, rate limited, naming heap ids and cache names only.
 */
struct refcache_gc_debug {
	__u32 size;
	__u32 flags;
	__u32 debug;
	__u32 reserved;
	__u64 garbage;
};

#define REFCACHE_GC_DEBUG_SIZE_VER0	24

/* struct refcache_dump_record.kind */
#define REFCACHE_DUMP_CACHE		1
#define REFCACHE_DUMP_OBJECT		2
#define REFCACHE_DUMP_EDGE		3
#define REFCACHE_DUMP_HANDLE		4

/* struct refcache_dump_record.flags of an OBJECT */
#define REFCACHE_DUMP_TRACKED		_BITUL(0)	/* its cache is tracked */
#define REFCACHE_DUMP_FROZEN		_BITUL(1)	/* in the permanent generation */
#define REFCACHE_DUMP_GARBAGE		_BITUL(2)	/* held by gc.garbage */
#define REFCACHE_DUMP_WEAKREFD		_BITUL(3)	/* has weak handles */
/* ... of a HANDLE */
#define REFCACHE_DUMP_WEAK		_BITUL(0)	/* a weak handle */
/* struct refcache_dump_record.index of an EDGE from a traverse callback */
#define REFCACHE_DUMP_TRAVERSE		0xffffffffU

/**
 * struct refcache_dump_record - one record of a heap dump
 * @kind:       REFCACHE_DUMP_CACHE, _OBJECT, _EDGE or _HANDLE
 * @flags:      CACHE: its REFCACHE_CACHE_* flags; OBJECT: REFCACHE_DUMP_*
 *              object flags; HANDLE: REFCACHE_DUMP_WEAK; EDGE: 0
 * @cache_id:   CACHE, OBJECT: the cache's id (0 for a kernel cache); else 0
 * @id:         OBJECT: the object's number in this dump (1, 2, ...);
 *              EDGE: the referring object's number; HANDLE: the object's
 *              number; CACHE: 0
 * @value:      CACHE: payload bytes; OBJECT: its reference count; EDGE:
 *              the referenced object's number; HANDLE: the handle id
 * @index:      CACHE: slots per object; OBJECT: strong handles to it;
 *              EDGE: the slot, or REFCACHE_DUMP_TRAVERSE; HANDLE: 0
 * @generation: OBJECT: 0..2, 3 for the permanent generation, -1 for an
 *              untracked object; else -1
 * @name:       CACHE: the cache's name, NUL-terminated; else zeros
 *
 * Object numbers are given in the dump only: no record carries a kernel
 * address.  Caches come first, then each object followed by its edges,
 * then the open handles.
 */
struct refcache_dump_record {
	__u16 kind;
	__u16 flags;
	__u32 cache_id;
	__u64 id;
	__u64 value;
	__u32 index;
	__s32 generation;
	char name[REFCACHE_NAME_LEN];
};

/* struct refcache_heap_dump.flags */
#define REFCACHE_DUMP_START		_BITUL(0)	/* take a new snapshot */
#define REFCACHE_DUMP_END		_BITUL(1)	/* drop the snapshot */

/**
 * struct refcache_heap_dump - REFCACHE_IOC_HEAP_DUMP
 * @size:     sizeof(struct refcache_heap_dump)
 * @flags:    REFCACHE_DUMP_START: snapshot the heap (under its lock,
 *            the collector's still) and return the first page;
 *            REFCACHE_DUMP_END: drop the snapshot (@count, @cursor and
 *            @records zero); 0: the page at @cursor
 * @count:    room in @records, up to REFCACHE_GC_OBJECTS_MAX records
 * @returned: out: records written
 * @cursor:   in: the first record wanted (0 with START); out: the next
 *            one, 0 after the last
 * @snapshot: in: without START, the snapshot read (else -ESTALE); out:
 *            the snapshot's number
 * @total:    out: records in the snapshot
 * @records:  user array of @count struct refcache_dump_record, as a __u64
 *
 * A heap keeps one snapshot, charged to it: a dump of a heap near its
 * byte limit fails with -EDQUOT.  A START that fails keeps the previous
 * snapshot.  The snapshot is dropped with END, by the next START, or
 * when the heap goes away.
 */
struct refcache_heap_dump {
	__u32 size;
	__u32 flags;
	__u32 count;
	__u32 returned;
	__u64 cursor;
	__u64 snapshot;
	__u64 total;
	__u64 records;
};

#define REFCACHE_HEAP_DUMP_SIZE_VER0	48

/* Numbered from 0x20: room below for commands of other series. */
#define REFCACHE_IOC_GC_GET_OBJECTS	\
	_IOWR(REFCACHE_IOC_MAGIC, 0x20, struct refcache_gc_objects)
#define REFCACHE_IOC_GC_GET_REFERENTS	\
	_IOWR(REFCACHE_IOC_MAGIC, 0x21, struct refcache_gc_objects)
#define REFCACHE_IOC_GC_GET_REFERRERS	\
	_IOWR(REFCACHE_IOC_MAGIC, 0x22, struct refcache_gc_objects)
#define REFCACHE_IOC_GC_GARBAGE		_IOWR(REFCACHE_IOC_MAGIC, 0x23, struct refcache_gc_objects)
#define REFCACHE_IOC_GC_DEBUG		_IOWR(REFCACHE_IOC_MAGIC, 0x24, struct refcache_gc_debug)
#define REFCACHE_IOC_HEAP_DUMP		_IOWR(REFCACHE_IOC_MAGIC, 0x25, struct refcache_heap_dump)

#endif /* _UAPI_LINUX_REFCACHE_H */
