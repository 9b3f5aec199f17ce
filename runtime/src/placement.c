/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "placement.h"

static uint32_t n_steps(uint32_t n_layer)
{
	return 2 * n_layer + 2;
}

static struct step step_at(uint32_t i, uint32_t n_layer)
{
	struct step st = { .n_tok = 1 };

	if (i == 0) {
		st.kind = STEP_EMBED;
	} else if (i == 2 * n_layer + 1) {
		st.kind = STEP_OUTPUT;
	} else {
		st.layer = (i - 1) / 2;
		st.kind = (i - 1) % 2 ? STEP_FFN : STEP_ATTN;
	}
	return st;
}

static uint32_t step_index(const struct step *st, uint32_t n_layer)
{
	switch (st->kind) {
	case STEP_EMBED: return 0;
	case STEP_ATTN: return 1 + 2 * st->layer;
	case STEP_FFN: return 2 + 2 * st->layer;
	case STEP_OUTPUT: return 2 * n_layer + 1;
	}
	return 0;
}

int placement_init(struct placement *p, const struct backend *be, int n_be,
		   uint32_t n_layer)
{
	uint32_t n = n_steps(n_layer);

	p->n_layer = n_layer;
	p->of = calloc(n, 1);
	if (!p->of)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		struct step st = step_at(i, n_layer);
		int b = 0;

		while (b < n_be - 1 && !be[b].ops->supports(be[b].priv, &st))
			b++;
		p->of[i] = (int8_t)b;
	}
	return 0;
}

void placement_free(struct placement *p)
{
	free(p->of);
	p->of = NULL;
}

void placement_move(struct placement *p, int from, int to)
{
	for (uint32_t i = 0; i < n_steps(p->n_layer); i++)
		if (p->of[i] == from)
			p->of[i] = (int8_t)to;
}

int placement_of(const struct placement *p, const struct step *st)
{
	return p->of[step_index(st, p->n_layer)];
}

int placement_describe(const struct placement *p, const struct backend *be, int n_be,
		       int sampler, char *buf, size_t size)
{
	uint32_t L = p->n_layer;
	size_t len = 0;

	if (size)
		buf[0] = 0;
	for (int b = 0; b < n_be; b++) {
		uint32_t attn = 0, ffn = 0;
		bool embed = p->of[0] == b, output = p->of[2 * L + 1] == b;
		char part[160];
		int n = 0;

		for (uint32_t l = 0; l < L; l++) {
			attn += p->of[1 + 2 * l] == b;
			ffn += p->of[2 + 2 * l] == b;
		}
		/* " + " before every part; the first one's is dropped below */
		if (attn && attn == ffn) {
			n += snprintf(part + n, sizeof(part) - n, " + %u/%u layers", attn, L);
		} else {
			if (attn)
				n += snprintf(part + n, sizeof(part) - n, " + %u/%u attention", attn, L);
			if (ffn)
				n += snprintf(part + n, sizeof(part) - n, " + %u/%u ffn", ffn, L);
		}
		if (embed)
			n += snprintf(part + n, sizeof(part) - n, " + embed");
		if (output)
			n += snprintf(part + n, sizeof(part) - n, " + output");
		if (b == sampler)
			n += snprintf(part + n, sizeof(part) - n, " + sampling");
		if (!n)
			continue;
		len += (size_t)snprintf(buf + (len < size ? len : size),
					len < size ? size - len : 0, "%s%s: %s",
					len ? "; " : "", be[b].ops->name, part + 3);
	}
	return (int)len;
}
