// SPDX-License-Identifier: MIT
/*
 * ABI 1.1 ops through ember_fw_run_job against plain double-precision
 * references: RMSNORM, ROPE (NORM/NEOX, partial, in place and not),
 * SWIGLU, ADD, COPY (every conversion), and ATTENTION with APPEND_KV and
 * ROPE. Tolerances are per check below; strided layouts with padding, whose
 * gap bytes must stay untouched, and odd shapes throughout.
 */
#include <math.h>
#include <stdlib.h>

#include "ember/kernels.h"
#include "test_ops.h"
#include "test_util.h"

#define SENTINEL 0x5au

struct env {
	struct fake_dev dev;
	struct fake_heap heap;
	bool threaded;
};

static bool env_init(struct env *e, size_t npages, bool threaded)
{
	e->threaded = threaded;
	if (!fake_dev_init(&e->dev, npages, threaded, 3))
		return false;
	fake_heap_init(&e->heap, &e->dev);
	return true;
}

static uint64_t alloc_fill(struct env *e, uint64_t len)
{
	uint64_t va = fake_alloc(&e->heap, len, 64);

	memset(fake_dev_ptr(&e->dev, va), SENTINEL, len);
	return va;
}

/* Random f32 rows; the gaps keep SENTINEL. */
static void fill_rows(struct env *e, struct rng *r, uint64_t va, uint32_t rows,
		      uint32_t n, uint64_t stride, float scale)
{
	for (uint32_t i = 0; i < rows; i++)
		for (uint32_t j = 0; j < n; j++) {
			float f = rng_unit(r) * scale;

			memcpy((uint8_t *)fake_dev_ptr(&e->dev, va + i * stride) + 4 * j,
			       &f, 4);
		}
}

static float get_f(struct env *e, uint64_t va, uint64_t row, uint64_t stride,
		   uint32_t j)
{
	float f;

	memcpy(&f, (uint8_t *)fake_dev_ptr(&e->dev, va + row * stride) + 4 * j, 4);
	return f;
}

/* Bytes [row_bytes, stride) of every row but the last are SENTINEL. */
static bool gaps_untouched(struct env *e, uint64_t va, uint32_t rows,
			   uint64_t row_bytes, uint64_t stride)
{
	for (uint32_t i = 0; i + 1 < rows; i++) {
		const uint8_t *p = fake_dev_ptr(&e->dev, va + i * stride);

		for (uint64_t b = row_bytes; b < stride; b++)
			if (p[b] != SENTINEL)
				return false;
	}
	return true;
}

/* The last job's result and stream size, for the byte-count checks. */
static struct ember_job_result last_res;
static uint32_t last_stream;

static uint32_t run1(struct env *e, const void *op, uint32_t len,
		     const char *what)
{
	struct stream s = { .size = 0 };
	struct ember_hal hal = fake_dev_hal(&e->dev, ALL_OPS, ALL_DTYPES);
	struct ember_job_result res;
	uint64_t cmd;

	stream_add(&s, op, len);
	cmd = stream_upload(&e->heap, &s);
	ember_fw_run_job(&hal, 0, cmd, s.size, &res);
	last_res = res;
	last_stream = s.size;
	CHECK(res.status == EMBER_JOB_OK && res.ops == 1,
	      "%s: status %u op %u ops %llu", what, res.status, res.fault_op,
	      (unsigned long long)res.ops);
	CHECK(fake_dev_live_maps(&e->dev) == 0 && e->dev.errors == 0 &&
	      e->dev.max_parallel_n <= e->dev.nthreads,
	      "%s: %u mappings left, %u HAL misuses, parallel n %d", what,
	      fake_dev_live_maps(&e->dev), e->dev.errors,
	      e->dev.max_parallel_n);
	return res.status;
}

static bool close_rel(double got, double ref, double tol)
{
	return fabs(got - ref) <= tol * (1.0 + fabs(ref));
}

/* ---- RMSNORM: tolerance 2e-5 * (1 + |ref|) --------------------------- */
static void test_rmsnorm(uint32_t rows, uint32_t dim, bool weight, bool threaded)
{
	struct env e;
	struct rng r = { 0x1234 + dim + rows };
	uint64_t xs = 4ull * dim + 12, os = 4ull * dim + 8;
	uint64_t x, w, out;
	struct ember_op_rmsnorm op;
	char what[96];
	int bad = 0;

	snprintf(what, sizeof(what), "rmsnorm rows=%u dim=%u w=%d %s", rows,
		 dim, weight, threaded ? "threaded" : "serial");
	if (!env_init(&e, (xs + os) * rows / 4096 + 64, threaded)) {
		CHECK(0, "oom");
		return;
	}
	x = alloc_fill(&e, xs * rows);
	w = alloc_fill(&e, 4ull * dim);
	out = alloc_fill(&e, os * rows);
	fill_rows(&e, &r, x, rows, dim, xs, 3.0f);
	fill_rows(&e, &r, w, 1, dim, 0, 2.0f);
	memset(&op, 0, sizeof(op));
	op_hdr_init(&op.hdr, EMBER_OP_RMSNORM, sizeof(op));
	op.hdr.flags = weight ? EMBER_RMSNORM_WEIGHT : 0;
	op.rows = rows;
	op.dim = dim;
	op.eps = 1e-6f;
	op.x_va = x;
	op.x_stride = xs;
	op.w_va = weight ? w : 0;
	op.out_va = out;
	op.out_stride = os;
	if (run1(&e, &op, sizeof(op), what) == EMBER_JOB_OK) {
		for (uint32_t i = 0; i < rows; i++) {
			double ss = 0;

			for (uint32_t j = 0; j < dim; j++) {
				double v = get_f(&e, x, i, xs, j);

				ss += v * v;
			}
			double inv = 1.0 / sqrt(ss / dim + 1e-6);

			for (uint32_t j = 0; j < dim && bad < 5; j++) {
				double ref = get_f(&e, x, i, xs, j) * inv *
					     (weight ? get_f(&e, w, 0, 0, j) : 1.0);
				double got = get_f(&e, out, i, os, j);

				if (!close_rel(got, ref, 2e-5)) {
					CHECK(0, "%s: [%u][%u] got %g want %g", what,
					      i, j, got, ref);
					bad++;
				}
			}
		}
		CHECK(gaps_untouched(&e, out, rows, 4ull * dim, os),
		      "%s: row gaps written", what);
	}
	fake_dev_free(&e.dev);
}

/* ---- ROPE: reference rotation in double; tolerance 1e-5 absolute ---- */
static void ref_rope(double *x, uint32_t n_head, uint32_t hd, uint32_t rd,
		     double pos, double base, bool neox)
{
	for (uint32_t h = 0; h < n_head; h++) {
		double *v = x + (size_t)h * hd;

		for (uint32_t i = 0; i < rd / 2; i++) {
			double th = pos * pow(base, -2.0 * i / rd);
			uint32_t a = neox ? i : 2 * i, b = neox ? i + rd / 2 : 2 * i + 1;
			double x0 = v[a], x1 = v[b];

			v[a] = x0 * cos(th) - x1 * sin(th);
			v[b] = x0 * sin(th) + x1 * cos(th);
		}
	}
}

static void test_rope(uint32_t rows, uint32_t n_head, uint32_t hd, uint32_t rd,
		      uint32_t pos0, bool neox, bool in_place, bool threaded)
{
	struct env e;
	struct rng r = { 77 + rows * 31 + hd };
	uint32_t n = n_head * hd;
	uint64_t xs = 4ull * n + 16, os = in_place ? xs : 4ull * n + 4;
	uint64_t x, out;
	double *ref = calloc(n, sizeof(double));
	float *orig = calloc((size_t)rows * n, sizeof(float));
	struct ember_op_rope op;
	char what[128];
	int bad = 0;

	snprintf(what, sizeof(what), "rope rows=%u heads=%u hd=%u rd=%u pos0=%u %s%s %s",
		 rows, n_head, hd, rd, pos0, neox ? "NEOX" : "NORM",
		 in_place ? " in place" : "", threaded ? "threaded" : "serial");
	if (!ref || !orig || !env_init(&e, (xs + os) * rows / 4096 + 64, threaded)) {
		CHECK(0, "oom");
		free(ref);
		free(orig);
		return;
	}
	x = alloc_fill(&e, xs * rows);
	out = in_place ? x : alloc_fill(&e, os * rows);
	fill_rows(&e, &r, x, rows, n, xs, 1.0f);
	for (uint32_t i = 0; i < rows; i++)
		for (uint32_t j = 0; j < n; j++)
			orig[(size_t)i * n + j] = get_f(&e, x, i, xs, j);
	memset(&op, 0, sizeof(op));
	op_hdr_init(&op.hdr, EMBER_OP_ROPE, sizeof(op));
	op.hdr.flags = neox ? EMBER_ROPE_NEOX : 0;
	op.rows = rows;
	op.n_head = n_head;
	op.head_dim = hd;
	op.rope_dim = rd;
	op.pos0 = pos0;
	op.freq_base = 10000.0f;
	op.x_va = x;
	op.x_stride = xs;
	op.out_va = out;
	op.out_stride = os;
	if (run1(&e, &op, sizeof(op), what) == EMBER_JOB_OK) {
		uint64_t span_x = (rows - 1) * xs + 4ull * n;
		uint64_t span_o = (rows - 1) * os + 4ull * n;

		/* in place: one read-write mapping; else x read, out written */
		CHECK_EQ_U64(last_res.bytes_read, last_stream + span_x, what);
		CHECK_EQ_U64(last_res.bytes_written, span_o, what);
		for (uint32_t i = 0; i < rows; i++) {
			for (uint32_t j = 0; j < n; j++)
				ref[j] = orig[(size_t)i * n + j];
			ref_rope(ref, n_head, hd, rd, (double)pos0 + i, 10000.0, neox);
			for (uint32_t j = 0; j < n && bad < 5; j++) {
				double got = get_f(&e, out, i, os, j);
				bool pass = j % hd >= rd ? got == ref[j]
							 : fabs(got - ref[j]) <= 1e-5;

				if (!pass) {
					CHECK(0, "%s: [%u][%u] got %.9g want %.9g",
					      what, i, j, got, ref[j]);
					bad++;
				}
				if (!in_place && get_f(&e, x, i, xs, j) !=
						 orig[(size_t)i * n + j] && bad < 5) {
					CHECK(0, "%s: input modified", what);
					bad++;
				}
			}
		}
		CHECK(gaps_untouched(&e, out, rows, 4ull * n, os),
		      "%s: row gaps written", what);
	}
	free(ref);
	free(orig);
	fake_dev_free(&e.dev);
}

/* ---- SWIGLU (tolerance 1e-5 * (1 + |ref|)) and ADD (exact) ----------- */
static void test_binary(bool swiglu, uint32_t rows, uint32_t n, bool threaded)
{
	struct env e;
	struct rng r = { 99 + n };
	uint64_t as = 4ull * n + 4, bs = 4ull * n + 36, os = 4ull * n + 8;
	uint64_t a, b, out;
	char what[96];
	int bad = 0;

	snprintf(what, sizeof(what), "%s rows=%u n=%u %s",
		 swiglu ? "swiglu" : "add", rows, n,
		 threaded ? "threaded" : "serial");
	if (!env_init(&e, (as + bs + os) * rows / 4096 + 64, threaded)) {
		CHECK(0, "oom");
		return;
	}
	a = alloc_fill(&e, as * rows);
	b = alloc_fill(&e, bs * rows);
	out = alloc_fill(&e, os * rows);
	fill_rows(&e, &r, a, rows, n, as, 8.0f);
	fill_rows(&e, &r, b, rows, n, bs, 4.0f);
	if (swiglu) {
		struct ember_op_swiglu op;

		memset(&op, 0, sizeof(op));
		op_hdr_init(&op.hdr, EMBER_OP_SWIGLU, sizeof(op));
		op.rows = rows;
		op.n = n;
		op.gate_va = a;
		op.gate_stride = as;
		op.up_va = b;
		op.up_stride = bs;
		op.out_va = out;
		op.out_stride = os;
		run1(&e, &op, sizeof(op), what);
	} else {
		struct ember_op_add op;

		memset(&op, 0, sizeof(op));
		op_hdr_init(&op.hdr, EMBER_OP_ADD, sizeof(op));
		op.rows = rows;
		op.n = n;
		op.a_va = a;
		op.a_stride = as;
		op.b_va = b;
		op.b_stride = bs;
		op.out_va = out;
		op.out_stride = os;
		run1(&e, &op, sizeof(op), what);
	}
	for (uint32_t i = 0; i < rows; i++)
		for (uint32_t j = 0; j < n && bad < 5; j++) {
			double g = get_f(&e, a, i, as, j), u = get_f(&e, b, i, bs, j);
			double got = get_f(&e, out, i, os, j);
			bool pass = swiglu ? close_rel(got, g / (1.0 + exp(-g)) * u, 1e-5)
					   : got == (double)(float)(g + u);

			if (!pass) {
				CHECK(0, "%s: [%u][%u] got %.9g (a %g b %g)", what, i,
				      j, got, g, u);
				bad++;
			}
		}
	CHECK(gaps_untouched(&e, out, rows, 4ull * n, os), "%s: row gaps written",
	      what);
	fake_dev_free(&e.dev);
}

/* ---- COPY ------------------------------------------------------------ */

/* Decode element j of a row of @dtype, written from the format spec. */
static double ref_decode(int dtype, const uint8_t *row, uint32_t j)
{
	uint16_t h;

	switch (dtype) {
	case EMBER_DTYPE_F32: {
		float f;

		memcpy(&f, row + 4 * j, 4);
		return f;
	}
	case EMBER_DTYPE_F16:
		memcpy(&h, row + 2 * j, 2);
		return ref_f16(h);
	case EMBER_DTYPE_BF16:
		memcpy(&h, row + 2 * j, 2);
		return ref_bf16(h);
	case EMBER_DTYPE_Q8_0: {
		const uint8_t *blk = row + 34 * (j / 32);

		memcpy(&h, blk, 2);
		return ref_f16(h) * (int8_t)blk[2 + j % 32];
	}
	case EMBER_DTYPE_Q4_0: {
		const uint8_t *blk = row + 18 * (j / 32);
		uint32_t i = j % 32;
		int q = i < 16 ? blk[2 + i] & 0xf : blk[2 + i - 16] >> 4;

		memcpy(&h, blk, 2);
		return ref_f16(h) * (q - 8);
	}
	default:
		return NAN;
	}
}

static uint64_t row_bytes(int dtype, uint32_t n)
{
	switch (dtype) {
	case EMBER_DTYPE_F32: return 4ull * n;
	case EMBER_DTYPE_F16:
	case EMBER_DTYPE_BF16: return 2ull * n;
	case EMBER_DTYPE_Q8_0: return 34ull * (n / 32);
	default: return 18ull * (n / 32);
	}
}

/*
 * F32 -> X: |decoded - x| within the format's rounding: half an ulp for
 * F16 (2^-11 relative, x well inside the normal range) and BF16 (2^-8),
 * for Q8_0 half a step amax/127 plus the f16 rounding of the scale
 * (0.0045 * amax), for Q4_0 one step amax/8 (0.13 * amax: ggml's Q4_0
 * uses d = max/-8, so the far end rounds by up to a step).
 * X -> F32 and X -> X: exact.
 */
static void test_copy(int src_t, int dst_t, uint32_t rows, uint32_t n)
{
	struct env e;
	struct rng r = { 5 + (uint64_t)src_t * 100 + dst_t };
	uint64_t sr = row_bytes(src_t, n), dr = row_bytes(dst_t, n);
	uint64_t ss = sr + 6, ds = dr + 10;	/* keep 2-alignment */
	uint64_t src, dst;
	struct ember_op_copy op;
	char what[96];
	int bad = 0;

	if (src_t == EMBER_DTYPE_F32)
		ss = sr + 8;
	if (dst_t == EMBER_DTYPE_F32)
		ds = dr + 12;
	snprintf(what, sizeof(what), "copy %s -> %s rows=%u n=%u",
		 ek_dtype_name(src_t), ek_dtype_name(dst_t), rows, n);
	if (!env_init(&e, (ss + ds) * rows / 4096 + 64, false)) {
		CHECK(0, "oom");
		return;
	}
	src = alloc_fill(&e, ss * rows);
	dst = alloc_fill(&e, ds * rows);
	/* Source rows: random values of the source type. */
	for (uint32_t i = 0; i < rows; i++) {
		uint8_t *p = fake_dev_ptr(&e.dev, src + i * ss);

		if (src_t == EMBER_DTYPE_F32) {
			for (uint32_t j = 0; j < n; j++) {
				float f = rng_unit(&r) * 5.0f;

				memcpy(p + 4 * j, &f, 4);
			}
		} else if (src_t == EMBER_DTYPE_F16 || src_t == EMBER_DTYPE_BF16) {
			for (uint32_t j = 0; j < n; j++) {
				uint16_t h = src_t == EMBER_DTYPE_F16 ? rng_f16(&r, -4, 3)
								      : rng_bf16(&r, -4, 3);

				memcpy(p + 2 * j, &h, 2);
			}
		} else {
			uint32_t bs = src_t == EMBER_DTYPE_Q8_0 ? 34 : 18;

			for (uint32_t blk = 0; blk < n / 32; blk++) {
				uint16_t d = rng_f16(&r, -6, -2);

				memcpy(p + bs * blk, &d, 2);
				for (uint32_t k = 2; k < bs; k++)
					p[bs * blk + k] = (uint8_t)rng_next(&r);
			}
		}
	}
	memset(&op, 0, sizeof(op));
	op_hdr_init(&op.hdr, EMBER_OP_COPY, sizeof(op));
	op.rows = rows;
	op.n = n;
	op.src_dtype = (uint8_t)src_t;
	op.dst_dtype = (uint8_t)dst_t;
	op.src_va = src;
	op.src_stride = ss;
	op.dst_va = dst;
	op.dst_stride = ds;
	if (run1(&e, &op, sizeof(op), what) != EMBER_JOB_OK)
		goto out;
	for (uint32_t i = 0; i < rows; i++) {
		const uint8_t *s = fake_dev_ptr(&e.dev, src + i * ss);
		const uint8_t *d = fake_dev_ptr(&e.dev, dst + i * ds);

		if (src_t == dst_t) {
			CHECK(memcmp(s, d, sr) == 0, "%s: row %u differs", what, i);
			continue;
		}
		for (uint32_t j = 0; j < n && bad < 5; j++) {
			double x = ref_decode(src_t, s, j), y = ref_decode(dst_t, d, j);
			double amax = 0, tol = 0;

			for (uint32_t k = j / 32 * 32; k < j / 32 * 32 + 32 && k < n; k++)
				amax = fmax(amax, fabs(ref_decode(src_t, s, k)));
			if (dst_t == EMBER_DTYPE_F16)
				tol = fabs(x) * 0x1p-11;
			else if (dst_t == EMBER_DTYPE_BF16)
				tol = fabs(x) * 0x1p-8;
			else if (dst_t == EMBER_DTYPE_Q8_0)
				tol = amax * 0.0045;
			else if (dst_t == EMBER_DTYPE_Q4_0)
				tol = amax * 0.13;
			if (!(fabs(x - y) <= tol)) {
				CHECK(0, "%s: [%u][%u] src %.9g dst %.9g tol %g",
				      what, i, j, x, y, tol);
				bad++;
			}
		}
	}
	CHECK(gaps_untouched(&e, dst, rows, dr, ds), "%s: row gaps written", what);
out:
	fake_dev_free(&e.dev);
}

/* ---- ATTENTION with APPEND_KV and/or ROPE ----------------------------- */
struct ax_case {
	uint32_t n_tok, n_past, n_head, n_kv_head, hd, rd;
	int kv_dtype;
	uint32_t flags;
};

/*
 * Checks: the appended cache rows equal rope(k_new) / v_new rounded to the
 * cache type (1e-5 absolute for F32 keys, 2^-10 relative + 1e-7 for F16),
 * older and later cache rows unchanged, Q, k_new and v_new unchanged, and
 * out equal to double attention over the cache as the device left it with
 * Q rotated in double: 2e-4 * (1 + |ref|).
 */
static void test_attn_ext(const struct ax_case *tc, bool threaded)
{
	struct env e;
	struct rng r = { 1000 + tc->n_tok * 7 + tc->n_past + tc->flags };
	uint32_t hd = tc->hd, qn = tc->n_head * hd, kn = tc->n_kv_head * hd;
	uint32_t npos = tc->n_past + tc->n_tok, n_ctx = npos + 2;
	size_t el = tc->kv_dtype == EMBER_DTYPE_F16 ? 2 : 4;
	uint64_t qs = 4ull * qn + 16, os = 4ull * qn + 4, ns = 4ull * kn + 8;
	uint64_t ks = el * kn + 8;
	uint64_t q, k, v, out, knew, vnew;
	uint64_t q_len = qs * tc->n_tok, kv_len = ks * n_ctx, n_len = ns * tc->n_tok;
	bool rope = tc->flags & EMBER_ATTN_ROPE, neox = tc->flags & EMBER_ATTN_ROPE_NEOX;
	bool append = tc->flags & EMBER_ATTN_APPEND_KV;
	uint8_t *snap;
	double *qr = calloc(qn, sizeof(double)), *kr = calloc(kn, sizeof(double));
	double *sc = calloc(npos, sizeof(double));
	struct ember_op_attention op;
	char what[160];
	int bad = 0;

	snprintf(what, sizeof(what), "attention%s%s%s %s n_tok=%u n_past=%u heads=%u/%u hd=%u rd=%u %s",
		 append ? " APPEND_KV" : "", rope ? " ROPE" : "", neox ? " NEOX" : "",
		 el == 2 ? "F16" : "F32", tc->n_tok, tc->n_past, tc->n_head,
		 tc->n_kv_head, hd, tc->rd, threaded ? "threaded" : "serial");
	if (!qr || !kr || !sc ||
	    !env_init(&e, (2 * q_len + 2 * kv_len + 2 * n_len) / 4096 + 64, threaded)) {
		CHECK(0, "oom");
		goto free_ref;
	}
	q = alloc_fill(&e, q_len);
	k = alloc_fill(&e, kv_len);
	v = alloc_fill(&e, kv_len);
	out = alloc_fill(&e, os * tc->n_tok);
	knew = alloc_fill(&e, n_len);
	vnew = alloc_fill(&e, n_len);
	fill_rows(&e, &r, q, tc->n_tok, qn, qs, 1.0f);
	fill_rows(&e, &r, knew, tc->n_tok, kn, ns, 1.0f);
	fill_rows(&e, &r, vnew, tc->n_tok, kn, ns, 1.0f);
	/* The whole cache gets values: rows < n_past are history; with
	 * APPEND_KV the rows from n_past on must be overwritten. */
	for (int which = 0; which < 2; which++)
		for (uint32_t p = 0; p < n_ctx; p++)
			for (uint32_t i = 0; i < kn; i++) {
				uint8_t *at = (uint8_t *)fake_dev_ptr(&e.dev, (which ? v : k) + p * ks) + el * i;

				if (el == 2) {
					uint16_t h = rng_f16(&r, -3, 1);

					memcpy(at, &h, 2);
				} else {
					float f = rng_unit(&r);

					memcpy(at, &f, 4);
				}
			}
	/* snapshot of all device memory we allocated, to check what changed */
	snap = malloc(e.heap.next - FAKE_VA_BASE);
	if (!snap) {
		CHECK(0, "oom");
		goto free_dev;
	}
	memcpy(snap, fake_dev_ptr(&e.dev, FAKE_VA_BASE), e.heap.next - FAKE_VA_BASE);

	memset(&op, 0, sizeof(op));
	op_hdr_init(&op.hdr, EMBER_OP_ATTENTION, sizeof(op));
	op.hdr.flags = tc->flags;
	op.n_tok = tc->n_tok;
	op.n_past = tc->n_past;
	op.n_head = tc->n_head;
	op.n_kv_head = tc->n_kv_head;
	op.head_dim = hd;
	op.kv_dtype = (uint8_t)tc->kv_dtype;
	op.scale = 1.0f / sqrtf((float)hd);
	op.n_ctx = n_ctx;
	if (rope) {
		op.rope_dim = tc->rd;
		op.rope_freq_base = 10000.0f;
	}
	op.q_va = q;
	op.q_stride = qs;
	op.k_va = k;
	op.v_va = v;
	op.kv_stride = ks;
	op.out_va = out;
	op.out_stride = os;
	if (append) {
		op.k_new_va = knew;
		op.v_new_va = vnew;
		op.new_stride = ns;
	}
	if (run1(&e, &op, sizeof(op), what) != EMBER_JOB_OK)
		goto free_snap;
	{
		/* caches read (and written with APPEND_KV) over positions
		 * 0 .. npos-1; k_new / v_new read */
		uint64_t kv = (npos - 1) * ks + el * kn;
		uint64_t nw = append ? 2 * ((tc->n_tok - 1) * ns + 4ull * kn) : 0;
		uint64_t qspan = (tc->n_tok - 1) * qs + 4ull * qn;
		uint64_t ospan = (tc->n_tok - 1) * os + 4ull * qn;

		CHECK_EQ_U64(last_res.bytes_read, last_stream + qspan + 2 * kv + nw, what);
		CHECK_EQ_U64(last_res.bytes_written, ospan + (append ? 2 * kv : 0), what);
	}

#define SNAP(va) (snap + ((va) - FAKE_VA_BASE))
	CHECK(memcmp(SNAP(q), fake_dev_ptr(&e.dev, q), q_len) == 0 &&
	      memcmp(SNAP(knew), fake_dev_ptr(&e.dev, knew), 2 * n_len) == 0,
	      "%s: Q, k_new or v_new modified", what);
	for (int which = 0; which < 2; which++) {
		uint64_t base = which ? v : k;

		for (uint32_t p = 0; p < n_ctx; p++) {
			const uint8_t *row = fake_dev_ptr(&e.dev, base + p * ks);
			bool new_row = append && p >= tc->n_past && p < npos;

			if (!new_row) {
				CHECK(memcmp(row, SNAP(base + p * ks), el * kn) == 0,
				      "%s: %s cache row %u changed", what,
				      which ? "V" : "K", p);
				continue;
			}
			for (uint32_t i = 0; i < kn; i++)
				kr[i] = get_f(&e, which ? vnew : knew, p - tc->n_past, ns, i);
			if (!which && rope)
				ref_rope(kr, tc->n_kv_head, hd, tc->rd, p, 10000.0, neox);
			for (uint32_t i = 0; i < kn && bad < 5; i++) {
				double got = ref_decode(tc->kv_dtype, row, i);
				double tol = el == 2 ? fabs(kr[i]) * 0x1p-10 + 1e-7
						     : (which ? 0 : 1e-5);

				if (!(fabs(got - kr[i]) <= tol)) {
					CHECK(0, "%s: %s cache [%u][%u] got %.9g want %.9g",
					      what, which ? "V" : "K", p, i, got, kr[i]);
					bad++;
				}
			}
		}
	}
	/* out against the cache as it is now */
	for (uint32_t t = 0; t < tc->n_tok; t++) {
		uint32_t pos = tc->n_past + t;

		for (uint32_t i = 0; i < qn; i++)
			qr[i] = get_f(&e, q, t, qs, i);
		if (rope)
			ref_rope(qr, tc->n_head, hd, tc->rd, pos, 10000.0, neox);
		for (uint32_t h = 0; h < tc->n_head; h++) {
			uint32_t g = h / (tc->n_head / tc->n_kv_head);
			double mx = -INFINITY, sum = 0;

			for (uint32_t j = 0; j <= pos; j++) {
				const uint8_t *kk = fake_dev_ptr(&e.dev, k + j * ks);
				double dot = 0;

				for (uint32_t i = 0; i < hd; i++)
					dot += qr[h * hd + i] * ref_decode(tc->kv_dtype, kk, g * hd + i);
				sc[j] = dot * op.scale;
				mx = fmax(mx, sc[j]);
			}
			for (uint32_t j = 0; j <= pos; j++) {
				sc[j] = exp(sc[j] - mx);
				sum += sc[j];
			}
			for (uint32_t i = 0; i < hd && bad < 5; i++) {
				double ref = 0, got = get_f(&e, out, t, os, h * hd + i);

				for (uint32_t j = 0; j <= pos; j++)
					ref += sc[j] / sum * ref_decode(tc->kv_dtype,
						fake_dev_ptr(&e.dev, v + j * ks), g * hd + i);
				if (!close_rel(got, ref, 2e-4)) {
					CHECK(0, "%s: out[%u][%u][%u] got %.9g want %.9g",
					      what, t, h, i, got, ref);
					bad++;
				}
			}
		}
	}
	CHECK(gaps_untouched(&e, out, tc->n_tok, 4ull * qn, os), "%s: out gaps written",
	      what);
free_snap:
	free(snap);
free_dev:
	fake_dev_free(&e.dev);
free_ref:
	free(qr);
	free(kr);
	free(sc);
}

int main(void)
{
	static const uint32_t rn[][2] = { { 1, 1 }, { 3, 64 }, { 5, 4099 }, { 33, 96 } };
	static const int dts[] = { EMBER_DTYPE_F16, EMBER_DTYPE_BF16,
				   EMBER_DTYPE_Q8_0, EMBER_DTYPE_Q4_0 };
	const uint32_t A = EMBER_ATTN_APPEND_KV, R = EMBER_ATTN_ROPE,
		       N = EMBER_ATTN_ROPE_NEOX;
	const struct ax_case ax[] = {
		{ 1, 7, 8, 2, 64, 64, EMBER_DTYPE_F32, A | R },		/* decode */
		{ 1, 7, 8, 2, 64, 64, EMBER_DTYPE_F16, A | R },
		{ 5, 0, 4, 4, 32, 32, EMBER_DTYPE_F32, A | R },		/* prefill */
		{ 3, 4, 6, 3, 48, 16, EMBER_DTYPE_F16, A | R | N },	/* partial NEOX */
		{ 2, 3, 4, 1, 16, 0, EMBER_DTYPE_F32, A },		/* append only */
		{ 2, 3, 4, 2, 16, 8, EMBER_DTYPE_F32, R },		/* rope Q only */
		{ 2, 1, 256, 2, 512, 512, EMBER_DTYPE_F16, A | R },	/* wide rows */
	};

	for (int th = 0; th < 2; th++) {
		for (size_t i = 0; i < sizeof(rn) / sizeof(rn[0]); i++) {
			test_rmsnorm(rn[i][0], rn[i][1], true, th);
			test_rmsnorm(rn[i][0], rn[i][1], false, th);
			test_binary(true, rn[i][0], rn[i][1], th);
			test_binary(false, rn[i][0], rn[i][1], th);
		}
		test_rope(1, 1, 2, 2, 0, false, false, th);
		test_rope(3, 4, 64, 64, 4000, false, false, th);
		test_rope(5, 2, 128, 64, 17, true, true, th);
		test_rope(9, 3, 80, 32, 1, true, false, th);
		test_rope(2, 7, 16, 10, 100000, false, true, th);
		for (size_t i = 0; i < sizeof(ax) / sizeof(ax[0]); i++)
			test_attn_ext(&ax[i], th);
	}
	for (size_t i = 0; i < sizeof(dts) / sizeof(dts[0]); i++) {
		test_copy(EMBER_DTYPE_F32, dts[i], 3, 96);
		test_copy(dts[i], EMBER_DTYPE_F32, 3, 96);
		test_copy(dts[i], dts[i], 2, 64);
		test_copy(EMBER_DTYPE_F32, dts[i], 1, 4096 + 64);	/* chunked */
	}
	test_copy(EMBER_DTYPE_F32, EMBER_DTYPE_F32, 4, 5);
	test_copy(EMBER_DTYPE_F32, EMBER_DTYPE_F16, 1, 1);
	return test_finish("test_rowops");
}
