// SPDX-License-Identifier: GPL-2.0-only
/*
 * Buffer objects: shmem-backed GEM objects, each mapped into its creator's
 * device address space for its whole life and mmap-able through the fd.
 */

#include <linux/slab.h>

#include <drm/drm_gem.h>
#include <drm/drm_prime.h>

#include "ember_drv.h"

static void ember_bo_free(struct drm_gem_object *obj)
{
	struct ember_device *edev = to_ember_device(obj->dev);
	struct ember_bo *bo = to_ember_bo(obj);
	struct ember_file *owner = bo->owner;

	if (owner)
		ember_mmu_unmap_bo(owner, bo);
	drm_gem_shmem_free(&bo->base);
	atomic_dec(&edev->bos_alive);
	/* last: the context may hold the last device reference */
	if (owner)
		ember_file_put(owner);
}

static const struct drm_gem_object_funcs ember_gem_funcs = {
	.free = ember_bo_free,
	.print_info = drm_gem_shmem_object_print_info,
	.pin = drm_gem_shmem_object_pin,
	.unpin = drm_gem_shmem_object_unpin,
	.get_sg_table = drm_gem_shmem_object_get_sg_table,
	.vmap = drm_gem_shmem_object_vmap,
	.vunmap = drm_gem_shmem_object_vunmap,
	.mmap = drm_gem_shmem_object_mmap,
	.vm_ops = &drm_gem_shmem_vm_ops,
};

struct drm_gem_object *ember_gem_create_object(struct drm_device *drm, size_t size)
{
	struct ember_bo *bo = kzalloc(sizeof(*bo), GFP_KERNEL);

	if (!bo)
		return ERR_PTR(-ENOMEM);
	bo->base.base.funcs = &ember_gem_funcs;
	/* the device snoops the CPU caches (QEMU DMA), so cached mappings are fine */
	bo->base.map_wc = false;
	return &bo->base.base;
}

/* Creates, maps and publishes a BO; outputs are read before the handle exists. */
int ember_bo_create(struct drm_file *file, u64 size, u32 *handle, u64 *dev_va,
		    u64 *mmap_offset)
{
	struct ember_file *efile = file->driver_priv;
	struct drm_gem_shmem_object *shmem;
	struct ember_bo *bo;
	int ret;

	shmem = drm_gem_shmem_create(file->minor->dev, size);
	if (IS_ERR(shmem))
		return PTR_ERR(shmem);
	bo = container_of(shmem, struct ember_bo, base);
	/* from here on every path ends in ember_bo_free() */
	atomic_inc(&to_ember_device(file->minor->dev)->bos_alive);

	ret = ember_mmu_map_bo(efile, bo);
	if (ret)
		goto out;
	/* only now may the free path unmap from this context */
	bo->owner = ember_file_get(efile);

	ret = ember_bo_mmap_offset(bo, mmap_offset);
	if (ret)
		goto out;
	*dev_va = bo->node.start;
	ret = drm_gem_handle_create(file, &shmem->base, handle);
out:
	/* the handle, if any, holds the object now */
	drm_gem_object_put(&shmem->base);
	return ret;
}

/*
 * Looks a handle up in @file. A BO that reached this file through PRIME but
 * lives in another file's address space is reported as unknown: its VA
 * means nothing here.
 */
struct ember_bo *ember_bo_lookup(struct drm_file *file, u32 handle)
{
	struct drm_gem_object *obj = drm_gem_object_lookup(file, handle);
	struct ember_bo *bo;

	if (!obj)
		return NULL;
	if (obj->funcs != &ember_gem_funcs) {
		drm_gem_object_put(obj);
		return NULL;
	}
	bo = to_ember_bo(obj);
	if (bo->owner != file->driver_priv) {
		drm_gem_object_put(obj);
		return NULL;
	}
	return bo;
}

int ember_bo_mmap_offset(struct ember_bo *bo, u64 *offset)
{
	int ret = drm_gem_create_mmap_offset(&bo->base.base);

	if (!ret)
		*offset = drm_vma_node_offset_addr(&bo->base.base.vma_node);
	return ret;
}
