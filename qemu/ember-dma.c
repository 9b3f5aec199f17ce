/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Ember NPU: DMA for the worker and compute threads. They run without the
 * BQL, so they may only touch guest RAM: an access to MMIO would need the
 * BQL, which reset and unrealize hold while they wait for the worker.
 * Anything that is not RAM fails here and becomes a fault, never a hang.
 */
#include "qemu/osdep.h"
#include "qemu/rcu.h"
#include "exec/memory.h"
#include "hw/pci/pci_device.h"

#include "ember-npu.h"

bool ember_dma_is_ram(EmberNpuState *s, uint64_t pa, uint64_t len,
                      bool is_write)
{
    AddressSpace *as = pci_get_address_space(PCI_DEVICE(s));

    if (pa + len < pa) {
        return false;
    }
    RCU_READ_LOCK_GUARD();
    while (len) {
        hwaddr xlat, plen = len;
        MemoryRegion *mr = address_space_translate(as, pa, &xlat, &plen,
                                                   is_write,
                                                   MEMTXATTRS_UNSPECIFIED);

        if (!plen || !memory_region_is_ram(mr) ||
            memory_region_is_ram_device(mr) ||
            !memory_access_is_direct(mr, is_write, MEMTXATTRS_UNSPECIFIED)) {
            return false;
        }
        pa += plen;
        len -= plen;
    }
    return true;
}

bool ember_dma_read(EmberNpuState *s, uint64_t pa, void *buf, uint64_t len)
{
    if (!ember_dma_is_ram(s, pa, len, false)) {
        return false;
    }
    return pci_dma_read(PCI_DEVICE(s), pa, buf, len) == MEMTX_OK;
}

bool ember_dma_write(EmberNpuState *s, uint64_t pa, const void *buf,
                     uint64_t len)
{
    if (!ember_dma_is_ram(s, pa, len, true)) {
        return false;
    }
    return pci_dma_write(PCI_DEVICE(s), pa, buf, len) == MEMTX_OK;
}

void ember_dma_mark_written(EmberNpuState *s, uint64_t pa, uint64_t len)
{
    AddressSpace *as = pci_get_address_space(PCI_DEVICE(s));

    RCU_READ_LOCK_GUARD();
    while (len) {
        hwaddr xlat, plen = len;
        MemoryRegion *mr = address_space_translate(as, pa, &xlat, &plen, true,
                                                   MEMTXATTRS_UNSPECIFIED);

        if (!plen) {
            return;
        }
        if (memory_region_is_ram(mr) && !memory_region_is_ram_device(mr) &&
            memory_access_is_direct(mr, true, MEMTXATTRS_UNSPECIFIED)) {
            /*
             * Unmap what address_space_map() returns for this range: that
             * is the only public way to invalidate_and_set_dirty(). The
             * reference is the one address_space_unmap() drops.
             */
            memory_region_ref(mr);
            address_space_unmap(as, qemu_map_ram_ptr(mr->ram_block, xlat),
                                plen, true, plen);
        }
        pa += plen;
        len -= plen;
    }
}
