/* SPDX-License-Identifier: MIT */
/*
 * Samplers: greedy picks the first maximum; the same seed gives the same
 * tokens; top-k 1 and a tiny min-p/top-p are greedy; temperature changes
 * the spread as softmax predicts; the repetition penalty demotes seen
 * tokens; and seeded generation on stories260K is reproducible.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ember/runtime.h>

#include "check.h"

int check_failures, check_count;

#define NV 8

static struct ember_sampler *mk(float temp, int k, float p, float minp, float rep, uint64_t seed)
{
	struct ember_sampler_params sp;
	struct ember_sampler *s = NULL;
	struct ember_error err;

	ember_sampler_params_default(&sp);
	sp.temperature = temp;
	sp.top_k = k;
	sp.top_p = p;
	sp.min_p = minp;
	sp.repeat_penalty = rep;
	sp.seed = seed;
	CHECK(ember_sampler_create(&sp, NV, &s, &err) == 0, "%s", err.msg);
	return s;
}

static void freq(struct ember_sampler *s, const float *l, int n, int *count)
{
	memset(count, 0, NV * sizeof(int));
	for (int i = 0; i < n; i++) {
		int32_t t = ember_sampler_sample(s, l);

		CHECK(t >= 0 && t < NV, "token in range");
		if (t >= 0 && t < NV)
			count[t]++;
	}
}

static void test_unit(void)
{
	static const float l[NV] = { 1.0f, 3.0f, 2.0f, 3.0f, 0.5f, -1.0f, 2.5f, 0.0f };
	struct ember_sampler *a, *b;
	int ca[NV], cb[NV], n = 20000;
	int32_t ta[64], tb[64];

	a = mk(0, 0, 1, 0, 1, 1);
	CHECK(ember_sampler_sample(a, l) == 1, "greedy takes the first maximum");
	ember_sampler_free(a);

	a = mk(0.8f, 0, 1, 0, 1, 42);
	b = mk(0.8f, 0, 1, 0, 1, 42);
	for (int i = 0; i < 64; i++) {
		ta[i] = ember_sampler_sample(a, l);
		tb[i] = ember_sampler_sample(b, l);
	}
	CHECK(!memcmp(ta, tb, sizeof(ta)), "same seed, same tokens");
	ember_sampler_free(b);
	b = mk(0.8f, 0, 1, 0, 1, 43);
	for (int i = 0; i < 64; i++)
		tb[i] = ember_sampler_sample(b, l);
	CHECK(memcmp(ta, tb, sizeof(ta)), "another seed, other tokens");
	ember_sampler_free(a);
	ember_sampler_free(b);

	a = mk(1.0f, 1, 1, 0, 1, 5);
	freq(a, l, 200, ca);
	CHECK(ca[1] == 200, "top-k 1 is greedy (%d)", ca[1]);
	ember_sampler_free(a);

	a = mk(1.0f, 0, 1, 0, 1, 7);	/* plain softmax at T = 1 */
	freq(a, l, n, ca);
	{
		double z = 0;

		for (int i = 0; i < NV; i++)
			z += exp(l[i]);
		for (int i = 0; i < NV; i++) {
			double want = exp(l[i]) / z * n;

			CHECK(fabs(ca[i] - want) < 5 * sqrt(want) + 5, "T=1 token %d: %d, expected %.0f",
			      i, ca[i], want);
		}
	}
	ember_sampler_free(a);

	a = mk(1.0f, 3, 1, 0, 1, 9);	/* top-k 3: only tokens 1, 3, 6 */
	freq(a, l, 2000, ca);
	CHECK(ca[1] + ca[3] + ca[6] == 2000 && ca[6] > 0, "top-k 3");
	ember_sampler_free(a);

	a = mk(1.0f, 0, 0.5f, 0, 1, 11);	/* top-p 0.5: the two 3.0 logits */
	freq(a, l, 2000, ca);
	CHECK(ca[1] + ca[3] == 2000 && ca[1] > 0 && ca[3] > 0, "top-p 0.5 (%d %d)", ca[1], ca[3]);
	ember_sampler_free(a);

	a = mk(1.0f, 0, 1, 0.5f, 1, 13);	/* min-p 0.5: p >= e^-0.69 p_max */
	freq(a, l, 2000, ca);
	CHECK(ca[1] + ca[3] + ca[6] == 2000 && ca[6] > 0, "min-p 0.5");
	ember_sampler_free(a);

	a = mk(0.25f, 0, 1, 0, 1, 15);	/* low temperature sharpens */
	b = mk(4.0f, 0, 1, 0, 1, 15);
	freq(a, l, 4000, ca);
	freq(b, l, 4000, cb);
	CHECK(ca[1] + ca[3] > cb[1] + cb[3] && cb[5] > ca[5], "temperature spread");
	ember_sampler_free(a);
	ember_sampler_free(b);

	a = mk(0, 0, 1, 0, 10.0f, 1);	/* repetition penalty */
	ember_sampler_accept(a, 1);
	ember_sampler_accept(a, 3);
	CHECK(ember_sampler_sample(a, l) == 6, "penalised 1 and 3, next best is 6");
	ember_sampler_free(a);
}

struct collect {
	int32_t t[64];
	int n;
};

static int on_tok(void *u, int32_t tok, const char *text, size_t len)
{
	struct collect *c = u;

	(void)text;
	(void)len;
	if (c->n < 64)
		c->t[c->n++] = tok;
	return 0;
}

static void test_generate(const char *dir)
{
	char path[4096];
	struct ember_model *m = NULL;
	struct ember_session *s = NULL;
	struct ember_generate_opts go;
	struct ember_error err;
	struct collect a = { { 0 }, 0 }, b = { { 0 }, 0 };
	int32_t toks[16];
	int n;

	snprintf(path, sizeof(path), "%s/stories260K.gguf", dir);
	if (access(path, R_OK)) {
		printf("SKIP generation checks: %s missing\n", path);
		return;
	}
	CHECK(ember_model_load(path, &m, &err) == 0, "%s", err.msg);
	CHECK(ember_session_create(m, NULL, &s, &err) == 0, "%s", err.msg);
	if (!s)
		goto out;
	n = ember_tokenize(m, "Once upon a time", -1, true, true, toks, 16, &err);
	ember_generate_opts_default(&go);
	go.n_predict = 40;
	go.stop_at_eog = false;
	go.sampler.temperature = 0.9f;
	go.sampler.top_k = 40;
	go.sampler.top_p = 0.95f;
	go.sampler.seed = 1234;
	CHECK(ember_generate(s, toks, n, &go, on_tok, &a, NULL, &err) == 0, "%s", err.msg);
	ember_session_reset(s);
	CHECK(ember_generate(s, toks, n, &go, on_tok, &b, NULL, &err) == 0, "%s", err.msg);
	CHECK(a.n == 40 && b.n == 40 && !memcmp(a.t, b.t, sizeof(a.t)),
	      "seeded generation is reproducible");
	/* a context that is too small is an error, not a crash */
	ember_session_reset(s);
	go.n_predict = 100000;
	CHECK(ember_generate(s, toks, n, &go, NULL, NULL, NULL, &err) == -ENOSPC &&
	      strstr(err.msg, "--ctx"), "context full: %s", err.msg);
out:
	ember_session_free(s);
	ember_model_free(m);
}

int main(int argc, char **argv)
{
	test_unit();
	test_generate(argc > 1 ? argv[1] : "../shared/models");
	return CHECK_DONE("sampler");
}
