/* SPDX-License-Identifier: MIT */
/*
 * ember-bench model, Ember's side: one session per model and thread count,
 * sized for the sweep's largest test, and one timed run of a test the way
 * llama-bench times it. pp: the n_prompt tokens in one forward pass after
 * the depth (the logits of the last only, as llama-bench asks); tg: n_gen
 * forward passes of one token each. The depth is filled untimed before
 * either, from an emptied context.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ember/runtime.h>

#include "bench.h"
#include "build_info.h"
#include "model.h"

struct mb_ember {
	struct ember_model *model;
	struct ember_session *session;
	struct ember_model_info info;
	int32_t *toks;		/* fixed pseudo-random ids */
	int n_toks, n_batch;
};

struct mb_ember *mb_ember_open(const char *path, int threads, int kv_dtype,
			       const struct mb_test *tests, int n_tests)
{
	int max_p = 0, max_n = 0, max_d = 0;
	struct ember_session_opts so;
	struct ember_error err;
	struct mb_ember *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	for (int i = 0; i < n_tests; i++) {
		max_p = tests[i].n_prompt > max_p ? tests[i].n_prompt : max_p;
		max_n = tests[i].n_gen > max_n ? tests[i].n_gen : max_n;
		max_d = tests[i].n_depth > max_d ? tests[i].n_depth : max_d;
	}
	if (ember_model_load(path, &e->model, &err)) {
		fprintf(stderr, "ember-bench: %s\n", err.msg);
		free(e);
		return NULL;
	}
	ember_model_get_info(e->model, &e->info);
	e->n_batch = max_p > 512 ? max_p : 512;
	e->n_toks = max_d + (max_p > max_n ? max_p : max_n) + 1;
	ember_session_opts_default(&so);
	so.n_ctx = (uint32_t)e->n_toks;
	so.n_batch = (uint32_t)e->n_batch;
	so.n_threads = threads;
	so.kv_dtype = kv_dtype;
	so.device = EMBER_DEVICE_CPU;
	if (e->info.n_ctx_train && so.n_ctx > e->info.n_ctx_train)
		fprintf(stderr, "ember-bench: note: %s was trained for %u positions; the sweep needs %u\n",
			path, e->info.n_ctx_train, so.n_ctx);
	e->toks = malloc((size_t)e->n_toks * sizeof(*e->toks));
	if (!e->toks || ember_session_create(e->model, &so, &e->session, &err)) {
		fprintf(stderr, "ember-bench: %s: %s\n", path,
			e->toks ? err.msg : "out of memory");
		mb_ember_close(e);
		return NULL;
	}
	for (int i = 0; i < e->n_toks; i++)
		e->toks[i] = (int32_t)(3 + (uint32_t)(i * 2654435761u) %
					   (e->info.n_vocab - 3));
	return e;
}

void mb_ember_close(struct mb_ember *e)
{
	if (!e)
		return;
	ember_session_free(e->session);
	ember_model_free(e->model);
	free(e->toks);
	free(e);
}

void mb_ember_describe(const struct mb_ember *e, struct mb_row *row)
{
	double p = (double)e->info.n_params;

	snprintf(row->model_type, sizeof(row->model_type), "%s %.*f%s %s",
		 e->info.arch, p >= 1e9 ? 2 : p >= 1e7 ? 0 : 1,
		 p >= 1e9 ? p / 1e9 : p / 1e6, p >= 1e9 ? "B" : "M",
		 ember_type_name(e->info.weight_dtype));
	row->model_size = e->info.file_bytes;
	row->model_n_params = e->info.n_params;
}

static int eval(struct mb_ember *e, const int32_t *toks, int n)
{
	struct ember_error err;
	const float *logits;

	while (n > 0) {
		int k = n < e->n_batch ? n : e->n_batch;

		if (ember_eval(e->session, toks, k, &logits, &err)) {
			fprintf(stderr, "ember-bench: %s\n", err.msg);
			return -1;
		}
		toks += k;
		n -= k;
	}
	return 0;
}

double mb_ember_run(struct mb_ember *e, const struct mb_test *t)
{
	const int32_t *toks = e->toks;
	double t0;

	ember_session_reset(e->session);
	if (eval(e, toks, t->n_depth))
		return -1;
	toks += t->n_depth;
	t0 = bench_now();
	if (t->n_prompt) {
		if (eval(e, toks, t->n_prompt))
			return -1;
	} else {
		for (int i = 0; i < t->n_gen; i++)
			if (eval(e, toks + i, 1))
				return -1;
	}
	return (t->n_prompt + t->n_gen) / (bench_now() - t0);
}

static void cpu_name(char *buf, size_t size)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(buf, size, "unknown CPU");
	while (f && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (strncmp(line, "model name", 10) || !c)
			continue;
		c += 1 + strspn(c + 1, " \t");
		c[strcspn(c, "\n")] = 0;
		snprintf(buf, size, "%s", c);
		break;
	}
	if (f)
		fclose(f);
}

void mb_ember_engine(struct mb_engine *eng)
{
	const char *isa = "portable C";

#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512vnni"))
		isa = "AVX-512 VNNI";
	else if (__builtin_cpu_supports("avx512f"))
		isa = "AVX-512";
	else if (__builtin_cpu_supports("avx2"))
		isa = "AVX2";
#endif
	snprintf(eng->name, sizeof(eng->name), "ember");
	snprintf(eng->build_commit, sizeof(eng->build_commit), "%s",
		 EMBER_BUILD_COMMIT);
	snprintf(eng->build_info, sizeof(eng->build_info), "CPU backend, %s",
		 isa);
	cpu_name(eng->cpu_info, sizeof(eng->cpu_info));
}
