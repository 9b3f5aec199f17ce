// SPDX-License-Identifier: GPL-2.0-only
/*
 * io_uring: IORING_OP_URING_CMD on the accel fd. DRM_EMBER_URING_CMD_SUBMIT
 * queues one job and posts its CQE when the job's finished fence signals:
 * res = job status, big_cqe[0] = seqno. The fence callback runs in IRQ
 * context, so the CQE is posted from task work.
 */

#include <linux/dma-fence.h>
#include <linux/io_uring/cmd.h>
#include <linux/slab.h>

#include "ember_drv.h"

struct ember_uring_wait {
	struct dma_fence_cb cb;
	struct dma_fence *fence;
	struct io_uring_cmd *cmd;
	struct ember_file *efile;
	u64 seqno;
	u32 status;
};

struct ember_uring_pdu {
	struct ember_uring_wait *wait;
};

static struct ember_uring_wait *ember_uring_wait_of(struct io_uring_cmd *cmd)
{
	return io_uring_cmd_to_pdu(cmd, struct ember_uring_pdu)->wait;
}

static void ember_uring_wait_free(struct ember_uring_wait *wait)
{
	dma_fence_put(wait->fence);
	ember_file_put(wait->efile);
	kfree(wait);
}

static u32 ember_uring_status(struct ember_uring_wait *wait)
{
	u32 status;

	if (ember_job_status(wait->efile, wait->seqno, &status))
		status = EMBER_JOB_ABORTED;
	return status;
}

static void ember_uring_task_cb(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct ember_uring_wait *wait = ember_uring_wait_of(cmd);
	s32 res = wait->status;

	if (issue_flags & IO_URING_F_TASK_DEAD)
		res = -ECANCELED;
	ember_uring_cmd_done(cmd, res, wait->seqno, issue_flags);
	ember_uring_wait_free(wait);
}

static void ember_uring_fence_cb(struct dma_fence *fence, struct dma_fence_cb *cb)
{
	struct ember_uring_wait *wait = container_of(cb, struct ember_uring_wait, cb);

	wait->status = ember_uring_status(wait);
	io_uring_cmd_complete_in_task(wait->cmd, ember_uring_task_cb);
}

/* Ring or task teardown: complete now unless the fence callback got there first. */
static int ember_uring_cancel(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct ember_uring_wait *wait = ember_uring_wait_of(cmd);

	if (dma_fence_remove_callback(wait->fence, &wait->cb)) {
		ember_uring_cmd_done(cmd, -ECANCELED, wait->seqno, issue_flags);
		ember_uring_wait_free(wait);
	}
	return 0;
}

int ember_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct drm_file *file = cmd->file->private_data;
	struct ember_file *efile = file->driver_priv;
	struct ember_uring_wait *wait;
	struct drm_ember_job job;
	struct dma_fence *fence;
	u64 seqno;
	int ret;

	if (issue_flags & IO_URING_F_CANCEL)
		return ember_uring_cancel(cmd, issue_flags);
	if (issue_flags & IO_URING_F_IOPOLL)
		return -EOPNOTSUPP;
	/* the payload needs 128-byte SQEs, the seqno a 32-byte CQE */
	if ((issue_flags & (IO_URING_F_SQE128 | IO_URING_F_CQE32)) !=
	    (IO_URING_F_SQE128 | IO_URING_F_CQE32))
		return -EINVAL;
	if (cmd->cmd_op != DRM_EMBER_URING_CMD_SUBMIT)
		return -EINVAL;

	memcpy(&job, io_uring_sqe_cmd(cmd->sqe), sizeof(job));

	/* allocated first: nothing may fail once the job is queued */
	wait = kzalloc(sizeof(*wait), GFP_KERNEL);
	if (!wait)
		return -ENOMEM;
	INIT_LIST_HEAD(&wait->cb.node);

	ret = ember_submit(file, &job, 1, 0, 0, issue_flags & IO_URING_F_NONBLOCK, &seqno,
			   &fence);
	if (ret) {
		kfree(wait);
		return ret;
	}
	wait->fence = fence;
	wait->cmd = cmd;
	wait->efile = ember_file_get(efile);
	wait->seqno = seqno;
	io_uring_cmd_to_pdu(cmd, struct ember_uring_pdu)->wait = wait;

	/* cancelable before the callback exists: a cancel in between finds no callback */
	io_uring_cmd_mark_cancelable(cmd, issue_flags);
	if (dma_fence_add_callback(fence, &wait->cb, ember_uring_fence_cb)) {
		/* already signalled */
		ember_uring_cmd_done(cmd, ember_uring_status(wait), seqno, issue_flags);
		ember_uring_wait_free(wait);
	}
	return -EIOCBQUEUED;
}
