/* SPDX-License-Identifier: MIT */
/*
 * Internal interfaces of the command processor: the decoded form of one op
 * (checked once by validate and again, from a private copy, right before
 * it runs) and 64-bit range arithmetic that refuses to overflow.
 */
#ifndef EMBER_FW_INTERNAL_H
#define EMBER_FW_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drm/ember_accel.h"
#include "ember/fw.h"
#include "ember/kernels.h"

/* Limits of one op. They keep every size product far from 64-bit overflow
 * and bound a single op's work; larger models split their ops. */
/*
 * For work arrays on the stack, written before they are read: QEMU builds
 * the firmware with -ftrivial-auto-var-init=zero, which would clear each
 * op's 256 KiB of work memory every time it runs.
 */
#if defined(__has_attribute)
#if __has_attribute(uninitialized)
#define FW_NOINIT __attribute__((uninitialized))
#endif
#endif
#ifndef FW_NOINIT
#define FW_NOINIT
#endif

#define FW_MAX_DIM		(1u << 20)	/* matmul m, n, k; attention n_tok */
#define FW_MAX_CTX		(1u << 24)	/* attention n_ctx */
#define FW_MAX_HEADS		4096u
/* A command stream longer than this is refused (BAD_OP at op 0) so a
 * bouncing HAL never copies gigabytes. */
#define FW_MAX_CMD_SIZE		(64u << 20)

/* A device-VA byte range [va, va + len). */
struct fw_range {
	uint64_t va;
	uint64_t len;
};

struct fw_matmul_plan {
	struct ember_op_matmul op;
	struct fw_range a, w, c, bias;	/* bias.len == 0: no bias */
};

struct fw_attention_plan {
	struct ember_op_attention op;
	struct fw_range q, k, v, out;
	struct fw_range k_new, v_new;	/* len 0 without APPEND_KV */
};

struct fw_rmsnorm_plan {
	struct ember_op_rmsnorm op;
	struct fw_range x, w, out;	/* w.len 0 without WEIGHT */
};

struct fw_rope_plan {
	struct ember_op_rope op;
	struct fw_range x, out;
	bool in_place;
};

/* SWIGLU and ADD: out = f(a, b) on rows of f32. */
struct fw_binary_plan {
	uint32_t opcode;
	uint32_t rows, n;
	struct fw_range a, b, out;
	uint64_t a_stride, b_stride, out_stride;
};

struct fw_copy_plan {
	struct ember_op_copy op;
	struct fw_range src, dst;
};

/* One decoded, fully checked op. */
struct fw_op {
	uint32_t opcode;
	uint32_t size;		/* bytes it occupies in the stream */
	union {
		struct fw_matmul_plan mm;
		struct fw_attention_plan at;
		struct fw_rmsnorm_plan rn;
		struct fw_rope_plan rp;
		struct fw_binary_plan bin;
		struct fw_copy_plan cp;
	} u;
};

/* Decode and check the op at @p (@avail bytes left in the stream, any
 * alignment). Returns EMBER_JOB_OK with @op filled, or the op's status.
 * On a bad header op->size is left 0. */
uint32_t fw_decode_op(const uint8_t *p, uint32_t avail, uint32_t caps_ops,
		      uint32_t caps_dtypes, struct fw_op *op);

/* Op bodies: check the fields of a copied op and compute its ranges. */
uint32_t fw_check_matmul(const struct ember_op_matmul *op,
			 uint32_t caps_dtypes, struct fw_matmul_plan *plan);
uint32_t fw_check_attention(const struct ember_op_attention *op,
			    uint32_t caps_dtypes,
			    struct fw_attention_plan *plan);
uint32_t fw_check_rmsnorm(const struct ember_op_rmsnorm *op,
			  uint32_t caps_dtypes, struct fw_rmsnorm_plan *plan);
uint32_t fw_check_rope(const struct ember_op_rope *op, uint32_t caps_dtypes,
		       struct fw_rope_plan *plan);
uint32_t fw_check_swiglu(const struct ember_op_swiglu *op,
			 uint32_t caps_dtypes, struct fw_binary_plan *plan);
uint32_t fw_check_add(const struct ember_op_add *op, uint32_t caps_dtypes,
		      struct fw_binary_plan *plan);
uint32_t fw_check_copy(const struct ember_op_copy *op, uint32_t caps_dtypes,
		       struct fw_copy_plan *plan);

/* Run a checked op. Returns EMBER_JOB_OK or a status (MMU faults fill
 * res->fault_va); adds the bytes it moved to @res. */
/*
 * MATMULs in a row that read the same A (Q/K/V, gate/up) run as one group
 * of at most FW_MM_GROUP. joins() says whether @next may join the @n
 * plans of @g: same A, shape and weight type, work memory that fits, and
 * no op writing what another reads or writes, so that the group computes
 * bitwise what the ops give one by one. run_group() maps and runs them;
 * when a mapping faults, the ops before it still run: *@done says how many
 * did.
 */
#define FW_MM_GROUP	4u
bool fw_matmul_joins(const struct fw_matmul_plan *const *g, uint32_t n,
		     const struct fw_matmul_plan *next, int nthreads);
uint32_t fw_run_matmul_group(const struct ember_hal *hal, uint32_t as,
			     const struct fw_matmul_plan *const *g,
			     uint32_t n, struct ember_job_result *res,
			     uint32_t *done);
uint32_t fw_run_matmul(const struct ember_hal *hal, uint32_t as,
		       const struct fw_matmul_plan *plan,
		       struct ember_job_result *res);
uint32_t fw_run_attention(const struct ember_hal *hal, uint32_t as,
			  const struct fw_attention_plan *plan,
			  struct ember_job_result *res);

uint32_t fw_run_rmsnorm(const struct ember_hal *hal, uint32_t as,
			const struct fw_rmsnorm_plan *plan,
			struct ember_job_result *res);
uint32_t fw_run_rope(const struct ember_hal *hal, uint32_t as,
		     const struct fw_rope_plan *plan,
		     struct ember_job_result *res);
uint32_t fw_run_binary(const struct ember_hal *hal, uint32_t as,
		       const struct fw_binary_plan *plan,
		       struct ember_job_result *res);
uint32_t fw_run_copy(const struct ember_hal *hal, uint32_t as,
		     const struct fw_copy_plan *plan,
		     struct ember_job_result *res);

/* Shared field checks. */
bool fw_float_is_finite(float f);
/* f32 rows: shape bounded, stride >= row and 4-aligned, va 4-aligned, range
 * computed without overflow. */
bool fw_f32_rows(uint64_t va, uint64_t rows, uint64_t stride, uint64_t n,
		 struct fw_range *r);
/* Rope parameters: rope_dim even in [2, head_dim], base finite > 0. */
bool fw_rope_params_ok(uint32_t head_dim, uint32_t rope_dim, float base);

/* The kernels' executor on the HAL's compute threads (task counts above
 * hal->nthreads are spread over them); serial if the HAL has no
 * parallel(). */
struct ek_exec fw_exec(const struct ember_hal *hal);

/* Operand mapping shared by the op runners. */
struct fw_mapping {
	void *ptr;
	uint64_t len;
	unsigned int access;
};
/* Map @r with @access into @m. Returns false on an MMU fault, with
 * res->fault_va set. */
bool fw_map(const struct ember_hal *hal, uint32_t as, struct fw_range r,
	    unsigned int access, struct fw_mapping *m,
	    struct ember_job_result *res);
/* Unmap @count mappings (skipping unmapped ones) and count their bytes. */
void fw_unmap_all(const struct ember_hal *hal, struct fw_mapping *m,
		  unsigned int count, struct ember_job_result *res);

/* ---- checked arithmetic ------------------------------------------------ */

static inline bool fw_mul_ok(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

static inline bool fw_add_ok(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

/*
 * The bytes spanned by @rows rows of @row_bytes, @stride apart, at @va:
 * (rows - 1) * stride + row_bytes. False if that or va + len overflows.
 */
static inline bool fw_matrix_range(uint64_t va, uint64_t rows,
				   uint64_t stride, uint64_t row_bytes,
				   struct fw_range *r)
{
	uint64_t span, len, end;

	if (rows == 0 || row_bytes == 0)
		return false;
	if (!fw_mul_ok(rows - 1, stride, &span) ||
	    !fw_add_ok(span, row_bytes, &len) || !fw_add_ok(va, len, &end))
		return false;
	r->va = va;
	r->len = len;
	return true;
}

static inline bool fw_ranges_overlap(struct fw_range x, struct fw_range y)
{
	if (x.len == 0 || y.len == 0)
		return false;
	return x.va < y.va + y.len && y.va < x.va + x.len;
}

static inline bool fw_bit_set(uint32_t mask, uint32_t bit)
{
	return bit < 32 && (mask & (1u << bit));
}

#endif /* EMBER_FW_INTERNAL_H */
