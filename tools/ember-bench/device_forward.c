/* SPDX-License-Identifier: MIT */
/*
 * ember-bench device, the forward-pass row: a model's decode on the NPU
 * through the runtime (device.h), timed by wall clock, by the device's busy
 * counter and by this process's CPU time.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <ember/runtime.h>

#include "bench.h"
#include "device.h"

#define FWD_CTX 512u	/* KV cache positions */
#define FWD_WARM 3	/* untimed tokens: pages, caches, the device's first maps */

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* the next of ember-run --bench's fixed pseudo-random token ids */
static int32_t next_token(int32_t tok, uint32_t n_vocab)
{
	return (int32_t)(3 + (uint32_t)(tok * 2654435761u) % (n_vocab - 3));
}

int bench_forward_decode(const char *model, int threads, double seconds,
			 dev_perf_fn perf, void *ctx, struct fwd_result *r)
{
	struct ember_session_opts so;
	struct ember_model_info in;
	struct ember_model *m = NULL;
	struct ember_session *s = NULL;
	struct ember_error err;
	struct dev_perf p0, p1;
	const float *logits;
	const char *base;
	double t0, c0, dt;
	int32_t tok = 1;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = ember_model_load(model, &m, &err);
	if (ret)
		goto fail;
	ember_model_get_info(m, &in);
	base = strrchr(model, '/');
	snprintf(r->model, sizeof(r->model), "%s", in.name[0] ? in.name : base ? base + 1 : model);
	snprintf(r->weight_type, sizeof(r->weight_type), "%s", ember_type_name(in.weight_dtype));
	ember_session_opts_default(&so);
	so.n_ctx = FWD_CTX;
	so.n_batch = 1;
	so.n_threads = threads;
	so.device = EMBER_DEVICE_NPU;
	ret = ember_session_create(m, &so, &s, &err);
	if (ret)
		goto fail;
	ember_session_placement(s, r->placement, sizeof(r->placement));
	for (int i = 0; i < FWD_WARM; i++, tok = next_token(tok, in.n_vocab))
		if ((ret = ember_eval(s, &tok, 1, &logits, &err)))
			goto fail;
	if ((ret = perf(ctx, &p0)))
		goto out;
	t0 = bench_now();
	c0 = cpu_now();
	do {
		if ((ret = ember_eval(s, &tok, 1, &logits, &err)))
			goto fail;
		tok = next_token(tok, in.n_vocab);
		r->tokens++;
		dt = bench_now() - t0;
	} while ((dt < seconds || r->tokens < 4) && ember_session_n_past(s) < FWD_CTX);
	r->cpu_s = cpu_now() - c0;
	r->wall_s = dt;
	if ((ret = perf(ctx, &p1)))
		goto out;
	r->busy_ns = p1.busy_ns - p0.busy_ns;
	r->jobs = p1.jobs - p0.jobs;
	r->bytes_read = p1.bytes_read - p0.bytes_read;
	goto out;
fail:
	fprintf(stderr, "ember-bench: %s\n", err.msg);
out:
	ember_session_free(s);
	ember_model_free(m);
	return ret;
}
