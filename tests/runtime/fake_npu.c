// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <drm/ember_accel.h>
#include <ember/fw.h>

#include "fake_hal.h"
#include "fake_npu.h"

struct fake_tp {
	struct fake_dev dev;
	struct fake_heap heap;
	struct ember_hal hal;
	struct fake_plan *plan;
	struct fake_plan own;	/* the plan when the test gave none */
	uint32_t caps_ops;
	size_t mib;
};

void fake_plan_init(struct fake_plan *p)
{
	memset(p, 0, sizeof(*p));
	p->fail_job = -1;
	p->fail_status = -1;
}

static int ft_alloc(void *ctx, uint64_t size, struct npu_buf *out, char *msg)
{
	struct fake_tp *f = ctx;

	(void)msg;
	memset(out, 0, sizeof(*out));
	out->va = fake_alloc(&f->heap, size, 4096);
	out->cpu = fake_dev_ptr(&f->dev, out->va);
	out->size = size;
	return 0;
}

static void ft_free(void *ctx, struct npu_buf *b)
{
	(void)ctx;
	memset(b, 0, sizeof(*b));
}

/* The plan's failure for this run: 0, or its return value. */
static int planned_failure(struct fake_plan *p, uint32_t n, char *msg, struct npu_failure *fail)
{
	bool now = p->fail_run && p->runs == p->fail_run;

	if (p->dead && p->fail_run && p->runs > p->fail_run) {
		fail->err = -ENODEV;
		snprintf(msg, NPU_MSG_SIZE, "submitting %u NPU jobs failed: the device is gone", n);
		return -ENODEV;
	}
	if (!now)
		return 0;
	if (p->scribble)
		p->scribble(p->scribble_arg);
	if (p->fail_status < 0) {
		fail->err = p->fail_err;
		snprintf(msg, NPU_MSG_SIZE, "submitting %u NPU jobs failed (%d)", n, p->fail_err);
		return p->fail_err;
	}
	*fail = (struct npu_failure){ .job = 0, .seqno = p->jobs + 1, .status = p->fail_status,
				      .err = -EIO };
	snprintf(msg, NPU_MSG_SIZE, "NPU job 1 of %u ended with status %d", n, p->fail_status);
	return -EIO;
}

static int ft_run(void *ctx, const struct npu_buf *cmd, const struct npu_job *jobs,
		  uint32_t n, const struct npu_buf *const *bufs, uint32_t n_bufs, char *msg,
		  struct npu_failure *fail)
{
	struct fake_tp *f = ctx;
	struct fake_plan *p = f->plan;
	int ret;

	(void)bufs;
	(void)n_bufs;
	*fail = (struct npu_failure){ .job = -1, .status = -1 };
	p->runs++;
	ret = planned_failure(p, n, msg, fail);
	if (ret)
		return ret;
	for (uint32_t i = 0; i < n; i++) {
		struct ember_job_result res;

		p->jobs++;
		memset(&res, 0, sizeof(res));
		if ((int)i == p->fail_job)
			res.status = EMBER_JOB_MMU_FAULT;
		else
			ember_fw_run_job(&f->hal, 0, cmd->va + jobs[i].cmd_off, jobs[i].cmd_size,
					 &res);
		if (res.status != EMBER_JOB_OK) {
			*fail = (struct npu_failure){ .job = (int)i, .seqno = p->jobs,
						      .status = (int)res.status, .err = -EIO };
			snprintf(msg, NPU_MSG_SIZE, "NPU job %u of %u ended with status %u (op %u)",
				 i + 1, n, res.status, res.fault_op);
			return -EIO;
		}
	}
	return 0;
}

static int ft_counters(void *ctx, uint64_t *rd, uint64_t *wr, uint64_t *copied)
{
	(void)ctx;
	*rd = *wr = *copied = 0;
	return 0;
}

static void ft_destroy(void *ctx)
{
	struct fake_tp *f = ctx;

	fake_dev_free(&f->dev);
	free(f);
}

static int ft_reopen(void *ctx, struct npu_transport *out, char *msg)
{
	struct fake_tp *f = ctx;

	if (f->plan->no_reopen || f->plan->dead) {
		snprintf(msg, NPU_MSG_SIZE, "cannot open the fake NPU again");
		return -ENODEV;
	}
	f->plan->reopens++;
	*out = fake_npu(f->caps_ops, f->mib, f->plan);
	return 0;
}

static const struct npu_transport_ops ft_ops = {
	.alloc = ft_alloc, .free = ft_free, .run = ft_run, .reopen = ft_reopen,
	.counters = ft_counters, .destroy = ft_destroy,
};

struct npu_transport fake_npu(uint32_t caps_ops, size_t mib, struct fake_plan *plan)
{
	struct fake_tp *f = calloc(1, sizeof(*f));
	struct npu_transport tp = { &ft_ops, f, { 0 } };

	if (!f || !fake_dev_init(&f->dev, mib << 8, true, 2))
		abort();
	fake_heap_init(&f->heap, &f->dev);
	f->hal = fake_dev_hal(&f->dev, caps_ops, ember_fw_caps_dtypes());
	f->caps_ops = caps_ops;
	f->mib = mib;
	fake_plan_init(&f->own);
	f->plan = plan ? plan : &f->own;
	tp.caps.ops = caps_ops;
	tp.caps.dtypes = ember_fw_caps_dtypes();
	tp.caps.fw_abi = EMBER_FW_ABI_MAJOR << 16 | EMBER_FW_ABI_MINOR;
	tp.caps.max_jobs = 256;
	snprintf(tp.caps.name, sizeof(tp.caps.name), "fake NPU");
	return tp;
}
