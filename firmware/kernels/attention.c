/* SPDX-License-Identifier: MIT */
/*
 * Causal GQA attention with online softmax. A work item is one token with
 * all its heads when they fit a unit (groups of <= EK_ATTN_HEADS heads,
 * heads x head_dim <= EK_ATTN_ACC): then every cache row is read whole and
 * in order, once. Otherwise items are (token, KV group, up to
 * EK_ATTN_HEADS heads). When there are few items (decode), the positions
 * of each item are split in parts whose partial (max, sum, accumulator)
 * are merged afterwards, so a long cache still uses every thread.
 */
#include <float.h>
#include <math.h>

#include "attention.h"

/* Most parts an item is split into (bounded: partials live on the stack
 * of the calling thread). */
#define ATTN_MAX_SPLIT EK_ATTN_MAX_PARTS
/* Positions per part of a decode, at least: shorter caches are one part
 * (and two threads split heads), longer ones are read once in parts. */
#define ATTN_PART_POS 128

typedef void (*attn_part_fn)(const struct ek_attention *p,
			     struct ek_attn_part *w);

struct attn_job {
	const struct ek_attention *p;
	attn_part_fn part;
	bool whole;		/* an item is a whole token */
	uint32_t hchunks;	/* head chunks per KV group (!whole) */
	uint32_t items;		/* n_tok, or n_tok * n_kv_head * hchunks */
	uint32_t split;		/* parts per item (1: no split) */
	struct ek_attn_part *parts;	/* [items * split] when split > 1 */
};

static void attn_item(const struct attn_job *jb, uint32_t item,
		      struct ek_attn_part *w, uint32_t part, uint32_t nparts)
{
	const struct ek_attention *p = jb->p;
	uint32_t group = p->n_head / p->n_kv_head;
	uint32_t t, npos;

	if (jb->whole) {
		t = item;
		w->h0 = 0;
		w->h1 = p->n_head;
	} else {
		uint32_t hc = item % jb->hchunks;
		uint32_t g = (item / jb->hchunks) % p->n_kv_head;

		t = item / jb->hchunks / p->n_kv_head;
		w->h0 = g * group + hc * EK_ATTN_HEADS;
		w->h1 = w->h0 + EK_ATTN_HEADS;
		if (w->h1 > (g + 1) * group)
			w->h1 = (g + 1) * group;
	}
	npos = p->n_past + t + 1;
	w->t = t;
	/* split positions on tile boundaries */
	uint64_t b, e;

	ek_split(npos, EK_ATTN_TILE, (int)part, (int)nparts, &b, &e);
	w->j0 = (uint32_t)b;
	w->j1 = (uint32_t)e;
	jb->part(p, w);
}

static void attn_write(const struct ek_attention *p,
		       const struct ek_attn_part *w)
{
	for (uint32_t h = w->h0; h < w->h1; h++) {
		float *o = ek_ptr_add_mut(p->out, (size_t)w->t * p->out_stride +
					  (size_t)h * p->head_dim * 4);
		const float *a = w->acc + (size_t)(h - w->h0) * p->head_dim;
		float inv = w->s[h - w->h0] > 0.0f ? 1.0f / w->s[h - w->h0] : 0.0f;

		for (uint32_t d = 0; d < p->head_dim; d++)
			o[d] = a[d] * inv;
	}
}

static void attn_task(void *arg, int i, int n)
{
	const struct attn_job *jb = arg;
	struct ek_attn_part w;
	uint64_t b, e;

	ek_split(jb->items, 1, i, n, &b, &e);
	for (uint64_t it = b; it < e; it++) {
		attn_item(jb, (uint32_t)it, &w, 0, 1);
		attn_write(jb->p, &w);
	}
}

static void attn_split_task(void *arg, int i, int n)
{
	const struct attn_job *jb = arg;
	uint64_t b, e;

	ek_split((uint64_t)jb->items * jb->split, 1, i, n, &b, &e);
	for (uint64_t x = b; x < e; x++)
		attn_item(jb, (uint32_t)(x / jb->split), &jb->parts[x],
			  (uint32_t)(x % jb->split), jb->split);
}

/* Fold the parts of one item into the first and write it out (in part
 * order: the sums do not depend on who computed the parts). */
static void attn_merge(const struct ek_attention *p, struct ek_attn_part *w,
		       uint32_t nparts)
{
	uint32_t nh = w[0].h1 - w[0].h0;

	for (uint32_t h = 0; h < nh; h++) {
		float m = -FLT_MAX;

		for (uint32_t k = 0; k < nparts; k++)
			if (w[k].j1 > w[k].j0 && w[k].m[h] > m)
				m = w[k].m[h];
		float s = 0.0f;
		float *acc = w[0].acc + (size_t)h * p->head_dim;
		float r0 = w[0].j1 > w[0].j0 ? expf(w[0].m[h] - m) : 0.0f;

		for (uint32_t d = 0; d < p->head_dim; d++)
			acc[d] *= r0;
		s = w[0].s[h] * r0;
		for (uint32_t k = 1; k < nparts; k++) {
			if (w[k].j1 <= w[k].j0)
				continue;
			float r = expf(w[k].m[h] - m);

			for (uint32_t d = 0; d < p->head_dim; d++)
				acc[d] += w[k].acc[(size_t)h * p->head_dim + d] * r;
			s += w[k].s[h] * r;
		}
		w[0].s[h] = s;
		w[0].m[h] = m;
	}
	attn_write(p, &w[0]);
}

static attn_part_fn attn_pick(int isa)
{
#if EK_X86
	if (isa >= EK_ISA_AVX512)
		return ek_attn_part_avx512;
	if (isa >= EK_ISA_AVX2)
		return ek_attn_part_avx2;
#endif
	(void)isa;
	return ek_attn_part_portable;
}

static bool attn_valid(const struct ek_attention *p)
{
	return p && p->q && p->k && p->v && p->out && p->n_tok &&
	       p->n_head && p->n_kv_head && !(p->n_head % p->n_kv_head) &&
	       p->head_dim && p->head_dim <= EK_MAX_HEAD_DIM &&
	       (p->kv_dtype == EK_F32 || p->kv_dtype == EK_F16 ||
		(p->kv_dtype == EK_Q8_0 && p->head_dim % EK_QK == 0)) &&
	       (p->k_layout == EK_KV_ROWS || p->k_layout == EK_KV_KT16);
}

/* The work items of p, and the parts of each: a decode's positions are
 * split by its shape alone, never by the threads, so that its output is
 * the same on any executor. */
static void attn_plan(const struct ek_attention *p, struct attn_job *jb)
{
	uint32_t n = (p->n_past + 1) / ATTN_PART_POS;

	jb->p = p;
	jb->part = attn_pick(ek_isa());
	jb->hchunks = (p->n_head / p->n_kv_head + EK_ATTN_HEADS - 1) /
		      EK_ATTN_HEADS;
	jb->whole = p->n_head / p->n_kv_head <= EK_ATTN_HEADS &&
		    p->n_head <= EK_ATTN_MAX_HEADS &&
		    (size_t)p->n_head * p->head_dim <= EK_ATTN_ACC;
	jb->items = jb->whole ? p->n_tok : p->n_tok * p->n_kv_head * jb->hchunks;
	jb->split = 1;
	jb->parts = NULL;
	if (p->n_tok == 1 && n >= 2 && ATTN_MAX_SPLIT / jb->items >= 2)
		jb->split = n < ATTN_MAX_SPLIT / jb->items ? n :
			    ATTN_MAX_SPLIT / jb->items;
}

void ek_attention(const struct ek_exec *ex, const struct ek_attention *p)
{
	struct attn_job jb;

	if (!attn_valid(p))
		return;
	attn_plan(p, &jb);
	if (jb.split > 1) {
		struct ek_attn_part parts[ATTN_MAX_SPLIT];

		jb.parts = parts;
		ek_run(ex, attn_split_task, &jb, (int)(jb.items * jb.split));
		for (uint32_t it = 0; it < jb.items; it++)
			attn_merge(p, &parts[it * jb.split], jb.split);
		return;
	}
	ek_run(ex, attn_task, &jb, ek_ntasks(ex, jb.items));
}

static bool attn_decode(const struct ek_attention *p)
{
	return attn_valid(p) && p->n_tok == 1;
}

uint32_t ek_attention_parts(const struct ek_attention *p)
{
	struct attn_job jb;

	if (!attn_decode(p))
		return 1;
	attn_plan(p, &jb);
	return jb.split;
}

uint32_t ek_attention_blocks(const struct ek_attention *p)
{
	uint32_t grp;

	if (!attn_decode(p))
		return 0;
	grp = p->n_head / p->n_kv_head;
	return p->n_kv_head * ((grp + EK_ATTN_HEADS - 1) / EK_ATTN_HEADS);
}

size_t ek_attention_partial_size(void)
{
	return sizeof(struct ek_attn_part);
}

/* Block c over part k: what an item of ek_attention computes for those
 * heads (a tile's work per group does not depend on the item's other
 * groups). */
bool ek_attention_part(const struct ek_attention *p, uint32_t c, uint32_t k,
		       void *partial)
{
	struct ek_attn_part *w = partial;
	uint32_t n = ek_attention_parts(p), grp, chunks, g;
	uint64_t b, e;

	if (c >= ek_attention_blocks(p) || k >= n || !w)
		return false;
	grp = p->n_head / p->n_kv_head;
	chunks = (grp + EK_ATTN_HEADS - 1) / EK_ATTN_HEADS;
	g = c / chunks;
	w->t = 0;
	w->h0 = g * grp + c % chunks * EK_ATTN_HEADS;
	w->h1 = w->h0 + EK_ATTN_HEADS < (g + 1) * grp ? w->h0 + EK_ATTN_HEADS :
							(g + 1) * grp;
	ek_split(p->n_past + 1, EK_ATTN_TILE, (int)k, (int)n, &b, &e);
	w->j0 = (uint32_t)b;
	w->j1 = (uint32_t)e;
	attn_pick(ek_isa())(p, w);
	return true;
}

bool ek_attention_merge(const struct ek_attention *p, uint32_t c,
			void *partials)
{
	struct ek_attn_part *w = partials;

	if (c >= ek_attention_blocks(p) || !w)
		return false;
	attn_merge(p, w, ek_attention_parts(p));
	return true;
}

/* ---- portable path ----------------------------------------------------- */

/* Elements 0, step, 2 step, ... of src to f32 (Q8_0: a row, step 1). */
static void load_row(const struct ek_attention *p, const void *src,
		     size_t step, float *dst)
{
	if (p->kv_dtype == EK_Q8_0) {	/* rows only: whole blocks */
		ek_dequantize_row(EK_Q8_0, src, dst, p->head_dim);
		return;
	}
	for (uint32_t d = 0; d < p->head_dim; d++)
		dst[d] = p->kv_dtype == EK_F32 ?
			 ((const float *)src)[d * step] :
			 ek_f16_to_f32(((const uint16_t *)src)[d * step]);
}

/* Lane l of a Q8_0 KT16 tile's blocks, from the group's first. */
static void load_kt16_q8(const struct ek_attention *p, const char *tile,
			 uint32_t l, float *dst)
{
	for (uint32_t b = 0; b < p->head_dim / EK_QK; b++) {
		const char *blk = tile + (size_t)b * EK_KV_Q8_TILE_BLOCK;
		uint16_t h;

		memcpy(&h, blk + EK_KV_Q8_SCALES + l * sizeof(h), sizeof(h));
		for (uint32_t c = 0; c < EK_QK; c++)
			dst[b * EK_QK + c] = ek_f16_to_f32(h) * (float)
				((int)(uint8_t)blk[ek_kv_q8_byte(c, l)] - 128);
	}
}

static void load_k(const struct ek_attention *p, uint32_t j, uint32_t g,
		   float *dst)
{
	const char *tile;

	if (p->k_layout != EK_KV_KT16) {
		load_row(p, ek_attn_kv(p, p->k, j, g), 1, dst);
		return;
	}
	tile = ek_attn_kt16(p, j - j % EK_KV_TILE, g);
	if (p->kv_dtype == EK_Q8_0)
		load_kt16_q8(p, tile, j % EK_KV_TILE, dst);
	else
		load_row(p, tile + j % EK_KV_TILE * ek_elem_size(p->kv_dtype),
			 EK_KV_TILE, dst);
}

void ek_attn_part_portable(const struct ek_attention *p,
			   struct ek_attn_part *w)
{
	const uint32_t hd = p->head_dim, grp = p->n_head / p->n_kv_head;
	float row[EK_MAX_HEAD_DIM];
	float sc[EK_ATTN_HEADS][EK_ATTN_TILE];

	for (uint32_t h = 0; h < w->h1 - w->h0; h++) {
		w->m[h] = -FLT_MAX;
		w->s[h] = 0.0f;
	}
	memset(w->acc, 0, (size_t)(w->h1 - w->h0) * hd * sizeof(float));
	for (uint32_t j0 = w->j0; j0 < w->j1; j0 += EK_ATTN_TILE) {
		uint32_t nj = w->j1 - j0 < EK_ATTN_TILE ? w->j1 - j0 :
							  EK_ATTN_TILE;

		for (uint32_t g = w->h0 / grp; g * grp < w->h1; g++) {
			uint32_t ha, hb;

			ek_attn_group_heads(p, w, g, &ha, &hb);
			uint32_t nh = hb - ha, base = ha - w->h0;

			for (uint32_t j = 0; j < nj; j++) {
				load_k(p, j0 + j, g, row);
				for (uint32_t h = 0; h < nh; h++) {
					const float *q = ek_attn_q(p, w->t, ha + h);
					float s = 0.0f;

					for (uint32_t d = 0; d < hd; d++)
						s += q[d] * row[d];
					sc[h][j] = s * p->scale;
				}
			}
			for (uint32_t h = 0; h < nh; h++) {
				float *acc = w->acc + (size_t)(base + h) * hd;
				float m = w->m[base + h];

				for (uint32_t j = 0; j < nj; j++)
					m = fmaxf(m, sc[h][j]);
				float r = expf(w->m[base + h] - m);

				w->s[base + h] *= r;
				for (uint32_t d = 0; d < hd; d++)
					acc[d] *= r;
				w->m[base + h] = m;
				for (uint32_t j = 0; j < nj; j++) {
					sc[h][j] = expf(sc[h][j] - m);
					w->s[base + h] += sc[h][j];
				}
			}
			for (uint32_t j = 0; j < nj; j++) {
				load_row(p, ek_attn_kv(p, p->v, j0 + j, g), 1, row);
				for (uint32_t h = 0; h < nh; h++) {
					float *acc = w->acc + (size_t)(base + h) * hd;
					float pj = sc[h][j];

					for (uint32_t d = 0; d < hd; d++)
						acc[d] += pj * row[d];
				}
			}
		}
	}
}
