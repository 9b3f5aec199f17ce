/* SPDX-License-Identifier: MIT */
/* Row-wise elementwise ops: swiglu and add. */
#include <math.h>

#include "rowops.h"

struct ew_job {
	ek_swiglu_row_fn swiglu_row;
	uint32_t rows, n;
	const float *a;
	size_t a_stride;
	const float *b;
	size_t b_stride;
	float *out;
	size_t out_stride;
	bool swiglu;
};

/* Elements per task at least: below this a thread hand-off costs more. */
#define EW_MIN_ELEMS 4096

void ek_swiglu_row_portable(const float *g, const float *u, float *o,
			    uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static void ew_rows(const struct ew_job *j, uint64_t r, uint32_t c0,
		    uint32_t c1)
{
	const float *a = ek_ptr_add(j->a, r * j->a_stride);
	const float *b = ek_ptr_add(j->b, r * j->b_stride);
	float *o = ek_ptr_add_mut(j->out, r * j->out_stride);

	if (j->swiglu) {
		j->swiglu_row(a + c0, b + c0, o + c0, c1 - c0);
	} else {
		for (uint32_t i = c0; i < c1; i++)
			o[i] = a[i] + b[i];
	}
}

/* Tasks split the flattened (row, column) range, so a single long row
 * (decode) is shared by all threads too. */
static void ew_task(void *arg, int i, int n)
{
	const struct ew_job *j = arg;
	uint64_t total = (uint64_t)j->rows * j->n, e0, e1;

	ek_split(total, 64, i, n, &e0, &e1);
	while (e0 < e1) {
		uint64_t r = e0 / j->n;
		uint32_t c0 = (uint32_t)(e0 % j->n);
		uint64_t c1 = c0 + (e1 - e0);

		if (c1 > j->n)
			c1 = j->n;
		ew_rows(j, r, c0, (uint32_t)c1);
		e0 += c1 - c0;
	}
}

static void ew_run(const struct ek_exec *ex, struct ew_job *j)
{
	uint64_t total = (uint64_t)j->rows * j->n;

	if (!total || !j->a || !j->b || !j->out)
		return;
	ek_run(ex, ew_task, j,
	       ek_ntasks(ex, (total + EW_MIN_ELEMS - 1) / EW_MIN_ELEMS));
}

void ek_swiglu(const struct ek_exec *ex, uint32_t rows, uint32_t n,
	       const float *gate, size_t gate_stride, const float *up,
	       size_t up_stride, float *out, size_t out_stride)
{
	struct ew_job j = { ek_swiglu_row_for(ek_isa()), rows, n, gate,
			    gate_stride, up, up_stride, out, out_stride, true };

	ew_run(ex, &j);
}

void ek_add(const struct ek_exec *ex, uint32_t rows, uint32_t n,
	    const float *a, size_t a_stride, const float *b, size_t b_stride,
	    float *out, size_t out_stride)
{
	struct ew_job j = { NULL, rows, n, a, a_stride, b, b_stride,
			    out, out_stride, false };

	ew_run(ex, &j);
}
