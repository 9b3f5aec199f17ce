/* SPDX-License-Identifier: MIT */
/*
 * The NPU backend: the forward pass's steps as Ember command streams.
 *
 *   npu.h            this interface
 *   transport.h/.c   the device through libember (buffers, SUBMIT, WAIT)
 *   backend_npu.c    weights and state in device buffers, step placement,
 *                    queueing steps as jobs and running them in one batch
 *   program.c        the ops of each step (pure: writes command streams)
 *
 * The backend reaches the device only through struct npu_transport, so the
 * same code runs against ember.ko in a guest and against the firmware on
 * a fake device in host tests (tests/runtime/test_npu.c).
 */
#ifndef EMBER_RT_NPU_H
#define EMBER_RT_NPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../backend.h"
#include "transport.h"

/* The NPU backend on @tp (taken over: destroyed with the backend). It puts
 * the model's weights in device buffers, allocates st's activations and KV
 * caches there (st's pointers become their CPU mappings, so any backend can
 * run any step on the same state) and sets st->k_layout to what the device
 * reads. st's sizes (n_ctx, n_batch, kv_dtype, kv_row) must be set. */
int npu_backend_create(struct fwd_state *st, struct npu_transport *tp,
		       struct backend *out, struct ember_error *err);

/* After a failed pass (run or sync returned an error): writes one line on
 * what happened to @note and, if @retry, makes the device usable again
 * where it can. 0: the pass may run on the NPU again (the driver reset the
 * device, or the context it killed was replaced by a new one, weights
 * uploaded again and the state carried over). -ENODEV: the NPU is gone, or
 * refuses the pass, or !retry; the state is still in place for the CPU. */
int npu_backend_recover(struct backend *b, bool retry, char *note, size_t size);

/* Device counters and the transport's name, for reports. */
const struct npu_caps *npu_backend_caps(const struct backend *b);
int npu_backend_counters(const struct backend *b, uint64_t *rd, uint64_t *wr,
			 uint64_t *copied);

/* A session whose NPU is @tp (a test's fake device), whatever opts->device
 * says; and the device counters of a session's NPU (-ENODEV: none). */
int session_create_with_npu(struct ember_model *m, const struct ember_session_opts *o,
			    const struct npu_transport *tp, struct ember_session **out,
			    struct ember_error *err);
int session_device_counters(const struct ember_session *s, uint64_t *rd, uint64_t *wr,
			    uint64_t *copied);

/* ---- program.c: the ops of each step ---------------------------------- */

/* Where everything is on the device. */
struct npu_layer_va {
	uint64_t attn_norm, ffn_norm, bq, bk, bv;	/* bias 0: none */
	uint64_t wq, wk, wv, wo, gate, up, down;
	uint64_t k_cache, v_cache;
};

struct npu_weight_desc {
	int dtype;
	uint64_t stride;	/* bytes per row; 0 in the X16 layout */
	bool x16;		/* EMBER_MATMUL_W_X16 */
};

struct npu_layer_desc {
	struct npu_weight_desc wq, wk, wv, wo, gate, up, down;
};

struct npu_map {
	const struct ember_model_info *in;
	const struct npu_layer_desc *ld;	/* [n_layer] */
	const struct npu_layer_va *lv;		/* [n_layer] */
	struct npu_weight_desc embd, output;
	uint64_t embd_va, output_va, output_norm_va;
	/* activations, as in struct fwd_state, plus SWIGLU's output */
	uint64_t x, xb, q, k, v, att, hb, hb2, hb3, logits;
	uint32_t n_ctx;
	int kv_dtype;
	uint64_t kv_row;
};

/* Appends the ops of step @s to @buf (capacity @cap bytes at *@used).
 * Returns 0, or -ENOSPC when they do not fit. */
int npu_program_step(const struct npu_map *mp, const struct step *s,
		     uint8_t *buf, uint32_t cap, uint32_t *used);
/* Upper bound of the bytes npu_program_step writes for a step. */
uint32_t npu_program_step_size(const struct step *s);

/* The opcodes and dtypes a step needs (for placement). */
void npu_program_needs(const struct npu_map *mp, const struct step *s,
		       uint64_t *ops, uint64_t *dtypes);

#endif
