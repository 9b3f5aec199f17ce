/* SPDX-License-Identifier: MIT */
/*
 * The forward pass as a sequence of layer-sized steps, and the interface of
 * the backends that run them. For a batch of n_tok tokens at positions
 * n_past.. the steps are:
 *   EMBED            x = token_embd[tokens]
 *   ATTN  (layer l)  x += attn_output(attention(rope(q, k), cache)), K/V to cache
 *   FFN   (layer l)  x += ffn_down(silu(gate(norm(x))) * up(norm(x)))
 *   OUTPUT           logits = output(norm(x[last]))
 * Each step reads and writes only struct fwd_state, so the placement (which
 * backend runs which step) can change per step: a backend is asked
 * supports(step) in priority order and the first that says yes runs it.
 */
#ifndef EMBER_RT_BACKEND_H
#define EMBER_RT_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

enum step_kind { STEP_EMBED, STEP_ATTN, STEP_FFN, STEP_OUTPUT };

struct step {
	enum step_kind kind;
	uint32_t layer;		/* ATTN, FFN */
	uint32_t n_tok;		/* tokens in the batch */
	uint32_t n_past;	/* position of the first one */
	const int32_t *tokens;	/* EMBED */
};

/* The state the steps share (host memory, sized at session creation). */
struct fwd_state {
	const struct ember_model *m;
	uint32_t n_ctx, n_batch;
	int kv_dtype;
	size_t kv_row;		/* bytes of one position of one layer's K (or V) */
	int k_layout;		/* enum ek_kv_layout of the K caches */
	void **k_cache, **v_cache;	/* [layer] -> [n_ctx][n_head_kv][head_dim] */
	float *x;		/* residual stream [n_batch][n_embd] */
	float *xb;		/* normed input [n_batch][n_embd] */
	float *q, *k, *v;	/* [n_batch][n_embd], [n_batch][kv_dim] x 2 */
	float *att;		/* attention output [n_batch][n_embd] */
	float *hb, *hb2;	/* FFN hidden [n_batch][n_ff] x 2 */
	float *logits;		/* [n_vocab] */
};

/* The attention of layer `layer` for n_tok tokens from n_past over its
 * cache (q, att and the caches of st): one definition for every path that
 * runs it, since decode must give the same bits on any of them. */
struct ek_attention fwd_attention(const struct fwd_state *st, uint32_t layer,
				  uint32_t n_past, uint32_t n_tok);

/*
 * A backend runs a step at once or queues it: run() of a queueing backend
 * (the NPU) only records the step, and sync() runs everything queued and
 * returns when it is done. The session syncs a backend before another one
 * takes the next step and at the end of each pass, so a pass that stays on
 * one device is one submission and one wait.
 */
struct backend_ops {
	const char *name;
	bool (*supports)(void *priv, const struct step *st);
	int (*run)(void *priv, const struct step *st);
	int (*sync)(void *priv);		/* NULL: run() is synchronous */
	const char *(*errmsg)(void *priv);	/* NULL, or why the last call failed */
	void (*destroy)(void *priv);
};

struct backend {
	const struct backend_ops *ops;
	void *priv;
};

/* The CPU backend: runs every step with the ek_* kernels on n_threads. */
int cpu_backend_create(struct fwd_state *st, int n_threads, struct backend *out,
		       struct ember_error *err);
/* Its threads, and a job of n <= that many tasks on them (a thread each). */
int cpu_backend_threads(const struct backend *b);
void cpu_backend_run_job(const struct backend *b, ek_task_fn fn, void *arg, int n);

/* For tests: the session's state and running a single step on it. */
struct fwd_state *session_state(struct ember_session *s);
int session_run_step(struct ember_session *s, const struct step *st);

/* The model a session runs. */
const struct ember_model *session_model(const struct ember_session *s);

#endif
