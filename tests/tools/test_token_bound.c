/* SPDX-License-Identifier: MIT */
/*
 * ember-run --bench's per-token bandwidth (token_bandwidth()): the highest
 * of the probes around each token, with the probes a descheduled vCPU
 * slowed several-fold set aside, and a real change of bandwidth state kept.
 */
#include <math.h>
#include <stdio.h>

#include "check.h"
#include "token_bound.h"

int check_failures, check_count;

#define N_MAX 32

struct run {
	double tmp[N_MAX + 1], out[N_MAX];
	int disturbed;
};

static void bound(const double *bw, int n, struct run *r)
{
	r->disturbed = token_bandwidth(bw, n, r->tmp, r->out);
}

static int same(const double *out, const double *want, int n)
{
	for (int i = 0; i < n; i++)
		if (out[i] != want[i]) {
			fprintf(stderr, "  token %d: %g, want %g\n", i, out[i], want[i]);
			return 0;
		}
	return 1;
}

int main(void)
{
	struct run r;

	{	/* the highest of the two probes before and two after */
		const double bw[7] = { 30, 31, 29, 35, 30, 32, 33 };
		const double want[6] = { 31, 35, 35, 35, 35, 33 };

		bound(bw, 6, &r);
		CHECK(r.disturbed == 0 && same(r.out, want, 6), "steady probes");
	}
	{	/* one slowed probe is never a token's bound, and is counted */
		const double bw[9] = { 30, 30, 30, 30, 3, 30, 30, 30, 30 };
		const double want[8] = { 30, 30, 30, 30, 30, 30, 30, 30 };

		bound(bw, 8, &r);
		CHECK(r.disturbed == 1 && same(r.out, want, 8), "one disturbed probe");
	}
	{	/* a run of slowed probes: tokens 4-6 see none around them and
		 * take the nearest clean one (the higher of two as near) */
		const double bw[13] = { 30, 30, 30, 4, 3, 2, 3, 5, 7, 31, 30, 30, 30 };
		const double want[12] = { 30, 30, 30, 30, 30, 31, 31, 31, 31, 31, 31, 30 };

		bound(bw, 12, &r);
		CHECK(r.disturbed == 6 && same(r.out, want, 12), "a run of disturbed probes");
	}
	{	/* the VM's two states (~2x apart) are both real levels */
		const double bw[11] = { 30, 31, 30, 32, 30, 62, 60, 61, 63, 60, 61 };
		const double want[10] = { 31, 32, 32, 62, 62, 62, 63, 63, 63, 63 };

		bound(bw, 10, &r);
		CHECK(r.disturbed == 0 && same(r.out, want, 10), "low and high state kept");
	}
	{	/* one token: the higher of its two probes */
		const double bw[2] = { 28, 33 };

		bound(bw, 1, &r);
		CHECK(r.disturbed == 0 && r.out[0] == 33, "one token: %g", r.out[0]);
	}
	{	/* a failed probe (zero, negative or NaN) is an error */
		const double bad[3][3] = { { 30, 0, 30 }, { 30, -1, 30 }, { 30, NAN, 30 } };

		for (int i = 0; i < 3; i++) {
			bound(bad[i], 2, &r);
			CHECK(r.disturbed == -1, "bad probe %d: %d", i, r.disturbed);
		}
	}
	return CHECK_DONE("tools-token-bound");
}
