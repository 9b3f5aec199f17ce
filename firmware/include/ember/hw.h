/* SPDX-License-Identifier: MIT */
/*
 * Ember NPU hardware interface: PCI identity, BAR0 registers, the hardware
 * job ring, the device MMU page-table format and the firmware image header.
 * docs/hardware.md is the prose form of this file; the QEMU model, the
 * firmware and ember.ko all include it.
 */
#ifndef EMBER_HW_H
#define EMBER_HW_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdint.h>
#endif

/* ---- PCI identity ---------------------------------------------------- */
#define EMBER_PCI_VENDOR_ID	0x1234	/* QEMU's test-device vendor id */
#define EMBER_PCI_DEVICE_ID	0xe3b0
#define EMBER_PCI_CLASS		0x1200	/* processing accelerator */
#define EMBER_PCI_REVISION	0x01

#define EMBER_BAR_REGS		0	/* 64 KiB MMIO, 64-bit BAR */
#define EMBER_BAR_MSIX		2	/* MSI-X table and PBA */
#define EMBER_REGS_SIZE		0x10000

/* MSI-X vectors */
#define EMBER_MSIX_JOB		0	/* IRQ_STATUS.JOB_DONE */
#define EMBER_MSIX_ERROR	1	/* MMU_FAULT, FW_ERROR, QUEUE_ERROR */
#define EMBER_MSIX_COUNT	2

/* ---- BAR0 registers (little endian; 64-bit registers take one 8-byte
 *      access or two 4-byte accesses, low half first) -------------------- */
#define EMBER_REG_ID		0x000	/* RO: EMBER_ID_MAGIC */
#define EMBER_ID_MAGIC		0x454d4252	/* "EMBR" */
#define EMBER_REG_HW_VERSION	0x004	/* RO: major << 16 | minor */
#define EMBER_HW_VERSION	0x00010000
#define EMBER_REG_CAPS_OPS	0x008	/* RO: bit n = opcode n supported */
#define EMBER_REG_CAPS_DTYPES	0x00c	/* RO: bit n = dtype n supported */
#define EMBER_REG_NUM_AS	0x010	/* RO: address-space slots */
#define EMBER_REG_COMPUTE_UNITS	0x014	/* RO: compute threads */
#define EMBER_REG_FW_ABI	0x018	/* RO, valid when READY: major<<16|minor */
#define EMBER_REG_FW_BUILD_ID	0x020	/* RO 64-bit, valid when READY */

/* Firmware boot handshake: host writes FW_ADDR/FW_SIZE (a DMA address of the
 * image in system memory, not translated by the device MMU), then
 * FW_CTRL = BOOT; the device reads and checks the image and sets FW_STATUS. */
#define EMBER_REG_FW_ADDR	0x040	/* RW 64-bit */
#define EMBER_REG_FW_SIZE	0x048	/* RW */
#define EMBER_REG_FW_CTRL	0x04c	/* WO */
#define EMBER_FW_CTRL_BOOT	1u
#define EMBER_REG_FW_STATUS	0x050	/* RO */
#define EMBER_FW_STATUS_OFF		0x0
#define EMBER_FW_STATUS_BOOTING		0x1
#define EMBER_FW_STATUS_READY		0x2
#define EMBER_FW_STATUS_ERROR		0x80000000u	/* | enum below */
#define EMBER_FW_ERR_DMA		0x1	/* image not readable */
#define EMBER_FW_ERR_SIZE		0x2	/* size too small/large */
#define EMBER_FW_ERR_MAGIC		0x3
#define EMBER_FW_ERR_CHECKSUM		0x4
#define EMBER_FW_ERR_ABI		0x5	/* ABI major not the device's */
#define EMBER_FW_ERR_BUILD_ID		0x6	/* not the firmware it runs */
#define EMBER_FW_ERR_CRASH		0x7	/* stopped while running: reset */

/* Job ring: EMBER_REG_CQ_SIZE entries of struct ember_hw_job at CQ_BASE (DMA
 * address, 64-byte aligned). The host fills entry TAIL % SIZE and then writes
 * TAIL + 1 (the doorbell); the device runs entries in order, writes each
 * one's result fields, then advances HEAD and raises JOB_DONE. HEAD and TAIL
 * are free-running 32-bit counters. */
#define EMBER_REG_CQ_BASE	0x080	/* RW 64-bit */
#define EMBER_REG_CQ_SIZE	0x088	/* RW: entries, power of two, 2..4096 */
#define EMBER_REG_CQ_CTRL	0x08c	/* RW: bit 0 = enable (latches base/size) */
#define EMBER_CQ_CTRL_ENABLE	1u
#define EMBER_REG_CQ_TAIL	0x090	/* RW: doorbell */
#define EMBER_REG_CQ_HEAD	0x094	/* RO: entries completed */

/* Interrupts: STATUS bits are write-1-to-clear; an MSI-X message is sent
 * when a bit becomes set while it is unmasked (MASK bit = 1 enables). */
#define EMBER_REG_IRQ_STATUS	0x0c0
#define EMBER_REG_IRQ_MASK	0x0c4
#define EMBER_IRQ_JOB_DONE	(1u << 0)	/* vector EMBER_MSIX_JOB */
#define EMBER_IRQ_MMU_FAULT	(1u << 1)	/* vector EMBER_MSIX_ERROR */
#define EMBER_IRQ_FW_ERROR	(1u << 2)	/* vector EMBER_MSIX_ERROR */
#define EMBER_IRQ_QUEUE_ERROR	(1u << 3)	/* bad ring entry: ring stops */

/* Device MMU: one page-table root per address-space slot (0 = slot off). */
#define EMBER_NUM_AS		16
#define EMBER_REG_AS_ROOT(n)	(0x100 + (n) * 8)	/* RW 64-bit */
#define EMBER_REG_MMU_INVALIDATE 0x200	/* WO: slot number, or ALL */
#define EMBER_MMU_INVALIDATE_ALL 0xffffffffu
#define EMBER_REG_MMU_FAULT_STATUS 0x208	/* RO; write 1 to clear */
#define EMBER_MMU_FAULT_VALID	(1u << 0)
#define EMBER_MMU_FAULT_WRITE	(1u << 1)	/* the access was a write */
#define EMBER_MMU_FAULT_REASON(s) (((s) >> 4) & 0xf)
#define EMBER_MMU_FAULT_SLOT(s)	(((s) >> 16) & 0xff)
#define EMBER_MMU_REASON_NOT_PRESENT 1
#define EMBER_MMU_REASON_PERMISSION 2
#define EMBER_MMU_REASON_RANGE	3	/* VA beyond the 39-bit space */
#define EMBER_MMU_REASON_SLOT	4	/* slot has no root */
#define EMBER_REG_MMU_FAULT_ADDR 0x210	/* RO 64-bit: faulting VA */

#define EMBER_REG_RESET		0x240	/* WO: 1 = soft reset */
#define EMBER_RESET_SOFT	1u

/* Performance counters, RO 64-bit, cleared by reset. BYTES_COPIED: operand
 * bytes the device copied through bounce buffers (read from memory at map
 * time plus written back at unmap time) instead of accessing them in place. */
#define EMBER_REG_PERF_BUSY_NS	0x280
#define EMBER_REG_PERF_JOBS	0x288
#define EMBER_REG_PERF_OPS	0x290
#define EMBER_REG_PERF_BYTES_RD	0x298
#define EMBER_REG_PERF_BYTES_WR	0x2a0
#define EMBER_REG_PERF_FAULTS	0x2a8
#define EMBER_REG_PERF_BYTES_COPIED 0x2b0

/* ---- Hardware job ring entry (64 bytes) ------------------------------- */
struct ember_hw_job {
	/* written by the host */
	uint64_t seqno;		/* fence value, echoed back */
	uint64_t cmd_va;	/* command stream, in slot as_slot */
	uint32_t cmd_size;	/* bytes */
	uint16_t as_slot;
	uint16_t flags;		/* must be zero */
	uint64_t reserved;
	/* written by the device before HEAD passes this entry */
	uint32_t status;	/* enum ember_job_status */
	uint32_t fault_op;	/* index of the op that failed */
	uint64_t fault_va;	/* MMU fault address, if any */
	uint64_t busy_ns;	/* time spent on the job */
	uint64_t done_seqno;	/* = seqno, written last */
};

/* ---- Device MMU page tables -------------------------------------------
 * 3 levels, 4 KiB pages, 39-bit VA: L0 index VA[38:30], L1 VA[29:21],
 * L2 VA[20:12]. Each table is one 4 KiB page of 512 little-endian u64.
 * An L0/L1 entry with VALID points to the next table; an L2 entry with
 * VALID maps a page with READ/WRITE permissions. Address bits [51:12]. */
#define EMBER_VA_BITS		39
#define EMBER_PAGE_SHIFT	12
#define EMBER_PAGE_SIZE		(1ull << EMBER_PAGE_SHIFT)
#define EMBER_PT_ENTRIES	512
#define EMBER_PTE_VALID		(1ull << 0)
#define EMBER_PTE_READ		(1ull << 1)
#define EMBER_PTE_WRITE		(1ull << 2)
#define EMBER_PTE_ADDR_MASK	0x000ffffffffff000ull
#define EMBER_PT_INDEX(va, level) \
	(((va) >> (30 - 9 * (level))) & (EMBER_PT_ENTRIES - 1))

/* ---- Firmware image (ember/ember-fw.bin) ------------------------------
 * A header, then payload_size bytes of payload. checksum is CRC-32
 * (IEEE 802.3, as zlib's crc32) of the payload. */
#define EMBER_FW_MAGIC		0x57464d45	/* "EMFW" */
#define EMBER_FW_ABI_MAJOR	1
#define EMBER_FW_ABI_MINOR	4
/* The driver hands the device one DMA-coherent copy: 4 MiB is the largest
 * contiguous allocation Linux makes (MAX_PAGE_ORDER 10 of 4 KiB pages). */
#define EMBER_FW_MAX_SIZE	(4u << 20)

struct ember_fw_header {
	uint32_t magic;
	uint16_t abi_major;
	uint16_t abi_minor;
	uint32_t header_size;	/* sizeof(struct ember_fw_header) */
	uint32_t payload_size;
	uint64_t build_id;	/* identifies the firmware build */
	uint32_t checksum;	/* CRC-32 of the payload */
	uint32_t reserved;
	char version[32];	/* NUL-terminated, e.g. "1.0.0+3f2a9c1d" */
};

#endif /* EMBER_HW_H */
