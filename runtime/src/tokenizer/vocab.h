/* SPDX-License-Identifier: MIT */
/* The tokenizer's vocabulary, read from GGUF tokenizer.ggml.* metadata. */
#ifndef EMBER_RT_VOCAB_H
#define EMBER_RT_VOCAB_H

#include <stdbool.h>
#include <stdint.h>

#include "gguf.h"

enum vocab_kind { VOCAB_NONE, VOCAB_SPM, VOCAB_BPE };

/* tokenizer.ggml.token_type values */
enum tok_type {
	TT_UNDEFINED = 0, TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3,
	TT_USER_DEFINED = 4, TT_UNUSED = 5, TT_BYTE = 6,
};

/* GPT-2 pre-tokenizer flavours (tokenizer.ggml.pre) */
enum bpe_pre { PRE_GPT2, PRE_LLAMA3, PRE_SMOLLM, PRE_QWEN2 };

struct vocab {
	enum vocab_kind kind;
	enum bpe_pre pre;
	uint32_t n;
	struct gguf_str *text;	/* into the mapped file */
	float *score;
	uint8_t *type;
	uint32_t *ht;		/* open addressing: id + 1, 0 = empty */
	uint32_t ht_mask;
	int32_t bos, eos, unk, eot, eom;
	int32_t eog[8];		/* end-of-generation tokens (eos, eot, chat ends) */
	uint32_t n_eog;
	bool add_bos, add_eos, add_space_prefix;
	int32_t byte_tok[256];	/* token of each byte (-1: none) */
	/* special tokens to split out of text, longest first */
	int32_t *special;
	uint32_t n_special;
	/* BPE merges: hash of (left id, right id) -> rank */
	uint64_t *merge_key;	/* (left << 32 | right) + 1, 0 = empty */
	uint32_t *merge_rank;
	int32_t *merge_result;	/* token of the merged pair */
	uint32_t merge_mask;
};

int vocab_load(struct vocab *v, const struct gguf_file *f, struct ember_error *err);
void vocab_free(struct vocab *v);
/* Token id of the string, or -1. */
int32_t vocab_find(const struct vocab *v, const char *s, size_t n);
/* Rank of merging tokens a and b, or -1; *result = the merged token. */
int64_t vocab_merge_rank(const struct vocab *v, int32_t a, int32_t b, int32_t *result);

/* A growing token list. */
struct tokvec {
	int32_t *v;
	uint32_t n, cap;
	bool oom;
};
void tokvec_push(struct tokvec *tv, int32_t t);

/* Tokenizers of one raw-text fragment (no special tokens inside). */
void spm_tokenize(const struct vocab *v, const char *text, size_t len,
		  struct tokvec *out);
void bpe_tokenize(const struct vocab *v, const char *text, size_t len,
		  struct tokvec *out);

/* Full tokenization (specials, BOS, space prefix). Returns 0 or -errno. */
int vocab_tokenize(const struct vocab *v, const char *text, size_t len,
		   bool add_special, bool parse_special, struct tokvec *out);
/* Bytes of a token; returns the full length or -EINVAL. */
int vocab_piece(const struct vocab *v, int32_t tok, bool special, char *buf,
		size_t size);

/* Length of the UTF-8 sequence started by byte c (1 for invalid bytes). */
static inline size_t utf8_len(unsigned char c)
{
	static const uint8_t lens[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };

	return lens[c >> 4];
}

#endif
