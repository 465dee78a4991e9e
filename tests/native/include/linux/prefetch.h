/* SPDX-License-Identifier: GPL-2.0 */
/* The kernel's x86-64 prefetches, as its alternatives pick them on CPUs with 3DNowPrefetch. */
#ifndef _NATIVE_LINUX_PREFETCH_H
#define _NATIVE_LINUX_PREFETCH_H

static inline void prefetch(const void *x)
{
	asm volatile("prefetcht0 %0" : : "m" (*(const char *)x));
}

static inline void prefetchw(const void *x)
{
	asm volatile("prefetchw %0" : : "m" (*(const char *)x));
}

#endif
