// SPDX-License-Identifier: GPL-2.0-only
/*
 * Register-level control of the device: identity, the job ring, interrupts,
 * address-space roots, TLB invalidation, soft reset and perf counters.
 */

#include <linux/delay.h>
#include <linux/dma-mapping.h>

#include <drm/drm_print.h>

#include "ember_drv.h"

#define EMBER_IRQ_ALL (EMBER_IRQ_JOB_DONE | EMBER_IRQ_MMU_FAULT | \
		       EMBER_IRQ_FW_ERROR | EMBER_IRQ_QUEUE_ERROR)

int ember_hw_probe(struct ember_device *edev)
{
	u32 id = ember_rd32(edev, EMBER_REG_ID);

	if (id != EMBER_ID_MAGIC) {
		drm_err(&edev->drm, "BAR0 ID register reads 0x%08x, not 0x%08x: not an Ember NPU\n",
			id, EMBER_ID_MAGIC);
		return -ENODEV;
	}
	edev->hw_version = ember_rd32(edev, EMBER_REG_HW_VERSION);
	if ((edev->hw_version >> 16) != (EMBER_HW_VERSION >> 16)) {
		drm_err(&edev->drm, "hardware version %u.%u unsupported (driver knows %u.x)\n",
			edev->hw_version >> 16, edev->hw_version & 0xffff,
			EMBER_HW_VERSION >> 16);
		return -ENODEV;
	}
	edev->caps_ops = ember_rd32(edev, EMBER_REG_CAPS_OPS);
	edev->caps_dtypes = ember_rd32(edev, EMBER_REG_CAPS_DTYPES);
	edev->num_as = min_t(u32, ember_rd32(edev, EMBER_REG_NUM_AS), EMBER_NUM_AS);
	edev->compute_units = ember_rd32(edev, EMBER_REG_COMPUTE_UNITS);
	if (!edev->num_as) {
		drm_err(&edev->drm, "device reports no address-space slots\n");
		return -ENODEV;
	}
	return 0;
}

/*
 * Programs the ring and interrupts after probe or a reset. The ring is empty
 * at this point (the caller retired every entry), so head and tail restart
 * from whatever the device reports.
 */
int ember_hw_start(struct ember_device *edev)
{
	unsigned long flags;
	u32 head;

	memset(edev->ring, 0, EMBER_RING_ENTRIES * sizeof(*edev->ring));
	ember_wr32(edev, EMBER_REG_CQ_CTRL, 0);
	ember_wr64(edev, EMBER_REG_CQ_BASE, edev->ring_dma);
	ember_wr32(edev, EMBER_REG_CQ_SIZE, EMBER_RING_ENTRIES);
	ember_wr32(edev, EMBER_REG_CQ_CTRL, EMBER_CQ_CTRL_ENABLE);
	head = ember_rd32(edev, EMBER_REG_CQ_HEAD);
	ember_wr32(edev, EMBER_REG_CQ_TAIL, head);

	spin_lock_irqsave(&edev->ring_lock, flags);
	edev->ring_head = head;
	edev->ring_tail = head;
	spin_unlock_irqrestore(&edev->ring_lock, flags);

	ember_mmu_restore_slots(edev);

	ember_wr32(edev, EMBER_REG_IRQ_STATUS, EMBER_IRQ_ALL);
	ember_wr32(edev, EMBER_REG_IRQ_MASK, EMBER_IRQ_ALL);
	return 0;
}

void ember_hw_stop(struct ember_device *edev)
{
	ember_wr32(edev, EMBER_REG_IRQ_MASK, 0);
	ember_wr32(edev, EMBER_REG_CQ_CTRL, 0);
	ember_wr32(edev, EMBER_REG_IRQ_STATUS, EMBER_IRQ_ALL);
}

/* Soft reset clears the ring, the AS roots and the perf counters. */
void ember_hw_soft_reset(struct ember_device *edev)
{
	struct drm_ember_perf now;
	unsigned long flags;

	ember_hw_read_perf(edev, &now);
	ember_wr32(edev, EMBER_REG_IRQ_MASK, 0);
	ember_wr32(edev, EMBER_REG_RESET, EMBER_RESET_SOFT);
	/* read back to post the write before the device is reprogrammed */
	ember_rd32(edev, EMBER_REG_ID);
	usleep_range(100, 200);

	spin_lock_irqsave(&edev->ring_lock, flags);
	edev->perf_base.busy_ns = now.busy_ns;
	edev->perf_base.jobs = now.jobs;
	edev->perf_base.ops = now.ops;
	edev->perf_base.bytes_read = now.bytes_read;
	edev->perf_base.bytes_written = now.bytes_written;
	edev->perf_base.mmu_faults = now.mmu_faults;
	edev->perf_base.bytes_copied = now.bytes_copied;
	edev->resets++;
	spin_unlock_irqrestore(&edev->ring_lock, flags);
}

void ember_hw_set_as_root(struct ember_device *edev, int slot, u64 root)
{
	ember_wr64(edev, EMBER_REG_AS_ROOT(slot), root);
	ember_wr32(edev, EMBER_REG_MMU_INVALIDATE, slot);
}

void ember_hw_tlb_invalidate(struct ember_device *edev, int slot)
{
	ember_wr32(edev, EMBER_REG_MMU_INVALIDATE, slot);
}

/* Device counters plus what earlier resets cleared, plus driver counters. */
void ember_hw_read_perf(struct ember_device *edev, struct drm_ember_perf *perf)
{
	struct ember_perf_base base;
	unsigned long flags;

	spin_lock_irqsave(&edev->ring_lock, flags);
	base = edev->perf_base;
	perf->timeouts = edev->timeouts;
	perf->resets = edev->resets;
	spin_unlock_irqrestore(&edev->ring_lock, flags);

	perf->busy_ns = base.busy_ns + ember_rd64(edev, EMBER_REG_PERF_BUSY_NS);
	perf->jobs = base.jobs + ember_rd64(edev, EMBER_REG_PERF_JOBS);
	perf->ops = base.ops + ember_rd64(edev, EMBER_REG_PERF_OPS);
	perf->bytes_read = base.bytes_read + ember_rd64(edev, EMBER_REG_PERF_BYTES_RD);
	perf->bytes_written = base.bytes_written + ember_rd64(edev, EMBER_REG_PERF_BYTES_WR);
	perf->mmu_faults = base.mmu_faults + ember_rd64(edev, EMBER_REG_PERF_FAULTS);
	perf->bytes_copied = base.bytes_copied + ember_rd64(edev, EMBER_REG_PERF_BYTES_COPIED);
}
