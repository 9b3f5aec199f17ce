// SPDX-License-Identifier: MIT
/* ember_fw_run_job: map the command stream, validate all of it, then run
 * the ops in order, each from a private, re-checked copy. */
#include <string.h>

#include "fw_internal.h"

/* ek_exec.run may ask for any number of tasks; the HAL runs at most
 * nthreads at once, so larger counts are dealt round-robin to threads. */
struct fw_spread {
	ek_task_fn fn;
	void *arg;
	int n;
};

static void fw_spread_task(void *arg, int j, int m)
{
	const struct fw_spread *s = arg;

	for (int i = j; i < s->n; i += m)
		s->fn(s->arg, i, s->n);
}

static void fw_exec_run(void *ctx, ek_task_fn fn, void *arg, int n)
{
	const struct ember_hal *hal = ctx;
	int nthreads = hal->nthreads > 0 ? hal->nthreads : 1;
	struct fw_spread s = { fn, arg, n };

	if (n <= 0)
		return;
	if (n <= nthreads)
		hal->parallel(hal->ctx, fn, arg, n);
	else
		hal->parallel(hal->ctx, fw_spread_task, &s, nthreads);
}

struct ek_exec fw_exec(const struct ember_hal *hal)
{
	struct ek_exec ex = {
		.run = fw_exec_run,
		.ctx = (void *)(uintptr_t)hal,	/* only read */
		.nthreads = hal->nthreads > 0 ? hal->nthreads : 1,
	};

	return hal->parallel ? ex : ek_exec_serial;
}

bool fw_map(const struct ember_hal *hal, uint32_t as, struct fw_range r,
	    unsigned int access, struct fw_mapping *m,
	    struct ember_job_result *res)
{
	struct ember_mmu_fault fault;

	m->ptr = NULL;
	m->len = 0;
	m->access = access;
	if (r.len == 0)
		return true;	/* optional operand not used */
	memset(&fault, 0, sizeof(fault));
	fault.va = r.va;
	m->ptr = hal->map(hal->ctx, as, r.va, r.len, access, &fault);
	if (!m->ptr) {
		res->fault_va = fault.va;
		return false;
	}
	m->len = r.len;
	return true;
}

void fw_unmap_all(const struct ember_hal *hal, struct fw_mapping *m,
		  unsigned int count, struct ember_job_result *res)
{
	for (unsigned int i = 0; i < count; i++) {
		if (!m[i].ptr)
			continue;
		hal->unmap(hal->ctx, m[i].ptr, m[i].len, m[i].access);
		if (m[i].access & EMBER_ACCESS_READ)
			res->bytes_read += m[i].len;
		if (m[i].access & EMBER_ACCESS_WRITE)
			res->bytes_written += m[i].len;
		m[i].ptr = NULL;
	}
}

static uint32_t run_op(const struct ember_hal *hal, uint32_t as,
		       const struct fw_op *op, struct ember_job_result *res)
{
	switch (op->opcode) {
	case EMBER_OP_NOP:
		return EMBER_JOB_OK;	/* nothing: measures per-op overhead */
	case EMBER_OP_MATMUL:
		return fw_run_matmul(hal, as, &op->u.mm, res);
	case EMBER_OP_ATTENTION:
		return fw_run_attention(hal, as, &op->u.at, res);
	case EMBER_OP_RMSNORM:
		return fw_run_rmsnorm(hal, as, &op->u.rn, res);
	case EMBER_OP_ROPE:
		return fw_run_rope(hal, as, &op->u.rp, res);
	case EMBER_OP_SWIGLU:
	case EMBER_OP_ADD:
		return fw_run_binary(hal, as, &op->u.bin, res);
	case EMBER_OP_COPY:
		return fw_run_copy(hal, as, &op->u.cp, res);
	default:
		return EMBER_JOB_FW_ERROR;
	}
}

/*
 * The MATMULs after @first (at @off) that join it in a group (ops[0] is
 * first); returns how many ops the group has, 1 for none.
 */
static uint32_t matmul_group(const struct ember_hal *hal, const uint8_t *cmd,
			     uint32_t cmd_size, uint32_t off,
			     uint32_t caps_ops, uint32_t caps_dtypes,
			     struct fw_op *ops,
			     const struct fw_matmul_plan **plans)
{
	int nthreads = hal->nthreads > 0 ? hal->nthreads : 1;
	uint32_t n = 1;

	plans[0] = &ops[0].u.mm;
	off += ops[0].size;
	while (n < FW_MM_GROUP && off < cmd_size &&
	       fw_decode_op(cmd + off, cmd_size - off, caps_ops, caps_dtypes,
			    &ops[n]) == EMBER_JOB_OK &&
	       ops[n].opcode == EMBER_OP_MATMUL &&
	       fw_matmul_joins(plans, n, &ops[n].u.mm, nthreads)) {
		plans[n] = &ops[n].u.mm;
		off += ops[n].size;
		n++;
	}
	return n;
}

/* Run every op of a validated stream. */
static void run_ops(const struct ember_hal *hal, uint32_t as,
		    const uint8_t *cmd, uint32_t cmd_size, uint32_t caps_ops,
		    uint32_t caps_dtypes, struct ember_job_result *res)
{
	const struct fw_matmul_plan *plans[FW_MM_GROUP];
	struct fw_op ops[FW_MM_GROUP];
	uint32_t off = 0, index = 0;

	while (off < cmd_size) {
		/* Checked again: the stream is shared with the host. */
		uint32_t st = fw_decode_op(cmd + off, cmd_size - off, caps_ops,
					   caps_dtypes, &ops[0]);
		uint32_t n = 1, done = 0;

		if (st == EMBER_JOB_OK && ops[0].opcode == EMBER_OP_MATMUL)
			n = matmul_group(hal, cmd, cmd_size, off, caps_ops,
					 caps_dtypes, ops, plans);
		if (st == EMBER_JOB_OK && n > 1) {
			st = fw_run_matmul_group(hal, as, plans, n, res, &done);
		} else if (st == EMBER_JOB_OK) {
			st = run_op(hal, as, &ops[0], res);
			done = st == EMBER_JOB_OK;
		}
		for (uint32_t i = 0; i < done; i++)
			off += ops[i].size;
		res->ops += done;
		index += done;
		if (st != EMBER_JOB_OK) {
			res->status = st;
			res->fault_op = index;
			return;
		}
	}
}

void ember_fw_run_job(const struct ember_hal *hal, uint32_t as,
		      uint64_t cmd_va, uint32_t cmd_size,
		      struct ember_job_result *res)
{
	uint32_t caps_ops = hal->caps_ops & ember_fw_caps_ops();
	uint32_t caps_dtypes = hal->caps_dtypes & ember_fw_caps_dtypes();
	struct fw_mapping cmd;
	uint32_t st, bad_op = 0;

	memset(res, 0, sizeof(*res));
	/* A size that is not a multiple of 8 is found by validate, at the op
	 * it cuts. */
	if (cmd_size == 0 || cmd_size > FW_MAX_CMD_SIZE) {
		res->status = EMBER_JOB_BAD_OP;
		return;
	}
	if (!fw_map(hal, as, (struct fw_range){ cmd_va, cmd_size },
		    EMBER_ACCESS_READ, &cmd, res)) {
		res->status = EMBER_JOB_MMU_FAULT;
		return;
	}
	st = ember_fw_validate(cmd.ptr, cmd_size, caps_ops, caps_dtypes,
			       &bad_op);
	if (st != EMBER_JOB_OK) {
		res->status = st;
		res->fault_op = bad_op;
	} else {
		run_ops(hal, as, cmd.ptr, cmd_size, caps_ops, caps_dtypes, res);
	}
	fw_unmap_all(hal, &cmd, 1, res);
}
