// SPDX-License-Identifier: MIT
/* COPY: copy or convert rows between dtypes (ek_dequantize_row /
 * ek_quantize_row through a small f32 buffer, a row at a time in chunks). */
#include <string.h>

#include "ember/kernels.h"
#include "fw_internal.h"

/* Elements converted per step; a multiple of EK_QK so chunks of block
 * types start on block boundaries. */
#define COPY_CHUNK	2048u

static uint32_t check_dtype(uint32_t dtype, uint32_t caps_dtypes)
{
	if (!ek_dtype_known((int)dtype))
		return EMBER_JOB_BAD_DESC;
	if (!fw_bit_set(caps_dtypes, dtype))
		return EMBER_JOB_UNSUPPORTED;
	return EMBER_JOB_OK;
}

static bool rows_range(uint64_t va, uint32_t rows, uint64_t stride,
		       int dtype, uint32_t n, struct fw_range *r)
{
	uint64_t row = ek_row_size(dtype, n);	/* 0: n % 32 for blocks */
	uint64_t align = ek_dtype_align(dtype);

	if (row == 0 || align == 0 || stride < row || stride % align ||
	    va % align)
		return false;
	return fw_matrix_range(va, rows, stride, row, r);
}

uint32_t fw_check_copy(const struct ember_op_copy *op, uint32_t caps_dtypes,
		       struct fw_copy_plan *plan)
{
	uint32_t st;

	if (op->hdr.flags)
		return EMBER_JOB_BAD_DESC;
	for (unsigned int i = 0; i < sizeof(op->pad); i++)
		if (op->pad[i])
			return EMBER_JOB_BAD_DESC;
	st = check_dtype(op->src_dtype, caps_dtypes);
	if (st == EMBER_JOB_OK)
		st = check_dtype(op->dst_dtype, caps_dtypes);
	if (st != EMBER_JOB_OK)
		return st;
	/* Same type: a byte copy; otherwise one side is f32. */
	if (op->src_dtype != op->dst_dtype &&
	    op->src_dtype != EMBER_DTYPE_F32 &&
	    op->dst_dtype != EMBER_DTYPE_F32)
		return EMBER_JOB_UNSUPPORTED;
	if (op->rows == 0 || op->rows > FW_MAX_DIM || op->n == 0 ||
	    op->n > FW_MAX_DIM)
		return EMBER_JOB_BAD_DESC;
	if (!rows_range(op->src_va, op->rows, op->src_stride, op->src_dtype,
			op->n, &plan->src) ||
	    !rows_range(op->dst_va, op->rows, op->dst_stride, op->dst_dtype,
			op->n, &plan->dst))
		return EMBER_JOB_BAD_DESC;
	if (fw_ranges_overlap(plan->dst, plan->src))
		return EMBER_JOB_BAD_DESC;
	return EMBER_JOB_OK;
}

static void convert_row(int st, const uint8_t *src, int dt, uint8_t *dst,
			uint32_t n, float *buf)
{
	for (uint32_t i = 0; i < n; i += COPY_CHUNK) {
		uint32_t len = n - i < COPY_CHUNK ? n - i : COPY_CHUNK;
		/* i is a multiple of EK_QK, so a valid row length. */
		const uint8_t *s = src + (i ? ek_row_size(st, i) : 0);
		uint8_t *d = dst + (i ? ek_row_size(dt, i) : 0);

		ek_dequantize_row(st, s, buf, len);
		ek_quantize_row(dt, buf, d, len);
	}
}

uint32_t fw_run_copy(const struct ember_hal *hal, uint32_t as,
		     const struct fw_copy_plan *plan,
		     struct ember_job_result *res)
{
	const struct ember_op_copy *op = &plan->op;
	_Alignas(64) float buf[COPY_CHUNK] FW_NOINIT;
	struct fw_mapping map[2];	/* src, dst */
	size_t row = ek_row_size(op->src_dtype, op->n);
	uint32_t st = EMBER_JOB_MMU_FAULT;

	memset(map, 0, sizeof(map));
	if (!fw_map(hal, as, plan->src, EMBER_ACCESS_READ, &map[0], res) ||
	    !fw_map(hal, as, plan->dst, EMBER_ACCESS_WRITE, &map[1], res))
		goto out;
	for (uint32_t r = 0; r < op->rows; r++) {
		const uint8_t *s = (const uint8_t *)map[0].ptr +
				   r * op->src_stride;
		uint8_t *d = (uint8_t *)map[1].ptr + r * op->dst_stride;

		if (op->src_dtype == op->dst_dtype)
			memcpy(d, s, row);
		else
			convert_row(op->src_dtype, s, op->dst_dtype, d, op->n,
				    buf);
	}
	st = EMBER_JOB_OK;
out:
	fw_unmap_all(hal, map, 2, res);
	return st;
}
