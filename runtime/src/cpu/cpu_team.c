/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_team.h"

static size_t align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

int cpu_team_init(struct cpu_team *t, const struct fwd_state *st,
		  struct ek_exec ex, size_t scratch)
{
	memset(t, 0, sizeof(*t));
	t->n = ex.nthreads;
	t->ex = ex;
	t->xb_bytes = align64((size_t)st->m->info.n_embd * sizeof(float));
	t->per_thread = t->xb_bytes + align64(scratch);
	t->mem = aligned_alloc(64, t->per_thread * (size_t)t->n);
	struct ek_attention a = fwd_attention(st, 0, 0, 1);
	uint32_t blocks = ek_attention_blocks(&a);

	t->partial_size = ek_attention_partial_size();	/* end to end */
	t->partials = aligned_alloc(64, align64(t->partial_size * EK_ATTN_MAX_PARTS *
						blocks));
	ek_barrier_init(&t->barrier);
	return t->mem && t->partials ? 0 : -ENOMEM;
}

void cpu_team_free(struct cpu_team *t)
{
	free(t->mem);
	free(t->partials);
	t->mem = NULL;
	t->partials = NULL;
}

bool cpu_team_supports(const struct cpu_team *t, const struct step *s)
{
	return t->mem && t->n > 1 && s->n_tok == 1 &&
	       (s->kind == STEP_ATTN || s->kind == STEP_FFN);
}

static void team_barrier(struct cpu_team *t)
{
	ek_barrier_wait(&t->barrier, t->n);
}

/* Share i of n of count items in units of grain (X16 groups: whole). */
static void share(uint32_t count, uint32_t grain, int i, int n, uint32_t *b,
		  uint32_t *e)
{
	uint64_t b64, e64;

	ek_split(count, grain, i, n, &b64, &e64);
	*b = (uint32_t)b64;
	*e = (uint32_t)e64;
}

/* Rows r0..r1 of w times a (one token) into out[r0..r1]. */
static struct ek_matmul rows(const struct weight *w, uint32_t r0, uint32_t r1,
			     const float *a, const float *bias, float *out,
			     bool accumulate)
{
	struct ek_matmul p = {
		.m = 1, .n = r1 - r0, .k = w->n_in,
		.a = a, .a_stride = (size_t)w->n_in * sizeof(float),
		.w = w->data, .w_dtype = w->dtype, .w_stride = w->stride,
		.w_layout = w->layout,
		.c = out + r0, .c_stride = (size_t)w->n_out * sizeof(float),
		.bias = bias ? bias + r0 : NULL, .accumulate = accumulate,
	};

	if (w->layout == EK_LAYOUT_X16) {
		p.w_row0 = r0;
		p.w_rows = w->n_out;
	} else {
		p.w = (const char *)w->data + (size_t)r0 * w->stride;
	}
	return p;
}

static void my_rows(const struct weight *w, int i, int n, uint32_t *r0, uint32_t *r1)
{
	share(w->n_out, EK_X16_ROWS, i, n, r0, r1);
}

struct team_job {
	struct cpu_team *t;
	struct fwd_state *st;
	const struct step *s;
	const struct ek_rope_angles *rope;
};

/*
 * Over a cache long enough to come in parts: thread i's range of the
 * (head block, part) units, then, when all are done, its range of blocks
 * merged into st->att. False (nothing done) for a single part.
 */
static bool attn_parts(const struct team_job *j, int i)
{
	struct cpu_team *t = j->t;
	size_t ps = t->partial_size;
	struct ek_attention a = fwd_attention(j->st, j->s->layer, j->s->n_past, 1);
	uint32_t np = ek_attention_parts(&a), nb = ek_attention_blocks(&a);
	uint32_t u0, u1, c0, c1;

	if (np < 2)
		return false;
	share(nb * np, 1, i, t->n, &u0, &u1);
	for (uint32_t u = u0; u < u1; u++)
		ek_attention_part(&a, u / np, u % np, t->partials + ps * u);
	team_barrier(t);
	share(nb, 1, i, t->n, &c0, &c1);
	for (uint32_t c = c0; c < c1; c++)
		ek_attention_merge(&a, c, t->partials + ps * np * c);
	return true;
}

/* Over a short cache: query heads h0..h1, one call per run of them that
 * shares a KV head. */
static void attn_heads(const struct team_job *j, uint32_t h0, uint32_t h1)
{
	const struct ek_attention all = fwd_attention(j->st, j->s->layer, j->s->n_past, 1);
	uint32_t hd = all.head_dim, grp = all.n_head / all.n_kv_head;

	for (uint32_t h = h0, e; h < h1; h = e) {
		uint32_t kvh = h / grp;
		struct ek_attention a = all;	/* a view of heads h..e */

		e = (kvh + 1) * grp < h1 ? (kvh + 1) * grp : h1;
		a.n_head = e - h;
		a.n_kv_head = 1;
		a.q += (size_t)h * hd;
		a.out += (size_t)h * hd;
		a.k = (const char *)a.k + ek_kv_col_offset(a.k_layout, a.kv_dtype, kvh * hd);
		a.v = (const char *)a.v + ek_kv_col_offset(EK_KV_ROWS, a.kv_dtype, kvh * hd);
		ek_attention(&ek_exec_serial, &a);
	}
}

static void attn_share(const struct team_job *j, int i, float *xb, void *scratch)
{
	struct fwd_state *st = j->st;
	const struct ember_model_info *in = &st->m->info;
	const struct layer *l = &st->m->layers[j->s->layer];
	uint32_t d = in->n_embd, hd = in->head_dim;
	size_t ds = (size_t)d * 4;
	struct ek_matmul qkv[3];
	int cnt = 0;
	uint32_t r0, r1, kv0, kv1;

	ek_rmsnorm(&ek_exec_serial, 1, d, st->x, ds, l->attn_norm, in->rms_eps, xb, ds);
	my_rows(&l->wq, i, j->t->n, &r0, &r1);
	if (r1 > r0)
		qkv[cnt++] = rows(&l->wq, r0, r1, xb, l->bq, st->q, false);
	my_rows(&l->wk, i, j->t->n, &r0, &r1);
	if (r1 > r0)
		qkv[cnt++] = rows(&l->wk, r0, r1, xb, l->bk, st->k, false);
	my_rows(&l->wv, i, j->t->n, &r0, &r1);
	if (r1 > r0)
		qkv[cnt++] = rows(&l->wv, r0, r1, xb, l->bv, st->v, false);
	ek_matmul_group(&ek_exec_serial, qkv, cnt, scratch);
	team_barrier(j->t);

	/* rope and store a share of the KV heads, rope a share of the query
	 * heads; then, when all are stored, attend over a share of them */
	uint32_t pos = j->s->n_past, h0, h1;
	char *kc = st->k_cache[j->s->layer], *vc = st->v_cache[j->s->layer];

	share(in->n_head_kv, 1, i, j->t->n, &kv0, &kv1);
	if (kv1 > kv0) {
		uint32_t nkv = kv1 - kv0, c0 = kv0 * hd;
		float *k = st->k + c0;

		ek_rope_heads(j->rope, nkv, hd, in->rope_neox, k);
		ek_kv_store(st->kv_dtype, st->k_layout, kc, st->kv_row, pos, c0, k,
			    nkv * hd);
		ek_kv_store(st->kv_dtype, EK_KV_ROWS, vc, st->kv_row, pos, c0,
			    st->v + c0, nkv * hd);
	}
	share(in->n_head, 1, i, j->t->n, &h0, &h1);
	if (h1 > h0)
		ek_rope_heads(j->rope, h1 - h0, hd, in->rope_neox, st->q + (size_t)h0 * hd);
	team_barrier(j->t);
	if (!attn_parts(j, i))
		attn_heads(j, h0, h1);
	team_barrier(j->t);

	my_rows(&l->wo, i, j->t->n, &r0, &r1);
	if (r1 > r0) {
		struct ek_matmul o = rows(&l->wo, r0, r1, st->att, NULL, st->x, true);

		ek_matmul(&ek_exec_serial, &o, scratch);
	}
}

static void ffn_share(const struct team_job *j, int i, float *xb, void *scratch)
{
	struct fwd_state *st = j->st;
	const struct ember_model_info *in = &st->m->info;
	const struct layer *l = &st->m->layers[j->s->layer];
	uint32_t d = in->n_embd, r0, r1;
	size_t ds = (size_t)d * 4;

	ek_rmsnorm(&ek_exec_serial, 1, d, st->x, ds, l->ffn_norm, in->rms_eps, xb, ds);
	/* the same rows of gate and up, so SwiGLU needs no one else's */
	my_rows(&l->gate, i, j->t->n, &r0, &r1);
	if (r1 > r0) {
		struct ek_matmul gu[2] = {
			rows(&l->gate, r0, r1, xb, NULL, st->hb, false),
			rows(&l->up, r0, r1, xb, NULL, st->hb2, false),
		};

		ek_matmul_group(&ek_exec_serial, gu, 2, scratch);
		size_t fs = (size_t)in->n_ff * 4;

		ek_swiglu(&ek_exec_serial, 1, r1 - r0, st->hb + r0, fs, st->hb2 + r0, fs,
			  st->hb + r0, fs);
	}
	team_barrier(j->t);

	my_rows(&l->down, i, j->t->n, &r0, &r1);
	if (r1 > r0) {
		struct ek_matmul dn = rows(&l->down, r0, r1, st->hb, NULL, st->x, true);

		ek_matmul(&ek_exec_serial, &dn, scratch);
	}
}

static void team_task(void *arg, int i, int n)
{
	const struct team_job *j = arg;
	char *mine = j->t->mem + (size_t)i * j->t->per_thread;

	(void)n;
	if (j->s->kind == STEP_ATTN)
		attn_share(j, i, (float *)mine, mine + j->t->xb_bytes);
	else
		ffn_share(j, i, (float *)mine, mine + j->t->xb_bytes);
}

int cpu_team_run(struct cpu_team *t, struct fwd_state *st, const struct step *s,
		 const struct ek_rope_angles *rope)
{
	struct team_job j = { t, st, s, rope };

	if (!cpu_team_supports(t, s) || (s->kind == STEP_ATTN && !rope))
		return -EINVAL;
	t->ex.run(t->ex.ctx, team_task, &j, t->n);
	return 0;
}
