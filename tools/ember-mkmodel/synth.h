/* SPDX-License-Identifier: MIT */
/* Writing GGUF models with real shapes and GENERATED weights (benchmarks,
 * tests), and re-quantizing F32/F16 GGUF files to Q8_0/Q4_0. */
#ifndef EMBER_MKMODEL_SYNTH_H
#define EMBER_MKMODEL_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

#include <ember/runtime.h>

struct synth_spec {
	const char *arch;	/* "llama" or "qwen2" */
	const char *name;	/* shape name, e.g. "SmolLM2-135M" */
	uint32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
	uint32_t rope_dim;	/* 0: head dim */
	float rope_base, rms_eps;
	bool tied;		/* no output.weight: the LM head is token_embd */
	int dtype;		/* EK_* of the matmul weights */
	int embd_dtype;		/* EK_* of token_embd / output */
	uint64_t seed;
};

/* Shapes of real models: "smollm2-135m", "tinyllama-1.1b", "qwen2.5-0.5b",
 * "stories260k"; false if unknown. Leaves dtype/seed alone. */
bool synth_preset(const char *name, struct synth_spec *s);
void synth_list_presets(void);

int synth_write(const struct synth_spec *s, const char *path, struct ember_error *err);

/* What synth_quantize did: tensors converted, and 2-D float ones kept as
 * they were because their rows do not fill whole blocks of dtype (the
 * first such one named). 1-D tensors (norms, biases) are always kept. */
struct synth_quant_report {
	uint32_t converted, kept_rows;
	char first_kept[96];
};

/* Copies in_path to out_path with every 2-D float weight in dtype (Q8_0/
 * Q4_0/F16/F32) where its rows allow; other tensors are copied unchanged.
 * rep may be NULL. */
int synth_quantize(const char *in_path, const char *out_path, int dtype,
		   struct synth_quant_report *rep, struct ember_error *err);

#endif
