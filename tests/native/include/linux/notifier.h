/* SPDX-License-Identifier: GPL-2.0 */
/* Natively: no module ever comes or goes, so no notifier is ever called. */
#ifndef _NATIVE_LINUX_NOTIFIER_H
#define _NATIVE_LINUX_NOTIFIER_H

#include <native/kernel.h>

struct notifier_block {
	int (*notifier_call)(struct notifier_block *nb, unsigned long action, void *data);
};

#define NOTIFY_DONE		0x0000
#define NOTIFY_OK		0x0001
#define MODULE_STATE_GOING	2

static inline int register_module_notifier(struct notifier_block *nb)
{
	return 0;
}

static inline int unregister_module_notifier(struct notifier_block *nb)
{
	return 0;
}

#endif
