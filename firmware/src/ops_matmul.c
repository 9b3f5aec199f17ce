// SPDX-License-Identifier: MIT
/* MATMUL: field checks and execution through ek_matmul. */
#include <string.h>

#include "ember/kernels.h"
#include "fw_internal.h"

#define MATMUL_FLAGS	(EMBER_MATMUL_ACCUMULATE | EMBER_MATMUL_BIAS | \
			 EMBER_MATMUL_W_X16)
/* X16 weights: 64-aligned, as ek_x16_pack's loads want them. */
#define X16_ALIGN	64u

/*
 * Work memory for ek_matmul comes from the stack (the firmware has no heap;
 * QEMU's worker thread has the default 8 MiB stack): enough for decode and
 * small prefill ops whole; bigger ones run in row blocks that fit.
 */
#define MATMUL_SCRATCH_BYTES	(256u << 10)

/* Unknown type number -> BAD_DESC; known but not enabled -> UNSUPPORTED. */
static uint32_t check_dtype(uint32_t dtype, uint32_t caps_dtypes)
{
	if (!ek_dtype_known((int)dtype))
		return EMBER_JOB_BAD_DESC;
	if (!fw_bit_set(caps_dtypes, dtype))
		return EMBER_JOB_UNSUPPORTED;
	return EMBER_JOB_OK;
}

uint32_t fw_check_matmul(const struct ember_op_matmul *op,
			 uint32_t caps_dtypes, struct fw_matmul_plan *plan)
{
	uint64_t w_row, f32_align = ek_dtype_align(EK_F32), w_align;
	uint32_t st;

	if (op->hdr.flags & ~MATMUL_FLAGS || op->pad)
		return EMBER_JOB_BAD_DESC;
	st = check_dtype(op->w_dtype, caps_dtypes);
	if (st == EMBER_JOB_OK)
		st = check_dtype(op->a_dtype, caps_dtypes);
	if (st == EMBER_JOB_OK)
		st = check_dtype(op->c_dtype, caps_dtypes);
	if (st != EMBER_JOB_OK)
		return st;
	/* Activations and results are f32 in this ABI. */
	if (op->a_dtype != EMBER_DTYPE_F32 || op->c_dtype != EMBER_DTYPE_F32)
		return EMBER_JOB_UNSUPPORTED;

	if (op->m == 0 || op->n == 0 || op->k == 0 || op->m > FW_MAX_DIM ||
	    op->n > FW_MAX_DIM || op->k > FW_MAX_DIM)
		return EMBER_JOB_BAD_DESC;
	w_row = ek_row_size(op->w_dtype, op->k);  /* 0: k not whole blocks */
	w_align = ek_dtype_align(op->w_dtype);
	if (w_row == 0 || w_align == 0)
		return EMBER_JOB_BAD_DESC;
	if (op->hdr.flags & EMBER_MATMUL_W_X16) {
		if (op->w_dtype != EMBER_DTYPE_Q8_0 &&
		    op->w_dtype != EMBER_DTYPE_Q4_0)
			return EMBER_JOB_UNSUPPORTED;
		if (op->w_stride)
			return EMBER_JOB_BAD_DESC;
		/* W as one span of its packed bytes. */
		w_row = ek_x16_size((int)op->w_dtype, op->n, op->k);
		w_align = X16_ALIGN;
	} else if (op->w_stride < w_row) {
		return EMBER_JOB_BAD_DESC;
	}

	if (op->a_stride < (uint64_t)op->k * 4 ||
	    op->c_stride < (uint64_t)op->n * 4)
		return EMBER_JOB_BAD_DESC;
	if (op->a_va % f32_align || op->a_stride % f32_align ||
	    op->c_va % f32_align || op->c_stride % f32_align ||
	    op->w_va % w_align || op->w_stride % w_align ||
	    op->bias_va % f32_align)
		return EMBER_JOB_BAD_DESC;

	if (!fw_matrix_range(op->a_va, op->m, op->a_stride,
			     (uint64_t)op->k * 4, &plan->a) ||
	    !fw_matrix_range(op->w_va, op->hdr.flags & EMBER_MATMUL_W_X16 ?
			     1 : op->n, op->w_stride, w_row, &plan->w) ||
	    !fw_matrix_range(op->c_va, op->m, op->c_stride,
			     (uint64_t)op->n * 4, &plan->c))
		return EMBER_JOB_BAD_DESC;
	plan->bias.va = 0;
	plan->bias.len = 0;
	if (op->hdr.flags & EMBER_MATMUL_BIAS) {
		if (!fw_matrix_range(op->bias_va, 1, 0, (uint64_t)op->n * 4,
				     &plan->bias))
			return EMBER_JOB_BAD_DESC;
	} else if (op->bias_va) {
		return EMBER_JOB_BAD_DESC;	/* unused field must be zero */
	}

	/* The result must not alias what is being read while it is written. */
	if (fw_ranges_overlap(plan->c, plan->a) ||
	    fw_ranges_overlap(plan->c, plan->w) ||
	    fw_ranges_overlap(plan->c, plan->bias))
		return EMBER_JOB_BAD_DESC;
	return EMBER_JOB_OK;
}

/* The most rows of @p whose scratch fits @buf_size (0: not even one);
 * scratch grows with m, so a binary search finds it. */
static uint32_t rows_that_fit(const struct ek_exec *ex, struct ek_matmul p,
			      size_t buf_size)
{
	uint32_t lo = 0, hi = p.m;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;

		p.m = mid;
		if (ek_matmul_scratch_size(&p, ex->nthreads) <= buf_size)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/*
 * Run rows [0, m) in the largest row blocks whose scratch fits @buf. When
 * not even one row fits (work memory that does not shrink with m), run the
 * whole op without scratch: ek_matmul then takes its path that needs none,
 * which X16 weights do not have (false: nothing was computed).
 */
static bool matmul_blocks(const struct ek_exec *ex, const struct ek_matmul *p,
			  void *buf, size_t buf_size)
{
	uint32_t rows;

	if (ek_matmul_scratch_size(p, ex->nthreads) <= buf_size) {
		ek_matmul(ex, p, buf);
		return true;
	}
	rows = rows_that_fit(ex, *p, buf_size);
	if (rows == 0) {
		if (p->w_layout == EK_LAYOUT_X16)
			return false;
		ek_matmul(ex, p, NULL);
		return true;
	}
	for (uint32_t r = 0; r < p->m; r += rows) {
		struct ek_matmul blk = *p;

		blk.m = p->m - r < rows ? p->m - r : rows;
		blk.a = (const float *)((const uint8_t *)p->a + r * p->a_stride);
		blk.c = (float *)((uint8_t *)p->c + r * p->c_stride);
		ek_matmul(ex, &blk, buf);
	}
	return true;
}

/* The kernel's view of @op over mapped A, W, bias and C. */
static void mm_params(const struct ember_op_matmul *op, void *a, void *w,
		      void *bias, void *c, struct ek_matmul *p)
{
	memset(p, 0, sizeof(*p));
	p->m = op->m;
	p->n = op->n;
	p->k = op->k;
	p->a = a;
	p->a_stride = op->a_stride;
	p->w = w;
	p->w_dtype = op->w_dtype;
	p->w_stride = op->w_stride;
	if (op->hdr.flags & EMBER_MATMUL_W_X16) {
		p->w_layout = EK_LAYOUT_X16;
		p->w_rows = op->n;
	}
	p->c = c;
	p->c_stride = op->c_stride;
	p->bias = bias;		/* NULL without EMBER_MATMUL_BIAS */
	p->accumulate = op->hdr.flags & EMBER_MATMUL_ACCUMULATE;
}

static bool mm_writes_into(const struct fw_matmul_plan *x,
			   const struct fw_matmul_plan *y)
{
	return fw_ranges_overlap(x->c, y->a) || fw_ranges_overlap(x->c, y->w) ||
	       fw_ranges_overlap(x->c, y->bias) ||
	       fw_ranges_overlap(x->c, y->c);
}

bool fw_matmul_joins(const struct fw_matmul_plan *const *g, uint32_t n,
		     const struct fw_matmul_plan *next, int nthreads)
{
	const struct ember_op_matmul *f = &g[0]->op, *o = &next->op;
	struct ek_matmul p;

	if (n >= FW_MM_GROUP || o->m != f->m || o->k != f->k ||
	    o->a_va != f->a_va || o->a_stride != f->a_stride ||
	    o->w_dtype != f->w_dtype ||
	    (o->hdr.flags ^ f->hdr.flags) & EMBER_MATMUL_W_X16)
		return false;
	mm_params(o, NULL, NULL, NULL, NULL, &p);
	if (ek_matmul_scratch_size(&p, nthreads) > MATMUL_SCRATCH_BYTES)
		return false;
	if (n == 1) {
		mm_params(f, NULL, NULL, NULL, NULL, &p);
		if (ek_matmul_scratch_size(&p, nthreads) > MATMUL_SCRATCH_BYTES)
			return false;
	}
	for (uint32_t i = 0; i < n; i++)
		if (mm_writes_into(g[i], next) || mm_writes_into(next, g[i]))
			return false;
	return true;
}

uint32_t fw_run_matmul_group(const struct ember_hal *hal, uint32_t as,
			     const struct fw_matmul_plan *const *g,
			     uint32_t n, struct ember_job_result *res,
			     uint32_t *done)
{
	_Alignas(64) uint8_t scratch[MATMUL_SCRATCH_BYTES] FW_NOINIT;
	struct fw_mapping a, map[FW_MM_GROUP][3];	/* w, bias, c */
	struct ek_matmul p[FW_MM_GROUP];
	struct ek_exec ex = fw_exec(hal);
	uint32_t i, st = EMBER_JOB_OK;

	memset(map, 0, sizeof(map));
	*done = 0;
	if (!fw_map(hal, as, g[0]->a, EMBER_ACCESS_READ, &a, res))
		return EMBER_JOB_MMU_FAULT;
	for (i = 0; i < n && i < FW_MM_GROUP; i++) {
		const struct ember_op_matmul *op = &g[i]->op;
		bool acc = op->hdr.flags & EMBER_MATMUL_ACCUMULATE;

		if (!fw_map(hal, as, g[i]->w, EMBER_ACCESS_READ, &map[i][0], res) ||
		    !fw_map(hal, as, g[i]->bias, EMBER_ACCESS_READ, &map[i][1],
			    res) ||
		    !fw_map(hal, as, g[i]->c,
			    acc ? EMBER_ACCESS_READ | EMBER_ACCESS_WRITE
				: EMBER_ACCESS_WRITE, &map[i][2], res)) {
			st = EMBER_JOB_MMU_FAULT;
			fw_unmap_all(hal, map[i], 3, res);
			break;
		}
		mm_params(op, a.ptr, map[i][0].ptr, map[i][1].ptr,
			  map[i][2].ptr, &p[i]);
	}
	if (i)
		ek_matmul_group(&ex, p, (int)i, scratch);
	*done = i;
	while (i--)
		fw_unmap_all(hal, map[i], 3, res);
	fw_unmap_all(hal, &a, 1, res);
	return st;
}

uint32_t fw_run_matmul(const struct ember_hal *hal, uint32_t as,
		       const struct fw_matmul_plan *plan,
		       struct ember_job_result *res)
{
	_Alignas(64) uint8_t scratch[MATMUL_SCRATCH_BYTES] FW_NOINIT;
	const struct ember_op_matmul *op = &plan->op;
	bool acc = op->hdr.flags & EMBER_MATMUL_ACCUMULATE;
	struct fw_mapping map[4];	/* a, w, bias, c */
	struct ek_exec ex = fw_exec(hal);
	struct ek_matmul p;
	uint32_t st = EMBER_JOB_MMU_FAULT;

	memset(map, 0, sizeof(map));
	if (!fw_map(hal, as, plan->a, EMBER_ACCESS_READ, &map[0], res) ||
	    !fw_map(hal, as, plan->w, EMBER_ACCESS_READ, &map[1], res) ||
	    !fw_map(hal, as, plan->bias, EMBER_ACCESS_READ, &map[2], res) ||
	    !fw_map(hal, as, plan->c,
		    acc ? EMBER_ACCESS_READ | EMBER_ACCESS_WRITE
			: EMBER_ACCESS_WRITE, &map[3], res))
		goto out;

	mm_params(op, map[0].ptr, map[1].ptr, map[2].ptr, map[3].ptr, &p);
	/* A k whose quantized row outgrows the work memory. */
	st = matmul_blocks(&ex, &p, scratch, sizeof(scratch)) ?
	     EMBER_JOB_OK : EMBER_JOB_UNSUPPORTED;
out:
	fw_unmap_all(hal, map, 4, res);
	return st;
}
