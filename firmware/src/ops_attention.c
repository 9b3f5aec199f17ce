// SPDX-License-Identifier: MIT
/* ATTENTION: field checks and execution through ek_attention, with the
 * optional KV-cache append and rotary embedding of ABI 1.1 and the Q8_0
 * caches of ABI 1.2 (rows of whole blocks per head, as the CPU runtime's
 * EK_KV_ROWS caches: the same kernels write and read them). */
#include <string.h>

#include "ember/kernels.h"
#include "fw_internal.h"

#define ATTN_FLAGS	(EMBER_ATTN_APPEND_KV | EMBER_ATTN_ROPE | \
			 EMBER_ATTN_ROPE_NEOX)

/*
 * Work memory for the rotated Q (the caller's Q is only read): whole
 * tokens at a time when one fits, else one head at a time.
 */
#define ATTN_QBUF_FLOATS	(64u << 10)

/* The optional fields of the flags that are off must be zero. */
static bool attn_flags_ok(const struct ember_op_attention *op)
{
	uint32_t f = op->hdr.flags, base_bits;

	memcpy(&base_bits, &op->rope_freq_base, sizeof(base_bits));
	if (f & ~ATTN_FLAGS || op->pad0[0] || op->pad0[1] || op->pad0[2])
		return false;
	if ((f & EMBER_ATTN_ROPE_NEOX) && !(f & EMBER_ATTN_ROPE))
		return false;
	if (!(f & EMBER_ATTN_ROPE) && (op->rope_dim || base_bits))
		return false;
	if (!(f & EMBER_ATTN_APPEND_KV) &&
	    (op->k_new_va || op->v_new_va || op->new_stride))
		return false;
	return true;
}

uint32_t fw_check_attention(const struct ember_op_attention *op,
			    uint32_t caps_dtypes,
			    struct fw_attention_plan *plan)
{
	uint64_t f32_align = ek_dtype_align(EK_F32), kv_align, kv_row, q_row;
	bool append = op->hdr.flags & EMBER_ATTN_APPEND_KV;

	if (!attn_flags_ok(op))
		return EMBER_JOB_BAD_DESC;

	if (!ek_dtype_known(op->kv_dtype))
		return EMBER_JOB_BAD_DESC;
	if (op->kv_dtype != EMBER_DTYPE_F32 && op->kv_dtype != EMBER_DTYPE_F16 &&
	    op->kv_dtype != EMBER_DTYPE_Q8_0)
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
	/* Q8_0 (ABI 1.2): each head's row is whole blocks, so that a block
	 * never spans two heads (and ek_attention takes the cache). */
	if (op->kv_dtype == EMBER_DTYPE_Q8_0 && op->head_dim % EK_QK)
		return EMBER_JOB_BAD_DESC;
	if (!fw_float_is_finite(op->scale))
		return EMBER_JOB_BAD_DESC;
	if ((op->hdr.flags & EMBER_ATTN_ROPE) &&
	    !fw_rope_params_ok(op->head_dim, op->rope_dim,
			       op->rope_freq_base))
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

	plan->k_new.va = plan->k_new.len = 0;
	plan->v_new.va = plan->v_new.len = 0;
	if (append &&
	    (!fw_f32_rows(op->k_new_va, op->n_tok, op->new_stride,
			  (uint64_t)op->n_kv_head * op->head_dim,
			  &plan->k_new) ||
	     !fw_f32_rows(op->v_new_va, op->n_tok, op->new_stride,
			  (uint64_t)op->n_kv_head * op->head_dim,
			  &plan->v_new)))
		return EMBER_JOB_BAD_DESC;

	if (fw_ranges_overlap(plan->out, plan->q) ||
	    fw_ranges_overlap(plan->out, plan->k) ||
	    fw_ranges_overlap(plan->out, plan->v) ||
	    fw_ranges_overlap(plan->out, plan->k_new) ||
	    fw_ranges_overlap(plan->out, plan->v_new))
		return EMBER_JOB_BAD_DESC;
	/* With APPEND_KV the caches are written too. */
	if (append &&
	    (fw_ranges_overlap(plan->k, plan->v) ||
	     fw_ranges_overlap(plan->k, plan->q) ||
	     fw_ranges_overlap(plan->k, plan->k_new) ||
	     fw_ranges_overlap(plan->k, plan->v_new) ||
	     fw_ranges_overlap(plan->v, plan->q) ||
	     fw_ranges_overlap(plan->v, plan->k_new) ||
	     fw_ranges_overlap(plan->v, plan->v_new)))
		return EMBER_JOB_BAD_DESC;
	return EMBER_JOB_OK;
}

/*
 * Write the new K/V rows into the cache at n_past.., K rotated if asked,
 * through ek_kv_store with EK_KV_ROWS as the CPU runtime stores its
 * caches: the same bytes for any kv_dtype (Q8_0 converts each 32-block on
 * its own and 32 | head_dim, so K stored head by head is K stored whole).
 */
static void append_kv(const struct ember_op_attention *op, uint8_t *k,
		      uint8_t *v, const uint8_t *k_new, const uint8_t *v_new)
{
	bool rope = op->hdr.flags & EMBER_ATTN_ROPE;
	bool neox = op->hdr.flags & EMBER_ATTN_ROPE_NEOX;
	uint32_t hd = op->head_dim, row = op->n_kv_head * hd;
	float buf[EK_MAX_HEAD_DIM] FW_NOINIT;

	for (uint32_t t = 0; t < op->n_tok; t++) {
		uint32_t pos = op->n_past + t;	/* < n_ctx <= FW_MAX_CTX */
		const float *kn = (const float *)(k_new + t * op->new_stride);
		const float *vn = (const float *)(v_new + t * op->new_stride);

		ek_kv_store(op->kv_dtype, EK_KV_ROWS, v, op->kv_stride, pos, 0,
			    vn, row);
		if (!rope) {
			ek_kv_store(op->kv_dtype, EK_KV_ROWS, k, op->kv_stride,
				    pos, 0, kn, row);
			continue;
		}
		for (uint32_t g = 0; g < op->n_kv_head; g++) {
			memcpy(buf, kn + (size_t)g * hd, hd * sizeof(float));
			ek_rope(&ek_exec_serial, 1, 1, hd, op->rope_dim, pos,
				op->rope_freq_base, neox, buf,
				hd * sizeof(float));
			ek_kv_store(op->kv_dtype, EK_KV_ROWS, k, op->kv_stride,
				    pos, g * hd, buf, hd);
		}
	}
}

/* Attention with Q rotated into @qbuf, the caller's Q left as it is. */
static void attend_roped(const struct ek_exec *ex,
			 const struct ek_attention *base,
			 const struct ember_op_attention *op, float *qbuf)
{
	bool neox = op->hdr.flags & EMBER_ATTN_ROPE_NEOX;
	uint32_t hd = op->head_dim, row = op->n_head * hd;
	uint32_t group = op->n_head / op->n_kv_head;
	size_t head_bytes = ek_row_size(op->kv_dtype, hd);

	if (row <= ATTN_QBUF_FLOATS) {
		uint32_t chunk = ATTN_QBUF_FLOATS / row;

		for (uint32_t t0 = 0; t0 < op->n_tok;) {
			uint32_t c = op->n_tok - t0 < chunk ? op->n_tok - t0
							     : chunk;
			uint32_t s = t0;
			struct ek_attention p = *base;

			/*
			 * ek_attention runs a call of one token (a decode)
			 * in position parts that a call of several does not
			 * use. So that every token comes out as from one
			 * call over all n_tok (the CPU runtime's), a lone
			 * last token goes with its predecessor, which is
			 * computed again (the same bytes). Rows of two
			 * tokens must fit qbuf for that.
			 */
			if (c == 1 && t0 > 0 && chunk >= 2)
				s = t0 - 1;
			for (uint32_t t = s; t < t0 + c; t++)
				memcpy(qbuf + (size_t)(t - s) * row,
				       (const uint8_t *)base->q +
					       (size_t)t * op->q_stride,
				       row * sizeof(float));
			ek_rope(ex, t0 + c - s, op->n_head, hd, op->rope_dim,
				op->n_past + s, op->rope_freq_base, neox, qbuf,
				row * sizeof(float));
			p.n_tok = t0 + c - s;
			p.n_past = op->n_past + s;
			p.q = qbuf;
			p.q_stride = row * sizeof(float);
			p.out = (float *)((uint8_t *)base->out +
					  (size_t)s * op->out_stride);
			ek_attention(ex, &p);
			t0 += c;
		}
		return;
	}
	/* Very wide rows: one head of one token at a time (such calls may
	 * sum in another order than one call over the op: equal to
	 * rounding, not bitwise). */
	for (uint32_t t = 0; t < op->n_tok; t++) {
		for (uint32_t h = 0; h < op->n_head; h++) {
			struct ek_attention p = *base;
			uint32_t g = h / group;

			memcpy(qbuf, (const uint8_t *)base->q +
				     (size_t)t * op->q_stride +
				     (size_t)h * hd * sizeof(float),
			       hd * sizeof(float));
			ek_rope(&ek_exec_serial, 1, 1, hd, op->rope_dim,
				op->n_past + t, op->rope_freq_base, neox, qbuf,
				hd * sizeof(float));
			p.n_tok = 1;
			p.n_past = op->n_past + t;
			p.n_head = 1;
			p.n_kv_head = 1;
			p.q = qbuf;
			p.q_stride = hd * sizeof(float);
			p.k = (const uint8_t *)base->k + g * head_bytes;
			p.v = (const uint8_t *)base->v + g * head_bytes;
			p.out = (float *)((uint8_t *)base->out +
					  (size_t)t * op->out_stride +
					  (size_t)h * hd * sizeof(float));
			ek_attention(ex, &p);
		}
	}
}

uint32_t fw_run_attention(const struct ember_hal *hal, uint32_t as,
			  const struct fw_attention_plan *plan,
			  struct ember_job_result *res)
{
	_Alignas(64) float qbuf[ATTN_QBUF_FLOATS] FW_NOINIT;
	const struct ember_op_attention *op = &plan->op;
	bool append = op->hdr.flags & EMBER_ATTN_APPEND_KV;
	unsigned int kv_access = append ? EMBER_ACCESS_READ | EMBER_ACCESS_WRITE
					: EMBER_ACCESS_READ;
	struct fw_mapping map[6];	/* q, k, v, k_new, v_new, out */
	struct ek_exec ex = fw_exec(hal);
	struct ek_attention p;
	uint32_t st = EMBER_JOB_MMU_FAULT;

	memset(map, 0, sizeof(map));
	if (!fw_map(hal, as, plan->q, EMBER_ACCESS_READ, &map[0], res) ||
	    !fw_map(hal, as, plan->k, kv_access, &map[1], res) ||
	    !fw_map(hal, as, plan->v, kv_access, &map[2], res) ||
	    !fw_map(hal, as, plan->k_new, EMBER_ACCESS_READ, &map[3], res) ||
	    !fw_map(hal, as, plan->v_new, EMBER_ACCESS_READ, &map[4], res) ||
	    !fw_map(hal, as, plan->out, EMBER_ACCESS_WRITE, &map[5], res))
		goto out;

	if (append)
		append_kv(op, map[1].ptr, map[2].ptr, map[3].ptr, map[4].ptr);

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
	p.k_layout = EK_KV_ROWS;	/* the device's caches are rows */
	p.out = map[5].ptr;
	p.out_stride = op->out_stride;
	if (op->hdr.flags & EMBER_ATTN_ROPE)
		attend_roped(&ex, &p, op, qbuf);
	else
		ek_attention(&ex, &p);
	st = EMBER_JOB_OK;
out:
	fw_unmap_all(hal, map, 6, res);
	return st;
}
