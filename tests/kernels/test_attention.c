/* SPDX-License-Identifier: MIT */
/*
 * ek_attention against a double reference (plain softmax over the causal
 * window, KV as stored). The output is a convex combination of V rows, so
 * the tolerance is relative to V: with V = max |v| over the window,
 * E = max_j scale sum_d |q_d k_jd| and u = 2^-24,
 *   |out - ref| <= V (2e-5 + 8 sqrt(head_dim) u E)
 * (score rounding moves the weights by ~ their relative error; the 2e-5
 * covers the exp approximation and the float accumulation over long
 * windows). Over a Q8_0 K cache the kernels may quantize the query to 8
 * bits per block, as matmuls do their activations: the output must then
 * meet the same bound against a reference with that query. Every executor (serial, pools of 1..4, which may split the
 * positions of one query across threads) must meet it, over a K cache of
 * rows and over a KT16 one (its unused lanes NaN: they must stay unread or
 * masked), for f32, f16 and (head_dim a multiple of 32) Q8_0 caches.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kt.h"

struct at_case {
	uint32_t n_tok, n_past, n_head, n_kv_head, head_dim;
	float amp;		/* scale of q and k: large = peaky softmax */
};

static const struct at_case cases[] = {
	{ 1, 0, 1, 1, 64, 1 },      { 1, 1, 4, 4, 64, 1 },
	{ 1, 2047, 32, 4, 64, 1 },  { 1, 1000, 6, 2, 128, 3 },
	{ 5, 0, 8, 8, 32, 1 },      { 17, 3, 12, 4, 80, 2 },
	{ 3, 100, 3, 1, 256, 1 },   { 1, 600, 2, 1, 16, 4 },
	{ 7, 40, 16, 2, 8, 1 },     { 2, 31, 4, 2, 512, 1 },
	{ 1, 4095, 8, 1, 128, 1 },  { 1, 2047, 1, 1, 64, 1 },
	{ 4, 9, 3, 3, 1, 1 },       { 2, 70, 24, 3, 33, 2 },
	{ 33, 0, 2, 1, 48, 1 },     { 1, 3000, 32, 32, 64, 1 },
	{ 1, 511, 12, 1, 96, 1 },   { 1, 160, 9, 3, 64, 1 },
	{ 20, 140, 9, 3, 64, 2 },   { 1, 77, 5, 1, 64, 1 },
};

static double kv_value(int dtype, const void *row, uint32_t d)
{
	return kt_weight(dtype, row, d);
}

/* A decode through ek_attention_part / _merge, block by block and part
 * by part as a caller's threads would: bitwise what ek_attention gave. */
static void at_parts_check(struct kt *t, struct ek_attention *p,
			   const float *want)
{
	uint32_t np = ek_attention_parts(p), nb = ek_attention_blocks(p);
	uint32_t grp = p->n_head / p->n_kv_head, n = (p->n_past + 1) / 128;
	size_t ps = ek_attention_partial_size();
	float *saved = p->out;

	if (p->n_tok != 1) {
		KT_CHECK(t, np == 1 && !nb && !ek_attention_part(p, 0, 0, &ps),
			 "attention parts refused for %u tokens", p->n_tok);
		return;
	}
	KT_CHECK(t, nb == p->n_kv_head * ((grp + 7) / 8),
		 "attention blocks of %u/%u heads: %u", p->n_head, p->n_kv_head, nb);
	KT_CHECK(t, np == (n < 2 || (grp > 8 && nb > 4) ? 1 :
			   n < 8 / (grp > 8 ? nb : 1) ? n : 8 / (grp > 8 ? nb : 1)),
		 "attention parts for past=%u heads %u/%u: %u", p->n_past,
		 p->n_head, p->n_kv_head, np);
	char *parts = kt_alloc(ps * np * nb);
	float *out = kt_alloc(p->out_stride);
	bool ok = true;

	memset(out, 0x7f, p->out_stride);
	p->out = out;
	/* parts in reverse, as another thread may finish them */
	for (uint32_t u = np * nb; u-- > 0;)
		ok &= ek_attention_part(p, u / np, u % np, parts + ps * u);
	for (uint32_t c = 0; c < nb; c++)
		ok &= ek_attention_merge(p, c, parts + ps * np * c);
	KT_CHECK(t, ok && !memcmp(out, want, (size_t)p->n_head * p->head_dim * 4),
		 "attention by parts (%u x %u) past=%u heads=%u/%u differs from "
		 "ek_attention", nb, np, p->n_past, p->n_head, p->n_kv_head);
	KT_CHECK(t, !ek_attention_part(p, nb, 0, parts) &&
		    !ek_attention_part(p, 0, np, parts),
		 "attention part out of range refused");
	p->out = saved;
	kt_free(parts);
	kt_free(out);
}

/* Token i's scaled query of head h, as the kernels use it: exact, or
 * (quant) quantized per block of 32 as matmul activations are. */
static void at_query(const struct ek_attention *p, uint32_t i, uint32_t h,
		     bool quant, double *qe)
{
	const float *q = (const float *)((const char *)p->q + i * p->q_stride) +
			 h * p->head_dim;

	for (uint32_t b = 0; b < p->head_dim; b += 32) {
		uint32_t n = p->head_dim - b < 32 ? p->head_dim - b : 32;
		float amax = 0;

		for (uint32_t d = b; d < b + n; d++)
			amax = fmaxf(amax, fabsf(q[d] * p->scale));
		for (uint32_t d = b; d < b + n; d++) {
			float f = q[d] * p->scale;

			qe[d] = !quant ? (double)q[d] * p->scale : amax == 0 ? 0 :
				(double)(amax / 127.0f) * nearbyintf(f * (127.0f / amax));
		}
	}
}

/* Softmax over the causal window in double, KV as stored; and the
 * tolerance of each (token, head) (top of file). */
static void at_reference(const struct ek_attention *p, const void *k,
			 const void *v, bool quant, double *ref, double *tol,
			 double *sc)
{
	const uint32_t hd = p->head_dim, grp = p->n_head / p->n_kv_head;
	const int dt = p->kv_dtype;
	double qe[EK_MAX_HEAD_DIM];

	memset(ref, 0, sizeof(double) * p->n_tok * p->n_head * hd);
	for (uint32_t i = 0; i < p->n_tok; i++) {
		for (uint32_t h = 0; h < p->n_head; h++) {
			size_t g = ek_row_size(dt, (uint64_t)h / grp * hd);
			double mx = -INFINITY, sum = 0, vmax = 0, emax = 0;
			double *o = ref + ((size_t)i * p->n_head + h) * hd;

			at_query(p, i, h, quant, qe);
			for (uint32_t j = 0; j <= p->n_past + i; j++) {
				const char *kr = (const char *)k + j * p->kv_stride + g;
				double s = 0, sa = 0;

				for (uint32_t d = 0; d < hd; d++) {
					s += qe[d] * kv_value(dt, kr, d);
					sa += fabs(qe[d] * kv_value(dt, kr, d));
				}
				sc[j] = s;
				emax = fmax(emax, sa);
				mx = fmax(mx, s);
			}
			for (uint32_t j = 0; j <= p->n_past + i; j++) {
				sc[j] = exp(sc[j] - mx);
				sum += sc[j];
			}
			for (uint32_t j = 0; j <= p->n_past + i; j++) {
				const char *vr = (const char *)v + j * p->kv_stride + g;

				for (uint32_t d = 0; d < hd; d++) {
					double vv = kv_value(dt, vr, d);

					o[d] += sc[j] / sum * vv;
					vmax = fmax(vmax, fabs(vv));
				}
			}
			tol[i * p->n_head + h] =
				vmax * (2e-5 + 8 * sqrt(hd) * ldexp(1, -24) * emax);
		}
	}
}

/* Outputs of p->out off ref by more than tol; with x >= 0, the first
 * three are reported (executor x, reference r). */
static long at_count(struct kt *t, const struct ek_attention *p,
		     const float *out, const double *ref, const double *tol,
		     int x, int r)
{
	const uint32_t hd = p->head_dim;
	long bad = 0;

	for (uint32_t i = 0; i < p->n_tok; i++) {
		const float *orow = (const float *)((const char *)out +
						    i * p->out_stride);

		for (uint32_t h = 0; h < p->n_head; h++)
			for (uint32_t d = 0; d < hd; d++) {
				double want = ref[((size_t)i * p->n_head + h) * hd + d];
				double tl = tol[i * p->n_head + h];
				float got = orow[h * hd + d];

				if (!(fabs(got - want) <= tl) && x >= 0 && bad++ < 3)
					KT_CHECK(t, false,
						 "attention %s%s%s threads=%d tok=%u "
						 "past=%u heads=%u/%u hd=%u: "
						 "out[%u][%u][%u]=%.8g ref %.8g tol %.3g",
						 ek_dtype_name(p->kv_dtype),
						 p->k_layout ? " kt16" : "",
						 r ? " (q quantized)" : "", x,
						 p->n_tok, p->n_past, p->n_head,
						 p->n_kv_head, hd, i, h, d, got,
						 want, tl);
				else if (!(fabs(got - want) <= tl) && x < 0)
					bad++;
			}
		if (x >= 0)
			KT_CHECK(t, ((const uint32_t *)orow)[p->n_head * hd] ==
				 0x7f7f7f7f, "attention wrote past the row");
	}
	return bad;
}

static void at_case_run(struct kt *t, struct kt_execs *e, struct kt_rng *rng,
			const struct at_case *ac, int dtype, int klayout)
{
	struct ek_attention p;
	uint32_t npos = ac->n_past + ac->n_tok, hd = ac->head_dim;
	size_t qrow = (size_t)ac->n_head * hd * 4;
	float *tmp = kt_alloc((size_t)ac->n_kv_head * hd * 4);

	memset(&p, 0, sizeof(p));
	p.n_tok = ac->n_tok;
	p.n_past = ac->n_past;
	p.n_head = ac->n_head;
	p.n_kv_head = ac->n_kv_head;
	p.head_dim = hd;
	p.scale = 1.0f / sqrtf((float)hd);
	p.kv_dtype = dtype;
	p.k_layout = klayout;
	p.q_stride = qrow + 16;
	p.kv_stride = ek_row_size(dtype, (uint64_t)ac->n_kv_head * hd) + 32;
	p.out_stride = qrow + 8;

	float *q = kt_alloc(p.q_stride * ac->n_tok);
	void *k = kt_alloc(p.kv_stride * npos);
	void *v = kt_alloc(p.kv_stride * npos);
	size_t kc_bytes = ek_kv_bytes(klayout, p.kv_stride, npos);
	void *kc = kt_alloc(kc_bytes);	/* what the kernel reads */
	/* stored in two parts, as threads store their heads (Q8_0: blocks) */
	uint32_t kvd = ac->n_kv_head * hd, half = kvd / 2;

	if (dtype == EK_Q8_0)
		half -= half % 32;

	memset(kc, 0xff, kc_bytes);
	double *ref[2], *tol[2];

	for (int r = 0; r < 2; r++) {
		ref[r] = kt_alloc(sizeof(double) * ac->n_tok * ac->n_head * hd);
		tol[r] = kt_alloc(sizeof(double) * ac->n_tok * ac->n_head);
	}
	double *sc = kt_alloc(sizeof(double) * npos);

	for (uint32_t i = 0; i < ac->n_tok; i++)
		kt_fill(rng, (float *)((char *)q + i * p.q_stride),
			ac->n_head * hd, ac->amp);
	for (uint32_t j = 0; j < npos; j++) {
		kt_fill(rng, tmp, ac->n_kv_head * hd, ac->amp);
		ek_quantize_row(dtype, tmp, (char *)k + j * p.kv_stride,
				ac->n_kv_head * hd);
		ek_kv_store(dtype, klayout, kc, p.kv_stride, j, 0, tmp, half);
		ek_kv_store(dtype, klayout, kc, p.kv_stride, j, half, tmp + half,
			    kvd - half);
		kt_fill(rng, tmp, ac->n_kv_head * hd, 1.0f);
		ek_quantize_row(dtype, tmp, (char *)v + j * p.kv_stride,
				ac->n_kv_head * hd);
	}
	p.q = q;
	p.k = kc;
	p.v = v;

	/* reference; over a Q8_0 K cache also with the query quantized as
	 * the kernels may (then their output must match one of the two) */
	int nref = dtype == EK_Q8_0 ? 2 : 1;

	for (int r = 0; r < nref; r++)
		at_reference(&p, k, v, r == 1, ref[r], tol[r], sc);

	float *first = kt_alloc(p.out_stride * ac->n_tok);

	for (int x = 0; x <= KT_MAX_POOL; x++) {
		float *out = kt_alloc(p.out_stride * ac->n_tok);
		long bad = 0;
		int r = 0;

		memset(out, 0x7f, p.out_stride * ac->n_tok);
		p.out = out;
		ek_attention(&e->ex[x], &p);
		if (nref == 2 && at_count(t, &p, out, ref[1], tol[1], -1, 0) <
				 at_count(t, &p, out, ref[0], tol[0], -1, 0))
			r = 1;
		bad = at_count(t, &p, out, ref[r], tol[r], x, r);
		t->checks++;
		if (bad > 3)
			t->fails += bad - 3;
		/* the same bits on every executor */
		if (x == 0)
			memcpy(first, out, p.out_stride * ac->n_tok);
		else
			KT_CHECK(t, !memcmp(first, out, p.out_stride * ac->n_tok),
				 "attention %s%s tok=%u past=%u heads=%u/%u: "
				 "executor %d differs from serial", ek_dtype_name(dtype),
				 klayout ? " kt16" : "", ac->n_tok, ac->n_past,
				 ac->n_head, ac->n_kv_head, x);
		kt_free(out);
	}
	at_parts_check(t, &p, first);
	kt_free(first);
	kt_free(q);
	kt_free(k);
	kt_free(kc);
	kt_free(v);
	for (int r = 0; r < 2; r++) {
		kt_free(ref[r]);
		kt_free(tol[r]);
	}
	kt_free(sc);
	kt_free(tmp);
}

void kt_test_attention(struct kt *t, struct kt_execs *e)
{
	struct kt_rng rng = { 0xa77e ^ 0x5151ull };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int l = EK_KV_ROWS; l <= EK_KV_KT16; l++) {
			at_case_run(t, e, &rng, &cases[i], EK_F32, l);
			at_case_run(t, e, &rng, &cases[i], EK_F16, l);
			if (cases[i].head_dim % 32 == 0)
				at_case_run(t, e, &rng, &cases[i], EK_Q8_0, l);
		}
	}
	/* invalid: n_head not a multiple of n_kv_head, head_dim too large */
	{
		float q[8] = { 1 }, kv[8] = { 1 }, out[8] = { 5 };
		struct ek_attention p = {
			.n_tok = 1, .n_head = 3, .n_kv_head = 2, .head_dim = 1,
			.scale = 1, .q = q, .q_stride = 12, .k = kv, .v = kv,
			.kv_dtype = EK_F32, .kv_stride = 8, .out = out,
			.out_stride = 12,
		};

		ek_attention(&ek_exec_serial, &p);
		KT_CHECK(t, out[0] == 5, "attention with 3 heads / 2 kv heads");
		p.n_head = 1;
		p.n_kv_head = 1;
		p.head_dim = EK_MAX_HEAD_DIM + 1;
		ek_attention(&ek_exec_serial, &p);
		KT_CHECK(t, out[0] == 5, "attention with head_dim too large");
		p.head_dim = 1;
		p.kv_dtype = EK_Q8_0;
		ek_attention(&ek_exec_serial, &p);
		KT_CHECK(t, out[0] == 5, "attention over a q8_0 cache of head_dim 1");
		p.kv_dtype = EK_F32;
		p.k_layout = 2;
		ek_attention(&ek_exec_serial, &p);
		KT_CHECK(t, out[0] == 5, "attention over an unknown K layout");
	}
}
