/* SPDX-License-Identifier: MIT */
/* A loaded model: hyperparameters, weights (pointers into the mapped GGUF)
 * and the vocabulary. Read-only after loading, so sessions can share it. */
#ifndef EMBER_RT_MODEL_H
#define EMBER_RT_MODEL_H

#include <ember/kernels.h>
#include <ember/runtime.h>

#include "gguf.h"
#include "vocab.h"

/* A matrix of n_out rows of n_in elements (ggml: ne = {n_in, n_out}). */
struct weight {
	const void *data;
	const void *rows;	/* the file's rows (GGUF mapping), whatever data's layout */
	int dtype;
	int layout;		/* enum ek_layout: X16 data is the model's copy */
	uint32_t n_in, n_out;
	size_t stride;		/* bytes per row (as GGUF rows) */
	const char *name;
};

struct layer {
	const float *attn_norm, *ffn_norm;
	const float *bq, *bk, *bv;	/* qwen2 biases, else NULL */
	struct weight wq, wk, wv, wo, gate, up, down;
};

struct ember_model {
	struct gguf_file gguf;
	char *path;
	char arch[32], name[128];
	struct ember_model_info info;
	struct weight tok_embd, output;
	const float *output_norm;
	struct layer *layers;
	struct vocab vocab;
	void **owned;		/* f32 copies of small vectors */
	void *arena;		/* repacked weights (mmap), or NULL */
	size_t arena_size;
	uint32_t n_owned;
};

/* Row r of w as f32, whatever its layout. */
void weight_row(const struct weight *w, uint64_t r, float *dst);
/* Matmul weights into the layout this CPU multiplies fastest (repack.c);
 * without memory for the copy they stay as they are. */
void model_repack(struct ember_model *m);

#endif
