// SPDX-License-Identifier: GPL-2.0-only
/*
 * Job submission: argument validation, job creation with its BO references,
 * BO collection and locking, implicit and syncobj dependencies, arming and
 * pushing to the file's entity; and freeing a job, the inverse of creating
 * it. Everything before the first arm can fail and undo; nothing after it.
 *
 * Seqnos: each file has one drm_sched entity, and the entity's finished
 * fences form the file's timeline; they are numbered 1, 2, 3... in arm
 * order, and arming happens under the file's submit_lock, so a submit's
 * jobs get consecutive seqnos.
 */

#include <linux/dma-fence.h>
#include <linux/dma-resv.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include <drm/drm_drv.h>
#include <drm/drm_syncobj.h>

#include "ember_drv.h"

void ember_job_free(struct ember_job *job)
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
