// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-file job status records and DRM_EMBER_WAIT.
 *
 * Each file keeps a ring of EMBER_STATUS_RECORDS {seqno, finished fence,
 * status} records, indexed by seqno. The submit path opens a record when it
 * arms a job, the ring or the scheduler closes it with the job's status, and
 * WAIT (ioctl and io_uring) reads it. Kept apart from the ring and the
 * scheduler because it is the only job state userspace can query.
 */

#include <linux/dma-fence.h>

#include <drm/drm_utils.h>

#include "ember_drv.h"

#define EMBER_REC_MASK		(EMBER_STATUS_RECORDS - 1)

static_assert((EMBER_STATUS_RECORDS & EMBER_REC_MASK) == 0);
static_assert(EMBER_MAX_INFLIGHT + EMBER_MAX_SUBMIT_JOBS <= EMBER_STATUS_RECORDS);

void ember_rec_start(struct ember_file *efile, u64 seqno, struct dma_fence *done)
{
	struct ember_status_rec *rec = &efile->recs[seqno & EMBER_REC_MASK];
	struct dma_fence *old;
	unsigned long flags;

	spin_lock_irqsave(&efile->rec_lock, flags);
	old = rec->done;
	rec->seqno = seqno;
	rec->done = dma_fence_get(done);
	rec->status = EMBER_JOB_ABORTED;
	rec->valid = false;
	efile->last_seqno = seqno;
	spin_unlock_irqrestore(&efile->rec_lock, flags);
	dma_fence_put(old);
}

void ember_rec_done(struct ember_file *efile, u64 seqno, u32 status)
{
	struct ember_status_rec *rec = &efile->recs[seqno & EMBER_REC_MASK];
	unsigned long flags;

	spin_lock_irqsave(&efile->rec_lock, flags);
	if (rec->seqno == seqno) {
		rec->status = status;
		rec->valid = true;
	}
	spin_unlock_irqrestore(&efile->rec_lock, flags);
}

/* Status of a completed job; ABORTED if it finished without running. */
int ember_job_status(struct ember_file *efile, u64 seqno, u32 *status)
{
	struct ember_status_rec *rec = &efile->recs[seqno & EMBER_REC_MASK];
	unsigned long flags;
	int ret = 0;

	spin_lock_irqsave(&efile->rec_lock, flags);
	if (rec->seqno != seqno)
		ret = -ENOENT;
	else
		*status = rec->valid ? rec->status : EMBER_JOB_ABORTED;
	spin_unlock_irqrestore(&efile->rec_lock, flags);
	return ret;
}

int ember_wait(struct ember_file *efile, u64 seqno, s64 timeout_ns, u32 *status)
{
	struct ember_status_rec *rec = &efile->recs[seqno & EMBER_REC_MASK];
	struct dma_fence *fence;
	unsigned long flags;
	long ret;

	if (!seqno)
		return -EINVAL;
	spin_lock_irqsave(&efile->rec_lock, flags);
	if (seqno > efile->last_seqno) {
		spin_unlock_irqrestore(&efile->rec_lock, flags);
		return -EINVAL;
	}
	if (rec->seqno != seqno) {
		spin_unlock_irqrestore(&efile->rec_lock, flags);
		return -ENOENT;
	}
	fence = dma_fence_get(rec->done);
	spin_unlock_irqrestore(&efile->rec_lock, flags);

	ret = dma_fence_wait_timeout(fence, true, drm_timeout_abs_to_jiffies(timeout_ns));
	dma_fence_put(fence);
	if (ret < 0)
		return ret;
	if (ret == 0)
		return -ETIME;
	return ember_job_status(efile, seqno, status);
}
