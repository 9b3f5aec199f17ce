// SPDX-License-Identifier: GPL-2.0-only
/*
 * debugfs (under /sys/kernel/debug/accel/<pci id>/): driver and ring state
 * and the device performance counters, for diagnosing hangs and slowness.
 */

#include <linux/seq_file.h>

#include <drm/drm_debugfs.h>
#include <drm/drm_drv.h>

#include "ember_drv.h"

static struct ember_device *ember_debugfs_dev(struct seq_file *m)
{
	struct drm_debugfs_entry *entry = m->private;

	return to_ember_device(entry->dev);
}

static int ember_debugfs_status(struct seq_file *m, void *data)
{
	struct ember_device *edev = ember_debugfs_dev(m);
	unsigned long flags;
	u32 head, tail, slots = 0;
	u64 timeouts, resets, faults;
	bool dead, stopping;
	int i;

	spin_lock_irqsave(&edev->ring_lock, flags);
	head = edev->ring_head;
	tail = edev->ring_tail;
	dead = edev->hw_dead;
	stopping = edev->stopping;
	timeouts = edev->timeouts;
	resets = edev->resets;
	faults = edev->mmu_faults_seen;
	for (i = 0; i < edev->num_as; i++)
		slots += !!edev->as_owner[i];
	spin_unlock_irqrestore(&edev->ring_lock, flags);

	seq_printf(m, "hw_version: %u.%u\n", edev->hw_version >> 16, edev->hw_version & 0xffff);
	seq_printf(m, "firmware: %s version %s abi %u.%u build_id 0x%016llx\n", edev->fw.name,
		   edev->fw.version, edev->fw.abi_major, edev->fw.abi_minor, edev->fw.build_id);
	seq_printf(m, "state: %s\n", dead ? "dead" : stopping ? "stopping" : "running");
	seq_printf(m, "ring: head %u tail %u in_flight %u of %u\n", head, tail, tail - head,
		   EMBER_RING_ENTRIES);
	seq_printf(m, "jobs_alive: %d\n", atomic_read(&edev->jobs_alive));
	seq_printf(m, "files_alive: %d\n", atomic_read(&edev->files_alive));
	seq_printf(m, "bos_alive: %d\n", atomic_read(&edev->bos_alive));
	seq_printf(m, "as_slots: %u of %u bound\n", slots, edev->num_as);
	seq_printf(m, "timeouts: %llu\nresets: %llu\nmmu_faults: %llu\n", timeouts, resets,
		   faults);
	return 0;
}

static int ember_debugfs_perf(struct seq_file *m, void *data)
{
	struct ember_device *edev = ember_debugfs_dev(m);
	struct drm_ember_perf perf;
	int idx;

	if (!drm_dev_enter(&edev->drm, &idx))
		return -ENODEV;
	ember_hw_read_perf(edev, &perf);
	drm_dev_exit(idx);

	seq_printf(m, "busy_ns: %llu\njobs: %llu\nops: %llu\n", perf.busy_ns, perf.jobs,
		   perf.ops);
	seq_printf(m, "bytes_read: %llu\nbytes_written: %llu\nmmu_faults: %llu\n",
		   perf.bytes_read, perf.bytes_written, perf.mmu_faults);
	seq_printf(m, "timeouts: %llu\nresets: %llu\n", perf.timeouts, perf.resets);
	seq_printf(m, "bytes_copied: %llu\n", perf.bytes_copied);
	return 0;
}

void ember_debugfs_init(struct ember_device *edev)
{
	drm_debugfs_add_file(&edev->drm, "status", ember_debugfs_status, NULL);
	drm_debugfs_add_file(&edev->drm, "perf", ember_debugfs_perf, NULL);
}
