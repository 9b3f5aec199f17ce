/* SPDX-License-Identifier: MIT */
/*
 * Sampling, in the order llama.cpp's default chain uses: repetition
 * penalty, top-k, top-p, min-p, temperature, then a draw from a seeded
 * generator (xoshiro256**), so the same seed and logits give the same
 * tokens. Temperature <= 0 is greedy: the first index of the maximum.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

struct cand {
	float logit;
	int32_t id;
};

struct ember_sampler {
	struct ember_sampler_params p;
	uint32_t n_vocab;
	struct cand *c;
	float *work;		/* logits after the penalty */
	int32_t *hist;		/* ring of the last repeat_last_n tokens */
	uint32_t hist_n, hist_pos;
	uint64_t rng[4];
};

void ember_sampler_params_default(struct ember_sampler_params *p)
{
	memset(p, 0, sizeof(*p));
	p->temperature = 0.0f;
	p->top_k = 0;
	p->top_p = 1.0f;
	p->min_p = 0.0f;
	p->repeat_penalty = 1.0f;
	p->repeat_last_n = 64;
	p->seed = 0;
}

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t next_u64(uint64_t *s)
{
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

int ember_sampler_create(const struct ember_sampler_params *p, uint32_t n_vocab,
			 struct ember_sampler **out, struct ember_error *err)
{
	struct ember_sampler *s;
	uint64_t seed;

	*out = NULL;
	if (!n_vocab)
		return ember_fail(err, -EINVAL, "sampler needs a vocabulary size");
	if (p->repeat_last_n < 0 || p->repeat_last_n > (1 << 20) ||
	    !(p->repeat_penalty > 0) || isnan(p->temperature) || isnan(p->top_p) ||
	    isnan(p->min_p))
		return ember_fail(err, -EINVAL,
				  "invalid sampler settings: repeat penalty must be > 0 and repeat-last-n 0..1048576");
	s = calloc(1, sizeof(*s));
	if (!s)
		return ember_fail(err, -ENOMEM, "out of memory");
	s->p = *p;
	s->n_vocab = n_vocab;
	s->c = malloc((size_t)n_vocab * sizeof(*s->c));
	s->work = malloc((size_t)n_vocab * sizeof(*s->work));
	s->hist = malloc(((size_t)p->repeat_last_n + 1) * sizeof(*s->hist));
	if (!s->c || !s->work || !s->hist) {
		ember_sampler_free(s);
		return ember_fail(err, -ENOMEM, "out of memory for the sampler");
	}
	seed = p->seed;
	for (int i = 0; i < 4; i++)
		s->rng[i] = splitmix(&seed);
	*out = s;
	return 0;
}

void ember_sampler_free(struct ember_sampler *s)
{
	if (!s)
		return;
	free(s->c);
	free(s->work);
	free(s->hist);
	free(s);
}

void ember_sampler_accept(struct ember_sampler *s, int32_t tok)
{
	uint32_t cap = (uint32_t)s->p.repeat_last_n;

	if (!cap)
		return;
	s->hist[s->hist_pos] = tok;
	s->hist_pos = (s->hist_pos + 1) % cap;
	if (s->hist_n < cap)
		s->hist_n++;
}

static int32_t argmax(const float *x, uint32_t n)
{
	uint32_t best = 0;

	for (uint32_t i = 1; i < n; i++)
		if (x[i] > x[best])
			best = i;
	return (int32_t)best;
}

static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->logit != y->logit)
		return x->logit > y->logit ? -1 : 1;
	return x->id - y->id;
}

/* Moves the k best candidates to the front, sorted (k <= n). */
static void top_k(struct cand *c, uint32_t n, uint32_t k)
{
	if (k < n) {
		/* keep a running "k best" block at the front */
		qsort(c, k, sizeof(*c), cmp_cand);
		for (uint32_t i = k; i < n; i++) {
			uint32_t j;

			if (cmp_cand(&c[i], &c[k - 1]) >= 0)
				continue;
			/* insert c[i] into the sorted block, dropping the last */
			j = k - 1;
			while (j > 0 && cmp_cand(&c[i], &c[j - 1]) < 0) {
				c[j] = c[j - 1];
				j--;
			}
			c[j] = c[i];
		}
	} else {
		qsort(c, n, sizeof(*c), cmp_cand);
	}
}

int32_t ember_sampler_sample(struct ember_sampler *s, const float *logits)
{
	const struct ember_sampler_params *p = &s->p;
	const float *x = logits;
	uint32_t n = s->n_vocab, k;
	double sum, cum, r;
	float maxl, t;

	if (p->repeat_penalty != 1.0f && s->hist_n) {
		memcpy(s->work, logits, (size_t)n * sizeof(float));
		for (uint32_t i = 0; i < s->hist_n; i++) {
			int32_t id = s->hist[i];
			bool seen = false;

			for (uint32_t j = 0; j < i; j++)
				seen |= s->hist[j] == id;
			if (seen || id < 0 || (uint32_t)id >= n)
				continue;	/* each distinct token once */
			if (s->work[id] > 0)
				s->work[id] /= p->repeat_penalty;
			else
				s->work[id] *= p->repeat_penalty;
		}
		x = s->work;
	}
	if (p->temperature <= 0)
		return argmax(x, n);

	for (uint32_t i = 0; i < n; i++) {
		s->c[i].logit = x[i];
		s->c[i].id = (int32_t)i;
	}
	k = p->top_k > 0 && (uint32_t)p->top_k < n ? (uint32_t)p->top_k : n;
	top_k(s->c, n, k);
	n = k;
	/* probabilities at temperature 1 for top-p / min-p */
	maxl = s->c[0].logit;
	sum = 0;
	for (uint32_t i = 0; i < n; i++)
		sum += exp((double)(s->c[i].logit - maxl));
	if (p->top_p < 1.0f) {
		cum = 0;
		for (uint32_t i = 0; i < n; i++) {
			cum += exp((double)(s->c[i].logit - maxl)) / sum;
			if (cum >= p->top_p) {
				n = i + 1;
				break;
			}
		}
	}
	if (p->min_p > 0) {
		/* keep tokens with p >= min_p * p_max, i.e. logit >= max + ln(min_p) */
		float floor_l = maxl + logf(p->min_p);
		uint32_t keep = 1;

		while (keep < n && s->c[keep].logit >= floor_l)
			keep++;
		n = keep;
	}
	t = p->temperature;
	sum = 0;
	for (uint32_t i = 0; i < n; i++)
		sum += exp((double)((s->c[i].logit - maxl) / t));
	r = (double)(next_u64(s->rng) >> 11) * 0x1.0p-53 * sum;
	cum = 0;
	for (uint32_t i = 0; i < n; i++) {
		cum += exp((double)((s->c[i].logit - maxl) / t));
		if (r < cum)
			return s->c[i].id;
	}
	return s->c[n - 1].id;
}
