// SPDX-License-Identifier: GPL-2.0-only
/*
 * The hardware ring while it runs: filling an entry and ringing the
 * doorbell (the scheduler's run_job), the hardware fences, retiring the
 * entries the device reports done, aborting what is left on reset or
 * removal, and the JOB_DONE and ERROR interrupt handlers. Kept apart from
 * the scheduler because this is the code that races the device and the
 * IRQs: the ring and ring_jobs[] only change here, under ring_lock.
 * (Programming the ring after probe or a reset is in ember_hw.c.)
 */

#include <linux/dma-fence.h>

#include <drm/drm_print.h>

#include "ember_drv.h"

#define EMBER_RING_MASK		(EMBER_RING_ENTRIES - 1)

static_assert((EMBER_RING_ENTRIES & EMBER_RING_MASK) == 0);
static_assert(sizeof(struct ember_hw_job) == 64);

static const char *ember_fence_driver_name(struct dma_fence *fence)
{
	return EMBER_DRIVER_NAME;
}

static const char *ember_fence_timeline_name(struct dma_fence *fence)
{
	return "ember-ring";
}

static const struct dma_fence_ops ember_fence_ops = {
	.get_driver_name = ember_fence_driver_name,
	.get_timeline_name = ember_fence_timeline_name,
};

/* ---- ring fill ---------------------------------------------------------- */

struct dma_fence *ember_run_job(struct drm_sched_job *sched_job)
{
	struct ember_job *job = to_ember_job(sched_job);
	struct ember_device *edev = job->edev;
	struct dma_fence *fence = job->hw_fence_mem;
	struct ember_hw_job *entry;
	unsigned long flags;
	u32 slot;

	/* a failed dependency or a dead context: do not run it */
	if (unlikely(sched_job->s_fence->finished.error || atomic_read(&job->file->bad))) {
		ember_rec_done(job->file, job->seqno, EMBER_JOB_ABORTED);
		return NULL;
	}
	/* prepare_job made sure a slot can be had: only run_job binds */
	if (unlikely(ember_mmu_bind_slot(job->file))) {
		ember_rec_done(job->file, job->seqno, EMBER_JOB_ABORTED);
		return ERR_PTR(-EBUSY);
	}

	spin_lock_irqsave(&edev->ring_lock, flags);
	if (unlikely(edev->stopping || edev->hw_dead ||
		     edev->ring_tail - edev->ring_head >= EMBER_RING_ENTRIES)) {
		spin_unlock_irqrestore(&edev->ring_lock, flags);
		ember_rec_done(job->file, job->seqno, EMBER_JOB_ABORTED);
		return ERR_PTR(-ENODEV);
	}
	job->hw_fence_mem = NULL;
	dma_fence_init(fence, &ember_fence_ops, &edev->fence_lock, edev->fence_context,
		       ++edev->fence_seqno);
	job->hw_fence = fence;

	slot = edev->ring_tail & EMBER_RING_MASK;
	entry = &edev->ring[slot];
	entry->seqno = job->seqno;
	entry->cmd_va = job->cmd_va;
	entry->cmd_size = job->cmd_size;
	entry->as_slot = job->file->as_slot;
	job->file->ring_jobs++;		/* its slot stays while this is queued */
	entry->flags = 0;
	entry->reserved = 0;
	entry->status = 0;
	entry->fault_op = 0;
	entry->fault_va = 0;
	entry->busy_ns = 0;
	entry->done_seqno = 0;
	edev->ring_jobs[slot] = job;
	edev->ring_tail++;
	/* the entry must be in memory before the doorbell */
	wmb();
	ember_wr32(edev, EMBER_REG_CQ_TAIL, edev->ring_tail);
	spin_unlock_irqrestore(&edev->ring_lock, flags);

	/* one reference for the scheduler, ours stays in job->hw_fence */
	return dma_fence_get(fence);
}

/* ---- completion -------------------------------------------------------- */

/* Records @status and signals the hardware fence. Called under ring_lock. */
static void ember_job_complete(struct ember_device *edev, struct ember_job *job, u32 status)
{
	job->file->ring_jobs--;
	job->status = status;
	if (status == EMBER_JOB_MMU_FAULT)
		atomic_set(&job->file->bad, 1);
	ember_rec_done(job->file, job->seqno, status);
	dma_fence_signal(job->hw_fence);
}

/* Retires every entry the device reports done. Called under ring_lock. */
void ember_ring_retire(struct ember_device *edev)
{
	u32 head = ember_rd32(edev, EMBER_REG_CQ_HEAD);

	if (head - edev->ring_head > edev->ring_tail - edev->ring_head) {
		drm_err_ratelimited(&edev->drm, "CQ_HEAD %u outside [%u, %u]: ignoring\n",
				    head, edev->ring_head, edev->ring_tail);
		return;
	}
	/* the device wrote the entries before it advanced HEAD */
	dma_rmb();
	while (edev->ring_head != head) {
		u32 slot = edev->ring_head & EMBER_RING_MASK;
		struct ember_hw_job *entry = &edev->ring[slot];
		struct ember_job *job = edev->ring_jobs[slot];
		u32 status = READ_ONCE(entry->status);

		if (READ_ONCE(entry->done_seqno) != entry->seqno || status > EMBER_JOB_FW_ERROR)
			status = EMBER_JOB_FW_ERROR;
		edev->ring_jobs[slot] = NULL;
		edev->ring_head++;
		if (job)
			ember_job_complete(edev, job, status);
	}
	if (edev->ring_head == edev->ring_tail)
		wake_up_all(&edev->idle_wq);
}

/*
 * A reference to the hardware fence of the oldest job in the ring, or NULL
 * when the ring is empty (ember_mmu_slot_wait).
 */
struct dma_fence *ember_ring_oldest_fence(struct ember_device *edev)
{
	struct dma_fence *fence = NULL;
	struct ember_job *job;

	spin_lock_irq(&edev->ring_lock);
	if (edev->ring_head != edev->ring_tail) {
		job = edev->ring_jobs[edev->ring_head & EMBER_RING_MASK];
		if (job && job->hw_fence)
			fence = dma_fence_get(job->hw_fence);
	}
	spin_unlock_irq(&edev->ring_lock);
	return fence;
}

/* Ends every job still in the ring: @bad gets TIMEOUT, the rest ABORTED. */
void ember_ring_abort(struct ember_device *edev, struct ember_job *bad)
{
	while (edev->ring_head != edev->ring_tail) {
		u32 slot = edev->ring_head & EMBER_RING_MASK;
		struct ember_job *job = edev->ring_jobs[slot];

		edev->ring_jobs[slot] = NULL;
		edev->ring_head++;
		if (job)
			ember_job_complete(edev, job,
					   job == bad ? EMBER_JOB_TIMEOUT : EMBER_JOB_ABORTED);
	}
	wake_up_all(&edev->idle_wq);
}

irqreturn_t ember_irq_job(int irq, void *arg)
{
	struct ember_device *edev = arg;

	spin_lock(&edev->ring_lock);
	if (edev->hw_dead) {
		spin_unlock(&edev->ring_lock);
		return IRQ_NONE;
	}
	/* clear before reading HEAD: a later completion raises a new interrupt */
	ember_wr32(edev, EMBER_REG_IRQ_STATUS, EMBER_IRQ_JOB_DONE);
	ember_ring_retire(edev);
	spin_unlock(&edev->ring_lock);
	return IRQ_HANDLED;
}

irqreturn_t ember_irq_error(int irq, void *arg)
{
	struct ember_device *edev = arg;
	u32 status, fault;
	bool reset = false;
	u64 addr;

	spin_lock(&edev->ring_lock);
	if (edev->hw_dead) {
		spin_unlock(&edev->ring_lock);
		return IRQ_NONE;
	}
	status = ember_rd32(edev, EMBER_REG_IRQ_STATUS) &
		 (EMBER_IRQ_MMU_FAULT | EMBER_IRQ_FW_ERROR | EMBER_IRQ_QUEUE_ERROR);
	ember_wr32(edev, EMBER_REG_IRQ_STATUS, status);

	if (status & EMBER_IRQ_MMU_FAULT) {
		fault = ember_rd32(edev, EMBER_REG_MMU_FAULT_STATUS);
		addr = ember_rd64(edev, EMBER_REG_MMU_FAULT_ADDR);
		if (fault & EMBER_MMU_FAULT_VALID) {
			u32 slot = EMBER_MMU_FAULT_SLOT(fault);
			struct ember_file *owner = NULL;

			if (slot < edev->num_as)
				owner = edev->as_owner[slot];
			/* the context is dead: its later submits get -EBADFD */
			if (owner)
				atomic_set(&owner->bad, 1);
			edev->mmu_faults_seen++;
			dev_warn_ratelimited(edev->drm.dev,
					     "MMU fault: AS %u %s at 0x%llx (reason %u)%s\n",
					     slot, fault & EMBER_MMU_FAULT_WRITE ? "write" : "read",
					     addr, EMBER_MMU_FAULT_REASON(fault),
					     owner ? ", context marked bad" : "");
			ember_wr32(edev, EMBER_REG_MMU_FAULT_STATUS, EMBER_MMU_FAULT_VALID);
		}
	}
	if (status & (EMBER_IRQ_FW_ERROR | EMBER_IRQ_QUEUE_ERROR)) {
		drm_err_ratelimited(&edev->drm, "device reports %s%s: recovering\n",
				    status & EMBER_IRQ_FW_ERROR ? "firmware error " : "",
				    status & EMBER_IRQ_QUEUE_ERROR ? "bad ring entry" : "");
		reset = true;
	}
	spin_unlock(&edev->ring_lock);

	/* runs the timeout handler now: it resets the device */
	if (reset) {
		WRITE_ONCE(edev->force_reset, true);
		drm_sched_fault(&edev->sched);
	}
	return status ? IRQ_HANDLED : IRQ_NONE;
}
