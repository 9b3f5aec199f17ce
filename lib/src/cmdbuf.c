// SPDX-License-Identifier: MIT
/*
 * Command buffers: a mapped buffer that holds the command streams of many
 * jobs back to back. Each op is checked on the host as the device checks it,
 * so mistakes fail here with a message instead of as a job status.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define EMBER_MAX_HEAD_DIM 512	/* = EK_MAX_HEAD_DIM of the device kernels */

struct ember_cmdbuf {
	struct ember_device *dev;
	struct ember_bo *bo;
	uint8_t *map;
	uint32_t capacity;
	uint32_t used;		/* end of the last op written */
	uint32_t job_start;	/* start of the current job's stream */
	struct ember_job cur;	/* BO list of the current job */
};

int ember_job_add_bo(struct ember_job *job, uint32_t handle, uint32_t flags)
{
	uint32_t i;

	for (i = 0; i < job->bo_count; i++) {
		if (job->bos[i].handle == handle) {
			job->bos[i].flags |= flags;
			return 0;
		}
	}
	if (job->bo_count >= EMBER_JOB_MAX_BOS)
		return -E2BIG;
	job->bos[job->bo_count].handle = handle;
	job->bos[job->bo_count].flags = flags;
	job->bo_count++;
	return 0;
}

int ember_cmdbuf_create(struct ember_device *dev, uint32_t capacity,
			struct ember_cmdbuf **cbp)
{
	struct ember_cmdbuf *cb;
	void *map;
	int ret;

	*cbp = NULL;
	if (capacity < 8)
		return ember_dev_fail(dev, -EINVAL,
			"ember_cmdbuf_create: capacity %u is below one op (8 bytes)",
			capacity);
	cb = calloc(1, sizeof(*cb));
	if (!cb)
		return ember_dev_fail(dev, -ENOMEM, "ember_cmdbuf_create: out of memory");
	ret = ember_bo_create(dev, capacity, &cb->bo);
	if (!ret)
		ret = ember_bo_map(cb->bo, &map);
	if (ret) {
		ember_bo_free(cb->bo);
		free(cb);
		return ret;
	}
	cb->dev = dev;
	cb->map = map;
	cb->capacity = capacity & ~7u;
	ember_cmdbuf_reset(cb);
	*cbp = cb;
	return 0;
}

void ember_cmdbuf_free(struct ember_cmdbuf *cb)
{
	if (!cb)
		return;
	ember_bo_free(cb->bo);
	free(cb);
}

void ember_cmdbuf_begin(struct ember_cmdbuf *cb)
{
	cb->used = cb->job_start;
	memset(&cb->cur, 0, sizeof(cb->cur));
}

void ember_cmdbuf_reset(struct ember_cmdbuf *cb)
{
	cb->job_start = 0;
	ember_cmdbuf_begin(cb);
}

struct ember_bo *ember_cmdbuf_bo(const struct ember_cmdbuf *cb)
{
	return cb->bo;
}

uint32_t ember_cmdbuf_used(const struct ember_cmdbuf *cb)
{
	return cb->used;
}

int ember_cmdbuf_end(struct ember_cmdbuf *cb, struct ember_job *job)
{
	if (cb->used == cb->job_start)
		return ember_dev_fail(cb->dev, -EINVAL,
			"ember_cmdbuf_end: the job has no ops; add at least a NOP");
	*job = cb->cur;
	job->cmd_handle = ember_bo_handle(cb->bo);
	job->cmd_offset = cb->job_start;
	job->cmd_size = cb->used - cb->job_start;
	cb->job_start = cb->used;
	memset(&cb->cur, 0, sizeof(cb->cur));
	return 0;
}

/* Room for @size more bytes of the current job, or -ENOSPC. */
static int reserve(struct ember_cmdbuf *cb, uint32_t size, void **p)
{
	if (size > cb->capacity - cb->used)
		return ember_dev_fail(cb->dev, -ENOSPC,
			"command buffer full (%u of %u bytes used, op needs %u): submit its jobs, wait for them, then ember_cmdbuf_reset(), or create a bigger one",
			cb->used, cb->capacity, size);
	*p = cb->map + cb->used;
	return 0;
}

int ember_cmdbuf_raw(struct ember_cmdbuf *cb, const void *op, uint32_t size)
{
	void *p = NULL;
	int ret;

	if (!size || size % 8)
		return ember_dev_fail(cb->dev, -EINVAL,
			"ember_cmdbuf_raw: size %u is not a non-zero multiple of 8",
			size);
	ret = reserve(cb, size, &p);
	if (ret)
		return ret;
	memcpy(p, op, size);
	cb->used += size;
	return 0;
}

int ember_cmdbuf_nop(struct ember_cmdbuf *cb)
{
	struct ember_op_hdr hdr = { .opcode = EMBER_OP_NOP, .size = sizeof(hdr) };

	return ember_cmdbuf_raw(cb, &hdr, sizeof(hdr));
}

/* Bytes of @n elements of @dtype and its row alignment; 0 if invalid. */
static uint64_t row_bytes(uint32_t dtype, uint64_t n, uint64_t *align)
{
	switch (dtype) {
	case EMBER_DTYPE_F32:
		*align = 4;
		return n * 4;
	case EMBER_DTYPE_F16:
	case EMBER_DTYPE_BF16:
		*align = 2;
		return n * 2;
	case EMBER_DTYPE_Q8_0:
		*align = 2;
		return n % 32 ? 0 : n / 32 * 34;
	case EMBER_DTYPE_Q4_0:
		*align = 2;
		return n % 32 ? 0 : n / 32 * 18;
	default:
		return 0;
	}
}

static const char *dtype_name(uint32_t dtype)
{
	switch (dtype) {
	case EMBER_DTYPE_F32: return "F32";
	case EMBER_DTYPE_F16: return "F16";
	case EMBER_DTYPE_BF16: return "BF16";
	case EMBER_DTYPE_Q8_0: return "Q8_0";
	case EMBER_DTYPE_Q4_0: return "Q4_0";
	default: return "unknown";
	}
}

struct span {
	uint64_t start, end;	/* device VAs, [start, end) */
	const char *name;	/* the operand's, for messages */
};

/* Limits of the device's firmware (not in the uapi yet). */
#define EMBER_MAX_DIM	(1u << 20)	/* matmul m, n, k; attention n_tok */
#define EMBER_MAX_CTX	(1u << 24)
#define EMBER_MAX_HEADS	4096u

/*
 * Check operand @what: @rows rows of @row bytes, @stride apart, at @r;
 * stride 0 means packed. On success *@va is its device VA and *@stride_out
 * the effective stride.
 */
static int check_operand(struct ember_cmdbuf *cb, const char *op,
			 const char *what, const struct ember_ref *r,
			 uint64_t rows, uint64_t row, uint64_t align,
			 uint64_t stride, __u64 *va, __u64 *stride_out,
			 struct span *sp)
{
	uint64_t span, end;

	if (!r->bo)
		return ember_dev_fail(cb->dev, -EINVAL, "%s: operand %s has no buffer",
				  op, what);
	if (ember_bo_device(r->bo) != cb->dev)
		return ember_dev_fail(cb->dev, -EINVAL,
			"%s: operand %s's buffer belongs to another device/file; buffers are per file",
			op, what);
	if (!stride)
		stride = row;
	if (stride < row)
		return ember_dev_fail(cb->dev, -EINVAL,
			"%s: %s stride %llu is below its row size %llu", op, what,
			(unsigned long long)stride, (unsigned long long)row);
	if (stride % align || r->offset % align)
		return ember_dev_fail(cb->dev, -EINVAL,
			"%s: %s offset %llu / stride %llu not %llu-byte aligned",
			op, what, (unsigned long long)r->offset,
			(unsigned long long)stride, (unsigned long long)align);
	if (!ember_mul_ok(rows - 1, stride, &span) ||
	    !ember_add_ok(span, row, &span) ||
	    !ember_add_ok(span, r->offset, &end) ||
	    end > ember_bo_size(r->bo))
		return ember_dev_fail(cb->dev, -ERANGE,
			"%s: %s (%llu rows of %llu bytes, stride %llu, offset %llu) does not fit its %llu-byte buffer",
			op, what, (unsigned long long)rows,
			(unsigned long long)row, (unsigned long long)stride,
			(unsigned long long)r->offset,
			(unsigned long long)ember_bo_size(r->bo));
	*va = ember_bo_va(r->bo) + r->offset;
	*stride_out = stride;
	sp->start = *va;
	sp->end = *va + span;
	sp->name = what;
	return 0;
}

/*
 * The device refuses an output that overlaps an input (BAD_DESC): check
 * @out against each input span of the NULL-terminated list, in order. An
 * empty span (an operand the op does not use) overlaps nothing.
 */
__attribute__((sentinel))
static int check_aliases(struct ember_cmdbuf *cb, const char *op,
			 const struct span *out, ...)
{
	const struct span *in;
	va_list ap;
	int ret = 0;

	va_start(ap, out);
	while (!ret && (in = va_arg(ap, const struct span *)))
		if (in->end > in->start && out->start < in->end &&
		    in->start < out->end)
			ret = ember_dev_fail(cb->dev, -EINVAL,
				"%s: output %s overlaps input %s; the device computes out of place: use separate memory",
				op, out->name, in->name);
	va_end(ap);
	return ret;
}

/* Add the operands' BOs to the current job (all or nothing). */
static int add_bos(struct ember_cmdbuf *cb, const char *op,
		   const struct ember_ref *const *refs, const uint32_t *flags,
		   int n)
{
	struct ember_job tmp = cb->cur;
	int i;

	for (i = 0; i < n; i++) {
		if (!refs[i])
			continue;
		if (ember_job_add_bo(&tmp, ember_bo_handle(refs[i]->bo), flags[i]))
			return ember_dev_fail(cb->dev, -E2BIG,
				"%s: the job would use more than %d buffers; end it and start another",
				op, EMBER_JOB_MAX_BOS);
	}
	if (cb->dev->info.max_job_bos && tmp.bo_count > cb->dev->info.max_job_bos)
		return ember_dev_fail(cb->dev, -E2BIG,
			"%s: the job would use %u buffers, the device allows %u; end it and start another",
			op, tmp.bo_count, cb->dev->info.max_job_bos);
	cb->cur = tmp;
	return 0;
}

static int check_caps(struct ember_cmdbuf *cb, const char *op, unsigned opc,
		      uint32_t dtype)
{
	if (!ember_device_has_op(cb->dev, opc))
		return ember_dev_fail(cb->dev, -EOPNOTSUPP,
			"%s: this device/firmware does not support the op (caps_ops 0x%llx)",
			op, (unsigned long long)cb->dev->info.caps_ops);
	if (!ember_device_has_dtype(cb->dev, dtype))
		return ember_dev_fail(cb->dev, -EOPNOTSUPP,
			"%s: this device/firmware does not support dtype %s (%u; caps_dtypes 0x%llx)",
			op, dtype_name(dtype), dtype,
			(unsigned long long)cb->dev->info.caps_dtypes);
	return 0;
}

/* Ops and flags of ABI 1.1 need a firmware that speaks it. */
static int ember_abi_1_1(const struct ember_device *dev)
{
	return dev->info.fw_abi_version >= (1u << 16 | 1u);
}

/* ABI 1.2: ATTENTION over Q8_0 KV caches. */
static int ember_abi_1_2(const struct ember_device *dev)
{
	return dev->info.fw_abi_version >= (1u << 16 | 2u);
}

/* ABI 1.3: MATMUL weights in the X16 layout. */
static int ember_abi_1_3(const struct ember_device *dev)
{
	return dev->info.fw_abi_version >= (1u << 16 | 3u);
}

/*
 * Bytes of @n rows of @k Q8_0 / Q4_0 weights in the X16 layout
 * (uapi EMBER_MATMUL_W_X16): groups of sixteen rows, per 32-block a
 * 512-byte (Q8_0) or 256-byte (Q4_0) entry of quants and 16 f16 scales.
 */
static uint64_t x16_bytes(uint32_t dtype, uint32_t n, uint32_t k)
{
	uint64_t qb = dtype == EMBER_DTYPE_Q8_0 ? 512 : 256;

	return ((uint64_t)n + 15) / 16 * (k / 32) * (qb + 32);
}

/* Rope parameters with their defaults (0: head_dim, 0: 10000). */
static int rope_params(struct ember_cmdbuf *cb, const char *op,
		       uint32_t head_dim, uint32_t rope_dim, float base,
		       __u32 *rope_dim_out, float *base_out)
{
	if (!rope_dim)
		rope_dim = head_dim;
	if (base == 0.0f)
		base = 10000.0f;
	if (rope_dim < 2 || rope_dim % 2 || rope_dim > head_dim)
		return ember_dev_fail(cb->dev, -EINVAL,
			"%s: rope_dim %u must be even and in [2, head_dim %u]",
			op, rope_dim, head_dim);
	if (!isfinite(base) || base <= 0.0f)
		return ember_dev_fail(cb->dev, -EINVAL,
			"%s: rope freq_base must be finite and > 0", op);
	*rope_dim_out = rope_dim;
	*base_out = base;
	return 0;
}

/*
 * Append a checked op: fill the header of @body (an op struct of @size
 * bytes, header first), reserve room, add the operands' BOs to the job (all
 * or nothing; a NULL ref is an unused operand) and copy the op in.
 */
static int emit_op(struct ember_cmdbuf *cb, const char *op, unsigned opc,
		   uint32_t op_flags, void *body, uint32_t size,
		   const struct ember_ref *const *refs, const uint32_t *flags,
		   int n)
{
	struct ember_op_hdr *hdr = body;	/* the header leads every op */
	void *p = NULL;
	int ret;

	hdr->opcode = (uint16_t)opc;
	hdr->size = (uint16_t)size;
	hdr->flags = op_flags;
	ret = reserve(cb, size, &p);
	if (!ret)
		ret = add_bos(cb, op, refs, flags, n);
	if (ret)
		return ret;
	memcpy(p, body, size);
	cb->used += size;
	return 0;
}

int ember_cmdbuf_matmul(struct ember_cmdbuf *cb,
			const struct ember_matmul_desc *d)
{
	static const char op[] = "MATMUL";
	struct ember_op_matmul mm;
	uint64_t wrow, walign;
	struct span sa, sw, sc, sb = { 0 };
	__u64 a4;
	int bias = !!(d->flags & EMBER_MATMUL_BIAS);
	int acc = !!(d->flags & EMBER_MATMUL_ACCUMULATE);
	int x16 = !!(d->flags & EMBER_MATMUL_W_X16);
	int ret;

	memset(&mm, 0, sizeof(mm));
	if (!d->m || !d->n || !d->k)
		return ember_dev_fail(cb->dev, -EINVAL,
			"MATMUL: m, n, k must be non-zero (got %u, %u, %u)",
			d->m, d->n, d->k);
	if (d->m > EMBER_MAX_DIM || d->n > EMBER_MAX_DIM || d->k > EMBER_MAX_DIM)
		return ember_dev_fail(cb->dev, -EINVAL,
			"MATMUL: m, n, k must be at most %u (got %u, %u, %u): split the op",
			EMBER_MAX_DIM, d->m, d->n, d->k);
	if (d->flags & ~(EMBER_MATMUL_ACCUMULATE | EMBER_MATMUL_BIAS |
			 EMBER_MATMUL_W_X16))
		return ember_dev_fail(cb->dev, -EINVAL,
			"MATMUL: unknown flags 0x%x (known: ACCUMULATE, BIAS, W_X16)",
			d->flags);
	wrow = row_bytes(d->w_dtype, d->k, &walign);
	if (!wrow)
		return ember_dev_fail(cb->dev, -EINVAL,
			"MATMUL: w_dtype %s (%u) with k = %u is invalid (known dtypes F32/F16/BF16/Q8_0/Q4_0; block types need k %% 32 == 0)",
			dtype_name(d->w_dtype), d->w_dtype, d->k);
	if (x16) {
		if (d->w_dtype != EMBER_DTYPE_Q8_0 && d->w_dtype != EMBER_DTYPE_Q4_0)
			return ember_dev_fail(cb->dev, -EINVAL,
				"MATMUL: W_X16 weights are Q8_0 or Q4_0, not %s",
				dtype_name(d->w_dtype));
		if (d->w_stride)
			return ember_dev_fail(cb->dev, -EINVAL,
				"MATMUL: W_X16 weights are one packed block: w_stride must be 0, not %llu",
				(unsigned long long)d->w_stride);
		if (!ember_abi_1_3(cb->dev))
			return ember_dev_fail(cb->dev, -EOPNOTSUPP,
				"MATMUL: W_X16 needs firmware ABI 1.3, the device runs %u.%u: update the firmware or pass W as rows",
				cb->dev->info.fw_abi_version >> 16,
				cb->dev->info.fw_abi_version & 0xffff);
		wrow = x16_bytes(d->w_dtype, d->n, d->k);
		walign = 64;
	}
	ret = check_caps(cb, op, EMBER_OP_MATMUL, d->w_dtype);
	if (ret)
		return ret;
	ret = check_operand(cb, op, "A", &d->a, d->m, (uint64_t)d->k * 4, 4,
			    d->a_stride, &mm.a_va, &mm.a_stride, &sa);
	if (!ret)
		ret = check_operand(cb, op, "W", &d->w, x16 ? 1 : d->n, wrow,
				    walign, d->w_stride, &mm.w_va, &mm.w_stride,
				    &sw);
	if (x16)
		mm.w_stride = 0;
	if (!ret)
		ret = check_operand(cb, op, "C", &d->c, d->m, (uint64_t)d->n * 4,
				    4, d->c_stride, &mm.c_va, &mm.c_stride, &sc);
	if (!ret && bias)
		ret = check_operand(cb, op, "bias", &d->bias, 1,
				    (uint64_t)d->n * 4, 4, 0, &mm.bias_va, &a4, &sb);
	if (!ret)
		ret = check_aliases(cb, op, &sc, &sa, &sw, &sb, NULL);
	if (ret)
		return ret;
	mm.m = d->m;
	mm.n = d->n;
	mm.k = d->k;
	mm.w_dtype = (uint8_t)d->w_dtype;
	mm.a_dtype = EMBER_DTYPE_F32;
	mm.c_dtype = EMBER_DTYPE_F32;
	{
		const struct ember_ref *refs[4] = {
			&d->a, &d->w, &d->c, bias ? &d->bias : NULL
		};
		const uint32_t fl[4] = {
			DRM_EMBER_BO_READ, DRM_EMBER_BO_READ,
			DRM_EMBER_BO_WRITE | (acc ? DRM_EMBER_BO_READ : 0),
			DRM_EMBER_BO_READ
		};

		return emit_op(cb, op, EMBER_OP_MATMUL, d->flags, &mm,
			       sizeof(mm), refs, fl, 4);
	}
}

int ember_cmdbuf_attention(struct ember_cmdbuf *cb,
			   const struct ember_attention_desc *d)
{
	static const char op[] = "ATTENTION";
	struct ember_op_attention at;
	uint64_t kvrow, kvalign, qrow, positions;
	struct span sq, sk, sv, so, skn = { 0 }, svn = { 0 };
	int append = !!(d->flags & EMBER_ATTN_APPEND_KV);
	int rope = !!(d->flags & EMBER_ATTN_ROPE);
	uint32_t kv_use = append ? DRM_EMBER_BO_READ | DRM_EMBER_BO_WRITE
				 : DRM_EMBER_BO_READ;
	int ret;

	memset(&at, 0, sizeof(at));
	if (!d->n_tok || !d->n_head || !d->n_kv_head || !d->head_dim)
		return ember_dev_fail(cb->dev, -EINVAL,
			"ATTENTION: n_tok, n_head, n_kv_head, head_dim must be non-zero (got %u, %u, %u, %u)",
			d->n_tok, d->n_head, d->n_kv_head, d->head_dim);
	if (d->n_head % d->n_kv_head)
		return ember_dev_fail(cb->dev, -EINVAL,
			"ATTENTION: n_head %u is not a multiple of n_kv_head %u",
			d->n_head, d->n_kv_head);
	if (d->n_tok > EMBER_MAX_DIM || d->n_head > EMBER_MAX_HEADS ||
	    d->n_ctx > EMBER_MAX_CTX)
		return ember_dev_fail(cb->dev, -EINVAL,
			"ATTENTION: n_tok %u / n_head %u / n_ctx %u above the device's %u / %u / %u",
			d->n_tok, d->n_head, d->n_ctx, EMBER_MAX_DIM,
			EMBER_MAX_HEADS, EMBER_MAX_CTX);
	if (d->head_dim > EMBER_MAX_HEAD_DIM)
		return ember_dev_fail(cb->dev, -EINVAL,
			"ATTENTION: head_dim %u above the device's %u",
			d->head_dim, EMBER_MAX_HEAD_DIM);
	positions = (uint64_t)d->n_past + d->n_tok;
	if (positions > d->n_ctx)
		return ember_dev_fail(cb->dev, -EINVAL,
			"ATTENTION: n_past %u + n_tok %u exceeds n_ctx %u (the KV cache size)",
			d->n_past, d->n_tok, d->n_ctx);
	if (d->kv_dtype != EMBER_DTYPE_F32 && d->kv_dtype != EMBER_DTYPE_F16 &&
	    d->kv_dtype != EMBER_DTYPE_Q8_0)
		return ember_dev_fail(cb->dev, -EINVAL,
			"ATTENTION: kv_dtype %s (%u) unsupported: use F32, F16 or Q8_0",
			dtype_name(d->kv_dtype), d->kv_dtype);
	if (d->kv_dtype == EMBER_DTYPE_Q8_0 && d->head_dim % 32)
		return ember_dev_fail(cb->dev, -EINVAL,
			"ATTENTION: a Q8_0 KV cache needs head_dim %% 32 == 0 (got head_dim %u): use F16",
			d->head_dim);
	if (!isfinite(d->scale) || d->scale < 0)
		return ember_dev_fail(cb->dev, -EINVAL,
			"ATTENTION: scale must be finite and >= 0 (0: 1/sqrt(head_dim))");
	if (d->flags & ~(EMBER_ATTN_APPEND_KV | EMBER_ATTN_ROPE |
			 EMBER_ATTN_ROPE_NEOX) ||
	    ((d->flags & EMBER_ATTN_ROPE_NEOX) && !rope))
		return ember_dev_fail(cb->dev, -EINVAL,
			"ATTENTION: flags 0x%x invalid (known: APPEND_KV, ROPE, ROPE_NEOX; NEOX needs ROPE)",
			d->flags);
	ret = check_caps(cb, op, EMBER_OP_ATTENTION, d->kv_dtype);
	if (ret)
		return ret;
	if (d->flags && !ember_abi_1_1(cb->dev))
		return ember_dev_fail(cb->dev, -EOPNOTSUPP,
			"ATTENTION: APPEND_KV/ROPE need firmware ABI 1.1, the device runs %u.%u: update the firmware",
			cb->dev->info.fw_abi_version >> 16,
			cb->dev->info.fw_abi_version & 0xffff);
	if (d->kv_dtype == EMBER_DTYPE_Q8_0 && !ember_abi_1_2(cb->dev))
		return ember_dev_fail(cb->dev, -EOPNOTSUPP,
			"ATTENTION: a Q8_0 KV cache needs firmware ABI 1.2, the device runs %u.%u: update the firmware or use F16",
			cb->dev->info.fw_abi_version >> 16,
			cb->dev->info.fw_abi_version & 0xffff);
	if (rope) {
		ret = rope_params(cb, op, d->head_dim, d->rope_dim,
				  d->rope_freq_base, &at.rope_dim,
				  &at.rope_freq_base);
		if (ret)
			return ret;
	}
	qrow = (uint64_t)d->n_head * d->head_dim * 4;
	kvrow = row_bytes(d->kv_dtype, (uint64_t)d->n_kv_head * d->head_dim,
			  &kvalign);
	ret = check_operand(cb, op, "Q", &d->q, d->n_tok, qrow, 4, d->q_stride,
			    &at.q_va, &at.q_stride, &sq);
	if (!ret)
		ret = check_operand(cb, op, "K", &d->k, positions, kvrow,
				    kvalign, d->kv_stride, &at.k_va,
				    &at.kv_stride, &sk);
	if (!ret)
		ret = check_operand(cb, op, "V", &d->v, positions, kvrow,
				    kvalign, d->kv_stride, &at.v_va,
				    &at.kv_stride, &sv);
	if (!ret)
		ret = check_operand(cb, op, "out", &d->out, d->n_tok, qrow, 4,
				    d->out_stride, &at.out_va, &at.out_stride,
				    &so);
	if (!ret)
		ret = check_aliases(cb, op, &so, &sq, &sk, &sv, NULL);
	if (!ret && append) {
		uint64_t nrow = (uint64_t)d->n_kv_head * d->head_dim * 4;
		__u64 ns2;

		ret = check_operand(cb, op, "k_new", &d->k_new, d->n_tok, nrow,
				    4, d->new_stride, &at.k_new_va,
				    &at.new_stride, &skn);
		if (!ret)
			ret = check_operand(cb, op, "v_new", &d->v_new, d->n_tok,
					    nrow, 4, d->new_stride, &at.v_new_va,
					    &ns2, &svn);
		/* appending, the device writes K and V too */
		if (!ret)
			ret = check_aliases(cb, op, &so, &skn, &svn, NULL);
		if (!ret)
			ret = check_aliases(cb, op, &sk, &sv, &sq, &skn, &svn,
					    NULL);
		if (!ret)
			ret = check_aliases(cb, op, &sv, &sq, &skn, &svn, NULL);
	}
	if (ret)
		return ret;
	at.n_tok = d->n_tok;
	at.n_past = d->n_past;
	at.n_head = d->n_head;
	at.n_kv_head = d->n_kv_head;
	at.head_dim = d->head_dim;
	at.kv_dtype = (uint8_t)d->kv_dtype;
	at.scale = d->scale > 0 ? d->scale : 1.0f / sqrtf((float)d->head_dim);
	at.n_ctx = d->n_ctx;
	{
		const struct ember_ref *refs[6] = {
			&d->q, &d->k, &d->v, &d->out,
			append ? &d->k_new : NULL, append ? &d->v_new : NULL
		};
		const uint32_t fl[6] = {
			DRM_EMBER_BO_READ, kv_use, kv_use, DRM_EMBER_BO_WRITE,
			DRM_EMBER_BO_READ, DRM_EMBER_BO_READ
		};

		return emit_op(cb, op, EMBER_OP_ATTENTION, d->flags, &at,
			       sizeof(at), refs, fl, 6);
	}
}

/* ---- ABI 1.1 row ops --------------------------------------------------- */

/* Caps, ABI and the shared shape limits of a row op. */
static int row_op_begin(struct ember_cmdbuf *cb, const char *op, unsigned opc,
			uint32_t dtype, uint32_t rows, uint64_t n)
{
	int ret;

	if (!rows || !n || rows > EMBER_MAX_DIM || n > EMBER_MAX_DIM)
		return ember_dev_fail(cb->dev, -EINVAL,
			"%s: rows %u and row length %llu must be in [1, %u]: split the op",
			op, rows, (unsigned long long)n, EMBER_MAX_DIM);
	ret = check_caps(cb, op, opc, dtype);
	if (ret)
		return ret;
	if (!ember_abi_1_1(cb->dev))
		return ember_dev_fail(cb->dev, -EOPNOTSUPP,
			"%s: needs firmware ABI 1.1, the device runs %u.%u: update the firmware",
			op, cb->dev->info.fw_abi_version >> 16,
			cb->dev->info.fw_abi_version & 0xffff);
	return 0;
}

int ember_cmdbuf_rmsnorm(struct ember_cmdbuf *cb,
			 const struct ember_rmsnorm_desc *d)
{
	static const char op[] = "RMSNORM";
	struct ember_op_rmsnorm rn;
	int weight = !!(d->flags & EMBER_RMSNORM_WEIGHT);
	struct span sx, sw = { 0 }, so;
	__u64 ws;
	int ret;

	memset(&rn, 0, sizeof(rn));
	if (d->flags & ~EMBER_RMSNORM_WEIGHT)
		return ember_dev_fail(cb->dev, -EINVAL,
			"RMSNORM: unknown flags 0x%x (known: WEIGHT)", d->flags);
	if (!isfinite(d->eps) || d->eps < 0)
		return ember_dev_fail(cb->dev, -EINVAL,
			"RMSNORM: eps must be finite and >= 0");
	ret = row_op_begin(cb, op, EMBER_OP_RMSNORM, EMBER_DTYPE_F32, d->rows,
			   d->dim);
	if (!ret)
		ret = check_operand(cb, op, "x", &d->x, d->rows,
				    (uint64_t)d->dim * 4, 4, d->x_stride,
				    &rn.x_va, &rn.x_stride, &sx);
	if (!ret)
		ret = check_operand(cb, op, "out", &d->out, d->rows,
				    (uint64_t)d->dim * 4, 4, d->out_stride,
				    &rn.out_va, &rn.out_stride, &so);
	if (!ret && weight)
		ret = check_operand(cb, op, "w", &d->w, 1, (uint64_t)d->dim * 4,
				    4, 0, &rn.w_va, &ws, &sw);
	if (!ret)
		ret = check_aliases(cb, op, &so, &sx, &sw, NULL);
	if (ret)
		return ret;
	rn.rows = d->rows;
	rn.dim = d->dim;
	rn.eps = d->eps;
	{
		const struct ember_ref *refs[3] = { &d->x, weight ? &d->w : NULL,
						    &d->out };
		const uint32_t fl[3] = { DRM_EMBER_BO_READ, DRM_EMBER_BO_READ,
					 DRM_EMBER_BO_WRITE };

		return emit_op(cb, op, EMBER_OP_RMSNORM, d->flags, &rn,
			       sizeof(rn), refs, fl, 3);
	}
}

int ember_cmdbuf_rope(struct ember_cmdbuf *cb, const struct ember_rope_desc *d)
{
	static const char op[] = "ROPE";
	struct ember_op_rope rp;
	struct span sx, so;
	uint64_t row = (uint64_t)d->n_head * d->head_dim * 4;
	int in_place;
	int ret;

	memset(&rp, 0, sizeof(rp));
	if (d->flags & ~EMBER_ROPE_NEOX)
		return ember_dev_fail(cb->dev, -EINVAL,
			"ROPE: unknown flags 0x%x (known: NEOX)", d->flags);
	if (!d->n_head || d->n_head > EMBER_MAX_HEADS || !d->head_dim ||
	    d->head_dim > EMBER_MAX_HEAD_DIM)
		return ember_dev_fail(cb->dev, -EINVAL,
			"ROPE: n_head %u must be in [1, %u], head_dim %u in [1, %u]",
			d->n_head, EMBER_MAX_HEADS, d->head_dim,
			EMBER_MAX_HEAD_DIM);
	if ((uint64_t)d->pos0 + d->rows > EMBER_MAX_CTX)
		return ember_dev_fail(cb->dev, -EINVAL,
			"ROPE: pos0 %u + rows %u above the device's %u positions",
			d->pos0, d->rows, EMBER_MAX_CTX);
	/* the row length is bounded by n_head and head_dim above */
	ret = row_op_begin(cb, op, EMBER_OP_ROPE, EMBER_DTYPE_F32, d->rows,
			   d->head_dim);
	if (!ret)
		ret = rope_params(cb, op, d->head_dim, d->rope_dim, d->freq_base,
				  &rp.rope_dim, &rp.freq_base);
	if (!ret)
		ret = check_operand(cb, op, "x", &d->x, d->rows, row, 4,
				    d->x_stride, &rp.x_va, &rp.x_stride, &sx);
	if (!ret)
		ret = check_operand(cb, op, "out", &d->out, d->rows, row, 4,
				    d->out_stride, &rp.out_va, &rp.out_stride,
				    &so);
	if (ret)
		return ret;
	in_place = rp.out_va == rp.x_va && rp.out_stride == rp.x_stride;
	if (!in_place) {
		ret = check_aliases(cb, op, &so, &sx, NULL);
		if (ret)
			return ret;
	}
	rp.rows = d->rows;
	rp.n_head = d->n_head;
	rp.head_dim = d->head_dim;
	rp.pos0 = d->pos0;
	{
		const struct ember_ref *refs[2] = { &d->x, &d->out };
		const uint32_t fl[2] = {
			DRM_EMBER_BO_READ,
			DRM_EMBER_BO_WRITE | (in_place ? DRM_EMBER_BO_READ : 0)
		};

		return emit_op(cb, op, EMBER_OP_ROPE, d->flags, &rp,
			       sizeof(rp), refs, fl, 2);
	}
}

/* out = f(a, b) on f32 rows: SWIGLU and ADD share layout and rules. */
static int binary_op(struct ember_cmdbuf *cb, const char *op, unsigned opc,
		     uint32_t rows, uint32_t n, const struct ember_ref *a,
		     uint64_t as, const struct ember_ref *b, uint64_t bs,
		     const struct ember_ref *out, uint64_t os)
{
	struct ember_op_add body;	/* same layout as ember_op_swiglu */
	struct span sa, sb, so;
	int ret;

	_Static_assert(sizeof(struct ember_op_add) ==
		       sizeof(struct ember_op_swiglu), "same layout");
	memset(&body, 0, sizeof(body));
	ret = row_op_begin(cb, op, opc, EMBER_DTYPE_F32, rows, n);
	if (!ret)
		ret = check_operand(cb, op, "a", a, rows, (uint64_t)n * 4, 4, as,
				    &body.a_va, &body.a_stride, &sa);
	if (!ret)
		ret = check_operand(cb, op, "b", b, rows, (uint64_t)n * 4, 4, bs,
				    &body.b_va, &body.b_stride, &sb);
	if (!ret)
		ret = check_operand(cb, op, "out", out, rows, (uint64_t)n * 4, 4,
				    os, &body.out_va, &body.out_stride, &so);
	if (!ret)
		ret = check_aliases(cb, op, &so, &sa, &sb, NULL);
	if (ret)
		return ret;
	body.rows = rows;
	body.n = n;
	{
		const struct ember_ref *refs[3] = { a, b, out };
		const uint32_t fl[3] = { DRM_EMBER_BO_READ, DRM_EMBER_BO_READ,
					 DRM_EMBER_BO_WRITE };

		return emit_op(cb, op, opc, 0, &body, sizeof(body), refs, fl,
			       3);
	}
}

int ember_cmdbuf_swiglu(struct ember_cmdbuf *cb,
			const struct ember_swiglu_desc *d)
{
	return binary_op(cb, "SWIGLU", EMBER_OP_SWIGLU, d->rows, d->n,
			 &d->gate, d->gate_stride, &d->up, d->up_stride,
			 &d->out, d->out_stride);
}

int ember_cmdbuf_add(struct ember_cmdbuf *cb, const struct ember_add_desc *d)
{
	return binary_op(cb, "ADD", EMBER_OP_ADD, d->rows, d->n, &d->a,
			 d->a_stride, &d->b, d->b_stride, &d->out,
			 d->out_stride);
}

int ember_cmdbuf_copy(struct ember_cmdbuf *cb, const struct ember_copy_desc *d)
{
	static const char op[] = "COPY";
	struct ember_op_copy cp;
	uint64_t srow, drow, salign, dalign;
	struct span ss, sd;
	int ret;

	memset(&cp, 0, sizeof(cp));
	srow = row_bytes(d->src_dtype, d->n, &salign);
	drow = row_bytes(d->dst_dtype, d->n, &dalign);
	if (!srow || !drow)
		return ember_dev_fail(cb->dev, -EINVAL,
			"COPY: %s -> %s with n = %u is invalid (known dtypes F32/F16/BF16/Q8_0/Q4_0; block types need n %% 32 == 0)",
			dtype_name(d->src_dtype), dtype_name(d->dst_dtype), d->n);
	if (d->src_dtype != d->dst_dtype && d->src_dtype != EMBER_DTYPE_F32 &&
	    d->dst_dtype != EMBER_DTYPE_F32)
		return ember_dev_fail(cb->dev, -EOPNOTSUPP,
			"COPY: %s -> %s unsupported: one side must be F32 (copy through an F32 buffer)",
			dtype_name(d->src_dtype), dtype_name(d->dst_dtype));
	ret = row_op_begin(cb, op, EMBER_OP_COPY, d->src_dtype, d->rows, d->n);
	if (!ret)
		ret = check_caps(cb, op, EMBER_OP_COPY, d->dst_dtype);
	if (!ret)
		ret = check_operand(cb, op, "src", &d->src, d->rows, srow, salign,
				    d->src_stride, &cp.src_va, &cp.src_stride,
				    &ss);
	if (!ret)
		ret = check_operand(cb, op, "dst", &d->dst, d->rows, drow, dalign,
				    d->dst_stride, &cp.dst_va, &cp.dst_stride,
				    &sd);
	if (!ret)
		ret = check_aliases(cb, op, &sd, &ss, NULL);
	if (ret)
		return ret;
	cp.rows = d->rows;
	cp.n = d->n;
	cp.src_dtype = (uint8_t)d->src_dtype;
	cp.dst_dtype = (uint8_t)d->dst_dtype;
	{
		const struct ember_ref *refs[2] = { &d->src, &d->dst };
		const uint32_t fl[2] = { DRM_EMBER_BO_READ, DRM_EMBER_BO_WRITE };

		return emit_op(cb, op, EMBER_OP_COPY, 0, &cp, sizeof(cp), refs,
			       fl, 2);
	}
}
