/* SPDX-License-Identifier: MIT */
/*
 * Private helpers shared by the ek_* kernel sources: ISA selection, work
 * splitting, and the prototypes of the per-ISA kernels.
 */
#ifndef EK_INTERNAL_H
#define EK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ember/kernels.h"

/*
 * Instruction-set levels, best last. EK_ISA_MAX caps what runtime dispatch
 * may pick; tests build the library once per cap so every path is checked
 * against the reference on one machine.
 */
#define EK_ISA_PORTABLE 0
#define EK_ISA_AVX2 1		/* AVX2 + FMA + F16C */
#define EK_ISA_AVX512 2		/* AVX-512 F/BW/VL/DQ */
#define EK_ISA_AVX512VNNI 3	/* + AVX-512 VNNI */

#ifndef EK_ISA_MAX
#define EK_ISA_MAX EK_ISA_AVX512VNNI
#endif

#if defined(__x86_64__) && defined(__GNUC__) && EK_ISA_MAX > EK_ISA_PORTABLE
#define EK_X86 1
#else
#define EK_X86 0
#endif

#if EK_X86
#define EK_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define EK_TARGET_AVX512 \
	__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq")))
#define EK_TARGET_VNNI \
	__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#endif

/* The best ISA level this CPU supports, capped by EK_ISA_MAX. Reads the
 * CPU model libgcc fills in at startup: cheap, no state of our own. */
static inline int ek_isa(void)
{
#if EK_X86
	int isa = EK_ISA_PORTABLE;

	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		isa = EK_ISA_AVX2;
	if (isa == EK_ISA_AVX2 && __builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl") &&
	    __builtin_cpu_supports("avx512dq"))
		isa = EK_ISA_AVX512;
	if (isa == EK_ISA_AVX512 && __builtin_cpu_supports("avx512vnni"))
		isa = EK_ISA_AVX512VNNI;
	return isa < EK_ISA_MAX ? isa : EK_ISA_MAX;
#else
	return EK_ISA_PORTABLE;
#endif
}

static inline const void *ek_ptr_add(const void *p, size_t bytes)
{
	return (const char *)p + bytes;
}

static inline void *ek_ptr_add_mut(void *p, size_t bytes)
{
	return (char *)p + bytes;
}

#if EK_X86
/* The line at p into L2 (prefetcht1). An asm statement: GCC 12's dead-code
 * elimination dropped __builtin_prefetch from inlined SIMD loops (the
 * attention object had none left); check the object when adding more. */
static inline __attribute__((always_inline)) void ek_prefetch_l2(const void *p)
{
	__asm__ volatile("prefetcht1 %0" : : "m"(*(const char *)p));
}
#endif

/*
 * Tasks per thread: more tasks than threads, claimed dynamically by the
 * executor, so a thread that the OS preempts (other load, more threads
 * than cores) delays one small task instead of a whole share.
 */
#define EK_TASKS_PER_THREAD 4

/* Number of tasks worth running for `items` independent work items, at
 * per_thread tasks per thread. */
static inline int ek_ntasks_per(const struct ek_exec *ex, uint64_t items,
				int per_thread)
{
	int n = ex && ex->nthreads > 0 ? ex->nthreads : 1;

	if (n > 1)
		n *= per_thread;

	if ((uint64_t)n > items)
		n = items ? (int)items : 1;
	return n;
}

static inline int ek_ntasks(const struct ek_exec *ex, uint64_t items)
{
	return ek_ntasks_per(ex, items, EK_TASKS_PER_THREAD);
}

/* Run fn over n tasks on ex (NULL ex or n == 1: on this thread). */
static inline void ek_run(const struct ek_exec *ex, ek_task_fn fn, void *arg,
			  int n)
{
	if (n <= 1 || !ex || !ex->run) {
		for (int i = 0; i < n; i++)
			fn(arg, i, n);
		return;
	}
	ex->run(ex->ctx, fn, arg, n);
}

static inline size_t ek_elem_size(int dtype)
{
	return dtype == EK_F32 ? 4 : 2;	/* F16 / BF16 */
}

/* ---- activations quantized to 8 bits (matmul scratch) ----------------- */

/* One row of activations in blocks of EK_QK: scale, sum of quants and the
 * quants, as separate arrays so SIMD loads stay aligned. */
struct ek_q8_row {
	float *d;	/* [nb] */
	int32_t *sum;	/* [nb] sum of qs in the block */
	int8_t *qs;	/* [nb * EK_QK] */
};

size_t ek_q8_row_bytes(uint64_t k);
void ek_q8_row_view(void *base, uint64_t k, struct ek_q8_row *r);
void ek_q8_quantize_portable(const float *x, uint64_t k, struct ek_q8_row *r);

/* Dot products of one weight row with q8 activations; return the sum. */
float ek_dot_q8_0_portable(const void *w, const struct ek_q8_row *a,
			   uint64_t nb);
float ek_dot_q4_0_portable(const void *w, const struct ek_q8_row *a,
			   uint64_t nb);
float ek_dot_q4_1_portable(const void *w, const struct ek_q8_row *a,
			   uint64_t nb);
float ek_dot_q5_0_portable(const void *w, const struct ek_q8_row *a,
			   uint64_t nb);
float ek_dot_q5_1_portable(const void *w, const struct ek_q8_row *a,
			   uint64_t nb);
/* K-quants: nb is still the activations' 32-blocks (8 per super-block). */
float ek_dot_q4_K_portable(const void *w, const struct ek_q8_row *a,
			   uint64_t nb);
float ek_dot_q5_K_portable(const void *w, const struct ek_q8_row *a,
			   uint64_t nb);
float ek_dot_q6_K_portable(const void *w, const struct ek_q8_row *a,
			   uint64_t nb);
/* Dot product of a float-type weight row with f32 activations. */
float ek_dot_f_portable(int dtype, const void *w, const float *a, uint64_t k);

#if EK_X86
void ek_q8_quantize_avx2(const float *x, uint64_t k, struct ek_q8_row *r);
void ek_q8_quantize_avx512(const float *x, uint64_t k, struct ek_q8_row *r);
#endif

#endif /* EK_INTERNAL_H */
