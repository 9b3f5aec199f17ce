/* SPDX-License-Identifier: MIT */
/* RMS normalisation of rows. */
#include <math.h>

#include "rowops.h"

struct rms_job {
	ek_sumsq_fn sumsq;
	uint32_t rows, dim;
	const float *x;
	size_t x_stride;
	const float *w;
	float eps;
	float *out;
	size_t out_stride;
};

/* Rows per task at least, so tiny calls stay on one thread. */
#define RMS_GRAIN 4

float ek_sumsq_portable(const float *x, uint32_t n)
{
	/* four partial sums: vectorisable and still accurate */
	float s[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
	uint32_t d = 0;

	for (; d + 4 <= n; d += 4)
		for (int l = 0; l < 4; l++)
			s[l] += x[d + l] * x[d + l];
	for (; d < n; d++)
		s[0] += x[d] * x[d];
	return (s[0] + s[1]) + (s[2] + s[3]);
}

static void rms_task(void *arg, int i, int n)
{
	const struct rms_job *j = arg;
	uint64_t r0, r1;

	ek_split(j->rows, RMS_GRAIN, i, n, &r0, &r1);
	for (uint64_t r = r0; r < r1; r++) {
		const float *x = ek_ptr_add(j->x, r * j->x_stride);
		float *o = ek_ptr_add_mut(j->out, r * j->out_stride);
		float mean = j->sumsq(x, j->dim) / (float)j->dim;
		uint32_t d;
		float scale = 1.0f / sqrtf(mean + j->eps);

		if (j->w) {
			for (d = 0; d < j->dim; d++)
				o[d] = x[d] * scale * j->w[d];
		} else {
			for (d = 0; d < j->dim; d++)
				o[d] = x[d] * scale;
		}
	}
}

void ek_rmsnorm(const struct ek_exec *ex, uint32_t rows, uint32_t dim,
		const float *x, size_t x_stride, const float *w, float eps,
		float *out, size_t out_stride)
{
	struct rms_job j = { ek_sumsq_for(ek_isa()), rows, dim, x, x_stride, w,
			     eps, out, out_stride };

	if (!rows || !dim || !x || !out)
		return;
	ek_run(ex, rms_task, &j,
	       ek_ntasks(ex, (rows + RMS_GRAIN - 1) / RMS_GRAIN));
}
