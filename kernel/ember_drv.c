// SPDX-License-Identifier: GPL-2.0-only
/*
 * Ember NPU: PCI probe/remove, the DRM accel driver and file operations,
 * and the per-file context's lifetime.
 */

#include <linux/dma-mapping.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include <drm/drm_accel.h>
#include <drm/drm_drv.h>
#include <drm/drm_gem.h>
#include <drm/drm_ioctl.h>
#include <drm/drm_managed.h>
#include <drm/drm_print.h>

#include "ember_drv.h"

static char *ember_fw_name = EMBER_FW_DEFAULT_NAME;
module_param_named(fw_name, ember_fw_name, charp, 0444);
MODULE_PARM_DESC(fw_name, "Firmware image under /lib/firmware (default " EMBER_FW_DEFAULT_NAME ")");

static void ember_file_release(struct kref *ref)
{
	struct ember_file *efile = container_of(ref, struct ember_file, ref);
	unsigned int i;

	ember_mmu_unbind_slot(efile);
	ember_mmu_fini(efile->edev, &efile->mmu);
	for (i = 0; i < EMBER_STATUS_RECORDS; i++)
		dma_fence_put(efile->recs[i].done);
	kvfree(efile->recs);
	mutex_destroy(&efile->submit_lock);
	atomic_dec(&efile->edev->files_alive);
	drm_dev_put(&efile->edev->drm);
	kfree(efile);
}

struct ember_file *ember_file_get(struct ember_file *efile)
{
	kref_get(&efile->ref);
	return efile;
}

void ember_file_put(struct ember_file *efile)
{
	kref_put(&efile->ref, ember_file_release);
}

void ember_file_activate(struct ember_file *efile)
{
	atomic_inc(&efile->active);
}

/* The last user of the device context gone: give the AS slot back. */
void ember_file_deactivate(struct ember_file *efile)
{
	if (atomic_dec_and_test(&efile->active))
		ember_mmu_unbind_slot(efile);
}

static int ember_open(struct drm_device *drm, struct drm_file *file)
{
	struct ember_device *edev = to_ember_device(drm);
	struct ember_file *efile;
	int ret, idx;

	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;
	/* a device whose recovery failed takes no jobs: say so at once */
	if (READ_ONCE(edev->hw_dead)) {
		ret = -ENODEV;
		goto out;
	}

	efile = kzalloc(sizeof(*efile), GFP_KERNEL);
	if (!efile) {
		ret = -ENOMEM;
		goto out;
	}
	kref_init(&efile->ref);
	atomic_set(&efile->active, 1);
	efile->edev = edev;
	efile->as_slot = -1;
	atomic_set(&efile->bad, 0);
	atomic_set(&efile->inflight, 0);
	init_waitqueue_head(&efile->inflight_wq);
	mutex_init(&efile->submit_lock);
	spin_lock_init(&efile->rec_lock);
	ember_line_init(efile);

	efile->recs = kvcalloc(EMBER_STATUS_RECORDS, sizeof(*efile->recs), GFP_KERNEL);
	if (!efile->recs) {
		ret = -ENOMEM;
		goto err_free;
	}
	ret = ember_mmu_init(edev, &efile->mmu);
	if (ret)
		goto err_recs;
	ret = ember_job_file_init(efile);
	if (ret)
		goto err_mmu;

	/* BOs and jobs may keep the context past close: keep the device too */
	drm_dev_get(drm);
	atomic_inc(&edev->files_alive);
	file->driver_priv = efile;
	drm_dev_exit(idx);
	return 0;

err_mmu:
	ember_mmu_fini(edev, &efile->mmu);
err_recs:
	kvfree(efile->recs);
err_free:
	mutex_destroy(&efile->submit_lock);
	kfree(efile);
out:
	drm_dev_exit(idx);
	return ret;
}

static void ember_postclose(struct drm_device *drm, struct drm_file *file)
{
	struct ember_file *efile = file->driver_priv;

	/*
	 * Every submit in the line held the file open, so the line is empty;
	 * let a line worker still running return before the entity goes.
	 */
	flush_work(&efile->line_work);
	/* queued jobs still hold the context; it dies with the last of them */
	ember_job_file_fini(efile);
	ember_file_deactivate(efile);
	ember_file_put(efile);
}

static const struct file_operations ember_fops = {
	.owner = THIS_MODULE,
	DRM_ACCEL_FOPS,
	.uring_cmd = ember_uring_cmd,
};

static const struct drm_driver ember_drm_driver = {
	.driver_features = DRIVER_GEM | DRIVER_COMPUTE_ACCEL | DRIVER_SYNCOBJ,
	.open = ember_open,
	.postclose = ember_postclose,
	.gem_create_object = ember_gem_create_object,
	.ioctls = ember_ioctls,
	.num_ioctls = EMBER_NUM_IOCTLS,
	.fops = &ember_fops,
	.name = EMBER_DRIVER_NAME,
	.desc = "Ember NPU",
	.major = 1,
	.minor = 0,
};

static int ember_setup_irqs(struct ember_device *edev)
{
	struct pci_dev *pdev = edev->pdev;
	int ret;

	ret = pci_alloc_irq_vectors(pdev, EMBER_MSIX_COUNT, EMBER_MSIX_COUNT, PCI_IRQ_MSIX);
	if (ret < 0) {
		drm_err(&edev->drm, "cannot enable %u MSI-X vectors: %d\n", EMBER_MSIX_COUNT, ret);
		return ret;
	}
	ret = devm_request_irq(&pdev->dev, pci_irq_vector(pdev, EMBER_MSIX_JOB), ember_irq_job,
			       0, "ember-job", edev);
	if (ret)
		return ret;
	return devm_request_irq(&pdev->dev, pci_irq_vector(pdev, EMBER_MSIX_ERROR),
				ember_irq_error, 0, "ember-error", edev);
}

static int ember_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct ember_device *edev;
	int ret;

	edev = devm_drm_dev_alloc(&pdev->dev, &ember_drm_driver, struct ember_device, drm);
	if (IS_ERR(edev))
		return PTR_ERR(edev);
	edev->pdev = pdev;
	pci_set_drvdata(pdev, edev);
	spin_lock_init(&edev->ring_lock);
	spin_lock_init(&edev->fence_lock);
	init_waitqueue_head(&edev->idle_wq);
	ret = drmm_mutex_init(&edev->drm, &edev->as_lock);
	if (ret)
		return ret;
	ret = drmm_mutex_init(&edev->drm, &edev->sched_lock);
	if (ret)
		return ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	pci_set_master(pdev);
	/* PTEs hold address bits [51:12] */
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(52));
	if (ret)
		return ret;
	edev->regs = pcim_iomap_region(pdev, EMBER_BAR_REGS, EMBER_DRIVER_NAME);
	if (IS_ERR(edev->regs))
		return PTR_ERR(edev->regs);
	if (pci_resource_len(pdev, EMBER_BAR_REGS) < EMBER_REGS_SIZE)
		return -ENODEV;

	ret = ember_hw_probe(edev);
	if (ret)
		return ret;
	/* a reloaded driver finds the device as the last one left it */
	ember_hw_soft_reset(edev);
	memset(&edev->perf_base, 0, sizeof(edev->perf_base));
	edev->resets = 0;

	edev->ring = dmam_alloc_coherent(&pdev->dev, EMBER_RING_ENTRIES * sizeof(*edev->ring),
					 &edev->ring_dma, GFP_KERNEL);
	if (!edev->ring)
		return -ENOMEM;

	ret = ember_setup_irqs(edev);
	if (ret)
		return ret;

	/*
	 * Firmware problems were logged in one line; -ENODEV keeps the driver
	 * core from adding a second, less useful one.
	 */
	ret = ember_fw_load(edev, ember_fw_name);
	if (ret)
		return -ENODEV;
	ret = ember_fw_boot(edev, false);
	if (ret) {
		ember_hw_soft_reset(edev);
		return -ENODEV;
	}

	ret = ember_job_init(edev);
	if (ret)
		goto err_reset;
	ret = ember_hw_start(edev);
	if (ret)
		goto err_reset;

	ember_debugfs_init(edev);
	ret = drm_dev_register(&edev->drm, 0);
	if (ret)
		goto err_stop;
	drm_info(&edev->drm, "Ember NPU hw %u.%u, %u compute units, %u address spaces, accel%d\n",
		 edev->hw_version >> 16, edev->hw_version & 0xffff, edev->compute_units,
		 edev->num_as, edev->drm.accel->index);
	return 0;

err_stop:
	ember_hw_stop(edev);
err_reset:
	ember_hw_soft_reset(edev);
	return ret;
}

static void ember_remove(struct pci_dev *pdev)
{
	struct ember_device *edev = pci_get_drvdata(pdev);

	drm_dev_unplug(&edev->drm);
	/* retire or abort every job so nothing DMAs after the device is gone */
	ember_job_shutdown(edev);
	ember_hw_stop(edev);
	ember_hw_soft_reset(edev);
}

static const struct pci_device_id ember_pci_ids[] = {
	{ PCI_DEVICE(EMBER_PCI_VENDOR_ID, EMBER_PCI_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, ember_pci_ids);

static struct pci_driver ember_pci_driver = {
	.name = EMBER_DRIVER_NAME,
	.id_table = ember_pci_ids,
	.probe = ember_probe,
	.remove = ember_remove,
};
module_pci_driver(ember_pci_driver);

MODULE_AUTHOR("Ember project");
MODULE_DESCRIPTION("Ember NPU accelerator driver");
MODULE_LICENSE("GPL");
MODULE_FIRMWARE(EMBER_FW_DEFAULT_NAME);
