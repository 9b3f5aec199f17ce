/* SPDX-License-Identifier: MIT */
/*
 * Read bandwidth as the decode kernels read: each thread streams its share
 * of a buffer much larger than the caches as 1, 2 or 4 sequential streams
 * (like weight rows read side by side). Huge pages are asked for, as the
 * best case of the machine; the best pass over all patterns is the result.
 */
#include "bandwidth.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define BW_AVX2 __attribute__((target("avx2")))
#endif

struct bw_job {
	const uint8_t *buf;
	size_t bytes;
	int streams;
	uint64_t sink[64 * 8];	/* one slot per task, a cache line apart */
};

#ifdef BW_AVX2
BW_AVX2 static uint64_t read_avx2(const uint8_t *p, size_t len, int streams)
{
	size_t part = len / (size_t)streams / 64 * 64;
	__m256i acc[4];

	for (int s = 0; s < 4; s++)
		acc[s] = _mm256_setzero_si256();
	for (size_t off = 0; off < part; off += 64)
		for (int s = 0; s < streams; s++) {
			const __m256i *q = (const __m256i *)(p + s * part + off);

			acc[s] = _mm256_xor_si256(acc[s], _mm256_load_si256(q));
			acc[s] = _mm256_xor_si256(acc[s],
						  _mm256_load_si256(q + 1));
		}
	uint64_t r = 0;

	for (int s = 0; s < 4; s++)
		r ^= (uint64_t)_mm256_extract_epi64(acc[s], 0) ^
		     (uint64_t)_mm256_extract_epi64(acc[s], 3);
	return r;
}
#endif

static uint64_t read_plain(const uint8_t *p, size_t len, int streams)
{
	size_t part = len / (size_t)streams / 64 * 64;
	uint64_t r[4] = { 0, 0, 0, 0 };

	for (size_t off = 0; off < part; off += 8)
		for (int s = 0; s < streams; s++)
			r[s] ^= *(const uint64_t *)(p + s * part + off);
	return r[0] ^ r[1] ^ r[2] ^ r[3];
}

static void bw_task(void *arg, int i, int n)
{
	struct bw_job *j = arg;
	size_t share = j->bytes / (size_t)n / 4096 * 4096;
	const uint8_t *p = j->buf + share * (size_t)i;
	uint64_t r;

#ifdef BW_AVX2
	if (__builtin_cpu_supports("avx2"))
		r = read_avx2(p, share, j->streams);
	else
#endif
		r = read_plain(p, share, j->streams);
	j->sink[(i % 64) * 8] += r;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void wake_task(void *arg, int i, int n)
{
	(void)arg;
	(void)i;
	(void)n;
}

double ember_read_pass(const struct ek_exec *ex, const void *buf,
		       size_t bytes, int streams)
{
	struct bw_job job = { .buf = buf, .bytes = bytes, .streams = streams };
	int n = ex->nthreads > 0 ? ex->nthreads : 1;
	size_t read = bytes / (size_t)n / 4096 * 4096 * (size_t)n;
	double t0, t;

	if (streams != 1 && streams != 2 && streams != 4)
		return 0;
	/* untimed: wakes workers that went to sleep since the pool's last
	 * job, so that the pass does not time their wake-up */
	ex->run(ex->ctx, wake_task, NULL, n);
	t0 = now();
	ex->run(ex->ctx, bw_task, &job, n);
	t = now() - t0;
	return t > 0 ? (double)read / t : 0;
}

/* bytes of fresh memory (huge pages asked for), every page present, or
 * NULL */
static uint8_t *map_buffer(size_t bytes)
{
	uint8_t *buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (buf == MAP_FAILED)
		return NULL;
	madvise(buf, bytes, MADV_HUGEPAGE);
	/* non-zero content, so no page is the shared zero page */
	for (size_t i = 0; i < bytes; i += 4096)
		buf[i] = (uint8_t)(i >> 12) | 1;
	return buf;
}

double ember_read_bandwidth(const struct ek_exec *ex, size_t bytes, int reps)
{
	static const int patterns[] = { 1, 2, 4 };
	double best = 0;
	uint8_t *buf = map_buffer(bytes);

	if (!buf)
		return 0;
	for (int r = 0; r < reps; r++)
		for (size_t p = 0; p < sizeof(patterns) / sizeof(*patterns);
		     p++) {
			double bw = ember_read_pass(ex, buf, bytes, patterns[p]);

			if (bw > best)
				best = bw;
		}
	munmap(buf, bytes);
	return best;
}

int ember_read_ring_init(struct ember_read_ring *r, size_t slice,
			 unsigned int slices)
{
	memset(r, 0, sizeof(*r));
	r->buf = map_buffer(slice * slices);
	if (!r->buf)
		return -ENOMEM;
	r->slice = slice;
	r->slices = slices;
	return 0;
}

double ember_read_ring_pass(struct ember_read_ring *r, const struct ek_exec *ex,
			    int streams)
{
	const uint8_t *slice = r->buf + r->slice * (r->next++ % r->slices);

	return ember_read_pass(ex, slice, r->slice, streams);
}

void ember_read_ring_free(struct ember_read_ring *r)
{
	if (r->buf)
		munmap(r->buf, r->slice * r->slices);
	r->buf = NULL;
}
