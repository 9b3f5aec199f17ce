/* SPDX-License-Identifier: MIT */
/*
 * An NPU transport on the firmware tests' fake device: the NPU backend's
 * command streams run by the real firmware (ember_fw_run_job) on the host,
 * and failures injected as the driver would report them.
 */
#ifndef EMBER_TEST_FAKE_NPU_H
#define EMBER_TEST_FAKE_NPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "npu/transport.h"

/* What the test sees and decides; shared by a fake NPU and every one
 * reopened from it (a reopen replaces the transport). */
struct fake_plan {
	unsigned int runs, jobs, reopens;	/* counted */
	int fail_job;		/* >= 0: that job of every run ends MMU_FAULT */
	unsigned int fail_run;	/* that run (counted from 1) fails: */
	int fail_status;	/* its first job ends with this status, or */
	int fail_err;		/* (fail_status < 0) its submission: -errno */
	bool dead;		/* and every run after it: -ENODEV */
	bool no_reopen;		/* reopen fails */
	/* what a job that failed half-way may have left in the buffers */
	void (*scribble)(void *arg);
	void *scribble_arg;
};

/* A fake NPU of @mib MiB offering @caps_ops, following @plan (NULL: a plan
 * of its own that fails nothing); sessions take the transport over. */
struct npu_transport fake_npu(uint32_t caps_ops, size_t mib, struct fake_plan *plan);
/* A plan that fails nothing. */
void fake_plan_init(struct fake_plan *p);

#endif
