/* SPDX-License-Identifier: MIT */
/*
 * AVX-512 VNNI dots over X16 weights (layout in ember/kernels.h).
 *
 * Lane r of every 64-byte chunk is row r of the group, so one vpdpbusd
 * multiplies four weights of sixteen rows by the same four activations (a
 * broadcast dword) and a block's integer sums land in the lanes of their
 * rows: nothing is transposed, and the block's 16 stored scales meet them
 * in order. Per 16 rows x 32 weights: Q4_0 4 loads, 8 masks, 8 vpdpbusd
 * and 7 ops to scale; Q8_0 8 loads, 8 vpdpbusd and 5.
 */
#include <string.h>

#include "matmul_kernels.h"
#include "x16.h"

#if EK_X86
#include <immintrin.h>

#define AI __attribute__((always_inline)) inline

/* Activations 4i..4i+3 of a block in every lane. */
EK_TARGET_VNNI static AI __m512i x16_a4(const int8_t *aq, int i)
{
	int32_t v;

	memcpy(&v, aq + 4 * i, sizeof(v));
	return _mm512_set1_epi32(v);
}

/* What the storage adds to a block's sum: Q8_0 weights are stored + 128,
 * Q4_0 nibbles are q + 8; times the block's activation sum. */
EK_TARGET_VNNI static AI __m512i x16_off(int q8, const struct ek_q8_row *a,
					 uint64_t b)
{
	return _mm512_set1_epi32(a->sum[b] * (q8 ? 128 : 8));
}

/* The u8 operands of a block entry e: w[i] pairs with activation dword i
 * (Q4_0: low nibbles of chunk c are elements 4c.., high ones 16 + 4c..). */
EK_TARGET_VNNI static AI void x16_weights(int q8, const uint8_t *e,
					  __m512i w[8])
{
	const __m512i m4 = _mm512_set1_epi8(0x0f);

	for (int c = 0; c < 8; c++) {
		if (q8) {
			w[c] = _mm512_loadu_si512(e + 64 * c);
		} else if (c < 4) {
			__m512i x = _mm512_loadu_si512(e + 64 * c);

			w[c] = _mm512_and_si512(x, m4);
			w[c + 4] = _mm512_and_si512(_mm512_srli_epi16(x, 4), m4);
		}
	}
}

/* Sum of w[i] x activation dword i, less the storage offset. */
EK_TARGET_VNNI static AI __m512i x16_isum(const __m512i w[8],
					  const int8_t *aq, __m512i off)
{
	__m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();

	for (int c = 0; c < 8; c += 2) {
		s0 = _mm512_dpbusd_epi32(s0, w[c], x16_a4(aq, c));
		s1 = _mm512_dpbusd_epi32(s1, w[c + 1], x16_a4(aq, c + 1));
	}
	return _mm512_sub_epi32(_mm512_add_epi32(s0, s1), off);
}

/*
 * Block sums of ns groups against one activation row (decode), chunk by
 * chunk across the groups: a broadcast of four activations serves every
 * stream, and the streams' loads of a chunk issue together. Group after
 * group instead streamed 0.83 (low bandwidth state) and 0.70 (high) of
 * the read bandwidth, this 0.93 and 0.83 (Q8_0 4096x4096, `ember-bench
 * states`-style probes; the sums are the same integers). Q4_0's high
 * nibbles are masked in place, 16 times their value, and shifted back once.
 */
EK_TARGET_VNNI static AI void x16_isums(int q8, const uint8_t *const e[4],
					const int ns, const int8_t *aq,
					__m512i off, __m512i sum[4])
{
	const __m512i m4 = _mm512_set1_epi8(0x0f);
	const __m512i m4h = _mm512_set1_epi8((char)0xf0);
	__m512i s0[4], s1[4];

	for (int s = 0; s < 4; s++)
		s0[s] = s1[s] = _mm512_setzero_si512();
	/* Q8_0: chunks 2i (activations 8i..) into s0, 2i + 1 into s1; Q4_0:
	 * the low nibbles of chunk i (4i..) into s0, its high ones (16 + 4i..)
	 * into s1 */
#pragma GCC unroll 4
	for (int i = 0; i < 4; i++) {
		int c = q8 ? 2 * i : i;
		__m512i a0 = x16_a4(aq, c), a1 = x16_a4(aq, q8 ? c + 1 : c + 4);

#pragma GCC unroll 4
		for (int s = 0; s < ns; s++) {
			__m512i x = _mm512_loadu_si512(e[s] + 64 * c);

			if (q8) {
				s0[s] = _mm512_dpbusd_epi32(s0[s], x, a0);
				s1[s] = _mm512_dpbusd_epi32(
					s1[s], _mm512_loadu_si512(e[s] + 64 * c + 64), a1);
			} else {
				s0[s] = _mm512_dpbusd_epi32(s0[s], _mm512_and_si512(x, m4), a0);
				s1[s] = _mm512_dpbusd_epi32(s1[s], _mm512_and_si512(x, m4h), a1);
			}
		}
	}
#pragma GCC unroll 4
	for (int s = 0; s < ns; s++)
		sum[s] = _mm512_sub_epi32(_mm512_add_epi32(s0[s], q8 ? s1[s] :
					  _mm512_srai_epi32(s1[s], 4)), off);
}

/* acc + block sums x (weight scales d[0..15] x activation scale da) */
EK_TARGET_VNNI static AI __m512 x16_scale(__m512i isum, const uint16_t *d,
					  float da, __m512 acc)
{
	__m512 sc = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)d));

	return _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum),
			       _mm512_mul_ps(sc, _mm512_set1_ps(da)), acc);
}

/* One group from each of ns streams against one activation row, block by
 * block across the streams, so that distant parts of W are read at once. */
EK_TARGET_VNNI static AI void x16_dot(int q8, const uint8_t *const qs[4],
				      const uint16_t *const ds[4], const int ns,
				      size_t pf, const struct ek_q8_row *a,
				      uint64_t nb, float out[4][EK_X16_ROWS])
{
	size_t qb = ek_x16_qb(q8 ? EK_Q8_0 : EK_Q4_0);
	/* the scales stream is qb / 32 times slower than the quants */
	size_t spf = pf * 2 * EK_X16_ROWS / qb;
	__m512 acc[4];

#pragma GCC unroll 4
	for (int s = 0; s < ns; s++)
		acc[s] = _mm512_setzero_ps();
	for (uint64_t b = 0; b < nb; b++) {
		const uint8_t *e[4] = { NULL };	/* (ns < 4: gcc cannot tell) */
		__m512i sum[4];

#pragma GCC unroll 4
		for (int s = 0; s < ns; s++) {
			e[s] = qs[s] + b * qb;
			for (size_t l = 0; l < qb; l += 64)
				ek_prefetch_l2(e[s] + pf + l);
			ek_prefetch_l2((const char *)(ds[s] + b * EK_X16_ROWS) + spf);
		}
		x16_isums(q8, e, ns, a->qs + b * EK_QK, x16_off(q8, a, b), sum);
#pragma GCC unroll 4
		for (int s = 0; s < ns; s++)
			acc[s] = x16_scale(sum[s], ds[s] + b * EK_X16_ROWS, a->d[b],
					   acc[s]);
	}
#pragma GCC unroll 4
	for (int s = 0; s < ns; s++)
		_mm512_storeu_ps(out[s], acc[s]);
}

/* One group against four activation rows: each block's weights are split
 * once for the four. */
EK_TARGET_VNNI static AI void x16_tile(int q8, const uint8_t *q,
				       const uint16_t *d,
				       const struct ek_q8_row *const a[4],
				       uint64_t nb, float out[4][EK_X16_ROWS])
{
	size_t qb = ek_x16_qb(q8 ? EK_Q8_0 : EK_Q4_0);
	__m512 acc[4];

	for (int y = 0; y < 4; y++)
		acc[y] = _mm512_setzero_ps();
	for (uint64_t b = 0; b < nb; b++) {
		__m512i w[8];

		x16_weights(q8, q + b * qb, w);
#pragma GCC unroll 4
		for (int y = 0; y < 4; y++)
			acc[y] = x16_scale(x16_isum(w, a[y]->qs + b * EK_QK,
						    x16_off(q8, a[y], b)),
					   d + b * EK_X16_ROWS, a[y]->d[b],
					   acc[y]);
	}
	for (int y = 0; y < 4; y++)
		_mm512_storeu_ps(out[y], acc[y]);
}

#define DEFINE_X16(T, Q8)                                                    \
EK_TARGET_VNNI void ek_dotx16_##T##_vnni(const uint8_t *const q[4],         \
					 const uint16_t *const d[4], int ns, \
					 size_t pf,                          \
					 const struct ek_q8_row *a,          \
					 uint64_t nb,                        \
					 float out[4][EK_X16_ROWS])          \
{                                                                            \
	if (ns == 4)                                                         \
		x16_dot(Q8, q, d, 4, pf, a, nb, out);                        \
	else                                                                 \
		x16_dot(Q8, q, d, ns, pf, a, nb, out);                       \
}                                                                            \
EK_TARGET_VNNI void ek_tilex16_##T##_vnni(const uint8_t *q,                 \
					  const uint16_t *d,                 \
					  const struct ek_q8_row *const a[4], \
					  uint64_t nb,                       \
					  float out[4][EK_X16_ROWS])         \
{                                                                            \
	x16_tile(Q8, q, d, a, nb, out);                                      \
}

DEFINE_X16(q8_0, 1)
DEFINE_X16(q4_0, 0)

#endif /* EK_X86 */
