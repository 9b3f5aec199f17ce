/* SPDX-License-Identifier: MIT */
/*
 * Portable dots of Q4_1, Q5_0, Q5_1 and K-quant weight rows with 8-bit
 * activations (struct ek_q8_row: 32-blocks with scale and quant sum).
 * Integer sums inside a block, floats outside: a weight's offset (Q4_1 /
 * Q5_1 m, K-quant min) meets the activations through their block sum.
 * The reference the SIMD paths are tested against.
 */
#include "ek_internal.h"
#include "quant_blocks.h"

/* The 32 quants of a Q4_x / Q5_x block, fifth bits from qh if given. */
static void q_unpack(const uint8_t qs[EK_QK / 2], const uint8_t *qh,
		     int q[EK_QK])
{
	uint32_t h = 0;

	if (qh)
		h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 |
		    (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
	for (int j = 0; j < EK_QK / 2; j++) {
		q[j] = (qs[j] & 15) | (int)(h >> j & 1) << 4;
		q[j + EK_QK / 2] = (qs[j] >> 4) | (int)(h >> (j + 16) & 1) << 4;
	}
}

static int32_t idot(const int q[EK_QK], const int8_t *a)
{
	int32_t s = 0;

	for (int j = 0; j < EK_QK; j++)
		s += q[j] * a[j];
	return s;
}

float ek_dot_q4_1_portable(const void *w, const struct ek_q8_row *a,
			   uint64_t nb)
{
	const struct ek_block_q4_1 *b = w;
	float sum = 0.0f;

	for (uint64_t i = 0; i < nb; i++) {
		int q[EK_QK];

		q_unpack(b[i].qs, NULL, q);
		int32_t isum = idot(q, a->qs + i * EK_QK);

		sum += ek_f16_to_f32(b[i].d) * a->d[i] * (float)isum +
		       ek_f16_to_f32(b[i].m) * a->d[i] * (float)a->sum[i];
	}
	return sum;
}

float ek_dot_q5_0_portable(const void *w, const struct ek_q8_row *a,
			   uint64_t nb)
{
	const struct ek_block_q5_0 *b = w;
	float sum = 0.0f;

	for (uint64_t i = 0; i < nb; i++) {
		int q[EK_QK];

		q_unpack(b[i].qs, b[i].qh, q);
		/* weights are q - 16 */
		int32_t isum = idot(q, a->qs + i * EK_QK) - 16 * a->sum[i];

		sum += ek_f16_to_f32(b[i].d) * a->d[i] * (float)isum;
	}
	return sum;
}

float ek_dot_q5_1_portable(const void *w, const struct ek_q8_row *a,
			   uint64_t nb)
{
	const struct ek_block_q5_1 *b = w;
	float sum = 0.0f;

	for (uint64_t i = 0; i < nb; i++) {
		int q[EK_QK];

		q_unpack(b[i].qs, b[i].qh, q);
		int32_t isum = idot(q, a->qs + i * EK_QK);

		sum += ek_f16_to_f32(b[i].d) * a->d[i] * (float)isum +
		       ek_f16_to_f32(b[i].m) * a->d[i] * (float)a->sum[i];
	}
	return sum;
}

/* Q4_K / Q5_K super-block s (activation blocks 8s..8s + 7): per sub-block
 * d_a (d sc isum - dmin mn asum). */
static float dot_k_affine(uint16_t d16, uint16_t dmin16, const uint8_t *scales,
			  const uint8_t *qs, const uint8_t *qh,
			  const struct ek_q8_row *a, uint64_t blk)
{
	float d = ek_f16_to_f32(d16), dmin = ek_f16_to_f32(dmin16), sum = 0.0f;

	for (int j = 0; j < 8; j++) {
		const int8_t *aq = a->qs + (blk + j) * EK_QK;
		int sc, mn;
		int32_t isum = 0;

		ek_k_scale_min(scales, j, &sc, &mn);
		for (int l = 0; l < 32; l++) {
			int q = qs[32 * (j / 2) + l] >> 4 * (j & 1) & 15;

			if (qh)
				q |= (qh[l] >> j & 1) << 4;
			isum += q * aq[l];
		}
		sum += a->d[blk + j] * (d * (float)sc * (float)isum -
					dmin * (float)mn * (float)a->sum[blk + j]);
	}
	return sum;
}

float ek_dot_q4_K_portable(const void *w, const struct ek_q8_row *a,
			   uint64_t nb)
{
	const struct ek_block_q4_K *b = w;
	float sum = 0.0f;

	for (uint64_t i = 0; i < nb / 8; i++)
		sum += dot_k_affine(b[i].d, b[i].dmin, b[i].scales, b[i].qs,
				    NULL, a, 8 * i);
	return sum;
}

float ek_dot_q5_K_portable(const void *w, const struct ek_q8_row *a,
			   uint64_t nb)
{
	const struct ek_block_q5_K *b = w;
	float sum = 0.0f;

	for (uint64_t i = 0; i < nb / 8; i++)
		sum += dot_k_affine(b[i].d, b[i].dmin, b[i].scales, b[i].qs,
				    b[i].qh, a, 8 * i);
	return sum;
}

/*
 * Q6_K: activation block j of a super-block meets sub-blocks 2j and
 * 2j + 1 (16 quants each, int8 scales): an integer sum of sc (q - 32) a
 * per block (the -32 through the activations' sum), times d_a, then d.
 */
float ek_dot_q6_K_portable(const void *w, const struct ek_q8_row *a,
			   uint64_t nb)
{
	const struct ek_block_q6_K *b = w;
	float sum = 0.0f;

	for (uint64_t i = 0; i < nb / 8; i++) {
		float bsum = 0.0f;

		for (int j = 0; j < 8; j++) {
			uint64_t blk = 8 * i + j;
			const int8_t *aq = a->qs + blk * EK_QK;
			int h = j / 4, r = j % 4;	/* half, quarter */
			const uint8_t *ql = b[i].ql + 64 * h + 32 * (r & 1);
			const uint8_t *qh = b[i].qh + 32 * h;
			int32_t part[2] = { 0, 0 }, asum0 = 0;

			for (int l = 0; l < 32; l++) {
				int q = (ql[l] >> 4 * (r >> 1) & 15) |
					(qh[l] >> 2 * r & 3) << 4;

				part[l / 16] += q * aq[l];
				if (l < 16)
					asum0 += aq[l];
			}
			int32_t asum1 = a->sum[blk] - asum0;
			int32_t isum = b[i].scales[2 * j] * (part[0] - 32 * asum0) +
				       b[i].scales[2 * j + 1] * (part[1] - 32 * asum1);

			bsum += a->d[blk] * (float)isum;
		}
		sum += ek_f16_to_f32(b[i].d) * bsum;
	}
	return sum;
}
