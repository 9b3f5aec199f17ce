/* SPDX-License-Identifier: MIT */
/*
 * OpenBLAS as the baseline, loaded with dlopen after pinning its core type:
 * on VMs whose CPUID hides the model, its auto-detection picks a generic
 * core that runs ~4x slower. OPENBLAS_CORETYPE=SKYLAKEX (AVX-512) unless
 * the user set one, or the CPU lacks AVX-512 (then HASWELL for AVX2).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

bool bench_blas_load(struct bench_blas *b, int threads)
{
	static const char *const names[] = {
		"libopenblas.so.0", "libopenblas.so",
		"/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
	};
	char nt[16];
	char *(*config)(void);

	memset(b, 0, sizeof(*b));
	if (!getenv("OPENBLAS_CORETYPE")) {
		__builtin_cpu_init();
		if (__builtin_cpu_supports("avx512f") &&
		    __builtin_cpu_supports("avx512bw") &&
		    __builtin_cpu_supports("avx512vl"))
			setenv("OPENBLAS_CORETYPE", "SKYLAKEX", 1);
		else if (__builtin_cpu_supports("avx2"))
			setenv("OPENBLAS_CORETYPE", "HASWELL", 1);
	}
	b->coretype = getenv("OPENBLAS_CORETYPE");
	snprintf(nt, sizeof(nt), "%d", threads);
	setenv("OPENBLAS_NUM_THREADS", nt, 1);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !b->handle;
	     i++)
		b->handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!b->handle) {
		fprintf(stderr, "ember-bench: OpenBLAS not found (%s): install "
			"libopenblas0 for the baseline\n", dlerror());
		return false;
	}
	*(void **)&b->sgemm = dlsym(b->handle, "cblas_sgemm");
	*(void **)&b->sgemv = dlsym(b->handle, "cblas_sgemv");
	*(void **)&config = dlsym(b->handle, "openblas_get_config");
	void (*set_threads)(int);

	*(void **)&set_threads = dlsym(b->handle, "openblas_set_num_threads");
	if (set_threads)
		set_threads(threads);
	if (config)
		snprintf(b->config, sizeof(b->config), "%s", config());
	char *(*corename)(void);

	*(void **)&corename = dlsym(b->handle, "openblas_get_corename");
	if (corename) {
		size_t l = strlen(b->config);

		snprintf(b->config + l, sizeof(b->config) - l, " core=%s",
			 corename());
	}
	return b->sgemm && b->sgemv;
}

void bench_blas_unload(struct bench_blas *b)
{
	if (b->handle)
		dlclose(b->handle);
	memset(b, 0, sizeof(*b));
}
