/* SPDX-License-Identifier: MIT */
/*
 * AVX-512 matmul kernels: activation quantization, integer block dots
 * (VNNI vpdpbusd, or vpmaddubsw where VNNI is missing), float dots for
 * decode, and the 12x32 GEMM microkernel with its W packing.
 */
#include "gemm.h"
#include "matmul_kernels.h"
#include "simd_math.h"

#if EK_X86
#include <immintrin.h>

#define AI __attribute__((always_inline)) inline

/* ---- activations to 8 bits -------------------------------------------- */

EK_TARGET_AVX512 static AI __m512i q8_clamp(__m512i q)
{
	return _mm512_min_epi32(_mm512_max_epi32(q, _mm512_set1_epi32(-127)),
				_mm512_set1_epi32(127));
}

EK_TARGET_AVX512 void ek_q8_quantize_avx512(const float *x, uint64_t k,
					    struct ek_q8_row *r)
{
	const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));

	for (uint64_t b = 0; b < k / EK_QK; b++) {
		__m512 v0 = _mm512_loadu_ps(x + b * EK_QK);
		__m512 v1 = _mm512_loadu_ps(x + b * EK_QK + 16);
		float amax = _mm512_reduce_max_ps(
			_mm512_max_ps(_mm512_and_ps(v0, absmask),
				      _mm512_and_ps(v1, absmask)));
		float id = amax != 0.0f ? 127.0f / amax : 0.0f;
		__m512 vid = _mm512_set1_ps(id);
		/* rounds to nearest even like the portable path, and like it
		 * takes NaN to 0 and clamps to +-127 (NaN or infinite inputs
		 * would convert to INT_MIN and overflow the block sum) */
		__m512 p0 = _mm512_mul_ps(v0, vid), p1 = _mm512_mul_ps(v1, vid);
		__m512i q0 = q8_clamp(_mm512_maskz_cvtps_epi32(
			_mm512_cmp_ps_mask(p0, p0, _CMP_ORD_Q), p0));
		__m512i q1 = q8_clamp(_mm512_maskz_cvtps_epi32(
			_mm512_cmp_ps_mask(p1, p1, _CMP_ORD_Q), p1));

		_mm_storeu_si128((__m128i *)(r->qs + b * EK_QK),
				 _mm512_cvtsepi32_epi8(q0));
		_mm_storeu_si128((__m128i *)(r->qs + b * EK_QK + 16),
				 _mm512_cvtsepi32_epi8(q1));
		r->d[b] = amax / 127.0f;
		r->sum[b] = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
	}
}

/* ---- integer block dots ------------------------------------------------ */

/* Scales of two blocks in the two 256-bit halves. */
EK_TARGET_AVX512 static AI __m512 two_scales(uint16_t dw0, float da0,
					     uint16_t dw1, float da1)
{
	float s0 = _cvtsh_ss(dw0) * da0, s1 = _cvtsh_ss(dw1) * da1;

	return _mm512_insertf32x8(_mm512_set1_ps(s0), _mm256_set1_ps(s1), 1);
}

/* 64 signed weight bytes of two Q8_0 blocks */
EK_TARGET_AVX512 static AI __m512i q8_0_pair(const struct ek_block_q8_0 *b)
{
	__m256i w0 = _mm256_loadu_si256((const __m256i *)b[0].qs);
	__m256i w1 = _mm256_loadu_si256((const __m256i *)b[1].qs);

	return _mm512_inserti64x4(_mm512_castsi256_si512(w0), w1, 1);
}

/* 64 weight nibbles (0..15) of two Q4_0 blocks in element order */
EK_TARGET_AVX512 static AI __m512i q4_0_pair(const struct ek_block_q4_0 *b)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	__m256i x = _mm256_loadu2_m128i((const __m128i *)b[1].qs,
					(const __m128i *)b[0].qs);
	__m256i lo = _mm256_and_si256(x, m4);
	__m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), m4);
	__m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);

	/* [lo0 lo1 hi0 hi1] -> [lo0 hi0 lo1 hi1] */
	return _mm512_shuffle_i64x2(z, z, 0xd8);
}

static inline struct ek_q8_row q8_tail(const struct ek_q8_row *a, uint64_t i)
{
	struct ek_q8_row t = { a->d + i, a->sum + i, a->qs + i * EK_QK };

	return t;
}

#define DEFINE_DOTS(NAME, TARGET, DPBUSD)                                    \
TARGET static float dot_q8_0_##NAME(const void *w, const struct ek_q8_row *a, \
				    uint64_t nb)                             \
{                                                                            \
	const struct ek_block_q8_0 *b = w;                                   \
	__m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();       \
	uint64_t i = 0;                                                      \
                                                                             \
	for (; i + 4 <= nb; i += 4) {                                        \
		for (int u = 0; u < 2; u++) {                                \
			uint64_t j = i + 2 * (uint64_t)u;                    \
			__m512i wq = q8_0_pair(b + j);                       \
			__m512i aq = _mm512_loadu_si512(a->qs + j * EK_QK);  \
			/* |w| x (a with the sign of w) = w x a */          \
			__mmask64 neg = _mm512_movepi8_mask(wq);             \
			__m512i as = _mm512_mask_sub_epi8(aq, neg,           \
				_mm512_setzero_si512(), aq);                 \
			__m512i d = DPBUSD(_mm512_abs_epi8(wq), as);         \
			__m512 s = two_scales(b[j].d, a->d[j], b[j + 1].d,   \
					      a->d[j + 1]);                  \
			if (u)                                               \
				acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), \
						       s, acc1);             \
			else                                                 \
				acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), \
						       s, acc0);             \
		}                                                            \
	}                                                                    \
	float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));         \
	if (i < nb) {                                                        \
		struct ek_q8_row t = q8_tail(a, i);                          \
		sum += ek_dot_q8_0_portable(b + i, &t, nb - i);              \
	}                                                                    \
	return sum;                                                          \
}                                                                            \
                                                                             \
TARGET static float dot_q4_0_##NAME(const void *w, const struct ek_q8_row *a, \
				    uint64_t nb)                             \
{                                                                            \
	const struct ek_block_q4_0 *b = w;                                   \
	const __m512i eight = _mm512_set1_epi8(8);                           \
	__m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();       \
	uint64_t i = 0;                                                      \
                                                                             \
	for (; i + 4 <= nb; i += 4) {                                        \
		for (int u = 0; u < 2; u++) {                                \
			uint64_t j = i + 2 * (uint64_t)u;                    \
			__m512i wq = q4_0_pair(b + j);                       \
			__m512i aq = _mm512_loadu_si512(a->qs + j * EK_QK);  \
			/* (q - 8) . a = q . a - 8 . a */                    \
			__m512i d = _mm512_sub_epi32(DPBUSD(wq, aq),         \
						     DPBUSD(eight, aq));     \
			__m512 s = two_scales(b[j].d, a->d[j], b[j + 1].d,   \
					      a->d[j + 1]);                  \
			if (u)                                               \
				acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), \
						       s, acc1);             \
			else                                                 \
				acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), \
						       s, acc0);             \
		}                                                            \
	}                                                                    \
	float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));         \
	if (i < nb) {                                                        \
		struct ek_q8_row t = q8_tail(a, i);                          \
		sum += ek_dot_q4_0_portable(b + i, &t, nb - i);              \
	}                                                                    \
	return sum;                                                          \
}

/* u8 x s8 -> s32 sums of 4: one VNNI instruction, or two BW ones */
#define DPBUSD_VNNI(u, s) _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, s)
#define DPBUSD_BW(u, s) \
	_mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1))

/*
 * w . a per 4 bytes for signed Q8_0 weights. With VNNI the weights become
 * unsigned (w ^ 0x80 = w + 128) and the sum starts at -128 x a (off, once
 * per step for the four rows): two ops per row instead of four. Without
 * it, |w| x (a with the sign of w), as vpmaddubsw would saturate on 255.
 */
#define Q8_OFF_VNNI(aq)                                                      \
	_mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(        \
		_mm512_setzero_si512(), _mm512_set1_epi8((char)0x80), aq))
#define Q8_PRODUCT_VNNI(wq, aq, off)                                         \
	_mm512_dpbusd_epi32(off, _mm512_xor_si512(wq,                        \
		_mm512_set1_epi8((char)0x80)), aq)
#define Q8_OFF_BW(aq) _mm512_setzero_si512()
#define Q8_PRODUCT_BW(wq, aq, off) ((void)(off),                             \
	DPBUSD_BW(_mm512_abs_epi8(wq), _mm512_mask_sub_epi8(aq,              \
		_mm512_movepi8_mask(wq), _mm512_setzero_si512(), aq)))

/* Four rows at once: one activation load serves four weight rows. */
#define DEFINE_DOT4(NAME, TARGET, OFF, BLK, PAIR, PRODUCT, PORTABLE)         \
TARGET static void dot4_##NAME(const void *const w[4], size_t pf,           \
			       const struct ek_q8_row *a, uint64_t nb,        \
			       float out[4])                                  \
{                                                                            \
	const BLK *b[4];                                                     \
	__m512 acc[4];                                                       \
	uint64_t i = 0;                                                      \
                                                                             \
	for (int r = 0; r < 4; r++) {                                        \
		b[r] = w[r];                                                 \
		acc[r] = _mm512_setzero_ps();                                \
	}                                                                    \
	for (; i + 2 <= nb; i += 2) {                                        \
		__m512i aq = _mm512_loadu_si512(a->qs + i * EK_QK);          \
		__m512i off = OFF(aq);                                       \
		/* the 8 block scales of this step in one conversion:      \
		 * [r0b0 r0b1 r1b0 r1b1 ...] x [a0 a1 a0 a1 ...] */          \
		__m256 sc8 = _mm256_mul_ps(_mm256_cvtph_ps(_mm_setr_epi16(   \
			(short)b[0][i].d, (short)b[0][i + 1].d,              \
			(short)b[1][i].d, (short)b[1][i + 1].d,              \
			(short)b[2][i].d, (short)b[2][i + 1].d,              \
			(short)b[3][i].d, (short)b[3][i + 1].d)),            \
			_mm256_castpd_ps(_mm256_broadcast_sd(                \
				(const double *)(a->d + i))));               \
		__m512 sc = _mm512_castps256_ps512(sc8);                     \
                                                                             \
		for (int r = 0; r < 4; r++) {                                \
			/* the next group of rows into L2: the hardware     \
			 * prefetcher alone leaves DRAM half idle here */    \
			__builtin_prefetch((const char *)(b[r] + i) + pf,    \
					   0, 1);                            \
			__m512i wq = PAIR(b[r] + i);                         \
			__m512i d = PRODUCT(wq, aq, off);                    \
			/* lanes 0-7: block i, 8-15: block i + 1 */       \
			__m512 s = _mm512_permutexvar_ps(_mm512_set_epi32(   \
				2 * r + 1, 2 * r + 1, 2 * r + 1, 2 * r + 1,  \
				2 * r + 1, 2 * r + 1, 2 * r + 1, 2 * r + 1,  \
				2 * r, 2 * r, 2 * r, 2 * r,                  \
				2 * r, 2 * r, 2 * r, 2 * r), sc);            \
			acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), s,   \
						 acc[r]);                    \
		}                                                            \
	}                                                                    \
	for (int r = 0; r < 4; r++) {                                        \
		out[r] = _mm512_reduce_add_ps(acc[r]);                       \
		if (i < nb) {                                                \
			struct ek_q8_row t = q8_tail(a, i);                  \
			out[r] += PORTABLE(b[r] + i, &t, nb - i);            \
		}                                                            \
	}                                                                    \
}

DEFINE_DOT4(q8_0_vnni, EK_TARGET_VNNI, Q8_OFF_VNNI, struct ek_block_q8_0,
	    q8_0_pair, Q8_PRODUCT_VNNI, ek_dot_q8_0_portable)
DEFINE_DOT4(q8_0_avx512, EK_TARGET_AVX512, Q8_OFF_BW, struct ek_block_q8_0,
	    q8_0_pair, Q8_PRODUCT_BW, ek_dot_q8_0_portable)

/* acc + u8 x s8 sums of 4 */
#define DPBUSD_ACC_VNNI(acc, u, s) _mm512_dpbusd_epi32(acc, u, s)
#define DPBUSD_ACC_BW(acc, u, s) _mm512_add_epi32(acc, DPBUSD_BW(u, s))

/*
 * Q4_0, four rows, four blocks per step. The 4 x 16 nibble bytes of a row
 * are loaded as they are (no reordering of the weights): the low nibbles
 * are elements 0-15 of each block, the high ones 16-31, so the
 * activations are rearranged instead (once per step, shared by the four
 * rows) into the low and high halves of the four blocks. The -8 offset
 * starts each row's integer sum (-8 x a, also shared), so a row costs a
 * 64-byte and a 16-byte load, one vpermw (the 64 nibble bytes out of the
 * 72-byte blocks), three logic ops and two vpdpbusd per 128 weights, and
 * the 16 scales of the four rows take two vpermw instead of 16 scalar
 * inserts. Lanes 4b..4b+3 hold block i + b. Measured on Zen 4 (one
 * thread, L3-resident): 16.4 -> 24.6 GB/s of weights; the same vpermw
 * gathers made the Q8_0 dot4 slower (38 -> 35), so it keeps its loads.
 */
/* the 16 scales [r0b0 r0b1 r0b2 r0b3 r1b0 ...] of blocks i..i+3 (word
 * 9j of each row's 72 bytes), two vpermw */
#define Q4SC(b, i, wa) _mm256_inserti128_si256(                              \
	_mm512_castsi512_si256(_mm512_permutex2var_epi16(wa[0], isc, wa[1])), \
	_mm512_castsi512_si128(_mm512_permutex2var_epi16(wa[2], isc, wa[3])), 1)
#define DEFINE_DOT4_Q4X4(NAME, TARGET, ACC)                         \
TARGET static void dot4x4_##NAME(const void *const w[4], size_t pf,         \
				 const struct ek_q8_row *a, uint64_t nb,      \
				 float out[4])                                \
{                                                                            \
	const struct ek_block_q4_0 *b[4];                                    \
	__m512 acc[4];                                                       \
	const __m512i m4 = _mm512_set1_epi8(0x0f);                           \
	const __m512i eight = _mm512_set1_epi8(8);                           \
	const __m512i ilo = _mm512_setr_epi64(0, 1, 4, 5, 8, 9, 12, 13);     \
	const __m512i ihi = _mm512_setr_epi64(2, 3, 6, 7, 10, 11, 14, 15);   \
	const __m512i iqs = _mm512_set_epi16(                                \
		39, 38, 37, 36, 35, 34, 33, 32, 26, 25, 24, 23, 22, 21, 20, 19, \
		17, 16, 15, 14, 13, 12, 11, 10, 8, 7, 6, 5, 4, 3, 2, 1);     \
	const __m512i isc = _mm512_set_epi16(                                \
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,              \
		0, 0, 0, 0, 0, 0, 0, 0, 59, 50, 41, 32, 27, 18, 9, 0);       \
	uint64_t i = 0;                                                      \
                                                                             \
	for (int r = 0; r < 4; r++) {                                        \
		b[r] = w[r];                                                 \
		acc[r] = _mm512_setzero_ps();                                \
	}                                                                    \
	for (; i + 4 <= nb; i += 4) {                                        \
		__m512i a0 = _mm512_loadu_si512(a->qs + i * EK_QK);          \
		__m512i a1 = _mm512_loadu_si512(a->qs + i * EK_QK + 64);     \
		__m512i alo = _mm512_permutex2var_epi64(a0, ilo, a1);        \
		__m512i ahi = _mm512_permutex2var_epi64(a0, ihi, a1);        \
		__m512i neg8a = _mm512_sub_epi32(_mm512_setzero_si512(),     \
			ACC(ACC(_mm512_setzero_si512(), eight, alo), eight,  \
			    ahi));                                           \
		__m512i wa[4], wx[4];                                        \
                                                                             \
		for (int r = 0; r < 4; r++) {                                \
			/* blocks i..i+3: 72 bytes = 36 words, as words     \
			 * 0-31 and 28-35 (block j: scale at word 9j,       \
			 * nibbles at words 9j+1..9j+8) */                  \
			const char *q = (const char *)(b[r] + i);            \
                                                                             \
			__builtin_prefetch(q + pf, 0, 1);                    \
			__builtin_prefetch(q + pf + 64, 0, 1);               \
			wa[r] = _mm512_loadu_si512(q);                       \
			wx[r] = _mm512_castsi128_si512(                      \
				_mm_loadu_si128((const __m128i *)(q + 56))); \
		}                                                            \
		__m256i s16 = Q4SC(b, i, wa);                                \
		__m512 sc = _mm512_mul_ps(_mm512_cvtph_ps(s16),              \
			_mm512_broadcast_f32x4(_mm_loadu_ps(a->d + i)));     \
                                                                             \
		for (int r = 0; r < 4; r++) {                                \
			__m512i x = _mm512_permutex2var_epi16(wa[r], iqs,    \
							      wx[r]);        \
			__m512i lo = _mm512_and_si512(x, m4);                \
			__m512i hi = _mm512_and_si512(                       \
				_mm512_srli_epi16(x, 4), m4);                \
			__m512i d = ACC(ACC(neg8a, lo, alo), hi, ahi);       \
			__m512 s = _mm512_permutexvar_ps(_mm512_set_epi32(   \
				4 * r + 3, 4 * r + 3, 4 * r + 3, 4 * r + 3,  \
				4 * r + 2, 4 * r + 2, 4 * r + 2, 4 * r + 2,  \
				4 * r + 1, 4 * r + 1, 4 * r + 1, 4 * r + 1,  \
				4 * r, 4 * r, 4 * r, 4 * r), sc);            \
			acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), s,   \
						 acc[r]);                    \
		}                                                            \
	}                                                                    \
	/* the last 1-3 blocks in pairs, on the same accumulators */       \
	for (; i + 2 <= nb; i += 2) {                                        \
		__m512i aq = _mm512_loadu_si512(a->qs + i * EK_QK);          \
		__m512i n8 = _mm512_sub_epi32(_mm512_setzero_si512(),        \
			ACC(_mm512_setzero_si512(), eight, aq));             \
                                                                             \
		for (int r = 0; r < 4; r++) {                                \
			__m512i d = ACC(n8, q4_0_pair(b[r] + i), aq);        \
			__m512 s = two_scales(b[r][i].d, a->d[i],            \
					      b[r][i + 1].d, a->d[i + 1]);   \
                                                                             \
			acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), s,   \
						 acc[r]);                    \
		}                                                            \
	}                                                                    \
	for (int r = 0; r < 4; r++) {                                        \
		out[r] = _mm512_reduce_add_ps(acc[r]);                       \
		if (i < nb) {                                                \
			struct ek_q8_row t = q8_tail(a, i);                  \
                                                                             \
			out[r] += ek_dot_q4_0_portable(b[r] + i, &t, nb - i); \
		}                                                            \
	}                                                                    \
}

DEFINE_DOT4_Q4X4(q4_0_vnni, EK_TARGET_VNNI, DPBUSD_ACC_VNNI)
DEFINE_DOT4_Q4X4(q4_0_avx512, EK_TARGET_AVX512, DPBUSD_ACC_BW)

/*
 * Prefill: four weight rows x four activation rows per call, so each
 * weight load serves four activation rows. The weights are made unsigned
 * (Q8_0: w ^ 0x80 = w + 128; Q4_0: the nibbles, w + 8) so that one
 * vpdpbusd forms each product; the offset (128 or 8 x the activation
 * bytes) starts every sum, computed once per activation row and step.
 * The integer lanes and scale products equal those of dot4 / dot4x4, so
 * the results are bitwise the same as decode's. VNNI only: vpmaddubsw
 * would saturate on 255 x 127 x 2.
 */

/* Blocks *pi.. of the tile in pairs (lanes 0-7: block i, 8-15: i + 1). */
EK_TARGET_VNNI static AI void tile_pairs(const void *const w[4],
					 const struct ek_q8_row *const a[4],
					 uint64_t *pi, uint64_t nb, bool q8,
					 __m512 acc[4][4])
{
	const __m512i c = _mm512_set1_epi8(q8 ? (char)0x80 : 8);
	const size_t bs = q8 ? sizeof(struct ek_block_q8_0) :
			       sizeof(struct ek_block_q4_0);
	uint64_t i = *pi;

	for (; i + 2 <= nb; i += 2) {
		__m512i aq[4], o[4];
		__m512 da[4];

		for (int m = 0; m < 4; m++) {
			aq[m] = _mm512_loadu_si512(a[m]->qs + i * EK_QK);
			o[m] = _mm512_sub_epi32(_mm512_setzero_si512(),
				_mm512_dpbusd_epi32(_mm512_setzero_si512(),
						    c, aq[m]));
			da[m] = _mm512_insertf32x8(
				_mm512_set1_ps(a[m]->d[i]),
				_mm256_set1_ps(a[m]->d[i + 1]), 1);
		}
		for (int r = 0; r < 4; r++) {
			const char *blk = (const char *)w[r] + i * bs;
			__m512i wu = q8 ? _mm512_xor_si512(q8_0_pair(
					(const struct ek_block_q8_0 *)blk), c) :
				     q4_0_pair((const struct ek_block_q4_0 *)blk);
			uint16_t d0, d1;

			/* the scale is the first field of both block types */
			memcpy(&d0, blk, sizeof(d0));
			memcpy(&d1, blk + bs, sizeof(d1));
			__m512 dw = _mm512_insertf32x8(
				_mm512_set1_ps(_cvtsh_ss(d0)),
				_mm256_set1_ps(_cvtsh_ss(d1)), 1);

			for (int m = 0; m < 4; m++) {
				__m512i d = _mm512_dpbusd_epi32(o[m], wu,
								aq[m]);

				acc[r][m] = _mm512_fmadd_ps(
					_mm512_cvtepi32_ps(d),
					_mm512_mul_ps(dw, da[m]), acc[r][m]);
			}
		}
	}
	*pi = i;
}

/* out = the sums of acc, plus the odd last block, as dot4 adds it */
EK_TARGET_VNNI static AI void tile_finish(const void *const w[4],
					  const struct ek_q8_row *const a[4],
					  uint64_t i, uint64_t nb, bool q8,
					  __m512 acc[4][4], float out[4][4])
{
	const size_t bs = q8 ? sizeof(struct ek_block_q8_0) :
			       sizeof(struct ek_block_q4_0);

	for (int r = 0; r < 4; r++)
		for (int m = 0; m < 4; m++) {
			out[r][m] = _mm512_reduce_add_ps(acc[r][m]);
			if (i < nb) {
				struct ek_q8_row t = q8_tail(a[m], i);
				const void *blk = (const char *)w[r] + i * bs;

				out[r][m] += q8 ?
					ek_dot_q8_0_portable(blk, &t, nb - i) :
					ek_dot_q4_0_portable(blk, &t, nb - i);
			}
		}
}

EK_TARGET_VNNI static void tile_q8_0(const void *const w[4],
				     const struct ek_q8_row *const a[4],
				     uint64_t nb, float out[4][4])
{
	__m512 acc[4][4];
	uint64_t i = 0;

	for (int r = 0; r < 4; r++)
		for (int m = 0; m < 4; m++)
			acc[r][m] = _mm512_setzero_ps();
	tile_pairs(w, a, &i, nb, true, acc);
	tile_finish(w, a, i, nb, true, acc, out);
}

/*
 * Prefill, Q4_0: dot4x4 for four activation rows at once. The nibbles and
 * scales of each weight row are unpacked once per step and serve the four
 * activation rows; the lanes, offsets and tail are dot4x4's, so the
 * results are bitwise the same as decode's.
 */
EK_TARGET_VNNI static void tile_q4_0(const void *const w[4],
				     const struct ek_q8_row *const a[4],
				     uint64_t nb, float out[4][4])
{
	const struct ek_block_q4_0 *b[4];
	__m512 acc[4][4];
	const __m512i m4 = _mm512_set1_epi8(0x0f);
	const __m512i eight = _mm512_set1_epi8(8);
	const __m512i ilo = _mm512_setr_epi64(0, 1, 4, 5, 8, 9, 12, 13);
	const __m512i ihi = _mm512_setr_epi64(2, 3, 6, 7, 10, 11, 14, 15);
	const __m512i iqs = _mm512_set_epi16(
		39, 38, 37, 36, 35, 34, 33, 32, 26, 25, 24, 23, 22, 21, 20, 19,
		17, 16, 15, 14, 13, 12, 11, 10, 8, 7, 6, 5, 4, 3, 2, 1);
	const __m512i isc = _mm512_set_epi16(
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 59, 50, 41, 32, 27, 18, 9, 0);
	uint64_t i = 0;

	for (int r = 0; r < 4; r++) {
		b[r] = w[r];
		for (int m = 0; m < 4; m++)
			acc[r][m] = _mm512_setzero_ps();
	}
	for (; i + 4 <= nb; i += 4) {
		__m512i alo[4], ahi[4], neg8a[4], wa[4], wx[4];
		__m512 sw, sc[4];

		for (int m = 0; m < 4; m++) {
			__m512i a0 = _mm512_loadu_si512(a[m]->qs + i * EK_QK);
			__m512i a1 = _mm512_loadu_si512(a[m]->qs + i * EK_QK +
							64);

			alo[m] = _mm512_permutex2var_epi64(a0, ilo, a1);
			ahi[m] = _mm512_permutex2var_epi64(a0, ihi, a1);
			neg8a[m] = _mm512_sub_epi32(_mm512_setzero_si512(),
				_mm512_dpbusd_epi32(_mm512_dpbusd_epi32(
					_mm512_setzero_si512(), eight, alo[m]),
					eight, ahi[m]));
		}
		for (int r = 0; r < 4; r++) {
			const char *q = (const char *)(b[r] + i);

			wa[r] = _mm512_loadu_si512(q);
			wx[r] = _mm512_castsi128_si512(
				_mm_loadu_si128((const __m128i *)(q + 56)));
		}
		sw = _mm512_cvtph_ps(Q4SC(b, i, wa));
		/* as dot4x4: the scale products, permuted per row below */
		for (int m = 0; m < 4; m++)
			sc[m] = _mm512_mul_ps(sw, _mm512_broadcast_f32x4(
				_mm_loadu_ps(a[m]->d + i)));
		for (int r = 0; r < 4; r++) {
			__m512i x = _mm512_permutex2var_epi16(wa[r], iqs,
							      wx[r]);
			__m512i lo = _mm512_and_si512(x, m4);
			__m512i hi = _mm512_and_si512(_mm512_srli_epi16(x, 4),
						      m4);
			__m512i idx = _mm512_set_epi32(
				4 * r + 3, 4 * r + 3, 4 * r + 3, 4 * r + 3,
				4 * r + 2, 4 * r + 2, 4 * r + 2, 4 * r + 2,
				4 * r + 1, 4 * r + 1, 4 * r + 1, 4 * r + 1,
				4 * r, 4 * r, 4 * r, 4 * r);

			for (int m = 0; m < 4; m++) {
				__m512i d = _mm512_dpbusd_epi32(
					_mm512_dpbusd_epi32(neg8a[m], lo,
							    alo[m]),
					hi, ahi[m]);
				__m512 s = _mm512_permutexvar_ps(idx, sc[m]);

				acc[r][m] = _mm512_fmadd_ps(
					_mm512_cvtepi32_ps(d), s, acc[r][m]);
			}
		}
	}
	/* the last 1-3 blocks as dot4x4: in pairs, same accumulators */
	tile_pairs(w, a, &i, nb, false, acc);
	tile_finish(w, a, i, nb, false, acc, out);
}

DEFINE_DOTS(vnni, EK_TARGET_VNNI, DPBUSD_VNNI)
DEFINE_DOTS(avx512, EK_TARGET_AVX512, DPBUSD_BW)

/* ---- float dots (decode over f32 / f16 / bf16 weights) ------------------ */

EK_TARGET_AVX512 static AI __m512 load16(int dtype, const void *w, uint64_t i,
					 __mmask16 m)
{
	if (dtype == EK_F32)
		return _mm512_maskz_loadu_ps(m, (const float *)w + i);
	__m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)w + i);

	if (dtype == EK_F16)
		return _mm512_cvtph_ps(h);
	return _mm512_castsi512_ps(
		_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

#define DEFINE_DOT_F(DT)                                                     \
EK_TARGET_AVX512 static float dot_f_##DT(const void *w, const float *a,     \
					  uint64_t k)                         \
{                                                                            \
	__m512 acc[4] = { _mm512_setzero_ps(), _mm512_setzero_ps(),          \
			  _mm512_setzero_ps(), _mm512_setzero_ps() };        \
	uint64_t i = 0;                                                      \
                                                                             \
	for (; i + 64 <= k; i += 64)                                         \
		for (int u = 0; u < 4; u++)                                  \
			acc[u] = _mm512_fmadd_ps(                            \
				load16(DT, w, i + 16 * (uint64_t)u, 0xffff), \
				_mm512_loadu_ps(a + i + 16 * (uint64_t)u),   \
				acc[u]);                                     \
	for (; i < k; i += 16) {                                             \
		__mmask16 m = k - i >= 16 ? 0xffff :                         \
			      (__mmask16)((1u << (k - i)) - 1);              \
		acc[0] = _mm512_fmadd_ps(load16(DT, w, i, m),                \
					 _mm512_maskz_loadu_ps(m, a + i),    \
					 acc[0]);                            \
	}                                                                    \
	return _mm512_reduce_add_ps(_mm512_add_ps(                           \
		_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]))); \
}

DEFINE_DOT_F(EK_F32)
DEFINE_DOT_F(EK_F16)
DEFINE_DOT_F(EK_BF16)

static float dot_f_avx512(int dtype, const void *w, const float *a,
			  uint64_t k)
{
	switch (dtype) {
	case EK_F32:
		return dot_f_EK_F32(w, a, k);
	case EK_F16:
		return dot_f_EK_F16(w, a, k);
	case EK_BF16:
		return dot_f_EK_BF16(w, a, k);
	default:
		return ek_dot_f_portable(dtype, w, a, k);
	}
}

/* Four rows against one activation row (decode): one activation load
 * serves four rows, and each task streams four regions of W at once. */
#define DEFINE_DOT4_F(DT, ES)                                                \
EK_TARGET_AVX512 static void dot4_f_##DT(const void *const w[4], size_t pf, \
					 const float *a, uint64_t k,         \
					 float out[4])                        \
{                                                                            \
	__m512 acc[4][2];                                                    \
	uint64_t i = 0;                                                      \
                                                                             \
	for (int r = 0; r < 4; r++)                                          \
		acc[r][0] = acc[r][1] = _mm512_setzero_ps();                 \
	for (; i + 32 <= k; i += 32) {                                       \
		__m512 a0 = _mm512_loadu_ps(a + i);                          \
		__m512 a1 = _mm512_loadu_ps(a + i + 16);                     \
                                                                             \
		for (int r = 0; r < 4; r++) {                                \
			const char *q = (const char *)w[r] + i * (ES) + pf;  \
                                                                             \
			__builtin_prefetch(q, 0, 1);                         \
			if ((ES) == 4)                                       \
				__builtin_prefetch(q + 64, 0, 1);            \
			acc[r][0] = _mm512_fmadd_ps(                         \
				load16(DT, w[r], i, 0xffff), a0, acc[r][0]); \
			acc[r][1] = _mm512_fmadd_ps(                         \
				load16(DT, w[r], i + 16, 0xffff), a1,        \
				acc[r][1]);                                  \
		}                                                            \
	}                                                                    \
	for (; i < k; i += 16) {                                             \
		__mmask16 m = k - i >= 16 ? 0xffff :                         \
			      (__mmask16)((1u << (k - i)) - 1);              \
		__m512 a0 = _mm512_maskz_loadu_ps(m, a + i);                 \
                                                                             \
		for (int r = 0; r < 4; r++)                                  \
			acc[r][0] = _mm512_fmadd_ps(load16(DT, w[r], i, m),  \
						    a0, acc[r][0]);          \
	}                                                                    \
	for (int r = 0; r < 4; r++)                                          \
		out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc[r][0],       \
							    acc[r][1]));     \
}

DEFINE_DOT4_F(EK_F32, 4)
DEFINE_DOT4_F(EK_F16, 2)
DEFINE_DOT4_F(EK_BF16, 2)

static void dot4_f_avx512(int dtype, const void *const w[4], size_t pf,
			  const float *a, uint64_t k, float out[4])
{
	if (dtype == EK_F32)
		dot4_f_EK_F32(w, pf, a, k, out);
	else if (dtype == EK_F16)
		dot4_f_EK_F16(w, pf, a, k, out);
	else
		dot4_f_EK_BF16(w, pf, a, k, out);
}

/* ---- GEMM: 12 x 32 microkernel ----------------------------------------- */

#define MR 12
#define NR 32

EK_TARGET_AVX512 static void ukr_12x32(uint32_t kc, const float *ap,
				       const float *wp, float *c,
				       size_t c_stride, uint32_t mv,
				       uint32_t nv, bool load_c,
				       const float *bias)
{
	__mmask16 m0 = nv >= 16 ? 0xffff : (__mmask16)((1u << nv) - 1);
	__mmask16 m1 = nv >= 32 ? 0xffff :
		       nv > 16 ? (__mmask16)((1u << (nv - 16)) - 1) : 0;
	__m512 c0[MR], c1[MR];

#pragma GCC unroll 12
	for (int i = 0; i < MR; i++) {
		float *row = ek_ptr_add_mut(c, (size_t)i * c_stride);

		if (load_c && (uint32_t)i < mv) {
			c0[i] = _mm512_maskz_loadu_ps(m0, row);
			c1[i] = _mm512_maskz_loadu_ps(m1, row + 16);
		} else {
			c0[i] = _mm512_setzero_ps();
			c1[i] = _mm512_setzero_ps();
		}
	}
	for (uint32_t k = 0; k < kc; k++) {
		__m512 w0 = _mm512_load_ps(wp + (size_t)k * NR);
		__m512 w1 = _mm512_load_ps(wp + (size_t)k * NR + 16);

#pragma GCC unroll 12
		for (int i = 0; i < MR; i++) {
			__m512 av = _mm512_set1_ps(ap[(size_t)k * MR + i]);

			c0[i] = _mm512_fmadd_ps(av, w0, c0[i]);
			c1[i] = _mm512_fmadd_ps(av, w1, c1[i]);
		}
	}
	__m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();

	if (bias) {
		b0 = _mm512_maskz_loadu_ps(m0, bias);
		b1 = _mm512_maskz_loadu_ps(m1, bias + 16);
	}
#pragma GCC unroll 12
	for (int i = 0; i < MR; i++) {
		float *row = ek_ptr_add_mut(c, (size_t)i * c_stride);

		if ((uint32_t)i >= mv)
			break;
		if (bias) {
			c0[i] = _mm512_add_ps(c0[i], b0);
			c1[i] = _mm512_add_ps(c1[i], b1);
		}
		_mm512_mask_storeu_ps(row, m0, c0[i]);
		_mm512_mask_storeu_ps(row + 16, m1, c1[i]);
	}
}

/* wp[k][32]: rows n0.. of W, converted to f32 16 x 16 at a time */
EK_TARGET_AVX512 static void pack_w_avx512(const struct ek_matmul *p,
					   uint32_t n0, uint32_t nv,
					   uint32_t k0, uint32_t kc,
					   uint32_t nr, float *wp)
{
	int dt = p->w_dtype;
	size_t es = ek_elem_size(dt);

	for (uint32_t r0 = 0; r0 < nr; r0 += 16) {
		for (uint32_t kb = 0; kb < kc; kb += 16) {
			uint32_t kn = kc - kb < 16 ? kc - kb : 16;
			__mmask16 m = kn == 16 ? 0xffff :
				      (__mmask16)((1u << kn) - 1);
			__m512 r[16];

			for (uint32_t i = 0; i < 16; i++) {
				if (r0 + i >= nv) {
					r[i] = _mm512_setzero_ps();
					continue;
				}
				const void *w = ek_ptr_add(p->w,
					(size_t)(n0 + r0 + i) * p->w_stride +
					(size_t)(k0 + kb) * es);

				r[i] = load16(dt, w, 0, m);
			}
			ek_transpose16_512(r);
			for (uint32_t j = 0; j < kn; j++)
				_mm512_store_ps(wp + (size_t)(kb + j) * nr + r0,
						r[j]);
		}
	}
}

static size_t gemm_bytes_avx512(const struct ek_matmul *p);
static void gemm_avx512(const struct ek_matmul *p, void *buf, int i, int n);

static const struct ek_gemm_impl gemm_impl_avx512 = {
	.mr = MR,
	.nr = NR,
	.kc = 128,
	.mc = 768,
	.ukr = ukr_12x32,
	.pack_w = pack_w_avx512,
};

static size_t gemm_bytes_avx512(const struct ek_matmul *p)
{
	return ek_gemm_bytes(&gemm_impl_avx512, p);
}

static void gemm_avx512(const struct ek_matmul *p, void *buf, int i, int n)
{
	ek_gemm_run(&gemm_impl_avx512, p, buf, i, n);
}

const struct ek_mm_kernels ek_mm_kernels_avx512 = {
	.quantize = ek_q8_quantize_avx512,
	.dot_q8_0 = dot_q8_0_avx512,
	.dot_q4_0 = dot_q4_0_avx512,
	.dot4_q8_0 = dot4_q8_0_avx512,
	.dot4_q4_0 = dot4x4_q4_0_avx512,
	/* the other block types: AVX2's (VNNI's use vpdpbusd) */
	.dot_q4_1 = ek_dot_q4_1_avx2,
	.dot_q5_0 = ek_dot_q5_0_avx2,
	.dot_q5_1 = ek_dot_q5_1_avx2,
	.dot_q4_K = ek_dot_q4_K_avx2,
	.dot_q5_K = ek_dot_q5_K_avx2,
	.dot_q6_K = ek_dot_q6_K_avx2,
	.dot4_q4_K = ek_dot4_q4_K_avx2,
	.dot4_q5_K = ek_dot4_q5_K_avx2,
	.dot4_q6_K = ek_dot4_q6_K_avx2,
	.dot_f = dot_f_avx512,
	.dot4_f = dot4_f_avx512,
	.gemm_task_bytes = gemm_bytes_avx512,
	.gemm = gemm_avx512,
	.gemm_wt_bytes = ek_gemm_wt_bytes,
	.gemm_wt_pack = ek_gemm_wt_pack,
	.gemm_wt = ek_gemm_wt,
};

const struct ek_mm_kernels ek_mm_kernels_vnni = {
	.quantize = ek_q8_quantize_avx512,
	.dot_q8_0 = dot_q8_0_vnni,
	.dot_q4_0 = dot_q4_0_vnni,
	.dot4_q8_0 = dot4_q8_0_vnni,
	.dot4_q4_0 = dot4x4_q4_0_vnni,
	.tile_q8_0 = tile_q8_0,
	.tile_q4_0 = tile_q4_0,
	.dotx16_q8_0 = ek_dotx16_q8_0_vnni,
	.dotx16_q4_0 = ek_dotx16_q4_0_vnni,
	.tilex16_q8_0 = ek_tilex16_q8_0_vnni,
	.tilex16_q4_0 = ek_tilex16_q4_0_vnni,
	.x16_pack = ek_x16_pack_group_avx512,
	.dot_q4_1 = ek_dot_q4_1_vnni,
	.dot_q5_0 = ek_dot_q5_0_vnni,
	.dot_q5_1 = ek_dot_q5_1_vnni,
	.dot_q4_K = ek_dot_q4_K_vnni,
	.dot_q5_K = ek_dot_q5_K_vnni,
	.dot_q6_K = ek_dot_q6_K_vnni,
	.dot4_q4_1 = ek_dot4_q4_1_vnni,
	.dot4_q5_0 = ek_dot4_q5_0_vnni,
	.dot4_q5_1 = ek_dot4_q5_1_vnni,
	.dot4_q4_K = ek_dot4_q4_K_vnni,
	.dot4_q5_K = ek_dot4_q5_K_vnni,
	.dot4_q6_K = ek_dot4_q6_K_vnni,
	.dot_f = dot_f_avx512,
	.dot4_f = dot4_f_avx512,
	.gemm_task_bytes = gemm_bytes_avx512,
	.gemm = gemm_avx512,
	.gemm_wt_bytes = ek_gemm_wt_bytes,
	.gemm_wt_pack = ek_gemm_wt_pack,
	.gemm_wt = ek_gemm_wt,
};

#endif /* EK_X86 */
