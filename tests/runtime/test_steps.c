/* SPDX-License-Identifier: MIT */
/*
 * Each forward step (embedding, attention block, FFN block, output) of the
 * CPU backend against a plain double-precision reference written from the
 * model definition, on generated llama and qwen2 models (GQA, partial
 * rope, biases, NEOX rope) in every weight type, for a prefill batch and
 * then single-token decode steps; decode bitwise the same on 1, 2, 3 threads.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ember/kernels.h>
#include <ember/runtime.h>

#include "backend.h"
#include "check.h"
#include "mix.h"
#include "synth.h"

int check_failures, check_count;

#define MAXT 8

struct ref {
	const struct ember_model *m;
	const struct ember_model_info *in;
	double *kc, *vc;	/* [layer][pos][kv_dim] */
	double x[MAXT][256];
};

static void matvec(const struct weight *w, const double *x, const float *bias, double *y)
{
	float *row = malloc(w->n_in * sizeof(float));

	for (uint32_t o = 0; o < w->n_out; o++) {
		double s = bias ? bias[o] : 0;

		weight_row(w, o, row);
		for (uint32_t i = 0; i < w->n_in; i++)
			s += (double)row[i] * x[i];
		y[o] = s;
	}
	free(row);
}

static void rmsnorm(const double *x, const float *w, uint32_t n, float eps, double *out)
{
	double ss = 0;

	for (uint32_t i = 0; i < n; i++)
		ss += x[i] * x[i];
	ss = 1.0 / sqrt(ss / n + eps);
	for (uint32_t i = 0; i < n; i++)
		out[i] = x[i] * ss * w[i];
}

static void rope(double *v, uint32_t n_head, const struct ember_model_info *in, uint32_t pos)
{
	for (uint32_t h = 0; h < n_head; h++) {
		double *x = v + h * in->head_dim;

		for (uint32_t i = 0; i < in->rope_dim / 2; i++) {
			double th = pos * pow(in->rope_base, -2.0 * i / in->rope_dim);
			uint32_t a = in->rope_neox ? i : 2 * i;
			uint32_t b = in->rope_neox ? i + in->rope_dim / 2 : 2 * i + 1;
			double x0 = x[a], x1 = x[b];

			x[a] = x0 * cos(th) - x1 * sin(th);
			x[b] = x0 * sin(th) + x1 * cos(th);
		}
	}
}

static void ref_attn(struct ref *r, uint32_t l, uint32_t n, uint32_t n_past)
{
	const struct ember_model_info *in = r->in;
	const struct layer *ly = &r->m->layers[l];
	uint32_t d = in->n_embd, hd = in->head_dim, kvd = in->n_head_kv * hd;
	uint32_t grp = in->n_head / in->n_head_kv;
	static double xb[MAXT][256], q[MAXT][256], k[256], v[256], att[256], o[256];

	for (uint32_t t = 0; t < n; t++) {
		rmsnorm(r->x[t], ly->attn_norm, d, in->rms_eps, xb[t]);
		matvec(&ly->wq, xb[t], ly->bq, q[t]);
		matvec(&ly->wk, xb[t], ly->bk, k);
		matvec(&ly->wv, xb[t], ly->bv, v);
		rope(q[t], in->n_head, in, n_past + t);
		rope(k, in->n_head_kv, in, n_past + t);
		memcpy(r->kc + ((size_t)l * 64 + n_past + t) * kvd, k, kvd * sizeof(double));
		memcpy(r->vc + ((size_t)l * 64 + n_past + t) * kvd, v, kvd * sizeof(double));
	}
	for (uint32_t t = 0; t < n; t++) {
		for (uint32_t h = 0; h < in->n_head; h++) {
			double sc[64], mx = -1e300, sum = 0;
			uint32_t g = h / grp, np = n_past + t + 1;

			for (uint32_t j = 0; j < np; j++) {
				const double *kj = r->kc + ((size_t)l * 64 + j) * kvd + g * hd;
				double s = 0;

				for (uint32_t i = 0; i < hd; i++)
					s += q[t][h * hd + i] * kj[i];
				sc[j] = s / sqrt(hd);
				mx = sc[j] > mx ? sc[j] : mx;
			}
			for (uint32_t j = 0; j < np; j++)
				sum += (sc[j] = exp(sc[j] - mx));
			for (uint32_t i = 0; i < hd; i++) {
				double a = 0;

				for (uint32_t j = 0; j < np; j++)
					a += sc[j] / sum * r->vc[((size_t)l * 64 + j) * kvd + g * hd + i];
				att[h * hd + i] = a;
			}
		}
		matvec(&ly->wo, att, NULL, o);
		for (uint32_t i = 0; i < d; i++)
			r->x[t][i] += o[i];
	}
}

static void ref_ffn(struct ref *r, uint32_t l, uint32_t n)
{
	const struct ember_model_info *in = r->in;
	const struct layer *ly = &r->m->layers[l];
	static double xb[256], g[1024], u[1024], o[256];

	for (uint32_t t = 0; t < n; t++) {
		rmsnorm(r->x[t], ly->ffn_norm, in->n_embd, in->rms_eps, xb);
		matvec(&ly->gate, xb, NULL, g);
		matvec(&ly->up, xb, NULL, u);
		for (uint32_t i = 0; i < in->n_ff; i++)
			g[i] = g[i] / (1 + exp(-g[i])) * u[i];
		matvec(&ly->down, g, NULL, o);
		for (uint32_t i = 0; i < in->n_embd; i++)
			r->x[t][i] += o[i];
	}
}

/* max |got - want| <= tol * max(1, max |want|) */
static void compare(const char *what, const float *got, size_t got_stride, const double *want,
		    size_t want_stride, uint32_t rows, uint32_t n, double tol)
{
	double maxd = 0, maxv = 1;

	for (uint32_t r = 0; r < rows; r++)
		for (uint32_t i = 0; i < n; i++) {
			double w = want[r * want_stride + i], g = got[r * got_stride + i];

			maxd = fabs(g - w) > maxd ? fabs(g - w) : maxd;
			maxv = fabs(w) > maxv ? fabs(w) : maxv;
		}
	CHECK(maxd <= tol * maxv, "%s: max diff %.3g (scale %.3g, tol %.3g)", what, maxd, maxv, tol);
}

static void run_model(const char *label, const struct synth_spec *spec, int kv_dtype, double tol)
{
	char path[] = "/tmp/ember-test-steps-XXXXXX";
	int fd = mkstemp(path);
	struct ember_model *m = NULL;
	struct ember_session *s = NULL;
	struct ember_session_opts so;
	struct ember_error err;
	struct ref *r = calloc(1, sizeof(*r));
	int32_t toks[MAXT] = { 1, 280, 281, 5, 200, 77, 260, 2 };
	uint32_t n_past = 0;
	char what[160];

	close(fd);
	CHECK(synth_write(spec, path, &err) == 0, "%s: %s", label, err.msg);
	CHECK(ember_model_load(path, &m, &err) == 0, "%s: %s", label, err.msg);
	unlink(path);
	if (!m)
		goto out;
	{
		/* Q8_0 / Q4_0 matrices run repacked where the kernels prefer it
		 * (so this test covers the X4 path on such CPUs), rows elsewhere */
		const struct weight *w = &m->layers[0].down, *o = &m->output;
		int want = ek_x16_preferred(w->dtype) ? EK_LAYOUT_X16 : EK_LAYOUT_ROWS;

		CHECK(w->layout == want && o->layout ==
		      (ek_x16_preferred(o->dtype) ? EK_LAYOUT_X16 : EK_LAYOUT_ROWS),
		      "%s: layout %d, expected %d", label, w->layout, want);
	}
	ember_session_opts_default(&so);
	so.n_ctx = 64;
	so.n_threads = 2;
	so.kv_dtype = kv_dtype;
	CHECK(ember_session_create(m, &so, &s, &err) == 0, "%s", err.msg);
	if (!s)
		goto out;
	r->m = m;
	r->in = &m->info;
	r->kc = calloc((size_t)m->info.n_layer * 64 * 256, sizeof(double));
	r->vc = calloc((size_t)m->info.n_layer * 64 * 256, sizeof(double));
	/* a 5-token prefill, then 3 single-token decodes */
	for (int phase = 0; phase < 4; phase++) {
		uint32_t n = phase == 0 ? 5 : 1, d = m->info.n_embd;
		const int32_t *tk = toks + (phase ? 4 + phase : 0);
		struct fwd_state *st = session_state(s);
		struct step step = { STEP_EMBED, 0, n, n_past, tk };
		static double logits[2048];

		CHECK(session_run_step(s, &step) == 0, "embed");
		for (uint32_t t = 0; t < n; t++) {
			float row[256];

			weight_row(&m->tok_embd, (uint64_t)tk[t], row);
			for (uint32_t i = 0; i < d; i++)
				r->x[t][i] = row[i];
		}
		snprintf(what, sizeof(what), "%s phase %d embed", label, phase);
		compare(what, st->x, d, &r->x[0][0], 256, n, d, 1e-6);
		for (uint32_t l = 0; l < m->info.n_layer; l++) {
			step.layer = l;
			step.kind = STEP_ATTN;
			CHECK(session_run_step(s, &step) == 0, "attn");
			ref_attn(r, l, n, n_past);
			snprintf(what, sizeof(what), "%s phase %d layer %u attention", label, phase, l);
			compare(what, st->x, d, &r->x[0][0], 256, n, d, tol);
			step.kind = STEP_FFN;
			CHECK(session_run_step(s, &step) == 0, "ffn");
			ref_ffn(r, l, n);
			snprintf(what, sizeof(what), "%s phase %d layer %u ffn", label, phase, l);
			compare(what, st->x, d, &r->x[0][0], 256, n, d, tol);
			/* continue from ember's state so errors do not compound */
			for (uint32_t t = 0; t < n; t++)
				for (uint32_t i = 0; i < d; i++)
					r->x[t][i] = st->x[t * d + i];
		}
		step.kind = STEP_OUTPUT;
		CHECK(session_run_step(s, &step) == 0, "output");
		{
			double xb[256];

			rmsnorm(r->x[n - 1], m->output_norm, d, m->info.rms_eps, xb);
			matvec(&m->output, xb, NULL, logits);
		}
		snprintf(what, sizeof(what), "%s phase %d logits", label, phase);
		compare(what, st->logits, 0, logits, 0, 1, m->info.n_vocab, tol);
		n_past += n;
	}
out:
	if (r) {
		free(r->kc);
		free(r->vc);
	}
	free(r);
	ember_session_free(s);
	ember_model_free(m);
}

/* ember-mkmodel --quantize: matrices become the new type, logits stay close */
static void test_quantize(const struct synth_spec *spec, int dtype)
{
	char a[] = "/tmp/ember-test-q-in-XXXXXX", b[] = "/tmp/ember-test-q-out-XXXXXX";
	struct ember_model *m1 = NULL, *m2 = NULL;
	struct ember_session *s1 = NULL, *s2 = NULL;
	struct ember_error err;
	int32_t toks[5] = { 1, 100, 200, 150, 7 };
	const float *l1, *l2;
	double maxd = 0, maxv = 1;

	close(mkstemp(a));
	close(mkstemp(b));
	CHECK(synth_write(spec, a, &err) == 0, "%s", err.msg);
	CHECK(synth_quantize(a, b, dtype, NULL, &err) == 0, "%s", err.msg);
	CHECK(ember_model_load(a, &m1, &err) == 0, "%s", err.msg);
	CHECK(ember_model_load(b, &m2, &err) == 0, "quantized: %s", err.msg);
	unlink(a);
	unlink(b);
	if (!m1 || !m2)
		goto out;
	CHECK(m2->layers[0].wq.dtype == dtype && m2->tok_embd.dtype == dtype &&
	      m2->layers[1].down.dtype == dtype, "matrices are %s", ek_dtype_name(dtype));
	CHECK(ember_session_create(m1, NULL, &s1, &err) == 0 &&
	      ember_session_create(m2, NULL, &s2, &err) == 0, "%s", err.msg);
	if (!s1 || !s2)
		goto out;
	CHECK(ember_eval(s1, toks, 5, &l1, &err) == 0 && ember_eval(s2, toks, 5, &l2, &err) == 0,
	      "%s", err.msg);
	for (uint32_t i = 0; i < m1->info.n_vocab; i++) {
		maxd = fabs(l1[i] - l2[i]) > maxd ? fabs(l1[i] - l2[i]) : maxd;
		maxv = fabs(l1[i]) > maxv ? fabs(l1[i]) : maxv;
	}
	/* random weights amplify quantization error; garbage would be ~1x */
	double tol = dtype == EK_Q4_0 || dtype == EK_Q4_1 || dtype == EK_Q4_K ? 0.25 :
		     dtype == EK_Q5_0 || dtype == EK_Q5_1 || dtype == EK_Q5_K ? 0.1 : 0.05;

	CHECK(maxd < tol * maxv, "quantized %s logits differ by %.3g (scale %.3g)",
	      ek_dtype_name(dtype), maxd, maxv);
out:
	ember_session_free(s1);
	ember_session_free(s2);
	ember_model_free(m1);
	ember_model_free(m2);
}

static double max_diff(const float *a, const float *b, uint32_t n, double *scale)
{
	double maxd = 0;

	*scale = 1;
	for (uint32_t i = 0; i < n; i++) {
		maxd = fabs(a[i] - b[i]) > maxd ? fabs(a[i] - b[i]) : maxd;
		*scale = fabs(a[i]) > *scale ? fabs(a[i]) : *scale;
	}
	return maxd;
}

/* Logits of 5 tokens through model file path (NULL on failure). */
static float *logits_of(const char *path, uint32_t *n_vocab, struct ember_model **keep)
{
	int32_t toks[5] = { 1, 100, 200, 150, 7 };
	struct ember_model *m = NULL;
	struct ember_session *s = NULL;
	struct ember_error err;
	const float *l;
	float *out = NULL;

	CHECK(ember_model_load(path, &m, &err) == 0, "%s", err.msg);
	if (!m)
		return NULL;
	CHECK(ember_session_create(m, NULL, &s, &err) == 0, "%s", err.msg);
	if (s && ember_eval(s, toks, 5, &l, &err) == 0) {
		*n_vocab = m->info.n_vocab;
		out = malloc(*n_vocab * sizeof(float));
		memcpy(out, l, *n_vocab * sizeof(float));
	}
	CHECK(out, "eval: %s", err.msg);
	ember_session_free(s);
	if (keep)
		*keep = m;
	else
		ember_model_free(m);
	return out;
}

/*
 * ember-mkmodel --quantize q4_k_m / q5_k_m of an f32 model: llama-quantize's
 * types land where its rules put them, and the logits are those of the
 * same weights dequantized to f32 up to the activations' rounding, and
 * near the f32 model's.
 */
static void test_quantize_mix(const struct synth_spec *spec, int dtype, double tol)
{
	char a[] = "/tmp/ember-test-mix-f32-XXXXXX", b[] = "/tmp/ember-test-mix-q-XXXXXX";
	char c[] = "/tmp/ember-test-mix-deq-XXXXXX";
	struct mix mx = { dtype, MIX_K_M }, f32 = { EK_F32, MIX_PURE };
	struct ember_model *m = NULL;
	struct ember_error err;
	float *lf = NULL, *lq = NULL, *ld = NULL;
	uint32_t nv = 0;
	double d1, d2, s1, s2;

	close(mkstemp(a));
	close(mkstemp(b));
	close(mkstemp(c));
	CHECK(synth_write(spec, a, &err) == 0, "%s", err.msg);
	CHECK(synth_requantize(a, b, &mx, NULL, NULL, &err) == 0, "%s", err.msg);
	CHECK(synth_requantize(b, c, &f32, NULL, NULL, &err) == 0, "%s", err.msg);
	lf = logits_of(a, &nv, NULL);
	lq = logits_of(b, &nv, &m);
	ld = logits_of(c, &nv, NULL);
	unlink(a);
	unlink(b);
	unlink(c);
	if (!lf || !lq || !ld || !m)
		goto out;
	/* 2 layers: use_more_bits() takes layer 1 (the last eighth) only */
	CHECK(m->output.dtype == EK_Q6_K && m->tok_embd.dtype == dtype &&
	      m->layers[0].wq.dtype == dtype && m->layers[0].wv.dtype == dtype &&
	      m->layers[0].down.dtype == dtype && m->layers[1].wv.dtype == EK_Q6_K &&
	      m->layers[1].down.dtype == EK_Q6_K && m->layers[1].up.dtype == dtype &&
	      m->info.weight_dtype == dtype, "%s_M types", ek_dtype_name(dtype));
	d1 = max_diff(ld, lq, nv, &s1);
	d2 = max_diff(lf, lq, nv, &s2);
	printf("%s_M: logits vs dequantized %.3g, vs f32 %.3g (scale %.3g)\n",
	       ek_dtype_name(dtype), d1, d2, s2);
	CHECK(d1 <= 2e-2 * s1, "%s_M logits differ from the dequantized model's by %.3g (scale %.3g)",
	      ek_dtype_name(dtype), d1, s1);
	CHECK(d2 <= tol * s2, "%s_M logits differ from the f32 model's by %.3g (scale %.3g)",
	      ek_dtype_name(dtype), d2, s2);
out:
	ember_model_free(m);
	free(lf);
	free(lq);
	free(ld);
}

/*
 * Decode (one token per step, all of it on the team path with 2 or 3
 * threads: uneven shares of rows and heads, a thread with no KV head)
 * gives bitwise the logits of one thread; after `past` prompt tokens, a
 * cache long enough to be attended in parts (uneven shares of (head
 * block, part) units), over an f16 or a Q8_0 cache.
 */
static void test_threads_equal(const struct synth_spec *spec, const char *label,
			       uint32_t past, int kv_dtype)
{
	enum { STEPS = 6 };
	char path[] = "/tmp/ember-test-thr-XXXXXX";
	struct ember_model *m = NULL;
	struct ember_error err;
	float *first = NULL;

	close(mkstemp(path));
	CHECK(synth_write(spec, path, &err) == 0, "%s: %s", label, err.msg);
	CHECK(ember_model_load(path, &m, &err) == 0, "%s: %s", label, err.msg);
	unlink(path);
	if (!m)
		return;
	size_t nv = m->info.n_vocab;

	first = calloc(STEPS * nv, sizeof(float));
	for (int threads = 1; threads <= 3; threads++) {
		struct ember_session_opts so;
		struct ember_session *s = NULL;
		bool same = true;

		ember_session_opts_default(&so);
		so.n_ctx = past + 32;
		so.n_threads = threads;
		so.kv_dtype = kv_dtype;
		CHECK(ember_session_create(m, &so, &s, &err) == 0, "%s", err.msg);
		if (!s)
			continue;
		if (past) {
			int32_t *prompt = malloc(past * sizeof(*prompt));
			const float *lg;

			for (uint32_t t = 0; t < past; t++)
				prompt[t] = 1 + (int32_t)(t * 7 % 250);
			CHECK(prompt && ember_eval(s, prompt, past, &lg, &err) == 0,
			      "%s", err.msg);
			free(prompt);
		}
		for (int t = 0; t < STEPS; t++) {
			int32_t tok = 1 + t * 41 % 250;
			const float *lg;

			CHECK(ember_eval(s, &tok, 1, &lg, &err) == 0, "%s", err.msg);
			if (threads == 1)
				memcpy(first + t * nv, lg, nv * sizeof(float));
			else
				same &= !memcmp(first + t * nv, lg, nv * sizeof(float));
		}
		CHECK(same, "%s: decode after %u tokens with %d threads differs from 1 thread",
		      label, past, threads);
		ember_session_free(s);
	}
	free(first);
	ember_model_free(m);
}

/*
 * A Q8_0 KV cache: refused (EINVAL, with the reason) where a block would
 * span heads; where it fits (head sizes 64 and 32, llama and qwen2 rope),
 * each step meets the reference within the quantization's error, and
 * decode is bitwise equal across thread counts, also over a cache long
 * enough to be attended in parts.
 */
static void test_q8_kv(const struct synth_spec *narrow)
{
	struct synth_spec w64 = { "llama", "wide-llama", 300, 128, 2, 2, 1, 192, 128, 0,
				  10000.0f, 1e-5f, false, EK_Q8_0, EK_Q8_0, 11 };
	struct synth_spec w32 = { "qwen2", "wide-qwen2", 300, 128, 2, 4, 2, 256, 128, 0,
				  1000000.0f, 1e-6f, true, EK_Q4_0, EK_Q4_0, 13 };
	char path[] = "/tmp/ember-test-q8kv-XXXXXX";
	struct ember_model *m = NULL;
	struct ember_session *s = NULL;
	struct ember_session_opts so;
	struct ember_error err;
	int ret;

	close(mkstemp(path));
	CHECK(synth_write(narrow, path, &err) == 0, "%s", err.msg);
	CHECK(ember_model_load(path, &m, &err) == 0, "%s", err.msg);
	unlink(path);
	ember_session_opts_default(&so);
	so.kv_dtype = EK_Q8_0;
	ret = m ? ember_session_create(m, &so, &s, &err) : 0;
	CHECK(m && ret == -EINVAL && !s && strstr(err.msg, "multiple of 32"),
	      "q8_0 KV cache with head size 16: %d (%s)", ret, err.msg);
	ember_session_free(s);
	ember_model_free(m);

	run_model("llama q8_0, q8_0 kv (head size 64)", &w64, EK_Q8_0, 5e-2);
	run_model("qwen2 q4_0, q8_0 kv (head size 32)", &w32, EK_Q8_0, 5e-2);
	w64.dtype = w64.embd_dtype = EK_F32;
	run_model("llama f32, q8_0 kv (head size 64)", &w64, EK_Q8_0, 2e-2);
	test_threads_equal(&w64, "llama, q8_0 kv", 0, EK_Q8_0);
	test_threads_equal(&w64, "llama, q8_0 kv", 300, EK_Q8_0);
	test_threads_equal(&w32, "qwen2, q8_0 kv", 300, EK_Q8_0);
}

struct job_log {
	_Atomic int runs[4];
	_Atomic unsigned long tid[4];
};

static void log_task(void *arg, int i, int n)
{
	struct job_log *l = arg;

	if (i >= 0 && i < 4 && n <= 4) {
		atomic_fetch_add(&l->runs[i], 1);
		atomic_store(&l->tid[i], (unsigned long)pthread_self());
	}
	/* every task waits (a while) for all of them: a thread that ran two
	 * tasks would have waited for itself, and its tasks show one thread */
	for (int k = 0, spins = 0; k < n && spins < 2000000; k++)
		while (!atomic_load(&l->runs[k]) && spins++ < 2000000)
			sched_yield();
}

/*
 * An app's job on the session's threads: each of n tasks runs once, each
 * on a thread of its own (the tasks wait for one another), for n = 1 up
 * to ember_session_n_threads(); other n are refused with EINVAL.
 */
static void test_run_job(const struct synth_spec *spec)
{
	char path[] = "/tmp/ember-test-job-XXXXXX";
	struct ember_model *m = NULL;
	struct ember_error err;

	close(mkstemp(path));
	CHECK(synth_write(spec, path, &err) == 0, "%s", err.msg);
	CHECK(ember_model_load(path, &m, &err) == 0, "%s", err.msg);
	unlink(path);
	for (int threads = 1; m && threads <= 3; threads++) {
		struct ember_session_opts so;
		struct ember_session *s = NULL;

		ember_session_opts_default(&so);
		so.n_threads = threads;
		CHECK(ember_session_create(m, &so, &s, &err) == 0, "%s", err.msg);
		if (!s)
			continue;
		CHECK(ember_session_n_threads(s) == threads, "%d threads: reported %d",
		      threads, ember_session_n_threads(s));
		for (int n = 1; n <= threads; n++) {
			struct job_log l = { 0 };
			int distinct = 0;

			CHECK(ember_session_run_job(s, log_task, &l, n) == 0,
			      "%d of %d threads", n, threads);
			for (int i = 0; i < n; i++) {
				bool seen = false;

				for (int k = 0; k < i; k++)
					seen |= l.tid[k] == l.tid[i];
				distinct += !seen;
				CHECK(l.runs[i] == 1, "task %d of %d ran %d times", i, n,
				      (int)l.runs[i]);
			}
			CHECK(distinct == n, "%d tasks on %d threads", n, distinct);
			CHECK(l.runs[n < 4 ? n : 3] == (n < 4 ? 0 : 1), "a task past %d ran", n);
		}
		CHECK(ember_session_run_job(s, log_task, NULL, 0) == -EINVAL &&
		      ember_session_run_job(s, log_task, NULL, threads + 1) == -EINVAL &&
		      ember_session_run_job(s, NULL, NULL, 1) == -EINVAL,
		      "bad jobs on %d threads accepted", threads);
		ember_session_free(s);
	}
	ember_model_free(m);
}

int main(void)
{
	struct synth_spec llama = { "llama", "tiny-llama", 300, 64, 2, 4, 2, 96, 128, 8,
				    10000.0f, 1e-5f, false, EK_F32, EK_F32, 7 };
	struct synth_spec qwen = { "qwen2", "tiny-qwen2", 300, 64, 2, 8, 2, 128, 128, 0,
				   1000000.0f, 1e-6f, true, EK_F32, EK_F32, 9 };
	static const int types[] = { EK_F16, EK_BF16, EK_Q8_0, EK_Q4_0 };

	run_model("llama f32 (GQA, rope 8 of 16)", &llama, EK_F32, 2e-4);
	run_model("qwen2 f32 (bias, neox, tied)", &qwen, EK_F32, 2e-4);
	run_model("llama f32, f16 kv", &llama, EK_F16, 2e-2);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		char label[64];

		llama.dtype = llama.embd_dtype = types[i];
		snprintf(label, sizeof(label), "llama %s", ek_dtype_name(types[i]));
		run_model(label, &llama, EK_F32, 5e-2);
		qwen.dtype = types[i];
		snprintf(label, sizeof(label), "qwen2 %s", ek_dtype_name(types[i]));
		run_model(label, &qwen, EK_F32, 5e-2);
	}
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		char label[64];

		llama.dtype = llama.embd_dtype = types[i];
		snprintf(label, sizeof(label), "llama %s", ek_dtype_name(types[i]));
		test_threads_equal(&llama, label, 0, EK_F16);
	}
	test_threads_equal(&qwen, "qwen2", 0, EK_F16);
	/* 300 positions: two parts of the cache per head block */
	test_threads_equal(&llama, "llama", 300, EK_F16);
	test_threads_equal(&qwen, "qwen2", 300, EK_F16);
	test_q8_kv(&llama);
	test_run_job(&llama);
	/* matrices of 1 MiB and more, in 16-row units shared unevenly */
	struct synth_spec big = { "llama", "claims-llama", 300, 256, 2, 4, 2, 1024, 64, 0,
				  10000.0f, 1e-5f, false, EK_F32, EK_F32, 17 };

	test_threads_equal(&big, "llama f32, 1 MiB matrices", 0, EK_F16);
	big.n_embd = 512;
	big.n_ff = 2048;
	big.dtype = EK_Q8_0;
	test_threads_equal(&big, "llama q8_0, 1.1 MB matrices", 0, EK_F16);
	big.dtype = EK_Q4_0;
	big.n_ff = 4096;
	test_threads_equal(&big, "llama q4_0, 1.1 MB matrices", 40, EK_F16);
	llama.dtype = llama.embd_dtype = EK_F32;
	test_quantize(&llama, EK_Q8_0);
	test_quantize(&llama, EK_Q4_0);
	test_quantize(&llama, EK_F16);

	/* the other block types: blocks of 32 on the narrow llama, K types
	 * (super-blocks of 256) on rows of 256 */
	static const int blocks[] = { EK_Q4_1, EK_Q5_0, EK_Q5_1, EK_Q4_K, EK_Q5_K, EK_Q6_K };
	struct synth_spec k = { "llama", "k-llama", 300, 256, 2, 4, 2, 512, 128, 0,
				10000.0f, 1e-5f, false, EK_F32, EK_F32, 19 };

	for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
		struct synth_spec *sp = ek_dtype_block(blocks[i]) == EK_QK_K ? &k : &llama;
		char label[64];

		sp->dtype = sp->embd_dtype = blocks[i];
		snprintf(label, sizeof(label), "%s %s", sp->name, ek_dtype_name(blocks[i]));
		run_model(label, sp, EK_F32, 5e-2);
		test_threads_equal(sp, label, 0, EK_F16);
		sp->dtype = sp->embd_dtype = EK_F32;
		test_quantize(sp, blocks[i]);
	}
	test_quantize_mix(&k, EK_Q4_K, 0.25);
	test_quantize_mix(&k, EK_Q5_K, 0.1);
	return CHECK_DONE("steps");
}
