/* SPDX-License-Identifier: MIT */
/*
 * Ember runtime: load a GGUF language model, tokenize text, run the
 * transformer and sample, on the CPU (and, later, the Ember NPU).
 *
 * Usage:
 *   struct ember_model *m;
 *   struct ember_error err;
 *   if (ember_model_load("model.gguf", &m, &err) < 0) { puts(err.msg); ... }
 *   struct ember_session_opts so; ember_session_opts_default(&so);
 *   so.n_ctx = 512;
 *   struct ember_session *s; ember_session_create(m, &so, &s, &err);
 *   int32_t toks[256];
 *   int n = ember_tokenize(m, "Once upon a time", -1, true, true, toks, 256, &err);
 *   struct ember_generate_opts go; ember_generate_opts_default(&go);
 *   ember_generate(s, toks, n, &go, on_token, user, &stats, &err);
 *   ember_session_free(s); ember_model_free(m);
 *
 * Every function that can fail returns a negative errno and, when err is
 * not NULL, fills err->msg with a sentence that names the file, tensor or
 * key at fault and says what to do. There is no global state: any number
 * of models and sessions may live in one process. A model may be shared by
 * several sessions; one session must be used by one thread at a time.
 */
#ifndef EMBER_RUNTIME_H
#define EMBER_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ember_error {
	int code;		/* negative errno, 0 when no error */
	char msg[512];
};

struct ember_model;
struct ember_session;

/* Element types of weights and of the KV cache: GGUF's type numbers (the
 * same as the kernels' EK_* and the device's EMBER_DTYPE_*). */
enum ember_type {
	EMBER_TYPE_F32 = 0,
	EMBER_TYPE_F16 = 1,
	EMBER_TYPE_Q4_0 = 2,
	EMBER_TYPE_Q4_1 = 3,
	EMBER_TYPE_Q5_0 = 6,
	EMBER_TYPE_Q5_1 = 7,
	EMBER_TYPE_Q8_0 = 8,
	EMBER_TYPE_Q4_K = 12,
	EMBER_TYPE_Q5_K = 13,
	EMBER_TYPE_Q6_K = 14,
	EMBER_TYPE_BF16 = 30,
};
/* "f32", "f16", "q4_0", "q4_K", ..., "bf16" (ggml's spelling); "unknown" for any
 * other number. */
const char *ember_type_name(int type);

/* ---- models ------------------------------------------------------------ */

/* Memory-maps and validates a GGUF v2/v3 file; architectures llama and qwen2,
 * weights F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K
 * (in any mix, as llama-quantize writes them). A file with another GGML
 * type fails with a message that names it. */
int ember_model_load(const char *path, struct ember_model **out,
		     struct ember_error *err);
void ember_model_free(struct ember_model *model);

struct ember_model_info {
	const char *arch;	/* "llama", "qwen2" */
	const char *name;	/* general.name or "" */
	const char *path;
	uint32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim;
	uint32_t n_ff, rope_dim, n_ctx_train;
	float rms_eps, rope_base;
	bool rope_neox, tied_embeddings;
	int weight_dtype;	/* enum ember_type of most matmul weights */
	uint64_t n_params;	/* elements of all tensors */
	uint64_t file_bytes;
	uint64_t matmul_bytes;	/* bytes read per token by the weight matmuls */
	bool generated;		/* weights are generated (ember-mkmodel) */
	int32_t bos, eos;	/* -1 when absent */
};
void ember_model_get_info(const struct ember_model *model,
			  struct ember_model_info *info);

/* ---- tokens ------------------------------------------------------------ */

/* Tokenizes len bytes of text (len < 0: NUL-terminated). add_bos: start
 * with BOS if the model asks for it (tokenizer.ggml.add_bos_token).
 * parse_special: text such as "<s>" becomes the special token. Writes at
 * most max tokens and returns how many the text needs (call again with a
 * larger buffer if that is > max), or a negative errno. */
int ember_tokenize(const struct ember_model *model, const char *text,
		   long len, bool add_bos, bool parse_special, int32_t *out,
		   int max, struct ember_error *err);

/* The bytes of one token (special: render control tokens such as "<s>";
 * otherwise they are empty). Writes at most size bytes, returns the full
 * length or -EINVAL for a bad id. The bytes may be part of a UTF-8
 * sequence (byte tokens); see ember_generate for streaming-safe text. */
int ember_token_to_piece(const struct ember_model *model, int32_t token,
			 bool special, char *buf, size_t size);
bool ember_token_is_eog(const struct ember_model *model, int32_t token);
uint32_t ember_n_vocab(const struct ember_model *model);

/* ---- sessions (KV cache + work buffers) --------------------------------- */

enum ember_device {
	EMBER_DEVICE_AUTO = 0,	/* NPU where it helps, CPU otherwise */
	EMBER_DEVICE_CPU,
	EMBER_DEVICE_NPU,
};

struct ember_session_opts {
	uint32_t n_ctx;		/* KV cache length; 0: min(2048, training ctx) */
	uint32_t n_batch;	/* max tokens per forward pass; 0: 128 */
	int n_threads;		/* 0: online CPUs */
	int kv_dtype;		/* EMBER_TYPE_F16 (default), EMBER_TYPE_F32, or
				 * EMBER_TYPE_Q8_0 (half of f16's bytes) when
				 * the head size is a multiple of 32 */
	enum ember_device device;	/* NPU: fail when there is none */
};
void ember_session_opts_default(struct ember_session_opts *opts);
int ember_session_create(struct ember_model *model,
			 const struct ember_session_opts *opts,
			 struct ember_session **out, struct ember_error *err);
void ember_session_free(struct ember_session *s);
/* Where the session runs: EMBER_DEVICE_NPU when an NPU takes some of its
 * steps (opts.device NPU, or AUTO and an Ember device was found), else
 * EMBER_DEVICE_CPU. */
enum ember_device ember_session_device(const struct ember_session *s);
/* The NPU's node and firmware, or for AUTO on the CPU why no NPU was used
 * ("no NPU: ..."); "" for a CPU session. */
const char *ember_session_device_note(const struct ember_session *s);
/* Which backend runs which steps, e.g. "npu: 5/5 layers + embed + output;
 * cpu: sampling". Writes at most size bytes (NUL-terminated), returns the
 * full length. */
int ember_session_placement(const struct ember_session *s, char *buf, size_t size);
/* How often the session recovered from a failed device job, and in *log
 * (when not NULL) a line on each ("pass at position 36 (1 token): NPU
 * job 37 (1 in the pass) timed out (TIMEOUT); the driver reset the device;
 * pass re-run on the NPU"); "" when none. A device that fails for good
 * moves every step to the CPU, which the placement then shows. */
int ember_session_recoveries(const struct ember_session *s, const char **log);
/* Forgets the KV cache (next eval starts at position 0). */
void ember_session_reset(struct ember_session *s);
uint32_t ember_session_n_past(const struct ember_session *s);
uint32_t ember_session_n_ctx(const struct ember_session *s);
/* The CPU threads the session computes on (the calling thread among them). */
int ember_session_n_threads(const struct ember_session *s);
/* Runs fn(arg, i, n) for i = 0..n-1, each task on a thread of its own from
 * the session's CPU threads, and returns when all are done: for work an
 * app wants on the cores the model runs on, between evaluations
 * (ember-run --bench reads the memory bandwidth this way, so no second set
 * of threads competes with the session's). Not from inside fn or an eval.
 * Returns 0, or -EINVAL when n is not 1..ember_session_n_threads(). */
int ember_session_run_job(struct ember_session *s,
			  void (*fn)(void *arg, int i, int n), void *arg, int n);

/* Appends n tokens to the context and computes the logits of the last one
 * (*logits: n_vocab floats, valid until the next call). */
int ember_eval(struct ember_session *s, const int32_t *tokens, int n,
	       const float **logits, struct ember_error *err);

/* ---- sampling and generation --------------------------------------------- */

struct ember_sampler_params {
	float temperature;	/* <= 0: greedy (argmax) */
	int top_k;		/* <= 0: off */
	float top_p;		/* >= 1: off */
	float min_p;		/* <= 0: off */
	float repeat_penalty;	/* 1: off */
	int repeat_last_n;	/* tokens the penalty looks back over */
	uint64_t seed;		/* same seed + inputs = same output */
};
void ember_sampler_params_default(struct ember_sampler_params *p); /* greedy */

struct ember_sampler;
int ember_sampler_create(const struct ember_sampler_params *p, uint32_t n_vocab,
			 struct ember_sampler **out, struct ember_error *err);
void ember_sampler_free(struct ember_sampler *smp);
/* Remembers a token for the repetition penalty. */
void ember_sampler_accept(struct ember_sampler *smp, int32_t token);
/* Picks a token from logits (not modified). */
int32_t ember_sampler_sample(struct ember_sampler *smp, const float *logits);

/* Called for every generated token with the text it completes: always
 * whole UTF-8 characters (bytes of an unfinished character are held back
 * until the character is complete); len may be 0. Return non-zero to stop. */
typedef int (*ember_token_fn)(void *user, int32_t token, const char *text,
			      size_t len);

/* Called before every sampled token with the logits it is sampled from:
 * the model's raw ones, n_vocab floats valid during the call; pos counts
 * the generated tokens from 0. */
typedef void (*ember_logits_fn)(void *user, int pos, const float *logits,
				uint32_t n_vocab);

struct ember_generate_opts {
	int n_predict;		/* tokens to generate */
	bool stop_at_eog;	/* stop after an end-of-generation token */
	bool render_special;	/* pass control tokens' text (e.g. "</s>") */
	struct ember_sampler_params sampler;
	ember_logits_fn on_logits;	/* NULL: not called; its user is
					 * ember_generate's */
};
void ember_generate_opts_default(struct ember_generate_opts *o);

struct ember_stats {
	int n_prompt, n_generated;
	int n_decode_evals;		/* single-token forward passes */
	double prefill_s, decode_s;	/* wall time */
	double prefill_cpu_s, decode_cpu_s;	/* this process's CPU time (all
						 * its threads): what an NPU
						 * saves the CPU */
	uint64_t peak_rss_bytes;	/* process peak resident set */
	bool have_device_counters;	/* a session on the NPU: the next
					 * field is valid */
	uint64_t decode_device_copied;	/* bytes the NPU copied through
					 * bounce buffers during decode
					 * (instead of reading guest memory
					 * in place) */
};

/* Evaluates the prompt after whatever the session already holds, then
 * samples up to n_predict tokens, calling fn for each. */
int ember_generate(struct ember_session *s, const int32_t *prompt,
		   int n_prompt, const struct ember_generate_opts *o,
		   ember_token_fn fn, void *user, struct ember_stats *stats,
		   struct ember_error *err);

/* Peak resident set size of this process in bytes (0 if unknown). */
uint64_t ember_peak_rss(void);

#ifdef __cplusplus
}
#endif
#endif /* EMBER_RUNTIME_H */
