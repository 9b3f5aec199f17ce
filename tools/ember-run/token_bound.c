/* SPDX-License-Identifier: MIT */
#include "token_bound.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static bool clean(const double *bw, int j, double floor)
{
	return bw[j] >= floor;
}

/* The nearest undisturbed probe to token i (before it, i, or after, i + 1),
 * the higher of two as near; one exists: the median is undisturbed. */
static double nearest(const double *bw, int n, int i, double floor)
{
	for (int r = 0; r <= n; r++) {
		double b = 0;
		int cand[2] = { i - r, i + 1 + r };

		for (int c = 0; c < 2; c++)
			if (cand[c] >= 0 && cand[c] <= n && clean(bw, cand[c], floor) &&
			    bw[cand[c]] > b)
				b = bw[cand[c]];
		if (b > 0)
			return b;
	}
	return 0;
}

int token_bandwidth(const double *bw, int n, double *tmp, double *out)
{
	int disturbed = 0;

	if (n < 1)
		return 0;
	for (int j = 0; j <= n; j++)
		if (!(bw[j] > 0))
			return -1;
	memcpy(tmp, bw, sizeof(*tmp) * ((size_t)n + 1));
	qsort(tmp, (size_t)n + 1, sizeof(*tmp), cmp_double);

	double floor = TOKEN_BOUND_DISTURBED * tmp[n / 2];

	for (int j = 0; j <= n; j++)
		disturbed += !clean(bw, j, floor);
	for (int i = 0; i < n; i++) {
		double b = 0;

		for (int j = i > 0 ? i - 1 : 0; j <= i + 2 && j <= n; j++)
			if (clean(bw, j, floor) && bw[j] > b)
				b = bw[j];
		out[i] = b > 0 ? b : nearest(bw, n, i, floor);
	}
	return disturbed;
}
