/* SPDX-License-Identifier: MIT */
/*
 * ek_matmul: C = A * W^T. Picks a path by weight type, shape and ISA:
 *  - block-quantized weights (Q8_0, Q4_0, Q4_1, Q5_x, K-quants):
 *    activations are quantized once to 8-bit blocks in the scratch, then
 *    every output is a sum of integer block dots (X16 weights, Q8_0 /
 *    Q4_0 only, kernels.h: the same sums, sixteen rows per load);
 *  - F32 / F16 / BF16 weights with enough rows of A: the tiled GEMM
 *    (matmul_gemm*.c), which packs W panels to f32 in the scratch;
 *  - otherwise one dot product per output, streaming W once.
 * Work is split across tasks by chunks of W rows (static, so results do
 * not depend on timing; every output is computed the same way whatever
 * the thread count).
 */
#include "ek_internal.h"
#include "matmul_kernels.h"
#include "x16.h"

/* Rows of A handled together by the dot paths (keeps them in cache while
 * a chunk of W rows streams by). */
#define MM_M_BLOCK 32
/* Granularity of the split of W rows across tasks. */
#define MM_N_GRAIN 16
/* How far ahead (bytes) each of the four W streams of a dot4 prefetches.
 * Measured on Zen 4 over a SmolLM2-shaped decode (rows of 612 bytes):
 * 1 KiB beat 2 rows, 4 rows, 2 KiB and 4 KiB ahead by 5-25%. */
#define MM_PREFETCH 1024
/* Tasks per thread for M = 1: each task starts four new streams, so
 * fewer, longer tasks than elsewhere (2 beat 1 and 4 by 3-8%). */
#define MM_DECODE_TASKS_PER_THREAD 2
/* X16 weights need no second task per thread: the tasks stream their
 * range of groups in long runs (1 beat 2 by 1-4% with four-row groups). */
#define MM_X16_DECODE_TASKS_PER_THREAD 1
/* X16 decode: streams per task (4 beat 1 and 2) and bytes each prefetches
 * ahead (1 KiB: one-thread SmolLM2 Q4_0 decode 324 tok/s, 300 / 304 / 293
 * at 512 / 768 / 1536 B; Q8_0 equal within 3%). */
#define MM_X16_STREAMS 4
#define MM_X16_PREFETCH 1024

struct mm_job {
	const struct ek_matmul *p;	/* [count]: same A, rows end to end */
	int count;
	uint64_t total_n;		/* rows of all W */
	uint64_t total_groups;		/* X16: groups of sixteen rows of all W */
	uint64_t total_units;		/* f32 in place: ek_gemm_wt_units() of all */
	const struct ek_mm_kernels *kern;
	void *scratch;		/* q8 activations, or GEMM panels */
	size_t q8_bytes;	/* per quantized activation row */
	size_t gemm_bytes;	/* per task */
};

/* X16: the rows W holds (p uses w_row0..w_row0 + n of them). */
static uint64_t mm_x16_rows(const struct ek_matmul *p)
{
	return p->w_rows ? p->w_rows : p->n;
}

/* X16: the quants and scales of p's first group. */
static const uint8_t *mm_x16_q(const struct ek_matmul *p)
{
	return ek_ptr_add(p->w, (uint64_t)p->w_row0 / EK_X16_ROWS *
			  (p->k / EK_QK) * ek_x16_qb(p->w_dtype));
}

static const uint16_t *mm_x16_d(const struct ek_matmul *p)
{
	uint64_t nb = p->k / EK_QK;

	return ek_x16_scales(p->w, p->w_dtype, mm_x16_rows(p), nb) +
	       (uint64_t)p->w_row0 * nb;
}

/* The shape alone (the scratch size does not need the pointers). */
static bool mm_shape_valid(const struct ek_matmul *p)
{
	if (!p || !p->m || !p->n || !ek_dtype_known(p->w_dtype) ||
	    !ek_row_size(p->w_dtype, p->k))
		return false;
	if (p->w_layout == EK_LAYOUT_ROWS)
		return !p->w_row0 && !p->w_rows;
	return p->w_layout == EK_LAYOUT_X16 && p->w_row0 % EK_X16_ROWS == 0 &&
	       (uint64_t)p->w_row0 + p->n <= mm_x16_rows(p) &&
	       ek_x16_size(p->w_dtype, mm_x16_rows(p), p->k);
}

static bool mm_valid(const struct ek_matmul *p, const void *scratch)
{
	return mm_shape_valid(p) && p->a && p->w && p->c &&
	       (p->w_layout == EK_LAYOUT_ROWS || scratch);
}

/* Block types: their dots take activations quantized to 8 bits. */
static bool mm_quantized(int dtype)
{
	return ek_dtype_block(dtype) > 1;
}

static inline void mm_store(const struct ek_matmul *p, uint64_t m, uint64_t n,
			    float v)
{
	float *c = ek_ptr_add_mut(p->c, m * p->c_stride);

	if (p->bias)
		v += p->bias[n];
	if (p->accumulate)
		v += c[n];
	c[n] = v;
}

/* X16: the outputs of group g for activation row m (the rows of p), as
 * mm_store adds them, in loops the compiler vectorizes (a call per output
 * was 6% of a one-thread decode; SmolLM2 Q4_0 +5% without it). */
static void mm_x16_store(const struct ek_matmul *p, uint64_t m, uint64_t g,
			 const float o[EK_X16_ROWS])
{
	uint64_t n0 = EK_X16_ROWS * g;
	uint64_t cnt = p->n - n0 < EK_X16_ROWS ? p->n - n0 : EK_X16_ROWS;
	float *c = (float *)ek_ptr_add_mut(p->c, m * p->c_stride) + n0;
	float v[EK_X16_ROWS];

	memcpy(v, o, sizeof(v));
	if (p->bias)
		for (uint64_t r = 0; r < cnt; r++)
			v[r] += p->bias[n0 + r];
	if (p->accumulate)
		for (uint64_t r = 0; r < cnt; r++)
			v[r] += c[r];
	memcpy(c, v, cnt * sizeof(float));
}

size_t ek_matmul_scratch_size(const struct ek_matmul *p, int nthreads)
{
	if (!mm_shape_valid(p))
		return 0;
	if (nthreads < 1)
		nthreads = 1;
	if (mm_quantized(p->w_dtype))
		return (size_t)p->m * ek_q8_row_bytes(p->k);
	const struct ek_mm_kernels *kern = ek_mm_kernels_for(ek_isa());
	size_t wt = kern->gemm_wt ? kern->gemm_wt_bytes(p) : 0;

	return wt ? wt : ek_gemm_scratch_size(kern, p, nthreads);
}

/* Tasks over the rows of the job's W: fewer, longer ones for M = 1. */
static int mm_row_tasks(const struct ek_exec *ex, const struct mm_job *j)
{
	uint64_t chunks = (j->total_n + MM_N_GRAIN - 1) / MM_N_GRAIN;

	if (j->p[0].m == 1 && j->p[0].w_layout == EK_LAYOUT_X16)
		return ek_ntasks_per(ex, chunks, MM_X16_DECODE_TASKS_PER_THREAD);
	return j->p[0].m == 1 ?
	       ek_ntasks_per(ex, chunks, MM_DECODE_TASKS_PER_THREAD) :
	       ek_ntasks(ex, chunks);
}

static void mm_quantize_task(void *arg, int i, int n)
{
	const struct mm_job *j = arg;
	const struct ek_matmul *p = j->p;
	uint64_t m0, m1;

	ek_split(p->m, 1, i, n, &m0, &m1);
	for (uint64_t m = m0; m < m1; m++) {
		struct ek_q8_row r;

		ek_q8_row_view(ek_ptr_add_mut(j->scratch, m * j->q8_bytes),
			       p->k, &r);
		j->kern->quantize(ek_ptr_add(p->a, m * p->a_stride), p->k, &r);
	}
}

/* Rows (X16: groups) of a task four at a time, one from each of up to four
 * parts of the range, so every thread streams distant regions of W at
 * once. Missing rows repeat the first one; returns the number of real rows. */
struct mm_rows {
	uint64_t cur[4], end[4];
};

static void mm_rows_init(struct mm_rows *s, uint64_t n0, uint64_t n1, int parts)
{
	for (int q = 0; q < 4; q++) {
		s->cur[q] = s->end[q] = n1;	/* parts past the count: empty */
		if (q < parts) {
			s->cur[q] = n0 + (n1 - n0) * (uint64_t)q / (uint64_t)parts;
			s->end[q] = n0 + (n1 - n0) * (uint64_t)(q + 1) / (uint64_t)parts;
		}
	}
}

static int mm_next_group(struct mm_rows *s, uint64_t rows[4])
{
	int cnt = 0;

	for (int q = 0; q < 4; q++)
		if (s->cur[q] < s->end[q])
			rows[cnt++] = s->cur[q]++;
	for (int x = cnt; x < 4; x++)
		rows[x] = rows[0];
	return cnt;
}

static int mm_next_row(struct mm_rows *s, uint64_t rows[4])
{
	for (int q = 0; q < 4; q++)
		if (s->cur[q] < s->end[q]) {
			rows[0] = s->cur[q]++;
			return 1;
		}
	return 0;
}

/* The matmul of the job that row g of the joined W belongs to, and the
 * row within it. */
static const struct ek_matmul *mm_locate(const struct mm_job *j, uint64_t g,
					 uint64_t *row)
{
	int x = 0;

	while (x + 1 < j->count && g >= j->p[x].n)
		g -= j->p[x++].n;
	*row = g;
	return &j->p[x];
}

/* Up to four W rows of the joined W: where they are and where they go. */
struct mm_group {
	const struct ek_matmul *p[4];
	uint64_t row[4];
	const void *w[4];
	int cnt;		/* real rows; the rest repeat the first */
};

static void mm_group_set(const struct mm_job *j, const uint64_t rows[4],
			 int cnt, int used, struct mm_group *g)
{
	g->cnt = cnt;
	for (int x = 0; x < used; x++) {
		g->p[x] = mm_locate(j, rows[x], &g->row[x]);
		g->w[x] = ek_ptr_add(g->p[x]->w, g->row[x] * g->p[x]->w_stride);
	}
}

/* Activation rows m..m+3 against the group's W rows with the 4x4 tile. */
static void mm_q8_tile(const struct mm_job *j, ek_tile_q8_fn tile,
		       const struct mm_group *g, uint64_t m)
{
	uint64_t k = j->p[0].k;
	struct ek_q8_row av[4];
	const struct ek_q8_row *ap[4];
	float out[4][4];

	for (int y = 0; y < 4; y++) {
		ek_q8_row_view(ek_ptr_add_mut(j->scratch,
					      (m + y) * j->q8_bytes), k, &av[y]);
		ap[y] = &av[y];
	}
	tile(g->w, ap, k / EK_QK, out);
	for (int x = 0; x < g->cnt; x++)
		for (int y = 0; y < 4; y++)
			mm_store(g->p[x], m + y, g->row[x], out[x][y]);
}

static void mm_q8_task(void *arg, int i, int n)
{
	const struct mm_job *j = arg;
	const struct ek_matmul *p = &j->p[0];
	uint64_t nb = p->k / EK_QK, n0, n1;
	struct ek_mm_q8_fns f = ek_mm_q8_fns(j->kern, p->w_dtype);
	ek_dot_q8_fn dot = f.dot;
	ek_dot4_q8_fn dot4 = f.dot4;
	ek_tile_q8_fn tile = f.tile;

	ek_split(j->total_n, MM_N_GRAIN, i, n, &n0, &n1);
	for (uint64_t mb = 0; mb < p->m; mb += MM_M_BLOCK) {
		uint64_t me = mb + MM_M_BLOCK < p->m ? mb + MM_M_BLOCK : p->m;
		struct mm_rows rs;

		mm_rows_init(&rs, n0, n1, 4);
		for (;;) {
			uint64_t rows[4], m = mb;
			struct mm_group g;
			int cnt;

			cnt = dot4 ? mm_next_group(&rs, rows) :
				     mm_next_row(&rs, rows);
			if (!cnt)
				break;
			mm_group_set(j, rows, cnt, dot4 ? 4 : 1, &g);
			for (; tile && m + 4 <= me; m += 4)
				mm_q8_tile(j, tile, &g, m);
			for (; m < me; m++) {
				struct ek_q8_row a;
				float out[4];

				ek_q8_row_view(ek_ptr_add_mut(j->scratch,
							      m * j->q8_bytes),
					       p->k, &a);
				if (dot4)
					dot4(g.w, MM_PREFETCH, &a, nb, out);
				else
					out[0] = dot(g.w[0], &a, nb);
				for (int x = 0; x < cnt; x++)
					mm_store(g.p[x], m, g.row[x], out[x]);
			}
		}
	}
}

/* Decode (M = 1) over float-type weights: four rows per dot, one from
 * each quarter of the task, as mm_q8_task streams them. */
static void mm_dot4_row(const struct mm_job *j, uint64_t n0, uint64_t n1)
{
	const struct ek_matmul *p = j->p;
	struct mm_rows rs;
	uint64_t rows[4];
	int cnt;

	mm_rows_init(&rs, n0, n1, 4);
	while ((cnt = mm_next_group(&rs, rows))) {
		struct mm_group g;
		float out[4];

		mm_group_set(j, rows, cnt, 4, &g);
		j->kern->dot4_f(p->w_dtype, g.w, MM_PREFETCH, p->a, p->k, out);
		for (int x = 0; x < cnt; x++)
			mm_store(g.p[x], 0, g.row[x], out[x]);
	}
}

/* X16: activation rows m0..m1 (a multiple of 4, at most MM_M_BLOCK)
 * against groups g0..g1 with the tile, each group once. */
static void mm_x16_tiles(const struct mm_job *j, const struct ek_matmul *p,
			 ek_tilex16_fn tile, uint64_t g0, uint64_t g1,
			 uint64_t m0, uint64_t m1)
{
	uint64_t nb = p->k / EK_QK;
	const uint8_t *q = mm_x16_q(p);
	const uint16_t *d = mm_x16_d(p);
	struct ek_q8_row av[MM_M_BLOCK];
	const struct ek_q8_row *ap[MM_M_BLOCK];

	for (uint64_t m = m0; m < m1; m++) {
		ek_q8_row_view(ek_ptr_add_mut(j->scratch, m * j->q8_bytes), p->k,
			       &av[m - m0]);
		ap[m - m0] = &av[m - m0];
	}
	for (uint64_t g = g0; g < g1; g++)
		for (uint64_t m = m0; m < m1; m += 4) {
			float o[4][EK_X16_ROWS];

			tile(q + g * nb * ek_x16_qb(p->w_dtype),
			     d + g * nb * EK_X16_ROWS, &ap[m - m0], nb, o);
			for (int y = 0; y < 4; y++)
				mm_x16_store(p, m + y, g, o[y]);
		}
}

/* X16: activation row m against groups g0..g1, a group from each quarter
 * of the range at a time (four streams, as mm_q8_task reads rows). */
static void mm_x16_row(const struct mm_job *j, const struct ek_matmul *p,
		       ek_dotx16_fn dot, uint64_t g0, uint64_t g1, uint64_t m)
{
	uint64_t nb = p->k / EK_QK, gs[4];
	const uint8_t *q = mm_x16_q(p);
	const uint16_t *d = mm_x16_d(p);
	struct ek_q8_row a;
	struct mm_rows rs;
	int ns;

	ek_q8_row_view(ek_ptr_add_mut(j->scratch, m * j->q8_bytes), p->k, &a);
	mm_rows_init(&rs, g0, g1, MM_X16_STREAMS);
	while ((ns = mm_next_group(&rs, gs))) {
		const uint8_t *qp[4];
		const uint16_t *dp[4];
		float o[4][EK_X16_ROWS];

		for (int s = 0; s < ns; s++) {
			qp[s] = q + gs[s] * nb * ek_x16_qb(p->w_dtype);
			dp[s] = d + gs[s] * nb * EK_X16_ROWS;
		}
		dot(qp, dp, ns, MM_X16_PREFETCH, &a, nb, o);
		for (int s = 0; s < ns; s++)
			mm_x16_store(p, m, gs[s], o[s]);
	}
}

/* X16: groups g0..g1 of p's W against the quantized A. */
static void mm_x16_run(const struct mm_job *j, const struct ek_matmul *p,
		       uint64_t g0, uint64_t g1)
{
	bool q8 = p->w_dtype == EK_Q8_0;
	ek_dotx16_fn dot = q8 ? j->kern->dotx16_q8_0 : j->kern->dotx16_q4_0;
	ek_tilex16_fn tile = q8 ? j->kern->tilex16_q8_0 : j->kern->tilex16_q4_0;

	if (!dot)
		dot = q8 ? ek_dotx16_q8_0_portable : ek_dotx16_q4_0_portable;
	for (uint64_t mb = 0; mb < p->m; mb += MM_M_BLOCK) {
		uint64_t me = mb + MM_M_BLOCK < p->m ? mb + MM_M_BLOCK : p->m;
		uint64_t m = tile ? mb + (me - mb) / 4 * 4 : mb;

		if (m > mb)
			mm_x16_tiles(j, p, tile, g0, g1, mb, m);
		for (; m < me; m++)
			mm_x16_row(j, p, dot, g0, g1, m);
	}
}

/* Units u0..u1 of the job's matmuls laid end to end (count(p) each):
 * run() on the part of each matmul the range covers, in its own units. */
static void mm_job_range(const struct mm_job *j, uint64_t u0, uint64_t u1,
			 uint64_t (*count)(const struct ek_matmul *p),
			 void (*run)(const struct mm_job *j,
				     const struct ek_matmul *p, uint64_t u0,
				     uint64_t u1))
{
	uint64_t base = 0;

	for (int x = 0; x < j->count && u0 < u1; x++) {
		uint64_t end = base + count(&j->p[x]);

		if (u0 < end) {
			uint64_t e = u1 < end ? u1 : end;

			run(j, &j->p[x], u0 - base, e - base);
			u0 = e;
		}
		base = end;
	}
}

static uint64_t mm_x16_groups_of(const struct ek_matmul *p)
{
	return ek_x16_groups(p->n);
}

/* X16: tasks over the groups of all the job's W, in order. */
static void mm_x16_task(void *arg, int i, int n)
{
	const struct mm_job *j = arg;
	uint64_t g0, g1;

	ek_split(j->total_groups, 1, i, n, &g0, &g1);
	mm_job_range(j, g0, g1, mm_x16_groups_of, mm_x16_run);
}

/* Float weights (or quantized ones without scratch): a dot per output. */
static void mm_dot_task(void *arg, int i, int n)
{
	const struct mm_job *j = arg;
	const struct ek_matmul *p = j->p;
	uint64_t n0, n1;

	ek_split(p->n, MM_N_GRAIN, i, n, &n0, &n1);
	if (p->m == 1 && j->kern->dot4_f && !mm_quantized(p->w_dtype)) {
		mm_dot4_row(j, n0, n1);
		return;
	}
	for (uint64_t mb = 0; mb < p->m; mb += MM_M_BLOCK) {
		uint64_t me = mb + MM_M_BLOCK < p->m ? mb + MM_M_BLOCK : p->m;

		for (uint64_t r = n0; r < n1; r++) {
			const void *w = ek_ptr_add(p->w, r * p->w_stride);

			for (uint64_t m = mb; m < me; m++) {
				const float *a = ek_ptr_add(p->a,
							    m * p->a_stride);

				mm_store(p, m, r,
					 j->kern->dot_f(p->w_dtype, w, a, p->k));
			}
		}
	}
}

static void mm_wt_pack_task(void *arg, int i, int n)
{
	const struct mm_job *j = arg;

	j->kern->gemm_wt_pack(j->p, j->scratch, i, n);
}

static void mm_wt_run(const struct mm_job *j, const struct ek_matmul *p,
		      uint64_t u0, uint64_t u1)
{
	j->kern->gemm_wt(p, j->scratch, u0, u1);
}

/* f32 in place: the units of all the job's matmuls, in order. */
static void mm_wt_task(void *arg, int i, int n)
{
	const struct mm_job *j = arg;
	uint64_t u0, u1;

	ek_split(j->total_units, 1, i, n, &u0, &u1);
	mm_job_range(j, u0, u1, ek_gemm_wt_units, mm_wt_run);
}

/* A^T once for the whole job (its matmuls share A), then the units. */
static void mm_run_wt(const struct ek_exec *ex, struct mm_job *j)
{
	ek_run(ex, mm_wt_pack_task, j,
	       ek_ntasks(ex, (j->p[0].m + EK_GEMM_WT_MR - 1) / EK_GEMM_WT_MR));
	ek_run(ex, mm_wt_task, j, ek_ntasks(ex, j->total_units));
}

static void mm_gemm_task(void *arg, int i, int n)
{
	const struct mm_job *j = arg;

	j->kern->gemm(j->p, ek_ptr_add_mut(j->scratch, (size_t)i * j->gemm_bytes),
		      i, n);
}

/* A job over the count matmuls ps (which share A). */
static void mm_job_init(struct mm_job *j, const struct ek_matmul *ps,
			int count, void *scratch)
{
	j->p = ps;
	j->count = count;
	j->total_n = 0;
	j->total_groups = 0;
	j->total_units = 0;
	for (int x = 0; x < count; x++) {
		j->total_n += ps[x].n;
		j->total_groups += ek_x16_groups(ps[x].n);
		j->total_units += ek_gemm_wt_units(&ps[x]);
	}
	j->kern = ek_mm_kernels_for(ek_isa());
	j->scratch = scratch;
	j->q8_bytes = ek_q8_row_bytes(ps[0].k);
	j->gemm_bytes = 0;
}

/* Quantized weights: A to 8-bit blocks once, then the block dots. */
static void mm_run_quantized(const struct ek_exec *ex, struct mm_job *j)
{
	ek_run(ex, mm_quantize_task, j, ek_ntasks(ex, j->p[0].m));
	if (j->p[0].w_layout == EK_LAYOUT_X16)
		ek_run(ex, mm_x16_task, j, mm_row_tasks(ex, j));
	else
		ek_run(ex, mm_q8_task, j, mm_row_tasks(ex, j));
}

void ek_matmul(const struct ek_exec *ex, const struct ek_matmul *p,
	       void *scratch)
{
	struct mm_job j;

	/* scratch sizes are per thread of ex: ek_matmul_scratch_size() must
	 * have been given ex->nthreads */

	if (!mm_valid(p, scratch))
		return;
	mm_job_init(&j, p, 1, scratch);
	if (mm_quantized(p->w_dtype) && scratch) {
		mm_run_quantized(ex, &j);
		return;
	}
	if (!mm_quantized(p->w_dtype) && scratch && j.kern->gemm_wt &&
	    j.kern->gemm_wt_bytes(p)) {
		mm_run_wt(ex, &j);
		return;
	}
	if (!mm_quantized(p->w_dtype) && scratch && j.kern->gemm) {
		/* one task per thread: each packs its own copy of A, so more
		 * tasks would pack A more often (and need more scratch) */
		int gt = ex && ex->nthreads > 0 ? ex->nthreads : 1;

		j.gemm_bytes = ek_gemm_task_bytes(j.kern, p);
		if (j.gemm_bytes) {
			ek_run(ex, mm_gemm_task, &j, gt);
			return;
		}
	}
	ek_run(ex, mm_dot_task, &j, mm_row_tasks(ex, &j));
}

/* Can the group run as one job on one A: block-quantized weights of one
 * type (A quantized once; the job's dots are that type's), or all f32 weights for the in-place GEMM (A packed
 * once)? */
static bool mm_group_joinable(const struct ek_mm_kernels *kern,
			      const struct ek_matmul *ps, int count,
			      const void *scratch)
{
	bool quant = mm_quantized(ps[0].w_dtype);

	for (int x = 0; x < count; x++)
		if (!mm_valid(&ps[x], scratch) || ps[x].w_dtype != ps[0].w_dtype ||
		    ps[x].w_layout != ps[0].w_layout || ps[x].m != ps[0].m ||
		    ps[x].k != ps[0].k || ps[x].a != ps[0].a ||
		    ps[x].a_stride != ps[0].a_stride ||
		    (!quant && !(kern->gemm_wt && kern->gemm_wt_bytes(&ps[x]))))
			return false;
	return true;
}

void ek_matmul_group(const struct ek_exec *ex, const struct ek_matmul *ps,
		     int count, void *scratch)
{
	struct mm_job j;

	if (!ps || count <= 0)
		return;
	if (count == 1 || !scratch ||
	    !mm_group_joinable(ek_mm_kernels_for(ek_isa()), ps, count, scratch)) {
		for (int x = 0; x < count; x++)
			ek_matmul(ex, &ps[x], scratch);
		return;
	}
	mm_job_init(&j, ps, count, scratch);
	if (mm_quantized(ps[0].w_dtype))
		mm_run_quantized(ex, &j);
	else
		mm_run_wt(ex, &j);
}
