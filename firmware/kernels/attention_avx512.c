/* SPDX-License-Identifier: MIT */
/*
 * AVX-512 attention over f32 / f16 caches (and Q8_0 ones in KT16 tiles,
 * with VNNI), 16 positions per tile. A KT16 K cache has a tile's
 * positions side by side, so the scores come out with positions in the
 * lanes at one FMA per dim and head (Q8_0: one VNNI dot per four dims).
 * Over a ROWS K cache, groups of 5-8 query heads put the heads in the
 * lanes: a score vector is one position for all heads, so K rows are only
 * converted, and the softmax is lane-wise; smaller groups convert and
 * transpose the K rows of a tile in registers to get positions in the
 * lanes. Then V rows are accumulated 16 dims at a time with every head's
 * accumulator in a register. Each K and V row is read once per group;
 * each tile prefetches its group's rows PF_AHEAD positions on.
 */
#include <float.h>
#include <math.h>

#include "attention.h"
#include "simd_math.h"

#if EK_X86

#define TILE 16
#define PF_AHEAD 16	/* positions ahead that K and V rows are prefetched */
/* heads-in-lanes tiles: groups of at least this many heads (fewer waste
 * lanes), head dims up to this (the converted K tile is on the stack) */
#define ATTN_HL_MIN_HEADS 5
#define ATTN_HL_MAX_DIM 128
#define ATTN_HL_QT 8192	/* floats of heads-in-lanes queries per unit */

/* 16 int8 values to f32. */
EK_TARGET_AVX512 static inline __m512 i8x16(const char *p)
{
	return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
		_mm_loadu_si128((const __m128i *)p)));
}

/* Dims d.. of a row, 16 (masked by m) or, for Q8_0, 16 of one block. */
EK_TARGET_AVX512 static inline __m512 kv16(int dtype, const void *row,
					   uint32_t d, __mmask16 m)
{
	if (dtype == EK_Q8_0) {
		const char *b = (const char *)row + d / EK_QK *
				sizeof(struct ek_block_q8_0);
		uint16_t h;

		memcpy(&h, b, sizeof(h));
		return _mm512_mul_ps(i8x16(b + 2 + d % EK_QK),
				     _mm512_set1_ps(_cvtsh_ss(h)));
	}
	if (dtype == EK_F32)
		return _mm512_maskz_loadu_ps(m, (const float *)row + d);
	return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m,
						(const uint16_t *)row + d));
}

/* Into L2: the next tile's rows. */
static inline void prefetch_row(const void *row, size_t bytes)
{
	for (size_t o = 0; o < bytes; o += 64)
		ek_prefetch_l2((const char *)row + o);
}

/*
 * acc[h] = acc[h] * rr[h] + sum_j p(h, j) v_j for the nh heads from base,
 * 16 dims at a time with every head's accumulator in a register. p(h, j)
 * is pr[h * sh + j * sj] (heads-major or positions-major tiles).
 */
EK_TARGET_AVX512 static inline __attribute__((always_inline)) void
attn_pv(const struct ek_attention *p, struct ek_attn_part *w, const char *vb,
	uint32_t base, uint32_t nj, const uint32_t nh, const int dt,
	const float *rr, const float *pr, const uint32_t sh, const uint32_t sj)
{
	const uint32_t hd = p->head_dim;
	const size_t ks = p->kv_stride;
	const __mmask16 tail = hd % 16 ? (__mmask16)((1u << (hd % 16)) - 1) :
					 0xffff;

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
				a[h] = _mm512_fmadd_ps(
					_mm512_set1_ps(pr[h * sh + j * sj]),
					vv, a[h]);
		}
		for (uint32_t h = 0; h < nh; h++)
			_mm512_mask_storeu_ps(w->acc + (size_t)(base + h) * hd + d,
					      m, a[h]);
	}
}

/*
 * The rest of a positions-in-lanes tile, from the scores s[h] (lanes past
 * nj unused): online softmax with one rescale per head, then the V rows.
 */
EK_TARGET_AVX512 static inline __attribute__((always_inline)) void
attn_softmax_pv(const struct ek_attention *p, struct ek_attn_part *w,
		const char *vb, uint32_t base, uint32_t nj, const uint32_t nh,
		const int dt, __m512 *s)
{
	const __mmask16 valid = nj == TILE ? 0xffff :
				(__mmask16)((1u << nj) - 1);
	float pr[EK_ATTN_HEADS][TILE] __attribute__((aligned(64)));
	float rr[EK_ATTN_HEADS];

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
	attn_pv(p, w, vb, base, nj, nh, dt, rr, &pr[0][0], TILE, 1);
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
	__m512 s[EK_ATTN_HEADS];

	/* K row offsets; rows past nj repeat row 0 (their lanes are masked
	 * below), so the loads need no branches */
	size_t ko[TILE];

	for (uint32_t i = 0; i < TILE; i++)
		ko[i] = i < nj ? i * ks : 0;
	/* the group's K and V rows PF_AHEAD positions on, to L2, one tile
	 * at a time rather than in one burst the fill buffers cannot take */
	for (uint32_t i = 0; i < TILE && j0 + i + PF_AHEAD < w->j1; i++) {
		prefetch_row(kb + (i + PF_AHEAD) * ks, ek_row_size(dt, hd));
		prefetch_row(vb + (i + PF_AHEAD) * ks, ek_row_size(dt, hd));
	}
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
	attn_softmax_pv(p, w, vb, base, nj, nh, dt, s);
}

/* Dim d of a KT16 tile's 16 positions. */
EK_TARGET_AVX512 static inline __m512 kt16(int dtype, const char *tile,
					   uint32_t d)
{
	if (dtype == EK_F32)
		return _mm512_loadu_ps((const float *)tile + (size_t)d * TILE);
	return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)tile + d));
}

/*
 * Scores of nb <= 4 heads from base over a KT16 tile: dim d of the 16
 * positions is one vector, so a head takes one FMA per dim, no
 * transposes. Each head sums in four chains (dims d mod 4), enough FMAs in
 * flight for their latency, added in one fixed order: a head's scores do
 * not depend on which heads share its pass (threads split groups).
 */
EK_TARGET_AVX512 static inline __attribute__((always_inline)) void
kt_scores(const char *kb, const float *qs, uint32_t hdp, uint32_t hd,
	  uint32_t base, const uint32_t nb, const int dt, __m512 *s)
{
	__m512 c[4][4];

	for (uint32_t u = 0; u < 4; u++)
		for (uint32_t h = 0; h < nb; h++)
			c[u][h] = _mm512_setzero_ps();
	for (uint32_t d = 0; d < hd; d += 4)
#pragma GCC unroll 4
		for (uint32_t u = 0; u < 4; u++) {
			__m512 k = kt16(dt, kb, d + u);

			for (uint32_t h = 0; h < nb; h++)
				c[u][h] = _mm512_fmadd_ps(_mm512_set1_ps(
					qs[(size_t)(base + h) * hdp + d + u]),
					k, c[u][h]);
		}
	for (uint32_t h = 0; h < nb; h++)
		s[h] = _mm512_add_ps(_mm512_add_ps(c[0][h], c[1][h]),
				     _mm512_add_ps(c[2][h], c[3][h]));
}

/* Into L2, for the KT16 tile at j0 of group g: the next tile's K block
 * and the V rows PF_AHEAD positions on (rows of rs bytes). */
static inline void kt_prefetch(const struct ek_attention *p,
			       const struct ek_attn_part *w, uint32_t g,
			       uint32_t j0, size_t rs)
{
	const char *vb = ek_attn_kv(p, p->v, j0, g);

	if (j0 + TILE < w->j1)
		prefetch_row(ek_attn_kt16(p, j0 + TILE, g), rs * TILE);
	for (uint32_t i = 0; i < TILE && j0 + i + PF_AHEAD < w->j1; i++)
		prefetch_row(vb + (i + PF_AHEAD) * p->kv_stride, rs);
}

/* The first tile's K and V rows (span bytes of each, from group g0), all
 * requested at once: from the cache of a token's previous pass they come
 * from DRAM. Each tile then prefetches the rows PF_AHEAD positions on. */
static inline void prefetch_first_tile(const struct ek_attention *p,
				       const struct ek_attn_part *w, uint32_t g0,
				       size_t span, bool kt)
{
	for (uint32_t j = w->j0; j < w->j1 && j < w->j0 + TILE; j++) {
		if (!kt)
			prefetch_row(ek_attn_kv(p, p->k, j, g0), span);
		prefetch_row(ek_attn_kv(p, p->v, j, g0), span);
	}
	if (kt)
		prefetch_row(ek_attn_kt16(p, w->j0, g0), span * TILE);
}

/* A tile over a KT16 K cache (4 | hd), for groups of any size: the
 * scores four heads a pass, then softmax and V as for rows. */
EK_TARGET_AVX512 static inline __attribute__((always_inline)) void
attn_tile_kt(const struct ek_attention *p, struct ek_attn_part *w,
	     const float *qs, uint32_t hdp, uint32_t g, uint32_t ha,
	     uint32_t j0, uint32_t nj, const uint32_t nh, const int dt)
{
	const uint32_t hd = p->head_dim, base = ha - w->h0;
	const char *kb = ek_attn_kt16(p, j0, g);
	const char *vb = ek_attn_kv(p, p->v, j0, g);
	__m512 s[EK_ATTN_HEADS];

	kt_prefetch(p, w, g, j0, ek_row_size(dt, hd));
	/* (two calls, not a loop: each pass's head count stays a constant) */
	kt_scores(kb, qs, hdp, hd, base, nh < 4 ? nh : 4, dt, s);
	if (nh > 4)
		kt_scores(kb, qs, hdp, hd, base + 4, nh - 4, dt, s + 4);
	attn_softmax_pv(p, w, vb, base, nj, nh, dt, s);
}

/*
 * Groups of 5-8 heads: the heads go in the lanes instead. A score vector
 * holds the group's heads for one position, so K rows need no transpose
 * (s[j] += qt[d] * k[j][d], k[j][d] broadcast from the converted rows),
 * and the online softmax runs lane-wise over the positions, with one
 * vector exp for the rescale. 256-bit vectors: Zen 4 runs two of them per
 * cycle, as many flops as one 512-bit op. qt: [hd][8] queries of the
 * group, scaled, zero in lanes >= nh.
 */
EK_TARGET_AVX512 static inline __attribute__((always_inline)) void
attn_tile_hl(const struct ek_attention *p, struct ek_attn_part *w,
	     const float *qt, uint32_t g, uint32_t ha, uint32_t j0,
	     uint32_t nj, const uint32_t nh, const int dt)
{
	const uint32_t hd = p->head_dim, base = ha - w->h0;
	const size_t ks = p->kv_stride;
	const char *kb = ek_attn_kv(p, p->k, j0, g);
	const char *vb = ek_attn_kv(p, p->v, j0, g);
	const __mmask8 hm = (__mmask8)((1u << nh) - 1);
	const __mmask16 tail = hd % 16 ? (__mmask16)((1u << (hd % 16)) - 1) :
					 0xffff;
	float kf[TILE][ATTN_HL_MAX_DIM] __attribute__((aligned(64)));
	float pr[TILE][8] __attribute__((aligned(32)));
	float rr[8] __attribute__((aligned(32)));
	__m256 s[TILE];

	/* K rows to f32; rows past nj are zeros (their scores are unused).
	 * The group's K and V rows PF_AHEAD positions on go to L2 meanwhile:
	 * spread over the tile, not in one burst the fill buffers cannot take */
	for (uint32_t j = 0; j < TILE; j++) {
		if (j0 + j + PF_AHEAD < w->j1) {
			prefetch_row(kb + (j + PF_AHEAD) * ks, ek_row_size(dt, hd));
			prefetch_row(vb + (j + PF_AHEAD) * ks, ek_row_size(dt, hd));
		}
		for (uint32_t d = 0; d < hd; d += 16) {
			__mmask16 m = hd - d >= 16 ? 0xffff : tail;

			_mm512_store_ps(kf[j] + d, j < nj ?
					kv16(dt, kb + j * ks, d, m) :
					_mm512_setzero_ps());
		}
	}
#pragma GCC unroll 16
	for (uint32_t j = 0; j < TILE; j++)
		s[j] = _mm256_setzero_ps();
	for (uint32_t d = 0; d < hd; d++) {
		__m256 q = _mm256_load_ps(qt + (size_t)d * 8);

#pragma GCC unroll 16
		for (uint32_t j = 0; j < TILE; j++)
			s[j] = _mm256_fmadd_ps(q, _mm256_set1_ps(kf[j][d]), s[j]);
	}
	/* online softmax, lane-wise */
	__m256 mo = _mm256_mask_loadu_ps(_mm256_set1_ps(-FLT_MAX), hm,
					 w->m + base);
	__m256 mt = s[0], sum = _mm256_setzero_ps();

	for (uint32_t j = 1; j < nj; j++)
		mt = _mm256_max_ps(mt, s[j]);
	__m256 mn = _mm256_max_ps(mt, mo);
	__m256 r = ek_exp256(_mm256_sub_ps(mo, mn));

	for (uint32_t j = 0; j < nj; j++) {
		__m256 e = ek_exp256(_mm256_sub_ps(s[j], mn));

		sum = _mm256_add_ps(sum, e);
		_mm256_store_ps(pr[j], e);
	}
	_mm256_store_ps(rr, r);
	_mm256_mask_storeu_ps(w->m + base, hm, mn);
	_mm256_mask_storeu_ps(w->s + base, hm, _mm256_fmadd_ps(
		_mm256_maskz_loadu_ps(hm, w->s + base), r, sum));
	attn_pv(p, w, vb, base, nj, nh, dt, rr, &pr[0][0], 1, 8);
}

EK_TARGET_AVX512 static inline __attribute__((always_inline)) void
attn_tile_hl_nh(const struct ek_attention *p, struct ek_attn_part *w,
		const float *qt, uint32_t g, uint32_t ha, uint32_t j0,
		uint32_t nj, uint32_t nh, const int dt)
{
	switch (nh) {
	case 5: attn_tile_hl(p, w, qt, g, ha, j0, nj, 5, dt); break;
	case 6: attn_tile_hl(p, w, qt, g, ha, j0, nj, 6, dt); break;
	case 7: attn_tile_hl(p, w, qt, g, ha, j0, nj, 7, dt); break;
	default: attn_tile_hl(p, w, qt, g, ha, j0, nj, 8, dt); break;
	}
}

/* A positions-in-lanes tile over a KT16 (kt) or a ROWS K cache. */
EK_TARGET_AVX512 static inline __attribute__((always_inline)) void
attn_tile_pl(const struct ek_attention *p, struct ek_attn_part *w,
	     const float *qs, uint32_t hdp, uint32_t g, uint32_t ha,
	     uint32_t j0, uint32_t nj, const uint32_t nh, const int dt,
	     const bool kt)
{
	if (kt)
		attn_tile_kt(p, w, qs, hdp, g, ha, j0, nj, nh, dt);
	else
		attn_tile(p, w, qs, hdp, g, ha, j0, nj, nh, dt);
}

EK_TARGET_AVX512 static inline __attribute__((always_inline)) void
attn_tile_nh(const struct ek_attention *p, struct ek_attn_part *w,
	     const float *qs, uint32_t hdp, uint32_t g, uint32_t ha,
	     uint32_t j0, uint32_t nj, uint32_t nh, const int dt, const bool kt)
{
	switch (nh) {
	case 1: attn_tile_pl(p, w, qs, hdp, g, ha, j0, nj, 1, dt, kt); break;
	case 2: attn_tile_pl(p, w, qs, hdp, g, ha, j0, nj, 2, dt, kt); break;
	case 3: attn_tile_pl(p, w, qs, hdp, g, ha, j0, nj, 3, dt, kt); break;
	case 4: attn_tile_pl(p, w, qs, hdp, g, ha, j0, nj, 4, dt, kt); break;
	case 5: attn_tile_pl(p, w, qs, hdp, g, ha, j0, nj, 5, dt, kt); break;
	case 6: attn_tile_pl(p, w, qs, hdp, g, ha, j0, nj, 6, dt, kt); break;
	case 7: attn_tile_pl(p, w, qs, hdp, g, ha, j0, nj, 7, dt, kt); break;
	default: attn_tile_pl(p, w, qs, hdp, g, ha, j0, nj, 8, dt, kt); break;
	}
}

/*
 * Scores of nb <= 4 heads from base over a Q8_0 KT16 tile, in integers:
 * the queries are quantized like matmul activations (qa: a row of
 * head_dim per head), and one vpdpbusd multiplies four columns of the 16
 * positions (u8, stored + 128) by four of a query's (s8), as in an X16
 * matmul. Per block, two chains per head, then less the + 128, times the
 * positions' and the query's scales, summed in a fixed order.
 */
EK_TARGET_VNNI static inline __attribute__((always_inline)) void
kq8_scores(const char *kb, const struct ek_q8_row *qa, uint32_t hd,
	   uint32_t base, const uint32_t nb, __m512 *s)
{
	for (uint32_t h = 0; h < nb; h++)
		s[h] = _mm512_setzero_ps();
	for (uint32_t b = 0; b < hd / EK_QK; b++) {
		const char *blk = kb + (size_t)b * EK_KV_Q8_TILE_BLOCK;
		__m512i i0[4], i1[4];

		for (uint32_t h = 0; h < nb; h++)
			i0[h] = i1[h] = _mm512_setzero_si512();
#pragma GCC unroll 4
		for (uint32_t c = 0; c < 8; c += 2) {
			__m512i x0 = _mm512_loadu_si512(blk + 64 * c);
			__m512i x1 = _mm512_loadu_si512(blk + 64 * (c + 1));

			for (uint32_t h = 0; h < nb; h++) {
				const int8_t *q = qa[base + h].qs + b * EK_QK + 4 * c;
				int32_t q0, q1;

				memcpy(&q0, q, 4);
				memcpy(&q1, q + 4, 4);
				i0[h] = _mm512_dpbusd_epi32(i0[h], x0, _mm512_set1_epi32(q0));
				i1[h] = _mm512_dpbusd_epi32(i1[h], x1, _mm512_set1_epi32(q1));
			}
		}
		__m512 sc = _mm512_cvtph_ps(_mm256_loadu_si256(
			(const __m256i *)(blk + EK_KV_Q8_SCALES)));

		for (uint32_t h = 0; h < nb; h++) {
			const struct ek_q8_row *r = &qa[base + h];
			__m512i is = _mm512_sub_epi32(_mm512_add_epi32(i0[h], i1[h]),
					_mm512_set1_epi32(r->sum[b] * 128));

			s[h] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is),
					       _mm512_mul_ps(sc, _mm512_set1_ps(r->d[b])),
					       s[h]);
		}
	}
}

/* A tile over a Q8_0 KT16 K cache: integer scores, then softmax and V. */
EK_TARGET_VNNI static inline __attribute__((always_inline)) void
attn_tile_kq8(const struct ek_attention *p, struct ek_attn_part *w,
	      const struct ek_q8_row *qa, uint32_t g, uint32_t ha, uint32_t j0,
	      uint32_t nj, const uint32_t nh)
{
	const uint32_t hd = p->head_dim, base = ha - w->h0;
	const char *kb = ek_attn_kt16(p, j0, g);
	const char *vb = ek_attn_kv(p, p->v, j0, g);
	__m512 s[EK_ATTN_HEADS];

	kt_prefetch(p, w, g, j0, ek_row_size(EK_Q8_0, hd));
	kq8_scores(kb, qa, hd, base, nh < 4 ? nh : 4, s);
	if (nh > 4)
		kq8_scores(kb, qa, hd, base + 4, nh - 4, s + 4);
	attn_softmax_pv(p, w, vb, base, nj, nh, EK_Q8_0, s);
}

/* A unit over a Q8_0 KT16 K cache (w->j0 a multiple of 16). */
EK_TARGET_VNNI static void attn_part_kq8(const struct ek_attention *p,
					 struct ek_attn_part *w)
{
	const uint32_t hd = p->head_dim, grp = p->n_head / p->n_kv_head;
	const uint32_t nht = w->h1 - w->h0, nb = hd / EK_QK;
	const uint32_t g0 = w->h0 / grp, g1 = (w->h1 + grp - 1) / grp;
	int8_t qi[EK_ATTN_ACC] __attribute__((aligned(64)));
	float qd[EK_ATTN_ACC / EK_QK], qs[EK_MAX_HEAD_DIM];
	int32_t qsum[EK_ATTN_ACC / EK_QK];
	struct ek_q8_row qa[EK_ATTN_MAX_HEADS];

	/* queries with the scale folded in, quantized per block */
	for (uint32_t h = 0; h < nht; h++) {
		const float *q = ek_attn_q(p, w->t, w->h0 + h);

		for (uint32_t d = 0; d < hd; d++)
			qs[d] = q[d] * p->scale;
		qa[h] = (struct ek_q8_row){ qd + h * nb, qsum + h * nb,
					    qi + (size_t)h * hd };
		ek_q8_quantize_avx512(qs, hd, &qa[h]);
		w->m[h] = -FLT_MAX;
		w->s[h] = 0.0f;
	}
	memset(w->acc, 0, (size_t)nht * hd * sizeof(float));
	prefetch_first_tile(p, w, g0, ek_row_size(EK_Q8_0, (uint64_t)(g1 - g0) * hd),
			    true);
	for (uint32_t j0 = w->j0; j0 < w->j1; j0 += TILE) {
		uint32_t nj = w->j1 - j0 < TILE ? w->j1 - j0 : TILE;

		for (uint32_t g = g0; g < g1; g++) {
			uint32_t ha, hb;

			ek_attn_group_heads(p, w, g, &ha, &hb);
			switch (hb - ha) {
			case 1: attn_tile_kq8(p, w, qa, g, ha, j0, nj, 1); break;
			case 2: attn_tile_kq8(p, w, qa, g, ha, j0, nj, 2); break;
			case 3: attn_tile_kq8(p, w, qa, g, ha, j0, nj, 3); break;
			case 4: attn_tile_kq8(p, w, qa, g, ha, j0, nj, 4); break;
			case 5: attn_tile_kq8(p, w, qa, g, ha, j0, nj, 5); break;
			case 6: attn_tile_kq8(p, w, qa, g, ha, j0, nj, 6); break;
			case 7: attn_tile_kq8(p, w, qa, g, ha, j0, nj, 7); break;
			default: attn_tile_kq8(p, w, qa, g, ha, j0, nj, 8); break;
			}
		}
	}
}

EK_TARGET_AVX512 void ek_attn_part_avx512(const struct ek_attention *p,
					  struct ek_attn_part *w)
{
	const uint32_t hd = p->head_dim, grp = p->n_head / p->n_kv_head;
	const uint32_t nht = w->h1 - w->h0, hdp = (hd + 15) & ~15u;
	const uint32_t g0 = w->h0 / grp, g1 = (w->h1 + grp - 1) / grp;
	/* the span of each cache row this unit reads */
	const size_t span = ek_row_size(p->kv_dtype, (uint64_t)(g1 - g0) * hd);
	/* KT16 tiles start at multiples of 16 positions (parts do, split on
	 * EK_ATTN_TILE); the chains of a short group need 4 | hd. A Q8_0
	 * cache is read here only in KT16 tiles, the host's form, with VNNI. */
	const bool kt = p->k_layout == EK_KV_KT16;

	if (kt && p->kv_dtype == EK_Q8_0 && !(w->j0 % TILE) &&
	    ek_isa() >= EK_ISA_AVX512VNNI) {
		attn_part_kq8(p, w);
		return;
	}
	if ((kt && (w->j0 % TILE || hd % 4)) || p->kv_dtype == EK_Q8_0) {
		ek_attn_part_portable(p, w);
		return;
	}
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
	/* heads-in-lanes queries [group][d][8] where that path is taken */
	bool hl = !kt && hd <= ATTN_HL_MAX_DIM && grp >= ATTN_HL_MIN_HEADS &&
		  grp <= 8 && (size_t)(g1 - g0) * hd * 8 <= ATTN_HL_QT;
	float qt[ATTN_HL_QT] __attribute__((aligned(32)));

	for (uint32_t g = g0; hl && g < g1; g++) {
		uint32_t ha, hb;

		ek_attn_group_heads(p, w, g, &ha, &hb);
		for (uint32_t d = 0; d < hd; d++)
			for (uint32_t h = 0; h < 8; h++)
				qt[((size_t)(g - g0) * hd + d) * 8 + h] =
					h < hb - ha ?
					qs[(size_t)(ha - w->h0 + h) * hdp + d] : 0.0f;
	}
	prefetch_first_tile(p, w, g0, span, kt);
	for (uint32_t j0 = w->j0; j0 < w->j1; j0 += TILE) {
		uint32_t nj = w->j1 - j0 < TILE ? w->j1 - j0 : TILE;

		for (uint32_t g = g0; g < g1; g++) {
			uint32_t ha, hb;

			ek_attn_group_heads(p, w, g, &ha, &hb);
			if (kt && p->kv_dtype == EK_F16)
				attn_tile_nh(p, w, qs, hdp, g, ha, j0, nj, hb - ha,
					     EK_F16, true);
			else if (kt)
				attn_tile_nh(p, w, qs, hdp, g, ha, j0, nj, hb - ha,
					     EK_F32, true);
			else if (hl && hb - ha >= ATTN_HL_MIN_HEADS) {
				const float *q = qt + (size_t)(g - g0) * hd * 8;

				if (p->kv_dtype == EK_F16)
					attn_tile_hl_nh(p, w, q, g, ha, j0, nj,
							hb - ha, EK_F16);
				else
					attn_tile_hl_nh(p, w, q, g, ha, j0, nj,
							hb - ha, EK_F32);
			} else if (p->kv_dtype == EK_F16)
				attn_tile_nh(p, w, qs, hdp, g, ha, j0, nj, hb - ha,
					     EK_F16, false);
			else
				attn_tile_nh(p, w, qs, hdp, g, ha, j0, nj, hb - ha,
					     EK_F32, false);
		}
	}
}

/* AVX2 machines take the portable loop for now (see docs/performance.md) */
void ek_attn_part_avx2(const struct ek_attention *p, struct ek_attn_part *w)
{
	ek_attn_part_portable(p, w);
}

#endif /* EK_X86 */
