/* SPDX-License-Identifier: MIT */
/*
 * Ember compute kernels: the one implementation of every tensor op in the
 * project. The firmware runs them on device memory, the runtime's CPU
 * backend on host memory, ember-bench measures them. Pure computation on
 * pointers; threads come from the caller through struct ek_exec, so the
 * library has no global state and no threads of its own.
 *
 * Shapes follow ggml: a matrix is rows of contiguous elements, a stride is
 * the byte distance between rows. Block-quantized types (Q8_0, Q4_0,
 * Q4_1, Q5_0, Q5_1 and the K-quants Q4_K, Q5_K, Q6_K) use the exact GGUF
 * block layouts, so model weights are used as a file stores them.
 */
#ifndef EMBER_KERNELS_H
#define EMBER_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Data types: the GGML/GGUF type numbers (= enum ember_dtype). */
enum ek_dtype {
	EK_F32 = 0,
	EK_F16 = 1,
	EK_Q4_0 = 2,
	EK_Q4_1 = 3,
	EK_Q5_0 = 6,
	EK_Q5_1 = 7,
	EK_Q8_0 = 8,
	EK_Q4_K = 12,
	EK_Q5_K = 13,
	EK_Q6_K = 14,
	EK_BF16 = 30,
};

#define EK_QK 32		/* elements per Q8_0 / Q4_0 / Q4_1 / Q5_x block */
#define EK_QK_K 256		/* elements per K-quant super-block */
#define EK_MAX_HEAD_DIM 512
#define EK_K_SCALE_BYTES 12	/* Q4_K / Q5_K: 8 6-bit scales + 8 6-bit mins */

struct ek_block_q8_0 {
	uint16_t d;		/* f16 scale */
	int8_t qs[EK_QK];	/* value = d * qs[i] */
};

struct ek_block_q4_0 {
	uint16_t d;		/* f16 scale */
	uint8_t qs[EK_QK / 2];	/* element i: low nibble of qs[i] (i < 16),
				 * element 16 + i: high nibble; value d*(q-8) */
};

struct ek_block_q4_1 {
	uint16_t d, m;		/* f16 scale and offset */
	uint8_t qs[EK_QK / 2];	/* nibbles as Q4_0; value d*q + m */
};

struct ek_block_q5_0 {
	uint16_t d;
	uint8_t qh[4];		/* bit j of this little-endian u32: the fifth
				 * bit of element j */
	uint8_t qs[EK_QK / 2];	/* low four bits as Q4_0; value d*(q-16) */
};

struct ek_block_q5_1 {
	uint16_t d, m;
	uint8_t qh[4];
	uint8_t qs[EK_QK / 2];	/* value d*q + m */
};

/*
 * K-quants: super-blocks of 256. Q4_K / Q5_K: eight sub-blocks of 32, each
 * with a 6-bit scale sc and min mn packed in scales[12] (sub-block j < 4:
 * sc = scales[j] & 63, mn = scales[j + 4] & 63; j >= 4: sc = (scales[j + 4]
 * & 15) | (scales[j - 4] >> 6) << 4, mn = (scales[j + 4] >> 4) |
 * (scales[j] >> 6) << 4); value d*sc*q - dmin*mn. The quants of sub-blocks
 * 2i and 2i + 1 are the low and high nibbles of qs[32i .. 32i + 31]; Q5_K's
 * fifth bit of element l of sub-block j is bit j of qh[l].
 */
struct ek_block_q4_K {
	uint16_t d, dmin;
	uint8_t scales[EK_K_SCALE_BYTES];
	uint8_t qs[EK_QK_K / 2];
};

struct ek_block_q5_K {
	uint16_t d, dmin;
	uint8_t scales[EK_K_SCALE_BYTES];
	uint8_t qh[EK_QK_K / 8];
	uint8_t qs[EK_QK_K / 2];
};

/*
 * Q6_K: sixteen sub-blocks of 16 with int8 scales; value d*sc*(q-32), q of
 * six bits: in each half of 128 elements (ql + 64h, qh + 32h), element
 * l + 32i (i < 4, l < 32) has low bits ql[l + 32 (i & 1)] >> 4 (i >> 1)
 * and high bits (qh[l] >> 2i) & 3.
 */
struct ek_block_q6_K {
	uint8_t ql[EK_QK_K / 2];
	uint8_t qh[EK_QK_K / 4];
	int8_t scales[EK_QK_K / 16];
	uint16_t d;
};

/* Runs fn(arg, i, n) for every i in [0, n) and returns when all are done;
 * calls for different i may run on different threads. */
typedef void (*ek_task_fn)(void *arg, int i, int n);
struct ek_exec {
	void (*run)(void *ctx, ek_task_fn fn, void *arg, int n);
	void *ctx;
	int nthreads;		/* useful n for run() */
};

/* A single-threaded executor (ctx unused). */
extern const struct ek_exec ek_exec_serial;

/* [*begin, *end) of part i of n when splitting total items in chunks that
 * are multiples of grain (except the last): a task's share. */
static inline void ek_split(uint64_t total, uint64_t grain, int i, int n,
			    uint64_t *begin, uint64_t *end)
{
	uint64_t chunks = (total + grain - 1) / grain;
	uint64_t b = chunks * (uint64_t)i / (uint64_t)n;
	uint64_t e = chunks * (uint64_t)(i + 1) / (uint64_t)n;

	*begin = b * grain < total ? b * grain : total;
	*end = e * grain < total ? e * grain : total;
}

/* ---- data types -------------------------------------------------------- */
bool ek_dtype_known(int dtype);
const char *ek_dtype_name(int dtype);
/* Bytes of a row of n elements, or 0 if n is invalid for the type
 * (block types need n % EK_QK == 0, K-quants n % EK_QK_K == 0). */
size_t ek_row_size(int dtype, uint64_t n);
/* Minimum alignment of a row's address (bytes). */
size_t ek_dtype_align(int dtype);

float ek_f16_to_f32(uint16_t h);
uint16_t ek_f32_to_f16(float f);
float ek_bf16_to_f32(uint16_t h);
uint16_t ek_f32_to_bf16(float f);

/* Elements per block (1 for F32 / F16 / BF16). */
uint32_t ek_dtype_block(int dtype);

/* Convert n elements of a row to/from f32. Returns false for an unknown
 * type or invalid n. dequantize gives ggml's f32 values bit for bit.
 * quantize: Q8_0 / Q4_0 round as ggml's reference does; Q4_1 / Q5_x store
 * its scales, each quant the nearest level they offer; the K-quants
 * search their scales at least as well as ggml's reference quantizer. */
bool ek_dequantize_row(int dtype, const void *src, float *dst, uint64_t n);
bool ek_quantize_row(int dtype, const float *src, void *dst, uint64_t n);

/* ---- ops --------------------------------------------------------------- */

/*
 * How a weight matrix is stored. EK_LAYOUT_ROWS: GGUF rows, w_stride apart
 * (what every op and the device read). EK_LAYOUT_X16: Q8_0 / Q4_0 rows
 * interleaved sixteen at a time (ek_x16_pack below), one row per 32-bit
 * lane, so that a 64-byte load feeds sixteen rows and their sums need no
 * shuffling; a host-only form that a loader makes once, where
 * ek_x16_preferred() says it pays.
 */
enum ek_layout {
	EK_LAYOUT_ROWS = 0,
	EK_LAYOUT_X16 = 1,
};

/* Rows of an X16 group; a view of X16 weights starts at a multiple. */
#define EK_X16_ROWS 16

/* C[m][n] = sum_k A[m][k] * W[n][k] (+ bias[n]) (+ C[m][n] if accumulate) */
struct ek_matmul {
	uint32_t m, n, k;
	const float *a;
	size_t a_stride;
	const void *w;
	int w_dtype;
	size_t w_stride;	/* ROWS: bytes between rows; X16: unused */
	int w_layout;		/* enum ek_layout; X16: w is ek_x16_pack() of
				 * w_rows x k (0: n x k) */
	uint32_t w_row0;	/* X16: first row of W used (a multiple of
				 * EK_X16_ROWS), so a thread can take rows
				 * w_row0..+n of a packed W; ROWS: 0 (point
				 * w at the row) */
	uint32_t w_rows;
	float *c;
	size_t c_stride;
	const float *bias;	/* NULL: none */
	bool accumulate;
};
/* Work memory ek_matmul needs (e.g. quantized activations); 0 if none.
 * Reads only the shape (m, n, k, w_dtype): pointers may be NULL. */
size_t ek_matmul_scratch_size(const struct ek_matmul *p, int nthreads);
/* scratch: at least ek_matmul_scratch_size() bytes, 64-byte aligned, or
 * NULL: then a slower path that needs no work memory is used (for ROWS;
 * X16 weights need the scratch, without it nothing is computed). */
void ek_matmul(const struct ek_exec *ex, const struct ek_matmul *p,
	       void *scratch);
/*
 * count matmuls that read the same A (equal m, k, a and a_stride), e.g. the
 * Q, K and V projections: with block-quantized weights of one type, A is
 * quantized once and one fork-join covers the rows of all of them (fewer,
 * longer streams); with f32 weights and M in the prefill range, A is
 * transposed once for all of them; otherwise they run one by one. Every
 * output is bitwise what ek_matmul gives. scratch: the largest
 * ek_matmul_scratch_size() of the group (or NULL).
 */
void ek_matmul_group(const struct ek_exec *ex, const struct ek_matmul *ps,
		     int count, void *scratch);

/*
 * The X16 layout of n rows of k elements (Q8_0 or Q4_0; nb = k / 32 blocks
 * per row, G = ceil(n / 16) groups of sixteen rows, missing rows zero):
 *  - quants, G x nb entries of QB bytes, group-major; an entry is 64-byte
 *    chunks whose bytes 4r..4r+3 belong to row r of the group: for Q4_0
 *    (QB = 256) chunk c holds GGUF nibble bytes 4c..4c+3 (elements 4c..
 *    4c+3 low, 16+4c.. high); for Q8_0 (QB = 512) chunk c holds elements
 *    4c..4c+3, each stored + 128 (unsigned, as VNNI multiplies u8 by s8);
 *  - then the f16 scales, 16 per entry in the same order (row r at r).
 * Same bytes as the rows when n % 16 == 0. Both planes stream in order.
 */
/* Bytes of the X16 form (0: dtype not Q8_0 / Q4_0, or k not blocks). */
size_t ek_x16_size(int dtype, uint64_t n, uint64_t k);
/* Rows w (w_stride apart) to X16 at dst (ek_x16_size() bytes, 64-aligned
 * for speed). Returns false for what ek_x16_size() rejects. */
bool ek_x16_pack(int dtype, const void *w, size_t w_stride, uint64_t n,
		 uint64_t k, void *dst);
/* Only groups g0..g1 of the ceil(n / 16) (rows 16 g0 .. 16 g1), so that
 * a loader can pack a matrix on several threads. */
bool ek_x16_pack_part(int dtype, const void *w, size_t w_stride, uint64_t n,
		      uint64_t k, uint64_t g0, uint64_t g1, void *dst);
/* Row r of an X16 matrix to f32 (as ek_dequantize_row on the row). */
bool ek_x16_dequantize_row(int dtype, const void *x16, uint64_t n,
			   uint64_t k, uint64_t r, float *dst);
/* Whether ek_matmul on this CPU runs X16 weights of dtype faster than rows. */
bool ek_x16_preferred(int dtype);

/*
 * Causal grouped-query attention with online softmax. For token t < n_tok
 * at position p = n_past + t, head h, kv head g = h / (n_head / n_kv_head):
 *   out[t][h] = sum_{j <= p} softmax_j(scale * q[t][h] . k[j][g]) v[j][g]
 * q: f32 [n_tok][n_head][head_dim], q_stride bytes between tokens.
 * k, v: kv_dtype (F32, F16, or Q8_0 when 32 | head_dim: each head's rows
 * whole blocks) [pos][n_kv_head][head_dim], kv_stride apart (k as
 * k_layout says). out: f32 [n_tok][n_head][head_dim], out_stride
 * bytes between tokens.
 */
struct ek_attention {
	uint32_t n_tok, n_past, n_head, n_kv_head, head_dim;
	float scale;
	const float *q;
	size_t q_stride;
	const void *k, *v;
	int kv_dtype;
	size_t kv_stride;
	int k_layout;		/* enum ek_kv_layout */
	float *out;
	size_t out_stride;
};
void ek_attention(const struct ek_exec *ex, const struct ek_attention *p);

/*
 * Decode attention (n_tok = 1) over a long cache runs in parts: position
 * ranges that depend only on n_past, whose (max, sum, accumulator) are
 * merged in order. ek_attention() does so on any executor, so its output
 * does not depend on the thread count. These run the same work for a
 * caller with threads of its own. A block is up to EK_ATTN_BLOCK_HEADS
 * query heads of one KV group (ek_attention_blocks(): one per group for
 * groups of <= 8).
 * ek_attention_part() computes block c over part k of ek_attention_parts()
 * (1: no split) into a partial of ek_attention_partial_size() bytes;
 * ek_attention_merge() writes block c's heads of p->out from its parts'
 * partials, laid end to end (and overwrites them): bitwise what
 * ek_attention() writes. False (nothing done) for bad input or n_tok != 1.
 */
#define EK_ATTN_MAX_PARTS 8
#define EK_ATTN_BLOCK_HEADS 8
uint32_t ek_attention_parts(const struct ek_attention *p);
uint32_t ek_attention_blocks(const struct ek_attention *p);
size_t ek_attention_partial_size(void);
bool ek_attention_part(const struct ek_attention *p, uint32_t c, uint32_t k,
		       void *partial);
bool ek_attention_merge(const struct ek_attention *p, uint32_t c,
			void *partials);

/*
 * How a K cache is stored. EK_KV_ROWS: a row per position, kv_stride
 * apart (what the device reads). EK_KV_KT16: positions in tiles of
 * EK_KV_TILE, a tile taking the bytes of EK_KV_TILE rows with each
 * column's values side by side: element c of position j at byte
 *   (j / 16) * 16 * kv_stride + (c * 16 + j % 16) * elem_size,
 * so that one vector holds a dim of 16 positions and the scores need no
 * transposes; a host-only form, where ek_kv_kt16_preferred() says it pays.
 * Q8_0 tiles hold the same bytes as 16 rows of blocks: block b (columns
 * 32b..32b + 31) at 544 b, its values + 128 as u8 with four columns of a
 * position together, column c of position j at 64 (c % 32 / 4) +
 * 4 (j % 16) + c % 4 (the X16 layout: one VNNI dot per four columns of 16
 * positions), then the 16 positions' f16 scales at 512.
 * Such a cache holds whole tiles: ek_kv_bytes() sizes it. V always has
 * rows.
 */
enum ek_kv_layout {
	EK_KV_ROWS = 0,
	EK_KV_KT16 = 1,
};

#define EK_KV_TILE 16

/* Bytes of a cache of n_pos positions in this layout. */
size_t ek_kv_bytes(int layout, size_t kv_stride, uint32_t n_pos);
/* Where column c of position 0 is, in bytes: k + this is a cache of the
 * heads from column c on, with the same kv_stride (Q8_0: 32 | c). */
size_t ek_kv_col_offset(int layout, int dtype, uint32_t c);
/* Columns c0..c0 + n of position pos: x to dtype (F32, F16; Q8_0 when
 * 32 divides c0 and n). */
void ek_kv_store(int dtype, int layout, void *cache, size_t kv_stride,
		 uint32_t pos, uint32_t c0, const float *x, uint32_t n);
/* Does ek_attention on this machine run faster over a KT16 K cache? */
bool ek_kv_kt16_preferred(void);

/* out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w   (w may be NULL: no weight) */
void ek_rmsnorm(const struct ek_exec *ex, uint32_t rows, uint32_t dim,
		const float *x, size_t x_stride, const float *w, float eps,
		float *out, size_t out_stride);

/*
 * Rotary position embedding in place on x: rows of n_head heads of head_dim,
 * row t at position pos0 + t; the first rope_dim dims of each head rotate.
 * neox = false: pairs (2i, 2i+1) (llama, NORM); true: pairs (i, i+rope_dim/2)
 * (qwen2, NEOX). theta = pos * freq_base^(-2i/rope_dim).
 */
void ek_rope(const struct ek_exec *ex, uint32_t rows, uint32_t n_head,
	     uint32_t head_dim, uint32_t rope_dim, uint32_t pos0,
	     float freq_base, bool neox, float *x, size_t x_stride);
/*
 * ek_rope of one row in two halves: the angles of a position (cos and sin,
 * computed as ek_rope does), then their use on n_head heads. A decode step
 * needs one position's angles in every layer: computed once, the results
 * are bitwise those of ek_rope. ek_rope_angles returns false (and sets
 * rope_dim 0) for a rope_dim that ek_rope refuses; ek_rope_heads then does
 * nothing.
 */
struct ek_rope_angles {
	uint32_t rope_dim;
	float cs[EK_MAX_HEAD_DIM / 2], sn[EK_MAX_HEAD_DIM / 2];
};
bool ek_rope_angles(struct ek_rope_angles *a, uint32_t rope_dim, uint32_t pos,
		    float freq_base);
void ek_rope_heads(const struct ek_rope_angles *a, uint32_t n_head,
		   uint32_t head_dim, bool neox, float *x);

/* out[i] = silu(gate[i]) * up[i], rows of n */
void ek_swiglu(const struct ek_exec *ex, uint32_t rows, uint32_t n,
	       const float *gate, size_t gate_stride, const float *up,
	       size_t up_stride, float *out, size_t out_stride);

/* out[i] = a[i] + b[i], rows of n */
void ek_add(const struct ek_exec *ex, uint32_t rows, uint32_t n,
	    const float *a, size_t a_stride, const float *b, size_t b_stride,
	    float *out, size_t out_stride);

/* ---- a persistent thread pool that implements struct ek_exec ----------- */
struct ek_pool;
struct ek_pool *ek_pool_create(int nthreads);	/* NULL on failure */
void ek_pool_destroy(struct ek_pool *pool);
/* An executor that runs tasks on the pool (valid while the pool lives).
 * A job of at most nthreads tasks, run from outside the pool, gets a
 * thread per task, so its tasks may wait for one another: */
struct ek_exec ek_pool_exec(struct ek_pool *pool);

/* All n tasks of such a job wait in ek_barrier_wait until all n arrived.
 * Zero-initialised (or ek_barrier_init) before the job; reusable. */
struct ek_barrier {
	_Atomic unsigned int arrived, gen;
};
void ek_barrier_init(struct ek_barrier *b);
void ek_barrier_wait(struct ek_barrier *b, int n);

#endif /* EMBER_KERNELS_H */
