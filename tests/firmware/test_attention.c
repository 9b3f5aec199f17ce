// SPDX-License-Identifier: MIT
/*
 * ATTENTION through ember_fw_run_job against a double-precision reference
 * (causal, grouped-query, softmax in double). Tolerance: |got - ref| <=
 * 2e-4 * (1 + |ref|); F16 caches are decoded exactly by the reference, so
 * the only error is float arithmetic. Also a job mixing NOP, MATMUL and
 * ATTENTION ops.
 */
#include <stdlib.h>

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
	return test_finish("test_attention");
}
