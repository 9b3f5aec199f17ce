/* SPDX-License-Identifier: MIT */
/*
 * ember-bench device: the Ember NPU as a program on it sees it (run it in
 * the guest, or on any machine with an Ember device). One row each:
 *  - device: the node, firmware and compute units;
 *  - jobs: jobs/s of NOP jobs and of a small MATMUL (1x256x256 Q8_0)
 *    through the SUBMIT ioctl (ember_submit + ember_wait of the last
 *    seqno) and through io_uring (ember_queue_*), in batches of 1, 16,
 *    64 and 256 jobs submitted at once and waited for together; the
 *    io_uring row's baseline is the ioctl's (ratio: io_uring / ioctl);
 *  - ops: MATMUL at decode and prefill shapes in F32, F16, Q8_0 and Q4_0 (and
 *    those two in the X16 layout, "q8_0-x16")
 *    (GFLOP/s, and weight GB/s), ATTENTION decode over a cache (GB/s of K
 *    and V), RMSNORM, SWIGLU and COPY (GB/s in + out), one op per job, one
 *    job per submit + wait; value: by wall time, baseline: by the device's
 *    busy time (the busy_ns perf counter), so the ratio is the part of the
 *    wall time the device computed;
 *  - forward: a model's decode on the NPU through the runtime: wall, device
 *    busy, their difference (the driver and submission overhead) and this
 *    process's CPU time, in ms per token, over S seconds of tokens.
 * Jobs and ops rows report the best of 3 rounds of S / 3 seconds each.
 * --time S: seconds per row (default 0.5); --model FILE: the forward
 * pass's model (default stories260K, found as ember-run finds it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ember/ember.h>
#include <ember/kernels.h>

#include "bench.h"
#include "device.h"
#include "model_path.h"

#define SEC 1000000000ll
#define WAIT_NS (60 * SEC)	/* a job the driver has not timed out by then */
#define MAX_BATCH 256u
#define ROUNDS 3		/* timed rounds per row, the best reported */
#define JOB_K 256u		/* the small MATMUL job: 1 x JOB_K x JOB_K Q8_0 */

struct dctx {
	const struct bench_opts *o;
	struct ember_device *dev;
	double t;		/* seconds per row */
	uint64_t seed;
	bool dry;		/* only count the rows the filter lets through */
	int matched;
	char model[4096];	/* the forward pass's model */
};

static bool wanted(const struct dctx *d, const char *label)
{
	return !d->o->filter || strstr(label, d->o->filter);
}

/* Counts the row in a dry pass; true if it is to be measured. */
static bool take(struct dctx *d, const char *label)
{
	if (!wanted(d, label))
		return false;
	if (d->dry) {
		d->matched++;
		return false;
	}
	return true;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int fail(struct dctx *d, int ret, const char *what)
{
	fprintf(stderr, "ember-bench: %s: %s\n", what, ember_errmsg(d->dev));
	return ret < 0 ? ret : -EIO;
}

static int perf(struct dctx *d, struct drm_ember_perf *p)
{
	int ret = ember_query_perf(d->dev, p);

	return ret ? fail(d, ret, "reading the device's perf counters") : 0;
}

/* s with '"' and '\' escaped, for a JSON string */
static void jesc(char *dst, size_t n, const char *s)
{
	size_t j = 0;

	for (; *s && j + 2 < n; s++) {
		if (*s == '"' || *s == '\\')
			dst[j++] = '\\';
		dst[j++] = (unsigned char)*s < 0x20 ? ' ' : *s;
	}
	dst[j] = '\0';
}

/* ---- buffers ------------------------------------------------------------ */

struct buf {
	struct ember_bo *bo;
	uint8_t *p;
};

static int buf_new(struct dctx *d, uint64_t size, struct buf *b)
{
	void *p;
	int ret = ember_bo_create(d->dev, size, &b->bo);

	if (ret)
		return fail(d, ret, "creating a buffer");
	ret = ember_bo_map(b->bo, &p);
	if (ret) {
		ember_bo_free(b->bo);
		b->bo = NULL;
		return fail(d, ret, "mapping a buffer");
	}
	b->p = p;
	return 0;
}

static void buf_free(struct buf *b)
{
	ember_bo_free(b->bo);
	b->bo = NULL;
}

static uint64_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s ^ (*s >> 29);
}

static size_t row_bytes(unsigned int dtype, size_t n)
{
	switch (dtype) {
	case EMBER_DTYPE_F32: return n * 4;
	case EMBER_DTYPE_F16:
	case EMBER_DTYPE_BF16: return n * 2;
	case EMBER_DTYPE_Q8_0: return n / 32 * 34;
	case EMBER_DTYPE_Q4_0: return n / 32 * 18;
	default: return 0;
	}
}

static const char *dtype_name(unsigned int dtype)
{
	return ek_dtype_name((int)dtype);	/* EK_* = EMBER_DTYPE_*: GGUF numbers */
}

/*
 * @rows rows of @n values of @dtype at @p, cheap to make (the guest CPU is
 * slow) and harmless to compute with: random signs and mantissas at
 * magnitudes 2^-7..2^-6, or random quants with the scale 2^-7.
 */
static void fill(uint64_t *seed, void *p, unsigned int dtype, size_t rows,
		 size_t n)
{
	size_t bytes = row_bytes(dtype, n) * rows, i;
	uint8_t *b = p;

	switch (dtype) {
	case EMBER_DTYPE_F32:
		for (i = 0; i + 8 <= bytes; i += 8) {
			uint64_t r = rnd(seed) & 0x807fffff807fffffULL;

			r |= 0x3c0000003c000000ULL;
			memcpy(b + i, &r, 8);
		}
		break;
	case EMBER_DTYPE_F16:
	case EMBER_DTYPE_BF16:
		for (i = 0; i + 8 <= bytes; i += 8) {
			uint64_t r = dtype == EMBER_DTYPE_F16 ?
				(rnd(seed) & 0x83ff83ff83ff83ffULL) | 0x2000200020002000ULL :
				(rnd(seed) & 0x807f807f807f807fULL) | 0x3c003c003c003c00ULL;

			memcpy(b + i, &r, 8);
		}
		break;
	case EMBER_DTYPE_Q8_0:
	case EMBER_DTYPE_Q4_0: {
		size_t bs = dtype == EMBER_DTYPE_Q8_0 ? 34 : 18;
		uint16_t scale = 0x2000;	/* f16 2^-7 */

		for (i = 0; i + bs <= bytes; i += bs) {
			memcpy(b + i, &scale, 2);
			for (size_t j = 2; j < bs; j += 8) {
				uint64_t r = rnd(seed);

				memcpy(b + i + j, &r, bs - j < 8 ? bs - j : 8);
			}
		}
		break;
	}
	default:
		break;
	}
}

/* ---- jobs/s: the ioctl and io_uring --------------------------------------- */

enum path { PATH_IOCTL, PATH_URING };

struct rate {
	double jobs_s;		/* jobs per second of wall time */
	double cpu_us;		/* this process's CPU time per job */
	double busy_us;		/* device busy time per job */
};

static int check_status(struct dctx *d, int status, const char *what)
{
	if (status == EMBER_JOB_OK)
		return 0;
	if (status < 0)
		return fail(d, status, what);
	fprintf(stderr, "ember-bench: a %s job ended with status %s; see the kernel log (dmesg)\n",
		what, ember_status_name(status));
	return -EIO;
}

/* One batch: @n jobs submitted at once (in as few SUBMITs as the kernel
 * allows), then a wait for the last. */
static int batch_ioctl(struct dctx *d, const struct ember_job *jobs, uint32_t n,
		       const char *what)
{
	uint32_t max = ember_device_info(d->dev)->max_submit_jobs;
	uint64_t seq = 0, last = 0;
	int ret;

	if (!max)
		max = n;
	for (uint32_t i = 0; i < n; i += max) {
		uint32_t c = n - i > max ? max : n - i;

		ret = ember_submit(d->dev, jobs + i, c, &seq);
		if (ret)
			return fail(d, ret, "submitting jobs through the ioctl");
		last = seq + c - 1;
	}
	ret = ember_wait(d->dev, last, WAIT_NS);
	return check_status(d, ret, what);
}

static int batch_uring(struct dctx *d, struct ember_queue *q,
		       const struct ember_job *jobs, uint32_t n, const char *what)
{
	struct ember_completion c[MAX_BATCH];
	uint32_t got = 0;
	int ret;

	for (uint32_t i = 0; i < n; i++) {
		ret = ember_queue_push(q, &jobs[i], i);
		if (ret)
			return fail(d, ret, "queueing a job on io_uring");
	}
	while (got < n) {
		int k = ember_queue_wait(q, c, MAX_BATCH, n - got, WAIT_NS);

		if (k < 0)
			return fail(d, k, "waiting for io_uring completions");
		for (int i = 0; i < k; i++)
			if ((ret = check_status(d, c[i].status, what)))
				return ret;
		got += (uint32_t)k;
	}
	return 0;
}

static int batch(struct dctx *d, enum path p, struct ember_queue *q,
		 const struct ember_job *jobs, uint32_t n, const char *what)
{
	return p == PATH_IOCTL ? batch_ioctl(d, jobs, n, what) :
				 batch_uring(d, q, jobs, n, what);
}

/* Batches of @n jobs: the best of ROUNDS rounds of d->t / ROUNDS seconds
 * each, after one untimed batch (other load on the machine only slows a
 * round down). */
static int measure_rate(struct dctx *d, enum path p, struct ember_queue *q,
			const struct ember_job *jobs, uint32_t n,
			const char *what, struct rate *best)
{
	int ret = batch(d, p, q, jobs, n, what);

	memset(best, 0, sizeof(*best));
	for (int round = 0; round < ROUNDS && !ret; round++) {
		struct drm_ember_perf p0, p1;
		double t0, c0, cpu, dt;
		uint64_t done = 0;

		if ((ret = perf(d, &p0)))
			break;
		t0 = bench_now();
		c0 = cpu_now();
		do {
			if ((ret = batch(d, p, q, jobs, n, what)))
				return ret;
			done += n;
			dt = bench_now() - t0;
		} while (dt < d->t / ROUNDS);
		cpu = cpu_now() - c0;
		if ((ret = perf(d, &p1)))
			break;
		if ((double)done / dt > best->jobs_s) {
			best->jobs_s = (double)done / dt;
			best->cpu_us = cpu / (double)done * 1e6;
			best->busy_us = (double)(p1.busy_ns - p0.busy_ns) / (double)done * 1e-3;
		}
	}
	return ret;
}

static void rate_row(struct dctx *d, const char *job, const char *dtype,
		     const char *shape_job, uint32_t n, enum path p,
		     const struct rate *r, const struct rate *ioctl)
{
	const char *pname = p == PATH_IOCTL ? "ioctl" : "io_uring";
	struct bench_result res;

	memset(&res, 0, sizeof(res));
	snprintf(res.op, sizeof(res.op), "jobs");
	snprintf(res.dtype, sizeof(res.dtype), "%s", dtype);
	snprintf(res.shape, sizeof(res.shape), "%s b%u %s", shape_job, n, pname);
	snprintf(res.metric, sizeof(res.metric), "jobs/s");
	res.value = r->jobs_s;
	res.baseline = -1;
	if (ioctl) {
		res.baseline = ioctl->jobs_s;
		snprintf(res.baseline_name, sizeof(res.baseline_name), "ioctl");
	}
	snprintf(res.note, sizeof(res.note), "%.1f us CPU, %.1f us device busy per job",
		 r->cpu_us, r->busy_us);
	snprintf(res.extra, sizeof(res.extra),
		 "\"job\":\"%s\",\"path\":\"%s\",\"batch\":%u,\"cpu_us_per_job\":%.3f,"
		 "\"busy_us_per_job\":%.3f", job, pname, n, r->cpu_us, r->busy_us);
	bench_print(d->o, &res);
}

static const uint32_t batches[] = { 1, 16, 64, 256 };

/* The filter's label of a jobs row: "jobs nop batch 16",
 * "jobs matmul 1x256x256 q8_0 batch 16". */
static void rate_label(char *buf, size_t n, const char *what, uint32_t b)
{
	snprintf(buf, n, "jobs %s batch %u", what, b);
}

static bool rates_wanted(const struct dctx *d, const char *what)
{
	char label[96];

	for (size_t i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
		rate_label(label, sizeof(label), what, batches[i]);
		if (wanted(d, label))
			return true;
	}
	return false;
}

/* Both paths at every batch size for one kind of job (@what: its label). */
static int bench_rates(struct dctx *d, const char *job, const char *dtype,
		       const char *what, const char *shape_job,
		       const struct ember_job *jobs)
{
	struct ember_queue *q = NULL;
	int ret = 0;

	for (size_t i = 0; i < sizeof(batches) / sizeof(batches[0]) && !ret; i++) {
		char label[96];
		struct rate ri, ru;

		rate_label(label, sizeof(label), what, batches[i]);
		if (!take(d, label))
			continue;
		if (!q && (ret = ember_queue_create(d->dev, MAX_BATCH, &q)))
			return fail(d, ret, "creating an io_uring queue");
		ret = measure_rate(d, PATH_IOCTL, q, jobs, batches[i], job, &ri);
		if (!ret)
			ret = measure_rate(d, PATH_URING, q, jobs, batches[i], job, &ru);
		if (!ret) {
			rate_row(d, job, dtype, shape_job, batches[i], PATH_IOCTL, &ri, NULL);
			rate_row(d, job, dtype, shape_job, batches[i], PATH_URING, &ru, &ri);
		}
	}
	ember_queue_destroy(q);
	return ret;
}

static int bench_jobs(struct dctx *d)
{
	struct ember_job jobs[MAX_BATCH];
	struct ember_cmdbuf *cb = NULL;
	struct buf a = { 0 }, w = { 0 }, c = { 0 };
	char shape[32], what[48];
	int ret = 0;

	/* NOP: one stream every job of a batch runs */
	if (rates_wanted(d, "nop")) {
		if (!d->dry) {
			if ((ret = ember_cmdbuf_create(d->dev, 4096, &cb)))
				return fail(d, ret, "creating a command buffer");
			ember_cmdbuf_begin(cb);
			if ((ret = ember_cmdbuf_nop(cb)) || (ret = ember_cmdbuf_end(cb, &jobs[0]))) {
				ret = fail(d, ret, "building a NOP job");
				goto out;
			}
			for (uint32_t i = 1; i < MAX_BATCH; i++)
				jobs[i] = jobs[0];
		}
		if ((ret = bench_rates(d, "nop", "-", "nop", "nop", jobs)))
			goto out;
		ember_cmdbuf_free(cb);
		cb = NULL;
	}
	/* MATMUL 1 x K x K Q8_0: each job of a batch writes its own row of C
	 * (all of them in one buffer: each job waits for the one before, as
	 * the jobs of a forward pass do) */
	snprintf(shape, sizeof(shape), "matmul 1x%ux%u", JOB_K, JOB_K);
	snprintf(what, sizeof(what), "matmul 1x%ux%u q8_0", JOB_K, JOB_K);
	if (!rates_wanted(d, what))
		goto out;
	if (!d->dry) {
		if ((ret = buf_new(d, JOB_K * 4, &a)) ||
		    (ret = buf_new(d, row_bytes(EMBER_DTYPE_Q8_0, JOB_K) * JOB_K, &w)) ||
		    (ret = buf_new(d, (uint64_t)MAX_BATCH * JOB_K * 4, &c)))
			goto out;
		fill(&d->seed, a.p, EMBER_DTYPE_F32, 1, JOB_K);
		fill(&d->seed, w.p, EMBER_DTYPE_Q8_0, JOB_K, JOB_K);
		if ((ret = ember_cmdbuf_create(d->dev, MAX_BATCH * 128 + 4096, &cb))) {
			ret = fail(d, ret, "creating a command buffer");
			goto out;
		}
		for (uint32_t i = 0; i < MAX_BATCH; i++) {
			struct ember_matmul_desc md = {
				.m = 1, .n = JOB_K, .k = JOB_K, .w_dtype = EMBER_DTYPE_Q8_0,
				.a = { a.bo, 0 }, .w = { w.bo, 0 },
				.c = { c.bo, (uint64_t)i * JOB_K * 4 },
			};

			ember_cmdbuf_begin(cb);
			if ((ret = ember_cmdbuf_matmul(cb, &md)) ||
			    (ret = ember_cmdbuf_end(cb, &jobs[i]))) {
				ret = fail(d, ret, "building a MATMUL job");
				goto out;
			}
		}
	}
	ret = bench_rates(d, "matmul", "q8_0", what, shape, jobs);
out:
	ember_cmdbuf_free(cb);
	buf_free(&a);
	buf_free(&w);
	buf_free(&c);
	return ret;
}

/* ---- ops: one op per job, timed by wall and by device busy time ----------- */

/* Runs @job alone (submit, wait) after one untimed run: the best of ROUNDS
 * rounds of d->t / ROUNDS seconds, in seconds per job by wall time and by
 * the device's busy time. */
static int time_job(struct dctx *d, const struct ember_job *job, const char *what,
		    double *wall, double *busy)
{
	int ret = batch_ioctl(d, job, 1, what);

	*wall = *busy = 0;
	for (int round = 0; round < ROUNDS && !ret; round++) {
		struct drm_ember_perf p0, p1;
		double t0, dt;
		long n = 0;

		if ((ret = perf(d, &p0)))
			break;
		t0 = bench_now();
		do {
			if ((ret = batch_ioctl(d, job, 1, what)))
				return ret;
			n++;
			dt = bench_now() - t0;
		} while (dt < d->t / ROUNDS);
		if ((ret = perf(d, &p1)))
			break;
		if (!*wall || dt / (double)n < *wall) {
			*wall = dt / (double)n;
			*busy = (double)(p1.busy_ns - p0.busy_ns) * 1e-9 / (double)n;
		}
	}
	return ret;
}

/*
 * A row for an op: @work units (flops or bytes) per op in @metric, by wall
 * time (value) and by device busy time (baseline). @wbytes > 0: a MATMUL's
 * weight bytes, reported in GB/s too.
 */
static void op_row(struct dctx *d, const char *op, const char *dtype, const char *shape,
		   const char *metric, double work, double wbytes, double wall, double busy)
{
	struct bench_result r;
	int n;

	memset(&r, 0, sizeof(r));
	snprintf(r.op, sizeof(r.op), "%s", op);
	snprintf(r.dtype, sizeof(r.dtype), "%s", dtype);
	snprintf(r.shape, sizeof(r.shape), "%s", shape);
	snprintf(r.metric, sizeof(r.metric), "%s", metric);
	r.value = work / wall * 1e-9;
	r.baseline = busy > 0 ? work / busy * 1e-9 : -1;
	snprintf(r.baseline_name, sizeof(r.baseline_name), "device busy time");
	n = snprintf(r.note, sizeof(r.note), "%.1f us wall, %.1f us busy per op",
		     wall * 1e6, busy * 1e6);
	if (wbytes > 0 && n > 0 && (size_t)n < sizeof(r.note))
		snprintf(r.note + n, sizeof(r.note) - (size_t)n,
			 "; weights %.2f GB/s (busy %.2f)", wbytes / wall * 1e-9,
			 busy > 0 ? wbytes / busy * 1e-9 : 0);
	n = snprintf(r.extra, sizeof(r.extra), "\"wall_us\":%.3f,\"busy_us\":%.3f",
		     wall * 1e6, busy * 1e6);
	if (wbytes > 0 && n > 0 && (size_t)n < sizeof(r.extra))
		snprintf(r.extra + n, sizeof(r.extra) - (size_t)n,
			 ",\"weight_bytes\":%.0f,\"weight_gbs\":%.3f,\"weight_gbs_busy\":%.3f",
			 wbytes, wbytes / wall * 1e-9, busy > 0 ? wbytes / busy * 1e-9 : 0);
	bench_print(d->o, &r);
}

/* An op of up to four operand buffers (sizes in bytes; 0: unused). */
struct op_bufs {
	struct buf b[4];
};

static int bufs_new(struct dctx *d, struct op_bufs *ob, const uint64_t size[4])
{
	int ret;

	memset(ob, 0, sizeof(*ob));
	for (int i = 0; i < 4; i++)
		if (size[i] && (ret = buf_new(d, size[i], &ob->b[i])))
			return ret;
	return 0;
}

static void bufs_free(struct op_bufs *ob)
{
	for (int i = 0; i < 4; i++)
		buf_free(&ob->b[i]);
}

enum op_kind { K_MATMUL, K_ATTN, K_RMSNORM, K_SWIGLU, K_COPY };

struct op_cfg {
	enum op_kind kind;
	unsigned int dtype, dtype2;	/* weights / KV / COPY source; COPY dest */
	uint32_t m, n, k;		/* MATMUL; rows x n for the row ops */
	uint32_t ctx, n_head, n_kv, hd;	/* ATTENTION decode at position ctx - 1 */
	bool x16;			/* MATMUL: W in the X16 layout (ABI 1.3) */
};

static const char *kind_name(enum op_kind k)
{
	static const char *const names[] = { "matmul", "attention", "rmsnorm", "swiglu", "copy" };

	return names[k];
}

static void cfg_label(const struct op_cfg *c, char *dtype, size_t dn, char *shape, size_t sn)
{
	if (c->kind == K_COPY)
		snprintf(dtype, dn, "%.7s>%.7s", dtype_name(c->dtype), dtype_name(c->dtype2));
	else
		snprintf(dtype, dn, "%s%s", dtype_name(c->dtype), c->x16 ? "-x16" : "");
	switch (c->kind) {
	case K_MATMUL:
		snprintf(shape, sn, "%ux%ux%u", c->m, c->n, c->k);
		break;
	case K_ATTN:
		snprintf(shape, sn, "ctx%u h%u/%u d%u", c->ctx, c->n_head, c->n_kv, c->hd);
		break;
	default:
		snprintf(shape, sn, "%ux%u", c->m, c->n);
	}
}

static int bench_op(struct dctx *d, const struct op_cfg *c)
{
	struct ember_cmdbuf *cb = NULL;
	struct ember_job job;
	struct op_bufs ob;
	uint64_t size[4] = { 0 };
	double work = 0, wbytes = 0, wall, busy;
	char dtype[16], shape[48], label[96];
	const char *metric = "GB/s";
	size_t rows = c->m, n = c->n;
	int ret;

	cfg_label(c, dtype, sizeof(dtype), shape, sizeof(shape));
	snprintf(label, sizeof(label), "%s %s %s", kind_name(c->kind), dtype, shape);
	if (!take(d, label))
		return 0;
	if (!ember_device_has_op(d->dev, c->kind == K_MATMUL ? EMBER_OP_MATMUL :
				 c->kind == K_ATTN ? EMBER_OP_ATTENTION :
				 c->kind == K_RMSNORM ? EMBER_OP_RMSNORM :
				 c->kind == K_SWIGLU ? EMBER_OP_SWIGLU : EMBER_OP_COPY) ||
	    !ember_device_has_dtype(d->dev, c->dtype) ||
	    (c->kind == K_COPY && !ember_device_has_dtype(d->dev, c->dtype2))) {
		fprintf(stderr, "ember-bench: %s: skipped, the device lacks the op or type (caps)\n",
			label);
		return 0;
	}
	if (c->x16 && ember_device_info(d->dev)->fw_abi_version < (1u << 16 | 3u)) {
		fprintf(stderr, "ember-bench: %s: skipped, X16 weights need firmware ABI 1.3\n",
			label);
		return 0;
	}
	switch (c->kind) {
	case K_MATMUL:
		size[0] = (uint64_t)c->m * c->k * 4;
		size[1] = c->x16 ? ek_x16_size((int)c->dtype, c->n, c->k)
				 : row_bytes(c->dtype, c->k) * c->n;
		size[2] = (uint64_t)c->m * c->n * 4;
		work = 2.0 * c->m * c->n * c->k;
		wbytes = (double)size[1];
		metric = "GFLOP/s";
		break;
	case K_ATTN: {
		uint64_t kvrow = row_bytes(c->dtype, (size_t)c->n_kv * c->hd);

		size[0] = (uint64_t)c->n_head * c->hd * 4;	/* Q, and out */
		size[1] = size[2] = kvrow * c->ctx;
		size[3] = size[0];
		work = 2.0 * (double)kvrow * c->ctx;	/* K and V read */
		break;
	}
	case K_RMSNORM:
		size[0] = size[2] = rows * n * 4;
		size[1] = n * 4;
		work = 2.0 * (double)size[0] + (double)size[1];
		break;
	case K_SWIGLU:
		size[0] = size[1] = size[2] = rows * n * 4;
		work = 3.0 * (double)size[0];
		break;
	case K_COPY:
		size[0] = row_bytes(c->dtype, n) * rows;
		size[2] = row_bytes(c->dtype2, n) * rows;
		work = (double)size[0] + (double)size[2];
		break;
	}
	if ((ret = bufs_new(d, &ob, size)))
		goto out;
	switch (c->kind) {
	case K_MATMUL:
		fill(&d->seed, ob.b[0].p, EMBER_DTYPE_F32, c->m, c->k);
		if (c->x16) {
			void *rows_w = malloc(row_bytes(c->dtype, c->k) * c->n);

			if (!rows_w) {
				ret = fail(d, -ENOMEM, "out of memory for the weights");
				goto out;
			}
			fill(&d->seed, rows_w, c->dtype, c->n, c->k);
			ek_x16_pack((int)c->dtype, rows_w, row_bytes(c->dtype, c->k), c->n,
				    c->k, ob.b[1].p);
			free(rows_w);
		} else {
			fill(&d->seed, ob.b[1].p, c->dtype, c->n, c->k);
		}
		break;
	case K_ATTN:
		fill(&d->seed, ob.b[0].p, EMBER_DTYPE_F32, 1, (size_t)c->n_head * c->hd);
		fill(&d->seed, ob.b[1].p, c->dtype, c->ctx, (size_t)c->n_kv * c->hd);
		fill(&d->seed, ob.b[2].p, c->dtype, c->ctx, (size_t)c->n_kv * c->hd);
		break;
	case K_RMSNORM:
		fill(&d->seed, ob.b[1].p, EMBER_DTYPE_F32, 1, n);
		/* fall through */
	case K_SWIGLU:
		fill(&d->seed, ob.b[0].p, EMBER_DTYPE_F32, rows, n);
		if (c->kind == K_SWIGLU)
			fill(&d->seed, ob.b[1].p, EMBER_DTYPE_F32, rows, n);
		break;
	case K_COPY:
		fill(&d->seed, ob.b[0].p, c->dtype, rows, n);
		break;
	}
	if ((ret = ember_cmdbuf_create(d->dev, 4096, &cb))) {
		ret = fail(d, ret, "creating a command buffer");
		goto out;
	}
	ember_cmdbuf_begin(cb);
	switch (c->kind) {
	case K_MATMUL: {
		struct ember_matmul_desc md = {
			.m = c->m, .n = c->n, .k = c->k, .w_dtype = c->dtype,
			.flags = c->x16 ? EMBER_MATMUL_W_X16 : 0,
			.a = { ob.b[0].bo, 0 }, .w = { ob.b[1].bo, 0 }, .c = { ob.b[2].bo, 0 },
		};
		ret = ember_cmdbuf_matmul(cb, &md);
		break;
	}
	case K_ATTN: {
		struct ember_attention_desc ad = {
			.n_tok = 1, .n_past = c->ctx - 1, .n_head = c->n_head,
			.n_kv_head = c->n_kv, .head_dim = c->hd, .n_ctx = c->ctx,
			.kv_dtype = c->dtype,
			.q = { ob.b[0].bo, 0 }, .k = { ob.b[1].bo, 0 },
			.v = { ob.b[2].bo, 0 }, .out = { ob.b[3].bo, 0 },
		};
		ret = ember_cmdbuf_attention(cb, &ad);
		break;
	}
	case K_RMSNORM: {
		struct ember_rmsnorm_desc rd = {
			.rows = c->m, .dim = c->n, .flags = EMBER_RMSNORM_WEIGHT, .eps = 1e-5f,
			.x = { ob.b[0].bo, 0 }, .w = { ob.b[1].bo, 0 }, .out = { ob.b[2].bo, 0 },
		};
		ret = ember_cmdbuf_rmsnorm(cb, &rd);
		break;
	}
	case K_SWIGLU: {
		struct ember_swiglu_desc sd = {
			.rows = c->m, .n = c->n, .gate = { ob.b[0].bo, 0 },
			.up = { ob.b[1].bo, 0 }, .out = { ob.b[2].bo, 0 },
		};
		ret = ember_cmdbuf_swiglu(cb, &sd);
		break;
	}
	case K_COPY: {
		struct ember_copy_desc cd = {
			.rows = c->m, .n = c->n, .src_dtype = c->dtype, .dst_dtype = c->dtype2,
			.src = { ob.b[0].bo, 0 }, .dst = { ob.b[2].bo, 0 },
		};
		ret = ember_cmdbuf_copy(cb, &cd);
		break;
	}
	}
	if (ret == -EOPNOTSUPP) {	/* e.g. a Q8_0 cache before firmware ABI 1.2 */
		fprintf(stderr, "ember-bench: %s: skipped: %s\n", label, ember_errmsg(d->dev));
		ret = 0;
		goto out;
	}
	if (ret || (ret = ember_cmdbuf_end(cb, &job))) {
		ret = fail(d, ret, label);
		goto out;
	}
	if ((ret = time_job(d, &job, label, &wall, &busy)))
		goto out;
	op_row(d, kind_name(c->kind), dtype, shape, metric, work, wbytes, wall, busy);
out:
	ember_cmdbuf_free(cb);
	bufs_free(&ob);
	return ret;
}

static int bench_ops(struct dctx *d)
{
	static const uint32_t mm[][3] = {
		{ 1, 1536, 576 },	/* SmolLM2-135M's FFN up, one token */
		{ 1, 2048, 2048 },	/* TinyLlama's Q projection, one token */
		{ 64, 1536, 576 },	/* SmolLM2's FFN up over 64 tokens */
	};
	/* the last two again with W in the X16 layout, as the runtime uploads them */
	static const unsigned int wt[] = {
		EMBER_DTYPE_F32, EMBER_DTYPE_F16, EMBER_DTYPE_Q8_0, EMBER_DTYPE_Q4_0,
		EMBER_DTYPE_Q8_0, EMBER_DTYPE_Q4_0,
	};
	static const struct op_cfg other[] = {
		{ .kind = K_ATTN, .dtype = EMBER_DTYPE_F16, .ctx = 1024, .n_head = 9, .n_kv = 3, .hd = 64 },
		{ .kind = K_ATTN, .dtype = EMBER_DTYPE_F16, .ctx = 2048, .n_head = 32, .n_kv = 4, .hd = 64 },
		{ .kind = K_ATTN, .dtype = EMBER_DTYPE_Q8_0, .ctx = 2048, .n_head = 32, .n_kv = 4, .hd = 64 },
		{ .kind = K_RMSNORM, .dtype = EMBER_DTYPE_F32, .m = 1, .n = 576 },
		{ .kind = K_RMSNORM, .dtype = EMBER_DTYPE_F32, .m = 64, .n = 2048 },
		{ .kind = K_SWIGLU, .dtype = EMBER_DTYPE_F32, .m = 1, .n = 1536 },
		{ .kind = K_SWIGLU, .dtype = EMBER_DTYPE_F32, .m = 64, .n = 5632 },
		{ .kind = K_COPY, .dtype = EMBER_DTYPE_Q8_0, .dtype2 = EMBER_DTYPE_F32, .m = 1, .n = 576 },
		{ .kind = K_COPY, .dtype = EMBER_DTYPE_F32, .dtype2 = EMBER_DTYPE_F16, .m = 64, .n = 2048 },
	};
	int ret;

	for (size_t s = 0; s < sizeof(mm) / sizeof(mm[0]); s++)
		for (size_t t = 0; t < sizeof(wt) / sizeof(wt[0]); t++) {
			struct op_cfg c = { .kind = K_MATMUL, .dtype = wt[t],
					    .m = mm[s][0], .n = mm[s][1], .k = mm[s][2],
					    .x16 = t >= 4 };

			if ((ret = bench_op(d, &c)))
				return ret;
		}
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		if ((ret = bench_op(d, &other[i])))
			return ret;
	return 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* ---- a model's forward pass on the NPU (device_forward.c) ----------------- */

static int perf_cb(void *ctx, struct dev_perf *p)
{
	struct dctx *d = ctx;
	struct drm_ember_perf pf;
	int ret = perf(d, &pf);

	if (ret)
		return ret;
	p->busy_ns = pf.busy_ns;
	p->jobs = pf.jobs;
	p->bytes_read = pf.bytes_read;
	return 0;
}

static int bench_forward(struct dctx *d)
{
	char esc_model[256], esc_file[256], esc_place[512];
	struct fwd_result f;
	struct bench_result r;
	double wall, busy, cpu;
	int n, ret;

	if (!take(d, "forward decode"))
		return 0;
	ret = bench_forward_decode(d->model, d->o->threads, d->t, perf_cb, d, &f);
	if (ret)
		return ret;
	wall = f.wall_s / f.tokens;
	busy = (double)f.busy_ns * 1e-9 / f.tokens;
	cpu = f.cpu_s / f.tokens;
	memset(&r, 0, sizeof(r));
	snprintf(r.op, sizeof(r.op), "forward");
	snprintf(r.dtype, sizeof(r.dtype), "%s", f.weight_type);
	snprintf(r.shape, sizeof(r.shape), "decode %.38s", base_name(d->model));
	snprintf(r.metric, sizeof(r.metric), "ms/token");
	r.value = wall * 1e3;
	r.baseline = -1;
	snprintf(r.note, sizeof(r.note),
		 "%.3f ms device busy, %.3f ms overhead, %.3f ms CPU per token",
		 busy * 1e3, (wall - busy) * 1e3, cpu * 1e3);
	jesc(esc_model, sizeof(esc_model), f.model);
	jesc(esc_place, sizeof(esc_place), f.placement);
	jesc(esc_file, sizeof(esc_file), base_name(d->model));
	n = snprintf(r.extra, sizeof(r.extra),
		 "\"model\":\"%s\",\"file\":\"%s\",\"tokens\":%d,\"tokens_per_s\":%.3f,"
		 "\"wall_ms_per_token\":%.4f,\"busy_ms_per_token\":%.4f,"
		 "\"overhead_ms_per_token\":%.4f,\"cpu_ms_per_token\":%.4f,"
		 "\"jobs_per_token\":%.2f,\"device_read_mb_per_token\":%.3f,\"placement\":\"%s\"",
		 esc_model, esc_file, f.tokens, f.tokens / f.wall_s, wall * 1e3, busy * 1e3,
		 (wall - busy) * 1e3, cpu * 1e3, (double)f.jobs / f.tokens,
		 (double)f.bytes_read / f.tokens * 1e-6, esc_place);
	if (n < 0 || (size_t)n >= sizeof(r.extra)) {
		fprintf(stderr, "ember-bench: the forward row does not fit its buffer\n");
		return -ENOSPC;
	}
	bench_print(d->o, &r);
	return 0;
}

/* ---- the mode ------------------------------------------------------------- */

static void device_row(struct dctx *d)
{
	const struct drm_ember_device_info *di = ember_device_info(d->dev);
	char fw[64], node[128];
	struct bench_result r;

	memset(&r, 0, sizeof(r));
	snprintf(r.op, sizeof(r.op), "device");
	snprintf(r.dtype, sizeof(r.dtype), "-");
	snprintf(r.shape, sizeof(r.shape), "%.47s", ember_device_path(d->dev));
	snprintf(r.metric, sizeof(r.metric), "units");
	r.value = di->compute_units;
	r.baseline = -1;
	snprintf(r.note, sizeof(r.note), "firmware %.32s (ABI %u.%u), compute threads %u",
		 di->fw_version, di->fw_abi_version >> 16, di->fw_abi_version & 0xffff,
		 di->compute_units);
	jesc(fw, sizeof(fw), di->fw_version);
	jesc(node, sizeof(node), ember_device_path(d->dev));
	snprintf(r.extra, sizeof(r.extra),
		 "\"node\":\"%s\",\"firmware\":\"%s\",\"fw_abi\":\"%u.%u\",\"compute_units\":%u,"
		 "\"seconds_per_row\":%.3f",
		 node, fw, di->fw_abi_version >> 16, di->fw_abi_version & 0xffff,
		 di->compute_units, d->t);
	bench_print(d->o, &r);
}

static int all_rows(struct dctx *d)
{
	int ret;

	if ((ret = bench_jobs(d)) || (ret = bench_ops(d)))
		return ret;
	return bench_forward(d);
}

int bench_device_main(const struct bench_opts *o)
{
	struct dctx *d = calloc(1, sizeof(*d));
	char msg[EMBER_ERRMSG_SIZE];
	bool from_env = false;
	int ret;

	if (!d) {
		fprintf(stderr, "ember-bench: out of memory\n");
		return 1;
	}
	d->o = o;
	d->t = o->time_set ? o->min_time : 0.5;
	d->seed = 1;
	d->dry = true;
	all_rows(d);
	if (!d->matched) {
		fprintf(stderr, "ember-bench: no device row matches --filter '%s' (rows: "
			"jobs nop|matmul 1x256x256 q8_0 batch N, matmul|attention|rmsnorm|swiglu|copy "
			"DTYPE SHAPE, forward decode)\n", o->filter);
		free(d);
		return 1;
	}
	d->dry = false;
	ret = ember_device_open(NULL, &d->dev, msg, sizeof(msg));
	if (ret) {
		fprintf(stderr,
			"ember-bench: %s\n"
			"  ember-bench device measures an Ember NPU: it needs a /dev/accel/accel* node of\n"
			"  ember.ko. Run it in the guest, e.g. scripts/run-guest.sh --share ../shared/models\n"
			"  -- 'ember-bench device', or load ember.ko where the device is (in the guest:\n"
			"  ember-modules load).\n",
			msg);
		free(d);
		return 1;
	}
	if (o->model) {
		snprintf(d->model, sizeof(d->model), "%s", o->model);
	} else if (wanted(d, "forward decode") &&
		   default_model_path(d->model, sizeof(d->model), &from_env)) {
		fprintf(stderr,
			"ember-bench: the forward-pass row needs a model and stories260K.gguf was not found\n"
			"  (shared/models beside the repository, /share in the guest); give one with --model FILE,\n"
			"  set EMBER_MODEL, or leave the row out with --filter\n");
		ember_device_close(d->dev);
		free(d);
		return 1;
	}
	if (wanted(d, "forward decode") && access(d->model, R_OK)) {
		fprintf(stderr, "ember-bench: model %s: %s; give a readable GGUF file with --model\n",
			d->model, strerror(errno));
		ember_device_close(d->dev);
		free(d);
		return 1;
	}
	bench_print_header(o);
	device_row(d);
	ret = all_rows(d);
	ember_device_close(d->dev);
	free(d);
	return ret ? 1 : 0;
}
