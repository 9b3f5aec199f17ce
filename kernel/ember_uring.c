// SPDX-License-Identifier: GPL-2.0-only
/*
 * io_uring: IORING_OP_URING_CMD on the accel fd. DRM_EMBER_URING_CMD_SUBMIT
 * queues one job and posts its CQE when the job's finished fence signals:
 * res = job status, big_cqe[0] = seqno. The fence callback runs in IRQ
 * context, so the CQE is posted from task work.
 *
 * Order: the command takes its place in the file's submission line at its
 * first issue (ember_job.c) and is queued in that order. When it cannot be
 * queued at once without sleeping (not the head, the submit lock or a BO
 * taken, too many jobs in flight) it stays PARKED in the line and returns
 * -EIOCBQUEUED; the line worker queues it in its turn. It never returns
 * -EAGAIN, so io_uring never re-issues it from io-wq. From its first issue
 * on, it is cancelable: a cancel while it is PARKED takes it out of the line
 * and posts -ECANCELED (its job never runs); once the job is queued, the
 * cancel only drops the fence callback (the job still runs).
 */

#include <linux/dma-fence.h>
#include <linux/io_uring/cmd.h>
#include <linux/slab.h>

#include "ember_drv.h"

struct ember_uring_wait {
	struct ember_submit sub;	/* the job, and the seqno and fence once queued */
	struct dma_fence_cb cb;
	struct io_uring_cmd *cmd;
	struct ember_file *efile;
	s32 res;			/* CQE res: job status or -errno */
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
	dma_fence_put(wait->sub.last_done);
	ember_submit_fini(&wait->sub);
	ember_file_put(wait->efile);
	kfree(wait);
}

static u32 ember_uring_status(struct ember_uring_wait *wait)
{
	u32 status;

	if (ember_job_status(wait->efile, wait->sub.first_seqno, &status))
		status = EMBER_JOB_ABORTED;
	return status;
}

static void ember_uring_task_cb(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct ember_uring_wait *wait = ember_uring_wait_of(cmd);
	s32 res = wait->res;

	if (issue_flags & IO_URING_F_TASK_DEAD)
		res = -ECANCELED;
	ember_uring_cmd_done(cmd, res, wait->sub.first_seqno, issue_flags);
	ember_uring_wait_free(wait);
}

static void ember_uring_fence_cb(struct dma_fence *fence, struct dma_fence_cb *cb)
{
	struct ember_uring_wait *wait = container_of(cb, struct ember_uring_wait, cb);

	wait->res = ember_uring_status(wait);
	io_uring_cmd_complete_in_task(wait->cmd, ember_uring_task_cb);
}

/*
 * The line worker queued a PARKED command's job, or failed to: post the
 * error, or wait for the job. No issue_flags here, so the CQE is posted from
 * task work. @wait may be gone when this returns.
 */
static void ember_uring_parked_queued(struct ember_submit *sub)
{
	struct ember_uring_wait *wait = container_of(sub, struct ember_uring_wait, sub);

	if (sub->ret) {
		wait->res = sub->ret;
		io_uring_cmd_complete_in_task(wait->cmd, ember_uring_task_cb);
		return;
	}
	if (dma_fence_add_callback(sub->last_done, &wait->cb, ember_uring_fence_cb))
		ember_uring_fence_cb(sub->last_done, &wait->cb);	/* already signalled */
}

/*
 * Ring or task teardown: complete now unless the job is being queued (a
 * later cancel round comes back) or the fence callback got there first.
 */
static int ember_uring_cancel(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct ember_uring_wait *wait = ember_uring_wait_of(cmd);
	int ret;

	ret = ember_line_cancel(wait->efile, &wait->sub);
	if (ret > 0) {
		/* PARKED: out of the line, never queued */
		ember_uring_cmd_done(cmd, -ECANCELED, 0, issue_flags);
		ember_uring_wait_free(wait);
	} else if (!ret && wait->sub.last_done &&
		   dma_fence_remove_callback(wait->sub.last_done, &wait->cb)) {
		ember_uring_cmd_done(cmd, -ECANCELED, wait->sub.first_seqno, issue_flags);
		ember_uring_wait_free(wait);
	}
	return 0;
}

int ember_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	bool nonblock = issue_flags & IO_URING_F_NONBLOCK;
	struct drm_file *file = cmd->file->private_data;
	struct ember_file *efile = file->driver_priv;
	struct ember_uring_wait *wait;
	struct drm_ember_job job;
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

	/* the SQE is read once: this is the command's only issue */
	memcpy(&job, io_uring_sqe_cmd(cmd->sqe), sizeof(job));

	wait = kzalloc(sizeof(*wait), GFP_KERNEL);
	if (!wait)
		return -ENOMEM;
	INIT_LIST_HEAD(&wait->cb.node);
	ret = ember_submit_prepare(file, &job, 1, 0, &wait->sub);
	if (ret) {
		kfree(wait);
		return ret;
	}
	wait->sub.queued = ember_uring_parked_queued;
	wait->cmd = cmd;
	wait->efile = ember_file_get(efile);
	io_uring_cmd_to_pdu(cmd, struct ember_uring_pdu)->wait = wait;

	/*
	 * Cancelable before it can be seen in the line: from here on the
	 * command ends only through ember_uring_cmd_done(). A cancel before
	 * the job is queued or parked finds it out of the line with no fence.
	 */
	io_uring_cmd_mark_cancelable(cmd, issue_flags);
	if (!ember_line_join(efile, &wait->sub, EMBER_LINE_PARKED))
		return -EIOCBQUEUED;	/* the line worker queues it in its turn */

	ret = ember_submit_queue(efile, &wait->sub, nonblock);
	if (ret == -EAGAIN && nonblock) {
		/* it would sleep: the worker queues it, still at the head */
		ember_line_park(efile, &wait->sub);
		return -EIOCBQUEUED;
	}
	ember_line_leave(efile, &wait->sub);
	if (ret) {
		ember_uring_cmd_done(cmd, ret, 0, issue_flags);
		ember_uring_wait_free(wait);
		return -EIOCBQUEUED;
	}
	if (dma_fence_add_callback(wait->sub.last_done, &wait->cb, ember_uring_fence_cb)) {
		/* already signalled */
		ember_uring_cmd_done(cmd, ember_uring_status(wait), wait->sub.first_seqno,
				     issue_flags);
		ember_uring_wait_free(wait);
	}
	return -EIOCBQUEUED;
}
