/* SPDX-License-Identifier: MIT */
/*
 * Tiny test harness for the ek_* kernels: checks that count and report,
 * a deterministic RNG, double-precision reference helpers shared by the
 * test files, and executors (serial, pools of several sizes).
 */
#ifndef KT_H
#define KT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ember/kernels.h"

struct kt {
	long checks;
	long fails;
	int max_reports;	/* failures printed in detail per group */
	int reported;
};

void kt_fail(struct kt *t, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* CHECK(t, cond, fmt, ...): count a check; on failure print the message. */
#define KT_CHECK(t, cond, ...)                                          \
	do {                                                            \
		(t)->checks++;                                          \
		if (!(cond))                                            \
			kt_fail((t), __FILE__, __LINE__, __VA_ARGS__);  \
	} while (0)

/* xorshift64*: reproducible inputs, no global state */
struct kt_rng {
	uint64_t s;
};
uint64_t kt_next(struct kt_rng *r);
float kt_uniform(struct kt_rng *r, float lo, float hi);	/* [lo, hi) */
float kt_normal(struct kt_rng *r);			/* N(0, 1) */
void kt_fill(struct kt_rng *r, float *x, size_t n, float scale);

/* Independent decoders used by references (written from the formats,
 * not from the library). */
double kt_half_value(uint16_t h);
double kt_bf16_value(uint16_t h);
/* Decode element i of a weight row of any type to double. */
double kt_weight(int dtype, const void *row, uint64_t i);
/* The parts of a Q4_1, Q5_x or K-quant element (kt_blocks.c): its value
 * is d sc q + m (Q4_1, Q5_1), d sc q - m mn (Q4_K, Q5_K), d sc q (Q5_0,
 * Q6_K), with the offsets of Q5_0 (16) and Q6_K (32) taken from q, and
 * sc = 1 for the 32-blocks; d, m are the stored f16 values. */
struct kt_qelem {
	double d, m;
	int sc, mn, q;
};
void kt_block_elem(int dtype, const void *row, uint64_t i,
		   struct kt_qelem *el);
/* The Q4_1, Q5_x and K-quant elements as the two terms a
 * value is the sum of: the scale times the quant, and the offset (0 for
 * Q5_0 / Q6_K). */
void kt_block_parts(int dtype, const void *row, uint64_t i, double *scaled,
		    double *offset);
/* |scaled| + |offset| (|value| for the other types): the size of the
 * terms a kernel's float arithmetic rounds for that weight. */
double kt_weight_mag(int dtype, const void *row, uint64_t i);

/* Aligned allocation, zeroed; aborts on failure. */
void *kt_alloc(size_t bytes);
void kt_free(void *p);

/* Executors with 1..KT_MAX_POOL threads (index 0 = ek_exec_serial). */
#define KT_MAX_POOL 4
struct kt_execs {
	struct ek_pool *pool[KT_MAX_POOL + 1];
	struct ek_exec ex[KT_MAX_POOL + 1];
};
void kt_execs_init(struct kt_execs *e);
void kt_execs_fini(struct kt_execs *e);

/* Test groups (one per file). */
void kt_test_dtype(struct kt *t);
void kt_test_quant(struct kt *t);
void kt_test_matmul(struct kt *t, struct kt_execs *e);
void kt_test_attention(struct kt *t, struct kt_execs *e);
void kt_test_ops(struct kt *t, struct kt_execs *e);
void kt_test_pool(struct kt *t);
/* ... and their parts for the block types beyond Q8_0 / Q4_0 */
void kt_test_quant_golden(struct kt *t);
void kt_test_quant_blocks(struct kt *t);
void kt_test_matmul_blocks(struct kt *t, struct kt_execs *e);

/* test_matmul.c's checks of one matmul of A (m x k) and W (n x k) in
 * GGUF rows (variant bits: 1 strides padded, 2 W rows padded, 4
 * accumulate, 8 bias), and of a group of three over one A, for the
 * other groups' types. */
void kt_mm_case(struct kt *t, struct kt_execs *e, struct kt_rng *rng,
		uint32_t m, uint32_t n, uint32_t k, int dtype, int variant);
void kt_mm_group_case(struct kt *t, struct kt_execs *e, struct kt_rng *rng,
		      int dtype, uint32_t m, uint32_t k);

#endif /* KT_H */
