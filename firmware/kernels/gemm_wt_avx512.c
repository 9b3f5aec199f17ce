/* SPDX-License-Identifier: MIT */
/*
 * GEMM over f32 weights read where they are (prefill). The tiled GEMM
 * (gemm.c) packs every W panel: for a prefill of ~128 tokens that copies
 * the whole weight matrix once more than it computes with it. Here the
 * roles turn: the microkernel broadcasts W[n][k] straight from 12 weight
 * rows and multiplies it by 32 activations held in the lanes, so only A
 * is packed (transposed, once per call: M x K floats instead of N x K).
 * The 12 x 32 tile of C^T is transposed on the way out. For M from 32 to
 * WT_MAX_M (prefill batches); the tiled GEMM takes larger M.
 */
#include "matmul_kernels.h"

#if EK_X86
#include <immintrin.h>

#define WT_NR EK_GEMM_WT_NR	/* weight rows per tile */
#define WT_MR EK_GEMM_WT_MR	/* activation rows per tile (two vectors) */
#define WT_PF 128	/* floats of a W row prefetched ahead (512 B) */
#define WT_KC 512	/* K per pass: a 32 x 512 slab of A^T is 64 KiB */
/* Above this M the tiled GEMM wins: every W slab re-reads all of A^T,
 * which then no longer stays in cache (2048^3: 150 vs 190 GFLOP/s). */
#define WT_MAX_M 512

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static uint32_t wt_mpad(const struct ek_matmul *p)
{
	return (p->m + WT_MR - 1) / WT_MR * WT_MR;
}

size_t ek_gemm_wt_bytes(const struct ek_matmul *p)
{
	/* enough rows to fill the lanes; f32 weights only (others would need
	 * a conversion per broadcast) */
	if (p->w_dtype != EK_F32 || p->m < WT_MR || p->m > WT_MAX_M ||
	    p->w_stride % 4)
		return 0;
	return (size_t)wt_mpad(p) * p->k * 4 + 64;
}

/* A^T in the buffer: its first 64-byte boundary */
static uintptr_t wt_at(const void *buf)
{
	return ((uintptr_t)buf + 63) & ~(uintptr_t)63;
}

/* A^T by m-tiles: at[tile][k][WT_MR], zeros past M. Task i of n packs
 * its share of the tiles, 16 k at a time: the 32 x 16 floats written
 * for them are 32 lines, which stay in L1 while each row gives its 16. */
void ek_gemm_wt_pack(const struct ek_matmul *p, void *buf, int i, int n)
{
	float *at = (float *)wt_at(buf);
	uint64_t t0, t1;

	ek_split(wt_mpad(p) / WT_MR, 1, i, n, &t0, &t1);
	for (uint64_t t = t0; t < t1; t++) {
		float *dst = at + (size_t)t * WT_MR * p->k;

		for (uint32_t k0 = 0; k0 < p->k; k0 += 16) {
			uint32_t ke = min_u32(k0 + 16, p->k);

			for (uint32_t r = 0; r < WT_MR; r++) {
				uint64_t m = t * WT_MR + r;
				const float *a = m < p->m ?
					ek_ptr_add(p->a, m * p->a_stride) : NULL;

				for (uint32_t k = k0; k < ke; k++)
					dst[(size_t)k * WT_MR + r] = a ? a[k] : 0.0f;
			}
		}
	}
}

/* acc[i] (+)= sum_k W[row i][k] * at[k][0..31] over kc steps; pf[i] + k
 * is prefetched as k advances */
EK_TARGET_AVX512 static void ukr_wt(uint32_t kc, const float *const w[WT_NR],
				    const float *const pf[WT_NR],
				    const float *at, __m512 acc[WT_NR][2])
{
	__m512 c[WT_NR][2];

#pragma GCC unroll 12
	for (int i = 0; i < WT_NR; i++) {
		c[i][0] = acc[i][0];
		c[i][1] = acc[i][1];
	}
	for (uint32_t k = 0; k < kc; k++) {
		if (k % 16 == 0)	/* a line of each row */
			for (int i = 0; i < WT_NR; i++)
				ek_prefetch_l2(pf[i] + k);
		__m512 a0 = _mm512_load_ps(at + (size_t)k * WT_MR);
		__m512 a1 = _mm512_load_ps(at + (size_t)k * WT_MR + 16);

#pragma GCC unroll 12
		for (int i = 0; i < WT_NR; i++) {
			__m512 b = _mm512_set1_ps(w[i][k]);

			c[i][0] = _mm512_fmadd_ps(b, a0, c[i][0]);
			c[i][1] = _mm512_fmadd_ps(b, a1, c[i][1]);
		}
	}
#pragma GCC unroll 12
	for (int i = 0; i < WT_NR; i++) {
		acc[i][0] = c[i][0];
		acc[i][1] = c[i][1];
	}
}

/* C[m][n0 + i] = tile[i][m - m0] (+ bias, + C if accumulate) */
static void wt_store(const struct ek_matmul *p, uint32_t n0, uint32_t nv,
		     uint32_t m0, uint32_t mv, const float *tile)
{
	for (uint32_t r = 0; r < mv; r++) {
		float *c = ek_ptr_add_mut(p->c, (size_t)(m0 + r) * p->c_stride);

		for (uint32_t i = 0; i < nv; i++) {
			float v = tile[i * WT_MR + r];

			if (p->bias)
				v += p->bias[n0 + i];
			if (p->accumulate)
				v += c[n0 + i];
			c[n0 + i] = v;
		}
	}
}

/* Row r of W, or its last row for r past N. */
static const float *wt_row(const struct ek_matmul *p, uint32_t r)
{
	return ek_ptr_add(p->w, (size_t)min_u32(r, p->n - 1) * p->w_stride);
}

/* Units u0..u1 (ek_gemm_wt_units()) over the packed A^T in buf. */
EK_TARGET_AVX512 void ek_gemm_wt(const struct ek_matmul *p, const void *buf,
				 uint64_t u0, uint64_t u1)
{
	const float *at = (const float *)wt_at(buf);
	uint32_t mt = wt_mpad(p) / WT_MR;
	float tile[WT_NR * WT_MR] __attribute__((aligned(64)));

	for (uint64_t u = u0; u < u1; u++) {
		uint32_t n0 = (uint32_t)(u / mt) * WT_NR, t = (uint32_t)(u % mt);
		uint32_t nv = min_u32(WT_NR, p->n - n0);
		const float *a = at + (size_t)t * WT_MR * p->k;
		const float *w[WT_NR];
		__m512 acc[WT_NR][2];

		/* rows past N repeat the last one (their results are dropped).
		 * The slab's first pass reads W from memory: prefetch ahead in
		 * its rows; its last pass brings in the next slab's rows. */
		const float *pf[WT_NR];
		bool next = t == mt - 1 && u + 1 < u1;

		for (uint32_t x = 0; x < WT_NR; x++) {
			w[x] = wt_row(p, n0 + min_u32(x, nv - 1));
			pf[x] = next ? wt_row(p, n0 + WT_NR + x) : w[x] + WT_PF;
			acc[x][0] = acc[x][1] = _mm512_setzero_ps();
		}
		for (uint32_t k0 = 0; k0 < p->k; k0 += WT_KC) {
			const float *wk[WT_NR], *pk[WT_NR];

			for (int x = 0; x < WT_NR; x++) {
				wk[x] = w[x] + k0;
				pk[x] = pf[x] + k0;
			}
			ukr_wt(min_u32(WT_KC, p->k - k0), wk, pk,
			       a + (size_t)k0 * WT_MR, acc);
		}
		for (int x = 0; x < WT_NR; x++) {
			_mm512_store_ps(tile + x * WT_MR, acc[x][0]);
			_mm512_store_ps(tile + x * WT_MR + 16, acc[x][1]);
		}
		wt_store(p, n0, nv, t * WT_MR, min_u32(WT_MR, p->m - t * WT_MR),
			 tile);
	}
}

#endif /* EK_X86 */
