/* SPDX-License-Identifier: MIT */
/*
 * ek_matmul over Q4_1, Q5_0, Q5_1 and K-quant weights, with test_matmul.c's
 * checks (a double reference over the weights as stored, the bound for
 * 8-bit activations, bitwise equal results on every executor, row by row
 * and without scratch), at M = 1, 3, 4, 7, 17 and K of one to three
 * super-blocks (and three 32-blocks for the 32-block types); groups of one
 * type over one A, and a group of two types that must not be joined.
 */
#include <string.h>

#include "kt.h"

static const int block_types[] = { EK_Q4_1, EK_Q5_0, EK_Q5_1, EK_Q4_K,
				   EK_Q5_K, EK_Q6_K };
#define N_TYPES (sizeof(block_types) / sizeof(block_types[0]))

static void shapes(struct kt *t, struct kt_execs *e, struct kt_rng *rng)
{
	static const uint32_t ms[] = { 1, 3, 4, 7, 17 };
	static const uint32_t ks[] = { 96, 256, 512, 768 };
	int variant = 0;

	for (size_t ti = 0; ti < N_TYPES; ti++) {
		int dt = block_types[ti];

		for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]); mi++)
			for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++) {
				/* N: a partial last group of four rows too */
				uint32_t n = 5 + 8 * (uint32_t)((mi + ki) % 3);

				if (ks[ki] % ek_dtype_block(dt))
					continue;
				kt_mm_case(t, e, rng, ms[mi], n, ks[ki], dt,
					   variant++ & 15);
			}
	}
}

/* Q/K/V-like groups of one type (joined: A quantized once), and a group
 * of two types over one A, which must run as two matmuls. */
static void groups(struct kt *t, struct kt_execs *e, struct kt_rng *rng)
{
	for (size_t ti = 0; ti < N_TYPES; ti++)
		for (uint32_t m = 1; m <= 5; m += 4)
			kt_mm_group_case(t, e, rng, block_types[ti], m, 512);

	const uint32_t m = 3, n = 9, k = 256;
	const int dts[2] = { EK_Q4_K, EK_Q5_0 };
	float *a = kt_alloc((size_t)m * k * 4), *wf = kt_alloc((size_t)k * 4);
	struct ek_matmul ps[2];
	float *sep[2], *grp[2];
	void *w[2];

	kt_fill(rng, a, (size_t)m * k, 1.0f);
	for (int x = 0; x < 2; x++) {
		size_t row = ek_row_size(dts[x], k);

		w[x] = kt_alloc(row * n);
		for (uint32_t r = 0; r < n; r++) {
			kt_fill(rng, wf, k, 0.05f);
			ek_quantize_row(dts[x], wf, (char *)w[x] + r * row, k);
		}
		sep[x] = kt_alloc((size_t)m * n * 4);
		grp[x] = kt_alloc((size_t)m * n * 4);
		ps[x] = (struct ek_matmul){
			.m = m, .n = n, .k = k, .a = a, .a_stride = k * 4,
			.w = w[x], .w_dtype = dts[x], .w_stride = row,
			.c_stride = n * 4,
		};
	}
	for (int i = 0; i <= KT_MAX_POOL; i += 2) {
		size_t s0 = ek_matmul_scratch_size(&ps[0], e->ex[i].nthreads);
		size_t s1 = ek_matmul_scratch_size(&ps[1], e->ex[i].nthreads);
		void *scratch = kt_alloc(s0 > s1 ? s0 : s1);

		for (int x = 0; x < 2; x++) {
			ps[x].c = sep[x];
			ek_matmul(&e->ex[i], &ps[x], scratch);
			ps[x].c = grp[x];
		}
		ek_matmul_group(&e->ex[i], ps, 2, scratch);
		for (int x = 0; x < 2; x++)
			KT_CHECK(t, !memcmp(sep[x], grp[x], (size_t)m * n * 4),
				 "matmul group of %s and %s, %d threads: member "
				 "%d differs from ek_matmul", ek_dtype_name(dts[0]),
				 ek_dtype_name(dts[1]), e->ex[i].nthreads, x);
		kt_free(scratch);
	}
	for (int x = 0; x < 2; x++) {
		kt_free(w[x]);
		kt_free(sep[x]);
		kt_free(grp[x]);
	}
	kt_free(a);
	kt_free(wf);
}

/* What the other paths take: q8 scratch rows, never X16 or invalid K. */
static void limits(struct kt *t)
{
	for (size_t ti = 0; ti < N_TYPES; ti++) {
		int dt = block_types[ti];
		uint32_t k = ek_dtype_block(dt) * 3;
		struct ek_matmul p = { .m = 2, .n = 5, .k = k, .w_dtype = dt };

		KT_CHECK(t, ek_matmul_scratch_size(&p, 3) > 0,
			 "%s matmul takes the quantized-activation path",
			 ek_dtype_name(dt));
		KT_CHECK(t, !ek_x16_size(dt, 16, k) && !ek_x16_preferred(dt),
			 "no X16 layout for %s", ek_dtype_name(dt));
		p.k = k + 32 * (dt == EK_Q4_K || dt == EK_Q5_K || dt == EK_Q6_K);
		if (p.k == k)
			p.k = k + 16;
		KT_CHECK(t, ek_matmul_scratch_size(&p, 1) == 0,
			 "%s matmul with K %u not whole blocks is refused",
			 ek_dtype_name(dt), p.k);
	}
}

void kt_test_matmul_blocks(struct kt *t, struct kt_execs *e)
{
	struct kt_rng rng = { 0xb10c5eedull };

	limits(t);
	shapes(t, e, &rng);
	groups(t, e, &rng);
}
