// SPDX-License-Identifier: GPL-2.0
/*
 * refcache's tracepoints (trace.h), defined here once.  Every band of
 * Documentation/design.rst fires them, so their definitions sit below
 * all of them, in a file that calls nothing.
 */
#include <linux/types.h>

#define CREATE_TRACE_POINTS
#include "trace.h"
