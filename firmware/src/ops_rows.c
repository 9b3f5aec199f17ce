// SPDX-License-Identifier: MIT
/* Row-wise f32 ops of a transformer layer: RMSNORM, ROPE, SWIGLU, ADD
 * (field checks and execution through ek_rmsnorm, ek_rope, ek_swiglu,
 * ek_add), and the field checks they share with ATTENTION. */
#include <string.h>

#include "ember/kernels.h"
#include "fw_internal.h"

bool fw_float_is_finite(float f)
{
	uint32_t bits;

	memcpy(&bits, &f, sizeof(bits));
	return (bits & 0x7f800000u) != 0x7f800000u;
}

bool fw_f32_rows(uint64_t va, uint64_t rows, uint64_t stride, uint64_t n,
		 struct fw_range *r)
{
	uint64_t row;

	if (rows == 0 || rows > FW_MAX_DIM || n == 0 ||
	    !fw_mul_ok(n, 4, &row))
		return false;
	if (stride < row || stride % 4 || va % 4)
		return false;
	return fw_matrix_range(va, rows, stride, row, r);
}

bool fw_rope_params_ok(uint32_t head_dim, uint32_t rope_dim, float base)
{
	return rope_dim >= 2 && rope_dim % 2 == 0 && rope_dim <= head_dim &&
	       fw_float_is_finite(base) && base > 0.0f;
}

static bool f32_enabled(uint32_t caps_dtypes)
{
	return fw_bit_set(caps_dtypes, EMBER_DTYPE_F32);
}

/* ---- RMSNORM ----------------------------------------------------------- */

uint32_t fw_check_rmsnorm(const struct ember_op_rmsnorm *op,
			  uint32_t caps_dtypes, struct fw_rmsnorm_plan *plan)
{
	bool weight = op->hdr.flags & EMBER_RMSNORM_WEIGHT;

	if (op->hdr.flags & ~EMBER_RMSNORM_WEIGHT || op->pad ||
	    (!weight && op->w_va))
		return EMBER_JOB_BAD_DESC;
	if (!f32_enabled(caps_dtypes))
		return EMBER_JOB_UNSUPPORTED;
	if (op->dim == 0 || op->dim > FW_MAX_DIM ||
	    !fw_float_is_finite(op->eps) || op->eps < 0.0f)
		return EMBER_JOB_BAD_DESC;
	if (!fw_f32_rows(op->x_va, op->rows, op->x_stride, op->dim,
			 &plan->x) ||
	    !fw_f32_rows(op->out_va, op->rows, op->out_stride, op->dim,
			 &plan->out))
		return EMBER_JOB_BAD_DESC;
	plan->w.va = 0;
	plan->w.len = 0;
	if (weight && !fw_f32_rows(op->w_va, 1, (uint64_t)op->dim * 4,
				   op->dim, &plan->w))
		return EMBER_JOB_BAD_DESC;
	if (fw_ranges_overlap(plan->out, plan->x) ||
	    fw_ranges_overlap(plan->out, plan->w))
		return EMBER_JOB_BAD_DESC;
	return EMBER_JOB_OK;
}

uint32_t fw_run_rmsnorm(const struct ember_hal *hal, uint32_t as,
			const struct fw_rmsnorm_plan *plan,
			struct ember_job_result *res)
{
	const struct ember_op_rmsnorm *op = &plan->op;
	struct fw_mapping map[3];	/* x, w, out */
	struct ek_exec ex = fw_exec(hal);
	uint32_t st = EMBER_JOB_MMU_FAULT;

	memset(map, 0, sizeof(map));
	if (!fw_map(hal, as, plan->x, EMBER_ACCESS_READ, &map[0], res) ||
	    !fw_map(hal, as, plan->w, EMBER_ACCESS_READ, &map[1], res) ||
	    !fw_map(hal, as, plan->out, EMBER_ACCESS_WRITE, &map[2], res))
		goto out;
	ek_rmsnorm(&ex, op->rows, op->dim, map[0].ptr, op->x_stride,
		   map[1].ptr, op->eps, map[2].ptr, op->out_stride);
	st = EMBER_JOB_OK;
out:
	fw_unmap_all(hal, map, 3, res);
	return st;
}

/* ---- ROPE -------------------------------------------------------------- */

uint32_t fw_check_rope(const struct ember_op_rope *op, uint32_t caps_dtypes,
		       struct fw_rope_plan *plan)
{
	if (op->hdr.flags & ~EMBER_ROPE_NEOX)
		return EMBER_JOB_BAD_DESC;
	if (!f32_enabled(caps_dtypes))
		return EMBER_JOB_UNSUPPORTED;
	if (op->n_head == 0 || op->n_head > FW_MAX_HEADS ||
	    op->head_dim == 0 || op->head_dim > EK_MAX_HEAD_DIM ||
	    !fw_rope_params_ok(op->head_dim, op->rope_dim, op->freq_base) ||
	    op->pos0 > FW_MAX_CTX || op->rows > FW_MAX_CTX - op->pos0)
		return EMBER_JOB_BAD_DESC;
	if (!fw_f32_rows(op->x_va, op->rows, op->x_stride,
			 (uint64_t)op->n_head * op->head_dim, &plan->x) ||
	    !fw_f32_rows(op->out_va, op->rows, op->out_stride,
			 (uint64_t)op->n_head * op->head_dim, &plan->out))
		return EMBER_JOB_BAD_DESC;
	plan->in_place = op->out_va == op->x_va &&
			 op->out_stride == op->x_stride;
	if (!plan->in_place && fw_ranges_overlap(plan->out, plan->x))
		return EMBER_JOB_BAD_DESC;
	return EMBER_JOB_OK;
}

uint32_t fw_run_rope(const struct ember_hal *hal, uint32_t as,
		     const struct fw_rope_plan *plan,
		     struct ember_job_result *res)
{
	const struct ember_op_rope *op = &plan->op;
	size_t row = (size_t)op->n_head * op->head_dim * 4;
	struct fw_mapping map[2];	/* x (unless in place), out */
	struct ek_exec ex = fw_exec(hal);
	uint32_t st = EMBER_JOB_MMU_FAULT;

	memset(map, 0, sizeof(map));
	if (plan->in_place) {
		if (!fw_map(hal, as, plan->out,
			    EMBER_ACCESS_READ | EMBER_ACCESS_WRITE, &map[1],
			    res))
			goto out;
	} else {
		if (!fw_map(hal, as, plan->x, EMBER_ACCESS_READ, &map[0],
			    res) ||
		    !fw_map(hal, as, plan->out, EMBER_ACCESS_WRITE, &map[1],
			    res))
			goto out;
		/* Rotate a copy: the input stays as it was. */
		for (uint32_t r = 0; r < op->rows; r++)
			memcpy((uint8_t *)map[1].ptr + r * op->out_stride,
			       (const uint8_t *)map[0].ptr + r * op->x_stride,
			       row);
	}
	ek_rope(&ex, op->rows, op->n_head, op->head_dim, op->rope_dim,
		op->pos0, op->freq_base, op->hdr.flags & EMBER_ROPE_NEOX,
		map[1].ptr, op->out_stride);
	st = EMBER_JOB_OK;
out:
	fw_unmap_all(hal, map, 2, res);
	return st;
}

/* ---- SWIGLU, ADD ------------------------------------------------------- */

static uint32_t check_binary(uint32_t opcode, uint32_t flags,
			     uint32_t caps_dtypes, uint32_t rows, uint32_t n,
			     uint64_t a_va, uint64_t a_stride, uint64_t b_va,
			     uint64_t b_stride, uint64_t out_va,
			     uint64_t out_stride, struct fw_binary_plan *plan)
{
	if (flags)
		return EMBER_JOB_BAD_DESC;
	if (!f32_enabled(caps_dtypes))
		return EMBER_JOB_UNSUPPORTED;
	if (n > FW_MAX_DIM ||
	    !fw_f32_rows(a_va, rows, a_stride, n, &plan->a) ||
	    !fw_f32_rows(b_va, rows, b_stride, n, &plan->b) ||
	    !fw_f32_rows(out_va, rows, out_stride, n, &plan->out))
		return EMBER_JOB_BAD_DESC;
	if (fw_ranges_overlap(plan->out, plan->a) ||
	    fw_ranges_overlap(plan->out, plan->b))
		return EMBER_JOB_BAD_DESC;
	plan->opcode = opcode;
	plan->rows = rows;
	plan->n = n;
	plan->a_stride = a_stride;
	plan->b_stride = b_stride;
	plan->out_stride = out_stride;
	return EMBER_JOB_OK;
}

uint32_t fw_check_swiglu(const struct ember_op_swiglu *op,
			 uint32_t caps_dtypes, struct fw_binary_plan *plan)
{
	return check_binary(EMBER_OP_SWIGLU, op->hdr.flags, caps_dtypes,
			    op->rows, op->n, op->gate_va, op->gate_stride,
			    op->up_va, op->up_stride, op->out_va,
			    op->out_stride, plan);
}

uint32_t fw_check_add(const struct ember_op_add *op, uint32_t caps_dtypes,
		      struct fw_binary_plan *plan)
{
	return check_binary(EMBER_OP_ADD, op->hdr.flags, caps_dtypes, op->rows,
			    op->n, op->a_va, op->a_stride, op->b_va,
			    op->b_stride, op->out_va, op->out_stride, plan);
}

uint32_t fw_run_binary(const struct ember_hal *hal, uint32_t as,
		       const struct fw_binary_plan *plan,
		       struct ember_job_result *res)
{
	struct fw_mapping map[3];	/* a, b, out */
	struct ek_exec ex = fw_exec(hal);
	uint32_t st = EMBER_JOB_MMU_FAULT;

	memset(map, 0, sizeof(map));
	if (!fw_map(hal, as, plan->a, EMBER_ACCESS_READ, &map[0], res) ||
	    !fw_map(hal, as, plan->b, EMBER_ACCESS_READ, &map[1], res) ||
	    !fw_map(hal, as, plan->out, EMBER_ACCESS_WRITE, &map[2], res))
		goto out;
	if (plan->opcode == EMBER_OP_SWIGLU)
		ek_swiglu(&ex, plan->rows, plan->n, map[0].ptr, plan->a_stride,
			  map[1].ptr, plan->b_stride, map[2].ptr,
			  plan->out_stride);
	else
		ek_add(&ex, plan->rows, plan->n, map[0].ptr, plan->a_stride,
		       map[1].ptr, plan->b_stride, map[2].ptr,
		       plan->out_stride);
	st = EMBER_JOB_OK;
out:
	fw_unmap_all(hal, map, 3, res);
	return st;
}
