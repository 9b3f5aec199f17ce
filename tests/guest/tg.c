// SPDX-License-Identifier: MIT
/* Shared helpers of the Ember guest tests (see tg.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tg.h"

int tg_open(struct ember_device **dev, char *msg, size_t len)
{
	return ember_device_open(NULL, dev, msg, len);
}

double tg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

size_t tg_row_bytes(uint32_t dtype, size_t n)
{
	switch (dtype) {
	case EMBER_DTYPE_F32: return n * 4;
	case EMBER_DTYPE_F16:
	case EMBER_DTYPE_BF16: return n * 2;
	case EMBER_DTYPE_Q8_0: return n % 32 ? 0 : n / 32 * 34;
	case EMBER_DTYPE_Q4_0: return n % 32 ? 0 : n / 32 * 18;
	default: return 0;
	}
}

static uint16_t to_bf16(float f)
{
	uint32_t x;

	memcpy(&x, &f, 4);
	x += 0x7fff + ((x >> 16) & 1);	/* round to nearest even */
	return (uint16_t)(x >> 16);
}

static float from_bf16(uint16_t h)
{
	uint32_t x = (uint32_t)h << 16;
	float f;

	memcpy(&f, &x, 4);
	return f;
}

size_t tg_encode_row(uint32_t dtype, const float *src, void *dst, float *deq,
		     size_t n)
{
	uint16_t *h = dst;
	size_t i;

	switch (dtype) {
	case EMBER_DTYPE_F32:
		memcpy(dst, src, n * 4);
		memcpy(deq, src, n * 4);
		break;
	case EMBER_DTYPE_F16:
		for (i = 0; i < n; i++) {
			h[i] = eref_f32_to_f16(src[i]);
			deq[i] = eref_f16_to_f32(h[i]);
		}
		break;
	case EMBER_DTYPE_BF16:
		for (i = 0; i < n; i++) {
			h[i] = to_bf16(src[i]);
			deq[i] = from_bf16(h[i]);
		}
		break;
	case EMBER_DTYPE_Q8_0:
		if (n % 32)
			return 0;
		eref_quantize_q8_0(src, dst, n);
		eref_dequantize_q8_0(dst, deq, n);
		break;
	case EMBER_DTYPE_Q4_0:
		if (n % 32)
			return 0;
		eref_quantize_q4_0(src, dst, n);
		eref_dequantize_q4_0(dst, deq, n);
		break;
	default:
		return 0;
	}
	return tg_row_bytes(dtype, n);
}

static int map(struct ember_bo *bo, void *pp)
{
	return ember_bo_map(bo, (void **)pp);
}

/* ---- MATMUL ------------------------------------------------------------ */

/* @p's reference result and tolerances (tg.h) from its host inputs. */
static void mm_reference(struct tg_mm *p)
{
	size_t i;

	eref_matmul(p->m, p->n, p->k, p->a_h, p->k, p->w_deq, p->k,
		    p->flags & EMBER_MATMUL_BIAS ? p->bias_h : NULL,
		    p->flags & EMBER_MATMUL_ACCUMULATE ? p->c0_h : NULL, p->n,
		    p->ref, p->tol);
	for (i = 0; i < (size_t)p->m * p->n; i++)
		p->tol[i] = 1e-4 * p->tol[i] + 1e-6;
	/* the device's 8-bit activations: <= amax/254 per element */
	if (p->w_dtype == EMBER_DTYPE_Q8_0 || p->w_dtype == EMBER_DTYPE_Q4_0)
		eref_matmul_q8_act_tol(p->m, p->n, p->k, p->a_h, p->k, p->w_deq,
				       p->k, 1.5, p->tol);
}

int tg_mm_init(struct ember_device *dev, struct tg_mm *p, uint32_t m,
	       uint32_t n, uint32_t k, uint32_t w_dtype, uint32_t flags,
	       uint64_t a_stride, uint64_t c_stride, uint64_t seed)
{
	size_t wrow = tg_row_bytes(w_dtype, k), i, j;
	uint64_t as, cs;
	struct eref_rng r;
	float *wsrc, *am;
	uint8_t *wm;
	int ret;

	memset(p, 0, sizeof(*p));
	if (!wrow)
		return -EINVAL;
	p->m = m; p->n = n; p->k = k; p->w_dtype = w_dtype; p->flags = flags;
	p->a_stride = a_stride;
	p->c_stride = c_stride;
	as = a_stride ? a_stride : (uint64_t)k * 4;
	cs = c_stride ? c_stride : (uint64_t)n * 4;
	p->a_h = calloc((size_t)m * k, sizeof(float));
	p->w_deq = calloc((size_t)n * k, sizeof(float));
	p->bias_h = calloc(n, sizeof(float));
	p->c0_h = calloc((size_t)m * n, sizeof(float));
	p->ref = calloc((size_t)m * n, sizeof(double));
	p->tol = calloc((size_t)m * n, sizeof(double));
	wsrc = calloc(k, sizeof(float));
	if (!p->a_h || !p->w_deq || !p->bias_h || !p->c0_h || !p->ref ||
	    !p->tol || !wsrc) {
		free(wsrc);
		return -ENOMEM;
	}
	ret = ember_bo_create(dev, (m - 1) * as + (uint64_t)k * 4, &p->a);
	if (!ret)
		ret = ember_bo_create(dev, (uint64_t)n * wrow, &p->w);
	if (!ret)
		ret = ember_bo_create(dev, (m - 1) * cs + (uint64_t)n * 4, &p->c);
	if (!ret)
		ret = ember_bo_create(dev, (uint64_t)n * 4, &p->bias);
	if (!ret)
		ret = map(p->a, &am);
	if (!ret)
		ret = map(p->w, &wm);
	if (ret) {
		free(wsrc);
		return ret;
	}
	eref_seed(&r, seed);
	for (i = 0; i < m; i++) {
		eref_fill(&r, p->a_h + i * k, k, 1.0f);
		memcpy((uint8_t *)am + i * as, p->a_h + i * k, (size_t)k * 4);
	}
	for (j = 0; j < n; j++) {
		eref_fill(&r, wsrc, k, 0.5f);
		tg_encode_row(w_dtype, wsrc, wm + j * wrow, p->w_deq + j * k, k);
	}
	free(wsrc);
	eref_fill(&r, p->bias_h, n, 1.0f);
	eref_fill(&r, p->c0_h, (size_t)m * n, 2.0f);
	{
		float *bm;

		ret = map(p->bias, &bm);
		if (ret)
			return ret;
		memcpy(bm, p->bias_h, (size_t)n * 4);
	}
	mm_reference(p);
	tg_mm_reset_output(p);
	return 0;
}

int tg_mm_fill_w(struct tg_mm *p, uint64_t seed)
{
	size_t wrow = tg_row_bytes(p->w_dtype, p->k), j;
	struct eref_rng r;
	float *wsrc;
	uint8_t *wm;
	int ret;

	ret = map(p->w, &wm);
	if (ret)
		return ret;
	wsrc = calloc(p->k, sizeof(float));
	if (!wsrc)
		return -ENOMEM;
	eref_seed(&r, seed);
	for (j = 0; j < p->n; j++) {
		eref_fill(&r, wsrc, p->k, 0.5f);
		tg_encode_row(p->w_dtype, wsrc, wm + j * wrow,
			      p->w_deq + j * p->k, p->k);
	}
	free(wsrc);
	mm_reference(p);
	return 0;
}

void tg_mm_reset_output(struct tg_mm *p)
{
	uint64_t cs = p->c_stride ? p->c_stride : (uint64_t)p->n * 4;
	uint8_t *cm;
	uint32_t i, j;

	if (map(p->c, &cm))
		return;
	for (i = 0; i < p->m; i++) {
		float *row = (float *)(cm + i * cs);

		for (j = 0; j < p->n; j++)
			row[j] = p->flags & EMBER_MATMUL_ACCUMULATE ?
				 p->c0_h[i * p->n + j] : NAN;
	}
}

int tg_mm_add(struct ember_cmdbuf *cb, struct tg_mm *p)
{
	struct ember_matmul_desc d = {
		.m = p->m, .n = p->n, .k = p->k, .flags = p->flags,
		.w_dtype = p->w_dtype,
		.a = { p->a, 0 }, .w = { p->w, 0 }, .c = { p->c, 0 },
		.bias = { p->bias, 0 },
		.a_stride = p->a_stride, .c_stride = p->c_stride,
	};

	return ember_cmdbuf_matmul(cb, &d);
}

int tg_mm_run(struct ember_device *dev, struct tg_mm *p)
{
	struct ember_cmdbuf *cb = NULL;
	struct ember_job job;
	uint64_t seqno;
	int ret;

	ret = ember_cmdbuf_create(dev, 4096, &cb);
	if (!ret)
		ret = tg_mm_add(cb, p);
	if (!ret)
		ret = ember_cmdbuf_end(cb, &job);
	if (!ret)
		ret = ember_submit(dev, &job, 1, &seqno);
	if (!ret)
		ret = ember_wait(dev, seqno, 10ll * 1000000000);
	ember_cmdbuf_free(cb);
	return ret;
}

size_t tg_mm_check(const struct tg_mm *p, double *worst, double *max_abs,
		   char *why, size_t len)
{
	uint64_t cs = p->c_stride ? p->c_stride : (uint64_t)p->n * 4;
	uint8_t *cm;
	size_t bad = 0;
	uint32_t i, j;

	*worst = 0;
	*max_abs = 0;
	if (map(p->c, &cm)) {
		snprintf(why, len, "cannot map C");
		return (size_t)p->m * p->n;
	}
	for (i = 0; i < p->m; i++) {
		const float *row = (const float *)(cm + i * cs);

		for (j = 0; j < p->n; j++) {
			double ref = p->ref[i * p->n + j];
			double err = fabs(row[j] - ref);
			double tol = p->tol[i * p->n + j];

			if (!(err <= tol)) {	/* NaN counts as bad */
				if (!bad++)
					snprintf(why, len,
						 "C[%u][%u] = %.9g, reference %.9g, |err| %.3g > tol %.3g",
						 i, j, row[j], ref, err, tol);
			}
			if (err > *max_abs || isnan(err))
				*max_abs = err;
			if (err / tol > *worst || isnan(err))
				*worst = err / tol;
		}
	}
	return bad;
}

void tg_mm_fini(struct tg_mm *p)
{
	ember_bo_free(p->a);
	ember_bo_free(p->w);
	ember_bo_free(p->c);
	ember_bo_free(p->bias);
	free(p->a_h);
	free(p->w_deq);
	free(p->bias_h);
	free(p->c0_h);
	free(p->ref);
	free(p->tol);
	memset(p, 0, sizeof(*p));
}

/* ---- ATTENTION --------------------------------------------------------- */

int tg_attn_init(struct ember_device *dev, struct tg_attn *p, uint32_t n_tok,
		 uint32_t n_past, uint32_t n_head, uint32_t n_kv, uint32_t hd,
		 uint32_t kv_dtype, uint64_t pad_bytes, uint64_t seed)
{
	size_t qrow = (size_t)n_head * hd, kvn = (size_t)n_kv * hd, i;
	size_t kvrow = tg_row_bytes(kv_dtype, kvn);
	float *src, *qm, vmax = 0;
	uint8_t *km, *vm;
	struct eref_rng r;
	int ret;

	memset(p, 0, sizeof(*p));
	if (!kvrow)
		return -EINVAL;
	p->n_tok = n_tok; p->n_past = n_past; p->n_head = n_head;
	p->n_kv = n_kv; p->hd = hd; p->kv_dtype = kv_dtype;
	p->n_ctx = n_past + n_tok + 3;	/* a cache bigger than used */
	/* padded strides exercise the stride fields (0 = packed) */
	p->q_stride = pad_bytes ? qrow * 4 + pad_bytes : 0;
	p->out_stride = pad_bytes ? qrow * 4 + 2 * pad_bytes : 0;
	p->kv_stride = pad_bytes ? kvrow + pad_bytes : 0;
	{
		uint64_t qs = p->q_stride ? p->q_stride : qrow * 4;
		uint64_t os = p->out_stride ? p->out_stride : qrow * 4;
		uint64_t ks = p->kv_stride ? p->kv_stride : kvrow;

		ret = ember_bo_create(dev, qs * n_tok, &p->q);
		if (!ret)
			ret = ember_bo_create(dev, ks * p->n_ctx, &p->k);
		if (!ret)
			ret = ember_bo_create(dev, ks * p->n_ctx, &p->v);
		if (!ret)
			ret = ember_bo_create(dev, os * n_tok, &p->out);
		if (!ret)
			ret = map(p->q, &qm);
		if (!ret)
			ret = map(p->k, &km);
		if (!ret)
			ret = map(p->v, &vm);
		if (ret)
			return ret;
		p->q_h = calloc(qrow * n_tok, sizeof(float));
		p->k_deq = calloc(kvn * p->n_ctx, sizeof(float));
		p->v_deq = calloc(kvn * p->n_ctx, sizeof(float));
		p->ref = calloc(qrow * n_tok, sizeof(double));
		src = calloc(kvn, sizeof(float));
		if (!p->q_h || !p->k_deq || !p->v_deq || !p->ref || !src) {
			free(src);
			return -ENOMEM;
		}
		eref_seed(&r, seed);
		for (i = 0; i < n_tok; i++) {
			eref_fill(&r, p->q_h + i * qrow, qrow, 1.0f);
			memcpy((uint8_t *)qm + i * qs, p->q_h + i * qrow, qrow * 4);
		}
		for (i = 0; i < p->n_ctx; i++) {
			eref_fill(&r, src, kvn, 1.0f);
			tg_encode_row(kv_dtype, src, km + i * ks,
				      p->k_deq + i * kvn, kvn);
			eref_fill(&r, src, kvn, 1.0f);
			tg_encode_row(kv_dtype, src, vm + i * ks,
				      p->v_deq + i * kvn, kvn);
		}
		free(src);
	}
	for (i = 0; i < kvn * p->n_ctx; i++)
		vmax = fmaxf(vmax, fabsf(p->v_deq[i]));
	eref_attention(n_tok, n_past, n_head, n_kv, hd, 1.0f / sqrtf((float)hd),
		       p->q_h, qrow, p->k_deq, p->v_deq, kvn, p->ref);
	p->tol = 2e-5 * (1.0 + vmax);
	tg_attn_reset_output(p);
	return 0;
}

void tg_attn_reset_output(struct tg_attn *p)
{
	size_t qrow = (size_t)p->n_head * p->hd, t, i;
	uint64_t os = p->out_stride ? p->out_stride : qrow * 4;
	uint8_t *om;

	if (map(p->out, &om))
		return;
	for (t = 0; t < p->n_tok; t++)
		for (i = 0; i < qrow; i++)
			((float *)(om + t * os))[i] = NAN;
}

int tg_attn_add(struct ember_cmdbuf *cb, struct tg_attn *p)
{
	struct ember_attention_desc d = {
		.n_tok = p->n_tok, .n_past = p->n_past, .n_head = p->n_head,
		.n_kv_head = p->n_kv, .head_dim = p->hd, .n_ctx = p->n_ctx,
		.kv_dtype = p->kv_dtype, .scale = 1.0f / sqrtf((float)p->hd),
		.q = { p->q, 0 }, .k = { p->k, 0 }, .v = { p->v, 0 },
		.out = { p->out, 0 },
		.q_stride = p->q_stride, .kv_stride = p->kv_stride,
		.out_stride = p->out_stride,
	};

	return ember_cmdbuf_attention(cb, &d);
}

size_t tg_attn_check(const struct tg_attn *p, double *worst, double *max_abs,
		     char *why, size_t len)
{
	size_t qrow = (size_t)p->n_head * p->hd, t, i, bad = 0;
	uint64_t os = p->out_stride ? p->out_stride : qrow * 4;
	uint8_t *om;

	*worst = 0;
	*max_abs = 0;
	if (map(p->out, &om)) {
		snprintf(why, len, "cannot map out");
		return qrow * p->n_tok;
	}
	for (t = 0; t < p->n_tok; t++) {
		const float *row = (const float *)(om + t * os);

		for (i = 0; i < qrow; i++) {
			double ref = p->ref[t * qrow + i];
			double err = fabs(row[i] - ref);

			if (!(err <= p->tol) && !bad++)
				snprintf(why, len,
					 "out[tok %zu][head %zu][%zu] = %.9g, reference %.9g, |err| %.3g > tol %.3g",
					 t, i / p->hd, i % p->hd, row[i], ref,
					 err, p->tol);
			if (err > *max_abs || isnan(err))
				*max_abs = err;
			if (err / p->tol > *worst || isnan(err))
				*worst = err / p->tol;
		}
	}
	return bad;
}

void tg_attn_fini(struct tg_attn *p)
{
	ember_bo_free(p->q);
	ember_bo_free(p->k);
	ember_bo_free(p->v);
	ember_bo_free(p->out);
	free(p->q_h);
	free(p->k_deq);
	free(p->v_deq);
	free(p->ref);
	memset(p, 0, sizeof(*p));
}

/* ---- a known-good job -------------------------------------------------- */

int tg_good_job(struct ember_device *dev, char *why, size_t len)
{
	struct tg_mm p;
	double worst, max_abs;
	size_t bad;
	int ret;

	ret = tg_mm_init(dev, &p, 2, 3, 32, EMBER_DTYPE_F32, 0, 0, 0, 4242);
	if (!ret)
		ret = tg_mm_run(dev, &p);
	if (ret < 0) {
		snprintf(why, len, "good job: %s", ember_errmsg(dev));
	} else if (ret > 0) {
		snprintf(why, len, "good job: status %s", ember_status_name(ret));
	} else {
		bad = tg_mm_check(&p, &worst, &max_abs, why, len);
		if (bad)
			ret = -EIO;
	}
	tg_mm_fini(&p);
	return ret;
}
