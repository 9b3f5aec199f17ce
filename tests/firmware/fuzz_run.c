// SPDX-License-Identifier: MIT
/*
 * libFuzzer entry point that runs command streams to completion. The fake
 * device maps the stream read-only and DATA_PAGES of read-write operand
 * memory (plus a read-only page, with unmapped guard pages between) at
 * fixed VAs, so valid ops run the real kernels under the sanitizers.
 *
 * Input (bytes past the end read as 0, so every input decodes):
 *   byte 0     threads (bits 0-1: 1-4 of them; bit 2: real threads),
 *              operand data (bits 3-4, see fill_data), caps (bits 5-7:
 *              6 drops a dtype, 7 drops an op, else everything enabled)
 *   bytes 1-4  seed of the operand data
 *   then up to MAX_OPS ops, each a kind byte (opcode = kind % 8, higher
 *   bits pick flags) and the bytes its shape, strides and addresses take.
 *   Shapes are small and addresses come from place(): mostly packed one
 *   after the other in the data pages, sometimes an earlier operand (data
 *   flowing from op to op, or overlaps), another part of the pages, the
 *   read-only page, the end of the data (straddling the guard) or a
 *   misaligned address. A byte after each op may corrupt one of its bytes
 *   or give it a zero tail.
 *
 * Checks, aborting (a fuzzer crash) when one fails: the status is one a
 * job may end with and agrees with ember_fw_validate; an OK job ran every
 * op and a faulting one stopped at the op it names; no mapping is left and
 * the HAL was used correctly; a second run from the same memory gives the
 * same result and the same bytes in every page. The sanitizers check the
 * rest (built with ASan + UBSan, -fno-sanitize-recover).
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fake_hal.h"
#include "fuzz_run.h"

#define PAGE		EMBER_PAGE_SIZE
#define CMD_PAGES	1
#define DATA_PAGES	32
#define CMD_VA		FAKE_VA_BASE
#define DATA_VA		(CMD_VA + (CMD_PAGES + 1) * PAGE)
#define DATA_SIZE	((uint64_t)DATA_PAGES * PAGE)
#define RO_VA		(DATA_VA + DATA_SIZE + PAGE)
#define NPAGES		(CMD_PAGES + 1 + DATA_PAGES + 1 + 1 + 1)
#define MAX_OPS		8
#define MAX_CMD		(CMD_PAGES * PAGE)
#define RECENT		8

_Static_assert(MAX_OPS * (sizeof(struct ember_op_attention) + 8) <= MAX_CMD,
	       "the stream page holds MAX_OPS of the largest op");

static const uint8_t dtypes[FUZZ_NDTYPES] = {
	EMBER_DTYPE_F32, EMBER_DTYPE_F16, EMBER_DTYPE_Q4_0, EMBER_DTYPE_Q8_0,
	EMBER_DTYPE_BF16,
};

/* What the stats count for one decoded op. */
struct op_info {
	uint16_t opcode;
	uint8_t dt, dt2;	/* dtype indexes: matmul W, attention KV,
				 * copy src and dst */
	bool x16, shared, append_rope, split;
};

struct decoder {
	const uint8_t *in;
	size_t n, at;
	uint64_t next;		/* next free offset in the data pages */
	uint64_t recent[RECENT];	/* VAs placed last */
	unsigned int nrecent;
	uint8_t cmd[MAX_CMD];
	uint32_t size;
	struct op_info info[MAX_OPS];
	unsigned int nops;
	struct ember_op_matmul last_mm;	/* when the previous op is one */
	bool last_is_mm;
};

static struct fuzz_run_stats stats;

static uint8_t u8(struct decoder *d)
{
	return d->at < d->n ? d->in[d->at++] : 0;
}

static uint32_t u16(struct decoder *d)
{
	uint32_t lo = u8(d);

	return lo | (uint32_t)u8(d) << 8;
}

/* lo..hi inclusive, from one byte (two for spans above 256). */
static uint32_t pick(struct decoder *d, uint32_t lo, uint32_t hi)
{
	uint32_t span = hi - lo + 1;

	return lo + (span <= 256 ? u8(d) : u16(d)) % span;
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

static uint64_t row_size(uint8_t dt, uint64_t n)
{
	switch (dt) {
	case EMBER_DTYPE_F32:
		return n * 4;
	case EMBER_DTYPE_F16:
	case EMBER_DTYPE_BF16:
		return n * 2;
	case EMBER_DTYPE_Q8_0:
		return n / 32 * 34;
	default:
		return n / 32 * 18;	/* Q4_0 */
	}
}

static uint64_t dt_align(uint8_t dt)
{
	return dt == EMBER_DTYPE_F32 ? 4 : 2;
}

static bool is_block(uint8_t dt)
{
	return dt == EMBER_DTYPE_Q8_0 || dt == EMBER_DTYPE_Q4_0;
}

/* The device VA of an operand of @len bytes (see the header comment). */
static uint64_t place(struct decoder *d, uint64_t len, uint64_t align)
{
	uint8_t b = u8(d);
	uint64_t va, off;

	if (b < 0xe0 || (b < 0xf0 && !d->nrecent)) {
		off = align_up(d->next, align) + (b & 3) * align;
		if (off + len > DATA_SIZE)
			off = 0;	/* wrap: may overlap earlier operands */
		va = DATA_VA + off;
		d->next = off + len;
	} else if (b < 0xf0) {
		unsigned int n = d->nrecent < RECENT ? d->nrecent : RECENT;

		va = d->recent[(d->nrecent - 1 - (b & 7) % n) % RECENT];
	} else if (b < 0xf4) {
		va = DATA_VA + align_up((b & 3) * DATA_SIZE / 4 + 8 * align,
					align);
	} else if (b < 0xf8) {
		va = RO_VA;
	} else if (b < 0xfc) {
		va = DATA_VA + DATA_SIZE - align_up(len / 2 + 1, align);
	} else {
		va = DATA_VA + align_up(d->next, align) + 1 + (b & 1);
	}
	d->recent[d->nrecent++ % RECENT] = va;
	return va;
}

static uint64_t span(uint64_t rows, uint64_t stride, uint64_t row)
{
	return (rows - 1) * stride + row;
}

static void decode_matmul(struct decoder *d, uint8_t kind,
			  struct ember_op_matmul *op, struct op_info *info)
{
	uint8_t v = u8(d), pads;
	unsigned int di = v % FUZZ_NDTYPES;
	bool share = (v & 0x40) && d->last_is_mm, x16;
	uint64_t w_row, w_len;

	if (share) {
		const struct ember_op_matmul *f = &d->last_mm;

		op->m = f->m;
		op->k = f->k;
		op->a_va = f->a_va;
		op->a_stride = f->a_stride;
		op->w_dtype = f->w_dtype;
		x16 = f->hdr.flags & EMBER_MATMUL_W_X16;
		for (di = 0; dtypes[di] != op->w_dtype; di++)
			;
	} else {
		op->w_dtype = dtypes[di];
		x16 = is_block(op->w_dtype) && (v & 0x20);
		op->m = v & 0x80 ? pick(d, 8, 40) : pick(d, 1, 7);
		op->k = is_block(op->w_dtype) ? 32 * pick(d, 1, 4) :
						pick(d, 1, 96);
	}
	op->n = pick(d, 1, 48);
	pads = u8(d);
	op->hdr.flags = (kind & 0x08 ? EMBER_MATMUL_ACCUMULATE : 0) |
			(kind & 0x10 ? EMBER_MATMUL_BIAS : 0) |
			(x16 ? EMBER_MATMUL_W_X16 : 0);
	if (!share)
		op->a_stride = op->k * 4 + (pads & 3) * 4;
	w_row = row_size(op->w_dtype, op->k);
	op->c_stride = op->n * 4 + (pads >> 4 & 3) * 4;
	if (x16) {
		w_len = (op->n + 15) / 16 * (op->k / 32) *
			(op->w_dtype == EMBER_DTYPE_Q8_0 ? 544 : 288);
	} else {
		op->w_stride = w_row + (pads >> 2 & 3) * dt_align(op->w_dtype);
		w_len = span(op->n, op->w_stride, w_row);
	}
	if (!share)
		op->a_va = place(d, span(op->m, op->a_stride, op->k * 4), 4);
	op->w_va = place(d, w_len, x16 ? 64 : dt_align(op->w_dtype));
	if (op->hdr.flags & EMBER_MATMUL_BIAS)
		op->bias_va = place(d, op->n * 4, 4);
	op->c_va = place(d, span(op->m, op->c_stride, op->n * 4), 4);
	info->dt = (uint8_t)di;
	info->x16 = x16;
	info->shared = share;
}

static void decode_attention(struct decoder *d, uint8_t kind,
			     struct ember_op_attention *op,
			     struct op_info *info)
{
	static const uint32_t dims[8] = { 1, 2, 4, 6, 8, 16, 32, 64 };
	static const float scales[6] = { 0, 1, 0.125f, 0, -2, 30 };
	static const float bases[4] = { 10000, 1e6f, 1, 0.25f };
	static const uint8_t kv[3] = {
		EMBER_DTYPE_F32, EMBER_DTYPE_F16, EMBER_DTYPE_Q8_0,
	};
	uint8_t v = u8(d), b, pads;
	uint32_t hd, n_kv, q_row, kv_row, pos;
	uint64_t kv_align;
	unsigned int si;

	op->kv_dtype = kv[v % 3];
	hd = op->kv_dtype == EMBER_DTYPE_Q8_0 ? 32 * pick(d, 1, 2) :
						dims[u8(d) % 8];
	n_kv = pick(d, 1, 2);
	op->head_dim = hd;
	op->n_kv_head = n_kv;
	op->n_head = n_kv * pick(d, 1, 10);
	b = u8(d);
	op->n_tok = b & 0x80 ? 1 : 1 + (b & 7);
	q_row = op->n_head * hd * 4;
	while (op->n_tok > 1 && op->n_tok * q_row > DATA_SIZE / 8)
		op->n_tok--;
	kv_row = (uint32_t)row_size(op->kv_dtype, (uint64_t)n_kv * hd);
	kv_align = dt_align(op->kv_dtype);
	pads = u8(d);
	op->kv_stride = kv_row + (pads & 3) * kv_align;
	b = u8(d);
	op->n_past = b & 0x80 ? 200 + (b & 0x7f) * 2 : b & 31;
	while (op->n_past &&
	       (op->n_past + op->n_tok) * op->kv_stride > DATA_SIZE / 4)
		op->n_past /= 2;
	op->n_ctx = op->n_past + op->n_tok + (u8(d) & 3);
	si = u8(d) % 6;
	op->scale = si == 0 ? 1.0f / sqrtf((float)hd) : scales[si];
	op->hdr.flags = (kind & 0x08 ? EMBER_ATTN_APPEND_KV : 0) |
			(kind & 0x10 ? EMBER_ATTN_ROPE : 0);
	if ((kind & 0x30) == 0x30)
		op->hdr.flags |= EMBER_ATTN_ROPE_NEOX;
	if (op->hdr.flags & EMBER_ATTN_ROPE) {
		op->rope_dim = 2 * pick(d, 1, hd / 2 ? hd / 2 : 1);
		op->rope_freq_base = bases[u8(d) % 4];
	}
	op->q_stride = q_row + (pads >> 2 & 3) * 4;
	op->out_stride = q_row + (pads >> 4 & 3) * 4;
	pos = op->n_past + op->n_tok;
	op->q_va = place(d, span(op->n_tok, op->q_stride, q_row), 4);
	op->k_va = place(d, span(pos, op->kv_stride, kv_row), kv_align);
	op->v_va = place(d, span(pos, op->kv_stride, kv_row), kv_align);
	op->out_va = place(d, span(op->n_tok, op->out_stride, q_row), 4);
	if (op->hdr.flags & EMBER_ATTN_APPEND_KV) {
		uint32_t row = n_kv * hd * 4;

		op->new_stride = row + (pads >> 6) * 4;
		op->k_new_va = place(d, span(op->n_tok, op->new_stride, row), 4);
		op->v_new_va = place(d, span(op->n_tok, op->new_stride, row), 4);
	}
	info->dt = v % 3 == 2 ? 3 : v % 3;	/* index in dtypes[] */
	info->append_rope = (op->hdr.flags &
			     (EMBER_ATTN_APPEND_KV | EMBER_ATTN_ROPE)) ==
			    (EMBER_ATTN_APPEND_KV | EMBER_ATTN_ROPE);
	info->split = op->n_tok == 1 && op->n_past + 1 >= 256;
}

static void decode_rmsnorm(struct decoder *d, uint8_t kind,
			   struct ember_op_rmsnorm *op)
{
	static const float eps[4] = { 1e-5f, 1e-6f, 0, 1 };
	uint8_t pads;

	op->rows = pick(d, 1, 6);
	op->dim = pick(d, 1, 600);
	op->eps = eps[u8(d) % 4];
	pads = u8(d);
	op->x_stride = op->dim * 4 + (pads & 3) * 4;
	op->out_stride = op->dim * 4 + (pads >> 2 & 3) * 4;
	op->x_va = place(d, span(op->rows, op->x_stride, op->dim * 4), 4);
	if (kind & 0x08) {
		op->hdr.flags = EMBER_RMSNORM_WEIGHT;
		op->w_va = place(d, op->dim * 4, 4);
	}
	op->out_va = place(d, span(op->rows, op->out_stride, op->dim * 4), 4);
}

static void decode_rope(struct decoder *d, uint8_t kind,
			struct ember_op_rope *op)
{
	static const uint32_t dims[8] = { 2, 4, 6, 8, 16, 32, 64, 128 };
	static const float bases[4] = { 10000, 1e6f, 1, 0.25f };
	uint32_t row;
	uint8_t pads;

	op->rows = pick(d, 1, 4);
	op->n_head = pick(d, 1, 4);
	op->head_dim = dims[u8(d) % 8];
	op->rope_dim = 2 * pick(d, 1, op->head_dim / 2);
	op->pos0 = u16(d);
	op->freq_base = bases[u8(d) % 4];
	op->hdr.flags = kind & 0x08 ? EMBER_ROPE_NEOX : 0;
	row = op->n_head * op->head_dim * 4;
	pads = u8(d);
	op->x_stride = row + (pads & 3) * 4;
	op->x_va = place(d, span(op->rows, op->x_stride, row), 4);
	if (kind & 0x10) {		/* in place */
		op->out_va = op->x_va;
		op->out_stride = op->x_stride;
	} else {
		op->out_stride = row + (pads >> 2 & 3) * 4;
		op->out_va = place(d, span(op->rows, op->out_stride, row), 4);
	}
}

/* SWIGLU and ADD share their layout. */
static void decode_binary(struct decoder *d, uint8_t kind,
			  struct ember_op_add *op)
{
	uint8_t pads;
	uint64_t row;

	op->rows = pick(d, 1, 6);
	op->n = pick(d, 1, 500);
	row = op->n * 4;
	pads = u8(d);
	op->a_stride = row + (pads & 3) * 4;
	op->b_stride = row + (pads >> 2 & 3) * 4;
	op->out_stride = row + (pads >> 4 & 3) * 4;
	op->a_va = place(d, span(op->rows, op->a_stride, row), 4);
	if (kind & 0x08) {		/* both inputs the same rows */
		op->b_va = op->a_va;
		op->b_stride = op->a_stride;
	} else {
		op->b_va = place(d, span(op->rows, op->b_stride, row), 4);
	}
	op->out_va = place(d, span(op->rows, op->out_stride, row), 4);
}

static void decode_copy(struct decoder *d, uint8_t kind,
			struct ember_op_copy *op, struct op_info *info)
{
	uint8_t v = u8(d), pads;
	unsigned int si = v % FUZZ_NDTYPES, di = v / FUZZ_NDTYPES % FUZZ_NDTYPES;
	uint64_t srow, drow;

	/* one side f32 unless asked for an unsupported pair */
	if (si != di && si != 0 && di != 0 && !(kind & 0x08))
		di = 0;
	op->src_dtype = dtypes[si];
	op->dst_dtype = dtypes[di];
	op->rows = pick(d, 1, 3);
	if (is_block(op->src_dtype) || is_block(op->dst_dtype))
		op->n = 32 * pick(d, 1, 8);
	else
		op->n = pick(d, 1, 300);
	if (kind & 0x10)
		op->n += 2048;		/* more than one conversion chunk */
	srow = row_size(op->src_dtype, op->n);
	drow = row_size(op->dst_dtype, op->n);
	pads = u8(d);
	op->src_stride = srow + (pads & 3) * dt_align(op->src_dtype);
	op->dst_stride = drow + (pads >> 2 & 3) * dt_align(op->dst_dtype);
	op->src_va = place(d, span(op->rows, op->src_stride, srow),
			   dt_align(op->src_dtype));
	op->dst_va = place(d, span(op->rows, op->dst_stride, drow),
			   dt_align(op->dst_dtype));
	info->dt = (uint8_t)si;
	info->dt2 = (uint8_t)di;
}

/* Decode one op into the stream; false when it does not fit. */
static bool decode_op(struct decoder *d)
{
	union {
		struct ember_op_hdr hdr;
		struct ember_op_matmul mm;
		struct ember_op_attention at;
		struct ember_op_rmsnorm rn;
		struct ember_op_rope rp;
		struct ember_op_add bin;
		struct ember_op_copy cp;
	} op;
	struct op_info *info = &d->info[d->nops];
	uint8_t kind = u8(d), c;
	uint32_t size;

	memset(&op, 0, sizeof(op));
	memset(info, 0, sizeof(*info));
	info->opcode = kind % 8;
	switch (info->opcode) {
	case EMBER_OP_NOP:
		size = sizeof(op.hdr);
		break;
	case EMBER_OP_MATMUL:
		decode_matmul(d, kind, &op.mm, info);
		size = sizeof(op.mm);
		break;
	case EMBER_OP_ATTENTION:
		decode_attention(d, kind, &op.at, info);
		size = sizeof(op.at);
		break;
	case EMBER_OP_RMSNORM:
		decode_rmsnorm(d, kind, &op.rn);
		size = sizeof(op.rn);
		break;
	case EMBER_OP_ROPE:
		decode_rope(d, kind, &op.rp);
		size = sizeof(op.rp);
		break;
	case EMBER_OP_SWIGLU:
	case EMBER_OP_ADD:
		decode_binary(d, kind, &op.bin);
		size = sizeof(op.bin);
		break;
	default:
		decode_copy(d, kind, &op.cp, info);
		size = sizeof(op.cp);
		break;
	}
	op.hdr.opcode = info->opcode;
	op.hdr.size = (uint16_t)size;
	d->last_is_mm = info->opcode == EMBER_OP_MATMUL;
	if (d->last_is_mm)
		d->last_mm = op.mm;
	if (d->size + size + 8 > MAX_CMD)
		return false;
	memcpy(d->cmd + d->size, &op, size);
	c = u8(d);
	if (c >= 0xf8) {		/* flip bits of one byte */
		uint8_t at = u8(d) % size;

		d->cmd[d->size + at] ^= u8(d) | 1;
	} else if (c >= 0xf0) {		/* a zero tail: a longer op */
		memset(d->cmd + d->size + size, 0, 8);
		size += 8;
		op.hdr.size = (uint16_t)size;
		memcpy(d->cmd + d->size, &op.hdr, sizeof(op.hdr));
	}
	d->size += size;
	d->nops++;
	return true;
}

/* Harness code that the fuzzer should neither count as coverage nor trace
 * comparisons in (fill_data's loop would otherwise take a quarter of the
 * time). */
#if defined(__clang__)
#define NO_COVERAGE __attribute__((no_sanitize("coverage"), noinline))
#else
#define NO_COVERAGE
#endif

NO_COVERAGE static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Operand memory: mode 0 f32 in [-1, 1); 1 f32 over a wide range with
 * zeros, infinities, NaNs and subnormals; 2 random bytes; 3 the input's
 * own bytes over and over.
 */
NO_COVERAGE static void fill_data(uint8_t *p, size_t len, unsigned int mode,
		      uint32_t seed, const uint8_t *in, size_t in_len)
{
	static const float special[8] = {
		0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-40f, 3e38f, -1.0f,
	};
	uint64_t s = 0x9e3779b97f4a7c15ull ^ seed;

	for (size_t i = 0; i + 4 <= len; i += 4) {
		uint64_t r = xorshift(&s);
		float f = (float)(int32_t)(r >> 32) / 2147483648.0f;
		uint32_t u = (uint32_t)(r >> 32);

		if (mode == 1)
			f = r & 8 ? special[r & 7] :
				    ldexpf(f, (int)(r >> 4 & 63) - 32);
		if (mode == 0 || mode == 1)
			memcpy(&u, &f, 4);
		if (mode == 3) {
			u = 0;
			for (int b = 0; b < 4 && in_len; b++)
				u |= (uint32_t)in[(i + b) % in_len] << 8 * b;
		}
		memcpy(p + i, &u, 4);
	}
}

static void fail(const char *why, const struct ember_job_result *r)
{
	fprintf(stderr,
		"fuzz_run: %s (status %u, fault_op %u, ops %llu, fault_va 0x%llx)\n",
		why, r->status, r->fault_op, (unsigned long long)r->ops,
		(unsigned long long)r->fault_va);
	abort();
}

static void count(const struct decoder *d, const struct ember_job_result *r)
{
	bool shared = false;

	stats.jobs++;
	stats.status[r->status]++;
	for (uint64_t i = 0; i < r->ops && i < d->nops; i++) {
		const struct op_info *o = &d->info[i];

		stats.ops_ok[o->opcode]++;
		if (o->opcode == EMBER_OP_MATMUL) {
			stats.matmul_ok[o->dt][o->x16]++;
			shared |= o->shared;
		} else if (o->opcode == EMBER_OP_ATTENTION) {
			stats.attn_ok[o->dt]++;
			stats.attn_append_rope += o->append_rope;
			stats.attn_split += o->split;
		} else if (o->opcode == EMBER_OP_COPY) {
			stats.copy_ok[o->dt][o->dt2]++;
		}
	}
	stats.matmul_groups += shared;
}

/* Ops in a stream that validation accepted (a corrupted size may have
 * merged two decoded ops). */
static uint32_t count_ops(const uint8_t *cmd, uint32_t size)
{
	uint32_t n = 0;

	for (uint32_t off = 0; off < size; n++) {
		struct ember_op_hdr h;

		memcpy(&h, cmd + off, sizeof(h));
		off += h.size;
	}
	return n;
}

static void print_at_exit(void)
{
	fuzz_run_print_stats(stderr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fake_dev dev;	/* test code: reused across inputs */
	static bool dev_ready;
	static uint8_t first[DATA_SIZE + 2 * PAGE], after[DATA_SIZE + 2 * PAGE];
	static struct decoder d;
	uint8_t *mem;
	struct ember_job_result res, res2;
	struct ember_hal hal;
	uint32_t caps_ops = 0xffffffffu, caps_dtypes = 0xffffffffu;
	uint32_t st, bad_op, seed;
	uint8_t cfg;

	if (!dev_ready) {
		if (!fake_dev_init(&dev, NPAGES, false, 4))
			abort();
		fake_dev_set_perm(&dev, 0, DATA_VA, DATA_SIZE,
				  EMBER_PTE_READ | EMBER_PTE_WRITE);
		fake_dev_set_perm(&dev, 0, RO_VA, PAGE, EMBER_PTE_READ);
		if (getenv("EMBER_FUZZ_STATS"))
			atexit(print_at_exit);
		dev_ready = true;
	}
	memset(&d, 0, sizeof(d));
	d.in = data;
	d.n = size;
	cfg = u8(&d);
	seed = u8(&d);
	seed |= (uint32_t)u8(&d) << 8;
	seed |= (uint32_t)u8(&d) << 16;
	seed |= (uint32_t)u8(&d) << 24;
	while (d.at < d.n && d.nops < MAX_OPS && decode_op(&d))
		;
	stats.inputs++;
	if (!d.size)
		return 0;
	if (cfg >> 5 == 6)
		caps_dtypes &= ~(1u << dtypes[seed % FUZZ_NDTYPES]);
	else if (cfg >> 5 == 7)
		caps_ops &= ~(1u << (1 + seed % (EMBER_OP_COUNT - 1)));

	dev.threaded = cfg & 4;
	dev.nthreads = 1 + (cfg & 3);
	hal = fake_dev_hal(&dev, caps_ops, caps_dtypes);
	memcpy(fake_dev_ptr(&dev, CMD_VA), d.cmd, d.size);
	fake_dev_set_perm(&dev, 0, CMD_VA, MAX_CMD, 0);
	fake_dev_set_perm(&dev, 0, CMD_VA, d.size, EMBER_PTE_READ);
	/* the data pages and the read-only page, which follows a guard */
	mem = fake_dev_ptr(&dev, DATA_VA);
	fill_data(mem, DATA_SIZE + 2 * PAGE, cfg >> 3 & 3, seed, data, size);
	memcpy(first, mem, sizeof(first));

	st = ember_fw_validate(d.cmd, d.size, caps_ops & ember_fw_caps_ops(),
			       caps_dtypes & ember_fw_caps_dtypes(), &bad_op);
	dev.errors = 0;
	ember_fw_run_job(&hal, 0, CMD_VA, d.size, &res);
	if (fake_dev_live_maps(&dev) || dev.errors)
		fail("run_job left mappings or misused the HAL", &res);
	if (res.status != EMBER_JOB_OK && res.status != EMBER_JOB_BAD_OP &&
	    res.status != EMBER_JOB_BAD_DESC &&
	    res.status != EMBER_JOB_UNSUPPORTED &&
	    res.status != EMBER_JOB_MMU_FAULT)
		fail("a status a job must not end with", &res);
	if (st != EMBER_JOB_OK &&
	    (res.status != st || res.fault_op != bad_op || res.ops))
		fail("run_job disagrees with validate", &res);
	if (st == EMBER_JOB_OK && res.status == EMBER_JOB_OK &&
	    res.ops != count_ops(d.cmd, d.size))
		fail("an OK job did not run every op", &res);
	if (st == EMBER_JOB_OK && res.status != EMBER_JOB_OK &&
	    (res.ops != res.fault_op ||
	     res.fault_op >= count_ops(d.cmd, d.size)))
		fail("a failed job does not stop at the op it names", &res);
	count(&d, &res);

	/* Again from the same memory: the same result, the same bytes. */
	memcpy(after, mem, sizeof(after));
	memcpy(mem, first, sizeof(first));
	ember_fw_run_job(&hal, 0, CMD_VA, d.size, &res2);
	if (memcmp(&res, &res2, sizeof(res)))
		fail("a second run gave another result", &res2);
	if (memcmp(after, mem, sizeof(after)))
		fail("a second run wrote other bytes", &res2);
	if (fake_dev_live_maps(&dev) || dev.errors)
		fail("run_job left mappings or misused the HAL", &res2);
	return 0;
}

const struct fuzz_run_stats *fuzz_run_stats(void)
{
	return &stats;
}

uint8_t fuzz_run_dtype(unsigned int i)
{
	return dtypes[i % FUZZ_NDTYPES];
}

void fuzz_run_print_stats(FILE *f)
{
	static const char *const names[EMBER_OP_COUNT] = {
		"NOP", "MATMUL", "ATTENTION", "RMSNORM", "ROPE", "SWIGLU",
		"ADD", "COPY",
	};
	const struct fuzz_run_stats *s = &stats;

	fprintf(f, "fuzz_run: %llu inputs, %llu jobs: OK %llu, BAD_OP %llu, BAD_DESC %llu, UNSUPPORTED %llu, MMU_FAULT %llu\n",
		(unsigned long long)s->inputs, (unsigned long long)s->jobs,
		(unsigned long long)s->status[EMBER_JOB_OK],
		(unsigned long long)s->status[EMBER_JOB_BAD_OP],
		(unsigned long long)s->status[EMBER_JOB_BAD_DESC],
		(unsigned long long)s->status[EMBER_JOB_UNSUPPORTED],
		(unsigned long long)s->status[EMBER_JOB_MMU_FAULT]);
	fprintf(f, "fuzz_run: ops run to OK:");
	for (int i = 0; i < EMBER_OP_COUNT; i++)
		fprintf(f, " %s %llu", names[i],
			(unsigned long long)s->ops_ok[i]);
	fprintf(f, "\nfuzz_run: MATMUL by W dtype (plain/X16):");
	for (int i = 0; i < FUZZ_NDTYPES; i++)
		fprintf(f, " %u:%llu/%llu", dtypes[i],
			(unsigned long long)s->matmul_ok[i][0],
			(unsigned long long)s->matmul_ok[i][1]);
	fprintf(f, ", jobs with grouped MATMULs %llu\n",
		(unsigned long long)s->matmul_groups);
	fprintf(f, "fuzz_run: ATTENTION by KV dtype: F32 %llu, F16 %llu, Q8_0 %llu; APPEND_KV+ROPE %llu, split decode %llu\n",
		(unsigned long long)s->attn_ok[0],
		(unsigned long long)s->attn_ok[1],
		(unsigned long long)s->attn_ok[3],
		(unsigned long long)s->attn_append_rope,
		(unsigned long long)s->attn_split);
	fprintf(f, "fuzz_run: COPY pairs (src>dst) run:");
	for (int i = 0; i < FUZZ_NDTYPES; i++)
		for (int j = 0; j < FUZZ_NDTYPES; j++)
			if (s->copy_ok[i][j])
				fprintf(f, " %u>%u:%llu", dtypes[i], dtypes[j],
					(unsigned long long)s->copy_ok[i][j]);
	fputc('\n', f);
}
