/* SPDX-License-Identifier: MIT */
/*
 * AVX-512 VNNI dots of the block types beyond Q8_0 / Q4_0 (Q4_1, Q5_0,
 * Q5_1 and the K-quants Q4_K, Q5_K, Q6_K) with 8-bit activations. Every
 * weight quant is unsigned (4, 5 or 6 bits), so one vpdpbusd forms four
 * exact products; a type's offset (Q5_0's 16, Q6_K's 32) starts the
 * integer sum as -offset x a, and a min (Q4_1 / Q5_1 m, K-quant dmin mn)
 * meets the activations through their block sums. Integer lanes are then
 * scaled in float, lane by lane (a lane holds four quants of one scale),
 * and summed once per row. dot4 shares the activation work of a step (its
 * loads, rearrangement, offsets and scales) among four weight rows; dot
 * runs the same code on one row, so the two agree bitwise.
 */
#include "matmul_blocks_x86.h"
#include "matmul_kernels.h"

#if EK_X86
#include <immintrin.h>

#define AI __attribute__((always_inline)) inline

/* Constant vectors whose two 256-bit halves repeat p and q. */
#define HALVES_EPI32(p, q) _mm512_setr_epi32(p, p, p, p, p, p, p, p,        \
					     q, q, q, q, q, q, q, q)
#define HALVES_EPI8(p, q) _mm512_setr_epi64(                                 \
	(long long)(0x0101010101010101ULL * (p)),                            \
	(long long)(0x0101010101010101ULL * (p)),                            \
	(long long)(0x0101010101010101ULL * (p)),                            \
	(long long)(0x0101010101010101ULL * (p)),                            \
	(long long)(0x0101010101010101ULL * (q)),                            \
	(long long)(0x0101010101010101ULL * (q)),                            \
	(long long)(0x0101010101010101ULL * (q)),                            \
	(long long)(0x0101010101010101ULL * (q)))
/* Lanes 4j..4j+3 all take lane 4v + j (j < 4) of a vector. */
#define QUARTERS_EPI32(v) _mm512_setr_epi32(                                 \
	4 * (v), 4 * (v), 4 * (v), 4 * (v),                                  \
	4 * (v) + 1, 4 * (v) + 1, 4 * (v) + 1, 4 * (v) + 1,                  \
	4 * (v) + 2, 4 * (v) + 2, 4 * (v) + 2, 4 * (v) + 2,                  \
	4 * (v) + 3, 4 * (v) + 3, 4 * (v) + 3, 4 * (v) + 3)

static inline struct ek_q8_row q8_tail(const struct ek_q8_row *a, uint64_t i)
{
	struct ek_q8_row t = { a->d + i, a->sum + i, a->qs + i * EK_QK };

	return t;
}

EK_TARGET_VNNI static AI float f16(const void *p)
{
	uint16_t h;

	memcpy(&h, p, sizeof(h));
	return _cvtsh_ss(h);
}

EK_TARGET_VNNI static AI uint16_t u16_at(const void *p)
{
	uint16_t h;

	memcpy(&h, p, sizeof(h));
	return h;
}

/* -c x a per four bytes: the start of a sum of (q - c) x a */
EK_TARGET_VNNI static AI __m512i neg_offset(char c, __m512i aq)
{
	return _mm512_sub_epi32(_mm512_setzero_si512(),
				_mm512_dpbusd_epi32(_mm512_setzero_si512(),
						    _mm512_set1_epi8(c), aq));
}

/* ---- K-quants ----------------------------------------------------------- */

/*
 * A super-block of activations (8 blocks of 32) as every row uses it.
 * Q4_K / Q5_K: q[h] and q[2 + h] the bytes of blocks [4h | 4h + 2] and
 * [4h + 1 | 4h + 3] (the low and the high nibbles of the weights' qs
 * bytes 64h..64h + 63); c[0] = [d_a j | -d_a j sum_a j], j < 8.
 * Q6_K: q[v] blocks 2v, 2v + 1 as they are, off[v] = -32 x q[v] per four
 * bytes, c[v] = [d_a 2v | d_a 2v + 1] per half.
 */
struct k_act {
	__m512i q[4], off[4];
	__m512 c[4];
};

EK_TARGET_VNNI static AI void k_act_load(int dtype, const struct ek_q8_row *a,
					 uint64_t blk, struct k_act *x)
{
	const int8_t *qs = a->qs + blk * EK_QK;
	__m256 da = _mm256_loadu_ps(a->d + blk);

	if (dtype == EK_Q6_K) {
		for (int v = 0; v < 4; v++) {
			x->q[v] = _mm512_loadu_si512(qs + 64 * v);
			x->off[v] = neg_offset(32, x->q[v]);
			x->c[v] = _mm512_permutexvar_ps(
				HALVES_EPI32(2 * v, 2 * v + 1),
				_mm512_castps256_ps512(da));
		}
		return;
	}
	const __m512i ilo = _mm512_setr_epi64(0, 1, 2, 3, 8, 9, 10, 11);
	const __m512i ihi = _mm512_setr_epi64(4, 5, 6, 7, 12, 13, 14, 15);
	__m256 sa = _mm256_cvtepi32_ps(_mm256_loadu_si256(
		(const __m256i *)(a->sum + blk)));

	for (int h = 0; h < 2; h++) {
		__m512i a0 = _mm512_loadu_si512(qs + 128 * h);
		__m512i a1 = _mm512_loadu_si512(qs + 128 * h + 64);

		x->q[h] = _mm512_permutex2var_epi64(a0, ilo, a1);
		x->q[2 + h] = _mm512_permutex2var_epi64(a0, ihi, a1);
	}
	x->c[0] = _mm512_insertf32x8(_mm512_castps256_ps512(da),
				     _mm256_mul_ps(da, _mm256_sub_ps(
					     _mm256_setzero_ps(), sa)), 1);
}

/*
 * Q4_K / Q5_K super-block: cf = [d sc_j d_a j | -dmin mn_j d_a j sum_a j];
 * its upper half (the mins) goes straight into the sum, its lower half
 * scales the integer sums of sub-blocks j, 8 lanes each.
 */
EK_TARGET_VNNI static AI __m512 kq_step(const void *blk, const uint8_t *scales,
					const uint8_t *qs, const uint8_t *qh,
					const struct k_act *x, __m512 acc)
{
	const __m512i m4 = _mm512_set1_epi8(0x0f);
	uint32_t dm;

	memcpy(&dm, blk, sizeof(dm));	/* f16 d, dmin */
	__m512 dd = _mm512_permutexvar_ps(HALVES_EPI32(0, 1),
		_mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi32_si128((int)dm))));
	__m512 sm = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
		ek_k_scale_min_bytes(scales)));
	__m512 cf = _mm512_mul_ps(_mm512_mul_ps(sm, dd), x->c[0]);
	__m512i hb = _mm512_setzero_si512();

	if (qh)
		hb = _mm512_broadcast_i64x4(_mm256_loadu_si256(
			(const __m256i *)qh));
	acc = _mm512_mask_add_ps(acc, 0xff00, acc, cf);
	for (int h = 0; h < 2; h++) {
		__m512i v = _mm512_loadu_si512(qs + 64 * h);
		__m512i lo = _mm512_and_si512(v, m4);
		__m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);

		if (qh) {
			/* sub-block j's fifth bits: bit j of the qh bytes */
			const __m512i sixteen = _mm512_set1_epi8(16);
			__mmask64 kl = _mm512_test_epi8_mask(hb,
				HALVES_EPI8(1u << 4 * h, 4u << 4 * h));
			__mmask64 kh = _mm512_test_epi8_mask(hb,
				HALVES_EPI8(2u << 4 * h, 8u << 4 * h));

			lo = _mm512_mask_add_epi8(lo, kl, lo, sixteen);
			hi = _mm512_mask_add_epi8(hi, kh, hi, sixteen);
		}
		__m512i il = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo,
						 x->q[h]);
		__m512i ih = _mm512_dpbusd_epi32(_mm512_setzero_si512(), hi,
						 x->q[2 + h]);

		acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(il),
			_mm512_permutexvar_ps(HALVES_EPI32(4 * h, 4 * h + 2),
					      cf), acc);
		acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ih),
			_mm512_permutexvar_ps(HALVES_EPI32(4 * h + 1,
							   4 * h + 3), cf),
			acc);
	}
	return acc;
}

/*
 * Q6_K super-block: each half's 64 ql bytes hold the low nibbles of
 * quarters 0 | 1 (low) and 2 | 3 (high), quarter i's top two bits are
 * bits 2i, 2i + 1 of the 32 qh bytes; the 64 quants of vector v are
 * elements 64v.., sub-blocks 4v..4v + 3 in its four 128-bit lanes.
 */
EK_TARGET_VNNI static AI __m512 k6_step(const struct ek_block_q6_K *b,
					const struct k_act *x, __m512 acc)
{
	const __m512i m4 = _mm512_set1_epi8(0x0f);
	const __m512i m2 = _mm512_set1_epi8(0x30);
	__m512 sc = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
		_mm_loadu_si128((const __m128i *)b->scales))),
		_mm512_set1_ps(f16(&b->d)));

	for (int h = 0; h < 2; h++) {
		__m512i v = _mm512_loadu_si512(b->ql + 64 * h);
		__m512i hb = _mm512_broadcast_i64x4(_mm256_loadu_si256(
			(const __m256i *)(b->qh + 32 * h)));
		/* bits 0-1 | 2-3 up to 4-5; bits 4-5 | 6-7 down */
		__m512i lo = _mm512_or_si512(_mm512_and_si512(v, m4),
			_mm512_and_si512(_mm512_sllv_epi16(hb,
				HALVES_EPI32(0x00040004, 0x00020002)), m2));
		__m512i hi = _mm512_or_si512(
			_mm512_and_si512(_mm512_srli_epi16(v, 4), m4),
			_mm512_and_si512(_mm512_srlv_epi16(hb,
				HALVES_EPI32(0, 0x00020002)), m2));
		__m512i q[2] = { lo, hi };

		for (int u = 0; u < 2; u++) {
			int vi = 2 * h + u;
			__m512i is = _mm512_dpbusd_epi32(x->off[vi], q[u],
							 x->q[vi]);
			__m512 c = _mm512_mul_ps(_mm512_permutexvar_ps(
				QUARTERS_EPI32(vi), sc), x->c[vi]);

			acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), c, acc);
		}
	}
	return acc;
}

EK_TARGET_VNNI static AI size_t k_size(int dtype)
{
	return dtype == EK_Q4_K ? sizeof(struct ek_block_q4_K) :
	       dtype == EK_Q5_K ? sizeof(struct ek_block_q5_K) :
				  sizeof(struct ek_block_q6_K);
}

EK_TARGET_VNNI static AI __m512 k_step(int dtype, const void *blk,
				       const struct k_act *x, __m512 acc)
{
	if (dtype == EK_Q4_K) {
		const struct ek_block_q4_K *b = blk;

		return kq_step(b, b->scales, b->qs, NULL, x, acc);
	}
	if (dtype == EK_Q5_K) {
		const struct ek_block_q5_K *b = blk;

		return kq_step(b, b->scales, b->qs, b->qh, x, acc);
	}
	return k6_step(blk, x, acc);
}

EK_TARGET_VNNI static AI float k_dot(int dtype, const void *w,
				     const struct ek_q8_row *a, uint64_t nb)
{
	size_t bs = k_size(dtype);
	__m512 acc = _mm512_setzero_ps();

	for (uint64_t i = 0; i < nb / 8; i++) {
		struct k_act x;

		k_act_load(dtype, a, 8 * i, &x);
		acc = k_step(dtype, ek_ptr_add(w, i * bs), &x, acc);
	}
	return _mm512_reduce_add_ps(acc);
}

/* The rows' sums are dot's, each row on its own accumulator. */
EK_TARGET_VNNI static AI void k_dot4(int dtype, const void *const w[4],
				     size_t pf, const struct ek_q8_row *a,
				     uint64_t nb, float out[4])
{
	size_t bs = k_size(dtype);
	__m512 acc[4];

	for (int r = 0; r < 4; r++)
		acc[r] = _mm512_setzero_ps();
	for (uint64_t i = 0; i < nb / 8; i++) {
		struct k_act x;

		k_act_load(dtype, a, 8 * i, &x);
		for (int r = 0; r < 4; r++) {
			const char *blk = ek_ptr_add(w[r], i * bs);

			/* the lines of the block pf bytes ahead into L2 */
			for (size_t o = 0; o < bs; o += 64)
				ek_prefetch_l2(blk + pf + o);
			acc[r] = k_step(dtype, blk, &x, acc[r]);
		}
	}
	for (int r = 0; r < 4; r++)
		out[r] = _mm512_reduce_add_ps(acc[r]);
}

#define DEFINE_K(T, DT)                                                      \
EK_TARGET_VNNI float ek_dot_##T##_vnni(const void *w,                        \
				       const struct ek_q8_row *a, uint64_t nb) \
{                                                                            \
	return k_dot(DT, w, a, nb);                                          \
}                                                                            \
EK_TARGET_VNNI void ek_dot4_##T##_vnni(const void *const w[4], size_t pf,    \
				       const struct ek_q8_row *a, uint64_t nb, \
				       float out[4])                          \
{                                                                            \
	k_dot4(DT, w, pf, a, nb, out);                                       \
}

DEFINE_K(q4_K, EK_Q4_K)
DEFINE_K(q5_K, EK_Q5_K)
DEFINE_K(q6_K, EK_Q6_K)

/* ---- Q4_1, Q5_0, Q5_1: blocks of 32 ------------------------------------- */

/* Where a block's fields are (0: absent; the scale d is at 0). */
struct s_fmt {
	size_t size, m, qh, qs;
	char off;		/* quants are q - off */
};

static AI struct s_fmt s_fmt(int dtype)
{
	struct s_fmt f;

	if (dtype == EK_Q4_1)
		f = (struct s_fmt){ sizeof(struct ek_block_q4_1),
			offsetof(struct ek_block_q4_1, m), 0,
			offsetof(struct ek_block_q4_1, qs), 0 };
	else if (dtype == EK_Q5_0)
		f = (struct s_fmt){ sizeof(struct ek_block_q5_0), 0,
			offsetof(struct ek_block_q5_0, qh),
			offsetof(struct ek_block_q5_0, qs), 16 };
	else
		f = (struct s_fmt){ sizeof(struct ek_block_q5_1),
			offsetof(struct ek_block_q5_1, m),
			offsetof(struct ek_block_q5_1, qh),
			offsetof(struct ek_block_q5_1, qs), 0 };
	return f;
}

/*
 * Four blocks a step (80-96 bytes, every field at an even offset) come
 * from a 64-byte load w and a 32-byte one x ending with the last block;
 * vpermw gathers words from both (index < 32: w, >= 32: x).
 */
static AI uint16_t s4_word(struct s_fmt f, size_t off)
{
	size_t xoff = 4 * f.size - 32;

	return (uint16_t)(off < 64 ? off / 2 : 32 + (off - xoff) / 2);
}

/*
 * iq: the 64 qs bytes of the four blocks in order, so that the low
 * nibbles are elements 0-15 of each block, the high ones 16-31 (the
 * activations are rearranged to match, once per step for all rows).
 * ih: [qh bits 0-15 of blocks 0-3 | bits 16-31 | d 0-3 | m 0-3], words.
 */
static AI void s4_index(struct s_fmt f, uint16_t iq[32], uint16_t ih[32])
{
	for (size_t t = 0; t < 32; t++) {
		iq[t] = s4_word(f, t / 8 * f.size + f.qs + 2 * (t % 8));
		ih[t] = 0;
	}
	for (size_t j = 0; j < 4; j++) {
		if (f.qh) {
			ih[j] = s4_word(f, j * f.size + f.qh);
			ih[4 + j] = s4_word(f, j * f.size + f.qh + 2);
		}
		ih[8 + j] = s4_word(f, j * f.size);
		if (f.m)
			ih[12 + j] = s4_word(f, j * f.size + f.m);
	}
}

/* The 64 unsigned quants of blocks b and b + 1, in element order. */
EK_TARGET_VNNI static AI __m512i s_pair(struct s_fmt f, const uint8_t *b)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	__m256i x = _mm256_loadu2_m128i((const __m128i *)(b + f.size + f.qs),
					(const __m128i *)(b + f.qs));
	__m256i lo = _mm256_and_si256(x, m4);
	__m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), m4);
	__m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);

	/* [lo0 lo1 hi0 hi1] -> [lo0 hi0 lo1 hi1] */
	z = _mm512_shuffle_i64x2(z, z, 0xd8);
	if (f.qh) {
		/* bit j of a block's qh is element j's fifth bit */
		uint32_t h0, h1;

		memcpy(&h0, b + f.qh, sizeof(h0));
		memcpy(&h1, b + f.size + f.qh, sizeof(h1));
		z = _mm512_mask_add_epi8(z, _cvtu64_mask64(
			(uint64_t)h1 << 32 | h0), z, _mm512_set1_epi8(16));
	}
	return z;
}

/*
 * nr (1 or 4) rows: four blocks a step, the activations' rearrangement,
 * offset and scales shared by the rows; then the last 2-3 blocks as
 * pairs, an odd one in the portable dot. Per block the integer sum
 * d_a d (q . a - off sum_a) goes into acc (lanes of four quants), and
 * d_a m sum_a into accm, both summed at the end: dot and dot4 agree.
 */
EK_TARGET_VNNI static AI void s_dots(int dtype, int nr, const void *const w[4],
				     size_t pf, const struct ek_q8_row *a,
				     uint64_t nb, float out[4],
				     ek_dot_q8_fn portable)
{
	struct s_fmt f = s_fmt(dtype);
	const __m512i m4 = _mm512_set1_epi8(0x0f);
	const __m512i ilo = _mm512_setr_epi64(0, 1, 4, 5, 8, 9, 12, 13);
	const __m512i ihi = _mm512_setr_epi64(2, 3, 6, 7, 10, 11, 14, 15);
	const size_t xoff = 4 * f.size - 32;
	uint16_t iqw[32], ihw[32];
	__m512 acc[4];
	__m128 accm[4];
	uint64_t i = 0;

	s4_index(f, iqw, ihw);
	const __m512i iq = _mm512_loadu_si512(iqw);
	const __m512i ih = _mm512_loadu_si512(ihw);

	for (int r = 0; r < nr; r++) {
		acc[r] = _mm512_setzero_ps();
		accm[r] = _mm_setzero_ps();
	}
	for (; i + 4 <= nb; i += 4) {
		__m512i a0 = _mm512_loadu_si512(a->qs + i * EK_QK);
		__m512i a1 = _mm512_loadu_si512(a->qs + i * EK_QK + 64);
		__m512i alo = _mm512_permutex2var_epi64(a0, ilo, a1);
		__m512i ahi = _mm512_permutex2var_epi64(a0, ihi, a1);
		__m512i st = _mm512_setzero_si512();
		__m128 da = _mm_loadu_ps(a->d + i), dsa = _mm_setzero_ps();

		if (f.off)
			st = _mm512_sub_epi32(st, _mm512_dpbusd_epi32(
				_mm512_dpbusd_epi32(st, _mm512_set1_epi8(f.off),
						    alo),
				_mm512_set1_epi8(f.off), ahi));
		if (f.m)
			dsa = _mm_mul_ps(da, _mm_cvtepi32_ps(_mm_loadu_si128(
				(const __m128i *)(a->sum + i))));
		for (int r = 0; r < nr; r++) {
			const uint8_t *q = (const uint8_t *)w[r] + i * f.size;

			if (nr > 1) {
				ek_prefetch_l2(q + pf);
				ek_prefetch_l2(q + pf + 64);
			}
			__m512i wa = _mm512_loadu_si512(q);
			__m512i wx = _mm512_castsi256_si512(_mm256_loadu_si256(
				(const __m256i *)(q + xoff)));
			__m512i x = _mm512_permutex2var_epi16(wa, iq, wx);
			__m512i hx = _mm512_permutex2var_epi16(wa, ih, wx);
			__m512i lo = _mm512_and_si512(x, m4);
			__m512i hi = _mm512_and_si512(_mm512_srli_epi16(x, 4),
						      m4);
			__m128i dm = _mm512_extracti32x4_epi32(hx, 1);

			if (f.qh) {
				__m128i h = _mm512_castsi512_si128(hx);
				const __m512i sixteen = _mm512_set1_epi8(16);

				lo = _mm512_mask_add_epi8(lo, _cvtu64_mask64(
					(uint64_t)_mm_cvtsi128_si64(h)), lo,
					sixteen);
				hi = _mm512_mask_add_epi8(hi, _cvtu64_mask64(
					(uint64_t)_mm_extract_epi64(h, 1)), hi,
					sixteen);
			}
			__m512i is = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(
				st, lo, alo), hi, ahi);
			/* lanes 4b..4b + 3: block i + b */
			__m512 s = _mm512_permutexvar_ps(QUARTERS_EPI32(0),
				_mm512_castps128_ps512(_mm_mul_ps(
					_mm_cvtph_ps(dm), da)));

			acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), s,
						 acc[r]);
			if (f.m)
				accm[r] = _mm_fmadd_ps(_mm_cvtph_ps(
					_mm_srli_si128(dm, 8)), dsa, accm[r]);
		}
	}
	for (; i + 2 <= nb; i += 2) {
		__m512i aq = _mm512_loadu_si512(a->qs + i * EK_QK);
		__m512i st = f.off ? neg_offset(f.off, aq) :
				     _mm512_setzero_si512();
		__m128 dsa = _mm_setzero_ps();

		if (f.m)
			dsa = _mm_mul_ps(_mm_castpd_ps(_mm_load_sd(
				(const double *)(a->d + i))), _mm_cvtepi32_ps(
				_mm_loadl_epi64((const __m128i *)(a->sum + i))));
		for (int r = 0; r < nr; r++) {
			const uint8_t *b0 = (const uint8_t *)w[r] + i * f.size;
			const uint8_t *b1 = b0 + f.size;
			__m512i is = _mm512_dpbusd_epi32(st, s_pair(f, b0), aq);
			__m512 s = _mm512_insertf32x8(
				_mm512_set1_ps(f16(b0) * a->d[i]),
				_mm256_set1_ps(f16(b1) * a->d[i + 1]), 1);

			acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), s,
						 acc[r]);
			if (f.m)
				accm[r] = _mm_fmadd_ps(_mm_cvtph_ps(
					_mm_setr_epi16((short)u16_at(b0 + f.m),
						       (short)u16_at(b1 + f.m),
						       0, 0, 0, 0, 0, 0)), dsa,
					accm[r]);
		}
	}
	for (int r = 0; r < nr; r++) {
		__m128 m2 = _mm_add_ps(accm[r], _mm_movehl_ps(accm[r],
							      accm[r]));

		out[r] = _mm512_reduce_add_ps(acc[r]) + _mm_cvtss_f32(
			_mm_add_ss(m2, _mm_movehdup_ps(m2)));
		if (i < nb) {
			struct ek_q8_row t = q8_tail(a, i);

			out[r] += portable((const uint8_t *)w[r] +
					   i * f.size, &t, nb - i);
		}
	}
}

#define DEFINE_S(T, DT)                                                      \
EK_TARGET_VNNI float ek_dot_##T##_vnni(const void *w,                        \
				       const struct ek_q8_row *a, uint64_t nb) \
{                                                                            \
	const void *const ws[4] = { w, w, w, w };                            \
	float out[4];                                                        \
                                                                             \
	s_dots(DT, 1, ws, 0, a, nb, out, ek_dot_##T##_portable);             \
	return out[0];                                                       \
}                                                                            \
EK_TARGET_VNNI void ek_dot4_##T##_vnni(const void *const w[4], size_t pf,    \
				       const struct ek_q8_row *a, uint64_t nb, \
				       float out[4])                          \
{                                                                            \
	s_dots(DT, 4, w, pf, a, nb, out, ek_dot_##T##_portable);             \
}

DEFINE_S(q4_1, EK_Q4_1)
DEFINE_S(q5_0, EK_Q5_0)
DEFINE_S(q5_1, EK_Q5_1)

#endif /* EK_X86 */
