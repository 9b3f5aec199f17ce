/* SPDX-License-Identifier: MIT */
#ifndef EMBER_RUN_BENCH_H
#define EMBER_RUN_BENCH_H

#include <stdbool.h>

#include <ember/runtime.h>

struct bench_opts {
	const char *model_path;
	int n_prefill, n_decode, n_threads, kv_dtype, reps;
	int device;		/* enum ember_device */
	bool json;
};

/* Prefill n_prefill tokens, decode n_decode, report tokens/s against the
 * memory-bandwidth bound measured in the same run (on the CPU; a session
 * on the NPU reports no bound) and this process's CPU time per decoded
 * token. Returns 0 or -errno. */
int run_bench(const struct bench_opts *o);

#endif
