// SPDX-License-Identifier: MIT
/*
 * Job timeout and device recovery. Needs a device that hangs its first job:
 * QEMU started with -global ember-npu.inject-hang-job=1 and this program as
 * the first to submit, with EMBER_EXPECT_HANG=1 in the environment (what
 * scripts/test.sh does in a boot of its own). Elsewhere the tests skip.
 *
 * The hung job must end with status TIMEOUT after the driver's job timeout
 * (module parameter job_timeout_ms, 5 s by default), the driver must reset
 * the device and boot its firmware again, and the next jobs must run right.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "kselftest_harness.h"
#include "tg.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

FIXTURE(rec) {
	struct ember_device *dev;
};

FIXTURE_SETUP(rec)
{
	char msg[256];

	self->dev = NULL;
	if (!getenv("EMBER_EXPECT_HANG"))
		SKIP(return, "needs a device with inject-hang-job=1 (EMBER_EXPECT_HANG=1)");
	ASSERT_EQ(0, tg_open(&self->dev, msg, sizeof(msg))) TH_LOG("%s", msg);
}

FIXTURE_TEARDOWN(rec)
{
	ember_device_close(self->dev);
}

TEST_F_TIMEOUT(rec, hung_job_times_out_and_device_recovers, 120)
{
	struct drm_ember_perf before, after;
	struct ember_cmdbuf *cb;
	struct ember_job job;
	char why[256] = "";
	uint64_t seqno;
	double t0, waited;
	int status;

	ASSERT_EQ(0, ember_query_perf(self->dev, &before));
	ASSERT_EQ(0, ember_cmdbuf_create(self->dev, 4096, &cb));
	ember_cmdbuf_begin(cb);
	ASSERT_EQ(0, ember_cmdbuf_nop(cb));
	ASSERT_EQ(0, ember_cmdbuf_end(cb, &job));

	/* the device never completes this job: the driver must end it */
	t0 = now_s();
	ASSERT_EQ(0, ember_submit(self->dev, &job, 1, &seqno))
		TH_LOG("%s", ember_errmsg(self->dev));
	status = ember_wait(self->dev, seqno, 60ll * 1000000000);
	waited = now_s() - t0;
	ASSERT_EQ(EMBER_JOB_TIMEOUT, status)
		TH_LOG("hung job: %d (%s)", status,
		       status < 0 ? ember_errmsg(self->dev) : ember_status_name(status));
	/* not before the timeout, and not long after it */
	EXPECT_LE(4.0, waited);
	EXPECT_GE(30.0, waited);
	TH_LOG("hung job ended with TIMEOUT after %.1f s", waited);

	/* the device works again, on this file and on a new one */
	ASSERT_EQ(0, tg_good_job(self->dev, why, sizeof(why))) TH_LOG("%s", why);
	{
		struct ember_device *dev2;
		char msg[256];

		ASSERT_EQ(0, tg_open(&dev2, msg, sizeof(msg))) TH_LOG("%s", msg);
		EXPECT_EQ(0, tg_good_job(dev2, why, sizeof(why))) TH_LOG("%s", why);
		ember_device_close(dev2);
	}

	ASSERT_EQ(0, ember_query_perf(self->dev, &after));
	EXPECT_EQ(before.timeouts + 1, after.timeouts);
	EXPECT_EQ(before.resets + 1, after.resets);
	ember_cmdbuf_free(cb);
}

TEST_HARNESS_MAIN
