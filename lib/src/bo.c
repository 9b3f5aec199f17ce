// SPDX-License-Identifier: MIT
/* Buffers: shmem GEM objects with a device VA, mapped on demand. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xf86drm.h>

#include "internal.h"

int ember_bo_create(struct ember_device *dev, uint64_t size,
		    struct ember_bo **bop)
{
	struct drm_ember_bo_create req = { .size = size };
	struct ember_bo *bo;
	int err;

	*bop = NULL;
	if (!size)
		return ember_dev_fail(dev, -EINVAL, "ember_bo_create: size is 0");
	bo = calloc(1, sizeof(*bo));
	if (!bo)
		return ember_dev_fail(dev, -ENOMEM, "ember_bo_create: out of memory");
	if (drmIoctl(dev->fd, DRM_IOCTL_EMBER_BO_CREATE, &req)) {
		err = errno;
		free(bo);
		return ember_dev_fail(dev, ember_neg_errno(err),
			"BO_CREATE of %llu bytes failed: %s%s",
			(unsigned long long)size, strerror(err),
			err == E2BIG ? " (a buffer is at most 4 GiB: split it)" :
			err == ENOSPC ? " (this file's device address space is full: free buffers)" :
			err == ENOMEM ? " (out of memory: free buffers or use smaller ones)" : "");
	}
	bo->dev = dev;
	bo->handle = req.handle;
	bo->va = req.dev_va;
	bo->mmap_offset = req.mmap_offset;
	bo->size = (size + 4095) & ~(uint64_t)4095;
	pthread_mutex_init(&bo->map_lock, NULL);
	*bop = bo;
	return 0;
}

void ember_bo_free(struct ember_bo *bo)
{
	struct drm_gem_close gc;

	if (!bo)
		return;
	if (bo->map)
		munmap(bo->map, bo->size);
	memset(&gc, 0, sizeof(gc));
	gc.handle = bo->handle;
	drmIoctl(bo->dev->fd, DRM_IOCTL_GEM_CLOSE, &gc);
	pthread_mutex_destroy(&bo->map_lock);
	free(bo);
}

int ember_bo_map(struct ember_bo *bo, void **ptr)
{
	void *p;
	int err = 0;

	pthread_mutex_lock(&bo->map_lock);
	if (!bo->map) {
		p = mmap(NULL, bo->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 bo->dev->fd, (off_t)bo->mmap_offset);
		if (p == MAP_FAILED) {
			err = errno;
			pthread_mutex_unlock(&bo->map_lock);
			*ptr = NULL;
			return ember_dev_fail(bo->dev, ember_neg_errno(err),
				"mmap of buffer %u (%llu bytes) failed: %s%s",
				bo->handle, (unsigned long long)bo->size,
				strerror(err),
				err == ENOMEM || err == EAGAIN ?
				" (raise RLIMIT_MEMLOCK / vm.max_map_count or use fewer mappings)" : "");
		}
		bo->map = p;
	}
	*ptr = bo->map;
	pthread_mutex_unlock(&bo->map_lock);
	return err;
}

uint32_t ember_bo_handle(const struct ember_bo *bo)
{
	return bo->handle;
}

uint64_t ember_bo_va(const struct ember_bo *bo)
{
	return bo->va;
}

uint64_t ember_bo_size(const struct ember_bo *bo)
{
	return bo->size;
}

struct ember_device *ember_bo_device(const struct ember_bo *bo)
{
	return bo->dev;
}

int ember_bo_info(struct ember_device *dev, uint32_t handle,
		  struct drm_ember_bo_info *info)
{
	memset(info, 0, sizeof(*info));
	info->handle = handle;
	if (drmIoctl(dev->fd, DRM_IOCTL_EMBER_BO_INFO, info))
		return ember_dev_fail(dev, ember_neg_errno(errno),
			"BO_INFO of handle %u failed: %s%s", handle,
			strerror(errno),
			errno == ENOENT ? " (no such buffer in this file)" : "");
	return 0;
}
