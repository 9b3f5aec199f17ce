/* SPDX-License-Identifier: MIT */
/*
 * The K-quants Q4_K, Q5_K and Q6_K to/from f32 (layouts: ember/kernels.h).
 *
 * Dequantization is ggml's formula in f32, bit for bit: d and dmin from
 * f16, the products d * sc and dmin * mn (Q6_K: d * sc) first, then
 * q times that (minus the min product), unfused.
 *
 * Quantization: each sub-block's scale (and min) by the search of
 * quant_search.c, weighted as ggml's reference weights them; then the
 * sub-block scales to 6 bits (Q6_K: int8) against the super-block's f16
 * d = largest / 63 (Q6_K: the scale of largest magnitude / -128). Each
 * sub-block then takes the best of its rounded 6-bit scale (and min) and
 * their neighbours, judged by the weighted error of the quants they give.
 */
#include "quant_blocks.h"

#define K_SUB 8			/* Q4_K / Q5_K sub-blocks of 32 */
#define K6_SUB 16		/* Q6_K sub-blocks of 16 */
#define K6_N 16

/* Quant of element l of Q4_K / Q5_K sub-block j (4 low bits). */
static int k_nibble(const uint8_t *qs, int j, int l)
{
	return (qs[32 * (j / 2) + l] >> 4 * (j & 1)) & 15;
}

static void dequant_k_affine(uint16_t d16, uint16_t dmin16,
			     const uint8_t *scales, const uint8_t *qs,
			     const uint8_t *qh, float *y)
{
	float d = ek_f16_to_f32(d16), dmin = ek_f16_to_f32(dmin16);

	for (int j = 0; j < K_SUB; j++) {
		int sc, mn;

		ek_k_scale_min(scales, j, &sc, &mn);
		float ds = d * (float)sc, dm = dmin * (float)mn;

		for (int l = 0; l < 32; l++) {
			int q = k_nibble(qs, j, l);

			if (qh)
				q |= (qh[l] >> j & 1) << 4;
			y[32 * j + l] = ds * (float)q - dm;
		}
	}
}

void ek_dequant_q4_K(const struct ek_block_q4_K *b, float *dst, uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++)
		dequant_k_affine(b[i].d, b[i].dmin, b[i].scales, b[i].qs, NULL,
				 dst + i * EK_QK_K);
}

void ek_dequant_q5_K(const struct ek_block_q5_K *b, float *dst, uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++)
		dequant_k_affine(b[i].d, b[i].dmin, b[i].scales, b[i].qs,
				 b[i].qh, dst + i * EK_QK_K);
}

/* The 6-bit quant of element e (0..255) of a Q6_K block. */
static int q6_quant(const struct ek_block_q6_K *b, int e)
{
	int h = e / 128, i = e % 128 / 32, l = e % 32;
	int lo = b->ql[64 * h + l + 32 * (i & 1)] >> 4 * (i >> 1) & 15;
	int hi = b->qh[32 * h + l] >> 2 * i & 3;

	return lo | hi << 4;
}

void ek_dequant_q6_K(const struct ek_block_q6_K *b, float *dst, uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++) {
		float d = ek_f16_to_f32(b[i].d);

		for (int e = 0; e < EK_QK_K; e++)
			dst[i * EK_QK_K + e] = d * (float)b[i].scales[e / K6_N] *
					       (float)(q6_quant(&b[i], e) - 32);
	}
}

/* ---- quantization ------------------------------------------------------ */

/* Weighted error of sub-block v with the level step ds and min dm, as
 * dequantization computes the values; the quants into L. */
static float k_affine_err(const float *v, const float *w, int nmax, float ds,
			  float dm, uint8_t *L)
{
	float id = ds > 0.0f ? 1.0f / ds : 0.0f, err = 0.0f;

	for (int l = 0; l < 32; l++) {
		int q = ek_qround((v[l] + dm) * id, 0, nmax);
		float e = ds * (float)q - dm - v[l];

		L[l] = (uint8_t)q;
		err += w[l] * e * e;
	}
	return err;
}

/* The 6-bit scale and min of a sub-block: the best of (sc, mn) and their
 * neighbours for the stored d and dmin; its quants into L. */
static void k_affine_pick(const float *v, const float *w, int nmax, float d,
			  float dmin, int *sc, int *mn, uint8_t *L)
{
	uint8_t t[32];
	int s0 = *sc, m0 = *mn;
	float best = k_affine_err(v, w, nmax, d * (float)s0, dmin * (float)m0, L);

	for (int s = s0 - 1; s <= s0 + 1; s++)
		for (int m = m0 - 1; m <= m0 + 1; m++) {
			if (s < 0 || s > 63 || m < 0 || m > 63 ||
			    (s == s0 && m == m0))
				continue;
			float err = k_affine_err(v, w, nmax, d * (float)s,
						 dmin * (float)m, t);

			if (err < best) {
				best = err;
				*sc = s;
				*mn = m;
				memcpy(L, t, sizeof(t));
			}
		}
}

/* Q4_K / Q5_K: the super-block's d, dmin, packed scales and quants L. */
static void quant_k_affine(const float *x, int nmax, uint16_t *d16,
			   uint16_t *dmin16, uint8_t *scales,
			   uint8_t L[EK_QK_K])
{
	float w[EK_QK_K], scale[K_SUB], off[K_SUB];
	float max_scale = 0.0f, max_off = 0.0f;
	int sc[K_SUB], mn[K_SUB];

	for (int j = 0; j < K_SUB; j++) {
		const float *v = x + 32 * j;
		float s2 = 0.0f;

		/* ggml's weights: the sub-block's RMS plus each |x| */
		for (int l = 0; l < 32; l++)
			s2 += v[l] * v[l];
		float av = sqrtf(s2 / 32.0f);

		for (int l = 0; l < 32; l++)
			w[32 * j + l] = av + fabsf(v[l]);
		ek_search_affine(v, w + 32 * j, 32, nmax, &scale[j], &off[j]);
		max_scale = scale[j] > max_scale ? scale[j] : max_scale;
		max_off = off[j] > max_off ? off[j] : max_off;
	}
	*d16 = ek_f32_to_f16(max_scale / 63.0f);
	*dmin16 = ek_f32_to_f16(max_off / 63.0f);

	float d = ek_f16_to_f32(*d16), dmin = ek_f16_to_f32(*dmin16);

	for (int j = 0; j < K_SUB; j++) {
		sc[j] = d > 0.0f ? ek_qround(scale[j] / d, 0, 63) : 0;
		mn[j] = dmin > 0.0f ? ek_qround(off[j] / dmin, 0, 63) : 0;
		k_affine_pick(x + 32 * j, w + 32 * j, nmax, d, dmin, &sc[j],
			      &mn[j], L + 32 * j);
	}
	for (int j = 0; j < 4; j++) {
		scales[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
		scales[j + 4] = (uint8_t)(mn[j] | (mn[j + 4] >> 4) << 6);
		scales[j + 8] = (uint8_t)((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
	}
}

/* The low four bits of L into Q4_K / Q5_K's qs (sub-blocks 2i, 2i + 1
 * share bytes 32i..32i + 31). */
static void k_pack_nibbles(const uint8_t L[EK_QK_K], uint8_t qs[EK_QK_K / 2])
{
	for (int i = 0; i < K_SUB / 2; i++)
		for (int l = 0; l < 32; l++)
			qs[32 * i + l] = (uint8_t)((L[64 * i + l] & 15) |
						   (L[64 * i + 32 + l] & 15) << 4);
}

void ek_quant_q4_K(const float *x, struct ek_block_q4_K *b, uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++) {
		uint8_t L[EK_QK_K];

		quant_k_affine(x + i * EK_QK_K, 15, &b[i].d, &b[i].dmin,
			       b[i].scales, L);
		k_pack_nibbles(L, b[i].qs);
	}
}

void ek_quant_q5_K(const float *x, struct ek_block_q5_K *b, uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++) {
		uint8_t L[EK_QK_K];

		quant_k_affine(x + i * EK_QK_K, 31, &b[i].d, &b[i].dmin,
			       b[i].scales, L);
		k_pack_nibbles(L, b[i].qs);
		memset(b[i].qh, 0, sizeof(b[i].qh));
		for (int j = 0; j < K_SUB; j++)
			for (int l = 0; l < 32; l++)
				b[i].qh[l] |= (uint8_t)((L[32 * j + l] >> 4) << j);
	}
}

/* Q6_K sub-block v with the level step ds: weighted error, quants + 32
 * into L. */
static float q6_err(const float *v, const float *w, float ds, uint8_t *L)
{
	float id = ds != 0.0f ? 1.0f / ds : 0.0f, err = 0.0f;

	for (int l = 0; l < K6_N; l++) {
		int q = ek_qround(v[l] * id, -32, 31);
		float e = ds * (float)(q) - v[l];

		L[l] = (uint8_t)(q + 32);
		err += w[l] * e * e;
	}
	return err;
}

/* The int8 scale of a Q6_K sub-block: the best of sc and its neighbours
 * for the stored d; its quants into L. */
static int q6_pick(const float *v, const float *w, float d, int sc, uint8_t *L)
{
	uint8_t t[K6_N];
	int s0 = sc;
	float best = q6_err(v, w, d * (float)s0, L);

	for (int s = s0 - 1; s <= s0 + 1; s += 2) {
		if (s < -128 || s > 127)
			continue;
		float err = q6_err(v, w, d * (float)s, t);

		if (err < best) {
			best = err;
			sc = s;
			memcpy(L, t, sizeof(t));
		}
	}
	return sc;
}

static void q6_pack(const uint8_t L[EK_QK_K], struct ek_block_q6_K *b)
{
	for (int h = 0; h < 2; h++)
		for (int l = 0; l < 32; l++) {
			const uint8_t *q = L + 128 * h + l;

			b->ql[64 * h + l] = (uint8_t)((q[0] & 15) | (q[64] & 15) << 4);
			b->ql[64 * h + 32 + l] =
				(uint8_t)((q[32] & 15) | (q[96] & 15) << 4);
			b->qh[32 * h + l] = (uint8_t)(q[0] >> 4 | (q[32] >> 4) << 2 |
						      (q[64] >> 4) << 4 |
						      (q[96] >> 4) << 6);
		}
}

static void quant_q6_K_block(const float *x, struct ek_block_q6_K *b)
{
	float w[EK_QK_K], scale[K6_SUB], amax = 0.0f, m = 0.0f;
	uint8_t L[EK_QK_K];

	for (int j = 0; j < K6_SUB; j++) {
		const float *v = x + K6_N * j;

		/* ggml's weights for Q6_K: x^2 */
		for (int l = 0; l < K6_N; l++)
			w[K6_N * j + l] = v[l] * v[l];
		scale[j] = ek_search_symmetric(v, w + K6_N * j, K6_N, 32);
		if (fabsf(scale[j]) > amax) {
			amax = fabsf(scale[j]);
			m = scale[j];
		}
	}
	/* the scale of largest magnitude is -128 d exactly */
	b->d = ek_f32_to_f16(m / -128.0f);

	float d = ek_f16_to_f32(b->d);

	for (int j = 0; j < K6_SUB; j++) {
		int sc = d != 0.0f ? ek_qround(scale[j] / d, -128, 127) : 0;

		b->scales[j] = (int8_t)q6_pick(x + K6_N * j, w + K6_N * j, d, sc,
					       L + K6_N * j);
	}
	q6_pack(L, b);
}

void ek_quant_q6_K(const float *x, struct ek_block_q6_K *b, uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++)
		quant_q6_K_block(x + i * EK_QK_K, &b[i]);
}
