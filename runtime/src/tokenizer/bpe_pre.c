/* SPDX-License-Identifier: MIT */
/*
 * Hand-written matchers equivalent to the pre-tokenizer regexes (first
 * matching alternative wins at each position, as in a regex engine):
 *
 * gpt2 / smollm:
 *   's|'t|'re|'ve|'m|'ll|'d | ?\p{L}+ | ?\p{N}+ | ?[^\s\p{L}\p{N}]+ |
 *   \s+(?!\S) | \s+
 *   (smollm first cuts every \p{N} into its own piece)
 * llama3 / qwen2:
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ |
 *   \p{N}{1,3} (qwen2: \p{N}) | ?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ |
 *   \s+(?!\S) | \s+
 */
#include "bpe_pre.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "unicode.h"

enum { C_L = 1, C_N = 2, C_S = 4 };

struct cps {
	uint32_t *cp;
	uint8_t *cls;
	size_t *off;	/* byte offset of each code point; off[n] = len */
	size_t n;
};

static uint32_t cp_at(const struct cps *c, size_t i)
{
	return i < c->n ? c->cp[i] : 0xffffffffu;
}

static uint8_t cls_at(const struct cps *c, size_t i)
{
	return i < c->n ? c->cls[i] : 0;
}

static uint32_t lower(uint32_t cp)
{
	return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
}

/* Length of a contraction at i ('s 't 're 've 'm 'll 'd), or 0. */
static size_t contraction(const struct cps *c, size_t i, bool icase)
{
	uint32_t a, b;

	if (cp_at(c, i) != '\'')
		return 0;
	a = cp_at(c, i + 1);
	b = cp_at(c, i + 2);
	if (icase) {
		a = lower(a);
		b = lower(b);
	}
	if (a == 's' || a == 't' || a == 'm' || a == 'd')
		return 2;
	if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
		return 3;
	return 0;
}

/* \s+(?!\S) then \s+ : a whitespace run leaves its last character to the
 * next word unless the run ends the text. */
static size_t space_run(const struct cps *c, size_t i)
{
	size_t j = i;

	while (cls_at(c, j) & C_S)
		j++;
	if (j < c->n && j - i > 1)
		j--;
	return j - i;
}

static size_t match_gpt2(const struct cps *c, size_t i)
{
	size_t j = i, k;
	uint8_t cl = c->cls[i];

	k = contraction(c, i, false);
	if (k)
		return k;
	if (c->cp[i] == ' ' && i + 1 < c->n)
		j = i + 1;
	if (c->cls[j] & C_L) {
		while (cls_at(c, j) & C_L)
			j++;
		return j - i;
	}
	if (c->cls[j] & C_N) {
		while (cls_at(c, j) & C_N)
			j++;
		return j - i;
	}
	if (!(c->cls[j] & (C_L | C_N | C_S))) {
		while (j < c->n && !(c->cls[j] & (C_L | C_N | C_S)))
			j++;
		return j - i;
	}
	(void)cl;
	return space_run(c, i);
}

static size_t match_llama3(const struct cps *c, size_t i, unsigned max_digits)
{
	size_t j = i, k;
	uint32_t cp = c->cp[i];
	uint8_t cl = c->cls[i];

	k = contraction(c, i, true);
	if (k)
		return k;
	/* [^\r\n\p{L}\p{N}]?\p{L}+ */
	if (!(cl & (C_L | C_N)) && cp != '\r' && cp != '\n' && (cls_at(c, i + 1) & C_L))
		j = i + 1;
	if (c->cls[j] & C_L) {
		while (cls_at(c, j) & C_L)
			j++;
		return j - i;
	}
	j = i;
	if (cl & C_N) {
		while (j - i < max_digits && (cls_at(c, j) & C_N))
			j++;
		return j - i;
	}
	/*  ?[^\s\p{L}\p{N}]+[\r\n]* */
	if (cp == ' ' && i + 1 < c->n && !(c->cls[i + 1] & (C_L | C_N | C_S)))
		j = i + 1;
	if (!(c->cls[j] & (C_L | C_N | C_S))) {
		while (j < c->n && !(c->cls[j] & (C_L | C_N | C_S)))
			j++;
		while (cp_at(c, j) == '\r' || cp_at(c, j) == '\n')
			j++;
		return j - i;
	}
	/* \s*[\r\n]+ : the run up to its last newline */
	{
		size_t end = i, last_nl = 0;
		bool nl = false;

		while (cls_at(c, end) & C_S) {
			if (c->cp[end] == '\r' || c->cp[end] == '\n') {
				last_nl = end;
				nl = true;
			}
			end++;
		}
		if (nl)
			return last_nl + 1 - i;
	}
	return space_run(c, i);
}

static void split_range(enum bpe_pre pre, const struct cps *c, size_t a,
			size_t b, const char *text, bpe_word_fn fn, void *arg)
{
	struct cps sub = { c->cp + a, c->cls + a, c->off + a, b - a };

	for (size_t i = 0; i < sub.n;) {
		size_t k;

		if (pre == PRE_LLAMA3)
			k = match_llama3(&sub, i, 3);
		else if (pre == PRE_QWEN2)
			k = match_llama3(&sub, i, 1);
		else
			k = match_gpt2(&sub, i);
		if (!k)
			k = 1;
		fn(arg, text + sub.off[i], sub.off[i + k] - sub.off[i]);
		i += k;
	}
}

void bpe_pre_split(enum bpe_pre pre, const char *text, size_t len,
		   bpe_word_fn fn, void *arg)
{
	struct cps c;

	c.cp = malloc((len + 1) * sizeof(*c.cp));
	c.cls = malloc(len + 1);
	c.off = malloc((len + 1) * sizeof(*c.off));
	c.n = 0;
	if (!c.cp || !c.cls || !c.off) {
		/* degrade to one word per byte rather than fail silently */
		for (size_t i = 0; i < len; i++)
			fn(arg, text + i, 1);
		goto out;
	}
	for (size_t off = 0; off < len;) {
		uint32_t cp;
		size_t l = uni_decode(text + off, len - off, &cp);

		c.cp[c.n] = cp;
		c.cls[c.n] = (uni_is_letter(cp) ? C_L : 0) | (uni_is_number(cp) ? C_N : 0) |
			     (uni_is_space(cp) ? C_S : 0);
		c.off[c.n++] = off;
		off += l;
	}
	c.off[c.n] = len;
	if (pre == PRE_SMOLLM) {
		/* every digit alone, then GPT-2 rules on the runs between */
		size_t start = 0;

		for (size_t i = 0; i < c.n; i++) {
			if (!(c.cls[i] & C_N))
				continue;
			if (i > start)
				split_range(PRE_GPT2, &c, start, i, text, fn, arg);
			fn(arg, text + c.off[i], c.off[i + 1] - c.off[i]);
			start = i + 1;
		}
		if (c.n > start)
			split_range(PRE_GPT2, &c, start, c.n, text, fn, arg);
	} else {
		split_range(pre, &c, 0, c.n, text, fn, arg);
	}
out:
	free(c.cp);
	free(c.cls);
	free(c.off);
}
