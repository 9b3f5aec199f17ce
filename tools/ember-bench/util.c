/* SPDX-License-Identifier: MIT */
/* Timing, output and memory helpers shared by the ember-bench modes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "bench.h"

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_time(const struct bench_opts *o, void (*fn)(void *arg),
		  void *arg)
{
	double best = 1e30;
	long iters = 1;

	fn(arg);	/* warm up: page faults, pool wake-up */
	/* find a batch size that runs for about min_time */
	for (;;) {
		double t0 = bench_now();

		for (long i = 0; i < iters; i++)
			fn(arg);
		double dt = bench_now() - t0;

		if (dt >= o->min_time || iters >= (1L << 30)) {
			best = dt / (double)iters;
			break;
		}
		iters = dt > 0 ? (long)((double)iters * o->min_time / dt * 1.2) + 1
			       : iters * 10;
	}
	/* best of a few more batches: other load on the machine only slows */
	for (int b = 0; b < 4; b++) {
		double t0 = bench_now();

		for (long i = 0; i < iters; i++)
			fn(arg);
		double dt = (bench_now() - t0) / (double)iters;

		if (dt < best)
			best = dt;
	}
	return best;
}

void *bench_alloc(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "ember-bench: cannot map %zu MiB: free memory "
			"or bench smaller shapes\n", bytes >> 20);
		exit(1);
	}
	madvise(p, bytes, MADV_HUGEPAGE);
	memset(p, 0, bytes);
	return p;
}

void bench_free(void *p, size_t bytes)
{
	if (p)
		munmap(p, bytes);
}

void bench_fill(uint64_t *seed, float *x, size_t n, float scale)
{
	for (size_t i = 0; i < n; i++) {
		*seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
		x[i] = scale * ((float)(*seed >> 40) / (float)(1 << 24) - 0.5f);
	}
}

void *bench_weights(uint64_t *seed, int dtype, uint32_t n, uint32_t k,
		    size_t *bytes)
{
	size_t row = ek_row_size(dtype, k);
	uint8_t *w = bench_alloc(row * n);
	float *tmp = malloc((size_t)k * 4);

	if (!tmp) {
		fprintf(stderr, "ember-bench: out of memory\n");
		exit(1);
	}
	for (uint32_t r = 0; r < n; r++) {
		bench_fill(seed, tmp, k, 0.1f);
		ek_quantize_row(dtype, tmp, w + row * r, k);
	}
	free(tmp);
	*bytes = row * n;
	return w;
}

uint8_t *bench_copies(const void *w, size_t bytes, int n, size_t *step)
{
	/* one mapping (huge pages asked for, as the runtime's repacked
	 * weights have): small matrices in mappings of their own would each
	 * cost a TLB walk per 4 KiB page */
	size_t s = (bytes + 4095) & ~(size_t)4095;
	uint8_t *all = bench_alloc(s * (size_t)n);

	for (int i = 0; i < n; i++)
		memcpy(all + s * (size_t)i, w, bytes);
	*step = s;
	return all;
}

static void json_str(const char *key, const char *v, bool comma)
{
	printf("\"%s\":\"", key);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			putchar('\\');
		putchar(*v);
	}
	printf("\"%s", comma ? "," : "");
}

void bench_print_header(const struct bench_opts *o)
{
	if (o->json)
		return;
	printf("%-12s %-6s %-22s %-8s %10s %10s %6s  %s\n", "op", "dtype",
	       "shape", "metric", "value", "baseline", "ratio", "baseline is");
}

void bench_print(const struct bench_opts *o, const struct bench_result *r)
{
	double ratio = r->baseline > 0 ? r->value / r->baseline : -1;

	if (o->json) {
		putchar('{');
		json_str("op", r->op, true);
		json_str("dtype", r->dtype, true);
		json_str("shape", r->shape, true);
		json_str("metric", r->metric, true);
		printf("\"value\":%.3f,", r->value);
		if (r->baseline > 0)
			printf("\"baseline\":%.3f,\"ratio\":%.3f,", r->baseline,
			       ratio);
		else
			printf("\"baseline\":null,\"ratio\":null,");
		json_str("baseline_name", r->baseline_name, true);
		printf("\"threads\":%d", o->threads);
		if (r->note[0]) {
			putchar(',');
			json_str("note", r->note, false);
		}
		if (r->extra[0])
			printf(",%s", r->extra);
		printf("}\n");
	} else {
		printf("%-12s %-6s %-22s %-8s %10.2f ", r->op, r->dtype,
		       r->shape, r->metric, r->value);
		if (r->baseline > 0)
			printf("%10.2f %6.2f  %s", r->baseline, ratio,
			       r->baseline_name);
		else
			printf("%10s %6s", "-", "-");
		if (r->note[0])
			printf("  (%s)", r->note);
		putchar('\n');
	}
	fflush(stdout);
}
