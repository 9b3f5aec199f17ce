// SPDX-License-Identifier: MIT
/*
 * ember-demo: the Ember NPU end to end from userspace. Opens the device,
 * prints what it is, runs a batch of MATMUL and ATTENTION jobs with the
 * shapes of a small language model (SmolLM-135M: hidden 576, 9 query / 3 KV
 * heads of 64, FFN 1536) through io_uring, checks every result against a
 * host reference, and reports the max error and jobs/s, plus NOP jobs/s
 * (the submission overhead). Exits non-zero if anything is wrong.
 *
 *   ember-demo [-d NODE] [-n JOBS] [-b INFLIGHT] [-N NOPS] [-s SEED] [-q]
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ember/ember.h"
#include "ember_ref.h"

#define SEC 1000000000ll
#define VARIANTS 2	/* distinct inputs per kind (references cost guest CPU) */

enum kind_type { K_MATMUL, K_ATTN };

/* One kind of job: a shape, its inputs (VARIANTS sets), reference outputs
 * per variant, and an output buffer with a slot per job. */
struct kind {
	const char *name;
	enum kind_type type;
	/* MATMUL */
	uint32_t m, n, k, w_dtype;
	/* ATTENTION */
	uint32_t n_tok, n_past, n_head, n_kv, hd, n_ctx, kv_dtype;

	struct ember_bo *in0, *in1, *in2;	/* A W - | Q K V */
	struct ember_bo *out;
	uint64_t in0_bytes, in1_bytes, in2_bytes, out_bytes; /* per variant/job */
	uint32_t jobs;			/* jobs of this kind */
	double *ref[VARIANTS], *tol[VARIANTS];
	size_t out_elems;
};

static struct kind kinds[] = {
	{ .name = "q-proj   decode  1x576x576 F16",  .type = K_MATMUL,
	  .m = 1, .n = 576, .k = 576, .w_dtype = EMBER_DTYPE_F16 },
	{ .name = "ffn-up   decode  1x1536x576 Q8_0", .type = K_MATMUL,
	  .m = 1, .n = 1536, .k = 576, .w_dtype = EMBER_DTYPE_Q8_0 },
	{ .name = "ffn-down decode  1x576x1536 Q4_0", .type = K_MATMUL,
	  .m = 1, .n = 576, .k = 1536, .w_dtype = EMBER_DTYPE_Q4_0 },
	{ .name = "o-proj   prefill 16x576x576 F32", .type = K_MATMUL,
	  .m = 16, .n = 576, .k = 576, .w_dtype = EMBER_DTYPE_F32 },
	{ .name = "attn     decode  1 tok @ 255, 9/3x64 F16", .type = K_ATTN,
	  .n_tok = 1, .n_past = 255, .n_head = 9, .n_kv = 3, .hd = 64,
	  .n_ctx = 512, .kv_dtype = EMBER_DTYPE_F16 },
	{ .name = "attn     prefill 16 tok @ 0, 9/3x64 F32", .type = K_ATTN,
	  .n_tok = 16, .n_past = 0, .n_head = 9, .n_kv = 3, .hd = 64,
	  .n_ctx = 512, .kv_dtype = EMBER_DTYPE_F32 },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static size_t row_bytes(uint32_t dtype, size_t n)
{
	switch (dtype) {
	case EMBER_DTYPE_F32: return n * 4;
	case EMBER_DTYPE_F16: return n * 2;
	case EMBER_DTYPE_Q8_0: return n / 32 * 34;
	case EMBER_DTYPE_Q4_0: return n / 32 * 18;
	default: return 0;
	}
}

/* Encode a row as @dtype; @deq gets what the device will read. */
static void encode(uint32_t dtype, const float *src, void *dst, float *deq,
		   size_t n)
{
	uint16_t *h = dst;
	size_t i;

	switch (dtype) {
	case EMBER_DTYPE_F16:
		for (i = 0; i < n; i++) {
			h[i] = eref_f32_to_f16(src[i]);
			deq[i] = eref_f16_to_f32(h[i]);
		}
		break;
	case EMBER_DTYPE_Q8_0:
		eref_quantize_q8_0(src, dst, n);
		eref_dequantize_q8_0(dst, deq, n);
		break;
	case EMBER_DTYPE_Q4_0:
		eref_quantize_q4_0(src, dst, n);
		eref_dequantize_q4_0(dst, deq, n);
		break;
	default:
		memcpy(dst, src, n * 4);
		memcpy(deq, src, n * 4);
	}
}

#define TRY(dev, expr) do { \
	int _r = (expr); \
	if (_r < 0) { \
		fprintf(stderr, "ember-demo: %s: %s\n", #expr, ember_errmsg(dev)); \
		return _r; \
	} \
} while (0)

static int bo(struct ember_device *dev, uint64_t size, struct ember_bo **b,
	      void **map)
{
	TRY(dev, ember_bo_create(dev, size, b));
	TRY(dev, ember_bo_map(*b, map));
	return 0;
}

/* Create the inputs of a kind, its output buffer, and its references. */
static int setup_kind(struct ember_device *dev, struct kind *kd,
		      struct eref_rng *r)
{
	uint8_t *m0, *m1, *m2;
	void *mo;
	int v;

	if (kd->type == K_MATMUL) {
		size_t wrow = row_bytes(kd->w_dtype, kd->k);
		float *a = malloc((size_t)kd->m * kd->k * 4);
		float *w = malloc((size_t)kd->n * kd->k * 4);
		float *src = malloc((size_t)kd->k * 4);
		uint32_t j;

		if (!a || !w || !src)
			return -ENOMEM;
		kd->in0_bytes = (uint64_t)kd->m * kd->k * 4;
		kd->in1_bytes = (uint64_t)kd->n * wrow;
		kd->out_elems = (size_t)kd->m * kd->n;
		if (bo(dev, kd->in0_bytes * VARIANTS, &kd->in0, (void **)&m0) ||
		    bo(dev, kd->in1_bytes * VARIANTS, &kd->in1, (void **)&m1))
			return -ENOMEM;
		for (v = 0; v < VARIANTS; v++) {
			eref_fill(r, a, (size_t)kd->m * kd->k, 1.0f);
			memcpy(m0 + v * kd->in0_bytes, a, kd->in0_bytes);
			for (j = 0; j < kd->n; j++) {
				eref_fill(r, src, kd->k, 0.25f);
				encode(kd->w_dtype, src,
				       m1 + v * kd->in1_bytes + j * wrow,
				       w + (size_t)j * kd->k, kd->k);
			}
			kd->ref[v] = malloc(kd->out_elems * sizeof(double));
			kd->tol[v] = malloc(kd->out_elems * sizeof(double));
			if (!kd->ref[v] || !kd->tol[v])
				return -ENOMEM;
			eref_matmul(kd->m, kd->n, kd->k, a, kd->k, w, kd->k,
				    NULL, NULL, 0, kd->ref[v], kd->tol[v]);
			for (j = 0; j < kd->out_elems; j++)
				kd->tol[v][j] = 1e-4 * kd->tol[v][j] + 1e-6;
			if (kd->w_dtype == EMBER_DTYPE_Q8_0 ||
			    kd->w_dtype == EMBER_DTYPE_Q4_0)
				eref_matmul_q8_act_tol(kd->m, kd->n, kd->k, a,
						       kd->k, w, kd->k, 1.5,
						       kd->tol[v]);
		}
		free(a);
		free(w);
		free(src);
	} else {
		size_t qn = (size_t)kd->n_head * kd->hd, kvn = (size_t)kd->n_kv * kd->hd;
		size_t kvrow = row_bytes(kd->kv_dtype, kvn), i;
		float *q = malloc(qn * kd->n_tok * 4);
		float *kk = malloc(kvn * kd->n_ctx * 4), *vv = malloc(kvn * kd->n_ctx * 4);
		float *src = malloc(kvn * 4);

		if (!q || !kk || !vv || !src)
			return -ENOMEM;
		kd->in0_bytes = qn * kd->n_tok * 4;
		kd->in1_bytes = kvrow * kd->n_ctx;
		kd->in2_bytes = kd->in1_bytes;
		kd->out_elems = qn * kd->n_tok;
		if (bo(dev, kd->in0_bytes * VARIANTS, &kd->in0, (void **)&m0) ||
		    bo(dev, kd->in1_bytes * VARIANTS, &kd->in1, (void **)&m1) ||
		    bo(dev, kd->in2_bytes * VARIANTS, &kd->in2, (void **)&m2))
			return -ENOMEM;
		for (v = 0; v < VARIANTS; v++) {
			eref_fill(r, q, qn * kd->n_tok, 1.0f);
			memcpy(m0 + v * kd->in0_bytes, q, kd->in0_bytes);
			for (i = 0; i < kd->n_ctx; i++) {
				eref_fill(r, src, kvn, 1.0f);
				encode(kd->kv_dtype, src,
				       m1 + v * kd->in1_bytes + i * kvrow,
				       kk + i * kvn, kvn);
				eref_fill(r, src, kvn, 1.0f);
				encode(kd->kv_dtype, src,
				       m2 + v * kd->in2_bytes + i * kvrow,
				       vv + i * kvn, kvn);
			}
			kd->ref[v] = malloc(kd->out_elems * sizeof(double));
			kd->tol[v] = malloc(kd->out_elems * sizeof(double));
			if (!kd->ref[v] || !kd->tol[v])
				return -ENOMEM;
			eref_attention(kd->n_tok, kd->n_past, kd->n_head,
				       kd->n_kv, kd->hd,
				       1.0f / sqrtf((float)kd->hd), q, qn, kk,
				       vv, kvn, kd->ref[v]);
			for (i = 0; i < kd->out_elems; i++)
				kd->tol[v][i] = 4e-5;	/* |v| <= 1 */
		}
		free(q);
		free(kk);
		free(vv);
		free(src);
	}
	kd->out_bytes = kd->out_elems * 4;
	if (kd->jobs)
		return bo(dev, kd->out_bytes * kd->jobs, &kd->out, &mo);
	return 0;
}

/* Job i: kind i % NKINDS, slot i / NKINDS, variant slot % VARIANTS. */
static int add_job(struct ember_cmdbuf *cb, struct kind *kd, uint32_t slot)
{
	uint32_t v = slot % VARIANTS;

	if (kd->type == K_MATMUL) {
		struct ember_matmul_desc d = {
			.m = kd->m, .n = kd->n, .k = kd->k,
			.w_dtype = kd->w_dtype,
			.a = { kd->in0, v * kd->in0_bytes },
			.w = { kd->in1, v * kd->in1_bytes },
			.c = { kd->out, slot * kd->out_bytes },
		};
		return ember_cmdbuf_matmul(cb, &d);
	} else {
		struct ember_attention_desc d = {
			.n_tok = kd->n_tok, .n_past = kd->n_past,
			.n_head = kd->n_head, .n_kv_head = kd->n_kv,
			.head_dim = kd->hd, .n_ctx = kd->n_ctx,
			.kv_dtype = kd->kv_dtype,
			.q = { kd->in0, v * kd->in0_bytes },
			.k = { kd->in1, v * kd->in1_bytes },
			.v = { kd->in2, v * kd->in2_bytes },
			.out = { kd->out, slot * kd->out_bytes },
		};
		return ember_cmdbuf_attention(cb, &d);
	}
}

/* Run @n jobs (job i = jobs[i % njobs]) through @q keeping up to @depth in
 * flight. Returns the number of non-OK completions or -errno; *enters
 * counts io_uring_enter() submissions. */
static int pump(struct ember_device *dev, struct ember_queue *q,
		const struct ember_job *jobs, uint32_t njobs, uint32_t n,
		uint32_t depth, int *status, uint64_t *seqno, int *enters)
{
	struct ember_completion c[256];
	uint32_t next = 0, done = 0;
	int bad = 0, got, i;

	*enters = 0;
	while (done < n) {
		/* refill in batches: one io_uring_enter() per half queue */
		if (ember_queue_inflight(q) <= depth / 2) {
			while (next < n && ember_queue_inflight(q) < depth) {
				TRY(dev, ember_queue_push(q, &jobs[next % njobs], next));
				next++;
			}
			if (ember_queue_submit(q) > 0)
				(*enters)++;
		}
		got = ember_queue_wait(q, c, 256, 1, 60 * SEC);
		if (got < 0) {
			fprintf(stderr, "ember-demo: %s\n", ember_errmsg(dev));
			return got;
		}
		for (i = 0; i < got; i++) {
			if (status) {
				status[c[i].user_data] = c[i].status;
				seqno[c[i].user_data] = c[i].seqno;
			}
			if (c[i].status != EMBER_JOB_OK)
				bad++;
		}
		done += got;
	}
	return bad;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ember-demo [-d NODE] [-n JOBS] [-b INFLIGHT] [-N NOPS] [-s SEED] [-q]\n"
		"  -n  MATMUL/ATTENTION jobs (default 512)\n"
		"  -b  jobs in flight per io_uring (default 128)\n"
		"  -N  NOP jobs for the overhead measurement (default 4096)\n"
		"  -q  quick: -n 96 -N 512\n");
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	uint32_t njobs = 512, depth = 128, nops = 4096, i;
	uint64_t seed = 1;
	struct ember_device *dev;
	struct ember_cmdbuf *cb, *nopcb;
	struct ember_queue *q;
	struct ember_job *jobs, nopjob;
	const struct drm_ember_device_info *info;
	struct drm_ember_perf p0, p1;
	char msg[EMBER_ERRMSG_SIZE];
	struct eref_rng r;
	int *status, enters, bad, ret, opt, failed = 0;
	uint64_t *seqno;
	double t0, t1, maxerr = 0, worst = 0;
	size_t nbad = 0;

	while ((opt = getopt(argc, argv, "d:n:b:N:s:qh")) != -1) {
		switch (opt) {
		case 'd': path = optarg; break;
		case 'n': njobs = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'b': depth = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'N': nops = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'q': njobs = 96; nops = 512; break;
		default: usage(); return 2;
		}
	}
	if (!njobs || !depth || depth > 4096) {
		usage();
		return 2;
	}

	ret = ember_device_open(path, &dev, msg, sizeof(msg));
	if (ret) {
		fprintf(stderr, "ember-demo: %s\n", msg);
		return 1;
	}
	info = ember_device_info(dev);
	printf("Ember device %s\n", ember_device_path(dev));
	printf("  pci %04x:%04x  hw %u.%u  firmware %s (abi %u.%u, build %016llx)\n",
	       info->pci_vendor, info->pci_device, info->hw_version >> 16,
	       info->hw_version & 0xffff, info->fw_version,
	       info->fw_abi_version >> 16, info->fw_abi_version & 0xffff,
	       (unsigned long long)info->fw_build_id);
	printf("  %u compute units, ring %u, ops 0x%llx, dtypes 0x%llx, VA 0x%llx + %llu MiB\n",
	       info->compute_units, info->queue_depth,
	       (unsigned long long)info->caps_ops,
	       (unsigned long long)info->caps_dtypes,
	       (unsigned long long)info->va_start,
	       (unsigned long long)(info->va_size >> 20));

	/* inputs, outputs and references */
	eref_seed(&r, seed);
	for (i = 0; i < NKINDS; i++)
		kinds[i].jobs = njobs / NKINDS + (i < njobs % NKINDS);
	t0 = now();
	for (i = 0; i < NKINDS; i++) {
		struct kind *kd = &kinds[i];
		uint32_t dt = kd->type == K_MATMUL ? kd->w_dtype : kd->kv_dtype;

		if (!ember_device_has_dtype(dev, dt)) {
			fprintf(stderr, "ember-demo: the device lacks dtype %u needed by '%s'\n",
				dt, kd->name);
			return 1;
		}
		if (setup_kind(dev, kd, &r)) {
			fprintf(stderr, "ember-demo: setting up '%s' failed: %s\n",
				kd->name, ember_errmsg(dev));
			return 1;
		}
	}
	printf("prepared %u jobs of %zu kinds (host references in %.2f s)\n",
	       njobs, NKINDS, now() - t0);

	/* one command buffer with every job's stream */
	jobs = calloc(njobs, sizeof(*jobs));
	status = calloc(njobs, sizeof(*status));
	seqno = calloc(njobs, sizeof(*seqno));
	if (!jobs || !status || !seqno)
		return 1;
	if (ember_cmdbuf_create(dev, njobs * 136 + 4096, &cb) ||
	    ember_queue_create(dev, depth, &q)) {
		fprintf(stderr, "ember-demo: %s\n", ember_errmsg(dev));
		return 1;
	}
	for (i = 0; i < njobs; i++) {
		ember_cmdbuf_begin(cb);
		if (add_job(cb, &kinds[i % NKINDS], i / NKINDS) ||
		    ember_cmdbuf_end(cb, &jobs[i])) {
			fprintf(stderr, "ember-demo: job %u: %s\n", i, ember_errmsg(dev));
			return 1;
		}
	}

	ember_query_perf(dev, &p0);
	t0 = now();
	bad = pump(dev, q, jobs, njobs, njobs, depth, status, seqno, &enters);
	t1 = now();
	ember_query_perf(dev, &p1);
	if (bad < 0)
		return 1;
	printf("ran %u jobs in %.3f s: %.1f jobs/s (%d io_uring_enter submits, up to %u in flight; device busy %.3f s)\n",
	       njobs, t1 - t0, njobs / (t1 - t0), enters, depth,
	       (p1.busy_ns - p0.busy_ns) * 1e-9);

	/* check every job */
	for (i = 0; i < njobs; i++) {
		struct kind *kd = &kinds[i % NKINDS];
		uint32_t slot = i / NKINDS, v = slot % VARIANTS;
		const float *o;
		void *map;
		size_t e;

		if (status[i] != EMBER_JOB_OK) {
			if (!failed++)
				printf("FAIL: job %u (%s): status %d %s\n", i,
				       kd->name, status[i], ember_status_name(status[i]));
			continue;
		}
		if (i && seqno[i] != seqno[i - 1] + 1 && !failed)
			printf("note: job %u seqno %llu after %llu\n", i,
			       (unsigned long long)seqno[i],
			       (unsigned long long)seqno[i - 1]);
		ember_bo_map(kd->out, &map);
		o = (const float *)((const uint8_t *)map + slot * kd->out_bytes);
		for (e = 0; e < kd->out_elems; e++) {
			double err = fabs(o[e] - kd->ref[v][e]);
			double rel = err / kd->tol[v][e];

			if (!(err <= kd->tol[v][e])) {
				if (!nbad++)
					printf("FAIL: job %u (%s) element %zu = %.7g, reference %.7g (|err| %.3g > tol %.3g)\n",
					       i, kd->name, e, o[e], kd->ref[v][e],
					       err, kd->tol[v][e]);
			}
			if (err > maxerr || isnan(err))
				maxerr = err;
			if (rel > worst || isnan(rel))
				worst = rel;
		}
	}
	for (i = 0; i < NKINDS && i < njobs; i++) {
		struct kind *kd = &kinds[i];
		const float *o;
		void *map;

		ember_bo_map(kd->out, &map);
		o = map;
		printf("  %-42s out[0..3] = % .5f % .5f % .5f % .5f  (ref % .5f % .5f % .5f % .5f)\n",
		       kd->name, o[0], o[1], o[2], o[3], kd->ref[0][0],
		       kd->ref[0][1], kd->ref[0][2], kd->ref[0][3]);
	}
	printf("max |err| %.3g (%.2f of the tolerance), %zu elements out of tolerance, %d jobs not OK\n",
	       maxerr, worst, nbad, failed);

	/* submission overhead: NOP jobs through io_uring and the ioctl */
	if (nops) {
		uint32_t batch = info->max_submit_jobs < 64 ? info->max_submit_jobs : 64;
		struct ember_job *nb;
		uint64_t s;
		double tn;

		if (ember_cmdbuf_create(dev, 4096, &nopcb) ||
		    ember_cmdbuf_nop(nopcb) || ember_cmdbuf_end(nopcb, &nopjob)) {
			fprintf(stderr, "ember-demo: %s\n", ember_errmsg(dev));
			return 1;
		}
		t0 = now();
		bad = pump(dev, q, &nopjob, 1, nops, depth, NULL, NULL, &enters);
		tn = now() - t0;
		if (bad < 0)
			return 1;
		printf("NOP via io_uring: %u jobs in %.3f s: %.1f jobs/s (%d submits)\n",
		       nops, tn, nops / tn, enters);
		if (bad)
			failed += bad;
		nb = calloc(batch, sizeof(*nb));
		if (!nb)
			return 1;
		for (i = 0; i < batch; i++)
			nb[i] = nopjob;
		t0 = now();
		for (i = 0; i < nops; i += batch) {
			uint32_t cnt = nops - i < batch ? nops - i : batch;

			if (ember_submit(dev, nb, cnt, &s) ||
			    ember_wait(dev, s + cnt - 1, 60 * SEC) != EMBER_JOB_OK) {
				fprintf(stderr, "ember-demo: NOP ioctl: %s\n",
					ember_errmsg(dev));
				failed++;
				break;
			}
		}
		tn = now() - t0;
		printf("NOP via ioctl:    %u jobs in %.3f s: %.1f jobs/s (SUBMIT of %u, WAIT on the last)\n",
		       nops, tn, nops / tn, batch);
		free(nb);
		ember_cmdbuf_free(nopcb);
	}

	ember_queue_destroy(q);
	ember_cmdbuf_free(cb);
	for (i = 0; i < NKINDS; i++) {
		int v;

		ember_bo_free(kinds[i].in0);
		ember_bo_free(kinds[i].in1);
		ember_bo_free(kinds[i].in2);
		ember_bo_free(kinds[i].out);
		for (v = 0; v < VARIANTS; v++) {
			free(kinds[i].ref[v]);
			free(kinds[i].tol[v]);
		}
	}
	free(jobs);
	free(status);
	free(seqno);
	ember_device_close(dev);
	if (failed || nbad) {
		printf("ember-demo: FAILED\n");
		return 1;
	}
	printf("ember-demo: all %u results match the host reference\n", njobs);
	return 0;
}
