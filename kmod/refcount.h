/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An object's reference count, in either mode: refcount_t, or biased
 * (PEP 703: the owner task's plain local count plus an atomic shared
 * count; kmod/biased.c).  Every change to a count in refcache goes
 * through here.  The protocol, the states and the memory-ordering
 * argument are in Documentation/objects.rst, "Biased reference counting".
 */
#ifndef _REFCACHE_REFCOUNT_H
#define _REFCACHE_REFCOUNT_H

#include <linux/atomic.h>
#include <linux/preempt.h>
#include <linux/refcount.h>
#include <linux/sched.h>

#include "internal.h"

/**
 * struct refcache_bias - the 8 bytes in front of a biased object
 * @owner: index + 1 of the owner in the heap's owner table; 0 once merged
 * @local: the owner's references; written only by the owner, or by a
 *         holder of the heap's mutex while the owner's count is still
 */
struct refcache_bias {
	u32 owner;
	u32 local;
};

/* The shared count (the header's ref word): state in the low bits. */
#define REFCACHE_BIAS_UNMERGED	0
#define REFCACHE_BIAS_QUEUED	2
#define REFCACHE_BIAS_MERGED	3
#define REFCACHE_BIAS_STATE	3
#define REFCACHE_BIAS_SHIFT	2
#define REFCACHE_BIAS_ONE	4	/* one reference: 1 << REFCACHE_BIAS_SHIFT, an int */
/* The owner counts up to this in local, then in shared. */
#define REFCACHE_BIAS_LOCAL_MAX	((1U << 27) - 1)
/*
 * Shared counts live in (-2^28, 2^28); outside is saturated, and a
 * saturated count is set to the middle of that range, as refcount_t does.
 */
#define REFCACHE_BIAS_SATURATED	INT_MIN
#define REFCACHE_BIAS_OWNERS	64

static inline bool refcache_bias_saturated(int raw)
{
	return raw >= (1 << 30) || raw <= -(1 << 30);
}

static inline int refcache_bias_count(int raw)
{
	return raw >> REFCACHE_BIAS_SHIFT;	/* arithmetic: may be negative */
}

static inline bool obj_is_biased(const struct refcache_obj *obj)
{
	return refcache_obj_head_biased(obj);
}

static inline struct refcache_bias *obj_bias(const struct refcache_obj *obj)
{
	return (struct refcache_bias *)obj - 1;
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

/* biased.c */
void refcache_bias_warn(struct refcache_obj *obj, enum refcache_bias_warning kind);
bool refcache_bias_merge_zero(struct refcache_obj *obj);
bool refcache_bias_merge_locked(struct refcache_heap *heap, struct refcache_obj *obj,
				int extra);
void refcache_bias_queue_locked(struct refcache_heap *heap, struct refcache_obj *obj);
int refcache_bias_cache_init_locked(struct refcache_heap *heap, u32 flags);
void refcache_bias_obj_init_locked(struct refcache_heap *heap, struct refcache_obj *obj);
void refcache_bias_service_locked(struct refcache_heap *heap);
void refcache_bias_still_begin(struct refcache_heap *heap);
void refcache_bias_still_end(struct refcache_heap *heap);
void refcache_bias_merge_all_locked(struct refcache_heap *heap);
void refcache_bias_destroy(struct refcache_heap *heap);
void refcache_bias_cache_undo_locked(struct refcache_heap *heap);
void refcache_bias_obj_free_locked(struct refcache_heap *heap, struct refcache_obj *obj);

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

/*
 * Is current the object's owner, free to use its local count?  If so,
 * returns with preemption disabled: a collection that wants local counts
 * still sets objs.bias.sync and waits for an RCU grace period, which
 * waits for this section.
 */
static __always_inline bool bias_own_begin(const struct refcache_obj *obj)
{
	const struct refcache_objspace *os = &obj->cache->heap->objs;
	const struct refcache_bias_owner *owners;
	u32 owner;

	if (!in_task())
		return false;
	preempt_disable();
	/* Pairs with refcache_bias_still_end()'s release. */
	if (likely(!smp_load_acquire(&os->bias.sync))) {
		owner = READ_ONCE(obj_bias(obj)->owner);
		owners = READ_ONCE(os->bias.owners);
		if (owner && READ_ONCE(owners[owner - 1].task) == current)
			return true;
	}
	preempt_enable();
	return false;
}

/* A non-owner's get: CPython's _Py_atomic_add_ssize() on ob_ref_shared. */
static __always_inline void bias_shared_get(struct refcache_obj *obj)
{
	int old = atomic_fetch_add_relaxed(REFCACHE_BIAS_ONE, &obj->ref.refs);

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
	int raw = atomic_read(&obj->ref.refs), new;
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
	} while (!atomic_try_cmpxchg_release(&obj->ref.refs, &raw, new));
	if (ret == REFCACHE_BIAS_PUT_DEAD)
		smp_acquire__after_ctrl_dep();
	return ret;
}

/*
 * The owner's get, if current is the owner and its local count has room.
 * The owner's count is at least one until it merges, so this is also a
 * get that cannot meet a dead object.
 */
static __always_inline bool bias_own_get(struct refcache_obj *obj)
{
	struct refcache_bias *b;
	bool done = false;

	if (bias_own_begin(obj)) {
		b = obj_bias(obj);
		if (likely(b->local < REFCACHE_BIAS_LOCAL_MAX)) {
			WRITE_ONCE(b->local, b->local + 1);
			done = true;
		}
		preempt_enable();
	}
	return done;
}

/* A reference for a holder of one, in either mode. */
static __always_inline void refcache_ref_get(struct refcache_obj *obj)
{
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
	raw = atomic_read(&obj->ref.refs);
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
	} while (!atomic_try_cmpxchg_relaxed(&obj->ref.refs, &raw, new));
	return true;
}

/*
 * Drop a reference without freeing: the caller frees on
 * REFCACHE_BIAS_PUT_DEAD (atomic mode: the count reached zero) and hands
 * a queued object to its owner (refcache_bias_queue_locked()).
 */
static __always_inline enum refcache_bias_put refcache_ref_put(struct refcache_obj *obj)
{
	struct refcache_bias *b;
	bool dead;
	u32 local;

	if (likely(!obj_is_biased(obj)))
		return refcount_dec_and_test(&obj->ref) ? REFCACHE_BIAS_PUT_DEAD :
							  REFCACHE_BIAS_PUT_DONE;
	if (bias_own_begin(obj)) {
		b = obj_bias(obj);
		local = b->local - 1;
		WRITE_ONCE(b->local, local);
		if (likely(local)) {
			preempt_enable();
			return REFCACHE_BIAS_PUT_DONE;
		}
		/* Inside the section: a collection must not see half a merge. */
		dead = refcache_bias_merge_zero(obj);
		preempt_enable();
		return dead ? REFCACHE_BIAS_PUT_DEAD : REFCACHE_BIAS_PUT_DONE;
	}
	return bias_shared_put(obj);
}

/*
 * The count: local + shared, merged.  Exact under the heap's mutex while
 * local counts are still (Documentation/objects.rst); a snapshot else.
 * A saturated count reads as REFCOUNT_SATURATED in both modes.
 */
static inline unsigned int refcache_ref_read(const struct refcache_obj *obj)
{
	int raw, c;

	if (likely(!obj_is_biased(obj)))
		return refcount_read(&obj->ref);
	raw = atomic_read(&obj->ref.refs);
	if (refcache_bias_saturated(raw))
		return REFCOUNT_SATURATED;
	c = refcache_bias_count(raw);
	if ((raw & REFCACHE_BIAS_STATE) != REFCACHE_BIAS_MERGED)
		c += READ_ONCE(obj_bias(obj)->local);
	return max(c, 0);
}

#endif /* _REFCACHE_REFCOUNT_H */
