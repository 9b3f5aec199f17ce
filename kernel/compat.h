/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shims over the kernel APIs that changed after 6.12, so the rest of the
 * driver calls one spelling. Only 6.12 is built and tested; the newer
 * branches document where upstream moved.
 */
#ifndef EMBER_COMPAT_H
#define EMBER_COMPAT_H

#include <linux/io_uring/cmd.h>
#include <linux/version.h>

#include <drm/gpu_scheduler.h>

static inline int ember_sched_init(struct drm_gpu_scheduler *sched,
				   const struct drm_sched_backend_ops *ops,
				   u32 credit_limit, long timeout,
				   const char *name, struct device *dev)
{
	/* 6.12: positional arguments; 6.15+ takes struct drm_sched_init_args. */
	return drm_sched_init(sched, ops, NULL, DRM_SCHED_PRIORITY_COUNT,
			      credit_limit, 0, timeout, NULL, NULL, name, dev);
}

static inline int ember_sched_job_init(struct drm_sched_job *job,
				       struct drm_sched_entity *entity,
				       void *owner)
{
	/* 6.17+ adds a client id argument. */
	return drm_sched_job_init(job, entity, 1, owner);
}

static inline void ember_sched_start(struct drm_gpu_scheduler *sched)
{
	/* 6.13+ takes an errno for the jobs it cancels. */
	drm_sched_start(sched);
}

static inline void ember_uring_cmd_done(struct io_uring_cmd *cmd, s32 res,
					u64 res2, unsigned int issue_flags)
{
	/* 6.18+: io_uring_cmd_done32() for big CQEs and an s32 result. */
	io_uring_cmd_done(cmd, res, res2, issue_flags);
}

#endif /* EMBER_COMPAT_H */
