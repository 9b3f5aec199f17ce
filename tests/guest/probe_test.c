// SPDX-License-Identifier: MIT
/*
 * Ember probe, query and buffer tests: every GET_PARAM, QUERY size
 * negotiation, firmware identity, capabilities, and buffer create / mmap /
 * write / read / BO_INFO / free.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xf86drm.h>

#include "kselftest_harness.h"
#include "tg.h"

FIXTURE(dev) {
	struct ember_device *dev;
	int fd;
};

FIXTURE_SETUP(dev)
{
	char msg[EMBER_ERRMSG_SIZE];
	int ret = tg_open(&self->dev, msg, sizeof(msg));

	ASSERT_EQ(0, ret) TH_LOG("%s", msg);
	self->fd = ember_device_fd(self->dev);
}

FIXTURE_TEARDOWN(dev)
{
	ember_device_close(self->dev);
}

static int get_param(int fd, uint32_t param, uint64_t *v)
{
	struct drm_ember_get_param gp = { .param = param };

	if (drmIoctl(fd, DRM_IOCTL_EMBER_GET_PARAM, &gp))
		return -errno;
	*v = gp.value;
	return 0;
}

TEST_F(dev, driver_identity)
{
	drmVersionPtr v = drmGetVersion(self->fd);

	ASSERT_NE(NULL, v);
	EXPECT_STREQ("ember", v->name);
	TH_LOG("driver %s %d.%d.%d (%s), node %s", v->name, v->version_major,
	       v->version_minor, v->version_patchlevel, v->desc,
	       ember_device_path(self->dev));
	drmFreeVersion(v);
}

TEST_F(dev, get_param_each)
{
	const struct drm_ember_device_info *info = ember_device_info(self->dev);
	uint64_t v[11];
	uint32_t p;

	for (p = 0; p <= DRM_EMBER_PARAM_MAX_JOB_BOS; p++) {
		ASSERT_EQ(0, get_param(self->fd, p, &v[p])) TH_LOG("param %u", p);
		TH_LOG("param %2u = 0x%llx", p, (unsigned long long)v[p]);
	}
	EXPECT_EQ(0xe3b0, v[DRM_EMBER_PARAM_PCI_DEVICE_ID]);
	EXPECT_NE(0, v[DRM_EMBER_PARAM_HW_VERSION]);
	EXPECT_NE(0, v[DRM_EMBER_PARAM_FW_ABI_VERSION]);
	EXPECT_NE(0, v[DRM_EMBER_PARAM_FW_BUILD_ID]);
	EXPECT_NE(0, v[DRM_EMBER_PARAM_VA_START]);
	EXPECT_NE(0, v[DRM_EMBER_PARAM_VA_SIZE]);
	EXPECT_NE(0, v[DRM_EMBER_PARAM_COMPUTE_UNITS]);
	EXPECT_LE(256, v[DRM_EMBER_PARAM_MAX_SUBMIT_JOBS]);
	EXPECT_LE(4, v[DRM_EMBER_PARAM_MAX_JOB_BOS]);
	/* GET_PARAM and QUERY tell the same story */
	EXPECT_EQ(info->pci_device, v[DRM_EMBER_PARAM_PCI_DEVICE_ID]);
	EXPECT_EQ(info->hw_version, v[DRM_EMBER_PARAM_HW_VERSION]);
	EXPECT_EQ(info->caps_ops, v[DRM_EMBER_PARAM_CAPS_OPS]);
	EXPECT_EQ(info->caps_dtypes, v[DRM_EMBER_PARAM_CAPS_DTYPES]);
	EXPECT_EQ(info->fw_abi_version, v[DRM_EMBER_PARAM_FW_ABI_VERSION]);
	EXPECT_EQ(info->fw_build_id, v[DRM_EMBER_PARAM_FW_BUILD_ID]);
	EXPECT_EQ(info->va_start, v[DRM_EMBER_PARAM_VA_START]);
	EXPECT_EQ(info->va_size, v[DRM_EMBER_PARAM_VA_SIZE]);
	EXPECT_EQ(info->compute_units, v[DRM_EMBER_PARAM_COMPUTE_UNITS]);
	EXPECT_EQ(info->max_submit_jobs, v[DRM_EMBER_PARAM_MAX_SUBMIT_JOBS]);
	EXPECT_EQ(info->max_job_bos, v[DRM_EMBER_PARAM_MAX_JOB_BOS]);
}

TEST_F(dev, get_param_bad)
{
	struct drm_ember_get_param gp = { .param = DRM_EMBER_PARAM_HW_VERSION,
					  .pad = 1 };

	EXPECT_EQ(-1, drmIoctl(self->fd, DRM_IOCTL_EMBER_GET_PARAM, &gp));
	EXPECT_EQ(EINVAL, errno);
	gp.pad = 0;
	gp.param = 0x7fffffff;
	EXPECT_EQ(-1, drmIoctl(self->fd, DRM_IOCTL_EMBER_GET_PARAM, &gp));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dev, caps_and_firmware)
{
	const struct drm_ember_device_info *i = ember_device_info(self->dev);

	TH_LOG("pci %04x:%04x hw %u.%u fw abi %u.%u fw '%s' build %016llx",
	       i->pci_vendor, i->pci_device, i->hw_version >> 16,
	       i->hw_version & 0xffff, i->fw_abi_version >> 16,
	       i->fw_abi_version & 0xffff, i->fw_version,
	       (unsigned long long)i->fw_build_id);
	TH_LOG("caps ops 0x%llx dtypes 0x%llx, %u CUs, ring %u, va 0x%llx+0x%llx",
	       (unsigned long long)i->caps_ops,
	       (unsigned long long)i->caps_dtypes, i->compute_units,
	       i->queue_depth, (unsigned long long)i->va_start,
	       (unsigned long long)i->va_size);
	EXPECT_NE(0, i->pci_vendor);
	EXPECT_EQ(0xe3b0, i->pci_device);
	EXPECT_NE(0, i->fw_build_id);
	EXPECT_NE(0, i->fw_abi_version);
	EXPECT_NE(0, i->fw_version[0]);
	EXPECT_NE(NULL, memchr(i->fw_version, '\0', sizeof(i->fw_version)));
	EXPECT_TRUE(i->caps_ops & (1ull << EMBER_OP_NOP));
	EXPECT_TRUE(i->caps_ops & (1ull << EMBER_OP_MATMUL));
	EXPECT_TRUE(i->caps_ops & (1ull << EMBER_OP_ATTENTION));
	EXPECT_TRUE(i->caps_dtypes & (1ull << EMBER_DTYPE_F32));
	EXPECT_NE(0, i->queue_depth);
	EXPECT_NE(0, i->compute_units);
}

TEST_F(dev, query_size_negotiation)
{
	struct drm_ember_device_info full, *big;
	struct drm_ember_query q = { .type = DRM_EMBER_QUERY_DEVICE_INFO };
	uint8_t half[16];
	struct drm_ember_perf perf;

	/* size 0: only the kernel's size comes back */
	ASSERT_EQ(0, drmIoctl(self->fd, DRM_IOCTL_EMBER_QUERY, &q));
	EXPECT_EQ(sizeof(full), q.size);

	/* exact */
	memset(&full, 0, sizeof(full));
	q.size = sizeof(full);
	q.ptr = (uintptr_t)&full;
	ASSERT_EQ(0, drmIoctl(self->fd, DRM_IOCTL_EMBER_QUERY, &q));
	EXPECT_EQ(sizeof(full), q.size);
	EXPECT_EQ(0, memcmp(&full, ember_device_info(self->dev), sizeof(full)));

	/* an older caller's smaller struct: a prefix, nothing past it */
	memset(half, 0xa5, sizeof(half));
	q.size = 8;
	q.ptr = (uintptr_t)half;
	ASSERT_EQ(0, drmIoctl(self->fd, DRM_IOCTL_EMBER_QUERY, &q));
	EXPECT_EQ(sizeof(full), q.size);
	EXPECT_EQ(0, memcmp(half, &full, 8));
	EXPECT_EQ(0xa5, half[8]);
	EXPECT_EQ(0xa5, half[15]);

	/* a newer caller's bigger struct: the kernel fills its part only */
	big = malloc(sizeof(full) + 64);
	ASSERT_NE(NULL, big);
	memset(big, 0x5a, sizeof(full) + 64);
	q.size = sizeof(full) + 64;
	q.ptr = (uintptr_t)big;
	ASSERT_EQ(0, drmIoctl(self->fd, DRM_IOCTL_EMBER_QUERY, &q));
	EXPECT_EQ(sizeof(full), q.size);
	EXPECT_EQ(0, memcmp(big, &full, sizeof(full)));
	free(big);

	/* perf counters */
	q.type = DRM_EMBER_QUERY_PERF;
	q.size = 0;
	ASSERT_EQ(0, drmIoctl(self->fd, DRM_IOCTL_EMBER_QUERY, &q));
	EXPECT_EQ(sizeof(perf), q.size);
	ASSERT_EQ(0, ember_query_perf(self->dev, &perf));
	TH_LOG("perf: jobs %llu ops %llu busy %llu ns faults %llu resets %llu",
	       (unsigned long long)perf.jobs, (unsigned long long)perf.ops,
	       (unsigned long long)perf.busy_ns,
	       (unsigned long long)perf.mmu_faults,
	       (unsigned long long)perf.resets);

	/* unknown type; bad pointer */
	q.type = 77;
	q.size = sizeof(full);
	q.ptr = (uintptr_t)&full;
	EXPECT_EQ(-1, drmIoctl(self->fd, DRM_IOCTL_EMBER_QUERY, &q));
	EXPECT_EQ(EINVAL, errno);
	q.type = DRM_EMBER_QUERY_DEVICE_INFO;
	q.ptr = 8;
	EXPECT_EQ(-1, drmIoctl(self->fd, DRM_IOCTL_EMBER_QUERY, &q));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(dev, perf_counts_jobs)
{
	struct drm_ember_perf a, b;
	char why[256] = "";

	ASSERT_EQ(0, ember_query_perf(self->dev, &a));
	ASSERT_EQ(0, tg_good_job(self->dev, why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(0, ember_query_perf(self->dev, &b));
	EXPECT_LE(a.jobs + 1, b.jobs);
	EXPECT_LE(a.ops + 1, b.ops);
	EXPECT_LE(a.bytes_written + 6 * 4, b.bytes_written);
	EXPECT_LE(a.busy_ns, b.busy_ns);
}

TEST_F(dev, bo_create_map_rw_free)
{
	static const uint64_t sizes[] = { 1, 4096, 4097, 65536, 3 << 20 };
	unsigned i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct drm_ember_bo_info info;
		struct ember_bo *bo;
		uint32_t *p, *p2, j, n;
		void *raw;

		ASSERT_EQ(0, ember_bo_create(self->dev, sizes[i], &bo))
			TH_LOG("%s", ember_errmsg(self->dev));
		EXPECT_EQ((sizes[i] + 4095) & ~4095ull, ember_bo_size(bo));
		EXPECT_EQ(0, ember_bo_va(bo) % 4096);
		EXPECT_LE(ember_device_info(self->dev)->va_start, ember_bo_va(bo));
		ASSERT_EQ(0, ember_bo_info(self->dev, ember_bo_handle(bo), &info));
		EXPECT_EQ(ember_bo_size(bo), info.size);
		EXPECT_EQ(ember_bo_va(bo), info.dev_va);
		EXPECT_NE(0, info.mmap_offset);

		ASSERT_EQ(0, ember_bo_map(bo, &raw));
		p = raw;
		n = (uint32_t)(ember_bo_size(bo) / 4);
		for (j = 0; j < n && !p[j]; j++)
			;
		EXPECT_EQ(n, j)		/* new buffers are zeroed */
			TH_LOG("word %u of a new buffer is 0x%x", j, p[j]);
		for (j = 0; j < n; j++)
			p[j] = j * 2654435761u;
		/* a second, independent mapping sees the same pages */
		p2 = mmap(NULL, ember_bo_size(bo), PROT_READ, MAP_SHARED,
			  self->fd, (off_t)info.mmap_offset);
		ASSERT_NE(MAP_FAILED, p2);
		for (j = 0; j < n; j++)
			if (p2[j] != j * 2654435761u)
				break;
		EXPECT_EQ(n, j);
		munmap(p2, ember_bo_size(bo));
		ember_bo_free(bo);
	}
}

TEST_F(dev, bo_distinct_va)
{
	struct ember_bo *bo[8];
	int i, j;

	for (i = 0; i < 8; i++)
		ASSERT_EQ(0, ember_bo_create(self->dev, 8192 * (i + 1), &bo[i]));
	for (i = 0; i < 8; i++)
		for (j = 0; j < 8; j++)
			if (i != j) {
				uint64_t a = ember_bo_va(bo[i]), b = ember_bo_va(bo[j]);

				EXPECT_TRUE(a + ember_bo_size(bo[i]) <= b ||
					    b + ember_bo_size(bo[j]) <= a);
			}
	for (i = 0; i < 8; i++)
		ember_bo_free(bo[i]);
}

TEST_F(dev, bo_info_after_free)
{
	struct drm_ember_bo_info info;
	struct ember_bo *bo;
	uint32_t h;

	ASSERT_EQ(0, ember_bo_create(self->dev, 4096, &bo));
	h = ember_bo_handle(bo);
	ember_bo_free(bo);
	EXPECT_EQ(-ENOENT, ember_bo_info(self->dev, h, &info));
	TH_LOG("message: %s", ember_errmsg(self->dev));
}

TEST_F(dev, bo_per_file)
{
	struct ember_device *other;
	struct drm_ember_bo_info info;
	struct ember_bo *bo;
	char msg[EMBER_ERRMSG_SIZE];

	ASSERT_EQ(0, ember_bo_create(self->dev, 4096, &bo));
	ASSERT_EQ(0, ember_device_open(ember_device_path(self->dev), &other,
				       msg, sizeof(msg))) TH_LOG("%s", msg);
	/* handles are per file: the other file does not know it (or it is
	 * one of its own, which it is not: it has none) */
	EXPECT_EQ(-ENOENT, ember_bo_info(other, ember_bo_handle(bo), &info));
	ember_device_close(other);
	ember_bo_free(bo);
}

TEST_HARNESS_MAIN
