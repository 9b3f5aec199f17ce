// SPDX-License-Identifier: GPL-2.0-only
/*
 * Jobs: submission (validation, BO references, implicit and syncobj
 * dependencies), the drm_sched backend that feeds the hardware ring,
 * completion from the JOB_DONE interrupt, per-file status records for
 * WAIT, and timeout recovery (soft reset + firmware re-boot).
 *
 * Seqnos: each file has one drm_sched entity, and the entity's finished
 * fences form the file's timeline; they are numbered 1, 2, 3... in arm
 * order, and arming happens under the file's submit_lock, so a submit's
 * jobs get consecutive seqnos.
 *
 * Recovery: the hung job is marked TIMEOUT, every other job in the ring
 * ABORTED (they are not resubmitted: a half-run job may have written its
 * outputs), the device is reset and the firmware re-booted. Jobs still in
 * the entities run afterwards as usual.
 */

#include <linux/delay.h>
#include <linux/dma-fence.h>
#include <linux/dma-resv.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include <drm/drm_drv.h>
#include <drm/drm_managed.h>
#include <drm/drm_print.h>
#include <drm/drm_syncobj.h>
#include <drm/drm_utils.h>

#include "ember_drv.h"

/* TCG runs the guest ~10x slower than hardware would; 5 s leaves margin. */
static unsigned int ember_job_timeout_ms = 5000;
module_param_named(job_timeout_ms, ember_job_timeout_ms, uint, 0444);
MODULE_PARM_DESC(job_timeout_ms, "Job timeout in ms before the device is reset (default 5000)");

#define EMBER_RING_MASK		(EMBER_RING_ENTRIES - 1)
#define EMBER_REC_MASK		(EMBER_STATUS_RECORDS - 1)

static_assert((EMBER_RING_ENTRIES & EMBER_RING_MASK) == 0);
static_assert((EMBER_STATUS_RECORDS & EMBER_REC_MASK) == 0);
static_assert(EMBER_MAX_INFLIGHT + EMBER_MAX_SUBMIT_JOBS <= EMBER_STATUS_RECORDS);
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

/* ---- status records ---------------------------------------------------- */

static void ember_rec_start(struct ember_file *efile, u64 seqno, struct dma_fence *done)
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

static void ember_rec_done(struct ember_file *efile, u64 seqno, u32 status)
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

/* ---- completion -------------------------------------------------------- */

/* Records @status and signals the hardware fence. Called under ring_lock. */
static void ember_job_complete(struct ember_device *edev, struct ember_job *job, u32 status)
{
	job->status = status;
	if (status == EMBER_JOB_MMU_FAULT)
		atomic_set(&job->file->bad, 1);
	ember_rec_done(job->file, job->seqno, status);
	dma_fence_signal(job->hw_fence);
}

/* Retires every entry the device reports done. Called under ring_lock. */
static void ember_ring_retire(struct ember_device *edev)
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

/* Ends every job still in the ring: @bad gets TIMEOUT, the rest ABORTED. */
static void ember_ring_abort(struct ember_device *edev, struct ember_job *bad)
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

/* ---- drm_sched backend ------------------------------------------------- */

static struct dma_fence *ember_run_job(struct drm_sched_job *sched_job)
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

static void ember_job_free(struct ember_job *job)
{
	struct ember_device *edev = job->edev;
	u32 i;

	for (i = 0; i < job->bo_count; i++)
		drm_gem_object_put(job->bos[i]);
	kvfree(job->bos);
	kvfree(job->bo_flags);
	if (job->hw_fence)
		dma_fence_put(job->hw_fence);
	kfree(job->hw_fence_mem);
	if (job->file) {
		ember_file_deactivate(job->file);
		ember_file_put(job->file);
	}
	kfree(job);
	if (atomic_dec_and_test(&edev->jobs_alive))
		wake_up_all(&edev->idle_wq);
	/* last: this may free the device */
	drm_dev_put(&edev->drm);
}

static void ember_free_work(struct work_struct *work)
{
	struct ember_device *edev = container_of(work, struct ember_device, free_work);
	struct llist_node *list = llist_del_all(&edev->free_list);
	struct ember_job *job, *next;

	/* each job holds a device reference: edev may be gone after the last */
	llist_for_each_entry_safe(job, next, list, free_node)
		ember_job_free(job);
}

static void ember_free_job(struct drm_sched_job *sched_job)
{
	struct ember_job *job = to_ember_job(sched_job);
	struct ember_device *edev = job->edev;
	struct ember_file *efile = job->file;

	drm_sched_job_cleanup(sched_job);
	if (atomic_dec_return(&efile->inflight) < EMBER_MAX_INFLIGHT)
		wake_up_all(&efile->inflight_wq);
	llist_add(&job->free_node, &edev->free_list);
	queue_work(system_wq, &edev->free_work);
}

static bool ember_job_hw_done(struct ember_device *edev, struct ember_job *job)
{
	unsigned long flags;
	bool done;

	spin_lock_irqsave(&edev->ring_lock, flags);
	if (!edev->hw_dead)
		ember_ring_retire(edev);
	done = !job->hw_fence || dma_fence_is_signaled(job->hw_fence);
	spin_unlock_irqrestore(&edev->ring_lock, flags);
	return done;
}

/* Puts the job back where drm_sched_job_timedout() took it from. */
static enum drm_gpu_sched_stat ember_job_keep(struct drm_sched_job *sched_job)
{
	struct drm_gpu_scheduler *sched = sched_job->sched;

	spin_lock(&sched->job_list_lock);
	list_add(&sched_job->list, &sched->pending_list);
	spin_unlock(&sched->job_list_lock);
	return DRM_GPU_SCHED_STAT_NOMINAL;
}

static enum drm_gpu_sched_stat ember_timedout_job(struct drm_sched_job *sched_job)
{
	struct ember_job *job = to_ember_job(sched_job);
	struct ember_device *edev = job->edev;
	unsigned long flags;
	bool dead;
	int ret;

	/* removal aborts everything itself */
	if (READ_ONCE(edev->stopping))
		return ember_job_keep(sched_job);
	/* a job that finished while the timer fired is no hang */
	if (!xchg(&edev->force_reset, false) && ember_job_hw_done(edev, job))
		return ember_job_keep(sched_job);

	drm_sched_stop(&edev->sched, sched_job);

	spin_lock_irqsave(&edev->ring_lock, flags);
	dead = edev->hw_dead;
	if (!dead)
		ember_ring_retire(edev);
	if (!dma_fence_is_signaled(job->hw_fence))
		edev->timeouts++;
	ember_ring_abort(edev, job);
	spin_unlock_irqrestore(&edev->ring_lock, flags);

	if (!dead) {
		drm_err(&edev->drm, "job %llu of AS %d ran over %u ms: resetting the device\n",
			job->seqno, job->file->as_slot, ember_job_timeout_ms);
		ember_hw_soft_reset(edev);
		ret = ember_fw_boot(edev, true);
		if (!ret)
			ret = ember_hw_start(edev);
		if (ret) {
			drm_err(&edev->drm, "recovery failed (%d): device disabled until reload\n",
				ret);
			spin_lock_irqsave(&edev->ring_lock, flags);
			edev->hw_dead = true;
			spin_unlock_irqrestore(&edev->ring_lock, flags);
		}
	}
	/* pending jobs end here (their fences were signalled above) */
	ember_sched_start(&edev->sched);
	return DRM_GPU_SCHED_STAT_NOMINAL;
}

static const struct drm_sched_backend_ops ember_sched_ops = {
	.run_job = ember_run_job,
	.timedout_job = ember_timedout_job,
	.free_job = ember_free_job,
};

static void ember_sched_fini_action(struct drm_device *drm, void *arg)
{
	struct ember_device *edev = arg;

	drm_sched_fini(&edev->sched);
}

int ember_job_init(struct ember_device *edev)
{
	int ret;

	init_llist_head(&edev->free_list);
	INIT_WORK(&edev->free_work, ember_free_work);
	edev->fence_context = dma_fence_context_alloc(1);
	ret = ember_sched_init(&edev->sched, &ember_sched_ops, EMBER_RING_ENTRIES,
			       msecs_to_jiffies(max(ember_job_timeout_ms, 100u)), "ember-ring",
			       edev->drm.dev);
	if (ret) {
		drm_err(&edev->drm, "scheduler init failed: %d\n", ret);
		return ret;
	}
	edev->sched_list[0] = &edev->sched;
	return drmm_add_action_or_reset(&edev->drm, ember_sched_fini_action, edev);
}

/* Device removal: let the ring drain for a while, then abort what is left. */
void ember_job_shutdown(struct ember_device *edev)
{
	struct drm_gpu_scheduler *sched = &edev->sched;
	unsigned long flags;

	spin_lock_irqsave(&edev->ring_lock, flags);
	edev->stopping = true;
	spin_unlock_irqrestore(&edev->ring_lock, flags);

	wait_event_timeout(edev->idle_wq,
			   READ_ONCE(edev->ring_head) == READ_ONCE(edev->ring_tail),
			   msecs_to_jiffies(ember_job_timeout_ms));

	spin_lock_irqsave(&edev->ring_lock, flags);
	ember_hw_stop(edev);
	edev->hw_dead = true;
	ember_ring_abort(edev, NULL);
	spin_unlock_irqrestore(&edev->ring_lock, flags);
	synchronize_irq(pci_irq_vector(edev->pdev, EMBER_MSIX_JOB));
	synchronize_irq(pci_irq_vector(edev->pdev, EMBER_MSIX_ERROR));
	cancel_delayed_work_sync(&sched->work_tdr);

	/*
	 * The scheduler frees finished jobs from its workqueue; module code
	 * must not run after removal, so wait for every job to be freed. Jobs
	 * of files still open are only killed when those files close, which
	 * cannot happen during rmmod (open files pin the module).
	 */
	if (!wait_event_timeout(edev->idle_wq, !atomic_read(&edev->jobs_alive),
				msecs_to_jiffies(ember_job_timeout_ms)))
		drm_warn(&edev->drm, "%d jobs still alive at removal\n",
			 atomic_read(&edev->jobs_alive));
	flush_work(&sched->work_free_job);
	flush_work(&edev->free_work);
}

int ember_job_file_init(struct ember_file *efile)
{
	return drm_sched_entity_init(&efile->entity, DRM_SCHED_PRIORITY_NORMAL,
				     efile->edev->sched_list, 1, NULL);
}

void ember_job_file_fini(struct ember_file *efile)
{
	drm_sched_entity_destroy(&efile->entity);
}

/* ---- submission -------------------------------------------------------- */

int ember_job_validate(const struct drm_ember_job *job)
{
	if (job->flags || job->pad)
		return -EINVAL;
	if (!job->cmd_size || job->cmd_size % 8 || job->cmd_offset % 8)
		return -EINVAL;
	if (job->bo_count > EMBER_MAX_JOB_BOS)
		return -E2BIG;
	return 0;
}

/* Adds @obj to the job's list once, merging usage flags of duplicates. */
static void ember_job_add_bo(struct ember_job *job, struct ember_bo *bo, u32 flags)
{
	struct drm_gem_object *obj = &bo->base.base;
	u32 i;

	for (i = 0; i < job->bo_count; i++) {
		if (job->bos[i] == obj) {
			job->bo_flags[i] |= flags;
			drm_gem_object_put(obj);
			return;
		}
	}
	job->bos[job->bo_count] = obj;
	job->bo_flags[job->bo_count] = flags;
	job->bo_count++;
}

static int ember_job_create(struct drm_file *file, const struct drm_ember_job *args,
			    struct ember_job **out)
{
	struct ember_file *efile = file->driver_priv;
	struct drm_ember_bo_ref *refs = NULL;
	struct ember_bo *bo;
	struct ember_job *job;
	int ret;
	u32 i;

	job = kzalloc(sizeof(*job), GFP_KERNEL);
	if (!job)
		return -ENOMEM;
	job->edev = efile->edev;
	drm_dev_get(&job->edev->drm);
	atomic_inc(&job->edev->jobs_alive);
	job->file = ember_file_get(efile);
	ember_file_activate(efile);
	job->status = EMBER_JOB_ABORTED;
	job->hw_fence_mem = kzalloc(sizeof(*job->hw_fence_mem), GFP_KERNEL);
	job->bos = kvcalloc(args->bo_count + 1, sizeof(*job->bos), GFP_KERNEL);
	job->bo_flags = kvcalloc(args->bo_count + 1, sizeof(*job->bo_flags), GFP_KERNEL);
	if (!job->hw_fence_mem || !job->bos || !job->bo_flags) {
		ret = -ENOMEM;
		goto err;
	}

	if (args->bo_count) {
		refs = kvmalloc_array(args->bo_count, sizeof(*refs), GFP_KERNEL);
		if (!refs) {
			ret = -ENOMEM;
			goto err;
		}
		if (copy_from_user(refs, u64_to_user_ptr(args->bos),
				   args->bo_count * sizeof(*refs))) {
			ret = -EFAULT;
			goto err;
		}
	}

	bo = ember_bo_lookup(file, args->cmd_handle);
	if (!bo) {
		ret = -ENOENT;
		goto err;
	}
	ember_job_add_bo(job, bo, DRM_EMBER_BO_READ);
	if ((u64)args->cmd_offset + args->cmd_size > bo->base.base.size) {
		ret = -ERANGE;
		goto err;
	}
	job->cmd_va = bo->node.start + args->cmd_offset;
	job->cmd_size = args->cmd_size;

	for (i = 0; i < args->bo_count; i++) {
		if (refs[i].flags & ~(DRM_EMBER_BO_READ | DRM_EMBER_BO_WRITE)) {
			ret = -EINVAL;
			goto err;
		}
		bo = ember_bo_lookup(file, refs[i].handle);
		if (!bo) {
			ret = -ENOENT;
			goto err;
		}
		ember_job_add_bo(job, bo, refs[i].flags);
	}
	kvfree(refs);

	ret = ember_sched_job_init(&job->base, &efile->entity, efile);
	if (ret) {
		ember_job_free(job);
		return ret;
	}
	*out = job;
	return 0;

err:
	kvfree(refs);
	ember_job_free(job);
	return ret;
}

static void ember_job_destroy_unarmed(struct ember_job *job)
{
	drm_sched_job_cleanup(&job->base);
	ember_job_free(job);
}

static int ember_cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

/* The distinct BOs of all jobs, sorted; @uses[i] = how many jobs list objs[i]. */
static int ember_collect_bos(struct ember_job **jobs, u32 count, struct drm_gem_object ***objs_out,
			     u32 **uses_out, u32 *n_out)
{
	struct drm_gem_object **objs;
	u32 total = 0, n = 0, i, j;
	u32 *uses;

	for (i = 0; i < count; i++)
		total += jobs[i]->bo_count;
	objs = kvmalloc_array(total, sizeof(*objs), GFP_KERNEL);
	uses = kvcalloc(total, sizeof(*uses), GFP_KERNEL);
	if (!objs || !uses) {
		kvfree(objs);
		kvfree(uses);
		return -ENOMEM;
	}
	for (i = 0; i < count; i++)
		for (j = 0; j < jobs[i]->bo_count; j++)
			objs[n++] = jobs[i]->bos[j];
	sort(objs, n, sizeof(*objs), ember_cmp_ptr, NULL);
	for (i = 0, j = 0; i < n; i++) {
		if (j && objs[j - 1] == objs[i]) {
			uses[j - 1]++;
			continue;
		}
		objs[j] = objs[i];
		uses[j++] = 1;
	}
	*objs_out = objs;
	*uses_out = uses;
	*n_out = j;
	return 0;
}

static void ember_unlock_bos(struct drm_gem_object **objs, u32 n, bool nonblock,
			     struct ww_acquire_ctx *ctx)
{
	u32 i;

	if (!nonblock) {
		drm_gem_unlock_reservations(objs, n, ctx);
		return;
	}
	for (i = 0; i < n; i++)
		dma_resv_unlock(objs[i]->resv);
}

static int ember_lock_bos(struct drm_gem_object **objs, u32 n, bool nonblock,
			  struct ww_acquire_ctx *ctx)
{
	u32 i;

	if (!nonblock)
		return drm_gem_lock_reservations(objs, n, ctx);
	/* io_uring inline issue must not sleep on a lock: try, else -EAGAIN */
	for (i = 0; i < n; i++) {
		if (!dma_resv_trylock(objs[i]->resv)) {
			while (i--)
				dma_resv_unlock(objs[i]->resv);
			return -EAGAIN;
		}
	}
	return 0;
}

static int ember_wait_room(struct ember_file *efile, u32 count, bool nonblock)
{
	long ret;

	if (atomic_read(&efile->inflight) + count <= EMBER_MAX_INFLIGHT)
		return 0;
	if (nonblock)
		return -EAGAIN;
	ret = wait_event_interruptible_timeout(efile->inflight_wq,
					       atomic_read(&efile->inflight) + count <=
					       EMBER_MAX_INFLIGHT,
					       msecs_to_jiffies(4 * ember_job_timeout_ms));
	if (ret < 0)
		return ret;
	return ret ? 0 : -EAGAIN;
}

/*
 * Queues @count jobs of @file. All checks and allocations happen before the
 * first job is armed, so on error nothing was queued. @last_done, if not
 * NULL, receives a reference to the last job's finished fence.
 */
int ember_submit(struct drm_file *file, const struct drm_ember_job *args, u32 count,
		 u32 in_syncobj, u32 out_syncobj, bool nonblock, u64 *first_seqno,
		 struct dma_fence **last_done)
{
	struct ember_file *efile = file->driver_priv;
	struct ember_device *edev = efile->edev;
	struct drm_syncobj *out_sync = NULL;
	struct drm_gem_object **objs = NULL;
	struct ember_job **jobs;
	struct ww_acquire_ctx ctx;
	struct dma_fence *last;
	u32 *uses = NULL;
	u32 n_objs, i, j;
	int ret, idx;

	if (!count)
		return -EINVAL;
	if (count > EMBER_MAX_SUBMIT_JOBS)
		return -E2BIG;
	for (i = 0; i < count; i++) {
		ret = ember_job_validate(&args[i]);
		if (ret)
			return ret;
	}
	if (!drm_dev_enter(&edev->drm, &idx))
		return -ENODEV;
	if (READ_ONCE(edev->hw_dead)) {
		ret = -ENODEV;
		goto out_dev;
	}
	if (atomic_read(&efile->bad)) {
		ret = -EBADFD;
		goto out_dev;
	}

	jobs = kcalloc(count, sizeof(*jobs), GFP_KERNEL);
	if (!jobs) {
		ret = -ENOMEM;
		goto out_dev;
	}
	for (i = 0; i < count; i++) {
		ret = ember_job_create(file, &args[i], &jobs[i]);
		if (ret)
			goto out_jobs;
	}

	if (in_syncobj) {
		struct drm_syncobj *sync = drm_syncobj_find(file, in_syncobj);
		struct dma_fence *fence;

		if (!sync) {
			ret = -ENOENT;
			goto out_jobs;
		}
		/* an unsignalled-and-unsubmitted binary syncobj has no fence: no wait */
		fence = drm_syncobj_fence_get(sync);
		drm_syncobj_put(sync);
		if (fence) {
			ret = drm_sched_job_add_dependency(&jobs[0]->base, fence);
			if (ret)
				goto out_jobs;
		}
	}
	if (out_syncobj) {
		out_sync = drm_syncobj_find(file, out_syncobj);
		if (!out_sync) {
			ret = -ENOENT;
			goto out_jobs;
		}
	}

	ret = ember_collect_bos(jobs, count, &objs, &uses, &n_objs);
	if (ret)
		goto out_sync;

	if (nonblock) {
		if (!mutex_trylock(&efile->submit_lock)) {
			ret = -EAGAIN;
			goto out_objs;
		}
	} else {
		ret = mutex_lock_interruptible(&efile->submit_lock);
		if (ret)
			goto out_objs;
	}
	ret = ember_wait_room(efile, count, nonblock);
	if (ret)
		goto out_unlock;

	ret = ember_lock_bos(objs, n_objs, nonblock, &ctx);
	if (ret)
		goto out_unlock;
	for (i = 0; i < n_objs; i++) {
		ret = dma_resv_reserve_fences(objs[i]->resv, uses[i]);
		if (ret)
			goto out_resv;
	}
	for (i = 0; i < count; i++) {
		for (j = 0; j < jobs[i]->bo_count; j++) {
			u32 flags = jobs[i]->bo_flags[j];

			if (!flags)
				continue;
			ret = drm_sched_job_add_implicit_dependencies(&jobs[i]->base,
								      jobs[i]->bos[j],
								      flags & DRM_EMBER_BO_WRITE);
			if (ret)
				goto out_resv;
		}
	}

	/* point of no return: arm and queue every job in order */
	last = NULL;
	for (i = 0; i < count; i++) {
		struct ember_job *job = jobs[i];
		struct dma_fence *done;

		drm_sched_job_arm(&job->base);
		done = &job->base.s_fence->finished;
		job->seqno = done->seqno;
		ember_rec_start(efile, job->seqno, done);
		atomic_inc(&efile->inflight);
		for (j = 0; j < job->bo_count; j++) {
			u32 flags = job->bo_flags[j];

			if (flags)
				dma_resv_add_fence(job->bos[j]->resv, done,
						   flags & DRM_EMBER_BO_WRITE ?
						   DMA_RESV_USAGE_WRITE : DMA_RESV_USAGE_READ);
		}
		if (i == 0)
			*first_seqno = job->seqno;
		if (i == count - 1)
			last = dma_fence_get(done);
		drm_sched_entity_push_job(&job->base);
	}
	ember_unlock_bos(objs, n_objs, nonblock, &ctx);
	mutex_unlock(&efile->submit_lock);

	if (out_sync) {
		drm_syncobj_replace_fence(out_sync, last);
		drm_syncobj_put(out_sync);
	}
	if (last_done)
		*last_done = last;
	else
		dma_fence_put(last);
	kvfree(objs);
	kvfree(uses);
	kfree(jobs);
	drm_dev_exit(idx);
	return 0;

out_resv:
	ember_unlock_bos(objs, n_objs, nonblock, &ctx);
out_unlock:
	mutex_unlock(&efile->submit_lock);
out_objs:
	kvfree(objs);
	kvfree(uses);
out_sync:
	if (out_sync)
		drm_syncobj_put(out_sync);
out_jobs:
	for (i = 0; i < count && jobs[i]; i++)
		ember_job_destroy_unarmed(jobs[i]);
	kfree(jobs);
out_dev:
	drm_dev_exit(idx);
	return ret;
}
