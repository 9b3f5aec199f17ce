/* SPDX-License-Identifier: MIT */
/*
 * stories260K against llama.cpp: for every case of
 * <models>/stories260K-reference.json, the prompt must tokenize to
 * prompt_tokens and greedy generation of n_predict tokens must print
 * greedy_output exactly: the prompt tokens' pieces (BOS as "<s>") and the
 * generated pieces, as llama.cpp's llama-simple prints them, + "\n".
 * Run with 1 and 2 threads, f16 and f32 KV cache, and two models loaded
 * at once (no shared state).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ember/kernels.h>
#include <ember/runtime.h>

#include "check.h"
#include "greedy_text.h"
#include "json.h"

int check_failures, check_count;

static void run_case(struct ember_model *m, const struct json *c, int threads, int kv)
{
	const char *prompt = json_get(c, "prompt")->str;
	const struct json *ref_toks = json_get(c, "prompt_tokens");
	const struct json *ref_out = json_get(c, "greedy_output");
	int n_predict = (int)json_get(c, "n_predict")->num;
	struct ember_session_opts so;
	struct ember_session *s = NULL;
	struct ember_error err;
	struct greedy_text *o = calloc(1, sizeof(*o));
	int32_t toks[256];
	int n;

	n = ember_tokenize(m, prompt, -1, true, true, toks, 256, &err);
	CHECK(n == (int)ref_toks->n, "'%s': %d tokens, reference %zu", prompt, n, ref_toks->n);
	for (int i = 0; i < n && i < (int)ref_toks->n; i++)
		CHECK(toks[i] == (int32_t)ref_toks->items[i].num, "'%s' token %d: %d, reference %d",
		      prompt, i, toks[i], (int)ref_toks->items[i].num);
	ember_session_opts_default(&so);
	so.n_ctx = 256;
	so.n_threads = threads;
	so.kv_dtype = kv;
	CHECK(ember_session_create(m, &so, &s, &err) == 0, "session: %s", err.msg);
	if (!s)
		goto out;
	CHECK(greedy_text(s, m, toks, n, n_predict, o, &err) == 0, "generate: %s", err.msg);
	CHECK(o->nt == n_predict, "generated %d tokens, wanted %d", o->nt, n_predict);
	CHECK(o->n == ref_out->len && !memcmp(o->buf, ref_out->str, o->n),
	      "threads %d kv %s: output differs:\n  got: %s\n  ref: %s", threads,
	      ek_dtype_name(kv), o->buf, ref_out->str);
	ember_session_free(s);
out:
	free(o);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "../shared/models";
	char model[4096], ref[4096];
	struct ember_model *m1 = NULL, *m2 = NULL;
	struct ember_error err;
	struct json *j;
	const struct json *cases;

	snprintf(model, sizeof(model), "%s/stories260K.gguf", dir);
	snprintf(ref, sizeof(ref), "%s/stories260K-reference.json", dir);
	if (access(model, R_OK) || access(ref, R_OK)) {
		printf("SKIP: %s or its reference is missing\n", model);
		return SKIP_EXIT;
	}
	j = json_parse_file(ref);
	CHECK(j != NULL, "cannot parse %s", ref);
	cases = json_get(j, "cases");
	CHECK(cases && cases->kind == JSON_ARR && cases->n > 0, "no cases in %s", ref);
	CHECK(ember_model_load(model, &m1, &err) == 0, "load: %s", err.msg);
	CHECK(ember_model_load(model, &m2, &err) == 0, "second load: %s", err.msg);
	if (!m1 || !m2 || !cases)
		return CHECK_DONE("reference");
	for (size_t i = 0; i < cases->n; i++) {
		run_case(m1, &cases->items[i], 1, EMBER_TYPE_F16);
		run_case(m2, &cases->items[i], 2, EMBER_TYPE_F16);
		run_case(m1, &cases->items[i], 2, EMBER_TYPE_F32);
	}
	ember_model_free(m1);
	ember_model_free(m2);
	json_free(j);
	return CHECK_DONE("reference");
}
