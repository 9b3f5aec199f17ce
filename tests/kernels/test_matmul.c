/* SPDX-License-Identifier: MIT */
/*
 * ek_matmul against a double reference over the weights as stored.
 * Tolerance per output, with S = sum_k |a_k w_k| and u = 2^-24:
 *   float weights:  (8 sqrt(K) + 16) u S            (f32 accumulation)
 *   block types:    the above + sum over blocks b of
 *                   0.5005 d_b sum_{k in b} |w_k|   (activations are
 *                   quantized to 8 bits, d_b = max_b |a| / 127),
 *                   with |a_k w_k| in S as |a_k| (|d q| + |m|) for the
 *                   types whose values are a sum d q + m
 * plus (8 sqrt(K) + 16) u (|bias| + |C|) (the GEMM starts from C when
 * accumulating, so every partial sum rounds at C's scale). Every executor (serial, pools of 1..4) must give
 * bitwise the same C, and the no-scratch path must meet the same bound.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kt.h"

struct mm_case {
	uint32_t m, n, k;
};

static const struct mm_case any_k[] = {
	{ 1, 1, 32 }, { 1, 5, 64 }, { 1, 33, 96 }, { 1, 64, 4096 },
	{ 1, 300, 256 }, { 2, 3, 32 }, { 3, 17, 128 }, { 4, 64, 320 },
	{ 5, 7, 1024 }, { 7, 100, 64 }, { 8, 48, 256 }, { 13, 31, 160 },
	{ 16, 16, 512 }, { 31, 65, 96 }, { 33, 40, 288 }, { 64, 128, 256 },
	{ 100, 96, 512 }, { 128, 130, 128 }, { 200, 77, 64 },
	{ 257, 129, 160 }, { 1, 1000, 2048 }, { 24, 1, 2048 },
};
static const struct mm_case float_k[] = {
	{ 1, 3, 1 }, { 3, 5, 7 }, { 9, 11, 37 }, { 64, 50, 100 },
	{ 130, 70, 1000 }, { 17, 300, 33 }, { 1, 17, 4099 },
	{ 300, 520, 700 }, { 600, 40, 72 },	/* M > 512: the tiled GEMM for f32 */
};

struct mm_data {
	struct ek_matmul p;
	float *a, *c0, *bias;
	void *w;
	double *ref, *tol;
};

static void mm_setup(struct mm_data *d, struct kt_rng *rng,
		     const struct mm_case *mc, int dtype, int variant)
{
	struct ek_matmul *p = &d->p;
	size_t wrow = ek_row_size(dtype, mc->k);
	float *wf = kt_alloc((size_t)mc->k * 4);

	memset(p, 0, sizeof(*p));
	p->m = mc->m;
	p->n = mc->n;
	p->k = mc->k;
	p->w_dtype = dtype;
	p->a_stride = (size_t)mc->k * 4 + (variant & 1 ? 20 : 0);
	p->w_stride = wrow + (variant & 2 ? 64 : 0);
	p->c_stride = (size_t)mc->n * 4 + (variant & 1 ? 12 : 0);
	p->accumulate = variant & 4;
	d->a = kt_alloc(p->a_stride * mc->m);
	d->w = kt_alloc(p->w_stride * mc->n);
	d->c0 = kt_alloc(p->c_stride * mc->m);
	d->bias = kt_alloc((size_t)mc->n * 4);
	d->ref = kt_alloc((size_t)mc->m * mc->n * sizeof(double));
	d->tol = kt_alloc((size_t)mc->m * mc->n * sizeof(double));
	for (uint32_t m = 0; m < mc->m; m++) {
		float *a = (float *)((char *)d->a + m * p->a_stride);

		kt_fill(rng, a, mc->k, m % 3 ? 1.0f : 0.01f);
		kt_fill(rng, (float *)((char *)d->c0 + m * p->c_stride),
			mc->n, 1.0f);
	}
	for (uint32_t n = 0; n < mc->n; n++) {
		kt_fill(rng, wf, mc->k, 0.05f);
		ek_quantize_row(dtype, wf, (char *)d->w + n * p->w_stride,
				mc->k);
	}
	kt_fill(rng, d->bias, mc->n, 1.0f);
	p->a = d->a;
	p->w = d->w;
	p->bias = variant & 8 ? d->bias : NULL;
	kt_free(wf);

	/* reference and bound */
	bool quant = ek_dtype_block(dtype) > 1;
	double u = ldexp(1, -24);

	for (uint32_t m = 0; m < mc->m; m++) {
		const float *a = (const float *)((char *)d->a + m * p->a_stride);
		const float *c = (const float *)((char *)d->c0 + m * p->c_stride);

		for (uint32_t n = 0; n < mc->n; n++) {
			const void *w = (const char *)d->w + n * p->w_stride;
			double s = 0, sa = 0, qerr = 0;

			for (uint32_t b = 0; b < mc->k; b += 32) {
				uint32_t e = b + 32 < mc->k ? b + 32 : mc->k;
				double amax = 0, sw = 0;

				for (uint32_t k = b; k < e; k++) {
					double wk = kt_weight(dtype, w, k);

					s += a[k] * wk;
					sa += fabs(a[k]) *
					      kt_weight_mag(dtype, w, k);
					sw += fabs(wk);
					amax = fmax(amax, fabs(a[k]));
				}
				if (quant)
					qerr += 0.5005 * amax / 127.0 * sw;
			}
			double extra = 0;

			if (p->bias) {
				s += d->bias[n];
				extra += fabs(d->bias[n]);
			}
			if (p->accumulate) {
				s += c[n];
				extra += fabs(c[n]);
			}
			d->ref[(size_t)m * mc->n + n] = s;
			d->tol[(size_t)m * mc->n + n] =
				(8 * sqrt(mc->k) + 16) * u * sa + qerr +
				(8 * sqrt(mc->k) + 16) * u * extra +
				4 * u * fabs(s) + 1e-30;
		}
	}
}

static void mm_free(struct mm_data *d)
{
	kt_free(d->a);
	kt_free(d->w);
	kt_free(d->c0);
	kt_free(d->bias);
	kt_free(d->ref);
	kt_free(d->tol);
}

/* Run on ex into a fresh C (initialised from c0); returns C. */
static float *mm_run(struct mm_data *d, const struct ek_exec *ex,
		     bool use_scratch)
{
	struct ek_matmul p = d->p;
	size_t cbytes = p.c_stride * p.m;
	float *c = kt_alloc(cbytes);
	size_t ss = ek_matmul_scratch_size(&p, ex->nthreads);
	void *scratch = use_scratch && ss ? kt_alloc(ss) : NULL;

	memcpy(c, d->c0, cbytes);
	p.c = c;
	ek_matmul(ex, &p, scratch);
	kt_free(scratch);
	return c;
}

static void mm_check(struct kt *t, const struct mm_data *d, const float *c,
		     const char *what)
{
	const struct ek_matmul *p = &d->p;
	/* the scratch size depends on the shape only (kernels.h) */
	const struct ek_matmul shape = {
		.m = p->m, .n = p->n, .k = p->k, .w_dtype = p->w_dtype,
	};

	for (int nt = 1; nt <= 4; nt++)
		KT_CHECK(t, ek_matmul_scratch_size(&shape, nt) ==
			    ek_matmul_scratch_size(p, nt),
			 "scratch size of %s M=%u N=%u K=%u, %d threads: "
			 "%zu without pointers, %zu with", ek_dtype_name(p->w_dtype),
			 p->m, p->n, p->k, nt, ek_matmul_scratch_size(&shape, nt),
			 ek_matmul_scratch_size(p, nt));

	for (uint32_t m = 0; m < p->m; m++) {
		const float *row = (const float *)((const char *)c +
						   m * p->c_stride);

		for (uint32_t n = 0; n < p->n; n++) {
			double ref = d->ref[(size_t)m * p->n + n];
			double tol = d->tol[(size_t)m * p->n + n];

			KT_CHECK(t, fabs(row[n] - ref) <= tol,
				 "matmul %s %s M=%u N=%u K=%u bias=%d acc=%d "
				 "C[%u][%u]=%.9g ref %.9g tol %.3g", what,
				 ek_dtype_name(p->w_dtype), p->m, p->n, p->k,
				 p->bias != NULL, p->accumulate, m, n, row[n],
				 ref, tol);
		}
		/* the padding between rows is never written */
		if (p->c_stride > p->n * 4) {
			const float *c0 = (const float *)((const char *)d->c0 +
							  m * p->c_stride);

			KT_CHECK(t, !memcmp(row + p->n, c0 + p->n,
					    p->c_stride - p->n * 4),
				 "matmul wrote past row end (M=%u N=%u)", p->m,
				 p->n);
		}
	}
}

/* A quantized matmul gives each row of A the same bits whether it runs in
 * a batch (prefill tiles) or alone (decode): the runtime relies on it. */
static void mm_check_rows_alone(struct kt *t, struct mm_data *d,
				const struct ek_exec *ex, const float *batch)
{
	struct ek_matmul whole = d->p;

	for (uint32_t m = 0; m < whole.m; m++) {
		d->p.m = 1;
		d->p.a = (const float *)((const char *)whole.a +
					 m * whole.a_stride);
		d->p.c = (float *)((char *)whole.c + m * whole.c_stride);
		float *c0 = d->c0;

		d->c0 = (float *)((char *)c0 + m * whole.c_stride);
		float *c = mm_run(d, ex, true);

		d->c0 = c0;
		KT_CHECK(t, !memcmp(c, (const char *)batch + m * whole.c_stride,
				    whole.n * 4),
			 "matmul %s M=%u N=%u K=%u: row %u alone differs from "
			 "the batch", ek_dtype_name(whole.w_dtype), whole.m,
			 whole.n, whole.k, m);
		kt_free(c);
	}
	d->p = whole;
}

/*
 * X16: rows r0..r0 + n of the packed W (w_row0, w_rows), as a thread of a
 * team computes its share, equal those rows of the whole product bitwise
 * (bias and accumulate included); views that do not fit are refused
 * without touching C.
 */
static void mm_check_views(struct kt *t, struct mm_data *d,
			   const struct ek_exec *ex, const float *whole_c)
{
	struct ek_matmul whole = d->p;
	size_t ss = ek_matmul_scratch_size(&whole, ex->nthreads);
	void *scratch = kt_alloc(ss ? ss : 1);
	float *c = kt_alloc(whole.c_stride * whole.m);

	const uint32_t starts[4] = { 0, 16, whole.n / 32 * 16,
				     (whole.n - 1) / 16 * 16 };

	for (int si = 0; si < 4; si++)
		for (uint32_t r0 = starts[si], len = 1; r0 + len <= whole.n;
		     len += len < 8 ? 3 : 29) {
			struct ek_matmul v = whole;

			memcpy(c, d->c0, whole.c_stride * whole.m);
			v.w_row0 = r0;
			v.w_rows = whole.n;
			v.n = len;
			v.c = c + r0;
			v.bias = whole.bias ? whole.bias + r0 : NULL;
			ek_matmul(ex, &v, scratch);
			for (uint32_t m = 0; m < whole.m; m++)
				KT_CHECK(t, !memcmp((const char *)c + m * whole.c_stride + r0 * 4,
						    (const char *)whole_c + m * whole.c_stride +
						    r0 * 4, len * 4),
					 "matmul x16 %s M=%u N=%u K=%u: rows %u..%u as a view "
					 "differ from the whole", ek_dtype_name(whole.w_dtype),
					 whole.m, whole.n, whole.k, r0, r0 + len);
		}
	{
		struct ek_matmul bad[3] = { whole, whole, whole };

		bad[0].w_row0 = 4;	/* not a group boundary */
		bad[0].n = 1;
		bad[1].w_row0 = 16;	/* past the end of W */
		bad[1].w_rows = whole.n;
		bad[2].w_layout = EK_LAYOUT_ROWS;	/* views are X16 only */
		bad[2].w_row0 = 16;
		for (int i = 0; i < 3; i++) {
			memcpy(c, d->c0, whole.c_stride * whole.m);
			bad[i].c = c;
			ek_matmul(ex, &bad[i], scratch);
			KT_CHECK(t, !memcmp(c, d->c0, whole.c_stride * whole.m) &&
				 !ek_matmul_scratch_size(&bad[i], 1),
				 "matmul view %d of %s N=%u is refused", i,
				 ek_dtype_name(whole.w_dtype), whole.n);
		}
	}
	kt_free(c);
	kt_free(scratch);
}

/* The weights to the X16 layout (d->w keeps the rows for the reference);
 * every row reads back as its GGUF row does. Returns the X16 copy. */
static void *mm_to_x16(struct kt *t, struct mm_data *d)
{
	struct ek_matmul *p = &d->p;
	size_t size = ek_x16_size(p->w_dtype, p->n, p->k);
	void *x16 = kt_alloc(size ? size : 1);
	float *want = kt_alloc((size_t)p->k * 4), *got = kt_alloc((size_t)p->k * 4);

	KT_CHECK(t, size == (p->n + EK_X16_ROWS - 1) / EK_X16_ROWS * EK_X16_ROWS *
		    ek_row_size(p->w_dtype, p->k),
		 "x16 size of %s N=%u K=%u: %zu", ek_dtype_name(p->w_dtype),
		 p->n, p->k, size);
	KT_CHECK(t, ek_x16_pack(p->w_dtype, d->w, p->w_stride, p->n, p->k, x16),
		 "x16 pack of %s N=%u K=%u", ek_dtype_name(p->w_dtype), p->n, p->k);
	{
		/* in three parts (as a loader's threads do): the same bytes */
		uint64_t g = (p->n + EK_X16_ROWS - 1) / EK_X16_ROWS;
		uint8_t *parts = kt_alloc(size ? size : 1);
		bool ok = true;

		memset(parts, 0xa5, size);
		for (int i = 0; i < 3; i++)
			ok &= ek_x16_pack_part(p->w_dtype, d->w, p->w_stride, p->n, p->k,
					      g * i / 3, g * (i + 1) / 3, parts);
		KT_CHECK(t, ok && !memcmp(parts, x16, size),
			 "x16 pack in parts of %s N=%u K=%u differs", ek_dtype_name(p->w_dtype),
			 p->n, p->k);
		KT_CHECK(t, !ek_x16_pack_part(p->w_dtype, d->w, p->w_stride, p->n, p->k,
					     0, g + 1, parts),
			 "x16 pack past the last group is refused");
		kt_free(parts);
	}
	for (uint32_t n = 0; n < p->n; n++) {
		ek_dequantize_row(p->w_dtype, (const char *)d->w + n * p->w_stride,
				  want, p->k);
		KT_CHECK(t, ek_x16_dequantize_row(p->w_dtype, x16, p->n, p->k, n, got) &&
			    !memcmp(want, got, (size_t)p->k * 4),
			 "x16 row %u of %s N=%u K=%u reads back differently", n,
			 ek_dtype_name(p->w_dtype), p->n, p->k);
	}
	KT_CHECK(t, !ek_x16_dequantize_row(p->w_dtype, x16, p->n, p->k, p->n, got),
		 "x16 row past the end is refused");
	kt_free(want);
	kt_free(got);
	p->w = x16;
	p->w_layout = EK_LAYOUT_X16;
	return x16;
}

static void mm_case_run(struct kt *t, struct kt_execs *e, struct kt_rng *rng,
			const struct mm_case *mc, int dtype, int variant,
			int layout)
{
	struct mm_data d;
	void *x16 = NULL;
	float *first;

	mm_setup(&d, rng, mc, dtype, variant);
	if (layout == EK_LAYOUT_X16)
		x16 = mm_to_x16(t, &d);
	first = mm_run(&d, &e->ex[0], true);
	mm_check(t, &d, first, "serial");
	if (ek_dtype_block(dtype) > 1)
		mm_check_rows_alone(t, &d, &e->ex[0], first);
	if (x16) {
		mm_check_views(t, &d, &e->ex[0], first);
		mm_check_views(t, &d, &e->ex[2], first);
	}
	for (int i = 1; i <= KT_MAX_POOL; i++) {
		float *c = mm_run(&d, &e->ex[i], true);

		KT_CHECK(t, !memcmp(c, first, d.p.c_stride * d.p.m),
			 "matmul %s M=%u N=%u K=%u: %d threads differ from 1",
			 ek_dtype_name(dtype), mc->m, mc->n, mc->k, i);
		kt_free(c);
	}
	{
		float *c = mm_run(&d, &e->ex[2], false);

		if (x16)	/* X16 needs the scratch: C stays as it was */
			KT_CHECK(t, !memcmp(c, d.c0, d.p.c_stride * d.p.m),
				 "matmul x16 without scratch wrote C");
		else
			mm_check(t, &d, c, "no-scratch");
		kt_free(c);
	}
	kt_free(first);
	kt_free(x16);
	mm_free(&d);
}

/* ek_matmul_group over Q/K/V-like shapes (same A, different N, bias on
 * one, accumulate on another) equals separate ek_matmul calls bitwise. */
static void mm_group_case(struct kt *t, struct kt_execs *e,
			  struct kt_rng *rng, int dtype, uint32_t m, uint32_t k,
			  int layout)
{
	const struct mm_case cs[3] = { { m, 96, k }, { m, 32, k }, { m, 33, k } };
	struct mm_data d[3];
	struct ek_matmul ps[3];
	void *x16[3] = { NULL, NULL, NULL };

	for (int x = 0; x < 3; x++) {
		mm_setup(&d[x], rng, &cs[x], dtype, x == 2 ? 4 : 0);
		if (layout == EK_LAYOUT_X16)
			x16[x] = mm_to_x16(t, &d[x]);
		ps[x] = d[x].p;
		ps[x].a = d[0].p.a;
		ps[x].a_stride = d[0].p.a_stride;
		ps[x].bias = x == 1 ? d[x].bias : NULL;
	}
	for (int i = 0; i <= KT_MAX_POOL; i++) {
		size_t ss = 0;
		float *sep[3], *grp[3];

		for (int x = 0; x < 3; x++) {
			size_t sx = ek_matmul_scratch_size(&ps[x], e->ex[i].nthreads);

			ss = sx > ss ? sx : ss;
		}
		void *scratch = ss ? kt_alloc(ss) : NULL;

		for (int x = 0; x < 3; x++) {
			size_t cb = ps[x].c_stride * m;

			sep[x] = kt_alloc(cb);
			grp[x] = kt_alloc(cb);
			memcpy(sep[x], d[x].c0, cb);
			memcpy(grp[x], d[x].c0, cb);
			d[x].p = ps[x];
			d[x].p.c = sep[x];
			ek_matmul(&e->ex[i], &d[x].p, scratch);
			ps[x].c = grp[x];
		}
		ek_matmul_group(&e->ex[i], ps, 3, scratch);
		for (int x = 0; x < 3; x++) {
			KT_CHECK(t, !memcmp(sep[x], grp[x], ps[x].c_stride * m),
				 "matmul group %s%s M=%u K=%u, %d threads: member %d "
				 "differs from ek_matmul", ek_dtype_name(dtype),
				 layout == EK_LAYOUT_X16 ? " x16" : "", m, k,
				 e->ex[i].nthreads, x);
			kt_free(sep[x]);
			kt_free(grp[x]);
		}
		kt_free(scratch);
	}
	for (int x = 0; x < 3; x++) {
		kt_free(x16[x]);
		mm_free(&d[x]);
	}
}

void kt_mm_case(struct kt *t, struct kt_execs *e, struct kt_rng *rng,
		uint32_t m, uint32_t n, uint32_t k, int dtype, int variant)
{
	const struct mm_case mc = { m, n, k };

	mm_case_run(t, e, rng, &mc, dtype, variant, EK_LAYOUT_ROWS);
}

void kt_mm_group_case(struct kt *t, struct kt_execs *e, struct kt_rng *rng,
		      int dtype, uint32_t m, uint32_t k)
{
	mm_group_case(t, e, rng, dtype, m, k, EK_LAYOUT_ROWS);
}

void kt_test_matmul(struct kt *t, struct kt_execs *e)
{
	static const int dtypes[] = { EK_F32, EK_F16, EK_BF16, EK_Q8_0,
				      EK_Q4_0 };
	struct kt_rng rng = { 0x5eed0001ull };
	int variant = 0;

	for (size_t di = 0; di < 5; di++) {
		bool quant = dtypes[di] == EK_Q8_0 || dtypes[di] == EK_Q4_0;

		for (size_t i = 0; i < sizeof(any_k) / sizeof(any_k[0]); i++) {
			mm_case_run(t, e, &rng, &any_k[i], dtypes[di],
				    variant++ & 15, EK_LAYOUT_ROWS);
			if (quant)
				mm_case_run(t, e, &rng, &any_k[i], dtypes[di],
					    variant++ & 15, EK_LAYOUT_X16);
		}
		if (quant)
			continue;
		for (size_t i = 0; i < sizeof(float_k) / sizeof(float_k[0]); i++)
			mm_case_run(t, e, &rng, &float_k[i], dtypes[di],
				    variant++ & 15, EK_LAYOUT_ROWS);
	}
	for (size_t di = 0; di < 5; di++)
		for (uint32_t m = 1; m <= 9; m += 4) {
			mm_group_case(t, e, &rng, dtypes[di], m, di == 0 ? 100 : 320,
				      EK_LAYOUT_ROWS);
			if (di >= 3)
				mm_group_case(t, e, &rng, dtypes[di], m, 352,
					      EK_LAYOUT_X16);
		}
	/* f32 at prefill M: one packed A for the group (the in-place GEMM) */
	for (uint32_t m = 32; m <= 70; m += 38)
		mm_group_case(t, e, &rng, EK_F32, m, 100, EK_LAYOUT_ROWS);
	KT_CHECK(t, !ek_x16_size(EK_F32, 4, 32) && !ek_x16_size(EK_Q8_0, 4, 48) &&
		    !ek_x16_size(EK_Q4_0, 0, 32) && !ek_x16_preferred(EK_F16),
		 "x16 is for Q8_0 / Q4_0 rows of whole blocks only");
	/* invalid shapes are refused without touching C */
	{
		float a[64] = { 0 }, c[4] = { 1, 2, 3, 4 };
		uint8_t w[68] = { 0 };
		struct ek_matmul p = { .m = 1, .n = 1, .k = 48, .a = a,
				       .a_stride = 192, .w = w,
				       .w_dtype = EK_Q8_0, .w_stride = 68,
				       .c = c, .c_stride = 16 };

		ek_matmul(&ek_exec_serial, &p, NULL);
		KT_CHECK(t, c[0] == 1, "matmul with K %% 32 != 0 on Q8_0");
		p.w_dtype = 5;
		p.k = 32;
		ek_matmul(&ek_exec_serial, &p, NULL);
		KT_CHECK(t, c[0] == 1, "matmul with unknown dtype");
		KT_CHECK(t, ek_matmul_scratch_size(&p, 2) == 0,
			 "no scratch for invalid matmul");
	}
	kt_test_matmul_blocks(t, e);
}
