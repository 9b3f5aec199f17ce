/* SPDX-License-Identifier: MIT */
/*
 * ember-bench kernels: throughput of the ek_* kernels on this machine.
 *  - read bandwidth, measured at the start and again right before each
 *    memory-bound line (that line's baseline: this VM's bandwidth changes
 *    state within a run);
 *  - GEMM shapes (GFLOP/s) against OpenBLAS sgemm on the same threads;
 *  - M = 1 matmul (decode) in GB/s of weight bytes: "cold" cycles through
 *    copies of the matrix totalling > 256 MiB so weights come from DRAM,
 *    "l3" reuses one matrix bigger than L2; baseline: the read bandwidth
 *    (and sgemv for f32);
 *  - attention decode over an f16 / f32 / q8_0 cache of 2048 tokens in GB/s of
 *    cache bytes, cycling through layers like a real model.
 * ember and OpenBLAS are timed in alternating rounds (best of each), with
 * a pause after OpenBLAS so its spinning threads do not steal the next
 * run's CPU. Every timing is the best of several batches: other load on
 * the machine only ever slows a batch down.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bandwidth.h"
#include "handoff.h"
#include "bench.h"

#define COLD_BYTES ((size_t)256 << 20)
#define BW_BYTES ((size_t)512 << 20)
#define CBLAS_ROW_MAJOR 101
#define CBLAS_NO_TRANS 111
#define CBLAS_TRANS 112

struct kctx {
	const struct bench_opts *o;
	struct ek_pool *pool;
	struct ek_exec ex;
	struct bench_blas blas;
	bool have_blas;
	double bw;		/* GB/s */
	uint64_t seed;
	bool dry;		/* only count the rows the filter lets through */
	int matched;		/* (that count) */
};

static bool wanted(const struct kctx *k, const char *op)
{
	return !k->o->filter || strstr(op, k->o->filter);
}

static void pause_after_blas(void)
{
	usleep(300 * 1000);
}

/* ---- matmul ------------------------------------------------------------ */

struct mm_arg {
	struct kctx *k;
	struct ek_matmul p;
	void **w;		/* copies of W, cycled through */
	int nw, next;
	void *scratch;
	const float *wf;	/* f32 weights for OpenBLAS */
};

static void run_ek_matmul(void *arg)
{
	struct mm_arg *a = arg;

	a->p.w = a->w[a->next];
	a->next = (a->next + 1) % a->nw;
	ek_matmul(&a->k->ex, &a->p, a->scratch);
}

static void run_sgemm(void *arg)
{
	struct mm_arg *a = arg;

	a->k->blas.sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS,
			 (int)a->p.m, (int)a->p.n, (int)a->p.k, 1.0f, a->p.a,
			 (int)a->p.k, a->w[a->next], (int)a->p.k, 0.0f, a->p.c,
			 (int)a->p.n);
	a->next = (a->next + 1) % a->nw;
}

static void run_sgemv(void *arg)
{
	struct mm_arg *a = arg;

	a->k->blas.sgemv(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, (int)a->p.n,
			 (int)a->p.k, 1.0f, a->w[a->next], (int)a->p.k, a->p.a,
			 1, 0.0f, a->p.c, 1);
	a->next = (a->next + 1) % a->nw;
}

/* Read bandwidth (GB/s) measured now, as the baseline of the next line,
 * and the thread hand-off time (ns), which says which state the VM is in
 * (docs/performance.md). */
static double line_bandwidth(struct kctx *k, double *handoff_ns)
{
	double bw = ember_read_bandwidth(&k->ex, BW_BYTES, 2) * 1e-9;

	*handoff_ns = ember_handoff_ns();
	return bw;
}

/* copies: 0 = as many as make > COLD_BYTES, else that many; tag "x16 ...":
 * the weights in the X16 layout (kernels.h) */
static void bench_matmul(struct kctx *k, int dtype, uint32_t m, uint32_t n,
			 uint32_t kk, int copies, const char *tag)
{
	bool x16 = !strncmp(tag, "x16", 3);
	struct bench_result r;
	struct mm_arg a;
	size_t wbytes;
	char op[32];

	char full[96];

	snprintf(op, sizeof(op), "matmul");
	/* the filter may also name a dtype or shape: "matmul q8_0 1x" */
	snprintf(full, sizeof(full), "matmul %s %ux%ux%u %s",
		 ek_dtype_name(dtype), m, n, kk, tag);
	if (!wanted(k, op) && !wanted(k, full))
		return;
	if (k->dry) {
		k->matched++;
		return;
	}
	memset(&a, 0, sizeof(a));
	memset(&r, 0, sizeof(r));
	a.k = k;
	a.p.m = m;
	a.p.n = n;
	a.p.k = kk;
	a.p.w_dtype = dtype;
	a.p.w_stride = ek_row_size(dtype, kk);
	a.p.a_stride = (size_t)kk * 4;
	a.p.c_stride = (size_t)n * 4;
	float *A = bench_alloc((size_t)m * kk * 4);
	float *C = bench_alloc((size_t)m * n * 4);

	bench_fill(&k->seed, A, (size_t)m * kk, 2.0f);
	a.p.a = A;
	a.p.c = C;
	void *w0 = bench_weights(&k->seed, dtype, n, kk, &wbytes);

	a.nw = copies ? copies : (int)((COLD_BYTES + wbytes - 1) / wbytes);
	if (a.nw < 1)
		a.nw = 1;
	a.w = calloc((size_t)a.nw, sizeof(void *));
	/* X16: repacked (as many bytes when n is a multiple of 16) */
	size_t xbytes = x16 ? ek_x16_size(dtype, n, kk) : wbytes;
	void *packed = x16 ? bench_alloc(xbytes) : NULL;

	if (x16)
		ek_x16_pack(dtype, w0, a.p.w_stride, n, kk, packed);
	size_t wstep;
	uint8_t *wall = bench_copies(x16 ? packed : w0, xbytes, a.nw, &wstep);

	bench_free(packed, xbytes);
	for (int i = 0; i < a.nw; i++)
		a.w[i] = wall + wstep * (size_t)i;
	if (x16)
		a.p.w_layout = EK_LAYOUT_X16;
	size_t ss = ek_matmul_scratch_size(&a.p, k->ex.nthreads);

	a.scratch = ss ? bench_alloc(ss) : NULL;

	/* OpenBLAS on the same shape with f32 weights */
	bool blas = k->have_blas && (m > 1 || dtype == EK_F32);
	size_t fbytes = (size_t)n * kk * 4;
	void **wf = NULL;
	struct mm_arg b = a;

	if (blas) {
		wf = calloc((size_t)a.nw, sizeof(void *));
		for (int i = 0; i < a.nw; i++) {
			wf[i] = bench_alloc(fbytes);
			for (uint32_t row = 0; row < n; row++)
				ek_dequantize_row(dtype, (uint8_t *)w0 +
						  a.p.w_stride * row,
						  (float *)wf[i] + (size_t)row * kk,
						  kk);
		}
		b.w = wf;
	}
	/* the bandwidth right before a memory-bound line: this VM's read
	 * bandwidth changes between states (~33 and ~60 GB/s) within a run */
	double ho = 0, bw = m == 1 ? line_bandwidth(k, &ho) : 0;
	/* alternate ember and OpenBLAS rounds and keep the best of each, so
	 * a burst of other load does not land on one side only */
	double t = 1e30, tb = 1e30;

	for (int round = 0; round < (blas ? 2 : 1); round++) {
		double x = bench_time(k->o, run_ek_matmul, &a);

		t = x < t ? x : t;
		if (blas) {
			b.next = 0;
			x = bench_time(k->o, m == 1 ? run_sgemv : run_sgemm, &b);
			tb = x < tb ? x : tb;
			pause_after_blas();
		}
	}

	snprintf(r.op, sizeof(r.op), "%s", op);
	snprintf(r.dtype, sizeof(r.dtype), "%s", ek_dtype_name(dtype));
	snprintf(r.shape, sizeof(r.shape), "%ux%ux%u%s%s", m, n, kk,
		 tag[0] ? " " : "", tag);
	r.baseline = -1;
	if (m == 1) {
		snprintf(r.metric, sizeof(r.metric), "GB/s");
		r.value = (double)wbytes / t * 1e-9;
		r.baseline = bw;
		snprintf(r.baseline_name, sizeof(r.baseline_name),
			 "read bandwidth");
	} else {
		snprintf(r.metric, sizeof(r.metric), "GFLOP/s");
		r.value = 2.0 * m * n * kk / t * 1e-9;
	}
	snprintf(r.note, sizeof(r.note), "%.3f ms, %d x %.1f MiB W", t * 1e3,
		 a.nw, (double)wbytes / (1 << 20));
	if (m == 1) {
		size_t len = strlen(r.note);

		snprintf(r.note + len, sizeof(r.note) - len, ", hand-off %.0f ns", ho);
	}
	if (blas) {
		if (m == 1) {
			/* f32: OpenBLAS sgemv over the same bytes */
			r.baseline = (double)fbytes / tb * 1e-9;
			snprintf(r.baseline_name, sizeof(r.baseline_name),
				 "OpenBLAS sgemv");
		} else {
			r.baseline = 2.0 * m * n * kk / tb * 1e-9;
			snprintf(r.baseline_name, sizeof(r.baseline_name),
				 "OpenBLAS sgemm%s", dtype == EK_F32 ? "" :
				 " (f32 W)");
		}
		for (int i = 0; i < a.nw; i++)
			bench_free(wf[i], fbytes);
		free(wf);
	}
	bench_print(k->o, &r);
	bench_free(a.scratch, ss);
	bench_free(w0, wbytes);
	bench_free(wall, wstep * (size_t)a.nw);
	free(a.w);
	bench_free(A, (size_t)m * kk * 4);
	bench_free(C, (size_t)m * n * 4);
}

/* ---- attention decode -------------------------------------------------- */

struct at_arg {
	struct kctx *k;
	struct ek_attention p;
	void **kc, **vc;
	int nl, next;
};

static void run_ek_attention(void *arg)
{
	struct at_arg *a = arg;

	a->p.k = a->kc[a->next];
	a->p.v = a->vc[a->next];
	a->next = (a->next + 1) % a->nl;
	ek_attention(&a->k->ex, &a->p);
}

static void bench_attention(struct kctx *k, int dtype, int klayout,
			    uint32_t n_ctx, uint32_t n_head, uint32_t n_kv,
			    uint32_t hd)
{
	struct bench_result r;
	struct at_arg a;

	if (!wanted(k, "attention"))
		return;
	if (k->dry) {
		k->matched++;
		return;
	}
	memset(&a, 0, sizeof(a));
	memset(&r, 0, sizeof(r));
	a.k = k;
	a.p.n_tok = 1;
	a.p.n_past = n_ctx - 1;
	a.p.n_head = n_head;
	a.p.n_kv_head = n_kv;
	a.p.head_dim = hd;
	a.p.scale = 1.0f / sqrtf((float)hd);
	a.p.kv_dtype = dtype;
	a.p.k_layout = klayout;
	a.p.kv_stride = ek_row_size(dtype, (uint64_t)n_kv * hd);
	a.p.q_stride = (size_t)n_head * hd * 4;
	a.p.out_stride = a.p.q_stride;
	size_t cbytes = ek_kv_bytes(klayout, a.p.kv_stride, n_ctx);
	float *q = bench_alloc(a.p.q_stride), *out = bench_alloc(a.p.q_stride);
	float *tmp = malloc((size_t)n_kv * hd * 4);

	bench_fill(&k->seed, q, (size_t)n_head * hd, 2.0f);
	a.p.q = q;
	a.p.out = out;
	a.nl = (int)((COLD_BYTES + 2 * cbytes - 1) / (2 * cbytes));
	a.kc = calloc((size_t)a.nl, sizeof(void *));
	a.vc = calloc((size_t)a.nl, sizeof(void *));
	/* one allocation for all layers, like a runtime's KV cache (and
	 * backed by huge pages: per-layer maps of 1 MiB would not be) */
	size_t all = 2 * cbytes * (size_t)a.nl;
	uint8_t *cache = bench_alloc(all);

	for (int l = 0; l < a.nl; l++) {
		a.kc[l] = cache + 2 * cbytes * (size_t)l;
		a.vc[l] = cache + 2 * cbytes * (size_t)l + cbytes;
		if (l) {
			memcpy(a.kc[l], a.kc[0], cbytes);
			memcpy(a.vc[l], a.vc[0], cbytes);
			continue;
		}
		for (uint32_t j = 0; j < n_ctx; j++) {
			bench_fill(&k->seed, tmp, (size_t)n_kv * hd, 2.0f);
			ek_kv_store(dtype, klayout, a.kc[0], a.p.kv_stride, j, 0,
				    tmp, n_kv * hd);
			bench_fill(&k->seed, tmp, (size_t)n_kv * hd, 2.0f);
			ek_quantize_row(dtype, tmp, (uint8_t *)a.vc[0] +
					a.p.kv_stride * j, (uint64_t)n_kv * hd);
		}
	}
	double ho, bw = line_bandwidth(k, &ho);
	double t = bench_time(k->o, run_ek_attention, &a);

	snprintf(r.op, sizeof(r.op), "attention");
	snprintf(r.dtype, sizeof(r.dtype), "%s", ek_dtype_name(dtype));
	snprintf(r.shape, sizeof(r.shape), "ctx%u h%u/%u d%u%s", n_ctx, n_head,
		 n_kv, hd, klayout == EK_KV_KT16 ? " kt16" : "");
	snprintf(r.metric, sizeof(r.metric), "GB/s");
	r.value = 2.0 * (double)cbytes / t * 1e-9;
	r.baseline = bw;
	snprintf(r.baseline_name, sizeof(r.baseline_name), "read bandwidth");
	snprintf(r.note, sizeof(r.note), "%.1f us/layer, %.1f MiB/layer, hand-off %.0f ns",
		 t * 1e6, 2.0 * (double)cbytes / (1 << 20), ho);
	bench_print(k->o, &r);
	bench_free(cache, all);
	free(a.kc);
	free(a.vc);
	free(tmp);
	bench_free(q, a.p.q_stride);
	bench_free(out, a.p.q_stride);
}

/* Every row of the mode, in order (k->dry: only counted). */
static void run_rows(struct kctx *k)
{
	/* prefill-shaped GEMMs */
	bench_matmul(k, EK_F32, 512, 512, 512, 1, "");
	bench_matmul(k, EK_F32, 1024, 1024, 1024, 1, "");
	bench_matmul(k, EK_F32, 2048, 2048, 2048, 1, "");
	bench_matmul(k, EK_F32, 256, 2048, 2048, 1, "");
	bench_matmul(k, EK_F16, 512, 2048, 2048, 1, "");
	bench_matmul(k, EK_BF16, 512, 2048, 2048, 1, "");
	bench_matmul(k, EK_Q8_0, 512, 2048, 2048, 1, "");
	bench_matmul(k, EK_Q4_0, 512, 2048, 2048, 1, "");
	bench_matmul(k, EK_Q8_0, 512, 2048, 2048, 1, "x16");
	bench_matmul(k, EK_Q4_0, 512, 2048, 2048, 1, "x16");
	bench_matmul(k, EK_Q4_K, 512, 2048, 2048, 1, "");

	/* decode: M = 1, from DRAM, then from L3; Q8_0 / Q4_0 also in the X16
	 * layout; the block types (the K-quants of Q4_K_M / Q5_K_M files and
	 * their 32-block fallbacks) also on SmolLM2's short rows (K = 576)
	 * where their blocks fit */
	static const int dts[] = { EK_F32, EK_F16, EK_BF16, EK_Q8_0, EK_Q4_0,
				   EK_Q4_K, EK_Q5_K, EK_Q6_K, EK_Q5_0, EK_Q5_1,
				   EK_Q4_1 };
	const size_t ndts = sizeof(dts) / sizeof(dts[0]);

	for (size_t i = 0; i < ndts; i++)
		bench_matmul(k, dts[i], 1, 4096, 4096, 0, "cold");
	for (size_t i = 3; i < ndts; i++) {
		bool x16 = ek_x16_size(dts[i], EK_X16_ROWS, EK_QK) != 0;
		bool short_rows = 576 % ek_dtype_block(dts[i]) == 0;

		if (x16)
			bench_matmul(k, dts[i], 1, 4096, 4096, 0, "x16 cold");
		bench_matmul(k, dts[i], 1, 2048, 2048, 1, "l3");
		if (x16)
			bench_matmul(k, dts[i], 1, 2048, 2048, 1, "x16 l3");
		if (short_rows)
			bench_matmul(k, dts[i], 1, 1536, 576, 0, "cold");
		if (x16 && short_rows)
			bench_matmul(k, dts[i], 1, 1536, 576, 0, "x16 cold");
	}

	/* attention decode over a 2048-token cache */
	/* K rows (the device's layout) and KT16 (the CPU runtime's, where
	 * it pays), on TinyLlama, Qwen2-0.5B, Llama-3-8B and SmolLM2 heads */
	for (int l = EK_KV_ROWS; l <= EK_KV_KT16; l++) {
		if (l == EK_KV_KT16 && !ek_kv_kt16_preferred())
			break;
		bench_attention(k, EK_F16, l, 2048, 32, 4, 64);
		bench_attention(k, EK_F16, l, 2048, 14, 2, 64);
		bench_attention(k, EK_F16, l, 2048, 32, 8, 128);
		bench_attention(k, EK_F16, l, 2048, 9, 3, 64);
		bench_attention(k, EK_F32, l, 2048, 32, 4, 64);
	}
	/* a Q8_0 cache, in the layout the runtime picks here: compare its
	 * us/layer with f16's */
	for (int i = 0; i < 4; i++) {
		static const uint32_t sh[4][3] = {
			{ 32, 4, 64 }, { 14, 2, 64 }, { 32, 8, 128 }, { 9, 3, 64 },
		};

		bench_attention(k, EK_Q8_0, ek_kv_kt16_preferred() ? EK_KV_KT16 :
			       EK_KV_ROWS, 2048, sh[i][0], sh[i][1], sh[i][2]);
	}
}

int bench_kernels_main(const struct bench_opts *o)
{
	struct kctx k;

	memset(&k, 0, sizeof(k));
	k.o = o;
	k.seed = 42;
	/* a filter that matches no row is an error before anything runs */
	k.dry = true;
	run_rows(&k);
	if (!k.matched) {
		fprintf(stderr, "ember-bench: no kernel row matches --filter '%s': the ops are matmul and attention, and a matmul row also matches by its dtype and shape (\"matmul q8_0 1x\")\n",
			o->filter);
		return 1;
	}
	k.dry = false;
	/* OpenBLAS first: it reads its environment when it loads */
	k.have_blas = bench_blas_load(&k.blas, o->threads);
	k.pool = ek_pool_create(o->threads);
	if (!k.pool) {
		fprintf(stderr, "ember-bench: cannot start %d threads\n",
			o->threads);
		return 1;
	}
	k.ex = ek_pool_exec(k.pool);
	if (!o->json)
		printf("threads %d, OpenBLAS %s (OPENBLAS_CORETYPE=%s)\n",
		       o->threads, k.have_blas ? k.blas.config : "missing",
		       k.blas.coretype ? k.blas.coretype : "auto");
	bench_print_header(o);

	k.bw = ember_read_bandwidth(&k.ex, BW_BYTES, 5) * 1e-9;
	{
		struct bench_result r;

		memset(&r, 0, sizeof(r));
		snprintf(r.op, sizeof(r.op), "read");
		snprintf(r.dtype, sizeof(r.dtype), "-");
		snprintf(r.shape, sizeof(r.shape), "%zu MiB", BW_BYTES >> 20);
		snprintf(r.metric, sizeof(r.metric), "GB/s");
		r.value = k.bw;
		r.baseline = -1;
		/* other load skews every number: say how much there was */
		FILE *f = fopen("/proc/loadavg", "r");
		double la;

		if (f && fscanf(f, "%lf", &la) == 1)
			snprintf(r.note, sizeof(r.note), "loadavg %.2f at start",
				 la);
		if (f)
			fclose(f);
		bench_print(o, &r);
		/* the other side of the VM's state: ~50 ns or several hundred */
		snprintf(r.op, sizeof(r.op), "handoff");
		snprintf(r.shape, sizeof(r.shape), "2 threads");
		snprintf(r.metric, sizeof(r.metric), "ns");
		r.value = ember_handoff_ns();
		snprintf(r.note, sizeof(r.note), "cache-line round trip");
		bench_print(o, &r);
	}

	run_rows(&k);

	ek_pool_destroy(k.pool);
	bench_blas_unload(&k.blas);
	return 0;
}
