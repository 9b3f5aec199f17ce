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
 * jobs get consecutive seqnos. Between submits, the file's submission line
 * (below) decides the order.
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
 * Creates the jobs of one call: the argument checks, BO lookups and
 * references, the in-syncobj dependency and the list of BOs to lock. Nothing
 * is queued yet; ember_submit_fini() undoes it. On error @sub holds nothing.
 */
int ember_submit_prepare(struct drm_file *file, const struct drm_ember_job *args, u32 count,
			 u32 in_syncobj, struct ember_submit *sub)
{
	struct ember_file *efile = file->driver_priv;
	struct ember_device *edev = efile->edev;
	int ret, idx;
	u32 i;

	memset(sub, 0, sizeof(*sub));
	INIT_LIST_HEAD(&sub->node);
	sub->state = EMBER_LINE_OUT;
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

	sub->jobs = kcalloc(count, sizeof(*sub->jobs), GFP_KERNEL);
	if (!sub->jobs) {
		ret = -ENOMEM;
		goto out_dev;
	}
	sub->count = count;
	for (i = 0; i < count; i++) {
		ret = ember_job_create(file, &args[i], &sub->jobs[i]);
		if (ret)
			goto err;
	}

	if (in_syncobj) {
		struct drm_syncobj *sync = drm_syncobj_find(file, in_syncobj);
		struct dma_fence *fence;

		if (!sync) {
			ret = -ENOENT;
			goto err;
		}
		/* an unsignalled-and-unsubmitted binary syncobj has no fence: no wait */
		fence = drm_syncobj_fence_get(sync);
		drm_syncobj_put(sync);
		if (fence) {
			ret = drm_sched_job_add_dependency(&sub->jobs[0]->base, fence);
			if (ret)
				goto err;
		}
	}

	ret = ember_collect_bos(sub->jobs, count, &sub->objs, &sub->uses, &sub->n_objs);
	if (ret)
		goto err;
	drm_dev_exit(idx);
	return 0;

err:
	ember_submit_fini(sub);
out_dev:
	drm_dev_exit(idx);
	return ret;
}

/* Frees what ember_submit_prepare() made and ember_submit_queue() did not queue. */
void ember_submit_fini(struct ember_submit *sub)
{
	u32 i;

	for (i = 0; i < sub->count && sub->jobs[i]; i++)
		ember_job_destroy_unarmed(sub->jobs[i]);
	kfree(sub->jobs);
	kvfree(sub->objs);
	kvfree(sub->uses);
	sub->jobs = NULL;
	sub->count = 0;
	sub->objs = NULL;
	sub->uses = NULL;
}

/*
 * Queues the prepared jobs: dependencies from the BOs' reservation objects,
 * seqnos, the entity. Only the head of the file's line may call this. The
 * outcome is also left in @sub (ret, first_seqno, last_done). On error
 * nothing was queued; with @nonblock, -EAGAIN means that it would have had
 * to sleep and @sub can be queued again.
 */
int ember_submit_queue(struct ember_file *efile, struct ember_submit *sub, bool nonblock)
{
	struct ember_device *edev = efile->edev;
	struct drm_gem_object **objs = sub->objs;
	struct ember_job **jobs = sub->jobs;
	u32 n_objs = sub->n_objs, count = sub->count;
	struct ww_acquire_ctx ctx;
	struct dma_fence *last;
	int ret, idx;
	u32 i, j;

	if (!drm_dev_enter(&edev->drm, &idx)) {
		ret = -ENODEV;
		goto out;
	}
	if (READ_ONCE(edev->hw_dead)) {
		ret = -ENODEV;
		goto out_dev;
	}
	if (atomic_read(&efile->bad)) {
		ret = -EBADFD;
		goto out_dev;
	}

	if (nonblock) {
		if (!mutex_trylock(&efile->submit_lock)) {
			ret = -EAGAIN;
			goto out_dev;
		}
	} else {
		ret = mutex_lock_interruptible(&efile->submit_lock);
		if (ret)
			goto out_dev;
	}
	ret = ember_wait_room(efile, count, nonblock);
	if (ret)
		goto out_unlock;

	ret = ember_lock_bos(objs, n_objs, nonblock, &ctx);
	if (ret)
		goto out_unlock;
	for (i = 0; i < n_objs; i++) {
		ret = dma_resv_reserve_fences(objs[i]->resv, sub->uses[i]);
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
			sub->first_seqno = job->seqno;
		if (i == count - 1)
			last = dma_fence_get(done);
		drm_sched_entity_push_job(&job->base);
		/* the scheduler owns it now */
		jobs[i] = NULL;
	}
	ember_unlock_bos(objs, n_objs, nonblock, &ctx);
	mutex_unlock(&efile->submit_lock);
	sub->last_done = last;
	sub->count = 0;
	drm_dev_exit(idx);
	sub->ret = 0;
	return 0;

out_resv:
	ember_unlock_bos(objs, n_objs, nonblock, &ctx);
out_unlock:
	mutex_unlock(&efile->submit_lock);
out_dev:
	drm_dev_exit(idx);
out:
	sub->ret = ret;
	return ret;
}

/* ---- the submission line -------------------------------------------------- */

/*
 * Each file has one line of submits. A SUBMIT ioctl or io_uring SUBMIT
 * command joins it at the tail once its jobs are prepared and queues them
 * only when it is the head, so the file's calls are queued (get seqnos and
 * implicit dependencies) in the order they joined, whatever any of them has
 * to wait for. A submit always leaves the line, queued or failed or
 * cancelled, and then the next one's turn comes:
 *  - an ioctl waits for its turn in its own context (ember_line_wait_turn);
 *  - an io_uring command that cannot queue at once without sleeping stays in
 *    the line PARKED and returns -EIOCBQUEUED; the file's line worker queues
 *    it when it is the head. It is never handed back to io_uring (io-wq could
 *    drop it without the driver seeing it again, and the line would stall).
 *    Ring or task teardown cancels a PARKED command: it leaves the line.
 * Every submit in the line holds the file open (an ioctl in progress, an
 * io_uring request's file reference), so the line is empty at postclose.
 */

/*
 * Longer than one submit can take to queue (its wait for room in flight is
 * 4 job timeouts): a line that has not moved for this long is stuck.
 */
static unsigned long ember_line_timeout(void)
{
	unsigned long t = msecs_to_jiffies(ember_job_timeout_ms);

	return t > MAX_JIFFY_OFFSET / 8 ? MAX_JIFFY_OFFSET : 8 * t;
}

/*
 * Runs the line worker with a reference the caller took under line_lock
 * (while a submit in the line still pinned the file); the worker drops it
 * when it returns, or this does if the worker was already queued.
 */
static void ember_line_kick(struct ember_file *efile)
{
	if (!queue_work(system_unbound_wq, &efile->line_work))
		ember_file_put(efile);
}

/* Takes @sub out of the line; true if the head changed to a PARKED submit. */
static bool ember_line_remove_locked(struct ember_file *efile, struct ember_submit *sub)
{
	struct ember_submit *next;
	bool was_head;

	lockdep_assert_held(&efile->line_lock);
	was_head = list_first_entry(&efile->line, struct ember_submit, node) == sub;
	list_del_init(&sub->node);
	sub->state = EMBER_LINE_OUT;
	if (!was_head)
		return false;
	/* the next one's turn; waiters further back see progress */
	efile->line_moves++;
	wake_up_all(&efile->line_wq);
	next = list_first_entry_or_null(&efile->line, struct ember_submit, node);
	return next && next->state == EMBER_LINE_PARKED;
}

/*
 * Joins the line at the tail. At the head, @sub becomes BUSY and the caller
 * must queue it (or park it) and leave; elsewhere it takes @state (WAIT or
 * PARKED). A PARKED submit may be queued by the worker as soon as this
 * returns.
 */
bool ember_line_join(struct ember_file *efile, struct ember_submit *sub,
		     enum ember_line_state state)
{
	bool head;

	spin_lock(&efile->line_lock);
	head = list_empty(&efile->line);
	sub->state = head ? EMBER_LINE_BUSY : state;
	list_add_tail(&sub->node, &efile->line);
	spin_unlock(&efile->line_lock);
	return head;
}

/* The BUSY head hands itself to the line worker, keeping its place. */
void ember_line_park(struct ember_file *efile, struct ember_submit *sub)
{
	spin_lock(&efile->line_lock);
	sub->state = EMBER_LINE_PARKED;
	ember_file_get(efile);
	spin_unlock(&efile->line_lock);
	ember_line_kick(efile);
}

/* @sub leaves the line, wherever it is in it. */
void ember_line_leave(struct ember_file *efile, struct ember_submit *sub)
{
	bool kick;

	spin_lock(&efile->line_lock);
	kick = ember_line_remove_locked(efile, sub);
	if (kick)
		ember_file_get(efile);
	spin_unlock(&efile->line_lock);
	if (kick)
		ember_line_kick(efile);
}

/*
 * Cancels a PARKED submit: 1 if it left the line unqueued, 0 if it is not
 * in the line (queued or failed), -EBUSY if it is being queued right now.
 */
int ember_line_cancel(struct ember_file *efile, struct ember_submit *sub)
{
	bool kick = false;
	int ret;

	spin_lock(&efile->line_lock);
	switch (sub->state) {
	case EMBER_LINE_PARKED:
		kick = ember_line_remove_locked(efile, sub);
		if (kick)
			ember_file_get(efile);
		ret = 1;
		break;
	case EMBER_LINE_OUT:
		ret = 0;
		break;
	default:
		ret = -EBUSY;
		break;
	}
	spin_unlock(&efile->line_lock);
	if (kick)
		ember_line_kick(efile);
	return ret;
}

/* Wait condition: @sub's turn (then it is BUSY), or the line moved since @seen. */
static bool ember_line_turn(struct ember_file *efile, struct ember_submit *sub, u64 seen)
{
	bool ret;

	spin_lock(&efile->line_lock);
	if (list_first_entry(&efile->line, struct ember_submit, node) == sub)
		sub->state = EMBER_LINE_BUSY;
	ret = sub->state == EMBER_LINE_BUSY || efile->line_moves != seen;
	spin_unlock(&efile->line_lock);
	return ret;
}

/*
 * Joins the line and sleeps until it is @sub's turn: 0 with @sub the BUSY
 * head. Gives up, out of the line, on a signal or when the line has not
 * moved for ember_line_timeout() (-EAGAIN, as for no room in flight).
 */
static int ember_line_wait_turn(struct ember_file *efile, struct ember_submit *sub)
{
	long ret;
	u64 seen;

	if (ember_line_join(efile, sub, EMBER_LINE_WAIT))
		return 0;
	for (;;) {
		spin_lock(&efile->line_lock);
		seen = efile->line_moves;
		if (sub->state == EMBER_LINE_BUSY) {
			spin_unlock(&efile->line_lock);
			return 0;
		}
		spin_unlock(&efile->line_lock);
		ret = wait_event_interruptible_timeout(efile->line_wq,
						       ember_line_turn(efile, sub, seen),
						       ember_line_timeout());
		if (ret <= 0)
			break;
	}
	ember_line_leave(efile, sub);
	return ret < 0 ? ret : -EAGAIN;
}

/* Queues PARKED submits while one is the head. */
static void ember_line_work(struct work_struct *work)
{
	struct ember_file *efile = container_of(work, struct ember_file, line_work);
	struct ember_submit *sub;

	for (;;) {
		spin_lock(&efile->line_lock);
		sub = list_first_entry_or_null(&efile->line, struct ember_submit, node);
		if (!sub || sub->state != EMBER_LINE_PARKED) {
			spin_unlock(&efile->line_lock);
			break;
		}
		sub->state = EMBER_LINE_BUSY;
		spin_unlock(&efile->line_lock);

		ember_submit_queue(efile, sub, false);
		/* no kick: this loop takes the next PARKED head itself */
		spin_lock(&efile->line_lock);
		ember_line_remove_locked(efile, sub);
		spin_unlock(&efile->line_lock);
		/* may complete and free @sub */
		sub->queued(sub);
	}
	/* the kick's reference: may be the last */
	ember_file_put(efile);
}

void ember_line_init(struct ember_file *efile)
{
	spin_lock_init(&efile->line_lock);
	INIT_LIST_HEAD(&efile->line);
	init_waitqueue_head(&efile->line_wq);
	INIT_WORK(&efile->line_work, ember_line_work);
}

/*
 * The SUBMIT ioctl: queues @count jobs of @file after every call of the file
 * that joined the line before it. On error nothing was queued.
 */
int ember_submit(struct drm_file *file, const struct drm_ember_job *args, u32 count,
		 u32 in_syncobj, u32 out_syncobj, u64 *first_seqno)
{
	struct ember_file *efile = file->driver_priv;
	struct drm_syncobj *out_sync = NULL;
	struct ember_submit sub;
	int ret;

	ret = ember_submit_prepare(file, args, count, in_syncobj, &sub);
	if (ret)
		return ret;
	if (out_syncobj) {
		out_sync = drm_syncobj_find(file, out_syncobj);
		if (!out_sync) {
			ret = -ENOENT;
			goto out;
		}
	}

	ret = ember_line_wait_turn(efile, &sub);
	if (ret)
		goto out;
	ret = ember_submit_queue(efile, &sub, false);
	ember_line_leave(efile, &sub);
	if (ret)
		goto out;

	if (out_sync)
		drm_syncobj_replace_fence(out_sync, sub.last_done);
	*first_seqno = sub.first_seqno;
out:
	if (out_sync)
		drm_syncobj_put(out_sync);
	dma_fence_put(sub.last_done);
	ember_submit_fini(&sub);
	return ret;
}
