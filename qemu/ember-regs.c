/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Ember NPU BAR0: the register file of hw.h and the interrupt logic.
 * Every register is handled as 32-bit halves; an 8-byte access is two
 * 4-byte accesses, low half first. Reading the low half of a 64-bit
 * read-only register latches its high half, so a split read is not torn.
 */
#include "qemu/osdep.h"
#include "qemu/log.h"
#include "hw/pci/msix.h"

#include "ember-npu.h"

#define IRQ_ALL (EMBER_IRQ_JOB_DONE | EMBER_IRQ_MMU_FAULT | \
                 EMBER_IRQ_FW_ERROR | EMBER_IRQ_QUEUE_ERROR)
#define AS_ROOT_END EMBER_REG_AS_ROOT(EMBER_NUM_AS)
#define PERF_END (EMBER_REG_PERF_BUSY_NS + 8 * EMBER_PERF_COUNT)

/* Actions a register write asks for, done after s->lock is dropped. */
#define ACT_BOOT  (1u << 0)
#define ACT_RESET (1u << 1)

static uint32_t irq_vectors(uint32_t bits)
{
    uint32_t v = 0;

    if (bits & EMBER_IRQ_JOB_DONE) {
        v |= 1u << EMBER_MSIX_JOB;
    }
    if (bits & (EMBER_IRQ_MMU_FAULT | EMBER_IRQ_FW_ERROR |
                EMBER_IRQ_QUEUE_ERROR)) {
        v |= 1u << EMBER_MSIX_ERROR;
    }
    return v;
}

/* A message goes out for each bit of STATUS & MASK that turns from 0 to 1. */
uint32_t ember_irq_set_locked(EmberNpuState *s, uint32_t bits)
{
    uint32_t before = s->irq_status & s->irq_mask;

    s->irq_status |= bits & IRQ_ALL;
    return irq_vectors(s->irq_status & s->irq_mask & ~before);
}

void ember_irq_notify(EmberNpuState *s, uint32_t vectors)
{
    unsigned int v;

    for (v = 0; v < EMBER_MSIX_COUNT; v++) {
        if (vectors & (1u << v)) {
            msix_notify(PCI_DEVICE(s), v);
        }
    }
}

void ember_irq_post_locked(EmberNpuState *s, uint32_t bits)
{
    s->irq_pending |= bits;
    qemu_bh_schedule(s->irq_bh);
}

void ember_irq_bh(void *opaque)
{
    EmberNpuState *s = opaque;
    uint32_t vectors;

    qemu_mutex_lock(&s->lock);
    vectors = ember_irq_set_locked(s, s->irq_pending);
    s->irq_pending = 0;
    qemu_mutex_unlock(&s->lock);
    ember_irq_notify(s, vectors);
}

void ember_soft_reset(EmberNpuState *s)
{
    qemu_mutex_lock(&s->lock);
    /* Drop the job in flight: the worker neither writes its ring entry
     * nor advances HEAD once abort is set. */
    s->abort = true;
    qemu_cond_broadcast(&s->cond);
    while (s->busy) {
        qemu_cond_wait(&s->cond, &s->lock);
    }
    s->fw_addr = 0;
    s->fw_size = 0;
    s->fw_status = EMBER_FW_STATUS_OFF;
    s->fw_abi = 0;
    s->fw_build_id = 0;
    s->cq_base_reg = 0;
    s->cq_size_reg = 0;
    s->cq_ctrl = 0;
    s->cq_base = 0;
    s->cq_size = 0;
    s->cq_tail = 0;
    s->cq_head = 0;
    s->ring_stopped = false;
    s->irq_status = 0;
    s->irq_mask = 0;
    s->irq_pending = 0;
    memset(s->as_root, 0, sizeof(s->as_root));
    s->mmu_fault_status = 0;
    s->mmu_fault_addr = 0;
    memset(s->perf, 0, sizeof(s->perf));
    s->latch_off = 0;
    s->abort = false;
    qemu_mutex_unlock(&s->lock);
    /* The worker is idle: no view is in use. */
    ember_view_invalidate(s, EMBER_VIEW_ALL_SLOTS);
}

/* 32-bit half of a 64-bit register value. */
static uint32_t half(uint64_t v, hwaddr off, hwaddr base)
{
    return off == base ? (uint32_t)v : (uint32_t)(v >> 32);
}

/* A half of a 64-bit read-only register whose value may move. */
static uint32_t ro64(EmberNpuState *s, hwaddr off, hwaddr base, uint64_t v)
{
    if (off == base) {
        s->latch_hi = v >> 32;
        s->latch_off = base + 4;
        return v;
    }
    if (s->latch_off == off) {
        s->latch_off = 0;
        return s->latch_hi;
    }
    return v >> 32;
}

static void set_half(uint64_t *reg, hwaddr off, hwaddr base, uint32_t val)
{
    if (off == base) {
        *reg = deposit64(*reg, 0, 32, val);
    } else {
        *reg = deposit64(*reg, 32, 32, val);
    }
}

static uint32_t reg_read32(EmberNpuState *s, hwaddr off)
{
    bool ready = s->fw_status == EMBER_FW_STATUS_READY;

    switch (off) {
    case EMBER_REG_ID:
        return EMBER_ID_MAGIC;
    case EMBER_REG_HW_VERSION:
        return EMBER_HW_VERSION;
    case EMBER_REG_CAPS_OPS:
        return s->caps_ops;
    case EMBER_REG_CAPS_DTYPES:
        return s->caps_dtypes;
    case EMBER_REG_NUM_AS:
        return EMBER_NUM_AS;
    case EMBER_REG_COMPUTE_UNITS:
        return s->compute_threads;
    case EMBER_REG_FW_ABI:
        return ready ? s->fw_abi : 0;
    case EMBER_REG_FW_BUILD_ID:
    case EMBER_REG_FW_BUILD_ID + 4:
        return ro64(s, off, EMBER_REG_FW_BUILD_ID, ready ? s->fw_build_id : 0);
    case EMBER_REG_FW_ADDR:
    case EMBER_REG_FW_ADDR + 4:
        return half(s->fw_addr, off, EMBER_REG_FW_ADDR);
    case EMBER_REG_FW_SIZE:
        return s->fw_size;
    case EMBER_REG_FW_STATUS:
        return s->fw_status;
    case EMBER_REG_CQ_BASE:
    case EMBER_REG_CQ_BASE + 4:
        return half(s->cq_base_reg, off, EMBER_REG_CQ_BASE);
    case EMBER_REG_CQ_SIZE:
        return s->cq_size_reg;
    case EMBER_REG_CQ_CTRL:
        return s->cq_ctrl;
    case EMBER_REG_CQ_TAIL:
        return s->cq_tail;
    case EMBER_REG_CQ_HEAD:
        return s->cq_head;
    case EMBER_REG_IRQ_STATUS:
        return s->irq_status;
    case EMBER_REG_IRQ_MASK:
        return s->irq_mask;
    case EMBER_REG_MMU_FAULT_STATUS:
        return s->mmu_fault_status;
    case EMBER_REG_MMU_FAULT_ADDR:
    case EMBER_REG_MMU_FAULT_ADDR + 4:
        return ro64(s, off, EMBER_REG_MMU_FAULT_ADDR, s->mmu_fault_addr);
    }
    if (off >= EMBER_REG_AS_ROOT(0) && off < AS_ROOT_END) {
        hwaddr base = off & ~7ull;

        return half(s->as_root[(base - EMBER_REG_AS_ROOT(0)) / 8], off, base);
    }
    if (off >= EMBER_REG_PERF_BUSY_NS && off < PERF_END) {
        hwaddr base = off & ~7ull;

        return ro64(s, off, base,
                    s->perf[(base - EMBER_REG_PERF_BUSY_NS) / 8]);
    }
    /* Write-only registers and holes read as zero. */
    return 0;
}

/*
 * Write one 32-bit register (s->lock held). Returns the ACT_* to do once
 * the lock is dropped; adds MSI-X vectors to send to *vectors and slots
 * whose views to drop (ember-view.c) to *inval.
 */
static uint32_t reg_write32(EmberNpuState *s, hwaddr off, uint32_t val,
                            uint32_t *vectors, uint32_t *inval)
{
    uint32_t before;

    switch (off) {
    case EMBER_REG_FW_ADDR:
    case EMBER_REG_FW_ADDR + 4:
        set_half(&s->fw_addr, off, EMBER_REG_FW_ADDR, val);
        return 0;
    case EMBER_REG_FW_SIZE:
        s->fw_size = val;
        return 0;
    case EMBER_REG_FW_CTRL:
        return (val & EMBER_FW_CTRL_BOOT) ? ACT_BOOT : 0;
    case EMBER_REG_CQ_BASE:
    case EMBER_REG_CQ_BASE + 4:
        set_half(&s->cq_base_reg, off, EMBER_REG_CQ_BASE, val);
        return 0;
    case EMBER_REG_CQ_SIZE:
        s->cq_size_reg = val;
        return 0;
    case EMBER_REG_CQ_CTRL:
        ember_ring_ctrl_locked(s, val);
        return 0;
    case EMBER_REG_CQ_TAIL:
        ember_ring_doorbell_locked(s, val);
        return 0;
    case EMBER_REG_IRQ_STATUS:
        s->irq_status &= ~val;
        return 0;
    case EMBER_REG_IRQ_MASK:
        before = s->irq_status & s->irq_mask;
        s->irq_mask = val & IRQ_ALL;
        *vectors |= irq_vectors(s->irq_status & s->irq_mask & ~before);
        return 0;
    case EMBER_REG_MMU_INVALIDATE:
        if (val == EMBER_MMU_INVALIDATE_ALL) {
            *inval |= EMBER_VIEW_ALL_SLOTS;
        } else if (val < EMBER_NUM_AS) {
            *inval |= 1u << val;
        } else {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "ember-npu: MMU_INVALIDATE of bad slot %u\n", val);
        }
        return 0;
    case EMBER_REG_MMU_FAULT_STATUS:
        if (val & EMBER_MMU_FAULT_VALID) {
            s->mmu_fault_status = 0;
            s->mmu_fault_addr = 0;
        }
        return 0;
    case EMBER_REG_RESET:
        return (val & EMBER_RESET_SOFT) ? ACT_RESET : 0;
    }
    if (off >= EMBER_REG_AS_ROOT(0) && off < AS_ROOT_END) {
        hwaddr base = off & ~7ull;
        unsigned int slot = (base - EMBER_REG_AS_ROOT(0)) / 8;

        set_half(&s->as_root[slot], off, base, val);
        /* Another page table: the slot's views translate the old one. */
        *inval |= 1u << slot;
        return 0;
    }
    qemu_log_mask(LOG_GUEST_ERROR,
                  "ember-npu: write 0x%x to read-only or unknown register "
                  "0x%" HWADDR_PRIx "\n", val, off);
    return 0;
}

static uint64_t ember_regs_read(void *opaque, hwaddr addr, unsigned size)
{
    EmberNpuState *s = opaque;
    uint64_t v;

    qemu_mutex_lock(&s->lock);
    v = reg_read32(s, addr);
    if (size == 8) {
        v |= (uint64_t)reg_read32(s, addr + 4) << 32;
    }
    qemu_mutex_unlock(&s->lock);
    return v;
}

static void ember_regs_write(void *opaque, hwaddr addr, uint64_t val,
                             unsigned size)
{
    EmberNpuState *s = opaque;
    uint32_t vectors = 0, inval = 0, act;

    qemu_mutex_lock(&s->lock);
    act = reg_write32(s, addr, val, &vectors, &inval);
    if (size == 8) {
        act |= reg_write32(s, addr + 4, val >> 32, &vectors, &inval);
    }
    qemu_mutex_unlock(&s->lock);

    /* Before the write completes: no later job sees a dropped view. */
    if (inval) {
        ember_view_invalidate(s, inval);
    }
    ember_irq_notify(s, vectors);
    if (act & ACT_RESET) {
        ember_soft_reset(s);
    } else if (act & ACT_BOOT) {
        ember_fw_boot(s);
    }
}

const MemoryRegionOps ember_regs_ops = {
    .read = ember_regs_read,
    .write = ember_regs_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 4,
        .max_access_size = 8,
        .unaligned = false,
    },
    .impl = {
        .min_access_size = 4,
        .max_access_size = 8,
    },
};
