/* SPDX-License-Identifier: LGPL-2.1 OR MIT */
/*
 * librefcache: thin wrappers around the /dev/refcache ioctls.
 *
 * Every function returns 0 (or a non-negative value) on success and a
 * negative errno on failure; errno itself is never relied upon.
 */
#ifndef REFCACHE_H
#define REFCACHE_H

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

#ifdef __cplusplus
}
#endif

#endif /* REFCACHE_H */
