/* SPDX-License-Identifier: MIT */
/* CPU backend: every step on the host with the ek_* kernels and a
 * persistent thread pool. Nothing is allocated per step. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cpu_team.h"

struct cpu {
	struct fwd_state *st;
	struct ek_pool *pool;
	struct ek_exec ex;
	void *scratch;
	size_t scratch_size;
	struct cpu_team team;	/* decode steps, with a pool */
	/* one position's rope angles: every layer of a decode step uses them */
	struct ek_rope_angles rope;
	uint32_t rope_pos;
	bool rope_valid;
};

/* Element-wise ops on a few thousand floats cost less than waking the
 * pool: run those on the calling thread. */
#define SMALL_WORK 16384

static const struct ek_exec *ex_for(struct cpu *c, uint64_t work)
{
	return work < SMALL_WORK ? &ek_exec_serial : &c->ex;
}

static struct ek_matmul mm(uint32_t m, const float *a, size_t a_stride,
			   const struct weight *w, const float *bias, float *out,
			   size_t out_stride, bool accumulate)
{
	return (struct ek_matmul){
		.m = m, .n = w->n_out, .k = w->n_in,
		.a = a, .a_stride = a_stride,
		.w = w->data, .w_dtype = w->dtype, .w_stride = w->stride,
		.w_layout = w->layout,
		.c = out, .c_stride = out_stride,
		.bias = bias, .accumulate = accumulate,
	};
}

static void matmul(struct cpu *c, uint32_t m, const float *a, size_t a_stride,
		   const struct weight *w, const float *bias, float *out,
		   size_t out_stride, bool accumulate)
{
	struct ek_matmul p = mm(m, a, a_stride, w, bias, out, out_stride, accumulate);

	ek_matmul(&c->ex, &p, c->scratch);
}

static int run_embed(struct cpu *c, const struct step *s)
{
	const struct ember_model *m = c->st->m;
	const struct weight *e = &m->tok_embd;
	uint32_t d = m->info.n_embd;

	for (uint32_t t = 0; t < s->n_tok; t++) {
		int32_t id = s->tokens[t];

		if (id < 0 || (uint32_t)id >= m->info.n_vocab)
			return -EINVAL;
		weight_row(e, (uint64_t)id, c->st->x + (size_t)t * d);
	}
	return 0;
}

static const struct ek_rope_angles *rope_at(struct cpu *c, uint32_t pos)
{
	const struct ember_model_info *in = &c->st->m->info;

	if (!c->rope_valid || c->rope_pos != pos) {
		ek_rope_angles(&c->rope, in->rope_dim, pos, in->rope_base);
		c->rope_pos = pos;
		c->rope_valid = true;
	}
	return &c->rope;
}

struct ek_attention fwd_attention(const struct fwd_state *st, uint32_t layer,
				  uint32_t n_past, uint32_t n_tok)
{
	const struct ember_model_info *in = &st->m->info;
	size_t ds = (size_t)in->n_embd * 4;

	return (struct ek_attention){
		.n_tok = n_tok, .n_past = n_past, .n_head = in->n_head,
		.n_kv_head = in->n_head_kv, .head_dim = in->head_dim,
		.scale = 1.0f / sqrtf((float)in->head_dim),
		.q = st->q, .q_stride = ds,
		.k = st->k_cache[layer], .v = st->v_cache[layer],
		.kv_dtype = st->kv_dtype, .kv_stride = st->kv_row,
		.k_layout = st->k_layout, .out = st->att, .out_stride = ds,
	};
}

static int run_attn(struct cpu *c, const struct step *s)
{
	struct fwd_state *st = c->st;
	const struct ember_model_info *in = &st->m->info;
	const struct layer *l = &st->m->layers[s->layer];
	uint32_t d = in->n_embd, kvd = in->n_head_kv * in->head_dim, n = s->n_tok;
	size_t ds = (size_t)d * 4, kvs = (size_t)kvd * 4;
	char *kc = st->k_cache[s->layer], *vc = st->v_cache[s->layer];
	struct ek_attention a = fwd_attention(st, s->layer, s->n_past, n);

	ek_rmsnorm(ex_for(c, (uint64_t)n * d), n, d, st->x, ds, l->attn_norm, in->rms_eps,
		   st->xb, ds);
	/* one job for Q, K and V: the normed input is quantized once */
	struct ek_matmul qkv[3] = {
		mm(n, st->xb, ds, &l->wq, l->bq, st->q, ds, false),
		mm(n, st->xb, ds, &l->wk, l->bk, st->k, kvs, false),
		mm(n, st->xb, ds, &l->wv, l->bv, st->v, kvs, false),
	};

	ek_matmul_group(&c->ex, qkv, 3, c->scratch);
	if (n == 1) {
		const struct ek_rope_angles *r = rope_at(c, s->n_past);

		ek_rope_heads(r, in->n_head, in->head_dim, in->rope_neox, st->q);
		ek_rope_heads(r, in->n_head_kv, in->head_dim, in->rope_neox, st->k);
	} else {
		ek_rope(ex_for(c, (uint64_t)n * d), n, in->n_head, in->head_dim,
			in->rope_dim, s->n_past, in->rope_base, in->rope_neox, st->q, ds);
		ek_rope(ex_for(c, (uint64_t)n * kvd), n, in->n_head_kv, in->head_dim,
			in->rope_dim, s->n_past, in->rope_base, in->rope_neox, st->k, kvs);
	}
	for (uint32_t t = 0; t < n; t++) {
		ek_kv_store(st->kv_dtype, st->k_layout, kc, st->kv_row, s->n_past + t,
			    0, st->k + (size_t)t * kvd, kvd);
		ek_kv_store(st->kv_dtype, EK_KV_ROWS, vc, st->kv_row, s->n_past + t,
			    0, st->v + (size_t)t * kvd, kvd);
	}
	ek_attention(ex_for(c, (uint64_t)n * (s->n_past + n) * d), &a);
	matmul(c, n, st->att, ds, &l->wo, NULL, st->x, ds, true);
	return 0;
}

static int run_ffn(struct cpu *c, const struct step *s)
{
	struct fwd_state *st = c->st;
	const struct ember_model_info *in = &st->m->info;
	const struct layer *l = &st->m->layers[s->layer];
	uint32_t d = in->n_embd, ff = in->n_ff, n = s->n_tok;
	size_t ds = (size_t)d * 4, fs = (size_t)ff * 4;

	ek_rmsnorm(ex_for(c, (uint64_t)n * d), n, d, st->x, ds, l->ffn_norm, in->rms_eps,
		   st->xb, ds);
	struct ek_matmul gate_up[2] = {
		mm(n, st->xb, ds, &l->gate, NULL, st->hb, fs, false),
		mm(n, st->xb, ds, &l->up, NULL, st->hb2, fs, false),
	};

	ek_matmul_group(&c->ex, gate_up, 2, c->scratch);
	ek_swiglu(ex_for(c, (uint64_t)n * ff), n, ff, st->hb, fs, st->hb2, fs, st->hb, fs);
	matmul(c, n, st->hb, fs, &l->down, NULL, st->x, ds, true);
	return 0;
}

static int run_output(struct cpu *c, const struct step *s)
{
	struct fwd_state *st = c->st;
	const struct ember_model *m = st->m;
	uint32_t d = m->info.n_embd;
	const float *last = st->x + (size_t)(s->n_tok - 1) * d;

	ek_rmsnorm(&ek_exec_serial, 1, d, last, (size_t)d * 4, m->output_norm, m->info.rms_eps,
		   st->xb, (size_t)d * 4);
	matmul(c, 1, st->xb, (size_t)d * 4, &m->output, NULL, st->logits,
	       (size_t)m->info.n_vocab * 4, false);
	return 0;
}

static bool cpu_supports(void *priv, const struct step *s)
{
	(void)priv;
	(void)s;
	return true;	/* the universal fallback */
}

static int cpu_run(void *priv, const struct step *s)
{
	struct cpu *c = priv;

	if (cpu_team_supports(&c->team, s))
		return cpu_team_run(&c->team, c->st, s,
				    s->kind == STEP_ATTN ? rope_at(c, s->n_past) : NULL);
	switch (s->kind) {
	case STEP_EMBED: return run_embed(c, s);
	case STEP_ATTN: return run_attn(c, s);
	case STEP_FFN: return run_ffn(c, s);
	case STEP_OUTPUT: return run_output(c, s);
	}
	return -EINVAL;
}

static void cpu_destroy(void *priv)
{
	struct cpu *c = priv;

	if (c->pool)
		ek_pool_destroy(c->pool);
	cpu_team_free(&c->team);
	free(c->scratch);
	free(c);
}

static const struct backend_ops cpu_ops = {
	.name = "cpu",
	.supports = cpu_supports,
	.run = cpu_run,
	.destroy = cpu_destroy,
};

/* Scratch for a matmul of this shape (the size depends on the shape only). */
static size_t scratch_for(const struct weight *w, uint32_t m, int nthreads)
{
	struct ek_matmul p = {
		.m = m, .n = w->n_out, .k = w->n_in, .w_dtype = w->dtype,
		.w_layout = w->layout,
	};

	return ek_matmul_scratch_size(&p, nthreads);
}

int cpu_backend_threads(const struct backend *b)
{
	const struct cpu *c = b->priv;

	return c->ex.nthreads > 0 ? c->ex.nthreads : 1;
}

void cpu_backend_run_job(const struct backend *b, ek_task_fn fn, void *arg, int n)
{
	const struct cpu *c = b->priv;

	c->ex.run(c->ex.ctx, fn, arg, n);
}

int cpu_backend_create(struct fwd_state *st, int n_threads, struct backend *out,
		       struct ember_error *err)
{
	const struct ember_model *m = st->m;
	struct cpu *c = calloc(1, sizeof(*c));
	size_t need = 0, need1 = 0;

	if (!c)
		return ember_fail(err, -ENOMEM, "out of memory for the CPU backend");
	c->st = st;
	if (n_threads > 1) {
		c->pool = ek_pool_create(n_threads);
		if (!c->pool) {
			free(c);
			return ember_fail(err, -ENOMEM,
					  "cannot start %d worker threads; try fewer with --threads",
					  n_threads);
		}
		c->ex = ek_pool_exec(c->pool);
	} else {
		c->ex = ek_exec_serial;
	}
	for (uint32_t i = 0; i < m->info.n_layer; i++) {
		const struct layer *l = &m->layers[i];
		const struct weight *ws[] = { &l->wq, &l->wk, &l->wv, &l->wo, &l->gate,
					      &l->up, &l->down };

		for (size_t j = 0; j < sizeof(ws) / sizeof(ws[0]); j++) {
			size_t s = scratch_for(ws[j], st->n_batch, c->ex.nthreads);
			size_t s1 = scratch_for(ws[j], 1, 1);

			need = s > need ? s : need;
			need1 = s1 > need1 ? s1 : need1;
		}
	}
	{
		size_t s = scratch_for(&m->output, 1, c->ex.nthreads);

		need = s > need ? s : need;
	}
	if (need) {
		c->scratch_size = (need + 63) & ~(size_t)63;
		c->scratch = aligned_alloc(64, c->scratch_size);
		if (!c->scratch) {
			cpu_destroy(c);
			return ember_fail(err, -ENOMEM, "out of memory for matmul scratch (%zu bytes)",
					  need);
		}
	}
	if (c->pool && cpu_team_init(&c->team, st, c->ex, need1)) {
		cpu_destroy(c);
		return ember_fail(err, -ENOMEM, "out of memory for the decode threads' buffers");
	}
	out->ops = &cpu_ops;
	out->priv = c;
	return 0;
}
