/* SPDX-License-Identifier: MIT */
/*
 * Host reference math for Ember's guest tests and ember-demo: plain C,
 * double accumulation, written independently of the device kernels so a
 * result that matches is evidence, not a tautology. Not part of libember.
 */
#ifndef EMBER_REF_H
#define EMBER_REF_H

#include <stddef.h>
#include <stdint.h>

/* A tiny deterministic PRNG (xorshift64*); the state is the caller's. */
struct eref_rng {
	uint64_t s;
};
void eref_seed(struct eref_rng *r, uint64_t seed);
uint64_t eref_next(struct eref_rng *r);
/* uniform in [-1, 1) */
float eref_uniform(struct eref_rng *r);
void eref_fill(struct eref_rng *r, float *x, size_t n, float scale);

/* IEEE half <-> float, round to nearest even; NaN/Inf/subnormals kept. */
float eref_f16_to_f32(uint16_t h);
uint16_t eref_f32_to_f16(float f);

/* GGUF Q8_0 (34-byte blocks) and Q4_0 (18-byte blocks) rows of n (n % 32
 * == 0): quantize as ggml's reference does, and back to float. */
void eref_quantize_q8_0(const float *x, void *dst, size_t n);
void eref_dequantize_q8_0(const void *src, float *y, size_t n);
void eref_quantize_q4_0(const float *x, void *dst, size_t n);
void eref_dequantize_q4_0(const void *src, float *y, size_t n);

/*
 * C[i][j] = sum_k A[i][k] * W[j][k] (+ bias[j]) (+ C0[i][j]), in double.
 * A: m rows of k floats, lda floats apart; W: n rows of k floats (already
 * dequantized), ldw apart; bias, c0 may be NULL. out: m x n doubles packed.
 * mag (may be NULL): m x n of sum |A*W| + |bias| + |c0|, for tolerances.
 */
void eref_matmul(uint32_t m, uint32_t n, uint32_t k, const float *a,
		 size_t lda, const float *w, size_t ldw, const float *bias,
		 const float *c0, size_t ldc0, double *out, double *mag);

/*
 * Add to tol[m x n] the error bound of a device that quantizes each 32-block
 * of activations to 8 bits (as for Q8_0/Q4_0 weights): per block
 * amax(a) / 254 * sum |w|, times @factor. k % 32 == 0.
 */
void eref_matmul_q8_act_tol(uint32_t m, uint32_t n, uint32_t k,
			    const float *a, size_t lda, const float *w,
			    size_t ldw, double factor, double *tol);

/*
 * Causal GQA attention, double accumulation, exact softmax.
 * q: [n_tok][n_head][hd] floats, q_ld floats between tokens;
 * k, v: [pos][n_kv][hd] floats (already dequantized), kv_ld apart: an
 * F16 cache through eref_f16_to_f32, a Q8_0 one (ATTENTION, ABI 1.2)
 * through eref_dequantize_q8_0 of each row; appended rows are stored as
 * eref_f32_to_f16 / eref_quantize_q8_0 store them (finite input).
 * out: [n_tok][n_head * hd] doubles packed.
 */
void eref_attention(uint32_t n_tok, uint32_t n_past, uint32_t n_head,
		    uint32_t n_kv, uint32_t hd, float scale, const float *q,
		    size_t q_ld, const float *k, const float *v, size_t kv_ld,
		    double *out);

/* out[r][i] = x[r][i] / sqrt(mean_i x[r][i]^2 + eps) * (w ? w[i] : 1);
 * x rows @ld floats apart; out packed rows of dim doubles. */
void eref_rmsnorm(uint32_t rows, uint32_t dim, const float *x, size_t ld,
		  const float *w, double eps, double *out);

/* Rotate the first rope_dim dims of each of n_head heads of x (one token
 * at @pos) in place: pairs (2i, 2i+1), or (i, i + rope_dim/2) if @neox;
 * theta = pos * freq_base^(-2i/rope_dim). */
void eref_rope(double *x, uint32_t n_head, uint32_t hd, uint32_t rope_dim,
	       uint32_t pos, double freq_base, int neox);

/* x / (1 + e^-x) */
double eref_silu(double x);

#endif /* EMBER_REF_H */
