/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Ember NPU device MMU: walks the 3-level page tables of hw.h in guest
 * memory for every map (no translation is cached between maps, so an
 * MMU_INVALIDATE has nothing to drop) and turns a device-VA range into
 * physically contiguous runs, or into a fault.
 */
#include "qemu/osdep.h"
#include "qemu/bswap.h"

#include "ember-npu.h"

#define VA_LIMIT (1ull << EMBER_VA_BITS)

static bool fail(struct ember_mmu_fault *fault, uint64_t va, uint32_t reason)
{
    fault->va = va;
    fault->reason = reason;
    return false;
}

/* Read the table entry for @va at @level of the table at @table. */
static bool read_entry(EmberNpuState *s, uint64_t table, uint64_t va,
                       int level, uint64_t *entry)
{
    uint64_t e;

    if (!ember_dma_read(s, table + EMBER_PT_INDEX(va, level) * 8, &e, 8)) {
        return false;
    }
    *entry = le64_to_cpu(e);
    return true;
}

static bool pte_allows(uint64_t pte, unsigned int access)
{
    if ((access & EMBER_ACCESS_READ) && !(pte & EMBER_PTE_READ)) {
        return false;
    }
    if ((access & EMBER_ACCESS_WRITE) && !(pte & EMBER_PTE_WRITE)) {
        return false;
    }
    return true;
}

static void add_run(GArray *runs, uint64_t pa, uint64_t len)
{
    EmberRun *last = runs->len ? &g_array_index(runs, EmberRun, runs->len - 1)
                               : NULL;

    if (last && last->pa + last->len == pa) {
        last->len += len;
    } else {
        EmberRun r = { .pa = pa, .len = len };
        g_array_append_val(runs, r);
    }
}

bool ember_mmu_translate(EmberNpuState *s, uint32_t as, uint64_t va,
                         uint64_t len, unsigned int access, GArray *runs,
                         struct ember_mmu_fault *fault)
{
    uint64_t ptes[EMBER_PT_ENTRIES];
    uint64_t root, page, end;

    fault->access = access;
    if (as >= EMBER_NUM_AS) {
        return fail(fault, va, EMBER_MMU_REASON_SLOT);
    }
    if (va >= VA_LIMIT) {
        return fail(fault, va, EMBER_MMU_REASON_RANGE);
    }
    if (len > VA_LIMIT - va) {
        return fail(fault, VA_LIMIT, EMBER_MMU_REASON_RANGE);
    }
    qemu_mutex_lock(&s->lock);
    root = s->as_root[as] & EMBER_PTE_ADDR_MASK;
    qemu_mutex_unlock(&s->lock);
    if (!root) {
        return fail(fault, va, EMBER_MMU_REASON_SLOT);
    }

    end = va + len;
    page = va & ~(EMBER_PAGE_SIZE - 1);
    while (page < end) {
        uint64_t l0e, l1e, l2, first, count, left, i;

        if (!read_entry(s, root, page, 0, &l0e) || !(l0e & EMBER_PTE_VALID) ||
            !read_entry(s, l0e & EMBER_PTE_ADDR_MASK, page, 1, &l1e) ||
            !(l1e & EMBER_PTE_VALID)) {
            return fail(fault, MAX(va, page), EMBER_MMU_REASON_NOT_PRESENT);
        }
        /* All leaf entries of this L2 table that the range needs, at once. */
        l2 = l1e & EMBER_PTE_ADDR_MASK;
        first = EMBER_PT_INDEX(page, 2);
        left = ((end - 1 - page) >> EMBER_PAGE_SHIFT) + 1;
        count = MIN(EMBER_PT_ENTRIES - first, left);
        if (!ember_dma_read(s, l2 + first * 8, ptes, count * 8)) {
            return fail(fault, MAX(va, page), EMBER_MMU_REASON_NOT_PRESENT);
        }
        for (i = 0; i < count; i++, page += EMBER_PAGE_SIZE) {
            uint64_t pte = le64_to_cpu(ptes[i]);
            uint64_t from = MAX(va, page);
            uint64_t to = MIN(end, page + EMBER_PAGE_SIZE);

            if (!(pte & EMBER_PTE_VALID)) {
                return fail(fault, from, EMBER_MMU_REASON_NOT_PRESENT);
            }
            if (!pte_allows(pte, access)) {
                return fail(fault, from, EMBER_MMU_REASON_PERMISSION);
            }
            add_run(runs, (pte & EMBER_PTE_ADDR_MASK) + (from - page),
                    to - from);
        }
    }
    return true;
}

void ember_mmu_report_fault(EmberNpuState *s, uint32_t as,
                            const struct ember_mmu_fault *fault)
{
    qemu_mutex_lock(&s->lock);
    if (!(s->mmu_fault_status & EMBER_MMU_FAULT_VALID)) {
        /* Keep the first fault until the driver clears it. */
        s->mmu_fault_status = EMBER_MMU_FAULT_VALID |
            ((fault->access & EMBER_ACCESS_WRITE) ? EMBER_MMU_FAULT_WRITE : 0) |
            ((fault->reason & 0xf) << 4) | ((as & 0xff) << 16);
        s->mmu_fault_addr = fault->va;
    }
    s->perf[EMBER_PERF_FAULTS]++;
    ember_irq_post_locked(s, EMBER_IRQ_MMU_FAULT);
    qemu_mutex_unlock(&s->lock);
}
