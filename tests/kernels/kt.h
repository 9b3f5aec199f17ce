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

#endif /* KT_H */
