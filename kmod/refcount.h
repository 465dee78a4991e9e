/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An object's reference count, in either mode: refcount_t, or biased
 * (PEP 703: the owner task's plain local count plus an atomic shared
 * count).  Every change to a count in refcache goes through here and
 * refcount.c, the bottom of the layers (Documentation/design.rst).  The
 * protocol, the states and the memory-ordering argument are in
 * Documentation/objects.rst, "Biased reference counting".
 */
#ifndef _REFCACHE_REFCOUNT_H
#define _REFCACHE_REFCOUNT_H

#include <linux/atomic.h>
#include <linux/refcount.h>
#include <linux/sched.h>

#include "internal.h"

/* The shared count's states and unit: refcache.h. */
/*
 * Shared counts live in (-2^28, 2^28); outside is saturated, and a
 * saturated count is set to the middle of that range, as refcount_t does.
 */
#define REFCACHE_BIAS_SATURATED	INT_MIN
#define REFCACHE_BIAS_OWNERS	64

static inline bool refcache_bias_saturated(int raw)
{
	return raw >= REFCACHE_BIAS_SAT_HIGH || raw <= -REFCACHE_BIAS_SAT_HIGH;
}

static inline int refcache_bias_count(int raw)
{
	return raw >> REFCACHE_BIAS_SHIFT;	/* arithmetic: may be negative */
}

static inline bool obj_is_biased(const struct refcache_obj *obj)
{
	return refcache_obj_head_biased(obj);
}

static inline struct refcache_bias_counts *obj_bias(const struct refcache_obj *obj)
{
	return refcache_bias_counts(obj);
}

/*
 * Both counts, from one load: what the collector and teardown read.  An
 * acquire: it pairs with the release of the owner's put (and of the
 * others' compare-and-exchange), so that a collector that finds an
 * object garbage, and frees it, does so after its last holder's
 * accesses to it.
 */
union refcache_bias_snap {
	u64 word;
	struct refcache_bias_counts c;
	struct {			/* the same, as plain copies */
		u32 local;
		s32 shared;
	} v;
};

static inline union refcache_bias_snap refcache_bias_snapshot(const struct refcache_obj *obj)
{
	union refcache_bias_snap s;

	BUILD_BUG_ON(sizeof(s) != sizeof(u64));
	BUILD_BUG_ON(offsetof(union refcache_bias_snap, v.shared) !=
		     offsetof(union refcache_bias_snap, c.shared));
	/* Pairs with the release of the puts: see above. */
	s.word = smp_load_acquire((const u64 *)obj_bias(obj));
	return s;
}

/* What the shared count says a put must do next. */
enum refcache_bias_put {
	REFCACHE_BIAS_PUT_DONE,		/* nothing */
	REFCACHE_BIAS_PUT_DEAD,		/* the object died: release it */
	REFCACHE_BIAS_PUT_QUEUE,	/* queued: hand it to its owner */
};

enum refcache_bias_warning {
	REFCACHE_BIAS_WARN_SATURATED,
	REFCACHE_BIAS_WARN_UNDERFLOW,
	REFCACHE_BIAS_WARN_ADD_ZERO,
};

/* refcount.c: the owner ids and the merges, the counts' out-of-line half */
extern struct refcache_bias_owner *refcache_bias_recs[REFCACHE_BIAS_IDS];
u32 refcache_bias_id_get(struct refcache_bias_owner *o);
void refcache_bias_id_put(u32 id);
void refcache_bias_disown_run(u32 id, long n);
void refcache_bias_warn(struct refcache_obj *obj, enum refcache_bias_warning kind);
bool refcache_bias_merge_zero(struct refcache_obj *obj);
bool refcache_bias_merge_locked(struct refcache_heap *heap, struct refcache_obj *obj,
				int extra);
void refcache_bias_merge_garbage_locked(struct refcache_heap *heap, struct list_head *list);

/**
 * struct refcache_bias_info - a biased object's counts, for the KUnit suite
 * @owner:     the owner task, or NULL once merged
 * @local:     the owner's count
 * @shared:    the shared count (may be negative while queued)
 * @state:     REFCACHE_BIAS_UNMERGED, _QUEUED or _MERGED
 * @saturated: the shared count saturated
 */
struct refcache_bias_info {
	struct task_struct *owner;
	u32 local;
	int shared;
	unsigned int state;
	bool saturated;
};

void refcache_obj_bias_read(const struct refcache_obj *obj, struct refcache_bias_info *bi);

/* A non-owner's get: CPython's _Py_atomic_add_ssize() on ob_ref_shared. */
static __always_inline void bias_shared_get(struct refcache_obj *obj)
{
	int old = atomic_fetch_add_relaxed(REFCACHE_BIAS_ONE, &obj_bias(obj)->shared);

	if (unlikely(old == REFCACHE_BIAS_MERGED))
		refcache_bias_warn(obj, REFCACHE_BIAS_WARN_ADD_ZERO);
	else if (unlikely(refcache_bias_saturated(old) ||
			  refcache_bias_saturated(old + REFCACHE_BIAS_ONE)))
		refcache_bias_warn(obj, REFCACHE_BIAS_WARN_SATURATED);
}

/*
 * A non-owner's put: CPython's _Py_DecRefShared().  From unmerged zero it
 * queues instead of going below zero (the queue keeps that reference);
 * a merged count dies at zero.
 */
static __always_inline enum refcache_bias_put bias_shared_put(struct refcache_obj *obj)
{
	atomic_t *shared = &obj_bias(obj)->shared;
	int raw = atomic_read(shared), new;
	enum refcache_bias_put ret;

	do {
		if (unlikely(refcache_bias_saturated(raw)))
			return REFCACHE_BIAS_PUT_DONE;
		if (raw == REFCACHE_BIAS_UNMERGED) {
			new = REFCACHE_BIAS_QUEUED;
			ret = REFCACHE_BIAS_PUT_QUEUE;
		} else if ((raw & REFCACHE_BIAS_STATE) == REFCACHE_BIAS_MERGED &&
			   refcache_bias_count(raw) <= 1) {
			if (unlikely(refcache_bias_count(raw) < 1)) {
				refcache_bias_warn(obj, REFCACHE_BIAS_WARN_UNDERFLOW);
				return REFCACHE_BIAS_PUT_DONE;
			}
			new = REFCACHE_BIAS_MERGED;
			ret = REFCACHE_BIAS_PUT_DEAD;
		} else {
			new = raw - REFCACHE_BIAS_ONE;
			ret = REFCACHE_BIAS_PUT_DONE;
			if (unlikely(refcache_bias_saturated(new))) {
				refcache_bias_warn(obj, REFCACHE_BIAS_WARN_UNDERFLOW);
				return REFCACHE_BIAS_PUT_DONE;
			}
		}
	} while (!atomic_try_cmpxchg_release(shared, &raw, new));
	if (ret == REFCACHE_BIAS_PUT_DEAD)
		smp_acquire__after_ctrl_dep();
	return ret;
}

/*
 * The owner's get, if current is the owner (in task context) and its
 * local count has room: refcache_obj_get()'s inline path.  The owner's
 * count is at least one until it merges, so this is also a get that
 * cannot meet a dead object.
 */
static __always_inline bool bias_own_get(struct refcache_obj *obj)
{
	struct refcache_bias_counts *c = obj_bias(obj);
	u32 local;

	if (!refcache_bias_mine(obj) || !in_task())
		return false;
	local = READ_ONCE(c->local);
	if (unlikely(local >= REFCACHE_BIAS_LOCAL_MAX))
		return false;
	WRITE_ONCE(c->local, local + 1);
	return true;
}

/* A reference for a holder of one, in either mode. */
static __always_inline void refcache_ref_get(struct refcache_obj *obj)
{
	refcache_obj_head_prefetchw(obj);
	if (likely(!obj_is_biased(obj))) {
		refcount_inc(&obj->ref);
		return;
	}
	if (!bias_own_get(obj))
		bias_shared_get(obj);
}

/* A reference unless the object is dead or dying. */
static __always_inline bool refcache_ref_get_unless_zero(struct refcache_obj *obj)
{
	int raw, new;

	if (likely(!obj_is_biased(obj)))
		return refcount_inc_not_zero(&obj->ref);
	if (bias_own_get(obj))
		return true;
	/* Unmerged: the owner holds one; queued: the queue does. */
	raw = atomic_read(&obj_bias(obj)->shared);
	do {
		if (unlikely(refcache_bias_saturated(raw)))
			return true;
		if ((raw & REFCACHE_BIAS_STATE) == REFCACHE_BIAS_MERGED &&
		    refcache_bias_count(raw) <= 0)
			return false;
		new = raw + REFCACHE_BIAS_ONE;
		if (unlikely(refcache_bias_saturated(new))) {
			refcache_bias_warn(obj, REFCACHE_BIAS_WARN_SATURATED);
			return true;
		}
	} while (!atomic_try_cmpxchg_relaxed(&obj_bias(obj)->shared, &raw, new));
	return true;
}

/*
 * Drop a reference without freeing: the caller frees on
 * REFCACHE_BIAS_PUT_DEAD (atomic mode: the count reached zero) and hands
 * a queued object to its owner (refcache_bias_queue_locked()).
 */
static __always_inline enum refcache_bias_put refcache_ref_put(struct refcache_obj *obj)
{
	struct refcache_bias_counts *c;
	u32 local;

	refcache_obj_head_prefetchw(obj);
	if (likely(!obj_is_biased(obj)))
		return refcount_dec_and_test(&obj->ref) ? REFCACHE_BIAS_PUT_DEAD :
							  REFCACHE_BIAS_PUT_DONE;
	/* Process context: no interrupt runs this on the owner's behalf. */
	if (refcache_bias_mine(obj)) {
		c = obj_bias(obj);
		local = READ_ONCE(c->local);
		if (likely(local > 1)) {
			/* Pairs with refcache_bias_snapshot()'s acquire. */
			smp_store_release(&c->local, local - 1);
			return REFCACHE_BIAS_PUT_DONE;
		}
		/* The owner's last local reference: merge, without storing zero first. */
		return refcache_bias_merge_zero(obj) ? REFCACHE_BIAS_PUT_DEAD :
						       REFCACHE_BIAS_PUT_DONE;
	}
	return bias_shared_put(obj);
}

/*
 * The count: local + shared (shared alone once merged: local is stale
 * then), both from one load, so it is the true count at one instant,
 * as a refcount_t read is.  A saturated count reads as
 * REFCOUNT_SATURATED in both modes.
 */
static __always_inline unsigned int bias_snap_count(union refcache_bias_snap s)
{
	int raw = s.v.shared, c;

	if (refcache_bias_saturated(raw))
		return REFCOUNT_SATURATED;
	c = refcache_bias_count(raw);
	if ((raw & REFCACHE_BIAS_STATE) != REFCACHE_BIAS_MERGED)
		c += s.v.local;
	return max(c, 0);
}

/* The common case in one test: unmerged, shared neither negative nor saturated. */
static __always_inline bool bias_snap_plain(int raw)
{
	return !((u32)raw & (REFCACHE_BIAS_STATE | -REFCACHE_BIAS_SAT_HIGH));
}

static inline unsigned int refcache_ref_read(const struct refcache_obj *obj)
{
	union refcache_bias_snap s;

	if (likely(!obj_is_biased(obj)))
		return refcount_read(&obj->ref);
	s = refcache_bias_snapshot(obj);
	/* A copy on our stack: no atomic_read(), whose volatile load spills it. */
	if (likely(bias_snap_plain(s.v.shared)))
		return s.v.local + (s.v.shared >> REFCACHE_BIAS_SHIFT);
	return bias_snap_count(s);
}

/*
 * refcache_ref_read() for the collector, which reads every object's
 * count: @biased_heap is a constant at each call, whether the heap has a
 * biased cache.  Without one, refcount_read() and nothing else; with
 * one, the biased read comes first and inline, and an atomic object's
 * count out of line.  The same value as refcache_ref_read().
 */
static __always_inline unsigned int
refcache_ref_read_gc(const struct refcache_obj *obj, bool biased_heap)
{
	union refcache_bias_snap s;

	if (!biased_heap || unlikely(!obj_is_biased(obj)))
		return refcount_read(&obj->ref);
	s = refcache_bias_snapshot(obj);
	if (likely(bias_snap_plain(s.v.shared)))
		return s.v.local + (s.v.shared >> REFCACHE_BIAS_SHIFT);
	return bias_snap_count(s);
}

#endif /* _REFCACHE_REFCOUNT_H */
