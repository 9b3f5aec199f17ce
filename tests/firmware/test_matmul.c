// SPDX-License-Identifier: MIT
/*
 * MATMUL through ember_fw_run_job on the fake device, against a double-
 * precision reference written here, for every weight type, flag combination,
 * padded strides, and serial and threaded execution.
 *
 * Tolerances: float weights (F32/F16/BF16): |got - ref| <= 1e-4 * sum|a*w|
 * + 1e-5 (float accumulation). Q8_0/Q4_0: the kernels quantize activations
 * to 8-bit blocks, so add sum over k of |w| * blockmax|a| / 127 (twice the
 * rounding bound). Bytes between rows of C must stay untouched.
 * Q8_0/Q4_0 also run with EMBER_MATMUL_W_X16, the weights packed by
 * ek_x16_pack: same tolerance, and UNSUPPORTED where a row's work memory
 * does not fit (X16 has no path without it).
 */
#include <stdlib.h>

#include "ember/kernels.h"
#include "test_ops.h"
#include "test_util.h"

#define SENTINEL 0x5au
/* = MATMUL_SCRATCH_BYTES in firmware/src/ops_matmul.c */
#define FW_SCRATCH (256u << 10)

/* How the firmware runs a matmul: whole with scratch, in row blocks, or
 * without scratch; the cases must cover all three. */
static unsigned int paths_seen[3];

struct mm_case {
	uint32_t m, n, k;
	int dtype;
	uint32_t flags;
	uint32_t a_pad, w_pad, c_pad;	/* extra bytes per row */
	bool x16;			/* W packed, EMBER_MATMUL_W_X16 */
};

static size_t w_row_bytes(int dtype, uint32_t k)
{
	switch (dtype) {
	case EMBER_DTYPE_F32: return (size_t)k * 4;
	case EMBER_DTYPE_F16:
	case EMBER_DTYPE_BF16: return (size_t)k * 2;
	case EMBER_DTYPE_Q8_0: return (size_t)k / 32 * 34;
	case EMBER_DTYPE_Q4_0: return (size_t)k / 32 * 18;
	}
	abort();
}

/* Fill a weight row with random values; return them decoded in @out. */
static void make_w_row(struct rng *r, int dtype, uint32_t k, uint8_t *row,
		       double *out)
{
	for (uint32_t i = 0; i < k; i++) {
		switch (dtype) {
		case EMBER_DTYPE_F32: {
			float f = rng_unit(r);

			memcpy(row + 4 * i, &f, 4);
			out[i] = f;
			break;
		}
		case EMBER_DTYPE_F16: {
			uint16_t h = rng_f16(r, -6, 1);

			memcpy(row + 2 * i, &h, 2);
			out[i] = ref_f16(h);
			break;
		}
		case EMBER_DTYPE_BF16: {
			uint16_t h = rng_bf16(r, -6, 1);

			memcpy(row + 2 * i, &h, 2);
			out[i] = ref_bf16(h);
			break;
		}
		default:
			break;
		}
	}
	if (dtype == EMBER_DTYPE_Q8_0) {
		for (uint32_t b = 0; b < k / 32; b++) {
			uint8_t *blk = row + 34 * b;
			uint16_t d = rng_f16(r, -9, -5);

			memcpy(blk, &d, 2);
			for (int j = 0; j < 32; j++) {
				int8_t q = (int8_t)(rng_below(r, 255) - 127);

				blk[2 + j] = (uint8_t)q;
				out[32 * b + j] = ref_f16(d) * q;
			}
		}
	} else if (dtype == EMBER_DTYPE_Q4_0) {
		for (uint32_t b = 0; b < k / 32; b++) {
			uint8_t *blk = row + 18 * b;
			uint16_t d = rng_f16(r, -6, -2);

			memcpy(blk, &d, 2);
			for (int j = 0; j < 16; j++) {
				uint8_t lo = (uint8_t)rng_below(r, 16);
				uint8_t hi = (uint8_t)rng_below(r, 16);

				blk[2 + j] = (uint8_t)(lo | hi << 4);
				out[32 * b + j] = ref_f16(d) * (lo - 8);
				out[32 * b + 16 + j] = ref_f16(d) * (hi - 8);
			}
		}
	}
}

static const char *dtype_name(int t)
{
	switch (t) {
	case EMBER_DTYPE_F32: return "F32";
	case EMBER_DTYPE_F16: return "F16";
	case EMBER_DTYPE_BF16: return "BF16";
	case EMBER_DTYPE_Q8_0: return "Q8_0";
	case EMBER_DTYPE_Q4_0: return "Q4_0";
	}
	return "?";
}

static void run_case(const struct mm_case *tc, bool threaded, uint64_t seed)
{
	struct rng r = { seed };
	struct fake_dev dev;
	struct fake_heap heap;
	struct ember_hal hal;
	struct ember_job_result res;
	struct ember_op_matmul op;
	struct stream s = { .size = 0 };
	bool quant = tc->dtype == EMBER_DTYPE_Q8_0 || tc->dtype == EMBER_DTYPE_Q4_0;
	size_t a_stride = (size_t)tc->k * 4 + tc->a_pad;
	size_t w_row = w_row_bytes(tc->dtype, tc->k);
	size_t w_stride = w_row + tc->w_pad;
	size_t c_stride = (size_t)tc->n * 4 + tc->c_pad;
	uint64_t a_len = (tc->m - 1) * a_stride + tc->k * 4ull;
	uint64_t w_len = (tc->n - 1) * w_stride + w_row;
	uint64_t c_len = (tc->m - 1) * c_stride + tc->n * 4ull;
	uint64_t a_va, w_va, c_va, b_va = 0, cmd_va, x16_va = 0;
	size_t x16_len = tc->x16 ? ek_x16_size(tc->dtype, tc->n, tc->k) : 0;
	bool fits = true;
	uint32_t want = EMBER_JOB_OK;
	double *a, *w, *bias, *c0;
	uint8_t *cmem;
	char what[160];
	int bad = 0;

	snprintf(what, sizeof(what), "matmul %s%s m=%u n=%u k=%u flags=%u pads=%u/%u/%u %s",
		 dtype_name(tc->dtype), tc->x16 ? " X16" : "", tc->m, tc->n, tc->k,
		 tc->flags, tc->a_pad, tc->w_pad, tc->c_pad,
		 threaded ? "threaded" : "serial");
	if (!fake_dev_init(&dev, 2048, threaded, 4)) {
		CHECK(0, "out of memory");
		return;
	}
	fake_heap_init(&heap, &dev);
	a = calloc((size_t)tc->m * tc->k, sizeof(double));
	w = calloc((size_t)tc->n * tc->k, sizeof(double));
	bias = calloc(tc->n, sizeof(double));
	c0 = calloc((size_t)tc->m * tc->n, sizeof(double));

	a_va = fake_alloc(&heap, a_len, 64);
	w_va = fake_alloc(&heap, w_len, 64);
	c_va = fake_alloc(&heap, c_len, 64);
	for (uint32_t i = 0; i < tc->m; i++)
		for (uint32_t j = 0; j < tc->k; j++) {
			float f = rng_unit(&r);

			memcpy(fake_dev_ptr(&dev, a_va + i * a_stride + j * 4), &f, 4);
			a[(size_t)i * tc->k + j] = f;
		}
	for (uint32_t i = 0; i < tc->n; i++)
		make_w_row(&r, tc->dtype, tc->k,
			   fake_dev_ptr(&dev, w_va + i * w_stride),
			   w + (size_t)i * tc->k);
	if (tc->x16) {
		x16_va = fake_alloc(&heap, x16_len, 64);
		CHECK(ek_x16_pack(tc->dtype, fake_dev_ptr(&dev, w_va), w_stride, tc->n,
				  tc->k, fake_dev_ptr(&dev, x16_va)), "%s: pack", what);
	}
	cmem = fake_dev_ptr(&dev, c_va);
	memset(cmem, SENTINEL, c_len);
	for (uint32_t i = 0; i < tc->m; i++)
		for (uint32_t j = 0; j < tc->n; j++) {
			float f = (tc->flags & EMBER_MATMUL_ACCUMULATE) ? rng_unit(&r) : 0;

			if (tc->flags & EMBER_MATMUL_ACCUMULATE)
				memcpy(cmem + i * c_stride + j * 4, &f, 4);
			c0[(size_t)i * tc->n + j] = f;
		}
	if (tc->flags & EMBER_MATMUL_BIAS) {
		b_va = fake_alloc(&heap, tc->n * 4ull, 4);
		for (uint32_t j = 0; j < tc->n; j++) {
			float f = rng_unit(&r);

			memcpy(fake_dev_ptr(&dev, b_va + j * 4), &f, 4);
			bias[j] = f;
		}
	}

	memset(&op, 0, sizeof(op));
	op_hdr_init(&op.hdr, EMBER_OP_MATMUL, sizeof(op));
	op.hdr.flags = tc->flags | (tc->x16 ? EMBER_MATMUL_W_X16 : 0);
	op.m = tc->m;
	op.n = tc->n;
	op.k = tc->k;
	op.w_dtype = (uint8_t)tc->dtype;
	op.a_va = a_va;
	op.w_va = w_va;
	op.c_va = c_va;
	op.bias_va = b_va;
	op.a_stride = a_stride;
	op.w_stride = w_stride;
	op.c_stride = c_stride;
	if (tc->x16) {
		op.w_va = x16_va;
		op.w_stride = 0;
		w_len = x16_len;
	}
	stream_nop(&s);
	stream_add(&s, &op, sizeof(op));
	cmd_va = stream_upload(&heap, &s);

	{
		struct ek_matmul p = { .m = tc->m, .n = tc->n, .k = tc->k };

		p.a = p.c = (float *)a;	/* only checked for non-NULL */
		p.w = w;
		p.w_dtype = tc->dtype;
		p.w_layout = tc->x16 ? EK_LAYOUT_X16 : EK_LAYOUT_ROWS;
		if (ek_matmul_scratch_size(&p, dev.nthreads) <= FW_SCRATCH) {
			paths_seen[0]++;
		} else {
			p.m = 1;
			fits = ek_matmul_scratch_size(&p, dev.nthreads) <= FW_SCRATCH;
			paths_seen[fits ? 1 : 2]++;
		}
		if (tc->x16 && !fits)
			want = EMBER_JOB_UNSUPPORTED;
	}
	hal = fake_dev_hal(&dev, ALL_OPS, ALL_DTYPES);
	ember_fw_run_job(&hal, 0, cmd_va, s.size, &res);

	CHECK(res.status == want, "%s: status %u, want %u (fault_op %u, fault_va 0x%llx)",
	      what, res.status, want, res.fault_op, (unsigned long long)res.fault_va);
	CHECK_EQ_U64(res.ops, want == EMBER_JOB_OK ? 2 : 1, what);
	CHECK_EQ_U64(res.bytes_read, s.size + a_len + w_len +
		     ((tc->flags & EMBER_MATMUL_BIAS) ? tc->n * 4ull : 0) +
		     ((tc->flags & EMBER_MATMUL_ACCUMULATE) ? c_len : 0), what);
	CHECK_EQ_U64(res.bytes_written, c_len, what);
	CHECK(fake_dev_live_maps(&dev) == 0 && dev.errors == 0,
	      "%s: %u mappings left, %u HAL misuses", what,
	      fake_dev_live_maps(&dev), dev.errors);
	CHECK(dev.max_parallel_n <= dev.nthreads, "%s: parallel n %d > %d", what,
	      dev.max_parallel_n, dev.nthreads);

	for (uint32_t i = 0; i < tc->m && res.status == EMBER_JOB_OK; i++) {
		for (uint32_t j = 0; j < tc->n; j++) {
			double ref = c0[(size_t)i * tc->n + j] + bias[j];
			double mag = 0, qerr = 0, amax = 0;
			float got;

			for (uint32_t k = 0; k < tc->k; k++) {
				double av = a[(size_t)i * tc->k + k];
				double wv = w[(size_t)j * tc->k + k];

				if (k % 32 == 0) {
					amax = 0;
					for (uint32_t t = k; t < k + 32 && t < tc->k; t++)
						amax = fmax(amax, fabs(a[(size_t)i * tc->k + t]));
				}
				ref += av * wv;
				mag += fabs(av * wv);
				qerr += fabs(wv) * amax / 127.0;
			}
			memcpy(&got, cmem + i * c_stride + j * 4, 4);
			double tol = 1e-4 * mag + 1e-5 + (quant ? qerr : 0);

			if (!(fabs(got - ref) <= tol) && bad++ < 5)
				CHECK(0, "%s: C[%u][%u] = %.9g, reference %.9g (tolerance %.3g)",
				      what, i, j, got, ref, tol);
		}
		for (size_t b = tc->n * 4ull; b < c_stride && i + 1 < tc->m; b++)
			if (cmem[i * c_stride + b] != SENTINEL && bad++ < 5)
				CHECK(0, "%s: gap byte %zu after C row %u overwritten", what, b, i);
	}
	free(a);
	free(w);
	free(bias);
	free(c0);
	fake_dev_free(&dev);
}

int main(void)
{
	static const int dtypes[] = {
		EMBER_DTYPE_F32, EMBER_DTYPE_F16, EMBER_DTYPE_BF16,
		EMBER_DTYPE_Q8_0, EMBER_DTYPE_Q4_0,
	};
	static const struct mm_case shapes[] = {
		{ 1, 1, 32, 0, 0, 0, 0, 0, false },
		{ 1, 67, 128, 0, 0, 0, 4, 0, false },
		{ 3, 5, 64, 0, 0, 12, 2, 8, false },
		{ 17, 33, 96, 0, 0, 4, 6, 20, false },
		{ 40, 24, 256, 0, 0, 0, 0, 4, false },
		{ 130, 48, 512, 0, 0, 0, 0, 0, false },	/* more rows than one scratch block holds */
		{ 60, 8, 4096, 0, 0, 4, 0, 0, false },
		{ 520, 16, 256, 0, 0, 0, 0, 12, false },
		{ 2, 2, 262144, 0, 0, 0, 0, 0, false },	/* one row needs more scratch than the firmware has */
	};
	static const uint32_t flag_sets[] = {
		0, EMBER_MATMUL_BIAS, EMBER_MATMUL_ACCUMULATE,
		EMBER_MATMUL_BIAS | EMBER_MATMUL_ACCUMULATE,
	};
	uint64_t seed = 1;
	unsigned int x16_cases = 0;

	for (size_t d = 0; d < 2 * sizeof(dtypes) / sizeof(dtypes[0]); d++)
		for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
			for (size_t f = 0; f < 4; f++) {
				struct mm_case tc = shapes[s];

				tc.dtype = dtypes[d % 5];
				tc.x16 = d >= 5;
				if (tc.x16 && tc.dtype != EMBER_DTYPE_Q8_0 &&
				    tc.dtype != EMBER_DTYPE_Q4_0)
					continue;
				x16_cases += tc.x16;
				tc.flags = flag_sets[f];
				/* 16-bit and block types need only 2-byte alignment */
				if (tc.dtype != EMBER_DTYPE_F32 && tc.w_pad % 2)
					tc.w_pad++;
				if (tc.dtype == EMBER_DTYPE_F32)
					tc.w_pad = (tc.w_pad + 3) & ~3u;
				run_case(&tc, (s + f) % 2, seed++ * 0x9e3779b97f4a7c15ull);
			}
	fflush(stderr);
	printf("test_matmul: scratch paths: whole %u, row blocks %u, none %u\n",
	       paths_seen[0], paths_seen[1], paths_seen[2]);
	CHECK(paths_seen[0] && paths_seen[1] && paths_seen[2],
	      "the cases no longer cover every scratch path of the firmware");
	CHECK(x16_cases == 2 * 4 * sizeof(shapes) / sizeof(shapes[0]),
	      "%u X16 cases", x16_cases);
	return test_finish("test_matmul");
}
