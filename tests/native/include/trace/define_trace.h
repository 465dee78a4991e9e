/* SPDX-License-Identifier: GPL-2.0 */
/* Natively the tracepoints are no-ops (native/kernel.h's TRACE_EVENT). */
