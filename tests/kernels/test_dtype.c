/* SPDX-License-Identifier: MIT */
/* dtype helpers and f16 / bf16 conversions, checked exhaustively where
 * the domain is 16 bits and against an exact double rounding otherwise. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "kt.h"

static uint32_t bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

static float from_bits(uint32_t u)
{
	float f;

	memcpy(&f, &u, 4);
	return f;
}

/* Round x (an f32 value) to a format with mant_bits significant bits,
 * smallest normal exponent emin and largest finite value max, ties to
 * even, overflow to infinity. */
static double ref_round(double x, int mant_bits, int emin, double max)
{
	int e;

	if (x == 0.0 || isnan(x) || isinf(x))
		return x;
	frexp(fabs(x), &e);
	int lead = e - 1 < emin ? emin : e - 1;
	double ulp = ldexp(1.0, lead - (mant_bits - 1));
	double q = nearbyint(fabs(x) / ulp) * ulp;

	if (q > max)
		q = INFINITY;
	return x < 0 ? -q : q;
}

static void test_helpers(struct kt *t)
{
	static const int known[] = { EK_F32, EK_F16, EK_BF16, EK_Q8_0, EK_Q4_0,
				     EK_Q4_1, EK_Q5_0, EK_Q5_1, EK_Q4_K,
				     EK_Q5_K, EK_Q6_K };
	/* 4, 5: removed from GGML; 9-11, 15: Q8_1, Q2_K, Q3_K, Q8_K */
	static const int unknown[] = { -1, 4, 5, 9, 10, 11, 15, 29, 31, 1000 };

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		KT_CHECK(t, ek_dtype_known(known[i]), "dtype %d known", known[i]);
		KT_CHECK(t, strcmp(ek_dtype_name(known[i]), "unknown"),
			 "dtype %d has a name", known[i]);
	}
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		KT_CHECK(t, !ek_dtype_known(unknown[i]), "dtype %d unknown",
			 unknown[i]);
		KT_CHECK(t, ek_row_size(unknown[i], 32) == 0,
			 "row size of unknown dtype %d", unknown[i]);
	}
	KT_CHECK(t, !strcmp(ek_dtype_name(EK_Q4_0), "q4_0"), "q4_0 name");
	KT_CHECK(t, !strcmp(ek_dtype_name(EK_BF16), "bf16"), "bf16 name");
	KT_CHECK(t, sizeof(struct ek_block_q8_0) == 34, "q8_0 block is 34 B");
	KT_CHECK(t, sizeof(struct ek_block_q4_0) == 18, "q4_0 block is 18 B");
	KT_CHECK(t, ek_row_size(EK_F32, 7) == 28, "f32 row");
	KT_CHECK(t, ek_row_size(EK_F16, 7) == 14, "f16 row");
	KT_CHECK(t, ek_row_size(EK_BF16, 1) == 2, "bf16 row");
	KT_CHECK(t, ek_row_size(EK_Q8_0, 64) == 68, "q8_0 row");
	KT_CHECK(t, ek_row_size(EK_Q4_0, 4096) == 2304, "q4_0 row");
	KT_CHECK(t, ek_row_size(EK_Q8_0, 48) == 0, "q8_0 row not whole blocks");
	KT_CHECK(t, ek_row_size(EK_Q4_0, 16) == 0, "q4_0 row of half a block");
	KT_CHECK(t, ek_row_size(EK_F32, 0) == 0, "empty row");
	KT_CHECK(t, ek_row_size(EK_F32, UINT64_MAX / 2) == 0, "huge row");
	KT_CHECK(t, ek_dtype_align(EK_F32) == 4, "f32 align");
	KT_CHECK(t, ek_dtype_align(EK_F16) == 2 && ek_dtype_align(EK_Q8_0) == 2
		 && ek_dtype_align(EK_Q4_0) == 2 && ek_dtype_align(EK_BF16) == 2,
		 "16-bit aligned types");
	{
		/* GGUF's block sizes and ggml's names */
		static const struct {
			int dt;
			const char *name;
			uint32_t elems, bytes;
		} blk[] = {
			{ EK_F32, "f32", 1, 4 }, { EK_F16, "f16", 1, 2 },
			{ EK_BF16, "bf16", 1, 2 }, { EK_Q8_0, "q8_0", 32, 34 },
			{ EK_Q4_0, "q4_0", 32, 18 }, { EK_Q4_1, "q4_1", 32, 20 },
			{ EK_Q5_0, "q5_0", 32, 22 }, { EK_Q5_1, "q5_1", 32, 24 },
			{ EK_Q4_K, "q4_K", 256, 144 },
			{ EK_Q5_K, "q5_K", 256, 176 },
			{ EK_Q6_K, "q6_K", 256, 210 },
		};

		for (size_t i = 0; i < sizeof(blk) / sizeof(blk[0]); i++) {
			int dt = blk[i].dt;
			uint32_t e = blk[i].elems;

			KT_CHECK(t, !strcmp(ek_dtype_name(dt), blk[i].name) &&
				    ek_dtype_block(dt) == e &&
				    ek_row_size(dt, 3 * (uint64_t)e) == 3 * blk[i].bytes &&
				    (e == 1 || !ek_row_size(dt, 3 * (uint64_t)e - 16)) &&
				    (e < 256 || !ek_row_size(dt, 128)) &&
				    ek_dtype_align(dt) == (dt == EK_F32 ? 4u : 2u),
				 "%s: name %s, %u per block, rows of 3 blocks %zu bytes, align %zu",
				 blk[i].name, ek_dtype_name(dt), ek_dtype_block(dt),
				 ek_row_size(dt, 3 * (uint64_t)e), ek_dtype_align(dt));
		}
		KT_CHECK(t, sizeof(struct ek_block_q6_K) == 210 &&
			    sizeof(struct ek_block_q4_K) == 144 &&
			    sizeof(struct ek_block_q5_K) == 176,
			 "K-quant block structs have the GGUF sizes");
		KT_CHECK(t, ek_dtype_block(5) == 0 && ek_dtype_block(-1) == 0,
			 "no block size for unknown types");
	}
}

static void test_f16(struct kt *t, struct kt_rng *rng)
{
	/* every half decodes exactly; every non-NaN half round-trips */
	for (uint32_t h = 0; h < 65536; h++) {
		float f = ek_f16_to_f32((uint16_t)h);
		double v = kt_half_value((uint16_t)h);

		if (isnan(v)) {
			KT_CHECK(t, isnan(f) && (bits(f) >> 31) == (h >> 15),
				 "f16 NaN %#x -> %#x", h, bits(f));
			uint16_t back = ek_f32_to_f16(f);

			KT_CHECK(t, (back & 0x7c00) == 0x7c00 && (back & 0x3ff),
				 "f16 NaN %#x stays NaN (%#x)", h, back);
			continue;
		}
		KT_CHECK(t, (double)f == v && !signbit(f) == !signbit(v),
			 "f16 %#x -> %.9g want %.9g", h, f, v);
		KT_CHECK(t, ek_f32_to_f16(f) == h, "f16 round trip %#x -> %#x",
			 h, ek_f32_to_f16(f));
	}
	/* midpoints between neighbours (same sign, finite): ties to even,
	 * and one f32 ulp either side goes to the nearer neighbour */
	for (uint32_t h = 0; h < 0x7bff; h++) {
		for (int s = 0; s < 2; s++) {
			uint16_t lo = (uint16_t)(h | (s << 15));
			uint16_t hi = (uint16_t)((h + 1) | (s << 15));
			float mid = (float)((kt_half_value(lo) +
					     kt_half_value(hi)) / 2);
			uint16_t even = (lo & 1) ? hi : lo;

			KT_CHECK(t, ek_f32_to_f16(mid) == even,
				 "f16 tie %.9g -> %#x want %#x", mid,
				 ek_f32_to_f16(mid), even);
			float above = nextafterf(mid, s ? -INFINITY : INFINITY);
			float below = nextafterf(mid, 0.0f);

			KT_CHECK(t, ek_f32_to_f16(above) == hi,
				 "f16 above-tie %.9g", above);
			KT_CHECK(t, ek_f32_to_f16(below) == lo,
				 "f16 below-tie %.9g", below);
		}
	}
	/* specials */
	KT_CHECK(t, ek_f32_to_f16(65504.0f) == 0x7bff, "f16 max");
	KT_CHECK(t, ek_f32_to_f16(65519.99f) == 0x7bff, "f16 below overflow");
	KT_CHECK(t, ek_f32_to_f16(65520.0f) == 0x7c00, "f16 overflow tie");
	KT_CHECK(t, ek_f32_to_f16(1e10f) == 0x7c00, "f16 overflow");
	KT_CHECK(t, ek_f32_to_f16(-1e10f) == 0xfc00, "f16 -overflow");
	KT_CHECK(t, ek_f32_to_f16(INFINITY) == 0x7c00, "f16 inf");
	KT_CHECK(t, ek_f32_to_f16(-INFINITY) == 0xfc00, "f16 -inf");
	KT_CHECK(t, ek_f32_to_f16(-0.0f) == 0x8000, "f16 -0");
	KT_CHECK(t, ek_f32_to_f16(ldexpf(1, -24)) == 1, "f16 min subnormal");
	KT_CHECK(t, ek_f32_to_f16(ldexpf(1, -25)) == 0, "f16 tie to 0");
	KT_CHECK(t, ek_f32_to_f16(nextafterf(ldexpf(1, -25), 1)) == 1,
		 "f16 above tie to min subnormal");
	KT_CHECK(t, ek_f32_to_f16(FLT_MIN) == 0, "f16 FLT_MIN underflows");
	KT_CHECK(t, ek_f32_to_f16(from_bits(1)) == 0, "f16 f32 denormal");
	KT_CHECK(t, ek_f32_to_f16(ldexpf(1023, -24) + ldexpf(1, -25)) == 0x400,
		 "f16 subnormal rounds up to min normal");
	{
		uint16_t n = ek_f32_to_f16(from_bits(0x7f800001)); /* sNaN */

		KT_CHECK(t, (n & 0x7c00) == 0x7c00 && (n & 0x3ff),
			 "f16 of a NaN with low payload is NaN (%#x)", n);
	}
	/* random floats over the whole f32 range */
	for (int i = 0; i < 1000000; i++) {
		float f = from_bits((uint32_t)kt_next(rng));

		if (isnan(f))
			continue;
		if (i & 1)	/* half the draws in the f16 range */
			f = ldexpf(kt_uniform(rng, -1, 1),
				   (int)(kt_next(rng) % 44) - 27);
		double want = ref_round(f, 11, -14, 65504.0);
		double got = kt_half_value(ek_f32_to_f16(f));

		KT_CHECK(t, got == want && !signbit(got) == !signbit(f),
			 "f16(%a) = %a want %a", f, got, want);
	}
}

static void test_bf16(struct kt *t, struct kt_rng *rng)
{
	double bf_max = ldexp(255, 120);

	for (uint32_t h = 0; h < 65536; h++) {
		float f = ek_bf16_to_f32((uint16_t)h);
		double v = kt_bf16_value((uint16_t)h);

		if (isnan(v)) {
			KT_CHECK(t, isnan(f), "bf16 NaN %#x", h);
			uint16_t back = ek_f32_to_bf16(f);

			KT_CHECK(t, (back & 0x7f80) == 0x7f80 && (back & 0x7f),
				 "bf16 NaN %#x stays NaN (%#x)", h, back);
			continue;
		}
		KT_CHECK(t, (double)f == v && !signbit(f) == !signbit(v),
			 "bf16 %#x -> %.9g want %.9g", h, f, v);
		KT_CHECK(t, ek_f32_to_bf16(f) == h, "bf16 round trip %#x", h);
	}
	for (uint32_t h = 0; h < 0x7f7f; h++) {
		uint16_t lo = (uint16_t)h, hi = (uint16_t)(h + 1);
		float mid = from_bits(((uint32_t)lo << 16) | 0x8000);
		uint16_t even = (lo & 1) ? hi : lo;

		KT_CHECK(t, ek_f32_to_bf16(mid) == even, "bf16 tie %#x", h);
		KT_CHECK(t, ek_f32_to_bf16(from_bits(bits(mid) + 1)) == hi,
			 "bf16 above tie %#x", h);
		KT_CHECK(t, ek_f32_to_bf16(from_bits(bits(mid) - 1)) == lo,
			 "bf16 below tie %#x", h);
	}
	KT_CHECK(t, ek_f32_to_bf16(FLT_MAX) == 0x7f80, "bf16 FLT_MAX -> inf");
	KT_CHECK(t, ek_f32_to_bf16(-INFINITY) == 0xff80, "bf16 -inf");
	KT_CHECK(t, ek_f32_to_bf16(-0.0f) == 0x8000, "bf16 -0");
	KT_CHECK(t, ek_f32_to_bf16(from_bits(1)) == 0, "bf16 tiny denormal");
	{
		uint16_t n = ek_f32_to_bf16(from_bits(0x7f800001));

		KT_CHECK(t, (n & 0x7f80) == 0x7f80 && (n & 0x7f),
			 "bf16 of a NaN with low payload is NaN (%#x)", n);
		n = ek_f32_to_bf16(from_bits(0xffffffff));
		KT_CHECK(t, (n & 0x7f80) == 0x7f80 && (n & 0x7f),
			 "bf16 of all-ones NaN is NaN (%#x)", n);
	}
	for (int i = 0; i < 1000000; i++) {
		float f = from_bits((uint32_t)kt_next(rng));

		if (isnan(f))
			continue;
		double want = ref_round(f, 8, -126, bf_max);
		double got = kt_bf16_value(ek_f32_to_bf16(f));

		KT_CHECK(t, got == want && !signbit(got) == !signbit(f),
			 "bf16(%a) = %a want %a", f, got, want);
	}
}

/* ek_quantize_row(F16) (vectorized where the CPU allows) gives the bits
 * ek_f32_to_f16 gives, element by element, over random bit patterns
 * (every exponent: denormals, overflow, inf, NaN) and rows of odd length */
static void test_f16_rows(struct kt *t, struct kt_rng *rng)
{
	enum { N = 1027 };
	float x[N];
	uint16_t h[N];

	for (int rep = 0; rep < 64; rep++) {
		for (int i = 0; i < N; i++)
			x[i] = from_bits((uint32_t)kt_next(rng));
		if (rep % 2)	/* half of the rows without NaNs */
			for (int i = 0; i < N; i++)
				if (isnan(x[i]))
					x[i] = 1.0f;
		KT_CHECK(t, ek_quantize_row(EK_F16, x, h, N - rep), "f16 row");
		for (int i = 0; i < N - rep; i++) {
			uint16_t want = ek_f32_to_f16(x[i]);

			KT_CHECK(t, h[i] == want ||
				    (isnan(x[i]) && (h[i] & 0x7c00) == 0x7c00 &&
				     (h[i] & 0x3ff)),
				 "f16 row[%d] of %#x: %#x, scalar %#x", i,
				 bits(x[i]), h[i], want);
		}
	}
}

void kt_test_dtype(struct kt *t)
{
	struct kt_rng rng = { 0x1234567u };

	test_helpers(t);
	test_f16(t, &rng);
	test_bf16(t, &rng);
	test_f16_rows(t, &rng);
}
