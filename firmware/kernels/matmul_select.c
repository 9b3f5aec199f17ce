/* SPDX-License-Identifier: MIT */
/* Which matmul building blocks each ISA level uses. */
#include "matmul_kernels.h"

static const struct ek_mm_kernels mm_portable = {
	.quantize = ek_q8_quantize_portable,
	.dot_q8_0 = ek_dot_q8_0_portable,
	.dot_q4_0 = ek_dot_q4_0_portable,
	.dot_f = ek_dot_f_portable,
	.gemm_task_bytes = NULL,
	.gemm = NULL,
};

const struct ek_mm_kernels *ek_mm_kernels_for(int isa)
{
#if EK_X86
	if (isa >= EK_ISA_AVX512VNNI)
		return &ek_mm_kernels_vnni;
	if (isa >= EK_ISA_AVX512)
		return &ek_mm_kernels_avx512;
	if (isa >= EK_ISA_AVX2)
		return &ek_mm_kernels_avx2;
#endif
	(void)isa;
	return &mm_portable;
}
