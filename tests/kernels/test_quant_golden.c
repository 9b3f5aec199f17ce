/* SPDX-License-Identifier: MIT */
/*
 * Dequantization of hand-built Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K
 * blocks: values worked out by hand from the GGUF layouts at positions
 * that pin each part of them (Q5's fifth bits, the 6-bit scales and mins
 * packed at j >= 4, every quarter of both Q6_K halves), every element
 * against the tests' own decoder, and blocks of random bytes against
 * ggml's f32 formula evaluated in its order (bit for bit).
 */
#include <math.h>
#include <string.h>

#include "kt.h"

struct spot {
	int i;
	float v;
};

static void check_spots(struct kt *t, int dtype, const float *out,
			const struct spot *s, int n)
{
	for (int k = 0; k < n; k++)
		KT_CHECK(t, out[s[k].i] == s[k].v, "%s element %d = %.9g, want %g",
			 ek_dtype_name(dtype), s[k].i, out[s[k].i], s[k].v);
}

/* Every element against kt_weight: exact, as these values are. */
static void check_all(struct kt *t, int dtype, const void *blk,
		      const float *out, int n)
{
	for (int i = 0; i < n; i++)
		KT_CHECK(t, out[i] == kt_weight(dtype, blk, (uint64_t)i),
			 "%s element %d = %.9g, decoder says %.9g",
			 ek_dtype_name(dtype), i, out[i],
			 kt_weight(dtype, blk, (uint64_t)i));
}

static void blocks32(struct kt *t)
{
	uint8_t b[24];
	float out[32];

	/* Q4_1: d 0.5, m -1; byte j = j | (15 - j) << 4 */
	memset(b, 0, sizeof(b));
	b[1] = 0x38;
	b[3] = 0xbc;
	for (int j = 0; j < 16; j++)
		b[4 + j] = (uint8_t)(j | (15 - j) << 4);
	KT_CHECK(t, ek_dequantize_row(EK_Q4_1, b, out, 32), "dequant q4_1");
	static const struct spot s41[] = {
		{ 0, -1.0f }, { 3, 0.5f }, { 15, 6.5f }, { 16, 6.5f },
		{ 20, 4.5f }, { 31, -1.0f },
	};
	check_spots(t, EK_Q4_1, out, s41, 6);
	check_all(t, EK_Q4_1, b, out, 32);

	/* Q5_0: d 0.25; fifth bits of elements 0, 15 and 31 */
	memset(b, 0, sizeof(b));
	b[1] = 0x34;
	b[2] = 0x01;
	b[3] = 0x80;
	b[5] = 0x80;
	for (int j = 0; j < 16; j++)
		b[6 + j] = (uint8_t)(j | (15 - j) << 4);
	KT_CHECK(t, ek_dequantize_row(EK_Q5_0, b, out, 32), "dequant q5_0");
	static const struct spot s50[] = {
		{ 0, 0.0f }, { 1, -3.75f }, { 14, -0.5f }, { 15, 3.75f },
		{ 16, -0.25f }, { 31, 0.0f },
	};
	check_spots(t, EK_Q5_0, out, s50, 6);
	check_all(t, EK_Q5_0, b, out, 32);

	/* Q5_1: d 0.5, m 0.25; the same quants as the Q5_0 block */
	memset(b, 0, sizeof(b));
	b[1] = 0x38;
	b[3] = 0x34;
	b[4] = 0x01;
	b[5] = 0x80;
	b[7] = 0x80;
	for (int j = 0; j < 16; j++)
		b[8 + j] = (uint8_t)(j | (15 - j) << 4);
	KT_CHECK(t, ek_dequantize_row(EK_Q5_1, b, out, 32), "dequant q5_1");
	static const struct spot s51[] = {
		{ 0, 8.25f }, { 1, 0.75f }, { 15, 15.75f }, { 16, 7.75f },
		{ 31, 8.25f },
	};
	check_spots(t, EK_Q5_1, out, s51, 5);
	check_all(t, EK_Q5_1, b, out, 32);
}

/*
 * Q4_K / Q5_K: d 0.5, dmin 0.25; (scale, min) of the sub-blocks (1, 0),
 * (2, 7), (3, 63), (63, 1), (17, 20), (33, 40), (48, 9), (5, 62), so
 * that the high two bits of sub-blocks 4..7 (in bytes 0..7) are 01, 10,
 * 11, 00 for the scales and 01, 10, 00, 11 for the mins; qs[k] =
 * 7k + 3, Q5_K's qh[l] = 37l + 11 (mod 256).
 */
static const uint8_t k_scales[12] = {
	0x41, 0x82, 0xc3, 0x3f, 0x40, 0x87, 0x3f, 0xc1, 0x41, 0x81, 0x90, 0xe5,
};

static void blocks_k(struct kt *t)
{
	static struct ek_block_q4_K b4;
	static struct ek_block_q5_K b5;
	static struct ek_block_q6_K b6;
	float out[256];

	b4.d = b5.d = 0x3800;
	b4.dmin = b5.dmin = 0x3400;
	memcpy(b4.scales, k_scales, 12);
	memcpy(b5.scales, k_scales, 12);
	for (int k = 0; k < 128; k++)
		b4.qs[k] = b5.qs[k] = (uint8_t)(7 * k + 3);
	for (int l = 0; l < 32; l++)
		b5.qh[l] = (uint8_t)(37 * l + 11);

	/* e.g. 162: sub-block 5, byte 66 = 0xd1, high nibble 13:
	 * 0.5 * 33 * 13 - 0.25 * 40; 255: byte 127 = 0x7c, 7 (Q5_K: + 16
	 * from bit 7 of qh[31] = 0x86) with (5, 62) */
	static const struct spot s4[] = {
		{ 0, 1.5f }, { 33, -1.75f }, { 70, 3.75f }, { 127, 346.25f },
		{ 162, 204.5f }, { 200, 261.75f }, { 255, 2.0f },
	};
	static const struct spot s5[] = {
		{ 0, 9.5f }, { 33, -1.75f }, { 70, 3.75f }, { 127, 346.25f },
		{ 162, 204.5f }, { 200, 261.75f }, { 255, 42.0f },
	};
	KT_CHECK(t, ek_dequantize_row(EK_Q4_K, &b4, out, 256), "dequant q4_K");
	check_spots(t, EK_Q4_K, out, s4, 7);
	check_all(t, EK_Q4_K, &b4, out, 256);
	KT_CHECK(t, ek_dequantize_row(EK_Q5_K, &b5, out, 256), "dequant q5_K");
	check_spots(t, EK_Q5_K, out, s5, 7);
	check_all(t, EK_Q5_K, &b5, out, 256);

	/* Q6_K: d 0.5, ql[k] = 13k + 5, qh[k] = 29k + 7, scales of both
	 * signs and both extremes; spots in every quarter of both halves,
	 * e.g. 17: ql[17] = 0xe2 low 2, qh[17] = 0xf4 bits 0-1 = 0: q 2,
	 * sub-block 1 (127): 0.5 * 127 * (2 - 32) */
	static const int8_t sc6[16] = { -128, 127, -1, 2, 5, -7, 33, -64,
					1, 100, -100, 3, -3, 64, 9, -9 };
	b6.d = 0x3800;
	memcpy(b6.scales, sc6, 16);
	for (int k = 0; k < 128; k++)
		b6.ql[k] = (uint8_t)(13 * k + 5);
	for (int k = 0; k < 64; k++)
		b6.qh[k] = (uint8_t)(29 * k + 7);
	static const struct spot s6[] = {
		{ 0, -1344.0f }, { 17, -1905.0f }, { 40, -14.5f },
		{ 70, 52.5f }, { 101, 231.0f }, { 133, -13.0f },
		{ 178, -25.5f }, { 223, 416.0f }, { 255, 112.5f },
	};
	KT_CHECK(t, ek_dequantize_row(EK_Q6_K, &b6, out, 256), "dequant q6_K");
	check_spots(t, EK_Q6_K, out, s6, 9);
	check_all(t, EK_Q6_K, &b6, out, 256);
}

/* ggml's dequantization in f32, in its order, from the decoded parts. */
static float ggml_value(int dtype, const struct kt_qelem *e)
{
	float d = (float)e->d, m = (float)e->m;

	switch (dtype) {
	case EK_Q4_1:
	case EK_Q5_1:
		return (float)e->q * d + m;
	case EK_Q5_0:
		return (float)e->q * d;
	case EK_Q4_K:
	case EK_Q5_K: {
		float ds = d * (float)e->sc, dm = m * (float)e->mn;

		return ds * (float)e->q - dm;
	}
	default:		/* Q6_K */
		return d * (float)e->sc * (float)e->q;
	}
}

/* Random bytes with finite random f16 scales at the layout's places. */
static void random_blocks(struct kt *t, struct kt_rng *rng)
{
	static const int types[] = { EK_Q4_1, EK_Q5_0, EK_Q5_1, EK_Q4_K,
				     EK_Q5_K, EK_Q6_K };
	uint8_t row[4 * 210];
	float out[1024];

	for (size_t ti = 0; ti < 6; ti++) {
		int dt = types[ti];
		uint64_t n = 4 * ek_dtype_block(dt);
		size_t bb = ek_row_size(dt, ek_dtype_block(dt));
		bool mins = dt != EK_Q5_0 && dt != EK_Q6_K;
		size_t d_at = dt == EK_Q6_K ? 208 : 0;

		for (int rep = 0; rep < 8; rep++) {
			for (size_t k = 0; k < sizeof(row); k++)
				row[k] = (uint8_t)kt_next(rng);
			for (size_t b = 0; b < n / ek_dtype_block(dt); b++)
				for (int f = 0; f < (mins ? 2 : 1); f++) {
					uint16_t h = (uint16_t)(kt_next(rng) & 0xbfff);

					memcpy(row + b * bb + d_at + 2 * f, &h, 2);
				}
			KT_CHECK(t, ek_dequantize_row(dt, row, out, n),
				 "dequant %s", ek_dtype_name(dt));
			for (uint64_t i = 0; i < n; i++) {
				struct kt_qelem e;

				kt_block_elem(dt, row, i, &e);
				float want = ggml_value(dt, &e);

				KT_CHECK(t, !memcmp(&want, &out[i], 4),
					 "%s element %lu = %.9g, ggml's f32 formula "
					 "gives %.9g", ek_dtype_name(dt),
					 (unsigned long)i, out[i], want);
			}
		}
	}
}

static void invalid(struct kt *t)
{
	static float x[512];
	static uint8_t q[512];

	KT_CHECK(t, !ek_dequantize_row(EK_Q4_K, q, x, 32) &&
		    !ek_quantize_row(EK_Q6_K, x, q, 128) &&
		    !ek_dequantize_row(EK_Q5_K, q, x, 384) &&
		    !ek_quantize_row(EK_Q5_0, x, q, 48) &&
		    !ek_dequantize_row(EK_Q4_1, q, x, 16),
		 "rows that are not whole blocks are refused");
}

void kt_test_quant_golden(struct kt *t)
{
	struct kt_rng rng = { 0x901de11ull };

	blocks32(t);
	blocks_k(t);
	random_blocks(t, &rng);
	invalid(t);
}
