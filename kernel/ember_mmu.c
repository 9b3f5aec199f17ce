// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-file device address spaces: the 3-level page tables the device walks,
 * the drm_mm VA allocator, and the address-space slots the roots are bound
 * to. A file can only name VAs of its own tables, so no process reaches
 * another one's memory through the device.
 *
 * Any number of files share the EMBER_NUM_AS slots, as panfrost shares its
 * address-space slots: a file is bound to a slot when one of its jobs is
 * about to run (run_job), to a free slot or else to the least recently used
 * one whose file has no job in the hardware ring; it keeps the slot until
 * another file takes it that way or its context dies. A job that finds
 * every slot's file with jobs in the ring waits (prepare_job) for the
 * oldest job in the ring to finish.
 */

#include <linux/dma-mapping.h>
#include <linux/moduleparam.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include <drm/drm_drv.h>
#include <drm/drm_print.h>

#include "ember_drv.h"

/* Unmapped VA left after every BO so an overrun faults instead of landing in a neighbour. */
#define EMBER_BO_GUARD	EMBER_PAGE_SIZE

/* Filling 511 GiB of VA takes 255 GiB of pinned pages: a smaller range lets tests reach ENOSPC. */
static unsigned int ember_va_size_mb;
module_param_named(va_size_mb, ember_va_size_mb, uint, 0644);
MODULE_PARM_DESC(va_size_mb, "Per-file device VA range in MiB for files opened later (default 0: all 511 GiB)");

static struct ember_pt *ember_pt_alloc(struct ember_device *edev, bool leaf)
{
	struct ember_pt *pt = kzalloc(sizeof(*pt), GFP_KERNEL);

	if (!pt)
		return NULL;
	pt->cpu = dma_alloc_coherent(edev->drm.dev, EMBER_PAGE_SIZE, &pt->dma, GFP_KERNEL);
	if (!pt->cpu)
		goto err;
	if (!leaf) {
		pt->next = kcalloc(EMBER_PT_ENTRIES, sizeof(*pt->next), GFP_KERNEL);
		if (!pt->next)
			goto err_dma;
	}
	return pt;

err_dma:
	dma_free_coherent(edev->drm.dev, EMBER_PAGE_SIZE, pt->cpu, pt->dma);
err:
	kfree(pt);
	return NULL;
}

static void ember_pt_free(struct ember_device *edev, struct ember_pt *pt)
{
	unsigned int i;

	if (!pt)
		return;
	if (pt->next) {
		for (i = 0; i < EMBER_PT_ENTRIES; i++)
			ember_pt_free(edev, pt->next[i]);
		kfree(pt->next);
	}
	dma_free_coherent(edev->drm.dev, EMBER_PAGE_SIZE, pt->cpu, pt->dma);
	kfree(pt);
}

int ember_mmu_init(struct ember_device *edev, struct ember_mmu *mmu)
{
	u64 want = (u64)READ_ONCE(ember_va_size_mb) << 20;

	mmu->va_size = EMBER_VA_END - EMBER_VA_START;
	if (want && want < mmu->va_size)
		mmu->va_size = want;
	mutex_init(&mmu->lock);
	mmu->root = ember_pt_alloc(edev, false);
	if (!mmu->root) {
		mutex_destroy(&mmu->lock);
		return -ENOMEM;
	}
	drm_mm_init(&mmu->mm, EMBER_VA_START, mmu->va_size);
	return 0;
}

void ember_mmu_fini(struct ember_device *edev, struct ember_mmu *mmu)
{
	drm_mm_takedown(&mmu->mm);
	ember_pt_free(edev, mmu->root);
	mmu->root = NULL;
	mutex_destroy(&mmu->lock);
}

/* Returns the L2 table covering @va, allocating the path if @alloc. */
static struct ember_pt *ember_mmu_leaf(struct ember_device *edev, struct ember_mmu *mmu,
				       u64 va, bool alloc)
{
	struct ember_pt *pt = mmu->root;
	unsigned int level;

	for (level = 0; level < 2; level++) {
		unsigned int idx = EMBER_PT_INDEX(va, level);
		struct ember_pt *child = pt->next[idx];

		if (!child) {
			if (!alloc)
				return NULL;
			child = ember_pt_alloc(edev, level == 1);
			if (!child)
				return NULL;
			pt->next[idx] = child;
			/* the child is zeroed; publish it only after that is visible */
			dma_wmb();
			pt->cpu[idx] = cpu_to_le64((child->dma & EMBER_PTE_ADDR_MASK) |
						   EMBER_PTE_VALID);
		}
		pt = child;
	}
	return pt;
}

static void ember_mmu_clear(struct ember_device *edev, struct ember_mmu *mmu, u64 va, u64 end)
{
	for (; va < end; va += EMBER_PAGE_SIZE) {
		struct ember_pt *leaf = ember_mmu_leaf(edev, mmu, va, false);

		if (leaf)
			leaf->cpu[EMBER_PT_INDEX(va, 2)] = 0;
	}
}

static void ember_mmu_flush(struct ember_file *efile)
{
	struct ember_device *edev = efile->edev;
	int idx;

	int slot;

	/* page-table writes must reach memory before the device re-walks */
	wmb();
	/* unbound: binding writes the root, which drops the device's cache */
	slot = READ_ONCE(efile->as_slot);
	if (slot < 0 || !drm_dev_enter(&edev->drm, &idx))
		return;
	ember_hw_tlb_invalidate(edev, slot);
	drm_dev_exit(idx);
}

int ember_mmu_map_bo(struct ember_file *efile, struct ember_bo *bo)
{
	struct ember_device *edev = efile->edev;
	struct ember_mmu *mmu = &efile->mmu;
	struct drm_gem_object *obj = &bo->base.base;
	struct scatterlist *sg;
	struct sg_table *sgt;
	u64 va, start;
	unsigned int i;
	int ret;

	sgt = drm_gem_shmem_get_pages_sgt(&bo->base);
	if (IS_ERR(sgt))
		return PTR_ERR(sgt);

	mutex_lock(&mmu->lock);
	ret = drm_mm_insert_node_in_range(&mmu->mm, &bo->node, obj->size + EMBER_BO_GUARD,
					  EMBER_PAGE_SIZE, 0, EMBER_VA_START, EMBER_VA_END,
					  DRM_MM_INSERT_BEST);
	if (ret) {
		ret = -ENOSPC;
		goto out;
	}

	start = bo->node.start;
	va = start;
	for_each_sgtable_dma_sg(sgt, sg, i) {
		dma_addr_t addr = sg_dma_address(sg);
		u64 len = sg_dma_len(sg);

		for (; len >= EMBER_PAGE_SIZE && va < start + obj->size;
		     len -= EMBER_PAGE_SIZE, addr += EMBER_PAGE_SIZE, va += EMBER_PAGE_SIZE) {
			struct ember_pt *leaf = ember_mmu_leaf(edev, mmu, va, true);

			if (!leaf) {
				ret = -ENOMEM;
				goto err_unmap;
			}
			leaf->cpu[EMBER_PT_INDEX(va, 2)] =
				cpu_to_le64((addr & EMBER_PTE_ADDR_MASK) | EMBER_PTE_VALID |
					    EMBER_PTE_READ | EMBER_PTE_WRITE);
		}
	}
	if (va != start + obj->size) {
		drm_WARN_ONCE(&edev->drm, 1, "BO sg table covers %llu of %zu bytes\n",
			      va - start, obj->size);
		ret = -EINVAL;
		goto err_unmap;
	}
	bo->mapped = true;
	mutex_unlock(&mmu->lock);
	ember_mmu_flush(efile);
	return 0;

err_unmap:
	ember_mmu_clear(edev, mmu, start, va);
	drm_mm_remove_node(&bo->node);
out:
	mutex_unlock(&mmu->lock);
	ember_mmu_flush(efile);
	return ret;
}

void ember_mmu_unmap_bo(struct ember_file *efile, struct ember_bo *bo)
{
	struct ember_mmu *mmu = &efile->mmu;

	if (!bo->mapped)
		return;
	mutex_lock(&mmu->lock);
	ember_mmu_clear(efile->edev, mmu, bo->node.start, bo->node.start + bo->base.base.size);
	drm_mm_remove_node(&bo->node);
	bo->mapped = false;
	mutex_unlock(&mmu->lock);
	ember_mmu_flush(efile);
}

/*
 * A slot @efile may take now: a free one, else the least recently used one
 * whose file has no job in the ring; -1 if none. Called under as_lock.
 */
static int ember_mmu_pick_slot(struct ember_device *edev)
{
	int slot, lru = -1;

	for (slot = 0; slot < edev->num_as; slot++)
		if (!edev->as_owner[slot])
			return slot;
	spin_lock_irq(&edev->ring_lock);
	for (slot = 0; slot < edev->num_as; slot++) {
		struct ember_file *owner = edev->as_owner[slot];

		if (!owner->ring_jobs &&
		    (lru < 0 || owner->as_used < edev->as_owner[lru]->as_used))
			lru = slot;
	}
	spin_unlock_irq(&edev->ring_lock);
	return lru;
}

/*
 * Binds @efile to a slot for a job about to run (the scheduler's run_job,
 * after prepare_job found one): its own, a free one or an idle file's.
 * -EBUSY if every slot's file has jobs in the ring.
 */
int ember_mmu_bind_slot(struct ember_file *efile)
{
	struct ember_device *edev = efile->edev;
	struct ember_file *old;
	int slot, idx;

	mutex_lock(&edev->as_lock);
	efile->as_used = ++edev->as_clock;
	if (efile->as_slot >= 0) {
		mutex_unlock(&edev->as_lock);
		return 0;
	}
	slot = ember_mmu_pick_slot(edev);
	if (slot < 0) {
		mutex_unlock(&edev->as_lock);
		return -EBUSY;
	}
	/* the error IRQ reads as_owner under ring_lock */
	spin_lock_irq(&edev->ring_lock);
	old = edev->as_owner[slot];
	edev->as_owner[slot] = efile;
	spin_unlock_irq(&edev->ring_lock);
	if (old)
		WRITE_ONCE(old->as_slot, -1);
	WRITE_ONCE(efile->as_slot, slot);
	/* a new root also drops what the device cached of the old one */
	if (drm_dev_enter(&edev->drm, &idx)) {
		ember_hw_set_as_root(edev, slot, efile->mmu.root->dma);
		drm_dev_exit(idx);
	}
	mutex_unlock(&edev->as_lock);
	return 0;
}

/*
 * The scheduler's prepare_job: NULL when @efile can be bound now, else a
 * reference to the fence of the oldest job in the ring, whose end frees
 * its file's claim on a slot (the scheduler asks again then).
 */
struct dma_fence *ember_mmu_slot_wait(struct ember_file *efile)
{
	struct ember_device *edev = efile->edev;
	struct dma_fence *fence = NULL;

	mutex_lock(&edev->as_lock);
	if (efile->as_slot < 0 && ember_mmu_pick_slot(edev) < 0)
		fence = ember_ring_oldest_fence(edev);
	mutex_unlock(&edev->as_lock);
	return fence;
}

void ember_mmu_unbind_slot(struct ember_file *efile)
{
	struct ember_device *edev = efile->edev;
	int idx;

	mutex_lock(&edev->as_lock);
	if (efile->as_slot < 0) {
		mutex_unlock(&edev->as_lock);
		return;
	}
	spin_lock_irq(&edev->ring_lock);
	edev->as_owner[efile->as_slot] = NULL;
	spin_unlock_irq(&edev->ring_lock);
	if (drm_dev_enter(&edev->drm, &idx)) {
		ember_hw_set_as_root(edev, efile->as_slot, 0);
		drm_dev_exit(idx);
	}
	WRITE_ONCE(efile->as_slot, -1);
	mutex_unlock(&edev->as_lock);
}

/* After a reset the device forgot every root: write them all again. */
void ember_mmu_restore_slots(struct ember_device *edev)
{
	int slot;

	mutex_lock(&edev->as_lock);
	for (slot = 0; slot < edev->num_as; slot++) {
		struct ember_file *owner = edev->as_owner[slot];

		ember_wr64(edev, EMBER_REG_AS_ROOT(slot), owner ? owner->mmu.root->dma : 0);
	}
	ember_wr32(edev, EMBER_REG_MMU_INVALIDATE, EMBER_MMU_INVALIDATE_ALL);
	mutex_unlock(&edev->as_lock);
}
