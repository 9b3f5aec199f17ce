/* SPDX-License-Identifier: MIT */
/*
 * Which type each weight of a model gets: one type for all of them
 * ("q8_0", "q4_k": llama-quantize --pure), or one of llama-quantize's K
 * mixes ("q4_k_m", "q5_k_m": more bits for the LM head and for attn_v and
 * ffn_down in some layers). Norms and biases (1-D) are not weights here.
 */
#ifndef EMBER_MKMODEL_MIX_H
#define EMBER_MKMODEL_MIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mix_kind {
	MIX_PURE = 0,	/* dtype everywhere (K types fall back, below) */
	MIX_K_M = 1,	/* dtype Q4_K / Q5_K: llama-quantize's Q4_K_M / Q5_K_M */
};

struct mix {
	int dtype;	/* EK_*: what most weights get */
	int kind;	/* enum mix_kind */
};

/* "q8_0", "Q4_K_M", ... (any case); false for a name it does not know or
 * a type the kernels cannot compute. */
bool mix_parse(const char *s, struct mix *m);
/* "q8_0", "q4_K", "q4_K_M" (the kernels' spelling). */
const char *mix_name(const struct mix *m, char *buf, size_t size);
/* What mix_parse takes, space-separated. */
const char *mix_list(char *buf, size_t size);

/*
 * The type of the 2-D weight `name` (GGUF name, "blk.3.attn_v.weight")
 * with rows of ne0 values, in a model of n_layer layers; tied: the model
 * has no output.weight (token_embd is also the LM head). -1 when its rows
 * fit no type the mix allows: for a K type, not even the fallback.
 */
int mix_type(const struct mix *m, const char *name, uint64_t ne0, uint32_t n_layer,
	     bool tied);
/* The type a K type falls back to for rows that are not whole super-blocks
 * (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0); -1 for other types. */
int mix_fallback(int dtype);

#endif
