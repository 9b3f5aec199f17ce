/* SPDX-License-Identifier: MIT */
/*
 * ember-bench model: Ember and llama.cpp's llama-bench on the same GGUF
 * file, threads and token counts, interleaved round by round. The pieces:
 * model.c (options, the sweep and the rounds), model_ember.c (one timed
 * run in this process), model_llama.c (one llama-bench run as a child
 * process), model_report.c (md, csv, json, jsonl).
 */
#ifndef EMBER_BENCH_MODEL_H
#define EMBER_BENCH_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define MB_MAX_REPS 100
#define MB_MAX_TESTS 64

/* One test as llama-bench names it: pp<n_prompt> or tg<n_gen>, after
 * n_depth tokens already in the context. Exactly one of n_prompt and
 * n_gen is non-zero. */
struct mb_test {
	int n_prompt, n_gen, n_depth;
};

struct mb_samples {
	double ts[MB_MAX_REPS];		/* tokens per second, one per round */
	int n;
};

/* An engine's identity as its output shows it. */
struct mb_engine {
	char name[16];			/* "ember", "llama.cpp" */
	char build_commit[48];
	char build_info[128];		/* ISA or build variant, backends */
	char cpu_info[128];
};

/* What both engines ran: one model, thread count and test. */
struct mb_row {
	const char *model_path;
	char model_type[96];		/* "llama 135M Q8_0" */
	uint64_t model_size, model_n_params;
	int threads;
	struct mb_test test;
	struct mb_samples ember, llama;	/* llama.n == 0: not measured */
};

struct mb_opts {
	const char *models[16];
	int n_models;
	int threads[16], n_threads;
	int prompts[16], n_prompts;
	int gens[16], n_gens;
	int depths[16], n_depths;
	struct mb_test tests[MB_MAX_TESTS];	/* --tests, or n_tests 0 */
	int n_tests;
	int reps;
	const char *output;		/* md, csv, json, jsonl */
	const char *output_err;		/* the same on stderr, or NULL */
	const char *llama_bench;	/* NULL: Ember alone */
	int kv_dtype;			/* EMBER_TYPE_F16/F32/Q8_0 */
	bool progress;
};

/* ---- Ember (model_ember.c) ---- */
struct mb_ember;
/* Loads the model and a session for the largest of the tests on threads
 * threads. Prints the reason and returns NULL on failure. */
struct mb_ember *mb_ember_open(const char *path, int threads, int kv_dtype,
			       const struct mb_test *tests, int n_tests);
void mb_ember_close(struct mb_ember *e);
void mb_ember_describe(const struct mb_ember *e, struct mb_row *row);
/* Tokens per second of one run of t, or < 0 (the reason printed). */
double mb_ember_run(struct mb_ember *e, const struct mb_test *t);
void mb_ember_engine(struct mb_engine *eng);

/* ---- llama.cpp (model_llama.c) ---- */
/* One llama-bench run of t (-r 1, its warm-up included but untimed).
 * Returns tokens per second, or < 0 with the reason printed; fills eng
 * and, when given, the model type llama.cpp reports. */
double mb_llama_run(const char *llama_bench, const char *model, int threads,
		    int kv_dtype, const struct mb_test *t,
		    struct mb_engine *eng, char *model_type, size_t type_size);

/* ---- report (model_report.c) ---- */
/* "pp128", "tg64 @ d512" */
void mb_test_name(const struct mb_test *t, char *buf, size_t size);
void mb_mean_sd(const double *v, int n, double *mean, double *sd);
/* Mean and stddev of the per-round ratios ember / llama.cpp. */
void mb_ratio(const struct mb_row *r, double *mean, double *sd);
/* Prints the rows in format fmt to f. */
int mb_report(FILE *f, const char *fmt, const struct mb_opts *o,
	      const struct mb_row *rows, int n_rows,
	      const struct mb_engine *ember, const struct mb_engine *llama);

int bench_model_main(int argc, char **argv);

#endif /* EMBER_BENCH_MODEL_H */
