// SPDX-License-Identifier: MIT
/*
 * Ember bad-input tests: each malformed ioctl, job or op gets the errno or
 * job status ember_accel.h documents, and the device keeps working after
 * each (a known-good MATMUL is run and checked at the end of every test).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <liburing.h>
#include <xf86drm.h>

#include "kselftest_harness.h"
#include "tg.h"

#define SEC 1000000000ll

FIXTURE(errs) {
	struct ember_device *dev;
	struct ember_cmdbuf *cb;
	int fd;
	struct ember_job nop;		/* a valid one-NOP job */
	struct drm_ember_job dnop;	/* the same as the uapi struct */
};

FIXTURE_SETUP(errs)
{
	char msg[EMBER_ERRMSG_SIZE];

	ASSERT_EQ(0, tg_open(&self->dev, msg, sizeof(msg))) TH_LOG("%s", msg);
	self->fd = ember_device_fd(self->dev);
	ASSERT_EQ(0, ember_cmdbuf_create(self->dev, 64 * 1024, &self->cb));
	ember_cmdbuf_begin(self->cb);
	ASSERT_EQ(0, ember_cmdbuf_nop(self->cb));
	ASSERT_EQ(0, ember_cmdbuf_end(self->cb, &self->nop));
	memset(&self->dnop, 0, sizeof(self->dnop));
	self->dnop.cmd_handle = self->nop.cmd_handle;
	self->dnop.cmd_offset = self->nop.cmd_offset;
	self->dnop.cmd_size = self->nop.cmd_size;
}

FIXTURE_TEARDOWN(errs)
{
	ember_cmdbuf_free(self->cb);
	ember_device_close(self->dev);
}

/* An ioctl: 0, or the errno when it fails (returns -1). */
static int ioctl_errno(int fd, unsigned long request, void *arg)
{
	return drmIoctl(fd, request, arg) == -1 ? errno : 0;
}

/* SUBMIT @count jobs @stride apart; 0 or the errno. */
static int submit_raw(int fd, const void *jobs, uint32_t count,
		      uint32_t stride, uint64_t *seqno)
{
	struct drm_ember_submit s = {
		.jobs = (uintptr_t)jobs, .job_count = count,
		.job_stride = stride,
	};
	int err = ioctl_errno(fd, DRM_IOCTL_EMBER_SUBMIT, &s);

	if (!err && seqno)
		*seqno = s.seqno;
	return err;
}

static int submit_one(int fd, const struct drm_ember_job *j, uint64_t *seqno)
{
	return submit_raw(fd, j, 1, sizeof(*j), seqno);
}

static int submit_s(int fd, struct drm_ember_submit *s)
{
	return ioctl_errno(fd, DRM_IOCTL_EMBER_SUBMIT, s);
}

/* A valid 2x8x32 F32 MATMUL on @p's buffers, built by libember as a job
 * (@ref: its BO list) and copied out as the raw op @mm, for tests to break. */
static void matmul_op(struct __test_metadata *_metadata,
		      struct _test_data_errs *self, struct tg_mm *p,
		      struct ember_op_matmul *mm, struct ember_job *ref)
{
	void *base;

	ASSERT_EQ(0, tg_mm_init(self->dev, p, 2, 8, 32, EMBER_DTYPE_F32, 0,
				0, 0, 1));
	ember_cmdbuf_begin(self->cb);
	ASSERT_EQ(0, tg_mm_add(self->cb, p));
	ASSERT_EQ(0, ember_cmdbuf_end(self->cb, ref));
	ASSERT_EQ(0, ember_bo_map(ember_cmdbuf_bo(self->cb), &base));
	memcpy(mm, (uint8_t *)base + ref->cmd_offset, sizeof(*mm));
}

/* Submit one job made of @size bytes of raw ops; return its status. */
static int run_raw_ops(struct _test_data_errs *self, const void *ops,
		       uint32_t size, const struct ember_job *bos_from)
{
	struct ember_job job;
	uint64_t seqno;
	int ret;

	ember_cmdbuf_begin(self->cb);
	ret = ember_cmdbuf_raw(self->cb, ops, size);
	if (!ret)
		ret = ember_cmdbuf_end(self->cb, &job);
	if (ret)
		return ret;
	if (bos_from) {
		job.bo_count = bos_from->bo_count;
		memcpy(job.bos, bos_from->bos, sizeof(job.bos));
	}
	ret = ember_submit(self->dev, &job, 1, &seqno);
	if (ret)
		return ret;
	return ember_wait(self->dev, seqno, 30 * SEC);
}

TEST_F(errs, bad_handles_enoent)
{
	struct drm_ember_bo_info info = { .handle = 0xdead };
	struct drm_ember_bo_ref ref = { .handle = 0xbeef,
					.flags = DRM_EMBER_BO_READ };
	struct drm_ember_job j = self->dnop;

	EXPECT_EQ(ENOENT, ioctl_errno(self->fd, DRM_IOCTL_EMBER_BO_INFO, &info));
	info.handle = 0;
	EXPECT_EQ(ENOENT, ioctl_errno(self->fd, DRM_IOCTL_EMBER_BO_INFO, &info));

	j.cmd_handle = 0xdead;
	EXPECT_EQ(ENOENT, submit_one(self->fd, &j, NULL));
	j.cmd_handle = 0;
	EXPECT_EQ(ENOENT, submit_one(self->fd, &j, NULL));
	j = self->dnop;
	j.bo_count = 1;
	j.bos = (uintptr_t)&ref;
	EXPECT_EQ(ENOENT, submit_one(self->fd, &j, NULL));

	/* an unknown syncobj */
	{
		struct drm_ember_submit s = {
			.jobs = (uintptr_t)&self->dnop, .job_count = 1,
			.job_stride = sizeof(self->dnop), .in_syncobj = 0x7777,
		};

		EXPECT_EQ(ENOENT, submit_s(self->fd, &s));
	}
	/* the library says what to do */
	{
		struct ember_job lj = self->nop;

		lj.cmd_handle = 0xdead;
		EXPECT_EQ(-ENOENT, ember_submit(self->dev, &lj, 1, NULL));
		TH_LOG("libember: %s", ember_errmsg(self->dev));
	}
	DEVICE_STILL_WORKS(self->dev);
}

TEST_F(errs, pads_and_flags_einval)
{
	struct drm_ember_bo_create bc = { .size = 4096, .flags = 1 };
	struct drm_ember_bo_info bi = { .handle = self->nop.cmd_handle, .pad = 1 };
	struct drm_ember_wait w = { .seqno = 1, .flags = 1 };
	struct drm_ember_bo_ref ref = { .handle = self->nop.cmd_handle,
					.flags = 1u << 7 };
	struct drm_ember_submit s = {
		.jobs = (uintptr_t)&self->dnop, .job_count = 1,
		.job_stride = sizeof(self->dnop),
	};
	struct drm_ember_job j;
	int ret;

	EXPECT_EQ(EINVAL, ioctl_errno(self->fd, DRM_IOCTL_EMBER_BO_CREATE, &bc));
	bc.flags = 0x80000000u;
	EXPECT_EQ(EINVAL, ioctl_errno(self->fd, DRM_IOCTL_EMBER_BO_CREATE, &bc));
	EXPECT_EQ(EINVAL, ioctl_errno(self->fd, DRM_IOCTL_EMBER_BO_INFO, &bi));
	EXPECT_EQ(EINVAL, ioctl_errno(self->fd, DRM_IOCTL_EMBER_WAIT, &w));

	s.flags = 1;
	EXPECT_EQ(EINVAL, submit_s(self->fd, &s));
	s.flags = 0;
	s.pad = 1;
	EXPECT_EQ(EINVAL, submit_s(self->fd, &s));
	s.pad = 0;
	s.job_stride = sizeof(self->dnop) - 8;
	EXPECT_EQ(EINVAL, submit_s(self->fd, &s));
	s.job_stride = sizeof(self->dnop);
	s.job_count = 0;
	EXPECT_EQ(EINVAL, submit_s(self->fd, &s));

	j = self->dnop;
	j.flags = 1;
	EXPECT_EQ(EINVAL, submit_one(self->fd, &j, NULL));
	j = self->dnop;
	j.pad = 1;
	EXPECT_EQ(EINVAL, submit_one(self->fd, &j, NULL));
	j = self->dnop;
	j.cmd_size = 0;
	EXPECT_EQ(EINVAL, submit_one(self->fd, &j, NULL));
	j.cmd_size = 12;
	EXPECT_EQ(EINVAL, submit_one(self->fd, &j, NULL));
	j = self->dnop;
	j.cmd_offset = 4;
	EXPECT_EQ(EINVAL, submit_one(self->fd, &j, NULL));
	j = self->dnop;
	j.bo_count = 1;
	j.bos = (uintptr_t)&ref;
	EXPECT_EQ(EINVAL, submit_one(self->fd, &j, NULL));

	/* a job struct bigger than ours (a newer ABI) with a non-zero tail */
	{
		uint8_t big[sizeof(j) + 8];

		memset(big, 0, sizeof(big));
		memcpy(big, &self->dnop, sizeof(self->dnop));
		EXPECT_EQ(0, submit_raw(self->fd, big, 1, sizeof(big), NULL));
		big[sizeof(j) + 3] = 1;
		/* unknown fields must be zero: EINVAL (or E2BIG, the errno of
		 * copy_struct_from_user) */
		ret = submit_raw(self->fd, big, 1, sizeof(big), NULL);
		EXPECT_TRUE(ret == EINVAL || ret == E2BIG) TH_LOG("errno %d", ret);
	}
	DEVICE_STILL_WORKS(self->dev);
}

TEST_F(errs, bad_pointers_efault)
{
	struct drm_ember_job j = self->dnop;

	EXPECT_EQ(EFAULT, submit_raw(self->fd, (void *)8, 1, sizeof(j), NULL));
	j.bo_count = 1;
	j.bos = 8;
	EXPECT_EQ(EFAULT, submit_one(self->fd, &j, NULL));
	DEVICE_STILL_WORKS(self->dev);
}

TEST_F(errs, huge_sizes)
{
	struct drm_ember_bo_create bc = { .size = 0 };
	int err;

	EXPECT_EQ(EINVAL, ioctl_errno(self->fd, DRM_IOCTL_EMBER_BO_CREATE, &bc));
	bc.size = (4ull << 30) + 1;
	EXPECT_EQ(E2BIG, ioctl_errno(self->fd, DRM_IOCTL_EMBER_BO_CREATE, &bc));
	bc.size = 1ull << 62;
	EXPECT_EQ(E2BIG, ioctl_errno(self->fd, DRM_IOCTL_EMBER_BO_CREATE, &bc));
	bc.size = UINT64_MAX;
	err = ioctl_errno(self->fd, DRM_IOCTL_EMBER_BO_CREATE, &bc);
	EXPECT_TRUE(err == E2BIG || err == EINVAL) TH_LOG("errno %d", err);
	DEVICE_STILL_WORKS(self->dev);
}

TEST_F(errs, too_many_jobs_and_bos_e2big)
{
	const struct drm_ember_device_info *info = ember_device_info(self->dev);
	uint32_t n = info->max_submit_jobs + 1, i;
	struct drm_ember_job *jobs = calloc(n, sizeof(*jobs));
	struct drm_ember_bo_ref *refs;
	struct drm_ember_job j = self->dnop;

	ASSERT_NE(NULL, jobs);
	for (i = 0; i < n; i++)
		jobs[i] = self->dnop;
	EXPECT_EQ(E2BIG, submit_raw(self->fd, jobs, n, sizeof(*jobs), NULL));
	free(jobs);

	refs = calloc(info->max_job_bos + 1, sizeof(*refs));
	ASSERT_NE(NULL, refs);
	for (i = 0; i <= info->max_job_bos; i++) {
		refs[i].handle = self->nop.cmd_handle;
		refs[i].flags = DRM_EMBER_BO_READ;
	}
	j.bo_count = info->max_job_bos + 1;
	j.bos = (uintptr_t)refs;
	EXPECT_EQ(E2BIG, submit_one(self->fd, &j, NULL));
	free(refs);
	DEVICE_STILL_WORKS(self->dev);
}

TEST_F(errs, cmd_range_erange)
{
	struct drm_ember_job j = self->dnop;
	uint64_t size = ember_bo_size(ember_cmdbuf_bo(self->cb));

	j.cmd_offset = (uint32_t)size - 8;
	j.cmd_size = 16;
	EXPECT_EQ(ERANGE, submit_one(self->fd, &j, NULL));
	j.cmd_offset = (uint32_t)size;
	j.cmd_size = 8;
	EXPECT_EQ(ERANGE, submit_one(self->fd, &j, NULL));
	j.cmd_offset = 0xfffffff8u;	/* offset + size wraps a u32 */
	j.cmd_size = 16;
	EXPECT_EQ(ERANGE, submit_one(self->fd, &j, NULL));
	j.cmd_offset = 0;
	j.cmd_size = (uint32_t)size + 8;
	EXPECT_EQ(ERANGE, submit_one(self->fd, &j, NULL));
	DEVICE_STILL_WORKS(self->dev);
}

TEST_F(errs, bad_ops_job_status)
{
	struct ember_op_hdr h;
	struct ember_op_matmul mm;
	uint64_t ops[4] = { 0 };

	/* unknown opcode */
	h = (struct ember_op_hdr){ .opcode = 0x999, .size = 8 };
	EXPECT_EQ(EMBER_JOB_BAD_OP, run_raw_ops(self, &h, 8, NULL));
	h.opcode = EMBER_OP_COUNT;
	EXPECT_EQ(EMBER_JOB_BAD_OP, run_raw_ops(self, &h, 8, NULL));
	/* header sizes: 0, not a multiple of 8, beyond the stream */
	h = (struct ember_op_hdr){ .opcode = EMBER_OP_NOP, .size = 0 };
	EXPECT_EQ(EMBER_JOB_BAD_OP, run_raw_ops(self, &h, 8, NULL));
	h.size = 12;
	memcpy(ops, &h, 8);
	EXPECT_EQ(EMBER_JOB_BAD_OP, run_raw_ops(self, ops, 16, NULL));
	h.size = 64;
	memcpy(ops, &h, 8);
	EXPECT_EQ(EMBER_JOB_BAD_OP, run_raw_ops(self, ops, 32, NULL));
	/* a MATMUL header shorter than its struct */
	h = (struct ember_op_hdr){ .opcode = EMBER_OP_MATMUL, .size = 16 };
	memcpy(ops, &h, 8);
	EXPECT_EQ(EMBER_JOB_BAD_OP, run_raw_ops(self, ops, 16, NULL));
	/* an ABI 1.1 op cut to its header: shorter than its struct (BAD_OP),
	 * unless the device hides the op (caps are checked first) */
	h = (struct ember_op_hdr){ .opcode = EMBER_OP_RMSNORM, .size = 8 };
	EXPECT_EQ(ember_device_has_op(self->dev, EMBER_OP_RMSNORM) ?
		  EMBER_JOB_BAD_OP : EMBER_JOB_UNSUPPORTED,
		  run_raw_ops(self, &h, 8, NULL));
	/* NOP with flags */
	h = (struct ember_op_hdr){ .opcode = EMBER_OP_NOP, .size = 8, .flags = 1 };
	EXPECT_EQ(EMBER_JOB_BAD_DESC, run_raw_ops(self, &h, 8, NULL));

	/* descriptor errors in a real MATMUL: m = 0, unknown flag, dtype */
	{
		struct tg_mm p;
		struct ember_job ref;

		matmul_op(_metadata, self, &p, &mm, &ref);
		mm.m = 0;
		EXPECT_EQ(EMBER_JOB_BAD_DESC, run_raw_ops(self, &mm, sizeof(mm), &ref));
		mm.m = 2;
		mm.hdr.flags = 1u << 20;
		EXPECT_EQ(EMBER_JOB_BAD_DESC, run_raw_ops(self, &mm, sizeof(mm), &ref));
		mm.hdr.flags = 0;
		mm.w_dtype = 77;
		EXPECT_EQ(EMBER_JOB_BAD_DESC, run_raw_ops(self, &mm, sizeof(mm), &ref));
		mm.w_dtype = EMBER_DTYPE_F32;
		mm.a_stride = 4;	/* below k * 4 */
		EXPECT_EQ(EMBER_JOB_BAD_DESC, run_raw_ops(self, &mm, sizeof(mm), &ref));
		tg_mm_fini(&p);
	}
	/* the library refuses the same mistakes before the device sees them */
	{
		struct ember_matmul_desc d = { .m = 0, .n = 1, .k = 1 };

		ember_cmdbuf_begin(self->cb);
		EXPECT_EQ(-EINVAL, ember_cmdbuf_matmul(self->cb, &d));
		TH_LOG("libember: %s", ember_errmsg(self->dev));
	}
	DEVICE_STILL_WORKS(self->dev);
}

/* A 64 KiB-aligned VA range of @len in the file's VA space that none of
 * @bos covers (this file has no other buffers), or 0. */
static uint64_t unmapped_va(const struct drm_ember_device_info *info,
			    struct ember_bo *const *bos, int n, uint64_t len)
{
	uint64_t cand[3] = {
		info->va_start + info->va_size - len,
		info->va_start + info->va_size / 2,
		info->va_start,
	};
	int c, i;

	for (c = 0; c < 3; c++) {
		uint64_t v = cand[c] & ~(len - 1);

		for (i = 0; i < n; i++) {
			uint64_t b = ember_bo_va(bos[i]);

			if (v < b + ember_bo_size(bos[i]) && b < v + len)
				break;
		}
		if (i == n && v >= info->va_start)
			return v;
	}
	return 0;
}

/* A MATMUL reading an unmapped VA faults; the file is dead (EBADFD) but
 * other files and new files work. */
TEST_F_TIMEOUT(errs, mmu_fault_kills_context, 120)
{
	const struct drm_ember_device_info *info = ember_device_info(self->dev);
	struct ember_device *other, *fresh;
	struct drm_ember_perf perf0, perf1;
	char msg[EMBER_ERRMSG_SIZE];
	struct ember_op_matmul mm;
	struct ember_job ref;
	struct tg_mm p;
	uint64_t seqno;
	int st;

	ASSERT_EQ(0, ember_device_open(ember_device_path(self->dev), &other,
				       msg, sizeof(msg))) TH_LOG("%s", msg);
	ASSERT_EQ(0, ember_query_perf(self->dev, &perf0));
	matmul_op(_metadata, self, &p, &mm, &ref);
	mm.a_va = unmapped_va(info, (struct ember_bo *[]){
		ember_cmdbuf_bo(self->cb), p.a, p.w, p.c, p.bias }, 5, 64 * 1024);
	ASSERT_NE(0, mm.a_va) TH_LOG("no unmapped VA found");
	st = run_raw_ops(self, &mm, sizeof(mm), &ref);
	EXPECT_EQ(EMBER_JOB_MMU_FAULT, st) TH_LOG("status %d (%s): %s", st,
		  ember_status_name(st), ember_errmsg(self->dev));

	/* this file is dead: ioctl and io_uring both refuse with EBADFD */
	EXPECT_EQ(-EBADFD, ember_submit(self->dev, &self->nop, 1, &seqno));
	TH_LOG("libember: %s", ember_errmsg(self->dev));
	{
		struct ember_queue *q;
		struct ember_completion c;

		ASSERT_EQ(0, ember_queue_create(self->dev, 4, &q));
		ASSERT_EQ(0, ember_queue_push(q, &self->nop, 5));
		ASSERT_EQ(1, ember_queue_submit(q));
		ASSERT_EQ(1, ember_queue_wait(q, &c, 1, 1, 10 * SEC));
		EXPECT_EQ(-EBADFD, c.status);
		EXPECT_EQ(5, c.user_data);
		ember_queue_destroy(q);
	}
	ASSERT_EQ(0, ember_query_perf(self->dev, &perf1));
	EXPECT_LT(perf0.mmu_faults, perf1.mmu_faults);

	/* a file opened before the fault is unaffected; so is a new one */
	DEVICE_STILL_WORKS(other);
	ASSERT_EQ(0, ember_device_open(ember_device_path(self->dev), &fresh,
				       msg, sizeof(msg))) TH_LOG("%s", msg);
	DEVICE_STILL_WORKS(fresh);
	ember_device_close(fresh);
	ember_device_close(other);
	tg_mm_fini(&p);
}

/* An output buffer the job did not list is still in this file's address
 * space, so it is not a fault; but a freed buffer's VA is. */
TEST_F_TIMEOUT(errs, freed_buffer_faults, 120)
{
	struct ember_op_matmul mm;
	struct ember_job ref;
	struct tg_mm p;
	struct ember_device *fresh;
	char msg[EMBER_ERRMSG_SIZE];
	int st;

	matmul_op(_metadata, self, &p, &mm, &ref);
	/* free C: its VA must be unmapped from the device again */
	ember_bo_free(p.c);
	p.c = NULL;
	ref.bo_count = 2;	/* A, W */
	st = run_raw_ops(self, &mm, sizeof(mm), &ref);
	EXPECT_EQ(EMBER_JOB_MMU_FAULT, st) TH_LOG("status %d (%s)", st,
						  ember_status_name(st));
	tg_mm_fini(&p);
	ASSERT_EQ(0, ember_device_open(ember_device_path(self->dev), &fresh,
				       msg, sizeof(msg))) TH_LOG("%s", msg);
	DEVICE_STILL_WORKS(fresh);
	ember_device_close(fresh);
}

/* Submit one uring-cmd on a ring set up with @flags; return cqe->res. */
static int uring_one(int fd, unsigned flags, const struct drm_ember_job *j,
		     uint32_t cmd_op, int *setup_err)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int ret;

	*setup_err = io_uring_queue_init(4, &ring, flags);
	if (*setup_err)
		return 0;
	sqe = io_uring_get_sqe(&ring);
	memset(sqe, 0, (flags & IORING_SETUP_SQE128) ? 128 : 64);
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = cmd_op;
	/* only 16 bytes of payload fit a 64-byte SQE */
	memcpy((char *)sqe + 48, j,
	       (flags & IORING_SETUP_SQE128) ? sizeof(*j) : 16);
	sqe->user_data = 42;
	ret = io_uring_submit(&ring);
	if (ret == 1)
		ret = io_uring_wait_cqe(&ring, &cqe);
	if (ret >= 0) {
		ret = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
	return ret;
}

TEST_F(errs, uring_ring_flags)
{
	int serr, res;

	res = uring_one(self->fd, 0, &self->dnop, DRM_EMBER_URING_CMD_SUBMIT,
			&serr);
	ASSERT_EQ(0, serr);
	EXPECT_EQ(-EINVAL, res) TH_LOG("64-byte SQE, 16-byte CQE: res %d", res);
	res = uring_one(self->fd, IORING_SETUP_SQE128, &self->dnop,
			DRM_EMBER_URING_CMD_SUBMIT, &serr);
	ASSERT_EQ(0, serr);
	EXPECT_EQ(-EINVAL, res) TH_LOG("SQE128 without CQE32: res %d", res);
	res = uring_one(self->fd, IORING_SETUP_CQE32, &self->dnop,
			DRM_EMBER_URING_CMD_SUBMIT, &serr);
	ASSERT_EQ(0, serr);
	EXPECT_EQ(-EINVAL, res) TH_LOG("CQE32 without SQE128: res %d", res);
	res = uring_one(self->fd, IORING_SETUP_SQE128 | IORING_SETUP_CQE32 |
			IORING_SETUP_IOPOLL, &self->dnop,
			DRM_EMBER_URING_CMD_SUBMIT, &serr);
	if (!serr)
		EXPECT_EQ(-EOPNOTSUPP, res) TH_LOG("IOPOLL: res %d", res);
	/* the right ring works, and the payload is validated like SUBMIT */
	res = uring_one(self->fd, IORING_SETUP_SQE128 | IORING_SETUP_CQE32,
			&self->dnop, DRM_EMBER_URING_CMD_SUBMIT, &serr);
	ASSERT_EQ(0, serr);
	EXPECT_EQ(EMBER_JOB_OK, res);
	{
		struct drm_ember_job j = self->dnop;

		j.pad = 1;
		res = uring_one(self->fd, IORING_SETUP_SQE128 | IORING_SETUP_CQE32,
				&j, DRM_EMBER_URING_CMD_SUBMIT, &serr);
		EXPECT_EQ(-EINVAL, res);
		j = self->dnop;
		j.cmd_handle = 0xdead;
		res = uring_one(self->fd, IORING_SETUP_SQE128 | IORING_SETUP_CQE32,
				&j, DRM_EMBER_URING_CMD_SUBMIT, &serr);
		EXPECT_EQ(-ENOENT, res);
		j = self->dnop;
		j.cmd_size = 16 * 1024 * 1024;
		res = uring_one(self->fd, IORING_SETUP_SQE128 | IORING_SETUP_CQE32,
				&j, DRM_EMBER_URING_CMD_SUBMIT, &serr);
		EXPECT_EQ(-ERANGE, res);
	}
	DEVICE_STILL_WORKS(self->dev);
}

TEST_F(errs, wait_errors)
{
	struct drm_ember_wait w = { .seqno = 0, .timeout_ns = INT64_MAX };
	uint64_t seqno;

	EXPECT_EQ(EINVAL, ioctl_errno(self->fd, DRM_IOCTL_EMBER_WAIT, &w));
	ASSERT_EQ(0, ember_submit(self->dev, &self->nop, 1, &seqno));
	EXPECT_EQ(EMBER_JOB_OK, ember_wait(self->dev, seqno, 10 * SEC));
	w.seqno = seqno + 1000;	/* never issued */
	EXPECT_EQ(EINVAL, ioctl_errno(self->fd, DRM_IOCTL_EMBER_WAIT, &w));
	/* a finished job's status is kept: a past deadline is fine */
	w.seqno = seqno;
	w.timeout_ns = 0;
	EXPECT_EQ(0, drmIoctl(self->fd, DRM_IOCTL_EMBER_WAIT, &w));
	EXPECT_EQ(EMBER_JOB_OK, w.status);
	DEVICE_STILL_WORKS(self->dev);
}

/* A job long enough to still run right after its submission: 32 MATMULs of
 * 64x1024x1024 (2 G multiply-adds; the host reference does one). */
static int long_job(struct _test_data_errs *self, struct tg_mm *p,
		    struct ember_job *job)
{
	int i, ret;

	ret = tg_mm_init(self->dev, p, 64, 1024, 1024, EMBER_DTYPE_F32, 0,
			 0, 0, 77);
	if (ret)
		return ret;
	ember_cmdbuf_begin(self->cb);
	for (i = 0; i < 32 && !ret; i++)
		ret = tg_mm_add(self->cb, p);
	return ret ? ret : ember_cmdbuf_end(self->cb, job);
}

TEST_F_TIMEOUT(errs, wait_timeout_etime, 120)
{
	struct ember_job job;
	struct tg_mm p;
	uint64_t seqno;
	double t0, t1;
	int st;

	ASSERT_EQ(0, long_job(self, &p, &job)) TH_LOG("%s", ember_errmsg(self->dev));
	ASSERT_EQ(0, ember_submit(self->dev, &job, 1, &seqno));
	t0 = tg_now();
	st = ember_wait(self->dev, seqno, 0);
	t1 = tg_now();
	EXPECT_EQ(-ETIME, st) TH_LOG("status %d: the job finished within %.6f s?",
				     st, t1 - t0);
	TH_LOG("libember: %s", ember_errmsg(self->dev));
	/* a deadline in the past returns at once */
	EXPECT_GT(0.5, t1 - t0);
	st = ember_wait(self->dev, seqno, 60 * SEC);
	t1 = tg_now();
	EXPECT_EQ(EMBER_JOB_OK, st);
	TH_LOG("the long job took %.3f s", t1 - t0);
	{
		double worst, max_abs;
		char why[256] = "";

		EXPECT_EQ(0, tg_mm_check(&p, &worst, &max_abs, why, sizeof(why)))
			TH_LOG("%s", why);
	}
	tg_mm_fini(&p);
	DEVICE_STILL_WORKS(self->dev);
}

/* Tearing a ring down with jobs in flight: the jobs still run (the kernel
 * must cancel the CQEs, not the jobs, and not leak or crash). */
TEST_F_TIMEOUT(errs, uring_teardown_in_flight, 120)
{
	struct drm_ember_perf p0, p1;
	struct ember_queue *q;
	struct ember_job job;
	struct tg_mm p;
	uint64_t seqno;
	int i;

	ASSERT_EQ(0, long_job(self, &p, &job));
	ASSERT_EQ(0, ember_query_perf(self->dev, &p0));
	ASSERT_EQ(0, ember_queue_create(self->dev, 8, &q));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, ember_queue_push(q, &job, i));
	ASSERT_EQ(4, ember_queue_submit(q));
	ember_queue_destroy(q);
	/* a job after them completes after them (one timeline) */
	ASSERT_EQ(0, ember_submit(self->dev, &self->nop, 1, &seqno));
	EXPECT_EQ(EMBER_JOB_OK, ember_wait(self->dev, seqno, 60 * SEC))
		TH_LOG("%s", ember_errmsg(self->dev));
	ASSERT_EQ(0, ember_query_perf(self->dev, &p1));
	EXPECT_LE(p0.jobs + 5, p1.jobs);
	{
		double worst, max_abs;
		char why[256] = "";

		EXPECT_EQ(0, tg_mm_check(&p, &worst, &max_abs, why, sizeof(why)))
			TH_LOG("%s", why);
	}
	tg_mm_fini(&p);
	DEVICE_STILL_WORKS(self->dev);
}

TEST_HARNESS_MAIN
