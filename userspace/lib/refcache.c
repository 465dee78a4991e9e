// SPDX-License-Identifier: LGPL-2.1 OR MIT
/* librefcache: see refcache.h and the man pages in userspace/man. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "refcache.h"

#define EXPORT __attribute__((visibility("default")))

static int rc_ioctl(int fd, unsigned long cmd, void *arg)
{
	int saved = errno, ret;

	ret = ioctl(fd, cmd, arg);
	if (ret < 0)
		ret = -errno;
	errno = saved;
	return ret;
}

EXPORT int refcache_open(void)
{
	int saved = errno, fd;

	fd = open(REFCACHE_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	errno = saved;
	return fd;
}

EXPORT int refcache_close(int fd)
{
	int saved = errno, ret;

	ret = close(fd) ? -errno : 0;
	errno = saved;
	return ret;
}

EXPORT int refcache_version(int fd, struct refcache_version *v)
{
	if (!v)
		return -EINVAL;
	memset(v, 0, sizeof(*v));
	v->size = sizeof(*v);
	return rc_ioctl(fd, REFCACHE_IOC_VERSION, v);
}
