/* SPDX-License-Identifier: MIT */
/*
 * Portable matmul building blocks: activation quantization to 8 bits and
 * per-row dot products. Used on every CPU without a SIMD path and as the
 * reference the SIMD paths are tested against.
 */
#include <math.h>

#include "ek_internal.h"

size_t ek_q8_row_bytes(uint64_t k)
{
	size_t nb = (size_t)(k / EK_QK);
	size_t bytes = nb * EK_QK + nb * sizeof(float) + nb * sizeof(int32_t);

	return (bytes + 63) & ~(size_t)63;
}

void ek_q8_row_view(void *base, uint64_t k, struct ek_q8_row *r)
{
	size_t nb = (size_t)(k / EK_QK);

	r->qs = base;
	r->d = ek_ptr_add_mut(base, nb * EK_QK);
	r->sum = ek_ptr_add_mut(base, nb * EK_QK + nb * sizeof(float));
}

/* Symmetric 8-bit quantization per block, rounding to nearest even (the
 * rounding the SIMD conversions use, so every path agrees). */
void ek_q8_quantize_portable(const float *x, uint64_t k, struct ek_q8_row *r)
{
	uint64_t nb = k / EK_QK;

	for (uint64_t b = 0; b < nb; b++) {
		const float *v = x + b * EK_QK;
		int8_t *q = r->qs + b * EK_QK;
		float amax = 0.0f;
		int32_t sum = 0;

		for (int j = 0; j < EK_QK; j++)
			amax = fmaxf(amax, fabsf(v[j]));
		float d = amax / 127.0f;
		float id = amax != 0.0f ? 127.0f / amax : 0.0f;

		for (int j = 0; j < EK_QK; j++) {
			float f = nearbyintf(v[j] * id);
			int qi = f >= 127.0f ? 127 : f <= -127.0f ? -127 :
				 f == f ? (int)f : 0;

			q[j] = (int8_t)qi;
			sum += qi;
		}
		r->d[b] = d;
		r->sum[b] = sum;
	}
}

float ek_dot_q8_0_portable(const void *w, const struct ek_q8_row *a,
			   uint64_t nb)
{
	const struct ek_block_q8_0 *b = w;
	float sum = 0.0f;

	for (uint64_t i = 0; i < nb; i++) {
		const int8_t *q = a->qs + i * EK_QK;
		int32_t isum = 0;

		for (int j = 0; j < EK_QK; j++)
			isum += (int32_t)b[i].qs[j] * q[j];
		sum += ek_f16_to_f32(b[i].d) * a->d[i] * (float)isum;
	}
	return sum;
}

float ek_dot_q4_0_portable(const void *w, const struct ek_q8_row *a,
			   uint64_t nb)
{
	const struct ek_block_q4_0 *b = w;
	float sum = 0.0f;

	for (uint64_t i = 0; i < nb; i++) {
		const int8_t *q = a->qs + i * EK_QK;
		int32_t isum = 0;

		for (int j = 0; j < EK_QK / 2; j++) {
			isum += (int32_t)(b[i].qs[j] & 0x0f) * q[j];
			isum += (int32_t)(b[i].qs[j] >> 4) * q[j + EK_QK / 2];
		}
		isum -= 8 * a->sum[i];	/* weights are q - 8 */
		sum += ek_f16_to_f32(b[i].d) * a->d[i] * (float)isum;
	}
	return sum;
}

/* The other block types (the no-scratch path): a block at a time to f32. */
static float dot_f_blocks(int dtype, const void *w, const float *a, uint64_t k)
{
	uint32_t be = ek_dtype_block(dtype);
	size_t bb = ek_row_size(dtype, be);
	float buf[EK_QK_K], sum = 0.0f;

	if (be < 2 || be > EK_QK_K || !bb || k % be)
		return 0.0f;
	for (uint64_t i = 0; i < k; i += be) {
		float s = 0.0f;

		ek_dequantize_row(dtype, ek_ptr_add(w, i / be * bb), buf, be);
		for (uint32_t j = 0; j < be; j++)
			s += buf[j] * a[i + j];
		sum += s;
	}
	return sum;
}

float ek_dot_f_portable(int dtype, const void *w, const float *a, uint64_t k)
{
	float sum = 0.0f;

	switch (dtype) {
	case EK_F32: {
		const float *x = w;

		for (uint64_t i = 0; i < k; i++)
			sum += x[i] * a[i];
		break;
	}
	case EK_F16: {
		const uint16_t *x = w;

		for (uint64_t i = 0; i < k; i++)
			sum += ek_f16_to_f32(x[i]) * a[i];
		break;
	}
	case EK_BF16: {
		const uint16_t *x = w;

		for (uint64_t i = 0; i < k; i++)
			sum += ek_bf16_to_f32(x[i]) * a[i];
		break;
	}
	case EK_Q8_0: {
		const struct ek_block_q8_0 *b = w;

		for (uint64_t i = 0; i < k / EK_QK; i++) {
			float d = ek_f16_to_f32(b[i].d), s = 0.0f;

			for (int j = 0; j < EK_QK; j++)
				s += (float)b[i].qs[j] * a[i * EK_QK + j];
			sum += d * s;
		}
		break;
	}
	case EK_Q4_0: {
		const struct ek_block_q4_0 *b = w;

		for (uint64_t i = 0; i < k / EK_QK; i++) {
			const float *x = a + i * EK_QK;
			float d = ek_f16_to_f32(b[i].d), s = 0.0f;

			for (int j = 0; j < EK_QK / 2; j++) {
				s += (float)((b[i].qs[j] & 0x0f) - 8) * x[j];
				s += (float)((b[i].qs[j] >> 4) - 8) *
				     x[j + EK_QK / 2];
			}
			sum += d * s;
		}
		break;
	}
	default:
		sum = dot_f_blocks(dtype, w, a, k);
		break;
	}
	return sum;
}
