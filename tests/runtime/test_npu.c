/* SPDX-License-Identifier: MIT */
/*
 * The NPU backend end to end on the host: its command streams run by the
 * firmware (ember_fw_run_job) on the fake device of the firmware tests,
 * against the CPU backend, step by step, on generated llama and qwen2
 * models in every weight type and KV type; stories260K's reference
 * outputs; a device without SWIGLU (the FFN steps fall back to the CPU in
 * the same pass); and a failing device (a clear error, nothing leaked).
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
#include "fake_hal.h"
#include "json.h"
#include "npu/npu.h"
#include "synth.h"

int check_failures, check_count;

/* ---- a transport on the fake device ------------------------------------------ */

struct fake_tp {
	struct fake_dev dev;
	struct fake_heap heap;
	struct ember_hal hal;
	int fail_job;		/* >= 0: that job of every pass fails */
	unsigned int runs, jobs;
};

static int ft_alloc(void *ctx, uint64_t size, struct npu_buf *out, char *msg)
{
	struct fake_tp *f = ctx;

	(void)msg;
	memset(out, 0, sizeof(*out));
	out->va = fake_alloc(&f->heap, size, 4096);
	out->cpu = fake_dev_ptr(&f->dev, out->va);
	out->size = size;
	return 0;
}

static void ft_free(void *ctx, struct npu_buf *b)
{
	(void)ctx;
	memset(b, 0, sizeof(*b));
}

static int ft_run(void *ctx, const struct npu_buf *cmd, const struct npu_job *jobs,
		  uint32_t n, const struct npu_buf *const *bufs, uint32_t n_bufs, char *msg)
{
	struct fake_tp *f = ctx;

	(void)bufs;
	(void)n_bufs;
	f->runs++;
	for (uint32_t i = 0; i < n; i++) {
		struct ember_job_result res;

		f->jobs++;
		if ((int)i == f->fail_job) {
			snprintf(msg, NPU_MSG_SIZE, "NPU job %u of %u ended with status MMU_FAULT", i, n);
			return -EIO;
		}
		memset(&res, 0, sizeof(res));
		ember_fw_run_job(&f->hal, 0, cmd->va + jobs[i].cmd_off, jobs[i].cmd_size, &res);
		if (res.status != EMBER_JOB_OK) {
			snprintf(msg, NPU_MSG_SIZE, "NPU job %u of %u ended with status %u (op %u)",
				 i, n, res.status, res.fault_op);
			return -EIO;
		}
	}
	return 0;
}

static int ft_counters(void *ctx, uint64_t *rd, uint64_t *wr, uint64_t *copied)
{
	(void)ctx;
	*rd = *wr = *copied = 0;
	return 0;
}

static void ft_destroy(void *ctx)
{
	struct fake_tp *f = ctx;

	fake_dev_free(&f->dev);
	free(f);
}

static const struct npu_transport_ops ft_ops = {
	.alloc = ft_alloc, .free = ft_free, .run = ft_run,
	.counters = ft_counters, .destroy = ft_destroy,
};

/* A fake NPU of 64 MiB; the session takes it over. */
static struct npu_transport fake_npu(uint32_t caps_ops, struct fake_tp **out)
{
	struct fake_tp *f = calloc(1, sizeof(*f));
	struct npu_transport tp = { &ft_ops, f, { 0 } };

	if (!f || !fake_dev_init(&f->dev, 16384, true, 2))
		abort();
	fake_heap_init(&f->heap, &f->dev);
	f->hal = fake_dev_hal(&f->dev, caps_ops, ember_fw_caps_dtypes());
	f->fail_job = -1;
	tp.caps.ops = caps_ops;
	tp.caps.dtypes = ember_fw_caps_dtypes();
	tp.caps.fw_abi = EMBER_FW_ABI_MAJOR << 16 | EMBER_FW_ABI_MINOR;
	tp.caps.max_jobs = 256;
	snprintf(tp.caps.name, sizeof(tp.caps.name), "fake NPU");
	if (out)
		*out = f;
	return tp;
}

static int npu_session(struct ember_model *m, uint32_t caps_ops, int kv, uint32_t n_ctx,
		       struct ember_session **s, struct fake_tp **f)
{
	struct ember_session_opts so;
	struct npu_transport tp = fake_npu(caps_ops, f);
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
 * state layout): bitwise equal where the CPU keeps the weights as stored.
 */
static void steps_vs_cpu(const char *label, const struct synth_spec *spec, int kv, double tol)
{
	/* over a Q8_0 K cache in KT16 tiles the host CPU's attention takes its
	 * Q·K dots in integers (ember/kernels.h), the rows path in floats */
	double tol_plain = kv == EMBER_TYPE_Q8_0 && ek_kv_kt16_preferred() ? 1e-2 : tol;
	char path[] = "/tmp/ember-test-npu-XXXXXX";
	struct ember_model *m = NULL;
	struct ember_session *sc = NULL, *sf = NULL, *sn = NULL;
	struct ember_error err;
	int32_t toks[8] = { 1, 280, 281, 5, 200, 77, 260, 2 };
	uint32_t n_past = 0;
	double worst_x = 0, worst_logit = 0, worst_fx = 0, worst_fl = 0;
	bool exact;

	close(mkstemp(path));
	CHECK(synth_write(spec, path, &err) == 0, "%s: %s", label, err.msg);
	CHECK(ember_model_load(path, &m, &err) == 0, "%s: %s", label, err.msg);
	unlink(path);
	if (!m || cpu_session(m, kv, 64, &sc) || npu_session(m, ~0u, kv, 64, &sn, NULL) ||
	    npu_session(m, 0, kv, 64, &sf, NULL))
		goto out;
	exact = m->layers[0].wq.layout == EK_LAYOUT_ROWS && m->output.layout == EK_LAYOUT_ROWS;
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

struct out {
	const struct ember_model *m;
	char buf[8192];
	size_t n;
	int32_t toks[1024];
	int nt;
};

static void append_piece(struct out *o, int32_t tok)
{
	char p[256];
	int n = ember_token_to_piece(o->m, tok, true, p, sizeof(p));

	if (n > 0 && o->n + (size_t)n < sizeof(o->buf) - 2) {
		memcpy(o->buf + o->n, p, (size_t)n);
		o->n += (size_t)n;
	}
}

static int on_token(void *user, int32_t tok, const char *text, size_t len)
{
	struct out *o = user;

	(void)text;
	(void)len;
	if (o->nt < 1024)
		o->toks[o->nt++] = tok;
	append_piece(o, tok);
	return 0;
}

/* Greedy text of @s for @prompt: BOS and prompt rendered, then n tokens. */
static int generate(struct ember_session *s, const struct ember_model *m, const char *prompt,
		    int n_predict, struct out *o)
{
	struct ember_generate_opts go;
	struct ember_error err;
	int32_t toks[256];
	int n = ember_tokenize(m, prompt, -1, true, true, toks, 256, &err), ret;

	memset(o, 0, sizeof(*o));
	o->m = m;
	CHECK(n > 0 && n <= 256, "tokenize '%s'", prompt);
	if (n <= 0 || n > 256)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		append_piece(o, toks[i]);
	ember_generate_opts_default(&go);
	go.n_predict = n_predict;
	go.stop_at_eog = false;
	go.render_special = true;
	ret = ember_generate(s, toks, n, &go, on_token, o, NULL, &err);
	CHECK(ret == 0, "generate: %s", err.msg);
	o->buf[o->n++] = '\n';
	o->buf[o->n] = 0;
	return ret;
}

static void stories_reference(const char *dir)
{
	char model[4096], ref[4096];
	struct ember_model *m = NULL;
	struct ember_error err;
	struct json *j;
	const struct json *cases;
	static struct out o;

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
	char path[] = "/tmp/ember-test-npu-XXXXXX";
	struct ember_model *m = NULL;
	struct ember_session *sc = NULL, *sn = NULL;
	struct ember_error err;
	struct fake_tp *f;
	static struct out oc, on;
	char where[200];

	close(mkstemp(path));
	CHECK(synth_write(spec, path, &err) == 0, "%s", err.msg);
	CHECK(ember_model_load(path, &m, &err) == 0, "%s", err.msg);
	unlink(path);
	if (!m || cpu_session(m, EMBER_TYPE_F16, 128, &sc) ||
	    npu_session(m, ember_fw_caps_ops() & ~(1u << EMBER_OP_SWIGLU), EMBER_TYPE_F16, 128,
			&sn, &f))
		goto out;
	ember_session_placement(sn, where, sizeof(where));
	CHECK(!strcmp(where, "npu: 2/2 attention + embed + output; cpu: 2/2 ffn + sampling"),
	      "masked placement '%s'", where);
	if (!generate(sc, m, "hello", 24, &oc) && !generate(sn, m, "hello", 24, &on))
		CHECK(oc.nt == on.nt && !memcmp(oc.toks, on.toks, sizeof(int32_t) * (size_t)oc.nt),
		      "masked device: tokens differ from the CPU's:\n  cpu: %s\n  npu: %s",
		      oc.buf, on.buf);
	/* a pass per split: embed+attention 0, then attention 1, then output */
	CHECK(f->runs > 0 && f->jobs >= f->runs, "runs %u jobs %u", f->runs, f->jobs);
out:
	ember_session_free(sn);
	ember_session_free(sc);
	ember_model_free(m);
}

/* A device that fails a job: ember_eval says so, the session can be freed. */
static void failing_device(const struct synth_spec *spec)
{
	char path[] = "/tmp/ember-test-npu-XXXXXX";
	struct ember_model *m = NULL;
	struct ember_session *s = NULL;
	struct ember_error err;
	struct fake_tp *f;
	int32_t tok = 1;
	const float *logits;

	close(mkstemp(path));
	CHECK(synth_write(spec, path, &err) == 0, "%s", err.msg);
	CHECK(ember_model_load(path, &m, &err) == 0, "%s", err.msg);
	unlink(path);
	if (!m || npu_session(m, ~0u, EMBER_TYPE_F16, 64, &s, &f))
		goto out;
	f->fail_job = 1;
	CHECK(ember_eval(s, &tok, 1, &logits, &err) == -EIO, "eval on a failing device: %d",
	      err.code);
	CHECK(strstr(err.msg, "MMU_FAULT") != NULL, "message: %s", err.msg);
	f->fail_job = -1;
	CHECK(ember_eval(s, &tok, 1, &logits, &err) == 0, "eval after the failure: %s", err.msg);
out:
	ember_session_free(s);
	ember_model_free(m);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "../shared/models";
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
	failing_device(&llama);
	if (!access(dir, R_OK))
		stories_reference(dir);
	else
		CHECK(0, "%s is missing: the stories260K reference cannot run", dir);
	return CHECK_DONE("npu");
}
