/* SPDX-License-Identifier: MIT */
/*
 * AVX-512 VNNI dots over X4 weights (layout in ember/kernels.h).
 *
 * A 64-byte load holds 16 quants of four rows, so the activations are
 * broadcast to the four 128-bit lanes and one vpdpbusd serves four rows:
 * no gathering of nibbles out of 18-byte blocks, no scale inserts. Lane
 * 4r + i of a block's sum holds part i of row r; four blocks are
 * transposed together so lane 4r + b holds block b of row r, which meets
 * the group's 16 stored scales in the same order (one vcvtph2ps) and the
 * activation scales and sums broadcast per lane. Per 4 rows x 128 weights
 * that is 12 (Q4_0: nibble split) + 8 vpdpbusd + 9 transpose + 5 other ops.
 */
#include "matmul_kernels.h"
#include "x4.h"

#if EK_X86
#include <immintrin.h>

#define AI __attribute__((always_inline)) inline

/* The two u8 vectors of block e: elements 0-15 and 16-31 of four rows. */
EK_TARGET_VNNI static AI void x4_weights(int q8, const uint8_t *e,
					 __m512i w[2])
{
	const __m512i m4 = _mm512_set1_epi8(0x0f);

	if (q8) {
		w[0] = _mm512_loadu_si512(e);
		w[1] = _mm512_loadu_si512(e + 64);
		return;
	}
	__m512i x = _mm512_loadu_si512(e);

	w[0] = _mm512_and_si512(x, m4);
	w[1] = _mm512_and_si512(_mm512_srli_epi16(x, 4), m4);
}

/*
 * Blocks i..i+t-1 (t <= 4) of an activation row as every group's dot uses
 * them: each block's halves broadcast to the four lanes, and in lane
 * 4r + b (block b) the offset the weights' storage adds times the block's
 * activation sum, and the activation scale.
 */
struct x4_act {
	__m512i lo[4], hi[4];
	__m512i off;
	__m512 da;
};

EK_TARGET_VNNI static AI void x4_act(int q8, const struct ek_q8_row *a,
				     uint64_t i, int t, struct x4_act *x)
{
	__mmask8 tm = (__mmask8)((1u << t) - 1);

	for (int b = 0; b < t; b++) {
		const int8_t *q = a->qs + (i + (uint64_t)b) * EK_QK;

		x->lo[b] = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)q));
		x->hi[b] = _mm512_broadcast_i32x4(
			_mm_loadu_si128((const __m128i *)(q + 16)));
	}
	/* weights stored + 128 (Q8_0) or as q for q - 8 (Q4_0) */
	x->off = _mm512_slli_epi32(_mm512_broadcast_i32x4(
		_mm_maskz_loadu_epi32(tm, a->sum + i)), q8 ? 7 : 3);
	x->da = _mm512_broadcast_f32x4(_mm_maskz_loadu_ps(tm, a->d + i));
}

/* [row r: 4 parts] x blocks 0-3 -> lane 4r + b: block b of row r */
EK_TARGET_VNNI static AI __m512i x4_sum4(const __m512i d[4])
{
	__m512i t0 = _mm512_add_epi32(_mm512_unpacklo_epi32(d[0], d[1]),
				      _mm512_unpackhi_epi32(d[0], d[1]));
	__m512i t1 = _mm512_add_epi32(_mm512_unpacklo_epi32(d[2], d[3]),
				      _mm512_unpackhi_epi32(d[2], d[3]));

	return _mm512_add_epi32(_mm512_unpacklo_epi64(t0, t1),
				_mm512_unpackhi_epi64(t0, t1));
}

/* Blocks i..i+t-1 of a group (weights w, scales sc in lanes 4r + b)
 * against the activations x, added to acc. */
EK_TARGET_VNNI static AI __m512 x4_quad(const __m512i w[4][2], int t,
					__m512 sc, const struct x4_act *x,
					__m512 acc)
{
	__m512i d[4];

	for (int b = 0; b < 4; b++)
		d[b] = b < t ? _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(
				_mm512_setzero_si512(), w[b][0], x->lo[b]),
				w[b][1], x->hi[b]) : _mm512_setzero_si512();
	__m512i s = _mm512_sub_epi32(x4_sum4(d), x->off);

	return _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(sc, x->da),
			       acc);
}

/* The scales of a run of t blocks (row r's at t r) to lanes 4r + b. */
EK_TARGET_VNNI static AI __m512 x4_scales(const uint16_t *d, int t)
{
	static const uint16_t idx[3][16] = {
		{ 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0 },
		{ 0, 1, 0, 0, 2, 3, 0, 0, 4, 5, 0, 0, 6, 7, 0, 0 },
		{ 0, 1, 2, 0, 3, 4, 5, 0, 6, 7, 8, 0, 9, 10, 11, 0 },
	};
	static const __mmask16 lanes[3] = { 0x1111, 0x3333, 0x7777 };

	if (t == 4)
		return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)d));
	__m256i raw = _mm256_maskz_loadu_epi16((__mmask16)((1u << (4 * t)) - 1), d);

	return _mm512_cvtph_ps(_mm256_maskz_permutexvar_epi16(lanes[t - 1],
		_mm256_loadu_si256((const __m256i *)idx[t - 1]), raw));
}

/* out[r] = sum of lanes 4r..4r+3, in one fixed order */
EK_TARGET_VNNI static AI void x4_store(__m512 acc, float *out)
{
	__m512 s = _mm512_add_ps(acc, _mm512_permute_ps(acc, 0x4e));

	s = _mm512_add_ps(s, _mm512_permute_ps(s, 0xb1));
	_mm_storeu_ps(out, _mm512_castps512_ps128(_mm512_permutexvar_ps(
		_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
		s)));
}

/* One group from each of NS streams against one activation row, their
 * blocks interleaved so that the streams (distant parts of W) are read
 * at once; the activations of a step are loaded once for all of them. */
EK_TARGET_VNNI static AI void x4_dot(int q8, const uint8_t *const qs[4],
				     const uint16_t *const ds[4], const int ns,
				     size_t pf, const struct ek_q8_row *a,
				     uint64_t nb, float out[4][4])
{
	size_t qb = ek_x4_qb(q8 ? EK_Q8_0 : EK_Q4_0);
	/* the scales stream is qb / 8 times slower than the quants */
	size_t spf = pf * 8 / qb;
	int tail = (int)(nb % 4);
	const uint8_t *q[4] = { NULL, NULL, NULL, NULL };
	const uint16_t *d[4] = { NULL, NULL, NULL, NULL };
	__m512 acc[4];
	struct x4_act x;
	uint64_t i = 0;

#pragma GCC unroll 4
	for (int s = 0; s < ns; s++) {
		q[s] = qs[s];
		d[s] = ds[s];
		acc[s] = _mm512_setzero_ps();
	}
	for (; i + 4 <= nb; i += 4) {
		x4_act(q8, a, i, 4, &x);
#pragma GCC unroll 4
		for (int s = 0; s < ns; s++) {
			__m512i w[4][2];

			for (int b = 0; b < 4; b++) {
				ek_prefetch_l2(q[s] + b * qb + pf);
				if (q8)
					ek_prefetch_l2(q[s] + b * qb + 64 + pf);
				x4_weights(q8, q[s] + b * qb, w[b]);
			}
			ek_prefetch_l2((const char *)d[s] + spf);
			acc[s] = x4_quad(w, 4, x4_scales(d[s], 4), &x, acc[s]);
			q[s] += 4 * qb;
			d[s] += 16;
		}
	}
	if (tail)
		x4_act(q8, a, i, tail, &x);
#pragma GCC unroll 4
	for (int s = 0; s < ns; s++) {
		if (tail) {
			__m512i w[4][2];

			for (int b = 0; b < tail; b++)
				x4_weights(q8, q[s] + b * qb, w[b]);
			acc[s] = x4_quad(w, tail, x4_scales(d[s], tail), &x, acc[s]);
		}
		x4_store(acc[s], out[s]);
	}
}

/* One group against four activation rows: the weights of a step are
 * split once for the four. */
EK_TARGET_VNNI static AI void x4_tile(int q8, const uint8_t *q,
				      const uint16_t *d,
				      const struct ek_q8_row *const a[4],
				      uint64_t nb, float out[4][4])
{
	size_t qb = ek_x4_qb(q8 ? EK_Q8_0 : EK_Q4_0);
	__m512 acc[4];
	uint64_t i = 0;
	float o[4][4];

	for (int y = 0; y < 4; y++)
		acc[y] = _mm512_setzero_ps();
	for (; i < nb; i += 4) {
		int t = nb - i < 4 ? (int)(nb - i) : 4;
		__m512i w[4][2];
		__m512 sc = x4_scales(d, t);

		for (int b = 0; b < t; b++)
			x4_weights(q8, q + b * qb, w[b]);
#pragma GCC unroll 4
		for (int y = 0; y < 4; y++) {
			struct x4_act x;

			/* t == 4 spelled out: constant masks and no branches */
			if (t == 4) {
				x4_act(q8, a[y], i, 4, &x);
				acc[y] = x4_quad(w, 4, sc, &x, acc[y]);
			} else {
				x4_act(q8, a[y], i, t, &x);
				acc[y] = x4_quad(w, t, sc, &x, acc[y]);
			}
		}
		q += (size_t)t * qb;
		d += 4 * t;
	}
	for (int y = 0; y < 4; y++)
		x4_store(acc[y], o[y]);
	for (int r = 0; r < 4; r++)
		for (int y = 0; y < 4; y++)
			out[r][y] = o[y][r];
}

#define DEFINE_X4(T, Q8)                                                     \
EK_TARGET_VNNI void ek_dotx4_##T##_vnni(const uint8_t *const q[4],          \
					const uint16_t *const d[4], int ns,  \
					size_t pf, const struct ek_q8_row *a, \
					uint64_t nb, float out[4][4])        \
{                                                                            \
	if (ns == 4)                                                         \
		x4_dot(Q8, q, d, 4, pf, a, nb, out);                         \
	else                                                                 \
		x4_dot(Q8, q, d, ns, pf, a, nb, out);                        \
}                                                                            \
EK_TARGET_VNNI void ek_tilex4_##T##_vnni(const uint8_t *q, const uint16_t *d, \
					 const struct ek_q8_row *const a[4], \
					 uint64_t nb, float out[4][4])       \
{                                                                            \
	x4_tile(Q8, q, d, a, nb, out);                                       \
}

DEFINE_X4(q8_0, 1)
DEFINE_X4(q4_0, 0)

#endif /* EK_X86 */
