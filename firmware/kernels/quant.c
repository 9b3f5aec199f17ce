/* SPDX-License-Identifier: MIT */
/* Rows of any supported type to/from f32, in the GGUF layouts: the float
 * types, Q8_0 and Q4_0 here, the other block types in quant_blocks.c. */
#include <math.h>

#include "ek_internal.h"
#include "quant_blocks.h"
#include "rowops.h"

static void dequant_q8_0(const struct ek_block_q8_0 *b, float *dst,
			 uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++) {
		float d = ek_f16_to_f32(b[i].d);

		for (int j = 0; j < EK_QK; j++)
			dst[i * EK_QK + j] = d * (float)b[i].qs[j];
	}
}

static void dequant_q4_0(const struct ek_block_q4_0 *b, float *dst,
			 uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++) {
		float d = ek_f16_to_f32(b[i].d);

		for (int j = 0; j < EK_QK / 2; j++) {
			int lo = (b[i].qs[j] & 0x0f) - 8;
			int hi = (b[i].qs[j] >> 4) - 8;

			dst[i * EK_QK + j] = d * (float)lo;
			dst[i * EK_QK + j + EK_QK / 2] = d * (float)hi;
		}
	}
}

bool ek_dequantize_row(int dtype, const void *src, float *dst, uint64_t n)
{
	if (!ek_row_size(dtype, n))
		return false;
	switch (dtype) {
	case EK_F32:
		memmove(dst, src, (size_t)n * 4);
		return true;
	case EK_F16: {
		const uint16_t *h = src;

		for (uint64_t i = 0; i < n; i++)
			dst[i] = ek_f16_to_f32(h[i]);
		return true;
	}
	case EK_BF16: {
		const uint16_t *h = src;

		for (uint64_t i = 0; i < n; i++)
			dst[i] = ek_bf16_to_f32(h[i]);
		return true;
	}
	case EK_Q8_0:
		dequant_q8_0(src, dst, n / EK_QK);
		return true;
	case EK_Q4_0:
		dequant_q4_0(src, dst, n / EK_QK);
		return true;
	default:
		return ek_dequantize_blocks(dtype, src, dst, n);
	}
}

/* Q8_0: d = max|x| / 127, q = round(x / d), ties away from zero. */
static void quant_q8_0(const float *x, struct ek_block_q8_0 *b, uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++) {
		const float *v = x + i * EK_QK;
		float amax = 0.0f;

		for (int j = 0; j < EK_QK; j++)
			amax = fmaxf(amax, fabsf(v[j]));
		float d = amax / 127.0f;
		float id = d != 0.0f ? 1.0f / d : 0.0f;

		b[i].d = ek_f32_to_f16(d);
		for (int j = 0; j < EK_QK; j++) {
			float r = roundf(v[j] * id);

			/* clamp: NaN or inf inputs must not reach the cast */
			b[i].qs[j] = (int8_t)(r >= 127.0f ? 127 :
					      r <= -127.0f ? -127 :
					      r == r ? (int)r : 0);
		}
	}
}

/*
 * Q4_0: d = m / -8 where m is the element of largest magnitude (with its
 * sign), so m itself maps to q = 0 exactly; q = trunc(x / d + 8.5) capped
 * at 15.
 */
static void quant_q4_0(const float *x, struct ek_block_q4_0 *b, uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++) {
		const float *v = x + i * EK_QK;
		float amax = 0.0f, m = 0.0f;

		for (int j = 0; j < EK_QK; j++) {
			if (fabsf(v[j]) > amax) {
				amax = fabsf(v[j]);
				m = v[j];
			}
		}
		float d = m / -8.0f;
		float id = d != 0.0f ? 1.0f / d : 0.0f;

		b[i].d = ek_f32_to_f16(d);
		for (int j = 0; j < EK_QK / 2; j++) {
			float f0 = v[j] * id + 8.5f;
			float f1 = v[j + EK_QK / 2] * id + 8.5f;
			/* clamp before converting: NaN/inf inputs stay defined */
			int q0 = f0 >= 15.0f ? 15 : f0 > 0.0f ? (int)f0 : 0;
			int q1 = f1 >= 15.0f ? 15 : f1 > 0.0f ? (int)f1 : 0;

			b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
		}
	}
}

bool ek_quantize_row(int dtype, const float *src, void *dst, uint64_t n)
{
	if (!ek_row_size(dtype, n))
		return false;
	switch (dtype) {
	case EK_F32:
		memmove(dst, src, (size_t)n * 4);
		return true;
	case EK_F16: {
		uint16_t *h = dst;

#if EK_X86
		if (ek_isa() >= EK_ISA_AVX2) {
			ek_f32_to_f16_row_f16c(src, h, n);
			return true;
		}
#endif
		for (uint64_t i = 0; i < n; i++)
			h[i] = ek_f32_to_f16(src[i]);
		return true;
	}
	case EK_BF16: {
		uint16_t *h = dst;

		for (uint64_t i = 0; i < n; i++)
			h[i] = ek_f32_to_bf16(src[i]);
		return true;
	}
	case EK_Q8_0:
		quant_q8_0(src, dst, n / EK_QK);
		return true;
	case EK_Q4_0:
		quant_q4_0(src, dst, n / EK_QK);
		return true;
	default:
		return ek_quantize_blocks(dtype, src, dst, n);
	}
}
