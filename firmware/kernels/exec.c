/* SPDX-License-Identifier: MIT */
/* The single-threaded executor. */
#include "ek_internal.h"

static void serial_run(void *ctx, ek_task_fn fn, void *arg, int n)
{
	(void)ctx;
	for (int i = 0; i < n; i++)
		fn(arg, i, n);
}

const struct ek_exec ek_exec_serial = {
	.run = serial_run,
	.ctx = NULL,
	.nthreads = 1,
};
