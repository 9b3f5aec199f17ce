// SPDX-License-Identifier: GPL-2.0-only
/*
 * The drm_sched backend: scheduler and per-file entity setup, freeing
 * finished jobs, device shutdown at removal, and timeout recovery. The ring
 * fill behind run_job is in ember_ring.c; this file decides what happens
 * around it.
 *
 * Recovery: the hung job is marked TIMEOUT, every other job in the ring
 * ABORTED (they are not resubmitted: a half-run job may have written its
 * outputs), the device is reset and the firmware re-booted. Jobs still in
 * the entities run afterwards as usual.
 */

#include <linux/dma-fence.h>
#include <linux/module.h>
#include <linux/sched.h>

#include <drm/drm_managed.h>
#include <drm/drm_print.h>

#include "ember_drv.h"

/* TCG runs the guest ~10x slower than hardware would; 5 s leaves margin. */
unsigned int ember_job_timeout_ms = 5000;
module_param_named(job_timeout_ms, ember_job_timeout_ms, uint, 0444);
MODULE_PARM_DESC(job_timeout_ms, "Job timeout in ms before the device is reset (default 5000)");

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

	mutex_lock(&edev->sched_lock);
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
	mutex_unlock(&edev->sched_lock);
	return DRM_GPU_SCHED_STAT_NOMINAL;
}

/* Waits for an address-space slot when every slot's file has jobs queued. */
static struct dma_fence *ember_prepare_job(struct drm_sched_job *sched_job,
					   struct drm_sched_entity *entity)
{
	return ember_mmu_slot_wait(to_ember_job(sched_job)->file);
}

static const struct drm_sched_backend_ops ember_sched_ops = {
	.prepare_job = ember_prepare_job,
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

/* The entity's jobs have all been handed to the scheduler (or it was killed). */
static bool ember_entity_drained(struct drm_sched_entity *entity)
{
	return !spsc_queue_count(&entity->job_queue);
}

void ember_job_file_fini(struct ember_file *efile)
{
	struct drm_sched_entity *entity = &efile->entity;
	struct ember_device *edev = efile->edev;
	struct drm_gpu_scheduler *sched = &edev->sched;

	/*
	 * Let the jobs queued here enter the ring: without a bound while the
	 * closing task lives (a fatal signal cuts it short), at most 1 s while
	 * it exits. A file released from a kernel thread (io_uring teardown or
	 * a delayed fput after its process died) has no process left to wait
	 * for, and a shared kworker must not sit out the device's queue. What
	 * is left is dropped below, as for a killed process.
	 */
	if (!(current->flags & PF_KTHREAD)) {
		if (current->flags & PF_EXITING)
			wait_event_timeout(sched->job_scheduled, ember_entity_drained(entity),
					   MAX_WAIT_SCHED_ENTITY_Q_EMPTY);
		else
			wait_event_killable(sched->job_scheduled,
					    ember_entity_drained(entity));
	}

	/*
	 * drm_sched_entity_flush() is not used: it kills a SIGKILLed task's
	 * entity itself, with the submit queue running. 6.12's
	 * drm_sched_entity_pop_job() puts the entity back into the run queue
	 * without looking at entity->stopped, so a pop racing the kill makes
	 * the killed entity selectable again, and the scheduler pops its queue
	 * while the kill drains it: a job both run and killed (oops in
	 * drm_sched_fence_finished from the kill's work). Stopping the submit
	 * queue around the kill rules that out. sched_lock keeps the timeout
	 * handler's drm_sched_start() from restarting it meanwhile.
	 */
	mutex_lock(&edev->sched_lock);
	drm_sched_wqueue_stop(sched);
	drm_sched_entity_fini(entity);
	drm_sched_wqueue_start(sched);
	mutex_unlock(&edev->sched_lock);
}
