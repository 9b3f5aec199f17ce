/* SPDX-License-Identifier: MIT */
/*
 * ember-bench states: how fast decode matmuls stream their weights in each
 * bandwidth state the machine shows during the run.
 *
 * Our development VM's read bandwidth moves between ~30 and ~60 GB/s within
 * seconds (docs/performance.md), so a figure taken at one moment and a
 * bound taken at the next can come from different states. Here the ops
 * take turns, sample by sample (a few ms each), and a short read probe
 * runs before every sample. A sample counts when the probes on both sides
 * of it agree within 20%, at their mean: its level. Each op is then held
 * against the bandwidth of its own moments, in the lowest, middle and
 * highest third of the levels the run saw.
 *
 * Ops: plain reads of cold weight copies in the probe's pattern (what
 * simple streaming gets from that memory), the same reads by one thread
 * (how much of it one thread alone can pull: when that is most, a thread
 * that waits at a barrier costs little bandwidth; on this VM it is most
 * in the low state and about half in the high one, where each vCPU has
 * a link of its own), and M = 1 matmuls over cold X16 copies, as the CPU
 * runtime's decode runs them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bandwidth.h"
#include "cache_size.h"
#include "bench.h"

/* Per op at least the last-level cache (the other ops' samples and the
 * probes pass between two reads of one copy); probes take turns over at
 * least 4 buffers and twice the cache (cache_size.h). */
#define ST_COPY_BYTES ((size_t)128 << 20)
#define ST_PROBE_BYTES ((size_t)64 << 20)
#define ST_PROBE_RING 4
#define ST_SAMPLE_BYTES ((size_t)32 << 20)	/* weights per sample */
#define ST_PROBE_STREAMS 4
#define ST_MAX_OPS 5
/* A sample counts when the probes around it are this close (as ember-run
 * --bench's rounds) */
#define ST_STEADY 1.2

struct st_op {
	const char *name;	/* for --filter: "matmul q8_0 1x4096x4096" */
	int dtype;
	uint32_t n, k;
	bool read;		/* plain reads, not a matmul */
	bool one_thread;	/* read: by the calling thread alone */
	size_t bytes;		/* weight bytes read per call */
	uint8_t *all;		/* the copies */
	size_t step;
	int copies, next, per;	/* calls per sample */
	struct ek_matmul p;
	float *a, *c;
	void *scratch;
	size_t scratch_size;
};

struct st_sample {
	int op;
	double gbs;		/* the op's */
	double before;		/* the probe right before it */
	double level;		/* the mean of the probes before and after */
	bool steady;		/* those two within ST_STEADY of each other */
};

struct st_ctx {
	const struct bench_opts *o;
	struct ek_exec ex;
	uint64_t seed;
	struct st_op ops[ST_MAX_OPS];
	int nops;
};

static const struct st_op st_all[ST_MAX_OPS] = {
	{ .name = "read q8_0 4096x4096 copies", .dtype = EK_Q8_0,
	  .n = 4096, .k = 4096, .read = true },
	{ .name = "read-1thr q8_0 4096x4096 copies", .dtype = EK_Q8_0,
	  .n = 4096, .k = 4096, .read = true, .one_thread = true },
	{ .name = "matmul q8_0 1x4096x4096 x16", .dtype = EK_Q8_0,
	  .n = 4096, .k = 4096 },
	{ .name = "matmul q4_0 1x4096x4096 x16", .dtype = EK_Q4_0,
	  .n = 4096, .k = 4096 },
	/* SmolLM2's FFN rows: short calls, each with its fork and join */
	{ .name = "matmul q8_0 1x1536x576 x16", .dtype = EK_Q8_0,
	  .n = 1536, .k = 576 },
};

static bool st_wanted(const struct bench_opts *o, const char *name)
{
	return !o->filter || strstr(name, o->filter);
}

static void st_op_init(struct st_ctx *s, struct st_op *op)
{
	size_t gguf;
	void *w = bench_weights(&s->seed, op->dtype, op->n, op->k, &gguf);
	size_t xbytes = ek_x16_size(op->dtype, op->n, op->k);
	void *x16 = bench_alloc(xbytes);

	ek_x16_pack(op->dtype, w, ek_row_size(op->dtype, op->k), op->n, op->k,
		    x16);
	op->bytes = op->read ? xbytes : gguf;
	op->copies = (int)((ember_cold_bytes(ST_COPY_BYTES * 4) / 4 + xbytes - 1) /
			   xbytes);
	op->all = bench_copies(x16, xbytes, op->copies, &op->step);
	op->per = (int)((ST_SAMPLE_BYTES + op->bytes - 1) / op->bytes);
	bench_free(x16, xbytes);
	bench_free(w, gguf);
	if (op->read)
		return;
	op->a = bench_alloc((size_t)op->k * 4);
	op->c = bench_alloc((size_t)op->n * 4);
	bench_fill(&s->seed, op->a, op->k, 2.0f);
	op->p = (struct ek_matmul){
		.m = 1, .n = op->n, .k = op->k,
		.a = op->a, .a_stride = (size_t)op->k * 4,
		.w_dtype = op->dtype, .w_stride = ek_row_size(op->dtype, op->k),
		.w_layout = EK_LAYOUT_X16,
		.c = op->c, .c_stride = (size_t)op->n * 4,
	};
	op->scratch_size = ek_matmul_scratch_size(&op->p, s->ex.nthreads);
	op->scratch = bench_alloc(op->scratch_size);
}

static void st_op_free(struct st_op *op)
{
	bench_free(op->all, op->step * (size_t)op->copies);
	if (op->read)
		return;
	bench_free(op->a, (size_t)op->k * 4);
	bench_free(op->c, (size_t)op->n * 4);
	bench_free(op->scratch, op->scratch_size);
}

/* One sample: per calls on the next copies; GB/s of weights. */
static double st_op_run(struct st_ctx *s, struct st_op *op)
{
	double t0 = bench_now(), t;

	for (int i = 0; i < op->per; i++) {
		const uint8_t *w = op->all + op->step * (size_t)op->next;

		op->next = (op->next + 1) % op->copies;
		if (op->read) {
			ember_read_pass(op->one_thread ? &ek_exec_serial : &s->ex,
					w, op->bytes, ST_PROBE_STREAMS);
		} else {
			op->p.w = w;
			ek_matmul(&s->ex, &op->p, op->scratch);
		}
	}
	t = bench_now() - t0;
	return t > 0 ? (double)op->bytes * op->per / t * 1e-9 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The p-th quantile of v[0..n) (sorts v). */
static double quantile(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[(int)(p * (n - 1) + 0.5)];
}

/* Rows for op over the samples whose level (the mean of the probes around
 * them) is in [lo, hi): the medians of the op's GB/s and of the level. */
static void st_report(struct st_ctx *s, int opi, const struct st_sample *sm,
		      int n, double lo, double hi, const char *band)
{
	const struct st_op *op = &s->ops[opi];
	double *v = malloc(sizeof(double) * (size_t)n);
	double *b = malloc(sizeof(double) * (size_t)n);
	int cnt = 0;
	struct bench_result r;

	if (!v || !b) {
		fprintf(stderr, "ember-bench: out of memory\n");
		exit(1);
	}
	for (int i = 0; i < n; i++)
		if (sm[i].op == opi && sm[i].steady && sm[i].level >= lo &&
		    sm[i].level < hi) {
			v[cnt] = sm[i].gbs;
			b[cnt++] = sm[i].level;
		}
	if (cnt) {
		memset(&r, 0, sizeof(r));
		snprintf(r.op, sizeof(r.op), "%s", !op->read ? "matmul" :
			 op->one_thread ? "read-1thr" : "read");
		snprintf(r.dtype, sizeof(r.dtype), "%s", ek_dtype_name(op->dtype));
		snprintf(r.shape, sizeof(r.shape), "%s%ux%u %s",
			 op->read ? "" : "1x", op->n, op->k, band);
		snprintf(r.metric, sizeof(r.metric), "GB/s");
		r.value = quantile(v, cnt, 0.5);
		r.baseline = quantile(b, cnt, 0.5);
		snprintf(r.baseline_name, sizeof(r.baseline_name),
			 "read bandwidth");
		snprintf(r.note, sizeof(r.note), "%d samples, %s", cnt,
			 !op->read ? "x16, cold" : op->one_thread ?
			 "W copies, probe pattern, 1 thread" : "W copies, probe pattern");
		bench_print(s->o, &r);
	}
	free(v);
	free(b);
}

static int st_measure(struct st_ctx *s, double seconds)
{
	int cap = 1 << 16, n = 0, steady = 0;
	struct st_sample *sm = malloc(sizeof(*sm) * (size_t)cap);
	double *levels = malloc(sizeof(double) * (size_t)cap);
	struct ember_read_ring ring;
	double t0 = bench_now();

	if (!sm || !levels ||
	    ember_read_ring_init(&ring, ST_PROBE_BYTES,
				 (unsigned int)(ember_cold_bytes(ST_PROBE_RING * 2 * ST_PROBE_BYTES) /
						(2 * ST_PROBE_BYTES)))) {
		fprintf(stderr, "ember-bench: out of memory\n");
		exit(1);
	}
	while (n < cap && bench_now() - t0 < seconds) {
		sm[n].op = n % s->nops;
		sm[n].before = ember_read_ring_pass(&ring, &s->ex,
						    ST_PROBE_STREAMS) * 1e-9;
		sm[n].gbs = st_op_run(s, &s->ops[sm[n].op]);
		n++;
	}
	double last = ember_read_ring_pass(&ring, &s->ex, ST_PROBE_STREAMS) * 1e-9;

	for (int i = 0; i < n; i++) {
		double a = sm[i].before, b = i + 1 < n ? sm[i + 1].before : last;

		sm[i].level = (a + b) / 2;
		sm[i].steady = a > 0 && b > 0 && a < ST_STEADY * b &&
			       b < ST_STEADY * a;
		if (sm[i].steady)
			levels[steady++] = sm[i].level;
	}
	if (!steady) {
		fprintf(stderr, "ember-bench: the read bandwidth changed by more than %.0f%% around every sample; run longer (--time) or on a quieter machine\n",
			(ST_STEADY - 1) * 100);
		free(sm);
		free(levels);
		ember_read_ring_free(&ring);
		return 1;
	}
	double q1 = quantile(levels, steady, 1.0 / 3),
	       q2 = quantile(levels, steady, 2.0 / 3);

	if (!s->o->json)
		printf("%d samples in %.1f s, %d steady (probes around them within %.0f%%); read bandwidth (%zu MiB, %d streams per thread) in thirds: low < %.1f <= mid < %.1f <= high GB/s\n",
		       n, bench_now() - t0, steady, (ST_STEADY - 1) * 100,
		       ST_PROBE_BYTES >> 20, ST_PROBE_STREAMS, q1, q2);
	bench_print_header(s->o);
	for (int i = 0; i < s->nops; i++) {
		st_report(s, i, sm, n, 0, q1, "low");
		st_report(s, i, sm, n, q1, q2, "mid");
		st_report(s, i, sm, n, q2, INFINITY, "high");
	}
	ember_read_ring_free(&ring);
	free(sm);
	free(levels);
	return 0;
}

int bench_states_main(const struct bench_opts *o)
{
	struct st_ctx s;
	struct ek_pool *pool;
	int ret;

	memset(&s, 0, sizeof(s));
	s.o = o;
	s.seed = 42;
	for (int i = 0; i < ST_MAX_OPS; i++)
		if (st_wanted(o, st_all[i].name))
			s.ops[s.nops++] = st_all[i];
	if (!s.nops) {
		fprintf(stderr, "ember-bench: no states op matches --filter '%s': the ops are \"read q8_0 4096x4096 copies\", \"read-1thr q8_0 4096x4096 copies\", \"matmul q8_0 1x4096x4096 x16\", \"matmul q4_0 1x4096x4096 x16\" and \"matmul q8_0 1x1536x576 x16\"\n",
			o->filter);
		return 1;
	}
	pool = ek_pool_create(o->threads);
	if (!pool) {
		fprintf(stderr, "ember-bench: cannot start %d threads\n",
			o->threads);
		return 1;
	}
	s.ex = ek_pool_exec(pool);
	for (int i = 0; i < s.nops; i++)
		st_op_init(&s, &s.ops[i]);
	ret = st_measure(&s, o->time_set ? o->min_time : 20.0);
	for (int i = 0; i < s.nops; i++)
		st_op_free(&s.ops[i]);
	ek_pool_destroy(pool);
	return ret;
}
