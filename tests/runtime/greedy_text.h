/* SPDX-License-Identifier: MIT */
/* A generation's tokens and its text as llama.cpp's llama-simple prints
 * it (the prompt's pieces, BOS as "<s>", then the generated pieces and a
 * newline): what stories260K-reference.json holds. */
#ifndef EMBER_TEST_GREEDY_TEXT_H
#define EMBER_TEST_GREEDY_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include <ember/runtime.h>

struct greedy_text {
	const struct ember_model *m;
	char buf[8192];
	size_t n;
	int32_t toks[1024];
	int nt;
};

/* Greedy generation of n_predict tokens after @prompt's n tokens (not
 * stopping at EOS, as llama-simple does not), into @o. Returns
 * ember_generate's result. */
int greedy_text(struct ember_session *s, const struct ember_model *m, const int32_t *prompt,
		int n, int n_predict, struct greedy_text *o, struct ember_error *err);

#endif
