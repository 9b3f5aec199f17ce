/* SPDX-License-Identifier: MIT */
/* The read bandwidth each decode token of ember-run --bench is held
 * against, from read probes taken between the tokens. */
#ifndef EMBER_RUN_TOKEN_BOUND_H
#define EMBER_RUN_TOKEN_BOUND_H

/*
 * A probe that read at less than this fraction of its round's median was
 * disturbed: a vCPU descheduled in the middle of the read (seen at 2-7
 * GB/s against ~35). The development VM's two bandwidth states differ by
 * about 2x, so no level the memory itself holds is that far below.
 */
#define TOKEN_BOUND_DISTURBED 0.4

/*
 * bw[0..n]: probes, bw[i] read right before token i and bw[n] after the
 * last. out[i] (i < n): the highest undisturbed probe of the two before
 * token i and the two after (something else on the machine only slows a
 * read, and one slowed read must not lower the bound); when all four were
 * disturbed, the nearest undisturbed probe (the higher of two as near).
 * tmp: n + 1 doubles of scratch. Returns how many probes were set aside
 * as disturbed, or -1 if a probe is not positive.
 */
int token_bandwidth(const double *bw, int n, double *tmp, double *out);

#endif
