// SPDX-License-Identifier: MIT
/*
 * MATMULs that read the same A run as one group (firmware/src/job.c). Each
 * case builds one stream of MATMULs and runs it twice on identical fake
 * devices: as one job, and as one job per op. Every output byte must be
 * the same (grouping is bitwise invisible), and the mapping counts show
 * whether the ops were grouped (A mapped once). Covered: the runtime's
 * Q/K/V and gate/up shapes in F32, Q8_0 / Q4_0 rows and X16, decode and
 * prefill; ops that must not group (one writes what the next reads, a
 * different A); and an MMU fault in the middle of a group, which must leave
 * the ops before it done and report the faulting op, as one by one.
 */
#include <stdlib.h>

#include "ember/kernels.h"
#include "test_ops.h"
#include "test_util.h"

#define NOPS	3
#define SENTINEL 0xa5u

struct gcase {
	const char *what;
	int dtype;
	bool x16;
	uint32_t m, k, n[NOPS];
	uint32_t flags[NOPS];
	int hazard;		/* 1: op 1 writes op 2's W; 2: op 2 reads other A */
	bool fault;		/* op 1's C unmapped */
	bool grouped;		/* expected */
};

struct gdev {
	struct fake_dev dev;
	struct fake_heap heap;
	uint64_t a_va, a2_va, w_va[NOPS], b_va[NOPS], c_va[NOPS];
	uint64_t w_len[NOPS], c_len[NOPS];
};

static size_t row_size(int dtype, uint32_t k)
{
	return dtype == EMBER_DTYPE_F32 ? (size_t)k * 4 :
	       dtype == EMBER_DTYPE_Q8_0 ? (size_t)k / 32 * 34 : (size_t)k / 32 * 18;
}

/* Random weights of @dtype: block scales small and finite. */
static void make_w(struct rng *r, int dtype, uint32_t n, uint32_t k, uint8_t *w)
{
	size_t bytes = row_size(dtype, k) * n, bs = dtype == EMBER_DTYPE_Q8_0 ? 34 : 18;

	for (size_t i = 0; i < bytes; i++)
		w[i] = (uint8_t)rng_next(r);
	if (dtype == EMBER_DTYPE_F32) {
		for (size_t i = 0; i < bytes; i += 4) {
			float f = rng_unit(r);

			memcpy(w + i, &f, 4);
		}
		return;
	}
	for (size_t i = 0; i < bytes; i += bs) {
		uint16_t d = (uint16_t)(0x2000 + rng_below(r, 0x0c00));

		memcpy(w + i, &d, 2);
	}
}

/* Lay out and fill A, W, bias, C on a fresh device (same seed: same bytes). */
static bool gdev_init(struct gdev *g, const struct gcase *tc)
{
	struct rng r = { 42 };
	uint64_t a_len = (uint64_t)tc->m * tc->k * 4;

	if (!fake_dev_init(&g->dev, 4096, true, 4))
		return false;
	fake_heap_init(&g->heap, &g->dev);
	g->a_va = fake_alloc(&g->heap, a_len, 64);
	g->a2_va = fake_alloc(&g->heap, a_len, 64);
	for (uint64_t i = 0; i < a_len; i += 4) {
		float f = rng_unit(&r), f2 = rng_unit(&r);

		memcpy(fake_dev_ptr(&g->dev, g->a_va + i), &f, 4);
		memcpy(fake_dev_ptr(&g->dev, g->a2_va + i), &f2, 4);
	}
	for (int i = 0; i < NOPS; i++) {
		uint32_t n = tc->n[i];
		size_t rows = row_size(tc->dtype, tc->k) * n;
		uint8_t *tmp = malloc(rows);

		if (!tmp)
			return false;
		make_w(&r, tc->dtype, n, tc->k, tmp);
		g->w_len[i] = tc->x16 ? ek_x16_size(tc->dtype, n, tc->k) : rows;
		g->w_va[i] = fake_alloc(&g->heap, g->w_len[i], 64);
		if (tc->x16)
			ek_x16_pack(tc->dtype, tmp, row_size(tc->dtype, tc->k), n, tc->k,
				    fake_dev_ptr(&g->dev, g->w_va[i]));
		else
			memcpy(fake_dev_ptr(&g->dev, g->w_va[i]), tmp, rows);
		free(tmp);
		g->b_va[i] = fake_alloc(&g->heap, n * 4ull, 64);
		for (uint32_t j = 0; j < n; j++) {
			float f = rng_unit(&r);

			memcpy(fake_dev_ptr(&g->dev, g->b_va[i] + j * 4ull), &f, 4);
		}
		g->c_len[i] = (uint64_t)tc->m * n * 4;
		g->c_va[i] = fake_alloc(&g->heap, g->c_len[i], 64);
		memset(fake_dev_ptr(&g->dev, g->c_va[i]), SENTINEL, g->c_len[i]);
	}
	if (tc->hazard == 1)	/* op 1's C is op 2's (F32) W */
		g->c_va[1] = g->w_va[2];
	if (tc->fault)
		fake_dev_set_perm(&g->dev, 0, g->c_va[1], g->c_len[1], 0);
	return true;
}

static void op_of(const struct gcase *tc, const struct gdev *g, int i,
		  struct ember_op_matmul *op)
{
	memset(op, 0, sizeof(*op));
	op_hdr_init(&op->hdr, EMBER_OP_MATMUL, sizeof(*op));
	op->hdr.flags = tc->flags[i] | (tc->x16 ? EMBER_MATMUL_W_X16 : 0);
	op->m = tc->m;
	op->n = tc->n[i];
	op->k = tc->k;
	op->w_dtype = (uint8_t)tc->dtype;
	op->a_va = tc->hazard == 2 && i == 2 ? g->a2_va : g->a_va;
	op->w_va = g->w_va[i];
	op->c_va = g->c_va[i];
	op->bias_va = tc->flags[i] & EMBER_MATMUL_BIAS ? g->b_va[i] : 0;
	op->a_stride = (uint64_t)tc->k * 4;
	op->w_stride = tc->x16 ? 0 : row_size(tc->dtype, tc->k);
	op->c_stride = (uint64_t)op->n * 4;
}

static void run(struct gdev *g, struct stream *s, struct ember_job_result *res)
{
	struct ember_hal hal = fake_dev_hal(&g->dev, ALL_OPS, ALL_DTYPES);
	uint64_t va = stream_upload(&g->heap, s);

	ember_fw_run_job(&hal, 0, va, s->size, res);
}

static void run_case(const struct gcase *tc)
{
	struct gdev one, seq;
	struct ember_job_result res, r1;
	struct stream s = { .size = 0 };
	unsigned int maps_one, maps_seq = 0;
	uint32_t seq_ops = 0, seq_status = EMBER_JOB_OK;

	if (!gdev_init(&one, tc) || !gdev_init(&seq, tc)) {
		CHECK(0, "%s: out of memory", tc->what);
		return;
	}
	for (int i = 0; i < NOPS; i++) {
		struct ember_op_matmul op;

		op_of(tc, &one, i, &op);
		stream_add(&s, &op, sizeof(op));
	}
	run(&one, &s, &res);
	maps_one = one.dev.maps;

	/* one op per job, stopping where the stream would stop */
	for (int i = 0; i < NOPS && seq_status == EMBER_JOB_OK; i++) {
		struct stream s1 = { .size = 0 };
		struct ember_op_matmul op;
		unsigned int before = seq.dev.maps;

		op_of(tc, &seq, i, &op);
		stream_add(&s1, &op, sizeof(op));
		run(&seq, &s1, &r1);
		maps_seq += seq.dev.maps - before - 1;	/* not the stream's */
		seq_status = r1.status;
		seq_ops += r1.ops;
	}
	CHECK(res.status == seq_status && res.ops == seq_ops &&
	      (seq_status == EMBER_JOB_OK || res.fault_op == seq_ops),
	      "%s: grouped job: status %u ops %u fault_op %u; one by one: status %u after %u ops",
	      tc->what, res.status, (unsigned int)res.ops, res.fault_op, seq_status, seq_ops);
	for (int i = 0; i < NOPS; i++) {
		const uint8_t *x = fake_dev_ptr(&one.dev, one.c_va[i]);
		const uint8_t *y = fake_dev_ptr(&seq.dev, seq.c_va[i]);

		if (tc->fault && i == 1)
			continue;
		CHECK(!memcmp(x, y, one.c_len[i]), "%s: C of op %d differs from one by one",
		      tc->what, i);
		CHECK((x[0] != SENTINEL || x[1] != SENTINEL) == (i < (int)seq_ops),
		      "%s: op %d's C %s", tc->what, i,
		      i < (int)seq_ops ? "not written" : "written after the fault");
	}
	/* grouped: A mapped once for the group, not once per op */
	CHECK((maps_one - 1 < maps_seq) == tc->grouped,
	      "%s: %u mappings in one job, %u one by one: %s expected", tc->what,
	      maps_one - 1, maps_seq, tc->grouped ? "grouped" : "not grouped");
	CHECK(fake_dev_live_maps(&one.dev) == 0 && one.dev.errors == 0,
	      "%s: %u mappings left, %u HAL misuses", tc->what,
	      fake_dev_live_maps(&one.dev), one.dev.errors);
	fake_dev_free(&one.dev);
	fake_dev_free(&seq.dev);
}

int main(void)
{
	const uint32_t B = EMBER_MATMUL_BIAS, ACC = EMBER_MATMUL_ACCUMULATE;
	const struct gcase cases[] = {
		{ "Q/K/V Q8_0 X16 decode, biases", EMBER_DTYPE_Q8_0, true, 1, 576,
		  { 576, 192, 192 }, { B, B, B }, 0, false, true },
		{ "Q/K/V Q8_0 rows prefill", EMBER_DTYPE_Q8_0, false, 7, 256,
		  { 256, 64, 64 }, { 0, 0, 0 }, 0, false, true },
		{ "gate/up/... Q4_0 X16 prefill, accumulate", EMBER_DTYPE_Q4_0, true, 5, 128,
		  { 300, 300, 17 }, { 0, ACC, B | ACC }, 0, false, true },
		{ "F32 prefill", EMBER_DTYPE_F32, false, 9, 64,
		  { 48, 16, 16 }, { B, 0, 0 }, 0, false, true },
		{ "op 1 writes op 2's weights: not grouped with it", EMBER_DTYPE_F32, false, 1, 32,
		  { 8, 32, 8 }, { 0, 0, 0 }, 1, false, true },
		{ "op 2 reads another A", EMBER_DTYPE_Q8_0, true, 1, 64,
		  { 32, 32, 32 }, { 0, 0, 0 }, 2, false, true },
		{ "op 1's C unmapped: op 0 done, fault at op 1", EMBER_DTYPE_Q8_0, true, 1, 64,
		  { 32, 32, 32 }, { 0, 0, 0 }, 0, true, true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	return test_finish("test_group");
}
