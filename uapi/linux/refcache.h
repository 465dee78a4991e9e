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
 *  - fixed-width types only, pointers travel as __u64, padding explicit.
 */
#ifndef _UAPI_LINUX_REFCACHE_H
#define _UAPI_LINUX_REFCACHE_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define REFCACHE_ABI_MAJOR	1
#define REFCACHE_ABI_MINOR	0

/* Feature bits reported by REFCACHE_IOC_VERSION. */
#define REFCACHE_FEATURE_HEAP	_BITULL(0)	/* one heap per open file */

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

#endif /* _UAPI_LINUX_REFCACHE_H */
