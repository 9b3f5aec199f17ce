/* SPDX-License-Identifier: MIT */
/*
 * Ember ABI 1.1 tests: a whole llama-style transformer layer as ONE job
 * through io_uring (rmsnorm -> Q/K/V matmuls -> attention with APPEND_KV
 * and ROPE -> O matmul accumulated into the residual -> rmsnorm -> gate/up
 * matmuls -> swiglu -> down matmul accumulated), checked against the host
 * reference (lib/ref, double); each new op alone; and, on a device started
 * with ember-npu's caps-ops-mask hiding ops, UNSUPPORTED for the hidden
 * ones (skipped when the device reports them all).
 *
 * Tolerances, |device - ref| <= tol * (1 + |ref|): layer 1e-4 with an F32
 * cache, 1e-3 with an F16 cache (the reference rounds the appended K/V to
 * f16 too, but a float-level difference can flip one rounding, 2^-11
 * relative); single ops 1e-5 (ADD exact). Observed: ~5e-7.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "tg.h"

#define SEC 1000000000ll

/* A BO carved into 64-byte aligned pieces: one buffer for a whole test. */
struct arena {
	struct ember_bo *bo;
	uint8_t *map;
	uint64_t used, size;
};

static int arena_init(struct ember_device *dev, struct arena *a, uint64_t size)
{
	int ret;

	memset(a, 0, sizeof(*a));
	ret = ember_bo_create(dev, size, &a->bo);
	if (!ret)
		ret = ember_bo_map(a->bo, (void **)&a->map);
	a->size = size;
	return ret;
}

static struct ember_ref arena_get(struct arena *a, uint64_t len, void **host)
{
	struct ember_ref r = { a->bo, a->used };

	if (a->used + len > a->size)
		abort();	/* test sizing bug */
	*host = a->map + a->used;
	a->used = (a->used + len + 63) & ~63ull;
	return r;
}

FIXTURE(layer) {
	struct ember_device *dev;
	struct ember_cmdbuf *cb;
	struct ember_queue *q;
	struct arena ar;
};

FIXTURE_SETUP(layer)
{
	char msg[EMBER_ERRMSG_SIZE];

	ASSERT_EQ(0, tg_open(&self->dev, msg, sizeof(msg))) TH_LOG("%s", msg);
	ASSERT_EQ(0, ember_cmdbuf_create(self->dev, 64 * 1024, &self->cb))
		TH_LOG("%s", ember_errmsg(self->dev));
	ASSERT_EQ(0, ember_queue_create(self->dev, 16, &self->q))
		TH_LOG("%s", ember_errmsg(self->dev));
	ASSERT_EQ(0, arena_init(self->dev, &self->ar, 4 << 20))
		TH_LOG("%s", ember_errmsg(self->dev));
}

FIXTURE_TEARDOWN(layer)
{
	ember_bo_free(self->ar.bo);
	ember_queue_destroy(self->q);
	ember_cmdbuf_free(self->cb);
	ember_device_close(self->dev);
}

/* One job through io_uring: its status, or -errno. */
static int run_job(struct _test_data_layer *self, const struct ember_job *job)
{
	struct ember_completion c;
	int ret = ember_queue_push(self->q, job, 42);

	if (ret)
		return ret;
	ret = ember_queue_wait(self->q, &c, 1, 1, 60 * SEC);
	if (ret < 0)
		return ret;
	if (ret != 1 || c.user_data != 42)
		return -EPROTO;
	return c.status;
}

static bool abi_1_1(struct ember_device *dev)
{
	return ember_device_info(dev)->fw_abi_version >= (1u << 16 | 1u);
}

/* ---- the layer ---------------------------------------------------------- */

#define D	64	/* model dim */
#define NH	4
#define NKV	2
#define HD	16
#define FF	96
#define CTX	16
#define QN	(NH * HD)
#define KN	(NKV * HD)

FIXTURE_VARIANT(layer) {
	uint32_t n_tok, n_past, kv_dtype, w_dtype;
	bool neox;
	double tol;
};

FIXTURE_VARIANT_ADD(layer, decode_f32) {
	.n_tok = 1, .n_past = 6, .kv_dtype = EMBER_DTYPE_F32,
	.w_dtype = EMBER_DTYPE_F32, .tol = 1e-4,
};

FIXTURE_VARIANT_ADD(layer, prefill_f16) {
	.n_tok = 4, .n_past = 0, .kv_dtype = EMBER_DTYPE_F16,
	.w_dtype = EMBER_DTYPE_F16, .tol = 1e-3,
};

FIXTURE_VARIANT_ADD(layer, chunk_neox_f16) {
	.n_tok = 3, .n_past = 5, .kv_dtype = EMBER_DTYPE_F16,
	.w_dtype = EMBER_DTYPE_F32, .neox = true, .tol = 1e-3,
};

/* A weight matrix: @rows x @k in w_dtype on the device, f32 dequantized
 * values in @deq for the reference. */
static struct ember_ref weight(struct arena *a, struct eref_rng *r,
			       uint32_t dtype, uint32_t rows, uint32_t k,
			       float scale, float *deq)
{
	size_t row = tg_row_bytes(dtype, k);
	float *src = malloc(sizeof(float) * k);
	uint8_t *dst;
	struct ember_ref ref = arena_get(a, row * rows, (void **)&dst);

	for (uint32_t i = 0; i < rows; i++) {
		eref_fill(r, src, k, scale);
		tg_encode_row(dtype, src, dst + i * row, deq + (size_t)i * k, k);
	}
	free(src);
	return ref;
}

/* out[t][n] = sum_k a[t][k] * w[n][k] in double */
static void ref_mm(uint32_t t_n, uint32_t n, uint32_t k, const double *a,
		   const float *w, double *out)
{
	for (uint32_t t = 0; t < t_n; t++)
		for (uint32_t j = 0; j < n; j++) {
			double s = 0;

			for (uint32_t i = 0; i < k; i++)
				s += a[(size_t)t * k + i] * w[(size_t)j * k + i];
			out[(size_t)t * n + j] = s;
		}
}

static void ref_rmsnorm_d(uint32_t rows, uint32_t dim, const double *x,
			  const float *w, double eps, double *out)
{
	for (uint32_t r = 0; r < rows; r++) {
		double ss = 0;

		for (uint32_t i = 0; i < dim; i++)
			ss += x[r * dim + i] * x[r * dim + i];
		for (uint32_t i = 0; i < dim; i++)
			out[r * dim + i] = x[r * dim + i] / sqrt(ss / dim + eps) * w[i];
	}
}

/* The cache element as stored: f32, or rounded to f16. */
static float kv_round(uint32_t dtype, double v)
{
	return dtype == EMBER_DTYPE_F16 ? eref_f16_to_f32(eref_f32_to_f16((float)v))
					: (float)v;
}

static void kv_store(uint32_t dtype, void *row, uint32_t i, float v)
{
	if (dtype == EMBER_DTYPE_F16)
		((uint16_t *)row)[i] = eref_f32_to_f16(v);
	else
		((float *)row)[i] = v;
}

static float kv_load(uint32_t dtype, const void *row, uint32_t i)
{
	return dtype == EMBER_DTYPE_F16 ? eref_f16_to_f32(((const uint16_t *)row)[i])
					: ((const float *)row)[i];
}

TEST_F_TIMEOUT(layer, whole_layer_one_job, 300)
{
	const uint32_t T = variant->n_tok, P = variant->n_past, wd = variant->w_dtype;
	const uint32_t kvd = variant->kv_dtype, rope_flags =
		EMBER_ATTN_APPEND_KV | EMBER_ATTN_ROPE |
		(variant->neox ? EMBER_ATTN_ROPE_NEOX : 0);
	const float eps = 1e-5f;
	size_t el = kvd == EMBER_DTYPE_F16 ? 2 : 4;
	struct eref_rng r;
	struct arena *a = &self->ar;
	float *wq = malloc(4 * QN * D), *wk = malloc(4 * KN * D), *wv = malloc(4 * KN * D);
	float *wo = malloc(4 * D * QN), *wg = malloc(4 * FF * D), *wu = malloc(4 * FF * D);
	float *wdn = malloc(4 * D * FF), *n1, *n2, *xh, *cache_k, *cache_v;
	double *x = calloc(T * D, 8), *xn = calloc(T * D, 8), *q = calloc(T * QN, 8);
	double *k = calloc(T * KN, 8), *v = calloc(T * KN, 8), *att = calloc(T * QN, 8);
	double *tmp = calloc(T * FF, 8), *g = calloc(T * FF, 8), *u = calloc(T * FF, 8);
	float *kall = calloc(CTX * KN, 4), *vall = calloc(CTX * KN, 4), *qf = calloc(T * QN, 4);
	struct ember_ref rx, rxn, rn1, rn2, rwq, rwk, rwv, rwo, rwg, rwu, rwd, rq, rkn,
		rvn, rk, rv, ratt, rg, ru, rh;
	void *hx, *dummy;
	uint8_t *hk, *hv;
	struct ember_job job;
	int st;
	size_t bad = 0;
	double worst = 0;

	ASSERT_NE(NULL, wq);
	ASSERT_NE(NULL, qf);
	if (!abi_1_1(self->dev))
		SKIP(return, "firmware ABI below 1.1");
	for (int op = EMBER_OP_RMSNORM; op <= EMBER_OP_SWIGLU; op++)
		if (!ember_device_has_op(self->dev, op))
			SKIP(return, "device hides op %d (caps-ops-mask)", op);
	eref_seed(&r, 0x1a7e + T * 100 + P);

	/* device buffers and the host copies the reference uses */
	rx = arena_get(a, 4 * T * D, &hx);
	xh = hx;
	eref_fill(&r, xh, T * D, 1.0f);
	for (uint32_t i = 0; i < T * D; i++)
		x[i] = xh[i];
	rxn = arena_get(a, 4 * T * D, &dummy);
	rn1 = arena_get(a, 4 * D, (void **)&n1);
	rn2 = arena_get(a, 4 * D, (void **)&n2);
	eref_fill(&r, n1, D, 1.0f);
	eref_fill(&r, n2, D, 1.0f);
	for (uint32_t i = 0; i < D; i++) {	/* norm weights near 1 */
		n1[i] += 1.5f;
		n2[i] += 1.5f;
	}
	rwq = weight(a, &r, wd, QN, D, 0.2f, wq);
	rwk = weight(a, &r, wd, KN, D, 0.2f, wk);
	rwv = weight(a, &r, wd, KN, D, 0.2f, wv);
	rwo = weight(a, &r, wd, D, QN, 0.15f, wo);
	rwg = weight(a, &r, wd, FF, D, 0.2f, wg);
	rwu = weight(a, &r, wd, FF, D, 0.2f, wu);
	rwd = weight(a, &r, wd, D, FF, 0.1f, wdn);
	rq = arena_get(a, 4 * T * QN, &dummy);
	rkn = arena_get(a, 4 * T * KN, &dummy);
	rvn = arena_get(a, 4 * T * KN, &dummy);
	rk = arena_get(a, el * CTX * KN, (void **)&hk);
	rv = arena_get(a, el * CTX * KN, (void **)&hv);
	cache_k = kall;
	cache_v = vall;
	for (uint32_t p = 0; p < CTX; p++)	/* history, and junk after it */
		for (uint32_t i = 0; i < KN; i++) {
			float fk = eref_uniform(&r), fv = eref_uniform(&r);

			kv_store(kvd, hk + p * KN * el, i, fk);
			kv_store(kvd, hv + p * KN * el, i, fv);
			cache_k[p * KN + i] = kv_load(kvd, hk + p * KN * el, i);
			cache_v[p * KN + i] = kv_load(kvd, hv + p * KN * el, i);
		}
	ratt = arena_get(a, 4 * T * QN, &dummy);
	rg = arena_get(a, 4 * T * FF, &dummy);
	ru = arena_get(a, 4 * T * FF, &dummy);
	rh = arena_get(a, 4 * T * FF, &dummy);

	/* ---- the job ---- */
	ember_cmdbuf_begin(self->cb);
	{
		struct ember_rmsnorm_desc n = { .rows = T, .dim = D, .eps = eps,
			.flags = EMBER_RMSNORM_WEIGHT, .x = rx, .w = rn1, .out = rxn };
		struct ember_matmul_desc mq = { .m = T, .n = QN, .k = D, .w_dtype = wd,
			.a = rxn, .w = rwq, .c = rq };
		struct ember_matmul_desc mk = { .m = T, .n = KN, .k = D, .w_dtype = wd,
			.a = rxn, .w = rwk, .c = rkn };
		struct ember_matmul_desc mv = { .m = T, .n = KN, .k = D, .w_dtype = wd,
			.a = rxn, .w = rwv, .c = rvn };
		struct ember_attention_desc at = { .n_tok = T, .n_past = P,
			.n_head = NH, .n_kv_head = NKV, .head_dim = HD, .n_ctx = CTX,
			.kv_dtype = kvd, .q = rq, .k = rk, .v = rv, .out = ratt,
			.flags = rope_flags, .rope_dim = HD, .rope_freq_base = 10000.0f,
			.k_new = rkn, .v_new = rvn };
		struct ember_matmul_desc mo = { .m = T, .n = D, .k = QN, .w_dtype = wd,
			.flags = EMBER_MATMUL_ACCUMULATE, .a = ratt, .w = rwo, .c = rx };
		struct ember_rmsnorm_desc n2d = { .rows = T, .dim = D, .eps = eps,
			.flags = EMBER_RMSNORM_WEIGHT, .x = rx, .w = rn2, .out = rxn };
		struct ember_matmul_desc mg = { .m = T, .n = FF, .k = D, .w_dtype = wd,
			.a = rxn, .w = rwg, .c = rg };
		struct ember_matmul_desc mu = { .m = T, .n = FF, .k = D, .w_dtype = wd,
			.a = rxn, .w = rwu, .c = ru };
		struct ember_swiglu_desc sw = { .rows = T, .n = FF, .gate = rg,
			.up = ru, .out = rh };
		struct ember_matmul_desc md = { .m = T, .n = D, .k = FF, .w_dtype = wd,
			.flags = EMBER_MATMUL_ACCUMULATE, .a = rh, .w = rwd, .c = rx };

		ASSERT_EQ(0, ember_cmdbuf_rmsnorm(self->cb, &n)) TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_matmul(self->cb, &mq)) TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_matmul(self->cb, &mk)) TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_matmul(self->cb, &mv)) TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_attention(self->cb, &at)) TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_matmul(self->cb, &mo)) TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_rmsnorm(self->cb, &n2d)) TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_matmul(self->cb, &mg)) TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_matmul(self->cb, &mu)) TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_swiglu(self->cb, &sw)) TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_matmul(self->cb, &md)) TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_end(self->cb, &job));
	}
	ASSERT_EQ(1, job.bo_count);	/* one arena */
	st = run_job(self, &job);
	ASSERT_EQ(EMBER_JOB_OK, st) TH_LOG("layer job: %s (%d)",
					   st >= 0 ? ember_status_name(st) : "errno", st);

	/* ---- the reference ---- */
	ref_rmsnorm_d(T, D, x, n1, eps, xn);
	ref_mm(T, QN, D, xn, wq, q);
	ref_mm(T, KN, D, xn, wk, k);
	ref_mm(T, KN, D, xn, wv, v);
	for (uint32_t t = 0; t < T; t++) {
		eref_rope(q + t * QN, NH, HD, HD, P + t, 10000.0, variant->neox);
		eref_rope(k + t * KN, NKV, HD, HD, P + t, 10000.0, variant->neox);
		for (uint32_t i = 0; i < KN; i++) {
			kall[(P + t) * KN + i] = kv_round(kvd, k[t * KN + i]);
			vall[(P + t) * KN + i] = kv_round(kvd, v[t * KN + i]);
		}
		for (uint32_t i = 0; i < QN; i++)
			qf[t * QN + i] = (float)q[t * QN + i];
	}
	/* the appended cache rows, as the device wrote them */
	for (uint32_t p = 0; p < CTX; p++)
		for (uint32_t i = 0; i < KN; i++) {
			double dk = kv_load(kvd, hk + p * KN * el, i);
			double dv = kv_load(kvd, hv + p * KN * el, i);
			double ctol = kvd == EMBER_DTYPE_F16 ? 2e-3 : 1e-4;

			if (fabs(dk - kall[p * KN + i]) > ctol * (1 + fabs(kall[p * KN + i])) ||
			    fabs(dv - vall[p * KN + i]) > ctol * (1 + fabs(vall[p * KN + i]))) {
				if (bad++ < 3)
					TH_LOG("cache pos %u [%u]: K %g want %g, V %g want %g",
					       p, i, dk, kall[p * KN + i], dv, vall[p * KN + i]);
			}
		}
	eref_attention(T, P, NH, NKV, HD, 1.0f / sqrtf(HD), qf, QN, kall, vall, KN, att);
	ref_mm(T, D, QN, att, wo, tmp);
	for (uint32_t i = 0; i < T * D; i++)
		x[i] += tmp[i];
	ref_rmsnorm_d(T, D, x, n2, eps, xn);
	ref_mm(T, FF, D, xn, wg, g);
	ref_mm(T, FF, D, xn, wu, u);
	for (uint32_t i = 0; i < T * FF; i++)
		g[i] = eref_silu(g[i]) * u[i];
	ref_mm(T, D, FF, g, wdn, tmp);
	for (uint32_t i = 0; i < T * D; i++) {
		double ref = x[i] + tmp[i], got = xh[i];
		double err = fabs(got - ref) / (1 + fabs(ref));

		if (err > worst)
			worst = err;
		if (err > variant->tol && bad++ < 6)
			TH_LOG("x[%u][%u] = %.7g, reference %.7g", i / D, i % D, got, ref);
	}
	TH_LOG("layer n_tok=%u n_past=%u: worst relative error %.2e (tol %.0e)",
	       T, P, worst, variant->tol);
	EXPECT_EQ(0, bad);
	free(wq); free(wk); free(wv); free(wo); free(wg); free(wu); free(wdn);
	free(x); free(xn); free(q); free(k); free(v); free(att); free(tmp);
	free(g); free(u); free(kall); free(vall); free(qf);
}

/* ---- each new op alone -------------------------------------------------- */

static int check_close(struct __test_metadata *_metadata, const char *what,
		       const float *got, const double *ref, size_t n, double tol)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++)
		if (!(fabs(got[i] - ref[i]) <= tol * (1 + fabs(ref[i]))) && bad++ < 3)
			TH_LOG("%s[%zu] = %.9g, reference %.9g", what, i, got[i], ref[i]);
	return bad;
}

/* Run ROPE @d (packed f32 rows of @x, out in @got) as one job and check it
 * against the reference with @rope_dim and @base (what 0s in @d mean). */
static void check_rope(struct __test_metadata *_metadata,
		       struct _test_data_layer *self,
		       const struct ember_rope_desc *d, const float *x,
		       const float *got, uint32_t rope_dim, double base,
		       const char *what)
{
	uint32_t row = d->n_head * d->head_dim;
	struct ember_job job;
	double ref[512];

	ASSERT_GE(512, d->rows * row);
	ember_cmdbuf_begin(self->cb);
	ASSERT_EQ(0, ember_cmdbuf_rope(self->cb, d)) TH_LOG("%s", ember_errmsg(self->dev));
	ASSERT_EQ(0, ember_cmdbuf_end(self->cb, &job));
	ASSERT_EQ(EMBER_JOB_OK, run_job(self, &job));
	for (uint32_t t = 0; t < d->rows; t++) {
		for (uint32_t i = 0; i < row; i++)
			ref[t * row + i] = x[t * row + i];
		eref_rope(ref + t * row, d->n_head, d->head_dim, rope_dim,
			  d->pos0 + t, base, !!(d->flags & EMBER_ROPE_NEOX));
	}
	EXPECT_EQ(0, check_close(_metadata, what, got, ref, d->rows * row, 1e-5));
}

TEST_F_TIMEOUT(layer, single_ops, 300)
{
	struct arena *a = &self->ar;
	struct eref_rng r;
	struct ember_job job;
	float *x, *w, *o, *o2, *b;
	double ref[512];
	struct ember_ref rx, rw, ro, ro2, rb;
	int st;

	if (variant->n_tok != 1)
		SKIP(return, "runs once (decode_f32 variant)");
	if (!abi_1_1(self->dev))
		SKIP(return, "firmware ABI below 1.1");
	for (int op = EMBER_OP_RMSNORM; op <= EMBER_OP_COPY; op++)
		if (!ember_device_has_op(self->dev, op))
			SKIP(return, "device hides op %d (caps-ops-mask)", op);
	eref_seed(&r, 99);
	rx = arena_get(a, 4 * 512, (void **)&x);
	rw = arena_get(a, 4 * 512, (void **)&w);
	rb = arena_get(a, 4 * 512, (void **)&b);
	ro = arena_get(a, 4 * 512, (void **)&o);
	ro2 = arena_get(a, 4 * 512, (void **)&o2);
	eref_fill(&r, x, 512, 3.0f);
	eref_fill(&r, w, 512, 1.0f);
	eref_fill(&r, b, 512, 2.0f);

	/* RMSNORM, 3 rows of 100 (stride 128 floats), weighted */
	{
		struct ember_rmsnorm_desc d = { .rows = 3, .dim = 100, .eps = 1e-6f,
			.flags = EMBER_RMSNORM_WEIGHT, .x = rx, .x_stride = 512,
			.w = rw, .out = ro };

		ember_cmdbuf_begin(self->cb);
		ASSERT_EQ(0, ember_cmdbuf_rmsnorm(self->cb, &d)) TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_end(self->cb, &job));
		ASSERT_EQ(EMBER_JOB_OK, run_job(self, &job));
		eref_rmsnorm(3, 100, x, 128, w, 1e-6, ref);
		EXPECT_EQ(0, check_close(_metadata, "rmsnorm", o, ref, 300, 1e-5));
	}
	/* ROPE NEOX out of place (rope_dim 8 of 16), then NORM in place */
	{
		struct ember_rope_desc d = { .rows = 2, .n_head = 4, .head_dim = 16,
			.rope_dim = 8, .pos0 = 5, .flags = EMBER_ROPE_NEOX,
			.freq_base = 500000.0f, .x = rx, .out = ro };

		check_rope(_metadata, self, &d, x, o, 8, 500000.0, "rope neox");

		memcpy(o2, x, 4 * 128);
		d.x = ro2;
		d.out = ro2;
		d.flags = 0;
		d.rope_dim = 0;		/* head_dim */
		d.freq_base = 0;	/* 10000 */
		check_rope(_metadata, self, &d, x, o2, 16, 10000.0, "rope in place");
	}
	/* SWIGLU 2 x 70 and ADD 3 x 33 in one job */
	{
		struct ember_swiglu_desc s = { .rows = 2, .n = 70, .gate = rx,
			.gate_stride = 280, .up = rb, .out = ro };
		struct ember_add_desc d = { .rows = 3, .n = 33, .a = rx, .b = rb,
			.b_stride = 140, .out = ro2 };

		ember_cmdbuf_begin(self->cb);
		ASSERT_EQ(0, ember_cmdbuf_swiglu(self->cb, &s)) TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_add(self->cb, &d)) TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_end(self->cb, &job));
		ASSERT_EQ(EMBER_JOB_OK, run_job(self, &job));
		for (int i = 0; i < 140; i++)
			ref[i] = eref_silu(x[i]) * b[i];
		EXPECT_EQ(0, check_close(_metadata, "swiglu", o, ref, 140, 1e-5));
		for (int t = 0; t < 3; t++)
			for (int i = 0; i < 33; i++)
				ref[t * 33 + i] = (float)(x[t * 33 + i] + b[t * 35 + i]);
		EXPECT_EQ(0, check_close(_metadata, "add", o2, ref, 99, 0));
	}
	/* COPY F32 -> F16 (exact RNE) and F32 -> Q8_0 -> F32 (half a step) */
	{
		struct ember_copy_desc c1 = { .rows = 2, .n = 64,
			.src_dtype = EMBER_DTYPE_F32, .dst_dtype = EMBER_DTYPE_F16,
			.src = rx, .dst = ro };
		struct ember_copy_desc c2 = { .rows = 2, .n = 64,
			.src_dtype = EMBER_DTYPE_F32, .dst_dtype = EMBER_DTYPE_Q8_0,
			.src = rx, .dst = rw };
		struct ember_copy_desc c3 = { .rows = 2, .n = 64,
			.src_dtype = EMBER_DTYPE_Q8_0, .dst_dtype = EMBER_DTYPE_F32,
			.src = rw, .dst = ro2 };
		const uint16_t *h = (const uint16_t *)o;
		int bad = 0;

		ember_cmdbuf_begin(self->cb);
		ASSERT_EQ(0, ember_cmdbuf_copy(self->cb, &c1)) TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_copy(self->cb, &c2)) TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_copy(self->cb, &c3)) TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_end(self->cb, &job));
		st = run_job(self, &job);
		ASSERT_EQ(EMBER_JOB_OK, st);
		for (int i = 0; i < 128; i++)
			if (h[i] != eref_f32_to_f16(x[i]) && bad++ < 3)
				TH_LOG("f16[%d] = 0x%04x, want 0x%04x", i, h[i],
				       eref_f32_to_f16(x[i]));
		for (int blk = 0; blk < 4; blk++) {
			double amax = 0;

			for (int i = 0; i < 32; i++)
				amax = fmax(amax, fabs(x[blk * 32 + i]));
			for (int i = 0; i < 32; i++) {
				int j = blk * 32 + i;

				if (fabs(o2[j] - x[j]) > amax * 0.0045 && bad++ < 3)
					TH_LOG("q8_0 round trip [%d] = %g, was %g", j, o2[j], x[j]);
			}
		}
		EXPECT_EQ(0, bad);
	}
}

/* ---- ops hidden by caps-ops-mask ---------------------------------------- */

TEST_F_TIMEOUT(layer, masked_ops_unsupported, 120)
{
	struct arena *a = &self->ar;
	struct ember_job job;
	void *h;
	struct ember_ref rx = arena_get(a, 4096, &h), ro = arena_get(a, 4096, &h);
	uint64_t xva = ember_bo_va(rx.bo) + rx.offset;
	uint64_t ova = ember_bo_va(ro.bo) + ro.offset;
	int hidden = 0;

	if (variant->n_tok != 1)
		SKIP(return, "runs once (decode_f32 variant)");
	for (int op = EMBER_OP_RMSNORM; op <= EMBER_OP_COPY; op++) {
		union {
			struct ember_op_rmsnorm rn;
			struct ember_op_rope rp;
			struct ember_op_swiglu sw;
			struct ember_op_add add;
			struct ember_op_copy cp;
		} u;
		uint16_t size;
		int st;

		if (ember_device_has_op(self->dev, op))
			continue;
		hidden++;
		/* a descriptor the device would otherwise accept */
		memset(&u, 0, sizeof(u));
		switch (op) {
		case EMBER_OP_RMSNORM:
			size = sizeof(u.rn);
			u.rn = (struct ember_op_rmsnorm){ .rows = 1, .dim = 16, .eps = 1e-5f,
				.x_va = xva, .x_stride = 64, .out_va = ova, .out_stride = 64 };
			break;
		case EMBER_OP_ROPE:
			size = sizeof(u.rp);
			u.rp = (struct ember_op_rope){ .rows = 1, .n_head = 1, .head_dim = 16,
				.rope_dim = 16, .freq_base = 10000.0f, .x_va = xva,
				.x_stride = 64, .out_va = ova, .out_stride = 64 };
			break;
		case EMBER_OP_SWIGLU:
			size = sizeof(u.sw);
			u.sw = (struct ember_op_swiglu){ .rows = 1, .n = 16, .gate_va = xva,
				.gate_stride = 64, .up_va = xva, .up_stride = 64,
				.out_va = ova, .out_stride = 64 };
			break;
		case EMBER_OP_ADD:
			size = sizeof(u.add);
			u.add = (struct ember_op_add){ .rows = 1, .n = 16, .a_va = xva,
				.a_stride = 64, .b_va = xva, .b_stride = 64,
				.out_va = ova, .out_stride = 64 };
			break;
		default:
			size = sizeof(u.cp);
			u.cp = (struct ember_op_copy){ .rows = 1, .n = 16,
				.src_dtype = EMBER_DTYPE_F32, .dst_dtype = EMBER_DTYPE_F32,
				.src_va = xva, .src_stride = 64, .dst_va = ova,
				.dst_stride = 64 };
			break;
		}
		u.rn.hdr.opcode = (uint16_t)op;	/* the header leads every op */
		u.rn.hdr.size = size;
		ember_cmdbuf_begin(self->cb);
		ASSERT_EQ(0, ember_cmdbuf_nop(self->cb));
		ASSERT_EQ(0, ember_cmdbuf_raw(self->cb, &u, size));
		ASSERT_EQ(0, ember_cmdbuf_end(self->cb, &job));
		ASSERT_EQ(0, ember_job_add_bo(&job, ember_bo_handle(a->bo),
					      DRM_EMBER_BO_READ | DRM_EMBER_BO_WRITE));
		st = run_job(self, &job);
		EXPECT_EQ(EMBER_JOB_UNSUPPORTED, st) TH_LOG("hidden op %d: status %d", op, st);
		/* and libember refuses it on the host */
		if (op == EMBER_OP_SWIGLU) {
			struct ember_swiglu_desc d = { .rows = 1, .n = 16, .gate = rx,
				.up = rx, .out = ro };

			ember_cmdbuf_begin(self->cb);
			EXPECT_EQ(-EOPNOTSUPP, ember_cmdbuf_swiglu(self->cb, &d));
		}
	}
	if (!hidden)
		SKIP(return, "the device reports every op; run with -global ember-npu.caps-ops-mask=0x%x",
		     0xffu & ~(1u << EMBER_OP_SWIGLU));
	TH_LOG("%d hidden op(s) refused with UNSUPPORTED", hidden);
}

TEST_HARNESS_MAIN
