/* SPDX-License-Identifier: MIT */
#include "top_logits.h"

void top_logits_print(const struct top_logits *t, int pos, const float *logits,
		      uint32_t n_vocab)
{
	uint32_t id[TOP_LOGITS_MAX];
	int k = t->k < TOP_LOGITS_MAX ? t->k : TOP_LOGITS_MAX, n = 0;

	if (k < 1)
		return;
	if ((uint32_t)k > n_vocab)
		k = (int)n_vocab;
	/* insertion into the k best so far: k is small */
	for (uint32_t v = 0; v < n_vocab; v++) {
		int i = n < k ? n++ : k;

		if (i == k && !(logits[v] > logits[id[k - 1]]))
			continue;
		if (i == k)
			i = k - 1;
		while (i > 0 && logits[v] > logits[id[i - 1]]) {
			id[i] = id[i - 1];
			i--;
		}
		id[i] = v;
	}
	fprintf(t->out, "top-logits: %d", pos);
	for (int i = 0; i < n; i++)
		fprintf(t->out, " %u %.9g", id[i], (double)logits[id[i]]);
	fputc('\n', t->out);
}
