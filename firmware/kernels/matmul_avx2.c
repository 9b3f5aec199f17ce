/* SPDX-License-Identifier: MIT */
/*
 * AVX2 + FMA + F16C matmul kernels: activation quantization, integer block
 * dots through vpmaddubsw, float dots, and a 6x16 GEMM microkernel.
 */
#include "gemm.h"
#include "matmul_blocks_x86.h"
#include "matmul_kernels.h"

#if EK_X86
#include <immintrin.h>

#define AI __attribute__((always_inline)) inline

EK_TARGET_AVX2 static AI int32_t hsum8_i32(__m256i v)
{
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(v),
				  _mm256_extracti128_si256(v, 1));

	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
	return _mm_cvtsi128_si32(s);
}

EK_TARGET_AVX2 void ek_q8_quantize_avx2(const float *x, uint64_t k,
					struct ek_q8_row *r)
{
	const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);

	for (uint64_t b = 0; b < k / EK_QK; b++) {
		__m256 v[4], mx;

		for (int j = 0; j < 4; j++)
			v[j] = _mm256_loadu_ps(x + b * EK_QK + 8 * j);
		mx = _mm256_max_ps(
			_mm256_max_ps(_mm256_and_ps(v[0], absmask),
				      _mm256_and_ps(v[1], absmask)),
			_mm256_max_ps(_mm256_and_ps(v[2], absmask),
				      _mm256_and_ps(v[3], absmask)));
		__m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx),
				       _mm256_extractf128_ps(mx, 1));

		m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
		m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
		float amax = _mm_cvtss_f32(m4);
		float id = amax != 0.0f ? 127.0f / amax : 0.0f;
		__m256 vid = _mm256_set1_ps(id);
		__m256i q[4];

		/* NaN to 0 and clamped to +-127, as the portable path does */
		for (int j = 0; j < 4; j++) {
			__m256 p = _mm256_mul_ps(v[j], vid);

			p = _mm256_and_ps(p, _mm256_cmp_ps(p, p, _CMP_ORD_Q));
			q[j] = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(p),
								 _mm256_set1_epi32(-127)),
						_mm256_set1_epi32(127));
		}
		__m256i s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]),
					     _mm256_add_epi32(q[2], q[3]));
		/* packs work per 128-bit lane: undo the interleave */
		__m256i p16a = _mm256_packs_epi32(q[0], q[1]);
		__m256i p16b = _mm256_packs_epi32(q[2], q[3]);
		__m256i p8 = _mm256_packs_epi16(p16a, p16b);

		p8 = _mm256_permutevar8x32_epi32(p8, perm);
		_mm256_storeu_si256((__m256i *)(r->qs + b * EK_QK), p8);
		r->d[b] = amax / 127.0f;
		r->sum[b] = hsum8_i32(s);
	}
}

/* sum over 32 bytes of w x a with w, a signed */
EK_TARGET_AVX2 static AI __m256 dot32_s8(__m256i w, __m256i a)
{
	__m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w),
					 _mm256_sign_epi8(a, w));

	return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

EK_TARGET_AVX2 static float dot_q8_0_avx2(const void *w,
					  const struct ek_q8_row *a,
					  uint64_t nb)
{
	const struct ek_block_q8_0 *b = w;
	__m256 acc = _mm256_setzero_ps();

	for (uint64_t i = 0; i < nb; i++) {
		__m256i wq = _mm256_loadu_si256((const __m256i *)b[i].qs);
		__m256i aq = _mm256_loadu_si256((const __m256i *)(a->qs +
								  i * EK_QK));
		__m256 s = _mm256_set1_ps(_cvtsh_ss(b[i].d) * a->d[i]);

		acc = _mm256_fmadd_ps(dot32_s8(wq, aq), s, acc);
	}
	return ek_hsum8(acc);
}

EK_TARGET_AVX2 static float dot_q4_0_avx2(const void *w,
					  const struct ek_q8_row *a,
					  uint64_t nb)
{
	const struct ek_block_q4_0 *b = w;
	const __m128i m4 = _mm_set1_epi8(0x0f);
	const __m256i eight = _mm256_set1_epi8(8);
	__m256 acc = _mm256_setzero_ps();

	for (uint64_t i = 0; i < nb; i++) {
		__m128i x = _mm_loadu_si128((const __m128i *)b[i].qs);
		__m128i lo = _mm_and_si128(x, m4);
		__m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), m4);
		__m256i wq = _mm256_sub_epi8(_mm256_set_m128i(hi, lo), eight);
		__m256i aq = _mm256_loadu_si256((const __m256i *)(a->qs +
								  i * EK_QK));
		__m256 s = _mm256_set1_ps(_cvtsh_ss(b[i].d) * a->d[i]);

		acc = _mm256_fmadd_ps(dot32_s8(wq, aq), s, acc);
	}
	return ek_hsum8(acc);
}

EK_TARGET_AVX2 static AI __m256 load8(int dtype, const void *w, uint64_t i)
{
	if (dtype == EK_F32)
		return _mm256_loadu_ps((const float *)w + i);
	__m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + i));

	if (dtype == EK_F16)
		return _mm256_cvtph_ps(h);
	return _mm256_castsi256_ps(
		_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

#define DEFINE_DOT_F(DT)                                                     \
EK_TARGET_AVX2 static float dot_f_##DT(const void *w, const float *a,       \
					uint64_t k)                           \
{                                                                            \
	__m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(),          \
			  _mm256_setzero_ps(), _mm256_setzero_ps() };        \
	uint64_t i = 0;                                                      \
                                                                             \
	for (; i + 32 <= k; i += 32)                                         \
		for (int u = 0; u < 4; u++)                                  \
			acc[u] = _mm256_fmadd_ps(                            \
				load8(DT, w, i + 8 * (uint64_t)u),           \
				_mm256_loadu_ps(a + i + 8 * (uint64_t)u),    \
				acc[u]);                                     \
	for (; i + 8 <= k; i += 8)                                           \
		acc[0] = _mm256_fmadd_ps(load8(DT, w, i),                    \
					 _mm256_loadu_ps(a + i), acc[0]);    \
	float s = ek_hsum8(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]),         \
				      _mm256_add_ps(acc[2], acc[3])));       \
	if (i < k)                                                           \
		s += ek_dot_f_portable(DT, (const char *)w +                 \
				       i * ek_elem_size(DT), a + i, k - i);  \
	return s;                                                            \
}

DEFINE_DOT_F(EK_F32)
DEFINE_DOT_F(EK_F16)
DEFINE_DOT_F(EK_BF16)

static float dot_f_avx2(int dtype, const void *w, const float *a, uint64_t k)
{
	switch (dtype) {
	case EK_F32:
		return dot_f_EK_F32(w, a, k);
	case EK_F16:
		return dot_f_EK_F16(w, a, k);
	case EK_BF16:
		return dot_f_EK_BF16(w, a, k);
	default:
		return ek_dot_f_portable(dtype, w, a, k);
	}
}

/* ---- GEMM: 6 x 16 microkernel ------------------------------------------ */

#define MR 6
#define NR 16

EK_TARGET_AVX2 static AI __m256i lane_mask(uint32_t n)
{
	const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);

	return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), idx);
}

EK_TARGET_AVX2 static void ukr_6x16(uint32_t kc, const float *ap,
				    const float *wp, float *c,
				    size_t c_stride, uint32_t mv, uint32_t nv,
				    bool load_c, const float *bias)
{
	__m256i m0 = lane_mask(nv), m1 = lane_mask(nv > 8 ? nv - 8 : 0);
	__m256 c0[MR], c1[MR];

#pragma GCC unroll 6
	for (int i = 0; i < MR; i++) {
		float *row = ek_ptr_add_mut(c, (size_t)i * c_stride);

		if (load_c && (uint32_t)i < mv) {
			c0[i] = _mm256_maskload_ps(row, m0);
			c1[i] = _mm256_maskload_ps(row + 8, m1);
		} else {
			c0[i] = _mm256_setzero_ps();
			c1[i] = _mm256_setzero_ps();
		}
	}
	for (uint32_t k = 0; k < kc; k++) {
		__m256 w0 = _mm256_load_ps(wp + (size_t)k * NR);
		__m256 w1 = _mm256_load_ps(wp + (size_t)k * NR + 8);

#pragma GCC unroll 6
		for (int i = 0; i < MR; i++) {
			__m256 av = _mm256_broadcast_ss(ap + (size_t)k * MR + i);

			c0[i] = _mm256_fmadd_ps(av, w0, c0[i]);
			c1[i] = _mm256_fmadd_ps(av, w1, c1[i]);
		}
	}
	__m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();

	if (bias) {
		b0 = _mm256_maskload_ps(bias, m0);
		b1 = _mm256_maskload_ps(bias + 8, m1);
	}
#pragma GCC unroll 6
	for (int i = 0; i < MR; i++) {
		float *row = ek_ptr_add_mut(c, (size_t)i * c_stride);

		if ((uint32_t)i >= mv)
			break;
		_mm256_maskstore_ps(row, m0, _mm256_add_ps(c0[i], b0));
		_mm256_maskstore_ps(row + 8, m1, _mm256_add_ps(c1[i], b1));
	}
}

static const struct ek_gemm_impl gemm_impl_avx2 = {
	.mr = MR,
	.nr = NR,
	.kc = 256,
	.mc = 768,
	.ukr = ukr_6x16,
	.pack_w = ek_gemm_pack_w_portable,
};

static size_t gemm_bytes_avx2(const struct ek_matmul *p)
{
	return ek_gemm_bytes(&gemm_impl_avx2, p);
}

static void gemm_avx2(const struct ek_matmul *p, void *buf, int i, int n)
{
	ek_gemm_run(&gemm_impl_avx2, p, buf, i, n);
}

const struct ek_mm_kernels ek_mm_kernels_avx2 = {
	.quantize = ek_q8_quantize_avx2,
	.dot_q8_0 = dot_q8_0_avx2,
	.dot_q4_0 = dot_q4_0_avx2,
	.dot_q4_1 = ek_dot_q4_1_avx2,
	.dot_q5_0 = ek_dot_q5_0_avx2,
	.dot_q5_1 = ek_dot_q5_1_avx2,
	.dot_q4_K = ek_dot_q4_K_avx2,
	.dot_q5_K = ek_dot_q5_K_avx2,
	.dot_q6_K = ek_dot_q6_K_avx2,
	.dot4_q4_K = ek_dot4_q4_K_avx2,
	.dot4_q5_K = ek_dot4_q5_K_avx2,
	.dot4_q6_K = ek_dot4_q6_K_avx2,
	.dot_f = dot_f_avx2,
	.gemm_task_bytes = gemm_bytes_avx2,
	.gemm = gemm_avx2,
};

#endif /* EK_X86 */
