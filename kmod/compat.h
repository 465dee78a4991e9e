/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every kernel version check of refcache lives here, so the rest of the
 * code is written against one API (the newest we build on).
 */
#ifndef _REFCACHE_COMPAT_H
#define _REFCACHE_COMPAT_H

#include <linux/version.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/shrinker.h>
#include <linux/slab.h>

/*
 * Symbol namespace of the in-kernel API: EXPORT_SYMBOL_NS_GPL(sym,
 * REFCACHE_NS) and MODULE_IMPORT_NS(REFCACHE_NS).  6.13 turned namespaces
 * from identifiers into strings.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
#define REFCACHE_NS	"REFCACHE"
#else
#define REFCACHE_NS	REFCACHE
#endif

/* get_random_u32_below() replaced prandom_u32_max() in 6.2. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
#define get_random_u32_below(ceil)	prandom_u32_max(ceil)
#endif

/*
 * Internal functions the KUnit suites call are exported only in KUnit
 * kernels (EXPORTED_FOR_KUNIT_TESTING namespace); the macro is from 6.2.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#include <kunit/visibility.h>
#else
#define EXPORT_SYMBOL_IF_KUNIT(symbol)
#define VISIBLE_IF_KUNIT static
#endif

/*
 * A shrinker of our own: shrinker_alloc() and shrinker_register() replaced
 * a caller-provided struct and register_shrinker() in 6.7.
 */
typedef unsigned long (*refcache_shrink_fn)(struct shrinker *s, struct shrink_control *sc);

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
static inline struct shrinker *refcache_shrinker_create(const char *name,
							refcache_shrink_fn count,
							refcache_shrink_fn scan)
{
	struct shrinker *s = shrinker_alloc(0, "%s", name);

	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	s->seeks = DEFAULT_SEEKS;
	shrinker_register(s);
	return s;
}

static inline void refcache_shrinker_destroy(struct shrinker *s)
{
	shrinker_free(s);
}
#else
static inline struct shrinker *refcache_shrinker_create(const char *name,
							refcache_shrink_fn count,
							refcache_shrink_fn scan)
{
	struct shrinker *s = kzalloc(sizeof(*s), GFP_KERNEL);

	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	s->seeks = DEFAULT_SEEKS;
	if (register_shrinker(s, "%s", name)) {
		kfree(s);
		return NULL;
	}
	return s;
}

static inline void refcache_shrinker_destroy(struct shrinker *s)
{
	unregister_shrinker(s);
	kfree(s);
}
#endif

#endif /* _REFCACHE_COMPAT_H */
