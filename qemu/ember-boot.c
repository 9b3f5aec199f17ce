/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Ember NPU firmware boot handshake: on FW_CTRL = BOOT the device reads
 * the image at FW_ADDR/FW_SIZE (DMA addresses, not translated by the
 * device MMU), checks it against the firmware compiled into the device
 * and sets FW_STATUS to READY, or to ERROR | code and raises FW_ERROR.
 * It runs in the register write, so BOOTING is never seen by the host.
 */
#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "hw/pci/pci_device.h"

#include "ember-npu.h"

void ember_fw_boot(EmberNpuState *s)
{
    struct ember_fw_header hdr;
    uint32_t err = 0, vectors = 0, size;
    uint64_t addr;
    void *img = NULL;
    bool dead;

    qemu_mutex_lock(&s->lock);
    if (s->fw_status == EMBER_FW_STATUS_READY) {
        /* Running firmware is replaced only after a reset. */
        qemu_mutex_unlock(&s->lock);
        return;
    }
    addr = s->fw_addr;
    size = s->fw_size;
    dead = s->dead;
    s->fw_status = EMBER_FW_STATUS_BOOTING;
    qemu_mutex_unlock(&s->lock);

    if (dead) {
        err = EMBER_FW_ERR_CRASH;       /* inject-dead-job */
    } else if (size < sizeof(hdr) || size > EMBER_FW_MAX_SIZE) {
        err = EMBER_FW_ERR_SIZE;
    } else {
        img = g_malloc(size);
        if (pci_dma_read(PCI_DEVICE(s), addr, img, size) != MEMTX_OK) {
            err = EMBER_FW_ERR_DMA;
        } else {
            err = ember_fw_check_image(img, size);
            memcpy(&hdr, img, sizeof(hdr));
        }
        g_free(img);
    }

    qemu_mutex_lock(&s->lock);
    if (err) {
        s->fw_status = EMBER_FW_STATUS_ERROR | err;
        vectors = ember_irq_set_locked(s, EMBER_IRQ_FW_ERROR);
    } else {
        s->fw_abi = (uint32_t)le16_to_cpu(hdr.abi_major) << 16 |
                    le16_to_cpu(hdr.abi_minor);
        s->fw_build_id = le64_to_cpu(hdr.build_id);
        s->fw_status = EMBER_FW_STATUS_READY;
        qemu_cond_broadcast(&s->cond);  /* jobs may already be queued */
    }
    qemu_mutex_unlock(&s->lock);
    ember_irq_notify(s, vectors);
}
