/* SPDX-License-Identifier: MIT */
/*
 * ember-bench device: the forward-pass row (device_forward.c, on the
 * runtime) apart from the rows on libember (device.c). The two headers
 * cannot meet in one file: ember/ember.h's struct ember_device and
 * ember/runtime.h's enum ember_device share C's tag namespace.
 */
#ifndef EMBER_BENCH_DEVICE_H
#define EMBER_BENCH_DEVICE_H

#include <stdint.h>

/* The device's perf counters that the forward row reads. */
struct dev_perf {
	uint64_t busy_ns, jobs, bytes_read;
};
typedef int (*dev_perf_fn)(void *ctx, struct dev_perf *p);

struct fwd_result {
	char model[128];	/* general.name, else the file's name */
	char weight_type[16];	/* most matmul weights' type */
	char placement[256];	/* which backend runs which steps */
	int tokens;		/* decode tokens timed */
	double wall_s, cpu_s;	/* wall and this process's CPU time, in all */
	uint64_t busy_ns, jobs, bytes_read;	/* perf counter deltas */
};

/*
 * Loads @model, opens a session on the NPU (@threads CPU threads) and
 * decodes pseudo-random tokens, after a few untimed ones, for @seconds
 * (at least 4 tokens, at most the session's context), reading the device
 * counters with @perf(@ctx) around them. Returns 0 or -errno with a
 * message printed.
 */
int bench_forward_decode(const char *model, int threads, double seconds,
			 dev_perf_fn perf, void *ctx, struct fwd_result *r);

#endif
