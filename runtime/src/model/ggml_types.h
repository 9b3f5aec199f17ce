/* SPDX-License-Identifier: MIT */
/*
 * Every tensor type a GGUF file can hold: the GGML type numbers with their
 * names and block layouts, whether ember computes with them or not. The
 * parser sizes any tensor from this table, so a file with a type ember
 * cannot compute still parses and the loader can name that type.
 */
#ifndef EMBER_RT_GGML_TYPES_H
#define EMBER_RT_GGML_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ggml_type_desc {
	const char *name;	/* as llama.cpp prints it: "Q4_K", "IQ4_XS" */
	uint32_t blck;		/* elements per block (1: not block-quantized) */
	uint32_t size;		/* bytes per block */
};

/* The layout of type t, or NULL when t is no GGML type (never assigned,
 * or one of the numbers GGUF files no longer use: 4, 5, 31..33, 36..38). */
const struct ggml_type_desc *ggml_type_desc(uint32_t t);
/* Its name, or NULL as above. */
const char *ggml_type_name(uint32_t t);
/* The largest GGML type number known here. */
uint32_t ggml_type_max(void);
/* Writes "F32, F16, Q4_0, ..." (the types the kernels compute with,
 * ek_dtype_known) into buf; returns buf. */
const char *ggml_types_computed(char *buf, size_t size);

#endif
