// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/refcache: each open file is one heap; ioctls act on it.
 *
 * Argument structures follow the rules in uapi/linux/refcache.h: the
 * size bits of the command are ignored and the structure's own size
 * field decides how much is copied, so old and new callers both work.
 */
#include <linux/fs.h>
#include <linux/memcontrol.h>
#include <linux/miscdevice.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <linux/refcache.h>

#include "biased.h"
#include "inspect.h"

#define REFCACHE_IOC_SIZE_MASK	(_IOC_SIZEMASK << _IOC_SIZESHIFT)
#define REFCACHE_IOC_BASE(cmd)	((cmd) & ~REFCACHE_IOC_SIZE_MASK)

/*
 * Copy an argument structure of @ksize bytes whose first field is its
 * size as user space knows it.  Anything below @minsize is -EINVAL,
 * anything past a page -E2BIG; unknown trailing bytes must be zero.
 * Returns the user's size or a negative errno.
 */
static long refcache_copy_args(void *karg, size_t ksize, size_t minsize,
			       const void __user *uarg)
{
	u32 usize;
	int ret;

	if (get_user(usize, (const u32 __user *)uarg))
		return -EFAULT;
	if (usize < minsize)
		return -EINVAL;
	if (usize > PAGE_SIZE)
		return -E2BIG;
	ret = copy_struct_from_user(karg, ksize, uarg, usize);
	if (ret)
		return ret;
	return usize;
}

/* Copy a result back, never more than the caller said it has room for. */
static int refcache_copy_result(void __user *uarg, const void *karg,
				size_t ksize, size_t usize)
{
	if (copy_to_user(uarg, karg, min(ksize, usize)))
		return -EFAULT;
	return 0;
}

static long refcache_ioc_version(void __user *uarg)
{
	struct refcache_version v;
	long usize;

	usize = refcache_copy_args(&v, sizeof(v), REFCACHE_VERSION_SIZE_VER0,
				   uarg);
	if (usize < 0)
		return usize;
	if (v.flags || v.reserved[0] || v.reserved[1])
		return -EINVAL;

	v.major = REFCACHE_ABI_MAJOR;
	v.minor = REFCACHE_ABI_MINOR;
	v.features = REFCACHE_FEATURE_HEAP | REFCACHE_FEATURE_OBJECTS | REFCACHE_FEATURE_GC |
		     REFCACHE_FEATURE_BIASED | REFCACHE_FEATURE_INSPECT;
	return refcache_copy_result(uarg, &v, sizeof(v), usize);
}

/* The single-operation ioctls sharing struct refcache_handle_op. */
static long refcache_ioc_handle_op(struct refcache_heap *heap, u16 code,
				   void __user *uarg)
{
	struct refcache_handle_op h;
	struct refcache_op op = {};
	long usize;
	int ret;

	usize = refcache_copy_args(&h, sizeof(h), REFCACHE_HANDLE_OP_SIZE_VER0, uarg);
	if (usize < 0)
		return usize;
	if (h.flags || h.reserved)
		return -EINVAL;

	op.op = code;
	op.handle = h.handle;
	op.arg = h.slot;
	op.value = h.value;
	if (code == REFCACHE_OP_NEW) {
		if (h.slot)
			return -EINVAL;
		if (h.handle > U32_MAX)
			return -ENOENT;
		op.handle = 0;
		op.arg = h.handle;
	}
	refcache_objspace_lock(heap);
	ret = refcache_handle_op_locked(heap, &op);
	refcache_heap_unlock(heap);
	/* CLOSE and SLOT_STORE (_IOW) return nothing; the rest a handle. */
	if (ret || code == REFCACHE_OP_CLOSE || code == REFCACHE_OP_SLOT_STORE)
		return ret;
	h.result = op.result;
	ret = refcache_copy_result(uarg, &h, sizeof(h), usize);
	if (ret && op.result) {
		/* Nobody can learn the new handle's id: do not leak it. */
		refcache_objspace_lock(heap);
		refcache_handle_close_locked(heap, op.result);
		refcache_heap_unlock(heap);
	}
	return ret;
}

/*
 * Prove that results can be written back before running anything, but
 * write nothing new: on every page the chunk's outputs touch, one output
 * field is read and written back with the value it had.  @lastp carries
 * the last page proven from one chunk to the next.
 */
static int probe_writable(struct refcache_op __user *uops, u32 n, unsigned long *lastp)
{
	unsigned long last = *lastp;
	u64 v;
	s32 e;
	u32 j;

	for (j = 0; j < n; j++) {
		if (((unsigned long)&uops[j].result & PAGE_MASK) != last) {
			if (get_user(v, &uops[j].result) || put_user(v, &uops[j].result))
				return -EFAULT;
			last = (unsigned long)&uops[j].result & PAGE_MASK;
		}
		if (((unsigned long)&uops[j].error & PAGE_MASK) != last) {
			if (get_user(e, &uops[j].error) || put_user(e, &uops[j].error))
				return -EFAULT;
			last = (unsigned long)&uops[j].error & PAGE_MASK;
		}
	}
	*lastp = last;
	return 0;
}

/*
 * Read the fields operations take in; result and error are outputs.
 * Field by field: cheaper than one copy of whole entries, under emulation
 * as natively, since the copy would be a byte loop.
 */
static int read_ops(struct refcache_op *ops, const struct refcache_op __user *uops, u32 n)
{
	u32 j;

	if (!user_read_access_begin(uops, n * sizeof(*ops)))
		return -EFAULT;
	for (j = 0; j < n; j++) {
		unsafe_get_user(ops[j].op, &uops[j].op, fault);
		unsafe_get_user(ops[j].flags, &uops[j].flags, fault);
		unsafe_get_user(ops[j].arg, &uops[j].arg, fault);
		unsafe_get_user(ops[j].handle, &uops[j].handle, fault);
		unsafe_get_user(ops[j].value, &uops[j].value, fault);
		unsafe_get_user(ops[j].reserved, &uops[j].reserved, fault);
	}
	user_read_access_end();
	return 0;
fault:
	user_read_access_end();
	return -EFAULT;
}

/*
 * Only result and error change: write back those, not whole entries.
 * error goes first: an entry straddling a page can lose its error but
 * keep a fresh result only if the result is written first, and then the
 * caller would name a handle that is closed again.  Returns how many
 * entries were written in full.
 */
static u32 write_results(struct refcache_op __user *uops,
			 const struct refcache_op *ops, u32 n)
{
	u32 j = 0;

	if (!user_write_access_begin(uops, n * sizeof(*ops)))
		return 0;
	for (; j < n; j++) {
		unsafe_put_user(ops[j].error, &uops[j].error, out);
		unsafe_put_user(ops[j].result, &uops[j].result, out);
	}
out:
	user_write_access_end();
	return j;
}

static bool op_makes_handle(const struct refcache_op *op)
{
	switch (op->op) {
	case REFCACHE_OP_NEW:
	case REFCACHE_OP_DUP:
	case REFCACHE_OP_SLOT_LOAD:
	case REFCACHE_OP_WEAK_NEW:
	case REFCACHE_OP_WEAK_UPGRADE:
		return !op->error && op->result;
	default:
		return false;
	}
}

/* Operations copied in and run per heap lock; 1280 bytes of stack. */
#define BATCH_CHUNK	32

static long refcache_ioc_batch(struct refcache_heap *heap, void __user *uarg)
{
	/* On the stack: a batch allocates nothing of its own. */
	struct refcache_op ops[BATCH_CHUNK];
	unsigned long probed = ~0UL;
	struct refcache_batch b;
	u32 i, n;
	long usize;
	int ret = 0;

	usize = refcache_copy_args(&b, sizeof(b), REFCACHE_BATCH_SIZE_VER0, uarg);
	if (usize < 0)
		return usize;
	if ((b.flags & ~REFCACHE_BATCH_CONTINUE) || b.done || !b.count)
		return -EINVAL;
	if (b.count > REFCACHE_BATCH_MAX)
		return -E2BIG;

	for (i = 0; i < b.count; i += n) {
		struct refcache_op __user *uops = u64_to_user_ptr(b.ops) + i * sizeof(*ops);
		bool stop = false;
		u32 j, w;

		n = min_t(u32, BATCH_CHUNK, b.count - i);
		if (read_ops(ops, uops, n) ||
		    probe_writable(uops, n, &probed)) {
			ret = -EFAULT;
			break;
		}
		refcache_objspace_lock(heap);
		for (j = 0; j < n && !stop; j++) {
			ops[j].error = refcache_handle_op_locked(heap, &ops[j]);
			stop = ops[j].error && !(b.flags & REFCACHE_BATCH_CONTINUE);
		}
		refcache_heap_unlock(heap);
		b.done += j;
		w = write_results(uops, ops, j);
		if (w < j) {
			/*
			 * The page went away after the probe: the caller
			 * cannot learn these handles, so they must not stay.
			 */
			refcache_objspace_lock(heap);
			for (; w < j; w++)
				if (op_makes_handle(&ops[w]))
					refcache_handle_close_locked(heap, ops[w].result);
			refcache_heap_unlock(heap);
			ret = -EFAULT;
			break;
		}
		if (stop)
			break;
	}
	if (ret) {
		/* Say how many ran, so a partly unreadable array loses nothing. */
		if (put_user(b.done, &((struct refcache_batch __user *)uarg)->done))
			return -EFAULT;
		return ret;
	}
	return refcache_copy_result(uarg, &b, sizeof(b), usize);
}

/*
 * READ and WRITE go through a bounce buffer, so that a fault changes
 * nothing: WRITE takes all of the user's bytes before it touches the
 * payload, READ copies out only after the heap's lock is dropped.  The
 * payload itself is only touched under the lock, so the object needs no
 * reference of its own and a READ never sees half a WRITE.
 */
#define PAYLOAD_STACK_BYTES	128

static long refcache_ioc_payload(struct refcache_heap *heap, bool write,
				 void __user *uarg)
{
	struct refcache_payload_io io;
	u8 stackbuf[PAYLOAD_STACK_BYTES];
	struct refcache_obj *obj;
	void __user *ubuf;
	void *buf = stackbuf;
	bool fault;
	long usize;
	int ret;

	usize = refcache_copy_args(&io, sizeof(io), REFCACHE_PAYLOAD_IO_SIZE_VER0, uarg);
	if (usize < 0)
		return usize;
	if (io.flags)
		return -EINVAL;
	if (io.len > REFCACHE_MAX_PAYLOAD || io.offset > REFCACHE_MAX_PAYLOAD - io.len)
		return -EINVAL;
	ubuf = u64_to_user_ptr(io.buf);
	if (io.len > sizeof(stackbuf)) {
		buf = kvmalloc(io.len, GFP_KERNEL_ACCOUNT);
		if (!buf)
			return -ENOMEM;
	}
	/* A bad handle or range still wins over a bad buffer, as for READ. */
	fault = write && copy_from_user(buf, ubuf, io.len);

	refcache_objspace_lock(heap);
	ret = refcache_handle_lookup_locked(heap, io.handle, false, &obj);
	if (!ret && (io.len > obj->cache->payload_size ||
		     io.offset > obj->cache->payload_size - io.len))
		ret = -EINVAL;
	if (!ret && fault)
		ret = -EFAULT;
	if (!ret) {
		if (write)
			memcpy(refcache_obj_payload_of(obj) + io.offset, buf, io.len);
		else
			memcpy(buf, refcache_obj_payload_of(obj) + io.offset, io.len);
	}
	refcache_heap_unlock(heap);

	if (!ret && !write && copy_to_user(ubuf, buf, io.len))
		ret = -EFAULT;
	if (buf != stackbuf)
		kvfree(buf);
	return ret;
}

static long refcache_ioc_info(struct refcache_heap *heap, void __user *uarg)
{
	struct refcache_obj_info info;
	struct refcache_obj *obj;
	long usize;
	int ret;

	usize = refcache_copy_args(&info, sizeof(info), REFCACHE_OBJ_INFO_SIZE_VER0, uarg);
	if (usize < 0)
		return usize;
	if (info.flags)
		return -EINVAL;
	refcache_objspace_lock(heap);
	ret = refcache_handle_lookup_locked(heap, info.handle, false, &obj);
	if (!ret) {
		info.refcount = refcache_ref_read(obj);
		info.cache_id = obj->cache->id;
		info.nslots = obj->cache->nslots;
		info.payload_size = obj->cache->payload_size;
		info.cache_flags = obj->cache->flags & REFCACHE_CACHE_FLAGS;
	}
	refcache_heap_unlock(heap);
	if (ret)
		return ret;
	return refcache_copy_result(uarg, &info, sizeof(info), usize);
}

static long refcache_ioc_heap_info(struct refcache_heap *heap, void __user *uarg)
{
	struct refcache_heap_info hi;
	struct refcache_objspace *os = &heap->objs;
	long usize;

	usize = refcache_copy_args(&hi, sizeof(hi), REFCACHE_HEAP_INFO_SIZE_VER0, uarg);
	if (usize < 0)
		return usize;
	if (hi.flags)
		return -EINVAL;
	refcache_objspace_lock(heap);
	hi.heap_id = heap->id;
	hi.objects = os->objects;
	hi.bytes = atomic64_read(&heap->charged);
	hi.handles = os->nhandles;
	hi.caches = os->ncaches;
	hi.max_objects = os->max_objects;
	hi.max_bytes = os->max_bytes;
	refcache_heap_unlock(heap);
	return refcache_copy_result(uarg, &hi, sizeof(hi), usize);
}

static long refcache_ioc_set_limits(struct refcache_heap *heap, void __user *uarg)
{
	struct refcache_heap_limits lim;
	struct refcache_objspace *os = &heap->objs;
	long usize;
	int ret = 0;

	usize = refcache_copy_args(&lim, sizeof(lim), REFCACHE_HEAP_LIMITS_SIZE_VER0, uarg);
	if (usize < 0)
		return usize;
	if (lim.flags)
		return -EINVAL;
	refcache_objspace_lock(heap);
	if (!lim.max_objects)
		lim.max_objects = os->max_objects;
	if (!lim.max_bytes)
		lim.max_bytes = os->max_bytes;
	if (lim.max_objects > os->max_objects || lim.max_bytes > os->max_bytes)
		ret = -EPERM;
	else if (lim.max_objects < os->objects ||
		 lim.max_bytes < (u64)atomic64_read(&heap->charged))
		ret = -EBUSY;
	if (!ret) {
		os->max_objects = lim.max_objects;
		/* Read without the lock by refcache_charge(). */
		WRITE_ONCE(os->max_bytes, lim.max_bytes);
	}
	refcache_heap_unlock(heap);
	return ret;
}

/*
 * Prove that @len bytes at @uarg can be written, writing nothing new: the
 * first and the last word are read and written back with the values they
 * had, which covers every page of a result up to a page long.
 */
static int prove_writable(void __user *uarg, size_t len)
{
	u32 __user *first = uarg;
	u32 __user *last = uarg + len - sizeof(u32);
	u32 v;

	if (get_user(v, first) || put_user(v, first) ||
	    get_user(v, last) || put_user(v, last))
		return -EFAULT;
	return 0;
}

static long refcache_ioc_cache_create(struct refcache_heap *heap, void __user *uarg)
{
	struct refcache_cache_create cc;
	struct refcache_cache *cache;
	bool had_owners;
	long usize;
	int ret;

	usize = refcache_copy_args(&cc, sizeof(cc), REFCACHE_CACHE_CREATE_SIZE_VER0, uarg);
	if (usize < 0)
		return usize;
	if ((cc.flags & ~REFCACHE_CACHE_FLAGS) || cc.reserved || cc.cache_id)
		return -EINVAL;
	/*
	 * A cache can be taken back, but not everything its creation made:
	 * the first biased cache allocates the heap's owner table.  So a
	 * read-only argument fails here, before anything is made.
	 */
	ret = prove_writable(uarg, min_t(size_t, sizeof(cc), usize));
	if (ret)
		return ret;
	refcache_objspace_lock(heap);
	had_owners = heap->objs.bias.owners;
	cache = refcache_cache_create_locked(heap, cc.name, cc.payload_size,
					     cc.nslots, cc.flags, NULL);
	/* Only under the lock: another thread may destroy it at once. */
	if (!IS_ERR(cache))
		cc.cache_id = cache->id;
	refcache_heap_unlock(heap);
	if (IS_ERR(cache))
		return PTR_ERR(cache);
	ret = refcache_copy_result(uarg, &cc, sizeof(cc), usize);
	if (ret) {
		/*
		 * Nobody learnt the id: take the cache back, unless another
		 * thread found it meanwhile and made objects in it.
		 */
		refcache_objspace_lock(heap);
		cache = xa_load(&heap->objs.cache_ids, cc.cache_id);
		if (cache && !refcache_cache_destroy_locked(cache) && !had_owners)
			refcache_bias_cache_undo_locked(heap);
		refcache_heap_unlock(heap);
	}
	return ret;
}

static long refcache_ioc_cache_destroy(struct refcache_heap *heap, void __user *uarg)
{
	struct refcache_cache_destroy cd;
	struct refcache_cache *cache;
	long usize;
	int ret;

	usize = refcache_copy_args(&cd, sizeof(cd), REFCACHE_CACHE_DESTROY_SIZE_VER0, uarg);
	if (usize < 0)
		return usize;
	if (cd.flags || cd.reserved)
		return -EINVAL;
	refcache_objspace_lock(heap);
	cache = cd.cache_id ? xa_load(&heap->objs.cache_ids, cd.cache_id) : NULL;
	ret = cache ? refcache_cache_destroy_locked(cache) : -ENOENT;
	refcache_heap_unlock(heap);
	return ret;
}

/* ---- the collector (gc.c) ------------------------------------------ */

static long refcache_ioc_gc_collect(struct refcache_heap *heap, void __user *uarg)
{
	struct refcache_gc_collect c;
	long usize;
	int ret;

	usize = refcache_copy_args(&c, sizeof(c), REFCACHE_GC_COLLECT_SIZE_VER0, uarg);
	if (usize < 0)
		return usize;
	if (c.flags || c.reserved || c.generation >= REFCACHE_GC_GENERATIONS)
		return -EINVAL;
	refcache_objspace_lock(heap);
	ret = refcache_gc_collect_locked(heap, c.generation, REFCACHE_GC_REASON_EXPLICIT, &c);
	refcache_heap_unlock(heap);
	if (ret)
		return ret;
	/* The collection happened: a fault here loses only its report. */
	return refcache_copy_result(uarg, &c, sizeof(c), usize);
}

static long refcache_ioc_gc_get(struct refcache_heap *heap, void __user *uarg)
{
	struct refcache_gc *gc = &heap->objs.gc;
	struct refcache_gc_info gi;
	long usize;

	usize = refcache_copy_args(&gi, sizeof(gi), REFCACHE_GC_INFO_SIZE_VER0, uarg);
	if (usize < 0)
		return usize;
	if (gi.flags)
		return -EINVAL;
	gi.reserved = 0;
	gi.reserved2 = 0;
	refcache_objspace_lock(heap);
	gi.enabled = gc->enabled;
	memcpy(gi.threshold, gc->threshold, sizeof(gi.threshold));
	memcpy(gi.count, gc->count, sizeof(gi.count));
	gi.freeze_count = gc->nobjs[REFCACHE_GC_PERMANENT];
	refcache_heap_unlock(heap);
	return refcache_copy_result(uarg, &gi, sizeof(gi), usize);
}

static long refcache_ioc_gc_set(struct refcache_heap *heap, void __user *uarg)
{
	struct refcache_gc *gc = &heap->objs.gc;
	struct refcache_gc_set gs;
	long usize;

	usize = refcache_copy_args(&gs, sizeof(gs), REFCACHE_GC_SET_SIZE_VER0, uarg);
	if (usize < 0)
		return usize;
	if (!gs.flags || (gs.flags & ~REFCACHE_GC_SET_FLAGS) || gs.reserved ||
	    gs.reserved2 || gs.enabled > 1 ||
	    (!(gs.flags & REFCACHE_GC_SET_ENABLED) && gs.enabled) ||
	    (!(gs.flags & REFCACHE_GC_SET_THRESHOLD) &&
	     (gs.threshold[0] || gs.threshold[1] || gs.threshold[2])))
		return -EINVAL;
	refcache_objspace_lock(heap);
	if (gs.flags & REFCACHE_GC_SET_ENABLED)
		gc->enabled = gs.enabled;
	if (gs.flags & REFCACHE_GC_SET_THRESHOLD)
		memcpy(gc->threshold, gs.threshold, sizeof(gc->threshold));
	refcache_heap_unlock(heap);
	return 0;
}

static long refcache_ioc_gc_freeze(struct refcache_heap *heap, void __user *uarg)
{
	struct refcache_gc_freeze __user *ugf = uarg;
	struct refcache_gc_freeze gf;
	long usize;
	u64 moved;

	usize = refcache_copy_args(&gf, sizeof(gf), REFCACHE_GC_FREEZE_SIZE_VER0, uarg);
	if (usize < 0)
		return usize;
	if (gf.flags & ~REFCACHE_GC_UNFREEZE)
		return -EINVAL;
	/*
	 * Moving objects between generations cannot be undone exactly, so
	 * prove first that the result can be written back (with the value
	 * it has): a read-only argument then changes nothing.
	 */
	if (usize >= offsetofend(struct refcache_gc_freeze, moved) &&
	    (get_user(moved, &ugf->moved) || put_user(moved, &ugf->moved)))
		return -EFAULT;
	refcache_objspace_lock(heap);
	gf.moved = refcache_gc_freeze_locked(heap, gf.flags & REFCACHE_GC_UNFREEZE);
	refcache_heap_unlock(heap);
	return refcache_copy_result(uarg, &gf, sizeof(gf), usize);
}

static long refcache_ioc_gc_stats(struct refcache_heap *heap, void __user *uarg)
{
	struct refcache_gc_stats st;
	long usize;

	usize = refcache_copy_args(&st, sizeof(st), REFCACHE_GC_STATS_SIZE_VER0, uarg);
	if (usize < 0)
		return usize;
	if (st.flags)
		return -EINVAL;
	refcache_objspace_lock(heap);
	memcpy(st.gen, heap->objs.gc.stats, sizeof(st.gen));
	refcache_heap_unlock(heap);
	return refcache_copy_result(uarg, &st, sizeof(st), usize);
}

static long refcache_ioc_gc_is_tracked(struct refcache_heap *heap, void __user *uarg)
{
	struct refcache_handle_op h;
	struct refcache_obj *obj;
	long usize;
	int ret;

	usize = refcache_copy_args(&h, sizeof(h), REFCACHE_HANDLE_OP_SIZE_VER0, uarg);
	if (usize < 0)
		return usize;
	if (h.flags || h.reserved || h.slot || h.value || h.result)
		return -EINVAL;
	refcache_objspace_lock(heap);
	ret = refcache_handle_lookup_locked(heap, h.handle, false, &obj);
	if (!ret)
		h.result = refcache_obj_is_tracked(obj);
	refcache_heap_unlock(heap);
	if (ret)
		return ret;
	return refcache_copy_result(uarg, &h, sizeof(h), usize);
}

/* ---- looking inside a heap (inspect.c) -------------------------------- */

/* Is @req a valid request of @cmd?  (REFCACHE_GARBAGE_CLEAR apart.) */
static bool gc_objects_valid(unsigned int cmd, const struct refcache_gc_objects *req)
{
	if (req->reserved || req->returned || !req->count ||
	    req->count > REFCACHE_GC_OBJECTS_MAX || !req->handles)
		return false;
	switch (cmd) {
	case REFCACHE_IOC_GC_GET_OBJECTS:
		return !req->flags && req->which && !(req->which & ~REFCACHE_OBJECTS_MASK) &&
		       !req->handle;
	case REFCACHE_IOC_GC_GET_REFERENTS:
	case REFCACHE_IOC_GC_GET_REFERRERS:
		return !req->flags && !req->which;
	default:	/* REFCACHE_IOC_GC_GARBAGE */
		return !req->flags && !req->which && !req->handle;
	}
}

/*
 * GC_GET_OBJECTS, GC_GET_REFERENTS, GC_GET_REFERRERS, GC_GARBAGE: the
 * handles are made under the lock and copied out after it; if they
 * cannot all be written back, they are closed again.
 */
static long refcache_ioc_gc_objects(struct refcache_heap *heap, unsigned int cmd,
				    void __user *uarg)
{
	struct refcache_gc_objects req;
	u64 *ids;
	long usize;
	int ret;

	usize = refcache_copy_args(&req, sizeof(req), REFCACHE_GC_OBJECTS_SIZE_VER0, uarg);
	if (usize < 0)
		return usize;
	if (cmd == REFCACHE_IOC_GC_GARBAGE && req.flags == REFCACHE_GARBAGE_CLEAR) {
		if (req.which || req.count || req.cursor || req.handle || req.handles ||
		    req.returned || req.reserved)
			return -EINVAL;
		refcache_objspace_lock(heap);
		req.returned = min_t(u64, refcache_gc_garbage_clear_locked(heap), U32_MAX);
		refcache_heap_unlock(heap);
		return refcache_copy_result(uarg, &req, sizeof(req), usize);
	}
	if (!gc_objects_valid(cmd, &req))
		return -EINVAL;
	ids = kvmalloc_array(req.count, sizeof(*ids), GFP_KERNEL);
	if (!ids)
		return -ENOMEM;
	refcache_objspace_lock(heap);
	ret = refcache_gc_objects_locked(heap, cmd, &req, ids);
	refcache_heap_unlock(heap);
	if (ret)
		goto out;
	if (copy_to_user(u64_to_user_ptr(req.handles), ids, req.returned * sizeof(*ids)) ||
	    refcache_copy_result(uarg, &req, sizeof(req), usize)) {
		/* Nobody can learn these handles: they must not stay. */
		refcache_objspace_lock(heap);
		refcache_gc_close_ids_locked(heap, ids, req.returned);
		refcache_heap_unlock(heap);
		ret = -EFAULT;
	}
out:
	kvfree(ids);
	return ret;
}

static long refcache_ioc_gc_debug(struct refcache_heap *heap, void __user *uarg)
{
	struct refcache_gc *gc = &heap->objs.gc;
	struct refcache_gc_debug d;
	long usize;

	usize = refcache_copy_args(&d, sizeof(d), REFCACHE_GC_DEBUG_SIZE_VER0, uarg);
	if (usize < 0)
		return usize;
	if ((d.flags & ~REFCACHE_GC_DEBUG_SET) || d.reserved || d.garbage ||
	    (d.debug & ~REFCACHE_GC_DEBUG_MASK) ||
	    (!(d.flags & REFCACHE_GC_DEBUG_SET) && d.debug))
		return -EINVAL;
	/* A set that cannot report back must not happen: prove the write first. */
	if ((d.flags & REFCACHE_GC_DEBUG_SET) && refcache_copy_result(uarg, &d, sizeof(d), usize))
		return -EFAULT;
	refcache_objspace_lock(heap);
	if (d.flags & REFCACHE_GC_DEBUG_SET)
		gc->debug = d.debug;
	d.debug = gc->debug;
	d.garbage = gc->ngarbage;
	refcache_heap_unlock(heap);
	return refcache_copy_result(uarg, &d, sizeof(d), usize);
}

static long refcache_ioc_heap_dump(struct refcache_heap *heap, void __user *uarg)
{
	struct refcache_gc *gc = &heap->objs.gc;
	struct refcache_dump *dump = NULL, *old;
	struct refcache_dump_record *page = NULL;
	struct refcache_heap_dump hd;
	u64 total, seq;
	long usize;
	int ret = 0;

	usize = refcache_copy_args(&hd, sizeof(hd), REFCACHE_HEAP_DUMP_SIZE_VER0, uarg);
	if (usize < 0)
		return usize;
	if ((hd.flags & ~(REFCACHE_DUMP_START | REFCACHE_DUMP_END)) ||
	    hd.flags == (REFCACHE_DUMP_START | REFCACHE_DUMP_END) || hd.returned || hd.total)
		return -EINVAL;
	if (hd.flags & REFCACHE_DUMP_END) {
		if (hd.count || hd.cursor || hd.records || hd.snapshot)
			return -EINVAL;
		refcache_objspace_lock(heap);
		old = gc->dump;
		gc->dump = NULL;
		refcache_heap_unlock(heap);
		refcache_heap_dump_free(heap, old);
		return old ? 0 : -ENOENT;
	}
	if (hd.count > REFCACHE_GC_OBJECTS_MAX || (hd.count && !hd.records) ||
	    ((hd.flags & REFCACHE_DUMP_START) && (hd.cursor || hd.snapshot)))
		return -EINVAL;
	if (hd.count) {
		page = kvmalloc_array(hd.count, sizeof(*page), GFP_KERNEL);
		if (!page)
			return -ENOMEM;
	}
	refcache_objspace_lock(heap);
	if (hd.flags & REFCACHE_DUMP_START)
		ret = refcache_heap_dump_start_locked(heap, &dump);
	else if (!gc->dump)
		ret = -ENOENT;
	else if (gc->dump->seq != hd.snapshot)
		ret = -ESTALE;
	else
		dump = gc->dump;
	if (!ret) {
		total = refcache_heap_dump_total(dump);
		seq = dump->seq;
		if (hd.cursor > total) {
			ret = -EINVAL;
		} else {
			hd.returned = min_t(u64, hd.count, total - hd.cursor);
			if (hd.returned)
				memcpy(page, refcache_heap_dump_records(dump) + hd.cursor,
				       hd.returned * sizeof(*page));
			hd.cursor += hd.returned;
			if (hd.cursor == total)
				hd.cursor = 0;
			hd.total = total;
			hd.snapshot = seq;
		}
	}
	refcache_heap_unlock(heap);
	if (!ret && ((hd.returned && copy_to_user(u64_to_user_ptr(hd.records), page,
						  hd.returned * sizeof(*page))) ||
		     refcache_copy_result(uarg, &hd, sizeof(hd), usize)))
		ret = -EFAULT;
	if (hd.flags & REFCACHE_DUMP_START) {
		old = NULL;
		if (!ret) {
			/* Installed only now: a START that fails keeps the old one. */
			refcache_objspace_lock(heap);
			old = gc->dump;
			gc->dump = dump;
			refcache_heap_unlock(heap);
		} else {
			old = dump;
		}
		refcache_heap_dump_free(heap, old);
	}
	kvfree(page);
	return ret;
}

static long refcache_dispatch(struct refcache_heap *heap, unsigned int cmd,
			      void __user *uarg)
{
	switch (REFCACHE_IOC_BASE(cmd)) {
	case REFCACHE_IOC_BASE(REFCACHE_IOC_VERSION):
		return refcache_ioc_version(uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_CACHE_CREATE):
		return refcache_ioc_cache_create(heap, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_CACHE_DESTROY):
		return refcache_ioc_cache_destroy(heap, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_OBJ_NEW):
		return refcache_ioc_handle_op(heap, REFCACHE_OP_NEW, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_DUP):
		return refcache_ioc_handle_op(heap, REFCACHE_OP_DUP, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_CLOSE):
		return refcache_ioc_handle_op(heap, REFCACHE_OP_CLOSE, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_SLOT_LOAD):
		return refcache_ioc_handle_op(heap, REFCACHE_OP_SLOT_LOAD, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_SLOT_STORE):
		return refcache_ioc_handle_op(heap, REFCACHE_OP_SLOT_STORE, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_WEAK_NEW):
		return refcache_ioc_handle_op(heap, REFCACHE_OP_WEAK_NEW, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_WEAK_UPGRADE):
		return refcache_ioc_handle_op(heap, REFCACHE_OP_WEAK_UPGRADE, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_READ):
		return refcache_ioc_payload(heap, false, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_WRITE):
		return refcache_ioc_payload(heap, true, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_INFO):
		return refcache_ioc_info(heap, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_HEAP_INFO):
		return refcache_ioc_heap_info(heap, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_SET_LIMITS):
		return refcache_ioc_set_limits(heap, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_BATCH):
		return refcache_ioc_batch(heap, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_GC_COLLECT):
		return refcache_ioc_gc_collect(heap, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_GC_GET):
		return refcache_ioc_gc_get(heap, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_GC_SET):
		return refcache_ioc_gc_set(heap, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_GC_FREEZE):
		return refcache_ioc_gc_freeze(heap, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_GC_STATS):
		return refcache_ioc_gc_stats(heap, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_GC_IS_TRACKED):
		return refcache_ioc_gc_is_tracked(heap, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_GC_GET_OBJECTS):
		return refcache_ioc_gc_objects(heap, REFCACHE_IOC_GC_GET_OBJECTS, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_GC_GET_REFERENTS):
		return refcache_ioc_gc_objects(heap, REFCACHE_IOC_GC_GET_REFERENTS, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_GC_GET_REFERRERS):
		return refcache_ioc_gc_objects(heap, REFCACHE_IOC_GC_GET_REFERRERS, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_GC_GARBAGE):
		return refcache_ioc_gc_objects(heap, REFCACHE_IOC_GC_GARBAGE, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_GC_DEBUG):
		return refcache_ioc_gc_debug(heap, uarg);
	case REFCACHE_IOC_BASE(REFCACHE_IOC_HEAP_DUMP):
		return refcache_ioc_heap_dump(heap, uarg);
	default:
		return -ENOTTY;
	}
}

static long refcache_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	struct refcache_heap *heap = file->private_data;
	struct mem_cgroup *old;
	long ret;

	if (_IOC_TYPE(cmd) != REFCACHE_IOC_MAGIC)
		return -ENOTTY;
	/* Charge the heap's creator, even when a fork child or fd receiver calls. */
	old = set_active_memcg(heap->memcg);
	ret = refcache_dispatch(heap, cmd, (void __user *)arg);
	set_active_memcg(old);
	return ret;
}

static int refcache_open(struct inode *inode, struct file *file)
{
	struct refcache_heap *heap;

	heap = refcache_heap_create();
	if (IS_ERR(heap))
		return PTR_ERR(heap);
	/* Only handle ops reach its objects, all under the heap's mutex. */
	heap->objs.bias.chardev = true;
	file->private_data = heap;
	return nonseekable_open(inode, file);
}

static int refcache_release(struct inode *inode, struct file *file)
{
	refcache_heap_put(file->private_data);
	return 0;
}

/* read(2): the collector's event records (struct refcache_gc_event). */
static ssize_t refcache_read(struct file *file, char __user *buf, size_t len, loff_t *ppos)
{
	return refcache_gc_events_read(file->private_data, buf, len,
				       file->f_flags & O_NONBLOCK);
}

static __poll_t refcache_poll(struct file *file, struct poll_table_struct *pt)
{
	struct refcache_heap *heap = file->private_data;

	poll_wait(file, &heap->objs.gc.wait, pt);
	return refcache_gc_events_ready(heap) ? EPOLLIN | EPOLLRDNORM : 0;
}

static const struct file_operations refcache_fops = {
	.owner		= THIS_MODULE,
	.open		= refcache_open,
	.release	= refcache_release,
	.read		= refcache_read,
	.poll		= refcache_poll,
	.unlocked_ioctl	= refcache_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

/*
 * /dev/refcache is misc minor REFCACHE_MINOR, one of the minors
 * Documentation/admin-guide/devices.txt reserves for local use, so that
 * its number is known before the module is loaded: depmod writes the
 * devname: alias below into modules.devname, kmod static-nodes creates
 * the node at boot, and the first open(2) loads the module through the
 * char-major-10-REFCACHE_MINOR alias (MODULE_ALIAS_MISCDEV).
 */
#define REFCACHE_MINOR		250

/*
 * The node's mode; its group comes from udev (60-refcache.rules), as
 * /dev/kvm's does, since a misc device names no group of its own.  The
 * default lets every local user in, which the per-user budgets are
 * sized for; mode=0660 keeps it to root and that group
 * (Documentation/limits.rst).  Read once, when the module loads.
 */
static ushort mode = 0666;
module_param(mode, ushort, 0444);
MODULE_PARM_DESC(mode, "Mode of /dev/refcache (default 0666: every local user; 0660: root and the group udev gives it)");

static struct miscdevice refcache_misc = {
	.minor	= REFCACHE_MINOR,
	.name	= "refcache",
	.fops	= &refcache_fops,
};

int refcache_chardev_init(void)
{
	int ret;

	if (mode & ~0777) {
		pr_err("refcache: mode %#o is not a permission mode\n", mode);
		return -EINVAL;
	}
	refcache_misc.mode = mode;
	ret = misc_register(&refcache_misc);
	if (ret != -EBUSY)
		return ret;
	/* Someone else took the minor: work, but without autoloading. */
	pr_warn("refcache: misc minor %d is taken, using a dynamic one\n", REFCACHE_MINOR);
	refcache_misc.minor = MISC_DYNAMIC_MINOR;
	return misc_register(&refcache_misc);
}

void refcache_chardev_exit(void)
{
	misc_deregister(&refcache_misc);
}

MODULE_ALIAS_MISCDEV(REFCACHE_MINOR);
MODULE_ALIAS("devname:refcache");
