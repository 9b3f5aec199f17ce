/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the Ember guest tests: device opening with a useful
 * failure, and MATMUL / ATTENTION problems with their own buffers, random
 * inputs, a host reference (lib/ref) and a checker with stated tolerances.
 */
#ifndef EMBER_TG_H
#define EMBER_TG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/ember.h"
#include "ember_ref.h"

/* Open the device; on failure *msg says why. */
int tg_open(struct ember_device **dev, char *msg, size_t len);

/* Encode n floats (a row) as @dtype into @dst and write the values the
 * device will see back into @deq. Returns the bytes written, 0 if invalid. */
size_t tg_encode_row(uint32_t dtype, const float *src, void *dst, float *deq,
		     size_t n);
size_t tg_row_bytes(uint32_t dtype, size_t n);

/*
 * Tolerances (|device - reference| <= tol), per output element:
 *  - F32/F16/BF16 weights (activations stay f32):  1e-4 * sum|a*w| + 1e-6
 *  - Q8_0/Q4_0 weights (the device quantizes each 32-block of activations
 *    to 8 bits, error <= amax/254 per element):
 *      1.5 * sum_blocks(amax_a / 254 * sum|w|) + 1e-4 * sum|a*w| + 1e-6
 *  - ATTENTION (F32 or F16 cache; softmax weights sum to 1, |v| <= 1):
 *      2e-5 * (1 + max|v|) absolute, after the cache is rounded to F16.
 */
struct tg_mm {
	uint32_t m, n, k, w_dtype, flags;
	uint64_t a_stride, c_stride;	/* bytes; 0: packed */
	struct ember_bo *a, *w, *c, *bias;
	float *a_h, *w_deq, *bias_h, *c0_h;
	double *ref, *tol;
};

int tg_mm_init(struct ember_device *dev, struct tg_mm *p, uint32_t m,
	       uint32_t n, uint32_t k, uint32_t w_dtype, uint32_t flags,
	       uint64_t a_stride, uint64_t c_stride, uint64_t seed);
/* Fill C with its initial values (C0 if ACCUMULATE, else NaN). */
void tg_mm_reset_output(struct tg_mm *p);
/* Write new random weights (from @seed) into p->w, which the caller may
 * have replaced by another buffer of the same size, and recompute the
 * reference. */
int tg_mm_fill_w(struct tg_mm *p, uint64_t seed);
int tg_mm_add(struct ember_cmdbuf *cb, struct tg_mm *p);
/* @p's MATMUL as one job in its own command buffer, through the SUBMIT
 * ioctl: 0, -errno (ember_errmsg() says why) or the job's status (> 0). */
int tg_mm_run(struct ember_device *dev, struct tg_mm *p);
/* Number of elements out of tolerance; *worst = max |err| / tol. A message
 * about the first bad element goes to @why. */
size_t tg_mm_check(const struct tg_mm *p, double *worst, double *max_abs,
		   char *why, size_t len);
void tg_mm_fini(struct tg_mm *p);

struct tg_attn {
	uint32_t n_tok, n_past, n_head, n_kv, hd, n_ctx, kv_dtype;
	uint64_t q_stride, kv_stride, out_stride;	/* bytes; 0: packed */
	struct ember_bo *q, *k, *v, *out;
	float *q_h, *k_deq, *v_deq;
	double *ref;
	double tol;
};

int tg_attn_init(struct ember_device *dev, struct tg_attn *p, uint32_t n_tok,
		 uint32_t n_past, uint32_t n_head, uint32_t n_kv, uint32_t hd,
		 uint32_t kv_dtype, uint64_t pad_bytes, uint64_t seed);
void tg_attn_reset_output(struct tg_attn *p);
int tg_attn_add(struct ember_cmdbuf *cb, struct tg_attn *p);
size_t tg_attn_check(const struct tg_attn *p, double *worst, double *max_abs,
		     char *why, size_t len);
void tg_attn_fini(struct tg_attn *p);

/* A 2x3x32 F32 matmul job in its own buffers: run it through the SUBMIT
 * ioctl, wait, and check the result. 0 on success, else -errno / >0 status
 * with a message. Proves the device still works after an error. */
int tg_good_job(struct ember_device *dev, char *why, size_t len);
/* In a kselftest: the device still runs a real job right (ends each test
 * that provoked an error). */
#define DEVICE_STILL_WORKS(dev) do { \
	char _why[256] = ""; \
	ASSERT_EQ(0, tg_good_job(dev, _why, sizeof(_why))) \
		TH_LOG("after the error: %s", _why); \
} while (0)

/* CLOCK_MONOTONIC in seconds. */
double tg_now(void);

#endif /* EMBER_TG_H */
