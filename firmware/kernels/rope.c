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

static void rope_task(void *arg, int i, int n)
{
	const struct rope_job *j = arg;
	uint32_t half = j->rope_dim / 2;
	float cs[EK_MAX_HEAD_DIM / 2], sn[EK_MAX_HEAD_DIM / 2];
	double freq[EK_MAX_HEAD_DIM / 2];
	uint64_t r0, r1;

	ek_split(j->rows, ROPE_GRAIN, i, n, &r0, &r1);
	for (uint32_t k = 0; k < half && r0 < r1; k++)
		freq[k] = pow((double)j->freq_base, -2.0 * k / (double)j->rope_dim);
	for (uint64_t r = r0; r < r1; r++) {
		double pos = (double)j->pos0 + (double)r;

		for (uint32_t k = 0; k < half; k++) {
			double th = pos * freq[k];

			cs[k] = (float)cos(th);
			sn[k] = (float)sin(th);
		}
		float *row = ek_ptr_add_mut(j->x, r * j->x_stride);

		for (uint32_t h = 0; h < j->n_head; h++) {
			float *x = row + (size_t)h * j->head_dim;

			for (uint32_t k = 0; k < half; k++) {
				uint32_t a = j->neox ? k : 2 * k;
				uint32_t b = j->neox ? k + half : 2 * k + 1;
				float x0 = x[a], x1 = x[b];

				x[a] = x0 * cs[k] - x1 * sn[k];
				x[b] = x0 * sn[k] + x1 * cs[k];
			}
		}
	}
}

void ek_rope(const struct ek_exec *ex, uint32_t rows, uint32_t n_head,
	     uint32_t head_dim, uint32_t rope_dim, uint32_t pos0,
	     float freq_base, bool neox, float *x, size_t x_stride)
{
	struct rope_job j = { rows, n_head, head_dim, rope_dim, pos0,
			      freq_base, neox, x, x_stride };

	if (!rows || !n_head || !x || head_dim > EK_MAX_HEAD_DIM ||
	    rope_dim > head_dim || rope_dim < 2 || rope_dim % 2)
		return;
	ek_run(ex, rope_task, &j,
	       ek_ntasks(ex, (rows + ROPE_GRAIN - 1) / ROPE_GRAIN));
}
