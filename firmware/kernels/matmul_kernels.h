/* SPDX-License-Identifier: MIT */
/* The per-ISA building blocks of ek_matmul, chosen once per call. */
#ifndef EK_MATMUL_KERNELS_H
#define EK_MATMUL_KERNELS_H

#include "ek_internal.h"

typedef float (*ek_dot_q8_fn)(const void *w, const struct ek_q8_row *a,
			      uint64_t nb);
/* Four weight rows against one activation row: shares the activation
 * loads and streams four rows at once; pf: bytes ahead of each row to
 * prefetch. A row's result does not depend on the other three. */
typedef void (*ek_dot4_q8_fn)(const void *const w[4], size_t pf,
			      const struct ek_q8_row *a, uint64_t nb,
			      float out[4]);

/* Four weight rows against four activation rows (out[row][act]), the
 * same sums as four dot4 calls; for M > 1. */
typedef void (*ek_tile_q8_fn)(const void *const w[4],
			      const struct ek_q8_row *const a[4], uint64_t nb,
			      float out[4][4]);

/* X16 weights (kernels.h): one group from each of ns (1..4) streams (its
 * quants at q[s], scales at d[s]) against one activation row, read at
 * once: out[s][r]; pf: bytes ahead of each q[s] to prefetch. */
typedef void (*ek_dotx16_fn)(const uint8_t *const q[4],
			     const uint16_t *const d[4], int ns, size_t pf,
			     const struct ek_q8_row *a, uint64_t nb,
			     float out[4][EK_X16_ROWS]);
/* One X16 group against four activation rows (out[act][row]), bitwise the
 * sums of the dotx16 of each activation row. */
typedef void (*ek_tilex16_fn)(const uint8_t *q, const uint16_t *d,
			      const struct ek_q8_row *const a[4], uint64_t nb,
			      float out[4][EK_X16_ROWS]);

/* Sixteen rows (stride apart, all present) of nb Q8_0 / Q4_0 blocks to
 * one X16 group: its entries at q, its scales at d. */
typedef void (*ek_x16_pack_fn)(int dtype, const void *w, size_t stride,
			       uint64_t nb, uint8_t *q, uint16_t *d);

struct ek_mm_kernels {
	void (*quantize)(const float *x, uint64_t k, struct ek_q8_row *r);
	ek_dot_q8_fn dot_q8_0;
	ek_dot_q8_fn dot_q4_0;
	ek_dot4_q8_fn dot4_q8_0;	/* NULL: use dot_q8_0 four times */
	ek_dot4_q8_fn dot4_q4_0;
	ek_tile_q8_fn tile_q8_0;	/* NULL: use dot4 per activation row */
	ek_tile_q8_fn tile_q4_0;
	ek_dotx16_fn dotx16_q8_0;	/* NULL: X16 is not worth it here */
	ek_dotx16_fn dotx16_q4_0;
	ek_tilex16_fn tilex16_q8_0;	/* NULL: dotx16 per activation row */
	ek_tilex16_fn tilex16_q4_0;
	ek_x16_pack_fn x16_pack;	/* NULL: the portable pack */
	/*
	 * The other block types (Q4_1, Q5_0, Q5_1 and the K-quants) against
	 * the same q8 activations (32-blocks: a K-quant super-block meets
	 * eight of them); NULL: the portable dot. dot4: NULL, dot four times.
	 */
	ek_dot_q8_fn dot_q4_1, dot_q5_0, dot_q5_1;
	ek_dot_q8_fn dot_q4_K, dot_q5_K, dot_q6_K;
	ek_dot4_q8_fn dot4_q4_1, dot4_q5_0, dot4_q5_1;
	ek_dot4_q8_fn dot4_q4_K, dot4_q5_K, dot4_q6_K;
	/* any weight type against f32 activations */
	float (*dot_f)(int dtype, const void *w, const float *a, uint64_t k);
	/* four F32 / F16 / BF16 rows at once (decode); NULL: use dot_f */
	void (*dot4_f)(int dtype, const void *const w[4], size_t pf,
		       const float *a, uint64_t k, float out[4]);
	/* tiled GEMM for float weights, NULL if none: per-task buffer bytes
	 * (0 = this shape should not use the GEMM) and task i of n */
	size_t (*gemm_task_bytes)(const struct ek_matmul *p);
	void (*gemm)(const struct ek_matmul *p, void *buf, int i, int n);
	/* f32 weights read in place, A packed once (gemm_wt_avx512.c); NULL
	 * if none: buffer bytes (0 = not for this shape), the packing of A
	 * as task i of n, then units u0..u1 of the GEMM over the packed A
	 * (ek_gemm_wt_units(); several matmuls of one A share one packing) */
	size_t (*gemm_wt_bytes)(const struct ek_matmul *p);
	void (*gemm_wt_pack)(const struct ek_matmul *p, void *buf, int i,
			     int n);
	void (*gemm_wt)(const struct ek_matmul *p, const void *buf, uint64_t u0,
			uint64_t u1);
};

const struct ek_mm_kernels *ek_mm_kernels_for(int isa);

/* The block dots of weight type dtype in k: a portable dot where k has
 * none; dot4 NULL: the dot per row; tile NULL (always without a dot4):
 * dot4 per activation row. All NULL for a type without blocks. */
struct ek_mm_q8_fns {
	ek_dot_q8_fn dot;
	ek_dot4_q8_fn dot4;
	ek_tile_q8_fn tile;
};
struct ek_mm_q8_fns ek_mm_q8_fns(const struct ek_mm_kernels *k, int dtype);

static inline size_t ek_gemm_task_bytes(const struct ek_mm_kernels *k,
					const struct ek_matmul *p)
{
	return k->gemm ? k->gemm_task_bytes(p) : 0;
}

static inline size_t ek_gemm_scratch_size(const struct ek_mm_kernels *k,
					  const struct ek_matmul *p,
					  int nthreads)
{
	return ek_gemm_task_bytes(k, p) * (size_t)nthreads;
}

/* gemm_wt tiles: weight rows x activation rows */
#define EK_GEMM_WT_NR 12
#define EK_GEMM_WT_MR 32

/* gemm_wt units of p: (12-row slab of W, 32-row tile of A) pairs,
 * slab-major, so a range of units reuses each slab it loads */
static inline uint64_t ek_gemm_wt_units(const struct ek_matmul *p)
{
	return (uint64_t)(p->n + EK_GEMM_WT_NR - 1) / EK_GEMM_WT_NR *
	       ((p->m + EK_GEMM_WT_MR - 1) / EK_GEMM_WT_MR);
}

/* The X16 dots that run everywhere (x16.c). */
void ek_dotx16_q8_0_portable(const uint8_t *const q[4],
			     const uint16_t *const d[4], int ns, size_t pf,
			     const struct ek_q8_row *a, uint64_t nb,
			     float out[4][EK_X16_ROWS]);
void ek_dotx16_q4_0_portable(const uint8_t *const q[4],
			     const uint16_t *const d[4], int ns, size_t pf,
			     const struct ek_q8_row *a, uint64_t nb,
			     float out[4][EK_X16_ROWS]);

#if EK_X86
void ek_dotx16_q8_0_vnni(const uint8_t *const q[4], const uint16_t *const d[4],
			 int ns, size_t pf, const struct ek_q8_row *a,
			 uint64_t nb, float out[4][EK_X16_ROWS]);
void ek_dotx16_q4_0_vnni(const uint8_t *const q[4], const uint16_t *const d[4],
			 int ns, size_t pf, const struct ek_q8_row *a,
			 uint64_t nb, float out[4][EK_X16_ROWS]);
void ek_tilex16_q8_0_vnni(const uint8_t *q, const uint16_t *d,
			  const struct ek_q8_row *const a[4], uint64_t nb,
			  float out[4][EK_X16_ROWS]);
void ek_tilex16_q4_0_vnni(const uint8_t *q, const uint16_t *d,
			  const struct ek_q8_row *const a[4], uint64_t nb,
			  float out[4][EK_X16_ROWS]);
void ek_x16_pack_group_avx512(int dtype, const void *w, size_t stride,
			      uint64_t nb, uint8_t *q, uint16_t *d);
size_t ek_gemm_wt_bytes(const struct ek_matmul *p);
void ek_gemm_wt_pack(const struct ek_matmul *p, void *buf, int i, int n);
void ek_gemm_wt(const struct ek_matmul *p, const void *buf, uint64_t u0,
		uint64_t u1);

/* Q4_1, Q5_0, Q5_1 and K-quant dots (matmul_blocks_avx2.c, _avx512.c). */
#define EK_DECLARE_BLOCK_DOT(T, ISA)                                         \
	float ek_dot_##T##_##ISA(const void *w, const struct ek_q8_row *a,    \
				 uint64_t nb)
#define EK_DECLARE_BLOCK_DOT4(T, ISA)                                        \
	void ek_dot4_##T##_##ISA(const void *const w[4], size_t pf,          \
				 const struct ek_q8_row *a, uint64_t nb,      \
				 float out[4])
EK_DECLARE_BLOCK_DOT(q4_1, avx2);
EK_DECLARE_BLOCK_DOT(q5_0, avx2);
EK_DECLARE_BLOCK_DOT(q5_1, avx2);
EK_DECLARE_BLOCK_DOT(q4_K, avx2);
EK_DECLARE_BLOCK_DOT(q5_K, avx2);
EK_DECLARE_BLOCK_DOT(q6_K, avx2);
EK_DECLARE_BLOCK_DOT4(q4_K, avx2);
EK_DECLARE_BLOCK_DOT4(q5_K, avx2);
EK_DECLARE_BLOCK_DOT4(q6_K, avx2);
EK_DECLARE_BLOCK_DOT(q4_1, vnni);
EK_DECLARE_BLOCK_DOT(q5_0, vnni);
EK_DECLARE_BLOCK_DOT(q5_1, vnni);
EK_DECLARE_BLOCK_DOT(q4_K, vnni);
EK_DECLARE_BLOCK_DOT(q5_K, vnni);
EK_DECLARE_BLOCK_DOT(q6_K, vnni);
EK_DECLARE_BLOCK_DOT4(q4_1, vnni);
EK_DECLARE_BLOCK_DOT4(q5_0, vnni);
EK_DECLARE_BLOCK_DOT4(q5_1, vnni);
EK_DECLARE_BLOCK_DOT4(q4_K, vnni);
EK_DECLARE_BLOCK_DOT4(q5_K, vnni);
EK_DECLARE_BLOCK_DOT4(q6_K, vnni);

extern const struct ek_mm_kernels ek_mm_kernels_avx2;
extern const struct ek_mm_kernels ek_mm_kernels_avx512;
extern const struct ek_mm_kernels ek_mm_kernels_vnni;
#endif

#endif /* EK_MATMUL_KERNELS_H */
