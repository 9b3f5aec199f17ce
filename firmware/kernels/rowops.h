/* SPDX-License-Identifier: MIT */
/* Per-row kernels of the small ops, per ISA. */
#ifndef EK_ROWOPS_H
#define EK_ROWOPS_H

#include "ek_internal.h"

void ek_swiglu_row_portable(const float *g, const float *u, float *o,
			    uint32_t n);
float ek_sumsq_portable(const float *x, uint32_t n);
#if EK_X86
void ek_swiglu_row_avx512(const float *g, const float *u, float *o,
			  uint32_t n);
float ek_sumsq_avx512(const float *x, uint32_t n);
void ek_swiglu_row_avx2(const float *g, const float *u, float *o,
			uint32_t n);
float ek_sumsq_avx2(const float *x, uint32_t n);
/* f32 -> f16 with F16C, 8 at a time (round to nearest even, as
 * ek_f32_to_f16); the tail and NaNs as ek_f32_to_f16 */
void ek_f32_to_f16_row_f16c(const float *x, uint16_t *h, uint64_t n);
#endif

typedef void (*ek_swiglu_row_fn)(const float *g, const float *u, float *o,
				 uint32_t n);
typedef float (*ek_sumsq_fn)(const float *x, uint32_t n);

static inline ek_swiglu_row_fn ek_swiglu_row_for(int isa)
{
#if EK_X86
	if (isa >= EK_ISA_AVX512)
		return ek_swiglu_row_avx512;
	if (isa >= EK_ISA_AVX2)
		return ek_swiglu_row_avx2;
#endif
	(void)isa;
	return ek_swiglu_row_portable;
}

static inline ek_sumsq_fn ek_sumsq_for(int isa)
{
#if EK_X86
	if (isa >= EK_ISA_AVX512)
		return ek_sumsq_avx512;
	if (isa >= EK_ISA_AVX2)
		return ek_sumsq_avx2;
#endif
	(void)isa;
	return ek_sumsq_portable;
}

#endif /* EK_ROWOPS_H */
