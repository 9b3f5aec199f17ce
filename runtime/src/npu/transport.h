/* SPDX-License-Identifier: MIT */
/*
 * How the NPU backend reaches a device: buffers, and running a pass's jobs.
 * Kept apart from the runtime's headers (libember's struct ember_device and
 * the runtime's enum ember_device share a tag name). Failures return
 * -errno and write a sentence of at most NPU_MSG_SIZE bytes to msg.
 */
#ifndef EMBER_RT_NPU_TRANSPORT_H
#define EMBER_RT_NPU_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#define NPU_MSG_SIZE 512

/* A device buffer, mapped for the CPU. */
struct npu_buf {
	uint64_t va;		/* device VA */
	void *cpu;		/* CPU mapping */
	uint64_t size;
	bool device_writes;	/* jobs write it (else they only read it) */
	void *priv;		/* the transport's */
};

/* One job: ops at [cmd_off, cmd_off + cmd_size) of the command buffer. */
struct npu_job {
	uint32_t cmd_off, cmd_size;
};

/* What the device can run. */
struct npu_caps {
	uint64_t ops;		/* bit n: enum ember_opcode n */
	uint64_t dtypes;	/* bit n: enum ember_dtype n */
	uint32_t fw_abi;	/* major << 16 | minor */
	uint32_t max_jobs;	/* jobs one run() may take */
	uint64_t va_size;	/* bytes of device VA a session may map */
	char name[96];		/* for messages: "/dev/accel/accel0 (fw ...)" */
};

/* How a run failed: which job (its index in the run and its seqno on the
 * file, or -1 and 0 when the submission itself failed), the status the
 * device gave it (enum ember_job_status, or -1 for none) and the errno. */
struct npu_failure {
	int job;
	uint64_t seqno;
	int status;
	int err;
};

struct npu_transport;

struct npu_transport_ops {
	int (*alloc)(void *ctx, uint64_t size, struct npu_buf *out,
		     char *msg);
	void (*free)(void *ctx, struct npu_buf *b);
	/* Runs jobs[0..n) in order, the buffers of bufs[0..n_bufs) visible to
	 * each, commands in @cmd; returns when all are done (0) or the first
	 * failed (-EIO for a job that ended badly, else the submission's or
	 * the wait's -errno), saying which and how in *fail and msg. */
	int (*run)(void *ctx, const struct npu_buf *cmd, const struct npu_job *jobs,
		   uint32_t n, const struct npu_buf *const *bufs, uint32_t n_bufs,
		   char *msg, struct npu_failure *fail);
	/* A new context on the same device (a fresh file: what a context the
	 * driver killed needs); this one stays usable until destroyed. NULL
	 * when the device cannot be reopened. */
	int (*reopen)(void *ctx, struct npu_transport *out, char *msg);
	/* Bytes the device read and wrote so far, and those it copied
	 * through bounce buffers instead of accessing them in place (its
	 * perf counters). */
	int (*counters)(void *ctx, uint64_t *rd, uint64_t *wr, uint64_t *copied);
	void (*destroy)(void *ctx);
};

struct npu_transport {
	const struct npu_transport_ops *ops;
	void *ctx;
	struct npu_caps caps;
};

/* Opens the Ember device (path NULL: $EMBER_DEVICE or the first one).
 * -ENODEV / -EACCES / ... with a message that says what to do. */
int npu_transport_open(const char *path, struct npu_transport *out, char *msg);

#endif
