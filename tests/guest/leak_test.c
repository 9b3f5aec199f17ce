// SPDX-License-Identifier: MIT
/*
 * Ember leak check: many rounds of open + BO create + mmap + job + close
 * must not grow the kernel's memory use (meminfo) or this process's fds.
 * Run as root in the guest; ember-reload-test.sh also runs it around a
 * module reload. Skipped with EMBER_KASAN set (the debug kernel, where
 * scripts/lib/debug-guest-checks.sh runs kmemleak instead).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "tg.h"

struct mem {
	long avail_kb, sunreclaim_kb, shmem_kb;
};

static int read_mem(struct mem *m)
{
	char line[256];
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -errno;
	memset(m, 0, sizeof(*m));
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "MemAvailable: %ld", &m->avail_kb);
		sscanf(line, "SUnreclaim: %ld", &m->sunreclaim_kb);
		sscanf(line, "Shmem: %ld", &m->shmem_kb);
	}
	fclose(f);
	return 0;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* One round: a fresh file, 4 BOs of 64 KiB written through mmap, a job
 * that reads and writes them, close everything. 0 or -errno. */
static int one_round(char *why, size_t len)
{
	struct ember_device *dev;
	struct tg_mm p;
	int ret;

	ret = tg_open(&dev, why, len);
	if (ret)
		return ret;
	/* 16 x 512 f32 A, 512 x 512 f32 W... kept small: 64 KiB each */
	ret = tg_mm_init(dev, &p, 4, 32, 512, EMBER_DTYPE_F32, 0, 0, 0, 9);
	if (!ret)
		ret = tg_mm_run(dev, &p);
	if (ret)
		snprintf(why, len, "%d: %s", ret, ember_errmsg(dev));
	tg_mm_fini(&p);
	ember_device_close(dev);
	return ret;
}

/* Also a round that leaves BOs and a mapping open at close: the kernel
 * must free them with the file. */
static int sloppy_round(char *why, size_t len)
{
	struct ember_device *dev;
	struct ember_bo *bo;
	void *p;
	int ret, i;

	ret = tg_open(&dev, why, len);
	if (ret)
		return ret;
	for (i = 0; i < 4 && !ret; i++) {
		ret = ember_bo_create(dev, 64 * 1024, &bo);
		if (!ret)
			ret = ember_bo_map(bo, &p);
		if (!ret)
			memset(p, i, 64 * 1024);
		/* deliberately not freed: munmap only, no GEM_CLOSE */
		if (!ret)
			munmap(p, 64 * 1024);
	}
	if (ret)
		snprintf(why, len, "%s", ember_errmsg(dev));
	ember_device_close(dev);	/* leaks the small host structs only */
	return ret;
}

#define ROUNDS 400

/* 6.12's harness has a timeout only for fixture tests */
FIXTURE(leak) {
	int unused;
};

FIXTURE_SETUP(leak)
{
}

FIXTURE_TEARDOWN(leak)
{
}

TEST_F_TIMEOUT(leak, open_bo_job_close, 600)
{
	struct mem m0, m1;
	char why[256] = "";
	int fds0, fds1, i;
	long d_avail, d_slab, d_shmem;

	if (getenv("EMBER_KASAN"))
		SKIP(return, "EMBER_KASAN: KASAN's quarantine holds freed objects, so meminfo grows; kmemleak checks leaks on that kernel");
	for (i = 0; i < 20; i++)	/* warm caches and slabs */
		ASSERT_EQ(0, one_round(why, sizeof(why))) TH_LOG("%s", why);
	fds0 = count_fds();
	ASSERT_EQ(0, system("echo 3 > /proc/sys/vm/drop_caches"));
	ASSERT_EQ(0, read_mem(&m0));
	for (i = 0; i < ROUNDS; i++) {
		ASSERT_EQ(0, one_round(why, sizeof(why)))
			TH_LOG("round %d: %s", i, why);
		ASSERT_EQ(0, sloppy_round(why, sizeof(why)))
			TH_LOG("round %d: %s", i, why);
	}
	fds1 = count_fds();
	ASSERT_EQ(0, system("echo 3 > /proc/sys/vm/drop_caches"));
	ASSERT_EQ(0, read_mem(&m1));
	d_avail = m0.avail_kb - m1.avail_kb;
	d_slab = m1.sunreclaim_kb - m0.sunreclaim_kb;
	d_shmem = m1.shmem_kb - m0.shmem_kb;
	TH_LOG("%d rounds (each 1 file, 8 BOs of 64 KiB, 1 job): MemAvailable %+ld kB, SUnreclaim %+ld kB, Shmem %+ld kB, fds %d -> %d",
	       ROUNDS, -d_avail, d_slab, d_shmem, fds0, fds1);
	EXPECT_EQ(fds0, fds1);
	/* 800 files and 3200 BOs went through: leaking one 256-byte object
	 * per BO would add 800 kB, one 64 KiB BO per round 25 MB */
	EXPECT_GE(512, d_slab);
	EXPECT_GE(1024, d_shmem);
	EXPECT_GE(4096, d_avail);
}

TEST_HARNESS_MAIN
