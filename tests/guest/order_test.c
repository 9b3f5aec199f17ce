// SPDX-License-Identifier: MIT
/*
 * Ember submission order: the jobs of one file are queued in the order their
 * io_uring SQEs were issued and their SUBMIT ioctls were called, even when
 * the driver cannot queue some of them at once.
 *
 * The chain: CHAIN jobs on one buffer A, each depending on the one before.
 * Job i shifts A right by one element and writes i into A[0] (three COPY
 * ops), so the final A lists the jobs in the order they ran: CHAIN-1, ...,
 * 1, 0 when they ran in submission order. The jobs go in as bursts of SQEs
 * with every 32nd job a SUBMIT ioctl from the same thread, while a second
 * thread keeps the file busy with SUBMIT ioctls of slow MATMUL jobs: its
 * batches fill the file's jobs in flight, and it holds the submit lock while
 * it waits for room. An SQE issued inline then cannot be queued without
 * sleeping (a driver that gives it back to io_uring with -EAGAIN lets later
 * SQEs and the ioctl overtake it); it must still be queued in its place.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>

#include "kselftest_harness.h"
#include "tg.h"

#define SEC 1000000000ll
#define CHAIN 256		/* jobs in the chain */
#define BURST 8			/* SQEs per io_uring_enter() */
#define IOCTL_EVERY 32		/* every 32nd job goes through SUBMIT */
#define BG_BATCH 64		/* jobs per SUBMIT of the busy thread */
#define BG_M 4
#define BG_N 256
#define BG_K 256

/* The busy thread: SUBMIT ioctls of BG_BATCH MATMULs until told to stop. */
struct busy {
	struct ember_device *dev;
	struct ember_job jobs[BG_BATCH];
	int stop;
	unsigned long batches;
	uint64_t last_seqno;
	int err;
	char why[EMBER_ERRMSG_SIZE];
	pthread_t th;
};

static void *busy_main(void *arg)
{
	struct busy *b = arg;
	uint64_t seqno;
	int ret;

	while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
		ret = ember_submit(b->dev, b->jobs, BG_BATCH, &seqno);
		if (ret) {
			b->err = ret;
			ember_errmsg_copy(b->dev, b->why, sizeof(b->why));
			break;
		}
		b->last_seqno = seqno + BG_BATCH - 1;
		b->batches++;
	}
	return NULL;
}

FIXTURE(order) {
	struct ember_device *dev;
	struct ember_cmdbuf *cb;
	struct ember_bo *a, *t, *k, *bg_a, *bg_w, *bg_c;
	float *am, *km;
	struct ember_job chain[CHAIN];
	struct ember_job nop;
	struct busy busy;
	bool busy_running;
};

FIXTURE_SETUP(order)
{
	char msg[EMBER_ERRMSG_SIZE];
	float *bm;
	unsigned int i;

	ASSERT_EQ(0, tg_open(&self->dev, msg, sizeof(msg))) TH_LOG("%s", msg);
	if (!ember_device_has_op(self->dev, EMBER_OP_COPY))
		SKIP(return, "the device lacks COPY (ABI 1.1)");
	ASSERT_EQ(0, ember_cmdbuf_create(self->dev, 256 * 1024, &self->cb))
		TH_LOG("%s", ember_errmsg(self->dev));
	ASSERT_EQ(0, ember_bo_create(self->dev, (CHAIN + 1) * 4, &self->a));
	ASSERT_EQ(0, ember_bo_create(self->dev, CHAIN * 4, &self->t));
	ASSERT_EQ(0, ember_bo_create(self->dev, CHAIN * 4, &self->k));
	ASSERT_EQ(0, ember_bo_map(self->a, (void **)&self->am));
	ASSERT_EQ(0, ember_bo_map(self->k, (void **)&self->km));
	for (i = 0; i < CHAIN; i++)
		self->km[i] = (float)i;

	/* job i: T = A[0..CHAIN); A[1..CHAIN] = T; A[0] = K[i] */
	for (i = 0; i < CHAIN; i++) {
		struct ember_copy_desc save = {
			.rows = 1, .n = CHAIN,
			.src_dtype = EMBER_DTYPE_F32, .dst_dtype = EMBER_DTYPE_F32,
			.src = { self->a, 0 }, .dst = { self->t, 0 },
		};
		struct ember_copy_desc shift = save;
		struct ember_copy_desc put = save;

		shift.src = (struct ember_ref){ self->t, 0 };
		shift.dst = (struct ember_ref){ self->a, 4 };
		put.n = 1;
		put.src = (struct ember_ref){ self->k, (uint64_t)i * 4 };
		put.dst = (struct ember_ref){ self->a, 0 };
		ember_cmdbuf_begin(self->cb);
		ASSERT_EQ(0, ember_cmdbuf_copy(self->cb, &save))
			TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_copy(self->cb, &shift))
			TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_copy(self->cb, &put))
			TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_end(self->cb, &self->chain[i]));
		/* A read and written: each job waits for the one before */
		ASSERT_EQ(3, self->chain[i].bo_count);
		ASSERT_EQ(DRM_EMBER_BO_READ | DRM_EMBER_BO_WRITE,
			  self->chain[i].bos[0].flags);
	}
	ember_cmdbuf_begin(self->cb);
	ASSERT_EQ(0, ember_cmdbuf_nop(self->cb));
	ASSERT_EQ(0, ember_cmdbuf_end(self->cb, &self->nop));

	/* the busy thread's slow jobs: their own buffers, C written by all */
	ASSERT_EQ(0, ember_bo_create(self->dev, BG_M * BG_K * 4, &self->bg_a));
	ASSERT_EQ(0, ember_bo_create(self->dev, BG_N * BG_K * 4, &self->bg_w));
	ASSERT_EQ(0, ember_bo_create(self->dev, BG_M * BG_N * 4, &self->bg_c));
	ASSERT_EQ(0, ember_bo_map(self->bg_a, (void **)&bm));
	memset(bm, 0, BG_M * BG_K * 4);
	ASSERT_EQ(0, ember_bo_map(self->bg_w, (void **)&bm));
	memset(bm, 0, BG_N * BG_K * 4);
	self->busy.dev = self->dev;
	for (i = 0; i < BG_BATCH; i++) {
		struct ember_matmul_desc d = {
			.m = BG_M, .n = BG_N, .k = BG_K, .w_dtype = EMBER_DTYPE_F32,
			.a = { self->bg_a, 0 }, .w = { self->bg_w, 0 },
			.c = { self->bg_c, 0 },
		};

		ember_cmdbuf_begin(self->cb);
		ASSERT_EQ(0, ember_cmdbuf_matmul(self->cb, &d))
			TH_LOG("%s", ember_errmsg(self->dev));
		ASSERT_EQ(0, ember_cmdbuf_end(self->cb, &self->busy.jobs[i]));
	}
}

static void busy_stop(struct _test_data_order *self)
{
	if (!self->busy_running)
		return;
	__atomic_store_n(&self->busy.stop, 1, __ATOMIC_RELEASE);
	pthread_join(self->busy.th, NULL);
	self->busy_running = false;
}

FIXTURE_TEARDOWN(order)
{
	busy_stop(self);
	ember_bo_free(self->bg_a);
	ember_bo_free(self->bg_w);
	ember_bo_free(self->bg_c);
	ember_bo_free(self->a);
	ember_bo_free(self->t);
	ember_bo_free(self->k);
	ember_cmdbuf_free(self->cb);
	ember_device_close(self->dev);
}

/* Starts the busy thread and lets it fill the file's jobs in flight. */
static int busy_start(struct _test_data_order *self)
{
	double t0 = tg_now();

	self->busy.stop = 0;
	self->busy.batches = 0;
	self->busy.err = 0;
	if (pthread_create(&self->busy.th, NULL, busy_main, &self->busy))
		return -EAGAIN;
	self->busy_running = true;
	/* 1024 in flight is 16 batches; a few more means it waits for room */
	while (__atomic_load_n(&self->busy.batches, __ATOMIC_RELAXED) < 20 &&
	       !__atomic_load_n(&self->busy.err, __ATOMIC_RELAXED) &&
	       tg_now() - t0 < 60)
		usleep(1000);
	return self->busy.err;
}

/*
 * The chain through SQE bursts and SUBMIT ioctls while the busy thread
 * contends: every job must be queued in order, so the CQE (and ioctl)
 * seqnos rise with the job index and A ends as CHAIN-1, ..., 0.
 */
TEST_F_TIMEOUT(order, chain_under_contention, 600)
{
	struct ember_completion *comp;
	struct ember_queue *q;
	uint64_t seqno[CHAIN];
	int status[CHAIN];
	unsigned int i, got = 0, sqes = 0, bad = 0, first_bad = CHAIN;
	unsigned long batches0;
	int ret;

	comp = calloc(CHAIN, sizeof(*comp));
	ASSERT_NE(NULL, comp);
	for (i = 0; i <= CHAIN; i++)
		self->am[i] = -1.0f;
	memset(seqno, 0, sizeof(seqno));
	for (i = 0; i < CHAIN; i++)
		status[i] = -1000;
	ASSERT_EQ(0, ember_queue_create(self->dev, CHAIN, &q))
		TH_LOG("%s", ember_errmsg(self->dev));

	ASSERT_EQ(0, busy_start(self)) TH_LOG("busy thread: %s", self->busy.why);
	batches0 = self->busy.batches;
	for (i = 0; i < CHAIN; i++) {
		if (i % IOCTL_EVERY == IOCTL_EVERY - 1) {
			/* after the SQEs before it: their io_uring_enter() returned */
			ASSERT_EQ(sqes, (unsigned int)ember_queue_submit(q))
				TH_LOG("%s", ember_errmsg(self->dev));
			sqes = 0;
			ASSERT_EQ(0, ember_submit(self->dev, &self->chain[i], 1, &seqno[i]))
				TH_LOG("job %u: %s", i, ember_errmsg(self->dev));
			status[i] = 0;	/* its status is read below */
			continue;
		}
		ASSERT_EQ(0, ember_queue_push(q, &self->chain[i], i));
		if (++sqes == BURST) {
			ASSERT_EQ(BURST, ember_queue_submit(q))
				TH_LOG("%s", ember_errmsg(self->dev));
			sqes = 0;
		}
	}
	ASSERT_EQ(sqes, (unsigned int)ember_queue_submit(q))
		TH_LOG("%s", ember_errmsg(self->dev));
	while (got < CHAIN - CHAIN / IOCTL_EVERY) {
		ret = ember_queue_wait(q, comp + got, CHAIN - got, 1, 120 * SEC);
		ASSERT_LT(0, ret) TH_LOG("after %u CQEs: %s", got, ember_errmsg(self->dev));
		got += ret;
	}
	TH_LOG("busy thread: %lu batches of %d MATMULs during the chain",
	       self->busy.batches - batches0, BG_BATCH);
	busy_stop(self);
	ASSERT_EQ(0, self->busy.err) TH_LOG("busy thread: %s", self->busy.why);

	for (i = 0; i < got; i++) {
		uint64_t idx = comp[i].user_data;

		ASSERT_LT(idx, CHAIN);
		ASSERT_EQ(-1000, status[idx]) TH_LOG("two CQEs for job %llu",
						      (unsigned long long)idx);
		status[idx] = comp[i].status;
		seqno[idx] = comp[i].seqno;
	}
	for (i = IOCTL_EVERY - 1; i < CHAIN; i += IOCTL_EVERY)
		status[i] = ember_wait(self->dev, seqno[i], 60 * SEC);
	ASSERT_EQ(EMBER_JOB_OK, ember_wait(self->dev, self->busy.last_seqno, 120 * SEC));
	ember_queue_destroy(q);
	free(comp);

	for (i = 0; i < CHAIN; i++) {
		EXPECT_EQ(EMBER_JOB_OK, status[i])
			TH_LOG("job %u: status %d (%s)", i, status[i],
			       ember_status_name(status[i]));
		if (i)
			EXPECT_LT(seqno[i - 1], seqno[i])
				TH_LOG("job %u (%s) has seqno %llu, job %u (%s) %llu",
				       i, i % IOCTL_EVERY == IOCTL_EVERY - 1 ? "ioctl" : "SQE",
				       (unsigned long long)seqno[i], i - 1,
				       (i - 1) % IOCTL_EVERY == IOCTL_EVERY - 1 ? "ioctl" : "SQE",
				       (unsigned long long)seqno[i - 1]);
	}
	/* A[CHAIN - 1 - r] = the job that ran r-th */
	for (i = 0; i < CHAIN; i++) {
		if (self->am[CHAIN - 1 - i] != (float)i) {
			if (!bad++)
				first_bad = i;
		}
	}
	EXPECT_EQ(0, bad) {
		TH_LOG("%u jobs ran out of order; at position %u ran job %g (%g, %g, %g follow)",
		       bad, first_bad, self->am[CHAIN - 1 - first_bad],
		       first_bad + 1 < CHAIN ? self->am[CHAIN - 2 - first_bad] : -1,
		       first_bad + 2 < CHAIN ? self->am[CHAIN - 3 - first_bad] : -1,
		       first_bad + 3 < CHAIN ? self->am[CHAIN - 4 - first_bad] : -1);
	}
	EXPECT_EQ(-1.0f, self->am[CHAIN]);
	TH_LOG("chain of %u jobs, seqnos %llu..%llu", CHAIN,
	       (unsigned long long)seqno[0], (unsigned long long)seqno[CHAIN - 1]);
}

/*
 * Rings torn down while their SQEs wait for their turn behind the busy
 * thread: those SQEs leave the file's line (or are queued), and the file
 * goes on: an ioctl and a new queue both get their jobs done soon after.
 */
TEST_F_TIMEOUT(order, ring_teardown_while_waiting, 600)
{
	struct ember_completion c;
	struct ember_queue *q;
	uint64_t seqno;
	unsigned int r, i;
	double t0;

	ASSERT_EQ(0, busy_start(self)) TH_LOG("busy thread: %s", self->busy.why);
	for (r = 0; r < 8; r++) {
		ASSERT_EQ(0, ember_queue_create(self->dev, 64, &q))
			TH_LOG("%s", ember_errmsg(self->dev));
		for (i = 0; i < 64; i++)
			ASSERT_EQ(0, ember_queue_push(q, &self->nop, i));
		ASSERT_EQ(64, ember_queue_submit(q)) TH_LOG("%s", ember_errmsg(self->dev));
		ember_queue_destroy(q);
	}
	busy_stop(self);
	ASSERT_EQ(0, self->busy.err) TH_LOG("busy thread: %s", self->busy.why);

	t0 = tg_now();
	ASSERT_EQ(0, ember_submit(self->dev, &self->nop, 1, &seqno))
		TH_LOG("%s", ember_errmsg(self->dev));
	EXPECT_GT(seqno, self->busy.last_seqno);
	ASSERT_EQ(EMBER_JOB_OK, ember_wait(self->dev, seqno, 120 * SEC))
		TH_LOG("%s", ember_errmsg(self->dev));
	TH_LOG("ioctl NOP done %.2f s after the teardowns", tg_now() - t0);

	ASSERT_EQ(0, ember_queue_create(self->dev, 4, &q));
	ASSERT_EQ(0, ember_queue_push(q, &self->nop, 7));
	ASSERT_EQ(1, ember_queue_wait(q, &c, 1, 1, 60 * SEC))
		TH_LOG("%s", ember_errmsg(self->dev));
	EXPECT_EQ(7, c.user_data);
	EXPECT_EQ(EMBER_JOB_OK, c.status);
	EXPECT_GT(c.seqno, seqno);
	ember_queue_destroy(q);
}

/*
 * SQEs that fail (a bad handle) or are fine, mixed in one burst behind the
 * busy thread: the failures post their errno, the rest run in order.
 */
TEST_F_TIMEOUT(order, failures_do_not_block_the_line, 600)
{
	struct ember_completion comp[64];
	struct ember_queue *q;
	struct ember_job bad_job;
	uint64_t seqno[64];
	int status[64];
	unsigned int i, got = 0;
	int ret;

	bad_job = self->chain[0];
	bad_job.cmd_handle = 0xdead;
	memset(seqno, 0, sizeof(seqno));
	for (i = 0; i <= CHAIN; i++)
		self->am[i] = -1.0f;
	ASSERT_EQ(0, ember_queue_create(self->dev, 64, &q));
	ASSERT_EQ(0, busy_start(self)) TH_LOG("busy thread: %s", self->busy.why);
	/* jobs 0..31 of the chain, with a bad job after every fourth */
	for (i = 0; i < 40; i++) {
		const struct ember_job *j = i % 5 == 4 ? &bad_job : &self->chain[i - i / 5];

		ASSERT_EQ(0, ember_queue_push(q, j, i % 5 == 4 ? 1000 + i : i - i / 5));
	}
	ASSERT_EQ(40, ember_queue_submit(q)) TH_LOG("%s", ember_errmsg(self->dev));
	while (got < 40) {
		ret = ember_queue_wait(q, comp + got, 40 - got, 1, 120 * SEC);
		ASSERT_LT(0, ret) TH_LOG("after %u CQEs: %s", got, ember_errmsg(self->dev));
		got += ret;
	}
	busy_stop(self);
	ASSERT_EQ(0, self->busy.err) TH_LOG("busy thread: %s", self->busy.why);
	ASSERT_EQ(EMBER_JOB_OK, ember_wait(self->dev, self->busy.last_seqno, 120 * SEC));
	ember_queue_destroy(q);

	for (i = 0; i < 32; i++)
		status[i] = -1000;
	for (i = 0; i < got; i++) {
		if (comp[i].user_data >= 1000) {
			EXPECT_EQ(-ENOENT, comp[i].status);
			EXPECT_EQ(0, comp[i].seqno);
			continue;
		}
		ASSERT_LT(comp[i].user_data, 32);
		status[comp[i].user_data] = comp[i].status;
		seqno[comp[i].user_data] = comp[i].seqno;
	}
	for (i = 0; i < 32; i++) {
		EXPECT_EQ(EMBER_JOB_OK, status[i]) TH_LOG("job %u", i);
		if (i)
			EXPECT_LT(seqno[i - 1], seqno[i]) TH_LOG("job %u", i);
		EXPECT_EQ((float)(31 - i), self->am[i]) TH_LOG("A[%u]", i);
	}
	EXPECT_EQ(-1.0f, self->am[32]);
}

/*
 * SQEs with IOSQE_ASYNC: io_uring issues them from io-wq, where the driver
 * may sleep; some queue their job at once, others wait for their turn
 * behind the busy thread. They all complete, with distinct seqnos, and a
 * ring torn down with such SQEs waiting leaves the file working.
 */
TEST_F_TIMEOUT(order, async_sqes, 600)
{
	struct drm_ember_job dj = {
		.cmd_handle = self->nop.cmd_handle,
		.cmd_offset = self->nop.cmd_offset,
		.cmd_size = self->nop.cmd_size,
	};
	uint64_t seqno[32], s;
	unsigned int i, j, round;
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	int ret;

	ASSERT_EQ(0, busy_start(self)) TH_LOG("busy thread: %s", self->busy.why);
	for (round = 0; round < 2; round++) {
		ASSERT_EQ(0, io_uring_queue_init(32, &ring, IORING_SETUP_SQE128 |
						 IORING_SETUP_CQE32));
		for (i = 0; i < 32; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

			ASSERT_NE(NULL, sqe);
			memset(sqe, 0, 128);
			io_uring_prep_rw(IORING_OP_URING_CMD, sqe,
					 ember_device_fd(self->dev), NULL, 0, 0);
			sqe->cmd_op = DRM_EMBER_URING_CMD_SUBMIT;
			memcpy((char *)sqe + 48, &dj, sizeof(dj));
			sqe->flags |= IOSQE_ASYNC;
			sqe->user_data = i;
			seqno[i] = 0;
		}
		ASSERT_EQ(32, io_uring_submit(&ring));
		if (round == 1) {
			/* the second ring goes away with its SQEs still waiting */
			io_uring_queue_exit(&ring);
			break;
		}
		for (i = 0; i < 32; i++) {
			ret = io_uring_wait_cqe(&ring, &cqe);
			ASSERT_EQ(0, ret) TH_LOG("CQE %u: %s", i, strerror(-ret));
			ASSERT_LT(cqe->user_data, 32);
			EXPECT_EQ(EMBER_JOB_OK, cqe->res) TH_LOG("SQE %llu: res %d",
				(unsigned long long)cqe->user_data, cqe->res);
			seqno[cqe->user_data] = cqe->big_cqe[0];
			io_uring_cqe_seen(&ring, cqe);
		}
		io_uring_queue_exit(&ring);
		for (i = 0; i < 32; i++) {
			EXPECT_NE(0, seqno[i]);
			for (j = i + 1; j < 32; j++)
				EXPECT_NE(seqno[i], seqno[j]);
		}
	}
	busy_stop(self);
	ASSERT_EQ(0, self->busy.err) TH_LOG("busy thread: %s", self->busy.why);
	ASSERT_EQ(0, ember_submit(self->dev, &self->nop, 1, &s))
		TH_LOG("%s", ember_errmsg(self->dev));
	EXPECT_EQ(EMBER_JOB_OK, ember_wait(self->dev, s, 120 * SEC))
		TH_LOG("%s", ember_errmsg(self->dev));
}

TEST_HARNESS_MAIN
