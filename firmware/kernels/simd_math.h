/* SPDX-License-Identifier: MIT */
/*
 * Vector exp for softmax and silu. exp(x) = 2^n e^y with n = round(x log2 e)
 * and y = x - n ln2 (ln2 split in two for accuracy); e^y by a degree-6
 * polynomial on |y| <= ln2/2 (relative error < 2e-7). x is clamped to
 * [-104, 104]: below -87 the result is a denormal or 0, above 88.7 inf.
 */
#ifndef EK_SIMD_MATH_H
#define EK_SIMD_MATH_H

#include "ek_internal.h"

#if EK_X86
#include <immintrin.h>

#define EK_EXP_LO -104.0f
#define EK_EXP_HI 104.0f
#define EK_LOG2E 1.44269504088896341f
#define EK_LN2_HI 0.693359375f
#define EK_LN2_LO -2.12194440e-4f

EK_TARGET_AVX512 static inline __m512 ek_exp512(__m512 x)
{
	x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(EK_EXP_LO)),
			  _mm512_set1_ps(EK_EXP_HI));
	__m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(EK_LOG2E)),
					_MM_FROUND_TO_NEAREST_INT |
					_MM_FROUND_NO_EXC);
	__m512 y = _mm512_fnmadd_ps(n, _mm512_set1_ps(EK_LN2_HI), x);

	y = _mm512_fnmadd_ps(n, _mm512_set1_ps(EK_LN2_LO), y);
	__m512 p = _mm512_set1_ps(1.0f / 720);

	p = _mm512_fmadd_ps(p, y, _mm512_set1_ps(1.0f / 120));
	p = _mm512_fmadd_ps(p, y, _mm512_set1_ps(1.0f / 24));
	p = _mm512_fmadd_ps(p, y, _mm512_set1_ps(1.0f / 6));
	p = _mm512_fmadd_ps(p, y, _mm512_set1_ps(0.5f));
	p = _mm512_fmadd_ps(p, y, _mm512_set1_ps(1.0f));
	p = _mm512_fmadd_ps(p, y, _mm512_set1_ps(1.0f));
	return _mm512_scalef_ps(p, n);
}

EK_TARGET_AVX2 static inline __m256 ek_exp256(__m256 x)
{
	x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EK_EXP_LO)),
			  _mm256_set1_ps(EK_EXP_HI));
	__m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(EK_LOG2E)),
				   _MM_FROUND_TO_NEAREST_INT |
				   _MM_FROUND_NO_EXC);
	__m256 y = _mm256_fnmadd_ps(n, _mm256_set1_ps(EK_LN2_HI), x);

	y = _mm256_fnmadd_ps(n, _mm256_set1_ps(EK_LN2_LO), y);
	__m256 p = _mm256_set1_ps(1.0f / 720);

	p = _mm256_fmadd_ps(p, y, _mm256_set1_ps(1.0f / 120));
	p = _mm256_fmadd_ps(p, y, _mm256_set1_ps(1.0f / 24));
	p = _mm256_fmadd_ps(p, y, _mm256_set1_ps(1.0f / 6));
	p = _mm256_fmadd_ps(p, y, _mm256_set1_ps(0.5f));
	p = _mm256_fmadd_ps(p, y, _mm256_set1_ps(1.0f));
	p = _mm256_fmadd_ps(p, y, _mm256_set1_ps(1.0f));
	/* 2^n in two steps so n down to -150 stays representable */
	__m256i ni = _mm256_cvtps_epi32(n);
	__m256i n1 = _mm256_srai_epi32(ni, 1);
	__m256i n2 = _mm256_sub_epi32(ni, n1);
	__m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(
		_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
	__m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(
		_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));

	return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* 16 x 16 transpose in registers */
EK_TARGET_AVX512 static inline void ek_transpose16_512(__m512 r[16])
{
	__m512 t[16], u[16];

	for (int i = 0; i < 8; i++) {
		t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
	}
	for (int i = 0; i < 4; i++) {
		__m512d a = _mm512_castps_pd(t[4 * i]);
		__m512d b = _mm512_castps_pd(t[4 * i + 1]);
		__m512d c = _mm512_castps_pd(t[4 * i + 2]);
		__m512d d = _mm512_castps_pd(t[4 * i + 3]);

		u[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
		u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
		u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
		u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
	}
	for (int j = 0; j < 4; j++) {
		__m512 v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);
		__m512 v1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xdd);
		__m512 v2 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
		__m512 v3 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xdd);

		r[j] = _mm512_shuffle_f32x4(v0, v2, 0x88);
		r[j + 8] = _mm512_shuffle_f32x4(v0, v2, 0xdd);
		r[j + 4] = _mm512_shuffle_f32x4(v1, v3, 0x88);
		r[j + 12] = _mm512_shuffle_f32x4(v1, v3, 0xdd);
	}
}

#endif /* EK_X86 */
#endif /* EK_SIMD_MATH_H */
