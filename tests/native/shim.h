/* SPDX-License-Identifier: GPL-2.0 */
/* What the native runner and benchmarks see of the shim's runtime. */
#ifndef _NATIVE_SHIM_H
#define _NATIVE_SHIM_H

#include <stdio.h>

extern atomic_long_t native_splats;
extern bool native_quiet;
extern bool native_printk_stdout;
bool native_param_set(const char *arg);
extern FILE *native_log;

void native_init(void);
int native_kthread_join(struct task_struct *t);
struct task_struct *native_task_self(const char *name);

#endif /* _NATIVE_SHIM_H */
