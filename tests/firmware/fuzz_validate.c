// SPDX-License-Identifier: MIT
/*
 * libFuzzer entry point for command-stream validation. Input: u32 caps_ops,
 * u32 caps_dtypes, then the stream. Checks properties that must hold for
 * any input and aborts (a fuzzer crash) when one does not:
 *  - ember_fw_validate returns a known status, deterministically;
 *  - on OK, the ops' sizes tile the stream exactly and every opcode is
 *    enabled; on failure, bad_op names an op inside the stream;
 *  - ember_fw_run_job on a fake device (the stream mapped read-only,
 *    nothing else) agrees with validate, or ends in an MMU fault for a
 *    valid stream, and leaves no mapping behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drm/ember_accel.h"
#include "fake_hal.h"
#include "fuzz_validate.h"

#define FUZZ_PAGES	32	/* the stream lives in the first pages */

static void fail(const char *why, uint32_t st, uint32_t op)
{
	fprintf(stderr, "fuzz_validate: %s (status %u, op %u)\n", why, st, op);
	abort();
}

static uint32_t count_ops_if_tiled(const uint8_t *p, uint32_t size,
				   uint32_t caps_ops, bool *ok)
{
	uint32_t off = 0, n = 0;

	*ok = true;
	while (off < size) {
		struct ember_op_hdr h;

		if (size - off < sizeof(h)) {
			*ok = false;
			return n;
		}
		memcpy(&h, p + off, sizeof(h));
		if (h.size < 8 || h.size % 8 || h.size > size - off ||
		    h.opcode >= 32 || !(caps_ops & (1u << h.opcode))) {
			*ok = false;
			return n;
		}
		off += h.size;
		n++;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fake_dev dev;	/* test code: reused across inputs */
	static bool dev_ready;
	uint32_t caps_ops, caps_dtypes, cmd_size, st, st2, bad_op, bad_op2, n;
	const uint8_t *cmd;
	struct ember_job_result res;
	struct ember_hal hal;
	bool tiled;

	if (size < 8 || size - 8 > FUZZ_PAGES * EMBER_PAGE_SIZE)
		return 0;
	memcpy(&caps_ops, data, 4);
	memcpy(&caps_dtypes, data + 4, 4);
	cmd = data + 8;
	cmd_size = (uint32_t)(size - 8);

	st = ember_fw_validate(cmd, cmd_size, caps_ops, caps_dtypes, &bad_op);
	st2 = ember_fw_validate(cmd, cmd_size, caps_ops, caps_dtypes, &bad_op2);
	if (st != st2 || bad_op != bad_op2)
		fail("validate is not deterministic", st, bad_op);
	if (st > EMBER_JOB_FW_ERROR || st == EMBER_JOB_MMU_FAULT ||
	    st == EMBER_JOB_TIMEOUT || st == EMBER_JOB_ABORTED ||
	    st == EMBER_JOB_FW_ERROR)
		fail("validate returned a status it must not", st, bad_op);
	n = count_ops_if_tiled(cmd, cmd_size, caps_ops, &tiled);
	if (st == EMBER_JOB_OK && (!tiled || cmd_size == 0))
		fail("validate accepted a stream that does not tile", st, n);
	if (st != EMBER_JOB_OK && bad_op > cmd_size / 8)
		fail("bad_op beyond the stream", st, bad_op);
	if (st != EMBER_JOB_OK && tiled && bad_op >= n && cmd_size)
		fail("bad_op beyond the last op", st, bad_op);
	if (cmd_size == 0)
		return 0;

	if (!dev_ready) {
		if (!fake_dev_init(&dev, FUZZ_PAGES, false, 2))
			abort();
		dev_ready = true;
	}
	memcpy(fake_dev_ptr(&dev, FAKE_VA_BASE), cmd, cmd_size);
	fake_dev_set_perm(&dev, 0, FAKE_VA_BASE, cmd_size, EMBER_PTE_READ);
	hal = fake_dev_hal(&dev, caps_ops, caps_dtypes);
	dev.errors = 0;
	ember_fw_run_job(&hal, 0, FAKE_VA_BASE, cmd_size, &res);
	fake_dev_set_perm(&dev, 0, FAKE_VA_BASE, cmd_size, 0);
	if (fake_dev_live_maps(&dev) || dev.errors)
		fail("run_job left mappings or misused the HAL", res.status,
		     res.fault_op);
	if (st != EMBER_JOB_OK &&
	    (res.status != st || res.fault_op != bad_op || res.ops))
		fail("run_job disagrees with validate", res.status, res.fault_op);
	if (st == EMBER_JOB_OK && res.status != EMBER_JOB_OK &&
	    res.status != EMBER_JOB_MMU_FAULT)
		fail("valid stream ended neither OK nor MMU_FAULT", res.status,
		     res.fault_op);
	if (res.status == EMBER_JOB_OK && res.ops != n)
		fail("run_job ran a different number of ops", res.status,
		     (uint32_t)res.ops);
	return 0;
}
