/* SPDX-License-Identifier: MIT */
/* Facts about the data types: names, block and row sizes, alignment. */
#include "ek_internal.h"

/* The GGUF block sizes: a file's bytes are used as they are. */
_Static_assert(sizeof(struct ek_block_q8_0) == 34, "q8_0 block is 34 bytes");
_Static_assert(sizeof(struct ek_block_q4_0) == 18, "q4_0 block is 18 bytes");
_Static_assert(sizeof(struct ek_block_q4_1) == 20, "q4_1 block is 20 bytes");
_Static_assert(sizeof(struct ek_block_q5_0) == 22, "q5_0 block is 22 bytes");
_Static_assert(sizeof(struct ek_block_q5_1) == 24, "q5_1 block is 24 bytes");
_Static_assert(sizeof(struct ek_block_q4_K) == 144, "q4_K block is 144 bytes");
_Static_assert(sizeof(struct ek_block_q5_K) == 176, "q5_K block is 176 bytes");
_Static_assert(sizeof(struct ek_block_q6_K) == 210, "q6_K block is 210 bytes");
/* Q6_K keeps its f16 d last, at byte 208: the struct still needs 2-byte
 * alignment for that member, and its even size keeps every block of a
 * 2-aligned row aligned, so all block types align to 2. */
_Static_assert(_Alignof(struct ek_block_q6_K) == 2, "q6_K blocks align to 2");

/* Elements and bytes per block; false for an unknown type. */
static bool dtype_block(int dtype, uint32_t *elems, uint32_t *bytes)
{
	uint32_t e = EK_QK, b;

	switch (dtype) {
	case EK_F32:
		e = 1;
		b = 4;
		break;
	case EK_F16:
	case EK_BF16:
		e = 1;
		b = 2;
		break;
	case EK_Q8_0:
		b = sizeof(struct ek_block_q8_0);
		break;
	case EK_Q4_0:
		b = sizeof(struct ek_block_q4_0);
		break;
	case EK_Q4_1:
		b = sizeof(struct ek_block_q4_1);
		break;
	case EK_Q5_0:
		b = sizeof(struct ek_block_q5_0);
		break;
	case EK_Q5_1:
		b = sizeof(struct ek_block_q5_1);
		break;
	case EK_Q4_K:
		e = EK_QK_K;
		b = sizeof(struct ek_block_q4_K);
		break;
	case EK_Q5_K:
		e = EK_QK_K;
		b = sizeof(struct ek_block_q5_K);
		break;
	case EK_Q6_K:
		e = EK_QK_K;
		b = sizeof(struct ek_block_q6_K);
		break;
	default:
		return false;
	}
	*elems = e;
	*bytes = b;
	return true;
}

bool ek_dtype_known(int dtype)
{
	uint32_t e, b;

	return dtype_block(dtype, &e, &b);
}

uint32_t ek_dtype_block(int dtype)
{
	uint32_t e, b;

	return dtype_block(dtype, &e, &b) ? e : 0;
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
	case EK_Q4_1:
		return "q4_1";
	case EK_Q5_0:
		return "q5_0";
	case EK_Q5_1:
		return "q5_1";
	case EK_Q4_K:
		return "q4_K";
	case EK_Q5_K:
		return "q5_K";
	case EK_Q6_K:
		return "q6_K";
	default:
		return "unknown";
	}
}

size_t ek_row_size(int dtype, uint64_t n)
{
	uint32_t e, b;

	/* Refuse sizes whose byte count would not fit a size_t. */
	if (n == 0 || n > (UINT64_MAX >> 3) || n > (uint64_t)(SIZE_MAX >> 3))
		return 0;
	if (!dtype_block(dtype, &e, &b) || n % e)
		return 0;
	/* at most 8 bytes per element for every type: no overflow */
	return (size_t)(n / e) * b;
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
	case EK_Q4_1:
	case EK_Q5_0:
	case EK_Q5_1:
	case EK_Q4_K:
	case EK_Q5_K:
	case EK_Q6_K:
		return 2;	/* an f16 in every block (see above for Q6_K) */
	default:
		return 1;
	}
}
