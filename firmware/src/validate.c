// SPDX-License-Identifier: MIT
/* Command-stream validation: op headers, caps, and dispatch to the per-op
 * field checks. Works on copies, so the stream may be unaligned and may
 * even change underneath (each op is checked again right before it runs). */
#include <string.h>

#include "fw_internal.h"

/* The op layouts are ABI: a change in size is a change of the uapi. */
_Static_assert(sizeof(struct ember_op_matmul) == 80, "MATMUL layout");
_Static_assert(sizeof(struct ember_op_attention) == 128, "ATTENTION layout");
_Static_assert(sizeof(struct ember_op_rmsnorm) == 64, "RMSNORM layout");
_Static_assert(sizeof(struct ember_op_rope) == 64, "ROPE layout");
_Static_assert(sizeof(struct ember_op_swiglu) == 64, "SWIGLU layout");
_Static_assert(sizeof(struct ember_op_add) == 64, "ADD layout");
_Static_assert(sizeof(struct ember_op_copy) == 56, "COPY layout");

uint32_t ember_fw_caps_ops(void)
{
	return (1u << EMBER_OP_NOP) | (1u << EMBER_OP_MATMUL) |
	       (1u << EMBER_OP_ATTENTION) | (1u << EMBER_OP_RMSNORM) |
	       (1u << EMBER_OP_ROPE) | (1u << EMBER_OP_SWIGLU) |
	       (1u << EMBER_OP_ADD) | (1u << EMBER_OP_COPY);
}

uint32_t ember_fw_caps_dtypes(void)
{
	return (1u << EMBER_DTYPE_F32) | (1u << EMBER_DTYPE_F16) |
	       (1u << EMBER_DTYPE_Q4_0) | (1u << EMBER_DTYPE_Q8_0) |
	       (1u << EMBER_DTYPE_BF16) | (1u << EMBER_DTYPE_Q4_1) |
	       (1u << EMBER_DTYPE_Q5_0) | (1u << EMBER_DTYPE_Q5_1) |
	       (1u << EMBER_DTYPE_Q4_K) | (1u << EMBER_DTYPE_Q5_K) |
	       (1u << EMBER_DTYPE_Q6_K);
}

/* The fixed size of each op this ABI defines (0: reserved opcode). */
static uint32_t op_struct_size(uint32_t opcode)
{
	switch (opcode) {
	case EMBER_OP_NOP:
		return sizeof(struct ember_op_hdr);
	case EMBER_OP_MATMUL:
		return sizeof(struct ember_op_matmul);
	case EMBER_OP_ATTENTION:
		return sizeof(struct ember_op_attention);
	case EMBER_OP_RMSNORM:
		return sizeof(struct ember_op_rmsnorm);
	case EMBER_OP_ROPE:
		return sizeof(struct ember_op_rope);
	case EMBER_OP_SWIGLU:
		return sizeof(struct ember_op_swiglu);
	case EMBER_OP_ADD:
		return sizeof(struct ember_op_add);
	case EMBER_OP_COPY:
		return sizeof(struct ember_op_copy);
	default:
		return 0;
	}
}

/* Bytes past the struct (a newer ABI's fields) must be zero. */
static bool tail_is_zero(const uint8_t *p, uint32_t from, uint32_t to)
{
	for (uint32_t i = from; i < to; i++)
		if (p[i])
			return false;
	return true;
}

uint32_t fw_decode_op(const uint8_t *p, uint32_t avail, uint32_t caps_ops,
		      uint32_t caps_dtypes, struct fw_op *op)
{
	struct ember_op_hdr hdr;
	uint32_t need;

	op->opcode = 0;
	op->size = 0;
	if (avail < sizeof(hdr))
		return EMBER_JOB_BAD_OP;	/* stream ends inside a header */
	memcpy(&hdr, p, sizeof(hdr));
	if (hdr.opcode >= EMBER_OP_COUNT)
		return EMBER_JOB_BAD_OP;
	if (hdr.size < sizeof(hdr) || hdr.size % 8 || hdr.size > avail)
		return EMBER_JOB_BAD_OP;
	need = op_struct_size(hdr.opcode);
	/* Reserved opcodes are known to the ABI but not implemented. */
	if (need == 0 ||
	    !fw_bit_set(caps_ops & ember_fw_caps_ops(), hdr.opcode))
		return EMBER_JOB_UNSUPPORTED;
	if (hdr.size < need)
		return EMBER_JOB_BAD_OP;
	op->opcode = hdr.opcode;
	op->size = hdr.size;
	if (!tail_is_zero(p, need, hdr.size))
		return EMBER_JOB_BAD_DESC;

	caps_dtypes &= ember_fw_caps_dtypes();
	switch (hdr.opcode) {
	case EMBER_OP_NOP:
		return hdr.flags ? EMBER_JOB_BAD_DESC : EMBER_JOB_OK;
	case EMBER_OP_MATMUL:
		memcpy(&op->u.mm.op, p, sizeof(op->u.mm.op));
		return fw_check_matmul(&op->u.mm.op, caps_dtypes, &op->u.mm);
	case EMBER_OP_ATTENTION:
		memcpy(&op->u.at.op, p, sizeof(op->u.at.op));
		return fw_check_attention(&op->u.at.op, caps_dtypes,
					  &op->u.at);
	case EMBER_OP_RMSNORM:
		memcpy(&op->u.rn.op, p, sizeof(op->u.rn.op));
		return fw_check_rmsnorm(&op->u.rn.op, caps_dtypes, &op->u.rn);
	case EMBER_OP_ROPE:
		memcpy(&op->u.rp.op, p, sizeof(op->u.rp.op));
		return fw_check_rope(&op->u.rp.op, caps_dtypes, &op->u.rp);
	case EMBER_OP_SWIGLU: {
		struct ember_op_swiglu sw;

		memcpy(&sw, p, sizeof(sw));
		return fw_check_swiglu(&sw, caps_dtypes, &op->u.bin);
	}
	case EMBER_OP_ADD: {
		struct ember_op_add add;

		memcpy(&add, p, sizeof(add));
		return fw_check_add(&add, caps_dtypes, &op->u.bin);
	}
	case EMBER_OP_COPY:
		memcpy(&op->u.cp.op, p, sizeof(op->u.cp.op));
		return fw_check_copy(&op->u.cp.op, caps_dtypes, &op->u.cp);
	default:
		return EMBER_JOB_FW_ERROR;	/* op_struct_size() knows more */
	}
}

uint32_t ember_fw_validate(const void *cmd, uint32_t cmd_size,
			   uint32_t caps_ops, uint32_t caps_dtypes,
			   uint32_t *bad_op)
{
	const uint8_t *p = cmd;
	uint32_t off = 0, index = 0;
	struct fw_op op;

	*bad_op = 0;
	if (!cmd || cmd_size == 0 || cmd_size > FW_MAX_CMD_SIZE)
		return EMBER_JOB_BAD_OP;
	while (off < cmd_size) {
		uint32_t st = fw_decode_op(p + off, cmd_size - off, caps_ops,
					   caps_dtypes, &op);

		if (st != EMBER_JOB_OK) {
			*bad_op = index;
			return st;
		}
		off += op.size;
		index++;
	}
	return EMBER_JOB_OK;
}
