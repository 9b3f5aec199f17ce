/* SPDX-License-Identifier: MIT */
/*
 * A generation survives the device (host side, on the fake NPU): for each
 * failure the driver reports, injected at a chosen pass of a 64-token
 * greedy generation of stories260K, the token ids and text equal those of
 * an undisturbed run, the pass is re-run where the session says (the NPU
 * after a reset, a new context after an MMU fault, the CPU once the device
 * is gone), the counts of passes and reopens match, and the recovery log
 * names what happened. Every failed pass first has its writable state
 * scribbled over (activations, logits, and the KV rows from the pass's
 * position on), as a job that died half-way may leave it.
 * The guest runs the same against ember.ko: tests/guest/ember-recover-test.sh.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <drm/ember_accel.h>
#include <ember/runtime.h>

#include "backend.h"
#include "check.h"
#include "fake_npu.h"
#include "greedy_text.h"
#include "npu/npu.h"

int check_failures, check_count;

#define N_PREDICT 64
#define N_CTX 128

static void scribble_state(void *arg)
{
	struct ember_session *s = arg;
	struct fwd_state *st = session_state(s);
	const struct ember_model_info *in = &st->m->info;
	size_t B = st->n_batch, d = in->n_embd, kvd = (size_t)in->n_head_kv * in->head_dim;
	uint32_t from = ember_session_n_past(s);
	struct {
		float *p;
		size_t n;
	} acts[] = {
		{ st->x, B * d }, { st->xb, B * d }, { st->q, B * d }, { st->k, B * kvd },
		{ st->v, B * kvd }, { st->att, B * d }, { st->hb, B * in->n_ff },
		{ st->hb2, B * in->n_ff }, { st->logits, in->n_vocab },
	};

	for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
		for (size_t j = 0; j < acts[i].n; j++)
			acts[i].p[j] = NAN;
	/* the device keeps K as rows (EK_KV_ROWS): position p at p * kv_row */
	for (uint32_t l = 0; l < in->n_layer; l++) {
		memset((uint8_t *)st->k_cache[l] + from * st->kv_row, 0xff,
		       (st->n_ctx - from) * st->kv_row);
		memset((uint8_t *)st->v_cache[l] + from * st->kv_row, 0xff,
		       (st->n_ctx - from) * st->kv_row);
	}
}

static struct ember_session *npu_session(struct ember_model *m, struct fake_plan *plan)
{
	struct ember_model_info in;
	struct ember_session_opts so;
	struct ember_session *s = NULL;
	struct ember_error err;
	struct npu_transport tp;

	ember_model_get_info(m, &in);
	tp = fake_npu(~0u, (in.file_bytes >> 20) * 3 / 2 + 64, plan);
	ember_session_opts_default(&so);
	so.n_ctx = N_CTX;
	so.n_threads = 2;
	CHECK(session_create_with_npu(m, &so, &tp, &s, &err) == 0, "NPU session: %s", err.msg);
	return s;
}

struct fault_case {
	const char *name;
	unsigned int fail_run;	/* pass 1 is the prefill, pass k the (k-1)th decode */
	int status, err;
	bool dead, no_reopen, every_run;
	/* expected */
	int recoveries;
	unsigned int reopens;
	bool on_cpu;		/* the rest ran on the CPU */
	const char *log;	/* in the recovery log */
};

static void run_case(struct ember_model *m, const int32_t *prompt, int n,
		     const struct greedy_text *ref, unsigned int ref_runs,
		     const struct fault_case *c)
{
	static struct greedy_text o;
	struct fake_plan plan;
	struct ember_session *s;
	struct ember_error err;
	const char *log;
	char where[200];
	int nrec;

	fake_plan_init(&plan);
	plan.fail_run = c->every_run ? 0 : c->fail_run;
	plan.fail_status = c->status;
	plan.fail_err = c->err;
	plan.dead = c->dead;
	plan.no_reopen = c->no_reopen;
	if (c->every_run)
		plan.fail_job = 0;
	s = npu_session(m, &plan);
	if (!s)
		return;
	plan.scribble = scribble_state;
	plan.scribble_arg = s;
	CHECK(greedy_text(s, m, prompt, n, N_PREDICT, &o, &err) == 0, "%s: %s", c->name, err.msg);
	CHECK(o.nt == ref->nt && !memcmp(o.toks, ref->toks, sizeof(o.toks[0]) * o.nt),
	      "%s: token ids differ from the undisturbed run's", c->name);
	CHECK(o.n == ref->n && !memcmp(o.buf, ref->buf, o.n), "%s:\n  got: %s\n  ref: %s",
	      c->name, o.buf, ref->buf);
	nrec = ember_session_recoveries(s, &log);
	CHECK(nrec == c->recoveries, "%s: %d recoveries, want %d:\n%s", c->name, nrec,
	      c->recoveries, log);
	CHECK(strstr(log, c->log) != NULL, "%s: the log lacks '%s':\n%s", c->name, c->log, log);
	CHECK(plan.reopens == c->reopens, "%s: %u reopens, want %u", c->name, plan.reopens,
	      c->reopens);
	ember_session_placement(s, where, sizeof(where));
	if (c->on_cpu) {
		/* the failed pass and every one after it on the CPU */
		CHECK(plan.runs == c->fail_run + (unsigned int)c->recoveries - 1,
		      "%s: %u device runs after failing run %u", c->name, plan.runs, c->fail_run);
		CHECK(!strncmp(where, "cpu: ", 5), "%s: placement '%s'", c->name, where);
	} else {
		/* one more run per re-run pass, all on the NPU */
		CHECK(plan.runs == ref_runs + (unsigned int)c->recoveries,
		      "%s: %u device runs, want %u", c->name, plan.runs,
		      ref_runs + c->recoveries);
		CHECK(!strncmp(where, "npu: ", 5), "%s: placement '%s'", c->name, where);
	}
	printf("%s: %d recoveries, %u runs, %u reopens\n%s", c->name, nrec, plan.runs,
	       plan.reopens, log);
	ember_session_free(s);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "../shared/models";
	static const struct fault_case cases[] = {
		{ "timeout in the prefill", 1, EMBER_JOB_TIMEOUT, 0, false, false, false,
		  1, 0, false, "timed out (TIMEOUT); the driver reset the device; pass re-run on the NPU" },
		{ "aborted by a reset", 10, EMBER_JOB_ABORTED, 0, false, false, false,
		  1, 0, false, "(ABORTED); the driver reset the device; pass re-run on the NPU" },
		{ "firmware error", 20, EMBER_JOB_FW_ERROR, 0, false, false, false,
		  1, 0, false, "(FW_ERROR); the driver reset the device; pass re-run on the NPU" },
		{ "MMU fault: a new context", 30, EMBER_JOB_MMU_FAULT, 0, false, false, false,
		  1, 1, false, "(MMU_FAULT); the context is dead: device reopened, weights uploaded again; pass re-run on the NPU" },
		{ "a signal during the submission", 33, -1, -EINTR, false, false, false,
		  1, 0, false, "(Interrupted system call); retried; pass re-run on the NPU" },
		{ "MMU fault, no new context", 40, EMBER_JOB_MMU_FAULT, 0, false, true, false,
		  1, 0, true, "reopening the device failed (cannot open the fake NPU again); the NPU is down; this pass and the rest run on the CPU" },
		{ "the device gone for good", 37, EMBER_JOB_TIMEOUT, 0, true, false, false,
		  2, 0, true, "the NPU took no jobs (No such device); the NPU is down; this pass and the rest run on the CPU" },
		{ "refused by the device", 50, EMBER_JOB_BAD_DESC, 0, false, false, false,
		  1, 0, true, "was refused (BAD_DESC); the NPU is not used again" },
		{ "fails every time", 1, -1, 0, false, false, true,
		  3, 2, true, "the NPU failed this pass 3 times; this pass and the rest run on the CPU" },
	};
	char model[4096];
	struct ember_model *m = NULL;
	struct ember_error err;
	static struct greedy_text ref;
	struct fake_plan plan;
	struct ember_session *s;
	int32_t prompt[64];
	int n;

	snprintf(model, sizeof(model), "%s/stories260K.gguf", dir);
	if (access(model, R_OK)) {
		CHECK(0, "%s is missing", model);
		return CHECK_DONE("npu recover");
	}
	CHECK(ember_model_load(model, &m, &err) == 0, "%s", err.msg);
	if (!m)
		return CHECK_DONE("npu recover");
	n = ember_tokenize(m, "Once upon a time, a little fox", -1, true, true, prompt, 64, &err);
	CHECK(n > 1 && n <= 64, "tokenize: %d", n);
	fake_plan_init(&plan);
	s = npu_session(m, &plan);
	if (n > 1 && n <= 64 && s) {
		CHECK(greedy_text(s, m, prompt, n, N_PREDICT, &ref, &err) == 0, "%s", err.msg);
		CHECK(ember_session_recoveries(s, NULL) == 0, "an undisturbed run recovered");
		/* the prefill and a pass per decoded token, one job each */
		CHECK(plan.runs == N_PREDICT && plan.jobs == N_PREDICT, "%u runs, %u jobs",
		      plan.runs, plan.jobs);
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			run_case(m, prompt, n, &ref, plan.runs, &cases[i]);
	}
	ember_session_free(s);
	ember_model_free(m);
	return CHECK_DONE("npu recover");
}
