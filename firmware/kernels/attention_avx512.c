/* SPDX-License-Identifier: MIT */
/*
 * AVX-512 attention over f32 / f16 caches. Positions go 16 at a time: the
 * K rows of a tile are converted and transposed in registers so the scores
 * of all query heads of the group come out with positions in the lanes (no
 * horizontal sums), softmax runs on those vectors, then V rows are
 * accumulated 16 dims at a time with every head's accumulator in a
 * register. Each K and V row is read once per group; rows ahead are
 * prefetched because a group reads only its slice of each cache row.
 */
#include <float.h>
#include <math.h>

#include "attention.h"
#include "simd_math.h"

#if EK_X86

#define TILE 16
#define PF_AHEAD 16	/* positions ahead that K and V rows are prefetched */

EK_TARGET_AVX512 static inline __m512 kv16(int dtype, const void *row,
					   uint32_t d, __mmask16 m)
{
	if (dtype == EK_F32)
		return _mm512_maskz_loadu_ps(m, (const float *)row + d);
	return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m,
						(const uint16_t *)row + d));
}

static inline void prefetch_row(const void *row, size_t bytes)
{
	for (size_t o = 0; o < bytes; o += 64)
		__builtin_prefetch((const char *)row + o, 0, 3);
}

/*
 * One tile of positions for the nh heads [ha, ha + nh) of group g (nh is a
 * constant after inlining, so per-head vectors stay in registers). qs:
 * scaled queries of the unit, padded with zeros to hdp dims.
 */
EK_TARGET_AVX512 static inline __attribute__((always_inline)) void
attn_tile(const struct ek_attention *p, struct ek_attn_part *w,
	  const float *qs, uint32_t hdp, uint32_t g, uint32_t ha,
	  uint32_t j0, uint32_t nj, const uint32_t nh, const int dt)
{
	const uint32_t hd = p->head_dim, base = ha - w->h0;
	const size_t ks = p->kv_stride;
	const char *kb = ek_attn_kv(p, p->k, j0, g);
	const char *vb = ek_attn_kv(p, p->v, j0, g);
	const __mmask16 tail = hd % 16 ? (__mmask16)((1u << (hd % 16)) - 1) :
					 0xffff;
	const __mmask16 valid = nj == TILE ? 0xffff :
				(__mmask16)((1u << nj) - 1);
	float pr[EK_ATTN_HEADS][TILE] __attribute__((aligned(64)));
	float rr[EK_ATTN_HEADS];
	__m512 s[EK_ATTN_HEADS];

	/* K row offsets; rows past nj repeat row 0 (their lanes are masked
	 * below), so the loads need no branches */
	size_t ko[TILE];

	for (uint32_t i = 0; i < TILE; i++)
		ko[i] = i < nj ? i * ks : 0;
	for (uint32_t h = 0; h < nh; h++)
		s[h] = _mm512_setzero_ps();
	/* scores: s[h][lane j] = sum_d qs[h][d] k[j0 + j][d] */
	for (uint32_t d = 0; d < hd; d += 16) {
		__mmask16 m = hd - d >= 16 ? 0xffff : tail;
		__m512 r[16];

#pragma GCC unroll 16
		for (uint32_t i = 0; i < 16; i++)
			r[i] = kv16(dt, kb + ko[i], d, m);
		ek_transpose16_512(r);	/* r[i]: dim d + i */
#pragma GCC unroll 16
		for (uint32_t i = 0; i < 16; i++)
			for (uint32_t h = 0; h < nh; h++)
				s[h] = _mm512_fmadd_ps(
					_mm512_set1_ps(qs[(size_t)(base + h) * hdp +
							  d + i]),
					r[i], s[h]);
	}
	/* online softmax, one rescale per head per tile */
	for (uint32_t h = 0; h < nh; h++) {
		float mo = w->m[base + h];

		s[h] = _mm512_mask_mov_ps(_mm512_set1_ps(-FLT_MAX), valid, s[h]);
		float mt = _mm512_reduce_max_ps(s[h]);
		float mn = mt > mo ? mt : mo;
		__m512 e = _mm512_maskz_mov_ps(valid, ek_exp512(
			_mm512_sub_ps(s[h], _mm512_set1_ps(mn))));

		rr[h] = mt > mo ? expf(mo - mn) : 1.0f;
		w->m[base + h] = mn;
		w->s[base + h] = w->s[base + h] * rr[h] +
				 _mm512_reduce_add_ps(e);
		_mm512_store_ps(pr[h], e);
	}
	/* acc = acc * r + sum_j p_j v_j, 16 dims at a time */
	for (uint32_t d = 0; d < hd; d += 16) {
		__mmask16 m = hd - d >= 16 ? 0xffff : tail;
		__m512 a[EK_ATTN_HEADS];

		for (uint32_t h = 0; h < nh; h++)
			a[h] = _mm512_mul_ps(_mm512_maskz_loadu_ps(m,
					w->acc + (size_t)(base + h) * hd + d),
					_mm512_set1_ps(rr[h]));
#pragma GCC unroll 4
		for (uint32_t j = 0; j < nj; j++) {
			__m512 vv = kv16(dt, vb + j * ks, d, m);

			for (uint32_t h = 0; h < nh; h++)
				a[h] = _mm512_fmadd_ps(_mm512_set1_ps(pr[h][j]),
						       vv, a[h]);
		}
		for (uint32_t h = 0; h < nh; h++)
			_mm512_mask_storeu_ps(w->acc + (size_t)(base + h) * hd + d,
					      m, a[h]);
	}
}

EK_TARGET_AVX512 static inline __attribute__((always_inline)) void
attn_tile_nh(const struct ek_attention *p, struct ek_attn_part *w,
	     const float *qs, uint32_t hdp, uint32_t g, uint32_t ha,
	     uint32_t j0, uint32_t nj, uint32_t nh, const int dt)
{
	switch (nh) {
	case 1: attn_tile(p, w, qs, hdp, g, ha, j0, nj, 1, dt); break;
	case 2: attn_tile(p, w, qs, hdp, g, ha, j0, nj, 2, dt); break;
	case 3: attn_tile(p, w, qs, hdp, g, ha, j0, nj, 3, dt); break;
	case 4: attn_tile(p, w, qs, hdp, g, ha, j0, nj, 4, dt); break;
	case 5: attn_tile(p, w, qs, hdp, g, ha, j0, nj, 5, dt); break;
	case 6: attn_tile(p, w, qs, hdp, g, ha, j0, nj, 6, dt); break;
	case 7: attn_tile(p, w, qs, hdp, g, ha, j0, nj, 7, dt); break;
	default: attn_tile(p, w, qs, hdp, g, ha, j0, nj, 8, dt); break;
	}
}

EK_TARGET_AVX512 void ek_attn_part_avx512(const struct ek_attention *p,
					  struct ek_attn_part *w)
{
	const uint32_t hd = p->head_dim, grp = p->n_head / p->n_kv_head;
	const uint32_t nht = w->h1 - w->h0, hdp = (hd + 15) & ~15u;
	const uint32_t g0 = w->h0 / grp, g1 = (w->h1 + grp - 1) / grp;
	/* the span of each cache row this unit reads */
	const size_t es = ek_elem_size(p->kv_dtype);
	const size_t span = (size_t)(g1 - g0) * hd * es;
	float qs[EK_ATTN_ACC + 16 * EK_ATTN_MAX_HEADS]
		__attribute__((aligned(64)));

	/* queries with the scale folded in, zero-padded to 16 dims */
	for (uint32_t h = 0; h < nht; h++) {
		const float *q = ek_attn_q(p, w->t, w->h0 + h);

		for (uint32_t d = 0; d < hdp; d++)
			qs[(size_t)h * hdp + d] = d < hd ? q[d] * p->scale : 0.0f;
		w->m[h] = -FLT_MAX;
		w->s[h] = 0.0f;
	}
	memset(w->acc, 0, (size_t)nht * hd * sizeof(float));
	for (uint32_t j0 = w->j0; j0 < w->j1; j0 += TILE) {
		uint32_t nj = w->j1 - j0 < TILE ? w->j1 - j0 : TILE;

		/* K and V rows PF_AHEAD positions ahead (V of the first tile
		 * before it) */
		for (uint32_t j = 0; j < nj; j++) {
			if (j0 == w->j0)
				prefetch_row(ek_attn_kv(p, p->v, j0 + j, g0), span);
			if (j0 + j + PF_AHEAD < w->j1) {
				prefetch_row(ek_attn_kv(p, p->k, j0 + j + PF_AHEAD,
							g0), span);
				prefetch_row(ek_attn_kv(p, p->v, j0 + j + PF_AHEAD,
							g0), span);
			}
		}
		for (uint32_t g = g0; g < g1; g++) {
			uint32_t ha, hb;

			ek_attn_group_heads(p, w, g, &ha, &hb);
			if (p->kv_dtype == EK_F16)
				attn_tile_nh(p, w, qs, hdp, g, ha, j0, nj, hb - ha,
					     EK_F16);
			else
				attn_tile_nh(p, w, qs, hdp, g, ha, j0, nj, hb - ha,
					     EK_F32);
		}
	}
}

/* AVX2 machines take the portable loop for now (see docs/performance.md) */
void ek_attn_part_avx2(const struct ek_attention *p, struct ek_attn_part *w)
{
	ek_attn_part_portable(p, w);
}

#endif /* EK_X86 */
