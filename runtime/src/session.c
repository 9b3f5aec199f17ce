/* SPDX-License-Identifier: MIT */
/* Sessions: the KV cache and activation buffers, and the forward pass that
 * walks the steps and hands each to the first backend that supports it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "npu/npu.h"
#include "placement.h"

#define MAX_BACKENDS 2
/* Times a pass runs again on the NPU after the device failed it, before
 * the session gives up on the device and runs on the CPU. */
#define MAX_NPU_RETRIES 3
#define LOG_SIZE 4096
#define STR(x) #x
#define XSTR(x) STR(x)

struct ember_session {
	struct ember_model *m;
	struct fwd_state st;
	struct backend be[MAX_BACKENDS];
	int n_be;
	int cpu;		/* be[cpu] is the CPU backend */
	int npu;		/* be[npu] is the NPU backend, or -1 */
	int pending;		/* the backend with queued steps, or -1 */
	struct placement place;	/* which backend runs each step */
	bool dev_state;		/* st's buffers belong to the NPU backend */
	char device_note[600];	/* why AUTO chose the CPU, or the NPU's name */
	uint32_t n_past;
	bool npu_down;		/* the NPU failed for good: every step on the CPU */
	int n_recoveries;
	char log[LOG_SIZE];	/* what each recovery did, a line each */
	size_t log_len;
};

void ember_session_opts_default(struct ember_session_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->kv_dtype = EMBER_TYPE_F16;
	o->device = EMBER_DEVICE_AUTO;
}

static void *zalloc(size_t n)
{
	void *p = aligned_alloc(64, (n + 63) & ~(size_t)63);

	if (p)
		memset(p, 0, n);
	return p;
}

void ember_session_free(struct ember_session *s)
{
	struct fwd_state *st;

	if (!s)
		return;
	st = &s->st;
	for (int i = 0; i < s->n_be; i++)
		s->be[i].ops->destroy(s->be[i].priv);
	if (!s->dev_state) {
		for (uint32_t l = 0; st->k_cache && l < s->m->info.n_layer; l++) {
			free(st->k_cache[l]);
			free(st->v_cache[l]);
		}
		free(st->x);
		free(st->xb);
		free(st->q);
		free(st->k);
		free(st->v);
		free(st->att);
		free(st->hb);
		free(st->hb2);
		free(st->logits);
	}
	free(st->k_cache);
	free(st->v_cache);
	placement_free(&s->place);
	free(s);
}

/* The state in host memory (a session without an NPU). */
static int alloc_host_state(struct ember_session *s)
{
	struct fwd_state *st = &s->st;
	const struct ember_model_info *in = &s->m->info;
	uint32_t kvd = in->n_head_kv * in->head_dim, B = st->n_batch;

	/* K in tiles of 16 positions where the attention kernel reads them
	 * without transposes (ember/kernels.h) */
	st->k_layout = ek_kv_kt16_preferred() ? EK_KV_KT16 : EK_KV_ROWS;
	st->x = zalloc((size_t)B * in->n_embd * 4);
	st->xb = zalloc((size_t)B * in->n_embd * 4);
	st->q = zalloc((size_t)B * in->n_embd * 4);
	st->k = zalloc((size_t)B * kvd * 4);
	st->v = zalloc((size_t)B * kvd * 4);
	st->att = zalloc((size_t)B * in->n_embd * 4);
	st->hb = zalloc((size_t)B * in->n_ff * 4);
	st->hb2 = zalloc((size_t)B * in->n_ff * 4);
	st->logits = zalloc((size_t)in->n_vocab * 4);
	if (!st->x || !st->xb || !st->q || !st->k || !st->v || !st->att || !st->hb ||
	    !st->hb2 || !st->logits)
		return -ENOMEM;
	for (uint32_t l = 0; l < in->n_layer; l++) {
		st->k_cache[l] = zalloc(ek_kv_bytes(st->k_layout, st->kv_row, st->n_ctx));
		st->v_cache[l] = zalloc(st->kv_row * st->n_ctx);
		if (!st->k_cache[l] || !st->v_cache[l])
			return -ENOMEM;
	}
	return 0;
}

/* Opens the NPU for a session that asks for one; for AUTO, a missing NPU
 * is not an error (the note says why the CPU runs). */
static int open_npu(struct ember_session *s, const struct ember_session_opts *o,
		    const struct npu_transport *given, struct ember_error *err)
{
	struct npu_transport tp;
	struct ember_error e;
	int ret;

	if (given) {
		tp = *given;
	} else {
		ret = npu_transport_open(NULL, &tp, e.msg);
		if (ret) {
			if (o->device == EMBER_DEVICE_NPU)
				return ember_fail(err, ret, "--device npu: %s (or run on the CPU: --device cpu)",
						  e.msg);
			snprintf(s->device_note, sizeof(s->device_note), "no NPU: %s", e.msg);
			return 0;
		}
	}
	snprintf(s->device_note, sizeof(s->device_note), "%s", tp.caps.name);
	ret = npu_backend_create(&s->st, &tp, &s->be[s->n_be], err);
	if (ret)
		return ret;
	s->npu = s->n_be++;
	s->dev_state = true;
	return 0;
}

static int session_create(struct ember_model *m, const struct ember_session_opts *o,
			  const struct npu_transport *npu, struct ember_session **out,
			  struct ember_error *err)
{
	const struct ember_model_info *in = &m->info;
	struct ember_session_opts def;
	struct ember_session *s;
	struct fwd_state *st;
	uint32_t kvd = in->n_head_kv * in->head_dim, B;
	int nthreads, ret;

	*out = NULL;
	if (!o) {
		ember_session_opts_default(&def);
		o = &def;
	}
	if (o->kv_dtype != EMBER_TYPE_F16 && o->kv_dtype != EMBER_TYPE_F32 &&
	    o->kv_dtype != EMBER_TYPE_Q8_0)
		return ember_fail(err, -EINVAL,
				  "KV cache type %d is not supported (use F16, F32 or Q8_0)",
				  o->kv_dtype);
	/* a Q8_0 block must not span two heads */
	if (o->kv_dtype == EMBER_TYPE_Q8_0 && in->head_dim % EK_QK)
		return ember_fail(err, -EINVAL,
				  "a q8_0 KV cache needs a head size that is a multiple of %d; "
				  "this model's is %u: use an f16 cache", EK_QK, in->head_dim);
	s = calloc(1, sizeof(*s));
	if (!s)
		return ember_fail(err, -ENOMEM, "out of memory");
	s->m = m;
	s->npu = s->pending = -1;
	st = &s->st;
	st->m = m;
	st->n_ctx = o->n_ctx;
	if (!st->n_ctx)
		st->n_ctx = in->n_ctx_train && in->n_ctx_train < 2048 ? in->n_ctx_train : 2048;
	if (st->n_ctx > (1u << 24)) {
		uint32_t n = st->n_ctx;

		free(s);
		return ember_fail(err, -EINVAL, "context of %u tokens is too large (max 16M)", n);
	}
	B = o->n_batch ? o->n_batch : 128;
	st->n_batch = B < st->n_ctx ? B : st->n_ctx;
	st->kv_dtype = o->kv_dtype;
	st->kv_row = ek_row_size(o->kv_dtype, kvd);
	st->k_cache = calloc(in->n_layer, sizeof(void *));
	st->v_cache = calloc(in->n_layer, sizeof(void *));
	if (!st->k_cache || !st->v_cache)
		goto oom;
	if (o->device != EMBER_DEVICE_CPU || npu) {
		ret = open_npu(s, o, npu, err);
		if (ret) {
			ember_session_free(s);
			return ret;
		}
	}
	if (!s->dev_state && alloc_host_state(s))
		goto oom;
	nthreads = o->n_threads;
	if (nthreads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		nthreads = n > 0 ? (int)n : 1;
	}
	ret = cpu_backend_create(st, nthreads, &s->be[s->n_be], err);
	if (ret) {
		ember_session_free(s);
		return ret;
	}
	s->cpu = s->n_be++;
	if (placement_init(&s->place, s->be, s->n_be, in->n_layer))
		goto oom;
	*out = s;
	return 0;
oom:
	ret = ember_fail(err, -ENOMEM,
			 "out of memory for a %u-token context (KV cache %zu MiB); use a smaller --ctx",
			 st->n_ctx, (size_t)(st->kv_row * 2 * st->n_ctx * in->n_layer) >> 20);
	ember_session_free(s);
	return ret;
}

void ember_session_reset(struct ember_session *s)
{
	s->n_past = 0;
}

uint32_t ember_session_n_past(const struct ember_session *s)
{
	return s->n_past;
}

uint32_t ember_session_n_ctx(const struct ember_session *s)
{
	return s->st.n_ctx;
}

int ember_session_n_threads(const struct ember_session *s)
{
	return cpu_backend_threads(&s->be[s->cpu]);
}

int ember_session_run_job(struct ember_session *s,
			  void (*fn)(void *arg, int i, int n), void *arg, int n)
{
	if (!fn || n < 1 || n > ember_session_n_threads(s))
		return -EINVAL;
	cpu_backend_run_job(&s->be[s->cpu], fn, arg, n);
	return 0;
}

/* Runs what the pending backend has queued (only queueing backends are
 * ever pending). */
static int sync_pending(struct ember_session *s)
{
	const struct backend *be;

	if (s->pending < 0)
		return 0;
	be = &s->be[s->pending];
	s->pending = -1;
	return be->ops->sync(be->priv);
}

static int run_step(struct ember_session *s, const struct step *st)
{
	int b = placement_of(&s->place, st), ret;

	if (s->pending >= 0 && s->pending != b) {
		ret = sync_pending(s);
		if (ret)
			return ret;
	}
	ret = s->be[b].ops->run(s->be[b].priv, st);
	if (!ret && s->be[b].ops->sync)
		s->pending = b;
	return ret;
}

/* The message of the backend that failed (backends clear theirs at each
 * call), or "". */
static const char *backend_errmsg(const struct ember_session *s)
{
	for (int i = 0; i < s->n_be; i++)
		if (s->be[i].ops->errmsg && s->be[i].ops->errmsg(s->be[i].priv)[0])
			return s->be[i].ops->errmsg(s->be[i].priv);
	return "";
}

/* One pass over nt tokens at n_past: embed, the layers, the output when
 * @last. */
static int run_pass(struct ember_session *s, const int32_t *tokens, uint32_t nt, bool last)
{
	const struct ember_model_info *in = &s->m->info;
	struct step st = { .kind = STEP_EMBED, .n_tok = nt, .n_past = s->n_past,
			   .tokens = tokens };
	int ret = run_step(s, &st);

	for (uint32_t l = 0; !ret && l < in->n_layer; l++) {
		st.layer = l;
		st.kind = STEP_ATTN;
		ret = run_step(s, &st);
		if (!ret) {
			st.kind = STEP_FFN;
			ret = run_step(s, &st);
		}
	}
	if (!ret && last) {
		st.kind = STEP_OUTPUT;
		ret = run_step(s, &st);
	}
	if (!ret)
		ret = sync_pending(s);
	s->pending = -1;
	return ret;
}

static void log_line(struct ember_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void log_line(struct ember_session *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->log_len + 2 >= sizeof(s->log))
		return;		/* full: the count still says how many */
	va_start(ap, fmt);
	n = vsnprintf(s->log + s->log_len, sizeof(s->log) - s->log_len - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	s->log_len += (size_t)n < sizeof(s->log) - s->log_len - 1 ?
		      (size_t)n : sizeof(s->log) - s->log_len - 2;
	s->log[s->log_len++] = '\n';
	s->log[s->log_len] = 0;
}

/*
 * A pass the device failed runs again, whole. Its input is the token ids
 * and the KV cache below n_past, which no step of the pass writes (EMBED
 * rewrites the residual stream, each ATTN rewrites the cache rows of the
 * pass's own positions before it reads them), so whatever a half-run job
 * left behind is overwritten: the pass is its own checkpoint. The NPU
 * backend decides whether the device can take it again (after a reset, or
 * on a new context when the driver killed the old one); if not, or after
 * MAX_NPU_RETRIES failures in a row, every step goes to the CPU, which
 * runs on the same state.
 */
static int run_pass_recovering(struct ember_session *s, const int32_t *tokens, uint32_t nt,
			       bool last, struct ember_error *err)
{
	for (int tries = 0;; tries++) {
		char note[800];
		int ret = run_pass(s, tokens, nt, last), rec;

		if (!ret)
			return 0;
		if (s->npu < 0 || s->npu_down)
			return ember_fail(err, ret, "forward pass failed (%u tokens at position %u): %s",
					  nt, s->n_past, backend_errmsg(s));
		rec = npu_backend_recover(&s->be[s->npu], tries + 1 < MAX_NPU_RETRIES, note,
					  sizeof(note));
		s->n_recoveries++;
		if (!rec) {
			log_line(s, "pass at position %u (%u token%s): %s; pass re-run on the NPU",
				 s->n_past, nt, nt == 1 ? "" : "s", note);
			continue;
		}
		log_line(s, "pass at position %u (%u token%s): %s%s; this pass and the rest run on the CPU",
			 s->n_past, nt, nt == 1 ? "" : "s", note, tries + 1 < MAX_NPU_RETRIES ? "" :
			 "; the NPU failed this pass " XSTR(MAX_NPU_RETRIES) " times");
		placement_move(&s->place, s->npu, s->cpu);
		s->npu_down = true;
	}
}

int ember_eval(struct ember_session *s, const int32_t *tokens, int n,
	       const float **logits, struct ember_error *err)
{
	const struct ember_model_info *in = &s->m->info;
	int ret;

	if (n <= 0)
		return ember_fail(err, -EINVAL, "nothing to evaluate (0 tokens)");
	if ((uint64_t)s->n_past + (uint64_t)n > s->st.n_ctx)
		return ember_fail(err, -ENOSPC,
				  "context full: %u + %d tokens exceed the %u-token context; use a larger --ctx",
				  s->n_past, n, s->st.n_ctx);
	for (int i = 0; i < n; i++)
		if (tokens[i] < 0 || (uint32_t)tokens[i] >= in->n_vocab)
			return ember_fail(err, -EINVAL, "token id %d is outside the vocabulary (0..%u)",
					  tokens[i], in->n_vocab - 1);
	for (int done = 0; done < n;) {
		uint32_t nt = (uint32_t)(n - done) < s->st.n_batch ? (uint32_t)(n - done) : s->st.n_batch;

		ret = run_pass_recovering(s, tokens + done, nt, done + (int)nt == n, err);
		if (ret)
			return ret;
		s->n_past += nt;
		done += (int)nt;
	}
	if (logits)
		*logits = s->st.logits;
	return 0;
}

int ember_session_recoveries(const struct ember_session *s, const char **log)
{
	if (log)
		*log = s->log;
	return s->n_recoveries;
}

int ember_session_create(struct ember_model *m, const struct ember_session_opts *o,
			 struct ember_session **out, struct ember_error *err)
{
	return session_create(m, o, NULL, out, err);
}

int session_create_with_npu(struct ember_model *m, const struct ember_session_opts *o,
			    const struct npu_transport *tp, struct ember_session **out,
			    struct ember_error *err)
{
	return session_create(m, o, tp, out, err);
}

enum ember_device ember_session_device(const struct ember_session *s)
{
	return s->npu >= 0 ? EMBER_DEVICE_NPU : EMBER_DEVICE_CPU;
}

const char *ember_session_device_note(const struct ember_session *s)
{
	return s->device_note;
}

int ember_session_placement(const struct ember_session *s, char *buf, size_t size)
{
	return placement_describe(&s->place, s->be, s->n_be, s->cpu, buf, size);
}

int session_device_counters(const struct ember_session *s, uint64_t *rd, uint64_t *wr,
			    uint64_t *copied)
{
	if (s->npu < 0)
		return -ENODEV;
	return npu_backend_counters(&s->be[s->npu], rd, wr, copied);
}

const struct ember_model *session_model(const struct ember_session *s)
{
	return s->m;
}

struct fwd_state *session_state(struct ember_session *s)
{
	return &s->st;
}

int session_run_step(struct ember_session *s, const struct step *st)
{
	int ret = run_step(s, st);

	return ret ? ret : sync_pending(s);
}
