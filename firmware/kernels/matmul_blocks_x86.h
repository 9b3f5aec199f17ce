/* SPDX-License-Identifier: MIT */
/* Helpers shared by the x86 dots (matmul_avx2.c, matmul_blocks_*.c). */
#ifndef EK_MATMUL_BLOCKS_X86_H
#define EK_MATMUL_BLOCKS_X86_H

#include "ek_internal.h"

#if EK_X86
#include <immintrin.h>

/* The sum of the eight lanes of v. */
EK_TARGET_AVX2 static inline __attribute__((always_inline)) float
ek_hsum8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v),
			      _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

/*
 * The eight 6-bit scales and eight mins of a Q4_K / Q5_K block as bytes
 * [sc0..sc7 mn0..mn7] (kernels.h has the packing): bytes 0-3 hold sc0-3
 * and the top bits of sc4-7, bytes 4-7 mn0-3 and the top bits of mn4-7,
 * bytes 8-11 the low nibbles of sc4-7 and (high nibbles) mn4-7. s: the
 * 12 scale bytes; 16 are read (the block continues past them).
 */
EK_TARGET_AVX2 static inline __attribute__((always_inline)) __m128i
ek_k_scale_min_bytes(const uint8_t *s)
{
	__m128i x = _mm_loadu_si128((const __m128i *)s);
	__m128i lo = _mm_and_si128(x, _mm_set1_epi8(0x3f));
	/* lane 0: low nibbles of bytes 8-11, lane 1: their high nibbles */
	__m128i y = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(x, 0xaa),
						 _mm_setr_epi32(0, 4, 0, 0)),
				  _mm_set1_epi8(0x0f));
	/* bits 6-7 of bytes 0-3 (lane 0) and 4-7 (lane 1) to bits 4-5 */
	__m128i z = _mm_and_si128(_mm_srli_epi32(x, 2), _mm_set1_epi8(0x30));

	/* lo: [sc0-3 mn0-3 . .], y | z: [sc4-7 mn4-7 . .] */
	return _mm_unpacklo_epi32(lo, _mm_or_si128(y, z));
}
#endif

#endif /* EK_MATMUL_BLOCKS_X86_H */
