/* SPDX-License-Identifier: MIT */
/* ember-run --top-logits K: the K highest raw logits of every generated
 * position, printed to stderr so that margins between candidate tokens can
 * be compared with another engine's (tests/interop/divergence.sh). */
#ifndef EMBER_RUN_TOP_LOGITS_H
#define EMBER_RUN_TOP_LOGITS_H

#include <stdint.h>
#include <stdio.h>

/* The most K can be. */
#define TOP_LOGITS_MAX 64

struct top_logits {
	FILE *out;
	int k;
};

/*
 * Writes t->k (1..TOP_LOGITS_MAX) of the logits to t->out, one line per
 * position, the ids in order of falling logit (ties: lower id first):
 *   top-logits: POS ID LOGIT ID LOGIT ...
 * POS counts generated tokens from 0; LOGIT is printed with 9 significant
 * digits, which gives back the exact f32.
 */
void top_logits_print(const struct top_logits *t, int pos, const float *logits,
		      uint32_t n_vocab);

#endif
