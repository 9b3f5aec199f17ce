/* SPDX-License-Identifier: MIT */
/* Facts about the data types: names, row sizes, alignment. */
#include "ek_internal.h"

bool ek_dtype_known(int dtype)
{
	switch (dtype) {
	case EK_F32:
	case EK_F16:
	case EK_BF16:
	case EK_Q8_0:
	case EK_Q4_0:
		return true;
	default:
		return false;
	}
}

const char *ek_dtype_name(int dtype)
{
	switch (dtype) {
	case EK_F32:
		return "f32";
	case EK_F16:
		return "f16";
	case EK_BF16:
		return "bf16";
	case EK_Q8_0:
		return "q8_0";
	case EK_Q4_0:
		return "q4_0";
	default:
		return "unknown";
	}
}

size_t ek_row_size(int dtype, uint64_t n)
{
	/* Refuse sizes whose byte count would not fit a size_t. */
	if (n == 0 || n > (UINT64_MAX >> 3) || n > (uint64_t)(SIZE_MAX >> 3))
		return 0;
	switch (dtype) {
	case EK_F32:
		return (size_t)n * 4;
	case EK_F16:
	case EK_BF16:
		return (size_t)n * 2;
	case EK_Q8_0:
		if (n % EK_QK)
			return 0;
		return (size_t)(n / EK_QK) * sizeof(struct ek_block_q8_0);
	case EK_Q4_0:
		if (n % EK_QK)
			return 0;
		return (size_t)(n / EK_QK) * sizeof(struct ek_block_q4_0);
	default:
		return 0;
	}
}

size_t ek_dtype_align(int dtype)
{
	switch (dtype) {
	case EK_F32:
		return 4;
	case EK_F16:
	case EK_BF16:
	case EK_Q8_0:
	case EK_Q4_0:
		return 2;	/* the blocks start with an f16 */
	default:
		return 1;
	}
}
