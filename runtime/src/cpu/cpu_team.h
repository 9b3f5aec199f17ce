/* SPDX-License-Identifier: MIT */
/*
 * Single-token (decode) attention and FFN steps as one fork-join each: every
 * pool thread runs the whole step on its share (rows of each matrix, a
 * range of heads), with barriers where a share needs the others'. The
 * small ops between the matmuls (norm, rope, KV store, SwiGLU) then run on
 * every thread at once instead of on one while the others wait, and the
 * normed input is quantized by each thread into its own scratch, so no
 * thread waits for another's activations. Attention takes a range of
 * heads, or over a long cache a range of (KV group, position part) units
 * of ek_attention_part(), so each part of the cache is read once; the
 * threads then merge a range of groups each. Results are bitwise those of
 * the op-by-op path (ek_attention splits a cache into the same parts).
 */
#ifndef EMBER_RT_CPU_TEAM_H
#define EMBER_RT_CPU_TEAM_H

#include <ember/kernels.h>

#include "backend.h"

struct cpu_team {
	int n;			/* threads: the pool's, one task each */
	struct ek_exec ex;	/* the pool */
	struct ek_barrier barrier;
	char *mem;		/* per thread: normed input, then scratch */
	size_t xb_bytes, per_thread;
	char *partials;		/* [KV group][part] of a long decode's attention */
	size_t partial_size;
};

/* For a pool of ex.nthreads > 1 threads; scratch: per-thread matmul scratch
 * for M = 1 (a serial ek_matmul). Returns 0 or -ENOMEM. */
int cpu_team_init(struct cpu_team *t, const struct fwd_state *st,
		  struct ek_exec ex, size_t scratch);
void cpu_team_free(struct cpu_team *t);

/* Can the team run this step? (one token, attention or FFN) */
bool cpu_team_supports(const struct cpu_team *t, const struct step *s);
/* Runs it; an attention step needs its position's rope angles. Call only
 * from outside the pool: the barriers need every pool thread to take one
 * task. */
int cpu_team_run(struct cpu_team *t, struct fwd_state *st, const struct step *s,
		 const struct ek_rope_angles *rope);

#endif
