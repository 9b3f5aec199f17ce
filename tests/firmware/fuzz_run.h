/* SPDX-License-Identifier: MIT */
/* The command-stream execution fuzz target (fuzz_run.c) and what it counts. */
#ifndef EMBER_FUZZ_RUN_H
#define EMBER_FUZZ_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "drm/ember_accel.h"

/* Indexes of the dtypes the decoder picks from (fuzz_run.c, dtypes[]). */
#define FUZZ_NDTYPES	5

/* Ops that ran to EMBER_JOB_OK, by kind, over every input so far. */
struct fuzz_run_stats {
	uint64_t inputs, jobs;			/* decoded; with a stream */
	uint64_t status[EMBER_JOB_FW_ERROR + 1];	/* jobs by status */
	uint64_t ops_ok[EMBER_OP_COUNT];	/* by opcode */
	uint64_t matmul_ok[FUZZ_NDTYPES][2];	/* by w_dtype, [1]: W_X16 */
	uint64_t matmul_groups;			/* jobs with MATMULs sharing A */
	uint64_t attn_ok[FUZZ_NDTYPES];		/* by kv_dtype */
	uint64_t attn_append_rope, attn_split;	/* APPEND_KV|ROPE; decode
						 * past 256 positions */
	uint64_t copy_ok[FUZZ_NDTYPES][FUZZ_NDTYPES];	/* src, dst */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const struct fuzz_run_stats *fuzz_run_stats(void);
void fuzz_run_print_stats(FILE *f);
/* The dtype number of decoder index @i (< FUZZ_NDTYPES). */
uint8_t fuzz_run_dtype(unsigned int i);

#endif
