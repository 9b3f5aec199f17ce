/* SPDX-License-Identifier: MIT */
/*
 * The machine's read bandwidth, measured the way the decode kernels read:
 * every thread streams its share of a buffer much larger than the caches,
 * as four sequential streams at once (like four weight rows).
 */
#include <immintrin.h>
#include <stdint.h>

#include "bench.h"

#define STREAMS 4

struct bw_job {
	const uint8_t *buf;
	size_t bytes;
	uint64_t sink[64];	/* one slot per task, 8 apart */
};

__attribute__((target("avx2")))
static uint64_t read_avx2(const uint8_t *p, size_t len)
{
	size_t part = len / STREAMS / 64 * 64;
	__m256i acc[STREAMS];

	for (int s = 0; s < STREAMS; s++)
		acc[s] = _mm256_setzero_si256();
	for (size_t off = 0; off < part; off += 64)
		for (int s = 0; s < STREAMS; s++) {
			const __m256i *q = (const __m256i *)(p + s * part + off);

			acc[s] = _mm256_xor_si256(acc[s], _mm256_load_si256(q));
			acc[s] = _mm256_xor_si256(acc[s], _mm256_load_si256(q + 1));
		}
	uint64_t r = 0;

	for (int s = 0; s < STREAMS; s++)
		r ^= (uint64_t)_mm256_extract_epi64(acc[s], 0) ^
		     (uint64_t)_mm256_extract_epi64(acc[s], 3);
	return r;
}

static uint64_t read_plain(const uint8_t *p, size_t len)
{
	const uint64_t *q = (const uint64_t *)p;
	uint64_t r = 0;

	for (size_t i = 0; i < len / 8; i++)
		r ^= q[i];
	return r;
}

static void bw_task(void *arg, int i, int n)
{
	struct bw_job *j = arg;
	size_t share = j->bytes / (size_t)n / 4096 * 4096;
	const uint8_t *p = j->buf + share * (size_t)i;
	uint64_t r = __builtin_cpu_supports("avx2") ? read_avx2(p, share) :
						      read_plain(p, share);

	j->sink[(i % 8) * 8] += r;
}

struct bw_arg {
	const struct ek_exec *ex;
	struct bw_job *job;
};

static void bw_once(void *arg)
{
	struct bw_arg *a = arg;

	a->ex->run(a->ex->ctx, bw_task, a->job, a->ex->nthreads);
}

double bench_read_bandwidth(const struct bench_opts *o,
			    const struct ek_exec *ex, size_t bytes)
{
	struct bw_job job = { .bytes = bytes };
	struct bw_arg arg = { ex, &job };
	void *buf = bench_alloc(bytes);
	double t;

	/* non-zero content, so nothing could be skipped */
	for (size_t i = 0; i < bytes; i += 4096)
		((uint8_t *)buf)[i] = (uint8_t)i | 1;
	job.buf = buf;
	t = bench_time(o, bw_once, &arg);
	bench_free(buf, bytes);
	return (double)(bytes / (size_t)ex->nthreads / 4096 * 4096) *
	       ex->nthreads / t * 1e-9;
}
