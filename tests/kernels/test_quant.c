/* SPDX-License-Identifier: MIT */
/*
 * Row conversions: dequantization of hand-built GGUF blocks, quantization
 * against the ggml reference rules, and round-trip error bounds:
 *   Q8_0: |x - x'| <= 0.5 d + 127 |d - f16(d)|        (d = max|x| / 127)
 *   Q4_0: |x - x'| <= 0.5 |d| + 8 |d - f16(d)|, except the element equal
 *         to -m (m = signed max) which clamps to q = 15: <= |d| + ...
 */
#include <math.h>
#include <string.h>

#include "kt.h"

static void test_known_blocks(struct kt *t)
{
	uint8_t q8[34 * 2], q4[18 * 2];
	float out[64];

	/* Q8_0: scale 1.0 (0x3c00) then -128..-97; scale 0.5 then 0..31 */
	q8[0] = 0x00; q8[1] = 0x3c;
	q8[34] = 0x00; q8[35] = 0x38;
	for (int i = 0; i < 32; i++) {
		q8[2 + i] = (uint8_t)(int8_t)(-128 + i);
		q8[36 + i] = (uint8_t)i;
	}
	KT_CHECK(t, ek_dequantize_row(EK_Q8_0, q8, out, 64), "dequant q8_0");
	for (int i = 0; i < 32; i++) {
		KT_CHECK(t, out[i] == (float)(-128 + i), "q8_0 elem %d = %g",
			 i, out[i]);
		KT_CHECK(t, out[32 + i] == 0.5f * (float)i, "q8_0 elem %d = %g",
			 32 + i, out[32 + i]);
	}
	/* Q4_0: scale 0.5; byte j = j | (15 - j) << 4 */
	for (int b = 0; b < 2; b++) {
		q4[18 * b] = 0x00;
		q4[18 * b + 1] = b ? 0xb8 : 0x38;	/* 0.5, then -0.5 */
		for (int j = 0; j < 16; j++)
			q4[18 * b + 2 + j] = (uint8_t)(j | ((15 - j) << 4));
	}
	KT_CHECK(t, ek_dequantize_row(EK_Q4_0, q4, out, 64), "dequant q4_0");
	for (int b = 0; b < 2; b++) {
		float d = b ? -0.5f : 0.5f;

		for (int j = 0; j < 16; j++) {
			KT_CHECK(t, out[32 * b + j] == d * (float)(j - 8),
				 "q4_0 low nibble %d: %g", j, out[32 * b + j]);
			KT_CHECK(t, out[32 * b + 16 + j] == d * (float)(7 - j),
				 "q4_0 high nibble %d: %g", j,
				 out[32 * b + 16 + j]);
		}
	}
	/* invalid requests */
	KT_CHECK(t, !ek_dequantize_row(EK_Q8_0, q8, out, 48), "q8_0 n=48");
	KT_CHECK(t, !ek_quantize_row(EK_Q4_0, out, q4, 31), "q4_0 n=31");
	KT_CHECK(t, !ek_dequantize_row(5, q8, out, 32), "unknown dtype");
	KT_CHECK(t, !ek_quantize_row(EK_F32, out, q8, 0), "n=0");
}

/* ggml's reference rules, computed here independently */
static void check_q8_0_block(struct kt *t, const float *x,
			     const struct ek_block_q8_0 *b)
{
	float amax = 0.0f;

	for (int i = 0; i < 32; i++)
		amax = fmaxf(amax, fabsf(x[i]));
	float d = amax / 127.0f;

	KT_CHECK(t, b->d == ek_f32_to_f16(d), "q8_0 scale %#x want f16(%g)",
		 b->d, d);
	for (int i = 0; i < 32; i++) {
		double r = d ? (double)x[i] / d : 0.0;
		double frac = fabs(r - trunc(r));

		if (fabs(frac - 0.5) < 1e-4)
			continue;	/* a near tie: either neighbour is fine */
		KT_CHECK(t, b->qs[i] == (int)round(r), "q8_0 q[%d]=%d want %g",
			 i, b->qs[i], round(r));
	}
}

static void check_q4_0_block(struct kt *t, const float *x,
			     const struct ek_block_q4_0 *b)
{
	float amax = 0.0f, m = 0.0f;

	for (int i = 0; i < 32; i++) {
		if (fabsf(x[i]) > amax) {
			amax = fabsf(x[i]);
			m = x[i];
		}
	}
	float d = m / -8.0f;

	KT_CHECK(t, b->d == ek_f32_to_f16(d), "q4_0 scale %#x want f16(%g)",
		 b->d, d);
	for (int i = 0; i < 32; i++) {
		double r = d ? (double)x[i] / d + 8.5 : 8.5;
		int want = r >= 15.0 ? 15 : (int)floor(r);
		int got = i < 16 ? (b->qs[i] & 15) : (b->qs[i - 16] >> 4);

		if (fabs(r - floor(r)) < 1e-4 || fabs(r - ceil(r)) < 1e-4)
			continue;
		KT_CHECK(t, got == want, "q4_0 q[%d]=%d want %d", i, got, want);
	}
}

static void test_round_trip(struct kt *t, struct kt_rng *rng)
{
	static const uint64_t lens[] = { 32, 64, 96, 4096, 4128 };
	static const float scales[] = { 1.0f, 1e-3f, 100.0f, 1e-6f };

	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		for (size_t si = 0; si < 4; si++) {
			uint64_t n = lens[li];
			float *x = kt_alloc(n * 4), *y = kt_alloc(n * 4);
			void *q = kt_alloc(ek_row_size(EK_F32, n));

			kt_fill(rng, x, n, scales[si]);
			if (n >= 64)	/* a zero block and a constant block */
				for (int i = 0; i < 32; i++) {
					x[i] = 0.0f;
					x[32 + i] = -scales[si];
				}
			/* Q8_0 */
			KT_CHECK(t, ek_quantize_row(EK_Q8_0, x, q, n), "q8 quant");
			KT_CHECK(t, ek_dequantize_row(EK_Q8_0, q, y, n), "q8 deq");
			for (uint64_t b = 0; b < n / 32; b++) {
				const struct ek_block_q8_0 *blk =
					(const struct ek_block_q8_0 *)q + b;
				double d = 0.0;

				check_q8_0_block(t, x + b * 32, blk);
				for (int i = 0; i < 32; i++)
					d = fmax(d, fabs(x[b * 32 + i]) / 127.0);
				double dh = kt_half_value(blk->d);
				double bound = 0.5 * d + 127 * fabs(d - dh) +
					       1e-7 * d;

				for (int i = 0; i < 32; i++) {
					uint64_t k = b * 32 + i;

					KT_CHECK(t, fabs(x[k] - y[k]) <= bound,
						 "q8_0 n=%lu [%lu] %g -> %g",
						 (unsigned long)n,
						 (unsigned long)k, x[k], y[k]);
				}
			}
			/* Q4_0 */
			KT_CHECK(t, ek_quantize_row(EK_Q4_0, x, q, n), "q4 quant");
			KT_CHECK(t, ek_dequantize_row(EK_Q4_0, q, y, n), "q4 deq");
			for (uint64_t b = 0; b < n / 32; b++) {
				const struct ek_block_q4_0 *blk =
					(const struct ek_block_q4_0 *)q + b;
				double dh = kt_half_value(blk->d);
				float am = 0.0f, m = 0.0f;

				check_q4_0_block(t, x + b * 32, blk);
				for (int i = 0; i < 32; i++)
					if (fabsf(x[b * 32 + i]) > am) {
						am = fabsf(x[b * 32 + i]);
						m = x[b * 32 + i];
					}
				double d = fabs(m / 8.0);
				double slack = 8 * fabs(d - fabs(dh)) + 1e-7 * d;

				for (int i = 0; i < 32; i++) {
					uint64_t k = b * 32 + i;
					/* x = -m maps to 16: clamped to 15 */
					double bound = (x[k] / m < -0.9 ? d : 0.5 * d)
						       + slack;

					KT_CHECK(t, fabs(x[k] - y[k]) <= bound,
						 "q4_0 n=%lu [%lu] %g -> %g",
						 (unsigned long)n,
						 (unsigned long)k, x[k], y[k]);
				}
			}
			/* F16 / BF16 rows equal element conversions */
			KT_CHECK(t, ek_quantize_row(EK_F16, x, q, n), "f16 row");
			KT_CHECK(t, ek_dequantize_row(EK_F16, q, y, n), "f16 row");
			for (uint64_t k = 0; k < n; k++) {
				uint16_t h = ((const uint16_t *)q)[k];

				KT_CHECK(t, h == ek_f32_to_f16(x[k]) &&
					 y[k] == ek_f16_to_f32(h), "f16 row [%lu]",
					 (unsigned long)k);
			}
			KT_CHECK(t, ek_quantize_row(EK_BF16, x, q, n), "bf16 row");
			KT_CHECK(t, ek_dequantize_row(EK_BF16, q, y, n), "bf16 row");
			for (uint64_t k = 0; k < n; k++) {
				uint16_t h = ((const uint16_t *)q)[k];

				KT_CHECK(t, h == ek_f32_to_bf16(x[k]) &&
					 y[k] == ek_bf16_to_f32(h),
					 "bf16 row [%lu]", (unsigned long)k);
			}
			KT_CHECK(t, ek_quantize_row(EK_F32, x, q, n) &&
				 ek_dequantize_row(EK_F32, q, y, n) &&
				 !memcmp(x, y, n * 4), "f32 row copy");
			kt_free(x);
			kt_free(y);
			kt_free(q);
		}
	}
}

static void test_nonfinite(struct kt *t)
{
	float x[32];
	struct ek_block_q8_0 b8;
	struct ek_block_q4_0 b4;

	for (int i = 0; i < 32; i++)
		x[i] = (float)i;
	x[3] = NAN;
	x[5] = INFINITY;
	/* must not trap (UBSan) or write out of range; values unspecified */
	KT_CHECK(t, ek_quantize_row(EK_Q8_0, x, &b8, 32), "q8_0 of NaN/inf");
	KT_CHECK(t, ek_quantize_row(EK_Q4_0, x, &b4, 32), "q4_0 of NaN/inf");
}

void kt_test_quant(struct kt *t)
{
	struct kt_rng rng = { 0xabcdef12345ull };

	test_known_blocks(t);
	test_round_trip(t, &rng);
	test_nonfinite(t);
	kt_test_quant_golden(t);
	kt_test_quant_blocks(t);
}
