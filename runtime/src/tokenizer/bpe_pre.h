/* SPDX-License-Identifier: MIT */
/* GPT-2 style pre-tokenizers: cut text into the words BPE merges within. */
#ifndef EMBER_RT_BPE_PRE_H
#define EMBER_RT_BPE_PRE_H

#include <stddef.h>

#include "bpe_bytes.h"
#include "vocab.h"

typedef void (*bpe_word_fn)(void *arg, const char *word, size_t len);

/* Calls fn for each word, in order; the words cover the whole text. */
void bpe_pre_split(enum bpe_pre pre, const char *text, size_t len,
		   bpe_word_fn fn, void *arg);

#endif
