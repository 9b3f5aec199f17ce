/* SPDX-License-Identifier: MIT */
/*
 * GPT-2 byte-level BPE (tokenizer.ggml.model = "gpt2"): the pre-tokenizer
 * (bpe_pre.c) cuts text into words; each word's bytes become their GPT-2
 * characters, and the adjacent pair with the lowest merge rank (ties: the
 * leftmost) is merged until no listed merge applies. A heap of candidate
 * pairs keeps this O(n log n) even for very long words.
 */
#include <stdlib.h>
#include <string.h>

#include "bpe_pre.h"
#include "vocab.h"

struct bsym {
	int32_t tok;
	int prev, next;
};

struct cand {
	uint32_t rank;
	int left, right;
	int32_t ltok, rtok, result;
};

struct bpe_ctx {
	const struct vocab *v;
	struct tokvec *out;
	struct bsym *s;
	struct cand *heap;
	size_t n_heap, cap_heap;
	char *enc;
};

static int before(const struct cand *a, const struct cand *b)
{
	return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void push(struct bpe_ctx *c, int l, int r)
{
	struct cand x;
	int64_t rank;
	size_t i;

	if (l < 0 || r < 0 || c->s[l].tok < 0 || c->s[r].tok < 0)
		return;
	rank = vocab_merge_rank(c->v, c->s[l].tok, c->s[r].tok, &x.result);
	if (rank < 0)
		return;
	x.rank = (uint32_t)rank;
	x.left = l;
	x.right = r;
	x.ltok = c->s[l].tok;
	x.rtok = c->s[r].tok;
	if (c->n_heap == c->cap_heap) {
		size_t cap = c->cap_heap ? c->cap_heap * 2 : 64;
		struct cand *nh = realloc(c->heap, cap * sizeof(*nh));

		if (!nh) {
			c->out->oom = true;
			return;
		}
		c->heap = nh;
		c->cap_heap = cap;
	}
	for (i = c->n_heap++; i && before(&x, &c->heap[(i - 1) / 2]); i = (i - 1) / 2)
		c->heap[i] = c->heap[(i - 1) / 2];
	c->heap[i] = x;
}

static struct cand pop(struct bpe_ctx *c)
{
	struct cand top = c->heap[0], last = c->heap[--c->n_heap];
	size_t i = 0;

	for (;;) {
		size_t k = 2 * i + 1;

		if (k >= c->n_heap)
			break;
		if (k + 1 < c->n_heap && before(&c->heap[k + 1], &c->heap[k]))
			k++;
		if (!before(&c->heap[k], &last))
			break;
		c->heap[i] = c->heap[k];
		i = k;
	}
	if (c->n_heap)
		c->heap[i] = last;
	return top;
}

static void bpe_word(struct bpe_ctx *c, const char *w, size_t n)
{
	const struct vocab *v = c->v;
	struct bsym *s = c->s;
	size_t m = 0;
	int32_t id;

	/* a whole word that is a token: the common case */
	for (size_t i = 0; i < n; i++)
		m += bpe_byte_to_utf8((uint8_t)w[i], c->enc + m);
	id = vocab_find(v, c->enc, m);
	if (id >= 0) {
		tokvec_push(c->out, id);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		s[i].tok = v->byte_tok[(uint8_t)w[i]];
		s[i].prev = (int)i - 1;
		s[i].next = i + 1 < n ? (int)i + 1 : -1;
	}
	c->n_heap = 0;
	for (size_t i = 1; i < n; i++)
		push(c, (int)i - 1, (int)i);
	while (c->n_heap && !c->out->oom) {
		struct cand x = pop(c);
		struct bsym *l = &s[x.left], *r = &s[x.right];

		/* stale: a side was merged away or changed since */
		if (l->next != x.right || l->tok != x.ltok || r->tok != x.rtok)
			continue;
		l->tok = x.result;
		l->next = r->next;
		if (r->next >= 0)
			s[r->next].prev = x.left;
		r->tok = -2;	/* dead */
		r->next = r->prev = -1;
		push(c, l->prev, x.left);
		push(c, x.left, l->next);
	}
	for (int i = 0; i != -1; i = s[i].next)
		tokvec_push(c->out, s[i].tok >= 0 ? s[i].tok : (v->unk >= 0 ? v->unk : 0));
}

static void on_word(void *arg, const char *w, size_t n)
{
	if (n)
		bpe_word(arg, w, n);
}

void bpe_tokenize(const struct vocab *v, const char *text, size_t len,
		  struct tokvec *out)
{
	struct bpe_ctx c = { v, out, malloc((len ? len : 1) * sizeof(struct bsym)), NULL, 0, 0,
			     malloc(len * 2 + 1) };

	if (c.s && c.enc)
		bpe_pre_split(v->pre, text, len, on_word, &c);
	else
		out->oom = true;
	free(c.s);
	free(c.enc);
	free(c.heap);
}
