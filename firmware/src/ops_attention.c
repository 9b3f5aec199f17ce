// SPDX-License-Identifier: MIT
/* ATTENTION: field checks and execution through ek_attention. */
#include <string.h>

#include "ember/kernels.h"
#include "fw_internal.h"

/* APPEND_KV, ROPE and ROPE_NEOX are reserved in this ABI minor. */
#define ATTN_FLAGS	0u

static bool float_is_finite(float f)
{
	uint32_t bits;

	memcpy(&bits, &f, sizeof(bits));
	return (bits & 0x7f800000u) != 0x7f800000u;
}

uint32_t fw_check_attention(const struct ember_op_attention *op,
			    uint32_t caps_dtypes,
			    struct fw_attention_plan *plan)
{
	uint64_t f32_align = ek_dtype_align(EK_F32), kv_align, kv_row, q_row;
	uint32_t rope_base_bits;

	memcpy(&rope_base_bits, &op->rope_freq_base, sizeof(rope_base_bits));
	if (op->hdr.flags & ~ATTN_FLAGS || op->pad0[0] || op->pad0[1] ||
	    op->pad0[2] || op->rope_dim || rope_base_bits || op->k_new_va ||
	    op->v_new_va || op->new_stride)
		return EMBER_JOB_BAD_DESC;

	if (!ek_dtype_known(op->kv_dtype))
		return EMBER_JOB_BAD_DESC;
	if (op->kv_dtype != EMBER_DTYPE_F32 && op->kv_dtype != EMBER_DTYPE_F16)
		return EMBER_JOB_UNSUPPORTED;
	if (!fw_bit_set(caps_dtypes, op->kv_dtype) ||
	    !fw_bit_set(caps_dtypes, EMBER_DTYPE_F32))
		return EMBER_JOB_UNSUPPORTED;

	if (op->n_tok == 0 || op->n_tok > FW_MAX_DIM || op->n_head == 0 ||
	    op->n_head > FW_MAX_HEADS || op->n_kv_head == 0 ||
	    op->n_head % op->n_kv_head || op->head_dim == 0 ||
	    op->head_dim > EK_MAX_HEAD_DIM || op->n_ctx == 0 ||
	    op->n_ctx > FW_MAX_CTX || op->n_past > op->n_ctx ||
	    op->n_tok > op->n_ctx - op->n_past)
		return EMBER_JOB_BAD_DESC;
	if (!float_is_finite(op->scale))
		return EMBER_JOB_BAD_DESC;

	/* All bounded above, so these products fit easily. */
	q_row = (uint64_t)op->n_head * op->head_dim * 4;
	kv_row = ek_row_size(op->kv_dtype,
			     (uint64_t)op->n_kv_head * op->head_dim);
	kv_align = ek_dtype_align(op->kv_dtype);
	if (kv_row == 0 || kv_align == 0)
		return EMBER_JOB_BAD_DESC;
	if (op->q_stride < q_row || op->out_stride < q_row ||
	    op->kv_stride < kv_row)
		return EMBER_JOB_BAD_DESC;
	if (op->q_va % f32_align || op->q_stride % f32_align ||
	    op->out_va % f32_align || op->out_stride % f32_align ||
	    op->k_va % kv_align || op->v_va % kv_align ||
	    op->kv_stride % kv_align)
		return EMBER_JOB_BAD_DESC;

	if (!fw_matrix_range(op->q_va, op->n_tok, op->q_stride, q_row,
			     &plan->q) ||
	    !fw_matrix_range(op->out_va, op->n_tok, op->out_stride, q_row,
			     &plan->out) ||
	    !fw_matrix_range(op->k_va, (uint64_t)op->n_past + op->n_tok,
			     op->kv_stride, kv_row, &plan->k) ||
	    !fw_matrix_range(op->v_va, (uint64_t)op->n_past + op->n_tok,
			     op->kv_stride, kv_row, &plan->v))
		return EMBER_JOB_BAD_DESC;

	if (fw_ranges_overlap(plan->out, plan->q) ||
	    fw_ranges_overlap(plan->out, plan->k) ||
	    fw_ranges_overlap(plan->out, plan->v))
		return EMBER_JOB_BAD_DESC;
	return EMBER_JOB_OK;
}

uint32_t fw_run_attention(const struct ember_hal *hal, uint32_t as,
			  const struct fw_attention_plan *plan,
			  struct ember_job_result *res)
{
	const struct ember_op_attention *op = &plan->op;
	struct fw_mapping map[4];	/* q, k, v, out */
	struct ek_exec ex = fw_exec(hal);
	struct ek_attention p;
	uint32_t st = EMBER_JOB_MMU_FAULT;

	memset(map, 0, sizeof(map));
	if (!fw_map(hal, as, plan->q, EMBER_ACCESS_READ, &map[0], res) ||
	    !fw_map(hal, as, plan->k, EMBER_ACCESS_READ, &map[1], res) ||
	    !fw_map(hal, as, plan->v, EMBER_ACCESS_READ, &map[2], res) ||
	    !fw_map(hal, as, plan->out, EMBER_ACCESS_WRITE, &map[3], res))
		goto out;

	memset(&p, 0, sizeof(p));
	p.n_tok = op->n_tok;
	p.n_past = op->n_past;
	p.n_head = op->n_head;
	p.n_kv_head = op->n_kv_head;
	p.head_dim = op->head_dim;
	p.scale = op->scale;
	p.q = map[0].ptr;
	p.q_stride = op->q_stride;
	p.k = map[1].ptr;
	p.v = map[2].ptr;
	p.kv_dtype = op->kv_dtype;
	p.kv_stride = op->kv_stride;
	p.out = map[3].ptr;
	p.out_stride = op->out_stride;
	ek_attention(&ex, &p);
	st = EMBER_JOB_OK;
out:
	fw_unmap_all(hal, map, 4, res);
	return st;
}
