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
#endif

#endif /* _REFCACHE_COMPAT_H */
