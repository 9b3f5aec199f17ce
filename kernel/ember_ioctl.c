// SPDX-License-Identifier: GPL-2.0-only
/*
 * The ioctls of uapi/drm/ember_accel.h: argument checks and copies; the
 * work is done in ember_gem.c and ember_job.c.
 */

#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <drm/drm_drv.h>
#include <drm/drm_ioctl.h>

#include "ember_drv.h"

/* Submit stride above this is certainly a bug, not a newer struct. */
#define EMBER_MAX_JOB_STRIDE	256u

static int ember_ioctl_get_param(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct ember_device *edev = to_ember_device(drm);
	struct ember_file *efile = file->driver_priv;
	struct drm_ember_get_param *args = data;

	if (args->pad)
		return -EINVAL;

	switch (args->param) {
	case DRM_EMBER_PARAM_PCI_DEVICE_ID:
		args->value = edev->pdev->device;
		break;
	case DRM_EMBER_PARAM_HW_VERSION:
		args->value = edev->hw_version;
		break;
	case DRM_EMBER_PARAM_CAPS_OPS:
		args->value = edev->caps_ops;
		break;
	case DRM_EMBER_PARAM_CAPS_DTYPES:
		args->value = edev->caps_dtypes;
		break;
	case DRM_EMBER_PARAM_FW_ABI_VERSION:
		args->value = (u32)edev->fw.abi_major << 16 | edev->fw.abi_minor;
		break;
	case DRM_EMBER_PARAM_FW_BUILD_ID:
		args->value = edev->fw.build_id;
		break;
	case DRM_EMBER_PARAM_VA_START:
		args->value = EMBER_VA_START;
		break;
	case DRM_EMBER_PARAM_VA_SIZE:
		args->value = efile->mmu.va_size;
		break;
	case DRM_EMBER_PARAM_COMPUTE_UNITS:
		args->value = edev->compute_units;
		break;
	case DRM_EMBER_PARAM_MAX_SUBMIT_JOBS:
		args->value = EMBER_MAX_SUBMIT_JOBS;
		break;
	case DRM_EMBER_PARAM_MAX_JOB_BOS:
		args->value = EMBER_MAX_JOB_BOS;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

static void ember_fill_device_info(struct ember_device *edev, struct ember_file *efile,
				   struct drm_ember_device_info *info)
{
	info->pci_vendor = edev->pdev->vendor;
	info->pci_device = edev->pdev->device;
	info->hw_version = edev->hw_version;
	info->fw_abi_version = (u32)edev->fw.abi_major << 16 | edev->fw.abi_minor;
	info->fw_build_id = edev->fw.build_id;
	info->caps_ops = edev->caps_ops;
	info->caps_dtypes = edev->caps_dtypes;
	info->va_start = EMBER_VA_START;
	info->va_size = efile->mmu.va_size;
	info->compute_units = edev->compute_units;
	info->queue_depth = EMBER_RING_ENTRIES;
	info->max_submit_jobs = EMBER_MAX_SUBMIT_JOBS;
	info->max_job_bos = EMBER_MAX_JOB_BOS;
	strscpy(info->fw_version, edev->fw.version, sizeof(info->fw_version));
}

static int ember_ioctl_query(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct ember_device *edev = to_ember_device(drm);
	struct drm_ember_query *args = data;
	union {
		struct drm_ember_device_info info;
		struct drm_ember_perf perf;
	} u = {};
	u32 size;
	int idx;

	switch (args->type) {
	case DRM_EMBER_QUERY_DEVICE_INFO:
		size = sizeof(u.info);
		if (args->size)
			ember_fill_device_info(edev, file->driver_priv, &u.info);
		break;
	case DRM_EMBER_QUERY_PERF:
		size = sizeof(u.perf);
		if (args->size) {
			if (!drm_dev_enter(drm, &idx))
				return -ENODEV;
			ember_hw_read_perf(edev, &u.perf);
			drm_dev_exit(idx);
		}
		break;
	default:
		return -EINVAL;
	}

	if (args->size &&
	    copy_to_user(u64_to_user_ptr(args->ptr), &u, min(args->size, size)))
		return -EFAULT;
	args->size = size;
	return 0;
}

static int ember_ioctl_bo_create(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct drm_ember_bo_create *args = data;
	u64 size;

	if (args->flags || !args->size)
		return -EINVAL;
	if (args->size > EMBER_MAX_BO_SIZE)
		return -E2BIG;
	size = ALIGN(args->size, EMBER_PAGE_SIZE);

	return ember_bo_create(file, size, &args->handle, &args->dev_va, &args->mmap_offset);
}

static int ember_ioctl_bo_info(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct drm_ember_bo_info *args = data;
	struct ember_bo *bo;
	int ret;

	if (args->pad)
		return -EINVAL;
	bo = ember_bo_lookup(file, args->handle);
	if (!bo)
		return -ENOENT;
	args->size = bo->base.base.size;
	args->dev_va = bo->node.start;
	ret = ember_bo_mmap_offset(bo, &args->mmap_offset);
	drm_gem_object_put(&bo->base.base);
	return ret;
}

static int ember_ioctl_submit(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct drm_ember_submit *args = data;
	const u8 __user *src = u64_to_user_ptr(args->jobs);
	struct drm_ember_job *jobs;
	u32 i;
	int ret;

	if (args->flags || args->pad)
		return -EINVAL;
	if (!args->job_count)
		return -EINVAL;
	if (args->job_count > EMBER_MAX_SUBMIT_JOBS)
		return -E2BIG;
	if (args->job_stride < sizeof(*jobs) || args->job_stride > EMBER_MAX_JOB_STRIDE)
		return -EINVAL;

	jobs = kvmalloc_array(args->job_count, sizeof(*jobs), GFP_KERNEL);
	if (!jobs)
		return -ENOMEM;
	for (i = 0; i < args->job_count; i++) {
		/* a larger stride is a newer struct: its extra bytes must be zero */
		ret = copy_struct_from_user(&jobs[i], sizeof(*jobs),
					    src + (size_t)i * args->job_stride, args->job_stride);
		if (ret) {
			ret = ret == -E2BIG ? -EINVAL : ret;
			goto out;
		}
	}
	ret = ember_submit(file, jobs, args->job_count, args->in_syncobj, args->out_syncobj,
			   &args->seqno);
out:
	kvfree(jobs);
	return ret;
}

static int ember_ioctl_wait(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct drm_ember_wait *args = data;

	if (args->flags)
		return -EINVAL;
	return ember_wait(file->driver_priv, args->seqno, args->timeout_ns, &args->status);
}

const struct drm_ioctl_desc ember_ioctls[EMBER_NUM_IOCTLS] = {
	DRM_IOCTL_DEF_DRV(EMBER_GET_PARAM, ember_ioctl_get_param, 0),
	DRM_IOCTL_DEF_DRV(EMBER_QUERY, ember_ioctl_query, 0),
	DRM_IOCTL_DEF_DRV(EMBER_BO_CREATE, ember_ioctl_bo_create, 0),
	DRM_IOCTL_DEF_DRV(EMBER_BO_INFO, ember_ioctl_bo_info, 0),
	DRM_IOCTL_DEF_DRV(EMBER_SUBMIT, ember_ioctl_submit, 0),
	DRM_IOCTL_DEF_DRV(EMBER_WAIT, ember_ioctl_wait, 0),
};
