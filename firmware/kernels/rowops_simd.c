/* SPDX-License-Identifier: MIT */
/*
 * SIMD rows for the small ops: swiglu (vector exp) and rmsnorm's sum of
 * squares. Each output depends only on its row, so results stay the same
 * whatever the thread split.
 */
#include "rowops.h"
#include "simd_math.h"

#if EK_X86

EK_TARGET_AVX512 void ek_swiglu_row_avx512(const float *g, const float *u,
					   float *o, uint32_t n)
{
	for (uint32_t i = 0; i < n; i += 16) {
		__mmask16 m = n - i >= 16 ? 0xffff :
			      (__mmask16)((1u << (n - i)) - 1);
		__m512 x = _mm512_maskz_loadu_ps(m, g + i);
		__m512 e = ek_exp512(_mm512_sub_ps(_mm512_setzero_ps(), x));
		__m512 s = _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));

		_mm512_mask_storeu_ps(o + i, m,
				      _mm512_mul_ps(s, _mm512_maskz_loadu_ps(m, u + i)));
	}
}

EK_TARGET_AVX512 float ek_sumsq_avx512(const float *x, uint32_t n)
{
	__m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
	uint32_t i = 0;

	for (; i + 32 <= n; i += 32) {
		__m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);

		a0 = _mm512_fmadd_ps(v0, v0, a0);
		a1 = _mm512_fmadd_ps(v1, v1, a1);
	}
	for (; i < n; i += 16) {
		__mmask16 m = n - i >= 16 ? 0xffff :
			      (__mmask16)((1u << (n - i)) - 1);
		__m512 v = _mm512_maskz_loadu_ps(m, x + i);

		a0 = _mm512_fmadd_ps(v, v, a0);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

EK_TARGET_AVX2 void ek_swiglu_row_avx2(const float *g, const float *u,
				       float *o, uint32_t n)
{
	uint32_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256 x = _mm256_loadu_ps(g + i);
		__m256 e = ek_exp256(_mm256_sub_ps(_mm256_setzero_ps(), x));
		__m256 s = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));

		_mm256_storeu_ps(o + i, _mm256_mul_ps(s, _mm256_loadu_ps(u + i)));
	}
	if (i < n)
		ek_swiglu_row_portable(g + i, u + i, o + i, n - i);
}

EK_TARGET_AVX2 float ek_sumsq_avx2(const float *x, uint32_t n)
{
	__m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
	uint32_t i = 0;

	for (; i + 16 <= n; i += 16) {
		__m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);

		a0 = _mm256_fmadd_ps(v0, v0, a0);
		a1 = _mm256_fmadd_ps(v1, v1, a1);
	}
	a0 = _mm256_add_ps(a0, a1);
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(a0),
			      _mm256_extractf128_ps(a0, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	float r = _mm_cvtss_f32(s);

	for (; i < n; i++)
		r += x[i] * x[i];
	return r;
}

EK_TARGET_AVX2 void ek_f32_to_f16_row_f16c(const float *x, uint16_t *h,
					   uint64_t n)
{
	uint64_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256 v = _mm256_loadu_ps(x + i);

		/* NaN payloads: leave those to the scalar conversion */
		if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)))
			break;
		_mm_storeu_si128((__m128i *)(h + i),
				 _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
	}
	for (; i < n; i++)
		h[i] = ek_f32_to_f16(x[i]);
}

#endif /* EK_X86 */
