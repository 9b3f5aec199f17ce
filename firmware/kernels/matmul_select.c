/* SPDX-License-Identifier: MIT */
/* Which matmul building blocks each ISA level uses, and which of them a
 * weight type takes. */
#include "matmul_kernels.h"

static const struct ek_mm_kernels mm_portable = {
	.quantize = ek_q8_quantize_portable,
	.dot_q8_0 = ek_dot_q8_0_portable,
	.dot_q4_0 = ek_dot_q4_0_portable,
	.dot_q4_1 = ek_dot_q4_1_portable,
	.dot_q5_0 = ek_dot_q5_0_portable,
	.dot_q5_1 = ek_dot_q5_1_portable,
	.dot_q4_K = ek_dot_q4_K_portable,
	.dot_q5_K = ek_dot_q5_K_portable,
	.dot_q6_K = ek_dot_q6_K_portable,
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

struct ek_mm_q8_fns ek_mm_q8_fns(const struct ek_mm_kernels *k, int dtype)
{
	struct ek_mm_q8_fns f = { NULL, NULL, NULL };
	ek_dot_q8_fn portable = NULL;

	switch (dtype) {
	case EK_Q8_0:
		f = (struct ek_mm_q8_fns){ k->dot_q8_0, k->dot4_q8_0, k->tile_q8_0 };
		portable = ek_dot_q8_0_portable;
		break;
	case EK_Q4_0:
		f = (struct ek_mm_q8_fns){ k->dot_q4_0, k->dot4_q4_0, k->tile_q4_0 };
		portable = ek_dot_q4_0_portable;
		break;
	case EK_Q4_1:
		f = (struct ek_mm_q8_fns){ k->dot_q4_1, k->dot4_q4_1, NULL };
		portable = ek_dot_q4_1_portable;
		break;
	case EK_Q5_0:
		f = (struct ek_mm_q8_fns){ k->dot_q5_0, k->dot4_q5_0, NULL };
		portable = ek_dot_q5_0_portable;
		break;
	case EK_Q5_1:
		f = (struct ek_mm_q8_fns){ k->dot_q5_1, k->dot4_q5_1, NULL };
		portable = ek_dot_q5_1_portable;
		break;
	case EK_Q4_K:
		f = (struct ek_mm_q8_fns){ k->dot_q4_K, k->dot4_q4_K, NULL };
		portable = ek_dot_q4_K_portable;
		break;
	case EK_Q5_K:
		f = (struct ek_mm_q8_fns){ k->dot_q5_K, k->dot4_q5_K, NULL };
		portable = ek_dot_q5_K_portable;
		break;
	case EK_Q6_K:
		f = (struct ek_mm_q8_fns){ k->dot_q6_K, k->dot4_q6_K, NULL };
		portable = ek_dot_q6_K_portable;
		break;
	default:
		break;
	}
	if (!f.dot)
		f.dot = portable;
	if (!f.dot4)		/* a tile is four rows of A through dot4's sums */
		f.tile = NULL;
	return f;
}
