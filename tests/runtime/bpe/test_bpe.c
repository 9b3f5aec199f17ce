/* SPDX-License-Identifier: MIT */
/*
 * GPT-2 BPE tokenizer against real vocabularies: a reference written by
 * bpe_ref.mjs from an npm tokenizer package (vocabulary, merges, added
 * tokens, and the ids its JS tokenizer gives for a varied corpus) becomes a
 * GGUF tokenizer; ember must produce the same ids and decode them back to
 * the text.  usage: test-rt-bpe REF.json...
 */
#include <stdlib.h>
#include <string.h>

#include <ember/kernels.h>

#include "../check.h"
#include "../json.h"
#include "gguf_write.h"
#include "vocab.h"

int check_failures, check_count;

static void run(const char *path)
{
	struct json *j = json_parse_file(path);
	const struct json *toks, *types, *merges, *cases, *pre;
	struct gguf_writer *w;
	const char **ts = NULL, **ms = NULL;
	int32_t *ty = NULL;
	char *buf = NULL;
	size_t size = 0;
	FILE *f;
	struct gguf_file gf;
	struct ember_error err;
	struct vocab v;
	int ok_cases = 0;

	CHECK(j != NULL, "cannot read %s", path);
	if (!j)
		return;
	toks = json_get(j, "tokens");
	types = json_get(j, "types");
	merges = json_get(j, "merges");
	cases = json_get(j, "cases");
	pre = json_get(j, "pre");
	ts = malloc(toks->n * sizeof(*ts));
	ty = malloc(toks->n * sizeof(*ty));
	ms = malloc(merges->n * sizeof(*ms));
	for (size_t i = 0; i < toks->n; i++) {
		ts[i] = toks->items[i].str;
		ty[i] = (int32_t)types->items[i].num;
	}
	for (size_t i = 0; i < merges->n; i++)
		ms[i] = merges->items[i].str;
	w = gw_new();
	gw_str(w, "tokenizer.ggml.model", "gpt2");
	gw_str(w, "tokenizer.ggml.pre", pre->str);
	gw_arr_str(w, "tokenizer.ggml.tokens", ts, toks->n);
	gw_arr_i32(w, "tokenizer.ggml.token_type", ty, toks->n);
	gw_arr_str(w, "tokenizer.ggml.merges", ms, merges->n);
	gw_bool(w, "tokenizer.ggml.add_bos_token", false);
	f = open_memstream(&buf, &size);
	CHECK(gw_write(w, f) == 0, "write gguf");
	fclose(f);
	gw_free(w);
	CHECK(gguf_parse(&gf, buf, size, path, &err) == 0, "%s", err.msg);
	CHECK(vocab_load(&v, &gf, &err) == 0, "%s", err.msg);
	for (size_t c = 0; c < cases->n; c++) {
		const struct json *cs = &cases->items[c];
		const struct json *text = json_get(cs, "text"), *ids = json_get(cs, "ids");
		struct tokvec tv = { 0 };
		bool same;
		char *dec = malloc(text->len * 4 + 64);
		size_t dn = 0;

		CHECK(vocab_tokenize(&v, text->str, text->len, false, true, &tv) == 0, "tokenize");
		same = tv.n == ids->n;
		for (size_t i = 0; same && i < tv.n; i++)
			same = tv.v[i] == (int32_t)ids->items[i].num;
		CHECK(same, "%s (pre %s): '%s': %u ids, reference %zu", path, pre->str, text->str,
		      tv.n, ids->n);
		if (!same) {
			fprintf(stderr, "  ember:");
			for (uint32_t i = 0; i < tv.n; i++)
				fprintf(stderr, " %d", tv.v[i]);
			fprintf(stderr, "\n  ref:  ");
			for (size_t i = 0; i < ids->n; i++)
				fprintf(stderr, " %d", (int)ids->items[i].num);
			fprintf(stderr, "\n");
		}
		ok_cases += same;
		for (uint32_t i = 0; i < tv.n; i++) {
			int k = vocab_piece(&v, tv.v[i], true, dec + dn, text->len * 4 + 64 - dn);

			dn += k > 0 ? (size_t)k : 0;
		}
		CHECK(dn == text->len && !memcmp(dec, text->str, dn), "round trip of '%s'",
		      text->str);
		free(dec);
		free(tv.v);
	}
	printf("%s: %d of %zu cases match\n", path, ok_cases, cases->n);
	{	/* a 200000-letter word: the merge heap keeps this fast */
		size_t n = 200000;
		char *t = malloc(n), *d = malloc(n + 64);
		struct tokvec tv = { 0 };
		size_t dn = 0;

		for (size_t i = 0; i < n; i++)
			t[i] = (char)('a' + (i * 7 % 3));
		CHECK(vocab_tokenize(&v, t, n, false, false, &tv) == 0 && tv.n > 0 && tv.n < n,
		      "long word: %u tokens", tv.n);
		for (uint32_t i = 0; i < tv.n; i++) {
			int k = vocab_piece(&v, tv.v[i], false, d + dn, n + 64 - dn);

			dn += k > 0 ? (size_t)k : 0;
		}
		CHECK(dn == n && !memcmp(d, t, n), "long word round trip");
		free(tv.v);
		free(t);
		free(d);
	}
	{	/* chat end-of-turn tokens end generation */
		int32_t end = vocab_find(&v, !strcmp(pre->str, "qwen2") ? "<|im_end|>" : "<|eot_id|>", 10);
		bool eog = false;

		for (uint32_t i = 0; i < v.n_eog; i++)
			eog |= v.eog[i] == end;
		CHECK(end >= 0 && eog, "%s: end-of-turn token %d is end-of-generation", path, end);
	}
	vocab_free(&v);
	gguf_close(&gf);
	free(buf);
	free(ts);
	free(ty);
	free(ms);
	json_free(j);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		run(argv[i]);
	return CHECK_DONE("bpe");
}
