/* SPDX-License-Identifier: MIT */
/*
 * Packing a whole group of sixteen GGUF rows to X16 (ember/kernels.h)
 * with AVX-512: a block entry is a dword transpose of the rows' quants
 * (chunk c = dword c of each row), done in registers a block at a time
 * instead of one dword store per row and chunk (~5x the portable pack).
 */
#include "matmul_kernels.h"
#include "x16.h"

#if EK_X86
#include <immintrin.h>

/* Transpose dwords within each 128-bit lane of four vectors:
 * out[c] lane L = { in[0] L[c], in[1] L[c], in[2] L[c], in[3] L[c] }. */
EK_TARGET_AVX512 static inline void x16_t4(__m512i v[4])
{
	__m512i a = _mm512_unpacklo_epi32(v[0], v[1]);
	__m512i b = _mm512_unpackhi_epi32(v[0], v[1]);
	__m512i c = _mm512_unpacklo_epi32(v[2], v[3]);
	__m512i d = _mm512_unpackhi_epi32(v[2], v[3]);

	v[0] = _mm512_unpacklo_epi64(a, c);
	v[1] = _mm512_unpackhi_epi64(a, c);
	v[2] = _mm512_unpacklo_epi64(b, d);
	v[3] = _mm512_unpackhi_epi64(b, d);
}

/* The 16 bytes at p + i * stride for i = 0, 4, 8, 12 in the four lanes. */
EK_TARGET_AVX512 static inline __m512i x16_lanes4(const uint8_t *p, size_t stride)
{
	__m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)p));

	v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 4 * stride)), 1);
	v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 8 * stride)), 2);
	return _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 12 * stride)), 3);
}

/* The 32 bytes at p and p + 4 * stride in the two halves. */
EK_TARGET_AVX512 static inline __m512i x16_halves(const uint8_t *p, size_t stride)
{
	return _mm512_inserti64x4(
		_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p)),
		_mm256_loadu_si256((const __m256i *)(p + 4 * stride)), 1);
}

EK_TARGET_AVX512 void ek_x16_pack_group_avx512(int dtype, const void *w,
						size_t stride, uint64_t nb,
						uint8_t *q, uint16_t *d)
{
	const size_t bs = ek_row_size(dtype, EK_QK), qb = ek_x16_qb(dtype);
	const uint8_t *rows = w;

	for (uint64_t b = 0; b < nb; b++, q += qb, d += EK_X16_ROWS) {
		const uint8_t *qs = rows + b * bs + 2;	/* after the scale */
		__m512i v[4], u[4];

		for (int r = 0; r < EK_X16_ROWS; r++)
			memcpy(&d[r], rows + r * stride + b * bs, sizeof(*d));
		if (dtype == EK_Q4_0) {
			/* v[i] lanes: rows i, i+4, i+8, i+12; after the transpose
			 * lane L of v[c] is dword c of rows 4L..4L+3: chunk c */
			for (int i = 0; i < 4; i++)
				v[i] = x16_lanes4(qs + i * stride, stride);
			x16_t4(v);
			for (int c = 0; c < 4; c++)
				_mm512_storeu_si512(q + 64 * c, v[c]);
			continue;
		}
		/* Q8_0, stored + 128. v[i]: rows i and i+4, u[i]: rows 8+i and
		 * 12+i; after the transposes lanes 0 / 2 of v[c] hold dword c
		 * of rows 0-3 / 4-7 and lanes 1 / 3 dword c + 4 (u: rows 8-15) */
		const __m512i bias = _mm512_set1_epi8((char)0x80);

		for (int i = 0; i < 4; i++) {
			v[i] = _mm512_xor_si512(x16_halves(qs + i * stride, stride), bias);
			u[i] = _mm512_xor_si512(x16_halves(qs + (8 + i) * stride, stride),
						bias);
		}
		x16_t4(v);
		x16_t4(u);
		for (int c = 0; c < 4; c++) {
			_mm512_storeu_si512(q + 64 * c, _mm512_shuffle_i32x4(
				v[c], u[c], _MM_SHUFFLE(2, 0, 2, 0)));
			_mm512_storeu_si512(q + 64 * (c + 4), _mm512_shuffle_i32x4(
				v[c], u[c], _MM_SHUFFLE(3, 1, 3, 1)));
		}
	}
}

#endif /* EK_X86 */
