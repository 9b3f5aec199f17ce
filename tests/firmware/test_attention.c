// SPDX-License-Identifier: MIT
/*
 * ATTENTION through ember_fw_run_job against a double-precision reference
 * (causal, grouped-query, softmax in double). Tolerance: |got - ref| <=
 * 2e-4 * (1 + |ref|); F16 caches are decoded exactly by the reference, so
 * the only error is float arithmetic. Also a job mixing NOP, MATMUL and
 * ATTENTION ops, and Q8_0 caches (ABI 1.2) with APPEND_KV | ROPE against
 * the CPU runtime's own calls (ek_rope, ek_kv_store with EK_KV_ROWS,
 * ek_attention): cache bytes and outputs bitwise equal, and both near a
 * double-precision reference over the cache as written.
 */
#include <stdlib.h>

#include "ember/kernels.h"
#include "test_ops.h"
#include "test_util.h"

#define SENTINEL 0xa5u

struct at_case {
	uint32_t n_tok, n_past, n_head, n_kv_head, head_dim;
	int kv_dtype;
	uint32_t q_pad, kv_pad, out_pad;	/* extra bytes per row */
};

static void run_case(const struct at_case *tc, bool threaded, uint64_t seed)
{
	struct rng r = { seed };
	struct fake_dev dev;
	struct fake_heap heap;
	struct ember_hal hal;
	struct ember_job_result res;
	struct ember_op_attention op;
	struct stream s = { .size = 0 };
	uint32_t npos = tc->n_past + tc->n_tok, hd = tc->head_dim;
	size_t el = tc->kv_dtype == EMBER_DTYPE_F16 ? 2 : 4;
	size_t q_row = (size_t)tc->n_head * hd * 4;
	size_t kv_row = (size_t)tc->n_kv_head * hd * el;
	size_t q_stride = q_row + tc->q_pad, out_stride = q_row + tc->out_pad;
	size_t kv_stride = kv_row + tc->kv_pad;
	uint64_t q_len = (tc->n_tok - 1) * q_stride + q_row;
	uint64_t kv_len = (npos - 1) * kv_stride + kv_row;
	uint64_t out_len = (tc->n_tok - 1) * out_stride + q_row;
	uint64_t q_va, k_va, v_va, out_va, cmd_va;
	double *q, *k, *v, *sc;
	uint8_t *omem;
	char what[160];
	int bad = 0;

	snprintf(what, sizeof(what), "attention %s n_tok=%u n_past=%u heads=%u/%u head_dim=%u %s",
		 el == 2 ? "F16" : "F32", tc->n_tok, tc->n_past, tc->n_head,
		 tc->n_kv_head, hd, threaded ? "threaded" : "serial");
	if (!fake_dev_init(&dev, 2048, threaded, 3)) {
		CHECK(0, "out of memory");
		return;
	}
	fake_heap_init(&heap, &dev);
	q = calloc((size_t)tc->n_tok * tc->n_head * hd, sizeof(double));
	k = calloc((size_t)npos * tc->n_kv_head * hd, sizeof(double));
	v = calloc((size_t)npos * tc->n_kv_head * hd, sizeof(double));
	sc = calloc(npos, sizeof(double));
	q_va = fake_alloc(&heap, q_len, 64);
	k_va = fake_alloc(&heap, kv_len, 64);
	v_va = fake_alloc(&heap, kv_len, 64);
	out_va = fake_alloc(&heap, out_len, 64);

	for (uint32_t t = 0; t < tc->n_tok; t++)
		for (uint32_t i = 0; i < tc->n_head * hd; i++) {
			float f = rng_unit(&r);

			memcpy(fake_dev_ptr(&dev, q_va + t * q_stride + 4 * i), &f, 4);
			q[(size_t)t * tc->n_head * hd + i] = f;
		}
	for (int which = 0; which < 2; which++) {
		uint64_t base = which ? v_va : k_va;
		double *dst = which ? v : k;

		for (uint32_t p = 0; p < npos; p++)
			for (uint32_t i = 0; i < tc->n_kv_head * hd; i++) {
				uint8_t *at = fake_dev_ptr(&dev, base + p * kv_stride + el * i);
				double val;

				if (el == 2) {
					uint16_t h = rng_f16(&r, -3, 1);

					memcpy(at, &h, 2);
					val = ref_f16(h);
				} else {
					float f = rng_unit(&r);

					memcpy(at, &f, 4);
					val = f;
				}
				dst[(size_t)p * tc->n_kv_head * hd + i] = val;
			}
	}
	omem = fake_dev_ptr(&dev, out_va);
	memset(omem, SENTINEL, out_len);

	memset(&op, 0, sizeof(op));
	op_hdr_init(&op.hdr, EMBER_OP_ATTENTION, sizeof(op));
	op.n_tok = tc->n_tok;
	op.n_past = tc->n_past;
	op.n_head = tc->n_head;
	op.n_kv_head = tc->n_kv_head;
	op.head_dim = hd;
	op.kv_dtype = (uint8_t)tc->kv_dtype;
	op.scale = 1.0f / sqrtf((float)hd);
	op.n_ctx = npos + 3;
	op.q_va = q_va;
	op.q_stride = q_stride;
	op.k_va = k_va;
	op.v_va = v_va;
	op.kv_stride = kv_stride;
	op.out_va = out_va;
	op.out_stride = out_stride;
	stream_add(&s, &op, sizeof(op));
	stream_nop(&s);
	cmd_va = stream_upload(&heap, &s);

	hal = fake_dev_hal(&dev, ALL_OPS, ALL_DTYPES);
	ember_fw_run_job(&hal, 0, cmd_va, s.size, &res);
	CHECK(res.status == EMBER_JOB_OK, "%s: status %u (fault_op %u)", what,
	      res.status, res.fault_op);
	CHECK_EQ_U64(res.ops, 2, what);
	CHECK_EQ_U64(res.bytes_read, s.size + q_len + 2 * kv_len, what);
	CHECK_EQ_U64(res.bytes_written, out_len, what);
	CHECK(fake_dev_live_maps(&dev) == 0 && dev.errors == 0,
	      "%s: %u mappings left, %u HAL misuses", what,
	      fake_dev_live_maps(&dev), dev.errors);

	for (uint32_t t = 0; t < tc->n_tok && res.status == EMBER_JOB_OK; t++) {
		uint32_t pos = tc->n_past + t;

		for (uint32_t h = 0; h < tc->n_head; h++) {
			uint32_t g = h / (tc->n_head / tc->n_kv_head);
			const double *qv = q + ((size_t)t * tc->n_head + h) * hd;
			double mx = -INFINITY, sum = 0;

			for (uint32_t j = 0; j <= pos; j++) {
				const double *kv = k + ((size_t)j * tc->n_kv_head + g) * hd;
				double dot = 0;

				for (uint32_t i = 0; i < hd; i++)
					dot += qv[i] * kv[i];
				sc[j] = (double)op.scale * dot;
				mx = fmax(mx, sc[j]);
			}
			for (uint32_t j = 0; j <= pos; j++) {
				sc[j] = exp(sc[j] - mx);
				sum += sc[j];
			}
			for (uint32_t i = 0; i < hd; i++) {
				double ref = 0;
				float got;

				for (uint32_t j = 0; j <= pos; j++)
					ref += sc[j] / sum *
					       v[((size_t)j * tc->n_kv_head + g) * hd + i];
				memcpy(&got, omem + t * out_stride + ((size_t)h * hd + i) * 4, 4);
				if (!(fabs(got - ref) <= 2e-4 * (1 + fabs(ref))) && bad++ < 5)
					CHECK(0, "%s: out[%u][%u][%u] = %.8g, reference %.8g",
					      what, t, h, i, got, ref);
			}
		}
		for (size_t b = q_row; b < out_stride && t + 1 < tc->n_tok; b++)
			if (omem[t * out_stride + b] != SENTINEL && bad++ < 5)
				CHECK(0, "%s: gap byte %zu after out row %u overwritten", what, b, t);
	}
	free(q);
	free(k);
	free(v);
	free(sc);
	fake_dev_free(&dev);
}

/* NOP, MATMUL, NOP, ATTENTION in one job: all run, in order, counted;
 * the HAL has no parallel(). */
static void mixed_job(void)
{
	struct fake_dev dev;
	struct fake_heap heap;
	struct ember_hal hal;
	struct ember_job_result res;
	struct ember_op_matmul mm;
	struct ember_op_attention at;
	struct stream s = { .size = 0 };
	uint64_t a_va, w_va, c_va, kv_va, out_va, cmd_va;
	float one = 1.0f, two = 2.0f, got;

	if (!fake_dev_init(&dev, 256, false, 1)) {
		CHECK(0, "out of memory");
		return;
	}
	fake_heap_init(&heap, &dev);
	a_va = fake_alloc(&heap, 32 * 4, 64);
	w_va = fake_alloc(&heap, 32 * 4, 64);
	c_va = fake_alloc(&heap, 4, 4);
	kv_va = fake_alloc(&heap, 4, 4);
	out_va = fake_alloc(&heap, 4, 4);
	for (int i = 0; i < 32; i++) {
		memcpy(fake_dev_ptr(&dev, a_va + 4 * i), &one, 4);
		memcpy(fake_dev_ptr(&dev, w_va + 4 * i), &two, 4);
	}
	memcpy(fake_dev_ptr(&dev, kv_va), &two, 4);

	memset(&mm, 0, sizeof(mm));
	op_hdr_init(&mm.hdr, EMBER_OP_MATMUL, sizeof(mm));
	mm.m = 1;
	mm.n = 1;
	mm.k = 32;
	mm.a_va = a_va;
	mm.w_va = w_va;
	mm.c_va = c_va;
	mm.a_stride = mm.w_stride = 128;
	mm.c_stride = 4;
	/* attention over one position: out = v, whatever q and k are; its q
	 * is the matmul's result, so order matters only through memory */
	memset(&at, 0, sizeof(at));
	op_hdr_init(&at.hdr, EMBER_OP_ATTENTION, sizeof(at));
	at.n_tok = at.n_head = at.n_kv_head = at.head_dim = 1;
	at.scale = 1.0f;
	at.n_ctx = 1;
	at.q_va = c_va;
	at.q_stride = 4;
	at.k_va = at.v_va = kv_va;
	at.kv_stride = 4;
	at.out_va = out_va;
	at.out_stride = 4;

	stream_nop(&s);
	stream_add(&s, &mm, sizeof(mm));
	stream_nop(&s);
	stream_add(&s, &at, sizeof(at));
	cmd_va = stream_upload(&heap, &s);
	hal = fake_dev_hal(&dev, ALL_OPS, ALL_DTYPES);
	hal.parallel = NULL;	/* a HAL without threads: kernels run serially */
	ember_fw_run_job(&hal, 0, cmd_va, s.size, &res);
	CHECK(res.status == EMBER_JOB_OK, "mixed job: status %u", res.status);
	CHECK_EQ_U64(res.ops, 4, "mixed job ops");
	memcpy(&got, fake_dev_ptr(&dev, c_va), 4);
	CHECK(got == 64.0f, "mixed job: matmul result %g, want 64", got);
	memcpy(&got, fake_dev_ptr(&dev, out_va), 4);
	CHECK(got == 2.0f, "mixed job: attention result %g, want 2", got);
	fake_dev_free(&dev);
}

/* A job of NOPs only: succeeds, counts ops, reads only the stream. */
static void nop_job(void)
{
	struct fake_dev dev;
	struct fake_heap heap;
	struct ember_hal hal;
	struct ember_job_result res;
	struct stream s = { .size = 0 };
	uint64_t cmd_va;

	if (!fake_dev_init(&dev, 16, false, 1)) {
		CHECK(0, "out of memory");
		return;
	}
	fake_heap_init(&heap, &dev);
	for (int i = 0; i < 100; i++)
		stream_nop(&s);
	cmd_va = stream_upload(&heap, &s);
	hal = fake_dev_hal(&dev, ALL_OPS, ALL_DTYPES);
	ember_fw_run_job(&hal, 0, cmd_va, s.size, &res);
	CHECK(res.status == EMBER_JOB_OK, "nop job: status %u", res.status);
	CHECK_EQ_U64(res.ops, 100, "nop job ops");
	CHECK_EQ_U64(res.bytes_read, 800, "nop job bytes_read");
	CHECK_EQ_U64(res.bytes_written, 0, "nop job bytes_written");
	CHECK(dev.maps == 1 && fake_dev_live_maps(&dev) == 0,
	      "nop job: %u maps, %u live", dev.maps, fake_dev_live_maps(&dev));
	fake_dev_free(&dev);
}


/* ---- Q8_0 caches: the device against the CPU path ---------------------- */

struct q8_case {
	uint32_t n_tok, n_past, n_head, n_kv_head, hd, rd;
	uint32_t flags;		/* EMBER_ATTN_* */
	uint32_t kv_pad;	/* extra bytes per cache row (even) */
};

/* Rotate in double, as the uapi defines it (independent of ek_rope). */
static void q8_ref_rope(double *x, uint32_t n_head, uint32_t hd, uint32_t rd,
			double pos, bool neox)
{
	for (uint32_t h = 0; h < n_head; h++) {
		double *v = x + (size_t)h * hd;

		for (uint32_t i = 0; i < rd / 2; i++) {
			double th = pos * pow(10000.0, -2.0 * i / rd);
			uint32_t a = neox ? i : 2 * i, b = neox ? i + rd / 2 : 2 * i + 1;
			double x0 = v[a], x1 = v[b];

			v[a] = x0 * cos(th) - x1 * sin(th);
			v[b] = x0 * sin(th) + x1 * cos(th);
		}
	}
}

/* Element j of a Q8_0 row, decoded from the format's definition. */
static double q8_decode(const uint8_t *row, uint32_t j)
{
	const uint8_t *b = row + (size_t)(j / 32) * 34;
	uint16_t h;

	memcpy(&h, b, 2);
	return ref_f16(h) * (int8_t)b[2 + j % 32];
}

/* n random floats: mostly [-1, 1), some blocks scaled up or down, and an
 * all-zero block now and then (d = 0). */
static void q8_fill(struct rng *r, float *x, uint32_t n)
{
	for (uint32_t b = 0; b < n; b += 32) {
		uint32_t kind = rng_below(r, 8);
		float scale = kind == 0 ? 0.0f : kind == 1 ? 8.0f :
			      kind == 2 ? 1.0f / 64 : 1.0f;

		for (uint32_t i = b; i < b + 32 && i < n; i++)
			x[i] = rng_unit(r) * scale;
	}
}

/* The first differing byte of two buffers, or -1. */
static long first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return (long)i;
	return -1;
}

/*
 * One ATTENTION op over Q8_0 K and V caches on the fake device, and the
 * CPU backend's calls for the same step on host copies of the same bytes
 * (rows of positions < n_past quantized by ek_kv_store, the rest random
 * bytes): ek_rope on Q and the new keys (for one token also the decode
 * step's ek_rope_angles + ek_rope_heads), ek_kv_store(EK_Q8_0,
 * EK_KV_ROWS) per token into K and V, ek_attention. The whole K, V and out
 * buffers (gaps included) must be bitwise equal. Then, independently:
 * appended rows decode to rope(k_new) / v_new within half a quantization
 * step (plus the f16 rounding of d), and out is double attention over the
 * cache as written within 2e-4 * (1 + |ref|).
 */
static void q8_run(const struct q8_case *tc, bool threaded)
{
	struct rng r = { 0x9e3779b97f4a7c15ull ^ (tc->n_tok * 131 + tc->n_past * 7 +
					   tc->hd + tc->flags) };
	const bool rope = tc->flags & EMBER_ATTN_ROPE;
	const bool neox = tc->flags & EMBER_ATTN_ROPE_NEOX;
	const bool append = tc->flags & EMBER_ATTN_APPEND_KV;
	const uint32_t hd = tc->hd, nt = tc->n_tok, qn = tc->n_head * hd;
	const uint32_t kn = tc->n_kv_head * hd, npos = tc->n_past + nt;
	const uint32_t n_ctx = npos + 3;
	const size_t kv_row = ek_row_size(EK_Q8_0, kn);
	const size_t ks = kv_row + tc->kv_pad, qs = 4 * (size_t)qn + 16;
	const size_t os = 4 * (size_t)qn + 8, ns = 4 * (size_t)kn + 12;
	const size_t kv_len = ks * n_ctx, q_len = qs * nt, o_len = os * nt;
	const size_t n_len = ns * nt;
	struct fake_dev dev;
	struct fake_heap heap;
	struct ember_hal hal;
	struct ember_job_result res;
	struct ember_op_attention op;
	struct stream s = { .size = 0 };
	uint64_t q_va, k_va, v_va, o_va, kn_va, vn_va, cmd_va;
	uint8_t *kc = malloc(kv_len), *vc = malloc(kv_len), *oc = malloc(o_len);
	uint8_t *qh = malloc(q_len), *knh = malloc(n_len), *vnh = malloc(n_len);
	uint8_t *qr = malloc(q_len), *knr = malloc(n_len);
	uint8_t *oc2 = malloc(o_len), *kc2 = malloc(kv_len);
	float *row = malloc(sizeof(float) * kn);
	double *qd = malloc(sizeof(double) * qn), *kd = malloc(sizeof(double) * kn);
	double *sc = malloc(sizeof(double) * npos);
	size_t pages = (2 * kv_len + q_len + o_len + 2 * n_len) / 4096 + 32;
	char what[200];
	long at;
	int bad = 0;

	snprintf(what, sizeof(what),
		 "Q8_0 attention%s%s%s n_tok=%u n_past=%u heads=%u/%u hd=%u rd=%u pad=%u %s",
		 append ? " APPEND_KV" : "", rope ? " ROPE" : "", neox ? " NEOX" : "",
		 nt, tc->n_past, tc->n_head, tc->n_kv_head, hd, tc->rd, tc->kv_pad,
		 threaded ? "threaded" : "serial");
	if (!kc || !vc || !oc || !qh || !knh || !vnh || !qr || !knr || !oc2 ||
	    !kc2 || !row || !qd || !kd || !sc ||
	    !fake_dev_init(&dev, pages, threaded, 3)) {
		CHECK(0, "%s: out of memory", what);
		goto free_host;
	}
	fake_heap_init(&heap, &dev);

	/* History quantized as the CPU stores it (with APPEND_KV positions
	 * < n_past, else all the op reads); the rest random bytes */
	for (size_t i = 0; i < kv_len; i++) {
		kc[i] = (uint8_t)rng_next(&r);
		vc[i] = (uint8_t)rng_next(&r);
	}
	for (uint32_t p = 0; p < (append ? tc->n_past : npos); p++) {
		q8_fill(&r, row, kn);
		ek_kv_store(EK_Q8_0, EK_KV_ROWS, kc, ks, p, 0, row, kn);
		q8_fill(&r, row, kn);
		ek_kv_store(EK_Q8_0, EK_KV_ROWS, vc, ks, p, 0, row, kn);
	}
	memset(qh, SENTINEL, q_len);
	memset(knh, SENTINEL, n_len);
	memset(vnh, SENTINEL, n_len);
	memset(oc, SENTINEL, o_len);
	for (uint32_t t = 0; t < nt; t++) {
		for (uint32_t i = 0; i < qn; i++) {
			float f = rng_unit(&r) * 2.0f;

			memcpy(qh + t * qs + 4 * i, &f, 4);
		}
		q8_fill(&r, row, kn);
		memcpy(knh + t * ns, row, 4 * (size_t)kn);
		q8_fill(&r, row, kn);
		memcpy(vnh + t * ns, row, 4 * (size_t)kn);
	}

	q_va = fake_alloc(&heap, q_len, 64);
	k_va = fake_alloc(&heap, kv_len, 64);
	v_va = fake_alloc(&heap, kv_len + 2, 64) + 2;	/* 2-aligned is enough */
	o_va = fake_alloc(&heap, o_len, 64);
	kn_va = fake_alloc(&heap, n_len, 64);
	vn_va = fake_alloc(&heap, n_len, 64);
	memcpy(fake_dev_ptr(&dev, q_va), qh, q_len);
	memcpy(fake_dev_ptr(&dev, k_va), kc, kv_len);
	memcpy(fake_dev_ptr(&dev, v_va), vc, kv_len);
	memcpy(fake_dev_ptr(&dev, o_va), oc, o_len);
	memcpy(fake_dev_ptr(&dev, kn_va), knh, n_len);
	memcpy(fake_dev_ptr(&dev, vn_va), vnh, n_len);

	memset(&op, 0, sizeof(op));
	op_hdr_init(&op.hdr, EMBER_OP_ATTENTION, sizeof(op));
	op.hdr.flags = tc->flags;
	op.n_tok = nt;
	op.n_past = tc->n_past;
	op.n_head = tc->n_head;
	op.n_kv_head = tc->n_kv_head;
	op.head_dim = hd;
	op.kv_dtype = EMBER_DTYPE_Q8_0;
	op.scale = 1.0f / sqrtf((float)hd);
	op.n_ctx = n_ctx;
	if (rope) {
		op.rope_dim = tc->rd;
		op.rope_freq_base = 10000.0f;
	}
	op.q_va = q_va;
	op.q_stride = qs;
	op.k_va = k_va;
	op.v_va = v_va;
	op.kv_stride = ks;
	op.out_va = o_va;
	op.out_stride = os;
	if (append) {
		op.k_new_va = kn_va;
		op.v_new_va = vn_va;
		op.new_stride = ns;
	}
	stream_add(&s, &op, sizeof(op));
	cmd_va = stream_upload(&heap, &s);
	hal = fake_dev_hal(&dev, ALL_OPS, ALL_DTYPES);
	ember_fw_run_job(&hal, 0, cmd_va, s.size, &res);
	CHECK(res.status == EMBER_JOB_OK && res.ops == 1,
	      "%s: status %u (fault_op %u)", what, res.status, res.fault_op);
	CHECK(fake_dev_live_maps(&dev) == 0 && dev.errors == 0,
	      "%s: %u mappings left, %u HAL misuses", what,
	      fake_dev_live_maps(&dev), dev.errors);
	if (res.status != EMBER_JOB_OK)
		goto free_dev;
	CHECK(memcmp(fake_dev_ptr(&dev, q_va), qh, q_len) == 0 &&
	      memcmp(fake_dev_ptr(&dev, kn_va), knh, n_len) == 0 &&
	      memcmp(fake_dev_ptr(&dev, vn_va), vnh, n_len) == 0,
	      "%s: Q, k_new or v_new modified", what);

	/* The CPU backend's step (runtime/src/backend_cpu.c run_attn) */
	memcpy(qr, qh, q_len);
	memcpy(knr, knh, n_len);
	if (rope) {
		ek_rope(&ek_exec_serial, nt, tc->n_head, hd, tc->rd, tc->n_past,
			10000.0f, neox, (float *)qr, qs);
		ek_rope(&ek_exec_serial, nt, tc->n_kv_head, hd, tc->rd,
			tc->n_past, 10000.0f, neox, (float *)knr, ns);
	}
	if (append)
		for (uint32_t t = 0; t < nt; t++) {
			ek_kv_store(EK_Q8_0, EK_KV_ROWS, kc, ks, tc->n_past + t, 0,
				    (const float *)(knr + t * ns), kn);
			ek_kv_store(EK_Q8_0, EK_KV_ROWS, vc, ks, tc->n_past + t, 0,
				    (const float *)(vnh + t * ns), kn);
		}
	{
		struct ek_attention a = {
			.n_tok = nt, .n_past = tc->n_past, .n_head = tc->n_head,
			.n_kv_head = tc->n_kv_head, .head_dim = hd,
			.scale = op.scale, .q = (const float *)qr, .q_stride = qs,
			.k = kc, .v = vc, .kv_dtype = EK_Q8_0, .kv_stride = ks,
			.k_layout = EK_KV_ROWS, .out = (float *)oc,
			.out_stride = os,
		};

		ek_attention(&ek_exec_serial, &a);
	}
	at = first_diff(fake_dev_ptr(&dev, k_va), kc, kv_len);
	CHECK(at < 0, "%s: K cache byte %ld (position %ld) differs from the CPU's",
	      what, at, at / (long)ks);
	at = first_diff(fake_dev_ptr(&dev, v_va), vc, kv_len);
	CHECK(at < 0, "%s: V cache byte %ld (position %ld) differs from the CPU's",
	      what, at, at / (long)ks);
	at = first_diff(fake_dev_ptr(&dev, o_va), oc, o_len);
	CHECK(at < 0, "%s: out byte %ld (token %ld) differs from the CPU's",
	      what, at, at / (long)os);

	/* A decode step on the CPU rotates with precomputed angles */
	if (rope && nt == 1) {
		struct ek_rope_angles ang;

		memcpy(qr, qh, q_len);
		memcpy(knr, knh, n_len);
		memcpy(kc2, fake_dev_ptr(&dev, k_va), kv_len);
		memset(oc2, SENTINEL, o_len);
		CHECK(ek_rope_angles(&ang, tc->rd, tc->n_past, 10000.0f),
		      "%s: ek_rope_angles", what);
		ek_rope_heads(&ang, tc->n_head, hd, neox, (float *)qr);
		ek_rope_heads(&ang, tc->n_kv_head, hd, neox, (float *)knr);
		if (append)
			ek_kv_store(EK_Q8_0, EK_KV_ROWS, kc2, ks, tc->n_past, 0,
				    (const float *)knr, kn);
		struct ek_attention a = {
			.n_tok = 1, .n_past = tc->n_past, .n_head = tc->n_head,
			.n_kv_head = tc->n_kv_head, .head_dim = hd,
			.scale = op.scale, .q = (const float *)qr, .q_stride = qs,
			.k = kc2, .v = vc, .kv_dtype = EK_Q8_0, .kv_stride = ks,
			.k_layout = EK_KV_ROWS, .out = (float *)oc2,
			.out_stride = os,
		};

		ek_attention(&ek_exec_serial, &a);
		CHECK(memcmp(kc2, kc, kv_len) == 0 && memcmp(oc2, oc, o_len) == 0,
		      "%s: the decode path (ek_rope_heads) differs", what);

		/* and a long cache's decode on the CPU team: the heads'
		 * blocks in position parts, merged */
		uint32_t np = ek_attention_parts(&a), nb = ek_attention_blocks(&a);
		size_t ps = ek_attention_partial_size();
		uint8_t *parts = np >= 2 ? malloc(ps * np * nb) : NULL;

		if (parts) {
			memset(oc2, SENTINEL, o_len);
			for (uint32_t u = 0; u < nb * np; u++)
				ek_attention_part(&a, u / np, u % np, parts + ps * u);
			for (uint32_t c = 0; c < nb; c++)
				ek_attention_merge(&a, c, parts + ps * np * c);
			CHECK(memcmp(oc2, oc, o_len) == 0,
			      "%s: the decode in %u parts differs", what, np);
			free(parts);
		}
	}

	/* Independent of the kernels: appended rows and out */
	for (uint32_t t = 0; t < nt && append; t++) {
		uint32_t pos = tc->n_past + t;

		for (int which = 0; which < 2; which++) {
			const uint8_t *crow = (const uint8_t *)fake_dev_ptr(&dev,
				(which ? v_va : k_va) + pos * ks);
			const uint8_t *src = (which ? vnh : knh) + t * ns;

			for (uint32_t i = 0; i < kn; i++) {
				float f;

				memcpy(&f, src + 4 * i, 4);
				kd[i] = f;
			}
			if (!which && rope)
				q8_ref_rope(kd, tc->n_kv_head, hd, tc->rd, pos, neox);
			for (uint32_t b = 0; b < kn; b += 32) {
				double amax = 0;

				for (uint32_t i = b; i < b + 32; i++)
					amax = fmax(amax, fabs(kd[i]));
				/* half a step of d = amax / 127, d rounded to
				 * f16 (2^-11 relative: up to 127 * that on q),
				 * and float rounding of the rotation */
				double tol = amax / 127 * (0.5 + 127 * 0x1p-11) +
					     amax * 1e-6 + 1e-30;

				for (uint32_t i = b; i < b + 32 && bad < 5; i++) {
					double got = q8_decode(crow, i);

					if (!(fabs(got - kd[i]) <= tol)) {
						CHECK(0, "%s: %s cache [%u][%u] = %.9g, want %.9g (tol %g)",
						      what, which ? "V" : "K", pos, i,
						      got, kd[i], tol);
						bad++;
					}
				}
			}
		}
	}
	for (uint32_t t = 0; t < nt; t++) {
		uint32_t pos = tc->n_past + t;

		for (uint32_t i = 0; i < qn; i++) {
			float f;

			memcpy(&f, qh + t * qs + 4 * i, 4);
			qd[i] = f;
		}
		if (rope)
			q8_ref_rope(qd, tc->n_head, hd, tc->rd, pos, neox);
		for (uint32_t h = 0; h < tc->n_head; h++) {
			uint32_t g = h / (tc->n_head / tc->n_kv_head);
			const size_t go = (size_t)g * hd;
			double mx = -INFINITY, sum = 0;

			for (uint32_t j = 0; j <= pos; j++) {
				const uint8_t *kk = fake_dev_ptr(&dev, k_va + j * ks);
				double dot = 0;

				for (uint32_t i = 0; i < hd; i++)
					dot += qd[h * hd + i] * q8_decode(kk, (uint32_t)go + i);
				sc[j] = dot * op.scale;
				mx = fmax(mx, sc[j]);
			}
			for (uint32_t j = 0; j <= pos; j++) {
				sc[j] = exp(sc[j] - mx);
				sum += sc[j];
			}
			for (uint32_t i = 0; i < hd && bad < 5; i++) {
				double ref = 0;
				float got;

				for (uint32_t j = 0; j <= pos; j++)
					ref += sc[j] / sum * q8_decode(fake_dev_ptr(&dev,
						v_va + j * ks), (uint32_t)go + i);
				memcpy(&got, (uint8_t *)fake_dev_ptr(&dev, o_va) +
				       t * os + 4 * ((size_t)h * hd + i), 4);
				if (!(fabs(got - ref) <= 2e-4 * (1 + fabs(ref)))) {
					CHECK(0, "%s: out[%u][%u][%u] = %.9g, reference %.9g",
					      what, t, h, i, got, ref);
					bad++;
				}
			}
		}
	}
free_dev:
	fake_dev_free(&dev);
free_host:
	free(kc);
	free(vc);
	free(oc);
	free(qh);
	free(knh);
	free(vnh);
	free(qr);
	free(knr);
	free(oc2);
	free(kc2);
	free(row);
	free(qd);
	free(kd);
	free(sc);
}

/* A Q8_0 cache needs 32 | head_dim, and Q8_0 enabled in the caps. */
static void q8_refused(void)
{
	static const struct {
		const char *what;
		uint32_t hd, caps_dtypes, want;
	} cases[] = {
		{ "Q8_0 head_dim 48", 48, ALL_DTYPES, EMBER_JOB_BAD_DESC },
		{ "Q8_0 head_dim 80", 80, ALL_DTYPES, EMBER_JOB_BAD_DESC },
		{ "Q8_0 masked out of caps", 64,
		  ALL_DTYPES & ~(1u << EMBER_DTYPE_Q8_0), EMBER_JOB_UNSUPPORTED },
		{ "Q8_0 head_dim 64 ok", 64, ALL_DTYPES, EMBER_JOB_OK },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const uint32_t hd = cases[c].hd, nkv = 2, nh = 4, nt = 1;
		const size_t ks = ek_row_size(EK_Q8_0, (uint64_t)nkv * hd);
		const size_t qs = 4 * (size_t)nh * hd, ns = 4 * (size_t)nkv * hd;
		struct fake_dev dev;
		struct fake_heap heap;
		struct ember_hal hal;
		struct ember_job_result res;
		struct ember_op_attention op;
		struct stream s = { .size = 0 };
		uint64_t k_va, v_va, o_va, cmd_va;
		uint8_t *k0 = NULL;
		bool untouched;

		if (!fake_dev_init(&dev, 64, false, 1)) {
			CHECK(0, "out of memory");
			return;
		}
		fake_heap_init(&heap, &dev);
		CHECK(ks != 0, "%s: n_kv_head * head_dim is whole blocks",
		      cases[c].what);
		memset(&op, 0, sizeof(op));
		op_hdr_init(&op.hdr, EMBER_OP_ATTENTION, sizeof(op));
		op.hdr.flags = EMBER_ATTN_APPEND_KV | EMBER_ATTN_ROPE;
		op.n_tok = nt;
		op.n_past = 2;
		op.n_head = nh;
		op.n_kv_head = nkv;
		op.head_dim = hd;
		op.kv_dtype = EMBER_DTYPE_Q8_0;
		op.scale = 0.125f;
		op.n_ctx = 4;
		op.rope_dim = 16;
		op.rope_freq_base = 10000.0f;
		op.q_va = fake_alloc(&heap, qs, 64);
		op.q_stride = qs;
		k_va = op.k_va = fake_alloc(&heap, 4 * ks, 64);
		v_va = op.v_va = fake_alloc(&heap, 4 * ks, 64);
		op.kv_stride = ks;
		o_va = op.out_va = fake_alloc(&heap, qs, 64);
		op.out_stride = qs;
		op.k_new_va = fake_alloc(&heap, ns, 64);
		op.v_new_va = fake_alloc(&heap, ns, 64);
		op.new_stride = ns;
		for (uint64_t i = 0; i < ns; i += 4) {
			float f = 0.5f;

			memcpy((uint8_t *)fake_dev_ptr(&dev, op.k_new_va) + i, &f, 4);
			memcpy((uint8_t *)fake_dev_ptr(&dev, op.v_new_va) + i, &f, 4);
		}
		memset(fake_dev_ptr(&dev, k_va), SENTINEL, 4 * ks);
		memset(fake_dev_ptr(&dev, v_va), SENTINEL, 4 * ks);
		memset(fake_dev_ptr(&dev, o_va), SENTINEL, qs);
		k0 = malloc(4 * ks > qs ? 4 * ks : qs);	/* what all held */
		if (k0)
			memset(k0, SENTINEL, 4 * ks > qs ? 4 * ks : qs);
		stream_add(&s, &op, sizeof(op));
		cmd_va = stream_upload(&heap, &s);
		hal = fake_dev_hal(&dev, ALL_OPS, cases[c].caps_dtypes);
		ember_fw_run_job(&hal, 0, cmd_va, s.size, &res);
		CHECK(res.status == cases[c].want && res.fault_op == 0,
		      "%s: status %u at op %u, want %u", cases[c].what,
		      res.status, res.fault_op, cases[c].want);
		untouched = k0 && !memcmp(fake_dev_ptr(&dev, k_va), k0, 4 * ks) &&
			    !memcmp(fake_dev_ptr(&dev, v_va), k0, 4 * ks) &&
			    !memcmp(fake_dev_ptr(&dev, o_va), k0, qs);
		if (cases[c].want != EMBER_JOB_OK)
			CHECK(res.ops == 0 && untouched,
			      "%s: a refused job ran %llu ops or wrote memory",
			      cases[c].what, (unsigned long long)res.ops);
		else
			CHECK(res.ops == 1 && !untouched,
			      "%s: ran %llu ops, wrote nothing", cases[c].what,
			      (unsigned long long)res.ops);
		free(k0);
		fake_dev_free(&dev);
	}
}

int main(void)
{
	static const struct at_case cases[] = {
		{ 1, 0, 1, 1, 8, EMBER_DTYPE_F32, 0, 0, 0 },
		{ 1, 7, 4, 2, 16, EMBER_DTYPE_F32, 0, 8, 0 },
		{ 5, 3, 8, 2, 64, EMBER_DTYPE_F32, 16, 0, 4 },
		{ 9, 0, 6, 3, 32, EMBER_DTYPE_F32, 4, 4, 4 },
		{ 3, 10, 4, 4, 128, EMBER_DTYPE_F32, 0, 0, 0 },
		{ 2, 40, 2, 1, 512, EMBER_DTYPE_F32, 0, 0, 0 },
	};
	uint64_t seed = 7;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (int f16 = 0; f16 < 2; f16++)
			for (int threaded = 0; threaded < 2; threaded++) {
				struct at_case tc = cases[i];

				if (f16) {
					tc.kv_dtype = EMBER_DTYPE_F16;
					tc.kv_pad &= ~1u;
				}
				run_case(&tc, threaded, seed++ * 0x2545f4914f6cdd1dull);
			}
	nop_job();
	mixed_job();

	{
		const uint32_t A = EMBER_ATTN_APPEND_KV, R = EMBER_ATTN_ROPE,
			       N = EMBER_ATTN_ROPE_NEOX;
		static const struct q8_case q8[] = {
			/* n_tok, n_past, heads, kv heads, hd, rd, flags, pad */
			{ 1, 0, 4, 4, 32, 32, 0, 0 },		/* first token */
			{ 1, 37, 8, 2, 64, 64, 0, 0 },		/* decode, GQA 4 */
			{ 1, 300, 4, 2, 32, 32, 0, 6 },	/* split decode */
			{ 5, 0, 6, 2, 64, 32, 0, 0 },		/* prefill, GQA 3 */
			{ 5, 19, 8, 1, 128, 128, 0, 2 },	/* chunk, MQA */
			{ 5, 3, 16, 1, 64, 64, 0, 0 },	/* group of 16 */
			{ 2, 4, 4, 2, 96, 64, 0, 0 },		/* 3 blocks a head */
			{ 17, 250, 32, 8, 128, 128, 0, 0 },	/* Q in two chunks */
		};
		static const uint32_t fl[] = { 0, A, R, A | R, A | R | N };

		for (size_t i = 0; i < sizeof(q8) / sizeof(q8[0]); i++)
			for (size_t f = 0; f < sizeof(fl) / sizeof(fl[0]); f++)
				for (int th = 0; th < 2; th++) {
					struct q8_case tc = q8[i];

					/* every shape with APPEND_KV | ROPE,
					 * the rest on a few */
					if (fl[f] != (A | R) && i % 3 != f % 3)
						continue;
					tc.flags = fl[f];
					q8_run(&tc, th);
				}
		q8_refused();
	}
	return test_finish("test_attention");
}
