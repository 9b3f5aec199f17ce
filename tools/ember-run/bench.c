/* SPDX-License-Identifier: MIT */
/*
 * ember-run --bench: prefill and decode speed of a model, and how close
 * decode comes to the memory-bandwidth bound (bytes each token must read:
 * every matmul weight, the LM head, and the KV cache so far), with the
 * bandwidth measured in the same run, around every decode token, on the
 * session's own threads.
 */
#include "bench.h"
#include "token_bound.h"

#include "bandwidth.h"
#include "cache_size.h"
#include "handoff.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ember/kernels.h>

/*
 * The decode bound is measured token by token: this VM's read bandwidth
 * moves between ~30 and ~60 GB/s within seconds (docs/performance.md), so
 * a read probe runs right before every decode token (and after the last),
 * on the session's own threads, and a token's bound is the time its
 * bytes take at the highest of the probes around it (token_bound.h; a
 * probe a descheduled vCPU slowed several-fold is set aside). A probe
 * reads the next slice of a ring much larger than the caches (a slice read
 * again and again would partly come from the L3): 4x the last-level
 * cache, at least 256 MiB.
 */
#define PROBE_BYTES ((size_t)16 << 20)
#define PROBE_RING_MIN ((size_t)256 << 20)
#define PROBE_STREAMS 4

struct probe {
	struct ek_exec ex;	/* the session's own threads */
	struct ember_read_ring ring;
};

static void session_run(void *ctx, ek_task_fn fn, void *arg, int n)
{
	ember_session_run_job(ctx, fn, arg, n);
}

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static double cpu_now(void)
{
	return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static int probe_init(struct probe *p, struct ember_session *s)
{
	p->ex = (struct ek_exec){ .ctx = s, .run = session_run,
				  .nthreads = ember_session_n_threads(s) };
	return ember_read_ring_init(&p->ring, PROBE_BYTES,
				    (unsigned int)(ember_cold_bytes(PROBE_RING_MIN) /
						   PROBE_BYTES));
}

/* Bytes per second of the next slice. */
static double probe_read(struct probe *p)
{
	return ember_read_ring_pass(&p->ring, &p->ex, PROBE_STREAMS);
}

/* One round: its times (s), and the decode's at the bandwidth read before
 * each token, with the slowest and fastest of those reads (bytes/s). */
struct round {
	double t_pre, t_dec, t_bound, bytes, bw_min, bw_max, handoff;
	double cpu_dec;		/* process CPU time of the decode evals (s) */
	int disturbed;		/* probes set aside */
};

/* What a run measured, for the report. */
struct result {
	uint64_t rss;
	double bw, bw_min, bw_max, handoff;	/* of the fastest decode round */
	double bytes;		/* read per decode token, on average */
	double cpu_per_token;	/* s of process CPU time per decode token */
	const char *device;	/* "cpu" or "npu" */
	int rounds, disturbed;
};

static void report(const struct bench_opts *o, const struct ember_model_info *in,
		   const char *phase, int n, double tps, double bound,
		   const struct result *r)
{
	const char *dt = ember_type_name(in->weight_dtype);
	const char *name = in->name[0] ? in->name : in->path;

	if (o->json)
		printf("{\"model\": \"%s\", \"generated_weights\": %s, \"dtype\": \"%s\", \"phase\": \"%s\", \"tokens\": %d, \"threads\": %d, \"tokens_per_s\": %.2f, \"bound_tokens_per_s\": %.2f, \"ratio\": %.3f, \"peak_rss_bytes\": %llu, \"bandwidth_gbs\": %.2f, \"bandwidth_min_gbs\": %.2f, \"bandwidth_max_gbs\": %.2f, \"read_bytes_per_token\": %.0f, \"handoff_ns\": %.0f, \"rounds\": %d, \"probes_disturbed\": %d, \"kv_type\": \"%s\", \"device\": \"%s\", \"cpu_ms_per_token\": %.3f}\n",
		       name, in->generated ? "true" : "false", dt, phase, n, o->n_threads, tps,
		       bound, bound > 0 ? tps / bound : 0, (unsigned long long)r->rss,
		       r->bw / 1e9, r->bw_min / 1e9, r->bw_max / 1e9, r->bytes, r->handoff, r->rounds,
		       r->disturbed, ember_type_name(o->kv_dtype), r->device,
		       strcmp(phase, "decode") ? 0 : r->cpu_per_token * 1e3);
	else
		printf("%-8s %-60s %5s %4d tokens: %9.2f tok/s%s", phase, name, dt, n, tps,
		       bound > 0 ? "" : "\n");
	if (!o->json && bound > 0)
		printf("  (bound %.2f, %.0f%%)\n", bound, 100 * tps / bound);
}

/* Bytes a decode token at position pos reads: every matmul weight and the
 * K and V of every layer for positions 0..pos. */
static double token_bytes(const struct ember_model_info *in, int kv_dtype,
			  uint32_t pos)
{
	double kv = (double)in->n_layer * 2.0 *
		    (double)ek_row_size(kv_dtype, (uint64_t)in->n_head_kv * in->head_dim);

	return (double)in->matmul_bytes + kv * (pos + 1);
}

/* One round from an empty context: prefill o->n_prefill tokens (or one),
 * then decode o->n_decode. With a probe, the bandwidth is read before
 * every decode token and once after the last, into bw[0..n_decode]; bw
 * has 3 (n_decode + 1) doubles, the rest for token_bandwidth(). */
static int bench_round(struct ember_session *s, const struct bench_opts *o,
		       const struct ember_model_info *in, const int32_t *toks,
		       struct probe *pr, double *bw, struct round *r,
		       struct ember_error *err)
{
	const float *logits;
	int32_t tok = toks[0];
	uint32_t pos0 = (uint32_t)(o->n_prefill > 0 ? o->n_prefill : 1);
	double t0, c0;
	int ret;

	memset(r, 0, sizeof(*r));
	ember_session_reset(s);
	t0 = now();
	ret = ember_eval(s, toks, (int)pos0, &logits, err);
	if (ret)
		return ret;
	r->t_pre = now() - t0;
	for (int i = 0; i < o->n_decode; i++) {
		if (pr)
			bw[i] = probe_read(pr);
		t0 = now();
		c0 = cpu_now();
		if ((ret = ember_eval(s, &tok, 1, &logits, err)))
			return ret;
		r->t_dec += now() - t0;
		r->cpu_dec += cpu_now() - c0;
		tok = (int32_t)(3 + (uint32_t)(tok * 2654435761u) % (in->n_vocab - 3));
	}
	if (!pr || o->n_decode <= 0)
		return 0;
	bw[o->n_decode] = probe_read(pr);

	double *tmp = bw + o->n_decode + 1, *tok_bw = tmp + o->n_decode + 1;

	r->disturbed = token_bandwidth(bw, o->n_decode, tmp, tok_bw);
	if (r->disturbed < 0)
		return -EIO;
	r->bw_min = r->bw_max = bw[0];
	for (int i = 0; i < o->n_decode; i++) {
		double tb = token_bytes(in, o->kv_dtype, pos0 + (uint32_t)i);

		r->bytes += tb;
		r->t_bound += tb / tok_bw[i];
		r->bw_min = bw[i + 1] < r->bw_min ? bw[i + 1] : r->bw_min;
		r->bw_max = bw[i + 1] > r->bw_max ? bw[i + 1] : r->bw_max;
	}
	return 0;
}

int run_bench(const struct bench_opts *o)
{
	struct ember_model *m = NULL;
	struct ember_session *s = NULL;
	struct ember_session_opts so;
	struct ember_model_info in;
	struct ember_error err;
	struct probe pr = { 0 }, *prp = NULL;
	int32_t *toks = NULL;
	double best_pre = 0, bound = 0, *bw = NULL;
	struct round r, best = { 0 };
	struct result res = { 0 };
	bool npu;
	int ret;

	ret = ember_model_load(o->model_path, &m, &err);
	if (ret) {
		fprintf(stderr, "ember-run: %s\n", err.msg);
		return ret;
	}
	ember_model_get_info(m, &in);
	ember_session_opts_default(&so);
	so.n_ctx = (uint32_t)(o->n_prefill + o->n_decode + 1);
	so.n_batch = (uint32_t)(o->n_prefill > 0 ? o->n_prefill : 1);
	so.n_threads = o->n_threads;
	so.kv_dtype = o->kv_dtype;
	so.device = (enum ember_device)o->device;
	ret = ember_session_create(m, &so, &s, &err);
	if (ret) {
		fprintf(stderr, "ember-run: %s\n", err.msg);
		goto out;
	}
	npu = ember_session_device(s) == EMBER_DEVICE_NPU;
	res.device = npu ? "npu" : "cpu";
	toks = malloc(((size_t)o->n_prefill + 1) * sizeof(*toks));
	if (!toks) {
		ret = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < o->n_prefill + 1; i++)	/* fixed pseudo-random ids */
		toks[i] = (int32_t)(3 + (uint32_t)(i * 2654435761u) % (in.n_vocab - 3));
	/* warm up: one untimed round pages the weights in and touches the KV
	 * cache and work buffers; peak RSS is read after it (the probe's ring
	 * would count in it later) */
	if ((ret = bench_round(s, o, &in, toks, NULL, NULL, &r, &err)))
		goto fail;
	res.rss = ember_peak_rss();
	/* a prefill-only run needs no bound: no bandwidth is measured; nor
	 * does the NPU's (its compute does not run on this CPU's memory) */
	if (o->n_decode > 0 && !npu) {
		ret = probe_init(&pr, s);
		if (ret) {
			fprintf(stderr, "ember-run: cannot map the read-bandwidth probe's %d MiB: free some memory or bench with -n 0\n",
				(int)(ember_cold_bytes(PROBE_RING_MIN) >> 20));
			goto out;
		}
		prp = &pr;
		bw = malloc(3 * ((size_t)o->n_decode + 1) * sizeof(*bw));
		if (!bw) {
			ret = -ENOMEM;
			goto out;
		}
	}
	for (res.rounds = 0; res.rounds < o->reps; res.rounds++) {
		double ho = prp ? ember_handoff_ns() : 0;

		ret = bench_round(s, o, &in, toks, prp, bw, &r, &err);
		if (ret == -EIO) {
			fprintf(stderr, "ember-run: the read-bandwidth probe failed\n");
			goto out;
		}
		if (ret)
			goto fail;
		r.handoff = ho;
		if (o->n_prefill > 0 && o->n_prefill / r.t_pre > best_pre)
			best_pre = o->n_prefill / r.t_pre;
		if (o->n_decode > 0 && (!best.t_dec || r.t_dec < best.t_dec))
			best = r;
		if (o->n_decode > 0 && (!res.cpu_per_token ||
						 r.cpu_dec / o->n_decode < res.cpu_per_token))
			res.cpu_per_token = r.cpu_dec / o->n_decode;
	}
	/* the fastest decode round, against the bandwidth read around each
	 * of its tokens */
	if (best.t_bound > 0) {
		bound = o->n_decode / best.t_bound;
		res.bw = best.bytes / best.t_bound;
		res.bytes = best.bytes / o->n_decode;
	}
	res.bw_min = best.bw_min;
	res.bw_max = best.bw_max;
	res.handoff = best.handoff;
	res.disturbed = best.disturbed;
	if (o->n_prefill > 0)
		report(o, &in, "prefill", o->n_prefill, best_pre, 0, &res);
	if (o->n_decode > 0)
		report(o, &in, "decode", o->n_decode, o->n_decode / best.t_dec, bound, &res);
	if (!o->json && o->n_decode > 0)
		printf("read bandwidth %.2f GB/s on %d threads, read before each token (%.1f-%.1f, %d disturbed read%s set aside; thread hand-off %.0f ns); %.1f MB read per token + %s KV cache; ",
		       res.bw / 1e9, o->n_threads, res.bw_min / 1e9, res.bw_max / 1e9,
		       res.disturbed, res.disturbed == 1 ? "" : "s",
		       res.handoff, in.matmul_bytes / 1e6, ember_type_name(o->kv_dtype));
	if (!o->json && o->n_decode > 0)
		printf("device %s: %.3f ms of this process's CPU time per decoded token; ",
		       res.device, res.cpu_per_token * 1e3);
	if (!o->json)
		printf("peak RSS %.1f MiB\n", (double)res.rss / (1 << 20));
	goto out;
fail:
	fprintf(stderr, "ember-run: %s\n", err.msg);
out:
	ember_read_ring_free(&pr.ring);
	free(bw);
	free(toks);
	ember_session_free(s);
	ember_model_free(m);
	return ret;
}
