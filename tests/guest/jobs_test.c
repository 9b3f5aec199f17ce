// SPDX-License-Identifier: MIT
/*
 * Ember job tests: MATMUL and ATTENTION results against the host reference
 * (lib/ref, double accumulation; tolerances in tg.h) over several shapes
 * and dtypes, through the SUBMIT ioctl and through io_uring (variants), and
 * a batch of 256 jobs in one SUBMIT / one io_uring_enter() (queued in
 * order: consecutive seqnos).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "tg.h"

#define SEC 1000000000ll

FIXTURE(jobs) {
	struct ember_device *dev;
	struct ember_cmdbuf *cb;
	struct ember_queue *q;
};

FIXTURE_VARIANT(jobs) {
	bool uring;
};

FIXTURE_VARIANT_ADD(jobs, ioctl) {
	.uring = false,
};

FIXTURE_VARIANT_ADD(jobs, uring) {
	.uring = true,
};

FIXTURE_SETUP(jobs)
{
	char msg[EMBER_ERRMSG_SIZE];

	ASSERT_EQ(0, tg_open(&self->dev, msg, sizeof(msg))) TH_LOG("%s", msg);
	ASSERT_EQ(0, ember_cmdbuf_create(self->dev, 256 * 1024, &self->cb))
		TH_LOG("%s", ember_errmsg(self->dev));
	if (variant->uring)
		ASSERT_EQ(0, ember_queue_create(self->dev, 256, &self->q))
			TH_LOG("%s", ember_errmsg(self->dev));
}

FIXTURE_TEARDOWN(jobs)
{
	ember_queue_destroy(self->q);
	ember_cmdbuf_free(self->cb);
	ember_device_close(self->dev);
}

/*
 * Run @n jobs the variant's way; status[i] / seqno[i] per job. Returns 0 or
 * -errno (the device's message explains).
 */
static int run_jobs(struct _test_data_jobs *self,
		    const struct _fixture_variant_jobs *variant,
		    const struct ember_job *jobs, unsigned n, int *status,
		    uint64_t *seqno)
{
	struct ember_completion *c;
	unsigned i, got = 0;
	uint64_t first;
	int ret;

	if (!variant->uring) {
		ret = ember_submit(self->dev, jobs, n, &first);
		if (ret)
			return ret;
		for (i = 0; i < n; i++) {
			seqno[i] = first + i;
			status[i] = ember_wait(self->dev, first + i, 30 * SEC);
			if (status[i] < 0)
				return status[i];
		}
		return 0;
	}
	for (i = 0; i < n; i++) {
		ret = ember_queue_push(self->q, &jobs[i], 1000 + i);
		if (ret)
			return ret;
	}
	ret = ember_queue_submit(self->q);
	if (ret != (int)n)
		return ret < 0 ? ret : -EIO;
	c = calloc(n, sizeof(*c));
	if (!c)
		return -ENOMEM;
	while (got < n) {
		ret = ember_queue_wait(self->q, c + got, n - got, 1, 30 * SEC);
		if (ret < 0) {
			free(c);
			return ret;
		}
		got += ret;
	}
	for (i = 0; i < n; i++) {
		unsigned idx = (unsigned)(c[i].user_data - 1000);

		if (idx >= n) {
			free(c);
			return -EPROTO;
		}
		status[idx] = c[i].status;
		seqno[idx] = c[i].seqno;
	}
	free(c);
	return 0;
}

struct mm_shape {
	uint32_t m, n, k, dtype, flags, a_pad, c_pad;
};

static const struct mm_shape mm_shapes[] = {
	{ 1, 64, 64, EMBER_DTYPE_F32, 0, 0, 0 },		/* decode, M = 1 */
	{ 1, 576, 576, EMBER_DTYPE_F32, 0, 0, 0 },		/* SmolLM q proj */
	{ 7, 33, 100, EMBER_DTYPE_F32, EMBER_MATMUL_BIAS, 0, 0 },/* odd sizes */
	{ 5, 40, 64, EMBER_DTYPE_F32,
	  EMBER_MATMUL_BIAS | EMBER_MATMUL_ACCUMULATE, 12, 20 },	/* strides */
	{ 16, 128, 256, EMBER_DTYPE_F16, 0, 0, 0 },		/* prefill */
	{ 3, 96, 160, EMBER_DTYPE_BF16, EMBER_MATMUL_ACCUMULATE, 0, 0 },
	{ 1, 1536, 576, EMBER_DTYPE_Q8_0, 0, 0, 0 },		/* SmolLM FFN up */
	{ 4, 96, 128, EMBER_DTYPE_Q8_0, EMBER_MATMUL_ACCUMULATE, 0, 0 },
	{ 3, 64, 256, EMBER_DTYPE_Q4_0, EMBER_MATMUL_BIAS, 0, 0 },
	{ 1, 576, 1536, EMBER_DTYPE_Q4_0, 0, 0, 0 },		/* FFN down */
};
#define N_MM (sizeof(mm_shapes) / sizeof(mm_shapes[0]))

TEST_F_TIMEOUT(jobs, matmul_shapes, 300)
{
	struct tg_mm p[N_MM];
	struct ember_job jobs[N_MM];
	int status[N_MM];
	uint64_t seqno[N_MM];
	unsigned i, n = 0, idx[N_MM];
	char why[256];

	for (i = 0; i < N_MM; i++) {
		const struct mm_shape *s = &mm_shapes[i];

		if (!ember_device_has_dtype(self->dev, s->dtype)) {
			TH_LOG("dtype %u not in caps: shape %u skipped", s->dtype, i);
			continue;
		}
		ASSERT_EQ(0, tg_mm_init(self->dev, &p[n], s->m, s->n, s->k,
					s->dtype, s->flags,
					s->a_pad ? s->k * 4 + s->a_pad : 0,
					s->c_pad ? s->n * 4 + s->c_pad : 0,
					100 + i)) TH_LOG("%s", ember_errmsg(self->dev));
		ember_cmdbuf_begin(self->cb);
		ASSERT_EQ(0, tg_mm_add(self->cb, &p[n]))
			TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_end(self->cb, &jobs[n]));
		/* the builder lists A, W (read), C (written; read too when
		 * accumulating) and bias (read) */
		EXPECT_EQ(s->flags & EMBER_MATMUL_BIAS ? 4 : 3, jobs[n].bo_count);
		EXPECT_EQ(DRM_EMBER_BO_WRITE |
			  (s->flags & EMBER_MATMUL_ACCUMULATE ? DRM_EMBER_BO_READ : 0),
			  jobs[n].bos[2].flags);
		idx[n++] = i;
	}
	ASSERT_EQ(0, run_jobs(self, variant, jobs, n, status, seqno))
		TH_LOG("%s", ember_errmsg(self->dev));
	for (i = 0; i < n; i++) {
		const struct mm_shape *s = &mm_shapes[idx[i]];
		double worst, max_abs;
		size_t bad;

		EXPECT_EQ(EMBER_JOB_OK, status[i])
			TH_LOG("shape %u: status %s", idx[i], ember_status_name(status[i]));
		if (i)
			EXPECT_EQ(seqno[i - 1] + 1, seqno[i]);
		why[0] = '\0';
		bad = tg_mm_check(&p[i], &worst, &max_abs, why, sizeof(why));
		EXPECT_EQ(0, bad) TH_LOG("shape %u (%ux%ux%u dtype %u flags %u): %zu bad: %s",
					 idx[i], s->m, s->n, s->k, s->dtype,
					 s->flags, bad, why);
		TH_LOG("matmul %ux%ux%u dtype %u flags %u: max |err| %.3g (%.2f of tol)",
		       s->m, s->n, s->k, s->dtype, s->flags, max_abs, worst);
		tg_mm_fini(&p[i]);
	}
}

struct attn_shape {
	uint32_t n_tok, n_past, n_head, n_kv, hd, kv_dtype, pad;
};

static const struct attn_shape attn_shapes[] = {
	{ 1, 0, 4, 4, 64, EMBER_DTYPE_F32, 0 },		/* first token */
	{ 1, 37, 8, 2, 64, EMBER_DTYPE_F16, 0 },	/* decode, GQA 4:1 */
	{ 16, 0, 9, 3, 64, EMBER_DTYPE_F32, 0 },	/* SmolLM prefill */
	{ 5, 11, 4, 1, 128, EMBER_DTYPE_F16, 0 },	/* MQA, chunked */
	{ 3, 2, 2, 2, 32, EMBER_DTYPE_F32, 64 },	/* padded strides */
	{ 1, 200, 14, 2, 64, EMBER_DTYPE_F16, 0 },	/* Qwen2-0.5B decode */
	{ 1, 37, 8, 2, 64, EMBER_DTYPE_Q8_0, 0 },	/* Q8_0 cache (ABI 1.2) */
	{ 5, 11, 4, 1, 128, EMBER_DTYPE_Q8_0, 36 },	/* Q8_0, 2-aligned rows */
};
#define N_ATTN (sizeof(attn_shapes) / sizeof(attn_shapes[0]))

TEST_F_TIMEOUT(jobs, attention_shapes, 300)
{
	struct tg_attn p[N_ATTN];
	struct ember_job jobs[N_ATTN];
	int status[N_ATTN];
	uint64_t seqno[N_ATTN];
	unsigned i, n = 0, idx[N_ATTN];
	char why[256];

	for (i = 0; i < N_ATTN; i++) {
		const struct attn_shape *s = &attn_shapes[i];

		if (!ember_device_has_dtype(self->dev, s->kv_dtype)) {
			TH_LOG("kv dtype %u not in caps: shape %u skipped",
			       s->kv_dtype, i);
			continue;
		}
		if (s->kv_dtype == EMBER_DTYPE_Q8_0 &&
		    ember_device_info(self->dev)->fw_abi_version < (1u << 16 | 2u)) {
			TH_LOG("Q8_0 caches need firmware ABI 1.2: shape %u skipped", i);
			continue;
		}
		ASSERT_EQ(0, tg_attn_init(self->dev, &p[n], s->n_tok, s->n_past,
					  s->n_head, s->n_kv, s->hd, s->kv_dtype,
					  s->pad, 200 + i))
			TH_LOG("%s", ember_errmsg(self->dev));
		ember_cmdbuf_begin(self->cb);
		ASSERT_EQ(0, tg_attn_add(self->cb, &p[n]))
			TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_end(self->cb, &jobs[n]));
		EXPECT_EQ(4, jobs[n].bo_count);
		EXPECT_EQ(DRM_EMBER_BO_WRITE, jobs[n].bos[3].flags);
		idx[n++] = i;
	}
	ASSERT_EQ(0, run_jobs(self, variant, jobs, n, status, seqno))
		TH_LOG("%s", ember_errmsg(self->dev));
	for (i = 0; i < n; i++) {
		const struct attn_shape *s = &attn_shapes[idx[i]];
		double worst, max_abs;
		size_t bad;

		EXPECT_EQ(EMBER_JOB_OK, status[i])
			TH_LOG("shape %u: status %s", idx[i], ember_status_name(status[i]));
		why[0] = '\0';
		bad = tg_attn_check(&p[i], &worst, &max_abs, why, sizeof(why));
		EXPECT_EQ(0, bad) TH_LOG("shape %u: %zu bad: %s", idx[i], bad, why);
		TH_LOG("attention tok %u past %u heads %u/%u dim %u kv %u: max |err| %.3g (%.2f of tol)",
		       s->n_tok, s->n_past, s->n_head, s->n_kv, s->hd,
		       s->kv_dtype, max_abs, worst);
		tg_attn_fini(&p[i]);
	}
}

/* One job with several ops: MATMUL, NOP, ATTENTION; its BO list is the
 * union of the ops' operands. */
TEST_F_TIMEOUT(jobs, multi_op_job, 120)
{
	struct tg_mm mm;
	struct tg_attn at;
	struct ember_job job;
	int status;
	uint64_t seqno;
	double worst, max_abs;
	char why[256] = "";

	ASSERT_EQ(0, tg_mm_init(self->dev, &mm, 2, 48, 64, EMBER_DTYPE_F32,
				EMBER_MATMUL_BIAS, 0, 0, 7));
	ASSERT_EQ(0, tg_attn_init(self->dev, &at, 2, 5, 4, 2, 32,
				  EMBER_DTYPE_F32, 0, 8));
	ember_cmdbuf_begin(self->cb);
	ASSERT_EQ(0, tg_mm_add(self->cb, &mm));
	ASSERT_EQ(0, ember_cmdbuf_nop(self->cb));
	ASSERT_EQ(0, tg_attn_add(self->cb, &at));
	ASSERT_EQ(0, ember_cmdbuf_end(self->cb, &job));
	EXPECT_EQ(8, job.bo_count);
	EXPECT_EQ(sizeof(struct ember_op_matmul) + 8 +
		  sizeof(struct ember_op_attention), job.cmd_size);
	ASSERT_EQ(0, run_jobs(self, variant, &job, 1, &status, &seqno))
		TH_LOG("%s", ember_errmsg(self->dev));
	EXPECT_EQ(EMBER_JOB_OK, status);
	EXPECT_EQ(0, tg_mm_check(&mm, &worst, &max_abs, why, sizeof(why)))
		TH_LOG("%s", why);
	EXPECT_EQ(0, tg_attn_check(&at, &worst, &max_abs, why, sizeof(why)))
		TH_LOG("%s", why);
	tg_mm_fini(&mm);
	tg_attn_fini(&at);
}

/*
 * 256 jobs at once: one SUBMIT ioctl, or one io_uring_enter() carrying 256
 * SQEs. Each job multiplies its own A rows by a shared W into its own slice
 * of one output buffer; every CQE, status, seqno and result is checked.
 */
#define BATCH 256
#define BM 2
#define BN 64
#define BK 128

TEST_F_TIMEOUT(jobs, batch_256, 600)
{
	struct ember_bo *a, *w, *c;
	float *am, *wm, *cm;
	struct ember_job *jobs;
	int *status;
	uint64_t *seqno;
	double *ref, *mag, maxerr = 0;
	struct eref_rng r;
	unsigned i, j, bad = 0, first_bad = 0;
	uint64_t s0 = UINT64_MAX;

	jobs = calloc(BATCH, sizeof(*jobs));
	status = calloc(BATCH, sizeof(*status));
	seqno = calloc(BATCH, sizeof(*seqno));
	ref = calloc((size_t)BATCH * BM * BN, sizeof(*ref));
	mag = calloc((size_t)BATCH * BM * BN, sizeof(*mag));
	ASSERT_TRUE(jobs && status && seqno && ref && mag);
	if (!variant->uring &&
	    ember_device_info(self->dev)->max_submit_jobs < BATCH)
		SKIP(return, "max_submit_jobs %u < %u",
		     ember_device_info(self->dev)->max_submit_jobs, BATCH);

	ASSERT_EQ(0, ember_bo_create(self->dev, (size_t)BATCH * BM * BK * 4, &a));
	ASSERT_EQ(0, ember_bo_create(self->dev, (size_t)BN * BK * 4, &w));
	ASSERT_EQ(0, ember_bo_create(self->dev, (size_t)BATCH * BM * BN * 4, &c));
	ASSERT_EQ(0, ember_bo_map(a, (void **)&am));
	ASSERT_EQ(0, ember_bo_map(w, (void **)&wm));
	ASSERT_EQ(0, ember_bo_map(c, (void **)&cm));
	eref_seed(&r, 256);
	eref_fill(&r, am, (size_t)BATCH * BM * BK, 1.0f);
	eref_fill(&r, wm, (size_t)BN * BK, 0.5f);
	for (i = 0; i < (size_t)BATCH * BM * BN; i++)
		cm[i] = -12345.0f;

	for (i = 0; i < BATCH; i++) {
		struct ember_matmul_desc d = {
			.m = BM, .n = BN, .k = BK, .w_dtype = EMBER_DTYPE_F32,
			.a = { a, (uint64_t)i * BM * BK * 4 },
			.w = { w, 0 },
			.c = { c, (uint64_t)i * BM * BN * 4 },
		};

		ember_cmdbuf_begin(self->cb);
		ASSERT_EQ(0, ember_cmdbuf_matmul(self->cb, &d))
			TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_end(self->cb, &jobs[i]));
		eref_matmul(BM, BN, BK, am + (size_t)i * BM * BK, BK, wm, BK,
			    NULL, NULL, 0, ref + (size_t)i * BM * BN,
			    mag + (size_t)i * BM * BN);
	}

	if (variant->uring) {
		struct ember_completion *comp = calloc(BATCH, sizeof(*comp));
		unsigned got = 0;
		int ret;

		ASSERT_NE(NULL, comp);
		for (i = 0; i < BATCH; i++)
			ASSERT_EQ(0, ember_queue_push(self->q, &jobs[i],
						      0xbeef0000ull + i));
		EXPECT_EQ(BATCH, ember_queue_inflight(self->q));
		/* one io_uring_submit() = one io_uring_enter() for all 256 */
		ASSERT_EQ(BATCH, ember_queue_submit(self->q))
			TH_LOG("%s", ember_errmsg(self->dev));
		while (got < BATCH) {
			ret = ember_queue_wait(self->q, comp + got, BATCH - got,
					       1, 60 * SEC);
			ASSERT_LT(0, ret) TH_LOG("after %u CQEs: %s", got,
						 ember_errmsg(self->dev));
			got += ret;
		}
		EXPECT_EQ(0, ember_queue_inflight(self->q));
		EXPECT_EQ(0, ember_queue_reap(self->q, comp, 1));
		memset(status, 0xff, BATCH * sizeof(*status));
		for (i = 0; i < BATCH; i++) {
			uint64_t ud = comp[i].user_data - 0xbeef0000ull;

			ASSERT_LT(ud, BATCH) TH_LOG("unknown user_data %llx",
				  (unsigned long long)comp[i].user_data);
			ASSERT_EQ(-1, status[ud]) TH_LOG("two CQEs for job %llu",
							 (unsigned long long)ud);
			status[ud] = comp[i].status;
			seqno[ud] = comp[i].seqno;
		}
		free(comp);
	} else {
		uint64_t first;

		ASSERT_EQ(0, ember_submit(self->dev, jobs, BATCH, &first))
			TH_LOG("%s", ember_errmsg(self->dev));
		/* jobs complete in order: the last one done means all are */
		ASSERT_EQ(EMBER_JOB_OK, ember_wait(self->dev, first + BATCH - 1,
						   60 * SEC))
			TH_LOG("%s", ember_errmsg(self->dev));
		for (i = 0; i < BATCH; i++) {
			seqno[i] = first + i;
			status[i] = ember_wait(self->dev, first + i, 0);
		}
	}

	/* statuses; seqnos are consecutive (one per job, no gaps) */
	for (i = 0; i < BATCH; i++) {
		EXPECT_EQ(EMBER_JOB_OK, status[i]) {
			TH_LOG("job %u: status %d (%s)", i, status[i],
			       ember_status_name(status[i]));
		}
		if (seqno[i] < s0)
			s0 = seqno[i];
	}
	EXPECT_NE(0, s0);
	{
		unsigned char *seen = calloc(BATCH, 1);

		ASSERT_NE(NULL, seen);
		for (i = 0; i < BATCH; i++) {
			uint64_t d = seqno[i] - s0;

			EXPECT_LT(d, BATCH) TH_LOG("job %u seqno %llu, first %llu",
				  i, (unsigned long long)seqno[i],
				  (unsigned long long)s0);
			if (d < BATCH) {
				EXPECT_EQ(0, seen[d]);
				seen[d] = 1;
			}
		}
		free(seen);
		/* jobs are queued in SQE (or array) order: consecutive seqnos */
		for (i = 1; i < BATCH; i++) {
			unsigned long long prev = seqno[i - 1], cur = seqno[i];

			EXPECT_EQ(prev + 1, cur)
				TH_LOG("job %u seqno %llu after %llu", i, cur, prev);
		}
	}

	for (i = 0; i < BATCH; i++) {
		for (j = 0; j < BM * BN; j++) {
			double e = cm[(size_t)i * BM * BN + j] -
				   ref[(size_t)i * BM * BN + j];

			e = e < 0 ? -e : e;
			/* tolerance of tg.h: 1e-4 * sum |a*w| + 1e-6 */
			if (!(e <= 1e-4 * mag[(size_t)i * BM * BN + j] + 1e-6)) {
				if (!bad++)
					first_bad = i;
			}
			if (e > maxerr)
				maxerr = e;
		}
	}
	EXPECT_EQ(0, bad) TH_LOG("%u wrong elements, first in job %u", bad,
				 first_bad);
	TH_LOG("%u jobs, seqnos %llu..%llu, max |err| %.3g", BATCH,
	       (unsigned long long)s0, (unsigned long long)s0 + BATCH - 1,
	       maxerr);
	ember_bo_free(a);
	ember_bo_free(w);
	ember_bo_free(c);
	free(jobs);
	free(status);
	free(seqno);
	free(ref);
	free(mag);
}

/*
 * Two threads on the one device submit 64 jobs each concurrently: through
 * a queue each (libember's rule: one queue per thread), or through SUBMIT +
 * WAIT. All complete OK with distinct seqnos of the file's one timeline,
 * and the results are right.
 */
struct thr {
	bool uring;
	struct ember_device *dev;
	struct tg_mm mm;
	struct ember_job job;
	uint64_t seqno[64];
	int status[64];
	int err;
	char why[EMBER_ERRMSG_SIZE];
};

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	struct ember_completion c[64];
	struct ember_queue *q;
	int i, got = 0, ret;

	if (!t->uring) {
		for (i = 0; i < 64 && !t->err; i++) {
			t->err = ember_submit(t->dev, &t->job, 1, &t->seqno[i]);
			if (!t->err) {
				t->status[i] = ember_wait(t->dev, t->seqno[i], 60 * SEC);
				if (t->status[i] < 0)
					t->err = t->status[i];
			}
		}
		if (t->err)
			ember_errmsg_copy(t->dev, t->why, sizeof(t->why));
		return NULL;
	}
	t->err = ember_queue_create(t->dev, 64, &q);
	if (t->err) {
		ember_errmsg_copy(t->dev, t->why, sizeof(t->why));
		return NULL;
	}
	for (i = 0; i < 64 && !t->err; i++)
		t->err = ember_queue_push(q, &t->job, i);
	if (!t->err && ember_queue_submit(q) != 64)
		t->err = -EIO;
	while (!t->err && got < 64) {
		ret = ember_queue_wait(q, c + got, 64 - got, 1, 60 * SEC);
		if (ret < 0)
			t->err = ret;
		else
			got += ret;
	}
	if (t->err)
		ember_errmsg_copy(t->dev, t->why, sizeof(t->why));
	for (i = 0; i < got; i++) {
		t->status[c[i].user_data] = c[i].status;
		t->seqno[c[i].user_data] = c[i].seqno;
	}
	ember_queue_destroy(q);
	return NULL;
}

TEST_F_TIMEOUT(jobs, two_threads, 300)
{
	struct thr t[2];
	pthread_t th[2];
	uint64_t *all;
	double worst, max_abs;
	char why[256] = "";
	int i, j, k;

	memset(t, 0, sizeof(t));
	for (i = 0; i < 2; i++) {
		struct ember_cmdbuf *cb = self->cb;

		t[i].uring = variant->uring;
		t[i].dev = self->dev;
		ASSERT_EQ(0, tg_mm_init(self->dev, &t[i].mm, 3, 64, 96,
					EMBER_DTYPE_F32, EMBER_MATMUL_BIAS, 0,
					0, 300 + i));
		ember_cmdbuf_begin(cb);
		ASSERT_EQ(0, tg_mm_add(cb, &t[i].mm));
		ASSERT_EQ(0, ember_cmdbuf_end(cb, &t[i].job));
	}
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, thr_main, &t[i]));
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	all = calloc(128, sizeof(*all));
	ASSERT_NE(NULL, all);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, t[i].err) TH_LOG("thread %d: %s", i, t[i].why);
		for (j = 0; j < 64; j++) {
			EXPECT_EQ(EMBER_JOB_OK, t[i].status[j]);
			/* each thread's jobs are queued in its submission order */
			if (j)
				EXPECT_LT(t[i].seqno[j - 1], t[i].seqno[j])
					TH_LOG("thread %d job %d", i, j);
			all[i * 64 + j] = t[i].seqno[j];
		}
		EXPECT_EQ(0, tg_mm_check(&t[i].mm, &worst, &max_abs, why,
					 sizeof(why))) TH_LOG("thread %d: %s", i, why);
	}
	for (j = 0; j < 128; j++) {
		EXPECT_NE(0, all[j]);
		for (k = j + 1; k < 128; k++)
			if (all[j] == all[k])
				break;
		EXPECT_EQ(128, k) TH_LOG("seqno %llu twice",
					 (unsigned long long)all[j]);
	}
	free(all);
	tg_mm_fini(&t[0].mm);
	tg_mm_fini(&t[1].mm);
}

TEST_HARNESS_MAIN
