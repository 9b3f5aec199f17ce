/* SPDX-License-Identifier: MIT */
/* Shared pieces of the attention paths. */
#ifndef EK_ATTENTION_H
#define EK_ATTENTION_H

#include "ek_internal.h"

/* Positions scored together before one online-softmax rescale (portable
 * path; the AVX-512 path uses 16). */
#define EK_ATTN_TILE 32
/* Query heads of one KV group processed together (each KV row is read
 * once for all of them). */
#define EK_ATTN_HEADS EK_ATTN_BLOCK_HEADS
/* Accumulator floats of one unit of work (heads x head_dim). */
#define EK_ATTN_ACC (EK_ATTN_HEADS * EK_MAX_HEAD_DIM)
#define EK_ATTN_MAX_HEADS 128
/* One Q8_0 block of a KT16 tile (ember/kernels.h): 16 positions' 32
 * values, four columns of a lane together (64-byte chunks of four
 * columns), then the 16 lanes' f16 scales; its bytes in all. */
#define EK_KV_Q8_SCALES (EK_QK * EK_KV_TILE)
#define EK_KV_Q8_TILE_BLOCK (EK_KV_Q8_SCALES + 2 * EK_KV_TILE)

/* The byte of column c (< 32) of lane l in such a block. */
static inline size_t ek_kv_q8_byte(uint32_t c, uint32_t l)
{
	return (size_t)c / 4 * (4 * EK_KV_TILE) + l * 4 + c % 4;
}

/*
 * One unit of work: token t, query heads [h0, h1) over positions [j0, j1).
 * The heads may span several KV groups (then every cache row is read
 * whole, in order: decode streams the cache); each group has at most
 * EK_ATTN_HEADS heads in the unit. Leaves the running max m[], sum s[] and
 * the unnormalised accumulator acc[(h - h0) * head_dim + d].
 */
struct ek_attn_part {
	uint32_t t, h0, h1, j0, j1;
	float m[EK_ATTN_MAX_HEADS];
	float s[EK_ATTN_MAX_HEADS];
	float acc[EK_ATTN_ACC];
};

void ek_attn_part_portable(const struct ek_attention *p,
			   struct ek_attn_part *w);
#if EK_X86
void ek_attn_part_avx512(const struct ek_attention *p,
			 struct ek_attn_part *w);
void ek_attn_part_avx2(const struct ek_attention *p, struct ek_attn_part *w);
#endif

static inline const float *ek_attn_q(const struct ek_attention *p,
				     uint32_t t, uint32_t h)
{
	return ek_ptr_add(p->q, (size_t)t * p->q_stride +
			  (size_t)h * p->head_dim * sizeof(float));
}

/* Row j of a ROWS cache (V; K when k_layout is EK_KV_ROWS), at group g. */
static inline const void *ek_attn_kv(const struct ek_attention *p,
				     const void *base, uint32_t j, uint32_t g)
{
	return ek_ptr_add(base, (size_t)j * p->kv_stride +
			  ek_row_size(p->kv_dtype, (uint64_t)g * p->head_dim));
}

/* A KT16 K cache: the tile of position j (a multiple of 16), from dim 0 of
 * group g; dim d of its 16 positions is at 16 d elements on (Q8_0: in
 * block d / 32, ember/kernels.h). */
static inline const void *ek_attn_kt16(const struct ek_attention *p,
				       uint32_t j, uint32_t g)
{
	return ek_ptr_add(p->k, (size_t)j * p->kv_stride +
			  ek_kv_col_offset(EK_KV_KT16, p->kv_dtype,
					   g * p->head_dim));
}

/* Does the attention path of this ISA level read KT16 tiles natively?
 * (the portable one gathers them) */
static inline bool ek_attn_kt16_native(int isa)
{
	return EK_X86 && isa >= EK_ISA_AVX512;
}

/* Heads of group g that are in [h0, h1): [*a, *b). */
static inline void ek_attn_group_heads(const struct ek_attention *p,
				       const struct ek_attn_part *w,
				       uint32_t g, uint32_t *a, uint32_t *b)
{
	uint32_t grp = p->n_head / p->n_kv_head;

	*a = g * grp > w->h0 ? g * grp : w->h0;
	*b = (g + 1) * grp < w->h1 ? (g + 1) * grp : w->h1;
}

#endif /* EK_ATTENTION_H */
