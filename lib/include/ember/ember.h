/* SPDX-License-Identifier: MIT */
/*
 * libember: the userspace library of the Ember NPU.
 *
 * A thin, explicit layer over ember.ko's uapi (ember_accel.h): find and open
 * the device, create buffers, build command streams on the host (validated
 * before the device sees them), submit jobs through the SUBMIT ioctl or an
 * io_uring queue, and reap or wait for their completions.
 *
 * Conventions:
 *  - every function that can fail returns 0 (or a count) on success and a
 *    negative errno on failure; the failure also leaves a message in its
 *    device that says what went wrong and what to do (ember_errmsg());
 *  - there is no global state: everything hangs off a struct ember_device;
 *  - a device and its buffers may be used from several threads; a command
 *    buffer and a queue must be used by one thread at a time (lock them
 *    yourself if you share them);
 *  - sizes are bytes, timeouts are relative nanoseconds.
 */
#ifndef EMBER_EMBER_H
#define EMBER_EMBER_H

#include <stddef.h>
#include <stdint.h>

#include "ember_accel.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ember_device;
struct ember_bo;
struct ember_cmdbuf;
struct ember_queue;

/* Size of a buffer big enough for any libember error message. */
#define EMBER_ERRMSG_SIZE 256

/* ---- device ------------------------------------------------------------ */

/*
 * Open an Ember device. @path names a DRM node (e.g. "/dev/accel/accel0");
 * NULL means $EMBER_DEVICE if set, else the first node whose driver is
 * "ember" (DRM nodes libdrm enumerates, then /dev/accel/accel*).
 * On success *@devp is the device. On failure returns -errno (-ENODEV: no
 * Ember device, -EACCES: no permission, ...) and, if @errbuf is not NULL,
 * writes a message of at most @errlen bytes (EMBER_ERRMSG_SIZE is enough).
 */
int ember_device_open(const char *path, struct ember_device **devp,
		      char *errbuf, size_t errlen);

/* Close the device (its fd). Free its buffers, command buffers and queues
 * first. NULL is ignored. */
void ember_device_close(struct ember_device *dev);

/* The DRM file descriptor, for raw drmIoctl() calls. Owned by @dev. */
int ember_device_fd(const struct ember_device *dev);

/* The path of the opened node. */
const char *ember_device_path(const struct ember_device *dev);

/* Device information queried at open (DRM_EMBER_QUERY_DEVICE_INFO). Fields
 * an older kernel does not report are zero. Valid while @dev is open. */
const struct drm_ember_device_info *
ember_device_info(const struct ember_device *dev);

/* DRM_IOCTL_EMBER_GET_PARAM: *@value = parameter @param. */
int ember_get_param(struct ember_device *dev, uint32_t param,
		    uint64_t *value);

/*
 * DRM_IOCTL_EMBER_QUERY of @type into @buf of @size bytes, size-negotiated:
 * bytes the kernel does not have are zeroed. Returns the size the kernel
 * has for @type (which may differ from @size) or -errno.
 */
int ember_query(struct ember_device *dev, uint32_t type, void *buf,
		uint32_t size);

/* The device's performance counters (DRM_EMBER_QUERY_PERF). */
int ember_query_perf(struct ember_device *dev, struct drm_ember_perf *perf);

/* True if the device supports opcode @op / dtype @dtype (caps bits). */
int ember_device_has_op(const struct ember_device *dev, unsigned int op);
int ember_device_has_dtype(const struct ember_device *dev,
			   unsigned int dtype);

/* ---- errors ------------------------------------------------------------ */

/*
 * The message of the latest failure of a call on @dev (any thread), "" if
 * none. The pointer stays valid while @dev is open; its text changes when a
 * later call fails, so with several threads on one device prefer
 * ember_errmsg_copy().
 */
const char *ember_errmsg(const struct ember_device *dev);

/* Copy the latest message into @buf (NUL-terminated, at most @len bytes). */
void ember_errmsg_copy(const struct ember_device *dev, char *buf, size_t len);

/* A short name of a job status ("OK", "MMU_FAULT", ...) or "?" */
const char *ember_status_name(int status);

/* ---- buffers ----------------------------------------------------------- */

/* Create a buffer of at least @size bytes (rounded up to 4 KiB), mapped in
 * the device's address space of @dev (not yet in the CPU's). */
int ember_bo_create(struct ember_device *dev, uint64_t size,
		    struct ember_bo **bop);

/* Unmap and close the buffer. The kernel keeps it alive for jobs still
 * using it. NULL is ignored. */
void ember_bo_free(struct ember_bo *bo);

/* Map the buffer into the CPU's address space (once; later calls return
 * the same mapping) and store its address in *@ptr. */
int ember_bo_map(struct ember_bo *bo, void **ptr);

/* The buffer's GEM handle, device VA, size (after rounding), device. */
uint32_t ember_bo_handle(const struct ember_bo *bo);
uint64_t ember_bo_va(const struct ember_bo *bo);
uint64_t ember_bo_size(const struct ember_bo *bo);
struct ember_device *ember_bo_device(const struct ember_bo *bo);

/* DRM_IOCTL_EMBER_BO_INFO for any handle of @dev's file. */
int ember_bo_info(struct ember_device *dev, uint32_t handle,
		  struct drm_ember_bo_info *info);

/* ---- jobs -------------------------------------------------------------- */

/* BO references a job can carry (the kernel may allow fewer:
 * ember_device_info()->max_job_bos). */
#define EMBER_JOB_MAX_BOS 16

/*
 * One job: a command stream at [cmd_offset, cmd_offset + cmd_size) of the
 * buffer cmd_handle, and the buffers the stream reads or writes. A command
 * buffer fills it (ember_cmdbuf_end()); you may also fill it by hand.
 */
struct ember_job {
	uint32_t cmd_handle;
	uint32_t cmd_offset;
	uint32_t cmd_size;
	uint32_t bo_count;
	struct drm_ember_bo_ref bos[EMBER_JOB_MAX_BOS];
};

/* Add (or widen the flags of) a buffer reference: @flags is
 * DRM_EMBER_BO_READ and/or DRM_EMBER_BO_WRITE. -E2BIG if the job is full. */
int ember_job_add_bo(struct ember_job *job, uint32_t handle, uint32_t flags);

/* ---- command buffers --------------------------------------------------- */

/* A place in a buffer: device VA = ember_bo_va(bo) + offset. */
struct ember_ref {
	struct ember_bo *bo;
	uint64_t offset;
};

/*
 * MATMUL: C[m][n] = sum_k A[m][k] * W[n][k] (+ bias[n]) (+ C[m][n]).
 * A, C, bias are f32; W is @w_dtype (enum ember_dtype). A stride of 0 means
 * packed rows. @flags: EMBER_MATMUL_ACCUMULATE, EMBER_MATMUL_BIAS (then
 * @bias is used, else ignored), EMBER_MATMUL_W_X16 (firmware ABI 1.3, else
 * -EOPNOTSUPP: Q8_0 / Q4_0 W packed as the uapi header describes, one
 * 64-aligned block; @w_stride 0).
 */
struct ember_matmul_desc {
	uint32_t m, n, k;
	uint32_t flags;
	uint32_t w_dtype;
	struct ember_ref a, w, c, bias;
	uint64_t a_stride, w_stride, c_stride;
};

/*
 * ATTENTION (causal, grouped-query), see struct ember_op_attention.
 * Q, out: f32; K, V: @kv_dtype caches of @n_ctx positions of n_kv_head *
 * head_dim elements, of which positions 0 .. n_past + n_tok - 1 are read
 * (and must lie in their buffers). Strides of 0 mean packed. @kv_dtype:
 * F32 or F16, or Q8_0 (firmware ABI 1.2, else -EOPNOTSUPP; head_dim % 32
 * == 0, else -EINVAL): rows of 34-byte blocks, each head's whole blocks
 * (n_kv_head * head_dim / 32 * 34 bytes packed), 2-aligned.
 * A @scale of 0 means 1 / sqrt(head_dim).
 * @flags (ABI 1.1; 0 for the plain op): EMBER_ATTN_APPEND_KV writes
 * @k_new / @v_new (f32 [n_tok][n_kv_head * head_dim], @new_stride apart,
 * 0: packed) into the caches at n_past.. first (K and V then become
 * written buffers); EMBER_ATTN_ROPE rotates Q (in device work memory, Q
 * is only read) and the appended keys by position, first @rope_dim dims
 * (0: head_dim) with @rope_freq_base (0: 10000), EMBER_ATTN_ROPE_NEOX for
 * the NEOX pairing. Fields of flags not set are ignored.
 */
struct ember_attention_desc {
	uint32_t n_tok, n_past, n_head, n_kv_head, head_dim, n_ctx;
	uint32_t kv_dtype;
	float scale;
	struct ember_ref q, k, v, out;
	uint64_t q_stride, kv_stride, out_stride;
	/* ABI 1.1 */
	uint32_t flags;
	uint32_t rope_dim;
	float rope_freq_base;
	struct ember_ref k_new, v_new;
	uint64_t new_stride;
};

/*
 * RMSNORM (ABI 1.1): out = x / sqrt(mean(x^2) + eps) (* w), @rows f32 rows
 * of @dim; @flags EMBER_RMSNORM_WEIGHT uses @w (f32[dim]), else it is
 * ignored. eps finite, >= 0. Strides of 0 mean packed.
 */
struct ember_rmsnorm_desc {
	uint32_t rows, dim;
	uint32_t flags;
	float eps;
	struct ember_ref x, w, out;
	uint64_t x_stride, out_stride;
};

/*
 * ROPE (ABI 1.1): rotate @rows f32 rows of n_head x head_dim, row t at
 * position pos0 + t, first @rope_dim dims of each head (0: head_dim),
 * @freq_base (0: 10000); @flags EMBER_ROPE_NEOX. In place when @out is
 * the same place as @x with the same stride; else they must not overlap.
 */
struct ember_rope_desc {
	uint32_t rows, n_head, head_dim, rope_dim, pos0;
	uint32_t flags;
	float freq_base;
	struct ember_ref x, out;
	uint64_t x_stride, out_stride;
};

/* SWIGLU (ABI 1.1): out = silu(gate) * up, @rows f32 rows of @n. */
struct ember_swiglu_desc {
	uint32_t rows, n;
	struct ember_ref gate, up, out;
	uint64_t gate_stride, up_stride, out_stride;
};

/* ADD (ABI 1.1): out = a + b, @rows f32 rows of @n (out apart from a, b). */
struct ember_add_desc {
	uint32_t rows, n;
	struct ember_ref a, b, out;
	uint64_t a_stride, b_stride, out_stride;
};

/*
 * COPY (ABI 1.1): @rows rows of @n elements from @src (@src_dtype) to
 * @dst (@dst_dtype): the same type copies bytes, otherwise one side is
 * F32 (F32 <-> F16/BF16/Q8_0/Q4_0; block types need n % 32 == 0).
 */
struct ember_copy_desc {
	uint32_t rows, n;
	uint32_t src_dtype, dst_dtype;
	struct ember_ref src, dst;
	uint64_t src_stride, dst_stride;
};

/*
 * Create a command buffer: a buffer of @capacity bytes (mapped) that holds
 * the command streams of many jobs, one after the other.
 */
int ember_cmdbuf_create(struct ember_device *dev, uint32_t capacity,
			struct ember_cmdbuf **cbp);

/* Free the command buffer and its buffer (the kernel keeps the buffer for
 * jobs still queued). NULL is ignored. */
void ember_cmdbuf_free(struct ember_cmdbuf *cb);

/* Start a new job's stream (drops a job begun but not ended). */
void ember_cmdbuf_begin(struct ember_cmdbuf *cb);

/* Append a NOP / MATMUL / ATTENTION op to the current job, after checking
 * it as the device would (shape, dtype, caps, strides, alignment, buffer
 * bounds, an output overlapping an input): -EINVAL (bad descriptor), -EOPNOTSUPP (the device lacks the op
 * or dtype), -ERANGE (an operand does not fit its buffer), -ENOSPC (the
 * command buffer is full: submit and ember_cmdbuf_reset()). The operand
 * buffers are added to the job's BO list with their read/write use. */
int ember_cmdbuf_nop(struct ember_cmdbuf *cb);
int ember_cmdbuf_matmul(struct ember_cmdbuf *cb,
			const struct ember_matmul_desc *d);
int ember_cmdbuf_attention(struct ember_cmdbuf *cb,
			   const struct ember_attention_desc *d);
/* ABI 1.1 ops, same checks and errors (-EOPNOTSUPP on a device whose
 * caps_ops lacks the op). */
int ember_cmdbuf_rmsnorm(struct ember_cmdbuf *cb,
			 const struct ember_rmsnorm_desc *d);
int ember_cmdbuf_rope(struct ember_cmdbuf *cb, const struct ember_rope_desc *d);
int ember_cmdbuf_swiglu(struct ember_cmdbuf *cb,
			const struct ember_swiglu_desc *d);
int ember_cmdbuf_add(struct ember_cmdbuf *cb, const struct ember_add_desc *d);
int ember_cmdbuf_copy(struct ember_cmdbuf *cb, const struct ember_copy_desc *d);

/* Append @size bytes (a multiple of 8) as they are: no checks, no BOs.
 * For tests and ops this library does not know. */
int ember_cmdbuf_raw(struct ember_cmdbuf *cb, const void *op, uint32_t size);

/* End the current job and describe it in *@job. -EINVAL if it is empty. */
int ember_cmdbuf_end(struct ember_cmdbuf *cb, struct ember_job *job);

/* Forget all jobs and write from the start again. Only when no job of
 * this command buffer is still queued or running. */
void ember_cmdbuf_reset(struct ember_cmdbuf *cb);

/* The underlying buffer and the bytes used so far. */
struct ember_bo *ember_cmdbuf_bo(const struct ember_cmdbuf *cb);
uint32_t ember_cmdbuf_used(const struct ember_cmdbuf *cb);

/* ---- submission through the ioctl -------------------------------------- */

/* DRM_IOCTL_EMBER_SUBMIT of @count jobs at once; *@seqno (may be NULL) is
 * the seqno of the first, job i has *@seqno + i. */
int ember_submit(struct ember_device *dev, const struct ember_job *jobs,
		 uint32_t count, uint64_t *seqno);

/*
 * DRM_IOCTL_EMBER_WAIT for job @seqno, at most @timeout_ns from now
 * (negative: no limit). Returns its status (enum ember_job_status, >= 0)
 * or -errno (-ETIME: still running).
 */
int ember_wait(struct ember_device *dev, uint64_t seqno, int64_t timeout_ns);

/* ---- submission through io_uring -------------------------------------- */

/* One finished job. */
struct ember_completion {
	uint64_t user_data;	/* as given to ember_queue_push() */
	uint64_t seqno;		/* the job's seqno (0 if it was not queued) */
	int32_t status;		/* enum ember_job_status, or -errno if the
				 * kernel could not queue the job */
	uint32_t pad;
};

/*
 * Create a queue: an io_uring (SQE128 | CQE32) on @dev's fd with room for
 * @entries jobs in flight (rounded up to a power of two, at most 32768).
 * One thread at a time may use a queue.
 */
int ember_queue_create(struct ember_device *dev, unsigned int entries,
		       struct ember_queue **qp);

/* Tear the ring down (jobs in flight still run; their completions are
 * lost). NULL is ignored. */
void ember_queue_destroy(struct ember_queue *q);

/* Prepare one job with @user_data in the next SQE (copied: @job may be
 * reused at once). Nothing reaches the kernel until ember_queue_submit().
 * -EBUSY if @entries jobs are already pushed or in flight: reap first. */
int ember_queue_push(struct ember_queue *q, const struct ember_job *job,
		     uint64_t user_data);

/* Hand every pushed job to the kernel in one io_uring_enter(). Returns the
 * number of jobs submitted. */
int ember_queue_submit(struct ember_queue *q);

/* Collect up to @max completions without blocking. Returns how many. */
int ember_queue_reap(struct ember_queue *q, struct ember_completion *out,
		     unsigned int max);

/*
 * Submit jobs still pushed, then wait until at least @min (1 <= @min <=
 * @max, at most the jobs in flight) completions are available, at most
 * @timeout_ns (negative: no limit), and collect up to @max. Returns how
 * many were collected; -ETIME if fewer than @min arrived in time (those
 * that did stay queued for the next call).
 */
int ember_queue_wait(struct ember_queue *q, struct ember_completion *out,
		     unsigned int max, unsigned int min, int64_t timeout_ns);

/* Jobs pushed and not yet reaped (submitted or not). */
unsigned int ember_queue_inflight(const struct ember_queue *q);

/* The ring's fd, e.g. to register it with your event loop. */
int ember_queue_ring_fd(const struct ember_queue *q);

#ifdef __cplusplus
}
#endif

#endif /* EMBER_EMBER_H */
