/* SPDX-License-Identifier: MIT */
/*
 * llama-quantize's rules, from llama.cpp's src/llama-quant.cpp
 * (llama_tensor_get_type_impl, tensor_type_fallback), for the types ember
 * computes, on llama-style models (one attn_v and one ffn_down per layer,
 * no experts):
 *  - Q4_K_M / Q5_K_M: output.weight (and token_embd.weight when it is also
 *    the LM head) Q6_K, or Q8_0 when its rows are not whole super-blocks;
 *    attn_v.weight and ffn_down.weight Q6_K in the layers use_more_bits()
 *    picks; every other weight Q4_K / Q5_K;
 *  - any type: a K type whose rows are not whole super-blocks of 256 falls
 *    back to Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0 (tensor_type_fallback).
 *    Where even that does not fit llama.cpp writes F16; here the caller
 *    decides (keep the input's type, or refuse), hence -1.
 */
#include "mix.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <ember/kernels.h>

#include "ggml_types.h"

/* The plain types, in the order --help lists them. */
static const int plain[] = { EK_F32, EK_F16, EK_BF16, EK_Q8_0, EK_Q4_0, EK_Q4_1,
			     EK_Q5_0, EK_Q5_1, EK_Q4_K, EK_Q5_K, EK_Q6_K };
#define N_PLAIN (sizeof(plain) / sizeof(plain[0]))

static bool mix_ok(const struct mix *m)
{
	if (!ek_dtype_known(m->dtype))
		return false;
	if (m->kind == MIX_PURE)
		return mix_fallback(m->dtype) < 0 || ek_dtype_known(mix_fallback(m->dtype));
	return (m->dtype == EK_Q4_K || m->dtype == EK_Q5_K) &&
	       ek_dtype_known(EK_Q6_K) && ek_dtype_known(EK_Q8_0) &&
	       ek_dtype_known(mix_fallback(m->dtype)) && ek_dtype_known(mix_fallback(EK_Q6_K));
}

bool mix_parse(const char *s, struct mix *m)
{
	for (size_t i = 0; i < N_PLAIN; i++) {
		const char *n = ggml_type_name((uint32_t)plain[i]);
		size_t l = strlen(n);

		if (strncasecmp(s, n, l))
			continue;
		m->dtype = plain[i];
		if (!s[l])
			m->kind = MIX_PURE;
		else if (!strcasecmp(s + l, "_m"))
			m->kind = MIX_K_M;
		else
			continue;
		return mix_ok(m);
	}
	return false;
}

const char *mix_name(const struct mix *m, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", ek_dtype_name(m->dtype), m->kind == MIX_K_M ? "_M" : "");
	return buf;
}

const char *mix_list(char *buf, size_t size)
{
	static const struct mix mixes[] = { { EK_Q4_K, MIX_K_M }, { EK_Q5_K, MIX_K_M } };
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < N_PLAIN + 2; i++) {
		struct mix m = i < N_PLAIN ? (struct mix){ plain[i], MIX_PURE } : mixes[i - N_PLAIN];
		char name[16];
		int w;

		if (!mix_ok(&m))
			continue;
		w = snprintf(buf + n, size - n, "%s%s", n ? " " : "", mix_name(&m, name, sizeof(name)));
		if (w < 0 || (size_t)w >= size - n)
			break;
		n += (size_t)w;
	}
	return buf;
}

int mix_fallback(int dtype)
{
	switch (dtype) {
	case EK_Q4_K: return EK_Q5_0;
	case EK_Q5_K: return EK_Q5_1;
	case EK_Q6_K: return EK_Q8_0;
	default: return -1;
	}
}

static bool fits(int dtype, uint64_t ne0)
{
	const struct ggml_type_desc *d = ggml_type_desc((uint32_t)dtype);

	return d && ne0 && ne0 % d->blck == 0;
}

/* llama.cpp's use_more_bits(): the first and last eighth of the layers and
 * every third one between them. */
static bool more_bits(int i, int n)
{
	return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/* The type llama-quantize's K_M rules give before the shape fallback. */
static int k_m_type(const struct mix *m, const char *name, uint64_t ne0, uint32_t n_layer,
		    bool tied)
{
	unsigned layer;

	if (!strcmp(name, "output.weight") || (tied && !strcmp(name, "token_embd.weight")))
		return fits(m->dtype, ne0) ? EK_Q6_K : EK_Q8_0;
	if ((ends_with(name, ".attn_v.weight") || ends_with(name, ".ffn_down.weight")) &&
	    sscanf(name, "blk.%u.", &layer) == 1 && layer < n_layer &&
	    more_bits((int)layer, (int)n_layer))
		return EK_Q6_K;
	return m->dtype;
}

int mix_type(const struct mix *m, const char *name, uint64_t ne0, uint32_t n_layer,
	     bool tied)
{
	int t = m->kind == MIX_K_M ? k_m_type(m, name, ne0, n_layer, tied) : m->dtype;

	if (!fits(t, ne0))
		t = mix_fallback(t);
	return t >= 0 && fits(t, ne0) ? t : -1;
}
