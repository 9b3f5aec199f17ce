/* SPDX-License-Identifier: MIT */
/*
 * The GGML type numbers GGUF writers use (llama.cpp's enum ggml_type in
 * ggml/include/ggml.h, and gguf-py's GGML_QUANT_SIZES for the block
 * layouts, as of 2025: up to Q2_0 = 42). Numbers only ever get added there,
 * so a file from a newer llama.cpp may hold a type beyond this table: that
 * one is "unknown" to the parser.
 */
#include "ggml_types.h"

#include <stdio.h>
#include <string.h>

#include <ember/kernels.h>

#define QK_K 256

static const struct ggml_type_desc types[] = {
	[0] = { "F32", 1, 4 },
	[1] = { "F16", 1, 2 },
	[2] = { "Q4_0", 32, 2 + 16 },
	[3] = { "Q4_1", 32, 2 + 2 + 16 },
	/* 4 (Q4_2) and 5 (Q4_3) were removed */
	[6] = { "Q5_0", 32, 2 + 4 + 16 },
	[7] = { "Q5_1", 32, 2 + 2 + 4 + 16 },
	[8] = { "Q8_0", 32, 2 + 32 },
	[9] = { "Q8_1", 32, 4 + 4 + 32 },
	[10] = { "Q2_K", QK_K, 2 + 2 + QK_K / 16 + QK_K / 4 },
	[11] = { "Q3_K", QK_K, 2 + QK_K / 4 + QK_K / 8 + 12 },
	[12] = { "Q4_K", QK_K, 2 + 2 + 12 + QK_K / 2 },
	[13] = { "Q5_K", QK_K, 2 + 2 + 12 + QK_K / 8 + QK_K / 2 },
	[14] = { "Q6_K", QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + 2 },
	[15] = { "Q8_K", QK_K, 4 + QK_K + QK_K / 8 },
	[16] = { "IQ2_XXS", QK_K, 2 + QK_K / 4 },
	[17] = { "IQ2_XS", QK_K, 2 + QK_K / 4 + QK_K / 32 },
	[18] = { "IQ3_XXS", QK_K, 2 + QK_K / 4 + QK_K / 8 },
	[19] = { "IQ1_S", QK_K, 2 + QK_K / 8 + QK_K / 16 },
	[20] = { "IQ4_NL", 32, 2 + 16 },
	[21] = { "IQ3_S", QK_K, 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4 },
	[22] = { "IQ2_S", QK_K, 2 + QK_K / 4 + QK_K / 16 },
	[23] = { "IQ4_XS", QK_K, 2 + 2 + QK_K / 64 + QK_K / 2 },
	[24] = { "I8", 1, 1 },
	[25] = { "I16", 1, 2 },
	[26] = { "I32", 1, 4 },
	[27] = { "I64", 1, 8 },
	[28] = { "F64", 1, 8 },
	[29] = { "IQ1_M", QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32 },
	[30] = { "BF16", 1, 2 },
	/* 31..33 (Q4_0_4_4, Q4_0_4_8, Q4_0_8_8) were removed from GGUF files */
	[34] = { "TQ1_0", QK_K, 2 + 4 * 13 },
	[35] = { "TQ2_0", QK_K, 2 + QK_K / 4 },
	/* 36..38 (IQ4_NL_4_4, IQ4_NL_4_8, IQ4_NL_8_8) likewise */
	[39] = { "MXFP4", 32, 1 + 16 },
	[40] = { "NVFP4", 64, 4 + 32 },
	[41] = { "Q1_0", 128, 2 + 16 },
	[42] = { "Q2_0", 64, 2 + 16 },
};
#define N_TYPES (sizeof(types) / sizeof(types[0]))

const struct ggml_type_desc *ggml_type_desc(uint32_t t)
{
	return t < N_TYPES && types[t].name ? &types[t] : NULL;
}

const char *ggml_type_name(uint32_t t)
{
	const struct ggml_type_desc *d = ggml_type_desc(t);

	return d ? d->name : NULL;
}

uint32_t ggml_type_max(void)
{
	return (uint32_t)N_TYPES - 1;
}

const char *ggml_types_computed(char *buf, size_t size)
{
	size_t n = 0;

	if (!size)
		return buf;
	buf[0] = '\0';
	/* the float types first, then the block types in number order */
	for (uint32_t i = 0; i < N_TYPES; i++) {
		uint32_t t = i == 2 ? 30 : i > 2 && i <= 30 ? i - 1 : i;
		int w;

		if (!types[t].name || !ek_dtype_known((int)t))
			continue;
		w = snprintf(buf + n, size - n, "%s%s", n ? ", " : "", types[t].name);
		if (w < 0 || (size_t)w >= size - n)
			break;
		n += (size_t)w;
	}
	return buf;
}
