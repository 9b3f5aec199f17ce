// SPDX-License-Identifier: MIT
/*
 * Ember zero-copy test: the device reads a scattered multi-megabyte weight
 * buffer in place, through a cached view of guest RAM (docs/hardware.md
 * 7.1), so the bytes_copied counter does not move; and a buffer freed and
 * created again at the same device VA is read fresh, because freeing it
 * (MMU_INVALIDATE) dropped the view. Needs guest RAM in a shared memfd,
 * as scripts/run-guest.sh boots the guest.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tg.h"

/* W: 2048 x 1024 f32 = 8 MiB of shmem pages; A and C: a few pages each. */
#define M 4
#define N 2048
#define K 1024
#define RUNS 4

FIXTURE(zc) {
	struct ember_device *dev;
	struct tg_mm p;
};

FIXTURE_SETUP(zc)
{
	char msg[EMBER_ERRMSG_SIZE];

	ASSERT_EQ(0, tg_open(&self->dev, msg, sizeof(msg))) TH_LOG("%s", msg);
	ASSERT_EQ(0, tg_mm_init(self->dev, &self->p, M, N, K, EMBER_DTYPE_F32,
				0, 0, 0, 77))
		TH_LOG("%s", ember_errmsg(self->dev));
}

FIXTURE_TEARDOWN(zc)
{
	tg_mm_fini(&self->p);
	ember_device_close(self->dev);
}

static uint64_t bytes_copied(struct ember_device *dev)
{
	struct drm_ember_perf perf;

	if (ember_query_perf(dev, &perf))
		return UINT64_MAX;
	return perf.bytes_copied;
}

/* Run @p's MATMUL as one job and check C: 0, or -errno / status > 0. */
static int run_check(struct ember_device *dev, struct tg_mm *p, char *why,
		     size_t len)
{
	double worst, max_abs;
	int ret;

	tg_mm_reset_output(p);
	ret = tg_mm_run(dev, p);
	if (ret < 0) {
		snprintf(why, len, "%s", ember_errmsg(dev));
		return ret;
	}
	if (ret > 0) {
		snprintf(why, len, "status %s", ember_status_name(ret));
		return ret;
	}
	return tg_mm_check(p, &worst, &max_abs, why, len) ? -EIO : 0;
}

TEST_F(zc, weights_read_in_place)
{
	uint64_t w_bytes = ember_bo_size(self->p.w), before, delta;
	char why[256] = "";
	int i;

	for (i = 0; i < RUNS; i++) {
		before = bytes_copied(self->dev);
		ASSERT_NE(UINT64_MAX, before);
		ASSERT_EQ(0, run_check(self->dev, &self->p, why, sizeof(why)))
			TH_LOG("job %d: %s", i, why);
		delta = bytes_copied(self->dev) - before;
		TH_LOG("job %d: %llu bytes copied (W is %llu bytes)", i,
		       (unsigned long long)delta, (unsigned long long)w_bytes);
		/* The first job builds the views; W is never bounced. */
		if (i == 0) {
			EXPECT_LT(delta, w_bytes);
		} else {
			EXPECT_EQ(0, delta);
		}
	}
}

TEST_F(zc, new_buffer_at_same_va)
{
	uint64_t va = ember_bo_va(self->p.w), size = ember_bo_size(self->p.w);
	struct ember_bo *w = NULL;
	char why[256] = "";
	uint64_t before;
	void *hog;
	int tries;

	ASSERT_EQ(0, run_check(self->dev, &self->p, why, sizeof(why)))
		TH_LOG("first W: %s", why);
	ASSERT_EQ(0, run_check(self->dev, &self->p, why, sizeof(why)))
		TH_LOG("first W, cached view: %s", why);

	ember_bo_free(self->p.w);
	self->p.w = NULL;
	/*
	 * Hold on to free memory so the freed pages cannot all go straight
	 * back into the new buffer: a stale view would then read the old W
	 * rather than, by luck, the new one.
	 */
	hog = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, hog);
	memset(hog, 0x5a, 2 * size);
	/* The last reference (and the unmap) may go with a finishing job. */
	for (tries = 0; tries < 200; tries++) {
		ASSERT_EQ(0, ember_bo_create(self->dev, size, &w))
			TH_LOG("%s", ember_errmsg(self->dev));
		if (ember_bo_va(w) == va)
			break;
		ember_bo_free(w);
		w = NULL;
		usleep(10000);
	}
	ASSERT_NE(NULL, w) TH_LOG("no new buffer landed at VA 0x%llx",
				  (unsigned long long)va);
	self->p.w = w;
	ASSERT_EQ(0, tg_mm_fill_w(&self->p, 78));

	before = bytes_copied(self->dev);
	EXPECT_EQ(0, run_check(self->dev, &self->p, why, sizeof(why)))
		TH_LOG("new W at the same VA: %s (a stale view of the old pages?)",
		       why);
	EXPECT_EQ(0, bytes_copied(self->dev) - before);
	EXPECT_EQ(0, run_check(self->dev, &self->p, why, sizeof(why)))
		TH_LOG("new W, cached view: %s", why);
	munmap(hog, 2 * size);
}

TEST_HARNESS_MAIN
