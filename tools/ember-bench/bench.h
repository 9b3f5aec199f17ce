/* SPDX-License-Identifier: MIT */
/*
 * ember-bench: shared pieces of the benchmark modes (timing, result lines,
 * memory bandwidth, the OpenBLAS baseline). Each mode lives in its own
 * file and registers in main.c's mode table.
 */
#ifndef EMBER_BENCH_H
#define EMBER_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/kernels.h"

struct bench_opts {
	bool json;		/* one JSON object per line */
	int threads;		/* threads for ember and the baselines */
	double min_time;	/* kernels: seconds per timed batch; states:
				 * seconds in all */
	bool time_set;		/* --time given */
	const char *filter;	/* only ops whose name contains this */
	const char *model;	/* device: the model of the forward-pass row */
};

/* One measurement. baseline < 0: none. */
struct bench_result {
	char op[32];
	char dtype[16];
	char shape[48];
	char metric[16];	/* "GFLOP/s", "GB/s" */
	double value;
	double baseline;
	char baseline_name[32];
	char note[96];
	char extra[1024];	/* more JSON members ("key":value,...), or "" */
};

void bench_print(const struct bench_opts *o, const struct bench_result *r);
void bench_print_header(const struct bench_opts *o);

double bench_now(void);
/* Best seconds per call of fn(arg) over 5 batches of >= min_time each. */
double bench_time(const struct bench_opts *o, void (*fn)(void *arg),
		  void *arg);

void *bench_alloc(size_t bytes);	/* 2 MiB aligned, touched; exits on OOM */
void bench_free(void *p, size_t bytes);
/* n pseudo-random floats in [-scale / 2, scale / 2) from *seed */
void bench_fill(uint64_t *seed, float *x, size_t n, float scale);
/* An n x k matrix of dtype from such floats (rows of ek_row_size()), in
 * bench_alloc() memory; *bytes: its size. */
void *bench_weights(uint64_t *seed, int dtype, uint32_t n, uint32_t k,
		    size_t *bytes);
/* n copies of w (bytes) in one bench_alloc() mapping, *step bytes apart:
 * cycling through them makes a matrix come from DRAM each time. */
uint8_t *bench_copies(const void *w, size_t bytes, int n, size_t *step);

/* OpenBLAS, loaded at run time with its core type pinned (auto-detection
 * picks a generic core on some VMs). NULL members if unavailable. */
struct bench_blas {
	void *handle;
	void (*sgemm)(int order, int ta, int tb, int m, int n, int k,
		      float alpha, const float *a, int lda, const float *b,
		      int ldb, float beta, float *c, int ldc);
	void (*sgemv)(int order, int ta, int m, int n, float alpha,
		      const float *a, int lda, const float *x, int incx,
		      float beta, float *y, int incy);
	const char *coretype;
	char config[128];
};
/* Must run before any other thread exists (it edits the environment). */
bool bench_blas_load(struct bench_blas *b, int threads);
void bench_blas_unload(struct bench_blas *b);

/* Modes */
int bench_kernels_main(const struct bench_opts *o);
int bench_states_main(const struct bench_opts *o);
int bench_device_main(const struct bench_opts *o);

#endif /* EMBER_BENCH_H */
