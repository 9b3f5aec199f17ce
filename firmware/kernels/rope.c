/* SPDX-License-Identifier: MIT */
/*
 * Rotary position embedding. Angles are computed in double once per row
 * and shared by its heads: float angles lose ~1e-4 rad at position 4096.
 */
#include <math.h>

#include "ek_internal.h"

struct rope_job {
	uint32_t rows, n_head, head_dim, rope_dim, pos0;
	float freq_base;
	bool neox;
	float *x;
	size_t x_stride;
};

#define ROPE_GRAIN 2

static bool rope_dims_ok(uint32_t head_dim, uint32_t rope_dim)
{
	return head_dim <= EK_MAX_HEAD_DIM && rope_dim <= head_dim &&
	       rope_dim >= 2 && rope_dim % 2 == 0;
}

static void rope_freqs(double *freq, uint32_t rope_dim, float freq_base)
{
	for (uint32_t k = 0; k < rope_dim / 2; k++)
		freq[k] = pow((double)freq_base, -2.0 * k / (double)rope_dim);
}

static void rope_angles_at(struct ek_rope_angles *a, const double *freq,
			   uint32_t rope_dim, double pos)
{
	a->rope_dim = rope_dim;
	for (uint32_t k = 0; k < rope_dim / 2; k++) {
		double th = pos * freq[k];

		a->cs[k] = (float)cos(th);
		a->sn[k] = (float)sin(th);
	}
}

bool ek_rope_angles(struct ek_rope_angles *a, uint32_t rope_dim, uint32_t pos,
		    float freq_base)
{
	double freq[EK_MAX_HEAD_DIM / 2];

	a->rope_dim = 0;
	if (!rope_dims_ok(rope_dim, rope_dim))
		return false;
	rope_freqs(freq, rope_dim, freq_base);
	rope_angles_at(a, freq, rope_dim, (double)pos);
	return true;
}

void ek_rope_heads(const struct ek_rope_angles *a, uint32_t n_head,
		   uint32_t head_dim, bool neox, float *x)
{
	uint32_t half = a->rope_dim / 2;

	if (!x || !rope_dims_ok(head_dim, a->rope_dim))
		return;
	for (uint32_t h = 0; h < n_head; h++, x += head_dim)
		for (uint32_t k = 0; k < half; k++) {
			uint32_t i = neox ? k : 2 * k;
			uint32_t j = neox ? k + half : 2 * k + 1;
			float x0 = x[i], x1 = x[j];

			x[i] = x0 * a->cs[k] - x1 * a->sn[k];
			x[j] = x0 * a->sn[k] + x1 * a->cs[k];
		}
}

static void rope_task(void *arg, int i, int n)
{
	const struct rope_job *j = arg;
	double freq[EK_MAX_HEAD_DIM / 2];
	struct ek_rope_angles a;
	uint64_t r0, r1;

	ek_split(j->rows, ROPE_GRAIN, i, n, &r0, &r1);
	if (r0 < r1)
		rope_freqs(freq, j->rope_dim, j->freq_base);
	for (uint64_t r = r0; r < r1; r++) {
		rope_angles_at(&a, freq, j->rope_dim, (double)j->pos0 + (double)r);
		ek_rope_heads(&a, j->n_head, j->head_dim, j->neox,
			      ek_ptr_add_mut(j->x, r * j->x_stride));
	}
}

void ek_rope(const struct ek_exec *ex, uint32_t rows, uint32_t n_head,
	     uint32_t head_dim, uint32_t rope_dim, uint32_t pos0,
	     float freq_base, bool neox, float *x, size_t x_stride)
{
	struct rope_job j = { rows, n_head, head_dim, rope_dim, pos0,
			      freq_base, neox, x, x_stride };

	if (!rows || !n_head || !x || !rope_dims_ok(head_dim, rope_dim))
		return;
	ek_run(ex, rope_task, &j,
	       ek_ntasks(ex, (rows + ROPE_GRAIN - 1) / ROPE_GRAIN));
}
