/* SPDX-License-Identifier: MIT */
/* Writing GGUF models with real shapes and GENERATED weights (benchmarks,
 * tests), and re-quantizing GGUF files to any type or mix ember computes. */
#ifndef EMBER_MKMODEL_SYNTH_H
#define EMBER_MKMODEL_SYNTH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <ember/runtime.h>

struct synth_spec {
	const char *arch;	/* "llama" or "qwen2" */
	const char *name;	/* shape name, e.g. "SmolLM2-135M" */
	uint32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
	uint32_t rope_dim;	/* 0: head dim */
	float rope_base, rms_eps;
	bool tied;		/* no output.weight: the LM head is token_embd */
	int dtype;		/* EK_* of the matmul weights */
	int embd_dtype;		/* EK_* of token_embd / output; -1: as dtype
				 * (or synth_write_mix's mix) gives them */
	uint64_t seed;
};

/* Shapes of real models: "smollm2-135m", "tinyllama-1.1b", "qwen2.5-0.5b",
 * "qwen1.5-0.5b" (qwen2 with its own output.weight), "stories260k", and "tiny-256" (for tests: widths that are multiples of
 * 256, 8 layers); false if unknown. Leaves dtype/embd_dtype/seed alone. */
bool synth_preset(const char *name, struct synth_spec *s);
void synth_list_presets(void);

struct mix;

int synth_write(const struct synth_spec *s, const char *path, struct ember_error *err);
/* The same with each weight in the type the mix gives it (mix->dtype
 * overrides s->dtype). */
int synth_write_mix(const struct synth_spec *s, const struct mix *mix, const char *path,
		    struct ember_error *err);

/* What synth_quantize did: weights written in the mix's types (those
 * already in theirs are copied), how many of each type, and weights kept
 * as they were because their rows fit no type of the mix (the first such
 * one named). 1-D tensors (norms, biases) are always kept. */
struct synth_quant_report {
	uint32_t converted, kept_rows;
	uint32_t by_type[64];	/* weights written per EK_* type */
	char first_kept[96];
};

/* Copies in_path to out_path with every 2-D weight in the type the mix
 * gives it (dequantized to f32 and quantized again, from any type the
 * kernels read); other tensors are copied unchanged. When log is not NULL,
 * prints a line per weight to it: its types and the relative RMS error of
 * the written values against the input's. rep may be NULL. */
int synth_requantize(const char *in_path, const char *out_path, const struct mix *mix,
		     FILE *log, struct synth_quant_report *rep, struct ember_error *err);
/* The same with dtype for every weight (no log). */
int synth_quantize(const char *in_path, const char *out_path, int dtype,
		   struct synth_quant_report *rep, struct ember_error *err);

#endif
