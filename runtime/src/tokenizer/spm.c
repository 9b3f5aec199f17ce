/* SPDX-License-Identifier: MIT */
/*
 * SentencePiece-style tokenization (tokenizer.ggml.model = "llama"): start
 * from single UTF-8 characters and keep merging the adjacent pair whose
 * concatenation is the vocabulary token with the highest score (ties: the
 * leftmost pair). Characters left without a token become byte tokens.
 */
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

struct sym {
	size_t off, len;
	int prev, next;
};

struct pair {
	int left, right;
	float score;
	size_t len;
};

struct heap {
	struct pair *v;
	size_t n, cap;
};

/* true if a should be popped before b */
static int before(const struct pair *a, const struct pair *b)
{
	return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static int heap_push(struct heap *h, struct pair p)
{
	size_t i;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct pair *nv = realloc(h->v, cap * sizeof(*nv));

		if (!nv)
			return -1;
		h->v = nv;
		h->cap = cap;
	}
	i = h->n++;
	while (i && before(&p, &h->v[(i - 1) / 2])) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = p;
	return 0;
}

static struct pair heap_pop(struct heap *h)
{
	struct pair top = h->v[0], last = h->v[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && before(&h->v[c + 1], &h->v[c]))
			c++;
		if (!before(&h->v[c], &last))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = last;
	return top;
}

static void try_pair(const struct vocab *v, const char *text,
		     const struct sym *s, int l, int r, struct heap *h, bool *oom)
{
	int32_t id;
	struct pair p;

	if (l < 0 || r < 0)
		return;
	id = vocab_find(v, text + s[l].off, s[l].len + s[r].len);
	if (id < 0)
		return;
	p.left = l;
	p.right = r;
	p.score = v->score[id];
	p.len = s[l].len + s[r].len;
	if (heap_push(h, p))
		*oom = true;
}

void spm_tokenize(const struct vocab *v, const char *text, size_t len,
		  struct tokvec *out)
{
	struct sym *s;
	struct heap h = { 0 };
	bool oom = false;
	int n = 0;

	if (!len)
		return;
	s = malloc(len * sizeof(*s));
	if (!s) {
		out->oom = true;
		return;
	}
	for (size_t off = 0; off < len; n++) {
		size_t l = utf8_len((unsigned char)text[off]);

		if (l > len - off)
			l = len - off;
		s[n].off = off;
		s[n].len = l;
		s[n].prev = n - 1;
		s[n].next = off + l < len ? n + 1 : -1;
		off += l;
	}
	for (int i = 1; i < n; i++)
		try_pair(v, text, s, i - 1, i, &h, &oom);
	while (h.n && !oom) {
		struct pair p = heap_pop(&h);
		struct sym *l = &s[p.left], *r = &s[p.right];

		/* stale: one side was merged away or grew since */
		if (!l->len || !r->len || l->len + r->len != p.len)
			continue;
		l->len += r->len;
		r->len = 0;
		l->next = r->next;
		if (r->next >= 0)
			s[r->next].prev = p.left;
		try_pair(v, text, s, l->prev, p.left, &h, &oom);
		try_pair(v, text, s, p.left, l->next, &h, &oom);
	}
	for (int i = 0; i != -1 && n; i = s[i].next) {
		int32_t id = vocab_find(v, text + s[i].off, s[i].len);

		if (id >= 0) {
			tokvec_push(out, id);
			continue;
		}
		for (size_t j = 0; j < s[i].len; j++) {
			int32_t b = v->byte_tok[(unsigned char)text[s[i].off + j]];

			tokvec_push(out, b >= 0 ? b : (v->unk >= 0 ? v->unk : 0));
		}
	}
	if (oom)
		out->oom = true;
	free(h.v);
	free(s);
}
