/* SPDX-License-Identifier: MIT */
/*
 * AVX2 dots of the block types beyond Q8_0 / Q4_0 (Q4_1, Q5_0, Q5_1 and
 * the K-quants Q4_K, Q5_K, Q6_K) with 8-bit activations. The weight
 * quants are unsigned (at most 6 bits), so vpmaddubsw cannot saturate
 * (2 x 63 x 127 < 2^15) and the integer sums are exact; they are scaled in
 * float per block of activations (whose scales differ every 32 values).
 * A type's min meets the activations through their block sums. dot4 (the
 * K-quants, for decode) shares the activation work among four rows.
 */
#include "matmul_blocks_x86.h"
#include "matmul_kernels.h"

#if EK_X86
#include <immintrin.h>

#define AI __attribute__((always_inline)) inline

EK_TARGET_AVX2 static AI float f16(const void *p)
{
	uint16_t h;

	memcpy(&h, p, sizeof(h));
	return _cvtsh_ss(h);
}

/* unsigned w x signed a, 32 bytes, to 8 int32 sums of four */
EK_TARGET_AVX2 static AI __m256i dot_u8s8(__m256i w, __m256i a)
{
	return _mm256_madd_epi16(_mm256_maddubs_epi16(w, a),
				 _mm256_set1_epi16(1));
}

EK_TARGET_AVX2 static AI __m256i load32(const void *p)
{
	return _mm256_loadu_si256((const __m256i *)p);
}

/* Lane j of v in all eight lanes. */
EK_TARGET_AVX2 static AI __m256 lane(__m256 v, int j)
{
	return _mm256_permutevar8x32_ps(v, _mm256_set1_epi32(j));
}

/* ---- K-quants ----------------------------------------------------------- */

/* A super-block of activations as every row uses it. */
struct k_act {
	const int8_t *q;	/* its 256 bytes */
	__m256 da, nds;		/* d_a j, -d_a j sum_a j */
	__m256i c32[8];		/* Q6_K: vpmaddubsw of 32 and block j */
};

EK_TARGET_AVX2 static AI void k_act_load(int dtype, const struct ek_q8_row *a,
					 uint64_t blk, struct k_act *x)
{
	x->q = a->qs + blk * EK_QK;
	x->da = _mm256_loadu_ps(a->d + blk);
	if (dtype == EK_Q6_K) {
		for (int j = 0; j < 8; j++)
			x->c32[j] = _mm256_maddubs_epi16(_mm256_set1_epi8(32),
				load32(x->q + EK_QK * j));
		return;
	}
	x->nds = _mm256_mul_ps(x->da, _mm256_sub_ps(_mm256_setzero_ps(),
		_mm256_cvtepi32_ps(load32(a->sum + blk))));
}

/* Bit j of each byte of h at bit 4, the rest cleared (16-bit shifts move
 * bits across bytes only outside the mask). */
EK_TARGET_AVX2 static AI __m256i bit_to_16(__m256i h, int j)
{
	__m256i x = j < 4 ? _mm256_slli_epi16(h, 4 - j) :
		    _mm256_srli_epi16(h, j - 4);

	return _mm256_and_si256(x, _mm256_set1_epi8(16));
}

/* Q4_K / Q5_K super-block: sub-blocks 2p, 2p + 1 are the low and high
 * nibbles of qs[32p..]; d sc_j d_a j scales sub-block j's sums. */
EK_TARGET_AVX2 static AI __m256 kq_step(const void *blk, const uint8_t *scales,
					const uint8_t *qs, const uint8_t *qh,
					const struct k_act *x, __m256 acc)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	uint32_t dm;

	memcpy(&dm, blk, sizeof(dm));	/* f16 d, dmin */
	__m128 dd = _mm_cvtph_ps(_mm_cvtsi32_si128((int)dm));
	__m128i smb = ek_k_scale_min_bytes(scales);
	__m256 sc = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(smb));
	__m256 mn = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(
		_mm_srli_si128(smb, 8)));
	__m256 c = _mm256_mul_ps(_mm256_mul_ps(sc, _mm256_broadcastss_ps(dd)),
				 x->da);
	__m256i hb = qh ? load32(qh) : _mm256_setzero_si256();

	acc = _mm256_fmadd_ps(_mm256_mul_ps(mn, _mm256_broadcastss_ps(
		_mm_movehdup_ps(dd))), x->nds, acc);
	for (int p = 0; p < 4; p++) {
		__m256i v = load32(qs + 32 * p);
		__m256i lo = _mm256_and_si256(v, m4);
		__m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);

		if (qh) {
			lo = _mm256_or_si256(lo, bit_to_16(hb, 2 * p));
			hi = _mm256_or_si256(hi, bit_to_16(hb, 2 * p + 1));
		}
		acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8s8(lo,
			load32(x->q + EK_QK * 2 * p))), lane(c, 2 * p), acc);
		acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8s8(hi,
			load32(x->q + EK_QK * (2 * p + 1)))),
			lane(c, 2 * p + 1), acc);
	}
	return acc;
}

/*
 * Q6_K super-block: activation block j = 4h + i is quarter i of half h;
 * its sub-blocks 2j, 2j + 1 (16 quants each) take their int8 scales in
 * vpmaddwd, after the -32 offset (x->c32) in 16 bits:
 * |sum of two (q - 32) a| <= 8128.
 */
EK_TARGET_AVX2 static AI __m256 k6_step(const struct ek_block_q6_K *b,
					const struct k_act *x, __m256 acc)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	const __m256i m2 = _mm256_set1_epi8(0x30);
	/* words [0 1] x 8 | [2 3] x 8 of each lane, + 4i: words 2i, 2i + 1 */
	const __m256i pick = _mm256_set_m128i(_mm_set1_epi16(0x0302),
					      _mm_set1_epi16(0x0100));
	__m256i sw = _mm256_cvtepi8_epi16(_mm_loadu_si128(
		(const __m128i *)b->scales));
	__m256 c = _mm256_mul_ps(x->da, _mm256_set1_ps(f16(&b->d)));

	for (int h = 0; h < 2; h++) {
		__m256i v0 = load32(b->ql + 64 * h);
		__m256i v1 = load32(b->ql + 64 * h + 32);
		__m256i hb = load32(b->qh + 32 * h);
		__m256i q[4] = {
			_mm256_or_si256(_mm256_and_si256(v0, m4),
				_mm256_and_si256(_mm256_slli_epi16(hb, 4), m2)),
			_mm256_or_si256(_mm256_and_si256(v1, m4),
				_mm256_and_si256(_mm256_slli_epi16(hb, 2), m2)),
			_mm256_or_si256(_mm256_and_si256(
				_mm256_srli_epi16(v0, 4), m4),
				_mm256_and_si256(hb, m2)),
			_mm256_or_si256(_mm256_and_si256(
				_mm256_srli_epi16(v1, 4), m4),
				_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2)),
		};
		/* the scales of sub-blocks 8h..8h + 7 in both lanes */
		__m256i swh = h ? _mm256_permute4x64_epi64(sw, 0xee) :
				  _mm256_permute4x64_epi64(sw, 0x44);

		for (int i = 0; i < 4; i++) {
			int j = 4 * h + i;
			__m256i s = _mm256_shuffle_epi8(swh, _mm256_add_epi8(
				pick, _mm256_set1_epi8((char)(4 * i))));
			__m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q[i],
				load32(x->q + EK_QK * j)), x->c32[j]);

			acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(
				_mm256_madd_epi16(p, s)), lane(c, j), acc);
		}
	}
	return acc;
}

EK_TARGET_AVX2 static AI size_t k_size(int dtype)
{
	return dtype == EK_Q4_K ? sizeof(struct ek_block_q4_K) :
	       dtype == EK_Q5_K ? sizeof(struct ek_block_q5_K) :
				  sizeof(struct ek_block_q6_K);
}

EK_TARGET_AVX2 static AI __m256 k_step(int dtype, const void *blk,
				       const struct k_act *x, __m256 acc)
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

EK_TARGET_AVX2 static AI float k_dot(int dtype, const void *w,
				     const struct ek_q8_row *a, uint64_t nb)
{
	size_t bs = k_size(dtype);
	__m256 acc = _mm256_setzero_ps();

	for (uint64_t i = 0; i < nb / 8; i++) {
		struct k_act x;

		k_act_load(dtype, a, 8 * i, &x);
		acc = k_step(dtype, ek_ptr_add(w, i * bs), &x, acc);
	}
	return ek_hsum8(acc);
}

/* The rows' sums are dot's, each row on its own accumulator. */
EK_TARGET_AVX2 static AI void k_dot4(int dtype, const void *const w[4],
				     size_t pf, const struct ek_q8_row *a,
				     uint64_t nb, float out[4])
{
	size_t bs = k_size(dtype);
	__m256 acc[4];

	for (int r = 0; r < 4; r++)
		acc[r] = _mm256_setzero_ps();
	for (uint64_t i = 0; i < nb / 8; i++) {
		struct k_act x;

		k_act_load(dtype, a, 8 * i, &x);
		for (int r = 0; r < 4; r++) {
			const char *blk = ek_ptr_add(w[r], i * bs);

			for (size_t o = 0; o < bs; o += 64)
				ek_prefetch_l2(blk + pf + o);
			acc[r] = k_step(dtype, blk, &x, acc[r]);
		}
	}
	for (int r = 0; r < 4; r++)
		out[r] = ek_hsum8(acc[r]);
}

#define DEFINE_K(T, DT)                                                      \
EK_TARGET_AVX2 float ek_dot_##T##_avx2(const void *w,                        \
				       const struct ek_q8_row *a, uint64_t nb) \
{                                                                            \
	return k_dot(DT, w, a, nb);                                          \
}                                                                            \
EK_TARGET_AVX2 void ek_dot4_##T##_avx2(const void *const w[4], size_t pf,    \
				       const struct ek_q8_row *a, uint64_t nb, \
				       float out[4])                          \
{                                                                            \
	k_dot4(DT, w, pf, a, nb, out);                                       \
}

DEFINE_K(q4_K, EK_Q4_K)
DEFINE_K(q5_K, EK_Q5_K)
DEFINE_K(q6_K, EK_Q6_K)

/* ---- Q4_1, Q5_0, Q5_1: a block of 32 per vector ------------------------- */

/* 0x10 in byte j where bit j of h is set */
EK_TARGET_AVX2 static AI __m256i bits_16(uint32_t h)
{
	const __m256i spread = _mm256_setr_epi64x(0, 0x0101010101010101LL,
						  0x0202020202020202LL,
						  0x0303030303030303LL);
	const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
	__m256i x = _mm256_shuffle_epi8(_mm256_set1_epi32((int)h), spread);

	x = _mm256_cmpeq_epi8(_mm256_and_si256(x, bit), bit);
	return _mm256_and_si256(x, _mm256_set1_epi8(16));
}

/*
 * d_a (d q . a + m sum_a) per block (Q4_1 / Q5_1; Q5_0: m = -16 d, the
 * offset of its quants), the second terms summed apart in scalars.
 */
EK_TARGET_AVX2 static AI float s_dot(const void *w, const struct ek_q8_row *a,
				     uint64_t nb, size_t size, size_t m,
				     size_t qh, size_t qs, bool off16)
{
	const uint8_t *b = w;
	const __m128i m4 = _mm_set1_epi8(0x0f);
	__m256 acc = _mm256_setzero_ps();
	float sm = 0.0f;

	for (uint64_t i = 0; i < nb; i++, b += size) {
		__m128i x = _mm_loadu_si128((const __m128i *)(b + qs));
		__m256i q = _mm256_set_m128i(
			_mm_and_si128(_mm_srli_epi16(x, 4), m4),
			_mm_and_si128(x, m4));
		float s = f16(b) * a->d[i];

		if (qh) {
			uint32_t h;

			memcpy(&h, b + qh, sizeof(h));
			q = _mm256_or_si256(q, bits_16(h));
		}
		acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8s8(q,
			load32(a->qs + i * EK_QK))), _mm256_set1_ps(s), acc);
		if (off16)
			sm += s * (float)(-16 * a->sum[i]);
		else
			sm += f16(b + m) * a->d[i] * (float)a->sum[i];
	}
	return ek_hsum8(acc) + sm;
}

EK_TARGET_AVX2 float ek_dot_q4_1_avx2(const void *w, const struct ek_q8_row *a,
				      uint64_t nb)
{
	return s_dot(w, a, nb, sizeof(struct ek_block_q4_1),
		     offsetof(struct ek_block_q4_1, m), 0,
		     offsetof(struct ek_block_q4_1, qs), false);
}

EK_TARGET_AVX2 float ek_dot_q5_0_avx2(const void *w, const struct ek_q8_row *a,
				      uint64_t nb)
{
	return s_dot(w, a, nb, sizeof(struct ek_block_q5_0), 0,
		     offsetof(struct ek_block_q5_0, qh),
		     offsetof(struct ek_block_q5_0, qs), true);
}

EK_TARGET_AVX2 float ek_dot_q5_1_avx2(const void *w, const struct ek_q8_row *a,
				      uint64_t nb)
{
	return s_dot(w, a, nb, sizeof(struct ek_block_q5_1),
		     offsetof(struct ek_block_q5_1, m),
		     offsetof(struct ek_block_q5_1, qh),
		     offsetof(struct ek_block_q5_1, qs), false);
}

#endif /* EK_X86 */
