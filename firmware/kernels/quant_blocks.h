/* SPDX-License-Identifier: MIT */
/*
 * Row conversions of the block types beyond Q8_0 / Q4_0 (quant.c keeps
 * those and the float types): Q4_1, Q5_0, Q5_1 (quant_blocks.c) and the
 * K-quants Q4_K, Q5_K, Q6_K (quant_k.c, scale searches in quant_search.c).
 */
#ifndef EK_QUANT_BLOCKS_H
#define EK_QUANT_BLOCKS_H

#include <math.h>

#include "ek_internal.h"

/* n elements of dtype (one of the above; n whole blocks, checked by the
 * caller) to / from f32. False for any other dtype. */
bool ek_dequantize_blocks(int dtype, const void *src, float *dst, uint64_t n);
bool ek_quantize_blocks(int dtype, const float *src, void *dst, uint64_t n);

void ek_dequant_q4_K(const struct ek_block_q4_K *b, float *dst, uint64_t nb);
void ek_dequant_q5_K(const struct ek_block_q5_K *b, float *dst, uint64_t nb);
void ek_dequant_q6_K(const struct ek_block_q6_K *b, float *dst, uint64_t nb);
void ek_quant_q4_K(const float *x, struct ek_block_q4_K *b, uint64_t nb);
void ek_quant_q5_K(const float *x, struct ek_block_q5_K *b, uint64_t nb);
void ek_quant_q6_K(const float *x, struct ek_block_q6_K *b, uint64_t nb);

/* f to the nearest integer in [lo, hi] (ties to even); NaN gives lo (a
 * float-to-int conversion out of range would be undefined). Adding 1.5
 * 2^23 leaves f rounded to an integer in the low mantissa bits (for |f| <
 * 2^22, as here): no libm call in the searches' inner loops. */
static inline int ek_qround(float f, int lo, int hi)
{
	if (f >= (float)hi)
		return hi;
	if (f > (float)lo)
		return (int)((f + 12582912.0f) - 12582912.0f);
	return lo;
}

/* The 6-bit scale and min of sub-block j of a Q4_K / Q5_K block. */
static inline void ek_k_scale_min(const uint8_t s[EK_K_SCALE_BYTES], int j,
				  int *sc, int *mn)
{
	if (j < 4) {
		*sc = s[j] & 63;
		*mn = s[j + 4] & 63;
	} else {
		*sc = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4;
		*mn = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
	}
}

/*
 * Searches for the parameters of a sub-block of n <= 32 values x, for the
 * least error sum(w (x' - x)^2) with weights w, each x' the nearest
 * representable value (quant_search.c). ek_search_affine: x' = scale L -
 * off with L in [0, nmax], scale >= 0, off >= 0 (the K-quant min is
 * subtracted). ek_search_symmetric: x' = scale L with L in [-nmax,
 * nmax - 1]; returns the scale (of either sign, 0 for zeros).
 */
void ek_search_affine(const float *x, const float *w, int n, int nmax,
		      float *scale, float *off);
float ek_search_symmetric(const float *x, const float *w, int n, int nmax);

#endif /* EK_QUANT_BLOCKS_H */
