/* SPDX-License-Identifier: GPL-2.0 */
/* Natively: tests/native/include/native/kernel.h */
#include <native/kernel.h>
