// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/refcache: each open file is one heap; ioctls act on it.
 *
 * Argument structures follow the rules in uapi/linux/refcache.h: the
 * size bits of the command are ignored and the structure's own size
 * field decides how much is copied, so old and new callers both work.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/uaccess.h>

#include <linux/refcache.h>

#include "internal.h"

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
	v.features = REFCACHE_FEATURE_HEAP;
	return refcache_copy_result(uarg, &v, sizeof(v), usize);
}

static long refcache_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	if (_IOC_TYPE(cmd) != REFCACHE_IOC_MAGIC)
		return -ENOTTY;

	switch (REFCACHE_IOC_BASE(cmd)) {
	case REFCACHE_IOC_BASE(REFCACHE_IOC_VERSION):
		return refcache_ioc_version(uarg);
	default:
		return -ENOTTY;
	}
}

static int refcache_open(struct inode *inode, struct file *file)
{
	struct refcache_heap *heap;

	heap = refcache_heap_create();
	if (IS_ERR(heap))
		return PTR_ERR(heap);
	file->private_data = heap;
	return nonseekable_open(inode, file);
}

static int refcache_release(struct inode *inode, struct file *file)
{
	refcache_heap_put(file->private_data);
	return 0;
}

static const struct file_operations refcache_fops = {
	.owner		= THIS_MODULE,
	.open		= refcache_open,
	.release	= refcache_release,
	.unlocked_ioctl	= refcache_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

static struct miscdevice refcache_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "refcache",
	.fops	= &refcache_fops,
	.mode	= 0666,
};

int refcache_chardev_init(void)
{
	return misc_register(&refcache_misc);
}

void refcache_chardev_exit(void)
{
	misc_deregister(&refcache_misc);
}
