/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Ember NPU driver: the device, per-file context, buffer and job objects
 * shared by the driver's files.
 */
#ifndef EMBER_DRV_H
#define EMBER_DRV_H

#include <linux/bits.h>
#include <linux/io.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/llist.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <drm/drm_device.h>
#include <drm/drm_file.h>
#include <drm/drm_gem_shmem_helper.h>
#include <drm/drm_mm.h>
#include <drm/gpu_scheduler.h>

#include <drm/ember_accel.h>
#include <ember/hw.h>

#include "compat.h"

#define EMBER_DRIVER_NAME	"ember"
#define EMBER_FW_DEFAULT_NAME	"ember/ember-fw.bin"

/* Oldest firmware ABI minor this driver can use (major must match hw.h). */
#define EMBER_DRV_FW_ABI_MINOR	0

#define EMBER_RING_ENTRIES	256u	/* hardware ring, power of two */
#define EMBER_MAX_SUBMIT_JOBS	256u	/* bound of submit.job_count */
#define EMBER_MAX_JOB_BOS	128u	/* bound of job.bo_count */
#define EMBER_STATUS_RECORDS	4096u	/* WAIT history per file, power of two */
#define EMBER_MAX_INFLIGHT	1024u	/* queued jobs per file, < records */

/* Per-file device VA range: skip the low 1 GiB so small bad pointers fault. */
#define EMBER_VA_START		BIT_ULL(30)
#define EMBER_VA_END		BIT_ULL(EMBER_VA_BITS)
#define EMBER_MAX_BO_SIZE	(4ull << 30)

struct ember_file;
struct ember_job;

/* Firmware image as accepted at probe, kept for re-boot after a reset. */
struct ember_fw {
	const char *name;
	void *image;			/* DMA-coherent copy, header included */
	dma_addr_t image_dma;
	u32 image_size;
	u16 abi_major;
	u16 abi_minor;
	u64 build_id;
	char version[32];
};

struct ember_perf_base {
	u64 busy_ns, jobs, ops, bytes_read, bytes_written, mmu_faults, bytes_copied;
};

struct ember_device {
	struct drm_device drm;
	struct pci_dev *pdev;
	void __iomem *regs;

	u32 hw_version;
	u32 caps_ops;
	u32 caps_dtypes;
	u32 num_as;
	u32 compute_units;
	struct ember_fw fw;

	/* Hardware ring; ring_lock also orders the IRQ path against reset. */
	spinlock_t ring_lock;
	struct ember_hw_job *ring;
	dma_addr_t ring_dma;
	u32 ring_tail;			/* next entry the host fills */
	u32 ring_head;			/* next entry the host retires */
	struct ember_job *ring_jobs[EMBER_RING_ENTRIES];
	bool hw_dead;			/* unplugged or failed to recover */

	/* Hardware fences: one timeline for the ring. */
	spinlock_t fence_lock;
	u64 fence_context;
	u64 fence_seqno;

	struct drm_gpu_scheduler sched;
	struct drm_gpu_scheduler *sched_list[1];
	/* held by whoever stops the submit queue: timeouts, entity kills */
	struct mutex sched_lock;
	bool stopping;			/* removal: run no new job (ring_lock) */
	bool force_reset;		/* error IRQ: next timeout handler resets */

	/*
	 * Address-space slots, shared by any number of files: a file is bound
	 * to one when its job is about to run (ember_mmu.c). as_lock guards
	 * them; as_owner[] is also read by the error IRQ under ring_lock.
	 */
	struct mutex as_lock;
	struct ember_file *as_owner[EMBER_NUM_AS];
	u64 as_clock;			/* bind count: the LRU's clock */

	/* Recovery bookkeeping (protected by ring_lock). */
	struct ember_perf_base perf_base;
	u64 timeouts;
	u64 resets;
	u64 mmu_faults_seen;
	wait_queue_head_t idle_wq;	/* woken when the ring drains */
	atomic_t jobs_alive;		/* created and not yet freed */
	atomic_t files_alive;		/* file contexts not yet freed (debugfs) */
	atomic_t bos_alive;		/* BOs created and not yet freed (debugfs) */
	/*
	 * Finished jobs are released from a system workqueue, not from the
	 * scheduler's: the last job may drop the last device reference, and
	 * drm_sched_fini() cannot run on the scheduler's own workqueue.
	 */
	struct llist_head free_list;
	struct work_struct free_work;
};

#define to_ember_device(d) container_of(d, struct ember_device, drm)

/*
 * A file's device MMU page tables: 3 levels of one DMA-coherent page each,
 * allocated on demand and kept until the context dies.
 */
struct ember_pt {
	__le64 *cpu;
	dma_addr_t dma;
	struct ember_pt **next;		/* children of an L0/L1 table */
};

struct ember_mmu {
	struct mutex lock;		/* page tables and @mm */
	struct drm_mm mm;
	struct ember_pt *root;		/* L0 */
	u64 va_size;			/* of the range at EMBER_VA_START */
};

struct ember_status_rec {
	u64 seqno;
	struct dma_fence *done;		/* the job's finished fence */
	u32 status;
	bool valid;			/* @status was written by completion */
};

/*
 * Per-file context. Refcounted: the DRM file, every BO it created and every
 * job it queued hold a reference, so the page tables outlive the fd as long
 * as a BO exists. The AS slot is only held while the fd is open or a job is
 * queued (@active), so mmaps that outlive the fd do not pin a slot.
 */
struct ember_file {
	struct kref ref;
	atomic_t active;		/* the open fd + queued jobs: keep the slot */
	struct ember_device *edev;
	struct ember_mmu mmu;
	int as_slot;			/* bound slot or -1 (as_lock; read locklessly) */
	u64 as_used;			/* as_clock when last bound or used (as_lock) */
	u32 ring_jobs;			/* its jobs in the hardware ring (ring_lock) */
	atomic_t bad;			/* an MMU fault killed this context */

	struct drm_sched_entity entity;
	struct mutex submit_lock;	/* consecutive seqnos across callers */
	u64 last_seqno;			/* highest seqno issued (rec_lock) */
	atomic_t inflight;
	wait_queue_head_t inflight_wq;

	spinlock_t rec_lock;		/* @recs and @last_seqno */
	struct ember_status_rec *recs;	/* EMBER_STATUS_RECORDS entries */

	/*
	 * The submission line: SUBMIT ioctls and io_uring SUBMIT commands of
	 * this file queue their jobs in the order they joined it (ember_job.c).
	 */
	spinlock_t line_lock;		/* @line, @line_moves, ember_submit.state */
	struct list_head line;		/* struct ember_submit, head first */
	u64 line_moves;			/* times the head left: progress */
	wait_queue_head_t line_wq;	/* the head left */
	struct work_struct line_work;	/* queues a PARKED head */
};

/* Where a submit is in its file's line. */
enum ember_line_state {
	EMBER_LINE_OUT,		/* not in the line */
	EMBER_LINE_WAIT,	/* in the line: its caller waits for its turn */
	EMBER_LINE_PARKED,	/* in the line: the line worker queues it in its turn */
	EMBER_LINE_BUSY,	/* the head, being queued */
};

/*
 * One call's jobs from ember_submit_prepare() until they are queued, and its
 * place in the line.
 */
struct ember_submit {
	struct list_head node;		/* in ember_file.line */
	enum ember_line_state state;	/* under line_lock */
	struct ember_job **jobs;	/* created, not yet queued */
	u32 count;
	struct drm_gem_object **objs;	/* the jobs' distinct BOs, sorted */
	u32 *uses;			/* how many jobs list each of @objs */
	u32 n_objs;
	/* the outcome of ember_submit_queue() */
	int ret;
	u64 first_seqno;
	struct dma_fence *last_done;	/* reference: the last job's finished fence */
	/* PARKED only: the line worker's call once the jobs are queued or failed */
	void (*queued)(struct ember_submit *sub);
};

struct ember_bo {
	struct drm_gem_shmem_object base;	/* must stay first */
	struct ember_file *owner;
	struct drm_mm_node node;
	bool mapped;
};

#define to_ember_bo(obj) container_of(to_drm_gem_shmem_obj(obj), struct ember_bo, base)

struct ember_job {
	struct drm_sched_job base;
	struct ember_device *edev;
	struct ember_file *file;
	u64 seqno;			/* this file's fence seqno */
	u64 cmd_va;
	u32 cmd_size;
	u32 status;
	struct dma_fence *hw_fence;	/* NULL until run_job */
	struct dma_fence *hw_fence_mem;	/* preallocated, freed if never run */
	u32 bo_count;
	struct drm_gem_object **bos;
	u32 *bo_flags;
	struct llist_node free_node;
};

#define to_ember_job(j) container_of(j, struct ember_job, base)

static inline u32 ember_rd32(struct ember_device *edev, u32 reg)
{
	return readl(edev->regs + reg);
}

static inline void ember_wr32(struct ember_device *edev, u32 reg, u32 val)
{
	writel(val, edev->regs + reg);
}

static inline u64 ember_rd64(struct ember_device *edev, u32 reg)
{
	u64 lo = readl(edev->regs + reg);

	return lo | ((u64)readl(edev->regs + reg + 4) << 32);
}

static inline void ember_wr64(struct ember_device *edev, u32 reg, u64 val)
{
	writel(lower_32_bits(val), edev->regs + reg);
	writel(upper_32_bits(val), edev->regs + reg + 4);
}

/* ember_debugfs.c */
void ember_debugfs_init(struct ember_device *edev);

/* ember_fw.c */
int ember_fw_load(struct ember_device *edev, const char *name);
int ember_fw_boot(struct ember_device *edev, bool quiet);

/* ember_hw.c */
int ember_hw_probe(struct ember_device *edev);
int ember_hw_start(struct ember_device *edev);
void ember_hw_stop(struct ember_device *edev);
void ember_hw_soft_reset(struct ember_device *edev);
void ember_hw_set_as_root(struct ember_device *edev, int slot, u64 root);
void ember_hw_tlb_invalidate(struct ember_device *edev, int slot);
void ember_hw_read_perf(struct ember_device *edev, struct drm_ember_perf *perf);

/* ember_mmu.c */
int ember_mmu_init(struct ember_device *edev, struct ember_mmu *mmu);
void ember_mmu_fini(struct ember_device *edev, struct ember_mmu *mmu);
int ember_mmu_map_bo(struct ember_file *efile, struct ember_bo *bo);
void ember_mmu_unmap_bo(struct ember_file *efile, struct ember_bo *bo);
int ember_mmu_bind_slot(struct ember_file *efile);
struct dma_fence *ember_mmu_slot_wait(struct ember_file *efile);
void ember_mmu_unbind_slot(struct ember_file *efile);
void ember_mmu_restore_slots(struct ember_device *edev);

/* ember_gem.c */
struct drm_gem_object *ember_gem_create_object(struct drm_device *drm, size_t size);
int ember_bo_create(struct drm_file *file, u64 size, u32 *handle, u64 *dev_va,
		    u64 *mmap_offset);
struct ember_bo *ember_bo_lookup(struct drm_file *file, u32 handle);
int ember_bo_mmap_offset(struct ember_bo *bo, u64 *offset);

/* ember_drv.c: per-file context */
struct ember_file *ember_file_get(struct ember_file *efile);
void ember_file_put(struct ember_file *efile);
void ember_file_activate(struct ember_file *efile);
void ember_file_deactivate(struct ember_file *efile);

/* ember_job.c: submission and the per-file submission line */
int ember_submit(struct drm_file *file, const struct drm_ember_job *jobs, u32 count,
		 u32 in_syncobj, u32 out_syncobj, u64 *first_seqno);
int ember_submit_prepare(struct drm_file *file, const struct drm_ember_job *args, u32 count,
			 u32 in_syncobj, struct ember_submit *sub);
int ember_submit_queue(struct ember_file *efile, struct ember_submit *sub, bool nonblock);
void ember_submit_fini(struct ember_submit *sub);
void ember_line_init(struct ember_file *efile);
bool ember_line_join(struct ember_file *efile, struct ember_submit *sub,
		     enum ember_line_state state);
void ember_line_park(struct ember_file *efile, struct ember_submit *sub);
void ember_line_leave(struct ember_file *efile, struct ember_submit *sub);
int ember_line_cancel(struct ember_file *efile, struct ember_submit *sub);
int ember_job_validate(const struct drm_ember_job *job);
void ember_job_free(struct ember_job *job);

/* ember_sched.c: drm_sched backend, removal, timeout recovery */
extern unsigned int ember_job_timeout_ms;
int ember_job_init(struct ember_device *edev);
void ember_job_shutdown(struct ember_device *edev);
int ember_job_file_init(struct ember_file *efile);
void ember_job_file_fini(struct ember_file *efile);

/* ember_ring.c: hardware ring and its interrupts (ring_lock) */
struct dma_fence *ember_run_job(struct drm_sched_job *sched_job);
void ember_ring_retire(struct ember_device *edev);
void ember_ring_abort(struct ember_device *edev, struct ember_job *bad);
struct dma_fence *ember_ring_oldest_fence(struct ember_device *edev);
irqreturn_t ember_irq_job(int irq, void *arg);
irqreturn_t ember_irq_error(int irq, void *arg);

/* ember_status.c: per-file status records, WAIT */
void ember_rec_start(struct ember_file *efile, u64 seqno, struct dma_fence *done);
void ember_rec_done(struct ember_file *efile, u64 seqno, u32 status);
int ember_job_status(struct ember_file *efile, u64 seqno, u32 *status);
int ember_wait(struct ember_file *efile, u64 seqno, s64 timeout_ns, u32 *status);

/* ember_ioctl.c */
#define EMBER_NUM_IOCTLS	(DRM_EMBER_WAIT + 1)
extern const struct drm_ioctl_desc ember_ioctls[EMBER_NUM_IOCTLS];

/* ember_uring.c */
int ember_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags);

#endif /* EMBER_DRV_H */
