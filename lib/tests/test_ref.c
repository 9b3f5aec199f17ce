// SPDX-License-Identifier: MIT
/* Checks of the host reference math against independent facts. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ember_ref.h"
#include "check.h"

static void check_f16(void)
{
	struct eref_rng r;
	uint32_t h;
	int i;

	/* every half converts to float and back exactly (NaNs stay NaN) */
	for (h = 0; h < 0x10000; h++) {
		float f = eref_f16_to_f32((uint16_t)h);
		_Float16 ref;

		memcpy(&ref, &h, 2);
		if (isnan(f)) {
			CHECK(isnan((float)ref), "0x%04x", h);
			continue;
		}
		CHECK(f == (float)ref, "f16 0x%04x -> %g, compiler says %g", h, f,
		      (double)(float)ref);
		CHECK(eref_f32_to_f16(f) == h, "round trip 0x%04x", h);
	}
	/* float -> half rounds as the compiler does (nearest even) */
	eref_seed(&r, 1);
	for (i = 0; i < 200000; i++) {
		float f = ldexpf(eref_uniform(&r), (int)(eref_next(&r) % 40) - 28);
		_Float16 c = (_Float16)f;
		uint16_t ch;

		memcpy(&ch, &c, 2);
		CHECK(eref_f32_to_f16(f) == ch, "%a -> 0x%04x, compiler 0x%04x",
		      (double)f, eref_f32_to_f16(f), ch);
		if (failures > 10)
			return;
	}
}

static void check_quant(void)
{
	float x[64], y[64];
	uint8_t q8[68], q4[36];
	struct eref_rng r;
	int i;

	eref_seed(&r, 2);
	eref_fill(&r, x, 64, 3.0f);
	eref_quantize_q8_0(x, q8, 64);
	eref_dequantize_q8_0(q8, y, 64);
	for (i = 0; i < 64; i++)
		CHECK(fabsf(x[i] - y[i]) <= 3.0f / 127 * 0.51f + 1e-3f,
		      "q8 %d: %g vs %g", i, x[i], y[i]);
	eref_quantize_q4_0(x, q4, 64);
	eref_dequantize_q4_0(q4, y, 64);
	for (i = 0; i < 64; i++)
		/* ggml rounds to d*(q-8), q <= 15: the side opposite the block max
		 * clamps at 7/8 of it, so the error reaches amax/8 */
		CHECK(fabsf(x[i] - y[i]) <= 3.0f / 8 * 1.01f,
		      "q4 %d: %g vs %g", i, x[i], y[i]);
}

static void check_matmul(void)
{
	/* [1 2; 3 4] x [5 6; 7 8]^T + bias [1, -1] */
	const float a[4] = { 1, 2, 3, 4 }, w[4] = { 5, 6, 7, 8 };
	const float bias[2] = { 1, -1 };
	double out[4], mag[4];

	eref_matmul(2, 2, 2, a, 2, w, 2, bias, NULL, 0, out, mag);
	CHECK(out[0] == 18 && out[1] == 22 && out[2] == 40 && out[3] == 52,
	      "%g %g %g %g", out[0], out[1], out[2], out[3]);
	CHECK(mag[0] == 18 && mag[1] == 24, "%g %g", mag[0], mag[1]);
}

static void check_attention(void)
{
	/* 1 head, dim 2, 2 positions; token 0 sees only v0, token 1 a mix */
	const float q[4] = { 1, 0, 0, 1 };
	const float k[4] = { 1, 0, 0, 1 };
	const float v[4] = { 10, 20, 30, 40 };
	double out[4], e = exp(1.0), w0 = 1 / (1 + e);

	eref_attention(2, 0, 1, 1, 2, 1.0f, q, 2, k, v, 2, out);
	CHECK(out[0] == 10 && out[1] == 20, "%g %g", out[0], out[1]);
	CHECK(fabs(out[2] - (w0 * 10 + (1 - w0) * 30)) < 1e-12 &&
	      fabs(out[3] - (w0 * 20 + (1 - w0) * 40)) < 1e-12,
	      "%g %g", out[2], out[3]);
}

/* Known values: rmsnorm of (3, 4) is (3, 4) / sqrt(12.5); rope at pos 0
 * is the identity and at pos 1, dim pair 0, a rotation by 1 rad; silu(0)
 * = 0 and silu(x) -> x for large x. */
static void check_layer_ops(void)
{
	const float x[2] = { 3, 4 }, w[2] = { 2, 1 };
	double out[2], v[4] = { 1, 0, 1, 0 };

	eref_rmsnorm(1, 2, x, 2, w, 0, out);
	CHECK(fabs(out[0] - 6 / sqrt(12.5)) < 1e-12 &&
	      fabs(out[1] - 4 / sqrt(12.5)) < 1e-12, "rmsnorm %g %g", out[0], out[1]);
	eref_rope(v, 1, 4, 4, 0, 10000, 0);
	CHECK(v[0] == 1 && v[1] == 0 && v[2] == 1 && v[3] == 0, "rope pos 0");
	eref_rope(v, 1, 4, 2, 1, 10000, 0);
	CHECK(fabs(v[0] - cos(1.0)) < 1e-12 && fabs(v[1] - sin(1.0)) < 1e-12 &&
	      v[2] == 1 && v[3] == 0, "rope pos 1: %g %g %g %g", v[0], v[1], v[2], v[3]);
	v[0] = 1;
	v[1] = 0;
	v[2] = 0;
	v[3] = 0;
	eref_rope(v, 1, 4, 4, 1, 10000, 1);	/* NEOX pairs (0, 2) */
	CHECK(fabs(v[0] - cos(1.0)) < 1e-12 && fabs(v[2] - sin(1.0)) < 1e-12 &&
	      v[1] == 0, "rope neox");
	CHECK(eref_silu(0) == 0 && fabs(eref_silu(40) - 40) < 1e-12 &&
	      fabs(eref_silu(1) - 1 / (1 + exp(-1.0))) < 1e-15, "silu");
}

int main(void)
{
	check_layer_ops();
	check_f16();
	check_quant();
	check_matmul();
	check_attention();
	return check_summary();
}
