/* SPDX-License-Identifier: MIT */
/*
 * The Ember firmware: the command processor that runs on the NPU. It is
 * freestanding C that reaches the hardware only through struct ember_hal,
 * so the same code runs inside the QEMU device model and in host tests.
 */
#ifndef EMBER_FW_H
#define EMBER_FW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/hw.h"

/* How the firmware accesses device-virtual memory. */
enum ember_access {
	EMBER_ACCESS_READ = 1,
	EMBER_ACCESS_WRITE = 2,
};

struct ember_mmu_fault {
	uint64_t va;		/* first faulting address */
	uint32_t reason;	/* EMBER_MMU_REASON_* */
	uint32_t access;	/* enum ember_access */
};

/* The hardware the firmware runs on. All callbacks get @ctx. */
struct ember_hal {
	void *ctx;
	/*
	 * Make [va, va + len) of address-space slot @as addressable from the
	 * firmware, translated through the device MMU with the permission
	 * @access needs. Returns a pointer valid until unmap(), or NULL with
	 * @fault filled. The implementation may bounce through a copy: data
	 * is read at map time and, with EMBER_ACCESS_WRITE, written back at
	 * unmap time.
	 */
	void *(*map)(void *ctx, uint32_t as, uint64_t va, uint64_t len,
		     unsigned int access, struct ember_mmu_fault *fault);
	void (*unmap)(void *ctx, void *ptr, uint64_t len, unsigned int access);
	/*
	 * Run fn(arg, i, n) for i in [0, n) on the device's compute threads
	 * and return when all have finished. n <= nthreads.
	 */
	void (*parallel)(void *ctx, void (*fn)(void *arg, int i, int n),
			 void *arg, int n);
	int nthreads;
	uint32_t caps_ops;	/* ops this device enables (bit = opcode) */
	uint32_t caps_dtypes;	/* dtypes this device enables (bit = dtype) */
};

/* Result of one job, as written into its struct ember_hw_job. */
struct ember_job_result {
	uint32_t status;	/* enum ember_job_status */
	uint32_t fault_op;	/* index of the op that failed */
	uint64_t fault_va;
	uint64_t ops;		/* ops executed */
	uint64_t bytes_read;
	uint64_t bytes_written;
};

/*
 * Validate every op of the command stream at [cmd_va, cmd_va + cmd_size)
 * in slot @as, then run them in order. Never crashes on any input: a bad
 * stream ends as a job status.
 */
void ember_fw_run_job(const struct ember_hal *hal, uint32_t as,
		      uint64_t cmd_va, uint32_t cmd_size,
		      struct ember_job_result *res);

/*
 * Validate a command stream already in memory (no device access). Returns
 * EMBER_JOB_OK or the status of the first bad op, whose index goes to
 * *bad_op. Used by ember_fw_run_job and by fuzzers.
 */
uint32_t ember_fw_validate(const void *cmd, uint32_t cmd_size,
			   uint32_t caps_ops, uint32_t caps_dtypes,
			   uint32_t *bad_op);

/* The ops and dtypes this firmware implements. */
uint32_t ember_fw_caps_ops(void);
uint32_t ember_fw_caps_dtypes(void);

/* The build id and version string of this firmware, also stamped into the
 * image by tools/mkfwimage so the device can match image and firmware. */
uint64_t ember_fw_build_id(void);
const char *ember_fw_version(void);

/*
 * Check a firmware image: header, size, magic, checksum, ABI major, and
 * that its build id is this firmware's. Returns 0 or an EMBER_FW_ERR_*.
 */
uint32_t ember_fw_check_image(const void *image, size_t size);

/* CRC-32 (IEEE 802.3) as used by the image checksum. */
uint32_t ember_crc32(uint32_t crc, const void *buf, size_t len);

#endif /* EMBER_FW_H */
