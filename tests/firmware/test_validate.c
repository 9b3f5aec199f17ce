// SPDX-License-Identifier: MIT
/*
 * Every validation rule of the command stream: one bad field per case, the
 * exact status and fault_op from ember_fw_validate and from
 * ember_fw_run_job (which must then run nothing and write nothing), and
 * MMU faults (unmapped, read-only, bad slot) with their fault_va.
 */
#include <float.h>
#include <stdlib.h>

#include "test_ops.h"
#include "test_util.h"

#define SENTINEL 0x3cu

static struct fixture {
	struct fake_dev dev;
	struct fake_heap heap;
	uint64_t a_va, w_va, c_va, bias_va, q_va, k_va, v_va, out_va;
	uint64_t hole_va;	/* one unmapped page between mapped ones */
	uint64_t ro_va;		/* 2 read-only pages */
	uint64_t kn_va, vn_va;	/* new K/V rows for APPEND_KV */
	uint64_t x_va, g_va;	/* inputs of the row ops: 4 x 256 B, 256 B */
	struct ember_op_matmul mm;	/* valid */
	struct ember_op_attention at;	/* valid */
	struct ember_op_rmsnorm rn;	/* valid, all output to out_va */
	struct ember_op_rope rp;
	struct ember_op_swiglu sw;
	struct ember_op_add add;
	struct ember_op_copy cp;
} fx;

static void fixture_init(void)
{
	if (!fake_dev_init(&fx.dev, 512, false, 2)) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	fake_heap_init(&fx.heap, &fx.dev);
	fx.a_va = fake_alloc(&fx.heap, 4 * 256, 64);
	fx.w_va = fake_alloc(&fx.heap, 8 * 256, 64);
	fx.c_va = fake_alloc(&fx.heap, 4 * 32, 64);
	fx.bias_va = fake_alloc(&fx.heap, 32, 64);
	fx.q_va = fake_alloc(&fx.heap, 2 * 256, 64);
	fx.k_va = fake_alloc(&fx.heap, 5 * 128, 64);
	fx.v_va = fake_alloc(&fx.heap, 5 * 128, 64);
	fx.out_va = fake_alloc(&fx.heap, 2 * 256, 64);
	fx.hole_va = fake_alloc(&fx.heap, 3 * EMBER_PAGE_SIZE, EMBER_PAGE_SIZE);
	fake_dev_set_perm(&fx.dev, 0, fx.hole_va + EMBER_PAGE_SIZE,
			  EMBER_PAGE_SIZE, 0);
	fx.ro_va = fake_alloc(&fx.heap, 2 * EMBER_PAGE_SIZE, EMBER_PAGE_SIZE);
	fake_dev_set_perm(&fx.dev, 0, fx.ro_va, 2 * EMBER_PAGE_SIZE,
			  EMBER_PTE_READ);
	fx.kn_va = fake_alloc(&fx.heap, 2 * 128, 64);
	fx.vn_va = fake_alloc(&fx.heap, 2 * 128, 64);
	fx.x_va = fake_alloc(&fx.heap, 4 * 256, 64);
	fx.g_va = fake_alloc(&fx.heap, 256, 64);

	memset(&fx.mm, 0, sizeof(fx.mm));
	op_hdr_init(&fx.mm.hdr, EMBER_OP_MATMUL, sizeof(fx.mm));
	fx.mm.m = 4;
	fx.mm.n = 8;
	fx.mm.k = 64;
	fx.mm.a_va = fx.a_va;
	fx.mm.w_va = fx.w_va;
	fx.mm.c_va = fx.c_va;
	fx.mm.a_stride = 256;
	fx.mm.w_stride = 256;
	fx.mm.c_stride = 32;

	memset(&fx.at, 0, sizeof(fx.at));
	op_hdr_init(&fx.at.hdr, EMBER_OP_ATTENTION, sizeof(fx.at));
	fx.at.n_tok = 2;
	fx.at.n_past = 3;
	fx.at.n_head = 4;
	fx.at.n_kv_head = 2;
	fx.at.head_dim = 16;
	fx.at.scale = 0.25f;
	fx.at.n_ctx = 8;
	fx.at.q_va = fx.q_va;
	fx.at.q_stride = 256;
	fx.at.k_va = fx.k_va;
	fx.at.v_va = fx.v_va;
	fx.at.kv_stride = 128;
	fx.at.out_va = fx.out_va;
	fx.at.out_stride = 256;

	/* row ops: 2 rows of 64 f32 (256 B) into out_va */
	memset(&fx.rn, 0, sizeof(fx.rn));
	op_hdr_init(&fx.rn.hdr, EMBER_OP_RMSNORM, sizeof(fx.rn));
	fx.rn.hdr.flags = EMBER_RMSNORM_WEIGHT;
	fx.rn.rows = 2;
	fx.rn.dim = 64;
	fx.rn.eps = 1e-5f;
	fx.rn.x_va = fx.x_va;
	fx.rn.x_stride = 256;
	fx.rn.w_va = fx.g_va;
	fx.rn.out_va = fx.out_va;
	fx.rn.out_stride = 256;

	memset(&fx.rp, 0, sizeof(fx.rp));
	op_hdr_init(&fx.rp.hdr, EMBER_OP_ROPE, sizeof(fx.rp));
	fx.rp.rows = 2;
	fx.rp.n_head = 4;
	fx.rp.head_dim = 16;
	fx.rp.rope_dim = 16;
	fx.rp.pos0 = 7;
	fx.rp.freq_base = 10000.0f;
	fx.rp.x_va = fx.x_va;
	fx.rp.x_stride = 256;
	fx.rp.out_va = fx.out_va;
	fx.rp.out_stride = 256;

	memset(&fx.sw, 0, sizeof(fx.sw));
	op_hdr_init(&fx.sw.hdr, EMBER_OP_SWIGLU, sizeof(fx.sw));
	fx.sw.rows = 2;
	fx.sw.n = 64;
	fx.sw.gate_va = fx.x_va;
	fx.sw.gate_stride = 256;
	fx.sw.up_va = fx.x_va + 512;
	fx.sw.up_stride = 256;
	fx.sw.out_va = fx.out_va;
	fx.sw.out_stride = 256;

	memset(&fx.add, 0, sizeof(fx.add));
	op_hdr_init(&fx.add.hdr, EMBER_OP_ADD, sizeof(fx.add));
	fx.add.rows = 2;
	fx.add.n = 64;
	fx.add.a_va = fx.x_va;
	fx.add.a_stride = 256;
	fx.add.b_va = fx.x_va + 512;
	fx.add.b_stride = 256;
	fx.add.out_va = fx.out_va;
	fx.add.out_stride = 256;

	memset(&fx.cp, 0, sizeof(fx.cp));
	op_hdr_init(&fx.cp.hdr, EMBER_OP_COPY, sizeof(fx.cp));
	fx.cp.rows = 2;
	fx.cp.n = 64;
	fx.cp.src_dtype = EMBER_DTYPE_F32;
	fx.cp.dst_dtype = EMBER_DTYPE_Q8_0;
	fx.cp.src_va = fx.x_va;
	fx.cp.src_stride = 256;
	fx.cp.dst_va = fx.out_va;
	fx.cp.dst_stride = 68;
}

static void fill_outputs(void)
{
	memset(fake_dev_ptr(&fx.dev, fx.c_va), SENTINEL, 4 * 32);
	memset(fake_dev_ptr(&fx.dev, fx.out_va), SENTINEL, 2 * 256);
}

static bool outputs_untouched(void)
{
	const uint8_t *c = fake_dev_ptr(&fx.dev, fx.c_va);
	const uint8_t *o = fake_dev_ptr(&fx.dev, fx.out_va);

	for (int i = 0; i < 4 * 32; i++)
		if (c[i] != SENTINEL)
			return false;
	for (int i = 0; i < 2 * 256; i++)
		if (o[i] != SENTINEL)
			return false;
	return true;
}

/* Run @s in slot @as; return the result. Checks the HAL was used cleanly. */
static struct ember_job_result run(const char *what, const struct stream *s,
				   uint32_t caps_ops, uint32_t caps_dtypes,
				   uint32_t as, uint64_t *cmd_va_out)
{
	struct fake_heap h = fx.heap;	/* streams are allocated and dropped */
	struct ember_hal hal = fake_dev_hal(&fx.dev, caps_ops, caps_dtypes);
	struct ember_job_result res;
	uint64_t cmd_va = stream_upload(&h, s);

	if (cmd_va_out)
		*cmd_va_out = cmd_va;
	fill_outputs();
	fx.dev.errors = 0;
	ember_fw_run_job(&hal, as, cmd_va, s->size, &res);
	CHECK(fake_dev_live_maps(&fx.dev) == 0 && fx.dev.errors == 0,
	      "%s: %u mappings left, %u HAL misuses", what,
	      fake_dev_live_maps(&fx.dev), fx.dev.errors);
	fake_dev_set_perm(&fx.dev, 0, cmd_va, s->size, 0);
	return res;
}

/* The stream must be refused as a whole: same verdict from validate and
 * from run_job, no op run, no output written. */
static void expect(const char *what, const struct stream *s, uint32_t caps_ops,
		   uint32_t caps_dtypes, uint32_t want, uint32_t want_op)
{
	uint32_t bad_op = 12345, st;
	struct ember_job_result res;

	st = ember_fw_validate(s->buf, s->size, caps_ops, caps_dtypes, &bad_op);
	CHECK(st == want && (want == EMBER_JOB_OK || bad_op == want_op),
	      "%s: validate gave status %u at op %u, want status %u at op %u",
	      what, st, bad_op, want, want_op);
	res = run(what, s, caps_ops, caps_dtypes, 0, NULL);
	CHECK(res.status == want && (want == EMBER_JOB_OK || res.fault_op == want_op),
	      "%s: run_job gave status %u at op %u, want status %u at op %u",
	      what, res.status, res.fault_op, want, want_op);
	if (want != EMBER_JOB_OK)
		CHECK(res.ops == 0 && outputs_untouched(),
		      "%s: a refused job ran %llu ops or wrote output", what,
		      (unsigned long long)res.ops);
	else
		CHECK(res.ops == s->count, "%s: ran %llu of %u ops", what,
		      (unsigned long long)res.ops, s->count);
}

/* [NOP, op, NOP]: a bad op is op 1. */
static void expect_op(const char *what, const void *op, uint32_t len,
		      uint32_t caps_ops, uint32_t caps_dtypes, uint32_t want)
{
	struct stream s = { .size = 0 };

	stream_nop(&s);
	stream_add(&s, op, len);
	stream_nop(&s);
	expect(what, &s, caps_ops, caps_dtypes, want, 1);
}

#define MM_CASE(what, stmt, want)                                           \
	do {                                                                \
		struct ember_op_matmul op = fx.mm;                          \
		stmt;                                                       \
		expect_op(what, &op, sizeof(op), ALL_OPS, ALL_DTYPES, want);\
	} while (0)

#define AT_CASE(what, stmt, want)                                           \
	do {                                                                \
		struct ember_op_attention op = fx.at;                       \
		stmt;                                                       \
		expect_op(what, &op, sizeof(op), ALL_OPS, ALL_DTYPES, want);\
	} while (0)

static void test_headers(void)
{
	struct ember_op_hdr h;
	struct stream s = { .size = 0 };
	uint8_t big[sizeof(struct ember_op_matmul) + 16];
	uint32_t bad_op;

	expect_op("valid matmul", &fx.mm, sizeof(fx.mm), ALL_OPS, ALL_DTYPES,
		  EMBER_JOB_OK);
	expect_op("valid attention", &fx.at, sizeof(fx.at), ALL_OPS, ALL_DTYPES,
		  EMBER_JOB_OK);

	op_hdr_init(&h, EMBER_OP_COUNT, 8);
	expect_op("unknown opcode EMBER_OP_COUNT", &h, 8, ALL_OPS, ALL_DTYPES,
		  EMBER_JOB_BAD_OP);
	op_hdr_init(&h, 0xffff, 8);
	expect_op("unknown opcode 0xffff", &h, 8, ALL_OPS, ALL_DTYPES,
		  EMBER_JOB_BAD_OP);
	op_hdr_init(&h, EMBER_OP_RMSNORM, 8);
	expect_op("RMSNORM header only", &h, 8, ALL_OPS, ALL_DTYPES,
		  EMBER_JOB_BAD_OP);
	op_hdr_init(&h, EMBER_OP_COPY, 8);
	expect_op("COPY header only", &h, 8, ALL_OPS, ALL_DTYPES,
		  EMBER_JOB_BAD_OP);
	op_hdr_init(&h, EMBER_OP_COPY, 8);
	expect_op("COPY header only, COPY off in caps", &h, 8,
		  ALL_OPS & ~(1u << EMBER_OP_COPY), ALL_DTYPES,
		  EMBER_JOB_UNSUPPORTED);
	op_hdr_init(&h, EMBER_OP_NOP, 8);
	h.flags = 1;
	expect_op("NOP with flags", &h, 8, ALL_OPS, ALL_DTYPES,
		  EMBER_JOB_BAD_DESC);

	MM_CASE("op size 0", op.hdr.size = 0, EMBER_JOB_BAD_OP);
	MM_CASE("op size 8 < matmul struct", op.hdr.size = 8, EMBER_JOB_BAD_OP);
	MM_CASE("op size struct - 8", op.hdr.size = sizeof(op) - 8,
		EMBER_JOB_BAD_OP);
	MM_CASE("op size not a multiple of 8", op.hdr.size = sizeof(op) - 4,
		EMBER_JOB_BAD_OP);
	AT_CASE("attention size too small", op.hdr.size = sizeof(op) - 8,
		EMBER_JOB_BAD_OP);

	/* size past the end of the stream */
	{
		struct ember_op_matmul op = fx.mm;

		op.hdr.size = sizeof(op) + 8;
		memset(&s, 0, sizeof(s));
		stream_nop(&s);
		stream_add(&s, &op, sizeof(op));
		expect("op size past the stream end", &s, ALL_OPS, ALL_DTYPES,
		       EMBER_JOB_BAD_OP, 1);
	}
	/* a stream that ends inside an op header: not filled exactly */
	memset(&s, 0, sizeof(s));
	stream_nop(&s);
	stream_nop(&s);
	s.size += 4;
	{
		uint32_t st = ember_fw_validate(s.buf, s.size, ALL_OPS,
						ALL_DTYPES, &bad_op);

		CHECK(st == EMBER_JOB_BAD_OP && bad_op == 2,
		      "stream with 4 trailing bytes: status %u op %u, want %u op 2",
		      st, bad_op, EMBER_JOB_BAD_OP);
	}
	s.size += 4;	/* 8 zero bytes: a header of size 0 */
	s.count++;
	expect("trailing all-zero header (size 0)", &s, ALL_OPS, ALL_DTYPES,
	       EMBER_JOB_BAD_OP, 2);
	s.size -= 8;
	s.count--;
	stream_nop(&s);
	expect("three NOPs fill the stream exactly", &s, ALL_OPS, ALL_DTYPES,
	       EMBER_JOB_OK, 0);
	CHECK(ember_fw_validate(s.buf, 0, ALL_OPS, ALL_DTYPES, &bad_op) ==
	      EMBER_JOB_BAD_OP, "empty stream must be BAD_OP");

	/* larger op with a zero tail: fine; non-zero tail: a future field */
	memset(big, 0, sizeof(big));
	memcpy(big, &fx.mm, sizeof(fx.mm));
	((struct ember_op_hdr *)big)->size = sizeof(big);
	expect_op("op with zero tail", big, sizeof(big), ALL_OPS, ALL_DTYPES,
		  EMBER_JOB_OK);
	big[sizeof(big) - 1] = 1;
	expect_op("op with non-zero tail", big, sizeof(big), ALL_OPS,
		  ALL_DTYPES, EMBER_JOB_BAD_DESC);

	/* caps: op not enabled */
	expect_op("matmul disabled in caps", &fx.mm, sizeof(fx.mm),
		  ALL_OPS & ~(1u << EMBER_OP_MATMUL), ALL_DTYPES,
		  EMBER_JOB_UNSUPPORTED);
	expect_op("attention disabled in caps", &fx.at, sizeof(fx.at),
		  1u << EMBER_OP_NOP, ALL_DTYPES, EMBER_JOB_UNSUPPORTED);
	op_hdr_init(&h, EMBER_OP_NOP, 8);
	memset(&s, 0, sizeof(s));
	stream_add(&s, &h, 8);
	expect("NOP disabled in caps", &s, 0, ALL_DTYPES,
	       EMBER_JOB_UNSUPPORTED, 0);

	/* the first bad op is reported, not a later one */
	memset(&s, 0, sizeof(s));
	stream_nop(&s);
	stream_nop(&s);
	{
		struct ember_op_matmul op = fx.mm;

		op.m = 0;
		stream_add(&s, &op, sizeof(op));
		op_hdr_init(&h, 0x77, 8);
		stream_add(&s, &h, 8);
		expect("first of two bad ops", &s, ALL_OPS, ALL_DTYPES,
		       EMBER_JOB_BAD_DESC, 2);
	}
}

static void test_matmul_fields(void)
{
	MM_CASE("unknown matmul flag", op.hdr.flags = 1u << 3, EMBER_JOB_BAD_DESC);
	/* X16 Q8_0 W of 8 rows of 64: one group of 2 entries of 512 + 32 B. */
	MM_CASE("X16 Q8_0",
		(op.hdr.flags = EMBER_MATMUL_W_X16, op.w_dtype = EMBER_DTYPE_Q8_0,
		 op.w_stride = 0), EMBER_JOB_OK);
	MM_CASE("X16 Q4_0",
		(op.hdr.flags = EMBER_MATMUL_W_X16, op.w_dtype = EMBER_DTYPE_Q4_0,
		 op.w_stride = 0), EMBER_JOB_OK);
	MM_CASE("X16 F16 (not a block type)",
		(op.hdr.flags = EMBER_MATMUL_W_X16, op.w_dtype = EMBER_DTYPE_F16,
		 op.w_stride = 0), EMBER_JOB_UNSUPPORTED);
	MM_CASE("X16 with a w_stride",
		(op.hdr.flags = EMBER_MATMUL_W_X16, op.w_dtype = EMBER_DTYPE_Q8_0,
		 op.w_stride = 68), EMBER_JOB_BAD_DESC);
	MM_CASE("X16 w_va 2-aligned",
		(op.hdr.flags = EMBER_MATMUL_W_X16, op.w_dtype = EMBER_DTYPE_Q8_0,
		 op.w_stride = 0, op.w_va += 2), EMBER_JOB_BAD_DESC);
	MM_CASE("C overlaps X16 W's last byte",
		(op.hdr.flags = EMBER_MATMUL_W_X16, op.w_dtype = EMBER_DTYPE_Q8_0,
		 op.w_stride = 0, op.c_va = fx.w_va + 2 * 544 - 4), EMBER_JOB_BAD_DESC);
	MM_CASE("C just past X16 W",
		(op.hdr.flags = EMBER_MATMUL_W_X16, op.w_dtype = EMBER_DTYPE_Q8_0,
		 op.w_stride = 0, op.c_va = fx.w_va + 2 * 544), EMBER_JOB_OK);
	MM_CASE("matmul pad non-zero", op.pad = 1, EMBER_JOB_BAD_DESC);
	MM_CASE("bias_va without BIAS flag", op.bias_va = fx.bias_va,
		EMBER_JOB_BAD_DESC);
	MM_CASE("unknown w_dtype 5", op.w_dtype = 5, EMBER_JOB_BAD_DESC);
	MM_CASE("unknown w_dtype 255", op.w_dtype = 255, EMBER_JOB_BAD_DESC);
	MM_CASE("unknown c_dtype 99", op.c_dtype = 99, EMBER_JOB_BAD_DESC);
	MM_CASE("a_dtype F16 (known, not supported)", op.a_dtype = EMBER_DTYPE_F16,
		EMBER_JOB_UNSUPPORTED);
	{
		struct ember_op_matmul op = fx.mm;

		op.w_dtype = EMBER_DTYPE_Q4_0;
		op.w_stride = 2 * 18;
		expect_op("Q4_0 disabled in caps", &op, sizeof(op), ALL_OPS,
			  ALL_DTYPES & ~(1u << EMBER_DTYPE_Q4_0),
			  EMBER_JOB_UNSUPPORTED);
		expect_op("Q4_0 enabled", &op, sizeof(op), ALL_OPS, ALL_DTYPES,
			  EMBER_JOB_OK);
		expect_op("F32 disabled in caps", &fx.mm, sizeof(fx.mm), ALL_OPS,
			  ALL_DTYPES & ~(1u << EMBER_DTYPE_F32),
			  EMBER_JOB_UNSUPPORTED);
	}

	MM_CASE("m = 0", op.m = 0, EMBER_JOB_BAD_DESC);
	MM_CASE("n = 0", op.n = 0, EMBER_JOB_BAD_DESC);
	MM_CASE("k = 0", op.k = 0, EMBER_JOB_BAD_DESC);
	MM_CASE("m huge", (op.m = 0xffffffffu, op.c_stride = 32), EMBER_JOB_BAD_DESC);
	MM_CASE("n huge", op.n = (1u << 20) + 1, EMBER_JOB_BAD_DESC);
	MM_CASE("k huge", op.k = 0x80000000u, EMBER_JOB_BAD_DESC);
	MM_CASE("Q8_0 with k % 32 != 0",
		(op.w_dtype = EMBER_DTYPE_Q8_0, op.k = 48, op.w_stride = 68),
		EMBER_JOB_BAD_DESC);
	/* K-quants need whole super-blocks of 256 (ABI 1.4) */
	MM_CASE("Q4_K with k % 256 != 0",
		(op.w_dtype = EMBER_DTYPE_Q4_K, op.k = 96, op.w_stride = 144),
		EMBER_JOB_BAD_DESC);
	/* (m - 1) * a_stride overflows 64 bits */
	MM_CASE("M*stride overflow", (op.m = 16, op.a_stride = 1ull << 62),
		EMBER_JOB_BAD_DESC);
	MM_CASE("N*stride overflow", (op.n = 1 << 20, op.w_stride = 1ull << 45),
		EMBER_JOB_BAD_DESC);
	MM_CASE("a_va + len overflow", op.a_va = 0xffffffffffffff00ull,
		EMBER_JOB_BAD_DESC);
	MM_CASE("bias range overflow",
		(op.hdr.flags = EMBER_MATMUL_BIAS, op.bias_va = 0xfffffffffffffff0ull),
		EMBER_JOB_BAD_DESC);

	MM_CASE("a_stride < k * 4", op.a_stride = 252, EMBER_JOB_BAD_DESC);
	MM_CASE("w_stride < row bytes", op.w_stride = 128, EMBER_JOB_BAD_DESC);
	MM_CASE("c_stride < n * 4", op.c_stride = 28, EMBER_JOB_BAD_DESC);
	MM_CASE("a_stride 0 with m = 1", (op.m = 1, op.a_stride = 0),
		EMBER_JOB_BAD_DESC);

	MM_CASE("a_va misaligned", op.a_va += 2, EMBER_JOB_BAD_DESC);
	MM_CASE("c_va misaligned", op.c_va += 1, EMBER_JOB_BAD_DESC);
	MM_CASE("w_va misaligned (F32)", op.w_va += 2, EMBER_JOB_BAD_DESC);
	MM_CASE("w_va misaligned (F16)",
		(op.w_dtype = EMBER_DTYPE_F16, op.w_va += 1), EMBER_JOB_BAD_DESC);
	MM_CASE("w_va 2-aligned (F16) ok",
		(op.w_dtype = EMBER_DTYPE_F16, op.w_va += 2, op.w_stride = 128),
		EMBER_JOB_OK);
	MM_CASE("a_stride misaligned", op.a_stride = 258, EMBER_JOB_BAD_DESC);
	MM_CASE("c_stride misaligned", op.c_stride = 34, EMBER_JOB_BAD_DESC);
	MM_CASE("bias_va misaligned",
		(op.hdr.flags = EMBER_MATMUL_BIAS, op.bias_va = fx.bias_va + 2),
		EMBER_JOB_BAD_DESC);

	MM_CASE("C overlaps A", op.c_va = fx.a_va + 512, EMBER_JOB_BAD_DESC);
	MM_CASE("C overlaps W end", op.c_va = fx.w_va + 8 * 256 - 4,
		EMBER_JOB_BAD_DESC);
	MM_CASE("C overlaps bias",
		(op.hdr.flags = EMBER_MATMUL_BIAS, op.bias_va = fx.c_va + 64),
		EMBER_JOB_BAD_DESC);
	MM_CASE("C adjacent to A is fine",
		(op.a_va = fx.c_va + 128, op.m = 1, op.k = 0 + 8, op.a_stride = 32),
		EMBER_JOB_OK);
}

static void test_attention_fields(void)
{
	AT_CASE("unknown attention flag", op.hdr.flags = 1u << 3, EMBER_JOB_BAD_DESC);
	AT_CASE("APPEND_KV without k_new/v_new", op.hdr.flags = EMBER_ATTN_APPEND_KV,
		EMBER_JOB_BAD_DESC);
	AT_CASE("ROPE with rope_dim 0", (op.hdr.flags = EMBER_ATTN_ROPE,
		op.rope_freq_base = 10000.0f), EMBER_JOB_BAD_DESC);
	AT_CASE("pad0 non-zero", op.pad0[1] = 1, EMBER_JOB_BAD_DESC);
	AT_CASE("rope_dim without ROPE", op.rope_dim = 16, EMBER_JOB_BAD_DESC);
	AT_CASE("rope_freq_base without ROPE", op.rope_freq_base = 10000.0f,
		EMBER_JOB_BAD_DESC);
	AT_CASE("k_new_va without APPEND_KV", op.k_new_va = fx.kn_va,
		EMBER_JOB_BAD_DESC);
	AT_CASE("v_new_va without APPEND_KV", op.v_new_va = fx.vn_va,
		EMBER_JOB_BAD_DESC);
	AT_CASE("new_stride without APPEND_KV", op.new_stride = 128,
		EMBER_JOB_BAD_DESC);

	/* ABI 1.1: APPEND_KV and ROPE */
#define AT_APPEND (op.hdr.flags |= EMBER_ATTN_APPEND_KV, op.k_new_va = fx.kn_va, \
		   op.v_new_va = fx.vn_va, op.new_stride = 128)
#define AT_ROPE (op.hdr.flags |= EMBER_ATTN_ROPE, op.rope_dim = 16, \
		 op.rope_freq_base = 10000.0f)
	AT_CASE("APPEND_KV ok", AT_APPEND, EMBER_JOB_OK);
	AT_CASE("ROPE ok", AT_ROPE, EMBER_JOB_OK);
	AT_CASE("APPEND_KV | ROPE | NEOX ok",
		(AT_APPEND, AT_ROPE, op.hdr.flags |= EMBER_ATTN_ROPE_NEOX),
		EMBER_JOB_OK);
	AT_CASE("APPEND_KV | ROPE F16 ok",
		(AT_APPEND, AT_ROPE, op.kv_dtype = EMBER_DTYPE_F16), EMBER_JOB_OK);
	AT_CASE("NEOX without ROPE", op.hdr.flags = EMBER_ATTN_ROPE_NEOX,
		EMBER_JOB_BAD_DESC);
	AT_CASE("rope_dim odd", (AT_ROPE, op.rope_dim = 15), EMBER_JOB_BAD_DESC);
	AT_CASE("rope_dim > head_dim", (AT_ROPE, op.rope_dim = 18),
		EMBER_JOB_BAD_DESC);
	AT_CASE("rope_dim 8 < head_dim ok", (AT_ROPE, op.rope_dim = 8),
		EMBER_JOB_OK);
	AT_CASE("rope_freq_base 0", (AT_ROPE, op.rope_freq_base = 0.0f),
		EMBER_JOB_BAD_DESC);
	AT_CASE("rope_freq_base negative", (AT_ROPE, op.rope_freq_base = -2.0f),
		EMBER_JOB_BAD_DESC);
	AT_CASE("rope_freq_base NaN", (AT_ROPE, op.rope_freq_base = NAN),
		EMBER_JOB_BAD_DESC);
	AT_CASE("new_stride too small", (AT_APPEND, op.new_stride = 124),
		EMBER_JOB_BAD_DESC);
	AT_CASE("new_stride misaligned", (AT_APPEND, op.new_stride = 130),
		EMBER_JOB_BAD_DESC);
	AT_CASE("k_new_va misaligned", (AT_APPEND, op.k_new_va += 2),
		EMBER_JOB_BAD_DESC);
	AT_CASE("new_stride overflow", (AT_APPEND, op.new_stride = ~0ull - 3),
		EMBER_JOB_BAD_DESC);
	AT_CASE("append: k and v the same cache", (AT_APPEND, op.v_va = op.k_va),
		EMBER_JOB_BAD_DESC);
	AT_CASE("append: k_new inside the K cache", (AT_APPEND, op.k_new_va = fx.k_va),
		EMBER_JOB_BAD_DESC);
	AT_CASE("append: v_new inside the V cache",
		(AT_APPEND, op.v_new_va = fx.v_va + 256), EMBER_JOB_BAD_DESC);
	AT_CASE("append: q inside the V cache", (AT_APPEND, op.q_va = fx.v_va),
		EMBER_JOB_BAD_DESC);
	AT_CASE("append: out overlaps k_new", (AT_APPEND, op.k_new_va = fx.out_va + 256),
		EMBER_JOB_BAD_DESC);
	AT_CASE("append: k_new == v_new is fine", (AT_APPEND, op.v_new_va = fx.kn_va),
		EMBER_JOB_OK);

	AT_CASE("kv_dtype unknown 5", op.kv_dtype = 5, EMBER_JOB_BAD_DESC);
	AT_CASE("kv_dtype F16 ok", op.kv_dtype = EMBER_DTYPE_F16, EMBER_JOB_OK);
	AT_CASE("kv_dtype Q4_0 unsupported",
		(op.kv_dtype = EMBER_DTYPE_Q4_0, op.head_dim = 32, op.n_head = 2,
		 op.kv_stride = 36), EMBER_JOB_UNSUPPORTED);
	AT_CASE("kv_dtype BF16 unsupported", op.kv_dtype = EMBER_DTYPE_BF16,
		EMBER_JOB_UNSUPPORTED);

	/* ABI 1.2: Q8_0 caches, 32 | head_dim; rows of 34-byte blocks */
#define AT_Q8 (op.kv_dtype = EMBER_DTYPE_Q8_0, op.head_dim = 32, \
	       op.n_head = 2, op.kv_stride = 68)
	AT_CASE("kv_dtype Q8_0 ok", AT_Q8, EMBER_JOB_OK);
	AT_CASE("kv_dtype Q8_0 GQA, odd-block stride ok",
		(AT_Q8, op.n_head = 2, op.n_kv_head = 1, op.kv_stride = 34),
		EMBER_JOB_OK);
	AT_CASE("Q8_0 APPEND_KV | ROPE ok",
		(AT_Q8, op.n_kv_head = 1, op.kv_stride = 34, AT_APPEND,
		 AT_ROPE), EMBER_JOB_OK);
	AT_CASE("Q8_0 head_dim 48 (rows of whole blocks)",
		(AT_Q8, op.n_tok = 1, op.head_dim = 48, op.q_stride = 384,
		 op.out_stride = 384, op.kv_stride = 102), EMBER_JOB_BAD_DESC);
	AT_CASE("Q8_0 head_dim 16 (two heads share a block)",
		(op.kv_dtype = EMBER_DTYPE_Q8_0, op.kv_stride = 34),
		EMBER_JOB_BAD_DESC);
	AT_CASE("Q8_0 head_dim 48 with APPEND_KV | ROPE",
		(AT_Q8, op.n_tok = 1, op.head_dim = 48, op.q_stride = 384,
		 op.out_stride = 384, op.kv_stride = 102, AT_APPEND,
		 op.new_stride = 384, AT_ROPE), EMBER_JOB_BAD_DESC);
	AT_CASE("Q8_0 kv_stride below the row", (AT_Q8, op.kv_stride = 66),
		EMBER_JOB_BAD_DESC);
	AT_CASE("Q8_0 kv_stride odd", (AT_Q8, op.kv_stride = 69),
		EMBER_JOB_BAD_DESC);
	AT_CASE("Q8_0 k_va odd", (AT_Q8, op.k_va += 1), EMBER_JOB_BAD_DESC);
	AT_CASE("Q8_0 v_va 2-aligned ok", (AT_Q8, op.v_va += 2), EMBER_JOB_OK);
	{
		struct ember_op_attention op = fx.at;

		AT_Q8;
		expect_op("kv Q8_0 disabled in caps", &op, sizeof(op), ALL_OPS,
			  ALL_DTYPES & ~(1u << EMBER_DTYPE_Q8_0),
			  EMBER_JOB_UNSUPPORTED);
		op.head_dim = 48;	/* the dtype is refused first */
		expect_op("kv Q8_0 disabled in caps, head_dim 48", &op,
			  sizeof(op), ALL_OPS,
			  ALL_DTYPES & ~(1u << EMBER_DTYPE_Q8_0),
			  EMBER_JOB_UNSUPPORTED);
	}
#undef AT_Q8
	{
		struct ember_op_attention op = fx.at;

		op.kv_dtype = EMBER_DTYPE_F16;
		expect_op("kv F16 disabled in caps", &op, sizeof(op), ALL_OPS,
			  ALL_DTYPES & ~(1u << EMBER_DTYPE_F16),
			  EMBER_JOB_UNSUPPORTED);
	}

	AT_CASE("n_tok = 0", op.n_tok = 0, EMBER_JOB_BAD_DESC);
	AT_CASE("n_head = 0", op.n_head = 0, EMBER_JOB_BAD_DESC);
	AT_CASE("n_kv_head = 0", op.n_kv_head = 0, EMBER_JOB_BAD_DESC);
	AT_CASE("n_head % n_kv_head != 0", op.n_kv_head = 3, EMBER_JOB_BAD_DESC);
	AT_CASE("n_kv_head > n_head", op.n_kv_head = 8, EMBER_JOB_BAD_DESC);
	AT_CASE("head_dim = 0", op.head_dim = 0, EMBER_JOB_BAD_DESC);
	AT_CASE("head_dim > EK_MAX_HEAD_DIM",
		(op.head_dim = 513, op.q_stride = op.out_stride = 4 * 513 * 4,
		 op.kv_stride = 2 * 513 * 4), EMBER_JOB_BAD_DESC);
	AT_CASE("n_past + n_tok > n_ctx", op.n_ctx = 4, EMBER_JOB_BAD_DESC);
	AT_CASE("n_past + n_tok == n_ctx ok", op.n_ctx = 5, EMBER_JOB_OK);
	AT_CASE("n_past huge", op.n_past = 0xffffffffu, EMBER_JOB_BAD_DESC);
	AT_CASE("n_ctx = 0", op.n_ctx = 0, EMBER_JOB_BAD_DESC);
	AT_CASE("n_tok huge", (op.n_tok = 0xfffffffeu, op.n_ctx = 0xffffffffu),
		EMBER_JOB_BAD_DESC);
	AT_CASE("scale NaN", op.scale = NAN, EMBER_JOB_BAD_DESC);
	AT_CASE("scale inf", op.scale = INFINITY, EMBER_JOB_BAD_DESC);

	AT_CASE("q_stride too small", op.q_stride = 252, EMBER_JOB_BAD_DESC);
	AT_CASE("kv_stride too small", op.kv_stride = 124, EMBER_JOB_BAD_DESC);
	AT_CASE("out_stride too small", op.out_stride = 128, EMBER_JOB_BAD_DESC);
	AT_CASE("q_va misaligned", op.q_va += 2, EMBER_JOB_BAD_DESC);
	AT_CASE("k_va misaligned", op.k_va += 1, EMBER_JOB_BAD_DESC);
	AT_CASE("v_va misaligned (F16)", (op.kv_dtype = EMBER_DTYPE_F16, op.v_va += 1),
		EMBER_JOB_BAD_DESC);
	AT_CASE("out_stride misaligned", op.out_stride = 258, EMBER_JOB_BAD_DESC);
	AT_CASE("kv_stride overflow", op.kv_stride = 1ull << 62,
		EMBER_JOB_BAD_DESC);
	AT_CASE("out_va + len overflow", op.out_va = 0xfffffffffffffe00ull,
		EMBER_JOB_BAD_DESC);

	AT_CASE("out overlaps q", op.out_va = fx.q_va + 256, EMBER_JOB_BAD_DESC);
	AT_CASE("out overlaps k", op.out_va = fx.k_va, EMBER_JOB_BAD_DESC);
	AT_CASE("out overlaps v end", op.out_va = fx.v_va + 5 * 128 - 4,
		EMBER_JOB_BAD_DESC);
	AT_CASE("k and v the same range is fine", op.v_va = op.k_va, EMBER_JOB_OK);
}

#define OP_CASE(type, base, what, stmt, want)                              \
	do {                                                                \
		type op = base;                                             \
		stmt;                                                       \
		expect_op(what, &op, sizeof(op), ALL_OPS, ALL_DTYPES, want);\
	} while (0)
#define RN_CASE(w, s, st) OP_CASE(struct ember_op_rmsnorm, fx.rn, w, s, st)
#define RP_CASE(w, s, st) OP_CASE(struct ember_op_rope, fx.rp, w, s, st)
#define SW_CASE(w, s, st) OP_CASE(struct ember_op_swiglu, fx.sw, w, s, st)
#define ADD_CASE(w, s, st) OP_CASE(struct ember_op_add, fx.add, w, s, st)
#define CP_CASE(w, s, st) OP_CASE(struct ember_op_copy, fx.cp, w, s, st)

static void test_row_op_fields(void)
{
	const uint32_t no_f32 = ALL_DTYPES & ~(1u << EMBER_DTYPE_F32);

	/* valid ops, and each switched off in caps */
	expect_op("valid rmsnorm", &fx.rn, sizeof(fx.rn), ALL_OPS, ALL_DTYPES,
		  EMBER_JOB_OK);
	expect_op("valid rope", &fx.rp, sizeof(fx.rp), ALL_OPS, ALL_DTYPES,
		  EMBER_JOB_OK);
	expect_op("valid swiglu", &fx.sw, sizeof(fx.sw), ALL_OPS, ALL_DTYPES,
		  EMBER_JOB_OK);
	expect_op("valid add", &fx.add, sizeof(fx.add), ALL_OPS, ALL_DTYPES,
		  EMBER_JOB_OK);
	expect_op("valid copy", &fx.cp, sizeof(fx.cp), ALL_OPS, ALL_DTYPES,
		  EMBER_JOB_OK);
	expect_op("rmsnorm off in caps", &fx.rn, sizeof(fx.rn),
		  ALL_OPS & ~(1u << EMBER_OP_RMSNORM), ALL_DTYPES,
		  EMBER_JOB_UNSUPPORTED);
	expect_op("rope off in caps", &fx.rp, sizeof(fx.rp),
		  ALL_OPS & ~(1u << EMBER_OP_ROPE), ALL_DTYPES,
		  EMBER_JOB_UNSUPPORTED);
	expect_op("swiglu off in caps", &fx.sw, sizeof(fx.sw),
		  ALL_OPS & ~(1u << EMBER_OP_SWIGLU), ALL_DTYPES,
		  EMBER_JOB_UNSUPPORTED);
	expect_op("add off in caps", &fx.add, sizeof(fx.add),
		  ALL_OPS & ~(1u << EMBER_OP_ADD), ALL_DTYPES,
		  EMBER_JOB_UNSUPPORTED);
	expect_op("copy off in caps", &fx.cp, sizeof(fx.cp),
		  ALL_OPS & ~(1u << EMBER_OP_COPY), ALL_DTYPES,
		  EMBER_JOB_UNSUPPORTED);
	expect_op("rmsnorm without F32", &fx.rn, sizeof(fx.rn), ALL_OPS, no_f32,
		  EMBER_JOB_UNSUPPORTED);
	expect_op("add without F32", &fx.add, sizeof(fx.add), ALL_OPS, no_f32,
		  EMBER_JOB_UNSUPPORTED);
	RN_CASE("rmsnorm size - 8", op.hdr.size = sizeof(op) - 8,
		EMBER_JOB_BAD_OP);
	RP_CASE("rope size 8", op.hdr.size = 8, EMBER_JOB_BAD_OP);
	CP_CASE("copy size not a multiple of 8", op.hdr.size = sizeof(op) - 4,
		EMBER_JOB_BAD_OP);

	RN_CASE("rmsnorm unknown flag", op.hdr.flags |= 2, EMBER_JOB_BAD_DESC);
	RN_CASE("rmsnorm pad", op.pad = 1, EMBER_JOB_BAD_DESC);
	RN_CASE("rmsnorm no weight ok", (op.hdr.flags = 0, op.w_va = 0),
		EMBER_JOB_OK);
	RN_CASE("rmsnorm w_va without WEIGHT", op.hdr.flags = 0,
		EMBER_JOB_BAD_DESC);
	RN_CASE("rmsnorm rows 0", op.rows = 0, EMBER_JOB_BAD_DESC);
	RN_CASE("rmsnorm dim 0", op.dim = 0, EMBER_JOB_BAD_DESC);
	RN_CASE("rmsnorm rows > 2^20", op.rows = (1u << 20) + 1,
		EMBER_JOB_BAD_DESC);
	RN_CASE("rmsnorm dim > 2^20", (op.dim = (1u << 20) + 1,
		op.x_stride = op.out_stride = 1ull << 23), EMBER_JOB_BAD_DESC);
	RN_CASE("rmsnorm eps NaN", op.eps = NAN, EMBER_JOB_BAD_DESC);
	RN_CASE("rmsnorm eps negative", op.eps = -1e-5f, EMBER_JOB_BAD_DESC);
	RN_CASE("rmsnorm eps 0 ok", op.eps = 0.0f, EMBER_JOB_OK);
	RN_CASE("rmsnorm x_stride < row", op.x_stride = 252, EMBER_JOB_BAD_DESC);
	RN_CASE("rmsnorm out_stride misaligned", op.out_stride = 258,
		EMBER_JOB_BAD_DESC);
	RN_CASE("rmsnorm w misaligned", op.w_va += 2, EMBER_JOB_BAD_DESC);
	RN_CASE("rmsnorm x stride overflow", op.x_stride = ~0ull - 3,
		EMBER_JOB_BAD_DESC);
	RN_CASE("rmsnorm out overlaps x", op.out_va = fx.x_va + 256,
		EMBER_JOB_BAD_DESC);
	RN_CASE("rmsnorm out overlaps w", op.w_va = fx.out_va + 508,
		EMBER_JOB_BAD_DESC);

	RP_CASE("rope unknown flag", op.hdr.flags = 2, EMBER_JOB_BAD_DESC);
	RP_CASE("rope NEOX ok", op.hdr.flags = EMBER_ROPE_NEOX, EMBER_JOB_OK);
	RP_CASE("rope in place ok", (op.out_va = op.x_va), EMBER_JOB_OK);
	RP_CASE("rope in place, other stride",
		(op.out_va = op.x_va, op.out_stride = 512), EMBER_JOB_BAD_DESC);
	RP_CASE("rope out overlaps x", op.out_va = fx.x_va + 4,
		EMBER_JOB_BAD_DESC);
	RP_CASE("rope rows 0", op.rows = 0, EMBER_JOB_BAD_DESC);
	RP_CASE("rope n_head 0", op.n_head = 0, EMBER_JOB_BAD_DESC);
	RP_CASE("rope n_head > 4096", op.n_head = 4097, EMBER_JOB_BAD_DESC);
	RP_CASE("rope head_dim 0", op.head_dim = 0, EMBER_JOB_BAD_DESC);
	RP_CASE("rope head_dim > 512", (op.head_dim = 514, op.n_head = 1,
		op.x_stride = op.out_stride = 4 * 514), EMBER_JOB_BAD_DESC);
	RP_CASE("rope rope_dim 0", op.rope_dim = 0, EMBER_JOB_BAD_DESC);
	RP_CASE("rope rope_dim odd", op.rope_dim = 5, EMBER_JOB_BAD_DESC);
	RP_CASE("rope rope_dim > head_dim", op.rope_dim = 18,
		EMBER_JOB_BAD_DESC);
	RP_CASE("rope partial rope_dim ok", op.rope_dim = 2, EMBER_JOB_OK);
	RP_CASE("rope freq_base inf", op.freq_base = INFINITY,
		EMBER_JOB_BAD_DESC);
	RP_CASE("rope freq_base 0", op.freq_base = 0.0f, EMBER_JOB_BAD_DESC);
	RP_CASE("rope pos0 + rows > 2^24", op.pos0 = (1u << 24) - 1,
		EMBER_JOB_BAD_DESC);
	RP_CASE("rope pos0 + rows == 2^24 ok", op.pos0 = (1u << 24) - 2,
		EMBER_JOB_OK);
	RP_CASE("rope pos0 huge", op.pos0 = 0xffffffffu, EMBER_JOB_BAD_DESC);
	RP_CASE("rope x_stride < row", op.x_stride = 128, EMBER_JOB_BAD_DESC);
	RP_CASE("rope x misaligned", op.x_va += 1, EMBER_JOB_BAD_DESC);
	RP_CASE("rope out va overflow", op.out_va = ~0ull - 256,
		EMBER_JOB_BAD_DESC);

	SW_CASE("swiglu any flag", op.hdr.flags = 1, EMBER_JOB_BAD_DESC);
	SW_CASE("swiglu n 0", op.n = 0, EMBER_JOB_BAD_DESC);
	SW_CASE("swiglu rows 0", op.rows = 0, EMBER_JOB_BAD_DESC);
	SW_CASE("swiglu up_stride < row", op.up_stride = 4, EMBER_JOB_BAD_DESC);
	SW_CASE("swiglu gate misaligned", op.gate_va += 2, EMBER_JOB_BAD_DESC);
	SW_CASE("swiglu out overlaps gate", op.out_va = fx.x_va,
		EMBER_JOB_BAD_DESC);
	SW_CASE("swiglu out overlaps up", op.up_va = fx.out_va + 256,
		EMBER_JOB_BAD_DESC);
	SW_CASE("swiglu gate == up ok", op.up_va = op.gate_va, EMBER_JOB_OK);
	SW_CASE("swiglu out_stride overflow", op.out_stride = 1ull << 62,
		EMBER_JOB_BAD_DESC);

	ADD_CASE("add any flag", op.hdr.flags = 1u << 31, EMBER_JOB_BAD_DESC);
	ADD_CASE("add n > 2^20", op.n = (1u << 20) + 1, EMBER_JOB_BAD_DESC);
	ADD_CASE("add out == a (in place refused)", op.out_va = op.a_va,
		EMBER_JOB_BAD_DESC);
	ADD_CASE("add out overlaps b end", op.out_va = fx.x_va + 1020,
		EMBER_JOB_BAD_DESC);
	ADD_CASE("add a == b ok", op.b_va = op.a_va, EMBER_JOB_OK);
	ADD_CASE("add b_stride misaligned", op.b_stride = 257,
		EMBER_JOB_BAD_DESC);

	CP_CASE("copy any flag", op.hdr.flags = 1, EMBER_JOB_BAD_DESC);
	CP_CASE("copy pad", op.pad[5] = 1, EMBER_JOB_BAD_DESC);
	CP_CASE("copy src dtype unknown", op.src_dtype = 5, EMBER_JOB_BAD_DESC);
	CP_CASE("copy dst dtype unknown", op.dst_dtype = 255,
		EMBER_JOB_BAD_DESC);
	CP_CASE("copy F16 -> Q8_0 unsupported", op.src_dtype = EMBER_DTYPE_F16,
		EMBER_JOB_UNSUPPORTED);
	CP_CASE("copy Q8_0 -> Q8_0 ok", (op.src_dtype = EMBER_DTYPE_Q8_0,
		op.src_stride = 68), EMBER_JOB_OK);
	CP_CASE("copy F32 -> F16 ok", (op.dst_dtype = EMBER_DTYPE_F16,
		op.dst_stride = 128), EMBER_JOB_OK);
	CP_CASE("copy Q4_0 -> F32 ok", (op.src_dtype = EMBER_DTYPE_Q4_0,
		op.src_stride = 36, op.dst_dtype = EMBER_DTYPE_F32,
		op.dst_stride = 256), EMBER_JOB_OK);
	{
		struct ember_op_copy op = fx.cp;

		expect_op("copy with Q8_0 off in caps", &op, sizeof(op),
			  ALL_OPS, ALL_DTYPES & ~(1u << EMBER_DTYPE_Q8_0),
			  EMBER_JOB_UNSUPPORTED);
	}
	CP_CASE("copy n % 32 for Q8_0", op.n = 48, EMBER_JOB_BAD_DESC);
	CP_CASE("copy n 48 F32 -> F16 ok", (op.n = 48,
		op.dst_dtype = EMBER_DTYPE_F16, op.dst_stride = 96), EMBER_JOB_OK);
	CP_CASE("copy rows 0", op.rows = 0, EMBER_JOB_BAD_DESC);
	CP_CASE("copy n 0", op.n = 0, EMBER_JOB_BAD_DESC);
	CP_CASE("copy dst_stride < row", op.dst_stride = 66, EMBER_JOB_BAD_DESC);
	CP_CASE("copy dst_stride misaligned", op.dst_stride = 69,
		EMBER_JOB_BAD_DESC);
	CP_CASE("copy dst misaligned", op.dst_va += 1, EMBER_JOB_BAD_DESC);
	CP_CASE("copy src stride overflow", op.src_stride = ~0ull - 3,
		EMBER_JOB_BAD_DESC);
	CP_CASE("copy dst overlaps src", op.dst_va = fx.x_va + 256,
		EMBER_JOB_BAD_DESC);
}

static void expect_fault(const char *what, const struct stream *s, uint32_t as,
			 uint32_t want_op, uint64_t want_va, uint64_t want_ops)
{
	struct ember_job_result res = run(what, s, ALL_OPS, ALL_DTYPES, as, NULL);

	CHECK(res.status == EMBER_JOB_MMU_FAULT && res.fault_op == want_op &&
	      res.fault_va == want_va && res.ops == want_ops,
	      "%s: status %u op %u va 0x%llx ops %llu; want MMU_FAULT op %u va 0x%llx ops %llu",
	      what, res.status, res.fault_op, (unsigned long long)res.fault_va,
	      (unsigned long long)res.ops, want_op, (unsigned long long)want_va,
	      (unsigned long long)want_ops);
}

static void test_mmu_faults(void)
{
	uint64_t hole = fx.hole_va + EMBER_PAGE_SIZE;
	struct ember_job_result res;
	struct stream s;

#define FAULT_CASE(what, type, base, stmt, va)                              \
	do {                                                                \
		type op = base;                                             \
		stmt;                                                       \
		memset(&s, 0, sizeof(s));                                   \
		stream_nop(&s);                                             \
		stream_add(&s, &op, sizeof(op));                            \
		expect_fault(what, &s, 0, 1, va, 1);                        \
		CHECK(outputs_untouched(), "%s: output written", what);     \
	} while (0)

	FAULT_CASE("A in an unmapped page", struct ember_op_matmul, fx.mm,
		   op.a_va = hole, hole);
	FAULT_CASE("A runs into an unmapped page", struct ember_op_matmul, fx.mm,
		   op.a_va = hole - 512, hole);
	FAULT_CASE("W outside device memory", struct ember_op_matmul, fx.mm,
		   op.w_va = 0x7000000000ull, 0x7000000000ull);
	FAULT_CASE("W beyond the 39-bit VA space", struct ember_op_matmul, fx.mm,
		   op.w_va = 1ull << 40, 1ull << 40);
	FAULT_CASE("bias unmapped", struct ember_op_matmul, fx.mm,
		   (op.hdr.flags = EMBER_MATMUL_BIAS, op.bias_va = hole + 64),
		   hole + 64);
	FAULT_CASE("C in a read-only page", struct ember_op_matmul, fx.mm,
		   op.c_va = fx.ro_va + 4096, fx.ro_va + 4096);
	FAULT_CASE("accumulating C read-only", struct ember_op_matmul, fx.mm,
		   (op.hdr.flags = EMBER_MATMUL_ACCUMULATE, op.c_va = fx.ro_va),
		   fx.ro_va);
	FAULT_CASE("K unmapped", struct ember_op_attention, fx.at,
		   op.k_va = hole, hole);
	FAULT_CASE("V crosses into a hole", struct ember_op_attention, fx.at,
		   op.v_va = hole - 256, hole);
	FAULT_CASE("attention out read-only", struct ember_op_attention, fx.at,
		   op.out_va = fx.ro_va + 8, fx.ro_va + 8);
	FAULT_CASE("append into a read-only K cache", struct ember_op_attention,
		   fx.at, (op.hdr.flags = EMBER_ATTN_APPEND_KV,
		   op.k_new_va = fx.kn_va, op.v_new_va = fx.vn_va,
		   op.new_stride = 128, op.k_va = fx.ro_va), fx.ro_va);
	FAULT_CASE("k_new unmapped", struct ember_op_attention, fx.at,
		   (op.hdr.flags = EMBER_ATTN_APPEND_KV, op.k_new_va = hole,
		   op.v_new_va = fx.vn_va, op.new_stride = 128), hole);
	FAULT_CASE("rmsnorm w unmapped", struct ember_op_rmsnorm, fx.rn,
		   op.w_va = hole + 4, hole + 4);
	FAULT_CASE("rope in place read-only", struct ember_op_rope, fx.rp,
		   (op.x_va = op.out_va = fx.ro_va), fx.ro_va);
	FAULT_CASE("swiglu up unmapped", struct ember_op_swiglu, fx.sw,
		   op.up_va = hole - 64, hole);
	FAULT_CASE("add out read-only", struct ember_op_add, fx.add,
		   op.out_va = fx.ro_va, fx.ro_va);
	FAULT_CASE("copy src unmapped", struct ember_op_copy, fx.cp,
		   op.src_va = hole, hole);

	/* a fault in op 3 after op 1 ran: op 1's output stays written */
	{
		struct ember_op_matmul bad = fx.mm;

		memset(&s, 0, sizeof(s));
		stream_nop(&s);
		stream_add(&s, &fx.mm, sizeof(fx.mm));
		stream_nop(&s);
		bad.w_va = hole;
		stream_add(&s, &bad, sizeof(bad));
		expect_fault("fault in the 4th op", &s, 0, 3, hole, 3);
		CHECK(!outputs_untouched(), "fault in the 4th op: op 1 did not write C");
	}

	/* command stream itself unmapped / bad slot */
	{
		struct ember_hal hal = fake_dev_hal(&fx.dev, ALL_OPS, ALL_DTYPES);

		ember_fw_run_job(&hal, 0, hole, 64, &res);
		CHECK(res.status == EMBER_JOB_MMU_FAULT && res.fault_op == 0 &&
		      res.fault_va == hole && res.ops == 0,
		      "unmapped command stream: status %u op %u va 0x%llx",
		      res.status, res.fault_op, (unsigned long long)res.fault_va);
		ember_fw_run_job(&hal, 0, fx.hole_va + 4096 - 16, 64, &res);
		CHECK(res.status == EMBER_JOB_MMU_FAULT && res.fault_va == hole,
		      "command stream running into a hole: status %u va 0x%llx",
		      res.status, (unsigned long long)res.fault_va);
		memset(&s, 0, sizeof(s));
		stream_nop(&s);
		res = run("slot 16", &s, ALL_OPS, ALL_DTYPES, EMBER_NUM_AS, NULL);
		CHECK(res.status == EMBER_JOB_MMU_FAULT,
		      "job in slot %d: status %u, want MMU_FAULT", EMBER_NUM_AS,
		      res.status);
		res = run("slot 3 (no pages)", &s, ALL_OPS, ALL_DTYPES, 3, NULL);
		CHECK(res.status == EMBER_JOB_MMU_FAULT,
		      "job in an empty slot: status %u, want MMU_FAULT", res.status);
		ember_fw_run_job(&hal, 0, fx.a_va, 0, &res);
		CHECK(res.status == EMBER_JOB_BAD_OP,
		      "cmd_size 0: status %u, want BAD_OP", res.status);
	}
}

int main(void)
{
	fixture_init();
	test_headers();
	test_matmul_fields();
	test_attention_fields();
	test_row_op_fields();
	test_mmu_faults();
	fake_dev_free(&fx.dev);
	return test_finish("test_validate");
}
