/* SPDX-License-Identifier: MIT */
/*
 * The ops of each forward-pass step as an Ember command stream (uapi
 * structs), the same computation as the CPU backend's steps:
 *   EMBED   a COPY (dequantizing) of each token's embedding row into x
 *   ATTN    RMSNORM x -> xb; MATMUL xb -> q, k, v (+ bias); ATTENTION with
 *           APPEND_KV | ROPE (K, V into the cache, Q rotated on the device)
 *           -> att; MATMUL att -> x, accumulating (the residual add)
 *   FFN     RMSNORM x -> xb; MATMUL xb -> hb, hb2; SWIGLU -> hb3;
 *           MATMUL hb3 -> x, accumulating
 *   OUTPUT  RMSNORM of the last row -> xb; MATMUL xb -> logits
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <drm/ember_accel.h>

#include "npu.h"

struct writer {
	uint8_t *buf;
	uint32_t cap, used;
};

/* Room for an op of @size bytes, zeroed with its header filled. */
static void *op_new(struct writer *w, uint16_t opcode, uint16_t size, uint32_t flags)
{
	struct ember_op_hdr *h;

	if (w->cap - w->used < size)
		return NULL;
	h = (struct ember_op_hdr *)(w->buf + w->used);
	memset(h, 0, size);
	h->opcode = opcode;
	h->size = size;
	h->flags = flags;
	w->used += size;
	return h;
}

#define OP(w, type, opcode, flags) \
	((struct type *)op_new(w, opcode, sizeof(struct type), flags))

static int rmsnorm(struct writer *w, uint32_t rows, uint32_t dim, float eps,
		   uint64_t x, uint64_t weight, uint64_t out)
{
	struct ember_op_rmsnorm *op = OP(w, ember_op_rmsnorm, EMBER_OP_RMSNORM,
					 EMBER_RMSNORM_WEIGHT);

	if (!op)
		return -ENOSPC;
	op->rows = rows;
	op->dim = dim;
	op->eps = eps;
	op->x_va = x;
	op->x_stride = (uint64_t)dim * 4;
	op->w_va = weight;
	op->out_va = out;
	op->out_stride = (uint64_t)dim * 4;
	return 0;
}

/* C[m][n] (+)= A[m][k] W[n][k]^T (+ bias): A and C packed f32 rows. */
static int matmul(struct writer *w, uint32_t m, uint32_t n, uint32_t k,
		  const struct npu_weight_desc *wd, uint64_t a, uint64_t wva,
		  uint64_t bias, uint64_t c, bool accumulate)
{
	uint32_t flags = (accumulate ? EMBER_MATMUL_ACCUMULATE : 0) |
			 (bias ? EMBER_MATMUL_BIAS : 0) |
			 (wd->x16 ? EMBER_MATMUL_W_X16 : 0);
	struct ember_op_matmul *op = OP(w, ember_op_matmul, EMBER_OP_MATMUL, flags);

	if (!op)
		return -ENOSPC;
	op->m = m;
	op->n = n;
	op->k = k;
	op->w_dtype = (uint8_t)wd->dtype;
	op->a_dtype = EMBER_DTYPE_F32;
	op->c_dtype = EMBER_DTYPE_F32;
	op->a_va = a;
	op->w_va = wva;
	op->c_va = c;
	op->bias_va = bias;
	op->a_stride = (uint64_t)k * 4;
	op->w_stride = wd->stride;
	op->c_stride = (uint64_t)n * 4;
	return 0;
}

static int embed(const struct npu_map *mp, const struct step *s, struct writer *w)
{
	uint32_t d = mp->in->n_embd;

	for (uint32_t t = 0; t < s->n_tok; t++) {
		struct ember_op_copy *op = OP(w, ember_op_copy, EMBER_OP_COPY, 0);
		int32_t id = s->tokens[t];

		if (!op)
			return -ENOSPC;
		if (id < 0 || (uint32_t)id >= mp->in->n_vocab)
			return -EINVAL;
		op->rows = 1;
		op->n = d;
		op->src_dtype = (uint8_t)mp->embd.dtype;
		op->dst_dtype = EMBER_DTYPE_F32;
		op->src_va = mp->embd_va + (uint64_t)id * mp->embd.stride;
		op->src_stride = mp->embd.stride;
		op->dst_va = mp->x + (uint64_t)t * d * 4;
		op->dst_stride = (uint64_t)d * 4;
	}
	return 0;
}

static int attn(const struct npu_map *mp, const struct step *s, struct writer *w)
{
	const struct ember_model_info *in = mp->in;
	const struct npu_layer_desc *ld = &mp->ld[s->layer];
	const struct npu_layer_va *lv = &mp->lv[s->layer];
	uint32_t n = s->n_tok, d = in->n_embd, kvd = in->n_head_kv * in->head_dim;
	struct ember_op_attention *op;
	uint32_t flags = EMBER_ATTN_APPEND_KV | EMBER_ATTN_ROPE |
			 (in->rope_neox ? EMBER_ATTN_ROPE_NEOX : 0);
	int ret;

	if ((ret = rmsnorm(w, n, d, in->rms_eps, mp->x, lv->attn_norm, mp->xb)) ||
	    (ret = matmul(w, n, d, d, &ld->wq, mp->xb, lv->wq, lv->bq, mp->q, false)) ||
	    (ret = matmul(w, n, kvd, d, &ld->wk, mp->xb, lv->wk, lv->bk, mp->k, false)) ||
	    (ret = matmul(w, n, kvd, d, &ld->wv, mp->xb, lv->wv, lv->bv, mp->v, false)))
		return ret;
	op = OP(w, ember_op_attention, EMBER_OP_ATTENTION, flags);
	if (!op)
		return -ENOSPC;
	op->n_tok = n;
	op->n_past = s->n_past;
	op->n_head = in->n_head;
	op->n_kv_head = in->n_head_kv;
	op->head_dim = in->head_dim;
	op->kv_dtype = (uint8_t)mp->kv_dtype;
	/* the CPU's expression, so both scale by the same float */
	op->scale = 1.0f / sqrtf((float)in->head_dim);
	op->n_ctx = mp->n_ctx;
	op->rope_dim = in->rope_dim;
	op->rope_freq_base = in->rope_base;
	op->q_va = mp->q;
	op->q_stride = (uint64_t)d * 4;
	op->k_va = lv->k_cache;
	op->v_va = lv->v_cache;
	op->kv_stride = mp->kv_row;
	op->out_va = mp->att;
	op->out_stride = (uint64_t)d * 4;
	op->k_new_va = mp->k;
	op->v_new_va = mp->v;
	op->new_stride = (uint64_t)kvd * 4;
	return matmul(w, n, d, d, &ld->wo, mp->att, lv->wo, 0, mp->x, true);
}

static int ffn(const struct npu_map *mp, const struct step *s, struct writer *w)
{
	const struct ember_model_info *in = mp->in;
	const struct npu_layer_desc *ld = &mp->ld[s->layer];
	const struct npu_layer_va *lv = &mp->lv[s->layer];
	uint32_t n = s->n_tok, d = in->n_embd, ff = in->n_ff;
	struct ember_op_swiglu *op;
	int ret;

	if ((ret = rmsnorm(w, n, d, in->rms_eps, mp->x, lv->ffn_norm, mp->xb)) ||
	    (ret = matmul(w, n, ff, d, &ld->gate, mp->xb, lv->gate, 0, mp->hb, false)) ||
	    (ret = matmul(w, n, ff, d, &ld->up, mp->xb, lv->up, 0, mp->hb2, false)))
		return ret;
	op = OP(w, ember_op_swiglu, EMBER_OP_SWIGLU, 0);
	if (!op)
		return -ENOSPC;
	op->rows = n;
	op->n = ff;
	op->gate_va = mp->hb;
	op->gate_stride = (uint64_t)ff * 4;
	op->up_va = mp->hb2;
	op->up_stride = (uint64_t)ff * 4;
	op->out_va = mp->hb3;
	op->out_stride = (uint64_t)ff * 4;
	return matmul(w, n, d, ff, &ld->down, mp->hb3, lv->down, 0, mp->x, true);
}

static int output(const struct npu_map *mp, const struct step *s, struct writer *w)
{
	const struct ember_model_info *in = mp->in;
	uint64_t last = mp->x + (uint64_t)(s->n_tok - 1) * in->n_embd * 4;
	int ret = rmsnorm(w, 1, in->n_embd, in->rms_eps, last, mp->output_norm_va, mp->xb);

	return ret ? ret : matmul(w, 1, in->n_vocab, in->n_embd, &mp->output, mp->xb,
				  mp->output_va, 0, mp->logits, false);
}

int npu_program_step(const struct npu_map *mp, const struct step *s,
		     uint8_t *buf, uint32_t cap, uint32_t *used)
{
	struct writer w = { buf, cap, *used };
	int ret = -EINVAL;

	if (!s->n_tok)
		return -EINVAL;
	switch (s->kind) {
	case STEP_EMBED: ret = embed(mp, s, &w); break;
	case STEP_ATTN: ret = attn(mp, s, &w); break;
	case STEP_FFN: ret = ffn(mp, s, &w); break;
	case STEP_OUTPUT: ret = output(mp, s, &w); break;
	}
	if (!ret)
		*used = w.used;
	return ret;
}

uint32_t npu_program_step_size(const struct step *s)
{
	switch (s->kind) {
	case STEP_EMBED:
		return s->n_tok * (uint32_t)sizeof(struct ember_op_copy);
	case STEP_ATTN:
		return sizeof(struct ember_op_rmsnorm) + 4 * sizeof(struct ember_op_matmul) +
		       sizeof(struct ember_op_attention);
	case STEP_FFN:
		return sizeof(struct ember_op_rmsnorm) + 3 * sizeof(struct ember_op_matmul) +
		       sizeof(struct ember_op_swiglu);
	case STEP_OUTPUT:
		return sizeof(struct ember_op_rmsnorm) + sizeof(struct ember_op_matmul);
	}
	return 0;
}

#define BIT(n) (1ull << (n))

void npu_program_needs(const struct npu_map *mp, const struct step *s,
		       uint64_t *ops, uint64_t *dtypes)
{
	const struct npu_layer_desc *ld = s->kind == STEP_ATTN || s->kind == STEP_FFN ?
					  &mp->ld[s->layer] : NULL;

	*ops = 0;
	*dtypes = BIT(EMBER_DTYPE_F32);
	switch (s->kind) {
	case STEP_EMBED:
		*ops = BIT(EMBER_OP_COPY);
		*dtypes |= BIT(mp->embd.dtype);
		break;
	case STEP_ATTN:
		*ops = BIT(EMBER_OP_RMSNORM) | BIT(EMBER_OP_MATMUL) | BIT(EMBER_OP_ATTENTION);
		*dtypes |= BIT(ld->wq.dtype) | BIT(ld->wk.dtype) | BIT(ld->wv.dtype) |
			   BIT(ld->wo.dtype) | BIT(mp->kv_dtype);
		break;
	case STEP_FFN:
		*ops = BIT(EMBER_OP_RMSNORM) | BIT(EMBER_OP_MATMUL) | BIT(EMBER_OP_SWIGLU);
		*dtypes |= BIT(ld->gate.dtype) | BIT(ld->up.dtype) | BIT(ld->down.dtype);
		break;
	case STEP_OUTPUT:
		*ops = BIT(EMBER_OP_RMSNORM) | BIT(EMBER_OP_MATMUL);
		*dtypes |= BIT(mp->output.dtype);
		break;
	}
}
