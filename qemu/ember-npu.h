/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Ember NPU device model: state shared by its parts.
 *   ember-npu.c   PCI device, properties, realize/unrealize, reset
 *   ember-regs.c  BAR0 registers and interrupts
 *   ember-boot.c  firmware boot handshake
 *   ember-ring.c  job ring worker thread
 *   ember-mmu.c   device MMU (page-table walk, fault recording)
 *   ember-hal.c   struct ember_hal for the firmware (map/unmap/parallel)
 *   ember-view.c  zero-copy views of scattered guest RAM, and their cache
 *   ember-dma.c   RAM-only DMA used by the worker
 *
 * Locking: s->lock guards every register and worker field below. Lock
 * order is BQL -> s->lock. The worker and compute threads never take the
 * BQL; they only touch guest RAM (ember-dma.c refuses anything else), so
 * reset and unrealize may wait for them while holding the BQL. Interrupts
 * raised by the worker are delivered by a BH (irq_bh) under the BQL.
 * map_lock (HAL mappings) and view_lock (the view cache) are leaf locks:
 * nothing is taken while holding them.
 */
#ifndef HW_MISC_EMBER_NPU_H
#define HW_MISC_EMBER_NPU_H

#include "hw/pci/pci_device.h"
#include "qemu/queue.h"
#include "qemu/thread.h"
#include "qom/object.h"

#include "ember/fw.h"
#include "ember/hw.h"

#define TYPE_EMBER_NPU "ember-npu"
OBJECT_DECLARE_SIMPLE_TYPE(EmberNpuState, EMBER_NPU)

typedef struct EmberView EmberView;
#define EMBER_VIEW_ALL_SLOTS ((1u << EMBER_NUM_AS) - 1)

/* Performance counters, in register order from EMBER_REG_PERF_BUSY_NS. */
enum {
    EMBER_PERF_BUSY_NS,
    EMBER_PERF_JOBS,
    EMBER_PERF_OPS,
    EMBER_PERF_BYTES_RD,
    EMBER_PERF_BYTES_WR,
    EMBER_PERF_FAULTS,
    EMBER_PERF_BYTES_COPIED,
    EMBER_PERF_COUNT
};

struct EmberNpuState {
    PCIDevice parent_obj;
    MemoryRegion regs;

    /* properties */
    uint32_t compute_threads;
    uint32_t caps_ops_mask;
    uint32_t caps_dtypes_mask;
    bool inject_hang;           /* every job hangs */
    uint32_t inject_hang_job;   /* the Nth job since realize hangs (0: off) */
    /* the Nth job since realize (0: off) ... */
    uint32_t inject_fault_job;  /* ... faults the MMU at its stream */
    uint32_t inject_bad_completion_job; /* ... completes with a wrong seqno */
    uint32_t inject_fw_crash_job;       /* ... crashes the firmware */
    uint32_t inject_dead_job;   /* ... hangs, and no firmware boots again */
    uint32_t inject_slow_job;   /* ... takes inject_slow_ms first */
    uint32_t inject_slow_ms;
    uint32_t view_max;          /* "views": views cached at most (0: none) */
    uint32_t view_max_maps;     /* "view-maps": host mappings they may hold */

    /* fixed at realize */
    uint32_t caps_ops;
    uint32_t caps_dtypes;
    struct ek_pool *pool;
    struct ember_hal hal;

    QemuMutex lock;
    QemuCond cond;              /* worker wake-up; reset waits for !busy */

    /* registers */
    uint64_t fw_addr;
    uint32_t fw_size;
    uint32_t fw_status;
    uint32_t fw_abi;
    uint64_t fw_build_id;
    uint64_t cq_base_reg;       /* as written */
    uint32_t cq_size_reg;
    uint32_t cq_ctrl;
    uint64_t cq_base;           /* latched by CQ_CTRL.ENABLE */
    uint32_t cq_size;
    uint32_t cq_tail;
    uint32_t cq_head;
    bool ring_stopped;          /* after QUEUE_ERROR, until reset/re-enable */
    uint32_t irq_status;
    uint32_t irq_mask;
    uint64_t as_root[EMBER_NUM_AS];
    uint32_t mmu_fault_status;
    uint64_t mmu_fault_addr;
    uint64_t perf[EMBER_PERF_COUNT];
    uint32_t latch_hi;          /* high half of a 64-bit RO register ... */
    hwaddr latch_off;           /* ... latched by reading its low half */

    /* worker */
    QemuThread worker;
    bool worker_stop;           /* unrealize */
    bool abort;                 /* reset: drop the current job quickly */
    bool busy;                  /* the worker owns a ring entry */
    uint32_t jobs_started;
    bool dead;                  /* inject-dead-job ran: boots fail */
    uint32_t irq_pending;       /* raised by the worker, sent by irq_bh */
    QEMUBH *irq_bh;

    /* HAL mappings alive during a job (EmberMapping *) */
    QemuMutex map_lock;
    GPtrArray *maps;
    uint64_t job_bytes_copied;  /* bounced by this job so far (map_lock) */

    /* zero-copy views (ember-view.c), under view_lock */
    QemuMutex view_lock;
    bool view_ok;               /* fixed at realize: the host can map them */
    GHashTable *views;          /* cached EmberView, keyed by its range */
    QTAILQ_HEAD(, EmberView) view_lru;  /* cached, least recently used first */
    uint32_t view_count;        /* views alive, cached or in use */
    uint64_t view_maps;         /* host mappings they hold */
    uint32_t view_gen[EMBER_NUM_AS];    /* bumped by each invalidation */
};

/* ember-regs.c */
extern const MemoryRegionOps ember_regs_ops;
/* Set IRQ_STATUS bits (s->lock held); returns the MSI-X vectors to notify
 * (bit n = vector n) once the lock is dropped. */
uint32_t ember_irq_set_locked(EmberNpuState *s, uint32_t bits);
void ember_irq_notify(EmberNpuState *s, uint32_t vectors);
/* Queue bits from a thread without the BQL (s->lock held). */
void ember_irq_post_locked(EmberNpuState *s, uint32_t bits);
void ember_irq_bh(void *opaque);
/* Back to power-on register state; waits for the worker (BQL held). */
void ember_soft_reset(EmberNpuState *s);

/* ember-boot.c: FW_CTRL = BOOT (BQL held, s->lock not held). */
void ember_fw_boot(EmberNpuState *s);

/* ember-ring.c */
void ember_ring_start(EmberNpuState *s);
void ember_ring_stop(EmberNpuState *s);
/* CQ_TAIL / CQ_CTRL writes (s->lock held). */
void ember_ring_doorbell_locked(EmberNpuState *s, uint32_t tail);
void ember_ring_ctrl_locked(EmberNpuState *s, uint32_t ctrl);

/* ember-mmu.c */
typedef struct EmberRun {
    uint64_t pa;
    uint64_t len;
} EmberRun;
/*
 * Translate [va, va + len) of slot @as for @access into physically
 * contiguous runs (appended to @runs, a GArray of EmberRun). Returns true,
 * or false with @fault filled.
 */
bool ember_mmu_translate(EmberNpuState *s, uint32_t as, uint64_t va,
                         uint64_t len, unsigned int access, GArray *runs,
                         struct ember_mmu_fault *fault);
/* Latch @fault into MMU_FAULT_STATUS/ADDR and raise MMU_FAULT. */
void ember_mmu_report_fault(EmberNpuState *s, uint32_t as,
                            const struct ember_mmu_fault *fault);

/* ember-hal.c */
void ember_hal_init(EmberNpuState *s);
void ember_hal_cleanup(EmberNpuState *s);
/* Release mappings the firmware left behind (worker, after each job). */
void ember_hal_end_job(EmberNpuState *s);

/* ember-hal.c: bytes the running job bounced so far; zeroes the count. */
uint64_t ember_hal_take_copied(EmberNpuState *s);

/*
 * ember-view.c. A view maps [va, va + len) of slot @as, for @access, at
 * consecutive host addresses without a copy; the cache holds one view per
 * (slot, va, access). get() returns a cached view that covers @len (no page
 * walk) or NULL, and then sets *@shorter to the length of a cached view at
 * @va that is too short (0: none), so that a range that grows, as a KV
 * cache does token after token, can be mapped ahead. create() builds a view
 * over the runs the MMU gave (NULL: copy instead), caching it in place of
 * a shorter one unless the slot's generation moved past @gen, read with
 * ember_view_gen() before the walk. Each view returned holds one use until
 * ember_view_put(), which also marks the first @len bytes of a writable
 * view as written. ember_view_invalidate() drops the cached views of the
 * slots in the mask @slots (bit n = slot n).
 */
void ember_view_init(EmberNpuState *s);
void ember_view_cleanup(EmberNpuState *s);
EmberView *ember_view_get(EmberNpuState *s, uint32_t as, uint64_t va,
                          uint64_t len, unsigned int access,
                          uint64_t *shorter);
uint32_t ember_view_gen(EmberNpuState *s, uint32_t as);
EmberView *ember_view_create(EmberNpuState *s, uint32_t as, uint64_t va,
                             uint64_t len, unsigned int access,
                             const GArray *runs, uint32_t gen);
void *ember_view_ptr(const EmberView *v);
void ember_view_put(EmberNpuState *s, EmberView *v, uint64_t len);
void ember_view_invalidate(EmberNpuState *s, uint32_t slots);

/* ember-dma.c: guest-RAM-only DMA, safe without the BQL */
bool ember_dma_read(EmberNpuState *s, uint64_t pa, void *buf, uint64_t len);
bool ember_dma_write(EmberNpuState *s, uint64_t pa, const void *buf,
                     uint64_t len);
bool ember_dma_is_ram(EmberNpuState *s, uint64_t pa, uint64_t len,
                      bool is_write);
/*
 * The device wrote guest RAM at [pa, pa + len) in place (through a view):
 * set its dirty bits and drop TCG code translated from it, as the end of a
 * DMA write does.
 */
void ember_dma_mark_written(EmberNpuState *s, uint64_t pa, uint64_t len);

#endif
