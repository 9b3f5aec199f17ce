// SPDX-License-Identifier: MIT
/*
 * Every failure the device can inject, and what the driver makes of it.
 * Needs QEMU started with
 *   -global ember-npu.inject-fault-job=1 -global ember-npu.inject-bad-completion-job=3
 *   -global ember-npu.inject-fw-crash-job=5 -global ember-npu.inject-slow-job=7
 *   -global ember-npu.inject-hang-job=9
 * and this program as the first to submit, with EMBER_EXPECT_INJECT=1 in the
 * environment (what scripts/test.sh does in a boot of its own). Elsewhere
 * the test skips. Device jobs are numbered from 1 in the order they start:
 *   1 MMU fault: status MMU_FAULT, the file's context is dead (EBADFD);
 *   3 a completion whose done_seqno does not match: status FW_ERROR;
 *   5 the firmware crashes (FW_ERROR interrupt, the job never ends): the
 *     driver resets the device at once, the job ends TIMEOUT;
 *   7 slower than the job timeout: TIMEOUT after it, then a reset;
 *   9 hangs (inject-hang-job=9) while another file has jobs queued
 *     behind it: those end exactly once each, OK or ABORTED;
 * and a checked MATMUL runs right after each failure.
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tg.h"

#define SEC 1000000000ll

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One NOP job on @dev: its status, or -errno; *secs: how long it took. */
static int nop_job(struct ember_device *dev, double *secs)
{
	struct ember_cmdbuf *cb;
	struct ember_job job;
	uint64_t seqno;
	double t0 = now_s();
	int ret;

	ret = ember_cmdbuf_create(dev, 4096, &cb);
	if (ret)
		return ret;
	ember_cmdbuf_begin(cb);
	ret = ember_cmdbuf_nop(cb);
	if (!ret)
		ret = ember_cmdbuf_end(cb, &job);
	if (!ret)
		ret = ember_submit(dev, &job, 1, &seqno);
	if (!ret)
		ret = ember_wait(dev, seqno, 60 * SEC);
	ember_cmdbuf_free(cb);
	*secs = now_s() - t0;
	return ret;
}

FIXTURE(inj) {
	struct ember_device *dev;
};

FIXTURE_SETUP(inj)
{
	char msg[256];

	self->dev = NULL;
	if (!getenv("EMBER_EXPECT_INJECT"))
		SKIP(return, "needs a device with the inject-*-job properties (EMBER_EXPECT_INJECT=1)");
	ASSERT_EQ(0, tg_open(&self->dev, msg, sizeof(msg))) TH_LOG("%s", msg);
}

FIXTURE_TEARDOWN(inj)
{
	ember_device_close(self->dev);
}

#define GOOD_JOB(dev) do { \
	char _why[256] = ""; \
	ASSERT_EQ(0, tg_good_job(dev, _why, sizeof(_why))) TH_LOG("%s", _why); \
} while (0)

TEST_F_TIMEOUT(inj, each_injected_failure, 300)
{
	struct drm_ember_perf p0, p1;
	struct ember_device *dev;
	char msg[256];
	double secs;
	int st;

	ASSERT_EQ(0, ember_query_perf(self->dev, &p0));

	/* job 1: an MMU fault kills this file's context */
	st = nop_job(self->dev, &secs);
	ASSERT_EQ(EMBER_JOB_MMU_FAULT, st) TH_LOG("job 1: %d", st);
	ASSERT_EQ(-EBADFD, nop_job(self->dev, &secs));	/* refused: not a job */
	ASSERT_EQ(0, tg_open(&dev, msg, sizeof(msg))) TH_LOG("%s", msg);
	GOOD_JOB(dev);					/* job 2 */

	/* job 3: the completion's done_seqno is not the job's */
	st = nop_job(dev, &secs);
	EXPECT_EQ(EMBER_JOB_FW_ERROR, st) TH_LOG("job 3: %d", st);
	GOOD_JOB(dev);					/* job 4 */

	/* job 5: the firmware crashes; the driver resets without waiting
	 * for the job timeout */
	st = nop_job(dev, &secs);
	EXPECT_EQ(EMBER_JOB_TIMEOUT, st) TH_LOG("job 5: %d", st);
	EXPECT_GE(4.0, secs) TH_LOG("the crash was handled after %.1f s", secs);
	GOOD_JOB(dev);					/* job 6 */

	/* job 7: slower than the 5 s job timeout */
	st = nop_job(dev, &secs);
	EXPECT_EQ(EMBER_JOB_TIMEOUT, st) TH_LOG("job 7: %d", st);
	EXPECT_LE(4.0, secs);
	EXPECT_GE(30.0, secs);
	GOOD_JOB(dev);					/* job 8 */

	/* job 9 hangs while another file has jobs queued behind it: each of
	 * those ends exactly once, OK or ABORTED, and that file's next job
	 * runs right */
	{
		struct ember_device *b;
		struct ember_cmdbuf *cb, *hcb;
		struct ember_queue *q;
		struct ember_completion c[8];
		struct ember_job job, hung;
		struct tg_mm p;
		uint64_t hung_seqno;
		int seen[4] = { 0 }, n = 0, aborted = 0;
		double worst, max_abs;

		ASSERT_EQ(0, ember_cmdbuf_create(dev, 4096, &hcb));
		ember_cmdbuf_begin(hcb);
		ASSERT_EQ(0, ember_cmdbuf_nop(hcb));
		ASSERT_EQ(0, ember_cmdbuf_end(hcb, &hung));
		ASSERT_EQ(0, ember_submit(dev, &hung, 1, &hung_seqno));
		usleep(500 * 1000);	/* job 9 is on the device, hanging */

		ASSERT_EQ(0, tg_open(&b, msg, sizeof(msg))) TH_LOG("%s", msg);
		ASSERT_EQ(0, tg_mm_init(b, &p, 2, 16, 64, EMBER_DTYPE_F32, 0, 0, 0, 77));
		ASSERT_EQ(0, ember_cmdbuf_create(b, 4096, &cb));
		ember_cmdbuf_begin(cb);
		ASSERT_EQ(0, tg_mm_add(cb, &p));
		ASSERT_EQ(0, ember_cmdbuf_end(cb, &job));
		ASSERT_EQ(0, ember_queue_create(b, 8, &q));
		for (int i = 0; i < 4; i++)
			ASSERT_EQ(0, ember_queue_push(q, &job, (uint64_t)i));
		ASSERT_EQ(4, ember_queue_submit(q));
		while (n < 4) {
			int got = ember_queue_wait(q, c, 8, 1, 60 * SEC);

			ASSERT_LT(0, got) TH_LOG("%s", ember_errmsg(b));
			for (int i = 0; i < got; i++) {
				ASSERT_GT(4, c[i].user_data);
				seen[c[i].user_data]++;
				EXPECT_TRUE(c[i].status == EMBER_JOB_OK ||
					    c[i].status == EMBER_JOB_ABORTED)
					TH_LOG("job %d behind the hang: %d", (int)c[i].user_data,
					       c[i].status);
				aborted += c[i].status == EMBER_JOB_ABORTED;
			}
			n += got;
		}
		for (int i = 0; i < 4; i++) {
			EXPECT_EQ(1, seen[i]) TH_LOG("job %d completed %d times", i, seen[i]);
		}
		EXPECT_EQ(0, ember_queue_reap(q, c, 8));	/* nothing more */
		TH_LOG("behind the hang: %d of 4 jobs ABORTED, the rest OK", aborted);
		EXPECT_EQ(EMBER_JOB_TIMEOUT, ember_wait(dev, hung_seqno, 60 * SEC));

		tg_mm_reset_output(&p);
		ASSERT_EQ(0, tg_mm_run(b, &p)) TH_LOG("%s", ember_errmsg(b));
		EXPECT_EQ(0, tg_mm_check(&p, &worst, &max_abs, msg, sizeof(msg))) TH_LOG("%s", msg);
		ember_queue_destroy(q);
		ember_cmdbuf_free(cb);
		ember_cmdbuf_free(hcb);
		tg_mm_fini(&p);
		ember_device_close(b);
	}
	GOOD_JOB(dev);

	ASSERT_EQ(0, ember_query_perf(dev, &p1));
	EXPECT_EQ(p0.mmu_faults + 1, p1.mmu_faults);
	EXPECT_EQ(p0.resets + 3, p1.resets);
	/* the driver ends the crashed job as it ends a timed-out one */
	EXPECT_EQ(p0.timeouts + 3, p1.timeouts);
	TH_LOG("faults %llu, resets %llu, timeouts %llu",
	       (unsigned long long)(p1.mmu_faults - p0.mmu_faults),
	       (unsigned long long)(p1.resets - p0.resets),
	       (unsigned long long)(p1.timeouts - p0.timeouts));
	ember_device_close(dev);
}

TEST_HARNESS_MAIN
