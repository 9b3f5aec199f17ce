/* SPDX-License-Identifier: MIT */
/*
 * IEEE half and bfloat16 <-> f32, bit-exact and without FPU help: the
 * firmware must give the same answers on any host.
 */
#include "ek_internal.h"

static inline uint32_t f32_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

static inline float bits_f32(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

float ek_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f;
	uint32_t man = h & 0x3ff;

	if (exp == 0x1f)	/* inf / NaN: keep the payload */
		return bits_f32(sign | 0x7f800000 | (man << 13));
	if (exp == 0) {
		if (man == 0)
			return bits_f32(sign);
		/* subnormal: normalise the mantissa */
		exp = 113;	/* 127 - 15 + 1 */
		while (!(man & 0x400)) {
			man <<= 1;
			exp--;
		}
		man &= 0x3ff;
		return bits_f32(sign | (exp << 23) | (man << 13));
	}
	return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t ek_f32_to_f16(float f)
{
	uint32_t u = f32_bits(f);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
	uint32_t exp = (u >> 23) & 0xff;
	uint32_t man = u & 0x7fffff;

	if (exp == 0xff) {	/* inf, or NaN kept quiet and non-zero */
		if (!man)
			return sign | 0x7c00;
		return sign | 0x7e00 | (uint16_t)(man >> 13);
	}
	int e = (int)exp - 127 + 15;

	if (e >= 0x1f)		/* overflow */
		return sign | 0x7c00;
	if (e <= 0) {
		/* subnormal half (or zero): shift the full mantissa right */
		if (e < -10)
			return sign;
		man |= 0x800000;
		uint32_t shift = (uint32_t)(14 - e);
		uint32_t half = man >> shift;
		uint32_t rem = man & ((1u << shift) - 1);
		uint32_t mid = 1u << (shift - 1);

		if (rem > mid || (rem == mid && (half & 1)))
			half++;	/* may carry into the smallest normal: right */
		return sign | (uint16_t)half;
	}
	uint32_t half = ((uint32_t)e << 10) | (man >> 13);
	uint32_t rem = man & 0x1fff;

	if (rem > 0x1000 || (rem == 0x1000 && (half & 1)))
		half++;		/* a carry may round up to inf: right */
	return sign | (uint16_t)half;
}

float ek_bf16_to_f32(uint16_t h)
{
	return bits_f32((uint32_t)h << 16);
}

uint16_t ek_f32_to_bf16(float f)
{
	uint32_t u = f32_bits(f);

	if ((u & 0x7fffffff) > 0x7f800000)	/* NaN: truncate, force quiet */
		return (uint16_t)((u >> 16) | 0x40);
	u += 0x7fff + ((u >> 16) & 1);		/* round to nearest even */
	return (uint16_t)(u >> 16);
}
