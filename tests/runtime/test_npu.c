/* SPDX-License-Identifier: MIT */
/*
 * The NPU backend end to end on the host: its command streams run by the
 * firmware (ember_fw_run_job) on the fake device of the firmware tests,
 * against the CPU backend, step by step, on generated llama and qwen2
 * models in every weight type and KV type; stories260K's reference
 * outputs; a device without SWIGLU (the FFN steps fall back to the CPU in
 * the same pass). A device that fails: test_npu_recover.c.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <drm/ember_accel.h>
#include <ember/fw.h>
#include <ember/kernels.h>
#include <ember/runtime.h>

#include "backend.h"
#include "check.h"
#include "fake_npu.h"
#include "greedy_text.h"
#include "json.h"
#include "npu/npu.h"
#include "synth.h"

int check_failures, check_count;

static int npu_session(struct ember_model *m, uint32_t caps_ops, int kv, uint32_t n_ctx,
		       struct ember_session **s, struct fake_plan *plan)
{
	struct ember_model_info in;
	struct ember_session_opts so;
	struct npu_transport tp;

	ember_model_get_info(m, &in);
	/* tied embeddings get a second, X16 copy for the LM head */
	tp = fake_npu(caps_ops, (in.file_bytes >> 20) * 3 / 2 + 64, plan);
	struct ember_error err;
	int ret;

	ember_session_opts_default(&so);
	so.n_ctx = n_ctx;
	so.n_threads = 2;
	so.kv_dtype = kv;
	ret = session_create_with_npu(m, &so, &tp, s, &err);
	CHECK(ret == 0, "NPU session: %s", err.msg);
	return ret;
}

static int cpu_session(struct ember_model *m, int kv, uint32_t n_ctx, struct ember_session **s)
{
	struct ember_session_opts so;
	struct ember_error err;
	int ret;

	ember_session_opts_default(&so);
	so.n_ctx = n_ctx;
	so.n_threads = 2;
	so.kv_dtype = kv;
	so.device = EMBER_DEVICE_CPU;
	ret = ember_session_create(m, &so, s, &err);
	CHECK(ret == 0, "CPU session: %s", err.msg);
	return ret;
}

/* A generated model of @spec, loaded (NULL after a failed CHECK). */
static struct ember_model *synth_model(const struct synth_spec *spec, const char *label)
{
	char path[] = "/tmp/ember-test-npu-XXXXXX";
	struct ember_model *m = NULL;
	struct ember_error err;
	int fd = mkstemp(path);

	CHECK(fd >= 0, "%s: mkstemp", label);
	if (fd < 0)
		return NULL;
	close(fd);
	CHECK(synth_write(spec, path, &err) == 0, "%s: %s", label, err.msg);
	CHECK(ember_model_load(path, &m, &err) == 0, "%s: %s", label, err.msg);
	unlink(path);
	return m;
}

/* ---- step by step against the CPU backend ------------------------------------- */

static double max_rel_diff(const float *a, const float *b, size_t n)
{
	double d = 0, scale = 1e-30;

	for (size_t i = 0; i < n; i++) {
		double e = fabs((double)a[i] - b[i]);

		d = e > d ? e : d;
		scale = fabs(b[i]) > scale ? fabs(b[i]) : scale;
	}
	return d / scale;
}

/*
 * Every step of a prefill and 3 decodes on the NPU against the CPU backend,
 * on the same input. Two CPU sessions: a plain one (its K cache may be in
 * the host's KT16 tiles and Q8_0/Q4_0 weights in X16 rows, which sum in
 * another order: close, tol), and the NPU session's own CPU fallback (a
 * device that supports nothing, so the CPU runs every step on the NPU's
 * state layout): bitwise equal where the CPU keeps the weights in the
 * layout the device reads (rows, or X16 for Q8_0 / Q4_0 on a CPU that
 * prefers it, as the AVX-512 VNNI hosts do).
 */
static void steps_vs_cpu(const char *label, const struct synth_spec *spec, int kv, double tol)
{
	/* over a Q8_0 K cache in KT16 tiles the host CPU's attention takes its
	 * Q·K dots in integers (ember/kernels.h), the rows path in floats */
	double tol_plain = kv == EMBER_TYPE_Q8_0 && ek_kv_kt16_preferred() ? 1e-2 : tol;
	struct ember_model *m = NULL;
	struct ember_session *sc = NULL, *sf = NULL, *sn = NULL;
	int32_t toks[8] = { 1, 280, 281, 5, 200, 77, 260, 2 };
	uint32_t n_past = 0;
	double worst_x = 0, worst_logit = 0, worst_fx = 0, worst_fl = 0;
	bool exact;

	m = synth_model(spec, label);
	if (!m || cpu_session(m, kv, 64, &sc) || npu_session(m, ~0u, kv, 64, &sn, NULL) ||
	    npu_session(m, 0, kv, 64, &sf, NULL))
		goto out;
	{
		/* The device multiplies Q8_0 / Q4_0 in the X16 layout
		 * (EMBER_MATMUL_W_X16) and the rest as rows: bitwise equal to
		 * a CPU that keeps the same layout. */
		int dt = m->layers[0].wq.dtype;
		int dev = dt == EK_Q8_0 || dt == EK_Q4_0 ? EK_LAYOUT_X16 : EK_LAYOUT_ROWS;

		exact = m->layers[0].wq.layout == dev && m->output.layout == dev;
	}
	{
		char where[200];

		ember_session_placement(sn, where, sizeof(where));
		CHECK(!strcmp(where, "npu: 2/2 layers + embed + output; cpu: sampling"),
		      "%s: placement '%s'", label, where);
		ember_session_placement(sf, where, sizeof(where));
		CHECK(!strcmp(where, "cpu: 2/2 layers + embed + output + sampling"),
		      "%s: fallback placement '%s'", label, where);
	}
	for (int phase = 0; phase < 4; phase++) {
		uint32_t n = phase == 0 ? 5 : 1, d = m->info.n_embd, nv = m->info.n_vocab;
		struct fwd_state *c = session_state(sc), *p = session_state(sn);
		struct fwd_state *f = session_state(sf);
		struct step st = { STEP_EMBED, 0, n, n_past, toks + (phase ? 4 + phase : 0) };
		double e, ef;

		CHECK(session_run_step(sc, &st) == 0 && session_run_step(sn, &st) == 0 &&
		      session_run_step(sf, &st) == 0, "embed");
		CHECK(!memcmp(c->x, p->x, (size_t)n * d * 4), "%s phase %d: embeddings differ",
		      label, phase);
		for (uint32_t l = 0; l < m->info.n_layer; l++) {
			for (int k = 0; k < 2; k++) {
				st.layer = l;
				st.kind = k ? STEP_FFN : STEP_ATTN;
				CHECK(session_run_step(sc, &st) == 0, "%s: CPU step", label);
				CHECK(session_run_step(sn, &st) == 0, "%s: NPU step", label);
				CHECK(session_run_step(sf, &st) == 0, "%s: fallback step", label);
				e = max_rel_diff(p->x, c->x, (size_t)n * d);
				ef = max_rel_diff(p->x, f->x, (size_t)n * d);
				worst_x = e > worst_x ? e : worst_x;
				worst_fx = ef > worst_fx ? ef : worst_fx;
				CHECK(e <= tol_plain, "%s phase %d layer %u %s: NPU vs CPU %.3g > %.3g",
				      label, phase, l, k ? "ffn" : "attention", e, tol_plain);
				CHECK(exact ? ef == 0 : ef <= tol,
				      "%s phase %d layer %u %s: NPU vs its CPU fallback %.3g",
				      label, phase, l, k ? "ffn" : "attention", ef);
				/* all go on from the CPU's state: errors do not compound */
				memcpy(p->x, c->x, (size_t)n * d * 4);
				memcpy(f->x, c->x, (size_t)n * d * 4);
			}
		}
		st.kind = STEP_OUTPUT;
		CHECK(session_run_step(sc, &st) == 0 && session_run_step(sn, &st) == 0 &&
		      session_run_step(sf, &st) == 0, "output");
		e = max_rel_diff(p->logits, c->logits, nv);
		ef = max_rel_diff(p->logits, f->logits, nv);
		worst_logit = e > worst_logit ? e : worst_logit;
		worst_fl = ef > worst_fl ? ef : worst_fl;
		CHECK(e <= tol_plain, "%s phase %d logits: %.3g > %.3g", label, phase, e, tol_plain);
		CHECK(exact ? ef == 0 : ef <= tol, "%s phase %d logits vs the fallback: %.3g",
		      label, phase, ef);
		n_past += n;
	}
	printf("%-30s NPU vs CPU: residual %.1e, logits %.1e; vs its CPU fallback: %.1e, %.1e%s\n",
	       label, worst_x, worst_logit, worst_fx, worst_fl, exact ? " (must be 0)" : "");
out:
	ember_session_free(sf);
	ember_session_free(sn);
	ember_session_free(sc);
	ember_model_free(m);
}

/* ---- whole generations --------------------------------------------------------------- */

/* Greedy text of @s for @prompt (BOS and prompt rendered, then n tokens). */
static int generate(struct ember_session *s, const struct ember_model *m, const char *prompt,
		    int n_predict, struct greedy_text *o)
{
	struct ember_error err;
	int32_t toks[256];
	int n = ember_tokenize(m, prompt, -1, true, true, toks, 256, &err), ret;

	CHECK(n > 0 && n <= 256, "tokenize '%s'", prompt);
	if (n <= 0 || n > 256)
		return -EINVAL;
	ret = greedy_text(s, m, toks, n, n_predict, o, &err);
	CHECK(ret == 0, "generate: %s", err.msg);
	return ret;
}

static void stories_reference(const char *dir)
{
	char model[4096], ref[4096];
	struct ember_model *m = NULL;
	struct ember_error err;
	struct json *j;
	const struct json *cases;
	static struct greedy_text o;

	snprintf(model, sizeof(model), "%s/stories260K.gguf", dir);
	snprintf(ref, sizeof(ref), "%s/stories260K-reference.json", dir);
	j = json_parse_file(ref);
	CHECK(j != NULL, "cannot read %s", ref);
	cases = j ? json_get(j, "cases") : NULL;
	CHECK(ember_model_load(model, &m, &err) == 0, "%s", err.msg);
	for (size_t i = 0; m && cases && i < cases->n; i++) {
		const struct json *c = &cases->items[i];
		const struct json *want = json_get(c, "greedy_output");
		struct ember_session *s = NULL;

		for (int kv = 0; kv < 2; kv++) {
			if (npu_session(m, ~0u, kv ? EMBER_TYPE_F32 : EMBER_TYPE_F16, 256, &s, NULL))
				continue;
			if (!generate(s, m, json_get(c, "prompt")->str,
				      (int)json_get(c, "n_predict")->num, &o))
				CHECK(o.n == want->len && !memcmp(o.buf, want->str, o.n),
				      "stories260K on the NPU, kv %s:\n  got: %s\n  ref: %s",
				      kv ? "f32" : "f16", o.buf, want->str);
			ember_session_free(s);
		}
	}
	ember_model_free(m);
	json_free(j);
}

/* A device without SWIGLU: the FFN steps run on the CPU, same tokens. */
static void masked_fallback(const struct synth_spec *spec)
{
	const char *label = "masked device";
	struct ember_model *m = NULL;
	struct ember_session *sc = NULL, *sn = NULL;
	struct fake_plan plan, *f = &plan;
	static struct greedy_text oc, on;
	char where[200];

	fake_plan_init(&plan);
	m = synth_model(spec, label);
	if (!m || cpu_session(m, EMBER_TYPE_F16, 128, &sc) ||
	    npu_session(m, ember_fw_caps_ops() & ~(1u << EMBER_OP_SWIGLU), EMBER_TYPE_F16, 128,
			&sn, f))
		goto out;
	ember_session_placement(sn, where, sizeof(where));
	CHECK(!strcmp(where, "npu: 2/2 attention + embed + output; cpu: 2/2 ffn + sampling"),
	      "masked placement '%s'", where);
	if (!generate(sc, m, "hello", 24, &oc) && !generate(sn, m, "hello", 24, &on))
		CHECK(oc.nt == on.nt && !memcmp(oc.toks, on.toks, sizeof(int32_t) * (size_t)oc.nt),
		      "masked device: tokens differ from the CPU's:\n  cpu: %s\n  npu: %s",
		      oc.buf, on.buf);
	{
		/* a decode pass, a submission per NPU stretch: embed and
		 * attention 0, attention 1, output */
		unsigned int runs = f->runs, jobs = f->jobs;
		struct ember_error err;
		const float *logits;
		int32_t tok = 1;

		CHECK(ember_eval(sn, &tok, 1, &logits, &err) == 0, "masked eval: %s", err.msg);
		CHECK(f->runs == runs + 3 && f->jobs == jobs + 3, "masked decode: %u runs, %u jobs",
		      f->runs - runs, f->jobs - jobs);
	}
out:
	ember_session_free(sn);
	ember_session_free(sc);
	ember_model_free(m);
}

static int argmax(const float *v, uint32_t n)
{
	uint32_t b = 0;

	for (uint32_t i = 1; i < n; i++)
		b = v[i] > v[b] ? i : b;
	return (int)b;
}

/*
 * A generated model of a real shape: greedy tokens on the NPU and on the
 * CPU, each session going on from its own choice; the same tokens, and the
 * largest logit difference printed. The sessions' residual streams drift
 * apart by a rounding here and there (KT16, X16: see steps_vs_cpu: 1e-7 a
 * step); with Q8_0/Q4_0 weights the activations are quantized to 8 bits
 * before each matmul, so a drift that moves one across a rounding boundary
 * becomes a step of 1/127 of its block, and over 30 layers that grows to
 * ~5e-3 of the largest logit already at the first token: tol 2e-2 there,
 * 1e-4 for float weights.
 */
static void real_shape(const char *preset, int dtype, int n_tokens)
{
	double tol = dtype == EK_Q8_0 || dtype == EK_Q4_0 ? 2e-2 : 1e-4;
	char label[64];
	struct synth_spec spec;
	struct ember_model *m = NULL;
	struct ember_session *sc = NULL, *sn = NULL;
	struct ember_error err;
	int32_t tc = 1, tn = 1;
	double worst = 0;
	int same = 0;

	snprintf(label, sizeof(label), "%s %s", preset, ek_dtype_name(dtype));
	if (!synth_preset(preset, &spec))
		abort();
	spec.dtype = spec.embd_dtype = dtype;
	spec.seed = 5;
	m = synth_model(&spec, label);
	if (!m || cpu_session(m, EMBER_TYPE_F16, (uint32_t)n_tokens + 1, &sc) ||
	    npu_session(m, ~0u, EMBER_TYPE_F16, (uint32_t)n_tokens + 1, &sn, NULL))
		goto out;
	for (int i = 0; i < n_tokens; i++) {
		const float *lc, *ln;
		double d;

		if (ember_eval(sc, &tc, 1, &lc, &err) || ember_eval(sn, &tn, 1, &ln, &err)) {
			CHECK(0, "%s: eval: %s", label, err.msg);
			break;
		}
		d = max_rel_diff(ln, lc, m->info.n_vocab);
		worst = d > worst ? d : worst;
		tc = argmax(lc, m->info.n_vocab);
		tn = argmax(ln, m->info.n_vocab);
		same += tc == tn;
		if (tc != tn)
			break;
	}
	CHECK(same == n_tokens, "%s: %d of %d greedy tokens equal", label, same, n_tokens);
	CHECK(worst <= tol, "%s: logits differ by %.3g of the largest (tol %.0e)", label, worst,
	      tol);
	printf("%-24s %d greedy tokens equal on the NPU and the CPU; largest logit difference %.1e of the largest logit\n",
	       label, same, worst);
out:
	ember_session_free(sn);
	ember_session_free(sc);
	ember_model_free(m);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "../shared/models";

	if (argc > 2 && !strcmp(argv[2], "--real-shapes")) {
		/* generated weights of real models' shapes (a test of its own:
		 * these take tens of seconds under the sanitizers) */
		real_shape("smollm2-135m", EK_Q8_0, 16);
		real_shape("smollm2-135m", EK_Q4_0, 16);
		real_shape("smollm2-135m", EK_F16, 16);
		real_shape("qwen2.5-0.5b", EK_Q8_0, 8);
		return CHECK_DONE("npu real shapes");
	}
	struct synth_spec llama = { "llama", "tiny-llama", 300, 64, 2, 4, 2, 96, 128, 8,
				    10000.0f, 1e-5f, false, EK_F32, EK_F32, 7 };
	struct synth_spec qwen = { "qwen2", "tiny-qwen2", 300, 64, 2, 8, 2, 128, 128, 0,
				   1000000.0f, 1e-6f, true, EK_F32, EK_F32, 9 };
	/* head size 32: a Q8_0 cache */
	struct synth_spec wide = { "llama", "wide-llama", 300, 128, 2, 4, 2, 192, 128, 0,
				   10000.0f, 1e-5f, false, EK_Q8_0, EK_Q8_0, 11 };
	static const int types[] = { EK_F32, EK_F16, EK_BF16, EK_Q8_0, EK_Q4_0 };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		char label[64];

		llama.dtype = llama.embd_dtype = types[i];
		qwen.dtype = types[i];
		for (int kv = 0; kv < 2; kv++) {
			int kt = kv ? EMBER_TYPE_F16 : EMBER_TYPE_F32;

			snprintf(label, sizeof(label), "llama %s, kv %s", ek_dtype_name(types[i]),
				 ek_dtype_name(kt));
			steps_vs_cpu(label, &llama, kt, 1e-4);
			snprintf(label, sizeof(label), "qwen2 %s, kv %s", ek_dtype_name(types[i]),
				 ek_dtype_name(kt));
			steps_vs_cpu(label, &qwen, kt, 1e-4);
		}
	}
	steps_vs_cpu("llama q8_0, kv q8_0 (head 32)", &wide, EMBER_TYPE_Q8_0, 1e-4);
	wide.dtype = wide.embd_dtype = EK_F16;
	steps_vs_cpu("llama f16, kv q8_0 (head 32)", &wide, EMBER_TYPE_Q8_0, 1e-4);
	llama.dtype = llama.embd_dtype = EK_Q8_0;
	masked_fallback(&llama);
	if (!access(dir, R_OK))
		stories_reference(dir);
	else
		CHECK(0, "%s is missing: the stories260K reference cannot run", dir);
	return CHECK_DONE("npu");
}
