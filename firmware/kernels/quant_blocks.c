/* SPDX-License-Identifier: MIT */
/*
 * Q4_1, Q5_0 and Q5_1 rows to/from f32 in the GGUF layouts
 * (ember/kernels.h), and the dispatch of every type quant.c leaves to
 * these files. Dequantization computes in f32 exactly as ggml's reference
 * reads (scale and offset converted from f16 first, q * d + m unfused),
 * so the floats are ggml's bit for bit.
 */
#include "quant_blocks.h"

/* The fifth bits of a Q5 block: bit j for element j. */
static uint32_t q5_high(const uint8_t qh[4])
{
	return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 |
	       (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

/* Element j of a block's nibbles (Q4_0 order: 0..15 low, 16..31 high). */
static int nibble(const uint8_t qs[EK_QK / 2], int j)
{
	return j < EK_QK / 2 ? qs[j] & 15 : qs[j - EK_QK / 2] >> 4;
}

static void dequant_q4_1(const struct ek_block_q4_1 *b, float *dst,
			 uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++) {
		float d = ek_f16_to_f32(b[i].d), m = ek_f16_to_f32(b[i].m);

		for (int j = 0; j < EK_QK; j++)
			dst[i * EK_QK + j] = (float)nibble(b[i].qs, j) * d + m;
	}
}

static void dequant_q5_0(const struct ek_block_q5_0 *b, float *dst,
			 uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++) {
		float d = ek_f16_to_f32(b[i].d);
		uint32_t qh = q5_high(b[i].qh);

		for (int j = 0; j < EK_QK; j++) {
			int q = nibble(b[i].qs, j) | (int)((qh >> j) & 1) << 4;

			dst[i * EK_QK + j] = (float)(q - 16) * d;
		}
	}
}

static void dequant_q5_1(const struct ek_block_q5_1 *b, float *dst,
			 uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++) {
		float d = ek_f16_to_f32(b[i].d), m = ek_f16_to_f32(b[i].m);
		uint32_t qh = q5_high(b[i].qh);

		for (int j = 0; j < EK_QK; j++) {
			int q = nibble(b[i].qs, j) | (int)((qh >> j) & 1) << 4;

			dst[i * EK_QK + j] = (float)q * d + m;
		}
	}
}

/* Quants q[32] of 4 bits (and the fifth bits into *qh, if given) into a
 * block's bytes. */
static void pack_q(const int q[EK_QK], uint8_t qs[EK_QK / 2], uint8_t qh[4])
{
	uint32_t h = 0;

	for (int j = 0; j < EK_QK / 2; j++)
		qs[j] = (uint8_t)((q[j] & 15) | (q[j + EK_QK / 2] & 15) << 4);
	for (int j = 0; j < EK_QK; j++)
		h |= (uint32_t)(q[j] >> 4 & 1) << j;
	if (qh)
		for (int k = 0; k < 4; k++)
			qh[k] = (uint8_t)(h >> 8 * k);
}

/*
 * Q4_1 / Q5_1: d = (max - min) / nmax and m = min as ggml's reference
 * stores them; each q is then the nearest level of the stored (f16) d and
 * m, so no element is further from its value than with ggml's quants.
 * NaN elements are skipped by the min/max and quantize to 0.
 */
static void quant_affine(const float *v, int nmax, uint16_t *dh, uint16_t *mh,
			 int q[EK_QK])
{
	float mn = INFINITY, mx = -INFINITY;

	for (int j = 0; j < EK_QK; j++) {
		mn = v[j] < mn ? v[j] : mn;
		mx = v[j] > mx ? v[j] : mx;
	}
	if (mn > mx)		/* all NaN */
		mn = mx = 0.0f;
	*dh = ek_f32_to_f16((mx - mn) / (float)nmax);
	*mh = ek_f32_to_f16(mn);

	float d = ek_f16_to_f32(*dh), m = ek_f16_to_f32(*mh);
	float id = d != 0.0f ? 1.0f / d : 0.0f;

	for (int j = 0; j < EK_QK; j++)
		q[j] = ek_qround((v[j] - m) * id, 0, nmax);
}

static void quant_q4_1(const float *x, struct ek_block_q4_1 *b, uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++) {
		int q[EK_QK];

		quant_affine(x + i * EK_QK, 15, &b[i].d, &b[i].m, q);
		pack_q(q, b[i].qs, NULL);
	}
}

static void quant_q5_1(const float *x, struct ek_block_q5_1 *b, uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++) {
		int q[EK_QK];

		quant_affine(x + i * EK_QK, 31, &b[i].d, &b[i].m, q);
		pack_q(q, b[i].qs, b[i].qh);
	}
}

/*
 * Q5_0: as Q4_0 with 16 levels each side, d = m / -16 for the element m
 * of largest magnitude (so m is level 0 exactly); q the nearest level of
 * the stored d.
 */
static void quant_q5_0(const float *x, struct ek_block_q5_0 *b, uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++) {
		const float *v = x + i * EK_QK;
		float amax = 0.0f, m = 0.0f;
		int q[EK_QK];

		for (int j = 0; j < EK_QK; j++) {
			if (fabsf(v[j]) > amax) {
				amax = fabsf(v[j]);
				m = v[j];
			}
		}
		b[i].d = ek_f32_to_f16(m / -16.0f);

		float d = ek_f16_to_f32(b[i].d);
		float id = d != 0.0f ? 1.0f / d : 0.0f;

		for (int j = 0; j < EK_QK; j++)
			q[j] = ek_qround(v[j] * id + 16.0f, 0, 31);
		pack_q(q, b[i].qs, b[i].qh);
	}
}

bool ek_dequantize_blocks(int dtype, const void *src, float *dst, uint64_t n)
{
	switch (dtype) {
	case EK_Q4_1:
		dequant_q4_1(src, dst, n / EK_QK);
		return true;
	case EK_Q5_0:
		dequant_q5_0(src, dst, n / EK_QK);
		return true;
	case EK_Q5_1:
		dequant_q5_1(src, dst, n / EK_QK);
		return true;
	case EK_Q4_K:
		ek_dequant_q4_K(src, dst, n / EK_QK_K);
		return true;
	case EK_Q5_K:
		ek_dequant_q5_K(src, dst, n / EK_QK_K);
		return true;
	case EK_Q6_K:
		ek_dequant_q6_K(src, dst, n / EK_QK_K);
		return true;
	default:
		return false;
	}
}

bool ek_quantize_blocks(int dtype, const float *src, void *dst, uint64_t n)
{
	switch (dtype) {
	case EK_Q4_1:
		quant_q4_1(src, dst, n / EK_QK);
		return true;
	case EK_Q5_0:
		quant_q5_0(src, dst, n / EK_QK);
		return true;
	case EK_Q5_1:
		quant_q5_1(src, dst, n / EK_QK);
		return true;
	case EK_Q4_K:
		ek_quant_q4_K(src, dst, n / EK_QK_K);
		return true;
	case EK_Q5_K:
		ek_quant_q5_K(src, dst, n / EK_QK_K);
		return true;
	case EK_Q6_K:
		ek_quant_q6_K(src, dst, n / EK_QK_K);
		return true;
	default:
		return false;
	}
}
