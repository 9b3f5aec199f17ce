/* SPDX-License-Identifier: MIT */
/*
 * Decoders of the Q4_1, Q5_0, Q5_1 and K-quant layouts for the tests'
 * references, written from the GGUF format (not from the library): each
 * element as the scale (times its quant) and the offset that make it up.
 */
#include <stdlib.h>
#include <string.h>

#include "kt.h"

static double half_at(const uint8_t *p)
{
	uint16_t h;

	memcpy(&h, p, 2);
	return kt_half_value(h);
}

/* Q4_x / Q5_x quants: element j < 16 is the low nibble of qs[j], 16 + j
 * the high one; Q5's fifth bit of element j is bit j of the 32-bit
 * little-endian qh. */
static int q32_quant(const uint8_t *qs, const uint8_t *qh, unsigned j)
{
	int q = j < 16 ? (qs[j] & 15) : (qs[j - 16] >> 4);

	if (qh)
		q |= (qh[j / 8] >> (j % 8) & 1) << 4;
	return q;
}

/* Sub-block j's 6-bit scale and min from the 12 packed bytes. */
static void k_scale_min(const uint8_t *s, unsigned j, int *sc, int *mn)
{
	if (j < 4) {
		*sc = s[j] & 0x3f;
		*mn = s[4 + j] & 0x3f;
	} else {
		*sc = (s[8 + j - 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
		*mn = (s[8 + j - 4] >> 4) | ((s[j] >> 6) << 4);
	}
}

void kt_block_elem(int dtype, const void *row, uint64_t i,
		   struct kt_qelem *el)
{
	const uint8_t *b = row;
	unsigned j = (unsigned)(i % 32);

	el->m = 0;
	el->sc = 1;
	el->mn = 0;
	switch (dtype) {
	case EK_Q4_1: {		/* 20 bytes: d, m, 16 nibble bytes */
		const uint8_t *blk = b + i / 32 * 20;

		el->d = half_at(blk);
		el->m = half_at(blk + 2);
		el->q = q32_quant(blk + 4, NULL, j);
		return;
	}
	case EK_Q5_0: {		/* 22 bytes: d, qh[4], qs[16] */
		const uint8_t *blk = b + i / 32 * 22;

		el->d = half_at(blk);
		el->q = q32_quant(blk + 6, blk + 2, j) - 16;
		return;
	}
	case EK_Q5_1: {		/* 24 bytes: d, m, qh[4], qs[16] */
		const uint8_t *blk = b + i / 32 * 24;

		el->d = half_at(blk);
		el->m = half_at(blk + 2);
		el->q = q32_quant(blk + 8, blk + 4, j);
		return;
	}
	case EK_Q4_K:
	case EK_Q5_K: {
		/* d, dmin, scales[12], (Q5_K: qh[32]), qs[128]; sub-block
		 * s = e / 32 takes the low (even s) or high (odd s) nibbles
		 * of qs[32 (s / 2) + e % 32] */
		bool five = dtype == EK_Q5_K;
		const uint8_t *blk = b + i / 256 * (five ? 176 : 144);
		const uint8_t *qs = blk + (five ? 48 : 16);
		unsigned e = (unsigned)(i % 256), s = e / 32, l = e % 32;
		int q = qs[32 * (s / 2) + l];

		q = s % 2 ? q >> 4 : q & 15;
		if (five)
			q |= (blk[16 + l] >> s & 1) << 4;
		k_scale_min(blk + 4, s, &el->sc, &el->mn);
		el->d = half_at(blk);
		el->m = half_at(blk + 2);
		el->q = q;
		return;
	}
	case EK_Q6_K: {
		/* ql[128], qh[64], scales[16] (int8), d; per 128 elements
		 * (ql + 64 h, qh + 32 h): element 32 i + l takes its low
		 * four bits from ql[l] (i = 0), ql[l + 32] (1), the high
		 * nibbles of those (2, 3), and bits 2i, 2i + 1 of qh[l] */
		const uint8_t *blk = b + i / 256 * 210;
		unsigned e = (unsigned)(i % 256), h = e / 128, r = e % 128;
		unsigned quarter = r / 32, l = r % 32;
		const uint8_t *ql = blk + 64 * h, *qh = blk + 128 + 32 * h;
		int lo = quarter == 0 ? ql[l] & 15 : quarter == 1 ? ql[l + 32] & 15 :
			 quarter == 2 ? ql[l] >> 4 : ql[l + 32] >> 4;
		int hi = qh[l] >> (2 * quarter) & 3;

		el->d = half_at(blk + 208);
		el->sc = (int8_t)blk[192 + e / 16];
		el->q = (lo | hi << 4) - 32;
		return;
	}
	default:
		abort();
	}
}

void kt_block_parts(int dtype, const void *row, uint64_t i, double *scaled,
		    double *offset)
{
	struct kt_qelem el;

	kt_block_elem(dtype, row, i, &el);
	*scaled = el.d * el.sc * el.q;
	/* the K-quants subtract their min, Q4_1 / Q5_1 add their m */
	*offset = dtype == EK_Q4_K || dtype == EK_Q5_K ? -el.m * el.mn : el.m;
}
